#!/usr/bin/env bash
# A PostgreSQL primary and two hot standbys streaming from it, on loopback.
#
#   scripts/pg-replication.sh start    create (first time) and start all three
#   scripts/pg-replication.sh status   who is up, and each standby's replay lag
#   scripts/pg-replication.sh stop     stop all three (data kept)
#   scripts/pg-replication.sh destroy  stop and delete the data
#   scripts/pg-replication.sh env      the DATABASE_URL_* lines for replication/
#
# replica2 applies WAL only after REPLICA2_DELAY (recovery_min_apply_delay), so
# the lag of asynchronous replication can be seen, and tested, on purpose.
# Runs the servers as the postgres user when started as root.
set -euo pipefail

BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DIR=${PG_REPLICATION_DIR:-/tmp/multidb-pg-replication}
PRIMARY_PORT=${PRIMARY_PORT:-5433}
REPLICA1_PORT=${REPLICA1_PORT:-5434}
REPLICA2_PORT=${REPLICA2_PORT:-5435}
REPLICA2_DELAY=${REPLICA2_DELAY:-3s}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

server() {  # server NAME PORT: start it if it is not running
  local data="$DIR/$1"
  if ! as_postgres "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_postgres "$BIN/pg_ctl" -D "$data" -l "$DIR/$1.log" -w -t 60 start >/dev/null
  fi
  echo "$1 is up on 127.0.0.1:$2"
}

create_primary() {
  as_postgres "$BIN/initdb" -D "$DIR/primary" -U postgres --auth=trust >/dev/null
  cat >>"$DIR/primary/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PRIMARY_PORT
unix_socket_directories = '$DIR'
wal_level = replica
max_wal_senders = 10
hot_standby = on
fsync = off
EOF
}

create_replica() {  # create_replica NAME PORT [DELAY]
  as_postgres "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
    -D "$DIR/$1" -X stream -R >/dev/null
  {
    echo "port = $2"
    [ -z "${3:-}" ] || echo "recovery_min_apply_delay = '$3'"
  } >>"$DIR/$1/postgresql.conf"
}

start() {
  [ -x "$BIN/initdb" ] || {
    echo "No PostgreSQL binaries in $BIN: apt-get install postgresql-15 (or set PG_BIN)." >&2
    exit 1
  }
  mkdir -p "$DIR"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$DIR"
  [ -d "$DIR/primary" ] || create_primary
  server primary "$PRIMARY_PORT"
  [ -d "$DIR/replica1" ] || create_replica replica1 "$REPLICA1_PORT"
  [ -d "$DIR/replica2" ] || create_replica replica2 "$REPLICA2_PORT" "$REPLICA2_DELAY"
  server replica1 "$REPLICA1_PORT"
  server replica2 "$REPLICA2_PORT"
}

stop() {
  for name in replica2 replica1 primary; do
    if [ -d "$DIR/$name" ]; then
      as_postgres "$BIN/pg_ctl" -D "$DIR/$name" -m fast -w stop >/dev/null 2>&1 || true
      echo "$name stopped"
    fi
  done
}

status() {
  for pair in "primary:$PRIMARY_PORT" "replica1:$REPLICA1_PORT" "replica2:$REPLICA2_PORT"; do
    name=${pair%%:*} port=${pair##*:}
    if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      lag=$(psql -X -A -t -h 127.0.0.1 -p "$port" -U postgres -c \
        "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 'primary'
           WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
             THEN 'standby, caught up'
           ELSE 'standby, replay lag ' ||
             COALESCE((now() - pg_last_xact_replay_timestamp())::text, 'unknown')
         END")
      echo "$name 127.0.0.1:$port up: $lag"
    else
      echo "$name 127.0.0.1:$port down"
    fi
  done
}

env_lines() {
  local url=postgres://postgres@127.0.0.1
  echo "export DATABASE_URL_DEFAULT=$url:$PRIMARY_PORT/multidb_replication"
  echo "export DATABASE_URL_REPLICA1=$url:$REPLICA1_PORT/multidb_replication"
  echo "export DATABASE_URL_REPLICA2=$url:$REPLICA2_PORT/multidb_replication"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  destroy) stop; rm -rf "$DIR"; echo "deleted $DIR" ;;
  env) env_lines ;;
  *) sed -n '2,11p' "$0" >&2; exit 2 ;;
esac
