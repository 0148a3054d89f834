#!/usr/bin/env python3
"""check_ckpt.py — assertions about the tensors of a safetensors checkpoint.

  check_ckpt.py literal FILE NAME V1,V2,...   NAME holds exactly float32(Vi), shape aside
  check_ckpt.py uniform FILE NAME LIMIT       every value in [-LIMIT, LIMIT], the largest
                                              above 0.9 LIMIT, the mean within 4 sigma of 0
  check_ckpt.py normal FILE NAME STD          the sample std within 10% of STD, the mean
                                              within 4 sigma of 0
  check_ckpt.py same FILE1 FILE2 NAME...      the tensors are equal, bit for bit
  check_ckpt.py names FILE NAME...            the file holds these tensors
Exits 1 with a message on the first failed assertion.
"""
import array
import json
import math
import struct
import sys


def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = t["data_offsets"]
        a = array.array({"F32": "f", "F64": "d", "I32": "i"}[t["dtype"]])
        a.frombytes(raw[8 + n + begin:8 + n + end])
        out[name] = (t["shape"], list(a))
    return out


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def tensor(ck, path, name):
    if name not in ck:
        fail("%s has no tensor '%s' (it has %s)" % (path, name, ", ".join(sorted(ck))))
    return ck[name]


def main(argv):
    what, path = argv[1], argv[2]
    ck = load(path)
    if what == "literal":
        shape, v = tensor(ck, path, argv[3])
        want = [f32(float(x)) for x in argv[4].split(",")]
        if v != want:
            fail("%s is %s, expected %s" % (argv[3], v, want))
        print("%s %s = %s" % (argv[3], shape, v))
    elif what in ("uniform", "normal"):
        shape, v = tensor(ck, path, argv[3])
        scale = float(argv[4])
        n = len(v)
        mean = sum(v) / n
        std = math.sqrt(sum((x - mean) ** 2 for x in v) / n)
        print("%s %s: %d values, mean %.4f, std %.4f, largest |x| %.4f"
              % (argv[3], shape, n, mean, std, max(abs(x) for x in v)))
        sigma = (scale / math.sqrt(3) if what == "uniform" else scale) / math.sqrt(n)
        if abs(mean) > 4 * sigma:
            fail("mean %g is more than 4 sigma from 0" % mean)
        if what == "uniform":
            if max(abs(x) for x in v) > scale or max(abs(x) for x in v) < 0.9 * scale:
                fail("values do not fill [-%g, %g]" % (scale, scale))
        elif abs(std - scale) > 0.1 * scale:
            fail("std %g, expected %g" % (std, scale))
    elif what == "same":
        other = load(argv[3])
        for name in argv[4:]:
            if tensor(ck, path, name) != tensor(other, argv[3], name):
                fail("%s differs between %s and %s" % (name, path, argv[3]))
        print("same: " + " ".join(argv[4:]))
    elif what == "names":
        for name in argv[3:]:
            tensor(ck, path, name)
        print("names: " + " ".join(sorted(ck)))
    else:
        fail("unknown check " + what)


main(sys.argv)
