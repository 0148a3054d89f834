#!/bin/sh
# bench/kernel_threads.sh — the work a second thread adds to a training
# step: perf's samples (cpu-clock, 4 kHz: 0.25 ms of CPU each) in the step's
# kernels (nnc_train_step.*) at --threads 1 and at --threads 2, and in the
# pool's waiting (worker_main's spinning, futex calls), for the MNIST MLP
# and the character GPT, for two or more nnc binaries side by side,
# alternating.  Samples count CPU time, not wall time, so a loaded machine
# disturbs them less than step times (it still slows the caches: the
# samples of rt_mnist_load, the same work in every MLP run, show by how
# much).  kernels at 2 / kernels at 1 is the second thread's extra work:
# 1.00 when the threads split the work with nothing done twice.
#
# usage: bench/kernel_threads.sh ROUNDS NNC...   (needs NNC_DATA, perf)
#        each NNC with libnncrt.a beside it (a copy of build/), e.g.
#        mkdir /tmp/old && cp build/nnc build/libnncrt.a /tmp/old/
set -eu
rounds=$1
shift
. "$(dirname "$0")/perf_setup.sh"
trainers mlp mnist_mlp "$@"
trainers gpt shakespeare "$@"
for r in $(seq 1 "$rounds"); do
    for m in mlp gpt; do
        steps=2000
        [ $m = gpt ] && steps=20
        i=0
        for nnc in "$@"; do
            i=$((i + 1))
            for t in 1 2; do
                samples "$tmp/$m$i" --steps $steps --threads $t | awk -v m=$m -v t=$t -v r=$r -v n="$nnc" '
                    /nnc_train_step/ {k += $2} /worker_main|futex|lll_lock/ {w += $2} /rt_mnist_load|rt_text_load/ {l += $2}
                    END {printf "round %d %s threads %d: kernels %6d wait %5d load %5d  %s\n", r, m, t, k, w, l, n}'
            done
        done
    done
done
