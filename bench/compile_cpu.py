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
import shutil
import statistics
import sys
import tempfile

from compile import MODELS, run_nnc  # compile.py's models and its one -v run of a step


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
                    ms, _, _, cpu_ms, _ = run_nnc(nnc, dict(MODELS)[name], cache)
                    if cpu_ms is None:
                        sys.exit(f"{nnc} does not print its compile's CPU time (`compiled in N ms, CPU M ms`)")
                    runs[nnc].append((ms, cpu_ms))
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
