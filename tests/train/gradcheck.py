#!/usr/bin/env python3
"""Every gradient rule of compiler/autodiff against central finite differences.

Usage: gradcheck.py --nncc PATH [--filter REGEX] [--keep DIR]

Each case is a tiny ONNX graph in float64 whose learned weights (float64
initializers) reach the op under test; `nncc train --loss L --batch 3`
builds its training module, tests/train/module_driver.c takes the gradient
of every weight element from t_grad and compares it with
(loss(w + h) - loss(w - h)) / 2h, h = 1e-6. Tolerance: |analytic - numeric|
<= 1e-6 * (1 + |numeric|) (central differences in double are good to about
1e-9 here; kinks of relu-like ops are avoided by the random data). One
sample of the batch is masked, so masking is checked everywhere. Every case
but the step function must have a non-zero gradient, so none passes
vacuously; the step's must be exactly zero. The generated C is built with
gcc and clang under -Wall -Wextra -Werror. The last line is `N passed, M failed`.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trainlib  # noqa: E402

B, H, TOL = 3, 1e-6, 1e-6
D = TensorProto.DOUBLE
rng = np.random.default_rng(3)


def w(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape)


def node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, **attrs)


def const(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


class Case:
    def __init__(self, nodes, x_shape, params, loss="mse", args=(), consts=(), x_int=None,
                 zero=False, opset=17):
        self.nodes, self.x_shape, self.params = nodes, x_shape, params
        self.loss, self.args, self.consts, self.x_int, self.zero = loss, list(args), consts, x_int, zero
        self.opset = opset


def z_of(shape, pre=()):
    """z = x * W + V over shape (W, V learned): a start every input needs a gradient from."""
    return [*pre, node("Mul", ["x", "W"], ["xw"]), node("Add", ["xw", "V"], ["z"])], \
        {"W": w(*shape[1:]), "V": w(*shape[1:])}


def act(op, shape=(B, 6), opset=17, **attrs):
    nodes, params = z_of(shape)
    return Case(nodes + [node(op, ["z"], ["y"], **attrs)], shape, params, opset=opset)


def scaled(op, k, c=0.0):
    """op(k * z + c): keeps z inside the domain of asin, acosh, ..."""
    nodes, params = z_of((B, 5))
    return Case(nodes + [node("Mul", ["z", "k"], ["zk"]), node("Add", ["zk", "c"], ["zc"]),
                         node(op, ["zc"], ["y"])], (B, 5), params,
                consts=[const("k", np.array(k)), const("c", np.array(c))])


def on_z(shape, tail, extra=None, consts=()):
    nodes, params = z_of(shape)
    params.update(extra or {})
    return Case(nodes + tail, shape, params, consts=consts)


def linear(tail, loss, args=(), classes=3):
    nodes = [node("Gemm", ["x", "W", "b"], ["z"])] + tail
    return Case(nodes, (B, 4), {"W": w(4, classes), "b": w(classes)}, loss, args)


CASES = {
    # elementwise, with broadcasting both ways
    "add_bcast": Case([node("Add", ["x", "W"], ["y"])], (B, 3, 4), {"W": w(4)}),
    "sub_bcast": Case([node("Sub", ["W", "x"], ["y"])], (B, 3, 4), {"W": w(3, 1)}),
    "mul_both": Case([node("Mul", ["x", "W"], ["a"]), node("Mul", ["a", "V"], ["y"])], (B, 3, 4),
                     {"W": w(3, 4), "V": w(1, 4)}),
    "div_both": Case([node("Mul", ["x", "W"], ["a"]), node("Div", ["a", "V"], ["y"])], (B, 3, 4),
                     {"W": w(3, 4), "V": w(4, lo=1, hi=2)}),
    "exp_neg_identity": on_z((B, 5), [node("Exp", ["z"], ["e"]), node("Neg", ["e"], ["n"]),
                                      node("Identity", ["n"], ["y"])]),
    "log_sqrt": Case([node("Add", ["x", "W"], ["a"]), node("Log", ["a"], ["l"]),
                      node("Add", ["x", "V"], ["b"]), node("Sqrt", ["b"], ["s"]),
                      node("Add", ["l", "s"], ["y"])], (B, 5),
                     {"W": w(5, lo=2, hi=3), "V": w(5, lo=2, hi=3)}),
    "sum_of_paths": on_z((B, 4), [node("Mul", ["z", "z"], ["zz"]), node("Add", ["zz", "z"], ["y"])]),
    # Gemm and MatMul
    "gemm": Case([node("Gemm", ["x", "W", "b"], ["y"])], (B, 4), {"W": w(4, 5), "b": w(5)}),
    "gemm_transB_alpha_beta": Case([node("Gemm", ["x", "W", "b"], ["y"], transB=1, alpha=0.5, beta=2.0)],
                                   (B, 4), {"W": w(5, 4), "b": w(1, 5)}),
    "gemm_transA": Case([node("Gemm", ["W", "x"], ["y"], transA=1, transB=1)], (B, 4), {"W": w(4, 6)}),
    "gemm_both_learned": Case([node("Mul", ["x", "V"], ["a"]), node("Gemm", ["a", "W"], ["y"], transA=0)],
                              (B, 4), {"V": w(4), "W": w(4, 2)}),
    "matmul_batched": Case([node("MatMul", ["x", "W"], ["y"])], (B, 3, 4), {"W": w(4, 5)}),
    "matmul_left_bcast": Case([node("Mul", ["x", "V"], ["a"]), node("MatMul", ["W", "a"], ["y"])],
                              (B, 3, 4), {"W": w(2, 3), "V": w(4)}),
    "matmul_vector": Case([node("MatMul", ["x", "W"], ["y"])], (B, 4), {"W": w(4)}),
    # activations
    "relu": act("Relu"),
    "leakyrelu": act("LeakyRelu", alpha=0.1),
    "prelu": on_z((B, 6), [node("PRelu", ["z", "S"], ["y"])], {"S": w(6, lo=0.1, hi=0.5)}),
    "prelu_channel": on_z((B, 2, 3), [node("PRelu", ["z", "S"], ["y"])], {"S": w(2, 1, lo=0.1, hi=0.5)}),
    "sigmoid": act("Sigmoid"),
    "tanh": act("Tanh"),
    "elu": act("Elu", alpha=0.7),
    "selu": act("Selu"),
    "softplus": act("Softplus"),
    "hardsigmoid": act("HardSigmoid", alpha=0.3, beta=0.4),
    "softsign": act("Softsign"),
    "hardswish": Case(z_of((B, 6))[0] + [node("Mul", ["z", "k"], ["z4"]), node("HardSwish", ["z4"], ["y"])],
                      (B, 6), z_of((B, 6))[1], consts=[const("k", np.array(4.0))]),
    "erf": act("Erf"),
    "celu": act("Celu", alpha=0.8),
    "thresholdedrelu": act("ThresholdedRelu", alpha=0.2),
    "shrink": act("Shrink", lambd=0.3, bias=0.1),
    "gelu": act("Gelu", opset=20),
    "gelu_tanh": act("Gelu", opset=20, approximate="tanh"),
    "mish": act("Mish", opset=22),
    "swish": act("Swish", opset=24, alpha=0.7),
    "sin": act("Sin"),
    "cos": act("Cos"),
    "tan": scaled("Tan", 0.4),
    "asin": scaled("Asin", 0.3),
    "acos": scaled("Acos", 0.3),
    "atan": act("Atan"),
    "sinh": act("Sinh"),
    "cosh": act("Cosh"),
    "asinh": act("Asinh"),
    "acosh": scaled("Acosh", 0.3, 2.0),
    "atanh": scaled("Atanh", 0.3),
    # piecewise constant: only z's own path carries a gradient
    "floor_ceil_round_sign": on_z((B, 5), [node("Floor", ["z"], ["a"]), node("Ceil", ["z"], ["b"]),
                                           node("Round", ["z"], ["c"]), node("Sign", ["z"], ["s"]),
                                           node("Sum", ["z", "a", "b", "c", "s"], ["y"])]),
    "abs": act("Abs"),
    "clip": on_z((B, 6), [node("Clip", ["z", "lo", "hi"], ["y"])],
                 consts=[const("lo", np.array(-0.5)), const("hi", np.array(0.6))]),
    "pow_exponent_learned": Case([node("Add", ["x", "W"], ["a"]), node("Pow", ["a", "V"], ["y"])], (B, 4),
                                 {"W": w(4, lo=2, hi=3), "V": w(4, lo=0.5, hi=2)}),
    "softmax": act("Softmax", axis=1),
    "softmax_inner": act("Softmax", shape=(B, 3, 4), axis=1),
    "logsoftmax": act("LogSoftmax", axis=-1),
    # shapes and data movement
    "reshape": on_z((B, 3, 4), [node("Reshape", ["z", "shape"], ["y"])],
                    consts=[const("shape", np.array([B, 12], np.int64))]),
    "flatten": on_z((B, 3, 4), [node("Flatten", ["z"], ["y"], axis=1)]),
    "unsqueeze_squeeze": on_z((B, 3, 4), [node("Unsqueeze", ["z", "ax"], ["u"]),
                                          node("Squeeze", ["u", "ax"], ["y"])],
                              consts=[const("ax", np.array([2], np.int64))]),
    "transpose": on_z((B, 3, 4), [node("Transpose", ["z"], ["y"], perm=[0, 2, 1])]),
    "concat": Case([node("Mul", ["x", "W"], ["a"]), node("Mul", ["x", "V"], ["b"]),
                    node("Concat", ["a", "b"], ["y"], axis=2)], (B, 3, 4), {"W": w(3, 4), "V": w(4)}),
    "split": on_z((B, 3, 4), [node("Split", ["z", "sizes"], ["s0", "s1"], axis=2),
                              node("Mul", ["s0", "s1"], ["y"])],
                  consts=[const("sizes", np.array([1, 3], np.int64))]),
    "split_one_used": on_z((B, 3, 4), [node("Split", ["z", "sizes"], ["s0", "s1"], axis=1),
                                       node("Identity", ["s1"], ["y"])],
                           consts=[const("sizes", np.array([1, 2], np.int64))]),
    "slice_steps": on_z((B, 4, 5), [node("Slice", ["z", "st", "en", "ax", "sp"], ["y"])],
                        consts=[const("st", np.array([0, -1], np.int64)),
                                const("en", np.array([4, 0], np.int64)),
                                const("ax", np.array([1, 2], np.int64)),
                                const("sp", np.array([2, -2], np.int64))]),
    "reducesum": on_z((B, 3, 4), [node("ReduceSum", ["z", "ax"], ["y"], keepdims=0)],
                      consts=[const("ax", np.array([2], np.int64))]),
    "reducemean_keepdims": on_z((B, 3, 4), [node("ReduceMean", ["z"], ["y"], axes=[1], keepdims=1)]),
    "reducesumsquare": on_z((B, 3, 4), [node("ReduceSumSquare", ["z"], ["y"], axes=[2], keepdims=0)]),
    "reducel2": on_z((B, 3, 4), [node("ReduceL2", ["z"], ["y"], axes=[1], keepdims=1)]),
    "depthtospace_dcr": on_z((B, 8, 2, 3), [node("DepthToSpace", ["z"], ["y"], blocksize=2)]),
    "depthtospace_crd": on_z((B, 8, 2, 3), [node("DepthToSpace", ["z"], ["y"], blocksize=2, mode="CRD")]),
    "spacetodepth": on_z((B, 2, 4, 6), [node("SpaceToDepth", ["z"], ["y"], blocksize=2)]),
    "cumsum": on_z((B, 3, 4), [node("CumSum", ["z", "ax"], ["y"])], consts=[const("ax", np.array(2))]),
    "cumsum_exclusive_reverse": on_z((B, 3, 4), [node("CumSum", ["z", "ax"], ["y"], exclusive=1, reverse=1)],
                                     consts=[const("ax", np.array(-2))]),
    "gatherelements_repeats": on_z((B, 3, 4), [node("GatherElements", ["z", "idx"], ["y"], axis=2)],
                                   consts=[const("idx", np.array([[[0, 0, 3], [1, 2, 2], [3, 3, 3]]] * B))]),
    "reducel1": on_z((B, 3, 4), [node("ReduceL1", ["z"], ["y"], axes=[1], keepdims=0)]),
    "reducelogsumexp": on_z((B, 3, 4), [node("ReduceLogSumExp", ["z"], ["y"], axes=[2], keepdims=1)]),
    "reducelogsum": Case([node("Mul", ["x", "W"], ["a"]), node("Exp", ["a"], ["e"]),
                          node("ReduceLogSum", ["e"], ["y"], axes=[1, 2], keepdims=0)], (B, 3, 4),
                         {"W": w(3, 4)}),
    "reducemax_reducemin": on_z((B, 3, 4), [node("ReduceMax", ["z"], ["a"], axes=[2], keepdims=1),
                                            node("ReduceMin", ["z"], ["b"], axes=[1], keepdims=1),
                                            node("Mul", ["a", "b"], ["y"])]),
    "where": Case([node("Greater", ["x", "zero"], ["c"]), node("Mul", ["x", "W"], ["a"]),
                   node("Where", ["c", "a", "V"], ["y"])], (B, 3, 4), {"W": w(3, 4), "V": w(4)},
                  consts=[const("zero", np.array(0.0))]),
    "expand_tile": Case([node("Expand", ["W", "shape"], ["e"]), node("Tile", ["V", "reps"], ["t"]),
                         node("Mul", ["x", "e"], ["a"]), node("Add", ["a", "t"], ["y"])], (B, 3, 4),
                        {"W": w(3, 1), "V": w(1, 3, 2)},
                        consts=[const("shape", np.array([3, 4], np.int64)),
                                const("reps", np.array([B, 1, 2], np.int64))]),
    "sum_mean_max_min": Case([node("Mul", ["x", "W"], ["a"]), node("Add", ["x", "V"], ["b"]),
                              node("Sum", ["a", "b", "x"], ["s"]), node("Mean", ["a", "b"], ["m"]),
                              node("Max", ["a", "b", "s"], ["mx"]), node("Min", ["m", "a"], ["mn"]),
                              node("Add", ["mx", "mn"], ["y"])], (B, 5), {"W": w(5), "V": w(5)}),
    "reciprocal": Case([node("Add", ["x", "W"], ["a"]), node("Reciprocal", ["a"], ["y"])], (B, 4),
                       {"W": w(4, lo=2, hi=3)}),
    "gather_embedding": Case([node("Gather", ["W", "x"], ["e"]), node("Mul", ["e", "e"], ["y"])],
                             (B, 2), {"W": w(5, 3)}, x_int=5),
    # losses
    "loss_mae": linear([node("Identity", ["z"], ["y"])], "mae"),
    "loss_hinge": linear([node("Identity", ["z"], ["y"])], "hinge"),
    "loss_bce_sigmoid_fused": linear([node("Sigmoid", ["z"], ["y"])], "bce"),
    "loss_bce_probabilities": linear([node("Sigmoid", ["z"], ["s"]), node("Mul", ["s", "k"], ["m"]),
                                      node("Add", ["m", "c"], ["y"])], "bce"),
    "loss_bce_from_logits": linear([node("Identity", ["z"], ["y"])], "bce", ["--from-logits"]),
    "loss_ce_softmax_fused": linear([node("Softmax", ["z"], ["y"], axis=1)], "ce"),
    "loss_ce_probabilities": linear([node("Softmax", ["z"], ["s"], axis=1),
                                     node("Identity", ["s"], ["y"])], "ce"),
    "loss_ce_from_logits": linear([node("Identity", ["z"], ["y"])], "ce", ["--from-logits"]),
    "loss_nll": linear([node("LogSoftmax", ["z"], ["y"], axis=1)], "nll"),
    "loss_nll_sequence": Case([node("MatMul", ["x", "W"], ["z"]), node("LogSoftmax", ["z"], ["y"], axis=-1)],
                              (B, 4, 3), {"W": w(3, 5)}, "nll"),
    "loss_ce_channels_fused": Case([node("Mul", ["x", "W"], ["z"]), node("Softmax", ["z"], ["y"], axis=1)],
                                   (B, 4, 2, 3), {"W": w(4, 2, 3)}, "ce"),
    "loss_ce_channels_from_logits": Case([node("Mul", ["x", "W"], ["y"])], (B, 4, 3), {"W": w(4, 3)}, "ce",
                                         ["--from-logits"]),
    # the perceptron's step: zero gradient almost everywhere, so exactly zero here
    "step_function": Case([node("Gemm", ["x", "W", "b"], ["z"]), node("Greater", ["z", "zero"], ["g"]),
                           node("Cast", ["g"], ["y"], to=D)], (B, 4), {"W": w(4, 3), "b": w(3)},
                          consts=[const("zero", np.array(0.0))], zero=True),
}
CASES["loss_bce_probabilities"].consts = [const("k", np.array(0.8)), const("c", np.array(0.1))]


def conv_like(op, x_shape, k_shape, bias, **attrs):
    """op(z, K[, kb]) on z = x * W + V, so the input gradient is checked too."""
    ins = ["z", "K"] + (["kb"] if bias else [])
    extra = {"K": w(*k_shape) / np.sqrt(np.prod(k_shape[1:]))}
    if bias:
        extra["kb"] = w(k_shape[1] * attrs.get("group", 1) if op == "ConvTranspose" else k_shape[0])
    return on_z(x_shape, [node(op, ins, ["y"], **attrs)], extra)


def on_z_nodes(x_shape, tail, extra=None, consts=()):
    return on_z(x_shape, tail, extra, consts)


# Convolution, pooling, normalization, dropout, resize and pad (their kernels:
# tests/train/grad_kernels.py). The running statistics of BatchNormalization
# are state the update writes, not params; dropout's mask is fixed within an
# optimizer step, so its gradient is a function of the weights.
CASES.update({
    "conv2d": conv_like("Conv", (B, 2, 5, 5), (3, 2, 3, 3), True, pads=[1, 1, 1, 1]),
    "conv2d_stride_dil_asym": conv_like("Conv", (B, 2, 7, 6), (2, 2, 2, 3), True, strides=[2, 1],
                                        dilations=[1, 2], pads=[1, 0, 0, 2]),
    "conv2d_group": conv_like("Conv", (B, 4, 5, 4), (6, 2, 3, 2), True, group=2, pads=[0, 1, 1, 0]),
    "conv2d_depthwise": conv_like("Conv", (B, 3, 5, 5), (3, 1, 3, 3), False, group=3, strides=[2, 2],
                                  pads=[1, 1, 1, 1]),
    "conv2d_same_upper": conv_like("Conv", (B, 2, 6, 5), (2, 2, 3, 3), True, strides=[2, 2],
                                   auto_pad="SAME_UPPER"),
    "conv1d": conv_like("Conv", (B, 2, 9), (3, 2, 3), True, strides=[2], dilations=[2], pads=[2, 1]),
    "conv3d": conv_like("Conv", (B, 2, 4, 3, 4), (2, 2, 2, 2, 3), True, pads=[1, 0, 1, 0, 1, 1]),
    "convtranspose2d": conv_like("ConvTranspose", (B, 3, 3, 4), (3, 2, 3, 3), True, strides=[2, 2],
                                 pads=[1, 1, 1, 1], output_padding=[1, 0]),
    "convtranspose2d_group": conv_like("ConvTranspose", (B, 4, 3, 3), (4, 1, 2, 3), True, group=2,
                                       strides=[1, 2], dilations=[2, 1]),
    "convtranspose1d": conv_like("ConvTranspose", (B, 2, 4), (2, 3, 4), False, strides=[2],
                                 pads=[1, 1]),
    "maxpool2d": on_z((B, 2, 6, 5), [node("MaxPool", ["z"], ["y"], kernel_shape=[3, 2],
                                          strides=[2, 1], pads=[1, 0, 1, 1])]),
    "maxpool2d_ceil_dil": on_z((B, 2, 7, 7), [node("MaxPool", ["z"], ["y"], kernel_shape=[2, 2],
                                                   strides=[2, 2], dilations=[2, 1], ceil_mode=1)]),
    "maxpool1d_indices": on_z((B, 2, 8), [node("MaxPool", ["z"], ["y", "i"], kernel_shape=[3],
                                               strides=[2], pads=[1, 1])]),
    "avgpool2d_count_pad": on_z((B, 2, 5, 6), [node("AveragePool", ["z"], ["y"], kernel_shape=[3, 3],
                                                    strides=[2, 2], pads=[1, 1, 1, 1],
                                                    count_include_pad=1)]),
    "avgpool2d_ceil": on_z((B, 2, 6, 5), [node("AveragePool", ["z"], ["y"], kernel_shape=[2, 3],
                                               strides=[2, 2], pads=[0, 1, 0, 1], ceil_mode=1)]),
    "avgpool3d": on_z((B, 1, 4, 4, 4), [node("AveragePool", ["z"], ["y"], kernel_shape=[2, 2, 2],
                                             strides=[2, 2, 2])]),
    "globalaveragepool": on_z((B, 3, 4, 5), [node("GlobalAveragePool", ["z"], ["y"])]),
    "globalmaxpool": on_z((B, 3, 4, 5), [node("GlobalMaxPool", ["z"], ["y"])]),
    "batchnorm_train": on_z((B, 3, 4, 2), [node("BatchNormalization", ["z", "s", "b", "rm", "rv"],
                                                ["y"], epsilon=1e-3, momentum=0.8)],
                            {"s": w(3, lo=0.5, hi=1.5), "b": w(3)},
                            consts=[const("rm", np.zeros(3)), const("rv", np.ones(3))]),
    "batchnorm_train_2d": on_z((B, 4), [node("BatchNormalization", ["z", "s", "b", "rm", "rv"],
                                             ["y"])], {"s": w(4, lo=0.5, hi=1.5), "b": w(4)},
                               consts=[const("rm", np.zeros(4)), const("rv", np.ones(4))]),
    # PyTorch's training export: training_mode=1, the updated running statistics
    # as outputs nothing reads; rank 3 (1-D convolutions) and rank 5 (3-D).
    "batchnorm_train_mode_outputs": on_z((B, 2, 5), [node("BatchNormalization",
                                                          ["z", "s", "b", "rm", "rv"],
                                                          ["y", "rm_new", "rv_new"], training_mode=1)],
                                         {"s": w(2, lo=0.5, hi=1.5), "b": w(2)},
                                         consts=[const("rm", np.zeros(2)), const("rv", np.ones(2))]),
    "batchnorm_train_3d": on_z((B, 2, 2, 3, 2), [node("BatchNormalization", ["z", "s", "b", "rm", "rv"],
                                                      ["y"], epsilon=1e-4)],
                               {"s": w(2, lo=0.5, hi=1.5), "b": w(2)},
                               consts=[const("rm", np.zeros(2)), const("rv", np.ones(2))]),
    # On the data itself: no gradient wanted for X.
    "batchnorm_on_input": Case([node("BatchNormalization", ["x", "s", "b", "rm", "rv"], ["n"]),
                                node("Mul", ["n", "W"], ["y"])], (B, 3, 2),
                               {"s": w(3, lo=0.5, hi=1.5), "b": w(3), "W": w(3, 2)},
                               consts=[const("rm", np.zeros(3)), const("rv", np.ones(3))]),
    "layernorm": on_z((B, 3, 4), [node("LayerNormalization", ["z", "s", "b"], ["y"], axis=-1)],
                      {"s": w(4, lo=0.5, hi=1.5), "b": w(4)}),
    "layernorm_two_axes": on_z((B, 3, 4), [node("LayerNormalization", ["z", "s", "b"], ["y"],
                                                axis=1)],
                               {"s": w(3, 4, lo=0.5, hi=1.5), "b": w(3, 4)}),
    # Scale and B broadcast (unidirectionally, to X): within the normalized shape,
    # and over the axes before it, where each row has its own scale.
    "layernorm_broadcast_scale": on_z((B, 3, 4), [node("LayerNormalization", ["z", "s", "b"], ["y"],
                                                       axis=1)],
                                      {"s": w(4, lo=0.5, hi=1.5), "b": w(3, 1)}),
    "layernorm_scalar_scale": on_z((B, 3, 4), [node("LayerNormalization", ["z", "s", "b"], ["y"])],
                                   {"s": w(1, lo=0.5, hi=1.5), "b": w(1, 4)}),
    "layernorm_scale_per_row": on_z((B, 3, 3), [node("LayerNormalization", ["z", "s", "b"], ["y"])],
                                    {"s": w(3, 1, lo=0.5, hi=1.5), "b": w(3, 1)}),
    "layernorm_scale_over_batch": on_z((B, 3, 4), [node("LayerNormalization", ["z", "s"], ["y"],
                                                        axis=2)],
                                       {"s": w(B, 1, 4, lo=0.5, hi=1.5)}),
    "dropout": on_z((B, 8), [node("Dropout", ["z", "ratio"], ["y"])],
                    consts=[const("ratio", np.array(0.4))]),
    "dropout_ratio0": on_z((B, 4), [node("Dropout", ["z", "ratio"], ["y"])],
                           consts=[const("ratio", np.array(0.0))]),
    "resize_nearest": on_z((B, 2, 2, 3), [node("Resize", ["z", "", "sc"], ["y"], mode="nearest")],
                           consts=[const("sc", np.array([1, 1, 2, 2], np.float32))]),
    "resize_linear": on_z((B, 2, 3, 3), [node("Resize", ["z", "", "sc"], ["y"], mode="linear")],
                          consts=[const("sc", np.array([1, 1, 2, 1.5], np.float32))]),
    "pad_constant_crop": on_z((B, 3, 4), [node("Pad", ["z", "p"], ["y"])],
                              consts=[const("p", np.array([0, 1, -1, 0, 2, 1], np.int64))]),
    "pad_reflect": on_z((B, 3, 4), [node("Pad", ["z", "p"], ["y"], mode="reflect")],
                        consts=[const("p", np.array([0, 2, 1, 0, 1, 3], np.int64))]),
    "pad_edge": on_z((B, 3, 4), [node("Pad", ["z", "p"], ["y"], mode="edge")],
                     consts=[const("p", np.array([0, 1, 2, 0, 2, 0], np.int64))]),
})


def recurrent(op, direction="forward", H=3, use_y=False, lens=None, peep=False, layout=0,
              **attrs):
    """z [B, S, I] -> time first -> op -> Y_h (or Y) batch first; W, R, B, h0 learned.
    lens: constant sequence_lens; peep: learned LSTM peepholes P; layout 1
    reads z and gives Y, Y_h batch first without the transposes."""
    D = 2 if direction == "bidirectional" else 1
    G = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    outs = ["Y", "Yh"]
    ins = ["z" if layout else "zt", "Wr", "Rr", "Br", "lens" if lens else "",
           "h0"] + (["", "P"] if peep else [])
    tail = [] if layout else [node("Transpose", ["z"], ["zt"], perm=[1, 0, 2])]
    tail.append(node(op, ins, outs, hidden_size=H, direction=direction, **attrs,
                     **({"layout": 1} if layout else {})))
    if layout:
        tail.append(node("Identity", ["Y" if use_y else "Yh"], ["y"]))
    else:
        tail.append(node("Transpose", ["Y"], ["y"], perm=[2, 0, 1, 3]) if use_y else
                    node("Transpose", ["Yh"], ["y"], perm=[1, 0, 2]))
    params = {"Wr": w(D, G * H, 3), "Rr": w(D, G * H, H), "Br": w(D, 2 * G * H),
              "h0": w(*((B, D, H) if layout else (D, B, H)), lo=-0.5, hi=0.5)}
    if peep:
        params["P"] = w(D, 3 * H)
    case = on_z((B, 4, 3), tail, params,
                consts=[const("lens", np.array(lens, np.int32))] if lens else ())
    return case


CASES.update({
    "rnn_bptt": recurrent("RNN", use_y=True),
    "rnn_bptt_bidirectional": recurrent("RNN", "bidirectional"),
    "lstm_bptt": recurrent("LSTM", use_y=True),
    "lstm_bptt_reverse": recurrent("LSTM", "reverse"),
    "lstm_bptt_bidirectional": recurrent("LSTM", "bidirectional", use_y=True),
    "gru_bptt": recurrent("GRU", use_y=True),
    "gru_bptt_linear_before_reset": recurrent("GRU", "bidirectional", linear_before_reset=1),
    # clip: no gradient where a gate's pre-activation was clipped; sequence_lens: a
    # sample holds its state past its length (3 samples, 4 steps); LSTM peepholes
    "rnn_bptt_clip": recurrent("RNN", use_y=True, clip=0.5),
    "lstm_bptt_peepholes": recurrent("LSTM", "bidirectional", use_y=True, peep=True),
    "lstm_bptt_peepholes_clip_lens": recurrent("LSTM", "reverse", use_y=True, peep=True, clip=0.6,
                                               lens=[4, 2, 1]),
    "gru_bptt_lens_clip": recurrent("GRU", "bidirectional", use_y=True, lens=[4, 2, 1], clip=0.7,
                                    linear_before_reset=1),
    "gru_bptt_lens": recurrent("GRU", lens=[2, 4, 3]),
    "lstm_bptt_layout1": recurrent("LSTM", "bidirectional", use_y=True, layout=1),
    "gru_bptt_layout1_lens": recurrent("GRU", "reverse", layout=1, lens=[3, 4, 2]),
    "lstm_bptt_default_activations_named": recurrent("LSTM", activations=["sigmoid", "Tanh", "Tanh"]),
})


def infer_out_shape(case):
    """The output's shape, from onnx's own shape inference."""
    import onnx
    model = make_model(case, None)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    t = inferred.graph.output[0].type.tensor_type
    return [d.dim_value for d in t.shape.dim]


def make_model(case, out_shape):
    x_type = TensorProto.INT64 if case.x_int else D
    inits = [numpy_helper.from_array(v.astype(np.float64), k) for k, v in case.params.items()]
    g = helper.make_graph(case.nodes, "case", [helper.make_tensor_value_info("x", x_type, case.x_shape)],
                          [helper.make_tensor_value_info("y", D, out_shape)], inits + list(case.consts))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", case.opset)])


def run_case(nncc, name, case, workdir):
    shape = infer_out_shape(case)
    classes = case.loss in ("ce", "nll")
    if case.x_int:
        x = rng.integers(0, case.x_int, case.x_shape).astype(np.int64)
    else:
        x = rng.uniform(-1, 1, case.x_shape)
    if classes:  # the class axis: the last for a LogSoftmax over -1, else 1
        axis = len(shape) - 1 if name == "loss_nll_sequence" else 1
        labels = rng.integers(0, shape[axis], shape[:axis] + shape[axis + 1:]).astype(np.int64)
    elif case.loss == "hinge":
        labels = rng.choice([-1.0, 1.0], shape)
    elif case.loss == "bce":
        labels = rng.uniform(0, 1, shape)
    else:
        labels = rng.uniform(-1, 1, shape)
    mask = np.ones(shape[0])
    mask[1] = 0
    width = int(np.prod(labels.shape[1:]))
    exe = trainlib.build(nncc, make_model(case, shape),
                         ["--loss", case.loss, "--batch", str(B)] + case.args, workdir, x,
                         int(np.prod(shape)), width, pred_dtype=np.float64)
    out = trainlib.run(exe, ["gradcheck"] + trainlib.write_inputs(workdir, x, labels, mask) + [H])
    rows = [line.split() for line in out.splitlines()]
    if not rows:
        return False, "no learned weight in the state table"
    seen = {r[0] for r in rows}
    if seen != set(case.params):
        return False, "params in the state table: %s, expected %s" % (sorted(seen), sorted(case.params))
    worst, biggest = 0.0, 0.0
    for pname, i, a, n in rows:
        a, n = float(a), float(n)
        biggest = max(biggest, abs(a))
        err = abs(a - n) / (TOL * (1 + abs(n)))
        if err > 1:
            return False, "%s[%s]: analytic %.12g, numeric %.12g" % (pname, i, a, n)
        worst = max(worst, err)
    if case.zero and biggest != 0:
        return False, "the step function's gradient must be zero, got %g" % biggest
    if not case.zero and biggest == 0:
        return False, "every gradient is zero: the case tests nothing"
    return True, "%d elements, worst error %.3f of the tolerance" % (len(rows), worst)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--keep")
    a = ap.parse_args()
    root = a.keep or tempfile.mkdtemp(prefix="gradcheck_")
    passed = failed = 0
    for name, case in CASES.items():
        if not re.search(a.filter, name):
            continue
        try:
            ok, why = run_case(a.nncc, name, case, os.path.join(root, name))
        except trainlib.BuildError as e:
            ok, why = False, str(e)
        print("%s %s: %s" % ("PASS" if ok else "FAIL", name, why), flush=True)
        passed, failed = passed + ok, failed + (not ok)
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
