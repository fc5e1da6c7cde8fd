"""The layers whose meaning is more than one ONNX op, checked against a
plain numpy reading of their definition (not against their own lowering):

  - primary_capsules, squash and capsules (dynamic routing, Sabour et al.
    2017, procedure 1), capsule_length and capsule_mask;
  - rnn/lstm/gru options: merge=sum|mul|ave of a bidirectional layer equals
    the same reduction of the two directions onnxruntime's own LSTM/GRU
    gives with the layer's weights, merge=concat puts them side by side, and
    an initial state changes the result (it reaches the op);
  - model calls: in models/nn/dcgan.nn, `gan` (the discriminator applied to
    the generator's output) equals running `generator`, then
    `discriminator` on its image: the called models keep their weights.

Weights come from the model `nncc export` writes, outputs from `nncc run`.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

CAPS = """model caps
input img [2, 12, 12]
p = primary_capsules(img, 3, 4, kernel=5, stride=2)
c = capsules(p, 5, 6, routing=ROUTING)
n = capsule_length(c)
k = capsule_mask(c)
output p, c, n, k
"""

MERGE = """model merge
input s [5, 3]
input h [2, 8]
cat = lstm(s, 4, bidirectional=true, return_sequences=true)
sum = lstm(s, 4, bidirectional=true, return_sequences=true, merge=sum)
mul = lstm(s, 4, bidirectional=true, return_sequences=true, merge=mul)
ave = lstm(s, 4, bidirectional=true, return_sequences=true, merge=ave)
last_cat = gru(s, 4, bidirectional=true)
last_ave = gru(s, 4, bidirectional=true, merge=ave)
zero = rnn(s, 4, bidirectional=true, layers=2)
from_h = rnn(s, 4, bidirectional=true, layers=2, initial_state=h)
output cat, sum, mul, ave, last_cat, last_ave, zero, from_h
"""


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: {r.stderr}")


def compile_and_run(nncc, tmp, name, text, inputs, path=None, pick=()):
    """(outputs of nncc run, weights by name from nncc export)."""
    if not path:
        path = os.path.join(tmp, name + ".nn")
        with open(path, "w") as f:
            f.write(text)
    args = list(pick)
    for k, v in inputs.items():
        np.save(os.path.join(tmp, k + ".npy"), v)
        args += ["--input", f"{k}={os.path.join(tmp, k + '.npy')}"]
    out_dir = os.path.join(tmp, name + "_out")
    sh([nncc, "run", path, *args, "--output-dir", out_dir])
    sh([nncc, "export", path, *pick, "-o", os.path.join(tmp, name + ".onnx")])
    model = onnx.load(os.path.join(tmp, name + ".onnx"))
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    outs, i = [], 0
    while os.path.exists(os.path.join(out_dir, f"output_{i}.npy")):
        outs.append(np.load(os.path.join(out_dir, f"output_{i}.npy")))
        i += 1
    return outs, weights


def squash(s):
    n = np.sum(s * s, axis=-1, keepdims=True)
    return s * n / (1 + n) / np.sqrt(n + 1e-7)


def conv2d(x, w, b, stride):
    """x [C, H, W], w [F, C, k, k], valid padding."""
    F, C, kh, kw = w.shape
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    y = np.zeros((F, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
            y[:, i, j] = np.tensordot(w, patch, axes=3) + b
    return y


def capsules_reference(img, wts, routing):
    conv = conv2d(img, wts["p.weight"], wts["p.bias"], 2)          # [12, 4, 4]
    types, dim = 3, 4
    # capsule (type n, position h, w) holds filters n*dim .. n*dim+dim-1
    u = conv.reshape(types, dim, -1).transpose(0, 2, 1).reshape(-1, dim)
    u = squash(u)                                                 # [48, 4]
    W = wts["c.weight"].reshape(u.shape[0], dim, 5, 6)            # [n_in, d_in, n_out, d_out]
    u_hat = np.einsum("id,idjk->ijk", u, W)                       # [n_in, n_out, d_out]
    b = np.zeros(u_hat.shape[:2])
    for it in range(routing):
        c = np.exp(b - b.max(axis=1, keepdims=True))
        c /= c.sum(axis=1, keepdims=True)
        v = squash(np.einsum("ij,ijk->jk", c, u_hat))
        if it + 1 < routing:
            b = b + np.einsum("ijk,jk->ij", u_hat, v)
    return u, v, np.linalg.norm(v, axis=-1)


def ort_directions(op, wts, layer, x, **attrs):
    """onnxruntime's bidirectional op with the layer's weights on x [B, T, F]:
    Y [B, T, 2, H] and Y_h [B, 2, H], batch first."""
    W, R, B = (wts[f"{layer}.{k}0"] for k in ("weight", "recurrence", "bias"))
    H = R.shape[-1]
    node = helper.make_node(op, ["x", "W", "R", "B"], ["Y", "Y_h"], hidden_size=H,
                            direction="bidirectional", **attrs)
    T, F = x.shape[1:]
    graph = helper.make_graph(
        [node], "one", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [T, 1, F])],
        [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None),
         helper.make_tensor_value_info("Y_h", onnx.TensorProto.FLOAT, None)],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"),
         numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y, y_h = sess.run(None, {"x": x.transpose(1, 0, 2)})
    return y.transpose(2, 0, 1, 3), y_h.transpose(1, 0, 2)


def check(name, got, want, problems):
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=1e-5):
        err = np.max(np.abs(got - want)) if got.shape == want.shape else f"shape {got.shape} vs {want.shape}"
        problems.append(f"{name}: differs from the reference ({err})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        img = rng.standard_normal((1, 2, 12, 12)).astype(np.float32)
        for routing in (1, 3):
            outs, wts = compile_and_run(a.nncc, tmp, f"caps{routing}",
                                        CAPS.replace("ROUTING", str(routing)), {"img": img})
            u, v, n = capsules_reference(img[0].astype(np.float64), wts, routing)
            check(f"primary_capsules (routing={routing})", outs[0][0], u, problems)
            check(f"capsules routing={routing}", outs[1][0], v, problems)
            check(f"capsule_length (routing={routing})", outs[2][0], n, problems)
            keep = np.zeros_like(v)
            keep[np.argmax(n)] = v[np.argmax(n)]
            check(f"capsule_mask (routing={routing})", outs[3][0], keep, problems)
        s = rng.standard_normal((1, 5, 3)).astype(np.float32)
        h = rng.standard_normal((1, 2, 8)).astype(np.float32)
        outs, wts = compile_and_run(a.nncc, tmp, "merge", MERGE, {"s": s, "h": h})
        cat, sm, ml, av, last_cat, last_ave, zero, from_h = outs
        y, _ = ort_directions("LSTM", wts, "cat", s)
        check("merge=concat", cat, np.concatenate([y[:, :, 0], y[:, :, 1]], axis=-1), problems)
        for name, got, fn in (("sum", sm, lambda f, b: f + b), ("mul", ml, lambda f, b: f * b),
                              ("ave", av, lambda f, b: (f + b) / 2)):
            y, _ = ort_directions("LSTM", wts, name, s)
            check(f"merge={name}", got, fn(y[:, :, 0], y[:, :, 1]), problems)
        _, y_h = ort_directions("GRU", wts, "last_ave", s, linear_before_reset=1)
        check("gru merge=ave (last state)", last_ave, (y_h[:, 0] + y_h[:, 1]) / 2, problems)
        _, y_h = ort_directions("GRU", wts, "last_cat", s, linear_before_reset=1)
        check("gru merge=concat (last state)", last_cat, y_h.reshape(1, -1), problems)
        if np.allclose(zero, from_h):
            problems.append("initial_state: the result does not depend on it")
        dcgan = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../models/nn/dcgan.nn")
        z = rng.standard_normal((1, 64)).astype(np.float32)
        (image,), _ = compile_and_run(a.nncc, tmp, "gen", None, {"z": z}, dcgan, ["--model", "generator"])
        (real,), _ = compile_and_run(a.nncc, tmp, "dis", None, {"image": image}, dcgan,
                                     ["--model", "discriminator"])
        (judged,), _ = compile_and_run(a.nncc, tmp, "gan", None, {"z": z}, dcgan, ["--model", "gan"])
        check("gan = discriminator(generator(z))", judged, real, problems)
    for p in problems:
        print("FAIL", p)
    print("ok: capsules, recurrent options and model calls match their definitions" if not problems else
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
