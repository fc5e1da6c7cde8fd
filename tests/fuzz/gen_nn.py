"""Structure-aware fuzzing of the .nn frontend, beside libFuzzer's byte-level
fuzz_nn: random chains of layers with random options (most of them valid),
each run through `nncc info`. A crash (a status other than 0 or 1), an
internal error, or a pipeline error on a file the frontend accepted is a
finding, saved under OUT/found/. With --corpus DIR some accepted files are
written there as libFuzzer seeds.

    tests/fuzz/gen_nn.py --nncc build/nncc -n 3000 --seed 1 --out /tmp/gen_nn
"""
import argparse
import os
import random
import subprocess
import sys

ACTS = ["relu", "sigmoid", "tanh", "linear", "step", "elu", "selu", "softmax", "log_softmax",
        "swish", "gelu", "softplus", "softsign", "hard_sigmoid", "hard_swish", "mish", "prelu",
        "leaky_relu(0.1)", "softmax(axis=0)", "elu(alpha=0.3)"]

def ri(a, b):
    return random.randint(a, b)

def ints(n, lo, hi):
    if random.random() < 0.5:
        return str(ri(lo, hi))
    return "[" + ", ".join(str(ri(lo, hi)) for _ in range(n)) + "]"

def padding(n):
    r = random.random()
    if r < 0.35: return "same"
    if r < 0.6: return "valid"
    if r < 0.8: return str(ri(0, 3))
    if r < 0.9: return ints(n, 0, 2)
    return "[" + ", ".join(str(ri(0, 2)) for _ in range(2 * n)) + "]"

def recurrent(name, src):
    """rnn/lstm/gru with random options on a [steps, features] src; an
    initial state gets its own input line, of the right shape or not."""
    op = random.choice(["rnn", "lstm", "gru"])
    units, layers = ri(1, 6), random.choice([1, 1, 2, 3])
    bi, seq = random.random() < 0.5, random.random() < 0.5
    o = [f"bidirectional={'true' if bi else 'false'}", f"layers={layers}",
         f"return_sequences={'true' if seq else 'false'}"]
    if random.random() < 0.5:
        o.append(f"merge={random.choice(['concat', 'sum', 'mul', 'ave'])}")
    pre = ""
    for state in ["initial_state", "initial_cell"] if op == "lstm" else ["initial_state"]:
        if random.random() < 0.3:
            width = (2 if bi else 1) * units + (random.random() < 0.1)
            shape = f"[{layers}, {width}]" if layers > 1 else f"[{width}]"
            pre += f"input {name}_{state} {shape}\n"
            o.append(f"{state}={name}_{state}")
    return f"{pre}{name} = {op}({src}, {units}, {', '.join(o)})", 2 if seq else 1

def capsule(name, src, rank):
    if rank == 3:
        k = ri(1, 4)
        return f"{name} = primary_capsules({src}, {ri(1, 4)}, {ri(1, 5)}, kernel={k}, stride={ri(1, 3)})", 2
    kind = random.choice(["caps", "length", "squash", "mask"])
    if kind == "caps":
        return f"{name} = capsules({src}, {ri(1, 5)}, {ri(1, 6)}, routing={ri(1, 4)})", 2
    if kind == "length":
        return f"{name} = capsule_length({src})", rank - 1
    if kind == "mask":
        return f"{name} = capsule_mask({src})", rank
    return f"{name} = squash({src})", rank

def layer(name, src, rank):
    """A random layer on src (sample rank `rank`); returns text and new rank guess."""
    nsp = rank - 1
    if rank == 2 and random.random() < 0.3:
        return recurrent(name, src)
    if rank in (2, 3) and random.random() < 0.15:
        return capsule(name, src, rank)
    opts = []
    if random.random() < 0.3: opts.append(f"activation={random.choice(ACTS)}")
    if 1 <= nsp <= 3:
        d = f"{nsp}d"
        kind = random.choice(["conv", "convt", "pool", "avg", "up", "pad", "crop", "gpool", "dw", "sep", "bn", "drop", "act", "flat"])
        if kind == "conv":
            o = [f"kernel={ints(nsp, 1, 4)}", f"stride={ints(nsp, 1, 3)}", f"padding={padding(nsp)}"]
            if random.random() < 0.3: o.append(f"dilation={ints(nsp, 1, 3)}")
            if random.random() < 0.2: o.append(f"groups={random.choice([1, 2])}")
            if random.random() < 0.2: o.append("bias=false")
            return f"{name} = conv{d}({src}, {random.choice([2, 4, 6])}, {', '.join(o + opts)})", rank
        if kind == "convt":
            o = [f"kernel={ints(nsp, 1, 4)}", f"stride={ints(nsp, 1, 3)}", f"padding={padding(nsp)}"]
            if random.random() < 0.3: o.append(f"output_padding={ri(0, 1)}")
            return f"{name} = conv{d}_transpose({src}, {random.choice([2, 4])}, {', '.join(o + opts)})", rank
        if kind in ("pool", "avg"):
            p = "maxpool" if kind == "pool" else "avgpool"
            o = [f"padding={padding(nsp)}"]
            if random.random() < 0.5: o.append(f"stride={ints(nsp, 1, 3)}")
            return f"{name} = {p}{d}({src}, {ints(nsp, 1, 3)}, {', '.join(o)})", rank
        if kind == "up":
            return f"{name} = upsample{d}({src}, {ints(nsp, 1, 3)}, mode={random.choice(['nearest', 'bilinear'])})", rank
        if kind == "pad":
            return f"{name} = zero_pad{d}({src}, {padding(nsp) if random.random() < 0.2 else ints(nsp, 0, 2)})", rank
        if kind == "crop":
            return f"{name} = crop{d}({src}, {ints(nsp, 0, 1)})", rank
        if kind == "gpool":
            k = random.random() < 0.5
            return f"{name} = global_{random.choice(['avg', 'max'])}pool({src}, keepdims={'true' if k else 'false'})", rank if k else 1
        if kind == "dw" and nsp <= 2:
            return f"{name} = depthwise_conv{d}({src}, multiplier={ri(1, 2)}, padding={padding(nsp)})", rank
        if kind == "sep" and nsp <= 2:
            return f"{name} = separable_conv{d}({src}, {ri(1, 5)}, padding={padding(nsp)}, stride={ri(1, 2)})", rank
        if kind == "flat":
            return f"{name} = flatten({src})", 1
    kind = random.choice(["dense", "bn", "drop", "act", "flat", "reshape"])
    if kind == "dense" and rank <= 2:
        return f"{name} = dense({src}, {ri(1, 8)}{', ' + ', '.join(opts) if opts else ''})", rank
    if kind == "bn":
        return f"{name} = batchnorm({src})", rank
    if kind == "drop":
        return f"{name} = dropout({src}, 0.{ri(0, 9)})", rank
    if kind == "act":
        return f"{name} = {random.choice(ACTS).split('(')[0]}({src})", rank
    if kind == "reshape":
        return f"{name} = reshape({src}, [-1])", 1
    return f"{name} = flatten({src})", 1

def chain(model_name, dims, calls=()):
    """A model of random layers on input x [dims]; with some chance it calls
    one of `calls` (earlier models on the same input). Returns its text."""
    rank = len(dims)
    lines = [f"model {model_name}", f"input x [{', '.join(map(str, dims))}]"]
    names, ranks = ["x"], {"x": rank}
    if calls and random.random() < 0.7:
        callee, callee_rank = random.choice(calls)
        lines.append(f"c = {callee}(x)")
        names.append("c")
        ranks["c"] = callee_rank
    for i in range(ri(1, 8)):
        src = random.choice(names[-3:])
        text, r = layer(f"l{i}", src, ranks[src])
        lines.append(text)
        names.append(f"l{i}")
        ranks[f"l{i}"] = r
    if random.random() < 0.3 and len(names) > 2:
        lines.append(f"m = {random.choice(['add', 'multiply', 'concat'])}([{names[-1]}, {names[-2]}])")
        names.append("m")
        ranks["m"] = ranks[names[-2]]
    lines.append(f"output {names[-1]}")
    return "\n".join(lines) + "\n", ranks[names[-1]]

def model():
    """One model, or (a third of the time) two or three where the later ones
    call the earlier, as a GAN's do; `nncc info` checks them all."""
    rank = random.choice([1, 2, 2, 3, 4])
    dims = [ri(1, 12) for _ in range(rank)]
    dims[0] = random.choice([1, 2, 3, 4])
    texts, calls = [], []
    for k in range(1 if random.random() < 0.67 else ri(2, 3)):
        text, out_rank = chain(f"g{k}", dims, calls)
        texts.append(text)
        calls.append((f"g{k}", out_rank))
    return "".join(texts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nncc", required=True)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="/tmp/gen_nn")
    ap.add_argument("--corpus", help="write every 50th accepted model here")
    a = ap.parse_args()
    random.seed(a.seed)
    os.makedirs(os.path.join(a.out, "found"), exist_ok=True)
    ok = rejected = findings = 0
    for i in range(a.n):
        text = model()
        path = os.path.join(a.out, "m.nn")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([a.nncc, "info", path, "--model", f"g{text.count('model g') - 1}"],
                           capture_output=True, text=True, timeout=60)
        pipeline_err = any(l.startswith("nncc: error:") and "node '" in l for l in r.stderr.splitlines())
        if r.returncode not in (0, 1) or pipeline_err or "internal error" in r.stderr:
            findings += 1
            print(f"FINDING {i} (status {r.returncode}):\n{text}{r.stderr[:2000]}")
            with open(os.path.join(a.out, "found", f"f{i}.nn"), "w") as f:
                f.write(text)
        if r.returncode == 0:
            ok += 1
            if a.corpus and i % 50 == 0:
                with open(os.path.join(a.corpus, f"gen_{a.seed}_{i}.nn"), "w") as f:
                    f.write(text)
        else:
            rejected += 1
    print(f"{ok} compiled, {rejected} rejected with messages, {findings} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
