/* bench/pool_overhead.c — what an rt_parallel call costs, and the work a
 * call needs before two threads beat one (the break-even).
 *
 *   cc -O2 -march=native -pthread -Iruntime/include bench/pool_overhead.c build/libnncrt.a -lm -o build/pool_overhead
 *   build/pool_overhead [THREADS]
 *
 * A call's work is F FLOPs of FMAs on registers (no memory traffic: the
 * best case for threads), cut into 8 items like a small kernel.  For each F,
 * calls alternate between rt_parallel on a pool of THREADS (default 2) and
 * the same task called directly on one thread, in blocks, and the median
 * microseconds per call of each are printed with their ratio; the empty
 * task's time is the fixed cost of a call.  The break-even is the smallest F
 * at which the pool's call is faster.  On a loaded machine run it a few
 * times: a preempted worker shows as a slow block, the medians absorb some.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nnc_runtime.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

typedef struct Work {
    int64_t flops_per_item;   /* 2 per lane per FMA */
    float   sink[64];
} Work;

/* 16 accumulators of 16 lanes (the compiler keeps them in registers with
 * -march=native): flops_per_item / 512 rounds of 16 FMAs. */
static void task(void *arg, int64_t begin, int64_t end)
{
    Work *w = arg;
    typedef float v16 __attribute__((vector_size(64)));
    v16 acc[16] = {0}, x = {0}, y = {0};
    for (int i = 0; i < 16; i++)
        x[i] = 1.0f + (float)i * 1e-7f, y[i] = 0.999999f;
    int64_t rounds = (end - begin) * w->flops_per_item / (16 * 16 * 2);
    for (int64_t r = 0; r < rounds; r++)
        for (int a = 0; a < 16; a++)
            acc[a] = acc[a] * y + x;
    float s = 0;
    for (int a = 0; a < 16; a++)
        for (int i = 0; i < 16; i++)
            s += acc[a][i];
    w->sink[begin & 63] = s;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    RtPool *p = rt_pool_create(threads);
    enum { ITEMS = 8, BLOCKS = 21, CALLS = 50 };
    static const int64_t flops[] = {0, 2048, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576, 4194304};
    printf("pool of %d threads; a call = %d items; us per call, medians of %d blocks of %d calls\n", threads, ITEMS,
           BLOCKS, CALLS);
    printf("%10s %10s %10s %8s\n", "FLOPs", "pool", "direct", "ratio");
    int64_t even = -1;
    double even_us = 0;
    for (size_t f = 0; f < sizeof flops / sizeof *flops; f++) {
        Work w = {.flops_per_item = flops[f] / ITEMS};
        double tp[BLOCKS], td[BLOCKS];
        for (int b = 0; b < BLOCKS; b++) {
            double t0 = now_us();
            for (int i = 0; i < CALLS; i++)
                rt_parallel(p, ITEMS, task, &w);
            double t1 = now_us();
            for (int i = 0; i < CALLS; i++)
                task(&w, 0, ITEMS);
            double t2 = now_us();
            tp[b] = (t1 - t0) / CALLS, td[b] = (t2 - t1) / CALLS;
        }
        qsort(tp, BLOCKS, sizeof *tp, cmp);
        qsort(td, BLOCKS, sizeof *td, cmp);
        double mp = tp[BLOCKS / 2], md = td[BLOCKS / 2];
        printf("%10lld %10.3f %10.3f %8.2f\n", (long long)flops[f], mp, md, md > 0 ? mp / md : 0.0);
        if (even < 0 && flops[f] > 0 && mp < md)
            even = flops[f], even_us = md;
    }
    if (even > 0)
        printf("break-even: the pool is faster from %lld FLOPs a call (%.1f us of work on one thread)\n",
               (long long)even, even_us);
    else
        printf("break-even: not reached\n");
    rt_pool_destroy(p);
    return 0;
}
