#!/usr/bin/env python3
"""Generated training steps against PyTorch (torch.optim).

Usage: torch_step.py --nncc PATH [--filter REGEX] [--keep DIR]

An MLP (Gemm 6->8, Relu, Gemm 8->3, then Softmax for cross-entropy or Tanh
for MSE) and a CNN (Conv 3x3, Relu, MaxPool, Flatten, Gemm, Softmax) as ONNX
with float32 initializers, and recurrent classifiers: written in the network
language (an lstm, gru, bidirectional lstm, 2-layer lstm or 2-layer
bidirectional gru over [4, 3] steps, its last state into dense + softmax) or
exported by torch.onnx (a 2-layer bidirectional torch.nn.LSTM whose last
step is classified). A recurrent model's initial weights are read from the
module itself (t_init) and copied into torch.nn.LSTM/GRU (ONNX's gates
i,o,f,c and z,r,h reordered to torch's i,f,g,o and r,z,n; ONNX's W and R
biases are torch's b_ih and b_hh; the .nn gru is linear_before_reset=1, as
torch's GRU). The same weights, batch (one sample masked out) and settings
in PyTorch. Both take three steps (so momentum buffers and Adam's bias
corrections are exercised); every updated weight must agree to 1e-5
relative (|nncc - torch| <= 1e-5 * |torch| + 1e-7).
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
import warnings

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


RECURRENT = {  # arch: (.nn layer, stacked layers, bidirectional)
    "lstm": ("lstm", 1, False), "gru": ("gru", 1, False), "bilstm": ("lstm", 1, True),
    "lstm2": ("lstm", 2, False), "bigru2": ("gru", 2, True),
    # not .nn: torch.nn.LSTM exported by torch.onnx (its last step's output classified)
    "torch_onnx_bilstm2": ("lstm", 2, True)}
STEPS_T, FEAT, UNITS = 4, 3, 6
# torch's gate k is ONNX's gate TORCH_GATES[cell][k]
TORCH_GATES = {"lstm": [0, 2, 3, 1], "gru": [1, 0, 2]}


def recurrent_nn(arch):
    cell, layers, bidir = RECURRENT[arch]
    opts = (", bidirectional=true" if bidir else "") + (", layers=%d" % layers if layers > 1 else "")
    return ("model %s\ninput seq [%d, %d]\nstate = %s(seq, %d%s)\n"
            "probs = dense(state, %d, activation=softmax)\noutput probs\n"
            % (arch, STEPS_T, FEAT, cell, UNITS, opts, OUT))


def gate_blocks(a, order):
    """a's leading axis (gates * UNITS rows) with its gate blocks in `order`."""
    return np.concatenate([a[g * UNITS:(g + 1) * UNITS] for g in order])


def recurrent_torch(arch, weights):
    """torch.nn.LSTM/GRU holding nncc's weights (`<layer>.weight<l>`,
    `.recurrence<l>`, `.bias<l>`, then the dense layer's); returns the
    forward, its leaf tensors and a function mapping them back to ONNX's layout.
    The .nn models classify the last layer's final states; torch_onnx_* the
    last step of its output sequence."""
    cell, layers, bidir = RECURRENT[arch]
    D, order = 2 if bidir else 1, TORCH_GATES[cell]
    G = len(order)
    back = [order.index(g) for g in range(G)]
    rnn = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(
        FEAT, UNITS, num_layers=layers, bidirectional=bidir, batch_first=True)
    tp = dict(rnn.named_parameters())
    with torch.no_grad():
        for l in range(layers):
            for d in range(D):
                sfx = "_l%d%s" % (l, "_reverse" if d else "")
                bias = weights["state.bias%d" % l][d]
                for tname, a in (("weight_ih", weights["state.weight%d" % l][d]),
                                 ("weight_hh", weights["state.recurrence%d" % l][d]),
                                 ("bias_ih", bias[:G * UNITS]), ("bias_hh", bias[G * UNITS:])):
                    tp[tname + sfx].copy_(torch.tensor(gate_blocks(a, order)))
    leaves = {"rnn." + n: p for n, p in tp.items()}
    leaves["probs.weight"] = torch.tensor(weights["probs.weight"], requires_grad=True)
    leaves["probs.bias"] = torch.tensor(weights["probs.bias"], requires_grad=True)

    def forward(p, x):
        if arch.startswith("torch_onnx"):
            return torch.nn.functional.linear(rnn(x)[0][:, -1], p["probs.weight"], p["probs.bias"])
        h = rnn(x)[1]
        h = (h[0] if cell == "lstm" else h)[-D:]  # the last layer's final states [D, B, H]
        return torch.nn.functional.linear(h.permute(1, 0, 2).reshape(x.shape[0], D * UNITS),
                                          p["probs.weight"], p["probs.bias"])

    def to_onnx(p):
        out = {}
        for l in range(layers):
            ws, rs, bs = [], [], []
            for d in range(D):
                sfx = "_l%d%s" % (l, "_reverse" if d else "")
                ws.append(gate_blocks(p["rnn.weight_ih" + sfx], back))
                rs.append(gate_blocks(p["rnn.weight_hh" + sfx], back))
                bs.append(np.concatenate([gate_blocks(p["rnn.bias_ih" + sfx], back),
                                          gate_blocks(p["rnn.bias_hh" + sfx], back)]))
            out["state.weight%d" % l] = np.stack(ws)
            out["state.recurrence%d" % l] = np.stack(rs)
            out["state.bias%d" % l] = np.stack(bs)
        out["probs.weight"], out["probs.bias"] = p["probs.weight"], p["probs.bias"]
        return out
    return forward, leaves, to_onnx


def state_params(workdir):
    """(name, dims) of the module's params, in state-table order, from t.c."""
    with open(os.path.join(workdir, "t.c")) as f:
        rows = re.findall(r'\{"([^"]+)", \d+, \d+, \d+, 1, \d+, \{([\d, ]*)\}\}', f.read())
    return [(n, [int(v) for v in dims.split(",")]) for n, dims in rows]


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
# The LSTM classifier takes every optimizer case with cross-entropy; GRU, bidirectional and
# stacked cells take a few.
for _name in [n for n, c in CASES.items() if c[3] == "ce" and "arch" not in (c[5:] or [{}])[0]]:
    _c = CASES[_name]
    CASES["lstm_" + _name] = _c[:5] + (dict(_c[5] if len(_c) > 5 else {}, arch="lstm"),)
for _arch in ("gru", "bilstm", "lstm2", "bigru2", "torch_onnx_bilstm2"):
    for _name in ("sgd", "momentum", "adam"):
        CASES[_arch + "_" + _name] = CASES[_name][:5] + ({"arch": _arch},)


def torch_steps(forward, params, x, labels, mask, make_opt, lr, loss_kind, clip, extras):
    """STEPS steps on the leaf tensors params (updated in place)."""
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


class TorchClassifier(torch.nn.Module):
    """What torch_onnx_* export: softmax(linear(the LSTM's output at the last step))."""

    def __init__(self, layers, bidir):
        super().__init__()
        self.rnn = torch.nn.LSTM(FEAT, UNITS, num_layers=layers, bidirectional=bidir,
                                 batch_first=True)
        self.fc = torch.nn.Linear(UNITS * (2 if bidir else 1), OUT)

    def forward(self, x):
        return torch.softmax(self.fc(self.rnn(x)[0][:, -1]), -1)


def export_torch(arch, path):
    """Exports arch's TorchClassifier; returns {initializer: the .nn-style name}."""
    _, layers, bidir = RECURRENT[arch]
    torch.manual_seed(7)
    with warnings.catch_warnings():  # the exporter's advice on batch_first LSTMs
        warnings.simplefilter("ignore")
        torch.onnx.export(TorchClassifier(layers, bidir), torch.zeros(B, STEPS_T, FEAT), path,
                          input_names=["x"], output_names=["y"], opset_version=17,
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    names, lstm = {}, 0
    for n in onnx.load(path).graph.node:
        if n.op_type == "LSTM":
            for k, role in ((1, "weight"), (2, "recurrence"), (3, "bias")):
                names[n.input[k]] = "state.%s%d" % (role, lstm)
            lstm += 1
        elif n.op_type == "Gemm":
            names[n.input[1]], names[n.input[2]] = "probs.weight", "probs.bias"
    return names


def run_recurrent(nncc, arch, opts, workdir, rng):
    """Builds the classifier's module (.nn, or exported from torch); returns
    it, x and the names of its params as recurrent_torch knows them."""
    os.makedirs(workdir, exist_ok=True)
    if arch.startswith("torch_onnx"):
        path = os.path.join(workdir, "model.onnx")
        names = export_torch(arch, path)
    else:
        path, names = os.path.join(workdir, arch + ".nn"), None
        with open(path, "w") as f:
            f.write(recurrent_nn(arch))
    x = rng.standard_normal((B, STEPS_T, FEAT)).astype(np.float32)
    exe = trainlib.build(nncc, path, opts + ["--loss", "ce", "--batch", str(B)], workdir, x,
                         B * OUT, 1)
    return exe, x, names


def run_case(nncc, name, workdir):
    opts, make_opt, lr, loss_kind, clip = CASES[name][:5]
    extras = CASES[name][5] if len(CASES[name]) > 5 else {}
    arch = extras.get("arch", "mlp")
    rng = np.random.default_rng(7)
    mask = np.ones(B, np.float32)
    mask[2] = 0
    if arch in RECURRENT:
        exe, x, names = run_recurrent(nncc, arch, opts, workdir, rng)
    else:
        weights = cnn_weights(rng) if arch == "cnn" else mlp_weights(rng)
        x = rng.standard_normal((B, 1, 6, 6) if arch == "cnn" else (B, IN)).astype(np.float32)
    if loss_kind == "ce":
        labels, width = rng.integers(0, OUT, B).astype(np.int64), 1
    else:
        labels, width = rng.uniform(-0.9, 0.9, (B, OUT)).astype(np.float32), OUT
    if arch not in RECURRENT:
        model = cnn_model(weights) if arch == "cnn" else \
            mlp(weights, "Softmax" if loss_kind == "ce" else "Tanh")
        exe = trainlib.build(nncc, model, opts + ["--loss", loss_kind, "--batch", str(B)],
                             workdir, x, B * OUT, width)
    xs, ls, ms = trainlib.write_inputs(workdir, x, labels, mask)
    out = os.path.join(workdir, "params.bin")
    if arch in RECURRENT:  # the module's own initial weights
        trainlib.run(exe, ["steps", xs, ls, ms, 0, repr(lr), out])
        flat, weights, at = np.fromfile(out, np.float32), {}, 0
        for n, dims in state_params(workdir):
            size = int(np.prod(dims))
            weights[n] = flat[at:at + size].reshape(dims)
            at += size
        names = names or {n: n for n in weights}
        forward, leaves, to_layout = recurrent_torch(
            arch, {names[n]: w for n, w in weights.items()})

        def to_onnx(p):
            mine = to_layout(p)
            return {n: mine[names[n]] for n in weights}
    else:
        forward = cnn_torch if arch == "cnn" else mlp_torch
        leaves = {n: torch.tensor(w, requires_grad=True) for n, w in weights.items()}
        to_onnx = None
    trainlib.run(exe, ["steps", xs, ls, ms, STEPS, repr(lr), out])
    got = np.fromfile(out, np.float32)
    want = torch_steps(forward, leaves, x, labels, mask, make_opt, lr, loss_kind, clip, extras)
    if to_onnx:
        want = to_onnx(want)
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
