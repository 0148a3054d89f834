#!/bin/sh
# bench/ctest_cpu.sh BUILD_A BUILD_B [REGEX [ROUNDS]] — the CPU seconds
# (user + system, every process a test starts) of the tests matching REGEX
# (default: all) in two build trees, run alternately A B A B ... ROUNDS
# times (default 2), ctest -j1 each.  On a shared machine CPU time, not
# wall time, is what compares: a 2-core ctest pass takes about its CPU
# seconds / 2 when both cores are busy.  ASAN_OPTIONS A / B: ASAN_A, ASAN_B
# (default: scripts/test's detect_leaks=1 for both; each build's tests add
# their own defaults, tests/CMakeLists.txt).  NNC_DATA as for the tests.
# Example (the sanitizer pass at -O0 against -O1):
#   bench/ctest_cpu.sh build-asan-O0 build-asan 'unit.pipeline|grad.mnist_cnn' 2
A=$1 B=$2 RE=${3:-.} N=${4:-2}
[ -d "$A" ] && [ -d "$B" ] || { echo "usage: bench/ctest_cpu.sh BUILD_A BUILD_B [REGEX [ROUNDS]]" >&2; exit 2; }
export NNC_DATA=${NNC_DATA:-/work/shared/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
while [ $i -lt "$N" ]; do
  for w in A B; do
    eval dir=\$$w
    eval opts=\${ASAN_$w:-detect_leaks=1}
    ASAN_OPTIONS=$opts UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      /usr/bin/time -f '%U %S %e' -o "$tmp/t" ctest --test-dir "$dir" -R "$RE" -j1 --timeout 0 >"$tmp/log" 2>&1 ||
      { echo "$w ($dir): a test failed" >&2; tail -5 "$tmp/log" >&2; }
    read -r u s e <"$tmp/t"
    echo "$w round $((i + 1)): $(echo "$u + $s" | bc) CPU-s ($e s wall) $(grep -c 'Test *#' "$tmp/log") tests"
  done
  i=$((i + 1))
done
