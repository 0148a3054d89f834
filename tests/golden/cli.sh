#!/bin/sh
# cli.sh NNC CASE.args ROOT — one command-line test.  CASE.args holds the
# arguments on its first line and the expected exit status on its second;
# CASE.out the expected stdout and CASE.err the expected stderr (absent:
# empty); CASE.in, when there, is its standard input.  Runs in ROOT.
# NNC_UPDATE_GOLDEN=1 rewrites .out/.err.
nnc=$1 case=$2 root=$3
base=${case%.args}
args=$(sed -n 1p "$case")
want=$(sed -n 2p "$case")
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
# shellcheck disable=SC2086  # word splitting of the arguments is intended
input=/dev/null
[ -f "$base.in" ] && input=$base.in
(cd "$root" && NO_COLOR=1 "$nnc" $args) <"$input" >"$out" 2>"$err"
got=$?
if [ -n "$NNC_UPDATE_GOLDEN" ]; then
    if [ -s "$out" ]; then cp "$out" "$base.out"; else rm -f "$base.out"; fi
    if [ -s "$err" ]; then cp "$err" "$base.err"; else rm -f "$base.err"; fi
    exit 0
fi
fail=0
[ "$got" = "$want" ] || { echo "exit status $got, expected $want"; fail=1; }
for s in out err; do
    eval "actual=\$$s"
    if [ -f "$base.$s" ]; then
        diff -u "$base.$s" "$actual" || fail=1
    elif [ -s "$actual" ]; then
        echo "unexpected std$s:"; cat "$actual"; fail=1
    fi
done
exit $fail
