/* pool_trace.c — rt_parallel's per-call trace (see pool_trace.h); empty
 * unless built with RT_POOL_TRACE. */
#include "pool_trace.h"

#ifdef RT_POOL_TRACE
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "rt_internal.h"

typedef struct Call {
    RtTask  task;
    int64_t n, claims, caller_claims;
    double  start, caller_done, end;  /* seconds (rt_now) */
    int64_t worker_first_ns;          /* a worker's first claim, ns after start; -1: none */
    int     sleepers;
    RtTraceKind kind;                 /* how the call ran */
} Call;

static const RtPool *traced;  /* the first pool that called: the caller's thread alone writes below */
static Call *calls;
static size_t ncalls, cap;
static atomic_int_fast64_t worker_first = -1;
static const char *path;

static void write_trace(void)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "# rt_parallel %p\n# task n claims caller_claims start_us caller_done_us end_us worker_first_us sleepers kind\n",
            (void *)rt_parallel);
    double t0 = ncalls ? calls[0].start : 0;
    for (size_t i = 0; i < ncalls; i++) {
        const Call *c = &calls[i];
        fprintf(f, "%p %lld %lld %lld %.3f %.3f %.3f %.3f %d %d\n", (void *)c->task, (long long)c->n, (long long)c->claims,
                (long long)c->caller_claims, (c->start - t0) * 1e6, (c->caller_done - t0) * 1e6, (c->end - t0) * 1e6,
                c->worker_first_ns < 0 ? -1.0 : c->worker_first_ns / 1e3, c->sleepers, (int)c->kind);
    }
    fclose(f);
}

static bool looked;     /* NNC_POOL_TRACE read: once, not at every call */
static bool recording;  /* the last call begun has its record (none when memory ran out) */

static bool tracing(const RtPool *p)
{
    if (!traced) {
        if (looked)
            return false;
        looked = true;
        if (!(path = getenv("NNC_POOL_TRACE")) || !*path)
            return false;
        traced = p;
        atexit(write_trace);
    }
    return p == traced;
}

void rt_trace_begin(const RtPool *p, RtTask task, int64_t n, int64_t claims, int sleepers, RtTraceKind kind)
{
    recording = false;
    if (!tracing(p))
        return;
    if (ncalls == cap) {
        size_t want = cap ? 2 * cap : 1 << 16;
        Call *grown = realloc(calls, want * sizeof *grown);
        if (!grown)
            return;
        calls = grown, cap = want;
    }
    double now = rt_now();
    /* the caller's claims: rt_trace_caller_done's count on the threads (-1 until then), all of them alone */
    calls[ncalls] = (Call){task, n, claims, kind == TRACE_THREADS ? -1 : claims, now, now, now, -1, sleepers, kind};
    recording = true;
    atomic_store_explicit(&worker_first, -1, memory_order_relaxed);
    ncalls++;
}

/* The last call begun, if it is being recorded. */
static Call *current(const RtPool *p) { return p == traced && recording ? &calls[ncalls - 1] : NULL; }

void rt_trace_caller_done(const RtPool *p, int64_t caller_claims)
{
    Call *c = current(p);
    if (c) {
        c->caller_done = rt_now();
        c->caller_claims = caller_claims;
    }
}

void rt_trace_end(const RtPool *p)
{
    Call *c = current(p);
    if (!c)
        return;
    c->end = rt_now();
    c->worker_first_ns = atomic_load_explicit(&worker_first, memory_order_relaxed);
}

/* On a worker, as it starts a claim: the first claim's time after the call's start. */
void rt_trace_worker_claim(const RtPool *p)
{
    Call *c = current(p);
    if (!c || atomic_load_explicit(&worker_first, memory_order_relaxed) >= 0)  /* not the first: no clock read */
        return;
    int_fast64_t none = -1, ns = (int_fast64_t)((rt_now() - c->start) * 1e9);
    atomic_compare_exchange_strong_explicit(&worker_first, &none, ns, memory_order_relaxed, memory_order_relaxed);
}
#endif
