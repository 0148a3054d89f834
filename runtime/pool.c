/* pool.c — the thread pool behind rt_parallel, and the threads' scratch
 * memory; see nnc_runtime.h.
 *
 * A pool of T threads is T - 1 workers started once plus the caller of
 * rt_parallel.  A call over [0, n) is cut into C claims, contiguous ranges
 * fixed by n, C and T alone (claim_start), with C = n for small n and about
 * CLAIMS_PER_THREAD per thread above that.  The claims fall into T segments,
 * one a thread (the caller's is the first, worker w's the (w + 1)-th), each
 * over about n / T items, its claims shorter towards its end.  Each thread
 * takes the claims of its own segment from the front, and when none is left
 * there, those of the other segments from the back, until none is left:
 *
 *   caller                                   worker w
 *   task, arg, n, C = ...; finished = 0
 *   each segment's counter = its claims
 *     (release) -----------------------------> (spinning, or woken)
 *   generation++                              sees generation move
 *   claims while any are left; after 20 us,   claims while any are left (CAS, acq_rel)
 *     wakes sleeping workers if any left      runs the claim
 *   waits for finished == C (acquire) <------ finished++ (acq_rel)
 *
 * Why segments: a kernel's items are rows (or blocks of them), and the next
 * kernel mostly reads the rows the previous one wrote.  When whoever came
 * first took the next claim, the rows a thread wrote in one call went to
 * either thread in the next, and half of a kernel's reads were of lines
 * the other CPU had written.  Where the two CPUs share an L3 that costs
 * little; where they do not (the host of a VM moves its vCPUs, bench/
 * README "Session 34"), each such line leaves the other L3 first.  With a
 * segment a thread, each thread keeps about the same rows from call to
 * call as long as the threads keep pace: the GPT's two-thread step took
 * 0.93 of the time of the first-come claims on two L3s (medians of 10
 * runs each), the same on one L3 (25 runs), and the MNIST MLP's and CNN's
 * the same on one L3 (bench/README, session 36).  A thread that runs out
 * of its own claims takes the others' from their ends, where they are
 * shortest, so threads that start together still end close together.
 * One that starts late starts on its segment's front, its longest claim,
 * while the others wait having taken the short ones from its back: on two
 * threads, with 4 claims a segment, a worker that arrives when 0.7 of the
 * items are done leaves the caller waiting for about 0.11 of them at worst,
 * against 0.02 with first-come claims (a simulation, not measured; the
 * busy-machine runs of contention.py, bench/README session 36, lost
 * nothing to it).
 *
 * Why claims and not "worker w runs chunk w": on a busy machine a worker may
 * not get a CPU for milliseconds, and with a fixed split every call waited
 * for it (the MNIST MLP took 5.6 times longer on 2 threads than on 1 beside
 * a competing process).  Now the caller never waits for a worker that has
 * not started: it takes the claims nobody took, its own segment's and then
 * the others', and then waits only for claims that running workers took.
 * A worker that wakes late finds no claim left and goes back to waiting.
 * Which thread runs a claim changes nothing in the results: the claims are
 * the same ranges whoever runs them, and the kernels compute every output
 * element within one item, in a fixed order.
 *
 * A segment's counter (claims taken from its front, claims left) only
 * counts down what is left, and only while the call is in flight: the
 * caller does not return, and so does not start the next call, before every
 * claim is finished.  A worker that saw a claim left and then succeeded in
 * taking it therefore holds a claim of the call in flight, whichever
 * generation woke it, and reads task, arg, n and C after its acquire; the
 * caller writes them for the next call only after every claim's release
 * increment of `finished`.
 *
 * Waiting: both sides spin for a few tens of microseconds before sleeping
 * on a condition variable (a sleeping worker is woken only for a call that
 * is worth it: WAKE_AFTER, or at once for a call of a task over an n whose
 * claims took that long the last time: LONG_TASKS; a caller that keeps
 * waiting for stalled workers goes solo for a while: SOLO_CALLS, and its
 * waits add up in rt_pool_stalled, which the training loop's chooser
 * reads: pace.c; rt_parallel_awake wakes nobody: the runtime's own short
 * work between the generated code's calls).  rt_parallel comes in bursts
 * (tens of calls per training step with a little serial work between
 * them) and waking a sleeping thread costs a futex call and a scheduler
 * round trip.  A pool with more threads than the CPUs the process may run
 * on does not spin: a spinning thread would hold a CPU that a thread with
 * work is waiting for.
 * A worker about to sleep counts itself in `sleepers` before it reads the
 * generation one last time, and the caller moves the generation before it
 * reads `sleepers` (all seq_cst): either the caller sees the sleeper and
 * wakes it under the mutex, or the worker sees the new generation.  The
 * last claim's finishing on a worker signals `done` under the mutex, so a
 * caller that decides to sleep cannot miss it.
 *
 * Memory ordering — what a task may rely on:
 *   - everything the caller wrote before rt_parallel is visible to every
 *     claim (the release stores of the segments' counters, and the CASes
 *     that continue their release sequences, read with acquire);
 *   - everything a claim wrote is visible to the caller once rt_parallel
 *     returns (the acq_rel increments of `finished` form one release
 *     sequence, and the caller's acquire load that reads C synchronises
 *     with all of them; or the mutex, when the caller slept);
 * so tasks need no atomics or fences of their own as long as no two items
 * write the same memory.  Claims of one call may run concurrently: they
 * must not depend on each other.
 *
 * Scratch memory: every worker, and the caller, has an arena that generated
 * code asks for with rt_task_scratch (the matmul's packing buffers): kept
 * between calls, grown when a kernel asks for more, freed with the pool.
 * Its contents last one call: a header holds the number of the call that
 * wrote it.  The caller alone also has kept regions (rt_kept_scratch), one
 * per weight a library's forward keeps packed (a parameter's offset in the
 * param slab and its packing's size name it), owned by the pool and freed
 * with it; their contents last while the instance's weights' version
 * (RtCtx.weights) does, which their header holds.  Workers never see them:
 * on a worker rt_kept_scratch is rt_task_scratch.
 *
 * Not supported: two threads calling rt_parallel on one pool at the same
 * time, and calling rt_parallel on a pool from inside one of its tasks.
 */
#define _GNU_SOURCE  /* sched_getaffinity, CPU_COUNT */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "include/nnc_runtime.h"
#include "pool_trace.h"
#include "rt_internal.h"

/* Rounds of the pause instruction before a wait goes to sleep: some tens of
 * microseconds (a pause is 10-150 cycles depending on the CPU). */
enum { SPINS = 2000 };

/* Claims per thread for a large call: enough that a thread that stalls
 * mid-call holds back little (the others take the rest; a segment's first
 * claims are its longest, claim_start: on two threads each thread's first
 * claim holds 7/32 of the items and its second 5/32), few enough that a claim's
 * fixed cost (an atomic, the matmul's packing of its rows) stays small
 * against its work.  A call of C = CLAIMS_PER_THREAD · T claims has as many
 * in each segment. */
enum { CLAIMS_PER_THREAD = 4 };

/* After a call in which the caller, done with its own claims, waited for a
 * worker longer than its whole share of the work took (the worker was
 * descheduled holding a claim: on a busy machine that is milliseconds),
 * the next SOLO_CALLS calls run on the caller alone; each such wait in a row
 * doubles that, up to SOLO_MAX, and a call without one starts over.  On a
 * machine with idle CPUs the waits never come and every call is parallel;
 * on one where the workers keep losing their CPUs the pool works as one
 * thread most of the time, so the default is not slower than --threads 1. */
enum { SOLO_CALLS = 16, SOLO_MAX = 4096 };

/* Workers that are spinning see a call start and join it at no cost; one
 * that sleeps costs a futex call to wake and then a scheduler round trip
 * before it runs (and on a CPU shared with the caller it takes the caller's
 * place).  So the caller wakes sleepers only once its own claims have taken
 * WAKE_AFTER and claims are still left: a small call runs on whoever is
 * awake, a large one on every thread.  Seconds. */
#define WAKE_AFTER 20e-6

/* Which tasks to wake sleepers for at the start of a call, not WAKE_AFTER
 * into it: the caller checks the clock only between its claims, so in a
 * call of long claims it woke the worker after its first claim (an eighth
 * of the call on two threads then; 7/32 since claims shrink towards each
 * segment's end, claim_start), and the worker, a futex call and a scheduler
 * round trip later, joined for less than the rest (the GPT's step on two
 * threads: the worker ran 0.34 of the kernels' samples on a quiet machine,
 * session 26, and 0.41-0.44 of the claims in a quiet spell of a shared one;
 * beside other work 95% of its calls found the worker asleep).
 * A call whose caller's first claim took WAKE_AFTER is remembered here,
 * by its task's address and its n (a kernel called at another batch, the
 * short last one or evaluation's, has claims of another length: an entry
 * of its own), in a direct-mapped table (a call that loses its slot to
 * another goes back to waking after its first claim), and the next call of
 * the same task over the same n wakes sleepers before the caller's first
 * claim.  The same wakes as before, earlier: none is added for a small call. */
enum { LONG_TASKS = 1024 };

typedef struct LongTask {
    RtTask  task;  /* NULL: an empty slot */
    int64_t n;
} LongTask;

static size_t task_slot(RtTask task, int64_t n)
{
    uintptr_t a = (uintptr_t)task ^ (uintptr_t)n * 0x9E3779B97F4A7C15u;  /* n's bits spread over the word */
    return (size_t)((a >> 4) ^ (a >> 14)) % LONG_TASKS;
}

/* A segment's counter, on a cache line of its own (its thread CASes it at
 * every claim): claims taken from its front in the high 32 bits, claims
 * left in the low 32 (C ≤ 2^15: shrinking_start's assertion). */
typedef struct Segment {
    _Alignas(64) atomic_int_fast64_t span;
} Segment;

enum { SPAN_SHIFT = 32 };
#define SPAN_LEFT(v) ((v) & 0xffffffff)

/* One thread's scratch memory: 64-byte aligned, zero when new. */
typedef struct Arena {
    void  *mem;
    size_t cap;
} Arena;

/* One region of rt_kept_scratch: a weight's packing, kept across calls. */
typedef struct Kept {
    int64_t at;     /* the weight's byte offset in the param slab */
    int64_t bytes;  /* what its product asked for (its packing's layout) */
    Arena   mem;
} Kept;

typedef struct Worker {
    RtPool   *pool;
    int       index;
    pthread_t thread;
    Arena     scratch;
    uint64_t  call;      /* the call of the claim it runs (rt_task_scratch's number) */
    atomic_int delay_us; /* test hook: sleep this long after waking, before claiming */
    atomic_int_fast64_t claims;  /* claims it ran (rt_pool_claims; written by it alone) */
} Worker;

struct RtPool {
    int             threads;   /* T: the workers and the caller */
    int             spins;     /* SPINS, or 0 when T exceeds the CPUs */
    Worker         *workers;   /* [T - 1] */
    Arena           scratch;   /* the caller's */
    Kept           *kept;      /* [nkept]: the caller's regions of rt_kept_scratch */
    int64_t         nkept;
    int64_t         kept_next; /* where kept_region's next search starts */
    int64_t         kept_bytes;/* their sum, at most KEPT_MOST */
    pthread_mutex_t mu;        /* held to sleep on wake or done, and to signal them */
    pthread_cond_t  wake;      /* generation moved */
    pthread_cond_t  done;      /* finished reached claims */
    atomic_uint_fast64_t generation;  /* one more per call, and one for rt_pool_destroy */
    Segment        *seg;              /* [T]: the call in flight's claims nobody has taken */
    atomic_int_fast64_t  finished;    /* claims of the call in flight that are done */
    /* The call in flight: written by the caller before the segments'
     * release stores, read by the workers after a successful claim. */
    RtTask          task;
    void           *arg;
    int64_t         n;
    int64_t         claims;
    uint64_t        call;      /* numbers calls for rt_task_scratch; never 0 */
    bool            in_call;   /* the caller is inside rt_parallel (only it reads this) */
    int             solo_left; /* calls still to run on the caller alone (see SOLO_CALLS) */
    int             solo_next; /* how many the next stall sets it to */
    bool            serial;    /* rt_pool_set_serial: every call on the caller, as one claim */
    atomic_bool     stop;      /* set with the last generation: workers return (a late worker may read it any time) */
    atomic_int      failed;    /* a scratch allocation failed: see rt_pool_failed */
    atomic_int      sleepers;  /* workers asleep on wake (or about to be) */
    LongTask        long_task[LONG_TASKS];  /* rt_parallel calls whose claims take WAKE_AFTER (the caller's only) */
    int64_t         early_wakes;            /* calls that woke sleepers at their start (rt_pool_test_early_wakes) */
    int64_t         caller_claims;          /* claims the caller ran, alone (solo) or beside workers (rt_pool_claims) */
    double          stalled;                /* seconds waited for stalled workers (rt_pool_stalled) */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The start of claim t of a segment's C over [0, n), C ≤ n: one item each, and the
 * m = n − C others split so that claims get shorter towards the end:
 * t + m − floor(m·(C − t)² / C²), claim t about (2(C − t) − 1)/C² of m
 * more, the first twice the mean, the last a C-th of it.  Equal claims
 * ended the threads up to a claim apart whenever they did not start
 * together or their claims took unequal times: on two threads the GPT's
 * step waited 2.1 ms (3.4%) at the ends of its calls, 0.71 ms of it in
 * dense_1's weight gradient (43 items in 8 claims of 5 or 6: the caller
 * waited 180 us of each 1450 us call; bench/README, session 30, gpt2
 * stream).  The same number of claims, so the same fixed cost per call;
 * C = n is one item a claim.  Without overflow for C ≤ 2^15:
 * floor(m·q / D) = (m / D)·q + (m % D)·q / D with q = (C − t)² ≤ D = C². */
_Static_assert((int64_t)RT_MAX_THREADS * CLAIMS_PER_THREAD <= (int64_t)1 << 15,
               "shrinking_start's arithmetic holds for C <= 2^15 claims");
static int64_t shrinking_start(int64_t n, int64_t C, int64_t t)
{
    int64_t m = n - C, q = (C - t) * (C - t), D = C * C;
    return t + m - ((m / D) * q + (m % D) * q / D);
}

/* Segment s of a call's C claims over [0, n) on T threads: claims
 * [s·C/T, (s+1)·C/T) over items [s·n/T, (s+1)·n/T) (floors).  Every claim
 * holds an item: C = n gives both the same bounds, and C = CLAIMS_PER_THREAD·T
 * < n gives each segment CLAIMS_PER_THREAD claims for at least that many
 * items (claims_for). */
static int64_t seg_claim(int64_t C, int T, int s) { return (int64_t)s * C / T; }
static int64_t seg_item(int64_t n, int T, int s) { return (n / T) * s + (n % T) * s / T; }

/* The segment of claim i: the last s with s·C/T ≤ i. */
static int seg_of(int64_t C, int T, int64_t i) { return (int)(((i + 1) * T - 1) / C); }

/* The start of claim i of C over [0, n) on T threads (n for i = C). */
static int64_t claim_start(int64_t n, int64_t C, int T, int64_t i)
{
    if (i == C)
        return n;
    int s = seg_of(C, T, i);
    int64_t c0 = seg_claim(C, T, s), i0 = seg_item(n, T, s);
    return i0 + shrinking_start(seg_item(n, T, s + 1) - i0, seg_claim(C, T, s + 1) - c0, i - c0);
}

/* How many claims a call over n items is cut into on T threads. */
static int64_t claims_for(int64_t n, int T)
{
    int64_t most = (int64_t)T * CLAIMS_PER_THREAD;
    return n < most ? n : most;
}

/* Takes a claim of segment s of the call in flight, its front's or its
 * back's: the claim's number, or -1 when none is left there. */
static int64_t take_from(RtPool *p, int s, bool front)
{
    atomic_int_fast64_t *span = &p->seg[s].span;
    int_fast64_t v = atomic_load_explicit(span, memory_order_relaxed);
    while (SPAN_LEFT(v) > 0) {
        int_fast64_t taken = v >> SPAN_SHIFT, left = SPAN_LEFT(v);
        int_fast64_t next = front ? v + ((int_fast64_t)1 << SPAN_SHIFT) - 1 : v - 1;
        if (atomic_compare_exchange_weak_explicit(span, &v, next, memory_order_acq_rel, memory_order_relaxed))
            return seg_claim(p->claims, p->threads, s) + (front ? taken : taken + left - 1);
    }
    return -1;
}

/* Takes a claim of the call in flight for the thread of segment home: its
 * own segment's next, else the last of another's; -1 when none is left. */
static int64_t take_claim(RtPool *p, int home)
{
    int64_t i = take_from(p, home, true);
    for (int k = 1; i < 0 && k < p->threads; k++)
        i = take_from(p, (home + k) % p->threads, false);
    return i;
}

/* Whether any claim of the call in flight is left (a hint: relaxed). */
static bool claims_left(RtPool *p)
{
    for (int s = 0; s < p->threads; s++)
        if (SPAN_LEFT(atomic_load_explicit(&p->seg[s].span, memory_order_relaxed)) > 0)
            return true;
    return false;
}

/* Claim i of C over [0, n) on T threads: never empty, as C ≤ n (claims_for). */
static void run_one_claim(RtTask task, void *arg, int64_t n, int64_t C, int T, int64_t i)
{
    task(arg, claim_start(n, C, T, i), claim_start(n, C, T, i + 1));
}

static void run_claim(RtPool *p, int64_t i) { run_one_claim(p->task, p->arg, p->n, p->claims, p->threads, i); }

/* Waits until generation differs from seen and returns it. */
static uint64_t wait_generation(RtPool *p, uint64_t seen)
{
    uint64_t g;
    for (int i = 0; i < p->spins; i++) {
        if ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) != seen)
            return g;
        cpu_relax();
    }
    /* sleepers first, generation after (both seq_cst), against the
     * caller's generation first, sleepers after: if the caller saw no
     * sleeper, this thread sees the new generation and does not sleep. */
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    while ((g = atomic_load(&p->generation)) == seen)
        pthread_cond_wait(&p->wake, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

/* Wakes the workers asleep on generation, if any. */
static void wake_sleepers(RtPool *p)
{
    if (atomic_load(&p->sleepers) == 0)
        return;
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

/* The caller, with nothing left to claim: waits for the claims running workers hold. */
static void wait_finished(RtPool *p, int64_t claims)
{
    for (int i = 0; i < p->spins; i++) {
        if (atomic_load_explicit(&p->finished, memory_order_acquire) == claims)
            return;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->finished, memory_order_acquire) != claims)
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

static _Thread_local Worker *this_worker;  /* NULL on threads that are no pool's worker */

static void *worker_main(void *v)
{
    Worker *w = v;
    RtPool *p = w->pool;
    this_worker = w;
    uint64_t seen = 0;
    for (;;) {
        seen = wait_generation(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire))
            return NULL;
        int delay = atomic_load_explicit(&w->delay_us, memory_order_relaxed);
        if (delay > 0) {
            struct timespec ts = {delay / 1000000, (long)(delay % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        /* Generations this worker slept through need nothing: their calls
         * are over, since each waits for all of its claims. */
        int64_t i;
        while ((i = take_claim(p, w->index + 1)) >= 0) {
            int64_t claims = p->claims;
            w->call = p->call;
            rt_trace_worker_claim(p);
            run_claim(p, i);
            atomic_store_explicit(&w->claims, atomic_load_explicit(&w->claims, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            if (atomic_fetch_add_explicit(&p->finished, 1, memory_order_acq_rel) + 1 == claims) {
                pthread_mutex_lock(&p->mu);
                pthread_cond_signal(&p->done);
                pthread_mutex_unlock(&p->mu);
            }
        }
    }
}

/* Stops and joins the first `started` workers and frees p. */
static void shut_down(RtPool *p, int started)
{
    atomic_store_explicit(&p->stop, true, memory_order_release);
    start_generation(p);
    for (int i = 0; i < started; i++) {
        pthread_join(p->workers[i].thread, NULL);
        free(p->workers[i].scratch.mem);
    }
    free(p->scratch.mem);
    free(p->seg);
    for (int64_t i = 0; i < p->nkept; i++)
        free(p->kept[i].mem.mem);
    free(p->kept);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p);
}

/* The CPUs this process may run on (its affinity mask, which containers,
 * taskset and mpirun's binding narrow), at least 1. */
int rt_usable_cpus(void)
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
    if (threads > RT_MAX_THREADS)  /* the default (the usable CPUs) too: shrinking_start's bound */
        threads = RT_MAX_THREADS;
    RtPool *p = rt_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = threads;
    p->spins = threads <= rt_usable_cpus() ? SPINS : 0;
    p->workers = rt_calloc((size_t)threads, sizeof *p->workers);  /* one spare: never calloc(0) */
    p->seg = rt_aligned_alloc(_Alignof(Segment), (size_t)threads * sizeof *p->seg);
    if (!p->workers || !p->seg) {
        free(p->workers);
        free(p->seg);
        free(p);
        return NULL;
    }
    for (int s = 0; s < threads; s++)
        atomic_init(&p->seg[s].span, 0);
    atomic_init(&p->generation, 0);
    atomic_init(&p->finished, 0);
    atomic_init(&p->failed, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->stop, false);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p->workers);
        free(p->seg);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->wake, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p->workers);
        free(p->seg);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->done, NULL) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        free(p->workers);
        free(p->seg);
        free(p);
        return NULL;
    }
    for (int i = 0; i < threads - 1; i++) {
        p->workers[i].pool = p;
        p->workers[i].index = i;
        atomic_init(&p->workers[i].delay_us, 0);
        atomic_init(&p->workers[i].claims, 0);
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

/* The next call number (0 is never one: new scratch memory holds zeros). */
static uint64_t next_call(RtPool *p)
{
    if (++p->call == 0)
        p->call = 1;
    return p->call;
}

/* rt_parallel, and rt_parallel_awake when wake is false. */
static void parallel(RtPool *p, int64_t n, RtTask task, void *arg, bool wake)
{
    if (n <= 0)
        return;
    int T = rt_pool_threads(p);
    bool solo = p && p->solo_left > 0;
    if (solo)
        p->solo_left--;
    /* One thread, or one item, or serial mode: no one to wake. */
    if (T == 1 || n == 1 || p->serial) {
        if (p) {
            next_call(p);
            p->in_call = true;
            rt_trace_begin(p, task, n, 1, 0, TRACE_ONE);
        }
        task(arg, 0, n);
        if (p) {
            p->in_call = false;
            rt_trace_end(p);
        }
        return;
    }
    int64_t claims = claims_for(n, T);
    /* Workers that keep stalling: the same claims, on the caller. */
    if (solo) {
        next_call(p);
        p->in_call = true;
        rt_trace_begin(p, task, n, claims, 0, TRACE_SOLO);
        for (int64_t i = 0; i < claims; i++)
            run_one_claim(task, arg, n, claims, T, i);
        p->in_call = false;
        p->caller_claims += claims;
        rt_trace_end(p);
        return;
    }
    /* The workers read these only after a claim, and all claims of the
     * previous call were finished before it returned. */
    p->task = task;
    p->arg = arg;
    p->n = n;
    p->claims = claims;
    next_call(p);
    p->in_call = true;
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    /* Before the release stores of the segments: a worker still taking claims
     * from the last call may take one of this call at once, and reads the record. */
#ifdef RT_POOL_TRACE  /* a normal build reads nothing more (pool_trace.h) */
    rt_trace_begin(p, task, n, claims, atomic_load_explicit(&p->sleepers, memory_order_relaxed), TRACE_THREADS);
#endif
    for (int s = 0; s < T; s++)
        atomic_store_explicit(&p->seg[s].span, seg_claim(claims, T, s + 1) - seg_claim(claims, T, s),
                              memory_order_release);
    double start = rt_now();
    atomic_fetch_add(&p->generation, 1);  /* spinning workers join now; sleepers see wake_sleepers */
    LongTask *known = &p->long_task[task_slot(task, n)];
    bool was_long = known->task == task && known->n == n;
    bool woken = !wake;  /* rt_parallel_awake: as if the sleepers had been woken */
    if (!woken && was_long && atomic_load(&p->sleepers) > 0) {
        wake_sleepers(p);
        woken = true;
        p->early_wakes++;
    }
    int64_t i, mine = 0;
    while ((i = take_claim(p, 0)) >= 0) {
        run_claim(p, i);
        mine++;
        if ((mine == 1 && wake) || !woken) {
            bool long_claims = rt_now() - start >= WAKE_AFTER;
            /* the first claim's time says whether the next call wakes sleepers
             * at once; rt_parallel_awake's calls wake nobody and leave no record */
            if (mine == 1 && wake)
                *known = long_claims ? (LongTask){task, n} : was_long ? (LongTask){NULL, 0} : *known;
            if (!woken && long_claims && claims_left(p)) {
                wake_sleepers(p);
                woken = true;
            }
        }
    }
    p->caller_claims += mine;
    rt_trace_caller_done(p, mine);
    if (!mine || atomic_fetch_add_explicit(&p->finished, mine, memory_order_acq_rel) + mine != claims) {
        double worked = rt_now();
        wait_finished(p, claims);
        double waited = rt_now() - worked;
        worked -= start;
        /* A wait longer than the caller's share took, and than waking a
         * sleeping thread takes (tens of microseconds): a stalled worker. */
        if (waited > worked && waited > 200e-6) {
            p->stalled += waited;
            p->solo_next = p->solo_next ? (p->solo_next * 2 < SOLO_MAX ? p->solo_next * 2 : SOLO_MAX) : SOLO_CALLS;
            p->solo_left = p->solo_next;
        } else {
            p->solo_next = 0;
        }
    } else {
        p->solo_next = 0;
    }
    p->in_call = false;
    rt_trace_end(p);
}

void rt_parallel(RtPool *p, int64_t n, RtTask task, void *arg) { parallel(p, n, task, arg, true); }

void rt_parallel_awake(RtPool *p, int64_t n, RtTask task, void *arg) { parallel(p, n, task, arg, false); }

void rt_pool_set_serial(RtPool *p, int serial)
{
    if (!p)
        return;
    /* Leaving serial mode ends the solo calls an earlier stall started (a
     * stall before the one-thread steps says nothing of the workers now):
     * the chooser's probe (pace.c) alternates steps on one thread and on
     * the threads, and after the first step on the threads, whose wait for
     * the workers' growing arenas can pass for a stall, its next steps on
     * the threads ran on the caller alone and lost (an idle Zen 4 VM's MLP,
     * session 29). */
    if (p->serial && !serial) {
        p->solo_left = p->solo_next = 0;
        /* And the workers that slept through the steps on one thread are
         * woken now, by a generation with no claims (each finds none, then
         * spins as after a call): else the first calls of a step on the
         * threads ran on the caller while the worker woke, WAKE_AFTER into
         * each, and the probe timed that instead of the step a run on the
         * threads gets.  On a Zen 5 VM (session 39) the MNIST MLP's probes
         * sent most of its steps to one thread in 8 runs of 8 (its workers
         * ran 0.02-0.06 of the claims), where --threads 2 took 0.77-0.91 of
         * one thread's step (three runs each, alternating). */
        if (atomic_load(&p->sleepers) > 0)
            start_generation(p);
    }
    p->serial = serial != 0;
}

/* ---- scratch memory ---------------------------------------------------------------------- */

/* The fallback arena of a thread that calls generated code without a pool:
 * freed when the thread ends. */
static pthread_key_t  fallback_key;
static pthread_once_t fallback_once = PTHREAD_ONCE_INIT;
static _Thread_local Arena    fallback;
static _Thread_local uint64_t fallback_call;
static _Thread_local int      fallback_failed;

static void free_fallback(void *mem) { free(mem); }
static void make_fallback_key(void) { pthread_key_create(&fallback_key, free_fallback); }

/* a's memory, grown to at least bytes (zeroed when new); NULL if that failed. */
static void *arena_get(Arena *a, int64_t bytes)
{
    if (bytes < 0)
        return NULL;
    if ((size_t)bytes <= a->cap && a->mem)
        return a->mem;
    free(a->mem);
    a->mem = NULL;
    a->cap = 0;
    size_t want = ((size_t)bytes + 4095) / 4096 * 4096;  /* whole pages: a multiple of the alignment */
    if (want < (size_t)bytes)
        return NULL;
    void *m = rt_aligned_alloc(64, want ? want : 4096);
    if (!m)
        return NULL;
    memset(m, 0, want ? want : 4096);
    a->mem = m;
    a->cap = want ? want : 4096;
    return m;
}

void *rt_task_scratch(RtCtx *ctx, int64_t bytes, uint64_t *call)
{
    RtPool *p = ctx ? ctx->pool : NULL;
    Worker *w = this_worker;
    void *m;
    if (p && w && w->pool == p) {
        *call = w->call;
        if (!(m = arena_get(&w->scratch, bytes)))
            atomic_store(&p->failed, 1);
        return m;
    }
    if (p) {  /* the caller: outside rt_parallel (a kernel called directly), a call of its own */
        *call = p->in_call ? p->call : next_call(p);
        if (!(m = arena_get(&p->scratch, bytes)))
            atomic_store(&p->failed, 1);
        return m;
    }
    pthread_once(&fallback_once, make_fallback_key);
    if (++fallback_call == 0)
        fallback_call = 1;
    *call = fallback_call;
    void *old = fallback.mem;
    if (!(m = arena_get(&fallback, bytes)))
        fallback_failed = 1;
    if (fallback.mem != old)
        pthread_setspecific(fallback_key, fallback.mem);
    return m;
}

/* The caller's regions of rt_kept_scratch hold at most this many bytes in
 * all: they are memory the instance's check (rt_model_bytes) does not
 * count, as the thread's scratch is not, so they are kept to the same order
 * (a product keeps only a W of 4 MB at most: cg_matmul.c's KEPT_W_MOST).
 * A weight past the budget is packed per call in the thread's scratch. */
enum { KEPT_MOST = 16 << 20 };

/* The caller's region for the weight at byte `at` of the param slab
 * packed into `bytes`, made (zeroed) when new; NULL without memory, or
 * past KEPT_MOST (then *over).  Two products that read one weight alike ask
 * for the same bytes and share its region.  A forward asks for the regions
 * in the same order at every call: the search starts after the last found. */
static Arena *kept_region(RtPool *p, int64_t at, int64_t bytes, bool *over)
{
    for (int64_t k = 0; k < p->nkept; k++) {
        int64_t i = (p->kept_next + k) % p->nkept;
        if (p->kept[i].at == at && p->kept[i].bytes == bytes) {
            p->kept_next = i + 1;
            return &p->kept[i].mem;
        }
    }
    if (bytes > KEPT_MOST - p->kept_bytes) {
        *over = true;
        return NULL;
    }
    Kept *more = rt_realloc(p->kept, sizeof *more * (size_t)(p->nkept + 1));
    if (!more)
        return NULL;
    p->kept = more;
    p->kept[p->nkept] = (Kept){.at = at, .bytes = bytes};
    p->kept_bytes += bytes;
    p->kept_next = ++p->nkept;
    return &p->kept[p->nkept - 1].mem;
}

void *rt_kept_scratch(RtCtx *ctx, const void *weight, int64_t bytes, uint64_t *call)
{
    RtPool *p = ctx ? ctx->pool : NULL;
    if (!p || !ctx->weights || !ctx->slab[RT_SLAB_PARAM] || bytes < 0 || (this_worker && this_worker->pool == p))
        return rt_task_scratch(ctx, bytes, call);
    bool over = false;
    Arena *a = kept_region(p, (const uint8_t *)weight - ctx->slab[RT_SLAB_PARAM], bytes, &over);
    if (over)
        return rt_task_scratch(ctx, bytes, call);
    void *m = a ? arena_get(a, bytes) : NULL;
    if (!m)
        atomic_store(&p->failed, 1);
    *call = ctx->weights;
    return m;
}

int rt_pool_failed(RtPool *p)
{
    if (p)
        return atomic_exchange(&p->failed, 0);
    int f = fallback_failed;
    fallback_failed = 0;
    return f;
}

void rt_pool_claims(const RtPool *p, int64_t *caller, int64_t *workers)
{
    *caller = p ? p->caller_claims : 0;
    *workers = 0;
    for (int i = 0; p && i < p->threads - 1; i++)
        *workers += atomic_load_explicit(&((RtPool *)p)->workers[i].claims, memory_order_relaxed);
}

double rt_pool_stalled(const RtPool *p) { return p ? p->stalled : 0; }

int64_t rt_pool_test_early_wakes(const RtPool *p) { return p ? p->early_wakes : 0; }

int rt_pool_test_sleepers(RtPool *p) { return p ? atomic_load(&p->sleepers) : 0; }

void rt_pool_test_delay(RtPool *p, int worker, int microseconds)
{
    if (p && worker >= 0 && worker < p->threads - 1)
        atomic_store(&p->workers[worker].delay_us, microseconds);
}
