#!/usr/bin/python3
"""npy.py — tiny .npy and safetensors writers and a .npy reader without numpy
(the tests must not need it).

  npy.py write FILE DTYPE SHAPE V1,V2,...   DTYPE f4|f8|i4|i8, SHAPE 3x2
  npy.py read FILE                          prints the shape line, then the values (%.7g)
  npy.py primer FILE                        the primer's weights as a safetensors checkpoint
"""
import json
import struct
import sys

CODES = {"f4": "f", "f8": "d", "i4": "i", "i8": "q"}


def write_npy(path, dtype, shape, values):
    header = "{'descr': '<%s', 'fortran_order': False, 'shape': (%s), }" % (
        dtype, "".join("%d, " % d for d in shape))
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), CODES[dtype]), *values))


def read_npy(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x93NUMPY\x01\x00", "magic"
    hlen = struct.unpack("<H", data[8:10])[0]
    header = data[10:10 + hlen].decode()
    assert (10 + hlen) % 64 == 0, "header alignment"
    d = eval(header)  # the header is a Python literal by definition
    assert d["descr"] == "<f4" and d["fortran_order"] is False, header
    n = 1
    for s in d["shape"]:
        n *= s
    body = data[10 + hlen:]
    assert len(body) == 4 * n, "data size"
    return d["shape"], struct.unpack("<%df" % n, body)


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, (shape, values) in tensors.items():
        b = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


if sys.argv[1] == "write":
    shape = [int(s) for s in sys.argv[4].split("x")]
    conv = float if sys.argv[3][0] == "f" else int
    write_npy(sys.argv[2], sys.argv[3], shape, [conv(v) for v in sys.argv[5].split(",")])
elif sys.argv[1] == "read":
    shape, values = read_npy(sys.argv[2])
    print("shape", list(shape))
    print(" ".join("%.7g" % v for v in values))
elif sys.argv[1] == "primer":
    # x = (1.5, -0.7): z = (1.61, -1.03, -0.58), h = (1.61, 0, 0), y = 0.6 * 1.61 + 0.1 = 1.066
    write_safetensors(sys.argv[2], {
        "z.weight": ([3, 2], [0.8, -0.3, -0.5, 0.4, 0.1, 0.9]), "z.bias": ([3], [0.2, 0.0, -0.1]),
        "y.weight": ([1, 3], [0.6, 0.5, -0.2]), "y.bias": ([1], [0.1])})
