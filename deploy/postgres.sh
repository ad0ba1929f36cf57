#!/usr/bin/env bash
# Runs a private PostgreSQL server for the tests on 127.0.0.1 (trust auth, no fsync: test data only).
#   deploy/postgres.sh start   -> prints `export PLATFORM_TEST_POSTGRES=...` for eval
#   deploy/postgres.sh stop
# PLATFORM_PG_DIR (default /tmp/simvlm-platform-pg) and PLATFORM_PG_PORT (default 55432) override.
set -euo pipefail
dir=${PLATFORM_PG_DIR:-/tmp/simvlm-platform-pg}
port=${PLATFORM_PG_PORT:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "postgres.sh: PostgreSQL is not installed; run deploy/setup.sh" >&2; exit 1; }

# initdb refuses to run as root; the Debian package creates the postgres user.
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-start}" in
  start)
    if ! as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      rm -rf "$dir"
      mkdir -p "$dir"
      [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
      as_owner "$bin/initdb" -D "$dir" -A trust -U postgres --no-sync >"$dir.initdb.log" 2>&1 \
        || { cat "$dir.initdb.log" >&2; exit 1; }
      as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" >&2
    fi
    echo "export PLATFORM_TEST_POSTGRES='Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres'"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir" -m fast stop >&2 || true
    ;;
  *)
    echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
