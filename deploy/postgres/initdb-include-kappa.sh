#!/bin/sh
# docker-entrypoint-initdb.d hook of the postgres image: runs once, when the data directory is created,
# and makes the server read Kappa's settings (mounted at /etc/postgresql/kappa.conf) on every start.
set -eu
echo "include_if_exists = '/etc/postgresql/kappa.conf'" >> "$PGDATA/postgresql.conf"
