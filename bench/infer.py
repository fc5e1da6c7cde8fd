"""Inference speed, nncc against onnxruntime, side by side in one run.

For each model: the same seeded random inputs, the same thread count; nncc's
time is `nncc run --repeat N` (median of N runs after a warm-up, in the
generated program), onnxruntime's the median of N session.run calls after a
warm-up. Prints a table with the ratio (onnxruntime ms / nncc ms: above 1
means nncc is faster).

usage: bench/infer.py [--nncc build/nncc] [--threads 1 2] [--repeat 50] MODEL...
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort


def inputs_for(model, rng):
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        feeds[vi.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def time_ort(path, feeds, threads, repeat):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    sess.run(None, feeds)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def time_nncc(nncc, path, feeds, threads, repeat, tmp):
    args = [nncc, "run", path, "--repeat", str(repeat), "--threads", str(threads)]
    for name, value in feeds.items():
        f = os.path.join(tmp, f"{len(args)}.npy")
        np.save(f, value)
        args += ["--input", f"{name}={f}"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=1800,
                       env=dict(os.environ, OMP_WAIT_POLICY="passive"))
    m = re.search(r"median_ms=([0-9.]+)", r.stdout)
    if r.returncode != 0 or not m:
        sys.exit(f"nncc failed on {path}:\n{r.stderr}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", default="build/nncc")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    print(f"{'model':<24} {'threads':>7} {'nncc ms':>9} {'ort ms':>9} {'ort/nncc':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.models:
            feeds = inputs_for(onnx.load(path), np.random.default_rng(0))
            for t in args.threads:
                a = time_nncc(os.path.abspath(args.nncc), path, feeds, t, args.repeat, tmp)
                b = time_ort(path, feeds, t, args.repeat)
                print(f"{os.path.basename(path):<24} {t:>7} {a:>9.3f} {b:>9.3f} {b / a:>9.2f}")


if __name__ == "__main__":
    main()
