#!/usr/bin/env python3
"""bench/npz_load.py — load time of Fashion-MNIST-sized arrays through the
npz(...) data source (rt_npz_load: read, inflate, CRC-32, convert to the
model's types, check every value), against numpy's np.load of the same
file, side by side.

x: 60,000 x 784 float32 (uniform random: incompressible, the worst case for
deflate's size, 188 MB), y: 60,000 uint8 labels 0-9, written by np.savez
(stored) and np.savez_compressed (deflate) into a temporary folder.  Rounds
alternate nnc, numpy, nnc, numpy...; medians of each, and the ratio.

usage: /usr/bin/python3 bench/npz_load.py [ROUNDS]   (needs build/libnncrt.a)
"""
import os, statistics, subprocess, sys, tempfile, time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "npz_load")
        subprocess.run(["cc", "-O2", "-I", os.path.join(ROOT, "runtime", "include"),
                        os.path.join(ROOT, "bench", "npz_load.c"), os.path.join(ROOT, "build", "libnncrt.a"),
                        "-o", exe, "-lz", "-lpthread", "-lm"], check=True)
        rng = np.random.default_rng(0)
        x = rng.random((60000, 784), dtype=np.float32)
        y = rng.integers(0, 10, 60000).astype(np.uint8)
        for kind, save in (("stored", np.savez), ("compressed", np.savez_compressed)):
            path = os.path.join(tmp, kind + ".npz")
            save(path, x=x, y=y)
            nnc, npy = [], []
            for _ in range(rounds):
                out = subprocess.run([exe, path, "1"], check=True, capture_output=True, text=True).stdout
                nnc.append(float(out))
                t0 = time.perf_counter()
                with np.load(path) as z:
                    z["x"], z["y"]
                npy.append(time.perf_counter() - t0)
            a, b = statistics.median(nnc), statistics.median(npy)
            print(f"{kind:10s} {os.path.getsize(path) / 1e6:6.1f} MB  nnc {a:.3f} s  numpy {b:.3f} s  "
                  f"nnc/numpy {a / b:.2f}")


if __name__ == "__main__":
    main()
