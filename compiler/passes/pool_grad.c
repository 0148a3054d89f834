/* pool_grad.c — a convolution's weight and bias gradient through its max
 * pooling in one pass, without the pooling's scatter; see passes.h.
 *
 * When a convolution's rows (its patches, [.., H·W, T]) are kept for its
 * weight gradient and a max pooling follows it (the MNIST CNN's first
 * block: T = 9, one channel in), autodiff's backward is
 *     d = pool_max_t(x, g)                 [.., H, W, C]: g scattered to each
 *                                          window's maximum, zeros elsewhere
 *     dW = rowsᵀ · d, db = sum(d)          over the batch and the pixels
 * and d ([B, 28, 28, 32], 6.4 MB at batch 64, three quarters zeros) is
 * written once and read twice: with the bias sum and the product, the
 * three kernels took 1.54 ms of a step's CPU at one thread (bench/README,
 * session 30, cnn2 stream, at load 4-5).  pool_rows_t(x, g, rows) finds each window's
 * maximum as pool_max_t does and adds g · rows[that pixel, t] into [T + 1,
 * C] per example (row T: g, the bias): d is never written.  The pattern:
 *     t = pool_max_t(x, g)  (a relu folded in or not), r = reshape(t)
 *     [.., H·W, C] read only by m = matmul(rows, r) ta lead ([T, C]: over
 *     the batch's pixels, not read as patches) and at most one
 *     s = sum(r) over all its axes but C ([1, .., 1, C])
 * becomes, with P = pool_rows_t(x, g, rows) where the first of m and s
 * stood, m = reshape(sum(slice(P, rows 0..T)) over the batch) and s =
 * sum(slice(P, row T)) over the batch (batch_split.c leaves these sums
 * over the batch alone: they are already per example first).  The sums run over windows, then examples, not over
 * the batch's pixels: other rounding, not other values (the interpreter
 * evaluates the rewritten graph; every thread count gives the same bits).
 * Runs after pool_relu (so that a folded relu comes along) and before
 * fusion.
 */
#include "passes.h"

#include "../ir/ir_internal.h"

/* Whether s sums r over all its axes but the last (C), keeping them */
static bool all_but_c_sum(const IrGraph *g, int s, int r)
{
    const IrNode *sn = &g->nodes[s];
    int rank = g->nodes[r].shape.rank;
    return sn->op == IR_SUM && sn->in[0] == r && sn->a.i[0] == ((int64_t)1 << (rank - 1)) - 1 && sn->shape.rank == rank;
}

/* Whether m is rowsᵀ · r over the batch's pixels, rows [.., H·W, T] with
 * the planes of r, and its kh·kw·T products fit the kernel */
static bool rows_product(const IrGraph *g, int m, int r, int64_t kk)
{
    const IrNode *mn = &g->nodes[m];
    if (!ir_mm_lead_grad(mn) || mn->in[1] != r || mn->in[0] == r)
        return false;
    const IrShape *rows = &g->nodes[mn->in[0]].shape;
    return kk * rows->dim[rows->rank - 1] <= IR_POOL_ROWS_T_MAX;
}

/* The rewrite of pooling gradient t, if it applies: its product m, its sum
 * s (-1: none), and where P goes (the first of them). */
typedef struct Site { int m, s, at; } Site;

static bool site_of(const IrGraph *g, const IrUsers *u, int t, Site *site)
{
    const IrNode *tn = &g->nodes[t];
    if (tn->op != IR_POOL_MAX_T || !ir_read_once(u, t))
        return false;
    int r = u->node[u->first[t]];
    const IrNode *rn = &g->nodes[r];
    const IrShape *x = &tn->shape;
    if (rn->op != IR_RESHAPE || u->is_output[r] || rn->shape.rank != x->rank - 1
        || rn->shape.dim[rn->shape.rank - 2] != x->dim[x->rank - 3] * x->dim[x->rank - 2])
        return false;
    *site = (Site){-1, -1, -1};
    for (int e = u->first[r]; e >= 0; e = u->next[e]) {
        int w = u->node[e];
        if (site->m < 0 && rows_product(g, w, r, ir_window_taps(&tn->a.win)))
            site->m = w;
        else if (site->s < 0 && all_but_c_sum(g, w, r))
            site->s = w;
        else
            return false;
    }
    if (site->m < 0)
        return false;
    site->at = site->s >= 0 && site->s < site->m ? site->s : site->m;
    return g->nodes[site->m].in[0] < site->at;  /* the rows exist where P goes */
}

/* Rows [from, from + len) of P's [.., T + 1, C] summed over the leading
 * axes ([1, .., len, C]), standing where src's node i stood */
static int rows_of(IrGraph *dst, const IrGraph *src, int i, int p, int64_t from, int64_t len)
{
    int rank = dst->nodes[p].shape.rank;
    IrAttr a = {.i = {rank - 2, from, len}};
    int sl = ir_add_like(dst, src, i, IR_SLICE, &p, 1, &a);
    IrAttr sum = {.i = {((int64_t)1 << (rank - 2)) - 1}};
    return sl < 0 ? -1 : ir_add_like(dst, src, i, IR_SUM, &sl, 1, &sum);
}

/* What stands for product m: its rows of P over the batch, as m's [T, C] */
static int product_of(IrGraph *dst, const IrGraph *src, int m, int p)
{
    const IrShape *ms = &src->nodes[m].shape;
    int sum = rows_of(dst, src, m, p, 0, ms->dim[0]);
    return sum < 0 ? -1 : ir_add_like(dst, src, m, IR_RESHAPE, &sum, 1, &(IrAttr){.shape = *ms});
}

int pass_pool_grad(IrGraph *g)
{
    int n = g->n;
    IrUsers users;
    ir_users(g, &users);
    int *pool_at = ARENA_ARRAY(g->arena, int, n + 1);  /* per product or sum: its pool_max_t, else -1 */
    Site *site = ARENA_ARRAY(g->arena, Site, n + 1);
    int changed = 0;
    for (int i = 0; i < n; i++)
        pool_at[i] = -1;
    for (int t = 0; t < n; t++)
        if (site_of(g, &users, t, &site[t])) {
            pool_at[site[t].m] = t;
            if (site[t].s >= 0)
                pool_at[site[t].s] = t;
            changed++;
        }
    if (!changed)
        return 0;

    IrGraph dst;
    int *map = ir_rewrite_begin(&dst, g);
    int *made = ARENA_ARRAY(g->arena, int, n + 1);  /* per pool_max_t rewritten: its P */
    for (int i = 0; i < n; i++) {
        int t = pool_at[i];
        if (t < 0) {
            if (!ir_copy_into(&dst, g, i, map))
                return 0;
            continue;
        }
        const IrNode *tn = &g->nodes[t];
        const IrNode *mn = &g->nodes[site[t].m];
        if (i == site[t].at) {
            int in[3] = {map[tn->in[0]], map[tn->in[1]], map[mn->in[0]]};
            made[t] = ir_add_like(&dst, g, t, IR_POOL_ROWS_T, in, 3, &tn->a);
            if (made[t] < 0)
                return 0;
        }
        int64_t taps = mn->shape.dim[0];
        int v = i == site[t].m ? product_of(&dst, g, i, made[t]) : rows_of(&dst, g, i, made[t], taps, 1);
        if (!ir_replaced(&dst, g, i, v, map))
            return 0;
    }
    ir_rewrite_end(g, &dst, map);
    return changed;
}
