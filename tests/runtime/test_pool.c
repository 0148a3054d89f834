/* test_pool.c — rt_parallel: every index once, the documented static split,
 * the same bits whatever the number of threads, and a small cost per call. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt_harness.h"

static const int thread_counts[] = {1, 2, 3, 8};
enum { NCOUNTS = sizeof thread_counts / sizeof thread_counts[0] };

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Chunk t of T over [0, n) as documented: [t·n/T, (t+1)·n/T), in 128 bits. */
static int64_t doc_start(int64_t n, int T, int t) { return (int64_t)((__int128)t * n / T); }

/* How many of the T chunks are not empty. */
static int nonempty_chunks(int64_t n, int T)
{
    int k = 0;
    for (int t = 0; t < T; t++)
        k += doc_start(n, T, t) < doc_start(n, T, t + 1);
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

/* n = 0 calls nothing; n < threads leaves chunks empty, which are skipped. */
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

/* ---- the static split ------------------------------------------------------------------- */

typedef struct Chunks {
    atomic_int k;
    int64_t    begin[8], end[8];  /* written by each chunk into its own slot */
    pthread_t  who[8];
} Chunks;

static void record(void *arg, int64_t begin, int64_t end)
{
    Chunks *c = arg;
    int i = atomic_fetch_add(&c->k, 1);
    if (i < 8) {
        c->begin[i] = begin;
        c->end[i] = end;
        c->who[i] = pthread_self();
    }
}

/* The chunks of one call are exactly the documented split minus the empty
 * ones; the caller runs the last; every chunk has a thread of its own. */
static void check_split(RtPool *p, int64_t n)
{
    int T = rt_pool_threads(p);
    Chunks c = {0};
    rt_parallel(p, n, record, &c);
    int k = atomic_load(&c.k);
    CU_ASSERT_EQUAL_FATAL(k, nonempty_chunks(n, T));
    int j = 0;
    for (int t = 0; t < T; t++) {
        int64_t b = doc_start(n, T, t), e = doc_start(n, T, t + 1);
        if (b == e)
            continue;
        int found = -1;
        for (int i = 0; i < k; i++)
            if (c.begin[i] == b && c.end[i] == e)
                found = i;
        CU_ASSERT(found >= 0);
        if (found < 0)
            continue;
        /* chunk T - 1 on the caller, the others not */
        CU_ASSERT_EQUAL(pthread_equal(c.who[found], pthread_self()) != 0, t == T - 1);
        for (int i = 0; i < k; i++)
            if (i != found)
                CU_ASSERT(!pthread_equal(c.who[i], c.who[found]));
        j++;
    }
    CU_ASSERT_EQUAL(j, k);
}

static void test_static_split(void)
{
    static const int64_t sizes[] = {1, 2, 3, 7, 8, 9, 10, 100, 1001, INT64_MAX / 2, INT64_MAX};
    for (int k = 0; k < NCOUNTS; k++) {
        RtPool *p = rt_pool_create(thread_counts[k]);
        CU_ASSERT_FATAL(p != NULL);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            check_split(p, sizes[s]);
        rt_pool_destroy(p);
    }
    check_split(NULL, 5);
}

/* The chunks of one call run at the same time: each waits (up to 10 s) for
 * all the others to arrive. */
typedef struct Meet { atomic_int arrived; int want; atomic_int timed_out; } Meet;

static void meet(void *arg, int64_t begin, int64_t end)
{
    Meet *m = arg;
    atomic_fetch_add(&m->arrived, 1);
    double until = now_us() + 10e6;
    while (atomic_load(&m->arrived) < m->want)
        if (now_us() > until) {
            atomic_store(&m->timed_out, 1);
            return;
        }
        else
            sched_yield();
}

static void test_chunks_concurrent(void)
{
    for (int k = 1; k < NCOUNTS; k++) {
        int T = thread_counts[k];
        RtPool *p = rt_pool_create(T);
        CU_ASSERT_FATAL(p != NULL);
        Meet m = {.want = T};
        rt_parallel(p, T, meet, &m);
        CU_ASSERT_EQUAL(atomic_load(&m.arrived), T);
        CU_ASSERT_EQUAL(atomic_load(&m.timed_out), 0);
        rt_pool_destroy(p);
    }
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

/* One chunk far slower than the others: the waits outlast their spinning and
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
            for (int rep = 0; rep < 3; rep++) {
                const int64_t n = 100;
                Slow s = {.v = {.n = n, .count = calloc(n, sizeof(atomic_int))}, .slow_begin = slow ? doc_start(n, T, T - 1) : 0};
                CU_ASSERT_FATAL(s.v.count != NULL);
                rt_parallel(p, n, slow_visit, &s);
                int once = 1;
                for (int64_t i = 0; i < n; i++)
                    once &= atomic_load(&s.v.count[i]) == 1;
                CU_ASSERT(once);
                CU_ASSERT_EQUAL(atomic_load(&s.v.calls), T);
                free(s.v.count);
            }
        }
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
    {"static_split", test_static_split},
    {"chunks_concurrent", test_chunks_concurrent},
    {"sums_bit_identical", test_sums_bit_identical},
    {"slow_chunk", test_slow_chunk},
    {"many_tiny_calls", test_many_tiny_calls},
    {"create_destroy", test_create_destroy},
    {NULL, NULL},
};

void register_rt_pool(void) { rt_add_suite("pool", tests); }
