/* bench/allgather.c — what the cost model of docs/distributed.md needs to
 * know about this machine's (or cluster's) MPI: the time of MPI_Allgather of
 * one model's gradient bytes per rank, as nnc's reduction sends them, median
 * of 50 after 5 warm-ups, and the bandwidth it implies (bytes received per
 * rank, (N - 1) x size, over the time).
 *
 *   mpicc -O2 bench/allgather.c -o /tmp/allgather
 *   mpirun -np 2 /tmp/allgather 407080 1686568 3272964
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    enum { WARM = 5, RUNS = 50 };
    for (int a = 1; a < argc; a++) {
        long bytes = atol(argv[a]);
        char *send = calloc((size_t)bytes, 1), *recv = calloc((size_t)bytes * (size_t)size, 1);
        double t[RUNS];
        for (int i = 0; i < WARM + RUNS; i++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
            if (i >= WARM)
                t[i - WARM] = MPI_Wtime() - t0;
        }
        qsort(t, RUNS, sizeof *t, by_value);
        if (rank == 0)
            printf("%d ranks, %ld bytes each: %.3f ms median (%.3f best), %.2f GB/s received per rank\n", size, bytes,
                   1e3 * t[RUNS / 2], 1e3 * t[0], (double)bytes * (size - 1) / t[RUNS / 2] / 1e9);
        free(send);
        free(recv);
    }
    MPI_Finalize();
    return 0;
}
