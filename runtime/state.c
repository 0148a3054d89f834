/* state.c — one model instance's memory: the slabs the memory plan asks
 * for, parameters as torch.nn starts them, and checkpoints of parameters
 * and optimizer state.  The training loop and embedded libraries share it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

size_t rt_slab_size(const RtModel *m, int s, int64_t batch)
{
    const RtEntry *entries[3] = {&m->train, &m->eval, &m->predict};
    int64_t bytes = 0;
    for (int e = 0; e < 3; e++) {
        int64_t b = rt_bytes_at(entries[e]->slab_bytes[s], m->batch, batch);
        bytes = b > bytes ? b : bytes;
    }
    return (size_t)((bytes + 63) / 64 * 64 + 64);
}

uint8_t *rt_slab_alloc(const RtModel *m, int s, int64_t batch)
{
    size_t size = rt_slab_size(m, s, batch);
    uint8_t *p = rt_huge_alloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

int rt_slabs_alloc(const RtModel *m, int64_t batch, uint8_t *slab[5], char *err, size_t errlen)
{
    memset(slab, 0, 5 * sizeof *slab);
    /* what does not fit is refused here, not "allocated" by overcommit and
     * then killed by the OOM killer while zeroing it */
    char detail[160];
    if (rt_memory_check(rt_model_bytes(m, batch), rt_model_bytes_detail(m, batch, detail, sizeof detail), err, errlen,
                        "model '%s' at batch %lld", m->name, (long long)batch) != 0) {
        int64_t fits = rt_model_max_batch(m, rt_memory_available(NULL));
        size_t used = strlen(err);
        if (used < errlen)
            snprintf(err + used, errlen - used,
                     !fits ? "; not even a batch of one fits"
                     : fits < m->batch ? "; a batch of at most %lld fits (the model was compiled for %lld: nnc --batch N)"
                                       : "; a batch of at most %lld fits",
                     (long long)fits, (long long)m->batch);
        return -1;
    }
    for (int s = RT_SLAB_INPUT; s <= RT_SLAB_ACT; s++)
        if (!(slab[s] = rt_slab_alloc(m, s, batch))) {
            size_t size = rt_slab_size(m, s, batch);
            rt_slabs_free(slab);
            return rt_fail(-1, err, errlen, "out of memory for %zu bytes (batch %lld)", size, (long long)batch);
        }
    return 0;
}

void rt_slabs_free(uint8_t *slab[5])
{
    for (int s = 0; s < 5; s++) {
        free(slab[s]);
        slab[s] = NULL;
    }
}

void rt_params_init(const RtModel *m, uint8_t *const slab[5], uint64_t seed)
{
    for (int i = 0; i < m->nparams; i++) {
        const RtTensorSpec *p = &m->params[i];
        int64_t n = rt_elems(p, 1);
        for (int64_t e = 0; e < n; e++)
            rt_set(rt_at(m, slab, p, 0), p->dtype, e, rt_init_value(p->init, p->fan_in, p->scale, p->data, seed, rt_param_stream(i), (uint64_t)e));
    }
}

const RtTensorSpec *rt_find_state(const RtModel *m, const char *name)
{
    for (int i = 0; i < m->nstate; i++)
        if (strcmp(m->state[i].name, name) == 0)
            return &m->state[i];
    return NULL;
}

const RtTensorSpec *rt_find_counter(const RtModel *m, RtCounter counter)
{
    for (int i = 0; i < m->nstate; i++)
        if (m->state[i].counter == counter)
            return &m->state[i];
    return NULL;
}

/* The first of t's n values that is not finite, or -1. */
static int64_t first_nonfinite(const void *t, RtDtype dtype, int64_t n)
{
    /* a loop per type: a GPT's millions of values at each save */
    if (dtype == RT_F32) {
        for (int64_t e = 0; e < n; e++)
            if (!isfinite(((const float *)t)[e]))
                return e;
    } else if (dtype == RT_F64) {
        for (int64_t e = 0; e < n; e++)
            if (!isfinite(((const double *)t)[e]))
                return e;
    }
    return -1;   /* (I32: labels and step counters, always finite) */
}

/* 0 when every parameter and optimizer-state value is finite, else
 * RT_SAVE_NONFINITE naming the first tensor that is not (rt_state_save). */
static int all_finite(const RtModel *m, uint8_t *const slab[5], char *err, size_t errlen)
{
    for (int pass = 0; pass < 2; pass++) {
        const RtTensorSpec *list = pass ? m->state : m->params;
        int count = pass ? m->nstate : m->nparams;
        for (int i = 0; i < count; i++) {
            const void *t = rt_at(m, slab, &list[i], 0);
            int64_t e = first_nonfinite(t, list[i].dtype, rt_elems(&list[i], 1));
            if (e >= 0) {
                double bad = rt_get(t, list[i].dtype, e);
                return rt_fail(RT_SAVE_NONFINITE, err, errlen, "%s '%s' holds %s", pass ? "optimizer state" : "parameter",
                               list[i].name, isnan(bad) ? "nan" : bad > 0 ? "inf" : "-inf");
            }
        }
    }
    return 0;
}

static const char *dtype_name(RtDtype d) { return d == RT_F64 ? "F64" : d == RT_F32 ? "F32" : "I32"; }

int rt_state_save(const RtModel *m, uint8_t *const slab[5], const char *path, char *err, size_t errlen)
{
    return rt_state_save_bpe(m, slab, NULL, path, err, errlen);
}

/* The checkpoint, its __metadata__ holding tokenizer (NULL: none) and
 * key: value, the tokenizer's table. */
static int save_meta(const RtModel *m, uint8_t *const slab[5], const char *tokenizer, const char *key,
                     const char *value, const char *path, char *err, size_t errlen)
{
    int rc = all_finite(m, slab, err, errlen);
    if (rc != 0)
        return rc;
    int n = m->nparams + m->nstate;
    RtTensor *t = rt_calloc((size_t)n + 1, sizeof *t);
    if (!t)
        return rt_fail(-1, err, errlen, "out of memory");
    int k = 0;
    for (int pass = 0; pass < 2; pass++) {
        const RtTensorSpec *list = pass ? m->state : m->params;
        int count = pass ? m->nstate : m->nparams;
        for (int i = 0; i < count; i++) {
            if (list[i].counter == RT_COUNTER_TOTAL_STEPS)
                continue;  /* a property of the run, not of the model */
            if (list[i].counter == RT_COUNTER_STEP)
                continue;  /* in the metadata, as an integer: load_state_dict(strict=True) never sees it */
            t[k++] = (RtTensor){list[i].name, dtype_name(list[i].dtype), list[i].rank, list[i].shape,
                                rt_at(m, slab, &list[i], 0), rt_dsize(list[i].dtype) * (size_t)rt_elems(&list[i], 1)};
        }
    }
    /* __metadata__: what safetensors.torch writes (format: pt), nnc's
     * version, the step, and a text model's tokenizer */
    char why[512], step[32];
    const RtTensorSpec *step_t = rt_find_counter(m, RT_COUNTER_STEP);
    if (step_t)
        snprintf(step, sizeof step, "%lld", (long long)rt_get(rt_at(m, slab, step_t, 0), step_t->dtype, 0));
    const char *meta[10] = {"format", "pt", RT_META_VERSION, NNC_VERSION};
    int nmeta = 2;
    if (step_t)
        meta[2 * nmeta] = RT_META_STEP, meta[2 * nmeta + 1] = step, nmeta++;
    if (tokenizer)
        meta[2 * nmeta] = RT_META_TOKENIZER, meta[2 * nmeta + 1] = tokenizer, nmeta++;
    if (tokenizer)
        meta[2 * nmeta] = key, meta[2 * nmeta + 1] = value, nmeta++;
    rc = rt_safetensors_write_meta(path, t, k, meta, nmeta, why, sizeof why);
    free(t);
    return rc ? rt_fail(-1, err, errlen, "%s", why) : 0;
}

int rt_state_save_bpe(const RtModel *m, uint8_t *const slab[5], const RtBpe *bpe, const char *path, char *err,
                      size_t errlen)
{
    char *merges = bpe ? rt_bpe_format(bpe) : NULL;
    if (bpe && !merges)
        return rt_fail(-1, err, errlen, "out of memory");
    int rc = save_meta(m, slab, bpe ? "bpe" : NULL, RT_META_BPE_MERGES, merges, path, err, errlen);
    free(merges);
    return rc;
}

int rt_state_save_chars(const RtModel *m, uint8_t *const slab[5], const RtCharVocab *v, const char *path, char *err,
                        size_t errlen)
{
    char *chars = rt_text_vocab_format(v);
    int rc = chars ? save_meta(m, slab, "bytes", RT_META_CHARS, chars, path, err, errlen)
                   : rt_fail(-1, err, errlen, "out of memory");
    free(chars);
    return rc;
}

int rt_state_save_text(const RtModel *m, uint8_t *const slab[5], const RtText *text, const char *path, char *err,
                       size_t errlen)
{
    if (!text || text->bpe)
        return rt_state_save_bpe(m, slab, text ? text->bpe : NULL, path, err, errlen);
    RtCharVocab v = {.n = text->vocab};
    memcpy(v.chars, text->chars, sizeof v.chars);
    return rt_state_save_chars(m, slab, &v, path, err, errlen);
}

int rt_state_load_chars(const char *path, int64_t vocab, RtCharVocab *out, char *err, size_t errlen)
{
    RtCheckpoint ck;
    char why[512];
    memset(out, 0, sizeof *out);
    if (rt_safetensors_read_meta(path, &ck, why, sizeof why) != 0)
        return rt_fail(-1, err, errlen, "%s", why);
    int rc = rt_checkpoint_chars(&ck, path, vocab, out, err, errlen);
    rt_checkpoint_free(&ck);
    return rc;
}

int rt_checkpoint_chars(const RtCheckpoint *ck, const char *path, int64_t vocab, RtCharVocab *out, char *err,
                        size_t errlen)
{
    char why[512];
    memset(out, 0, sizeof *out);
    out->from = path;
    const char *kind = rt_checkpoint_meta(ck, RT_META_TOKENIZER), *chars = rt_checkpoint_meta(ck, RT_META_CHARS);
    if (kind && strcmp(kind, "bytes") == 0 && chars && rt_text_vocab_parse(chars, out, why, sizeof why) != 0)
        return rt_fail(-1, err, errlen, "%s: %s: %s", path, RT_META_CHARS, why);
    if (out->n > vocab)
        return rt_fail(-1, err, errlen, "%s: its byte vocabulary (%s) has %d bytes, but the model's vocabulary is %lld",
                       path, RT_META_CHARS, out->n, (long long)vocab);
    return 0;
}

int rt_state_load_bpe(const char *path, int32_t vocab, RtBpe *out, char *err, size_t errlen)
{
    RtCheckpoint ck;
    char why[512];
    memset(out, 0, sizeof *out);
    if (rt_safetensors_read_meta(path, &ck, why, sizeof why) != 0)
        return rt_fail(-1, err, errlen, "%s", why);
    int rc = rt_checkpoint_bpe(&ck, path, vocab, out, err, errlen);
    rt_checkpoint_free(&ck);
    return rc;
}

int rt_checkpoint_bpe(const RtCheckpoint *ck, const char *path, int32_t vocab, RtBpe *out, char *err, size_t errlen)
{
    char why[512];
    memset(out, 0, sizeof *out);
    const char *kind = rt_checkpoint_meta(ck, RT_META_TOKENIZER), *merges = rt_checkpoint_meta(ck, RT_META_BPE_MERGES);
    if (!kind || strcmp(kind, "bpe") != 0 || !merges)
        return rt_fail(-1, err, errlen, "%s has no bpe merges (the header's __metadata__ has no %s), but the model reads "
                       "its text as bpe(vocab: %d); was it saved by a model with this tokenizer?", path, RT_META_BPE_MERGES,
                       (int)vocab);
    if (rt_bpe_parse(merges, out, why, sizeof why) != 0)
        return rt_fail(-1, err, errlen, "%s: %s: %s", path, RT_META_BPE_MERGES, why);
    if (out->vocab != vocab) {
        int got = out->vocab;
        rt_bpe_free(out);
        return rt_fail(-1, err, errlen, "%s: its bpe merges make a vocabulary of %d tokens, but the model's is bpe(vocab: %d)",
                       path, got, (int)vocab);
    }
    return 0;
}

static void shape_text(char *buf, size_t len, int rank, const int64_t *shape)
{
    buf[0] = 0;
    for (int d = 0; d < rank; d++)
        snprintf(buf + strlen(buf), len - strlen(buf), d ? ",%lld" : "%lld", (long long)shape[d]);
}

/* The largest step a checkpoint may hold: 2^24, where an F32 step counter
 * still counts by one. */
#define STEP_MAX ((double)RT_MAX_STEPS)

int rt_state_load(const RtModel *m, uint8_t *const slab[5], const char *path, int *resumed, char *err, size_t errlen)
{
    return rt_state_load_conv(m, slab, path, resumed, NULL, err, errlen);
}

int rt_state_load_conv(const RtModel *m, uint8_t *const slab[5], const char *path, int *resumed, char **converted,
                       char *err, size_t errlen)
{
    RtCheckpoint ck = {0};
    char why[512];
    if (rt_safetensors_read(path, &ck, why, sizeof why) != 0)
        return rt_fail(-1, err, errlen, "%s", why);
    return rt_state_take_conv(m, slab, &ck, path, resumed, converted, err, errlen);
}

int rt_state_take(const RtModel *m, uint8_t *const slab[5], RtCheckpoint *ckp, const char *path, int *resumed,
                  char *err, size_t errlen)
{
    return rt_state_take_conv(m, slab, ckp, path, resumed, NULL, err, errlen);
}

/* The step of __metadata__'s nnc.step: digits only, at most STEP_MAX; 0, or
 * -1 with why. */
static int meta_step(const char *text, const char *path, double *step, char *err, size_t errlen)
{
    size_t len = strlen(text);
    int digits = len > 0 && len <= 8 && strspn(text, "0123456789") == len;
    *step = digits ? strtod(text, NULL) : -1;
    if (!digits || *step > STEP_MAX)
        return rt_fail(-1, err, errlen, "%s: __metadata__ %s is \"%.40s\"; a step is a whole number from 0 to %.0f", path,
                       RT_META_STEP, text, STEP_MAX);
    return 0;
}

/* Whether name is a parameter of m. */
static int is_param(const RtModel *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return 1;
    return 0;
}

/* Whether name is optimizer state for one of m's parameters under another
 * optimizer's name, "optimizer.P.KIND" with P a parameter (rt_state_save
 * and compiler/ir/optim.c name state so): an Adam checkpoint loaded into an
 * SGD model to fine-tune it. */
static int other_optimizer_state(const RtModel *m, const char *name)
{
    static const char prefix[] = "optimizer.";
    const char *kind = strrchr(name, '.');
    size_t n = sizeof prefix - 1;
    if (strncmp(name, prefix, n) != 0 || !kind || kind <= name + n)
        return 0;
    char param[256];
    snprintf(param, sizeof param, "%.*s", (int)(kind - name - n), name + n);
    return is_param(m, param);
}

/* Whether a checkpoint's tensor of this name is one of the run's step
 * counters (RtCounter): older checkpoints hold the step as a tensor, and a
 * model without a schedule has no place for either. */
static int counter_name(const char *name)
{
    for (int c = RT_COUNTER_NONE + 1; c < RT_COUNTER_COUNT; c++)
        if (strcmp(name, rt_counter_name((RtCounter)c)) == 0)
            return 1;
    return 0;
}

/* The tensors of ck that m has no place for: refused, naming the first and
 * the count, unless they are another optimizer's state of m's parameters
 * (*other: how many such).  A checkpoint of a larger model would otherwise
 * load silently into a smaller one and be replaced at its next save by one
 * with fewer tensors.  The step counters are the run's, never extra.  0,
 * or -1 with why. */
static int check_extra(const RtModel *m, const RtCheckpoint *ck, const char *path, int *other, char *err, size_t errlen)
{
    int extra = 0;
    const char *first = NULL;
    *other = 0;
    for (int i = 0; i < ck->n; i++) {
        const char *name = ck->t[i].name;
        if (is_param(m, name) || rt_find_state(m, name) || counter_name(name))
            continue;
        if (other_optimizer_state(m, name))
            ++*other;
        else if (extra++ == 0)
            first = name;
    }
    if (extra)
        return rt_fail(-1, err, errlen, "%s: %d tensor%s that model '%s' does not have, the first '%s'; is it a checkpoint "
                       "of model '%s'?", path, extra, extra == 1 ? "" : "s", m->name, first, m->name);
    return 0;
}

/* What check_state found of the model's state in a checkpoint. */
typedef struct Found {
    int state;          /* the state's tensors found, the step included (nnc.step counts as one) */
    int optimizer;      /* of them, the optimizer's: all but step and total_steps */
    int other;          /* another optimizer's state tensors (check_extra), not taken */
} Found;

/* Whether the state tensor s is the optimizer's (Adam's moments, the
 * momentum buffer), not the run's step counters. */
static int optimizer_state(const RtTensorSpec *s)
{
    return s->counter == RT_COUNTER_NONE;
}

/* Whether m's optimizer keeps state of its own (Adam, momentum). */
static int has_optimizer_state(const RtModel *m)
{
    for (int i = 0; i < m->nstate; i++)
        if (optimizer_state(&m->state[i]))
            return 1;
    return 0;
}

/* Everything --load checks before it changes anything: every parameter in
 * ck with the model's shape and a dtype that converts to the model's (ck's
 * tensors converted on the way), the state's tensors that are there too, and
 * the step; the optimizer's state all there or none of it (a part would
 * resume with the rest zero, silently wrong); and no tensor the model has
 * no place for (check_extra).  *step: the step of __metadata__ (0
 * without).  A header read without the data (its tensors' data NULL) gets
 * every check but the values of a 'step' tensor.  0, or -1 with why. */
static int check_state(const RtModel *m, RtCheckpoint *ck, const char *path, double *step, Found *found, char *err,
                       size_t errlen)
{
    const char *step_text = rt_checkpoint_meta(ck, RT_META_STEP);
    const char *missing = NULL;   /* the first of the optimizer's state tensors not in ck */
    int optimizer = 0;            /* the model's optimizer state tensors */
    *step = 0;
    *found = (Found){0};
    int rc = step_text && rt_find_counter(m, RT_COUNTER_STEP) ? meta_step(step_text, path, step, err, errlen) : 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        const RtTensorSpec *list = pass ? m->state : m->params;
        int count = pass ? m->nstate : m->nparams;
        for (int i = 0; i < count && rc == 0; i++) {
            const RtTensorSpec *s = &list[i];
            if (step_text && s->counter == RT_COUNTER_STEP) {
                found->state++;
                continue;
            }
            optimizer += pass && optimizer_state(s);
            const RtTensor *t = rt_checkpoint_find(ck, s->name);
            if (!t) {
                if (!pass)
                    rc = rt_fail(-1, err, errlen, "%s: no tensor '%s'; is it a checkpoint of model '%s'?", path, s->name,
                              m->name);
                else if (optimizer_state(s) && !missing)
                    missing = s->name;
                continue;
            }
            int same = t->rank == s->rank;
            for (int d = 0; same && d < s->rank; d++)
                same = t->shape[d] == s->shape[d];
            /* F16, BF16, F64 (or F32 for an f64 model): converted once the shape fits */
            if (same && (rc = rt_checkpoint_as(ck, t, dtype_name(s->dtype), path, err, errlen)) != 0)
                break;
            same = same && strcmp(t->dtype, dtype_name(s->dtype)) == 0;
            if (!same) {
                char a[128], b[128];
                shape_text(a, sizeof a, t->rank, t->shape);
                shape_text(b, sizeof b, s->rank, s->shape);
                rc = rt_fail(-1, err, errlen, "%s: tensor '%s' is %s[%s], but the model has %s[%s]", path, s->name, t->dtype,
                          a, dtype_name(s->dtype), b);
            } else if (s->counter == RT_COUNTER_STEP && t->data) {
                /* The step indexes the epoch's order and the schedule: a
                 * negative, fractional, huge or NaN one would read outside them. */
                double v = rt_get(t->data, s->dtype, 0);
                if (!(v >= 0 && v <= STEP_MAX && v == (double)(int64_t)v))
                    rc = rt_fail(-1, err, errlen, "%s: tensor '%s' holds %g; a step is a whole number from 0 to %.0f",
                                 path, s->name, v, STEP_MAX);
            }
            found->state += pass;
            found->optimizer += pass && optimizer_state(s);
        }
    }
    if (rc == 0 && missing && found->optimizer > 0)
        rc = rt_fail(-1, err, errlen, "%s: no tensor '%s': the file has %d of the optimizer's %d state tensors; resuming "
                     "needs all of them (or none, to start the optimizer from zero)", path, missing, found->optimizer,
                     optimizer);
    return rc ? rc : check_extra(m, ck, path, &found->other, err, errlen);
}

int rt_state_check(const RtModel *m, const char *path, char *err, size_t errlen)
{
    RtCheckpoint ck;
    char why[512];
    if (rt_safetensors_read_header(path, &ck, why, sizeof why) != 0)
        return rt_fail(-1, err, errlen, "%s", why);
    int rc = rt_state_check_read(m, &ck, path, err, errlen);
    rt_checkpoint_free(&ck);
    return rc;
}

int rt_state_check_read(const RtModel *m, RtCheckpoint *ck, const char *path, char *err, size_t errlen)
{
    double step;
    Found found;
    return check_state(m, ck, path, &step, &found, err, errlen);
}

int rt_state_take_conv(const RtModel *m, uint8_t *const slab[5], RtCheckpoint *ckp, const char *path, int *resumed,
                       char **converted, char *err, size_t errlen)
{
    RtCheckpoint ck = *ckp;
    *ckp = (RtCheckpoint){0};
    if (converted)
        *converted = NULL;
    /* The step: __metadata__'s nnc.step, or (a checkpoint written before it
     * went there) a scalar tensor named step.  Everything is checked before
     * anything changes: a refused file leaves the instance as it was. */
    const char *step_text = rt_checkpoint_meta(&ck, RT_META_STEP);
    double step;
    Found found;
    int rc = check_state(m, &ck, path, &step, &found, err, errlen);
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        const RtTensorSpec *list = pass ? m->state : m->params;
        int count = pass ? m->nstate : m->nparams;
        for (int i = 0; i < count; i++) {
            const RtTensor *t = rt_checkpoint_find(&ck, list[i].name);
            void *dst = rt_at(m, slab, &list[i], 0);
            if (step_text && list[i].counter == RT_COUNTER_STEP)
                rt_set(dst, list[i].dtype, 0, step);
            else if (t)
                memcpy(dst, t->data, t->bytes);
            else if (list[i].counter == RT_COUNTER_STEP)
                rt_set(dst, list[i].dtype, 0, 0);  /* no step in the file: the run starts at 0 */
            else if (pass && optimizer_state(&list[i]))  /* none of the optimizer's state in the file */
                for (int64_t e = 0; e < rt_elems(&list[i], 1); e++)
                    rt_set(dst, list[i].dtype, e, 0);
        }
    }
    if (rc == 0 && converted && ck.converted)
        *converted = ck.converted, ck.converted = NULL;
    rt_checkpoint_free(&ck);
    /* the optimizer starts from zero state: the file has none of its state,
     * or only another optimizer's */
    int fresh = rc == 0 && found.optimizer == 0;
    *resumed = (found.state > 0 ? RT_LOAD_RESUMED : 0) | (fresh && !found.other && has_optimizer_state(m) ? RT_LOAD_NO_STATE : 0)
             | (fresh && found.other ? RT_LOAD_OTHER_STATE : 0);
    return rc;
}
