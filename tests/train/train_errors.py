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
BN = lambda outs: helper.make_node("BatchNormalization", ["z", "s", "b", "rm", "rv"], outs, name="bn",
                                   training_mode=1)  # noqa: E731
BN_INITS = {"W": np.ones((4, 3), np.float32), "s": np.ones(3, np.float32), "b": np.zeros(3, np.float32),
            "rm": np.zeros(3, np.float32), "rv": np.ones(3, np.float32)}


def LSTM(**attrs):
    """x [N, 3, 4] -> time first -> LSTM (5 units) -> Y_h batch first: model()'s arguments."""
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node("LSTM", ["xt", "Wl", "Rl"], ["", "yh"], hidden_size=5, name="cell",
                              **attrs),
             helper.make_node("Transpose", ["yh"], ["y"], perm=[1, 0, 2])]
    return nodes, ["y"], ("N", 3, 4), {"Wl": np.ones((1, 20, 4), np.float32) * 0.1,
                                       "Rl": np.ones((1, 20, 5), np.float32) * 0.1}


# name: (model, options, text the message must hold)
CASES = {
    "no_loss": (model([MATMUL], ["z"]), [], "no loss: give --loss"),
    "unknown_loss": (model([MATMUL], ["z"]), ["--loss", "l3"], "--loss l3: expected mse"),
    "unknown_optimizer": (model([MATMUL], ["z"]), ["--loss", "mse", "--optimizer", "lbfgs"],
                          "--optimizer lbfgs"),
    "bad_batch": (model([MATMUL], ["z"]), ["--loss", "mse", "--batch", "0"], "--batch 0"),
    "bad_number": (model([MATMUL], ["z"]), ["--loss", "mse", "--momentum", "fast"], "--momentum fast"),
    "no_rule": (model([MATMUL, helper.make_node("LpNormalization", ["z"], ["y"], name="norm")], ["y"]),
                ["--loss", "mse"], "node 'norm' (LpNormalization): training needs the gradient of LpNormalization"),
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
    # batch statistics of one value per channel: every output would be B
    "batchnorm_batch1": (model([MATMUL, BN(["y"])], ["y"], inits=BN_INITS), ["--loss", "mse"],
                         "node 'bn' (BatchNormTrain): batch normalization in training needs more "
                         "than one value per channel; X is [1,3]"),
    # the updated running statistics (training_mode outputs) read by the graph
    "batchnorm_stats_read": (model([MATMUL, BN(["y", "rm_new"]),
                                    helper.make_node("Add", ["y", "rm_new"], ["o"])], ["o"],
                                   inits=BN_INITS), ["--loss", "mse", "--batch", "4"],
                             "node 'bn' (BatchNormalization): output 1 (the updated running mean) "
                             "is read by the graph"),
    # recurrent cells whose gradient nncc does not compute
    "lstm_activations": (model(*LSTM(activations=["Sigmoid", "Relu", "Tanh"])),
                         ["--loss", "mse"], "node 'cell' (LSTM): training through LSTM with "
                         "activations other than the defaults is not supported yet"),
    "lstm_input_forget": (model(*LSTM(input_forget=1)), ["--loss", "mse"],
                          "node 'cell' (LSTM): training through LSTM with input_forget is not "
                          "supported yet"),
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
