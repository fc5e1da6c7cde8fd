"""Export randomly initialised reference models to ONNX for nncc's tests.

Usage: .venv/bin/python models/zoo/export_zoo.py OUTDIR [NAME ...]

NAME is any of the models below (default: all). Weights are random but
fixed by torch.manual_seed(0), so every run writes the same files. The
outputs are generated at test time and are not committed.

All models: fixed batch of 1, eval mode (BatchNorm uses running stats and is
folded into the preceding Conv by the exporter; Dropout is dropped), input
named 'input', output named 'output'; opset 13 unless the model says.

  mlp, resnet18, squeezenet   the first set (zoo.sh)
  mobilenet_v2, efficientnet_b0, shufflenet_v2   torchvision: depthwise and
      grouped convolution, SiLU, squeeze-excitation, channel shuffle
  lstm_tagger   embedding, 2-layer LSTM, per-token linear (int64 token input)
  gru_bidir     bidirectional GRU over a feature sequence, last-step head
  transformer   a 2-layer pre-norm transformer encoder (opset 17:
      LayerNormalization, multi-head attention as MatMul/Softmax)
  conv1d_audio  Conv1d/BatchNorm1d/MaxPool1d/global pooling on a waveform
  unet_small    encoder-decoder with ConvTranspose and skip concatenations
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


def mobilenet_v2():
    return randomize_bn(torchvision.models.mobilenet_v2(weights=None)), (1, 3, 224, 224)


def efficientnet_b0():
    return randomize_bn(torchvision.models.efficientnet_b0(weights=None)), (1, 3, 224, 224)


def shufflenet_v2():
    return randomize_bn(torchvision.models.shufflenet_v2_x0_5(weights=None)), (1, 3, 224, 224)


class LstmTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 64)
        self.lstm = nn.LSTM(64, 128, num_layers=2, batch_first=True)
        self.head = nn.Linear(128, 17)

    def forward(self, tokens):
        h, _ = self.lstm(self.embed(tokens))
        return self.head(h)


def lstm_tagger():
    return LstmTagger(), torch.randint(0, 1000, (1, 24))


class GruBidir(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(40, 96, batch_first=True, bidirectional=True)
        self.head = nn.Linear(192, 6)

    def forward(self, x):
        h, _ = self.gru(x)
        return self.head(h[:, -1])


def gru_bidir():
    return GruBidir(), (1, 50, 40)


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(128, 4, dim_feedforward=256, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.norm = nn.LayerNorm(128)

    def forward(self, x):
        return self.norm(self.encoder(x))


def transformer():
    return Transformer(), (1, 32, 128), 17


def conv1d_audio():
    def block(cin, cout):
        return [nn.Conv1d(cin, cout, 9, padding=4), nn.BatchNorm1d(cout), nn.ReLU(), nn.MaxPool1d(4)]
    model = nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 64),
                          nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 10))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model, (1, 1, 4000)


class UnetSmall(nn.Module):
    def __init__(self):
        super().__init__()
        def conv(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())
        self.down1, self.down2, self.mid = conv(3, 16), conv(16, 32), conv(32, 64)
        self.up2, self.dec2 = nn.ConvTranspose2d(64, 32, 2, stride=2), conv(64, 32)
        self.up1, self.dec1 = nn.ConvTranspose2d(32, 16, 2, stride=2), conv(32, 16)
        self.out = nn.Conv2d(16, 4, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(nn.functional.max_pool2d(d1, 2))
        m = self.mid(nn.functional.max_pool2d(d2, 2))
        u2 = self.dec2(torch.cat([self.up2(m), d2], 1))
        u1 = self.dec1(torch.cat([self.up1(u2), d1], 1))
        return self.out(u1)


def unet_small():
    return UnetSmall(), (1, 3, 64, 64)


MODELS = {"mlp": mlp, "resnet18": resnet18, "squeezenet": squeezenet,
          "mobilenet_v2": mobilenet_v2, "efficientnet_b0": efficientnet_b0,
          "shufflenet_v2": shufflenet_v2, "lstm_tagger": lstm_tagger, "gru_bidir": gru_bidir,
          "transformer": transformer, "conv1d_audio": conv1d_audio, "unet_small": unet_small}


def export(name, outdir):
    # Reseed per model so each file is independent of which others are built.
    torch.manual_seed(0)
    model, example, *opset = MODELS[name]()
    model.eval()
    if isinstance(example, tuple):
        example = torch.zeros(example)
    path = os.path.join(outdir, f"{name}.onnx")
    torch.onnx.export(model, example, path, opset_version=opset[0] if opset else 13,
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
