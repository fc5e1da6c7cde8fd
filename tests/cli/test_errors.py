"""Bad input: every case gets clear error lines (file, node name and op, the
problem), exit status 1, and no output file left behind. Also the CLI's own
promises (--help, --version, unknown options)."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FAILURES = []
RUN = [0]


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def vi(name, dims, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, dims)


def check(name, nncc, tmp, data, expect, extra=()):
    """Writes data as a model file, compiles it, checks the failure."""
    path = os.path.join(tmp, name + ".onnx")
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.SerializeToString())
    out = os.path.join(tmp, name + ".c")
    r = subprocess.run([nncc, path, "-o", out, *extra], capture_output=True, text=True, timeout=60)
    errors = [l for l in r.stderr.splitlines() if l.startswith("nncc: error:")]
    problems = []
    if r.returncode != 1:
        problems.append(f"exit status {r.returncode}, want 1")
    if not errors:
        problems.append("no 'nncc: error:' line")
    for e in errors:
        if path not in e:
            problems.append(f"error does not name the file: {e}")
    for want in expect:
        if not any(want in e for e in errors):
            problems.append(f"no error mentions {want!r}")
    for leftover in (out, out[:-2] + ".h"):
        if os.path.exists(leftover):
            problems.append(f"left {leftover} behind")
    RUN[0] += 1
    status = "ok" if not problems else "FAIL: " + "; ".join(problems)
    print(f"{name}: {status}")
    if problems:
        print("  stderr:", r.stderr.strip().replace("\n", "\n          "))
        FAILURES.append(name)


def write_true(tmp):
    path = os.path.join(tmp, "true.pb")
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.array(True)).SerializeToString())
    return path


def relu_model():
    return model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [2, 3])], [vi("y", [2, 3])])


def cases(nncc, tmp):
    good = relu_model().SerializeToString()
    check("not_onnx", nncc, tmp, b"this is plain text, not a protobuf\n", ["not an ONNX model"])
    check("truncated", nncc, tmp, good[: len(good) // 2], ["not an ONNX model"])
    check("empty", nncc, tmp, b"", ["not an ONNX model"])
    check("unknown_op", nncc, tmp,
          model([helper.make_node("FrobnicateXYZ", ["x"], ["y"], name="frob1")],
                [vi("x", [2])], [vi("y", [2])]),
          ["node 'frob1' (FrobnicateXYZ)", "unsupported operator"])
    check("several_unsupported", nncc, tmp,
          model([helper.make_node("FooOp", ["x"], ["a"], name="first"),
                 helper.make_node("BarOp", ["a"], ["y"], name="second")],
                [vi("x", [2])], [vi("y", [2])]),
          ["node 'first' (FooOp)", "node 'second' (BarOp)"])
    check("unsupported_dtype", nncc, tmp,
          model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                [vi("x", [2], TensorProto.COMPLEX64)], [vi("y", [2], TensorProto.COMPLEX64)]),
          ["'x'", "unsupported data type COMPLEX64"])
    check("missing_initializer", nncc, tmp,
          model([helper.make_node("Add", ["x", "w"], ["y"], name="add1")],
                [vi("x", [2])], [vi("y", [2])]),
          ["node 'add1' (Add)", "'w' is not produced"])
    check("shape_mismatch", nncc, tmp,
          model([helper.make_node("Add", ["x", "w"], ["y"], name="add2")], [vi("x", [2, 3])],
                [vi("y", [2, 3])], [numpy_helper.from_array(np.zeros((4, 5), np.float32), "w")]),
          ["node 'add2' (Add)", "do not broadcast"])
    check("cyclic", nncc, tmp,
          model([helper.make_node("Add", ["x", "b"], ["a"], name="c1"),
                 helper.make_node("Relu", ["a"], ["b"], name="c2")],
                [vi("x", [2])], [vi("a", [2])]),
          ["node 'c1' (Add)", "cyclic graph"])
    check("open_dim", nncc, tmp,
          model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", ["N", 3])], [vi("y", ["N", 3])]),
          ["input 'x'", "--shape x="])
    check("bad_shape_option", nncc, tmp, relu_model(), ["no input of that name"], ["--shape", "nope=1x2"])
    check("model_option_on_onnx", nncc, tmp, relu_model(), ["--model d: an ONNX file holds one model"],
          ["--model", "d"])
    # control flow and sequences (compiler/ops/control.c, sequence.c)
    seq_in = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [2])
    check("sequence_input_without_data", nncc, tmp,
          model([helper.make_node("SequenceLength", ["s"], ["n"], name="len")], [seq_in],
                [vi("n", [], TensorProto.INT64)]),
          ["input 's' is a sequence", "--freeze s=FILE"])
    body = helper.make_graph([helper.make_node("Identity", ["c"], ["c2"]),
                              helper.make_node("Add", ["v", "v"], ["v2"])], "body",
                             [vi("i", [], TensorProto.INT64), vi("c", [], TensorProto.BOOL), vi("v", [2])],
                             [vi("c2", [], TensorProto.BOOL), vi("v2", [2])])
    check("loop_runtime_trip_count", nncc, tmp,
          model([helper.make_node("Loop", ["m", "", "x"], ["y"], name="loop1", body=body)],
                [vi("m", [], TensorProto.INT64), vi("x", [2])], [vi("y", [2])]),
          ["node 'loop1' (Loop)", "must be known at compile time", "--freeze m=FILE"])
    branch = lambda name, dims: helper.make_graph(  # noqa: E731
        [helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.zeros(dims, np.float32)))],
        name, [], [vi(name, dims)])
    check("if_runtime_condition_shapes_differ", nncc, tmp,
          model([helper.make_node("If", ["c"], ["y"], name="if1", then_branch=branch("a", [2]),
                                  else_branch=branch("b", [3]))],
                [vi("c", [], TensorProto.BOOL)], [vi("y", None)]),
          ["node 'if1' (If)", "float32[2] and float32[3]"])
    check("unsupported_op_in_subgraph", nncc, tmp,
          model([helper.make_node("If", ["c"], ["y"], name="if2",
                                  then_branch=helper.make_graph([helper.make_node("FooOp", [], ["a"], name="foo")],
                                                                "t", [], [vi("a", [2])]),
                                  else_branch=branch("b", [2]))],
                [vi("c", [], TensorProto.BOOL)], [vi("y", [2])], opset=13),
          ["node 'foo' (FooOp)", "unsupported operator"], ["--freeze", "c=" + write_true(tmp)])


def cli(nncc):
    def expect(args, code, text):
        r = subprocess.run([nncc, *args], capture_output=True, text=True, timeout=30)
        RUN[0] += 1
        ok = r.returncode == code and text in (r.stdout + r.stderr)
        print(f"cli {' '.join(args)}: {'ok' if ok else 'FAIL'}")
        if not ok:
            print("  ", r.returncode, r.stdout, r.stderr)
            FAILURES.append("cli " + " ".join(args))
    expect(["--help"], 0, "nncc run MODEL")
    expect(["--version"], 0, "nncc ")
    expect(["model.onnx", "--bogus"], 1, "unknown option '--bogus'")
    expect([], 1, "usage:")
    expect(["/nonexistent/model.onnx", "-o", "/tmp/x.c"], 1, "cannot open")
    expect(["--help"], 0, "--model NAME")
    expect(["train", "--help"], 0, "train options")
    expect(["export", "model.onnx", "-h"], 0, "export options")
    # --model picks a model of a .nn file for every command; the first is the default.
    dcgan = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../models/nn/dcgan.nn")
    expect(["info", dcgan], 0, "output image ")
    expect(["info", dcgan, "--model", "discriminator"], 0, "output real ")
    expect(["info", dcgan, "--model", "gan"], 0, "output judged ")
    expect(["info", dcgan, "--model", "critic"], 1,
           "--model critic: the file has no such model (its models: generator, discriminator, gan)")
    expect(["info", dcgan, "--model"], 1, "--model needs a value")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases(args.nncc, tmp)
    cli(args.nncc)
    print(f"{RUN[0] - len(FAILURES)} passed, {len(FAILURES)} failed")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
