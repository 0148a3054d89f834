/* train.c — the training loop: data in, steps run, progress and metrics
 * out, checkpoints written; see rt_train in nnc_runtime.h.
 *
 * One step: the next batch of examples (in this epoch's shuffled order, the
 * last batch possibly short) is copied into the input slab, the generated
 * train entry runs (forward, backward and update in one call), and the
 * mean loss is read back from where the plan put it.  Evaluation runs the
 * eval entry over the test split (or fixed validation windows of a text)
 * and averages loss and metrics weighted by batch size.
 *
 * Several ranks (mpirun; dist.c, docs/distributed.md): every rank draws the
 * same order and runs the same step on its contiguous slice of each global
 * batch (rt_dist_shard), the step's allreduce makes the update the same
 * everywhere, and after each step one small gather gives every rank the
 * batch's loss, any stop signal and any failure, so that all stop after
 * the same step.  Evaluation splits its batches the same way.  Only rank 0
 * writes: progress, lines, metrics, chart, checkpoints, samples.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "include/nnc_runtime.h"
#include "rt_internal.h"

enum { EVAL_WINDOW_BATCHES = 20 };  /* text: validation estimate from this many fixed batches */

/* The signal that asked training to stop (SIGINT from Ctrl-C, or SIGTERM
 * from kill or a job scheduler), or 0.  The step in flight finishes, the
 * checkpoint is saved, and the run exits 128 + the signal, as shells do. */
static volatile sig_atomic_t interrupted;
static void on_stop_signal(int sig) { interrupted = sig; }

/* CPU seconds of the process, all threads: on a shared machine a steadier
 * measure of work than the wall clock. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct Loop {
    const RtModel       *m;
    const RtTrainConfig *cfg;
    RtCtx                ctx;
    uint8_t             *slab[5];
    int64_t             *order;
    FILE                *log, *metrics;
    RtChart             *chart;   /* --chart, or NULL */
    double               start;
    int                  quiet;   /* this evaluation: metrics only, no line */
    double               last_bar;/* when the progress bar was last drawn */
    int                  rank, size;  /* in the MPI world (dist.c); one process: 0 and 1 */
    int                  stop;    /* several ranks: the signal all ranks agreed to stop on, or 0 */
    int                  failed;  /* several ranks: this rank failed and will stop at the next gather */
} Loop;

/* The signal that stops the run, if any: one process reads it as it comes,
 * several ranks only as they agreed on it after a step. */
static int stopping(const Loop *L) { return L->size > 1 ? L->stop : interrupted; }

/* Several ranks: whether any of them failed (rc != 0) at this point, which
 * every rank reaches once.  Returns rc, or 1 with why when only another
 * rank failed (its message is its own). */
static int agree(Loop *L, int rc, char *err, size_t errlen)
{
    return L->size > 1 ? rt_dist_agree(rc, err, errlen) : rc;  /* sampling runs as one rank (size 1) */
}

/* Where t is for the batch about to run (set ctx.batch first). */
static void *at(Loop *L, const RtTensorSpec *t) { return rt_at(L->m, L->slab, t, L->ctx.batch); }

/* 0 if a checkpoint or chart may be written to path: it is a regular file
 * or none yet, and the folder it goes in (a link's target's: the write goes
 * through links) takes files; else 1 with why.  Before training, so that a
 * run does not train for an hour and then fail to write. */
static int writable(const char *cannot, const char *path, char *err, size_t errlen)
{
    char *target = rt_link_target(path);
    if (!target)
        return rt_fail(1, err, errlen, "out of memory");
    int rc = rt_replaceable(cannot, path, err, errlen);
    if (rc == 0)
        rc = rt_writable_folder(cannot, path, target, err, errlen);
    free(target);
    return rc;
}

/* The checkpoint of step: refused, the file left as it was, when a
 * parameter or the optimizer's state holds NaN or inf (a step's update can
 * make them so while the loss it computed before was finite), since a
 * resumed run could not recover from it and it would replace a good one. */
static int save(Loop *L, int64_t step, const char *path, char *err, size_t errlen)
{
    char why[1024];
    int rc = rt_state_save_text(L->m, L->slab, L->cfg->text, path, why, sizeof why);
    if (rc == RT_SAVE_NONFINITE)
        return rt_fail(1, err, errlen, "step %lld: %s after the update; stopping (the last checkpoint written is kept)",
                       (long long)step, why);
    return rc ? rt_fail(1, err, errlen, "%s", why) : 0;
}

/* A run whose checkpoint is already at or past its last step trains
 * nothing: it says so, and still writes --save's file (the user asked for
 * one) with the state as loaded, rather than leaving none and exit 0. */
static int nothing_to_train(Loop *L, int64_t step, int64_t total, char *err, size_t errlen)
{
    const char *path = L->cfg->save_path;
    if (path && save(L, step, path, err, errlen) != 0)
        return 1;
    fprintf(L->log, "trained 0 steps: %s is at step %lld, and the run ends at step %lld (--steps and --epochs count "
            "from the first step, not from the checkpoint's)%s%s\n", L->cfg->load_path, (long long)step,
            (long long)total, path ? "; wrote its state to " : "", path ? path : "");
    return 0;
}

/* Training from a checkpoint whose optimizer state is not taken (resumed:
 * rt_state_load's flags): a note that the optimizer starts from zero, so
 * the run does not continue the one that wrote it exactly. */
static void load_note(Loop *L, int resumed)
{
    const char *path = L->cfg->load_path;
    if (resumed & RT_LOAD_NO_STATE)
        fprintf(L->log, "%s: note: no optimizer state in the file (parameters only); the optimizer starts from zero "
                        "state, so the run does not resume exactly\n", path);
    if (resumed & RT_LOAD_OTHER_STATE)
        fprintf(L->log, "%s: note: the optimizer state in the file is another optimizer's; model '%s' does not use it\n",
                path, L->m->name);
}

/* ---- batches ------------------------------------------------------------------------ */

/* What feeds slot k of the model (input k, or target k - ninputs) in d: a
 * column of d, or for a data set of one input and one target (mnist, csv)
 * its x, and its labels or y.  0 when d has nothing for it. */
static int column(const RtModel *m, const RtDataset *d, int k, RtColumn *c)
{
    if (d->ncolumns) {
        if (k >= d->ncolumns)
            return 0;
        *c = d->columns[k];
        return 1;
    }
    if (k == 0)
        *c = (RtColumn){.dtype = RT_F32, .elems = d->x_elems, .data = d->x};
    else if (k == m->ninputs && d->labels)
        *c = (RtColumn){.dtype = RT_I32, .elems = d->y_elems, .data = d->labels};
    else if (k == m->ninputs && d->y)
        *c = (RtColumn){.dtype = RT_F32, .elems = d->y_elems, .data = d->y};
    else
        return 0;
    return 1;
}

/* A batch being filled, for fill_rows. */
typedef struct Fill {
    Loop            *L;
    const RtDataset *d;
    const int64_t   *order;  /* NULL: examples first, first + 1, ... */
    int64_t          first;
} Fill;

/* Examples [lo, hi) of the batch into every slot: a task, so that a worker
 * that is awake copies rows too (rt_parallel_awake).  A step of the MNIST
 * MLP copies 64 rows of 3 KB from random places of a 188 MB data set:
 * 25-40 us on one thread (a miss to memory per row), a fifth of its step
 * on two threads, and a worker that waited through it had often gone to
 * sleep before the step's first product (it spins some 50 us). */
static void fill_rows(void *arg, int64_t lo, int64_t hi)
{
    const Fill *f = arg;
    const RtModel *m = f->L->m;
    for (int k = 0; k < m->ninputs + m->ntargets; k++) {
        const RtTensorSpec *t = k < m->ninputs ? &m->inputs[k] : &m->targets[k - m->ninputs];
        RtColumn c;
        if (!column(m, f->d, k, &c))
            continue;
        uint8_t *p = at(f->L, t);
        size_t row = rt_dsize(c.dtype) * (size_t)c.elems;
        for (int64_t i = lo; i < hi; i++) {
            int64_t ex = f->order ? f->order[f->first + i] : f->first + i;
            const uint8_t *src = (const uint8_t *)c.data + row * (size_t)ex;
            if (t->dtype == c.dtype)  /* the common case: a row copy */
                memcpy(p + row * (size_t)i, src, row);
            else
                for (int64_t e = 0; e < c.elems; e++)
                    rt_set(p, t->dtype, i * c.elems + e, rt_get(src, c.dtype, e));
        }
    }
}

/* The next batch: examples order[first .. first+b) of d into every input
 * and target slot (where they are depends on b).  A model without a target
 * (an autoencoder) takes only the examples. */
static void fill_examples(Loop *L, const RtDataset *d, const int64_t *order, int64_t first, int64_t b)
{
    L->ctx.batch = b;
    rt_parallel_awake(L->ctx.pool, b, fill_rows, &(Fill){L, d, order, first});
}

/* Windows [first, first + b) of a step's batch of text windows (first > 0:
 * a rank's slice), written straight into the slots: the front end makes a
 * text model's input and target token ids (int32). */
static void fill_windows(Loop *L, uint64_t step, int validation, int64_t first, int64_t b)
{
    L->ctx.batch = b;
    rt_text_windows(L->cfg->text, L->cfg->block, first, b, L->cfg->seed, step, validation, at(L, &L->m->inputs[0]),
                    at(L, &L->m->targets[0]));
}

/* A scalar result of the batch that just ran. */
static double read_act(Loop *L, RtBytes at)
{
    return rt_get(L->slab[RT_SLAB_ACT] + rt_bytes_at(at, L->m->batch, L->ctx.batch), L->m->real, 0);
}

/* ---- evaluation ----------------------------------------------------------------------- */

typedef struct Eval { double loss, metric[8]; int64_t examples; } Eval;

/* Returns 0, -1 when the scratch memory of the generated code ran out
 * here (rt_pool_failed), or 1 when it ran out on another rank: the results
 * are void. */
static int evaluate(Loop *L, Eval *out)
{
    const RtModel *m = L->m;
    const RtTrainConfig *c = L->cfg;
    memset(out, 0, sizeof *out);
    if (!c->text && !c->test)
        return 0;  /* no test split: nothing to evaluate on */
    int64_t batches = c->text ? EVAL_WINDOW_BATCHES : (c->test->count + c->batch - 1) / c->batch;
    int64_t k0 = 0, mine = batches;   /* several ranks: a contiguous share of the batches each */
    int failed = 0;
    rt_dist_shard(batches, L->rank, L->size, &k0, &mine);
    for (int64_t k = k0; k < k0 + mine; k++) {
        int64_t b = c->text ? c->batch : (k + 1) * c->batch <= c->test->count ? c->batch : c->test->count - k * c->batch;
        if (c->text)
            fill_windows(L, (uint64_t)k, 1, 0, b);  /* the same windows every time */
        else
            fill_examples(L, c->test, NULL, k * c->batch, b);
        m->eval.fn(&L->ctx);
        if ((failed = rt_pool_failed(L->ctx.pool)) != 0)
            break;   /* with several ranks, said in the gather below: the others wait in it */
        if (m->eval.loss.fixed >= 0)
            out->loss += read_act(L, m->eval.loss) * (double)b;
        for (int i = 0; i < m->eval.nmetrics; i++)
            out->metric[i] += read_act(L, m->eval.metric[i]) * (double)b;
        out->examples += b;
    }
    int own = failed;
    if (L->size > 1) {  /* the sums of every rank, added in rank order, and whether any failed */
        enum { N = 3 + sizeof ((Eval *)0)->metric / sizeof (double) };  /* loss, examples, failed, metrics */
        double part[N] = {out->loss, (double)out->examples, failed}, all[N * RT_MAX_RANKS];
        for (int i = 0; i < m->eval.nmetrics; i++)
            part[3 + i] = out->metric[i];
        rt_dist_gather(part, N, all);
        memset(out, 0, sizeof *out);
        for (int r = 0; r < L->size; r++) {
            out->loss += all[N * r];
            out->examples += (int64_t)all[N * r + 1];
            failed |= all[N * r + 2] != 0;
            for (int i = 0; i < m->eval.nmetrics; i++)
                out->metric[i] += all[N * r + 3 + i];
        }
    }
    if (failed)
        return own ? -1 : 1;
    out->loss /= (double)out->examples;
    for (int i = 0; i < m->eval.nmetrics; i++)
        out->metric[i] /= (double)out->examples;
    return 0;
}

static const char no_scratch[] = "out of memory for the scratch space of the generated code";

/* The error for a failed evaluate() (e: -1 here, 1 on another rank); step 0
 * for --eval, which evaluates without training. */
static int eval_failed(const Loop *L, int e, int64_t step, char *err, size_t errlen)
{
    if (e > 0)
        return rt_fail(1, err, errlen, "rank %d: stopping with a rank that failed evaluating", L->rank);
    if (step > 0)
        return rt_fail(1, err, errlen, "step %lld: evaluating: %s", (long long)step, no_scratch);
    return rt_fail(1, err, errlen, "%s", no_scratch);
}

/* ---- sampling -------------------------------------------------------------------------- */

enum { SAMPLE_STREAM = 10 };

/* The decode entry's own slabs (its parameters are the model's): the new
 * token and its place in, the key/value caches in its state slab, the
 * logits [1, 1, V] out. */
typedef struct Decoder {
    const RtDecode *d;
    RtCtx           ctx;
    uint8_t        *slab[5];
    size_t          cache_bytes;
} Decoder;

static int decoder_open(Decoder *k, Loop *L)
{
    const RtDecode *d = &L->m->decode;
    memset(k, 0, sizeof *k);
    k->d = d;
    k->ctx = L->ctx;
    k->ctx.batch = 1;
    k->ctx.slab[RT_SLAB_PARAM] = L->slab[RT_SLAB_PARAM];
    for (int s = RT_SLAB_INPUT; s <= RT_SLAB_ACT; s++) {
        if (s == RT_SLAB_PARAM)
            continue;
        /* +64: a vector load past the last tensor stays inside (rt_slab_size) */
        size_t size = (size_t)((rt_bytes_at(d->entry.slab_bytes[s], d->planned, 1) + 63) / 64 * 64 + 64);
        if (!(k->slab[s] = rt_huge_alloc(size)))
            return -1;
        memset(k->slab[s], 0, size);
        k->ctx.slab[s] = k->slab[s];
        if (s == RT_SLAB_STATE)
            k->cache_bytes = size;
    }
    return 0;
}

static void decoder_close(Decoder *k)
{
    for (int s = 0; s < 5; s++)
        free(k->slab[s]);
}

/* Runs the decode entry on token at place: its keys and values join the
 * caches, its logits are in logits(). */
static void decoder_feed(Decoder *k, int32_t token, int64_t place)
{
    const RtDecode *d = k->d;
    rt_set(k->slab[RT_SLAB_INPUT] + rt_bytes_at(d->tokens.offset, d->planned, 1), RT_I32, 0, token);
    if (d->positions.slab == RT_SLAB_INPUT)
        rt_set(k->slab[RT_SLAB_INPUT] + rt_bytes_at(d->positions.offset, d->planned, 1), RT_I32, 0, (double)place);
    d->entry.fn(&k->ctx);
}

/* The logits at the last place of the window ids[0 .. len) through the
 * evaluation entry: the whole window computed again.  Causal attention
 * makes the logits at place p depend only on places <= p, so the filler
 * after a short window cannot change the row read. */
static const uint8_t *window_logits(Loop *L, const int32_t *ids, int64_t len, int64_t *row)
{
    const RtModel *m = L->m;
    const RtTensorSpec *x = &m->inputs[0];
    L->ctx.batch = 1;
    for (int64_t t = 0; t < L->cfg->block; t++) {
        rt_set(at(L, x), x->dtype, t, t < len ? ids[t] : 0);
        rt_set(at(L, &m->targets[0]), m->targets[0].dtype, t, 0);
    }
    m->eval.fn(&L->ctx);
    *row = (len - 1) * m->eval.output_last;  /* logits [1, T, V]: row len-1 (the model's vocabulary may exceed the text's) */
    return L->slab[RT_SLAB_ACT] + rt_bytes_at(m->eval.output, m->batch, 1);
}

/* The context of the next token is the window ids[start .. n), at most
 * block tokens, at places 0 .. n-start-1: a longer prompt keeps its last
 * block tokens, and when a drawn token makes the window longer than block,
 * a new one starts with the last block/2 tokens (at least one).  With the
 * key/value cache (m->decode) each token of a window goes through the
 * decode entry once, at its place; a new window zeroes the caches and feeds
 * its tokens again.  Without it (--no-kv-cache, or a model without a decode
 * entry) the evaluation entry recomputes the window for every token.  Both
 * see the same tokens at the same places, so they compute the same logits
 * up to the order of the sums (the decode entry's products have one row);
 * the drawn tokens are the same unless two probabilities tie to within
 * that (NNC_SAMPLE_COMPARE=1 runs both and prints the largest difference). */
static int sample(Loop *L, char *err, size_t errlen)
{
    const RtModel *m = L->m;
    const RtTrainConfig *c = L->cfg;
    FILE *out = c->out ? c->out : stdout;
    const RtTensorSpec *x = &m->inputs[0];
    if (!c->text || x->dtype != RT_I32 || m->eval.output.fixed < 0)
        return rt_fail(1, err, errlen, "--sample needs a model trained on text(...): characters in, logits out");
    int64_t T = c->block, V = c->text->vocab;
    const RtBpe *bpe = c->text->bpe;  /* subword tokens; NULL: characters */
    if (m->eval.output_last < c->text->vocab)
        return rt_fail(1, err, errlen, "the model predicts %lld characters, but the text has %d", (long long)m->eval.output_last,
                    c->text->vocab);
    int id_of[256];
    for (int i = 0; i < 256; i++)
        id_of[i] = -1;
    for (int i = 0; !bpe && i < c->text->vocab; i++)  /* (bpe ids are not characters) */
        id_of[c->text->chars[i]] = i;
    size_t plen = strlen(c->sample);
    for (size_t i = 0; !bpe && i < plen; i++)
        if (id_of[(unsigned char)c->sample[i]] < 0) {
            /* name the whole UTF-8 character the byte belongs to, not half of it */
            size_t at = i, len = 1;
            while (at > 0 && ((unsigned char)c->sample[at] & 0xC0) == 0x80)
                at--;
            while (len < 4 && ((unsigned char)c->sample[at + len] & 0xC0) == 0x80)
                len++;
            return rt_fail(1, err, errlen, "character '%.*s' of the prompt does not occur in the text the model learned from",
                           (int)len, c->sample + at);
        }
    int64_t total = (int64_t)plen + c->sample_length;
    int32_t *ids = rt_malloc(sizeof *ids * (size_t)(total + 1));
    double *p = rt_malloc(sizeof *p * (size_t)c->text->vocab);
    Decoder dec = {0};
    int cached = m->decode.entry.fn && !c->no_kv_cache && m->decode.block == T;
    const char *env = getenv("NNC_SAMPLE_COMPARE");
    int compare = cached && env && strcmp(env, "1") == 0;
    double worst = 0;
    if (!ids || !p || (cached && decoder_open(&dec, L) != 0)) {
        free(ids);
        free(p);
        decoder_close(&dec);
        return ids && p ? rt_fail(1, err, errlen, "out of memory for the key/value cache (try --no-kv-cache)")
                        : rt_fail(1, err, errlen, "out of memory for %lld characters", (long long)total);
    }
    for (size_t i = 0; !bpe && i < plen; i++)
        ids[i] = id_of[(unsigned char)c->sample[i]];
    int64_t n = bpe ? rt_bpe_encode(bpe, (const uint8_t *)c->sample, (int64_t)plen, ids) : (int64_t)plen;
    int rc = 0;
    if (n < 0) {
        rc = rt_fail(1, err, errlen, "out of memory encoding the prompt");
        goto done;
    }
    if (n == 0)  /* an empty prompt starts from the first character of the vocabulary (bpe: a newline) */
        ids[n++] = bpe ? '\n' : 0;
    fputs(c->sample, out);
    double t0 = rt_now(), c0 = cpu_now();
    int64_t start = n > T ? n - T : 0, fed = start, keep = T / 2 > 0 ? T / 2 : 1;
    for (int64_t k = 0; k < c->sample_length; k++) {
        const uint8_t *logits;
        int64_t row = 0;
        if (cached) {
            for (; fed < n; fed++)
                decoder_feed(&dec, ids[fed], fed - start);
            logits = dec.slab[RT_SLAB_ACT] + rt_bytes_at(m->decode.entry.output, m->decode.planned, 1);
            if (compare) {
                int64_t wrow;
                const uint8_t *w = window_logits(L, ids + start, n - start, &wrow);
                for (int64_t v = 0; v < V; v++) {
                    double d = fabs(rt_get(w, m->real, wrow + v) - rt_get(logits, m->real, v));
                    worst = !(d <= worst) ? d : worst;  /* (a NaN stays) */
                }
            }
        } else {
            logits = window_logits(L, ids + start, n - start, &row);
        }
        if (rt_pool_failed(L->ctx.pool)) {
            rc = rt_fail(1, err, errlen, "%s", no_scratch);
            goto done;
        }
        double best = -INFINITY, sum = 0;
        for (int64_t v = 0; v < V; v++) {
            p[v] = rt_get(logits, m->real, row + v) / c->temperature;
            best = p[v] > best ? p[v] : best;
        }
        for (int64_t v = 0; v < V; v++)
            sum += p[v] = exp(p[v] - best);
        double u = rt_uniform(c->seed, SAMPLE_STREAM, (uint64_t)k, 0) * sum, acc = 0;
        int64_t pick = V - 1;
        for (int64_t v = 0; v < V; v++) {
            acc += p[v];
            if (u < acc) {
                pick = v;
                break;
            }
        }
        ids[n++] = (int32_t)pick;
        if (bpe)  /* a token's bytes: a UTF-8 character may end in the next token */
            fwrite(bpe->bytes + bpe->off[pick], 1, (size_t)(bpe->off[pick + 1] - bpe->off[pick]), out);
        else
            fputc(c->text->chars[pick], out);
        fflush(out);
        if (n - start > T) {  /* a new window: the last block/2 tokens */
            start = fed = n - keep;
            if (cached)
                memset(dec.slab[RT_SLAB_STATE], 0, dec.cache_bytes);
        }
    }
    fputc('\n', out);
    double seconds = rt_now() - t0, cpu = cpu_now() - c0;
    if (c->verbose)
        fprintf(L->log, "sampled %lld tokens in %.3f s (CPU %.3f s): %.1f tokens/s (%s)\n", (long long)c->sample_length,
                seconds, cpu, (double)c->sample_length / (seconds > 0 ? seconds : 1e-9),
                cached ? "key/value cache" : "no key/value cache: each token recomputes the window");
    if (compare)
        fprintf(L->log, "key/value cache: the largest difference of a logit from the window recomputed is %.3g\n", worst);
done:
    free(p);
    free(ids);
    decoder_close(&dec);
    return rc;
}

/* ---- reporting ---------------------------------------------------------------------- */

static void progress(Loop *L, int64_t epoch, int64_t epochs, int64_t done, int64_t total, double loss, double rate,
                     double eta)
{
    if (!L->cfg->progress)
        return;
    /* The line must fit the terminal as it is now (a line that wraps is not
     * redrawn in place but repeated): the bar gives up its width first, then
     * the rate and the time left.  Asked at each redraw: windows get resized. */
    struct winsize ws;
    int cols = ioctl(fileno(L->log), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    char head[64], tail[96], bar[32];
    if (epochs)
        snprintf(head, sizeof head, "epoch %lld/%lld ", (long long)epoch, (long long)epochs);
    else
        snprintf(head, sizeof head, "step ");
    int len = 0;
    for (int detail = 2; detail >= 0; detail--) {
        int at = snprintf(tail, sizeof tail, " %lld/%lld  loss %.4f", (long long)done, (long long)total, loss);
        if (detail >= 1)
            at += snprintf(tail + at, sizeof tail - (size_t)at, "  ETA %.0fs", eta);
        if (detail >= 2)
            snprintf(tail + at, sizeof tail - (size_t)at, "  %.0f ex/s", rate);
        len = (int)(strlen(head) + strlen(tail));
        if (len + 2 + 8 < cols || detail == 0)
            break;
    }
    int width = cols - 1 - len - 2;   /* the last column stays free: writing it wraps on some terminals */
    width = width > 24 ? 24 : width;
    if (width >= 4) {
        int fill = total ? (int)(width * done / total) : width;
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        bar[width] = '\0';
        fprintf(L->log, "\r\033[K%s[%s]%s", head, bar, tail);
    } else {
        fprintf(L->log, "\r\033[K%.*s", cols - 1 > 0 ? cols - 1 : 0, tail + 1);
    }
    fflush(L->log);
}

/* ", "key": v" for a metrics line; JSON has no inf or nan, so a value that
 * is not finite (a test loss that overflowed) is null. */
static void json_number(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, ", \"%s\": %.6g", key, v);
    else
        fprintf(f, ", \"%s\": null", key);
}

/* A JSON string, or null: paths may hold quotes, backslashes, control bytes. */
static void json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* The header's "options": a training run's settings after the command
 * line's overrides; --eval's describe the evaluation, with no training in
 * them: "eval": true, and "steps" the checkpoint's step (the compiled-in
 * epochs would count steps of a training split --eval does not read). */
static void metrics_options(Loop *L, int64_t step, int64_t total)
{
    const RtTrainConfig *c = L->cfg;
    FILE *f = L->metrics;
    if (c->eval_only) {
        fprintf(f, "\"eval\": true, \"steps\": %lld, \"batch\": %lld, \"data\": ", (long long)step, (long long)c->batch);
        json_string(f, c->data_root);
        fputs(", \"load\": ", f);
        json_string(f, c->load_path);
        return;
    }
    if (c->epochs)
        fprintf(f, "\"epochs\": %lld, ", (long long)c->epochs);
    fprintf(f, "\"steps\": %lld, \"batch\": %lld, \"lr\": %.9g, \"eval_every\": %lld, \"data\": ", (long long)total,
            (long long)c->batch, c->lr, (long long)c->eval_every);
    json_string(f, c->data_root);
    fputs(", \"load\": ", f);
    json_string(f, c->load_path);
    fputs(", \"save\": ", f);
    json_string(f, c->save_path);
}

/* The line a run starts its metrics with: what ran, so that a file several
 * runs appended to says which lines came from what.  Its first key, "nnc",
 * is in no per-evaluation line: readers skip the lines that have it
 * (docs/training.md, "Metrics").  Only "started", "threads" and "ranks"
 * differ between runs that train alike. */
static int metrics_header(Loop *L, int64_t step, int64_t total, char *err, size_t errlen)
{
    const RtTrainConfig *c = L->cfg;
    FILE *f = L->metrics;
    char started[32] = "";
    time_t t = time(NULL);
    struct tm utc;
    if (gmtime_r(&t, &utc))
        strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &utc);
    errno = 0;
    fputs("{\"nnc\": ", f);
    json_string(f, NNC_VERSION);
    fputs(", \"model\": ", f);
    json_string(f, L->m->name);
    fputs(", \"file\": ", f);
    json_string(f, c->model_file && c->model_file[0] ? c->model_file : NULL);
    fprintf(f, ", \"seed\": %llu, \"options\": {", (unsigned long long)c->seed);
    metrics_options(L, step, total);
    fprintf(f, "}, \"threads\": %d, \"ranks\": %d, \"start_step\": %lld, \"started\": \"%s\"}\n",
            c->threads > 1 ? c->threads : 1, L->size > 1 ? L->size : 1, (long long)step, started);
    if (fflush(f) != 0 || ferror(f))
        return rt_fail(1, err, errlen, "cannot write metrics to '%s': %s", c->metrics_path, strerror(errno ? errno : EIO));
    return 0;
}

static int metrics_line(Loop *L, int64_t epoch, int64_t step, double train_loss, const Eval *ev, double seconds,
                        double train_seconds, int64_t examples, char *err, size_t errlen);

/* seconds: since the last report, evaluation included; train_seconds: the
 * part spent in training steps (batch filling included), which with
 * examples gives the throughput. */
static int report(Loop *L, int64_t epoch, int64_t step, double train_loss, const Eval *ev, double seconds,
                  double train_seconds, int64_t examples, char *err, size_t errlen)
{
    const RtModel *m = L->m;
    if (L->cfg->progress)
        fputs("\r\033[K", L->log);
    /* without a test split (csv or npz without test:) there is no test_ anything */
    int tested = L->cfg->text || L->cfg->test;
    if (L->quiet)
        goto json;
    if (L->cfg->epochs)
        fprintf(L->log, "epoch %lld/%lld  step %lld  train_loss %.4f", (long long)epoch, (long long)L->cfg->epochs,
                (long long)step, train_loss);
    else
        fprintf(L->log, "step %lld/%lld  train_loss %.4f", (long long)step, (long long)L->cfg->steps, train_loss);
    if (tested)
        fprintf(L->log, "  test_loss %.4f", ev->loss);
    for (int i = 0; tested && i < m->eval.nmetrics; i++)
        fprintf(L->log, "  test_%s %.4f", m->eval.metric_name[i], ev->metric[i]);
    fprintf(L->log, "  %.2f s\n", seconds);
    fflush(L->log);
json:
    if (metrics_line(L, epoch, step, train_loss, ev, seconds, train_seconds, examples, err, errlen) != 0)
        return 1;
    if (L->chart) {   /* without a test split the test lines stay empty */
        double none[8] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
        return rt_chart_add(L->chart, L->cfg->epochs ? (double)epoch : (double)step, train_loss,
                            tested ? ev->loss : NAN, tested ? ev->metric : none, err, errlen);
    }
    return 0;
}

/* The metrics file's line of an evaluation (report's arguments), when
 * there is a file.  --eval's: epoch -1 (null), train_loss NaN (null), no
 * training time or examples. */
static int metrics_line(Loop *L, int64_t epoch, int64_t step, double train_loss, const Eval *ev, double seconds,
                        double train_seconds, int64_t examples, char *err, size_t errlen)
{
    const RtModel *m = L->m;
    int tested = L->cfg->text || L->cfg->test;
    if (L->metrics) {
        if (epoch >= 0)
            fprintf(L->metrics, "{\"epoch\": %lld, \"step\": %lld", (long long)epoch, (long long)step);
        else   /* --eval reads no training split: how many steps an epoch has is not known */
            fprintf(L->metrics, "{\"epoch\": null, \"step\": %lld", (long long)step);
        json_number(L->metrics, "train_loss", train_loss);
        if (tested)
            json_number(L->metrics, "test_loss", ev->loss);
        for (int i = 0; tested && i < m->eval.nmetrics; i++) {
            char key[128];
            snprintf(key, sizeof key, "test_%s", m->eval.metric_name[i]);
            json_number(L->metrics, key, ev->metric[i]);
        }
        fprintf(L->metrics,
                ", \"epoch_seconds\": %.4f, \"total_seconds\": %.4f, \"train_seconds\": %.4f, "
                "\"examples_per_second\": %.1f}\n",
                seconds, rt_now() - L->start, train_seconds, (double)examples / (train_seconds > 0 ? train_seconds : 1e-9));
        /* a full disk must not pass unnoticed: the metrics are the run's record */
        if (fflush(L->metrics) != 0 || ferror(L->metrics))
            return rt_fail(1, err, errlen, "cannot write metrics to '%s': %s", L->cfg->metrics_path,
                           strerror(errno ? errno : EIO));
    }
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------- */

static int train(const RtModel *m, const RtTrainConfig *c, char *err, size_t errlen);

/* --metrics: the file opened (appended to; "-": standard output) and its
 * header line written.  0, or 1 with why. */
static int open_metrics(Loop *L, int64_t step, int64_t total, char *err, size_t errlen)
{
    const char *path = L->cfg->metrics_path;
    if (!path)
        return 0;
    /* --metrics -: the lines to standard output (the progress and the
     * per-epoch lines go to the log, standard error) */
    if (strcmp(path, "-") == 0)
        L->metrics = stdout;
    else if (!(L->metrics = fopen(path, "a")))
        return rt_fail(1, err, errlen, "cannot open '%s' for metrics: %s", path, strerror(errno));
    return metrics_header(L, step, total, err, errlen);
}

int rt_train(const RtModel *m, const RtTrainConfig *c, char *err, size_t errlen)
{
    if (rt_dist_size() <= 1)
        return train(m, c, err, errlen);
    if (rt_dist_size() > RT_MAX_RANKS)
        return rt_fail(1, err, errlen, "%d ranks; nnc trains with at most %d", rt_dist_size(), RT_MAX_RANKS);
    /* Only rank 0 writes; the others train alike, silently. */
    RtTrainConfig quiet = *c;
    FILE *null = NULL;
    if (rt_dist_rank() != 0) {
        if (c->sample)
            return 0;   /* sampling is one process's work */
        if (!(null = fopen("/dev/null", "w")))
            return rt_fail(1, err, errlen, "cannot open /dev/null: %s", strerror(errno));
        quiet.progress = 0, quiet.log = null;
        quiet.save_path = quiet.metrics_path = quiet.chart_path = NULL;
    }
    int rc = train(m, &quiet, err, errlen);
    if (null)
        fclose(null);
    return rc;
}

int rt_total_steps(int64_t epochs, int64_t steps, int64_t batch, int64_t examples, int64_t *per_epoch, int64_t *total,
                   char *why, size_t len)
{
    int64_t spe = batch > 0 ? (examples + batch - 1) / batch : 0;
    *total = epochs ? epochs * spe : steps;
    if (per_epoch)
        *per_epoch = spe;
    return *total > RT_MAX_STEPS ? rt_fail(1, why, len, "%lld epochs of %lld steps are %lld steps; a run is at most %d "
                                           "steps", (long long)epochs, (long long)spe, (long long)*total, RT_MAX_STEPS)
                                 : 0;
}

static int train(const RtModel *m, const RtTrainConfig *c, char *err, size_t errlen)
{
    /* several ranks: rank 0 alone samples (rt_train), and gathers nothing */
    Loop L = {.m = m, .cfg = c, .log = c->log ? c->log : stderr, .start = rt_now(), .rank = rt_dist_rank(),
              .size = c->sample ? 1 : rt_dist_size()};
    int agreed = 0;   /* several ranks: this rank has passed the set-up's agree() */
    if (!c->text && !c->sample && (c->eval_only ? !c->test : !c->train))
        return rt_fail(1, err, errlen, c->eval_only ? "--eval needs a test split; the data source has none (add test: ...)"
                                                    : "no data to train on");
    /* the data: text windows or mnist and csv examples feed one input and
     * one target; the columns of npz (or csv columns:) feed them all */
    const RtDataset *any = c->train ? c->train : c->test;
    int columns = any && any->ncolumns;
    if (columns ? any->ncolumns != m->ninputs + m->ntargets
                : m->ninputs != 1 || m->ntargets > 1 || (c->text && m->ntargets != 1))
        return rt_fail(1, err, errlen, "the data feeds %s; model '%s' has %d input%s and %d target%s",
                       columns ? "as many values as the model has inputs and targets" : "one input and at most one target",
                       m->name, m->ninputs, m->ninputs == 1 ? "" : "s", m->ntargets, m->ntargets == 1 ? "" : "s");
    int64_t per_example = rt_elems(&m->inputs[0], 1);
    for (int s = 0; !c->text && !columns && s < 2; s++) {
        const RtDataset *d = s ? c->test : c->train;
        if (d && d->x_elems != per_example)
            return rt_fail(1, err, errlen, "the data has %lld values per example, but input '%s' takes %lld",
                           (long long)d->x_elems, m->inputs[0].name, (long long)per_example);
    }
    if (c->text && (m->inputs[0].dtype != RT_I32 || m->targets[0].dtype != RT_I32))
        return rt_fail(1, err, errlen, "text data feeds token ids, but '%s' or '%s' is not int32", m->inputs[0].name,
                       m->targets[0].name);

    RtPool *pool = NULL;
    int rc = 0;
    if (rt_slabs_alloc(m, c->batch, L.slab, err, errlen) != 0) {
        rc = 1;   /* memory differs between machines: the other ranks hear of it in done's agree() */
        goto done;
    }
    for (int s = RT_SLAB_INPUT; s <= RT_SLAB_ACT; s++)
        L.ctx.slab[s] = L.slab[s];
    /* a pool of one thread too: it holds the scratch memory of the generated code */
    pool = rt_pool_create(c->threads > 1 ? c->threads : 1);
    L.ctx.pool = pool;

    rt_params_init(m, L.slab, c->seed);
    int resumed = 0;
    char *converted = NULL;
    if (c->load_path && (rc = rt_state_load_conv(m, L.slab, c->load_path, &resumed, &converted, err, errlen) ? 1 : 0) != 0)
        goto done;
    if (converted && c->verbose)
        fprintf(L.log, "%s: converted to %s: %s\n", c->load_path, m->real == RT_F64 ? "F64" : "F32", converted);
    free(converted);
    if (!c->eval_only && !c->sample)
        load_note(&L, resumed);

    int64_t spe, total;   /* steps per epoch (text: none), and of the run */
    char too_long[256];   /* --eval and --sample take no steps: any length will do */
    if (rt_total_steps(c->epochs, c->steps, c->batch, c->text || !c->train ? 0 : c->train->count, &spe, &total,
                       too_long, sizeof too_long) != 0 && !c->eval_only && !c->sample) {
        rc = rt_fail(1, err, errlen, "%s", too_long);
        goto done;
    }
    const RtTensorSpec *step_t = rt_find_counter(m, RT_COUNTER_STEP), *total_t = rt_find_counter(m, RT_COUNTER_TOTAL_STEPS);
    if (total_t)
        rt_set(at(&L, total_t), total_t->dtype, 0, (double)total);
    int64_t step = step_t ? (int64_t)rt_get(at(&L, step_t), step_t->dtype, 0) : 0;  /* 0 unless loaded */
    const int64_t start_step = step;

    if (c->sample) {
        rc = sample(&L, err, errlen);
        goto done;
    }
    if (c->eval_only) {
        /* the metrics line of the checkpoint's step as a training run's
         * evaluation writes it, with no training in it */
        Eval ev;
        if ((rc = open_metrics(&L, step, total, err, errlen)) != 0)
            goto done;
        double eval_start = rt_now();
        int e = evaluate(&L, &ev);
        if (e != 0) {
            rc = eval_failed(&L, e, 0, err, errlen);
            goto done;
        }
        fprintf(L.log, "test_loss %.4f", ev.loss);
        for (int i = 0; i < m->eval.nmetrics; i++)
            fprintf(L.log, "  test_%s %.4f", m->eval.metric_name[i], ev.metric[i]);
        fputc('\n', L.log);
        rc = metrics_line(&L, -1, step, NAN, &ev, rt_now() - eval_start, 0, 0, err, errlen);
        goto done;
    }

    /* A checkpoint or chart that cannot be written should stop the run now,
     * not after its first epoch. */
    if (c->save_path && (rc = writable("cannot save to", c->save_path, err, errlen)) != 0)
        goto done;
    if (c->chart_path && (rc = writable("cannot write the chart to", c->chart_path, err, errlen)) != 0)
        goto done;
    if ((rc = open_metrics(&L, step, total, err, errlen)) != 0)
        goto done;
    if (c->chart_path && !(L.chart = rt_chart_new(c->chart_path, m->name, c->epochs ? "epoch" : "step",
                                                  m->eval.nmetrics, m->eval.metric_name))) {
        rc = rt_fail(1, err, errlen, "out of memory for the chart");
        goto done;
    }
    if (!c->text && !(L.order = rt_malloc(sizeof *L.order * (size_t)c->train->count))) {
        rc = rt_fail(1, err, errlen, "out of memory for the order of %lld examples", (long long)c->train->count);
        goto done;
    }
    interrupted = 0;
    agreed = 1;
    if ((rc = agree(&L, rc, err, errlen)) != 0)
        goto done;
    void (*old_int)(int) = signal(SIGINT, on_stop_signal), (*old_term)(int) = signal(SIGTERM, on_stop_signal);
    double epoch_start = rt_now(), loss_sum = 0, train_seconds = 0, dist_loss = 0;
    int64_t loss_examples = 0, shuffled = -1;
    /* the default threads: each step on all of them or on one, whichever
     * the step times say is faster (pace.c); --threads N: always N */
    RtPace pace;
    rt_pace_init(&pace, c->threads_fixed || L.size > 1 ? 1 : rt_pool_threads(pool));  /* ranks: see below */
    rt_pace_watch(&pace, rt_cpu_ticks);  /* no probe while no other CPU sits idle */
    int64_t one_thread_steps = 0;
    while (step < total && !stopping(&L)) {
        double step_start = rt_now();
        int serial = rt_pace_serial(&pace);
        rt_pool_set_serial(pool, serial);
        one_thread_steps += rt_pace_chose_one(&pace);
        int64_t epoch = spe ? step / spe : 0, in_epoch = spe ? step % spe : step;
        /* The order of this epoch: drawn at its first step, and at the first
         * step of a run resumed in the middle of it (the same order again). */
        if (!c->text && (in_epoch == 0 || epoch != shuffled))
            rt_shuffle(L.order, c->train->count, c->seed, (uint64_t)epoch);
        shuffled = epoch;
        int64_t b = c->batch;
        int64_t first = in_epoch * c->batch;
        if (!c->text && first + b > c->train->count)
            b = c->train->count - first;  /* the short last batch */
        if (L.size > 1) {
            /* this rank's slice; a rank with none runs the batch's first example
             * as a stand-in that the reduction and the loss weigh by 0 */
            int64_t off, count;
            rt_dist_shard(b, L.rank, L.size, &off, &count);
            rt_dist_set_batch(b);
            L.ctx.first = count ? off : 0;
            if (c->text)
                fill_windows(&L, (uint64_t)step, 0, count ? off : 0, count ? count : 1);
            else
                fill_examples(&L, c->train, L.order, first + (count ? off : 0), count ? count : 1);
            m->train.fn(&L.ctx);
            int pool_failed = rt_pool_failed(pool);
            double mine[3] = {count ? read_act(&L, m->train.loss) * (double)count : 0, interrupted,
                              pool_failed || L.failed}, all[3 * RT_MAX_RANKS];
            rt_dist_gather(mine, 3, all);
            double loss = 0;
            int failed = 0;
            for (int r = 0; r < L.size; r++) {  /* in rank order: the same bits everywhere */
                loss += all[3 * r];
                L.stop = all[3 * r + 1] > L.stop ? (int)all[3 * r + 1] : L.stop;
                failed |= all[3 * r + 2] != 0;
            }
            loss /= (double)b;
            if (pool_failed) {
                rc = rt_fail(1, err, errlen, "step %lld: %s", (long long)step + 1, no_scratch);
                break;
            }
            if (L.failed)
                break;   /* rc and why are set */
            if (failed) {
                rc = rt_fail(1, err, errlen, "rank %d: stopping at step %lld with a rank that failed", L.rank,
                             (long long)step + 1);
                break;
            }
            dist_loss = loss;
        } else if (c->text) {
            fill_windows(&L, (uint64_t)step, 0, 0, b);
        } else {
            fill_examples(&L, c->train, L.order, first, b);
        }
        if (L.size <= 1) {
            double fn_start = rt_now(), stalled = rt_pool_stalled(pool);
            m->train.fn(&L.ctx);
            rt_pace_step(&pace, rt_now() - fn_start, rt_pool_stalled(pool) - stalled, b == c->batch);
        }
        if (L.size <= 1 && rt_pool_failed(pool)) {
            rc = rt_fail(1, err, errlen, "step %lld: %s", (long long)step + 1, no_scratch);
            break;
        }
        double loss = L.size > 1 ? dist_loss : read_act(&L, m->train.loss);
        step++;
        if (!isfinite(loss)) {
            rc = rt_fail(1, err, errlen, "step %lld: the loss is %s; stopping%s", (long long)step, isnan(loss) ? "nan" : "infinite",
                      c->save_path ? " (the last checkpoint written is kept)" : "");
            if (L.rank != 0 && errlen)
                err[0] = '\0';   /* every rank has the same loss: rank 0 says it */
            break;
        }
        loss_sum += loss * (double)b;
        loss_examples += b;
        double now = rt_now();
        train_seconds += now - step_start;
        int end_of_epoch = spe && step % spe == 0;
        /* every eval_every steps when set, else at each epoch's end; and at the last step */
        int eval_now = step == total || (c->eval_every ? step % c->eval_every == 0 : end_of_epoch);
        if (c->progress && (now - L.last_bar >= 0.1 || eval_now)) {  /* ten redraws a second at most */
            L.last_bar = now;
            double elapsed = now - epoch_start;
            int64_t done = spe ? (step - 1) % spe + 1 : step, span = spe ? spe : total;
            double rate = (double)loss_examples / (elapsed > 0 ? elapsed : 1e-9);
            double eta = elapsed / (double)(spe ? done : step) * (double)(span - done);
            progress(&L, epoch + 1, c->epochs, done, span, loss_sum / (double)loss_examples, rate, eta);
        }
        if (eval_now) {
            Eval ev;
            int e = evaluate(&L, &ev);
            if (e != 0) {
                rc = eval_failed(&L, e, step, err, errlen);
                break;
            }
            /* a line per evaluation, but no more than about 20 in a run (xor has 2000 epochs) */
            int64_t evals = c->eval_every ? total / c->eval_every : c->epochs ? c->epochs : 1;
            int64_t every = evals > 20 ? evals / 20 : 1, nth = c->eval_every ? step / c->eval_every : c->epochs ? step / spe : 1;
            L.quiet = !(nth % every == 0 || step == total);
            /* The checkpoint before the report, so that the time it takes
             * counts in this evaluation's epoch_seconds (the epochs add up
             * to total_seconds).  Each is written whatever became of the
             * other: the training done is kept when the metrics or the chart
             * failed to write (a full disk, a chart path gone), and the
             * metrics are the run's record when the checkpoint failed; the
             * checkpoint's error is said when the report's is not. */
            char why[1024];
            int saved = c->save_path ? save(&L, step, c->save_path, why, sizeof why) : 0;
            rc = report(&L, spe ? (step + spe - 1) / spe : 0, step, loss_sum / (double)loss_examples, &ev,
                        rt_now() - epoch_start, train_seconds, loss_examples, err, errlen);
            if (rc == 0 && saved)
                rc = rt_fail(1, err, errlen, "%s", why);
            if (rc != 0) {
                if (L.size > 1 && step < total) {  /* the others hear of it at the next step's gather */
                    L.failed = 1;
                    continue;
                }
                break;
            }
            loss_sum = 0, train_seconds = 0;
            loss_examples = 0;
            epoch_start = rt_now();
        }
    }
    signal(SIGINT, old_int);
    signal(SIGTERM, old_term);
    if (L.chart) {   /* the evaluations since the last redraw, whatever stopped the run */
        char why[512];
        if (rt_chart_flush(L.chart, why, sizeof why) != 0 && rc == 0)
            rc = rt_fail(1, err, errlen, "%s", why);
    }
    if (stopping(&L) && rc == 0) {
        int sig = stopping(&L);
        if (c->progress)
            fputs("\n", L.log);
        fprintf(L.log, "%s after step %lld%s\n", sig == SIGTERM ? "terminated (SIGTERM)" : "interrupted",
                (long long)step, c->save_path ? "; saving" : "");
        if (c->save_path)
            rc = save(&L, step, c->save_path, err, errlen);
        if (rc == 0)
            rc = 128 + sig;
    } else if (rc == 0 && start_step >= total) {
        rc = nothing_to_train(&L, step, total, err, errlen);
    } else if (rc == 0) {
        fprintf(L.log, "trained %lld step%s in %.2f s", (long long)(step - start_step), step - start_step == 1 ? "" : "s",
                rt_now() - L.start);
        if (pace.on && c->verbose) {  /* -v: what the chooser did (it varies run to run, with the machine's load) */
            fprintf(L.log, " (%d threads; %lld of the steps ran on one, timed faster", rt_pool_threads(pool),
                    (long long)one_thread_steps);
            if (pace.skipped)
                fprintf(L.log, " or with no other CPU idle, %d probe%s skipped", pace.skipped, pace.skipped == 1 ? "" : "s");
            fprintf(L.log, "; %d stalled, %d of them paid)", pace.stalls, pace.paid);
        }
        int64_t caller_claims, worker_claims;
        rt_pool_claims(pool, &caller_claims, &worker_claims);
        if (c->verbose && caller_claims + worker_claims > 0)  /* -v: how the threads shared the kernels' claims */
            fprintf(L.log, " (the other threads ran %.2f of the %lld parallel claims)",
                    (double)worker_claims / (double)(caller_claims + worker_claims),
                    (long long)(caller_claims + worker_claims));
        fputc('\n', L.log);
    }
done:
    if (!agreed && L.size > 1)   /* failed before the others agreed: they must hear of it */
        rc = agree(&L, rc, err, errlen);
    if (L.metrics && L.metrics != stdout)
        fclose(L.metrics);
    rt_chart_free(L.chart);
    free(L.order);
    rt_pool_destroy(pool);
    rt_slabs_free(L.slab);
    return rc;
}
