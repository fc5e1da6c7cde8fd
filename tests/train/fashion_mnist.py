#!/usr/bin/env python3
"""Real training on Fashion-MNIST with nncc's generated trainer, end to end.

The issue's recipes, on Debian's dataset-fashion-mnist (60,000 training and
10,000 test images):
  mlp        784-500-250-10 ReLU, SGD lr 0.1 momentum 0.9, batch 64, 3 epochs: >= 83%
  keras_cnn  conv 64 3x3 relu, conv 32 3x3 relu, flatten, dense 10 softmax,
             Adam lr 1e-3, batch 64, 3 epochs: >= 90.3%
For each: `nncc train MODEL.nn --build` with the recipe's options, train with the
test set as validation data, read the last epoch's val_accuracy, export the
trained model to ONNX, then check that onnxruntime on the export and `nncc run`
of the export classify the test images like the trainer did.

usage: fashion_mnist.py --nncc build/nncc [--model mlp|keras_cnn] [--threads T]
"""
import argparse
import gzip
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = "/usr/share/datasets/fashion-mnist"
RECIPES = {
    "mlp": ("models/nn/mlp.nn", ["--optimizer", "momentum", "--lr", "0.1", "--momentum", "0.9",
                                 "--batch", "64", "--l2", "0"], 0.83),
    "keras_cnn": ("models/nn/keras_cnn.nn", ["--optimizer", "adam", "--lr", "0.001", "--batch", "64"],
                  0.903),
}


def load_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--model", choices=list(RECIPES), default="mlp")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    nn_file, options, target = RECIPES[args.model]
    d = DATA
    with tempfile.TemporaryDirectory(prefix="nncc-fashion-") as work:
        exe, onnx_path = os.path.join(work, args.model), os.path.join(work, "trained.onnx")
        subprocess.run([args.nncc, "train", os.path.join(ROOT, nn_file), "-o", exe + ".c", "--build",
                        *options], check=True)
        p = subprocess.run([exe, "--train-images", f"{d}/train-images-idx3-ubyte.gz",
                            "--train-labels", f"{d}/train-labels-idx1-ubyte.gz",
                            "--val-images", f"{d}/t10k-images-idx3-ubyte.gz",
                            "--val-labels", f"{d}/t10k-labels-idx1-ubyte.gz",
                            "--epochs", str(args.epochs), "--seed", "1", "--progress", "lines",
                            "--early-stopping", "off", "--export-onnx", onnx_path],
                           capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
        print(p.stdout + p.stderr, end="")
        accs = re.findall(r"val_accuracy ([0-9.]+)", p.stdout + p.stderr)
        if p.returncode != 0 or not accs:
            print("FAIL: the trainer did not finish")
            return 1
        acc = float(accs[-1])

        images = load_idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
        labels = load_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        shape = [d if isinstance(d, int) else -1 for d in inp.shape]
        x = images.reshape([len(images)] + shape[1:])
        ort_pred = np.concatenate([sess.run(None, {inp.name: x[i:i + 500]})[0] for i in range(0, len(x), 500)])
        ort_acc = float((ort_pred.argmax(axis=1) == labels).mean())

        xin = os.path.join(work, "x.npy")
        np.save(xin, x[:200])
        out = os.path.join(work, "out")
        r = subprocess.run([args.nncc, "run", onnx_path, "--shape", f"{inp.name}=200x" + "x".join(map(str, shape[1:])),
                            "--input", xin, "--output-dir", out], capture_output=True, text=True)
        nncc_pred = np.load(os.path.join(out, "output_0.npy")) if r.returncode == 0 else None
        gap = float(np.abs(nncc_pred - ort_pred[:200]).max()) if nncc_pred is not None else float("inf")

        ok_acc = acc >= target
        ok_ort = abs(ort_acc - acc) <= 0.001
        ok_run = gap <= 1e-4 * max(1.0, float(np.abs(ort_pred[:200]).max()))
        print(f"{'ok  ' if ok_acc else 'FAIL'} {args.model}: test accuracy {acc:.4f} after {args.epochs} epochs "
              f"(target {target})")
        print(f"{'ok  ' if ok_ort else 'FAIL'} onnxruntime on the exported model: accuracy {ort_acc:.4f}")
        print(f"{'ok  ' if ok_run else 'FAIL'} nncc run on the export vs onnxruntime: max|diff| {gap:.3g}"
              + ("" if r.returncode == 0 else f" ({r.stderr.strip()})"))
        return 0 if ok_acc and ok_ort and ok_run else 1


if __name__ == "__main__":
    sys.exit(main())
