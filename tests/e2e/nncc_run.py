"""`nncc run` on an in-memory ONNX model, as the e2e tests use it."""
import os
import subprocess

import numpy as np


def nncc_run(nncc, model, feeds, work, timeout=600):
    """Saves model and feeds (name -> array) under work and runs them through
    `nncc run`. Returns (model path, the outputs as arrays), the outputs None
    after printing nncc's error when it fails."""
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "model.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    cmd = [nncc, "run", path, "--output-dir", work]
    for k, (name, val) in enumerate(feeds.items()):
        np.save(os.path.join(work, f"in{k}.npy"), val)
        cmd += ["--input", f"{name}={os.path.join(work, f'in{k}.npy')}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        print(f"nncc run failed: {r.stderr.strip()[-2000:]}")
        return path, None
    return path, [np.load(os.path.join(work, f"output_{k}.npy")) for k in range(len(model.graph.output))]
