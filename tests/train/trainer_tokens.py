#!/usr/bin/env python3
"""The generated trainer on inputs that are not one float32 tensor: int64 and
int32 token ids (embedding + LSTM/GRU + dense) learn a synthetic sequence
task to a stated accuracy, a model with two inputs (--train-input NAME=FILE)
learns one that needs both, a tagger learns a class per position, the exports agree with the trainer under
onnxruntime, every new data and command-line error is checked by its text,
and models/nn's GRU and LSTM models train one epoch by program."""
import argparse, os, shutil, sys, tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# label = whether token 7 appears among the 12 (46% of random sequences).
# Batches of 16 over 650 and 810 samples: the last batch is short, its
# padding rows token 0.
TOKENS = """model tok

input tokens [12] {dtype}

words = embedding(tokens, 20, 16)
state = {cell}(words, 24)
score = dense(state, 1, activation=sigmoid)

output score

train {{
  loss      = binary_cross_entropy(score)
  optimizer = adam(lr=0.01)
  batch     = 16
  epochs    = 3
  seed      = 1
}}
"""
# label = (token 3 in source) != (token 5 in target): neither input alone
# says more than chance.
PAIR = """model pair

input source [6] int64
input target [6] int64

es = embedding(source, 10, 8)
et = embedding(target, 12, 8)
hs = lstm(es, 12)
ht = lstm(et, 12)
both = concat([hs, ht])
h = dense(both, 16, activation=relu)
score = dense(h, 1, activation=sigmoid)

output score

train {
  loss      = binary_cross_entropy(score)
  optimizer = adam(lr=0.01)
  batch     = 16
  epochs    = 8
  seed      = 1
}
"""
# A tagger: one class index per position (tag = token % 3), [batch, 10] labels.
TAGGER = """model tagger

input tokens [10] int64

words = embedding(tokens, 15, 8)
seq = lstm(words, 16, return_sequences=true)
tags = dense(seq, 3, activation=log_softmax)

output tags

train {
  loss      = nll(tags)
  optimizer = adam(lr=0.02)
  batch     = 16
  epochs    = 4
  seed      = 1
}
"""
# Classes on axis 1 of [batch, 3 classes, 4 positions] (PyTorch's layout), CE on logits;
# the class at position j is token j modulo 3.
AXIS1 = """model axis1

input tokens [6] int64

words = embedding(tokens, 9, 4)
flat = flatten(words)
scores = dense(flat, 12)
grid = reshape(scores, [3, 4])

output grid

train {
  loss      = cross_entropy(grid, from_logits=true)
  optimizer = adam(lr=0.02)
  batch     = 16
  epochs    = 6
  seed      = 2
}
"""
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, failures, run  # noqa: E402


def figure(out, key):
    line = [l for l in out.splitlines() if l.startswith("final:")]
    return float(line[0].split(key)[1].split()[0]) if line else float("nan")


def bce(p, y):
    p = np.clip(p.astype(np.float64), 1e-12, 1 - 1e-12)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def one_error(rc, err, status, text):
    """One line on stderr, exactly text, and the status."""
    return rc == status and err == text + "\n"


def build(nncc, tmp, name, source):
    path = os.path.join(tmp, name + ".nn")
    open(path, "w").write(source)
    rc, _, err = run(nncc, "train", path, "-o", os.path.join(tmp, name + ".c"), "--build")
    check(rc == 0, f"nncc train {name}.nn --build" + ("" if rc == 0 else "\n" + err))
    return os.path.join(tmp, name) if rc == 0 else None


def ort_scores(onnx_path, feeds):
    import onnx, onnxruntime as ort
    onnx.checker.check_model(onnx.load(onnx_path))
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0].reshape(-1)


def token_models(a, tmp, P, rng):
    x = {s: rng.integers(0, 20, (n, 12)) for s, n in (("tr", 650), ("va", 200))}
    y = {s: (v == 7).any(1).astype(np.float32) for s, v in x.items()}
    for s in x:
        np.save(P(s + "-x.npy"), x[s].astype(np.int64))
        np.save(P(s + "-y.npy"), y[s])
    chance = max(y["va"].mean(), 1 - y["va"].mean())
    data = ["--train", P("tr-x.npy"), "--train-labels", P("tr-y.npy"), "--val", P("va-x.npy"),
            "--val-labels", P("va-y.npy"), "--threads", "1"]
    exe = build(a.nncc, tmp, "tok", TOKENS.format(dtype="int64", cell="lstm"))
    if not exe:
        return
    for cc in ("gcc", "clang"):
        if shutil.which(cc):
            omp = ["-fopenmp"] if cc == "gcc" else []
            rc, _, err = run(cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", *omp, P("tok.c"),
                             "-o", P("tok-" + cc), "-lm", "-lz")
            check(rc == 0, f"the int64 trainer builds with {cc} -Wall -Wextra -Werror"
                  + ("" if rc == 0 else "\n" + err[:2000]))
    rc, out, _ = run(exe, "--help")
    check(rc == 0 and "'tokens': int64, 12 values per sample, each in [0, 20) (the vocabulary of "
          "embedding 'words')" in out and "--train-input NAME=FILE" in out,
          "--help lists the input, its type and its vocabulary")

    rc, out, err = run(exe, *data, "--export-onnx", P("tok.onnx"), "--checkpoint", P("a.ckpt"))
    acc, loss = figure(out, "val_accuracy"), figure(out, "val_loss")
    check(rc == 0 and acc >= 0.95,
          f"embedding + LSTM on int64 tokens, 3 epochs: val_accuracy {acc} (>= 0.95; chance "
          f"{chance:.3f}), val_loss {loss}" + ("" if rc == 0 else "\n" + err))
    if rc == 0:
        p = ort_scores(P("tok.onnx"), {"tokens": x["va"].astype(np.int64)})
        ort_acc, ort_loss = float(((p > 0.5) == (y["va"] > 0.5)).mean()), bce(p, y["va"])
        check(ort_acc == acc and abs(ort_loss - loss) < 1e-5 + 1e-3 * loss,
              f"onnxruntime on the export, int64 tokens: val_accuracy {ort_acc}, val_loss "
              f"{ort_loss:.6f} (the trainer's: {acc}, {loss})")
    # The named form on a one-input model trains the same bytes.
    rc, _, err = run(exe, "--train-input", "tokens=" + P("tr-x.npy"), "--train-labels", P("tr-y.npy"),
                     "--val-input", "tokens=" + P("va-x.npy"), "--val-labels", P("va-y.npy"),
                     "--threads", "1", "--checkpoint", P("b.ckpt"))
    same = rc == 0 and open(P("a.ckpt"), "rb").read() == open(P("b.ckpt"), "rb").read()
    check(same, "--train-input tokens=FILE trains what --train FILE trains (same checkpoint)")
    # Whole numbers held as float32, and as a CSV with the label first, are taken.
    np.save(P("f-x.npy"), x["tr"].astype(np.float32))
    rc, _, err = run(exe, "--train", P("f-x.npy"), "--train-labels", P("tr-y.npy"), "--epochs", "1",
                     "--threads", "1")
    check(rc == 0, "float32 NPY holding whole token ids feeds the int64 input" + ("" if rc == 0 else "\n" + err))
    np.savetxt(P("tr.csv"), np.concatenate([y["tr"][:, None], x["tr"]], 1), fmt="%d", delimiter=",")
    rc, _, err = run(exe, "--train", P("tr.csv"), "--epochs", "1", "--threads", "1")
    check(rc == 0, "a CSV of token ids feeds the int64 input" + ("" if rc == 0 else "\n" + err))

    # Every value is checked when it is loaded: file, sample, value, range.
    bad = x["tr"].copy()
    bad[3, 5] = 20
    np.save(P("oov.npy"), bad)
    rc, _, err = run(exe, "--train", P("oov.npy"), "--train-labels", P("tr-y.npy"))
    want = f"{P('oov.npy')}: sample 3: token 20 (value 5 of the sample) is outside the vocabulary " \
           "of embedding 'words' [0, 20)"
    check(one_error(rc, err, 1, want), "a token past the vocabulary: " + err.strip())
    neg = x["va"].copy()
    neg[150, 0] = -1
    np.save(P("neg.npy"), neg)
    rc, _, err = run(exe, *data[:4], "--val", P("neg.npy"), "--val-labels", P("va-y.npy"))
    want = f"{P('neg.npy')}: sample 150: token -1 (value 0 of the sample) is outside the " \
           "vocabulary of embedding 'words' [0, 20)"
    check(one_error(rc, err, 1, want), "a negative token in the validation set: " + err.strip())
    frac = x["tr"].astype(np.float64)
    frac[2, 1] = 2.5
    np.save(P("frac.npy"), frac)
    rc, _, err = run(exe, "--train", P("frac.npy"), "--train-labels", P("tr-y.npy"))
    want = f"{P('frac.npy')}: sample 2: value 1 is 2.5; input 'tokens' takes whole numbers (int64)"
    check(one_error(rc, err, 1, want), "a fraction for an int64 input: " + err.strip())
    nan = x["tr"].astype(np.float32)
    nan[4, 0] = np.nan
    np.save(P("nan.npy"), nan)
    rc, _, err = run(exe, "--train", P("nan.npy"), "--train-labels", P("tr-y.npy"))
    want = f"{P('nan.npy')}: sample 4: value 0 is NaN; input 'tokens' takes whole numbers (int64)"
    check(one_error(rc, err, 1, want), "NaN for an int64 input: " + err.strip())
    np.save(P("short.npy"), x["tr"][:, :11])
    rc, _, err = run(exe, "--train", P("short.npy"), "--train-labels", P("tr-y.npy"))
    want = f"{P('short.npy')}: 11 values per sample; the model 'tok' takes 12"
    check(one_error(rc, err, 1, want), "a sample of the wrong length: " + err.strip())

    # int32 ids and a GRU.
    exe = build(a.nncc, tmp, "tok32", TOKENS.format(dtype="int32", cell="gru"))
    if not exe:
        return
    rc, out, err = run(exe, *data, "--export-onnx", P("tok32.onnx"))
    acc, loss = figure(out, "val_accuracy"), figure(out, "val_loss")
    check(rc == 0 and acc >= 0.95,
          f"embedding + GRU on int32 tokens (read from int64 NPY), 3 epochs: val_accuracy {acc} "
          f"(>= 0.95), val_loss {loss}" + ("" if rc == 0 else "\n" + err))
    if rc == 0:
        p = ort_scores(P("tok32.onnx"), {"tokens": x["va"].astype(np.int32)})
        ort_acc, ort_loss = float(((p > 0.5) == (y["va"] > 0.5)).mean()), bce(p, y["va"])
        check(ort_acc == acc and abs(ort_loss - loss) < 1e-5 + 1e-3 * loss,
              f"onnxruntime on the export, int32 tokens: val_accuracy {ort_acc}, val_loss "
              f"{ort_loss:.6f} (the trainer's: {acc}, {loss})")
    big = x["tr"].copy()
    big[0, 3] = 3_000_000_000
    np.save(P("big.npy"), big)
    rc, _, err = run(exe, "--train", P("big.npy"), "--train-labels", P("tr-y.npy"))
    want = f"{P('big.npy')}: sample 0: value 3 is 3000000000, outside int32's range (input 'tokens')"
    check(one_error(rc, err, 1, want), "an int64 value beyond int32: " + err.strip())


def pair_model(a, tmp, P, rng):
    s = {k: rng.integers(0, 10, (n, 6)) for k, n in (("tr", 810), ("va", 200))}
    t = {k: rng.integers(0, 12, (n, 6)) for k, n in (("tr", 810), ("va", 200))}
    y = {k: ((s[k] == 3).any(1) != (t[k] == 5).any(1)).astype(np.float32) for k in s}
    for k in s:
        np.save(P(k + "-s.npy"), s[k])
        np.save(P(k + "-t.npy"), t[k])
        np.save(P(k + "-py.npy"), y[k])
    exe = build(a.nncc, tmp, "pair", PAIR)
    if not exe:
        return
    src, tgt, lab = "source=" + P("tr-s.npy"), "target=" + P("tr-t.npy"), P("tr-py.npy")
    val = ["--val-input", "target=" + P("va-t.npy"), "--val-input", "source=" + P("va-s.npy"),
           "--val-labels", P("va-py.npy")]
    rc, out, err = run(exe, "--train-input", src, "--train-input", tgt, "--train-labels", lab, *val,
                       "--threads", "1", "--export-onnx", P("pair.onnx"))
    acc, loss = figure(out, "val_accuracy"), figure(out, "val_loss")
    chance = max(y["va"].mean(), 1 - y["va"].mean())
    check(rc == 0 and acc >= 0.95,
          f"two inputs (source, target), 8 epochs: val_accuracy {acc} (>= 0.95; chance {chance:.3f}),"
          f" val_loss {loss}" + ("" if rc == 0 else "\n" + err))
    if rc == 0:
        p = ort_scores(P("pair.onnx"), {"source": s["va"].astype(np.int64),
                                        "target": t["va"].astype(np.int64)})
        ort_acc, ort_loss = float(((p > 0.5) == (y["va"] > 0.5)).mean()), bce(p, y["va"])
        check(ort_acc == acc and abs(ort_loss - loss) < 1e-5 + 1e-3 * loss,
              f"onnxruntime on the two-input export: val_accuracy {ort_acc}, val_loss {ort_loss:.6f}"
              f" (the trainer's: {acc}, {loss})")

    cases = [
        (["--train", P("tr-s.npy"), "--train-labels", lab], 2,
         "the model 'pair' takes 2 inputs: give each with --train-input NAME=FILE\n"
         "  'source': int64, 6 values per sample, each in [0, 10) (the vocabulary of embedding 'es')\n"
         "  'target': int64, 6 values per sample, each in [0, 12) (the vocabulary of embedding 'et')",
         "the one-file form on a two-input model"),
        (["--train-input", src, "--train-labels", lab], 2,
         "--train-input: input 'target' has no file (give target=FILE)", "an input without a file"),
        (["--train-input", src, "--train-input", "src=x.npy", "--train-labels", lab], 2,
         "--train-input: the model 'pair' has no input 'src'; its inputs:\n"
         "  'source': int64, 6 values per sample, each in [0, 10) (the vocabulary of embedding 'es')\n"
         "  'target': int64, 6 values per sample, each in [0, 12) (the vocabulary of embedding 'et')",
         "an input the model does not have"),
        (["--train-input", src, "--train-input", src, "--train-labels", lab], 2,
         "--train-input: input 'source' is given twice", "an input given twice"),
        (["--train-input", P("tr-s.npy"), "--train-labels", lab], 2,
         f"--train-input: want NAME=FILE, got '{P('tr-s.npy')}'", "a file without its input's name"),
        (["--train-input", src, "--train-input", tgt, "--train", P("tr-s.npy"), "--train-labels", lab],
         2, "--train-input and --train/--train-images do not mix: give every input with --train-input",
         "both forms at once"),
        (["--train-input", src, "--train-input", "target=" + P("tr.csv"), "--train-labels", lab], 1,
         f"{P('tr.csv')}: a CSV file holds its labels too: give one input's samples as .npy or IDX",
         "a CSV for one of several inputs"),
        (["--train-input", src, "--train-input", tgt], 1,
         f"{P('tr-s.npy')}: its labels are missing: give them with --train-labels", "no labels"),
        (["--train-input", "source=" + P("va-s.npy"), "--train-input", tgt, "--train-labels", lab], 1,
         f"{P('va-s.npy')}: 200 samples, but {lab} holds 810 labels",
         "an input with fewer samples than the labels"),
    ]
    for args, status, want, what in cases:
        rc, _, err = run(exe, *args)
        check(one_error(rc, err, status, want), what + ": " + err.strip().replace("\n", " | "))
    bad = t["tr"].copy()
    bad[809, 5] = 12
    np.save(P("bad-t.npy"), bad)
    rc, _, err = run(exe, "--train-input", src, "--train-input", "target=" + P("bad-t.npy"),
                     "--train-labels", lab)
    want = f"{P('bad-t.npy')}: sample 809: token 12 (value 5 of the sample) is outside the " \
           "vocabulary of embedding 'et' [0, 12)"
    check(one_error(rc, err, 1, want), "a token past the second input's vocabulary: " + err.strip())


def tagger(a, tmp, P, rng):
    """Class indices per position: accuracy and loss over positions, each tag checked."""
    x = {k: rng.integers(0, 15, (n, 10)) for k, n in (("tr", 500), ("va", 100))}
    for k in x:
        np.save(P(k + "-gx.npy"), x[k])
        np.save(P(k + "-gy.npy"), x[k] % 3)
    exe = build(a.nncc, tmp, "tagger", TAGGER)
    if not exe:
        return
    rc, out, err = run(exe, "--train", P("tr-gx.npy"), "--train-labels", P("tr-gy.npy"), "--val",
                       P("va-gx.npy"), "--val-labels", P("va-gy.npy"), "--threads", "1",
                       "--export-onnx", P("tagger.onnx"))
    acc, loss = figure(out, "val_accuracy"), figure(out, "val_loss")
    check(rc == 0 and acc >= 0.95, f"a tagger (a class per position; chance 0.33), 4 epochs: "
          f"val_accuracy {acc} over positions (>= 0.95), val_loss {loss}" + ("" if rc == 0 else "\n" + err))
    if rc == 0:
        import onnxruntime as ort
        sess = ort.InferenceSession(P("tagger.onnx"), providers=["CPUExecutionProvider"])
        logp = sess.run(None, {"tokens": x["va"]})[0]  # [100, 10, 3]
        y = x["va"] % 3
        ort_loss = float(-np.take_along_axis(logp, y[..., None], 2).mean())
        ort_acc = float((logp.argmax(2) == y).mean())
        check(abs(ort_acc - acc) < 1e-9 and abs(ort_loss - loss) < 1e-5 + 1e-3 * loss,
              f"onnxruntime on the tagger's export: val_accuracy {ort_acc}, val_loss {ort_loss:.6f} "
              f"(the trainer's: {acc}, {loss})")
    bad = x["tr"] % 3
    bad[7, 4] = 3
    np.save(P("bad-gy.npy"), bad)
    rc, _, err = run(exe, "--train", P("tr-gx.npy"), "--train-labels", P("bad-gy.npy"))
    want = f"{P('bad-gy.npy')}: sample 7: label 3 (position 4) is out of range for 3 classes " \
           "(want a whole number 0-2)"
    check(one_error(rc, err, 1, want), "a tag out of range at one position: " + err.strip())


def classes_on_axis1(a, tmp, P, rng):
    """Per-position class indices with the classes before the positions: the validation loss
    (the runtime's) equals the module's training loss with the weights held still, and the
    export's under onnxruntime after training."""
    x = {k: rng.integers(0, 9, (n, 6)) for k, n in (("tr", 300), ("va", 90))}
    for k in x:
        np.save(P(k + "-ax.npy"), x[k])
        np.save(P(k + "-ay.npy"), x[k][:, :4] % 3)
    exe = build(a.nncc, tmp, "axis1", AXIS1)
    if not exe:
        return
    data = ["--train", P("tr-ax.npy"), "--train-labels", P("tr-ay.npy"), "--threads", "1"]
    rc, _, err = run(exe, *data, "--val", P("tr-ax.npy"), "--val-labels", P("tr-ay.npy"),
                     "--epochs", "1", "--lr", "1e-12", "--progress", "lines")
    line = [l for l in err.splitlines() if l.startswith("epoch ")]
    got = [float(line[0].split(k)[1].split()[0]) for k in ("  loss", "val_loss")] if line else [0, 1]
    check(rc == 0 and abs(got[0] - got[1]) <= 1e-4 * max(1, abs(got[0])),
          f"classes on axis 1: training loss {got[0]}, validation loss {got[1]} (weights still)")
    rc, out, err = run(exe, *data, "--val", P("va-ax.npy"), "--val-labels", P("va-ay.npy"),
                       "--export-onnx", P("axis1.onnx"))
    acc, loss = figure(out, "val_accuracy"), figure(out, "val_loss")
    check(rc == 0 and acc >= 0.9, f"classes on axis 1, 6 epochs: val_accuracy {acc} over "
          f"positions (>= 0.9; chance 0.33), val_loss {loss}" + ("" if rc == 0 else "\n" + err))
    if rc == 0:
        import onnxruntime as ort
        sess = ort.InferenceSession(P("axis1.onnx"), providers=["CPUExecutionProvider"])
        z = sess.run(None, {"tokens": x["va"]})[0].astype(np.float64)  # [90, 3, 4]
        y = x["va"][:, :4] % 3
        lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
        ort_loss = float((lse - np.take_along_axis(z, y[:, None, :], 1)[:, 0]).mean())
        ort_acc = float((z.argmax(1) == y).mean())
        check(abs(ort_acc - acc) < 1e-9 and abs(ort_loss - loss) < 1e-5 + 1e-3 * loss,
              f"onnxruntime on its export: val_accuracy {ort_acc}, val_loss {ort_loss:.6f} "
              f"(the trainer's: {acc}, {loss})")


def recurrent_models(a, tmp, P, rng):
    """models/nn/gru.nn (float windows, MSE) and lstm.nn (int64 tokens, BCE)."""
    for name, x, y in (("gru", rng.normal(size=(64, 30, 4)).astype(np.float32),
                        rng.normal(size=(64, 4)).astype(np.float32)),
                       ("lstm", rng.integers(0, 5000, (96, 40)), rng.integers(0, 2, 96).astype(np.float32))):
        np.save(P(name + "-x.npy"), x)
        np.save(P(name + "-y.npy"), y)
        rc, _, err = run(a.nncc, "train", os.path.join(ROOT, "models", "nn", name + ".nn"), "-o",
                         P(name + "-train.c"), "--build")
        if rc == 0:
            rc, out, err = run(P(name + "-train"), "--train", P(name + "-x.npy"), "--train-labels",
                               P(name + "-y.npy"), "--val", P(name + "-x.npy"), "--val-labels",
                               P(name + "-y.npy"), "--epochs", "1", "--threads", "1",
                               "--progress", "lines")
        loss = figure(out, "val_loss") if rc == 0 else float("nan")
        check(rc == 0 and "epoch 1/1" in err and np.isfinite(loss),
              f"models/nn/{name}.nn trains one epoch by program (val_loss {loss})"
              + ("" if rc == 0 else "\n" + err[-1500:]))


def compile_errors(a, tmp, P):
    """What the trainer cannot feed is refused when it is written."""
    import onnx
    from onnx import helper as h, numpy_helper as nh, TensorProto as T
    g = h.make_graph([h.make_node("Cast", ["x"], ["xf"], to=T.FLOAT),
                      h.make_node("MatMul", ["xf", "W"], ["y"])], "g",
                     [h.make_tensor_value_info("x", T.FLOAT16, ["N", 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["N", 2])],
                     [nh.from_array(np.ones((4, 2), np.float32), "W")])
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), P("half.onnx"))
    rc, _, err = run(a.nncc, "train", P("half.onnx"), "--loss", "mse", "--batch", "4", "-o", P("half.c"))
    want = f"nncc: error: {P('half.onnx')}: the trainer feeds float32, float64, integer and bool " \
           "inputs; input 'x' is float16 (use --module-only and a main of your own)"
    check(one_error(rc, err, 1, want) and not os.path.exists(P("half.c")),
          "a float16 input is refused when the trainer is written: " + err.strip())


def onnx_ids(a, tmp, P, rng):
    """An ONNX model's int32 ids reach a Gather through a Cast: the range is found there too."""
    import onnx
    from onnx import helper as h, numpy_helper as nh, TensorProto as T
    g = h.make_graph([h.make_node("Cast", ["ids"], ["ids64"], to=T.INT64),
                      h.make_node("Gather", ["table", "ids64"], ["rows"], name="lookup"),
                      h.make_node("ReduceMean", ["rows"], ["y"], axes=[1], keepdims=0)], "g",
                     [h.make_tensor_value_info("ids", T.INT32, ["N", 5])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["N", 3])],
                     [nh.from_array(rng.normal(size=(7, 3)).astype(np.float32), "table")])
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]), P("ids.onnx"))
    rc, _, err = run(a.nncc, "train", P("ids.onnx"), "--loss", "mse", "--batch", "4", "-o",
                     P("ids.c"), "--build")
    check(rc == 0, "nncc train on an ONNX model with int32 ids" + ("" if rc == 0 else "\n" + err))
    if rc != 0:
        return
    x = rng.integers(0, 7, (10, 5)).astype(np.int32)
    np.save(P("ids-x.npy"), x)
    np.save(P("ids-y.npy"), rng.normal(size=(10, 3)).astype(np.float32))
    rc, _, err = run(P("ids"), "--train", P("ids-x.npy"), "--train-labels", P("ids-y.npy"),
                     "--epochs", "1", "--threads", "1")
    check(rc == 0, "it trains one epoch on int32 NPY" + ("" if rc == 0 else "\n" + err))
    x[9, 4] = 7
    np.save(P("ids-bad.npy"), x)
    rc, _, err = run(P("ids"), "--train", P("ids-bad.npy"), "--train-labels", P("ids-y.npy"))
    want = f"{P('ids-bad.npy')}: sample 9: token 7 (value 4 of the sample) is outside the " \
           "vocabulary of embedding 'lookup' [0, 7)"
    check(one_error(rc, err, 1, want), "an id past the Gather's table, behind a Cast: " + err.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="nncc_trainer_tokens_")
    P = lambda name: os.path.join(tmp, name)
    rng = np.random.default_rng(1)
    token_models(a, tmp, P, rng)
    pair_model(a, tmp, P, rng)
    tagger(a, tmp, P, rng)
    classes_on_axis1(a, tmp, P, rng)
    recurrent_models(a, tmp, P, rng)
    onnx_ids(a, tmp, P, rng)
    compile_errors(a, tmp, P)
    if a.keep:
        print("kept", tmp)
    else:
        shutil.rmtree(tmp)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
