#!/usr/bin/env python3
"""Sampling, geometry and signal ops through `nncc run`, compared with
onnxruntime (or, where onnxruntime lacks a form, onnx's reference evaluator).

Usage: sampling_ops.py --nncc PATH [--filter REGEX] [--keep DIR] [--no-cc]

The backend suite's cases for GridSample, AffineGrid, RoiAlign, MaxUnpool,
Col2Im, DeformConv, DFT, STFT, the windows and MelWeightMatrix are tiny;
these are larger, random, and reach every mode, padding, attribute and
opset form: grid points far outside the image, adaptive RoiAlign grids,
grouped DeformConv with strides and dilations, MaxPool indices fed to
MaxUnpool, DFT lengths that pad and truncate, and MaxRoiPool, which the
suite does not test. Each model's C must also build with gcc and clang
under -std=c11 -Wall -Wextra -Werror.

The last line printed is `N passed, M failed`; the exit status is 1 when
any case fails.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_ort  # noqa: E402
import recurrent_models  # noqa: E402  (check_c: the gcc/clang build)

IR_VERSION = 8


class Case:
    """A model, its feeds, and what computes the expected outputs: "ort" or
    "onnx" (the reference evaluator, on ref_model when given)."""

    def __init__(self, name, model, feeds, ref="ort", tol=1e-4, ref_model=None):
        self.name, self.model, self.feeds, self.ref, self.tol = name, model, feeds, ref, tol
        self.ref_model = ref_model or model


def model(node, feeds, outputs, opset, inits=(), out_dtype=None):
    """A graph of node (or a list of nodes): feeds become inputs, inits
    initializers; outputs have the first feed's dtype unless out_dtype."""
    ins = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
           for k, v in feeds.items()]
    if out_dtype is None:
        out_dtype = next(iter(feeds.values())).dtype if feeds else np.float32
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(out_dtype))
    outs = [helper.make_tensor_value_info(o, elem, None) for o in outputs]
    inits = [numpy_helper.from_array(v, k) for k, v in inits]
    graph = helper.make_graph([node] if not isinstance(node, list) else node, "g", ins, outs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = IR_VERSION
    return m


def grid_sample_cases(rng):
    cases = []
    x2 = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    g2 = rng.uniform(-1.4, 1.4, (2, 4, 6, 2)).astype(np.float32)
    g2[0, 0, :3] = [[-1, -1], [1, 1], [3.7, -2.9]]  # corners, and far outside
    x3 = rng.standard_normal((1, 2, 3, 4, 5)).astype(np.float32)
    g3 = rng.uniform(-1.3, 1.3, (1, 2, 3, 4, 3)).astype(np.float32)
    for mode in ("linear", "nearest", "cubic"):
        for pad in ("zeros", "border", "reflection"):
            for align in (0, 1):
                name = f"gridsample_{mode}_{pad}_align{align}"
                node = helper.make_node("GridSample", ["X", "G"], ["Y"], mode=mode,
                                        padding_mode=pad, align_corners=align)
                # onnxruntime pads cubic taps as PyTorch does, without first
                # clipping the point as the ONNX reference (and nncc) does
                ref = "onnx" if mode == "cubic" and pad != "zeros" else "ort"
                cases.append(Case(name, model(node, {"X": x2, "G": g2}, ["Y"], 20),
                                  {"X": x2, "G": g2}, ref=ref))
                if mode != "cubic":  # onnxruntime has no volumetric GridSample
                    cases.append(Case(name + "_3d", model(node, {"X": x3, "G": g3}, ["Y"], 20),
                                      {"X": x3, "G": g3}, ref="onnx"))
    old = {"linear": "bilinear", "cubic": "bicubic", "nearest": "nearest"}
    for new, mode in old.items():  # opset 16's names, float64; the evaluator knows opset 20's
        node = helper.make_node("GridSample", ["X", "G"], ["Y"], mode=mode, padding_mode="border")
        node20 = helper.make_node("GridSample", ["X", "G"], ["Y"], mode=new, padding_mode="border")
        f = {"X": x2.astype(np.float64), "G": g2.astype(np.float64)}
        cases.append(Case(f"gridsample_opset16_{mode}_f64", model(node, f, ["Y"], 16), f, ref="onnx",
                          ref_model=model(node20, f, ["Y"], 20)))
    f = {"X": x2.astype(np.float16), "G": g2.astype(np.float16)}  # computed in float32
    node = helper.make_node("GridSample", ["X", "G"], ["Y"], mode="cubic")
    cases.append(Case("gridsample_f16", model(node, f, ["Y"], 20), f, ref="onnx", tol=2e-3))
    return cases


def affine_grid_cases(rng):
    cases = []
    for r, size in ((2, [2, 3, 5, 6]), (3, [2, 1, 3, 4, 5])):
        theta = rng.standard_normal((2, r, r + 1)).astype(np.float32)
        for align in (0, 1):
            node = helper.make_node("AffineGrid", ["theta", "size"], ["grid"], align_corners=align)
            m = model(node, {"theta": theta}, ["grid"], 20, [("size", np.array(size, np.int64))])
            cases.append(Case(f"affine_grid_{r}d_align{align}", m, {"theta": theta}, ref="onnx"))
    # AffineGrid feeding GridSample: a rotation, as a spatial transformer does
    theta = np.array([[[0.8, -0.6, 0.1], [0.6, 0.8, -0.2]]], np.float32)
    x = rng.standard_normal((1, 2, 6, 8)).astype(np.float32)
    nodes = [helper.make_node("AffineGrid", ["theta", "size"], ["g"]),
             helper.make_node("GridSample", ["X", "g"], ["Y"])]
    m = model(nodes, {"X": x}, ["Y"], 20,
              [("theta", theta), ("size", np.array([1, 2, 5, 7], np.int64))])
    cases.append(Case("affine_grid_into_gridsample", m, {"X": x}))
    return cases


def deform_conv_cases(rng):
    cases = []
    x = rng.standard_normal((2, 4, 7, 8)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 2)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    s, d, pads = (2, 1), (1, 2), (1, 0, 1, 2)
    oh = (7 + pads[0] + pads[2] - (3 - 1) * d[0] - 1) // s[0] + 1
    ow = (8 + pads[1] + pads[3] - (2 - 1) * d[1] - 1) // s[1] + 1
    off = (rng.standard_normal((2, 2 * 2 * 3 * 2, oh, ow)) * 1.5).astype(np.float32)
    mask = rng.uniform(0, 1, (2, 2 * 3 * 2, oh, ow)).astype(np.float32)
    node = helper.make_node("DeformConv", ["X", "W", "offset", "B", "mask"], ["Y"], group=2,
                            offset_group=2, strides=s, dilations=d, pads=pads, kernel_shape=[3, 2])
    f = {"X": x, "W": w, "offset": off, "B": b, "mask": mask}
    cases.append(Case("deform_conv_grouped", model(node, f, ["Y"], 19), f, ref="onnx"))
    node = helper.make_node("DeformConv", ["X", "W", "offset"], ["Y"])
    w1 = rng.standard_normal((3, 4, 2, 2)).astype(np.float32)
    off1 = (rng.standard_normal((2, 8, 6, 7)) * 3).astype(np.float32)
    f = {"X": x, "W": w1, "offset": off1}
    cases.append(Case("deform_conv_plain", model(node, f, ["Y"], 19), f, ref="onnx"))
    return cases


def col2im_cases(rng):
    cases = []
    # 2-D with every attribute: image 7x9, block 3x2, dilations, pads, strides
    img, blk, dil, pads, st = [7, 9], [3, 2], [2, 1], [1, 2, 0, 1], [1, 2]
    nb = [(img[i] + pads[i] + pads[i + 2] - dil[i] * (blk[i] - 1) - 1) // st[i] + 1 for i in range(2)]
    x = rng.standard_normal((2, 3 * 6, nb[0] * nb[1])).astype(np.float32)
    node = helper.make_node("Col2Im", ["x", "image_shape", "block_shape"], ["y"], dilations=dil,
                            pads=pads, strides=st)
    m = model(node, {"x": x}, ["y"], 18, [("image_shape", np.array(img, np.int64)),
                                          ("block_shape", np.array(blk, np.int64))])
    cases.append(Case("col2im_2d_all_attributes", m, {"x": x}))
    x = rng.standard_normal((1, 2 * 8, 2 * 3 * 2)).astype(np.float32)
    node = helper.make_node("Col2Im", ["x", "image_shape", "block_shape"], ["y"])
    m = model(node, {"x": x}, ["y"], 18, [("image_shape", np.array([3, 4, 3], np.int64)),
                                          ("block_shape", np.array([2, 2, 2], np.int64))])
    cases.append(Case("col2im_3d", m, {"x": x}, ref="onnx"))
    return cases


def max_unpool_cases(rng):
    """MaxPool's indices fed back. The pools are chosen so the unpooled shape
    is X's: indices address that shape, and a larger output_shape holds it
    in its leading corner (the reference's reading, which the suite follows;
    onnxruntime would index output_shape instead)."""
    cases = []
    for name, shape, attrs, out_shape in (
            ("plain", (2, 3, 8, 9), {"kernel_shape": [2, 3], "strides": [2, 3]}, None),
            ("pads", (2, 3, 7, 9), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, None),
            ("output_shape", (1, 2, 8, 10), {"kernel_shape": [2, 2], "strides": [2, 2]}, [1, 2, 9, 11])):
        x = rng.standard_normal(shape).astype(np.float32)
        ins = ["p", "i"] + (["shape"] if out_shape else [])
        nodes = [helper.make_node("MaxPool", ["X"], ["p", "i"], **attrs),
                 helper.make_node("MaxUnpool", ins, ["Y"], **attrs)]
        inits = [("shape", np.array(out_shape, np.int64))] if out_shape else []
        cases.append(Case(f"maxunpool_{name}", model(nodes, {"X": x}, ["Y"], 11, inits), {"X": x},
                          ref="onnx"))
    return cases


def roi_cases(rng):
    cases = []
    x = rng.standard_normal((2, 3, 12, 10)).astype(np.float32)
    rois = np.array([[0, 0, 9, 11], [1.5, 2.2, 6.1, 4.3], [3, 3, 3.4, 3.2], [-2, -1, 12, 15],
                     [5.5, 8.0, 2.0, 1.0]], np.float32)
    bi = np.array([0, 1, 1, 0, 1], np.int64)
    f = {"X": x, "rois": rois, "batch_indices": bi}
    for mode in ("avg", "max"):
        for ctm in ("half_pixel", "output_half_pixel"):
            for ratio in (0, 3):
                node = helper.make_node("RoiAlign", ["X", "rois", "batch_indices"], ["Y"], mode=mode,
                                        coordinate_transformation_mode=ctm, output_height=3,
                                        output_width=4, sampling_ratio=ratio, spatial_scale=0.8)
                cases.append(Case(f"roialign_{mode}_{ctm}_ratio{ratio}", model(node, f, ["Y"], 16), f))
    node = helper.make_node("RoiAlign", ["X", "rois", "batch_indices"], ["Y"], output_height=2,
                            output_width=2)
    cases.append(Case("roialign_opset10_defaults", model(node, f, ["Y"], 10), f))
    rois5 = np.array([[0, 0, 0, 9, 11], [1, 1.6, 2.2, 6.1, 4.3], [1, 3, 3, 3, 3],
                      [0, -4, -2, 30, 40], [1, 8, 9, 2, 1]], np.float32)
    for scale, shape in ((1.0, [2, 2]), (0.5, [3, 4])):
        node = helper.make_node("MaxRoiPool", ["X", "rois"], ["Y"], pooled_shape=shape,
                                spatial_scale=scale)
        f = {"X": x, "rois": rois5}
        cases.append(Case(f"maxroipool_scale{scale}", model(node, f, ["Y"], 1), f))
    return cases


def dft_cases(rng):
    cases = []
    real = rng.standard_normal((2, 6, 5, 1)).astype(np.float32)
    cplx = rng.standard_normal((2, 6, 5, 2)).astype(np.float32)
    for opset in (17, 20):
        for x, kind in ((real, "real"), (cplx, "complex")):
            for axis in (1, 2, -2):
                for length in (None, 4, 9):
                    for onesided, inverse in ((0, 0), (1, 0), (0, 1)):
                        if onesided and kind == "complex":
                            continue
                        if opset == 17 and axis < 0:
                            continue
                        ins, inits = ["x", "len" if length else ""], []
                        attrs = {"onesided": onesided, "inverse": inverse}
                        if length:
                            inits.append(("len", np.array(length, np.int64)))
                        if opset == 20:
                            ins.append("axis")
                            inits.append(("axis", np.array(axis, np.int64)))
                        else:
                            attrs["axis"] = axis
                        node = helper.make_node("DFT", ins, ["y"], **attrs)
                        name = f"dft_opset{opset}_{kind}_axis{axis}_len{length}_one{onesided}_inv{inverse}"
                        cases.append(Case(name, model(node, {"x": x}, ["y"], opset, inits), {"x": x},
                                          ref="onnx"))
    long = rng.standard_normal((1, 64, 1)).astype(np.float64)  # float64, and against onnxruntime
    node = helper.make_node("DFT", ["x"], ["y"], axis=1)
    cases.append(Case("dft_f64_ort", model(node, {"x": long}, ["y"], 17), {"x": long}))
    return cases


def stft_cases(rng):
    cases = []
    sig = rng.standard_normal((2, 50, 1)).astype(np.float32)
    win = rng.uniform(0, 1, 12).astype(np.float32)
    for onesided in (0, 1):
        node = helper.make_node("STFT", ["x", "step", "w"], ["y"], onesided=onesided)
        m = model(node, {"x": sig, "w": win}, ["y"], 17, [("step", np.array(5, np.int64))])
        cases.append(Case(f"stft_window_onesided{onesided}", m, {"x": sig, "w": win}))
    node = helper.make_node("STFT", ["x", "step", "", "len"], ["y"])
    m = model(node, {"x": sig.astype(np.float64)}, ["y"], 17,
              [("step", np.array(7, np.int64)), ("len", np.array(16, np.int64))])
    cases.append(Case("stft_frame_length_f64", m, {"x": sig.astype(np.float64)}))
    cplx = rng.standard_normal((1, 40, 2)).astype(np.float32)
    node = helper.make_node("STFT", ["x", "step", "", "len"], ["y"], onesided=0)
    m = model(node, {"x": cplx}, ["y"], 17, [("step", np.array(6, np.int64)), ("len", np.array(10, np.int64))])
    cases.append(Case("stft_complex", m, {"x": cplx}, ref="onnx"))
    return cases


def generator_cases(rng):
    cases = []
    for op in ("HannWindow", "HammingWindow", "BlackmanWindow"):
        for periodic in (0, 1):
            node = helper.make_node(op, ["n"], ["y"], periodic=periodic, output_datatype=TensorProto.DOUBLE)
            m = model(node, {}, ["y"], 17, [("n", np.array(33, np.int64))], np.float64)
            cases.append(Case(f"{op}_periodic{periodic}_f64", m, {}))
        # folded: the window becomes a weight the Mul reads
        x = rng.standard_normal(20).astype(np.float32)
        nodes = [helper.make_node(op, ["n"], ["w"]), helper.make_node("Mul", ["x", "w"], ["y"])]
        m = model(nodes, {"x": x}, ["y"], 17, [("n", np.array(20, np.int32))])
        cases.append(Case(f"{op}_folded", m, {"x": x}))
    node = helper.make_node("HannWindow", ["n"], ["y"], output_datatype=TensorProto.FLOAT16)
    m = model(node, {}, ["y"], 17, [("n", np.array(16, np.int64))], np.float16)
    # the reference computes in float16 itself; nncc rounds the exact value once
    cases.append(Case("HannWindow_f16", m, {}, ref="onnx", tol=4e-3))
    for bins, length, rate, lo, hi in ((8, 16, 8192, 0.0, 4096.0), (20, 512, 16000, 30.0, 7600.0)):
        node = helper.make_node("MelWeightMatrix", ["b", "l", "r", "lo", "hi"], ["y"])
        inits = [("b", np.array(bins, np.int64)), ("l", np.array(length, np.int64)),
                 ("r", np.array(rate, np.int64)), ("lo", np.array(lo, np.float32)),
                 ("hi", np.array(hi, np.float32))]
        cases.append(Case(f"melweightmatrix_{bins}_{length}", model(node, {}, ["y"], 17, inits), {},
                          ref="onnx"))
    return cases


def error_cases():
    """(name, model, texts): models nncc must refuse with one error naming
    the node and saying what is wrong."""
    f32 = np.zeros((1, 1, 4, 4), np.float32)
    out = []

    def add(name, node, feeds, inits, texts, opset=20):
        node.name = "bad_" + name
        out.append((name, model(node, feeds, ["y"], opset, inits), ["'bad_" + name + "'", *texts]))

    add("gridsample_mode", helper.make_node("GridSample", ["x", "g"], ["y"], mode="area"),
        {"x": f32, "g": np.zeros((1, 2, 2, 2), np.float32)}, [], ["unknown mode 'area'"])
    add("gridsample_grid", helper.make_node("GridSample", ["x", "g"], ["y"]),
        {"x": f32, "g": np.zeros((1, 2, 2, 3), np.float32)}, [], ["does not match X"])
    add("affine_grid_theta", helper.make_node("AffineGrid", ["t", "size"], ["y"]),
        {"t": np.zeros((2, 3, 4), np.float32)}, [("size", np.array([2, 1, 4, 4], np.int64))],
        ["theta [2,3,4]"])
    add("col2im_blocks", helper.make_node("Col2Im", ["x", "i", "b"], ["y"]),
        {"x": np.zeros((1, 4, 7), np.float32)},
        [("i", np.array([4, 4], np.int64)), ("b", np.array([2, 2], np.int64))], ["equal 9 blocks"])
    add("dft_axis", helper.make_node("DFT", ["x", "", "a"], ["y"]), {"x": np.zeros((1, 8, 2), np.float32)},
        [("a", np.array(-1, np.int64))], ["real/imaginary dimension"])
    add("stft_frame", helper.make_node("STFT", ["x", "s", "", "l"], ["y"]),
        {"x": np.zeros((1, 8, 1), np.float32)},
        [("s", np.array(2, np.int64)), ("l", np.array(9, np.int64))], ["between 1 and the signal length 8"],
        opset=17)
    add("roialign_mode", helper.make_node("RoiAlign", ["x", "r", "b"], ["y"], mode="mean"),
        {"x": f32, "r": np.zeros((1, 4), np.float32), "b": np.zeros(1, np.int64)}, [],
        ["unknown mode 'mean'"], opset=16)
    add("window_size", helper.make_node("HannWindow", ["n"], ["y"]), {"n": np.array(4, np.int64)}, [],
        ["must be known at compile time", "--freeze n=FILE"], opset=17)
    return out


def check_error(nncc, name, m, texts, work):
    """nncc refuses m: status 1, every text in its errors, no output left."""
    os.makedirs(work, exist_ok=True)
    path, c = os.path.join(work, "model.onnx"), os.path.join(work, "m.c")
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    r = subprocess.run([nncc, path, "-o", c], capture_output=True, text=True, timeout=60)
    errors = "\n".join(l for l in r.stderr.splitlines() if l.startswith("nncc: error:"))
    problems = [f"status {r.returncode}, want 1"] if r.returncode != 1 else []
    problems += [f"no error mentions {t!r}" for t in texts if t not in errors]
    problems += ["left m.c behind"] if os.path.exists(c) else []
    print(f"error {name}: {'; '.join(problems) or 'ok'}")
    if problems:
        print("  stderr:", r.stderr.strip())
    return not problems


def reference(case, work):
    """Output names and values from onnxruntime or onnx's evaluator."""
    if case.ref == "ort":
        path = os.path.join(work, "model.onnx")
        return compare_ort.run_ort(path, case.feeds)
    ev = ReferenceEvaluator(case.ref_model)
    names = [o.name for o in case.ref_model.graph.output]
    return names, ev.run(None, case.feeds)


def run_case(nncc, case, work, cc):
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "model.onnx")
    with open(path, "wb") as f:
        f.write(case.model.SerializeToString())
    names, refs = reference(case, work)
    files = {}
    for i, (name, val) in enumerate(case.feeds.items()):
        files[name] = os.path.join(work, f"input_{i}.npy")
        np.save(files[name], val)
    outdir = os.path.join(work, "out")
    os.makedirs(outdir, exist_ok=True)
    try:
        got = compare_ort.run_nncc(nncc, path, files, outdir, len(refs), 300)
    except SystemExit:
        return False
    ok = all([compare_ort.compare(n, g, np.asarray(r), case.tol) for n, g, r in zip(names, got, refs)])
    if cc:
        why = recurrent_models.check_c(nncc, path, work)
        if why:
            print(f"generated C: {why}")
            ok = False
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--filter", default="", help="only cases whose name matches REGEX")
    ap.add_argument("--keep", help="write models and outputs under this directory")
    ap.add_argument("--no-cc", action="store_true", help="skip the gcc/clang build check")
    args = ap.parse_args()
    tmp = args.keep or tempfile.mkdtemp(prefix="nncc_sampling_")
    rng = np.random.default_rng(7)
    cases = (grid_sample_cases(rng) + affine_grid_cases(rng) + deform_conv_cases(rng) +
             col2im_cases(rng) + max_unpool_cases(rng) + roi_cases(rng) + dft_cases(rng) +
             stft_cases(rng) + generator_cases(rng))
    passed = failed = 0
    for case in cases:
        if not re.search(args.filter, case.name):
            continue
        print(f"== {case.name}", flush=True)
        if run_case(args.nncc, case, os.path.join(tmp, case.name), not args.no_cc):
            passed += 1
        else:
            failed += 1
            print(f"FAIL {case.name}")
    for name, m, texts in error_cases():
        if not re.search(args.filter, "error_" + name):
            continue
        print(f"== error_{name}", flush=True)
        if check_error(args.nncc, name, m, texts, os.path.join(tmp, "error_" + name)):
            passed += 1
        else:
            failed += 1
            print(f"FAIL error_{name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
