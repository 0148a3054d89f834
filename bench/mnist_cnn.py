#!/usr/bin/env python3
"""bench/mnist_cnn.py — nnc against PyTorch on the CNN recipe of
examples/mnist_cnn.nn (two 3x3 convolutions of 32 and 64 channels, each with
ReLU and 2x2 max pooling, dense 3136-128, dropout 0.25, dense 128-10; Adam
lr 1e-3 with cosine decay, batch 64, standardised inputs), side by side in
one run.

Rounds alternate: one PyTorch epoch at each of --torch-threads (data
preloaded as tensors, shuffled; torch.set_num_threads set explicitly, since
torch's default here is 1 thread, OpenMP's), then one nnc run of --epochs 1
(default threads: all CPUs) whose epoch time is the train_seconds of its
--metrics line (steps only, like the PyTorch loop).  Prints the median
epoch time of each, the ratio per torch thread count and nnc's compile
time.  --examples N times the first N examples of each epoch instead
(nnc: --steps N/64), scaled to the 60000 of an epoch: for a loaded
machine, where a whole one-thread PyTorch epoch takes minutes.

--against OLD_NNC also runs another nnc (the code before a change) in each
round, after this one, and prints its median and this nnc's against it.

usage: /usr/bin/python3 bench/mnist_cnn.py [ROUNDS] [--torch-threads 2,1] [--examples N]
                                           [--against OLD_NNC]
       (needs NNC_DATA and build/nnc, or the nnc in NNC_BIN)
"""
import argparse
import os
import statistics
import tempfile

import torch
import torch.nn as nn

from benchlib import NNC, NncRun, cpu_model, mnist_train, summary, torch_epoch, train_flops


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))



def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rounds", type=int, nargs="?", default=3)
    ap.add_argument("--torch-threads", default="2,1", help="torch.set_num_threads for each PyTorch epoch of a round")
    ap.add_argument("--examples", type=int, default=60000, help="examples timed per epoch (a multiple of 64)")
    ap.add_argument("--against", help="another nnc to time in the same rounds")
    args = ap.parse_args()
    nnc = os.environ.get("NNC_BIN") or NNC
    threads = [int(t) for t in args.torch_threads.split(",")]
    n = min(60000, args.examples // 64 * 64) or 64
    scale = 60000 / n
    x, y = (torch.from_numpy(a) for a in mnist_train())
    x = x.reshape(-1, 1, 28, 28)
    torch.manual_seed(1)
    model = cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=(len(threads) * args.rounds + 1) * 938)
    torch_epoch(model, opt, x[:640], y[:640], sched)  # warm-up: first-touch allocations
    print(f"CPU: {cpu_model()}; {os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.1f}; "
          f"{n} examples timed per epoch (x {scale:.3g})", flush=True)
    t_torch, t_nnc, compiles, t_old = {t: [] for t in threads}, [], [], []
    nnc_args = ["--epochs", "1"] if n == 60000 else ["--steps", str(n // 64)]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for t in threads:
                torch.set_num_threads(t)
                idx = torch.randperm(x.shape[0])[:n]
                t_torch[t].append(scale * torch_epoch(model, opt, x[idx], y[idx], sched))
            run = NncRun("examples/mnist_cnn.nn", nnc_args, os.path.join(tmp, f"m{r}.jsonl"), nnc=nnc)
            t_nnc.append(scale * run.last["train_seconds"])
            compiles.append(run.compile_ms)
            old = ""
            if args.against:
                t_old.append(scale * NncRun("examples/mnist_cnn.nn", nnc_args, os.path.join(tmp, f"o{r}.jsonl"),
                                            nnc=args.against).last["train_seconds"])
                old = f", old nnc {t_old[-1]:.2f} s"
            print(f"round {r + 1}: " + ", ".join(f"pytorch ({t} threads) {t_torch[t][-1]:.2f} s" for t in threads)
                  + f", nnc {t_nnc[-1]:.2f} s (test accuracy after it {run.last['test_accuracy']:.4f}){old}", flush=True)
    for i, t in enumerate(threads):
        torch.set_num_threads(t)
        summary("s per epoch", t_torch[t], t_nnc, compiles,
                flops=60000 * train_flops("examples/mnist_cnn.nn") if i == len(threads) - 1 else None)
    if t_old:
        print(f"old nnc ({args.against}): median {statistics.median(t_old):.4g} s per epoch; "
              f"nnc / old: {statistics.median(t_nnc) / statistics.median(t_old):.2f} (below 1: faster now)")


if __name__ == "__main__":
    main()
