/* export.c — one interpreted step written as safetensors; see export.h. */
#include "export.h"

#include <stdlib.h>
#include <string.h>

#include "fill.h"
#include "interp.h"
#include "nnc_runtime.h"
#include "step.h"

typedef struct Pack {
    RtTensor *t;
    int       n, cap;
    Arena    *a;
} Pack;

/* Adds node v's values under name, converted to the node's own type. */
static void pack(Pack *p, const IrEval *ev, int v, const char *name)
{
    const IrNode *n = &ev->g->nodes[v];
    int64_t len = ev->len[v];
    RtTensor *t = &p->t[p->n++];
    int64_t *shape = ARENA_ARRAY(p->a, int64_t, n->shape.rank + 1);
    for (int d = 0; d < n->shape.rank; d++)
        shape[d] = n->shape.dim[d] == IR_BATCH ? ev->batch : n->shape.dim[d];
    t->name = name;
    t->rank = n->shape.rank;
    t->shape = shape;
    if (n->type == IR_I32) {
        int32_t *d = ARENA_ARRAY(p->a, int32_t, len + 1);
        for (int64_t i = 0; i < len; i++)
            d[i] = (int32_t)ev->val[v][i];
        t->dtype = "I32", t->data = d, t->bytes = sizeof *d * (size_t)len;
    } else if (n->type == IR_F64) {
        t->dtype = "F64", t->data = ev->val[v], t->bytes = sizeof(double) * (size_t)len;
    } else {
        float *d = ARENA_ARRAY(p->a, float, len + 1);
        for (int64_t i = 0; i < len; i++)
            d[i] = (float)ev->val[v][i];
        t->dtype = "F32", t->data = d, t->bytes = sizeof *d * (size_t)len;
    }
}

int nnc_export_copy_bytes(const IrNode *n)
{
    if (n->op == IR_INPUT)  /* what the loops below pack: parameters (and their gradients), inputs, targets */
        return n->a.role == ROLE_PARAM ? 8 : n->a.role == ROLE_INPUT || n->a.role == ROLE_TARGET ? 4 : 0;
    return n->op == IR_RANDOM_MASK ? 4 : 0;
}

int nnc_export_step(const SemaModel *m, const NncStep *step, int64_t batch, uint64_t seed, int64_t fail_at,
                    const char *path, DiagSink *diag, const char **err)
{
    Arena a;   /* the copies written */
    arena_init(&a);
    IrEval ev = {0};
    int rc = -1;
    *err = NULL;
    const IrGraph *g = &step->L.g;
    ir_eval_init(&ev, g, batch);
    ev.fail_at = fail_at;
    nnc_fill_params(m, &step->L, &ev, seed);
    nnc_fill_batch(&step->L, &ev, seed);
    if (step->L.step >= 0) {
        double first = 0;  /* the masks of the first step */
        ir_eval_set(&ev, step->L.step, &first);
    }
    if (ir_eval_run(&ev) != 0) {
        if (ev.out_of_memory)  /* the input's, as memcheck's estimate before it: exit 1 */
            diag_error(diag, ir_eval_error_at(&ev), "%s", ev.error);
        else
            *err = strdup(ev.error);
        goto done;
    }
    Pack p = {.a = &a, .cap = 2 * m->nparams + g->n + 4};
    p.t = ARENA_ARRAY(&a, RtTensor, p.cap);
    for (int i = 0; i < m->nparams; i++)
        pack(&p, &ev, step->L.param[i], m->params[i].name);
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op == IR_INPUT && (n->a.role == ROLE_INPUT || n->a.role == ROLE_TARGET))
            pack(&p, &ev, i, arena_printf(&a, "%s.%s", n->a.role == ROLE_INPUT ? "input" : "target", n->a.name));
    }
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].op == IR_RANDOM_MASK)
            pack(&p, &ev, i, arena_printf(&a, "dropout.%lld", (long long)g->nodes[i].a.i[1]));
    if (step->L.loss >= 0)
        pack(&p, &ev, step->L.loss, "loss");
    for (int i = 0; i < m->nparams && step->L.loss >= 0; i++)
        pack(&p, &ev, step->grads[i], arena_printf(&a, "grad.%s", m->params[i].name));
    char why[256];
    if (rt_safetensors_write(path, p.t, p.n, why, sizeof why) != 0) {
        *err = strdup(why);
        goto done;
    }
    rc = 0;
done:
    ir_eval_free(&ev);
    arena_free(&a);
    return rc;
}
