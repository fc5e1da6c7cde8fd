"""Shared by the training tests: build a model's training module with
`nncc train --prefix t`, compile it with tests/train/module_driver.c under
-Wall -Wextra -Werror, and run the driver."""
import os
import shutil
import subprocess

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
CTYPES = {np.float32: "float", np.float64: "double", np.int64: "int64_t"}


class BuildError(Exception):
    pass


def compilers():
    """gcc, and clang when installed: generated C must be warning-free under both."""
    return [cc for cc in ("gcc", "clang") if shutil.which(cc)]


def build(nncc, model, train_args, workdir, x, pred_count, label_width, ccs=None,
          pred_dtype=np.float32):
    """Writes model (an onnx.ModelProto, or the path of a .nn file) and its
    module into workdir; returns the driver's path, built with the first
    compiler of ccs (the others only compile, to check warnings)."""
    os.makedirs(workdir, exist_ok=True)
    if isinstance(model, str):
        path = model
    else:
        path = os.path.join(workdir, "model.onnx")
        onnx.save(model, path)
    cmd = [nncc, "train", path, "-o", os.path.join(workdir, "t.c"), "--prefix", "t",
           "--no-openmp", "--module-only"] + list(train_args)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise BuildError("nncc train failed: %s\n%s" % (" ".join(cmd), p.stderr))
    defines = ["-DX_T=%s" % CTYPES[x.dtype.type], "-DX_COUNT=%d" % x.size,
               "-DP_T=%s" % CTYPES[np.dtype(pred_dtype).type], "-DPRED_COUNT=%d" % pred_count,
               "-DLABEL_WIDTH=%d" % label_width]
    exe = os.path.join(workdir, "driver")
    for i, cc in enumerate(ccs or compilers()):
        out = exe if i == 0 else os.devnull
        cmd = [cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-I", workdir] + defines + \
              [os.path.join(HERE, "module_driver.c"), os.path.join(workdir, "t.c"), "-lm",
               "-o", out]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise BuildError("%s failed on the generated module:\n%s" % (cc, p.stderr[-3000:]))
    return exe


def write_inputs(workdir, x, labels, mask):
    paths = []
    for name, a in (("x", x), ("labels", labels), ("mask", mask)):
        p = os.path.join(workdir, name + ".bin")
        np.ascontiguousarray(a).tofile(p)
        paths.append(p)
    return paths


def run(exe, args):
    p = subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True)
    if p.returncode != 0:
        raise BuildError("driver failed (%d): %s" % (p.returncode, p.stderr))
    return p.stdout
