#!/usr/bin/env bash
# bench/rollup.sh: the analytics side of vigild under a large fleet's history.
#
#  1. Build vigild (Release, in build-release/), or take BENCH_VIGILD; start it
#     once on a temp data dir so it creates its schema, then stop it (SIGTERM).
#  2. Seed that store directly (bench/seed_sessions.py, vigild stopped):
#     BENCH_WORKERS workers with BENCH_DAYS days of sessions, all recorded by
#     this vigild's node id, node_runs covering the window but for one hour.
#  3. Start vigild pinned to core BENCH_SERVER_CPU; POST /v1/admin/rollup
#     once to warm up, then BENCH_ROLLUPS times, one after the other (the
#     server's reliability.ms, the wall time, vigild's CPU); then wrk (bench/rel.lua, pinned to core
#     BENCH_CLIENT_CPU, 1 thread, BENCH_CONNS connections, --latency) against
#     GET /v1/reliability?limit=BENCH_LIMIT for BENCH_DURATION s after a 2 s
#     warm-up; plus a few single requests timed by curl (new connection each).
#  4. Markdown summary to stdout and bench/results/rollup-<UTC>.md.
#
# Targets (DESIGN §6-7, the analytics issue): one full reliability rollup
# ≤ 2 s on one core; GET /v1/reliability?limit=50 p99 ≤ 2 ms.
#
# Knobs (environment): BENCH_WORKERS=100000 BENCH_DAYS=14 BENCH_MIN_SESSIONS=14
#   BENCH_MAX_SESSIONS=40 BENCH_GROUPS=20 BENCH_SEED=1 BENCH_ROLLUPS=3
#   BENCH_DURATION=10 (s) BENCH_CONNS=4 BENCH_LIMIT=50 BENCH_SERVER_CPU=0
#   BENCH_CLIENT_CPU=1 BENCH_VIGILD=PATH (use that binary, no build)
#   BENCH_SEED_ONLY=1 (stop after step 2, e.g. before the endpoints exist)
# Needs ~1 GB free in $TMPDIR (or /tmp) for the store.
# Exit: 0 the run is valid (a missed target is reported, not an error);
#       1 a check failed (non-2xx answers, wrong counts...);
#       2 setup failed (missing tool, build, server would not start, or this
#         vigild has no /v1/admin/rollup or /v1/reliability: HTTP 404).
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
WORKERS=${BENCH_WORKERS:-100000}
DAYS=${BENCH_DAYS:-14}
MIN_S=${BENCH_MIN_SESSIONS:-14}
MAX_S=${BENCH_MAX_SESSIONS:-40}
GROUPS_N=${BENCH_GROUPS:-20}
SEED=${BENCH_SEED:-1}
ROLLUPS=${BENCH_ROLLUPS:-3}
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNS:-4}
LIMIT=${BENCH_LIMIT:-50}
SCPU=${BENCH_SERVER_CPU:-0}
CCPU=${BENCH_CLIENT_CPU:-1}
SEED_ONLY=${BENCH_SEED_ONLY:-0}
NODE=bench-node
TARGET_ROLLUP_MS=2000
TARGET_P99_US=2000
CMDLINE="$0${*:+ $*}"
for v in BENCH_WORKERS BENCH_DAYS BENCH_MIN_SESSIONS BENCH_MAX_SESSIONS BENCH_GROUPS BENCH_SEED \
         BENCH_ROLLUPS BENCH_DURATION BENCH_CONNS BENCH_LIMIT BENCH_SERVER_CPU BENCH_CLIENT_CPU \
         BENCH_VIGILD BENCH_SEED_ONLY; do
  [ -n "${!v:-}" ] && CMDLINE="$v=${!v} $CMDLINE"
done
for n in "$WORKERS" "$DAYS" "$MIN_S" "$MAX_S" "$GROUPS_N" "$SEED" "$ROLLUPS" "$DURATION" \
         "$CONNS" "$LIMIT" "$SCPU" "$CCPU" "$SEED_ONLY"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "rollup.sh: BENCH_* values are integers (got '$n')" >&2; exit 2; }
done
[ "$ROLLUPS" -ge 1 ] && [ "$ROLLUPS" -le 20 ] || { echo "rollup.sh: BENCH_ROLLUPS 1..20" >&2; exit 2; }

log() { printf '[rollup.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ---------------------------------------------------------------- 1. build, schema
log "installing what the benchmark needs (scripts/deps.sh bench)"
"$ROOT/scripts/deps.sh" bench >&2 || die "scripts/deps.sh bench failed"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || die "python3 missing"
"$PY" -c 'import sqlite3' 2>/dev/null || die "$PY has no sqlite3 module"
for t in wrk taskset curl; do command -v "$t" >/dev/null || die "$t missing"; done
NCPU=$(nproc)
[ "$SCPU" -lt "$NCPU" ] && [ "$CCPU" -lt "$NCPU" ] || die "need cores $SCPU and $CCPU (have $NCPU)"
HZ=$(getconf CLK_TCK)

TMP=$(mktemp -d -t vigil-rollup.XXXXXXXX)
SPID=""
cleanup() {
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
    kill -TERM "$SPID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${BENCH_VIGILD:-}" ]; then
  [ -x "$BENCH_VIGILD" ] || die "BENCH_VIGILD=$BENCH_VIGILD is not an executable"
  cp "$BENCH_VIGILD" "$TMP/vigild"
  BUILD_NOTE="given binary $BENCH_VIGILD"
else
  log "building vigild (Release) in build-release/"
  { cmake -S "$ROOT" -B "$ROOT/build-release" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$ROOT/build-release" -j "$NCPU" --target vigild; } >"$TMP/build.log" 2>&1 ||
    die "build failed:
$(grep -E 'error|Error' "$TMP/build.log" | head -20)"
  # A private copy: the tree may be rebuilt by someone else mid-run.
  cp "$ROOT/build-release/vigild" "$TMP/vigild"
  BUILD_NOTE="Release build (build-release/)"
fi
VIGILD=$TMP/vigild
BIN_SHA=$(sha256sum "$VIGILD" | cut -c1-12)
V_VIGILD=$("$VIGILD" --version 2>&1 | head -1)
GIT_REV=$(git -C "$ROOT" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo "not a git tree")
GIT_DIRTY=$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no -- src include CMakeLists.txt 2>/dev/null | wc -l)

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g |
  awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
                           else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
jget() { # JSON_FILE DOTTED.PATH -> value ("?" when absent)
  "$PY" -c 'import json,sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2].split("."): v = v[k]
    print("null" if v is None else v)
except Exception: print("?")' "$1" "$2"
}

PORT=$(free_port)
DATA=$TMP/data
URL=http://127.0.0.1:$PORT
# vigild with this node id and nothing else from the caller's VIGIL_* environment
# (a VIGIL_STORE_URL there would send it to another store).
start_vigild() { # [taskset -c N]
  "$@" env -i PATH="$PATH" VIGIL_NODE_ID="$NODE" "$VIGILD" --listen "127.0.0.1:$PORT" \
    --data "$DATA" >>"$TMP/vigild.log" 2>&1 &
  SPID=$!
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$URL/readyz" || true)" = 200 ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  die "vigild did not become ready:
$(tail -20 "$TMP/vigild.log")"
}
stop_vigild() {
  kill -TERM "$SPID" 2>/dev/null || true
  for _ in $(seq 600); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$SPID" 2>/dev/null && { kill -KILL "$SPID"; FLAGS+=("vigild did not stop within 60 s of SIGTERM"); }
  wait "$SPID" 2>/dev/null || true
  SPID=""
}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# How busy all cores are over 2 s: others' load on the pinned cores skews every figure.
busy_pct() {
  local a b
  a=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
  sleep 2
  b=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.0f", (y[1] - x[1]) / (y[2] - x[2] + 0.0001) * 100 }'
}
FLAGS=()   # things that make a figure doubtful: printed, never hidden
INVALID=0  # a check failed

log "creating the schema: vigild once on $URL, data in $DATA"
start_vigild
stop_vigild
[ -f "$DATA/vigil.db" ] || die "vigild left no $DATA/vigil.db"

# ---------------------------------------------------------------- 2. seed
log "seeding $WORKERS workers x $MIN_S-$MAX_S sessions over $DAYS days (node $NODE)"
T0=$(now)
SEED_JSON=$("$PY" "$BENCH/seed_sessions.py" --db "$DATA/vigil.db" --node-id "$NODE" \
  --workers "$WORKERS" --days "$DAYS" --min-sessions "$MIN_S" --max-sessions "$MAX_S" \
  --groups "$GROUPS_N" --seed "$SEED") || die "seeding failed"
SEED_WALL=$(calc "$(now) - $T0" 1)
echo "$SEED_JSON" >"$TMP/seed.json"
S_SESS=$(jget "$TMP/seed.json" sessions)
S_OPEN=$(jget "$TMP/seed.json" open)
S_MB=$(calc "$(jget "$TMP/seed.json" db_bytes) / 1048576" 0)
S_REASONS=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))["reasons"]
print(", ".join(f"{k} {v}" for k, v in d.items()))' "$TMP/seed.json")
log "seeded $S_SESS sessions ($S_OPEN open) in ${SEED_WALL}s; database $S_MB MiB"

seed_section() {
  echo "## Seeded store"
  echo
  echo "| figure | value |"
  echo "|---|---|"
  echo "| workers (groups) | $WORKERS ($GROUPS_N) |"
  echo "| sessions over $DAYS days | $S_SESS ($MIN_S-$MAX_S per worker; $S_OPEN still open) |"
  echo "| closed by reason | $S_REASONS |"
  echo "| node_runs | node \`$NODE\`, the whole window but one hour 7 days ago |"
  echo "| database size | $S_MB MiB |"
  echo "| **seeding time** | **${SEED_WALL}s** (bench/seed_sessions.py, one transaction) |"
}
if [ "$SEED_ONLY" = 1 ]; then
  seed_section
  log "BENCH_SEED_ONLY=1: stopping after the seeding step"
  exit 0
fi

# ---------------------------------------------------------------- 3. measure
BUSY0=$(busy_pct)
if [ "$BUSY0" -gt 10 ]; then
  TOP=$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 10 { printf "%s%s", s, $2; s = ", " }')
  FLAGS+=("the machine was ${BUSY0}% busy (all cores, 2 s) before the measurements${TOP:+ (busiest: $TOP)}")
fi
log "starting vigild pinned to core $SCPU"
T0=$(now)
start_vigild taskset -c "$SCPU"
BOOT_S=$(calc "$(now) - $T0" 2)
TOKEN=$(head -1 "$DATA/admin.token")
AUTH="Authorization: Bearer $TOKEN"
RSS0=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$SPID/status")

# Both endpoints must exist; say plainly when this build predates them.
code=$(curl -s -m 10 -o "$TMP/rel0.json" -w '%{http_code}' -H "$AUTH" "$URL/v1/reliability?limit=1" || true)
[ "$code" = 404 ] && die "this vigild has no GET /v1/reliability (HTTP 404): the analytics endpoints are not in this build. Steps 1-2 (schema, seeding) ran; BENCH_SEED_ONLY=1 stops there."
[ "$code" = 200 ] || die "GET /v1/reliability answered HTTP $code: $(head -c 300 "$TMP/rel0.json")"
# Whether a rollup of vigild's own had finished by now (null: none yet, or
# one still running, which the warm-up run below then waits for).
PRE_COMPUTED=$(jget "$TMP/rel0.json" computed_at)

# Run 0 is a warm-up, shown but not counted: it may queue behind a rollup
# vigild started on its own at boot, and it reads the store cold.
ROWS="" RU_MS=()
for i in $(seq 0 "$ROLLUPS"); do
  s0=$(ticks "$SPID")
  out=$(curl -s -m 600 -o "$TMP/rollup$i.json" -w '%{http_code} %{time_total}' -X POST \
    -H "$AUTH" -H 'Content-Length: 0' "$URL/v1/admin/rollup" || true)
  s1=$(ticks "$SPID")
  code=${out%% *}
  [ "$code" = 404 ] && die "this vigild has no POST /v1/admin/rollup (HTTP 404): the analytics endpoints are not in this build"
  if [ "$code" != 200 ]; then
    FLAGS+=("rollup $i: HTTP $code: $(head -c 300 "$TMP/rollup$i.json")")
    INVALID=1
    continue
  fi
  wall=$(calc "${out#* } * 1000" 0)
  rms=$(jget "$TMP/rollup$i.json" reliability.ms)
  tms=$(jget "$TMP/rollup$i.json" ms)
  rw=$(jget "$TMP/rollup$i.json" reliability.workers)
  [ "$rw" = "$WORKERS" ] || { FLAGS+=("rollup $i: reliability.workers is $rw, expected $WORKERS"); INVALID=1; }
  if [ "$i" = 0 ]; then
    label="0 (warm-up)"
  else
    label=$i
    RU_MS+=("$rms")
    # Wall time well past the server's own figure: the request waited for another rollup.
    if awk -v w="$wall" -v t="$tms" 'BEGIN { exit !(t != "?" && w > t * 1.2 + 50) }'; then
      FLAGS+=("rollup $i: ${wall} ms wall for ${tms} ms of rollup: it waited for another one")
    fi
  fi
  ROWS+="| $label | **$rms** | $(jget "$TMP/rollup$i.json" hourly.ms) | $tms | $wall | $(calc "($s1 - $s0) / $HZ" 2) | $rw |"$'\n'
  log "rollup $label: reliability ${rms} ms (server), ${wall} ms wall"
done
RU_MED=$(echo "${RU_MS[*]:-}" | median)
RU_OK=$(awk -v m="$RU_MED" -v t="$TARGET_ROLLUP_MS" 'BEGIN { print (m != "nan" && m <= t) ? "met" : "MISSED" }')

# The answer under load must be the real one: LIMIT rows of the whole fleet.
curl -s -m 10 -o "$TMP/rel.json" -H "$AUTH" "$URL/v1/reliability?limit=$LIMIT" || true
GOT=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["workers"]), d["total"], len(open(sys.argv[1],"rb").read()))' "$TMP/rel.json" 2>/dev/null || echo "? ? ?")
read -r GOT_N GOT_TOTAL GOT_BYTES <<<"$GOT"
[ "$GOT_N" = "$LIMIT" ] || { FLAGS+=("GET /v1/reliability?limit=$LIMIT returned $GOT_N workers"); INVALID=1; }
[ "$GOT_TOTAL" = "$WORKERS" ] || FLAGS+=("GET /v1/reliability says total $GOT_TOTAL, expected $WORKERS")

WRK_URL="$URL/v1/reliability?limit=$LIMIT"
WRK_CMD="taskset -c $CCPU wrk -t1 -c$CONNS -d${DURATION}s --latency -s bench/rel.lua '$WRK_URL'"
log "wrk warm-up 2s, then ${DURATION}s: $WRK_CMD"
VIGIL_TOKEN=$TOKEN taskset -c "$CCPU" wrk -t1 -c"$CONNS" -d2s -s "$BENCH/rel.lua" "$WRK_URL" >/dev/null 2>&1 || true
s0=$(ticks "$SPID"); t0=$(now)
VIGIL_TOKEN=$TOKEN taskset -c "$CCPU" timeout -k 5 $((DURATION + 60)) \
  wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$BENCH/rel.lua" "$WRK_URL" >"$TMP/wrk.txt" 2>&1 ||
  FLAGS+=("wrk exited with an error")
SCPU_PCT=$(calc "($(ticks "$SPID") - $s0) / $HZ / ($(now) - $t0) * 100" 0)
line=$(grep '^BENCH ' "$TMP/wrk.txt" || echo "BENCH rps=0")
get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" ${line#BENCH}"; }
W_RPS=$(get rps) W_REQ=$(get requests) W_P50=$(get p50_us) W_P90=$(get p90_us) W_P99=$(get p99_us)
W_MAX=$(get max_us) W_ERR=$(get status_errors)
geti() { local v; v=$(get "$1"); echo "${v:-0}"; }
W_SOCK=$(( $(geti connect_errors) + $(geti read_errors) + $(geti write_errors) + $(geti timeouts) ))
if [ -z "$W_REQ" ] || [ "${W_ERR:-1}" != 0 ] || [ "$W_SOCK" != 0 ]; then
  FLAGS+=("wrk: ${W_ERR:-?} non-2xx answers, $W_SOCK socket errors out of ${W_REQ:-?} requests")
  INVALID=1
fi
P99_OK=$(awk -v p="${W_P99:-0}" -v t="$TARGET_P99_US" 'BEGIN { print (p > 0 && p <= t) ? "met" : "MISSED" }')

SINGLE=""
for _ in 1 2 3 4 5; do
  t=$(curl -s -o /dev/null -m 10 -w '%{time_total}' -H "$AUTH" "$WRK_URL" || echo nan)
  SINGLE+="${SINGLE:+, }$(calc "$t * 1000" 2) ms"
done
RSS1=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$SPID/status")
stop_vigild

# ---------------------------------------------------------------- 4. summary
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
  echo "# vigild rollup and reliability read benchmark — $STAMP"
  echo
  echo "- machine: $NCPU × $MODEL, $(uname -srm); load average $LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "- versions: $V_VIGILD (commit $GIT_REV$([ "$GIT_DIRTY" = 0 ] || echo ", $GIT_DIRTY source files modified"), binary sha256 $BIN_SHA…, $BUILD_NOTE); $( (wrk -v 2>&1 || true) | head -1 | sed 's/ Copyright.*//')"
  echo "- command: \`$CMDLINE\`"
  echo "- vigild pinned to core $SCPU (\`taskset -c $SCPU\`), wrk to core $CCPU; vigild's own defaults otherwise (node id \`$NODE\`)"
  echo
  seed_section
  echo
  echo "## Full rollup (POST /v1/admin/rollup, one after the other)"
  echo
  echo "vigild was ready ${BOOT_S}s after start (RSS $RSS0 kB); computed_at before the first forced rollup: $PRE_COMPUTED."
  echo
  echo "| run | reliability ms (server) | hourly ms | total ms (server) | wall ms (curl) | vigild CPU s (whole process) | workers |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s' "$ROWS"
  echo
  echo "**median reliability rollup (runs 1-$ROLLUPS) = $RU_MED ms** — target ≤ $TARGET_ROLLUP_MS ms on one core: **$RU_OK**."
  echo
  echo "## GET /v1/reliability?limit=$LIMIT"
  echo
  echo "Answer: $GOT_N workers of $GOT_TOTAL, $GOT_BYTES bytes."
  echo
  echo "| req/s | p50 µs | p90 µs | p99 µs | max µs | non-2xx / sock err | vigild CPU |"
  echo "|---|---|---|---|---|---|---|"
  echo "| $W_RPS | $W_P50 | $W_P90 | **$W_P99** | $W_MAX | ${W_ERR:-?} / $W_SOCK | $SCPU_PCT% |"
  echo
  echo "**p99 = $W_P99 µs** — target ≤ $TARGET_P99_US µs: **$P99_OK**. ($CONNS keep-alive connections, 1 wrk thread, ${DURATION}s after a 2 s warm-up.)"
  echo
  echo "Single requests (curl, a new connection each): $SINGLE. vigild RSS after the run: $RSS1 kB."
  echo
  echo "## Flags"
  echo
  if [ ${#FLAGS[@]} -eq 0 ]; then echo "none: all answers 2xx, all counts as expected."
  else for f in "${FLAGS[@]}"; do echo "- $f"; done; fi
  echo
  echo "<details><summary>raw wrk output</summary>"
  echo
  echo '```'
  echo "\$ $WRK_CMD"
  cat "$TMP/wrk.txt"
  echo '```'
  echo "</details>"
} >"$TMP/summary.md"
mkdir -p "$BENCH/results"
cp "$TMP/summary.md" "$BENCH/results/rollup-$STAMP.md"
cat "$TMP/summary.md"
log "summary written to bench/results/rollup-$STAMP.md"
[ "$INVALID" = 0 ] || { log "the run is INVALID: see Flags"; exit 1; }
exit 0
