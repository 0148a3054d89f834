#!/bin/sh
# exe.sh NNC ROOT CASE — trainers written ahead of time by `nnc model.nn`.
#   xor        the executable, run from another directory, finds xor.csv beside
#              the model and gives the very metrics of nnc --jit; it needs no
#              LLVM (ldd); --emit=llvm and --emit=asm write the module's entries
#   mnist      examples/mnist_mlp.nn as an executable: every epoch's metrics
#              equal those of nnc --jit with the same seed; run with --batch
#              200 (compiled for 64), its epoch equals nnc --jit --batch 200's
#   options    the trainer's command line: --help, a smaller and a larger
#              --batch, and the exact messages for a bad batch, another
#              learning rate, an unknown option, --eval without --load,
#              --save and --metrics naming one file, a --chart not .svg,
#              missing data, a checkpoint of another model (refused before
#              the data is read)
#   cpu        --target-cpu=x86-64-v3 makes a trainer that trains xor
#   refuse     -o naming the model itself is refused and the model kept; a
#              model without a train block gets a message; an existing output
#              is replaced whole; a link at -o stays a link, its target
#              replaced, and a link planted at OUT.nnc-tmp is not written
#              through, with TMPDIR on -o's file system and on another
#   full       a trainer and an --emit=so library written into a full file
#              system (a tmpfs with room for half the output beside the
#              user's file of the same name; skipped, 77, when mount is not
#              allowed): install_file's copy fails with ENOSPC, the message
#              names the path, exit 1, and the user's file (and the
#              library's header) stay byte for byte, with no temporary left
#   sample     a text model's trainer saves, loads and generates like --jit, and
#              refuses --length or --temperature without --sample, a second
#              --sample, --steps with it, and --epochs (text has none) as nnc
#              does; without --load it notes that the weights are untrained;
#              a trainer whose text is nowhere samples the same from the
#              checkpoint's vocabulary (-v says so), and without --load says
#              it needs the text for the vocabulary, exit 1
#   bpe        the trainer of tests/jit/bpe.nn learns the merges (-v says so),
#              saves them, and samples from its checkpoint the very bytes
#              nnc --jit samples from it, and a trainer whose text is nowhere
#              the same bytes
#   kv         the trainers of tests/jit/kv.nn (characters) and tests/jit/bpe.nn
#              (bpe tokens) sample with the key/value cache (-v says so) the
#              very text they sample with --no-kv-cache, at temperature 1, 200
#              tokens from a prompt longer than the window; logits within
#              1e-4 (NNC_SAMPLE_COMPARE=1)
# The mnist case needs $NNC_DATA/mnist (exit 77, skipped, without it).
nnc=$1 root=$2 case=$3
tmp=$(mktemp -d)
shm=
trap 'rm -rf "$tmp" ${shm:+"$shm"}' EXIT
# strip FILE: the metrics lines without times, and without the header line a
# run starts with (the one whose first key is "nnc": docs/training.md)
strip() { grep -v '^{"nnc": ' "$1" | sed 's/"[a-z_]*_seconds*": [0-9.]*//g'; }
fail() { echo "FAIL: $*"; exit 1; }
case $case in
xor)
    "$nnc" -o "$tmp/xor" "$root/examples/xor.nn" || fail "nnc"
    ldd "$tmp/xor" | grep -i llvm && fail "the trainer links LLVM"
    (cd "$tmp" && ./xor --metrics j1 2>log) || { cat "$tmp/log"; fail "the trainer"; }
    "$nnc" --jit --metrics "$tmp/j2" "$root/examples/xor.nn" 2>"$tmp/log" || { cat "$tmp/log"; fail "--jit"; }
    strip "$tmp/j1" > "$tmp/a"; strip "$tmp/j2" > "$tmp/b"
    tail -1 "$tmp/a"
    cmp "$tmp/a" "$tmp/b" || fail "the trainer's metrics differ from --jit's"
    # the trainer's header line is --jit's but for the time it started
    head -1 "$tmp/j1"
    head -1 "$tmp/j1" | sed 's/"started": "[^"]*"//' > "$tmp/a"; head -1 "$tmp/j2" | sed 's/"started": "[^"]*"//' > "$tmp/b"
    grep -q '^{"nnc": "[0-9.]*", "model": "xor", "file": ' "$tmp/a" || fail "no header line in the trainer's metrics"
    cmp "$tmp/a" "$tmp/b" || fail "the trainer's header line differs from --jit's: $(cat "$tmp/b")"
    (cd "$tmp" && "$nnc" --emit=llvm "$root/examples/xor.nn" && "$nnc" --emit=asm "$root/examples/xor.nn") || fail "--emit"
    grep -q "^define void @nnc_train_step(ptr" "$tmp/xor.ll" || fail "no nnc_train_step in xor.ll"
    grep -q "^define void @nnc_eval(ptr" "$tmp/xor.ll" || fail "no nnc_eval in xor.ll"
    grep -q "^nnc_train_step:" "$tmp/xor.s" || fail "no nnc_train_step in xor.s" ;;
mnist)
    [ -n "$NNC_DATA" ] && [ -d "$NNC_DATA/mnist" ] || { echo "no MNIST in \$NNC_DATA; skipped"; exit 77; }
    "$nnc" -o "$tmp/mnist_mlp" "$root/examples/mnist_mlp.nn" || fail "nnc"
    "$tmp/mnist_mlp" --metrics "$tmp/m1" 2>"$tmp/log" || { cat "$tmp/log"; fail "the trainer"; }
    "$nnc" --jit --metrics "$tmp/m2" "$root/examples/mnist_mlp.nn" 2>"$tmp/log" || { cat "$tmp/log"; fail "--jit"; }
    strip "$tmp/m1" > "$tmp/a"; strip "$tmp/m2" > "$tmp/b"
    cat "$tmp/a"
    cmp "$tmp/a" "$tmp/b" || fail "the trainer's metrics differ from --jit's"
    "$tmp/mnist_mlp" --batch 200 --epochs 1 --metrics "$tmp/m3" 2>"$tmp/log" || { cat "$tmp/log"; fail "--batch 200"; }
    "$nnc" --jit --batch 200 --epochs 1 --metrics "$tmp/m4" "$root/examples/mnist_mlp.nn" 2>"$tmp/log" \
        || { cat "$tmp/log"; fail "--jit --batch 200"; }
    strip "$tmp/m3" > "$tmp/a"; strip "$tmp/m4" > "$tmp/b"
    cat "$tmp/a"
    cmp "$tmp/a" "$tmp/b" || fail "--batch 200: the trainer's metrics differ from --jit's" ;;
options)
    "$nnc" -o "$tmp/xor" "$root/examples/xor.nn" || fail "nnc"
    "$tmp/xor" --help > "$tmp/help" || fail "--help"
    [ "$(head -2 "$tmp/help")" = "Usage: xor [OPTION]...
Train model 'xor' (compiled by nnc) as its train block says." ] || fail "--help: $(head -2 "$tmp/help")"
    "$tmp/xor" --batch 2 --epochs 3 --data "$root/examples" 2>"$tmp/log" || { cat "$tmp/log"; fail "--batch 2"; }
    grep -q "^trained 6 steps" "$tmp/log" || fail "--batch 2: $(cat "$tmp/log")"
    "$tmp/xor" --batch 1000 --epochs 3 --data "$root/examples" 2>"$tmp/log" || { cat "$tmp/log"; fail "--batch 1000"; }
    grep -q "^trained 3 steps" "$tmp/log" || fail "--batch 1000: $(cat "$tmp/log")"
    expect() {  # expect STATUS MESSAGE ARGS...: the trainer's exit status and stderr
        want=$1 msg=$2; shift 2
        "$tmp/xor" "$@" 2>"$tmp/err"
        got=$?
        [ "$got" = "$want" ] || fail "$*: exit status $got, expected $want"
        [ "$(cat "$tmp/err")" = "$msg" ] || fail "$*: said '$(cat "$tmp/err")', expected '$msg'"
    }
    expect 2 "xor: error: --batch wants a whole number from 1 to 16777216, not '0'" --batch 0
    expect 2 "xor: error: --batch wants a whole number from 1 to 16777216, not '9223372036854775807'" \
        --batch 9223372036854775807
    expect 2 "xor: error: --threads wants a whole number from 1 to 1024, not '5000'" --threads 5000
    expect 2 "xor: error: --lr 0.5: the learning rate is compiled in (1); recompile with nnc --lr 0.5" --lr 0.5
    expect 2 "xor: error: unknown option '--bogus' (see xor --help)" --bogus
    expect 2 "xor: error: --epochs wants a whole number from 1 to 1000000, not 'many'" --epochs many
    expect 2 "xor: error: --eval needs --load FILE" --eval
    expect 2 "xor: error: unexpected argument 'extra' (see xor --help)" extra
    expect 2 "xor: error: --sample needs a model trained on text(...)" --sample hi
    # --eval trains nothing: the options of training are refused, not dropped
    expect 2 "xor: error: --save goes with training; --eval trains nothing, so there is no checkpoint to write" \
        --eval --load x.safetensors --save y.safetensors
    expect 2 "xor: error: --chart goes with training; --eval trains nothing, so there is no learning curve to draw" \
        --eval --load x.safetensors --chart c.svg
    expect 2 "xor: error: --lr goes with training; --eval trains nothing, so no learning rate is used" --eval --load x --lr 1
    expect 2 "xor: error: --save '$tmp/o.st' and --metrics '$tmp/o.st' are the same file; each writes a file of its own" \
        --save "$tmp/o.st" --metrics "$tmp/o.st" --data "$root/examples"
    expect 2 "xor: error: --chart draws SVG only: give it a name ending in .svg, not 'curve.png'" --chart curve.png
    # data missing: a copy of the model in a directory without xor.csv
    mkdir "$tmp/empty"
    cp "$root/examples/xor.nn" "$tmp/empty/model.nn"
    "$nnc" -o "$tmp/empty/t" "$tmp/empty/model.nn" || fail "nnc"
    (cd "$tmp/empty" && env -u NNC_DATA ./t 2>err); got=$?
    [ "$got" = 1 ] || fail "missing data: exit status $got"
    grep -q "^t: error: cannot open ./xor.csv: No such file or directory" "$tmp/empty/err" \
        || fail "missing data: $(cat "$tmp/empty/err")"
    # a checkpoint of another model is refused before the data is read (there is none here)
    sed 's/dense(x, 2)/dense(x, 3)/' "$root/examples/xor.nn" > "$tmp/wide.nn"
    "$nnc" --jit --epochs 1 --data "$root/examples" --save "$tmp/wide.safetensors" "$tmp/wide.nn" 2>"$tmp/log" \
        || { cat "$tmp/log"; fail "wide"; }
    (cd "$tmp/empty" && env -u NNC_DATA ./t --load ../wide.safetensors 2>err); got=$?
    [ "$got" = 1 ] || fail "another model's checkpoint: exit status $got"
    [ "$(cat "$tmp/empty/err")" = \
        "t: error: ../wide.safetensors: tensor 'hidden.weight' is F32[3,2], but the model has F32[2,2]" ] \
        || fail "another model's checkpoint: $(cat "$tmp/empty/err")" ;;
cpu)
    "$nnc" --target-cpu=x86-64-v3 -o "$tmp/xor" "$root/examples/xor.nn" || fail "nnc"
    "$tmp/xor" --metrics "$tmp/m" --data "$root/examples" 2>"$tmp/log" || { cat "$tmp/log"; fail "the trainer"; }
    loss=$(tail -1 "$tmp/m" | tr ',{}' '\n\n\n' | awk -F': ' '$1 ~ /"train_loss"/ {print $2}')
    echo "final loss $loss"
    echo "$loss" | grep -Eq '^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$' || fail "no train_loss in the metrics"
    awk -v l="$loss" 'BEGIN { exit !(l < 0.01) }' || fail "loss $loss" ;;
refuse)
    cp "$root/examples/xor.nn" "$root/examples/xor.csv" "$tmp/"
    "$nnc" -o "$tmp/xor.nn" "$tmp/xor.nn" 2>"$tmp/err"; got=$?
    [ "$got" = 1 ] || fail "-o model: exit status $got"
    [ "$(cat "$tmp/err")" = "nnc: error: the output $tmp/xor.nn is the model file itself; give another with -o" ] \
        || fail "-o model: $(cat "$tmp/err")"
    cmp "$tmp/xor.nn" "$root/examples/xor.nn" || fail "the model was changed"
    printf 'model m {\n    input x: f32[2]\n    output dense(x, 1)\n}\n' > "$tmp/m.nn"
    "$nnc" -o "$tmp/m" "$tmp/m.nn" 2>"$tmp/err"; got=$?
    [ "$got" = 1 ] || fail "no train block: exit status $got"
    [ "$(head -1 "$tmp/err")" = "$tmp/m.nn: error: model 'm' has no train block; a trainer needs one (and a loss)" ] \
        || fail "no train block: $(cat "$tmp/err")"
    [ -e "$tmp/m" ] && fail "no train block: an output was written"
    echo old > "$tmp/out"
    "$nnc" -o "$tmp/out" "$tmp/xor.nn" || fail "nnc"
    "$tmp/out" --epochs 1 2>/dev/null || fail "the replaced output does not run"
    # the output installed as the runtime replaces a checkpoint: a link at -o
    # stays a link, its target replaced, from the temporary directory's file
    # system (a rename) and from another (a copy, TMPDIR on /dev/shm); a link
    # planted at the name the copy once used (OUT.nnc-tmp) is not written through
    tmps=$tmp
    if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -c %d /dev/shm)" != "$(stat -c %d "$tmp")" ]; then
        shm=$(mktemp -d /dev/shm/nnc-aot.XXXXXX) && tmps="$tmp $shm"
    fi
    for t in $tmps; do
        rm -f "$tmp/real" "$tmp/link" "$tmp/link.nnc-tmp" "$tmp/victim"
        echo old > "$tmp/real" && ln -s real "$tmp/link" && echo victim > "$tmp/victim" \
            && ln -s victim "$tmp/link.nnc-tmp" && ln -s victim "$tmp/real.nnc-tmp" || fail "links"
        TMPDIR=$t "$nnc" -o "$tmp/link" "$tmp/xor.nn" || fail "nnc -o link (TMPDIR $t)"
        [ -L "$tmp/link" ] && [ "$(cat "$tmp/victim")" = victim ] || fail "TMPDIR $t: the link replaced, or written through"
        "$tmp/real" --epochs 1 2>/dev/null || fail "TMPDIR $t: the link's target does not run"
        [ -z "$(find "$tmp" -name '.nnc-*.tmp')" ] || fail "TMPDIR $t: a temporary was left"
        rm -f "$tmp/real.nnc-tmp"
    done
    echo "outputs: links kept, planted links not followed, $(echo $tmps | wc -w) file system(s)" ;;
sample)
    "$nnc" -o "$tmp/abcd" "$root/tests/jit/abcd.nn" || fail "nnc"
    "$tmp/abcd" --save "$tmp/ck.safetensors" 2>"$tmp/log" || { cat "$tmp/log"; fail "the trainer"; }
    "$tmp/abcd" --load "$tmp/ck.safetensors" --sample bc --length 20 --temperature 0.1 >"$tmp/out" 2>"$tmp/log" \
        || { cat "$tmp/log"; fail "--sample"; }
    cat "$tmp/out"
    [ "$(cat "$tmp/out")" = "bcdabcdabcdabcdabcdabc" ] || fail "sample"
    # the checkpoint keeps the vocabulary: a trainer of a copy of the model beside no abcd.txt, under an
    # empty data root, samples the same without the text (-v says so), and without --load says why it needs it
    mkdir "$tmp/bare" "$tmp/empty"
    cp "$root/tests/jit/abcd.nn" "$tmp/bare/"
    "$nnc" -o "$tmp/bare/abcd" "$tmp/bare/abcd.nn" || fail "nnc"
    NNC_DATA=$tmp/empty "$tmp/bare/abcd" -v --load "$tmp/ck.safetensors" --sample bc --length 20 --temperature 0.1 \
        >"$tmp/out" 2>"$tmp/log" || { cat "$tmp/log"; fail "--sample without the text"; }
    [ "$(cat "$tmp/out")" = "bcdabcdabcdabcdabcdabc" ] || fail "sample without the text: $(cat "$tmp/out")"
    [ "$(grep '^vocabulary' "$tmp/log")" = "vocabulary: 5 bytes from $tmp/ck.safetensors (nnc.chars); --sample reads \
no text file" ] || { cat "$tmp/log"; fail "-v: no vocabulary line, or another"; }
    NNC_DATA=$tmp/empty "$tmp/bare/abcd" --sample bc >"$tmp/out" 2>"$tmp/err"; got=$?
    [ "$got" = 1 ] && [ ! -s "$tmp/out" ] && [ "$(cat "$tmp/err")" = "abcd: error: cannot open $tmp/empty/abcd.txt: No \
such file or directory (data root '$tmp/empty', from NNC_DATA; nor beside the model in '$tmp/bare'); --sample without \
--load needs the text for its vocabulary" ] || fail "--sample without --load or the text: exit $got, $(cat "$tmp/err")"
    # the trainer refuses what nnc --jit refuses (runtime/run.c rt_sample_options_rule: one rule)
    for opt in "--length 20" "--temperature 0.1"; do
        # shellcheck disable=SC2086
        "$tmp/abcd" --load "$tmp/ck.safetensors" $opt >"$tmp/out" 2>"$tmp/err"; got=$?
        [ "$got" = 2 ] && [ "$(cat "$tmp/err")" = "abcd: error: --length and --temperature go with --sample" ] \
            && [ ! -s "$tmp/out" ] || fail "$opt without --sample: exit $got, $(cat "$tmp/err")"
    done
    # one text is sampled: a second --sample is refused, as a second --input of nnc --predict is
    "$tmp/abcd" --load "$tmp/ck.safetensors" --sample bc --sample cd >"$tmp/out" 2>"$tmp/err"; got=$?
    [ "$got" = 2 ] && [ "$(cat "$tmp/err")" = "abcd: error: --sample is given twice" ] && [ ! -s "$tmp/out" ] \
        || fail "--sample twice: exit $got, $(cat "$tmp/err")"
    # any other option with a value, given twice, is refused as nnc refuses it: the second replaced the first
    for opt in "--load $tmp/ck.safetensors" "--length 5"; do
        # shellcheck disable=SC2086
        "$tmp/abcd" --load "$tmp/ck.safetensors" --sample bc $opt $opt >"$tmp/out" 2>"$tmp/err"; got=$?
        [ "$got" = 2 ] && [ "$(cat "$tmp/err")" = "abcd: error: ${opt%% *} is given twice" ] && [ ! -s "$tmp/out" ] \
            || fail "$opt twice: exit $got, $(cat "$tmp/err")"
    done
    # --sample trains nothing: the options of training are refused as nnc --jit refuses them
    "$tmp/abcd" --load "$tmp/ck.safetensors" --steps 3 --sample bc >"$tmp/out" 2>"$tmp/err"; got=$?
    [ "$got" = 2 ] && [ ! -s "$tmp/out" ] && [ "$(cat "$tmp/err")" = "abcd: error: --steps goes with training; \
--sample trains and evaluates nothing, so there are no steps to take" ] || fail "--steps --sample: exit $got, $(cat "$tmp/err")"
    "$tmp/abcd" --load "$tmp/ck.safetensors" --batch 8 --sample bc >"$tmp/out" 2>"$tmp/err"; got=$?
    [ "$got" = 2 ] && [ ! -s "$tmp/out" ] && [ "$(cat "$tmp/err")" = "abcd: error: --batch goes with training and --eval; \
--sample trains and evaluates nothing, so it draws one sequence, not batches" ] || fail "--batch --sample: exit $got, $(cat "$tmp/err")"
    "$tmp/abcd" --sample bc --length 4 >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "--sample without --load"; }
    [ "$(cat "$tmp/err")" = "abcd: note: --sample without --load samples from the model's untrained (random) weights" ] \
        || fail "--sample without --load: $(cat "$tmp/err")"
    # text has no epochs: the train block's rule, and nnc --epochs's
    "$tmp/abcd" --epochs 1 >"$tmp/out" 2>"$tmp/err"; got=$?
    [ "$got" = 2 ] && [ ! -s "$tmp/out" ] && [ "$(cat "$tmp/err")" = "abcd: error: --epochs: the model trains on text data, \
which is sampled in random windows and has no epochs; use --steps" ] || fail "--epochs 1: exit $got, $(cat "$tmp/err")" ;;
bpe)
    "$nnc" -o "$tmp/subwords" "$root/tests/jit/bpe.nn" || fail "nnc"
    "$tmp/subwords" -v --save "$tmp/ck.safetensors" 2>"$tmp/log" || { cat "$tmp/log"; fail "the trainer"; }
    grep -Eq '^bpe: learned 44 merges from 4564 bytes in [0-9.]+ ms; 5\.943 bytes per token on the training split \(768 tokens\)$' \
        "$tmp/log" || { cat "$tmp/log"; fail "no bpe line"; }
    "$tmp/subwords" --load "$tmp/ck.safetensors" --sample "the cat" --length 20 --temperature 0.5 >"$tmp/out" 2>"$tmp/log" \
        || { cat "$tmp/log"; fail "--sample"; }
    cat "$tmp/out"
    # the trainer's checkpoint carries its merges: --jit samples the same bytes from it
    "$nnc" --jit --load "$tmp/ck.safetensors" --sample "the cat" --length 20 --temperature 0.5 "$root/tests/jit/bpe.nn" \
        >"$tmp/out2" 2>"$tmp/log" || { cat "$tmp/log"; fail "--jit --sample"; }
    cmp "$tmp/out" "$tmp/out2" || fail "the trainer and --jit sample differently"
    # the merges are the checkpoint's: a trainer of a copy of the model beside no bpe.txt, under an empty
    # data root, samples the same bytes without the text
    mkdir "$tmp/bare" "$tmp/empty"
    cp "$root/tests/jit/bpe.nn" "$tmp/bare/"
    "$nnc" -o "$tmp/bare/subwords" "$tmp/bare/bpe.nn" || fail "nnc"
    NNC_DATA=$tmp/empty "$tmp/bare/subwords" -v --load "$tmp/ck.safetensors" --sample "the cat" --length 20 \
        --temperature 0.5 >"$tmp/out2" 2>"$tmp/log" || { cat "$tmp/log"; fail "--sample without the text"; }
    cmp "$tmp/out" "$tmp/out2" || fail "the trainer samples differently without the text"
    [ "$(grep '^bpe:' "$tmp/log")" = "bpe: 44 merges from $tmp/ck.safetensors; --sample reads no text file" ] \
        || { cat "$tmp/log"; fail "-v: no bpe line, or another"; } ;;
kv)
    . "$root/tests/jit/kv_compare.sh"
    for m in kv bpe; do
        "$nnc" -o "$tmp/$m" "$root/tests/jit/$m.nn" || fail "nnc"
        "$tmp/$m" --steps 100 --save "$tmp/$m.safetensors" 2>"$tmp/log" || { cat "$tmp/log"; fail "the trainer"; }
        kv_compare "$m" "$tmp/$m" || fail "$m: sampling with and without the cache"
    done
    "$tmp/kv" --no-kv-cache 2>"$tmp/err"; got=$?
    [ "$got" = 2 ] && [ "$(cat "$tmp/err")" = "kv: error: --no-kv-cache goes with --sample" ] \
        || fail "--no-kv-cache alone: exit $got, $(cat "$tmp/err")" ;;
full)
    "$nnc" -o "$tmp/xor" "$root/examples/xor.nn" && "$nnc" --emit=so -o "$tmp/libxor.so" "$root/examples/xor.nn" \
        || fail "nnc"
    cp "$root/examples/xor.nn" "$tmp/"
    mkdir "$tmp/small" "$tmp/kept"
    trap 'umount "$tmp/small" 2>/dev/null; rm -rf "$tmp" ${shm:+"$shm"}' EXIT
    for out in xor libxor.so; do
        kib=$(( ($(wc -c < "$tmp/$out") + 1023) / 1024 ))
        mount -t tmpfs -o size=$((kib * 3 / 2))k tmpfs "$tmp/small" 2>/dev/null \
            || { echo "cannot mount a tmpfs here (not root?): skipped"; exit 77; }
        # the user's file of that name, as large as the new one: half of it fits beside
        head -c $((kib * 1024)) /dev/urandom > "$tmp/small/$out" && echo "/* the user's */" > "$tmp/small/xor.h" \
            && cp "$tmp/small/$out" "$tmp/small/xor.h" "$tmp/kept/" || fail "the user's files"
        emit=; [ "$out" = libxor.so ] && emit=--emit=so
        # shellcheck disable=SC2086
        (cd "$tmp" && "$nnc" $emit -o "small/$out" xor.nn) 2>"$tmp/err"; got=$?
        listing=$(ls -A "$tmp/small" | tr '\n' ' ')
        same=0; cmp -s "$tmp/small/$out" "$tmp/kept/$out" && cmp -s "$tmp/small/xor.h" "$tmp/kept/xor.h" && same=1
        umount "$tmp/small" || fail "umount"
        [ "$got" = 1 ] || fail "$out: exit status $got, not 1"
        [ "$(cat "$tmp/err")" = "nnc: error: cannot write 'small/$out': No space left on device" ] \
            || fail "$out: $(cat "$tmp/err")"
        [ "$same" = 1 ] && [ "$listing" = "$out xor.h " ] || fail "$out: the user's files changed, or a file was left: $listing"
    done
    echo "a full file system: the trainer's and the library's copies refused with ENOSPC, the user's files kept" ;;
*)
    echo "unknown case $case"; exit 2 ;;
esac
