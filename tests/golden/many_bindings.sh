#!/bin/sh
# many_bindings.sh NNC — names at scale, each part within 10 s of CPU
# (ulimit -t: the machine's load does not count; a wall-clock limit failed
# at load 10-15 in session 41 with the same CPU as alone) (times are CPU,
# user+system, under nice 19 on the 2-vCPU Zen 4, load 5-8, session 36):
# 1. a model body of 100,000 bindings, each from the one before (b0 = x,
#    b1 = b0, ...), checked and predicted: the output b99999 * 2 gives 2 x
#    (0.2 s).  The name check of a body (sema_names.c) searched every
#    earlier name for each use and definition (--check: 30.6-30.7 s at the
#    start of session 36); its scope is an Env now, hashed past 32 names.
# 2. 40,000 bindings of a call that makes parameters (b1 = dense(b0, 2),
#    ...) checked: each call takes its binding's name (0.3 s).  Naming
#    compared every call with every other (23.8-24.0 s then); tallies in Envs.
# 3. 50,000 bindings of two nested unnamed calls (b1 = dense(dense(b0, 2),
#    2)): 99,998 default names, dense_1 ... dense_99998, numbered by the
#    uses/numbered tallies (0.8 s; a quadratic numbering loop, tried
#    once, passes 10 s).
# 4. 39,999 calls given one name (c1 = dense(c0, 2, name: "tied")), all
#    sharing one layer's parameters: each is checked against the first
#    call of the name (check_clash, 0.4 s); comparing with every earlier
#    call took 5.5 s at 20,000 and 62 s at 40,000.
nnc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
awk 'BEGIN { print "model m {"; print "    input x: f32[2]"; print "    b0 = x"
             for (i = 1; i < 100000; i++) printf "    b%d = b%d\n", i, i - 1
             print "    output b99999 * 2"; print "}" }' > "$tmp/many.nn"
got=$( (ulimit -t 10 && exec "$nnc" --predict --input x=1,-0.5 "$tmp/many.nn") ) || fail "--predict: exit status $? (137 or 152: past 10 s of CPU)"
[ "$got" = "2 -1" ] || fail "expected '2 -1', got '$got'"
echo "100,000 bindings: $got"
awk 'BEGIN { print "model m {"; print "    input x: f32[2]"; print "    b0 = x"
             for (i = 1; i < 40000; i++) printf "    b%d = dense(b%d, 2)\n", i, i - 1
             print "    output b39999"; print "}" }' > "$tmp/calls.nn"
(ulimit -t 10 && exec "$nnc" --check "$tmp/calls.nn") || fail "--check of 40,000 calls: exit status $? (137 or 152: past 10 s of CPU)"
echo "40,000 calls: checked"
awk 'BEGIN { print "model m {"; print "    input x: f32[2]"; print "    b0 = x"
             for (i = 1; i < 50000; i++) printf "    b%d = dense(dense(b%d, 2), 2)\n", i, i - 1
             print "    output b49999"; print "}" }' > "$tmp/nested.nn"
(ulimit -t 10 && exec "$nnc" --summary "$tmp/nested.nn") > "$tmp/nested.sum" || fail "--summary of 99,998 nested calls: exit status $? (137 or 152: past 10 s of CPU)"
last=$(grep -c '^dense_[0-9]* ' "$tmp/nested.sum")
[ "$last" = 99998 ] || fail "expected 99998 rows dense_N, found $last"
grep -q '^dense_99998  *dense ' "$tmp/nested.sum" || fail "no row dense_99998"
echo "99,998 nested unnamed calls: named dense_1 ... dense_99998"
awk 'BEGIN { print "model m {"; print "    input x: f32[2]"; print "    c0 = x"
             for (i = 1; i < 40000; i++) printf "    c%d = dense(c%d, 2, name: \"tied\")\n", i, i - 1
             print "    output c39999"; print "}" }' > "$tmp/tied.nn"
(ulimit -t 10 && exec "$nnc" --summary "$tmp/tied.nn") > "$tmp/tied.sum" || fail "--summary of 39,999 tied calls: exit status $? (137 or 152: past 10 s of CPU)"
grep -q '^parameters: 6 ' "$tmp/tied.sum" || fail "39,999 tied calls: expected one layer's 6 parameters, got $(grep '^parameters' "$tmp/tied.sum")"
echo "39,999 calls named tied: one layer's parameters"
