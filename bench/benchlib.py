"""bench/benchlib.py — what the side-by-side benchmarks share: where nnc and
the data are, MNIST as tensors, a run of nnc --jit read back from its
--metrics lines, and the closing summary of medians and ratios.

Not a script: bench/mnist_mlp.py, mnist_cnn.py and shakespeare.py import it.
"""
import gzip
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NNC = os.path.join(ROOT, "build", "nnc")
DATA = os.environ.get("NNC_DATA") or os.path.join(ROOT, "..", "shared", "data")


def idx(path):
    """An IDX file (raw or gzip) as uint8: images [n, rows*cols], labels [n]."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows * cols)
    return np.frombuffer(data, np.uint8, offset=8)


def mnist_train():
    """The training images standardised as mnist(normalize: standard) does
    ((x/255 - 0.1307) / 0.3081, float32 [60000, 784]) and labels (int64)."""
    def find(name):
        base = os.path.join(DATA, "mnist", name)
        return base if os.path.exists(base) else base + ".gz"
    x = (idx(find("train-images-idx3-ubyte")) / 255.0 - 0.1307) / 0.3081
    return x.astype(np.float32), idx(find("train-labels-idx1-ubyte")).astype(np.int64)


def torch_threads(argv):
    """Sets torch's threads explicitly and says how many: `--torch-threads N`
    taken out of argv (the list is edited in place), else every CPU this
    process may run on.  Debian's torch here would run one thread by default
    (OpenMP's default is 1 in this environment), so a ratio against torch
    means nothing unless its thread count is set and printed."""
    if "-h" in argv or "--help" in argv:  # the script's own docstring says how to call it
        print(sys.modules["__main__"].__doc__.strip())
        sys.exit(0)
    import torch

    n = len(os.sched_getaffinity(0))
    if "--torch-threads" in argv:
        i = argv.index("--torch-threads")
        n = int(argv[i + 1])
        del argv[i : i + 2]
    torch.set_num_threads(n)
    print(f"pytorch {torch.__version__}: {torch.get_num_threads()} threads (set; --torch-threads N to change)", flush=True)
    return n


def torch_epoch(model, opt, x, y, sched=None, batch=64):
    """One shuffled epoch of cross-entropy training in torch; its seconds."""
    import time

    import torch
    import torch.nn.functional as F

    start = time.perf_counter()
    model.train()
    perm = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], batch):
        idx_ = perm[i:i + batch]
        loss = F.cross_entropy(model(x[idx_]), y[idx_])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    return time.perf_counter() - start


class NncRun:
    """One nnc --jit -v run: its metrics lines (dicts) and compile time (ms)."""

    def __init__(self, model, args, metrics, nnc=NNC, env=None):
        env = dict(os.environ, NNC_DATA=DATA, **(env or {}))
        out = subprocess.run([nnc, "--jit", "-v", "--metrics", metrics, *args, os.path.join(ROOT, model)],
                             env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{nnc} failed ({out.returncode}):\n{out.stderr}")
        with open(metrics) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        # the run's header line (first key "nnc": what ran) apart from the evaluations
        self.header = next((line for line in lines if "nnc" in line), None)
        self.lines = [line for line in lines if "nnc" not in line]
        self.compile_ms = next((float(line.split()[2]) for line in out.stderr.splitlines()
                                if line.startswith("compiled in ")), float("nan"))
        self.last = self.lines[-1]


def step_seconds(model, args, nnc=NNC, env=None):
    """Wall seconds per training step of one nnc --jit run: the train_seconds
    of its metrics lines (training steps only) over its steps; stops the
    bench with nnc's message if the run fails."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            r = NncRun(model, args, os.path.join(tmp, "m.jsonl"), nnc=nnc, env=env)
        except RuntimeError as e:
            sys.exit(str(e))
    return sum(line.get("train_seconds", 0.0) for line in r.lines) / r.last["step"]


def cpu_model():
    """The CPU's model name, as /proc/cpuinfo gives it ("?" if it does not)."""
    with open("/proc/cpuinfo") as f:
        return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")


def peak_exe():
    """bench/peak.c built for this CPU (again when the source is newer)."""
    exe, src = os.path.join(ROOT, "build", "bench_peak"), os.path.join(ROOT, "bench", "peak.c")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        subprocess.run(["cc", "-O2", "-march=native", "-pthread", src, "-o", exe], check=True)
    return exe


def machine_peak():
    """This machine's f32 FMA peak (GFLOP/s) and memory read bandwidth (GB/s),
    on one core and on all, measured now by bench/peak.c."""
    return json.loads(subprocess.run([peak_exe(), "--json"], capture_output=True, text=True, check=True).stdout)


def pair_ns():
    """A cache line's round trip between the first two CPUs, in ns, measured
    now (`bench_peak --pair`, the least of 20 rounds): whether a virtual machine's two vCPUs share an L3
    at this moment; None with fewer than two CPUs."""
    try:
        r = subprocess.run([peak_exe(), "--pair", "--json"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(r.stdout)["pair_ns"] if r.returncode == 0 else None


def train_flops(model):
    """Nominal FLOPs of a training step per example: three times the forward
    pass nnc --summary counts, the usual estimate (the backward pass is about
    twice the forward).  It is an upper bound of the work: no gradient is
    computed for the data, so the first layer's input gradient is never done
    (for the MNIST MLP the step is 2.0x its forward pass, not 3x)."""
    out = subprocess.run([NNC, "--summary", os.path.join(ROOT, model)], capture_output=True, text=True, check=True)
    total = next(line for line in out.stdout.splitlines() if line.startswith("total"))
    return 3 * int(total.split()[-1].replace(",", ""))


def summary(unit, torch_times, nnc_times, compiles, floor=None, lower_is_better=True, flops=None):
    """Medians, the ratio (above 1: nnc is faster) and nnc against the floor;
    with flops (per unit of work: per epoch, or per token for a rate), nnc's
    GFLOP/s against the machine's FMA peak measured in this run."""
    import torch

    mt, mn = statistics.median(torch_times), statistics.median(nnc_times)
    print(f"pytorch {torch.__version__}, {torch.get_num_threads()} threads: median {mt:.4g} {unit}")
    print(f"nnc: median {mn:.4g} {unit}; compile (front end to JIT) median {statistics.median(compiles):.0f} ms")
    ratio = mt / mn if lower_is_better else mn / mt
    print(f"ratio pytorch/nnc: {ratio:.2f} (above 1: nnc is faster)")
    if floor is not None:
        print(f"nnc against the 2-core floor of {floor:.4g} {unit}: {mn / floor if lower_is_better else floor / mn:.2f}x")
    if flops is not None:
        peak = machine_peak()
        rate = (flops / mn if lower_is_better else flops * mn) / 1e9
        torch_rate = (flops / mt if lower_is_better else flops * mt) / 1e9
        print(f"machine, measured now: {peak['cpu']}, {peak['cores']} cores; f32 FMA peak {peak['fma_gflops_1']:.0f} "
              f"GFLOP/s on one core, {peak['fma_gflops_all']:.0f} on all; memory read {peak['read_gbs_1']:.1f} / "
              f"{peak['read_gbs_all']:.1f} GB/s")
        print(f"at the nominal 3x-forward FLOPs, nnc: {rate:.1f} GFLOP/s, {100 * rate / peak['fma_gflops_all']:.0f}% of "
              f"the all-core peak; "
              f"pytorch: {torch_rate:.1f} GFLOP/s, {100 * torch_rate / peak['fma_gflops_all']:.0f}%")
