#!/bin/sh
# many_bindings.sh NNC — a model body of 100,000 bindings, each from the one
# before (b0 = x, b1 = b0, ...), checked and predicted within 10 s: the
# output b99999 * 2 gives 2 x.  The name check of a body (sema_names.c)
# searched every earlier name for each use and definition: 10,000 bindings
# took 0.15 s of CPU, 40,000 3.0 s and 100,000 about 19 s; its scope is an
# Env now, hashed past 32 names as sema's scopes are (well under a second).
# Then 40,000 bindings of a call that makes parameters (b1 = dense(b0, 2),
# ...) checked within 10 s: naming their parameters compared every call
# with every other and scanned the body per call (20,000: 4.7 s of CPU,
# 40,000 about 19 s); the tallies are Envs now (0.15 s at 40,000).
nnc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
awk 'BEGIN { print "model m {"; print "    input x: f32[2]"; print "    b0 = x"
             for (i = 1; i < 100000; i++) printf "    b%d = b%d\n", i, i - 1
             print "    output b99999 * 2"; print "}" }' > "$tmp/many.nn"
got=$(timeout 10 "$nnc" --predict --input x=1,-0.5 "$tmp/many.nn") || fail "--predict: exit status $? (124: past 10 s)"
[ "$got" = "2 -1" ] || fail "expected '2 -1', got '$got'"
echo "100,000 bindings: $got"
awk 'BEGIN { print "model m {"; print "    input x: f32[2]"; print "    b0 = x"
             for (i = 1; i < 40000; i++) printf "    b%d = dense(b%d, 2)\n", i, i - 1
             print "    output b39999"; print "}" }' > "$tmp/calls.nn"
timeout 10 "$nnc" --check "$tmp/calls.nn" || fail "--check of 40,000 calls: exit status $? (124: past 10 s)"
echo "40,000 calls: checked"
