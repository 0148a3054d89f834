#!/bin/sh
# check.sh NNC STATUS EXPECTED DIR ARGS... — run "NNC ARGS..." in DIR and
# compare with the golden file EXPECTED.  STATUS 0: stdout must equal
# EXPECTED and stderr be empty.  STATUS warn: the exit status must be 0,
# stdout empty and stderr (the warnings) equal EXPECTED.  Otherwise: the
# exit status must be STATUS, stdout empty, and stderr equal EXPECTED.  With NNC_UPDATE_GOLDEN=1 the
# output is written to EXPECTED instead (review the diff before committing).
nnc=$1 status=$2 expected=$3 dir=$4
shift 4
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
(cd "$dir" && NO_COLOR=1 "$nnc" "$@") >"$out" 2>"$err"
got=$?
if [ "$status" = warn ]; then status=0 actual=$err other=$out
elif [ "$status" = 0 ]; then actual=$out; other=$err; else actual=$err; other=$out; fi
if [ -n "$NNC_UPDATE_GOLDEN" ]; then
    cp "$actual" "$expected"
    echo "updated $expected"
    exit 0
fi
fail=0
if [ "$got" != "$status" ]; then
    echo "exit status $got, expected $status"
    fail=1
fi
if [ -s "$other" ]; then
    echo "unexpected output on the other stream:"
    cat "$other"
    fail=1
fi
if [ ! -f "$expected" ]; then
    echo "missing golden file $expected (run with NNC_UPDATE_GOLDEN=1)"
    exit 1
fi
if ! diff -u "$expected" "$actual"; then
    fail=1
fi
exit $fail
