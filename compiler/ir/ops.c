/* ops.c — the op table (rows in ops.def), shape rules and the scalar
 * functions of elementwise ops. */
#include "ir_internal.h"

#include <math.h>
#include <string.h>

const IrOpInfo ir_ops[IR_OP_COUNT] = {
#define OP(id, nm, ar, fl, sh, gr, ru, ev, sc) \
    [IR_##id] = {.name = nm, .arity = ar, .flags = fl, .shape = sh, .grad = gr, .rule = ru, .eval = ev, .scalar = sc},
#include "ops.def"
#undef OP
};

double ir_reduce_start(IrOp op) { return ir_ops[op].flags & OPF_MAXES ? -INFINITY : 0; }

/* ---- scalar functions ---------------------------------------------------------- */

double sc_neg(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return -a; }
double sc_exp(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return exp(a); }
double sc_log(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return log(a); }
double sc_sqrt(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return sqrt(a); }
double sc_rsqrt(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return 1.0 / sqrt(a); }
double sc_tanh(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return tanh(a); }
double sc_erf(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return erf(a); }
double sc_relu(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return a > 0 ? a : 0; }
double sc_sin(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return sin(a); }
double sc_cos(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return cos(a); }
double sc_floor(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return floor(a); }
double sc_pow(double a, double b, double c, double f) { (void)b, (void)c; return pow(a, f); }
double sc_identity(double a, double b, double c, double f) { (void)b, (void)c, (void)f; return a; }
double sc_add(double a, double b, double c, double f) { (void)c, (void)f; return a + b; }
double sc_sub(double a, double b, double c, double f) { (void)c, (void)f; return a - b; }
double sc_mul(double a, double b, double c, double f) { (void)c, (void)f; return a * b; }
double sc_div(double a, double b, double c, double f) { (void)c, (void)f; return a / b; }
double sc_max(double a, double b, double c, double f) { (void)c, (void)f; return a >= b ? a : b; }
double sc_min(double a, double b, double c, double f) { (void)c, (void)f; return a <= b ? a : b; }
double sc_gt(double a, double b, double c, double f) { (void)c, (void)f; return a > b; }
double sc_ge(double a, double b, double c, double f) { (void)c, (void)f; return a >= b; }
double sc_eq(double a, double b, double c, double f) { (void)c, (void)f; return a == b; }
double sc_select(double a, double b, double c, double f) { (void)f; return a != 0 ? b : c; }

/* sigmoid without overflow for large |a| */
double sc_sigmoid(double a, double b, double c, double f)
{
    (void)b, (void)c, (void)f;
    if (a >= 0)
        return 1.0 / (1.0 + exp(-a));
    double e = exp(a);
    return e / (1.0 + e);
}

/* ---- shapes -------------------------------------------------------------------- */

static const IrShape *in_shape(const IrGraph *g, const IrNode *n, int k) { return &g->nodes[n->in[k]].shape; }
static IrType in_type(const IrGraph *g, const IrNode *n, int k) { return g->nodes[n->in[k]].type; }

int ir_broadcast_shapes(const IrShape *a, const IrShape *b, IrShape *out)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    IrShape r = {.rank = rank};
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return -1;
        r.dim[i] = da == 1 ? db : da;
    }
    /* The batch may only lead. */
    for (int i = 1; i < rank; i++)
        if (r.dim[i] == IR_BATCH)
            return -1;
    *out = r;
    return 0;
}

/* INPUT, TENSOR, RANDOM_MASK: the shape the builder gives (attr shape) */
const char *shp_leaf(const IrGraph *g, IrNode *n)
{
    (void)g;
    n->shape = n->a.shape;
    for (int i = 1; i < n->shape.rank; i++)
        if (n->shape.dim[i] == IR_BATCH)
            return "the batch may only be dimension 0";
    return NULL;
}

const char *shp_scalar(const IrGraph *g, IrNode *n)
{
    n->shape = (IrShape){0};
    n->type = g->ftype;
    return NULL;
}

const char *shp_ew(const IrGraph *g, IrNode *n)
{
    IrShape s = *in_shape(g, n, 0);
    for (int k = 0; k < n->nin; k++) {
        if (in_type(g, n, k) == IR_I32)
            return "elementwise operands must be real";
        if (k && ir_broadcast_shapes(&s, in_shape(g, n, k), &s) != 0)
            return "operands do not broadcast";
    }
    n->shape = s;
    n->type = g->ftype;
    return NULL;
}

const char *shp_reduce(const IrGraph *g, IrNode *n)
{
    IrShape s = *in_shape(g, n, 0);
    uint64_t axes = (uint64_t)n->a.i[0];
    if (axes == 0 || axes >> s.rank)
        return "reduction axes out of range";
    for (int i = 0; i < s.rank; i++)
        if (axes >> i & 1)
            s.dim[i] = 1;
    n->shape = s;
    n->type = g->ftype;
    return NULL;
}

const char *shp_reduce_last(const IrGraph *g, IrNode *n)
{
    IrShape s = *in_shape(g, n, 0);
    if (s.rank == 0)
        return "needs at least one axis";
    s.dim[s.rank - 1] = 1;
    n->a.i[0] = (int64_t)1 << (s.rank - 1);
    n->shape = s;
    n->type = g->ftype;
    return NULL;
}

/* shp_reduce_last, with the result an i32 index */
const char *shp_argmax(const IrGraph *g, IrNode *n)
{
    const char *why = shp_reduce_last(g, n);
    n->type = IR_I32;
    return why;
}

static int64_t static_elems(const IrShape *s, bool *batched)
{
    int64_t e = 1;
    *batched = false;
    for (int i = 0; i < s->rank; i++) {
        if (s->dim[i] == IR_BATCH)
            *batched = true;
        else
            e *= s->dim[i];
    }
    return e;
}

const char *shp_reshape(const IrGraph *g, IrNode *n)
{
    bool b1, b2;
    int64_t e1 = static_elems(in_shape(g, n, 0), &b1), e2 = static_elems(&n->a.shape, &b2);
    if (e1 != e2 || b1 != b2)
        return "reshape changes the number of elements";
    if (b2 && n->a.shape.dim[0] != IR_BATCH)
        return "the batch must stay dimension 0";
    n->shape = n->a.shape;
    n->type = in_type(g, n, 0);
    return NULL;
}

const char *shp_permute(const IrGraph *g, IrNode *n)
{
    const IrShape *s = in_shape(g, n, 0);
    IrShape r = {.rank = s->rank};
    unsigned seen = 0;
    for (int i = 0; i < s->rank; i++) {
        int64_t p = n->a.i[i];
        if (p < 0 || p >= s->rank || (seen >> p & 1))
            return "not a permutation";
        seen |= 1u << p;
        r.dim[i] = s->dim[p];
    }
    if (s->rank && s->dim[0] == IR_BATCH && n->a.i[0] != 0)
        return "the batch must stay dimension 0";
    n->shape = r;
    n->type = in_type(g, n, 0);
    return NULL;
}

const char *shp_broadcast(const IrGraph *g, IrNode *n)
{
    IrShape r;
    if (ir_broadcast_shapes(in_shape(g, n, 0), &n->a.shape, &r) != 0 || !ir_shape_equal(&r, &n->a.shape))
        return "cannot broadcast to that shape";
    n->shape = r;
    n->type = in_type(g, n, 0);
    return NULL;
}

const char *shp_slice(const IrGraph *g, IrNode *n)
{
    IrShape s = *in_shape(g, n, 0);
    int64_t ax = n->a.i[0], start = n->a.i[1], len = n->a.i[2];
    if (ax < 0 || ax >= s.rank || s.dim[ax] == IR_BATCH || start < 0 || len < 1 || start + len > s.dim[ax])
        return "slice out of range";
    s.dim[ax] = len;
    n->shape = s;
    n->type = in_type(g, n, 0);
    return NULL;
}

const char *shp_pad(const IrGraph *g, IrNode *n)
{
    IrShape s = *in_shape(g, n, 0);
    int64_t ax = n->a.i[0];
    if (ax < 0 || ax >= s.rank || s.dim[ax] == IR_BATCH || n->a.i[1] < 0 || n->a.i[2] < 0)
        return "pad out of range";
    s.dim[ax] += n->a.i[1] + n->a.i[2];
    n->shape = s;
    n->type = in_type(g, n, 0);
    return NULL;
}

const char *shp_concat(const IrGraph *g, IrNode *n)
{
    IrShape a = *in_shape(g, n, 0);
    const IrShape *b = in_shape(g, n, 1);
    int64_t ax = n->a.i[0];
    if (a.rank != b->rank || ax < 0 || ax >= a.rank || a.dim[ax] == IR_BATCH)
        return "concat axis out of range";
    for (int i = 0; i < a.rank; i++)
        if (i != ax && a.dim[i] != b->dim[i])
            return "concat operands differ off the axis";
    if (in_type(g, n, 0) != in_type(g, n, 1))
        return "concat operands differ in type";
    a.dim[ax] += b->dim[ax];
    n->shape = a;
    n->type = in_type(g, n, 0);
    return NULL;
}

const char *shp_cast(const IrGraph *g, IrNode *n)
{
    if (in_type(g, n, 0) != IR_I32)
        return "cast takes labels";
    n->shape = *in_shape(g, n, 0);
    n->type = g->ftype;
    return NULL;
}

/* [..., n, k] x [..., k, m] with transposes; leading axes broadcast.  With
 * lead, a [L..., k, n] (ta) and b [L..., k, m] share their leading axes L,
 * which join the contraction: the result is [n, m]. */
static const char *matmul_shape(const IrShape *a, const IrShape *b, bool ta, bool tb, bool joined, IrShape *out)
{
    if (a->rank < 2 || b->rank < 2)
        return "matmul needs two axes";
    if (joined) {
        if (!ta || tb || a->rank != b->rank || a->rank < 3)
            return "matmul lead needs ta, no tb and operands with the same leading axes";
        for (int i = 0; i < a->rank - 1; i++)
            if (a->dim[i] != b->dim[i])
                return "matmul lead operands differ in their leading axes or k";
        *out = (IrShape){2, {a->dim[a->rank - 1], b->dim[b->rank - 1]}};
        return NULL;
    }
    int64_t n = a->dim[a->rank - (ta ? 1 : 2)], k = a->dim[a->rank - (ta ? 2 : 1)];
    int64_t k2 = b->dim[b->rank - (tb ? 1 : 2)], m = b->dim[b->rank - (tb ? 2 : 1)];
    if (k != k2)
        return "matmul inner dimensions differ";  /* contracting over the batch is allowed */
    IrShape la = {.rank = a->rank - 2}, lb = {.rank = b->rank - 2}, lead;
    memcpy(la.dim, a->dim, sizeof(int64_t) * (size_t)la.rank);
    memcpy(lb.dim, b->dim, sizeof(int64_t) * (size_t)lb.rank);
    if (ir_broadcast_shapes(&la, &lb, &lead) != 0)
        return "matmul leading axes do not broadcast";
    if (lead.rank + 2 > IR_MAX_RANK)
        return "matmul result has too many axes";
    lead.dim[lead.rank++] = n;
    lead.dim[lead.rank++] = m;
    for (int i = 1; i < lead.rank; i++)
        if (lead.dim[i] == IR_BATCH)
            return "matmul would move the batch off dimension 0";
    *out = lead;
    return NULL;
}

/* Operand k of a matmul as it multiplies: the operand, or, when the matmul
 * reads it as patches of an image (ir_mm_patches_operand, passes/implicit.c),
 * the rows of those patches, attr shape. */
const IrShape *ir_matmul_operand(const IrGraph *g, const IrNode *n, int k)
{
    return ir_mm_patches_operand(n) == k ? &n->a.shape : in_shape(g, n, k);
}

/* x·W with W one matrix and x batched over leading axes: the rows of all
 * of x's (and C's) leading axes make one matrix, read and written in place
 * (codegen's fold; the one matrix a product read as patches has, too). */
bool ir_matmul_folds(const IrGraph *g, const IrNode *n)
{
    return !ir_mm_ta(n) && ir_matmul_operand(g, n, 1)->rank == 2 && n->shape.rank > 2;
}

static const char *window_geometry(const IrShape *x, const IrWindow *w, bool pooling);
static IrShape windowed(const IrShape *x, const IrWindow *w, int64_t per_pixel);

/* An image read as patches: the window (attr win) must fit it, and the
 * rows (attr shape) hold its patches, kh·kw·C wide. */
static const char *implicit_patches_shape(const IrGraph *g, const IrNode *n)
{
    if (!ir_mm_patches(n))
        return NULL;
    if (ir_mm_patches(n) != IR_MM_PATCHES_A && ir_mm_patches(n) != IR_MM_PATCHES_B)
        return "matmul reads patches of operand 1 or 2 only";
    const IrShape *x = in_shape(g, n, ir_mm_patches_operand(n)), *rows = &n->a.shape;
    IrWindow w = ir_mm_window(n);
    const char *why = window_geometry(x, &w, false);
    if (why)
        return arena_printf(g->arena, "the image read as patches %s", why);
    if (rows->rank < 2)
        return "matmul patches: the rows are not a matrix";
    IrShape p = windowed(x, &w, ir_window_taps(&w) * x->dim[x->rank - 1]);
    if (rows->dim[rows->rank - 1] != p.dim[p.rank - 1] || ir_elems(rows, 1) != ir_elems(&p, 1)
        || ir_elems(rows, 2) != ir_elems(&p, 2))
        return "matmul patches: the rows are not the image's patches";
    return NULL;
}

/* A matmul's (and matmul_epi's) type and shape, an operand read as it is
 * or as patches of an image. */
static const char *matmul_result(const IrGraph *g, IrNode *n)
{
    n->type = g->ftype;
    const char *why = implicit_patches_shape(g, n);
    if (why)
        return why;
    return matmul_shape(ir_matmul_operand(g, n, 0), ir_matmul_operand(g, n, 1), n->a.i[0], n->a.i[1], n->a.i[2],
                        &n->shape);
}

/* A triangle (ir_mm_tri, passes/triangle.c) is on a plain product of
 * matrices only: not a lead one nor one whose rows fold into one matrix
 * (their rows are not one matrix's), not one read as patches, nor one with
 * an epilogue (C's skipped entries are 0, not epilogue(0)). */
static const char *tri_check(const IrGraph *g, const IrNode *n)
{
    if (!ir_mm_tri(n))
        return NULL;
    if (n->op != IR_MATMUL || ir_mm_lead(n) || ir_mm_patches(n) || ir_matmul_folds(g, n))
        return "a triangle is for a plain matmul of matrices: not lead, folded or patches";
    return NULL;
}

const char *shp_matmul(const IrGraph *g, IrNode *n)
{
    if (in_type(g, n, 0) == IR_I32 || in_type(g, n, 1) == IR_I32)
        return "matmul operands must be real";
    const char *why = matmul_result(g, n);  /* first: tri_check's fold test reads the result's shape */
    return why ? why : tri_check(g, n);
}

const char *shp_gather(const IrGraph *g, IrNode *n)
{
    const IrShape *t = in_shape(g, n, 0), *ids = in_shape(g, n, 1);
    if (t->rank != 2 || in_type(g, n, 1) != IR_I32 || ids->rank + 1 > IR_MAX_RANK)
        return "gather takes a [V, D] table and i32 ids";
    IrShape r = *ids;
    r.dim[r.rank++] = t->dim[1];
    n->shape = r;
    n->type = in_type(g, n, 0);
    return NULL;
}

const char *shp_scatter_add(const IrGraph *g, IrNode *n)
{
    const IrShape *rows = in_shape(g, n, 0), *ids = in_shape(g, n, 1);
    if (in_type(g, n, 1) != IR_I32 || rows->rank != ids->rank + 1 || n->a.i[0] < 1)
        return "scatter_add takes rows [..., D] and i32 ids [...]";
    for (int i = 0; i < ids->rank; i++)
        if (rows->dim[i] != ids->dim[i])
            return "scatter_add rows and ids differ";
    n->shape = (IrShape){2, {n->a.i[0], rows->dim[rows->rank - 1]}};
    n->type = in_type(g, n, 0);
    return NULL;
}

const char *shp_one_hot(const IrGraph *g, IrNode *n)
{
    const IrShape *ids = in_shape(g, n, 0);
    if (in_type(g, n, 0) != IR_I32 || ids->rank + 1 > IR_MAX_RANK || n->a.i[0] < 1)
        return "one_hot takes i32 ids";
    IrShape r = *ids;
    r.dim[r.rank++] = n->a.i[0];
    n->shape = r;
    n->type = g->ftype;
    return NULL;
}

int64_t ir_window_out(int64_t in, int64_t k, int64_t s, int64_t p) { return (in + 2 * p - k) / s + 1; }

/* Whether window w fits an image of h x wd pixels on both axes, and
 * (pooling) every window holds a pixel: padding < k. */
static bool window_fits(const IrWindow *w, int64_t h, int64_t wd, bool pooling)
{
    int64_t in[2] = {h, wd};
    for (int d = 0; d < 2; d++)
        if (w->k[d] < 1 || w->stride[d] < 1 || w->pad[d] < 0 || (pooling && w->pad[d] >= w->k[d])
            || in[d] + 2 * w->pad[d] < w->k[d])
            return false;
    return true;
}

const char *shp_windows(const IrGraph *g, IrNode *n)
{
    const IrShape *x = in_shape(g, n, 0);
    const IrWindow *w = &n->a.win;
    if (x->rank != 4 || !window_fits(w, x->dim[2], x->dim[3], false))
        return "windows takes [B, C, H, W] and a window that fits";
    n->shape = (IrShape){5, {x->dim[0], x->dim[1], ir_window_out(x->dim[2], w->k[0], w->stride[0], w->pad[0]),
                             ir_window_out(x->dim[3], w->k[1], w->stride[1], w->pad[1]), ir_window_taps(w)}};
    n->type = in_type(g, n, 0);
    return NULL;
}

const char *shp_windows_t(const IrGraph *g, IrNode *n)
{
    const IrShape *ws = in_shape(g, n, 0), *x = &n->a.shape;
    const IrWindow *w = &n->a.win;
    if (x->rank != 4 || ws->rank != 5 || !window_fits(w, x->dim[2], x->dim[3], false) || ws->dim[4] != ir_window_taps(w)
        || ws->dim[2] != ir_window_out(x->dim[2], w->k[0], w->stride[0], w->pad[0])
        || ws->dim[3] != ir_window_out(x->dim[3], w->k[1], w->stride[1], w->pad[1]) || ws->dim[1] != x->dim[1]
        || ws->dim[0] != x->dim[0])
        return "windows_t shapes do not match";
    n->shape = *x;
    n->type = in_type(g, n, 0);
    return NULL;
}

/* Channels-last windows: x [..., H, W, C] (any leading axes); the
 * window fits, and (pooling) every window holds a pixel: padding < k. */
static const char *window_geometry(const IrShape *x, const IrWindow *w, bool pooling)
{
    if (x->rank < 3 || !window_fits(w, x->dim[x->rank - 3], x->dim[x->rank - 2], pooling))
        return "takes [..., H, W, C] and a window that fits";
    return NULL;
}

/* [..., H, W, C] -> [..., Ho, Wo, per_pixel] */
static IrShape windowed(const IrShape *x, const IrWindow *w, int64_t per_pixel)
{
    IrShape r = *x;
    for (int d = 0; d < 2; d++)
        r.dim[r.rank - 3 + d] = ir_window_out(x->dim[x->rank - 3 + d], w->k[d], w->stride[d], w->pad[d]);
    r.dim[r.rank - 1] = per_pixel;
    return r;
}

const char *shp_patches(const IrGraph *g, IrNode *n)
{
    const IrShape *x = in_shape(g, n, 0);
    if (window_geometry(x, &n->a.win, false))
        return "patches takes [..., H, W, C] and a window that fits";
    n->shape = windowed(x, &n->a.win, ir_window_taps(&n->a.win) * x->dim[x->rank - 1]);
    n->type = in_type(g, n, 0);
    return NULL;
}

const char *shp_patches_t(const IrGraph *g, IrNode *n)
{
    const IrShape *w = in_shape(g, n, 0), *x = &n->a.shape;
    if (window_geometry(x, &n->a.win, false) || w->rank != x->rank)
        return "patches_t shapes do not match";
    IrShape want = windowed(x, &n->a.win, ir_window_taps(&n->a.win) * x->dim[x->rank - 1]);
    if (!ir_shape_equal(&want, w))
        return "patches_t shapes do not match";
    n->shape = *x;
    n->type = in_type(g, n, 0);
    return NULL;
}

const char *shp_pool_max(const IrGraph *g, IrNode *n)
{
    const IrShape *x = in_shape(g, n, 0);
    if (window_geometry(x, &n->a.win, true))
        return "pool_max takes [..., H, W, C] and a window that fits, padding < k";
    if (!ir_shape_equal(x, in_shape(g, n, 1)))
        return "pool_max operands differ in shape";
    n->shape = windowed(x, &n->a.win, x->dim[x->rank - 1]);
    n->type = in_type(g, n, 1);
    return NULL;
}

/* A backward pooling's x (operand 0) and y (1): 1 when x or the window
 * does not fit, 2 when y is not x pooled, 0 when both hold. */
static int pooled_pair(const IrGraph *g, const IrNode *n)
{
    const IrShape *x = in_shape(g, n, 0);
    if (window_geometry(x, &n->a.win, true))
        return 1;
    IrShape want = windowed(x, &n->a.win, x->dim[x->rank - 1]);
    return ir_shape_equal(&want, in_shape(g, n, 1)) ? 0 : 2;
}

const char *shp_pool_max_t(const IrGraph *g, IrNode *n)
{
    const IrShape *x = in_shape(g, n, 0);
    int bad = pooled_pair(g, n);
    if (bad == 1)
        return "pool_max_t takes [..., H, W, C] and a window that fits, padding < k";
    if (bad == 2)
        return "pool_max_t shapes do not match";
    n->shape = *x;
    n->type = in_type(g, n, 1);
    return NULL;
}

const char *shp_pool_rows_t(const IrGraph *g, IrNode *n)
{
    const IrShape *x = in_shape(g, n, 0), *rows = in_shape(g, n, 2);
    int bad = pooled_pair(g, n);
    if (bad == 1)
        return "pool_rows_t takes [..., H, W, C] and a window that fits, padding < k";
    if (bad == 2 || rows->rank != x->rank - 1 || rows->dim[rows->rank - 2] != x->dim[x->rank - 3] * x->dim[x->rank - 2])
        return "pool_rows_t shapes do not match";
    for (int i = 0; i < rows->rank - 2; i++)
        if (rows->dim[i] != x->dim[i])
            return "pool_rows_t shapes do not match";
    if (ir_window_taps(&n->a.win) * rows->dim[rows->rank - 1] > IR_POOL_ROWS_T_MAX)
        return "window kh·kw times taps T is over 64 (IR_POOL_ROWS_T_MAX)";
    _Static_assert(IR_POOL_ROWS_T_MAX == 64, "the message above names its value");
    n->shape = *rows;
    n->shape.dim[n->shape.rank - 2] = rows->dim[rows->rank - 1] + 1;
    n->shape.dim[n->shape.rank - 1] = x->dim[x->rank - 1];
    n->type = in_type(g, n, 1);
    return NULL;
}

/* POOL_CONV_T: x and y a pooling's pair, w [F·kh·kw, C], the convolution's
 * window (ir_pool_conv_window, stride 1) fitting x with padding < k */
const char *shp_pool_conv_t(const IrGraph *g, IrNode *n)
{
    const IrShape *x = in_shape(g, n, 0), *w = in_shape(g, n, 2);
    int bad = pooled_pair(g, n);
    if (bad == 1)
        return "pool_conv_t takes [..., H, W, F] and a window that fits, padding < k";
    IrWindow cw = ir_pool_conv_window(n);
    int64_t F = x->dim[x->rank - 1];
    if (bad == 2 || w->rank != 2 || !window_fits(&cw, x->dim[x->rank - 3], x->dim[x->rank - 2], true)
        || w->dim[0] != ir_window_taps(&cw) * F)
        return "pool_conv_t shapes do not match";
    int64_t h2 = ir_window_out(x->dim[x->rank - 3], cw.k[0], 1, cw.pad[0]);
    int64_t w2 = ir_window_out(x->dim[x->rank - 2], cw.k[1], 1, cw.pad[1]);
    if (ir_window_taps(&cw) > IR_POOL_CONV_T_TAPS_MAX)
        return "pool_conv_t's convolution has over 24 taps (IR_POOL_CONV_T_TAPS_MAX)";
    _Static_assert(IR_POOL_CONV_T_TAPS_MAX == 24, "the message above names its value");
    n->shape = *x;
    n->shape.rank = x->rank - 1;
    n->shape.dim[n->shape.rank - 2] = h2 * w2;
    n->shape.dim[n->shape.rank - 1] = w->dim[1];
    n->type = in_type(g, n, 1);
    return NULL;
}

int ir_past_mask_side(const IrInstr *in, int mk) { return in->op == IR_SELECT && in->a == mk ? in->c : -1; }

void ir_rows_fixed(const IrGraph *g, const IrNode *n, int mk, bool *fixed)
{
    const IrProgram *p = n->a.prog;
    for (int k = 0; k < p->nin; k++) {
        const IrShape *x = &g->nodes[n->in[k]].shape;
        /* broadcast along the row; in a row of one column, a last axis of 1 is the row */
        fixed[k] = k == mk || x->rank == 0 || (x->dim[x->rank - 1] == 1 && n->a.i[0] > 1);
    }
    for (int k = 0; k < p->n; k++) {
        const IrInstr *in = &p->code[k];
        bool f = true;
        int side = ir_past_mask_side(in, mk);
        if (side >= 0)
            f = fixed[side];
        else if (!(ir_ops[in->op].flags & OPF_REDUCTION))
            for (int q = 0, args[3] = {in->a, in->b, in->c}; q < 3; q++)
                f &= args[q] < 0 || fixed[args[q]];
        fixed[p->nin + k] = f;
    }
}

const char *ir_rows_stop_error(const IrGraph *g, const IrNode *n, int mk, const bool *zero, bool *fixed)
{
    const IrProgram *p = n->a.prog;
    if (n->shape.rank < 1 || n->shape.dim[n->shape.rank - 1] != n->a.i[0])
        return "a rows triangle's result is not whole rows (its last axis the row)";
    if (p->nin + p->n > IR_ROWS_TRI_VALUES_MAX)
        return "a rows triangle's program has over 256 values (IR_ROWS_TRI_VALUES_MAX)";
    _Static_assert(IR_ROWS_TRI_VALUES_MAX == 256, "the message above names its value");
    ir_rows_fixed(g, n, mk, fixed);
    if (!fixed[p->nin + p->n - 1])
        return "a rows triangle's result differs from column to column past the mask";
    for (int k = 0; k < p->n; k++) {
        const IrInstr *in = &p->code[k];
        if (!(ir_ops[in->op].flags & OPF_REDUCTION) || fixed[in->a])
            continue;
        if (!(ir_ops[in->op].flags & OPF_ADDS))
            return "a rows triangle skips past the mask only the terms of a sum or mean";
        if (zero && !zero[in->a])
            return "a rows triangle's sum skips terms that are not 0 past the mask";
    }
    return NULL;
}

/* A fused_rows' causal mask (ir_rows_tri_mask): an operand [T, L] of the
 * result's last two axes, L the row; the result the same past the mask at
 * every column of a row; any reduction of a value that is not, a sum or
 * a mean (what passes/triangle.c checks beyond this: that the mask is
 * causal, and that such a sum's operand is 0 past it). */
static const char *rows_tri_check(const IrGraph *g, const IrNode *n)
{
    int mk = ir_rows_tri_mask(n);
    const IrShape *s = &n->shape;
    if (mk < 0)
        return NULL;
    const IrShape *m = mk < n->nin ? &g->nodes[n->in[mk]].shape : NULL;
    if (n->op != IR_FUSED_ROWS || !m || s->rank < 2 || m->rank != 2 || m->dim[0] != s->dim[s->rank - 2]
        || m->dim[1] != s->dim[s->rank - 1] || ir_rows_tri_offset(n) < 0)
        return "a rows triangle needs a mask [T, L] of a fused_rows' rows and an offset >= 0";
    bool fixed[IR_ROWS_TRI_VALUES_MAX];
    return ir_rows_stop_error(g, n, mk, NULL, fixed);
}

/* Fused nodes carry their result shape from the fusion pass (attr shape). */
const char *shp_fused(const IrGraph *g, IrNode *n)
{
    if (!n->a.prog || n->a.prog->n < 1)
        return "fused node without a program";
    n->shape = n->a.shape;
    n->type = g->ftype;
    return rows_tri_check(g, n);
}

const char *shp_matmul_epi(const IrGraph *g, IrNode *n)
{
    if (!n->a.prog || n->nin < 2)
        return "matmul_epi needs two operands and a program";
    const char *why = matmul_result(g, n);
    return why ? why : tri_check(g, n);
}
