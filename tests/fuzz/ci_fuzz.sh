#!/usr/bin/env bash
# The .nn parser fuzzer in CI (ctest fuzz_nn_ci): builds tests/fuzz/fuzz_nn.c
# with clang, libFuzzer, ASan and UBSan in its own build tree (the main build
# may use gcc), replays the seed corpus and every past finding, then fuzzes
# for SECONDS more from a scratch copy of the corpus, so the source tree is
# never written. A finding fails the test and is printed; keep it in
# tests/fuzz/regressions_nn/ once fixed.
#
#   tests/fuzz/ci_fuzz.sh SOURCE_DIR BUILD_DIR [SECONDS]
set -euo pipefail
src=$1 build=$2 seconds=${3:-60}
cc=${NNCC_FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null; then
  echo "ci_fuzz: no $cc: install clang and libclang-rt-14-dev (.ci/setup does)" >&2
  exit 1
fi
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DNNCC_FUZZ=ON >/dev/null
cmake --build "$build" --target fuzz_nn -j2 >/dev/null
fuzz=$build/tests/fuzz_nn
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/found"

if ! $fuzz -runs=0 "$src/tests/fuzz/regressions_nn" "$src/tests/fuzz/corpus_nn" >"$work/replay" 2>&1; then
  tail -n 60 "$work/replay"
  echo "ci_fuzz: replaying the corpus and regressions failed" >&2
  exit 1
fi
tail -n 1 "$work/replay"
cp "$src"/tests/fuzz/corpus_nn/* "$work/corpus/"
if ! $fuzz -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
     -dict="$src/tests/fuzz/nn.dict" -artifact_prefix="$work/found/" \
     "$work/corpus" >"$work/log" 2>&1; then
  tail -n 60 "$work/log"
  for f in "$work"/found/*; do
    echo "=== finding $(basename "$f") ($(wc -c <"$f") bytes), as C string:"
    od -An -c "$f" | head -n 40
  done
  exit 1
fi
grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+.*DONE)" "$work/log" || true
echo "ci_fuzz: ${seconds}s without findings"
