#!/usr/bin/env python3
"""bench/mnist_cnn.py — nnc against PyTorch on the CNN recipe of
examples/mnist_cnn.nn (two 3x3 convolutions of 32 and 64 channels, each with
ReLU and 2x2 max pooling, dense 3136-128, dropout 0.25, dense 128-10; Adam
lr 1e-3 with cosine decay, batch 64, standardised inputs), side by side in
one run.

Rounds alternate: one PyTorch epoch (data preloaded as tensors, shuffled,
default threads), then one nnc run of --epochs 1 whose epoch time is the
train_seconds of its --metrics line (steps only, like the PyTorch loop).
Prints the median epoch time of each, the ratio and nnc's compile time.

usage: /usr/bin/python3 bench/mnist_cnn.py [ROUNDS]   (needs NNC_DATA and build/nnc)
"""
import os
import sys
import tempfile

import torch
import torch.nn as nn

from benchlib import NncRun, mnist_train, summary, torch_epoch, train_flops


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))



def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    x, y = (torch.from_numpy(a) for a in mnist_train())
    x = x.reshape(-1, 1, 28, 28)
    torch.manual_seed(1)
    model = cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=(rounds + 1) * 938)
    torch_epoch(model, opt, x[:6400], y[:6400], sched)  # warm-up: first-touch allocations
    t_torch, t_nnc, compiles = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            t_torch.append(torch_epoch(model, opt, x, y, sched))
            run = NncRun("examples/mnist_cnn.nn", ["--epochs", "1"], os.path.join(tmp, f"m{r}.jsonl"))
            t_nnc.append(run.last["train_seconds"])
            compiles.append(run.compile_ms)
            print(f"round {r + 1}: pytorch {t_torch[-1]:.2f} s, nnc {t_nnc[-1]:.2f} s "
                  f"(accuracy after one epoch {run.last['test_accuracy']:.4f})", flush=True)
    summary("s per epoch", t_torch, t_nnc, compiles, flops=60000 * train_flops("examples/mnist_cnn.nn"))


if __name__ == "__main__":
    main()
