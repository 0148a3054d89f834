#!/bin/sh
# many_constants.sh NNC — 100,000 constants, each from the one before
# (C0 = 1, C1 = C0 + 1, ...), checked and predicted within 30 s: the model
# output x * C99999 gives 100000 x.  Binding and finding names went through
# every earlier one (a scope's bindings, the earlier declarations of each
# top-level name): 10,000 constants took 4.6 s and 100,000 about 100 s; they
# take well under a second now (sema.c: Env.index, index_top_names).
nnc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
awk 'BEGIN { printf "const C0 = 1"; for (i = 1; i < 100000; i++) printf ", C%d = C%d + 1", i, i - 1
             print ""; print "model m { input x: f32[2] output x * C99999 }" }' > "$tmp/many.nn"
got=$(timeout 30 "$nnc" --predict --input x=1,-0.5 "$tmp/many.nn") || fail "--predict: exit status $? (124: past 30 s)"
[ "$got" = "100000 -50000" ] || fail "expected '100000 -50000', got '$got'"
echo "100,000 constants: $got"
