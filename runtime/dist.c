/* dist.c — data-parallel training over MPI: which rank this process is, its
 * slice of each batch, and the gradient allreduce the compiled step calls.
 * See docs/distributed.md and the "data-parallel training" part of
 * nnc_runtime.h.
 *
 * MPI is process-wide state, so this module is too: one world per process,
 * set up by rt_dist_init before anything trains.  A process that was not
 * started by mpirun (no OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK in its
 * environment) never initialises MPI at all: one rank, no library calls,
 * nothing changes.  Built without MPI (NNC_HAVE_MPI undefined) the module
 * still links, and refuses to be one of several ranks.
 *
 * The reduction.  Rank r computes the mean gradient g_r over its b_r
 * examples of the global batch's B; the step needs the mean over all B:
 * sum over r of (b_r / B) g_r.  Each bucket (compiler/passes/buckets.c) is
 * gathered whole from every rank with MPI_Iallgather, which only moves
 * bytes, and every rank then sums the ranks' parts in rank order, in
 * double: the same bits on every rank, and the same bits for a given N
 * whatever algorithm, message size or network the MPI library picks
 * (Open MPI's own allreduce chooses its summation tree by size, and never
 * equals one process's order anyway).  The price is bandwidth: N - 1 parts
 * in per rank instead of a ring's 2 (N - 1) / N, fine at the 2-8 ranks
 * of one machine or a small cluster (docs/distributed.md, the cost model).
 *
 * Overlap.  rt_allreduce_start copies a gradient into its bucket as soon as
 * the step has computed it, and the bucket leaves when its last member is
 * in; rt_allreduce_wait, just before the update, waits for it.  Open MPI
 * moves a non-blocking collective on only inside MPI calls, so every start
 * also tests the buckets in flight.  NNC_DIST_OVERLAP=0 sends every bucket
 * at its first wait instead (for measuring what the overlap saves).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef NNC_HAVE_MPI
#include <mpi.h>
#endif

#include "include/nnc_runtime.h"
#include "rt_internal.h"

typedef struct Bucket {
    uint8_t *send;      /* [elems · real]: this rank's gradients */
    uint8_t *recv;      /* [size][elems · real]: every rank's, in rank order (size 1: send) */
    int64_t  bytes;     /* elems · real */
    double  *acc;       /* [elems]: a member's sum while it is reduced */
    int      filled;    /* members started this step */
    int      waited;    /* members waited for this step */
    int      flying;    /* sent and not yet known to have arrived */
#ifdef NNC_HAVE_MPI
    MPI_Request req;
#endif
} Bucket;

static struct {
    int          rank, size;
    int          mpi;       /* MPI_Init was called (and MPI_Finalize is due) */
    int          overlap;   /* send a bucket when full (1), or at its first wait (0) */
    int64_t      batch;     /* the global batch of the step running */
    Bucket      *b;
    int          nb;
    RtDistStats  stats;
} D = {.rank = 0, .size = 1, .overlap = 1};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The world size the launcher announced, or 0 when there is none. */
static int launched_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0)
            return atoi(v);
    }
    return getenv("PMIX_RANK") ? 1 : 0;
}

int rt_dist_available(void)
{
#ifdef NNC_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int rt_dist_init(char *err, size_t errlen)
{
    int n = launched_size();
    const char *ov = getenv("NNC_DIST_OVERLAP");
    D.overlap = !(ov && strcmp(ov, "0") == 0);
#ifdef NNC_HAVE_MPI
    if (n == 0)
        return 0;   /* not started by mpirun: one process, MPI untouched */
    int provided = 0;
    /* only the thread that runs the step calls MPI; the pool's workers never do */
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return rt_fail(1, err, errlen, "MPI_Init failed");
    D.mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &D.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &D.size);
    return 0;
#else
    if (n > 1)
        return rt_fail(1, err, errlen,
                       "started as one of %d ranks (mpirun), but this build has no MPI: install libopenmpi-dev "
                       "(scripts/setup does) and rebuild, or run one process without mpirun", n);
    return 0;
#endif
}

void rt_dist_finalize(void)
{
    for (int i = 0; i < D.nb; i++) {
        free(D.b[i].send);
        free(D.b[i].acc);
        if (D.b[i].recv != D.b[i].send)
            free(D.b[i].recv);
    }
    free(D.b);
    D.b = NULL, D.nb = 0;
#ifdef NNC_HAVE_MPI
    if (D.mpi)
        MPI_Finalize();
    D.mpi = 0;
#endif
}

int rt_dist_rank(void) { return D.rank; }
int rt_dist_size(void) { return D.size; }

void rt_dist_shard(int64_t batch, int rank, int size, int64_t *first, int64_t *count)
{
    int64_t q = batch / size, extra = batch % size;
    *count = q + (rank < extra);
    *first = rank * q + (rank < extra ? rank : extra);
}

void rt_dist_gather(const double *mine, int n, double *all)
{
#ifdef NNC_HAVE_MPI
    if (D.mpi && D.size > 1) {
        MPI_Allgather(mine, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD);
        return;
    }
#endif
    memcpy(all, mine, sizeof *mine * (size_t)n);
}

void rt_dist_barrier(void)
{
#ifdef NNC_HAVE_MPI
    if (D.mpi && D.size > 1)
        MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void rt_dist_set_batch(int64_t batch) { D.batch = batch; }

void rt_dist_stats(RtDistStats *out) { *out = D.stats; }

/* A bug or out of memory inside a collective: the other ranks would wait
 * forever, so the whole job stops. */
static void fatal(const char *why)
{
    fprintf(stderr, "nnc: error: rank %d: %s; stopping every rank\n", D.rank, why);
#ifdef NNC_HAVE_MPI
    if (D.mpi)
        MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    abort();
}

static Bucket *bucket(int64_t k, int64_t elems, int64_t real)
{
    int64_t bytes = elems * real;
    if (k < 0 || bytes <= 0)
        fatal("an allreduce that no bucket was planned for (internal error)");
    if (k >= D.nb) {
        Bucket *nb = rt_realloc(D.b, sizeof *nb * (size_t)(k + 1));
        if (!nb)
            fatal("out of memory for the allreduce buckets");
        memset(nb + D.nb, 0, sizeof *nb * (size_t)(k + 1 - D.nb));
        D.b = nb, D.nb = (int)k + 1;
    }
    Bucket *b = &D.b[k];
    if (!b->send) {
        b->bytes = bytes;
        b->send = rt_malloc((size_t)bytes);
        b->recv = D.size > 1 ? rt_malloc((size_t)bytes * (size_t)D.size) : b->send;
        b->acc = rt_malloc(sizeof *b->acc * (size_t)elems);
        if (!b->send || !b->recv || !b->acc)
            fatal("out of memory for the allreduce buckets");
    }
    if (b->bytes != bytes)
        fatal("an allreduce bucket changed size (internal error)");
    return b;
}

static void send(Bucket *b)
{
    b->flying = 1;
    D.stats.messages++;
    D.stats.bytes += b->bytes * (D.size - 1);
#ifdef NNC_HAVE_MPI
    if (D.mpi && D.size > 1) {
        MPI_Iallgather(b->send, (int)b->bytes, MPI_BYTE, b->recv, (int)b->bytes, MPI_BYTE, MPI_COMM_WORLD, &b->req);
        return;
    }
#endif
    b->flying = 0;   /* one rank: nothing to move */
}

/* Lets MPI move the buckets in flight on (Open MPI progresses non-blocking
 * collectives only inside its calls). */
static void progress(void)
{
#ifdef NNC_HAVE_MPI
    for (int i = 0; D.mpi && i < D.nb; i++)
        if (D.b[i].flying) {
            int done = 0;
            MPI_Test(&D.b[i].req, &done, MPI_STATUS_IGNORE);
            if (done)
                D.b[i].flying = 0;
        }
#endif
}

void rt_allreduce_start(RtCtx *ctx, const void *x, int64_t n, int64_t k, int64_t offset, int64_t elems, int64_t members,
                        int64_t real)
{
    (void)ctx;
    double t0 = now();
    Bucket *b = bucket(k, elems, real);
    memcpy(b->send + offset * real, x, (size_t)(n * real));
    if (++b->filled == members && D.overlap)
        send(b);
    progress();
    D.stats.start_seconds += now() - t0;
}

void rt_allreduce_wait(RtCtx *ctx, void *out, int64_t n, int64_t k, int64_t offset, int64_t elems, int64_t members,
                       int64_t real)
{
    (void)ctx;
    double t0 = now();
    Bucket *b = bucket(k, elems, real);
    if (b->filled != members)
        fatal("an allreduce waited for before all of its bucket started (internal error)");
    if (b->waited == 0 && !D.overlap)
        send(b);
#ifdef NNC_HAVE_MPI
    if (b->flying) {
        MPI_Wait(&b->req, MPI_STATUS_IGNORE);
        b->flying = 0;
    }
#endif
    double t1 = now();
    /* out = sum over ranks r, in rank order, of (b_r / B) x_r; n <= elems */
    double *acc = b->acc;
    for (int64_t j = 0; j < n; j++)
        acc[j] = 0;
    int64_t B = D.batch > 0 ? D.batch : 1;
    for (int r = 0; r < D.size; r++) {
        int64_t first, count;
        rt_dist_shard(B, r, D.size, &first, &count);
        if (count == 0)
            continue;  /* a rank with no example ran a stand-in: it counts for nothing */
        double w = (double)count / (double)B;
        const uint8_t *x = b->recv + (size_t)r * (size_t)b->bytes + (size_t)(offset * real);
        if (real == 8)
            for (int64_t j = 0; j < n; j++)
                acc[j] += w * ((const double *)x)[j];
        else
            for (int64_t j = 0; j < n; j++)
                acc[j] += w * (double)((const float *)x)[j];
    }
    if (real == 8)
        memcpy(out, acc, sizeof *acc * (size_t)n);
    else
        for (int64_t j = 0; j < n; j++)
            ((float *)out)[j] = (float)acc[j];
    if (++b->waited == members)
        b->filled = b->waited = 0;   /* ready for the next step */
    D.stats.wait_seconds += t1 - t0;
    D.stats.reduce_seconds += now() - t1;
}
