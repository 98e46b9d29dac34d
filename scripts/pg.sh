#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in
# a directory of its own, listening on 127.0.0.1 only, no system service.
#
#   scripts/pg.sh start DIR PORT   create (if needed) and start; prints the URL
#   scripts/pg.sh stop DIR         stop it (fast) and remove DIR
#   scripts/pg.sh url DIR          the URL of a started cluster
#
# The server refuses to run as root, so as root it runs as the `postgres`
# user that Debian's package creates. Trust auth on loopback: test only.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg.sh start DIR PORT | stop DIR | url DIR" >&2; exit 2; }
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "pg.sh: PostgreSQL is not installed (scripts/deps.sh test)" >&2; exit 2; }
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
user=$([ "$(id -u)" -eq 0 ] && echo postgres || id -un)
case "$cmd" in
  start)
    port=${3:?port}
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    # A cluster left running by an interrupted run: stop it first.
    [ -f "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop \
      >/dev/null 2>&1 || true
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$dir/data" -A trust -U "$user" -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # Small and fast: fsync off (a test cluster is thrown away), sockets in DIR.
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off \
          -c full_page_writes=off -c max_connections=200 -c shared_buffers=128MB" >/dev/null ||
      { tail -20 "$dir/server.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -qAtc \
      "SELECT 1 FROM pg_database WHERE datname = 'vigil_test'" | grep -q 1 ||
      as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$user" vigil_test
    echo "postgresql://$user@127.0.0.1:$port/vigil_test" | tee "$dir/url"
    ;;
  url)
    echo "postgresql://$user@127.0.0.1:$(cat "$dir/port")/vigil_test"
    ;;
  stop)
    [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "pg.sh: unknown command $cmd" >&2; exit 2 ;;
esac
