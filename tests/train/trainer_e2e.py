#!/usr/bin/env python3
"""`nncc train MODEL.nn --build` end to end with a generated module: the
program builds alone (gcc and clang, -Wall -Wextra -Werror), trains a small
classifier, resumes from a checkpoint bit-identically, stops on a loss that
is not a number, and exports ONNX that onnxruntime and nncc both run to the
trainer's own validation figures."""
import argparse, os, shutil, sys, tempfile

import numpy as np

MODEL = """# A small classifier for the trainer's end-to-end test
model mlp3

input x [4]

h = dense(x, 16, activation=relu)
logits = dense(h, 3)

output logits

train {
  loss      = cross_entropy(logits, from_logits=true)
  optimizer = adam(lr=0.05)
  batch     = 8
  epochs    = 4
  seed      = 3
}
"""
CKPT_HEADER = 96  # runtime/checkpoint.c
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, failures, run  # noqa: E402


def clusters(n, rng):
    centers = np.array([[40, 200, 40, 200], [200, 40, 200, 40], [200, 200, 40, 40]], float)
    y = rng.integers(0, 3, n)
    x = np.clip(centers[y] + rng.normal(0, 30, (n, 4)), 0, 255) / 255
    return x.astype(np.float32), y.astype(np.int64)


def figure(out, key):
    line = [l for l in out.splitlines() if l.startswith("final:")][0]
    return float(line.split(key)[1].split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="nncc_trainer_e2e_")
    P = lambda name: os.path.join(tmp, name)
    open(P("mlp3.nn"), "w").write(MODEL)
    rc, out, err = run(a.nncc, "train", P("mlp3.nn"), "-o", P("train.c"), "--build")
    check(rc == 0 and os.access(P("train"), os.X_OK), "nncc train --build writes and builds the program"
          + ("" if rc == 0 else "\n" + err))
    if failures:
        return 1
    for cc in ("gcc", "clang"):
        if shutil.which(cc):
            omp = ["-fopenmp"] if cc == "gcc" else []  # clang: no OpenMP runtime here
            rc, _, err = run(cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", *omp, P("train.c"),
                             "-o", P("train-" + cc), "-lm", "-lz")
            check(rc == 0, f"train.c builds alone with {cc} -Wall -Wextra -Werror" + ("" if rc == 0 else "\n" + err[:2000]))
    rc, out, err = run(a.nncc, "train", P("mlp3.nn"), "-o", P("module.c"), "--module-only")
    check(rc == 0 and "int main(" not in open(P("module.c")).read(), "--module-only: the module alone")

    rng = np.random.default_rng(5)
    for name, n in (("tr", 203), ("va", 60)):
        x, y = clusters(n, rng)
        np.save(P(name + "-x.npy"), x)
        np.save(P(name + "-y.npy"), y)
    data = ["--train", P("tr-x.npy"), "--train-labels", P("tr-y.npy"),
            "--val", P("va-x.npy"), "--val-labels", P("va-y.npy")]
    rc, out, err = run(P("train"), *data, "--checkpoint", P("a.ckpt"), "--export-onnx", P("mlp3.onnx"))
    acc, loss = (figure(out, "val_accuracy"), figure(out, "val_loss")) if rc == 0 else (0, 0)
    check(rc == 0 and acc >= 0.95 and err.count("epoch ") == 4,
          f"4 epochs (the train block's) reach val_accuracy {acc} (>= 0.95), val_loss {loss}")

    run(P("train"), *data, "--epochs", "2", "--checkpoint", P("b.ckpt"))
    rc, _, err = run(P("train"), *data, "--resume", P("b.ckpt"), "--checkpoint", P("b.ckpt"))
    same = rc == 0 and open(P("a.ckpt"), "rb").read() == open(P("b.ckpt"), "rb").read()
    check(same, "2 epochs, then resumed to 4: the checkpoint equals 4 unbroken epochs (Adam state too)")

    np.save(P("huge-x.npy"), np.full((203, 4), 3e38, np.float32))
    rc, _, err = run(P("train"), "--train", P("huge-x.npy"), "--train-labels", P("tr-y.npy"))
    check(rc == 1 and "the first gradient that is not finite is 'h.weight.grad' (layer 'h')" in err,
          "a loss that is not finite stops the run: " + err.strip().splitlines()[-1][:150] if err.strip() else "")

    import onnx, onnxruntime as ort
    m = onnx.load(P("mlp3.onnx"))
    onnx.checker.check_model(m)
    sess = ort.InferenceSession(P("mlp3.onnx"), providers=["CPUExecutionProvider"])
    x, y = np.load(P("va-x.npy")), np.load(P("va-y.npy"))
    name = m.graph.input[0].name
    logits = np.concatenate([sess.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])
    lse = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    ort_loss = float((lse - logits[np.arange(len(y)), y]).mean())
    ort_acc = float((logits.argmax(1) == y).mean())
    check(abs(ort_loss - loss) < 1e-5 + 1e-3 * loss and ort_acc == acc,
          f"onnxruntime on the export: val_loss {ort_loss:.5f}, val_accuracy {ort_acc} (the trainer's: {loss}, {acc})")
    np.save(P("x8.npy"), x[:8])
    rc, _, err = run(a.nncc, "run", P("mlp3.onnx"), "--input", P("x8.npy"), "--output-dir", tmp)
    diff = np.abs(np.load(P("output_0.npy")) - logits[:8]).max() if rc == 0 else 1
    check(rc == 0 and diff < 1e-5, f"nncc compiles the export and agrees with onnxruntime (max |diff| {diff:.2g})")

    # Validation loss (the runtime's, from predictions) equals the module's training loss
    # on the same samples with the weights held still, for every loss.
    x = rng.normal(size=(40, 3)).astype(np.float32)
    np.save(P("lx.npy"), x)
    pm = lambda shape: (2 * rng.integers(0, 2, shape) - 1).astype(np.float32)
    cases = {"mae(y)": rng.normal(size=(40, 2)).astype(np.float32),
             "mse(y)": rng.normal(size=(40, 2)).astype(np.float32),
             "cross_entropy(y)": rng.integers(0, 2, 40),
             "cross_entropy(y, from_logits=true)": rng.integers(0, 2, 40),
             "binary_cross_entropy(y)": rng.integers(0, 2, (40, 2)).astype(np.float32),
             "binary_cross_entropy(y, from_logits=true)": rng.integers(0, 2, (40, 2)).astype(np.float32),
             "hinge(y)": pm((40, 2)), "nll(y)": rng.integers(0, 2, 40)}
    for act in ("sigmoid", "linear"):
        for loss, y in cases.items():
            if act == "linear" and loss in ("cross_entropy(y)", "binary_cross_entropy(y)"):
                continue  # probabilities expected: a linear output's log would be NaN
            np.save(P("ly.npy"), y)
            open(P("l.nn"), "w").write(f"model l\ninput x [3]\nh = dense(x, 8, activation=tanh)\n"
                                       f"y = dense(h, 2, activation={act})\noutput y\n"
                                       f"train {{\n  loss = {loss}\n  batch = 16\n}}\n")
            rc, _, err = run(a.nncc, "train", P("l.nn"), "-o", P("l.c"), "--build")
            if rc == 0:
                rc, _, err = run(P("l"), "--train", P("lx.npy"), "--train-labels", P("ly.npy"), "--val",
                                 P("lx.npy"), "--val-labels", P("ly.npy"), "--epochs", "1", "--lr", "1e-12")
            line = [l for l in err.splitlines() if l.startswith("epoch ")]
            got = [float(line[0].split(k)[1].split()[0]) for k in ("  loss", "val_loss")] if line else [0, 1]
            check(rc == 0 and abs(got[0] - got[1]) <= 1e-4 * max(1, abs(got[0])),
                  f"{act} output, {loss}: training loss {got[0]}, validation loss {got[1]}")

    if a.keep:
        print("kept", tmp)
    else:
        shutil.rmtree(tmp)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
