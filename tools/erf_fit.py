#!/usr/bin/python3
"""tools/erf_fit.py — the coefficients of compiler/codegen/cg_math.c's f32 erf.

erf(x) = x·S(x²) for |x| < 1 and 1 − t·P(t)·e^(−x²), t = 1/(1 + p|x|), from
1 to 3.92 (past which erf rounds to 1 in f32).  Both are minimax fits by
Lawson's iteration (least squares reweighted by the error, in double): S of
degree 5 for the relative error of erf(x)/x on [0, 1], P of degree 3 and p
(searched on a grid of f32 values) for the absolute error of the tail on
[1, 3.92].  Prints the coefficients rounded to f32 and their error with
those coefficients (the f32 arithmetic adds its own: unit.cg_math measures
the whole).

usage: /usr/bin/python3 tools/erf_fit.py   (needs numpy)
"""
import math

import numpy as np


def lawson(V, f, scale, rounds):
    """c minimising max |V·c − f| · scale over the rows."""
    w = np.ones(len(f))
    for _ in range(rounds):
        s = np.sqrt(w) * scale
        c, *_ = np.linalg.lstsq(V * s[:, None], f * s, rcond=None)
        e = np.abs(V @ c - f) * scale
        w = w * (e / e.max() + 1e-4)
        w /= w.sum()
    return c


def f32(c):
    return np.asarray(c, np.float32).astype(np.float64)


def small():
    x = np.linspace(0, 1, 40001)[1:]
    f = np.array([math.erf(v) for v in x]) / x
    V = np.vander(x * x, 6, increasing=True)
    c = f32(lawson(V, f, 1 / f, 200))
    return c, np.abs(V @ c / f - 1).max()


def tail():
    x = np.linspace(1, 3.92, 30001)
    r = np.array([math.erfc(v) for v in x]) * np.exp(x * x)   # erfc(x) = e^(−x²)·r(x)
    g = np.exp(-x * x)
    best = None
    for p in f32(np.linspace(0.66, 0.76, 101)):
        t = 1 / (1 + p * x)
        V = np.stack([t ** (i + 1) for i in range(4)], 1)
        c = f32(lawson(V, r, g, 100))
        err = (np.abs(V @ c - r) * g).max()
        if best is None or err < best[0]:
            best = (err, p, c)
    return best


if __name__ == "__main__":
    c, err = small()
    print("S:", ", ".join(repr(float(v)) for v in c), f"(relative error {err:.2g})")
    err, p, c = tail()
    print(f"p: {float(p)!r}")
    print("P:", ", ".join(repr(float(v)) for v in c), f"(absolute error {err:.2g})")
