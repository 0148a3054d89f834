/* batch_split.c — small sums over the whole batch, split per example; see passes.h.
 *
 * A sum whose result is small but whose terms are many, over the batch and
 * more, is one or two items of the generated code: one thread adds them all
 * while the others wait.  In the MNIST CNN's step they were the serial
 * part: the first convolution's weight gradient, a `lead` matmul
 * [B·784, 9]ᵀ·[B·784, 32] (one 9 × 32 tile, 29 MFLOP, 0.5 ms on one core;
 * pool_grad.c's pool_rows_t takes that one and its bias now), and the bias
 * gradients, sums of [B, H·W, C] over B and H·W.  Here each
 * becomes the same sum per example, then a sum of the B partial results:
 *     matmul(a, b, ta, lead)     -> reshape(sum(matmul(a, b, ta), leading axes), [m, n])
 *     sum(x, {0} ∪ axes)         -> sum(sum(x, axes), {0})
 * The per-example sums are B items (or B × their columns), which any
 * number of threads share; the sum of B small results is cheap.  Each
 * element now adds its terms in two levels instead of one run: the same
 * value, other rounding.  The generated code agrees with the interpreter,
 * which evaluates the rewritten graph, and the split is by examples, never
 * by threads, so every thread count gives the same bits.
 * Only when the result is small (SPLIT_MAX_ELEMS: the partial results are
 * B times it) and each example has SPLIT_MIN_TERMS terms or more.
 */
#include "passes.h"

#include "../ir/ir_internal.h"

enum { SPLIT_MAX_ELEMS = 1024, SPLIT_MIN_TERMS = 64 };

static int64_t elems_from(const IrShape *s, int from)
{
    int64_t e = 1;
    for (int i = from; i < s->rank; i++)
        e *= s->dim[i];
    return e;
}

/* A lead matmul C [m, n] = Σ over the leading axes of Aᵀ·B, A [B, .., k, m] and
 * B [B, .., k, n] with the same leading axes, as autodiff writes a weight's
 * gradient. */
static bool split_matmul(const IrGraph *g, const IrNode *n)
{
    if (!ir_mm_lead_grad(n))
        return false;
    const IrShape *a = &g->nodes[n->in[0]].shape;
    if (a->dim[0] != IR_BATCH)
        return false;
    return elems_from(&n->shape, 0) <= SPLIT_MAX_ELEMS && elems_from(a, 1) / a->dim[a->rank - 1] >= SPLIT_MIN_TERMS;
}

/* A sum over the batch axis and others, keeping the last (a bias's gradient). */
static bool split_sum(const IrGraph *g, const IrNode *n)
{
    if (n->op != IR_SUM)
        return false;
    const IrShape *x = &g->nodes[n->in[0]].shape;
    uint64_t axes = (uint64_t)n->a.i[0];
    if (x->rank < 3 || x->dim[0] != IR_BATCH || !(axes & 1) || !(axes & ~(uint64_t)1) || axes >> (x->rank - 1) & 1)
        return false;
    int64_t terms = 1;
    for (int i = 1; i < x->rank; i++)
        if (axes >> i & 1)
            terms *= x->dim[i];
    return elems_from(&n->shape, 1) <= SPLIT_MAX_ELEMS && terms >= SPLIT_MIN_TERMS;
}

int pass_split_batch(IrGraph *g)
{
    int n = g->n, changed = 0;
    for (int i = 0; i < n; i++)
        changed += split_matmul(g, &g->nodes[i]) || split_sum(g, &g->nodes[i]);
    if (!changed)
        return 0;

    IrGraph dst;
    int *map = ir_rewrite_begin(&dst, g);
    for (int i = 0; i < n; i++) {
        const IrNode *nd = &g->nodes[i];
        int v;
        if (split_matmul(g, nd)) {
            /* per example: [B, .., m, n]; then the leading axes added: [1, .., m, n] -> [m, n] */
            int lead = g->nodes[nd->in[0]].shape.rank - 2;
            int in[2] = {map[nd->in[0]], map[nd->in[1]]};
            int p = ir_add_like(&dst, g, i, IR_MATMUL, in, 2, &(IrAttr){.i = {1, 0, 0}});
            int s = p < 0 ? -1 : ir_add_like(&dst, g, i, IR_SUM, &p, 1, &(IrAttr){.i = {((int64_t)1 << lead) - 1}});
            v = s < 0 ? -1 : ir_add_like(&dst, g, i, IR_RESHAPE, &s, 1, &(IrAttr){.shape = nd->shape});
        } else if (split_sum(g, nd)) {
            int x = map[nd->in[0]];
            int p = ir_add_like(&dst, g, i, IR_SUM, &x, 1, &(IrAttr){.i = {nd->a.i[0] & ~(int64_t)1}});
            v = p < 0 ? -1 : ir_add_like(&dst, g, i, IR_SUM, &p, 1, &(IrAttr){.i = {1}});
        } else {
            if (!ir_copy_into(&dst, g, i, map))
                return 0;
            continue;
        }
        if (!ir_replaced(&dst, g, i, v, map))
            return 0;
    }
    ir_rewrite_end(g, &dst, map);
    return changed;
}
