#!/bin/sh
# bench/kernels.sh — any example's training step kernel by kernel, for two or
# more nnc binaries side by side: each writes a trainer of examples/MODEL.nn
# (`nnc FILE -o`, so perf sees the kernels' names), which runs STEPS steps on
# one thread under `perf record` (cpu-clock, 4 kHz: 0.25 ms a sample), the
# binaries in turn, ROUNDS times.  Printed per kernel: the fewest samples of
# any round for each binary (the round other work disturbed least) and its
# ratio to the first binary's; KERNELS is all of the step's kernels.  The
# trainers' kernels run the evaluation's forward pass too.  Kernels that no
# binary gave 15 samples in some round are left out.
#
# usage: bench/kernels.sh MODEL STEPS ROUNDS NNC...   (needs NNC_DATA, perf;
#        each NNC with libnncrt.a beside it, e.g. a copy of build/), e.g.
#        bench/kernels.sh mnist_mlp 3000 3 /tmp/old/nnc build/nnc
#        (the MLP 3000 steps, the CNN 100, the GPT (shakespeare) 12)
set -eu
model=$1 steps=$2 rounds=$3
shift 3
. "$(dirname "$0")/perf_setup.sh"
trainers t "$model" "$@"
for r in $(seq 1 "$rounds"); do
    i=0
    for nnc in "$@"; do
        i=$((i + 1))
        samples "$tmp/t$i" --steps "$steps" --threads 1 | awk -v b=$i -v r=$r '/%/ && !/^#/ {print b, r, $2, $4}' >> "$tmp/rows"
    done
done
/usr/bin/python3 - "$tmp/rows" "$@" <<'PY'
import collections, sys
n = collections.defaultdict(lambda: collections.defaultdict(lambda: collections.defaultdict(int)))
for line in open(sys.argv[1]):
    b, r, c, s = line.split()[:4]
    n[s][b][r] += int(c)
    if s.startswith("nnc_train_step"):
        n["KERNELS"][b][r] += int(c)
bins = [str(i + 1) for i in range(len(sys.argv) - 2)]
least = lambda d: min(d.values()) if d else 0
for i, path in enumerate(sys.argv[2:]):
    print(f"  [{i + 1}] {path}")
print(f"{'kernel (fewest samples of a round)':48}" + "".join(f"{'[' + b + ']':>8}" for b in bins) + "  ratios to [1]")
rows = [(s, d) for s, d in n.items() if (s == "KERNELS" or s.startswith("nnc_")) and max(least(x) for x in d.values()) >= 15]
for s, d in sorted(rows, key=lambda kv: -max(least(x) for x in kv[1].values())):
    base = least(d.get("1", {})) or 1
    print(f"{s[:48]:48}" + "".join(f"{least(d.get(b, {})):8d}" for b in bins) + "  "
          + " ".join(f"{least(d.get(b, {})) / base:.2f}" for b in bins[1:]))
PY
