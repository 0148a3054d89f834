/* implicit.c — convolution matmuls read their patches from the image; see passes.h.
 *
 * conv2d lowers to rows = reshape(patches(x)) and rows · Wᵀ; its weight's
 * gradient is rowsᵀ · g.  The patches [.., Ho·Wo, k·k·C] are k·k times the
 * image (9 × 1.6 MB for the MNIST CNN's second layer at batch 64): written
 * by one kernel, read by two matmuls, 14.4 MB through memory twice a step.
 * Both matmuls can read them from the image instead, the window's index
 * arithmetic done where the matmul copies its operand into cache (packs):
 *   - rows · W (A, untransposed, W of rank 2): the matmul takes the image x
 *     as operand 0 and packs its MR rows of each chunk from it;
 *   - rowsᵀ · g (a `lead` weight gradient): becomes (gᵀ · rows)ᵀ, so that
 *     the rows are op(B), the operand the matmul packs into panels anyway,
 *     and a small permute of the [k·k·C, F] result.  Only when the rows are
 *     at least as wide as g (k·k·C ≥ F): a first layer's 9-wide rows would
 *     fill 9 of a panel's 32 columns.  Every element still adds the same
 *     products (a·b = b·a) in the same order: the same bits.
 * The matmul marks the operand (attr i[3] = 1 for A, 2 for B), keeps the
 * window (attr win) and the operand's shape as the matmul
 * sees it (attr shape: the reshape's).  All of a patches node's users must
 * be such matmuls (through reshapes), or none changes: the patches are then
 * dead, and dce (run next) drops them.
 */
#include "passes.h"

#include "../ir/ir_internal.h"

/* How a reshape of patches is used by matmul m (0: not in a form read from the image). */
enum { USE_NONE, USE_A, USE_B_SWAP };

static int use_of(const IrGraph *g, int m, int r)
{
    const IrNode *n = &g->nodes[m];
    if ((n->op != IR_MATMUL && n->op != IR_MATMUL_EPI) || ir_mm_patches(n))
        return USE_NONE;
    for (int k = 1; k < n->nin; k++)  /* the rows only as operand 0 */
        if (n->in[k] == r)
            return USE_NONE;
    if (n->in[0] != r)
        return USE_NONE;
    bool ta = n->a.i[0], tb = n->a.i[1], lead = n->a.i[2];
    const IrShape *rs = &g->nodes[r].shape;
    if (!lead && ir_matmul_folds(g, n))  /* C's rows are the pixels: one matrix read from the image */
        return USE_A;
    if (ta && !tb && lead && n->op == IR_MATMUL && n->shape.rank == 2
        && rs->dim[rs->rank - 1] >= n->shape.dim[1])
        return USE_B_SWAP;
    return USE_NONE;
}

int pass_implicit_patches(IrGraph *g)
{
    int n = g->n;
    IrUsers users;
    ir_users(g, &users);
    bool *is_output = users.is_output;
    int *first = users.first, *next = users.next, *user = users.node;
    int *form = ARENA_ARRAY(g->arena, int, n + 1);   /* per matmul: USE_*, and the patches it reads */
    int *from = ARENA_ARRAY(g->arena, int, n + 1);
    int changed = 0;
    for (int p = 0; p < n; p++) {
        const IrNode *pn = &g->nodes[p];
        if (pn->op != IR_PATCHES || is_output[p] || first[p] < 0)
            continue;
        bool ok = true;
        for (int u = first[p]; u >= 0 && ok; u = next[u]) {
            int r = user[u];
            const IrNode *rn = &g->nodes[r];
            ok = rn->op == IR_RESHAPE && !is_output[r] && first[r] >= 0 && rn->shape.rank >= 2
              && rn->shape.dim[rn->shape.rank - 1] == pn->shape.dim[pn->shape.rank - 1];
            for (int w = ok ? first[r] : -1; w >= 0 && ok; w = next[w])
                ok = use_of(g, user[w], r) != USE_NONE;
        }
        if (!ok)
            continue;
        for (int u = first[p]; u >= 0; u = next[u])
            for (int w = first[user[u]]; w >= 0; w = next[w]) {
                form[user[w]] = use_of(g, user[w], user[u]);
                from[user[w]] = p;
                changed++;
            }
    }
    if (!changed)
        return 0;

    IrGraph dst;
    int *map = ir_rewrite_begin(&dst, g);
    for (int i = 0; i < n; i++) {
        const IrNode *s = &g->nodes[i];
        if (!form[i]) {
            if (!ir_copy_into(&dst, g, i, map))
                return 0;
            continue;
        }
        const IrNode *pn = &g->nodes[from[i]];
        IrAttr a = s->a;
        ir_mm_set_patches(&a, form[i] == USE_A ? IR_MM_PATCHES_A : IR_MM_PATCHES_B, &pn->a.win);
        a.shape = g->nodes[s->in[0]].shape;   /* the rows as the matmul sees them */
        int *in = ARENA_ARRAY(g->arena, int, s->nin + 1);
        for (int k = 0; k < s->nin; k++)
            in[k] = map[s->in[k]];
        int image = map[pn->in[0]];
        if (form[i] == USE_A) {
            in[0] = image;
            map[i] = ir_add_like(&dst, g, i, s->op, in, s->nin, &a);
        } else {  /* (gᵀ · rows)ᵀ */
            int swapped[2] = {in[1], image};
            int t = ir_add_like(&dst, g, i, IR_MATMUL, swapped, 2, &a);
            IrAttr pa = {.i = {1, 0}};
            map[i] = t < 0 ? -1 : ir_add_like(&dst, g, i, IR_PERMUTE, &t, 1, &pa);
        }
        if (!ir_replaced(&dst, g, i, map[i], map))
            return 0;
    }
    ir_rewrite_end(g, &dst, map);
    return changed;
}
