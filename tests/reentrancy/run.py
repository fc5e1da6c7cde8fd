"""Builds an MLP with nncc and runs tests/reentrancy/two_threads.c on it."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mlp(path, sizes=(784, 500, 250, 10)):
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        inits += [numpy_helper.from_array(rng.normal(0, a ** -0.5, (a, b)).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(rng.normal(0, 0.1, (b,)).astype(np.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"], name=f"matmul{i}"),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"], name=f"add{i}")]
        prev = f"a{i}"
        if i + 2 < len(sizes):
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"], name=f"relu{i}"))
            prev = f"r{i}"
    nodes[-1].output[0] = "y"
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, sizes[0]])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, sizes[-1]])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        mlp(os.path.join(tmp, "mlp.onnx"))
        subprocess.run([args.nncc, os.path.join(tmp, "mlp.onnx"), "-o", os.path.join(tmp, "model.c"),
                        "--prefix", "model"], check=True)
        exe = os.path.join(tmp, "two_threads")
        subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
                        "-fopenmp", "-pthread", "-DIN_N=784", "-DOUT_N=10", "-I", tmp,
                        os.path.join(here, "two_threads.c"), os.path.join(tmp, "model.c"), "-lm",
                        "-o", exe], check=True)
        r = subprocess.run([exe], env=dict(os.environ, OMP_NUM_THREADS="1"))
    print("1 passed, 0 failed" if r.returncode == 0 else "0 passed, 1 failed")
    sys.exit(r.returncode)


if __name__ == "__main__":
    main()
