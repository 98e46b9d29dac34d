#!/usr/bin/env bash
# bench/compare.sh: vigild next to the other ways of keeping liveness, on one
# machine, in one run (`make bench`). Every server under test runs pinned to
# core 0 (taskset), every load generator on core 1, all on loopback, all fed
# the same heartbeat (bench/hb.lua's JSON body; its numbers as metrics for
# the Pushgateway; no payload at all for an etcd lease renewal).
#
# Rate cases, ROUNDS interleaved rounds, each round running every case once
# in turn (so drift on a shared machine hits all cases alike), each server
# started fresh for its run and stopped after it (PostgreSQL: one cluster,
# fresh tables per run):
#   nginx          nginx `return 204`, hb_rate.c closed loop (hb.lua's bodies): the
#                  ceiling for a request
#   vigild-http    POST /v1/heartbeat, the same client, VIGIL_HTTP_THREADS=1 (the
#                  io_uring front door, src/server/ring.c)
#   vigild-http-mhd  the same with http_ring = false: libmicrohttpd alone
#   vigild-ndjson  POST /v1/heartbeats, NDJSON_LINES heartbeats a body (ndjson.lua)
#   pushgateway    Prometheus Pushgateway, one PUT per heartbeat (push.lua)
#   redis          SET worker:hb:<id> <json> EX 15, redis-benchmark, unpipelined
#   redis-p16      the same with -P 16
#   etcd           lease keep-alive through etcd's JSON gateway (etcd.lua)
#   pg-insert500   PostgreSQL, INSERT of every heartbeat, 500 rows a statement
#   pg-vigil       vigil's PostgreSQL writer on the same load (store_bench)
#   udp-bare       a bare recvmmsg loop (udp_drain.c) fed by udp_send.c: the
#                  same heartbeat as a line (hb.lua's fields, ~230 bytes), 6 a
#                  datagram, as many as fit a 1,500-byte MTU (a relay's)
#   udp-vigild     vigild's UDP door fed by the same sender
#   udp-bare-1, udp-vigild-1  the same with one line a datagram (a worker
#                  sending its own heartbeats)
#   udp-bare-20, udp-vigild-20  20 short lines a datagram (seq, cpu, mem,
#                  in_flight; ~55 bytes): the most lines the kernel hands
#                  over per datagram, vigild's per-line cost laid bare
# Then, once: p50/p99 of vigild HTTP at 50 % of its measured peak (hb_rate.c,
# open loop); RSS per tracked worker at FLEET sizes (NDJSON, register.py)
# next to Redis used_memory per key for the same workers (fleet.py redis);
# detection lag at the largest fleet (fleet.py lag over /v1/stream) and the
# sweeper thread's CPU; vigild's CPU per heartbeat with 200 /v1/stream
# subscribers vs none (stream_load.py); callgrind instructions per heartbeat
# (callgrind.sh).
#
# Output: OUT/<UTC stamp>.md (OUT = bench/results) with every figure next to
# its target and met/MISSED, plus OUT/<stamp>-throughput.png and
# -memory.png (gnuplot). --smoke: one short round of everything at small
# sizes (~30-60 s) into a temp dir, to keep the script from rotting (ctest
# bench.smoke); figures from it mean nothing.
#
# Knobs: BENCH_ROUNDS=3 BENCH_DURATION=8 BENCH_CONNS=32 BENCH_ID_SPACE=10000
#   BENCH_FLEET="100000 1000000" BENCH_NDJSON_LINES=1000 BENCH_PG_ROWS=100000
#   BENCH_LEASES=1000 BENCH_IDLE=20 BENCH_LAG_PROBES=200 BENCH_OUT=dir
#   VIGILD=path STORE_BENCH=path (default: make build, build/...)
# Exit: 0 valid run (a missed target is reported, not an error); 1 a case
# produced no figure or a check failed; 2 setup failed.
set -euo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=$ROOT/bench
SMOKE=0
[ "${1:-}" = --smoke ] && SMOKE=1
if [ $SMOKE = 1 ]; then d_rounds=1 d_dur=1 d_ids=1000 d_fleet="2000 10000" d_rows=4000 d_leases=20 d_idle=1 d_probes=10
else d_rounds=3 d_dur=8 d_ids=10000 d_fleet="100000 1000000" d_rows=100000 d_leases=1000 d_idle=20 d_probes=200; fi
ROUNDS=${BENCH_ROUNDS:-$d_rounds}
DUR=${BENCH_DURATION:-$d_dur}
CONNS=${BENCH_CONNS:-32}
IDS=${BENCH_ID_SPACE:-$d_ids}
FLEET=${BENCH_FLEET:-$d_fleet}
LINES=${BENCH_NDJSON_LINES:-1000}
PGROWS=${BENCH_PG_ROWS:-$d_rows}
LEASES=${BENCH_LEASES:-$d_leases}
IDLE=${BENCH_IDLE:-$d_idle}
PROBES=${BENCH_LAG_PROBES:-$d_probes}
SCPU=0 CCPU=1
CMDLINE="bench/compare.sh${*:+ $*}"
for v in BENCH_ROUNDS BENCH_DURATION BENCH_CONNS BENCH_ID_SPACE BENCH_FLEET BENCH_NDJSON_LINES \
         BENCH_PG_ROWS BENCH_LEASES BENCH_IDLE BENCH_LAG_PROBES; do
  [ -n "${!v:-}" ] && CMDLINE="$v=\"${!v}\" $CMDLINE"
done
for n in $ROUNDS $DUR $CONNS $IDS $FLEET $LINES $PGROWS $LEASES $IDLE $PROBES; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "compare.sh: BENCH_* values are integers (got '$n')" >&2; exit 2; }
done
CASES=(nginx vigild-http vigild-http-mhd vigild-ndjson pushgateway redis redis-p16 etcd pg-insert500 pg-vigil udp-bare udp-vigild
       udp-bare-1 udp-vigild-1 udp-bare-20 udp-vigild-20)
T_START=$(date +%s)
log() { printf '[compare.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ---------------------------------------------------------------- setup
"$ROOT/scripts/deps.sh" bench >&2 || die "scripts/deps.sh bench failed"
if [ -z "${VIGILD:-}" ] || [ -z "${STORE_BENCH:-}" ]; then
  make -C "$ROOT" build >/dev/null 2>&1 || die "make build failed"
  VIGILD=${VIGILD:-$ROOT/build/vigild} STORE_BENCH=${STORE_BENCH:-$ROOT/build/store_bench}
fi
for t in wrk taskset curl python3 cc nginx redis-server redis-benchmark prometheus-pushgateway \
         etcd gnuplot valgrind "$VIGILD" "$STORE_BENCH"; do
  command -v "$t" >/dev/null || [ -x "$t" ] || die "$t missing (scripts/deps.sh bench)"
done
[ "$(nproc)" -ge 2 ] || die "needs 2 cores"
# The interpreter itself, not a version manager's shim in front of it (pyenv's
# took 0.3 s a call, and the run calls Python ~60 times for ports and JSON).
PY=$(python3 -c 'import sys; print(sys.executable)')
TMP=$(mktemp -d -t vigil-compare.XXXXXXXX)
chmod 755 "$TMP" # PostgreSQL runs as postgres when we are root
OUT=${BENCH_OUT:-$([ $SMOKE = 1 ] && echo "$TMP/out" || echo "$B/results")}
mkdir -p "$OUT"
cp "$VIGILD" "$TMP/vigild" && VIGILD=$TMP/vigild # the tree may be rebuilt mid-run
cp "$STORE_BENCH" "$TMP/store_bench"
for c in udp_send udp_drain hb_rate; do
  cc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$TMP/$c" "$B/$c.c" || die "$c.c does not build"
done
# Cases run in command substitutions (subshells), so what they leave for the
# report (flags, raw output, pids to clean up) goes through files in TMP.
PGDIR=$TMP/pg
: >"$TMP/pids"; : >"$TMP/flags"; : >"$TMP/raw.md"
cleanup() {
  local p
  for p in $(cat "$TMP/pids"); do kill -TERM "$p" 2>/dev/null || true; done
  for p in $(cat "$TMP/pids"); do
    for _ in $(seq 50); do [ -d "/proc/$p" ] || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  [ -d "$PGDIR" ] && "$ROOT/scripts/pg.sh" stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PY" -c 'import socket,sys
while True:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "u" else socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    if p not in (55432, 55433, 55444): print(p); break' "${1:-t}"; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
median() { tr ' ' '\n' | grep -v '^$' | grep -v nan | sort -g | awk '{ v[NR] = $1 } END {
  if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { tr ' ' '\n' | grep -v '^$' | grep -v nan | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f %.0f", a, b }'; }
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)
wait_http() { # URL CODE: up to 20 s
  for _ in $(seq 200); do
    [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1" 2>/dev/null || true)" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
# bg CMD...: start a server pinned to core 0; SPID gets its pid.
bg() { taskset -c "$SCPU" "$@" >>"$TMP/servers.log" 2>&1 & SPID=$!; echo "$SPID" >>"$TMP/pids"; }
stop() { # PID: SIGTERM, bounded wait, SIGKILL
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 600); do [ -d "/proc/$1" ] && ! grep -q '^State:.Z' "/proc/$1/status" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
# kill9 PID: the end of a vigild rate run. Its data is thrown away, and a
# SIGTERM would make the writer drain its queue first (seconds, no figure).
kill9() { kill -KILL "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; rm -rf "$DATA"; }
start_vigild() { # PORT [VAR=VALUE...]: SPID, DATA
  local port=$1; shift
  DATA=$TMP/v$RANDOM$RANDOM
  mkdir -p "$DATA"
  bg env VIGIL_HTTP_THREADS=1 "$@" "$VIGILD" --listen "127.0.0.1:$port" --data "$DATA" \
    ${VCONF:+--config "$VCONF"}
  wait_http "http://127.0.0.1:$port/readyz" 200 || die "vigild did not start: $(tail -5 "$TMP/servers.log")"
}
drained() { # PORT SECONDS: wait for vigild's write queue to empty
  for _ in $(seq $(($2 * 4))); do
    [ "$(curl -s -m 5 "http://127.0.0.1:$1/readyz" | sed -n 's/.*"queue_depth":\([0-9]*\).*/\1/p')" = 0 ] && return 0
    sleep 0.25
  done
  return 1
}
flag() { echo "$*" >>"$TMP/flags"; log "flag: $*"; }
# raw_kept PORT: the share of this run's accepted heartbeats whose raw sample
# was not dropped (the writer shares the pinned core; the design lets raw
# samples go under overload), appended to TMP/raw_<case> as a percentage.
raw_kept() { # PORT [TOKEN]
  local tok=${2:-$(cat "$DATA/admin.token" 2>/dev/null)}
  curl -s -m 10 -H "Authorization: Bearer $tok" "http://127.0.0.1:$1/metrics" | awk '
    /^vigil_heartbeats_accepted_total / { a = $2 } /^vigil_raw_samples_dropped_total / { d = $2 }
    END { if (a > 0) printf "%.1f\n", 100 * (a - d) / a }' >>"$TMP/raw_$CASE"
}
invalid() { touch "$TMP/invalid"; }
# busy_mark [PID] before a case's timed load, busy_note [PID] after it: how
# busy the server's core and the load generator's were meanwhile (/proc/stat;
# idle and iowait count as idle) and, given the server's PID, its own CPU
# (user, kernel: /proc/PID/stat, all threads), appended to TMP/busy_<case>
# as "round server% load% wall_s user_s kernel_s". A generator near 100 %
# means the figure is its ceiling, not the server's; cpu_per turns the
# server's CPU into microseconds per heartbeat, the cost a rate cannot show
# when the generator is what limits it.
core_ticks() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }
proc_ticks() { if [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ]; then sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12, $13 }'; else echo "nan nan"; fi; }
busy_read() { echo "$(core_ticks "$SCPU") $(core_ticks "$CCPU") $(date +%s.%N) $(proc_ticks "${1:-}")"; }
busy_mark() { busy_read "${1:-}" >"$TMP/busy0"; }
busy_note() {
  awk -v r="$R" -v hz="$HZ" -v a="$(cat "$TMP/busy0")" -v b="$(busy_read "${1:-}")" 'BEGIN {
    split(a, x); split(b, y); sb = y[1] - x[1]; si = y[2] - x[2]; cb = y[3] - x[3]; ci = y[4] - x[4]
    u = x[6] == "nan" || y[6] == "nan" ? "nan" : (y[6] - x[6]) / hz
    k = x[7] == "nan" || y[7] == "nan" ? "nan" : (y[7] - x[7]) / hz
    printf "%s %.0f %.0f %.3f %s %s\n", r, sb + si ? 100 * sb / (sb + si) : 0, cb + ci ? 100 * cb / (cb + ci) : 0,
      y[5] - x[5], u, k }' >>"$TMP/busy_$CASE"
}
# cpu_per RATE: this round's server CPU per heartbeat, "user kernel" in µs, to TMP/cpu_<case>
cpu_per() {
  [ -s "$TMP/busy_$CASE" ] || return 0
  awk -v r="$R" -v x="$1" '$1 == r && $5 != "nan" && x > 0 {
    printf "%.2f %.2f\n", $5 / (x * $4) * 1e6, $6 / (x * $4) * 1e6 }' "$TMP/busy_$CASE" >>"$TMP/cpu_$CASE"
}
raw() { printf '### %s round %s\n\n```\n%s\n```\n\n' "$CASE" "$R" "$1" >>"$TMP/raw.md"; }
# wrk_rate SCRIPT URL [VAR=VALUE...]: req/s from the BENCH line; errors flagged.
wrk_rate() {
  local s=$1 url=$2 out=$TMP/wrk.out line; shift 2
  busy_mark "${SPID:-}"
  env HB_WORKERS="$IDS" "$@" taskset -c "$CCPU" timeout -k 5 $((DUR + 60)) \
    wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -s "$B/$s" "$url" >"$out" 2>&1 || true
  busy_note "${SPID:-}"
  line=$(grep '^BENCH ' "$out" || true)
  raw "$(cat "$out")"
  [ -n "$line" ] || { flag "$CASE round $R: wrk printed no result"; return 1; }
  local e; e=$(awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END { print v["status_errors"] + v["connect_errors"] + v["read_errors"] + v["write_errors"] + v["timeouts"] }' <<<"$line")
  # errors make a vigild figure invalid; a reference's are reported (its figure stands as measured)
  [ "$e" = 0 ] || { flag "$CASE round $R: $e non-2xx answers or socket errors"; [[ $CASE != vigild* ]] || invalid; }
  sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$line"
}
# hbr_rate PORT: heartbeats/s of hb_rate's closed loop (bench/hb_rate.c, RATE 0):
# the HTTP client for nginx and vigild alike. wrk + hb.lua was at 93-100 % of
# its core while nginx's had time left (its Lua builds each body), so its
# figures were its own ceiling; hb_rate is as lean as redis-benchmark is for
# Redis (one write and one read a request), and builds the same bodies.
hbr_rate() {
  local out=$TMP/hbr.out line e
  busy_mark "${SPID:-}"
  taskset -c "$CCPU" timeout -k 5 $((DUR + 60)) "$TMP/hb_rate" "$1" 0 "$DUR" "$CONNS" "$IDS" \
    >"$out" 2>&1 || true
  busy_note "${SPID:-}"
  raw "$(cat "$out")"
  line=$(grep '^RATE ' "$out" || true)
  [ -n "$line" ] || { flag "$CASE round $R: hb_rate printed no result: $(head -c 200 "$out")"; return 1; }
  e=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")
  [ "$e" = 0 ] || { flag "$CASE round $R: $e non-2xx answers"; [[ $CASE != vigild* ]] || invalid; }
  sed -n 's/.* achieved=\([0-9]*\).*/\1/p' <<<"$line"
}
# bench/hb.lua's body for worker 1 (its first lap), for the probes and redis-benchmark
HB_JSON='{"worker_id":"gpu-000001","group":"training","instance":"dd6215cf","seq":812,"ttl_s":15,"status":"ok","cpu":0.31,"mem":0.52,"mem_available_gb":41.5,"gpu_mem_active_gb":20.1,"thermal":"nominal","backlog":3,"capacity":8,"in_flight":2,"requests":10421,"tokens":993120,"cpu_ticks":58211}'

# ---------------------------------------------------------------- the cases
case_nginx() {
  local p; p=$(free_port)
  mkdir -p "$TMP/ngx"
  sed -e "s|@TMP@|$TMP/ngx|g" -e "s|@PORT@|$p|g" "$B/nginx.conf.in" >"$TMP/ngx/nginx.conf"
  bg nginx -p "$TMP/ngx" -e "$TMP/ngx/error.log" -c "$TMP/ngx/nginx.conf"
  local s=$SPID
  wait_http "http://127.0.0.1:$p/" 204 || die "nginx did not start"
  hbr_rate "$p"
  stop "$s"
}
vigild_http() { # [VAR=VALUE...] for vigild
  local p; p=$(free_port)
  start_vigild "$p" "$@"
  local s=$SPID
  hbr_rate "$p"
  raw_kept "$p"
  kill9 "$s"
}
case_vigild-http() { vigild_http VIGIL_HTTP_RING=true; }
case_vigild-http-mhd() { vigild_http VIGIL_HTTP_RING=false; }
case_vigild-ndjson() {
  local p; p=$(free_port)
  start_vigild "$p"
  local s=$SPID probe rps
  probe=$(printf '%s\n%s\n' "$HB_JSON" "${HB_JSON/gpu-000001/gpu-000002}" | curl -s -m 5 \
    -H 'Content-Type: application/x-ndjson' --data-binary @- "http://127.0.0.1:$p/v1/heartbeats")
  grep -q '"accepted":2' <<<"$probe" && grep -q '"rejected":0' <<<"$probe" ||
    { flag "vigild-ndjson: probe batch answered $probe"; invalid; }
  rps=$(wrk_rate ndjson.lua "http://127.0.0.1:$p/v1/heartbeats" NDJSON_LINES="$LINES") || { kill9 "$s"; return 1; }
  raw_kept "$p"
  kill9 "$s"
  calc "$rps * $LINES" 0
}
case_pushgateway() {
  local p; p=$(free_port)
  bg prometheus-pushgateway --web.listen-address="127.0.0.1:$p" --persistence.file=
  local s=$SPID
  wait_http "http://127.0.0.1:$p/-/ready" 200 || die "pushgateway did not start"
  wrk_rate push.lua "http://127.0.0.1:$p/"
  stop "$s"
}
redis_case() { # extra redis-benchmark args
  local p; p=$(free_port)
  bg redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no
  local s=$SPID n out
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  n=$((DUR * ${REDIS_EST:-40000}))
  busy_mark "$s"
  out=$(taskset -c "$CCPU" timeout -k 5 $((DUR * 10 + 60)) redis-benchmark -h 127.0.0.1 -p "$p" \
    -c "$CONNS" -n "$n" -r "$IDS" "$@" --csv SET 'worker:hb:__rand_int__' "$HB_JSON" EX 15 2>&1) || true
  busy_note "$s"
  raw "$out"
  stop "$s"
  tail -1 <<<"$out" | rev | cut -d, -f7 | rev | tr -d '"' | grep -E '^[0-9.]+$' ||
    { flag "$CASE round $R: redis-benchmark printed no rate"; return 1; }
}
case_redis() { REDIS_EST=20000 redis_case; }
case_redis-p16() { REDIS_EST=150000 redis_case -P 16; }
case_etcd() {
  local p q; p=$(free_port); q=$(free_port)
  bg etcd --data-dir "$TMP/etcd$R" --listen-client-urls "http://127.0.0.1:$p" \
    --advertise-client-urls "http://127.0.0.1:$p" --listen-peer-urls "http://127.0.0.1:$q" \
    --initial-advertise-peer-urls "http://127.0.0.1:$q" --initial-cluster "default=http://127.0.0.1:$q"
  local s=$SPID
  wait_http "http://127.0.0.1:$p/health" 200 || die "etcd did not start"
  taskset -c "$CCPU" "$PY" - "$p" "$LEASES" >"$TMP/leases" <<'PY' || { flag "etcd: lease grants failed"; stop "$s"; return 1; }
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
for _ in range(int(sys.argv[2])):
    c.request("POST", "/v3/lease/grant", json.dumps({"TTL": 15}))
    print(json.loads(c.getresponse().read())["ID"])
PY
  wrk_rate etcd.lua "http://127.0.0.1:$p/" ETCD_LEASES="$TMP/leases"
  stop "$s"
  rm -rf "$TMP/etcd$R"
}
pg_up() { # one durable cluster for all rounds, server on core 0 (before the rounds)
  local port bin; port=$(free_port)
  taskset -c "$SCPU" "$ROOT/scripts/pg.sh" start "$PGDIR" "$port" >/dev/null || die "pg.sh start failed"
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  # pg.sh turns fsync & co off for tests; a benchmark runs with the defaults (as store.sh)
  as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  taskset -c "$SCPU" bash -c "$(declare -f as_pg); as_pg '$bin/pg_ctl' -D '$PGDIR/data' -l '$PGDIR/server.log' \
    -w -t 60 -m fast restart -o '-p $port -c listen_addresses=127.0.0.1 -k $PGDIR -c max_connections=200 -c shared_buffers=128MB'" \
    >/dev/null || die "PostgreSQL restart failed"
  PGURL=$(cat "$PGDIR/url")
  PG_VER=$("$bin/psql" "$PGURL" -qAtc 'SHOW server_version')
}
pg_case() {
  local line
  busy_mark
  line=$(taskset -c "$CCPU" "$TMP/store_bench" "$@" --workers 10000 --batch 8192 \
    --warmup $((PGROWS / 5)) --rows "$PGROWS" 2>"$TMP/sb.err") ||
    { flag "$CASE round $R: store_bench failed: $(head -c 300 "$TMP/sb.err")"; return 1; }
  busy_note
  raw "$line"
  sed -n 's/.* rows_per_s=\([0-9]*\).*/\1/p' <<<"$line"
}
case_pg-insert500() { pg_case insert "$PGURL" --insert-rows 500; }
case_pg-vigil() { pg_case vigil "$PGURL"; }
UDP_PER=6    # full lines (~230 bytes) a datagram: 1,400 of a 1,500-byte MTU's 1,472 for UDP
UDP_SHORT=20 # short lines a datagram, the udp-*-20 pair
udp_secs() { awk -v d="$DUR" 'BEGIN { print (d > 3 ? d / 2 : d) }'; }
udp_bare() { # LINES_PER_DATAGRAM FORM
  local p lines dg secs got; p=$(free_port u)
  taskset -c "$SCPU" "$TMP/udp_drain" "$p" 500 >"$TMP/drain.out" & local s=$!; echo "$s" >>"$TMP/pids"
  for _ in $(seq 50); do grep -q ready "$TMP/drain.out" 2>/dev/null && break; sleep 0.05; done
  busy_mark "$s"
  read -r lines dg secs < <(taskset -c "$CCPU" "$TMP/udp_send" 127.0.0.1 "$p" "$(udp_secs)" "$1" "$IDS" "$2")
  busy_note "$s"
  wait "$s" || true
  got=$(tail -1 "$TMP/drain.out")
  echo "$(calc "$lines / $secs" 0)" >>"$TMP/udp_sent_$1"
  calc "$got * $1 / $secs" 0
}
udp_vigild() { # LINES_PER_DATAGRAM FORM
  local p u lines dg secs ok; p=$(free_port); u=$(free_port u)
  printf '[server]\nudp_listen = 127.0.0.1:%s\n' "$u" >"$TMP/udp.ini"
  VCONF=$TMP/udp.ini start_vigild "$p" VIGIL_ADMIN_TOKEN=bench-token
  local s=$SPID
  busy_mark "$s"
  read -r lines dg secs < <(taskset -c "$CCPU" "$TMP/udp_send" 127.0.0.1 "$u" "$(udp_secs)" "$1" "$IDS" "$2")
  busy_note "$s"
  sleep 0.5
  ok=$(curl -s -m 10 -H 'Authorization: Bearer bench-token' "http://127.0.0.1:$p/v1/admin/udp" |
    "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["lines_ok"] if not sum(d["lines_refused"].values()) else -1)')
  raw_kept "$p" bench-token
  kill9 "$s"
  [ "$ok" -ge 0 ] || { flag "$CASE round $R: lines refused"; invalid; return 1; }
  calc "$ok / $secs" 0
}
case_udp-bare() { udp_bare "$UDP_PER" full; }
case_udp-vigild() { udp_vigild "$UDP_PER" full; }
case_udp-bare-1() { udp_bare 1 full; }
case_udp-vigild-1() { udp_vigild 1 full; }
case_udp-bare-20() { udp_bare "$UDP_SHORT" short; }
case_udp-vigild-20() { udp_vigild "$UDP_SHORT" short; }

# ---------------------------------------------------------------- rounds
UPTIME0=$(uptime)
pg_up
declare -A V
for R in $(seq "$ROUNDS"); do
  for CASE in "${CASES[@]}"; do
    if x=$("case_$CASE") && [ -n "$x" ]; then V[$CASE]+=" $x"; cpu_per "$x"; else V[$CASE]+=" nan"; invalid; flag "$CASE round $R: no figure"; fi
    log "round $R/$ROUNDS: $CASE ${V[$CASE]##* } /s"
  done
done
declare -A M
for c in "${CASES[@]}"; do M[$c]=$(echo "${V[$c]}" | median); done
# shellcheck source=bench/compare_tail.sh
. "$B/compare_tail.sh"
