#!/usr/bin/env python3
"""bench/dist.py — data-parallel training on one machine: one process with
2 threads against 2 ranks (mpirun) with 1 thread each, and 2 ranks again
with the overlap turned off (NNC_DIST_OVERLAP=0: every bucket sent only
when the update waits for it), and 2 ranks reducing round the ring instead
of gathering every part (NNC_DIST_ALLREDUCE=ring; the default at 2 ranks is
the gather), on the GPT of examples/shakespeare.nn.

usage: bench/dist.py [--rounds N] [--steps S] [--model gpt|mlp] [--alone] [NNC]

--alone: what the step of several ranks costs one process (every trainer
has it, docs/distributed.md): one process, 1 thread, the plain step
against the same with --distributed (the allreduce nodes, which alone copy
nothing), interleaved the same way.

The four cases run once per round in a fixed interleaved order, so slow
spells of a shared machine fall on all of them alike.  Per case, medians
of: tokens (or examples) per second from rank 0's --metrics line (training
steps only), the CPU seconds of the whole run (getrusage of the children:
mpirun and its ranks, compilation included), and for the ranks, from -v,
the seconds rank 0 spent starting (copying into buckets, sending, testing),
waiting for buckets still on the way, and summing, per step.  Then the
ratios: throughput, and the waiting with overlap against without, which is
the share of the transfer the backward pass hid.  The cost model's
transfer time for this machine comes from bench/allgather.c (the same
bytes through MPI_Allgather alone); docs/distributed.md section 5.
"""
import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("NNC_DATA") or os.path.join(ROOT, "..", "shared", "data")
MODELS = {"gpt": ("examples/shakespeare.nn", 64), "mlp": ("examples/mnist_mlp.nn", 1)}
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2"]
STATS = re.compile(r"allreduce \(rank 0.*?\): ([0-9.]+) s starting, ([0-9.]+) s waiting, ([0-9.]+) s summing; "
                   r"([0-9.]+) MB received in (\d+) buckets")


def run(nnc, model, steps, ranks, overlap=True, distributed=False, threads=None, how=None):
    path, per_example = MODELS[model]
    env = dict(os.environ, NNC_DATA=DATA, OMPI_MCA_btl_vader_single_copy_mechanism="none")
    if not overlap:
        env["NNC_DIST_OVERLAP"] = "0"
    env.pop("NNC_DIST_ALLREDUCE", None)
    if how:
        env["NNC_DIST_ALLREDUCE"] = how
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.jsonl")
        cmd = [nnc, "--jit", "-v", "--steps", str(steps), "--metrics", metrics,
               "--threads", str(threads or (2 if ranks == 1 else 1)), os.path.join(ROOT, path)]
        if distributed:
            cmd.insert(1, "--distributed")
        if ranks > 1:
            cmd = MPIRUN + cmd
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if out.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
        with open(metrics) as f:
            # the header line ({"nnc": ...}: model, options, ranks) is no evaluation
            lines = [json.loads(line) for line in f if line.strip() and not line.startswith('{"nnc": ')]
    seconds = sum(line["train_seconds"] for line in lines)
    examples = lines[-1]["examples_per_second"] * lines[-1]["train_seconds"]
    r = {"rate": examples * per_example / seconds, "step_ms": 1e3 * seconds / steps, "wall": wall,
         "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}
    m = STATS.search(out.stderr)
    if m:
        r.update(start_ms=1e3 * float(m[1]) / steps, wait_ms=1e3 * float(m[2]) / steps,
                 sum_ms=1e3 * float(m[3]) / steps, mb=float(m[4]) / steps)
    return r


def med(rows, key):
    vals = [r[key] for r in rows if key in r]
    return statistics.median(vals) if vals else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--model", default="gpt", choices=sorted(MODELS))
    ap.add_argument("--alone", action="store_true", help="one process: the plain step against the step of ranks")
    ap.add_argument("nnc", nargs="?", default=os.path.join(ROOT, "build", "nnc"))
    a = ap.parse_args()
    unit = "tokens/s" if a.model == "gpt" else "examples/s"
    if a.alone:
        alone = {"1 process x 1 thread, plain step": False, "1 process x 1 thread, --distributed": True}
        rows = {k: [] for k in alone}
        for _ in range(a.rounds):
            for name, dist in alone.items():
                rows[name].append(run(a.nnc, a.model, a.steps, 1, distributed=dist, threads=1))
        print(f"{a.model}, {a.steps} steps, {a.rounds} rounds, medians (machine load: {os.getloadavg()[0]:.1f})")
        for name, rs in rows.items():
            print(f"  {name:36s} {med(rs, 'rate'):9.0f} {unit}  {med(rs, 'step_ms'):8.3f} ms/step  "
                  f"cpu {med(rs, 'cpu'):6.2f} s  (per round: {' '.join('%.3f' % r['step_ms'] for r in rs)} ms/step)")
        plain, dist = rows.values()
        print(f"  --distributed / plain step time: {med(dist, 'step_ms') / med(plain, 'step_ms'):.3f}; "
              f"CPU: {med(dist, 'cpu') / med(plain, 'cpu'):.3f}")
        return
    cases = {"1 process x 2 threads": (1, True, None), "2 ranks x 1 thread": (2, True, None),
             "2 ranks x 1 thread, no overlap": (2, False, None), "2 ranks x 1 thread, ring": (2, True, "ring")}
    rows = {k: [] for k in cases}
    for _ in range(a.rounds):
        for name, (ranks, overlap, how) in cases.items():
            rows[name].append(run(a.nnc, a.model, a.steps, ranks, overlap, how=how))
    print(f"{a.model}, {a.steps} steps, {a.rounds} rounds, medians (machine load: {os.getloadavg()[0]:.1f})")
    for name, rs in rows.items():
        line = (f"  {name:32s} {med(rs, 'rate'):9.0f} {unit}  {med(rs, 'step_ms'):7.1f} ms/step  "
                f"cpu {med(rs, 'cpu'):6.1f} s  wall {med(rs, 'wall'):6.1f} s")
        if "wait_ms" in rs[0]:
            line += (f"  allreduce per step: start {med(rs, 'start_ms'):.2f} ms, wait {med(rs, 'wait_ms'):.2f} ms, "
                     f"sum {med(rs, 'sum_ms'):.2f} ms, {med(rs, 'mb'):.2f} MB in")
        print(line)
    one, two, seq, ring = (rows[k] for k in cases)
    print(f"  2 ranks / 1 process throughput: {med(two, 'rate') / med(one, 'rate'):.2f}; "
          f"CPU {med(two, 'cpu') / med(one, 'cpu'):.2f}; ring / default (gather at 2 ranks) throughput {med(ring, 'rate') / med(two, 'rate'):.2f}")
    w, w0 = med(two, "wait_ms"), med(seq, "wait_ms")
    print(f"  waiting with overlap / without: {w:.2f} / {w0:.2f} ms per step: "
          f"{100 * (1 - w / w0) if w0 > 0 else float('nan'):.0f}% of the exposed transfer hidden behind the backward pass")
    comm = med(two, "start_ms") + w + med(two, "sum_ms")
    print(f"  time in the allreduce (rank 0): {comm:.2f} ms of {med(two, 'step_ms'):.1f} ms per step "
          f"({100 * comm / med(two, 'step_ms'):.0f}%)")


if __name__ == "__main__":
    main()
