#!/usr/bin/env python3
"""bench/mnist_mlp.py — nnc against PyTorch on the MNIST MLP recipe of
examples/mnist_mlp.nn (784-128-10, SGD lr 0.1, batch 64, standardised
inputs), side by side in one run.

Rounds alternate: one PyTorch epoch (data preloaded as tensors, shuffled
each epoch, default threads), then one nnc run of --epochs 1 whose epoch
time comes from its --metrics line.  Prints the median epoch time of each,
the ratio, nnc's time against the machine's 2-core floor (0.11 s, BRIEF §6)
and nnc's compile time.

usage: /usr/bin/python3 bench/mnist_mlp.py [ROUNDS]   (needs NNC_DATA and build/nnc)
"""
import gzip, json, os, statistics, struct, subprocess, sys, tempfile, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NNC = os.path.join(ROOT, "build", "nnc")
DATA = os.environ.get("NNC_DATA") or os.path.join(ROOT, "..", "shared", "data")
FLOOR_2CORE = 0.11


def idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows * cols)
    return np.frombuffer(data, np.uint8, offset=8)


def find(name):
    base = os.path.join(DATA, "mnist", name)
    return base if os.path.exists(base) else base + ".gz"


def torch_epoch(model, opt, x, y):
    start = time.perf_counter()
    perm = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], 64):
        idx_ = perm[i:i + 64]
        loss = F.cross_entropy(model(x[idx_]), y[idx_])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def nnc_epoch(metrics):
    env = dict(os.environ, NNC_DATA=DATA)
    out = subprocess.run([NNC, "--jit", "-v", "--epochs", "1", "--metrics", metrics,
                          os.path.join(ROOT, "examples", "mnist_mlp.nn")],
                         env=env, capture_output=True, text=True, check=True)
    with open(metrics) as f:
        last = json.loads(f.read().splitlines()[-1])
    compile_ms = None
    for line in out.stderr.splitlines():
        if line.startswith("compiled in "):
            compile_ms = float(line.split()[2])
    return last["epoch_seconds"], last["test_accuracy"], compile_ms


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    x = torch.tensor((idx(find("train-images-idx3-ubyte")) / 255.0 - 0.1307) / 0.3081, dtype=torch.float32)
    y = torch.tensor(idx(find("train-labels-idx1-ubyte")), dtype=torch.long)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    torch_epoch(model, opt, x, y)  # warm-up: first-touch allocations
    t_torch, t_nnc, compiles = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            t_torch.append(torch_epoch(model, opt, x, y))
            secs, acc, comp = nnc_epoch(os.path.join(tmp, f"m{r}.jsonl"))
            t_nnc.append(secs)
            compiles.append(comp)
            print(f"round {r + 1}: pytorch {t_torch[-1]:.3f} s, nnc {secs:.3f} s (accuracy {acc:.4f})", flush=True)
    mt, mn = statistics.median(t_torch), statistics.median(t_nnc)
    print(f"pytorch {torch.__version__}, {torch.get_num_threads()} threads: median epoch {mt:.3f} s")
    print(f"nnc: median epoch {mn:.3f} s; compile (front end to JIT) median {statistics.median(compiles):.0f} ms")
    print(f"ratio pytorch/nnc: {mt / mn:.2f} (above 1: nnc is faster)")
    print(f"nnc against the 2-core floor of {FLOOR_2CORE} s: {mn / FLOOR_2CORE:.2f}x")


if __name__ == "__main__":
    main()
