#!/usr/bin/env python3
"""bench/dist_agree.py — how far N ranks are from one process, per tensor,
on the GPT of examples/shakespeare.nn: the same global batch, S steps, one
thread per process, once with the example's AdamW and once with the same
model under plain SGD (lr 0.1), which does not rescale a gradient's noise.

usage: bench/dist_agree.py [--steps S] [--ranks N] [--batch B] [NNC]

Prints, per optimizer, the train and validation losses of both runs, all
parameters together (||a - b|| / ||a||), and the tensors sorted by
max|a - b| / max|a|, worst first (docs/distributed.md section 3).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("NNC_DATA") or os.path.join(ROOT, "..", "shared", "data")
sys.path.insert(0, os.path.join(ROOT, "tools"))
from nnc_torch import read_safetensors, split_checkpoint  # noqa: E402

MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]


def load(path):
    """The parameters of an nnc checkpoint, each flat in float64."""
    params, _ = split_checkpoint(read_safetensors(path)[0])
    return {k: v.astype(np.float64).ravel() for k, v in params.items()}


def train(nnc, model, steps, batch, ranks, tmp, tag):
    save, metrics = os.path.join(tmp, tag + ".st"), os.path.join(tmp, tag + ".jsonl")
    cmd = [nnc, "--jit", "--steps", str(steps), "--batch", str(batch), "--threads", "1", "--save", save,
           "--metrics", metrics, model]
    if ranks > 1:
        cmd = MPIRUN + ["-np", str(ranks)] + cmd
    env = dict(os.environ, NNC_DATA=DATA, OMPI_MCA_btl_vader_single_copy_mechanism="none")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    lines = [json.loads(x) for x in open(metrics) if x.strip() and not x.startswith('{"nnc": ')]
    return load(save), lines[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("nnc", nargs="?", default=os.path.join(ROOT, "build", "nnc"))
    a = ap.parse_args()
    src = open(os.path.join(ROOT, "examples", "shakespeare.nn")).read()
    with tempfile.TemporaryDirectory() as tmp:
        for opt in ("adamw", "sgd"):
            model = os.path.join(ROOT, "examples", "shakespeare.nn")
            if opt == "sgd":
                model = os.path.join(tmp, "shakespeare_sgd.nn")
                text = re.sub(r"optimizer\s*=\s*adamw\([^)]*\)", "optimizer = sgd(lr: 0.1)", src)
                open(model, "w").write(text)   # the data path is NNC_DATA's, found from anywhere
            one, m1 = train(a.nnc, model, a.steps, a.batch, 1, tmp, opt + "1")
            many, mn = train(a.nnc, model, a.steps, a.batch, a.ranks, tmp, opt + "n")
            num = sum(float(np.sum((one[k] - many[k]) ** 2)) for k in one)
            den = sum(float(np.sum(one[k] ** 2)) for k in one)
            rows = sorted(((float(np.max(np.abs(one[k] - many[k])) / max(float(np.max(np.abs(one[k]))), 1e-30)), k)
                           for k in one), reverse=True)
            print(f"{opt}, {a.steps} steps, batch {a.batch}: 1 process against {a.ranks} ranks")
            print(f"  losses: train {m1.get('train_loss')} / {mn.get('train_loss')}, "
                  f"validation {m1.get('test_loss')} / {mn.get('test_loss')}")
            print(f"  all parameters: ||a - b|| / ||a|| = {(num / den) ** 0.5:.3g}")
            for rel, k in rows[:a.top]:
                print(f"  {rel:9.3g}  {k}")
            print(f"  ... {len(rows)} tensors; median {rows[len(rows) // 2][0]:.3g}")


if __name__ == "__main__":
    main()
