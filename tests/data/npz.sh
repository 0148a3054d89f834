#!/bin/sh
# npz.sh NNC ROOT CASE — the npz(...) data source and data errors, end to end
# (the arrays are written at test time by tests/data/make.py with numpy).
#   similarity  examples/similarity.nn (two token inputs, a shared table)
#               trained from examples/similarity_data.py's arrays, 3 epochs:
#               test accuracy at least 0.97 (measured 0.999; 0.5 is chance);
#               the trainer executable (nnc -o) prints the same lines
#   regression  two inputs (float64 [n, 3] and int32 [n, 2]) and a target
#               given as [n]: linear regression learns it, test_loss < 0.001;
#               the archive without test: trains and prints no test_loss
#   formats     savez (stored), savez_compressed and .npy versions 1.0, 2.0
#               and 3.0 inside an archive, and zip64 central-directory fields
#               and end records give identical training lines (a
#               trainer executable made by nnc -o, so npz reads there too)
#   eval        --eval --load needs only the test archive: the training one
#               removed, it prints the checkpoint's test loss
#   errors      each bad file refused by a trainer executable with exit 1 and
#               the exact message, naming the file and the array (below)
#   csvnotest   csv(...) without test: prints no test_loss (it used to print
#               one computed on the training file); a ragged row is refused
#               naming the file, its line and the line of the first row
#   csvcolumns  csv(..., columns: ...) feeds two inputs and two targets (a
#               real, a label) from columns in another order: mse + accuracy
#               learned; a label column of reals and a column past the end of
#               the rows refused with the file, example and column
nnc=$1 root=$2 case=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
py=/usr/bin/python3
"$py" -c "import numpy" 2>/dev/null || { echo "numpy is missing; skipped"; exit 77; }
make() { "$py" "$root/tests/data/make.py" "$1" "$tmp" || fail "make.py $1"; }
field() {  # field NAME LINE: the number after NAME
    echo "$2" | tr -s ' ' '\n' | sed -n "/^$1\$/{n;p;}"
}
regression_model() {  # regression_model TRAIN TEST
    cat <<END
model reg {
    input  a: f32[3]
    input  b: f32[2]
    target y: f32[1]
    p = dense(concat(a, b, axis: 0), 1)
    output p
    loss mse(p, y)
}
train {
    data      = npz(train: "$1", test: "$2")
    optimizer = adam(lr: 0.05)
    batch     = 32
    epochs    = 12
}
END
}
case $case in
similarity)
    "$py" "$root/examples/similarity_data.py" "$tmp" || fail "similarity_data.py"
    "$nnc" --jit --data "$tmp" "$root/examples/similarity.nn" 2> "$tmp/log" || { cat "$tmp/log"; fail "--jit"; }
    cat "$tmp/log"
    last=$(grep '^epoch 3/3' "$tmp/log")
    acc=$(field test_accuracy "$last")
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }' || fail "test accuracy $acc, expected at least 0.97"
    "$nnc" -o "$tmp/sim" "$root/examples/similarity.nn" || fail "nnc -o"
    "$tmp/sim" --data "$tmp" 2> "$tmp/exe" || { cat "$tmp/exe"; fail "the trainer"; }
    sed 's/  [0-9.]* s$//' "$tmp/log" | grep '^epoch' > "$tmp/a"
    sed 's/  [0-9.]* s$//' "$tmp/exe" | grep '^epoch' > "$tmp/b"
    diff -u "$tmp/a" "$tmp/b" || fail "the trainer's lines differ from --jit's" ;;
regression)
    make regression
    regression_model reg_train.npz reg_test.npz > "$tmp/reg.nn"
    "$nnc" --jit "$tmp/reg.nn" 2> "$tmp/log" || { cat "$tmp/log"; fail "--jit"; }
    cat "$tmp/log"
    loss=$(field test_loss "$(grep '^epoch 12/12' "$tmp/log")")
    awk -v l="$loss" 'BEGIN { exit !(l < 0.001) }' || fail "test loss $loss, expected below 0.001"
    regression_model reg_train.npz "" > "$tmp/reg.nn"
    "$nnc" --jit "$tmp/reg.nn" 2> "$tmp/log" || { cat "$tmp/log"; fail "--jit without test"; }
    grep -q test_ "$tmp/log" && fail "without test: a test_ value was printed: $(cat "$tmp/log")"
    grep -q '^epoch 12/12  step 192  train_loss [0-9.]*  [0-9.]* s$' "$tmp/log" || fail "without test: $(cat "$tmp/log")" ;;
formats)
    make formats
    regression_model data.npz data.npz | sed 's/epochs    = 12/epochs    = 3/' > "$tmp/reg.nn"
    "$nnc" -o "$tmp/reg" "$tmp/reg.nn" || fail "nnc -o"
    for f in stored deflated v1 v2 v3 zip64; do
        mkdir "$tmp/$f" && cp "$tmp/$f.npz" "$tmp/$f/data.npz"
        # the trainer's own status, not the pipe's: a run that fails must fail here
        "$tmp/reg" --data "$tmp/$f" > "$tmp/$f.log" 2>&1 || { cat "$tmp/$f.log"; fail "$f: the trainer failed"; }
        sed 's/  [0-9.]* s$//' "$tmp/$f.log" | grep -v '^trained' > "$tmp/$f.out"
    done
    cat "$tmp/stored.out"
    [ "$(wc -l < "$tmp/stored.out")" = 3 ] || fail "stored.npz: $(cat "$tmp/stored.out")"
    for f in deflated v1 v2 v3 zip64; do diff -u "$tmp/stored.out" "$tmp/$f.out" || fail "$f.npz differs from stored.npz"; done ;;
eval)
    make regression
    regression_model reg_train.npz reg_test.npz > "$tmp/reg.nn"
    "$nnc" --jit --epochs 2 --save "$tmp/ck.safetensors" "$tmp/reg.nn" 2> "$tmp/log" || { cat "$tmp/log"; fail "--jit"; }
    want=$(field test_loss "$(grep '^epoch 2/2' "$tmp/log")")
    rm "$tmp/reg_train.npz"
    "$nnc" --jit --eval --load "$tmp/ck.safetensors" "$tmp/reg.nn" 2> "$tmp/eval" || { cat "$tmp/eval"; fail "--eval"; }
    cat "$tmp/eval"
    [ "$(cat "$tmp/eval")" = "test_loss $want" ] || fail "--eval: '$(cat "$tmp/eval")', expected 'test_loss $want'"
    regression_model reg_train.npz "" > "$tmp/notest.nn"
    "$nnc" --jit --eval --load "$tmp/ck.safetensors" "$tmp/notest.nn" 2> "$tmp/err" && fail "--eval without a test split"
    [ "$(cat "$tmp/err")" = "nnc: error: --eval needs a test split; the data source has none (add test: ...)" ] \
        || fail "--eval without test: $(cat "$tmp/err")" ;;
errors)
    make bad
    # one trainer (nnc -o) reads each bad file as data.npz of a folder of its own
    cat > "$tmp/m.nn" <<END
model m {
    input  x: f32[4]
    target y: class(3)
    z = dense(x, 3)
    output z
    loss cross_entropy(z, y)
}
train {
    data      = npz(train: "data.npz")
    optimizer = sgd(lr: 0.1)
    epochs    = 1
}
END
    "$nnc" -o "$tmp/m" "$tmp/m.nn" || fail "nnc -o"
    check() {  # check FILE EXPECTED: the model of 4 reals and 3 classes trained on FILE
        mkdir "$tmp/${1%.npz}"
        [ -e "$tmp/$1" ] && cp "$tmp/$1" "$tmp/${1%.npz}/data.npz"
        "$tmp/m" --data "$tmp/${1%.npz}" > "$tmp/out" 2> "$tmp/err"; got=$?
        [ "$got" = 1 ] || fail "$1: exit status $got: $(cat "$tmp/err")"
        sed "s|$tmp/${1%.npz}/data.npz|$1|g" "$tmp/err" > "$tmp/err2"
        cat "$tmp/err2"
        echo "m: error: $2" | diff -u - "$tmp/err2" || fail "$1"
    }
    check shape.npz "shape.npz: array 'x' has shape [6, 3], but input 'x' is f32[4]: the first axis counts examples, the rest must be [4]"
    check dtype.npz "dtype.npz: array 'y' is float32, but target 'y' is class(3): its labels must be integers (uint8, int32, int64 or bool)"
    check int16.npz "int16.npz: array 'y': .npy dtype '<i2' is not supported; labels and token ids may be little-endian uint8, int32, int64 or bool"
    check missing.npz "missing.npz has no array 'x' for input 'x'; it has 'features' and 'y'"
    check count.npz "count.npz: array 'y' has 5 examples, but array 'x' has 6"
    check labels.npz "labels.npz: array 'y' has shape [6, 2], but target 'y' is class(3): the first axis counts examples, the rest must be [] or [1]"
    check range.npz "range.npz: array 'y', example 3: label 3 is outside class(3)'s 0-2"
    check nonfinite.npz "nonfinite.npz: array 'x', example 4, element 2: nan is not a finite number"
    check complex.npz "complex.npz: array 'x': .npy dtype '<c8' is not supported; use little-endian float32, float64, uint8, int32, int64 or bool"
    check fortran.npz "fortran.npz: array 'x': a Fortran-order .npy array is not supported; save it in C order"
    check truncated.npz "truncated.npz: not a .npz (zip) archive, or a truncated one: no end of central directory"
    check crc.npz "crc.npz: member 'x': CRC-32 $("$py" -c "
import zipfile, zlib
z = zipfile.ZipFile('$tmp/crc.npz'); i = z.getinfo('x.npy')
raw = open('$tmp/crc.npz', 'rb').read(); start = i.header_offset + 30 + len(i.filename) + 20
print('%08x, but the archive says %08x' % (zlib.crc32(raw[start:start + i.file_size]), i.CRC))"); the file is damaged"
    # found by fuzz_npz: the message used the member's name after freeing it (ASan: use after free)
    check encrypted.npz "encrypted.npz: member 'x' is encrypted"
    check notzip.npz "notzip.npz: not a .npz (zip) archive, or a truncated one: no end of central directory"
    check dup.npz "dup.npz: array 'y' is in two members, 'y.npy' and 'y.npy'; keep one (which is meant is not guessed)"
    check both.npz "both.npz: array 'y' is in two members, 'y.npy' and 'y'; keep one (which is meant is not guessed)"
    check absent.npz "cannot open absent.npz: No such file or directory (data root '$tmp/absent', from --data; nor \
beside the model in '$tmp')"
    echo "all refused" ;;
csvnotest)
    cp "$root/examples/xor.csv" "$tmp/"
    sed 's/csv("xor.csv", test: "xor.csv")/csv("xor.csv")/' "$root/examples/xor.nn" > "$tmp/xor.nn"
    grep -q 'csv("xor.csv")' "$tmp/xor.nn" || fail "xor.nn has another data line"
    "$nnc" --jit --epochs 5 "$tmp/xor.nn" 2> "$tmp/log" || { cat "$tmp/log"; fail "--jit"; }
    cat "$tmp/log"
    grep -q test_ "$tmp/log" && fail "csv without test: printed a test_ value"
    grep -q '^epoch 5/5  step 5  train_loss [0-9.]*  [0-9.]* s$' "$tmp/log" || fail "no epoch line"
    # a row of another width: the file, the line and the line it differs from
    printf '0,0,0\n0,1,1\n1,0\n' > "$tmp/xor.csv"
    "$nnc" --jit --data "$tmp" "$tmp/xor.nn" 2> "$tmp/err" && fail "a ragged csv was accepted"
    [ "$(sed "s|$tmp/||" "$tmp/err")" = "nnc: error: xor.csv: line 3 has 2 values, expected 3 like line 1" ] \
        || fail "ragged csv: $(cat "$tmp/err")" ;;
csvcolumns)
    # y, a (3), c, b (2): two inputs, a real and a label target, out of order
    "$py" -c "
import numpy as np
rng = np.random.default_rng(1)
for name, n in (('tr.csv', 400), ('te.csv', 100)):
    a, b = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    y = a @ [1, -2, .5] + b @ [.25, -.5] + 1
    np.savetxt('$tmp/' + name, np.column_stack([y, a, (y > 1).astype(int), b]), delimiter=',', fmt='%.6f')
" || fail "writing the csv"
    cat > "$tmp/c.nn" <<END
model twoin {
    input  a: f32[3]
    input  b: f32[2]
    target y: f32[1]
    target c: class(2)
    h = dense(concat(a, b, axis: 0), 1)
    z = dense(concat(a, b, axis: 0), 2)
    output h
    loss mse(h, y) + cross_entropy(z, c)
    metric accuracy(z, c)
}
train {
    data      = csv(train: "tr.csv", test: "te.csv", columns: "y: 0, a: 1-3, c: 4, b: 5-6")
    optimizer = adam(lr: 0.05)
    batch     = 32
    epochs    = 10
}
END
    "$nnc" --jit "$tmp/c.nn" 2> "$tmp/log" || { cat "$tmp/log"; fail "--jit"; }
    cat "$tmp/log"
    last=$(grep '^epoch 10/10' "$tmp/log")
    acc=$(field test_accuracy "$last") loss=$(field test_loss "$last")
    awk -v a="$acc" -v l="$loss" 'BEGIN { exit !(a >= 0.95 && l < 0.3) }' || fail "accuracy $acc, loss $loss"
    # a label column that holds reals (y's and c's columns swapped), in a
    # file whose first example is on line 2 (a blank line first: the
    # message says the line, as plain csv's do, and the example), and a
    # range past the end of the rows
    { echo; cat "$tmp/tr.csv"; } > "$tmp/blank.csv"
    sed 's/y: 0, a: 1-3, c: 4/y: 4, a: 1-3, c: 0/; s/train: "tr.csv"/train: "blank.csv"/' "$tmp/c.nn" > "$tmp/bad.nn"
    "$nnc" --jit --data "$tmp" "$tmp/bad.nn" 2> "$tmp/err" && fail "reals as labels were accepted"
    want="nnc: error: blank.csv: line 2 (example 0), column 0: $(sed -n '1s/^\([^,]*\),.*/\1/p' "$tmp/tr.csv" \
        | awk '{ printf "%g", $1 }') is not a label in 0-1 for target 'c'"
    [ "$(sed "s|$tmp/||" "$tmp/err")" = "$want" ] || fail "real labels: $(cat "$tmp/err"), expected $want"
    sed 's/b: 5-6/b: 6-7/' "$tmp/c.nn" > "$tmp/bad.nn"
    "$nnc" --jit --data "$tmp" "$tmp/bad.nn" 2> "$tmp/err" && fail "a column past the end was accepted"
    [ "$(sed "s|$tmp/||" "$tmp/err")" = "nnc: error: tr.csv has 7 values per line (columns 0-6), but columns: gives 'b' column 7" ] \
        || fail "past the end: $(cat "$tmp/err")"
    # a test file of another layout (a column more, inserted first): the same positions would read other values
    sed 's/^/9,/' "$tmp/te.csv" > "$tmp/te8.csv"
    sed 's/test: "te.csv"/test: "te8.csv"/' "$tmp/c.nn" > "$tmp/bad.nn"
    "$nnc" --jit --data "$tmp" "$tmp/bad.nn" 2> "$tmp/err" && fail "a test file of 8 columns was accepted"
    [ "$(sed "s|$tmp/||" "$tmp/err")" = "nnc: error: te8.csv has 8 values per line, but the training file's lines have 7; \
columns: takes the same positions from both, so their layouts must match" ] || fail "test layout: $(cat "$tmp/err")" ;;
*)
    fail "unknown case $case" ;;
esac
