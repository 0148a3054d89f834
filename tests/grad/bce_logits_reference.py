#!/usr/bin/python3
"""bce_logits_reference.py STEP.safetensors — checks the loss and gradients
nnc --export-step wrote for tests/grad/bce_logits.nn (z = 4·(x·Wᵀ + b),
loss binary_cross_entropy_logits(z, y)) against the definition, computed
here in double precision without numpy or torch: the mean over every
element of max(z,0) − z·y + log(1 + exp(−|z|)), which equals torch's
BCEWithLogitsLoss and binary_cross_entropy(sigmoid(z), y); its gradient in z
is (sigmoid(z) − y) / count.  Tolerance: 1e-5 relative (the step ran in f32).
"""
import json
import math
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        count = (b - a) // 4
        out[name] = (t["shape"], struct.unpack("<%df" % count, data[8 + n + a:8 + n + b]))
    return out


t = read(sys.argv[1])
(_, W), (_, bias) = t["z.weight"], t["z.bias"]
(xs, x), (_, y) = t["input.x"], t["target.y"]
batch, nin = xs
nout = len(bias)
count = batch * nout
loss, naive = 0.0, 0.0
gW, gb = [0.0] * (nout * nin), [0.0] * nout
for i in range(batch):
    for o in range(nout):
        z = 4 * (sum(x[i * nin + k] * W[o * nin + k] for k in range(nin)) + bias[o])
        yy = y[i * nout + o]
        loss += max(z, 0) - z * yy + math.log1p(math.exp(-abs(z)))
        p = 1 / (1 + math.exp(-z))
        naive += -(yy * math.log(p) + (1 - yy) * math.log(1 - p))
        dz = 4 * (p - yy) / count
        gb[o] += dz
        for k in range(nin):
            gW[o * nin + k] += dz * x[i * nin + k]
loss /= count
naive /= count


def close(a, b, what):
    ok = abs(a - b) <= 1e-5 * max(abs(a), abs(b), 1e-3)
    if not ok:
        print(f"FAIL: {what}: nnc {a:.9g}, reference {b:.9g}")
    return ok


ok = close(t["loss"][1][0], loss, "loss") and close(naive, loss, "the naive form")
for name, ref in (("grad.z.weight", gW), ("grad.z.bias", gb)):
    ok = all(close(a, b, f"{name}[{i}]") for i, (a, b) in enumerate(zip(t[name][1], ref))) and ok
print(f"loss nnc {t['loss'][1][0]:.7g} reference {loss:.7g}; gradients {'agree' if ok else 'differ'}")
sys.exit(0 if ok else 1)
