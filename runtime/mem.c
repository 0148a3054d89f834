/* mem.c — how much memory this process may still take, and the check made
 * before a big allocation.
 *
 * Linux hands out address space it does not have (overcommit): a slab of
 * 70 GiB on a machine of 8 is "allocated", then zeroing it gets the process
 * killed by the OOM killer with no word said.  So what a run will need is
 * estimated first (the memory plan's slabs for the batch, a data file's
 * arrays from its size or header) and compared with the least of: the
 * machine's physical memory, what `ulimit -v` (RLIMIT_AS) and `ulimit -d`
 * (RLIMIT_DATA) leave beyond what the process holds already, and a cgroup's
 * memory.max beyond its memory.current.  What cannot fit is refused with
 * both numbers; what can is allocated as before (and may still fail: that
 * path stays checked).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_internal.h"

/* The first number in a file (a /proc or /sys value), or -1. */
static int64_t read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    long long v = -1;
    if (f) {
        if (fscanf(f, "%lld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* limit - used when a limit is set (not "infinity"), else INT64_MAX. */
static int64_t room(uint64_t limit, int64_t used)
{
    if (limit == (uint64_t)RLIM_INFINITY || limit > (uint64_t)INT64_MAX)
        return INT64_MAX;
    return (int64_t)limit > used ? (int64_t)limit - used : 0;
}

int64_t rt_memory_available(const char **limit)
{
    const char *why = "physical";
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    int64_t best = pages > 0 && page > 0 ? (int64_t)pages * page : INT64_MAX;
    /* what the process holds: /proc/self/statm's size and data, in pages */
    long long vm = 0, data = 0, skip;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lld %lld %lld %lld %lld %lld", &vm, &skip, &skip, &skip, &skip, &data) != 6)
            vm = data = 0;
        fclose(f);
    }
    struct rlimit r;
    int64_t x;
    if (getrlimit(RLIMIT_AS, &r) == 0 && (x = room(r.rlim_cur, vm * page)) < best)
        best = x, why = "ulimit -v";
    if (getrlimit(RLIMIT_DATA, &r) == 0 && (x = room(r.rlim_cur, data * page)) < best)
        best = x, why = "ulimit -d";
    int64_t cg_max = read_number("/sys/fs/cgroup/memory.max"), cg_used = read_number("/sys/fs/cgroup/memory.current");
    if (cg_max > 0 && (x = room((uint64_t)cg_max, cg_used > 0 ? cg_used : 0)) < best)
        best = x, why = "cgroup";
    /* A test hook: as if the process could take only this many bytes more.
     * Tests of the refusals use it where ulimit -v cannot serve (under ASan,
     * whose shadow memory no ulimit -v allows). */
    const char *test = getenv("NNC_TEST_MEMORY");
    char *end;
    if (test && *test && (x = (int64_t)strtoll(test, &end, 10)) >= 0 && *end == 0 && x < best)
        best = x, why = "NNC_TEST_MEMORY";
    if (limit)
        *limit = why;
    return best;
}

const char *rt_bytes_str(int64_t bytes, char *buf, size_t len)
{
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 6)
        v /= 1024, u++;
    if (u == 0)
        snprintf(buf, len, "%" PRId64 " bytes", bytes);
    else
        snprintf(buf, len, "%.1f %s", v, unit[u]);
    return buf;
}

int rt_memory_says(int64_t available, const char *limit, char *buf, size_t len)
{
    char n[32];
    rt_bytes_str(available, n, sizeof n);
    if (strcmp(limit, "physical") == 0)
        return snprintf(buf, len, "this machine has %s", n);
    if (strcmp(limit, "cgroup") == 0)
        return snprintf(buf, len, "the control group's memory.max leaves %s", n);
    return snprintf(buf, len, "%s leaves this process %s", limit, n);
}

int rt_memory_check(int64_t want, const char *detail, char *err, size_t errlen, const char *fmt, ...)
{
    const char *limit;
    int64_t have = rt_memory_available(&limit);
    if (want >= 0 && want <= have)
        return 0;
    char what[512], wanted[32], says[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    rt_memory_says(have, limit, says, sizeof says);
    /* want < 0: the size overflowed int64 on the way (a header's counts) */
    if (want < 0)
        return rt_fail(-1, err, errlen, "%s needs more than 8 EiB of memory; %s", what, says);
    return rt_fail(-1, err, errlen, "%s needs %s of memory%s%s%s; %s", what, rt_bytes_str(want, wanted, sizeof wanted),
                   detail ? " (" : "", detail ? detail : "", detail ? ")" : "", says);
}

int64_t rt_model_bytes(const RtModel *m, int64_t batch)
{
    int64_t total = 0;
    for (int s = RT_SLAB_INPUT; s <= RT_SLAB_ACT; s++)
        total += (int64_t)rt_slab_size(m, s, batch);
    return total;
}

/* Whether any entry of m keeps something in the state slab (optimizer
 * state, the step counter): a forward-only model (--predict's) keeps
 * nothing, and its slab is padding alone. */
static bool has_state(const RtModel *m)
{
    const RtEntry *entries[3] = {&m->train, &m->eval, &m->predict};
    for (int e = 0; e < 3; e++)
        if (entries[e]->slab_bytes[RT_SLAB_STATE].fixed || entries[e]->slab_bytes[RT_SLAB_STATE].per_example)
            return true;
    return false;
}

const char *rt_model_bytes_detail(const RtModel *m, int64_t batch, char *buf, size_t len)
{
    char a[32], p[32], st[32];
    int64_t act = (int64_t)(rt_slab_size(m, RT_SLAB_ACT, batch) + rt_slab_size(m, RT_SLAB_INPUT, batch));
    int n = snprintf(buf, len, "activations and inputs %s, parameters %s", rt_bytes_str(act, a, sizeof a),
                     rt_bytes_str((int64_t)rt_slab_size(m, RT_SLAB_PARAM, batch), p, sizeof p));
    if (has_state(m) && n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, ", optimizer state %s",
                 rt_bytes_str((int64_t)rt_slab_size(m, RT_SLAB_STATE, batch), st, sizeof st));
    return buf;
}

int64_t rt_model_max_batch(const RtModel *m, int64_t have)
{
    /* slabs are never smaller than the plan's batch (its floor): the same
     * model planned for a batch of one, so that smaller batches count */
    RtModel one = *m;
    one.batch = 1;
    int64_t lo = 0, hi = RT_MAX_BATCH;  /* rt_model_bytes grows with the batch */
    /* no batch above have / (an example's bytes) fits: nor do sums overflow below it */
    const RtEntry *entries[3] = {&m->train, &m->eval, &m->predict};
    for (int e = 0; e < 3; e++)
        for (int s = 0; s < 5; s++) {
            int64_t per = entries[e]->slab_bytes[s].per_example;
            if (per > 0 && have / per < hi)
                hi = have / per;
        }
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (rt_model_bytes(&one, mid) <= have)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

int rt_file_check(const char *path, int64_t per_byte, const char *what, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;  /* the reader says what is wrong with it */
    int64_t n = (int64_t)st.st_size;
    char size[32];
    return rt_memory_check(n > INT64_MAX / per_byte ? -1 : n * per_byte, NULL, err, errlen, "%s (%s; %s)", path,
                           rt_bytes_str(n, size, sizeof size), what);
}
