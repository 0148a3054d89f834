#!/bin/sh
# readme.sh NNC ROOT — the programs in README.md are correct: the first ```
# block of the file, and every ```nn block, each checked with nnc --check.
nnc=$1 root=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
awk '/^```/ { n++; next } n == 1 { print }' "$root/README.md" > "$dir/first.nn"
[ -s "$dir/first.nn" ] || { echo "no code block in README.md"; exit 1; }
awk -v dir="$dir" '/^```nn$/ { k++; f = sprintf("%s/nn%02d.nn", dir, k); printf "" > f; inb = 1; next }
                   /^```/    { inb = 0; next }
                   inb       { print > f }' "$root/README.md"
fail=0
for f in "$dir"/*.nn; do
    NO_COLOR=1 "$nnc" --check "$f" || { echo "README.md: the block in $(basename "$f") does not check"; fail=1; }
done
exit $fail
