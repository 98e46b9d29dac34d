#!/usr/bin/env bash
# Soak test: steady heartbeats (2000 workers every 5 s = 400/s), worker churn (byes and
# returns), stream subscribers that come and go; vigild's RSS sampled every 10 s; fails if
# its anonymous RSS (RssAnon: heap, not the mmap of the SQLite file) grows by more than
# SOAK_MARGIN_MIB between the first and the last minute after
# warm-up. Loopback only, bounded by SOAK_MIN.
#
#   bench/soak.sh                    # 30 min against build/vigild
#   SOAK_MIN=8 bench/soak.sh         # shorter
#   VIGILD=build-asan/vigild SOAK_MIN=10 bench/soak.sh   # leaks reported at the SIGTERM
#
# Knobs (environment): SOAK_MIN (30), SOAK_WARMUP_MIN (min(5, SOAK_MIN/3)),
# SOAK_MARGIN_MIB (16), SOAK_WORKERS (2000), SOAK_INTERVAL_S (5), SOAK_SUBSCRIBERS (4),
# SOAK_CSV (bench/results/soak-<date>.csv).
set -euo pipefail
cd "$(dirname "$0")/.."
export VIGILD=${VIGILD:-build/vigild}
[ -x "$VIGILD" ] || { echo "soak: $VIGILD not built (make build)" >&2; exit 2; }
mkdir -p bench/results
csv=${SOAK_CSV:-bench/results/soak-$(date -u +%Y%m%dT%H%M%SZ).csv}
args=(--minutes "${SOAK_MIN:-30}" --margin-mib "${SOAK_MARGIN_MIB:-16}"
      --workers "${SOAK_WORKERS:-2000}" --interval "${SOAK_INTERVAL_S:-5}"
      --subscribers "${SOAK_SUBSCRIBERS:-4}" --csv "$csv")
[ -n "${SOAK_WARMUP_MIN:-}" ] && args+=(--warmup "$SOAK_WARMUP_MIN")
echo "soak: ${SOAK_MIN:-30} min against $VIGILD; samples in $csv"
exec python3 bench/soak.py "${args[@]}"
