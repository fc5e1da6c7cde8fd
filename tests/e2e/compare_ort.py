"""Run a model through nncc and onnxruntime on the same random inputs.

Usage: compare_ort.py --nncc PATH MODEL.onnx [--seed S] [--tol T] [--keep]

Inputs are seeded random tensors matching the model's input shapes (symbolic
dims become 1). nncc is invoked as
    PATH run MODEL.onnx --input NAME=FILE.npy ... --output-dir DIR
and must write DIR/output_<i>.npy for each graph output i (0-based, graph
order). An output passes when shapes match and
    max|nncc - ort| <= tol * max|ort|.

Exit status: 0 all outputs pass, 1 some output fails, 2 nncc did not run
(non-zero exit, timeout, or a missing output file).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper


def graph_inputs(model):
    """(name, shape, numpy dtype) for real inputs, skipping initializers."""
    inits = {t.name for t in model.graph.initializer}
    out = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        # dim_value is 0 for symbolic/unknown dims; feed 1 there.
        shape = [d.dim_value if d.dim_value > 0 else 1 for d in tt.shape.dim]
        out.append((vi.name, shape,
                    helper.tensor_dtype_to_np_dtype(tt.elem_type)))
    return out


def make_inputs(specs, seed):
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, shape, dtype in specs:
        if np.issubdtype(dtype, np.floating):
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        elif np.issubdtype(dtype, np.integer):
            # Small non-negative ints: safe for index-like inputs.
            feeds[name] = rng.integers(0, 4, size=shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[name] = rng.integers(0, 2, size=shape).astype(np.bool_)
        else:
            sys.exit(f"compare_ort: input {name}: unsupported dtype {dtype}")
    return feeds


def run_ort(path, feeds):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # same reduction order on every run
    opts.log_severity_level = 3    # errors only: keep ctest logs readable
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return names, sess.run(names, feeds)


def run_nncc(nncc, model, files, outdir, n_out, timeout):
    """Return nncc's outputs, or exit 2 if it did not produce them."""
    cmd = [nncc, "run", model]
    for name, f in files.items():
        cmd += ["--input", f"{name}={f}"]
    cmd += ["--output-dir", outdir]
    print("running:", " ".join(cmd), flush=True)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"compare_ort: nncc failed to run: {e}")
        sys.exit(2)
    if res.returncode != 0:
        print(f"compare_ort: nncc exited with status {res.returncode}")
        print("--- nncc stdout ---\n" + res.stdout[-4000:])
        print("--- nncc stderr ---\n" + res.stderr[-4000:])
        sys.exit(2)
    outs = []
    for i in range(n_out):
        path = os.path.join(outdir, f"output_{i}.npy")
        if not os.path.exists(path):
            print(f"compare_ort: nncc wrote no {path}")
            sys.exit(2)
        outs.append(np.load(path))
    return outs


def compare(name, got, ref, tol):
    """Print one result line; return True when the output passes."""
    if got.shape != ref.shape:
        print(f"output {name}: shape {list(got.shape)} != "
              f"expected {list(ref.shape)} FAIL")
        return False
    if got.dtype != ref.dtype:
        print(f"output {name}: note: dtype {got.dtype}, ort has {ref.dtype}")
    g = got.astype(np.float64)
    r = ref.astype(np.float64)
    diff = np.abs(g - r)
    # NaN in both at the same place counts as equal; any other NaN fails.
    diff[np.isnan(g) & np.isnan(r)] = 0.0
    max_diff = float(np.max(diff)) if diff.size else 0.0
    max_ref = float(np.nanmax(np.abs(r))) if r.size else 0.0
    ratio = max_diff / max_ref if max_ref > 0 else (0.0 if max_diff == 0
                                                    else float("inf"))
    ok = max_diff <= tol * max_ref  # False if max_diff is NaN
    print(f"output {name}: max_abs_diff={max_diff:.6g} "
          f"max_abs_ref={max_ref:.6g} ratio={ratio:.6g} "
          f"{'OK' if ok else 'FAIL'}")
    return ok


def main():
    ap = argparse.ArgumentParser(
        description="Compare nncc's outputs with onnxruntime's.")
    ap.add_argument("--nncc", required=True, help="path to the nncc binary")
    ap.add_argument("model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--timeout", type=float, default=900,
                    help="seconds allowed for nncc (default 900)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir with inputs and outputs")
    args = ap.parse_args()

    specs = graph_inputs(onnx.load(args.model, load_external_data=False))
    feeds = make_inputs(specs, args.seed)
    out_names, refs = run_ort(args.model, feeds)

    tmp = tempfile.mkdtemp(prefix="compare_ort_")
    files = {}
    for i, (name, _, _) in enumerate(specs):
        # Index-based file names: input names may hold '/' or ':'.
        files[name] = os.path.join(tmp, f"input_{i}.npy")
        np.save(files[name], feeds[name])
    outdir = os.path.join(tmp, "out")
    os.makedirs(outdir)
    try:
        got = run_nncc(args.nncc, args.model, files, outdir, len(refs),
                       args.timeout)
        results = [compare(n, g, r, args.tol)
                   for n, g, r in zip(out_names, got, refs)]
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    bad = results.count(False)
    print(f"compare_ort: {len(results) - bad}/{len(results)} outputs OK")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
