#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/fuzz_*.c) under ASan + UBSan.
# usage: scripts/fuzz.sh SECONDS [target...]    (targets: hb ndjson udpl ... or fuzz_hb ...;
#                                               default: all of them)
# Builds build-fuzz (clang, -DVIGIL_FUZZ=ON) when needed, then fuzzes each
# target for SECONDS, two at a time (the machine has 2 cores), on a working
# copy of its seed corpus in build-fuzz/fuzz-corpus/<target> (the committed
# tests/fuzz/corpus is only read; what the fuzzer finds accumulates in the
# copy across runs). Fails when any target crashes, leaks, times out on one
# input (FUZZ_TIMEOUT seconds) or breaks one of its invariants; the input is
# then in build-fuzz/fuzz-artifacts/. Prints executions per target.
# FUZZ_RUNS=N also stops each target after N executions.
# Env: FUZZ_BUILD (build-fuzz), FUZZ_PARALLEL (2), FUZZ_TIMEOUT (10), FUZZ_RUNS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:?usage: scripts/fuzz.sh SECONDS [target...]}
shift
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || { echo "fuzz.sh: SECONDS must be a positive integer" >&2; exit 2; }
build=${FUZZ_BUILD:-$root/build-fuzz}
parallel=${FUZZ_PARALLEL:-2}
timeout=${FUZZ_TIMEOUT:-10}
command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (scripts/deps.sh test)" >&2; exit 2; }

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j "$parallel" --target fuzz_targets >/dev/null

targets=()
if [ $# -eq 0 ]; then
  for f in "$root"/tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
else
  for t in "$@"; do targets+=("fuzz_${t#fuzz_}"); done
fi
for t in "${targets[@]}"; do
  [ -x "$build/$t" ] || { echo "fuzz.sh: no target $t (tests/fuzz/$t.c)" >&2; exit 2; }
done

mkdir -p "$build/fuzz-corpus" "$build/fuzz-artifacts" "$build/fuzz-logs"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT INT TERM

run_one() {
  local t=$1 work=$build/fuzz-corpus/$1 log=$build/fuzz-logs/$1.log
  mkdir -p "$work"
  [ -d "$root/tests/fuzz/corpus/$t" ] && cp -n "$root/tests/fuzz/corpus/$t"/* "$work"/ 2>/dev/null || true
  local args=(-max_total_time="$secs" -timeout="$timeout" -print_final_stats=1
              -artifact_prefix="$build/fuzz-artifacts/$t-")
  [ -f "$root/tests/fuzz/$t.dict" ] && args+=(-dict="$root/tests/fuzz/$t.dict")
  [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
  # tests/fuzz/<target>.options: extra libFuzzer flags of one target (one line).
  [ -f "$root/tests/fuzz/$t.options" ] && read -r -a extra <"$root/tests/fuzz/$t.options" && args+=("${extra[@]}")
  local rc=0
  "$build/$t" "${args[@]}" "$work" >"$log" 2>&1 || rc=$?
  echo "$rc" >"$build/fuzz-logs/$t.rc"
}

start=$(date +%s)
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
  run_one "$t" &
  pids+=($!)
done
wait || true
pids=()

fail=0
printf '%-12s %12s %9s %7s %7s  %s\n' target executions exec/s secs corpus result
for t in "${targets[@]}"; do
  log=$build/fuzz-logs/$t.log
  rc=$(cat "$build/fuzz-logs/$t.rc" 2>/dev/null || echo 99)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  n=$(find "$build/fuzz-corpus/$t" -type f | wc -l)
  res=ok
  if [ "$rc" != 0 ]; then
    fail=1
    res="FAILED (rc $rc): $(grep -m1 -E 'ERROR:|invariant failed|ALARM|runtime error' "$log" || true)"
  fi
  printf '%-12s %12s %9s %7s %7s  %s\n' "${t#fuzz_}" "${execs:-?}" "${rate:-?}" "${took:-?}" "$n" "$res"
done
echo "fuzz.sh: ${#targets[@]} targets, $(( $(date +%s) - start )) s; logs in $build/fuzz-logs"
if [ $fail -ne 0 ]; then
  echo "fuzz.sh: FAILED; the inputs are in $build/fuzz-artifacts/ (rerun: $build/fuzz_T FILE)" >&2
  for t in "${targets[@]}"; do
    [ "$(cat "$build/fuzz-logs/$t.rc")" = 0 ] || { echo "--- $t"; grep -A25 -m1 -E 'ERROR:|invariant failed|ALARM|runtime error' "$build/fuzz-logs/$t.log" | head -40; } >&2
  done
  exit 1
fi
