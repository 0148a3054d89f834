#!/usr/bin/env python3
"""bench/shakespeare.py — nnc against PyTorch on the character-level GPT of
examples/shakespeare.nn (vocabulary 65, context 64, width 128, 4 heads, 4
blocks, GELU feed-forward of 512; AdamW lr 1e-3, weight decay 0.1 on every
parameter; batch 32), training throughput in tokens per second, side by
side in one run.

Rounds alternate: STEPS PyTorch steps on random windows of the first 90% of
tinyshakespeare (--torch-threads N threads, default all CPUs, set and
printed; the model is the one tests/parity builds
from torch's own modules and checks against nnc's gradients), then one nnc
run of --steps STEPS whose throughput is the examples_per_second of its
--metrics line (steps only, no evaluation) times 64 tokens per window.
Prints the median tokens/s of each, the ratio, nnc against the machine's
2-core floor for this model (~46 ms per step, issue 5) and the compile time.

usage: /usr/bin/python3 bench/shakespeare.py [--torch-threads N] [ROUNDS [STEPS]]   (needs NNC_DATA and build/nnc)
"""
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

from benchlib import DATA, ROOT, NncRun, summary, torch_threads, train_flops

sys.path.insert(0, os.path.join(ROOT, "tests", "parity"))
from torch_parity import Gpt1  # noqa: E402  (the same network the parity test checks)

V, T, D, H, L, BATCH = 65, 64, 128, 4, 4, 32
FLOOR_TOKENS = BATCH * T / 0.046


def corpus():
    with open(os.path.join(DATA, "tinyshakespeare", "input.txt"), encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    ids = torch.tensor([chars.index(c) for c in text[: int(0.9 * len(text))]], dtype=torch.long)
    return ids, len(chars)


def torch_steps(model, opt, ids, steps, gen):
    start = time.perf_counter()
    for _ in range(steps):
        at = torch.randint(0, ids.numel() - T - 1, (BATCH,), generator=gen)
        window = torch.stack([ids[a : a + T + 1] for a in at.tolist()])
        logits = model({"input.text": window[:, :T]})
        loss = F.cross_entropy(logits.reshape(-1, V), window[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return BATCH * T * steps / (time.perf_counter() - start)


def main():
    torch_threads(sys.argv)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    ids, vocab = corpus()
    assert vocab == V, f"tinyshakespeare has {vocab} characters, the model {V}"
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(1)
    model = Gpt1(V, T, D, H, L)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    torch_steps(model, opt, ids, 3, gen)  # warm-up: first-touch allocations
    t_torch, t_nnc, compiles = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            t_torch.append(torch_steps(model, opt, ids, steps, gen))
            run = NncRun("examples/shakespeare.nn", ["--steps", str(steps)], os.path.join(tmp, f"m{r}.jsonl"))
            t_nnc.append(run.last["examples_per_second"] * T)
            compiles.append(run.compile_ms)
            print(f"round {r + 1}: pytorch {t_torch[-1]:.0f} tokens/s ({BATCH * T / t_torch[-1] * 1e3:.1f} ms/step), "
                  f"nnc {t_nnc[-1]:.0f} tokens/s ({BATCH * T / t_nnc[-1] * 1e3:.1f} ms/step)", flush=True)
    summary("tokens/s", t_torch, t_nnc, compiles, FLOOR_TOKENS, lower_is_better=False,
            flops=train_flops("examples/shakespeare.nn") / T)


if __name__ == "__main__":
    main()
