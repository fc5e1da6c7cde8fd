#!/usr/bin/env python3
"""GAN training end to end on a toy 2-D distribution (tests/train/gan_toy.nn).

Usage: gan_toy.py --nncc PATH [--keep DIR] [--dcgan]

1. `nncc train gan_toy.nn --build` writes and builds the GAN trainer (its
   four files also pass gcc and clang -Wall -Wextra -Werror).
2. Learning: the data is a Gaussian with mean (2, -1) and std (0.5, 1.5).
   Generated samples (1024) before training and after 400 steps: the
   distance |mean - data mean| + |std - data std| (summed over both axes)
   must fall below half of what it was, for two seeds.
3. Steps against PyTorch: from the trainer's initial weights (exported with
   --epochs 0), the same 64 real points and the same noise (PCG32 and
   Box-Muller, as runtime/gan.c draws it), PyTorch takes the same
   alternating steps (discriminator on real with label 1 and on fakes with
   label 0, one optimizer step; then the generator through the updated
   discriminator with label 1): Adam as the file says (3 steps; a .nn
   file's Adam epsilon defaults to 1e-7, as Keras') and SGD
   (--optimizer sgd --lr 0.05, 2 steps); and gan_toy_bn.nn, with batch norm
   in both networks (SGD, 3 steps: the discriminator normalises the real and
   the generated batch apart; its running statistics come back from the
   generator's step). Every updated weight and running statistic of both
   networks must agree to |nncc - torch| <= 1e-5 * |torch| + 1e-7.
4. The exported generator (batch-norm file) under onnxruntime gives the
   trainer's own --samples from the same noise.
5. Checkpoints: 2 epochs (or 15 steps, 10 to an epoch), then --resume up to
   4 epochs, gives the bytes of 4 unbroken epochs (both exports).
6. A discriminator with a class loss is one error line naming the file and
   the model, and no file is written; so is --module-only on a GAN file.
With --dcgan instead: models/nn/dcgan.nn trains one epoch on the first 640
Fashion-MNIST images (finite losses), its export matches its samples, and
two SGD steps on the first 64 images match PyTorch's as in 3.
The last line is `N passed, M failed`.
"""
import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
NN = os.path.join(HERE, "gan_toy.nn")
B, ZDIM = 64, 4
REL, ABS = 1e-5, 1e-7
M64 = (1 << 64) - 1


class Pcg32:
    """runtime/shuffle.c's PCG32."""

    def __init__(self, seed, stream):
        self.state, self.inc = 0, ((stream << 1) | 1) & M64
        self.next()
        self.state = (self.state + seed) & M64
        self.next()

    def next(self):
        old = self.state
        self.state = (old * 6364136223846793005 + self.inc) & M64
        x = (((old >> 18) ^ old) >> 27) & 0xFFFFFFFF
        rot = old >> 59
        return ((x >> rot) | (x << ((-rot) & 31))) & 0xFFFFFFFF


def noise(seed, step, n):
    """runtime/gan.c's gan_noise: standard normals for one step."""
    p, z = Pcg32(seed, 0x6761E000 + step), np.zeros(n, np.float32)
    for i in range(0, n, 2):
        u1 = (p.next() + 1.0) / 4294967297.0
        u2 = p.next() / 4294967296.0
        rad, a = math.sqrt(-2.0 * math.log(u1)), 6.283185307179586 * u2
        z[i] = rad * math.cos(a)
        if i + 1 < n:
            z[i + 1] = rad * math.sin(a)
    return z


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: status {r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout + r.stderr


def build(nncc, work, name, extra=(), nn=NN):
    out = os.path.join(work, name + ".c")
    run([nncc, "train", nn, "-o", out, "--build", *extra])
    srcs = [os.path.join(work, f"{name}{s}.c") for s in ("", "_d", "_g", "_gen")]
    for cc in [c for c in ("gcc", "clang") if shutil.which(c)]:
        run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", *srcs])
    return os.path.join(work, name)


def weights(path):
    return {t.name: numpy_helper.to_array(t).copy() for t in onnx.load(path).graph.initializer}


def stats_distance(x, mean, std):
    return float(np.abs(x.mean(0) - mean).sum() + np.abs(x.std(0) - std).sum())


def check_learning(exe, work, seed):
    rng = np.random.default_rng(seed)
    mean, std = np.array([2.0, -1.0]), np.array([0.5, 1.5])
    data = os.path.join(work, "gauss.npy")
    np.save(data, (rng.normal(0, 1, (4096, 2)) * std + mean).astype(np.float32))
    d = []
    for steps in (0, 400):
        s = os.path.join(work, f"s{steps}.npy")
        run([exe, "--train", data, "--steps", str(steps), "--epochs", "0" if steps == 0 else "100",
             "--seed", str(seed), "--samples", s, "--sample-count", "1024"])
        d.append(stats_distance(np.load(s), mean, std))
    ok = d[1] < 0.5 * d[0]
    print(f"{'ok' if ok else 'FAIL'}: learning, seed {seed}: distance to the data's mean/std "
          f"{d[0]:.3f} before, {d[1]:.3f} after 400 steps")
    return ok


RELU = torch.relu
LRELU = lambda x: torch.nn.functional.leaky_relu(x, 0.2)  # noqa: E731
# (kind, layer, activation after it) as the .nn files write them.
NETS = {
    "toy": ([("dense", "h1", RELU), ("dense", "h2", RELU), ("dense", "point", None)],
            [("dense", "h1", LRELU), ("dense", "h2", LRELU), ("dense", "real", None)]),
    "bn": ([("dense", "h1", None), ("bn", "n1", RELU), ("dense", "point", None)],
           [("dense", "h1", None), ("bn", "n1", LRELU), ("dense", "real", None)]),
    # models/nn/dcgan.nn: kernels 4, strides 2, padding same (1 on each side here)
    "dcgan": ([("dense", "project", None), ("reshape", (64, 7, 7), None), ("bn", "n0", RELU),
               ("convt", "up1", None), ("bn", "n1", RELU), ("convt", "image", torch.tanh)],
              [("conv", "c1", LRELU), ("conv", "c2", None), ("bn", "n2", LRELU),
               ("flatten", None, None), ("dense", "real", None)]),
}


class Net(torch.nn.Module):
    """Dense layers (weights [out, in]) and batch norms from the exported
    initializers; the sigmoid of the discriminator's output is applied by
    the caller. Batch norm normalises by the batch's statistics and updates
    the running ones as ONNX does (momentum 0.9, the biased variance; torch's
    BatchNorm1d would use the unbiased one)."""

    def __init__(self, w, layers):
        super().__init__()
        self.layers = layers
        self.p = torch.nn.ParameterDict()
        for kind, l, _ in layers:
            for n in (("scale", "bias") if kind == "bn" else ("weight", "bias")):
                if kind in ("dense", "conv", "convt", "bn") and f"{l}.{n}" in w:
                    self.p[f"{l}_{n}"] = torch.nn.Parameter(torch.tensor(w[f"{l}.{n}"]))
            if kind == "bn":
                self.register_buffer(f"{l}_mean", torch.tensor(w[f"{l}.mean"]))
                self.register_buffer(f"{l}_var", torch.tensor(w[f"{l}.var"]))

    def forward(self, x):
        F = torch.nn.functional
        for kind, l, act in self.layers:
            bias = self.p[l + "_bias"] if kind != "bn" and f"{l}_bias" in self.p else None
            if kind == "dense":
                x = F.linear(x, self.p[l + "_weight"], bias)
            elif kind in ("conv", "convt"):
                conv = F.conv2d if kind == "conv" else F.conv_transpose2d
                x = conv(x, self.p[l + "_weight"], bias, stride=2, padding=1)
            elif kind == "reshape":
                x = x.reshape(x.shape[0], *l)
            elif kind == "flatten":
                x = x.reshape(x.shape[0], -1)
            else:
                # batch statistics per channel (axis 1); running ones as ONNX updates
                # them (biased variance)
                axes = [0] + list(range(2, x.dim()))
                shape = [1, -1] + [1] * (x.dim() - 2)
                mean, var = x.mean(axes), x.var(axes, unbiased=False)
                with torch.no_grad():
                    for stat, batch in (("_mean", mean), ("_var", var)):
                        r = getattr(self, l + stat)
                        r.copy_(r * 0.9 + batch * 0.1)
                x = ((x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + 1e-5)
                     * self.p[l + "_scale"].reshape(shape) + self.p[l + "_bias"].reshape(shape))
            x = act(x) if act else x
        return x

    def export(self):
        out = {k.replace("_", "."): v.detach().numpy() for k, v in self.p.items()}
        out.update({k.replace("_", "."): v.numpy() for k, v in self.named_buffers()})
        return out


def torch_steps(w_gen, w_d, real, seed, steps, make_opt, nets, zdim=ZDIM):
    G, Dnet = Net(w_gen, NETS[nets][0]), Net(w_d, NETS[nets][1])
    D = lambda x: torch.sigmoid(Dnet(x))  # noqa: E731
    opt_d, opt_g = make_opt(Dnet.parameters()), make_opt(G.parameters())
    bce = torch.nn.BCELoss()
    x = torch.tensor(real)
    for step in range(1, steps + 1):
        z = torch.tensor(noise(seed, step, B * zdim).reshape(B, zdim))
        fake = G(z)
        opt_d.zero_grad()
        err_d = bce(D(x), torch.ones(B, 1)) + bce(D(fake.detach()), torch.zeros(B, 1))
        err_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        bce(D(fake), torch.ones(B, 1)).backward()
        opt_g.step()
    return G.export(), Dnet.export()


def compare(label, got, want):
    """Worst |diff| as a fraction of the tolerance REL * |torch| + ABS (<= 1 passes)."""
    worst = 0.0
    for n, w in want.items():
        worst = max(worst, float((np.abs(got[n] - w) / (REL * np.abs(w) + ABS)).max()))
    return worst <= 1, worst


def check_torch(exe, work, label, steps, make_opt, nets="toy", real=None, zdim=ZDIM):
    seed = 3
    if real is None:
        real = np.random.default_rng(5).normal(0, 1, (B, 2)).astype(np.float32) * [0.5, 1.5] + [2, -1]
    real = real.astype(np.float32)
    data = os.path.join(work, "real64.npy")
    np.save(data, real)
    p = {k: os.path.join(work, f"{label}_{k}.onnx") for k in ("g0", "d0", "g1", "d1")}
    run([exe, "--train", data, "--epochs", "0", "--seed", str(seed), "--export-onnx", p["g0"],
         "--export-discriminator", p["d0"]])
    run([exe, "--train", data, "--epochs", str(steps), "--seed", str(seed), "--export-onnx", p["g1"],
         "--export-discriminator", p["d1"]])
    g0, d0, g1, d1 = (weights(p[k]) for k in ("g0", "d0", "g1", "d1"))
    tg, td = torch_steps(g0, d0, real, seed, steps, make_opt, nets, zdim)
    ok_g, worst_g = compare(label, g1, tg)
    ok_d, worst_d = compare(label, d1, td)
    moved = min(float(np.abs(g1[n] - g0[n]).max()) for n in tg)  # every weight tensor
    ok = ok_g and ok_d and moved > 0
    print(f"{'ok' if ok else 'FAIL'}: {label}, {steps} steps against PyTorch: worst |diff| / tolerance "
          f"generator {worst_g:.3f}, discriminator {worst_d:.3f} (the least-moved generator tensor "
          f"moved {moved:.2e})")
    return ok


def sample_noise(seed, count, batch, zdim):
    """runtime/gan.c's noise for --samples: its own stream, one draw per batch."""
    batches = -(-count // batch)
    z = np.concatenate([noise(seed ^ 0x5A5A5A5A5A5A5A5A, b, batch * zdim) for b in range(batches)])
    return z.reshape(batches * batch, zdim)


def check_export(exe, work, label, data, args, zdim, batch, shape):
    """The trainer's own samples against the exported generator under onnxruntime."""
    import onnxruntime as ort
    g, s = os.path.join(work, f"{label}_export.onnx"), os.path.join(work, f"{label}_samples.npy")
    log = run([exe, "--train", data, *args, "--seed", "4", "--samples", s, "--sample-count", "128",
               "--export-onnx", g])
    z = sample_noise(4, 128, batch, zdim)[:128]
    sess = ort.InferenceSession(g, providers=["CPUExecutionProvider"])
    want = sess.run(None, {sess.get_inputs()[0].name: z})[0].reshape(128, -1)
    got = np.load(s)
    err = float(np.abs(got - want).max())
    ok = err <= 1e-4 * max(1.0, float(np.abs(want).max())) and got.shape == (128, int(np.prod(shape)))
    print(f"{'ok' if ok else 'FAIL'}: {label}: the exported generator under onnxruntime gives the "
          f"trainer's samples (max |diff| {err:.2e})")
    return ok, log


def check_resume(exe, work):
    data = os.path.join(work, "gauss.npy")
    outs = []
    for runs in ([["--epochs", "4"]], [["--epochs", "2", "--checkpoint", "ck"],
                                       ["--epochs", "4", "--resume", "ck"]],
                 [["--epochs", "4", "--steps", "15", "--checkpoint", "ck"],
                  ["--epochs", "4", "--resume", "ck"]]):
        tag = str(len(outs))
        for args in runs:
            args = [a if a != "ck" else os.path.join(work, "gan.ckpt") for a in args]
            run([exe, "--train", data, "--limit", "640", "--seed", "9", *args,
                 "--export-onnx", os.path.join(work, f"r{tag}_g.onnx"),
                 "--export-discriminator", os.path.join(work, f"r{tag}_d.onnx")])
        outs.append(b"".join(open(os.path.join(work, f"r{tag}_{k}.onnx"), "rb").read() for k in "gd"))
    ok = outs[0] == outs[1] == outs[2]
    print(f"{'ok' if ok else 'FAIL'}: a checkpoint after 2 epochs, or after step 15 (mid-epoch 2), "
          f"then --resume, gives the bytes of 4 unbroken epochs")
    return ok


def check_error(nncc, work):
    """A discriminator with a class loss: one error naming file and model, no files."""
    text = open(NN).read().replace("binary_cross_entropy(real)", "cross_entropy(real)")
    text = text.replace("dense(h2, 1, activation=sigmoid)", "dense(h2, 2, activation=softmax)")
    bad, out = os.path.join(work, "bad.nn"), os.path.join(work, "bad.c")
    open(bad, "w").write(text)
    r = subprocess.run([nncc, "train", bad, "-o", out], capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    ok = (r.returncode == 1 and len(lines) == 1 and "bad.nn" in lines[0] and "'discriminator'" in lines[0]
          and not any(f.startswith("bad_") or f == "bad.c" for f in os.listdir(work)))
    print(f"{'ok' if ok else 'FAIL'}: a class loss on the discriminator: {lines[-1] if lines else '(nothing)'}")
    r = subprocess.run([nncc, "train", NN, "-o", out, "--module-only"], capture_output=True, text=True)
    only = r.returncode == 1 and "--model NAME" in r.stderr and not os.path.exists(out)
    print(f"{'ok' if only else 'FAIL'}: --module-only on a GAN file: {r.stderr.strip()}")
    return ok and only


FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def check_dcgan(nncc, work):
    """models/nn/dcgan.nn for one epoch of the first 640 Fashion-MNIST images."""
    exe = build(nncc, work, "dcgan", nn=os.path.join(HERE, "..", "..", "models", "nn", "dcgan.nn"))
    ok, log = check_export(exe, work, "dcgan", FASHION, ["--limit", "640", "--epochs", "1",
                                                          "--log-every", "5"], 64, 64, [1, 28, 28])
    lines = [l for l in log.splitlines() if l.startswith("epoch")]
    finite = len(lines) == 2 and all("nan" not in l and "inf" not in l for l in lines)
    print(f"{'ok' if finite else 'FAIL'}: dcgan, 10 steps: " + " | ".join(l.split(": ", 1)[-1] for l in lines))
    # Two SGD steps against PyTorch on the first 64 images, scaled to [-1, 1] as the
    # trainer scales IDX data for a tanh generator.
    import gzip
    with gzip.open(FASHION) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16)[:B * 784].reshape(B, 1, 28, 28)
    sgd = build(nncc, work, "dcgan_sgd", ["--optimizer", "sgd", "--lr", "0.01"],
                nn=os.path.join(HERE, "..", "..", "models", "nn", "dcgan.nn"))
    step = check_torch(sgd, work, "dcgan+sgd", 2, lambda p: torch.optim.SGD(p, lr=0.01), "dcgan",
                       images / 127.5 - 1, 64)
    return [ok, finite, step]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--keep")
    ap.add_argument("--dcgan", action="store_true", help="only models/nn/dcgan.nn on Fashion-MNIST")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="nncc_gan_")
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(1)
    results = []
    try:
        if a.dcgan:
            if not os.path.exists(FASHION):
                print(f"skipped: {FASHION} is missing (Debian's dataset-fashion-mnist)")
                return 0
            results += check_dcgan(a.nncc, work)
            raise StopIteration
        exe = build(a.nncc, work, "gan")
        results.append(check_error(a.nncc, work))
        results += [check_learning(exe, work, s) for s in (1, 2)]
        results.append(check_torch(exe, work, "adam", 3,
                                   lambda p: torch.optim.Adam(p, lr=0.002, betas=(0.5, 0.999), eps=1e-7)))
        sgd = build(a.nncc, work, "gan_sgd", ["--optimizer", "sgd", "--lr", "0.05"])
        results.append(check_torch(sgd, work, "sgd", 2, lambda p: torch.optim.SGD(p, lr=0.05)))
        # SGD: a bias just before a batch norm has a gradient that is zero but for
        # rounding, which Adam would blow up to a full step in either program.
        bn = build(a.nncc, work, "gan_bn", ["--optimizer", "sgd", "--lr", "0.05"],
                   nn=os.path.join(HERE, "gan_toy_bn.nn"))
        results.append(check_torch(bn, work, "batchnorm+sgd", 3, lambda p: torch.optim.SGD(p, lr=0.05), "bn"))
        results.append(check_export(bn, work, "batchnorm", os.path.join(work, "real64.npy"),
                                    ["--epochs", "3"], ZDIM, B, [2])[0])
        results.append(check_resume(exe, work))
    except StopIteration:
        pass
    except RuntimeError as e:
        print(f"FAIL: {e}")
        results.append(False)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
