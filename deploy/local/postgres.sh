#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, on 127.0.0.1 only.
#
#   deploy/local/postgres.sh start   # installs the server (Debian) if missing,
#                                    # initdb in a temp dir, starts it on a free
#                                    # port, prints the superuser URL on stdout
#   deploy/local/postgres.sh url     # prints the URL of the running server
#   deploy/local/postgres.sh status  # exit 0 when it answers
#   deploy/local/postgres.sh down    # stops the server, keeps its data and port
#   deploy/local/postgres.sh up      # starts it again after `down` (fault tests)
#   deploy/local/postgres.sh stop    # stops it and removes the temp dir
#
# Auth is trust on loopback and the unix socket lives in the temp dir, so the
# server is reachable only from this machine. As root, the server runs as the
# `postgres` user (PostgreSQL refuses to run as root). State is kept in
# $EXCHANGE_LOCAL_STATE/postgres.env (see lib.sh).
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
source "$(dirname "$0")/lib.sh"

STATE="$EXCHANGE_LOCAL_STATE/postgres.env"
READY_TIMEOUT="${EXCHANGE_PG_READY_TIMEOUT:-60}"

# pg_bindir prints the newest installed server bin dir, or nothing.
pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
    echo "$d"
  fi
}

ensure_server_binaries() {
  if [ -n "$(pg_bindir)" ]; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin and apt-get is not available: install PostgreSQL 15+ or set EXCHANGE_TEST_DATABASE_URL"
  fi
  if [ "$(id -u)" != 0 ]; then
    die "PostgreSQL server binaries not found and not running as root: run 'apt-get install -y postgresql' or set EXCHANGE_TEST_DATABASE_URL"
  fi
  note "PostgreSQL server binaries missing: apt-get install -y postgresql"
  # Keep the install from starting the package's own cluster on :5432: this
  # script starts the only server it needs, and stops it again. policy-rc.d
  # exit 101 is Debian's "do not start services" switch.
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
  fi
  local ok=1
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 || ok=""
  [ -n "$policy" ] && rm -f "$policy"
  [ -n "$ok" ] || die "apt-get install -y postgresql failed (output above)"
  [ -n "$(pg_bindir)" ] || die "apt-get install postgresql finished but no server binaries under /usr/lib/postgresql/*/bin"
}

# as_owner CMD...: runs CMD as the server's OS user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    # From /, as the caller's directory may be closed to the postgres user.
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

load_state() {
  [ -f "$STATE" ] || die "no server started by this script (no $STATE); run '$0 start'"
  # shellcheck disable=SC1090
  source "$STATE"
}

url_of() {
  echo "postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable"
}

ready() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -t 2
}

server_up() {
  # -w waits until the server accepts connections, bounded by -t.
  # wal_level=logical and the slot/sender limits let the outbox connector's
  # tests use logical replication (connectors/outbox).
  if ! as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t "$READY_TIMEOUT" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR/sock -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20" start >&2; then
    echo "---- last lines of $PG_DIR/server.log" >&2
    tail -n 30 "$PG_DIR/server.log" >&2 || true
    return 1
  fi
  wait_for "PostgreSQL on 127.0.0.1:$PG_PORT" "$READY_TIMEOUT" ready ||
    die "PostgreSQL on 127.0.0.1:$PG_PORT did not answer pg_isready within ${READY_TIMEOUT}s (log: $PG_DIR/server.log)"
}

server_down() {
  as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >&2
}

cmd_start() {
  if [ -f "$STATE" ]; then
    # shellcheck disable=SC1090
    source "$STATE"
    if [ -n "${PG_BIN:-}" ] && ready; then
      die "a server started by this script is already running ($(url_of "$PG_PORT")); '$0 stop' it first"
    fi
    note "removing stale state $STATE"
    rm -f "$STATE"
  fi
  ensure_server_binaries
  PG_BIN=$(pg_bindir)
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    die "running as root but there is no 'postgres' OS user to run the server as"
  fi
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/exchange-pg.XXXXXX")
  mkdir -p "$PG_DIR/sock"
  chmod 755 "$PG_DIR"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres: "$PG_DIR"
  fi
  note "initdb in $PG_DIR/data ($("$PG_BIN/postgres" --version))"
  if ! as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$PG_DIR/initdb.log" 2>&1; then
    cat "$PG_DIR/initdb.log" >&2
    rm -rf "$PG_DIR"
    die "initdb failed"
  fi
  local attempt
  for attempt in 1 2 3; do
    PG_PORT=$(free_port)
    mkdir -p "$EXCHANGE_LOCAL_STATE"
    {
      echo "PG_BIN=$PG_BIN"
      echo "PG_DIR=$PG_DIR"
      echo "PG_PORT=$PG_PORT"
    } >"$STATE"
    if server_up; then
      url_of "$PG_PORT"
      return 0
    fi
    note "start on port $PG_PORT failed (attempt $attempt of 3)"
  done
  rm -f "$STATE"
  rm -rf "$PG_DIR"
  die "PostgreSQL did not start; see the log lines above"
}

cmd_stop() {
  if [ ! -f "$STATE" ]; then
    note "nothing to stop (no $STATE)"
    return 0
  fi
  load_state
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    server_down || note "pg_ctl stop failed; removing $PG_DIR anyway"
  fi
  rm -rf "$PG_DIR"
  rm -f "$STATE"
  note "stopped and removed $PG_DIR"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
url)
  load_state
  url_of "$PG_PORT"
  ;;
status)
  load_state
  if ready; then
    echo "running: $(url_of "$PG_PORT") (data $PG_DIR/data)"
  else
    echo "not answering: $(url_of "$PG_PORT")"
    exit 1
  fi
  ;;
down)
  load_state
  server_down
  ;;
up)
  load_state
  server_up
  url_of "$PG_PORT"
  ;;
*)
  echo "usage: $0 start|stop|url|status|down|up" >&2
  exit 2
  ;;
esac
