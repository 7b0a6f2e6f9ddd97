#!/usr/bin/env bash
# Start the local PostgreSQL cluster (Debian's postgresql + postgis packages) and create the
# role and database the PostGIS tests use: twin:twin@127.0.0.1:5432/twin_test.
# The role may create databases: each test clones a fresh one from a PostGIS template.
set -euo pipefail
cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
if [ -z "$cluster" ]; then
  pg_createcluster 15 main
  cluster="15 main"
fi
# shellcheck disable=SC2086
pg_ctlcluster $cluster start 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -p 5432 -q && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p 5432
as_pg() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAtc \"$1\""; }
[ "$(as_pg "SELECT 1 FROM pg_roles WHERE rolname='twin'")" = 1 ] ||
  as_pg "CREATE ROLE twin LOGIN SUPERUSER PASSWORD 'twin'"
[ "$(as_pg "SELECT 1 FROM pg_database WHERE datname='twin_test'")" = 1 ] ||
  as_pg "CREATE DATABASE twin_test OWNER twin"
su postgres -c "psql -qd twin_test -c 'CREATE EXTENSION IF NOT EXISTS postgis'"
echo "PostGIS ready: postgresql+psycopg://twin:twin@127.0.0.1:5432/twin_test"
