#!/usr/bin/env bash
# Run every unit test binary of a build under valgrind memcheck (make test-valgrind).
# Fails on any memcheck error or any definitely/indirectly lost block; each test's report
# is kept in BUILD/valgrind/<test>.log. Usage: scripts/valgrind.sh [BUILD_DIR] [REGEX]
set -uo pipefail
build=${1:-build}
filter=${2:-.}
out="$build/valgrind"
mkdir -p "$out"
fail=0 n=0
for t in "$build"/test_*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    name=$(basename "$t")
    [[ $name =~ $filter ]] || continue
    n=$((n + 1))
    # Children (fork tests) are followed too; CMocka's own longjmp-based failures are not
    # errors. --errors-for-leak-kinds: "definite,indirect" lost memory fails the test.
    if timeout 900 valgrind --quiet --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
        --trace-children=no --track-origins=yes --log-file="$out/$name.log" \
        "$t" >"$out/$name.out" 2>&1; then
        echo "ok    $name"
    else
        rc=$?
        echo "FAIL  $name (exit $rc; see $out/$name.log)"
        fail=$((fail + 1))
    fi
done
echo "valgrind: $n test binaries, $fail failed"
[ "$n" -gt 0 ] && [ "$fail" -eq 0 ]
