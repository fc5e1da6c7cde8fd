#!/usr/bin/env bash
# nncc's main job, end to end: compile the bundled CNN to C, build the
# classifier around it, and classify the 10,000 Fashion-MNIST test images.
# usage: models/fashion_mnist_cnn/demo.sh [BUILD_DIR]   (nncc must be built)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
out=$build/demo
mkdir -p "$out"
"$build/nncc" "$here/cnn.onnx" -o "$out/cnn.c" --prefix cnn
# AVX2/FMA when the CPU has them; not -march=native (GCC 12 miscompiles
# constant memcpy under its AVX-512 tunings: see docs/design.md).
simd=""
grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && simd="-mavx2 -mfma"
${CC:-cc} -std=c11 -O2 $simd -fopenmp -Wall -Wextra -Werror \
  -I"$out" -I"$root/runtime" \
  "$out/cnn.c" "$here/classify.c" "$root/runtime/idx.c" -lz -lm -o "$out/classify"
"$out/classify" "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz"
