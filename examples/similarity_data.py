#!/usr/bin/env python3
"""similarity_data.py — writes the data examples/similarity.nn trains on.

    python3 examples/similarity_data.py [DIR]      (default: examples/)

Writes DIR/similarity_train.npz (8192 pairs) and DIR/similarity_test.npz
(1024 pairs), each with the arrays the model declares: left and right, int32
[n, 16] token ids in [0, 1000), and same, float32 [n, 1].  The vocabulary is
split into 10 topics of 100 tokens; a sequence draws 12 of its 16 tokens from
its topic and 4 from anywhere.  Half the pairs share a topic (same = 1), half
do not (same = 0).  Deterministic: the same files every run (seed 12).
"""
import os
import sys

import numpy as np

V, T, TOPICS = 1000, 16, 10


def pairs(rng, n):
    per_topic = V // TOPICS

    def sequence(topic):
        s = topic * per_topic + rng.integers(0, per_topic, T)
        noise = rng.random(T) < 0.25
        s[noise] = rng.integers(0, V, int(noise.sum()))
        return s

    left = np.empty((n, T), np.int32)
    right = np.empty((n, T), np.int32)
    same = np.empty((n, 1), np.float32)
    for i in range(n):
        a = rng.integers(0, TOPICS)
        match = i % 2 == 0
        b = a if match else (a + rng.integers(1, TOPICS)) % TOPICS
        left[i], right[i], same[i] = sequence(a), sequence(b), float(match)
    return left, right, same


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(12)
    for name, n in (("similarity_train.npz", 8192), ("similarity_test.npz", 1024)):
        left, right, same = pairs(rng, n)
        np.savez_compressed(os.path.join(out, name), left=left, right=right, same=same)


if __name__ == "__main__":
    main()
