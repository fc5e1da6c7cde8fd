"""Every .nn model end to end: models/nn/*.nn, the layer cases in
tests/nn/cases/*.nn and the complete examples in docs/language.md; every
model of a file that holds several (a GAN's), each picked with --model.
For each one:
  - nncc compiles it with nothing on stderr;
  - the generated C builds with gcc and clang under -Wall -Wextra -Werror;
  - `nncc run` on random inputs gives finite outputs of the declared shapes;
  - when `nncc export` is available, onnxruntime runs the exported model on
    the same inputs and agrees with `nncc run`.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DTYPES = {"float32": np.float32, "int64": np.int64, "int32": np.int32}


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


def tensors(info, kind):
    """(name, dtype, dims) of each input or output line of `nncc info`."""
    pat = re.compile(r"^\s+%s\s+(\S+)\s+(\S+)\s+\[([0-9,]*)\]" % kind)
    out = []
    for line in info.splitlines():
        m = pat.match(line)
        if m:
            dims = [int(d) for d in m.group(3).split(",") if d]
            out.append((m.group(1), m.group(2), dims))
    return out


def random_inputs(inputs, tmp, rng):
    args, feeds = [], {}
    for name, dtype, dims in inputs:
        if dtype.startswith("int"):
            value = rng.integers(0, 10, size=dims).astype(DTYPES[dtype])
        else:
            value = rng.standard_normal(dims).astype(np.float32)
        path = os.path.join(tmp, name + ".npy")
        np.save(path, value)
        args += ["--input", f"{name}={path}"]
        feeds[name] = value
    return args, feeds


def model_names(path):
    """The models a .nn file holds, in order."""
    with open(path) as f:
        return re.findall(r"^model\s+(\w+)", f.read(), re.M)


def check_model(nncc, path, tmp, compilers, rng, pick=None):
    """Checks the file's first model, or the one named `pick` (--model)."""
    problems = []
    base = os.path.splitext(os.path.basename(path))[0] + (f"_{pick}" if pick else "")
    sel = ["--model", pick] if pick else []
    r = sh([nncc, "info", path, *sel])
    if r.returncode != 0:
        return [f"nncc info failed: {r.stderr.strip()}"]
    inputs, outputs = tensors(r.stdout, "input"), tensors(r.stdout, "output")
    c_file = os.path.join(tmp, base + ".c")
    r = sh([nncc, path, *sel, "-o", c_file])
    if r.returncode != 0 or r.stderr:
        problems.append(f"compile: status {r.returncode}: {r.stderr.strip()}")
        return problems
    for cc in compilers:
        r = sh([cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-c", c_file,
                "-o", os.path.join(tmp, f"{base}.{cc}.o")])
        if r.returncode != 0:
            problems.append(f"{cc} -Wall -Wextra -Werror: {r.stderr.strip()[:2000]}")
    args, feeds = random_inputs(inputs, tmp, rng)
    out_dir = os.path.join(tmp, base + "_out")
    r = sh([nncc, "run", path, *sel, *args, "--output-dir", out_dir])
    if r.returncode != 0:
        problems.append(f"nncc run: status {r.returncode}: {r.stderr.strip()[:2000]}")
        return problems
    got = []
    for i, (name, _, dims) in enumerate(outputs):
        value = np.load(os.path.join(out_dir, f"output_{i}.npy"))
        got.append(value)
        if list(value.shape) != dims:
            problems.append(f"output {name}: shape {list(value.shape)}, nncc info says {dims}")
        if not np.all(np.isfinite(value)):
            problems.append(f"output {name}: not all finite")
    problems += compare_with_ort(nncc, path, sel, tmp, base, feeds, outputs, got)
    return problems


def has_export(nncc):
    return "nncc export" in sh([nncc, "--help"]).stdout


def compare_with_ort(nncc, path, sel, tmp, base, feeds, outputs, got):
    if not has_export(nncc):
        return []
    onnx_file = os.path.join(tmp, base + ".onnx")
    r = sh([nncc, "export", path, *sel, "-o", onnx_file])
    if r.returncode != 0:
        return [f"nncc export: {r.stderr.strip()[:2000]}"]
    import onnxruntime as ort
    try:
        sess = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
        want = sess.run(None, feeds)
    except Exception as e:  # onnxruntime rejects the exported model
        return [f"onnxruntime: {str(e).strip()[:500]}"]
    problems = []
    for (name, _, _), w, g in zip(outputs, want, got):
        if not np.allclose(g, w, rtol=1e-4, atol=1e-5):
            problems.append(f"output {name}: nncc and onnxruntime differ by up to "
                            f"{np.max(np.abs(g - w)):.3g}")
    return problems


def doc_examples(tmp):
    """The complete models in docs/language.md's code blocks, as files."""
    text = open(os.path.join(ROOT, "docs/language.md")).read()
    paths = []
    for i, block in enumerate(re.findall(r"```\n(.*?)```", text, re.S)):
        code = [l for l in block.splitlines() if l.strip() and not l.lstrip().startswith("#")]
        if code and code[0].startswith("model "):
            path = os.path.join(tmp, f"doc_example_{i}.nn")
            with open(path, "w") as f:
                f.write(block)
            paths.append(path)
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("models", nargs="*")
    a = ap.parse_args()
    models = a.models or sorted(glob.glob(os.path.join(ROOT, "models/nn/*.nn")) +
                                glob.glob(os.path.join(ROOT, "tests/nn/cases/*.nn")))
    compilers = [cc for cc in ("gcc", "clang") if shutil.which(cc)]
    rng = np.random.default_rng(0)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        if not a.models:
            models += doc_examples(tmp)
        runs = []  # every model of a file that holds several, each by --model
        for path in models:
            names = model_names(path)
            runs += [(path, n) for n in names] if len(names) > 1 else [(path, None)]
        for path, pick in runs:
            problems = check_model(a.nncc, path, tmp, compilers, rng, pick)
            rel = os.path.relpath(path, ROOT) if path.startswith(ROOT) else os.path.basename(path)
            rel += f" --model {pick}" if pick else ""
            note = " (onnxruntime agrees)" if not problems and has_export(a.nncc) else ""
            print(f"{'ok  ' if not problems else 'FAIL'} {rel}{note}")
            for p in problems:
                print(f"     {p}")
            failed += bool(problems)
    print(f"{len(runs) - failed}/{len(runs)} .nn models pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
