#!/usr/bin/env bash
# bench/ingest.sh: vigild's heartbeat ingest benchmark (`make bench`).
#
#  1. Ingest rate. wrk (bench/hb.lua) POSTs JSON heartbeats over keep-alive
#     connections to vigild pinned to core 0, then, in the same round, to nginx
#     answering 204 on the same core; wrk itself runs on core 1. ROUNDS rounds
#     (default 3), each vigild then nginx, after a short warm-up; each server
#     is started fresh for its run and stopped after it, so nothing of one
#     run (vigild's writer draining, workers expiring) lands in the other's.
#     Prints every round, the medians and median(vigild) / median(nginx).
#  2. Memory. A fresh vigild (core 0, VIGIL_DEFAULT_TTL_S=3600) is sent
#     1,000,000 distinct workers as NDJSON batches (bench/register.py, core 1);
#     VmRSS before and after (write queue drained) gives bytes per worker.
#  3. Sweeper. CPU of the "vigil-sweep" thread over an idle window with the
#     1,000,000 workers tracked (and over a shorter one while still empty);
#     CPU of the "vigil-writer" thread during registration.
#
# The summary (markdown) goes to stdout and to bench/results/ingest-<UTC>.md.
# Loopback only; every server is killed on exit; temp files are removed.
#
# Knobs (environment): BENCH_ROUNDS=3 BENCH_DURATION=10 (s per wrk run)
#   BENCH_CONNS=32 BENCH_WARMUP=3 (s) BENCH_ID_SPACE=10000 (worker ids wrk
#   rotates over) BENCH_WORKERS=1000000 BENCH_BATCH=5000 BENCH_IDLE=30 (s)
#   BENCH_IDLE_EMPTY=10 (s) BENCH_SERVER_CPU=0 BENCH_CLIENT_CPU=1
#   BENCH_WAIT_QUIET=60 (s to wait at most for the machine to be < 10% busy)
# Exit: 0 the run is valid (a missed target is reported, not an error);
#       1 a check failed (non-2xx answers, refused lines, wrong counts...);
#       2 setup failed (missing tool, server would not start).
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNS:-32}
WARMUP=${BENCH_WARMUP:-3}
ID_SPACE=${BENCH_ID_SPACE:-10000}
WORKERS=${BENCH_WORKERS:-1000000}
BATCH=${BENCH_BATCH:-5000}
IDLE=${BENCH_IDLE:-30}
IDLE_EMPTY=${BENCH_IDLE_EMPTY:-10}
SCPU=${BENCH_SERVER_CPU:-0}
CCPU=${BENCH_CLIENT_CPU:-1}
QUIET_WAIT=${BENCH_WAIT_QUIET:-60}
TARGET_RATIO=0.9
TARGET_BYTES=256
CMDLINE="$0${*:+ $*}"
for v in BENCH_ROUNDS BENCH_DURATION BENCH_CONNS BENCH_WARMUP BENCH_ID_SPACE BENCH_WORKERS \
         BENCH_BATCH BENCH_IDLE BENCH_IDLE_EMPTY BENCH_SERVER_CPU BENCH_CLIENT_CPU BENCH_WAIT_QUIET; do
  [ -n "${!v:-}" ] && CMDLINE="$v=${!v} $CMDLINE"
done
for n in "$ROUNDS" "$DURATION" "$CONNS" "$WARMUP" "$ID_SPACE" "$WORKERS" "$BATCH" "$IDLE" \
         "$IDLE_EMPTY" "$SCPU" "$CCPU" "$QUIET_WAIT"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "ingest.sh: BENCH_* values are integers (got '$n')" >&2; exit 2; }
done
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 20 ] || { echo "ingest.sh: BENCH_ROUNDS 1..20" >&2; exit 2; }

log() { printf '[ingest.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ---------------------------------------------------------------- setup
log "installing what the benchmark needs (scripts/deps.sh bench) and building"
"$ROOT/scripts/deps.sh" bench >&2 || die "scripts/deps.sh bench failed"
make -C "$ROOT" build >/dev/null 2>&1 || { make -C "$ROOT" build >&2 || true; die "make build failed"; }
VIGILD=$ROOT/build/vigild
[ -x "$VIGILD" ] || die "$VIGILD not built"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || die "python3 missing"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for t in wrk taskset curl getconf "$NGINX"; do command -v "$t" >/dev/null || die "$t missing"; done
NCPU=$(nproc)
[ "$SCPU" -lt "$NCPU" ] && [ "$CCPU" -lt "$NCPU" ] || die "need cores $SCPU and $CCPU (have $NCPU)"
HZ=$(getconf CLK_TCK)

TMP=$(mktemp -d -t vigil-bench.XXXXXXXX)
# Run a private copy: the tree may be rebuilt by someone else mid-run.
cp "$VIGILD" "$TMP/vigild"
VIGILD=$TMP/vigild
BIN_SHA=$(sha256sum "$VIGILD" | cut -c1-12)
# Which code this is (read-only git queries; no index refresh).
GIT_REV=$(git -C "$ROOT" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo "not a git tree")
GIT_DIRTY=$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no -- src include CMakeLists.txt 2>/dev/null | wc -l)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    [ -d "/proc/$p" ] || continue
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 50); do alive "$p" || break; sleep 0.1; done
    alive "$p" && kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A started child is "alive" until it exits (a zombie we have not reaped is not).
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# utime+stime (clock ticks) of a process or, given "PID/task/TID", a thread.
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# on-CPU nanoseconds from schedstat (0 when the kernel has no schedstat)
sched_ns() { awk '{print $1}' "/proc/$1/schedstat" 2>/dev/null || echo 0; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
# busy jiffies of one core from /proc/stat (everything but idle and iowait)
core_busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
core_all() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
vmrss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
find_thread() {
  local f
  for f in /proc/"$1"/task/*/comm; do
    [ "$(cat "$f" 2>/dev/null)" = "$2" ] && { basename "$(dirname "$f")"; return 0; }
  done
  return 1
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g |
  awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
                           else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# wait_http URL [CODE]: poll up to 10 s for the URL to answer (with CODE).
wait_http() {
  local c
  for _ in $(seq 100); do
    c=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1" 2>/dev/null || true)
    if [ -n "${2:-}" ]; then [ "$c" = "$2" ] && return 0; else [ "$c" != 000 ] && return 0; fi
    sleep 0.1
  done
  return 1
}

# start_vigild DATA_DIR PORT [VAR=VALUE...]: sets SPID (the vigild pid).
start_vigild() {
  local data=$1 port=$2
  shift 2
  mkdir -p "$data"
  env VIGIL_HTTP_THREADS=1 "$@" taskset -c "$SCPU" "$VIGILD" --listen "127.0.0.1:$port" \
    --data "$data" >>"$TMP/vigild.log" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
  wait_http "http://127.0.0.1:$port/readyz" 200 || die "vigild did not become ready (see below)
$(tail -20 "$TMP/vigild.log")"
}
start_nginx() {
  local port=$1
  sed -e "s|@TMP@|$TMP|g" -e "s|@PORT@|$port|g" "$BENCH/nginx.conf.in" >"$TMP/nginx.conf"
  taskset -c "$SCPU" "$NGINX" -p "$TMP" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" \
    >>"$TMP/nginx.out" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
  wait_http "http://127.0.0.1:$port/" 204 || die "nginx did not start: $(tail -5 "$TMP/nginx.out" "$TMP/nginx-error.log" 2>/dev/null)"
}
# stop_server PID [SECONDS]: SIGTERM, wait (bounded), SIGKILL if still there.
stop_server() {
  local p=$1
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq $((${2:-60} * 10))); do alive "$p" || break; sleep 0.1; done
  if alive "$p"; then
    FLAGS+=("server pid $p did not stop within ${2:-60} s after SIGTERM; killed")
    kill -KILL "$p" 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
  local keep=() q
  for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  PIDS=("${keep[@]}")
}
# queue_depth PORT: vigild's write queue depth from /readyz ("" if unreadable)
queue_depth() {
  curl -s -m 5 "http://127.0.0.1:$1/readyz" | sed -n 's/.*"queue_depth":\([0-9]*\).*/\1/p'
}
# wait_drained PORT SECONDS: poll /readyz until queue_depth is 0.
wait_drained() {
  local d
  for _ in $(seq $(($2 * 4))); do
    d=$(queue_depth "$1")
    [ "$d" = 0 ] && return 0
    sleep 0.25
  done
  return 1
}
post_check() { # URL -> "CODE BODY"
  curl -s -m 5 -o "$TMP/post.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data '{"worker_id":"bench-probe","group":"probe","instance":"00000000","seq":1,"ttl_s":15}' "$1"
  printf ' %s' "$(head -c 200 "$TMP/post.out")"
}
groups_sum() { # PORT TOKEN FIELD -> sum of workers.FIELD over /v1/groups
  curl -s -m 30 -H "Authorization: Bearer $2" "http://127.0.0.1:$1/v1/groups" |
    "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(sum(g["workers"][sys.argv[1]] for g in d["groups"]), len(d["groups"]))' "$3"
}

FLAGS=()   # things that make a figure doubtful: printed, never hidden
INVALID=0  # a check failed

# run_wrk NAME SECONDS PORT: run wrk against the server SPID; sets R_* figures.
run_wrk() {
  local name=$1 secs=$2 port=$3 out=$TMP/wrk-$1.txt t0 t1 s0 s1 c0 c1 a0 a1 w0 w1 line
  local wcmd=(wrk -t1 -c"$CONNS" -d"${secs}s" --latency -s "$BENCH/hb.lua" "http://127.0.0.1:$port/v1/heartbeat")
  WRK_CMD="taskset -c $CCPU ${wcmd[*]}"
  # vigild only: the writer thread's share (SQLite), to tell the HTTP path from persistence
  local wtid x0=0 x1=0
  wtid=$(find_thread "$SPID" vigil-writer || true)
  [ -n "$wtid" ] && x0=$(ticks "$SPID/task/$wtid")
  s0=$(ticks "$SPID"); c0=$(core_busy "$SCPU"); a0=$(core_all "$SCPU")
  w0=$(core_busy "$CCPU"); t0=$(now)
  local TIMEFORMAT='%R %U %S'
  { time HB_WORKERS=$ID_SPACE taskset -c "$CCPU" timeout -k 5 $((secs + 60)) "${wcmd[@]}" \
      >"$out" 2>&1; } 2>"$TMP/time-$name.txt" || FLAGS+=("$name: wrk exited with an error")
  t1=$(now); s1=$(ticks "$SPID"); c1=$(core_busy "$SCPU"); a1=$(core_all "$SCPU")
  [ -n "$wtid" ] && x1=$(ticks "$SPID/task/$wtid")
  w1=$(core_busy "$CCPU")
  line=$(grep '^BENCH ' "$out" || true)
  [ -n "$line" ] || { FLAGS+=("$name: wrk printed no result"); line="BENCH rps=0"; }
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" ${line#BENCH}"; }
  R_RPS=$(get rps); R_P50=$(get p50_us); R_P99=$(get p99_us); R_REQ=$(get requests)
  R_ERR=$(get status_errors); R_SOCK=$(( $(get connect_errors) + $(get read_errors) + $(get write_errors) + $(get timeouts) ))
  R_BODY=$(get body_bytes)
  local wall; wall=$(calc "$t1 - $t0" 3)
  R_SCPU=$(calc "($s1 - $s0) / $HZ / $wall * 100" 0)
  R_US=$(calc "($s1 - $s0) / $HZ * 1e6 / ($R_REQ + 0.0001)" 1)
  R_WUS=$(calc "($x1 - $x0) / $HZ * 1e6 / ($R_REQ + 0.0001)" 1)
  R_CORE=$(calc "($c1 - $c0) / ($a1 - $a0 + 0.0001) * 100" 0)
  read -r _ wu ws <"$TMP/time-$name.txt"
  R_WCPU=$(calc "($wu + $ws) / $wall * 100" 0)
  R_CCORE=$(calc "($w1 - $w0) / $HZ / $wall * 100" 0)
  RAW+="### $name"$'\n\n```\n$ '"$WRK_CMD"$'\n'"$(cat "$out")"$'\n```\n\n'
}

RAW=""
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
KERNEL=$(uname -srm)
V_VIGILD=$("$VIGILD" --version 2>&1 | head -1)
V_NGINX=$("$NGINX" -v 2>&1 | head -1)
V_WRK=$( (wrk -v 2>&1 || true) | head -1 | sed "s/ Copyright.*//")
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
# How busy the machine is before we start (all cores, 2 s): others' load skews both servers.
machine_busy() {
  local b0 a0 b1 a1
  b0=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
  a0=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
  sleep "$1"
  b1=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
  a1=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
  calc "($b1 - $b0) / ($a1 - $a0 + 0.0001) * 100" 0
}
# Wait (bounded) for a quiet moment: up to BENCH_WAIT_QUIET seconds for < 10% busy.
BUSY0=$(machine_busy 2)
for _ in $(seq $((QUIET_WAIT / 2))); do
  [ "$BUSY0" -le 10 ] && break
  log "machine ${BUSY0}% busy; waiting for it to go quiet (at most ${QUIET_WAIT}s in all)"
  BUSY0=$(machine_busy 2)
done
if [ "$BUSY0" -gt 10 ]; then
  TOP=$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 10 { printf "%s%s", s, $2; s = ", " }')
  FLAGS+=("the machine was ${BUSY0}% busy (all cores, 2 s) before the run started${TOP:+ (busiest: $TOP)}")
fi
log "machine: $NCPU cores, $MODEL, $KERNEL; load $LOAD0"

# ---------------------------------------------------------------- 1. ingest rate
VPORT=$(free_port)
NPORT=$(free_port)
[ "$VPORT" != "$NPORT" ] || NPORT=$(free_port)

vigild_run() { # NAME SECONDS
  local data=$TMP/data-$1
  start_vigild "$data" "$VPORT"
  local probe; probe=$(post_check "http://127.0.0.1:$VPORT/v1/heartbeat")
  [ "${probe%% *}" = 200 ] || { FLAGS+=("$1: vigild answered the probe POST with: $probe"); INVALID=1; }
  run_wrk "$1" "$2" "$VPORT"
  V_QD=$(queue_depth "$VPORT")
  V_TRACKED=$(groups_sum "$VPORT" "$(cat "$data/admin.token")" alive | cut -d' ' -f1 || echo "?")
  local t0; t0=$(now)
  stop_server "$SPID" 60
  V_STOP=$(calc "$(now) - $t0" 1)
  rm -rf "$data"
}
nginx_run() { # NAME SECONDS
  start_nginx "$NPORT"
  local probe; probe=$(post_check "http://127.0.0.1:$NPORT/v1/heartbeat")
  [ "${probe%% *}" = 204 ] || { FLAGS+=("$1: nginx answered the probe POST with: $probe"); INVALID=1; }
  run_wrk "$1" "$2" "$NPORT"
  stop_server "$SPID" 10
}

log "warm-up: ${WARMUP}s vigild, ${WARMUP}s nginx (discarded)"
vigild_run warmup-vigild "$WARMUP"
nginx_run warmup-nginx "$WARMUP"
RAW=""

ROWS=""
VWUS=() VUS=() NUS=() VR=() NR=() VP50=() VP99=() NP50=() NP99=() VSC=() NSC=() VWC=() NWC=()
for r in $(seq "$ROUNDS"); do
  log "round $r/$ROUNDS: vigild ${DURATION}s"
  vigild_run "vigild-round$r" "$DURATION"
  v=("$R_RPS" "$R_P50" "$R_P99" "$R_ERR" "$R_SOCK" "$R_SCPU" "$R_WCPU" "$R_REQ" "$R_CORE" "$R_CCORE" "$R_US")
  VWUS+=("$R_WUS")
  BODY=$R_BODY
  if [ "$R_ERR" != 0 ] || [ "$R_SOCK" != 0 ]; then
    FLAGS+=("round $r: vigild had $R_ERR non-2xx answers and $R_SOCK socket errors out of $R_REQ requests")
    INVALID=1
  fi
  [ "$V_TRACKED" = "$ID_SPACE" ] || [ "$V_TRACKED" = $((ID_SPACE + 1)) ] ||
    FLAGS+=("round $r: vigild tracked $V_TRACKED alive workers after the run (expected $ID_SPACE + the probe)")
  VSTOPS+="${VSTOPS:+, }${V_STOP}s (queue ${V_QD:-?})"
  log "round $r: vigild $R_RPS req/s; nginx ${DURATION}s"
  nginx_run "nginx-round$r" "$DURATION"
  n=("$R_RPS" "$R_P50" "$R_P99" "$R_ERR" "$R_SOCK" "$R_SCPU" "$R_WCPU" "$R_REQ" "$R_CORE" "$R_CCORE" "$R_US")
  if [ "$R_ERR" != 0 ] || [ "$R_SOCK" != 0 ]; then
    FLAGS+=("round $r: nginx had $R_ERR non-2xx answers and $R_SOCK socket errors out of $R_REQ requests")
  fi
  log "round $r: nginx $R_RPS req/s"
  [ "${v[6]%.*}" -lt 90 ] || CLIENT_BOUND+="${CLIENT_BOUND:+, }vigild round $r"
  [ "${n[6]%.*}" -lt 90 ] || CLIENT_BOUND+="${CLIENT_BOUND:+, }nginx round $r"
  VR+=("${v[0]}") NR+=("${n[0]}") VP50+=("${v[1]}") VP99+=("${v[2]}") NP50+=("${n[1]}")
  NP99+=("${n[2]}") VSC+=("${v[5]}") NSC+=("${n[5]}") VWC+=("${v[6]}") NWC+=("${n[6]}") VUS+=("${v[10]}") NUS+=("${n[10]}")
  ROWS+=$(printf '| %d | %.0f | %d | %d | %s / %s | %s%% (core %s%%) | %s | %s%% (core %s%%) | %.0f | %d | %d | %s / %s | %s%% (core %s%%) | %s | %s%% (core %s%%) | %.3f |' \
    "$r" "${v[0]}" "${v[1]}" "${v[2]}" "${v[3]}" "${v[4]}" "${v[5]}" "${v[8]}" "${v[10]}" "${v[6]}" "${v[9]}" \
    "${n[0]}" "${n[1]}" "${n[2]}" "${n[3]}" "${n[4]}" "${n[5]}" "${n[8]}" "${n[10]}" "${n[6]}" "${n[9]}" \
    "$(calc "${v[0]} / (${n[0]} + 0.0001)" 3)")$'\n'
done
MV=$(echo "${VR[*]}" | median); MN=$(echo "${NR[*]}" | median)
RATIO=$(calc "$MV / ($MN + 0.0001)" 3)
MUS_V=$(echo "${VUS[*]}" | median); MUS_N=$(echo "${NUS[*]}" | median)
MUS_W=$(echo "${VWUS[*]}" | median); MUS_H=$(calc "$MUS_V - $MUS_W" 1)
COST_RATIO=$(calc "$MUS_V / ($MUS_N + 0.0001)" 2)
SAT_NOTE=""
if [ "$(echo "${VSC[*]}" | median | cut -d. -f1)" -lt 90 ] && [ "$(echo "${NSC[*]}" | median | cut -d. -f1)" -lt 90 ]; then
  SAT_NOTE="By the medians neither server saturated core $SCPU (median CPU vigild $(echo "${VSC[*]}" | median)%, nginx $(echo "${NSC[*]}" | median)% of a core), so req/s here is bounded by the client side and loopback round trips as much as by the server; the CPU cost per request is the server-side comparison."
fi
RATIO_OK=$(awk -v r="$RATIO" -v t="$TARGET_RATIO" 'BEGIN { print (r >= t) ? "met" : "MISSED" }')
SPREAD_V=$(echo "${VR[*]}" | tr ' ' '\n' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f", (hi - lo) / (lo + 0.0001) * 100 }')
SPREAD_N=$(echo "${NR[*]}" | tr ' ' '\n' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f", (hi - lo) / (lo + 0.0001) * 100 }')
[ "$SPREAD_V" -le 15 ] || FLAGS+=("vigild's rounds spread ${SPREAD_V}% (max-min over min): noisy machine?")
[ "$SPREAD_N" -le 15 ] || FLAGS+=("nginx's rounds spread ${SPREAD_N}% (max-min over min): noisy machine?")

# ---------------------------------------------------------------- 2 + 3. 1M workers
log "memory: fresh vigild, then $WORKERS workers in NDJSON batches of $BATCH"
MDATA=$TMP/data-mem
MPORT=$(free_port)
start_vigild "$MDATA" "$MPORT" VIGIL_DEFAULT_TTL_S=3600
MPID=$SPID
TOKEN=$(cat "$MDATA/admin.token")
sleep 1
SWEEP_TID=$(find_thread "$MPID" vigil-sweep) || die "no thread named vigil-sweep in vigild"
WRITER_TID=$(find_thread "$MPID" vigil-writer) || WRITER_TID=""
RSS0=$(vmrss_kb "$MPID" VmRSS)
ANON0=$(vmrss_kb "$MPID" RssAnon)

# sweeper CPU with nothing tracked (baseline)
idle_window() { # SECONDS -> sets I_SWEEP I_SWEEP_NS I_PROC
  local t0 t1 s0 s1 n0 n1 p0 p1
  t0=$(now); s0=$(ticks "$MPID/task/$SWEEP_TID"); n0=$(sched_ns "$MPID/task/$SWEEP_TID")
  p0=$(ticks "$MPID")
  sleep "$1"
  t1=$(now); s1=$(ticks "$MPID/task/$SWEEP_TID"); n1=$(sched_ns "$MPID/task/$SWEEP_TID")
  p1=$(ticks "$MPID")
  local wall; wall=$(calc "$t1 - $t0" 3)
  I_SWEEP=$(calc "($s1 - $s0) / $HZ / $wall * 100" 2)
  I_SWEEP_NS=$(calc "($n1 - $n0) / 1e9 / $wall * 100" 3)
  I_PROC=$(calc "($p1 - $p0) / $HZ / $wall * 100" 2)
  I_WALL=$wall
}
log "sweeper baseline: ${IDLE_EMPTY}s idle with 0 workers"
idle_window "$IDLE_EMPTY"
E_SWEEP=$I_SWEEP E_SWEEP_NS=$I_SWEEP_NS E_PROC=$I_PROC E_WALL=$I_WALL

WT0=0; [ -n "$WRITER_TID" ] && WT0=$(ticks "$MPID/task/$WRITER_TID")
P0=$(ticks "$MPID"); T0=$(now)
REG_CMD="taskset -c $CCPU $PY bench/register.py --port PORT --workers $WORKERS --batch $BATCH"
REG_JSON=$(taskset -c "$CCPU" timeout -k 5 600 "$PY" "$BENCH/register.py" --port "$MPORT" \
  --workers "$WORKERS" --batch "$BATCH" --deadline 540) || {
  FLAGS+=("registration failed: ${REG_JSON:-register.py printed nothing}"); INVALID=1; }
T1=$(now)
REG_JSON=${REG_JSON:-'{}'}
jget() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], "?"))' "$REG_JSON" "$1" 2>/dev/null || echo "?"; }
REG_ACC=$(jget accepted); REG_REJ=$(jget rejected); REG_S=$(jget elapsed_s); REG_RATE=$(jget lines_per_s)
REG_MB=$(calc "$(jget bytes) / 1e6" 1)
log "registered: accepted $REG_ACC rejected $REG_REJ in ${REG_S}s; waiting for the write queue"
wait_drained "$MPORT" 240 || { FLAGS+=("write queue not drained after 240 s (depth $(queue_depth "$MPORT"))"); INVALID=1; }
T2=$(now)
WT1=0; [ -n "$WRITER_TID" ] && WT1=$(ticks "$MPID/task/$WRITER_TID")
P1=$(ticks "$MPID")
DRAIN_S=$(calc "$T2 - $T1" 1)
PHASE_S=$(calc "$T2 - $T0" 1)
WRITER_CPU_S=$(calc "($WT1 - $WT0) / $HZ" 1)
WRITER_PCT=$(calc "($WT1 - $WT0) / $HZ / $PHASE_S * 100" 0)
PROC_CPU_S=$(calc "($P1 - $P0) / $HZ" 1)
sleep 1
RSS1=$(vmrss_kb "$MPID" VmRSS); ANON1=$(vmrss_kb "$MPID" RssAnon); HWM=$(vmrss_kb "$MPID" VmHWM)
PER_WORKER=$(calc "($RSS1 - $RSS0) * 1024 / $WORKERS" 1)
PER_ANON=$(calc "($ANON1 - $ANON0) * 1024 / $WORKERS" 1)
MEM_OK=$(awk -v b="$PER_WORKER" -v t="$TARGET_BYTES" 'BEGIN { print (b <= t) ? "met" : "MISSED" }')
read -r ALIVE NGROUPS <<<"$(groups_sum "$MPORT" "$TOKEN" alive || echo "? ?")"
[ "$ALIVE" = "$WORKERS" ] || { FLAGS+=("/v1/groups: alive counts sum to $ALIVE, expected $WORKERS"); INVALID=1; }

log "sweeper: ${IDLE}s idle with $ALIVE workers"
idle_window "$IDLE"
read -r ALIVE2 _ <<<"$(groups_sum "$MPORT" "$TOKEN" alive || echo "? ?")"
[ "$ALIVE2" = "$WORKERS" ] || FLAGS+=("after the idle window /v1/groups says $ALIVE2 alive (expected $WORKERS)")
RSS2=$(vmrss_kb "$MPID" VmRSS)
stop_server "$MPID" 60
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- summary
{
  echo "# vigild ingest benchmark — $STAMP"
  echo
  echo "- machine: $NCPU × $MODEL, $KERNEL; load average $LOAD0 at start, $LOAD1 at end; ${BUSY0}% busy just before the run"
  echo "- versions: $V_VIGILD (commit $GIT_REV$([ "$GIT_DIRTY" = 0 ] || echo ", $GIT_DIRTY source files modified"), binary sha256 $BIN_SHA…); $V_NGINX; $V_WRK"
  echo "- command: \`$CMDLINE\`"
  echo "- server under test pinned to core $SCPU (\`taskset -c $SCPU\`), client to core $CCPU; vigild with VIGIL_HTTP_THREADS=1"
  echo "- wrk: \`taskset -c $CCPU wrk -t1 -c$CONNS -d${DURATION}s --latency -s bench/hb.lua http://127.0.0.1:PORT/v1/heartbeat\`, ${WARMUP}s warm-up per server first; body $BODY bytes, worker_id over $ID_SPACE ids"
  echo
  echo "## Heartbeat ingest (POST /v1/heartbeat, keep-alive)"
  echo
  echo "| round | vigild req/s | p50 µs | p99 µs | non-2xx / sock err | vigild CPU | CPU µs/req | wrk CPU | nginx req/s | p50 µs | p99 µs | non-2xx / sock err | nginx CPU | CPU µs/req | wrk CPU | vigild/nginx |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s' "$ROWS"
  printf '| **median** | **%.0f** | %s | %s | | %s%% | %s | %s%% | **%.0f** | %s | %s | | %s%% | %s | %s%% | **%s** |\n' \
    "$MV" "$(echo "${VP50[*]}" | median)" "$(echo "${VP99[*]}" | median)" \
    "$(echo "${VSC[*]}" | median)" "$MUS_V" "$(echo "${VWC[*]}" | median)" "$MN" \
    "$(echo "${NP50[*]}" | median)" "$(echo "${NP99[*]}" | median)" \
    "$(echo "${NSC[*]}" | median)" "$MUS_N" "$(echo "${NWC[*]}" | median)" "$RATIO"
  echo
  echo "**ratio = median(vigild) / median(nginx) = $RATIO** — target ≥ $TARGET_RATIO: **$RATIO_OK**."
  echo
  echo "- Server CPU per request (utime+stime / requests, medians): vigild $MUS_V µs, nginx $MUS_N µs: vigild costs ${COST_RATIO}× nginx per request."
  echo "- Of vigild's $MUS_V µs, its writer thread (SQLite: raw sample rows, sessions, events) took $MUS_W µs and everything else (HTTP, parse, registry, queue) $MUS_H µs: the HTTP path alone costs $(calc "$MUS_H / $MUS_N" 2)× nginx. Both share core $SCPU here because the whole process is pinned."
  [ -z "$SAT_NOTE" ] || echo "- $SAT_NOTE"
  [ -z "${CLIENT_BOUND:-}" ] || echo "- wrk used ≥ 90% of core $CCPU (client-bound, the server could have done more) in: $CLIENT_BOUND."
  echo "- Spread of rounds (max-min)/min: vigild ${SPREAD_V}%, nginx ${SPREAD_N}%. vigild stop (writer drains its queue) took $VSTOPS."
  echo "- CPU columns: the server's utime+stime over the run as % of one core (\"core\": how busy core $SCPU was, all processes and interrupts); wrk's own CPU (\"core\": core $CCPU busy). A server near 100% is saturated; wrk near 100% means the client is the limit."
  echo
  echo "## $WORKERS workers: memory"
  echo
  echo "| figure | value |"
  echo "|---|---|"
  echo "| VmRSS after start (empty) | $RSS0 kB |"
  echo "| VmRSS after $WORKERS workers, queue drained | $RSS1 kB |"
  echo "| **RSS per tracked worker** (after - before) / $WORKERS | **$PER_WORKER B** — target ≤ $TARGET_BYTES B: **$MEM_OK** |"
  echo "| RssAnon per worker (same window) | $PER_ANON B |"
  echo "| VmHWM (peak RSS) | $HWM kB |"
  echo "| VmRSS after the ${IDLE}s idle window | $RSS2 kB |"
  echo "| registration (register.py, $BATCH lines/request, one connection) | accepted $REG_ACC, rejected $REG_REJ, ${REG_MB} MB in ${REG_S}s = $REG_RATE lines/s |"
  echo "| write queue drained after the last batch | ${DRAIN_S}s |"
  echo "| /v1/groups alive sum ($NGROUPS groups) | $ALIVE after registration, $ALIVE2 after the idle window |"
  echo "| vigil-writer CPU, registration + drain (${PHASE_S}s) | ${WRITER_CPU_S}s = ${WRITER_PCT}% of a core (whole vigild: ${PROC_CPU_S}s) |"
  echo
  echo "## Sweeper (vigil-sweep thread, idle)"
  echo
  echo "| tracked workers | window | vigil-sweep CPU (utime+stime) | (schedstat) | whole vigild |"
  echo "|---|---|---|---|---|"
  echo "| 0 | ${E_WALL}s | ${E_SWEEP}% of a core | ${E_SWEEP_NS}% | ${E_PROC}% |"
  echo "| $ALIVE | ${I_WALL}s | **${I_SWEEP}% of a core** | ${I_SWEEP_NS}% | ${I_PROC}% |"
  echo
  echo "Registration: \`$REG_CMD\` against a vigild started with VIGIL_DEFAULT_TTL_S=3600."
  echo
  echo "## Flags"
  echo
  if [ ${#FLAGS[@]} -eq 0 ]; then echo "none: no non-2xx answers, no socket errors, all checks passed."
  else for f in "${FLAGS[@]}"; do echo "- $f"; done; fi
  echo
  echo "<details><summary>raw wrk output</summary>"
  echo
  printf '%s' "$RAW"
  echo "</details>"
} >"$TMP/summary.md"
mkdir -p "$BENCH/results"
cp "$TMP/summary.md" "$BENCH/results/ingest-$STAMP.md"
cat "$TMP/summary.md"
log "summary written to bench/results/ingest-$STAMP.md"
[ "$INVALID" = 0 ] || { log "the run is INVALID: see Flags"; exit 1; }
exit 0
