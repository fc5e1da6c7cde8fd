#!/usr/bin/env python3
"""`nncc train`'s user errors: each bad model or option gives one clear
`nncc: error:` line naming the file (and the node, when one is at fault),
exit status 1, and no output file.

Usage: train_errors.py --nncc PATH
The last line is `N passed, M failed`.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def model(nodes, outputs, x_shape=("N", 4), inits=None):
    inits = inits if inits is not None else {"W": np.ones((4, 3), np.float32)}
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", F, list(x_shape))],
                          [helper.make_tensor_value_info(o, F, None) for o in outputs],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


MATMUL = helper.make_node("MatMul", ["x", "W"], ["z"], name="fc")
# name: (model, options, text the message must hold)
CASES = {
    "no_loss": (model([MATMUL], ["z"]), [], "no loss: give --loss"),
    "unknown_loss": (model([MATMUL], ["z"]), ["--loss", "l3"], "--loss l3: expected mse"),
    "unknown_optimizer": (model([MATMUL], ["z"]), ["--loss", "mse", "--optimizer", "lbfgs"],
                          "--optimizer lbfgs"),
    "bad_batch": (model([MATMUL], ["z"]), ["--loss", "mse", "--batch", "0"], "--batch 0"),
    "bad_number": (model([MATMUL], ["z"]), ["--loss", "mse", "--momentum", "fast"], "--momentum fast"),
    "no_rule": (model([MATMUL, helper.make_node("Round", ["z"], ["y"], name="rounding")], ["y"]),
                ["--loss", "mse"], "node 'rounding' (Round): training needs the gradient of Round"),
    "class_loss_rank1": (model([helper.make_node("MatMul", ["x", "W"], ["y"], name="fc")], ["y"],
                               inits={"W": np.ones(4, np.float32)}),
                         ["--loss", "ce"], "the ce loss needs classes on an axis after the batch"),
    "two_outputs": (model([MATMUL, helper.make_node("Relu", ["z"], ["r"])], ["z", "r"]),
                    ["--loss", "mse"], "the model has 2 outputs: say which one"),
    "no_such_output": (model([MATMUL], ["z"]), ["--loss", "mse", "--output", "q"],
                       "the loss applies to 'q', which is not an output"),
    "nothing_to_train": (model([helper.make_node("Relu", ["x"], ["y"])], ["y"], inits={}),
                         ["--loss", "mse"], "output 'y' depends on no learned weight"),
    "fixed_batch": (model([MATMUL], ["z"], x_shape=(2, 4)), ["--loss", "mse", "--batch", "3"],
                    "input 'x' has a fixed first dimension of 2"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    a = ap.parse_args()
    passed = failed = 0
    with tempfile.TemporaryDirectory() as d:
        for name, (m, opts, want) in CASES.items():
            path = os.path.join(d, name + ".onnx")
            onnx.save(m, path)
            out = os.path.join(d, name + ".c")
            p = subprocess.run([a.nncc, "train", path, "-o", out, "--module-only"] + opts,
                               capture_output=True, text=True)
            lines = [line for line in p.stderr.splitlines() if line.startswith("nncc: error:")]
            problems = []
            if p.returncode != 1:
                problems.append("status %d" % p.returncode)
            if len(lines) != 1 or want not in lines[0]:
                problems.append("stderr %r, wanted one error with %r" % (p.stderr, want))
            if "internal error" in p.stderr:
                problems.append("internal error")
            if os.path.exists(out) or os.path.exists(out[:-1] + "h"):
                problems.append("an output file was written")
            ok = not problems
            print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + "; ".join(problems)))
            passed, failed = passed + ok, failed + (not ok)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
