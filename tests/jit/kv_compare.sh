# kv_compare.sh — sourced by tests/jit/train.sh (jit.kv) and tests/aot/exe.sh
# (aot.kv): sampling with the key/value cache writes byte for byte the text
# sampling without it writes.
#
# kv_compare NAME CMD...: CMD (nnc --jit with the model, or a trainer) samples
# 200 tokens at temperature 1 from $tmp/NAME.safetensors, from a prompt longer
# than the window, once with the cache (NNC_SAMPLE_COMPARE=1: every logit
# against the window recomputed, within 1e-4) and once with --no-kv-cache;
# -v must say which way ran each time.  Returns non-zero, saying why, if not.
kv_prompt="the fish swam on the pond.
the cat sat on the mat.
the dog ran on the log.
the bird flew on the tree.
the"
kv_compare() {
    kv_name=$1
    shift
    NNC_SAMPLE_COMPARE=1 "$@" -v --load "$tmp/$kv_name.safetensors" --sample "$kv_prompt" --length 200 \
        >"$tmp/cached" 2>"$tmp/log" || { cat "$tmp/log"; echo "$kv_name: --sample failed"; return 1; }
    grep '^sampled' "$tmp/log"
    grep -q '^sampled 200 tokens in .* (key/value cache)$' "$tmp/log" \
        || { cat "$tmp/log"; echo "$kv_name: not sampled with the cache"; return 1; }
    kv_d=$(sed -n 's/^key\/value cache: the largest difference of a logit from the window recomputed is //p' "$tmp/log")
    echo "$kv_name: largest logit difference $kv_d (at most 1e-4)"
    echo "$kv_d" | grep -Eq '^[0-9.]+(e-?[0-9]+)?$' && awk -v d="$kv_d" 'BEGIN { exit !(d <= 1e-4) }' \
        || { echo "$kv_name: logits differ by '$kv_d'"; return 1; }
    "$@" -v --no-kv-cache --load "$tmp/$kv_name.safetensors" --sample "$kv_prompt" --length 200 >"$tmp/window" \
        2>"$tmp/log" || { cat "$tmp/log"; echo "$kv_name: --no-kv-cache failed"; return 1; }
    grep '^sampled' "$tmp/log"
    grep -q '^sampled 200 tokens in .* (no key/value cache: each token recomputes the window)$' "$tmp/log" \
        || { cat "$tmp/log"; echo "$kv_name: --no-kv-cache did not say so"; return 1; }
    [ "$(wc -c <"$tmp/cached")" -gt 300 ] || { echo "$kv_name: too little text"; return 1; }
    cmp "$tmp/cached" "$tmp/window" || { diff "$tmp/cached" "$tmp/window"; echo "$kv_name: the cache changes the text"; return 1; }
}
