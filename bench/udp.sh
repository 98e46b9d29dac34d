#!/usr/bin/env bash
# bench/udp.sh: heartbeats/s through vigild's UDP door, next to a bare
# recvmmsg drain loop receiving the same datagrams, and vigild's NDJSON batch
# ingest over HTTP, in the same run.
#
#  1. Bare loop. bench/udp_drain.c (same socket setup and 64 × 64 KiB
#     recvmmsg batch as src/server/udp.c, counting datagrams only) on core 0;
#     bench/udp_send.c on core 1 blasts BENCH_PER_DGRAM heartbeat lines per
#     datagram for BENCH_DURATION s.
#  2. vigild. A fresh vigild (udp_listen on, SQLite in a temp dir) on core 0,
#     the same sender on core 1; heartbeats/s = lines vigild applied
#     (GET /v1/admin/udp lines_ok) / the sender's seconds. The sender outruns
#     both receivers, so each runs saturated and what the kernel drops is the
#     difference (counted, not applied).
#  3. NDJSON. A fresh vigild on core 0; python (core 1) POSTs
#     /v1/heartbeats bodies of BENCH_BATCH lines over one keep-alive
#     connection for BENCH_DURATION s; heartbeats/s = accepted / seconds.
# BENCH_ROUNDS rounds of 1-3; medians and median(vigild) / median(bare).
# Targets: vigild ≥ 50 % of the bare loop and ≥ 1,000,000 heartbeats/s.
#
# The summary (markdown) goes to stdout and bench/results/udp-<UTC>.md.
# Knobs: BENCH_ROUNDS=3 BENCH_DURATION=3 BENCH_PER_DGRAM=20 BENCH_WORKERS=10000
#   BENCH_BATCH=5000 BENCH_SERVER_CPU=0 BENCH_CLIENT_CPU=1
#   VIGILD=path (default: make build, then build/vigild)
# Exit: 0 valid run (missed targets are reported); 1 a check failed; 2 setup.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-3}
PER=${BENCH_PER_DGRAM:-20}
WORKERS=${BENCH_WORKERS:-10000}
BATCH=${BENCH_BATCH:-5000}
SCPU=${BENCH_SERVER_CPU:-0}
CCPU=${BENCH_CLIENT_CPU:-1}
TARGET_RATIO=0.5
TARGET_RATE=1000000
CMDLINE="$0${*:+ $*}"
for v in BENCH_ROUNDS BENCH_DURATION BENCH_PER_DGRAM BENCH_WORKERS BENCH_BATCH; do
  [ -n "${!v:-}" ] && CMDLINE="$v=${!v} $CMDLINE"
done
for n in "$ROUNDS" "$DURATION" "$PER" "$WORKERS" "$BATCH" "$SCPU" "$CCPU"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "udp.sh: BENCH_* values are integers (got '$n')" >&2; exit 2; }
done

log() { printf '[udp.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }
for t in taskset cc curl python3; do command -v $t >/dev/null || die "$t is missing"; done

if [ -z "${VIGILD:-}" ]; then
  make -C "$ROOT" build >/dev/null 2>&1 || die "make build failed"
  VIGILD=$ROOT/build/vigild
fi
[ -x "$VIGILD" ] || die "no vigild at $VIGILD"

TMP=$(mktemp -d /tmp/vigil-udp-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

cc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$TMP/udp_send" "$BENCH/udp_send.c" || die "udp_send.c"
cc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$TMP/udp_drain" "$BENCH/udp_drain.c" || die "udp_drain.c"

free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET,getattr(socket,sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
TOKEN=bench-admin-token

# start_vigild UDP_PORT -> sets VPID, VPORT
start_vigild() {
  local dir=$TMP/v$RANDOM
  mkdir -p "$dir"
  VPORT=$(free_port SOCK_STREAM)
  printf '[server]\nudp_listen = 127.0.0.1:%s\n' "$1" >"$dir/vigil.ini"
  VIGIL_ADMIN_TOKEN=$TOKEN taskset -c "$SCPU" "$VIGILD" --listen "127.0.0.1:$VPORT" \
    --data "$dir/var" --config "$dir/vigil.ini" >"$dir/log" 2>&1 &
  VPID=$!
  PIDS+=("$VPID")
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$VPORT/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$dir/log" >&2
  die "vigild did not start"
}
stop_vigild() { kill "$VPID"; wait "$VPID" 2>/dev/null || true; }
udp_stat() {
  curl -fs -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$VPORT/v1/admin/udp" |
    python3 -c "import json,sys; d=json.load(sys.stdin); print(d['$1'] if '$1' in d else sum(d['lines_refused'].values()))"
}

declare -a BARE VIG NDJ SENT
for r in $(seq "$ROUNDS"); do
  # 1. bare loop
  UP=$(free_port SOCK_DGRAM)
  taskset -c "$SCPU" "$TMP/udp_drain" "$UP" 500 >"$TMP/drain.out" &
  DPID=$!
  PIDS+=("$DPID")
  for _ in $(seq 50); do grep -q ready "$TMP/drain.out" 2>/dev/null && break; sleep 0.05; done
  read -r lines dgrams secs < <(taskset -c "$CCPU" "$TMP/udp_send" 127.0.0.1 "$UP" "$DURATION" "$PER" "$WORKERS")
  wait "$DPID"
  got=$(tail -1 "$TMP/drain.out")
  BARE[r]=$(python3 -c "print(round($got*$PER/$secs))")
  SENT[r]=$(python3 -c "print(round($lines/$secs))")

  # 2. vigild over UDP
  UP=$(free_port SOCK_DGRAM)
  start_vigild "$UP"
  read -r lines dgrams secs < <(taskset -c "$CCPU" "$TMP/udp_send" 127.0.0.1 "$UP" "$DURATION" "$PER" "$WORKERS")
  sleep 0.5
  ok=$(udp_stat lines_ok)
  refused=$(udp_stat refused)
  full=$(udp_stat registry_full)
  [ "$refused" = 0 ] && [ "$full" = 0 ] || { log "vigild refused $refused lines, registry full $full"; exit 1; }
  [ "$ok" -le "$lines" ] || { log "applied $ok > sent $lines"; exit 1; }
  VIG[r]=$(python3 -c "print(round($ok/$secs))")
  stop_vigild

  # 3. vigild NDJSON over HTTP
  start_vigild "$(free_port SOCK_DGRAM)"
  NDJ[r]=$(taskset -c "$CCPU" python3 - "$VPORT" "$DURATION" "$BATCH" "$WORKERS" <<'PY'
import http.client, json, sys, time
port, secs, batch, workers = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
bodies = []
for b in range(8):
    bodies.append("\n".join(json.dumps({"worker_id": "bench-%06d" % ((b * batch + i) % workers),
        "seq": b * batch + i, "cpu": 0.42, "mem": 0.31, "in_flight": 3}) for i in range(batch)).encode())
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
acc, n, t0 = 0, 0, time.monotonic()
while time.monotonic() - t0 < secs:
    c.request("POST", "/v1/heartbeats", bodies[n % 8], {"Content-Type": "application/x-ndjson"})
    r = c.getresponse(); d = json.loads(r.read())
    if r.status != 200 or d["rejected"]: sys.exit("ndjson: %s %s" % (r.status, d))
    acc += d["accepted"]; n += 1
print(round(acc / (time.monotonic() - t0)))
PY
) || { log "NDJSON client failed"; exit 1; }
  stop_vigild
  log "round $r: sender ${SENT[r]}/s, bare ${BARE[r]}/s, vigild udp ${VIG[r]}/s, ndjson ${NDJ[r]}/s"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
MB=$(median "${BARE[@]}"); MV=$(median "${VIG[@]}"); MN=$(median "${NDJ[@]}"); MS=$(median "${SENT[@]}")
RATIO=$(python3 -c "print(f'{$MV/$MB:.2f}')")
verdict() { python3 -c "import sys; v,t=float(sys.argv[1]),float(sys.argv[2]); print('met' if v>=t else f'MISSED by {100*(1-v/t):.0f} %')" "$1" "$2"; }
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/bench/results/udp-$STAMP.md
mkdir -p "$ROOT/bench/results"
{
  echo "# UDP ingest benchmark, $STAMP"
  echo
  echo "Command: \`$CMDLINE\`  "
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $("$VIGILD" --version)  "
  echo "Server on core $SCPU, sender on core $CCPU; $PER lines per datagram, $WORKERS worker ids, ${DURATION} s per run, NDJSON bodies of $BATCH lines."
  echo
  echo "| round | sender lines/s | bare recvmmsg loop hb/s | vigild UDP hb/s | vigild / bare | vigild NDJSON hb/s |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for r in $(seq "$ROUNDS"); do
    echo "| $r | ${SENT[r]} | ${BARE[r]} | ${VIG[r]} | $(python3 -c "print(f'{${VIG[r]}/${BARE[r]}:.2f}')") | ${NDJ[r]} |"
  done
  echo "| **median** | $MS | $MB | $MV | $RATIO | $MN |"
  echo
  echo "- vigild UDP ≥ 50 % of the bare loop: $(verdict "$RATIO" $TARGET_RATIO)"
  echo "- vigild UDP ≥ 1,000,000 heartbeats/s on one core: $(verdict "$MV" $TARGET_RATE)"
} | tee "$OUT"
log "written to $OUT"
