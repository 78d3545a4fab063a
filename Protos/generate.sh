#!/bin/bash
# Regenerates Sources/KappaSparkplug/Generated/sparkplug_b.pb.swift. Needs protoc (apt: protobuf-compiler)
# and protoc-gen-swift from apple/swift-protobuf at the version Package.swift names, built once:
#   git clone https://github.com/apple/swift-protobuf && cd swift-protobuf && git checkout 1.39.0 \
#     && swift build -c release --product protoc-gen-swift
# then: PROTOC_GEN_SWIFT=/path/to/.build/release/protoc-gen-swift Protos/generate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=${PROTOC_GEN_SWIFT:?set PROTOC_GEN_SWIFT to the protoc-gen-swift binary}
protoc --plugin=protoc-gen-swift="$plugin" \
    --swift_out=Sources/KappaSparkplug/Generated --proto_path=Protos Protos/sparkplug_b.proto
