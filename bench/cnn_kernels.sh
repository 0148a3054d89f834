#!/bin/sh
# bench/cnn_kernels.sh — the CNN's training step kernel by kernel, for two or
# more nnc binaries side by side: each writes a trainer of
# examples/mnist_cnn.nn (`nnc FILE -o`, so perf sees the kernels' names),
# which runs STEPS steps on one thread under `perf record`, in turn, ROUNDS
# times; printed: perf's samples per kernel (cpu-clock, 4 kHz: 0.25 ms
# each) of every run, the largest first.  Samples of rt_mnist_load and
# inflate_fast are the same work in every run (loading MNIST): how much
# they move between runs is how much the machine disturbed them.
# The trainers' kernels run the evaluation's forward pass too (10000 test
# examples after the last step).
#
# usage: bench/cnn_kernels.sh ROUNDS STEPS NNC...   (needs NNC_DATA, perf)
#        each NNC with libnncrt.a beside it (a copy of build/), e.g.
#        mkdir /tmp/old && cp build/nnc build/libnncrt.a /tmp/old/
set -eu
rounds=$1 steps=$2
shift 2
. "$(dirname "$0")/perf_setup.sh"
trainers t mnist_cnn "$@"
for r in $(seq 1 "$rounds"); do
    i=0
    for nnc in "$@"; do
        i=$((i + 1))
        echo "== round $r: $nnc"
        samples "$tmp/t$i" --steps "$steps" --threads 1 \
            | awk '/%/ && !/^#/ && ($4 ~ /nnc_train_step|rt_mnist_load|inflate_fast/) {printf "%8d  %s\n", $2, $4}' | head -16
    done
done
