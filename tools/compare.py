#!/usr/bin/env python3
"""nncc compare: find the first node whose output differs from onnxruntime.

Runs the model through `nncc run --trace` (every computed tensor, in nncc's
schedule order), runs the same inputs through onnxruntime with those tensors
exposed as extra outputs, and walks the trace in order. The first tensor
outside the tolerance names the node to look at; everything before it agrees.

  tools/compare.py MODEL.onnx [--input NAME=FILE.npy|.pb ...] [--seed S]
                   [--shape NAME=D0xD1...] [--rtol R] [--atol A] [-v]

Inputs not given are drawn at random (seeded). Exit status: 0 when every
traced tensor agrees, 1 when one diverges, 2 on a usage or tool error.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16,
          "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "uint16": np.uint16,
          "int32": np.int32, "uint32": np.uint32, "int64": np.int64, "uint64": np.uint64,
          "bool": np.bool_}


def fail(msg):
    print(f"compare: error: {msg}", file=sys.stderr)
    sys.exit(2)


def load_array(path):
    if path.endswith(".npy"):
        return np.load(path)
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def random_input(vi, shapes, rng):
    tt = vi.type.tensor_type
    if vi.name in shapes:
        dims = shapes[vi.name]
    else:
        dims = []
        for d in tt.shape.dim:
            if not d.HasField("dim_value"):
                fail(f"input '{vi.name}' has an open dimension; give --shape {vi.name}=... or --input")
            dims.append(d.dim_value)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(dims).astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, dims).astype(np.bool_)
    return rng.integers(0, 4, dims).astype(dtype)


def parse_shape(text):
    name, _, dims = text.partition("=")
    if not dims:
        fail(f"--shape wants NAME=D0xD1..., got '{text}'")
    return name, [int(d) for d in dims.split("x")]


def gather_inputs(model, args):
    given = {}
    for spec in args.input:
        name, _, path = spec.partition("=")
        if not path:
            fail(f"--input wants NAME=FILE, got '{spec}'")
        given[name] = load_array(path)
    shapes = dict(parse_shape(s) for s in args.shape)
    init = {i.name for i in model.graph.initializer}
    rng = np.random.default_rng(args.seed)
    feeds = {}
    for vi in model.graph.input:
        if vi.name in init:
            continue
        feeds[vi.name] = given.pop(vi.name) if vi.name in given else random_input(vi, shapes, rng)
    if given:
        fail(f"the model has no input named {', '.join(sorted(given))}")
    return feeds


def run_nncc(args, feeds, work):
    cmd = [args.nncc, "run", args.model, "--trace", os.path.join(work, "trace"),
           "--output-dir", os.path.join(work, "out")]
    for name, value in feeds.items():
        path = os.path.join(work, f"in_{len(cmd)}.npy")
        np.save(path, value)
        cmd += ["--input", f"{name}={path}"]
    for s in args.shape:
        cmd += ["--shape", s]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        fail("nncc run failed (above)")
    with open(os.path.join(work, "trace", "trace.tsv")) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def run_reference(path, feeds, names):
    """onnxruntime on the model with every traced tensor it knows as an output."""
    import onnxruntime as ort
    model = onnx.load(path)
    present = {o.name for o in model.graph.output}
    # Only tensors something reads: a dead-end output (an unused Dropout mask)
    # cannot make the model's outputs wrong.
    used = {i for n in model.graph.node for i in n.input} | present
    known = {o for n in model.graph.node for o in n.output} & used
    wanted = [n for n in names if n in known]
    for name in wanted:
        if name not in present:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    outs = sess.run(wanted, feeds)
    return dict(zip(wanted, outs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--input", action="append", default=[], metavar="NAME=FILE")
    ap.add_argument("--shape", action="append", default=[], metavar="NAME=D0xD1...")
    ap.add_argument("--seed", type=int, default=0, help="for random inputs (default 0)")
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--reference-model", metavar="REF.onnx",
                    help="run this model in onnxruntime instead (same tensor names)")
    ap.add_argument("--nncc", default=os.path.join(HERE, "..", "build", "nncc"))
    ap.add_argument("-v", "--verbose", action="store_true", help="print every tensor")
    args = ap.parse_args()
    try:
        model = onnx.load(args.model)
    except Exception as e:  # onnx raises several kinds
        fail(f"{args.model}: cannot load: {e}")
    feeds = gather_inputs(model, args)
    with tempfile.TemporaryDirectory(prefix="nncc-compare-") as work:
        trace = run_nncc(args, feeds, work)
        try:
            ref = run_reference(args.reference_model or args.model, feeds, [r["tensor"] for r in trace])
        except Exception as e:  # onnxruntime's own errors, for a model it cannot run
            fail(f"onnxruntime cannot run the reference: {e}")
        checked = 0
        for row in trace:
            want = ref.get(row["tensor"])
            if want is None:  # nncc's own (a cast, a copy) or unused: nothing to compare
                continue
            got = np.load(os.path.join(work, "trace", row["file"]))
            checked += 1
            where = f"node '{row['node']}' ({row['op']}) output '{row['tensor']}' {row['dtype']}{row['shape']}"
            if got.shape != want.shape:
                print(f"first divergence: {where}: nncc shape {got.shape}, onnxruntime {want.shape}")
                return 1
            g64, w64 = got.astype(np.float64), want.astype(np.float64)
            err = np.abs(g64 - w64)
            bad = ~np.isclose(g64, w64, rtol=args.rtol, atol=args.atol, equal_nan=True)
            worst = float(err.max()) if err.size else 0.0
            if args.verbose:
                print(f"{'BAD' if bad.any() else 'ok '} {where}: max|diff| {worst:.3g}")
            if bad.any():
                i = np.unravel_index(int(np.argmax(np.where(bad, err, -1))), got.shape) if got.ndim else ()
                print(f"first divergence: {where}: {int(bad.sum())} of {bad.size} elements "
                      f"outside rtol={args.rtol} atol={args.atol}; max|diff| {worst:.6g}; "
                      f"at index {list(map(int, i))}: nncc {g64[i]:.9g}, onnxruntime {w64[i]:.9g}")
                return 1
        print(f"all {checked} traced tensors agree with onnxruntime "
              f"(rtol={args.rtol} atol={args.atol}; {len(trace) - checked} unused or nncc-only tensors skipped)")
        return 0


if __name__ == "__main__":
    sys.exit(main())
