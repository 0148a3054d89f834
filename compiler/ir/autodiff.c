/* autodiff.c — reverse mode over the graph; see autodiff.h.
 *
 * Walks the forward nodes from the loss back to the inputs.  For each node
 * with a gradient it runs the op's rule (grad.c), which adds a contribution
 * to each operand that needs one; contributions to one operand are summed
 * as they arrive, so when the walk reaches a node its gradient is complete
 * (every user has a higher index).
 */
#include "autodiff.h"

#include <string.h>

#include "ir_internal.h"

static int stamp(IrGradCtx *ad, int id)
{
    if (id < 0)
        return id;
    IrNode *n = &ad->g->nodes[id];
    const IrNode *f = &ad->g->nodes[ad->cur];
    n->fwd = ad->cur;
    n->at = f->at;
    n->layer = f->layer;
    if (!n->rule)
        n->rule = ir_ops[f->op].rule;
    return id;
}

int ad_op(IrGradCtx *ad, IrOp op, const int *in, int nin, const IrAttr *a)
{
    return stamp(ad, ir_add(ad->g, op, in, nin, a, SPAN_NONE));
}

int ad_const(IrGradCtx *ad, double v)
{
    IrAttr a = {.f = v};
    return ad_op(ad, IR_CONST, NULL, 0, &a);
}

int ad_un(IrGradCtx *ad, IrOp op, int x) { return ad_op(ad, op, &x, 1, NULL); }

int ad_bin(IrGradCtx *ad, IrOp op, int x, int y)
{
    int in[2] = {x, y};
    return ad_op(ad, op, in, 2, NULL);
}

int ad_unbroadcast(IrGradCtx *ad, int g, const IrShape *shape)
{
    if (g < 0)
        return g;
    const IrShape *gs = &ad->g->nodes[g].shape;
    if (ir_shape_equal(gs, shape))
        return g;
    /* Axes of g that the operand did not have, or had as 1. */
    uint64_t axes = 0;
    int extra = gs->rank - shape->rank;
    for (int i = 0; i < gs->rank; i++) {
        int j = i - extra;
        if (j < 0 || (shape->dim[j] == 1 && gs->dim[i] != 1))
            axes |= (uint64_t)1 << i;
    }
    int r = g;
    if (axes) {
        IrAttr a = {.i = {(int64_t)axes}};
        r = ad_op(ad, IR_SUM, &g, 1, &a);
    }
    IrAttr a = {.shape = *shape};
    return ir_shape_equal(&ad->g->nodes[r].shape, shape) ? r : ad_op(ad, IR_RESHAPE, &r, 1, &a);
}

void ad_contribute(IrGradCtx *ad, int operand, int contribution)
{
    if (contribution < 0 || !ad->needs[operand])
        return;
    if (ad->grad[operand] < 0) {
        ad->grad[operand] = contribution;
        return;
    }
    int sum = ad_bin(ad, IR_ADD, ad->grad[operand], contribution);
    if (sum >= 0)
        ad->g->nodes[sum].rule = "the gradient of a value used twice is the sum";
    ad->grad[operand] = sum;
}

int ad_append(IrGraph *g, int loss, const int *params, int nparams, int *grads)
{
    int nfwd = g->n;
    IrGradCtx ad = {.g = g};
    ad.grad = ARENA_ARRAY(g->arena, int, nfwd + 1);
    ad.needs = ARENA_ARRAY(g->arena, bool, nfwd + 1);
    for (int i = 0; i < nfwd; i++) {
        const IrNode *n = &g->nodes[i];
        ad.grad[i] = -1;
        if (n->op == IR_INPUT) {
            ad.needs[i] = n->a.role == ROLE_PARAM;
            continue;
        }
        if (ir_ops[n->op].flags & OPF_NO_GRAD)
            continue;
        for (int k = 0; k < n->nin; k++)
            ad.needs[i] |= ad.needs[n->in[k]];
    }
    g->nforward = nfwd;
    /* The seed: dloss/dloss = 1. */
    ad.cur = loss;
    ad.grad[loss] = ad_const(&ad, 1.0);
    if (ad.grad[loss] >= 0)
        g->nodes[ad.grad[loss]].rule = "the seed: dloss/dloss = 1";
    for (int i = loss; i >= 0 && !g->error; i--) {
        const IrNode *n = &g->nodes[i];
        if (ad.grad[i] < 0 || !ad.needs[i] || n->op == IR_INPUT)
            continue;
        IrGradFn rule = ir_ops[n->op].grad;
        if (!rule) {
            g->error = arena_printf(g->arena, "no gradient rule for %s", ir_ops[n->op].name);
            break;
        }
        ad.cur = i;
        rule(&ad, i, ad.grad[i]);
    }
    for (int p = 0; p < nparams && !g->error; p++) {
        int id = params[p];
        int gr = ad.grad[id];
        if (gr < 0) {  /* the loss does not depend on it: zeros of its shape */
            ad.cur = id;
            IrAttr a = {.shape = g->nodes[id].shape};
            int z = ad_const(&ad, 0);
            gr = ad_op(&ad, IR_BROADCAST, &z, 1, &a);
            if (gr >= 0)
                g->nodes[gr].rule = "no path from the loss: zero";
        }
        grads[p] = gr;
    }
    g->ngrad = g->n;
    return g->error ? -1 : 0;
}
