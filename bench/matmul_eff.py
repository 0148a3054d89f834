#!/usr/bin/python3
"""bench/matmul_eff.py — a training step's kernels on one thread, the step
alone, and each matmul's efficiency: its FLOPs over its CPU time, against
the FMA loop (bench/fma.h) measured in CPU time in the same run.

usage: bench/matmul_eff.py MODEL STEPS ROUNDS NNC...   (needs NNC_DATA, perf)
       e.g. bench/matmul_eff.py shakespeare 12 6 /tmp/start/nnc build/nnc

Each NNC (with libnncrt.a beside it) writes a trainer of examples/MODEL.nn
(`nnc FILE -o`, a compile cache of this run's own), which runs STEPS steps
at --threads 1 under `perf record` (cpu-clock, 4 kHz: 0.25 ms a sample),
the binaries in turn, the order reversed every other round.  A trainer
evaluates after its last step; bench/kernels.sh counts that forward pass
with the step's kernels (for the GPT at 12 steps it is about as much work
as the steps: a third of the samples of some bodies).  Here each run's
samples stop at the first one in a body only the evaluation calls (its
wrappers nnc_eval.kN call it and no nnc_train_step.kN does); a model whose
evaluation shares every body with the step is not cut.

Per body: the step's calls, its FLOPs per step (the matmuls' from
`--dump-ir=fused` of the first NNC at the trainer's batch: 2 × C's elements
× the contraction; left out for rows or columns read as patches, and for
every kernel when the trainer's matmuls are not that graph's), the
fewest samples of any round for each NNC, and the efficiency
FLOPs × STEPS / (samples × 0.25 ms) / the FMA loop's rate (the median of
its runs between rounds, one core, CPU time: on a shared machine both
lose alike).
"""
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FMA_C = r'''
#include <stdio.h>
#include <time.h>
#include "fma.h"
int main(void)
{
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double t = (double)clock() / CLOCKS_PER_SEC, f = fma_loop(4000000);
        t = (double)clock() / CLOCKS_PER_SEC - t;
        best = f / t > best ? f / t : best;
    }
    printf("%g\n", best);
    return 0;
}
'''


def bodies_of(trainer):
    """The trainer's kernel wrappers: {(entry, k): body} from its calls, and
    {k: op} of the step's (nnc_train_step.k6.matmul: {6: "matmul"})."""
    asm = subprocess.run(["objdump", "-d", "--no-show-raw-insn", trainer], capture_output=True, text=True,
                         check=True).stdout
    calls, ops, wrapper = {}, {}, None
    for line in asm.splitlines():
        m = re.match(r"[0-9a-f]+ <nnc_(\w+)\.k(\d+)\.(\w+)>", line)
        if m:
            wrapper = (m.group(1), int(m.group(2)))
            if m.group(1) == "train_step":
                ops[int(m.group(2))] = m.group(3)
            continue
        m = re.search(r"call.*<nnc_train_step\.(body\d+)\.", line)
        if m and wrapper:
            calls[wrapper] = m.group(1)
            wrapper = None
    return calls, ops


def shapes(text, batch):
    """Node number -> shape (B as the batch) of every `%N = ... : t[dims]` line."""
    out = {}
    for m in re.finditer(r"^\s*%(\d+) = .*?: \w+\[([^\]]*)\]", text, re.M):
        out[int(m.group(1))] = [batch if d.strip() == "B" else int(d) for d in m.group(2).split(",") if d.strip()]
    return out


def matmul_flops(nnc, model, batch, env, ops):
    """Node number -> FLOPs of each matmul of the step at `batch`; {} when the
    trainer's matmuls are not those --dump-ir=fused prints (a wrapper
    kN.matmul of another op than node N: the MNIST MLP's trainer fuses its
    products otherwise)."""
    run = lambda stage: subprocess.run([nnc, "--dump-ir=" + stage, model], env=env, capture_output=True, text=True,
                                       check=True).stdout
    fused = run("fused")
    node_op = {int(m.group(1)): m.group(2) for m in re.finditer(r"^\s*%(\d+) = (\w+)", fused, re.M)}
    if any(node_op.get(k) != op for k, op in ops.items() if op.startswith("matmul")):
        return {}
    shape = shapes(run("plan"), batch)  # the inputs' shapes
    shape.update(shapes(fused, batch))
    flops = {}
    for m in re.finditer(r"^\s*%(\d+) = matmul\w* %(\d+), %(\d+)([^:]*):", fused, re.M):
        attrs = m.group(4).split()
        if "patches" in attrs:
            continue
        a, c = shape[int(m.group(2))], shape[int(m.group(1))]
        depth = a[-2] if "ta" in attrs else a[-1]
        for d in (a[:-2] if "lead" in attrs else []):
            depth *= d
        n = 2 * depth
        for d in c:
            n *= d
        flops[int(m.group(1))] = n
    return flops


def step_samples(trainer, steps, eval_only, tmp, env):
    """perf's samples per symbol of the step's kernels, up to the evaluation."""
    data = os.path.join(tmp, "p.data")
    subprocess.run(["perf", "record", "-q", "-F", "4000", "-o", data, trainer, "--steps", str(steps), "--threads", "1"],
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    script = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym"], capture_output=True, text=True).stdout
    n = collections.Counter()
    for line in script.splitlines():
        f = line.split()
        sym = f[1] if len(f) > 1 else ""
        m = re.match(r"nnc_train_step\.(body\d+)", sym)
        if m and m.group(1) in eval_only:
            break
        if sym.startswith("nnc_train_step."):
            n[sym[len("nnc_train_step."):]] += 1
            n["KERNELS"] += 1
    return n


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__.split("\n\n")[1])
    name, steps, rounds, nncs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    model = os.path.join(ROOT, "examples", name + ".nn")
    tmp = tempfile.mkdtemp()
    env = dict(os.environ, NNC_CACHE_DIR=os.path.join(tmp, "cache"))
    fma = os.path.join(tmp, "fma")
    with open(fma + ".c", "w") as f:
        f.write(FMA_C)
    subprocess.run(["cc", "-O2", "-march=native", "-I", HERE, fma + ".c", "-o", fma], check=True)
    runs = []
    for i, nnc in enumerate(nncs):
        t = os.path.join(tmp, "t%d" % i)
        subprocess.run([nnc, model, "-o", t], env=env, check=True)
        calls, ops = bodies_of(t)
        train = {b for (e, _), b in calls.items() if e == "train_step"}
        runs.append((t, {b for (e, _), b in calls.items() if e == "eval"} - train, calls, ops))
    batch = int(re.search(r"--batch N.*default (\d+)", subprocess.run([runs[0][0], "--help"], capture_output=True,
                                                                       text=True).stdout).group(1))
    per_node = matmul_flops(nncs[0], model, batch, env, runs[0][3])
    flops, ncalls = collections.Counter(), collections.Counter()
    for (e, k), b in runs[0][2].items():
        if e == "train_step":
            ncalls[b] += 1
            flops[b] += per_node.get(k, 0)
    samples = collections.defaultdict(lambda: collections.defaultdict(list))
    rates = []
    for r in range(rounds):
        order = list(enumerate(runs))
        for i, (t, eval_only, _, _) in (order if r % 2 == 0 else reversed(order)):
            got = step_samples(t, steps, eval_only, tmp, env)
            for sym in set(got) | set(samples):
                samples[sym][i].append(got.get(sym, 0))
        rates.append(float(subprocess.run([fma], capture_output=True, text=True, check=True).stdout))
    rate = statistics.median(rates)
    print(f"{name}: {steps} steps at --threads 1, batch {batch}, the step alone; fewest samples of {rounds} rounds "
          f"(0.25 ms); eff = FLOPs / (samples x 0.25 ms) / the FMA loop's {rate / 1e9:.1f} GFLOP/s "
          f"(CPU time, median of {len(rates)}: {min(rates) / 1e9:.0f}-{max(rates) / 1e9:.0f}); load average "
          + " ".join(open("/proc/loadavg").read().split()[:3]))
    for i, nnc in enumerate(nncs):
        print(f"  [{i + 1}] {nnc}")
    if not per_node:
        print("  (no FLOPs: the trainer's matmuls are not those of --dump-ir=fused)")
    print(f"{'kernel':30}{'calls':>6}{'MFLOP':>8}" + "".join(f"{'[' + str(i + 1) + ']':>8}{'eff':>6}"
                                                             for i in range(len(nncs))))
    least = lambda d, i: min(d[i]) if d[i] else 0
    rows = [s for s, d in samples.items() if max(least(d, i) for i in range(len(nncs))) >= 10]
    for sym in sorted(rows, key=lambda s: -least(samples[s], 0)):
        body = sym.split(".")[0]
        f = flops.get(body, 0) if re.match(r"body\d+\.matmul\w*$", sym) else 0
        line = f"{sym[:30]:30}{ncalls.get(body, '') if sym != 'KERNELS' else '':>6}" + (f"{f / 1e6:8.1f}" if f else " " * 8)
        for i in range(len(nncs)):
            k = least(samples[sym], i)
            line += f"{k:8d}" + (f"{f * steps / (k * 0.25e-3) / rate:6.2f}" if f and k else " " * 6)
        print(line)


if __name__ == "__main__":
    main()
