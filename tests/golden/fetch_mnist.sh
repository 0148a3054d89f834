#!/bin/sh
# fetch_mnist.sh ROOT — scripts/fetch-mnist finds MNIST through NNC_DATA
# without downloading, and prints that folder.  Skipped (77) without NNC_DATA.
root=$1
[ -n "$NNC_DATA" ] && [ -d "$NNC_DATA/mnist" ] || { echo "NNC_DATA has no mnist/; skipped"; exit 77; }
got=$("$root/scripts/fetch-mnist" 2>/dev/null) || { echo "fetch-mnist failed"; exit 1; }
[ "$got" = "$NNC_DATA" ] || { echo "fetch-mnist printed '$got', expected '$NNC_DATA'"; exit 1; }
echo "fetch-mnist uses $got"
