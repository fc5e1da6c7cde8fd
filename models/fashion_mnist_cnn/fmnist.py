"""Fashion-MNIST loading shared by train.py and eval_onnx.py.

The data set ships as gzip'd IDX files; we parse them with numpy directly so
no torchvision download logic (which wants the network) is involved.
"""
import gzip
import os

import numpy as np

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _read_idx(path, magic, ndim):
    with gzip.open(path, "rb") as f:
        data = f.read()
    # IDX header: big-endian u32 magic, then one big-endian u32 per dimension.
    got = int.from_bytes(data[0:4], "big")
    if got != magic:
        raise ValueError(f"{path}: bad IDX magic {got:#x}, want {magic:#x}")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big")
            for i in range(ndim)]
    # copy(): frombuffer views are read-only, which torch warns about.
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).copy()
    return body.reshape(dims)


def load(split):
    """Return (images uint8 [N,28,28], labels uint8 [N]) for 'train'/'t10k'."""
    imgs = _read_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"),
                     0x00000803, 3)
    labels = _read_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz"),
                       0x00000801, 1)
    if imgs.shape[0] != labels.shape[0]:
        raise ValueError(f"{split}: {imgs.shape[0]} images vs "
                         f"{labels.shape[0]} labels")
    return imgs, labels


def to_input(imgs):
    """uint8 [N,28,28] -> float32 [N,1,28,28] in [0,1]: the model's contract."""
    return (imgs.astype(np.float32) / np.float32(255.0))[:, None, :, :]
