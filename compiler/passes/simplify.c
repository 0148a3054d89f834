/* simplify.c — algebraic simplification; see passes.h.
 *
 * Consumes: a verified graph.  Produces: the graph rewritten in one forward
 * sweep.  Each node either maps to a value already in the new graph (x*1 is
 * x), becomes one new node (two permutes become one) or a few (a softmax's
 * gradient, softmax_grad), or is copied.  Because
 * operands are renamed before a node is looked at, chains collapse in the
 * same sweep: neg(neg(neg(neg x))) is x, and x * (3 - 2) folds to x * 1, then x.
 *
 * A node is only replaced by something of exactly its shape and type, so no
 * user of it notices.  Values that are no longer used (the 1 of x*1, the
 * inner permute) stay; pass_dce removes them.
 *
 * Floating point: x+0 -> x and x*0 -> 0 ignore signed zeros and x = inf/NaN,
 * as every deep learning compiler does; x*1, x/1, x-0, --x are exact; the
 * softmax gradient's rewrite is the same value rounded otherwise.
 */
#include "passes.h"

#include <stdbool.h>
#include <string.h>

typedef struct Simplify {
    const IrGraph *src;
    IrGraph        dst;
    int           *map;   /* src node -> dst node */
} Simplify;

/* If v is a constant broadcast or reshaped any number of times, the CONST
 * node behind it (its value is the same everywhere); otherwise -1. */
static int uniform_const(const IrGraph *g, int v)
{
    while (g->nodes[v].op == IR_BROADCAST || g->nodes[v].op == IR_RESHAPE)
        v = g->nodes[v].in[0];
    return g->nodes[v].op == IR_CONST ? v : -1;
}

static bool is_value(const IrGraph *g, int v, double want)
{
    int c = uniform_const(g, v);
    return c >= 0 && g->nodes[c].a.f == want;
}

/* x, if it can stand for node n: the same shape and type. */
static int same_as(const Simplify *s, const IrNode *n, int x)
{
    const IrNode *d = &s->dst.nodes[x];
    return d->type == n->type && ir_shape_equal(&d->shape, &n->shape) ? x : -1;
}

/* A node of a rewrite of src node i, of whatever shape its rule gives (a
 * part of the rewrite, not its final value): i's location, layer and
 * autodiff provenance carry over, and it counts in i's stage, as ir_copy()
 * does for copies. */
static int emit_part(Simplify *s, int i, IrOp op, const int *in, int nin, const IrAttr *a)
{
    const IrNode *n = &s->src->nodes[i];
    int id = ir_add_like(&s->dst, s->src, i, op, in, nin, a);
    if (id >= 0)
        s->dst.nodes[id].fwd = n->fwd >= 0 ? s->map[n->fwd] : -1;
    return id;
}

/* Appends a new node in place of src node i, as emit_part.  The shape rule
 * runs on a scratch node first so that a rewrite that does not fit (not
 * exactly i's shape and type) returns -1 instead of recording an error. */
static int emit(Simplify *s, int i, IrOp op, const int *in, int nin, const IrAttr *a)
{
    const IrNode *n = &s->src->nodes[i];
    IrNode scratch = {.op = op, .type = s->dst.ftype, .nin = nin, .in = (int *)in, .a = *a};
    if (ir_ops[op].shape(&s->dst, &scratch) || scratch.type != n->type || !ir_shape_equal(&scratch.shape, &n->shape))
        return -1;
    return emit_part(s, i, op, in, nin, a);
}

/* Values of an f32 graph are floats between nodes (interp.h); folding
 * rounds the same way so the folded constant is what the graph computed. */
static double as_stored(const IrGraph *g, double v) { return g->ftype == IR_F32 ? (double)(float)v : v; }

/* An elementwise op whose operands are all constants becomes a constant. */
static int fold(Simplify *s, int i, const int *in)
{
    const IrNode *n = &s->src->nodes[i];
    double v[3] = {0, 0, 0};
    for (int k = 0; k < n->nin; k++) {
        const IrNode *c = &s->dst.nodes[in[k]];
        if (c->op != IR_CONST)
            return -1;
        v[k] = as_stored(&s->dst, c->a.f);
    }
    IrAttr a = {.f = as_stored(&s->dst, ir_ops[n->op].scalar(v[0], v[1], v[2], n->a.f))};
    return emit(s, i, IR_CONST, NULL, 0, &a);
}

/* x*0: zero of n's shape.  Unlike x*1 -> x (which would only trade the
 * multiply for a broadcast) this drops the dependence on x, so it is worth a
 * broadcast when n is larger than the scalar. */
static int zero_like(Simplify *s, int i, int zero)
{
    int c = uniform_const(&s->dst, zero);
    if (same_as(s, &s->src->nodes[i], c) >= 0)
        return c;
    IrAttr a = {.shape = s->src->nodes[i].shape};
    return emit(s, i, IR_BROADCAST, &c, 1, &a);
}

static bool is_identity(const int64_t *perm, int rank)
{
    for (int k = 0; k < rank; k++)
        if (perm[k] != k)
            return false;
    return true;
}

/* permute(permute(y, p), q): result axis k is y's axis p[q[k]]. */
static int permute(Simplify *s, int i, int x)
{
    const IrNode *n = &s->src->nodes[i];
    const IrNode *inner = &s->dst.nodes[x];
    int rank = n->shape.rank;
    if (inner->op != IR_PERMUTE)
        return is_identity(n->a.i, rank) ? same_as(s, n, x) : -1;
    IrAttr a = {0};
    for (int k = 0; k < rank; k++)
        a.i[k] = inner->a.i[n->a.i[k]];
    int y = inner->in[0];
    if (is_identity(a.i, rank))
        return same_as(s, n, y);
    return emit(s, i, IR_PERMUTE, &y, 1, &a);
}

/* reshape(reshape(y)) is one reshape of y, or y itself. */
static int reshape(Simplify *s, int i, int x)
{
    const IrNode *n = &s->src->nodes[i];
    const IrNode *inner = &s->dst.nodes[x];
    if (same_as(s, n, x) >= 0)
        return x;
    if (inner->op != IR_RESHAPE)
        return -1;
    int y = inner->in[0];
    if (same_as(s, n, y) >= 0)
        return y;
    return emit(s, i, IR_RESHAPE, &y, 1, &n->a);
}

/* Operand k of v if v is a node of op, else -1 (also for v = -1). */
static int operand(const IrGraph *d, int v, IrOp op, int k)
{
    return v >= 0 && d->nodes[v].op == op ? d->nodes[v].in[k] : -1;
}

/* The operand of the commutative a·b that is not x, or -1. */
static int other_factor(const IrGraph *d, int v, int x)
{
    if (v < 0 || d->nodes[v].op != IR_MUL)
        return -1;
    const int *in = d->nodes[v].in;
    return in[0] == x ? in[1] : in[1] == x ? in[0] : -1;
}

/* The gradient of a softmax p = e / Z, e = exp(x), Z = sum(e) over some
 * axes, as autodiff builds it from div's and sum's rules:
 *     (g / Z + broadcast(sum(−((g·p) / Z)))) · e
 * is p·(g − broadcast(sum(g·p))), which reads g and p alone.  Fused, the
 * first read x and took its maximum, exponentials and sum again (the GPT's
 * attention backward: rmax, exp, sum and two divisions per element for a
 * kernel whose result needs two multiplies).  Not exact: Z cancels in
 * real arithmetic, not in rounded; the difference is the rounding of the
 * divisions.  n is mul(X, e), factors in either order; -1 unless every
 * node of the pattern is there, with both sums over the same axes. */
static int softmax_grad(Simplify *s, int i, const int *in)
{
    const IrGraph *d = &s->dst;
    for (int k = 0; k < 2; k++) {
        int X = in[k], e = in[1 - k];
        if (d->nodes[e].op != IR_EXP || d->nodes[X].op != IR_ADD)
            continue;
        for (int j = 0; j < 2; j++) {
            int A = d->nodes[X].in[j], Bc = d->nodes[X].in[1 - j];
            int g = operand(d, A, IR_DIV, 0), Z = operand(d, A, IR_DIV, 1);
            int sm = operand(d, Bc, IR_BROADCAST, 0);
            int q = operand(d, operand(d, sm, IR_SUM, 0), IR_NEG, 0);
            int gp = operand(d, q, IR_DIV, 0);
            int p = other_factor(d, gp, g);
            if (g < 0 || operand(d, Z, IR_SUM, 0) != e || sm < 0 || operand(d, q, IR_DIV, 1) != Z || p < 0
                || operand(d, p, IR_DIV, 0) != e || operand(d, p, IR_DIV, 1) != Z
                || memcmp(d->nodes[sm].a.i, d->nodes[Z].a.i, sizeof d->nodes[Z].a.i) != 0)
                continue;
            IrAttr sum_a = d->nodes[sm].a, bc_a = d->nodes[Bc].a, none = {0};
            int sum = emit_part(s, i, IR_SUM, &gp, 1, &sum_a);
            int bc = sum < 0 ? -1 : emit_part(s, i, IR_BROADCAST, &sum, 1, &bc_a);
            int diff = bc < 0 ? -1 : emit_part(s, i, IR_SUB, (int[]){g, bc}, 2, &none);
            return diff < 0 ? -1 : emit(s, i, IR_MUL, (int[]){p, diff}, 2, &s->src->nodes[i].a);
        }
    }
    return -1;
}

/* The value node i simplifies to in dst, or -1 to copy it.  in[] are its
 * operands renamed into dst. */
static int simplify_node(Simplify *s, int i, const int *in)
{
    const IrNode *n = &s->src->nodes[i];
    const IrGraph *d = &s->dst;
    if ((ir_ops[n->op].flags & OPF_ELEMENTWISE) && n->nin > 0) {
        int c = fold(s, i, in);
        if (c >= 0)
            return c;
    }
    switch (n->op) {
    case IR_ADD:
        if (is_value(d, in[1], 0))
            return same_as(s, n, in[0]);
        if (is_value(d, in[0], 0))
            return same_as(s, n, in[1]);
        return -1;
    case IR_SUB:
        return is_value(d, in[1], 0) ? same_as(s, n, in[0]) : -1;
    case IR_MUL:
        if (is_value(d, in[1], 1))
            return same_as(s, n, in[0]);
        if (is_value(d, in[0], 1))
            return same_as(s, n, in[1]);
        if (is_value(d, in[1], 0))
            return zero_like(s, i, in[1]);
        if (is_value(d, in[0], 0))
            return zero_like(s, i, in[0]);
        return softmax_grad(s, i, in);
    case IR_DIV:
        return is_value(d, in[1], 1) ? same_as(s, n, in[0]) : -1;
    case IR_NEG:
        return d->nodes[in[0]].op == IR_NEG ? same_as(s, n, d->nodes[in[0]].in[0]) : -1;
    case IR_PERMUTE:
        return permute(s, i, in[0]);
    case IR_RESHAPE:
        return reshape(s, i, in[0]);
    case IR_BROADCAST:
        return same_as(s, n, in[0]);
    case IR_ALLREDUCE:  /* every rank has the same constant: its weighted mean is itself */
        return uniform_const(d, in[0]) >= 0 ? same_as(s, n, in[0]) : -1;
    default:  /* no rule (constant operands of the elementwise ones were folded above) */
        return -1;
    }
    return -1;
}

int pass_simplify(IrGraph *g)
{
    Simplify s = {.src = g};
    s.map = ir_rewrite_begin(&s.dst, g);
    int maxin = 1;
    for (int i = 0; i < g->n; i++)
        maxin = g->nodes[i].nin > maxin ? g->nodes[i].nin : maxin;
    int *in = ARENA_ARRAY(g->arena, int, maxin);
    int changed = 0;
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++)
            in[k] = s.map[n->in[k]];
        int v = simplify_node(&s, i, in);
        if (v >= 0) {
            s.map[i] = v;
            changed++;
        } else if (!ir_copy_into(&s.dst, g, i, s.map)) {
            return 0;   /* a copy whose rule fails: the graph was not verified; kept, with the reason */
        }
    }
    ir_rewrite_end(g, &s.dst, s.map);
    return changed;
}
