#!/usr/bin/env python3
"""bench/mnist_mlp.py — nnc against PyTorch on the MNIST MLP recipe of
examples/mnist_mlp.nn (784-128-10, SGD lr 0.1, batch 64, standardised
inputs), side by side in one run.

Rounds alternate: one PyTorch epoch (data preloaded as tensors, shuffled
each epoch, on --torch-threads N threads, default all CPUs: set
and printed), then one nnc run of --epochs 1 whose epoch
time is the train_seconds of its --metrics line (steps only, like the
PyTorch loop).  Prints the median epoch time of each, the ratio, nnc's time
against the machine's 2-core floor (0.11 s, BRIEF §6) and nnc's compile
time.

usage: /usr/bin/python3 bench/mnist_mlp.py [--torch-threads N] [ROUNDS]   (needs NNC_DATA and build/nnc)
"""
import os
import sys
import tempfile

import torch
import torch.nn as nn

from benchlib import NncRun, mnist_train, summary, torch_epoch, torch_threads, train_flops

FLOOR_2CORE = 0.11



def main():
    torch_threads(sys.argv)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    x, y = (torch.from_numpy(a) for a in mnist_train())
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    torch_epoch(model, opt, x, y)  # warm-up: first-touch allocations
    t_torch, t_nnc, compiles = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            t_torch.append(torch_epoch(model, opt, x, y))
            run = NncRun("examples/mnist_mlp.nn", ["--epochs", "1"], os.path.join(tmp, f"m{r}.jsonl"))
            t_nnc.append(run.last["train_seconds"])
            compiles.append(run.compile_ms)
            print(f"round {r + 1}: pytorch {t_torch[-1]:.3f} s, nnc {t_nnc[-1]:.3f} s "
                  f"(accuracy {run.last['test_accuracy']:.4f})", flush=True)
    summary("s per epoch", t_torch, t_nnc, compiles, FLOOR_2CORE, flops=60000 * train_flops("examples/mnist_mlp.nn"))


if __name__ == "__main__":
    main()
