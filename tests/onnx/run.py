#!/usr/bin/python3
"""run.py NNC ROOT CASE -- nnc --emit=onnx against onnxruntime (tests/onnx).

Each case exports a model with nnc --emit=onnx, runs python3-onnx's full
checker on it (onnx.checker.check_model(full_check=True): the schema, every
node's types and shapes inferred through the graph), checks the names (inputs
and output as in the .nn file, parameters as in the checkpoint) and then
evaluates it INDEPENDENTLY in onnxruntime (npm onnxruntime-node, through
ort_run.js) on real inputs and compares with nnc --predict on the same
inputs:

    max |onnxruntime - nnc| <= 1e-5 * max |nnc|     (relative to the output's scale)

Cases:
  mlp     examples/mnist_mlp.nn trained 100 steps (--save), exported with --load;
          16 MNIST test images; the initializers equal the checkpoint's tensors
  cnn     examples/mnist_cnn.nn from its seed; 8 MNIST test images
  gpt     examples/shakespeare.nn from its seed; 4 windows of tinyshakespeare; an id of
          -1 or 65 refused by onnxruntime
  primer  examples/primer.nn: typed-in weights, x = (1.5, -0.7) gives 1.066
  zoo     the other layers and primitives (tests/golden/ok, tests/grad models)
          on random inputs
  checker every example and the zoo exported and checked, not evaluated
  errors  checkpoints that do not fit, -o that cannot be written, a file over 2 GiB
          refused before it is built: the exact messages (no onnxruntime needed)
  stdout  -o - writes the model to standard output: piped into python3-onnx's
          checker, and byte for byte the file -o FILE writes (no onnxruntime needed)

Exit status: 0 pass, 1 fail, 77 skipped (no python3-onnx, node or
onnxruntime-node: scripts/test installs them, tests/onnx/install-ort.sh the
last; no data set for the case).
"""
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile

SKIP = 77
TOL = 1e-5

nnc, root, case = sys.argv[1], sys.argv[2], sys.argv[3]
ort_dir = os.environ.get("NNC_ORT_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
    "nnc-tests", "onnxruntime-node-1.20.1")
data = os.environ.get("NNC_DATA", "")
tmp = tempfile.mkdtemp(prefix="nnc-onnx.")
failed = []


def skip(why):
    print(f"skipped: {why}")
    sys.exit(SKIP)


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    return r.returncode, r.stdout, r.stderr


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failed.append(what)


try:
    import numpy as np
except ImportError:
    skip("/usr/bin/python3 has no numpy")

if case != "errors":
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        skip("/usr/bin/python3 has no onnx (apt-get install python3-onnx)")


def tool_check():
    try:
        if subprocess.run(["node", "--version"], capture_output=True).returncode != 0:
            skip("node does not run")
    except FileNotFoundError:
        skip("no node (apt-get install nodejs npm)")
    arch = {"x86_64": "x64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    binding = os.path.join(ort_dir, "node_modules", "onnxruntime-node", "bin", "napi-v3", "linux", arch,
                           "onnxruntime_binding.node")
    if not os.path.isfile(binding):
        skip(f"no onnxruntime-node in {ort_dir} (tests/onnx/install-ort.sh installs it)")


def export(model, out, *extra):
    rc, _, err = run([nnc, "--emit=onnx", "-v", model, "-o", out, *extra], cwd=root)
    check(rc == 0, f"nnc --emit=onnx {os.path.basename(model)} {' '.join(extra)}".rstrip())
    if rc != 0:
        print(err)
        sys.exit(1)
    print("     " + err.strip())
    m = onnx.load(out)
    try:
        onnx.checker.check_model(m, full_check=True)
        check(True, f"onnx.checker.check_model(full_check=True): {os.path.basename(out)}")
    except Exception as e:  # the checker's own exception types differ by version
        check(False, f"onnx.checker.check_model: {e}")
    check([(o.domain, o.version) for o in m.opset_import] == [("", 17)] and m.ir_version == 8,
          f"opset 17, IR version 8 (found {[(o.domain, o.version) for o in m.opset_import]}, {m.ir_version})")
    return m


def compare(model, m, feeds, label):
    """feeds: name -> numpy array; runs onnxruntime and nnc --predict."""
    args = []
    for name, a in feeds.items():
        path = os.path.join(tmp, f"{label}.{name}.npy")
        np.save(path, a)
        args.append(f"{name}={path}")
    ort_out, nnc_out = os.path.join(tmp, f"{label}.ort.npy"), os.path.join(tmp, f"{label}.nnc.npy")
    rc, out, err = run(["node", os.path.join(root, "tests", "onnx", "ort_run.js"), ort_dir,
                        os.path.join(tmp, f"{label}.onnx"), ort_out, *args])
    check(rc == 0, f"onnxruntime runs {label}.onnx")
    if rc != 0:
        print(err)
        return
    print("     " + out.strip())
    predict = [nnc, "--predict", model, "-o", nnc_out]
    for a in args:
        predict += ["--input", a]
    rc, _, err = run(predict + extra_predict.get(label, []), cwd=root)
    check(rc == 0, f"nnc --predict {os.path.basename(model)}")
    if rc != 0:
        print(err)
        return
    x, y = np.load(ort_out), np.load(nnc_out)
    check(x.shape == y.shape, f"{label}: output shapes {list(x.shape)} (onnxruntime) and {list(y.shape)} (nnc)")
    if x.shape != y.shape:
        return
    diff = float(np.abs(x.astype(np.float64) - y).max())
    scale = float(np.abs(y).max())
    rel = diff / scale if scale > 0 else diff
    check(np.isfinite(y).all() and rel <= TOL,
          f"{label}: max |onnxruntime - nnc| = {diff:.3g}, max |nnc| = {scale:.4g}, relative {rel:.3g} <= {TOL:g}")
    return x


extra_predict = {}


def mnist_images(n):
    path = os.path.join(data, "mnist", "t10k-images-idx3-ubyte.gz")
    if not data or not os.path.isfile(path):
        skip("no MNIST in $NNC_DATA")
    with gzip.open(path, "rb") as f:
        raw = f.read(16 + 784 * n)
    px = np.frombuffer(raw[16:], dtype=np.uint8).astype(np.float32).reshape(n, 784) / 255.0
    return ((px - 0.1307) / 0.3081).astype(np.float32)  # standardised, as normalize: standard trains them


def names_of(m):
    return ([i.name for i in m.graph.input], [o.name for o in m.graph.output],
            sorted(t.name for t in m.graph.initializer if not t.name.startswith("%")))


def safetensors_names(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    return header


def case_mlp():
    tool_check()
    imgs = mnist_images(16)
    ck = os.path.join(tmp, "mlp.safetensors")
    rc, _, err = run([nnc, "--jit", "examples/mnist_mlp.nn", "--steps", "100", "--save", ck], cwd=root,
                     env=dict(os.environ, NNC_DATA=data))
    check(rc == 0, "nnc --jit examples/mnist_mlp.nn --steps 100 --save CK")
    if rc != 0:
        print(err)
        sys.exit(1)
    out = os.path.join(tmp, "mlp.onnx")
    m = export("examples/mnist_mlp.nn", out, "--load", ck)
    print(f"     mnist_mlp.onnx: {os.path.getsize(out)} bytes")
    ins, outs, params = names_of(m)
    header = safetensors_names(ck)
    want = sorted(k for k in header if k != "__metadata__" and k != "step" and not k.startswith("optimizer."))
    check(ins == ["image"] and outs == ["logits"], f"input and output names {ins} -> {outs}")
    check(params == want, f"initializers {params} are the checkpoint's parameters")
    dims = [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    check(dims == ["batch", 784], f"input shape {dims}: the batch axis symbolic")
    # the weights are the checkpoint's, bit for bit
    with open(ck, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        f.seek(8 + n)
        blob = f.read()
    same = True
    for t in m.graph.initializer:
        if t.name in header:
            lo, hi = header[t.name]["data_offsets"]
            ref = np.frombuffer(blob[lo:hi], dtype=np.float32).reshape(header[t.name]["shape"])
            same = same and np.array_equal(numpy_helper.to_array(t), ref)
    check(same, "initializer values equal the checkpoint's tensors exactly")
    extra_predict["mlp"] = ["--load", ck]
    compare("examples/mnist_mlp.nn", m, {"image": imgs}, "mlp")


def case_cnn():
    tool_check()
    imgs = mnist_images(8).reshape(8, 1, 28, 28)
    m = export("examples/mnist_cnn.nn", os.path.join(tmp, "cnn.onnx"))
    ins, outs, params = names_of(m)
    check(ins == ["image"] and outs == ["logits"], f"input and output names {ins} -> {outs}")
    check(params == sorted(["c1.weight", "c1.bias", "c2.weight", "c2.bias", "hidden.weight", "hidden.bias",
                            "logits.weight", "logits.bias"]), f"initializers {params}")
    compare("examples/mnist_cnn.nn", m, {"image": imgs}, "cnn")


def case_gpt():
    tool_check()
    path = os.path.join(data, "tinyshakespeare", "input.txt")
    if not data or not os.path.isfile(path):
        skip("no tinyshakespeare in $NNC_DATA")
    text = open(path, encoding="utf-8").read()
    vocab = sorted(set(text))
    ids = np.array([vocab.index(c) for c in text[:4 * 64 + 1000]], dtype=np.int32)
    windows = np.stack([ids[k * 250:k * 250 + 64] for k in range(4)])
    m = export("examples/shakespeare.nn", os.path.join(tmp, "gpt.onnx"))
    ins, outs, params = names_of(m)
    check(ins == ["text"] and outs == ["logits"], f"input and output names {ins} -> {outs}")
    check(m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT32
          and m.graph.input[0].doc_string == "token ids in [0, 65)", "text: int32 token ids in [0, 65)")
    check("blocks.3.attn.query.weight" in params and len(params) == 70, f"{len(params)} parameter initializers")
    compare("examples/shakespeare.nn", m, {"text": windows}, "gpt")
    # ids outside [0, 65): onnxruntime refuses them as nnc --predict does, -1 too (ONNX's
    # Gather alone counts it from the end and reads row 64 silently); the export makes a
    # negative id 65 first
    for bad in (-1, 65):
        w = windows.copy()
        w[1, 7] = bad
        path = os.path.join(tmp, f"gpt.bad{bad}.npy")
        np.save(path, w)
        rc, _, err = run(["node", os.path.join(root, "tests", "onnx", "ort_run.js"), ort_dir,
                          os.path.join(tmp, "gpt.onnx"), os.path.join(tmp, "gpt.bad.npy"), f"text={path}"])
        said = err.strip().splitlines()[-1] if err.strip() else ""
        check(rc == 1 and said.endswith("Status Message: indices element out of data bounds, idx=65 must be "
                                        "within the inclusive range [-65,64]"),
              f"id {bad}: onnxruntime refuses it (exit {rc}): {said}")


def case_primer():
    tool_check()
    m = export("examples/primer.nn", os.path.join(tmp, "primer.onnx"))
    w1 = [numpy_helper.to_array(t) for t in m.graph.initializer if t.name == "w1"]
    check(len(w1) == 1 and np.array_equal(w1[0], np.array([[0.8, -0.3], [-0.4, 0.6], [-1.0, 1.0]], np.float32)),
          "w1 is the typed-in [[0.8, -0.3], [-0.4, 0.6], [-1.0, 1.0]]")
    y = compare("examples/primer.nn", m, {"x": np.array([[1.5, -0.7]], np.float32)}, "primer")
    check(y is not None and abs(float(y[0, 0]) - 1.066) <= 1e-6, f"the primer's worked example: y = 1.066 "
          f"(onnxruntime: {float(y[0, 0]) if y is not None else None})")


# conv2d with stride, avg_pool, softmax with temperature, sigmoid, dropout; every layer
# of the language; broadcasting; each family of primitives; a GPT with tied weights;
# conv2d and max_pool channels last (patches, pool_max) with stride, padding, kernels 1-3;
# max pooling of negative values with padding (the padding must never win)
ZOO = ["tests/golden/ok/layers_zoo.nn", "tests/golden/ok/primitives_layers.nn", "tests/golden/ok/broadcasting.nn",
       "tests/grad/prims_elementwise.nn", "tests/grad/prims_layout.nn", "tests/grad/prims_reduce.nn",
       "tests/grad/tied_gpt.nn", "tests/grad/conv_layout.nn", "tests/onnx/pool_pad.nn", "tests/grad/axes.nn",
       "tests/golden/ok/softmax_axes.nn", "tests/grad/cross_attention.nn", "tests/grad/attention_mask.nn",
       "tests/grad/conv_rect.nn", "tests/grad/conv_seq.nn"]


def case_zoo():
    tool_check()
    for k, model in enumerate(ZOO):
        label = f"zoo{k}"
        m = export(model, os.path.join(tmp, label + ".onnx"))
        rs = np.random.RandomState(k)
        feeds = {}
        for i in m.graph.input:
            dims = [d.dim_value if d.dim_value else 3 for d in i.type.tensor_type.shape.dim]  # batch 3
            if i.type.tensor_type.elem_type == onnx.TensorProto.INT32:
                classes = int(i.doc_string.split("[0, ")[1].rstrip(")"))
                feeds[i.name] = rs.randint(0, classes, dims).astype(np.int32)
            else:
                feeds[i.name] = rs.randn(*dims).astype(np.float32)
        compare(model, m, feeds, label)


def case_checker():
    """Every example and the zoo exported and fully checked; no evaluation (the sanitizer build's case)."""
    models = sorted(os.path.join("examples", f) for f in os.listdir(os.path.join(root, "examples"))
                    if f.endswith(".nn"))
    for k, model in enumerate(models + ZOO):
        export(model, os.path.join(tmp, f"checked{k}.onnx"))


def case_errors():
    ck = os.path.join(tmp, "xor.safetensors")
    rc, _, err = run([nnc, "--jit", "examples/xor.nn", "--steps", "1", "--save", ck], cwd=root)
    check(rc == 0, "nnc --jit examples/xor.nn --steps 1 --save CK")
    out = os.path.join(tmp, "bad.onnx")
    rc, _, err = run([nnc, "--emit=onnx", "examples/primer.nn", "--load", ck, "-o", out], cwd=root)
    want = f"nnc: error: {ck}: no tensor 'w1'; is it a checkpoint of model 'primer'?\n"
    check(rc == 1 and err == want and not os.path.exists(out), f"a checkpoint of another model: {err.strip()}")
    wide = os.path.join(tmp, "xor3.nn")
    with open(os.path.join(root, "examples", "xor.nn")) as f:
        open(wide, "w").write(f.read().replace("dense(x, 2)", "dense(x, 3)").replace('"xor.csv"',
                                                                                       f'"{root}/examples/xor.csv"'))
    rc, _, err = run([nnc, "--emit=onnx", wide, "--load", ck, "-o", out])
    want = f"nnc: error: {ck}: tensor 'hidden.weight' is F32[2,2], but the model has F32[3,2]\n"
    check(rc == 1 and err == want and not os.path.exists(out), f"a tensor of another shape: {err.strip()}")
    extra = os.path.join(tmp, "extra.safetensors")  # a tensor xor has no place for: refused as --load refuses it
    rc, _, err = run(["/usr/bin/python3", os.path.join(root, "tests", "jit", "ckedit.py"), "add", ck, extra, "blocks.9.w"])
    check(rc == 0, f"ckedit.py add: {err.strip()}")
    rc, _, err = run([nnc, "--emit=onnx", "examples/xor.nn", "--load", extra, "-o", out], cwd=root)
    want = f"nnc: error: {extra}: 1 tensor that model 'xor' does not have, the first 'blocks.9.w'; is it a checkpoint of model 'xor'?\n"
    check(rc == 1 and err == want and not os.path.exists(out), f"a tensor the model does not have: {err.strip()}")
    rc, _, err = run([nnc, "--emit=onnx", "examples/xor.nn", "-o", "examples/xor.nn"], cwd=root)
    check(rc == 1 and err == "nnc: error: -o examples/xor.nn would overwrite the model file\n",
          f"-o the model file: {err.strip()}")
    nowhere = os.path.join(tmp, "no", "such", "x.onnx")
    rc, _, err = run([nnc, "--emit=onnx", "examples/xor.nn", "-o", nowhere], cwd=root)
    check(rc == 1 and err == f"nnc: error: cannot write '{nowhere}': No such file or directory\n",
          f"an unwritable path: {err.strip()}")
    rc, _, err = run([nnc, "--emit=onnx", "examples/xor.nn", "-o", tmp], cwd=root)
    check(rc == 1 and err == f"nnc: error: cannot write '{tmp}': it is a directory; give -o a file name in it\n",
          f"-o a directory: {err.strip()}")
    # over protobuf's 2 GiB: refused from the parameters' size before the file is built (which
    # took a minute and 6.4 GB), so within 1 GiB of address space; -o is checked first
    big = os.path.join(tmp, "big.nn")
    open(big, "w").write("model big {\n    input t: token(540000)[1]\n    e = embedding(t, 1000)\n"
                         "    output e\n}\n")
    big_out = os.path.join(tmp, "big.onnx")
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    # the sanitizer build reserves terabytes of shadow memory at start, past any such limit: there
    # the messages are checked without it
    if subprocess.run([nnc, "--version"], capture_output=True, preexec_fn=limit).returncode != 0:
        limit = None
    r = subprocess.run([nnc, "--emit=onnx", big, "-o", big_out], capture_output=True, text=True, preexec_fn=limit)
    check(r.returncode == 1 and r.stderr == f"nnc: error: '{big_out}' would be more than its parameters' 2160000000 "
          "bytes; an ONNX file holds at most 2 GiB (protobuf's limit), and nnc does not write external data\n"
          and not os.path.exists(big_out), f"a 2.16 GB export, refused early: {r.stderr.strip()}")
    r = subprocess.run([nnc, "--emit=onnx", big, "-o", nowhere], capture_output=True, text=True, preexec_fn=limit)
    check(r.returncode == 1 and r.stderr == f"nnc: error: cannot write '{nowhere}': No such file or directory\n",
          f"-o checked before the size: {r.stderr.strip()}")
    # -v counts the parameter tensors written: an unused dense's are left out
    unused = os.path.join(tmp, "unused.nn")
    open(unused, "w").write("model unused {\n    input x: f32[5]\n    a = dense(x, 3)\n    b = dense(x, 4)\n"
                            "    output a\n}\n")
    rc, _, err = run([nnc, "--emit=onnx", "-v", unused, "-o", out])
    check(rc == 0 and err.endswith(" bytes, opset 17, 2 parameter tensors\n"), f"-v, b unused: {err.strip()}")


def case_stdout():
    """nnc --emit=onnx -o - | a checker reading standard input: the pipe a user writes; and
    nnc --emit=onnx - (the model on standard input) writing MODEL.onnx."""
    pipe = (f"'{nnc}' --emit=onnx -v examples/mnist_mlp.nn -o - | /usr/bin/python3 -c "
            "'import onnx, sys; m = onnx.load_from_string(sys.stdin.buffer.read()); "
            "onnx.checker.check_model(m, full_check=True); print(len(m.graph.initializer), m.graph.output[0].name)'")
    r = subprocess.run(["bash", "-c", "set -o pipefail; " + pipe], capture_output=True, text=True, cwd=root)
    check(r.returncode == 0 and r.stdout == "4 logits\n",
          f"nnc --emit=onnx -o - | onnx.checker.check_model(full_check=True): {r.stdout.strip()} {r.stderr.strip()}")
    check(r.stderr.startswith("nnc: wrote standard output: ") and r.stderr.endswith(" bytes, opset 17, 4 parameter tensors\n"),
          f"-v says where it went: {r.stderr.strip()}")
    piped = subprocess.run([nnc, "--emit=onnx", "examples/mnist_mlp.nn", "-o", "-"], capture_output=True, cwd=root)
    path = os.path.join(tmp, "file.onnx")
    rc, _, _ = run([nnc, "--emit=onnx", "examples/mnist_mlp.nn", "-o", path], cwd=root)
    with open(path, "rb") as f:
        written = f.read()
    check(piped.returncode == 0 and rc == 0 and piped.stdout == written and piped.stderr == b"",
          f"standard output holds the {len(piped.stdout)} bytes -o FILE writes ({len(written)}), nothing on stderr")
    # a model read from standard input is written after its name, as a trainer is (aot.c and
    # onnx.c share nnc_output_stem): mnist_mlp.onnx, never "<stdin>.onnx"
    here = os.path.join(tmp, "stdin")
    os.mkdir(here)
    with open(os.path.join(root, "examples/mnist_mlp.nn"), "rb") as f:
        fed = subprocess.run([nnc, "--emit=onnx", "-"], stdin=f, capture_output=True, cwd=here)
    named = os.path.join(here, "mnist_mlp.onnx")
    size = os.path.getsize(named) if os.path.exists(named) else 0
    check(fed.returncode == 0 and os.listdir(here) == ["mnist_mlp.onnx"] and abs(size - len(written)) < 4096,
          f"nnc --emit=onnx - writes mnist_mlp.onnx ({size} bytes): {sorted(os.listdir(here))} {fed.stderr.strip()}")


{"mlp": case_mlp, "cnn": case_cnn, "gpt": case_gpt, "primer": case_primer, "zoo": case_zoo,
 "checker": case_checker, "errors": case_errors, "stdout": case_stdout}[case]()
subprocess.run(["rm", "-rf", tmp])
if failed:
    print(f"{len(failed)} check(s) failed")
    sys.exit(1)
