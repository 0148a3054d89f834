/* pool.c — the thread pool behind rt_parallel; see nnc_runtime.h.
 *
 * A pool of T threads is T - 1 workers started once plus the caller of
 * rt_parallel.  Worker w always runs chunk w; the caller runs chunk T - 1.
 * One call is one generation:
 *
 *   caller                                  worker w
 *   task, arg, n = ...; remaining = T - 1
 *   generation++ (release) ---------------> sees generation move (acquire)
 *   runs chunk T - 1                         runs chunk w
 *   waits for remaining == 0 (acquire) <--- remaining-- (acq_rel)
 *
 * Both sides spin for a few tens of microseconds before sleeping on a
 * condition variable.  rt_parallel comes in bursts (about ten calls per
 * training step with a little serial work between them) and waking a
 * sleeping thread costs a futex call and a scheduler round trip; spinning
 * first keeps a call to a couple of microseconds while the pool is busy,
 * and sleeping after keeps an idle pool off the CPU.  A pool with more
 * threads than the CPUs the process may run on does not spin at all: a
 * spinning thread would hold a CPU that a thread with work is waiting for.
 * Every change of generation and the last worker's finishing happen under
 * the mutex too, so a thread that decides to sleep cannot miss its wake-up.
 *
 * Memory ordering — what a task may rely on:
 *   - everything the caller wrote before rt_parallel is visible to every
 *     chunk (the release increment of generation, read with acquire);
 *   - everything a chunk wrote is visible to the caller once rt_parallel
 *     returns (each worker's acq_rel decrement of remaining is part of one
 *     release sequence, and the caller's acquire load that reads 0
 *     synchronises with all of them; or the mutex, when the caller slept);
 * so tasks need no atomics or fences of their own as long as no two chunks
 * write the same memory.  Chunks of one call run concurrently: they must
 * not depend on each other.
 *
 * Not supported: two threads calling rt_parallel on one pool at the same
 * time, and calling rt_parallel on a pool from inside one of its tasks
 * (the worker would wait for itself).
 */
#define _GNU_SOURCE  /* sched_getaffinity, CPU_COUNT */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "include/nnc_runtime.h"
#include "rt_internal.h"

/* Rounds of the pause instruction before a wait goes to sleep: some tens of
 * microseconds (a pause is 10-150 cycles depending on the CPU). */
enum { SPINS = 2000 };

typedef struct Worker {
    RtPool   *pool;
    int       index;   /* the chunk this worker runs */
    pthread_t thread;
} Worker;

struct RtPool {
    int             threads;   /* T: the workers and the caller */
    int             spins;     /* SPINS, or 0 when T exceeds the CPUs */
    Worker         *workers;   /* [T - 1] */
    pthread_mutex_t mu;        /* held to sleep on wake or done, and to signal them */
    pthread_cond_t  wake;      /* generation moved */
    pthread_cond_t  done;      /* remaining reached 0 */
    atomic_uint_fast64_t generation;  /* one more per call, and one for rt_pool_destroy */
    atomic_int      remaining;        /* workers not yet done with this generation */
    /* The call in flight: written by the caller before it moves generation,
     * read by the workers after they see it move. */
    RtTask          task;
    void           *arg;
    int64_t         n;
    bool            stop;      /* set with the last generation: workers return */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The start of chunk t of T over [0, n): floor(t·n / T) without overflow,
 * as t·(n / T) + t·(n % T) / T. */
static int64_t chunk_start(int64_t n, int T, int t)
{
    return t * (n / T) + t * (n % T) / T;
}

/* Waits until generation differs from seen and returns it. */
static uint64_t wait_generation(RtPool *p, uint64_t seen)
{
    uint64_t g;
    for (int i = 0; i < p->spins; i++) {
        if ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) != seen)
            return g;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen)
        pthread_cond_wait(&p->wake, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void wait_done(RtPool *p)
{
    for (int i = 0; i < p->spins; i++) {
        if (atomic_load_explicit(&p->remaining, memory_order_acquire) == 0)
            return;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->remaining, memory_order_acquire) != 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* Moves generation on and wakes any worker asleep on it. */
static void start_generation(RtPool *p)
{
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

static void *worker_main(void *v)
{
    Worker *w = v;
    RtPool *p = w->pool;
    /* A worker cannot miss a generation: the next one starts only after
     * every worker has finished this one. */
    uint64_t seen = 0;
    for (;;) {
        seen = wait_generation(p, seen);
        if (p->stop)
            return NULL;
        int64_t begin = chunk_start(p->n, p->threads, w->index), end = chunk_start(p->n, p->threads, w->index + 1);
        if (begin < end)
            p->task(p->arg, begin, end);
        if (atomic_fetch_sub_explicit(&p->remaining, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* Stops and joins the first `started` workers and frees p. */
static void shut_down(RtPool *p, int started)
{
    p->stop = true;
    start_generation(p);
    for (int i = 0; i < started; i++)
        pthread_join(p->workers[i].thread, NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p);
}

/* The CPUs this process may run on (its affinity mask, which containers
 * and taskset narrow), at least 1. */
static int usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* threads < 1 counts as 1.  NULL when memory or threads run out (and
 * rt_parallel(NULL, ...) still works, on the caller alone). */
RtPool *rt_pool_create(int threads)
{
    if (threads < 1)
        threads = 1;
    RtPool *p = rt_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = threads;
    p->spins = threads <= usable_cpus() ? SPINS : 0;
    p->workers = rt_calloc((size_t)threads, sizeof *p->workers);  /* one spare: never calloc(0) */
    if (!p->workers) {
        free(p);
        return NULL;
    }
    atomic_init(&p->generation, 0);
    atomic_init(&p->remaining, 0);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p->workers);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->wake, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p->workers);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->done, NULL) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        free(p->workers);
        free(p);
        return NULL;
    }
    for (int i = 0; i < threads - 1; i++) {
        p->workers[i] = (Worker){.pool = p, .index = i};
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
            shut_down(p, i);
            return NULL;
        }
    }
    return p;
}

void rt_pool_destroy(RtPool *p)
{
    if (p)
        shut_down(p, p->threads - 1);
}

int rt_pool_threads(const RtPool *p) { return p ? p->threads : 1; }

void rt_parallel(RtPool *p, int64_t n, RtTask task, void *arg)
{
    if (n <= 0)
        return;
    int T = rt_pool_threads(p);
    int64_t last = chunk_start(n, T, T - 1);
    /* Only the caller's chunk has work (one thread, or n so small that the
     * earlier chunks are all empty): no need to wake anyone. */
    if (last == 0) {
        task(arg, 0, n);
        return;
    }
    /* The workers read these only after the release in start_generation,
     * and finished reading the previous call's before wait_done returned. */
    p->task = task;
    p->arg = arg;
    p->n = n;
    atomic_store_explicit(&p->remaining, T - 1, memory_order_relaxed);
    start_generation(p);
    task(arg, last, n);
    wait_done(p);
}
