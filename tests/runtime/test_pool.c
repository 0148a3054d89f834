/* test_pool.c — rt_parallel: every index once, in the documented claims;
 * the caller takes part and never waits for a worker that has not started
 * (a delayed worker, a test hook); the same bits whatever the number of
 * threads, also beside busy threads that compete for the CPUs; a small cost
 * per call; a task of long claims wakes a sleeping worker at the start of a
 * call; and the threads' scratch memory (rt_task_scratch). */
#define _GNU_SOURCE  /* sched_getaffinity, CPU_COUNT */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../runtime/rt_internal.h"  /* rt_pool_test_delay */
#include "rt_harness.h"

static const int thread_counts[] = {1, 2, 3, 8};
enum { NCOUNTS = sizeof thread_counts / sizeof thread_counts[0] };

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Claim i of C over [0, n) on T threads as documented: the claims of
 * segment s, [s·C/T, (s+1)·C/T) (floors), over items [s·n/T, (s+1)·n/T),
 * and in a segment of c claims over m items, claim j starts j + e − floor(e·(c −
 * j)²/c²) after the segment does, e = m − c; in 128 bits, with C = min(n, 4·T),
 * or 1 for one thread or one item. */
static int64_t doc_start(int64_t n, int64_t C, int T, int64_t i)
{
    int s = 0;
    while (s + 1 < T && (int64_t)(s + 1) * C / T <= i)
        s++;
    int64_t c0 = (int64_t)s * C / T, c = (int64_t)(s + 1) * C / T - c0, j = i - c0;
    int64_t i0 = (int64_t)((__int128)n * s / T), m = (int64_t)((__int128)n * (s + 1) / T) - i0;
    if (c == 0 || j == c)
        return i0 + m;
    __int128 e = m - c;
    return i0 + (int64_t)(j + e - e * (c - j) * (c - j) / ((__int128)c * c));
}
static int64_t doc_claims(int64_t n, int T)
{
    if (T == 1 || n == 1)
        return 1;
    return n < 4 * (int64_t)T ? n : 4 * (int64_t)T;
}

/* How many of the claims are not empty (all of them: C <= n). */
static int nonempty_chunks(int64_t n, int T)
{
    int k = 0;
    int64_t C = doc_claims(n, T);
    for (int64_t i = 0; i < C; i++)
        k += doc_start(n, C, T, i) < doc_start(n, C, T, i + 1);
    return k;
}

/* ---- every index once ---------------------------------------------------------------- */

typedef struct Visits {
    int64_t     n;
    atomic_int *count;  /* [n] */
    atomic_int  calls;
    atomic_int  bad;    /* calls with an empty or out-of-range chunk */
} Visits;

static void visit(void *arg, int64_t begin, int64_t end)
{
    Visits *v = arg;
    atomic_fetch_add(&v->calls, 1);
    if (begin >= end || begin < 0 || end > v->n) {
        atomic_fetch_add(&v->bad, 1);
        return;
    }
    for (int64_t i = begin; i < end; i++)
        atomic_fetch_add_explicit(&v->count[i], 1, memory_order_relaxed);
}

/* Runs visit over [0, n) on p and checks each index was visited once, by
 * as many calls as there are non-empty chunks. */
static void check_visits(RtPool *p, int64_t n)
{
    Visits v = {.n = n, .count = calloc((size_t)n + 1, sizeof(atomic_int))};
    CU_ASSERT_FATAL(v.count != NULL);
    rt_parallel(p, n, visit, &v);
    int once = 1;
    for (int64_t i = 0; i < n; i++)
        once &= atomic_load(&v.count[i]) == 1;
    CU_ASSERT(once);
    CU_ASSERT_EQUAL(atomic_load(&v.bad), 0);
    CU_ASSERT_EQUAL(atomic_load(&v.calls), nonempty_chunks(n, rt_pool_threads(p)));
    free(v.count);
}

static void test_every_index_once(void)
{
    static const int64_t sizes[] = {0, 1, 2, 3, 5, 7, 8, 9, 10, 63, 64, 65, 1000, 100003};
    for (int k = 0; k < NCOUNTS; k++) {
        RtPool *p = rt_pool_create(thread_counts[k]);
        CU_ASSERT_FATAL(p != NULL);
        CU_ASSERT_EQUAL(rt_pool_threads(p), thread_counts[k]);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            check_visits(p, sizes[s]);
        rt_pool_destroy(p);
    }
}

/* n = 0 calls nothing; n < threads makes n claims of one item. */
static void test_small_n(void)
{
    for (int k = 0; k < NCOUNTS; k++) {
        RtPool *p = rt_pool_create(thread_counts[k]);
        CU_ASSERT_FATAL(p != NULL);
        Visits v = {.n = 0};
        rt_parallel(p, 0, visit, &v);
        rt_parallel(p, -5, visit, &v);
        CU_ASSERT_EQUAL(atomic_load(&v.calls), 0);
        for (int64_t n = 1; n < thread_counts[k]; n++)
            check_visits(p, n);  /* n calls of one index each */
        rt_pool_destroy(p);
    }
}

static void test_null_pool(void)
{
    CU_ASSERT_EQUAL(rt_pool_threads(NULL), 1);
    check_visits(NULL, 0);
    check_visits(NULL, 1);
    check_visits(NULL, 1000);  /* one call: [0, 1000) */
    rt_pool_destroy(NULL);
    RtPool *p = rt_pool_create(0);  /* fewer than one thread counts as one */
    CU_ASSERT_FATAL(p != NULL);
    CU_ASSERT_EQUAL(rt_pool_threads(p), 1);
    check_visits(p, 17);
    rt_pool_destroy(p);
}

/* ---- the documented claims ------------------------------------------------------------- */

enum { MAXREC = 64 };

typedef struct Chunks {
    atomic_int k;
    int64_t    begin[MAXREC], end[MAXREC];  /* written by each claim into its own slot */
    pthread_t  who[MAXREC];
} Chunks;

static void record(void *arg, int64_t begin, int64_t end)
{
    Chunks *c = arg;
    int i = atomic_fetch_add(&c->k, 1);
    if (i < MAXREC) {
        c->begin[i] = begin;
        c->end[i] = end;
        c->who[i] = pthread_self();
    }
}

/* The ranges of one call are exactly the documented claims, each once,
 * whichever thread ran it. */
static void check_split(RtPool *p, int64_t n)
{
    int T = rt_pool_threads(p);
    int64_t C = doc_claims(n, T);
    Chunks c = {0};
    rt_parallel(p, n, record, &c);
    int k = atomic_load(&c.k);
    CU_ASSERT_EQUAL_FATAL(k, C);
    for (int64_t i = 0; i < C; i++) {
        int64_t b = doc_start(n, C, T, i), e = doc_start(n, C, T, i + 1);
        int found = 0;
        for (int j = 0; j < k; j++)
            found += c.begin[j] == b && c.end[j] == e;
        CU_ASSERT_EQUAL(found, 1);
    }
}

static void test_documented_claims(void)
{
    static const int64_t sizes[] = {1, 2, 3, 7, 8, 9, 10, 31, 32, 33, 100, 1001, INT64_MAX / 2, INT64_MAX};
    for (int k = 0; k < NCOUNTS; k++) {
        RtPool *p = rt_pool_create(thread_counts[k]);
        CU_ASSERT_FATAL(p != NULL);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            check_split(p, sizes[s]);
        rt_pool_destroy(p);
    }
    check_split(NULL, 5);
}

static void slow_record(void *arg, int64_t begin, int64_t end);

/* ---- the caller takes part, and never waits for a worker that has not started ---------- */

/* The k-th claim a caller alone runs, as documented: its own segment's
 * (the first) from the front, then each other segment's from the back, in
 * segment order. */
static int64_t doc_alone(int64_t C, int T, int64_t k)
{
    int64_t own = C / T;  /* the first segment's claims: floor(1·C/T) */
    if (k < own)
        return k;
    for (int s = 1; s < T; s++) {
        int64_t c0 = (int64_t)s * C / T, c1 = (int64_t)(s + 1) * C / T;
        if (k < own + (c1 - c0))
            return c1 - 1 - (k - own);
        own += c1 - c0;
    }
    return -1;
}

/* With every worker delayed by 300 ms after it wakes (the test hook), calls
 * over [0, 1000) return in far less than that: the caller ran every claim
 * itself, its own segment's first, in order, then the workers' from their
 * ends.  The late workers then find nothing to do, and once the delay is
 * gone they take claims again. */
static void test_delayed_worker(void)
{
    for (int k = 1; k < NCOUNTS; k++) {
        int T = thread_counts[k];
        RtPool *p = rt_pool_create(T);
        CU_ASSERT_FATAL(p != NULL);
        for (int w = 0; w < T - 1; w++)
            rt_pool_test_delay(p, w, 300000);
        struct timespec ms = {0, 20000000};
        nanosleep(&ms, NULL);  /* the workers asleep, not spinning */
        for (int rep = 0; rep < 3; rep++) {
            Chunks c = {0};
            double start = now_us();
            rt_parallel(p, 1000, slow_record, &c);  /* 200 us a claim: the caller wakes the workers */
            double us = now_us() - start;
            CU_ASSERT(us < 150000);  /* 300 ms if it waited; 4·T claims of 200 us when it does not */
            int k2 = atomic_load(&c.k), mine = 0;
            CU_ASSERT_EQUAL(k2, doc_claims(1000, T));
            for (int i = 0; i < k2 && i < MAXREC; i++)
                mine += pthread_equal(c.who[i], pthread_self()) != 0;
            CU_ASSERT_EQUAL(mine, k2);
            int64_t C = doc_claims(1000, T);
            for (int i = 0; i < k2 && i < MAXREC; i++)
                CU_ASSERT_EQUAL(c.begin[i], doc_start(1000, C, T, doc_alone(C, T, i)));
            if (us >= 150000 || mine != k2)
                printf("\n    %d threads, call %d: %.0f us, %d of %d claims on the caller", T, rep, us, mine, k2);
        }
        for (int w = 0; w < T - 1; w++)
            rt_pool_test_delay(p, w, 0);
        nanosleep(&(struct timespec){0, 400000000}, NULL);  /* the late workers wake, find nothing */
        check_visits(p, 1000);
        rt_pool_destroy(p);  /* joins workers that may still be asleep in their delay */
    }
}

/* A claim that a worker holds for 20 ms while the caller has finished its
 * own (a worker descheduled mid-claim, as on a busy machine): rt_pool_stalled
 * counts the caller's wait (the calls before, which no worker took part in,
 * waited for nothing), and the next calls run all their claims on the
 * caller, the same ranges.  A caller that itself lost its CPU for 20 ms
 * inside its own claims did not wait longer than they took, which is no
 * stall: on a loaded machine that happens now and then, so a stall gets
 * 5 tries (a pool that never counts one fails all five). */
typedef struct Stall { pthread_t caller; atomic_int stalled; } Stall;

static void stall_on_worker(void *arg, int64_t begin, int64_t end)
{
    Stall *s = arg;
    (void)begin, (void)end;
    if (!pthread_equal(pthread_self(), s->caller)) {
        if (atomic_exchange(&s->stalled, 1) == 0)
            nanosleep(&(struct timespec){0, 20000000}, NULL);
        return;
    }
    double until = now_us() + 200;  /* time for a worker to wake and take a claim */
    while (now_us() < until && !atomic_load(&s->stalled))
        ;
}

/* A task whose claims take ~200 us each. */
static void slow_record(void *arg, int64_t begin, int64_t end)
{
    double until = now_us() + 200;
    while (now_us() < until)
        ;
    record(arg, begin, end);
}

static void test_stalled_worker_goes_solo(void)
{
    RtPool *p = rt_pool_create(2);
    CU_ASSERT_FATAL(p != NULL);
    double waited = 0;
    for (int try = 0; try < 5 && waited < 0.015; try++) {  /* most of the worker's 20 ms */
        int stalled = 0;
        double before = 0;
        for (int rep = 0; rep < 50 && !stalled; rep++) {  /* until a worker took a claim */
            Stall s = {.caller = pthread_self()};
            before = rt_pool_stalled(p);
            rt_parallel(p, 1000, stall_on_worker, &s);
            stalled = atomic_load(&s.stalled);
        }
        CU_ASSERT_FATAL(stalled);
        if (try == 0)
            CU_ASSERT_EQUAL(before, 0);
        waited = rt_pool_stalled(p) - before;
    }
    CU_ASSERT(waited >= 0.015);
    Chunks c = {0};
    rt_parallel(p, 1000, record, &c);
    int k = atomic_load(&c.k), mine = 0;
    CU_ASSERT_EQUAL(k, doc_claims(1000, 2));
    for (int i = 0; i < k && i < MAXREC; i++)
        mine += pthread_equal(c.who[i], pthread_self()) != 0;
    CU_ASSERT_EQUAL(mine, k);
    /* Leaving serial mode drops the solo calls left: a worker
     * takes claims of the next calls (pace.c's probe times the threads). */
    int64_t caller, before_workers, workers;
    rt_pool_claims(p, &caller, &before_workers);
    workers = before_workers;
    for (int try = 0; try < 5 && workers == before_workers; try++) {
        rt_pool_set_serial(p, 1);
        rt_pool_set_serial(p, 0);
        Chunks slow = {0};
        rt_parallel(p, 8, slow_record, &slow);
        rt_pool_claims(p, &caller, &workers);
    }
    CU_ASSERT(workers > before_workers);
    for (int rep = 0; rep < 40; rep++)  /* and back to parallel calls later: still every index once */
        check_visits(p, 1000);
    rt_pool_destroy(p);
}

/* A worker that wakes late in the middle of a stream of calls takes claims
 * of whichever call is in flight then: every index of every call once. */
static void test_late_worker_in_stream(void)
{
    RtPool *p = rt_pool_create(3);
    CU_ASSERT_FATAL(p != NULL);
    rt_pool_test_delay(p, 0, 2000);  /* 2 ms: several calls go by meanwhile */
    for (int rep = 0; rep < 200; rep++)
        check_visits(p, 1 + rep % 50);
    rt_pool_destroy(p);
}

/* Claims of ~200 us each: the caller wakes the sleeping workers (after its
 * first claim) and they take part: in 20 calls, workers run claims. */
static void test_workers_take_part(void)
{
    for (int k = 1; k < NCOUNTS; k++) {
        int T = thread_counts[k];
        RtPool *p = rt_pool_create(T);
        CU_ASSERT_FATAL(p != NULL);
        nanosleep(&(struct timespec){0, 20000000}, NULL);  /* asleep, not spinning */
        pthread_t seen[8];
        int nseen = 0;
        for (int rep = 0; rep < 20 && nseen < T; rep++) {
            Chunks c = {0};
            rt_parallel(p, 4 * T, slow_record, &c);
            for (int i = 0; i < atomic_load(&c.k) && i < MAXREC; i++) {
                int known = 0;
                for (int j = 0; j < nseen; j++)
                    known |= pthread_equal(seen[j], c.who[i]) != 0;
                if (!known && nseen < 8)
                    seen[nseen++] = c.who[i];
            }
        }
        CU_ASSERT(nseen >= 2);  /* the caller and a worker at least (all of them for 2 and 3 threads, usually) */
        if (nseen < T)
            printf("\n    %d threads: %d took claims", T, nseen);
        rt_pool_destroy(p);
    }
}

/* The worker's own segment: on two threads, with the caller held in its
 * first claim until the worker has run one, the worker's first claim is
 * segment 1's front (claim C/2), call after call: the rows a thread wrote
 * stay its own.  The worker starting at the caller's segment, or the
 * threads taking claims first come first served, fails it.  The worker's
 * claims take 2 ms, so that the caller, whose wake of the worker comes
 * first, takes its own segment's front before the worker could have
 * emptied segment 1 and come for segment 0's (then the caller's first
 * claim is not checked). */
typedef struct Homes {
    Chunks    c;
    pthread_t caller;
    atomic_int worker_ran;
} Homes;

static void home_record(void *arg, int64_t begin, int64_t end)
{
    Homes *h = arg;
    record(&h->c, begin, end);
    if (!pthread_equal(pthread_self(), h->caller)) {
        atomic_store(&h->worker_ran, 1);
        nanosleep(&(struct timespec){0, 2000000}, NULL);
        return;
    }
    double until = now_us() + 2e6;  /* the worker's wake, however busy the machine */
    while (now_us() < until && !atomic_load(&h->worker_ran))
        ;
}

static void test_workers_own_segments(void)
{
    RtPool *p = rt_pool_create(2);
    CU_ASSERT_FATAL(p != NULL);
    const int64_t n = 1000;
    int64_t C = doc_claims(n, 2);
    int checked = 0;
    for (int call = 0; call < 3; call++) {
        Homes h = {.caller = pthread_self()};
        rt_parallel(p, n, home_record, &h);
        if (!atomic_load(&h.worker_ran)) {
            printf("\n    call %d: the worker took no claim within 2 s", call);
            continue;
        }
        checked++;
        int64_t caller_first = -1, worker_first = -1;
        for (int i = 0; i < atomic_load(&h.c.k) && i < MAXREC; i++) {
            int mine = pthread_equal(h.c.who[i], h.caller) != 0;
            int64_t *first = mine ? &caller_first : &worker_first;
            if (*first < 0)
                *first = h.c.begin[i];
        }
        CU_ASSERT_EQUAL(worker_first, doc_start(n, C, 2, C / 2));
        if (caller_first != doc_start(n, C, 2, 0))
            printf("\n    call %d: the caller's first claim began at %lld, not 0 (it came late)", call, (long long)caller_first);
    }
    CU_ASSERT(checked > 0);  /* three calls without the worker: nothing was asserted */
    rt_pool_destroy(p);
}

/* ---- the same bits whatever the number of threads ------------------------------------ */

enum { ROWS = 1000, COLS = 97, BLOCKS = 61 };

typedef struct Sums {
    const double *x;       /* [ROWS, COLS] */
    double        row[ROWS];     /* row sums: output r belongs to whichever chunk holds r */
    double        block[BLOCKS]; /* partial sums of BLOCKS fixed blocks of x, whatever the chunks */
} Sums;

static void row_sums(void *arg, int64_t begin, int64_t end)
{
    Sums *s = arg;
    for (int64_t r = begin; r < end; r++) {
        double acc = 0;
        for (int c = 0; c < COLS; c++)
            acc += s->x[r * COLS + c];
        s->row[r] = acc;
    }
}

static void block_sums(void *arg, int64_t begin, int64_t end)
{
    Sums *s = arg;
    const int64_t total = (int64_t)ROWS * COLS;
    for (int64_t b = begin; b < end; b++) {
        double acc = 0;
        for (int64_t i = b * total / BLOCKS; i < (b + 1) * total / BLOCKS; i++)
            acc += s->x[i];
        s->block[b] = acc;
    }
}

/* Sums with rt_parallel on p: the row sums and the total, reduced from the
 * per-block slots in block order on the caller. */
static double sums_on(RtPool *p, Sums *s)
{
    memset(s->row, 0xff, sizeof s->row);
    memset(s->block, 0xff, sizeof s->block);
    rt_parallel(p, ROWS, row_sums, s);
    rt_parallel(p, BLOCKS, block_sums, s);
    double total = 0;
    for (int b = 0; b < BLOCKS; b++)
        total += s->block[b];
    return total;
}

static void test_sums_bit_identical(void)
{
    /* values over twelve orders of magnitude, both signs: any change in the
     * order of the additions would change the low bits */
    double *x = malloc(sizeof(double) * ROWS * COLS);
    CU_ASSERT_FATAL(x != NULL);
    for (int64_t i = 0; i < (int64_t)ROWS * COLS; i++)
        x[i] = (rt_uniform(7, 1, 0, (uint64_t)i) - 0.5) * pow(10.0, 12 * rt_uniform(7, 2, 0, (uint64_t)i) - 6);

    static Sums want, got;
    want.x = got.x = x;
    double want_total = sums_on(NULL, &want);
    for (int k = 0; k < NCOUNTS; k++) {
        RtPool *p = rt_pool_create(thread_counts[k]);
        CU_ASSERT_FATAL(p != NULL);
        double total = sums_on(p, &got);
        CU_ASSERT(memcmp(got.row, want.row, sizeof want.row) == 0);
        CU_ASSERT(memcmp(got.block, want.block, sizeof want.block) == 0);
        CU_ASSERT(memcmp(&total, &want_total, sizeof total) == 0);
        rt_pool_destroy(p);
    }
    free(x);
}

/* Busy threads, one per CPU, compete with the pool's threads while the sums
 * run on 1, 2, 3 and 8 threads, ten times each: the bits do not move, and
 * a pool of 2 threads is not much slower than 1 (before claims, every call
 * waited for whichever worker the scheduler had put aside). */
static atomic_int busy_stop;

static void *busy_loop(void *arg)
{
    (void)arg;
    volatile uint64_t x = 0;
    while (!atomic_load_explicit(&busy_stop, memory_order_relaxed))
        x++;
    return NULL;
}

static void test_sums_under_contention(void)
{
    double *x = malloc(sizeof(double) * ROWS * COLS);
    CU_ASSERT_FATAL(x != NULL);
    for (int64_t i = 0; i < (int64_t)ROWS * COLS; i++)
        x[i] = (rt_uniform(9, 1, 0, (uint64_t)i) - 0.5) * pow(10.0, 12 * rt_uniform(9, 2, 0, (uint64_t)i) - 6);
    static Sums want, got;
    want.x = got.x = x;
    double want_total = sums_on(NULL, &want);

    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 2;
    enum { MAXBUSY = 8 };
    int nbusy = cpus < MAXBUSY ? cpus : MAXBUSY;
    pthread_t busy[MAXBUSY];
    atomic_store(&busy_stop, 0);
    for (int i = 0; i < nbusy; i++)
        CU_ASSERT_FATAL(pthread_create(&busy[i], NULL, busy_loop, NULL) == 0);
    double us[NCOUNTS] = {0};
    for (int k = 0; k < NCOUNTS; k++) {
        RtPool *p = rt_pool_create(thread_counts[k]);
        CU_ASSERT_FATAL(p != NULL);
        double start = now_us();
        int same = 1;
        for (int rep = 0; rep < 10; rep++) {
            double total = sums_on(p, &got);
            same &= memcmp(got.row, want.row, sizeof want.row) == 0 && memcmp(got.block, want.block, sizeof want.block) == 0
                    && memcmp(&total, &want_total, sizeof total) == 0;
        }
        us[k] = (now_us() - start) / 10;
        CU_ASSERT(same);
        rt_pool_destroy(p);
    }
    atomic_store(&busy_stop, 1);
    for (int i = 0; i < nbusy; i++)
        pthread_join(busy[i], NULL);
    printf("\n    beside %d busy threads, us per sums: ", nbusy);
    for (int k = 0; k < NCOUNTS; k++)
        printf("%s%d thread%s %.0f", k ? ", " : "", thread_counts[k], thread_counts[k] > 1 ? "s" : "", us[k]);
    printf("\n");
    /* loose (sanitizers, a shared machine): a fixed split lost a time slice
     * (milliseconds) per call here, against ~100 us of work */
    CU_ASSERT(us[1] < 4 * us[0] + 2000);
    free(x);
}

/* ---- scratch memory ------------------------------------------------------------------------ */

enum { SCRATCH_CLAIMS = 64 };

typedef struct ScratchSeen {
    RtCtx      ctx;
    int64_t    bytes;
    void      *mem[SCRATCH_CLAIMS];
    uint64_t   call[SCRATCH_CLAIMS];
    pthread_t  who[SCRATCH_CLAIMS];
    int        zero[SCRATCH_CLAIMS];
} ScratchSeen;

/* n = SCRATCH_CLAIMS items of one claim each on a pool of <= 8 threads
 * (4 claims per thread at most: 32): slot `begin` records claim begin. */
static void use_scratch(void *arg, int64_t begin, int64_t end)
{
    ScratchSeen *s = arg;
    for (int64_t i = begin; i < end; i++) {
        uint64_t call = 0;
        unsigned char *m = rt_task_scratch(&s->ctx, s->bytes, &call);
        s->mem[i] = m;
        s->call[i] = call;
        s->who[i] = pthread_self();
        s->zero[i] = m != NULL;
        if (m && i == begin) {   /* new memory is zero; what this thread wrote stays */
            s->zero[i] = m[s->bytes - 1] == 0 || m[s->bytes - 1] == 0xab;
            m[s->bytes - 1] = 0xab;
        }
    }
}

/* Each thread has its own memory (64-byte aligned, zero when new, kept from
 * call to call); the claims of one call see one call number, never 0, and
 * the next call another. */
static void test_scratch_per_thread(void)
{
    for (int k = 0; k < NCOUNTS; k++) {
        RtPool *p = rt_pool_create(thread_counts[k]);
        CU_ASSERT_FATAL(p != NULL);
        static ScratchSeen s[2];
        for (int call = 0; call < 2; call++) {
            memset(&s[call], 0, sizeof s[call]);
            s[call].ctx.pool = p;
            s[call].bytes = 1000;
            rt_parallel(p, SCRATCH_CLAIMS, use_scratch, &s[call]);
        }
        int ok = 1;
        for (int i = 0; i < SCRATCH_CLAIMS; i++)
            for (int call = 0; call < 2; call++) {
                ScratchSeen *a = &s[call];
                ok &= a->mem[i] != NULL && ((uintptr_t)a->mem[i] & 63) == 0 && a->zero[i];
                ok &= a->call[i] != 0 && a->call[i] == a->call[0];
                for (int j = 0; j < SCRATCH_CLAIMS; j++)  /* one thread, one arena */
                    for (int c2 = 0; c2 < 2; c2++)
                        ok &= (pthread_equal(a->who[i], s[c2].who[j]) != 0) == (a->mem[i] == s[c2].mem[j]);
            }
        CU_ASSERT(ok);
        CU_ASSERT(s[0].call[0] != s[1].call[0]);
        CU_ASSERT_EQUAL(rt_pool_failed(p), 0);
        rt_pool_destroy(p);
    }
}

/* Outside rt_parallel (a kernel the entry calls directly) each request is a
 * call of its own; without a pool the calling thread's memory serves. */
static void test_scratch_outside_calls(void)
{
    RtPool *p = rt_pool_create(2);
    CU_ASSERT_FATAL(p != NULL);
    for (int with_pool = 0; with_pool < 2; with_pool++) {
        RtCtx ctx = {.pool = with_pool ? p : NULL};
        uint64_t a = 0, b = 0;
        void *m1 = rt_task_scratch(&ctx, 100, &a);
        void *m2 = rt_task_scratch(&ctx, 100, &b);
        CU_ASSERT(m1 != NULL && m1 == m2);
        CU_ASSERT(a != 0 && b != 0 && a != b);
        void *m3 = rt_task_scratch(&ctx, 1 << 20, &b);  /* grown */
        CU_ASSERT(m3 != NULL && ((uintptr_t)m3 & 63) == 0);
        CU_ASSERT_EQUAL(((unsigned char *)m3)[(1 << 20) - 1], 0);
        CU_ASSERT_EQUAL(rt_pool_failed(ctx.pool), 0);
    }
    rt_pool_destroy(p);
}

/* Memory that cannot be had: NULL, noted once by rt_pool_failed; the next
 * request that fits works again. */
static void fail_scratch(void *arg, int64_t begin, int64_t end)
{
    ScratchSeen *s = arg;
    for (int64_t i = begin; i < end; i++) {
        uint64_t call;
        s->mem[i] = rt_task_scratch(&s->ctx, s->bytes, &call);
    }
}

/* Under ASan or TSan a request of exabytes aborts unless the allocator may return NULL. */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

static void test_scratch_failure(void)
{
    for (int k = 0; k < NCOUNTS; k++) {
        RtPool *p = rt_pool_create(thread_counts[k]);
        CU_ASSERT_FATAL(p != NULL);
        static ScratchSeen s;
        memset(&s, 0, sizeof s);
        s.ctx.pool = p;
        s.bytes = INT64_MAX / 4;  /* no machine has it */
        rt_parallel(p, SCRATCH_CLAIMS, fail_scratch, &s);
        int all_null = 1;
        for (int i = 0; i < SCRATCH_CLAIMS; i++)
            all_null &= s.mem[i] == NULL;
        CU_ASSERT(all_null);
        CU_ASSERT_EQUAL(rt_pool_failed(p), 1);
        CU_ASSERT_EQUAL(rt_pool_failed(p), 0);
        s.bytes = 4096;
        rt_parallel(p, SCRATCH_CLAIMS, fail_scratch, &s);
        int none_null = 1;
        for (int i = 0; i < SCRATCH_CLAIMS; i++)
            none_null &= s.mem[i] != NULL;
        CU_ASSERT(none_null);
        CU_ASSERT_EQUAL(rt_pool_failed(p), 0);
        rt_pool_destroy(p);
    }
    RtCtx none = {0};
    uint64_t call;
    CU_ASSERT(rt_task_scratch(&none, INT64_MAX / 4, &call) == NULL);
    CU_ASSERT_EQUAL(rt_pool_failed(NULL), 1);
    CU_ASSERT_EQUAL(rt_pool_failed(NULL), 0);
}

/* ---- cost ---------------------------------------------------------------------------------- */

typedef struct Tiny { int64_t count[64]; } Tiny;

static void tiny(void *arg, int64_t begin, int64_t end)
{
    Tiny *t = arg;
    for (int64_t i = begin; i < end; i++)
        t->count[i]++;  /* plain: each index belongs to one chunk */
}

/* 10,000 calls of almost no work each: all complete, each index counted by
 * every call, at a cost per call printed here (and bounded loosely, as
 * sanitizers and a busy machine slow it down). */
static void test_many_tiny_calls(void)
{
    enum { CALLS = 10000 };
    for (int k = 0; k < NCOUNTS; k++) {
        RtPool *p = rt_pool_create(thread_counts[k]);
        CU_ASSERT_FATAL(p != NULL);
        Tiny t = {{0}};
        double start = now_us();
        for (int c = 0; c < CALLS; c++)
            rt_parallel(p, 64, tiny, &t);
        double us = (now_us() - start) / CALLS;
        int all = 1;
        for (int i = 0; i < 64; i++)
            all &= t.count[i] == CALLS;
        CU_ASSERT(all);
        CU_ASSERT(us < 2000);
        printf("\n    %d thread%s: %.2f us per rt_parallel", thread_counts[k], thread_counts[k] > 1 ? "s" : "", us);
        rt_pool_destroy(p);
    }
    printf("\n");
}

/* One claim far slower than the others: the waits outlast their spinning and
 * sleep (the caller for a slow worker, the workers for a slow caller). */
typedef struct Slow { Visits v; int64_t slow_begin; } Slow;

static void slow_visit(void *arg, int64_t begin, int64_t end)
{
    Slow *s = arg;
    if (begin == s->slow_begin) {
        struct timespec ms = {0, 3000000};
        nanosleep(&ms, NULL);
    }
    visit(&s->v, begin, end);
}

static void test_slow_chunk(void)
{
    for (int k = 1; k < NCOUNTS; k++) {
        int T = thread_counts[k];
        RtPool *p = rt_pool_create(T);
        CU_ASSERT_FATAL(p != NULL);
        for (int slow = 0; slow < 2; slow++) {  /* chunk 0 (a worker), then chunk T - 1 (the caller) */
            for (int rep = 0; rep < 3; rep++) {  /* the first claim, then the last */
                const int64_t n = 100;
                int64_t C = doc_claims(n, T);
                Slow s = {.v = {.n = n, .count = calloc(n, sizeof(atomic_int))}, .slow_begin = slow ? doc_start(n, C, T, C - 1) : 0};
                CU_ASSERT_FATAL(s.v.count != NULL);
                rt_parallel(p, n, slow_visit, &s);
                int once = 1;
                for (int64_t i = 0; i < n; i++)
                    once &= atomic_load(&s.v.count[i]) == 1;
                CU_ASSERT(once);
                CU_ASSERT_EQUAL(atomic_load(&s.v.calls), C);
                free(s.v.count);
            }
        }
        rt_pool_destroy(p);
    }
}

/* ---- a task of long claims wakes sleeping workers at the start of its next call ---------- */

/* A task of empty claims, and one of claims of 200 us (each its own
 * entry in the pool's table of long tasks). */
static void empty_visit(void *arg, int64_t begin, int64_t end) { visit(arg, begin, end); }

static void long_visit(void *arg, int64_t begin, int64_t end)
{
    nanosleep(&(struct timespec){0, 200000}, NULL);
    visit(arg, begin, end);
}

/* Waits (up to 2 s) until p's worker sleeps; whether it did. */
static int worker_asleep(RtPool *p)
{
    for (int i = 0; i < 2000 && rt_pool_test_sleepers(p) < 1; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    return rt_pool_test_sleepers(p) == 1;
}

/* Three calls of task (empty_visit or long_visit) over n items, each when
 * the worker has gone to sleep (every index once each call): the early
 * wakes so far after each call, in early[0..2]. */
static void three_calls(RtPool *p, RtTask task, int64_t n, int64_t early[3])
{
    int64_t before = rt_pool_test_early_wakes(p);
    for (int call = 0; call < 3; call++) {
        Visits v = {.n = n, .count = calloc(n, sizeof(atomic_int))};
        CU_ASSERT_FATAL(v.count != NULL);
        CU_ASSERT_FATAL(worker_asleep(p));
        rt_parallel(p, n, task, &v);
        int once = 1;
        for (int64_t i = 0; i < n; i++)
            once &= atomic_load(&v.count[i]) == 1;
        CU_ASSERT(once);
        free(v.count);
        early[call] = rt_pool_test_early_wakes(p) - before;
    }
}

/* Calls on two threads, each when the worker has gone to sleep: a task whose
 * claims take 200 us (more than WAKE_AFTER) wakes it after the caller's
 * first claim the first time, and at the start of every call after that; a
 * task of empty claims does not wake it early; the long task over another
 * n is remembered apart (its first call there is not woken early; the long
 * task's calls get 3 tries of new n's).  An empty first claim during
 * which the caller lost its CPU for 20 us counts as long (a loaded machine
 * does that now and then): the empty task gets 5 tries of three calls, and
 * must have one with no early wake (a pool that woke early for every task
 * fails all five). */
static void test_long_claims_wake_early(void)
{
    RtPool *p = rt_pool_create(2);
    CU_ASSERT_FATAL(p != NULL);
    int64_t early[3];
    int clean = 0;
    for (int try = 0; try < 5 && !clean; try++) {
        three_calls(p, empty_visit, 8, early);
        clean = early[2] == 0;
        if (!clean)
            printf("\n    empty claims, try %d: %lld early wakes", try + 1, (long long)early[2]);
    }
    CU_ASSERT(clean);
    /* The long task, over n items and then over n - 3: the first call of
     * each not woken early, the next two woken.  Each try takes new n (a
     * known n is woken at once), 3 tries: under ctest -j2 a stall (the
     * worker descheduled in its claim) sent the next calls, and every
     * later try, to the caller alone. */
    int woken = 0;
    for (int try = 0; try < 3 && !woken; try++) {
        int64_t late[3];
        /* a call whose worker lost its CPU counts as a stall, and the next
         * calls run on the caller alone, with no wakes: a try starts with
         * none left (leaving serial mode drops them) */
        rt_pool_set_serial(p, 1);
        rt_pool_set_serial(p, 0);
        three_calls(p, long_visit, 8 + try, early);
        three_calls(p, long_visit, 5 - try, late);
        woken = 1;
        for (int call = 0; call < 3; call++)
            woken &= early[call] == call && late[call] == call;
        if (!woken)
            printf("\n    long claims, try %d: early wakes %lld %lld %lld, then %lld %lld %lld", try + 1,
                   (long long)early[0], (long long)early[1], (long long)early[2], (long long)late[0],
                   (long long)late[1], (long long)late[2]);
    }
    CU_ASSERT(woken);
    rt_pool_destroy(p);
}

/* rt_parallel_awake with the worker asleep: the caller runs every claim and
 * the worker sleeps on, though the task's claims take 200 us (rt_parallel
 * wakes the worker after the first of them, and remembers the task over
 * that n as long: its next call wakes sleepers at its start).  The awake
 * calls leave no such record: the plain call after them does not wake
 * early (it would with the record: long_claims_wake_early). */
static void test_awake_call_leaves_sleepers(void)
{
    RtPool *p = rt_pool_create(2);
    CU_ASSERT_FATAL(p != NULL);
    int64_t early = rt_pool_test_early_wakes(p), caller0, workers0, caller, workers;
    rt_pool_claims(p, &caller0, &workers0);
    for (int call = 0; call < 2; call++) {
        Visits v = {.n = 8, .count = calloc(8, sizeof(atomic_int))};
        CU_ASSERT_FATAL(v.count != NULL);
        CU_ASSERT_FATAL(worker_asleep(p));
        rt_parallel_awake(p, 8, long_visit, &v);
        int once = 1;
        for (int64_t i = 0; i < 8; i++)
            once &= atomic_load(&v.count[i]) == 1;
        CU_ASSERT(once);
        CU_ASSERT_EQUAL(rt_pool_test_sleepers(p), 1);
        free(v.count);
    }
    rt_pool_claims(p, &caller, &workers);
    CU_ASSERT_EQUAL(workers - workers0, 0);
    CU_ASSERT_EQUAL(caller - caller0, 2 * doc_claims(8, 2));
    CU_ASSERT_EQUAL(rt_pool_test_early_wakes(p) - early, 0);
    Visits v = {.n = 8, .count = calloc(8, sizeof(atomic_int))};
    CU_ASSERT_FATAL(v.count != NULL);
    CU_ASSERT_FATAL(worker_asleep(p));
    rt_parallel(p, 8, long_visit, &v);  /* the awake calls left no record of their long claims */
    CU_ASSERT_EQUAL(rt_pool_test_early_wakes(p) - early, 0);
    free(v.count);
    rt_pool_destroy(p);
}

/* Whether the worker leaves its sleep within `ms` milliseconds (polled
 * every 0.1 ms); a worker with a test delay stays out of it that long. */
static int worker_wakes_within(RtPool *p, int ms)
{
    for (int i = 0; i < 10 * ms; i++) {
        if (rt_pool_test_sleepers(p) == 0)
            return 1;
        nanosleep(&(struct timespec){0, 100000}, NULL);
    }
    return 0;
}

/* Leaving serial mode wakes a sleeping worker, with no call (pace.c's probe
 * times its steps on the threads as a run of them gets them, not with the
 * worker waking during the first calls); staying in either mode wakes none.
 * The worker's test delay keeps it awake, and out of the sleepers' count,
 * for 300 ms after it wakes. */
static void test_leaving_serial_wakes_workers(void)
{
    RtPool *p = rt_pool_create(2);
    CU_ASSERT_FATAL(p != NULL);
    rt_pool_test_delay(p, 0, 300000);
    rt_pool_set_serial(p, 1);
    CU_ASSERT_FATAL(worker_asleep(p));
    rt_pool_set_serial(p, 1);
    CU_ASSERT_FALSE(worker_wakes_within(p, 50));
    rt_pool_set_serial(p, 0);
    CU_ASSERT(worker_wakes_within(p, 250));
    CU_ASSERT_FATAL(worker_asleep(p));
    rt_pool_set_serial(p, 0);  /* already on the threads */
    CU_ASSERT_FALSE(worker_wakes_within(p, 50));
    Visits v = {.n = 8, .count = calloc(8, sizeof(atomic_int))};
    CU_ASSERT_FATAL(v.count != NULL);
    rt_pool_test_delay(p, 0, 0);
    rt_parallel(p, 8, long_visit, &v);  /* the pool works on after the empty generation */
    int once = 1;
    for (int64_t i = 0; i < 8; i++)
        once &= atomic_load(&v.count[i]) == 1;
    CU_ASSERT(once);
    free(v.count);
    rt_pool_destroy(p);
}

/* rt_pool_claims counts every claim of the parallel calls once, on the
 * caller's side or the workers', and none of the calls that run on the
 * caller as one range (serial mode, one item, one thread). */
static void test_claims_counted(void)
{
    for (int k = 0; k < NCOUNTS; k++) {
        int T = thread_counts[k];
        RtPool *p = rt_pool_create(T);
        CU_ASSERT_FATAL(p != NULL);
        for (int c = 0; c < 10; c++)
            check_visits(p, 1000);
        check_visits(p, 1);
        rt_pool_set_serial(p, 1);
        Visits v = {.n = 1000, .count = calloc(1001, sizeof(atomic_int))};
        CU_ASSERT_FATAL(v.count != NULL);
        rt_parallel(p, 1000, visit, &v);
        CU_ASSERT_EQUAL(atomic_load(&v.calls), 1);  /* one range */
        free(v.count);
        rt_pool_set_serial(p, 0);
        int64_t caller, workers;
        rt_pool_claims(p, &caller, &workers);
        CU_ASSERT_EQUAL(caller + workers, T == 1 ? 0 : 10 * doc_claims(1000, T));
        rt_pool_destroy(p);
    }
}

/* Pools come and go: destroyed at once, after one call, after a pause that
 * puts the workers to sleep; every worker is joined (ASan and TSan check). */
static void test_create_destroy(void)
{
    for (int i = 0; i < 60; i++) {
        RtPool *p = rt_pool_create(1 + i % 4);
        CU_ASSERT_FATAL(p != NULL);
        if (i % 3 >= 1)
            check_visits(p, 100);
        if (i % 3 == 2) {
            struct timespec ms = {0, 2000000};
            nanosleep(&ms, NULL);
            check_visits(p, 100);  /* wakes sleeping workers */
        }
        rt_pool_destroy(p);
    }
}

static const RtTestCase tests[] = {
    {"every_index_once", test_every_index_once},
    {"small_n", test_small_n},
    {"null_pool", test_null_pool},
    {"documented_claims", test_documented_claims},
    {"delayed_worker", test_delayed_worker},
    {"late_worker_in_stream", test_late_worker_in_stream},
    {"workers_own_segments", test_workers_own_segments},
    {"stalled_worker_goes_solo", test_stalled_worker_goes_solo},
    {"workers_take_part", test_workers_take_part},
    {"sums_bit_identical", test_sums_bit_identical},
    {"sums_under_contention", test_sums_under_contention},
    {"scratch_per_thread", test_scratch_per_thread},
    {"scratch_outside_calls", test_scratch_outside_calls},
    {"scratch_failure", test_scratch_failure},
    {"slow_chunk", test_slow_chunk},
    {"many_tiny_calls", test_many_tiny_calls},
    {"create_destroy", test_create_destroy},
    {"long_claims_wake_early", test_long_claims_wake_early},
    {"awake_call_leaves_sleepers", test_awake_call_leaves_sleepers},
    {"claims_counted", test_claims_counted},
    {"leaving_serial_wakes_workers", test_leaving_serial_wakes_workers},
    {NULL, NULL},
};

void register_rt_pool(void) { rt_add_suite("pool", tests); }
