/* fill.c — the deterministic parameters and batch of --gradcheck and
 * --export-step; see fill.h. */
#include "fill.h"

#include <math.h>

#include "interp.h"
#include "ir_internal.h"
#include "lower.h"
#include "nnc_runtime.h"

/* The front end's InitKind names the runtime's RtInit kinds, in order. */
_Static_assert((int)INIT_UNIFORM_FAN_IN == (int)RT_INIT_UNIFORM_FAN_IN && (int)INIT_NORMAL == (int)RT_INIT_NORMAL
                   && (int)INIT_ONES == (int)RT_INIT_ONES && (int)INIT_ZEROS == (int)RT_INIT_ZEROS
                   && (int)INIT_NORMAL_STD == (int)RT_INIT_NORMAL_STD && (int)INIT_UNIFORM == (int)RT_INIT_UNIFORM
                   && (int)INIT_DATA == (int)RT_INIT_DATA,
               "InitKind and RtInit must agree");

void nnc_fill_params(const SemaModel *m, const Lowered *L, IrEval *ev, uint64_t seed)
{
    for (int i = 0; i < m->nparams; i++) {
        const SemaParam *p = &m->params[i];
        int64_t n = shape_elems(&p->shape);
        double *v = ir_eval_input(ev, L->param[i]);
        /* InitKind and RtInit list the same kinds in the same order */
        for (int64_t e = 0; v && e < n; e++)
            v[e] = rt_init_value((RtInit)p->init, p->fan_in, p->scale, p->data, seed, rt_param_stream(i), (uint64_t)e);
    }
}

/* Inputs ~ N(0, 1); labels uniform over their classes; real targets
 * uniform in [0, 1), which suits both mse and binary cross-entropy. */
void nnc_fill_batch(const Lowered *L, IrEval *ev, uint64_t seed)
{
    const IrGraph *g = &L->g;
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op != IR_INPUT || (n->a.role != ROLE_INPUT && n->a.role != ROLE_TARGET))
            continue;
        int64_t len = ir_elems(&n->shape, ev->batch);
        double *v = ir_eval_input(ev, i);
        int64_t classes = n->a.i[0];  /* labels: their number of classes */
        for (int64_t e = 0; v && e < len; e++) {
            double u = ir_uniform(seed, 2000 + (uint64_t)i, 0, (uint64_t)e);
            v[e] = n->type == IR_I32 ? floor(u * (double)classes)
                 : n->a.role == ROLE_TARGET ? u : rt_normal(seed, 3000 + (uint64_t)i, (uint64_t)e);
        }
    }
}
