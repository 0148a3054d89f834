#!/bin/sh
# cache.sh NNC ROOT CASE — the persistent compile cache (compiler/util/cache.c),
# each case in a cache directory of its own (NNC_CACHE_DIR), xor for speed.
#   hit        a second run hits (-v says so) and trains bit for bit as the
#              first (metrics lines without the times, checkpoints byte for
#              byte); examples/mnist_mlp.nn for 30 steps the same way (with
#              MNIST); the trainer nnc writes misses the entry --jit made
#              (its step has the allreduce nodes of several ranks,
#              docs/distributed.md), a second one hits, and it trains as
#              --jit did
#   corrupt    an entry (xor's --predict) with a byte of its code flipped, cut
#              short, of another nnc version, or not an entry at all is
#              reported (-v), recompiled and replaced, and the outputs are
#              the first run's byte for byte
#   concurrent four processes filling one empty cache at once all succeed;
#              the cache then holds one valid entry (the next run hits) and
#              no temporary file
#   nocache    --no-cache writes nothing (the directory is not even made)
#              and says "cache off"
#   unwritable a cache path that cannot be made (under a file) costs one
#              warning, and the run trains
#   evict      NNC_CACHE_MAX holding two entries: after A, B, a hit on A and
#              then C, B (least recently used) is gone and A and C stay
#   predict    --predict compiles through the cache too: a miss, then a hit
#              whose outputs (.npy) are byte for byte the miss's, then
#              --no-cache ("cache off") alike again
#   dump       --dump-ir=asm and =llvm through the cache: a miss, then a hit
#              printing the same text; NNC_LLVM_ARGS is part of the key (Intel
#              syntax: a miss, and Intel's text), after nnc's own options
#              (-disable-lsr given again: a miss with the default's text;
#              -disable-lsr=false: other text); --emit=asm likewise (a
#              miss, a hit writing the same file, --no-cache the same again)
#   agree      --emit=asm shows the code that runs: its assembly, assembled
#              ($LLVM_MC), has every function of the objects --jit compiled
#              and cached for the same entries, each of the same size (the
#              modules' own pipelines and code generation levels: one O3
#              module, as --emit=asm was, gives other sizes)
nnc=$1 root=$2 case=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export NNC_CACHE_DIR="$tmp/cache"
xor="$root/examples/xor.nn"
# run NAME [OPTION...]: xor for 40 epochs, metrics to $tmp/NAME.m, checkpoint
# $tmp/NAME.ck, stderr to $tmp/NAME.log; fails the test on a non-zero exit
run() {
    name=$1
    shift
    "$nnc" --jit -v --epochs 40 --data "$root/examples" --metrics "$tmp/$name.m" --save "$tmp/$name.ck" "$@" \
        2>"$tmp/$name.log" >/dev/null || { echo "run $name failed:"; cat "$tmp/$name.log"; exit 1; }
}
# says NAME TEXT: the log of run NAME has a line with TEXT
says() {
    grep -qF -- "$2" "$tmp/$1.log" || { echo "run $1 does not say '$2':"; cat "$tmp/$1.log"; exit 1; }
}
# same A B: runs A and B trained alike (metrics without times and without the
# header line, which says when each started; checkpoints)
same() {
    for r in "$1" "$2"; do
        grep -v '^{"nnc": ' "$tmp/$r.m" | sed 's/"[a-z_]*_seconds*": [0-9.e+-]*//g' > "$tmp/$r.n"
    done
    cmp "$tmp/$1.n" "$tmp/$2.n" || { echo "metrics of $1 and $2 differ"; exit 1; }
    [ ! -f "$tmp/$1.ck" ] || cmp "$tmp/$1.ck" "$tmp/$2.ck" || { echo "checkpoints of $1 and $2 differ"; exit 1; }
}
entries() { ls "$NNC_CACHE_DIR" 2>/dev/null | grep -c '\.nncobj$'; }

case $case in
hit)
    run cold "$xor"
    says cold "cache miss"
    run warm "$xor"
    says warm "cache hit"
    same cold warm
    echo "xor: miss then hit, trained alike; $(grep -o 'compiled in [0-9.]* ms' "$tmp/warm.log") warm"
    # the trainer nnc writes: its step has the allreduce nodes (it runs under
    # mpirun too), so its own entry: a miss, then a hit
    (cd "$tmp" && "$nnc" -v -o "$tmp/xor_exe" "$xor" 2>"$tmp/exe.log") || { cat "$tmp/exe.log"; exit 1; }
    says exe "cache miss"
    (cd "$tmp" && "$nnc" -v -o "$tmp/xor_exe" "$xor" 2>"$tmp/exe.log") || { cat "$tmp/exe.log"; exit 1; }
    says exe "cache hit"
    "$tmp/xor_exe" --epochs 40 --data "$root/examples" --metrics "$tmp/exe.m" --save "$tmp/exe.ck" >/dev/null 2>&1 \
        || { echo "the trainer failed"; exit 1; }
    same cold exe
    echo "the trainer nnc wrote missed, then hit its own entry, and trains as --jit did"
    if [ -n "$NNC_DATA" ] && [ -d "$NNC_DATA/mnist" ]; then
        for r in mlp_cold mlp_warm; do
            "$nnc" --jit -v --steps 30 --metrics "$tmp/$r.m" --save "$tmp/$r.ck" "$root/examples/mnist_mlp.nn" \
                2>"$tmp/$r.log" >/dev/null || { cat "$tmp/$r.log"; exit 1; }
        done
        says mlp_cold "cache miss"
        says mlp_warm "cache hit"
        same mlp_cold mlp_warm
        echo "mnist_mlp: miss then hit, trained alike"
    fi ;;
corrupt)
    # xor's forward pass (--predict: one entry, a third of the training step's
    # compile, and each bad entry costs a compile): the reader's checks are
    # the same for every entry
    printf '0,0\n0,1\n1,0\n1,1\n' > "$tmp/x.csv"
    run() {
        "$nnc" --predict -v --input "x=$tmp/x.csv" -o "$tmp/$1.npy" "$xor" 2>"$tmp/$1.log" \
            || { echo "predict $1 failed:"; cat "$tmp/$1.log"; exit 1; }
    }
    same() { cmp "$tmp/$1.npy" "$tmp/$2.npy" || { echo "outputs of $1 and $2 differ"; exit 1; }; }
    run first
    entry=$(ls "$NNC_CACHE_DIR"/*.nncobj)
    size=$(wc -c < "$entry")
    cp "$entry" "$tmp/good"
    # flip: one byte in the middle of the object code
    /usr/bin/python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0x40; open(p,'wb').write(b)" "$entry"
    run flipped
    says flipped "checksum mismatch; recompiling"
    says flipped "cache miss"
    same first flipped
    cmp "$entry" "$tmp/good" || { echo "the recompiled entry differs from the first"; exit 1; }
    run again
    says again "cache hit"
    # truncated: the last 100 bytes gone
    head -c $((size - 100)) "$tmp/good" > "$entry"
    run cut
    says cut "truncated: $((size - 196)) bytes of object code, its header says $((size - 96)); recompiling"
    says cut "cache miss"
    same first cut
    head -c 40 "$tmp/good" > "$entry"
    run cut_header
    says cut_header "truncated inside its header; recompiling"
    # foreign: another version in the header
    cp "$tmp/good" "$entry"
    /usr/bin/python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[16:48]=b'9.9.9'.ljust(32,b'\0'); open(p,'wb').write(b)" "$entry"
    run foreign
    says foreign "written by nnc 9.9.9 (entry format 1), this is nnc"
    says foreign "cache miss"
    same first foreign
    # not an entry at all
    echo "hello" > "$entry"
    run junk
    says junk "not an nnc cache entry; recompiling"
    same first junk
    cmp "$entry" "$tmp/good" || { echo "the entry was not replaced by a good one"; exit 1; }
    echo "flipped, truncated (twice), foreign and junk entries were each recompiled and replaced" ;;
concurrent)
    for i in 1 2 3 4; do
        "$nnc" --jit -v --epochs 40 --data "$root/examples" --metrics "$tmp/p$i.m" "$xor" 2>"$tmp/p$i.log" >/dev/null &
    done
    wait
    fail=0
    for i in 1 2 3 4; do
        grep -q "^compiled in" "$tmp/p$i.log" || { echo "process $i failed:"; cat "$tmp/p$i.log"; fail=1; }
    done
    [ $fail = 0 ] || exit 1
    for i in 2 3 4; do same p1 p$i; done
    [ "$(entries)" = 1 ] || { echo "the cache holds $(entries) entries, not 1:"; ls -la "$NNC_CACHE_DIR"; exit 1; }
    leftover=$(ls -A "$NNC_CACHE_DIR" | grep -c '^\.tmp-')
    [ "$leftover" = 0 ] || { echo "temporary files left:"; ls -la "$NNC_CACHE_DIR"; exit 1; }
    run after "$xor"
    says after "cache hit"
    echo "4 processes at once: all trained alike, one valid entry, no temporary file" ;;
nocache)
    run off --no-cache "$xor"
    says off "(cache off:"
    [ ! -e "$NNC_CACHE_DIR" ] || { echo "--no-cache wrote:"; ls -la "$NNC_CACHE_DIR"; exit 1; }
    run on "$xor"
    same off on
    echo "--no-cache wrote nothing" ;;
unwritable)
    export NNC_CACHE_DIR=/dev/null/nnc-cache
    run ro "$xor"
    n=$(grep -c "warning" "$tmp/ro.log")
    [ "$n" = 1 ] || { echo "$n warnings, not 1:"; cat "$tmp/ro.log"; exit 1; }
    says ro "nnc: warning: cannot write the compile cache /dev/null/nnc-cache: Not a directory; compiling without it"
    says ro "(cache off:"
    grep -q '"train_loss"' "$tmp/ro.m" || { echo "no metrics"; exit 1; }
    echo "an unwritable cache: one warning, trained" ;;
evict)
    run a "$xor"
    one=$(ls -l "$NNC_CACHE_DIR"/*.nncobj | awk '{print $5}')
    export NNC_CACHE_MAX=$((one * 5 / 2))
    a=$(ls "$NNC_CACHE_DIR")
    run b --batch 2 "$xor"
    b=$(ls -t "$NNC_CACHE_DIR" | head -1)
    [ "$(entries)" = 2 ] || { echo "want 2 entries"; ls -la "$NNC_CACHE_DIR"; exit 1; }
    sleep 0.05
    run a2 "$xor"
    says a2 "cache hit"
    sleep 0.05
    run c --batch 3 "$xor"
    says c "evicted $b (over the cap of $NNC_CACHE_MAX bytes)"
    [ "$(entries)" = 2 ] || { echo "want 2 entries after eviction"; ls -la "$NNC_CACHE_DIR"; exit 1; }
    [ -f "$NNC_CACHE_DIR/$a" ] || { echo "A (used last but one) was evicted"; exit 1; }
    [ ! -f "$NNC_CACHE_DIR/$b" ] || { echo "B (least recently used) stayed"; exit 1; }
    echo "cap of $NNC_CACHE_MAX bytes: B evicted, A (hit since) and C kept" ;;
predict)
    # predict NAME [OPTION...]: xor's forward pass on four inputs to $tmp/NAME.npy, stderr to $tmp/NAME.log
    predict() {
        name=$1
        shift
        "$nnc" --predict -v --input "x=$tmp/x.csv" -o "$tmp/$name.npy" "$@" "$xor" 2>"$tmp/$name.log" \
            || { echo "predict $name failed:"; cat "$tmp/$name.log"; exit 1; }
    }
    printf '0,0\n0,1\n1,0\n1,1\n' > "$tmp/x.csv"
    predict cold
    says cold "(cache miss:"
    [ "$(entries)" = 1 ] || { echo "want 1 entry after --predict"; ls -la "$NNC_CACHE_DIR"; exit 1; }
    predict warm
    says warm "(cache hit:"
    cmp "$tmp/cold.npy" "$tmp/warm.npy" || { echo "a hit predicts other numbers than the miss"; exit 1; }
    predict off --no-cache
    says off "(cache off:"
    cmp "$tmp/cold.npy" "$tmp/off.npy" || { echo "--no-cache predicts other numbers"; exit 1; }
    echo "--predict: miss, then a hit with the same bytes out; $(grep -o 'compiled in [0-9.]* ms' "$tmp/warm.log") warm" ;;
dump)
    # dump NAME STAGE: xor's --dump-ir=STAGE -v to $tmp/NAME.out, stderr to $tmp/NAME.log
    dump() {
        "$nnc" --dump-ir="$2" -v "$xor" >"$tmp/$1.out" 2>"$tmp/$1.log" || { echo "dump $1 failed:"; cat "$tmp/$1.log"; exit 1; }
    }
    dump asm_cold asm
    says asm_cold "(cache miss)"
    dump asm_warm asm
    says asm_warm "(cache hit)"
    cmp "$tmp/asm_cold.out" "$tmp/asm_warm.out" || { echo "a hit prints other assembly"; exit 1; }
    grep -q "^xor:" "$tmp/asm_warm.out" || { echo "no entry xor in the assembly of the hit"; exit 1; }
    dump llvm_cold llvm
    says llvm_cold "(cache miss)"
    dump llvm_warm llvm
    says llvm_warm "(cache hit)"
    cmp "$tmp/llvm_cold.out" "$tmp/llvm_warm.out" || { echo "a hit prints other LLVM IR"; exit 1; }
    grep -q "^define void @xor(" "$tmp/llvm_warm.out" || { echo "no entry xor in the LLVM IR of the hit"; exit 1; }
    NNC_LLVM_ARGS=-x86-asm-syntax=intel dump intel asm
    says intel "(cache miss)"
    grep -q "qword ptr" "$tmp/intel.out" || { echo "NNC_LLVM_ARGS did not reach the dump (a stale hit?)"; exit 1; }
    # nnc's own LLVM option (cg_llvm_options: -disable-lsr) is in effect, and
    # NNC_LLVM_ARGS comes after it: given again, the same code; undone, other code
    NNC_LLVM_ARGS=-disable-lsr dump nolsr asm
    says nolsr "(cache miss)"
    cmp "$tmp/asm_cold.out" "$tmp/nolsr.out" || { echo "-disable-lsr is not nnc's default (other assembly with it)"; exit 1; }
    NNC_LLVM_ARGS=-disable-lsr=false dump lsr asm
    says lsr "(cache miss)"
    ! cmp -s "$tmp/asm_cold.out" "$tmp/lsr.out" || { echo "NNC_LLVM_ARGS=-disable-lsr=false did not restore LSR"; exit 1; }
    # emit NAME [OPTION...]: xor's --emit=asm -v to $tmp/NAME.s, stderr to $tmp/NAME.log
    emit() {
        name=$1
        shift
        "$nnc" --emit=asm -v -o "$tmp/$name.s" "$@" "$xor" 2>"$tmp/$name.log" \
            || { echo "emit $name failed:"; cat "$tmp/$name.log"; exit 1; }
    }
    emit emit_cold
    says emit_cold "(cache miss)"
    emit emit_warm
    says emit_warm "(cache hit)"
    cmp "$tmp/emit_cold.s" "$tmp/emit_warm.s" || { echo "a hit writes other assembly"; exit 1; }
    emit emit_off --no-cache
    says emit_off "(cache off)"
    cmp "$tmp/emit_cold.s" "$tmp/emit_off.s" || { echo "--no-cache writes other assembly"; exit 1; }
    grep -q "nnc_train_step" "$tmp/emit_warm.s" || { echo "no train entry in the emitted assembly"; exit 1; }
    echo "--dump-ir=asm|llvm and --emit=asm: miss, then a hit with the same text; NNC_LLVM_ARGS in the key" ;;
agree)
    "$nnc" --jit -v --steps 1 --data "$root/examples" "$xor" >/dev/null 2>"$tmp/jit.log" \
        || { echo "--jit failed:"; cat "$tmp/jit.log"; exit 1; }
    "$nnc" --emit=asm --no-cache -o "$tmp/xor.s" "$xor" || exit 1
    mc=${LLVM_MC:-llvm-mc-19}
    command -v "$mc" >/dev/null || { echo "no LLVM assembler at '$mc' (LLVM_MC)"; exit 1; }
    "$mc" -filetype=obj -triple=x86_64-pc-linux-gnu "$tmp/xor.s" -o "$tmp/emitted.o" \
        || { echo "the emitted assembly does not assemble"; exit 1; }
    # the cache's object entry: a 96-byte header, then u32 count and per
    # object u64 length and bytes (compiler/util/cache.h, drive/compile.c);
    # text entries are not ELF
    mkdir "$tmp/run"
    /usr/bin/python3 - "$NNC_CACHE_DIR" "$tmp/run" <<'PY' || exit 1
import glob, struct, sys
k = 0
for path in glob.glob(sys.argv[1] + "/*.nncobj"):
    b = open(path, "rb").read()[96:]
    if b[12:16] != b"\x7fELF":
        continue
    at = 4
    for _ in range(struct.unpack_from("<I", b, 0)[0]):
        n = struct.unpack_from("<Q", b, at)[0]
        open(f"{sys.argv[2]}/obj{k}.o", "wb").write(b[at + 8:at + 8 + n])
        at, k = at + 8 + n, k + 1
sys.exit(0 if k > 1 else f"{k} objects in the cache (one entry of several modules expected)")
PY
    # sizes: function name and size, sorted
    sizes() { nm -S --defined-only "$@" | awk 'NF == 4 && ($3 == "t" || $3 == "T") {print $4, $2}' | sort; }
    sizes "$tmp"/run/*.o > "$tmp/run.sizes"
    sizes "$tmp/emitted.o" > "$tmp/emitted.sizes"
    grep -q "^nnc_train_step.body0\." "$tmp/run.sizes" || { echo "no kernel body in the cached objects"; exit 1; }
    diff "$tmp/run.sizes" "$tmp/emitted.sizes" || { echo "--emit=asm is not the code that runs (sizes above)"; exit 1; }
    grep -c "^# ---- module" "$tmp/xor.s" | grep -qx "$(ls "$tmp/run" | wc -l)" \
        || { echo "--emit=asm does not name as many modules as run"; exit 1; }
    echo "--emit=asm: $(wc -l < "$tmp/run.sizes") functions, each of the size it has in the cached objects" ;;
*)
    echo "unknown case $case"; exit 2 ;;
esac
