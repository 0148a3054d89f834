#!/bin/sh
# bench/gemm.sh — the tiled matmul alone, on one thread, as a fraction of
# the FMA loop's rate measured in the same process (bench/gemm.c):
# dense(x, N) at batch M, x of K features, i.e. C[M, N] = x[M, K]·W[N, K]ᵀ + b.
#
#   bench/gemm.sh NNC M K N [CALLS [ROUNDS]]
#   e.g. bench/gemm.sh build/nnc 64 784 128 300    (the MNIST MLP's first layer)
#        NNC_TILE=6,4 bench/gemm.sh build/nnc 512 512 512 20    (another register tile)
set -e
nnc=$1 M=$2 K=$3 N=$4 calls=${5:-20} rounds=${6:-7}
[ -n "$N" ] || { echo "usage: $0 NNC M K N [CALLS [ROUNDS]]" >&2; exit 2; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cat > "$d/mm.nn" <<EOM
model mm {
    input x: f32[$K]
    output dense(x, $N)
}
EOM
here=$(cd "$(dirname "$0")" && pwd)
"$nnc" --no-cache --batch "$M" --emit=so -o "$d/libmm.so" "$d/mm.nn"
cc -O2 -march=native -I"$d" "$here/gemm.c" -L"$d" -lmm -Wl,-rpath,"$d" -lz -lm -o "$d/gemm"
"$d/gemm" $((2 * M * K * N)) "$calls" "$rounds" "$M"
