#!/usr/bin/env python3
"""bench/split_ceiling.py — the ceiling of any way of sharing a training step
between two CPUs: two one-thread trainers at half the batch, pinned to CPU 0
and CPU 1 and started together, do a whole step's work with no
synchronisation and nothing shared.  Against them, in the same rounds: the
step at --threads 2 (the pool), one half-batch trainer alone, and the whole
step on one thread.

    bench/split_ceiling.py [--rounds N] [--models gpt,mlp,cnn] [NNC]

A data-parallel step (each thread its shard of the batch through the whole
forward and backward, the weight gradients added once) can at best reach the
halves' time before its reduction; the pool's step against it is what the
threads lose to sharing every kernel.  Each round is framed by bench_peak
--pair (one L3 or two: see threads_step.py).  Wall time: quiet machines only.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

import benchlib
from benchlib import ROOT

MODELS = {  # path, steps, the train block's batch
    "gpt": ("examples/shakespeare.nn", 30, 32),
    "mlp": ("examples/mnist_mlp.nn", 10000, 64),  # training about 1.2 s: the halves overlap though started apart
    "cnn": ("examples/mnist_cnn.nn", 300, 64),
}


def start(nnc, model, threads, batch, cpu, cache, tmp):
    """An nnc --jit run, pinned to `cpu` unless None; (process, metrics file)."""
    path, steps, _ = MODELS[model]
    metrics = tempfile.mktemp(suffix=".jsonl", dir=tmp)
    cmd = (["taskset", "-c", str(cpu)] if cpu is not None else []) + [
        nnc, "--jit", os.path.join(ROOT, path), "--steps", str(steps), "--threads", str(threads),
        "--batch", str(batch), "--metrics", metrics]
    env = dict(os.environ, NNC_DATA=benchlib.DATA, NNC_CACHE_DIR=cache)
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True), metrics


def step_ms(run):
    """Milliseconds per step of a started run (its train_seconds over its steps)."""
    proc, metrics = run
    err = proc.communicate()[1]
    if proc.returncode != 0:
        raise SystemExit(f"nnc failed ({proc.returncode}):\n{err}")
    with open(metrics) as f:
        lines = [json.loads(line) for line in f if line.strip() and '"nnc"' not in line]
    return 1e3 * sum(line.get("train_seconds", 0.0) for line in lines) / lines[-1]["step"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--models", default="gpt,mlp,cnn")
    ap.add_argument("nnc", nargs="?", default=os.path.join(ROOT, "build", "nnc"))
    a = ap.parse_args()
    cache, tmp = tempfile.mkdtemp(), tempfile.mkdtemp()
    print(f"CPU: {benchlib.cpu_model()}; load average before: {os.getloadavg()[0]:.1f}")
    peak = benchlib.machine_peak()
    print(f"peak: {peak['fma_gflops_1']} GFLOP/s one core, {peak['fma_gflops_all']} all")
    cases = ("t2", "halves at once", "half alone", "t1")
    for m in a.models.split(","):
        batch = MODELS[m][2]
        step_ms(start(a.nnc, m, 1, batch, None, cache, tmp))  # compile both batches into the cache
        step_ms(start(a.nnc, m, 1, batch // 2, None, cache, tmp))
        times = {c: [] for c in cases}
        for r in range(a.rounds):
            before = benchlib.pair_ns()
            times["t2"].append(step_ms(start(a.nnc, m, 2, batch, None, cache, tmp)))
            halves = [start(a.nnc, m, 1, batch // 2, cpu, cache, tmp) for cpu in (0, 1)]
            times["halves at once"].append(max(step_ms(h) for h in halves))
            times["half alone"].append(step_ms(start(a.nnc, m, 1, batch // 2, 0, cache, tmp)))
            times["t1"].append(step_ms(start(a.nnc, m, 1, batch, None, cache, tmp)))
            after = benchlib.pair_ns()
            print(f"{m} round {r + 1} @{before}/{after} ns: "
                  + "; ".join(f"{c} {times[c][-1]:.3f}" for c in cases), flush=True)
        flops = benchlib.train_flops(MODELS[m][0]) * batch
        for c in cases:
            ms = statistics.median(times[c])
            # the halves and the pool against two cores' peak; one thread against one core's
            # (a half alone does half the FLOPs)
            work, cores = (flops / 2, "fma_gflops_1") if c == "half alone" else \
                (flops, "fma_gflops_1" if c == "t1" else "fma_gflops_all")
            print(f"  {m:4} {c:15} {ms:9.3f} ms  {work / 1e6 / ms / peak[cores]:.2f} of the peak")


if __name__ == "__main__":
    main()
