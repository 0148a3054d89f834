#!/usr/bin/env python3
"""bench/kv_sample.py — `--sample` with the key/value cache against without
(--no-kv-cache) on the character GPT of examples/shakespeare.nn, side by side.

Trains a checkpoint first (--steps STEPS, default 300) unless CHECKPOINT is
given, then alternates, ROUNDS times (default 3) and for each sample length
(300 and 1000 tokens): the cached run, then the uncached one, each
`nnc --jit -v --threads 1 --load CK --sample "ROMEO:" --length N`.  Its -v
line gives the sampling loop's wall time and CPU time (one thread, so on a
loaded machine the CPU time is the steadier measure): tokens per second of
each.  Prints the medians of each way, the ratios, and whether the two ways
wrote the same text.

usage: python3 bench/kv_sample.py [ROUNDS [STEPS [CHECKPOINT]]]   (needs NNC_DATA and build/nnc)
"""
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NNC = os.path.join(ROOT, "build", "nnc")
MODEL = os.path.join(ROOT, "examples", "shakespeare.nn")


def run(args):
    """(stdout, stderr, CPU seconds of the child)"""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([NNC] + args, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("nnc %s failed:\n%s" % (" ".join(args), p.stderr))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p.stdout, p.stderr, cpu


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    ck = sys.argv[3] if len(sys.argv) > 3 else None
    tmp = tempfile.mkdtemp()
    if not ck:
        ck = os.path.join(tmp, "ck.safetensors")
        run(["--jit", "--steps", str(steps), "--save", ck, MODEL])
    rows = []
    for length in (300, 1000):
        rate = {True: [], False: []}
        cpu = {True: [], False: []}
        text = {}
        for _ in range(rounds):
            for cached in (True, False):
                args = ["--jit", "-v", "--threads", "1", "--load", ck, "--sample", "ROMEO:", "--length", str(length)]
                out, err, _ = run(args + ([] if cached else ["--no-kv-cache"]) + [MODEL])
                m = re.search(r"^sampled \d+ tokens in ([0-9.]+) s \(CPU ([0-9.]+) s\): [0-9.]+ tokens/s \((.*)\)$", err, re.M)
                if not m or (m.group(3) == "key/value cache") != cached:
                    sys.exit("no sampling line, or the wrong way:\n" + err)
                rate[cached].append(length / float(m.group(1)))
                cpu[cached].append(length / float(m.group(2)))
                text.setdefault(cached, out)
        same = text[True] == text[False]
        rows.append((length, statistics.median(rate[True]), statistics.median(rate[False]),
                     statistics.median(cpu[True]), statistics.median(cpu[False]), same))
    print("| length | tokens/s, cache | tokens/s, --no-kv-cache | ratio | per CPU s, cache | per CPU s, --no-kv-cache | ratio | same text |")
    print("|---|---|---|---|---|---|---|---|")
    for length, rc, ru, cc, cu, same in rows:
        print("| %d | %.0f | %.0f | %.1fx | %.0f | %.0f | %.1fx | %s |"
              % (length, rc, ru, rc / ru, cc, cu, cc / cu, "yes" if same else "NO"))


if __name__ == "__main__":
    main()
