/* test_grad_ops.c — every gradient rule of the op table against finite
 * differences.
 *
 * The table `cases` below maps ops to small f64 graphs: each row names an
 * op, the shapes and value domains of its operands and its attributes, and
 * optionally a builder for graphs that need more than the op applied to its
 * operands.  Operands are ROLE_PARAM inputs (so autodiff differentiates
 * them), except a select's condition and i32 ids, which are plain inputs.
 * Value domains keep every entry away from kinks, ties and singularities
 * by far more than the finite-difference step.
 *
 * For each row the loss is sum(result · R), R a fixed random tensor of the
 * result's shape (a TENSOR constant, or an input when the result is
 * batched); every entry of every parameter is checked: the gradient that
 * ad_append builds, interpreted, against the central difference of the
 * forward graph with h = 1e-6.  An entry passes if
 *     |fd - ad| <= 1e-7 + 1e-6 · max(|fd|, |ad|).
 * Batched graphs run at batch 3.  All values come from ir_uniform with a
 * fixed seed, one stream per row, so a row's values do not depend on others.
 *
 * A walk over ir_ops makes sure the table keeps up: every op that is not a
 * leaf, fused or OPF_NO_GRAD must have a gradient rule, a printed rule and
 * at least one row here, so a new op cannot arrive untested.
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/autodiff.h"
#include "ir/interp.h"
#include "ir/ir_internal.h"

/* ---- the table ------------------------------------------------------------------------ */

#define B IR_BATCH
#define NARGS(...) NARGS_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define NARGS_(a1, a2, a3, a4, a5, a6, a7, a8, n, ...) n
#define SH(...) {NARGS(__VA_ARGS__), {__VA_ARGS__}}

enum { BATCH = 3, MAX_INPUTS = 8, MAX_REPORTS = 3 };
static const uint64_t SEED = 20240601;
static const double H = 1e-6, ATOL = 1e-7, RTOL = 1e-6;

/* The values an operand takes. */
typedef enum Dom {
    D_NONE,     /* no such operand */
    D_ANY,      /* uniform in [-2, 2]: neg, sigmoid, sin, cos, linear ops */
    D_MOD,      /* uniform in [-1.5, 1.5]: exp, tanh, erf */
    D_POS,      /* uniform in [0.5, 2]: log, sqrt, rsqrt, pow, denominators */
    D_AWAY,     /* +-[0.2, 2]: relu, away from its kink */
    D_GRID,     /* distinct multiples of 0.2, shuffled: max, min, rmax never tie */
    D_GRID_ODD, /* D_GRID shifted by 0.1: never within 0.1 of a D_GRID value */
    D_COND,     /* a plain input of 0s and 1s: select's condition */
    D_IDS,      /* a plain i32 input of ids (e*e + 1) % V: repeats and unused rows */
} Dom;

struct Ctx;
typedef struct GradCase {
    IrOp        op;        /* the op the row checks (the graph must contain it) */
    IrShape     s[3];      /* operand shapes */
    Dom         dom[3];    /* operand domains; D_NONE ends the list */
    IrAttr      attr;      /* the op's attributes */
    int       (*build)(struct Ctx *c, const struct GradCase *k);   /* NULL: op(operands, attr) */
    const char *note;      /* what a custom builder builds */
} GradCase;

/* One graph being built: its inputs and their values. */
typedef struct Ctx {
    IrGraph  *g;
    Arena    *arena;
    uint64_t  stream;      /* the row's stream of random numbers */
    uint64_t  draws;
    int64_t   idbound;     /* V for D_IDS */
    int       ninputs;
    int       node[MAX_INPUTS];
    double   *val[MAX_INPUTS];
    bool      param[MAX_INPUTS];
} Ctx;

static int build_square(Ctx *c, const GradCase *k);
static int build_cube(Ctx *c, const GradCase *k);
static int build_shared(Ctx *c, const GradCase *k);
static int build_dropout(Ctx *c, const GradCase *k);
static int build_select_gt(Ctx *c, const GradCase *k);
static int build_softmax(Ctx *c, const GradCase *k);
static int build_layernorm(Ctx *c, const GradCase *k);
static int build_maxpool(Ctx *c, const GradCase *k);
static int build_conv(Ctx *c, const GradCase *k);
static int build_pool_max(Ctx *c, const GradCase *k);

/* Unary elementwise ops: unbatched and batched. */
#define UNARY(o, d) {.op = IR_##o, .s = {SH(2, 3)}, .dom = {d}}, {.op = IR_##o, .s = {SH(B, 2, 2)}, .dom = {d}}
#define POW(sx, d, c) {.op = IR_POW, .s = {sx}, .dom = {d}, .attr = {.f = c}}
/* Binary elementwise ops: equal shapes, every way of broadcasting, the batch. */
#define BINARY(o, dx, dy)                                            \
    {.op = IR_##o, .s = {SH(2, 3), SH(2, 3)}, .dom = {dx, dy}},       \
    {.op = IR_##o, .s = {SH(2, 3), SH(3)}, .dom = {dx, dy}},          \
    {.op = IR_##o, .s = {SH(3), SH(2, 3)}, .dom = {dx, dy}},          \
    {.op = IR_##o, .s = {SH(2, 1), SH(1, 4)}, .dom = {dx, dy}},       \
    {.op = IR_##o, .s = {SH(2, 3), SH(1)}, .dom = {dx, dy}},          \
    {.op = IR_##o, .s = {SH(1), SH(2, 3)}, .dom = {dx, dy}},          \
    {.op = IR_##o, .s = {SH(B, 3), SH(B, 3)}, .dom = {dx, dy}},       \
    {.op = IR_##o, .s = {SH(B, 3), SH(3)}, .dom = {dx, dy}},          \
    {.op = IR_##o, .s = {SH(1, 4), SH(B, 1)}, .dom = {dx, dy}},       \
    {.op = IR_##o, .s = {SH(2, 1, 3), SH(B, 2, 1, 1)}, .dom = {dx, dy}}
#define SELECT(sc, sy, sz) {.op = IR_SELECT, .s = {sc, sy, sz}, .dom = {D_COND, D_ANY, D_ANY}}
/* Reductions over an axis mask. */
#define RED(o, sx, mask) {.op = IR_##o, .s = {sx}, .dom = {D_ANY}, .attr = {.i = {mask}}}
#define REDUCTIONS(o)                                                                                \
    RED(o, SH(2, 3, 4), 1), RED(o, SH(2, 3, 4), 2), RED(o, SH(2, 3, 4), 4), RED(o, SH(2, 3, 4), 5),     \
    RED(o, SH(2, 3, 4), 6), RED(o, SH(2, 3, 4), 7), RED(o, SH(5), 1), RED(o, SH(B, 3, 2), 1),          \
    RED(o, SH(B, 3, 2), 2), RED(o, SH(B, 3, 2), 4), RED(o, SH(B, 3, 2), 3), RED(o, SH(B, 3, 2), 6),     \
    RED(o, SH(B, 3, 2), 7)
#define MM(sx, sy, ta, tb) {.op = IR_MATMUL, .s = {sx, sy}, .dom = {D_ANY, D_ANY}, .attr = {.i = {ta, tb}}}
/* lead: the leading axes join the contraction (a weight's gradient over [B, T, ...]) */
#define MM_LEAD(sx, sy) {.op = IR_MATMUL, .s = {sx, sy}, .dom = {D_ANY, D_ANY}, .attr = {.i = {1, 0, 1}}}
#define WIN(sx, k, st, p, pv) {.op = IR_WINDOWS, .s = {sx}, .dom = {D_ANY}, .attr = {.win = SQWIN(k, st, p), .f = pv}}
#define WIN_T(sw, k, st, p, image) \
    {.op = IR_WINDOWS_T, .s = {sw}, .dom = {D_ANY}, .attr = {.win = SQWIN(k, st, p), .shape = image}}
/* channels last: x [..., H, W, C] */
#define PATCH(sx, k, st, p) {.op = IR_PATCHES, .s = {sx}, .dom = {D_ANY}, .attr = {.win = SQWIN(k, st, p)}}
#define PATCH_T(sw, k, st, p, image) \
    {.op = IR_PATCHES_T, .s = {sw}, .dom = {D_ANY}, .attr = {.win = SQWIN(k, st, p), .shape = image}}
/* where the maxima of x are: distinct values, so a step of h moves none */
#define POOL(o, sx, sy, k, st, p) {.op = IR_##o, .s = {sx, sy}, .dom = {D_GRID, D_ANY}, .attr = {.win = SQWIN(k, st, p)}}

static const GradCase cases[] = {
    /* elementwise, one operand */
    UNARY(NEG, D_ANY), UNARY(EXP, D_MOD), UNARY(LOG, D_POS), UNARY(SQRT, D_POS), UNARY(RSQRT, D_POS),
    UNARY(TANH, D_MOD), UNARY(ERF, D_MOD), UNARY(RELU, D_AWAY), UNARY(SIGMOID, D_ANY), UNARY(SIN, D_ANY),
    UNARY(COS, D_ANY),
    POW(SH(2, 3), D_ANY, 2), POW(SH(B, 3), D_ANY, 2), POW(SH(2, 3), D_ANY, 3), POW(SH(B, 2), D_ANY, 3),
    POW(SH(2, 3), D_POS, 0.5), POW(SH(B, 2), D_POS, 0.5), POW(SH(2, 3), D_POS, -1), POW(SH(B, 2), D_POS, -1),
    POW(SH(2, 3), D_ANY, 1), POW(SH(2, 3), D_POS, 1.5), POW(SH(2, 3), D_POS, -0.5),

    /* elementwise, two and three operands */
    BINARY(ADD, D_ANY, D_ANY), BINARY(SUB, D_ANY, D_ANY), BINARY(MUL, D_ANY, D_ANY),
    BINARY(DIV, D_ANY, D_POS), BINARY(MAX, D_GRID, D_GRID_ODD), BINARY(MIN, D_GRID, D_GRID_ODD),
    {.op = IR_MAX, .s = {SH(2, 3), SH(3)}, .dom = {D_GRID_ODD, D_GRID}},
    {.op = IR_MIN, .s = {SH(B, 1), SH(4)}, .dom = {D_GRID_ODD, D_GRID}},
    SELECT(SH(2, 3), SH(2, 3), SH(2, 3)), SELECT(SH(2, 1), SH(3), SH(2, 3)), SELECT(SH(2, 3), SH(2, 1), SH(1)),
    SELECT(SH(B, 3), SH(B, 1), SH(3)), SELECT(SH(B, 1), SH(B, 3), SH(1, 3)),
    SELECT(SH(1, 3), SH(2, 1), SH(B, 1, 1)),
    {.op = IR_MUL, .s = {SH(2, 3)}, .dom = {D_ANY}, .build = build_square, .note = "x * x: one value used twice"},
    {.op = IR_MUL, .s = {SH(B, 2)}, .dom = {D_ANY}, .build = build_cube, .note = "(x * x) * x: used three times"},
    {.op = IR_ADD, .s = {SH(2, 3)}, .dom = {D_ANY}, .build = build_shared, .note = "exp(x) + sin(x) * x"},
    {.op = IR_MUL, .s = {SH(2, 3)}, .dom = {D_ANY}, .build = build_dropout, .note = "x * random_mask(step)"},
    {.op = IR_SELECT, .s = {SH(2, 3), SH(3)}, .dom = {D_GRID, D_GRID_ODD}, .build = build_select_gt,
     .note = "select(gt(x, y), x, y)"},

    /* reductions */
    REDUCTIONS(SUM), REDUCTIONS(MEAN),
    {.op = IR_RMAX, .s = {SH(2, 5)}, .dom = {D_GRID}},
    {.op = IR_RMAX, .s = {SH(B, 4)}, .dom = {D_GRID}},
    {.op = IR_RMAX, .s = {SH(2, 3, 4)}, .dom = {D_GRID}},
    {.op = IR_RMAX, .s = {SH(6)}, .dom = {D_GRID}},
    {.op = IR_EXP, .s = {SH(B, 4)}, .dom = {D_ANY}, .build = build_softmax, .note = "softmax with stop_grad(rmax)"},
    {.op = IR_RSQRT, .s = {SH(B, 5)}, .dom = {D_ANY}, .build = build_layernorm,
     .note = "layer norm: (x - mean x) rsqrt(mean((x - mean x)^2) + eps)"},

    /* layout */
    {.op = IR_RESHAPE, .s = {SH(2, 6)}, .dom = {D_ANY}, .attr = {.shape = SH(3, 4)}},
    {.op = IR_RESHAPE, .s = {SH(2, 3, 4)}, .dom = {D_ANY}, .attr = {.shape = SH(6, 4)}},
    {.op = IR_RESHAPE, .s = {SH(6)}, .dom = {D_ANY}, .attr = {.shape = SH(1, 6, 1)}},
    {.op = IR_RESHAPE, .s = {SH(B, 6)}, .dom = {D_ANY}, .attr = {.shape = SH(B, 2, 3)}},
    {.op = IR_RESHAPE, .s = {SH(B, 2, 3)}, .dom = {D_ANY}, .attr = {.shape = SH(B, 6)}},
    {.op = IR_PERMUTE, .s = {SH(2, 3)}, .dom = {D_ANY}, .attr = {.i = {1, 0}}},
    {.op = IR_PERMUTE, .s = {SH(2, 3, 4)}, .dom = {D_ANY}, .attr = {.i = {2, 0, 1}}},
    {.op = IR_PERMUTE, .s = {SH(2, 3, 4)}, .dom = {D_ANY}, .attr = {.i = {1, 2, 0}}},
    {.op = IR_PERMUTE, .s = {SH(2, 3, 2, 2)}, .dom = {D_ANY}, .attr = {.i = {3, 1, 0, 2}}},
    {.op = IR_PERMUTE, .s = {SH(2, 3, 2, 2)}, .dom = {D_ANY}, .attr = {.i = {0, 2, 3, 1}}},
    {.op = IR_PERMUTE, .s = {SH(B, 2, 3)}, .dom = {D_ANY}, .attr = {.i = {0, 2, 1}}},
    {.op = IR_PERMUTE, .s = {SH(B, 2, 3, 2)}, .dom = {D_ANY}, .attr = {.i = {0, 3, 1, 2}}},
    {.op = IR_BROADCAST, .s = {SH(3)}, .dom = {D_ANY}, .attr = {.shape = SH(2, 3)}},
    {.op = IR_BROADCAST, .s = {SH(2, 1)}, .dom = {D_ANY}, .attr = {.shape = SH(2, 4)}},
    {.op = IR_BROADCAST, .s = {SH(1)}, .dom = {D_ANY}, .attr = {.shape = SH(2, 3)}},
    {.op = IR_BROADCAST, .s = {SH(2, 1, 3)}, .dom = {D_ANY}, .attr = {.shape = SH(4, 2, 2, 3)}},
    {.op = IR_BROADCAST, .s = {SH(3)}, .dom = {D_ANY}, .attr = {.shape = SH(B, 3)}},
    {.op = IR_BROADCAST, .s = {SH(B, 1)}, .dom = {D_ANY}, .attr = {.shape = SH(B, 4)}},
    {.op = IR_BROADCAST, .s = {SH(1, 3)}, .dom = {D_ANY}, .attr = {.shape = SH(B, 2, 3)}},
    {.op = IR_SLICE, .s = {SH(4, 3)}, .dom = {D_ANY}, .attr = {.i = {0, 1, 2}}},
    {.op = IR_SLICE, .s = {SH(2, 5)}, .dom = {D_ANY}, .attr = {.i = {1, 2, 3}}},
    {.op = IR_SLICE, .s = {SH(2, 3, 4)}, .dom = {D_ANY}, .attr = {.i = {1, 0, 1}}},
    {.op = IR_SLICE, .s = {SH(B, 4)}, .dom = {D_ANY}, .attr = {.i = {1, 1, 2}}},
    {.op = IR_PAD, .s = {SH(2, 3)}, .dom = {D_ANY}, .attr = {.i = {0, 1, 2}}},
    {.op = IR_PAD, .s = {SH(2, 3)}, .dom = {D_ANY}, .attr = {.i = {1, 0, 2}}},
    {.op = IR_PAD, .s = {SH(2, 3, 2)}, .dom = {D_ANY}, .attr = {.i = {2, 1, 0}}},
    {.op = IR_PAD, .s = {SH(B, 3)}, .dom = {D_ANY}, .attr = {.i = {1, 2, 1}}},
    {.op = IR_CONCAT, .s = {SH(2, 3), SH(1, 3)}, .dom = {D_ANY, D_ANY}, .attr = {.i = {0}}},
    {.op = IR_CONCAT, .s = {SH(2, 3), SH(2, 2)}, .dom = {D_ANY, D_ANY}, .attr = {.i = {1}}},
    {.op = IR_CONCAT, .s = {SH(2, 1, 3), SH(2, 2, 3)}, .dom = {D_ANY, D_ANY}, .attr = {.i = {1}}},
    {.op = IR_CONCAT, .s = {SH(B, 2), SH(B, 3)}, .dom = {D_ANY, D_ANY}, .attr = {.i = {1}}},

    /* linear algebra: every transpose, leading axes batched and broadcast, the batch contracted */
    MM(SH(2, 3), SH(3, 4), 0, 0), MM(SH(3, 2), SH(3, 4), 1, 0),
    MM(SH(2, 3), SH(4, 3), 0, 1), MM(SH(3, 2), SH(4, 3), 1, 1),
    MM(SH(B, 3), SH(3, 4), 0, 0), MM(SH(B, 3), SH(4, 3), 0, 1),
    MM(SH(B, 2, 3), SH(3, 4), 0, 0), MM(SH(2, 3), SH(B, 3, 4), 0, 0),
    MM(SH(B, 2, 3), SH(B, 3, 4), 0, 0), MM(SH(B, 3, 2), SH(B, 4, 3), 1, 1),
    MM(SH(B, 3, 2), SH(3, 4), 1, 0), MM(SH(2, 3), SH(B, 4, 3), 0, 1),
    MM(SH(2, 1, 2, 3), SH(3, 3, 2), 0, 0), MM(SH(3, 2, 2), SH(2, 1, 4, 2), 1, 1),
    MM(SH(B, 2), SH(B, 3), 1, 0), MM(SH(B, 3), SH(B, 2), 1, 0),
    MM_LEAD(SH(B, 3, 2), SH(B, 3, 4)), MM_LEAD(SH(2, 3, 2, 3), SH(2, 3, 2, 2)),

    /* indices */
    {.op = IR_GATHER, .s = {SH(5, 3), SH(4)}, .dom = {D_ANY, D_IDS}},
    {.op = IR_GATHER, .s = {SH(5, 3), SH(B, 2)}, .dom = {D_ANY, D_IDS}},
    {.op = IR_GATHER, .s = {SH(4, 2), SH(2, 3)}, .dom = {D_ANY, D_IDS}},
    {.op = IR_SCATTER_ADD, .s = {SH(4, 3), SH(4)}, .dom = {D_ANY, D_IDS}, .attr = {.i = {5}}},
    {.op = IR_SCATTER_ADD, .s = {SH(B, 2, 3), SH(B, 2)}, .dom = {D_ANY, D_IDS}, .attr = {.i = {4}}},
    {.op = IR_SCATTER_ADD, .s = {SH(6, 2), SH(6)}, .dom = {D_ANY, D_IDS}, .attr = {.i = {3}}},

    /* sliding windows */
    WIN(SH(1, 2, 4, 4), 2, 1, 0, 0), WIN(SH(B, 1, 5, 4), 3, 2, 1, 0), WIN(SH(1, 1, 4, 5), 3, 1, 2, 0),
    WIN(SH(2, 1, 3, 3), 1, 2, 0, 0), WIN(SH(1, 1, 5, 5), 2, 3, 0, 0), WIN(SH(1, 2, 3, 4), 3, 1, 1, 1.5),
    /* rectangular: each axis its own size, stride and padding */
    {.op = IR_WINDOWS, .s = {SH(1, 2, 5, 6)}, .dom = {D_ANY}, .attr = {.win = {.k = {1, 3}, .stride = {2, 1}, .pad = {0, 1}}}},
    {.op = IR_WINDOWS, .s = {SH(B, 2, 4, 4)}, .dom = {D_GRID}, .attr = {.win = SQWIN(2, 2, 1), .f = -INFINITY},
     .build = build_maxpool, .note = "max pooling: rmax(windows(x, padding -inf))"},
    {.op = IR_WINDOWS, .s = {SH(1, 1, 5, 5)}, .dom = {D_GRID}, .attr = {.win = SQWIN(3, 2, 1), .f = -INFINITY},
     .build = build_maxpool, .note = "max pooling: rmax(windows(x, padding -inf))"},
    {.op = IR_WINDOWS, .s = {SH(B, 2, 4, 4), SH(3, 18)}, .dom = {D_ANY, D_ANY}, .attr = {.win = SQWIN(3, 1, 1)},
     .build = build_conv, .note = "convolution: windows, permute, reshape, matmul"},
    WIN_T(SH(1, 2, 3, 3, 4), 2, 1, 0, SH(1, 2, 4, 4)), WIN_T(SH(B, 1, 3, 2, 9), 3, 2, 1, SH(B, 1, 5, 4)),
    WIN_T(SH(1, 1, 2, 2, 4), 2, 3, 0, SH(1, 1, 5, 5)), WIN_T(SH(2, 1, 3, 3, 1), 1, 1, 0, SH(2, 1, 3, 3)),

    /* channels-last windows */
    PATCH(SH(1, 4, 4, 2), 2, 1, 0), PATCH(SH(B, 5, 4, 1), 3, 2, 1), PATCH(SH(1, 4, 5, 3), 3, 1, 2),
    PATCH(SH(2, 3, 3, 2), 1, 2, 0), PATCH(SH(B, 2, 4, 4, 2), 3, 1, 1),
    {.op = IR_PATCHES, .s = {SH(1, 5, 6, 2)}, .dom = {D_ANY}, .attr = {.win = {.k = {3, 2}, .stride = {1, 2}, .pad = {1, 0}}}},
    PATCH_T(SH(1, 3, 3, 8), 2, 1, 0, SH(1, 4, 4, 2)), PATCH_T(SH(B, 3, 2, 9), 3, 2, 1, SH(B, 5, 4, 1)),
    PATCH_T(SH(1, 3, 3, 27), 3, 2, 2, SH(1, 3, 4, 3)),
    POOL(POOL_MAX, SH(B, 4, 4, 2), SH(B, 4, 4, 2), 2, 2, 1), POOL(POOL_MAX, SH(1, 5, 5, 1), SH(1, 5, 5, 1), 3, 2, 1),
    POOL(POOL_MAX, SH(2, 3, 4, 4, 2), SH(2, 3, 4, 4, 2), 2, 1, 0),
    {.op = IR_POOL_MAX, .s = {SH(1, 5, 6, 2), SH(1, 5, 6, 2)}, .dom = {D_GRID, D_ANY},
     .attr = {.win = {.k = {3, 1}, .stride = {1, 2}, .pad = {1, 0}}}},
    {.op = IR_POOL_MAX, .s = {SH(B, 4, 4, 3)}, .dom = {D_GRID}, .attr = {.win = SQWIN(2, 2, 0)},
     .build = build_pool_max, .note = "max pooling: pool_max(x, x)"},
    {.op = IR_POOL_MAX, .s = {SH(1, 5, 4, 2)}, .dom = {D_GRID}, .attr = {.win = SQWIN(3, 2, 2)},
     .build = build_pool_max, .note = "max pooling: pool_max(x, x)"},
    POOL(POOL_MAX_T, SH(B, 4, 4, 2), SH(B, 3, 3, 2), 2, 2, 1), POOL(POOL_MAX_T, SH(1, 5, 5, 1), SH(1, 5, 5, 1), 3, 1, 1),
};
enum { NCASES = sizeof cases / sizeof *cases };

/* ---- values ------------------------------------------------------------------------------ */

static double uniform(Ctx *c, double lo, double hi)
{
    return lo + (hi - lo) * ir_uniform(SEED, c->stream, 0, c->draws++);
}

static void fill(Ctx *c, double *v, int64_t n, Dom d)
{
    switch (d) {
    case D_NONE:
    case D_ANY:
        for (int64_t e = 0; e < n; e++)
            v[e] = uniform(c, -2, 2);
        break;
    case D_MOD:
        for (int64_t e = 0; e < n; e++)
            v[e] = uniform(c, -1.5, 1.5);
        break;
    case D_POS:
        for (int64_t e = 0; e < n; e++)
            v[e] = uniform(c, 0.5, 2);
        break;
    case D_AWAY:
        for (int64_t e = 0; e < n; e++) {
            double m = uniform(c, 0.2, 2);
            v[e] = uniform(c, 0, 1) < 0.5 ? -m : m;
        }
        break;
    case D_GRID:
    case D_GRID_ODD: {
        int64_t *perm = ARENA_ARRAY(c->arena, int64_t, n);
        for (int64_t e = 0; e < n; e++)
            perm[e] = e;
        for (int64_t e = n - 1; e > 0; e--) {
            int64_t j = (int64_t)(uniform(c, 0, 1) * (double)(e + 1));
            int64_t t = perm[e];
            perm[e] = perm[j];
            perm[j] = t;
        }
        for (int64_t e = 0; e < n; e++)
            v[e] = 0.2 * (double)(perm[e] - n / 2) + (d == D_GRID_ODD ? 0.1 : 0);
        break;
    }
    case D_COND:
        for (int64_t e = 0; e < n; e++)
            v[e] = (double)((e + (int64_t)c->stream) % 2);
        break;
    case D_IDS:
        for (int64_t e = 0; e < n; e++)
            v[e] = (double)((e * e + 1) % c->idbound);
        break;
    }
}

/* Keeps input node id (-1: not made) as c's next input, with values from
 * domain d.  id, or -1 (also when c has no room left). */
static int keep_input(Ctx *c, int id, bool param, Dom d)
{
    if (id < 0 || c->ninputs == MAX_INPUTS)
        return -1;
    int64_t n = ir_elems(&c->g->nodes[id].shape, BATCH);
    double *v = ARENA_ARRAY(c->arena, double, n + 1);
    fill(c, v, n, d);
    c->node[c->ninputs] = id;
    c->val[c->ninputs] = v;
    c->param[c->ninputs] = param;
    c->ninputs++;
    return id;
}

/* A graph input with values from domain d: a parameter unless d is D_COND or D_IDS. */
static int input_of(Ctx *c, IrRole role, const IrShape *s, Dom d)
{
    if (c->ninputs == MAX_INPUTS)
        return -1;
    bool param = role == ROLE_PARAM && d != D_COND && d != D_IDS;
    const char *name = arena_printf(c->arena, "%s%d", param ? "p" : "in", c->ninputs);
    return keep_input(c, ir_input(c->g, param ? ROLE_PARAM : role, name, d == D_IDS ? IR_I32 : IR_F64, s, SPAN_NONE),
                      param, d);
}

static int operand(Ctx *c, const GradCase *k, int i) { return input_of(c, ROLE_PARAM, &k->s[i], k->dom[i]); }

static void set_inputs(const Ctx *c, IrEval *ev)
{
    for (int i = 0; i < c->ninputs; i++)
        ir_eval_set(ev, c->node[i], c->val[i]);
}

/* ---- builders ----------------------------------------------------------------------------- */

static int bin(Ctx *c, IrOp op, int x, int y) { return ir_binary(c->g, op, x, y, SPAN_NONE); }
static int un(Ctx *c, IrOp op, int x) { return ir_unary(c->g, op, x, SPAN_NONE); }
static int node1(Ctx *c, IrOp op, int x, IrAttr a) { return ir_add(c->g, op, &x, 1, &a, SPAN_NONE); }

/* The op applied to its operands with the row's attributes. */
static int build_op(Ctx *c, const GradCase *k)
{
    int in[3], n = 0;
    for (; n < 3 && k->dom[n] != D_NONE; n++)
        in[n] = operand(c, k, n);
    return ir_add(c->g, k->op, in, n, &k->attr, SPAN_NONE);
}

static int build_square(Ctx *c, const GradCase *k)
{
    int x = operand(c, k, 0);
    return bin(c, IR_MUL, x, x);
}

static int build_cube(Ctx *c, const GradCase *k)
{
    int x = operand(c, k, 0);
    return bin(c, IR_MUL, bin(c, IR_MUL, x, x), x);
}

static int build_shared(Ctx *c, const GradCase *k)
{
    int x = operand(c, k, 0);
    int e = un(c, IR_EXP, x);
    return bin(c, IR_ADD, e, bin(c, IR_MUL, un(c, IR_SIN, x), x));
}

/* dropout: the mask is no parameter's function; step 5 */
static int build_dropout(Ctx *c, const GradCase *k)
{
    int x = operand(c, k, 0);
    int step = keep_input(c, ir_counter(c->g, RT_COUNTER_STEP), false, D_ANY);
    if (step < 0)
        return -1;
    c->val[c->ninputs - 1][0] = 5;
    int mask = node1(c, IR_RANDOM_MASK, step, (IrAttr){.shape = k->s[0], .i = {7, 1}, .f = 0.5});
    return bin(c, IR_MUL, x, mask);
}

/* the condition is a no-grad function of the parameters */
static int build_select_gt(Ctx *c, const GradCase *k)
{
    int x = operand(c, k, 0), y = operand(c, k, 1);
    int gt = bin(c, IR_GT, x, y);
    return ir_add(c->g, IR_SELECT, (int[]){gt, x, y}, 3, NULL, SPAN_NONE);
}

static int build_softmax(Ctx *c, const GradCase *k)
{
    int x = operand(c, k, 0);
    uint64_t last = (uint64_t)1 << (k->s[0].rank - 1);
    int m = un(c, IR_STOP_GRAD, ir_reduce(c->g, IR_RMAX, x, last, SPAN_NONE));
    int e = un(c, IR_EXP, bin(c, IR_SUB, x, m));
    return bin(c, IR_DIV, e, ir_reduce(c->g, IR_SUM, e, last, SPAN_NONE));
}

static int build_layernorm(Ctx *c, const GradCase *k)
{
    int x = operand(c, k, 0);
    uint64_t last = (uint64_t)1 << (k->s[0].rank - 1);
    int d = bin(c, IR_SUB, x, ir_reduce(c->g, IR_MEAN, x, last, SPAN_NONE));
    int var = ir_reduce(c->g, IR_MEAN, bin(c, IR_MUL, d, d), last, SPAN_NONE);
    int r = un(c, IR_RSQRT, bin(c, IR_ADD, var, ir_const(c->g, 1e-5, SPAN_NONE)));
    return bin(c, IR_MUL, d, r);
}

/* every window holds at least one pixel, and the pixels are distinct */
static int build_maxpool(Ctx *c, const GradCase *k)
{
    int x = operand(c, k, 0);
    int w = node1(c, IR_WINDOWS, x, k->attr);
    return w < 0 ? -1 : ir_reduce(c->g, IR_RMAX, w, (uint64_t)1 << 4, SPAN_NONE);
}

/* x [B, C, H, W], weights [O, C*k*k]: windows [B, C, Ho, Wo, kk] -> [B, Ho, Wo, C, kk]
 * -> [B, Ho*Wo, C*kk], times weights transposed: [B, Ho*Wo, O] */
static int build_conv(Ctx *c, const GradCase *k)
{
    int x = operand(c, k, 0), w = operand(c, k, 1);
    int win = node1(c, IR_WINDOWS, x, k->attr);
    if (win < 0)
        return -1;
    const IrShape *ws = &c->g->nodes[win].shape;
    int p = ir_permute(c->g, win, (int[]){0, 2, 3, 1, 4}, SPAN_NONE);
    IrShape rows = {3, {ws->dim[0], ws->dim[2] * ws->dim[3], ws->dim[1] * ws->dim[4]}};
    int r = ir_reshape(c->g, p, &rows, SPAN_NONE);
    return ir_matmul(c->g, r, w, false, true, SPAN_NONE);
}

/* both operands one value: where its maxima are, and what is picked there */
static int build_pool_max(Ctx *c, const GradCase *k)
{
    int x = operand(c, k, 0);
    return ir_add(c->g, IR_POOL_MAX, (int[]){x, x}, 2, &k->attr, SPAN_NONE);
}

/* loss = sum(result · R), a scalar */
static int make_loss(Ctx *c, int res)
{
    const IrShape *s = &c->g->nodes[res].shape;
    int r;
    if (ir_is_batched(s))
        r = input_of(c, ROLE_INPUT, s, D_ANY);
    else {
        int64_t n = ir_elems(s, 1);
        double *data = ARENA_ARRAY(c->arena, double, n + 1);
        for (int64_t e = 0; e < n; e++)
            data[e] = uniform(c, -1, 1);
        r = ir_add(c->g, IR_TENSOR, NULL, 0, &(IrAttr){.shape = *s, .data = data}, SPAN_NONE);
    }
    int prod = bin(c, IR_MUL, res, r);
    int rank = c->g->nodes[res].shape.rank;
    int sum = rank ? ir_reduce(c->g, IR_SUM, prod, ((uint64_t)1 << rank) - 1, SPAN_NONE) : prod;
    static const IrShape scalar = {0, {0}};
    return ir_reshape(c->g, sum, &scalar, SPAN_NONE);
}

/* ---- reporting ------------------------------------------------------------------------------ */

static void shape_text(StrBuf *sb, const IrShape *s) { ir_shape_print(sb, s); }

/* "matmul #3 (f64[B,2,3], f64[3,4]; i=[0,1])" */
static void describe(size_t idx, StrBuf *sb)
{
    const GradCase *k = &cases[idx];
    int nth = 1;
    for (size_t i = 0; i < idx; i++)
        nth += cases[i].op == k->op;
    sb_printf(sb, "%s #%d (", ir_ops[k->op].name, nth);
    for (int i = 0; i < 3 && k->dom[i] != D_NONE; i++) {
        sb_printf(sb, "%s%s", i ? ", " : "", k->dom[i] == D_IDS ? "ids i32" : k->dom[i] == D_COND ? "cond f64" : "f64");
        shape_text(sb, &k->s[i]);
    }
    /* the integer attributes the op reads, and any others set */
    int last = k->op == IR_PERMUTE ? k->s[0].rank - 1
             : k->op == IR_MATMUL ? 1
             : k->op == IR_SLICE || k->op == IR_PAD || (ir_ops[k->op].flags & OPF_WINDOW) ? 2
             : -1;
    for (int i = 0; i < 8; i++)
        if (k->attr.i[i] && i > last)
            last = i;
    if (last >= 0) {
        sb_printf(sb, "; i=[");
        for (int i = 0; i <= last; i++)
            sb_printf(sb, "%s%lld", i ? "," : "", (long long)k->attr.i[i]);
        sb_printf(sb, "]");
    }
    if (k->attr.f != 0)
        sb_printf(sb, "; f=%g", k->attr.f);
    if (k->attr.shape.rank) {
        sb_printf(sb, "; shape=");
        shape_text(sb, &k->attr.shape);
    }
    sb_printf(sb, ")");
    if (k->note)
        sb_printf(sb, " %s", k->note);
}

/* Entry e of a value of shape s as an index, the batch resolved: "[1,0,2]". */
static void index_text(StrBuf *sb, const IrShape *s, int64_t e)
{
    int64_t idx[IR_MAX_RANK];
    for (int i = s->rank - 1; i >= 0; i--) {
        int64_t d = s->dim[i] == IR_BATCH ? BATCH : s->dim[i];
        idx[i] = e % d;
        e /= d;
    }
    sb_putc(sb, '[');
    for (int i = 0; i < s->rank; i++)
        sb_printf(sb, "%s%lld", i ? "," : "", (long long)idx[i]);
    sb_putc(sb, ']');
}

/* A CUnit failure with a message made at run time (CUnit copies it). */
static void fail_msg(const char *msg, int line)
{
    fprintf(stderr, "\n%s:%d: %s\n", __FILE__, line, msg);
    CU_assertImplementation(CU_FALSE, (unsigned)line, msg, __FILE__, "", CU_FALSE);
}

typedef struct Stats {
    int cases, entries, failed_entries, failed_cases;
} Stats;

/* ---- the check ---------------------------------------------------------------------------- */

static int64_t id_bound(const GradCase *k)
{
    if (k->op == IR_GATHER)
        return k->s[0].dim[0];
    if (k->op == IR_SCATTER_ADD)
        return k->attr.i[0];
    return 1;
}

/* Runs ev; on failure reports why and returns false. */
static bool run_ok(IrEval *ev, const char *what, const char *stage)
{
    if (ir_eval_run(ev) == 0)
        return true;
    StrBuf sb = {0};
    sb_printf(&sb, "grad_ops: %s: %s run failed: %s", what, stage, ev->error);
    fail_msg(sb_cstr(&sb), __LINE__);
    sb_free(&sb);
    return false;
}

static void check_case(size_t idx, Stats *st)
{
    const GradCase *k = &cases[idx];
    StrBuf desc = {0};
    describe(idx, &desc);
    const char *what = sb_cstr(&desc);
    StrBuf msg = {0};

    Arena arena;
    arena_init(&arena);
    IrGraph g;
    ir_init(&g, &arena, NULL, "grad_ops", IR_F64);
    Ctx c = {.g = &g, .arena = &arena, .stream = (uint64_t)idx, .idbound = id_bound(k)};
    int res = k->build ? k->build(&c, k) : build_op(&c, k);
    int loss = res >= 0 ? make_loss(&c, res) : -1;
    bool has_op = false;
    for (int i = 0; i < g.n; i++)
        has_op |= g.nodes[i].op == k->op;
    if (res < 0 || loss < 0 || ir_error(&g) || !has_op) {
        sb_printf(&msg, "grad_ops: %s: building failed: %s", what,
                  ir_error(&g) ? ir_error(&g) : has_op ? "too many inputs" : "the graph lacks the op");
        fail_msg(sb_cstr(&msg), __LINE__);
        st->failed_cases++;
        goto done;
    }
    st->cases++;

    int params[MAX_INPUTS], np = 0;
    for (int i = 0; i < c.ninputs; i++)
        if (c.param[i])
            params[np++] = c.node[i];
    double *fd[MAX_INPUTS];

    /* Central differences of the forward graph, one entry at a time. */
    IrEval ev;
    ir_eval_init(&ev, &g, BATCH);
    set_inputs(&c, &ev);
    bool ok = run_ok(&ev, what, "forward");
    for (int p = 0; ok && p < np; p++) {
        int64_t n = ir_elems(&g.nodes[params[p]].shape, BATCH);
        fd[p] = ARENA_ARRAY(&arena, double, n + 1);
        double *v = ev.val[params[p]];
        for (int64_t e = 0; ok && e < n; e++) {
            double x0 = v[e], up, down;
            v[e] = x0 + H;
            ok = run_ok(&ev, what, "forward");
            up = ok ? ev.val[loss][0] : 0;
            v[e] = x0 - H;
            ok = ok && run_ok(&ev, what, "forward");
            down = ok ? ev.val[loss][0] : 0;
            v[e] = x0;
            fd[p][e] = (up - down) / ((x0 + H) - (x0 - H));
        }
    }
    ir_eval_free(&ev);
    if (!ok) {
        st->failed_cases++;
        goto done;
    }

    /* The gradients autodiff builds, interpreted once. */
    int grads[MAX_INPUTS];
    if (ad_append(&g, loss, params, np, grads) != 0) {
        sb_printf(&msg, "grad_ops: %s: ad_append failed: %s", what, ir_error(&g));
        fail_msg(sb_cstr(&msg), __LINE__);
        st->failed_cases++;
        goto done;
    }
    ir_eval_init(&ev, &g, BATCH);
    set_inputs(&c, &ev);
    if (!run_ok(&ev, what, "backward")) {
        ir_eval_free(&ev);
        st->failed_cases++;
        goto done;
    }
    int bad = 0, bad_shapes = 0;
    for (int p = 0; p < np; p++) {
        const IrShape *ps = &g.nodes[params[p]].shape;
        int64_t n = ir_elems(ps, BATCH);
        if (!ir_shape_equal(&g.nodes[grads[p]].shape, ps) || ev.len[grads[p]] != n) {
            StrBuf sb = {0};
            sb_printf(&sb, "grad_ops: %s: the gradient of %s has shape ", what, g.nodes[params[p]].a.name);
            ir_shape_print(&sb, &g.nodes[grads[p]].shape);
            fail_msg(sb_cstr(&sb), __LINE__);
            sb_free(&sb);
            bad_shapes++;
            continue;
        }
        const double *ad = ev.val[grads[p]];
        for (int64_t e = 0; e < n; e++) {
            double err = fabs(fd[p][e] - ad[e]), scale = fmax(fabs(fd[p][e]), fabs(ad[e]));
            st->entries++;
            if (err <= ATOL + RTOL * scale)
                continue;
            st->failed_entries++;
            if (bad++ < MAX_REPORTS) {
                StrBuf one = {0};
                sb_printf(&one, "grad_ops: %s: d loss / d %s", what, g.nodes[params[p]].a.name);
                index_text(&one, ps, e);
                sb_printf(&one, ": autodiff %.17g, finite difference %.17g (|diff| %.3g)", ad[e], fd[p][e], err);
                fprintf(stderr, "%s\n", sb_cstr(&one));
                if (bad == 1)
                    sb_printf(&msg, "%s", sb_cstr(&one));
                sb_free(&one);
            }
        }
    }
    ir_eval_free(&ev);
    if (bad || bad_shapes)
        st->failed_cases++;
    if (bad) {
        sb_printf(&msg, " (%d entries wrong)", bad);
        fail_msg(sb_cstr(&msg), __LINE__);
    }
done:
    sb_free(&msg);
    sb_free(&desc);
    arena_free(&arena);
}

static void test_all_cases(void)
{
    Stats st = {0};
    for (size_t i = 0; i < NCASES; i++)
        check_case(i, &st);
    bool covered[IR_OP_COUNT] = {0};
    int ops = 0;
    for (size_t i = 0; i < NCASES; i++) {
        ops += !covered[cases[i].op];
        covered[cases[i].op] = true;
    }
    fprintf(stderr, "\ngrad_ops: %d ops, %d cases, %d entries checked, %d entries wrong, %d cases failed\n", ops,
            (int)NCASES, st.entries, st.failed_entries, st.failed_cases);
    CU_ASSERT_EQUAL(st.cases, (int)NCASES);
    CU_ASSERT_EQUAL(st.failed_cases, 0);
    CU_ASSERT(st.entries > 1000);
}

/* ---- the op table --------------------------------------------------------------------------- */

static void test_table_covers_ops(void)
{
    bool in_table[IR_OP_COUNT] = {0};
    for (size_t i = 0; i < NCASES; i++) {
        in_table[cases[i].op] = true;
        /* a row checks a differentiable op */
        CU_ASSERT(cases[i].op < IR_OP_COUNT && ir_ops[cases[i].op].grad != NULL);
    }
    for (int op = 0; op < IR_OP_COUNT; op++) {
        const IrOpInfo *o = &ir_ops[op];
        StrBuf sb = {0};
        const char *name = o->name ? o->name : "(unnamed)";
        if (!o->name || !o->eval)
            sb_printf(&sb, "op %d (%s) has no name or no eval kernel", op, name);
        else if ((o->flags & OPF_ELEMENTWISE) && !o->scalar)
            sb_printf(&sb, "elementwise op %s has no scalar function", name);
        else if ((o->flags & OPF_ELEMENTWISE) && (o->arity < 1 || o->arity > 3))
            sb_printf(&sb, "elementwise op %s takes %d operands", name, o->arity);
        else if (!(o->flags & OPF_REDUCTION) != !(o->flags & (OPF_ADDS | OPF_MAXES))
                 || ((o->flags & OPF_ADDS) && (o->flags & OPF_MAXES)))
            sb_printf(&sb, "op %s: a reduction needs one rule, OPF_ADDS or OPF_MAXES (its start and step), and only a reduction has one", name);
        else if ((o->flags & OPF_AVERAGES) && !(o->flags & OPF_ADDS))
            sb_printf(&sb, "op %s averages (OPF_AVERAGES) but does not add (OPF_ADDS)", name);
        else if (!(o->flags & (OPF_NO_GRAD | OPF_LEAF | OPF_FUSED))) {
            if (!o->grad || !o->rule)
                sb_printf(&sb, "differentiable op %s has no gradient rule or no printed rule", name);
            else if (!in_table[op])
                sb_printf(&sb, "differentiable op %s has no case in test_grad_ops.c", name);
        } else if (o->grad)
            sb_printf(&sb, "op %s has a gradient rule but is flagged as not differentiable", name);
        if (sb.len)
            fail_msg(sb_cstr(&sb), __LINE__);
        sb_free(&sb);
    }
}

/* ---- autodiff itself -------------------------------------------------------------------------- */

/* A [2,3] parameter x, a [2,3] parameter y (never within 0.1 of x), R. */
typedef struct Small {
    Arena   arena;
    IrGraph g;
    Ctx     c;
    int     x, y;
    double  r[6];
} Small;

static void small_begin(Small *s, uint64_t stream)
{
    arena_init(&s->arena);
    ir_init(&s->g, &s->arena, NULL, "t", IR_F64);
    s->c = (Ctx){.g = &s->g, .arena = &s->arena, .stream = 1000 + stream, .idbound = 1};
    static const IrShape sh = {2, {2, 3}};
    s->x = input_of(&s->c, ROLE_PARAM, &sh, D_GRID);
    s->y = input_of(&s->c, ROLE_PARAM, &sh, D_GRID_ODD);
    for (int e = 0; e < 6; e++)
        s->r[e] = uniform(&s->c, -1, 1);
}

/* sum(v · R) as a scalar */
static int small_loss(Small *s, int v)
{
    int r = ir_add(&s->g, IR_TENSOR, NULL, 0, &(IrAttr){.shape = {2, {2, 3}}, .data = s->r}, SPAN_NONE);
    int sum = ir_reduce(&s->g, IR_SUM, bin(&s->c, IR_MUL, v, r), 3, SPAN_NONE);
    return ir_reshape(&s->g, sum, &(IrShape){0, {0}}, SPAN_NONE);
}

/* Differentiates for x and y and runs; grads[0], grads[1] are their gradients. */
static bool small_run(Small *s, int loss, IrEval *ev, int *grads)
{
    CU_ASSERT_PTR_NULL(ir_error(&s->g));
    if (ir_error(&s->g) || ad_append(&s->g, loss, (int[]){s->x, s->y}, 2, grads) != 0) {
        fprintf(stderr, "\nautodiff failed: %s\n", ir_error(&s->g));
        CU_FAIL("ad_append failed");
        return false;
    }
    ir_eval_init(ev, &s->g, 1);
    set_inputs(&s->c, ev);
    if (ir_eval_run(ev) != 0) {
        fprintf(stderr, "\nrun failed: %s\n", ev->error);
        CU_FAIL("run failed");
        ir_eval_free(ev);
        return false;
    }
    return true;
}

/* No backward node was made for forward node n. */
static bool no_backward_for(const IrGraph *g, int n)
{
    for (int i = g->nforward; i < g->ngrad; i++)
        if (g->nodes[i].fwd == n)
            return false;
    return true;
}

/* loss = sum((op(x, y, ...) + x) · R) for every no-grad elementwise op: the
 * gradient of x is R alone, y's is zero, and no rule ran for the op. */
static void test_no_grad_ops(void)
{
    int tested = 0;
    for (int op = 0; op < IR_OP_COUNT; op++) {
        const IrOpInfo *o = &ir_ops[op];
        if (!(o->flags & OPF_NO_GRAD) || !(o->flags & OPF_ELEMENTWISE) || (o->flags & (OPF_LEAF | OPF_FUSED)))
            continue;
        Small s;
        small_begin(&s, (uint64_t)op);
        int in[3] = {s.x, s.y, s.y};
        int v = ir_add(&s.g, (IrOp)op, in, o->arity, NULL, SPAN_NONE);
        int loss = small_loss(&s, bin(&s.c, IR_ADD, v, s.x));
        IrEval ev;
        int grads[2];
        if (small_run(&s, loss, &ev, grads)) {
            int wrong = 0;
            for (int e = 0; e < 6; e++)
                wrong += ev.val[grads[0]][e] != s.r[e] || ev.val[grads[1]][e] != 0;
            if (wrong) {
                StrBuf sb = {0};
                sb_printf(&sb, "a gradient flowed through no-grad op %s: d/dx %g (want %g), d/dy %g (want 0)", o->name,
                          ev.val[grads[0]][0], s.r[0], ev.val[grads[1]][0]);
                fail_msg(sb_cstr(&sb), __LINE__);
                sb_free(&sb);
            }
            CU_ASSERT(no_backward_for(&s.g, v));
            ir_eval_free(&ev);
            tested++;
        }
        arena_free(&s.arena);
    }
    CU_ASSERT(tested >= 5);   /* floor, stop_grad, gt, ge, eq */

    /* Only through stop_grad: zero, as no path. */
    Small s;
    small_begin(&s, 100);
    int sg = un(&s.c, IR_STOP_GRAD, s.x);
    int loss = small_loss(&s, sg);
    IrEval ev;
    int grads[2];
    if (small_run(&s, loss, &ev, grads)) {
        for (int e = 0; e < 6; e++)
            CU_ASSERT_EQUAL(ev.val[grads[0]][e], 0);
        CU_ASSERT(no_backward_for(&s.g, sg));
        ir_eval_free(&ev);
    }
    arena_free(&s.arena);

    /* one_hot(argmax(x)) · x + cast(argmax(x)) · x: the index ops pass nothing back */
    small_begin(&s, 101);
    int am = ir_add(&s.g, IR_ARGMAX, &s.x, 1, NULL, SPAN_NONE);
    int oh = node1(&s.c, IR_ONE_HOT, ir_reshape(&s.g, am, &(IrShape){1, {2}}, SPAN_NONE), (IrAttr){.i = {3}});
    int cast = ir_add(&s.g, IR_CAST, &am, 1, NULL, SPAN_NONE);
    int v = bin(&s.c, IR_ADD, bin(&s.c, IR_MUL, oh, s.x), bin(&s.c, IR_MUL, cast, s.x));
    loss = small_loss(&s, v);
    if (small_run(&s, loss, &ev, grads)) {
        for (int e = 0; e < 6; e++) {
            double want = s.r[e] * ev.val[oh][e] + s.r[e] * ev.val[cast][e / 3];
            if (ev.val[grads[0]][e] != want)
                fprintf(stderr, "\none_hot/argmax/cast: d/dx[%d] = %.17g, want %.17g\n", e, ev.val[grads[0]][e], want);
            CU_ASSERT_EQUAL(ev.val[grads[0]][e], want);
        }
        CU_ASSERT(no_backward_for(&s.g, am) && no_backward_for(&s.g, oh) && no_backward_for(&s.g, cast));
        ir_eval_free(&ev);
    }
    arena_free(&s.arena);
}

/* x · x: both operands' contributions are summed, exactly 2 x R, by one add
 * that says why. */
static void test_used_twice(void)
{
    Small s;
    small_begin(&s, 200);
    int sq = bin(&s.c, IR_MUL, s.x, s.x);
    int loss = small_loss(&s, sq);
    IrEval ev;
    int grads[2];
    if (small_run(&s, loss, &ev, grads)) {
        const double *x = ev.val[s.x];
        for (int e = 0; e < 6; e++) {
            double want = 2 * (s.r[e] * x[e]);
            if (ev.val[grads[0]][e] != want)
                fprintf(stderr, "\nx*x: d/dx[%d] = %.17g, want %.17g\n", e, ev.val[grads[0]][e], want);
            CU_ASSERT_EQUAL(ev.val[grads[0]][e], want);
            CU_ASSERT_EQUAL(ev.val[grads[1]][e], 0);   /* no path */
        }
        const IrNode *gx = &s.g.nodes[grads[0]];
        CU_ASSERT_EQUAL(gx->op, IR_ADD);
        CU_ASSERT(gx->rule && strcmp(gx->rule, "the gradient of a value used twice is the sum") == 0);
        ir_eval_free(&ev);
    }
    arena_free(&s.arena);
}

static const TestCase tests[] = {
    {"every differentiable op has a rule and a case", test_table_covers_ops},
    {"autodiff matches central differences for every case", test_all_cases},
    {"no gradient flows through no-grad ops", test_no_grad_ops},
    {"a value used twice sums its gradients", test_used_twice},
    {NULL, NULL},
};

void register_grad_ops(void) { add_suite("grad_ops", tests); }
