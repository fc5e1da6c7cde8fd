"""Training speed, nncc's generated trainer against PyTorch, side by side in one run.

For each architecture and thread count: the same Fashion-MNIST samples (the first
--samples of the training set, as NPY files both sides read), the same batch and
optimizer. nncc's figure is the epoch time its trainer prints (`nncc train ... --build`,
then the program with --epochs 1 and no validation set, OMP_NUM_THREADS=T); PyTorch's
is the wall time of one epoch of forward, loss, backward and step over the same
batches (torch.set_num_threads(T)), after one warm-up batch. Prints seconds per epoch
and the ratio (PyTorch s / nncc s: above 1 means nncc is faster).

usage: /work/main/.venv/bin/python bench/train.py [--nncc build/nncc] [--threads 1 2]
       [--models keras_cnn row_lstm mlp] [--samples 60000]
"""
import argparse
import gzip
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"

class RowLSTM(nn.Module):
    """28 rows of 28 pixels through an LSTM of 128 units; its last state to 10 classes."""

    def __init__(self):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(28, 128, batch_first=True), nn.Linear(128, 10)

    def forward(self, x):
        return self.fc(self.lstm(x)[1][0][-1])


# The recipes (and a recurrent one): the .nn file, nncc train's options, and
# the same net in torch.
RECIPES = {
    "keras_cnn": {
        "nn": "models/nn/keras_cnn.nn",
        "options": ["--optimizer", "adam", "--lr", "0.001", "--batch", "64"],
        "torch": lambda: nn.Sequential(nn.Conv2d(1, 64, 3), nn.ReLU(), nn.Conv2d(64, 32, 3), nn.ReLU(),
                                       nn.Flatten(), nn.Linear(32 * 24 * 24, 10)),
        "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3),
        "shape": (1, 28, 28),
    },
    "row_lstm": {
        "nn": "models/nn/row_lstm.nn",
        "options": ["--optimizer", "adam", "--lr", "0.001", "--batch", "64"],
        "torch": lambda: RowLSTM(),
        "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3),
        "shape": (28, 28),
    },
    "mlp": {
        "nn": "models/nn/mlp.nn",
        "options": ["--optimizer", "momentum", "--lr", "0.1", "--momentum", "0.9", "--batch", "64",
                    "--l2", "0"],
        "torch": lambda: nn.Sequential(nn.Linear(784, 500), nn.ReLU(), nn.Linear(500, 250), nn.ReLU(),
                                       nn.Linear(250, 10)),
        "optimizer": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        "shape": (784,),
    },
}
BATCH = 64


def load_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def time_torch(recipe, x, y, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = recipe["torch"]()
    opt = recipe["optimizer"](model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    order = torch.randperm(len(xt), generator=torch.Generator().manual_seed(0))

    def step(idx):
        opt.zero_grad()
        loss = loss_fn(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()

    step(order[:BATCH])  # warm-up: allocator, thread pool
    t0 = time.perf_counter()
    for b in range(0, len(xt), BATCH):
        step(order[b:b + BATCH])
    return time.perf_counter() - t0


def time_nncc(nncc, name, recipe, xfile, yfile, threads, work):
    exe = os.path.join(work, name)
    subprocess.run([nncc, "train", os.path.join(ROOT, recipe["nn"]), "-o", exe + ".c", "--build",
                    *recipe["options"]], check=True, capture_output=True, text=True)
    p = subprocess.run([exe, "--train", xfile, "--train-labels", yfile, "--epochs", "1",
                        "--progress", "lines", "--seed", "0"],
                       capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(threads),
                                                                OMP_WAIT_POLICY="passive"))
    m = re.search(r"samples/s\s+([0-9.]+) s", p.stdout + p.stderr)
    if p.returncode != 0 or not m:
        sys.exit(f"train.py: the {name} trainer failed:\n{p.stdout}{p.stderr}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nncc", default=os.path.join(ROOT, "build", "nncc"))
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--models", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--samples", type=int, default=60000, help="training samples per epoch")
    args = ap.parse_args()
    images = load_idx("train-images-idx3-ubyte.gz")[:args.samples].astype(np.float32) / 255
    labels = load_idx("train-labels-idx1-ubyte.gz")[:args.samples].astype(np.int64)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}; "
          f"{len(images)} samples, batch {BATCH}; {time.strftime('%Y-%m-%d')}")
    print(f"{'model':<10} {'threads':>7} {'nncc s/epoch':>13} {'torch s/epoch':>14} {'torch/nncc':>11}")
    with tempfile.TemporaryDirectory(prefix="nncc-bench-train-") as work:
        for name in args.models:
            recipe = RECIPES[name]
            x = images.reshape((len(images),) + recipe["shape"])
            xfile, yfile = os.path.join(work, f"{name}_x.npy"), os.path.join(work, "y.npy")
            np.save(xfile, x)
            np.save(yfile, labels)
            for t in args.threads:
                ours = time_nncc(args.nncc, name, recipe, xfile, yfile, t, work)
                theirs = time_torch(recipe, x, labels, t)
                print(f"{name:<10} {t:>7} {ours:>13.2f} {theirs:>14.2f} {theirs / ours:>11.2f}", flush=True)


if __name__ == "__main__":
    main()
