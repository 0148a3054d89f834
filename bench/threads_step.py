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

Where the threads run matters too: the host of a virtual machine moves its
vCPUs, and two of them sometimes share an L3 and sometimes not (session
34, the GPT's two-thread step on this 2-vCPU VM: 59-64 ms of kernels a step
on one L3, 73-76 on two, pool_trace.py).  So each run of two threads or more
is framed by `bench_peak --pair` (a cache line's round trip between CPUs 0
and 1, the least of 20 rounds: benchlib.pair_ns), both shown as
"@before/after ns", and when the run's round trips fall on both sides of
TWO_L3_NS (200 ns), the medians are
printed again over the runs with both round trips on one L3, both on two,
and the rest.  The probes frame a run; the host may move the vCPUs during
it.  With more than two vCPUs the pair is only CPUs 0 and 1.
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


# A round trip above this is two L3s: one L3 read 49-150 ns on this VM (its
# probe's tail included), two 310-405; cores of one die on x86 servers are
# under about 150, of two dies or sockets above about 250.
TWO_L3_NS = 200


def l3_split(seen):
    """TWO_L3_NS when the run's round trips fall on both sides of it, else
    None (all runs alike)."""
    return TWO_L3_NS if seen and min(seen) < TWO_L3_NS <= max(seen) else None


def by_l3(times, apart, nncs, models, threads, of_peak):
    """The medians again, over the runs whose both round trips were on one
    L3, over those whose both were on two, and over the rest (the placement
    changed around the run, or the probe failed), when the run saw both."""
    cut = l3_split([ns for runs in apart.values() for pair in runs if pair for ns in pair])
    if cut is None:
        return
    print(f"runs of two threads or more by where they ran (one L3: both round trips under {cut:.0f} ns; "
          "the probes frame a run, they do not follow it):")

    def median(m, t, runs):
        if not runs:
            return ""
        s = statistics.median(runs)
        return f", median {s * 1e3:.3f} ms" + (f" ({of_peak(m, t, s)} of peak)" if of_peak(m, t, s) else "")

    for m in models:
        for t in [t for t in threads if t > 1]:
            for n in nncs:
                pairs = list(zip(times[(m, t, n)], apart[(m, t, n)]))
                one = [s for s, ns in pairs if ns and max(ns) < cut]
                two = [s for s, ns in pairs if ns and min(ns) >= cut]
                rest = len(pairs) - len(one) - len(two)
                print(f"  {m:4} t{t} one L3 {len(one)} runs{median(m, t, one)}; two L3s {len(two)} runs"
                      f"{median(m, t, two)}; changed or unknown {rest}  {n}")


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
    apart = {key: [] for key in times}  # the round trips before and after each run of two threads or more
    for r in range(a.rounds):
        for m in models:
            for t in threads:
                for n in a.nnc:
                    before = benchlib.pair_ns() if t > 1 else None
                    times[(m, t, n)].append(step_seconds(n, m, t, cache))
                    after = benchlib.pair_ns() if t > 1 else None
                    apart[(m, t, n)].append((before, after) if before and after else None)
        print(f"round {r + 1}: " + "; ".join(f"{m} t{t} {times[(m, t, n)][-1] * 1e3:.3f}"
                                              + (" @{:.0f}/{:.0f} ns".format(*apart[(m, t, n)][-1]) if apart[(m, t, n)][-1] else "")
                                              for m in models for t in threads for n in a.nnc), flush=True)
    peak = None if a.no_peak else benchlib.machine_peak()
    flops = {m: benchlib.train_flops(MODELS[m][0]) * MODELS[m][2] for m in models}

    def of_peak(m, t, s):
        """A step of s seconds as a fraction of t cores' peak ("" without the probe)."""
        return f"{flops[m] / 1e9 / s / (peak['fma_gflops_1'] if t == 1 else peak['fma_gflops_all']):.2f}" if peak else ""

    print(f"{'model':5} {'threads':>7} {'ms/step':>9} {'least':>8} {'GFLOP/s':>8} {'of peak':>8}  nnc")
    for m in models:
        for t in threads:
            for n in a.nnc:
                s = statistics.median(times[(m, t, n)])
                print(f"{m:5} {t:7d} {s * 1e3:9.3f} {min(times[(m, t, n)]) * 1e3:8.3f} {flops[m] / 1e9 / s:8.1f} "
                      f"{of_peak(m, t, s) or '-':>8}  {n}")
    by_l3(times, apart, a.nnc, models, threads, of_peak)
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
