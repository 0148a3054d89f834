#!/bin/sh
# clang_ubsan.sh NNC ROOT — the whole runtime under clang's UBSan (issue 17):
# runtime/*.c built with clang -fsanitize=undefined (clang checks what gcc's
# UBSan does not, such as an offset added to a NULL pointer) into a
# libnncrt.a of its own, then, each stopping at the first report:
#   - the runtime's CUnit suites (tests/runtime, all but pool's timings)
#     against it, among them checkpoint's refused headers (safetensors.c once
#     made NULL + offset of a refused header's memory, which only clang
#     reports: checkpoint.refused_no_null_offset);
#   - the xor trainer (its generated main and the runtime built by clang
#     with UBSan): --save, --load, --metrics on 2 threads and 1, and a
#     refused checkpoint whose tensors overlap;
#   - the text trainer of tests/jit/abcd.nn: text windows, --sample;
#   - the embedding library's calls (tests/embed/faults.c through
#     tests/embed/tiny.nn's object, without injected failures).
# Skipped (77) without clang.  A copy of nnc sits beside the UBSan libnncrt.a
# (nnc links the runtime it finds beside itself) and CC is clang with the
# sanitizer, so a trainer is built exactly as a user's, only sanitized.
nnc=$1 root=$2
command -v clang >/dev/null || { echo "clang is not installed; skipped"; exit 77; }
pkg-config --exists cunit || { echo "CUnit is not installed; skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
san="-fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# the runtime at -O1, as the fuzz build,
# its files in two lists built side by side
mkdir "$tmp/rt"
i=0
for f in "$root"/runtime/*.c; do
    echo "$f" >> "$tmp/list$((i % 2))"
    i=$((i + 1))
done
build_list() {
    while read -r f; do
        # shellcheck disable=SC2086
        clang -c -O1 -g -fPIC -pthread $san -DNNC_VERSION='"ubsan"' -I "$root/runtime/include" -I "$root/runtime" \
            -o "$tmp/rt/$(basename "$f" .c).o" "$f" || return 1
    done < "$1"
}
build_list "$tmp/list0" &
half=$!
build_list "$tmp/list1" || fail "building the runtime with clang"
wait $half || fail "building the runtime with clang"
ar rcs "$tmp/libnncrt.a" "$tmp"/rt/*.o || fail "ar"

# its own suites, but for pool (its timing bounds are for the release build;
# the trainers below run the pool on 2 threads) and the real data sets (NNC_DATA
# empty: loading MNIST under UBSan is most of a minute, and the readers' code
# is the synthetic files' too)
mkdir "$tmp/nodata"
# shellcheck disable=SC2086
clang -O1 -g -pthread $san -DNNC_DATA_DEFAULT="\"$tmp/nodata\"" -I "$root/runtime/include" \
    -I "$root/runtime" "$root"/tests/runtime/*.c "$tmp/libnncrt.a" -lcunit -lz -ldl -lm \
    -o "$tmp/runtime_tests" || fail "building the runtime's suites"
for src in "$root"/tests/runtime/test_*.c; do  # every suite (test_NAME.c is suite NAME) but pool's timings
    suite=$(basename "$src" .c)
    suite=${suite#test_}
    [ "$suite" = pool ] && continue
    NNC_DATA="$tmp/nodata" "$tmp/runtime_tests" $suite > "$tmp/suites" 2>&1 \
        || { cat "$tmp/suites"; fail "runtime.$suite under clang's UBSan"; }
    grep -q 'runtime error' "$tmp/suites" && { cat "$tmp/suites"; fail "UBSan report in runtime.$suite"; }
    printf 'runtime.%s: %s\n' $suite "$(grep -E '^ *tests ' "$tmp/suites" | awk '{print $4 " of " $2 " tests passed"}')"
done

# trainers and a library built as nnc builds a user's, with this runtime
cp "$nnc" "$tmp/nnc"
# (not into nnc's relocatable merge of its objects, cc -r: the sanitizer's
# runtime would go into it and then again into the trainer)
printf '#!/bin/sh\ncase " $* " in *" -r "*) exec clang "$@" ;; esac\nexec clang %s "$@"\n' "$san" > "$tmp/cc"
chmod +x "$tmp/cc"
export CC="$tmp/cc"
# no report may pass unseen: every run's stderr is searched too
clean() { ! grep -q 'runtime error' "$1" || { cat "$1"; fail "UBSan report: $2"; }; }
(cd "$tmp" && ./nnc -o "$tmp/xor" "$root/examples/xor.nn") || fail "nnc xor"
(cd "$root/examples" && "$tmp/xor" --threads 2 --steps 40 --save "$tmp/ck.safetensors" --metrics "$tmp/m") \
    > "$tmp/out" 2> "$tmp/err" || { cat "$tmp/err"; fail "xor trainer"; }
clean "$tmp/err" "xor trainer"
(cd "$root/examples" && "$tmp/xor" --threads 1 --steps 45 --load "$tmp/ck.safetensors" --save "$tmp/ck2.safetensors") \
    > "$tmp/out" 2> "$tmp/err" || { cat "$tmp/err"; fail "xor trainer --load"; }
clean "$tmp/err" "xor trainer --load"
grep -q '"step": *40' "$tmp/m" || { cat "$tmp/m"; fail "xor --metrics has no step 40"; }
# a refused checkpoint: its header's tensors overlap (the NULL + offset path)
printf '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}' \
    > "$tmp/h"
python3 -c 'import struct,sys; h=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(struct.pack("<Q",len(h))+h+bytes(8))' \
    "$tmp/h" > "$tmp/bad.safetensors" || fail "writing a refused checkpoint"
(cd "$root/examples" && "$tmp/xor" --steps 1 --load "$tmp/bad.safetensors") > "$tmp/out" 2> "$tmp/err"
status=$?
clean "$tmp/err" "xor --load of overlapping tensors"
if [ "$status" != 1 ] || ! grep -q "overlap tensor 'a'" "$tmp/err"; then
    cat "$tmp/err"
    fail "overlap: exit $status, want 1 naming tensor 'a'"
fi

(cd "$tmp" && ./nnc -o "$tmp/abcd" "$root/tests/jit/abcd.nn") || fail "nnc abcd"
(cd "$root/tests/jit" && "$tmp/abcd" --threads 2 --sample bc --length 16) > "$tmp/out" 2> "$tmp/err" \
    || { cat "$tmp/err"; fail "abcd trainer"; }
clean "$tmp/err" "abcd trainer --sample"

(cd "$tmp" && ./nnc --emit=obj --batch 16 "$root/tests/embed/tiny.nn") || fail "nnc --emit=obj"
"$nnc" --export-step="$tmp/ck.safetensors" "$root/tests/embed/tiny.nn" || fail "export"
# shellcheck disable=SC2086
clang -O1 $san -I "$tmp" -I "$root/runtime/include" -I "$root/runtime" "$root/tests/embed/faults.c" "$tmp/tiny.o" \
    "$tmp/libnncrt.a" -lz -lpthread -ldl -lm -o "$tmp/faults" || fail "linking faults.c"
"$tmp/faults" "$tmp" > "$tmp/out" 2> "$tmp/err" || { cat "$tmp/out" "$tmp/err"; fail "the library's calls"; }
clean "$tmp/err" "the library's calls"
echo "clang UBSan: the runtime's suites, the xor and abcd trainers and the library ran without a report"
