"""Test accuracy after the issue's recipes, nncc's generated trainer beside PyTorch, per seed.

One seed changes everything random on a side: nncc's shuffle (`--seed`; its initial
weights come from the .nn file, drawn by its `init`), PyTorch's initial weights and
shuffle (torch.manual_seed). Both read the 60,000 Fashion-MNIST training images as
bytes / 255, train with the recipe (bench/train.py's RECIPES) and classify the 10,000
test images after the last epoch. Single runs differ by a few tenths of a percent, so
a target near the mean is judged on the distribution, not on one run.

usage: .venv/bin/python bench/accuracy.py [--nncc build/nncc] [--model keras_cnn]
       [--seeds 1 2 3] [--epochs 3] [--threads 2] [--sides nncc torch] [--nn FILE.nn]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import BATCH, DATA, RECIPES, ROOT, load_idx  # noqa: E402


def nncc_accuracy(nncc, recipe, seed, epochs, threads, exe):
    d = DATA
    p = subprocess.run([exe, "--train-images", f"{d}/train-images-idx3-ubyte.gz",
                        "--train-labels", f"{d}/train-labels-idx1-ubyte.gz",
                        "--val-images", f"{d}/t10k-images-idx3-ubyte.gz",
                        "--val-labels", f"{d}/t10k-labels-idx1-ubyte.gz",
                        "--epochs", str(epochs), "--seed", str(seed), "--progress", "lines",
                        "--early-stopping", "off"], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="passive"))
    accs = re.findall(r"val_accuracy ([0-9.]+)", p.stdout + p.stderr)
    if p.returncode != 0 or not accs:
        sys.exit(f"the trainer failed:\n{p.stdout}{p.stderr}")
    return float(accs[-1])


def torch_accuracy(recipe, seed, epochs, threads, data):
    x, y, tx, ty = data
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = recipe["torch"]()
    opt = recipe["optimizer"](model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        for b in range(0, len(x), BATCH):
            idx = order[b:b + BATCH]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(tx[i:i + 1000]).argmax(1) for i in range(0, len(tx), 1000)])
    return float((pred == ty).float().mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", default=os.path.join(ROOT, "build", "nncc"))
    ap.add_argument("--model", choices=list(RECIPES), default="keras_cnn")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sides", nargs="+", choices=["nncc", "torch"], default=["nncc", "torch"])
    ap.add_argument("--nn", help="another .nn file of the same network (e.g. another init)")
    a = ap.parse_args()
    recipe = RECIPES[a.model]
    results = {}
    with tempfile.TemporaryDirectory(prefix="nncc-accuracy-") as work:
        if "nncc" in a.sides:
            exe = os.path.join(work, a.model)
            subprocess.run([a.nncc, "train", a.nn or os.path.join(ROOT, recipe["nn"]), "-o", exe + ".c", "--build",
                            *recipe["options"]], check=True)
            results["nncc"] = []
            for s in a.seeds:
                results["nncc"].append(nncc_accuracy(a.nncc, recipe, s, a.epochs, a.threads, exe))
                print(f"nncc  seed {s}: {results['nncc'][-1]:.4f}", flush=True)
        if "torch" in a.sides:
            shape = recipe["shape"]
            to_x = lambda imgs: torch.from_numpy((imgs.astype(np.float32) / 255).reshape((len(imgs),) + shape))
            data = (to_x(load_idx("train-images-idx3-ubyte.gz")),
                    torch.from_numpy(load_idx("train-labels-idx1-ubyte.gz").astype(np.int64)),
                    to_x(load_idx("t10k-images-idx3-ubyte.gz")),
                    torch.from_numpy(load_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)))
            results["torch"] = []
            for s in a.seeds:
                results["torch"].append(torch_accuracy(recipe, s, a.epochs, a.threads, data))
                print(f"torch seed {s}: {results['torch'][-1]:.4f}", flush=True)
    print(f"\n{a.model}, {a.epochs} epochs, seeds {' '.join(map(str, a.seeds))}:")
    print("| side | " + " | ".join(f"seed {s}" for s in a.seeds) + " | mean | min |")
    print("| --- |" + " ---: |" * (len(a.seeds) + 2))
    for side, accs in results.items():
        cells = " | ".join(f"{100 * v:.2f}%" for v in accs)
        print(f"| {side} | {cells} | {100 * statistics.mean(accs):.2f}% | {100 * min(accs):.2f}% |")


if __name__ == "__main__":
    main()
