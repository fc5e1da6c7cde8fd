#!/usr/bin/env python3
"""Run the ONNX backend test suite through `nncc run` and report conformance.

See tests/conformance/README.md for the contract with nncc and the options.
The last line printed is always `N passed, M failed`.  Exit status: 0, or 1
when a case listed in passing.txt no longer passes, 2 on usage errors.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import cases as cases_mod  # noqa: E402
import compare  # noqa: E402
import report  # noqa: E402
from report import Result  # noqa: E402


class Timeout(Exception):
    pass


class Runner:
    """Runs single cases; safe to call from several threads."""

    def __init__(self, nncc, timeout, env, work_root, keep):
        self.nncc = nncc
        self.timeout = timeout
        self.env = env
        self.work_root = work_root
        self.keep = keep
        self._procs = set()
        self._lock = threading.Lock()
        self._stopping = False

    def kill_all(self):
        with self._lock:
            self._stopping = True  # no new processes after this
            procs = list(self._procs)
        for p in procs:
            _kill_group(p)

    def run_case(self, case):
        if case.skip:
            return Result(case.id, "skip", case.skip)
        work = os.path.join(self.work_root, case.family, case.name)
        ops = []
        try:
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work)
            info = cases_mod.model_info(case.model)
            ops = info.ops if case.family == "node" else []
            res = self._run_sets(case, info, work)
        except Timeout:
            res = Result(case.id, "fail", "timeout", f"timeout after {self.timeout:g} s")
        except compare.Mismatch as m:
            res = Result(case.id, "fail", m.key, m.detail)
        except Exception as e:  # keep going: one odd case must not stop the run
            res = Result(case.id, "fail", "runner error", f"{type(e).__name__}: {e}")
        finally:
            if not self.keep:
                shutil.rmtree(work, ignore_errors=True)
        res.ops = ops
        return res

    def _run_sets(self, case, info, work):
        deadline = time.monotonic() + self.timeout
        sets = cases_mod.data_sets(case, info, work)
        if not sets:
            return Result(case.id, "skip", "no test data sets")
        for ds in sets:
            # Load expectations first: a value type the runner cannot read is
            # a skip, and nncc need not run at all.
            try:
                expected = [
                    compare.load_expected(p, info.outputs[i].type if i < len(info.outputs) else None)
                    for i, p in enumerate(ds.outputs)
                ]
            except compare.RunnerUnsupported as e:
                return Result(case.id, "skip", f"runner cannot compare {e}")
            out_dir = os.path.join(work, ds.name)
            os.makedirs(out_dir, exist_ok=True)
            cmd = [self.nncc, "run", case.model]
            for path in ds.inputs:  # no NAME=: nncc takes them in graph-input order
                cmd += ["--input", path]
            cmd += [*cases_mod.shape_args(info, ds.inputs), "--output-dir", out_dir]
            rc, err = self._execute(cmd, deadline, work)
            if rc != 0:
                return classify_error(case, rc, err)
            where = f" ({ds.name})" if len(sets) > 1 else ""
            for i, exp in enumerate(expected):
                compare.check(os.path.join(out_dir, f"output_{i}"), exp,
                              case.rtol, case.atol, f"output {i}{where}")
        return Result(case.id, "pass")

    def _execute(self, cmd, deadline, work):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout()
        with self._lock:
            if self._stopping:
                raise Timeout()
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, cwd=work, env=self.env,
                                 start_new_session=True)  # own group: kill cc children too
            self._procs.add(p)
        try:
            out, err = p.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            _kill_group(p)
            p.communicate()
            raise Timeout() from None
        finally:
            with self._lock:
                self._procs.discard(p)
        err = err.decode("utf-8", "replace")
        if self.keep:
            with open(os.path.join(work, "nncc.log"), "a") as f:
                f.write("$ " + " ".join(cmd) + f"\n[exit {p.returncode}]\n")
                f.write(out.decode("utf-8", "replace") + err)
        return p.returncode, err


def _kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


ERROR_PREFIX = "nncc: error: "


def classify_error(case, rc, stderr):
    """Failed `nncc run`: an error line means unsupported, otherwise a crash."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    first = next((ln for ln in lines if ln.startswith(ERROR_PREFIX)), None)
    if rc > 0 and first is not None:
        reason = first[len(ERROR_PREFIX):]
        if reason.startswith(case.model + ": "):
            reason = reason[len(case.model) + 2:]
        else:
            reason = re.sub(r"^\S*\.onnx: ", "", reason)
        # Node names differ per case; drop them so equal gaps group together.
        return Result(case.id, "unsupported", re.sub(r"'[^']*'", "'...'", reason), reason)
    if rc < 0:
        try:
            how = f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            how = f"killed by signal {-rc}"
    else:
        how = f"exit status {rc} without an error line"
    last = lines[-1][:200] if lines else "(no stderr)"
    return Result(case.id, "fail", f"crash: {how}", f"crash: {how}: {last}")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nncc", default=os.path.join(REPO, "build", "nncc"),
                    help="nncc binary (default: build/nncc)")
    ap.add_argument("--filter", help="regex searched in 'family/case'")
    ap.add_argument("--family", action="append", default=[],
                    help="only these families (repeat or comma-separate): "
                    + ", ".join(cases_mod.FAMILIES))
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds per case, all data sets and builds included")
    ap.add_argument("--rtol", type=float, default=cases_mod.DEFAULT_RTOL,
                    help="rtol when no data.json names one")
    ap.add_argument("--atol", type=float, default=cases_mod.DEFAULT_ATOL,
                    help="atol when no data.json names one (onnx's own default: 1e-7)")
    ap.add_argument("--cflags", help="NNCC_CFLAGS for nncc (default: the environment's, else -O1)")
    ap.add_argument("--keep", metavar="DIR", help="keep work dirs (outputs, nncc.log) under DIR")
    ap.add_argument("--report", help="markdown report path (default docs/conformance.md, "
                    "not written for --filter/--family runs unless given)")
    ap.add_argument("--no-report", action="store_true", help="never write the report")
    ap.add_argument("--passing", default=os.path.join(HERE, "passing.txt"),
                    help="regression list (default: tests/conformance/passing.txt)")
    ap.add_argument("--update", action="store_true",
                    help="rewrite the passing list to the current passing set")
    ap.add_argument("--list", action="store_true", help="print the selected cases and exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case result")
    args = ap.parse_args(argv)
    args.family = [f for spec in args.family for f in spec.split(",") if f]
    bad = [f for f in args.family if f not in cases_mod.FAMILIES]
    if bad:
        ap.error(f"unknown family {', '.join(bad)}")
    if args.jobs < 1:
        ap.error("-j must be >= 1")
    try:
        args.filter_re = re.compile(args.filter) if args.filter else None
    except re.error as e:
        ap.error(f"bad --filter: {e}")
    return args


def selected(args, case_id):
    if args.family and case_id.split("/", 1)[0] not in args.family:
        return False
    return args.filter_re is None or bool(args.filter_re.search(case_id))


def read_passing(path):
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}


def run_all(runner, todo, jobs, verbose):
    results = []
    progress = sys.stderr.isatty() and not verbose
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(runner.run_case, c) for c in todo]
        try:
            for k, fut in enumerate(as_completed(futures), 1):
                r = fut.result()
                results.append(r)
                if verbose:
                    print(f"{r.status.upper():12} {r.id}" + (f": {r.detail}" if r.detail else ""),
                          flush=True)
                elif progress:
                    print(f"\r[{k}/{len(todo)}]", end="", file=sys.stderr, flush=True)
        except BaseException:
            for f in futures:
                f.cancel()
            runner.kill_all()
            raise
    if progress:
        print(file=sys.stderr)
    order = {c.id: i for i, c in enumerate(todo)}
    return sorted(results, key=lambda r: order[r.id])


def guard(args, results):
    """Compare with passing.txt; returns the regressed ids."""
    listed = read_passing(args.passing)
    checked = {i for i in listed if selected(args, i)}
    now = {r.id for r in results if r.status == "pass"}
    regressed = sorted(checked - now)
    new = sorted(now - listed)
    if args.update:
        keep = (listed - checked) | now
        with open(args.passing, "w") as f:
            f.writelines(i + "\n" for i in sorted(keep))
        for i in regressed:
            print(f"REMOVED from {args.passing} (no longer passes): {i}")
        if new:
            print(f"added {len(new)} new passes to {args.passing}")
        return []
    if new:
        print("new passes (run with --update to record):")
        print("".join(f"  {i}\n" for i in new), end="")
    if regressed:
        status = {r.id: r for r in results}
        print(f"REGRESSIONS: {len(regressed)} case(s) in {args.passing} no longer pass:")
        for i in regressed:
            r = status.get(i)
            why = f"{r.status}: {r.detail or r.key}" if r else "case no longer exists"
            print(f"  {i}  ({why})")
    return regressed


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    all_cases = cases_mod.discover(rtol=args.rtol, atol=args.atol)
    todo = [c for c in all_cases if selected(args, c.id)]
    if args.list:
        for c in todo:
            print(c.id)
        return 0

    nncc = os.path.abspath(args.nncc)
    if not (os.path.isfile(nncc) and os.access(nncc, os.X_OK)):
        print(f"run.py: error: nncc binary not found or not executable: {nncc}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    if args.cflags is not None:
        env["NNCC_CFLAGS"] = args.cflags
    env.setdefault("NNCC_CFLAGS", "-O1")
    env.setdefault("OMP_NUM_THREADS", "1")  # cases already run in parallel

    keep = args.keep is not None
    work_root = os.path.abspath(args.keep) if keep else tempfile.mkdtemp(prefix="nncc-conf-")
    try:
        runner = Runner(nncc, args.timeout, env, work_root, keep)
        results = run_all(runner, todo, args.jobs, args.verbose)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        if not keep:
            shutil.rmtree(work_root, ignore_errors=True)

    regressed = guard(args, results)

    partial = args.filter or args.family
    path = args.report or (None if partial else os.path.join(REPO, "docs", "conformance.md"))
    if path and not args.no_report:
        import onnx

        meta = {"onnx_version": onnx.__version__, "rtol": args.rtol, "atol": args.atol,
                "timeout": args.timeout}
        report.write_markdown(path, results, meta)
        print(f"report written to {path}")

    for line in report.console_summary(results):
        print(line)
    print(report.totals_line(results))
    return 1 if regressed else 0


if __name__ == "__main__":
    sys.exit(main())
