#!/bin/sh
# run.sh NNC ROOT RTLIB SAN CASE — libraries written by nnc --emit=so|obj,
# used from C and Python (examples/embed, tests/embed/abi.c).  RTLIB is the
# runtime library (libnncrt.a); SAN is ON when everything is built with
# ASan/UBSan (then the programs are too, and leaks fail the test).
#   header    the headers compile with cc -std=c99 -Wall -Wextra -Werror
#             -pedantic and with a C++ compiler; their link line names the
#             library or object -o wrote (-lfoo only for libfoo.so); the MNIST MLP's forward has
#             its two products' few-rows path (batch 1 took the train step's
#             tiled bodies, which shared its key: 31.6-31.9 us, not 3.7, on a Zen 4)
#   abi       tests/embed/abi.c: errors, batches, threads, cycles
#   grow      tests/embed/grow.c: train_step at batches up to 41 through a
#             library compiled for 8 (it grows) equals, bit for bit, one
#             compiled for 64
#   classify  examples/embed/classify.c on a checkpoint nnc --jit trained:
#             test_loss and test_accuracy equal --jit's metrics (the 6 digits
#             they carry); batch 1 equals its row of batch 10000 (<= 1e-6)
#   python    examples/embed/classify.py through ctypes: the same accuracy
#   train     examples/embed/train.c trains an epoch through train_step in
#             --jit's data order: its train_loss equals --jit's
#   obj       --emit=obj: classify.c linked with mnist_mlp.o and the runtime
#   forward   tests/embed/forward.c: a forward-only library (no loss, no train
#             block; two inputs, one of tokens): its header has no train_step,
#             forward equals nnc --predict on the same seed and numbers,
#             save/load round-trips
#   faults    fault injection (NNC_FAIL_ALLOC=N, runtime/alloc.c): the Nth
#             allocation fails, for every N until a run with none: the
#             library (tests/embed/faults.c) and a trainer fail cleanly
#             each time, a failed save keeps the old file, nothing leaks;
#             the trainer (xor: --load, --save the same file, --metrics)
#             leaves the user's checkpoint as it was or as a run without
#             failures writes it, byte for byte, and no temporary file; a
#             text trainer with --sample (release only); each prints its
#             count of points
#   cosine    tests/embed/cosine.py: the cosine similarity of two inputs
#             written with sum and sqrt, from --predict (.npy) and from the
#             forward-only library (ctypes), equals numpy's within 2e-6
#   state     tests/embed/state.c: xor with adam as a library: a
#             parameters-only checkpoint loaded into an instance that trained
#             gives the losses a new instance gives (its optimizer state and
#             step start from zero), and NaN parameters are not saved (the
#             file stays as it was, last_error says which tensor)
#   bpe       tests/embed/bpe.c: a library of tests/jit/bpe.nn (bpe tokens)
#             loads the merges of a checkpoint nnc --jit saved: subwords_encode
#             gives the ids a Python encoder gives with those merges, decode
#             gives the bytes back, save and load keep the merges, and a fresh
#             instance or a bad id is refused by message
#   chars     a library of tests/jit/abcd.nn (character tokens) loads a
#             checkpoint nnc --jit saved and saves it again: the byte
#             vocabulary (nnc.chars) is kept, so --load of the new file still
#             maps a changed text through the trained ids; a vocabulary longer
#             than the model's is refused by load and load_memory, by message
#   repack    tests/embed/repack.c: the MNIST MLP's forward, which keeps W1ᵀ
#             packed between calls, after create, load, train_step and
#             load_memory equals a new instance's with the same parameters,
#             bit for bit, at batches 64, 150 and 7
#   fold      tests/embed/fold.c: tests/embed/fold.nn, a GPT-like model whose
#             products fold positions into rows (kept packed from batch 1),
#             after create, train_step and a refused load_memory equals a new
#             instance's with the same parameters, bit for bit, at batches 1 and 3
#   kept      tests/embed/kept.c: a forward whose W (64 MB) is too big to keep
#             packed runs at batch 8 within what the process mapped + 32 MB
#             (not under the sanitizers: their shadow memory needs no limit)
#   horizon   tests/embed/horizon.c: a library's cosine() schedule spans the
#             train block's epochs of its csv data (epochs = 2 of 64 examples
#             at batch 16: 8 steps), the losses bit for bit those of steps = 8;
#             --emit=so without the data to count is refused by message (a
#             step() schedule, which reads no run length, needs none), and
#             so is a horizon longer than a run may be (1000000 epochs of 64
#             examples at batch 1), with the words --jit refuses it in
#   identity  libraries of a model whose output is its input (forward-only,
#             output x * 1, and trainable, output x): forward returns the
#             input's numbers exactly, for a batch of two
# MNIST cases need $NNC_DATA/mnist (exit 77, skipped, without it).
nnc=$1 root=$2 rtlib=$3 san=$4 case=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cflags="-O1 -I $tmp -I $root/runtime/include"
[ "$san" = ON ] && cflags="$cflags -fsanitize=address,undefined -fno-sanitize-recover=undefined"
need_mnist() {
    [ -n "$NNC_DATA" ] && [ -d "$NNC_DATA/mnist" ] || { echo "no MNIST in \$NNC_DATA; skipped"; exit 77; }
}
field() {  # field NAME FILE: a number from the last metrics JSON line
    tail -1 "$2" | tr ',{}' '\n\n\n' | awk -F': ' -v k="\"$1\"" '$1 ~ k {print $2}' | tr -d ' '
}
mlp_so() {
    "$nnc" --emit=so -o "$tmp/libmnist_mlp.so" "$root/examples/mnist_mlp.nn" || fail "nnc --emit=so"
}
trained() {  # a checkpoint after one epoch of --jit, and its metrics
    "$nnc" --jit --epochs 1 --save "$tmp/ck.safetensors" --metrics "$tmp/m" "$root/examples/mnist_mlp.nn" \
        2>"$tmp/log" || { cat "$tmp/log"; fail "--jit"; }
}
case $case in
header)
    # a text model's header (int32 token inputs) from tests/jit/abcd.nn: the
    # same header as examples/shakespeare.nn's but for its sizes, at half the compile
    for model in examples/mnist_mlp.nn tests/jit/abcd.nn tests/embed/tiny.nn; do
        "$nnc" --emit=so -o "$tmp/lib.so" "$root/$model" || fail "nnc --emit=so $model"
        name=$(sed -n 's/^model \([a-z_0-9]*\).*/\1/p' "$root/$model")
        printf '#include "%s.h"\nint main(void) { return 0; }\n' "$name" > "$tmp/h.c"
        cc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -I "$tmp" "$tmp/h.c" || fail "$name.h in C99"
        c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only -x c++ -I "$tmp" "$tmp/h.c" || fail "$name.h in C++"
        grep "^int ${name}_train_step(${name} \*m, int64_t batch" "$tmp/$name.h" || fail "no ${name}_train_step in $name.h"
        if [ "$name" = mnist_mlp ]; then
            few=$(nm "$tmp/lib.so" | grep -c '[.]few_rows$')
            [ "$few" = 2 ] || fail "mnist_mlp's library: $few products with the few-rows path, not 2"
        fi
    done
    # the header's link line names the file written (it said libtiny.so whatever -o was)
    link() {  # link EMIT OUTPUT EXPECTED-LINE
        "$nnc" --emit="$1" -o "$tmp/$2" "$root/tests/embed/tiny.nn" || fail "nnc --emit=$1 -o $2"
        grep -qxF "$3" "$tmp/tiny.h" || { grep 'Link with' "$tmp/tiny.h"; fail "-o $2: no line '$3'"; }
    }
    link so libfoo.so " * Link with libfoo.so (cc app.c -L DIR -lfoo -Wl,-rpath,DIR)."
    link so tiny.so " * Link with tiny.so (cc app.c DIR/tiny.so -Wl,-rpath,DIR)."
    # a system library's name (libm.so: -lm is the C math library's) is linked by its path
    link so libm.so " * Link with libm.so (cc app.c DIR/libm.so -Wl,-rpath,DIR)."
    # a forward-only model's instance holds no optimizer state, and its header does not say it does
    printf 'model fwd {\n    input x: f32[2]\n    output dense(x, 1)\n}\n' > "$tmp/fwd.nn"
    "$nnc" --emit=so -o "$tmp/libfwd.so" "$tmp/fwd.nn" || fail "nnc --emit=so of a forward-only model"
    grep -qxF " * An instance holds the parameters and its own scratch" "$tmp/fwd.h" \
        || { sed -n 5p "$tmp/fwd.h"; fail "a forward-only header mentions optimizer state"; }
    grep -qxF " * An instance holds the parameters, the optimizer state and its own scratch" "$tmp/tiny.h" \
        || fail "a trainable model's header leaves out its optimizer state"
    link obj t.o " * Link with t.o and the runtime (cc app.c t.o \$(pkg-config --cflags --libs"
    cc -std=c99 -Wall -Wextra -Werror -I "$tmp" -c -o "$tmp/h.o" "$tmp/h.c" || fail "h.c"
    cc "$tmp/h.o" -L "$tmp" -lfoo -Wl,-rpath,"$tmp" -lm -o "$tmp/h" || fail "linking as the header of libfoo.so says" ;;
abi)
    "$nnc" --emit=so -o "$tmp/libtiny.so" "$root/tests/embed/tiny.nn" || fail "nnc --emit=so"
    sed 's/dense(x, 6)/dense(x, 7)/' "$root/tests/embed/tiny.nn" > "$tmp/wide.nn"
    "$nnc" --export-step="$tmp/wide.safetensors" "$tmp/wide.nn" || fail "export wide"
    "$nnc" --export-step="$tmp/xor.safetensors" "$root/examples/xor.nn" || fail "export xor"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$root/tests/embed/abi.c" -L "$tmp" -ltiny -Wl,-rpath,"$tmp" \
        -lpthread -lm -o "$tmp/abi" || fail "building abi.c"
    "$tmp/abi" "$tmp" "$tmp/wide.safetensors" "$tmp/xor.safetensors" ;;
grow)
    for b in 8 64; do
        mkdir "$tmp/$b"
        "$nnc" --emit=so --batch $b -o "$tmp/$b/libtiny.so" "$root/tests/embed/tiny.nn" || fail "nnc --emit=so --batch $b"
        # shellcheck disable=SC2086
        cc -std=c99 -Wall -Wextra -Werror $cflags -I "$tmp/$b" "$root/tests/embed/grow.c" -L "$tmp/$b" -ltiny \
            -Wl,-rpath,"$tmp/$b" -lm -o "$tmp/$b/grow" || fail "building grow.c"
        "$tmp/$b/grow" > "$tmp/$b/out" || fail "grow (library for batch $b)"
    done
    head -8 "$tmp/8/out"
    cmp "$tmp/8/out" "$tmp/64/out" || fail "the library that grew differs from the one compiled for batch 64" ;;
classify)
    need_mnist
    trained
    mlp_so
    # shellcheck disable=SC2086
    cc -Wall -Wextra -Werror $cflags "$root/examples/embed/classify.c" -L "$tmp" -lmnist_mlp -Wl,-rpath,"$tmp" -lz -lm \
        -o "$tmp/classify" || fail "building classify.c"
    "$tmp/classify" "$tmp/ck.safetensors" "$NNC_DATA/mnist" > "$tmp/out" || { cat "$tmp/out"; fail "classify"; }
    cat "$tmp/out"
    want="test_loss $(field test_loss "$tmp/m") test_accuracy $(field test_accuracy "$tmp/m")"
    grep -q "^$want (" "$tmp/out" || fail "expected '$want'" ;;
python)
    need_mnist
    /usr/bin/python3 -c 'import numpy' 2>/dev/null || { echo "no numpy; skipped"; exit 77; }
    [ "$san" = ON ] && { echo "a sanitized library does not load into python; skipped"; exit 77; }
    trained
    mlp_so
    /usr/bin/python3 "$root/examples/embed/classify.py" "$tmp/libmnist_mlp.so" "$tmp/ck.safetensors" "$NNC_DATA/mnist" \
        > "$tmp/out" || fail "classify.py"
    cat "$tmp/out"
    grep -q "^test_accuracy $(field test_accuracy "$tmp/m") (" "$tmp/out" || fail "accuracy differs from --jit's" ;;
train)
    need_mnist
    trained
    mlp_so
    # shellcheck disable=SC2086
    cc -Wall -Wextra -Werror $cflags "$root/examples/embed/train.c" -L "$tmp" -lmnist_mlp -Wl,-rpath,"$tmp" "$rtlib" \
        -lz -lpthread -lm -o "$tmp/train" || fail "building train.c"
    "$tmp/train" "$NNC_DATA/mnist" 1 "$tmp/c.safetensors" > "$tmp/out" || { cat "$tmp/out"; fail "train"; }
    cat "$tmp/out"
    grep -q "^epoch 1 train_loss $(field train_loss "$tmp/m")$" "$tmp/out" || fail "train_loss differs from --jit's"
    cmp "$tmp/c.safetensors" "$tmp/ck.safetensors" || fail "the checkpoints differ" ;;
obj)
    need_mnist
    trained
    (cd "$tmp" && "$nnc" --emit=obj "$root/examples/mnist_mlp.nn") || fail "nnc --emit=obj"
    # shellcheck disable=SC2086
    cc -Wall -Wextra -Werror $cflags "$root/examples/embed/classify.c" "$tmp/mnist_mlp.o" "$rtlib" \
        -lz -lpthread -lm -o "$tmp/classify" || fail "linking mnist_mlp.o"
    "$tmp/classify" "$tmp/ck.safetensors" "$NNC_DATA/mnist" > "$tmp/out" || { cat "$tmp/out"; fail "classify"; }
    cat "$tmp/out"
    want="test_loss $(field test_loss "$tmp/m") test_accuracy $(field test_accuracy "$tmp/m")"
    grep -q "^$want (" "$tmp/out" || fail "expected '$want'" ;;
faults)
    # fault injection: the Nth allocation of the runtime fails, for N = 1, 2,
    # ... until a run in which none did; every call must fail cleanly, a
    # failed save must keep the old file, and (under ASan) nothing may leak
    (cd "$tmp" && "$nnc" --emit=obj --batch 16 "$root/tests/embed/tiny.nn") || fail "nnc --emit=obj"
    # shellcheck disable=SC2086
    cc -Wall -Wextra -Werror $cflags -I "$root/runtime" "$root/tests/embed/faults.c" "$tmp/tiny.o" "$rtlib" \
        -lz -lpthread -lm -o "$tmp/faults" || fail "linking faults.c"
    "$nnc" --export-step="$tmp/ck.safetensors" "$root/tests/embed/tiny.nn" || fail "export"
    "$tmp/faults" "$tmp" > "$tmp/out" || { cat "$tmp/out"; fail "faults without injection"; }
    cp "$tmp/out.safetensors" "$tmp/keep.safetensors"
    n=1
    while :; do
        NNC_FAIL_ALLOC=$n "$tmp/faults" "$tmp" > "$tmp/out" 2>&1 || { cat "$tmp/out"; fail "allocation $n failing"; }
        grep -q "^injected 0$" "$tmp/out" && break
        [ $n -lt 1000 ] || fail "still injecting after 1000 allocations"
        n=$((n + 1))
    done
    echo "library: $((n - 1)) allocation points failed one at a time, each cleanly"
    # the trainer: each failure ends in exit 1 with a reason, or is survived;
    # the user's checkpoint (--load and --save the same file) is then either
    # as it was or the very file a run without failures writes (--threads 1:
    # the same bytes), with no temporary file beside it
    (cd "$tmp" && "$nnc" -o "$tmp/xor" "$root/examples/xor.nn") || fail "nnc xor"
    mkdir "$tmp/user"
    (cd "$root/examples" && "$tmp/xor" --threads 1 --steps 2 --save "$tmp/prev.safetensors" > /dev/null 2>&1) \
        || fail "xor --steps 2"
    xor_run() {  # xor_run N: the run under NNC_FAIL_ALLOC=N (0: none) on a fresh copy of prev
        cp "$tmp/prev.safetensors" "$tmp/user/ck.safetensors"
        (cd "$root/examples" && NNC_FAIL_ALLOC=$1 "$tmp/xor" --threads 1 --steps 3 --load "$tmp/user/ck.safetensors" \
            --save "$tmp/user/ck.safetensors" --metrics "$tmp/user/m") > /dev/null 2> "$tmp/err"
    }
    xor_run 0 || { cat "$tmp/err"; fail "xor without injection"; }
    cp "$tmp/user/ck.safetensors" "$tmp/want.safetensors"
    n=1 kept=0 replaced=0
    while :; do
        xor_run $n
        status=$?
        [ "$status" = 0 ] || [ "$status" = 1 ] || { cat "$tmp/err"; fail "trainer, allocation $n: exit $status"; }
        [ "$status" = 0 ] || grep -q "^xor: error: " "$tmp/err" || { cat "$tmp/err"; fail "trainer, allocation $n: no reason"; }
        if [ "$status" = 0 ] && ! cmp -s "$tmp/user/ck.safetensors" "$tmp/want.safetensors"; then
            cat "$tmp/err"; fail "trainer, allocation $n: exit 0, but the checkpoint is not the one a clean run saves"
        elif cmp -s "$tmp/user/ck.safetensors" "$tmp/prev.safetensors"; then
            kept=$((kept + 1))
        elif cmp -s "$tmp/user/ck.safetensors" "$tmp/want.safetensors"; then
            replaced=$((replaced + 1))
        else
            cat "$tmp/err"; fail "trainer, allocation $n: the checkpoint is neither the old one nor the new one"
        fi
        [ "$(ls "$tmp/user" | grep -cv '^ck.safetensors$\|^m$')" = 0 ] || { ls "$tmp/user"; fail "trainer, allocation $n: files left behind"; }
        grep -q "failed on purpose" "$tmp/err" || break
        [ $n -lt 1000 ] || fail "trainer: still injecting after 1000 allocations"
        n=$((n + 1))
    done
    echo "trainer: $((n - 1)) allocation points failed one at a time, each cleanly (checkpoint kept $kept times, replaced whole $((replaced - 1)))"
    # a text model that samples: the text, its tokens, the windows and --sample's
    # buffers (release only: the sanitizer pass is CI's longest, and its leak
    # checks run on the library and xor sweeps above)
    if [ "$san" = ON ]; then
        echo "text trainer with --sample: SKIP under the sanitizers (the release pass sweeps it)"
        exit 0
    fi
    (cd "$tmp" && "$nnc" -o "$tmp/abcd" "$root/tests/jit/abcd.nn") || fail "nnc abcd"
    n=1
    while :; do
        (cd "$root/tests/jit" && NNC_FAIL_ALLOC=$n "$tmp/abcd" --threads 1 --sample bc --length 8) \
            > /dev/null 2> "$tmp/err"
        status=$?
        [ "$status" = 0 ] || [ "$status" = 1 ] || { cat "$tmp/err"; fail "text trainer, allocation $n: exit $status"; }
        [ "$status" = 0 ] || grep -q "^abcd: error: " "$tmp/err" || { cat "$tmp/err"; fail "text trainer, allocation $n: no reason"; }
        grep -q "failed on purpose" "$tmp/err" || break
        [ $n -lt 1000 ] || fail "text trainer: still injecting after 1000 allocations"
        n=$((n + 1))
    done
    echo "text trainer with --sample: $((n - 1)) allocation points failed one at a time, each cleanly" ;;
horizon)
    # 64 examples, multiples of 1/16 (tests/embed/horizon.c makes the same)
    awk 'BEGIN { for (i = 0; i < 64; i++) { y = 0.125; c[0] = 1; c[1] = -2; c[2] = 0.5; c[3] = 3
                 for (j = 0; j < 4; j++) { v = ((i * 7 + j * 3) % 17 - 8) / 8; printf "%g,", v; y += c[j] * v }
                 printf "%g\n", y } }' > "$tmp/lin.csv"
    for v in "he:epochs = 2" "hs:steps = 8"; do
        cat > "$tmp/${v%%:*}.nn" <<EOM
model ${v%%:*} {
    input x: f32[4]
    target y: f32[1]
    p = dense(x, 1)
    output p
    loss mse(p, y)
}
train { data = csv("lin.csv") optimizer = sgd(lr: 0.1) schedule = cosine() batch = 16 ${v#*:} seed = 1 }
EOM
        "$nnc" --emit=so -o "$tmp/lib${v%%:*}.so" "$tmp/${v%%:*}.nn" || fail "nnc --emit=so ${v%%:*}.nn"
    done
    # shellcheck disable=SC2086
    cc $cflags "$root/tests/embed/horizon.c" -L "$tmp" -lhe -lhs -Wl,-rpath,"$tmp" -lm -o "$tmp/horizon" \
        || fail "cc horizon.c"
    "$tmp/horizon" || fail "horizon"
    mkdir "$tmp/nodata"
    sed 's/lin.csv/none.csv/' "$tmp/he.nn" > "$tmp/nodata/he.nn"
    (cd "$tmp/nodata" && NNC_DATA= "$nnc" --emit=so -o libhe.so he.nn) > "$tmp/out" 2>&1 && fail "emitted without the data"
    want="nnc: error: the learning-rate schedule spans the train block's 2 epochs, and a library counts their steps \
from the training data: cannot open ./none.csv: No such file or directory (data root '.', the default: set NNC_DATA); \
give the train block steps = N instead"
    [ "$(cat "$tmp/out")" = "$want" ] || fail "the message: $(cat "$tmp/out")"
    [ ! -e "$tmp/nodata/libhe.so" ] || fail "a library was written"
    # step() reads the steps taken, not the run's length: its library counts nothing and needs no data
    sed 's/cosine()/step(every: 2)/' "$tmp/nodata/he.nn" > "$tmp/nodata/hstep.nn"
    grep -q 'step(every: 2)' "$tmp/nodata/hstep.nn" || fail "he.nn changed: no cosine() to replace"
    (cd "$tmp/nodata" && NNC_DATA= "$nnc" --emit=so -o libhstep.so hstep.nn) || fail "step() without the data"
    # 1000000 epochs of 64 steps (batch 1) are more than a run may take: the
    # run refuses them, and so does a library whose schedule would span them
    sed 's/model he/model hl/; s/batch = 16/batch = 1/; s/epochs = 2/epochs = 1000000/' "$tmp/he.nn" > "$tmp/hl.nn"
    grep -q 'batch = 1 epochs = 1000000' "$tmp/hl.nn" || fail "he.nn changed: no 'batch = 16 epochs = 2' to replace"
    too="1000000 epochs of 64 steps are 64000000 steps; a run is at most 16777216 steps"
    (cd "$tmp" && "$nnc" --jit hl.nn) > "$tmp/out" 2>&1 && fail "--jit ran 64000000 steps"
    [ "$(cat "$tmp/out")" = "nnc: error: $too" ] || fail "the run's message: $(cat "$tmp/out")"
    (cd "$tmp" && "$nnc" --emit=so -o libhl.so hl.nn) > "$tmp/out" 2>&1 && fail "emitted a horizon of 64000000 steps"
    want="nnc: error: the learning-rate schedule spans the train block's 1000000 epochs: $too"
    [ "$(cat "$tmp/out")" = "$want" ] || fail "the message: $(cat "$tmp/out")"
    [ ! -e "$tmp/libhl.so" ] || fail "a library was written" ;;
cosine)
    /usr/bin/python3 -c 'import numpy' 2>/dev/null || { echo "no numpy; skipped"; exit 77; }
    [ "$san" = ON ] && { echo "a sanitized library does not load into python; skipped"; exit 77; }
    "$nnc" --emit=so -o "$tmp/libcos_sim.so" "$root/tests/embed/cosine.nn" || fail "nnc --emit=so"
    /usr/bin/python3 "$root/tests/embed/cosine.py" "$nnc" "$root/tests/embed/cosine.nn" "$tmp/libcos_sim.so" "$tmp" \
        || fail "cosine.py" ;;
forward)
    "$nnc" --emit=so -o "$tmp/libtwo_in.so" "$root/tests/embed/forward.nn" || fail "nnc --emit=so"
    grep -q "_train_step(" "$tmp/two_in.h" && fail "a forward-only header declares train_step"
    grep -q "^int two_in_forward(two_in \*m, int64_t batch, const float \*a, const int32_t \*ids, float \*output);" \
        "$tmp/two_in.h" || fail "no two_in_forward taking a and ids in order"
    printf '#include "two_in.h"\nint main(void) { return 0; }\n' > "$tmp/h.c"
    cc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -I "$tmp" "$tmp/h.c" || fail "two_in.h in C99"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$root/tests/embed/forward.c" -L "$tmp" -ltwo_in -Wl,-rpath,"$tmp" \
        -lm -o "$tmp/forward" || fail "building forward.c"
    "$tmp/forward" "$tmp" > "$tmp/out" || { cat "$tmp/out"; fail "forward"; }
    cat "$tmp/out"
    want=$("$nnc" --predict --seed 7 --input a=0.5,-1 --input ids=4,0,2 "$root/tests/embed/forward.nn") \
        || fail "nnc --predict"
    [ "$(sed -n 1p "$tmp/out")" = "$want" ] || fail "the library gives '$(sed -n 1p "$tmp/out")', --predict '$want'"
    (cd "$tmp" && "$nnc" --emit=obj "$root/tests/embed/forward.nn") || fail "nnc --emit=obj"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$root/tests/embed/forward.c" "$tmp/two_in.o" "$rtlib" \
        -lz -lpthread -lm -o "$tmp/forward_obj" || fail "linking two_in.o"
    "$tmp/forward_obj" "$tmp" > "$tmp/out2" || { cat "$tmp/out2"; fail "forward (obj)"; }
    cmp "$tmp/out" "$tmp/out2" || fail "the object and the library differ" ;;
state)
    sed 's/model xor/model adam_xor/; s/sgd(lr: 1.0)/adam(lr: 0.05)/' "$root/examples/xor.nn" > "$tmp/adam_xor.nn"
    grep -q 'adam(lr: 0.05)' "$tmp/adam_xor.nn" || fail "examples/xor.nn changed: no 'sgd(lr: 1.0)' to replace"
    "$nnc" --emit=so -o "$tmp/libadam_xor.so" "$tmp/adam_xor.nn" || fail "nnc --emit=so"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$root/tests/embed/state.c" -L "$tmp" -ladam_xor -Wl,-rpath,"$tmp" \
        -lm -o "$tmp/state" || fail "building state.c"
    "$tmp/state" "$tmp" train || fail "state train"
    /usr/bin/python3 "$root/tests/jit/ckedit.py" drop "$tmp/full.safetensors" "$tmp/params.safetensors" optimizer. \
        || fail "ckedit"
    "$tmp/state" "$tmp" resume || fail "state resume" ;;
repack)
    mlp_so
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$root/tests/embed/repack.c" -L "$tmp" -lmnist_mlp -Wl,-rpath,"$tmp" \
        -lm -o "$tmp/repack" || fail "building repack.c"
    "$tmp/repack" "$tmp" || fail "repack" ;;
fold)
    "$nnc" --emit=so -o "$tmp/libfold.so" "$root/tests/embed/fold.nn" || fail "nnc --emit=so"
    # the fold path is what is tested: its products keep their packing
    n=$(objdump -d "$tmp/libfold.so" | grep -c "call.*<rt_kept_scratch>")
    [ "$n" -ge 1 ] || fail "no body of fold's forward calls rt_kept_scratch"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$root/tests/embed/fold.c" -L "$tmp" -lfold -Wl,-rpath,"$tmp" \
        -lm -o "$tmp/fold" || fail "building fold.c"
    "$tmp/fold" "$tmp" || fail "fold" ;;
kept)
    [ "$san" = ON ] && { echo "an address-space limit under the sanitizers; skipped"; exit 77; }
    printf 'model big {\n    input x: f32[2048]\n    y = dense(x, 8192)\n    output y\n}\n' > "$tmp/big.nn"
    "$nnc" --emit=so -o "$tmp/libbig.so" "$tmp/big.nn" || fail "nnc --emit=so"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$root/tests/embed/kept.c" -L "$tmp" -lbig -Wl,-rpath,"$tmp" \
        -lm -o "$tmp/kept" || fail "building kept.c"
    "$tmp/kept" || fail "kept" ;;
bpe)
    "$nnc" --jit --steps 1 --save "$tmp/ck.safetensors" "$root/tests/jit/bpe.nn" 2>"$tmp/log" || { cat "$tmp/log"; fail "--jit"; }
    "$nnc" --emit=so -o "$tmp/libsubwords.so" "$root/tests/jit/bpe.nn" || fail "nnc --emit=so"
    grep -q "^int64_t subwords_encode(subwords \*m, const char \*text, int64_t len, int32_t \*ids, int64_t cap);" \
        "$tmp/subwords.h" || fail "no subwords_encode in subwords.h"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$root/tests/embed/bpe.c" -L "$tmp" -lsubwords -Wl,-rpath,"$tmp" \
        -lm -o "$tmp/bpe" || fail "building bpe.c"
    "$tmp/bpe" "$tmp/ck.safetensors" "$tmp/again.safetensors" > "$tmp/out" || { cat "$tmp/out"; fail "bpe.c"; }
    cat "$tmp/out"
    # the same sentence encoded in Python: the checkpoint's merges applied in order, each left to right
    want=$(/usr/bin/python3 - "$tmp/ck.safetensors" <<'EOF'
import json, struct, sys
f = open(sys.argv[1], 'rb')
meta = json.loads(f.read(struct.unpack('<Q', f.read(8))[0]))['__metadata__']
ids = list('the bird flew on the café.\nthe dog ran'.encode())
for z, m in enumerate(meta['nnc.bpe_merges'].split(' '), 256):
    a, b = map(int, m.split(','))
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
            out.append(z); i += 2
        else:
            out.append(ids[i]); i += 1
    ids = out
print(' '.join(map(str, ids)))
EOF
)
    [ "$(head -1 "$tmp/out")" = "$want" ] || fail "the library's ids differ from Python's: $want" ;;
chars)
    "$nnc" --jit --steps 1 --save "$tmp/ck.safetensors" "$root/tests/jit/abcd.nn" 2>"$tmp/log" || { cat "$tmp/log"; fail "--jit"; }
    "$nnc" --emit=so -o "$tmp/libabcd.so" "$root/tests/jit/abcd.nn" || fail "nnc --emit=so"
    cat > "$tmp/resave.c" <<END
#include <stdio.h>
#include "abcd.h"
int main(void)
{
    abcd *m = abcd_create(1);
    if (!m || abcd_load(m, "$tmp/ck.safetensors") != 0 || abcd_save(m, "$tmp/again.safetensors") != 0) {
        printf("%s\n", m ? abcd_last_error(m) : "create");
        return 1;
    }
    abcd_destroy(m);
    return 0;
}
END
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$tmp/resave.c" -L "$tmp" -labcd -Wl,-rpath,"$tmp" -lm \
        -o "$tmp/resave" || fail "building resave.c"
    "$tmp/resave" || fail "resave"
    /usr/bin/python3 - "$tmp/ck.safetensors" "$tmp/again.safetensors" <<'EOF' || fail "the vocabulary was not kept"
import json, struct, sys
def meta(p):
    f = open(p, 'rb')
    return json.loads(f.read(struct.unpack('<Q', f.read(8))[0]))['__metadata__']
a, b = meta(sys.argv[1]), meta(sys.argv[2])
print('saved by the library:', b)
assert a['nnc.chars'] == '10 97 98 99 100' and b.get('nnc.tokenizer') == 'bytes' and b.get('nnc.chars') == a['nnc.chars']
EOF
    # a vocabulary longer than the model's (nnc.chars edited by hand) is refused by load and load_memory in the
    # words --load refuses it in (tests/jit/train.sh, charvocab), and the instance keeps what it had
    /usr/bin/python3 - "$tmp/ck.safetensors" "$tmp/long.safetensors" <<'EOF' || fail "writing long.safetensors"
import json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
head = json.loads(raw[8:8 + n])
head['__metadata__']['nnc.chars'] += ' 101'
b = json.dumps(head).encode()
b += b' ' * (-len(b) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(b)) + b + raw[8 + n:])
EOF
    cat > "$tmp/long.c" <<END
#include <stdio.h>
#include "abcd.h"
int main(void)
{
    static char buf[1 << 20];
    FILE *f = fopen("$tmp/long.safetensors", "rb");
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    abcd *m = abcd_create(1);
    if (!m || !n || n == sizeof buf || abcd_load(m, "$tmp/ck.safetensors") != 0)
        return printf("%s\n", m ? abcd_last_error(m) : "create or read"), 1;
    printf("load: %d %s\n", abcd_load(m, "$tmp/long.safetensors"), abcd_last_error(m));
    printf("load_memory: %d %s\n", abcd_load_memory(m, buf, n), abcd_last_error(m));
    if (abcd_save(m, "$tmp/kept.safetensors") != 0)
        return printf("%s\n", abcd_last_error(m)), 1;
    abcd_destroy(m);
    fclose(f);
    return 0;
}
END
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$tmp/long.c" -L "$tmp" -labcd -Wl,-rpath,"$tmp" -lm \
        -o "$tmp/long" || fail "building long.c"
    "$tmp/long" > "$tmp/out" || { cat "$tmp/out"; fail "long"; }
    cat "$tmp/out"
    too="its byte vocabulary (nnc.chars) has 6 bytes, but the model's vocabulary is 5"
    [ "$(cat "$tmp/out")" = "load: -1 $tmp/long.safetensors: $too
load_memory: -1 load_memory: $too" ] || fail "not refused by message"
    /usr/bin/python3 - "$tmp/kept.safetensors" <<'EOF' || fail "the refused vocabulary was taken"
import json, struct, sys
f = open(sys.argv[1], 'rb')
meta = json.loads(f.read(struct.unpack('<Q', f.read(8))[0]))['__metadata__']
assert meta.get('nnc.chars') == '10 97 98 99 100', meta
EOF
    ;;
identity)
    printf 'model fwd_ident {\n    input x: f32[3]\n    output x * 1\n}\n' > "$tmp/fwd.nn"
    printf 'model trained_ident {\n    input x: f32[3]\n    target t: f32[3]\n    output x\n    loss mse(dense(x, 3), t)\n}\n' \
        > "$tmp/trained.nn"
    for lib in fwd_ident trained_ident; do
        nn=$tmp/${lib%_ident}.nn
        "$nnc" --emit=so -o "$tmp/lib$lib.so" "$nn" || fail "$lib: nnc --emit=so"
        cat > "$tmp/$lib.c" <<END
#include <stdio.h>
#include "$lib.h"
int main(void)
{
    const float x[6] = {1.0f, -2.0f, 3.5f, 0.25f, 0.0f, -1e30f};
    float y[6] = {0};
    $lib *m = ${lib}_create(1);
    if (!m || ${lib}_forward(m, 2, x, y) != 0)
        return 1;
    for (int i = 0; i < 6; i++)
        printf("%.9g%s", y[i], i == 5 ? "\\n" : " ");
    ${lib}_destroy(m);
    return 0;
}
END
        # shellcheck disable=SC2086
        cc -std=c99 -Wall -Wextra -Werror $cflags "$tmp/$lib.c" -L "$tmp" -l$lib -Wl,-rpath,"$tmp" -lm \
            -o "$tmp/$lib" || fail "building $lib.c"
        got=$("$tmp/$lib") || fail "$lib: forward"
        [ "$got" = "1 -2 3.5 0.25 0 -1.00000002e+30" ] || fail "$lib: forward gave '$got'"
    done
    echo "both libraries return their input" ;;
*)
    echo "unknown case $case"; exit 2 ;;
esac
