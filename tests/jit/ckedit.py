#!/usr/bin/python3
"""ckedit.py MODE IN OUT [VALUE] -- rewrite a checkpoint nnc wrote, for the tests.

  old   OUT is IN as nnc wrote checkpoints before the step went into the
        header's __metadata__: no __metadata__ at all, and the step a scalar
        F32 tensor named "step" after the other tensors (VALUE, else IN's
        nnc.step)
  step  OUT is IN with __metadata__'s nnc.step set to the string VALUE
  drop  OUT is IN without the tensors whose names start with VALUE
  add   OUT is IN with a copy of its first tensor under each of the names
        VALUE (comma-separated)
"""
import json
import struct
import sys


def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    return header, b[8 + n:]


def write(path, header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)


mode, src, dst = sys.argv[1:4]
header, data = read(src)
meta = header.pop("__metadata__", {})
if mode == "old":
    step = float(sys.argv[4]) if len(sys.argv) > 4 else float(meta["nnc.step"])
    header["step"] = {"dtype": "F32", "shape": [], "data_offsets": [len(data), len(data) + 4]}
    data += struct.pack("<f", step)
elif mode == "step":
    header = {"__metadata__": dict(meta, **{"nnc.step": sys.argv[4]}), **header}
elif mode == "drop":
    header = {k: v for k, v in header.items() if not k.startswith(sys.argv[4])}
    if meta:
        header["__metadata__"] = meta
elif mode == "add":
    first = next(iter(header.values()))
    lo, hi = first["data_offsets"]
    for name in sys.argv[4].split(","):
        header[name] = dict(first, data_offsets=[len(data), len(data) + hi - lo])
        data += data[lo:hi]
    if meta:
        header["__metadata__"] = meta
else:
    sys.exit(f"unknown mode {mode}")
write(dst, header, data)
