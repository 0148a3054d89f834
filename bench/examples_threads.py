#!/usr/bin/env python3
"""bench/examples_threads.py — every example that trains, at the default
threads against --threads 1: issue 19's "never slower" over all of them, not
only the three models contention.py times.

usage: bench/examples_threads.py [--rounds N] [--seconds S] [--only a,b] [NNC]
       (default NNC: build/nnc; needs NNC_DATA for MNIST and tinyshakespeare)

Every examples/*.nn and examples/tutorial/*.nn with a train block is run by
`nnc --jit --steps N` (--data for examples/similarity.nn: its arrays written
to a temporary directory by examples/similarity_data.py).  N is set once per
example so that a one-thread run trains about S seconds (1.5: long enough
for the default's chooser, runtime/pace.c, to warm up, probe and settle),
from a 10-step run's pace (a 1010-step run's less a 10-step one's where
the lines are too short, below), between 10 and 100,000 steps.  Then each round
runs every example at the default threads and at --threads 1, in one order
reversed every other round.  Times are train_seconds of the --metrics lines
over the steps (benchlib.NncRun), or, for an example whose lines are too
short for their four decimals (xor's four rows: an epoch, and a line, a
step), the wall time of the whole run over its steps (marked "wall": its
compile, a cache hit, and its evaluations count too, alike in both).  Printed: ms per step, medians, and
default / one thread (above 1: the default is slower).  Wall time: run it on
an idle machine, or say the load; contention.py has the busy case.
"""
import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import ROOT


def examples(only):
    """(name, path) of every example with a train block."""
    found = []
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.nn"))
                       + glob.glob(os.path.join(ROOT, "examples", "tutorial", "*.nn"))):
        name = os.path.relpath(path, os.path.join(ROOT, "examples"))[:-3]
        with open(path) as f:
            trains = any(line.split("#")[0].strip().startswith("train") for line in f)
        if trains and (not only or name in only):
            found.append((name, path))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--only", default="", help="names as printed (mnist_mlp,tutorial/08_mnist)")
    ap.add_argument("nnc", nargs="?", default=os.path.join(ROOT, "build", "nnc"))
    a = ap.parse_args()
    chosen = examples(set(filter(None, a.only.split(","))))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, os.path.join(ROOT, "examples", "similarity_data.py"), tmp],
                       check=True, stdout=subprocess.DEVNULL)

        def run(path, steps, threads):
            args = ["--steps", str(steps)] + (["--threads", "1"] if threads else [])
            if os.path.basename(path) == "similarity.nn":
                args += ["--data", tmp]
            with tempfile.TemporaryDirectory() as mtmp:
                start = time.perf_counter()
                r = benchlib.NncRun(path, args, os.path.join(mtmp, "m.jsonl"), nnc=a.nnc)
                wall = time.perf_counter() - start
            train = sum(line.get("train_seconds", 0.0) for line in r.lines)
            # a line's train_seconds has four decimals: a sum of many short lines is not a time
            exact = len(r.lines) <= 1 or train >= 1000 * 0.00005 * len(r.lines)
            return (train if exact else wall) / r.last["step"], exact, wall

        print(f"CPU: {benchlib.cpu_model()}; {os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.1f}")
        steps = {}
        for name, path in chosen:
            pace, exact, wall = run(path, 10, 1)
            if not exact:  # a step's own time, without the run's start
                pace = max(run(path, 1010, 1)[2] - wall, 1e-4) / 1000
            steps[name] = max(10, min(100000, int(a.seconds / max(pace, 1e-7))))
        cases = [(name, path, threads) for name, path in chosen for threads in (0, 1)]
        times = {(name, threads): [] for name, _, threads in cases}
        exact = {name: True for name, _ in chosen}
        for r in range(a.rounds):
            for name, path, threads in cases if r % 2 == 0 else cases[::-1]:
                t, exact_here, _ = run(path, steps[name], threads)
                times[(name, threads)].append(t)
                exact[name] = exact[name] and exact_here
            print(f"round {r + 1} of {a.rounds} done; load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"{'example':26} {'steps':>6} {'default ms':>11} {'1 thread ms':>12} {'default/1':>10}")
    worst = 0.0
    for name, _ in chosen:
        d, one = statistics.median(times[(name, 0)]), statistics.median(times[(name, 1)])
        worst = max(worst, d / one)
        print(f"{name:26} {steps[name]:6d} {d * 1e3:11.4f} {one * 1e3:12.4f} {d / one:10.2f} "
              f"{'' if exact[name] else 'wall'}{'':4}"
              f"rounds: {' '.join(f'{x / y:.2f}' for x, y in zip(times[(name, 0)], times[(name, 1)]))}")
    print(f"the default's worst median against one thread: {worst:.2f} (above 1: slower)")


if __name__ == "__main__":
    main()
