"""Discovery of the ONNX backend test cases and the facts nncc needs per case.

A case is one model plus its test data sets.  Families:
  node, pytorch-converted, pytorch-operator, simple: <family>/<test>/model.onnx
      with test_data_set_*/input_*.pb and output_*.pb.
  light: light/light_<m>.onnx + light_<m>_output_<i>.pb.  They have no input
      files; like onnx's backend runner we feed generate_dummy_data() inputs
      (arange(n)/n as float32, unknown dims = 1).  The case is named
      light/test_<m> after the real/test_<m> entry that points at it.
  real: real/test_<m>/data.json only holds a URL.  An entry whose URL is a
      light/ file is that light case (its rtol/atol apply there); it is not
      a case of its own.  Any other entry would need a download, which is not
      possible offline, so it becomes a skipped real/ case.
"""

import glob
import json
import os
from dataclasses import dataclass, field

FAMILIES = ("node", "pytorch-converted", "pytorch-operator", "simple", "light", "real")
DIR_FAMILIES = FAMILIES[:4]

# Tolerance when no data.json names one.  onnx's own loader default is
# atol=1e-7; nncc's choice is slightly looser (--atol 1e-7 restores it).
DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-5

LIGHT_URL_PREFIX = "onnx/backend/test/data/light/"


def data_dir():
    import onnx  # deferred: keeps `import cases` cheap

    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")


@dataclass
class DataSet:
    name: str
    inputs: list  # paths, positional order
    outputs: list  # expected .pb paths, graph output order


@dataclass
class Case:
    family: str
    name: str
    model: str
    rtol: float
    atol: float
    case_dir: str = ""  # for dir families: holds test_data_set_*
    light_outputs: list = field(default_factory=list)
    skip: str = ""  # runner cannot run it at all

    @property
    def id(self):
        return f"{self.family}/{self.name}"


def _tolerance(json_path, rtol, atol):
    if os.path.exists(json_path):
        with open(json_path) as f:
            data = json.load(f)
        return data.get("rtol", rtol), data.get("atol", atol), data
    return rtol, atol, None


def discover(root=None, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL):
    """All cases, sorted by id.  Only reads directory listings and data.json."""
    root = root or data_dir()
    cases = []
    for fam in DIR_FAMILIES:
        fam_dir = os.path.join(root, fam)
        if not os.path.isdir(fam_dir):
            continue
        for name in os.listdir(fam_dir):
            case_dir = os.path.join(fam_dir, name)
            model = os.path.join(case_dir, "model.onnx")
            if not os.path.exists(model):
                continue
            r, a, _ = _tolerance(os.path.join(case_dir, "data.json"), rtol, atol)
            cases.append(Case(fam, name, model, r, a, case_dir=case_dir))

    # real/ entries: local light models get their tolerance, others are skipped.
    light_tol = {}
    real_dir = os.path.join(root, "real")
    if os.path.isdir(real_dir):
        for name in os.listdir(real_dir):
            r, a, data = _tolerance(os.path.join(real_dir, name, "data.json"), rtol, atol)
            if data is None:
                continue
            url = data.get("url", "")
            if url.startswith(LIGHT_URL_PREFIX):
                light_tol[os.path.basename(url)] = (name, r, a)
            else:
                cases.append(Case("real", name, "", r, a,
                                  skip=f"needs download from {url}"))

    for model in glob.glob(os.path.join(root, "light", "light_*.onnx")):
        base = os.path.basename(model)
        stem = base[: -len(".onnx")]
        name, r, a = light_tol.get(base, ("test_" + stem[len("light_"):], rtol, atol))
        outs = _numbered(lambda i: f"{model[:-len('.onnx')]}_output_{i}.pb")
        cases.append(Case("light", name, model, r, a, light_outputs=outs,
                          skip="" if outs else "no expected output file"))

    cases.sort(key=lambda c: (FAMILIES.index(c.family), c.name))
    return cases


def _numbered(path_of):
    """[path_of(0), path_of(1), ...] while the files exist."""
    out = []
    while os.path.exists(path_of(len(out))):
        out.append(path_of(len(out)))
    return out


@dataclass
class ModelInfo:
    inputs: list  # non-initializer graph inputs (ValueInfoProto), in order
    outputs: list  # graph outputs (ValueInfoProto)
    ops: list  # distinct op types of the top-level graph, sorted


def model_info(path):
    import onnx

    m = onnx.load(path, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    ops = set()
    for n in m.graph.node:
        dom = n.domain if n.domain not in ("", "ai.onnx") else ""
        ops.add(f"{dom}.{n.op_type}" if dom else n.op_type)
    return ModelInfo(
        [i for i in m.graph.input if i.name not in inits],
        list(m.graph.output),
        sorted(ops),
    )


def data_sets(case, info, work_dir):
    """The case's data sets; light inputs are generated into work_dir."""
    if case.family == "light":
        return [_light_data_set(case, info, work_dir)]
    sets = []
    for d in sorted(glob.glob(os.path.join(case.case_dir, "test_data_set*"))):
        ins = _numbered(lambda i: os.path.join(d, f"input_{i}.pb"))
        outs = _numbered(lambda i: os.path.join(d, f"output_{i}.pb"))
        sets.append(DataSet(os.path.basename(d), ins, outs))
    return sets


def _light_data_set(case, info, work_dir):
    # Same data as onnx.backend.test.runner.Runner.generate_dummy_data(random=False).
    import numpy as np
    from onnx import numpy_helper

    d = os.path.join(work_dir, "generated_inputs")
    os.makedirs(d, exist_ok=True)
    ins = []
    for k, vi in enumerate(info.inputs):
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or tt.elem_type != 1:
            raise ValueError(f"light input {vi.name!r} is not float: cannot generate data")
        shape = tuple(x.dim_value if x.HasField("dim_value") else 1 for x in tt.shape.dim)
        n = int(np.prod(shape))
        value = (np.arange(n).reshape(shape) / n).astype(np.float32)
        path = os.path.join(d, f"input_{k}.pb")
        with open(path, "wb") as f:
            f.write(numpy_helper.from_array(value, vi.name).SerializeToString())
        ins.append(path)
    return DataSet("test_data_set_0", ins, list(case.light_outputs))


def shape_args(info, inputs):
    """--shape NAME=D0xD1x... for tensor inputs whose declared shape is not fixed.

    The dims come from the input .pb actually fed.  A scalar is written NAME=
    (empty dim list).
    """
    import onnx

    args = []
    for vi, path in zip(info.inputs, inputs):
        if not vi.type.HasField("tensor_type"):
            continue
        tt = vi.type.tensor_type
        fixed = tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim)
        if fixed or not path.endswith(".pb"):
            continue
        t = onnx.TensorProto()
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        args += ["--shape", f"{vi.name}=" + "x".join(str(d) for d in t.dims)]
    return args
