#!/bin/sh
# run.sh NNC ROOT KIND MODEL.nn — export one training step of MODEL with
# nnc --export-step (batch 4, seed 7) and check it against torch with
# torch_parity.py KIND.  Exit status is the script's: 0 agree, 1 differ,
# 77 skipped (no torch for /usr/bin/python3).
nnc=$1 root=$2 kind=$3 model=$4
tmp=$(mktemp "${TMPDIR:-/tmp}/nnc-parity.XXXXXX") || exit 1
trap 'rm -f "$tmp"' EXIT
cd "$root" || exit 1
"$nnc" --export-step="$tmp" --batch 4 --seed 7 "$model" || { echo "nnc --export-step failed"; exit 1; }
/usr/bin/python3 "$root/tests/parity/torch_parity.py" "$kind" "$tmp"
