/* builtins.c — the table of built-ins and their shape rules; see builtins.h.
 *
 * A check function receives its arguments already bound and kind-checked
 * against the signature (integers are integers, tensors are tensors, ranges
 * hold).  What is left to it is what depends on shapes: it reports a
 * mismatch with both shapes, declares the parameters the call creates, sets
 * the result type and counts forward FLOPs per example (a multiply-add is 2,
 * any other elementwise operation 1; docs/language.md lists each rule).
 */
#include "builtins.h"
#include "sema.h"
#include "../../runtime/columns.h"
#include "../util/suggest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INT(v)   {.kind = VAL_INT, .i = (v)}
#define FLT(v)   {.kind = VAL_FLOAT, .f = (v)}
#define BOOL(v)  {.kind = VAL_BOOL, .b = (v)}
#define STR(v)   {.kind = VAL_STRING, .s = (v)}

/* ---- helpers ------------------------------------------------------------- */

static TensorType *arg_t(CallCheck *cc, int i) { return &cc->arg[i].t; }

static bool need_real(CallCheck *cc, int i, int min_rank)
{
    TensorType *t = arg_t(cc, i);
    if (t->elem != ELEM_F32) {
        cc_error(cc, i, "%s needs real numbers, but %s holds integer labels%s", cc->b->name, cc_type(cc, t),
                 t->shape.rank ? "; use embedding() to turn tokens into vectors" : "");
        cc_note_one_hot(cc, i, NULL);
        return false;
    }
    if (t->shape.rank < min_rank)
        return cc_error(cc, i, "%s needs a tensor with at least %d dimension%s per example, found %s",
                        cc->b->name, min_rank, min_rank == 1 ? "" : "s", cc_type(cc, t));
    return true;
}

/* A layer that works on each example's own value (its windows, its
 * sequence: conv2d, the pools, attention) needs one: a value made of
 * parameters and constants alone is the same for every example and has no
 * batch to work over (it reached the lowering, which takes [B, ...], as an
 * internal error). */
static bool need_examples(CallCheck *cc, int i, const char *what)
{
    TensorType *t = arg_t(cc, i);
    if (t->batched)
        return true;
    cc_error(cc, i, "%s works on each example's own %s, but %s is the same for every example: it is made of "
             "parameters and constants alone", cc->b->name, what, cc_type(cc, t));
    cc_note(cc, SPAN_NONE, "combine it with a value computed from an input first (x + it, x * it)");
    return false;
}

static void result_tensor(CallCheck *cc, bool batched, const Shape *s)
{
    cc->result = (Value){.kind = VAL_TENSOR};
    cc->result.t = (TensorType){.elem = ELEM_F32, .batched = batched, .shape = *s};
}

/* Too large for one tensor: products elsewhere stay far from overflow. */
static bool check_size(CallCheck *cc, const Shape *s)
{
    double n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= (double)s->dim[i];
    if (n > (double)NNC_MAX_ELEMS)
        return cc_error(cc, -1, "%s would make a tensor of shape %s, more than 2^40 elements",
                        cc->b->name, cc_shape(cc, s, false));
    return true;
}

static uint64_t elems(const Shape *s) { return (uint64_t)shape_elems(s); }

/* Whether a result of rank axes of its own fits the IR's NNC_MAX_RANK with
 * its batch (types.h); else says so at argument arg (-1: the call), as
 * "<what> would have too many dimensions (at most 8, the batch included)". */
static bool rank_fits(CallCheck *cc, int arg, int rank, bool batched, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static bool rank_fits(CallCheck *cc, int arg, int rank, bool batched, const char *fmt, ...)
{
    if (rank <= shape_max_rank(batched))
        return true;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return cc_error(cc, arg, "%s would have too many dimensions (at most %d%s)", what, NNC_MAX_RANK,
                    batched ? ", the batch included" : "");
}

/* ---- layers -------------------------------------------------------------- */

/* dense(x, units): x [..., in] -> [..., units]; weight [units, in], bias [units] */
static bool check_dense(CallCheck *cc)
{
    if (!need_real(cc, 0, 1))
        return false;
    TensorType *x = arg_t(cc, 0);
    int64_t in = x->shape.dim[x->shape.rank - 1], units = cc->arg[1].i;
    Shape out = x->shape;
    out.dim[out.rank - 1] = units;
    if (!check_size(cc, &out) || !check_size(cc, &(Shape){2, {units, in}}))
        return false;
    cc_param(cc, "weight", &(Shape){2, {units, in}}, INIT_UNIFORM_FAN_IN, in);
    if (cc->arg[2].b)
        cc_param(cc, "bias", &(Shape){1, {units}}, INIT_UNIFORM_FAN_IN, in);
    uint64_t rows = elems(&x->shape) / (uint64_t)in;
    cc->flops = rows * (uint64_t)units * (2 * (uint64_t)in + (cc->arg[2].b ? 1 : 0));
    result_tensor(cc, x->batched, &out);
    return true;
}

/* Output size of a sliding window, or -1 when the window does not fit. */
static int64_t window_out(int64_t in, int64_t k, int64_t stride, int64_t pad)
{
    int64_t span = in + 2 * pad - k;
    return span < 0 ? -1 : span / stride + 1;
}

void builtin_window_arg(const Value *v, int64_t hw[2])
{
    hw[0] = v->kind == VAL_LIST ? v->list.v[0] : v->i;
    hw[1] = v->kind == VAL_LIST ? v->list.v[1] : v->i;
}

/* A window argument as a message shows it, in buf: "3" for both axes, "[0, 2]". */
static const char *window_phrase(char buf[64], const int64_t hw[2])
{
    if (hw[0] == hw[1])
        snprintf(buf, 64, "%lld", (long long)hw[0]);
    else
        snprintf(buf, 64, "[%lld, %lld]", (long long)hw[0], (long long)hw[1]);
    return buf;
}

/* The window of a conv2d or pool call: size (argument ka), stride and
 * padding (the two after it), per axis, and the output [Ho, Wo] of x's
 * [C, H, W] under it (-1 where it does not fit). */
typedef struct CallWindow { int64_t k[2], s[2], p[2], out[2]; } CallWindow;

static CallWindow call_window(CallCheck *cc, int ka, const TensorType *x)
{
    CallWindow w;
    builtin_window_arg(&cc->arg[ka], w.k);
    builtin_window_arg(&cc->arg[ka + 1], w.s);
    builtin_window_arg(&cc->arg[ka + 2], w.p);
    for (int d = 0; d < 2; d++)
        w.out[d] = window_out(x->shape.dim[1 + d], w.k[d], w.s[d], w.p[d]);
    return w;
}

/* conv2d(x, filters, kernel): [C,H,W] -> [F,Ho,Wo]; weight [F,C,kh,kw], bias [F] */
static bool check_conv2d(CallCheck *cc)
{
    if (!need_real(cc, 0, 0) || !need_examples(cc, 0, "image"))
        return false;
    TensorType *x = arg_t(cc, 0);
    if (x->shape.rank != 3)
        return cc_error(cc, 0, "conv2d needs [channels, height, width] per example, found %s",
                        cc_type(cc, x));
    int64_t c = x->shape.dim[0], h = x->shape.dim[1], w = x->shape.dim[2], f = cc->arg[1].i;
    CallWindow cw = call_window(cc, 2, x);
    int64_t kh = cw.k[0], kw = cw.k[1];
    char pad[64];
    if (cw.out[0] < 1 || cw.out[1] < 1)
        return cc_error(cc, 2, "conv2d kernel %lldx%lld does not fit the %lldx%lld input of %s (padding %s)",
                        (long long)kh, (long long)kw, (long long)h, (long long)w, cc_type(cc, x),
                        window_phrase(pad, cw.p));
    Shape out = {3, {f, cw.out[0], cw.out[1]}};
    Shape ws = {4, {f, c, kh, kw}};
    if (!check_size(cc, &out) || !check_size(cc, &ws))
        return false;
    cc_param(cc, "weight", &ws, INIT_UNIFORM_FAN_IN, c * kh * kw);
    if (cc->arg[5].b)
        cc_param(cc, "bias", &(Shape){1, {f}}, INIT_UNIFORM_FAN_IN, c * kh * kw);
    cc->flops = elems(&out) * (2 * (uint64_t)(c * kh * kw) + (cc->arg[5].b ? 1 : 0));
    result_tensor(cc, x->batched, &out);
    return true;
}

/* max_pool/avg_pool(x, size): [C,H,W] -> [C,Ho,Wo] */
static bool check_pool(CallCheck *cc)
{
    if (!need_real(cc, 0, 0) || !need_examples(cc, 0, "image"))
        return false;
    TensorType *x = arg_t(cc, 0);
    if (x->shape.rank != 3)
        return cc_error(cc, 0, "%s needs [channels, height, width] per example, found %s",
                        cc->b->name, cc_type(cc, x));
    CallWindow cw = call_window(cc, 1, x);
    static const char *const axis[2] = {"height", "width"};
    for (int d = 0; d < 2; d++) {
        if (cw.p[d] * 2 <= cw.k[d])
            continue;
        if (cw.k[0] == cw.k[1] && cw.p[0] == cw.p[1])
            return cc_error(cc, 3, "%s padding %lld must be at most half the window size %lld",
                            cc->b->name, (long long)cw.p[d], (long long)cw.k[d]);
        return cc_error(cc, 3, "%s padding %lld along the %s must be at most half the window's %s %lld",
                        cc->b->name, (long long)cw.p[d], axis[d], axis[d], (long long)cw.k[d]);
    }
    if (cw.out[0] < 1 || cw.out[1] < 1)
        return cc_error(cc, 1, "%s window %lldx%lld does not fit the %lldx%lld input of %s",
                        cc->b->name, (long long)cw.k[0], (long long)cw.k[1], (long long)x->shape.dim[1],
                        (long long)x->shape.dim[2], cc_type(cc, x));
    Shape out = {3, {x->shape.dim[0], cw.out[0], cw.out[1]}};
    cc->flops = elems(&out) * (uint64_t)(cw.k[0] * cw.k[1]);
    result_tensor(cc, x->batched, &out);
    return true;
}

/* conv1d(x, filters, kernel): [C,L] -> [F,Lo]; weight [F,C,k], bias [F] (torch.nn.Conv1d) */
static bool check_conv1d(CallCheck *cc)
{
    if (!need_real(cc, 0, 0) || !need_examples(cc, 0, "sequence"))
        return false;
    TensorType *x = arg_t(cc, 0);
    if (x->shape.rank != 2)
        return cc_error(cc, 0, "conv1d needs [channels, length] per example, found %s", cc_type(cc, x));
    int64_t c = x->shape.dim[0], len = x->shape.dim[1];
    int64_t f = cc->arg[1].i, k = cc->arg[2].i, s = cc->arg[3].i, p = cc->arg[4].i;
    int64_t lo = window_out(len, k, s, p);
    if (lo < 1)
        return cc_error(cc, 2, "conv1d kernel %lld does not fit the length-%lld input of %s (padding %lld)",
                        (long long)k, (long long)len, cc_type(cc, x), (long long)p);
    Shape out = {2, {f, lo}};
    Shape ws = {3, {f, c, k}};
    if (!check_size(cc, &out) || !check_size(cc, &ws))
        return false;
    cc_param(cc, "weight", &ws, INIT_UNIFORM_FAN_IN, c * k);
    if (cc->arg[5].b)
        cc_param(cc, "bias", &(Shape){1, {f}}, INIT_UNIFORM_FAN_IN, c * k);
    cc->flops = elems(&out) * (2 * (uint64_t)(c * k) + (cc->arg[5].b ? 1 : 0));
    result_tensor(cc, x->batched, &out);
    return true;
}

/* max_pool1d/avg_pool1d(x, size): [C,L] -> [C,Lo] */
static bool check_pool1d(CallCheck *cc)
{
    if (!need_real(cc, 0, 0) || !need_examples(cc, 0, "sequence"))
        return false;
    TensorType *x = arg_t(cc, 0);
    if (x->shape.rank != 2)
        return cc_error(cc, 0, "%s needs [channels, length] per example, found %s", cc->b->name, cc_type(cc, x));
    int64_t k = cc->arg[1].i, s = cc->arg[2].i, p = cc->arg[3].i;
    if (p * 2 > k)
        return cc_error(cc, 3, "%s padding %lld must be at most half the window size %lld",
                        cc->b->name, (long long)p, (long long)k);
    int64_t lo = window_out(x->shape.dim[1], k, s, p);
    if (lo < 1)
        return cc_error(cc, 1, "%s window %lld does not fit the length-%lld input of %s", cc->b->name, (long long)k,
                        (long long)x->shape.dim[1], cc_type(cc, x));
    Shape out = {2, {x->shape.dim[0], lo}};
    cc->flops = elems(&out) * (uint64_t)k;
    result_tensor(cc, x->batched, &out);
    return true;
}

/* flatten(x): [d0, d1, ...] -> [d0*d1*...] */
static bool check_flatten(CallCheck *cc)
{
    if (!need_real(cc, 0, 0))
        return false;
    TensorType *x = arg_t(cc, 0);
    Shape out = {1, {shape_elems(&x->shape)}};
    result_tensor(cc, x->batched, &out);
    return true;
}

/* reshape(x, [d...]): same number of elements per example; one -1 is inferred */
static bool check_reshape(CallCheck *cc)
{
    if (!need_real(cc, 0, 0))
        return false;
    TensorType *x = arg_t(cc, 0);
    Value *s = &cc->arg[1];
    if (!rank_fits(cc, 1, s->list.n, x->batched, "reshape of %s to %d axes%s", cc_type(cc, x), s->list.n,
                   x->batched ? " per example" : ""))
        return false;
    Shape out = {.rank = s->list.n};
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < s->list.n; i++) {
        int64_t d = s->list.v[i];
        if (d == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (d < 1)
            return cc_error(cc, 1, "reshape dimensions must be positive (or a single -1), found %lld",
                            (long long)d);
        if (known > NNC_MAX_ELEMS / d)
            return cc_error(cc, 1, "reshape to more than 2^40 elements");
        known *= d;
        out.dim[i] = d;
    }
    int64_t n = shape_elems(&x->shape);
    if (infer >= 0) {
        if (n % known != 0)
            return cc_error(cc, 1, "cannot reshape %s: %lld elements do not divide into rows of %lld",
                            cc_type(cc, x), (long long)n, (long long)known);
        out.dim[infer] = n / known;
        known = n;
    }
    if (known != n)
        return cc_error(cc, 1, "cannot reshape %s (%lld elements per example) to %s (%lld elements)",
                        cc_type(cc, x), (long long)n, cc_shape(cc, &out, false), (long long)known);
    result_tensor(cc, x->batched, &out);
    return true;
}

/* embedding(ids, dim): token(V)[T] -> [T, dim]; weight [V, dim] */
static bool check_embedding(CallCheck *cc)
{
    TensorType *x = arg_t(cc, 0);
    if (x->elem != ELEM_INDEX)
        return cc_error(cc, 0, "embedding needs token or class indices, found %s", cc_type(cc, x));
    int64_t dim = cc->arg[1].i;
    Shape out = x->shape;
    if (!rank_fits(cc, 0, out.rank + 1, x->batched, "embedding of %s", cc_type(cc, x)))
        return false;
    out.dim[out.rank++] = dim;
    Shape ws = {2, {x->classes, dim}};
    if (!check_size(cc, &out) || !check_size(cc, &ws))
        return false;
    cc_param(cc, "weight", &ws, INIT_NORMAL, 0);
    result_tensor(cc, x->batched, &out);
    return true;
}

/* positional(length, dim): [length, dim], the same for every example */
/* Tables nnc computes while compiling (sinusoidal positions) are held as
 * doubles in the compiler and as data in the generated code: 16,384 x
 * 16,384 entries would be 2 GiB of compiler memory and a 1 GiB constant in
 * the object file.  Beyond this they are refused at the call.  (A causal
 * mask is no table: it is computed from the places, lower_attention.) */
enum { TABLE_MAX_SIDE = 4096, TABLE_MAX_ELEMS = TABLE_MAX_SIDE * TABLE_MAX_SIDE };

static bool check_positional(CallCheck *cc)
{
    int64_t len = cc->arg[0].i, dim = cc->arg[1].i;
    Shape out = {2, {len, dim}};
    if (!check_size(cc, &out))
        return false;
    bool learned = strcmp(cc->arg[2].s, "learned") == 0;
    if (!learned && dim % 2 != 0)
        return cc_error(cc, 1, "sinusoidal positions need an even width, found %lld", (long long)dim);
    if (!learned && len * dim > TABLE_MAX_ELEMS)
        return cc_error(cc, -1, "sinusoidal positions of %lld x %lld are a table of %lld entries built while compiling; "
                        "at most %d (use kind: learned)", (long long)len, (long long)dim, (long long)(len * dim),
                        TABLE_MAX_ELEMS);
    if (learned)
        cc_param(cc, "weight", &out, INIT_NORMAL, 0);
    result_tensor(cc, false, &out);
    return true;
}

/* layer_norm(x): normalises the last axis; weight [D] = 1, bias [D] = 0 */
static bool check_layer_norm(CallCheck *cc)
{
    if (!need_real(cc, 0, 1))
        return false;
    TensorType *x = arg_t(cc, 0);
    int64_t d = x->shape.dim[x->shape.rank - 1];
    cc_param(cc, "weight", &(Shape){1, {d}}, INIT_ONES, 0);
    cc_param(cc, "bias", &(Shape){1, {d}}, INIT_ZEROS, 0);
    cc->flops = 5 * elems(&x->shape);
    result_tensor(cc, x->batched, &x->shape);
    return true;
}

/* Shape-preserving elementwise layers: dropout and the activations. */
static bool check_elementwise(CallCheck *cc)
{
    if (!need_real(cc, 0, 0))
        return false;
    TensorType *x = arg_t(cc, 0);
    cc->flops = elems(&x->shape);
    result_tensor(cc, x->batched, &x->shape);
    return true;
}

/* ---- primitives ---------------------------------------------------------- */

/* The per-example axis a (possibly negative) names in x, or -1 after saying
 * which axes exist. */
static int axis_of(CallCheck *cc, int arg, const TensorType *x, int64_t a)
{
    int rank = x->shape.rank;
    if (a >= -rank && a < rank)
        return (int)(a < 0 ? a + rank : a);
    cc_error(cc, arg, "%s has no axis %lld: %s has %d ax%s per example (0 to %d, or -%d to -1)",
             cc->b->name, (long long)a, cc_type(cc, x), rank, rank == 1 ? "is" : "es", rank - 1, rank);
    return -1;
}

/* maximum(a, b), minimum(a, b): tensors or a tensor and a number,
 * broadcast like a + b; 1 FLOP per output element */
static bool check_extremum(CallCheck *cc)
{
    bool ta = cc->arg[0].kind == VAL_TENSOR, tb = cc->arg[1].kind == VAL_TENSOR;
    if (!ta && !tb)
        return cc_error(cc, -1, "%s needs a tensor; of two numbers, write the %s itself", cc->b->name,
                        strcmp(cc->b->name, "maximum") == 0 ? "larger" : "smaller");
    if ((ta && !need_real(cc, 0, 0)) || (tb && !need_real(cc, 1, 0)))
        return false;
    if (!ta || !tb) {
        TensorType *x = arg_t(cc, ta ? 0 : 1);
        cc->flops = elems(&x->shape);
        result_tensor(cc, x->batched, &x->shape);
        return true;
    }
    TensorType *a = arg_t(cc, 0), *b = arg_t(cc, 1);
    Shape out;
    int bad;
    if (shape_broadcast(&a->shape, &b->shape, &out, &bad) != 0)
        return cc_error(cc, -1, "%s cannot broadcast shapes %s and %s", cc->b->name,
                        cc_shape(cc, &a->shape, a->batched), cc_shape(cc, &b->shape, b->batched));
    if (!rank_fits(cc, -1, out.rank, a->batched || b->batched, "%s of %s and %s", cc->b->name, cc_type(cc, a),
                   cc_type(cc, b)))
        return false;
    cc->flops = elems(&out);
    result_tensor(cc, a->batched || b->batched, &out);
    return true;
}

/* clamp(x, min: a, max: b): either bound may be left out (it stays
 * infinite), not both */
static bool check_clamp(CallCheck *cc)
{
    if (!need_real(cc, 0, 0))
        return false;
    double lo = cc->arg[1].f, hi = cc->arg[2].f;
    if (isinf(lo) && isinf(hi))
        return cc_error(cc, -1, "clamp needs min:, max: or both");
    if (lo > hi)
        return cc_error(cc, 1, "clamp's min %g is greater than its max %g", lo, hi);
    return check_elementwise(cc);
}

/* Marks in on[] the per-example axes of x that argument arg (PK_AXES: one
 * axis or a list of them) names; false after saying what is wrong with it.
 * The reductions' and the softmaxes' axis: alike. */
static bool axes_of(CallCheck *cc, int arg, const TensorType *x, bool on[NNC_MAX_RANK])
{
    const Value *ax = &cc->arg[arg];
    int n = ax->kind == VAL_INT ? 1 : ax->list.n;
    if (n == 0)
        return cc_error(cc, arg, "%s needs at least one axis", cc->b->name);
    memset(on, 0, sizeof(bool) * NNC_MAX_RANK);
    for (int k = 0; k < n; k++) {
        int a = axis_of(cc, arg, x, ax->kind == VAL_INT ? ax->i : ax->list.v[k]);
        if (a < 0)
            return false;
        if (on[a])
            return cc_error(cc, arg, "%s's axis names axis %d of %s twice", cc->b->name, a, cc_type(cc, x));
        on[a] = true;
    }
    return true;
}

/* sum/mean/max(x, axis, keep), logsumexp(x, axis, keep): [..., n, ...] ->
 * [..., ...] (or [..., 1, ...] with keep), over one axis or a list of them;
 * 1 FLOP per input element, 4 for logsumexp (as softmax: the max, the
 * difference from it, exp, the sum) */
static bool check_reduce(CallCheck *cc)
{
    if (!need_real(cc, 0, 1))
        return false;
    TensorType *x = arg_t(cc, 0);
    bool reduced[NNC_MAX_RANK];
    if (!axes_of(cc, 1, x, reduced))
        return false;
    Shape out = {0};
    for (int i = 0; i < x->shape.rank; i++)
        if (!reduced[i] || cc->arg[2].b)
            out.dim[out.rank++] = reduced[i] ? 1 : x->shape.dim[i];
    cc->flops = (cc->b == &builtin_table[B_LOGSUMEXP] ? 4 : 1) * elems(&x->shape);
    result_tensor(cc, x->batched, &out);
    return true;
}

/* softmax/log_softmax(x, temperature, axis): the shape of x, normalised
 * along its axis (or the axes of a list, as one); 4 FLOPs per element (exp
 * of the difference from the max, the sum, the division; the max is
 * counted too) */
static bool check_softmax(CallCheck *cc)
{
    if (!need_real(cc, 0, 1))
        return false;
    TensorType *x = arg_t(cc, 0);
    bool along[NNC_MAX_RANK];
    if (!axes_of(cc, 2, x, along))
        return false;
    cc->flops = 4 * elems(&x->shape);
    result_tensor(cc, x->batched, &x->shape);
    return true;
}

/* transpose(x): [..., n, m] -> [..., m, n]; layout, 0 FLOPs */
static bool check_transpose(CallCheck *cc)
{
    if (!need_real(cc, 0, 0))
        return false;
    TensorType *x = arg_t(cc, 0);
    if (x->shape.rank < 2)
        return cc_error(cc, 0, "transpose swaps the last two axes and needs at least 2 per example, found %s",
                        cc_type(cc, x));
    Shape out = x->shape;
    out.dim[out.rank - 2] = x->shape.dim[out.rank - 1];
    out.dim[out.rank - 1] = x->shape.dim[out.rank - 2];
    result_tensor(cc, x->batched, &out);
    return true;
}

/* concat(a, b, axis): the same rank, equal off the axis; an operand without
 * the batch (a constant table) is repeated over it; layout, 0 FLOPs */
static bool check_concat(CallCheck *cc)
{
    if (!need_real(cc, 0, 1) || !need_real(cc, 1, 1))
        return false;
    TensorType *a = arg_t(cc, 0), *b = arg_t(cc, 1);
    if (a->shape.rank != b->shape.rank)
        return cc_error(cc, -1, "concat needs operands of the same rank, found %s and %s", cc_type(cc, a),
                        cc_type(cc, b));
    int ax = axis_of(cc, 2, a, cc->arg[2].i);
    if (ax < 0)
        return false;
    Shape out = a->shape;
    for (int i = 0; i < out.rank; i++)
        if (i != ax && a->shape.dim[i] != b->shape.dim[i])
            return cc_error(cc, -1, "concat along axis %d needs the other axes to match, found %s and %s", ax,
                            cc_type(cc, a), cc_type(cc, b));
    out.dim[ax] = a->shape.dim[ax] + b->shape.dim[ax];
    if (!check_size(cc, &out))
        return false;
    result_tensor(cc, a->batched || b->batched, &out);
    return true;
}

/* After one_hot of a real tensor: where the model's labels are, at the
 * first input or target that holds some (a class input is refused as such,
 * so it is not one), with what one_hot makes of it. */
static void note_labels(CallCheck *cc)
{
    for (int i = 0; i < cc->model->nnodes; i++) {
        const SemaNode *d = &cc->model->nodes[i];
        if (d->type.elem != ELEM_INDEX || !(d->kind == SN_TARGET || (d->kind == SN_INPUT && d->type.shape.rank)))
            continue;
        TensorType t;
        if (builtin_one_hot_type(&d->type, &t))
            cc_note(cc, d->at, "labels are an input or target declared as class(N) or token(N)[...], as '%s' is "
                    "here: one_hot(%s) is %s", d->name, d->name, cc_type(cc, &t));
        else  /* no room for the classes' axis: one_hot refuses these */
            cc_note(cc, d->at, "labels are an input or target declared as class(N) or token(N)[...], as '%s' is "
                    "here", d->name);
        return;
    }
    cc_note(cc, SPAN_NONE, "labels are an input or target declared as class(N) or token(N)[...]");
}

bool builtin_one_hot_type(const TensorType *labels, TensorType *out)
{
    if (labels->shape.rank + 1 > shape_max_rank(labels->batched))
        return false;
    *out = *labels;
    out->elem = ELEM_F32;
    out->classes = 0;
    out->shape.dim[out->shape.rank++] = labels->classes;
    return true;
}

/* one_hot(labels): class(C) -> [C], token(C)[s...] -> [s..., C]: 1 at the
 * label, 0 elsewhere; a lookup, 0 FLOPs.  Labels are only ever an input or
 * a target (nothing computes them), so a real tensor here is a value the
 * model computed, a parameter or a constant: the message names a parameter. */
static bool check_one_hot(CallCheck *cc)
{
    TensorType *x = arg_t(cc, 0);
    if (x->elem != ELEM_INDEX) {
        int v = cc->arg[0].node;
        if (v >= 0 && cc->model->nodes[v].kind == SN_PARAM)
            cc_error(cc, 0, "one_hot needs class or token labels, found parameter '%s', %s", cc->model->nodes[v].name,
                     cc_type(cc, x));
        else
            cc_error(cc, 0, "one_hot needs class or token labels, found %s", cc_type(cc, x));
        note_labels(cc);
        return false;
    }
    TensorType out;
    if (!builtin_one_hot_type(x, &out))  /* its one limit, the IR's axes: rank_fits says so */
        return rank_fits(cc, 0, x->shape.rank + 1, x->batched, "one_hot of %s", cc_type(cc, x));
    if (!check_size(cc, &out.shape))
        return false;
    result_tensor(cc, x->batched, &out.shape);
    return true;
}

/* An attention's four projections to width d, torch's nn.MultiheadAttention
 * with kdim = vdim = e: query and out from d features, key and value from e
 * (e = d for self-attention). */
static void attention_params(CallCheck *cc, int64_t d, int64_t e)
{
    static const char *const proj[] = {"query", "key", "value", "out"};
    for (int i = 0; i < 4; i++) {
        int64_t in = i == 1 || i == 2 ? e : d;
        char name[32];
        snprintf(name, sizeof name, "%s.weight", proj[i]);
        cc_param(cc, name, &(Shape){2, {d, in}}, INIT_UNIFORM_FAN_IN, in);
        snprintf(name, sizeof name, "%s.bias", proj[i]);
        cc_param(cc, name, &(Shape){1, {d}}, INIT_UNIFORM_FAN_IN, in);
    }
}

/* An attention's mask: not given, or one real number per position attended
 * to (n of them, the positions of what), > 0 where attended; the same for
 * every example or its own. */
static bool check_mask(CallCheck *cc, int i, int64_t n, const char *what)
{
    if (cc->arg[i].kind != VAL_TENSOR)
        return true;
    if (!need_real(cc, i, 0))
        return false;
    const TensorType *m = arg_t(cc, i);
    if (m->shape.rank != 1 || m->shape.dim[0] != n)
        return cc_error(cc, i, "%s's mask needs one number per position of %s, [%lld] per example, found %s",
                        cc->b->name, what, (long long)n, cc_type(cc, m));
    return true;
}

/* attention(x, heads): self-attention over [T, D] -> [T, D];
 * query/key/value/out are dense D -> D. */
static bool check_attention(CallCheck *cc)
{
    if (!need_real(cc, 0, 0) || !need_examples(cc, 0, "sequence"))
        return false;
    TensorType *x = arg_t(cc, 0);
    if (x->shape.rank != 2)
        return cc_error(cc, 0, "attention needs [sequence, width] per example, found %s", cc_type(cc, x));
    int64_t t = x->shape.dim[0], d = x->shape.dim[1], h = cc->arg[1].i;
    if (d % h != 0)
        return cc_error(cc, 1, "attention width %lld is not divisible by %lld heads", (long long)d, (long long)h);
    if (!check_mask(cc, 3, t, "x"))
        return false;
    attention_params(cc, d, d);
    uint64_t ut = (uint64_t)t, ud = (uint64_t)d;
    /* 4 projections + scores q·k + weighted values, softmax over h·t·t scores */
    cc->flops = 4 * ut * ud * (2 * ud + 1) + 2 * (2 * ut * ut * ud) + 4 * (uint64_t)h * ut * ut;
    result_tensor(cc, x->batched, &x->shape);
    return true;
}

/* cross_attention(x, context, heads): x [T, D] attends to context [S, E]:
 * queries from x, keys and values from the context, -> [T, D]. */
static bool check_cross_attention(CallCheck *cc)
{
    if (!need_real(cc, 0, 0) || !need_examples(cc, 0, "sequence") || !need_real(cc, 1, 0)
        || !need_examples(cc, 1, "sequence"))
        return false;
    TensorType *x = arg_t(cc, 0), *c = arg_t(cc, 1);
    for (int i = 0; i < 2; i++)
        if (arg_t(cc, i)->shape.rank != 2)
            return cc_error(cc, i, "cross_attention needs [sequence, width] per example for its %s, found %s",
                            i == 0 ? "x" : "context", cc_type(cc, arg_t(cc, i)));
    int64_t t = x->shape.dim[0], d = x->shape.dim[1], s = c->shape.dim[0], e = c->shape.dim[1], h = cc->arg[2].i;
    if (d % h != 0)
        return cc_error(cc, 2, "cross_attention width %lld is not divisible by %lld heads", (long long)d, (long long)h);
    if (!check_mask(cc, 3, s, "the context"))
        return false;
    attention_params(cc, d, e);
    uint64_t ut = (uint64_t)t, ud = (uint64_t)d, us = (uint64_t)s, ue = (uint64_t)e;
    /* the query and out projections of x's t positions, key and value of the context's s,
     * scores q·k and weighted values, softmax over h·t·s scores */
    cc->flops = 2 * ut * ud * (2 * ud + 1) + 2 * us * ud * (2 * ue + 1) + 2 * (2 * ut * us * ud)
              + 4 * (uint64_t)h * ut * us;
    result_tensor(cc, true, &x->shape);
    return true;
}

/* matmul(a, b): [..., n, k] x [..., k, m] -> [..., n, m], leading axes broadcast */
static bool check_matmul(CallCheck *cc)
{
    if (!need_real(cc, 0, 2) || !need_real(cc, 1, 2))
        return false;
    TensorType *a = arg_t(cc, 0), *b = arg_t(cc, 1);
    int ra = a->shape.rank, rb = b->shape.rank;
    int64_t n = a->shape.dim[ra - 2], k = a->shape.dim[ra - 1];
    int64_t k2 = b->shape.dim[rb - 2], m = b->shape.dim[rb - 1];
    if (k != k2)
        return cc_error(cc, -1, "matmul inner dimensions differ: %s has %lld columns but %s has %lld rows",
                        cc_type(cc, a), (long long)k, cc_type(cc, b), (long long)k2);
    Shape la = {.rank = ra - 2}, lb = {.rank = rb - 2}, lead;
    memcpy(la.dim, a->shape.dim, sizeof(int64_t) * (size_t)(ra - 2));
    memcpy(lb.dim, b->shape.dim, sizeof(int64_t) * (size_t)(rb - 2));
    int bad;
    if (shape_broadcast(&la, &lb, &lead, &bad) != 0)
        return cc_error(cc, -1, "matmul cannot broadcast the leading dimensions of %s and %s",
                        cc_type(cc, a), cc_type(cc, b));
    if (!rank_fits(cc, -1, lead.rank + 2, a->batched || b->batched, "matmul of %s and %s", cc_type(cc, a),
                   cc_type(cc, b)))
        return false;
    Shape out = lead;
    out.dim[out.rank++] = n;
    out.dim[out.rank++] = m;
    if (!check_size(cc, &out))
        return false;
    cc->flops = 2 * (uint64_t)shape_elems(&lead) * (uint64_t)(n * m) * (uint64_t)k;
    result_tensor(cc, a->batched || b->batched, &out);
    return true;
}

/* ---- losses and metrics -------------------------------------------------- */

/* Predictions [..., C] against labels class(C) or token(C)[...]. */
static bool check_against_labels(CallCheck *cc)
{
    if (!need_real(cc, 0, 1))
        return false;
    TensorType *p = arg_t(cc, 0), *y = arg_t(cc, 1);
    if (y->elem != ELEM_INDEX)
        return cc_error(cc, 1, "%s needs class or token labels as its target, found %s%s", cc->b->name,
                        cc_type(cc, y), cc->b->cls == BC_LOSS ? "; use mse or binary_cross_entropy for real-valued targets" : "");
    int64_t c = p->shape.dim[p->shape.rank - 1];
    Shape lead = p->shape;
    lead.rank--;
    if (c != y->classes || !shape_equal(&lead, &y->shape)) {
        TensorType want;  /* one_hot's type of the labels (a target's axes leave room for the classes') */
        if (!builtin_one_hot_type(y, &want))
            want = (TensorType){.elem = ELEM_F32, .batched = y->batched, .shape = y->shape};
        cc_error(cc, -1, "%s: predictions %s do not match target %s (expected %s for %lld classes)", cc->b->name,
                 cc_type(cc, p), cc_type(cc, y), cc_type(cc, &want), (long long)y->classes);
        /* the classes last, after axes the target lacks: the most common
         * CNN mistake, a dense layer on a convolution's [C, H, W] (dense
         * acts on the last axis and keeps the others) */
        if (c == y->classes && p->shape.rank > want.shape.rank)
            cc_note(cc, cc->arg_at[0], "the predictions keep %d ax%s before the classes that the target does not have: "
                    "dense acts on its input's last axis; to give each example one prediction, flatten the "
                    "features first, as in dense(flatten(x), %lld)", p->shape.rank - want.shape.rank,
                    p->shape.rank - want.shape.rank == 1 ? "is" : "es", (long long)y->classes);
        return false;
    }
    if (!p->batched || !y->batched)
        return cc_error(cc, -1, "%s needs per-example predictions and targets", cc->b->name);
    cc->flops = 4 * elems(&p->shape);
    cc->result = (Value){.kind = VAL_TENSOR, .t = {.elem = ELEM_F32}};
    return true;
}

/* mse / binary_cross_entropy: predictions and real targets of one shape. */
static bool check_against_reals(CallCheck *cc)
{
    if (!need_real(cc, 0, 0))
        return false;
    TensorType *p = arg_t(cc, 0), *y = arg_t(cc, 1);
    if (y->elem != ELEM_F32) {
        cc_error(cc, 1, "%s needs a real-valued target, found %s; use cross_entropy for labels", cc->b->name,
                 cc_type(cc, y));
        /* only the losses come here with labels (accuracy takes them as cross_entropy does) */
        char use[96];
        snprintf(use, sizeof use, "%s takes them, as does a loss written by hand", cc->b->name);
        cc_note_one_hot(cc, 1, use);
        return false;
    }
    if (!shape_equal(&p->shape, &y->shape))
        return cc_error(cc, -1, "%s: predictions %s and target %s differ in shape", cc->b->name,
                        cc_type(cc, p), cc_type(cc, y));
    if (!p->batched || !y->batched)
        return cc_error(cc, -1, "%s needs per-example predictions and targets", cc->b->name);
    cc->flops = 3 * elems(&p->shape);
    cc->result = (Value){.kind = VAL_TENSOR, .t = {.elem = ELEM_F32}};
    return true;
}

/* accuracy: labels as cross_entropy takes them, or binary: probabilities
 * against real 0/1 targets of the same shape (f32[1] per example). */
static bool check_accuracy(CallCheck *cc)
{
    if (arg_t(cc, 1)->elem == ELEM_F32) {
        if (!check_against_reals(cc))
            return false;
        cc->flops = 3 * elems(&arg_t(cc, 0)->shape);
        return true;
    }
    return check_against_labels(cc);
}

/* ---- data sources: does the model have what they feed? ------------------- */

/* The model's only node of a kind (its input or its target), or NULL after
 * saying the source feeds exactly one. */
static const SemaNode *only(CallCheck *cc, SemaNodeKind kind)
{
    const SemaNode *found = NULL;
    int count = 0;
    for (int i = 0; i < cc->model->nnodes; i++)
        if (cc->model->nodes[i].kind == kind) {
            found = &cc->model->nodes[i];
            count++;
        }
    if (count != 1) {
        cc_error(cc, -1, "%s data feeds one %s, but the model declares %d", cc->b->name,
                 kind == SN_INPUT ? "input" : "target", count);
        if (count > 1)
            cc_note(cc, SPAN_NONE, "npz(...) and csv(..., columns: ...) feed several %ss",
                    kind == SN_INPUT ? "input" : "target");
        return NULL;
    }
    return found;
}

/* How many nodes of a kind the model has. */
static int count_of(CallCheck *cc, SemaNodeKind kind)
{
    int n = 0;
    for (int i = 0; i < cc->model->nnodes; i++)
        n += cc->model->nodes[i].kind == kind;
    return n;
}

/* [784], [28, 28] or [1, 28, 28]: an image as a row, as a picture, or as a
 * picture of one channel; other shapes of 784 values ([14, 56], [2, 392])
 * would read the pixels in another arrangement than the picture's. */
static bool mnist_shape(const Shape *s)
{
    const int64_t *d = s->dim;
    return (s->rank == 1 && d[0] == 784) || (s->rank == 2 && d[0] == 28 && d[1] == 28)
        || (s->rank == 3 && d[0] == 1 && d[1] == 28 && d[2] == 28);
}

/* mnist(dir): images of 28x28 = 784 pixels, labels 0-9 (which a model
 * without a target, an autoencoder, does not read) */
static bool check_mnist(CallCheck *cc)
{
    const SemaNode *in = only(cc, SN_INPUT), *tg = count_of(cc, SN_TARGET) == 0 ? NULL : only(cc, SN_TARGET);
    if (!in || (!tg && count_of(cc, SN_TARGET) != 0))
        return false;
    bool ok = true;
    if (in->type.elem != ELEM_F32 || !mnist_shape(&in->type.shape)) {
        ok = cc_error(cc, -1, "mnist gives 28x28 = 784 pixels per image, but input '%s' is %s", in->name,
                      cc_type(cc, &in->type));
        cc_note(cc, in->at, "declare it as f32[784], f32[28, 28] or f32[1, 28, 28]");
    }
    if (tg && (tg->type.elem != ELEM_INDEX || tg->type.shape.rank != 0 || tg->type.classes != 10)) {
        ok = cc_error(cc, -1, "mnist gives one digit 0-9 per image, but target '%s' is %s", tg->name,
                      cc_type(cc, &tg->type));
        cc_note(cc, tg->at, "declare it as class(10)");
    }
    return ok;
}

/* csv(train, columns: "x: 0-3, y: 4"): every input and target named, with
 * as many columns as it takes values per example */
static bool check_csv_columns(CallCheck *cc)
{
    RtColumnRange r[RT_MAX_COLUMN_RANGES];
    char why[256];
    int where[2];
    int nr = rt_columns_parse(cc->arg[3].s, r, RT_MAX_COLUMN_RANGES, where, why, sizeof why);
    if (nr < 0)
        return cc_error_at(cc, cc_string_part(cc, 3, where[0], where[1]), "%s", why);
    bool ok = true;
    const char *names[128];  /* the model's first 128 inputs and targets, for "did you mean" */
    int nnames = 0;
    for (int i = 0; i < cc->model->nnodes; i++) {
        const SemaNode *nd = &cc->model->nodes[i];
        if (nd->kind != SN_INPUT && nd->kind != SN_TARGET)
            continue;
        const char *kind = nd->kind == SN_INPUT ? "input" : "target";
        if (nnames < (int)(sizeof names / sizeof *names))
            names[nnames++] = nd->name;
        const RtColumnRange *c = NULL;
        for (int k = 0; k < nr; k++)
            if (strcmp(r[k].name, nd->name) == 0)
                c = &r[k];
        int64_t per = nd->type.elem == ELEM_INDEX && nd->type.shape.rank == 0 ? 1 : shape_elems(&nd->type.shape);
        if (!c) {
            ok = cc_error(cc, 3, "columns: gives no columns for %s '%s'", kind, nd->name);
        } else if (c->last - c->first + 1 != per) {
            bool label = nd->type.elem == ELEM_INDEX;
            ok = cc_error_at(cc, cc_string_part(cc, 3, c->at, c->len),
                             "columns: '%s' has %lld column%s (%lld-%lld), but %s '%s' is %s%s: %lld value%s per "
                             "example", nd->name, (long long)(c->last - c->first + 1), c->last == c->first ? "" : "s",
                          (long long)c->first, (long long)c->last, kind, nd->name,
                          label ? cc_type(cc, &nd->type) : "f32", label ? "" : cc_shape(cc, &nd->type.shape, false),
                          (long long)per, per == 1 ? "" : "s");
        }
    }
    for (int k = 0; k < nr; k++) {
        bool found = false;
        for (int i = 0; i < cc->model->nnodes; i++)
            found |= (cc->model->nodes[i].kind == SN_INPUT || cc->model->nodes[i].kind == SN_TARGET)
                     && strcmp(cc->model->nodes[i].name, r[k].name) == 0;
        if (found)
            continue;
        ok = cc_error_at(cc, cc_string_part(cc, 3, r[k].at, r[k].len),
                         "columns: '%s' is neither an input nor a target of the model", r[k].name);
        const char *best = suggest_among(r[k].name, names, nnames);
        if (best)
            cc_note(cc, SPAN_NONE, "did you mean '%s'?", best);
    }
    return ok;
}

/* csv(train): a row of numbers per example, the target last */
static bool check_csv(CallCheck *cc)
{
    if (cc->arg[3].s && cc->arg[3].s[0])
        return check_csv_columns(cc);
    const SemaNode *in = only(cc, SN_INPUT), *tg = only(cc, SN_TARGET);
    if (!in || !tg)
        return false;
    if (in->type.elem != ELEM_F32)
        return cc_error(cc, -1, "csv gives real-valued features, but input '%s' is %s", in->name,
                        cc_type(cc, &in->type));
    if (tg->type.elem == ELEM_INDEX ? tg->type.shape.rank != 0 : shape_elems(&tg->type.shape) != 1)
        return cc_error(cc, -1, "csv gives one target value per row, but target '%s' is %s", tg->name,
                        cc_type(cc, &tg->type));
    return true;
}

/* text(file, block): windows of block characters, the target shifted by one */
static bool check_text(CallCheck *cc)
{
    const SemaNode *in = only(cc, SN_INPUT), *tg = only(cc, SN_TARGET);
    if (!in || !tg)
        return false;
    int64_t block = cc->arg[1].i;
    bool ok_in = in->type.elem == ELEM_INDEX && in->type.shape.rank == 1;
    bool ok_tg = tg->type.elem == ELEM_INDEX && tg->type.shape.rank == 1;
    if (!ok_in || !ok_tg) {
        const SemaNode *bad = ok_in ? tg : in;
        return cc_error(cc, -1, "text gives windows of characters, token(V)[T], but %s '%s' is %s",
                        bad == in ? "input" : "target", bad->name, cc_type(cc, &bad->type));
    }
    int64_t tin = in->type.shape.dim[0], ttg = tg->type.shape.dim[0];
    if (tin != block || ttg != block) {
        const SemaNode *bad = tin != block ? in : tg;
        cc_error(cc, -1, "text gives windows of %lld characters, but %s '%s' is %s", (long long)block,
                 bad == in ? "input" : "target", bad->name, cc_type(cc, &bad->type));
        if (tin == ttg)
            cc_note(cc, SPAN_NONE, "use block: %lld to match the model", (long long)tin);
        return false;
    }
    if (in->type.classes != tg->type.classes)
        return cc_error(cc, -1, "input '%s' (%s) and target '%s' (%s) must share one vocabulary", in->name,
                        cc_type(cc, &in->type), tg->name, cc_type(cc, &tg->type));
    /* bpe's ids are the 256 bytes and one per merge: exactly the model's vocabulary */
    if (cc->arg[3].kind == VAL_SPEC && cc->arg[3].spec->args[0].i != in->type.classes) {
        int64_t vocab = cc->arg[3].spec->args[0].i;
        cc_error(cc, 3, "bpe(vocab: %lld) makes %lld token ids, but input '%s' is %s", (long long)vocab,
                 (long long)vocab, in->name, cc_type(cc, &in->type));
        if (in->type.classes > 256)
            cc_note(cc, in->at, "declare it as token(%lld)[%lld], or use bpe(vocab: %lld)", (long long)vocab,
                    (long long)tin, (long long)in->type.classes);
        else
            cc_note(cc, in->at, "declare it as token(%lld)[%lld]", (long long)vocab, (long long)tin);
        return false;
    }
    return true;
}

/* npz(train, test): an array per input and target, found by name at run
 * time; any number of each, of any shape, reals or labels. */
static bool check_npz(CallCheck *cc)
{
    if (count_of(cc, SN_INPUT) == 0)
        return cc_error(cc, -1, "npz data feeds the model's inputs, but it declares none");
    return true;
}

/* ---- the table ----------------------------------------------------------- */

#define X_TENSOR(n, d)  {.name = n, .kind = PK_TENSOR, .required = true, .doc = d}
/* the axis of the reductions and the softmaxes; keep, of the reductions */
#define X_AXIS          {.name = "axis", .kind = PK_AXES, .def = INT(-1), \
                         .doc = "per-example axis, or a list of them; negative counts from the end"}
#define X_KEEP          {.name = "keep", .kind = PK_BOOL, .def = BOOL(false), .doc = "keep the axis with size 1"}
#define OPT_CLIP        {.name = "clip", .kind = PK_FLOAT, .def = FLT(0), .range = "[0,inf)", \
                         .doc = "clip gradients to this global norm; 0 means no clipping"}
#define OPT_WD(v)       {.name = "weight_decay", .kind = PK_FLOAT, .def = FLT(v), .range = "[0,inf)", \
                         .doc = "L2 penalty (sgd, momentum, adam) or decoupled decay (adamw)"}
#define ADAM_PARAMS(lr, wd)                                                                        \
    {.name = "lr", .kind = PK_FLOAT, .def = FLT(lr), .range = "(0,inf)", .doc = "learning rate"},  \
    {.name = "beta1", .kind = PK_FLOAT, .def = FLT(0.9), .range = "[0,1)", .doc = "decay of the first moment"}, \
    {.name = "beta2", .kind = PK_FLOAT, .def = FLT(0.999), .range = "[0,1)", .doc = "decay of the second moment"}, \
    {.name = "eps", .kind = PK_FLOAT, .def = FLT(1e-8), .range = "(0,inf)", .doc = "added to the denominator"}, \
    OPT_WD(wd), OPT_CLIP

/* The functions of numbers (Builtin.of_number). */
static double num_exp(double x, double p) { (void)p; return exp(x); }
static double num_log(double x, double p) { (void)p; return log(x); }
static double num_sqrt(double x, double p) { (void)p; return sqrt(x); }
static double num_abs(double x, double p) { (void)p; return fabs(x); }

/* A window's size, stride and padding: at most 2^20, far past any input a
 * window fits (a 2^40-element tensor), so window_out's in + 2·padding −
 * kernel and the other products of window geometry stay far from int64
 * overflow; the argument check (sema_expr.c) refuses more at the argument. */
#define WINDOW_RANGE(lo) "[" #lo ",1048576]"

const Builtin builtin_table[B_COUNT] = {
    [B_DENSE] = {"dense", BC_LAYER, "dense", {
        X_TENSOR("x", "input [..., in]"),
        {.name = "units", .kind = PK_INT, .required = true, .range = "[1,inf)", .doc = "output width"},
        {.name = "bias", .kind = PK_BOOL, .def = BOOL(true), .doc = "add a learned bias"},
    }, check_dense, "fully connected layer: x·weightᵀ + bias", BR_LAST},
    [B_CONV2D] = {"conv2d", BC_LAYER, "conv", {
        X_TENSOR("x", "input [channels, height, width]"),
        {.name = "filters", .kind = PK_INT, .required = true, .range = "[1,inf)", .doc = "output channels"},
        {.name = "kernel", .kind = PK_WINDOW, .required = true, .range = WINDOW_RANGE(1), .doc = "kernel size, or [height, width]"},
        {.name = "stride", .kind = PK_WINDOW, .def = INT(1), .range = WINDOW_RANGE(1), .doc = "step between windows"},
        {.name = "padding", .kind = PK_WINDOW, .def = INT(0), .range = WINDOW_RANGE(0), .doc = "zeros added on each side"},
        {.name = "bias", .kind = PK_BOOL, .def = BOOL(true), .doc = "add a learned bias per filter"},
    }, check_conv2d, "2-D convolution (cross-correlation, as torch.nn.Conv2d)"},
    [B_MAX_POOL] = {"max_pool", BC_LAYER, NULL, {
        X_TENSOR("x", "input [channels, height, width]"),
        {.name = "size", .kind = PK_WINDOW, .required = true, .range = WINDOW_RANGE(1), .doc = "window size, or [height, width]"},
        {.name = "stride", .kind = PK_WINDOW, .def_from = "size", .range = WINDOW_RANGE(1), .doc = "step between windows (default: size)"},
        {.name = "padding", .kind = PK_WINDOW, .def = INT(0), .range = WINDOW_RANGE(0), .doc = "implicit -inf padding on each side"},
    }, check_pool, "maximum over each window"},
    [B_AVG_POOL] = {"avg_pool", BC_LAYER, NULL, {
        X_TENSOR("x", "input [channels, height, width]"),
        {.name = "size", .kind = PK_WINDOW, .required = true, .range = WINDOW_RANGE(1), .doc = "window size, or [height, width]"},
        {.name = "stride", .kind = PK_WINDOW, .def_from = "size", .range = WINDOW_RANGE(1), .doc = "step between windows (default: size)"},
        {.name = "padding", .kind = PK_WINDOW, .def = INT(0), .range = WINDOW_RANGE(0), .doc = "zero padding on each side (counted in the average)"},
    }, check_pool, "mean over each window"},
    [B_CONV1D] = {"conv1d", BC_LAYER, "conv", {
        X_TENSOR("x", "input [channels, length]"),
        {.name = "filters", .kind = PK_INT, .required = true, .range = "[1,inf)", .doc = "output channels"},
        {.name = "kernel", .kind = PK_INT, .required = true, .range = WINDOW_RANGE(1), .doc = "kernel size"},
        {.name = "stride", .kind = PK_INT, .def = INT(1), .range = WINDOW_RANGE(1), .doc = "step between windows"},
        {.name = "padding", .kind = PK_INT, .def = INT(0), .range = WINDOW_RANGE(0), .doc = "zeros added at each end"},
        {.name = "bias", .kind = PK_BOOL, .def = BOOL(true), .doc = "add a learned bias per filter"},
    }, check_conv1d, "1-D convolution (cross-correlation, as torch.nn.Conv1d)"},
    [B_MAX_POOL1D] = {"max_pool1d", BC_LAYER, NULL, {
        X_TENSOR("x", "input [channels, length]"),
        {.name = "size", .kind = PK_INT, .required = true, .range = WINDOW_RANGE(1), .doc = "window size"},
        {.name = "stride", .kind = PK_INT, .def_from = "size", .range = WINDOW_RANGE(1), .doc = "step between windows (default: size)"},
        {.name = "padding", .kind = PK_INT, .def = INT(0), .range = WINDOW_RANGE(0), .doc = "implicit -inf padding at each end"},
    }, check_pool1d, "maximum over each window of a sequence"},
    [B_AVG_POOL1D] = {"avg_pool1d", BC_LAYER, NULL, {
        X_TENSOR("x", "input [channels, length]"),
        {.name = "size", .kind = PK_INT, .required = true, .range = WINDOW_RANGE(1), .doc = "window size"},
        {.name = "stride", .kind = PK_INT, .def_from = "size", .range = WINDOW_RANGE(1), .doc = "step between windows (default: size)"},
        {.name = "padding", .kind = PK_INT, .def = INT(0), .range = WINDOW_RANGE(0), .doc = "zero padding at each end (counted in the average)"},
    }, check_pool1d, "mean over each window of a sequence"},
    [B_FLATTEN] = {"flatten", BC_LAYER, NULL, {
        X_TENSOR("x", "any real tensor"),
    }, check_flatten, "all per-example axes into one"},
    [B_RESHAPE] = {"reshape", BC_LAYER, NULL, {
        X_TENSOR("x", "any real tensor"),
        {.name = "shape", .kind = PK_SHAPE, .required = true, .doc = "new per-example shape; one -1 is inferred"},
    }, check_reshape, "same elements, new per-example shape"},
    [B_EMBEDDING] = {"embedding", BC_LAYER, "embed", {
        X_TENSOR("ids", "token(V)[...] or class(V) indices"),
        {.name = "dim", .kind = PK_INT, .required = true, .range = "[1,inf)", .doc = "vector width"},
    }, check_embedding, "a learned vector per index", BR_POSITION},
    [B_POSITIONAL] = {"positional", BC_LAYER, "pos", {
        {.name = "length", .kind = PK_INT, .required = true, .range = "[1,inf)", .doc = "sequence length"},
        {.name = "dim", .kind = PK_INT, .required = true, .range = "[1,inf)", .doc = "vector width"},
        {.name = "kind", .kind = PK_ENUM, .def = STR("learned"), .choices = "learned|sinusoidal",
         .doc = "learned table or fixed sinusoids (Vaswani et al.)"},
    }, check_positional, "position encodings [length, dim], shared by all examples", BR_POSITION},
    [B_LAYER_NORM] = {"layer_norm", BC_LAYER, "ln", {
        X_TENSOR("x", "input [..., D]"),
        {.name = "eps", .kind = PK_FLOAT, .def = FLT(1e-5), .range = "(0,inf)", .doc = "added to the variance"},
    }, check_layer_norm, "normalise the last axis, then scale and shift", BR_LAST},
    [B_DROPOUT] = {"dropout", BC_LAYER, NULL, {
        X_TENSOR("x", "any real tensor"),
        {.name = "p", .kind = PK_FLOAT, .def = FLT(0.5), .range = "[0,1)", .doc = "probability of zeroing an element"},
    }, check_elementwise, "zero elements at random while training, scale the rest by 1/(1-p)", BR_POSITION},
    [B_ATTENTION] = {"attention", BC_LAYER, "attn", {
        X_TENSOR("x", "input [T, D]"),
        {.name = "heads", .kind = PK_INT, .required = true, .range = "[1,inf)", .doc = "number of heads; must divide D"},
        {.name = "causal", .kind = PK_BOOL, .def = BOOL(false), .doc = "position t attends only to positions <= t"},
        {.name = "mask", .kind = PK_TENSOR, .def = {.kind = VAL_NONE}, .doc = "[T]: position s is attended where > 0"},
    }, check_attention, "multi-head scaled dot-product self-attention"},
    [B_CROSS_ATTENTION] = {"cross_attention", BC_LAYER, "xattn", {
        X_TENSOR("x", "queries [T, D]"),
        X_TENSOR("context", "keys and values [S, E]"),
        {.name = "heads", .kind = PK_INT, .required = true, .range = "[1,inf)", .doc = "number of heads; must divide D"},
        {.name = "mask", .kind = PK_TENSOR, .def = {.kind = VAL_NONE}, .doc = "[S]: context position s is attended where > 0"},
    }, check_cross_attention, "multi-head scaled dot-product attention of x over another sequence"},
    [B_MATMUL] = {"matmul", BC_LAYER, NULL, {
        X_TENSOR("a", "[..., n, k]"),
        X_TENSOR("b", "[..., k, m]"),
    }, check_matmul, "matrix product, leading axes broadcast"},

    [B_RELU] = {"relu", BC_LAYER, NULL, {X_TENSOR("x", "any real tensor")}, check_elementwise, "max(x, 0)", BR_ELEMENT},
    [B_LEAKY_RELU] = {"leaky_relu", BC_LAYER, NULL, {
        X_TENSOR("x", "any real tensor"),
        {.name = "slope", .kind = PK_FLOAT, .def = FLT(0.01), .range = "[0,inf)", .doc = "slope for x < 0"},
    }, check_elementwise, "x if x > 0 else slope·x", BR_ELEMENT},
    [B_SIGMOID] = {"sigmoid", BC_LAYER, NULL, {X_TENSOR("x", "any real tensor")}, check_elementwise, "1 / (1 + exp(-x))", BR_ELEMENT},
    [B_TANH] = {"tanh", BC_LAYER, NULL, {X_TENSOR("x", "any real tensor")}, check_elementwise, "hyperbolic tangent", BR_ELEMENT},
    [B_GELU] = {"gelu", BC_LAYER, NULL, {
        X_TENSOR("x", "any real tensor"),
        {.name = "approximate", .kind = PK_ENUM, .def = STR("none"), .choices = "none|tanh",
         .doc = "exact erf form, or the tanh approximation"},
    }, check_elementwise, "x·Φ(x)", BR_ELEMENT},
    [B_SOFTMAX] = {"softmax", BC_LAYER, NULL, {
        X_TENSOR("x", "real tensor, rank >= 1"),
        {.name = "temperature", .kind = PK_FLOAT, .def = FLT(1.0), .range = "(0,inf)", .doc = "divides x first"},
        X_AXIS,
    }, check_softmax, "exp(x/t) / sum exp(x/t) along an axis", BR_AXIS},
    [B_LOG_SOFTMAX] = {"log_softmax", BC_LAYER, NULL, {
        X_TENSOR("x", "real tensor, rank >= 1"),
        {.name = "temperature", .kind = PK_FLOAT, .def = FLT(1.0), .range = "(0,inf)", .doc = "divides x first"},
        X_AXIS,
    }, check_softmax, "x/t - log sum exp(x/t) along an axis, without forming the softmax", BR_AXIS},

    [B_EXP] = {"exp", BC_LAYER, NULL, {X_TENSOR("x", "any real tensor")}, check_elementwise, "eˣ", BR_ELEMENT, num_exp},
    [B_LOG] = {"log", BC_LAYER, NULL, {X_TENSOR("x", "any real tensor")}, check_elementwise, "natural logarithm", BR_ELEMENT, num_log},
    [B_SQRT] = {"sqrt", BC_LAYER, NULL, {X_TENSOR("x", "any real tensor")}, check_elementwise, "square root", BR_ELEMENT, num_sqrt},
    [B_ABS] = {"abs", BC_LAYER, NULL, {X_TENSOR("x", "any real tensor")}, check_elementwise, "|x|", BR_ELEMENT, num_abs},
    [B_POW] = {"pow", BC_LAYER, NULL, {
        X_TENSOR("x", "any real tensor"),
        {.name = "p", .kind = PK_FLOAT, .required = true, .doc = "the exponent, a number"},
    }, check_elementwise, "xᵖ for a constant p", BR_ELEMENT, pow},
    [B_MAXIMUM] = {"maximum", BC_LAYER, NULL, {
        {.name = "a", .kind = PK_OPERAND, .required = true, .doc = "a real tensor or a number"},
        {.name = "b", .kind = PK_OPERAND, .required = true, .doc = "a real tensor or a number"},
    }, check_extremum, "the larger of a and b, elementwise", BR_ELEMENTS},
    [B_MINIMUM] = {"minimum", BC_LAYER, NULL, {
        {.name = "a", .kind = PK_OPERAND, .required = true, .doc = "a real tensor or a number"},
        {.name = "b", .kind = PK_OPERAND, .required = true, .doc = "a real tensor or a number"},
    }, check_extremum, "the smaller of a and b, elementwise", BR_ELEMENTS},
    [B_CLAMP] = {"clamp", BC_LAYER, NULL, {
        X_TENSOR("x", "any real tensor"),
        {.name = "min", .kind = PK_FLOAT, .def = FLT(-INFINITY), .doc = "lower bound (default: none)"},
        {.name = "max", .kind = PK_FLOAT, .def = FLT(INFINITY), .doc = "upper bound (default: none)"},
    }, check_clamp, "x limited to [min, max]", BR_ELEMENT},
    [B_SUM] = {"sum", BC_LAYER, NULL, {
        X_TENSOR("x", "real tensor, rank >= 1"),
        X_AXIS, X_KEEP,
    }, check_reduce, "sum over one axis", BR_AXIS},
    [B_MEAN] = {"mean", BC_LAYER, NULL, {
        X_TENSOR("x", "real tensor, rank >= 1"),
        X_AXIS, X_KEEP,
    }, check_reduce, "mean over one axis", BR_AXIS},
    [B_MAX] = {"max", BC_LAYER, NULL, {
        X_TENSOR("x", "real tensor, rank >= 1"),
        X_AXIS, X_KEEP,
    }, check_reduce, "maximum over one axis", BR_AXIS},
    [B_LOGSUMEXP] = {"logsumexp", BC_LAYER, NULL, {
        X_TENSOR("x", "real tensor, rank >= 1"),
        X_AXIS, X_KEEP,
    }, check_reduce, "log sum exp over one axis, shifted by its maximum", BR_AXIS},
    [B_TRANSPOSE] = {"transpose", BC_LAYER, NULL, {
        X_TENSOR("x", "real tensor, rank >= 2"),
    }, check_transpose, "swap the last two axes"},
    [B_CONCAT] = {"concat", BC_LAYER, NULL, {
        X_TENSOR("a", "real tensor"),
        X_TENSOR("b", "real tensor of the same rank"),
        {.name = "axis", .kind = PK_INT, .def = INT(-1), .doc = "per-example axis; negative counts from the end"},
    }, check_concat, "a then b along one axis"},
    [B_ONE_HOT] = {"one_hot", BC_LAYER, NULL, {
        X_TENSOR("labels", "class(C) or token(C)[...] labels"),
    }, check_one_hot, "1 at each label, 0 elsewhere, along a new last axis of C", BR_POSITION},

    [B_REPEAT] = {"repeat", BC_LAYER, NULL, {
        {.name = "count", .kind = PK_INT, .required = true, .range = "[1,1024]", .doc = "how many copies"},
        {.name = "layer", .kind = PK_LAYER, .required = true, .doc = "a layer mapping x to the same shape"},
        X_TENSOR("x", "input of the first copy"),
    }, NULL, "apply count copies of a layer in sequence, each with its own parameters"},

    [B_CROSS_ENTROPY] = {"cross_entropy", BC_LOSS, NULL, {
        X_TENSOR("logits", "[..., C] unnormalised scores"),
        X_TENSOR("target", "class(C) or token(C)[...] labels"),
    }, check_against_labels, "mean of -log softmax(logits)[target]"},
    [B_MSE] = {"mse", BC_LOSS, NULL, {
        X_TENSOR("prediction", "any real tensor"),
        X_TENSOR("target", "real tensor of the same shape"),
    }, check_against_reals, "mean of (prediction - target)²"},
    [B_BINARY_CROSS_ENTROPY] = {"binary_cross_entropy", BC_LOSS, NULL, {
        X_TENSOR("probability", "values in (0, 1), e.g. after sigmoid"),
        X_TENSOR("target", "real tensor of the same shape, values in [0, 1]"),
    }, check_against_reals, "mean of -(y·log p + (1-y)·log(1-p))"},
    [B_ACCURACY] = {"accuracy", BC_METRIC, NULL, {
        X_TENSOR("logits", "[..., C] scores, or probabilities of the target's shape"),
        X_TENSOR("target", "class(C) or token(C)[...] labels, or real 0/1 targets"),
    }, check_accuracy, "fraction of examples whose largest score is the target; "
                       "with real targets of one shape (binary), whose p > 0.5 agrees with target > 0.5"},
    [B_MAE] = {"mae", BC_LOSS, NULL, {
        X_TENSOR("prediction", "any real tensor"),
        X_TENSOR("target", "real tensor of the same shape"),
    }, check_against_reals, "mean of |prediction - target|"},
    [B_BINARY_CROSS_ENTROPY_LOGITS] = {"binary_cross_entropy_logits", BC_LOSS, NULL, {
        X_TENSOR("logits", "real scores, before sigmoid"),
        X_TENSOR("target", "real tensor of the same shape, values in [0, 1]"),
    }, check_against_reals, "binary_cross_entropy(sigmoid(z), y), computed stably: mean of max(z,0) - z·y + log(1 + exp(-|z|))"},

    [B_SGD] = {"sgd", BC_OPTIMIZER, NULL, {
        {.name = "lr", .kind = PK_FLOAT, .required = true, .range = "(0,inf)", .doc = "learning rate"},
        OPT_WD(0), OPT_CLIP,
    }, NULL, "w -= lr·g"},
    [B_MOMENTUM] = {"momentum", BC_OPTIMIZER, NULL, {
        {.name = "lr", .kind = PK_FLOAT, .required = true, .range = "(0,inf)", .doc = "learning rate"},
        {.name = "momentum", .kind = PK_FLOAT, .def = FLT(0.9), .range = "[0,1)", .doc = "velocity decay"},
        {.name = "nesterov", .kind = PK_BOOL, .def = BOOL(false), .doc = "Nesterov's look-ahead form"},
        OPT_WD(0), OPT_CLIP,
    }, NULL, "SGD with momentum (torch.optim.SGD)"},
    [B_ADAM] = {"adam", BC_OPTIMIZER, NULL, {ADAM_PARAMS(1e-3, 0)}, NULL, "Adam with bias correction"},
    [B_ADAMW] = {"adamw", BC_OPTIMIZER, NULL, {ADAM_PARAMS(1e-3, 0.01)}, NULL, "Adam with decoupled weight decay"},

    [B_CONSTANT] = {"constant", BC_SCHEDULE, NULL, {{0}}, NULL, "the optimizer's lr throughout"},
    [B_STEP] = {"step", BC_SCHEDULE, NULL, {
        {.name = "every", .kind = PK_INT, .required = true, .range = "[1,inf)", .doc = "steps between decays"},
        {.name = "gamma", .kind = PK_FLOAT, .def = FLT(0.1), .range = "(0,1]", .doc = "factor applied each time"},
    }, NULL, "lr·gamma^floor(step/every)"},
    [B_COSINE] = {"cosine", BC_SCHEDULE, NULL, {
        {.name = "warmup", .kind = PK_INT, .def = INT(0), .range = "[0,inf)", .doc = "steps of linear warm-up from 0"},
        {.name = "min_lr", .kind = PK_FLOAT, .def = FLT(0), .range = "[0,inf)", .doc = "floor reached at the last step"},
    }, NULL, "linear warm-up, then cosine decay to min_lr over the run"},

    [B_MNIST] = {"mnist", BC_DATA, NULL, {
        {.name = "dir", .kind = PK_STRING, .required = true, .doc = "folder with the four IDX files (gzipped or not)"},
        {.name = "normalize", .kind = PK_ENUM, .def = STR("standard"), .choices = "standard|unit|none",
         .doc = "standard: (x/255 - 0.1307)/0.3081; unit: x/255; none: raw bytes"},
    }, check_mnist, "MNIST-style IDX images and labels"},
    [B_CSV] = {"csv", BC_DATA, NULL, {
        {.name = "train", .kind = PK_STRING, .required = true, .doc = "training rows: features, then the target last"},
        {.name = "test", .kind = PK_STRING, .def = STR(""), .doc = "test rows, same layout; empty: none"},
        {.name = "header", .kind = PK_BOOL, .def = BOOL(false), .doc = "skip the first line"},
        {.name = "columns", .kind = PK_STRING, .def = STR(""),
         .doc = "which columns feed which input and target, \"x: 0-3, y: 4\" (from 0); empty: the target last"},
    }, check_csv, "numbers, one example per line"},
    [B_TEXT] = {"text", BC_DATA, NULL, {
        {.name = "file", .kind = PK_STRING, .required = true, .doc = "a text file; its characters are the vocabulary"},
        {.name = "block", .kind = PK_INT, .required = true, .range = "[1,inf)", .doc = "window length T"},
        {.name = "split", .kind = PK_FLOAT, .def = FLT(0.9), .range = "(0,1)", .doc = "fraction used for training"},
        {.name = "tokenizer", .kind = PK_TOKENIZER, .def = STR("bytes"),
         .doc = "bytes: each distinct byte is a token; bpe(vocab: N): byte-level BPE learned from the training part"},
    }, check_text, "character-level windows: next-character prediction"},
    [B_NPZ] = {"npz", BC_DATA, NULL, {
        {.name = "train", .kind = PK_STRING, .required = true,
         .doc = "a NumPy .npz archive (np.savez) with an array per input and target, named after it"},
        {.name = "test", .kind = PK_STRING, .def = STR(""), .doc = "test arrays, same names; empty: none"},
    }, check_npz, "NumPy arrays, the first axis counting examples, for every input and target"},
    [B_BPE] = {"bpe", BC_TOKENIZER, NULL, {
        {.name = "vocab", .kind = PK_INT, .required = true, .range = "[257,1048576]",
         .doc = "final vocabulary: the 256 bytes and vocab - 256 merges"},
    }, NULL, "byte-level byte-pair encoding, learned from the training part of the text"},
};

/* ---- lookups ------------------------------------------------------------- */

const Builtin *builtin_lookup(const char *name)
{
    for (int i = 0; i < B_COUNT; i++)
        if (builtin_table[i].name && strcmp(builtin_table[i].name, name) == 0)
            return &builtin_table[i];
    return NULL;
}

int builtin_nparams(const Builtin *b)
{
    int n = 0;
    while (n < BUILTIN_MAX_PARAMS && b->params[n].name)
        n++;
    return n;
}

const char *builtin_class_name(BuiltinClass c)
{
    switch (c) {
    case BC_LAYER: return "layer";
    case BC_LOSS: return "loss";
    case BC_METRIC: return "metric";
    case BC_OPTIMIZER: return "optimizer";
    case BC_SCHEDULE: return "schedule";
    case BC_DATA: return "data source";
    case BC_TOKENIZER: return "tokenizer";
    }
    return "?";
}

const char *builtin_class_phrase(BuiltinClass c)
{
    switch (c) {
    case BC_LAYER: return "a layer";
    case BC_LOSS: return "a loss";
    case BC_METRIC: return "a metric";
    case BC_OPTIMIZER: return "an optimizer";
    case BC_SCHEDULE: return "a schedule";
    case BC_DATA: return "a data source";
    case BC_TOKENIZER: return "a tokenizer";
    }
    return "?";
}

/* "[lo,hi)": brackets say inclusive, parentheses exclusive, "inf" unbounded */
typedef struct Range {
    double lo, hi;
    bool   lo_incl, hi_incl;
} Range;

static Range range_of(const char *range)
{
    const char *comma = strchr(range, ',');
    return (Range){strtod(range + 1, NULL), strncmp(comma + 1, "inf", 3) == 0 ? INFINITY : strtod(comma + 1, NULL),
                   range[0] == '[', range[strlen(range) - 1] == ']'};
}

bool range_contains(const char *range, double v)
{
    Range r = range_of(range);
    if (r.lo_incl ? v < r.lo : v <= r.lo)
        return false;
    if (r.hi_incl ? v > r.hi : v >= r.hi)
        return false;
    return true;
}

bool range_positive(const char *range)
{
    Range r = range_of(range);
    return r.lo == 0 && !r.lo_incl;
}
