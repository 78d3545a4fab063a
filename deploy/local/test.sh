#!/usr/bin/env bash
# Runs the whole test suite against a real mosquitto, NATS JetStream cluster and PostgreSQL that the test
# harness starts on free loopback ports in temporary directories (nothing to set up by hand).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/install-dependencies.sh
# Swift Testing starts every test at once by default: on a 2-core machine 581 tests, each with its own
# brokers, databases and gateways, starve one another past their time limits (60 s catch-up waits failing
# in a dozen suites in CI, while each suite alone passes in seconds). Three tests in flight per core keeps
# the machine busy without starving anyone. The variable is Swift Testing's, marked experimental; an
# override from the environment wins.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-$(( $(nproc) * 3 ))}"
# The crash tests run the kappa binary as a child process, so build it along with the tests.
swift build --build-tests "$@"
if [ $# -gt 0 ]; then
    swift test --skip-build "$@"
    exit
fi
# The exactly-once crash test floods the broker from four publishers at full speed and kills the gateway
# under that load; it runs on its own afterwards, so that it neither starves the other suites nor is slowed
# by them into a gentler load than it is meant to be.
# The same goes for three gateways sharing a JetStream log with one of them killed under load.
swift test --skip-build --skip "ExactlyOnceCrashTests|SeveralGatewaysTests"
swift test --skip-build --filter ExactlyOnceCrashTests
swift test --skip-build --filter SeveralGatewaysTests
