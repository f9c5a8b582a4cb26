#!/usr/bin/env bash
# One PostgreSQL server per shard, each a cluster of its own on loopback, as
# a site that outgrew one machine puts each shard on its own.
#
#   scripts/pg-sharding.sh start [N]   create (first time) and start N servers (4)
#   scripts/pg-sharding.sh status      which are up
#   scripts/pg-sharding.sh stop        stop them all (data kept)
#   scripts/pg-sharding.sh destroy     stop and delete the data
#   scripts/pg-sharding.sh env [N]     DATABASE_URL_SHARD* and SHARD_SERVERS lines
#
# Shard n listens on 127.0.0.1:$((FIRST_PORT + n)), 5441 and on; ``default``
# stays on the machine's server (127.0.0.1:5432). Eight servers for the
# rebalance tests, which move four shards onto eight. Runs the servers as the
# postgres user when started as root.
set -euo pipefail

BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DIR=${PG_SHARDING_DIR:-/tmp/multidb-pg-sharding}
FIRST_PORT=${FIRST_PORT:-5441}
COUNT=${2:-4}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

create() {  # create NAME PORT
  as_postgres "$BIN/initdb" -D "$DIR/$1" -U postgres --auth=trust >/dev/null
  cat >>"$DIR/$1/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$DIR'
fsync = off
shared_buffers = 32MB
max_connections = 200
CONF
}

start() {
  [ -x "$BIN/initdb" ] || {
    echo "No PostgreSQL binaries in $BIN: apt-get install postgresql-15 (or set PG_BIN)." >&2
    exit 1
  }
  mkdir -p "$DIR"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$DIR"
  for ((n = 0; n < COUNT; n++)); do
    local name=shard$n port=$((FIRST_PORT + n))
    [ -d "$DIR/$name" ] || create "$name" "$port"
    if ! as_postgres "$BIN/pg_ctl" -D "$DIR/$name" status >/dev/null 2>&1; then
      as_postgres "$BIN/pg_ctl" -D "$DIR/$name" -l "$DIR/$name.log" -w -t 60 start >/dev/null
    fi
    echo "$name is up on 127.0.0.1:$port"
  done
}

servers() {
  find "$DIR" -maxdepth 1 -name 'shard*' -type d 2>/dev/null | sort -V
}

stop() {
  for data in $(servers); do
    as_postgres "$BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    echo "$(basename "$data") stopped"
  done
}

status() {
  for data in $(servers); do
    local name port
    name=$(basename "$data") port=$((FIRST_PORT + ${name#shard}))
    if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      echo "$name 127.0.0.1:$port up"
    else
      echo "$name 127.0.0.1:$port down"
    fi
  done
}

env_lines() {
  local urls=()
  echo "export DATABASE_URL_DEFAULT=postgres://postgres@127.0.0.1:5432/multidb_sharding_default"
  for ((n = 0; n < COUNT; n++)); do
    local server=postgres://postgres@127.0.0.1:$((FIRST_PORT + n))
    echo "export DATABASE_URL_SHARD$n=$server/multidb_sharding_shard$n"
    urls+=("$server")
  done
  # Where tests make scratch databases for shard n (tests/scratch.py).
  echo "export SHARD_SERVERS=$(IFS=,; echo "${urls[*]}")"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  destroy) stop; rm -rf "$DIR"; echo "deleted $DIR" ;;
  env) env_lines ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
