#!/bin/sh
# train.sh NNC ROOT CASE — training through the JIT, end to end.
#   xor          examples/xor.nn learns XOR: final loss below 0.01 (every
#                example then sits on the right side of 0.5 with margin)
#   mnist        examples/mnist_mlp.nn as it is (5 epochs) reaches 97.5% test accuracy
#   threads      200 steps on 1 and on 2 threads give identical losses (the
#                MLP); threads_cnn and threads_gpt: the same for 60 steps of
#                examples/mnist_cnn.nn and 20 of examples/shakespeare.nn
#   tiles        the MLP's 100 steps with several matmul register tiles
#                (NNC_TILE): identical losses
#   pool_batch   the MLP's entries send each kernel to the thread pool from
#                the batch at which its work reaches the threshold, compared
#                with the step's batch at run time (5, 128, 391 examples)
#   threads_busy the MLP's 200 steps on 1, 2 and 3 threads and the default
#                (which times steps on all threads and on one and switches:
#                runtime/pace.c) while two busy processes (yes > /dev/null)
#                compete for the CPUs: identical losses (the claims that
#                threads take, and the mode, depend on timing; the bits
#                must not)
#   cnn          examples/mnist_cnn.nn for 400 steps (the recipe's cosine
#                over 400) reaches 97% test accuracy (measured 97.56%)
#   gpt          examples/shakespeare.nn for 150 steps reaches validation
#                loss 2.45 (measured 2.3865; 4.17 = ln 65 at the start)
#   resume       20 epochs, save, load, on to 40: the same numbers at the
#                40th as 40 epochs in one run (xor at batch 2 under adam)
#   resume_mid   checkpoints from the middle of an epoch (--steps 100 and 937
#                of 938 per epoch) and from its end (938), each loaded by the
#                next run of one chain (100, to 937, to 938, to 1000): the
#                lines at steps 938 and 1000 (in the second epoch) equal a
#                straight run's
#   badstep      a checkpoint whose step (__metadata__ nnc.step, or the
#                tensor step of older checkpoints) is -3, 0.5, nan, 1e30 ...
#                is refused by name, exit 1; a finished run loaded trains 0
#                steps, says so, and writes --save's file (the loaded state);
#                a run resumed from 3 to 5 says it trained 2 steps, to 4
#                '1 step'; --steps 2 from step 3 says why it trains nothing
#   oldstep      a checkpoint written the old way (the step a tensor, no
#                __metadata__) resumes tests/torch/adam_xor.nn exactly as
#                a new one does; a new one has nnc.step, format, nnc.version
#   header       the metrics file's header line: its keys and values for a
#                run and for a resumed run appended to the same file; under
#                taskset -c 0 the default threads are 1 (the affinity mask)
#   splits       every split is checked against the model before training: a
#                CSV test split wider or narrower than the input, MNIST-style
#                test images of 28x56 for a 28x28 model, and training images
#                of 14x56 (784 pixels, not 28x28): each refused naming the
#                file, exit 1
#   toolong      --epochs 1000000 of MNIST (938 steps each) is more steps than
#                a run may have (2^24): refused with the numbers, exit 1
#   shorttext    a text whose validation part (or training part) is no longer
#                than one block is refused, naming the part and the sizes
#   samefile     two of --save, --metrics and --chart naming one file (the
#                same text, one folder spelled two ways, a hard link) are
#                refused, exit 2, before anything is written, as is a
#                --chart name not ending in .svg (c.png); --metrics -
#                beside them and --load and --save of one file still run
#   dataroot     data not found says which data root was searched, where it
#                came from (the default, NNC_DATA, --data) and the model's
#                folder, for mnist, csv and text data alike; a root of /
#                names /xor.csv, not //xor.csv
#   epochtime    with --save, the metrics lines' epoch_seconds add up to the
#                last total_seconds within 5% (the checkpoints counted)
#   lr_normal    --lr 1.1754943e-38, below FLT_MIN as a double but that f32
#                itself once rounded, trains (exit 0), as the train block's
#                lr: 1.1754943e-38 does (the command line refused it)
#   writefail    --save into a missing folder is refused before training,
#                naming the user's path; --metrics /dev/full stops with the
#                write error (both exit 1)
#   custom       examples/mnist_custom.nn (RMSNorm and SwiGLU written in .nn)
#                reaches 96% in one epoch (measured 96.84%), and its
#                checkpoint names the layers' own parameters norm.gain and
#                norm_f.gain as docs/language.md says
#   hinge        tests/jit/hinge.nn, the MNIST MLP under a multi-class hinge
#                loss written with one_hot (no cross_entropy), 300 steps:
#                the test loss falls from the first evaluation (step 50) to
#                the last, and the test accuracy ends above 0.9 (measured
#                0.0712 -> 0.0402 and 0.9194; seeds 2-5 0.913-0.918)
#   infjson      a test loss that overflows f32 (a target of 3e38 squared) is
#                null in the metrics file, which stays JSON (it was inf), and
#                leaves its line in the chart empty
#   stdio        "-" for the model reads standard input; -o - writes LLVM IR
#                and --predict's .npy to standard output (the same bytes as
#                to a file); --metrics - writes the JSON lines there
#   terminal     under a pseudo-terminal 40 columns wide, every redraw of
#                the progress bar fits in 39; with TERM=dumb nothing is
#                redrawn (no escape sequences at all)
#   chart        --chart of xor_metrics (2000 evaluations, five curves): the
#                SVG parses, has a line of 2000 points per series and a
#                legend with the last metrics line's values; a chart into a
#                missing folder is refused before training
#   savefail     a process killed (SIGKILL) at 10 moments while it saves a
#                checkpoint every epoch always leaves a checkpoint that loads;
#                a save into a full file system (a 64 KiB tmpfs, when mount is
#                allowed) fails with ENOSPC, names the path, exits 1 and leaves
#                the previous checkpoint byte for byte, with no temporary file
#   eval         --eval --load prints the test metrics of a checkpoint
#   interrupt    Ctrl-C (SIGINT) during training finishes the step, saves
#                a checkpoint of that step, exits 130; term: SIGTERM the same,
#                exit 143
#   nonfinite    a learning rate that blows up stops with the step number, exit 1
#   nansave      a linear regression on inputs of 1000s resumed at --lr 1e36:
#                the update overflows the parameters to inf at a step whose
#                loss (computed before it) was finite; its checkpoint is
#                refused, naming the step and the tensor, exit 1, and the file
#                holds the previous step's, every value finite
#   ckstate      xor under Adam: a checkpoint with tensors the model does not
#                have (two added) is refused with their count, and --save
#                leaves it as it was; one with a tensor of Adam's state
#                deleted is refused naming it; one without any optimizer
#                state (parameters only) trains with a note that the
#                optimizer starts from zero, and so does the Adam checkpoint
#                loaded into the SGD model, with a note of its own (--eval:
#                no note)
#   savepaths    --save and --chart to an existing path that is not a regular
#                file (a directory, /dev/null, a FIFO) are refused before
#                training, exit 1; --save through a symbolic link (and a
#                relative one in another folder) updates its target and
#                leaves the link a link; a link loop is refused; a
#                checkpoint and a chart of 250-byte names are written
#   evalopts     --eval --metrics appends the header (its options the
#                evaluation's: eval, the checkpoint's step, batch, data, load)
#                and the evaluation's line (the checkpoint's step, the test loss printed, train_loss
#                null); --save, --chart, --steps, --epochs, --lr, --sample with --eval
#                are a bad command line, exit 2, naming the option, and write
#                nothing
#   mismatch     a checkpoint of another model is refused, naming the tensor and both shapes,
#                before the model is compiled (-v prints no compile line)
#   autoencoder  tests/jit/autoencoder.nn, a model without a target on MNIST
#                (mnist feeds only the images), 200 steps: test loss (mse of
#                the reconstruction) below 0.06 (measured 0.0532; 0.11 after
#                30 steps), and its test_mae metric is reported
#   metrics      tests/jit/xor_metrics.nn (xor with metric accuracy(p, y) on
#                binary targets, mae, and mse(p, y) * 2): after 2000 epochs
#                test_accuracy is 1, test_mae and test_metric below 0.01 (a
#                name no other metric shares stays bare: BRIEF's test_accuracy)
#   per_example  tests/jit/xor_per_example.nn (xor with the loss (p - y)² per
#                example, averaged over the batch): final train loss below 0.01
#   sample       a small character model learns "abcd" repeated and, from the
#                prompt "bc", generates "dabcdabc..." (text data, --sample);
#                --save, --metrics, --chart, --steps, --lr with --sample are
#                refused by name, exit 2; without --load a note says the
#                weights are untrained; with the text nowhere (a copy of the
#                model, an empty data root) --load --sample writes the same
#                from the checkpoint's vocabulary (-v says so) and refuses a
#                prompt character as before; without --load the message says
#                the text is needed for the vocabulary, exit 1
#   charvocab    the checkpoint of tests/jit/abcd.nn keeps its byte vocabulary
#                (nnc.tokenizer bytes, nnc.chars); loaded with a text that lost
#                'a' and the newline, --sample still writes "dabcdabc..." (it
#                reads no text), and --eval of "abcd" without the newline has a
#                test loss below 0.01 (the text's own ids would shift: 2.5); a
#                text with a byte the vocabulary lacks is refused by --eval where
#                the byte stands, exit 1, while --sample does not read it; an
#                nnc.chars longer than the model's vocabulary is refused as the
#                checkpoint's; a checkpoint without the vocabulary (older nnc)
#                uses the file's, as before (-v says so), and samples the very
#                tokens the checkpoint with it samples without the text (3
#                seeds, 200 tokens at temperature 1); without the text it is
#                refused, saying the checkpoint carries no vocabulary
#   bpe          tests/jit/bpe.nn, a small GPT on bpe(vocab: 300) tokens of
#                tests/jit/bpe.txt: -v says the merges learned and the bytes per
#                token; the checkpoint's __metadata__ holds the 44 merges a
#                plain Python learner finds on the training part; --load
#                --sample decodes whole sentences of the text's grammar (café
#                spans tokens), and the same bytes with the text nowhere (-v:
#                the merges from the checkpoint); without --load or the text,
#                the message says the merges are learned from it; a checkpoint
#                without merges, or with merges of another vocabulary, is
#                refused by name, exit 1
#   kv           --sample with the key/value cache (the decode entry) writes
#                the very text --no-kv-cache writes, at temperature 1, from a
#                prompt longer than the window and for 200 tokens (new
#                windows of block/2 tokens on the way): tests/jit/kv.nn (two
#                blocks, sinusoidal positions, characters) and tests/jit/bpe.nn
#                (learned positions, bpe tokens), each trained 100 steps;
#                -v says which way each sampled, and every logit of the cached
#                way is within 1e-4 of the window's (NNC_SAMPLE_COMPARE=1)
#   eval_every   with eval_every set the evaluations are every eval_every
#                steps and at the last, instead of at each epoch's end (not as
#                well): xor at batch 2 (2 steps an epoch), eval_every = 3,
#                --epochs 3 evaluates at steps 3 and 6, --steps 7 at 3, 6, 7
# MNIST cases need $NNC_DATA/mnist, the GPT ones $NNC_DATA/tinyshakespeare
# (exit 77, skipped, without them).
nnc=$1 root=$2 case=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# body FILE: the metrics lines of FILE without the header line a run starts
# with (the one whose first key is "nnc": docs/training.md)
body() { grep -v '^{"nnc": ' "$1"; }
field() {  # field NAME FILE LINE: a number from a metrics JSON line (LINE counts evaluations)
    body "$2" | sed -n "${3}p" | tr ',{}' '\n\n\n' | awk -F': ' -v k="\"$1\"" '$1 ~ k {print $2}' | tr -d ' '
}
# number TEXT: whether TEXT is a number (awk compares an empty string as text,
# and "" < 0.01 holds)
number() { echo "$1" | grep -Eq '^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$'; }
# trains NAME OP BOUND MODEL [OPTION...] runs nnc --jit on
# examples/MODEL.nn, prints the final metric NAME and passes when it is OP
# (an awk comparison) BOUND
trains() {
    name=$1 op=$2 bound=$3 model=$4
    shift 4
    "$nnc" --jit --metrics "$tmp/m" "$@" "$root/examples/$model.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    value=$(field "$name" "$tmp/m" '$')
    echo "$model: final $name $value (wanted $op $bound)"
    number "$value" || { echo "no number for $name in the metrics"; exit 1; }
    awk -v v="$value" -v b="$bound" "BEGIN { exit !(v $op b) }"
}
need_mnist() {
    [ -n "$NNC_DATA" ] && [ -d "$NNC_DATA/mnist" ] || { echo "no MNIST in \$NNC_DATA; skipped"; exit 77; }
}
need_text() {
    [ -n "$NNC_DATA" ] && [ -f "$NNC_DATA/tinyshakespeare/input.txt" ] || { echo "no tinyshakespeare in \$NNC_DATA; skipped"; exit 77; }
}
case $case in
per_example)
    "$nnc" --jit --data "$root/examples" --metrics "$tmp/m" "$root/tests/jit/xor_per_example.nn" 2>"$tmp/log" \
        || { cat "$tmp/log"; exit 1; }
    loss=$(field train_loss "$tmp/m" '$')
    echo "xor_per_example: final train_loss $loss (wanted < 0.01)"
    number "$loss" && awk -v v="$loss" 'BEGIN { exit !(v < 0.01) }' ;;
metrics)
    "$nnc" --jit --data "$root/examples" --metrics "$tmp/m" "$root/tests/jit/xor_metrics.nn" 2>"$tmp/log" \
        || { cat "$tmp/log"; exit 1; }
    acc=$(field test_accuracy "$tmp/m" '$') mae=$(field test_mae "$tmp/m" '$') other=$(field test_metric "$tmp/m" '$')
    echo "xor_metrics: test_accuracy $acc, test_mae $mae, test_metric $other"
    number "$acc" && number "$mae" && number "$other" || { echo "a metric is missing"; exit 1; }
    awk -v a="$acc" -v m="$mae" -v o="$other" 'BEGIN { exit !(a == 1 && m < 0.01 && o < 0.01) }' ;;
dataroot)
    # data not found: the message says which data root was searched and
    # where it came from (the default, NNC_DATA, --data), and the model's
    # folder, for every kind of data; the first case said only "cannot open"
    mkdir "$tmp/m" "$tmp/run" && cp "$root/examples/mnist_mlp.nn" "$root/examples/xor.nn" \
        "$root/examples/shakespeare.nn" "$tmp/m/" || exit 1
    said() {  # said MESSAGE ARGS...: nnc --jit ARGS, run in $tmp/run, exits 1 saying only MESSAGE
        msg=$1; shift
        (cd "$tmp/run" && "$nnc" --jit "$@" 2>"$tmp/log"); status=$?
        [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: $msg" ] \
            || { cat "$tmp/log"; echo "$*: exit status $status, wanted 1 and: nnc: error: $msg"; exit 1; }
    }
    (unset NNC_DATA; said "cannot open ./mnist/train-images-idx3-ubyte(.gz): No such file or directory (data root \
'.', the default: set NNC_DATA or --data; nor beside the model in '../m')" ../m/mnist_mlp.nn) || exit 1
    NNC_DATA=$tmp/none said "cannot open $tmp/none/xor.csv: No such file or directory (data root '$tmp/none', from \
NNC_DATA; nor beside the model in '$tmp/m')" "$tmp/m/xor.nn" || exit 1
    said "cannot open $tmp/none/tinyshakespeare/input.txt: No such file or directory (data root '$tmp/none', from \
--data; nor beside the model in '$tmp/m')" --data "$tmp/none" "$tmp/m/shakespeare.nn"
    # a data root of / joins its paths with one '/' (it said //xor.csv)
    [ ! -e /xor.csv ] || { echo "/xor.csv exists; the case wants it missing"; exit 1; }
    NNC_DATA=/ said "cannot open /xor.csv: No such file or directory (data root '/', from NNC_DATA; nor beside the \
model in '$tmp/m')" "$tmp/m/xor.nn" || exit 1
    # a model beside its data: no note on a failure that is not a missing file
    printf '1,2\n' > "$tmp/m/xor.csv"
    said "$tmp/m/xor.csv has 2 values per example, but input 'x' and the target take 3" --data "$tmp/none" \
        "$tmp/m/xor.nn"
    # nor on the training file's bad number when the missing file is the test split's
    printf '0,0,0\n0,1,1\n1,zz,1\n' > "$tmp/m/bad.csv"
    sed 's/csv("xor.csv", test: "xor.csv")/csv("bad.csv", test: "gone.csv")/' "$tmp/m/xor.nn" > "$tmp/m/split.nn"
    said "$tmp/m/bad.csv: line 3, column 1: 'zz' is not a number" --data "$tmp/none" "$tmp/m/split.nn" ;;
epochtime)
    # epoch_seconds counts the checkpoint written after its evaluation: 40
    # epochs of xor with --save add up to at least 0.8 of total_seconds (the
    # saves are nearly all of it; they were counted nowhere, the epochs
    # summing to 0.001 of the total).  Not closer: what runs outside the
    # epochs is about 1 ms of a 20 ms run, 5% of it in a loaded ASan build
    # (a clean clone's scripts/test failed at 0.95)
    "$nnc" --jit --epochs 40 --data "$root/examples" --save "$tmp/ck" --metrics "$tmp/m" "$root/examples/xor.nn" \
        2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    /usr/bin/python3 - "$tmp/m" <<'END'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])][1:]
epochs, total = sum(l["epoch_seconds"] for l in lines), lines[-1]["total_seconds"]
print(f"{len(lines)} evaluations: epoch_seconds sum to {epochs:.4f} s, total_seconds {total:.4f} s")
sys.exit(not (len(lines) == 40 and 0.8 * total <= epochs <= 1.05 * total + 0.002))   # each line rounded to 0.1 ms
END
    ;;
autoencoder)
    need_mnist
    "$nnc" --jit --metrics "$tmp/m" "$root/tests/jit/autoencoder.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    loss=$(field test_loss "$tmp/m" '$') mae=$(field test_mae "$tmp/m" '$')
    echo "autoencoder: test_loss $loss (wanted < 0.06), test_mae $mae"
    number "$loss" && number "$mae" || { echo "no test_loss or test_mae in the metrics"; exit 1; }
    awk -v v="$loss" 'BEGIN { exit !(v < 0.06) }' ;;
xor)
    trains train_loss '<' 0.01 xor ;;
mnist)
    need_mnist
    trains test_accuracy '>=' 0.975 mnist_mlp ;;
threads|threads_cnn|threads_gpt)
    case $case in
    threads) need_mnist; model=mnist_mlp steps=200 ;;
    threads_cnn) need_mnist; model=mnist_cnn steps=60 ;;
    threads_gpt) need_text; model=shakespeare steps=20 ;;
    esac
    for t in 1 2; do
        "$nnc" --jit --steps $steps --threads $t --metrics "$tmp/m$t" "$root/examples/$model.nn" 2>"$tmp/log" \
            || { cat "$tmp/log"; exit 1; }
        body "$tmp/m$t" | sed 's/"[a-z_]*_seconds*": [0-9.]*//g' > "$tmp/n$t"
    done
    cat "$tmp/n1"
    cmp "$tmp/n1" "$tmp/n2" ;;
tiles)
    # the matmul's register tile (a row of compiler/codegen/cg_tune.c, or
    # NNC_TILE=MR,VECTORS[,BYTES]) changes speed, never a bit: the MLP's
    # 100 steps (every matmul form: x·Wᵀ, the weight gradient gᵀ·x, the
    # input gradient) with this CPU's row, the old 6 x 2 zmm tile, an AVX2
    # tile in ymm, and shapes that leave partial tiles (5 x 3, 16 x 1).
    # A malformed NNC_TILE is said once (the compile's workers all ask for
    # the tile) and the CPU's row used
    NNC_TILE=6,2,48 "$nnc" --jit --steps 1 "$root/examples/xor.nn" >/dev/null 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    [ "$(grep -c "warning: NNC_TILE" "$tmp/log")" = 1 ] && grep -qx "nnc: warning: NNC_TILE is '6,2,48', not \
MR,VECTORS\[,BYTES\] with MR 1 to 16, VECTORS 1 to 4 and BYTES 32 or 64; using this CPU's tile" "$tmp/log" \
        || { cat "$tmp/log"; echo "NNC_TILE=6,2,48: not one warning naming it"; exit 1; }
    need_mnist
    for t in host 6,2 6,2,32 5,3,32 16,1; do
        NNC_TILE=${t#host} "$nnc" --jit --steps 100 --metrics "$tmp/m$t" "$root/examples/mnist_mlp.nn" 2>"$tmp/log" \
            || { cat "$tmp/log"; exit 1; }
        body "$tmp/m$t" | sed 's/"[a-z_]*_seconds*": [0-9.]*//g' > "$tmp/n$t"
    done
    cat "$tmp/nhost"
    for t in 6,2 6,2,32 5,3,32 16,1; do cmp "$tmp/nhost" "$tmp/n$t" || exit 1; done ;;
pool_batch)
    # whether a kernel goes to the thread pool is decided at the step's
    # batch, not the plan's: the MLP's entries compare the batch with the
    # least one at which each kernel reaches the threshold (1 MFLOP of a
    # matmul, 128 KiB moved by another kernel; compiler/codegen/cg_module.c):
    # x·Wᵀ of 784 x 128 from 5 examples (200,704 FLOPs each), the logits'
    # 128 x 10 from 391 (2,560 each), the relu over [B, 128] from 128
    # (1,024 bytes each); the compare was absent when the plan's batch decided
    "$nnc" --no-cache --dump-ir=llvm "$root/examples/mnist_mlp.nn" > "$tmp/ll" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    grep -o 'icmp sge i64 %batch[0-9]*, [0-9]*' "$tmp/ll" | sed 's/.*, //' | sort -n | uniq > "$tmp/from"
    cat "$tmp/from"
    for b in 5 128 391; do grep -qx "$b" "$tmp/from" || { echo "no kernel goes to the pool from batch $b"; exit 1; }; done ;;
contraction)
    need_mnist
    # a product and a sum are one FMA only where the generator writes one
    # (cg_program_instr): the bits do not depend on the pipeline.  With
    # LLVM's `contract` flag, the loop unroller forwarding a row temporary
    # decided it, and the MLP's checkpoint after one step changed with
    # -unroll-threshold=0 (NNC_LLVM_ARGS, part of the cache key)
    "$nnc" --jit --no-cache --threads 1 --steps 1 --save "$tmp/a.ck" "$root/examples/mnist_mlp.nn" >/dev/null 2>"$tmp/log" \
        || { cat "$tmp/log"; exit 1; }
    NNC_LLVM_ARGS=-unroll-threshold=0 "$nnc" --jit --no-cache --threads 1 --steps 1 --save "$tmp/b.ck" \
        "$root/examples/mnist_mlp.nn" >/dev/null 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    cmp "$tmp/a.ck" "$tmp/b.ck" || { echo "the checkpoint depends on LLVM's unroller"; exit 1; } ;;
threads_busy)
    need_mnist
    # the busy processes end with the test however it ends: the EXIT trap (a
    # signal exits through it), and timeout for a SIGKILL, which nothing traps
    timeout 900 yes > /dev/null & busy1=$!
    timeout 900 yes > /dev/null & busy2=$!
    trap 'kill $busy1 $busy2 2>/dev/null; rm -rf "$tmp"' EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    for t in 1 2 3 default; do
        threads="--threads $t"
        [ $t = default ] && threads=
        "$nnc" --jit --steps 200 $threads --metrics "$tmp/m$t" "$root/examples/mnist_mlp.nn" 2>"$tmp/log" \
            || { kill $busy1 $busy2; cat "$tmp/log"; exit 1; }
        body "$tmp/m$t" | sed 's/"[a-z_]*_seconds*": [0-9.]*//g' > "$tmp/n$t"
    done
    kill $busy1 $busy2
    cat "$tmp/n1"
    cmp "$tmp/n1" "$tmp/n2" && cmp "$tmp/n1" "$tmp/n3" && cmp "$tmp/n1" "$tmp/ndefault" ;;
cnn)
    need_mnist
    trains test_accuracy '>=' 0.97 mnist_cnn --steps 400 ;;
gpt)
    need_text
    trains test_loss '<=' 2.45 shakespeare --steps 150 ;;
resume)
    # in epochs (resume_mid counts steps, on MNIST): xor at batch 2 under
    # adam, 2 steps an epoch in an order drawn per epoch, so a resume that
    # lost the optimizer's state, the step or the epoch's order shows; the
    # run of 40 epochs against 20, saved, then loaded to go on to 40 (its
    # train loss falls from 0.67 at the 20th to 0.51 at the 40th)
    sed -e 's/batch     = 4/batch = 2/' -e 's/sgd(lr: 1.0)/adam(lr: 0.2)/' "$root/examples/xor.nn" > "$tmp/x.nn"
    cp "$root/examples/xor.csv" "$tmp/"
    grep -q 'batch = 2' "$tmp/x.nn" && grep -q 'adam(lr: 0.2)' "$tmp/x.nn" || { echo "the copy of xor.nn is not batch 2 adam"; exit 1; }
    "$nnc" --jit --epochs 40 --metrics "$tmp/full" "$tmp/x.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    "$nnc" --jit --epochs 20 --save "$tmp/ck.safetensors" "$tmp/x.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    "$nnc" --jit --epochs 40 --load "$tmp/ck.safetensors" --metrics "$tmp/resumed" "$tmp/x.nn" \
        2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    body "$tmp/full" | sed -n 40p | sed 's/"[a-z_]*_seconds*": [0-9.]*//g' > "$tmp/a"
    body "$tmp/resumed" | sed -n 20p | sed 's/"[a-z_]*_seconds*": [0-9.]*//g' > "$tmp/b"
    [ -s "$tmp/a" ] || { echo "no 40th evaluation"; exit 1; }
    cat "$tmp/a" "$tmp/b"
    cmp "$tmp/a" "$tmp/b" ;;
resume_mid)
    need_mnist
    mlp=$root/examples/mnist_mlp.nn
    "$nnc" --jit --steps 1000 --metrics "$tmp/full" "$mlp" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    body "$tmp/full" | sed 's/"[a-z_]*_seconds*": [0-9.]*//g' > "$tmp/a"
    cat "$tmp/a"
    # One chain of resumes (each run picks up the checkpoint the one before
    # saved): 100 steps, then to 937 from the middle of the epoch, to 938 (the
    # epoch's end) from its last step but one, to 1000 from its end.  Any
    # resume that went wrong changes every line after it, so the chain checks
    # each of the three points as separate runs from scratch did, in a
    # quarter of the steps; and it resumes from checkpoints resumed runs wrote.
    "$nnc" --jit --steps 100 --save "$tmp/ck.safetensors" "$mlp" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    for k in 937 938 1000; do
        rm -f "$tmp/resumed"
        "$nnc" --jit --steps $k --load "$tmp/ck.safetensors" --save "$tmp/ck.safetensors" --metrics "$tmp/resumed" \
            "$mlp" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
        body "$tmp/resumed" | sed 's/"[a-z_]*_seconds*": [0-9.]*//g' > "$tmp/b"
        echo "to step $k:"; cat "$tmp/b"
        # a run evaluates at its last step: at 1000 the line is the straight
        # run's; at 938 (the epoch's end) its test metrics are (its train_loss
        # is the mean since the evaluation at 937, the straight run's over the
        # epoch); 937 has none to compare with
        notrain() { sed 's/"train_loss": [0-9.e+-]*//'; }
        case $k in
        937) [ "$(wc -l < "$tmp/b")" = 1 ] && grep -q '"step": 937,' "$tmp/b" || exit 1 ;;
        938) [ "$(notrain < "$tmp/b")" = "$(sed -n 1p "$tmp/a" | notrain)" ] || exit 1 ;;
        1000) [ "$(cat "$tmp/b")" = "$(sed -n 2p "$tmp/a")" ] || exit 1 ;;
        esac
    done ;;
badstep)
    "$nnc" --jit --steps 3 --save "$tmp/ck.safetensors" "$root/examples/xor.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    refused() {  # refused FILE MESSAGE: --load FILE exits 1 saying MESSAGE
        "$nnc" --jit --load "$1" "$root/examples/xor.nn" 2>"$tmp/log"
        status=$?
        cat "$tmp/log"
        [ "$status" = 1 ] || { echo "exit status $status, not 1"; exit 1; }
        [ "$(cat "$tmp/log")" = "nnc: error: $1: $2" ] || { echo "wanted: nnc: error: $1: $2"; exit 1; }
    }
    # the step in __metadata__ (nnc.step): a whole number in decimal digits
    for v in -3 0.5 nan 1e30 16777217 "" " 3" 3x; do
        /usr/bin/python3 "$root/tests/jit/ckedit.py" step "$tmp/ck.safetensors" "$tmp/bad.safetensors" "$v" || exit 1
        refused "$tmp/bad.safetensors" "__metadata__ nnc.step is \"$v\"; a step is a whole number from 0 to 16777216"
    done
    # a checkpoint written before the step went there: a tensor named step
    for pair in -3:-3 0.5:0.5 nan:nan 1e30:1e+30; do  # the value written : as the message prints it
        v=${pair%%:*} shown=${pair#*:}
        /usr/bin/python3 "$root/tests/jit/ckedit.py" old "$tmp/ck.safetensors" "$tmp/bad.safetensors" "$v" || exit 1
        refused "$tmp/bad.safetensors" "tensor 'step' holds $shown; a step is a whole number from 0 to 16777216"
    done
    # a finished run loaded: 0 steps trained, said so, and --save's file still
    # written (the loaded state, byte for byte); a resumed run counts its own steps
    "$nnc" --jit --data "$root/examples" --steps 3 --load "$tmp/ck.safetensors" --save "$tmp/new.safetensors" \
        "$root/examples/xor.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    [ "$(cat "$tmp/log")" = "trained 0 steps: $tmp/ck.safetensors is at step 3, and the run ends at step 3 (--steps \
and --epochs count from the first step, not from the checkpoint's); wrote its state to $tmp/new.safetensors" ] \
        || { cat "$tmp/log"; echo "a finished run: not the line above"; exit 1; }
    cmp "$tmp/ck.safetensors" "$tmp/new.safetensors" || { echo "a finished run's --save differs from its --load"; exit 1; }
    # --steps fewer than the checkpoint's, no --save: nothing trained, and why
    "$nnc" --jit --data "$root/examples" --steps 2 --load "$tmp/ck.safetensors" "$root/examples/xor.nn" 2>"$tmp/log" \
        || { cat "$tmp/log"; exit 1; }
    [ "$(cat "$tmp/log")" = "trained 0 steps: $tmp/ck.safetensors is at step 3, and the run ends at step 2 (--steps \
and --epochs count from the first step, not from the checkpoint's)" ] \
        || { cat "$tmp/log"; echo "--steps 2 from step 3: not the line above"; exit 1; }
    for to in 5:"trained 2 steps" 4:"trained 1 step"; do
        "$nnc" --jit --data "$root/examples" --steps "${to%%:*}" --load "$tmp/ck.safetensors" "$root/examples/xor.nn" \
            2>"$tmp/log" && [ "$(tail -1 "$tmp/log" | sed 's/ in [0-9.]* s$//')" = "${to#*:}" ] \
            || { cat "$tmp/log"; echo "3 to ${to%%:*}: not '${to#*:}'"; exit 1; }
    done ;;
oldstep)
    # A checkpoint as nnc wrote them before the step went into __metadata__
    # (a scalar tensor "step", no metadata) still resumes exactly: Adam's
    # bias correction reads the step, so a wrong one would change the losses.
    m=$root/tests/torch/adam_xor.nn
    "$nnc" --jit --epochs 6 --metrics "$tmp/full" "$m" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    "$nnc" --jit --epochs 3 --save "$tmp/ck.safetensors" "$m" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    /usr/bin/python3 "$root/tests/jit/ckedit.py" old "$tmp/ck.safetensors" "$tmp/old.safetensors" || exit 1
    for ck in ck old; do
        rm -f "$tmp/resumed"
        "$nnc" --jit --epochs 6 --load "$tmp/$ck.safetensors" --metrics "$tmp/resumed" "$m" 2>"$tmp/log" \
            || { cat "$tmp/log"; exit 1; }
        body "$tmp/full" | sed -n '4,6p' | sed 's/"[a-z_]*_seconds*": [0-9.]*//g' > "$tmp/a"
        body "$tmp/resumed" | sed 's/"[a-z_]*_seconds*": [0-9.]*//g' > "$tmp/b"
        echo "resumed from $ck.safetensors:"; cat "$tmp/b"
        cmp "$tmp/a" "$tmp/b" || { echo "differs from the straight run:"; cat "$tmp/a"; exit 1; }
        grep -q '"start_step": 3,' "$tmp/resumed" || { echo "the header does not say start_step 3"; exit 1; }
    done
    # and a new checkpoint has no step tensor: the step is nnc.step, "3"
    /usr/bin/python3 -c '
import json, struct, sys
b = open(sys.argv[1], "rb").read()
h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
assert "step" not in h and h["__metadata__"]["nnc.step"] == "3", h["__metadata__"]
assert h["__metadata__"]["format"] == "pt" and h["__metadata__"]["nnc.version"], h["__metadata__"]' "$tmp/ck.safetensors" ;;
header)
    # the line a run starts its metrics with: what ran (docs/training.md)
    cp "$root/examples/xor.csv" "$tmp/"
    (cd "$tmp" && "$nnc" --jit --epochs 2 --seed 7 --threads 1 --save ck.safetensors --metrics m "$root/examples/xor.nn" \
        2>"$tmp/log") || { cat "$tmp/log"; exit 1; }
    (cd "$tmp" && "$nnc" --jit --epochs 3 --load ck.safetensors --metrics m "$root/examples/xor.nn" 2>"$tmp/log") \
        || { cat "$tmp/log"; exit 1; }
    head -1 "$tmp/m"
    /usr/bin/python3 -c '
import json, os, re, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
heads = [l for l in lines if "nnc" in l]
assert [i for i, l in enumerate(lines) if "nnc" in l] == [0, 3], lines
h = heads[0]
assert list(h) == ["nnc", "model", "file", "seed", "options", "threads", "ranks", "start_step", "started"], list(h)
assert re.fullmatch(r"\d+\.\d+\.\d+", h["nnc"]) and h["model"] == "xor" and h["file"] == sys.argv[2], h
assert h["seed"] == 7 and h["threads"] == 1 and h["ranks"] == 1 and h["start_step"] == 0, h
assert h["options"] == {"epochs": 2, "steps": 2, "batch": 4, "lr": 1, "eval_every": 0,
                        "data": os.environ.get("NNC_DATA") or ".", "load": None, "save": "ck.safetensors"}, h["options"]
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", h["started"]), h["started"]
r = heads[1]
assert r["start_step"] == 2 and r["options"]["load"] == "ck.safetensors" and r["options"]["epochs"] == 3, r
assert r["seed"] == 3 and r["threads"] >= 1, r
assert all("nnc" not in l and "epoch" in l for l in lines[1:3] + lines[4:]), lines
print("header: ok; a resumed run appends its own, start_step 2")' "$tmp/m" "$root/examples/xor.nn" || exit 1
    # the default number of threads is the CPUs the process may run on (its
    # affinity mask: containers, taskset), not the machine's: pinned to one, 1
    if taskset -c 0 true 2>/dev/null; then
        (cd "$tmp" && taskset -c 0 "$nnc" --jit --epochs 1 --metrics one "$root/examples/xor.nn" 2>"$tmp/log") \
            || { cat "$tmp/log"; exit 1; }
        head -1 "$tmp/one" | grep -q '"threads": 1, ' || { echo "under taskset -c 0: $(head -1 "$tmp/one")"; exit 1; }
    else
        echo "header: SKIP the affinity check: 'taskset -c 0 true' fails here (no taskset, or no CPU 0 to pin to)"
    fi ;;
splits)
    cat > "$tmp/m.nn" <<'EOF'
model m {
    input x: f32[2]
    target y: f32[1]
    p = dense(x, 1)
    output p
    loss mse(p, y)
}
train { data = csv("tr.csv", test: "te.csv") optimizer = sgd(lr: 0.1) batch = 2 epochs = 1 }
EOF
    printf '1,2,3\n4,5,6\n' > "$tmp/tr.csv"
    refused() {  # refused MESSAGE: nnc --jit on $tmp/m.nn exits 1 saying exactly MESSAGE
        (cd "$tmp" && "$nnc" --jit m.nn 2>"$tmp/log")
        status=$?
        cat "$tmp/log"
        [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: $1" ] || { echo "wanted: nnc: error: $1"; exit 1; }
    }
    printf '1,2,3,4,5\n4,5,6,7,8\n' > "$tmp/te.csv"
    refused "./te.csv has 5 values per example, but input 'x' and the target take 3"
    printf '1,2\n4,5\n' > "$tmp/te.csv"
    refused "./te.csv has 2 values per example, but input 'x' and the target take 3"
    mkdir "$tmp/idx" "$tmp/idx2"
    /usr/bin/python3 -c '
import struct, sys
d = sys.argv[1]
def images(name, n, h, w):
    open(d + "/" + name, "wb").write(struct.pack(">iiii", 2051, n, h, w) + bytes(n * h * w))
def labels(name, n):
    open(d + "/" + name, "wb").write(struct.pack(">ii", 2049, n) + bytes(i % 10 for i in range(n)))
images("train-images-idx3-ubyte", 8, 28, 28); labels("train-labels-idx1-ubyte", 8)
images("t10k-images-idx3-ubyte", 8, 28, 56); labels("t10k-labels-idx1-ubyte", 8)
# 784 pixels, but not 28x28: they trained into a 28x28 model, exit 0
images("../idx2/train-images-idx3-ubyte", 8, 14, 56); labels("../idx2/train-labels-idx1-ubyte", 8)
images("../idx2/t10k-images-idx3-ubyte", 8, 28, 28); labels("../idx2/t10k-labels-idx1-ubyte", 8)' "$tmp/idx"
    for dir in idx idx2; do
        sed "s/mnist(\"mnist\"/mnist(\"$dir\"/" "$root/examples/mnist_mlp.nn" > "$tmp/mlp_$dir.nn"
        "$nnc" --jit --steps 1 --data "$tmp" "$tmp/mlp_$dir.nn" 2>"$tmp/log_$dir"
        status=$?
        cat "$tmp/log_$dir"
        [ "$status" = 1 ] || { echo "$dir: exit status $status, not 1"; exit 1; }
    done
    grep -qx "nnc: error: the test images in $tmp/idx are 28x56 pixels, but mnist(...) reads images of 28x28" "$tmp/log_idx" \
        && grep -qx "nnc: error: the training images in $tmp/idx2 are 14x56 pixels, but mnist(...) reads images of 28x28" \
        "$tmp/log_idx2" ;;
toolong)
    need_mnist
    "$nnc" --jit --epochs 1000000 "$root/examples/mnist_mlp.nn" 2>"$tmp/log"
    status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = \
        "nnc: error: 1000000 epochs of 938 steps are 938000000 steps; a run is at most 16777216 steps" ] ;;
shorttext)
    cp "$root/tests/jit/abcd.nn" "$tmp/m.nn"
    head -c 80 "$root/tests/jit/abcd.txt" > "$tmp/abcd.txt"   # 72 to train, 8 to validate, T = 8
    (cd "$tmp" && "$nnc" --jit m.nn 2>"$tmp/log"); status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: ./abcd.txt: the validation part has 8 bytes \
(split 0.9), but a window of block 8 needs at least 9" ] || exit 1
    sed -i 's/split: 0.9/split: 0.05/' "$tmp/m.nn"
    (cd "$tmp" && "$nnc" --jit m.nn 2>"$tmp/log"); status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: ./abcd.txt: the training part has 4 bytes \
(split 0.05), but a window of block 8 needs at least 9" ] ;;
lr_normal)
    "$nnc" --jit --steps 1 --lr 1.1754943e-38 "$root/examples/xor.nn" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 0 ] && grep -q "^trained 1 step in" "$tmp/log" ;;
writefail)
    "$nnc" --jit --save "$tmp/none/ck.safetensors" "$root/examples/xor.nn" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = \
        "nnc: error: cannot save to '$tmp/none/ck.safetensors': No such file or directory" ] || exit 1
    [ -e /dev/full ] || exit 0
    "$nnc" --jit --steps 2 --metrics /dev/full "$root/examples/xor.nn" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(tail -1 "$tmp/log")" = "nnc: error: cannot write metrics to '/dev/full': No space left on device" ] ;;
hinge)
    need_mnist
    "$nnc" --jit --metrics "$tmp/m" "$root/tests/jit/hinge.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    first=$(field test_loss "$tmp/m" 1) last=$(field test_loss "$tmp/m" '$') acc=$(field test_accuracy "$tmp/m" '$')
    echo "hinge: test_loss $first at the first evaluation, $last at the last (wanted lower); test_accuracy $acc (wanted > 0.9)"
    number "$first" && number "$last" && number "$acc" || { echo "no test_loss or test_accuracy in the metrics"; exit 1; }
    awk -v f="$first" -v l="$last" -v a="$acc" 'BEGIN { exit !(l < f && a > 0.9) }' ;;
custom)
    need_mnist
    trains test_accuracy '>=' 0.96 mnist_custom --epochs 1 --save "$tmp/ck.safetensors" || exit 1
    names=$(/usr/bin/python3 -c '
import json, struct, sys
b = open(sys.argv[1], "rb").read()
h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
print(" ".join(sorted(k for k in h if k.endswith("gain") and not k.startswith("optimizer."))))' "$tmp/ck.safetensors")
    echo "gains in the checkpoint: $names"
    [ "$names" = "norm.gain norm_f.gain" ] ;;
infjson)
    cat > "$tmp/m.nn" <<'EOF'
model m {
    input x: f32[2]
    target y: f32[1]
    p = dense(x, 1)
    output p
    loss mse(p, y)
}
train { data = csv("tr.csv", test: "te.csv") optimizer = sgd(lr: 0.1) batch = 2 epochs = 1 }
EOF
    printf '1,2,3\n4,5,6\n' > "$tmp/tr.csv"
    printf '1,2,3e38\n4,5,6\n' > "$tmp/te.csv"
    (cd "$tmp" && "$nnc" --jit --metrics m.jsonl --chart m.svg m.nn 2>"$tmp/log") || { cat "$tmp/log"; exit 1; }
    cat "$tmp/log" "$tmp/m.jsonl"
    /usr/bin/python3 -c '
import json, math, sys, xml.etree.ElementTree as ET
header, line = [json.loads(l) for l in open(sys.argv[1])]
assert header["nnc"] and "test_loss" not in header, header
assert line["test_loss"] is None and math.isfinite(line["train_loss"]), line
paths = [p.get("d").split() for p in ET.parse(sys.argv[2]).getroot().iter("{http://www.w3.org/2000/svg}path")]
assert len(paths) == 2 and paths[0][0].startswith("M") and paths[1] == [], paths' "$tmp/m.jsonl" "$tmp/m.svg" ;;
stdio)
    xor=$root/examples/xor.nn
    "$nnc" --jit --data "$root/examples" --epochs 2 - <"$xor" 2>"$tmp/log" && grep -q "^trained 2 steps" "$tmp/log" \
        || { cat "$tmp/log"; echo "--jit - did not train"; exit 1; }
    "$nnc" --emit=llvm -o - "$xor" >"$tmp/out.ll" && "$nnc" --emit=llvm -o "$tmp/file.ll" "$xor" \
        && cmp "$tmp/out.ll" "$tmp/file.ll" || { echo "--emit=llvm -o - differs from the file"; exit 1; }
    "$nnc" --predict --input x=1,0 -o - "$xor" >"$tmp/out.npy" && "$nnc" --predict --input x=1,0 -o "$tmp/file.npy" "$xor" \
        && cmp "$tmp/out.npy" "$tmp/file.npy" || { echo "--predict -o - differs from the file"; exit 1; }
    "$nnc" --jit --data "$root/examples" --epochs 2 --metrics - "$xor" >"$tmp/m" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    /usr/bin/python3 -c '
import json, sys
header, *lines = [json.loads(l) for l in open(sys.argv[1])]
assert header["model"] == "xor" and header["options"]["epochs"] == 2, header
assert [(l["epoch"], l["step"]) for l in lines] == [(1, 1), (2, 2)], lines' "$tmp/m" || exit 1
    echo "stdio: stdin, -o - (llvm, npy) and --metrics - ok" ;;
terminal)
    command -v script >/dev/null || { echo "no script(1)"; exit 77; }
    xor=$root/examples/xor.nn
    # script -e: its exit status is the command's, so a run that fails fails here
    TERM=xterm script -qec "stty cols 40; '$nnc' --jit --data '$root/examples' --epochs 300 '$xor'" /dev/null >"$tmp/tty" \
        || { echo "the run under a 40-column terminal failed"; cat "$tmp/tty"; exit 1; }
    # the redraws: what follows each \r up to the next \r or newline, escapes removed
    widest=$(tr '\r' '\n' <"$tmp/tty" | sed 's/\x1b\[K//g' | grep '\[=*>* *\]\|loss [0-9.]*  ETA' | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
    echo "terminal: the widest redraw at 40 columns is $widest"
    [ "$widest" -gt 20 ] && [ "$widest" -le 39 ] || { cat "$tmp/tty"; exit 1; }
    TERM=dumb script -qec "'$nnc' --jit --data '$root/examples' --epochs 300 '$xor'" /dev/null >"$tmp/dumb" \
        || { echo "the run with TERM=dumb failed"; cat "$tmp/dumb"; exit 1; }
    # it trained to the end: the final line is there (an empty output has no escapes either)
    grep -q 'epoch 300/300' "$tmp/dumb" || { echo "TERM=dumb: no final epoch line"; cat "$tmp/dumb"; exit 1; }
    ! grep -q "$(printf '\033')" "$tmp/dumb" || { echo "TERM=dumb got escape sequences"; exit 1; } ;;
chart)
    "$nnc" --jit --data "$root/examples" --metrics "$tmp/m" --chart "$tmp/c.svg" "$root/tests/jit/xor_metrics.nn" \
        2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    [ ! -e "$tmp/c.svg.tmp" ] || { echo "the temporary chart was left behind"; exit 1; }
    /usr/bin/python3 -c '
import json, sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
svg = ET.parse(sys.argv[2]).getroot()
last = json.loads(open(sys.argv[1]).read().splitlines()[-1])
texts = [t.text for t in svg.iter(ns + "text")]
assert "xor: 2000 evaluations" in texts, texts[:3]
names = ["train_loss", "test_loss", "test_accuracy", "test_mae", "test_metric"]
for n in names:
    want = "%s %.4g" % (n, last[n])
    assert want in texts, (want, [t for t in texts if t.startswith(n)])
paths = [p.get("d").split() for p in svg.iter(ns + "path")]
assert len(paths) == 5, len(paths)
for d in paths:
    moves = [w for w in d if w[0] in "ML"]
    assert len(moves) == 2000 and moves[0][0] == "M" and all(w[0] == "L" for w in moves[1:]), d[:4]
print("chart: 5 lines of 2000 points; legend", [t for t in texts if t.startswith("test_accuracy")])' "$tmp/m" "$tmp/c.svg"
    # one evaluation of one metric: its axis's top tick is the value rounded
    # up to a tick (an accuracy of 0.97 was drawn on an axis up to 1.1)
    grep -v "metric m" "$root/tests/jit/xor_metrics.nn" >"$tmp/acc.nn"
    "$nnc" --jit --data "$root/examples" --epochs 1 --metrics "$tmp/m1" --chart "$tmp/c1.svg" "$tmp/acc.nn" \
        2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    /usr/bin/python3 -c '
import json, sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
svg = ET.parse(sys.argv[2]).getroot()
acc = json.loads(open(sys.argv[1]).read().splitlines()[-1])["test_accuracy"]
texts = [t for t in svg.iter(ns + "text") if float(t.get("y", 0)) > 334]   # the metrics panel (TOP + PANEL + GAP)
assert "test_accuracy %.4g" % acc in [t.text for t in texts], [t.text for t in texts]
ticks = sorted(float(t.text) for t in texts if t.get("x") == "64")   # the y axis labels
# a flat series spans a tenth of it below it: the top tick is the value
# rounded up to a tick (it was a tenth above it, rounded up)
step = ticks[1] - ticks[0]
assert acc <= ticks[-1] < acc + step - 1e-9 and ticks[0] < acc, (acc, ticks)
print("chart: one accuracy of", acc, "on ticks", ticks)' "$tmp/m1" "$tmp/c1.svg" || exit 1
    "$nnc" --jit --data "$root/examples" --chart "$tmp/no/such/c.svg" "$root/examples/xor.nn" 2>"$tmp/log"; status=$?
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: cannot write the chart to '$tmp/no/such/c.svg': No such file or directory" ] \
        || { echo "status $status"; cat "$tmp/log"; exit 1; } ;;
savefail)
    xor=$root/examples/xor.nn
    for i in $(seq 1 10); do
        rm -f "$tmp/k.safetensors"
        # (one thread: the save is the same on any, and the run burns a core
        # while it waits to be killed)
        "$nnc" --jit --threads 1 --epochs 100000 --save "$tmp/k.safetensors" "$xor" >/dev/null 2>&1 &
        pid=$!
        # once it saves (every epoch, from the first), kill it 20-300 ms later
        # (0.08 s was "0.8": a one-digit count of hundredths slept tenths)
        tries=0
        until [ -e "$tmp/k.safetensors" ] || [ $tries -ge 600 ]; do sleep 0.05; tries=$((tries + 1)); done
        sleep "$(printf '0.%02d' $(( (i * 37) % 28 + 2 )))"
        kill -KILL $pid 2>/dev/null
        wait $pid 2>/dev/null
        [ -e "$tmp/k.safetensors" ] || { echo "kill $i: no checkpoint was ever written"; exit 1; }
        "$nnc" --jit --eval --load "$tmp/k.safetensors" "$xor" > /dev/null 2>"$tmp/log" \
            || { cat "$tmp/log"; echo "kill $i: the checkpoint does not load"; exit 1; }
    done
    echo "10 kills while saving a checkpoint every epoch: it loaded after each"
    # ENOSPC: a model whose checkpoint (about 100 KB with Adam's state) does
    # not fit twice in 160 KiB
    cat > "$tmp/big.nn" <<'EOF'
model big {
    input x: f32[2]
    target y: f32[1]
    h = relu(dense(x, 2500))
    p = dense(h, 1)
    output p
    loss mse(p, y)
}
train { data = csv("xor.csv") optimizer = adam(lr: 0.01) batch = 4 steps = 1 }
EOF
    cp "$root/examples/xor.csv" "$tmp/"
    (cd "$tmp" && "$nnc" --jit --save prev.safetensors big.nn >/dev/null 2>"$tmp/log") || { cat "$tmp/log"; exit 1; }
    mkdir "$tmp/small"
    if ! mount -t tmpfs -o size=160k tmpfs "$tmp/small" 2>/dev/null; then
        echo "cannot mount a tmpfs here (not root?): the ENOSPC part is skipped"; exit 0
    fi
    cp "$tmp/prev.safetensors" "$tmp/small/ck.safetensors"
    (cd "$tmp" && "$nnc" --jit --steps 2 --save small/ck.safetensors big.nn >/dev/null 2>"$tmp/log"); status=$?
    cat "$tmp/log"
    listing=$(ls "$tmp/small")
    same=0; cmp -s "$tmp/prev.safetensors" "$tmp/small/ck.safetensors" && same=1
    umount "$tmp/small"
    [ "$status" = 1 ] || { echo "exit status $status, not 1"; exit 1; }
    [ "$(tail -1 "$tmp/log")" = "nnc: error: cannot write 'small/ck.safetensors': No space left on device" ] \
        || { echo "not the expected message"; exit 1; }
    [ "$same" = 1 ] && [ "$listing" = ck.safetensors ] || { echo "the old checkpoint changed, or a file was left: $listing"; exit 1; } ;;
eval)
    need_mnist
    "$nnc" --jit --epochs 1 --save "$tmp/ck.safetensors" --metrics "$tmp/m" "$root/examples/mnist_mlp.nn" 2>"$tmp/log" \
        || { cat "$tmp/log"; exit 1; }
    "$nnc" --jit --eval --load "$tmp/ck.safetensors" "$root/examples/mnist_mlp.nn" 2>"$tmp/eval" || { cat "$tmp/eval"; exit 1; }
    cat "$tmp/eval"
    acc=$(field test_accuracy "$tmp/m" 1)
    grep -q "test_accuracy $(printf '%.4f' "$acc")" "$tmp/eval" ;;
interrupt|term)
    need_mnist
    if [ "$case" = term ]; then signal=TERM want=143 said="terminated (SIGTERM)"; else signal=INT want=130 said=interrupted; fi
    "$nnc" --jit --epochs 50 --save "$tmp/ck.safetensors" "$root/examples/mnist_mlp.nn" 2>"$tmp/log" &
    pid=$!
    # Interrupt once training runs (the first epoch's checkpoint is there): a
    # background job of sh starts with SIGINT ignored, so a signal that came
    # while nnc was still compiling, before it set its handler, would be lost.
    tries=0
    until [ -s "$tmp/ck.safetensors" ] || [ $tries -ge 600 ]; do sleep 0.1; tries=$((tries + 1)); done
    kill -$signal $pid
    wait $pid
    status=$?
    cat "$tmp/log"
    [ "$status" = $want ] || { echo "exit status $status, not $want"; exit 1; }
    n=$(sed -n "s/^$said after step \([0-9]*\); saving\$/\1/p" "$tmp/log")
    [ -n "$n" ] || { echo "no '$said after step N; saving'"; exit 1; }
    # the checkpoint is the one written at the interruption: its step is N
    saved=$(/usr/bin/python3 -c '
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
print(json.loads(b[8:8 + n])["__metadata__"]["nnc.step"])' "$tmp/ck.safetensors")
    echo "interrupted after step $n; the checkpoint holds step $saved"
    [ "$saved" = "$n" ] ;;
nonfinite)
    need_mnist
    "$nnc" --jit --epochs 1 --lr 1e30 "$root/examples/mnist_mlp.nn" 2>"$tmp/log"
    status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && grep -q "^nnc: error: step [0-9]*: the loss is \(nan\|infinite\); stopping" "$tmp/log" ;;
nansave)
    # (a sigmoid's saturated output no longer makes NaN gradients, unit.codegen: an
    # update that overflows makes the parameters inf instead)
    printf 'model lin {\n input x: f32[2]\n target y: f32[1]\n p = dense(x, 1)\n output p\n loss mse(p, y)\n}\n' > "$tmp/lin.nn"
    printf 'train {\n data = csv("lin.csv", test: "lin.csv")\n optimizer = sgd(lr: 1e-7)\n batch = 4\n steps = 20\n}\n' \
        >> "$tmp/lin.nn"
    printf '1000,2000,1\n-3000,500,2\n2500,-1500,3\n-500,-4000,4\n' > "$tmp/lin.csv"
    "$nnc" --jit --threads 1 --data "$tmp" --steps 5 --save "$tmp/good.safetensors" "$tmp/lin.nn" 2>"$tmp/log" \
        || { cat "$tmp/log"; exit 1; }
    cp "$tmp/good.safetensors" "$tmp/k.safetensors"
    "$nnc" --jit --threads 1 --data "$tmp" --lr 1e36 --steps 20 --load "$tmp/k.safetensors" \
        --save "$tmp/k.safetensors" "$tmp/lin.nn" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] || { echo "exit status $status, not 1"; exit 1; }
    tail -1 "$tmp/log" | grep -Eq "^nnc: error: step [0-9]+: parameter '[a-z.]+' holds (nan|inf|-inf) after the update; \
stopping \(the last checkpoint written is kept\)$" || { echo "not the expected message"; exit 1; }
    refused=$(tail -1 "$tmp/log" | sed 's/^nnc: error: step \([0-9]*\):.*/\1/')
    # the checkpoint is the previous evaluation's (xor evaluates every step), every value finite
    /usr/bin/python3 - "$tmp/k.safetensors" "$((refused - 1))" <<'EOF' || exit 1
import json, struct, sys, numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
step = h.pop("__metadata__")["nnc.step"]
assert step == sys.argv[2], (step, sys.argv[2])
for k, t in h.items():
    lo, hi = t["data_offsets"]
    assert np.isfinite(np.frombuffer(b[8 + n + lo:8 + n + hi], np.float32)).all(), k
print("the checkpoint kept holds step %s, all %d tensors finite" % (step, len(h)))
EOF
    ;;
ckstate)
    sed 's/sgd(lr: 1.0)/adam(lr: 0.05)/' "$root/examples/xor.nn" > "$tmp/adam.nn"
    grep -q 'adam(lr: 0.05)' "$tmp/adam.nn" || { echo "examples/xor.nn changed: no 'sgd(lr: 1.0)' to replace"; exit 1; }
    run() {  # run WANT_STATUS ARGS...: nnc --jit on xor's data, its stderr in $tmp/log
        want=$1; shift
        "$nnc" --jit --threads 1 --data "$root/examples" "$@" 2>"$tmp/log"; status=$?
        [ "$status" = "$want" ] || { cat "$tmp/log"; echo "$*: exit status $status, not $want"; exit 1; }
    }
    said() { grep -Fxq "$1" "$tmp/log" || { cat "$tmp/log"; echo "not said: $1"; exit 1; }; }
    ed() { /usr/bin/python3 "$root/tests/jit/ckedit.py" "$1" "$tmp/ck.safetensors" "$tmp/$2.safetensors" "$3" || exit 1; }
    run 0 --steps 5 --save "$tmp/ck.safetensors" "$tmp/adam.nn"
    ed add extra blocks.2.w,blocks.3.w
    cp "$tmp/extra.safetensors" "$tmp/before.safetensors"
    run 1 --steps 7 --load "$tmp/extra.safetensors" --save "$tmp/extra.safetensors" "$tmp/adam.nn"
    said "nnc: error: $tmp/extra.safetensors: 2 tensors that model 'xor' does not have, the first 'blocks.2.w'; is it a \
checkpoint of model 'xor'?"
    cmp "$tmp/before.safetensors" "$tmp/extra.safetensors" || { echo "the refused checkpoint changed"; exit 1; }
    ed drop partial optimizer.hidden.weight.exp_avg_sq
    run 1 --steps 7 --load "$tmp/partial.safetensors" "$tmp/adam.nn"
    said "nnc: error: $tmp/partial.safetensors: no tensor 'optimizer.hidden.weight.exp_avg_sq': the file has 7 of the \
optimizer's 8 state tensors; resuming needs all of them (or none, to start the optimizer from zero)"
    ed drop params optimizer.
    run 0 --steps 7 --load "$tmp/params.safetensors" "$tmp/adam.nn"
    said "$tmp/params.safetensors: note: no optimizer state in the file (parameters only); the optimizer starts from \
zero state, so the run does not resume exactly"
    run 0 --eval --load "$tmp/params.safetensors" "$tmp/adam.nn"
    ! grep -q note "$tmp/log" || { cat "$tmp/log"; echo "--eval noted the optimizer"; exit 1; }
    run 0 --steps 7 --load "$tmp/ck.safetensors" "$root/examples/xor.nn"
    said "$tmp/ck.safetensors: note: the optimizer state in the file is another optimizer's; model 'xor' does not use it"
    echo "ckstate: extra tensors and a part of the state refused; no state and another optimizer's noted" ;;
samefile)
    # two of --save, --metrics and --chart naming one file: refused before
    # training (the last written won: a chart where the checkpoint was)
    xor=$root/examples/xor.nn
    refused() {  # refused MESSAGE ARGS...: exit 2, that message only, nothing written
        msg=$1; shift
        "$nnc" --jit --steps 2 --data "$root/examples" "$@" "$xor" 2>"$tmp/log"; status=$?
        [ "$status" = 2 ] || { cat "$tmp/log"; echo "$*: exit status $status, not 2"; exit 1; }
        [ "$(cat "$tmp/log")" = "nnc: $msg
Try 'nnc --help' for more information." ] || { cat "$tmp/log"; echo "$*: not (only) said: $msg"; exit 1; }
    }
    refused "--save '$tmp/same.out' and --chart '$tmp/same.out' are the same file; each writes a file of its own" \
        --save "$tmp/same.out" --chart "$tmp/same.out"
    # not made yet, spelled two ways: the same name in the same folder
    mkdir "$tmp/sub" || exit 1
    refused "--save '$tmp/m' and --metrics '$tmp/sub/../m' are the same file; each writes a file of its own" \
        --save "$tmp/m" --metrics "$tmp/sub/../m"
    [ ! -e "$tmp/same.out" ] && [ ! -e "$tmp/m" ] || { ls "$tmp"; echo "a refused run wrote a file"; exit 1; }
    # an existing file under two names (a hard link)
    : > "$tmp/a" && ln "$tmp/a" "$tmp/b" || exit 1
    refused "--metrics '$tmp/a' and --chart '$tmp/b' are the same file; each writes a file of its own" \
        --metrics "$tmp/a" --chart "$tmp/b"
    # a link to a file not made yet, and that file: --save writes through the
    # link (the metrics were lost, exit 0)
    ln -s "$tmp/tgt" "$tmp/lnk" || exit 1
    refused "--save '$tmp/lnk' and --metrics '$tmp/tgt' are the same file; each writes a file of its own" \
        --save "$tmp/lnk" --metrics "$tmp/tgt"
    # a chart is SVG whatever its name: another name is refused (it held an SVG under .png)
    refused "--chart draws SVG only: give it a name ending in .svg, not '$tmp/c.png'" --chart "$tmp/c.png"
    [ ! -e "$tmp/c.png" ] || { echo "a refused run wrote the chart"; exit 1; }
    # still legal: --metrics - (standard output) beside files, and --load and
    # --save of one file (a run resumed in place)
    "$nnc" --jit --steps 2 --data "$root/examples" --save "$tmp/ck" --metrics - --chart "$tmp/c.SVG" "$xor" \
        >"$tmp/out" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    "$nnc" --jit --steps 4 --data "$root/examples" --load "$tmp/ck" --save "$tmp/ck" "$xor" 2>"$tmp/log" \
        || { cat "$tmp/log"; exit 1; }
    # but not --load and --metrics (JSON appended to the checkpoint) or --chart
    cp "$tmp/ck" "$tmp/ck.before" || exit 1
    refused "--load '$tmp/ck' and --metrics '$tmp/ck' are the same file; --metrics would write over the checkpoint \
--load reads" --load "$tmp/ck" --metrics "$tmp/ck"
    refused "--load '$tmp/ck' and --chart '$tmp/./ck' are the same file; --chart would write over the checkpoint \
--load reads" --load "$tmp/ck" --chart "$tmp/./ck"
    cmp -s "$tmp/ck" "$tmp/ck.before" || { echo "a refused run changed the checkpoint"; exit 1; }
    echo "each refused; --load and --save of one file resumed" ;;
savepaths)
    xor=$root/examples/xor.nn
    run() {  # run WANT_STATUS ARGS...: nnc --jit on xor, its stderr in $tmp/log
        want=$1; shift
        "$nnc" --jit --threads 1 --data "$root/examples" "$@" "$xor" 2>"$tmp/log"; status=$?
        [ "$status" = "$want" ] || { cat "$tmp/log"; echo "$*: exit status $status, not $want"; exit 1; }
    }
    only() { [ "$(cat "$tmp/log")" = "$1" ] || { cat "$tmp/log"; echo "not (only) said: $1"; exit 1; }; }
    step_of() { /usr/bin/python3 -c '
import json, struct, sys
b = open(sys.argv[1], "rb").read()
print(json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]["nnc.step"])' "$1"; }
    mkdir "$tmp/runs"
    mkfifo "$tmp/fifo" || exit 1
    run 1 --save "$tmp/runs/"
    only "nnc: error: cannot save to '$tmp/runs/': it is a directory, not a regular file"
    run 1 --save /dev/null
    only "nnc: error: cannot save to '/dev/null': it is a character device, not a regular file"
    run 1 --save "$tmp/fifo"
    only "nnc: error: cannot save to '$tmp/fifo': it is a FIFO, not a regular file"
    mkdir "$tmp/runs.svg" || exit 1
    run 1 --chart "$tmp/runs.svg"
    only "nnc: error: cannot write the chart to '$tmp/runs.svg': it is a directory, not a regular file"
    # through links: the target is written, the links stay links
    run 0 --steps 3 --save "$tmp/real.safetensors"
    ln -s real.safetensors "$tmp/link.safetensors" && mkdir "$tmp/sub" && ln -s ../real.safetensors "$tmp/sub/up.safetensors" \
        || exit 1
    run 0 --steps 6 --load "$tmp/link.safetensors" --save "$tmp/link.safetensors"
    run 0 --steps 8 --load "$tmp/sub/up.safetensors" --save "$tmp/sub/up.safetensors"
    [ -L "$tmp/link.safetensors" ] && [ -L "$tmp/sub/up.safetensors" ] || { echo "a link was replaced by a file"; exit 1; }
    [ "$(step_of "$tmp/real.safetensors")" = 8 ] || { echo "the target holds step $(step_of "$tmp/real.safetensors"), not 8"; exit 1; }
    [ -z "$(find "$tmp" -name '*.tmp*')" ] || { ls -R "$tmp"; echo "a temporary was left"; exit 1; }
    # a loop of links is refused, not replaced by a file
    ln -s la "$tmp/lb" && ln -s lb "$tmp/la" || exit 1
    run 1 --save "$tmp/la"
    only "nnc: error: cannot save to '$tmp/la': Too many levels of symbolic links"
    [ -L "$tmp/la" ] && [ -L "$tmp/lb" ] || { echo "a link of the loop was replaced"; exit 1; }
    # names of 250 bytes (NAME_MAX is 255): the temporaries' names are their
    # own, not the target's with a suffix, so the saves that passed the
    # checks before training do not fail at the first evaluation
    long=$(printf 'c%.0s' $(seq 246))
    run 0 --steps 3 --save "$tmp/$long.st" --chart "$tmp/$long.svg"
    [ "$(step_of "$tmp/$long.st")" = 3 ] && [ -s "$tmp/$long.svg" ] || { echo "no checkpoint or chart of 250 bytes"; exit 1; }
    [ -z "$(find "$tmp" -name '*.tmp*')" ] || { ls -R "$tmp"; echo "a temporary was left"; exit 1; }
    echo "savepaths: non-files refused, links written through, names up to NAME_MAX" ;;
evalopts)
    xor=$root/examples/xor.nn
    "$nnc" --jit --data "$root/examples" --steps 5 --save "$tmp/ck.safetensors" "$xor" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    "$nnc" --jit --data "$root/examples" --load "$tmp/ck.safetensors" --eval --metrics "$tmp/ev.jsonl" "$xor" 2>"$tmp/log" \
        || { cat "$tmp/log"; exit 1; }
    cat "$tmp/log" "$tmp/ev.jsonl"
    /usr/bin/python3 -c '
import json, sys
header, *lines = [json.loads(l) for l in open(sys.argv[1])]
printed = float(open(sys.argv[2]).read().split()[1])
assert header["start_step"] == 5, header
# the evaluation, not the compiled-in training (xor counts 2000 epochs)
assert header["options"] == {"eval": True, "steps": 5, "batch": 4, "data": sys.argv[3], "load": sys.argv[4]}, header
assert len(lines) == 1, lines
l = lines[0]
assert l["step"] == 5 and l["epoch"] is None and l["train_loss"] is None, l
assert abs(l["test_loss"] - printed) <= 5e-5, (l["test_loss"], printed)' "$tmp/ev.jsonl" "$tmp/log" "$root/examples" \
        "$tmp/ck.safetensors" || exit 1
    bad() {  # bad MESSAGE ARGS...: nnc --jit --load ck --eval ARGS refused, exit 2
        msg=$1; shift
        "$nnc" --jit --data "$root/examples" --load "$tmp/ck.safetensors" --eval "$@" "$xor" >/dev/null 2>"$tmp/log"; status=$?
        [ "$status" = 2 ] && [ "$(head -1 "$tmp/log")" = "nnc: $msg" ] || { cat "$tmp/log"; echo "$*: status $status"; exit 1; }
    }
    bad "--save goes with training; --eval trains nothing, so there is no checkpoint to write" --save "$tmp/x.safetensors"
    bad "--chart goes with training; --eval trains nothing, so there is no learning curve to draw" --chart "$tmp/c.svg"
    bad "--steps goes with training; --eval trains nothing, so there are no steps to take" --steps 9
    bad "--epochs goes with training; --eval trains nothing, so there are no epochs to run" --epochs 9
    bad "--lr goes with training; --eval trains nothing, so no learning rate is used" --lr 0.5
    bad "give --eval or --sample, not both" --sample a
    [ ! -e "$tmp/x.safetensors" ] && [ ! -e "$tmp/c.svg" ] || { echo "a refused run wrote a file"; exit 1; }
    echo "evalopts: --eval's metrics line written; training options refused" ;;
mismatch)
    need_mnist
    "$nnc" --jit --save "$tmp/xor.safetensors" "$root/examples/xor.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    # refused before anything is compiled: -v says nothing but the refusal
    "$nnc" --jit -v --eval --load "$tmp/xor.safetensors" "$root/examples/mnist_mlp.nn" 2>"$tmp/log"
    status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = \
        "nnc: error: $tmp/xor.safetensors: tensor 'hidden.weight' is F32[2,2], but the model has F32[128,784]" ] ;;
sample)
    "$nnc" --jit --save "$tmp/ck.safetensors" "$root/tests/jit/abcd.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    "$nnc" --jit --load "$tmp/ck.safetensors" --sample bc --length 20 --temperature 0.1 "$root/tests/jit/abcd.nn" \
        >"$tmp/out" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    cat "$tmp/out"
    [ "$(cat "$tmp/out")" = "bcdabcdabcdabcdabcdabc" ] || exit 1
    # what --sample does not use is refused by name, exit 2, nothing written
    # (runtime/run.c's table, the one --eval's refusals come from)
    for opt in "--save $tmp/new.safetensors:--save goes with training; --sample trains and evaluates nothing, so \
there is no checkpoint to write" "--metrics $tmp/m.jsonl:--metrics goes with training and --eval; --sample trains \
and evaluates nothing, so there are no metrics to write" "--chart $tmp/c.svg:--chart goes with training; --sample \
trains and evaluates nothing, so there is no learning curve to draw" "--steps 5:--steps goes with training; --sample \
trains and evaluates nothing, so there are no steps to take" "--lr 0.5:--lr goes with training; --sample trains and \
evaluates nothing, so no learning rate is used" "--batch 8:--batch goes with training and --eval; --sample trains and \
evaluates nothing, so it draws one sequence, not batches"; do
        # shellcheck disable=SC2086  # the option and its value are two words
        "$nnc" --jit --load "$tmp/ck.safetensors" ${opt%%:*} --sample bc "$root/tests/jit/abcd.nn" >"$tmp/out" \
            2>"$tmp/log"; status=$?
        [ "$status" = 2 ] && [ "$(head -1 "$tmp/log")" = "nnc: ${opt#*:}" ] && [ ! -s "$tmp/out" ] \
            || { cat "$tmp/log"; echo "${opt%%:*} with --sample: status $status"; exit 1; }
    done
    [ ! -e "$tmp/new.safetensors" ] && [ ! -e "$tmp/m.jsonl" ] && [ ! -e "$tmp/c.svg" ] \
        || { echo "a refused --sample wrote a file"; exit 1; }
    # without --load: untrained weights, said once on stderr (the text is random)
    "$nnc" --jit --sample bc --length 5 "$root/tests/jit/abcd.nn" >"$tmp/out" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    [ "$(cat "$tmp/log")" = "nnc: note: --sample without --load samples from the model's untrained (random) weights" ] \
        || { cat "$tmp/log"; echo "--sample without --load: no note, or more"; exit 1; }
    [ "$(wc -c < "$tmp/out")" -ge 7 ] || { echo "--sample without --load wrote '$(cat "$tmp/out")'"; exit 1; }
    # a prompt character the model never saw is named whole (UTF-8), exit 1
    "$nnc" --jit --load "$tmp/ck.safetensors" --sample "abé" "$root/tests/jit/abcd.nn" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = \
        "nnc: error: character 'é' of the prompt does not occur in the text the model learned from" ] || exit 1
    # the checkpoint keeps the vocabulary (nnc.chars): --sample reads no text, so a copy of the model
    # beside no abcd.txt, under an empty data root, samples the same, -v saying where the vocabulary came from
    mkdir "$tmp/bare" "$tmp/empty"
    cp "$root/tests/jit/abcd.nn" "$tmp/bare/"
    NNC_DATA=$tmp/empty "$nnc" --jit -v --load "$tmp/ck.safetensors" --sample bc --length 20 --temperature 0.1 \
        "$tmp/bare/abcd.nn" >"$tmp/out" 2>"$tmp/log" || { cat "$tmp/log"; echo "--sample without the text failed"; exit 1; }
    [ "$(cat "$tmp/out")" = "bcdabcdabcdabcdabcdabc" ] || { cat "$tmp/out"; echo "without the text: another sample"; exit 1; }
    [ "$(grep '^vocabulary' "$tmp/log")" = "vocabulary: 5 bytes from $tmp/ck.safetensors (nnc.chars); --sample reads \
no text file" ] || { cat "$tmp/log"; echo "-v: no vocabulary line, or another"; exit 1; }
    # ... and a prompt character outside it is refused as with the text
    NNC_DATA=$tmp/empty "$nnc" --jit --load "$tmp/ck.safetensors" --sample "abé" "$tmp/bare/abcd.nn" 2>"$tmp/log"; status=$?
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = \
        "nnc: error: character 'é' of the prompt does not occur in the text the model learned from" ] \
        || { cat "$tmp/log"; echo "without the text: prompt refused otherwise, status $status"; exit 1; }
    # without --load the vocabulary is the text's: missing, it is needed, and the message says why
    NNC_DATA=$tmp/empty "$nnc" --jit --sample bc "$tmp/bare/abcd.nn" >"$tmp/out" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ ! -s "$tmp/out" ] && [ "$(cat "$tmp/log")" = "nnc: error: cannot open $tmp/empty/abcd.txt: No \
such file or directory (data root '$tmp/empty', from NNC_DATA; nor beside the model in '$tmp/bare'); --sample without \
--load needs the text for its vocabulary" ] ;;
bpe)
    "$nnc" --jit -v --save "$tmp/ck.safetensors" "$root/tests/jit/bpe.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    grep '^bpe:' "$tmp/log"
    grep -Eq '^bpe: learned 44 merges from 4564 bytes in [0-9.]+ ms; 5\.943 bytes per token on the training split \(768 tokens\)$' \
        "$tmp/log" || { cat "$tmp/log"; echo "no bpe line"; exit 1; }
    /usr/bin/python3 - "$tmp/ck.safetensors" "$root/tests/jit/bpe.txt" <<'EOF' || exit 1
import json, struct, sys
from collections import Counter
f = open(sys.argv[1], 'rb')
meta = json.loads(f.read(struct.unpack('<Q', f.read(8))[0]))['__metadata__']
text = list(open(sys.argv[2], 'rb').read())
data, want = text[:int(len(text) * 0.8)], []
for z in range(256, 300):  # rescan per merge: most frequent pair, ties to the lowest ids
    best = max(Counter(zip(data, data[1:])).items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))[0]
    want.append('%d,%d' % best)
    out, i = [], 0
    while i < len(data):
        if i + 1 < len(data) and (data[i], data[i + 1]) == best:
            out.append(z); i += 2
        else:
            out.append(data[i]); i += 1
    data = out
assert meta['nnc.tokenizer'] == 'bpe', meta
assert meta['nnc.bpe_merges'] == ' '.join(want), (meta['nnc.bpe_merges'], ' '.join(want))
print("checkpoint: 44 merges, equal to the Python learner's")
EOF
    "$nnc" --jit --load "$tmp/ck.safetensors" --sample "the dog ran on the mat.
" --length 20 --temperature 0.1 "$root/tests/jit/bpe.nn" >"$tmp/out" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    cat "$tmp/out"
    [ "$(head -1 "$tmp/out")" = "the dog ran on the mat." ] || { echo "the prompt is not echoed"; exit 1; }
    # the merges are the checkpoint's: --sample reads no text (a copy of the model beside no bpe.txt,
    # an empty data root), writes the same bytes, and -v says so
    mkdir "$tmp/bare" "$tmp/empty"
    cp "$root/tests/jit/bpe.nn" "$tmp/bare/"
    NNC_DATA=$tmp/empty "$nnc" --jit -v --load "$tmp/ck.safetensors" --sample "the dog ran on the mat.
" --length 20 --temperature 0.1 "$tmp/bare/bpe.nn" >"$tmp/bare/out" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    cmp "$tmp/out" "$tmp/bare/out" || { echo "without the text: another sample"; exit 1; }
    [ "$(grep '^bpe:' "$tmp/log")" = "bpe: 44 merges from $tmp/ck.safetensors; --sample reads no text file" ] \
        || { cat "$tmp/log"; echo "-v: no bpe line, or another"; exit 1; }
    # without --load the merges are learned from the text: missing, the message says so
    NNC_DATA=$tmp/empty "$nnc" --jit --sample "the" "$tmp/bare/bpe.nn" >"$tmp/bare/out" 2>"$tmp/log"; status=$?
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: cannot open $tmp/empty/bpe.txt: No such file or \
directory (data root '$tmp/empty', from NNC_DATA; nor beside the model in '$tmp/bare'); --sample without --load needs \
the text for its vocabulary (it learns the merges from it)" ] || { cat "$tmp/log"; echo "status $status"; exit 1; }
    # the lines between the first generated one and the last (maybe cut) one follow the grammar
    lines=$(sed '1,2d;$d' "$tmp/out" | wc -l)
    bad=$(sed '1,2d;$d' "$tmp/out" | grep -Evc '^the (cat sat|dog ran|bird flew|fish swam) on the (mat|log|café|tree|pond|roof)\.$')
    echo "$lines whole sentences, $bad not of the grammar"
    [ "$lines" -ge 2 ] && [ "$bad" = 0 ] || exit 1
    # a checkpoint without the merges, and one with a merge fewer
    /usr/bin/python3 - "$tmp/ck.safetensors" "$tmp" <<'EOF' || exit 1
import json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
head, body = json.loads(raw[8:8 + n]), raw[8 + n:]
def write(name, h):
    b = json.dumps(h).encode()
    b += b' ' * (-len(b) % 8)
    open(sys.argv[2] + '/' + name, 'wb').write(struct.pack('<Q', len(b)) + b + body)
meta = head.pop('__metadata__')
write('none.safetensors', head)
head['__metadata__'] = dict(meta, **{'nnc.bpe_merges': meta['nnc.bpe_merges'].rsplit(' ', 1)[0]})
write('fewer.safetensors', head)
EOF
    "$nnc" --jit --load "$tmp/none.safetensors" --sample "the" "$root/tests/jit/bpe.nn" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: $tmp/none.safetensors has no bpe merges (the header's __metadata__ has no nnc.bpe_merges), but the model reads its text as bpe(vocab: 300); was it saved by a model with this tokenizer?" ] || exit 1
    "$nnc" --jit --load "$tmp/fewer.safetensors" --steps 1 "$root/tests/jit/bpe.nn" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: $tmp/fewer.safetensors: its bpe merges make a vocabulary of 299 tokens, but the model's is bpe(vocab: 300)" ] ;;
charvocab)
    mkdir "$tmp/fewer" "$tmp/more"
    for d in fewer more; do cp "$root/tests/jit/abcd.nn" "$tmp/$d/"; done
    "$nnc" --jit --save "$tmp/ck.safetensors" "$root/tests/jit/abcd.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    /usr/bin/python3 - "$tmp/ck.safetensors" "$root/tests/jit/abcd.txt" "$tmp" <<'EOF' || exit 1
import json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
head, body = json.loads(raw[8:8 + n]), raw[8 + n:]
meta = head['__metadata__']
want = ' '.join(str(b) for b in sorted(set(open(sys.argv[2], 'rb').read())))
assert meta['nnc.tokenizer'] == 'bytes' and meta['nnc.chars'] == want, (meta, want)
print('checkpoint: nnc.chars', meta['nnc.chars'])
def write(name, m):
    h = dict(head, __metadata__=m)
    b = json.dumps(h).encode()
    b += b' ' * (-len(b) % 8)
    open(sys.argv[3] + '/' + name, 'wb').write(struct.pack('<Q', len(b)) + b + body)
write('old.safetensors', {k: v for k, v in meta.items() if k not in ('nnc.tokenizer', 'nnc.chars')})
write('twice.safetensors', dict(meta, **{'nnc.chars': '10 97 98 97'}))
write('long.safetensors', dict(meta, **{'nnc.chars': meta['nnc.chars'] + ' 101'}))
EOF
    # the text without 'a' and the newline: its own ids would make 'b' 0, 'a''s id
    printf 'bcd%.0s' $(seq 500) >"$tmp/fewer/abcd.txt"
    "$nnc" --jit --load "$tmp/ck.safetensors" --sample bc --length 20 --temperature 0.1 "$tmp/fewer/abcd.nn" \
        >"$tmp/out" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    cat "$tmp/out"
    [ "$(cat "$tmp/out")" = "bcdabcdabcdabcdabcdabc" ] || { echo "not the trained vocabulary's ids"; exit 1; }
    # --sample reads no text with the vocabulary saved; --eval maps the text through it: "abcd" without the
    # newline is predicted as well as the trained text (its own ids, shifted by one, give a test loss of 2.5)
    printf 'abcd%.0s' $(seq 500) >"$tmp/fewer/abcd.txt"
    "$nnc" --jit --load "$tmp/ck.safetensors" --eval "$tmp/fewer/abcd.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    cat "$tmp/log"
    awk '$1 == "test_loss" && $2 < 0.01 { ok = 1 } END { exit !ok }' "$tmp/log" || { echo "not the trained ids"; exit 1; }
    { printf 'abcd%.0s' $(seq 100); printf '\nabcde\n'; } >"$tmp/more/abcd.txt"
    "$nnc" --jit --load "$tmp/ck.safetensors" --eval "$tmp/more/abcd.nn" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: $tmp/more/abcd.txt:2:5: byte 0x65 ('e') is not in \
the vocabulary saved in $tmp/ck.safetensors (the 5 distinct bytes of the text the model was trained on): the model \
has no id for it" ] || exit 1
    # --sample with that text beside the model: the checkpoint's vocabulary rules, and the text is not read
    "$nnc" --jit --load "$tmp/ck.safetensors" --sample bc --length 20 --temperature 0.1 "$tmp/more/abcd.nn" \
        >"$tmp/out" 2>"$tmp/log" || { cat "$tmp/log"; echo "--sample read the text"; exit 1; }
    [ "$(cat "$tmp/out")" = "bcdabcdabcdabcdabcdabc" ] || { cat "$tmp/out"; exit 1; }
    # a vocabulary longer than the model's (nnc.chars edited by hand) is the checkpoint's, not the text's
    for mode in --eval "--sample bc"; do
        # shellcheck disable=SC2086
        "$nnc" --jit --load "$tmp/long.safetensors" $mode "$root/tests/jit/abcd.nn" >"$tmp/out" 2>"$tmp/log"; status=$?
        cat "$tmp/log"
        [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: $tmp/long.safetensors: its byte vocabulary \
(nnc.chars) has 6 bytes, but the model's vocabulary is 5" ] || exit 1
    done
    # without --load its 6 distinct bytes (a-e and the newline) are more than the model's 5; é is two bytes
    "$nnc" --jit --steps 1 "$tmp/more/abcd.nn" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: $tmp/more/abcd.txt has 6 distinct bytes, but the \
model's vocabulary is 5" ] || exit 1
    printf 'abcd%.0s' $(seq 100) >"$tmp/more/abcd.txt"
    printf 'é' >>"$tmp/more/abcd.txt"
    "$nnc" --jit --steps 1 "$tmp/more/abcd.nn" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: $tmp/more/abcd.txt has 6 distinct bytes, but the \
model's vocabulary is 5 (each byte is a token: a UTF-8 character beyond ASCII is 2 to 4 of them)" ] || exit 1
    "$nnc" --jit --load "$tmp/twice.safetensors" --eval "$root/tests/jit/abcd.nn" 2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ "$(cat "$tmp/log")" = "nnc: error: $tmp/twice.safetensors: nnc.chars: byte 97 is listed \
twice" ] || exit 1
    # an older checkpoint, without the vocabulary: the file's, as it always was (-v says so)
    "$nnc" --jit -v --load "$tmp/old.safetensors" --sample bc --length 20 --temperature 0.1 "$root/tests/jit/abcd.nn" \
        >"$tmp/out" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    [ "$(cat "$tmp/out")" = "bcdabcdabcdabcdabcdabc" ] || { cat "$tmp/out"; exit 1; }
    [ "$(grep '^vocabulary' "$tmp/log")" = "vocabulary: the 5 distinct bytes of $root/tests/jit/abcd.txt \
($tmp/old.safetensors has no nnc.chars)" ] || { cat "$tmp/log"; echo "-v: no vocabulary line, or another"; exit 1; }
    # the same tokens from the text's vocabulary (the older checkpoint) and from the checkpoint's without
    # the text (a copy of the model beside no abcd.txt, an empty data root): 200 at temperature 1, 3 seeds
    mkdir "$tmp/bare" "$tmp/empty"
    cp "$root/tests/jit/abcd.nn" "$tmp/bare/"
    for seed in 1 2 3; do
        "$nnc" --jit --load "$tmp/old.safetensors" --seed $seed --sample bc --length 200 "$root/tests/jit/abcd.nn" \
            >"$tmp/read" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
        NNC_DATA=$tmp/empty "$nnc" --jit --load "$tmp/ck.safetensors" --seed $seed --sample bc --length 200 \
            "$tmp/bare/abcd.nn" >"$tmp/unread" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
        [ "$(wc -c <"$tmp/read")" = 203 ] && cmp "$tmp/read" "$tmp/unread" \
            || { echo "seed $seed: the sample differs without the text"; exit 1; }
    done
    echo "seeds 1-3: 200 tokens the same with the text read and without it"
    # the older checkpoint without the text: the message says why the text is needed
    NNC_DATA=$tmp/empty "$nnc" --jit --load "$tmp/old.safetensors" --sample bc "$tmp/bare/abcd.nn" >"$tmp/out" \
        2>"$tmp/log"; status=$?
    cat "$tmp/log"
    [ "$status" = 1 ] && [ ! -s "$tmp/out" ] && [ "$(cat "$tmp/log")" = "nnc: error: cannot open $tmp/empty/abcd.txt: \
No such file or directory (data root '$tmp/empty', from NNC_DATA; nor beside the model in '$tmp/bare'); --sample \
needs the text for its vocabulary: $tmp/old.safetensors carries none (its __metadata__ has no nnc.chars)" ] ;;
kv)
    . "$root/tests/jit/kv_compare.sh"
    for m in kv bpe; do
        "$nnc" --jit --steps 100 --save "$tmp/$m.safetensors" "$root/tests/jit/$m.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
        kv_compare "$m" "$nnc" --jit "$root/tests/jit/$m.nn" || exit 1
    done
    tail -3 "$tmp/cached" ;;
eval_every)
    sed -e 's/batch     = 4/batch = 2/' -e 's/epochs    = 2000/epochs = 1\n    eval_every = 3/' \
        "$root/examples/xor.nn" > "$tmp/x.nn"
    grep -q 'eval_every = 3' "$tmp/x.nn" && grep -q 'batch = 2' "$tmp/x.nn" \
        || { echo "examples/xor.nn changed: the copy has no 'batch = 2' and 'eval_every = 3'"; exit 1; }
    cp "$root/examples/xor.csv" "$tmp/"
    for run in "--epochs 3:3 6" "--steps 7:3 6 7"; do
        # shellcheck disable=SC2086
        "$nnc" --jit ${run%%:*} --metrics "$tmp/m" "$tmp/x.nn" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
        got=$(body "$tmp/m" | sed 's/.*"step": \([0-9]*\).*/\1/' | tr '\n' ' ')
        [ "$got" = "${run#*:} " ] || { cat "$tmp/log"; echo "${run%%:*}: evaluated at steps $got, not ${run#*:}"; exit 1; }
        rm "$tmp/m"
    done
    echo "eval_every = 3: evaluations at steps 3 6 (--epochs 3) and 3 6 7 (--steps 7)" ;;
*)
    echo "unknown case $case"; exit 2 ;;
esac
