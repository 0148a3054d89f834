#!/usr/bin/python3
"""run.py NNC ROOT CASE -- nnc checkpoints and PyTorch (tools/nnc_torch.py, docs/pytorch.md).

Cases:
  mlp     examples/mnist_mlp.nn trained 20 steps: its checkpoint loads into a
          torch module of nn.Linear layers with load_state_dict(strict=True),
          through nnc_torch.state_dict and through `nnc_torch.py to-torch`, and
          the module's logits equal nnc --predict's on 16 MNIST test images
          (max |torch - nnc| <= 1e-5 * max |nnc|)
  gpt     examples/shakespeare.nn trained 1 step of batch 2 (AdamW: its state is in the
          file): into a torch model of four stock nn.TransformerEncoderLayer
          (norm_first, gelu, packed in_proj_weight) with strict=True; its
          logits equal nnc --predict's on 4 windows of tinyshakespeare within
          1e-5 relative; back with save_checkpoint and `from-torch`: the
          parameters bit for bit, the optimizer state too
  adam    tests/torch/adam_xor.nn (Adam, whole-batch xor) trained 3 steps by
          nnc; torch.optim.Adam takes the checkpoint's state (load_optimizer),
          computes step 4's loss (nnc's, within 1e-6 relative) and steps; the
          result saved as an nnc checkpoint (save_checkpoint) resumes in nnc
          with steps 5 and 6 losing what a straight nnc run loses (1e-5 relative)
  dtypes  F16, BF16 and F64 checkpoints (written by the helper) load wherever
          nnc loads one -- --jit --eval, --predict, --predict --trace,
          --emit=onnx, and a library's NAME_load / NAME_load_memory (ctypes) --
          converted to f32 exactly as the helper rounds them, with -v naming the
          tensors; an I8 tensor is refused with the exact message, exit 1

  cli     `nnc_torch.py` itself: layers merely named query/key/value/out are
          not packed as attention (round trip bit for bit); a cross_attention
          with key and value [8, 6] loads into nn.MultiheadAttention(8, 2,
          kdim=6, vdim=6) with strict=True and computes what its projections
          written out compute (1e-5 relative), and comes back bit for bit; a bad --rename
          exits 2; outputs that cannot be written, and an --optimizer file that
          is no optimizer state, exit 1 with one exact message; bf16 stays BF16
          and show says so; show | head ends quietly; a header that is JSON
          but not the format's (a list, a tensor entry that is a number, an
          array for __metadata__, offsets past the data) exits 1 with one
          line in nnc's words

Exit status: 0 pass, 1 fail, 77 skipped (no torch; no data set for the case).
"""
import ctypes
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SKIP = 77
nnc, root, case = sys.argv[1], sys.argv[2], sys.argv[3]
sanitized = len(sys.argv) > 4 and sys.argv[4] == "ON"   # nnc's runtime has ASan: no library in this python
data = os.environ.get("NNC_DATA", "")
tmp = tempfile.mkdtemp(prefix="nnc-torch.")
failed = []
sys.path.insert(0, os.path.join(root, "tools"))

try:
    import numpy as np
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(SKIP)
import nnc_torch   # in the tree (tools/): an ImportError here is a failure, not a skip


def skip(why):
    print(f"skipped: {why}")
    shutil.rmtree(tmp)
    sys.exit(SKIP)


def need_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        skip("/usr/bin/python3 has no torch (apt-get install python3-torch)")


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    return r.returncode, r.stdout, r.stderr


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failed.append(what)
    return cond


def must(args, what, **kw):
    rc, out, err = run(args, **kw)
    if not check(rc == 0, what):
        print(err)
        sys.exit(1)
    return out, err


def predict(model, ck, feeds, label, *extra):
    """nnc --predict's outputs (numpy) for feeds {input: array}."""
    args = [nnc, "--predict", model, "-o", os.path.join(tmp, f"{label}.npy"), *extra]
    if ck:
        args += ["--load", ck]
    for name, a in feeds.items():
        path = os.path.join(tmp, f"{label}.{name}.npy")
        np.save(path, a)
        args += ["--input", f"{name}={path}"]
    _, err = must(args, f"nnc --predict {os.path.basename(model)} ({label})", cwd=root)
    return np.load(os.path.join(tmp, f"{label}.npy")), err


def compare(label, got, want, tol):
    got = np.asarray(got, np.float64).reshape(np.shape(want))
    diff = float(np.abs(got - want).max())
    scale = float(np.abs(want).max())
    rel = diff / scale if scale else diff
    check(np.isfinite(got).all() and rel <= tol,
          f"{label}: max |torch - nnc| = {diff:.3g}, max |nnc| = {scale:.4g}, relative {rel:.3g} <= {tol:g}")
    return diff, rel


def mnist_images(n):
    path = os.path.join(data, "mnist", "t10k-images-idx3-ubyte.gz")
    if not data or not os.path.isfile(path):
        skip("no MNIST in $NNC_DATA")
    with gzip.open(path, "rb") as f:
        raw = f.read(16 + 784 * n)
    px = np.frombuffer(raw[16:], dtype=np.uint8).astype(np.float32).reshape(n, 784) / 255.0
    return ((px - 0.1307) / 0.3081).astype(np.float32)  # normalize: standard


def train(model, ck, *args):
    must([nnc, "--jit", model, "--save", ck, *args], f"nnc --jit {os.path.basename(model)} {' '.join(args)} --save CK",
         cwd=root, env=dict(os.environ, NNC_DATA=data))


# ---- mlp ----------------------------------------------------------------------------------

def case_mlp():
    need_torch()
    import torch
    import torch.nn as nn
    imgs = mnist_images(16)
    ck = os.path.join(tmp, "mlp.safetensors")
    train("examples/mnist_mlp.nn", ck, "--steps", "20")

    class MLP(nn.Module):   # examples/mnist_mlp.nn: hidden = relu(dense(image, 128)); logits = dense(hidden, 10)
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(784, 128)
            self.logits = nn.Linear(128, 10)

        def forward(self, x):
            return self.logits(torch.relu(self.hidden(x)))

    m = MLP()
    result = m.load_state_dict(nnc_torch.state_dict(ck), strict=True)
    print(f"     load_state_dict(nnc_torch.state_dict(ck), strict=True): {result}")
    check(not result.missing_keys and not result.unexpected_keys, "strict=True: no missing or unexpected keys")
    with torch.no_grad():
        y = m(torch.from_numpy(imgs)).numpy()
    want, _ = predict("examples/mnist_mlp.nn", ck, {"image": imgs}, "mlp")
    compare("mnist_mlp logits", y, want, 1e-5)
    # the command line's way: a .pt file of the state dict
    pt = os.path.join(tmp, "mlp.pt")
    must([sys.executable, os.path.join(root, "tools", "nnc_torch.py"), "to-torch", ck, pt], "nnc_torch.py to-torch")
    m2 = MLP()
    result = m2.load_state_dict(torch.load(pt), strict=True)
    check(str(result) == "<All keys matched successfully>", f"torch.load(to-torch's .pt), strict=True: {result}")
    # the file itself: every tensor is a parameter (the step is __metadata__'s)
    tensors, meta = nnc_torch.read_safetensors(ck)
    check(sorted(tensors) == sorted(m.state_dict()) and meta.get("nnc.step") == "20" and meta.get("format") == "pt",
          f"the checkpoint's tensors are the module's state dict; __metadata__ {meta}")


# ---- gpt ----------------------------------------------------------------------------------

# nnc's names in examples/shakespeare.nn's block -> nn.TransformerEncoderLayer's
GPT_RENAME = [("attn", "self_attn"), ("ln_1", "norm1"), ("ln_2", "norm2"), ("dense_1", "linear1"),
              ("dense_2", "linear2")]


def gpt_module():
    import torch
    import torch.nn as nn
    V, T, D, H, L = 65, 64, 128, 4, 4

    class GPT(nn.Module):
        """examples/shakespeare.nn from stock modules: norm_first encoder layers, gelu, no dropout."""

        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, D)
            self.pos = nn.Embedding(T, D)       # positional(T, D): a learned [T, D]
            self.blocks = nn.ModuleList([nn.TransformerEncoderLayer(D, H, 4 * D, dropout=0.0, activation="gelu",
                                                                    batch_first=True, norm_first=True)
                                         for _ in range(L)])
            self.ln_f = nn.LayerNorm(D)
            self.logits = nn.Linear(D, V)

        def forward(self, ids):
            t = ids.shape[1]
            h = self.embed(ids) + self.pos.weight[:t]
            causal = torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
            for block in self.blocks:
                h = block(h, src_mask=causal)
            return self.logits(self.ln_f(h))

    return GPT()


def case_gpt():
    need_torch()
    import torch
    path = os.path.join(data, "tinyshakespeare", "input.txt")
    if not data or not os.path.isfile(path):
        skip("no tinyshakespeare in $NNC_DATA")
    text = open(path, encoding="utf-8").read()
    vocab = sorted(set(text))
    ids = np.array([vocab.index(c) for c in text[:2000]], dtype=np.int32)
    windows = np.stack([ids[k * 250:k * 250 + 64] for k in range(4)])
    ck = os.path.join(tmp, "gpt.safetensors")
    train("examples/shakespeare.nn", ck, "--steps", "1", "--batch", "2")   # batch 2: a short evaluation
    m = gpt_module().eval()
    result = m.load_state_dict(nnc_torch.state_dict(ck, rename=GPT_RENAME), strict=True)
    check(str(result) == "<All keys matched successfully>", f"GPT into stock nn.TransformerEncoderLayer, strict=True: {result}")
    check(tuple(m.blocks[0].self_attn.in_proj_weight.shape) == (384, 128), "in_proj_weight packs query, key, value: [384, 128]")
    with torch.no_grad():
        y = m(torch.from_numpy(windows).long()).numpy()
    want, _ = predict("examples/shakespeare.nn", ck, {"text": windows}, "gpt")
    compare("GPT logits, 4 windows x 64 x 65", y, want, 1e-5)
    # and back: the torch model (with AdamW's state from the checkpoint) as an nnc checkpoint
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.1)
    step = nnc_torch.load_optimizer(opt, m, ck, rename=GPT_RENAME)
    back = os.path.join(tmp, "back.safetensors")
    nnc_torch.save_checkpoint(back, m, opt, rename=GPT_RENAME)
    a, ma = nnc_torch.read_safetensors(ck)
    b, mb = nnc_torch.read_safetensors(back)
    same = sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
    check(same and step == 1 and mb.get("nnc.step") == "1",
          f"torch -> nnc: all {len(a)} tensors (parameters and AdamW state) bit for bit, step {mb.get('nnc.step')}")
    again, _ = predict("examples/shakespeare.nn", back, {"text": windows}, "gpt_back")
    check(np.array_equal(again, want), "nnc --predict from the round-tripped checkpoint: the same logits exactly")
    # the command line: to-torch and from-torch with the same renames
    tool = [sys.executable, os.path.join(root, "tools", "nnc_torch.py")]
    renames = [f"--rename={a}={b}" for a, b in GPT_RENAME]
    pt, opt_pt, cli = (os.path.join(tmp, n) for n in ("gpt.pt", "gpt_opt.pt", "cli.safetensors"))
    must(tool + ["to-torch", ck, pt, "--optimizer", opt_pt] + renames, "nnc_torch.py to-torch --optimizer")
    m3 = gpt_module()
    check(str(m3.load_state_dict(torch.load(pt), strict=True)) == "<All keys matched successfully>",
          "to-torch's .pt loads with strict=True")
    must(tool + ["from-torch", pt, cli, "--optimizer", opt_pt] + renames, "nnc_torch.py from-torch --optimizer")
    c, mc = nnc_torch.read_safetensors(cli)
    check(sorted(a) == sorted(c) and all(np.array_equal(a[k], c[k]) for k in a) and mc.get("nnc.step") == "1",
          "to-torch then from-torch: the same tensors bit for bit, step 1")


# ---- adam ---------------------------------------------------------------------------------

def body(path):
    return [l for l in map(json.loads, open(path)) if "nnc" not in l]


def case_adam():
    need_torch()
    import torch
    import torch.nn as nn
    model = "tests/torch/adam_xor.nn"
    full, ck3, ck4 = (os.path.join(tmp, n) for n in ("full.jsonl", "ck3.safetensors", "ck4.safetensors"))
    must([nnc, "--jit", model, "--epochs", "6", "--metrics", full], "nnc --jit adam_xor.nn: 6 steps straight", cwd=root)
    train(model, ck3, "--epochs", "3")
    straight = [l["train_loss"] for l in body(full)]

    class Xor(nn.Module):   # hidden = tanh(dense(x, 8)); p = dense(hidden, 1); loss mse(p, y)
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(2, 8)
            self.p = nn.Linear(8, 1)

        def forward(self, x):
            return self.p(torch.tanh(self.hidden(x)))

    m = Xor()
    m.load_state_dict(nnc_torch.state_dict(ck3), strict=True)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)   # the .nn's adam(lr: 0.05), torch's betas and eps
    step = nnc_torch.load_optimizer(opt, m, ck3)
    check(step == 3 and all(float(opt.state[p]["step"]) == 3 for p in m.parameters()),
          f"torch.optim.Adam took the state of step {step}")
    xy = np.loadtxt(os.path.join(root, "examples", "xor.csv"), delimiter=",", dtype=np.float32)
    x, y = torch.from_numpy(xy[:, :2]), torch.from_numpy(xy[:, 2:])
    loss = nn.functional.mse_loss(m(x), y)
    rel = abs(float(loss) - straight[3]) / straight[3]
    check(rel <= 1e-6, f"step 4 in torch: loss {float(loss):.7g}, nnc's {straight[3]:.7g} (relative {rel:.2g} <= 1e-6)")
    opt.zero_grad()
    loss.backward()
    opt.step()
    nnc_torch.save_checkpoint(ck4, m, opt)
    resumed = os.path.join(tmp, "resumed.jsonl")
    must([nnc, "--jit", model, "--epochs", "6", "--load", ck4, "--metrics", resumed], "nnc --jit --load (torch's step 4)",
         cwd=root)
    got = [l["train_loss"] for l in body(resumed)]
    rel = max(abs(g - w) / w for g, w in zip(got, straight[4:]))
    check(len(got) == 2 and rel <= 1e-5,
          f"nnc resumed after torch's step: steps 5, 6 lose {got}, the straight run {straight[4:]} (relative {rel:.2g} <= 1e-5)")


# ---- dtypes -------------------------------------------------------------------------------

def case_dtypes():
    tool = [sys.executable, os.path.join(root, "tools", "nnc_torch.py")]
    out, _ = must(tool + ["--help"], "nnc_torch.py --help")
    check("in_proj_weight" in out and "docs/pytorch.md" in out, "--help says what attention becomes and where the docs are")
    rc, _, err = run(tool + ["to-torch", os.path.join(tmp, "none.safetensors"), os.path.join(tmp, "x.pt")])
    check(rc == 1 and err.startswith("nnc_torch.py: error: ") and "none.safetensors" in err,
          f"a missing file: exit {rc}, {err.strip()}")
    model = "tests/torch/adam_xor.nn"
    ck = os.path.join(tmp, "f32.safetensors")
    train(model, ck, "--epochs", "3")
    tensors, meta = nnc_torch.read_safetensors(ck)
    out, _ = must(tool + ["show", ck], "nnc_torch.py show")
    check(out.startswith(f"{ck}: 4 parameters, optimizer state for 4, step 3\n"), f"show: {out.splitlines()[0]}")
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    base, _ = predict(model, ck, {"x": x}, "f32")
    names = ", ".join(f"{k} (%s)" for k in tensors)   # parameters, then the optimizer state
    params = ", ".join(f"{k} (%s)" for k in tensors if not k.startswith("optimizer."))
    # (under the sanitizers, F16 alone: its conversion has the most cases, and the suite's time is short there)
    for dtype in ("F16",) if sanitized else ("F16", "BF16", "F64"):
        path = os.path.join(tmp, f"{dtype.lower()}.safetensors")
        if dtype == "F16":
            conv = {k: v.astype(np.float16) for k, v in tensors.items()}
            nnc_torch.write_safetensors(path, conv, meta)
        elif dtype == "F64":
            conv = {k: v.astype(np.float64) for k, v in tensors.items()}
            nnc_torch.write_safetensors(path, conv, meta)
        else:
            nnc_torch.write_safetensors(path, tensors, meta, bf16=set(tensors))
            conv, _ = nnc_torch.read_safetensors(path)   # (as float32, exactly)
        # what nnc must compute: the f32 values of the converted tensors
        ref = os.path.join(tmp, f"{dtype.lower()}_as_f32.safetensors")
        nnc_torch.write_safetensors(ref, {k: v.astype(np.float32) for k, v in conv.items()}, meta)
        want, _ = predict(model, ref, {"x": x}, f"{dtype}_ref")
        said = f"{path}: converted to F32: {names % ((dtype,) * len(tensors))}"
        said_params = f"{path}: converted to F32: {params % ((dtype,) * params.count('%s'))}"   # (a forward: no state)
        got, err = predict(model, path, {"x": x}, dtype, "-v")
        check(np.array_equal(got, want), f"--predict --load {dtype}: the outputs of its values in f32, exactly")
        check(said_params in err.splitlines(), f"--predict -v: {err.strip()[:150]}...")
        if dtype == "F64":
            check(np.array_equal(got, base), "F64 of the f32 checkpoint predicts exactly as the f32 one")
        _, err = must([nnc, "--predict", model, "--trace", "-v", "--load", path, "--input", "x=1,0"],
                      f"--predict --trace --load {dtype}", cwd=root)
        check(said_params in err.splitlines(), f"--trace -v names the converted tensors ({dtype})")
        _, err = must([nnc, "--jit", model, "--eval", "-v", "--load", path], f"--jit --eval --load {dtype}", cwd=root)
        _, err_ref = must([nnc, "--jit", model, "--eval", "--load", ref], f"--jit --eval --load {dtype} as f32", cwd=root)
        check(said in err.splitlines() and err.splitlines()[-1] == err_ref.splitlines()[-1],
              f"--jit --eval: {err.splitlines()[-1]} (as its f32 values)")
        onnx = os.path.join(tmp, f"{dtype}.onnx")
        _, err = must([nnc, "--emit=onnx", "-v", model, "--load", path, "-o", onnx], f"--emit=onnx --load {dtype}", cwd=root)
        check(f"nnc: {said_params}" in err.splitlines(), f"--emit=onnx -v names the converted tensors ({dtype})")
        check(onnx_initializers_equal(onnx, conv), f"--emit=onnx: the initializers are the {dtype} values in f32")
        lib_outputs(path, want, dtype)
    # a dtype nnc does not convert
    bad = os.path.join(tmp, "i8.safetensors")
    nnc_torch.write_safetensors(bad, {k: (v.astype(np.int8) if k == "hidden.weight" else v) for k, v in tensors.items()},
                                meta)
    want = f"{bad}: tensor 'hidden.weight' is I8; --load converts only F16, BF16 and F64 tensors to the model's F32"
    for args in (["--jit", "--eval"], ["--predict", "--input", "x=1,0"], ["--predict", "--trace", "--input", "x=1,0"]):
        rc, _, err = run([nnc, *args, model, "--load", bad], cwd=root)
        check(rc == 1 and err == f"nnc: error: {want}\n", f"nnc {' '.join(args)} --load I8: exit {rc}: {err.strip()}")
    rc, _, err = run([nnc, "--emit=onnx", model, "--load", bad, "-o", os.path.join(tmp, "x.onnx")], cwd=root)
    check(rc == 1 and err == f"nnc: error: {want}\n", f"--emit=onnx --load I8: exit {rc}: {err.strip()}")
    lib_refuses(bad, want)


def protobuf_fields(buf):
    """(field number, value) of one protobuf message: ints for varints, bytes for
    length-delimited fields (the two wire types nnc's ONNX writer uses)."""
    i, out = 0, []

    def varint():
        nonlocal i
        v = shift = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v
    while i < len(buf):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            out.append((field, varint()))
        elif wire == 2:
            n = varint()
            out.append((field, buf[i:i + n]))
            i += n
        else:
            raise ValueError(f"protobuf wire type {wire} at byte {i}")
    return out


def onnx_initializers(path):
    """name -> float32 array of every initializer of an ONNX file, read with a tiny
    protobuf walk (no python3-onnx needed): ModelProto.graph (7), GraphProto.initializer
    (5), TensorProto dims (1), data_type (2: 1 is FLOAT), name (8), raw_data (9)."""
    with open(path, "rb") as f:
        model = f.read()
    inits = {}
    for field, graph in protobuf_fields(model):
        if field != 7:
            continue
        for gfield, t in protobuf_fields(graph):
            if gfield != 5:
                continue
            tf = protobuf_fields(t)
            dims = [v for k, v in tf if k == 1]
            name = next(v for k, v in tf if k == 8).decode()
            if next(v for k, v in tf if k == 2) == 1:
                inits[name] = np.frombuffer(next(v for k, v in tf if k == 9), dtype="<f4").reshape(dims)
    return inits


def onnx_initializers_equal(path, conv):
    """The ONNX file's initializers against conv: every model tensor there, equal in f32."""
    inits = onnx_initializers(path)
    model = {k: v for k, v in conv.items() if not k.startswith("optimizer.")}
    missing = [k for k in model if k not in inits]
    if missing:
        print(f"     (not in the ONNX file's initializers: {missing})")
    return not missing and all(np.array_equal(inits[k], v.astype(np.float32)) for k, v in model.items())


_lib = None


def library():
    """libadam_xor.so through ctypes: create, load, load_memory, forward, last_error."""
    global _lib
    if _lib is None:
        so = os.path.join(tmp, "libadam_xor.so")
        must([nnc, "--emit=so", "-o", so, "tests/torch/adam_xor.nn"], "nnc --emit=so adam_xor.nn", cwd=root)
        lib = ctypes.CDLL(so)
        lib.adam_xor_create.restype = ctypes.c_void_p
        lib.adam_xor_create.argtypes = [ctypes.c_uint64]
        lib.adam_xor_load.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.adam_xor_load_memory.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.adam_xor_forward.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
        lib.adam_xor_last_error.restype = ctypes.c_char_p
        lib.adam_xor_last_error.argtypes = [ctypes.c_void_p]
        lib.adam_xor_destroy.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


def lib_outputs(path, want, dtype):
    if sanitized:
        print("     (sanitized runtime: the library is not loaded into python)")
        return
    lib = library()
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    for how in ("load", "load_memory"):
        m = lib.adam_xor_create(1)
        if how == "load":
            rc = lib.adam_xor_load(m, path.encode())
        else:
            blob = open(path, "rb").read()
            rc = lib.adam_xor_load_memory(m, blob, len(blob))
        out = np.zeros((4, 1), np.float32)
        if rc == 0:
            rc = lib.adam_xor_forward(m, 4, x.ctypes.data, out.ctypes.data)
        err = lib.adam_xor_last_error(m).decode()
        lib.adam_xor_destroy(m)
        check(rc == 0 and np.array_equal(out.reshape(want.shape), want),
              f"library adam_xor_{how} of the {dtype} checkpoint: the same outputs {err}")


def lib_refuses(path, want):
    if sanitized:
        return
    lib = library()
    m = lib.adam_xor_create(1)
    rc = lib.adam_xor_load(m, path.encode())
    err = lib.adam_xor_last_error(m).decode()
    lib.adam_xor_destroy(m)
    check(rc == -1 and err == want, f"library adam_xor_load of I8: {rc}, '{err}'")


def case_cli():
    need_torch()
    import torch
    tool = [sys.executable, os.path.join(root, "tools", "nnc_torch.py")]
    r = np.random.default_rng(5)
    f32 = lambda *shape: r.standard_normal(shape).astype(np.float32)
    # a user's layers named query/key/value/out that are no attention, beside an attention
    ck = os.path.join(tmp, "named.safetensors")
    named = {"u.query.weight": f32(4, 3), "u.query.bias": f32(4), "u.key.weight": f32(4, 3), "u.key.bias": f32(4),
             "u.value.weight": f32(5, 3), "u.value.bias": f32(5), "u.out.weight": f32(2, 5), "u.out.bias": f32(2),
             "a.query.weight": f32(4, 4), "a.query.bias": f32(4), "a.key.weight": f32(4, 4), "a.key.bias": f32(4),
             "a.value.weight": f32(4, 4), "a.value.bias": f32(4), "a.out.weight": f32(4, 4), "a.out.bias": f32(4)}
    nnc_torch.write_safetensors(ck, named)
    pt, back = os.path.join(tmp, "named.pt"), os.path.join(tmp, "named2.safetensors")
    must(tool + ["to-torch", ck, pt], "to-torch of u.query .. u.out (not an attention's) and attention a")
    sd = torch.load(pt)
    got = sorted((k, list(v.shape)) for k, v in sd.items())
    want = sorted([(k, list(v.shape)) for k, v in named.items() if k.startswith("u.")]
                  + [("a.in_proj_weight", [12, 4]), ("a.in_proj_bias", [12]), ("a.out_proj.weight", [4, 4]),
                     ("a.out_proj.bias", [4])])
    check(got == want, f"to-torch packs a's projections only: {got}")
    must(tool + ["from-torch", pt, back], "from-torch of it")
    round_trip, _ = nnc_torch.read_safetensors(back)
    check(sorted(round_trip) == sorted(named) and all(np.array_equal(round_trip[k], named[k]) for k in named),
          "back bit for bit, every name as it was")
    # a cross_attention over a context of another width (key and value [D, E]): nn.MultiheadAttention(kdim=E)
    # takes it with strict=True and computes what the projections written out compute; back bit for bit
    cross = {f"x.{q}.{k}": f32(*(([8, 6] if q in ("key", "value") else [8, 8]) if k == "weight" else [8]))
             for q in ("query", "key", "value", "out") for k in ("weight", "bias")}
    ck2, pt2, back2 = (os.path.join(tmp, n) for n in ("cross.safetensors", "cross.pt", "cross2.safetensors"))
    nnc_torch.write_safetensors(ck2, cross)
    must(tool + ["to-torch", ck2, pt2], "to-torch of a cross_attention with E = 6, D = 8")
    mha = torch.nn.Module()
    mha.x = torch.nn.MultiheadAttention(8, 2, kdim=6, vdim=6, batch_first=True)
    mha.load_state_dict(torch.load(pt2), strict=True)
    q, c = torch.randn(3, 5, 8), torch.randn(3, 4, 6)
    t = {k: torch.from_numpy(v) for k, v in cross.items()}
    heads = lambda z: z.reshape(z.shape[0], z.shape[1], 2, 4).transpose(1, 2)  # noqa: E731
    qh = heads(q @ t["x.query.weight"].T + t["x.query.bias"])
    kh, vh = (heads(c @ t[f"x.{n}.weight"].T + t[f"x.{n}.bias"]) for n in ("key", "value"))
    y = torch.softmax(qh @ kh.transpose(-1, -2) / 2.0, -1) @ vh
    want = y.transpose(1, 2).reshape(3, 5, 8) @ t["x.out.weight"].T + t["x.out.bias"]
    got = mha.x(q, c, c, need_weights=False)[0]
    err = (got - want).abs().max().item() / want.abs().max().item()
    check(err <= 1e-5, f"nn.MultiheadAttention(8, 2, kdim=6, vdim=6) of the converted weights: relative {err:.2e}")
    must(tool + ["from-torch", pt2, back2], "from-torch of it")
    again, _ = nnc_torch.read_safetensors(back2)
    check(sorted(again) == sorted(cross) and all(np.array_equal(again[k], cross[k]) for k in cross),
          "the cross_attention back bit for bit")
    # a bad command line: exit 2, argparse's form
    rc, _, err = run(tool + ["to-torch", ck, pt, "--rename", "attn"])
    check(rc == 2 and err.endswith("nnc_torch.py to-torch: error: --rename attn: give NNC=TORCH, dotted name "
                                   "components such as attn=self_attn\n"), f"--rename attn: exit {rc}, {err.strip()}")
    # outputs that cannot be written: one message, exit 1, nothing written
    nowhere = os.path.join(tmp, "no", "x.pt")
    for args, what in ((["to-torch", ck, nowhere], "to-torch"),
                       (["to-torch", ck, os.path.join(tmp, "m.pt"), "--optimizer", nowhere], "to-torch --optimizer"),
                       (["from-torch", pt, nowhere], "from-torch")):
        rc, out, err = run(tool + args)
        check(rc == 1 and err == f"nnc_torch.py: error: cannot write '{nowhere}': No such file or directory\n"
              and not os.path.exists(os.path.join(tmp, "m.pt")), f"{what} into a missing folder: exit {rc}, {err.strip()}")
    # --optimizer of a file that is no optimizer state (a model's state dict)
    rc, _, err = run(tool + ["from-torch", pt, back, "--optimizer", pt])
    check(rc == 1 and err == f"nnc_torch.py: error: {pt}: not optimizer state: no 'state' (its keys: "
          "'u.query.weight', 'u.query.bias', 'u.key.weight', ...); give {'step': N, 'state': {name: {'exp_avg': "
          "..., ...}}}, as to-torch --optimizer writes it\n", f"--optimizer MODEL.pt: exit {rc}, {err.strip()}")
    # bfloat16: listed as BF16, and a bf16 state dict stays BF16 as f16 stays F16
    half = os.path.join(tmp, "half.pt")
    torch.save({"w": torch.from_numpy(f32(2, 3)).bfloat16(), "h": torch.from_numpy(f32(3)).half()}, half)
    hs = os.path.join(tmp, "half.safetensors")
    must(tool + ["from-torch", half, hs], "from-torch of a bf16 and f16 state dict")
    out, _ = must(tool + ["show", hs], "show of it")
    check(out.splitlines()[-2:] == ["  w BF16 [2, 3]", "  h F16 [3]"], f"show: {out.splitlines()[-2:]}")
    # show | head: the pipe closes early, quietly
    wide = os.path.join(tmp, "wide.safetensors")
    nnc_torch.write_safetensors(wide, {f"t{i}": f32(2) for i in range(20000)})
    p = subprocess.run(f"'{tool[0]}' '{tool[1]}' show '{wide}' | head -n 1", shell=True, capture_output=True, text=True)
    check(p.stdout == f"{wide}: 20000 parameters, optimizer state for 0, no step\n" and p.stderr == "",
          f"show | head -n 1: nothing on stderr ({p.stderr.strip()})")
    # what torch.save holds: a module or a list is refused in one line (it was a traceback); a state dict
    # wrapped beside other things converts; a dict without tensors is refused (it wrote an empty file, exit 0)
    lin = torch.nn.Linear(2, 3)
    odd = {"module.pt": lin, "list.pt": [1, 2], "empty.pt": {}, "wrapped.pt": {"model": lin.state_dict(), "epoch": 3}}
    for name, obj in odd.items():
        torch.save(obj, os.path.join(tmp, name))
    want = {"module.pt": "not a state_dict but a Linear (save model.state_dict(), not the model)",
            "list.pt": "not a state_dict but a list", "empty.pt": "no tensors in it (its keys: none)"}
    for name, msg in want.items():
        src = os.path.join(tmp, name)
        rc, _, err = run(tool + ["from-torch", src, back])
        check(rc == 1 and err == f"nnc_torch.py: error: {src}: {msg}\n", f"from-torch of {name}: exit {rc}, {err.strip()}")
    must(tool + ["from-torch", os.path.join(tmp, "wrapped.pt"), back], "from-torch of {'model': sd, 'epoch': 3}")
    # a file that is not there, and one that is no safetensors file, in nnc's words
    missing = os.path.join(tmp, "nosuch.safetensors")
    rc, _, err = run(tool + ["show", missing])
    check(rc == 1 and err == f"nnc_torch.py: error: cannot open '{missing}': No such file or directory\n",
          f"show of a missing file: exit {rc}, {err.strip()}")
    npy = os.path.join(tmp, "x.npy")
    np.save(npy, np.zeros((3, 3), np.float32))
    rc, _, err = run(tool + ["show", npy])
    check(rc == 1 and err.startswith(f"nnc_torch.py: error: {npy}: not a safetensors file (its first 8 bytes"),
          f"show of a .npy: exit {rc}, {err.strip()}")
    # a header of valid JSON that is not what the format makes it: one line in nnc's words, exit 1 (a list
    # there was a traceback)
    bent = os.path.join(tmp, "bent.safetensors")
    for head, msg in ((b'[1, 2]', "header is not a JSON object but an array"),
                      (b'{"w": 3}', "tensor 'w' is not a JSON object"),
                      (b'{"__metadata__": ["nnc.step", "5"]}', "__metadata__ is an array; the safetensors format "
                                                               "makes it an object of strings"),
                      (b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
                       "tensor 'w': data_offsets [0,8] run past the end of the 0 bytes of data")):
        with open(bent, "wb") as f:
            f.write(len(head).to_bytes(8, "little") + head)
        for cmd in (["show", bent], ["to-torch", bent, os.path.join(tmp, "bent.pt")]):
            rc, out, err = run(tool + cmd)
            check(rc == 1 and out == "" and err == f"nnc_torch.py: error: {bent}: {msg}\n",
                  f"{cmd[0]} of a header {head.decode()}: exit {rc}, {err.strip()}")
    check(sorted(nnc_torch.read_safetensors(back)[0]) == ["bias", "weight"], "the wrapped state dict's two tensors")
    # a text model's vocabulary (__metadata__) through torch and back: in the optimizer file, or --meta-from
    vocab = {"nnc.tokenizer": "bytes", "nnc.chars": "10 97 98", "nnc.step": "5", "nnc.version": "0.1.0"}
    tck = os.path.join(tmp, "text.safetensors")
    nnc_torch.write_safetensors(tck, {"embed.weight": f32(3, 4)}, vocab)
    tpt, topt, tback = (os.path.join(tmp, n) for n in ("text.pt", "text_opt.pt", "text2.safetensors"))
    _, err = must(tool + ["to-torch", tck, tpt], "to-torch of a text model's checkpoint")
    check(err == f"nnc_torch.py: note: {tck}'s nnc.chars, nnc.tokenizer (its vocabulary) cannot go into a "
          f"state_dict; from-torch --meta-from {tck} puts it back\n", f"to-torch says the vocabulary stays behind: {err}")
    must(tool + ["from-torch", tpt, tback, "--meta-from", tck], "from-torch --meta-from")
    meta = nnc_torch.read_safetensors(tback)[1]
    check(meta == {"format": "pt", "nnc.tokenizer": "bytes", "nnc.chars": "10 97 98"}, f"--meta-from: {meta}")
    # --meta-from reads the header alone: the checkpoint cut off after it gives the same (it read and
    # decoded every tensor, and a file without their data was a traceback)
    with open(tck, "rb") as f:
        head = f.read(8)
        head += f.read(struct.unpack("<Q", head)[0])
    cut = os.path.join(tmp, "text_header.safetensors")
    with open(cut, "wb") as f:
        f.write(head)
    must(tool + ["from-torch", tpt, tback, "--meta-from", cut], "from-torch --meta-from of the header alone")
    meta = nnc_torch.read_safetensors(tback)[1]
    check(meta == {"format": "pt", "nnc.tokenizer": "bytes", "nnc.chars": "10 97 98"}, f"--meta-from, header: {meta}")
    must(tool + ["to-torch", tck, tpt, "--optimizer", topt], "to-torch --optimizer of it")
    must(tool + ["from-torch", tpt, tback, "--optimizer", topt], "from-torch --optimizer")
    meta = nnc_torch.read_safetensors(tback)[1]
    check(meta == {"format": "pt", "nnc.tokenizer": "bytes", "nnc.chars": "10 97 98", "nnc.step": "5"},
          f"through the optimizer file: {meta}")


{"mlp": case_mlp, "gpt": case_gpt, "adam": case_adam, "dtypes": case_dtypes, "cli": case_cli}[case]()
shutil.rmtree(tmp)
if failed:
    print(f"{len(failed)} check(s) failed")
    sys.exit(1)
