#!/usr/bin/env python3
"""RNN, GRU and LSTM through `nncc run`, compared with onnxruntime.

Usage: recurrent_models.py --nncc PATH [--filter REGEX] [--keep DIR] [--no-cc]

Models are built with onnx.helper (directions, sequence_lens, initial
states, peepholes, clip, input_forget, linear_before_reset, non-default
activations, float64, layout 1, long sequences that run in chunks) and
exported from torch (a 2-layer bidirectional LSTM and a GRU, opset 14).
onnxruntime has no layout 1, so a layout-1 model is checked against the
layout-0 node wrapped in Transposes. Each model's C must also build with
gcc and clang under -std=c11 -Wall -Wextra -Werror.

Activation parameters are always given: where the spec gives a default
(LeakyRelu's 0.01...) onnxruntime takes 0. sequence_lens are at least 1:
onnxruntime leaves Y_h unset for an empty sequence.

The last line printed is `N passed, M failed`; the exit status is 1 when
any model fails.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_ort  # noqa: E402

OPSET = 14
IR_VERSION = 8  # onnxruntime reads IR <= 11; onnx's helper writes newer
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


class Case:
    """A model for nncc, the model onnxruntime runs instead (often the
    same), and the feeds of both."""

    def __init__(self, name, model, feeds, ref_model=None, ref_feeds=None, tol=1e-4):
        self.name = name
        self.model = model
        self.ref_model = ref_model or model
        self.feeds = feeds
        self.ref_feeds = ref_feeds or feeds
        self.tol = tol


def tensor_type(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def make_model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def recurrent(name, op, S, B, I, H, *, direction="forward", layout=0, dtype=np.float32,
              bias=True, lens=None, h0=False, c0=False, peep=False, outs=("Y", "Y_h"),
              const_weights=False, seed=0, wscale=1.0, **attrs):
    """One recurrent node; W, R and B are initializers when const_weights."""
    rng = np.random.default_rng(seed)
    D = 2 if direction == "bidirectional" else 1
    G = GATES[op]
    rand = lambda *shape: (rng.standard_normal(shape) * wscale).astype(dtype)  # noqa: E731
    state = (B, D, H) if layout else (D, B, H)
    vals = {"X": rand(*((B, S, I) if layout else (S, B, I))) / wscale,
            "W": rand(D, G * H, I) / np.sqrt(I), "R": rand(D, G * H, H) / np.sqrt(H)}
    if bias:
        vals["B"] = rand(D, 2 * G * H)
    if lens is not None:
        vals["sequence_lens"] = np.array(lens, np.int32)
    if h0:
        vals["initial_h"] = rand(*state)
    if c0:
        vals["initial_c"] = rand(*state)
    if peep:
        vals["P"] = rand(D, 3 * H)
    order = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    names = [k if k in vals else "" for k in order]
    while names[-1] == "":
        names.pop()
    consts = {"W", "R", "B", "P"} if const_weights else set()
    out_names = [o if o in outs else "" for o in ("Y", "Y_h", "Y_c")[: 3 if op == "LSTM" else 2]]
    while out_names[-1] == "":
        out_names.pop()

    def cast(dt):
        return {k: v if v.dtype == np.int32 else v.astype(dt) for k, v in vals.items()}

    def build(lay, wrap, dt):
        """The node with layout lay in dtype dt; wrap: Transposes make it
        look layout 1."""
        v_dt = cast(dt)
        feeds = {k: v for k, v in v_dt.items() if k not in consts}
        inits = [numpy_helper.from_array(v, k) for k, v in v_dt.items() if k in consts]
        rename = {k: (k + "_t" if wrap and k in ("X", "initial_h", "initial_c") else k)
                  for k in order}
        nodes = [helper.make_node("Transpose", [k], [rename[k]], perm=[1, 0, 2])
                 for k in ("X", "initial_h", "initial_c") if wrap and k in vals]
        node_outs = [o + "_t" if wrap and o else o for o in out_names]
        nodes.append(helper.make_node(op, [rename[k] if k else "" for k in names], node_outs,
                                      hidden_size=H, direction=direction, layout=lay, **attrs))
        perms = {"Y": [2, 0, 1, 3], "Y_h": [1, 0, 2], "Y_c": [1, 0, 2]}
        nodes += [helper.make_node("Transpose", [o + "_t"], [o], perm=perms[o])
                  for o in out_names if wrap and o]
        ins = [helper.make_tensor_value_info(k, tensor_type(v.dtype), v.shape)
               for k, v in feeds.items()]
        outputs = [helper.make_tensor_value_info(o, tensor_type(dt), None)
                   for o in out_names if o]
        return make_model(nodes, ins, outputs, inits), feeds

    model, feeds = build(layout, False, dtype)
    if not layout and dtype == np.float32:
        return Case(name, model, feeds)
    # onnxruntime runs these ops in float32 only: float64 is checked against that.
    ref, ref_feeds = build(0, bool(layout), np.float32)
    return Case(name, model, feeds, ref, ref_feeds)


def helper_cases():
    f64 = np.float64
    return [
        # RNN
        recurrent("rnn_forward_const", "RNN", 5, 3, 4, 6, const_weights=True),
        recurrent("rnn_bidir_clip", "RNN", 4, 2, 3, 5, direction="bidirectional", h0=True,
                  clip=0.8, activations=["Relu", "Tanh"], wscale=2.0),
        recurrent("rnn_reverse_lens", "RNN", 6, 4, 3, 5, direction="reverse", lens=[6, 2, 4, 1],
                  h0=True),
        # RNN gives activation i the i-th alpha and beta (as onnxruntime).
        recurrent("rnn_bidir_acts", "RNN", 4, 2, 3, 4, direction="bidirectional",
                  activations=["LeakyRelu", "HardSigmoid"], activation_alpha=[0.1, 0.3],
                  activation_beta=[0.0, 0.6], lens=[3, 4]),
        recurrent("rnn_softsign_f64", "RNN", 5, 2, 3, 4, dtype=f64, activations=["Softsign"],
                  lens=[5, 2], h0=True, direction="reverse"),
        recurrent("rnn_layout1", "RNN", 4, 3, 2, 5, layout=1, direction="bidirectional",
                  h0=True, lens=[4, 1, 3]),
        recurrent("rnn_yh_only", "RNN", 3, 2, 3, 4, outs=("Y_h",)),
        # GRU
        recurrent("gru_bidir_lbr", "GRU", 5, 3, 4, 6, direction="bidirectional",
                  linear_before_reset=1, h0=True, lens=[5, 3, 1]),
        recurrent("gru_reverse_clip_acts", "GRU", 6, 2, 3, 4, direction="reverse", clip=0.5,
                  activations=["HardSigmoid", "Softsign"], activation_alpha=[0.25],
                  activation_beta=[0.45], wscale=2.0),
        # GRU and LSTM hand alphas and betas out in order to the
        # activations that take one (as onnxruntime).
        recurrent("gru_bidir_acts", "GRU", 4, 2, 3, 5, direction="bidirectional",
                  activations=["Sigmoid", "Elu", "ScaledTanh", "Softplus"],
                  activation_alpha=[0.7, 0.9], activation_beta=[1.3], h0=True),
        recurrent("gru_f64_lens", "GRU", 5, 3, 2, 4, dtype=f64, lens=[2, 5, 4],
                  direction="bidirectional", linear_before_reset=1),
        recurrent("gru_nobias_y", "GRU", 4, 2, 3, 5, bias=False, outs=("Y",)),
        recurrent("gru_layout1", "GRU", 3, 2, 4, 5, layout=1, h0=True, lens=[2, 3]),
        # LSTM
        recurrent("lstm_bidir_full", "LSTM", 5, 3, 4, 6, direction="bidirectional", h0=True,
                  c0=True, peep=True, lens=[5, 2, 3], clip=1.5, outs=("Y", "Y_h", "Y_c"),
                  wscale=1.5),
        recurrent("lstm_input_forget", "LSTM", 4, 2, 3, 5, input_forget=1, peep=True,
                  c0=True, outs=("Y", "Y_h", "Y_c")),
        recurrent("lstm_reverse_const", "LSTM", 6, 2, 5, 4, direction="reverse",
                  const_weights=True, peep=True, lens=[6, 3], outs=("Y_c",)),
        recurrent("lstm_bidir_acts", "LSTM", 4, 2, 3, 4, direction="bidirectional",
                  activations=["HardSigmoid", "Affine", "ThresholdedRelu",
                               "Sigmoid", "LeakyRelu", "Softsign"],
                  activation_alpha=[0.3, 0.8, 0.2, 0.05], activation_beta=[0.55, 0.1],
                  outs=("Y", "Y_h", "Y_c")),
        recurrent("lstm_f64", "LSTM", 5, 2, 3, 4, dtype=f64, h0=True, c0=True, peep=True,
                  lens=[3, 5], outs=("Y", "Y_h", "Y_c")),
        recurrent("lstm_layout1", "LSTM", 4, 3, 3, 5, layout=1, direction="bidirectional",
                  h0=True, c0=True, lens=[4, 2, 1], outs=("Y", "Y_h", "Y_c")),
        # Long sequences: X * W^T in chunks of 25 steps, then of 1 step
        # (37 is prime); batch rows on threads.
        recurrent("lstm_long_chunks", "LSTM", 50, 4, 16, 64, direction="bidirectional",
                  lens=[50, 17, 33, 49], outs=("Y", "Y_h", "Y_c")),
        recurrent("gru_prime_steps", "GRU", 37, 4, 8, 96, direction="reverse", lens=[37, 5, 20, 36]),
    ]


def torch_cases(tmp):
    """A 2-layer bidirectional LSTM and a 1-layer GRU from torch.onnx.export."""
    import warnings

    import torch

    warnings.filterwarnings("ignore")  # the exporter's notes on batch sizes
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

        def forward(self, x, h0, *c0):
            y, state = self.rnn(x, (h0, *c0) if c0 else h0)
            return (y, *state) if isinstance(state, tuple) else (y, state)

    specs = [
        ("torch_lstm_2layer_bidir", torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True),
         ["Y", "h_n", "c_n"], True),
        ("torch_gru", torch.nn.GRU(8, 12), ["Y", "h_n"], False),
    ]
    cases = []
    for name, rnn, outs, has_c in specs:
        layers = rnn.num_layers * (2 if rnn.bidirectional else 1)
        x = torch.randn(7, 3, 8)
        h0 = torch.randn(layers, 3, rnn.hidden_size)
        args = (x, h0, torch.randn(layers, 3, rnn.hidden_size)) if has_c else (x, h0)
        in_names = ["x", "h0", "c0"][: len(args)]
        path = os.path.join(tmp, name + ".onnx")
        torch.onnx.export(Net(rnn.eval()), args, path, opset_version=OPSET,
                          input_names=in_names, output_names=outs)
        model = onnx.load(path)
        model.ir_version = min(model.ir_version, IR_VERSION)
        ops = {n.op_type for n in model.graph.node}
        assert ops & {"LSTM", "GRU"}, f"{name}: export has no recurrent node: {ops}"
        feeds = {k: a.numpy() for k, a in zip(in_names, args)}
        cases.append(Case(name, model, feeds))
    return cases


def check_c(nncc, model_path, work):
    """The generated C builds warning-free with gcc and clang; None or why not."""
    c = os.path.join(work, "m.c")
    r = subprocess.run([nncc, model_path, "-o", c], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return "nncc failed: " + r.stderr.strip()
    for cc in ("gcc", "clang"):
        if not shutil.which(cc):
            continue
        r = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-c", c, "-o",
                            os.path.join(work, "m.o")], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            return f"{cc} failed:\n{r.stderr[-2000:]}"
    return None


def run_case(nncc, case, work, cc):
    """Prints the comparison; True when every output passes."""
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "model.onnx")
    ref_path = os.path.join(work, "ref.onnx")
    onnx.save(case.model, path)
    onnx.save(case.ref_model, ref_path)
    names, refs = compare_ort.run_ort(ref_path, case.ref_feeds)
    files = {}
    for i, (name, val) in enumerate(case.feeds.items()):
        files[name] = os.path.join(work, f"input_{i}.npy")
        np.save(files[name], val)
    outdir = os.path.join(work, "out")
    os.makedirs(outdir, exist_ok=True)
    try:
        got = compare_ort.run_nncc(nncc, path, files, outdir, len(refs), 300)
    except SystemExit:
        return False
    ok = all([compare_ort.compare(n, g, r, case.tol) for n, g, r in zip(names, got, refs)])
    if cc:
        why = check_c(nncc, path, work)
        if why:
            print(f"generated C: {why}")
            ok = False
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--filter", default="", help="only cases whose name matches REGEX")
    ap.add_argument("--keep", help="write models and outputs under this directory")
    ap.add_argument("--no-cc", action="store_true", help="skip the gcc/clang build check")
    args = ap.parse_args()
    tmp = args.keep or tempfile.mkdtemp(prefix="nncc_recurrent_")
    os.makedirs(tmp, exist_ok=True)
    passed = failed = 0
    try:
        cases = helper_cases() + torch_cases(tmp)
        for case in cases:
            if not re.search(args.filter, case.name):
                continue
            print(f"== {case.name}", flush=True)
            try:
                ok = run_case(args.nncc, case, os.path.join(tmp, case.name), not args.no_cc)
            except Exception as e:  # one broken case must not hide the others
                print(f"error: {type(e).__name__}: {e}")
                ok = False
            if ok:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {case.name}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
