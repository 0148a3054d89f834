#!/usr/bin/python3
"""tutorial.py NNC ROOT DOC.md nodata|quick|data — every command of the tutorial is run.

docs/tutorial.md is checked like the other docs' dumps (doc_dumps.py: a ```text
block whose first line is `$ nnc ARGS` is a pasted run, `...` marks trimmed
parts, commands run in a scratch directory that links ROOT's entries), with
three differences:

- Training runs (--jit) are run too, in document order, in one scratch
  directory, so a checkpoint one command saves is there for the next.
- Timings are normalised on both sides: every number followed by ` s` or
  ` ms` (`0.13 s`, `471.6 ms`) compares as `N s`, and the values of the
  metrics' JSON keys `*seconds` and `examples_per_second` as `N`; in the
  metrics' header line, `started` (a date), `data` (where NNC_DATA is)
  and `threads` (the machine's cores) compare as `N` too, and so do the
  counts in -v's `(2 threads; 0 of the steps ran on one, timed faster;
  0 stalled, 0 of them paid)`.
  Everything else, losses and accuracies included, must be exactly as
  pasted: a seed gives the same numbers on any thread count (a change to
  the generated code's order of summation changes the last digits, and
  the blocks are then regenerated, see below).
- Commands that read a data set from NNC_DATA are run only in the `data`
  mode; all others only in the `nodata` mode. A command needs data when it
  trains (--jit) a program whose train block names a relative path (of any
  kind: mnist, csv, npz, text) that is not beside the program's file: the
  runtime looks a relative path up under the data root (NNC_DATA), then
  beside the model (runtime/run.c resolve), so MNIST and tinyshakespeare
  come from NNC_DATA, and examples/tutorial/xor.csv or tests/jit/abcd.txt
  from beside their programs, NNC_DATA or not.
  The `data` mode exits 77 (ctest's SKIP) when NNC_DATA does not hold MNIST
  and tinyshakespeare. The `quick` mode, for the sanitizer build, is
  `nodata` without the commands that train or load what training saved
  (--jit, --load): under ASan they cost most of the time, and the jit.*
  tests already take the runtime's paths.

docs/training.md's ```text blocks that train are checked the same way
(docs.training, the nodata mode: its Sampling example trains a text model
on tests/jit/abcd.txt, then samples from the checkpoint that run saved).

Also, an ```nn block whose first line is `# examples/tutorial/NAME.nn` must be
that file as it is, without the file's leading comment lines, and every
examples/tutorial/*.nn must be named in the tutorial.

Prints each stale block with the first line that no longer matches and the
whole output the command gave now, and each command's (and chapter's) wall
and CPU time; exit 1 if anything is stale.  With NNC_UPDATE_GOLDEN=1 a stale
block that has no `...` is rewritten with the new output instead (review the
diff: the prose around it quotes its numbers).
"""
import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from doc_dumps import blocks, missing_line, scratch  # noqa: E402

TIMING = re.compile(r"\b\d+(?:\.\d+)? m?s\b")
JSON_TIMING = re.compile(r'("(?:[a-z_]*seconds|examples_per_second)": )[-+0-9.e]+')
PACE = re.compile(r"\(\d+ threads; \d+ of the steps ran on one, timed faster"
                  r"(?: or with no other CPU idle, (?:1 probe|(?:[2-9]|\d\d+) probes) skipped)?; \d+ stalled, \d+ of them paid\)")
HEADER_MACHINE = re.compile(r'("(?:started|data)": )"[^"]*"|("threads": )\d+')


def normal(line):
    """A line with its timings replaced, so that only what is deterministic compares."""
    line = JSON_TIMING.sub(r"\1N", TIMING.sub("N s", line.rstrip()))
    line = PACE.sub("(N threads; N of the steps ran on one, timed faster; N stalled, N of them paid)", line)
    if line.startswith('{"nnc": '):
        line = HEADER_MACHINE.sub(lambda m: (m.group(1) or m.group(2)) + "N", line)
    return line


DATA_LINE = re.compile(r"^\s*data\s*=\s*[a-z]+\((.*)$", re.M)


def needs_data(root, argv):
    """True when the command trains a program whose data is not all beside it (then under NNC_DATA)."""
    if "--jit" not in argv:
        return False
    for arg in argv:
        program = os.path.join(root, arg)
        if arg.endswith(".nn") and os.path.exists(program):
            for args in DATA_LINE.findall(open(program, encoding="utf-8").read()):
                for path in re.findall(r'"([^"]*)"', args):
                    if not os.path.isabs(path) and not os.path.exists(os.path.join(os.path.dirname(program), path)):
                        return True
    return False


def chapters(path):
    """Line number -> the chapter heading it is under."""
    heading, at = "(preface)", {}
    for n, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if line.startswith("## "):
            heading = line[3:].strip()
        at[n] = heading
    return at


def program_blocks(root, path):
    """Stale ```nn blocks: those that name an examples/tutorial file but differ from it."""
    stale = 0
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"```nn\n(# (examples/tutorial/[A-Za-z0-9_]+\.nn)\n.*?)```", text, re.S):
        body, name = m.group(1), m.group(2)
        lineno = text.count("\n", 0, m.start()) + 2
        file = os.path.join(root, name)
        if not os.path.exists(file):
            print(f"{path}:{lineno}: the block shows {name}, which does not exist")
            stale += 1
            continue
        lines = open(file, encoding="utf-8").read().split("\n")
        while lines and lines[0].startswith("#"):
            lines.pop(0)
        want = "\n".join(lines).strip("\n")
        shown = "\n".join(body.split("\n")[1:]).strip("\n")
        if shown != want:
            bad = next((a for a, b in zip(shown.split("\n") + [""], want.split("\n") + [""]) if a != b), "")
            print(f"{path}:{lineno}: the block differs from {name} (after its leading comments), at:\n    {bad}")
            stale += 1
    folder = os.path.join(root, "examples", "tutorial")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".nn") and f"examples/tutorial/{name}" not in text:
            print(f"{path}: examples/tutorial/{name} is in no command or block of the tutorial")
            stale += 1
    return stale


def run_block(nnc, cwd, path, lineno, command, argv, body, updates):
    """(stale 0 or 1, (wall, cpu) seconds): run the command and compare its output with the block.

    With NNC_UPDATE_GOLDEN=1, a stale block without `...` gets the new output
    (added to updates as line number -> lines) instead of failing."""
    start, used = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    res = subprocess.run([nnc] + argv[1:], cwd=cwd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = (time.monotonic() - start,
               after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
    raw = [line.rstrip() for line in (res.stdout + res.stderr).rstrip("\n").split("\n")]
    if 'echo "exit status $?"' in command:
        raw = [line for line in raw if line] + [f"exit status {res.returncode}"]
    out = [normal(line) for line in raw]
    if os.environ.get("NNC_UPDATE_GOLDEN") == "1" and all(line.strip() != "..." for line in body) \
            and [normal(line) for line in body] != out:
        updates[lineno] = (len(body), raw)
        print(f"{path}:{lineno}: `{command}`: updated")
        return 0, seconds
    bad = missing_line(out, body, normal)
    if bad is not None:
        print(f"{path}:{lineno}: `{command}` no longer prints:\n    {bad}\n  it printed (exit status {res.returncode}):")
        for line in (res.stdout + res.stderr).rstrip("\n").split("\n"):
            print(f"    | {line}")
        return 1, seconds
    return 0, seconds


def data_present():
    root = os.environ.get("NNC_DATA", "")
    return bool(root) and os.path.isdir(os.path.join(root, "mnist")) and \
        os.path.isfile(os.path.join(root, "tinyshakespeare", "input.txt"))


def main(argv):
    if len(argv) != 5 or argv[4] not in ("nodata", "quick", "data"):
        print("usage: tutorial.py NNC ROOT DOC.md nodata|quick|data", file=sys.stderr)
        return 2
    nnc, root, path, mode = argv[1], os.path.abspath(argv[2]), argv[3], argv[4]
    if os.sep in nnc:   # the commands run in a scratch directory: `build/nnc` and `.` as the tutorial says
        nnc = os.path.abspath(nnc)
    if mode == "data" and not data_present():
        print("NNC_DATA does not hold mnist/ and tinyshakespeare/input.txt: the commands that train on them are skipped")
        return 77
    stale = count = other = 0
    per_chapter, updates = {}, {}
    heading = chapters(path)
    if mode != "data" and "examples/tutorial/" in open(path, encoding="utf-8").read():
        stale += program_blocks(root, path)   # the tutorial's programs (docs/training.md shows none)
    with tempfile.TemporaryDirectory() as tmp:
        scratch(root, path, tmp)
        for lineno, command, body in blocks(path):
            argv_ = shlex.split(command.split(";")[0])
            if needs_data(root, argv_) != (mode == "data") or \
                    (mode == "quick" and ("--jit" in argv_ or "--load" in argv_)):
                other += 1
                continue
            missing = [a for a in argv_ if a.endswith(".nn") and not os.path.exists(os.path.join(tmp, a))]
            if missing:
                print(f"{path}:{lineno}: `{command}` runs {', '.join(missing)}, which does not exist")
                stale += 1
                continue
            bad, seconds = run_block(nnc, tmp, path, lineno, command, argv_, body, updates)
            stale += bad
            count += 1
            chapter = heading.get(lineno, "?")
            wall, cpu = per_chapter.get(chapter, (0.0, 0.0))
            per_chapter[chapter] = (wall + seconds[0], cpu + seconds[1])
            print(f"{path}:{lineno}: {seconds[0]:6.2f} s ({seconds[1]:5.2f} s CPU)  {command}")
    if updates:
        lines = open(path, encoding="utf-8").read().split("\n")
        for lineno in sorted(updates, reverse=True):   # blocks() counts lines from 0
            length, new = updates[lineno]
            lines[lineno:lineno + length] = new
        open(path, "w", encoding="utf-8").write("\n".join(lines))
    for chapter, (wall, cpu) in per_chapter.items():
        print(f"  {wall:6.2f} s ({cpu:5.2f} s CPU)  {chapter}")
    print(f"{path}: {count} commands checked ({mode}), {stale} stale, {other} left to the other modes")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
