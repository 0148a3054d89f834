#!/usr/bin/env python3
"""bench/cost_model.py — the tables of docs/distributed.md section 5: the
time an allreduce of each example's gradient takes on 10/25/100 GbE at
2-64 ranks, nnc's gather against nnc's ring, and the predicted scaling
efficiency (no overlap credited).

usage: bench/cost_model.py [--alpha-us 20]

gather: every rank receives the N - 1 other buckets: (N - 1)(G/beta + alpha).
ring:   a reduce-scatter of double partial sums, then an allgather of the
        f32 chunks, 2 (N - 1) hops: 3 (N - 1)/N G/beta + 2 (N - 1) alpha.
Step times (one 2-core node, BRIEF.md section 6): MLP 0.12 ms, CNN 16 ms,
GPT 48 ms at the train block's batch.
"""
import argparse

MODELS = [("MLP", 101770, 0.12), ("CNN", 421642, 16.0), ("GPT", 818241, 48.0)]
LINKS = [("10 GbE", 10e9 / 8), ("25 GbE", 25e9 / 8), ("100 GbE", 100e9 / 8)]
RANKS = [2, 4, 8, 16, 32, 64]


def times(G, beta, n, alpha):
    gather = (n - 1) * (G / beta + alpha)
    ring = 3 * (n - 1) / n * G / beta + 2 * (n - 1) * alpha
    return 1e3 * gather, 1e3 * ring


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alpha-us", type=float, default=20.0)
    alpha = ap.parse_args().alpha_us * 1e-6
    head = "|" + "|".join(f" N={n} " for n in RANKS) + "|"
    print("| model | link " + head)
    print("|---|---" + "|---" * len(RANKS) + "|")
    for name, params, _ in MODELS:
        G = 4 * params
        for i, (link, beta) in enumerate(LINKS):
            label = f"{name} ({G / 1e6:.2f} MB)" if i == 0 else name
            cells = [times(G, beta, n, alpha) for n in RANKS]
            print(f"| {label} | {link} |" + "|".join(f" {g:.2f} / {r:.2f} " for g, r in cells) + "|")
    print()
    print("| model, link " + head)
    print("|---" + "|---" * len(RANKS) + "|")
    for name, params, step in MODELS:
        for link, beta in LINKS:
            cells = []
            for n in RANKS:
                g, r = times(4 * params, beta, n, alpha)
                cells.append(f" {100 * step / (step + g):.0f}% / {100 * step / (step + r):.0f}% ")
            print(f"| {name}, {link} |" + "|".join(cells) + "|")
    print()
    print("same global batch (compute / N), GPT:")
    _, params, step = next(m for m in MODELS if m[0] == "GPT")
    for link, beta in LINKS:
        row = []
        for n in RANKS:
            g, r = times(4 * params, beta, n, alpha)
            row.append(f"N={n} {100 * (step / n) / (step / n + g):.0f}%/{100 * (step / n) / (step / n + r):.0f}%")
        print(f"  {link}: " + ", ".join(row))


if __name__ == "__main__":
    main()
