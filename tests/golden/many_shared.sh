#!/bin/sh
# many_shared.sh NNC — parameter names shared at scale, checked within 15 s
# of CPU (ulimit -t: the machine's load does not count): 15,000 names each
# shared by two dense calls in a chain the loss reads (b1 = dense(b0, 2,
# name: "s1") + dense(b0, 2, name: "s1"), ...), and 15,000 more shared
# pairs the loss does not read, one warning each.  Each registration
# searched every parameter for its name (sema_add_param), each sharing use
# scanned them all (sema_shared_use, lower.c's param) and each warning
# compared its place with every earlier one: 26.8 s of CPU at the start of
# session 41 (2-vCPU Zen 4, load 13), 4.3 s now that names and prefixes
# are indexed (sema_param_find, Sema.under) and warned places hashed.
# Not run under the sanitizers, which are slower than the limit allows.
nnc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
n=15000
awk -v n=$n 'BEGIN {
  print "model m {"; print "    input x: f32[2]"; print "    target y: f32[1]"; print "    b0 = x"
  for (i = 1; i <= n; i++) printf "    b%d = dense(b%d, 2, name: \"s%d\") + dense(b%d, 2, name: \"s%d\")\n", i, i - 1, i, i - 1, i
  for (i = 1; i <= n; i++) printf "    u%d = dense(x, 2, name: \"u%d\") + dense(x, 2, name: \"u%d\")\n", i, i, i
  printf "    output b%d\n", n; printf "    loss mse(dense(b%d, 1), y)\n", n; print "}"
  print "train {"; print "    data = csv(\"d.csv\")"; print "    optimizer = sgd(lr: 0.1)"; print "    epochs = 1"; print "}" }' > "$tmp/shared.nn"
(ulimit -t 15 && exec "$nnc" --check --color=never "$tmp/shared.nn") > "$tmp/out" 2> "$tmp/err"
status=$?
[ $status = 0 ] || fail "--check: exit status $status (a signal past 128: over 15 s of CPU); $(head -c 300 "$tmp/err")"
[ -s "$tmp/out" ] && fail "unexpected output: $(head -c 300 "$tmp/out")"
warned=$(grep -c ': warning: ' "$tmp/err")
[ "$warned" = $n ] || fail "expected $n warnings, got $warned"
first=$(head -n 1 "$tmp/err")
want="$tmp/shared.nn:$((n + 5)):10: warning: dense creates 'u1.weight' and 1 more parameter, which the loss does not use: training never changes them"
[ "$first" = "$want" ] || fail "first warning: expected '$want', got '$first'"
echo "$n shared names and $n shared pairs unread: checked, $warned warnings"
