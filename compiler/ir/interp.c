/* interp.c — the reference interpreter: one kernel per op (ops.def's eval
 * column), plain loops over doubles.
 *
 * Consumes an IrGraph at any stage (forward, backward, optimizer, fused) and
 * the values of its inputs; produces every node's value.  It is the oracle
 * that gradients and generated code are checked against, so it favours
 * obviously-right loops over speed: no BLAS, no blocking, sums in index
 * order in double precision.
 *
 * Values.  Node i's value is ev->val[i], ev->len[i] doubles, row-major, with
 * IR_BATCH resolved to ev->batch.  ir_eval_run allocates each result,
 * zeroed, before the node's kernel fills it (result() gives it), then rounds
 * f32 values to float so that storage behaves like f32 while each
 * operation computes in double.  An allocation that fails ends the run with
 * an error (out_of_memory), never an abort: a kernel that allocates scratch
 * checks it and returns.
 *
 * Broadcasting.  Most kernels walk the elements of one shape in row-major
 * order while following the matching element of each operand: a Walk keeps
 * one offset per operand and per-axis strides, 0 along the axes an operand
 * is broadcast on (numpy rules, aligned from the right).
 *
 * Planned mode.  With ev->plan set, every activation (plan->slab[i] ==
 * SLAB_ACT) lives in one arena of doubles at element offset[i] / 4, so
 * values the plan lets share space really do overwrite each other: a plan
 * that reuses memory too early changes the results.  A kernel still computes
 * into its own buffer, copied into the arena when the node is done, so a
 * result may be placed over an operand whose last use is this node.
 */
#include "interp.h"
#include "nnc_runtime.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../passes/passes.h"
#include "ir_internal.h"

/* ---- memory and errors ------------------------------------------------------------ */

/* Records the first error of a run; later ones are consequences. */
static void eval_error(IrEval *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void eval_error(IrEval *ev, const char *fmt, ...)
{
    if (ev->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->error, sizeof ev->error, fmt, ap);
    va_end(ap);
}

/* n x size zeroed bytes, or NULL with the error set: what they are for
 * ("a value of matmul"), at node (-1: none).  The interpreter holds every
 * value of a graph in double, so a model whose compiled step fits may not
 * fit here even past the memory checks' estimate (a matmul's patches are
 * not counted), and a library does not abort: the caller reports it. */
static void *eval_calloc(IrEval *ev, int node, const char *what, size_t n, size_t size)
{
    if (ev->error[0])  /* the run is over: nothing more is made */
        return NULL;
    n = n ? n : 1;
    size = size ? size : 1;
    void *p = ++ev->allocs == ev->fail_at ? NULL : calloc(n, size);
    if (!p) {
        char bytes[32];
        rt_bytes_str(n > (size_t)INT64_MAX / size ? INT64_MAX : (int64_t)(n * size), bytes, sizeof bytes);
        eval_error(ev, "the reference interpreter ran out of memory: %s for %s", bytes, what);
        ev->out_of_memory = true;
        ev->error_node = node;
    }
    return p;
}

/* Scratch of a node's kernel (a walk, a program's values). */
static void *scratch(IrEval *ev, int node, size_t n, size_t size)
{
    return eval_calloc(ev, node, "the scratch of the operation made here", n, size);
}

static const IrNode *node_of(const IrEval *ev, int node) { return &ev->g->nodes[node]; }
static const IrShape *in_shape(const IrEval *ev, int node, int k) { return &ev->g->nodes[node_of(ev, node)->in[k]].shape; }
static const double *in_val(const IrEval *ev, int node, int k) { return ev->val[node_of(ev, node)->in[k]]; }

/* The node's result: ir_elems(shape, batch) zeroed doubles, owned by ev,
 * allocated by ir_eval_run before the kernel runs (so that no kernel meets
 * a failed allocation of its result). */
static double *result(IrEval *ev, int node) { return ev->val[node]; }

/* ---- shapes at run time --------------------------------------------------------------- */

/* The dimensions of s with IR_BATCH replaced by the batch size. */
static void resolve(const IrEval *ev, const IrShape *s, int64_t *dim)
{
    for (int i = 0; i < s->rank; i++)
        dim[i] = s->dim[i] == IR_BATCH ? ev->batch : s->dim[i];
}

static int64_t prod(const int64_t *dim, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= dim[i];
    return p;
}

/* Strides of a [from] operand read at the elements of a [to] result: row-major
 * strides, 0 along axes of size 1 that the result repeats and along missing
 * leading axes.  Returns -1 if [from] does not broadcast to [to]. */
static int bcast_strides(int from_rank, const int64_t *from, int to_rank, const int64_t *to, int64_t *stride)
{
    if (from_rank > to_rank)
        return -1;
    int64_t step = 1;
    for (int i = to_rank - 1; i >= 0; i--) {
        int j = i - (to_rank - from_rank);
        if (j < 0) {
            stride[i] = 0;
            continue;
        }
        if (from[j] == to[i])
            stride[i] = step;
        else if (from[j] == 1)
            stride[i] = 0;
        else
            return -1;
        step *= from[j];
    }
    return 0;
}

/* ---- walking a shape ---------------------------------------------------------------- */

/* The elements of a shape in row-major order, with the offset of the
 * matching element in each of nops operands. */
typedef struct Walk {
    int      rank, nops;
    int64_t  dim[IR_MAX_RANK];
    int64_t  idx[IR_MAX_RANK];   /* the current element's index */
    int64_t (*stride)[IR_MAX_RANK]; /* [nops]: per axis; set by the caller */
    int64_t *off;                /* [nops]: offset of the current element */
} Walk;

/* 0, or -1 with the error set when memory ran out (walk_free it still). */
static int walk_init(IrEval *ev, int node, Walk *w, int rank, const int64_t *dim, int nops)
{
    memset(w, 0, sizeof *w);
    w->rank = rank;
    w->nops = nops;
    if (rank)
        memcpy(w->dim, dim, sizeof(int64_t) * (size_t)rank);
    w->stride = scratch(ev, node, (size_t)nops, sizeof *w->stride);
    w->off = w->stride ? scratch(ev, node, (size_t)nops, sizeof *w->off) : NULL;
    return w->off ? 0 : -1;
}

static void walk_free(Walk *w)
{
    free(w->stride);
    free(w->off);
}

/* Operand k is a value of shape s broadcast to the walk's shape.  Reports an
 * internal error and returns -1 if it does not broadcast. */
static int walk_operand(IrEval *ev, int node, Walk *w, int k, const IrShape *s)
{
    int64_t dim[IR_MAX_RANK];
    resolve(ev, s, dim);
    if (bcast_strides(s->rank, dim, w->rank, w->dim, w->stride[k]) != 0) {
        eval_error(ev, "internal error: node %d: operand %d does not broadcast to the result", node, k);
        return -1;
    }
    return 0;
}

/* Moves to the next element: the last axis fastest. */
static void walk_next(Walk *w)
{
    for (int i = w->rank - 1; i >= 0; i--) {
        w->idx[i]++;
        for (int k = 0; k < w->nops; k++)
            w->off[k] += w->stride[k][i];
        if (w->idx[i] < w->dim[i])
            return;
        for (int k = 0; k < w->nops; k++)
            w->off[k] -= w->stride[k][i] * w->dim[i];
        w->idx[i] = 0;
    }
}

/* ---- fused programs ----------------------------------------------------------------- */

static bool is_row_reduction(const IrInstr *in) { return ir_ops[in->op].flags & OPF_REDUCTION; }

/* Checks a program before running it: values defined before use, ops a
 * kernel can run.  rows: row reductions allowed (FUSED_ROWS). */
static int prog_check(IrEval *ev, int node, const IrProgram *p, int nin, bool rows)
{
    if (!p || p->n < 1 || p->nin != nin) {
        eval_error(ev, "internal error: node %d: program has %d inputs, the node gives %d", node, p ? p->nin : -1, nin);
        return -1;
    }
    for (int k = 0; k < p->n; k++) {
        const IrInstr *in = &p->code[k];
        int defined = nin + k;
        int need;   /* operands the instruction reads */
        if (in->op == IR_CONST)
            need = 0;
        else if (rows && is_row_reduction(in))
            need = 1;
        else if ((ir_ops[in->op].flags & OPF_ELEMENTWISE) && ir_ops[in->op].scalar)
            need = ir_ops[in->op].arity;
        else {
            eval_error(ev, "internal error: node %d: instruction %d: '%s' in a fused program", node, k, ir_ops[in->op].name);
            return -1;
        }
        int refs[3] = {in->a, in->b, in->c};
        for (int r = 0; r < need; r++)
            if (refs[r] < 0 || refs[r] >= defined) {
                eval_error(ev, "internal error: node %d: instruction %d reads value %d, not yet defined", node, k, refs[r]);
                return -1;
            }
    }
    return 0;
}

/* Runs a program of scalars: v[0 .. nin-1] are set; returns the last value. */
static double prog_run(const IrProgram *p, double *v)
{
    for (int k = 0; k < p->n; k++) {
        const IrInstr *in = &p->code[k];
        if (in->op == IR_CONST) {
            v[p->nin + k] = in->f;
            continue;
        }
        double a = in->a >= 0 ? v[in->a] : 0, b = in->b >= 0 ? v[in->b] : 0, c = in->c >= 0 ? v[in->c] : 0;
        v[p->nin + k] = ir_ops[in->op].scalar(a, b, c, in->f);
    }
    return v[p->nin + p->n - 1];
}

/* ---- leaves --------------------------------------------------------------------------- */

/* INPUT: the values given to ir_eval_set */
void eval_input(IrEval *ev, int node)
{
    if (!ev->val[node])
        eval_error(ev, "input '%s' was not given", node_of(ev, node)->a.name);
}

/* CONST: [] = f */
void eval_const(IrEval *ev, int node) { result(ev, node)[0] = node_of(ev, node)->a.f; }

/* TENSOR: [...] = data (no batch dimension) */
void eval_tensor(IrEval *ev, int node)
{
    double *out = result(ev, node);
    memcpy(out, node_of(ev, node)->a.data, sizeof(double) * (size_t)ev->len[node]);
}

/* BATCH_SIZE: [] = batch */
void eval_batch_size(IrEval *ev, int node) { result(ev, node)[0] = (double)ev->batch; }

/* ---- elementwise and reductions --------------------------------------------------------- */

/* out [...] = f(x, y, z) with x, y, z broadcast to [...] */
void eval_ew(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    IrScalarFn f = ir_ops[n->op].scalar;
    double *out = result(ev, node);
    int64_t dim[IR_MAX_RANK];
    resolve(ev, &n->shape, dim);
    Walk w;
    if (walk_init(ev, node, &w, n->shape.rank, dim, n->nin) != 0)
        goto done;
    for (int k = 0; k < n->nin; k++)
        if (walk_operand(ev, node, &w, k, in_shape(ev, node, k)) != 0)
            goto done;
    const double *x = in_val(ev, node, 0);
    const double *y = n->nin > 1 ? in_val(ev, node, 1) : NULL;
    const double *z = n->nin > 2 ? in_val(ev, node, 2) : NULL;
    for (int64_t e = 0; e < ev->len[node]; e++, walk_next(&w))
        out[e] = f(x[w.off[0]], y ? y[w.off[1]] : 0, z ? z[w.off[2]] : 0, n->a.f);
done:
    walk_free(&w);
}

/* The reductions (SUM, MEAN, RMAX), shared by their kernel and by row
 * reductions in fused programs: acc = ir_reduce_start(op), then
 * acc = reduce_step(op, acc, x) for each x in order, then
 * reduce_finish(op, acc, count) for count elements; each by the op's
 * flags (OPF_MAXES, OPF_AVERAGES). */
static double reduce_step(IrOp op, double acc, double x)
{
    if (ir_ops[op].flags & OPF_MAXES)
        return (x > acc || isnan(x)) && !isnan(acc) ? x : acc;   /* NaN wins */
    return acc + x;
}

static double reduce_finish(IrOp op, double acc, int64_t count)
{
    return ir_ops[op].flags & OPF_AVERAGES ? acc / (double)count : acc;
}

/* SUM, MEAN, RMAX: x [...] -> [...] with the axes of mask i[0] kept as 1 */
void eval_reduce(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    const IrShape *xs = in_shape(ev, node, 0);
    const double *x = in_val(ev, node, 0);
    double *out = result(ev, node);
    int64_t xdim[IR_MAX_RANK], odim[IR_MAX_RANK];
    resolve(ev, xs, xdim);
    resolve(ev, &n->shape, odim);
    int64_t count = 1;   /* elements reduced into each result */
    for (int i = 0; i < xs->rank; i++)
        if ((uint64_t)n->a.i[0] >> i & 1)
            count *= xdim[i];
    for (int64_t e = 0; e < ev->len[node]; e++)
        out[e] = ir_reduce_start(n->op);

    /* Walk the operand; operand 0 of the walk is the result, broadcast back. */
    Walk w;
    if (walk_init(ev, node, &w, xs->rank, xdim, 1) != 0)
        goto done;
    if (bcast_strides(n->shape.rank, odim, xs->rank, xdim, w.stride[0]) != 0) {
        eval_error(ev, "internal error: node %d: reduction shapes differ", node);
        goto done;
    }
    for (int64_t e = 0; e < ev->len[n->in[0]]; e++, walk_next(&w))
        out[w.off[0]] = reduce_step(n->op, out[w.off[0]], x[e]);
    for (int64_t e = 0; e < ev->len[node]; e++)
        out[e] = reduce_finish(n->op, out[e], count);
done:
    walk_free(&w);
}

/* ARGMAX: x [..., C] -> i32 [..., 1], the first maximum of each row */
void eval_argmax(IrEval *ev, int node)
{
    const IrShape *xs = in_shape(ev, node, 0);
    const double *x = in_val(ev, node, 0);
    double *out = result(ev, node);
    int64_t dim[IR_MAX_RANK];
    resolve(ev, xs, dim);
    int64_t c = dim[xs->rank - 1], rows = ev->len[node];
    for (int64_t r = 0; r < rows; r++) {
        const double *row = x + r * c;
        int64_t best = 0;
        for (int64_t j = 1; j < c; j++)
            if (row[j] > row[best])
                best = j;
        out[r] = (double)best;
    }
}

/* ---- layout ---------------------------------------------------------------------------- */

/* RESHAPE, and CAST of i32 to real (labels are already held as doubles):
 * the same elements in the same order */
void eval_copy(IrEval *ev, int node)
{
    double *out = result(ev, node);
    memcpy(out, in_val(ev, node, 0), sizeof(double) * (size_t)ev->len[node]);
}

/* PERMUTE: x [d0, ..., dr-1] -> [d(p0), ..., d(pr-1)], result axis k = operand axis p[k] */
void eval_permute(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    const IrShape *xs = in_shape(ev, node, 0);
    const double *x = in_val(ev, node, 0);
    double *out = result(ev, node);
    int64_t xdim[IR_MAX_RANK], odim[IR_MAX_RANK], xstride[IR_MAX_RANK];
    resolve(ev, xs, xdim);
    resolve(ev, &n->shape, odim);
    for (int i = xs->rank - 1; i >= 0; i--)
        xstride[i] = prod(xdim, i + 1, xs->rank);
    Walk w;
    if (walk_init(ev, node, &w, n->shape.rank, odim, 1) == 0) {
        for (int k = 0; k < n->shape.rank; k++)
            w.stride[0][k] = xstride[n->a.i[k]];
        for (int64_t e = 0; e < ev->len[node]; e++, walk_next(&w))
            out[e] = x[w.off[0]];
    }
    walk_free(&w);
}

/* BROADCAST: x [...] -> shape, repeated along its axes of size 1 and new leading axes */
void eval_broadcast(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    const double *x = in_val(ev, node, 0);
    double *out = result(ev, node);
    int64_t dim[IR_MAX_RANK];
    resolve(ev, &n->shape, dim);
    Walk w;
    if (walk_init(ev, node, &w, n->shape.rank, dim, 1) == 0 && walk_operand(ev, node, &w, 0, in_shape(ev, node, 0)) == 0)
        for (int64_t e = 0; e < ev->len[node]; e++, walk_next(&w))
            out[e] = x[w.off[0]];
    walk_free(&w);
}

/* A shape seen as [outer, axis, inner] around one axis. */
static void split_at(const IrEval *ev, const IrShape *s, int64_t axis, int64_t *outer, int64_t *len, int64_t *inner)
{
    int64_t dim[IR_MAX_RANK];
    resolve(ev, s, dim);
    *outer = prod(dim, 0, (int)axis);
    *len = dim[axis];
    *inner = prod(dim, (int)axis + 1, s->rank);
}

/* SLICE: x [outer, X, inner] -> [outer, len, inner] = x[:, start : start + len, :] */
void eval_slice(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    int64_t start = n->a.i[1], len = n->a.i[2], outer, xlen, inner;
    split_at(ev, in_shape(ev, node, 0), n->a.i[0], &outer, &xlen, &inner);
    const double *x = in_val(ev, node, 0);
    double *out = result(ev, node);
    for (int64_t o = 0; o < outer; o++)
        memcpy(out + o * len * inner, x + (o * xlen + start) * inner, sizeof(double) * (size_t)(len * inner));
}

/* PAD: x [outer, X, inner] -> [outer, before + X + after, inner], zeros around */
void eval_pad(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    int64_t before = n->a.i[1], after = n->a.i[2], outer, xlen, inner;
    split_at(ev, in_shape(ev, node, 0), n->a.i[0], &outer, &xlen, &inner);
    int64_t len = before + xlen + after;
    const double *x = in_val(ev, node, 0);
    double *out = result(ev, node);
    for (int64_t o = 0; o < outer; o++)
        memcpy(out + (o * len + before) * inner, x + o * xlen * inner, sizeof(double) * (size_t)(xlen * inner));
}

/* CONCAT: x [outer, X, inner], y [outer, Y, inner] -> [outer, X + Y, inner] */
void eval_concat(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    int64_t outer, xlen, ylen, inner;
    split_at(ev, in_shape(ev, node, 0), n->a.i[0], &outer, &xlen, &inner);
    split_at(ev, in_shape(ev, node, 1), n->a.i[0], &outer, &ylen, &inner);
    const double *x = in_val(ev, node, 0), *y = in_val(ev, node, 1);
    double *out = result(ev, node);
    int64_t len = xlen + ylen;
    for (int64_t o = 0; o < outer; o++) {
        memcpy(out + o * len * inner, x + o * xlen * inner, sizeof(double) * (size_t)(xlen * inner));
        memcpy(out + (o * len + xlen) * inner, y + o * ylen * inner, sizeof(double) * (size_t)(ylen * inner));
    }
}

/* ---- linear algebra -------------------------------------------------------------------- */

/* out [lead..., n, m] = op(x) [lead..., n, k] * op(y) [lead..., k, m], op() the
 * transpose of the last two axes when flagged; leading axes broadcast.  The
 * contracted k may be the batch (x^T g for a weight's gradient); with lead
 * the leading axes join k. */
static double *implicit_rows(IrEval *ev, int node);

static void matmul_into(IrEval *ev, int node, double *out)
{
    const IrNode *nd = node_of(ev, node);
    const IrShape *xs = ir_matmul_operand(ev->g, nd, 0), *ys = ir_matmul_operand(ev->g, nd, 1);
    const double *x = in_val(ev, node, 0), *y = in_val(ev, node, 1);
    double *rows = ir_mm_patches(nd) ? implicit_rows(ev, node) : NULL;  /* an operand read as patches */
    if (ir_mm_patches(nd) && !rows)
        return;
    if (ir_mm_patches(nd) == IR_MM_PATCHES_A)
        x = rows;
    else if (ir_mm_patches(nd) == IR_MM_PATCHES_B)
        y = rows;
    bool ta = ir_mm_ta(nd), tb = ir_mm_tb(nd);
    int64_t xd[IR_MAX_RANK], yd[IR_MAX_RANK], od[IR_MAX_RANK];
    resolve(ev, xs, xd);
    resolve(ev, ys, yd);
    resolve(ev, &nd->shape, od);
    int xr = xs->rank, yr = ys->rank, lead = nd->shape.rank - 2;
    if (ir_mm_lead(nd)) {  /* lead: x [L..., k, n] and y [L..., k, m] are one [L·k, n] and [L·k, m] */
        xd[0] = yd[0] = prod(xd, 0, xr - 1);
        xd[1] = xd[xr - 1];
        yd[1] = yd[yr - 1];
        xr = yr = 2;
    }
    int64_t n = xd[xr - (ta ? 1 : 2)], k = xd[xr - (ta ? 2 : 1)];
    int64_t k2 = yd[yr - (tb ? 1 : 2)], m = yd[yr - (tb ? 2 : 1)];
    if (k != k2 || n != od[lead] || m != od[lead + 1]) {
        eval_error(ev, "internal error: node %d: matmul shapes differ", node);
        free(rows);
        return;
    }
    /* The leading axes, walked in units of whole matrices. */
    Walk w;
    if (walk_init(ev, node, &w, lead, od, 2) != 0
        || bcast_strides(xr - 2, xd, lead, od, w.stride[0]) != 0 || bcast_strides(yr - 2, yd, lead, od, w.stride[1]) != 0) {
        eval_error(ev, "internal error: node %d: matmul leading axes do not broadcast", node);
        walk_free(&w);
        free(rows);
        return;
    }
    int64_t mats = prod(od, 0, lead);
    for (int64_t e = 0; e < mats; e++, walk_next(&w)) {
        const double *a = x + w.off[0] * n * k, *b = y + w.off[1] * k * m;
        double *o = out + e * n * m;
        /* o[i][j] = sum over p in order of a(i, p) * b(p, j) */
        for (int64_t i = 0; i < n; i++)
            for (int64_t p = 0; p < k; p++) {
                double aip = ta ? a[p * n + i] : a[i * k + p];
                for (int64_t j = 0; j < m; j++)
                    o[i * m + j] += aip * (tb ? b[j * k + p] : b[p * m + j]);
            }
    }
    walk_free(&w);
    free(rows);
}

/* MATMUL: x [..., n, k] (or [..., k, n] with i[0]), y [..., k, m] (or [..., m, k]
 * with i[1]) -> [..., n, m] */
void eval_matmul(IrEval *ev, int node) { matmul_into(ev, node, result(ev, node)); }

/* ---- indices -------------------------------------------------------------------------- */

/* An index read from an i32 value, checked against [0, bound).  -1 with an
 * error if it is out of range. */
static int64_t index_at(IrEval *ev, double id, int64_t bound, const char *op)
{
    if (!(id >= 0 && id < (double)bound)) {
        eval_error(ev, "index %.17g out of range [0, %lld) in %s", id, (long long)bound, op);
        return -1;
    }
    return (int64_t)id;
}

/* GATHER: table [V, D], ids [...] -> [..., D]: row ids[e] of the table */
void eval_gather(IrEval *ev, int node)
{
    int64_t td[IR_MAX_RANK];
    resolve(ev, in_shape(ev, node, 0), td);
    int64_t v = td[0], d = td[1];
    const double *table = in_val(ev, node, 0), *ids = in_val(ev, node, 1);
    double *out = result(ev, node);
    for (int64_t e = 0; e < ev->len[node_of(ev, node)->in[1]]; e++) {
        int64_t row = index_at(ev, ids[e], v, "gather");
        if (row < 0)
            return;
        memcpy(out + e * d, table + row * d, sizeof(double) * (size_t)d);
    }
}

/* SCATTER_ADD: rows [..., D], ids [...] -> [V, D]: each row added at its id */
void eval_scatter_add(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    int64_t v = n->a.i[0], d = n->shape.dim[1];
    const double *rows = in_val(ev, node, 0), *ids = in_val(ev, node, 1);
    double *out = result(ev, node);
    for (int64_t e = 0; e < ev->len[n->in[1]]; e++) {
        int64_t row = index_at(ev, ids[e], v, "scatter_add");
        if (row < 0)
            return;
        for (int64_t j = 0; j < d; j++)
            out[row * d + j] += rows[e * d + j];
    }
}

/* ONE_HOT: ids [...] -> [..., C]: 1 at the id, 0 elsewhere */
void eval_one_hot(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    int64_t c = n->a.i[0];
    const double *ids = in_val(ev, node, 0);
    double *out = result(ev, node);
    for (int64_t e = 0; e < ev->len[n->in[0]]; e++) {
        int64_t j = index_at(ev, ids[e], c, "one_hot");
        if (j < 0)
            return;
        out[e * c + j] = 1;
    }
}

/* The generator is the runtime's, so generated code draws the same masks. */
double ir_uniform(uint64_t seed, uint64_t stream, uint64_t step, uint64_t element)
{
    return rt_uniform(seed, stream, step, element);
}

/* RANDOM_MASK: step [] -> shape: 0 where u(seed, stream, step, e) < p, else 1 / (1 - p) */
void eval_random_mask(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    double step = in_val(ev, node, 0)[0], p = n->a.f;
    if (!(step >= 0 && step < 0x1.0p64)) {
        eval_error(ev, "random_mask: step %.17g is not a counter", step);
        return;
    }
    double *out = result(ev, node);
    for (int64_t e = 0; e < ev->len[node]; e++)
        out[e] = ir_uniform((uint64_t)n->a.i[0], (uint64_t)n->a.i[1], (uint64_t)step, (uint64_t)e) < p ? 0 : 1 / (1 - p);
}

/* ---- sliding windows ------------------------------------------------------------------ */

/* The geometry shared by WINDOWS and WINDOWS_T: image [B, C, H, W], windows
 * [B, C, Ho, Wo, kh*kw]. */
typedef struct Win {
    int64_t planes, h, w, ho, wo;
    IrWindow win;
} Win;

static Win win_of(const IrEval *ev, const IrNode *n, const IrShape *image, const IrShape *windows)
{
    int64_t id[IR_MAX_RANK], wd[IR_MAX_RANK];
    resolve(ev, image, id);
    resolve(ev, windows, wd);
    return (Win){id[0] * id[1], id[2], id[3], wd[2], wd[3], n->a.win};
}

/* The pixel (y, x) that element (ky, kx) of window (oy, ox) reads in an
 * h x w plane, as y*w + x, or -1 in the padding: both window layouts. */
static int64_t pixel_of(int64_t h, int64_t w, const IrWindow *win, int64_t oy, int64_t ox, int64_t ky, int64_t kx)
{
    int64_t y = oy * win->stride[0] + ky - win->pad[0], x = ox * win->stride[1] + kx - win->pad[1];
    return y >= 0 && y < h && x >= 0 && x < w ? y * w + x : -1;
}

static int64_t win_pixel(const Win *g, int64_t oy, int64_t ox, int64_t ky, int64_t kx)
{
    return pixel_of(g->h, g->w, &g->win, oy, ox, ky, kx);
}

/* WINDOWS: x [B, C, H, W] -> [B, C, Ho, Wo, kh*kw]: element ky*kw + kx of window
 * (oy, ox) is x[oy*sh + ky - ph, ox*sw + kx - pw], or f in the padding */
void eval_windows(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    Win g = win_of(ev, n, in_shape(ev, node, 0), &n->shape);
    const double *x = in_val(ev, node, 0);
    double *out = result(ev, node);
    double *o = out;
    for (int64_t pl = 0; pl < g.planes; pl++)
        for (int64_t oy = 0; oy < g.ho; oy++)
            for (int64_t ox = 0; ox < g.wo; ox++)
                for (int64_t ky = 0; ky < g.win.k[0]; ky++)
                    for (int64_t kx = 0; kx < g.win.k[1]; kx++) {
                        int64_t px = win_pixel(&g, oy, ox, ky, kx);
                        *o++ = px >= 0 ? x[pl * g.h * g.w + px] : n->a.f;
                    }
}

/* WINDOWS_T: w [B, C, Ho, Wo, kh*kw] -> [B, C, H, W] = shape: each window
 * element added to the pixel it came from; padding elements dropped */
void eval_windows_t(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    Win g = win_of(ev, n, &n->shape, in_shape(ev, node, 0));
    const double *wv = in_val(ev, node, 0);
    double *out = result(ev, node);
    for (int64_t pl = 0; pl < g.planes; pl++)
        for (int64_t oy = 0; oy < g.ho; oy++)
            for (int64_t ox = 0; ox < g.wo; ox++)
                for (int64_t ky = 0; ky < g.win.k[0]; ky++)
                    for (int64_t kx = 0; kx < g.win.k[1]; kx++, wv++) {
                        int64_t px = win_pixel(&g, oy, ox, ky, kx);
                        if (px >= 0)
                            out[pl * g.h * g.w + px] += *wv;
                    }
}

/* ---- channels-last windows: patches and max pooling -------------------------------------- */

/* The geometry of an image [..., H, W, C] (the leading axes are planes)
 * and its windows [..., Ho, Wo, ·]. */
typedef struct ClWin {
    int64_t planes, h, w, c, ho, wo;
    IrWindow win;
} ClWin;

static ClWin clwin_of(const IrEval *ev, const IrNode *n, const IrShape *image, const IrShape *windows)
{
    int64_t id[IR_MAX_RANK], wd[IR_MAX_RANK];
    resolve(ev, image, id);
    resolve(ev, windows, wd);
    int r = image->rank;
    return (ClWin){prod(id, 0, r - 3), id[r - 3], id[r - 2], id[r - 1], wd[r - 3], wd[r - 2], n->a.win};
}

static int64_t clwin_pixel(const ClWin *g, int64_t oy, int64_t ox, int64_t ky, int64_t kx)
{
    return pixel_of(g->h, g->w, &g->win, oy, ox, ky, kx);
}

/* PATCHES: x [..., H, W, C] -> [..., Ho, Wo, kh*kw*C]: element (ky*kw + kx)*C + c of pixel
 * (oy, ox) is x[oy*sh + ky - ph, ox*sw + kx - pw, c], 0 in the padding */
static void patches_into(const ClWin g, const double *x, double *o)
{
    for (int64_t pl = 0; pl < g.planes; pl++)
        for (int64_t oy = 0; oy < g.ho; oy++)
            for (int64_t ox = 0; ox < g.wo; ox++)
                for (int64_t ky = 0; ky < g.win.k[0]; ky++)
                    for (int64_t kx = 0; kx < g.win.k[1]; kx++) {
                        int64_t px = clwin_pixel(&g, oy, ox, ky, kx);
                        for (int64_t c = 0; c < g.c; c++)
                            *o++ = px >= 0 ? x[(pl * g.h * g.w + px) * g.c + c] : 0;
                    }
}

void eval_patches(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    patches_into(clwin_of(ev, n, in_shape(ev, node, 0), &n->shape), in_val(ev, node, 0), result(ev, node));
}

/* A matmul's operand read as patches (passes/implicit.c): its
 * rows, made as PATCHES makes them (the caller frees them). */
static double *implicit_rows(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    const IrShape *x = in_shape(ev, node, ir_mm_patches_operand(n));
    int64_t id[IR_MAX_RANK], len;
    resolve(ev, x, id);
    int r = x->rank;
    IrWindow w = ir_mm_window(n);
    ClWin g = {prod(id, 0, r - 3), id[r - 3], id[r - 2], id[r - 1], ir_window_out(id[r - 3], w.k[0], w.stride[0], w.pad[0]),
               ir_window_out(id[r - 2], w.k[1], w.stride[1], w.pad[1]), w};
    len = g.planes * g.ho * g.wo * ir_window_taps(&w) * g.c;
    double *rows = eval_calloc(ev, node, "the patches of the operation made here", (size_t)len + 1, sizeof(double));
    if (rows)
        patches_into(g, in_val(ev, node, ir_mm_patches_operand(n)), rows);
    return rows;
}

/* PATCHES_T: w [..., Ho, Wo, kh*kw*C] -> [..., H, W, C] = shape: each pixel the sum of the
 * patch elements that read it, (ky, kx) in order, as generated code adds them */
void eval_patches_t(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    ClWin g = clwin_of(ev, n, &n->shape, in_shape(ev, node, 0));
    const double *wv = in_val(ev, node, 0);
    double *out = result(ev, node);
    int64_t kkc = ir_window_taps(&g.win) * g.c, sh = g.win.stride[0], sw = g.win.stride[1];
    for (int64_t pl = 0; pl < g.planes; pl++)
        for (int64_t y = 0; y < g.h; y++)
            for (int64_t x = 0; x < g.w; x++)
                for (int64_t ky = 0; ky < g.win.k[0]; ky++)
                    for (int64_t kx = 0; kx < g.win.k[1]; kx++) {
                        int64_t ny = y + g.win.pad[0] - ky, nx = x + g.win.pad[1] - kx;
                        if (ny < 0 || nx < 0 || ny % sh || nx % sw || ny / sh >= g.ho || nx / sw >= g.wo)
                            continue;
                        int64_t at = ((pl * g.ho + ny / sh) * g.wo + nx / sw) * kkc + (ky * g.win.k[1] + kx) * g.c;
                        for (int64_t c = 0; c < g.c; c++)
                            out[((pl * g.h + y) * g.w + x) * g.c + c] += wv[at + c];
                    }
}

/* Where window (oy, ox) of plane pl has its first maximum in channel c: the pixel
 * y*w + x (padding never wins; a NaN beats any number, the first NaN stays). */
static int64_t clwin_argmax(const ClWin *g, const double *x, int64_t pl, int64_t oy, int64_t ox, int64_t c)
{
    int64_t at = -1;
    double best = 0;
    for (int64_t ky = 0; ky < g->win.k[0]; ky++)
        for (int64_t kx = 0; kx < g->win.k[1]; kx++) {
            int64_t px = clwin_pixel(g, oy, ox, ky, kx);
            if (px < 0)
                continue;
            double v = x[(pl * g->h * g->w + px) * g->c + c];
            if (at < 0 || v > best || (isnan(v) && !isnan(best))) {
                at = px;
                best = v;
            }
        }
    return at;
}

/* POOL_MAX: x, y [..., H, W, C] -> [..., Ho, Wo, C]: y at each window's first maximum of x
 * (a relu folded in: relu of it) */
void eval_pool_max(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    ClWin g = clwin_of(ev, n, in_shape(ev, node, 0), &n->shape);
    const double *x = in_val(ev, node, 0), *y = in_val(ev, node, 1);
    double *o = result(ev, node);
    for (int64_t pl = 0; pl < g.planes; pl++)
        for (int64_t oy = 0; oy < g.ho; oy++)
            for (int64_t ox = 0; ox < g.wo; ox++)
                for (int64_t c = 0; c < g.c; c++) {
                    double v = y[(pl * g.h * g.w + clwin_argmax(&g, x, pl, oy, ox, c)) * g.c + c];
                    *o++ = ir_pool_relu(n) ? sc_relu(v, 0, 0, 0) : v;
                }
}

/* A backward pooling's gradient y at a window whose maximum is max: y, or
 * with a relu folded in, y · (max > 0), relu's backward. */
static double pooled_grad(const IrNode *n, double y, double max)
{
    return ir_pool_relu(n) ? sc_mul(y, sc_gt(max, 0, 0, 0), 0, 0) : y;
}

/* POOL_MAX_T: x [..., H, W, C], y [..., Ho, Wo, C] -> x's shape: y of each window added
 * at its first maximum of x, windows in order (oy, then ox), as generated code adds them
 * (a relu folded in: y · (that maximum > 0), relu's backward) */
void eval_pool_max_t(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    ClWin g = clwin_of(ev, n, &n->shape, in_shape(ev, node, 1));
    const double *x = in_val(ev, node, 0), *y = in_val(ev, node, 1);
    double *out = result(ev, node);
    for (int64_t pl = 0; pl < g.planes; pl++)
        for (int64_t oy = 0; oy < g.ho; oy++)
            for (int64_t ox = 0; ox < g.wo; ox++)
                for (int64_t c = 0; c < g.c; c++) {
                    int64_t at = (pl * g.h * g.w + clwin_argmax(&g, x, pl, oy, ox, c)) * g.c + c;
                    out[at] += pooled_grad(n, y[((pl * g.ho + oy) * g.wo + ox) * g.c + c], x[at]);
                }
}

/* POOL_ROWS_T: x [..., H, W, C], y [..., Ho, Wo, C], rows [..., H*W, T] -> [..., T+1, C]:
 * for each window (oy, then ox) and channel, for each of its pixels p in order (not the
 * padding), y (· (maximum > 0) with a relu folded in) times rows[p, t] added to row t
 * where p is the window's first maximum and 0 · rows[p, t] elsewhere, and y to row T;
 * the generated code adds the same products in the same order.  The zeros change no
 * sum but where rows hold inf or NaN, which then make it NaN: as in the product of rows
 * and pool_max_t's scatter that this op stands for. */
void eval_pool_rows_t(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    ClWin g = clwin_of(ev, n, in_shape(ev, node, 0), in_shape(ev, node, 1));
    const IrShape *rs = in_shape(ev, node, 2);
    int64_t taps = rs->dim[rs->rank - 1];
    const double *x = in_val(ev, node, 0), *y = in_val(ev, node, 1), *rows = in_val(ev, node, 2);
    double *out = result(ev, node);
    for (int64_t pl = 0; pl < g.planes; pl++) {
        double *o = out + pl * (taps + 1) * g.c;
        for (int64_t oy = 0; oy < g.ho; oy++)
            for (int64_t ox = 0; ox < g.wo; ox++)
                for (int64_t c = 0; c < g.c; c++) {
                    int64_t best = clwin_argmax(&g, x, pl, oy, ox, c);
                    double v = pooled_grad(n, y[((pl * g.ho + oy) * g.wo + ox) * g.c + c],
                                           x[(pl * g.h * g.w + best) * g.c + c]);
                    for (int64_t ky = 0; ky < g.win.k[0]; ky++)
                        for (int64_t kx = 0; kx < g.win.k[1]; kx++) {
                            int64_t px = clwin_pixel(&g, oy, ox, ky, kx);
                            if (px < 0)
                                continue;
                            const double *r = rows + (pl * g.h * g.w + px) * taps;
                            for (int64_t t = 0; t < taps; t++)
                                o[t * g.c + c] += (px == best ? v : 0) * r[t];
                        }
                    o[taps * g.c + c] += v;
                }
    }
}

/* POOL_CONV_T: x [..., H, W, F], y [..., Ho, Wo, F], w [F*kh*kw, C] -> [..., H2*W2, C]:
 * for each window (oy, then ox) and channel f, y (· (maximum > 0) with a relu folded in)
 * at the window's first maximum (iy, ix), times w's row f*kh*kw + t added to output pixel
 * (iy - ky + ph, ix - kx + pw) for each tap t = ky*kw + kx of the convolution's window
 * whose pixel is inside: the convolution of pool_max_t(x, y), without its zeros */
void eval_pool_conv_t(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    ClWin g = clwin_of(ev, n, in_shape(ev, node, 0), in_shape(ev, node, 1));
    IrWindow cw = ir_pool_conv_window(n);
    int64_t kh = cw.k[0], kw = cw.k[1], C = in_shape(ev, node, 2)->dim[1];
    int64_t h2 = ir_window_out(g.h, kh, 1, cw.pad[0]), w2 = ir_window_out(g.w, kw, 1, cw.pad[1]);
    const double *x = in_val(ev, node, 0), *y = in_val(ev, node, 1), *w = in_val(ev, node, 2);
    double *out = result(ev, node);
    for (int64_t pl = 0; pl < g.planes; pl++)
        for (int64_t oy = 0; oy < g.ho; oy++)
            for (int64_t ox = 0; ox < g.wo; ox++)
                for (int64_t f = 0; f < g.c; f++) {
                    int64_t px = clwin_argmax(&g, x, pl, oy, ox, f), at = (pl * g.h * g.w + px) * g.c + f;
                    double v = pooled_grad(n, y[((pl * g.ho + oy) * g.wo + ox) * g.c + f], x[at]);
                    for (int64_t t = 0; t < kh * kw; t++) {
                        int64_t py = px / g.w - t / kw + cw.pad[0], qx = px % g.w - t % kw + cw.pad[1];
                        if (py < 0 || py >= h2 || qx < 0 || qx >= w2)
                            continue;
                        double *o = out + (pl * h2 * w2 + py * w2 + qx) * C;
                        for (int64_t c = 0; c < C; c++)
                            o[c] += v * w[(f * kh * kw + t) * C + c];
                    }
                }
}

/* ---- fused regions --------------------------------------------------------------------- */

/* FUSED: operands broadcast to shape -> shape: prog at every element */
void eval_fused(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    const IrProgram *p = n->a.prog;
    if (prog_check(ev, node, p, n->nin, false) != 0)
        return;
    double *out = result(ev, node);
    int64_t dim[IR_MAX_RANK];
    resolve(ev, &n->shape, dim);
    Walk w;
    double *v = NULL;
    if (walk_init(ev, node, &w, n->shape.rank, dim, n->nin) != 0
        || !(v = scratch(ev, node, (size_t)(p->nin + p->n), sizeof(double))))
        goto done;
    for (int k = 0; k < n->nin; k++)
        if (walk_operand(ev, node, &w, k, in_shape(ev, node, k)) != 0)
            goto done;
    for (int64_t e = 0; e < ev->len[node]; e++, walk_next(&w)) {
        for (int k = 0; k < n->nin; k++)
            v[k] = in_val(ev, node, k)[w.off[k]];
        out[e] = prog_run(p, v);
    }
done:
    free(v);
    walk_free(&w);
}

/* FUSED_ROWS: operands [..., L] or [..., 1] -> shape [..., L] or [..., 1]: prog
 * per row.  A program value is a row (L numbers) or a per-row scalar (an
 * operand whose last dimension is 1, a CONST, a reduction, or an elementwise
 * op of scalars); the reductions (SUM, MEAN, RMAX) reduce a row to a scalar,
 * and a scalar counts as repeated along the row. */
void eval_fused_rows(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    const IrProgram *p = n->a.prog;
    if (prog_check(ev, node, p, n->nin, true) != 0)
        return;
    int64_t len = n->a.i[0];   /* L, as the fusion pass sets it (and codegen reads it) */
    if (len < 1) {
        eval_error(ev, "internal error: node %d: fused_rows with row length %lld (attribute i[0])", node,
                   (long long)len);
        return;
    }
    double *out = result(ev, node);

    /* The shape walked: the result's, with the last axis L. */
    int64_t dim[IR_MAX_RANK] = {1};
    int rank = n->shape.rank ? n->shape.rank : 1;
    if (n->shape.rank)
        resolve(ev, &n->shape, dim);
    int64_t out_len = dim[rank - 1];
    if (out_len != 1 && out_len != len) {
        eval_error(ev, "internal error: node %d: rows of %lld, the result's last axis is %lld", node,
                   (long long)len, (long long)out_len);
        return;
    }
    dim[rank - 1] = len;
    int64_t rows = prod(dim, 0, rank - 1);

    int nv = p->nin + p->n;
    double *v = scratch(ev, node, (size_t)nv * (size_t)len, sizeof(double));   /* value t: v[t*len ...] */
    bool *is_row = v ? scratch(ev, node, (size_t)nv, sizeof(bool)) : NULL;
    Walk w;   /* over the rows; each operand's offset is its row's start */
    if (walk_init(ev, node, &w, rank - 1, dim, n->nin) != 0 || !is_row)
        goto done;
    for (int k = 0; k < n->nin; k++) {
        int64_t stride[IR_MAX_RANK], od[IR_MAX_RANK];
        const IrShape *s = in_shape(ev, node, k);
        resolve(ev, s, od);
        if (bcast_strides(s->rank, od, rank, dim, stride) != 0) {
            eval_error(ev, "internal error: node %d: operand %d does not broadcast to the rows", node, k);
            goto done;
        }
        memcpy(w.stride[k], stride, sizeof(int64_t) * (size_t)(rank - 1));
        is_row[k] = stride[rank - 1] != 0;
    }

    for (int64_t r = 0; r < rows; r++, walk_next(&w)) {
        for (int k = 0; k < n->nin; k++) {
            const double *x = in_val(ev, node, k) + w.off[k];
            memcpy(v + k * len, x, sizeof(double) * (size_t)(is_row[k] ? len : 1));
        }
        for (int t = 0; t < p->n; t++) {
            const IrInstr *in = &p->code[t];
            int id = p->nin + t;
            double *dst = v + id * len;
            if (in->op == IR_CONST) {
                is_row[id] = false;
                dst[0] = in->f;
            } else if (is_row_reduction(in)) {
                const double *a = v + in->a * len;
                bool row = is_row[in->a];
                double acc = ir_reduce_start(in->op);
                for (int64_t j = 0; j < len; j++)
                    acc = reduce_step(in->op, acc, row ? a[j] : a[0]);
                is_row[id] = false;
                dst[0] = reduce_finish(in->op, acc, len);
            } else {
                int refs[3] = {in->a, in->b, in->c};
                bool row = false;
                for (int q = 0; q < 3; q++)
                    row |= refs[q] >= 0 && is_row[refs[q]];
                is_row[id] = row;
                for (int64_t j = 0; j < (row ? len : 1); j++) {
                    double arg[3] = {0, 0, 0};
                    for (int q = 0; q < 3; q++)
                        if (refs[q] >= 0)
                            arg[q] = v[refs[q] * len + (is_row[refs[q]] ? j : 0)];
                    dst[j] = ir_ops[in->op].scalar(arg[0], arg[1], arg[2], in->f);
                }
            }
        }
        int last = nv - 1;
        if (is_row[last] && out_len != len) {
            eval_error(ev, "internal error: node %d: a row where the result has one number per row", node);
            goto done;
        }
        for (int64_t j = 0; j < out_len; j++)
            out[r * out_len + j] = v[last * len + (is_row[last] ? j : 0)];
    }
done:
    walk_free(&w);
    free(is_row);
    free(v);
}

/* MATMUL_EPI: x, y as MATMUL, then e [..., n, m] = prog(x*y, operands 2..
 * broadcast to [..., n, m]) */
void eval_matmul_epi(IrEval *ev, int node)
{
    const IrNode *n = node_of(ev, node);
    const IrProgram *p = n->a.prog;
    if (prog_check(ev, node, p, n->nin - 1, false) != 0)
        return;
    double *out = result(ev, node);
    matmul_into(ev, node, out);
    if (ev->error[0])
        return;
    int64_t dim[IR_MAX_RANK];
    resolve(ev, &n->shape, dim);
    Walk w;   /* operand k of the walk is the node's operand k + 2 */
    double *v = NULL;
    if (walk_init(ev, node, &w, n->shape.rank, dim, n->nin - 2) != 0
        || !(v = scratch(ev, node, (size_t)(p->nin + p->n), sizeof(double))))
        goto done;
    for (int k = 2; k < n->nin; k++)
        if (walk_operand(ev, node, &w, k - 2, in_shape(ev, node, k)) != 0)
            goto done;
    for (int64_t e = 0; e < ev->len[node]; e++, walk_next(&w)) {
        v[0] = out[e];
        for (int k = 2; k < n->nin; k++)
            v[k - 1] = in_val(ev, node, k)[w.off[k - 2]];
        out[e] = prog_run(p, v);
    }
done:
    free(v);
    walk_free(&w);
}

/* ---- running ---------------------------------------------------------------------------- */

/* One double per 4 bytes of the plan's arena at the evaluator's batch. */
static int64_t arena_doubles(const IrEval *ev) { return plan_at(ev->plan, ev->plan->slab_bytes[SLAB_ACT], ev->batch) / 4; }

/* Whether node i's value has been placed in the plan's arena (it is not a
 * buffer of its own).  Compared as addresses: a kernel that failed leaves
 * its own buffer behind even for an activation. */
static bool in_arena(const IrEval *ev, int i)
{
    uintptr_t p = (uintptr_t)ev->val[i], a = (uintptr_t)ev->arena;
    return ev->arena && ev->plan && p >= a && p < a + sizeof(double) * (size_t)arena_doubles(ev);
}

/* Whether the plan puts node i in the activation arena. */
static bool planned(const IrEval *ev, int i)
{
    return ev->plan && ev->plan->slab[i] == SLAB_ACT && ev->g->nodes[i].op != IR_INPUT;
}

void ir_eval_init(IrEval *ev, const IrGraph *g, int64_t batch)
{
    memset(ev, 0, sizeof *ev);
    ev->g = g;
    ev->batch = batch;
    ev->error_node = -1;
}

/* The tables of values and lengths, made on first use: 0, or -1 with the
 * error set. */
static int tables(IrEval *ev)
{
    if (!ev->val)
        ev->val = eval_calloc(ev, -1, "its table of values", (size_t)ev->g->n, sizeof *ev->val);
    if (ev->val && !ev->len)
        ev->len = eval_calloc(ev, -1, "its table of values", (size_t)ev->g->n, sizeof *ev->len);
    return ev->len ? 0 : -1;
}

/* Node's value, len zeroed doubles, in place of its old one.  0, or -1
 * with the error set (the value then unset). */
static int alloc_value(IrEval *ev, int node, int64_t len)
{
    const IrNode *n = node_of(ev, node);
    char what[160];
    if (n->op == IR_INPUT)  /* a parameter, an input, optimizer state: named */
        snprintf(what, sizeof what, "the values of '%s'", n->a.name);
    else
        snprintf(what, sizeof what, "a value of %s made here", ir_ops[n->op].name);
    if (ev->val[node] && ev->len[node] == len && !in_arena(ev, node)) {
        /* the same size as the run before's (reset keeps it): zeroed in
         * place, where a fresh calloc of a large value is fresh pages the
         * kernel faults in and zeroes again at every run (xor's --gradcheck
         * at batch 1048576: 1.73 s of system time in 11.0, now 0.17 in 9.7) */
        memset(ev->val[node], 0, sizeof(double) * (size_t)len);
        return 0;
    }
    free(ev->val[node]);
    ev->val[node] = eval_calloc(ev, node, what, (size_t)len, sizeof(double));
    ev->len[node] = ev->val[node] ? len : 0;
    return ev->val[node] ? 0 : -1;
}

double *ir_eval_input(IrEval *ev, int node)
{
    if (node < 0 || node >= ev->g->n || ev->g->nodes[node].op != IR_INPUT) {
        eval_error(ev, "internal error: node %d is not an input", node);
        return NULL;
    }
    if (tables(ev) != 0 || alloc_value(ev, node, ir_elems(&ev->g->nodes[node].shape, ev->batch)) != 0)
        return NULL;
    return ev->val[node];
}

void ir_eval_set(IrEval *ev, int node, const double *values)
{
    double *v = ir_eval_input(ev, node);
    if (v)
        memcpy(v, values, sizeof(double) * (size_t)ev->len[node]);
}

/* Moves node i's result into its place in the arena, checking the place. */
static void place(IrEval *ev, int i)
{
    const IrPlan *plan = ev->plan;
    int64_t off = plan_at(plan, plan->offset[i], ev->batch), at = off / 4;
    int64_t given = plan->bytes[i].fixed + plan->bytes[i].per_ex * ev->batch;
    int64_t need = ev->len[i] * ir_type_size(ev->g->nodes[i].type);
    if (off < 0 || off % 4 || given < need || at + ev->len[i] > arena_doubles(ev)) {
        eval_error(ev, "memory plan: node %d needs %lld bytes, given %lld at offset %lld of %lld", i,
                   (long long)need, (long long)given, (long long)off, (long long)(4 * arena_doubles(ev)));
        return;
    }
    memcpy(ev->arena + at, ev->val[i], sizeof(double) * (size_t)ev->len[i]);
    free(ev->val[i]);
    ev->val[i] = ev->arena + at;
}

/* Forgets the values of a previous run, all but the inputs given; a value
 * of its own memory keeps it, for alloc_value to zero and use again. */
static void reset(IrEval *ev)
{
    for (int i = 0; i < ev->g->n; i++) {
        if (ev->g->nodes[i].op == IR_INPUT || (ev->val[i] && !in_arena(ev, i)))
            continue;
        ev->val[i] = NULL;
        ev->len[i] = 0;
    }
}

int ir_eval_run(IrEval *ev)
{
    if (ev->error[0] || tables(ev) != 0)
        return -1;
    reset(ev);
    if (ev->plan && !ev->arena
        && !(ev->arena = eval_calloc(ev, -1, "the memory plan's arena", (size_t)arena_doubles(ev), sizeof(double))))
        return -1;
    for (int i = 0; i < ev->g->n; i++) {
        const IrNode *n = &ev->g->nodes[i];
        if (n->op != IR_INPUT && alloc_value(ev, i, ir_elems(&n->shape, ev->batch)) != 0)
            return -1;
        ir_ops[n->op].eval(ev, i);
        if (ev->error[0]) {
            if (ev->error_node < 0)
                ev->error_node = i;
            return -1;
        }
        if (n->type == IR_F32)
            for (int64_t e = 0; e < ev->len[i]; e++)
                ev->val[i][e] = (double)(float)ev->val[i][e];
        if (planned(ev, i)) {
            place(ev, i);
            if (ev->error[0])
                return -1;
        }
    }
    return 0;
}

Span ir_eval_error_at(const IrEval *ev)
{
    return ev->error[0] && ev->error_node >= 0 ? ev->g->nodes[ev->error_node].at : SPAN_NONE;
}

void ir_eval_free(IrEval *ev)
{
    if (ev->val)
        for (int i = 0; i < ev->g->n; i++)
            if (!in_arena(ev, i))
                free(ev->val[i]);
    free(ev->val);
    free(ev->len);
    free(ev->arena);
    ev->val = NULL;
    ev->len = NULL;
    ev->arena = NULL;
}

const double *ir_eval_output(const IrEval *ev, const char *name, int64_t *len)
{
    for (int i = 0; i < ev->g->nouts; i++)
        if (strcmp(ev->g->outs[i].name, name) == 0) {
            int v = ev->g->outs[i].value;
            if (len)
                *len = ev->len[v];
            return ev->val[v];
        }
    return NULL;
}
