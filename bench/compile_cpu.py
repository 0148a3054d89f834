#!/usr/bin/python3
"""bench/compile_cpu.py — the cold compile's CPU time (nnc -v's `compiled in
N ms, CPU M ms`, all threads) of two or more nnc binaries, alternating in
one loop, each run on an empty cache of its own: the figure a shared machine
disturbs least.  Printed per model and binary: the median and the least of
the runs' wall and CPU, and the CPU median's ratio to the first binary's.

    bench/compile_cpu.py [--rounds N] [--models xor,mlp,cnn,gpt] NNC...
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("NNC_DATA") or os.path.join(ROOT, "..", "shared", "data")
MODELS = {"xor": "examples/xor.nn", "mlp": "examples/mnist_mlp.nn", "cnn": "examples/mnist_cnn.nn",
          "gpt": "examples/shakespeare.nn"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--models", default="xor,mlp,cnn,gpt")
    ap.add_argument("nnc", nargs="+")
    a = ap.parse_args()
    scratch = tempfile.mkdtemp(prefix="nnc-compile-cpu-")
    try:
        for name in a.models.split(","):
            runs = {n: [] for n in a.nnc}
            for _ in range(a.rounds):
                for i, nnc in enumerate(a.nnc):
                    cache = os.path.join(scratch, str(i))
                    shutil.rmtree(cache, ignore_errors=True)
                    p = subprocess.run([nnc, "--jit", "-v", "--steps", "1", "--threads", "1",
                                        os.path.join(ROOT, MODELS[name])], capture_output=True, text=True,
                                       env=dict(os.environ, NNC_DATA=DATA, NNC_CACHE_DIR=cache))
                    m = re.search(r"compiled in ([0-9.]+) ms, CPU ([0-9.]+) ms", p.stderr)
                    if p.returncode != 0 or not m:
                        sys.exit(f"{nnc} {name} failed:\n{p.stderr}")
                    runs[nnc].append((float(m.group(1)), float(m.group(2))))
            print(f"{name}: {a.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
            base = statistics.median(c for _, c in runs[a.nnc[0]])
            for nnc in a.nnc:
                w = [x for x, _ in runs[nnc]]
                c = [x for _, x in runs[nnc]]
                print(f"  wall median {statistics.median(w):6.0f} least {min(w):6.0f} | CPU median "
                      f"{statistics.median(c):6.0f} least {min(c):6.0f} | CPU / first {statistics.median(c) / base:.2f}  {nnc}",
                      flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
