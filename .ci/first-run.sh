#!/usr/bin/env bash
# The README's first command (deploy/local/run.sh) as a new user on a fresh machine runs it: from a clone in a
# directory other users cannot enter (0700, like /root) whose path has a space. Uses the binaries in $1 (the
# test build) rather than building release ones, runs the live fleet briefly, and checks what it printed.
#   bash .ci/first-run.sh .build/debug
set -euo pipefail
bin="$(cd "$1" && pwd)"
source_repo="$(cd "$(dirname "$0")/.." && pwd)"
home="$(mktemp -d /tmp/kappa-first-run.XXXXXX)"
chmod 700 "$home"
clone="$home/a checkout"
cleanup() {
    [ -f "$clone/.kappa-local/postgres-data" ] && rm -rf "$(cat "$clone/.kappa-local/postgres-data")"
    rm -rf "$home"
}
trap cleanup EXIT
git clone -q "$source_repo" "$clone"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
output="$home/run.out"
status=0
(
    cd "$clone"
    KAPPA_BIN="$bin" KAPPA_DEVICES=4 KAPPA_BACKFILL=2h KAPPA_LIVE_SECONDS=5 \
    KAPPA_LOCAL_MQTT_PORT="$(free_port)" KAPPA_LOCAL_PG_PORT="$(free_port)" KAPPA_HTTP="127.0.0.1:$(free_port)" \
        timeout -s INT 170 bash deploy/local/run.sh
) >"$output" 2>&1 || status=$?
cat "$output"
[ "$status" -eq 0 ] || { echo "FAIL: deploy/local/run.sh exited $status"; exit 1; }
# The rollup table: a header, a rule, and at least one row with a bucket time.
awk '/^== hourly rollups/ {found = 1; next} /^== / {found = 0} found && / [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]/ {rows++} END {exit rows ? 0 : 1}' "$output" \
    || { echo "FAIL: run.sh printed no hourly rollups"; exit 1; }
grep -q '^== latest values' "$output" || { echo "FAIL: run.sh printed no latest values"; exit 1; }
echo "ok: deploy/local/run.sh printed rollups from a 0700 directory with a space in its path"
