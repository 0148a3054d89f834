/* heads.c — an attention's head permutes folded into the products that
 * read and write them; see passes.h.
 *
 * A multi-head attention lowers each of Q, K and V as a projection [B, T,
 * H·d], reshaped (a view) to [B, T, H, d] and permuted to [B, H, T, d] for
 * the per-head products; their result P·V goes back through the inverse
 * permute to [B, T, H, d] and the output projection.  Autodiff mirrors
 * each permute in the backward.  Every permute is a kernel that copies the
 * tensor (1 MB for the char GPT at batch 32, 32 a step), and at two threads
 * its reads miss to the other core, which wrote the rows.
 *
 * A matmul can read a [..., T, H, d] operand as the [..., H, T, d] it
 * multiplies (matrix h of example l at l·T·H·d + h·d, rows H·d apart), and
 * write its [..., H, T, d] result stored as [..., T, H, d]: ir_mm_heads.
 * So:
 *   - an operand permute(x, swap of axes rank-3 and rank-2) becomes x read
 *     with the operand's heads flag (the permute stays for other readers;
 *     dce drops it when the products were all);
 *   - a result read only by such a permute is written as the permute's
 *     result, with C's flag; the permute's readers read the product.
 * The shape rule decides what may be folded (heads_check, ops.c): plain
 * matmuls, the operand's leading axes the product's.  Every product adds
 * the same terms in the same order: the same bits.  After fusion (which
 * takes no permute) and the triangle pass (whose flags stay).
 */
#include "passes.h"

#include "../ir/ir_internal.h"

/* Whether node p is a permute that swaps axes rank-3 and rank-2 and keeps
 * the others: the heads' permute, either way (it is its own inverse). */
static bool heads_permute(const IrNode *p)
{
    int r = p->shape.rank;
    if (p->op != IR_PERMUTE || r < 4)
        return false;
    for (int k = 0; k < r; k++) {
        int64_t want = k == r - 3 ? r - 2 : k == r - 2 ? r - 3 : k;
        if (p->a.i[k] != want)
            return false;
    }
    return true;
}

/* Whether matmul node i of g would pass its shape rule reading `in` with
 * attributes a, its result then of shape `want` (NULL: any). */
static bool rule_allows(const IrGraph *g, int i, int *in, const IrAttr *a, const IrShape *want)
{
    IrNode t = g->nodes[i];
    t.in = in;
    t.a = *a;
    if (ir_ops[t.op].shape(g, &t) != NULL)
        return false;
    return !want || ir_shape_equal(&t.shape, want);
}

/* For plain matmul i: its operands with the heads' permutes folded in
 * (in), its attributes (a), and the permute that now reads C's heads
 * inside its rows, or -1 (*c_permute).  Returns whether anything folds. */
static bool heads_fold(const IrGraph *g, const IrUsers *u, int i, int in[2], IrAttr *a, int *c_permute)
{
    const IrNode *n = &g->nodes[i];
    *c_permute = -1;
    if (n->op != IR_MATMUL || ir_mm_lead(n) || ir_mm_patches(n))
        return false;
    *a = n->a;
    in[0] = n->in[0], in[1] = n->in[1];
    bool any = false;
    for (int k = 0; k < 2; k++) {
        const IrNode *p = &g->nodes[n->in[k]];
        if (!heads_permute(p) || ir_mm_heads(n, k))
            continue;
        int trial[2] = {in[0], in[1]};
        IrAttr ta = *a;
        trial[k] = p->in[0];
        ir_mm_set_heads(&ta, k);
        if (rule_allows(g, i, trial, &ta, NULL)) {
            in[k] = trial[k], *a = ta;
            any = true;
        }
    }
    int r = ir_read_once(u, i) ? u->node[u->first[i]] : -1;
    if (r >= 0 && heads_permute(&g->nodes[r]) && !ir_mm_heads(n, IR_MM_HEADS_C)) {
        IrAttr ta = *a;
        ir_mm_set_heads(&ta, IR_MM_HEADS_C);
        if (rule_allows(g, i, in, &ta, &g->nodes[r].shape)) {
            *a = ta;
            *c_permute = r;
            any = true;
        }
    }
    return any;
}

int pass_heads(IrGraph *g)
{
    int n = g->n;
    IrUsers users;
    ir_users(g, &users);
    bool *folds = ARENA_ARRAY(g->arena, bool, n + 1);
    int *in = ARENA_ARRAY(g->arena, int, 2 * n + 2);
    IrAttr *attr = ARENA_ARRAY(g->arena, IrAttr, n + 1);
    int *written_by = ARENA_ARRAY(g->arena, int, n + 1);  /* a permute whose result a product now writes */
    int changed = 0;
    for (int i = 0; i < n; i++)
        written_by[i] = -1;
    for (int i = 0; i < n; i++) {
        int cp;
        folds[i] = heads_fold(g, &users, i, &in[2 * i], &attr[i], &cp);
        if (cp >= 0)
            written_by[cp] = i;
        changed += folds[i];
    }
    if (!changed)
        return 0;

    IrGraph dst;
    int *map = ir_rewrite_begin(&dst, g);
    for (int i = 0; i < n; i++) {
        if (written_by[i] >= 0) {
            map[i] = map[written_by[i]];  /* the product writes it now */
            changed++;
        } else if (folds[i]) {
            int mapped[2] = {map[in[2 * i]], map[in[2 * i + 1]]};
            if (!ir_replaced(&dst, g, i, ir_add_like(&dst, g, i, IR_MATMUL, mapped, 2, &attr[i]), map))
                return 0;
        } else if (!ir_copy_into(&dst, g, i, map)) {
            return 0;
        }
    }
    ir_rewrite_end(g, &dst, map);
    return changed;
}
