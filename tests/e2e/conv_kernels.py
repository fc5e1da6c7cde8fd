#!/usr/bin/env python3
"""The fast Conv, MatMul and Gemm kernels through `nncc run`, against
onnxruntime: the GEMM conv (compiler/ops/conv_gemm.c) over strides, pads,
dilations, groups, 1-D, row and channel tails, k blocking and channel
blocks; the depthwise kernel (conv_depthwise.c) over strides 1-3, pads,
dilations and kernel sizes; Relu and Clip folded into a Conv
(pass_fuse_activation.c), also when the Conv's output has another reader
(not folded) or the Clip has one bound; stride-1 ConvTranspose as the GEMM
of the flipped kernel; nncc.ConvGradWeight as the GEMM of im2col(X) and
dY^T (against torch autograd); MatMul and Gemm through the
micro-kernel (gemm_tile.c) with column tails, k blocking, batches and
Gemm's C. Each model's C must also build with gcc and clang under
-std=c11 -Wall -Wextra -Werror (no -mavx2, no OpenMP).

Usage: conv_kernels.py --nncc PATH [--filter REGEX] [--no-cc]
The last line is `N passed, M failed`; exit status 1 when any case fails.
"""
import argparse
import os
import re
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import recurrent_models  # noqa: E402  (check_c: the gcc/clang build check)
from nncc_run import nncc_run  # noqa: E402

CASES = []
RNG = np.random.default_rng(7)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def add_case(name, nodes, x_shape, inits, extra_inputs=()):
    """A graph reading input x (and extra_inputs: (name, array)) with
    initializers inits {name: array}, whose last node writes y."""
    vins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
    feeds = {"x": rand(*x_shape)}
    for n, v in extra_inputs:
        vins.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, v.shape))
        feeds[n] = v
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
            for o in ("y",) + tuple(o for n in nodes for o in n.output if o.startswith("keep"))]
    graph = helper.make_graph(nodes, name, vins, outs,
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    CASES.append((name, model, feeds, None))


def conv(name, x_shape, m, k, act=None, bias=True, **attrs):
    c = x_shape[1]
    g = attrs.get("group", 1)
    inits = {"w": rand(m, c // g, *k)}
    ins = ["x", "w"]
    if bias:
        inits["b"] = rand(m)
        ins.append("b")
    out = "y" if act is None else "t"
    nodes = [helper.make_node("Conv", ins, [out], **attrs)]
    if act == "relu":
        nodes.append(helper.make_node("Relu", ["t"], ["y"]))
    elif act == "relu6":
        inits["lo"], inits["hi"] = np.float32(0), np.float32(6)
        nodes.append(helper.make_node("Clip", ["t", "lo", "hi"], ["y"]))
    elif act == "clip_hi":  # only an upper bound
        inits["hi"] = np.float32(0.5)
        nodes.append(helper.make_node("Clip", ["t", "", "hi"], ["y"]))
    elif act == "relu_shared":  # the Conv's output also read elsewhere: not folded
        nodes.append(helper.make_node("Relu", ["t"], ["y"]))
        nodes.append(helper.make_node("Neg", ["t"], ["keep_neg"]))
    add_case(name, nodes, x_shape, inits)


def gemm_cases():
    # pointwise (no im2col), row tails (Mg % 6), column tails of 1..8 and 9..15
    conv("pw_64_to_70", [1, 64, 9, 9], 70, [1, 1])
    conv("pw_16_to_96_relu6", [1, 16, 28, 28], 96, [1, 1], act="relu6")
    conv("pw_batch2_nobias", [2, 24, 7, 7], 40, [1, 1], bias=False)
    # 3x3 stride 1 and 2, k blocking (K = 9 * C > panel rows), channel blocks (few tasks)
    conv("k3_s1_p1_relu", [1, 32, 14, 14], 64, [3, 3], act="relu", pads=[1, 1, 1, 1])
    conv("k3_s2_p1", [1, 16, 15, 15], 20, [3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    conv("k3_kblock_mchunk_relu6", [1, 512, 7, 7], 96, [3, 3], act="relu6", pads=[1, 1, 1, 1])
    conv("mchunk_tail2_relu", [1, 16, 5, 5], 50, [3, 3], act="relu", pads=[1, 1, 1, 1])
    conv("k3_wide_rows", [1, 8, 5, 150], 12, [3, 3], pads=[1, 0, 1, 0])
    # 7x7 stride 2 (a stem), asymmetric pads, dilation, rectangular kernel
    conv("k7_s2_stem", [1, 3, 40, 40], 16, [7, 7], strides=[2, 2], pads=[3, 3, 3, 3])
    conv("k3_dil2_asym", [1, 6, 17, 13], 10, [3, 3], dilations=[2, 2], pads=[2, 1, 0, 3])
    conv("k2x5_s3x1", [1, 5, 20, 21], 9, [2, 5], strides=[3, 1], pads=[0, 2, 1, 2])
    conv("same_upper", [1, 4, 11, 11], 8, [4, 4], strides=[2, 2], auto_pad="SAME_UPPER")
    # groups, 1-D
    conv("groups4", [1, 32, 10, 10], 32, [3, 3], group=4, pads=[1, 1, 1, 1])
    conv("conv1d", [2, 10, 50], 12, [5], pads=[2, 2], act="clip_hi")
    conv("conv1d_s2", [1, 7, 33], 8, [3], strides=[2])
    conv("relu_not_folded", [1, 8, 6, 6], 8, [3, 3], act="relu_shared")


def depthwise_cases():
    for s in (1, 2, 3):
        conv(f"dw3_s{s}_relu6", [1, 12, 23, 19], 12, [3, 3], act="relu6", group=12,
             strides=[s, s], pads=[1, 1, 1, 1])
    conv("dw5_s2", [2, 8, 30, 30], 8, [5, 5], group=8, strides=[2, 2], pads=[2, 2, 2, 2])
    conv("dw3_dil2_nobias", [1, 4, 16, 16], 4, [3, 3], group=4, dilations=[2, 2],
         pads=[2, 2, 2, 2], bias=False)
    conv("dw3_big_plane_bands", [1, 2, 200, 180], 2, [3, 3], group=2, pads=[1, 1, 1, 1])
    conv("dw1d", [1, 6, 40], 6, [3], group=6, pads=[1, 1])
    conv("dw_multiplier2", [1, 4, 9, 9], 8, [3, 3], group=4)  # not depthwise: GEMM per group
    conv("dw9x9_loops", [1, 3, 20, 20], 3, [9, 9], group=3, pads=[4, 4, 4, 4])


def convt(name, x_shape, m, k, bias=True, **attrs):
    g = attrs.get("group", 1)
    inits = {"w": rand(x_shape[1], m // g, *k)}
    ins = ["x", "w"]
    if bias:
        inits["b"] = rand(m)
        ins.append("b")
    add_case(name, [helper.make_node("ConvTranspose", ins, ["y"], **attrs)], x_shape, inits)


def convt_cases():
    # stride 1: the Conv of the flipped kernel (the input gradient of a stride-1 Conv)
    convt("convt_k3_p1", [2, 32, 12, 12], 64, [3, 3], pads=[1, 1, 1, 1])
    convt("convt_k3_p0_grow", [1, 20, 9, 7], 13, [3, 3], bias=False)
    convt("convt_k5_dil2_asym", [1, 6, 10, 11], 8, [5, 3], dilations=[2, 1], pads=[1, 3, 2, 0])
    convt("convt_groups2", [1, 16, 8, 8], 12, [3, 3], group=2, pads=[1, 1, 1, 1])
    convt("convt_1x1", [1, 24, 6, 6], 30, [1, 1])
    convt("convt_1d_opad_dil", [1, 9, 20], 10, [3], dilations=[2], output_padding=[1])
    convt("convt_s2_direct", [1, 8, 5, 5], 6, [3, 3], strides=[2, 2])  # stays on conv.c's loops


def wgrad(name, x_shape, m, k, g=1, strides=None, dilations=None, pads=None):
    """nncc.ConvGradWeight(X, dY) against torch autograd of the Conv."""
    import torch
    import torch.nn.functional as F
    nsp = len(k)
    strides, dilations = strides or [1] * nsp, dilations or [1] * nsp
    pads = pads or [0] * (2 * nsp)
    x, w = rand(*x_shape), rand(m, x_shape[1] // g, *k)
    xt, wt = torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64,
                                                                 requires_grad=True)
    pad = [v for i in reversed(range(nsp)) for v in (pads[i], pads[nsp + i])]
    y = (F.conv1d, F.conv2d)[nsp - 1](F.pad(xt, pad), wt, stride=strides, dilation=dilations,
                                      groups=g)
    dy = rand(*y.shape)
    (dw,) = torch.autograd.grad(y, (wt,), torch.tensor(dy, dtype=torch.float64))
    node = helper.make_node("ConvGradWeight", ["x", "dy"], ["y"], domain="nncc", group=g,
                            strides=strides, dilations=dilations, pads=pads, kernel_shape=k)
    vins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, v.shape)
            for n, v in (("x", x), ("dy", dy))]
    graph = helper.make_graph([node], name, vins,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("nncc", 1)])
    model.ir_version = 8
    CASES.append((name, model, {"x": x, "dy": dy}, [dw.numpy().astype(np.float32)]))


def wgrad_cases():
    wgrad("wgrad_k3_p1", [3, 16, 12, 12], 32, [3, 3], pads=[1, 1, 1, 1])
    wgrad("wgrad_k3_s2_ktail", [2, 7, 15, 13], 20, [3, 3], strides=[2, 2], pads=[1, 0, 1, 1])
    wgrad("wgrad_1x1_batch4", [4, 40, 7, 7], 24, [1, 1])
    wgrad("wgrad_groups2_dil", [2, 8, 11, 11], 18, [3, 3], g=2, dilations=[2, 2],
          pads=[2, 2, 2, 2])
    wgrad("wgrad_1d", [2, 12, 30], 9, [5], pads=[2, 1])
    wgrad("wgrad_big_k_tasks", [1, 96, 6, 6], 33, [3, 3], pads=[1, 1, 1, 1])
    wgrad("wgrad_wide_rows", [1, 4, 3, 300], 16, [3, 3], pads=[1, 1, 1, 1])


def matmul_cases():
    for (mm, k, n) in ((1, 5, 16), (7, 300, 37), (13, 600, 100), (6, 32, 24), (20, 64, 9)):
        b = rand(k, n)
        add_case(f"matmul_{mm}x{k}x{n}", [helper.make_node("MatMul", ["x", "b"], ["y"])],
                 [mm, k], {"b": b})
    add_case("matmul_batched_b", [helper.make_node("MatMul", ["x", "b"], ["y"])], [3, 5, 40],
             {}, extra_inputs=[("b", rand(3, 40, 33))])
    for name, c in (("gemm_bias_row", rand(50)), ("gemm_bias_full", rand(9, 50)),
                    ("gemm_bias_scalar", rand(1))):
        add_case(name, [helper.make_node("Gemm", ["x", "b", "c"], ["y"], beta=0.5)], [9, 70],
                 {"b": rand(70, 50), "c": c})
    add_case("gemm_alpha_falls_back", [helper.make_node("Gemm", ["x", "b"], ["y"], alpha=2.0)],
             [4, 8], {"b": rand(8, 20)})


def run_case(nncc, name, model, feeds, want, work, cc):
    """want: the expected outputs, or None to ask onnxruntime."""
    if want is None:
        buf = model.SerializeToString()
        want = ort.InferenceSession(buf, providers=["CPUExecutionProvider"]).run(None, feeds)
    path, outs = nncc_run(nncc, model, feeds, work)
    if outs is None:
        return False
    ok = True
    for i, (w, got) in enumerate(zip(want, outs)):
        scale = max(1.0, float(np.abs(w).max()))
        err = float(np.abs(got - w).max()) if got.shape == w.shape else float("inf")
        if not err <= 1e-4 * scale:
            print(f"output {i}: shape {got.shape} vs {w.shape}, max error {err}")
            ok = False
    if ok and cc:
        why = recurrent_models.check_c(nncc, path, work)
        if why:
            print(why)
            ok = False
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--no-cc", action="store_true")
    args = ap.parse_args()
    os.environ["NNCC_TEST_INTERNAL_OPS"] = "1"  # lets the ConvGradWeight cases use domain nncc
    gemm_cases()
    depthwise_cases()
    convt_cases()
    wgrad_cases()
    matmul_cases()
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, model, feeds, want in CASES:
            if not re.search(args.filter, name):
                continue
            ok = run_case(args.nncc, name, model, feeds, want, os.path.join(tmp, name),
                          not args.no_cc)
            print(f"{'PASS' if ok else 'FAIL'} {name}", flush=True)
            passed += ok
            failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
