#!/usr/bin/env python3
"""Generated training steps against PyTorch (torch.optim).

Usage: torch_step.py --nncc PATH [--filter REGEX] [--keep DIR]

An MLP (Gemm 6->8, Relu, Gemm 8->3, then Softmax for cross-entropy or Tanh
for MSE) and a CNN (Conv 3x3, Relu, MaxPool, Flatten, Gemm, Softmax) as ONNX
with float32 initializers; the same weights, batch (one
sample masked out) and settings in PyTorch. Both take three steps (so
momentum buffers and Adam's bias corrections are exercised); every updated
weight must agree to 1e-5 relative (|nncc - torch| <= 1e-5 * |torch| + 1e-7).
One step is taken as the module defines it: t_grad, then t_update with
scale 1/BATCH, which is PyTorch's mean over the batch of the masked
per-sample losses. The last line is `N passed, M failed`.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trainlib  # noqa: E402

B, IN, HID, OUT, STEPS = 5, 6, 8, 3, 3
REL, ABS = 1e-5, 1e-7


def mlp(weights, head):
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1, name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "W2", "b2"], ["z"], transB=1, name="fc2"),
             helper.make_node(head, ["z"], ["y"], name="head")]
    if head == "Softmax":
        nodes[-1].attribute.append(helper.make_attribute("axis", -1))
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", IN])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", OUT])],
                          [numpy_helper.from_array(w, n) for n, w in weights.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def cnn_model(weights):
    """Conv 3x3 (pad 1) -> Relu -> MaxPool 2 -> Flatten -> Gemm -> Softmax."""
    nodes = [helper.make_node("Conv", ["x", "C1", "c1"], ["h"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], axis=1, name="flat"),
             helper.make_node("Gemm", ["f", "W2", "b2"], ["z"], transB=1, name="fc"),
             helper.make_node("Softmax", ["z"], ["y"], axis=-1, name="head")]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", OUT])],
                          [numpy_helper.from_array(w, n) for n, w in weights.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def cnn_torch(p, x):
    h = torch.relu(torch.nn.functional.conv2d(x, p["C1"], p["c1"], padding=1))
    h = torch.nn.functional.max_pool2d(h, 2).flatten(1)
    return torch.nn.functional.linear(h, p["W2"], p["b2"])


def mlp_torch(p, x):
    h = torch.relu(torch.nn.functional.linear(x, p["W1"], p["b1"]))
    return torch.nn.functional.linear(h, p["W2"], p["b2"])


def mlp_weights(rng):
    return {"W1": rng.standard_normal((HID, IN)).astype(np.float32) * 0.5,
            "b1": rng.standard_normal(HID).astype(np.float32) * 0.1,
            "W2": rng.standard_normal((OUT, HID)).astype(np.float32) * 0.5,
            "b2": rng.standard_normal(OUT).astype(np.float32) * 0.1}


def cnn_weights(rng):
    return {"C1": rng.standard_normal((4, 1, 3, 3)).astype(np.float32) * 0.5,
            "c1": rng.standard_normal(4).astype(np.float32) * 0.1,
            "W2": rng.standard_normal((OUT, 36)).astype(np.float32) * 0.3,
            "b2": rng.standard_normal(OUT).astype(np.float32) * 0.1}


# name: (nncc options, torch optimizer factory, lr, loss, clip norm[, extras]); extras:
# arch "cnn", clip_value, l1 and l2 (added to PyTorch's loss as l1 |w| + l2 w^2 over every param)
CASES = {
    "sgd": (["--optimizer", "sgd"], lambda p, lr: torch.optim.SGD(p, lr=lr), 0.1, "ce", 0),
    "sgd_l2": (["--optimizer", "sgd", "--weight-decay", "0.05"],
               lambda p, lr: torch.optim.SGD(p, lr=lr, weight_decay=0.05), 0.1, "ce", 0),
    "momentum": (["--optimizer", "momentum", "--momentum", "0.9"],
                 lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9), 0.1, "ce", 0),
    "nesterov": (["--optimizer", "nesterov", "--momentum", "0.8"],
                 lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.8, nesterov=True), 0.1, "ce", 0),
    "adagrad": (["--optimizer", "adagrad"], lambda p, lr: torch.optim.Adagrad(p, lr=lr), 0.1, "ce", 0),
    "rmsprop": (["--optimizer", "rmsprop"], lambda p, lr: torch.optim.RMSprop(p, lr=lr), 0.01, "ce", 0),
    "adam": (["--optimizer", "adam"], lambda p, lr: torch.optim.Adam(p, lr=lr), 0.01, "ce", 0),
    "adam_l2": (["--optimizer", "adam", "--weight-decay", "0.1", "--beta1", "0.8", "--beta2", "0.99"],
                lambda p, lr: torch.optim.Adam(p, lr=lr, weight_decay=0.1, betas=(0.8, 0.99)), 0.01, "ce", 0),
    "adamw": (["--optimizer", "adamw"], lambda p, lr: torch.optim.AdamW(p, lr=lr), 0.01, "ce", 0),
    "sgd_mse": (["--optimizer", "sgd"], lambda p, lr: torch.optim.SGD(p, lr=lr), 0.1, "mse", 0),
    "adam_mse": (["--optimizer", "adam"], lambda p, lr: torch.optim.Adam(p, lr=lr), 0.01, "mse", 0),
    "sgd_clip_norm": (["--optimizer", "sgd", "--clip-norm", "0.5"],
                      lambda p, lr: torch.optim.SGD(p, lr=lr), 0.1, "ce", 0.5),
    "sgd_clip_value": (["--optimizer", "sgd", "--clip-value", "0.02"],
                       lambda p, lr: torch.optim.SGD(p, lr=lr), 0.1, "ce", 0, {"clip_value": 0.02}),
    "momentum_l1_l2": (["--optimizer", "momentum", "--l1", "0.01", "--l2", "0.02"],
                       lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9), 0.1, "ce", 0,
                       {"l1": 0.01, "l2": 0.02}),
    "cnn_momentum": (["--optimizer", "momentum", "--momentum", "0.9"],
                     lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9), 0.1, "ce", 0, {"arch": "cnn"}),
    "cnn_adam": (["--optimizer", "adam"], lambda p, lr: torch.optim.Adam(p, lr=lr), 0.01, "ce", 0, {"arch": "cnn"}),
}


def torch_steps(forward, weights, x, labels, mask, make_opt, lr, loss_kind, clip, extras):
    params = {n: torch.tensor(w, requires_grad=True) for n, w in weights.items()}
    opt = make_opt(list(params.values()), lr)
    xt, mt = torch.tensor(x), torch.tensor(mask)
    for _ in range(STEPS):
        opt.zero_grad()
        z = forward(params, xt)
        if loss_kind == "ce":
            per = torch.nn.functional.cross_entropy(z, torch.tensor(labels), reduction="none")
        else:
            per = ((torch.tanh(z) - torch.tensor(labels)) ** 2).mean(dim=1)
        loss = (per * mt).sum() / B
        for p in params.values():
            loss = loss + extras.get("l1", 0) * p.abs().sum() + extras.get("l2", 0) * (p * p).sum()
        loss.backward()
        if "clip_value" in extras:
            torch.nn.utils.clip_grad_value_(list(params.values()), extras["clip_value"])
        if clip:
            torch.nn.utils.clip_grad_norm_(list(params.values()), clip)
        opt.step()
    return {n: p.detach().numpy() for n, p in params.items()}


def run_case(nncc, name, workdir):
    opts, make_opt, lr, loss_kind, clip = CASES[name][:5]
    extras = CASES[name][5] if len(CASES[name]) > 5 else {}
    cnn = extras.get("arch") == "cnn"
    rng = np.random.default_rng(7)
    weights = cnn_weights(rng) if cnn else mlp_weights(rng)
    x = rng.standard_normal((B, 1, 6, 6) if cnn else (B, IN)).astype(np.float32)
    mask = np.ones(B, np.float32)
    mask[2] = 0
    if loss_kind == "ce":
        labels, width = rng.integers(0, OUT, B).astype(np.int64), 1
    else:
        labels, width = rng.uniform(-0.9, 0.9, (B, OUT)).astype(np.float32), OUT
    model = cnn_model(weights) if cnn else mlp(weights, "Softmax" if loss_kind == "ce" else "Tanh")
    exe = trainlib.build(nncc, model, opts + ["--loss", loss_kind, "--batch", str(B)], workdir, x,
                         B * OUT, width)
    xs, ls, ms = trainlib.write_inputs(workdir, x, labels, mask)
    out = os.path.join(workdir, "params.bin")
    trainlib.run(exe, ["steps", xs, ls, ms, STEPS, repr(lr), out])
    got = np.fromfile(out, np.float32)
    want = torch_steps(cnn_torch if cnn else mlp_torch, weights, x, labels, mask, make_opt, lr,
                       loss_kind, clip, extras)
    at, worst = 0, 0.0
    for n in weights:  # the state table's order: the model's
        w = want[n].ravel()
        g = got[at:at + w.size]
        at += w.size
        moved = np.abs(w - weights[n].ravel()).max()
        if moved == 0:
            return False, "%s did not move in PyTorch: the case tests nothing" % n
        excess = np.abs(g - w) / (REL * np.abs(w) + ABS)
        worst = max(worst, float(excess.max()))
        if excess.max() > 1:
            i = int(excess.argmax())
            return False, "%s[%d]: nncc %.9g, torch %.9g" % (n, i, g[i], w[i])
    return True, "worst error %.2f of the tolerance" % worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--keep")
    a = ap.parse_args()
    torch.set_num_threads(1)
    root = a.keep or tempfile.mkdtemp(prefix="torch_step_")
    passed = failed = 0
    for name in CASES:
        if not re.search(a.filter, name):
            continue
        try:
            ok, why = run_case(a.nncc, name, os.path.join(root, name))
        except trainlib.BuildError as e:
            ok, why = False, str(e)
        print("%s %s: %s" % ("PASS" if ok else "FAIL", name, why))
        passed, failed = passed + ok, failed + (not ok)
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
