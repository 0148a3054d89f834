#!/usr/bin/python3
"""doc_dumps.py NNC ROOT DOC.md... — the dumps pasted in the docs are still what nnc prints.

Every fenced ```text block whose first line is `$ nnc ARGS` is a pasted run: the
command is run again, and the block's other lines must appear in its output
(stdout then stderr) as the block shows them.  Lines that are exactly `...`
mark trimmed parts: the pieces between them must each appear as consecutive
lines, in order; the block need not start or end where the output does.

Commands run in a scratch directory that links ROOT's top-level entries
(examples/, tests/, ...) and holds the programs the document defines: an
```nn or ```nn-error block whose first line is a comment `# NAME.nn ...`, or
that follows a paragraph ending in "`NAME.nn`:", is the file NAME.nn.  A
command that trains (--jit) is left out and counted as such; one that names
a program the document does not define fails, like a stale block.  A command may end in `; echo "exit status $?"`: the
block then shows that line last.

Prints each stale block with the first line that no longer matches; exit 1
if any is stale.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile


def programs(text):
    """NAME.nn -> source, for the programs the document defines."""
    found = {}
    pattern = re.compile(r"(?:^|\n)([^\n]*)\n\n```(?:nn|nn-error)\n(.*?)\n```", re.S)
    for m in pattern.finditer(text):
        before, body = m.group(1), m.group(2)
        named = re.match(r"# ([A-Za-z0-9_]+\.nn)\b", body)
        if not named:
            named = re.search(r"`([A-Za-z0-9_]+\.nn)`:$", before)
        if named:
            found[named.group(1)] = body + "\n"
    return found


def blocks(path):
    """(line number, command, lines) for each ```text block starting with $ nnc."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```text" and i + 1 < len(lines) and lines[i + 1].startswith("$ nnc "):
            start, body = i + 2, []
            j = i + 2
            while j < len(lines) and lines[j].strip() != "```":
                body.append(lines[j])
                j += 1
            yield start, lines[i + 1][2:], body
            i = j
        i += 1


def pieces(body):
    """The block split at `...` lines into runs of consecutive lines."""
    run = []
    for line in body:
        if line.strip() == "...":
            if run:
                yield run
            run = []
        else:
            run.append(line.rstrip())
    if run:
        yield run


def find(out, run, start):
    """Index in out, at or after start, where run appears as consecutive lines."""
    for k in range(start, len(out) - len(run) + 1):
        if out[k : k + len(run)] == run:
            return k
    return -1


def scratch(root, path, tmp):
    """A directory with ROOT's entries linked and the document's programs."""
    for entry in os.listdir(root):
        os.symlink(os.path.join(root, entry), os.path.join(tmp, entry))
    for name, source in programs(open(path, encoding="utf-8").read()).items():
        with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
            f.write(source)


def check(nnc, root, path):
    stale = count = left_out = 0
    with tempfile.TemporaryDirectory() as tmp:
        scratch(root, path, tmp)
        for lineno, command, body in blocks(path):
            argv = shlex.split(command.split(";")[0])
            files = [a for a in argv if a.endswith(".nn")]
            if "--jit" in argv:   # trains: times and data differ from run to run
                left_out += 1
                continue
            missing = [f for f in files if not os.path.exists(os.path.join(tmp, f))]
            if missing:
                print(f"{path}:{lineno}: `{command}` runs {', '.join(missing)}, which the document does not define "
                      "(name it: a `NAME.nn`: line before its block, or # NAME.nn inside)")
                stale += 1
                continue
            count += 1
            stale += stale_block(nnc, tmp, path, lineno, command, argv, body)
    print(f"{path}: {count} dumps checked, {stale} stale, {left_out} left out")
    return stale


def stale_block(nnc, cwd, path, lineno, command, argv, body):
    """0 when the block is still what the command prints, else 1 (and says why)."""
    res = subprocess.run([nnc] + argv[1:], cwd=cwd, capture_output=True, text=True)
    out = [line.rstrip() for line in (res.stdout + res.stderr).split("\n")]
    if 'echo "exit status $?"' in command:
        out = [line for line in out if line] + [f"exit status {res.returncode}"]
    bad = missing_line(out, body)
    if bad is not None:
        print(f"{path}:{lineno}: `{command}` no longer prints:\n    {bad}")
        return 1
    return 0


def missing_line(out, body, normal=lambda line: line):
    """None when every run of the block (split at `...`) is in out, in order;
    else the line of the first run that breaks it.  normal() is applied to
    the block's lines (out is given normalised already)."""
    at = 0
    for run in pieces(body):
        run = [normal(line) for line in run]
        k = find(out, run, at)
        if k < 0:
            first, bad = find(out, run[:1], at), run[0]
            if first >= 0:
                bad = next((line for n, line in enumerate(run)
                            if first + n >= len(out) or out[first + n] != line), bad)
            return bad
        at = k + len(run)
    return None


def main(argv):
    if len(argv) < 4:
        print("usage: doc_dumps.py NNC ROOT DOC.md...", file=sys.stderr)
        return 2
    nnc, root = argv[1], argv[2]
    return 1 if sum(check(nnc, root, p) for p in argv[3:]) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
