/* output_copy.c — a prediction that is a leaf, copied into an activation;
 * see passes.h.
 *
 * Every entry hands its caller the prediction from the activation slab
 * (RtEntry.output, read by --predict, a library's forward and the decode
 * entry).  A model whose output is one of its inputs (output x, or x * 1,
 * x[:] and flatten(x) of a rank-1 x once simplify has folded them to x)
 * would have it in the input slab instead, and one that simplify folds to a
 * constant (x * 0) nowhere: baked into the code.  (A parameter as
 * the output is refused by sema: an output is a per-example tensor.)  A reshape to the
 * leaf's own shape is the copy: the plan makes a reshape a view of its
 * operand only when that operand is an activation, so of a leaf it is a
 * kernel that copies.  Runs last, before the plan, where no
 * simplification can fold the copy away again; a model whose prediction is
 * computed (every real one) is not touched.
 */
#include "passes.h"

/* The prediction output's index in g->outs if its value is a leaf, else -1. */
static int leaf_prediction(const IrGraph *g)
{
    for (int j = 0; j < g->nouts; j++)
        if (g->outs[j].kind == OUT_PREDICTION && (ir_ops[g->nodes[g->outs[j].value].op].flags & OPF_LEAF))
            return j;
    return -1;
}

int pass_output_copy(IrGraph *g)
{
    int j = leaf_prediction(g);
    if (j < 0)
        return 0;
    int leaf = g->outs[j].value, copy = -1;
    IrGraph dst;
    int *map = ir_rewrite_begin(&dst, g);
    for (int i = 0; i < g->n; i++) {
        if (!ir_copy_into(&dst, g, i, map))
            return 0;   /* only an unverified graph gets here: kept, with the reason */
        if (i == leaf) {   /* the copy stands beside its leaf, on the forward side */
            copy = ir_add_like(&dst, g, i, IR_RESHAPE, &map[i], 1, &(IrAttr){.shape = g->nodes[i].shape});
            if (copy < 0) {
                g->error = dst.error;
                return -1;
            }
        }
    }
    ir_rewrite_end(g, &dst, map);
    g->outs[j].value = copy;   /* the prediction only: other outputs of the leaf keep reading it */
    return 1;
}
