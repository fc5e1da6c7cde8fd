#!/usr/bin/env bash
# Real architectures through `nncc run`, compared with onnxruntime: the bundled
# CNN, and an MLP 784-500-250-10, ResNet-18 and SqueezeNet exported from torch
# with seeded random weights (models/zoo/export_zoo.py, at test time).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nncc=${1:?usage: zoo.sh NNCC [PYTHON]}
py=${2:-$root/.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" "$root/models/zoo/export_zoo.py" "$tmp" || exit 1
pass=0 fail=0
for m in "$root/models/fashion_mnist_cnn/cnn.onnx" "$tmp/mlp.onnx" "$tmp/resnet18.onnx" "$tmp/squeezenet.onnx"; do
  echo "== $(basename "$m")"
  if "$py" "$root/tests/e2e/compare_ort.py" --nncc "$nncc" "$m"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
