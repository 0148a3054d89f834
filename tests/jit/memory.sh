#!/bin/sh
# memory.sh NNC ROOT [sanitized] — what cannot fit is refused before it is allocated,
# naming the bytes wanted and what the machine (or ulimit) leaves; exit 1.
#   1. a train block's batch of 1,048,576 whose activations take 771 GiB: a
#      located error at the batch before any code is generated, and a note
#      on the largest batch that fits
#   2. --batch 100000 of an MLP (6.1 GiB) under ulimit -v 4000000: located
#      at the model, the limit named
#   3. a text file of 1 TiB (sparse: no disk used) is refused by size before
#      it is read: 5 TiB for the text and its token ids
#   4. the compiler's own memory: a GPT 256 blocks deep (about 1.2 GiB to
#      compile) under NNC_TEST_MEMORY (the test hook of rt_memory_available:
#      as if the process could take only that many bytes more) is refused at
#      its repeat, with --jit and --emit=obj, before it is compiled
#   5. a causal attention over 16,384 positions compiles to its plan (it was
#      refused: the mask was a table of 2 GiB in the compiler), and --jit is
#      refused at the batch: 258 GiB of training memory
#   6. --predict of a pooling whose windows take 256 GiB at --batch 1 (the
#      slabs hold 16 examples): refused at the model as --jit refuses it,
#      not "out of memory" when the slab is allocated, and without an
#      optimizer state (a prediction has none); its compile under
#      NNC_TEST_MEMORY=1000 counts the prediction's 6 operations, at its
#      dense, not the loss's or the metric's, and says nothing fits
#   7. --gradcheck and --export-step, whose reference interpreter holds every
#      value of the step in f64: 50 million inputs an example under
#      NNC_TEST_MEMORY are refused at the largest value, with the batch that
#      fits, and no file is written (both were "the compiler crashed", exit
#      3, when malloc failed); --export-step's folder is checked before that.  The estimate is the run's peak: 13.4 and 17.9
#      GiB for 300 million inputs at batch 2, against 13.5 and 17.9 GiB of
#      maximum resident memory measured (session 37)
#   8. past that estimate an allocation of the interpreter can still fail
#      (NNC_INTERP_FAIL_ALLOC=N fails the Nth of each evaluator): a located
#      error, exit 1, no file, under --gradcheck, --export-step and --predict
#      --trace (main.c reads the variable and hands it to each); every
#      allocation of --export-step's run once
# What the machine has varies: those numbers are replaced by N and B.
# Under ASan (sanitized) case 2 is skipped: ASan reserves terabytes of
# address space for its shadow memory, which no ulimit -v allows.
set -u
nnc=$1 root=$2 sanitized=${3:-}
dir=$root/tests/jit/memory
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export NNC_CACHE_DIR="$tmp/cache"
fail=0
norm() { sed -E 's/(this machine has|leaves this process) [0-9.]+ [KMGT]iB/\1 N/; s/at most [0-9]+ fits/at most B fits/'; }
check() {  # check NAME STATUS: the log normalised against the expected text in $tmp/want
    if [ "$2" != 1 ] || ! norm <"$tmp/log" | diff -u "$tmp/want" - >&2; then
        echo "memory.sh: case $1 failed (exit $2)" >&2
        cat "$tmp/log" >&2
        fail=1
    fi
}

cd "$dir" || exit 1
"$nnc" --jit --color=never huge_batch.nn >"$tmp/log" 2>&1
status=$?
cat >"$tmp/want" <<'EOF'
huge_batch.nn:15:17: error: the training step needs 771.4 GiB of memory at batch 1048576 (activations and inputs 771.2 GiB, parameters 198.8 MiB, optimizer state 128 bytes); this machine has N
    15 |     batch     = 1048576
       |                 ^~~~~~~
huge_batch.nn: note: a batch of at most B fits
EOF
check huge_batch $status

if [ "$sanitized" != sanitized ]; then
    (ulimit -v 4000000 && exec "$nnc" --jit --color=never --batch 100000 mlp.nn) >"$tmp/log" 2>&1
    status=$?
    cat >"$tmp/want" <<'EOF'
mlp.nn:3:7: error: the training step needs 6.1 GiB of memory at batch 100000 (--batch) (activations and inputs 6.0 GiB, parameters 28.3 MiB, optimizer state 128 bytes); ulimit -v leaves this process N
    3 | model mlp {
      |       ^~~
mlp.nn: note: a batch of at most B fits
EOF
    check ulimit $status
fi

# the text model of the jit tests, its data a sparse file of 1 TiB
cp "$root/tests/jit/abcd.nn" "$tmp/m.nn"
if truncate -s 1T "$tmp/abcd.txt" 2>/dev/null; then
    (cd "$tmp" && "$nnc" --jit --color=never --steps 1 m.nn) >"$tmp/log" 2>&1
    status=$?
    cat >"$tmp/want" <<'EOF'
nnc: error: ./abcd.txt (1.0 TiB; the text and its token ids) needs 5.0 TiB of memory; this machine has N
EOF
    check text $status
fi
# 4: the compile's own memory, estimated from the lowered forward pass
cat >"$tmp/want" <<'EOF'
deep.nn:16:9: error: compiling model 'deep' needs about 1.2 GiB of memory (20771 operations once lowered, 20736 of them from this call); NNC_TEST_MEMORY leaves this process N
    16 |     h = repeat(L, block, h)
       |         ^~~~~~~~~~~~~~~~~~~
deep.nn: note: each operation takes about 56.0 KiB to compile; a model of at most B fits
EOF
NNC_TEST_MEMORY=500000000 "$nnc" --jit --color=never deep.nn >"$tmp/log" 2>&1
check deep_jit $?
NNC_TEST_MEMORY=500000000 "$nnc" --emit=obj --color=never -o "$tmp/deep.o" deep.nn >"$tmp/log" 2>&1
check deep_obj $?
if [ -e "$tmp/deep.o" ]; then
    echo "memory.sh: deep.o written after a refusal" >&2
    fail=1
fi

# 5: a 16,384-token causal attention
if ! "$nnc" --dump-ir=plan long_context.nn >"$tmp/plan" 2>&1 || ! grep -q '^slabs: ' "$tmp/plan"; then
    echo "memory.sh: long_context.nn did not compile to its plan" >&2
    cat "$tmp/plan" >&2
    fail=1
fi
"$nnc" --jit --color=never long_context.nn >"$tmp/log" 2>&1
status=$?
cat >"$tmp/want" <<'EOF'
long_context.nn:20:17: error: the training step needs 257.8 GiB of memory at batch 8 (activations and inputs 257.8 GiB, parameters 8.3 MiB, optimizer state 16.6 MiB); this machine has N
    20 |     batch     = 8
       |                 ^
long_context.nn: note: not even a batch of one fits
EOF
check long_context $status

# 6: --predict checks the memory of its forward-only run
"$nnc" --predict --color=never --batch 1 --input x=1,2 pool.nn >"$tmp/log" 2>&1
status=$?
cat >"$tmp/want" <<'EOF'
pool.nn:3:7: error: the prediction needs 256.0 GiB of memory at batch 1 (--batch) (activations and inputs 256.0 GiB, parameters 64 bytes); this machine has N
    3 | model pool {
      |       ^~~~
pool.nn: note: not even a batch of one fits
EOF
check predict $status
# its compile: only what the prediction runs is counted and pointed at (the
# loss and the metric of scored.nn lower to more than its dense); a limit
# below what any compile takes is said so, not "a model of at most 0"
NNC_TEST_MEMORY=1000 "$nnc" --predict --color=never --no-cache --input x=1,2,3,4 scored.nn >"$tmp/log" 2>&1
status=$?
cat >"$tmp/want" <<'EOF'
scored.nn:6:9: error: compiling model 'scored' needs about 85.3 MiB of memory (6 operations once lowered, 4 of them from this call); NNC_TEST_MEMORY leaves this process 1000 bytes
    6 |     y = dense(x, 3)
      |         ^~~~~~~~~~~
scored.nn: note: compiling takes about 85.0 MiB before the first operation and 56.0 KiB each; not even a model of one operation fits
EOF
check predict_compile $status

# 7: the reference interpreter's memory
cat >"$tmp/want" <<'EOF'
interp.nn:5:5: error: --gradcheck needs 3.0 GiB of memory at batch 2: the reference interpreter holds every value of the step, 8 bytes an element, and the largest, f64[B,50000000], is made here; NNC_TEST_MEMORY leaves this process N
    5 |     input  x: f32[50000000]
      |     ^~~~~~~~~~~~~~~~~~~~~~~
interp.nn: note: a batch of at most B fits (--batch N)
EOF
NNC_TEST_MEMORY=2500000000 "$nnc" --gradcheck --color=never interp.nn >"$tmp/log" 2>&1
check interp_gradcheck $?
cat >"$tmp/want" <<'EOF'
interp.nn:5:5: error: --export-step needs 2.2 GiB of memory at batch 2: the reference interpreter holds every value of the step, 8 bytes an element, and the largest, f32[B,50000000], is made here; NNC_TEST_MEMORY leaves this process N
    5 |     input  x: f32[50000000]
      |     ^~~~~~~~~~~~~~~~~~~~~~~
interp.nn: note: a batch of at most B fits (--batch N)
EOF
NNC_TEST_MEMORY=2000000000 "$nnc" --export-step="$tmp/step.safetensors" --color=never interp.nn >"$tmp/log" 2>&1
check interp_export $?
if [ -e "$tmp/step.safetensors" ]; then
    echo "memory.sh: --export-step wrote its file after a refusal" >&2
    fail=1
fi
# the file's folder is checked first, before any work (it was checked when
# the step had run: 12 s and 3.4 GiB for 100 million inputs)
NNC_TEST_MEMORY=2000000000 "$nnc" --export-step="$tmp/no/such/step.safetensors" --color=never interp.nn >"$tmp/log" 2>&1
status=$?
echo "nnc: error: cannot write '$tmp/no/such/step.safetensors': No such file or directory" >"$tmp/want"
check interp_export_folder $status

# 8: past the estimate an allocation of the interpreter can still fail: an
# error at the value being made, exit 1 (it was abort(), exit 134)
cat >"$tmp/want" <<'EOF'
fault.nn:7:14: error: the reference interpreter ran out of memory: 96 bytes for the values of 'h.weight'
    7 |     h = tanh(dense(x, 4))
      |              ^~~~~~~~~~~
fault.nn: note: --gradcheck holds every value of the step in double; a smaller batch (--batch N) takes less
EOF
NNC_INTERP_FAIL_ALLOC=3 "$nnc" --gradcheck --color=never fault.nn >"$tmp/log" 2>&1
check fault_gradcheck $?
# the loss's evaluator makes 49 allocations in its first two runs: the 50th
# is the gradients' evaluator's own (the loss's 50th, when that one does not
# count, is at the dense in a later difference)
cat >"$tmp/want" <<'EOF'
gradcheck fault: f64, batch 2, loss 0.7103017576, central differences with h = 1e-06
each tensor: 3 random entries and one random direction; pass if relative error <= 1e-05 or absolute error <= 1e-08

parameter  shape            max abs err   max rel err  result
fault.nn:7:9: error: the reference interpreter ran out of memory: 8 bytes for the scratch of the operation made here
    7 |     h = tanh(dense(x, 4))
      |         ^~~~~~~~~~~~~~~~~
fault.nn: note: --gradcheck holds every value of the step in double; a smaller batch (--batch N) takes less
EOF
NNC_INTERP_FAIL_ALLOC=50 "$nnc" --gradcheck --color=never fault.nn >"$tmp/log" 2>&1
check fault_gradcheck_gradients $?
cat >"$tmp/want" <<'EOF'
fault.nn:8:9: error: the reference interpreter ran out of memory: 16 bytes for the scratch of the operation made here
    8 |     z = dense(h, 1)
      |         ^~~~~~~~~~~
EOF
NNC_INTERP_FAIL_ALLOC=20 "$nnc" --export-step="$tmp/step.safetensors" --color=never fault.nn >"$tmp/log" 2>&1
check fault_export $?
cat >"$tmp/want" <<'EOF'
fault.nn:7:9: error: the reference interpreter ran out of memory: 32 bytes for a value of tanh made here
    7 |     h = tanh(dense(x, 4))
      |         ^~~~~~~~~~~~~~~~~
EOF
NNC_INTERP_FAIL_ALLOC=15 "$nnc" --predict --trace --input x=1,2,3 --color=never fault.nn >"$tmp/log" 2>&1
check fault_trace $?
# every allocation of --export-step's run fails once, each an error with no
# file written, until N passes the last and the step is written
n=1
while [ $n -le 1000 ]; do
    NNC_INTERP_FAIL_ALLOC=$n "$nnc" --export-step="$tmp/step.safetensors" --color=never fault.nn >"$tmp/log" 2>&1
    status=$?
    [ $status = 0 ] && break
    if [ $status != 1 ] || [ -e "$tmp/step.safetensors" ] \
        || ! head -n 1 "$tmp/log" | grep -Eq '^fault.nn(:[0-9]+:[0-9]+)?: error: the reference interpreter ran out of memory: '; then
        echo "memory.sh: case 8: allocation $n failing: exit $status" >&2
        cat "$tmp/log" >&2
        fail=1
        break
    fi
    n=$((n + 1))
done
if [ $n -lt 20 ] || [ ! -s "$tmp/step.safetensors" ]; then
    echo "memory.sh: case 8: the run past allocation $n wrote no step" >&2
    fail=1
fi
exit $fail
