#!/usr/bin/env bash
# The whole pipeline on this machine: a local mosquitto and PostgreSQL (data under .kappa-local/, reused on
# the next run), the gateway, and a simulated fleet with anomalies. Prints what arrived, then keeps the fleet
# running in real time until Ctrl-C, which stops everything cleanly.
#   KAPPA_DEVICES=20 KAPPA_BACKFILL=6h deploy/local/run.sh
# KAPPA_BIN=DIR uses kappa and kappa-sim from DIR instead of building them; KAPPA_LIVE_SECONDS=N stops after N
# seconds of live publishing; KAPPA_HTTP moves the gateway's metrics port (default 127.0.0.1:9464).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
devices="${KAPPA_DEVICES:-20}"
backfill="${KAPPA_BACKFILL:-6h}"
state="$root/.kappa-local"

bash deploy/local/install-dependencies.sh
if [ -n "${KAPPA_BIN:-}" ]; then
    bin="$KAPPA_BIN"   # binaries built elsewhere (CI reuses the test build)
else
    echo "== building kappa and kappa-sim (release; the first build takes several minutes)" >&2
    swift build -c release --product kappa >&2
    swift build -c release --product kappa-sim >&2
    bin="$(swift build -c release --show-bin-path)"
fi

bash deploy/local/services.sh start
eval "$(bash deploy/local/services.sh env)"
export KAPPA_HTTP="${KAPPA_HTTP:-127.0.0.1:9464}"
mkdir -p "$state"
kappa_log="$state/kappa.log"

pids=()
stop_everything() {
    trap - INT TERM EXIT
    echo >&2
    echo "== stopping" >&2
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    bash deploy/local/services.sh stop
    echo "stopped; data kept in $state (deploy/local/services.sh start to reuse it)" >&2
}
trap stop_everything INT TERM EXIT

# Fails the run with what went wrong and the end of the gateway's log.
give_up() {
    echo "FAILED: $1" >&2
    echo "-- last lines of $kappa_log:" >&2
    tail -n 20 "$kappa_log" >&2 || true
    exit 1
}

# Waits up to $1 seconds for the command after it to succeed; gives up early if the gateway has exited.
wait_for() {
    local seconds="$1"; shift
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        kill -0 "${pids[0]}" 2>/dev/null || return 1
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

echo "== kappa run (log: $kappa_log)" >&2
: > "$kappa_log"
"$bin/kappa" run >>"$kappa_log" 2>&1 &
pids+=($!)
wait_for 60 curl -sf "http://$KAPPA_HTTP/healthz" -o /dev/null \
    || give_up "kappa run did not answer on http://$KAPPA_HTTP/healthz (port taken? set KAPPA_HTTP)"
# The broker keeps messages for the gateway's session only from its first SUBACK on (docs/operations.md).
wait_for 60 grep -q "MQTT connected" "$kappa_log" || give_up "kappa run did not connect to $KAPPA_MQTT"
wait_for 60 grep -q "MQTT subscriptions confirmed" "$kappa_log" \
    || give_up "kappa run did not confirm its MQTT subscriptions"

echo "== kappa-sim: $backfill of history for $devices devices, as fast as the broker takes it" >&2
"$bin/kappa-sim" --mqtt "$KAPPA_MQTT" --devices "$devices" --fast --duration "$backfill" \
    --anomaly-rate 0.002 --seed 7 --labels "$state/ground-truth.jsonl" --quiet \
    || give_up "kappa-sim could not publish to $KAPPA_MQTT"

first_device() { "$bin/kappa" query devices --format csv 2>/dev/null | sed -n 2p | cut -d, -f1; }
has_rollups() { [ -n "$("$bin/kappa" query rollups --granularity 1h --device "$1" --format csv 2>/dev/null | sed -n 2p)" ]; }
has_device() { [ -n "$(first_device)" ]; }
wait_for 120 has_device || give_up "no device reached kappa.devices within 120 s"
device="$(first_device)"
wait_for 120 has_rollups "$device" || give_up "no rollups of $device within 120 s"

echo
echo "== hourly rollups of $device (kappa query rollups --granularity 1h --device $device)"
"$bin/kappa" query rollups --granularity 1h --device "$device"
echo
echo "== latest values of $device (kappa query latest --device $device)"
"$bin/kappa" query latest --device "$device"
if "$bin/kappa" query --help 2>/dev/null | grep -q anomalies; then
    echo
    echo "== anomalies (kappa query anomalies)"
    # head closes the pipe early; with pipefail kappa's SIGPIPE must not end the script.
    { "$bin/kappa" query anomalies || true; } | head -20
fi
echo
echo "== explore: psql $KAPPA_DATABASE   (views: rollups_1m, rollups_1h, rollups_1d, latest, devices, anomalies, dead_letters)"
echo "== metrics: curl http://$KAPPA_HTTP/metrics   ground truth: $state/ground-truth.jsonl"
echo "== the fleet keeps publishing in real time; Ctrl-C stops everything"
"$bin/kappa-sim" --mqtt "$KAPPA_MQTT" --devices "$devices" --anomaly-rate 0.002 --seed 8 --quiet &
pids=("$!" "${pids[@]}")
if [ -n "${KAPPA_LIVE_SECONDS:-}" ]; then
    # A bounded run (CI): live for that long, then stop as Ctrl-C would.
    sleep "$KAPPA_LIVE_SECONDS"
    kill -0 "${pids[1]}" 2>/dev/null || give_up "kappa run exited while the fleet was publishing"
    exit 0
fi
wait "${pids[0]}" || true
