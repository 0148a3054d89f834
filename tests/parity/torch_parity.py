#!/usr/bin/python3
"""torch_parity.py KIND FILE.safetensors — check one nnc training step against torch.

FILE is what `nnc --export-step` wrote: the parameters (torch layouts), the
batch (input.NAME, target.NAME), the mask of every dropout (dropout.K: 0 or
1/(1-p); torch's own random masks could never match), the loss and
grad.NAME for every parameter.
This script builds the same network from torch's own modules (KIND: mnist_mlp,
mnist_cnn, gpt1, log_probs, margin, conv_rect or conv_seq), loads nnc's parameters into it, runs forward and backward in
float32 on the same batch and compares the loss and every gradient:
max |torch - nnc| / max(max |torch|, 1e-30) must be at most 1e-5 per tensor.

Prints one line per tensor; exit 0 if all agree, 1 if any differs or the
file does not fit the model, 77 if torch cannot be imported (ctest skips).
Only the standard library and torch: the safetensors package is not used.
"""
import json
import math
import struct
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"torch_parity: cannot import torch ({e}); skipped")
    sys.exit(77)

TOLERANCE = 1e-5
KINDS = "mnist_mlp, mnist_cnn, gpt1, log_probs, margin, conv_rect or conv_seq"
GPT1_HEADS = 2  # heads in tests/parity/gpt1.nn; not recorded in the file

# Gradients that are exactly zero in exact arithmetic, so that both sides hold
# only float32 rounding noise (~1e-10) and a difference relative to the
# tensor's own maximum means nothing.  The key bias adds q_i . b to every
# score of row i alike, and softmax ignores a constant added to a row.  These
# are compared relative to the largest gradient of the whole model instead
# (the line says "rel to all"), and torch's own values must be that small too.
def exactly_zero(name):
    return name.endswith("attn.key.bias")


DTYPES = {
    "F32": torch.float32,
    "F64": torch.float64,
    "I32": torch.int32,
    "I64": torch.int64,
}


def read_safetensors(path):
    """name -> tensor, from the 8-byte little-endian header length, the JSON
    header and the data block that follows it."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = bytearray(raw[8 + n :])  # writable, so torch.frombuffer does not warn
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        shape = info["shape"]
        count = math.prod(shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if end - begin != count * itemsize:
            raise ValueError(f"{name}: {end - begin} bytes for shape {shape} of {info['dtype']}")
        if count == 0:
            t = torch.empty(shape, dtype=dtype)
        else:
            t = torch.frombuffer(data, dtype=dtype, count=count, offset=begin)
            if sys.byteorder != "little":
                t = t.byteswap()  # pragma: no cover
            t = t.reshape(shape).clone()
        tensors[name] = t
    return tensors


# --- the models, named as nnc names their parameters -------------------------------


class MnistMlp(nn.Module):
    """examples/mnist_mlp.nn: Linear(784,128) -> ReLU -> Linear(128,10)."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(784, 128)
        self.logits = nn.Linear(128, 10)

    def forward(self, batch):
        return self.logits(F.relu(self.hidden(batch["input.image"])))

    @staticmethod
    def target(batch):
        return batch["target.digit"]


class MnistCnn(nn.Module):
    """examples/mnist_cnn.nn: two blocks of Conv2d(3x3, padding 1) -> ReLU ->
    MaxPool2d(2), then Linear(3136,128) -> ReLU -> dropout -> Linear(128,10).
    The dropout multiplies by nnc's own mask from the file."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.hidden = nn.Linear(3136, 128)
        self.logits = nn.Linear(128, 10)

    def forward(self, batch):
        x = F.max_pool2d(F.relu(self.c1(batch["input.image"])), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        h = F.relu(self.hidden(torch.flatten(x, 1)))
        return self.logits(h * batch["dropout.0"])

    @staticmethod
    def target(batch):
        return batch["target.digit"]


class ConvRect(nn.Module):
    """tests/grad/conv_rect.nn: rectangular Conv2d kernels, strides and
    paddings (1x3, 3x1, 2x3 at stride (2, 3), 2x1, 3x2, 3x2 at stride (1, 2)),
    MaxPool2d and AvgPool2d of rectangular windows, six Linear heads added."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 4, (1, 3), padding=(0, 1))
        self.b = nn.Conv2d(4, 5, (3, 1), padding=(1, 0))
        self.c = nn.Conv2d(4, 6, (2, 3), stride=(2, 3), padding=(1, 0))
        self.f = nn.Conv2d(2, 3, (2, 1))
        self.h = nn.Conv2d(4, 2, (3, 2), padding=(2, 1))
        self.g = nn.Conv2d(2, 32, (1, 3), padding=(0, 1))
        self.k = nn.Conv2d(32, 4, (3, 2), stride=(1, 2), padding=(1, 0))
        self.dense_1 = nn.Linear(200, 3)
        self.dense_2 = nn.Linear(60, 3)
        self.dense_3 = nn.Linear(30, 3)
        self.dense_4 = nn.Linear(132, 3)
        self.dense_5 = nn.Linear(242, 3)
        self.dense_6 = nn.Linear(180, 3)

    def forward(self, batch):
        x = batch["input.x"]
        a = F.relu(self.a(x))
        b = F.max_pool2d(F.relu(self.b(a)), (2, 1))
        c = F.relu(self.c(a))
        d = F.avg_pool2d(a, (3, 2), stride=(3, 2))
        e = F.max_pool2d(c, (1, 3))
        f = F.max_pool2d(self.f(x), (3, 2), stride=(2, 1), padding=1)
        h = self.h(a)
        k = self.k(F.relu(self.g(x)))
        heads = zip((self.dense_1, self.dense_2, self.dense_3, self.dense_4, self.dense_5, self.dense_6),
                    (b, d, e, f, h, k))
        return sum(lin(torch.flatten(v, 1)) for lin, v in heads)

    @staticmethod
    def target(batch):
        return batch["target.y"]


class ConvSeq(nn.Module):
    """tests/grad/conv_seq.nn: Conv1d (padded, strided, one filter without
    bias), MaxPool1d and AvgPool1d (padded, count_include_pad as nnc), four
    Linear heads added."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(3, 6, 5, padding=2)
        self.c = nn.Conv1d(6, 4, 3, stride=2)
        self.e = nn.Conv1d(3, 1, 1, bias=False)
        self.f = nn.Conv1d(6, 2, 2, padding=1)
        self.dense_1 = nn.Linear(16, 4)
        self.dense_2 = nn.Linear(60, 4)
        self.dense_3 = nn.Linear(20, 4)
        self.dense_4 = nn.Linear(22, 4)

    def forward(self, batch):
        x = batch["input.x"]
        a = F.relu(self.a(x))
        b = F.max_pool1d(a, 2)
        c = F.relu(self.c(b))
        d = F.avg_pool1d(a, 3, stride=2, padding=1)
        e = self.e(x)
        f = F.max_pool1d(self.f(d), 3, stride=1, padding=1)
        heads = zip((self.dense_1, self.dense_2, self.dense_3, self.dense_4), (c, d, e, f))
        return sum(lin(torch.flatten(v, 1)) for lin, v in heads)

    @staticmethod
    def target(batch):
        return batch["target.y"]


class LogProbs(nn.Module):
    """tests/grad/log_probs.nn: z = Linear(6, 5)(x) * 8; a soft-target
    cross-entropy over torch's log_softmax(z / 2), plus 0.1 times the sum of
    log_softmax(z) squared, averaged over the batch."""

    def __init__(self):
        super().__init__()
        self.z = nn.Linear(6, 5)

    def forward(self, batch):
        return self.z(batch["input.x"]) * 8

    @staticmethod
    def loss(z, batch):
        lp, lp1 = F.log_softmax(z / 2, dim=-1), F.log_softmax(z, dim=-1)
        return (-(lp * batch["target.t"]).sum(-1) + 0.1 * (lp1 * lp1).sum(-1)).mean()


class Margin(nn.Module):
    """tests/grad/margin.nn: h = tanh(Linear(6, 8)(x) + Linear(12, 8, bias=False)
    of the token input s one-hot); torch's multi_margin_loss of z = Linear(8, 5)(h) * 4
    against the class target y, plus half the cross-entropy summed over the
    positions of q = Linear(8, 12)(h) * 200 as [3, 4] against the tokens n,
    written with torch.logsumexp, plus 0.1 times logsumexp(z), averaged over
    the batch."""

    def __init__(self):
        super().__init__()
        self.dense_1 = nn.Linear(6, 8)
        self.dense_2 = nn.Linear(12, 8, bias=False)
        self.z = nn.Linear(8, 5)
        self.q = nn.Linear(8, 12)

    def forward(self, batch):
        s = F.one_hot(batch["input.s"].long(), 4).float().flatten(1)
        h = torch.tanh(self.dense_1(batch["input.x"]) + self.dense_2(s))
        self.scores = self.q(h).reshape(-1, 3, 4) * 200
        return self.z(h) * 4

    def loss(self, z, batch):
        q, n = self.scores, batch["target.n"].long()
        ce = torch.logsumexp(q, -1) - q.gather(-1, n.unsqueeze(-1)).squeeze(-1)
        lse = torch.logsumexp(z, -1)
        return F.multi_margin_loss(z, batch["target.y"].long()) + (0.5 * ce.sum(-1) + 0.1 * lse).mean()


class Attention(nn.Module):
    """attention(x, heads: H, causal: true) with four Linear(D, D) projections."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.out = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        dh = d // self.heads

        def split(p):  # [B,T,D] -> [B,H,T,dh]
            return p.reshape(b, t, self.heads, dh).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(dh)
        future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
        y = torch.matmul(F.softmax(scores, dim=-1), v)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.ln_2 = nn.LayerNorm(d)
        self.dense_1 = nn.Linear(d, 4 * d)
        self.dense_2 = nn.Linear(4 * d, d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.dense_2(F.gelu(self.dense_1(self.ln_2(x))))
        return x


class Gpt1(nn.Module):
    """tests/parity/gpt1.nn: embedding + learned positions, L blocks, ln_f, logits."""

    def __init__(self, vocab, length, d, heads, layers):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(length, d)  # its weight is the [T, D] table
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.logits = nn.Linear(d, vocab)

    def forward(self, batch):
        h = self.embed(batch["input.text"].long()) + self.pos.weight
        for block in self.blocks:
            h = block(h)
        return self.logits(self.ln_f(h))

    @staticmethod
    def target(batch):
        return batch["target.next"]


def build(kind, params):
    if kind == "mnist_mlp":
        return MnistMlp()
    if kind == "mnist_cnn":
        return MnistCnn()
    if kind == "log_probs":
        return LogProbs()
    if kind == "margin":
        return Margin()
    if kind == "conv_rect":
        return ConvRect()
    if kind == "conv_seq":
        return ConvSeq()
    if kind == "gpt1":
        vocab, d = params["embed.weight"].shape
        length = params["pos.weight"].shape[0]
        layers = len({name.split(".")[1] for name in params if name.startswith("blocks.")})
        return Gpt1(vocab, length, d, GPT1_HEADS, layers)
    raise ValueError(f"unknown model kind '{kind}' ({KINDS})")


# --- the comparison ------------------------------------------------------------------


def max_abs(t):
    return t.detach().to(torch.float64).abs().max().item() if t.numel() else 0.0


def compare(name, want, got, scale=None):
    """One line for a tensor; True when within TOLERANCE.  The difference is
    relative to max |want|, or to scale when given (then max |want| must be
    within TOLERANCE of scale as well)."""
    want = want.detach().to(torch.float64)
    got = got.detach().to(torch.float64)
    if want.shape != got.shape:
        print(f"{name:34s} shape torch {list(want.shape)} nnc {list(got.shape)}  FAIL")
        return False
    diff = (want - got).abs().max().item() if want.numel() else 0.0
    own = max_abs(want)
    rel = diff / max(own if scale is None else scale, 1e-30)
    ok = rel <= TOLERANCE  # false for NaN
    note = ""
    if scale is not None:
        ok = ok and own <= TOLERANCE * scale
        note = f"  (rel to all; exactly 0, torch max {own:.1e})"
    print(f"{name:34s} max abs diff {diff:.3e}  rel {rel:.3e}  {'ok' if ok else 'FAIL'}{note}")
    return ok


def main(argv):
    if len(argv) != 3:
        print("usage: torch_parity.py mnist_mlp|mnist_cnn|gpt1|log_probs|margin|conv_rect|conv_seq FILE.safetensors",
              file=sys.stderr)
        return 2
    kind, path = argv[1], argv[2]
    if kind not in ("mnist_mlp", "mnist_cnn", "gpt1", "log_probs", "margin", "conv_rect", "conv_seq"):
        print(f"torch_parity: unknown model kind '{kind}' ({KINDS})", file=sys.stderr)
        return 2
    tensors = read_safetensors(path)
    batch = {k: v for k, v in tensors.items() if k.startswith(("input.", "target.", "dropout."))}
    grads = {k[len("grad.") :]: v for k, v in tensors.items() if k.startswith("grad.")}
    params = {
        k: v
        for k, v in tensors.items()
        if k != "loss" and not k.startswith(("input.", "target.", "dropout.", "grad."))
    }

    model = build(kind, params)
    names = [name for name, _ in model.named_parameters()]
    if set(names) != set(params) or set(names) != set(grads):
        print(f"parameters of the torch model: {sorted(names)}")
        print(f"parameters in {path}: {sorted(params)}")
        print(f"gradients in {path}: {sorted(grads)}")
        print("FAIL: the file does not hold the parameters of this model")
        return 1
    model.load_state_dict(params, strict=True)
    model.float().train()

    logits = model(batch)
    if hasattr(model, "loss"):  # a loss of its own, written out in the model file
        loss = model.loss(logits, batch)
    else:
        target = model.target(batch).long()
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
    loss.backward()

    ok = compare("loss", loss, tensors["loss"])
    largest = max(max_abs(p.grad) for p in model.parameters())
    for name, p in model.named_parameters():
        scale = largest if exactly_zero(name) else None
        ok = compare("grad." + name, p.grad, grads[name], scale) and ok
    print("parity: ok" if ok else "parity: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
