#!/usr/bin/env bash
# bench/store.sh: raw heartbeat rows per second into the store (issue 5).
#
#  1. Build bench/store_bench.c (Release, in build-release/ or BENCH_BUILD_DIR).
#  2. Start a throwaway PostgreSQL cluster (scripts/pg.sh, a free loopback
#     port). pg.sh's test settings (fsync, synchronous_commit and
#     full_page_writes off) are turned back to PostgreSQL's defaults with a
#     restart unless BENCH_PG_DURABLE=0: a committed batch must be on disk,
#     and the reference's commit per statement must cost what it costs.
#  3. BENCH_ROUNDS interleaved rounds of three cases, each on fresh tables
#     (a PostgreSQL schema of its own, created by vigil's migrations; a new
#     SQLite file in the temp dir):
#       vigil-postgres     store_apply batches of BENCH_BATCH full heartbeats
#       insert500-postgres plain libpq: INSERT INTO heartbeats(...) VALUES
#                          (...),(...) 500 rows a statement, values as
#                          parameters (PQexecParams), autocommit
#       vigil-sqlite       store_apply, as vigil-postgres
#     BENCH_WORKERS workers (sessions opened first) beat once per 10 s round in
#     a new random order each round; BENCH_WARMUP rows are written untimed,
#     then BENCH_ROWS are timed.
#  4. Medians, median(vigil-postgres) / median(insert500-postgres), markdown
#     summary to stdout and bench/results/store-<UTC>.md; the cluster is
#     stopped and the temp dir removed on exit.
#
# Targets (issue 5): vigil-postgres ≥ 3 × insert500-postgres;
# vigil-sqlite ≥ 200,000 rows/s.
#
# Knobs (environment): BENCH_ROUNDS=3 BENCH_ROWS=500000 BENCH_WARMUP=100000
#   BENCH_WORKERS=10000 BENCH_BATCH=8192 BENCH_PG_DURABLE=1
#   BENCH_BUILD_DIR=build-release BENCH_PG_PORT (default: a free one)
# Exit: 0 the run is valid (a missed target is reported, not an error);
#       1 a case failed; 2 setup failed.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${BENCH_ROUNDS:-3}
ROWS=${BENCH_ROWS:-500000}
WARMUP=${BENCH_WARMUP:-100000}
WORKERS=${BENCH_WORKERS:-10000}
BATCH=${BENCH_BATCH:-8192}
DURABLE=${BENCH_PG_DURABLE:-1}
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-release}
TARGET_RATIO=3
TARGET_SQLITE=200000
CMDLINE="$0${*:+ $*}"
for v in BENCH_ROUNDS BENCH_ROWS BENCH_WARMUP BENCH_WORKERS BENCH_BATCH BENCH_PG_DURABLE \
         BENCH_BUILD_DIR BENCH_PG_PORT; do
  [ -n "${!v:-}" ] && CMDLINE="$v=${!v} $CMDLINE"
done
for n in "$ROUNDS" "$ROWS" "$WARMUP" "$WORKERS" "$BATCH" "$DURABLE" ${BENCH_PG_PORT:+"$BENCH_PG_PORT"}; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "store.sh: BENCH_* values are integers (got '$n')" >&2; exit 2; }
done
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 20 ] || { echo "store.sh: BENCH_ROUNDS 1..20" >&2; exit 2; }

log() { printf '[store.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ---------------------------------------------------------------- 1. build
log "installing what the benchmark needs (scripts/deps.sh bench)"
"$ROOT/scripts/deps.sh" bench >&2 || die "scripts/deps.sh bench failed"
PY=$(command -v python3) || die "python3 missing"

TMP=$(mktemp -d -t vigil-store.XXXXXXXX)
chmod 755 "$TMP" # the cluster runs as postgres when we are root
PGDIR=$TMP/pg
cleanup() {
  "$ROOT/scripts/pg.sh" stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building store_bench (Release) in $BUILD"
{ cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release &&
  cmake --build "$BUILD" -j "$(nproc)" --target store_bench; } >"$TMP/build.log" 2>&1 ||
  die "build failed:
$(grep -E 'error|Error' "$TMP/build.log" | head -20)"
cp "$BUILD/store_bench" "$TMP/store_bench" # the tree may be rebuilt by someone else mid-run
SB=$TMP/store_bench
BIN_SHA=$(sha256sum "$SB" | cut -c1-12)
GIT_REV=$(git -C "$ROOT" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo "not a git tree")
GIT_DIRTY=$({ git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no -- src CMakeLists.txt 2>/dev/null || true; } | wc -l)

# ---------------------------------------------------------------- 2. PostgreSQL
free_port() { # not CTest's 55432/55433
  "$PY" -c 'import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    if p not in (55432, 55433): print(p); break'
}
PORT=${BENCH_PG_PORT:-$(free_port)}
log "starting PostgreSQL on 127.0.0.1:$PORT (scripts/pg.sh, in $PGDIR)"
"$ROOT/scripts/pg.sh" start "$PGDIR" "$PORT" >/dev/null || die "scripts/pg.sh start failed"
PGURL=$(cat "$PGDIR/url")
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$DURABLE" = 1 ]; then
  # Same options as pg.sh but for its three test-only ones: server defaults.
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 -m fast restart \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $PGDIR -c max_connections=200 -c shared_buffers=128MB" \
    >/dev/null || die "restarting PostgreSQL with durable settings failed"
fi
psql_q() { "$PGBIN/psql" "$PGURL" -qAtc "$1"; }
PG_VER=$(psql_q "SHOW server_version")
PG_SET=$(psql_q "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name)
  FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes',
  'shared_buffers', 'wal_buffers', 'max_wal_size', 'checkpoint_timeout')")
SQLITE_VER=$("$PY" -c 'import sqlite3; print(sqlite3.sqlite_version)')

# ---------------------------------------------------------------- 3. rounds
CASES=(vigil-postgres insert500-postgres vigil-sqlite)
declare -A RATES
ROWS_MD=""
INVALID=0
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
run_case() { # CASE -> rows/s on stdout
  local args
  case "$1" in
    vigil-postgres) args=(vigil "$PGURL") ;;
    insert500-postgres) args=(insert "$PGURL" --insert-rows 500) ;;
    vigil-sqlite) rm -f "$TMP"/s.db*; args=(vigil "sqlite:$TMP/s.db") ;;
  esac
  local line
  line=$("$SB" "${args[@]}" --workers "$WORKERS" --batch "$BATCH" --warmup "$WARMUP" \
    --rows "$ROWS" 2>"$TMP/err") || { log "$1 failed: $(head -c 500 "$TMP/err")"; return 1; }
  echo "$line" >>"$TMP/lines"
  sed -n 's/.* rows_per_s=\([0-9]*\).*/\1/p' <<<"$line"
}
for r in $(seq "$ROUNDS"); do
  row="| $r |"
  for c in "${CASES[@]}"; do
    if v=$(run_case "$c"); then
      RATES[$c]+=" $v"
      row+=" $v |"
      log "round $r: $c $v rows/s"
    else
      INVALID=1
      row+=" failed |"
    fi
  done
  rm -f "$TMP"/s.db*
  ROWS_MD+="$row"$'\n'
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g |
  awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
                           else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
M_VPG=$(echo "${RATES[vigil-postgres]:-}" | median)
M_INS=$(echo "${RATES[insert500-postgres]:-}" | median)
M_VSQ=$(echo "${RATES[vigil-sqlite]:-}" | median)
RATIO=$(awk -v a="$M_VPG" -v b="$M_INS" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')
R_OK=$(awk -v r="$RATIO" -v t="$TARGET_RATIO" 'BEGIN { print (r != "nan" && r >= t) ? "met" : "MISSED" }')
S_OK=$(awk -v s="$M_VSQ" -v t="$TARGET_SQLITE" 'BEGIN { print (s != "nan" && s >= t) ? "met" : "MISSED" }')
RANGE() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { print a "–" b }'; }

# ---------------------------------------------------------------- 4. summary
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
  echo "# vigil store write rate benchmark — $STAMP"
  echo
  echo "- machine: $(nproc) × $MODEL, $(uname -srm), $(df -hT "$TMP" | awk 'NR == 2 { print $2 }') temp dir; load average $LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "- versions: store_bench (commit $GIT_REV$([ "$GIT_DIRTY" = 0 ] || echo ", $GIT_DIRTY source files modified"), binary sha256 $BIN_SHA…, Release); PostgreSQL $PG_VER; SQLite $SQLITE_VER"
  echo "- PostgreSQL: scripts/pg.sh cluster on loopback$([ "$DURABLE" = 1 ] && echo ", restarted with fsync, synchronous_commit and full_page_writes at their defaults" || echo ", pg.sh's test settings (BENCH_PG_DURABLE=0)"): $PG_SET"
  echo "- command: \`$CMDLINE\`"
  echo "- load: $WORKERS workers (sessions open), one full heartbeat each per 10 s round, new random order every round; batches of $BATCH; $WARMUP rows untimed, then $ROWS timed, fresh tables per case"
  echo
  echo "| round | vigil → PostgreSQL (COPY) | INSERT 500 rows/statement | vigil → SQLite |"
  echo "|---|---|---|---|"
  printf '%s' "$ROWS_MD"
  echo "| **median** | **$M_VPG** | **$M_INS** | **$M_VSQ** |"
  echo "| range | $(echo "${RATES[vigil-postgres]:-}" | RANGE) | $(echo "${RATES[insert500-postgres]:-}" | RANGE) | $(echo "${RATES[vigil-sqlite]:-}" | RANGE) |"
  echo
  echo "rows per second (raw heartbeat rows, 15 columns)."
  echo
  echo "- **vigil / INSERT-500 on PostgreSQL = $RATIO×** — target ≥ $TARGET_RATIO×: **$R_OK**"
  echo "- **vigil on SQLite = $M_VSQ rows/s** — target ≥ $TARGET_SQLITE: **$S_OK**"
  echo
  echo "<details><summary>raw lines</summary>"
  echo
  echo '```'
  cat "$TMP/lines" 2>/dev/null || true
  echo '```'
  echo "</details>"
} >"$TMP/summary.md"
mkdir -p "$ROOT/bench/results"
cp "$TMP/summary.md" "$ROOT/bench/results/store-$STAMP.md"
cat "$TMP/summary.md"
log "summary written to bench/results/store-$STAMP.md"
[ "$INVALID" = 0 ] || { log "a case failed: the run is INVALID"; exit 1; }
exit 0
