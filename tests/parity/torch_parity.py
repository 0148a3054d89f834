#!/usr/bin/python3
"""torch_parity.py KIND FILE.safetensors — check one nnc training step against torch.

FILE is what `nnc --export-step` wrote: the parameters (torch layouts), the
batch (input.NAME, target.NAME), the mask of every dropout (dropout.K: 0 or
1/(1-p); torch's own random masks could never match), the loss and
grad.NAME for every parameter.
This script builds the same network from torch's own modules (KIND: mnist_mlp,
mnist_cnn, gpt1, log_probs, margin, axes, cross, masks, conv_rect or conv_seq), loads nnc's parameters into it, runs forward and backward in
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
KIND_NAMES = ("mnist_mlp", "mnist_cnn", "gpt1", "log_probs", "margin", "axes", "cross", "masks", "conv_rect", "conv_seq")
KINDS = ", ".join(KIND_NAMES[:-1]) + " or " + KIND_NAMES[-1]
GPT1_HEADS = 2  # heads in tests/parity/gpt1.nn; not recorded in the file

# Gradients that are exactly zero in exact arithmetic, so that both sides hold
# only float32 rounding noise (~1e-10) and a difference relative to the
# tensor's own maximum means nothing.  The key bias adds q_i . b to every
# score of row i alike, and softmax ignores a constant added to a row (masked
# scores are -inf whatever it adds).  These
# are compared relative to the largest gradient of the whole model instead
# (the line says "rel to all"), and torch's own values must be that small too.
def exactly_zero(name):
    return name.endswith("key.bias")  # an attention's: no parity model has a dense layer named key


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


class Axes(nn.Module):
    """tests/grad/axes.nn: softmax, log_softmax and logsumexp along axes other
    than the last, each of scores from its own Linear(6, n) reshaped to
    [3, 4] or [2, 3, 4] per example; nnc's per-example axis a is torch's dim
    a + 1 (the batch is dim 0), a negative one the same.  A softmax over
    several axes is torch's softmax of them flattened into one."""

    def __init__(self):
        super().__init__()
        for name, n in (("p", 12), ("q", 24), ("r", 12), ("s", 24), ("w", 12), ("v", 24), ("o", 24)):
            setattr(self, name, nn.Linear(6, n))

    def forward(self, batch):
        x = batch["input.x"]
        small = lambda layer, k: layer(x).reshape(-1, 3, 4) * k  # noqa: E731
        large = lambda layer, k: layer(x).reshape(-1, 2, 3, 4) * k  # noqa: E731
        self.scores = {
            "p": small(self.p, 4), "q": large(self.q, 4), "r": small(self.r, 10), "s": large(self.s, 10),
            "w": small(self.w, 4), "v": large(self.v, 4), "o": large(self.o, 4),
        }
        return F.softmax(self.scores["p"], dim=1)

    def loss(self, a, batch):
        z, t, u = self.scores, batch["target.t"], batch["target.u"]
        # softmax(o, axis: [0, 1]): dims 1 and 2 of [B, 2, 3, 4] moved last and joined
        o = F.softmax(z["o"].permute(0, 3, 1, 2).reshape(-1, 4, 6), dim=-1)
        o = o.reshape(-1, 4, 2, 3).permute(0, 2, 3, 1)
        per_example = (
            (a * t).sum((1, 2))
            + (F.softmax(z["q"] / 2, dim=-2) * u).sum((1, 2, 3))
            - (F.log_softmax(z["r"], dim=1) * t).sum((1, 2))
            - (F.log_softmax(z["s"], dim=-2) * u).sum((1, 2, 3))
            + (torch.logsumexp(z["w"], dim=1) * t[:, 0]).sum(1)
            + 0.5 * (torch.logsumexp(z["v"], dim=(1, 3)) * t[:, :, 0]).sum(1)
            - ((z["v"] - torch.logsumexp(z["v"], dim=-2, keepdim=True)) * u).sum((1, 2, 3))
            + (o * u).sum((1, 2, 3))
        )
        return per_example.mean()


def torch_attention(a, q, kv, heads, causal=False, mask=None):
    """torch's own multi-head attention of q [B, T, D] over kv [B, S, E] with
    nnc's projections a.query/key/value/out (separate weights), the causal
    mask and a key padding mask where mask <= 0."""
    d = q.shape[-1]
    future = torch.triu(torch.ones(q.shape[1], kv.shape[1], dtype=torch.bool), diagonal=1) if causal else None
    y, _ = F.multi_head_attention_forward(
        q.transpose(0, 1), kv.transpose(0, 1), kv.transpose(0, 1), d, heads, None,
        torch.cat([a.query.bias, a.key.bias, a.value.bias]), None, None, False, 0.0, a.out.weight, a.out.bias,
        training=True, need_weights=False, use_separate_proj_weight=True, q_proj_weight=a.query.weight,
        k_proj_weight=a.key.weight, v_proj_weight=a.value.weight, attn_mask=future,
        key_padding_mask=None if mask is None else mask <= 0)
    return y.transpose(0, 1)


def projections(d, e):
    """An nnc attention's four projections as Linear modules: query and out
    from d features, key and value from e."""
    a = nn.Module()
    for name, n in (("query", d), ("key", e), ("value", e), ("out", d)):
        setattr(a, name, nn.Linear(n, d))
    return a


class Masks(nn.Module):
    """tests/grad/attention_mask.nn: a = attention(x, 2, mask: m), h = the
    causal attention of a with m's first entry replaced by 1, b = the
    cross-attention of h over c [B, 5, 4] under the mask k; the mean squared
    error against y."""

    def __init__(self):
        super().__init__()
        self.a, self.h, self.b = projections(8, 8), projections(8, 8), projections(8, 4)

    def forward(self, batch):
        x, m, c, k = (batch[f"input.{n}"] for n in "xmck")
        a = torch_attention(self.a, x, x, 2, mask=m)
        kept = torch.cat([torch.ones_like(m[:, :1]), m[:, 1:]], dim=1)
        h = torch_attention(self.h, a, a, 2, causal=True, mask=kept)
        return torch_attention(self.b, h, c, 2, mask=k)

    def loss(self, b, batch):
        return F.mse_loss(b, batch["target.y"])


class Cross(nn.Module):
    """tests/grad/cross_attention.nn: q = Linear(4, 8)(x) attends to the
    context c [B, 3, 6] through torch's own multi-head attention (separate
    projections: kdim = vdim = 6, 2 heads), nnc's xattn.query/key/value/out
    its weights; then Linear(8, 8) and the mean squared error against y."""

    def __init__(self):
        super().__init__()
        self.q = nn.Linear(4, 8)
        self.xattn = projections(8, 6)
        self.dense = nn.Linear(8, 8)

    def forward(self, batch):
        return self.dense(torch_attention(self.xattn, self.q(batch["input.x"]), batch["input.c"], 2))

    def loss(self, a, batch):
        return F.mse_loss(a, batch["target.y"])


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
    if kind == "axes":
        return Axes()
    if kind == "cross":
        return Cross()
    if kind == "masks":
        return Masks()
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
        print(f"usage: torch_parity.py {'|'.join(KIND_NAMES)} FILE.safetensors", file=sys.stderr)
        return 2
    kind, path = argv[1], argv[2]
    if kind not in KIND_NAMES:
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
