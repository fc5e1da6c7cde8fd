#!/usr/bin/env python3
"""`update = sample` in a .nn train block: nncc compiles the module for a
batch of 1, so the trainer takes one optimizer step per sample (the
checkpoint's step count is the samples seen), and two steps equal two
per-sample SGD steps of PyTorch from the same initial weights. A batch
forced beside it (`--batch`, or `batch =` in the block) is an error
naming both."""
import argparse, os, shutil, struct, sys, tempfile

import numpy as np

MODEL = """model tiny

input x [3]

h = dense(x, 4, activation=tanh)
y = dense(h, 2)

output y

train {
  loss      = mse(y)
  optimizer = sgd(lr=0.1)
  update    = sample
  epochs    = 1
  seed      = 2
}
"""
CKPT_STEP_OFFSET = 32  # runtime/checkpoint.c: magic, hash, state bytes, epochs, then steps
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, failures, run  # noqa: E402


def weights(path):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    return m, {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}


def forward(model, w, x):
    """The exported graph (Gemm, Tanh, Relu) in torch, on weights w (tensors)."""
    import torch
    env = {model.graph.input[0].name: x}
    for n in model.graph.node:
        a = {at.name: at for at in n.attribute}
        ins = [env[i] if i in env else w[i] for i in n.input]
        if n.op_type == "Gemm":
            A = ins[0].T if a.get("transA") and a["transA"].i else ins[0]
            Bm = ins[1].T if a.get("transB") and a["transB"].i else ins[1]
            out = A @ Bm + (ins[2] if len(ins) > 2 else 0)
        elif n.op_type in ("Tanh", "Relu"):
            out = torch.tanh(ins[0]) if n.op_type == "Tanh" else torch.relu(ins[0])
        else:
            raise RuntimeError("unexpected op " + n.op_type)
        env[n.output[0]] = out
    return env[model.graph.output[0].name]


def torch_steps(model, w0, xs, ys, lr, per_sample):
    """SGD on MSE (mean over the outputs, as nncc's), one step per sample or
    one step on the batch mean."""
    import torch
    w = {k: torch.tensor(v, requires_grad=True) for k, v in w0.items() if v.ndim}
    batches = [(xs[i:i + 1], ys[i:i + 1]) for i in range(len(xs))] if per_sample else [(xs, ys)]
    for x, y in batches:
        loss = ((forward(model, w, torch.tensor(x)) - torch.tensor(y)) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for v in w.values():
                v -= lr * v.grad
                v.grad = None
    return {k: v.detach().numpy() for k, v in w.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="nncc_update_sample_")
    P = lambda name: os.path.join(tmp, name)
    open(P("tiny.nn"), "w").write(MODEL)
    rc, _, err = run(a.nncc, "train", P("tiny.nn"), "-o", P("tiny.c"), "--build")
    header = open(P("tiny.h")).read() if rc == 0 else ""
    check(rc == 0 and "#define TINY_BATCH 1\n" in header and "note" not in err,
          "update = sample: the module takes batches of 1" + ("" if rc == 0 else "\n" + err))
    if failures:
        return 1

    rng = np.random.default_rng(4)
    n = 13
    np.save(P("x.npy"), rng.uniform(-1, 1, (n, 3)).astype(np.float32))
    np.save(P("y.npy"), rng.uniform(-1, 1, (n, 2)).astype(np.float32))
    rc, _, err = run(P("tiny"), "--train", P("x.npy"), "--train-labels", P("y.npy"), "--epochs", "2",
                     "--checkpoint", P("a.ckpt"))
    steps = struct.unpack_from("<q", open(P("a.ckpt"), "rb").read(), CKPT_STEP_OFFSET)[0] if rc == 0 else -1
    check(steps == 2 * n, f"2 epochs of {n} samples take {steps} optimizer steps (one per sample)")

    # Two samples, one epoch: two SGD steps. The epoch's order comes from the
    # trainer's shuffle, so the result must be one of the two orders' and not
    # the single step on both samples' mean.
    x2 = rng.uniform(-1, 1, (2, 3)).astype(np.float32)
    y2 = rng.uniform(-1, 1, (2, 2)).astype(np.float32)
    np.save(P("x2.npy"), x2)
    np.save(P("y2.npy"), y2)
    rc, _, err = run(a.nncc, "export", P("tiny.nn"), "-o", P("init.onnx"))
    rc2, _, err2 = run(P("tiny"), "--train", P("x2.npy"), "--train-labels", P("y2.npy"), "--epochs", "1",
                       "--export-onnx", P("two.onnx"))
    check(rc == 0 and rc2 == 0, "the initial weights (nncc export) and two per-sample steps (--export-onnx)"
          + ("" if rc == 0 and rc2 == 0 else "\n" + err + err2))
    if rc == 0 and rc2 == 0:
        model, w0 = weights(P("init.onnx"))
        _, got = weights(P("two.onnx"))
        x64, y64 = x2.astype(np.float64), y2.astype(np.float64)
        orders = [torch_steps(model, w0, x64[o], y64[o], 0.1, True) for o in ([0, 1], [1, 0])]
        mean_step = torch_steps(model, w0, x64, y64, 0.1, False)
        err_of = lambda ref: max(np.abs(got[k] - ref[k]).max() / (1e-5 * (1 + np.abs(ref[k]).max()))
                                 for k in ref)
        best = min(err_of(r) for r in orders)
        check(best <= 1 and err_of(mean_step) > 10,
              f"two steps equal PyTorch's per-sample SGD (worst at {best:.3f} of the 1e-5 tolerance; "
              f"the mini-batch step is {err_of(mean_step):.0f} times it away)")

    # A batch forced beside update = sample.
    rc, _, err = run(a.nncc, "train", P("tiny.nn"), "-o", P("t2.c"), "--batch", "8")
    check(rc == 1 and f"nncc: error: {P('tiny.nn')}: --batch 8 contradicts the train block's "
          "update = sample" in err and not os.path.exists(P("t2.c")), "--batch 8: " + err.strip()[:150])
    rc, _, err = run(a.nncc, "train", P("tiny.nn"), "-o", P("t2.c"), "--batch", "1")
    check(rc == 0, "--batch 1 agrees with update = sample")
    open(P("b.nn"), "w").write(MODEL.replace("  epochs", "  batch     = 16\n  epochs"))
    rc, _, err = run(a.nncc, "train", P("b.nn"), "-o", P("t3.c"))
    check(rc == 1 and "b.nn:14:3: error: batch = 16 contradicts update = sample (one sample per step)" in err
          and not os.path.exists(P("t3.c")), "batch = 16 in the block: " + err.strip().splitlines()[0][-90:]
          if err.strip() else "no error")

    if a.keep:
        print("kept", tmp)
    else:
        shutil.rmtree(tmp)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
