# kappa and kappa-sim in one small image. Build context: the repository root
#   docker build -f deploy/compose/kappa.Dockerfile -t kappa .
# (compose.yaml does this). Multi-stage: the Swift toolchain stays in the build stage.

# The toolchain matches Package.swift's swift-tools-version (deploy/validate.sh checks it).
FROM swift:6.1-noble AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmosquitto-dev libpq-dev libnats-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# Resolve dependencies in their own layer, so source edits do not refetch them.
COPY Package.swift ./
RUN swift package resolve
COPY . .
RUN swift build -c release --static-swift-stdlib --product kappa \
    && swift build -c release --static-swift-stdlib --product kappa-sim \
    && mkdir /staging \
    && cp "$(swift build -c release --show-bin-path)/kappa" "$(swift build -c release --show-bin-path)/kappa-sim" /staging/ \
    && mkdir /staging/lib \
    && cp -L $(ldd /staging/kappa | awk '/libnats/ { print $3 }') /staging/lib/

FROM ubuntu:noble
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmosquitto1 libpq5 libssl3t64 libprotobuf-c1 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/kappa --create-home --shell /usr/sbin/nologin kappa
COPY --from=build /staging/kappa /staging/kappa-sim /usr/local/bin/
# libnats (the JetStream log's client) from the build stage: its runtime package name changes with its version.
COPY --from=build /staging/lib/ /usr/local/lib/
RUN ldconfig
USER kappa
WORKDIR /var/lib/kappa
VOLUME /var/lib/kappa
ENV KAPPA_DATA_DIR=/var/lib/kappa
EXPOSE 9464
# kappa exits 0 on SIGTERM after its final checkpoint (docker stop sends SIGTERM; give it stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["kappa"]
CMD ["run"]
