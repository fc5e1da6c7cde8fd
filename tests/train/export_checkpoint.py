#!/usr/bin/env python3
"""`nncc export MODEL --checkpoint CKPT -o OUT.onnx`: a trainer's checkpoint
as ONNX without running the trainer. For a .nn model (batch norm, dropout,
early stopping) and an ONNX model (options instead of a train block), one
epoch is trained with --checkpoint; the trainer's own export
(`--resume CKPT --epochs 1 --export-onnx`) and nncc export's are the same
bytes, and onnxruntime on them gives the trainer's validation loss. Then
every error by its text: another model's or other options' checkpoint, a
truncated, damaged or foreign file, a GAN file, a missing -o; none leaves
a file behind."""
import argparse, os, shutil, sys, tempfile

import numpy as np

MODEL_NN = """model bnmlp

input x [4]

h = dense(x, 12, activation=relu)
n = batchnorm(h)
d = dropout(n, 0.25)
logits = dense(d, 3)

output logits

train {
  loss      = cross_entropy(logits, from_logits=true)
  optimizer = adam(lr=0.02)
  batch     = 8
  epochs    = 3
  seed      = 4
  early_stopping = early_stopping(val_loss, 1)
}
"""
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, failures, run  # noqa: E402


def final_val_loss(out):
    line = [l for l in out.splitlines() if l.startswith("final:")]
    return float(line[0].split("val_loss")[1].split()[0]) if line else None


def ort_ce(path, x, y):
    """Mean cross-entropy of the logits onnxruntime computes, one sample at a time
    for a model whose batch is open, else in batches of its fixed size."""
    import onnx, onnxruntime as ort
    m = onnx.load(path)
    onnx.checker.check_model(m)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    inp = m.graph.input[0]
    b = inp.type.tensor_type.shape.dim[0].dim_value or 1
    n = len(x) - len(x) % b
    logits = np.concatenate([sess.run(None, {inp.name: x[i:i + b]})[0] for i in range(0, n, b)])
    lse = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    return float((lse - logits[np.arange(n), y[:n]]).mean()), n


def onnx_mlp(path):
    """Gemm-BatchNormalization-Relu-Gemm with fixed weights: nncc train takes its options
    instead of a block. The batch norm is in PyTorch's training export form (training_mode=1,
    the updated statistics as outputs nothing reads); the trained model must be its
    inference form, normalizing by the running statistics as the trainer validates."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, s).astype(np.float32), n)
             for n, s in (("W1", (4, 10)), ("b1", (10,)), ("W2", (10, 3)), ("b2", (3,)))]
    inits += [numpy_helper.from_array(v.astype(np.float32), n) for n, v in
              (("s", np.ones(10)), ("b", np.zeros(10)), ("rm", np.zeros(10)), ("rv", np.ones(10)))]
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"]),
             helper.make_node("BatchNormalization", ["h", "s", "b", "rm", "rv"], ["hn", "rm_new", "rv_new"],
                              training_mode=1),
             helper.make_node("Relu", ["hn"], ["r"]), helper.make_node("Gemm", ["r", "W2", "b2"], ["logits"])]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])], inits)
    import onnx
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def moved_weights(nncc, model, exe):
    """Whether every initializer of the trained export differs from the model's
    initial value (nncc export's of a .nn file, the file's own of an ONNX one)."""
    import onnx
    from onnx import numpy_helper
    init = model
    if model.endswith(".nn"):
        init = exe + "-init.onnx"
        if run(nncc, "export", model, "-o", init)[0]:
            return False
    before = {t.name: numpy_helper.to_array(t) for t in onnx.load(init).graph.initializer}
    after = {t.name: numpy_helper.to_array(t) for t in onnx.load(exe + "-nncc.onnx").graph.initializer}
    weights = [k for k in after if k in before and after[k].dtype == np.float32 and after[k].ndim]
    return len(weights) >= 4 and all(not np.array_equal(before[k], after[k]) for k in weights)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="nncc_export_ckpt_")
    P = lambda name: os.path.join(tmp, name)
    rng = np.random.default_rng(11)
    centers = np.array([[0.2, 0.8, 0.2, 0.8], [0.8, 0.2, 0.8, 0.2], [0.8, 0.8, 0.2, 0.2]], np.float32)
    for name, n in (("tr", 101), ("va", 40)):
        y = rng.integers(0, 3, n)
        np.save(P(name + "-x.npy"), (centers[y] + rng.normal(0, 0.15, (n, 4))).astype(np.float32))
        np.save(P(name + "-y.npy"), y.astype(np.int64))
    data = ["--train", P("tr-x.npy"), "--train-labels", P("tr-y.npy"),
            "--val", P("va-x.npy"), "--val-labels", P("va-y.npy")]
    xv, yv = np.load(P("va-x.npy")), np.load(P("va-y.npy"))

    open(P("bnmlp.nn"), "w").write(MODEL_NN)
    onnx_mlp(P("mlp.onnx"))
    onnx_opts = ["--loss", "ce", "--from-logits", "--optimizer", "momentum", "--batch", "4", "--lr", "0.05"]
    for label, model, opts in (("bnmlp.nn", P("bnmlp.nn"), []), ("mlp.onnx", P("mlp.onnx"), onnx_opts)):
        exe = P(label.replace(".", "_"))
        rc, _, err = run(a.nncc, "train", model, "-o", exe + ".c", "--build", *opts)
        check(rc == 0, f"{label}: nncc train --build" + ("" if rc == 0 else "\n" + err))
        if rc:
            continue
        ck = exe + ".ckpt"
        rc, out, err = run(exe, *data, "--epochs", "1", "--checkpoint", ck)
        check(rc == 0 and os.path.exists(ck), f"{label}: one epoch with --checkpoint" + ("" if rc == 0 else "\n" + err))
        rc, out, err = run(exe, *data, "--resume", ck, "--epochs", "1", "--export-onnx", exe + "-trainer.onnx")
        loss = final_val_loss(out)
        check(rc == 0 and loss is not None, f"{label}: the trainer's export (--resume --epochs 1 --export-onnx)")
        rc, _, err = run(a.nncc, "export", model, "--checkpoint", ck, "-o", exe + "-nncc.onnx", *opts)
        check(rc == 0, f"{label}: nncc export --checkpoint" + ("" if rc == 0 else "\n" + err))
        if rc or loss is None:
            continue
        same = open(exe + "-trainer.onnx", "rb").read() == open(exe + "-nncc.onnx", "rb").read()
        check(same, f"{label}: both exports are the same bytes")
        check(moved_weights(a.nncc, model, exe), f"{label}: the export holds trained weights, not the initial ones")
        ort_loss, n = ort_ce(exe + "-nncc.onnx", xv, yv)
        # the trainer's val_loss covers all 40 samples; the ONNX model's batches of 4 too
        check(abs(ort_loss - loss) < 1e-5 + 1e-4 * loss,
              f"{label}: onnxruntime on the export: val_loss {ort_loss:.6f} over {n} samples (the trainer's {loss:.6f})")

    # Early stopping: the best epoch's weights, as an unbroken run exports them.
    exe = P("bnmlp_nn")
    rc, out, err = run(exe, *data, "--epochs", "6", "--checkpoint", P("es.ckpt"), "--export-onnx", P("es-trainer.onnx"))
    rc2, _, err2 = run(a.nncc, "export", P("bnmlp.nn"), "--checkpoint", P("es.ckpt"), "-o", P("es-nncc.onnx"))
    same = rc == 0 and rc2 == 0 and open(P("es-trainer.onnx"), "rb").read() == open(P("es-nncc.onnx"), "rb").read()
    restored = "restored the weights of epoch" in err
    check(same and (not restored or "early stopping's best weights" in err2),
          "early stopping: nncc export writes the weights the trainer exports"
          + (" (the best epoch's, restored)" if restored else ""))

    # Errors: one line naming the file, status 1, no output.
    blob = open(P("bnmlp_nn.ckpt"), "rb").read()
    open(P("short.ckpt"), "wb").write(blob[:len(blob) // 2])
    open(P("header.ckpt"), "wb").write(blob[:40])
    bad = bytearray(blob)
    bad[200] ^= 1
    open(P("bad.ckpt"), "wb").write(bytes(bad))
    nn, ox = P("bnmlp.nn"), P("mlp.onnx")
    cases = [
        ([ox, "--checkpoint", P("bnmlp_nn.ckpt"), *onnx_opts],
         f"nncc: error: {P('bnmlp_nn.ckpt')}: written by a different model or different training options"),
        ([ox, "--checkpoint", P("mlp_onnx.ckpt"), "--loss", "ce", "--optimizer", "adam", "--batch", "4"],
         f"is not the one {ox} compiles to with these options"),
        ([nn, "--checkpoint", P("short.ckpt")], f"nncc: error: {P('short.ckpt')}: truncated checkpoint"),
        ([nn, "--checkpoint", P("header.ckpt")], f"nncc: error: {P('header.ckpt')}: truncated checkpoint"),
        ([nn, "--checkpoint", P("bad.ckpt")], f"nncc: error: {P('bad.ckpt')}: damaged checkpoint (checksum mismatch)"),
        ([nn, "--checkpoint", P("tr-x.npy")], f"nncc: error: {P('tr-x.npy')}: not an nncc checkpoint (bad magic)"),
        ([nn, "--checkpoint", P("none.ckpt")], f"nncc: error: {P('none.ckpt')}: cannot open the checkpoint"),
        ([nn, "--checkpoint"], "nncc: error: export: --checkpoint needs a file name"),
        ([nn, "--checkpoint", P("bnmlp_nn.ckpt"), "--build"], "unknown option '--build'"),
    ]
    here = os.path.dirname(os.path.abspath(__file__))
    gan = os.path.join(here, "gan_toy.nn")
    cases.append(([gan, "--checkpoint", P("bnmlp_nn.ckpt")],
                  f"nncc: error: {gan}: a GAN (models 'generator', 'discriminator', 'gan'): its "
                  "trainer's checkpoint holds all three models"))
    cases.append(([gan, "--model", "discriminator", "--checkpoint", P("bnmlp_nn.ckpt")],
                  "(a GAN trainer's checkpoint holds all three models: its --export-onnx and "
                  "--export-discriminator export them)"))
    for args, want in cases:
        if os.path.exists(P("err.onnx")):
            os.remove(P("err.onnx"))
        rc, _, err = run(a.nncc, "export", args[0], "-o", P("err.onnx"), *args[1:])
        one = len([l for l in err.splitlines() if "error" in l]) == 1
        check(rc == 1 and want in err and one and not os.path.exists(P("err.onnx")),
              f"error: {err.strip()[:170] or '(none)'}")
    rc, _, err = run(a.nncc, "export", nn, "--checkpoint", P("bnmlp_nn.ckpt"))
    check(rc == 1 and "usage: nncc export MODEL --checkpoint CKPT -o OUT.onnx" in err,
          f"without -o: {err.strip()[:120]}")

    if a.keep:
        print("kept", tmp)
    else:
        shutil.rmtree(tmp)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
