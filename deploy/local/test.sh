#!/usr/bin/env bash
# Runs the whole test suite against a real mosquitto and a real PostgreSQL that the test harness starts
# on free loopback ports in temporary directories (nothing to set up by hand).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/install-dependencies.sh
# The crash tests run the kappa binary as a child process, so build it along with the tests.
swift build --build-tests "$@"
swift test --skip-build "$@"
