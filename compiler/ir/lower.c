/* lower.c — built-ins to primitive ops; see lower.h.
 *
 * One function per built-in, in a table indexed by BuiltinId.  Each gets
 * the node being lowered and the IR values of its tensor arguments, and
 * returns the IR value of its result.  Shapes here carry the batch as
 * dimension 0 (IR_BATCH) where the front end said "batched".
 */
#include "lower.h"
#include "ir_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct Lower {
    Lowered       *L;
    IrGraph       *g;
    const SemaModel *m;
    const LowerOptions *opt;
    const SemaNode *node;   /* being lowered */
    Span           at;
    int           *value;   /* per sema node: its IR value */
    int            dropout_streams;
    /* Channels last (section 5 of docs/ir.md): conv2d, max_pool and the activations
     * after them keep an image [B,C,H,W] as [B,H,W,C], so no permute sits between them */
    bool          *chlast;  /* per sema node: value holds its [B,C,H,W] result as [B,H,W,C] */
    int           *nchw;    /* per sema node held channels last: its [B,C,H,W] once made, else -1 */
    bool           in_cl[BUILTIN_MAX_PARAMS];  /* the call being lowered: operand k is channels last */
    bool           out_cl;  /* set by a lowering whose result is channels last */
    /* decode mode (lower.h): the window T, and values made once */
    int64_t        seq;     /* T; 0: not decode mode */
    int            at_pos;  /* "position" as a real [B,1,1,1], or -1 until made */
} Lower;

/* Per-example shapes broadcast aligned from the right, the batch apart
 * ([T,D] * [D] is [T,D] per example).  The IR aligns whole shapes, where
 * [B,T,D] and [B,D] would not meet: a batched operand of lower
 * per-example rank than the other gets 1s after its batch axis, [B,1,D]. */
static int align_batched(Lower *lw, int x, int other, Span at)
{
    const IrShape *s = &lw->g->nodes[x].shape, *o = &lw->g->nodes[other].shape;
    int rank = s->rank - 1, want = ir_is_batched(o) ? o->rank - 1 : o->rank;
    if (!ir_is_batched(s) || rank >= want)
        return x;
    IrShape r = {.rank = want + 1, .dim = {IR_BATCH}};
    for (int i = 1; i <= want - rank; i++)
        r.dim[i] = 1;
    for (int i = 0; i < rank; i++)
        r.dim[want - rank + 1 + i] = s->dim[1 + i];
    return ir_reshape(lw->g, x, &r, at);
}

/* ---- small builders that stamp the layer's location and name -------------------- */

static int stamp(Lower *lw, int id)
{
    if (id >= 0 && !lw->g->nodes[id].layer && lw->node && lw->node->builtin)
        lw->g->nodes[id].layer = lw->node->builtin->name;
    return id;
}

static int cnst(Lower *lw, double v) { return stamp(lw, ir_const(lw->g, v, lw->at)); }
static int un(Lower *lw, IrOp op, int x) { return stamp(lw, ir_unary(lw->g, op, x, lw->at)); }
static int bin(Lower *lw, IrOp op, int x, int y) { return stamp(lw, ir_binary(lw->g, op, x, y, lw->at)); }
static int sel(Lower *lw, int c, int x, int y)
{
    return stamp(lw, ir_add(lw->g, IR_SELECT, (int[]){c, x, y}, 3, NULL, lw->at));
}
static int red(Lower *lw, IrOp op, int x, uint64_t axes) { return stamp(lw, ir_reduce(lw->g, op, x, axes, lw->at)); }
static int reshape(Lower *lw, int x, IrShape s) { return stamp(lw, ir_reshape(lw->g, x, &s, lw->at)); }
static int matmul(Lower *lw, int a, int b, bool ta, bool tb) { return stamp(lw, ir_matmul(lw->g, a, b, ta, tb, lw->at)); }

static int permute(Lower *lw, int x, const int *perm) { return stamp(lw, ir_permute(lw->g, x, perm, lw->at)); }

static const IrShape *shape_of(Lower *lw, int v) { return &lw->g->nodes[v].shape; }
static uint64_t last_axis(Lower *lw, int v) { return (uint64_t)1 << (shape_of(lw, v)->rank - 1); }
static uint64_t all_axes(Lower *lw, int v) { return ((uint64_t)1 << shape_of(lw, v)->rank) - 1; }

/* The IR shape of a front-end type: the batch becomes dimension 0. */
static IrShape ir_shape_of(const TensorType *t)
{
    IrShape s = {0};
    if (t->batched)
        s.dim[s.rank++] = IR_BATCH;
    for (int i = 0; i < t->shape.rank; i++)
        s.dim[s.rank++] = t->shape.dim[i];
    return s;
}

/* The IR shape of a node's checked type; in decode mode a value with the
 * positions first holds one position: [B,T,...] becomes [B,1,...]. */
static IrShape type_shape(Lower *lw, const TensorType *t)
{
    IrShape s = ir_shape_of(t);
    if (lw->seq && t->batched && s.rank >= 2 && s.dim[1] == lw->seq)
        s.dim[1] = 1;
    return s;
}

/* The parameter tensor created by the node, by its suffix ("weight", "query.bias"). */
static int param(Lower *lw, const char *suffix)
{
    const SemaNode *n = lw->node;
    size_t ls = strlen(suffix);
    for (int i = n->first_param; i < n->first_param + n->nparams; i++) {
        const char *name = lw->m->params[i].name;
        size_t ln = strlen(name);
        if (ln > ls && name[ln - ls - 1] == '.' && strcmp(name + ln - ls, suffix) == 0)
            return lw->L->param[i];
    }
    /* A use that shares its parameters with an earlier one (name: "...")
     * created none: they are the earlier use's, under the same name,
     * found by name (a scan of every parameter per shared use made a model
     * of many shared names quadratic). */
    int i = sema_param_find(lw->m, n->name, suffix);
    return i >= 0 ? lw->L->param[i] : -1;
}

/* x · Wᵀ + b over the last axis: the torch Linear layout, W [out, in]. */
static int linear(Lower *lw, int x, int w, int b)
{
    int y = matmul(lw, x, w, false, true);
    return b >= 0 ? bin(lw, IR_ADD, y, b) : y;
}

/* Softmax over the last axis, shifted by the row maximum for stability.
 * The shift does not change the value, so no gradient flows through it. */
static int softmax_last(Lower *lw, int z)
{
    int m = un(lw, IR_STOP_GRAD, red(lw, IR_RMAX, z, last_axis(lw, z)));
    int e = un(lw, IR_EXP, bin(lw, IR_SUB, z, m));
    return bin(lw, IR_DIV, e, red(lw, IR_SUM, e, last_axis(lw, e)));
}

/* log Σ exp(z − m) over the last axis, [..., 1], with *m the row's maximum
 * held constant (neither logsumexp nor log softmax depends on it, and no
 * exp of z − m ≤ 0 overflows) and *s = z − m: the rows log_softmax_last and
 * logsumexp share. */
static int log_sum_exp_shifted(Lower *lw, int z, int *m, int *s)
{
    uint64_t last = last_axis(lw, z);
    *m = un(lw, IR_STOP_GRAD, red(lw, IR_RMAX, z, last));
    *s = bin(lw, IR_SUB, z, *m);
    return un(lw, IR_LOG, red(lw, IR_SUM, un(lw, IR_EXP, *s), last));
}

/* log softmax(z) over the last axis, as z − m − log Σ exp(z − m): never the
 * softmax's own log, whose small entries round to 0 in f32 and log to −inf
 * (z = [0, −200] gives −200, not −inf).  cross_entropy's and log_softmax's. */
static int log_softmax_last(Lower *lw, int z)
{
    int m, s;
    int l = log_sum_exp_shifted(lw, z, &m, &s);
    return bin(lw, IR_SUB, s, l);
}

/* A mean over every axis, as a scalar. */
static int mean_all(Lower *lw, int x)
{
    return reshape(lw, red(lw, IR_MEAN, x, all_axes(lw, x)), (IrShape){0});
}

static int step_input(Lower *lw)
{
    if (lw->L->step < 0)
        lw->L->step = ir_counter(lw->g, RT_COUNTER_STEP);
    return lw->L->step;
}

/* ---- one lowering per built-in ------------------------------------------------- */

typedef int (*LowerFn)(Lower *lw, const int *x);
#define ARG(k) (lw->node->args[k])

/* The IR axis of a per-example axis (possibly negative) of x. */
static int ir_axis(Lower *lw, int v, int64_t a)
{
    const IrShape *s = shape_of(lw, v);
    int first = ir_is_batched(s) ? 1 : 0, rank = s->rank - first;
    return first + (int)(a < 0 ? a + rank : a);
}

/* The IR axes of v that argument k (an axis or a list of them) names, as
 * a mask. */
static uint64_t axes_arg(Lower *lw, int v, int k)
{
    const Value *ax = &ARG(k);
    uint64_t axes = 0;
    for (int i = 0; i < (ax->kind == VAL_INT ? 1 : ax->list.n); i++)
        axes |= (uint64_t)1 << ir_axis(lw, v, ax->kind == VAL_INT ? ax->i : ax->list.v[i]);
    return axes;
}

/* v with the axes of the mask moved last (in order, the others keeping
 * theirs) and joined into one: [.., n1, .., n2, ..] -> [.., .., n1·n2].
 * rmax and the row operations (softmax_last, log_sum_exp_shifted) work along
 * the last axis only.  perm gets the permutation, *moved the shape after it,
 * before the join (what undoes the join). */
static int axes_last(Lower *lw, int v, uint64_t axes, int *perm, IrShape *moved)
{
    const IrShape *s = shape_of(lw, v);
    int rank = s->rank, k = 0;
    IrShape joined = {0};
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        if (!(axes >> i & 1)) {
            perm[k++] = i;
            joined.dim[joined.rank++] = s->dim[i];
        }
    for (int i = 0; i < rank; i++)
        if (axes >> i & 1) {
            perm[k++] = i;
            n *= s->dim[i];
        }
    joined.dim[joined.rank++] = n;
    *moved = (IrShape){.rank = rank};
    for (int i = 0; i < rank; i++)
        moved->dim[i] = s->dim[perm[i]];
    return reshape(lw, permute(lw, v, perm), joined);
}

static int lower_dense(Lower *lw, const int *x)
{
    return linear(lw, x[0], param(lw, "weight"), ARG(2).b ? param(lw, "bias") : -1);
}

/* An image [B,C,H,W] as [B,H,W,C]: with one channel the same elements (a
 * reshape, no copy), else a permute. */
static int to_channels_last(Lower *lw, int x)
{
    const IrShape *s = shape_of(lw, x);
    IrShape cl = {4, {s->dim[0], s->dim[2], s->dim[3], s->dim[1]}};
    return s->dim[1] == 1 ? reshape(lw, x, cl) : permute(lw, x, (int[]){0, 2, 3, 1});
}

/* The window of a conv2d or pool call: its size (argument ka), stride and
 * padding (the two after it), each an integer or [height, width]. */
static IrWindow call_window(Lower *lw, int ka)
{
    IrWindow w;
    builtin_window_arg(&ARG(ka), w.k);
    builtin_window_arg(&ARG(ka + 1), w.stride);
    builtin_window_arg(&ARG(ka + 2), w.pad);
    return w;
}

/* A convolution, channels last, as patches + matmul: img [B,H,W,C] ->
 * patches [B,Ho,Wo,kh*kw*C] -> [B,Ho*Wo,kh*kw*C] · Wᵀ[kh*kw*C,F] + bias
 * (when argument 5, bias, is true) -> [B,Ho*Wo,F], with *ho and *wo set.
 * The weight keeps torch's [F,C,kh,kw] (checkpoints; conv1d's [F,C,k], its
 * window 1 x k) and is permuted to the patches' order [kh,kw,C,F], a small
 * copy. */
static int conv_rows(Lower *lw, int img, IrWindow win, int64_t *ho, int64_t *wo)
{
    int64_t f = ARG(1).i;
    IrAttr pa = {.win = win};
    int pt = stamp(lw, ir_add(lw->g, IR_PATCHES, &img, 1, &pa, lw->at));
    const IrShape *ps = shape_of(lw, pt);
    int64_t b = ps->dim[0], kkc = ps->dim[3];
    *ho = ps->dim[1], *wo = ps->dim[2];
    int rows = reshape(lw, pt, (IrShape){3, {b, *ho * *wo, kkc}});
    /* rows · Wᵀ, Wᵀ [kh*kw*C, F] made first (one permute of the small weight:
     * [F,C,kh,kw] -> [kh,kw,C,F]), not rows · W [F, kh*kw*C] tb: the weight's
     * gradient is then rowsᵀ · g [kh*kw*C, F], which packs g (F wide) per
     * chunk of the contraction and reads the rows in place, where gᵀ · rows
     * [F, kh*kw*C] packs the rows (kh*kw*C wide, every thread its own copy) and
     * leaves F/MR blocks of rows: the MNIST CNN's second layer (288 against
     * 64) spent a quarter of that kernel packing, and its 64 rows took six
     * blocks of 12, 72 rows.  For the first layer (9 values, 32 filters) the
     * F columns also fill the matmul's 32-wide panels where k*k*C = 9 would
     * fill 9 of them (6.6% of a step's samples that way). */
    int w = param(lw, "weight"), wt;
    bool kernel_1d = shape_of(lw, w)->rank == 3;   /* conv1d's [F,C,k] */
    if (kkc != ir_window_taps(&win))  /* more than one channel */
        wt = reshape(lw, permute(lw, w, kernel_1d ? (int[]){2, 1, 0} : (int[]){2, 3, 1, 0}), (IrShape){2, {kkc, f}});
    else
        wt = permute(lw, reshape(lw, w, (IrShape){2, {f, kkc}}), (int[]){1, 0});
    int y = matmul(lw, rows, wt, false, false);
    if (ARG(5).b)
        y = bin(lw, IR_ADD, y, param(lw, "bias"));
    return y;
}

/* conv2d: conv_rows of x channels last, whose [B,Ho*Wo,F] is the result
 * [B,Ho,Wo,F] as it is. */
static int lower_conv2d(Lower *lw, const int *x)
{
    int img = lw->in_cl[0] ? x[0] : to_channels_last(lw, x[0]);
    int64_t ho, wo;
    int y = conv_rows(lw, img, call_window(lw, 2), &ho, &wo);
    lw->out_cl = true;
    return reshape(lw, y, (IrShape){4, {shape_of(lw, y)->dim[0], ho, wo, ARG(1).i}});
}

/* conv1d as a conv2d of height 1: x [B,C,L] seen as the image [B,C,1,L],
 * channels last [B,1,L,C]; a 1 x k window; the weight [F,C,k] read as
 * [F,C,1,k] (conv_rows); the rows' [B,Lo,F] permuted to the result
 * [B,F,Lo] (a sequence stays channels first between layers: its layout is
 * the checked one, no channels-last bookkeeping). */
static int lower_conv1d(Lower *lw, const int *x)
{
    const IrShape *s = shape_of(lw, x[0]);
    int img = to_channels_last(lw, reshape(lw, x[0], (IrShape){4, {s->dim[0], s->dim[1], 1, s->dim[2]}}));
    IrWindow win = {.k = {1, ARG(2).i}, .stride = {1, ARG(3).i}, .pad = {0, ARG(4).i}};
    int64_t ho, wo;
    int y = conv_rows(lw, img, win, &ho, &wo);
    int64_t b = shape_of(lw, y)->dim[0], f = ARG(1).i;
    return f == 1 ? reshape(lw, y, (IrShape){3, {b, 1, wo}}) : permute(lw, y, (int[]){0, 2, 1});
}

/* Whether operand k of the call being lowered is a value no other node,
 * output, loss or metric reads, and no --trace (LowerOptions.bindings). */
static bool private_operand(Lower *lw, int k)
{
    const SemaModel *m = lw->m;
    int in = lw->node->in[k], uses = 0;
    if (in < 0 || lw->opt->bindings || in == m->output || in == m->loss)
        return false;
    for (int i = 0; i < m->nmetrics; i++)
        if (m->metrics[i] == in)
            return false;
    for (int i = 0; i < m->nnodes; i++)
        for (int q = 0; q < BUILTIN_MAX_PARAMS; q++)
            uses += m->nodes[i].in[q] == in;
    return uses == 1;
}

/* max pooling in one pass: pool_max(x, x) over x [B,H,W,C] (channels
 * last), or over [B,C,H,W] seen as [B,C,H,W,1], each channel a plane.
 * Pooling a relu pools its operand and takes the relu of the result:
 * relu is monotonic, so max(relu(x)) = relu(max(x)) exactly, and the relu
 * and its backward run on the pooled pixels, a quarter of them for 2x2 (the
 * MNIST CNN's relu and relu backward on [B,28,28,32] were 5% of a step's
 * samples).  The backward's gradient lands on the same pixel: the window's
 * first maximum of x is that of relu(x) when the maximum is positive, and
 * otherwise relu' is 0 at both.  A relu with other users still runs for
 * them; unused, dce drops it. */
static int lower_max_pool(Lower *lw, const int *x)
{
    IrAttr pa = {.win = call_window(lw, 1)};
    int img = x[0];
    if (lw->in_cl[0] && lw->g->nodes[img].op == IR_RELU) {
        int pre = lw->g->nodes[img].in[0];
        Span at = lw->g->nodes[img].at;
        const char *layer = lw->g->nodes[img].layer;
        if (img == lw->g->n - 1 && private_operand(lw, 0)) {
            lw->g->n--;  /* the relu was made for this pooling alone: taken back */
            /* its call has no node now (memcheck counts a call's nodes up to
             * its value; the pooling's node takes the index the relu had) */
            lw->value[lw->node->in[0]] = -1;
        }
        int y = stamp(lw, ir_add(lw->g, IR_POOL_MAX, (int[]){pre, pre}, 2, &pa, lw->at));
        lw->out_cl = true;
        int r = ir_unary(lw->g, IR_RELU, y, at);  /* the relu's place and layer, in dumps and profiles */
        if (r >= 0)
            lw->g->nodes[r].layer = layer;
        return r;
    }
    if (!lw->in_cl[0]) {
        const IrShape *s = shape_of(lw, x[0]);
        img = reshape(lw, x[0], (IrShape){5, {s->dim[0], s->dim[1], s->dim[2], s->dim[3], 1}});
    }
    int y = stamp(lw, ir_add(lw->g, IR_POOL_MAX, (int[]){img, img}, 2, &pa, lw->at));
    if (lw->in_cl[0]) {
        lw->out_cl = true;
        return y;
    }
    return reshape(lw, y, ir_shape_of(&lw->node->type));
}

/* max_pool1d and avg_pool1d as their 2-D pooling of height 1: x [B,C,L]
 * seen as [B,C,1,L], a 1 x size window, the result [B,C,1,Lo] seen as
 * [B,C,Lo].  The 2-D lowerings read the window from arguments 1-3 as
 * integers or lists; these are integers, which they take for both axes,
 * so the window is made here. */
static int pool1d(Lower *lw, int x, bool max)
{
    const IrShape *s = shape_of(lw, x);
    int64_t b = s->dim[0], c = s->dim[1], len = s->dim[2];
    IrAttr a = {.win = {.k = {1, ARG(1).i}, .stride = {1, ARG(2).i}, .pad = {0, ARG(3).i}}};
    int y;
    if (max) {  /* each channel a plane: [B,C,1,L,1] */
        int img = reshape(lw, x, (IrShape){5, {b, c, 1, len, 1}});
        y = stamp(lw, ir_add(lw->g, IR_POOL_MAX, (int[]){img, img}, 2, &a, lw->at));
    } else {
        int img = reshape(lw, x, (IrShape){4, {b, c, 1, len}});
        int win = stamp(lw, ir_add(lw->g, IR_WINDOWS, &img, 1, &a, lw->at));
        y = red(lw, IR_MEAN, win, last_axis(lw, win));
    }
    return reshape(lw, y, ir_shape_of(&lw->node->type));
}

static int lower_max_pool1d(Lower *lw, const int *x) { return pool1d(lw, x[0], true); }
static int lower_avg_pool1d(Lower *lw, const int *x) { return pool1d(lw, x[0], false); }

/* average pooling: windows, then the mean of each window (padding counts) */
static int lower_avg_pool(Lower *lw, const int *x)
{
    IrAttr wa = {.win = call_window(lw, 1), .f = 0};
    int win = stamp(lw, ir_add(lw->g, IR_WINDOWS, &x[0], 1, &wa, lw->at));
    IrShape out = *shape_of(lw, win);
    int r = red(lw, IR_MEAN, win, last_axis(lw, win));
    out.rank--;
    return reshape(lw, r, out);
}

static int lower_reshape_like(Lower *lw, const int *x)
{
    return reshape(lw, x[0], ir_shape_of(&lw->node->type));
}

static int lower_embedding(Lower *lw, const int *x)
{
    int in[2] = {param(lw, "weight"), x[0]};
    return stamp(lw, ir_add(lw->g, IR_GATHER, in, 2, NULL, lw->at));
}

/* learned: the table itself; sinusoidal: the fixed table of Vaswani et al.,
 * pe[t, 2i] = sin(t / 10000^(2i/d)), pe[t, 2i+1] = cos(same) */
static int lower_positional(Lower *lw, const int *x)
{
    (void)x;
    int64_t len = ARG(0).i, d = ARG(1).i;
    if (strcmp(ARG(2).s, "learned") == 0)
        return param(lw, "weight");
    double *data = ARENA_ARRAY(lw->g->arena, double, len * d);
    for (int64_t t = 0; t < len; t++)
        for (int64_t i = 0; i < d; i += 2) {
            double angle = (double)t / pow(10000.0, (double)i / (double)d);
            data[t * d + i] = sin(angle);
            if (i + 1 < d)
                data[t * d + i + 1] = cos(angle);
        }
    IrAttr a = {.shape = {2, {len, d}}, .data = data, .name = "sinusoidal"};
    return stamp(lw, ir_add(lw->g, IR_TENSOR, NULL, 0, &a, lw->at));
}

/* (x - mean) / sqrt(var + eps) · weight + bias, over the last axis;
 * the biased variance, as torch.nn.LayerNorm */
static int lower_layer_norm(Lower *lw, const int *x)
{
    uint64_t last = last_axis(lw, x[0]);
    int xc = bin(lw, IR_SUB, x[0], red(lw, IR_MEAN, x[0], last));
    int var = red(lw, IR_MEAN, bin(lw, IR_MUL, xc, xc), last);
    int rstd = un(lw, IR_RSQRT, bin(lw, IR_ADD, var, cnst(lw, ARG(1).f)));
    int y = bin(lw, IR_MUL, bin(lw, IR_MUL, xc, rstd), param(lw, "weight"));
    return bin(lw, IR_ADD, y, param(lw, "bias"));
}

static int lower_dropout(Lower *lw, const int *x)
{
    double p = ARG(1).f;
    if (!lw->opt->training || p == 0)
        return x[0];
    int step = step_input(lw);
    IrAttr a = {.shape = *shape_of(lw, x[0]), .f = p, .i = {lw->opt->seed, lw->dropout_streams++}};
    int mask = stamp(lw, ir_add(lw->g, IR_RANDOM_MASK, &step, 1, &a, lw->at));
    return bin(lw, IR_MUL, x[0], mask);
}

/* ---- decode mode: one position, the keys and values cached (lower.h) ------------ */

/* The decode input "position" [B,1] as a real [B,1,1,1] (made once). */
static int position_real(Lower *lw)
{
    if (lw->at_pos < 0)
        lw->at_pos = reshape(lw, un(lw, IR_CAST, lw->L->position), (IrShape){4, {IR_BATCH, 1, 1, 1}});
    return lw->at_pos;
}

/* x, a value without the batch, where it meets `other`, one with the
 * positions first: a [T, ...] x lines up with the positions (positional(T, D)
 * added to the embeddings), so decode mode reads it at the position, a
 * gather of its row: [B,1,...].  Any other x broadcasts as it is. */
static int at_position(Lower *lw, int x, int other)
{
    const IrShape *s = shape_of(lw, x), *o = shape_of(lw, other);
    if (lw->seq <= 1 || ir_is_batched(s) || !ir_is_batched(o) || s->rank == 0 || s->rank != o->rank - 1
        || s->dim[0] != lw->seq)
        return x;
    IrShape out = {.rank = s->rank + 1, .dim = {IR_BATCH, 1}};
    int64_t row = 1;
    for (int i = 1; i < s->rank; i++)
        row *= out.dim[i + 1] = s->dim[i];
    int in[2] = {s->rank == 2 ? x : reshape(lw, x, (IrShape){2, {lw->seq, row}}), lw->L->position};
    int v = stamp(lw, ir_add(lw->g, IR_GATHER, in, 2, NULL, lw->at));  /* [B,1,row] */
    return s->rank == 2 ? v : reshape(lw, v, out);
}

static const char *const attention_proj[3] = {"query", "key", "value"};

/* x·Wᵀ + b of attention projection i (query, key, value), split into h
 * heads of width dh: [B,H,n,dh] for the n positions of x. */
static int attention_heads(Lower *lw, int x, int i, int64_t n, int64_t h, int64_t dh)
{
    char w[32], b[32];
    snprintf(w, sizeof w, "%s.weight", attention_proj[i]);
    snprintf(b, sizeof b, "%s.bias", attention_proj[i]);
    int p = linear(lw, x, param(lw, w), param(lw, b));
    p = reshape(lw, p, (IrShape){4, {IR_BATCH, n, h, dh}});
    return permute(lw, p, (int[]){0, 2, 1, 3});
}

/* softmax(scores)·v [B,H,n,dh], the heads joined back to [B,n,d], and the
 * output projection. */
static int attention_out(Lower *lw, int scores, int v, int64_t n, int64_t d)
{
    int y = matmul(lw, softmax_last(lw, scores), v, false, false);
    y = permute(lw, y, (int[]){0, 2, 1, 3});
    y = reshape(lw, y, (IrShape){3, {IR_BATCH, n, d}});
    return linear(lw, y, param(lw, "out.weight"), param(lw, "out.bias"));
}

/* Attention at one position over x [B,1,D]: q, k, v [B,H,1,dh] as below;
 * k and v are written into the caches [B,H,T,dh] at the position
 * (select where one_hot(position)), the new caches are updates of the
 * state; scores q·kᵀ/√dh [B,H,1,T] are kept at places <= position (the
 * causal mask; later places hold nothing of this window) and −∞ elsewhere;
 * softmax, · v, heads joined, the output projection. */
static int lower_attention_decode(Lower *lw, const int *x)
{
    int64_t h = ARG(1).i, t = lw->seq;
    int64_t d = shape_of(lw, x[0])->dim[2], dh = d / h;
    IrShape cache = {4, {IR_BATCH, h, t, dh}};
    IrAttr oh = {.i = {t}};
    int place = stamp(lw, ir_add(lw->g, IR_ONE_HOT, &lw->L->position, 1, &oh, lw->at));
    place = reshape(lw, place, (IrShape){4, {IR_BATCH, 1, t, 1}});
    int split[3];
    for (int i = 0; i < 3; i++) {
        int p = attention_heads(lw, x[0], i, 1, h, dh);
        if (i > 0) {
            const char *name = arena_printf(lw->g->arena, "cache.%s.%s", lw->node->name, attention_proj[i]);
            int old = ir_input(lw->g, ROLE_STATE, name, lw->g->ftype, &cache, lw->at);
            p = sel(lw, place, p, old);
            ir_output(lw->g, name, p, OUT_UPDATE, old);
        }
        split[i] = p;
    }
    int scores = matmul(lw, split[0], split[1], false, true);
    scores = bin(lw, IR_MUL, scores, cnst(lw, 1.0 / sqrt((double)dh)));
    double *places = ARENA_ARRAY(lw->g->arena, double, t);
    for (int64_t j = 0; j < t; j++)
        places[j] = (double)j;
    IrAttr pa = {.shape = {1, {t}}, .data = places, .name = "places"};
    int kept = bin(lw, IR_GE, position_real(lw), stamp(lw, ir_add(lw->g, IR_TENSOR, NULL, 0, &pa, lw->at)));
    scores = sel(lw, kept, scores, cnst(lw, -INFINITY));
    return attention_out(lw, scores, split[2], 1, d);
}

/* scores [B,H,T,S] kept where the mask m [B,S] (or [S], the same for every
 * example) is > 0, −∞ elsewhere; as they are without one (m < 0). */
static int masked(Lower *lw, int scores, int m)
{
    if (m < 0)
        return scores;
    const IrShape *ms = shape_of(lw, m);
    int kept = bin(lw, IR_GT, m, cnst(lw, 0));
    if (ms->rank == 2)
        kept = reshape(lw, kept, (IrShape){4, {IR_BATCH, 1, 1, ms->dim[1]}});
    return sel(lw, kept, scores, cnst(lw, -INFINITY));
}

/* Multi-head self-attention over x [B,T,D] with H heads of width dh = D/H:
 * q, k, v = x·Wᵀ + b, split into heads [B,H,T,dh]; scores q·kᵀ/√dh [B,H,T,T],
 * the causal mask (−∞ where the key's place is after the query's), mask:'s (masked), softmax,
 * · v, heads joined back to [B,T,D], and the output projection. */
static int lower_attention(Lower *lw, const int *x)
{
    if (lw->seq)
        return lower_attention_decode(lw, x);
    int64_t h = ARG(1).i;
    const IrShape *xs = shape_of(lw, x[0]);
    int64_t t = xs->dim[1], d = xs->dim[2], dh = d / h;
    int split[3];
    for (int i = 0; i < 3; i++)
        split[i] = attention_heads(lw, x[0], i, t, h, dh);
    int scores = matmul(lw, split[0], split[1], false, true);
    scores = bin(lw, IR_MUL, scores, cnst(lw, 1.0 / sqrt((double)dh)));
    if (ARG(2).b) {
        /* the mask computed from two columns of places (query [T,1], key
         * [T]), not a [T,T] table: compile memory stays linear in T (a
         * table of 16,384 positions was 2 GiB of doubles, issue 17) */
        double *places = ARENA_ARRAY(lw->g->arena, double, t);
        for (int64_t j = 0; j < t; j++)
            places[j] = (double)j;
        IrAttr qa = {.shape = {2, {t, 1}}, .data = places, .name = "query_places"};
        IrAttr ka = {.shape = {1, {t}}, .data = places, .name = "key_places"};
        int q = stamp(lw, ir_add(lw->g, IR_TENSOR, NULL, 0, &qa, lw->at));
        int kept = bin(lw, IR_GE, q, stamp(lw, ir_add(lw->g, IR_TENSOR, NULL, 0, &ka, lw->at)));
        scores = sel(lw, kept, scores, cnst(lw, -INFINITY));
    }
    scores = masked(lw, scores, ARG(3).kind == VAL_TENSOR ? x[1] : -1);  /* x, the mask */
    return attention_out(lw, scores, split[2], t, d);
}

/* x [B,T,D] attending to a context [B,S,E]: q from x, k and v from the
 * context, [B,H,T,dh] and [B,H,S,dh]; scores [B,H,T,S], softmax, · v, heads
 * joined, the output projection (lower_attention without the causal mask). */
static int lower_cross_attention(Lower *lw, const int *x)
{
    int64_t h = ARG(2).i;
    int64_t t = shape_of(lw, x[0])->dim[1], s = shape_of(lw, x[1])->dim[1], d = shape_of(lw, x[0])->dim[2];
    int64_t dh = d / h;
    int q = attention_heads(lw, x[0], 0, t, h, dh), k = attention_heads(lw, x[1], 1, s, h, dh);
    int scores = matmul(lw, q, k, false, true);
    scores = bin(lw, IR_MUL, scores, cnst(lw, 1.0 / sqrt((double)dh)));
    scores = masked(lw, scores, ARG(3).kind == VAL_TENSOR ? x[2] : -1);  /* x, the context, the mask */
    return attention_out(lw, scores, attention_heads(lw, x[1], 2, s, h, dh), t, d);
}

/* Leading axes broadcast by numpy's rule on the shapes per example
 * (language.md §7.1), the batch apart: a batched operand with fewer axes
 * than the other gets 1s after its batch, so that its leading axes line up
 * from the right and the batch stays first ([B, 3, 4] · [2, 4, 5] is
 * [B, 1, 3, 4] · [2, 4, 5] = [B, 2, 3, 5]; as written, [B] met [2]). */
static int lower_matmul(Lower *lw, const int *x)
{
    int a = align_batched(lw, x[0], x[1], lw->at), b = align_batched(lw, x[1], x[0], lw->at);
    if (a != x[0])
        stamp(lw, a);  /* the reshape is the matmul's (an unchanged operand is its maker's) */
    if (b != x[1])
        stamp(lw, b);
    return matmul(lw, a, b, false, false);
}

/* The activations below are elementwise (BR_ELEMENT): on a channels-last
 * image they give the image channels last (takes_channels_last). */
static int lower_relu(Lower *lw, const int *x) { return un(lw, IR_RELU, x[0]); }
static int lower_sigmoid(Lower *lw, const int *x) { return un(lw, IR_SIGMOID, x[0]); }
static int lower_tanh(Lower *lw, const int *x) { return un(lw, IR_TANH, x[0]); }

static int lower_leaky_relu(Lower *lw, const int *x)
{
    int pos = bin(lw, IR_GT, x[0], cnst(lw, 0));
    int in[3] = {pos, x[0], bin(lw, IR_MUL, x[0], cnst(lw, ARG(1).f))};
    return stamp(lw, ir_add(lw->g, IR_SELECT, in, 3, NULL, lw->at));
}

/* exact: x/2 · (1 + erf(x/√2)); tanh: x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³))) */
static int lower_gelu(Lower *lw, const int *x)
{
    int inner;
    if (strcmp(ARG(1).s, "tanh") == 0) {
        int x3 = stamp(lw, ir_pow(lw->g, x[0], 3, lw->at));
        int arg = bin(lw, IR_ADD, x[0], bin(lw, IR_MUL, x3, cnst(lw, 0.044715)));
        inner = un(lw, IR_TANH, bin(lw, IR_MUL, arg, cnst(lw, sqrt(2.0 / M_PI))));
    } else {
        inner = un(lw, IR_ERF, bin(lw, IR_MUL, x[0], cnst(lw, M_SQRT1_2)));
    }
    int half = bin(lw, IR_MUL, x[0], cnst(lw, 0.5));
    return bin(lw, IR_MUL, half, bin(lw, IR_ADD, inner, cnst(lw, 1)));
}

/* x / temperature (the call's second argument); x itself at 1 */
static int over_temperature(Lower *lw, const int *x)
{
    double t = ARG(1).f;
    return t == 1 ? x[0] : bin(lw, IR_DIV, x[0], cnst(lw, t));
}

/* row (softmax_last or log_softmax_last) of x / temperature along the axes
 * of the call's third argument: along the last axis as it stands; along
 * others, moved last and joined (axes_last), then split and moved back.
 * Two copies (the permutes) rather than row code along any axis: the rows
 * stay one fused_rows kernel, and their gradient is the last axis's between
 * the permutes' own. */
static int along_axes(Lower *lw, const int *x, int (*row)(Lower *, int))
{
    int z = over_temperature(lw, x);
    uint64_t axes = axes_arg(lw, z, 2);
    if (axes == last_axis(lw, z))
        return row(lw, z);
    int perm[IR_MAX_RANK], back[IR_MAX_RANK];
    IrShape moved;
    int y = reshape(lw, row(lw, axes_last(lw, z, axes, perm, &moved)), moved);
    for (int i = 0; i < moved.rank; i++)
        back[perm[i]] = i;
    return permute(lw, y, back);
}

static int lower_softmax(Lower *lw, const int *x) { return along_axes(lw, x, softmax_last); }
static int lower_log_softmax(Lower *lw, const int *x) { return along_axes(lw, x, log_softmax_last); }

/* ---- primitives: compositions of IR ops --------------------------------------- */

static int lower_exp(Lower *lw, const int *x) { return un(lw, IR_EXP, x[0]); }
static int lower_log(Lower *lw, const int *x) { return un(lw, IR_LOG, x[0]); }
static int lower_sqrt(Lower *lw, const int *x) { return un(lw, IR_SQRT, x[0]); }
static int lower_pow(Lower *lw, const int *x) { return stamp(lw, ir_pow(lw->g, x[0], ARG(1).f, lw->at)); }

/* |x| = relu(x) + relu(−x): exact (one term is 0), fused into one kernel, and
 * its derivative at 0 is 0 (relu' = x > 0 for both terms), sign(0) = 0 as
 * torch.abs has it.  No op of its own: nothing here needs one. */
static int lower_abs(Lower *lw, const int *x)
{
    int pos = un(lw, IR_RELU, x[0]);
    int neg = un(lw, IR_RELU, un(lw, IR_NEG, x[0]));
    return bin(lw, IR_ADD, pos, neg);
}

/* The IR value of argument k, a tensor or a number: sema numbers only the
 * tensor arguments in .in, so x[] holds them in order. */
static int operand(Lower *lw, const int *x, int k)
{
    if (ARG(k).kind != VAL_TENSOR)
        return cnst(lw, ARG(k).f);
    int t = 0;
    for (int i = 0; i < k; i++)
        t += ARG(i).kind == VAL_TENSOR;
    return x[t];
}

/* two operands aligned as a + b is (align_batched) */
static int lower_extremum(Lower *lw, const int *x, IrOp op)
{
    int a = operand(lw, x, 0), b = operand(lw, x, 1);
    a = at_position(lw, a, b);
    b = at_position(lw, b, a);
    a = align_batched(lw, a, b, lw->at);
    b = align_batched(lw, b, a, lw->at);
    return bin(lw, op, a, b);
}

static int lower_maximum(Lower *lw, const int *x) { return lower_extremum(lw, x, IR_MAX); }
static int lower_minimum(Lower *lw, const int *x) { return lower_extremum(lw, x, IR_MIN); }

/* max(min(x, hi), lo), leaving out an infinite bound */
static int lower_clamp(Lower *lw, const int *x)
{
    int y = x[0];
    if (!isinf(ARG(2).f))
        y = bin(lw, IR_MIN, y, cnst(lw, ARG(2).f));
    if (!isinf(ARG(1).f))
        y = bin(lw, IR_MAX, y, cnst(lw, ARG(1).f));
    return y;
}

/* sum/mean over any axes at once; max over the last axis only (IR_RMAX,
 * whose shape rule is shp_reduce_last), so other axes are moved last and
 * joined into one first.  IR reductions keep the axes as 1: the reshape to
 * the checked type removes them (or keeps them, with keep). */
static int lower_reduce(Lower *lw, const int *x, IrOp op)
{
    int v = x[0], rank = shape_of(lw, v)->rank;
    uint64_t axes = axes_arg(lw, v, 1);
    if (ir_ops[op].shape == shp_reduce_last && axes != (uint64_t)1 << (rank - 1)) {
        int perm[IR_MAX_RANK];
        IrShape moved;
        v = axes_last(lw, v, axes, perm, &moved);
        axes = last_axis(lw, v);
    }
    return reshape(lw, red(lw, op, v, axes), type_shape(lw, &lw->node->type));
}

/* m + log Σ exp(x − m) along the axes (moved last first, as max's), m the
 * maximum there: exp(x) itself overflows f32 past 88.7.  Its gradient,
 * built from these ops with m held constant, is softmax(x) · g.  The result
 * [..., 1] holds one number per row: the reshape to the checked type puts
 * the 1s where the axes were, with keep, or drops them. */
static int lower_logsumexp(Lower *lw, const int *x)
{
    int v = x[0], m, s;
    uint64_t axes = axes_arg(lw, v, 1);
    if (axes != last_axis(lw, v)) {
        int perm[IR_MAX_RANK];
        IrShape moved;
        v = axes_last(lw, v, axes, perm, &moved);
    }
    int l = log_sum_exp_shifted(lw, v, &m, &s);
    return reshape(lw, bin(lw, IR_ADD, m, l), type_shape(lw, &lw->node->type));
}

static int lower_sum(Lower *lw, const int *x) { return lower_reduce(lw, x, IR_SUM); }
static int lower_mean(Lower *lw, const int *x) { return lower_reduce(lw, x, IR_MEAN); }
static int lower_max(Lower *lw, const int *x) { return lower_reduce(lw, x, IR_RMAX); }

static int lower_transpose(Lower *lw, const int *x)
{
    int rank = shape_of(lw, x[0])->rank, perm[IR_MAX_RANK];
    for (int i = 0; i < rank; i++)
        perm[i] = i;
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    return permute(lw, x[0], perm);
}

/* An operand without the batch is broadcast over it first: IR_CONCAT
 * joins operands of one rank. */
static int lower_concat(Lower *lw, const int *x)
{
    int a = x[0], b = x[1];
    IrShape out = ir_shape_of(&lw->node->type);
    for (int k = 0; k < 2; k++) {
        int *v = k ? &b : &a;
        if (!ir_is_batched(shape_of(lw, *v)) && ir_is_batched(&out)) {
            IrShape s = *shape_of(lw, *v);
            memmove(s.dim + 1, s.dim, sizeof(int64_t) * (size_t)s.rank);
            s.dim[0] = IR_BATCH;
            s.rank++;
            *v = stamp(lw, ir_broadcast(lw->g, *v, &s, lw->at));
        }
    }
    IrAttr ca = {.i = {ir_axis(lw, a, ARG(2).i)}};
    int in[2] = {a, b};
    return stamp(lw, ir_add(lw->g, IR_CONCAT, in, 2, &ca, lw->at));
}

/* labels [...] -> [..., C]: 1 at the label, 0 elsewhere (C: the classes of
 * its type); no gradient goes back to the labels */
static int lower_one_hot(Lower *lw, const int *x)
{
    IrAttr oh = {.i = {ARG(0).t.classes}};
    return stamp(lw, ir_add(lw->g, IR_ONE_HOT, &x[0], 1, &oh, lw->at));
}

/* mean over examples (and positions) of −log softmax(logits)[target] */
static int lower_cross_entropy(Lower *lw, const int *x)
{
    int logits = x[0], target = x[1];
    uint64_t last = last_axis(lw, logits);
    int logp = log_softmax_last(lw, logits);
    IrAttr oh = {.i = {shape_of(lw, logits)->dim[shape_of(lw, logits)->rank - 1]}};
    int onehot = stamp(lw, ir_add(lw->g, IR_ONE_HOT, &target, 1, &oh, lw->at));
    int nll = un(lw, IR_NEG, red(lw, IR_SUM, bin(lw, IR_MUL, onehot, logp), last));
    return mean_all(lw, nll);
}

static int lower_mse(Lower *lw, const int *x)
{
    int d = bin(lw, IR_SUB, x[0], x[1]);
    return mean_all(lw, bin(lw, IR_MUL, d, d));
}

/* log v clamped below at floor, as torch's clamp_min(log v, −100): floor
 * where it is larger, else log v, so that a NaN of v (which compares false)
 * comes out NaN.  max(log v, floor) would give floor for it, and a model whose
 * predictions went NaN would train on at a loss of 100 that the runtime's
 * non-finite guard never sees.  On every other input the value is max's, and
 * a tie (log v == floor) gives log v the gradient as max and torch do.
 * zero, tiny: the constants 0 and 2^-149 (below). */
static int log_clamped(Lower *lw, int v, int zero, int tiny, int floor)
{
    /* the log of v, but of 2^-149 where v is ±0 (a sigmoid saturated to
     * exactly 0 or 1): the smallest f32 subnormal's log, −103.3, is below
     * the floor, so the value is as before, and the clamped branch's zero
     * gradient divides by 2^-149, not by 0 (0/0 made the step's gradients
     * NaN; torch's backward bounds its divisor too).  Only 0: a v below 0
     * (a "probability" out of range) keeps its NaN log, and NaN its NaN. */
    int lv = un(lw, IR_LOG, sel(lw, bin(lw, IR_EQ, v, zero), tiny, v));
    return sel(lw, bin(lw, IR_GT, floor, lv), floor, lv);
}

/* −(y log p + (1−y) log(1−p)), each log clamped at −100 as torch.nn.BCELoss */
static int lower_binary_cross_entropy(Lower *lw, const int *x)
{
    int p = x[0], y = x[1];
    int floor = cnst(lw, -100), tiny = cnst(lw, 0x1p-149), zero = cnst(lw, 0);
    int lp = log_clamped(lw, p, zero, tiny, floor);
    int lq = log_clamped(lw, bin(lw, IR_SUB, cnst(lw, 1), p), zero, tiny, floor);
    /* one node-building call per argument list: C leaves their order open */
    int pos = bin(lw, IR_MUL, y, lp);
    int neg = bin(lw, IR_MUL, bin(lw, IR_SUB, cnst(lw, 1), y), lq);
    int sum = bin(lw, IR_ADD, pos, neg);
    return mean_all(lw, un(lw, IR_NEG, sum));
}

static int lower_binary_accuracy(Lower *lw, const int *x);

/* the fraction of positions whose largest score is the target */
static int lower_accuracy(Lower *lw, const int *x)
{
    if (lw->g->nodes[x[1]].type != IR_I32)
        return lower_binary_accuracy(lw, x);
    int am = stamp(lw, ir_add(lw->g, IR_ARGMAX, &x[0], 1, NULL, lw->at));
    am = reshape(lw, am, *shape_of(lw, x[1]));
    int predicted = un(lw, IR_CAST, am);
    int hit = bin(lw, IR_EQ, predicted, un(lw, IR_CAST, x[1]));
    return mean_all(lw, hit);
}

static int lower_mae(Lower *lw, const int *x)
{
    int d = bin(lw, IR_SUB, x[0], x[1]);
    return mean_all(lw, bin(lw, IR_MAX, d, un(lw, IR_NEG, d)));
}

/* binary_cross_entropy(sigmoid(z), y) without forming sigmoid(z):
 * max(z, 0) − z·y + log(1 + exp(−|z|)), as torch.nn.BCEWithLogitsLoss;
 * exp never sees a positive argument, so nothing overflows. */
static int lower_binary_cross_entropy_logits(Lower *lw, const int *x)
{
    int z = x[0], y = x[1];
    int absz = bin(lw, IR_MAX, z, un(lw, IR_NEG, z));
    int soft = un(lw, IR_LOG, bin(lw, IR_ADD, cnst(lw, 1), un(lw, IR_EXP, un(lw, IR_NEG, absz))));
    int pos = bin(lw, IR_MAX, z, cnst(lw, 0));
    int zy = bin(lw, IR_MUL, z, y);
    return mean_all(lw, bin(lw, IR_ADD, bin(lw, IR_SUB, pos, zy), soft));
}

/* binary: the fraction of positions where p > 0.5 agrees with target > 0.5 */
static int lower_binary_accuracy(Lower *lw, const int *x)
{
    int half = cnst(lw, 0.5);
    int predicted = bin(lw, IR_GT, x[0], half);
    int truth = bin(lw, IR_GT, x[1], half);
    return mean_all(lw, bin(lw, IR_EQ, predicted, truth));
}

static const LowerFn lowering[B_COUNT] = {
    [B_DENSE] = lower_dense, [B_CONV2D] = lower_conv2d, [B_MAX_POOL] = lower_max_pool,
    [B_AVG_POOL] = lower_avg_pool, [B_CONV1D] = lower_conv1d, [B_MAX_POOL1D] = lower_max_pool1d,
    [B_AVG_POOL1D] = lower_avg_pool1d, [B_FLATTEN] = lower_reshape_like, [B_RESHAPE] = lower_reshape_like,
    [B_EMBEDDING] = lower_embedding, [B_POSITIONAL] = lower_positional, [B_LAYER_NORM] = lower_layer_norm,
    [B_DROPOUT] = lower_dropout, [B_ATTENTION] = lower_attention,
    [B_CROSS_ATTENTION] = lower_cross_attention, [B_MATMUL] = lower_matmul,
    [B_RELU] = lower_relu, [B_LEAKY_RELU] = lower_leaky_relu, [B_SIGMOID] = lower_sigmoid,
    [B_TANH] = lower_tanh, [B_GELU] = lower_gelu, [B_SOFTMAX] = lower_softmax, [B_LOG_SOFTMAX] = lower_log_softmax,
    [B_CROSS_ENTROPY] = lower_cross_entropy, [B_MSE] = lower_mse,
    [B_BINARY_CROSS_ENTROPY] = lower_binary_cross_entropy, [B_ACCURACY] = lower_accuracy,
    [B_EXP] = lower_exp, [B_LOG] = lower_log, [B_SQRT] = lower_sqrt, [B_ABS] = lower_abs,
    [B_POW] = lower_pow, [B_MAXIMUM] = lower_maximum, [B_MINIMUM] = lower_minimum, [B_CLAMP] = lower_clamp,
    [B_SUM] = lower_sum, [B_MEAN] = lower_mean, [B_MAX] = lower_max, [B_TRANSPOSE] = lower_transpose,
    [B_LOGSUMEXP] = lower_logsumexp, [B_CONCAT] = lower_concat, [B_ONE_HOT] = lower_one_hot,
    [B_MAE] = lower_mae, [B_BINARY_CROSS_ENTROPY_LOGITS] = lower_binary_cross_entropy_logits,
    /* repeat is expanded by sema; train-block entries are not lowered here */
};

bool lower_covers(int builtin_id) { return builtin_id >= 0 && builtin_id < B_COUNT && lowering[builtin_id]; }

/* The built-ins that take an image channels last: convolution and max pooling
 * (their kernels want it; they say what they return in out_cl), and the
 * elementwise ones of one tensor operand (the builtin table's BR_ELEMENT),
 * which return it channels last in turn.  Everything else gets [B,C,H,W]
 * back (to_nchw). */
enum { CL_NO, CL_TAKES, CL_PASSES };
static const unsigned char takes_channels_last[B_COUNT] = {
    [B_CONV2D] = CL_TAKES, [B_MAX_POOL] = CL_TAKES,
};

/* Sema node i's value in its checked layout: a channels-last image gets its
 * permute back (made once, with the location of the node that made it). */
static int to_nchw(Lower *lw, int i)
{
    if (!lw->chlast[i])
        return lw->value[i];
    if (lw->nchw[i] < 0) {
        const SemaNode *saved = lw->node;
        Span at = lw->at;
        lw->node = &lw->m->nodes[i];
        lw->at = lw->node->at;
        int v = lw->value[i];
        const IrShape *s = shape_of(lw, v);
        IrShape nchw = {4, {s->dim[0], s->dim[3], s->dim[1], s->dim[2]}};
        lw->nchw[i] = s->dim[3] == 1 ? reshape(lw, v, nchw) : permute(lw, v, (int[]){0, 3, 1, 2});
        lw->node = saved;
        lw->at = at;
    }
    return lw->nchw[i];
}

/* ---- the model ------------------------------------------------------------------- */

static int lower_node(Lower *lw, int i)
{
    const SemaNode *n = &lw->m->nodes[i];
    lw->node = n;
    lw->at = n->at;
    int x[BUILTIN_MAX_PARAMS];
    int cl = n->kind != SN_CALL ? CL_NO
           : n->builtin->reach == BR_ELEMENT ? CL_PASSES : takes_channels_last[n->builtin - builtin_table];
    lw->out_cl = false;
    for (int k = 0; k < BUILTIN_MAX_PARAMS; k++) {
        int in = n->in[k];
        lw->in_cl[k] = in >= 0 && lw->chlast[in] && cl != CL_NO;
        x[k] = in < 0 ? -1 : lw->in_cl[k] ? lw->value[in] : to_nchw(lw, in);
    }
    switch (n->kind) {
    case SN_INPUT:
    case SN_TARGET: {
        IrShape s = type_shape(lw, &n->type);
        IrType t = n->type.elem == ELEM_INDEX ? IR_I32 : lw->g->ftype;
        int id = ir_input(lw->g, n->kind == SN_INPUT ? ROLE_INPUT : ROLE_TARGET, n->name, t, &s, n->at);
        if (id >= 0)
            lw->g->nodes[id].a.i[0] = n->type.classes;  /* labels: how many classes */
        if (id >= 0 && lw->seq) {  /* decode: where each sequence's token is in its window */
            IrShape ps = {2, {IR_BATCH, 1}};
            lw->L->position = ir_input(lw->g, ROLE_INPUT, "position", IR_I32, &ps, n->at);
            if (lw->L->position >= 0)
                lw->g->nodes[lw->L->position].a.i[0] = lw->seq;
        }
        return id;
    }
    case SN_CALL: {
        LowerFn fn = lowering[n->builtin - builtin_table];
        lw->out_cl = cl == CL_PASSES && lw->in_cl[0];
        return fn ? fn(lw, x) : -1;
    }
    case SN_BINARY: {
        static const IrOp op[] = {[BIN_ADD] = IR_ADD, [BIN_SUB] = IR_SUB, [BIN_MUL] = IR_MUL, [BIN_DIV] = IR_DIV};
        int a = x[0], b = n->scalar_side ? ir_const(lw->g, n->scalar, n->at) : x[1];
        if (n->scalar_side == 1) {
            int t = a;
            a = b;
            b = t;
        }
        a = at_position(lw, a, b);
        b = at_position(lw, b, a);
        a = align_batched(lw, a, b, n->at);
        b = align_batched(lw, b, a, n->at);
        return ir_binary(lw->g, op[n->op], a, b, n->at);
    }
    case SN_NEG:
        return ir_unary(lw->g, IR_NEG, x[0], n->at);
    case SN_INDEX: {
        /* one SLICE per narrowed axis, then a reshape drops the indexed ones */
        int v = x[0], first = n->type.batched ? 1 : 0;
        for (int k = 0; k < n->slice->naxes && v >= 0; k++) {
            IrAttr sa = {.i = {first + k, n->slice->axis[k].start, n->slice->axis[k].len}};
            if (sa.i[2] != shape_of(lw, v)->dim[first + k])
                v = ir_add(lw->g, IR_SLICE, &v, 1, &sa, n->at);
        }
        IrShape out = ir_shape_of(&n->type);
        return v >= 0 && !ir_shape_equal(&out, shape_of(lw, v)) ? ir_reshape(lw->g, v, &out, n->at) : v;
    }
    case SN_PARAM:
        return lw->L->param[n->first_param];
    case SN_CONST: {
        /* a tensor literal: constant data, no gradient */
        int64_t count = shape_elems(&n->type.shape);
        double *data = ARENA_ARRAY(lw->g->arena, double, (size_t)count);
        memcpy(data, n->data, sizeof *data * (size_t)count);
        IrAttr a = {.shape = ir_shape_of(&n->type), .data = data, .name = "literal"};
        return ir_add(lw->g, IR_TENSOR, NULL, 0, &a, n->at);
    }
    }
    return -1;
}

/* A loss or a metric as one number: the mean over the batch of a
 * per-example value (f32[B]), or the scalar a loss built-in gave. */
static int batch_mean(Lower *lw, int node)
{
    int v = to_nchw(lw, node);
    if (shape_of(lw, v)->rank == 0)
        return v;
    lw->node = &lw->m->nodes[node];
    lw->at = lw->node->at;
    return mean_all(lw, v);
}

int lower_model(const SemaModel *m, const Source *src, Arena *a, const LowerOptions *opt, Lowered *out,
                const char **err)
{
    memset(out, 0, sizeof *out);
    ir_init(&out->g, a, src, m->name, opt->ftype);
    out->step = out->loss = out->output = out->position = -1;
    out->nparams = m->nparams;
    out->param = ARENA_ARRAY(a, int, m->nparams + 1);
    Lower lw = {.L = out, .g = &out->g, .m = m, .opt = opt, .at_pos = -1};
    bool *needed = NULL;
    if (opt->decode) {
        needed = ARENA_ARRAY(a, bool, m->nnodes + 1);
        if (!(lw.seq = lower_decode_block(m, src, a, needed, err))) {
            out->no_decode = *err;
            return -1;
        }
        out->block = lw.seq;
    }
    lw.value = ARENA_ARRAY(a, int, m->nnodes + 1);
    lw.chlast = ARENA_ARRAY(a, bool, m->nnodes + 1);
    lw.nchw = ARENA_ARRAY(a, int, m->nnodes + 1);
    for (int i = 0; i < m->nnodes; i++)
        lw.nchw[i] = -1;
    /* Parameters first: they are the graph's longest-lived inputs. */
    for (int i = 0; i < m->nparams; i++) {
        const SemaParam *p = &m->params[i];
        IrShape s = {.rank = p->shape.rank};
        memcpy(s.dim, p->shape.dim, sizeof(int64_t) * (size_t)p->shape.rank);
        out->param[i] = ir_input(&out->g, ROLE_PARAM, p->name, opt->ftype, &s, p->at);
    }
    for (int i = 0; i < m->nnodes; i++) {
        if (needed && !needed[i]) {  /* decode: the loss, the metrics and the targets */
            lw.value[i] = -1;
            continue;
        }
        int v = lower_node(&lw, i);
        if (v < 0) {
            *err = out->g.error ? out->g.error
                 : arena_printf(a, "no lowering for '%s'", m->nodes[i].builtin ? m->nodes[i].builtin->name : "?");
            return -1;
        }
        lw.value[i] = v;
        lw.chlast[i] = lw.out_cl;
        lw.out_cl = false;
        if (!out->g.nodes[v].layer && m->nodes[i].builtin)
            out->g.nodes[v].layer = m->nodes[i].builtin->name;
    }
    out->output = to_nchw(&lw, m->output);
    if (opt->bindings)
        for (int i = 0; i < m->nnodes; i++)
            lw.value[i] = to_nchw(&lw, i);
    out->value = lw.value;
    ir_output(&out->g, "output", out->output, OUT_PREDICTION, -1);
    if (m->loss >= 0 && !opt->decode) {
        out->loss = batch_mean(&lw, m->loss);
        ir_output(&out->g, "loss", out->loss, OUT_LOSS, -1);
    }
    for (int i = 0; i < m->nmetrics && !opt->decode; i++) {
        /* named after what it calls ("accuracy", a user layer), else "metric";
         * a name two metrics share is numbered among them (mae_1, mae_2), so
         * an accuracy beside an mae stays "accuracy" (BRIEF: test_accuracy) */
        const char *base = m->metric_names[i];
        int same = 0, nth = 0;
        for (int k = 0; k < m->nmetrics; k++)
            if (strcmp(m->metric_names[k], base) == 0)
                same++, nth += k <= i;
        const char *name = same == 1 ? base : arena_printf(a, "%s_%d", base, nth);
        ir_output(&out->g, name, batch_mean(&lw, m->metrics[i]), OUT_METRIC, -1);
    }
    out->g.nforward = out->g.ngrad = out->g.n;
    if (out->g.error) {
        *err = out->g.error;
        return -1;
    }
    return 0;
}
