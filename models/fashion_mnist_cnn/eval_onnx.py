"""Evaluate cnn.onnx with onnxruntime on the 10,000 Fashion-MNIST test images.

Usage: .venv/bin/python models/fashion_mnist_cnn/eval_onnx.py [MODEL.onnx]

Feeds each image exactly as the C demo must: float32 [1,1,28,28] = pixel/255,
one at a time (the model has a fixed batch of 1), argmax of 'logits'.
"""
import datetime
import os
import sys

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fmnist  # noqa: E402


def evaluate(model_path):
    """Return (correct, total) over the test split."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(model_path, opts,
                                providers=["CPUExecutionProvider"])
    imgs, labels = fmnist.load("t10k")
    x = fmnist.to_input(imgs)
    correct = 0
    for i in range(len(x)):
        (logits,) = sess.run(["logits"], {"image": x[i:i + 1]})
        correct += int(np.argmax(logits[0]) == labels[i])
    return correct, len(x)


def write_report(path, correct, n, extra=""):
    import torch  # only for the version string in the report
    line = f"onnxruntime test accuracy: {correct / n:.4f} ({correct}/{n})"
    print(line)
    with open(path, "w") as f:
        f.write(line + "\n")
        f.write(f"date: {datetime.date.today().isoformat()}; "
                f"torch {torch.__version__}; onnxruntime {ort.__version__}"
                + (f"; {extra}" if extra else "") + "\n")


if __name__ == "__main__":
    model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "cnn.onnx")
    c, n = evaluate(model)
    print(f"onnxruntime test accuracy: {c / n:.4f} ({c}/{n})")
