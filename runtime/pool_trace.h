/* pool_trace.h — a per-call trace of rt_parallel, for finding where a
 * second thread waits (bench/pool_trace.py reads it).  Built only with
 * `cmake -DNNC_POOL_TRACE=ON` (RT_POOL_TRACE); otherwise every hook below
 * is empty and pool.c's calls of them compile to nothing.
 *
 * With the option, a process run with NNC_POOL_TRACE=FILE records each
 * call of its first pool (the trainer's) and writes FILE at exit: a header
 * line with rt_parallel's address (so that the reader can relocate the
 * tasks' addresses against the binary's symbols), then one line a call. */
#ifndef NNC_POOL_TRACE_H
#define NNC_POOL_TRACE_H

#include <stdint.h>

#include "include/nnc_runtime.h"

/* How a call ran (the trace's last column, its number). */
typedef enum RtTraceKind {
    TRACE_THREADS, /* on the threads */
    TRACE_SOLO,    /* the caller alone, after a stall */
    TRACE_ONE,     /* one claim, the caller's: one thread, one item or serial mode */
    TRACE_KINDS    /* not a kind: how many there are, so a reader can check the column */
} RtTraceKind;

#ifdef RT_POOL_TRACE
void rt_trace_begin(const RtPool *p, RtTask task, int64_t n, int64_t claims, int sleepers, RtTraceKind kind);
void rt_trace_caller_done(const RtPool *p, int64_t caller_claims);
void rt_trace_end(const RtPool *p);
void rt_trace_worker_claim(const RtPool *p);
#else
static inline void rt_trace_begin(const RtPool *p, RtTask task, int64_t n, int64_t claims, int sleepers, RtTraceKind kind)
{
    (void)p, (void)task, (void)n, (void)claims, (void)sleepers, (void)kind;
}
static inline void rt_trace_caller_done(const RtPool *p, int64_t caller_claims) { (void)p, (void)caller_claims; }
static inline void rt_trace_end(const RtPool *p) { (void)p; }
static inline void rt_trace_worker_claim(const RtPool *p) { (void)p; }
#endif

#endif
