/* embed_latency.c — time mnist_mlp_forward through the library nnc wrote:
 * prints the median over ROUNDS rounds of the mean time of one call, in
 * microseconds, for a batch size.  Built and run by embed_latency.py.
 *
 * usage: embed_latency BATCH CALLS_PER_ROUND ROUNDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mnist_mlp.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    long batch = atol(argv[1]), calls = atol(argv[2]), rounds = atol(argv[3]);
    float *x = malloc(sizeof *x * (size_t)batch * MNIST_MLP_IMAGE_SIZE);
    float *out = malloc(sizeof *out * (size_t)batch * MNIST_MLP_OUTPUT_SIZE);
    for (long i = 0; i < batch * MNIST_MLP_IMAGE_SIZE; i++)
        x[i] = (float)(i % 255) / 255.0f;
    mnist_mlp *m = mnist_mlp_create(1);
    double *us = malloc(sizeof *us * (size_t)rounds);
    for (long i = 0; i < calls; i++)  /* warm up */
        mnist_mlp_forward(m, batch, x, out);
    for (long r = 0; r < rounds; r++) {
        double t0 = now();
        for (long i = 0; i < calls; i++)
            mnist_mlp_forward(m, batch, x, out);
        us[r] = (now() - t0) / (double)calls * 1e6;
    }
    qsort(us, (size_t)rounds, sizeof *us, cmp);
    printf("%.3f\n", us[rounds / 2]);
    mnist_mlp_destroy(m);
    free(x);
    free(out);
    free(us);
    return 0;
}
