#!/bin/sh
# install-ort.sh [DIR] — onnxruntime for tests/onnx: npm's onnxruntime-node
# 1.20.1 installed with --ignore-scripts into DIR (default $NNC_ORT_DIR, else
# ~/.cache/nnc-tests/onnxruntime-node-1.20.1; run.py looks there too).
#
# Why this version: its npm package carries the native library
# (bin/napi-v3/linux/x64: onnxruntime_binding.node, libonnxruntime.so.1)
# so nothing runs at install time and the tests then run offline.  Later
# packages (1.31.1 checked) ship no binary and fetch it in an install script,
# which --ignore-scripts skips.  Does nothing when DIR already has it.
set -eu
dir=${1:-${NNC_ORT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nnc-tests/onnxruntime-node-1.20.1}}
case $(uname -m) in
x86_64) arch=x64 ;;
aarch64) arch=arm64 ;;
*) echo "install-ort.sh: onnxruntime-node has no binary for $(uname -m)" >&2; exit 1 ;;
esac
binding=$dir/node_modules/onnxruntime-node/bin/napi-v3/linux/$arch/onnxruntime_binding.node
[ -f "$binding" ] && exit 0
command -v npm >/dev/null || { echo "install-ort.sh: no npm (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"private": true, "description": "onnxruntime for nnc tests/onnx"}' >package.json
npm install --ignore-scripts --no-audit --no-fund --loglevel=error onnxruntime-node@1.20.1
[ -f "$binding" ] || { echo "install-ort.sh: npm installed no $binding" >&2; exit 1; }
echo "install-ort.sh: onnxruntime-node 1.20.1 in $dir"
