#!/usr/bin/env bash
# bench/fuzz_speed.sh CORPUS N ROUNDS TARGET... — inputs a CPU second of
# libFuzzer targets on one corpus, side by side (docs/testing.md, "The front
# end's speed").  Each round runs every TARGET (a fuzz_front binary, e.g. one
# built from an older commit and this tree's build-fuzz-ub/fuzz_front) in
# turn: a replay of CORPUS alone (-runs=0: what loading it costs), then
# fuzzing a fresh copy of it with -seed=1 until N inputs in all (-runs=N,
# those loaded included).  Prints per run the mutated inputs a CPU second,
#   (N - inputs loaded) / (CPU of the run - CPU of the replay),
# and the coverage points reached.  A TARGET may carry libFuzzer options after
# commas: BIN,-reload=0 (scripts/fuzz --campaign's since this was written).
#   bench/fuzz_speed.sh CORPUS 46641 2 OLD/fuzz_front build-fuzz-ub/fuzz_front,-reload=0
set -euo pipefail
corpus=$1 n=$2 rounds=$3
shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((r = 1; r <= rounds; r++)); do
    for spec in "$@"; do
        IFS=, read -r -a words <<<"$spec"
        bin=${words[0]} extra=("${words[@]:1}")
        rm -rf "$work/c" && cp -r "$corpus" "$work/c"
        /usr/bin/time -f '%U %S' -o "$work/cpu0" "$bin" -rss_limit_mb=2048 -timeout=20 -runs=0 "$work/c" \
            >"$work/log0" 2>&1 || { tail -20 "$work/log0"; echo "round $r $spec: replaying the corpus failed"; exit 1; }
        rm -rf "$work/c" && cp -r "$corpus" "$work/c"
        /usr/bin/time -f '%U %S' -o "$work/cpu" "$bin" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 \
            -max_len=8192 -dict="$root/tests/fuzz/nn.dict" -seed=1 -runs="$n" -print_final_stats=1 \
            ${extra[@]+"${extra[@]}"} "$work/c" >"$work/log" 2>&1 \
            || { tail -20 "$work/log"; echo "round $r $spec: the fuzzer stopped (a finding?): see above"; exit 1; }
        ex=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
        init=$(grep -m1 'INITED' "$work/log" | grep -o '^#[0-9]*' | tr -d '#' || true)
        cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
        awk -v r="$r" -v b="$spec" -v e="$ex" -v i="$init" -v cov="$cov" -v c="$(awk '{print $1 + $2}' "$work/cpu")" \
            -v c0="$(awk '{print $1 + $2}' "$work/cpu0")" 'BEGIN {
                printf "round %d %s: %d inputs (%d loaded), %.1f CPU s (load %.1f): %.0f mutated inputs a CPU second, %d coverage points\n",
                       r, b, e, i, c, c0, (e - i) / (c - c0), cov }'
    done
done
