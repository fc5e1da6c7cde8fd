"""The generated-code contract over every model of the conformance suite that
passes (tests/conformance/passing.txt): the C is byte-identical when compiled
twice, and builds with clang under -std=c11 -Wall -Wextra -Werror (gcc is
checked by the conformance run itself, which builds with -Werror)."""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
import cases as conformance_cases  # noqa: E402


FREEZE_HINT = re.compile(r"--freeze (\S+)=FILE")


def compile_twice(nncc, case, work):
    """Compiles the case's model twice; inputs that must be constants are
    compiled in from the first data set, as `nncc run` does. Returns the two
    outputs, or the reason it failed."""
    info = conformance_cases.model_info(case.model)
    data = conformance_cases.data_sets(case, info, work)[0]
    by_name = {vi.name: path for vi, path in zip(info.inputs, data.inputs)}
    args = [nncc, case.model, "--prefix", "m", *conformance_cases.shape_args(info, data.inputs)]
    outs = []
    while len(outs) < 2:
        out_dir = os.path.join(work, "ab"[len(outs)])
        os.makedirs(out_dir, exist_ok=True)
        out = os.path.join(out_dir, "m.c")
        # Same command line in both (the banner quotes it): -o m.c from out_dir.
        r = subprocess.run(args + ["-o", "m.c"], capture_output=True, text=True, timeout=120, cwd=out_dir)
        hint = FREEZE_HINT.search(r.stderr)
        if r.returncode != 0 and hint and hint.group(1) in by_name and len(args) < 100:
            name = hint.group(1)
            args = [a for a in args if not a.startswith(name + "=")]
            args += ["--freeze", f"{name}={by_name[name]}"]
            continue
        if r.returncode != 0:
            return "nncc failed: " + (r.stderr.strip().splitlines() or [""])[0]
        with open(out, "rb") as f:
            outs.append(f.read())
    return outs


def check(nncc, cc, case, tmp):
    """Returns None when fine, else the reason."""
    work = os.path.join(tmp, case.id.replace("/", "_"))
    os.makedirs(work, exist_ok=True)
    outs = compile_twice(nncc, case, work)
    if isinstance(outs, str):
        return outs
    if outs[0] != outs[1]:
        return "two compiles gave different C"
    r = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                        os.path.join(work, "a", "m.c")], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return f"{cc}: " + r.stderr.strip()[:400]
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--cc", default="clang")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    with open(os.path.join(HERE, "..", "conformance", "passing.txt")) as f:
        passing = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    todo = [c for c in conformance_cases.discover() if c.id in passing]
    failures = []
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(args.j) as pool:
        for case, why in zip(todo, pool.map(lambda c: check(args.nncc, args.cc, c, tmp), todo)):
            if why:
                failures.append(case.id)
                print(f"FAIL {case.id}: {why}")
    print(f"{len(todo) - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
