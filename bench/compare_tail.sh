# bench/compare_tail.sh: the second half of bench/compare.sh (sourced by it,
# not run alone): the once-per-run measures after the interleaved rounds,
# then the results file and the charts. Uses compare.sh's functions and
# variables (M[case] medians, V[case] per-round figures, TMP, OUT, ...).

# ---------------------------------------------------------------- latency at 50 % of peak
# Two runs on one vigild: the first (cold) starts with every worker id new,
# so each of its first IDS heartbeats opens a session and queues its events;
# the second (warm) is the steady state the figure stands for. The cold run
# is reported beside it. On the one pinned core the writer storing those
# sessions and their events takes turns with the HTTP thread (perf sched:
# 4 ms slices), and requests queue behind it: cold p99 ~50 ms where the
# warm run's is ~3 ms (this session's probe, 45,000/s, 10,000 ids).
PEAK=${M[vigild-http]}
LAT_LINE="RATE p50_us=nan p99_us=nan achieved=nan"
LAT_COLD="RATE p50_us=nan p99_us=nan achieved=nan"
if [ "$PEAK" != nan ]; then
  HALF=$(calc "$PEAK / 2" 0)
  p=$(free_port)
  start_vigild "$p"
  s=$SPID
  log "latency: vigild HTTP at $HALF req/s (50 % of $PEAK), ${DUR}s cold then ${DUR}s warm, open loop"
  LAT_COLD=$(taskset -c "$CCPU" "$TMP/hb_rate" "$p" "$HALF" "$DUR" "$CONNS" "$IDS") ||
    { flag "hb_rate at $HALF/s (cold): not every request got a 2xx answer in time ($LAT_COLD)"; invalid; }
  LAT_LINE=$(taskset -c "$CCPU" "$TMP/hb_rate" "$p" "$HALF" "$DUR" "$CONNS" "$IDS") ||
    { flag "hb_rate at $HALF/s: not every request got a 2xx answer in time ($LAT_LINE)"; invalid; }
  kill9 "$s"
fi
lat() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" ${LAT_LINE#RATE}"; }
latc() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" ${LAT_COLD#RATE}"; }
log "latency (cold): $LAT_COLD"
log "latency: $LAT_LINE"

# ---------------------------------------------------------------- stream subscribers
# vigild's CPU per heartbeat with 200 /v1/stream subscribers vs none (issue 7:
# within 10 %): rounds without, with, ..., without, the median ratio
# (bench/stream_load.py; its JSON names the subscribers and rounds it ran).
# The load is one run of hb_rate's closed loop through all rounds, a new
# worker every 1000th heartbeat, so vigild's core is saturated as in the
# HTTP rate case (until 2026-12-06: two Python loaders at ~8,000/s, where a
# heartbeat's CPU was mostly the cost of waking for it and moved 20 % from
# round to round, and every pause between rounds turned the fleet suspect).
if [ $SMOKE = 1 ]; then st_args=(--rounds 1 --round-s 1 --subscribers 20 --settle-s 0.5); else st_args=(--rounds 5 --round-s 3 --subscribers 200); fi
st_args+=(--hb-rate "$TMP/hb_rate" --new-every 1000)
# One load runs through every round, so the fleet grows (~80 new workers a
# second): snapshots of at most 1,000 workers keep 200 subscribers' connect
# (outside the windows) to seconds, where 10,000 each were ~1 GB to read.
printf '[stream]\nsnapshot_workers = 1000\n' >"$TMP/stream.ini"
p=$(free_port)
VCONF=$TMP/stream.ini start_vigild "$p"
s=$SPID
log "stream: ingest with and without subscribers (${st_args[*]})"
STREAM=$(taskset -c "$CCPU" "$PY" "$B/stream_load.py" --port "$p" --token "$(cat "$DATA/admin.token")" \
  --pid "$s" "${st_args[@]}") || { flag "stream_load.py: a subscriber not served or a heartbeat failed: $STREAM"; invalid; }
kill9 "$s"
log "stream: $STREAM"

# ---------------------------------------------------------------- fleet: memory, lag, sweeper
read -r -a SIZES <<<"$FLEET"
BIG=${SIZES[${#SIZES[@]} - 1]}
p=$(free_port)
# a small stream snapshot: the lag client needs the stream, not 10,000 workers in its snapshot
printf '[stream]\nsnapshot_workers = 10\n' >"$TMP/fleet.ini"
VCONF=$TMP/fleet.ini start_vigild "$p" VIGIL_DEFAULT_TTL_S=3600
MP=$SPID MDATA=$DATA
sleep 1
SWEEP=""
for f in /proc/"$MP"/task/*/comm; do [ "$(cat "$f")" = vigil-sweep ] && SWEEP=$(basename "$(dirname "$f")"); done
[ -n "$SWEEP" ] || die "no vigil-sweep thread in vigild"
RSS0=$(rss_kb "$MP" VmRSS)
declare -A MEMV MEMR REG RSSN MARG
done_n=0
for n in "${SIZES[@]}"; do
  log "fleet: vigild to $n workers (NDJSON, register.py)"
  j=$(taskset -c "$CCPU" "$PY" "$B/register.py" --port "$p" --start "$done_n" --workers $((n - done_n)) \
    --batch 5000 --deadline 300) || { flag "register.py to $n: $j"; invalid; }
  REG[$n]=$(sed -n 's/.*"lines_per_s": \([0-9.]*\).*/\1/p' <<<"$j")
  drained "$p" 240 || { flag "write queue not drained at $n workers"; invalid; }
  sleep 1
  RSSN[$n]=$(rss_kb "$MP" VmRSS)
  MEMV[$n]=$(calc "(${RSSN[$n]} - $RSS0) * 1024 / $n" 1)
  # from the previous size: what one more worker costs once the fixed parts (SQLite's
  # page caches, the write queue's touched pages) are paid
  [ "$done_n" = 0 ] || MARG[$n]=$(calc "(${RSSN[$n]} - ${RSSN[$done_n]}) * 1024 / ($n - $done_n)" 1)
  done_n=$n
done
alive=$(curl -s -m 60 -H "Authorization: Bearer $(cat "$MDATA/admin.token")" "http://127.0.0.1:$p/v1/groups" |
  "$PY" -c 'import json,sys; print(sum(g["workers"]["alive"] for g in json.load(sys.stdin)["groups"]))')
[ "$alive" = "$BIG" ] || { flag "/v1/groups: $alive alive, expected $BIG"; invalid; }
sweep_pct() { calc "($2 - $1) / $HZ / $3 * 100" 2; }
log "fleet: sweeper, ${IDLE}s idle with $BIG workers"
a=$(ticks "$MP/task/$SWEEP"); t0=$(date +%s.%N)
sleep "$IDLE"
SWEEP_IDLE=$(sweep_pct "$a" "$(ticks "$MP/task/$SWEEP")" "$(calc "$(date +%s.%N) - $t0" 3)")
log "fleet: detection lag, $PROBES probes with ttl_s=2 among $BIG workers"
a=$(ticks "$MP/task/$SWEEP"); t0=$(date +%s.%N)
LAG=$(taskset -c "$CCPU" "$PY" "$B/fleet.py" lag --port "$p" --token "$(cat "$MDATA/admin.token")" \
  --probes "$PROBES" --ttl 2 --spread 1) || { flag "detection lag: not every probe was seen dead: $LAG"; invalid; }
SWEEP_LAG=$(sweep_pct "$a" "$(ticks "$MP/task/$SWEEP")" "$(calc "$(date +%s.%N) - $t0" 3)")
HWM=$(rss_kb "$MP" VmHWM)
kill9 "$MP"
jv() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1] or "{}").get(sys.argv[2], "nan"))' "$1" "$2" 2>/dev/null || echo nan; }

rp=$(free_port)
bg redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no
RS=$SPID
for _ in $(seq 100); do redis-cli -p "$rp" ping >/dev/null 2>&1 && break; sleep 0.1; done
base=$(jv "$("$PY" "$B/fleet.py" redis --port "$rp" --workers 0)" used_memory)
done_n=0
for n in "${SIZES[@]}"; do
  log "fleet: Redis to $n keys"
  j=$(taskset -c "$CCPU" "$PY" "$B/fleet.py" redis --port "$rp" --start "$done_n" --workers $((n - done_n))) ||
    { flag "fleet.py redis to $n: $j"; invalid; }
  MEMR[$n]=$(calc "($(jv "$j" used_memory) - $base) / $n" 1)
  done_n=$n
done
stop "$RS"

# ---------------------------------------------------------------- callgrind
log "callgrind: instructions per heartbeat"
if [ $SMOKE = 1 ]; then cg_env=(BENCH_CG_N1=50 BENCH_CG_N2=150 BENCH_CG_IDS=20); else cg_env=(); fi
# HTTP and UDP at once, as callgrind.sh runs its two runs: four valgrinds on
# two cores take half the wall time, and their counts are the same.
cg_start() { # NAME [VAR=VALUE...]: callgrind.sh in the background, output in TMP/NAME.*
  local name=$1; shift
  env "${cg_env[@]}" "$@" "$B/callgrind.sh" "$VIGILD" >"$TMP/$name.out" 2>"$TMP/$name.err" &
}
# cg_figs OUTPUT: "PER OWN" from callgrind.sh's line (nan where missing)
cg_figs() {
  local per own
  per=$(sed -n 's/.*: \([0-9]*\) instructions per heartbeat.*/\1/p' <<<"$1")
  own=$(sed -n 's/.*ingest code alone: \([0-9]*\) a heartbeat.*/\1/p' <<<"$1")
  echo "${per:-nan} ${own:-nan}"
}
cg_start cg
cgp=$!
cg_start cgu BENCH_CG_PATH=udp
cgup=$!
wait "$cgp" || { flag "callgrind.sh failed: $(tail -3 "$TMP/cg.err")"; invalid; }
wait "$cgup" || { flag "callgrind.sh (udp) failed: $(tail -3 "$TMP/cgu.err")"; invalid; }
CG=$(cat "$TMP/cg.out") CGU=$(cat "$TMP/cgu.out")
read -r CG_PER CG_OWN <<<"$(cg_figs "$CG")"
read -r CGU_PER CGU_OWN <<<"$(cg_figs "$CGU")"
[ "$CG_OWN" != nan ] && [ "$CGU_OWN" != nan ] && [ "$CG_OWN" -gt 0 ] && [ "$CGU_OWN" -gt 0 ] ||
  { flag "callgrind.sh: no ingest-code count (HTTP $CG_OWN, UDP $CGU_OWN)"; invalid; }
UPTIME1=$(uptime)

# ---------------------------------------------------------------- report
STAMP=$(date -u +%Y%m%dT%H%MZ)
MD=$OUT/$STAMP.md
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "nan"; else printf "%.2f", a / b }'; }
verdict() { # VALUE OP TARGET
  awk -v v="$1" -v o="$2" -v t="$3" 'BEGIN { if (v == "nan" || v == "") { print "**no figure**"; exit }
    ok = (o == ">=") ? v >= t : v <= t; print ok ? "met" : "**MISSED**" }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v == "nan" || v == "") print "nan"; else { s = sprintf("%.0f", v);
  n = length(s); o = ""; for (i = 1; i <= n; i++) { o = o substr(s, i, 1); if ((n - i) % 3 == 0 && i < n) o = o "," } print o } }'; }
# A ratio of two cases is taken round by round, then the median of those:
# the two ran in the same round, within a minute of each other (the UDP
# pairs and nginx/vigild back to back), so a slow spell of the machine falls
# on both. The ratio of the two medians can pair a fast round of one with a
# slow round of the other (run 20261207T0117Z: nginx/vigild rounds 1.03,
# 1.05, 0.83, medians' ratio 0.88).
round_ratios() { # CASE REF: each round's CASE/REF, space-separated
  paste -d' ' <(tr ' ' '\n' <<<"${V[$1]}" | grep -v '^$') <(tr ' ' '\n' <<<"${V[$2]}" | grep -v '^$') |
    awk '$1 != "nan" && $2 != "nan" && $2 > 0 { printf "%s%.2f", (n++ ? " " : ""), $1 / $2 }'
}
pratio() { # CASE REF: the median of round_ratios, 2 decimals
  local r; r=$(round_ratios "$1" "$2" | median)
  awk -v r="$r" 'BEGIN { if (r == "nan") print "nan"; else printf "%.2f", r }'
}
rounds() { echo "rounds $(round_ratios "$1" "$2" | sed 's/ /, /g'); medians $(ratio "${M[$1]}" "${M[$2]}")"; }
R_NGINX=$(pratio vigild-http nginx)
R_MHD=$(pratio vigild-http vigild-http-mhd)
R_PUSH=$(pratio vigild-http pushgateway)
R_REDIS=$(pratio vigild-http redis)
R_P16=$(pratio vigild-ndjson redis-p16)
R_ETCD=$(pratio vigild-http etcd)
R_PG=$(pratio pg-vigil pg-insert500)
R_UDP=$(pratio udp-vigild udp-bare)
R_UDP1=$(pratio udp-vigild-1 udp-bare-1)
R_UDP20=$(pratio udp-vigild-20 udp-bare-20)
col_median() { cut -d' ' -f"$2" "$1" | median; } # FILE N: the median of column N over its rows
busy_share() { # CASE: "server % / load %", medians over its rounds
  local f=$TMP/busy_$1
  if [ -s "$f" ]; then echo "$(col_median "$f" 2) % / $(col_median "$f" 3) %"; else echo nan; fi
}
cpu_share() { # CASE: the server's CPU per heartbeat, "user + kernel µs", medians over its rounds
  local f=$TMP/cpu_$1 u k
  [ -s "$f" ] || { echo —; return; }
  u=$(col_median "$f" 1); k=$(col_median "$f" 2)
  echo "$(calc "$u + $k" 2) ($u + $k)"
}
# raw_share CASE: the rounds' shares of raw samples vigild kept (compare.sh raw_kept)
raw_share() { if [ -s "$TMP/raw_$1" ]; then tr '\n' ' ' <"$TMP/raw_$1" | sed 's/ $//; s/ /, /g'; else echo nan; fi; }
desc() {
  case $1 in
    nginx) echo "nginx \`return 204\` (hb_rate)" ;;
    vigild-http) echo "vigild POST /v1/heartbeat (hb_rate; io_uring front door)" ;;
    vigild-http-mhd) echo "vigild POST /v1/heartbeat, libmicrohttpd alone (http_ring = false)" ;;
    vigild-ndjson) echo "vigild POST /v1/heartbeats, $LINES lines a body (wrk, ndjson.lua)" ;;
    pushgateway) echo "Pushgateway, one PUT per heartbeat (wrk, push.lua)" ;;
    redis) echo "Redis SET worker:hb:<id> <json> EX 15 (redis-benchmark -c $CONNS)" ;;
    redis-p16) echo "Redis, the same with -P 16" ;; etcd) echo "etcd lease keep-alive, JSON gateway (wrk, etcd.lua, $LEASES leases)" ;;
    pg-insert500) echo "PostgreSQL INSERT per heartbeat, 500 rows a statement (store_bench insert)" ;;
    pg-vigil) echo "vigil's PostgreSQL writer, same rows (store_bench vigil)" ;;
    udp-bare) echo "bare recvmmsg loop (udp_drain.c), the heartbeat as a line, $UDP_PER a datagram (MTU 1,500)" ;;
    udp-vigild) echo "vigild UDP door, same datagrams" ;;
    udp-bare-1) echo "bare recvmmsg loop, the heartbeat as a line, 1 a datagram" ;;
    udp-vigild-1) echo "vigild UDP door, same datagrams" ;;
    udp-bare-20) echo "bare recvmmsg loop, $UDP_SHORT short lines a datagram (seq, cpu, mem, in_flight)" ;;
    udp-vigild-20) echo "vigild UDP door, same datagrams" ;;
  esac
}
{
  echo "# vigil comparison benchmark — $STAMP"
  echo
  [ $SMOKE = 1 ] && echo "**Smoke run (--smoke): tiny sizes, one short round; the figures mean nothing.**" && echo
  echo "- command: \`$CMDLINE\` ($(( $(date +%s) - T_START )) s in all)"
  echo "- machine: $(nproc) × $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -srm), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "- uptime before: \`$UPTIME0\`"
  echo "- uptime after: \`$UPTIME1\`"
  echo "- vigild: $("$VIGILD" --version 2>&1 | head -1), commit $(git -C "$ROOT" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo '?'); $(nginx -v 2>&1); redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'); pushgateway $(prometheus-pushgateway --version 2>&1 | sed -n 's/.*version \([^ ]*\).*/\1/p' | head -1); etcd $(etcd --version | sed -n 's/etcd Version: //p'); PostgreSQL ${PG_VER:-?} (fsync on)"
  echo "- every server pinned to core $SCPU, every load generator to core $CCPU (taskset); loopback; $ROUNDS rounds, each running every case in turn; ${DUR}s per case (UDP $(udp_secs)s); $CONNS connections; worker ids over $IDS; heartbeat body ${#HB_JSON} bytes (bench/hb.lua's); HTTP heartbeats from bench/hb_rate.c's closed loop (one request in flight a connection), Redis's from redis-benchmark, the other HTTP cases' from wrk and their Lua scripts"
  echo
  echo "## Heartbeats per second"
  echo
  echo "| case | round figures | median | min–max | cores busy, server / load generator | server CPU µs a heartbeat (user + kernel) |"
  echo "|---|---|---|---|---|---|"
  for c in "${CASES[@]}"; do
    # shellcheck disable=SC2086
    echo "| $(desc "$c") | $(for x in ${V[$c]}; do printf '%s ' "$(fmt "$x")"; done)| **$(fmt "${M[$c]}")** | $(echo "${V[$c]}" | range | sed 's/ /–/') | $(busy_share "$c") | $(cpu_share "$c") |"
  done
  echo
  echo "Cores busy: median over the rounds of each core's busy share during the timed load (/proc/stat). A load generator near 100 % while the server's core has time left means the figure is the generator's ceiling, not the server's: such a case's ratio to another says less than its figures suggest. Server CPU a heartbeat: the server process's utime and stime (all its threads, /proc/PID/stat) over the timed load, over the heartbeats (rows, lines) it took: what each costs the server whatever limits the rate (— for PostgreSQL, a server of many processes)."
  echo
  echo "UDP sender: $(median <"$TMP/udp_sent_$UDP_PER" 2>/dev/null || echo nan) lines/s offered (median) at $UDP_PER lines a datagram, $(median <"$TMP/udp_sent_1" 2>/dev/null || echo nan) at 1, $(median <"$TMP/udp_sent_$UDP_SHORT" 2>/dev/null || echo nan) at $UDP_SHORT short lines; a heartbeat line: bench/hb.lua's fields and values as key=value words (udp_send.c full_line), ~230 bytes; PostgreSQL cases: rows/s of $PGROWS timed rows after $((PGROWS / 5)) untimed, 10,000 workers, batches of 8,192 (bench/store.sh's load)."
  echo
  echo "Raw samples vigild kept, % of accepted heartbeats per round (the rest dropped and counted: the writer shares the pinned core and yields to ingest, by design): HTTP $(raw_share vigild-http) (libmicrohttpd alone: $(raw_share vigild-http-mhd)); NDJSON $(raw_share vigild-ndjson); UDP $UDP_PER lines a datagram $(raw_share udp-vigild); UDP 1 line $(raw_share udp-vigild-1); UDP $UDP_SHORT short lines $(raw_share udp-vigild-20)."
  echo
  echo "## Targets"
  echo
  echo "| figure | measured | reference | target | verdict |"
  echo "|---|---|---|---|---|"
  echo "| vigild HTTP / nginx \`return 204\` | **$R_NGINX×** ($(fmt "${M[vigild-http]}")/s; $(rounds vigild-http nginx)) | $(fmt "${M[nginx]}")/s | ≥ 0.9× | $(verdict "$R_NGINX" '>=' 0.9) |"
  echo "| vigild HTTP, io_uring front door / libmicrohttpd alone | **$R_MHD×** ($(rounds vigild-http vigild-http-mhd)) | $(fmt "${M[vigild-http-mhd]}")/s | report | — |"
  echo "| vigild HTTP / Pushgateway PUT | **$R_PUSH×** ($(rounds vigild-http pushgateway)) | $(fmt "${M[pushgateway]}")/s | ≥ 10× | $(verdict "$R_PUSH" '>=' 10) |"
  echo "| vigild HTTP / Redis SET EX, unpipelined | **$R_REDIS×** ($(rounds vigild-http redis)) | $(fmt "${M[redis]}")/s | ≥ 1.3× | $(verdict "$R_REDIS" '>=' 1.3) |"
  echo "| vigild NDJSON / Redis SET EX, -P 16 | **$R_P16×** ($(fmt "${M[vigild-ndjson]}")/s; $(rounds vigild-ndjson redis-p16)) | $(fmt "${M[redis-p16]}")/s | ≥ 1× | $(verdict "$R_P16" '>=' 1) |"
  echo "| vigild HTTP / etcd lease keep-alive | **$R_ETCD×** ($(rounds vigild-http etcd)) | $(fmt "${M[etcd]}")/s | report | — |"
  echo "| vigil's PostgreSQL writer / INSERT 500 | **$R_PG×** ($(fmt "${M[pg-vigil]}") rows/s; $(rounds pg-vigil pg-insert500)) | $(fmt "${M[pg-insert500]}") rows/s | ≥ 3× | $(verdict "$R_PG" '>=' 3) |"
  echo "| vigild UDP / bare recvmmsg loop, 1 line a datagram | **$R_UDP1×** ($(fmt "${M[udp-vigild-1]}")/s; $(rounds udp-vigild-1 udp-bare-1)) | $(fmt "${M[udp-bare-1]}")/s | ≥ 0.5× | $(verdict "$R_UDP1" '>=' 0.5) |"
  echo "| vigild UDP / bare recvmmsg loop, $UDP_PER lines a datagram (MTU 1,500) | **$R_UDP×** ($(fmt "${M[udp-vigild]}")/s; $(rounds udp-vigild udp-bare)) | $(fmt "${M[udp-bare]}")/s | ≥ 0.5× | $(verdict "$R_UDP" '>=' 0.5) |"
  echo "| vigild UDP heartbeats/s, $UDP_PER lines a datagram (MTU 1,500) | **$(fmt "${M[udp-vigild]}")** | — | ≥ 1,000,000 | $(verdict "${M[udp-vigild]}" '>=' 1000000) |"
  echo "| vigild UDP / bare recvmmsg loop, $UDP_SHORT short lines a datagram | **$R_UDP20×** ($(fmt "${M[udp-vigild-20]}")/s; $(rounds udp-vigild-20 udp-bare-20)) | $(fmt "${M[udp-bare-20]}")/s | report | — |"
  echo "| vigild HTTP latency at 50 % of peak ($(fmt "$(lat achieved)")/s, open loop, from due time) | p50 **$(lat p50_us) µs**, p99 **$(lat p99_us) µs** (service time p50 $(lat svc_p50_us), p99 $(lat svc_p99_us) µs); the ${DUR} s before it, from a fresh vigild with every worker new: p50 $(latc p50_us), p99 $(latc p99_us) µs | — | report | — |"
  for n in "${SIZES[@]}"; do
    echo "| RSS per tracked worker, $(fmt "$n") workers | **${MEMV[$n]} B**${MARG[$n]:+ (${MARG[$n]} B each from the previous size on)} | Redis used_memory per key: ${MEMR[$n]} B | ≤ 256 B | $(verdict "${MEMV[$n]}" '<=' 256) |"
  done
  echo "| vigild ingest CPU per heartbeat (every thread but the writer), $(jv "$STREAM" subscribers) /v1/stream subscribers vs none (median of $(jv "$STREAM" rounds) rounds, each against the rounds without on either side; load: $(jv "$STREAM" loader); rates $(jv "$STREAM" rates), with/without $(jv "$STREAM" rate_ratio)×; the whole process: $(jv "$STREAM" cost_ratio_all)×) | **$(jv "$STREAM" cost_ratio)×** | no subscriber | ≤ 1.11× (ingest within 10 %) | $(verdict "$(jv "$STREAM" cost_ratio)" '<=' 1.111) |"
  echo "| detection lag at $(fmt "$BIG") workers, TTL expiry → worker_dead on /v1/stream, p99 ($PROBES probes) | **$(jv "$LAG" stream_p99_ms) ms** (p50 $(jv "$LAG" stream_p50_ms), max $(jv "$LAG" stream_max_ms)) | event timestamp (sweeper) p50 $(jv "$LAG" server_p50_ms), p99 $(jv "$LAG" server_p99_ms) ms | ≤ 250 ms | $(verdict "$(jv "$LAG" stream_p99_ms)" '<=' 250) |"
  echo "| sweeper thread CPU, $(fmt "$BIG") workers, ${IDLE}s idle | **${SWEEP_IDLE} %** of a core (during the lag probes: ${SWEEP_LAG} %) | — | ≤ 2 % | $(verdict "$SWEEP_IDLE" '<=' 2) |"
  echo "| callgrind instructions per heartbeat, HTTP ingest, whole process | **$(fmt "$CG_PER")** | — | report | — |"
  echo "| callgrind instructions per heartbeat line, UDP ingest ($UDP_SHORT short lines a datagram, bench/nudp.py), whole process | **$(fmt "$CGU_PER")** | — | report | — |"
  echo "| callgrind, the ingest code alone (HTTP: the request handler; UDP: the vigil-udp thread), a heartbeat | HTTP **$(fmt "$CG_OWN")**, UDP **$(fmt "$CGU_OWN")** | — | report | — |"
  echo
  echo "A ratio of two rate cases is the median of its rounds' ratios (each round ran both within a minute, the UDP pairs and nginx/vigild back to back, so a slow spell of the machine falls on both); the ratio of the two cases' medians stands beside it."
  echo
  echo "Fleet: one vigild (VIGIL_DEFAULT_TTL_S=3600) grown to each size by register.py (NDJSON, 5,000 lines a request; $(for n in "${SIZES[@]}"; do printf '%s lines/s to %s; ' "$(fmt "${REG[$n]}")" "$(fmt "$n")"; done)peak RSS $((HWM / 1024)) MiB); RSS after the write queue drained, less RSS at start, over the workers. Redis: SET of the same workers' JSON lines with EX 3600, used_memory less the empty server's."
  echo
  echo "Charts: [throughput]($STAMP-throughput.png), [memory]($STAMP-memory.png)."
  echo
  echo "## Flags"
  echo
  if [ -s "$TMP/flags" ]; then sed 's/^/- /' "$TMP/flags"; else echo "none: every case produced its figures, every check passed."; fi
  echo
  echo "<details><summary>raw output</summary>"
  echo
  cat "$TMP/raw.md"
  echo "LAG $LAG"
  echo
  echo "STREAM $STREAM"
  echo
  echo "$LAT_COLD"
  echo "$LAT_LINE"
  echo
  echo "$CG"
  echo
  echo "$CGU"
  echo "</details>"
} >"$MD"

# ---------------------------------------------------------------- charts
: >"$TMP/tp.dat"
for c in "${CASES[@]}"; do
  read -r lo hi <<<"$(echo "${V[$c]}" | range)"
  [ "${M[$c]}" = nan ] || echo "\"$c\" ${M[$c]} ${lo:-0} ${hi:-0}" >>"$TMP/tp.dat"
done
: >"$TMP/mem.dat"
for n in "${SIZES[@]}"; do echo "\"$(fmt "$n") workers\" ${MEMV[$n]:-0} ${MEMR[$n]:-0}" >>"$TMP/mem.dat"; done
gnuplot <<EOF 2>"$TMP/gnuplot.err" || flag "gnuplot failed: $(head -3 "$TMP/gnuplot.err")"
set terminal pngcairo size 1100,540 noenhanced
set output "$OUT/$STAMP-throughput.png"
set rmargin 8
set title "Heartbeats per second, median of $ROUNDS rounds (bars: min-max), server on 1 core - $STAMP"
set style fill solid 0.6
set boxwidth 0.6
set logscale y
set grid ytics
set ylabel "heartbeats / s (log)"
set xtics rotate by -30
unset key
plot "$TMP/tp.dat" using 0:2:xtic(1) with boxes lc rgb "#3b7dd8", "" using 0:2:3:4 with yerrorbars lc rgb "black" pt 0
set output "$OUT/$STAMP-memory.png"
unset logscale y
set yrange [0:*]
set key top right
set title "Memory per tracked worker (bytes) - $STAMP"
set ylabel "bytes per worker"
set xtics norotate
set style data histogram
set style histogram clustered gap 1
set boxwidth 0.9
plot "$TMP/mem.dat" using 2:xtic(1) title "vigild RSS" lc rgb "#3b7dd8", "" using 3 title "Redis used_memory" lc rgb "#d8553b", 256 with lines dt 2 lc rgb "black" title "target 256 B"
EOF
cat "$MD"
log "results in $MD ($(( $(date +%s) - T_START )) s)"
for c in "${CASES[@]}"; do [ "${M[$c]}" != nan ] || { log "$c produced no figure"; invalid; }; done
[ -f "$OUT/$STAMP-throughput.png" ] || { log "no chart"; invalid; }
[ ! -f "$TMP/invalid" ] || { log "the run is INVALID: see Flags"; exit 1; }
exit 0
