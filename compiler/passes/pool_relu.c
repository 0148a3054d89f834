/* pool_relu.c — the relu after a max pooling folded into the pooling's
 * kernels, forward and backward; see passes.h.
 *
 * lower_max_pool puts a convolution block's relu after its pooling (relu of
 * the maximum is the maximum of relu, on a quarter of the elements), so the
 * forward is P = pool_max(x, x) then relu(P), and autodiff's backward is
 * relu's g · gt(P, 0) then pooling's pool_max_t(x, ·) of it.  The relu and
 * its backward are each a kernel through memory: [B, 14, 14, 32] read and
 * written (1.6 MB at batch 64) for the MNIST CNN's first block, and the two
 * blocks' four kernels about 2% of a step's CPU.  The pooling kernels hold
 * each window's maximum in a register anyway:
 *   - relu(P) becomes P with ir_pool_relu set: the maximum, then relu, one
 *     store.  P's other readers may only be gt(P, 0): relu(P) > 0 exactly
 *     where P > 0 (a NaN is neither), so they read the folded P unchanged;
 *   - pool_max_t(x, g · gt(P, 0)), when that product has no other reader,
 *     becomes pool_max_t(x, g) with ir_pool_relu set: g · (maximum > 0)
 *     where it adds g.
 * The same operations on the same values: the same bits.  Runs after
 * autodiff (the gradient rules of the pooling ops do not know the flag)
 * and before fusion (which would take the relu and the product into
 * elementwise regions); dce drops the gt and the product.
 */
#include "passes.h"

#include "../ir/ir_internal.h"

static bool plain_max_pool(const IrNode *n)
{
    return n->op == IR_POOL_MAX && n->in[0] == n->in[1] && !ir_pool_relu(n);
}

/* p when node i is gt(p, 0), else -1 */
static int positive_of(const IrGraph *g, int i)
{
    const IrNode *n = &g->nodes[i];
    if (n->op != IR_GT)
        return -1;
    const IrNode *zero = &g->nodes[n->in[1]];
    return zero->op == IR_CONST && zero->a.f == 0 ? n->in[0] : -1;
}

/* Whether pooling p is read by a relu, and otherwise only by gt(p, 0) */
static bool relu_folds(const IrGraph *g, const IrUsers *u, int p)
{
    if (!plain_max_pool(&g->nodes[p]) || u->is_output[p])
        return false;
    bool relu = false;
    for (int e = u->first[p]; e >= 0; e = u->next[e]) {
        int r = u->node[e];
        if (g->nodes[r].op == IR_RELU)
            relu = true;
        else if (positive_of(g, r) != p)
            return false;
    }
    return relu;
}

/* For t = pool_max_t(x, g · gt(P, 0)) with P = pool_max(x, x) under t's
 * window and the product read by t alone: g.  Else -1. */
static int relu_grad_of(const IrGraph *g, const IrUsers *u, int t)
{
    const IrNode *tn = &g->nodes[t];
    if (tn->op != IR_POOL_MAX_T || ir_pool_relu(tn) || !ir_read_once(u, tn->in[1]))
        return -1;
    const IrNode *m = &g->nodes[tn->in[1]];
    if (m->op != IR_MUL)
        return -1;
    for (int k = 0; k < 2; k++) {
        int grad = m->in[k], p = positive_of(g, m->in[1 - k]);
        if (p < 0 || !plain_max_pool(&g->nodes[p]))
            continue;
        const IrNode *pn = &g->nodes[p];
        if (pn->in[0] == tn->in[0] && ir_same_window(pn, tn) && ir_shape_equal(&g->nodes[grad].shape, &m->shape)
            && ir_shape_equal(&pn->shape, &m->shape))
            return grad;
    }
    return -1;
}

/* A pooling node like src's node i, over `in`, with the relu folded in */
static int add_folded(IrGraph *dst, const IrGraph *src, int i, const int in[2])
{
    IrAttr a = src->nodes[i].a;
    ir_pool_set_relu(&a);
    return ir_add_like(dst, src, i, src->nodes[i].op, in, 2, &a);
}

int pass_pool_relu(IrGraph *g)
{
    int n = g->n;
    IrUsers users;
    ir_users(g, &users);
    bool *folds = ARENA_ARRAY(g->arena, bool, n + 1);
    int *grad = ARENA_ARRAY(g->arena, int, n + 1);
    int changed = 0;
    for (int i = 0; i < n; i++) {
        folds[i] = relu_folds(g, &users, i);
        grad[i] = relu_grad_of(g, &users, i);
        changed += folds[i] + (grad[i] >= 0);
    }
    if (!changed)
        return 0;

    IrGraph dst;
    int *map = ir_rewrite_begin(&dst, g);
    for (int i = 0; i < n; i++) {
        const IrNode *s = &g->nodes[i];
        if (s->op == IR_RELU && folds[s->in[0]]) {
            map[i] = map[s->in[0]];  /* the pooling writes it now */
            changed++;
        } else if (folds[i] || grad[i] >= 0) {
            int in[2] = {map[s->in[0]], map[folds[i] ? s->in[1] : grad[i]]};
            if (!ir_replaced(&dst, g, i, add_folded(&dst, g, i, in), map))
                return 0;
        } else if (!ir_copy_into(&dst, g, i, map)) {
            return 0;
        }
    }
    ir_rewrite_end(g, &dst, map);
    return changed;
}
