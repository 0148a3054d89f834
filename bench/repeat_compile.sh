#!/bin/sh
# bench/repeat_compile.sh [NNC [L...]] — the whole compile (nnc --emit=obj
# --no-cache) of examples/shakespeare.nn with repeat(L, block), L = 16 32 64
# 128 by default: CPU seconds (user + sys) and peak RSS from /usr/bin/time,
# and nnc -v's stages.  Compare two nncs side by side (same load) with
#   bench/repeat_compile.sh old/nnc 64 & bench/repeat_compile.sh build/nnc 64; wait
# Compile memory should grow linearly in L, and CPU nearly so (issue 17).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
nnc=${1:-$root/build/nnc}
[ $# -gt 0 ] && shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for L in ${*:-16 32 64 128}; do
    sed "s/L = 4/L = $L/" "$root/examples/shakespeare.nn" >"$tmp/rep$L.nn"
    /usr/bin/time -f "L=$L: %U s user, %S s sys, %e s wall, peak RSS %M KB" \
        "$nnc" --emit=obj --no-cache -v -o "$tmp/rep$L.o" "$tmp/rep$L.nn" 2>&1 | tail -2
done
