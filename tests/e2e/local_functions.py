#!/usr/bin/env python3
"""Models with local functions (ModelProto.functions) against onnxruntime:
a call expands into its body (nested calls, attribute references given at
the call or defaulted by the function, two calls of one function, a body
with its own opset import, a function output unused by the caller)."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

OPSETS = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]


def attr_ref(name, ref):
    """A float attribute that takes the value of the calling node's attribute `ref`."""
    return onnx.AttributeProto(name=name, ref_attr_name=ref, type=onnx.AttributeProto.FLOAT)


def scaled_relu():
    """y = Relu(x) * alpha (attribute ref with a default of 2.0), and mask."""
    alpha = helper.make_node("Constant", [], ["alpha"], name="alpha")
    alpha.attribute.append(attr_ref("value_float", "alpha"))
    nodes = [alpha,
             helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Mul", ["r", "alpha"], ["y"]),
             helper.make_node("Greater", ["x", "zero"], ["mask"]),
             helper.make_node("Constant", [], ["zero"], value_float=0.0)]
    nodes.insert(3, nodes.pop())  # zero before its use
    return helper.make_function("local", "ScaledRelu", ["x"], ["y", "mask"], nodes, OPSETS[:1],
                                attributes=[], attribute_protos=[helper.make_attribute("alpha", 2.0)])


def block():
    """z = ScaledRelu(x @ w) + b, calling the other function twice."""
    call1 = helper.make_node("ScaledRelu", ["h"], ["s", ""], domain="local")
    call1.attribute.append(attr_ref("alpha", "gain"))
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             call1,
             helper.make_node("ScaledRelu", ["s"], ["s2", "m"], domain="local"),  # default alpha
             helper.make_node("Add", ["s2", "b"], ["z"])]
    return helper.make_function("local", "Block", ["x", "w", "b"], ["z"], nodes, OPSETS,
                                attributes=["gain"])


def model():
    rng = np.random.default_rng(0)
    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [6, 5], rng.standard_normal(30).astype(np.float32))
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [5, 4], rng.standard_normal(20).astype(np.float32))
    b = helper.make_tensor("b", TensorProto.FLOAT, [4], rng.standard_normal(4).astype(np.float32))
    b5 = helper.make_tensor("b5", TensorProto.FLOAT, [5], rng.standard_normal(5).astype(np.float32))
    nodes = [helper.make_node("Block", ["x", "w1", "b5"], ["y1"], domain="local", name="first", gain=0.5),
             helper.make_node("Block", ["y1", "w2", "b"], ["y2"], domain="local", name="second", gain=3.0),
             helper.make_node("Softmax", ["y2"], ["y"], axis=-1)]
    g = helper.make_graph(nodes, "functions", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])], [w1, w2, b, b5])
    m = helper.make_model(g, opset_imports=OPSETS, functions=[scaled_relu(), block()], ir_version=8)
    onnx.checker.check_model(m)
    return m


def recursive_model():
    f = helper.make_function("local", "Loopy", ["x"], ["y"],
                             [helper.make_node("Loopy", ["x"], ["y"], domain="local")], OPSETS, [])
    g = helper.make_graph([helper.make_node("Loopy", ["x"], ["y"], domain="local")], "rec",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(g, opset_imports=OPSETS, functions=[f], ir_version=8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    args = ap.parse_args()
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        path, xin, out = os.path.join(d, "m.onnx"), os.path.join(d, "x.npy"), os.path.join(d, "out")
        onnx.save(model(), path)
        x = np.random.default_rng(1).standard_normal((3, 6)).astype(np.float32)
        np.save(xin, x)
        p = subprocess.run([args.nncc, "run", path, "--input", xin, "--output-dir", out],
                           capture_output=True, text=True)
        if p.returncode != 0:
            print(f"FAIL nncc run: {p.stderr}")
            return 1
        got = np.load(os.path.join(out, "output_0.npy"))
        want = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        err = float(np.abs(got - want).max())
        ok = err <= 1e-5
        print(f"{'ok  ' if ok else 'FAIL'} nested local functions vs onnxruntime: max|diff| {err:.3g}")
        fails += not ok

        onnx.save(recursive_model(), path)
        p = subprocess.run([args.nncc, path, "-o", os.path.join(d, "r.c")], capture_output=True, text=True)
        ok = p.returncode == 1 and "nests deeper than" in p.stderr and path in p.stderr
        print(f"{'ok  ' if ok else 'FAIL'} a function calling itself is an error: {p.stderr.strip()[:200]}")
        fails += not ok
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
