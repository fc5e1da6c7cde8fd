"""Loading expected values and checking nncc's outputs against them.

nncc output convention for graph output i, with stem = DIR/output_<i>:
  tensor           stem.npy
  sequence         stem.seq (text: element count n) and element j at stem_<j>,
                   recursively (a tensor element is stem_<j>.npy)
  absent optional  stem.none (empty file); a present optional is its value
The .npy dtype must equal the ONNX element type.  Types numpy lacks use the
ml_dtypes name as descr ('bfloat16', 'float8_e4m3fn', 'int4', ...), one element
per itemsize (sub-byte types: one per byte, value in the low bits).  Raw void
data of the same itemsize ('|V2') is accepted too.  Strings are '|S<n>'
(UTF-8) or '<U<n>'.
"""

import os

import numpy as np


class Mismatch(Exception):
    """An output is wrong.  key groups similar failures in the report."""

    def __init__(self, key, detail):
        super().__init__(detail)
        self.key = key
        self.detail = detail


class RunnerUnsupported(Exception):
    """The runner itself cannot handle this value type (maps, sparse)."""


def load_expected(path, type_proto):
    """Read an expected output .pb, as onnx's backend runner does."""
    import onnx
    from onnx import numpy_helper

    with open(path, "rb") as f:
        raw = f.read()
    kind = type_proto.WhichOneof("value") if type_proto is not None else None
    if kind in (None, "tensor_type"):
        t = onnx.TensorProto()
        t.ParseFromString(raw)
        return numpy_helper.to_array(t)
    try:
        if kind == "sequence_type":
            s = onnx.SequenceProto()
            s.ParseFromString(raw)
            value = numpy_helper.to_list(s)
        elif kind == "optional_type":
            o = onnx.OptionalProto()
            o.ParseFromString(raw)
            value = numpy_helper.to_optional(o)
        else:
            raise RunnerUnsupported(f"{kind} outputs")
    except TypeError as e:
        raise RunnerUnsupported(str(e)) from e
    _check_loadable(value)
    return value


def _check_loadable(value):
    if isinstance(value, dict):
        raise RunnerUnsupported("map values in outputs")
    if isinstance(value, list):
        for v in value:
            _check_loadable(v)


def check(stem, expected, rtol, atol, label):
    """Raise Mismatch unless the nncc output at stem matches expected."""
    if expected is None:
        if not os.path.exists(stem + ".none"):
            raise Mismatch("missing output",
                           f"{label}: expected an absent optional ({_b(stem)}.none)")
        return
    if isinstance(expected, list):
        seq = stem + ".seq"
        if not os.path.exists(seq):
            raise Mismatch("missing output", f"{label}: no {_b(seq)} (sequence output)")
        with open(seq) as f:
            text = f.read().strip()
        if text != str(len(expected)):
            raise Mismatch("wrong shape",
                           f"{label}: sequence length {text!r}, expected {len(expected)}")
        for j, e in enumerate(expected):
            check(f"{stem}_{j}", e, rtol, atol, f"{label}[{j}]")
        return
    path = stem + ".npy"
    if not os.path.exists(path):
        raise Mismatch("missing output", f"{label}: no {_b(path)}")
    try:
        got = np.load(path, allow_pickle=False)
    except Exception as e:  # a corrupt file is nncc's bug, not the runner's
        raise Mismatch("unreadable output", f"{label}: {_b(path)}: {e}") from e
    compare_arrays(got, np.asarray(expected), rtol, atol, label)


def _b(path):
    return os.path.basename(path)


def _family(dt):
    """'float', 'complex', 'int', 'bool' or 'string' for a numpy/ml_dtypes dtype."""
    if dt == object or dt.kind in "SU":
        return "string"
    if dt.kind == "b":
        return "bool"
    if dt.kind in "iu":
        return "int"
    if dt.kind == "f":
        return "float"
    if dt.kind == "c":
        return "complex"
    name = dt.name  # ml_dtypes types are kind 'V'
    if name.startswith(("float", "bfloat")):
        return "float"
    if name.startswith(("int", "uint")):
        return "int"
    return "other"


def compare_arrays(got, want, rtol, atol, label):
    if got.shape != want.shape:
        raise Mismatch("wrong shape", f"{label}: shape {got.shape}, expected {want.shape}")
    fam = _family(want.dtype)
    if fam == "string":
        if got.dtype.kind not in "SU":
            raise Mismatch("wrong dtype", f"{label}: dtype {got.dtype}, expected strings")
        g = [_text(x) for x in got.ravel().tolist()]
        w = [_text(x) for x in want.ravel().tolist()]
        bad = [k for k in range(len(w)) if g[k] != w[k]]
        if bad:
            k = bad[0]
            raise Mismatch("wrong values",
                           f"{label}: {len(bad)}/{len(w)} strings differ, first at flat "
                           f"index {k}: {g[k]!r} != {w[k]!r}")
        return
    if got.dtype != want.dtype:
        # raw bits of a type numpy lacks: reinterpret as the expected type
        if got.dtype.kind == "V" and got.dtype.itemsize == want.dtype.itemsize \
                and got.dtype.names is None:
            got = got.view(want.dtype)
        else:
            raise Mismatch("wrong dtype", f"{label}: dtype {got.dtype}, expected {want.dtype}")
    if fam in ("int", "bool"):
        g, w = got.astype(np.int64), want.astype(np.int64)
        ok = g == w
        diff = np.abs(g.astype(np.float64) - w.astype(np.float64))
    elif fam in ("float", "complex"):
        big = np.complex128 if fam == "complex" else np.float64
        g, w = got.astype(big), want.astype(big)
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(g - w)
            # infinities must match exactly (g == w), as in assert_allclose
            close = np.isfinite(g) & np.isfinite(w) & (diff <= atol + rtol * np.abs(w))
            ok = (g == w) | (np.isnan(g) & np.isnan(w)) | close
    else:
        raise Mismatch("wrong dtype", f"{label}: cannot compare dtype {want.dtype}")
    if ok.all():
        return
    bad = ~ok
    n_bad = int(bad.sum())
    bad_diff = np.where(bad, diff, -1.0)
    if np.isnan(bad_diff).any():
        idx = np.unravel_index(int(np.argmax(np.isnan(bad_diff))), bad.shape)
    else:
        idx = np.unravel_index(int(np.argmax(bad_diff)), bad.shape)
    max_diff = diff[idx]
    tol = f"; rtol={rtol:g} atol={atol:g}" if fam in ("float", "complex") else ""
    raise Mismatch(
        "wrong values",
        f"{label}: {n_bad}/{bad.size} elements differ, max abs diff {float(max_diff):.4g} "
        f"at {tuple(int(x) for x in idx)} (got {_item(got, idx)}, expected "
        f"{_item(want, idx)}{tol})")


def _item(a, idx):
    fam = _family(a.dtype)
    if fam == "float":
        return f"{float(a[idx]):.7g}"
    conv = {"complex": complex, "int": int, "bool": bool}
    return repr(conv[fam](a[idx]))


def _text(x):
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
