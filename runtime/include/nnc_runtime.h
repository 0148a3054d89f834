/* nnc_runtime.h — the thin C runtime that nnc's generated code and tools
 * link.  Plain C, no compiler headers.  It holds random numbers and
 * parameter initialisation, checkpoints, the thread pool, the context and
 * model description generated code reads, the data sources, the training
 * loop and trainers' command line, and the instances embedded libraries
 * wrap.
 */
#ifndef NNC_RUNTIME_H
#define NNC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* ---- random numbers and initialisation (rng.c) ------------------------------------ */

/* A uniform number in [0, 1), a pure function of its four arguments: dropout
 * masks draw (seed, mask stream, step, element). */
double rt_uniform(uint64_t seed, uint64_t stream, uint64_t step, uint64_t element);
/* A standard normal number from the draws 2e and 2e+1 of (seed, stream, step 0). */
double rt_normal(uint64_t seed, uint64_t stream, uint64_t element);

/* How a parameter starts, as torch.nn initialises the layer it belongs to. */
typedef enum RtInit {
    RT_INIT_UNIFORM_FAN_IN,  /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)): Linear, Conv2d weight and bias */
    RT_INIT_NORMAL,          /* N(0, 1): Embedding */
    RT_INIT_ONES,            /* LayerNorm weight */
    RT_INIT_ZEROS,           /* LayerNorm bias */
    RT_INIT_NORMAL_STD,      /* N(0, scale^2): param w: f32[...] = normal(std) */
    RT_INIT_UNIFORM,         /* U(-scale, scale): param w: f32[...] = uniform(limit) */
    RT_INIT_DATA,            /* data[element]: a typed-in tensor literal */
} RtInit;

/* Element e of a parameter: parameter i of a model draws from stream
 * rt_param_stream(i).  scale is the std or limit of RT_INIT_NORMAL_STD and
 * RT_INIT_UNIFORM; data the values of RT_INIT_DATA (else unused, may be 0
 * and NULL). */
double rt_init_value(RtInit how, int64_t fan_in, double scale, const double *data, uint64_t seed,
                     uint64_t stream, uint64_t element);
/* The stream of parameter i: the runtime, --predict, --gradcheck and
 * --emit=onnx all start parameters from it, so they start alike. */
static inline uint64_t rt_param_stream(int64_t i) { return 1000 + (uint64_t)i; }

/* ---- checkpoints (safetensors.c) ------------------------------------------------------ */

/* One tensor for a safetensors file. */
typedef struct RtTensor {
    const char    *name;    /* e.g. "hidden.weight" (torch names) */
    const char    *dtype;   /* "F32", "F64" or "I32" */
    int            rank;
    const int64_t *shape;
    const void    *data;    /* row-major, little-endian */
    size_t         bytes;
} RtTensor;

/* Writes tensors to path in the safetensors format (an 8-byte header
 * length, a JSON header, the data), atomically: a temporary file beside
 * path, fsync, rename.  Returns 0, or -1 with a reason in err. */
int rt_safetensors_write(const char *path, const RtTensor *tensors, int n, char *err, size_t errlen);
/* The same with a "__metadata__" object: nmeta string pairs, meta[2i] the
 * key and meta[2i+1] its value. */
int rt_safetensors_write_meta(const char *path, const RtTensor *tensors, int n, const char *const *meta, int nmeta,
                              char *err, size_t errlen);

/* Reads a safetensors file whole.  Tensor names and the data stay valid
 * until rt_checkpoint_free.  Returns 0, or -1 with a reason naming what is
 * wrong ("header of 1234 bytes runs past the end of the 600-byte file",
 * "tensor 'w': 24 bytes of data for shape [2,4] of F32 (32 bytes)"). */
typedef struct RtCheckpoint {
    RtTensor *t;
    int       n;
    void     *mem;     /* owns the tensors */
    char    **meta;    /* "__metadata__": key, value, key, value ... (owned) */
    int       nmeta;   /* pairs */
    void    **owned;   /* [nowned] data of tensors rt_checkpoint_as converted */
    int       nowned;
    char     *converted; /* what rt_checkpoint_as converted, "a.weight (F16), a.bias (F16)", or NULL */
} RtCheckpoint;

int             rt_safetensors_read(const char *path, RtCheckpoint *out, char *err, size_t errlen);
/* The same from size bytes at data (copied; data may go once it returns);
 * name stands for the path in messages. */
int             rt_safetensors_read_memory(const void *data, size_t size, const char *name, RtCheckpoint *out,
                                           char *err, size_t errlen);
/* Only the header's metadata (no tensors are read): the same checks of the
 * length and the JSON. */
int             rt_safetensors_read_meta(const char *path, RtCheckpoint *out, char *err, size_t errlen);
/* The value of a metadata key, or NULL. */
const char     *rt_checkpoint_meta(const RtCheckpoint *c, const char *key);
const RtTensor *rt_checkpoint_find(const RtCheckpoint *c, const char *name);
void            rt_checkpoint_free(RtCheckpoint *c);
/* Tensor t of c (rt_checkpoint_find's) in the float dtype want ("F32", or
 * "F64" for an f64 model): an F16, BF16, F32 or F64 tensor is converted in
 * place (its data then owned by c, the change noted in c->converted); any
 * other is refused: 0, or -1 with the reason ("ck.safetensors: tensor 'w' is
 * I8; --load converts only F16, BF16 and F64 tensors to the model's F32";
 * path names the file).  An integer want leaves t as it is (convert.c). */
int             rt_checkpoint_as(RtCheckpoint *c, const RtTensor *t, const char *want, const char *path, char *err,
                                 size_t errlen);

/* ---- threads (pool.c) ---------------------------------------------------------------- */

typedef struct RtPool RtPool;

/* A pool of threads - 1 workers (the caller is the last thread); 1: none;
 * at most RT_MAX_THREADS. */
RtPool *rt_pool_create(int threads);
void    rt_pool_destroy(RtPool *p);
int     rt_pool_threads(const RtPool *p);

/* Runs task over [0, n) and returns when all of it is done.  [0, n) is cut
 * into C = min(n, 4·T) claims (one for one thread or n = 1), contiguous
 * ranges fixed by n, C and T alone: T segments, segment s the claims
 * [s·C/T, (s+1)·C/T) over the items [s·n/T, (s+1)·n/T) (floors), and in a
 * segment of c claims over m items claim j starts j + e − floor(e·(c − j)²/c²)
 * after the segment does, e = m − c: one item each, the rest in claims that
 * get shorter towards the segment's end.  Each thread takes its own
 * segment's claims from the front (the caller's is the first), then the
 * others' from their backs, until none is left, so which thread runs a range
 * depends on the timing, and the ranges do not.  A computation that gives
 * each output to one item and computes it in a fixed order gets the same
 * bits whatever the number of threads and whoever ran what.  The caller
 * never waits for a worker that has not started: it takes the claims
 * nobody took.  p may be NULL: one claim on the caller. */
typedef void (*RtTask)(void *arg, int64_t begin, int64_t end);
void    rt_parallel(RtPool *p, int64_t n, RtTask task, void *arg);

/* Scratch memory for generated code (the matmul's packing buffers): the
 * arena of the thread running the task, of the pool in ctx (each worker has
 * one and the caller one; with no pool, the calling thread's own, freed when
 * it ends).  At least `bytes`, 64-byte aligned, kept from call to call,
 * zero when new (grown when a kernel asks for more).  *call names the
 * current rt_parallel call, never 0: the claims of one call that one thread
 * runs see the same number, so the memory may carry work over between them
 * (packed operands); a kernel called outside rt_parallel gets a new number
 * each time.  NULL when memory ran out: the task must skip its work, and
 * rt_pool_failed says so after the entry returns. */
struct RtCtx;
void   *rt_task_scratch(struct RtCtx *ctx, int64_t bytes, uint64_t *call);
/* Memory kept across calls for what a product packs of a parameter (a
 * library's forward, cg_matmul.c): the pool's caller's region for the
 * weight at `weight` (in ctx's param slab) packed into `bytes`, made (zero)
 * when new and freed with the pool; products that read one weight alike
 * share it.  *call is ctx->weights, so that a packing of other weights is
 * stale.  When ctx->weights is 0 (nobody counts versions), on a worker (the
 * regions are the caller's alone), or past the regions' budget (pool.c's
 * KEPT_MOST): rt_task_scratch's memory and number. */
void   *rt_kept_scratch(struct RtCtx *ctx, const void *weight, int64_t bytes, uint64_t *call);
/* Whether a scratch allocation failed since the last time asked (with p
 * NULL: on this thread), and forgets it. */
int     rt_pool_failed(RtPool *p);

/* ---- generated code's context ------------------------------------------------------ */

/* Where a value lives: the slabs of the memory plan. */
typedef enum RtSlab { RT_SLAB_NONE, RT_SLAB_INPUT, RT_SLAB_PARAM, RT_SLAB_STATE, RT_SLAB_ACT } RtSlab;

/* A place or a size in a slab, for any batch: fixed + per_example · B̂,
 * where B̂ is the batch rounded up to a multiple of RT_BATCH_ROUND, and at
 * least the model's batch (RtModel.batch) rounded alike.  The memory plan
 * lays every slab out this way (a fixed region, then one that grows with
 * the batch), so the same code serves any batch given slabs of
 * rt_bytes_at(slab_bytes, ...) bytes. */
enum { RT_BATCH_ROUND = 16 };
typedef struct RtBytes { int64_t fixed, per_example; } RtBytes;

/* B̂ for a batch of a model planned for `planned`: also the most examples
 * that slabs sized for `batch` hold. */
static inline int64_t rt_batch_room(int64_t planned, int64_t batch)
{
    int64_t r = (batch + RT_BATCH_ROUND - 1) / RT_BATCH_ROUND * RT_BATCH_ROUND;
    int64_t floor = (planned + RT_BATCH_ROUND - 1) / RT_BATCH_ROUND * RT_BATCH_ROUND;
    return r > floor ? r : floor;
}

static inline int64_t rt_bytes_at(RtBytes x, int64_t planned, int64_t batch)
{
    return x.fixed + x.per_example * rt_batch_room(planned, batch);
}

/* What a generated entry `void NAME(RtCtx *)` reads: every tensor is at
 * slab[its slab] + its offset at this batch.  Layout fixed: the generated
 * code loads these fields by byte offset (0, 40, 48, 56). */
typedef struct RtCtx {
    uint8_t *slab[5];   /* indexed by RtSlab; slab[RT_SLAB_NONE] unused */
    int64_t  batch;     /* examples in this batch: any, if the slabs are large enough for it */
    RtPool  *pool;      /* NULL: the calling thread only */
    int64_t  first;     /* several ranks: the examples of the global batch before this rank's slice, where
                         * a step built for them counts its dropout masks' elements from; else 0 */
    uint64_t weights;   /* the parameters' version, counted by a library's instance (a new one at every
                         * write to them): its forward keeps the packing of a parameter a product reads
                         * while the version holds (rt_kept_scratch); 0: not counted, nothing kept */
} RtCtx;

/* ---- data-parallel training over MPI (dist.c; docs/distributed.md) ------------------- */

/* Joins the MPI world when mpirun started this process as one of several
 * ranks (its environment says so), loading Open MPI's libmpi then;
 * otherwise one rank and no MPI.  Returns 0, or 1 with why: libmpi cannot
 * be loaded, or NNC_DIST_ALLREDUCE is neither ring nor gather.  Call once,
 * first; rt_dist_finalize at the end. */
int  rt_dist_init(char *err, size_t errlen);
void rt_dist_finalize(void);
/* The number of ranks mpirun started (its environment says so: before or
 * without rt_dist_init), or 0 when it did not start this process. */
int  rt_dist_launched(void);
enum { RT_MAX_RANKS = 1024 };   /* the most ranks a run may have */
int  rt_dist_rank(void);        /* 0 .. size-1 */
int  rt_dist_size(void);        /* 1: one process */
/* Rank r's slice of a batch of `batch` examples: [first, first + count),
 * contiguous, in rank order; the first batch mod size ranks take one more
 * (count may be 0 when the batch is smaller than the world). */
void rt_dist_shard(int64_t batch, int rank, int size, int64_t *first, int64_t *count);
/* n doubles from every rank into all[size · n], in rank order (one rank: a
 * copy).  A collective: every rank calls it at the same point. */
void rt_dist_gather(const double *mine, int n, double *all);
/* Whether any rank failed (rc != 0) at this point, which every rank
 * reaches once: returns rc, or 1 with why when only another rank failed
 * (that rank says why itself).  One rank: rc. */
int  rt_dist_agree(int rc, char *err, size_t errlen);
/* The global batch of the step about to run (the reduction weighs rank r's
 * gradient by its share count_r / batch). */
void rt_dist_set_batch(int64_t batch);
/* What generated code calls for an ALLREDUCE node (docs/ir.md): start when
 * the gradient x of n reals (real: 4 or 8 bytes) is final, its part at
 * offset of bucket k (elems reals, members gradients); wait just before the
 * update, which writes sum_r (count_r / batch) x_r to out, in an order
 * fixed by the number of ranks, the same bits on every rank (x: the same
 * gradient, still there; out may be x).  One rank: start does nothing and
 * wait copies x to out. */
void rt_allreduce_start(RtCtx *ctx, const void *x, int64_t n, int64_t k, int64_t offset, int64_t elems,
                        int64_t members, int64_t real);
void rt_allreduce_wait(RtCtx *ctx, const void *x, void *out, int64_t n, int64_t k, int64_t offset, int64_t elems,
                       int64_t members, int64_t real);
/* Where the reduction's time went, since the process started. */
typedef struct RtDistStats {
    double  start_seconds;   /* in rt_allreduce_start: copies into buckets, sends, progress tests */
    double  wait_seconds;    /* blocked in rt_allreduce_wait for buckets still on the way */
    double  reduce_seconds;  /* gather: summing the ranks' parts; ring: copying the sum out (its additions count in start and wait) */
    int64_t bytes;           /* bytes received from other ranks (gradients, partial sums) */
    int64_t messages;        /* buckets sent */
} RtDistStats;
void rt_dist_stats(RtDistStats *out);

/* ---- a compiled model, as the training loop sees it (train.c) ---------------------- */

typedef struct RtDataset RtDataset;
typedef struct RtText RtText;

typedef enum RtDtype { RT_F32, RT_F64, RT_I32 } RtDtype;

/* Which of the run's step counters a state tensor is.  The counters are
 * the run's, not the model's: a checkpoint keeps the step in __metadata__
 * (nnc.step) and total_steps not at all, and neither is optimizer state. */
typedef enum RtCounter {
    RT_COUNTER_NONE,         /* not a counter: a parameter, an input, the optimizer's state */
    RT_COUNTER_STEP,         /* "step": the steps taken, 0 before the first */
    RT_COUNTER_TOTAL_STEPS,  /* "total_steps": the run's length, for the learning-rate schedule */
    RT_COUNTER_COUNT
} RtCounter;

/* Each counter's tensor name, the one place it is written: the compiler
 * names its step inputs so, and a checkpoint written before nnc.step held
 * the step as a tensor of this name.  NULL for RT_COUNTER_NONE. */
static inline const char *rt_counter_name(RtCounter counter)
{
    static const char *const name[RT_COUNTER_COUNT] = {[RT_COUNTER_STEP] = "step", [RT_COUNTER_TOTAL_STEPS] = "total_steps"};
    return name[counter];
}

/* Where a named tensor lives in the slabs, and how it starts. */
typedef struct RtTensorSpec {
    const char *name;
    RtSlab      slab;
    RtBytes     offset;      /* from the start of its slab */
    int         rank;
    int64_t     shape[8];    /* shape[0] == -1: the batch */
    RtDtype     dtype;
    RtInit      init;        /* parameters: how they start */
    int64_t     fan_in;
    double      scale;       /* RT_INIT_NORMAL_STD: std; RT_INIT_UNIFORM: limit */
    const double *data;      /* RT_INIT_DATA: the values, row-major */
    int64_t     classes;     /* I32 labels and token ids: each is in [0, classes); else 0 */
    RtCounter   counter;     /* state: which step counter it is, set where the spec is made */
} RtTensorSpec;

/* One generated entry and where its results are. */
typedef struct RtEntry {
    void      (*fn)(RtCtx *ctx);
    RtBytes     slab_bytes[5];    /* what it needs in each slab */
    RtBytes     loss;             /* where the mean loss is in the act slab; fixed == -1: none */
    int         nmetrics;
    const char *metric_name[8];
    RtBytes     metric[8];        /* where each metric is in the act slab */
    RtBytes     output;           /* where the prediction is in the act slab; fixed == -1: none */
    int64_t     output_last;      /* the prediction's last dimension (logits per position) */
    int64_t     output_elems;     /* the prediction's values per example */
} RtEntry;

/* A text model's decode entry, for sampling with a key/value cache
 * (docs/training.md, Sampling): one new token per sequence at its place in
 * the window, the keys and values of the earlier places kept by every
 * attention layer in the entry's own state slab (the caches; zero them for
 * a new window).  Its parameters are the model's (the same param slab); its
 * input, state and act slabs are its own, entry.slab_bytes at `planned`. */
typedef struct RtDecode {
    RtEntry      entry;       /* fn NULL: none (the model has none, or it was not compiled) */
    int64_t      planned;     /* the batch its plan was made for: addresses are rt_bytes_at(x, planned, batch) */
    int64_t      block;       /* T: the places a cache holds */
    RtTensorSpec tokens;      /* in its input slab: the new token ids, int32 [B,1] */
    RtTensorSpec positions;   /* and their places in the window, int32 [B,1] in [0, block)
                               * (slab RT_SLAB_NONE: the model reads no place) */
} RtDecode;

typedef struct RtModel {
    const char   *name;
    RtDtype       real;           /* the type of real numbers */
    int64_t       batch;          /* the batch the plans were made for: trainers' default, B̂'s floor */
    RtEntry       train;          /* forward, backward and update: one step */
    RtEntry       eval;           /* forward, loss and metrics; no dropout */
    RtEntry       predict;        /* the forward pass to the output only (libraries), or fn NULL */
    RtTensorSpec *params;         /* in the param slab, in order */
    int           nparams;
    RtTensorSpec *state;          /* optimizer state, "step" and "total_steps", in the state slab */
    int           nstate;
    RtTensorSpec *inputs;         /* per example, in the input slab (shape[0] == -1) */
    int           ninputs;
    RtTensorSpec *targets;
    int           ntargets;
    RtDecode      decode;         /* text models: --sample with a key/value cache (fn NULL: none) */
    int           distributed;    /* the train entry reduces gradients across ranks (ALLREDUCE): it may run
                                   * under mpirun (docs/distributed.md); 0: one process only */
} RtModel;

/* The largest values the command lines and the train block take (nnc, the
 * trainers and sema_train.c say so when refusing more): a step counter is
 * an f32 in the optimizer state and counts by one up to 2^24, so no run may
 * be longer. */
enum { RT_MAX_STEPS = 16777216, RT_MAX_EPOCHS = 1000000, RT_MAX_BATCH = 16777216, RT_MAX_THREADS = 1024 };

/* What to train on and how long. */
typedef struct RtTrainConfig {
    int64_t      batch, epochs, steps;  /* epochs or steps (the other 0) */
    int64_t      eval_every;            /* steps between evaluations; 0: each epoch */
    uint64_t     seed;
    int          threads;
    int          threads_fixed;         /* --threads given: every step on all of them (else pace.c may pick one) */
    const char  *save_path, *load_path, *metrics_path;
    const char  *chart_path;            /* --chart: an SVG of the curves, redrawn after each evaluation */
    int          eval_only;             /* --eval: load, evaluate the test split, print metrics */
    const RtDataset *train, *test;      /* examples (mnist, csv), or NULL */
    const RtText *text;                 /* character windows, or NULL */
    int64_t      block;                 /* text: window length */
    int          progress;              /* draw a progress bar (a terminal) */
    void        *log;                   /* FILE *: progress and per-epoch lines */
    /* Instead of training: generate sample_length characters after the
     * prompt `sample` (a text model), at temperature, and write them to out. */
    const char  *sample;
    int64_t      sample_length;
    double       temperature;
    void        *out;                   /* FILE * */
    int          no_kv_cache;           /* sample with the evaluation entry even when m->decode has one */
    /* What the metrics file's header line says besides the above (docs/training.md) */
    const char  *model_file;            /* the .nn file the model was compiled from, or NULL */
    const char  *data_root;             /* where relative data paths were looked up first, or NULL */
    double       lr;                    /* the learning rate compiled in */
    int          verbose;               /* -v: which tensors --load converted (F16 ... to F32); tokens per second after sampling */
} RtTrainConfig;

/* Trains m as cfg says.  Returns 0; 130 after Ctrl-C, 143 after SIGTERM (the step in flight
 * finished, the checkpoint saved if asked); 1 with a reason in err (data
 * that does not fit the model, a checkpoint that does not match, a loss
 * that stopped being finite). */
int rt_train(const RtModel *m, const RtTrainConfig *cfg, char *err, size_t errlen);

/* ---- memory estimates (mem.c) ---------------------------------------------------------- */

/* Bytes this process may still allocate: the least of the machine's
 * physical memory, what ulimit -v (RLIMIT_AS) and ulimit -d (RLIMIT_DATA)
 * leave beyond what it holds, and its cgroup's memory.max beyond
 * memory.current (and the test hook NNC_TEST_MEMORY, bytes, when set).
 * *limit (when not NULL) says which: "physical", "ulimit -v", "ulimit -d",
 * "cgroup" or "NNC_TEST_MEMORY". */
int64_t rt_memory_available(const char **limit);
/* "this machine has 23.5 GiB", "ulimit -v leaves this process 812.0 MiB",
 * ...: the second half of a refusal.  Returns what snprintf does. */
int rt_memory_says(int64_t available, const char *limit, char *buf, size_t len);
/* bytes as "74.2 GiB" (binary units; "512 bytes" below 1 KiB), into buf */
const char *rt_bytes_str(int64_t bytes, char *buf, size_t len);
/* Bytes m's slabs take for batches of up to `batch` (what rt_train and an
 * embedded instance allocate before the first step). */
int64_t rt_model_bytes(const RtModel *m, int64_t batch);
/* What those bytes are: "activations and inputs 73.0 GiB, parameters
 * 1.2 MiB, optimizer state 2.4 MiB", into buf; without the optimizer state
 * when m keeps none (a forward-only model's, --predict's). */
const char *rt_model_bytes_detail(const RtModel *m, int64_t batch, char *buf, size_t len);
/* The largest batch whose slabs take at most `have` bytes (0: none), were
 * m planned for it (slabs never shrink below the planned batch's). */
int64_t rt_model_max_batch(const RtModel *m, int64_t have);

/* ---- data sets (data_idx.c, data_csv.c, data_text.c) -------------------------------- */

typedef enum RtNormalize {
    RT_NORM_NONE,      /* raw bytes 0..255 */
    RT_NORM_UNIT,      /* x / 255 */
    RT_NORM_STANDARD,  /* (x / 255 - 0.1307) / 0.3081, MNIST's mean and deviation */
} RtNormalize;

/* One input's or target's values for every example of a data set. */
typedef struct RtColumn {
    RtDtype  dtype;     /* RT_F32 (reals) or RT_I32 (labels, token ids) */
    int64_t  elems;     /* values per example */
    void    *data;      /* [count, elems] floats or int32s, owned */
} RtColumn;

/* Examples in memory: inputs as floats, targets as labels or as floats. */
typedef struct RtDataset {
    int64_t  count;     /* examples */
    int64_t  x_elems;   /* input values per example */
    float   *x;         /* [count, x_elems] */
    int64_t  y_elems;   /* target values per example (1 for a class label) */
    int32_t *labels;    /* [count, y_elems] class labels in [0, classes), or NULL */
    float   *y;         /* [count, y_elems] real targets, or NULL */
    int64_t  classes;   /* for labels */
    /* Several inputs and targets (npz, csv with columns:): when ncolumns > 0,
     * column i feeds the model's input i, and column ninputs + j its target
     * j, in declaration order, and x, labels and y above are unused. */
    int       ncolumns;
    RtColumn *columns;  /* [ncolumns], owned */
    int64_t   rows, cols;   /* images (rt_mnist_load): the header's height and width in pixels; else 0.
                             * The struct grew with them: the loaders clear all of it, so a program
                             * built against an earlier header must be rebuilt (the runtime is a
                             * static library, linked by the same nnc that wrote the header) */
} RtDataset;

/* MNIST-style IDX files in dir: train-images-idx3-ubyte, train-labels-idx1-ubyte
 * (test: t10k-...), each raw or gzipped (.gz).  Validates magic numbers
 * (2051 images, 2049 labels), sizes, counts and label range (0-9). */
int  rt_mnist_load(const char *dir, int test, RtNormalize norm, RtDataset *out, char *err, size_t errlen);
/* Numbers separated by commas, one example per line, the target last;
 * header skips the first line; classes > 0: the target is a label in
 * [0, classes), else a real number. */
int  rt_csv_load(const char *path, int header, int64_t classes, RtDataset *out, char *err, size_t errlen);
/* rt_csv_load for a model whose first input takes x_elems values (named
 * input): lines of another width than x_elems + 1 are refused by their
 * count before any value is read as a label (a missing target column made
 * a feature the label, "not a whole number").  x_elems 0: no width is
 * checked (input may be NULL); x_elems > 0 with input NULL is refused. */
int  rt_csv_load_fit(const char *path, int header, int64_t classes, int64_t x_elems, const char *input, RtDataset *out,
                     char *err, size_t errlen);
/* The arrays of a NumPy .npz archive named after m's inputs and targets
 * (np.savez or np.savez_compressed), as columns in declaration order: the
 * first axis counts examples, the rest is the per-example shape; reals
 * become f32 as they are, labels and ids are checked against their range.
 * A model without targets (or --eval) still needs only what it declares. */
int  rt_npz_load(const char *path, const RtModel *m, RtDataset *out, char *err, size_t errlen);
void rt_dataset_free(RtDataset *d);

/* The order of the examples in epoch e: a permutation of [0, n) drawn from
 * (seed, e) (Fisher-Yates on rt_uniform). */
void rt_shuffle(int64_t *order, int64_t n, uint64_t seed, uint64_t epoch);

/* Character-level text: every byte is a token; the vocabulary is the sorted
 * set of bytes that occur. */
typedef struct RtText {
    int32_t *ids;         /* [n] */
    int64_t  n;
    int      vocab;
    uint8_t  chars[256];  /* chars[id]: the byte of token id */
    int64_t  train_end;   /* ids [0, train_end) train; [train_end, n) validation */
    struct RtBpe *bpe;    /* subword tokens: the merges (owned); NULL: bytes as above */
    double   bpe_seconds; /* the time learning the merges took (0: given or none) */
    int64_t  train_bytes; /* bytes of the training part (bytes per token = train_bytes / train_end) */
} RtText;

int  rt_text_load(const char *path, double split, RtText *out, char *err, size_t errlen);
/* A byte vocabulary saved with a model (a checkpoint's nnc.chars): chars[id]
 * is the byte of token id. */
typedef struct RtCharVocab {
    int         n;
    uint8_t     chars[256];
    const char *from;        /* the checkpoint, in messages */
} RtCharVocab;
/* The same with the ids of `given` (NULL: the text's own, as above): the
 * ids a model was trained on, whatever bytes the file holds now; a byte of
 * the text that `given` lacks is refused, located by line and column. */
int  rt_text_load_vocab(const char *path, double split, const RtCharVocab *given, RtText *out, char *err,
                        size_t errlen);
/* The same with byte-level BPE tokens (bpe.c): ids 0..255 are the bytes and
 * `vocab` the final vocabulary.  The merges are `given` (from a checkpoint;
 * taken over: *given is left empty), or learned from the training part when
 * given is NULL.  Each part is encoded on its own, so no token spans the
 * split. */
int  rt_text_load_bpe(const char *path, double split, int32_t vocab, struct RtBpe *given, RtText *out, char *err,
                      size_t errlen);
/* A text of no tokens (ids NULL, n 0), only the vocabulary of a checkpoint:
 * the merges bpe (taken over: *bpe is left empty), or when bpe is NULL the
 * bytes of chars.  --sample needs nothing else of a text (the prompt's ids,
 * the bytes of an id), so it samples from a checkpoint without the file; the
 * ids are those rt_text_load_vocab or rt_text_load_bpe give with the same
 * vocabulary.  0, or -1 with why (out of memory). */
int  rt_text_of_vocab(const RtCharVocab *chars, struct RtBpe *bpe, RtText *out, char *err, size_t errlen);
/* Windows for one batch: x[b] = ids[s .. s+T), y[b] = ids[s+1 .. s+T+1), the
 * start s drawn from (seed, step, b) within the train part, or within the
 * validation part when validation is set. */
void rt_text_batch(const RtText *t, int64_t T, int64_t batch, uint64_t seed, uint64_t step, int validation,
                   int32_t *x, int32_t *y);
/* Windows [first, first + count) of that batch (a rank's slice of it): the
 * same windows rt_text_batch gives there. */
void rt_text_windows(const RtText *t, int64_t T, int64_t first, int64_t count, uint64_t seed, uint64_t step,
                     int validation, int32_t *x, int32_t *y);
void rt_text_free(RtText *t);

/* ---- byte-level BPE (bpe.c) ------------------------------------------------------------ */

enum { RT_BPE_MAX_VOCAB = 1 << 20 };

/* A learned tokenizer: ids 0..255 are bytes, id 256 + i is merge i, the
 * token pair[2i] followed by the token pair[2i+1]. */
typedef struct RtBpe {
    int32_t  vocab;   /* 256 + merges */
    int32_t *pair;    /* [vocab - 256][2] */
    int64_t *off;     /* [vocab + 1]: token t spells bytes[off[t] .. off[t+1]) */
    uint8_t *bytes;
} RtBpe;

/* Learns vocab - 256 merges from text: the most frequent adjacent pair first
 * (ties: the lowest first id, then the lowest second id), counted
 * incrementally.  ids (room for n; may be NULL): the text's tokens at the
 * end, which rt_bpe_encode would give, their count in *nids.  Returns 0, or
 * -1 with why (a text that runs out of pairs). */
int     rt_bpe_learn(const uint8_t *text, int64_t n, int32_t vocab, RtBpe *out, int32_t *ids, int64_t *nids,
                     char *err, size_t errlen);
/* Token ids of text into ids (room for n): the merges in order, each left to
 * right.  Returns the count, or -1 when out of memory. */
int64_t rt_bpe_encode(const RtBpe *b, const uint8_t *text, int64_t n, int32_t *ids);
/* The bytes of ids into out (at most cap written).  Returns how many bytes
 * they spell (more than cap: out was too small), or -1 for an id outside the
 * vocabulary. */
int64_t rt_bpe_decode(const RtBpe *b, const int32_t *ids, int64_t n, uint8_t *out, int64_t cap);
/* The merges as text, "A,B A,B ..." (merge i makes id 256 + i), malloc'd;
 * NULL when out of memory.  rt_bpe_parse reads it back, checking every id. */
char   *rt_bpe_format(const RtBpe *b);
int     rt_bpe_parse(const char *text, RtBpe *out, char *err, size_t errlen);
void    rt_bpe_free(RtBpe *b);

/* ---- an instance for embedding (embed.c): what a generated library's functions call ---- */

/* One model's memory and last error; no global state, so instances are
 * independent and each may be used from its own thread.  Every function
 * returns 0, or -1 with the reason in rt_instance_error. */
typedef struct RtInstance RtInstance;

/* Parameters initialised from seed as for training; total_steps is the
 * horizon learning-rate schedules see.  NULL only when out of memory. */
RtInstance *rt_instance_create(const RtModel *m, uint64_t seed, int64_t total_steps);
void        rt_instance_destroy(RtInstance *x);
int         rt_instance_load(RtInstance *x, const char *path);
int         rt_instance_load_memory(RtInstance *x, const void *data, size_t size);
int         rt_instance_save(const RtInstance *x, const char *path);
/* inputs[i]: input i's batch (float, or int32_t for tokens), row-major;
 * output: batch × the prediction's values per example.  Any batch: one
 * larger than the instance's slabs hold runs in pieces of what they hold. */
int         rt_instance_forward(RtInstance *x, int64_t batch, const void *const *inputs, float *output);
/* One optimizer step on the batch, any size (a larger one than the slabs
 * hold grows them); *loss: its mean loss before the update. */
int         rt_instance_train_step(RtInstance *x, int64_t batch, const void *const *inputs,
                                   const void *const *targets, float *loss);
const char *rt_instance_error(const RtInstance *x);
/* What the last load converted to the model's dtype (F16, BF16, F64
 * tensors): "hidden.weight (F16), hidden.bias (F16)", or NULL. */
const char *rt_instance_converted(const RtInstance *x);
/* A bpe text model's tokens (the merges the last rt_instance_load found in
 * the checkpoint's metadata; saving keeps them): encode writes at most cap
 * ids of len bytes of text and returns how many there are (more than cap:
 * ids was too small); decode writes at most cap bytes of n ids (no NUL)
 * and returns how many they spell.  -1 with the reason when no merges were
 * loaded, or an id is outside the vocabulary. */
int64_t     rt_instance_encode(RtInstance *x, const char *text, int64_t len, int32_t *ids, int64_t cap);
int64_t     rt_instance_decode(RtInstance *x, const int32_t *ids, int64_t n, char *out, int64_t cap);

/* ---- a trainer: the train block's data and recipe, the command line (run.c, exe.c) --- */

typedef enum RtDataKind { RT_DATA_MNIST, RT_DATA_CSV, RT_DATA_TEXT, RT_DATA_NPZ } RtDataKind;

/* What the train block says, in plain values: everything a trainer needs
 * besides the compiled entries.  nnc fills it for --jit and writes it as C
 * into the executables it makes. */
typedef struct RtRecipe {
    RtDataKind   data;
    const char  *path, *path2;     /* mnist: dir; csv, npz: train, test ("" = none); text: file */
    RtNormalize  normalize;        /* mnist */
    int          header;           /* csv: skip the first line */
    int64_t      classes;          /* csv: targets are labels in [0, classes); 0 = reals */
    const char  *columns;          /* csv: "left: 0-3, right: 4-7, same: 8" ("" or NULL: features, then the target) */
    int64_t      block;            /* text: window length */
    double       split;            /* text: fraction for training */
    int64_t      vocab;            /* text: the model's vocabulary */
    int64_t      batch, epochs, steps, eval_every;
    uint64_t     seed;
    double       lr;               /* as compiled in (reported, not changeable at run time) */
    const char  *model_dir;        /* relative data paths are tried here after the data root */
    int64_t      bpe_vocab;        /* text: 0 = bytes; else byte-level BPE tokens, this vocabulary */
    const char  *model_file;       /* the .nn file as nnc was given it (the metrics header names it), or NULL */
} RtRecipe;

/* The command line's overrides (0 or NULL: the recipe's). */
typedef struct RtRunOptions {
    int64_t     epochs, steps, threads;
    int64_t     seed;              /* -1: the recipe's */
    const char *data_root;         /* NULL: $NNC_DATA, else "." */
    const char *save, *load, *metrics, *chart;
    int         eval_only;
    const char *sample;
    int64_t     length;
    double      temperature;
    const char *prog;              /* prefix of error messages; NULL: "nnc" */
    int         verbose;           /* -v: say what the data took (bpe: learning time, bytes per token) */
    int         no_kv_cache;       /* --no-kv-cache: sample without the decode entry */
} RtRunOptions;

/* The rules between the sampling options, one copy for nnc --jit (compiler/main.c)
 * and the trainers nnc writes (runtime/exe.c): NULL when they agree, else what is
 * wrong ("--length and --temperature go with --sample", "--sample is given
 * twice": samples counts the --sample options given). */
const char *rt_sample_options_rule(const char *sample, int samples, int64_t length, double temperature,
                                   int no_kv_cache);
struct option;
/* The option getopt_long just gave (c, and longindex into its table opts,
 * -1 for a short option), as the user typed it ("--colour", "-o"), when it
 * takes a value, required or optional, else NULL.  One rule for nnc and
 * its trainers: such an option given a second time would replace the first
 * without a word, so it is refused, "%s is given twice" (--input and
 * --sample are their callers' exceptions). */
const char *rt_value_option_typed(const struct option *opts, int longindex, int c, char *buf, size_t len);
/* The options a command line gave, for rt_mode_options_rule. */
enum {
    RT_OPT_SAVE = 1 << 0, RT_OPT_METRICS = 1 << 1, RT_OPT_CHART = 1 << 2,
    RT_OPT_EPOCHS = 1 << 3, RT_OPT_STEPS = 1 << 4, RT_OPT_LR = 1 << 5, RT_OPT_BATCH = 1 << 6,
};
/* The same for the run modes, --eval and --sample: an option given (RT_OPT_*
 * bits) that the mode does not use, or both modes at once, is a bad command
 * line: NULL, or what is wrong (written to buf, len bytes, or a constant). */
const char *rt_mode_options_rule(int eval_only, const char *sample, unsigned given, char *buf, size_t len);
/* Whether paths a and b name one file: the same text, the same existing
 * file (a link, a hard link, "./x" for "x"), or, for a file not made yet,
 * the same name in the same folder; each through its links first, since a
 * write replaces a link's target.  The rules below, and --predict's -o. */
int rt_same_file(const char *a, const char *b);
/* The files a run writes, one copy for both as above: two of --save,
 * --metrics (a file, not "-") and --chart naming one file would leave only
 * the last written there, and a --chart name not ending in .svg would hold
 * an SVG under another name, so either is a bad command line: NULL, or what
 * is wrong (written to buf).  --load may name --save's file (a run resumed
 * in place), not --metrics' or --chart's, which would write over the
 * checkpoint it reads.  load may be NULL. */
const char *rt_output_files_rule(const char *load, const char *save, const char *metrics, const char *chart, char *buf,
                                 size_t len);
/* --epochs against the data, one copy for both as above: NULL, or why not
 * (text data is sampled in random windows: it has no epochs; the train
 * block's own rule is sema_train.c's). */
const char *rt_epochs_rule(int64_t epochs, int text_data);

/* The folder path names a file in, written to folder (at most len bytes,
 * cut), and that file's name, returned (a pointer into path): "a/b/x" is
 * "a/b" and "x", "x" is "." and "x", "/x" is "/" and "x", "/" is "/" and "".
 * folder may be NULL with len 0 when only the name is wanted: what comes
 * before it in path is the folder with its '/' ("a/b/", "", "/"), as a
 * file beside path is named.  The project's one splitter of paths: the
 * compiler's path_base, path_dir and path_beside (compiler/util/path.h) call it. */
const char *rt_split_path(const char *path, char *folder, size_t len);

/* 0 if the folder that file goes in (file: path, or its link's target)
 * exists and takes files, else 1 with "CANNOT 'path': why" ("cannot save
 * to 'x/ck.safetensors': No such file or directory"): for the paths a run or
 * a compile will write, checked before the work. */
int rt_writable_folder(const char *cannot, const char *path, const char *file, char *err, size_t errlen);

/* What the runtime's files (checkpoints, charts) may replace: a path that
 * does not exist yet, or a regular file (through links).  Before training, so
 * that "--save runs/" or "--chart /dev/null" fail at once: 0, or 1 with
 * "CANNOT 'path': it is a directory, not a regular file". */
int rt_replaceable(const char *cannot, const char *path, char *err, size_t errlen);

/* An atomic replacement of a file: rt_replace_begin makes a new temporary
 * beside path's target (its links followed), in its folder, under a name of its own
 * (".nnc-PID-SALT.tmp") and
 * O_EXCL, so that nothing already there (a link planted at a predictable
 * name) is written through, mode 0644 less the umask; the caller writes fd,
 * then rt_replace_end flushes it to disk, closes it (unless fd is -1: a
 * FILE over it the caller synced and closed) and renames it over the
 * target (ok) or removes it (!ok, or a failure: then errno says why).
 * 0, or -1 with errno set (the temporary gone).  Checkpoints, charts
 * and the files nnc -o writes go through it. */
typedef struct RtReplace {
    char *target, *tmp;
    int   fd;
} RtReplace;
int rt_replace_begin(RtReplace *r, const char *path);
int rt_replace_end(RtReplace *r, int ok);
/* All n bytes of p to fd, again after a short write or EINTR: 0, or -1
 * with errno set (a write that wrote nothing is ENOSPC's, EIO's...). */
int rt_write_all(int fd, const void *p, size_t n);

/* Would --load take the checkpoint at path into m?  Its header alone (no
 * tensor is read): every parameter there with m's shape and a float dtype,
 * the optimizer state's tensors that are there too.  0, or -1 with the
 * reason rt_train would refuse it for ("ck.safetensors: tensor
 * 'hidden.weight' is F32[2,2], but the model has F32[128,784]"): nnc --jit
 * asks before it compiles. */
int rt_state_check(const RtModel *m, const char *path, char *err, size_t errlen);
/* The same checks of a checkpoint already read whole (rt_safetensors_read;
 * path names it in messages), which converts its tensors of other float
 * types to m's on the way (rt_checkpoint_as): for a caller that then reads
 * the values itself (nnc --emit=onnx --load), one read of the file. */
int rt_state_check_read(const RtModel *m, RtCheckpoint *ck, const char *path, char *err, size_t errlen);

/* The state tensor that is this step counter (nnc's libraries ask for total_steps), or NULL (a model without a
 * schedule or optimizer state has none). */
const RtTensorSpec *rt_find_counter(const RtModel *m, RtCounter counter);

/* The examples of r's training split, as a run reads them (under NNC_DATA,
 * else the current directory, else beside the model; MNIST: 60000): for a
 * library, which reads no data, to count the steps of the train block's
 * epochs that a learning-rate schedule spans.  An npz's count is its
 * arrays' headers' (no value is read); a csv, which keeps no count, is
 * read whole.  0, or 1 with why. */
int rt_train_examples(const RtModel *m, const RtRecipe *r, int64_t *count, char *why, size_t len);

/* The length of a run, the total_steps a learning-rate schedule spans:
 * epochs x the batches of `examples` at `batch` (the last one possibly
 * short; *per_epoch, which may be NULL, gets their number), or steps when
 * epochs is 0.  The one count of it for rt_train and for a library's
 * horizon (nnc --emit=so|obj).  *total is set either way; 0, or 1 with why
 * when it is more than RT_MAX_STEPS, which no run may be. */
int rt_total_steps(int64_t epochs, int64_t steps, int64_t batch, int64_t examples, int64_t *per_epoch, int64_t *total,
                   char *why, size_t len);

/* Loads the data the recipe names and trains m (rt_train).  Returns 0, 130
 * after Ctrl-C, 143 after SIGTERM, or 1 having said why on log ("nnc: error: ..."). */
int rt_run(const RtModel *m, const RtRecipe *r, const RtRunOptions *o, void *log);

/* main() of an executable made by `nnc model.nn`: parses the training
 * options (--help lists them) and runs.  Exit status 0, 1 (bad data or
 * checkpoint), 2 (bad command line), 130 (interrupted), 143 (terminated). */
int rt_exe_main(const RtModel *m, const RtRecipe *r, int argc, char **argv);

#endif
