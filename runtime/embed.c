/* embed.c — model instances for the libraries `nnc --emit=so|obj` writes.
 *
 * A generated library is the compiled entries, a description of the model
 * (the same RtModel trainers use) and typed wrappers that call these
 * functions.  An instance owns its slabs; nothing here is global, and no
 * thread pool is used: a caller wanting parallelism runs instances on its
 * own threads.
 *
 * The slabs start sized for the train block's batch.  The memory plan
 * serves any batch, so a training step on a larger one grows the input and
 * activation slabs (parameters and optimizer state do not depend on the
 * batch); a larger forward runs in pieces of what the slabs hold, since its
 * rows are independent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

struct RtInstance {
    const RtModel *m;
    uint8_t       *slab[5];
    int64_t        capacity; /* the largest batch the slabs hold (rt_batch_room) */
    char          *err;      /* separate so that const functions can report */
    RtPool        *pool;     /* one thread, the caller's: it holds the generated code's scratch memory */
    RtBpe         *bpe;      /* the merges the last load found (a bpe text model's checkpoint), or NULL */
    RtCharVocab    chars;    /* the byte vocabulary the last load found (chars.n 0: none), saved again by save */
    char          *converted;/* the tensors the last load converted to the model's dtype ("w (F16), ..."), or NULL */
    uint64_t       weights;  /* the parameters' version (RtCtx.weights): never 0, one more at each write to them */
};

enum { ERR_LEN = 1024 };

static int fail(const RtInstance *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const RtInstance *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err, ERR_LEN, fmt, ap);
    va_end(ap);
    return -1;
}

RtInstance *rt_instance_create(const RtModel *m, uint64_t seed, int64_t total_steps)
{
    RtInstance *x = rt_calloc(1, sizeof *x);
    if (!x || !(x->err = rt_calloc(1, ERR_LEN))) {
        free(x);
        return NULL;
    }
    x->m = m;
    x->weights = 1;
    x->capacity = rt_batch_room(m->batch, m->batch);
    if (!(x->pool = rt_pool_create(1))) {
        free(x->err);
        free(x);
        return NULL;
    }
    if (rt_slabs_alloc(m, x->capacity, x->slab, x->err, ERR_LEN) != 0) {
        rt_pool_destroy(x->pool);
        free(x->err);
        free(x);
        return NULL;
    }
    rt_params_init(m, x->slab, seed);
    const RtTensorSpec *t = rt_find_counter(m, RT_COUNTER_TOTAL_STEPS);
    if (t)
        rt_set(rt_at(m, x->slab, t, 0), t->dtype, 0, (double)total_steps);
    return x;
}

void rt_instance_destroy(RtInstance *x)
{
    if (!x)
        return;
    rt_slabs_free(x->slab);
    rt_pool_destroy(x->pool);
    if (x->bpe)
        rt_bpe_free(x->bpe);
    free(x->bpe);
    free(x->converted);
    free(x->err);
    free(x);
}

const char *rt_instance_converted(const RtInstance *x)
{
    return x ? x->converted : NULL;
}

const char *rt_instance_error(const RtInstance *x)
{
    return x ? x->err : "no instance (a null pointer)";
}

/* A new version of the parameters, before anything writes them: what the
 * forward keeps packed of the old ones (rt_kept_scratch) is stale.  Every
 * writer calls it: load (and load_memory) and train_step; create starts at
 * version 1.  Counting a write that then fails costs one packing more. */
static void weights_change(RtInstance *x)
{
    if (++x->weights == 0)
        x->weights = 1;
}

/* Loads a checkpoint already read (and always frees it): the merges of a bpe
 * model, the byte vocabulary of a character model and every tensor are
 * checked before the instance changes, so that a refused checkpoint leaves
 * it as it was.  name: the file, in messages. */
static int take_checkpoint(RtInstance *x, RtCheckpoint *ck, const char *name)
{
    const char *kind = rt_checkpoint_meta(ck, RT_META_TOKENIZER);
    /* the token ids the model reads: its first input's classes when that is tokens (int32) */
    const RtTensorSpec *in = x->m->ninputs ? &x->m->inputs[0] : NULL;
    int64_t vocab = in && in->dtype == RT_I32 ? in->classes : 0;
    RtCharVocab chars;
    if (rt_checkpoint_chars(ck, name, vocab, &chars, x->err, ERR_LEN) != 0) {
        rt_checkpoint_free(ck);
        return -1;
    }
    chars.from = NULL;   /* name is the caller's */
    RtBpe *bpe = NULL;
    if (kind && strcmp(kind, "bpe") == 0) {
        int rc = !(bpe = rt_calloc(1, sizeof *bpe)) ? fail(x, "load: out of memory")
               : rt_checkpoint_bpe(ck, name, (int32_t)vocab, bpe, x->err, ERR_LEN);
        if (rc != 0) {
            free(bpe);
            rt_checkpoint_free(ck);
            return -1;
        }
    }
    int resumed;
    weights_change(x);
    free(x->converted);
    x->converted = NULL;
    if (rt_state_take_conv(x->m, x->slab, ck, name, &resumed, &x->converted, x->err, ERR_LEN) != 0) {
        if (bpe)
            rt_bpe_free(bpe);
        free(bpe);
        return -1;
    }
    if (x->bpe)
        rt_bpe_free(x->bpe);
    free(x->bpe);
    x->bpe = bpe;
    x->chars = chars;
    return 0;
}

int rt_instance_load(RtInstance *x, const char *path)
{
    if (!x)
        return -1;
    if (!path)
        return fail(x, "load: the path is a null pointer");
    RtCheckpoint ck = {0};
    if (rt_safetensors_read(path, &ck, x->err, ERR_LEN) != 0)
        return -1;
    return take_checkpoint(x, &ck, path);
}

int64_t rt_instance_encode(RtInstance *x, const char *text, int64_t len, int32_t *ids, int64_t cap)
{
    if (!x)
        return -1;
    if (!x->bpe)
        return fail(x, "encode: no bpe merges; load a checkpoint of this model trained with bpe (nnc --jit --save)");
    if (!text || len < 0 || (cap > 0 && !ids))
        return fail(x, "encode: %s", !text ? "the text is a null pointer" : len < 0 ? "a negative length"
                                                                                  : "ids is a null pointer");
    int32_t *all = rt_malloc(sizeof *all * (size_t)(len ? len : 1));
    int64_t n = all ? rt_bpe_encode(x->bpe, (const uint8_t *)text, len, all) : -1;
    if (n < 0) {
        free(all);
        return fail(x, "encode: out of memory for %lld bytes", (long long)len);
    }
    if (cap > 0 && n > 0)
        memcpy(ids, all, sizeof *ids * (size_t)(n < cap ? n : cap));
    free(all);
    return n;
}

int64_t rt_instance_decode(RtInstance *x, const int32_t *ids, int64_t n, char *out, int64_t cap)
{
    if (!x)
        return -1;
    if (!x->bpe)
        return fail(x, "decode: no bpe merges; load a checkpoint of this model trained with bpe (nnc --jit --save)");
    if ((n > 0 && !ids) || n < 0 || (cap > 0 && !out))
        return fail(x, "decode: %s", n < 0 ? "a negative count" : !out && cap > 0 ? "out is a null pointer"
                                                                                : "ids is a null pointer");
    int64_t bytes = rt_bpe_decode(x->bpe, ids, n, (uint8_t *)out, cap);
    if (bytes < 0) {
        for (int64_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= x->bpe->vocab)
                return fail(x, "decode: id %lld is %d; ids are in [0, %d)", (long long)i, ids[i], x->bpe->vocab);
    }
    return bytes;
}

int rt_instance_load_memory(RtInstance *x, const void *data, size_t size)
{
    if (!x)
        return -1;
    RtCheckpoint ck = {0};
    if (rt_safetensors_read_memory(data, size, "load_memory", &ck, x->err, ERR_LEN) != 0)
        return -1;
    return take_checkpoint(x, &ck, "load_memory");
}

int rt_instance_save(const RtInstance *x, const char *path)
{
    if (!x)
        return -1;
    if (!path)
        return fail(x, "save: the path is a null pointer");
    char why[ERR_LEN];
    int rc = x->chars.n ? rt_state_save_chars(x->m, x->slab, &x->chars, path, why, sizeof why)
                        : rt_state_save_bpe(x->m, x->slab, x->bpe, path, why, sizeof why);
    if (rc == RT_SAVE_NONFINITE)
        return fail(x, "save: %s; nothing written ('%s' is left as it was)", why, path);
    return rc ? fail(x, "%s", why) : 0;
}

/* The input and activation slabs, regrown for batches of up to `batch`
 * (parameters and optimizer state do not depend on the batch).  On failure
 * the old ones stay, and so does everything the caller had. */
static int grow(RtInstance *x, int64_t batch)
{
    /* the new slabs come while the old are held: both must fit */
    int64_t want = (int64_t)(rt_slab_size(x->m, RT_SLAB_INPUT, batch) + rt_slab_size(x->m, RT_SLAB_ACT, batch));
    char err[ERR_LEN];
    if (rt_memory_check(want, NULL, err, sizeof err, "train_step: batch %lld", (long long)batch) != 0)
        return fail(x, "%s", err);
    uint8_t *input = rt_slab_alloc(x->m, RT_SLAB_INPUT, batch), *act = rt_slab_alloc(x->m, RT_SLAB_ACT, batch);
    if (!input || !act) {
        free(input);
        free(act);
        return fail(x, "train_step: batch %lld: out of memory", (long long)batch);
    }
    free(x->slab[RT_SLAB_INPUT]);
    free(x->slab[RT_SLAB_ACT]);
    x->slab[RT_SLAB_INPUT] = input;
    x->slab[RT_SLAB_ACT] = act;
    x->capacity = rt_batch_room(x->m->batch, batch);
    return 0;
}

/* -1, saying which, if one of the caller's arrays is a null pointer. */
static int check_arrays(RtInstance *x, const char *what, const char *role, const RtTensorSpec *t, int count,
                        const void *const *src)
{
    for (int i = 0; i < count; i++)
        if (!src || !src[i])
            return fail(x, "%s: %s '%s' is a null pointer", what, role, t[i].name);
    return 0;
}

/* -1, saying where, if a label or token id of the caller's arrays is outside
 * [0, classes): generated code would read a table or one-hot row that is
 * not there. */
static int check_ids(RtInstance *x, const char *what, const char *role, const RtTensorSpec *t, int count,
                     const void *const *src, int64_t batch)
{
    for (int i = 0; i < count; i++) {
        if (t[i].dtype != RT_I32 || t[i].classes <= 0)
            continue;
        int64_t per = rt_elems(&t[i], 1);
        const int32_t *ids = src[i];
        for (int64_t k = 0; k < batch * per; k++)
            if (ids[k] < 0 || ids[k] >= t[i].classes)
                return fail(x, "%s: %s '%s' of example %lld holds %d; it must be in [0, %lld)", what, role, t[i].name,
                            (long long)(k / per), ids[k], (long long)t[i].classes);
    }
    return 0;
}

/* Rows [first, first+n) of each caller array into the slab's tensors, laid
 * out for a batch of n. */
static void copy_in(RtInstance *x, const RtTensorSpec *t, int count, const void *const *src, int64_t first, int64_t n)
{
    for (int i = 0; i < count; i++) {
        size_t row = rt_dsize(t[i].dtype) * (size_t)rt_elems(&t[i], 1);
        memcpy(rt_at(x->m, x->slab, &t[i], n), (const uint8_t *)src[i] + row * (size_t)first, row * (size_t)n);
    }
}

static RtCtx context(const RtInstance *x, int64_t batch)
{
    RtCtx ctx = {.batch = batch, .pool = x->pool, .weights = x->weights};
    for (int s = RT_SLAB_INPUT; s <= RT_SLAB_ACT; s++)
        ctx.slab[s] = x->slab[s];
    return ctx;
}

int rt_instance_forward(RtInstance *x, int64_t batch, const void *const *inputs, float *output)
{
    if (!x)
        return -1;
    const RtModel *m = x->m;
    const RtEntry *e = &m->predict;
    if (batch < 1)
        return fail(x, "forward: batch %lld; it must be at least 1", (long long)batch);
    if (check_arrays(x, "forward", "input", m->inputs, m->ninputs, inputs) != 0)
        return -1;
    if (!output)
        return fail(x, "forward: the output is a null pointer");
    if (check_ids(x, "forward", "input", m->inputs, m->ninputs, inputs, batch) != 0)
        return -1;
    for (int64_t first = 0; first < batch; first += x->capacity) {
        int64_t n = batch - first < x->capacity ? batch - first : x->capacity;
        copy_in(x, m->inputs, m->ninputs, inputs, first, n);
        RtCtx ctx = context(x, n);
        e->fn(&ctx);
        if (rt_pool_failed(x->pool))
            return fail(x, "forward: out of memory for the scratch space of the generated code");
        memcpy(output + first * e->output_elems, x->slab[RT_SLAB_ACT] + rt_bytes_at(e->output, m->batch, n),
               sizeof(float) * (size_t)(n * e->output_elems));
    }
    return 0;
}

int rt_instance_train_step(RtInstance *x, int64_t batch, const void *const *inputs, const void *const *targets,
                           float *loss)
{
    if (!x)
        return -1;
    const RtModel *m = x->m;
    if (batch < 1)
        return fail(x, "train_step: batch %lld; it must be at least 1", (long long)batch);
    if (check_arrays(x, "train_step", "input", m->inputs, m->ninputs, inputs) != 0
        || check_arrays(x, "train_step", "target", m->targets, m->ntargets, targets) != 0
        || check_ids(x, "train_step", "input", m->inputs, m->ninputs, inputs, batch) != 0
        || check_ids(x, "train_step", "target", m->targets, m->ntargets, targets, batch) != 0)
        return -1;
    if (batch > x->capacity && grow(x, batch) != 0)
        return -1;
    copy_in(x, m->inputs, m->ninputs, inputs, 0, batch);
    copy_in(x, m->targets, m->ntargets, targets, 0, batch);
    weights_change(x);
    RtCtx ctx = context(x, batch);
    m->train.fn(&ctx);
    if (rt_pool_failed(x->pool))
        return fail(x, "train_step: out of memory for the scratch space of the generated code");
    if (loss)
        *loss = (float)rt_get(x->slab[RT_SLAB_ACT] + rt_bytes_at(m->train.loss, m->batch, batch), m->real, 0);
    return 0;
}
