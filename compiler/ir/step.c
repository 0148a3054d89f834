/* step.c — lowering, autodiff and the optimizer, in that order; see step.h. */
#include "step.h"

#include "autodiff.h"
#include "optim.h"

int nnc_build_step(const SemaModel *m, const Source *src, Arena *a, IrType ftype, StepParts parts, bool training,
                   NncStep *out, const char **err)
{
    LowerOptions lo = {.ftype = ftype, .training = training, .seed = m->train.seed, .decode = parts == STEP_DECODE};
    if (lower_model(m, src, a, &lo, &out->L, err) != 0)
        return -1;
    out->grads = ARENA_ARRAY(a, int, m->nparams + 1);
    if (parts == STEP_DECODE)
        return 0;
    if (parts == STEP_PREDICT) {  /* keep the prediction; dce removes what only the loss needed */
        IrGraph *g = &out->L.g;
        int k = 0;
        for (int i = 0; i < g->nouts; i++)
            if (g->outs[i].kind == OUT_PREDICTION)
                g->outs[k++] = g->outs[i];
        g->nouts = k;
        out->L.loss = -1;
        return 0;
    }
    if (parts == STEP_FORWARD || out->L.loss < 0)
        return 0;
    IrGraph *g = &out->L.g;
    if (ad_append(g, out->L.loss, out->L.param, m->nparams, out->grads) != 0) {
        *err = g->error;
        return -1;
    }
    if (parts == STEP_TRAIN && m->train.optimizer) {
        /* data-parallel: each rank has the gradient of its slice of the batch;
         * the update needs the whole batch's, the same on every rank */
        for (int i = 0; i < g->n && m->train.distributed; i++)  /* dropout: masks counted from the rank's first example */
            if (g->nodes[i].op == IR_RANDOM_MASK)
                g->nodes[i].a.i[2] = 1;
        for (int i = 0; i < m->nparams && m->train.distributed; i++)
            if (out->grads[i] >= 0) {
                Span at = g->nodes[out->grads[i]].at;
                out->grads[i] = ir_add(g, IR_ALLREDUCE, &out->grads[i], 1, &(IrAttr){.i = {-1}}, at);
                if (out->grads[i] >= 0)
                    g->nodes[out->grads[i]].layer = "data-parallel";
            }
        if (optim_append(&out->L, &m->train, out->grads) != 0) {
            *err = g->error;
            return -1;
        }
    } else {
        for (int i = 0; i < m->nparams; i++)
            ir_output(g, arena_printf(a, "grad.%s", m->params[i].name), out->grads[i], OUT_GRAD, -1);
    }
    return 0;
}
