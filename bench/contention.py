#!/usr/bin/env python3
"""bench/contention.py — nnc's training speed with the default threads
against --threads 1, on an idle machine and beside a competing CPU-bound
process (`yes > /dev/null`), for one or more nnc binaries side by side.

usage: bench/contention.py [--rounds N] [--models mlp,gpt,cnn] [NNC ...]
       (default NNC: build/nnc; give /work/main/build/nnc build/nnc to
       compare a build before a change with one after)

Every (binary, model, threads, load) case runs once per round, the cases in
one interleaved order, reversed every other round (so that no case always
runs first after the competitor starts, or right after another), so slow
spells of a shared machine fall on all of them alike.  Times are the train_seconds of nnc's --metrics
line (training steps only), per step.  Printed: the median per case, and
the ratios that matter: default threads / --threads 1 under load (above 1:
the second thread costs time), and each binary against the first.
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys

import benchlib
from benchlib import ROOT

MODELS = {
    "mlp": ("examples/mnist_mlp.nn", ["--epochs", "1"]),
    "gpt": ("examples/shakespeare.nn", ["--steps", "30"]),
    "cnn": ("examples/mnist_cnn.nn", ["--steps", "100"]),
}
# quick: still long enough that the default's chooser (runtime/pace.c: 2 warm-up steps, a probe of 6)
# spends most steps in the mode it chose
QUICK = {"mlp": ["--steps", "200"], "gpt": ["--steps", "20"], "cnn": ["--steps", "40"]}


def run(nnc, model, threads, quick=False):
    """Seconds per training step of one nnc --jit run."""
    path, args = MODELS[model]
    if quick:
        args = QUICK[model]
    if threads:
        args = [*args, "--threads", str(threads)]
    return benchlib.step_seconds(path, args, nnc=nnc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="mlp,gpt,cnn")
    ap.add_argument("--quick", action="store_true", help="fewer steps (mlp 200, gpt 20, cnn 40): for a loaded machine")
    ap.add_argument("nnc", nargs="*", default=[os.path.join(ROOT, "build", "nnc")])
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that `finally` stops the competitor
    models = a.models.split(",")
    cases = [(load, model, nnc, threads) for load in ("idle", "busy") for model in models
             for nnc in a.nnc for threads in (0, 1)]
    times = {c: [] for c in cases}
    cpu = benchlib.cpu_model()
    print(f"CPU: {cpu}; {os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.1f}")
    for r in range(a.rounds):
        for load in ("idle", "busy"):
            competitor = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if load == "busy" else None
            try:
                for c in cases if r % 2 == 0 else cases[::-1]:
                    if c[0] == load:
                        times[c].append(run(c[2], c[1], c[3], a.quick))
            finally:
                if competitor:
                    competitor.kill()
                    competitor.wait()
        print(f"round {r + 1} of {a.rounds}: " + "; ".join(f"{c[0]} {c[1]} {'default' if c[3] == 0 else '1'} "
              f"{os.path.basename(c[2])} {times[c][-1] * 1e3:.3f}" for c in cases), flush=True)
    med = {c: statistics.median(v) for c, v in times.items()}
    print(f"{'load':5} {'model':5} {'threads':8} {'ms/step':>9}  nnc")
    for c in cases:
        print(f"{c[0]:5} {c[1]:5} {'default' if c[3] == 0 else '1':8} {med[c] * 1e3:9.3f}  {c[2]}")
    print("default threads / --threads 1 (above 1: the second thread costs time):")
    for load in ("idle", "busy"):
        for model in models:
            for nnc in a.nnc:
                print(f"  {load:5} {model:4} {med[(load, model, nnc, 0)] / med[(load, model, nnc, 1)]:5.2f}  {nnc}")
    if len(a.nnc) > 1:
        print(f"each binary / {a.nnc[0]} (below 1: faster):")
        for c in cases:
            if c[2] != a.nnc[0]:
                print(f"  {c[0]:5} {c[1]:4} {'default' if c[3] == 0 else '1':8} "
                      f"{med[c] / med[(c[0], c[1], a.nnc[0], c[3])]:5.2f}  {c[2]}")


if __name__ == "__main__":
    main()
