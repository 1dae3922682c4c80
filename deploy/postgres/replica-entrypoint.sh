#!/bin/sh
# The streaming replica: on first start, clone the primary (pg_basebackup, WAL streamed alongside,
# standby.signal and primary_conninfo written by -R), then run as a hot standby.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until pg_isready -h db-primary -p 5432; do sleep 1; done
    export PGPASSWORD="$REPLICATION_PASSWORD"
    pg_basebackup -h db-primary -U replicator -D "$PGDATA" -X stream -R -S replica1 --checkpoint=fast
    chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on
