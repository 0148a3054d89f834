#!/usr/bin/env python3
"""bench/cnn_cpu.py — the CNN of examples/mnist_cnn.nn, nnc against PyTorch
in CPU time per training step on one thread each: nnc --jit --threads 1
(bench/cpu_step.py's difference of a short and a long run) and PyTorch with
torch.set_num_threads(1) (time.process_time over a block of steps of
bench/mnist_cnn.py's recipe), alternating, medians; and nnc against the
floor: the step's nominal FLOPs (3x the forward, benchlib.train_flops) at
one core's measured f32 FMA peak (bench/peak.c).  One thread each and CPU
time: the figures a loaded machine disturbs least; the 2.5x-PyTorch and
1.4x-floor targets of the issue are epoch times with default threads on a
quiet machine (bench/mnist_cnn.py).

usage: /usr/bin/python3 bench/cnn_cpu.py [ROUNDS [TORCH_STEPS]]
       (needs NNC_DATA and build/nnc, or the nnc in NNC_BIN)
"""
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import cpu_step  # noqa: E402
from mnist_cnn import cnn  # noqa: E402


def torch_steps(model, opt, x, y, steps, batch=64):
    """CPU seconds per step of `steps` Adam steps on random batches."""
    idx = torch.randint(0, x.shape[0], (steps, batch))
    start = time.process_time()
    for s in range(steps):
        loss = F.cross_entropy(model(x[idx[s]]), y[idx[s]])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.process_time() - start) / steps


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    torch.set_num_threads(1)
    x, y = (torch.from_numpy(a) for a in benchlib.mnist_train())
    x = x.reshape(-1, 1, 28, 28)
    torch.manual_seed(1)
    model = cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch_steps(model, opt, x, y, 5)  # warm-up
    nnc = os.environ.get("NNC_BIN") or os.path.join(cpu_step.ROOT, "build", "nnc")
    env = dict(os.environ, NNC_DATA=cpu_step.DATA)
    cpu_step.cpu_of([nnc, "--jit", "--threads", "1", "--steps", "1", os.path.join(cpu_step.ROOT, "examples/mnist_cnn.nn")], env)
    t_torch, t_nnc = [], []
    for r in range(rounds):
        t_torch.append(torch_steps(model, opt, x, y, steps))
        t_nnc.append(cpu_step.step_cpu(nnc, "cnn", env))
        print(f"round {r + 1}: pytorch {t_torch[-1] * 1e3:.2f} ms, nnc {t_nnc[-1] * 1e3:.2f} ms CPU per step", flush=True)
    mt, mn = statistics.median(t_torch), statistics.median(t_nnc)
    flops = 64 * benchlib.train_flops("examples/mnist_cnn.nn")
    peak = benchlib.machine_peak()
    floor = flops / (peak["fma_gflops_1"] * 1e9)
    print(f"pytorch {torch.__version__} on 1 thread: {mt * 1e3:.2f} ms CPU per step; nnc --threads 1: {mn * 1e3:.2f} ms")
    print(f"ratio pytorch/nnc: {mt / mn:.2f} (above 1: nnc is faster)")
    print(f"floor: {flops / 1e9:.2f} GFLOP per step at {peak['fma_gflops_1']:.0f} GFLOP/s (one core, measured now) = "
          f"{floor * 1e3:.2f} ms; nnc is {mn / floor:.2f}x the floor, PyTorch {mt / floor:.2f}x")


if __name__ == "__main__":
    main()
