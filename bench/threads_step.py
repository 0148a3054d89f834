#!/usr/bin/env python3
"""bench/threads_step.py — wall time per training step at --threads 1 and
--threads 2 (or --threads LIST), for one or more nnc binaries side by side,
alternating, and each as a fraction of the machine's f32 FMA peak on that
many cores (bench/peak.c through benchlib.machine_peak).

usage: bench/threads_step.py [--rounds N] [--models mlp,gpt] [--threads 1,2] [NNC ...]
       (default NNC: build/nnc; give a session-start build first to compare)

Times are the train_seconds of nnc's --metrics lines (training steps only,
as contention.py reads them), over the steps of the run.  Every (model,
threads, binary) case runs once per round, in one interleaved order, so a
slow spell of a shared machine falls on all of them alike; printed: each
round, the medians, the speed-up of the last thread count over the first,
each binary against the first, and GFLOP/s at the nominal FLOPs of a step
(benchlib.train_flops: three times the forward) against the peak of that
many cores (fma_gflops_1 for one thread, fma_gflops_all for more).  Wall
time on a shared machine counts the time other processes held the CPUs:
quote ratios from one run, and rerun quietly for the fractions.
"""
import argparse
import os
import statistics
import subprocess
import tempfile

import benchlib
from benchlib import ROOT

MODELS = {  # path, arguments, examples per step (the train block's batch)
    "mlp": ("examples/mnist_mlp.nn", ["--steps", "1000"], 64),
    "gpt": ("examples/shakespeare.nn", ["--steps", "30"], 32),
    "cnn": ("examples/mnist_cnn.nn", ["--steps", "100"], 64),
}


def step_seconds(nnc, model, threads, cache):
    path, args, _ = MODELS[model]
    return benchlib.step_seconds(path, [*args, "--threads", str(threads)], nnc=nnc, env={"NNC_CACHE_DIR": cache})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="mlp,gpt")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--no-peak", action="store_true", help="skip the FMA peak probe")
    ap.add_argument("nnc", nargs="*", default=[os.path.join(ROOT, "build", "nnc")])
    a = ap.parse_args()
    models, threads = a.models.split(","), [int(t) for t in a.threads.split(",")]
    cache = tempfile.mkdtemp()
    print(f"CPU: {benchlib.cpu_model()}; load average before: {os.getloadavg()[0]:.1f}")
    for n in a.nnc:  # compile once into the cache, so no round pays for it
        for m in models:
            subprocess.run([n, "--jit", "--steps", "1", os.path.join(ROOT, MODELS[m][0])], capture_output=True,
                           env=dict(os.environ, NNC_DATA=benchlib.DATA, NNC_CACHE_DIR=cache))
    times = {(m, t, n): [] for m in models for t in threads for n in a.nnc}
    for r in range(a.rounds):
        for m in models:
            for t in threads:
                for n in a.nnc:
                    times[(m, t, n)].append(step_seconds(n, m, t, cache))
        print(f"round {r + 1}: " + "; ".join(f"{m} t{t} {times[(m, t, n)][-1] * 1e3:.3f}"
                                              for m in models for t in threads for n in a.nnc), flush=True)
    peak = None if a.no_peak else benchlib.machine_peak()
    print(f"{'model':5} {'threads':>7} {'ms/step':>9} {'least':>8} {'GFLOP/s':>8} {'of peak':>8}  nnc")
    for m in models:
        flops = benchlib.train_flops(MODELS[m][0]) * MODELS[m][2]
        for t in threads:
            for n in a.nnc:
                s = statistics.median(times[(m, t, n)])
                gf = flops / 1e9 / s
                frac = "-"
                if peak:
                    frac = f"{gf / (peak['fma_gflops_1'] if t == 1 else peak['fma_gflops_all']):.2f}"
                print(f"{m:5} {t:7d} {s * 1e3:9.3f} {min(times[(m, t, n)]) * 1e3:8.3f} {gf:8.1f} {frac:>8}  {n}")
    if len(threads) > 1:
        print(f"--threads {threads[0]} / --threads {threads[-1]} (above 1: the threads pay off):")
        for m in models:
            for n in a.nnc:
                print(f"  {m:4} {statistics.median(times[(m, threads[0], n)]) / statistics.median(times[(m, threads[-1], n)]):5.2f}  {n}")
    if len(a.nnc) > 1:
        print(f"each binary / {a.nnc[0]} (below 1: faster):")
        for m in models:
            for t in threads:
                for n in a.nnc[1:]:
                    print(f"  {m:4} t{t} {statistics.median(times[(m, t, n)]) / statistics.median(times[(m, t, a.nnc[0])]):5.2f}  {n}")


if __name__ == "__main__":
    main()
