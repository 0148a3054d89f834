/* rt_internal.h — helpers shared by the runtime's files; not part of its
 * public header. */
#ifndef NNC_RT_INTERNAL_H
#define NNC_RT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "include/nnc_runtime.h"

/* Seconds on the monotonic clock, for durations: the one clock of the
 * runtime's timings (steps, the pool's wake-ups, the allreduce, the chart's
 * redraws, BPE training). */
static inline double rt_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The whole file in *buf, NUL-terminated (caller frees), its length (the
 * NUL excluded) in *len.  Returns 0, or -1 with a reason naming path. */
int rt_read_whole(const char *path, char **buf, size_t *len, char *err, size_t errlen);

/* The file a write to path replaces: path, or for a symbolic link (a chain
 * of them) the file it ends at, so that an atomic write (a temporary beside
 * that file, then rename) updates the target and leaves the link a link.
 * The caller frees it; NULL when out of memory. */
char *rt_link_target(const char *path);

/* The runtime's allocations (alloc.c): malloc and friends, except that
 * NNC_FAIL_ALLOC=N makes the Nth of the process fail, for fault-injection
 * tests; rt_alloc_injected() says whether that happened. */
void *rt_malloc(size_t n);
void *rt_calloc(size_t n, size_t size);
void *rt_realloc(void *p, size_t n);
void *rt_aligned_alloc(size_t align, size_t n);
void *rt_huge_alloc(size_t n);  /* 64-byte aligned; from 2 MB on in huge pages */
int   rt_alloc_injected(void);

/* rt_csv_load_fit that also gives each example's line in the file (from 1,
 * the header and blank lines counted) in *lines (the caller frees it),
 * when lines is not NULL: for csv(..., columns:)'s messages. */
int rt_csv_load_lines(const char *path, int header, int64_t classes, int64_t x_elems, const char *input,
                      RtDataset *out, int64_t **lines, char *err, size_t errlen);

/* Writes the reason into err (when there is room) and returns rc: the one
 * way runtime functions say why they failed. */
int rt_fail(int rc, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Before an allocation of `want` bytes (want < 0: more than int64 holds):
 * 0 when it can fit (rt_memory_available), else -1 with "WHAT needs 74.2 GiB
 * of memory (DETAIL); this machine has 7.6 GiB" in err, WHAT from fmt, the
 * parenthesis only with a detail (mem.c). */
int rt_memory_check(int64_t want, const char *detail, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The same for a data file read whole and turned into arrays of about
 * per_byte bytes for each of its bytes (what names them): 0 when it fits,
 * or is not a regular file (its reader says why it cannot read it). */
int rt_file_check(const char *path, int64_t per_byte, const char *what, char *err, size_t errlen);

/* Elements of t for a batch (shape[i] == -1 is the batch). */
static inline int64_t rt_elems(const RtTensorSpec *t, int64_t batch)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->shape[i] < 0 ? batch : t->shape[i];
    return n;
}

static inline size_t rt_dsize(RtDtype d) { return d == RT_F64 ? 8 : 4; }

static inline void rt_set(void *p, RtDtype d, int64_t i, double v)
{
    if (d == RT_F64)
        ((double *)p)[i] = v;
    else if (d == RT_F32)
        ((float *)p)[i] = (float)v;
    else
        ((int32_t *)p)[i] = (int32_t)v;
}

static inline double rt_get(const void *p, RtDtype d, int64_t i)
{
    return d == RT_F64 ? ((const double *)p)[i] : d == RT_F32 ? ((const float *)p)[i] : ((const int32_t *)p)[i];
}

/* Test hook (pool.c): worker `worker` of p sleeps this long each time it
 * wakes for a call, before it takes a claim; 0: no delay. */
void rt_pool_test_delay(RtPool *p, int worker, int microseconds);
/* Test hooks (pool.c): calls of p that woke sleeping workers at their start
 * (a task whose claims took WAKE_AFTER when it last ran), and the workers
 * asleep now. */
int64_t rt_pool_test_early_wakes(const RtPool *p);
int rt_pool_test_sleepers(RtPool *p);

/* The claims of p's parallel calls so far (pool.c): those the caller ran
 * (beside the workers, or alone when they stalled) and those the workers
 * ran; a call on one thread (serial mode, one item) is no claim.  -v
 * prints the workers' share of the claims (not of the work: the first
 * claims of a call are the longest, and the caller usually takes claim 0). */
void rt_pool_claims(const RtPool *p, int64_t *caller, int64_t *workers);

/* rt_parallel, on the caller and the workers that are awake (spinning
 * between calls) only: it never wakes a sleeping worker, which on a busy
 * machine would take a CPU for a short call and could lose it holding a
 * claim.  For short serial work of the runtime's own between the
 * generated code's calls (a batch's rows), where a worker that is awake
 * helps and one that sleeps is woken by the next call that is worth it. */
void rt_parallel_awake(RtPool *p, int64_t n, RtTask task, void *arg);

/* Serial mode (pool.c): while set, every rt_parallel call on p runs on the
 * caller alone, as one claim over [0, n) (the same bits: see rt_parallel). */
void rt_pool_set_serial(RtPool *p, int serial);
/* Seconds p's caller has waited, over all calls so far, for workers that
 * had stalled: a wait that outlasted the caller's own claims and 200 us
 * (the same test that sends the next calls to the caller alone). */
double rt_pool_stalled(const RtPool *p);
/* The CPUs this process may run on (its affinity mask), at least 1: the
 * default number of threads, and each rank's under mpirun (run.c). */
int rt_usable_cpus(void);

/* ---- idle CPU time (idle.c) --------------------------------------------------------------- */

/* Clock ticks of the CPUs this process may run on (its affinity mask), summed. */
typedef struct RtCpuTicks {
    double idle;   /* idle and iowait: nothing ran */
    double total;
    int    cpus;   /* how many CPUs were counted */
} RtCpuTicks;
/* Reads them from /proc/stat: 0, or -1 when it cannot (not Linux). */
int    rt_cpu_ticks(RtCpuTicks *t);
/* The reading itself, from f in /proc/stat's format: the CPUs whose mask[]
 * byte is set (ncpus of them, all of which must be there), niced processes'
 * time counted as idle when nice_idle. */
enum { RT_CPUS_MAX = 1024 };
int    rt_cpu_ticks_read(FILE *f, const unsigned char *mask, int ncpus, int nice_idle, RtCpuTicks *t);
/* How many CPUs' worth sat idle between two readings (0 .. the CPUs counted),
 * or -1 when the two do not compare (other CPUs, or no tick between). */
double rt_cpus_idle(const RtCpuTicks *from, const RtCpuTicks *to);

/* ---- threads or one, per training step (pace.c) ----------------------------------------- */

enum { RT_PACE_PROBE_STEPS = 3 };
typedef enum RtPacePhase { RT_PACE_WARMUP, RT_PACE_PROBE, RT_PACE_RUN } RtPacePhase;

/* The chooser's state: a pure function of the step times (and their waits
 * on stalled workers) fed to it, and of the idle CPU time `ticks` reads. */
typedef struct RtPace {
    int       (*ticks)(RtCpuTicks *t);  /* rt_pace_watch's; NULL: probe without asking */
    RtCpuTicks  at;          /* ticks at the start of this run on one thread, or of the warm-up */
    int         at_known;    /* `at` was read */
    int         skipped;     /* probes not run: no CPU sat idle through the run on one thread before */
    int         on;          /* more than one thread to choose from */
    RtPacePhase phase;
    int         n;           /* steps in this phase so far */
    double      probe[2][RT_PACE_PROBE_STEPS];  /* [threads, one][i]: the probe's samples, mean step times */
    double      sample;      /* seconds of the probe's sample so far (pace.c's SAMPLE_MIN) */
    int         sample_n;    /* its steps */
    int         probed[2];   /* the probe's steps [threads, one] */
    double      recent[RT_PACE_PROBE_STEPS];    /* the last steps of the run, a ring */
    int         serial;      /* the probe's winner: 1 one thread, 0 all */
    double      ref;         /* its median step time in the probe, seconds */
    double      one;         /* the probe's median step on one thread, seconds (0: a stall decided it) */
    double      credit;      /* seconds this run on the threads has saved against `one`, less the stalls it paid */
    int         stalled_runs;  /* stretches on the threads in a row that an unpaid stall ended */
    double      budget;      /* seconds the winner runs before the next probe */
    double      elapsed;     /* seconds of this run so far */
    int         probes;      /* probes finished */
    int         switches;    /* probes that changed the winner */
    int         last_serial;
    int         stalls;      /* steps on the threads that stalled (paid from the credit, or ending a probe or run) */
    int         paid;        /* of them, those the credit paid for */
    int         threaded;    /* a step has run on the threads (the first is left out of the stall test) */
} RtPace;

void rt_pace_init(RtPace *s, int threads);
/* Reads idle CPU time with `ticks` (rt_cpu_ticks, or a test's), from now
 * on: no probe after a run on one thread, the warm-up's too, through
 * which no other CPU sat idle. */
void rt_pace_watch(RtPace *s, int (*ticks)(RtCpuTicks *t));
/* Whether the next step runs on one thread (1) or on all (0). */
int  rt_pace_serial(const RtPace *s);
/* The step just run (in the mode rt_pace_serial said) took `seconds`, of
 * which its calls waited `stalled` for workers that had stalled
 * (rt_pool_stalled's growth over the step); comparable 0: not a full step
 * (the short last batch), not counted. */
void rt_pace_step(RtPace *s, double seconds, double stalled, int comparable);
/* Whether the next step runs on one thread because a probe timed one
 * thread faster or a stalled step ended the run on the threads (what -v
 * counts): not a warm-up or probe step. */
int  rt_pace_chose_one(const RtPace *s);

/* ---- one instance's memory (state.c) ---------------------------------------------------- */

/* Bytes slab s needs for batches of up to `batch` examples: the most any of
 * m's entries asks for, plus 64 so that a vector load past the end of the
 * last tensor stays inside. */
size_t rt_slab_size(const RtModel *m, int s, int64_t batch);
/* Slab s zeroed (64-byte aligned) for batches of up to `batch`, or NULL. */
uint8_t *rt_slab_alloc(const RtModel *m, int s, int64_t batch);
/* Allocates slab[1..4] zeroed (64-byte aligned), for batches of up to
 * `batch`.  Returns 0, or -1 with a reason. */
int  rt_slabs_alloc(const RtModel *m, int64_t batch, uint8_t *slab[5], char *err, size_t errlen);
void rt_slabs_free(uint8_t *slab[5]);

/* Where t of model m is at this batch (parameters and state are where they
 * are at any). */
static inline void *rt_at(const RtModel *m, uint8_t *const slab[5], const RtTensorSpec *t, int64_t batch)
{
    return slab[t->slab] + rt_bytes_at(t->offset, m->batch, batch);
}

/* Parameters as torch.nn starts them; parameter i draws from stream rt_param_stream(i). */
void rt_params_init(const RtModel *m, uint8_t *const slab[5], uint64_t seed);
const RtTensorSpec *rt_find_state(const RtModel *m, const char *name);

/* Parameters and optimizer state to a checkpoint, and back.  Loading needs
 * every parameter with its shape, and no tensor the model does not have; the
 * state and step are taken when there, the optimizer's state all or none.
 * *resumed: RT_LOAD_* flags.  Return 0, or -1 with a reason naming the tensor. */
enum {
    RT_LOAD_RESUMED     = 1,  /* the step or the optimizer's state was taken */
    RT_LOAD_NO_STATE    = 2,  /* the optimizer has state and the file none of it (parameters only): it starts from zero */
    RT_LOAD_OTHER_STATE = 4,  /* the file has only another optimizer's state (Adam's, for SGD): not taken */
};
/* Saving refuses parameters or optimizer state holding NaN or inf (a
 * step's update can make them so while the loss it computed before was
 * finite): nothing is written, the file stays as it was, and the return is
 * RT_SAVE_NONFINITE with err "parameter 'x' holds nan" (or "optimizer state
 * '...'", "inf", "-inf"), for the caller to say when; any other failure -1. */
enum { RT_SAVE_NONFINITE = -2 };
int  rt_state_save(const RtModel *m, uint8_t *const slab[5], const char *path, char *err, size_t errlen);
int  rt_state_load(const RtModel *m, uint8_t *const slab[5], const char *path, int *resumed, char *err,
                   size_t errlen);
/* The same from a checkpoint already read (path names it in messages); frees *ck. */
int  rt_state_take(const RtModel *m, uint8_t *const slab[5], RtCheckpoint *ck, const char *path, int *resumed,
                   char *err, size_t errlen);
/* Both, and *converted: the tensors of other float types converted to the
 * model's ("hidden.weight (F16), ..."; the caller frees it), or NULL. */
int  rt_state_load_conv(const RtModel *m, uint8_t *const slab[5], const char *path, int *resumed, char **converted,
                        char *err, size_t errlen);
int  rt_state_take_conv(const RtModel *m, uint8_t *const slab[5], RtCheckpoint *ck, const char *path, int *resumed,
                        char **converted, char *err, size_t errlen);
/* The header whole, the tensors' data left out: every tensor's name, dtype,
 * shape and bytes, its data NULL (rt_checkpoint_as converts such a header's
 * dtypes); the same checks of the header as rt_safetensors_read (the data's
 * length, offsets that overlap).  safetensors.c */
int  rt_safetensors_read_header(const char *path, RtCheckpoint *out, char *err, size_t errlen);
/* A checkpoint's __metadata__ also holds "format": "pt" (as safetensors.torch
 * writes), RT_META_VERSION (nnc's version) and RT_META_STEP: the steps done,
 * a whole number in decimal; older checkpoints have a scalar tensor "step". */
#define RT_META_VERSION "nnc.version"
#define RT_META_STEP    "nnc.step"

/* ---- JSON (json.c): a strict reader, for the safetensors header ---------------------- */

typedef enum { RT_JSON_NULL, RT_JSON_BOOL, RT_JSON_NUMBER, RT_JSON_STRING, RT_JSON_ARRAY, RT_JSON_OBJECT } RtJsonKind;

/* One value.  A container's members are v[first], v[v[first].next], ... in
 * the order written; an object's members carry their key. */
typedef struct RtJson {
    RtJsonKind  kind;
    int         first, next, count;   /* children by index into RtJsonDoc.v; -1: none */
    const char *key;                  /* as a member of an object, else NULL */
    int         at;                   /* as a member: the byte where it starts (its key) */
    const char *str;                  /* a string, decoded, NUL-terminated */
    size_t      len;
    double      number;
    long long   integer;              /* a number written as an integer that fits; a boolean's 1 or 0 */
    int         is_integer;
} RtJson;

typedef struct RtJsonDoc {
    RtJson *v;      /* v[0] is the root */
    int     n;
    char   *strings;
} RtJsonDoc;

/* Parses len bytes of text as one JSON value.  Returns 0, or -1 with
 * "what (line L, column C, byte B)" in err and nothing to free. */
int           rt_json_parse(const char *text, size_t len, RtJsonDoc *doc, char *err, size_t errlen);
const RtJson *rt_json_get(const RtJsonDoc *doc, const RtJson *object, const char *key);  /* NULL: absent */
const RtJson *rt_json_at(const RtJsonDoc *doc, const RtJson *array, int i);
void          rt_json_free(RtJsonDoc *doc);

/* ---- the training curves as SVG (chart.c) ------------------------------------------- */

typedef struct RtChart RtChart;
/* A chart for path (nothing is written yet): the losses, and the metrics
 * named (test_NAME).  NULL when out of memory. */
RtChart *rt_chart_new(const char *path, const char *model, const char *xlabel, int nmetrics,
                      const char *const *metric_names);
/* Adds an evaluation at x (epoch or step) and rewrites the file whole
 * (at most twice a second: rt_chart_flush writes what is left at the end).
 * Return 0, or 1 with a reason. */
int  rt_chart_add(RtChart *c, double x, double train_loss, double test_loss, const double *metrics, char *err,
                  size_t errlen);
int  rt_chart_flush(RtChart *c, char *err, size_t errlen);
void rt_chart_free(RtChart *c);

/* A checkpoint of a model that reads bpe tokens keeps the merges in the
 * header's __metadata__: RT_META_TOKENIZER = "bpe" and RT_META_BPE_MERGES =
 * rt_bpe_format's text.  Saving with bpe NULL writes no metadata; loading
 * refuses a file without merges or with merges of another vocabulary. */
#define RT_META_TOKENIZER  "nnc.tokenizer"
#define RT_META_BPE_MERGES "nnc.bpe_merges"
/* A model that reads a text's bytes keeps its vocabulary the same way:
 * RT_META_TOKENIZER = "bytes" and RT_META_CHARS = rt_text_vocab_format's
 * text, the byte of each id in order ("10 32 33 ..."), so that --load maps
 * a changed file's bytes to the ids the model learned.  Checkpoints written
 * before it have neither: the file's own vocabulary is used, as then. */
#define RT_META_CHARS      "nnc.chars"
/* A byte vocabulary as RT_META_CHARS's text (malloc'd; NULL: out of memory). */
char *rt_text_vocab_format(const RtCharVocab *v);
/* That text back; 0, or -1 with why (a value outside 0-255, one listed
 * twice, a separator other than one space). */
int   rt_text_vocab_parse(const char *s, RtCharVocab *out, char *why, size_t len);
/* The byte vocabulary of checkpoint path into out (out->from = path), for
 * a model of `vocab` token ids: 0 with out->n = 0 when it has none
 * (written before it was saved, or a bpe model's), -1 with why when it
 * cannot be read or has more bytes than the model has ids (an nnc.chars
 * edited by hand: the checkpoint's fault, whatever loads it). */
int   rt_state_load_chars(const char *path, int64_t vocab, RtCharVocab *out, char *err, size_t errlen);
/* The same from a checkpoint already read (its __metadata__). */
int   rt_checkpoint_chars(const RtCheckpoint *ck, const char *path, int64_t vocab, RtCharVocab *out, char *err,
                          size_t errlen);
/* Saves with the tokenizer of text (NULL: none): its merges, or its byte vocabulary. */
int   rt_state_save_text(const RtModel *m, uint8_t *const slab[5], const RtText *text, const char *path, char *err,
                         size_t errlen);
/* Saves with the byte vocabulary v (a library keeps the one its checkpoint had). */
int   rt_state_save_chars(const RtModel *m, uint8_t *const slab[5], const RtCharVocab *v, const char *path, char *err,
                          size_t errlen);

/* The version of nnc this runtime came with: in the metrics header line and
 * in every checkpoint's __metadata__ (nnc.version).  CMake defines it. */
#ifndef NNC_VERSION
#define NNC_VERSION "0.0.0"
#endif
int  rt_state_save_bpe(const RtModel *m, uint8_t *const slab[5], const RtBpe *bpe, const char *path, char *err,
                       size_t errlen);
int  rt_state_load_bpe(const char *path, int32_t vocab, RtBpe *out, char *err, size_t errlen);
/* The merges of a checkpoint already read (its __metadata__), for a model
 * of bpe(vocab: vocab); path names it in messages.  0, or -1 with why. */
int  rt_checkpoint_bpe(const RtCheckpoint *ck, const char *path, int32_t vocab, RtBpe *out, char *err, size_t errlen);
/* Positions visited and heap entries taken by this thread's last rt_bpe_learn or
 * rt_bpe_encode: tests hold it to a multiple of the text's length (a rescan per
 * merge would make it n x merges). */
int64_t rt_bpe_work(void);

#endif
