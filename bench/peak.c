/*
 * peak.c — what this machine can do at most, measured now: the f32
 * multiply-add peak on one core and on all of them, and the memory
 * bandwidth, so every bench can say how far from the machine nnc is
 * (bench/benchlib.py builds and runs this beside each bench).
 *
 *   cc -O2 -march=native -pthread bench/peak.c -o peak && ./peak [--pair] [--json]
 *
 * The FMA loop (bench/fma.h, also gemm.c's yardstick) keeps 12 independent
 * accumulators of 16 floats: with -march=native one zmm FMA per accumulator
 * on AVX-512, two ymm on AVX2: either way it is the CPU's peak.  The
 * bandwidth is a vectorized sum over 512 MiB, larger than any cache.  Each
 * figure is the best of several repetitions: a shared machine only ever
 * takes speed away.
 *
 * `peak --pair` measures instead how far apart the first two CPUs the
 * process may run on are: the round trip of a cache line between threads
 * pinned to them.  A virtual machine's two vCPUs may sit on one L3 or on
 * two, and the host moves them between runs (session 34: 49-150 ns and
 * 310-405 ns on the same VM, minutes apart); two threads sharing data run
 * slower on two L3s, so a bench of two threads says which it had.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fma.h"

enum { FMA_ITERS = 20000000, REPEATS = 5 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static volatile float sink;

typedef struct Job {
    pthread_barrier_t *go;
    const float *data;
    size_t n;
    double flops;
    int bandwidth;
    double start, end;  /* this thread's own clock: see measure */
} Job;

static double sum_loop(const float *x, size_t n)
{
    v16 s[4] = {0};
    const v16 *v = (const v16 *)x;
    for (size_t i = 0; i + 4 <= n / 16; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += v[i + k];
    v16 t = s[0] + s[1] + s[2] + s[3];
    float r = 0;
    for (int i = 0; i < 16; i++)
        r += t[i];
    return r;
}

static void *work(void *arg)
{
    Job *j = arg;
    pthread_barrier_wait(j->go);
    j->start = now();
    if (j->bandwidth)
        sink = (float)sum_loop(j->data, j->n);
    else
        j->flops = fma_loop(FMA_ITERS);
    j->end = now();
    return NULL;
}

/* The best rate over REPEATS runs on `threads` threads: GFLOP/s, or GB/s
 * when data is given (each thread sums its own slice).  The span is from
 * the first thread's start to the last one's end, each read by the thread
 * itself: with a thread per CPU, the main thread that leaves the barrier
 * last may find every CPU taken and read the clock a time slice after the
 * threads began (the two-core peak read 234.7-253.1 GFLOP/s, 2.00-2.16
 * times one core's 116.5-117.2: session 34). */
static double measure(int threads, const float *data, size_t n)
{
    double best = 0;
    for (int r = 0; r < REPEATS; r++) {
        pthread_t t[256];
        Job job[256];
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
        for (int i = 0; i < threads; i++) {
            size_t part = n / (size_t)threads / 64 * 64;
            job[i] = (Job){.go = &go, .data = data ? data + (size_t)i * part : NULL, .n = part, .bandwidth = data != NULL};
            pthread_create(&t[i], NULL, work, &job[i]);
        }
        pthread_barrier_wait(&go);
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        double start = job[0].start, end = job[0].end, amount = 0;
        for (int i = 0; i < threads; i++) {
            start = job[i].start < start ? job[i].start : start;
            end = job[i].end > end ? job[i].end : end;
            amount += data ? (double)job[i].n * sizeof(float) : job[i].flops;
        }
        double seconds = end - start;
        if (amount / seconds > best)
            best = amount / seconds;
    }
    return best / 1e9;
}

/* --pair: a line bounced between two pinned threads, each waiting for the
 * other's number before writing its own: PAIR_ROUNDS rounds of BOUNCES
 * round trips, the least kept (a time slice lost to another process only
 * adds).  The partner says first whether it could be pinned (ready). */
enum { BOUNCES = 5000, PAIR_ROUNDS = 20 };

static _Alignas(64) atomic_long ball;
static _Alignas(64) atomic_int ready;  /* 0 until the partner is pinned (1) or could not be (-1) */

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* The partner's side of every round: the odd numbers. */
static void bounce(long first)
{
    for (long i = first; i < 2L * BOUNCES * PAIR_ROUNDS; i += 2) {
        while (atomic_load_explicit(&ball, memory_order_acquire) != i)
            ;
        atomic_store_explicit(&ball, i + 1, memory_order_release);
    }
}

static void *pair_partner(void *cpu)
{
    int ok = pin(*(int *)cpu) == 0;
    atomic_store(&ready, ok ? 1 : -1);
    if (ok)
        bounce(1);
    return NULL;
}

/* Nanoseconds of one round trip between the first two allowed CPUs (the
 * least of PAIR_ROUNDS rounds), or -1 when there are not two or they
 * cannot be pinned. */
static double pair_round_trip(void)
{
    cpu_set_t allowed;
    int cpus[2], found = 0;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return -1;
    for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
        if (CPU_ISSET(c, &allowed))
            cpus[found++] = c;
    if (found < 2 || pin(cpus[0]) != 0)
        return -1;
    atomic_store(&ball, 0);
    atomic_store(&ready, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, pair_partner, &cpus[1]) != 0)
        return -1;
    while (atomic_load(&ready) == 0)
        ;
    double best = -1;
    if (atomic_load(&ready) > 0)
        for (long r = 0; r < PAIR_ROUNDS; r++) {
            long from = 2L * BOUNCES * r;
            double start = now();
            for (long i = from; i < from + 2L * BOUNCES; i += 2) {
                while (atomic_load_explicit(&ball, memory_order_acquire) != i)
                    ;
                atomic_store_explicit(&ball, i + 1, memory_order_release);
            }
            while (atomic_load_explicit(&ball, memory_order_acquire) != from + 2L * BOUNCES)
                ;  /* the partner's last answer of the round */
            double ns = (now() - start) / BOUNCES * 1e9;
            best = best < 0 || ns < best ? ns : best;
        }
    pthread_join(t, NULL);
    return best;
}

static void cpu_name(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                snprintf(buf, len, "%s", colon + 2);
                buf[strcspn(buf, "\n")] = 0;
            }
            break;
        }
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    int json = 0, pair = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--pair") == 0)
            pair = 1;
        else {
            fprintf(stderr, "usage: peak [--pair] [--json]\n");
            return 2;
        }
    }
    if (pair) {
        double ns = pair_round_trip();
        if (ns < 0)
            fprintf(stderr, "peak: --pair needs two CPUs this process may be pinned to\n");
        else
            printf(json ? "{\"pair_ns\": %.0f}\n" : "a cache line's round trip between two CPUs: %.0f ns\n", ns);
        return ns < 0;
    }
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cores > 256)
        cores = 256;
    size_t n = (size_t)1 << 27;   /* 512 MiB of floats */
    float *data = aligned_alloc(64, n * sizeof(float));
    if (!data)
        return 1;
    for (size_t i = 0; i < n; i++)
        data[i] = (float)(i & 1023);
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    double f1 = measure(1, NULL, 0), fa = measure(cores, NULL, 0);
    double b1 = measure(1, data, n), ba = measure(cores, data, n);
    free(data);
    if (json)
        printf("{\"cpu\": \"%s\", \"cores\": %d, \"fma_gflops_1\": %.1f, \"fma_gflops_all\": %.1f, "
               "\"read_gbs_1\": %.1f, \"read_gbs_all\": %.1f}\n",
               cpu, cores, f1, fa, b1, ba);
    else
        printf("%s, %d cores\nf32 FMA peak: %.1f GFLOP/s on one core, %.1f on %d\n"
               "memory read:  %.1f GB/s on one core, %.1f on %d\n",
               cpu, cores, f1, fa, cores, b1, ba, cores);
    return 0;
}
