#!/usr/bin/env bash
# Starts (or reuses) a local mosquitto and a local PostgreSQL for Kappa on ports that do not clash with
# system-wide services. mosquitto's data is under .kappa-local/ in the checkout; PostgreSQL's is in a
# directory of its own under /var/tmp (its path is kept in .kappa-local/postgres-data), because as root the
# server runs as the `postgres` user, who cannot enter a checkout in a 0700 home such as /root.
#   deploy/local/services.sh start | stop | status | env
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
state="$root/.kappa-local"
mqtt_port="${KAPPA_LOCAL_MQTT_PORT:-18883}"
pg_port="${KAPPA_LOCAL_PG_PORT:-15432}"
pg_bin="${KAPPA_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
pg_location="$state/postgres-data"
pg_data=""
[ -f "$pg_location" ] && pg_data="$(cat "$pg_location")"
as_postgres=()
if [ "$(id -u)" -eq 0 ]; then as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi

# Runs a PostgreSQL tool as the server's user, from / (it cannot enter the checkout, and says so otherwise).
pg() { (cd / && "${as_postgres[@]}" "$@"); }

start_mosquitto() {
    mkdir -p "$state/mosquitto"
    if [ -f "$state/mosquitto/pid" ] && kill -0 "$(cat "$state/mosquitto/pid")" 2>/dev/null; then return; fi
    cat > "$state/mosquitto/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence true
persistence_location $state/mosquitto/
max_queued_messages 1000000
log_dest file $state/mosquitto/mosquitto.log
pid_file $state/mosquitto/pid
CONF
    if [ "$(id -u)" -eq 0 ]; then echo "user root" >> "$state/mosquitto/mosquitto.conf"; fi
    mosquitto -d -c "$state/mosquitto/mosquitto.conf" 2>/dev/null
    listening=no
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$mqtt_port") 2>/dev/null; then listening=yes; break; fi
        sleep 0.1
    done
    if [ "$listening" != yes ]; then
        echo "mosquitto did not start (port $mqtt_port taken? set KAPPA_LOCAL_MQTT_PORT); its log says:" >&2
        tail -3 "$state/mosquitto/mosquitto.log" >&2
        exit 1
    fi
    echo "mosquitto on 127.0.0.1:$mqtt_port" >&2
}

start_postgres() {
    if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
        echo "PostgreSQL server binaries not found (apt-get install postgresql, or set KAPPA_PG_BINDIR)" >&2
        exit 1
    fi
    if [ -z "$pg_data" ] || [ ! -f "$pg_data/PG_VERSION" ]; then
        mkdir -p "$state"
        [ -n "$pg_data" ] && [ -d "$pg_data" ] && rm -rf "$pg_data"
        pg_data="$(mktemp -d "${KAPPA_LOCAL_PG_PARENT:-/var/tmp}/kappa-local-postgres.XXXXXX")"
        chmod 700 "$pg_data"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$pg_data"
        printf '%s\n' "$pg_data" > "$pg_location"
        if ! output="$(pg "$pg_bin/initdb" -D "$pg_data" -U kappa --auth=trust -E UTF8 2>&1)"; then
            echo "initdb failed in $pg_data:" >&2
            echo "$output" | tail -5 >&2
            exit 1
        fi
    fi
    if pg "$pg_bin/pg_ctl" -D "$pg_data" status >/dev/null 2>&1; then return; fi
    if ! pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w -t 60 \
        -o "-p $pg_port -k $pg_data -c listen_addresses=127.0.0.1" start >/dev/null; then
        echo "PostgreSQL did not start (port $pg_port taken? set KAPPA_LOCAL_PG_PORT); its log says:" >&2
        tail -5 "$pg_data/server.log" >&2
        exit 1
    fi
    pg "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U kappa -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'kappa'" | grep -q 1 \
        || pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U kappa kappa
    echo "PostgreSQL on 127.0.0.1:$pg_port (database kappa, user kappa; data in $pg_data)" >&2
}

stop_all() {
    if [ -f "$state/mosquitto/pid" ]; then kill "$(cat "$state/mosquitto/pid")" 2>/dev/null || true; rm -f "$state/mosquitto/pid"; fi
    if [ -n "$pg_data" ] && [ -f "$pg_data/PG_VERSION" ]; then pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast stop >/dev/null 2>&1 || true; fi
}

case "${1:-start}" in
    start) start_mosquitto; start_postgres ;;
    stop) stop_all ;;
    status)
        [ -f "$state/mosquitto/pid" ] && kill -0 "$(cat "$state/mosquitto/pid")" 2>/dev/null && echo "mosquitto: running on $mqtt_port" || echo "mosquitto: stopped"
        [ -n "$pg_data" ] && pg "$pg_bin/pg_ctl" -D "$pg_data" status >/dev/null 2>&1 && echo "postgres: running on $pg_port" || echo "postgres: stopped" ;;
    env)
        echo "export KAPPA_MQTT=mqtt://127.0.0.1:$mqtt_port"
        echo "export KAPPA_DATABASE=postgres://kappa@127.0.0.1:$pg_port/kappa"
        printf 'export KAPPA_DATA_DIR=%q\n' "$state/data" ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
