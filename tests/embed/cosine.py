"""cosine.py NNC MODEL LIB TMP — the cosine similarity of 64 pairs of random
vectors, from `nnc --predict` (.npy inputs) and from the forward-only library
(ctypes), against numpy in float64: both within 2e-6 (a cosine is in [-1, 1];
the compiled code rounds each of its ~30 operations to f32, eps 1.2e-7)."""
import ctypes
import subprocess
import sys

import numpy as np

nnc, model, lib, tmp = sys.argv[1:5]
rng = np.random.default_rng(3)
a = rng.standard_normal((64, 8)).astype(np.float32)
b = rng.standard_normal((64, 8)).astype(np.float32)
b[0] = a[0]                      # identical: 1
b[1] = -2 * a[1]                 # opposite: -1
a64, b64 = a.astype(np.float64), b.astype(np.float64)
want = (a64 * b64).sum(1) / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1))

np.save(f"{tmp}/a.npy", a)
np.save(f"{tmp}/b.npy", b)
out = subprocess.run([nnc, "--predict", model, "--input", f"a={tmp}/a.npy", "--input", f"b={tmp}/b.npy"],
                     check=True, capture_output=True, text=True).stdout
predicted = np.array([float(line) for line in out.splitlines()])

so = ctypes.CDLL(lib)
so.cos_sim_create.restype = ctypes.c_void_p
so.cos_sim_create.argtypes = [ctypes.c_uint64]
so.cos_sim_forward.argtypes = [ctypes.c_void_p, ctypes.c_int64] + [ctypes.POINTER(ctypes.c_float)] * 3
so.cos_sim_destroy.argtypes = [ctypes.c_void_p]
m = so.cos_sim_create(1)
got = np.zeros(64, dtype=np.float32)
ptr = lambda x: x.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
assert so.cos_sim_forward(m, 64, ptr(a), ptr(b), ptr(got)) == 0
so.cos_sim_destroy(m)

for name, v in (("--predict", predicted), ("library", got.astype(np.float64))):
    err = np.max(np.abs(v - want))
    print(f"{name}: {len(v)} pairs, largest difference from numpy {err:.2e}; "
          f"pair 0 {v[0]:.7g}, pair 1 {v[1]:.7g}")
    assert len(v) == 64 and err <= 2e-6, name
