#!/usr/bin/python3
"""bench/pool_trace.py — where a training step's threads wait: every
rt_parallel call of the step, timed, summed per kernel.

usage: bench/pool_trace.py MODEL STEPS [--threads T] [--top N]   (needs NNC_DATA)
       e.g. bench/pool_trace.py shakespeare 20

Builds build-trace/ (`cmake -DNNC_POOL_TRACE=ON`: runtime/pool_trace.c records
each call; nothing is recorded in a normal build) if it is not there, writes a
trainer of examples/MODEL.nn with it (`nnc FILE -o`, a compile cache of this
run's own), runs STEPS steps at --threads T (2) with NNC_POOL_TRACE=FILE, and
reads the trace back.  Only the calls of the step's kernels count (tasks
nnc_train_step.kN, named by the trainer's symbols; the evaluation's are left
out), summed per body (nnc_train_step.bodyN, which several nodes' wrappers
kN call: the GPT's four layers share theirs; matmul_eff.py's bodies_of).
Per body, a step's: calls; milliseconds from each call's start to its
end; the caller's wait after its own claims (for a worker's last claim); the
caller's share of the claims; how long a worker took to start its first claim
(median, us); the calls that found a worker asleep; and the calls that ran on
one thread (one item, or the caller alone after a stall).  Then the step's
total of calls and of the gaps between them (the serial work: the generated
code's direct calls of small kernels, the runtime's own work).  Times are
wall time: take them on a quiet machine, or say the load.
"""
import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from matmul_eff import bodies_of  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(ROOT, "build-trace")


def build():
    if not os.path.exists(os.path.join(BUILD, "nnc")):
        subprocess.run(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DNNC_POOL_TRACE=ON"],
                       check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", BUILD, "-j2", "--target", "nnc", "nncrt"], check=True, stdout=subprocess.DEVNULL)


def symbols(binary):
    """Function addresses of the binary: {address: name}."""
    out = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tT":
            syms[int(parts[0], 16)] = parts[2]
    return syms


def read_trace(path, syms):
    """The recorded calls, each task named: [(name, n, claims, caller_claims,
    start, caller_done, end, worker_first, sleepers, kind)], times in us."""
    by_name = {name: addr for addr, name in syms.items()}
    calls = []
    with open(path) as f:
        bias = int(f.readline().split()[2], 16) - by_name["rt_parallel"]
        for line in f:
            if line.startswith("#"):
                continue
            p = line.split()
            name = syms.get(int(p[0], 16) - bias, p[0])
            calls.append((name, *map(int, p[1:4]), *map(float, p[4:8]), int(p[8]), int(p[9])))
    return calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("steps", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    build()
    with tempfile.TemporaryDirectory() as tmp:
        trainer, trace = os.path.join(tmp, "trainer"), os.path.join(tmp, "trace")
        env = dict(os.environ, NNC_CACHE_DIR=os.path.join(tmp, "cache"))
        subprocess.run([os.path.join(BUILD, "nnc"), os.path.join(ROOT, "examples", args.model + ".nn"), "-o", trainer],
                       env=env, check=True)
        subprocess.run([trainer, "--steps", str(args.steps), "--threads", str(args.threads)],
                       env=dict(env, NNC_POOL_TRACE=trace), check=True, stdout=subprocess.DEVNULL)
        calls = read_trace(trace, symbols(trainer))
        body, _ = bodies_of(trainer)
    step = []
    for c in calls:
        m = re.match(r"nnc_train_step[.]k(\d+)[.](\w+)$", c[0])
        if m:
            step.append((f"{body.get(('train_step', int(m.group(1))), 'k' + m.group(1))}.{m.group(2)}", *c[1:]))
    if not step:
        sys.exit("pool_trace.py: no call of nnc_train_step's kernels in the trace")
    per = collections.defaultdict(list)
    for c in step:
        per[c[0]].append(c)
    S = args.steps
    print(f"{args.model}, {S} steps at --threads {args.threads}; a step's:")
    print(f"{'body':34} {'calls':>6} {'ms':>7} {'wait ms':>8} {'caller':>7} {'join us':>8} {'asleep':>7} {'one':>5}")
    rows = sorted(per.items(), key=lambda kv: -sum(c[6] - c[4] for c in kv[1]))
    for name, cs in rows[:args.top]:
        par = [c for c in cs if c[9] == 0]
        ms = sum(c[6] - c[4] for c in cs) / 1e3 / S
        wait = sum(c[6] - c[5] for c in par) / 1e3 / S
        share = sum(c[3] for c in par) / max(1, sum(c[2] for c in par))
        joins = [c[7] for c in par if c[7] >= 0]
        join = statistics.median(joins) if joins else float("nan")
        asleep = sum(1 for c in par if c[8] > 0)
        print(f"{name:34} {len(cs) / S:6.1f} {ms:7.3f} {wait:8.3f} {share:7.2f} "
              f"{join:8.1f} {asleep / S:7.1f} {(len(cs) - len(par)) / S:5.1f}")
    busy = sum(c[6] - c[4] for c in step) / 1e3 / S
    wait = sum(c[6] - c[5] for c in step if c[9] == 0) / 1e3 / S
    ordered = sorted(step, key=lambda c: c[4])
    gaps = [b[4] - a[6] for a, b in zip(ordered, ordered[1:])]
    print(f"all {len(per)} bodies: {len(step) / S:.1f} calls, {busy:.3f} ms in calls, of it {wait:.3f} ms the caller's "
          f"wait after its claims; {sum(g for g in gaps if g < 5e3) / 1e3 / S:.3f} ms between calls "
          f"(gaps under 5 ms; {sum(1 for g in gaps if g >= 5e3)} longer ones left out: the steps' ends)")


if __name__ == "__main__":
    main()
