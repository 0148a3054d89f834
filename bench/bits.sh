#!/bin/sh
# bench/bits.sh OLD_NNC NEW_NNC — do two nnc binaries train the examples to
# the same checkpoint bytes?  xor 40 epochs, the MNIST MLP 100 steps, the CNN
# 20 and the GPT 3, each with --save, at --threads $THREADS (default 2), each
# binary with an empty cache of its own (a miss, what a change to the
# compiler affects).  Prints "NAME: same bytes" or "NAME: DIFFERENT" per
# model; exits 1 if any differs or fails.  NNC_DATA as for the tests
# (default /work/shared/data).
A=$1 B=$2
[ -x "$A" ] && [ -x "$B" ] || { echo "usage: bench/bits.sh OLD_NNC NEW_NNC" >&2; exit 2; }
A=$(cd "$(dirname "$A")" && pwd)/$(basename "$A")
B=$(cd "$(dirname "$B")" && pwd)/$(basename "$B")
T=${THREADS:-2}
DATA=${NNC_DATA:-/work/shared/data}
cd "$(dirname "$0")/../examples" || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
for spec in "xor.nn --epochs 40" "mnist_mlp.nn --steps 100" "mnist_cnn.nn --steps 20" "shakespeare.nn --steps 3"; do
  set -- $spec
  for w in A B; do
    eval bin=\$$w
    mkdir -p "$tmp/cache$w" && rm -rf "$tmp/cache$w"/*
    NNC_CACHE_DIR="$tmp/cache$w" NNC_DATA="$DATA" "$bin" --jit --threads "$T" "$@" --save "$tmp/$w.ck" >/dev/null 2>&1 ||
      { echo "$1: $w failed"; rc=1; }
  done
  if cmp -s "$tmp/A.ck" "$tmp/B.ck"; then echo "$1: same bytes"; else echo "$1: DIFFERENT"; rc=1; fi
  rm -f "$tmp/A.ck" "$tmp/B.ck"
done
exit $rc
