"""Train the Fashion-MNIST demo CNN and export it to cnn.onnx.

Usage: .venv/bin/python models/fashion_mnist_cnn/train.py [--epochs N]

Deterministic on CPU: fixed seeds, deterministic algorithms, 2 threads.
After export it evaluates the ONNX file with onnxruntime (eval_onnx.py) and
writes ACCURACY.txt next to this script.
"""
import argparse
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fmnist  # noqa: E402
import eval_onnx  # noqa: E402

SEED = 1234


class Net(nn.Module):
    """Two conv blocks and two dense layers.

    Input is the raw pixel / 255 in [0,1]; no mean/std step is needed because
    the BatchNorm right after the first conv absorbs the input scale, so the
    C side only divides by 255.
    """

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 32x14x14
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 64x7x7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(1),
            nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)


def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            pred = model(x[i:i + batch]).argmax(1)
            correct += int((pred == y[i:i + batch]).sum())
    return correct / len(x)


def train(model, x, y, xt, yt, epochs, batch):
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = epochs * ((len(x) + batch - 1) // batch)
    # Cosine decay to ~0 gives a few tenths of a percent over a flat rate.
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED)
    for ep in range(epochs):
        t0 = time.time()
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            xb = x[idx]
            # Random horizontal flip: clothes are roughly mirror-symmetric.
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            opt.zero_grad()
            loss = loss_fn(model(xb), y[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        acc = accuracy(model, xt, yt)
        print(f"epoch {ep + 1}/{epochs}: loss {total / len(x):.4f} "
              f"test acc {acc:.4f} ({time.time() - t0:.1f}s)", flush=True)


def export(model, path):
    model.eval()  # BN uses running stats, Dropout disappears.
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(model, dummy, path, opset_version=13,
                      do_constant_folding=True,
                      input_names=["image"], output_names=["logits"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--out", default=os.path.join(HERE, "cnn.onnx"))
    args = ap.parse_args()

    seed_everything(SEED)
    xi, yi = fmnist.load("train")
    xti, yti = fmnist.load("t10k")
    x, y = torch.from_numpy(fmnist.to_input(xi)), torch.from_numpy(yi).long()
    xt = torch.from_numpy(fmnist.to_input(xti))
    yt = torch.from_numpy(yti).long()

    model = Net()
    t0, c0 = time.time(), time.process_time()
    train(model, x, y, xt, yt, args.epochs, args.batch)
    # CPU time too: wall time balloons when the 2 cores are shared.
    secs, cpu = time.time() - t0, time.process_time() - c0
    print(f"training took {secs:.0f}s wall, {cpu:.0f}s CPU", flush=True)

    export(model, args.out)
    correct, n = eval_onnx.evaluate(args.out)
    cmd = "python models/fashion_mnist_cnn/train.py " + " ".join(sys.argv[1:])
    eval_onnx.write_report(os.path.join(HERE, "ACCURACY.txt"), correct, n,
                           extra=f"command: {cmd.strip()}; "
                                 f"training time: {secs:.0f}s wall, "
                                 f"{cpu:.0f}s CPU, "
                                 f"{torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
