#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suites: start | stop | url.
#
#   ./scripts/postgres.sh start   # installs Debian's postgresql if missing, starts a cluster
#   ./scripts/postgres.sh url     # postgresql://postgres@127.0.0.1:54329/fairwheel_test
#   ./scripts/postgres.sh stop    # stops it and deletes its data
#
# The cluster lives in $FAIRWHEEL_PG_DIR (default /tmp/fairwheel-pg), listens on 127.0.0.1 port
# $FAIRWHEEL_PG_PORT (default 54329) only, trusts local connections and runs without fsync:
# it is for tests, never for a node's data (docs/operations.md says how to run a real one).
set -euo pipefail
DATA=${FAIRWHEEL_PG_DIR:-/tmp/fairwheel-pg}
PORT=${FAIRWHEEL_PG_PORT:-54329}
DB=fairwheel_test
URL="postgresql://postgres@127.0.0.1:$PORT/$DB"
log() { echo "[postgres] $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }

# initdb and the server refuse to run as root: run them as the postgres user when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
  if [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ]; then return; fi
  log "installing Debian's postgresql"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  # The package starts its own cluster on 5432; ours is separate and needs no service.
}

running() { [ -f "$DATA/postmaster.pid" ] && as_owner "$(pg_bin)/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

start() {
  install
  local bin; bin=$(pg_bin)
  if running; then log "already running on port $PORT"; echo "$URL"; return; fi
  rm -rf "$DATA"
  mkdir -p "$DATA"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
  chmod 700 "$DATA"
  as_owner "$bin/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  as_owner "$bin/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start \
    -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
  log "running on port $PORT (data in $DATA)"
  echo "$URL"
}

stop() {
  local bin; bin=$(pg_bin)
  if [ -n "$bin" ] && running; then
    as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    log "stopped"
  fi
  rm -rf "$DATA"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
