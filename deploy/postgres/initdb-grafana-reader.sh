#!/bin/sh
# docker-entrypoint-initdb.d hook of the postgres image (runs once, as POSTGRES_USER, when the data directory is
# created): grafana_reader, a read-only role for Grafana. It may read everything kappa creates in its schema
# (tables, views, archive partitions, later output versions: default privileges of the owner) and change
# nothing. The schema is created here, owned by kappa, so the default privileges have something to attach to;
# `kappa run` finds it there and migrates into it.
set -eu
password="$(head -n1 /run/secrets/grafana_db_password)"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v password="$password" <<'SQL'
CREATE ROLE grafana_reader LOGIN PASSWORD :'password';
ALTER ROLE grafana_reader SET default_transaction_read_only = on;
CREATE SCHEMA IF NOT EXISTS kappa AUTHORIZATION CURRENT_USER;
GRANT USAGE ON SCHEMA kappa TO grafana_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA kappa TO grafana_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA kappa GRANT SELECT ON TABLES TO grafana_reader;
SQL
