/* ir_internal.h — the functions the op table names (ops.def), and helpers
 * shared by the files of compiler/ir. */
#ifndef NNC_IR_INTERNAL_H
#define NNC_IR_INTERNAL_H

#include "ir.h"
#include "nnc_runtime.h"  /* RtCounter */

/* Shape rules (ops.c). */
const char *shp_leaf(const IrGraph *g, IrNode *n);
const char *shp_scalar(const IrGraph *g, IrNode *n);
const char *shp_ew(const IrGraph *g, IrNode *n);
const char *shp_reduce(const IrGraph *g, IrNode *n);
const char *shp_reduce_last(const IrGraph *g, IrNode *n);
const char *shp_argmax(const IrGraph *g, IrNode *n);
const char *shp_reshape(const IrGraph *g, IrNode *n);
const char *shp_permute(const IrGraph *g, IrNode *n);
const char *shp_broadcast(const IrGraph *g, IrNode *n);
const char *shp_slice(const IrGraph *g, IrNode *n);
const char *shp_pad(const IrGraph *g, IrNode *n);
const char *shp_concat(const IrGraph *g, IrNode *n);
const char *shp_cast(const IrGraph *g, IrNode *n);
const char *shp_matmul(const IrGraph *g, IrNode *n);
const char *shp_gather(const IrGraph *g, IrNode *n);
const char *shp_scatter_add(const IrGraph *g, IrNode *n);
const char *shp_one_hot(const IrGraph *g, IrNode *n);
const char *shp_windows(const IrGraph *g, IrNode *n);
const char *shp_windows_t(const IrGraph *g, IrNode *n);
const char *shp_patches(const IrGraph *g, IrNode *n);
const char *shp_patches_t(const IrGraph *g, IrNode *n);
const char *shp_pool_max(const IrGraph *g, IrNode *n);
const char *shp_pool_max_t(const IrGraph *g, IrNode *n);
const char *shp_pool_rows_t(const IrGraph *g, IrNode *n);
const char *shp_pool_conv_t(const IrGraph *g, IrNode *n);
/* A matmul's attributes: i[0] op(A) transposed, i[1] op(B) transposed, i[2]
 * lead (the leading axes are contracted too), i[3] the operand read as
 * patches of an image (1: A, 2: B; passes/implicit.c), win their window,
 * shape: those rows as the matmul sees them; i[7] the causal triangle
 * (ir_mm_tri, below). */
enum { IR_MM_PATCHES_A = 1, IR_MM_PATCHES_B = 2 };  /* i[3] */
static inline bool ir_mm_ta(const IrNode *n) { return n->a.i[0] != 0; }
static inline bool ir_mm_tb(const IrNode *n) { return n->a.i[1] != 0; }
static inline bool ir_mm_lead(const IrNode *n) { return n->a.i[2] != 0; }
static inline int ir_mm_patches(const IrNode *n) { return (int)n->a.i[3]; }  /* 0, IR_MM_PATCHES_A or _B */
/* A weight's gradient as autodiff makes it: aᵀ·b over all the leading axes
 * too, one matrix out (lead: the shape rule holds ta, no tb, and operands
 * of the same leading axes and K), neither operand read as patches. */
static inline bool ir_mm_lead_grad(const IrNode *n)
{
    return n->op == IR_MATMUL && ir_mm_lead(n) && !ir_mm_patches(n);
}
static inline int ir_mm_patches_operand(const IrNode *n) { return ir_mm_patches(n) - 1; }  /* 0 (A), 1 (B), -1: none */
/* i[7]: a causal attention's triangle the product may skip (passes/triangle.c),
 * for a mask that keeps C's or op(A)'s entry (i, j) where j <= i + d: the
 * kind in bits 0-1, d above them (i[7] = kind + 4·d).  Set on plain MATMULs
 * only; the interpreter computes everything (what is skipped is read by
 * nobody, or adds terms that are exactly 0). */
typedef enum IrMmTri {
    IR_MM_TRI_NONE = 0,
    IR_MM_TRI_C = 1,       /* C's entries j > i + d are read by nobody: they may be 0 (Q·Kᵀ, dO·Vᵀ) */
    IR_MM_TRI_A_LOWER = 2, /* op(A)'s row i is 0 past column i + d (P·V, dS·K) */
    IR_MM_TRI_A_UPPER = 3, /* op(A)'s row i is 0 before column i - d (Pᵀ·dO, dSᵀ·Q) */
} IrMmTri;
static inline IrMmTri ir_mm_tri(const IrNode *n) { return (IrMmTri)(n->a.i[7] & 3); }
static inline int64_t ir_mm_tri_offset(const IrNode *n) { return (n->a.i[7] - (n->a.i[7] & 3)) / 4; }
static inline void ir_mm_set_tri(IrAttr *a, IrMmTri kind, int64_t d) { a->i[7] = (int64_t)kind + 4 * d; }
/* FUSED_ROWS: i[0] the row length; i[1] the causal mask's operand + 1 (0:
 * none) and i[2] its offset d (passes/triangle.c): operand i[1] − 1 is a
 * mask [T, L] of the result's last two axes that keeps j <= i + d; past
 * it, the result and every reduction's operand are the same value at each
 * column of a row (ir_rows_fixed), or a sum's operand is ±0 there (which
 * the sum may skip): codegen computes each row up to the vector of 16 that
 * holds its column i + d and the rest from that one value.  The
 * interpreter computes everything. */
static inline int ir_rows_tri_mask(const IrNode *n) { return (int)n->a.i[1] - 1; }  /* the operand, or -1 */
static inline int64_t ir_rows_tri_offset(const IrNode *n) { return n->a.i[2]; }
static inline void ir_rows_set_tri(IrAttr *a, int mask, int64_t d)
{
    a->i[1] = mask + 1;
    a->i[2] = d;
}
/* The value instruction `in` of a fused_rows program is where its causal
 * mask (value mk) is 0, past the mask: a select on the mask takes its
 * other side, in->c; -1 for any other instruction.  The one rule that the
 * rows stop (ir_rows_fixed, codegen's past values) and the triangle's
 * analyses (passes/triangle.c) read the mask by. */
int ir_past_mask_side(const IrInstr *in, int mk);
/* Which values of fused_rows n's program are the same at every column its
 * causal mask (operand mk) throws away, in fixed[value]: the mask, the
 * operands broadcast along the row, a reduction (one per row), a select
 * on the mask (its other side), and any other op of such values. */
void ir_rows_fixed(const IrGraph *g, const IrNode *n, int mk, bool *fixed);
/* Why fused_rows n may not stop its rows at its mask operand mk, or NULL:
 * its result must be whole rows (its last axis the row, not one value a
 * row), of a program of at most IR_ROWS_TRI_VALUES_MAX values; past the
 * mask its result must be one value per row (ir_rows_fixed fills fixed, at
 * least that many), and a reduction of a value that is not may only add
 * its terms (OPF_ADDS), which it skips; given zero (passes/triangle.c:
 * which values are 0 past the mask), only terms that are 0 there.  The one
 * test of both the shape rule (ops.c) and the pass that sets the mask. */
const char *ir_rows_stop_error(const IrGraph *g, const IrNode *n, int mk, const bool *zero, bool *fixed);
/* A rows triangle's program has at most this many values (operands and
 * instructions): the shape rule, run at every ir_add and ir_verify, tests
 * it with a buffer on the stack rather than an allocation a call.  The
 * GPT's have 12 at most (its attention's forward: 2 operands and 10
 * instructions); a longer one computes its rows whole. */
enum { IR_ROWS_TRI_VALUES_MAX = 256 };
/* The window of the operand read as patches: the window of the patches op
 * it replaces, so the shape rules' window_geometry and windowed read it as
 * they read that op's. */
static inline IrWindow ir_mm_window(const IrNode *n) { return n->a.win; }
/* Marks matmul attributes `a` as reading operand `which` (IR_MM_PATCHES_A
 * or _B) as patches under window w. */
static inline void ir_mm_set_patches(IrAttr *a, int which, const IrWindow *w)
{
    a->i[3] = which;
    a->win = *w;
}
/* A window op's window (windows, patches, the poolings and their
 * transposes) as the attributes of another window op: no other attribute. */
static inline IrAttr ir_window(const IrNode *n) { return (IrAttr){.win = n->a.win}; }
static inline bool ir_same_window(const IrNode *a, const IrNode *b)
{
    const IrWindow *x = &a->a.win, *y = &b->a.win;
    for (int d = 0; d < 2; d++)
        if (x->k[d] != y->k[d] || x->stride[d] != y->stride[d] || x->pad[d] != y->pad[d])
            return false;
    return true;
}
/* POOL_MAX, POOL_MAX_T, POOL_ROWS_T and POOL_CONV_T: i[3] = 1 when a relu is folded in
 * (passes/pool_relu.c): POOL_MAX(x, x) writes relu of each window's maximum;
 * the others weigh y by (that maximum > 0), relu's backward.
 * Set after autodiff only. */
static inline bool ir_pool_relu(const IrNode *n) { return n->a.i[3] != 0; }
static inline void ir_pool_set_relu(IrAttr *a) { a->i[3] = 1; }
/* POOL_CONV_T: i[4..7] the window of the convolution whose input gradient
 * it computes (passes/pool_conv.c copies the product's, ir_mm_window),
 * beside the pooling's win and i[3]: its kh, kw, pad along the height,
 * pad along the width; its stride is 1 on both axes. */
static inline IrWindow ir_pool_conv_window(const IrNode *n)
{
    return (IrWindow){.k = {n->a.i[4], n->a.i[5]}, .stride = {1, 1}, .pad = {n->a.i[6], n->a.i[7]}};
}
/* w's stride is 1 on both axes (passes/pool_conv.c makes no other). */
static inline void ir_pool_conv_set_window(IrAttr *a, const IrWindow *w)
{
    a->i[4] = w->k[0], a->i[5] = w->k[1], a->i[6] = w->pad[0], a->i[7] = w->pad[1];
}
/* POOL_ROWS_T's kh·kw·T at most: its kernel unrolls that many products per
 * channel and window (its shape rule refuses more; passes/pool_grad.c
 * makes no larger one). */
enum { IR_POOL_ROWS_T_MAX = 64 };
/* POOL_CONV_T's convolution taps kh·kw at most: its kernel sums each tap's
 * channel vectors in registers, 24 of them (its shape rule refuses more;
 * passes/pool_conv.c makes no larger one: a 5x5 kernel stays a dense
 * convolution). */
enum { IR_POOL_CONV_T_TAPS_MAX = 24 };
const IrShape *ir_matmul_operand(const IrGraph *g, const IrNode *n, int k);  /* operand k as it multiplies */
bool ir_matmul_folds(const IrGraph *g, const IrNode *n);   /* all of C's rows are one matrix */
/* Output pixels along an axis of `in` pixels under a window of k, stride s,
 * padding p that fits (in + 2p >= k): the one formula for the shapes, the
 * interpreter and the generated window kernels (each axis of an IrWindow
 * on its own). */
int64_t ir_window_out(int64_t in, int64_t k, int64_t s, int64_t p);
const char *shp_fused(const IrGraph *g, IrNode *n);
const char *shp_matmul_epi(const IrGraph *g, IrNode *n);

/* Scalar functions of elementwise ops (ops.c). */
#define SCALAR(nm) double sc_##nm(double a, double b, double c, double f);
SCALAR(neg) SCALAR(exp) SCALAR(log) SCALAR(sqrt) SCALAR(rsqrt) SCALAR(tanh) SCALAR(erf) SCALAR(relu)
SCALAR(sigmoid) SCALAR(sin) SCALAR(cos) SCALAR(floor) SCALAR(pow) SCALAR(identity) SCALAR(add) SCALAR(sub)
SCALAR(mul) SCALAR(div) SCALAR(max) SCALAR(min) SCALAR(gt) SCALAR(ge) SCALAR(eq) SCALAR(select)
#undef SCALAR

/* Gradient rules (grad.c). */
struct IrGradCtx;
#define GRAD(nm) void grad_##nm(struct IrGradCtx *ad, int node, int gout);
GRAD(neg) GRAD(exp) GRAD(log) GRAD(sqrt) GRAD(rsqrt) GRAD(tanh) GRAD(erf) GRAD(relu) GRAD(sigmoid)
GRAD(sin) GRAD(cos) GRAD(pow) GRAD(add) GRAD(sub) GRAD(mul) GRAD(div) GRAD(max) GRAD(min) GRAD(select)
GRAD(sum) GRAD(mean) GRAD(rmax) GRAD(reshape) GRAD(permute) GRAD(broadcast) GRAD(slice) GRAD(pad)
GRAD(concat) GRAD(matmul) GRAD(gather) GRAD(scatter_add) GRAD(windows) GRAD(windows_t)
GRAD(patches) GRAD(patches_t) GRAD(pool_max) GRAD(pool_max_t)
#undef GRAD

/* Interpreter kernels (interp.c). */
struct IrEval;
#define EVAL(nm) void eval_##nm(struct IrEval *ev, int node);
EVAL(input) EVAL(const) EVAL(tensor) EVAL(batch_size) EVAL(ew) EVAL(reduce) EVAL(argmax) EVAL(copy)
EVAL(permute) EVAL(broadcast) EVAL(slice) EVAL(pad) EVAL(concat) EVAL(matmul) EVAL(gather)
EVAL(scatter_add) EVAL(one_hot) EVAL(random_mask) EVAL(windows) EVAL(windows_t) EVAL(fused)
EVAL(fused_rows) EVAL(matmul_epi) EVAL(patches) EVAL(patches_t) EVAL(pool_max) EVAL(pool_max_t) EVAL(pool_rows_t)
EVAL(pool_conv_t)
#undef EVAL

/* The step counter `counter` of g: its ROLE_STEP input, a scalar of g's
 * real type named as the runtime names it (rt_counter_name), made at its
 * first use.  a.i[0] says which counter it is, so the driver and the passes
 * find counters by that, never by name.  The node, or -1 (g->error). */
int ir_counter(IrGraph *g, RtCounter counter);
/* Which step counter node n is; RT_COUNTER_NONE for any other node. */
static inline RtCounter ir_counter_of(const IrNode *n)
{
    return n->op == IR_INPUT && n->a.role == ROLE_STEP ? (RtCounter)n->a.i[0] : RT_COUNTER_NONE;
}

/* Broadcast of two shapes; 0 on success. */
int ir_broadcast_shapes(const IrShape *a, const IrShape *b, IrShape *out);
/* The counter-based generator behind RANDOM_MASK: a uniform number in
 * [0, 1) for (seed, stream, step, element).  It is the runtime's
 * rt_uniform, so generated code draws the same masks. */
double ir_uniform(uint64_t seed, uint64_t stream, uint64_t step, uint64_t element);

#endif
