#!/usr/bin/python3
"""compare.py A B TOL [--norm] [--metrics MA MB]

Compares the parameters of two safetensors checkpoints (optimizer state and
the step counter aside): per tensor max|a - b| / max|a|, or with --norm the
whole set's ||a - b|| / ||a||; with --metrics, also every train_loss and
test_loss of two metrics files (JSON lines), |a - b| / |a|.  Prints the
worst figures and exits 1 when one is above TOL.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools"))
from nnc_torch import read_safetensors, split_checkpoint  # noqa: E402


def load(path):
    """The parameters of an nnc checkpoint, each flat in float64."""
    params, _ = split_checkpoint(read_safetensors(path)[0])
    return {k: v.astype(np.float64).ravel() for k, v in params.items()}


def main():
    args = sys.argv[1:]
    a, b, tol = load(args[0]), load(args[1]), float(args[2])
    if sorted(a) != sorted(b):
        print("the checkpoints hold different tensors")
        return 1
    worst = 0.0
    if "--norm" in args:
        num = sum(float(np.sum((a[k] - b[k]) ** 2)) for k in a)
        den = sum(float(np.sum(a[k] ** 2)) for k in a)
        worst = (num / den) ** 0.5
        print(f"parameters: ||a - b|| / ||a|| = {worst:.3g} (tolerance {tol:g})")
    else:
        rows = sorted(((float(np.max(np.abs(a[k] - b[k])) / max(float(np.max(np.abs(a[k]))), 1e-30)), k) for k in a),
                      reverse=True)
        worst = rows[0][0]
        print(f"parameters: worst max|a - b| / max|a| = {worst:.3g} ({rows[0][1]}; tolerance {tol:g})")
    if "--metrics" in args:
        i = args.index("--metrics")
        la = [json.loads(line) for line in open(args[i + 1])]
        lb = [json.loads(line) for line in open(args[i + 2])]
        if len(la) != len(lb):
            print(f"metrics: {len(la)} lines against {len(lb)}")
            return 1
        loss = 0.0
        for x, y in zip(la, lb):
            for key in ("train_loss", "test_loss"):
                if key in x:
                    loss = max(loss, abs(x[key] - y[key]) / max(abs(x[key]), 1e-30))
        # the metrics print 6 significant digits: two roundings may differ by one
        # unit of the last, up to 1e-5 relative, on top of the tolerance
        print(f"losses: worst |a - b| / |a| = {loss:.3g} over {len(la)} lines (tolerance {tol:g} + 1e-5 for "
              "the 6 digits printed)")
        if loss > tol + 1e-5:
            return 1
    return 0 if worst <= tol else 1


sys.exit(main())
