/* bench/gemm.c — the tiled matmul alone: dense(x, N) over a batch of M rows
 * of K (x·Wᵀ + bias: one matmul_epi kernel) through the library nnc writes,
 * on one thread (a library runs on its caller's thread), against the FMA
 * loop of bench/peak.c run in the same process between the rounds.
 * Built and run by bench/gemm.sh, which writes the model.
 *
 * usage: gemm FLOPS_PER_CALL CALLS ROUNDS M
 *
 * Both are timed in CPU time (clock()), round after round alternately, and
 * each round's fraction is the product's GFLOP/s over the FMA loop's of the
 * next moment: on a shared machine both suffer alike (this VM has no
 * hardware counters for perf stat's cycles).  Prints the medians and the
 * best round. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fma.h"  /* bench/peak.c's loop */
#include "mm.h"

static double cpu(void) { return (double)clock() / CLOCKS_PER_SEC; }

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    double flops = atof(argv[1]);
    long calls = atol(argv[2]), rounds = atol(argv[3]), M = atol(argv[4]);
    float *x = malloc(sizeof *x * MM_X_SIZE * (size_t)M), *out = malloc(sizeof *out * MM_OUTPUT_SIZE * (size_t)M);
    double *gf = malloc(sizeof *gf * (size_t)rounds), *pk = malloc(sizeof *pk * (size_t)rounds);
    double *fr = malloc(sizeof *fr * (size_t)rounds);
    mm *m = mm_create(1);
    if (!x || !out || !gf || !pk || !fr || !m)
        return 1;
    for (long i = 0; i < MM_X_SIZE * M; i++)
        x[i] = (float)(i % 255) / 255.0f;
    for (long i = 0; i < calls; i++)  /* warm up: scratch memory, caches; a failing call fails here */
        if (mm_forward(m, M, x, out) != 0) {
            fprintf(stderr, "gemm: %s\n", mm_last_error(m));
            return 1;
        }
    for (long r = 0; r < rounds; r++) {
        double t0 = cpu();
        for (long i = 0; i < calls; i++)
            mm_forward(m, M, x, out);
        gf[r] = flops * (double)calls / (cpu() - t0) / 1e9;
        t0 = cpu();
        double f = fma_loop(5000000);
        pk[r] = f / (cpu() - t0) / 1e9;
        fr[r] = gf[r] / pk[r];
    }
    qsort(gf, (size_t)rounds, sizeof *gf, cmp);
    qsort(pk, (size_t)rounds, sizeof *pk, cmp);
    qsort(fr, (size_t)rounds, sizeof *fr, cmp);
    printf("%.1f GFLOP/s (best %.1f); FMA loop %.1f; fraction %.3f (best %.3f)\n", gf[rounds / 2], gf[rounds - 1],
           pk[rounds / 2], fr[rounds / 2], fr[rounds - 1]);
    mm_destroy(m);
    return 0;
}
