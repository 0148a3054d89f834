#!/usr/bin/python3 -B
"""bench/ctest_test_cpu.py BUILD OUT.tsv [JOBS [REGEX]] — every test of a
build tree (or those whose name REGEX finds) run as ctest runs it (its
command, environment and folder from `ctest --show-only=json-v1`), JOBS at a
time (default 1), longest COST first, each test's CPU seconds recorded: the
user + system time of its process and every descendant it waited for
(wait4's rusage), what ctest's own per-test times (wall clock, in
Testing/Temporary/LastTest.log) cannot tell on a shared machine.  Prints a
line per test as it ends and writes OUT.tsv (name, CPU s, wall s, ok / skip /
FAIL), longest first; a failed test's output goes to OUT.tsv.fail.NAME.
A whole run (no REGEX) runs the fixture cache.clean first, as ctest does; a
REGEX run leaves the build's test-cache alone (another run may be using it).
Set NNC_DATA, ASAN_OPTIONS and UBSAN_OPTIONS as scripts/test does.  What it
does not do: timeouts, fixtures other than cache.clean, RESOURCE_LOCK."""
import json, os, re, subprocess, sys, threading, time

build, out = sys.argv[1], sys.argv[2]
jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
rx = re.compile(sys.argv[4]) if len(sys.argv) > 4 else None
info = json.loads(subprocess.check_output(['ctest', '--test-dir', build, '--show-only=json-v1']))
tests = []
for t in info['tests']:
    props = {p['name']: p['value'] for p in t.get('properties', [])}
    env = dict(os.environ)
    for kv in props.get('ENVIRONMENT', []):
        k, v = kv.split('=', 1)
        env[k] = v
    for m in props.get('ENVIRONMENT_MODIFICATION', []):
        k, rest = m.split('=', 1)
        op, val = rest.split(':', 1)
        if op == 'string_prepend':
            env[k] = val + env.get(k, '')
        elif op == 'set':
            env[k] = val
        else:
            sys.exit(f'{t["name"]}: ENVIRONMENT_MODIFICATION {op} is not handled here')
    tests.append(dict(name=t['name'], cmd=t['command'], env=env, wd=props.get('WORKING_DIRECTORY', build),
                      cost=float(props.get('COST', 0)), pass_re=props.get('PASS_REGULAR_EXPRESSION'),
                      fail_re=props.get('FAIL_REGULAR_EXPRESSION'), skip=props.get('SKIP_RETURN_CODE')))
clean = [t for t in tests if t['name'] == 'cache.clean' and rx is None]
queue = sorted((t for t in tests if t['name'] != 'cache.clean' and (rx is None or rx.search(t['name']))),
               key=lambda t: -t['cost'])
lock = threading.Lock()
results = []


def run(t):
    start = time.time()
    p = subprocess.Popen(t['cmd'], env=t['env'], cwd=t['wd'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks = []
    reader = threading.Thread(target=lambda: chunks.append(p.stdout.read()))
    reader.start()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = rc = os.waitstatus_to_exitcode(status)
    reader.join()
    text = b''.join(chunks).decode('utf-8', 'replace')
    verdict = 'ok' if rc == 0 else 'FAIL'
    if t['skip'] is not None and rc == int(t['skip']):
        verdict = 'skip'
    if t['pass_re'] and not any(re.search(r, text) for r in t['pass_re']):
        verdict = 'FAIL'
    if t['fail_re'] and any(re.search(r, text) for r in t['fail_re']):
        verdict = 'FAIL'
    cpu, wall = usage.ru_utime + usage.ru_stime, time.time() - start
    with lock:
        results.append((t['name'], cpu, wall, verdict))
        print('%-40s %8.2f CPU-s %8.2f s %s' % (t['name'], cpu, wall, verdict), flush=True)
        if verdict == 'FAIL':
            with open(out + '.fail.' + t['name'], 'w') as f:
                f.write(text)


def worker():
    while True:
        with lock:
            if not queue:
                return
            t = queue.pop(0)
        run(t)


for t in clean:
    run(t)
threads = [threading.Thread(target=worker) for _ in range(jobs)]
for th in threads:
    th.start()
for th in threads:
    th.join()
with open(out, 'w') as f:
    for r in sorted(results, key=lambda r: -r[1]):
        f.write('%s\t%.2f\t%.2f\t%s\n' % r)
print('%d tests, %.1f CPU-s, %d failed' % (len(results), sum(r[1] for r in results),
                                          sum(r[3] == 'FAIL' for r in results)))
