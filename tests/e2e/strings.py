#!/usr/bin/env python3
"""String tensors against onnxruntime, beyond the ONNX suite's examples:
StringConcat, StringSplit, StringNormalizer, RegexFullMatch, Equal and
LabelEncoder on strings, string weights, strings copied through data
movement ops after the op that made them (their bytes live in the arena's
string room), UTF-8, all built with -Wall -Wextra -Werror ($CC, so CC=clang
checks clang too); then the promises of the contract: a string longer than
--string-bytes makes the run fail (status 1 from the entry point), and an
unsupported regular expression is a compile error naming the node."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

S = TensorProto.STRING


def model(nodes, inputs, outputs, inits=(), opset=20):
    g = helper.make_graph(nodes, "strings", inputs, outputs, initializer=list(inits))
    ops = [helper.make_opsetid("", opset), helper.make_opsetid("ai.onnx.ml", 4)]
    return helper.make_model(g, opset_imports=ops, ir_version=9)


def vi(name, t, shape):
    return helper.make_tensor_value_info(name, t, shape)


def strs(*values, shape=None):
    a = np.array(values, dtype=object)
    return a.reshape(shape) if shape else a


def const(name, values):
    return numpy_helper.from_array(np.array(values, dtype=object), name)


WORDS = strs("Hello World.", "  spaced   out  ", "a.b.c", "", "caf\u00e9 \u00c4rger", "\u7684\u4e2d.x",
             shape=(2, 3))


def cases():
    # Concat with a constant, then the results moved around by other ops.
    yield "concat, weight, transpose, reshape, gather", model(
        [helper.make_node("StringConcat", ["x", "bang"], ["c"]),
         helper.make_node("Transpose", ["c"], ["t"], perm=[1, 0]),
         helper.make_node("Reshape", ["t", "shape"], ["r"]),
         helper.make_node("Gather", ["r", "idx"], ["g"]),
         helper.make_node("Identity", ["c"], ["c_out"])],
        [vi("x", S, [2, 3])], [vi("g", S, [4]), vi("c_out", S, [2, 3])],
        [const("bang", ["!"]), numpy_helper.from_array(np.array([6], np.int64), "shape"),
         numpy_helper.from_array(np.array([5, 0, 3, 0], np.int64), "idx")]), {"x": WORDS}
    i64 = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
    moves = [
        ("Concat", [helper.make_node("Concat", ["x", "x"], ["y"], axis=1)], []),
        ("Slice", [helper.make_node("Slice", ["x", "st", "en"], ["y"])], [i64("st", [0, 1]), i64("en", [2, 3])]),
        ("Squeeze/Unsqueeze", [helper.make_node("Unsqueeze", ["x", "ax"], ["u"]),
                               helper.make_node("Squeeze", ["u", "ax"], ["y"])], [i64("ax", [1])]),
        ("Flatten", [helper.make_node("Flatten", ["x"], ["y"], axis=0)], []),
        ("Expand", [helper.make_node("Expand", ["x", "sh"], ["y"])], [i64("sh", [2, 2, 3])]),
        ("Tile", [helper.make_node("Tile", ["x", "rep"], ["y"])], [i64("rep", [2, 2])]),
        ("Split", [helper.make_node("Split", ["x", "sp"], ["y", "y2"], axis=1)], [i64("sp", [1, 2])]),
        ("GatherElements", [helper.make_node("GatherElements", ["x", "ix"], ["y"], axis=1)],
         [i64("ix", [[2, 0, 1], [1, 1, 0]])]),
        ("GatherND", [helper.make_node("GatherND", ["x", "ix"], ["y"])], [i64("ix", [[1, 2], [0, 0]])]),
    ]
    for name, nodes, inits in moves:
        outs = [vi("y", S, None)] + ([vi("y2", S, None)] if name == "Split" else [])
        yield f"{name} of made strings", model(
            [helper.make_node("StringConcat", ["w", "bang"], ["x"])] + nodes, [vi("w", S, [2, 3])], outs,
            [const("bang", ["?"])] + inits), {"w": WORDS}
    yield "Constant string node", model(
        [helper.make_node("Constant", [], ["k"], value=helper.make_tensor("v", S, [3], [b"<", b"\xc3\xa9", b""])),
         helper.make_node("StringConcat", ["k", "x"], ["y"])],
        [vi("x", S, [2, 3])], [vi("y", S, [2, 3])]), {"x": WORDS}
    yield "Where on strings", model(
        [helper.make_node("Equal", ["x", "k"], ["c"]), helper.make_node("Where", ["c", "x", "k"], ["y"])],
        [vi("x", S, [2, 3])], [vi("y", S, [2, 3])], [const("k", ["a.b.c", "", "x"])]), {"x": WORDS}
    yield "concat broadcast of two inputs (.npy inputs)", model(
        [helper.make_node("StringConcat", ["x", "y"], ["c"])],
        [vi("x", S, [2, 3]), vi("y", S, [3])], [vi("c", S, [2, 3])]), \
        {"x": WORDS, "y": strs("-1", "", "\u00e9")}
    for kw in [{"delimiter": "."}, {"delimiter": " ", "maxsplit": 1}, {}, {"maxsplit": 1},
               {"delimiter": "ab"}]:
        yield f"split {kw}", model(
            [helper.make_node("StringSplit", ["x"], ["y", "n"], **kw)],
            [vi("x", S, [2, 3])], [vi("y", S, None), vi("n", TensorProto.INT64, [2, 3])]), {"x": WORDS}
    # onnxruntime needs the named locale installed (en_US.UTF-8 by default):
    # the C locale changes ASCII letters only, and leaves "Ärger" alone.
    line = strs("The", "quick", "BROWN", "fox", "the", "\u00c4rger", "dog")
    for kw in [{"case_change_action": "LOWER"}, {"case_change_action": "UPPER"},
               {"stopwords": ["the", "dog"], "is_case_sensitive": 0, "case_change_action": "UPPER"},
               {"stopwords": ["the", "dog"], "is_case_sensitive": 1}]:
        for shape in [[7], [1, 7]]:
            yield f"normalizer {kw} {shape}", model(
                [helper.make_node("StringNormalizer", ["x"], ["y"], locale="C", **kw)],
                [vi("x", S, shape)], [vi("y", S, None)]), {"x": line.reshape(shape)}
    emails = strs("someone@gmail.com", "x.y-z@yahoo.com", "bad@hotmail.com", "no at sign", "",
                  "ab12", "AB12", "2024-01-31", "www.example.co.uk", "caf\u00e9")
    for pattern in [r"(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)", r"[a-z]+\d*", r"(?:[A-Z]{2}|[a-z]{2})\d{2}",
                    r"\d{4}-\d{2}-\d{2}", r"www\.[\w.-]+\.(com|co\.uk)", r"caf.", r"[^@]*", r".*\bco\b.*", r"[a-z]*/?.*"]:
        yield f"regex {pattern}", model(
            [helper.make_node("RegexFullMatch", ["x"], ["y"], pattern=pattern)],
            [vi("x", S, [10])], [vi("y", TensorProto.BOOL, [10])]), {"x": emails}
    yield "equal with a constant, broadcast", model(
        [helper.make_node("Equal", ["x", "k"], ["y"])],
        [vi("x", S, [2, 3])], [vi("y", TensorProto.BOOL, [2, 3])], [const("k", ["a.b.c", "", "x"])]), {"x": WORDS}
    yield "label encoder int64 -> string", model(
        [helper.make_node("LabelEncoder", ["x"], ["y"], domain="ai.onnx.ml", keys_int64s=[1, 2, 3],
                          values_strings=["one", "two", "tr\u00e9s"], default_string="none")],
        [vi("x", TensorProto.INT64, [5])], [vi("y", S, [5])]), {"x": np.array([3, 1, 7, 2, 2], np.int64)}
    yield "label encoder string -> float", model(
        [helper.make_node("LabelEncoder", ["x"], ["y"], domain="ai.onnx.ml", keys_strings=["a.b.c", "", "Hello World"],
                          values_floats=[0.5, -1.0, 2.25], default_float=9.0)],
        [vi("x", S, [2, 3])], [vi("y", TensorProto.FLOAT, [2, 3])]), {"x": WORDS}


def run_nncc(nncc, path, feeds, work, extra=(), npy=False):
    """Inputs as TensorProto .pb, or as .npy (strings: NumPy unicode)."""
    out = os.path.join(work, "out")
    args = [nncc, "run", path, "--output-dir", out, *extra]
    for k, v in feeds.items():
        f = os.path.join(work, k + (".npy" if npy else ".pb"))
        if npy:
            np.save(f, v.astype(str) if v.dtype == object else v)
        else:
            with open(f, "wb") as fh:
                fh.write(numpy_helper.from_array(v, k).SerializeToString())
        args += ["--input", f"{k}={f}"]
    # The generated C (and the run harness) must build warning-free.
    # A failed run keeps its build directory: keep it inside work.
    env = dict(os.environ, NNCC_CFLAGS=os.environ.get("NNCC_CFLAGS", "-O1 -Wall -Wextra -Werror"),
               TMPDIR=work)
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    if p.returncode:
        return None, p
    n = len([f for f in os.listdir(out) if f.endswith(".npy")])
    return [np.load(os.path.join(out, f"output_{i}.npy")) for i in range(n)], p


def same(got, want):
    if want.dtype == object:  # nncc writes strings as NumPy unicode
        return got.dtype.kind == "U" and got.shape == want.shape and \
            all(a == b for a, b in zip(got.ravel().tolist(), want.ravel().tolist()))
    return got.shape == want.shape and np.array_equal(got, want)


def check_export(nncc, work):
    """nncc export keeps string weights as string_data: same results under onnxruntime."""
    name, m, feeds = next(cases())
    src, dst = os.path.join(work, "src.onnx"), os.path.join(work, "exported.onnx")
    onnx.save(m, src)
    p = subprocess.run([nncc, "export", src, "-o", dst], capture_output=True, text=True)
    if p.returncode:
        print(f"FAIL export: {p.stderr.strip()}")
        return 1
    onnx.checker.check_model(onnx.load(dst))
    a = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, feeds)
    b = ort.InferenceSession(dst, providers=["CPUExecutionProvider"]).run(None, feeds)
    if any(not np.array_equal(x, y) for x, y in zip(a, b)):
        print("FAIL export: the exported model computes something else")
        return 1
    print("ok   export keeps string weights")
    return 0


def check_contract(nncc, work):
    """Two promises: overflow stops the run; unsupported syntax is refused."""
    failures = 0
    m = model([helper.make_node("StringConcat", ["x", "x"], ["y"], name="twice")], [vi("x", S, [2])], [vi("y", S, [2])])
    path = os.path.join(work, "overflow.onnx")
    onnx.save(m, path)
    got, p = run_nncc(nncc, path, {"x": strs("abc", "abcd")}, work, ["--string-bytes", "8"])
    if got is not None or "--string-bytes" not in p.stderr:
        print(f"FAIL overflow: status {p.returncode}, stderr {p.stderr!r}")
        failures += 1
    got, p = run_nncc(nncc, path, {"x": strs("abc", "abc")}, work, ["--string-bytes", "8"])
    if got is None or got[0].tolist() != ["abcabc", "abcabc"]:
        print(f"FAIL exact fit: {p.stderr!r}")
        failures += 1
    m = model([helper.make_node("Less", ["x", "x"], ["y"], name="less")], [vi("x", S, [1])],
              [vi("y", TensorProto.BOOL, [1])])
    onnx.save(m, path)
    p = subprocess.run([nncc, path, "-o", os.path.join(work, "bad.c")], capture_output=True, text=True)
    if p.returncode != 1 or "node 'less'" not in p.stderr:
        print(f"FAIL Less on strings: status {p.returncode}, stderr {p.stderr!r}")
        failures += 1
    m = model([helper.make_node("RegexFullMatch", ["x"], ["y"], name="lookbehind", pattern="(?<=a)b")],
              [vi("x", S, [1])], [vi("y", TensorProto.BOOL, [1])])
    onnx.save(m, path)
    p = subprocess.run([nncc, path, "-o", os.path.join(work, "bad.c")], capture_output=True, text=True)
    if p.returncode != 1 or "node 'lookbehind'" not in p.stderr or "(?" not in p.stderr:
        print(f"FAIL bad pattern: status {p.returncode}, stderr {p.stderr!r}")
        failures += 1
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    args = ap.parse_args()
    failures = total = 0
    with tempfile.TemporaryDirectory() as work:
        for name, m, feeds in cases():
            total += 1
            path = os.path.join(work, "m.onnx")
            onnx.save(m, path)
            want = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)
            got, p = run_nncc(args.nncc, path, feeds, work, npy=".npy" in name)
            if got is None:
                print(f"FAIL {name}: nncc status {p.returncode}: {p.stderr.strip()}")
                failures += 1
                continue
            for i, w in enumerate(want):
                if not same(got[i], np.asarray(w)):
                    print(f"FAIL {name}: output {i}: got {got[i].tolist()!r}, want {np.asarray(w).tolist()!r}")
                    failures += 1
                    break
            else:
                print(f"ok   {name}")
        failures += check_contract(args.nncc, work) + check_export(args.nncc, work)
        total += 5
    print(f"{total - failures}/{total} passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
