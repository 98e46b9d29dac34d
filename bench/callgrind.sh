#!/usr/bin/env bash
# bench/callgrind.sh: instructions per heartbeat on vigild's ingest path, counted
# by valgrind's callgrind (deterministic: repeatable on a noisy or shared machine,
# unlike req/s). Whole process: the request thread and the writer thread.
#
# Two runs of vigild under callgrind receive N1 and N2 steady-state heartbeats
# (bench/nreq.py: keep-alive, the same ~280-byte body as bench/hb.lua, over
# BENCH_CG_IDS worker ids, sent once each first so no run counts new-worker
# work); (I(N2) - I(N1)) / (N2 - N1) cancels start-up and shutdown.
# Usage: bench/callgrind.sh [BINARY]   (default build/vigild)
# Knobs: BENCH_CG_N1=2000 BENCH_CG_N2=6000 BENCH_CG_IDS=500
# Loopback only; vigild is stopped and its temp dir removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/vigild}
N1=${BENCH_CG_N1:-2000}
N2=${BENCH_CG_N2:-6000}
IDS=${BENCH_CG_IDS:-500}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind missing" >&2; exit 2; }
[ -x "$BIN" ] || { echo "callgrind.sh: $BIN not built (make build)" >&2; exit 2; }

run() { # $1 = heartbeats after warm-up -> prints total instructions
    local d port pid
    d=$(mktemp -d)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    VIGIL_HTTP_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" \
        "$BIN" --listen "127.0.0.1:$port" --data "$d/var" >"$d/log" 2>&1 &
    pid=$!
    for _ in $(seq 150); do curl -s -o /dev/null "127.0.0.1:$port/healthz" && break; sleep 0.2; done
    python3 bench/nreq.py --port "$port" --n "$1" --ids "$IDS"
    sleep 1
    kill -TERM "$pid"
    wait "$pid" || true
    callgrind_annotate "$d/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}'
    [ -n "${BENCH_CG_KEEP:-}" ] && cp "$d/cg.out" "callgrind-$1.out"
    rm -rf "$d"
}
i1=$(run "$N1")
i2=$(run "$N2")
per=$(( (i2 - i1) / (N2 - N1) ))
echo "vigild $("$BIN" --version | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo '?')):" \
     "$per instructions per heartbeat (I($N1)=$i1, I($N2)=$i2, $IDS worker ids)"
