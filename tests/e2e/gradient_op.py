#!/usr/bin/env python3
"""ONNX's Gradient operator (ai.onnx.preview.training) through `nncc run`,
on graphs the backend suite's two scalar cases do not try: a MatMul+Relu
chain with a broadcast bias, Softmax, broadcasting Add, several xs (one
that y does not depend on: a zero gradient), weights as xs behind nodes
that would fold, an intermediate tensor as x, a value other than the
named tensor's (the spec's H_1), a second-order Gradient, float32 and
float64. Each gradient is checked against central differences of sum(y)
computed by onnxruntime on the same forward graph in float64; each model's
C must build with gcc and clang under -std=c11 -Wall -Wextra -Werror.
Refusals (an op without a gradient rule, a name that is not a tensor, an
integer x, a wrong input count, `nncc export`) are one error line naming
the file, the node and the problem.

Usage: gradient_op.py --nncc PATH [--filter REGEX] [--no-cc]
The last line is `N passed, M failed`; exit status 1 when any case fails.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import recurrent_models  # noqa: E402  (check_c: the gcc/clang build check)
from nncc_run import nncc_run  # noqa: E402

DOMAIN = "ai.onnx.preview.training"
OPSETS = [helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, 1)]
ELEM = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE}
CASES = []


def rand(*shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def case(name, nodes, y, xs, inputs, inits=None, zs=(), at=None, prefix=(), dtype=np.float64,
         tol=None, first=False):
    """Gradient(xs, zs, y) over `nodes` (which compute y from xs, zs and the
    initializers), after `prefix` nodes (which compute named tensors from
    the graph inputs). `at` maps a name of xs/zs to another graph input
    whose value the Gradient node reads instead (the spec's H_1); `first`
    puts the Gradient node before the nodes computing y (it reads only xs
    and zs, so the file is still in order). Arrays are float64 here and cast
    to dtype for nncc; the reference stays float64."""
    CASES.append(dict(name=name, nodes=list(nodes), y=y, xs=list(xs), zs=list(zs),
                      inputs=inputs, inits=inits or {}, at=at or {}, prefix=list(prefix),
                      dtype=dtype, tol=tol or (1e-6 if dtype == np.float64 else 2e-4),
                      first=first))


def model_of(nodes, inputs, inits, outputs, elem):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(k, elem, v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(o, elem, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=OPSETS)
    model.ir_version = 8
    return model


def session(model):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def values(c, names):
    """The float64 values of named tensors in the graph without the Gradient
    node (graph inputs and initializers directly, the rest through ORT)."""
    known = {**c["inputs"], **c["inits"]}
    todo = [n for n in names if n not in known]
    if todo:
        got = session(model_of(c["prefix"] + c["nodes"], c["inputs"], c["inits"], todo,
                               TensorProto.DOUBLE)).run(todo, c["inputs"])
        known.update(zip(todo, got))
    return [known[n] for n in names]


def reference(c):
    """d(sum y)/dx for each x by central differences of the forward nodes
    alone (xs and zs as graph inputs), at the Gradient node's input values."""
    free = c["xs"] + [z for z in c["zs"] if z not in c["xs"]]
    point = dict(zip(free, values(c, [c["at"].get(n, n) for n in free])))
    inits = {k: v for k, v in c["inits"].items() if k not in point}
    run = session(model_of(c["nodes"], point, inits, [c["y"]], TensorProto.DOUBLE)).run
    h, grads = 1e-6, []
    for x in c["xs"]:
        g = np.zeros_like(point[x])
        for i in np.ndindex(g.shape):
            feeds = {k: v.copy() for k, v in point.items()}
            feeds[x][i] += h
            up = run([c["y"]], feeds)[0].sum()
            feeds[x][i] -= 2 * h
            g[i] = (up - run([c["y"]], feeds)[0].sum()) / (2 * h)
        grads.append(g)
    return grads


def test_model(c):
    dt = c["dtype"]
    grad_in = [c["at"].get(n, n) for n in c["xs"] + c["zs"]]
    outs = [f"d_{x}" for x in c["xs"]]
    gnode = helper.make_node("Gradient", grad_in, outs, name="the_gradient", domain=DOMAIN,
                             xs=c["xs"], y=c["y"], **({"zs": c["zs"]} if c["zs"] else {}))
    cast = lambda d: {k: v.astype(dt) for k, v in d.items()}  # noqa: E731
    nodes = [gnode] + c["prefix"] + c["nodes"] if c["first"] else c["prefix"] + c["nodes"] + [gnode]
    model = model_of(nodes, cast(c["inputs"]), cast(c["inits"]),
                     [c["y"]] + outs, ELEM[dt])
    return model, cast(c["inputs"])


def compare(what, got, ref, dtype, tol):
    if got.shape != ref.shape or got.dtype != dtype:
        print(f"{what}: {got.dtype}{list(got.shape)}, expected {np.dtype(dtype)}{list(ref.shape)}")
        return False
    err = np.abs(got.astype(np.float64) - ref) / (1 + np.abs(ref))
    worst = float(err.max()) if err.size else 0.0
    ok = worst <= tol and bool(np.any(ref != 0) or not np.any(got))
    print(f"{what}: max rel err {worst:.2g} (tol {tol:g}) {'OK' if ok else 'FAIL'}")
    return ok


def run_case(nncc, c, work, cc):
    model, feeds = test_model(c)
    path, got = nncc_run(nncc, model, feeds, work)
    if got is None:
        return False
    ok = compare(f"y '{c['y']}'", got[0], values(c, [c["y"]])[0], c["dtype"], c["tol"])
    for x, g, ref in zip(c["xs"], got[1:], reference(c)):
        ok &= compare(f"d{c['y']}/d{x}", g, ref, c["dtype"], c["tol"])
    if cc:
        why = recurrent_models.check_c(nncc, path, work)
        if why:
            print(f"generated C: {why}")
            ok = False
    return ok


def cases():
    n = helper.make_node
    for dt in (np.float32, np.float64):
        tag = np.dtype(dt).name
        # Y = Relu(X @ W1 + b1) @ W2: weights as xs, the batch as zs, y not a scalar.
        case(f"mlp_relu_{tag}", [n("MatMul", ["X", "W1"], ["M"]), n("Add", ["M", "b1"], ["P"]),
                                 n("Relu", ["P"], ["H"]), n("MatMul", ["H", "W2"], ["Y"])],
             "Y", ["W1", "b1", "W2"], {"X": rand(4, 5, seed=1)},
             {"W1": rand(5, 6, seed=2), "b1": rand(6, seed=3), "W2": rand(6, 3, seed=4)},
             zs=["X"], dtype=dt)
    # Softmax times a constant (a softmax's plain sum is constant).
    case("softmax", [n("Softmax", ["X"], ["S"], axis=1), n("Mul", ["S", "C"], ["Y"])], "Y", ["X"],
         {"X": rand(3, 4, 2, seed=5)}, {"C": rand(3, 4, 2, seed=6)})
    # Broadcasting: B [3,1] against A [2,3,4]; A also read twice.
    case("broadcast_add", [n("Add", ["A", "B"], ["S"]), n("Tanh", ["S"], ["T"]),
                           n("Mul", ["T", "A"], ["Y"])], "Y", ["A", "B"],
         {"A": rand(2, 3, 4, seed=7), "B": rand(3, 1, seed=8)})
    # Several xs, one of which y does not depend on: its gradient is zero.
    case("several_xs_one_unused", [n("Mul", ["A", "B"], ["P"]), n("Sigmoid", ["P"], ["Q"]),
                                   n("Sub", ["Q", "C"], ["Y"])], "Y", ["C", "A", "U", "B"],
         {"A": rand(2, 3, seed=9), "B": rand(3, seed=10), "C": rand(2, 3, seed=11),
          "U": rand(4, seed=12)})
    # The Gradient node placed before the nodes computing y.
    case("gradient_node_first", [n("Sigmoid", ["A"], ["S"]), n("Mul", ["S", "B"], ["Y"])], "Y",
         ["A", "B"], {"A": rand(3, 2, seed=22), "B": rand(2, seed=23)}, first=True)
    # A weight as x whose consumers would fold (every other input is constant).
    case("weight_behind_folding", [n("Mul", ["W", "S"], ["V"]), n("MatMul", ["X", "V"], ["R"]),
                                   n("Exp", ["R"], ["Y"])], "Y", ["W"], {},
         {"W": rand(3, 2, seed=13) * 0.5, "S": rand(3, 2, seed=14), "X": rand(2, 3, seed=15)})
    # An intermediate tensor as x (the spec's dY/dH): H computed by a prefix node.
    case("intermediate_x", [n("MatMul", ["H", "W"], ["R"]), n("Tanh", ["R"], ["Y"])], "Y",
         ["H"], {"P": rand(2, 3, seed=16), "Q": rand(2, 3, seed=17)}, {"W": rand(3, 4, seed=18)},
         prefix=[n("Mul", ["P", "Q"], ["H"])])
    # The gradient at another value than the named tensor's (the spec's H_1).
    case("at_other_value", [n("Exp", ["H"], ["E"]), n("Mul", ["E", "H"], ["Y"])], "Y", ["H"],
         {"X": rand(2, 3, seed=19), "H1": rand(2, 3, seed=20)}, at={"H": "H1"},
         prefix=[n("Relu", ["X"], ["H"])])
    # Both H and the X it is computed from replaced: H stays H1, not Relu(X1).
    case("at_other_values_h_and_x", [n("Exp", ["H"], ["E"]), n("Mul", ["E", "X"], ["Y"])], "Y",
         ["H"], {"X": rand(2, 3, seed=24), "H1": rand(2, 3, seed=25), "X1": rand(2, 3, seed=26)},
         zs=["X"], at={"H": "H1", "X": "X1"}, prefix=[n("Relu", ["X"], ["H"])])


def second_order(nncc, work, cc):
    """Gradient of a Gradient: d = a*a*a gives dd/da = 3a^2, then 6a."""
    a = rand(5, seed=21)
    nodes = [helper.make_node("Mul", ["a", "a"], ["c"]), helper.make_node("Mul", ["c", "a"], ["d"]),
             helper.make_node("Gradient", ["a"], ["da"], name="first", domain=DOMAIN, xs=["a"], y="d"),
             helper.make_node("Gradient", ["a"], ["dda"], name="second", domain=DOMAIN, xs=["a"],
                              y="da")]
    path, got = nncc_run(nncc, model_of(nodes, {"a": a}, {}, ["da", "dda"], TensorProto.DOUBLE),
                         {"a": a}, work)
    if got is None:
        return False
    ok = compare("dd/da", got[0], 3 * a * a, np.float64, 1e-12)
    ok &= compare("d2d/da2", got[1], 6 * a, np.float64, 1e-12)
    if cc:
        why = recurrent_models.check_c(nncc, path, work)
        ok &= why is None
        if why:
            print(f"generated C: {why}")
    return ok


F = TensorProto.FLOAT
# (name, nodes, inputs [(name, elem, shape)], outputs, what the error says, the node it names)
ERRORS = [
    ("no_rule", [helper.make_node("Det", ["a"], ["c"], name="det"),
                 helper.make_node("Gradient", ["a"], ["da"], name="g", domain=DOMAIN, xs=["a"],
                                  y="c")],
     [("a", F, [3, 3])], ["da"],
     "the Gradient node 'g' needs the gradient of Det, which nncc does not have yet", "det"),
    ("unknown_name", [helper.make_node("Neg", ["a"], ["c"]),
                      helper.make_node("Gradient", ["a"], ["da"], name="g", domain=DOMAIN,
                                       xs=["nope"], y="c")],
     [("a", F, [3])], ["da"], "xs names 'nope', which is not a tensor of the graph", "g"),
    ("integer_x", [helper.make_node("Cast", ["i"], ["f"], to=F),
                   helper.make_node("Gradient", ["i"], ["di"], name="g", domain=DOMAIN, xs=["i"],
                                    y="f")],
     [("i", TensorProto.INT64, [3])], ["di"], "nncc differentiates float32 and float64 tensors only",
     "g"),
    ("own_output", [helper.make_node("Neg", ["a"], ["c"]),
                    helper.make_node("Gradient", ["a"], ["da"], name="g", domain=DOMAIN, xs=["a"],
                                     y="d"),
                    helper.make_node("Mul", ["da", "c"], ["d"])],
     [("a", F, [3])], ["d"], "y ('d') is computed from this node's outputs",
     "g"),
    ("input_count", [helper.make_node("Neg", ["a"], ["c"]),
                     helper.make_node("Gradient", ["a", "c"], ["da"], name="g", domain=DOMAIN,
                                      xs=["a"], y="c")],
     [("a", F, [3])], ["da"], "has 2 inputs: want one per name in xs and zs (1)", "g"),
]


def run_error(nncc, name, nodes, inputs, outputs, want, node_name, work, export=False):
    """One error line naming the file, the node and the problem; status 1;
    no output file."""
    os.makedirs(work, exist_ok=True)
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(*i) for i in inputs],
                              [helper.make_tensor_value_info(o, F, None) for o in outputs])
    model = helper.make_model(graph, opset_imports=OPSETS)
    model.ir_version = 8
    path = os.path.join(work, "model.onnx")
    out = os.path.join(work, "out.onnx" if export else "m.c")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    cmd = [nncc, "export", path, "-o", out] if export else [nncc, path, "-o", out]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    ok = (r.returncode == 1 and len(lines) == 1 and path in lines[0]
          and f"node '{node_name}'" in lines[0] and want in lines[0] and not os.path.exists(out))
    print(f"status {r.returncode}: {r.stderr.strip()} {'OK' if ok else 'FAIL (want: ' + want + ')'}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nncc", required=True)
    ap.add_argument("--filter", default="")
    ap.add_argument("--no-cc", action="store_true", help="skip the gcc/clang build check")
    args = ap.parse_args()
    cases()
    tmp = tempfile.mkdtemp(prefix="nncc_gradient_op_")
    runs = [(c["name"], lambda c=c: run_case(args.nncc, c, os.path.join(tmp, c["name"]),
                                             not args.no_cc)) for c in CASES]
    runs.append(("second_order", lambda: second_order(args.nncc, os.path.join(tmp, "second"),
                                                       not args.no_cc)))
    runs += [("error_" + e[0], lambda e=e: run_error(args.nncc, *e, os.path.join(tmp, "e_" + e[0])))
             for e in ERRORS]
    export = ERRORS[1][1][:1] + [helper.make_node("Gradient", ["a"], ["da"], name="g",
                                                  domain=DOMAIN, xs=["a"], y="c")]
    runs.append(("error_export", lambda: run_error(
        args.nncc, "export", export, [("a", F, [3])], ["da"],
        "nncc export cannot write a Gradient node", "g", os.path.join(tmp, "e_export"), True)))
    passed = failed = 0
    try:
        for name, run in runs:
            if not re.search(args.filter, name):
                continue
            print(f"== {name}")
            if run():
                passed += 1
            else:
                failed += 1
                print(f"FAIL {name}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
