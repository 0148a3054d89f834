#!/usr/bin/python3
"""bench/compile.py — compile latency: cold and warm (cache hit) for xor, the
MNIST MLP, the CNN and the GPT, and the whole process of a warm
`nnc --jit examples/mnist_mlp.nn --steps 1` against `python3 -c "import torch"`.

    bench/compile.py [--runs N] [--nnc PATH] [--against PATH] [--only NAMES]

Cold: an empty cache directory for each run (the compile cache misses and
stores); warm: the next run on that directory (a hit).  Times are nnc -v's
`compiled in` (the front end to JIT-ready) and the process's wall time.
With --against OLD_NNC (e.g. /work/main/build/nnc, no cache), its cold
compile is measured in the same loop, alternating with this nnc's, and the
ratio of medians printed.  Medians of --runs runs (default 3).  The machine
may be shared: read ratios from one run, not absolute times.
"""
import argparse
import os
import re
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


def compiled_ms(nnc, model, cache, extra=()):
    """nnc -v's `compiled in` (ms) for one --jit run of one step, and the process's wall seconds."""
    env = dict(os.environ, NNC_DATA=DATA, NNC_CACHE_DIR=cache)
    t0 = time.perf_counter()
    p = subprocess.run([nnc, "--jit", "-v", "--steps", "1", *extra, os.path.join(ROOT, model)],
                       capture_output=True, text=True, env=env, cwd=os.path.join(ROOT, "examples"))
    wall = time.perf_counter() - t0
    m = re.search(r"compiled in ([0-9.]+) ms(.*)", p.stderr)
    if p.returncode != 0 or not m:
        sys.exit(f"{nnc} {model} failed:\n{p.stderr}")
    return float(m.group(1)), wall, m.group(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--nnc", default=os.path.join(ROOT, "build", "nnc"))
    ap.add_argument("--against", help="another nnc (no cache) whose cold compile to measure alongside")
    ap.add_argument("--only", help="comma-separated: xor,mlp,cnn,gpt")
    a = ap.parse_args()
    only = a.only.split(",") if a.only else [m for m, _ in MODELS]
    scratch = tempfile.mkdtemp(prefix="nnc-bench-")
    print(f"nnc: {a.nnc}; {a.runs} runs each, medians; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs (a shared machine is noisy: compare ratios)")
    rows = []
    try:
        for name, model in MODELS:
            if name not in only:
                continue
            cold, warm, old = [], [], []
            for r in range(a.runs):
                cache = os.path.join(scratch, f"{name}{r}")
                shutil.rmtree(cache, ignore_errors=True)
                if a.against:  # alternate: old, new cold, new warm
                    old.append(compiled_ms(a.against, model, os.path.join(scratch, "old"))[0])
                c, _, parts = compiled_ms(a.nnc, model, cache)
                cold.append(c)
                w, _, wparts = compiled_ms(a.nnc, model, cache)
                if "cache hit" not in wparts:
                    sys.exit(f"{name}: the second run did not hit the cache: {wparts}")
                warm.append(w)
            row = (name, statistics.median(cold), statistics.median(warm), statistics.median(old) if old else None)
            rows.append(row)
            print(f"  {name}: cold {' '.join(f'{x:.0f}' for x in cold)} ms; warm {' '.join(f'{x:.1f}' for x in warm)} ms"
                  + (f"; against {' '.join(f'{x:.0f}' for x in old)} ms" if old else ""), flush=True)
        print()
        print("| model | cold `compiled in` (ms) | warm, cache hit (ms) |" + (" against, cold (ms) | cold ratio |" if a.against else ""))
        print("|---|---|---|" + ("---|---|" if a.against else ""))
        for name, c, w, o in rows:
            extra = f" {o:.0f} | {c / o:.2f} |" if o else ""
            print(f"| {name} | {c:.0f} | {w:.1f} |{extra}")
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
