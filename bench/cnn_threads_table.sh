#!/bin/sh
# bench/cnn_threads_table.sh — the CNN's step kernel by kernel at one thread
# and at two, for one nnc: the trainer `nnc examples/mnist_cnn.nn -o` writes
# runs STEPS steps under `perf record` (cpu-clock, 4 kHz: 0.25 ms of CPU a
# sample) at --threads 1 and at --threads 2; printed per kernel, the largest
# first: ms of CPU per step at one thread, and at two on the calling thread
# and on the worker (perf's samples per process id: the thread that loaded
# MNIST, rt_mnist_load, is the caller).  Kernels that do not split show up
# on one column of the two; the calling thread's column summed bounds the
# two-thread step from below.  Samples include the evaluation's forward
# pass after the last step (10,000 test examples: about 157 forward
# batches, so forward kernels count ~1.5 times per step); MNIST's loading
# (rt_mnist_load) is the same work in every run: how much it moves between
# runs is how much the machine disturbed them.
#
# usage: bench/cnn_threads_table.sh STEPS NNC   (needs NNC_DATA, perf;
#        NNC with libnncrt.a beside it, e.g. a copy of build/)
set -eu
steps=$1
. "$(dirname "$0")/perf_setup.sh"
trainers t mnist_cnn "$2"
for t in 1 2; do
    perf record -q -F 4000 -o "$tmp/p$t.data" "$tmp/t1" --steps "$steps" --threads $t >/dev/null 2>&1
    perf report -i "$tmp/p$t.data" --no-children --sort pid,sym -n 2>/dev/null | grep -v '^#' \
        | awk -v t=$t '$2 > 0 && NF >= 5 {print t, $2, $3, $5}' >> "$tmp/rows"
done
awk -v steps="$steps" '
    { n[$1 " " $3 " " $4] += $2; if ($4 == "rt_mnist_load" && $1 == 2) caller = $3; pids[$1 " " $3] = 1; syms[$4] = 1 }
    END {
        for (s in syms) {
            if (s !~ /nnc_train_step|rt_mnist_load|worker_main/) continue
            one = 0; c = 0; w = 0
            for (k in n) {
                split(k, f, " ")
                if (f[3] != s) continue
                if (f[1] == 1) one += n[k]
                else if (f[2] == caller) c += n[k]
                else w += n[k]
            }
            if (s ~ /nnc_train_step/) { T1 += one; C += c; W += w }
            sub(/^nnc_train_step\./, "", s)
            printf "%-34s %8.3f %8.3f %8.3f\n", s, one * 0.25 / steps, c * 0.25 / steps, w * 0.25 / steps
        }
        printf "%-34s %8.3f %8.3f %8.3f\n", "(step kernels)", T1 * 0.25 / steps, C * 0.25 / steps, W * 0.25 / steps
    }' "$tmp/rows" | sort -k2,2 -rn | awk 'BEGIN {printf "%-34s %8s %8s %8s\n", "kernel (ms CPU per step)", "t1", "t2 call", "t2 work"} {print}'
