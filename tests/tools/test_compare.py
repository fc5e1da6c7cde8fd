#!/usr/bin/env python3
"""`nncc run --trace` and tools/compare.py: the trace holds every computed
tensor in order, agreeing models compare clean, and a changed constant in the
middle of the graph is named as the first divergence."""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
COMPARE = os.path.join(HERE, "..", "..", "tools", "compare.py")


def model(bias_value):
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((8, 6)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.full(6, bias_value, np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "b"], ["hb"], name="bias"),
             helper.make_node("Relu", ["hb"], ["r"], name="relu"),
             helper.make_node("Softmax", ["r"], ["y"], name="softmax", axis=-1)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 6])], [w, b])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    args = ap.parse_args()
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + what)
        failures += not ok

    with tempfile.TemporaryDirectory() as d:
        good, bad = os.path.join(d, "good.onnx"), os.path.join(d, "bad.onnx")
        onnx.save(model(0.5), good)
        onnx.save(model(0.75), bad)
        x = os.path.join(d, "x.npy")
        np.save(x, np.random.default_rng(2).standard_normal((3, 8)).astype(np.float32))

        trace = os.path.join(d, "trace")
        p = subprocess.run([args.nncc, "run", good, "--input", x, "--trace", trace],
                           capture_output=True, text=True)
        check(p.returncode == 0, f"nncc run --trace exits 0 ({p.stderr.strip()[-200:]})")
        with open(os.path.join(trace, "trace.tsv")) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        check([r["tensor"] for r in rows] == ["h", "hb", "r", "y"], "trace lists h, hb, r, y in order")
        r = np.load(os.path.join(trace, rows[2]["file"]))
        check(r.shape == (3, 6) and (r >= 0).all() and (r > 0).any(), "traced Relu output has its shape and values")

        base = [sys.executable, COMPARE, "--nncc", args.nncc, "--input", f"x={x}"]
        p = subprocess.run(base + [good], capture_output=True, text=True)
        check(p.returncode == 0 and "all 4 traced tensors agree" in p.stdout, f"agreeing model: {p.stdout.strip()}")
        p = subprocess.run(base + [good, "--reference-model", bad], capture_output=True, text=True)
        check(p.returncode == 1 and "node 'bias' (Add)" in p.stdout, f"divergence named: {p.stdout.strip()}")
        p = subprocess.run([sys.executable, COMPARE, "--nncc", args.nncc, good], capture_output=True, text=True)
        check(p.returncode == 0, "random inputs when none given")
        p = subprocess.run(base + [os.path.join(d, "missing.onnx")], capture_output=True, text=True)
        check(p.returncode == 2 and "cannot load" in p.stderr, "missing model: exit 2 with a message")
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
