"""make.py KIND DIR — writes the arrays tests/data/npz.sh trains on or refuses.

  regression DIR   reg_train.npz (512 examples, stored), reg_test.npz (128,
                   compressed): inputs a float64 [n, 3] and b int32 [n, 2],
                   target y float32 [n] = a·(1, -2, 0.5) + b·(0.25, -0.5) + 1
  bad DIR          one archive per bad-data message (see npz.sh errors)
  formats DIR      the same arrays through savez, savez_compressed, .npy
                   versions 1.0, 2.0 and 3.0 inside the archive, and a zip
                   with zip64 central-directory fields and end records
"""
import io
import os
import struct
import sys
import warnings
import zipfile
import zlib

import numpy as np

kind, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(5)


def regression(n):
    a = rng.normal(size=(n, 3))
    b = rng.integers(-3, 4, size=(n, 2)).astype(np.int32)
    y = (a @ np.array([1, -2, 0.5]) + b @ np.array([0.25, -0.5]) + 1).astype(np.float32)
    return a, b, y


def zip64(name, arrays):
    """A stored zip whose central directory gives every size and offset as
    0xFFFFFFFF with the values in zip64 extra fields, and whose end is the
    zip64 record, its locator and a classic record of 0xFFFF/0xFFFFFFFF (what
    a writer of archives beyond 4 GiB does; Python's zipfile does it only then)."""
    out, central = bytearray(), bytearray()
    for key, arr in arrays.items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arr)
        data, fname = buf.getvalue(), (key + ".npy").encode()
        crc, offset = zlib.crc32(data), len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, len(data), len(data), len(fname), 0)
        out += fname + data
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(fname), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + fname + extra
    cd_offset, n = len(out), len(arrays)
    out += central
    end64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    open(name, "wb").write(bytes(out))


def path(name):
    return os.path.join(out, name)


if kind == "regression":
    a, b, y = regression(512)
    np.savez(path("reg_train.npz"), a=a, b=b, y=y)
    a, b, y = regression(128)
    np.savez_compressed(path("reg_test.npz"), a=a, b=b, y=y)
elif kind == "bad":
    x = rng.normal(size=(6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0, 2], np.int64)
    np.savez(path("shape.npz"), x=x[:, :3], y=y)                 # x is [6, 3], the model takes [4]
    np.savez(path("dtype.npz"), x=x, y=y.astype(np.float32))     # labels as floats
    np.savez(path("int16.npz"), x=x, y=y.astype(np.int16))       # labels of a type not read
    np.savez(path("missing.npz"), features=x, y=y)                # no 'x'
    np.savez(path("count.npz"), x=x, y=y[:5])                     # 6 and 5 examples
    np.savez(path("labels.npz"), x=x, y=np.stack([y, y], axis=1))  # a label per example, not two
    np.savez(path("range.npz"), x=x, y=np.array([0, 1, 2, 3, 0, 2]))   # 3 is outside class(3)
    bad = x.copy()
    bad[4, 2] = np.nan
    np.savez(path("nonfinite.npz"), x=bad, y=y)
    np.savez(path("complex.npz"), x=x.astype(np.complex64), y=y)
    np.savez(path("fortran.npz"), x=np.asfortranarray(x), y=y)
    np.savez_compressed(path("good.npz"), x=x, y=y)
    whole = open(path("good.npz"), "rb").read()
    open(path("truncated.npz"), "wb").write(whole[: len(whole) // 2])
    # one byte of x's data flipped in a stored archive: the CRC no longer matches
    np.savez(path("crc.npz"), x=x, y=y)
    raw = bytearray(open(path("crc.npz"), "rb").read())
    at = raw.index(b"\x93NUMPY") + 128 + 5
    raw[at] ^= 0x40
    open(path("crc.npz"), "wb").write(bytes(raw))
    # the central directory's entry for x says "encrypted" (general purpose flag bit 0)
    raw = bytearray(open(path("crc.npz"), "rb").read())
    at = raw.index(b"PK\x01\x02")
    raw[at + 8] |= 1
    open(path("encrypted.npz"), "wb").write(bytes(raw))
    open(path("notzip.npz"), "wb").write(b"this is not an archive at all, just some text\n")
    # two members for one array: 'y.npy' twice (zipfile warns, and writes it), and 'y.npy' beside 'y'
    def npy(arr):
        buf = io.BytesIO()
        np.save(buf, arr)
        return buf.getvalue()
    for name, members in (("dup.npz", ("y.npy", "y.npy")), ("both.npz", ("y.npy", "y"))):
        with warnings.catch_warnings(), zipfile.ZipFile(path(name), "w") as z:
            warnings.simplefilter("ignore")
            z.writestr("x.npy", npy(x))
            z.writestr(members[0], npy(y))
            z.writestr(members[1], npy(y[::-1]))
elif kind == "formats":
    a, b, y = regression(64)
    np.savez(path("stored.npz"), a=a, b=b, y=y)
    np.savez_compressed(path("deflated.npz"), a=a, b=b, y=y)
    for version in ((1, 0), (2, 0), (3, 0)):
        with zipfile.ZipFile(path("v%d.npz" % version[0]), "w", zipfile.ZIP_DEFLATED) as z:
            for name, arr in (("a", a), ("b", b), ("y", y)):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, arr, version=version)
                z.writestr(name + ".npy", buf.getvalue())
    zip64(path("zip64.npz"), {"a": a, "b": b, "y": y})
else:
    sys.exit("make.py: unknown kind " + kind)
