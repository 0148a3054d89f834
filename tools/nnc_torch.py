#!/usr/bin/python3
"""nnc_torch.py -- move nnc checkpoints to PyTorch state dicts and back.

nnc's checkpoints are safetensors files whose parameters already have torch's
names and layouts (dense = nn.Linear, layer_norm = nn.LayerNorm, ...).  What
this helper adds (docs/pytorch.md):

  * it reads and writes safetensors itself (standard library + numpy: Debian
    12 has no safetensors package); torch is imported only to make or take
    torch tensors;
  * it keeps the model's parameters apart from nnc's optimizer state (tensors
    named optimizer.NAME.exp_avg, ...), so that
    model.load_state_dict(state_dict(path), strict=True) works;
  * attention: nnc's four projections P.query, P.key, P.value, P.out become
    nn.MultiheadAttention's packed P.in_proj_weight / P.in_proj_bias ([3D, D]:
    query, key, value in that order) and P.out_proj, and back; a
    cross_attention whose context is E wide (E != D) becomes
    P.q_proj_weight, P.k_proj_weight, P.v_proj_weight ([D, E]) and
    P.in_proj_bias, as nn.MultiheadAttention(D, H, kdim=E, vdim=E) keeps them;
  * --rename A=B renames dotted name components (attn=self_attn,
    ln_1=norm1, blocks=encoder.layers), so nnc's names meet a torch model's;
  * torch.optim.Adam / AdamW / SGD(momentum) state: exp_avg, exp_avg_sq,
    momentum_buffer and the step (nnc keeps it in the header's
    __metadata__ as nnc.step) go into a torch optimizer and come back.

As a module (python3 -c 'import sys; sys.path.insert(0, "tools"); import nnc_torch'):

  tensors, meta = read_safetensors(path)          # numpy arrays, __metadata__
  meta = read_metadata(path)                      # __metadata__ alone, from the header
  write_safetensors(path, tensors, meta)
  sd = state_dict(path, rename=[("attn", "self_attn")])   # torch tensors, model only
  model.load_state_dict(sd, strict=True)
  load_optimizer(optimizer, model, path, rename=...)      # Adam(W)/SGD state, step
  save_checkpoint(path, model, optimizer, rename=...)     # an nnc checkpoint

From the shell:

  nnc_torch.py to-torch ck.safetensors model.pt [--rename A=B]... [--optimizer opt.pt]
  nnc_torch.py from-torch model.pt ck.safetensors [--rename A=B]... [--optimizer opt.pt]
  nnc_torch.py show ck.safetensors

Exit status: 0 done, 1 a file that cannot be read, converted or written
(said on stderr, before anything is written where the output paths are the
trouble), 2 bad command line.  Output cut short by a closed pipe (show | head)
ends the program quietly, as SIGPIPE ends cat.
"""
import argparse
import json
import os
import re
import signal
import struct
import sys

import numpy as np

OPTIMIZER = "optimizer."              # nnc's prefix of optimizer state tensors
STEP_KEY = "nnc.step"                 # __metadata__ key of the steps done
# __metadata__ keys nnc reads beside the step (a text model's vocabulary: nnc.tokenizer, nnc.chars,
# nnc.bpe_merges): a torch state_dict has no place for them, so the optimizer file carries them
# (NNC_META in it), or from-torch --meta-from copies them from the nnc checkpoint they came from
NNC_META = "nnc_metadata"
STATE_SUFFIXES = ("exp_avg_sq", "exp_avg", "momentum_buffer")
PROJECTIONS = ("query", "key", "value")
SEPARATE = ("q", "k", "v")   # nn.MultiheadAttention's q_proj_weight ... when kdim or vdim is not D

# safetensors dtype <-> numpy; BF16 has no numpy type: its raw 16 bits
DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


class NncTorchError(Exception):
    """A file that cannot be read or converted; the message says why."""


# ---- safetensors ------------------------------------------------------------------------

def _read_header(f, path, data=True):
    """The JSON header of the safetensors file f, open at its start: its 8-byte little-endian
    length, then that many bytes.  f is left at the first byte of the tensors' data.  data:
    the tensors are to be read, so their offsets must lie within the file (a header read for
    its metadata alone may come from a file cut after it)."""
    size = os.fstat(f.fileno()).st_size
    head = f.read(8)
    if len(head) < 8:
        raise NncTorchError(f"{path}: {len(head)} bytes; a safetensors file starts with an 8-byte header length")
    n = struct.unpack("<Q", head)[0]
    if n > size - 8:
        raise NncTorchError(f"{path}: not a safetensors file (its first 8 bytes, read as a header length, say {n} "
                            f"bytes: past the end of the {size}-byte file)")
    try:
        header = json.loads(f.read(n))
    except ValueError as e:
        raise NncTorchError(f"{path}: header is not valid JSON: {e}")
    _check_header(header, path, size - 8 - n if data else None)
    return header


def _json_kind(v):
    """A JSON value's kind, for a message (runtime/safetensors.c's words)."""
    return ("null" if v is None else "a boolean" if isinstance(v, bool) else "a number" if isinstance(v, (int, float))
            else "a string" if isinstance(v, str) else "an array" if isinstance(v, list) else "an object")


def _check_header(header, path, data):
    """Refuses, as nnc's own reader does (runtime/safetensors.c; the words differ where this
    tool says more, and it refuses dtypes it cannot convert that the reader takes), a header
    that is not what the format makes it: an object whose __metadata__ is an object of
    strings and whose every other entry is a tensor {dtype, shape, data_offsets} of
    exactly its shape's bytes within the data bytes after the header (data None: not
    checked).  (A list or a number there was a traceback.)"""
    if not isinstance(header, dict):
        raise NncTorchError(f"{path}: header is not a JSON object but {_json_kind(header)}")
    meta = header.get("__metadata__")
    if meta is not None and not isinstance(meta, dict):
        raise NncTorchError(f"{path}: __metadata__ is {_json_kind(meta)}; the safetensors format makes it an "
                            "object of strings")
    for k, v in (meta or {}).items():
        if not isinstance(v, str):
            raise NncTorchError(f"{path}: __metadata__ {k} is {_json_kind(v)}, not a string; the safetensors "
                                "format's metadata values are strings")
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(t, dict):
            raise NncTorchError(f"{path}: tensor '{name}' is not a JSON object")
        for key in ("dtype", "shape", "data_offsets"):
            if key not in t:
                raise NncTorchError(f"{path}: tensor '{name}' has no {key}")
        dtype, shape, offsets = t["dtype"], t["shape"], t["data_offsets"]
        if not isinstance(dtype, str):
            raise NncTorchError(f"{path}: tensor '{name}': dtype is not a string")
        if not isinstance(shape, list):
            raise NncTorchError(f"{path}: tensor '{name}': shape is not an array")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise NncTorchError(f"{path}: tensor '{name}': data_offsets is not an array of two integers")
        if dtype not in DTYPES:
            raise NncTorchError(f"{path}: tensor '{name}': dtype {dtype} is not supported")
        size = np.dtype(DTYPES[dtype]).itemsize
        for d, k in enumerate(shape):
            if not isinstance(k, int) or isinstance(k, bool):
                raise NncTorchError(f"{path}: tensor '{name}': shape entry {d} is not an integer")
            if k < 0:
                raise NncTorchError(f"{path}: tensor '{name}': shape entry {d} is negative ({k})")
            size *= k
        b, end = offsets
        dims = "[" + ",".join(str(k) for k in shape) + "]"
        if b < 0 or end < 0:
            raise NncTorchError(f"{path}: tensor '{name}': data_offsets [{b},{end}] are negative")
        if end < b:
            raise NncTorchError(f"{path}: tensor '{name}': data_offsets [{b},{end}] are out of order")
        if data is not None and end > data:
            raise NncTorchError(f"{path}: tensor '{name}': data_offsets [{b},{end}] run past the end of the {data} "
                                "bytes of data")
        if end - b != size:
            raise NncTorchError(f"{path}: tensor '{name}': {end - b} bytes of data for shape {dims} of {dtype} "
                                f"({size} bytes)")


def read_metadata(path):
    """{__metadata__} of a safetensors file, from its header alone: no tensor is read."""
    with open(path, "rb") as f:
        return _read_header(f, path, data=False).get("__metadata__") or {}


def read_safetensors(path, dtypes=None):
    """({name: numpy array}, {__metadata__}) of a safetensors file.  BF16
    tensors come as float32 (exactly: a bfloat16 is the top half of one);
    a dict dtypes, if given, gets each tensor's dtype in the file ("BF16")."""
    with open(path, "rb") as f:
        header = _read_header(f, path)
        data = memoryview(f.read())
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, t in header.items():   # (each entry checked by _read_header)
        lo, hi = t["data_offsets"]
        a = np.frombuffer(data[lo:hi], dtype=np.dtype(DTYPES[t["dtype"]]).newbyteorder("<")).reshape(t["shape"])
        if t["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        if dtypes is not None:
            dtypes[name] = t["dtype"]
        tensors[name] = a.astype(a.dtype.newbyteorder("="))
    return tensors, meta


def write_safetensors(path, tensors, meta=None, bf16=()):
    """Writes {name: numpy array} (in that order) with __metadata__ meta (string
    pairs) atomically.  Names in bf16 are written as BF16 (rounded to nearest even)."""
    header, offset, blobs = {}, 0, []
    if meta:
        header["__metadata__"] = {str(k): str(v) for k, v in meta.items()}
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        if name in bf16:
            bits = a.astype(np.float32).view(np.uint32)
            blob = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()
            dtype = "BF16"
        else:
            dtype = next((k for k, v in DTYPES.items() if k != "BF16" and np.dtype(v) == a.dtype), None)
            if dtype is None:
                raise NncTorchError(f"tensor '{name}': numpy dtype {a.dtype} has no safetensors dtype here")
            blob = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h)
            for b in blobs:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:   # said of path: the temporary is ours, not the caller's
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise NncTorchError(f"cannot write '{path}': {e.strerror}")


# ---- names ------------------------------------------------------------------------------

def parse_rename(rules):
    """["attn=self_attn", ...] -> [("attn", "self_attn"), ...]."""
    out = []
    for r in rules or []:
        if r.count("=") != 1 or not all(r.split("=")):
            raise NncTorchError(f"--rename {r}: give NNC=TORCH, dotted name components such as attn=self_attn")
        out.append(tuple(r.split("=")))
    return out


def _rename(name, rules, reverse=False):
    """Replaces whole dotted components: with attn=self_attn, blocks.0.attn.x
    becomes blocks.0.self_attn.x (reverse: back).  Rules apply in order."""
    for a, b in rules:
        src, dst = (b, a) if reverse else (a, b)
        name = re.sub(r"(^|\.)" + re.escape(src) + r"(?=\.|$)", lambda m: m.group(1) + dst, name)
    return name


def _is_attention(params, p):
    """Whether P.query, P.key, P.value and P.out are an attention's projections,
    as nnc's attention and cross_attention make them and nn.MultiheadAttention
    keeps them: query and out [D, D], key and value [D, E] (E = D but for a
    cross_attention over another width), and [D] biases where there are
    biases.  A user's layers that are merely so named (dense(x, 4, name:
    "query"), a value of 5) are not."""
    w = [params.get(f"{p}.{q}.weight") for q in PROJECTIONS + ("out",)]
    if any(x is None or x.ndim != 2 for x in w):
        return False
    d, e = w[0].shape[0], w[1].shape[1]
    biases = [params.get(f"{p}.{q}.bias") for q in PROJECTIONS + ("out",)]
    return ([x.shape for x in w] == [(d, d), (d, e), (d, e), (d, d)]
            and all(b is None or b.shape == (d,) for b in biases))


def _attention_prefixes(params):
    """Prefixes P whose P.query, P.key, P.value and P.out are an attention's."""
    return [n[:-len(".query.weight")] for n in params if n.endswith(".query.weight")
            and _is_attention(params, n[:-len(".query.weight")])]


def nnc_to_torch(params, rename=(), pack=True):
    """nnc's parameter names and arrays -> torch's (dict, in nnc's order):
    attention packed as nn.MultiheadAttention keeps it, then components renamed."""
    out, done = {}, set()
    prefixes = _attention_prefixes(params) if pack else []
    for name, a in params.items():
        if name in done:
            continue
        p = next((p for p in prefixes if name.startswith(p + ".")), None)
        if p is not None:
            for kind in ("weight", "bias"):
                parts = [f"{p}.{q}.{kind}" for q in PROJECTIONS]
                if kind == "weight" and params[parts[1]].shape[1] != params[parts[0]].shape[1]:
                    # key and value of another width (kdim = vdim = E): torch keeps the three apart
                    for q, x in zip(SEPARATE, parts):
                        out[_rename(f"{p}.{q}_proj_weight", rename)] = params[x]
                    done.update(parts)
                elif all(x in params for x in parts):
                    out[_rename(f"{p}.in_proj_{kind}", rename)] = np.concatenate([params[x] for x in parts], axis=0)
                    done.update(parts)
                if f"{p}.out.{kind}" in params:
                    out[_rename(f"{p}.out_proj.{kind}", rename)] = params[f"{p}.out.{kind}"]
                    done.add(f"{p}.out.{kind}")
            continue
        out[_rename(name, rename)] = a
        done.add(name)
    return out


def torch_to_nnc(params, rename=()):
    """torch's names and arrays -> nnc's: components renamed back, then
    in_proj_weight / in_proj_bias split into query, key, value, q/k/v_proj_weight
    named query/key/value, and out_proj named out."""
    out = {}
    for tname, a in params.items():
        name = _rename(tname, rename, reverse=True)
        m = re.fullmatch(r"(.*)\.in_proj_(weight|bias)", name)
        o = re.fullmatch(r"(.*)\.out_proj\.(weight|bias)", name)
        s = re.fullmatch(r"(.*)\.([qkv])_proj_weight", name)
        if s:
            out[f"{s.group(1)}.{PROJECTIONS[SEPARATE.index(s.group(2))]}.weight"] = a
        elif m:
            if a.shape[0] % 3:
                raise NncTorchError(f"'{tname}' has {a.shape[0]} rows; a packed query, key and value has 3 x D")
            for q, part in zip(PROJECTIONS, np.split(a, 3, axis=0)):
                out[f"{m.group(1)}.{q}.{m.group(2)}"] = part
        elif o:
            out[f"{o.group(1)}.out.{o.group(2)}"] = a
        else:
            out[name] = a
    return out


def split_checkpoint(tensors):
    """(parameters, {param: {state: array}}) of an nnc checkpoint's tensors.
    A scalar tensor "step" (checkpoints written before the step moved to
    __metadata__) is neither."""
    params, state = {}, {}
    for name, a in tensors.items():
        if name.startswith(OPTIMIZER):
            rest = name[len(OPTIMIZER):]
            suffix = next((s for s in STATE_SUFFIXES if rest.endswith("." + s)), None)
            if suffix is None:
                raise NncTorchError(f"'{name}': an optimizer state nnc does not write")
            state.setdefault(rest[:-len(suffix) - 1], {})[suffix] = a
        elif name != "step":
            params[name] = a
    return params, state


def checkpoint_step(tensors, meta):
    """The steps done: __metadata__'s nnc.step, or an older checkpoint's step tensor; None without."""
    if STEP_KEY in meta:
        return int(meta[STEP_KEY])
    if "step" in tensors:
        return int(tensors["step"].reshape(()))
    return None


def nnc_meta(meta):
    """The __metadata__ entries of an nnc checkpoint that nnc reads, but the step (written from the
    optimizer's own step) and the version of the nnc that wrote it (it did not write the new file)."""
    return {k: v for k, v in meta.items() if k.startswith("nnc.") and k not in (STEP_KEY, "nnc.version")}


# ---- torch ------------------------------------------------------------------------------

def _torch():
    try:
        import torch
    except ImportError:
        raise NncTorchError("this needs PyTorch (apt-get install python3-torch)")
    return torch


def _to_numpy(t):
    t = t.detach().cpu()
    torch = _torch()
    if t.dtype == torch.bfloat16:
        t = t.float()   # exact
    return t.numpy().copy()


def state_dict(path, rename=(), pack=True):
    """The model's parameters of an nnc checkpoint as a torch state dict
    (torch names after packing attention and renaming), without the optimizer
    state: model.load_state_dict(state_dict(path), strict=True)."""
    torch = _torch()
    tensors, _ = read_safetensors(path)
    params, _ = split_checkpoint(tensors)
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in nnc_to_torch(params, rename, pack).items()}


def _param_names(model):
    return {id(p): n for n, p in model.named_parameters()}


def load_optimizer(optimizer, model, path, rename=(), pack=True):
    """Fills a torch.optim optimizer over model's parameters with an nnc
    checkpoint's state: Adam and AdamW take exp_avg, exp_avg_sq and the step,
    SGD with momentum its momentum_buffer.  Returns the step."""
    torch = _torch()
    tensors, meta = read_safetensors(path)
    params, state = split_checkpoint(tensors)
    step = checkpoint_step(tensors, meta)
    names = _param_names(model)
    # the state of each torch parameter, packed and renamed as the parameters are
    per_kind = {}
    for kind in STATE_SUFFIXES:
        have = {p: s[kind] for p, s in state.items() if kind in s}
        if have:
            per_kind[kind] = nnc_to_torch({p: have.get(p, np.zeros_like(a)) for p, a in params.items()}, rename, pack)
    for group in optimizer.param_groups:
        for p in group["params"]:
            name = names.get(id(p))
            if name is None:
                raise NncTorchError("the optimizer holds a parameter that is not the model's")
            s = {}
            for kind, arrays in per_kind.items():
                if name not in arrays:
                    raise NncTorchError(f"{path}: no optimizer state for torch parameter '{name}'")
                s[kind] = torch.from_numpy(np.ascontiguousarray(arrays[name])).to(p.dtype)
            if "exp_avg" in s:
                s["step"] = torch.tensor(float(step or 0))
            if s:
                optimizer.state[p] = s
    return step


def save_checkpoint(path, model, optimizer=None, rename=(), step=None, meta=None):
    """Writes model's parameters (and the optimizer's Adam/AdamW/momentum state)
    as an nnc checkpoint: nnc's names, attention unpacked, the step in
    __metadata__ (nnc.step: the optimizer's, else step)."""
    params = {n: _to_numpy(p) for n, p in model.named_parameters()}
    out = torch_to_nnc(params, rename)
    names = _param_names(model)
    if optimizer is not None:
        per_kind = {}
        for group in optimizer.param_groups:
            for p in group["params"]:
                s = optimizer.state.get(p, {})
                for kind in STATE_SUFFIXES:
                    if kind in s and s[kind] is not None:
                        per_kind.setdefault(kind, {})[names[id(p)]] = _to_numpy(s[kind])
                if "step" in s:
                    step = int(float(s["step"]))
        for kind, arrays in per_kind.items():
            for name, a in torch_to_nnc(arrays, rename).items():
                out[f"{OPTIMIZER}{name}.{kind}"] = a
    m = {"format": "pt", **(meta or {})}
    if step is not None:
        m[STEP_KEY] = str(int(step))
    write_safetensors(path, out, m)


# ---- command line -----------------------------------------------------------------------

OPTIMIZER_FILE = "{'step': N, 'state': {name: {'exp_avg': ..., ...}}}, as to-torch --optimizer writes it"


def _check_output(path):
    """Raises NncTorchError unless a file can be written at path (its folder
    exists and takes files, and path is not a folder), in nnc's words: before
    any work, so that nothing is half written."""
    if os.path.isdir(path):
        raise NncTorchError(f"cannot write '{path}': it is a directory")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise NncTorchError(f"cannot write '{path}': No such file or directory")
    if not os.access(folder, os.W_OK):
        raise NncTorchError(f"cannot write '{path}': Permission denied")


def _torch_save(obj, path):
    try:
        _torch().save(obj, path)
    except (OSError, RuntimeError) as e:   # torch says "Parent directory ... does not exist" as a RuntimeError
        raise NncTorchError(f"cannot write '{path}': {e}")


def _optimizer_state(path, opt):
    """{torch name: {kind: tensor}} of an optimizer file, or why it is not one."""
    if not isinstance(opt, dict) or not isinstance(opt.get("state"), dict):
        has = (f"its keys: {', '.join(repr(k) for k in list(opt)[:3])}{', ...' if len(opt) > 3 else ''}"
               if isinstance(opt, dict) else f"a {type(opt).__name__}")
        raise NncTorchError(f"{path}: not optimizer state: no 'state' ({has}); give {OPTIMIZER_FILE}")
    for name, kinds in opt["state"].items():
        if not isinstance(name, str) or not isinstance(kinds, dict):
            raise NncTorchError(f"{path}: its state is keyed by {name!r}, not by parameter name (a torch "
                                f"optimizer's own state_dict() numbers parameters); give {OPTIMIZER_FILE}")
    return opt["state"]


def _cmd_to_torch(a):
    for path in (a.output, a.optimizer):
        if path:
            _check_output(path)
    torch = _torch()
    tensors, meta = read_safetensors(a.input)
    params, state = split_checkpoint(tensors)
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in nnc_to_torch(params, a.rename, not a.no_pack).items()}
    _torch_save(sd, a.output)
    print(f"{a.output}: {len(sd)} tensors (from {len(params)} of {a.input})")
    if a.optimizer:
        step = checkpoint_step(tensors, meta)
        kinds = {}
        for kind in STATE_SUFFIXES:
            have = {p: s[kind] for p, s in state.items() if kind in s}
            if have:
                packed = nnc_to_torch({p: have.get(p, np.zeros_like(v)) for p, v in params.items()}, a.rename,
                                      not a.no_pack)
                kinds[kind] = packed
        by_param = {}
        for kind, arrays in kinds.items():
            for name, v in arrays.items():
                by_param.setdefault(name, {})[kind] = torch.from_numpy(np.ascontiguousarray(v))
        _torch_save({"step": step, "state": by_param, NNC_META: nnc_meta(meta)}, a.optimizer)
        print(f"{a.optimizer}: the state of {len(by_param)} parameters, step {step}")
    kept = sorted(nnc_meta(meta))
    if kept and not a.optimizer:
        print(f"nnc_torch.py: note: {a.input}'s {', '.join(kept)} (its vocabulary) cannot go into a state_dict; "
              f"from-torch --meta-from {a.input} puts it back", file=sys.stderr)


def _add_converted(out, bf16, tname, arr, is_bf16, rename, prefix="", suffix=""):
    """Puts torch tensor tname's nnc tensors (one, or a packed projection's
    three), PREFIX + name + SUFFIX, in out; a bfloat16 one stays BF16 in bf16
    (nnc loads BF16 as it loads F16)."""
    for name, part in torch_to_nnc({tname: arr}, rename).items():
        out[prefix + name + suffix] = part
        if is_bf16:
            bf16.add(prefix + name + suffix)


def _tensors_of(path, obj):
    """The tensors of what torch.load read from path: a state_dict, or one wrapped in a dict beside other
    things ({'state_dict': sd} or {'model': sd, 'epoch': 3}: the one dict of tensors in it); else why not."""
    if not isinstance(obj, dict):
        hint = " (save model.state_dict(), not the model)" if hasattr(obj, "state_dict") else ""
        raise NncTorchError(f"{path}: not a state_dict but a {type(obj).__name__}{hint}")
    tensors = {k: v for k, v in obj.items() if hasattr(v, "detach")}
    if tensors:
        return tensors
    inner = [k for k, v in obj.items() if isinstance(v, dict) and any(hasattr(t, "detach") for t in v.values())]
    if len(inner) == 1:
        return {k: v for k, v in obj[inner[0]].items() if hasattr(v, "detach")}
    keys = ", ".join(repr(k) for k in list(obj)[:4]) + (", ..." if len(obj) > 4 else "")
    raise NncTorchError(f"{path}: no tensors in it (its keys: {keys or 'none'})" if not inner else
                        f"{path}: tensors under several keys ({', '.join(map(repr, inner))}); save the one state_dict")


def _cmd_from_torch(a):
    _check_output(a.output)
    out, bf16, step = {}, set(), None
    if a.input.endswith(".safetensors"):
        dtypes = {}
        src, meta = read_safetensors(a.input, dtypes)
        for tname, v in src.items():
            _add_converted(out, bf16, tname, v, dtypes[tname] == "BF16", a.rename)
    else:
        torch = _torch()
        src = _tensors_of(a.input, torch.load(a.input, map_location="cpu"))
        for tname, v in src.items():
            _add_converted(out, bf16, tname, _to_numpy(v), v.dtype == torch.bfloat16, a.rename)
    if a.optimizer:
        torch = _torch()
        opt = torch.load(a.optimizer, map_location="cpu")
        for tname, kinds in _optimizer_state(a.optimizer, opt).items():
            for kind, v in kinds.items():
                _add_converted(out, bf16, tname, _to_numpy(v), v.dtype == torch.bfloat16, a.rename, OPTIMIZER,
                               f".{kind}")
        step = opt.get("step")
    m = {"format": "pt"}
    if a.optimizer:
        m.update(opt.get(NNC_META) or {})
    if a.meta_from:
        m.update(nnc_meta(read_metadata(a.meta_from)))
    if step is not None:
        m[STEP_KEY] = str(int(step))
    write_safetensors(a.output, out, m, bf16=bf16)
    print(f"{a.output}: {len(out)} tensors (from {len(src)} of {a.input})")


def _cmd_show(a):
    dtypes = {}
    tensors, meta = read_safetensors(a.input, dtypes)
    params, state = split_checkpoint(tensors)
    step = checkpoint_step(tensors, meta)
    print(f"{a.input}: {len(params)} parameters, optimizer state for {len(state)}, "
          f"{'no step' if step is None else f'step {step}'}")
    for k, v in meta.items():
        print(f"  __metadata__ {k}: {v if len(v) <= 60 else v[:57] + '...'}")
    for name, v in tensors.items():
        print(f"  {name} {dtypes[name]} {list(v.shape)}")   # the file's dtype: BF16 is read as float32


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="nnc_torch.py", description="Convert between nnc checkpoints (safetensors) and PyTorch state dicts.",
        epilog="Attention projections P.query/key/value become nn.MultiheadAttention's packed P.in_proj_weight "
               "and P.in_proj_bias (and P.out becomes P.out_proj), and back.  The step is __metadata__'s "
               "nnc.step.  See docs/pytorch.md.")
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("to-torch", help="an nnc checkpoint -> a torch state dict file (.pt)")
    t.add_argument("input", help="nnc checkpoint (.safetensors)")
    t.add_argument("output", help="torch.save file of the model's state dict (.pt)")
    t.add_argument("--optimizer", metavar="FILE", help="also write the optimizer state, keyed by torch "
                   "parameter name: {'step': N, 'state': {name: {'exp_avg': ..., 'exp_avg_sq': ...}}}")
    f = sub.add_parser("from-torch", help="a torch state dict (.pt, or .safetensors) -> an nnc checkpoint")
    f.add_argument("input", help="torch.save file of a state dict (or {'state_dict': ...}), or a .safetensors")
    f.add_argument("output", help="nnc checkpoint to write (.safetensors)")
    f.add_argument("--optimizer", metavar="FILE", help="optimizer state as to-torch --optimizer writes it (with the "
                   "checkpoint's vocabulary metadata, put back)")
    f.add_argument("--meta-from", metavar="CK", help="copy the nnc.* metadata (a text model's vocabulary) from the "
                   "nnc checkpoint CK the state_dict came from")
    for p in (t, f):
        p.add_argument("--rename", action="append", metavar="NNC=TORCH",
                       help="rename a dotted name component (repeatable), e.g. attn=self_attn ln_1=norm1")
    t.add_argument("--no-pack", action="store_true", help="keep attention's query, key, value apart")
    s = sub.add_parser("show", help="list a checkpoint's tensors, metadata and step")
    s.add_argument("input")
    a = ap.parse_args(argv)
    if a.command != "show":
        try:
            a.rename = parse_rename(a.rename)
        except NncTorchError as e:   # a bad command line: argparse's usage and exit status 2
            (t if a.command == "to-torch" else f).error(str(e))
    try:
        {"to-torch": _cmd_to_torch, "from-torch": _cmd_from_torch, "show": _cmd_show}[a.command](a)
    except OSError as e:   # in nnc's words: cannot open 'x': No such file or directory
        print(f"nnc_torch.py: error: cannot open '{e.filename}': {e.strerror}" if e.filename else
              f"nnc_torch.py: error: {e}", file=sys.stderr)
        return 1
    except (NncTorchError, KeyError) as e:
        print(f"nnc_torch.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # show | head: end quietly, as cat does
    sys.exit(main())
