/* npz_load.c — times rt_npz_load (the npz(...) data source) on one archive:
 * an input x f32[784] and a target y class(10), Fashion-MNIST's sizes.
 * usage: npz_load FILE ROUNDS; prints one line of seconds per round. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nnc_runtime.h"

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    RtTensorSpec in = {.name = "x", .rank = 2, .shape = {-1, 784}, .dtype = RT_F32};
    RtTensorSpec tg = {.name = "y", .rank = 1, .shape = {-1}, .dtype = RT_I32, .classes = 10};
    RtModel m = {.name = "m", .inputs = &in, .ninputs = 1, .targets = &tg, .ntargets = 1};
    for (int r = 0; r < atoi(argv[2]); r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        RtDataset d;
        char err[512];
        if (rt_npz_load(argv[1], &m, &d, err, sizeof err) != 0) {
            fprintf(stderr, "npz_load: %s\n", err);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%s%.4f", r ? " " : "", (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec));
        rt_dataset_free(&d);
    }
    putchar('\n');
    return 0;
}
