"""Export randomly initialised reference models to ONNX for nncc's tests.

Usage: .venv/bin/python models/zoo/export_zoo.py OUTDIR [NAME ...]

NAME is any of mlp, resnet18, squeezenet (default: all). Weights are random
but fixed by torch.manual_seed(0), so every run writes the same files. The
outputs are generated at test time and are not committed.

All models: opset 13, fixed batch of 1, eval mode (BatchNorm uses running
stats and is folded into the preceding Conv by the exporter; Dropout is
dropped), input named 'input', output named 'output'.
"""
import argparse
import os

import torch
import torch.nn as nn
import torchvision


def mlp():
    return nn.Sequential(
        nn.Linear(784, 500), nn.ReLU(),
        nn.Linear(500, 250), nn.ReLU(),
        nn.Linear(250, 10),
    ), (1, 784)


def randomize_bn(model):
    # torchvision initialises BN to the identity (mean 0, var 1, gamma 1,
    # beta 0); random stats make the folded Conv weights a real test.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model


def resnet18():
    return randomize_bn(torchvision.models.resnet18(weights=None)), \
        (1, 3, 224, 224)


def squeezenet():
    # 1_1 rather than 1_0: same ops (incl. ceil_mode MaxPool), 2.4x cheaper.
    model = torchvision.models.squeezenet1_1(weights=None)
    # torchvision zeroes the conv biases; the exporter then dedups the equal
    # tensors into Identity nodes and the bias add goes untested.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.bias.uniform_(-0.1, 0.1)
    return model, (1, 3, 224, 224)


MODELS = {"mlp": mlp, "resnet18": resnet18, "squeezenet": squeezenet}


def export(name, outdir):
    # Reseed per model so each file is independent of which others are built.
    torch.manual_seed(0)
    model, shape = MODELS[name]()
    model.eval()
    path = os.path.join(outdir, f"{name}.onnx")
    torch.onnx.export(model, torch.zeros(shape), path, opset_version=13,
                      do_constant_folding=True,
                      input_names=["input"], output_names=["output"])
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("names", nargs="*",
                    help=f"models to export: {', '.join(sorted(MODELS))} "
                         "(default: all)")
    args = ap.parse_args()
    # Checked by hand: argparse's choices= rejects an empty nargs="*" list.
    for name in args.names:
        if name not in MODELS:
            ap.error(f"unknown model {name!r}")
    os.makedirs(args.outdir, exist_ok=True)
    torch.set_num_threads(2)
    for name in args.names or sorted(MODELS):
        export(name, args.outdir)


if __name__ == "__main__":
    main()
