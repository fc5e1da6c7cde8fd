#!/usr/bin/env python3
"""TfIdfVectorizer and TreeEnsemble variants the ONNX suite does not cover
(IDF and TFIDF weighting, skips, gram-length windows, repeated pool n-grams;
average/min/max aggregation, logistic and softmax post-transforms, missing
values), each checked against onnxruntime on seeded random inputs."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper


def tfidf_model(mode, lo, hi, skips, weights, rows):
    pool = [3, 5, 7, 9,  3, 5, 5, 7, 9, 9, 7, 3,  3, 5, 7]  # unigrams, bigrams, a trigram
    counts = [0, 4, 12]
    indexes = [0, 1, 2, 3, 4, 5, 6, 7, 9, 8]
    kw = dict(mode=mode, min_gram_length=lo, max_gram_length=hi, max_skip_count=skips,
              ngram_counts=counts, ngram_indexes=indexes, pool_int64s=pool)
    if weights:
        kw["weights"] = [0.5 + 0.25 * i for i in range(len(indexes))]
    node = helper.make_node("TfIdfVectorizer", ["x"], ["y"], **kw)
    shape = [rows, 12] if rows else [12]
    g = helper.make_graph([node], "tfidf", [helper.make_tensor_value_info("x", TensorProto.INT64, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    x = np.random.default_rng(lo * 7 + skips).choice([3, 5, 7, 9, 11], size=shape).astype(np.int64)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 9)], ir_version=8), {"x": x}


def tree_model(agg, post, dtype):
    # Two trees over 3 features: a LEQ/GT tree and one with a NaN-tracking LT node.
    t = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    node = helper.make_node(
        "TreeEnsemble", ["x"], ["y"], domain="ai.onnx.ml", n_targets=2, aggregate_function=agg,
        post_transform=post, tree_roots=[0, 2],
        nodes_featureids=[0, 1, 2, 0], nodes_truenodeids=[1, 0, 3, 1], nodes_falsenodeids=[2, 1, 4, 2],
        nodes_trueleafs=[0, 1, 0, 1], nodes_falseleafs=[1, 1, 1, 1],
        nodes_modes=helper.make_tensor("m", TensorProto.UINT8, [4], [0, 3, 1, 2]),
        nodes_splits=helper.make_tensor("s", t, [4], [0.1, -0.3, 0.5, 0.0]),
        nodes_missing_value_tracks_true=[0, 0, 1, 0],
        leaf_targetids=[0, 1, 0, 1, 1], leaf_weights=helper.make_tensor("w", t, [5], [1.5, -2.0, 0.25, 3.0, -0.5]))
    g = helper.make_graph([node], "trees", [helper.make_tensor_value_info("x", t, [16, 3])],
                          [helper.make_tensor_value_info("y", t, [16, 2])])
    x = np.random.default_rng(agg + 5 * post).standard_normal((16, 3)).astype(dtype)
    x[3, 2] = np.nan
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)],
                          ir_version=10)
    return m, {"x": x}


def post_transform(y, post):
    """The spec's post_transform codes (1 softmax, 2 logistic); onnxruntime
    1.23 swaps these two for TreeEnsemble, so the raw scores come from it and
    the transform from here."""
    if post == 1:
        z = np.exp(y - y.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)
    if post == 2:
        return 1 / (1 + np.exp(-y))
    return y


def check(nncc, name, model, feeds, work, post=0):
    path = os.path.join(work, "m.onnx")
    onnx.save(model, path)
    raw = onnx.load(path)
    for a in raw.graph.node[0].attribute:
        if a.name == "post_transform":
            a.i = 0
    want = ort.InferenceSession(raw.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    want = post_transform(want.astype(np.float64), post).astype(want.dtype)
    args = [nncc, "run", path, "--output-dir", os.path.join(work, "out")]
    for k, v in feeds.items():
        np.save(os.path.join(work, k + ".npy"), v)
        args += ["--input", f"{k}={os.path.join(work, k + '.npy')}"]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode:
        print(f"FAIL {name}: {p.stderr.strip()}")
        return False
    got = np.load(os.path.join(work, "out", "output_0.npy"))
    ok = got.shape == want.shape and np.allclose(got, want, rtol=1e-5, atol=1e-6)
    if not ok and got.shape == want.shape:
        bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-5, atol=1e-6))
        print(f"FAIL {name}: at {bad[:6]} nncc {got.ravel()[bad[:6]]} ort {want.ravel()[bad[:6]]}")
    else:
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": shapes {got.shape} {want.shape}"))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    args = ap.parse_args()
    fails = 0
    with tempfile.TemporaryDirectory() as work:
        for mode in ["TF", "IDF", "TFIDF"]:
            for weights in [False, True]:
                for lo, hi, skips, rows in [(1, 3, 0, 2), (1, 2, 2, 0), (2, 3, 3, 3), (3, 3, 1, 1)]:
                    m, f = tfidf_model(mode, lo, hi, skips, weights, rows)
                    fails += not check(args.nncc, f"TfIdf {mode} weights={weights} grams {lo}-{hi} skips {skips} rows {rows}", m, f, work)
        for dtype in [np.float32, np.float64]:
            for agg in range(4):
                for post in [0, 1, 2]:
                    m, f = tree_model(agg, post, dtype)
                    fails += not check(args.nncc, f"TreeEnsemble {np.dtype(dtype).name} aggregate {agg} post {post}",
                                       m, f, work, post)
        m, f = tfidf_model("TF", 1, 3, 0, False, 2)
        m.graph.node[0].attribute[-1].ints[10] = 3  # bigram (3, 5) twice
        m.graph.node[0].attribute[-1].ints[11] = 5
        path = os.path.join(work, "dup.onnx")
        onnx.save(m, path)
        p = subprocess.run([args.nncc, path, "-o", os.path.join(work, "dup.c")], capture_output=True, text=True)
        ok = p.returncode == 1 and "twice" in p.stderr and path in p.stderr
        print(f"{'ok  ' if ok else 'FAIL'} a repeated pool n-gram is an error: {p.stderr.strip()}")
        fails += not ok
    print(f"{fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
