# bench/perf_setup.sh — sourced by the benches that compare nnc binaries by
# perf's samples (cnn_kernels.sh, kernel_threads.sh): $root, a temporary
# folder $tmp removed at exit, and
#   trainers NAME MODEL NNC...  each NNC's trainer of examples/MODEL.nn as
#                               $tmp/NAME1, $tmp/NAME2, ... (`nnc FILE -o`, so
#                               perf sees the kernels' names), compiled
#                               through a cache in $tmp (nothing of
#                               ~/.cache/nnc is read or filled);
#   samples CMD...              CMD run under `perf record` (cpu-clock,
#                               4 kHz: 0.25 ms of CPU a sample), its output
#                               dropped; prints perf's samples per symbol.
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

trainers() {
    name=$1 model=$2
    shift 2
    i=0
    for nnc in "$@"; do
        i=$((i + 1))
        NNC_CACHE_DIR="$tmp/cache" "$nnc" "$root/examples/$model.nn" -o "$tmp/$name$i"
    done
}

samples() {
    perf record -q -F 4000 -o "$tmp/p.data" "$@" >/dev/null 2>&1
    perf report -i "$tmp/p.data" --no-children --sort symbol -n 2>/dev/null
}
