#!/bin/sh
# readme.sh NNC ROOT — the example in README.md is a correct program:
# the first ``` block of the file is checked with nnc --check.
nnc=$1 root=$2
tmp=$(mktemp --suffix=.nn)
trap 'rm -f "$tmp"' EXIT
awk '/^```/ { n++; next } n == 1 { print }' "$root/README.md" > "$tmp"
[ -s "$tmp" ] || { echo "no code block in README.md"; exit 1; }
NO_COLOR=1 "$nnc" --check "$tmp"
