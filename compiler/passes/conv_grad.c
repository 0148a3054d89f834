/* conv_grad.c — a convolution's input gradient as a convolution; see passes.h.
 *
 * conv2d's input gradient, as autodiff writes it, is
 *     patches_t(g · Wᵀ)        g [.., Ho·Wo, F], W [k·k·C, F]
 * a matmul that writes every patch's gradient out ([.., Ho·Wo, k·k·C]: 14.4
 * MB a step for the MNIST CNN's second convolution at batch 64) and a
 * col2im that reads them back and adds the k·k taps of each pixel.  With
 * stride 1 the same sums are a convolution of g, padded by k − 1 − p along
 * each axis, with the kernel's taps reversed and its channels swapped (a
 * kh x kw window, k·k below standing for kh·kw):
 *     dx[y, x, c] = Σ over ky, kx, f of g[y + ky − ph', x + kx − pw', f] · W'[(ky·kw + kx)·F + f, c]
 *     W'[(t, f), c] = W[(k·k − 1 − t)·C + c, f]        ph' = kh − 1 − ph, pw' = kw − 1 − pw
 * (tap k·k − 1 − t of t = ky·kw + kx is (kh − 1 − ky, kw − 1 − kx): the
 * window turned half a turn)
 * i.e. patches(g) · W', whose patches the implicit-patches pass (run next)
 * reads from g itself: no patch gradient is written at all, and the col2im
 * is gone.  The taps are reversed by a product with the k·k anti-identity
 * (exact: one 1 and zeros per row), a small matmul of the weights.
 * Each element of dx now adds its k·k·F products in one sum instead of
 * k·k sums of F: the same value, other rounding (the generated code agrees
 * with the interpreter, which evaluates the rewritten graph, and any thread
 * count gives the same bits).  Only stride 1 (a stride leaves holes the
 * convolution would have to skip) and p < k, on both axes.
 */
#include "passes.h"

#include "../ir/ir_internal.h"

/* The matmul g · Wᵀ whose rows patches_t t adds up, when the rewrite applies; else -1. */
static int input_grad_matmul(const IrGraph *g, const IrUsers *u, int t)
{
    const IrNode *tn = &g->nodes[t];
    const IrWindow *win = &tn->a.win;
    if (tn->op != IR_PATCHES_T || tn->a.shape.rank < 3)
        return -1;
    for (int d = 0; d < 2; d++)
        if (win->stride[d] != 1 || win->pad[d] < 0 || win->pad[d] >= win->k[d])
            return -1;
    int r = tn->in[0];
    const IrNode *rn = &g->nodes[r];
    if (rn->op != IR_RESHAPE || !ir_read_once(u, r))
        return -1;
    int m = rn->in[0];
    const IrNode *mn = &g->nodes[m];
    if (mn->op != IR_MATMUL || !ir_read_once(u, m)
        || ir_mm_ta(mn) || !ir_mm_tb(mn) || ir_mm_lead(mn) || ir_mm_patches(mn))
        return -1;
    const IrShape *w = &g->nodes[mn->in[1]].shape, *gs = &g->nodes[mn->in[0]].shape, *x = &tn->a.shape;
    int64_t c = x->dim[x->rank - 1];
    if (w->rank != 2 || w->dim[0] != ir_window_taps(win) * c || gs->rank < 2 || gs->dim[gs->rank - 1] != w->dim[1])
        return -1;
    return m;
}

int pass_conv_input_grad(IrGraph *g)
{
    int n = g->n;
    IrUsers users;
    ir_users(g, &users);
    int *mm = ARENA_ARRAY(g->arena, int, n + 1);
    int changed = 0;
    for (int i = 0; i < n; i++) {
        mm[i] = input_grad_matmul(g, &users, i);
        changed += mm[i] >= 0;
    }
    if (!changed)
        return 0;

    IrGraph dst;
    int *map = ir_rewrite_begin(&dst, g);
    for (int i = 0; i < n; i++) {
        if (mm[i] < 0) {
            if (!ir_copy_into(&dst, g, i, map))
                return 0;
            continue;
        }
        const IrNode *tn = &g->nodes[i], *mn = &g->nodes[mm[i]];
        const IrShape *x = &tn->a.shape, *win = &g->nodes[tn->in[0]].shape;
        int rank = x->rank;
        const IrWindow *tw = &tn->a.win;
        int64_t taps = ir_window_taps(tw), c = x->dim[rank - 1];
        int64_t f = g->nodes[mn->in[1]].shape.dim[1];
        /* W' = reshape(permute(reshape(J · reshape(W, [k·k, C·F]), [k·k, C, F]), (0, 2, 1)), [k·k·F, C]) */
        double *flip = ARENA_ARRAY(g->arena, double, taps * taps);
        for (int64_t t = 0; t < taps; t++)
            flip[t * taps + (taps - 1 - t)] = 1;
        IrAttr ja = {.shape = {2, {taps, taps}}, .data = flip, .name = "reversed_taps"};
        IrAttr wa = {.shape = {2, {taps, c * f}}}, w3 = {.shape = {3, {taps, c, f}}}, pa = {.i = {0, 2, 1}};
        IrAttr wf = {.shape = {2, {taps * f, c}}};
        int j = ir_add_like(&dst, g, i, IR_TENSOR, NULL, 0, &ja);
        int wr = ir_add_like(&dst, g, i, IR_RESHAPE, &map[mn->in[1]], 1, &wa);
        int jw = j < 0 || wr < 0 ? -1 : ir_add_like(&dst, g, i, IR_MATMUL, (int[]){j, wr}, 2, &(IrAttr){0});
        int jw3 = jw < 0 ? -1 : ir_add_like(&dst, g, i, IR_RESHAPE, &jw, 1, &w3);
        int wp = jw3 < 0 ? -1 : ir_add_like(&dst, g, i, IR_PERMUTE, &jw3, 1, &pa);
        int w2 = wp < 0 ? -1 : ir_add_like(&dst, g, i, IR_RESHAPE, &wp, 1, &wf);
        /* rows = reshape(patches(reshape(g, [.., Ho, Wo, F]), k, 1, k − 1 − p), [.., H·W, k·k·F]) */
        IrAttr ga = {.shape = *win}, ra = {.shape = *x};
        IrAttr qa = {.win = {.k = {tw->k[0], tw->k[1]}, .stride = {1, 1},
                             .pad = {tw->k[0] - 1 - tw->pad[0], tw->k[1] - 1 - tw->pad[1]}}};
        ga.shape.dim[rank - 1] = f;
        ra.shape.rank = rank - 1;
        ra.shape.dim[rank - 3] = x->dim[rank - 3] * x->dim[rank - 2];
        ra.shape.dim[rank - 2] = taps * f;
        int gi = w2 < 0 ? -1 : ir_add_like(&dst, g, i, IR_RESHAPE, &map[mn->in[0]], 1, &ga);
        int q = gi < 0 ? -1 : ir_add_like(&dst, g, i, IR_PATCHES, &gi, 1, &qa);
        int rows = q < 0 ? -1 : ir_add_like(&dst, g, i, IR_RESHAPE, &q, 1, &ra);
        int d = rows < 0 ? -1 : ir_add_like(&dst, g, i, IR_MATMUL, (int[]){rows, w2}, 2, &(IrAttr){0});
        if (!ir_replaced(&dst, g, i, d < 0 ? -1 : ir_add_like(&dst, g, i, IR_RESHAPE, &d, 1, &(IrAttr){.shape = *x}), map))
            return 0;
    }
    ir_rewrite_end(g, &dst, map);
    return changed;
}
