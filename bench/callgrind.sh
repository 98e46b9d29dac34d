#!/usr/bin/env bash
# bench/callgrind.sh: instructions per heartbeat on vigild's ingest path, counted
# by valgrind's callgrind (deterministic: repeatable on a noisy or shared machine,
# unlike req/s). Whole process: the request thread and the writer thread.
#
# Two runs of vigild under callgrind receive N1 and N2 steady-state heartbeats
# (bench/nreq.py: keep-alive, the same ~280-byte body as bench/hb.lua, over
# BENCH_CG_IDS worker ids, sent once each first so no run counts new-worker
# work); (I(N2) - I(N1)) / (N2 - N1) cancels start-up and shutdown.
# BENCH_CG_PATH=udp: the same for heartbeat lines through the UDP door
# (bench/nudp.py, 20 lines a datagram, paced so none is lost): instructions
# per line, the vigil-udp thread and the writer together.
# Also printed: the ingest code alone, the inclusive count of its entry
# function (HTTP: http.c's handler, the request's vigild part; UDP: the
# vigil-udp thread's udp_main), the same difference over N2 - N1. The whole
# process total moves by several per cent between runs of one binary, as the
# writer's batches fall differently; the ingest code's count does not, so it
# is the figure that shows a regression on the heartbeat path itself.
# vigild runs with http_ring = false here: libmicrohttpd's path, as before the
# io_uring front door (src/server/ring.c). Under valgrind, which runs one
# thread at a time, a connection the ring hands to libmicrohttpd waited up to
# ~10 s (the readiness probe, the UDP run's counter polls) and the totals of
# two runs no longer differed by the heartbeats alone; the ring's own user
# code is the same parse and apply as the handler's (ingest_fast).
# Usage: bench/callgrind.sh [BINARY]   (default build/vigild)
# Knobs: BENCH_CG_N1=2000 BENCH_CG_N2=6000 BENCH_CG_IDS=500 BENCH_CG_PATH=http|udp
# Loopback only; vigild is stopped and its temp dir removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/vigild}
N1=${BENCH_CG_N1:-2000}
N2=${BENCH_CG_N2:-6000}
IDS=${BENCH_CG_IDS:-500}
CGPATH=${BENCH_CG_PATH:-http}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind missing" >&2; exit 2; }
[ -x "$BIN" ] || { echo "callgrind.sh: $BIN not built (make build)" >&2; exit 2; }

PY=$(python3 -c 'import sys; print(sys.executable)') # not a shim in front of it: 0.3 s a call
run() { # $1 = heartbeats after warm-up -> prints "TOTAL INGEST" instructions
    local d port pid
    d=$(mktemp -d)
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    uport=$("$PY" -c 'import socket; s=socket.socket(type=socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    printf '[server]\nudp_listen = 127.0.0.1:%s\n' "$uport" >"$d/udp.ini"
    local conf=()
    [ "$CGPATH" = udp ] && conf=(--config "$d/udp.ini")
    VIGIL_HTTP_THREADS=1 VIGIL_HTTP_RING=false VIGIL_ADMIN_TOKEN=cg-token valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" \
        "$BIN" --listen "127.0.0.1:$port" --data "$d/var" "${conf[@]}" >"$d/log" 2>&1 &
    pid=$!
    for _ in $(seq 150); do curl -s -o /dev/null "127.0.0.1:$port/healthz" && break; sleep 0.2; done
    if [ "$CGPATH" = udp ]; then
        "$PY" bench/nudp.py --port "$port" --udp "$uport" --token cg-token --n "$1" --ids "$IDS"
    else
        "$PY" bench/nreq.py --port "$port" --n "$1" --ids "$IDS"
    fi
    sleep 1
    kill -TERM "$pid"
    wait "$pid" || true
    local fn='src/server/http.c:handler'
    [ "$CGPATH" = udp ] && fn='src/server/udp.c:udp_main'
    # --threshold=100: every function, not only those that make up the first
    # 99 % of the total; a cheap UDP thread in a short run fell under that
    # line (its count read 0 in bench.smoke, 2026-12-07).
    callgrind_annotate --inclusive=yes --threshold=100 "$d/cg.out" 2>/dev/null | awk -v fn="$fn" '
      /PROGRAM TOTALS/ { gsub(",", "", $1); t = $1 }
      index($0, fn " [") && !o { gsub(",", "", $1); o = $1 }
      END { print t, (o ? o : 0) }'
    [ -n "${BENCH_CG_KEEP:-}" ] && cp "$d/cg.out" "callgrind-$1.out"
    rm -rf "$d"
}
# The two runs at once (on a 2-core machine, half the wall time): a count of
# instructions does not depend on what else the machine runs.
r1=$(mktemp) r2=$(mktemp)
run "$N1" >"$r1" & p1=$!
run "$N2" >"$r2" & p2=$!
rc=0
wait "$p1" || rc=1
wait "$p2" || rc=1
[ $rc = 0 ] || { rm -f "$r1" "$r2"; echo "callgrind.sh: a run failed" >&2; exit 1; }
read -r i1 o1 <"$r1"
read -r i2 o2 <"$r2"
rm -f "$r1" "$r2"
per=$(( (i2 - i1) / (N2 - N1) ))
own=$(( (o2 - o1) / (N2 - N1) ))
echo "vigild $("$BIN" --version | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo '?')):" \
     "$per instructions per heartbeat (I($N1)=$i1, I($N2)=$i2, $IDS worker ids, $CGPATH);" \
     "ingest code alone: $own a heartbeat"
