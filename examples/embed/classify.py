#!/usr/bin/env python3
"""classify.py — the MNIST MLP's library from Python, through ctypes and numpy.

    nnc --emit=so -o build/libmnist_mlp.so examples/mnist_mlp.nn
    /usr/bin/python3 examples/embed/classify.py build/libmnist_mlp.so ck.safetensors $NNC_DATA/mnist

(a Python with numpy: on Debian, /usr/bin/python3 with python3-numpy, which
another python3 first on the PATH may lack).

Prints the test accuracy, like classify.c.
"""
import ctypes
import gzip
import os
import sys

import numpy as np


def read_idx(directory, name, header):
    path = os.path.join(directory, name)
    data = gzip.open(path + ".gz").read() if os.path.exists(path + ".gz") else open(path, "rb").read()
    return np.frombuffer(data, dtype=np.uint8, offset=header)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: classify.py LIBRARY CHECKPOINT MNIST_DIR")
    lib = ctypes.CDLL(sys.argv[1])
    lib.mnist_mlp_create.restype = ctypes.c_void_p
    lib.mnist_mlp_create.argtypes = [ctypes.c_uint64]
    lib.mnist_mlp_destroy.argtypes = [ctypes.c_void_p]
    lib.mnist_mlp_load.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.mnist_mlp_last_error.restype = ctypes.c_char_p
    lib.mnist_mlp_last_error.argtypes = [ctypes.c_void_p]
    f32 = np.ctypeslib.ndpointer(dtype=np.float32, flags="C_CONTIGUOUS")
    lib.mnist_mlp_forward.argtypes = [ctypes.c_void_p, ctypes.c_int64, f32, f32]

    images = read_idx(sys.argv[3], "t10k-images-idx3-ubyte", 16).reshape(-1, 784)
    labels = read_idx(sys.argv[3], "t10k-labels-idx1-ubyte", 8)
    x = ((images.astype(np.float32) / 255 - np.float32(0.1307)) / np.float32(0.3081)).astype(np.float32)

    m = lib.mnist_mlp_create(0)
    if lib.mnist_mlp_load(m, sys.argv[2].encode()) != 0:
        sys.exit("classify.py: " + lib.mnist_mlp_last_error(m).decode())
    out = np.empty((len(x), 10), dtype=np.float32)
    if lib.mnist_mlp_forward(m, len(x), x, out) != 0:
        sys.exit("classify.py: " + lib.mnist_mlp_last_error(m).decode())
    lib.mnist_mlp_destroy(m)
    right = int((out.argmax(axis=1) == labels).sum())
    print(f"test_accuracy {right / len(x):.4f} ({right} of {len(x)})")


if __name__ == "__main__":
    main()
