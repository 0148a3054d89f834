/* check_trace.c — the pool's per-call trace (runtime/pool_trace.c), built
 * here with RT_POOL_TRACE as `cmake -DNNC_POOL_TRACE=ON` builds it, so that
 * a change to the hooks or to RtTask cannot break it unseen: a child
 * process runs a pool of 2 threads over n = 1, 5 and 1000 items twice with
 * NNC_POOL_TRACE=FILE and exits; FILE must name rt_parallel's address in
 * its header, then hold a line per call with the task, n, its claims (1
 * for one item; min(n, 8) on two threads), the caller's share of them (all
 * of one claim; on the threads what rt_trace_caller_done counted, and a
 * worker's first claim's time when the caller ran fewer than all), and
 * start <= caller_done <= end.  Exit status 0 when it does. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nnc_runtime.h"
#include "pool_trace.h"

static atomic_llong visited;

/* Counts the items; a claim of the long call spins 1 ms, so that the
 * worker has time to wake and take some (its first claim's time is then
 * checked; when the caller ran them all, there is none to check). */
static void count(void *arg, int64_t begin, int64_t end)
{
    (void)arg;
    atomic_fetch_add(&visited, end - begin);
    if (end - begin > 10) {
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do
            clock_gettime(CLOCK_MONOTONIC, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 1000000);
    }
}

static const int64_t sizes[] = {1, 5, 1000, 1, 5, 1000};
enum { CALLS = sizeof sizes / sizeof sizes[0] };

static int fail(const char *what)
{
    fprintf(stderr, "check_trace: %s\n", what);
    return 1;
}

int main(void)
{
    char path[] = "/tmp/nnc_pool_traceXXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return fail("no temporary file");
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("NNC_POOL_TRACE", path, 1);
        RtPool *p = rt_pool_create(2);
        for (int i = 0; i < CALLS; i++)
            rt_parallel(p, sizes[i], count, NULL);
        rt_pool_destroy(p);
        exit(atomic_load(&visited) == 2 * (1 + 5 + 1000) ? 0 : 3);  /* the trace is written at exit */
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail("the traced child failed");
    FILE *f = fopen(path, "r");
    if (!f)
        return fail("no trace written");
    char line[512], want[64];
    snprintf(want, sizeof want, "# rt_parallel %p\n", (void *)rt_parallel);
    int bad = !fgets(line, sizeof line, f) || strcmp(line, want) != 0;
    bad |= !fgets(line, sizeof line, f) || line[0] != '#';  /* the columns */
    int calls = 0;
    void *task;
    long long n, claims, mine;
    double start, done, end, first;
    int sleepers, column;   /* the kind's number, as the trace writes it */
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%p %lld %lld %lld %lf %lf %lf %lf %d %d", &task, &n, &claims, &mine, &start, &done, &end, &first,
                   &sleepers, &column) != 10 || calls >= CALLS || column < 0 || column >= TRACE_KINDS) {
            bad = 1;
            break;
        }
        RtTraceKind kind = (RtTraceKind)column;
        long long C = n == 1 ? 1 : n < 8 ? n : 8;
        bad |= task != (void *)count || n != sizes[calls] || claims != C || mine < 0 || mine > C;
        bad |= !(start <= done && done <= end) || (n == 1) != (kind == TRACE_ONE);
        bad |= kind == TRACE_THREADS && mine < C && first < 0;  /* a worker ran a claim: when it began */
        calls++;
    }
    fclose(f);
    unlink(path);
    if (bad || calls != CALLS) {
        fprintf(stderr, "check_trace: %d calls traced, %d expected; bad lines: %d\n", calls, CALLS, bad);
        return 1;
    }
    return 0;
}
