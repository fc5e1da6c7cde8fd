#!/usr/bin/env python3
"""The backward kernels of training (nncc-domain ops) against torch autograd.

Usage: grad_kernels.py --nncc PATH [--filter REGEX] [--keep DIR]

Each case is one node (or two) in a tiny ONNX model whose opset imports the
"nncc" domain; the cases of one family share a model, run once with
`nncc run` (NNCC_TEST_INTERNAL_OPS=1 lets a file use the internal domain).
References come from torch autograd on the same random data, in float64;
float32 results must agree to 1e-4 of the reference's largest magnitude,
float64 to 1e-10. The generated C must also build under gcc and clang with
-std=c11 -Wall -Wextra -Werror.

Covered: the conv input gradient (a ConvTranspose with output_shape) and
nncc.ConvGradWeight, 1-D/2-D/3-D, strides, dilations, groups, depthwise,
asymmetric pads; ConvTranspose's gradients (a Conv and ConvGradWeight with
roles swapped) with output_padding; MaxPoolGrad and AveragePoolGrad (pads,
strides, dilations, ceil_mode, count_include_pad, global windows);
BatchNormTrain, BatchNormGrad, LayerNormGrad; DropoutTrain and DropoutGrad
(the mask's rate, determinism per seed and step, the scaling); ResizeGrad
(nearest and linear); RecurrentGrad (RNN, GRU both reset placements, LSTM;
every direction, layout 1, clip, sequence_lens, peepholes; sizes that run
its phases on threads, whose outputs must be the same bits on 1 and 2
threads), against the ONNX equations written in torch ops.

The last line printed is `N passed, M failed`; exit status 1 on any failure.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper  # noqa: F401

IR_VERSION = 8
torch.set_default_dtype(torch.float64)


class Model:
    """The cases of one family: nodes, feeds and expected outputs."""

    def __init__(self, name, nncc_opset=1):
        self.name = name
        self.nncc_opset = nncc_opset
        self.inits = []
        self.nodes, self.inputs, self.outputs = [], [], []
        self.feeds, self.checks = {}, []  # (case, output, fn(value, all outputs) -> error or None)
        self.same_bits = False  # outputs must not depend on the thread count

    def feed(self, name, value):
        value = np.ascontiguousarray(value)
        self.inputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(value.dtype), value.shape))
        self.feeds[name] = value
        return name

    def init(self, name, value):
        self.inits.append(onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op, ins, outs, domain="", **attrs):
        self.nodes.append(helper.make_node(op, ins, outs, domain=domain, name=outs[0], **attrs))

    def expect(self, case, name, ref, dtype, tol=None):
        """Output `name` must match ref (float64) to tol relative to max|ref|."""
        ref = np.asarray(ref)
        tol = tol or (1e-10 if dtype == np.float64 else 1e-4)

        def check(v, _outs):
            if v.shape != ref.shape:
                return f"{name}: shape {v.shape}, expected {ref.shape}"
            err = np.max(np.abs(v.astype(np.float64) - ref)) / max(np.max(np.abs(ref)), 1e-30)
            return None if err <= tol else f"{name}: max|diff|/max|ref| = {err:.3g} > {tol:g}"
        self.output(case, name, dtype, ref.shape, check)

    def output(self, case, name, dtype, shape, check):
        self.outputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), shape))
        self.checks.append((case, name, check))

    def onnx(self):
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[
            helper.make_opsetid("", 17), helper.make_opsetid("nncc", self.nncc_opset)])
        model.ir_version = IR_VERSION
        return model


def rand(rng, *shape):
    return rng.standard_normal(shape)


def t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def cast(a, dtype):
    return np.asarray(a, dtype=dtype)


# ---- convolution ----

def conv_case(m, rng, case, nsp, C, M, G, k, s, d, pb, pe, size, N=2, dtype=np.float32):
    """Conv: dX as ConvTranspose(dY, W) with output_shape, dW as ConvGradWeight(X, dY)."""
    x = rand(rng, N, C, *size)
    w = rand(rng, M, C // G, *k) / np.sqrt(C // G * np.prod(k))
    xt, wt = t(x), t(w)
    pad = [v for i in reversed(range(nsp)) for v in (pb[i], pe[i])]
    conv = (F.conv1d, F.conv2d, F.conv3d)[nsp - 1]
    y = conv(F.pad(xt, pad), wt, stride=s, dilation=d, groups=G)
    dy = rand(rng, *y.shape)
    dx, dw = torch.autograd.grad(y, (xt, wt), torch.tensor(dy))
    p = lambda n: f"{case}_{n}"  # noqa: E731
    m.feed(p("dy"), cast(dy, dtype))
    m.feed(p("w"), cast(w, dtype))
    m.feed(p("x"), cast(x, dtype))
    m.node("ConvTranspose", [p("dy"), p("w")], [p("dx")], strides=s, dilations=d, group=G,
           pads=list(pb) + list(pe), output_shape=list(size))
    m.node("ConvGradWeight", [p("x"), p("dy")], [p("dw")], domain="nncc", strides=s,
           dilations=d, group=G, pads=list(pb) + list(pe), kernel_shape=list(k))
    m.expect(case, p("dx"), dx.numpy(), dtype)
    m.expect(case, p("dw"), dw.numpy(), dtype)


def convt_case(m, rng, case, nsp, C, M, G, k, s, d, p_, opad, size, N=2, dtype=np.float32):
    """ConvTranspose: dX is Conv(dY, W), dW is ConvGradWeight(dY, X) (roles swapped)."""
    x = rand(rng, N, C, *size)
    w = rand(rng, C, M // G, *k) / np.sqrt(C)
    xt, wt = t(x), t(w)
    convt = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nsp - 1]
    y = convt(xt, wt, stride=s, padding=p_, output_padding=opad, dilation=d, groups=G)
    dy = rand(rng, *y.shape)
    dx, dw = torch.autograd.grad(y, (xt, wt), torch.tensor(dy))
    p = lambda n: f"{case}_{n}"  # noqa: E731
    m.feed(p("dy"), cast(dy, dtype))
    m.feed(p("w"), cast(w, dtype))
    m.feed(p("x"), cast(x, dtype))
    m.node("Conv", [p("dy"), p("w")], [p("dx")], strides=s, dilations=d, group=G,
           pads=list(p_) * 2)
    m.node("ConvGradWeight", [p("dy"), p("x")], [p("dw")], domain="nncc", strides=s,
           dilations=d, group=G, pads=list(p_) * 2, kernel_shape=list(k))
    m.expect(case, p("dx"), dx.numpy(), dtype)
    m.expect(case, p("dw"), dw.numpy(), dtype)


def conv_model(rng):
    m = Model("conv")
    # name, nsp, C, M, G, k, s, d, pads begin, pads end, size
    conv_case(m, rng, "c1d", 1, 3, 4, 1, [3], [1], [1], [1], [1], [9])
    conv_case(m, rng, "c1d_s2d2", 1, 4, 6, 2, [3], [2], [2], [2], [0], [13])
    conv_case(m, rng, "c2d", 2, 3, 5, 1, [3, 3], [1, 1], [1, 1], [1, 1], [1, 1], [7, 6])
    conv_case(m, rng, "c2d_stride", 2, 2, 4, 1, [3, 2], [2, 3], [1, 1], [0, 1], [1, 0], [9, 10])
    conv_case(m, rng, "c2d_dil", 2, 2, 3, 1, [3, 3], [1, 2], [2, 1], [2, 1], [2, 1], [8, 9])
    conv_case(m, rng, "c2d_group", 2, 6, 4, 2, [3, 3], [2, 1], [1, 1], [1, 0], [0, 2], [8, 7])
    conv_case(m, rng, "c2d_depthwise", 2, 5, 5, 5, [3, 3], [1, 1], [1, 1], [1, 1], [1, 1], [6, 6])
    conv_case(m, rng, "c2d_dw_mult", 2, 3, 6, 3, [5, 3], [2, 2], [1, 2], [2, 2], [1, 2], [11, 9])
    conv_case(m, rng, "c2d_1x1", 2, 8, 4, 1, [1, 1], [1, 1], [1, 1], [0, 0], [0, 0], [5, 5])
    conv_case(m, rng, "c2d_1x1_s2", 2, 4, 4, 1, [1, 1], [2, 2], [1, 1], [0, 0], [0, 0], [7, 8])
    conv_case(m, rng, "c2d_bigpad", 2, 2, 2, 1, [2, 2], [3, 1], [1, 1], [3, 0], [2, 4], [5, 4])
    conv_case(m, rng, "c2d_bands", 2, 2, 8, 1, [3, 3], [1, 1], [1, 1], [1, 1], [1, 1], [40, 100],
              N=1)  # ConvGradWeight's flat path in several bands of rows
    conv_case(m, rng, "c2d_wide_rows", 2, 1, 8, 1, [2, 3], [1, 2], [1, 1], [0, 1], [1, 1],
              [3, 4200], N=1)  # rows too wide for the flat path: the plain loop nest
    conv_case(m, rng, "c3d", 3, 2, 3, 1, [3, 3, 3], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1],
              [5, 6, 4])
    conv_case(m, rng, "c3d_mix", 3, 4, 4, 2, [2, 3, 1], [2, 1, 2], [1, 2, 1], [0, 2, 1],
              [1, 1, 0], [6, 7, 5])
    conv_case(m, rng, "c2d_f64", 2, 3, 4, 1, [3, 3], [2, 1], [1, 1], [1, 1], [0, 1], [7, 7],
              dtype=np.float64)
    # ConvTranspose: name, nsp, C, M, G, k, s, d, pads, output_padding, size
    convt_case(m, rng, "t1d", 1, 3, 2, 1, [3], [2], [1], [1], [1], [5])
    convt_case(m, rng, "t2d", 2, 4, 3, 1, [4, 4], [2, 2], [1, 1], [1, 1], [0, 0], [4, 5])
    convt_case(m, rng, "t2d_group", 2, 4, 6, 2, [3, 3], [2, 1], [1, 2], [1, 0], [1, 0], [5, 4])
    convt_case(m, rng, "t3d", 3, 2, 2, 1, [3, 2, 2], [1, 2, 2], [1, 1, 1], [1, 0, 0],
               [0, 1, 0], [3, 4, 3])
    return m


# ---- pooling ----

def pool_case(m, rng, case, kind, nsp, k, s, pads, size, d=None, ceil=0, count_pad=0,
              dtype=np.float32, N=2, C=3):
    x = rand(rng, N, C, *size)
    xt = t(x)
    if kind == "max":
        fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nsp - 1]
        y = fn(xt, k, s, pads, dilation=d or 1, ceil_mode=bool(ceil))
    else:
        fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nsp - 1]
        y = fn(xt, k, s, pads, ceil_mode=bool(ceil), count_include_pad=bool(count_pad))
    dy = rand(rng, *y.shape)
    (dx,) = torch.autograd.grad(y, (xt,), torch.tensor(dy))
    p = lambda n: f"{case}_{n}"  # noqa: E731
    m.feed(p("x"), cast(x, dtype))
    m.feed(p("dy"), cast(dy, dtype))
    attrs = dict(kernel_shape=k, strides=s, pads=list(pads) * 2, ceil_mode=ceil)
    if kind == "max":
        attrs["dilations"] = d or [1] * nsp
        m.node("MaxPoolGrad", [p("x"), p("dy")], [p("dx")], domain="nncc", **attrs)
    else:
        attrs["count_include_pad"] = count_pad
        m.node("AveragePoolGrad", [p("x"), p("dy")], [p("dx")], domain="nncc", **attrs)
    m.expect(case, p("dx"), dx.numpy(), dtype)


def global_case(m, rng, case, kind, size, dtype=np.float32):
    """Global pools: the grad kernels with the whole plane as the window."""
    x = rand(rng, 2, 3, *size)
    xt = t(x)
    dims = tuple(range(2, 2 + len(size)))
    y = xt.amax(dim=dims, keepdim=True) if kind == "max" else xt.mean(dim=dims, keepdim=True)
    dy = rand(rng, *y.shape)
    (dx,) = torch.autograd.grad(y, (xt,), torch.tensor(dy))
    p = lambda n: f"{case}_{n}"  # noqa: E731
    m.feed(p("x"), cast(x, dtype))
    m.feed(p("dy"), cast(dy, dtype))
    op = "MaxPoolGrad" if kind == "max" else "AveragePoolGrad"
    m.node(op, [p("x"), p("dy")], [p("dx")], domain="nncc", kernel_shape=list(size))
    m.expect(case, p("dx"), dx.numpy(), dtype)


def pool_model(rng):
    m = Model("pool")
    pool_case(m, rng, "max1d", "max", 1, [3], [2], [1], [11])
    pool_case(m, rng, "max2d", "max", 2, [2, 2], [2, 2], [0, 0], [8, 6])
    pool_case(m, rng, "max2d_overlap", "max", 2, [3, 3], [1, 2], [1, 1], [7, 9])
    pool_case(m, rng, "max2d_dil", "max", 2, [2, 3], [1, 1], [1, 1], [8, 8], d=[2, 2])
    pool_case(m, rng, "max2d_ceil", "max", 2, [3, 3], [2, 2], [0, 1], [8, 7], ceil=1)
    pool_case(m, rng, "max3d", "max", 3, [2, 2, 2], [2, 1, 2], [1, 0, 1], [5, 4, 6])
    pool_case(m, rng, "avg1d", "avg", 1, [3], [2], [1], [10])
    pool_case(m, rng, "avg2d", "avg", 2, [2, 2], [2, 2], [0, 0], [8, 6])
    pool_case(m, rng, "avg2d_pad", "avg", 2, [3, 3], [2, 1], [1, 1], [7, 8])
    pool_case(m, rng, "avg2d_pad_count", "avg", 2, [3, 3], [2, 1], [1, 1], [7, 8], count_pad=1)
    pool_case(m, rng, "avg2d_ceil", "avg", 2, [3, 2], [2, 2], [1, 0], [8, 7], ceil=1)
    pool_case(m, rng, "avg2d_ceil_count", "avg", 2, [3, 2], [2, 2], [1, 1], [8, 7], ceil=1,
              count_pad=1)
    pool_case(m, rng, "avg3d", "avg", 3, [2, 3, 2], [2, 1, 2], [0, 1, 1], [6, 5, 4], count_pad=1)
    pool_case(m, rng, "avg2d_f64", "avg", 2, [3, 3], [2, 2], [1, 1], [9, 9], dtype=np.float64)
    global_case(m, rng, "gmax2d", "max", [5, 4])
    global_case(m, rng, "gavg2d", "avg", [5, 4])
    global_case(m, rng, "gavg1d", "avg", [7])
    global_case(m, rng, "gmax3d", "max", [3, 2, 4])
    return m


# ---- normalization ----

def bn_case(m, rng, case, shape, eps=1e-5, dtype=np.float32):
    C = shape[1]
    x, scale, b = rand(rng, *shape) * 2 + 0.5, rand(rng, C), rand(rng, C)
    xt, st, bt = t(x), t(scale), t(b)
    y = F.batch_norm(xt, None, None, st, bt, training=True, eps=eps)
    dy = rand(rng, *y.shape)
    dx, ds, db = torch.autograd.grad(y, (xt, st, bt), torch.tensor(dy))
    axes = tuple(i for i in range(len(shape)) if i != 1)
    mean = x.mean(axis=axes)
    inv_std = 1 / np.sqrt(x.var(axis=axes) + eps)
    p = lambda n: f"{case}_{n}"  # noqa: E731
    for name, v in (("x", x), ("scale", scale), ("b", b), ("dy", dy), ("mean", mean),
                    ("inv_std", inv_std)):
        m.feed(p(name), cast(v, dtype))
    m.node("BatchNormTrain", [p("x"), p("scale"), p("b")], [p("y"), p("mean_o"), p("istd_o")],
           domain="nncc", epsilon=eps)
    m.node("BatchNormGrad", [p("dy"), p("x"), p("scale"), p("mean"), p("inv_std")],
           [p("dx"), p("dscale"), p("db")], domain="nncc")
    for name, ref in (("y", y), ("mean_o", mean), ("istd_o", inv_std), ("dx", dx),
                      ("dscale", ds), ("db", db)):
        m.expect(case, p(name), ref.detach().numpy() if torch.is_tensor(ref) else ref, dtype)


def ln_case(m, rng, case, shape, axis, eps=1e-5, dtype=np.float32):
    norm = shape[axis % len(shape):]
    x, scale, b = rand(rng, *shape) + 0.3, rand(rng, *norm), rand(rng, *norm)
    xt, st, bt = t(x), t(scale), t(b)
    y = F.layer_norm(xt, norm, st, bt, eps=eps)
    dy = rand(rng, *y.shape)
    dx, ds, db = torch.autograd.grad(y, (xt, st, bt), torch.tensor(dy))
    axes = tuple(range(axis % len(shape), len(shape)))
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    p = lambda n: f"{case}_{n}"  # noqa: E731
    for name, v in (("x", x), ("scale", scale), ("dy", dy), ("mean", mean), ("inv_std", inv_std)):
        m.feed(p(name), cast(v, dtype))
    m.node("LayerNormGrad", [p("dy"), p("x"), p("scale"), p("mean"), p("inv_std")],
           [p("dx"), p("dscale"), p("db")], domain="nncc", axis=axis)
    for name, ref in (("dx", dx), ("dscale", ds), ("db", db)):
        m.expect(case, p(name), ref.numpy(), dtype)


def norm_model(rng):
    m = Model("norm")
    bn_case(m, rng, "bn2d", [4, 3, 5, 6])
    bn_case(m, rng, "bn1d", [8, 5])
    bn_case(m, rng, "bn3d", [2, 4, 3, 4, 5], eps=1e-3)
    bn_case(m, rng, "bn2d_f64", [3, 2, 4, 4], dtype=np.float64)
    ln_case(m, rng, "ln_last", [4, 6, 10], -1)
    ln_case(m, rng, "ln_two", [3, 5, 4, 6], 2)
    ln_case(m, rng, "ln_wide", [3, 150], 1)
    ln_case(m, rng, "ln_f64", [5, 7], -1, dtype=np.float64)
    return m


# ---- dropout ----

def dropout_model(rng):
    m = Model("dropout")
    shape = (4, 50, 60)
    x = rand(rng, *shape).astype(np.float32)
    dy = rand(rng, *shape).astype(np.float32)
    m.feed("x", x)
    m.feed("dy", dy)
    for s in (0, 1):
        m.feed(f"step{s}", np.array(s, np.int64))
    runs = [("r5_s0", 0.5, 7, "step0"), ("r5_s0_again", 0.5, 7, "step0"),
            ("r5_s1", 0.5, 7, "step1"), ("r5_seed8", 0.5, 8, "step0"), ("r2_s0", 0.2, 7, "step0")]
    for name, ratio, seed, step in runs:
        m.node("DropoutTrain", ["x", step], [name + "_y", name + "_mask"], domain="nncc",
               ratio=ratio, seed=seed)
        m.node("DropoutGrad", ["dy", name + "_mask"], [name + "_dx"], domain="nncc", ratio=ratio)

        def check_y(y, outs, name=name, ratio=ratio):
            mask = outs[name + "_mask"].astype(bool)
            n = mask.size
            rate = 1 - mask.mean()
            if abs(rate - ratio) > 4 * np.sqrt(ratio * (1 - ratio) / n):
                return f"{name}: drop rate {rate:.4f}, expected {ratio}"
            scale = np.float32(1 / (1 - ratio))
            if not np.allclose(y, np.where(mask, x * scale, 0), rtol=1e-6, atol=0):
                return f"{name}: Y is not X * mask / (1 - ratio)"
            if not np.allclose(outs[name + "_dx"], np.where(mask, dy * scale, 0), rtol=1e-6):
                return f"{name}: dX is not dY * mask / (1 - ratio)"
            return None
        m.output(name, name + "_y", np.float32, shape, check_y)
        m.output(name, name + "_mask", np.bool_, shape, lambda v, outs: None)
        m.output(name, name + "_dx", np.float32, shape, lambda v, outs: None)

    def same(a, b, want):
        def check(v, outs):
            eq = np.array_equal(outs[a + "_mask"], outs[b + "_mask"])
            return None if eq == want else f"masks of {a} and {b} {'differ' if want else 'agree'}"
        return check
    m.output("determinism", "det_y", np.float32, shape, same("r5_s0", "r5_s0_again", True))
    m.output("step_changes_mask", "step_y", np.float32, shape, same("r5_s0", "r5_s1", False))
    m.output("seed_changes_mask", "seed_y", np.float32, shape, same("r5_s0", "r5_seed8", False))
    for out in ("det_y", "step_y", "seed_y"):
        m.node("Identity", ["r5_s0_y"], [out])
    return m


# ---- resize ----

def resize_case(m, rng, case, shape, scales, mode, coord, torch_mode, align=None, nearest=None,
                dtype=np.float32):
    """ResizeGrad (the forward's inputs, opset 17, then dY) against torch's interpolate."""
    x = rand(rng, *shape)
    xt = t(x)
    y = F.interpolate(xt, scale_factor=scales[2:], mode=torch_mode, align_corners=align,
                      recompute_scale_factor=False)
    dy = rand(rng, *y.shape)
    (dx,) = torch.autograd.grad(y, (xt,), torch.tensor(dy))
    p = lambda n: f"{case}_{n}"  # noqa: E731
    m.feed(p("x"), cast(x, dtype))
    m.feed(p("dy"), cast(dy, dtype))
    m.init(p("scales"), np.array(scales, np.float32))
    attrs = dict(mode=mode, coordinate_transformation_mode=coord)
    if nearest:
        attrs["nearest_mode"] = nearest
    if mode == "cubic":
        attrs["cubic_coeff_a"] = -0.75
    m.node("ResizeGrad", [p("x"), "", p("scales"), "", p("dy")], [p("dx")], domain="nncc", **attrs)
    m.expect(case, p("dx"), dx.numpy(), dtype)


def resize_model(rng):
    m = Model("resize", nncc_opset=17)  # ResizeGrad reads its inputs as a Resize of its opset
    resize_case(m, rng, "nearest2x", [2, 3, 4, 5], [1, 1, 2, 2], "nearest", "asymmetric",
                "nearest", nearest="floor")
    resize_case(m, rng, "nearest_down", [2, 2, 8, 6], [1, 1, 0.5, 0.5], "nearest", "asymmetric",
                "nearest", nearest="floor")
    resize_case(m, rng, "nearest3x1d", [2, 3, 5], [1, 1, 3], "nearest", "asymmetric", "nearest",
                nearest="floor")
    resize_case(m, rng, "bilinear2x", [2, 3, 4, 5], [1, 1, 2, 2], "linear", "half_pixel",
                "bilinear", align=False)
    resize_case(m, rng, "bilinear_corners", [1, 2, 5, 4], [1, 1, 2, 3], "linear",
                "align_corners", "bilinear", align=True)
    resize_case(m, rng, "bilinear_down", [1, 2, 8, 8], [1, 1, 0.5, 0.5], "linear",
                "half_pixel", "bilinear", align=False)
    resize_case(m, rng, "linear1d", [2, 3, 6], [1, 1, 2], "linear", "half_pixel", "linear",
                align=False)
    resize_case(m, rng, "trilinear", [1, 2, 3, 4, 3], [1, 1, 2, 2, 2], "linear", "half_pixel",
                "trilinear", align=False)
    resize_case(m, rng, "bicubic", [1, 2, 4, 5], [1, 1, 2, 2], "cubic", "half_pixel", "bicubic",
                align=False)
    resize_case(m, rng, "bilinear_f64", [2, 2, 3, 4], [1, 1, 2, 2], "linear", "half_pixel",
                "bilinear", align=False, dtype=np.float64)
    return m


# ---- recurrent ----

def onnx_recurrent(kind, x, W, R, B, h0, c0, direction, lbr, clip=None, P=None, lens=None):
    """ONNX's RNN/GRU/LSTM (default activations, layout 0) in torch ops: Y, Y_h, Y_c.
    clip clamps every gate's pre-activation (torch.clamp: no gradient outside);
    P holds the LSTM peepholes [i, o, f]; past lens[b] a sample holds its state
    and its Y is zero."""
    S, D, H = x.shape[0], W.shape[0], R.shape[2]
    cl = (lambda v: torch.clamp(v, -clip, clip)) if clip else (lambda v: v)
    ys, hs, cs = [], [], []
    for d in range(D):
        rev = direction == "reverse" or d == 1
        w, r, wb, rb = W[d], R[d], B[d][:W.shape[1]], B[d][W.shape[1]:]
        h, c = h0[d], c0[d] if c0 is not None else None
        pi, po, pf = (P[d][k * H:(k + 1) * H] for k in range(3)) if P is not None else (0, 0, 0)
        out = [None] * S
        for s in range(S):
            t = S - 1 - s if rev else s
            xw = x[t] @ w.T + wb
            hold = None if lens is None else torch.tensor((t < lens).astype(np.float64))[:, None]
            hp, cp = h, c
            if kind == "RNN":
                h = torch.tanh(cl(xw + h @ r.T + rb))
            elif kind == "LSTM":
                a = xw + h @ r.T + rb
                i, o, f, g = [a[:, k * H:(k + 1) * H] for k in range(4)]
                c = torch.sigmoid(cl(f + pf * c)) * c + torch.sigmoid(cl(i + pi * c)) * \
                    torch.tanh(cl(g))
                h = torch.sigmoid(cl(o + po * c)) * torch.tanh(c)
            else:
                z = torch.sigmoid(cl(xw[:, :H] + h @ r[:H].T + rb[:H]))
                rg = torch.sigmoid(cl(xw[:, H:2 * H] + h @ r[H:2 * H].T + rb[H:2 * H]))
                if lbr:
                    hh = torch.tanh(cl(xw[:, 2 * H:] + rg * (h @ r[2 * H:].T + rb[2 * H:])))
                else:
                    hh = torch.tanh(cl(xw[:, 2 * H:] + (rg * h) @ r[2 * H:].T + rb[2 * H:]))
                h = (1 - z) * hh + z * h
            if hold is not None:
                out[t] = h * hold
                h = hold * h + (1 - hold) * hp
                if kind == "LSTM":
                    c = hold * c + (1 - hold) * cp
            else:
                out[t] = h
        ys.append(torch.stack(out))
        hs.append(h)
        cs.append(c)
    Y = torch.stack(ys, 1)
    return Y, torch.stack(hs), torch.stack(cs) if kind == "LSTM" else None


def recurrent_case(m, rng, case, kind, S, Bt, I, H, direction="forward", lbr=0, h0=True,
                   bias=True, dtype=np.float32, clip=None, peep=False, lens=None, layout=0,
                   scale=1.0):
    """lens: per-sample lengths (sequence_lens); layout 1 feeds and expects
    batch-first tensors (X [B, S, I], Y [B, S, D, H], states [B, D, H]);
    scale multiplies X (large values make clip bite)."""
    D = 2 if direction == "bidirectional" else 1
    G = {"RNN": 1, "GRU": 3, "LSTM": 4}[kind]
    vals = {"x": rand(rng, S, Bt, I) * scale, "w": rand(rng, D, G * H, I) / np.sqrt(I),
            "r": rand(rng, D, G * H, H) / np.sqrt(H), "b": rand(rng, D, 2 * G * H) * 0.5,
            "h0": rand(rng, D, Bt, H) * 0.5, "c0": rand(rng, D, Bt, H) * 0.5,
            "p": rand(rng, D, 3 * H) * 0.5}
    if not bias:
        vals["b"] = np.zeros((D, 2 * G * H))
    if not h0:
        vals["h0"] = np.zeros((D, Bt, H))
        vals["c0"] = np.zeros((D, Bt, H))
    ts = {k: t(v) for k, v in vals.items()}
    Y, Yh, Yc = onnx_recurrent(kind, ts["x"], ts["w"], ts["r"], ts["b"], ts["h0"],
                               ts["c0"] if kind == "LSTM" else None, direction, lbr, clip,
                               ts["p"] if peep else None, lens)
    dy, dyh, dyc = rand(rng, *Y.shape), rand(rng, *Yh.shape), rand(rng, *Yh.shape)
    outs, grads = [Y, Yh], [torch.tensor(dy), torch.tensor(dyh)]
    if kind == "LSTM":
        outs.append(Yc)
        grads.append(torch.tensor(dyc))
    wrt = ["x", "w", "r"] + (["b"] if bias else []) + (["h0"] if h0 else []) + \
        (["c0"] if h0 and kind == "LSTM" else []) + (["p"] if peep else [])
    refs = dict(zip(wrt, torch.autograd.grad(outs, [ts[k] for k in wrt], grads)))
    refs = {k: v.numpy() for k, v in refs.items()}
    if layout:  # batch first: X, dX [B, S, I], dY [B, S, D, H], states [B, D, H]
        for k in ("x", "h0", "c0"):
            vals[k] = vals[k].transpose(1, 0, 2)
        for k in ("x", "h0", "c0"):
            if k in refs:
                refs[k] = refs[k].transpose(1, 0, 2)
        dy, dyh, dyc = dy.transpose(2, 0, 1, 3), dyh.transpose(1, 0, 2), dyc.transpose(1, 0, 2)
    p = lambda n: f"{case}_{n}"  # noqa: E731
    for k in ("x", "w", "r"):
        m.feed(p(k), cast(vals[k], dtype))
    ins = [p("x"), p("w"), p("r"), m.feed(p("b"), cast(vals["b"], dtype)) if bias else "",
           m.feed(p("h0"), cast(vals["h0"], dtype)) if h0 else "",
           m.feed(p("c0"), cast(vals["c0"], dtype)) if h0 and kind == "LSTM" else "",
           m.feed(p("dy"), cast(dy, dtype)), m.feed(p("dyh"), cast(dyh, dtype)),
           m.feed(p("dyc"), cast(dyc, dtype)) if kind == "LSTM" else ""]
    if lens is not None or peep:
        ins.append(m.feed(p("lens"), lens.astype(np.int32)) if lens is not None else "")
    if peep:
        ins.append(m.feed(p("p"), cast(vals["p"], dtype)))
    names = {"x": "dx", "w": "dw", "r": "dr", "b": "db", "h0": "dh0", "c0": "dc0", "p": "dp"}
    outs = [p(names[k]) if k in refs else "" for k in ("x", "w", "r", "b", "h0", "c0")]
    outs[3] = outs[3] or p("db_unused")
    outs[4] = outs[4] or p("dh0_unused")
    if kind == "LSTM":
        outs[5] = outs[5] or p("dc0_unused")
    outs.append(p("work"))
    if peep:
        outs.append(p("dp"))
    attrs = dict(kind=kind, direction=direction, hidden_size=H, linear_before_reset=lbr,
                 layout=layout)
    if clip:
        attrs["clip"] = clip
    m.node("RecurrentGrad", ins, outs, domain="nncc", **attrs)
    for k, ref in refs.items():
        m.expect(case, p(names[k]), ref, dtype)


def recurrent_model(rng):
    m = Model("recurrent")
    m.same_bits = True
    recurrent_case(m, rng, "rnn_fwd", "RNN", 5, 3, 4, 6)
    recurrent_case(m, rng, "rnn_bidir", "RNN", 4, 2, 3, 5, direction="bidirectional")
    recurrent_case(m, rng, "lstm_fwd", "LSTM", 5, 3, 4, 6)
    recurrent_case(m, rng, "lstm_rev", "LSTM", 4, 2, 3, 5, direction="reverse")
    recurrent_case(m, rng, "lstm_bidir_noinit", "LSTM", 6, 2, 3, 4, direction="bidirectional",
                   h0=False)
    recurrent_case(m, rng, "gru_fwd", "GRU", 5, 3, 4, 6)
    recurrent_case(m, rng, "gru_lbr_bidir", "GRU", 4, 2, 3, 5, direction="bidirectional", lbr=1)
    recurrent_case(m, rng, "gru_rev_nobias", "GRU", 4, 2, 3, 4, direction="reverse", bias=False)
    recurrent_case(m, rng, "lstm_f64", "LSTM", 4, 2, 3, 4, dtype=np.float64)
    # large enough for the phases to run on threads (nncc run builds with -fopenmp)
    recurrent_case(m, rng, "lstm_threads", "LSTM", 9, 7, 8, 12, direction="bidirectional")
    recurrent_case(m, rng, "gru_threads", "GRU", 9, 7, 8, 16)
    recurrent_case(m, rng, "gru_lbr_threads", "GRU", 9, 7, 8, 12, lbr=1, direction="reverse")
    # sequence_lens: lengths 0 to S, both directions
    lens = np.array([5, 0, 3, 1])
    recurrent_case(m, rng, "rnn_lens", "RNN", 5, 4, 3, 4, lens=lens, direction="bidirectional")
    recurrent_case(m, rng, "lstm_lens", "LSTM", 5, 4, 3, 4, lens=lens, direction="bidirectional")
    recurrent_case(m, rng, "gru_lens", "GRU", 5, 4, 3, 4, lens=lens, direction="reverse")
    recurrent_case(m, rng, "gru_lbr_lens", "GRU", 5, 4, 3, 4, lens=lens, lbr=1)
    # clip (inputs scaled so that some pre-activations are clipped), peepholes, layout 1
    recurrent_case(m, rng, "rnn_clip", "RNN", 5, 3, 4, 5, clip=1.0, scale=3.0)
    recurrent_case(m, rng, "lstm_clip", "LSTM", 5, 3, 4, 5, clip=1.5, scale=3.0,
                   direction="bidirectional")
    recurrent_case(m, rng, "gru_clip", "GRU", 5, 3, 4, 5, clip=1.0, scale=3.0)
    recurrent_case(m, rng, "gru_lbr_clip", "GRU", 5, 3, 4, 5, clip=1.0, scale=3.0, lbr=1)
    recurrent_case(m, rng, "lstm_peep", "LSTM", 5, 3, 4, 5, peep=True, direction="bidirectional")
    recurrent_case(m, rng, "lstm_peep_clip_lens", "LSTM", 5, 4, 3, 4, peep=True, clip=1.2,
                   scale=3.0, lens=lens, direction="reverse")
    recurrent_case(m, rng, "lstm_layout1", "LSTM", 4, 3, 3, 5, layout=1, direction="bidirectional")
    recurrent_case(m, rng, "gru_layout1_lens", "GRU", 5, 4, 3, 4, layout=1, lens=lens, lbr=1)
    recurrent_case(m, rng, "lstm_peep_f64", "LSTM", 4, 2, 3, 4, peep=True, clip=1.0, scale=3.0,
                   dtype=np.float64)
    return m


# ---- running the models ----

def run_model(nncc, m, work, threads=None):
    path = os.path.join(work, m.name + ".onnx")
    onnx.save(m.onnx(), path)
    env = dict(os.environ, NNCC_TEST_INTERNAL_OPS="1",
               NNCC_CFLAGS="-O2 -std=c11 -Wall -Wextra -Werror")
    out_dir = os.path.join(work, m.name + "_out%s" % (threads or ""))
    args = [nncc, "run", path, "--output-dir", out_dir] + \
        (["--threads", str(threads)] if threads else [])
    for name, v in m.feeds.items():
        f = os.path.join(work, name + ".npy")
        np.save(f, v)
        args += ["--input", f"{name}={f}"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    if r.returncode != 0:
        return f"nncc run failed: {(r.stderr or r.stdout).strip()[-2000:]}", None
    c = os.path.join(work, m.name + ".c")
    r = subprocess.run([nncc, path, "-o", c], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return f"nncc failed: {r.stderr.strip()}", None
    for cc in ("gcc", "clang"):
        if not shutil.which(cc):
            continue
        r = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fopenmp", "-c", c,
                            "-o", os.path.join(work, m.name + ".o")], capture_output=True,
                           text=True)
        if r.returncode != 0:
            return f"{cc} rejects the generated C: {r.stderr.strip()[-2000:]}", None
    outs = [np.load(os.path.join(out_dir, f"output_{i}.npy"))
            for i in range(len(m.outputs))]
    return None, outs


MODELS = [conv_model, pool_model, norm_model, dropout_model, resize_model, recurrent_model]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--keep")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="nncc_gradk_")
    os.makedirs(work, exist_ok=True)
    passed = failed = 0
    for build in MODELS:
        m = build(np.random.default_rng(1234))
        if a.filter and not re.search(a.filter, m.name):
            continue
        err, outs = run_model(os.path.abspath(a.nncc), m, work, 2 if m.same_bits else None)
        if m.same_bits and not err:  # the same bits on one thread as on two
            err1, outs1 = run_model(os.path.abspath(a.nncc), m, work, 1)
            same = not err1 and all(np.array_equal(u, v) for u, v in zip(outs, outs1))
            passed, failed = passed + same, failed + (not same)
            print(f"{'ok  ' if same else 'FAIL'} {m.name}: the same bits on 1 and 2 threads"
                  + (f" ({err1})" if err1 else ""))
        cases = {}
        named = {name: outs[i] for i, (_, name, _) in enumerate(m.checks)} if outs else {}
        for i, (case, name, check) in enumerate(m.checks):
            msg = err or check(outs[i], named)
            cases.setdefault(case, [])
            if msg:
                cases[case].append(msg)
        for case, msgs in cases.items():
            if msgs:
                failed += 1
                print(f"FAIL {m.name}/{case}: " + "; ".join(msgs[:3]))
            else:
                passed += 1
                print(f"ok   {m.name}/{case}")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
