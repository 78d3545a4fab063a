# kappa and kappa-sim in one small image. Build context: the repository root
#   docker build -f deploy/compose/kappa.Dockerfile -t kappa .
# (compose.yaml does this). Multi-stage: the Swift toolchain stays in the build stage.

# The toolchain matches Package.swift's swift-tools-version (deploy/validate.sh checks it). Both stages are Debian
# bookworm, the release CI and the tests install libnats and nats-server from, so the package names below are
# the ones deploy/validate.sh resolves against bookworm's index (a simulated install) when it runs on bookworm.
FROM swift:6.1-bookworm AS build
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
    && cp "$(swift build -c release --show-bin-path)/kappa" "$(swift build -c release --show-bin-path)/kappa-sim" /staging/

FROM debian:bookworm-slim
# libnats3.4 is the runtime half of the build stage's libnats-dev (which depends on exactly it: the library's
# name carries its version); it brings libssl3 and libprotobuf-c1.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmosquitto1 libpq5 libnats3.4 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/kappa --create-home --shell /usr/sbin/nologin kappa
COPY --from=build /staging/kappa /staging/kappa-sim /usr/local/bin/
USER kappa
WORKDIR /var/lib/kappa
VOLUME /var/lib/kappa
ENV KAPPA_DATA_DIR=/var/lib/kappa
EXPOSE 9464
# kappa exits 0 on SIGTERM after its final checkpoint (docker stop sends SIGTERM; give it stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["kappa"]
CMD ["run"]
