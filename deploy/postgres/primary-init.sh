#!/bin/sh
# Runs once, when the primary's data directory is created (docker-entrypoint-initdb.d): a role for
# streaming replication, a read-only role for the application's replica connection, and the
# pg_hba rule that lets the replica connect for replication.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${REPLICATION_PASSWORD}';
SELECT pg_create_physical_replication_slot('replica1');
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
