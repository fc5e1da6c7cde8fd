#!/usr/bin/env python3
"""The integer and requantizing ops through `nncc run`, exact against ONNX's
reference evaluator, on shapes the backend suite does not try: MatMulInteger
with batch broadcasting, 1-D operands and per-row/per-column zero points;
QLinearMatMul in 3-D with int8 and uint8; ConvInteger and QLinearConv with
groups, strides, dilations, padding, auto_pad, per-channel weight zero points
and scales, a bias, and loops large enough to run on threads; DynamicQuantizeLinear on all-positive, all-negative
and constant inputs; QuantizeLinear at opset 10 and with float16 scales.
Each model's C must build with gcc and clang under -std=c11 -Wall -Wextra
-Werror.

Usage: quantized_ops.py --nncc PATH [--filter REGEX] [--no-cc]
The last line is `N passed, M failed`; exit status 1 when any case fails.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
from onnx import helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import narrow_types  # noqa: E402  (case, run_case)

case = narrow_types.case
rng = np.random.default_rng(7)


def u8(*shape):
    return rng.integers(0, 256, size=shape).astype(np.uint8)


def i8(*shape):
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def f32(*v):
    return np.array(v, dtype=np.float32)


def build_cases():
    def mmi(name, a, b, za=None, zb=None):
        # ONNX's reference broadcasts a 1-D a_zero_point along A's columns;
        # the spec gives one per row. This reference follows the spec.
        def ref(f):
            a32 = f["a"].astype(np.int64) - (f["za"].astype(np.int64)[:, None]
                                             if za is not None and np.ndim(za) == 1 else
                                             f["za"].astype(np.int64) if za is not None else 0)
            b32 = f["b"].astype(np.int64) - (f["zb"].astype(np.int64) if zb is not None else 0)
            return [np.matmul(a32, b32).astype(np.int32)]
        names = ["a", "b"] + (["za"] if za is not None else []) + (["zb"] if zb is not None else [])
        feeds = {"a": a, "b": b, **({"za": za} if za is not None else {}),
                 **({"zb": zb} if zb is not None else {})}
        case(name, [helper.make_node("MatMulInteger", names, ["y0"])], feeds, [6], opset=21, ref=ref)
    mmi("matmulinteger_batch_broadcast", u8(2, 1, 3, 4), u8(3, 4, 5), np.uint8(12), np.uint8(200))
    mmi("matmulinteger_int8_per_row_col", i8(3, 4), i8(4, 5), i8(3), i8(5))
    mmi("matmulinteger_1d_a", u8(4), u8(2, 4, 3))
    mmi("matmulinteger_1d_b", i8(2, 3, 4), i8(4), np.int8(-3), np.int8(5))
    mmi("matmulinteger_nd_zero_points", u8(2, 3, 4), u8(2, 4, 5), u8(2, 3, 1), u8(2, 1, 5))
    mmi("matmulinteger_large_threaded", u8(64, 128), u8(128, 96), np.uint8(7), np.uint8(250))

    def qmm_ref(f):  # the spec's per-row a and per-column b scales and zero points
        a = f["a"].astype(np.int64) - f["za"].astype(np.int64)[:, None]
        b = f["b"].astype(np.int64) - f["zb"].astype(np.int64)
        factor = (f["sa"][:, None] * f["sb"][None, :]) / f["sy"]  # float32, as the reference
        q = np.rint((a @ b).astype(np.float64) * factor.astype(np.float64) + float(f["zy"]))
        return [q.astype(np.int64).astype(np.uint8)]
    case("qlinearmatmul_per_row_col",
         [helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y0"])],
         {"a": u8(3, 6), "sa": f32(0.02, 0.03, 0.01), "za": u8(3), "b": u8(6, 4),
          "sb": f32(0.01, 0.02, 0.005, 0.015), "zb": u8(4), "sy": f32(0.8), "zy": np.uint8(100)},
         [2], opset=21, ref=qmm_ref)
    for t, gen in (("int8", i8), ("uint8", u8)):
        zp = gen(1)[0]
        case(f"qlinearmatmul_3d_{t}",
             [helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y0"])],
             {"a": gen(2, 3, 8), "sa": f32(0.02), "za": zp, "b": gen(8, 4), "sb": f32(0.01),
              "zb": gen(1)[0], "sy": f32(0.5), "zy": gen(1)[0]}, [3 if t == "int8" else 2], opset=21)
    conv_attrs = [
        ("plain", {}, (1, 3, 7, 7), (4, 3, 3, 3)),
        ("pads_strides", {"pads": [1, 2, 1, 0], "strides": [2, 1]}, (2, 3, 7, 6), (4, 3, 3, 2)),
        ("dilated_group", {"dilations": [2, 1], "group": 2}, (1, 4, 8, 6), (6, 2, 2, 3)),
        ("same_upper_1d", {"auto_pad": "SAME_UPPER", "strides": [2]}, (1, 2, 9), (3, 2, 4)),
        ("3d", {"pads": [1, 0, 1, 1, 0, 1]}, (1, 2, 4, 3, 4), (2, 2, 2, 2, 3)),
        ("large_threaded", {"pads": [1, 1, 1, 1]}, (1, 8, 32, 32), (16, 8, 3, 3)),
    ]
    for name, attrs, xs, ws in conv_attrs:
        m = ws[0]
        case(f"convinteger_{name}",
             [helper.make_node("ConvInteger", ["x", "w", "zx", "zw"], ["y0"], **attrs)],
             # per-channel zw only in 2-D: the reference reshapes it to (M, 1, 1, 1)
             {"x": u8(*xs), "w": u8(*ws), "zx": np.uint8(100),
              "zw": u8(m) if len(ws) == 4 else np.uint8(3)}, [6], opset=10)
        case(f"qlinearconv_{name}",
             [helper.make_node("QLinearConv", ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"],
                               ["y0"], **attrs)],
             {"x": u8(*xs), "sx": f32(0.05), "zx": np.uint8(120), "w": i8(*ws),
              # per-channel sw only in 2-D: the reference expands it to (1, M, 1, 1)
              "sw": (rng.random(m if len(ws) == 4 else 1) * 0.02 + 0.001).astype(np.float32),
              "zw": np.zeros(m if len(ws) == 4 else 1, np.int8),
              "sy": f32(0.3), "zy": np.uint8(128),
              "b": rng.integers(-500, 500, size=m).astype(np.int32)}, [2], opset=10)
    for name, x in (("positive", rng.random((3, 4)).astype(np.float32) * 5 + 1),
                    ("negative", -rng.random((3, 4)).astype(np.float32) * 5 - 1),
                    ("constant", np.full((2, 3), 0.0, np.float32)),
                    ("mixed", rng.standard_normal((5, 7)).astype(np.float32) * 3)):
        case(f"dynamicquantizelinear_{name}",
             [helper.make_node("DynamicQuantizeLinear", ["x"], ["y0", "y1", "y2"])], {"x": x},
             [2, 1, 2], opset=11)
    x = rng.standard_normal((3, 5)).astype(np.float32) * 100
    case("quantizelinear_opset10_no_zero_point",
         [helper.make_node("QuantizeLinear", ["x", "s"], ["y0"])], {"x": x, "s": f32(0.7)}, [2],
         opset=10)
    case("quantizelinear_float64_int16",
         [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y0"])],
         {"x": rng.standard_normal(50) * 3000, "s": f32(0.137), "z": np.int16(-77)}, [5], opset=21)
    xh = (rng.standard_normal((4, 6)) * 20).astype(np.float16)
    case("quantizelinear_float16_per_axis",
         [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y0"], axis=1)],
         {"x": xh, "s": (rng.random(6) * 0.3 + 0.05).astype(np.float16), "z": i8(6)}, [3],
         opset=19)
    case("dequantizelinear_int32_float16_out",
         [helper.make_node("DequantizeLinear", ["x", "s"], ["y0"])],
         {"x": rng.integers(-2**25, 2**25, size=20).astype(np.int32),  # beyond float32's 2^24
          "s": np.float16(0.001)}, [10], opset=21)


def error_cases():
    """(name, model, words the error line must hold): each must fail to
    compile with `nncc: error: FILE: node 'NAME' (OP): ...`, status 1."""
    from onnx import TensorProto as T
    import onnx

    def model(node, inputs, inits=()):
        g = helper.make_graph([node], "g", [helper.make_tensor_value_info(k, t, d) for k, t, d in inputs],
                              [helper.make_tensor_value_info("y", T.UNDEFINED, None)], list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
        m.ir_version = 10
        return m
    bad_raw = onnx.TensorProto(name="w", data_type=T.INT4, dims=[5], raw_data=b"\x01\x02")
    return [
        ("blocked_scale_shape",
         model(helper.make_node("QuantizeLinear", ["x", "s"], ["y"], name="q1", axis=1, block_size=2),
               [("x", T.FLOAT, [2, 5]), ("s", T.FLOAT, [2, 2])]),
         ["node 'q1' (QuantizeLinear)", "ceil(5 / block_size 2)"]),
        ("zero_point_type",
         model(helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], name="dq1"),
               [("x", T.INT8, [4]), ("s", T.FLOAT, []), ("z", T.UINT8, [])]),
         ["node 'dq1' (DequantizeLinear)", "the zero point is uint8, the input int8"]),
        ("qlinearmatmul_scale_shape",
         model(helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"],
                                name="qmm1"),
               [("a", T.UINT8, [2, 3]), ("sa", T.FLOAT, []), ("za", T.UINT8, []),
                ("b", T.UINT8, [3, 4]), ("sb", T.FLOAT, [3]), ("zb", T.UINT8, []),
                ("sy", T.FLOAT, []), ("zy", T.UINT8, [])]),
         ["node 'qmm1' (QLinearMatMul)", "input 4 'b_scale' must be a scalar, 1-D of 4 values"]),
        ("packed_int4_size",
         model(helper.make_node("Identity", ["w"], ["y"], name="id1"), [], [bad_raw]),
         ["initializer 'w'", "2 bytes of packed raw data for 3 expected"]),
    ]


def check_errors(nncc, tmp, flt):
    import onnx
    passed = failed = 0
    for name, m, words in error_cases():
        if flt and not re.search(flt, name):
            continue
        path = os.path.join(tmp, name + ".onnx")
        onnx.save(m, path)
        out = os.path.join(tmp, name + ".c")
        r = subprocess.run([nncc, path, "-o", out], capture_output=True, text=True, timeout=60)
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith(f"nncc: error: {path}: ")]
        why = None
        if r.returncode != 1 or os.path.exists(out):
            why = f"exit status {r.returncode}" + (", output left behind" if os.path.exists(out) else "")
        elif not any(all(w in ln for w in words) for ln in lines):
            why = f"no error line holds {words}: {r.stderr.strip()}"
        print(f"{'FAIL' if why else 'PASS'} error_{name}" + (f": {why}" if why else ""), flush=True)
        passed += why is None
        failed += why is not None
    return passed, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--filter", help="regex on case names")
    ap.add_argument("--no-cc", action="store_true", help="skip the gcc/clang build check")
    args = ap.parse_args()
    build_cases()
    nncc = os.path.abspath(args.nncc)
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="nncc-quant-") as tmp:
        for name, model, feeds, ref in narrow_types.CASES:
            if args.filter and not re.search(args.filter, name):
                continue
            why = narrow_types.run_case(nncc, name, model, feeds, os.path.join(tmp, name),
                                        not args.no_cc, ref)
            print(f"{'FAIL' if why else 'PASS'} {name}" + (f": {why}" if why else ""), flush=True)
            passed += why is None
            failed += why is not None
        p, f = check_errors(nncc, tmp, args.filter)
        passed, failed = passed + p, failed + f
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
