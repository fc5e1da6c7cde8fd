#!/usr/bin/env bash
# README command 1's job: the accuracy of nncc's C on the 10,000 test images
# must match the one the training script recorded (onnxruntime) within 0.1%.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
out=$("$root/models/fashion_mnist_cnn/demo.sh" "$build")
echo "$out"
got=$(echo "$out" | sed -n 's/^accuracy: \([0-9.]*\).*/\1/p')
want=$(sed -n 's/^onnxruntime test accuracy: \([0-9.]*\).*/\1/p' "$root/models/fashion_mnist_cnn/ACCURACY.txt")
if awk -v g="$got" -v w="$want" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= 0.001) }'; then
  echo "nncc accuracy $got, recorded $want: match"
  echo "1 passed, 0 failed"
else
  echo "nncc accuracy '$got' differs from the recorded $want by more than 0.1%"
  echo "0 passed, 1 failed"
  exit 1
fi
