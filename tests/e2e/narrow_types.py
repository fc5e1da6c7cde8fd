#!/usr/bin/env python3
"""The 8/4/2-bit types through `nncc run`, bit-exact against ONNX's reference
evaluator, beyond the backend suite's few values: Cast from float32 and
float64 to every float8/float4 type (both saturate modes) over thousands of
values of every magnitude, the exact midpoints between neighbours, zeros,
infinities and NaN; every bit pattern back to float; float8e8m0's three
rounding modes; int4/uint4/int2/uint2 with odd element counts (ONNX packs
them); QuantizeLinear/DequantizeLinear with 4-bit initializers, per axis and
blocked; and `nncc export` writing those initializers back packed. Each
model's C must build with gcc and clang under -std=c11 -Wall -Wextra -Werror.

Usage: narrow_types.py --nncc PATH [--filter REGEX] [--no-cc]
The last line is `N passed, M failed`; exit status 1 when any case fails.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import recurrent_models  # noqa: E402  (check_c: the gcc/clang build check)

FLOATS = {T.FLOAT8E4M3FN: ml_dtypes.float8_e4m3fn, T.FLOAT8E4M3FNUZ: ml_dtypes.float8_e4m3fnuz,
          T.FLOAT8E5M2: ml_dtypes.float8_e5m2, T.FLOAT8E5M2FNUZ: ml_dtypes.float8_e5m2fnuz,
          T.FLOAT4E2M1: ml_dtypes.float4_e2m1fn}
INTS = {T.INT4: ml_dtypes.int4, T.UINT4: ml_dtypes.uint4, T.INT2: ml_dtypes.int2,
        T.UINT2: ml_dtypes.uint2}
CASES = []


def case(name, nodes, inputs, out_types, inits=(), opset=25, ref=None):
    """A graph of nodes over named inputs {name: array}; outputs y0.. of the
    given element types. Inputs listed in inits become initializers. ref(feeds)
    gives the expected outputs where ONNX's reference evaluator is wrong."""
    vins = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
            for k, v in inputs.items() if k not in inits]
    vouts = [helper.make_tensor_value_info(f"y{i}", t, None) for i, t in enumerate(out_types)]
    init = [numpy_helper.from_array(inputs[k], k) for k in inits]
    graph = helper.make_graph(nodes, name, vins, vouts, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 11
    feeds = {k: v for k, v in inputs.items() if k not in inits}
    CASES.append((name, model, feeds, ref))


def wide_floats(seed):
    """Values of every magnitude, the midpoints of a small float type's
    neighbours (and just beside them), signed zeros, infinities, NaN."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(3000) * 10.0 ** rng.integers(-12, 7, 3000)
    extra = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e30, -1e30]
    for t in FLOATS.values():
        v = np.unique(np.arange(256 if t != ml_dtypes.float4_e2m1fn else 16, dtype=np.uint8)
                      .view(t).astype(np.float64))
        v = v[np.isfinite(v)]
        mid = (v[1:] + v[:-1]) / 2
        extra += list(mid) + list(np.nextafter(mid, np.inf)) + list(np.nextafter(mid, -np.inf))
    return np.concatenate([x, extra])


def build_cases():
    for to, dt in FLOATS.items():
        tname = T.DataType.Name(to)
        for src in (np.float32, np.float64, np.float16):
            for sat in (1, 0):
                x = wide_floats(to)
                if src == np.float16:  # within float16's range
                    x = x[~(np.abs(x) >= 6e4)]
                x = x.astype(src)
                case(f"cast_{np.dtype(src).name}_to_{tname}_sat{sat}",
                     [helper.make_node("Cast", ["x"], ["y0"], to=to, saturate=sat)], {"x": x}, [to])
        n = 16 if to == T.FLOAT4E2M1 else 256
        every = np.arange(n, dtype=np.uint8).view(dt)
        case(f"cast_{tname}_to_float", [helper.make_node("Cast", ["x"], ["y0"], to=T.FLOAT)],
             {"x": every}, [T.FLOAT])
        case(f"cast_{tname}_to_float16", [helper.make_node("Cast", ["x"], ["y0"], to=T.FLOAT16)],
             {"x": every}, [T.FLOAT16])
    x = np.abs(wide_floats(99)).astype(np.float32)
    for mode in ("up", "down", "nearest"):
        for sat in (1, 0):
            case(f"cast_float_to_e8m0_{mode}_sat{sat}",
                 [helper.make_node("Cast", ["x"], ["y0"], to=T.FLOAT8E8M0, saturate=sat,
                                   round_mode=mode)], {"x": x}, [T.FLOAT8E8M0])
    case("cast_e8m0_to_float", [helper.make_node("Cast", ["x"], ["y0"], to=T.FLOAT)],
         {"x": np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e8m0fnu)}, [T.FLOAT])
    for to, dt in INTS.items():
        tname = T.DataType.Name(to)
        rng = np.random.default_rng(to)
        x = (rng.standard_normal(101) * 6).astype(np.float32)  # odd count: a half-filled last byte
        case(f"cast_float_to_{tname}", [helper.make_node("Cast", ["x"], ["y0"], to=to)],
             {"x": x}, [to])
        info = ml_dtypes.iinfo(dt)
        v = np.arange(info.min, info.max + 1).repeat(7)[:-1].astype(dt)  # odd count
        case(f"cast_{tname}_to_int32_and_back",
             [helper.make_node("Cast", ["x"], ["w"], to=T.INT32),
              helper.make_node("Cast", ["w"], ["y0"], to=to),
              helper.make_node("Reshape", ["x", "s"], ["y1"])],
             {"x": v, "s": np.array([-1, 1], dtype=np.int64)}, [to, to], inits=("s",))
        # a 4/2-bit initializer, read from ONNX's packed layout
        w = rng.integers(info.min, info.max + 1, size=(3, 5)).astype(dt)
        case(f"dequantize_{tname}_weight_per_axis",
             [helper.make_node("DequantizeLinear", ["w", "s", "z"], ["y0"], axis=0)],
             {"w": w, "s": np.array([0.5, 0.25, 2.0], dtype=np.float32),
              "z": np.array([info.min, 0, info.max], dtype=dt)}, [T.FLOAT], inits=("w", "z"))
        case(f"dequantize_{tname}_folded_blocked_float16",  # all constants: folded at compile time
             [helper.make_node("DequantizeLinear", ["w", "s", "z"], ["y0"], axis=1, block_size=2),
              helper.make_node("Identity", ["x"], ["y1"])],
             {"w": w, "s": (rng.random((3, 3)) + 0.1).astype(np.float16),
              "z": rng.integers(info.min, info.max + 1, size=(3, 3)).astype(dt),
              "x": np.ones(2, np.float32)}, [T.FLOAT16, T.FLOAT], inits=("w", "s", "z"))
        case(f"quantize_{tname}_blocked",
             [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y0"], axis=1, block_size=2)],
             {"x": (rng.standard_normal((2, 5)) * 4).astype(np.float32),
              "s": np.array([[0.5, 1.0, 0.3], [2.0, 0.7, 0.1]], dtype=np.float32),
              "z": np.full((2, 3), info.max // 2, dtype=dt)}, [to], inits=("z",))


def movement_cases():
    """Data movement ops on every narrow type: the bytes go through as they are."""
    for to, dt in list(FLOATS.items()) + list(INTS.items()):
        tname = T.DataType.Name(to)
        if to in FLOATS:
            n = 16 if to == T.FLOAT4E2M1 else 256
            x = np.resize(np.arange(n, dtype=np.uint8), 4 * 6 * 7).view(dt).reshape(4, 6, 7)
        else:
            info = ml_dtypes.iinfo(dt)
            x = np.resize(np.arange(info.min, info.max + 1), 4 * 6 * 7).astype(dt).reshape(4, 6, 7)
        i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
        case(f"movement_{tname}",
             [helper.make_node("Transpose", ["x"], ["t"], perm=[2, 0, 1]),
              helper.make_node("Concat", ["t", "t"], ["c"], axis=1),
              helper.make_node("Slice", ["c", "st", "en", "ax"], ["s"]),
              helper.make_node("Gather", ["s", "gi"], ["g"], axis=0),
              helper.make_node("Reshape", ["g", "shp"], ["y0"]),
              helper.make_node("Tile", ["x", "rep"], ["y1"]),
              helper.make_node("Identity", ["x"], ["y2"])],
             {"x": x, "st": i64(1), "en": i64(5), "ax": i64(2), "gi": i64(3, 0, 6),
              "shp": i64(-1), "rep": i64(1, 2, 1)}, [to, to, to],
             inits=("st", "en", "ax", "gi", "shp", "rep"))


def same(got, want):
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype}, expected {want.dtype}"
    g, w = got.astype(np.float64), want.astype(np.float64)
    ok = (g == w) | (np.isnan(g) & np.isnan(w))
    if ok.all():
        return None
    k = int(np.argmin(ok.ravel()))
    return f"{int((~ok).sum())}/{ok.size} differ, first at {k}: got {g.ravel()[k]}, expected {w.ravel()[k]}"


def run_case(nncc, name, model, feeds, work, cc, ref=None):
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "model.onnx")
    onnx.save(model, path)
    want = ref(feeds) if ref else ReferenceEvaluator(model).run(None, feeds)
    cmd = [nncc, "run", path, "--output-dir", work]
    for k, (iname, val) in enumerate(feeds.items()):
        p = os.path.join(work, f"in{k}.pb")
        with open(p, "wb") as f:  # TensorProto: 4/2-bit values packed as ONNX packs them
            f.write(numpy_helper.from_array(val, iname).SerializeToString())
        cmd += ["--input", f"{iname}={p}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return "nncc run failed: " + r.stderr.strip()[-1000:]
    for k, w in enumerate(want):
        why = same(np.load(os.path.join(work, f"output_{k}.npy")), np.asarray(w))
        if why:
            return f"output {k}: {why}"
    if model.graph.initializer:  # export writes the initializers back, packed as ONNX wants
        out = os.path.join(work, "export.onnx")
        r = subprocess.run([nncc, "export", path, "-o", out], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            return "nncc export failed: " + r.stderr.strip()
        again = want if ref else ReferenceEvaluator(onnx.load(out)).run(None, feeds)
        for k, w in enumerate(want):
            why = same(np.asarray(again[k]), np.asarray(w))
            if why:
                return f"exported model, output {k}: {why}"
    return recurrent_models.check_c(nncc, path, work) if cc else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--filter", help="regex on case names")
    ap.add_argument("--no-cc", action="store_true", help="skip the gcc/clang build check")
    args = ap.parse_args()
    build_cases()
    movement_cases()
    nncc = os.path.abspath(args.nncc)
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="nncc-narrow-") as tmp:
        for name, model, feeds, ref in CASES:
            if args.filter and not re.search(args.filter, name):
                continue
            why = run_case(nncc, name, model, feeds, os.path.join(tmp, name), not args.no_cc, ref)
            print(f"{'FAIL' if why else 'PASS'} {name}" + (f": {why}" if why else ""), flush=True)
            passed += why is None
            failed += why is not None
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
