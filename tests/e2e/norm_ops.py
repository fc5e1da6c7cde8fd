#!/usr/bin/env python3
"""Normalisations, the newer activations, Einsum, Det and shape-arithmetic
folding through `nncc run`, against NumPy references written here from the
ONNX spec (float64), beyond what the backend suite's cases cover: other
axes, broadcast Scale/B, LayerNormalization's Mean/InvStdDev outputs,
GroupNormalization at opsets 18 and 21, training-mode BatchNormalization
with its running statistics, MVN axes, L1 of negative values, Einsum with
an ellipsis, three inputs, implicit outputs, diagonals and integers, Det of
singular matrices, float64 everywhere it applies. Each model's C must also
build with gcc and clang under -std=c11 -Wall -Wextra -Werror. Bad models
(a Scale that does not broadcast, an Einsum label of two sizes...) get one
error line naming the file, the op and the problem.

Usage: norm_ops.py --nncc PATH [--filter REGEX] [--no-cc]
The last line is `N passed, M failed`; exit status 1 when any case fails.
"""
import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import recurrent_models  # noqa: E402  (check_c: the gcc/clang build check)
from nncc_run import nncc_run  # noqa: E402

CASES = []


def case(name, op, inputs, ref, n_out=1, opset=17, tol=1e-5, inits=(), **attrs):
    """One node of `op` over named inputs {name: array}; ref(inputs) gives
    the expected outputs. Inputs listed in inits become initializers."""
    names = list(inputs)
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], **attrs)
    vins = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
            for k, v in inputs.items() if k not in inits]
    outs = ref(inputs)
    vouts = [helper.make_tensor_value_info(f"y{i}", helper.np_dtype_to_tensor_dtype(o.dtype), None)
             for i, o in enumerate(outs)]
    init = [numpy_helper.from_array(inputs[k], k) for k in inits]
    graph = helper.make_graph([node], name, vins, vouts, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    feeds = {k: v for k, v in inputs.items() if k not in inits}
    CASES.append((name, model, feeds, outs, tol))


def rand(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed + len(CASES)).standard_normal(shape).astype(dtype)


def normalize(x, axes, eps, center=True):
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True) if center else 0.0
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x64 - mean) / np.sqrt(var + eps), mean, 1 / np.sqrt(var + eps)


def layernorm_cases():
    for dtype in (np.float32, np.float64):
        x, s, b = rand(2, 3, 4, 5, dtype=dtype), rand(4, 5, dtype=dtype), rand(5, dtype=dtype)

        def ref(i, dtype=dtype):
            y, mean, inv = normalize(i["x"], (2, 3), 1e-3)
            return [(y * i["s"] + i["b"]).astype(dtype), mean.astype(np.float32),
                    inv.astype(np.float32)]
        case(f"layernorm_axis2_stats_{np.dtype(dtype).name}", "LayerNormalization",
             {"x": x, "s": s, "b": b}, ref, n_out=3, axis=2, epsilon=1e-3)
    # float16 X: Y is float16, Mean and InvStdDev stay float32 (stash_type 1).
    x, s, b = (rand(2, 3, 8, dtype=np.float16) for _ in range(3))
    case("layernorm_float16_stats_float32", "LayerNormalization", {"x": x, "s": s[0], "b": b[0, 0]},
         lambda i: [(normalize(i["x"], (1, 2), 1e-5)[0] * i["s"].astype(np.float64) +
                     i["b"].astype(np.float64)).astype(np.float16),
                    normalize(i["x"], (1, 2), 1e-5)[1].astype(np.float32),
                    normalize(i["x"], (1, 2), 1e-5)[2].astype(np.float32)],
         n_out=3, axis=1, tol=4e-3)
    x = rand(3, 4) * 10 + 50  # a large mean: the two-pass variance keeps its digits
    case("layernorm_no_bias_axis0", "LayerNormalization", {"x": x, "s": rand(3, 4)},
         lambda i: [(normalize(i["x"], (0, 1), 1e-5)[0] * i["s"]).astype(np.float32)], axis=0,
         tol=1e-4)
    x = rand(2, 6, 8)
    case("rmsnorm_scale_broadcast", "RMSNormalization", {"x": x, "s": rand(1, 8)},
         lambda i: [(normalize(i["x"], (2,), 1e-2, center=False)[0] * i["s"]).astype(np.float32)],
         opset=23, axis=-1, epsilon=1e-2)
    case("rmsnorm_axis1_f64", "RMSNormalization",
         {"x": rand(2, 3, 4, dtype=np.float64), "s": rand(3, 4, dtype=np.float64)},
         lambda i: [normalize(i["x"], (1, 2), 1e-5, center=False)[0] * i["s"]], opset=23, axis=1)


def group_ref(x, groups, s, b, per_channel, eps):
    n, c = x.shape[:2]
    xg = x.reshape(n, groups, -1)
    y = normalize(xg, (2,), eps)[0].reshape(x.shape)
    if not per_channel:
        s, b = np.repeat(s, c // groups), np.repeat(b, c // groups)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return (y * s.reshape(shape) + b.reshape(shape)).astype(x.dtype)


def group_instance_cases():
    for opset, groups, shape in ((21, 2, (2, 6, 5)), (18, 3, (2, 6, 2, 3)), (21, 1, (1, 4, 3)),
                                 (21, 4, (2, 4, 2, 2, 2))):
        nparam = shape[1] if opset >= 21 else groups
        case(f"groupnorm_opset{opset}_g{groups}_rank{len(shape)}", "GroupNormalization",
             {"x": rand(*shape), "s": rand(nparam), "b": rand(nparam)},
             lambda i, g=groups, o=opset: [group_ref(i["x"], g, i["s"], i["b"], o >= 21, 1e-4)],
             opset=opset, num_groups=groups, epsilon=1e-4)
    for shape, dtype in (((2, 3, 7), np.float32), ((1, 2, 2, 3, 2), np.float64)):
        case(f"instancenorm_rank{len(shape)}_{np.dtype(dtype).name}", "InstanceNormalization",
             {"x": rand(*shape, dtype=dtype), "s": rand(shape[1], dtype=dtype),
              "b": rand(shape[1], dtype=dtype)},
             lambda i: [group_ref(i["x"], i["x"].shape[1], i["s"], i["b"], True, 1e-5)])


def mvn_lp_cases():
    for axes in ((1,), (2, 3), (0, 2, 3)):
        def ref(i, axes=axes):
            x = i["x"].astype(np.float64)
            mean = x.mean(axis=axes, keepdims=True)
            std = np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True))
            return [((x - mean) / (std + 1e-9)).astype(np.float32)]
        case(f"mvn_axes_{'_'.join(map(str, axes))}", "MeanVarianceNormalization",
             {"x": rand(2, 3, 4, 5)}, ref, opset=13, axes=list(axes), tol=1e-4)
    for p, axis in ((1, 0), (1, -1), (2, 1)):
        def ref(i, p=p, axis=axis):
            x = i["x"].astype(np.float64)
            norm = (np.abs(x) ** p).sum(axis=axis, keepdims=True) ** (1 / p)
            return [(x / norm).astype(np.float32)]
        case(f"lpnorm_p{p}_axis{axis}", "LpNormalization", {"x": rand(3, 4, 5)}, ref, p=p,
             axis=axis)


def batchnorm_cases():
    for shape in ((4, 3, 5), (6, 2)):
        c = shape[1]
        ins = {"x": rand(*shape), "s": rand(c), "b": rand(c), "m": rand(c),
               "v": np.abs(rand(c)) + 0.5}

        def ref(i):
            axes = tuple(d for d in range(i["x"].ndim) if d != 1)
            y, mean, _ = normalize(i["x"], axes, 1e-3)
            var = ((i["x"].astype(np.float64) - mean) ** 2).mean(axis=axes)
            shape = (1, -1) + (1,) * (i["x"].ndim - 2)
            y = y * i["s"].reshape(shape) + i["b"].reshape(shape)
            return [y.astype(np.float32), (i["m"] * 0.7 + mean.reshape(-1) * 0.3).astype(np.float32),
                    (i["v"] * 0.7 + var * 0.3).astype(np.float32)]
        case(f"batchnorm_training_rank{len(shape)}", "BatchNormalization", ins, ref, n_out=3,
             opset=15, training_mode=1, momentum=0.7, epsilon=1e-3)


def activation_cases():
    x = rand(4, 25) * 3
    erf = np.vectorize(math.erf)
    acts = [
        ("gelu_none", "Gelu", 20, {}, lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))),
        ("gelu_tanh", "Gelu", 20, {"approximate": "tanh"},
         lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
        ("celu_alpha", "Celu", 12, {"alpha": 0.5},
         lambda x: np.maximum(0, x) + np.minimum(0, 0.5 * (np.exp(x / 0.5) - 1))),
        ("mish", "Mish", 18, {}, lambda x: x * np.tanh(np.log1p(np.exp(x)))),
        ("swish_alpha", "Swish", 24, {"alpha": 0.5}, lambda x: x / (1 + np.exp(-0.5 * x))),
        ("shrink_bias", "Shrink", 9, {"lambd": 0.8, "bias": 0.3},
         lambda x: np.where(x < -0.8, x + 0.3, np.where(x > 0.8, x - 0.3, 0))),
        ("thresholdedrelu", "ThresholdedRelu", 10, {"alpha": 0.4}, lambda x: np.where(x > 0.4, x, 0)),
    ]
    for name, op, opset, attrs, f in acts:
        for dtype in (np.float32, np.float64):
            case(f"{name}_{np.dtype(dtype).name}", op, {"x": x.astype(dtype)},
                 lambda i, f=f: [f(i["x"].astype(np.float64)).astype(i["x"].dtype)], opset=opset,
                 tol=1e-5, **attrs)


def einsum_cases():
    eqs = [
        ("ellipsis_broadcast", "...ij,...jk->...ik", [(2, 1, 3, 4), (1, 5, 4, 2)]),
        ("three_inputs", "ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),
        ("diagonal", "ii->i", [(4, 4)]),
        ("trace_implicit", "ii", [(5, 5)]),
        ("implicit_order", "kj,ij", [(3, 4), (2, 4)]),
        ("upper_case", "bIJ,bJK->bKI", [(2, 3, 4), (2, 4, 5)]),
        ("outer", "i,j->ij", [(3,), (4,)]),
        ("ellipsis_middle", "i...j->j...i", [(2, 3, 4, 5)]),
        ("sum_all", "ijk->", [(2, 3, 4)]),
    ]
    for name, eq, shapes in eqs:
        ins = {f"x{k}": rand(*s, dtype=np.float64) for k, s in enumerate(shapes)}
        case(f"einsum_{name}", "Einsum", ins,
             lambda i, eq=eq: [np.asarray(np.einsum(eq, *i.values()))], opset=12, equation=eq,
             tol=1e-12)
    rng = np.random.default_rng(7)
    ins = {"a": rng.integers(-5, 5, (3, 4)).astype(np.int64),
           "b": rng.integers(-5, 5, (4, 2)).astype(np.int64)}
    case("einsum_int64", "Einsum", ins, lambda i: [np.einsum("ij,jk->ik", i["a"], i["b"])],
         opset=12, equation="ij,jk->ik", tol=0)


def det_cases():
    x = rand(4, 3, 3)
    x[1, 2] = x[1, 0] * 2  # singular
    x[2] = np.array([[0, 1, 2], [1, 0, 3], [4, -3, 8]])  # needs a row swap
    case("det_batch_singular", "Det", {"x": x},
         lambda i: [np.linalg.det(i["x"].astype(np.float64)).astype(np.float32)], tol=1e-4)
    case("det_f64_5x5", "Det", {"x": rand(2, 5, 5, dtype=np.float64)},
         lambda i: [np.linalg.det(i["x"])], tol=1e-10)


def fold_cases():
    """Shape -> Mod/Equal/Where/Max -> Reshape: folded, so Reshape gets a constant."""
    x = rand(6, 4)
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Constant", [], ["four"], value=numpy_helper.from_array(np.array([4, 4], np.int64))),
        helper.make_node("Mod", ["sh", "four"], ["m"]),          # [2, 0]
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Equal", ["m", "zero"], ["eq"]),        # [F, T]
        helper.make_node("Not", ["eq"], ["ne"]),                 # [T, F]
        helper.make_node("Constant", [], ["alt"], value=numpy_helper.from_array(np.array([3, -1], np.int64))),
        helper.make_node("Where", ["ne", "alt", "sh"], ["w"]),   # [3, 4]
        helper.make_node("Max", ["w", "alt"], ["target"]),       # [3, 4]
        helper.make_node("Constant", [], ["two"], value=numpy_helper.from_array(np.array([2, 1], np.int64))),
        helper.make_node("Mul", ["target", "two"], ["t2"]),      # [6, 4]
        helper.make_node("Reshape", ["x", "t2"], ["y0"]),
    ]
    graph = helper.make_graph(nodes, "fold", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6, 4])],
                              [helper.make_tensor_value_info("y0", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    CASES.append(("fold_shape_arithmetic", model, {"x": x}, [x.reshape(6, 4)], 0))


F = TensorProto.FLOAT
ERRORS = [  # (name, node, inputs, opset, what the one error line must say)
    ("layernorm_scale", helper.make_node("LayerNormalization", ["x", "s"], ["y"], axis=1),
     [("x", [2, 3, 4]), ("s", [5])], 17, "input 1 'Scale' [5] does not broadcast to X [2,3,4]"),
    ("groupnorm_groups", helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=3),
     [("x", [2, 4, 4]), ("s", [4]), ("b", [4])], 21, "num_groups 3 must be a positive divisor"),
    ("groupnorm18_scale", helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2),
     [("x", [2, 4, 4]), ("s", [4]), ("b", [4])], 18, "expected 2 values (one per group at opset 18"),
    ("einsum_output_label", helper.make_node("Einsum", ["x", "z"], ["y"], equation="ij,jk->ikq"),
     [("x", [2, 3]), ("z", [3, 4])], 12, "output label 'q' is not in any input"),
    ("einsum_sizes", helper.make_node("Einsum", ["x", "z"], ["y"], equation="ij,jk"),
     [("x", [2, 3]), ("z", [4, 4])], 12, "label 'j' has size 4 in input 1 (dim 0) but 3 elsewhere"),
    ("einsum_terms", helper.make_node("Einsum", ["x", "z"], ["y"], equation="ij->i"),
     [("x", [2, 3]), ("z", [3, 4])], 12, "fewer terms than the 2 inputs"),
    ("det_square", helper.make_node("Det", ["x"], ["y"]), [("x", [2, 3])], 12,
     "input has shape [2,3]; expected [*, M, M]"),
    ("lpnorm_p", helper.make_node("LpNormalization", ["x"], ["y"], p=3), [("x", [2, 3])], 12,
     "p must be 1 or 2, not 3"),
    ("gelu_mode", helper.make_node("Gelu", ["x"], ["y"], approximate="fast"), [("x", [2, 3])], 20,
     "approximate must be 'none' or 'tanh', not 'fast'"),
]


def run_error(nncc, name, node, inputs, opset, want, work):
    """nncc reports one error line naming the file, the op and the problem,
    exits 1 and writes nothing."""
    os.makedirs(work, exist_ok=True)
    graph = helper.make_graph([node], name, [helper.make_tensor_value_info(k, F, s) for k, s in inputs],
                              [helper.make_tensor_value_info("y", F, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path, out = os.path.join(work, "model.onnx"), os.path.join(work, "m.c")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    r = subprocess.run([nncc, path, "-o", out], capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    ok = (r.returncode == 1 and len(lines) == 1 and path in lines[0] and f"({node.op_type})" in lines[0]
          and want in lines[0] and not os.path.exists(out))
    print(f"status {r.returncode}: {r.stderr.strip()} {'OK' if ok else 'FAIL (want: ' + want + ')'}")
    return ok


def run_case(nncc, name, model, feeds, refs, tol, work, cc):
    path, outs = nncc_run(nncc, model, feeds, work, timeout=300)
    if outs is None:
        return False
    ok = True
    for k, (ref, got) in enumerate(zip(refs, outs)):
        ref = np.asarray(ref)
        if got.shape != ref.shape or got.dtype != ref.dtype:
            print(f"output {k}: {got.dtype}{list(got.shape)}, expected {ref.dtype}{list(ref.shape)}")
            ok = False
            continue
        diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        bound = tol * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
        worst = float(np.max(diff)) if diff.size else 0.0
        good = worst <= bound  # False for NaN
        print(f"output {k}: max_abs_diff={worst:.3g} bound={bound:.3g} {'OK' if good else 'FAIL'}")
        ok = ok and good
    if cc:
        why = recurrent_models.check_c(nncc, path, work)
        if why:
            print(f"generated C: {why}")
            ok = False
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--no-cc", action="store_true", help="skip the gcc/clang build check")
    args = ap.parse_args()
    for make in (layernorm_cases, group_instance_cases, mvn_lp_cases, batchnorm_cases,
                 activation_cases, einsum_cases, det_cases, fold_cases):
        make()
    tmp = tempfile.mkdtemp(prefix="nncc_norm_ops_")
    passed = failed = 0
    try:
        runs = [(c[0], lambda c=c: run_case(args.nncc, *c, os.path.join(tmp, c[0]), not args.no_cc))
                for c in CASES]
        runs += [("error_" + e[0], lambda e=e: run_error(args.nncc, *e, os.path.join(tmp, "error_" + e[0])))
                 for e in ERRORS]
        for name, run in runs:
            if not re.search(args.filter, name):
                continue
            print(f"== {name}", flush=True)
            try:
                ok = run()
            except Exception as e:  # one broken case must not hide the others
                print(f"error: {type(e).__name__}: {e}")
                ok = False
            passed += ok
            failed += not ok
            if not ok:
                print(f"FAIL {name}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
