#!/usr/bin/env python3
"""Data-dependent output shapes (NonZero, Unique, NonMaxSuppression) against
onnxruntime on seeded random data beyond the ONNX suite's examples; the
generated header names each output's actual-shape companion; a node that
consumes such a value is reported."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper


def model(nodes, inputs, outputs, opset=13):
    g = helper.make_graph(nodes, "dd", inputs, outputs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def vi(name, t, shape):
    return helper.make_tensor_value_info(name, t, shape)


def cases():
    rng = np.random.default_rng(3)
    x = (rng.random((3, 4, 5)) < 0.3) * rng.standard_normal((3, 4, 5)).astype(np.float32)
    yield "NonZero 3-D float", model([helper.make_node("NonZero", ["x"], ["y"])], [vi("x", TensorProto.FLOAT, [3, 4, 5])],
                                     [vi("y", TensorProto.INT64, None)]), {"x": x.astype(np.float32)}
    yield "NonZero all zero", model([helper.make_node("NonZero", ["x"], ["y"])], [vi("x", TensorProto.INT32, [6])],
                                    [vi("y", TensorProto.INT64, None)]), {"x": np.zeros(6, np.int32)}
    ints = rng.integers(0, 5, (7, 3)).astype(np.int64)
    ints[4] = ints[1]
    for axis in [None, 0, 1, -1]:
        for srt in [0, 1]:
            kw = {"sorted": srt} if axis is None else {"sorted": srt, "axis": axis}
            if axis is not None and srt == 0:
                continue  # onnxruntime requires sorted=1 with an axis
            node = helper.make_node("Unique", ["x"], ["y", "idx", "inv", "cnt"], **kw)
            outs = [vi("y", TensorProto.INT64, None)] + [vi(n, TensorProto.INT64, None) for n in ["idx", "inv", "cnt"]]
            yield f"Unique int64 axis={axis} sorted={srt}", model([node], [vi("x", TensorProto.INT64, [7, 3])], outs, 11), {"x": ints}
    f = rng.integers(0, 4, 20).astype(np.float32) / 2
    node = helper.make_node("Unique", ["x"], ["y", "idx", "inv", "cnt"], sorted=1)
    outs = [vi("y", TensorProto.FLOAT, None)] + [vi(n, TensorProto.INT64, None) for n in ["idx", "inv", "cnt"]]
    yield "Unique float", model([node], [vi("x", TensorProto.FLOAT, [20])], outs, 11), {"x": f}
    for center in [0, 1]:
        for iou, score in [(0.5, 0.0), (0.3, 0.4), (0.7, -1.0)]:
            b, c, n = 2, 3, 40
            corners = rng.random((b, n, 2)).astype(np.float32)
            boxes = np.concatenate([corners, corners + rng.random((b, n, 2)).astype(np.float32) * 0.4], axis=2)
            scores = rng.random((b, c, n)).astype(np.float32)
            node = helper.make_node("NonMaxSuppression", ["boxes", "scores", "max", "iou", "score"], ["sel"],
                                    center_point_box=center)
            ins = [vi("boxes", TensorProto.FLOAT, [b, n, 4]), vi("scores", TensorProto.FLOAT, [b, c, n]),
                   vi("max", TensorProto.INT64, [1]), vi("iou", TensorProto.FLOAT, [1]), vi("score", TensorProto.FLOAT, [1])]
            feeds = {"boxes": boxes, "scores": scores, "max": np.array([7], np.int64),
                     "iou": np.array([iou], np.float32), "score": np.array([score], np.float32)}
            yield f"NonMaxSuppression center={center} iou={iou} score={score}", \
                model([node], ins, [vi("sel", TensorProto.INT64, None)], 11), feeds


def run_nncc(nncc, path, feeds, work):
    out = os.path.join(work, "out")
    args = [nncc, "run", path, "--output-dir", out]
    for k, v in feeds.items():
        f = os.path.join(work, k + ".npy")
        np.save(f, v)
        args += ["--input", f"{k}={f}"]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode:
        return None, p.stderr
    return [np.load(os.path.join(out, f"output_{i}.npy")) for i in range(len(os.listdir(out)))], ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    args = ap.parse_args()
    fails = 0
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "m.onnx")
        for name, m, feeds in cases():
            onnx.save(m, path)
            want = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)
            for f in os.listdir(work):
                if f == "out":
                    for g in os.listdir(os.path.join(work, "out")):
                        os.remove(os.path.join(work, "out", g))
            got, err = run_nncc(args.nncc, path, feeds, work)
            ok = got is not None and len(got) == len(want) and all(
                a.shape == b.shape and np.array_equal(a, b) for a, b in zip(got, want))
            print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {err or [(a.shape, b.shape) for a, b in zip(got, want)]}"))
            fails += not ok

        m = model([helper.make_node("NonZero", ["x"], ["nz"]), helper.make_node("Transpose", ["nz"], ["y"])],
                  [vi("x", TensorProto.FLOAT, [4])], [vi("y", TensorProto.INT64, None)])
        onnx.save(m, path)
        p = subprocess.run([args.nncc, path, "-o", os.path.join(work, "t.c")], capture_output=True, text=True)
        ok = p.returncode == 1 and "data-dependent shape" in p.stderr and "(Transpose)" in p.stderr
        print(f"{'ok  ' if ok else 'FAIL'} a consumer of a data-dependent value is reported: {p.stderr.strip()}")
        fails += not ok

        onnx.save(model([helper.make_node("NonZero", ["x"], ["nz"])], [vi("x", TensorProto.FLOAT, [4])],
                        [vi("nz", TensorProto.INT64, None)]), path)
        p = subprocess.run([args.nncc, path, "-o", os.path.join(work, "nz.c")], capture_output=True, text=True)
        header = open(os.path.join(work, "nz.h")).read() if p.returncode == 0 else ""
        ok = "nz_shape" in header and "at most" in header
        print(f"{'ok  ' if ok else 'FAIL'} the header names the actual-shape output")
        fails += not ok
    print(f"{fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
