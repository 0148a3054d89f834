#!/usr/bin/python3
"""bench/compile.py — compile latency: cold and warm (cache hit) for xor, the
MNIST MLP, the CNN and the GPT, and the whole process of a warm
`nnc --jit examples/mnist_mlp.nn --steps 1` against `python3 -c "import torch"`.

    bench/compile.py [--runs N] [--nnc PATH] [--against PATH] [--only NAMES]

Cold: an empty cache directory for each run (the compile cache misses and
stores); warm: the next run on that directory (a hit).  Times are nnc -v's
`compiled in` (the passes to JIT-ready), wall and CPU (all threads; the
CPU time says more on a shared machine), of `--steps 1 --threads 1` runs.
With --against OLD_NNC (e.g. /work/main/build/nnc), its cold compile (an
empty cache every run) is measured in the same loop, alternating with this
nnc's, and the ratio of medians printed, with the whole processes' CPU
time (an older nnc may not print the compile's); then its warm compile (a
hit on that cache).  Medians of --runs runs
(default 3).  The machine may be shared: read ratios from one run, not
absolute times.
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("NNC_DATA") or os.path.join(ROOT, "..", "shared", "data")
MODELS = [("xor", "examples/xor.nn"), ("mlp", "examples/mnist_mlp.nn"), ("cnn", "examples/mnist_cnn.nn"),
          ("gpt", "examples/shakespeare.nn")]


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def compiled_ms(nnc, model, cache, extra=()):
    """nnc -v's `compiled in` (ms) for one --jit run of one step, and the process's wall seconds."""
    return run_nnc(nnc, model, cache, extra)[:3]


def run_nnc(nnc, model, cache, extra=("--threads", "1")):
    """One --jit run of one step: `compiled in` (ms), the process's wall (s), the rest of -v's line,
    the compile's CPU time (ms; None if that nnc does not print it) and the process's CPU time (s)."""
    env = dict(os.environ, NNC_DATA=DATA, NNC_CACHE_DIR=cache)
    t0, c0 = time.perf_counter(), children_cpu()
    p = subprocess.run([nnc, "--jit", "-v", "--steps", "1", *extra, os.path.join(ROOT, model)],
                       capture_output=True, text=True, env=env, cwd=os.path.join(ROOT, "examples"))
    wall, cpu = time.perf_counter() - t0, children_cpu() - c0
    m = re.search(r"compiled in ([0-9.]+) ms(.*)", p.stderr)
    if p.returncode != 0 or not m:
        sys.exit(f"{nnc} {model} failed:\n{p.stderr}")
    c = re.match(r", CPU ([0-9.]+) ms", m.group(2))
    return float(m.group(1)), wall, m.group(2), float(c.group(1)) if c else None, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--nnc", default=os.path.join(ROOT, "build", "nnc"))
    ap.add_argument("--against", help="another nnc whose cold compile (an empty cache each run) to measure alongside")
    ap.add_argument("--only", help="comma-separated: xor,mlp,cnn,gpt")
    a = ap.parse_args()
    only = a.only.split(",") if a.only else [m for m, _ in MODELS]
    scratch = tempfile.mkdtemp(prefix="nnc-bench-")
    print(f"nnc: {a.nnc}; {a.runs} runs each, medians; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs (a shared machine is noisy: compare ratios)")
    rows = []
    med = lambda xs: statistics.median(xs) if xs and None not in xs else None
    fmt = lambda x, d=0: "-" if x is None else f"{x:.{d}f}"
    try:
        for name, model in MODELS:
            if name not in only:
                continue
            cold, warm, old, old_warm = [], [], [], []
            for r in range(a.runs):
                cache = os.path.join(scratch, f"{name}{r}")
                shutil.rmtree(cache, ignore_errors=True)
                if a.against:  # alternate: old (cold: its own empty cache), new cold, new warm
                    shutil.rmtree(os.path.join(scratch, "old"), ignore_errors=True)
                    old.append(run_nnc(a.against, model, os.path.join(scratch, "old")))
                    old_warm.append(run_nnc(a.against, model, os.path.join(scratch, "old")))
                    if "cache hit" not in old_warm[-1][2]:
                        sys.exit(f"{name}: --against's second run did not hit its cache: {old_warm[-1][2]}")
                cold.append(run_nnc(a.nnc, model, cache))
                warm.append(run_nnc(a.nnc, model, cache))
                if "cache hit" not in warm[-1][2]:
                    sys.exit(f"{name}: the second run did not hit the cache: {warm[-1][2]}")
            col = lambda runs, k: [x[k] for x in runs]
            row = (name, med(col(cold, 0)), med(col(cold, 3)), med(col(warm, 0)), med(col(warm, 3)),
                   med(col(old, 0)), med(col(old, 4)), med(col(cold, 4)), med(col(old_warm, 0)), med(col(old_warm, 3)))
            rows.append(row)
            print(f"  {name}: cold {' '.join(f'{x[0]:.0f}' for x in cold)} ms (CPU {' '.join(fmt(x[3]) for x in cold)}); "
                  f"warm {' '.join(f'{x[0]:.1f}' for x in warm)} ms (CPU {' '.join(fmt(x[3], 1) for x in warm)})"
                  + (f"; against {' '.join(f'{x[0]:.0f}' for x in old)} ms, warm {' '.join(f'{x[0]:.1f}' for x in old_warm)} ms"
                     if old else ""), flush=True)
        print()
        print("`compiled in` (ms, wall and CPU of all threads), medians; cold = an empty cache, warm = a hit"
              + ("; against: the other nnc's cold `compiled in` and the CPU of whole processes (one step, --threads 1)"
                 if a.against else ""))
        print()
        print("| model | cold | cold CPU | warm | warm CPU |"
              + (" against, cold | cold ratio | process CPU, against (s) | process CPU, cold (s) | CPU ratio |"
                 " against, warm | against, warm CPU | warm ratio |" if a.against else ""))
        print("|---|---|---|---|---|" + ("---|---|---|---|---|---|---|---|" if a.against else ""))
        for name, c, cc, w, wc, o, ocpu, ccpu, ow, owc in rows:
            extra = (f" {o:.0f} | {c / o:.2f} | {ocpu:.2f} | {ccpu:.2f} | {ccpu / ocpu:.2f} |"
                     f" {ow:.1f} | {fmt(owc, 1)} | {w / ow:.2f} |" if o else "")
            print(f"| {name} | {c:.0f} | {fmt(cc)} | {w:.1f} | {fmt(wc, 1)} |{extra}")
        if "mlp" in only:
            # the whole process, warm, against importing torch
            cache = os.path.join(scratch, "process")
            compiled_ms(a.nnc, "examples/mnist_mlp.nn", cache)
            nnc_wall, torch_wall = [], []
            for r in range(a.runs):
                nnc_wall.append(compiled_ms(a.nnc, "examples/mnist_mlp.nn", cache)[1])
                t0 = time.perf_counter()
                subprocess.run(["/usr/bin/python3", "-c", "import torch"], check=True)
                torch_wall.append(time.perf_counter() - t0)
            n, t = statistics.median(nnc_wall), statistics.median(torch_wall)
            print()
            print(f"whole process: nnc --jit examples/mnist_mlp.nn --steps 1 (warm) {n:.3f} s; "
                  f"python3 -c 'import torch' {t:.3f} s; ratio {n / t:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
