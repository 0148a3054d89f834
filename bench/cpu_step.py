#!/usr/bin/env python3
"""bench/cpu_step.py — single-thread CPU time per training step (user +
system), for one or more nnc binaries side by side: the figure that a
loaded machine disturbs least (a step's CPU time does not count the time
other processes held the CPU, only what they did to its caches).

usage: bench/cpu_step.py [--rounds N] [--models mlp,gpt,cnn] [NNC ...]
       (default NNC: build/nnc)

Each case runs `nnc --jit --threads 1` twice, for a short and a long run
(MLP 200 and 4200 steps, GPT 3 and 13, CNN 20 and 120); the difference of
their CPU times over the difference of the steps is the CPU time of a step,
with compiling, loading the data and evaluating left out (both runs do them
alike).  The cases of a round run in one interleaved order, so slow spells
fall on all binaries alike; printed: per round, then the medians (and
the least: the round that other work disturbed least), each
binary against the first, and the step as a fraction of one core's f32 FMA
peak (bench/peak.c through benchlib.machine_peak) at the step's nominal
FLOPs (benchlib.train_flops: three times the forward nnc --summary counts).
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

import benchlib
from benchlib import DATA, ROOT

MODELS = {  # path, short steps, long steps, examples per step (the train block's batch)
    "mlp": ("examples/mnist_mlp.nn", 200, 4200, 64),
    "gpt": ("examples/shakespeare.nn", 3, 13, 32),
    "cnn": ("examples/mnist_cnn.nn", 20, 120, 64),
}


def cpu_of(cmd, env):
    """User + system CPU seconds of one child run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def step_cpu(nnc, model, env):
    path, short, long, _ = MODELS[model]
    base = [nnc, "--jit", "--threads", "1"]
    a = cpu_of(base + ["--steps", str(short), os.path.join(ROOT, path)], env)
    b = cpu_of(base + ["--steps", str(long), os.path.join(ROOT, path)], env)
    return (b - a) / (long - short)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="mlp,gpt,cnn")
    ap.add_argument("--no-peak", action="store_true", help="skip the FMA peak probe")
    ap.add_argument("nnc", nargs="*", default=[os.path.join(ROOT, "build", "nnc")])
    a = ap.parse_args()
    models = a.models.split(",")
    tmp = tempfile.mkdtemp()
    env = dict(os.environ, NNC_DATA=DATA, NNC_CACHE_DIR=os.environ.get("NNC_CACHE_DIR", os.path.join(tmp, "cache")))
    cpu = benchlib.cpu_model()
    print(f"CPU: {cpu}; load average before: {os.getloadavg()[0]:.1f}")
    for nnc in a.nnc:  # compile once into the cache, so no round pays for it
        for model in models:
            cpu_of([nnc, "--jit", "--threads", "1", "--steps", "1", os.path.join(ROOT, MODELS[model][0])], env)
    times = {(m, n): [] for m in models for n in a.nnc}
    for r in range(a.rounds):
        for m in models:
            for n in a.nnc:
                times[(m, n)].append(step_cpu(n, m, env))
        print(f"round {r + 1}: " + "; ".join(f"{m} {n} "
                                              f"{times[(m, n)][-1] * 1e3:.3f}" for m in models for n in a.nnc), flush=True)
    peak = None
    if not a.no_peak:
        peak = benchlib.machine_peak()
    print(f"{'model':5} {'ms CPU/step':>12} {'least':>8} {'GFLOP/s':>8} {'of 1-core peak':>15}  nnc")
    for m in models:
        for n in a.nnc:
            t = statistics.median(times[(m, n)])
            gf = benchlib.train_flops(MODELS[m][0]) * MODELS[m][3] / 1e9 / t
            frac = f"{gf / peak['fma_gflops_1']:.2f}" if peak else "-"
            print(f"{m:5} {t * 1e3:12.3f} {min(times[(m, n)]) * 1e3:8.3f} {gf:8.1f} {frac:>15}  {n}")
    if len(a.nnc) > 1:
        print(f"each binary / {a.nnc[0]} (below 1: less CPU per step):")
        for m in models:
            for n in a.nnc[1:]:
                print(f"  {m:4} {statistics.median(times[(m, n)]) / statistics.median(times[(m, a.nnc[0])]):5.2f}  {n}")


if __name__ == "__main__":
    main()
