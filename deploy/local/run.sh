#!/usr/bin/env bash
# The whole pipeline on this machine: a local mosquitto and PostgreSQL (data under .kappa-local/, reused on
# the next run), the gateway, and a simulated fleet with anomalies. Prints what arrived, then keeps the fleet
# running in real time until Ctrl-C, which stops everything cleanly.
#   KAPPA_DEVICES=20 KAPPA_BACKFILL=6h deploy/local/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
devices="${KAPPA_DEVICES:-20}"
backfill="${KAPPA_BACKFILL:-6h}"
state="$root/.kappa-local"

bash deploy/local/install-dependencies.sh
echo "== building kappa and kappa-sim (release; the first build takes several minutes)" >&2
swift build -c release --product kappa >&2
swift build -c release --product kappa-sim >&2
bin="$(swift build -c release --show-bin-path)"

bash deploy/local/services.sh start
eval "$(bash deploy/local/services.sh env)"
mkdir -p "$state"

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

echo "== kappa run (log: $state/kappa.log)" >&2
"$bin/kappa" run >>"$state/kappa.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:9464/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done

echo "== kappa-sim: $backfill of history for $devices devices, as fast as the broker takes it" >&2
"$bin/kappa-sim" --mqtt "$KAPPA_MQTT" --devices "$devices" --fast --duration "$backfill" \
    --anomaly-rate 0.002 --seed 7 --labels "$state/ground-truth.jsonl" --quiet
sleep 5

device="$("$bin/kappa" query devices --format csv | sed -n 2p | cut -d, -f1)"
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
echo "== metrics: curl http://127.0.0.1:9464/metrics   ground truth: $state/ground-truth.jsonl"
echo "== the fleet keeps publishing in real time; Ctrl-C stops everything"
"$bin/kappa-sim" --mqtt "$KAPPA_MQTT" --devices "$devices" --anomaly-rate 0.002 --seed 8 --quiet &
pids=("$!" "${pids[@]}")
wait "${pids[0]}" || true
