"""`nncc export` round trip: the exported ONNX must be valid, compute what the
original computes, compile again with nncc, and export to the same bytes.

Usage: export_roundtrip.py --nncc PATH [--keep]

Per case: nncc export MODEL -o OUT.onnx [options]; onnx.checker.check_model
(full_check) on OUT; onnxruntime on OUT against the original on the same
seeded random inputs (inputs frozen with --freeze get their file's value in
the original), each output passing when max|out - ref| <= 1e-5 * max|ref|
(integers exact). The original runs in onnxruntime when it is ONNX and
through `nncc run` when it is not (.nn). An input dim the export keeps open
is tried at sizes 1 and 3. Then nncc OUT -o OUT.c must succeed, and for a
fully bound export, exporting OUT again must give OUT's bytes (a fixed point:
nothing lost or invented on the way). Error cases must exit 1 and leave no
file. The last line is `N passed, M failed`.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
NODE_DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
TOL = 1e-5

# Node tests: ops whose extra inputs nncc needs as constants get them frozen
# from the case's own test data (all inputs after the first).
NODE_CASES = {
    "test_conv_with_strides_padding": False,
    "test_conv_with_strides_and_asymmetric_padding": False,
    "test_gemm_all_attributes": False,
    "test_resize_upsample_scales_nearest": True,
    "test_resize_downsample_scales_linear": True,
    "test_resize_upsample_scales_cubic": True,
    "test_resize_downsample_sizes_linear_pytorch_half_pixel": True,
    "test_resize_tf_crop_and_resize": True,
    "test_resize_upsample_sizes_nearest_axes_3_2": True,
}


class Case:
    def __init__(self, name, model, freeze=(), options=(), expect_open=()):
        self.name, self.model = name, model
        self.freeze = list(freeze)    # (input name, .pb path)
        self.options = list(options)  # more nncc export options
        # --shape options binding the dims the export must keep open, at 1
        self.expect_open = list(expect_open)


def node_case(name, freeze_rest):
    d = os.path.join(NODE_DATA, name)
    freeze = []
    if freeze_rest:
        m = onnx.load(os.path.join(d, "model.onnx"))
        inits = {t.name for t in m.graph.initializer}
        names = [i.name for i in m.graph.input if i.name not in inits]
        for k, n in enumerate(names[1:], start=1):
            freeze.append((n, os.path.join(d, "test_data_set_0", f"input_{k}.pb")))
    return Case(name, os.path.join(d, "model.onnx"), freeze)


def batch_model(src, dst):
    """src with its first input and output dims named 'batch'."""
    m = onnx.load(src)
    for v in (m.graph.input[0], m.graph.output[0]):
        v.type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.save(m, dst)
    return dst


def features_model(dst):
    """What the node tests miss: outputs that are Constants (tensor, floats and
    ints attributes), an input and an initializer as outputs, and a
    Shape -> Gather -> Concat -> Reshape chain that folds to a constant."""
    f32 = onnx.TensorProto.FLOAT
    value = numpy_helper.from_array(np.arange(4, dtype=np.float32).reshape(2, 2), "value")
    nodes = [helper.make_node("Constant", [], ["c0"], value=value),
             helper.make_node("Constant", [], ["c1"], value_floats=[1.5, -2.0]),
             helper.make_node("Constant", [], ["c2"], value_ints=[3, 4]),
             helper.make_node("Shape", ["x"], ["sh"]),
             helper.make_node("Gather", ["sh", "i1"], ["d1"]),
             helper.make_node("Gather", ["sh", "i0"], ["d0"]),
             helper.make_node("Concat", ["d1", "d0"], ["swapped"], axis=0),
             helper.make_node("Add", ["x", "w"], ["xw"]),
             helper.make_node("Reshape", ["xw", "swapped"], ["y"])]
    inits = [numpy_helper.from_array(np.array([0.5, -1, 2], np.float32), "w"),
             numpy_helper.from_array(np.array([0], np.int64), "i0"),
             numpy_helper.from_array(np.array([1], np.int64), "i1")]
    outs = [helper.make_tensor_value_info("c0", f32, [2, 2]),
            helper.make_tensor_value_info("c1", f32, [2]),
            helper.make_tensor_value_info("c2", onnx.TensorProto.INT64, [2]),
            helper.make_tensor_value_info("x", f32, [2, 3]),
            helper.make_tensor_value_info("w", f32, [3]),
            helper.make_tensor_value_info("y", f32, [3, 2])]
    g = helper.make_graph(nodes, "features", [helper.make_tensor_value_info("x", f32, [2, 3])],
                          outs, inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), dst)
    return dst


def collect(tmp):
    zoo = os.path.join(tmp, "zoo")
    subprocess.run([sys.executable, os.path.join(REPO, "models", "zoo", "export_zoo.py"), zoo,
                    "mlp", "squeezenet"], check=True)
    mlp = os.path.join(zoo, "mlp.onnx")
    cases = [Case("cnn", os.path.join(REPO, "models", "fashion_mnist_cnn", "cnn.onnx")),
             Case("cnn_O0", os.path.join(REPO, "models", "fashion_mnist_cnn", "cnn.onnx"),
                  options=["-O0"]),
             Case("mlp", mlp),
             Case("mlp_batch3", batch_model(mlp, os.path.join(tmp, "mlp_batch.onnx")),
                  options=["--shape", "input=3x784"]),
             Case("squeezenet", os.path.join(zoo, "squeezenet.onnx")),
             Case("features", features_model(os.path.join(tmp, "features.onnx")))]
    # nncc's own language: the batch dim stays open ("batch") in the export.
    nn = os.path.join(REPO, "models", "nn")
    cases += [Case("lenet_nn", os.path.join(nn, "lenet.nn"),
                   expect_open=["--shape", "image=1x1x28x28"]),
              Case("resnet_nn", os.path.join(nn, "resnet.nn"),
                   expect_open=["--shape", "image=1x3x32x32"]),
              Case("lenet_nn_batch2", os.path.join(nn, "lenet.nn"),
                   options=["--shape", "image=2x1x28x28"])]
    return cases + [node_case(n, f) for n, f in NODE_CASES.items()]


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


NP_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64,
            "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_,
            "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


def random_feeds(sess, seed, open_size=1):
    """Seeded inputs for sess; symbolic dims take open_size."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in sess.get_inputs():
        dtype = NP_TYPES[i.type]
        shape = [d if isinstance(d, int) and d > 0 else open_size for d in i.shape]
        if np.issubdtype(dtype, np.floating):
            feeds[i.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[i.name] = rng.integers(0, 4, size=shape).astype(dtype)
    return feeds


def close(got, ref):
    if got.shape != ref.shape or got.dtype != ref.dtype:
        return f"{got.dtype}{list(got.shape)} vs {ref.dtype}{list(ref.shape)}"
    if not np.issubdtype(ref.dtype, np.floating):
        return None if np.array_equal(got, ref) else "integer values differ"
    diff = float(np.max(np.abs(got.astype(np.float64) - ref))) if ref.size else 0.0
    mag = float(np.max(np.abs(ref))) if ref.size else 0.0
    return None if diff <= TOL * mag else f"max diff {diff:.3g} vs max |ref| {mag:.3g}"


def nncc(args, *argv):
    return subprocess.run([args.nncc, *argv], capture_output=True, text=True, timeout=600)


def nncc_run(args, model, feeds, tmp):
    """The original through nncc itself: the reference for a model that is
    not ONNX (there is no original for onnxruntime to run)."""
    cmd, outdir = ["run", model], os.path.join(tmp, "run_out")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    for k, (name, value) in enumerate(feeds.items()):
        path = os.path.join(tmp, f"run_input_{k}.npy")
        np.save(path, value)
        # --shape too: nncc run only sizes dims the model leaves fully open.
        cmd += ["--input", f"{name}={path}", "--shape", f"{name}={'x'.join(map(str, value.shape))}"]
    r = nncc(args, *cmd, "--output-dir", outdir)
    if r.returncode != 0:
        raise RuntimeError(f"nncc run on the original failed: {r.stderr.strip()}")
    files = sorted(glob.glob(os.path.join(outdir, "output_*.npy")),
                   key=lambda f: int(f.rsplit("_", 1)[1].split(".")[0]))
    return [np.load(f) for f in files]


def reference(args, case, feeds, tmp):
    if not case.model.endswith(".onnx"):
        return nncc_run(args, case.model, feeds, tmp)
    ref_feeds = dict(feeds)
    for name, path in case.freeze:
        ref_feeds[name] = numpy_helper.to_array(onnx.load_tensor(path))
    return session(case.model).run(None, ref_feeds)


def compare_runs(args, case, out, tmp, open_size):
    exported = session(out)
    feeds = random_feeds(exported, seed=open_size, open_size=open_size)
    got = exported.run(None, feeds)
    ref = reference(args, case, feeds, tmp)
    problems = [] if len(got) == len(ref) else [f"{len(got)} outputs, the original has {len(ref)}"]
    for k, (g, rf) in enumerate(zip(got, ref)):
        why = close(g, rf)
        if why:
            problems.append(f"output {k} (open dims {open_size}): {why}")
    return problems


def symbolic_inputs(model):
    """--shape options fixing each input's named dims to 1 (none when all are fixed)."""
    opts = []
    for vi in model.graph.input:
        dims = vi.type.tensor_type.shape.dim
        if any(d.dim_param for d in dims):
            opts += ["--shape", vi.name + "=" + "x".join(
                "1" if d.dim_param else str(d.dim_value) for d in dims)]
    return opts


def run_case(args, case, tmp):
    """Returns a list of problems (empty when the case passes)."""
    out = os.path.join(tmp, case.name + ".onnx")
    freeze = [a for n, p in case.freeze for a in ("--freeze", f"{n}={p}")]
    r = nncc(args, "export", case.model, "-o", out, *case.options, *freeze)
    if r.returncode != 0 or not os.path.exists(out):
        return [f"export failed (status {r.returncode}): {r.stderr.strip()}"]
    problems = []
    try:
        onnx.checker.check_model(onnx.load(out), full_check=True)
    except Exception as e:  # the checker's several exception types
        problems.append(f"checker: {e}")
    bind = symbolic_inputs(onnx.load(out))
    if bind != case.expect_open:
        problems.append(f"open input dims: {bind}, want {case.expect_open}")
    # A dim the export keeps open must work at another size too.
    for size in (1, 3) if bind else (1,):
        problems += compare_runs(args, case, out, tmp, size)
    c = nncc(args, out, "-o", os.path.join(tmp, case.name + ".c"), *bind)
    if c.returncode != 0:
        problems.append(f"nncc cannot compile the export: {c.stderr.strip()}")
    if not bind:  # binding open dims would specialize the second export
        again = os.path.join(tmp, case.name + ".again.onnx")
        a = nncc(args, "export", out, "-o", again)
        if a.returncode != 0:
            problems.append(f"re-export failed: {a.stderr.strip()}")
        elif open(again, "rb").read() != open(out, "rb").read():
            problems.append("exporting the export changes it (not a fixed point)")
    return problems


def error_cases(nncc, tmp):
    """(name, problems) for exports that must fail cleanly."""
    cnn = os.path.join(REPO, "models", "fashion_mnist_cnn", "cnn.onnx")
    bad_op = os.path.join(tmp, "bad_op.onnx")
    g = helper.make_graph([helper.make_node("FrobnicateXYZ", ["x"], ["y"], name="frob")], "g",
                          [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), bad_op)
    runs = {"error_bad_shape": [nncc, "export", cnn, "--shape", "image=1x2x3"],
            "error_unsupported_op": [nncc, "export", bad_op],
            "error_no_output_option": [nncc, "export", cnn]}
    results = []
    for name, cmd in runs.items():
        out = os.path.join(tmp, name + ".onnx")
        if "-o" not in cmd and name != "error_no_output_option":
            cmd = cmd + ["-o", out]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        problems = []
        if r.returncode != 1:
            problems.append(f"exit status {r.returncode}, want 1")
        if "nncc: error:" not in r.stderr:
            problems.append("no 'nncc: error:' line")
        if glob.glob(out + "*"):
            problems.append("left a file behind")
        results.append((name, problems))
    return results


def guarded(fn, *args):
    """fn's problems, or the exception as one: one broken case must not hide the rest."""
    try:
        return fn(*args)
    except Exception as e:  # onnxruntime and onnx raise many types
        return [f"{type(e).__name__}: {e}"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="nncc_export_")
    passed = failed = 0
    try:
        results = [(c.name, guarded(run_case, args, c, tmp)) for c in collect(tmp)]
        results += error_cases(args.nncc, tmp)
        for name, problems in results:
            print(f"{name}: {'ok' if not problems else 'FAIL'}")
            for p in problems:
                print(f"  {p}")
            passed += not problems
            failed += bool(problems)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
