#!/usr/bin/env bash
# Real architectures through `nncc run`, compared with onnxruntime: the bundled
# CNN, and every model of models/zoo/export_zoo.py (MLP, ResNet-18, SqueezeNet,
# MobileNet-V2, EfficientNet-B0, ShuffleNet-V2, an LSTM tagger, a bidirectional
# GRU, a transformer encoder, a 1-D audio CNN, a small U-Net), exported from
# torch with seeded random weights at test time.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nncc=${1:?usage: zoo.sh NNCC [PYTHON]}
py=${2:-$root/.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" "$root/models/zoo/export_zoo.py" "$tmp" || exit 1
pass=0 fail=0
for m in "$root/models/fashion_mnist_cnn/cnn.onnx" "$tmp"/*.onnx; do
  echo "== $(basename "$m")"
  if "$py" "$root/tests/e2e/compare_ort.py" --nncc "$nncc" "$m"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
