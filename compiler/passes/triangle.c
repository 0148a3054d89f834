/* triangle.c — the products of a causal attention told which triangle they
 * may skip; see passes.h.
 *
 * A causal attention (lower_attention) selects its scores S = Q·Kᵀ with a
 * mask kept(i, j) = query_places[i] >= key_places[j], a constant lower
 * triangle j <= i + d (d = 0), and puts −inf elsewhere: after fusion, one
 * fused_rows "attention" reads S and the mask and writes P, whose entries
 * outside the triangle are exactly 0 (exp(−inf) / sum); its backward, a
 * fused_rows "attention backward", reads dP = dO·Vᵀ, P and the mask and
 * writes dS, 0 outside it too (select(mask, ·, 0)).  The six per-head
 * products compute all of each [T, T] although half is thrown away or 0:
 *   - S = Q·Kᵀ and dP = dO·Vᵀ: entries outside the triangle are read by
 *     nobody (S's go to the select's discarded side, dP's are multiplied
 *     by P's zeros): IR_MM_TRI_C, they may be left 0;
 *   - P·V and dS·K read A = P or dS, 0 past column i + d in row i:
 *     IR_MM_TRI_A_LOWER, the k loop of rows i ends at i + d;
 *   - Pᵀ·dO and dSᵀ·Q read op(A) = Pᵀ or dSᵀ, 0 before column i − d in
 *     row i: IR_MM_TRI_A_UPPER, the k loop of rows i starts at i − d.
 * The softmax and its backward themselves compute each row only up to
 * the mask (ir_rows_tri_mask, rows_stop) when past it every value they
 * reduce or write is one value per row (ir_rows_fixed), or a sum's terms
 * are 0 there.
 * Nothing here knows the attention: a mask is any ge of two constant
 * tensors [T, 1] and [T] whose values make a lower triangle (checked from
 * the data), and a fused_rows program is read with two small analyses over
 * its instructions (zero_where_masked, reads_inside): which values are 0
 * outside the triangle, and whether an operand's entries outside it reach
 * the result.  Both assume finite values: a 0 skipped is 0·v, which is not
 * 0 for an infinite v; a product reads P or dS only when their rows have
 * finite sums (a NaN in a row the interpreter would carry to the masked
 * entries, the skipping code not).
 *
 * The bits: a skipped term 0·v added to an accumulator that starts at +0
 * changes nothing (+0 + ±0 = +0, x + ±0 = x), so the products' results in
 * the triangle are the same; S's skipped entries are discarded; dP's, 0
 * instead of the product, make dP·P a +0 where it was ±0, which changes a
 * row's sum only in the sign of a zero sum.  Runs after fusion (it reads
 * the fused programs); sets the attribute in place, nodes keep their
 * indices.
 */
#include "passes.h"

#include <math.h>

#include "../ir/ir_internal.h"

/* What a program value is outside the triangle (zero_where_masked): finite
 * (run-time values are assumed so, see above), 0, −inf, or what may be
 * neither finite nor −inf by the program's own making (+inf from −(−inf),
 * a NaN from 0·−inf, an infinite constant): never taken for 0 in a product. */
typedef enum Outside { OUT_ANY, OUT_ZERO, OUT_NEG_INF, OUT_WILD } Outside;

/* A value that is x or y: x when they agree; finite when both are (0 or
 * finite); else not known to be finite. */
static Outside either(Outside x, Outside y)
{
    if (x == y)
        return x;
    return (x == OUT_ANY || x == OUT_ZERO) && (y == OUT_ANY || y == OUT_ZERO) ? OUT_ANY : OUT_WILD;
}

static bool finite_out(Outside x) { return x == OUT_ANY || x == OUT_ZERO; }

/* What op makes of a, b and c beyond the facts below: finite from finite
 * values, 0 included, for an op that keeps them so (OPF_FINITE); for any
 * other (log, rsqrt, a division, a power) only from finite values that are
 * not 0 by the program's making; else not known.  Read from the op table
 * and every operand, so that an op no fact names (a new one) is read by its
 * row, not by a switch's default that took two operands. */
static Outside made(IrOp op, Outside a, Outside b, Outside c)
{
    bool ok = ir_ops[op].flags & OPF_FINITE ? finite_out(a) && finite_out(b) && finite_out(c)
                                           : a == OUT_ANY && b == OUT_ANY && c == OUT_ANY;
    return ok ? OUT_ANY : OUT_WILD;
}

/* What the ops of a causal softmax and its gradient make outside the
 * triangle beyond `made`, a fact a row: op of operands a and b (OUT_ANY for
 * one that is absent) is `is`; a row marked `exps` holds only when b is a
 * row's sum of exponentials (sum_of_exps).  Of an op or operands no row
 * names, what made says. */
typedef struct OutFact {
    IrOp    op;
    Outside a, b; /* the operands' */
    Outside is;   /* the result's */
    bool    exps; /* only when b is the row's sum of a, its exponentials */
} OutFact;

static const OutFact out_facts[] = {
    {IR_MUL, OUT_ZERO, OUT_ZERO, OUT_ZERO, false},       /* 0 · finite = 0 */
    {IR_MUL, OUT_ZERO, OUT_ANY, OUT_ZERO, false},
    {IR_MUL, OUT_ANY, OUT_ZERO, OUT_ZERO, false},
    {IR_DIV, OUT_ZERO, OUT_ANY, OUT_ZERO, true},         /* 0 / the sum of its own exps = 0 */
    {IR_ADD, OUT_ZERO, OUT_ZERO, OUT_ZERO, false},
    {IR_SUB, OUT_ZERO, OUT_ZERO, OUT_ZERO, false},
    {IR_SUB, OUT_NEG_INF, OUT_ANY, OUT_NEG_INF, false},  /* −inf − finite = −inf */
    {IR_EXP, OUT_NEG_INF, OUT_ANY, OUT_ZERO, false},
    {IR_NEG, OUT_ZERO, OUT_ANY, OUT_ZERO, false},
    {IR_STOP_GRAD, OUT_ZERO, OUT_ANY, OUT_ZERO, false},  /* x itself */
    {IR_STOP_GRAD, OUT_NEG_INF, OUT_ANY, OUT_NEG_INF, false},
    {IR_RMAX, OUT_NEG_INF, OUT_ANY, OUT_ANY, false},     /* every row keeps its diagonal */
};

/* Whether node m is a constant mask kept(i, j) = q[i] >= k[j], q [T, 1]
 * and k [T'] constant tensors, that keeps exactly j <= i + d in every row i
 * (then *d), d >= 0: k increasing, so that a row keeps a prefix, and each
 * row i's prefix i + d + 1 long (or all of it).  Linear in T (a long
 * context's T is 16,384). */
static bool causal_mask(const IrGraph *g, int m, int64_t *d)
{
    const IrNode *n = &g->nodes[m];
    if (n->op != IR_GE || n->shape.rank != 2)
        return false;
    const IrNode *qn = &g->nodes[n->in[0]], *kn = &g->nodes[n->in[1]];
    if (qn->op != IR_TENSOR || kn->op != IR_TENSOR || qn->shape.rank != 2 || qn->shape.dim[1] != 1 || kn->shape.rank != 1)
        return false;
    const double *q = qn->a.data, *k = kn->a.data;
    int64_t rows = qn->shape.dim[0], cols = kn->shape.dim[0];
    for (int64_t j = 1; j < cols; j++)
        if (!(k[j] > k[j - 1]))
            return false;
    int64_t kept0 = 0;  /* row 0 keeps [0, kept0) */
    while (kept0 < cols && q[0] >= k[kept0])
        kept0++;
    if (kept0 == 0)
        return false;
    *d = kept0 - 1;
    for (int64_t i = 0; i < rows; i++) {
        int64_t last = i + *d < cols - 1 ? i + *d : cols - 1;  /* the last kept column */
        if (!(q[i] >= k[last]) || (last + 1 < cols && q[i] >= k[last + 1]))
            return false;
    }
    return true;
}

/* The operand of fused_rows node r that is a causal mask of its last two
 * axes (the mask's dims are r's), or -1; *d its offset. */
static int mask_operand(const IrGraph *g, int r, int64_t *d)
{
    const IrNode *n = &g->nodes[r];
    if (n->op != IR_FUSED_ROWS || n->shape.rank < 2)
        return -1;
    for (int k = 0; k < n->nin; k++) {
        const IrShape *s = &g->nodes[n->in[k]].shape;
        if (s->rank == 2 && s->dim[0] == n->shape.dim[n->shape.rank - 2] && s->dim[1] == n->shape.dim[n->shape.rank - 1]
            && causal_mask(g, n->in[k], d))
            return k;
    }
    return -1;
}

/* Whether value b of program p is the row's sum of the exponentials in
 * value a, the numerator: a softmax's e / sum(e).  Then a 0 past the mask
 * divided by it is 0 whenever the row's kept entries are numbers: were the
 * sum 0, every kept e / sum would be 0/0 = NaN too, and the row's products
 * NaN with or without the terms past the mask.  A divisor summed from other
 * exponentials may be 0 where the numerator's kept entries are not (e/s
 * with s = sum(exp(y)) of another operand: 0/0 = NaN past the mask, which
 * the interpreter keeps). */
static bool sum_of_exps(const IrProgram *p, int a, int b)
{
    if (b < p->nin || !(ir_ops[p->code[b - p->nin].op].flags & OPF_ADDS))
        return false;
    int e = p->code[b - p->nin].a;
    return e == a && e >= p->nin && p->code[e - p->nin].op == IR_EXP;
}

static Outside const_out(double f) { return f == 0 ? OUT_ZERO : f == -INFINITY ? OUT_NEG_INF : isfinite(f) ? OUT_ANY : OUT_WILD; }

/* What instruction `in` of program p makes of its operands' values
 * outside the triangle (out): a fact's, or made's. */
static Outside instr_out(const IrProgram *p, const IrInstr *in, const Outside *out)
{
    Outside a = in->a >= 0 ? out[in->a] : OUT_ANY, b = in->b >= 0 ? out[in->b] : OUT_ANY, c = in->c >= 0 ? out[in->c] : OUT_ANY;
    for (size_t k = 0; k < sizeof out_facts / sizeof *out_facts; k++) {
        const OutFact *f = &out_facts[k];
        if (f->op == in->op && f->a == a && f->b == b && (!f->exps || sum_of_exps(p, in->a, in->b)))
            return f->is;
    }
    return made(in->op, a, b, c);
}

/* out[v] for each value of r's program: 0 or −inf outside the triangle of
 * the mask (value mk), given which operands are known 0 there (zero[node],
 * the triangle's offset d + 1, 0: not known). */
static void zero_where_masked(const IrGraph *g, int r, int mk, int64_t d, const int64_t *zero, Outside *out)
{
    const IrNode *n = &g->nodes[r];
    const IrProgram *p = n->a.prog;
    for (int k = 0; k < p->nin; k++)  /* an operand broadcast along the rows is not 0 where r's mask is */
        out[k] = zero[n->in[k]] == d + 1 && ir_shape_equal(&g->nodes[n->in[k]].shape, &n->shape) ? OUT_ZERO : OUT_ANY;
    for (int i = 0; i < p->n; i++) {
        const IrInstr *in = &p->code[i];
        int side = ir_past_mask_side(in, mk);
        if (side >= 0)
            out[p->nin + i] = out[side];
        else if (in->op == IR_CONST)  /* a program's only leaf */
            out[p->nin + i] = const_out(in->f);
        else if (in->op == IR_SELECT)  /* on another condition than the mask: either side */
            out[p->nin + i] = either(out[in->b], out[in->c]);
        else
            out[p->nin + i] = instr_out(p, in, out);
    }
}

/* What a value owes to operand x's entries outside the triangle, which a
 * tri_c product leaves 0 (reads_inside): nothing; them through ops finite
 * at 0 (OPF_FINITE), so that a product with a 0 there is 0; or them through
 * any other (rsqrt of a 0 left there is inf, and 0·inf no 0). */
enum { TAINT_NONE, TAINT_FINITE, TAINT_ANY };

static unsigned char max2(unsigned char x, unsigned char y) { return x > y ? x : y; }

/* Whether r's result depends on operand value x only inside the triangle:
 * x's entries outside it reach only a select on the mask's discarded side,
 * or a product with a value 0 there (out) through ops finite at 0, never a
 * reduction (which would carry them into the row's other entries) nor the
 * result. */
static bool reads_inside(const IrProgram *p, int x, int mk, const Outside *out, unsigned char *taint)
{
    for (int k = 0; k < p->nin; k++)
        taint[k] = k == x ? TAINT_FINITE : TAINT_NONE;
    for (int i = 0; i < p->n; i++) {
        const IrInstr *in = &p->code[i];
        unsigned char a = in->a >= 0 ? taint[in->a] : 0, b = in->b >= 0 ? taint[in->b] : 0, c = in->c >= 0 ? taint[in->c] : 0;
        unsigned char t;
        int side = ir_past_mask_side(in, mk);
        if (side >= 0) {
            t = taint[side];
        } else if (ir_ops[in->op].flags & OPF_REDUCTION) {
            if (a)
                return false;
            t = TAINT_NONE;
        } else if (in->op == IR_SELECT) {  /* on another condition: x's entries would pick the side */
            if (a)
                return false;
            t = max2(b, c);
        } else if (in->op == IR_MUL) {  /* 0 · a finite value is 0 */
            t = max2(a == TAINT_FINITE && out[in->b] == OUT_ZERO ? TAINT_NONE : a,
                     b == TAINT_FINITE && out[in->a] == OUT_ZERO ? TAINT_NONE : b);
        } else {
            t = max2(max2(a, b), c);
            if (t && !(ir_ops[in->op].flags & OPF_FINITE))
                t = TAINT_ANY;
        }
        taint[p->nin + i] = t;
    }
    return !taint[p->nin + p->n - 1];
}

/* For each node, what the triangle knows of it: zero[i] = d + 1 when
 * fused_rows i is 0 outside a triangle of offset d; inside[i] = d + 1 when
 * matmul i is read only inside one (by every reader), -1 when some reader
 * reads it all; 0: nothing known. */
typedef struct Tri {
    int64_t *zero, *inside;
} Tri;

/* Whether fused_rows r (mask operand mk) may stop each row at its mask
 * (ir_rows_tri_mask): its result is whole rows, one value per row past the
 * mask, and so is every reduction's operand but a sum's (or mean's) of
 * values 0 there (out, copied into zero for ir_rows_stop_error, the shape
 * rule's own test), whose terms it skips: +0 + ±0 = +0 and x + ±0 = x, so
 * a sum that starts at +0 skips them to the same bits. */
static bool rows_stop(const IrGraph *g, int r, int mk, const Outside *out, bool *fixed, bool *zero)
{
    const IrProgram *p = g->nodes[r].a.prog;
    for (int k = 0; k < p->nin + p->n; k++)
        zero[k] = out[k] == OUT_ZERO;
    return ir_rows_stop_error(g, &g->nodes[r], mk, zero, fixed) == NULL;
}

/* Records what fused_rows r says of itself and of its operands, and marks
 * it to stop its rows at the mask when it may. */
static int look_at_rows(IrGraph *g, int r, Tri *t, Outside *out, unsigned char *taint, bool *fixed, bool *zero)
{
    int64_t d;
    int mk = mask_operand(g, r, &d);
    IrNode *n = &g->nodes[r];
    if (mk < 0)
        return 0;
    zero_where_masked(g, r, mk, d, t->zero, out);
    bool stop = rows_stop(g, r, mk, out, fixed, zero);
    if (stop)
        ir_rows_set_tri(&n->a, mk, d);
    const IrProgram *p = n->a.prog;
    if (out[p->nin + p->n - 1] == OUT_ZERO)
        t->zero[r] = d + 1;
    for (int k = 0; k < n->nin; k++) {
        int x = n->in[k];
        if (k == mk || g->nodes[x].op != IR_MATMUL)
            continue;
        if (!ir_shape_equal(&g->nodes[x].shape, &n->shape) || !reads_inside(p, k, mk, out, taint))
            t->inside[x] = -1;  /* broadcast along the rows, or read outside the triangle */
        else if (t->inside[x] == 0)
            t->inside[x] = d + 1;
        else if (t->inside[x] != d + 1)
            t->inside[x] = -1;
    }
    return stop;
}

/* Whether every reader of node x has recorded that it reads x only inside
 * the triangle: a reader that is not such a fused_rows reads all of it. */
static bool all_readers_inside(const IrGraph *g, const IrUsers *u, int x)
{
    if (u->is_output[x])
        return false;
    for (int e = u->first[x]; e >= 0; e = u->next[e])
        if (g->nodes[u->node[e]].op != IR_FUSED_ROWS || mask_operand(g, u->node[e], &(int64_t){0}) < 0)
            return false;
    return true;
}

/* The triangle for plain matmul i, as i[7] would hold it, or 0. */
static int64_t tri_of(const IrGraph *g, const IrUsers *u, const Tri *t, int i)
{
    const IrNode *n = &g->nodes[i];
    if (n->op != IR_MATMUL || ir_mm_lead(n) || ir_mm_patches(n) || ir_matmul_folds(g, n) || ir_mm_tri(n))
        return 0;
    IrAttr a = {0};
    if (t->inside[i] > 0 && all_readers_inside(g, u, i)) {
        ir_mm_set_tri(&a, IR_MM_TRI_C, t->inside[i] - 1);
        return a.i[7];
    }
    int64_t z = t->zero[n->in[0]];  /* A is 0 outside its last two axes' triangle: op(A)'s rows are A's, or its columns */
    if (z == 0)
        return 0;
    ir_mm_set_tri(&a, ir_mm_ta(n) ? IR_MM_TRI_A_UPPER : IR_MM_TRI_A_LOWER, z - 1);
    return a.i[7];
}

int pass_triangle(IrGraph *g)
{
    int n = g->n, most = 1;
    for (int i = 0; i < n; i++)
        if (g->nodes[i].op == IR_FUSED_ROWS) {
            const IrProgram *p = g->nodes[i].a.prog;
            most = p->nin + p->n > most ? p->nin + p->n : most;
        }
    Tri t = {ARENA_ARRAY(g->arena, int64_t, n), ARENA_ARRAY(g->arena, int64_t, n)};
    Outside *out = ARENA_ARRAY(g->arena, Outside, most);
    unsigned char *taint = ARENA_ARRAY(g->arena, unsigned char, most);
    bool *fixed = ARENA_ARRAY(g->arena, bool, most), *zero = ARENA_ARRAY(g->arena, bool, most);
    int changed = 0;
    for (int i = 0; i < n; i++)
        changed += look_at_rows(g, i, &t, out, taint, fixed, zero);
    IrUsers users;
    ir_users(g, &users);
    for (int i = 0; i < n; i++) {
        int64_t tri = tri_of(g, &users, &t, i);
        if (tri) {
            g->nodes[i].a.i[7] = tri;
            changed++;
        }
    }
    return changed;
}
