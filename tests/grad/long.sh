#!/bin/sh
# long.sh NNC ROOT — a long --gradcheck says so early, on stderr: after one
# evaluation of the loss (timed on the second, the first touching the
# memory) a note gives the time the checks take and the batch that takes
# the note's bound (10 s; NNC_TEST_GRADCHECK_NOTE, seconds, makes it small
# here), and each tensor's row is printed when it is checked.  An ordinary
# check (examples/xor.nn at batch 2) says nothing on stderr, and the note
# changes nothing on stdout.  (--batch 16777216 of xor took 16 minutes,
# silent after the memory check.)  Times vary: they are replaced by T, E, B.
nnc=$1 root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
model=$root/examples/xor.nn
"$nnc" --gradcheck "$model" > "$tmp/out" 2> "$tmp/err" || fail "--gradcheck at batch 2: exit $?"
[ -s "$tmp/err" ] && fail "batch 2 said on stderr: $(cat "$tmp/err")"
"$nnc" --gradcheck --batch 16384 "$model" > "$tmp/plain" 2> "$tmp/err" || fail "batch 16384: exit $?"
[ -s "$tmp/err" ] && fail "batch 16384 said on stderr: $(cat "$tmp/err")"
NNC_TEST_GRADCHECK_NOTE=0.01 "$nnc" --gradcheck --batch 16384 "$model" > "$tmp/noted" 2> "$tmp/err" \
    || fail "batch 16384 with the note: exit $?"
cmp "$tmp/plain" "$tmp/noted" || fail "the note changed stdout"
sed -E "s|$root/||; s/about [0-9.]+ (s|min|h):/about T:/; s/, [0-9.e+-]+ s each/, E s each/; \
s/a batch of about [0-9]+ /a batch of about B /" "$tmp/err" > "$tmp/err2"
cat > "$tmp/want" <<'END'
examples/xor.nn: note: --gradcheck takes about T: the gradients and 32 evaluations of the loss at batch 16384, E s each (up to 3 times as many when a step h is retried); each tensor's row is printed when it is checked
examples/xor.nn: note: a batch of about B takes 0.01 s (--batch N)
END
diff -u "$tmp/want" "$tmp/err2" || fail "the note"
cat "$tmp/err"
