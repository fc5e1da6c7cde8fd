#!/usr/bin/env python3
"""The generated trainer end to end around the hand-written module of mock.h:
emits it with the real emitter (embedded runtime), builds it warning-free with
gcc and clang, and checks training on IDX/CSV/NPY, checkpoint and resume
(bit-identical to an unbroken run), early stopping with restore, the NaN guard,
each data error (file and record named), and the ONNX export of the weights."""
import argparse, gzip, os, shutil, struct, subprocess, sys, tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CKPT_HEADER = 96  # runtime/checkpoint.c
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def write_idx(path, arr, gz):
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    data = head + arr.astype(np.uint8).tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)


def clusters(n, rng):
    centers = np.array([[40, 200, 40, 200], [200, 40, 200, 40], [200, 200, 40, 40]], float)
    y = rng.integers(0, 3, n)
    x = np.clip(centers[y] + rng.normal(0, 30, (n, 4)), 0, 255).round()
    return x.astype(np.uint8), y


def run(prog, *args):
    p = subprocess.run([prog, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def final_line(out):
    return [l for l in out.splitlines() if l.startswith("final:")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emit", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="nncc_trainer_mock_")
    P = lambda name: os.path.join(tmp, name)
    import onnx
    from onnx import TensorProto, helper
    rng = np.random.default_rng(3)
    # The forward graph as ONNX (Gemm + Softmax) with a W the trainer patches.
    w0 = rng.normal(0, 1, (3, 4)).astype(np.float32)
    b0 = rng.normal(0, 1, 3).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W", "b"], ["logits"], transB=1),
         helper.make_node("Softmax", ["logits"], ["y"], axis=1)], "mock",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor("W", TensorProto.FLOAT, [3, 4], w0.tobytes(), raw=True),
         helper.make_tensor("b", TensorProto.FLOAT, [3], b0.tobytes(), raw=True)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    blob = model.SerializeToString()
    w_off, b_off = blob.find(w0.tobytes()), blob.find(b0.tobytes())
    assert w_off > 0 and b_off > 0
    open(P("fwd.onnx"), "wb").write(blob)

    src = P("train.c")
    subprocess.run([a.emit, src, P("fwd.onnx"), str(w_off), str(b_off)], check=True)
    prog = P("train")
    for cc in ("gcc", "clang"):
        if not shutil.which(cc):
            continue
        b = subprocess.run([cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", HERE, src,
                            os.path.join(HERE, "mock_module.c"), "-o", prog, "-lm", "-lz"],
                           capture_output=True, text=True)
        check(b.returncode == 0, f"the trainer builds with {cc} -Wall -Wextra -Werror" +
              ("" if b.returncode == 0 else "\n" + b.stderr[:3000]))
    if failures:
        return 1
    rc, out, err = run(prog, "--help")
    check(rc == 0 and "--train-images" in out and "batch 8" in out, "--help")
    rc, out, err = run(prog, "--train", "x.csv", "--epochs", "zero")
    check(rc == 2 and "--epochs: want a whole number" in err, "a bad option value: status 2")

    # Data: three clusters, as IDX (bytes), CSV and NPY (the same values / 255).
    xtr, ytr = clusters(203, rng)  # 203 = 25 batches of 8 and a short one of 3
    xva, yva = clusters(60, rng)
    write_idx(P("tr-x.gz"), xtr.reshape(-1, 2, 2), True)
    write_idx(P("tr-y"), ytr, False)
    write_idx(P("va-x"), xva.reshape(-1, 2, 2), False)
    write_idx(P("va-y.gz"), yva, True)
    np.save(P("tr-x.npy"), xtr.astype(np.float32) / np.float32(255))
    np.save(P("tr-y.npy"), ytr.astype(np.int64))
    with open(P("tr.csv"), "w") as f:
        f.write("label,a,b,c,d\n")
        for x, y in zip(xtr, ytr):
            f.write(",".join([str(y)] + [repr(float(np.float32(v) / np.float32(255))) for v in x]) + "\n")
    val = ["--val-images", P("va-x"), "--val-labels", P("va-y.gz")]

    rc, out, err = run(prog, "--train-images", P("tr-x.gz"), "--train-labels", P("tr-y"), *val,
                       "--epochs", "5", "--progress", "lines")
    acc = float(final_line(out)[0].split("val_accuracy")[1].split()[0]) if rc == 0 else 0
    check(rc == 0 and acc >= 0.9, f"IDX: 5 epochs reach val_accuracy {acc} (>= 0.9)")
    check(err.count("epoch ") == 5 and "samples/s" in err, "one progress line per epoch off a terminal")
    rc2, out2, _ = run(prog, "--train", P("tr-x.npy"), "--train-labels", P("tr-y.npy"), *val,
                       "--epochs", "5")
    check(rc2 == 0 and final_line(out2) == final_line(out), "NPY: the same data trains the same")
    rc3, out3, err3 = run(prog, "--train", P("tr.csv"), *val, "--epochs", "5")
    check(rc3 == 0 and final_line(out3) == final_line(out), "CSV (header, label column 0): the same"
          + ("" if rc3 == 0 else " " + err3))
    run(prog, "--train", P("tr.csv"), "--epochs", "2", "--checkpoint", P("s7.ckpt"))
    run(prog, "--train", P("tr.csv"), "--epochs", "2", "--checkpoint", P("s8.ckpt"), "--seed", "8")
    s7, s8 = (open(P(f), "rb").read()[CKPT_HEADER:] for f in ("s7.ckpt", "s8.ckpt"))
    check(len(s7) == 256 and s7 != s8, "another --seed, another order (other weights)")

    rc, out, err = run(prog, "--train", P("tr.csv"), *val, "--epochs", "3", "--update", "batch")
    check(rc == 0 and final_line(out)[0].endswith("(3 epochs, 3 steps)"),
          "--update batch: one optimizer step per epoch")

    # Checkpoint and resume: 2 + 2 epochs give the bytes of 4 unbroken ones.
    tr = ["--train-images", P("tr-x.gz"), "--train-labels", P("tr-y"), *val]
    run(prog, *tr, "--epochs", "4", "--checkpoint", P("a.ckpt"))
    run(prog, *tr, "--epochs", "2", "--checkpoint", P("b.ckpt"))
    rc, out, err = run(prog, *tr, "--epochs", "4", "--resume", P("b.ckpt"), "--checkpoint", P("b.ckpt"))
    same = open(P("a.ckpt"), "rb").read() == open(P("b.ckpt"), "rb").read()
    check(rc == 0 and "resumed from" in err and same, "resume after 2 epochs: checkpoint identical to 4 unbroken epochs")
    check(not os.path.exists(P("b.ckpt.tmp")), "no temporary checkpoint left behind")
    bad = bytearray(open(P("a.ckpt"), "rb").read())
    bad[8] ^= 1
    open(P("other.ckpt"), "wb").write(bad)
    rc, out, err = run(prog, *tr, "--resume", P("other.ckpt"))
    check(rc == 1 and "written by another model" in err, "a checkpoint of another model is refused")

    # Early stopping: validation labels unrelated to the samples only get worse.
    write_idx(P("va-rand-y"), rng.permutation(yva), False)
    rc, out, err = run(prog, *tr[:4], "--val-images", P("va-x"), "--val-labels", P("va-rand-y"),
                       "--epochs", "30", "--early-stopping", "val_loss", "--patience", "2",
                       "--checkpoint", P("es.ckpt"))
    epochs = [l for l in err.splitlines() if l.startswith("epoch ")]
    vl = [float(l.split("val_loss")[1].split()[0]) for l in epochs]
    best = min(range(len(vl)), key=lambda i: vl[i])
    fin = float(final_line(out)[0].split("val_loss")[1].split()[0]) if rc == 0 else -1
    check(rc == 0 and "early stopping: val_loss has not improved for 2 epochs" in err
          and len(epochs) == best + 3 and len(epochs) < 30,
          f"early stopping after {len(epochs)} epochs (best {best + 1}, patience 2)")
    check(f"restored the weights of epoch {best + 1}" in err and abs(fin - vl[best]) < 1e-4,
          f"the best epoch's weights are restored (final val_loss {fin} = {vl[best]})")

    # Data errors: one line naming the file and the record, status 1.
    open(P("bad-magic"), "wb").write(b"\x1f\x8b\x08junk")
    write_idx(P("y-range"), np.where(np.arange(203) == 17, 5, ytr), False)
    write_idx(P("y-short"), ytr[:200], False)
    with open(P("ragged.csv"), "w") as f:
        f.write("1,0.1,0.2,0.3,0.4\n2,0.1,0.2,0.3,0.4\n0,0.1,0.2,0.3\n")
    xnan = xtr.astype(np.float32) / 255
    xnan[41, 2] = np.nan
    np.save(P("x-nan.npy"), xnan)
    cases = [
        ([P("bad-magic"), P("tr-y")], f"{P('bad-magic')}: not an IDX file (bad magic)"),
        ([P("tr-x.gz"), P("y-range")], f"{P('y-range')}: sample 17: label 5 is out of range for 3 classes (want a whole number 0-2)"),
        ([P("tr-x.gz"), P("y-short")], f"{P('y-short')}: 200 labels for the 203 samples of {P('tr-x.gz')}"),
        ([P("ragged.csv"), None], f"{P('ragged.csv')}: line 3: 4 fields, but the first row has 5 (ragged CSV)"),
        ([P("x-nan.npy"), P("tr-y.npy")], f"{P('x-nan.npy')}: sample 41: value 2 is NaN"),
        ([P("tr-x.npy"), None], f"{P('tr-x.npy')}: its labels are missing: give them with --train-labels (only a CSV file holds its own)"),
    ]
    for (x, y), msg in cases:
        args = ["--train", x] + (["--train-labels", y] if y else [])
        rc, out, err = run(prog, *args)
        check(rc == 1 and err.strip() == msg, f"data error: {msg.split(': ', 1)[1][:60]}"
              + ("" if err.strip() == msg else f"\n     got: {err.strip()!r}"))

    # The NaN guard: inputs so large the gradient overflows.
    np.save(P("x-huge.npy"), np.full((203, 4), 3e38, np.float32))
    rc, out, err = run(prog, "--train", P("x-huge.npy"), "--train-labels", P("tr-y.npy"))
    check(rc == 1 and "epoch 1, batch 1: the loss is" in err and
          "the first gradient that is not finite is 'dense.weight.grad' (layer 'dense')" in err,
          "a loss that is not finite stops the run, naming the layer")

    # ONNX export: the trained W in the forward model; onnxruntime runs it.
    rc, out, err = run(prog, *tr, "--epochs", "3", "--checkpoint", P("e.ckpt"),
                       "--export-onnx", P("trained.onnx"))
    ck = open(P("e.ckpt"), "rb").read()
    w = np.frombuffer(ck[CKPT_HEADER:CKPT_HEADER + 48], np.float32).reshape(3, 4)
    b = np.frombuffer(ck[CKPT_HEADER + 64:CKPT_HEADER + 76], np.float32)
    m = onnx.load(P("trained.onnx"))
    onnx.checker.check_model(m)
    wx = onnx.numpy_helper.to_array([t for t in m.graph.initializer if t.name == "W"][0])
    check(rc == 0 and np.array_equal(w, wx) and not np.array_equal(w, w0),
          "--export-onnx writes the trained weights into a valid model")
    import onnxruntime as ort
    sess = ort.InferenceSession(P("trained.onnx"), providers=["CPUExecutionProvider"])
    xs = xva.astype(np.float32) / 255
    got = np.concatenate([sess.run(None, {"x": xs[i:i + 1]})[0] for i in range(len(xs))])
    logits = xs @ w.T + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    check(np.abs(got - p).max() < 1e-5, "onnxruntime on the export computes the trained model")

    if not a.keep:
        shutil.rmtree(tmp)
    else:
        print("kept", tmp)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
