/* dist.c — data-parallel training over MPI: which rank this process is, its
 * slice of each batch, and the gradient allreduce the compiled step calls.
 * See docs/distributed.md and the "data-parallel training" part of
 * nnc_runtime.h.
 *
 * MPI is process-wide state, so this module is too: one world per process,
 * set up by rt_dist_init before anything trains.  A process that was not
 * started by mpirun as one of several ranks (OMPI_COMM_WORLD_SIZE, PMI_SIZE
 * or PMIX_SIZE above 1 in its environment) never touches MPI: one rank, no
 * library calls, nothing changes.
 *
 * Open MPI is loaded at run time (dlopen of libmpi.so.40, or NNC_LIBMPI),
 * and only then: neither libnncrt, nor a trainer, nor nnc links libmpi, so
 * a trainer copied to a machine without Open MPI still runs alone, the
 * libraries of --emit=so never depend on it, and nnc-runtime.pc has
 * nothing to list.  The few calls and handles used are declared below for
 * Open MPI's ABI (handles are pointers to its predefined globals, found by
 * name), the one MPI this targets; started by mpirun when libmpi cannot
 * be loaded, a rank says so and why, and exits.
 *
 * The reduction.  Rank r computes the mean gradient g_r over its b_r
 * examples of the global batch's B; the step needs the mean over all B:
 * sum over r of (b_r / B) g_r, with the same bits on every rank and for a
 * given N every time, whatever the network: MPI only moves bytes, and the
 * additions are made here in an order fixed by N alone.  Two ways:
 *
 *   ring (the default from 4 ranks on): a bucket of E reals is cut into
 *   N chunks.  A reduce-scatter passes each chunk round the ring once: chunk c starts
 *   at rank c as (b_c / B) g_c, and each next rank adds its own term, in
 *   double, so chunk c is always summed c, c+1, ..., c-1 (mod N); the
 *   rank holding a chunk's last term rounds it to the gradient's type,
 *   and an allgather passes the rounded chunks round the ring.  Each rank
 *   receives (N - 1) / N · E doubles and as many reals: 3 (N - 1) / N · G
 *   bytes for f32 gradients of G bytes (a plain ring: 2 (N - 1) / N · G).
 *   Two terms add up the same in either order, so at N = 2 the ring has
 *   the bits of the gather below.
 *
 *   gather (the default up to 3 ranks): MPI_Iallgather of every rank's
 *   bucket, and every rank sums the parts in rank order, in double;
 *   (N - 1) · G bytes in per rank: no more than the ring's up to 3 ranks,
 *   in one collective that MPI moves on by itself rather than 2 (N - 1)
 *   steps that each need this rank's attention.  NNC_DIST_ALLREDUCE=ring
 *   or gather chooses either at any N; a given N always gets the same.
 *
 * Overlap.  rt_allreduce_start copies a gradient into its bucket as soon as
 * the step has computed it, and the bucket leaves when its last member is
 * in; rt_allreduce_wait, just before the update, waits for it.  Open MPI
 * moves non-blocking operations on only inside MPI calls, and the ring
 * needs this rank to add each chunk before passing it on, so every start
 * also tests the buckets in flight and takes each one step further round
 * the ring when it can.  NNC_DIST_OVERLAP=0 sends every bucket at its
 * first wait instead (for measuring what the overlap saves).
 *
 * One rank: start does nothing, and wait copies the gradient to the
 * allreduce's buffer unless the memory plan gave both the same bytes
 * (compiler/passes/plan.c), so a step built for several ranks runs alone
 * with one process's bits and time.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/nnc_runtime.h"
#include "rt_internal.h"

/* ---- Open MPI, loaded at run time ------------------------------------------------------ */

typedef void *MpiHandle;   /* MPI_Comm, MPI_Datatype, MPI_Request: pointers in Open MPI */
enum { MPI_OK = 0, THREAD_FUNNELED = 1 };   /* MPI_SUCCESS, MPI_THREAD_FUNNELED */
#define STATUS_IGNORE NULL                  /* MPI_STATUS(ES)_IGNORE */
#define NO_REQUEST NULL                     /* MPI_REQUEST_NULL is a handle: requests are kept by hand */

static struct {
    int (*Init_thread)(int *, char ***, int, int *);
    int (*Comm_rank)(MpiHandle, int *);
    int (*Comm_size)(MpiHandle, int *);
    int (*Allgather)(const void *, int, MpiHandle, void *, int, MpiHandle, MpiHandle);
    int (*Iallgather)(const void *, int, MpiHandle, void *, int, MpiHandle, MpiHandle, MpiHandle *);
    int (*Isend)(const void *, int, MpiHandle, int, int, MpiHandle, MpiHandle *);
    int (*Irecv)(void *, int, MpiHandle, int, int, MpiHandle, MpiHandle *);
    int (*Test)(MpiHandle *, int *, void *);
    int (*Wait)(MpiHandle *, void *);
    int (*Abort)(MpiHandle, int);
    int (*Finalize)(void);
    MpiHandle world, byte, dbl;   /* MPI_COMM_WORLD, MPI_BYTE, MPI_DOUBLE */
} M;

/* Loads libmpi (once; it stays loaded: Open MPI's components refer to it).
 * Returns 0, or 1 with why. */
static int load_mpi(char *err, size_t errlen)
{
    const char *lib = getenv("NNC_LIBMPI");
    if (!lib || !lib[0])
        lib = "libmpi.so.40";
    /* global: the components Open MPI loads itself find its symbols */
    void *h = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
    if (!h)
        return rt_fail(1, err, errlen, "cannot load Open MPI: %s", dlerror());
    static const struct { const char *name; size_t at; } fns[] = {
#define F(n) {"MPI_" #n, offsetof(__typeof__(M), n)}
        F(Init_thread), F(Comm_rank), F(Comm_size), F(Allgather), F(Iallgather), F(Isend), F(Irecv), F(Test),
        F(Wait), F(Abort), F(Finalize),
#undef F
        {"ompi_mpi_comm_world", offsetof(__typeof__(M), world)}, {"ompi_mpi_byte", offsetof(__typeof__(M), byte)},
        {"ompi_mpi_double", offsetof(__typeof__(M), dbl)},
    };
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
        void *p = dlsym(h, fns[i].name);
        if (!p)
            return rt_fail(1, err, errlen, "cannot load Open MPI: %s has no %s (not Open MPI 3 or later?)", lib,
                           fns[i].name);
        memcpy((char *)&M + fns[i].at, &p, sizeof p);
    }
    return 0;
}

/* ---- the world -------------------------------------------------------------------------- */

typedef struct Bucket {
    int      k;         /* its number: the tag of its messages */
    int64_t  elems;     /* reals in it */
    int64_t  real;      /* bytes of a real: 4 or 8 */
    int64_t  bytes;     /* elems · real */
    uint8_t *send;      /* [elems · real]: this rank's gradients */
    uint8_t *recv;      /* gather: [size][elems · real], every rank's in rank order; ring: [elems · real], the sum */
    double  *acc;       /* [elems]: gather: a member's sum; ring: the chunks' partial sums */
    double  *in;        /* ring: [the largest chunk]: a partial sum arriving */
    int      filled;    /* members started this step */
    int      waited;    /* members waited for this step */
    int      flying;    /* sent and not yet known to have arrived */
    int      step;      /* ring: the step of 2 (size - 1) under way */
    MpiHandle req[2];   /* gather: req[0]; ring: this step's receive and send */
    int      done[2];   /* req[i] has completed */
} Bucket;

static struct {
    int          rank, size;
    int          mpi;       /* MPI_Init was called (and MPI_Finalize is due) */
    int          overlap;   /* send a bucket when full (1), or at its first wait (0) */
    int          ring;      /* reduce round a ring (1), or gather every part (0); rt_dist_init */
    int64_t      batch;     /* the global batch of the step running */
    Bucket      *b;
    int          nb;
    RtDistStats  stats;
} D = {.rank = 0, .size = 1, .overlap = 1};

int rt_dist_launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0)
            return atoi(v);
    }
    return 0;
}

int rt_dist_init(char *err, size_t errlen)
{
    int n = rt_dist_launched();
    const char *ov = getenv("NNC_DIST_OVERLAP"), *how = getenv("NNC_DIST_ALLREDUCE");
    D.overlap = !(ov && strcmp(ov, "0") == 0);
    if (how && how[0] && strcmp(how, "ring") != 0 && strcmp(how, "gather") != 0)
        return rt_fail(1, err, errlen, "NNC_DIST_ALLREDUCE is '%s': ring or gather (unset: gather up to 3 ranks, "
                       "ring from 4)", how);
    if (n <= 1)
        return 0;   /* not one of several ranks: one process, MPI untouched */
    char why[512];
    if (load_mpi(why, sizeof why) != 0)
        return rt_fail(1, err, errlen,
                       "started as one of %d ranks (mpirun), but %s; install Open MPI (libopenmpi3; scripts/setup "
                       "does) or set NNC_LIBMPI to its libmpi.so, or run one process without mpirun", n, why);
    int provided = 0;
    /* only the thread that runs the step calls MPI; the pool's workers never do */
    if (M.Init_thread(NULL, NULL, THREAD_FUNNELED, &provided) != MPI_OK)
        return rt_fail(1, err, errlen, "MPI_Init failed");
    D.mpi = 1;
    M.Comm_rank(M.world, &D.rank);
    M.Comm_size(M.world, &D.size);
    /* up to 3 ranks the gather receives no more bytes than the ring (G at 2
     * against 1.5 G, 2 G at 3 against 2 G) in one collective instead of
     * 2 (N - 1) steps that each need the next rank's attention */
    D.ring = how && how[0] ? strcmp(how, "ring") == 0 : D.size >= 4;
    return 0;
}

void rt_dist_finalize(void)
{
    for (int i = 0; i < D.nb; i++) {
        free(D.b[i].send);
        free(D.b[i].recv);
        free(D.b[i].acc);
        free(D.b[i].in);
    }
    free(D.b);
    D.b = NULL, D.nb = 0;
    if (D.mpi)
        M.Finalize();
    D.mpi = 0;
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
    if (D.mpi && D.size > 1) {
        M.Allgather(mine, n, M.dbl, all, n, M.dbl, M.world);
        return;
    }
    memcpy(all, mine, sizeof *mine * (size_t)n);
}

int rt_dist_agree(int rc, char *err, size_t errlen)
{
    if (D.size <= 1 || D.size > RT_MAX_RANKS)
        return rc;
    double mine = rc, all[RT_MAX_RANKS];
    rt_dist_gather(&mine, 1, all);
    for (int r = 0; r < D.size && rc == 0; r++)
        if (all[r] != 0)
            rc = rt_fail(1, err, errlen, "rank %d: stopping with rank %d, which failed", D.rank, r);
    return rc;
}

void rt_dist_set_batch(int64_t batch) { D.batch = batch; }

void rt_dist_stats(RtDistStats *out) { *out = D.stats; }

/* A bug or out of memory inside a collective: the other ranks would wait
 * forever, so the whole job stops. */
static void fatal(const char *why)
{
    fprintf(stderr, "nnc: error: rank %d: %s; stopping every rank\n", D.rank, why);
    if (D.mpi)
        M.Abort(M.world, 1);
    abort();
}

/* ---- the reduction ---------------------------------------------------------------------- */

static int ring_mod(int c) { return ((c % D.size) + D.size) % D.size; }
static int64_t chunk_lo(const Bucket *b, int c) { return b->elems * c / D.size; }

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
        b->k = (int)k, b->elems = elems, b->real = real, b->bytes = bytes;
        int64_t chunk = (elems + D.size - 1) / D.size;   /* the largest chunk */
        if (bytes > 0x7fffffff || chunk * (int64_t)sizeof(double) > 0x7fffffff)
            fatal("an allreduce bucket of more than 2 GiB");
        b->send = rt_malloc((size_t)bytes);
        b->recv = rt_malloc((size_t)bytes * (size_t)(D.ring ? 1 : D.size));
        b->acc = rt_malloc(sizeof *b->acc * (size_t)elems);
        b->in = D.ring ? rt_malloc(sizeof *b->in * (size_t)chunk) : NULL;
        if (!b->send || !b->recv || !b->acc || (D.ring && !b->in))
            fatal("out of memory for the allreduce buckets");
    }
    if (b->bytes != bytes || b->real != real)
        fatal("an allreduce bucket changed size (internal error)");
    return b;
}

/* This rank's weight: its share of the global batch, or 0 (a stand-in). */
static double weight(void)
{
    int64_t B = D.batch > 0 ? D.batch : 1, first, count;
    rt_dist_shard(B, D.rank, D.size, &first, &count);
    return (double)count / (double)B;
}

/* Ring: chunk c's partial sum (or nothing, at its first rank) plus this
 * rank's term, into acc; a rank with no example adds nothing. */
static void ring_add(Bucket *b, int c, const double *partial)
{
    int64_t lo = chunk_lo(b, c), hi = chunk_lo(b, c + 1);
    double w = weight();
    for (int64_t j = lo; j < hi; j++) {
        double s = partial ? partial[j - lo] : 0;   /* 0 + the first term, as the gather starts */
        double x = b->real == 8 ? ((const double *)b->send)[j] : (double)((const float *)b->send)[j];
        b->acc[j] = w > 0 ? s + w * x : s;
    }
}

/* Ring step b->step: receive from the rank before, send to the rank after.
 * Steps 0 .. size-2 pass partial sums (doubles), steps size-1 .. 2 size-3
 * the rounded chunks (reals). */
static void ring_post(Bucket *b)
{
    int N = D.size, r = D.rank, s = b->step, left = ring_mod(r - 1), right = ring_mod(r + 1);
    int rs = s < N - 1, t = rs ? s : s - (N - 1);
    int cin = rs ? ring_mod(r - s - 1) : ring_mod(r - t), cout = rs ? ring_mod(r - s) : ring_mod(r + 1 - t);
    int64_t in_lo = chunk_lo(b, cin), in_n = chunk_lo(b, cin + 1) - in_lo;
    int64_t out_lo = chunk_lo(b, cout), out_n = chunk_lo(b, cout + 1) - out_lo;
    int64_t unit = rs ? (int64_t)sizeof(double) : b->real;
    void *to = rs ? (void *)b->in : (void *)(b->recv + in_lo * b->real);
    const void *from = rs ? (const void *)(b->acc + out_lo) : (const void *)(b->recv + out_lo * b->real);
    M.Irecv(to, (int)(in_n * unit), M.byte, left, b->k, M.world, &b->req[0]);
    M.Isend(from, (int)(out_n * unit), M.byte, right, b->k, M.world, &b->req[1]);
    b->done[0] = b->done[1] = 0;
    D.stats.bytes += in_n * unit;
}

/* Ring: step b->step has arrived; add, or round, what it brought. */
static void ring_arrived(Bucket *b)
{
    int N = D.size, r = D.rank, s = b->step;
    if (s < N - 1)
        ring_add(b, ring_mod(r - s - 1), b->in);
    if (s == N - 2) {   /* this rank added the last term of chunk r + 1: round it */
        int c = ring_mod(r + 1);
        for (int64_t j = chunk_lo(b, c); j < chunk_lo(b, c + 1); j++)
            if (b->real == 8)
                ((double *)b->recv)[j] = b->acc[j];
            else
                ((float *)b->recv)[j] = (float)b->acc[j];
    }
}

static void progress(void);

/* Takes bucket b as far as it can go (block: to the end). */
static void advance(Bucket *b, int block)
{
    if (!D.ring) {
        int done = 1;
        if (block)
            M.Wait(&b->req[0], STATUS_IGNORE);
        else
            M.Test(&b->req[0], &done, STATUS_IGNORE);
        b->flying = !done;
        return;
    }
    if (block) {
        /* every bucket in flight moves on meanwhile: the next rank may be
         * waiting for one this rank has not passed on yet */
        while (b->flying)
            progress();
        return;
    }
    int steps = 2 * (D.size - 1);
    while (b->step < steps) {
        for (int i = 0; i < 2; i++)
            if (!b->done[i])
                M.Test(&b->req[i], &b->done[i], STATUS_IGNORE);
        if (!b->done[0] || !b->done[1])
            return;
        ring_arrived(b);
        if (++b->step < steps)
            ring_post(b);
    }
    b->flying = 0;
}

static void send(Bucket *b)
{
    b->flying = 1;
    D.stats.messages++;
    if (!D.ring) {
        D.stats.bytes += b->bytes * (D.size - 1);
        b->req[0] = NO_REQUEST;
        M.Iallgather(b->send, (int)b->bytes, M.byte, b->recv, (int)b->bytes, M.byte, M.world, &b->req[0]);
        return;
    }
    ring_add(b, D.rank, NULL);   /* chunk r starts here */
    b->step = 0;
    ring_post(b);
}

/* Lets MPI move the buckets in flight on (Open MPI progresses non-blocking
 * operations only inside its calls), and the ring's chunks one step on. */
static void progress(void)
{
    for (int i = 0; i < D.nb; i++)
        if (D.b[i].flying)
            advance(&D.b[i], 0);
}

void rt_allreduce_start(RtCtx *ctx, const void *x, int64_t n, int64_t k, int64_t offset, int64_t elems, int64_t members,
                        int64_t real)
{
    (void)ctx;
    if (D.size <= 1)
        return;   /* one rank: nothing to send */
    double t0 = rt_now();
    Bucket *b = bucket(k, elems, real);
    memcpy(b->send + offset * real, x, (size_t)(n * real));
    if (++b->filled == members && D.overlap)
        send(b);
    progress();
    D.stats.start_seconds += rt_now() - t0;
}

void rt_allreduce_wait(RtCtx *ctx, const void *x, void *out, int64_t n, int64_t k, int64_t offset, int64_t elems,
                       int64_t members, int64_t real)
{
    (void)ctx;
    if (D.size <= 1) {   /* one rank: the sum is x itself (weight 1) */
        if (out != x)
            memmove(out, x, (size_t)(n * real));
        return;
    }
    double t0 = rt_now();
    Bucket *b = bucket(k, elems, real);
    if (b->filled != members)
        fatal("an allreduce waited for before all of its bucket started (internal error)");
    if (b->waited == 0 && !D.overlap)
        send(b);
    if (b->flying)
        advance(b, 1);
    double t1 = rt_now();
    if (D.ring) {   /* the sum is in recv, rounded where its chunk was finished: copy this member's part */
        memcpy(out, b->recv + offset * real, (size_t)(n * real));
    } else {
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
            const uint8_t *p = b->recv + (size_t)r * (size_t)b->bytes + (size_t)(offset * real);
            if (real == 8)
                for (int64_t j = 0; j < n; j++)
                    acc[j] += w * ((const double *)p)[j];
            else
                for (int64_t j = 0; j < n; j++)
                    acc[j] += w * (double)((const float *)p)[j];
        }
        if (real == 8)
            memcpy(out, acc, sizeof *acc * (size_t)n);
        else
            for (int64_t j = 0; j < n; j++)
                ((float *)out)[j] = (float)acc[j];
    }
    if (++b->waited == members)
        b->filled = b->waited = 0;   /* ready for the next step */
    D.stats.wait_seconds += t1 - t0;
    D.stats.reduce_seconds += rt_now() - t1;
}
