/* pool_conv.c — a convolution's input gradient through its max pooling
 * from the pooled gradient, without the pooling's scatter; see passes.h.
 *
 * The MNIST CNN's second block's backward is
 *     d = pool_max_t(x, g)                 [B, 14, 14, 64]: g at each
 *                                          window's maximum, zeros elsewhere
 *     e = patches(d) · w                   its input gradient as a
 *                                          convolution (conv_grad.c), the
 *                                          patches read in place (implicit.c)
 * and three quarters of e's 231 M multiply-adds a step are 0 · w.  When the
 * convolution has stride 1, pool_conv_t(x, g, w) computes e from g: each
 * window's g, per channel, times w's rows of that channel, added into the
 * output pixels whose taps read the window's maximum (cg_patches.c buckets
 * the channels by that pixel and sums a bucket's rows in registers; w's
 * rows reordered by channel first, a small permute).  d
 * stays when something else reads it (the weight gradient and the bias's
 * sum do).  The sums run in another order: other rounding, not other
 * values (the interpreter evaluates the rewritten graph; every thread count
 * gives the same bits: an example's rows are one item).  Runs after
 * implicit patches, before the batch split and dce.
 */
#include "passes.h"

#include "../ir/ir_internal.h"

/* The pooling gradient matmul m reads as patches, through reshapes that
 * keep its [.., H, W, C], or -1 */
static int pooled_image(const IrGraph *g, const IrNode *m)
{
    if (m->op != IR_MATMUL || ir_mm_patches(m) != IR_MM_PATCHES_A || ir_mm_ta(m) || ir_mm_tb(m) || ir_mm_lead(m)
        || ir_mm_window(m).stride[0] != 1 || ir_mm_window(m).stride[1] != 1
        || ir_mm_window(m).pad[0] >= ir_mm_window(m).k[0] || ir_mm_window(m).pad[1] >= ir_mm_window(m).k[1]
        || ir_window_taps(&m->a.win) > IR_POOL_CONV_T_TAPS_MAX
        || g->nodes[m->in[1]].shape.rank != 2)
        return -1;
    const IrShape *img = &g->nodes[m->in[0]].shape;
    int t = m->in[0];
    while (g->nodes[t].op == IR_RESHAPE)
        t = g->nodes[t].in[0];
    return g->nodes[t].op == IR_POOL_MAX_T && ir_shape_equal(&g->nodes[t].shape, img) ? t : -1;
}

/* w [taps·F, C] (rows t·F + f, as the convolution reads them) as
 * [F·taps, C] (rows f·taps + t): a channel's taps together, where
 * pool_conv_t reads them (9 rows 8 KB apart in the MNIST CNN's layout fell
 * in two of L1's sets: 929 samples in 100 steps, 849 this way, bench/README
 * session 32) */
static int by_channel(IrGraph *dst, const IrGraph *src, int i, int w, int64_t taps)
{
    const IrShape *ws = &dst->nodes[w].shape;
    int64_t F = ws->dim[0] / taps, C = ws->dim[1];
    int r = ir_add_like(dst, src, i, IR_RESHAPE, &w, 1, &(IrAttr){.shape = {3, {taps, F, C}}});
    int p = r < 0 ? -1 : ir_add_like(dst, src, i, IR_PERMUTE, &r, 1, &(IrAttr){.i = {1, 0, 2}});
    return p < 0 ? -1 : ir_add_like(dst, src, i, IR_RESHAPE, &p, 1, &(IrAttr){.shape = {2, {F * taps, C}}});
}

int pass_pool_conv(IrGraph *g)
{
    int n = g->n, changed = 0;
    int *pooled = ARENA_ARRAY(g->arena, int, n + 1);  /* per node: pooled_image's answer */
    for (int i = 0; i < n; i++) {
        pooled[i] = pooled_image(g, &g->nodes[i]);
        changed += pooled[i] >= 0;
    }
    if (!changed)
        return 0;
    IrGraph dst;
    int *map = ir_rewrite_begin(&dst, g);
    for (int i = 0; i < n; i++) {
        int t = pooled[i];
        if (t < 0) {
            if (!ir_copy_into(&dst, g, i, map))
                return 0;
            continue;
        }
        const IrNode *tn = &g->nodes[t], *mn = &g->nodes[i];
        IrAttr a = tn->a;
        IrWindow w = ir_mm_window(mn);
        ir_pool_conv_set_window(&a, &w);
        int wf = by_channel(&dst, g, i, map[mn->in[1]], ir_window_taps(&w));
        int in[3] = {map[tn->in[0]], map[tn->in[1]], wf};
        int v = wf < 0 ? -1 : ir_add_like(&dst, g, i, IR_POOL_CONV_T, in, 3, &a);
        if (v < 0 || !ir_replaced(&dst, g, i, v, map))
            return 0;
    }
    ir_rewrite_end(g, &dst, map);
    return changed;
}
