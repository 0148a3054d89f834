#!/bin/sh
# run.sh NNC ROOT SAN CASE — parameters written in programs start where the
# program says, whichever way the model is built (tests/params/initnet.nn,
# examples/primer.nn).  Checkpoints are read by check_ckpt.py.
#   jit      nnc --jit, one step at --lr 1e-30 (which moves no f32 weight),
#            saved: the literal n.g is exact, u fills U(-0.25, 0.25), v has
#            std 2, o is ones, one proj.weight for two uses
#   aot      the trainer nnc writes (its RtModel as C data) saves the same
#            tensors, bit for bit
#   embed    the library's create(7) + save gives the same tensors again,
#            and z all zeros;
#            examples/primer.nn as a library computes 1.066 for (1.5, -0.7)
#   primer   examples/primer.nn through --jit: its typed-in weights predict
#            the one example (1.066) with a loss below 1e-10
nnc=$1 root=$2 san=$3 case=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
here=$root/tests/params
check="python3 $here/check_ckpt.py"
cflags="-O1 -I $tmp -I $root/runtime/include"
[ "$san" = ON ] && cflags="$cflags -fsanitize=address,undefined -fno-sanitize-recover=undefined"
jit_ckpt() {  # the initial parameters through --jit, in $tmp/jit.safetensors
    "$nnc" --jit --lr 1e-30 --data "$here" --save "$tmp/jit.safetensors" "$here/initnet.nn" 2>"$tmp/log" \
        || { cat "$tmp/log"; fail "--jit"; }
}
# z starts at 0, where even 1e-30 of a gradient shows: it is checked where no step ran
shared="u v o n.g proj.weight proj.bias"
case $case in
jit)
    jit_ckpt
    $check literal "$tmp/jit.safetensors" n.g 1.0,-2.5,0.125 || exit 1
    $check uniform "$tmp/jit.safetensors" u 0.25 || exit 1
    $check normal "$tmp/jit.safetensors" v 2 || exit 1
    $check literal "$tmp/jit.safetensors" o 1,1,1 || exit 1
    $check names "$tmp/jit.safetensors" $shared || exit 1 ;;
aot)
    jit_ckpt
    "$nnc" --lr 1e-30 -o "$tmp/initnet" "$here/initnet.nn" || fail "nnc"
    (cd "$here" && "$tmp/initnet" --save "$tmp/aot.safetensors" 2>"$tmp/log") \
        || { cat "$tmp/log"; fail "the trainer"; }
    $check same "$tmp/jit.safetensors" "$tmp/aot.safetensors" $shared ;;
embed)
    jit_ckpt
    "$nnc" --emit=so -o "$tmp/libinitnet.so" "$here/initnet.nn" || fail "nnc --emit=so initnet"
    "$nnc" --emit=so -o "$tmp/libprimer.so" "$root/examples/primer.nn" || fail "nnc --emit=so primer"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$here/save.c" -L "$tmp" -linitnet -Wl,-rpath,"$tmp" \
        -lpthread -lm -o "$tmp/save" || fail "building save.c"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror $cflags "$here/forward.c" -L "$tmp" -lprimer -Wl,-rpath,"$tmp" \
        -lpthread -lm -o "$tmp/forward" || fail "building forward.c"
    "$tmp/save" "$tmp/lib.safetensors" || exit 1
    $check same "$tmp/jit.safetensors" "$tmp/lib.safetensors" $shared || exit 1
    $check literal "$tmp/lib.safetensors" z 0,0,0 || exit 1
    "$tmp/forward" "$tmp/primer.safetensors" || exit 1
    $check literal "$tmp/primer.safetensors" w1 0.8,-0.3,-0.4,0.6,-1.0,1.0 || exit 1
    $check literal "$tmp/primer.safetensors" b2 0.1 ;;
primer)
    (cd "$root/examples" && "$nnc" --jit --metrics "$tmp/m" primer.nn 2>"$tmp/log") || { cat "$tmp/log"; fail "--jit"; }
    loss=$(tail -1 "$tmp/m" | tr ',{}' '\n\n\n' | awk -F': ' '$1 ~ "\"train_loss\"" {print $2}' | tr -d ' ')
    echo "primer: train_loss $loss (wanted < 1e-10)"
    awk -v v="$loss" 'BEGIN { exit !(v != "" && v + 0 < 1e-10) }' || fail "the typed-in weights do not predict 1.066" ;;
*)
    fail "unknown case $case" ;;
esac
