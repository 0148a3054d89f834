"""horizon.py LIB_EPOCHS LIB_STEPS X.npy Y.npy — a library's learning-rate
schedule spans the train block's epochs of its csv/npz data: he.nn trains
`epochs = 2` of 64 examples at batch 16 under cosine(), hs.nn `steps = 8`,
the same model otherwise.  Both run through train_step on the same 8
batches and must give the same losses bit for bit (the same horizon, 8
steps); and the rate is not 0 past step 2 (a library took 2 epochs for 2
steps: steps 2 and 6, the same batch, gave the same loss)."""
import ctypes
import sys

import numpy as np

lib_e, lib_s, xs, ys = sys.argv[1:5]
x, y = np.load(xs), np.load(ys)
ptr = lambda a: a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def losses(path, name):
    so = ctypes.CDLL(path)
    create, step, destroy = (getattr(so, f"{name}_{f}") for f in ("create", "train_step", "destroy"))
    create.restype, create.argtypes = ctypes.c_void_p, [ctypes.c_uint64]
    step.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float),
                     ctypes.POINTER(ctypes.c_float)]
    destroy.argtypes = [ctypes.c_void_p]
    m, out = create(1), []
    for i in range(8):
        b = i % 4
        loss = ctypes.c_float()
        xb, yb = np.ascontiguousarray(x[16 * b:16 * b + 16]), np.ascontiguousarray(y[16 * b:16 * b + 16])
        assert step(m, 16, ptr(xb), ptr(yb), ctypes.byref(loss)) == 0
        out.append(loss.value)
    destroy(m)
    return out


e, s = losses(lib_e, "he"), losses(lib_s, "hs")
print("epochs = 2:", " ".join(f"{v:.6f}" for v in e))
print("steps = 8: ", " ".join(f"{v:.6f}" for v in s))
assert e == s, "the two horizons differ"
assert e[6] != e[2] and e[7] != e[3], "no learning past step 2"
