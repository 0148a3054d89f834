#!/usr/bin/env python3
"""bench/embed_latency.py — inference latency of the MNIST MLP: the library
nnc --emit=so writes, called from C, against PyTorch eager (torch.no_grad,
default threads), side by side in one run, at batch 1 and batch 64.

Rounds alternate between the two; each round times many calls and keeps
the mean per call; the figure is the median over rounds.  BRIEF §6's target
for the library is 3 us at batch 1 (PyTorch takes about 16 us here).

usage: /usr/bin/python3 bench/embed_latency.py [ROUNDS]   (needs build/nnc)
"""
import os, statistics, subprocess, sys, tempfile, time

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NNC = os.path.join(ROOT, "build", "nnc")


def torch_us(model, x, calls):
    with torch.no_grad():
        for _ in range(calls // 10):
            model(x)
        t0 = time.perf_counter()
        for _ in range(calls):
            model(x)
        return (time.perf_counter() - t0) / calls * 1e6


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    tmp = tempfile.mkdtemp()
    subprocess.run([NNC, "--emit=so", "-o", os.path.join(tmp, "libmnist_mlp.so"),
                    os.path.join(ROOT, "examples", "mnist_mlp.nn")], check=True)
    exe = os.path.join(tmp, "latency")
    subprocess.run(["cc", "-O2", "-I", tmp, os.path.join(ROOT, "bench", "embed_latency.c"), "-L", tmp,
                    "-lmnist_mlp", "-Wl,-rpath," + tmp, "-o", exe], check=True)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)).eval()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {rounds} rounds")
    for batch, calls in ((1, 20000), (64, 2000)):
        x = torch.rand(batch, 784)
        ours, theirs = [], []
        for _ in range(rounds):
            out = subprocess.run([exe, str(batch), str(calls), "5"], check=True, capture_output=True, text=True)
            ours.append(float(out.stdout))
            theirs.append(torch_us(model, x, calls))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"batch {batch:3d}: nnc library {a:8.2f} us   PyTorch eager {b:8.2f} us   ratio {b / a:6.1f}x")


if __name__ == "__main__":
    main()
