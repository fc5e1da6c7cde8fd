#!/usr/bin/env python3
"""Batch normalization and dropout in a training module: _grad normalizes by
batch statistics, drops at random and updates the running statistics;
_predict is inference (running statistics, nothing dropped).

Usage: train_forms.py --nncc PATH [--keep DIR]

The model is x -> BatchNormalization (random running statistics) -> Dropout
(ratio 0.5) -> y, with BN's scale and bias learned; `nncc train --loss mse
--module-only` builds its module, a small driver (written here) calls
t_init, t_predict, t_grad and t_predict again. Checks, against onnxruntime
on the model's inference form: the first predictions (to 1e-5 relative);
their repeatability; after one t_grad, the predictions of the model whose
running statistics moved by momentum towards the batch's mean and biased
variance (ONNX's rule), the last sample being padding (mask 0) that must not
count; and that t_grad's own output is not the inference one (it drops and
uses the real samples' batch statistics). The module must build under gcc
and clang with -Wall -Wextra -Werror. Last line: `N passed, M failed`.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

B, C, HW, MOM, EPS = 4, 3, (5, 6), 0.8, 1e-3

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "t.h"
static _Alignas(64) unsigned char state[T_STATE_BYTES + 64];
static float x[X_COUNT], x2[X_COUNT], pred[PRED_COUNT], mask[T_BATCH];
static t_label_t labels[PRED_COUNT];
static void put(FILE *f) { fwrite(pred, sizeof pred, 1, f); }
int main(int argc, char **argv) {
  FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
  if (argc != 3 || !in || !out || fread(x, sizeof x, 1, in) != 1 || fread(x2, sizeof x2, 1, in) != 1)
    return 2;
  for (int i = 0; i < T_BATCH; i++) mask[i] = i < T_BATCH - 1; /* the last: padding */
  t_init(state);
  t_predict(state, x2, pred, NULL); put(out);
  t_predict(state, x2, pred, NULL); put(out);
  t_grad(state, x, labels, mask, pred, NULL); put(out);
  t_predict(state, x2, pred, NULL); put(out);
  fclose(out);
  return 0;
}
"""


def model(rm, rv, scale, bias, with_dropout=True):
    shape = [B, C, *HW]
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "b", "rm", "rv"], ["n"],
                              epsilon=EPS, momentum=MOM)]
    nodes.append(helper.make_node("Dropout", ["n", "ratio"], ["y"]) if with_dropout else
                 helper.make_node("Identity", ["n"], ["y"]))
    inits = [numpy_helper.from_array(a.astype(np.float32), k)
             for k, a in (("s", scale), ("b", bias), ("rm", rm), ("rv", rv))]
    inits.append(numpy_helper.from_array(np.array(0.5, np.float32), "ratio"))
    g = helper.make_graph(nodes, "forms", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def ort_run(m, x):
    so = ort.SessionOptions()
    so.log_severity_level = 3  # the inference form leaves 'ratio' unused
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--keep")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="train_forms_")
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(5)
    rm, rv = rng.standard_normal(C) * 0.3, rng.uniform(0.5, 2, C)
    scale, bias = rng.uniform(0.5, 1.5, C), rng.standard_normal(C)
    x = (rng.standard_normal((B, C, *HW)) * 2 + 1).astype(np.float32)
    x[-1] = 0  # the padding of a short batch, mask 0: outside the batch statistics
    real = x[:-1]
    x2 = rng.standard_normal((B, C, *HW)).astype(np.float32)
    path = os.path.join(work, "forms.onnx")
    onnx.save(model(rm, rv, scale, bias), path)
    checks = []
    r = subprocess.run([a.nncc, "train", path, "--loss", "mse", "--batch", str(B), "-o",
                        os.path.join(work, "t.c"), "--prefix", "t", "--module-only"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL nncc train: " + r.stderr.strip())
        print("0 passed, 1 failed")
        return 1
    with open(os.path.join(work, "driver.c"), "w") as f:
        f.write(DRIVER)
    n = x.size
    exe = os.path.join(work, "driver")
    for i, cc in enumerate(cc for cc in ("gcc", "clang") if shutil.which(cc)):
        r = subprocess.run([cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-I", work,
                            "-DX_COUNT=%d" % n, "-DPRED_COUNT=%d" % n,
                            os.path.join(work, "driver.c"), os.path.join(work, "t.c"), "-lm", "-o",
                            exe if i == 0 else os.devnull], capture_output=True, text=True)
        checks.append((cc + " builds the module warning-free", r.returncode == 0, r.stderr[-1500:]))
    if not os.path.exists(exe):
        for name, ok, why in checks:
            print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + why))
        print("0 passed, %d failed" % len(checks))
        return 1
    np.concatenate([x.ravel(), x2.ravel()]).tofile(os.path.join(work, "in.bin"))
    subprocess.run([exe, os.path.join(work, "in.bin"), os.path.join(work, "out.bin")], check=True)
    p0, p1, g, p2 = np.fromfile(os.path.join(work, "out.bin"), np.float32).reshape(4, *x.shape)
    ref0 = ort_run(model(rm, rv, scale, bias, False), x2)
    checks.append(("_predict is inference (running statistics, no drops)", rel(p0, ref0) < 1e-5,
                   "max rel diff %.3g" % rel(p0, ref0)))
    checks.append(("_predict repeats exactly", np.array_equal(p0, p1), "two calls differ"))
    axes = (0, 2, 3)
    rm1 = rm * MOM + real.mean(axis=axes) * (1 - MOM)
    rv1 = rv * MOM + real.var(axis=axes) * (1 - MOM)
    ref2 = ort_run(model(rm1, rv1, scale, bias, False), x2)
    checks.append(("_grad moves the running statistics by momentum (padding left out)",
                   rel(p2, ref2) < 1e-5,
                   "max rel diff %.3g" % rel(p2, ref2)))
    g = g[:-1]
    zeros = float(np.mean(g == 0))
    checks.append(("_grad drops about half", 0.35 < zeros < 0.65, "%.2f of Y is zero" % zeros))
    kept = g != 0
    batch_norm = (real - real.mean(axis=axes, keepdims=True)) / np.sqrt(
        real.var(axis=axes, keepdims=True) + EPS)
    train_ref = (batch_norm * scale.reshape(1, C, 1, 1) + bias.reshape(1, C, 1, 1)) * 2
    checks.append(("_grad keeps the rest, batch-normalized, scaled by 1/(1-ratio)",
                   rel(g[kept], train_ref[kept]) < 1e-4, "max rel diff %.3g" % rel(g[kept], train_ref[kept])))
    passed = sum(ok for _, ok, _ in checks)
    for name, ok, why in checks:
        print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + why))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, len(checks) - passed))
    return 0 if passed == len(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
