/* embed.c — model instances for the libraries `nnc --emit=so|obj` writes.
 *
 * A generated library is the compiled entries, a description of the model
 * (the same RtModel trainers use) and typed wrappers that call these
 * functions.  An instance owns its slabs; nothing here is global, and no
 * thread pool is used: a caller wanting parallelism runs instances on its
 * own threads.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

struct RtInstance {
    const RtModel *m;
    uint8_t       *slab[5];
    char          *err;      /* separate so that const functions can report */
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
    RtInstance *x = calloc(1, sizeof *x);
    if (!x || !(x->err = calloc(1, ERR_LEN))) {
        free(x);
        return NULL;
    }
    x->m = m;
    if (rt_slabs_alloc(m, x->slab, x->err, ERR_LEN) != 0) {
        free(x->err);
        free(x);
        return NULL;
    }
    rt_params_init(m, x->slab, seed);
    const RtTensorSpec *t = rt_find_state(m, "total_steps");
    if (t)
        rt_set(rt_at(x->slab, t), t->dtype, 0, (double)total_steps);
    return x;
}

void rt_instance_destroy(RtInstance *x)
{
    if (!x)
        return;
    rt_slabs_free(x->slab);
    free(x->err);
    free(x);
}

const char *rt_instance_error(const RtInstance *x)
{
    return x ? x->err : "no instance (a null pointer)";
}

int rt_instance_load(RtInstance *x, const char *path)
{
    if (!x)
        return -1;
    if (!path)
        return fail(x, "load: the path is a null pointer");
    int resumed;
    return rt_state_load(x->m, x->slab, path, &resumed, x->err, ERR_LEN);
}

int rt_instance_save(const RtInstance *x, const char *path)
{
    if (!x)
        return -1;
    if (!path)
        return fail(x, "save: the path is a null pointer");
    return rt_state_save(x->m, x->slab, path, x->err, ERR_LEN);
}

/* Rows [first, first+n) of each caller array into the slab's tensors. */
static int copy_in(RtInstance *x, const char *what, const char *role, const RtTensorSpec *t, int count,
                   const void *const *src, int64_t first, int64_t n)
{
    for (int i = 0; i < count; i++) {
        if (!src || !src[i])
            return fail(x, "%s: %s '%s' is a null pointer", what, role, t[i].name);
        size_t row = rt_dsize(t[i].dtype) * (size_t)rt_elems(&t[i], 1);
        memcpy(rt_at(x->slab, &t[i]), (const uint8_t *)src[i] + row * (size_t)first, row * (size_t)n);
    }
    return 0;
}

int rt_instance_forward(RtInstance *x, int64_t batch, const void *const *inputs, float *output)
{
    if (!x)
        return -1;
    const RtModel *m = x->m;
    const RtEntry *e = &m->predict;
    if (batch < 1)
        return fail(x, "forward: batch %lld; it must be at least 1", (long long)batch);
    if (!output)
        return fail(x, "forward: the output is a null pointer");
    int64_t most = m->batch;
    RtCtx ctx = {.pool = NULL};
    for (int s = 1; s < 5; s++)
        ctx.slab[s] = x->slab[s];
    for (int64_t first = 0; first < batch; first += most) {
        int64_t n = batch - first < most ? batch - first : most;
        if (copy_in(x, "forward", "input", m->inputs, m->ninputs, inputs, first, n) != 0)
            return -1;
        ctx.batch = n;
        e->fn(&ctx);
        memcpy(output + first * e->output_elems, x->slab[RT_SLAB_ACT] + e->output,
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
    int64_t most = m->batch;
    if (batch < 1 || batch > most)
        return fail(x, "train_step: batch %lld; this library takes 1 to %lld (recompile with nnc --batch N for more)",
                    (long long)batch, (long long)most);
    if (copy_in(x, "train_step", "input", m->inputs, m->ninputs, inputs, 0, batch) != 0
        || copy_in(x, "train_step", "target", m->targets, m->ntargets, targets, 0, batch) != 0)
        return -1;
    RtCtx ctx = {.batch = batch};
    for (int s = 1; s < 5; s++)
        ctx.slab[s] = x->slab[s];
    m->train.fn(&ctx);
    if (loss)
        *loss = (float)rt_get(x->slab[RT_SLAB_ACT] + m->train.loss, m->real, 0);
    return 0;
}
