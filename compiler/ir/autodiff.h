/* autodiff.h — reverse-mode differentiation of an IR graph, as IR.
 *
 * Appends to the graph the gradient of the loss with respect to every
 * parameter.  The rules are the op table's (grad.c), each building IR;
 * gradients of values used more than once are summed; only values that
 * depend on a parameter get gradients (never inputs or targets); the seed
 * dloss/dloss = 1 is an explicit constant, and the mean over the batch is
 * the loss's own MEAN (its rule divides by the batch size).  Every node made
 * for a forward node keeps that node's location, the node itself (fwd) and
 * the rule.
 */
#ifndef NNC_AUTODIFF_H
#define NNC_AUTODIFF_H

#include "ir.h"

/* The state of one differentiation, shared with the rules in grad.c. */
typedef struct IrGradCtx {
    IrGraph *g;
    int     *grad;    /* per node: its accumulated gradient, or -1 */
    bool    *needs;   /* per node: depends on a parameter through differentiable ops */
    int      cur;     /* the forward node whose rule is running */
} IrGradCtx;

/* Appends the backward pass for loss.  The gradient of each parameter
 * becomes, in *grads (one per entry of params), a node; a parameter the loss
 * does not depend on gets zeros.  Returns 0, or -1 with g->error set. */
int ad_append(IrGraph *g, int loss, const int *params, int nparams, int *grads);

/* For the rules: add contribution to operand's gradient (only if it needs one). */
void ad_contribute(IrGradCtx *ad, int operand, int contribution);
/* g summed over the axes it was broadcast along, back to shape. */
int  ad_unbroadcast(IrGradCtx *ad, int g, const IrShape *shape);
/* Builders stamped with the current forward node's provenance. */
int  ad_const(IrGradCtx *ad, double v);
int  ad_un(IrGradCtx *ad, IrOp op, int x);
int  ad_bin(IrGradCtx *ad, IrOp op, int x, int y);
int  ad_op(IrGradCtx *ad, IrOp op, const int *in, int nin, const IrAttr *a);

#endif
