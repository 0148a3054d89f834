#!/bin/sh
# run.sh NNC ROOT CASE — nnc --predict end to end (tests/predict/npy.py writes
# the checkpoints and arrays and reads .npy without numpy).
#   primer   the primer's worked example with its weights in a checkpoint
#            (--load) and typed in (examples/primer.nn, param statements):
#            x = (1.5, -0.7) gives exactly "1.066"; --trace shows
#            h = (1.61, 0, 0) and y = 1.066 with their source lines
#   files    three examples from .npy (float32, float64, int32, int64) and
#            from .csv give the same lines as the numbers typed one by one;
#            -o out.npy holds them as float32 [3, 1]
#   trained  examples/xor.nn trained by --jit --save: --predict --load of that
#            checkpoint (with its optimizer state) on the four rows of a .csv
#            puts each on the right side of 0.5 by 0.1 at least
#   badfiles a .npy that is not one, of the wrong size per example, of an
#            unsupported dtype or in Fortran order, a ragged .csv, one with a
#            nan, numbers beyond f32's range (a .csv's 1e39, a float64 .npy's
#            1e300, a typed -1e39), hexadecimal numbers (0x10 in a .csv,
#            a typed 0x1p3), float token ids (.npy) and ids out of range
#            (.csv, .npy, each said where as a nan is): exit 1 with the
#            reason, nothing on stdout; a .csv with a UTF-8 byte-order mark
#            predicts as the numbers typed
#   wide     softmax(dense(x, N)) of one example, the few-rows product: for
#            N = 20000 (625 panel items with AVX-512's 32 columns a panel,
#            each once; it wrote 624 rows past its output and crashed) the same values as each of 6 examples
#            (the tiled path) within 1e-6 relative, summing to 1 within 1e-5;
#            for N = 2500000 (10 MB a row temporary, past a thread's stack)
#            every value there, summing to 1 within 1e-3
#   layers   --trace inside user layers (tests/predict/layers.nn): a layer's
#            bindings and param statements under their parameter paths
#            (u.z, units.1.k), two spaces deeper a layer, before the
#            statement that used the layer; repeat's copies each; the
#            loss's layer not shown; the values worked out by hand; and
#            repeat's arguments after x (tests/predict/repeat_args.nn) reach
#            every copy by position and by name: 8 24 1 3, by hand
#   axes     softmax, log_softmax (at a temperature) and logsumexp (kept,
#            broadcast back) along axes other than the last, and softmax
#            over a list of axes, of one [2, 2, 3] example: the 24
#            probabilities within 1e-6 relative and the 24 logs within 1e-5
#            absolute of their definitions computed in double by Python's
#            math module
#   identity an output that is an input (output x, and x * 1, x + 0, x[:],
#            flatten(x) of a rank-1 x, which simplify folds to x) is a copy
#            of it: exactly the numbers typed; a trainable model whose
#            output is its input likewise after --jit --save and --load
#            (it was an internal error: the prediction not in the
#            activation slab)
nnc=$1 root=$2 case=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
py=/usr/bin/python3
npy="$root/tests/predict/npy.py"
model="$root/tests/predict/primer.nn"
"$py" "$npy" primer "$tmp/ck.safetensors" || fail "writing the checkpoint"
predict() { "$nnc" --predict "$model" --load "$tmp/ck.safetensors" "$@"; }
case $case in
primer)
    got=$(predict --input x=1.5,-0.7) || fail "--predict"
    echo "$got"
    [ "$got" = "1.066" ] || fail "expected 1.066, got '$got'"
    # as one of several ranks of mpirun (its environment says so), refused: every rank printed the predictions
    OMPI_COMM_WORLD_SIZE=2 predict --input x=1.5,-0.7 > "$tmp/out" 2> "$tmp/err"; got=$?
    [ "$got" = 2 ] && [ ! -s "$tmp/out" ] && [ "$(head -1 "$tmp/err")" = "nnc: --predict runs in one process, but \
mpirun started 2; run it without mpirun" ] || fail "--predict under mpirun: exit $got, $(cat "$tmp/err")"
    got=$(predict --input "x= 1.5, -0.7 ") || fail "--predict with blanks around the numbers"
    [ "$got" = "1.066" ] || fail "blanks around the numbers: expected 1.066, got '$got'"
    predict --input x=1.5,-0.7 --trace > "$tmp/trace" || fail "--trace"
    cat "$tmp/trace"
    cat > "$tmp/want" <<'END'
primer.nn:4: x: f32[2] = (1.5, -0.7)
primer.nn:6: z: f32[3] = (1.61, -1.03, -0.58)
primer.nn:7: h: f32[3] = (1.61, 0, 0)
primer.nn:8: y: f32[1] = 1.066
primer.nn:9: output: f32[1] = 1.066
END
    diff -u "$tmp/want" "$tmp/trace" || fail "--trace"
    # the same network with its weights typed in (param statements): no checkpoint
    got=$("$nnc" --predict --input x=1.5,-0.7 "$root/examples/primer.nn") || fail "--predict examples/primer.nn"
    [ "$got" = "1.066" ] || fail "examples/primer.nn: expected 1.066, got '$got'"
    "$nnc" --predict --trace --input x=1.5,-0.7 "$root/examples/primer.nn" | grep -qx \
        'primer.nn:20: h: f32\[3\] = (1.61, 0, 0)' || fail "examples/primer.nn --trace: no h = (1.61, 0, 0)" ;;
layers)
    "$nnc" --predict --trace --input x=1.5,-0.7 "$root/tests/predict/layers.nn" > "$tmp/trace" || fail "--trace"
    cat > "$tmp/want" <<'END'
layers.nn:22: x: f32[2] = (1.5, -0.7)
layers.nn:10:   param u.g: f32[2] = (2, -1)
layers.nn:5:     param u.z.b: f32[2] = (0.5, -0.5)
layers.nn:11:   u.z: f32[2] = (3.5, 0.2)
layers.nn:12:   u.k = 3
layers.nn:24: u: f32[2] = (10.5, 0.6)
layers.nn:10:   param units.0.g: f32[2] = (2, -1)
layers.nn:5:     param units.0.z.b: f32[2] = (0.5, -0.5)
layers.nn:11:   units.0.z: f32[2] = (3.5, 0.2)
layers.nn:12:   units.0.k = 3
layers.nn:10:   param units.1.g: f32[2] = (2, -1)
layers.nn:5:     param units.1.z.b: f32[2] = (0.5, -0.5)
layers.nn:11:   units.1.z: f32[2] = (21.5, -1.1)
layers.nn:12:   units.1.k = 3
layers.nn:25: r: f32[2] = (64.5, 0)
layers.nn:10:   param unit.g: f32[2] = (2, -1)
layers.nn:5:     param unit.z.b: f32[2] = (0.5, -0.5)
layers.nn:11:   unit.z: f32[2] = (129.5, -0.5)
layers.nn:12:   unit.k = 3
layers.nn:26: output: f32[2] = (204.75, 0.6)
END
    diff -u "$tmp/want" "$tmp/trace" || fail "--trace inside layers"
    # repeat's arguments after x, by position and by name, in every copy
    got=$("$nnc" --predict --input x=1,3 "$root/tests/predict/repeat_args.nn") || fail "repeat_args.nn"
    [ "$got" = "8 24 1 3" ] || fail "repeat_args.nn: expected '8 24 1 3', got '$got'" ;;
files)
    # one example at a time, typed
    for x in 1.5,-0.7 2,1 -1,3; do predict --input x=$x || fail "--input x=$x"; done > "$tmp/typed"
    cat "$tmp/typed"
    [ "$(wc -l < "$tmp/typed")" = 3 ] || fail "three lines expected"
    "$py" "$npy" write "$tmp/f4.npy" f4 3x2 1.5,-0.7,2,1,-1,3
    "$py" "$npy" write "$tmp/f8.npy" f8 3x2 1.5,-0.7,2,1,-1,3
    printf '1.5,-0.7\n2, 1\n\n-1,3\n' > "$tmp/x.csv"
    for f in f4.npy f8.npy x.csv; do
        predict --input "x=$tmp/$f" > "$tmp/out" || fail "--input x=$f"
        diff -u "$tmp/typed" "$tmp/out" || fail "$f differs from the typed numbers"
    done
    for t in i4 i8; do
        "$py" "$npy" write "$tmp/$t.npy" $t 3x2 2,1,-1,3,0,0
        predict --input "x=$tmp/$t.npy" > "$tmp/out" || fail "--input x=$t.npy"
        { predict --input x=2,1; predict --input x=-1,3; predict --input x=0,0; } > "$tmp/want"
        diff -u "$tmp/want" "$tmp/out" || fail "$t.npy"
    done
    predict --input "x=$tmp/f4.npy" -o "$tmp/out.npy" > "$tmp/stdout" || fail "-o out.npy"
    [ -s "$tmp/stdout" ] && fail "-o: something on stdout"
    "$py" "$npy" read "$tmp/out.npy" > "$tmp/read" || fail "reading out.npy"
    cat "$tmp/read"
    [ "$(sed -n 1p "$tmp/read")" = "shape [3, 1]" ] || fail "out.npy shape"
    [ "$(sed -n 2p "$tmp/read")" = "$(tr '\n' ' ' < "$tmp/typed" | sed 's/ $//')" ] || fail "out.npy values"
    # -o naming an input's file (itself, or through a link) or the checkpoint is refused: it wrote the
    # predictions over the input, exit 0
    cp "$tmp/f4.npy" "$tmp/keep.npy"
    ln -s f4.npy "$tmp/link.npy"
    for o in "$tmp/f4.npy" "$tmp/link.npy"; do
        predict --input "x=$tmp/f4.npy" -o "$o" > "$tmp/stdout" 2> "$tmp/err"; got=$?
        [ "$got" = 2 ] || fail "-o $o: exit $got"
        [ "$(sed -n 1p "$tmp/err" | sed "s|$tmp/||g")" = "nnc: -o '${o#"$tmp/"}' and --input x='f4.npy' are the same file; \
the predictions would write over what they are made from" ] || fail "-o $o: $(cat "$tmp/err")"
        cmp -s "$tmp/f4.npy" "$tmp/keep.npy" || fail "-o $o: the input changed"
    done
    cp "$tmp/ck.safetensors" "$tmp/ck.npy"
    "$nnc" --predict "$model" --load "$tmp/ck.npy" --input x=1,2 -o "$tmp/ck.npy" 2> "$tmp/err"; got=$?
    [ "$got" = 2 ] && grep -q "and --load '.*ck.npy' are the same file" "$tmp/err" || fail "-o over --load: exit $got"
    cmp -s "$tmp/ck.npy" "$tmp/ck.safetensors" || fail "-o over --load: the checkpoint changed" ;;
trained)
    cp "$root/examples/xor.nn" "$root/examples/xor.csv" "$tmp/"
    "$nnc" --jit --save "$tmp/xor.safetensors" "$tmp/xor.nn" 2>"$tmp/log" || { cat "$tmp/log"; fail "--jit"; }
    printf '0,0\n0,1\n1,0\n1,1\n' > "$tmp/x.csv"
    "$nnc" --predict --load "$tmp/xor.safetensors" --input "x=$tmp/x.csv" "$tmp/xor.nn" > "$tmp/out" || fail "--predict"
    cat "$tmp/out"
    printf '0\n1\n1\n0\n' | paste - "$tmp/out" | awk '{ if (($1 == 1) ? $2 < 0.6 : $2 > 0.4) bad = 1 } END { exit bad }' \
        || fail "xor is not learned" ;;
badfiles)
    printf 'not an array' > "$tmp/junk.npy"
    "$py" "$npy" write "$tmp/wide.npy" f4 2x3 1,2,3,4,5,6
    "$py" "$npy" write "$tmp/folded.npy" f4 2x1x2 1,2,3,4
    "$py" "$npy" write "$tmp/f8.npy" f8 1x2 1,2
    sed 's/<f8/>f8/' "$tmp/f8.npy" > "$tmp/big.npy"
    sed "s/'fortran_order': False/'fortran_order': True /" "$tmp/f8.npy" > "$tmp/fortran.npy"
    printf '1,2\n3\n' > "$tmp/ragged.csv"
    check() {  # check FILE EXPECTED-STDERR
        predict --input "x=$tmp/$1" > "$tmp/out" 2> "$tmp/err"; got=$?
        [ "$got" = 1 ] || fail "$1: exit status $got"
        [ -s "$tmp/out" ] && fail "$1: output on stdout"
        sed "s|$tmp/||" "$tmp/err" > "$tmp/err2"
        printf '%s\n' "$2" | diff -u - "$tmp/err2" || fail "$1"
    }
    check junk.npy "nnc: error: junk.npy: not a .npy file (no \\x93NUMPY magic)"
    check wide.npy "nnc: error: wide.npy: the array has shape [2, 3], but input 'x' is f32[2]: the first axis counts examples, the rest must be [2]"
    # as npz(...) reads it: the values per example are not enough, the shape is checked (a [5, 3, 2] array was read as [5, 2, 3])
    check folded.npy "nnc: error: folded.npy: the array has shape [2, 1, 2], but input 'x' is f32[2]: the first axis counts examples, the rest must be [2]"
    check big.npy "nnc: error: big.npy: .npy dtype '>f8' is not supported; use little-endian float32, float64, uint8, int32, int64 or bool"
    check fortran.npy "nnc: error: fortran.npy: a Fortran-order .npy array is not supported; save it in C order"
    check ragged.csv "nnc: error: ragged.csv: line 2 has 1 value, but input 'x' (f32[2]) takes 2 per example"
    printf '1,2\nnan,1\n' > "$tmp/nan.csv"
    check nan.csv "nnc: error: nan.csv: line 2, column 0: 'nan' is not a finite number"
    # finite in double, inf as f32: refused as training's readers refuse them (it predicted inf)
    printf '1,2\n0,1e39\n' > "$tmp/huge.csv"
    check huge.csv "nnc: error: huge.csv: line 2, column 1: '1e39' is beyond the range of f32 (3.4e38)"
    # decimal numbers only, as training's CSV reader has them (strtod took 0x10 as 16)
    printf '1,2\n0x10,1\n' > "$tmp/hex.csv"
    check hex.csv "nnc: error: hex.csv: line 2, column 0: '0x10' is not a decimal number"
    # lines ended by CR alone are one line: the CR is shown escaped, not sent to the terminal
    printf '1,2\r3,4\r' > "$tmp/cr.csv"
    check cr.csv "nnc: error: cr.csv: line 1, column 1: '2\\r3' is not a number"
    predict --input x=1,0x1p3 > "$tmp/out" 2> "$tmp/err"; got=$?
    [ "$got" = 1 ] && [ ! -s "$tmp/out" ] || fail "typed 0x1p3: exit status $got"
    echo "nnc: error: --input x: value 1: '0x1p3' is not a decimal number" | diff -u - "$tmp/err" || fail "typed 0x1p3"
    "$py" "$npy" write "$tmp/huge.npy" f8 2x2 1,2,3,1e300
    check huge.npy "nnc: error: huge.npy: example 1, element 1: 1e+300 is beyond the range of f32 (3.4e38)"
    predict --input x=-1e39,0 > "$tmp/out" 2> "$tmp/err"; got=$?
    [ "$got" = 1 ] && [ ! -s "$tmp/out" ] || fail "typed -1e39: exit status $got"
    echo "nnc: error: --input x: value 0: '-1e39' is beyond the range of f32 (3.4e38)" | diff -u - "$tmp/err" \
        || fail "typed -1e39"
    # token ids from a float array: refused as npz training refuses it (integers only)
    "$py" "$npy" write "$tmp/ids.npy" f4 1x3 1,2,0
    "$nnc" --predict --input a=1,2 --input "ids=$tmp/ids.npy" "$root/tests/golden/cli/forward_only.nn" > "$tmp/out" \
        2> "$tmp/err"; got=$?
    [ "$got" = 1 ] && [ ! -s "$tmp/out" ] || fail "float token ids: exit status $got"
    sed "s|$tmp/||" "$tmp/err" > "$tmp/err2"
    echo "nnc: error: ids.npy: the array is float32, but input 'ids' is token(5)[3]: its token ids must be integers \
(uint8, int32, int64 or bool)" | diff -u - "$tmp/err2" || fail "float token ids"
    # an id out of range, said where it is as a nan there is: a .csv's line
    # (from 1, past a blank line) and column, a .npy's value (from 0)
    ids() {  # ids FILE EXPECTED-STDERR
        "$nnc" --predict --input a=1,2 --input "ids=$tmp/$1" "$root/tests/golden/cli/forward_only.nn" > "$tmp/out" \
            2> "$tmp/err"; got=$?
        [ "$got" = 1 ] && [ ! -s "$tmp/out" ] || fail "$1: exit status $got"
        sed "s|$tmp/||" "$tmp/err" > "$tmp/err2"
        echo "$2" | diff -u - "$tmp/err2" || fail "$1"
    }
    printf '1,2,0\n\n1,7,0\n' > "$tmp/ids.csv"
    ids ids.csv "nnc: error: ids.csv: line 3, column 1: '7' is not a token id of input 'ids' (whole numbers in [0, 5))"
    "$py" "$npy" write "$tmp/ids.npy" i8 2x3 1,2,0,1,-1,0
    ids ids.npy "nnc: error: ids.npy: example 1, element 1: -1 is not a token id of input 'ids' (whole numbers in [0, 5))"
    # a spreadsheet's byte-order mark before the first line is skipped: the
    # same predictions as without it
    printf '\357\273\2771.5,-0.7\n' > "$tmp/bom.csv"
    predict --input "x=$tmp/bom.csv" > "$tmp/bom" 2>&1 || { cat "$tmp/bom"; fail "a byte-order mark"; }
    predict --input x=1.5,-0.7 > "$tmp/plain" || fail "1.5,-0.7"
    cmp "$tmp/bom" "$tmp/plain" || fail "a byte-order mark: $(cat "$tmp/bom")"
    echo "all refused" ;;
wide)
    for n in 20000 2500000; do
        printf 'model wide {\n    input x: f32[4]\n    output softmax(dense(x, %d))\n}\n' $n > "$tmp/wide$n.nn"
        "$nnc" --predict --input x=1,-2,3,-4 "$tmp/wide$n.nn" > "$tmp/one$n" || fail "N = $n: --predict"
    done
    "$py" "$npy" write "$tmp/six.npy" f4 6x4 1,-2,3,-4,1,-2,3,-4,1,-2,3,-4,1,-2,3,-4,1,-2,3,-4,1,-2,3,-4
    "$nnc" --predict --input "x=$tmp/six.npy" "$tmp/wide20000.nn" > "$tmp/six" || fail "six examples"
    "$py" - "$tmp" <<'END' || fail "wide"
import sys
t = sys.argv[1]
def rows(f):
    return [[float(v) for v in line.split()] for line in open(f"{t}/{f}")]
one, six, big = rows("one20000"), rows("six"), rows("one2500000")
assert len(one) == 1 and len(one[0]) == 20000 and len(six) == 6, (len(one), len(six))
for r in six:
    assert r == six[0], "the tiled rows differ"
    bad = [j for j, (a, b) in enumerate(zip(one[0], r)) if abs(a - b) > 1e-6 * abs(b)]
    assert not bad, f"{len(bad)} values differ, the first at {bad[0]}: {one[0][bad[0]]} against {r[bad[0]]}"
assert abs(sum(one[0]) - 1) < 1e-5, sum(one[0])
assert len(big) == 1 and len(big[0]) == 2500000 and min(big[0]) > 0, len(big[0])
assert abs(sum(big[0]) - 1) < 1e-3, sum(big[0])
print("N = 20000: one example as six; N = 2500000: sums to", round(sum(big[0]), 6))
END
    ;;
identity)
    for e in x 'x * 1' 'x + 0' 'x[:]' 'flatten(x)'; do
        printf 'model ident {\n    input x: f32[4]\n    output %s\n}\n' "$e" > "$tmp/ident.nn"
        got=$("$nnc" --predict --input x=1,-2,3.5,4 "$tmp/ident.nn") || fail "output $e: --predict"
        [ "$got" = "1 -2 3.5 4" ] || fail "output $e: expected '1 -2 3.5 4', got '$got'"
    done
    cat > "$tmp/trained.nn" <<'END'
model ident {
    input x: f32[2]
    target t: f32[2]
    output x
    loss mse(dense(x, 2), t)
}
train { data = csv("xt.csv", columns: "x: 0-1, t: 2-3") optimizer = sgd(lr: 0.1) steps = 1 batch = 2 }
END
    printf '1,2,3,4\n5,6,7,8\n' > "$tmp/xt.csv"
    (cd "$tmp" && "$nnc" --jit --save ck.safetensors trained.nn 2>log) || { cat "$tmp/log"; fail "--jit"; }
    got=$("$nnc" --predict --load "$tmp/ck.safetensors" --input x=0.5,-7 "$tmp/trained.nn") || fail "--predict --load"
    [ "$got" = "0.5 -7" ] || fail "trained: expected '0.5 -7', got '$got'"
    echo "copies of the input" ;;
axes)
    # the softmaxes along axes other than the last, through generated code,
    # against their definitions in double (no torch needed)
    cat > "$tmp/axes.nn" <<'END'
model axes {
    input x: f32[2, 2, 3]
    s = softmax(x, axis: 0)
    l = log_softmax(x, temperature: 2, axis: -2)
    e = x - logsumexp(x, axis: 0, keep: true)
    o = softmax(x, axis: [0, 2])
    output concat(concat(s, l, axis: 0), concat(e, o, axis: 0), axis: 0)
}
END
    x=1,2,3,-1,0,5,40,-3,0.5,2,2,-60
    "$nnc" --predict --input x=$x "$tmp/axes.nn" > "$tmp/got" || fail "--predict"
    cat "$tmp/got"
    "$py" - "$tmp/got" "$x" <<'END' || fail "axes"
import math, sys
got = [float(v) for v in open(sys.argv[1]).read().split()]
x = [float(v) for v in sys.argv[2].split(",")]
at = lambda i, j, k: x[6 * i + 3 * j + k]  # noqa: E731
places = [(i, j, k) for i in range(2) for j in range(2) for k in range(3)]
def softmax(z, group, t=1.0, log=False):
    """z at every place, normalised over the places sharing group(place)"""
    out = []
    for p in places:
        row = [z(*q) / t for q in places if group(q) == group(p)]
        m = max(row)
        lse = m + math.log(sum(math.exp(v - m) for v in row))
        out.append(z(*p) / t - lse if log else math.exp(z(*p) / t - lse))
    return out
want = (softmax(at, lambda q: (q[1], q[2]))                               # axis 0
        + softmax(at, lambda q: (q[0], q[2]), t=2, log=True)              # axis -2 (1)
        + softmax(at, lambda q: (q[1], q[2]), log=True)                   # x - logsumexp(axis 0, keep)
        + softmax(at, lambda q: q[1]))                                    # axes [0, 2]
assert len(got) == len(want), (len(got), len(want))
# f32 against double, printed to 7 digits.  Probabilities (the first and the
# last 12) within 1e-6 relative, down to the smallest, 1e-30 absolute
# (exp(-100) is 3.7e-44 in double, 0 or a subnormal in f32); logs within
# 1e-5 absolute: x - lse of entries as large as 65 carries f32's rounding
# of them, 4e-6 (a log near 0, -5.6e-9, comes out 0)
probs = set(range(12)) | set(range(36, 48))
tol = lambda i, w: 1e-6 * abs(w) + 1e-30 if i in probs else 1e-5  # noqa: E731
bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if not abs(g - w) <= tol(i, w)]
assert not bad, f"{len(bad)} differ, the first (index, got, want): {bad[0]}"
print(f"{len(got)} values within their tolerances of the definitions")
END
    ;;
*)
    fail "unknown case $case" ;;
esac
