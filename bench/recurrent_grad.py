"""Backpropagation through time: nncc's RecurrentGrad kernel alone, on realistic sizes.

One nncc.RecurrentGrad node (which runs the forward again, then back through time) in
a model of its own, compiled and timed by `nncc run --repeat N --threads T` (the median
of N runs; NNCC_TEST_INTERNAL_OPS=1 lets the model use the internal op). Beside it,
PyTorch's torch.nn.LSTM/GRU/RNN forward + backward on the same sizes and threads (the
median of N runs after a warm-up), for scale. Float32, time first (ONNX layout 0).

With --baseline OTHER_NNCC (another build, e.g. of an earlier commit) its kernel is
timed too, interleaved with this one's, so both see the same machine load.

usage: /work/main/.venv/bin/python bench/recurrent_grad.py [--nncc build/nncc]
       [--baseline OTHER_NNCC] [--kinds LSTM GRU RNN] [--steps 35] [--batch 64]
       [--units 128] [--features 128] [--threads 1 2] [--repeat 10]
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
import torch
from onnx import helper

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def kernel_model(kind, S, B, I, H):
    """RecurrentGrad(X, W, R, B, h0, c0, dY, dY_h, dY_c) with every input fed."""
    G = GATES[kind]
    shapes = {"x": [S, B, I], "w": [1, G * H, I], "r": [1, G * H, H], "b": [1, 2 * G * H],
              "h0": [1, B, H], "dy": [S, 1, B, H], "dyh": [1, B, H]}
    if kind == "LSTM":
        shapes.update(c0=[1, B, H], dyc=[1, B, H])
    ins = ["x", "w", "r", "b", "h0", "c0" if kind == "LSTM" else "", "dy", "dyh",
           "dyc" if kind == "LSTM" else ""]
    outs = ["dx", "dw", "dr", "db", "dh0", "dc0" if kind == "LSTM" else "", "work"]
    node = helper.make_node("RecurrentGrad", ins, outs, domain="nncc", kind=kind,
                            hidden_size=H, direction="forward",
                            linear_before_reset=1 if kind == "GRU" else 0)
    f = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        [node], "bptt", [helper.make_tensor_value_info(n, f, s) for n, s in shapes.items()],
        [helper.make_tensor_value_info(n, f, None) for n in outs[:5] if n])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("nncc", 1)])
    model.ir_version = 8
    return model, shapes


def time_nncc(nncc, kind, sizes, threads, repeat, work):
    model, shapes = kernel_model(kind, *sizes)
    path = os.path.join(work, kind + ".onnx")
    onnx.save(model, path)
    rng = np.random.default_rng(0)
    args = [nncc, "run", path, "--repeat", str(repeat), "--threads", str(threads)]
    for name, shape in shapes.items():
        f = os.path.join(work, name + ".npy")
        np.save(f, (rng.standard_normal(shape) * 0.3).astype(np.float32))
        args += ["--input", f"{name}={f}"]
    env = dict(os.environ, NNCC_TEST_INTERNAL_OPS="1", OMP_WAIT_POLICY="passive")
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    m = re.search(r"median_ms=([0-9.]+)", p.stdout + p.stderr)
    if p.returncode != 0 or not m:
        sys.exit(f"nncc run failed: {p.stderr.strip()[-2000:]}")
    return float(m.group(1))


def time_torch(kind, sizes, threads, repeat):
    S, B, I, H = sizes
    torch.set_num_threads(threads)
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN": torch.nn.RNN}[kind]
    net = cls(I, H)
    x = torch.randn(S, B, I, requires_grad=True)
    times = []
    for k in range(repeat + 1):
        t0 = time.perf_counter()
        y, _ = net(x)
        y.backward(torch.ones_like(y))
        if k:  # the first run warms up
            times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", default=os.path.join(os.path.dirname(__file__), "..", "build", "nncc"))
    ap.add_argument("--baseline")
    ap.add_argument("--kinds", nargs="+", default=["LSTM", "GRU", "RNN"])
    ap.add_argument("--steps", type=int, default=35)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--units", type=int, default=128)
    ap.add_argument("--features", type=int, default=128)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=10)
    a = ap.parse_args()
    sizes = (a.steps, a.batch, a.features, a.units)
    print(f"steps {a.steps}, batch {a.batch}, features {a.features}, units {a.units}; "
          f"median of {a.repeat} runs")
    base = f" {'baseline ms':>12}" if a.baseline else ""
    print(f"{'kind':<5} {'threads':>7} {'nncc ms':>9}{base} {'torch fwd+bwd ms':>17}")
    with tempfile.TemporaryDirectory(prefix="bench_bptt_") as work:
        for kind in a.kinds:
            for t in a.threads:
                ms = time_nncc(os.path.abspath(a.nncc), kind, sizes, t, a.repeat, work)
                if a.baseline:
                    bms = time_nncc(os.path.abspath(a.baseline), kind, sizes, t, a.repeat, work)
                    base = f" {bms:>12.1f}"
                ref = time_torch(kind, sizes, t, a.repeat)
                print(f"{kind:<5} {t:>7} {ms:>9.1f}{base} {ref:>17.1f}", flush=True)


if __name__ == "__main__":
    main()
