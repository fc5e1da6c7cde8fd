#!/usr/bin/env python3
"""Control flow and sequences beyond the ONNX suite's examples, against
onnxruntime on seeded random data: If with a run-time condition (both values
of it), Loop with a run-time condition and a constant trip count (stopping at
different iterations), Loop with scan outputs, Scan with reversed directions
and other axes, a Loop body holding an If that reads the body's values, and a
sequence input mapped with SequenceMap and concatenated. Each case runs under
`nncc run` with the inputs as .pb files (a SequenceProto for sequences)."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

F = T.FLOAT


def model(nodes, inputs, outputs, inits=(), opset=17):
    g = h.make_graph(nodes, "cf", inputs, outputs, list(inits))
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)], ir_version=8)


def vi(name, t, shape):
    return h.make_tensor_value_info(name, t, shape)


def const(name, value):
    return nh.from_array(np.asarray(value), name)


def runtime_if():
    then = h.make_graph([h.make_node("Mul", ["x", "x"], ["t"])], "then", [], [vi("t", F, [2, 3])])
    els = h.make_graph([h.make_node("Neg", ["x"], ["e"])], "else", [], [vi("e", F, [2, 3])])
    m = model([h.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
               h.make_node("Greater", ["s", "zero"], ["c"]),
               h.make_node("If", ["c"], ["y"], then_branch=then, else_branch=els)],
              [vi("x", F, [2, 3])], [vi("y", F, [2, 3])], [const("zero", np.float32(0))])
    rng = np.random.default_rng(1)
    for sign in (1, -1):
        yield f"If, run-time condition {'true' if sign > 0 else 'false'}", m, \
            {"x": (sign * (np.abs(rng.standard_normal((2, 3))) + 0.1)).astype(np.float32)}


def masked_loop():
    # while (i < 8 && sum(acc) < limit) { v = v * 1.5; acc += v }
    body = h.make_graph([
        h.make_node("Mul", ["v", "k"], ["v2"]),
        h.make_node("Add", ["acc", "v2"], ["acc2"]),
        h.make_node("ReduceSum", ["acc2"], ["s"], keepdims=0),
        h.make_node("Less", ["s", "limit"], ["c2"])], "body",
        [vi("i", T.INT64, []), vi("c", T.BOOL, []), vi("v", F, [4]), vi("acc", F, [4])],
        [vi("c2", T.BOOL, []), vi("v2", F, [4]), vi("acc2", F, [4])])
    m = model([h.make_node("Loop", ["M", "go", "x", "zeros"], ["vf", "accf"], body=body)],
              [vi("x", F, [4]), vi("go", T.BOOL, []), vi("limit", F, [])],
              [vi("vf", F, [4]), vi("accf", F, [4])],
              [const("M", np.int64(8)), const("k", np.float32(1.5)), const("zeros", np.zeros(4, np.float32))])
    rng = np.random.default_rng(2)
    for go, limit in [(True, 5.0), (True, 40.0), (True, 1e9), (False, 40.0)]:
        x = rng.random(4).astype(np.float32) + 0.5
        yield f"Loop, run-time condition go={go} limit={limit:g}", m, \
            {"x": x, "go": np.array(go), "limit": np.array(limit, np.float32)}


def scan_loop_with_if():
    # for i in 0..4: v = (i % 2 == 0) ? v + x : v * 0.5 (an If reading body values); scan v
    then = h.make_graph([h.make_node("Add", ["v", "x"], ["t"])], "then", [], [vi("t", F, [3])])
    els = h.make_graph([h.make_node("Mul", ["v", "half"], ["e"])], "else", [], [vi("e", F, [3])])
    body = h.make_graph([
        h.make_node("Mod", ["i", "two"], ["r"]),
        h.make_node("Equal", ["r", "zero"], ["even"]),
        h.make_node("If", ["even"], ["v2"], then_branch=then, else_branch=els),
        h.make_node("Identity", ["c"], ["c2"]),
        h.make_node("Identity", ["v2"], ["scan"])], "body",
        [vi("i", T.INT64, []), vi("c", T.BOOL, []), vi("v", F, [3])],
        [vi("c2", T.BOOL, []), vi("v2", F, [3]), vi("scan", F, [3])])
    m = model([h.make_node("Loop", ["M", "", "x"], ["vf", "all"], body=body)],
              [vi("x", F, [3])], [vi("vf", F, [3]), vi("all", F, [5, 3])],
              [const("M", np.int64(5)), const("two", np.int64(2)), const("zero", np.int64(0)),
               const("half", np.float32(0.5))])
    yield "Loop with scan output and a nested If", m, \
        {"x": np.random.default_rng(3).standard_normal(3).astype(np.float32)}


def scan_directions():
    # running max over axis 1 of a, reversed; running sum over axis 0 of b
    body = h.make_graph([
        h.make_node("Max", ["m", "a"], ["m2"]),
        h.make_node("Add", ["s", "b"], ["s2"]),
        h.make_node("Identity", ["m2"], ["mo"]),
        h.make_node("Identity", ["s2"], ["so"])], "body",
        [vi("m", F, [2]), vi("s", F, [3]), vi("a", F, [2]), vi("b", F, [3])],
        [vi("m2", F, [2]), vi("s2", F, [3]), vi("mo", F, [2]), vi("so", F, [3])])
    node = h.make_node("Scan", ["m0", "s0", "A", "B"], ["mf", "sf", "ms", "ss"], body=body,
                       num_scan_inputs=2, scan_input_axes=[1, 0], scan_input_directions=[1, 0],
                       scan_output_axes=[1, 0], scan_output_directions=[0, 1])
    m = model([node], [vi("A", F, [2, 4]), vi("B", F, [4, 3])],
              [vi("mf", F, [2]), vi("sf", F, [3]), vi("ms", F, [2, 4]), vi("ss", F, [4, 3])],
              [const("m0", np.full(2, -1e9, np.float32)), const("s0", np.zeros(3, np.float32))])
    rng = np.random.default_rng(4)
    yield "Scan with axes and directions", m, \
        {"A": rng.standard_normal((2, 4)).astype(np.float32), "B": rng.standard_normal((4, 3)).astype(np.float32)}


def sequence_map():
    body = h.make_graph([h.make_node("Mul", ["e", "w"], ["y"]), h.make_node("ReduceSum", ["y"], ["r"], keepdims=1)],
                        "map", [vi("e", F, [3]), vi("w", F, [3])], [vi("r", F, [1])])
    m = model([h.make_node("SequenceMap", ["seq", "w"], ["sums"], body=body),
               h.make_node("ConcatFromSequence", ["sums"], ["y"], axis=0)],
              [h.make_tensor_sequence_value_info("seq", F, [3]), vi("w", F, [3])], [vi("y", F, [4])])
    rng = np.random.default_rng(5)
    yield "SequenceMap over a sequence input", m, \
        {"seq": [rng.standard_normal(3).astype(np.float32) for _ in range(4)],
         "w": rng.standard_normal(3).astype(np.float32)}


def write(path, name, value):
    """A TensorProto, or a SequenceProto for a list."""
    proto = nh.from_list(value, name) if isinstance(value, list) else nh.from_array(value, name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def run_case(nncc, title, m, feeds, tmp):
    d = tempfile.mkdtemp(dir=tmp)
    path = os.path.join(d, "model.onnx")
    onnx.save(m, path)
    want = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)
    cmd = [nncc, "run", path, "--output-dir", os.path.join(d, "out")]
    for name, value in feeds.items():
        p = os.path.join(d, name + ".pb")
        write(p, name, value)
        cmd += ["--input", f"{name}={p}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return "nncc run failed: " + r.stderr.strip()[-400:]
    for i, w in enumerate(want):
        got = np.load(os.path.join(d, "out", f"output_{i}.npy"))
        if got.shape != w.shape or not np.allclose(got, w, rtol=1e-5, atol=1e-5):
            return f"output {i}: {got.tolist()} != {w.tolist()}"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    args = ap.parse_args()
    failed = 0
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for gen in (runtime_if, masked_loop, scan_loop_with_if, scan_directions, sequence_map):
            for title, m, feeds in gen():
                total += 1
                why = run_case(args.nncc, title, m, feeds, tmp)
                print(f"{title}: {'ok' if not why else 'FAIL: ' + why}")
                failed += why is not None
    print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
