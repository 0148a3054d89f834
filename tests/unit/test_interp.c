/* test_interp.c — the reference interpreter, kernel by kernel.
 *
 * Each test builds a tiny graph with the builders of ir.h, runs it and
 * compares every element exactly with values worked out by hand (or, for
 * transcendental functions, with the same C expression in the same order).
 * Errors are checked by their exact message.
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/interp.h"
#include "ir/ir_internal.h"
#include "passes/passes.h"

/* ---- helpers ------------------------------------------------------------------------- */

#define SHAPE(...) (&(IrShape){sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), {__VA_ARGS__}})
#define B IR_BATCH

/* One graph and its arena. */
typedef struct Fixture {
    Arena   arena;
    IrGraph g;
} Fixture;

static IrGraph *begin(Fixture *f, IrType ftype)
{
    arena_init(&f->arena);
    ir_init(&f->g, &f->arena, NULL, "t", ftype);
    return &f->g;
}

static void end(Fixture *f) { arena_free(&f->arena); }

static int input(IrGraph *g, const char *name, IrType type, const IrShape *s)
{
    return ir_input(g, ROLE_INPUT, name, type, s, SPAN_NONE);
}

/* A node with attributes: one or two operands (y < 0: one). */
static int node(IrGraph *g, IrOp op, int x, int y, IrAttr a)
{
    int in[2] = {x, y};
    return ir_add(g, op, in, y < 0 ? 1 : 2, &a, SPAN_NONE);
}

/* Node `n`'s value has exactly `want`. */
#define EXPECT(ev, n, ...) \
    expect_values((ev), (n), (const double[]){__VA_ARGS__}, sizeof((double[]){__VA_ARGS__}) / sizeof(double), __LINE__)
static void expect_values(const IrEval *ev, int n, const double *want, size_t len, int line)
{
    bool ok = ev->val[n] && ev->len[n] == (int64_t)len;
    if (!ok)
        fprintf(stderr, "\n%s:%d: node %d has %lld values, expected %zu\n", __FILE__, line, n,
                ev->val[n] ? (long long)ev->len[n] : -1LL, len);
    for (size_t i = 0; ok && i < len; i++)
        if (ev->val[n][i] != want[i] && !(isnan(want[i]) && isnan(ev->val[n][i]))) {
            fprintf(stderr, "\n%s:%d: node %d [%zu] = %.17g, expected %.17g\n", __FILE__, line, n, i,
                    ev->val[n][i], want[i]);
            ok = false;
        }
    CU_assertImplementation(ok, (unsigned)line, "values equal", __FILE__, "", CU_FALSE);
}

static void expect_array(const IrEval *ev, int n, const double *want, size_t len, int line)
{
    expect_values(ev, n, want, len, line);
}

/* Runs the graph; the run must succeed. */
static void run(IrEval *ev)
{
    int rc = ir_eval_run(ev);
    if (rc != 0)
        fprintf(stderr, "\nrun failed: %s\n", ev->error);
    CU_ASSERT_EQUAL(rc, 0);
}

/* ---- leaves ---------------------------------------------------------------------------- */

static void test_leaves(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    static const double data[] = {1.5, -2, 3};
    int x = input(g, "x", IR_F64, SHAPE(B, 2));
    int c = ir_const(g, 2.5, SPAN_NONE);
    int t = ir_add(g, IR_TENSOR, NULL, 0, &(IrAttr){.shape = *SHAPE(3), .data = data}, SPAN_NONE);
    int bs = ir_add(g, IR_BATCH_SIZE, NULL, 0, NULL, SPAN_NONE);
    ir_output(g, "x", x, OUT_PREDICTION, -1);
    ir_output(g, "batch", bs, OUT_METRIC, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));

    IrEval ev;
    ir_eval_init(&ev, g, 3);
    ir_eval_set(&ev, x, (double[]){1, 2, 3, 4, 5, 6});
    run(&ev);
    EXPECT(&ev, x, 1, 2, 3, 4, 5, 6);
    EXPECT(&ev, c, 2.5);
    EXPECT(&ev, t, 1.5, -2, 3);
    EXPECT(&ev, bs, 3);

    int64_t len = 0;
    const double *out = ir_eval_output(&ev, "batch", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_EQUAL(len, 1);
    CU_ASSERT_EQUAL(out[0], 3);
    out = ir_eval_output(&ev, "x", &len);
    CU_ASSERT_EQUAL(len, 6);
    CU_ASSERT_PTR_NULL(ir_eval_output(&ev, "nothing", &len));
    ir_eval_free(&ev);

    /* An input never given. */
    ir_eval_init(&ev, g, 3);
    CU_ASSERT_EQUAL(ir_eval_run(&ev), -1);
    ASSERT_STR(ev.error, "input 'x' was not given");
    ir_eval_free(&ev);
    end(&f);
}

/* ---- elementwise ---------------------------------------------------------------------- */

static void test_elementwise(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(B, 3));       /* batch 2 */
    int y = input(g, "y", IR_F64, SHAPE(3));
    int col = input(g, "col", IR_F64, SHAPE(2, 1));
    int row = input(g, "row", IR_F64, SHAPE(1, 3));
    int cond = input(g, "cond", IR_F64, SHAPE(B, 1));
    int add = ir_binary(g, IR_ADD, x, y, SPAN_NONE);
    int outer = ir_binary(g, IR_MUL, col, row, SPAN_NONE);
    int three = ir_const(g, 3, SPAN_NONE);
    int sub = ir_binary(g, IR_SUB, x, ir_const(g, 3.5, SPAN_NONE), SPAN_NONE);
    int relu = ir_unary(g, IR_RELU, sub, SPAN_NONE);
    int neg = ir_unary(g, IR_NEG, x, SPAN_NONE);
    int gt = ir_binary(g, IR_GT, x, three, SPAN_NONE);
    int sel = ir_add(g, IR_SELECT, (int[]){gt, x, neg}, 3, NULL, SPAN_NONE);
    int sel_b = ir_add(g, IR_SELECT, (int[]){cond, x, y}, 3, NULL, SPAN_NONE);   /* [B,1], [B,3], [3] */
    int sq = ir_pow(g, x, 2, SPAN_NONE);
    int div = ir_binary(g, IR_DIV, y, x, SPAN_NONE);
    int ex = ir_unary(g, IR_EXP, y, SPAN_NONE);
    int mx = ir_binary(g, IR_MAX, x, y, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT(ir_shape_equal(&g->nodes[sel_b].shape, SHAPE(B, 3)));

    IrEval ev;
    ir_eval_init(&ev, g, 2);
    ir_eval_set(&ev, x, (double[]){1, 2, 3, 4, 5, 6});
    ir_eval_set(&ev, y, (double[]){10, 20, 30});
    ir_eval_set(&ev, col, (double[]){1, 2});
    ir_eval_set(&ev, row, (double[]){1, 2, 3});
    ir_eval_set(&ev, cond, (double[]){0, 1});
    run(&ev);
    EXPECT(&ev, add, 11, 22, 33, 14, 25, 36);
    EXPECT(&ev, outer, 1, 2, 3, 2, 4, 6);
    EXPECT(&ev, sub, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5);
    EXPECT(&ev, relu, 0, 0, 0, 0.5, 1.5, 2.5);
    EXPECT(&ev, gt, 0, 0, 0, 1, 1, 1);
    EXPECT(&ev, sel, -1, -2, -3, 4, 5, 6);
    EXPECT(&ev, sel_b, 10, 20, 30, 4, 5, 6);
    EXPECT(&ev, sq, 1, 4, 9, 16, 25, 36);
    EXPECT(&ev, div, 10, 10, 10, 2.5, 4, 5);
    EXPECT(&ev, ex, exp(10), exp(20), exp(30));
    EXPECT(&ev, mx, 10, 20, 30, 10, 20, 30);
    ir_eval_free(&ev);
    end(&f);
}

/* f32 graphs store every value as a float; each op computes in double. */
static void test_f32_rounding(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F32);
    int x = input(g, "x", IR_F32, SHAPE(2));
    int labels = input(g, "labels", IR_I32, SHAPE(1));
    int sum = ir_binary(g, IR_ADD, x, ir_const(g, 0.2, SPAN_NONE), SPAN_NONE);
    int sq = ir_binary(g, IR_MUL, x, x, SPAN_NONE);
    int same = ir_reshape(g, labels, SHAPE(1, 1), SPAN_NONE);
    int real = ir_add(g, IR_CAST, &labels, 1, NULL, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));

    IrEval ev;
    ir_eval_init(&ev, g, 1);
    ir_eval_set(&ev, x, (double[]){0.1, 1.0 / 3});
    ir_eval_set(&ev, labels, (double[]){16777217});   /* 2^24 + 1: not a float */
    run(&ev);
    double x0 = (float)0.1, x1 = (float)(1.0 / 3), c = (float)0.2;
    EXPECT(&ev, x, x0, x1);
    EXPECT(&ev, sum, (float)(x0 + c), (float)(x1 + c));
    CU_ASSERT(ev.val[sum][0] != 0.1 + 0.2);
    EXPECT(&ev, sq, (float)(x0 * x0), (float)(x1 * x1));
    EXPECT(&ev, same, 16777217);   /* i32 values are exact */
    EXPECT(&ev, real, 16777216);   /* cast to f32 rounds */
    ir_eval_free(&ev);
    end(&f);

    g = begin(&f, IR_F64);
    x = input(g, "x", IR_F64, SHAPE(1));
    sum = ir_binary(g, IR_ADD, x, ir_const(g, 0.2, SPAN_NONE), SPAN_NONE);
    ir_eval_init(&ev, g, 1);
    ir_eval_set(&ev, x, (double[]){0.1});
    run(&ev);
    EXPECT(&ev, sum, 0.1 + 0.2);
    ir_eval_free(&ev);
    end(&f);
}

/* ---- reductions ---------------------------------------------------------------------- */

static void test_reductions(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(B, 2, 3));   /* batch 2: 1 .. 12 */
    int m = input(g, "m", IR_F64, SHAPE(2, 3));
    int last = ir_reduce(g, IR_SUM, x, 4, SPAN_NONE);
    int batch = ir_reduce(g, IR_SUM, x, 1, SPAN_NONE);
    int mean02 = ir_reduce(g, IR_MEAN, x, 5, SPAN_NONE);
    int mean = ir_reduce(g, IR_MEAN, x, 7, SPAN_NONE);
    int rmax = ir_reduce(g, IR_RMAX, m, 2, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT(ir_shape_equal(&g->nodes[last].shape, SHAPE(B, 2, 1)));
    CU_ASSERT(ir_shape_equal(&g->nodes[batch].shape, SHAPE(1, 2, 3)));

    IrEval ev;
    ir_eval_init(&ev, g, 2);
    ir_eval_set(&ev, x, (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    ir_eval_set(&ev, m, (double[]){3, -1, 2, -5, -4, -6});
    run(&ev);
    EXPECT(&ev, last, 6, 15, 24, 33);
    EXPECT(&ev, batch, 8, 10, 12, 14, 16, 18);
    EXPECT(&ev, mean02, 30.0 / 6, 48.0 / 6);   /* the batch counts */
    EXPECT(&ev, mean, 6.5);
    EXPECT(&ev, rmax, 3, -4);
    ir_eval_free(&ev);
    end(&f);
}

/* ARGMAX takes the first of equal maxima. */
static void test_argmax(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F32);
    int x = input(g, "x", IR_F32, SHAPE(B, 3));
    int am = ir_add(g, IR_ARGMAX, &x, 1, NULL, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT_EQUAL(g->nodes[am].type, IR_I32);
    CU_ASSERT(ir_shape_equal(&g->nodes[am].shape, SHAPE(B, 1)));

    IrEval ev;
    ir_eval_init(&ev, g, 4);
    ir_eval_set(&ev, x, (double[]){1, 3, 3, 2, 2, 1, -1, -1, -1, 0, 1, 7});
    run(&ev);
    EXPECT(&ev, am, 1, 0, 0, 2);
    ir_eval_free(&ev);
    end(&f);
}

/* ---- layout ------------------------------------------------------------------------------ */

static void test_layout(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(2, 3, 4));    /* 0 .. 23 */
    int xb = input(g, "xb", IR_F64, SHAPE(B, 6));     /* batch 2: 0 .. 11 */
    int col = input(g, "col", IR_F64, SHAPE(2, 1));
    int v = input(g, "v", IR_F64, SHAPE(3));
    int perm = ir_permute(g, x, (int[]){2, 0, 1}, SPAN_NONE);
    int rs = ir_reshape(g, xb, SHAPE(B, 2, 3), SPAN_NONE);
    int tr = ir_permute(g, rs, (int[]){0, 2, 1}, SPAN_NONE);
    int bc = ir_broadcast(g, col, SHAPE(2, 3), SPAN_NONE);
    int bv = ir_broadcast(g, v, SHAPE(B, 2, 3), SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT(ir_shape_equal(&g->nodes[perm].shape, SHAPE(4, 2, 3)));

    IrEval ev;
    ir_eval_init(&ev, g, 2);
    double iota[24];
    for (int i = 0; i < 24; i++)
        iota[i] = i;
    ir_eval_set(&ev, x, iota);
    ir_eval_set(&ev, xb, iota);
    ir_eval_set(&ev, col, (double[]){1, 2});
    ir_eval_set(&ev, v, (double[]){7, 8, 9});
    run(&ev);

    /* perm[k][i][j] = x[i][j][k] = 12 i + 4 j + k */
    double want[24];
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                want[k * 6 + i * 3 + j] = 12 * i + 4 * j + k;
    expect_array(&ev, perm, want, 24, __LINE__);
    EXPECT(&ev, rs, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
    EXPECT(&ev, tr, 0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11);
    EXPECT(&ev, bc, 1, 1, 1, 2, 2, 2);
    EXPECT(&ev, bv, 7, 8, 9, 7, 8, 9, 7, 8, 9, 7, 8, 9);
    ir_eval_free(&ev);
    end(&f);
}

static void test_slice_pad_concat(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(B, 3));   /* batch 2: 1 .. 6 */
    int y = input(g, "y", IR_F64, SHAPE(B, 1));
    int w = input(g, "w", IR_F64, SHAPE(2, 3));
    int z = input(g, "z", IR_F64, SHAPE(1, 3));
    int sl = node(g, IR_SLICE, x, -1, (IrAttr){.i = {1, 1, 2}});
    int sl0 = node(g, IR_SLICE, w, -1, (IrAttr){.i = {0, 1, 1}});
    int pad = node(g, IR_PAD, x, -1, (IrAttr){.i = {1, 1, 2}});
    int pad0 = node(g, IR_PAD, w, -1, (IrAttr){.i = {0, 0, 1}});
    int cat = node(g, IR_CONCAT, x, y, (IrAttr){.i = {1}});
    int cat0 = node(g, IR_CONCAT, w, z, (IrAttr){.i = {0}});
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));

    IrEval ev;
    ir_eval_init(&ev, g, 2);
    ir_eval_set(&ev, x, (double[]){1, 2, 3, 4, 5, 6});
    ir_eval_set(&ev, y, (double[]){7, 8});
    ir_eval_set(&ev, w, (double[]){1, 2, 3, 4, 5, 6});
    ir_eval_set(&ev, z, (double[]){7, 8, 9});
    run(&ev);
    EXPECT(&ev, sl, 2, 3, 5, 6);
    EXPECT(&ev, sl0, 4, 5, 6);
    EXPECT(&ev, pad, 0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0);
    EXPECT(&ev, pad0, 1, 2, 3, 4, 5, 6, 0, 0, 0);
    EXPECT(&ev, cat, 1, 2, 3, 7, 4, 5, 6, 8);
    EXPECT(&ev, cat0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    ir_eval_free(&ev);
    end(&f);
}

/* ---- labels ---------------------------------------------------------------------------- */

static void test_cast_one_hot(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int ids = input(g, "ids", IR_I32, SHAPE(B));
    int real = ir_add(g, IR_CAST, &ids, 1, NULL, SPAN_NONE);
    int oh = node(g, IR_ONE_HOT, ids, -1, (IrAttr){.i = {3}});
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT(ir_shape_equal(&g->nodes[oh].shape, SHAPE(B, 3)));

    IrEval ev;
    ir_eval_init(&ev, g, 3);
    ir_eval_set(&ev, ids, (double[]){2, 0, 1});
    run(&ev);
    EXPECT(&ev, real, 2, 0, 1);
    EXPECT(&ev, oh, 0, 0, 1, 1, 0, 0, 0, 1, 0);
    ir_eval_free(&ev);

    ir_eval_init(&ev, g, 3);
    ir_eval_set(&ev, ids, (double[]){2, 3, 1});
    CU_ASSERT_EQUAL(ir_eval_run(&ev), -1);
    ASSERT_STR(ev.error, "index 3 out of range [0, 3) in one_hot");
    ir_eval_free(&ev);
    end(&f);
}

/* ---- matmul ------------------------------------------------------------------------------ */

static void test_matmul(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int a = input(g, "a", IR_F64, SHAPE(2, 3));
    int at = input(g, "at", IR_F64, SHAPE(3, 2));    /* a transposed */
    int b = input(g, "b", IR_F64, SHAPE(3, 2));
    int bt = input(g, "bt", IR_F64, SHAPE(2, 3));    /* b transposed */
    int plain = ir_matmul(g, a, b, false, false, SPAN_NONE);
    int ta = ir_matmul(g, at, b, true, false, SPAN_NONE);
    int tb = ir_matmul(g, a, bt, false, true, SPAN_NONE);
    int tab = ir_matmul(g, at, bt, true, true, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));

    IrEval ev;
    ir_eval_init(&ev, g, 1);
    ir_eval_set(&ev, a, (double[]){1, 2, 3, 4, 5, 6});
    ir_eval_set(&ev, at, (double[]){1, 4, 2, 5, 3, 6});
    ir_eval_set(&ev, b, (double[]){7, 8, 9, 10, 11, 12});
    ir_eval_set(&ev, bt, (double[]){7, 9, 11, 8, 10, 12});
    run(&ev);
    EXPECT(&ev, plain, 58, 64, 139, 154);
    EXPECT(&ev, ta, 58, 64, 139, 154);
    EXPECT(&ev, tb, 58, 64, 139, 154);
    EXPECT(&ev, tab, 58, 64, 139, 154);
    ir_eval_free(&ev);
    end(&f);
}

/* Leading axes: batched, broadcast one way and the other; rows of the batch. */
static void test_matmul_batched(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int xs = input(g, "xs", IR_F64, SHAPE(B, 2, 3));   /* batch 2: a, then p */
    int b = input(g, "b", IR_F64, SHAPE(3, 2));
    int ys = input(g, "ys", IR_F64, SHAPE(B, 3, 2));   /* batch 2: b, then e */
    int a = input(g, "a", IR_F64, SHAPE(2, 3));
    int rows = input(g, "rows", IR_F64, SHAPE(B, 3));
    int lead_x = ir_matmul(g, xs, b, false, false, SPAN_NONE);
    int both = ir_matmul(g, xs, ys, false, false, SPAN_NONE);
    int lead_y = ir_matmul(g, a, ys, false, false, SPAN_NONE);
    int per_row = ir_matmul(g, rows, b, false, false, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT(ir_shape_equal(&g->nodes[lead_y].shape, SHAPE(B, 2, 2)));

    IrEval ev;
    ir_eval_init(&ev, g, 2);
    ir_eval_set(&ev, xs, (double[]){1, 2, 3, 4, 5, 6, /* p */ 0, 1, 0, 1, 0, 0});
    ir_eval_set(&ev, b, (double[]){7, 8, 9, 10, 11, 12});
    ir_eval_set(&ev, ys, (double[]){7, 8, 9, 10, 11, 12, /* e */ 1, 0, 0, 1, 0, 0});
    ir_eval_set(&ev, a, (double[]){1, 2, 3, 4, 5, 6});
    ir_eval_set(&ev, rows, (double[]){1, 2, 3, 4, 5, 6});
    run(&ev);
    EXPECT(&ev, lead_x, 58, 64, 139, 154, /* p b */ 9, 10, 7, 8);
    EXPECT(&ev, both, 58, 64, 139, 154, /* p e */ 0, 1, 1, 0);
    EXPECT(&ev, lead_y, 58, 64, 139, 154, /* a e */ 1, 2, 4, 5);
    EXPECT(&ev, per_row, 58, 64, 139, 154);
    ir_eval_free(&ev);
    end(&f);
}

/* x^T g and g^T x contract over the batch (weight gradients). */
static void test_matmul_over_batch(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(B, 2));
    int gr = input(g, "g", IR_F64, SHAPE(B, 3));
    int xtg = ir_matmul(g, x, gr, true, false, SPAN_NONE);
    int gtx = ir_matmul(g, gr, x, true, false, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT(ir_shape_equal(&g->nodes[xtg].shape, SHAPE(2, 3)));

    IrEval ev;
    ir_eval_init(&ev, g, 3);
    ir_eval_set(&ev, x, (double[]){1, 2, 3, 4, 5, 6});
    ir_eval_set(&ev, gr, (double[]){1, 0, 2, 0, 1, 0, 1, 1, 1});
    run(&ev);
    EXPECT(&ev, xtg, 6, 8, 7, 8, 10, 10);
    EXPECT(&ev, gtx, 6, 8, 8, 10, 7, 10);
    ir_eval_free(&ev);
    end(&f);
}

/* ---- indices ---------------------------------------------------------------------------- */

static void test_gather_scatter(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int table = input(g, "table", IR_F64, SHAPE(4, 2));
    int ids = input(g, "ids", IR_I32, SHAPE(B, 2));
    int emb = node(g, IR_GATHER, table, ids, (IrAttr){0});
    int back = node(g, IR_SCATTER_ADD, emb, ids, (IrAttr){.i = {4}});
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT(ir_shape_equal(&g->nodes[emb].shape, SHAPE(B, 2, 2)));
    CU_ASSERT(ir_shape_equal(&g->nodes[back].shape, SHAPE(4, 2)));

    static const double tab[] = {0, 1, 10, 11, 20, 21, 30, 31};
    IrEval ev;
    ir_eval_init(&ev, g, 2);
    ir_eval_set(&ev, table, tab);
    ir_eval_set(&ev, ids, (double[]){3, 0, 1, 1});
    run(&ev);
    EXPECT(&ev, emb, 30, 31, 0, 1, 10, 11, 10, 11);
    EXPECT(&ev, back, 0, 1, 20, 22, 0, 0, 30, 31);
    ir_eval_free(&ev);

    static const struct { double id; const char *error; } bad[] = {
        {4, "index 4 out of range [0, 4) in gather"},
        {-1, "index -1 out of range [0, 4) in gather"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ir_eval_init(&ev, g, 2);
        ir_eval_set(&ev, table, tab);
        ir_eval_set(&ev, ids, (double[]){0, 1, bad[i].id, 2});
        CU_ASSERT_EQUAL(ir_eval_run(&ev), -1);
        ASSERT_STR(ev.error, bad[i].error);
        ir_eval_free(&ev);
    }
    end(&f);

    /* SCATTER_ADD checks its ids too. */
    g = begin(&f, IR_F64);
    int rows = input(g, "rows", IR_F64, SHAPE(2, 1));
    ids = input(g, "ids", IR_I32, SHAPE(2));
    back = node(g, IR_SCATTER_ADD, rows, ids, (IrAttr){.i = {3}});
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    ir_eval_init(&ev, g, 1);
    ir_eval_set(&ev, rows, (double[]){1, 2});
    ir_eval_set(&ev, ids, (double[]){2, 5});
    CU_ASSERT_EQUAL(ir_eval_run(&ev), -1);
    ASSERT_STR(ev.error, "index 5 out of range [0, 3) in scatter_add");
    ir_eval_free(&ev);
    end(&f);
}

/* ---- randomness ---------------------------------------------------------------------------- */

static void test_uniform(void)
{
    double sum = 0, lo = 1, hi = 0;
    int n = 100000;
    for (int e = 0; e < n; e++) {
        double u = ir_uniform(1, 0, 0, (uint64_t)e);
        sum += u;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    CU_ASSERT(lo >= 0 && hi < 1);
    CU_ASSERT(lo < 1e-3 && hi > 1 - 1e-3);
    CU_ASSERT(fabs(sum / n - 0.5) < 0.005);   /* the mean's sd is 0.0009 */
    /* Every word of the counter matters; the same counter, the same number. */
    double u = ir_uniform(1, 2, 3, 4);
    CU_ASSERT_EQUAL(u, ir_uniform(1, 2, 3, 4));
    CU_ASSERT(u != ir_uniform(9, 2, 3, 4));
    CU_ASSERT(u != ir_uniform(1, 9, 3, 4));
    CU_ASSERT(u != ir_uniform(1, 2, 9, 4));
    CU_ASSERT(u != ir_uniform(1, 2, 3, 9));
}

static void test_random_mask(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F32);
    int step = ir_counter(g, RT_COUNTER_STEP);
    int mask = node(g, IR_RANDOM_MASK, step, -1, (IrAttr){.shape = *SHAPE(B, 50), .i = {7, 2}, .f = 0.25});
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));

    IrEval ev;
    ir_eval_init(&ev, g, 40);
    ir_eval_set(&ev, step, (double[]){3});
    run(&ev);
    CU_ASSERT_EQUAL_FATAL(ev.len[mask], 2000);
    int zeros = 0, wrong = 0;
    for (int e = 0; e < 2000; e++) {
        double want = ir_uniform(7, 2, 3, (uint64_t)e) < 0.25 ? 0 : (double)(float)(1 / 0.75);
        wrong += ev.val[mask][e] != want;
        zeros += ev.val[mask][e] == 0;
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT(zeros > 413 && zeros < 587);   /* 500 +- 4.5 sd */

    /* Another step draws another mask. */
    double first[2000];
    memcpy(first, ev.val[mask], sizeof first);
    ir_eval_set(&ev, step, (double[]){4});
    run(&ev);
    CU_ASSERT(memcmp(first, ev.val[mask], sizeof first) != 0);
    ir_eval_free(&ev);
    end(&f);
}

/* ---- windows ------------------------------------------------------------------------------ */

static void test_windows(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(1, 1, 3, 3));   /* 1 .. 9 */
    int ones = input(g, "ones", IR_F64, SHAPE(1, 1, 2, 2, 4));
    int win = node(g, IR_WINDOWS, x, -1, (IrAttr){.win = SQWIN(2, 1, 0)});
    int pool = node(g, IR_WINDOWS, x, -1, (IrAttr){.win = SQWIN(2, 2, 1), .f = -INFINITY});
    int pmax = ir_reduce(g, IR_RMAX, pool, 16, SPAN_NONE);
    int count = node(g, IR_WINDOWS_T, ones, -1, (IrAttr){.win = SQWIN(2, 1, 0), .shape = *SHAPE(1, 1, 3, 3)});
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT(ir_shape_equal(&g->nodes[pool].shape, SHAPE(1, 1, 2, 2, 4)));

    IrEval ev;
    ir_eval_init(&ev, g, 1);
    ir_eval_set(&ev, x, (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    ir_eval_set(&ev, ones, (double[]){1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
    run(&ev);
    EXPECT(&ev, win, 1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9);
    double ninf = -INFINITY;
    EXPECT(&ev, pool, ninf, ninf, ninf, 1, ninf, ninf, 2, 3, ninf, 4, ninf, 7, 5, 6, 8, 9);
    EXPECT(&ev, pmax, 1, 3, 7, 9);
    EXPECT(&ev, count, 1, 2, 1, 2, 4, 2, 1, 2, 1);   /* windows over each pixel */
    ir_eval_free(&ev);
    end(&f);
}

/* <windows(x), y> == <x, windows_t(y)>, exactly: small integers. */
static void test_windows_adjoint(void)
{
    static const int64_t geometry[][3] = {{3, 2, 1}, {2, 2, 0}, {3, 1, 2}, {1, 3, 0}};
    for (size_t t = 0; t < sizeof geometry / sizeof *geometry; t++) {
        int64_t k = geometry[t][0], s = geometry[t][1], p = geometry[t][2];
        Fixture f;
        IrGraph *g = begin(&f, IR_F64);
        int x = input(g, "x", IR_F64, SHAPE(B, 2, 5, 4));
        int win = node(g, IR_WINDOWS, x, -1, (IrAttr){.win = SQWIN(k, s, p)});
        CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
        int y = input(g, "y", IR_F64, &g->nodes[win].shape);
        int wt = node(g, IR_WINDOWS_T, y, -1, (IrAttr){.win = SQWIN(k, s, p), .shape = *SHAPE(B, 2, 5, 4)});
        CU_ASSERT_PTR_NULL_FATAL(ir_error(g));

        IrEval ev;
        ir_eval_init(&ev, g, 2);
        int64_t nx = ir_elems(&g->nodes[x].shape, 2), ny = ir_elems(&g->nodes[y].shape, 2);
        double xv[80], yv[2048];
        CU_ASSERT_FATAL(nx == 80 && ny <= (int64_t)(sizeof yv / sizeof *yv));
        for (int64_t i = 0; i < nx; i++)
            xv[i] = (double)(i * 7 % 11) - 5;
        for (int64_t i = 0; i < ny; i++)
            yv[i] = (double)(i * 5 % 13) - 6;
        ir_eval_set(&ev, x, xv);
        ir_eval_set(&ev, y, yv);
        run(&ev);
        double lhs = 0, rhs = 0;
        for (int64_t i = 0; i < ny; i++)
            lhs += ev.val[win][i] * yv[i];
        for (int64_t i = 0; i < nx; i++)
            rhs += xv[i] * ev.val[wt][i];
        if (lhs != rhs)
            fprintf(stderr, "\nk %lld stride %lld pad %lld: %g != %g\n", (long long)k, (long long)s, (long long)p, lhs, rhs);
        CU_ASSERT_EQUAL(lhs, rhs);
        CU_ASSERT(lhs != 0);
        ir_eval_free(&ev);
        end(&f);
    }
}

/* ---- channels-last windows ---------------------------------------------------------------- */

/* patches of a 3x3 image with 2 channels (x = pixel, -pixel), and max pooling
 * in one pass: first maximum on ties, padding never wins, NaN wins; its
 * scatter back puts each window's g at that maximum, sums overlaps. */
static void test_patches_pool(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(1, 3, 3, 2));
    int pt = node(g, IR_PATCHES, x, -1, (IrAttr){.win = SQWIN(2, 2, 1)});
    int v = input(g, "v", IR_F64, SHAPE(1, 2, 3, 1));      /* ties, padding, NaN */
    int pool = node(g, IR_POOL_MAX, v, v, (IrAttr){.win = SQWIN(2, 1, 0)});
    int gy = input(g, "gy", IR_F64, SHAPE(1, 1, 2, 1));
    int back = node(g, IR_POOL_MAX_T, v, gy, (IrAttr){.win = SQWIN(2, 1, 0)});
    int w = input(g, "w", IR_F64, SHAPE(1, 3, 3, 1));
    int over = node(g, IR_POOL_MAX, w, w, (IrAttr){.win = SQWIN(2, 1, 1)});   /* 4x4 windows over 3x3: overlaps, padding */
    int ones = input(g, "ones", IR_F64, SHAPE(1, 4, 4, 1));
    int count = node(g, IR_POOL_MAX_T, w, ones, (IrAttr){.win = SQWIN(2, 1, 1)});
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT(ir_shape_equal(&g->nodes[pt].shape, SHAPE(1, 2, 2, 8)));
    CU_ASSERT(ir_shape_equal(&g->nodes[pool].shape, SHAPE(1, 1, 2, 1)));
    CU_ASSERT(ir_shape_equal(&g->nodes[over].shape, SHAPE(1, 4, 4, 1)));

    IrEval ev;
    ir_eval_init(&ev, g, 1);
    ir_eval_set(&ev, x, (double[]){1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8, -8, 9, -9});
    ir_eval_set(&ev, v, (double[]){2, 5, NAN, 2, 1, 5});
    ir_eval_set(&ev, gy, (double[]){10, 20});
    ir_eval_set(&ev, w, (double[]){1, 9, 2, 3, 4, 5, 6, 7, 8});
    ir_eval_set(&ev, ones, (double[]){1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
    run(&ev);
    /* window (0,0) holds only pixel (0,0) at (ky,kx) = (1,1); (0,1) pixels (0,1), (0,2) at (1,0), (1,1) ... */
    EXPECT(&ev, pt, 0, 0, 0, 0, 0, 0, 1, -1,   0, 0, 0, 0, 2, -2, 3, -3,
                    0, 0, 4, -4, 0, 0, 7, -7,  5, -5, 6, -6, 8, -8, 9, -9);
    /* windows [2 5; 2 1] -> 5 (the first 5); [5 NaN; 1 5] -> NaN */
    CU_ASSERT_EQUAL(ev.val[pool][0], 5);
    CU_ASSERT(isnan(ev.val[pool][1]));
    EXPECT(&ev, back, 0, 10, 20, 0, 0, 0);
    EXPECT(&ev, over, 1, 9, 9, 2, 3, 9, 9, 5, 6, 7, 8, 8, 6, 7, 8, 8);
    EXPECT(&ev, count, 1, 4, 1, 1, 0, 1, 2, 2, 4);   /* how many of the 16 windows pick each pixel */
    ir_eval_free(&ev);
    end(&f);
}

/* <patches(x), y> == <x, patches_t(y)> and <pool_max(a, x), y> == <x, pool_max_t(a, y)>,
 * exactly: small integers. */
static void test_patches_adjoint(void)
{
    static const int64_t geometry[][3] = {{3, 2, 1}, {2, 2, 0}, {3, 1, 2}, {1, 3, 0}, {3, 1, 1}};
    for (size_t t = 0; t < sizeof geometry / sizeof *geometry; t++) {
        int64_t k = geometry[t][0], s = geometry[t][1], p = geometry[t][2];
        bool pools = p < k;
        Fixture f;
        IrGraph *g = begin(&f, IR_F64);
        int x = input(g, "x", IR_F64, SHAPE(B, 5, 4, 2));
        int a = input(g, "a", IR_F64, SHAPE(B, 5, 4, 2));
        int pt = node(g, IR_PATCHES, x, -1, (IrAttr){.win = SQWIN(k, s, p)});
        int pm = pools ? node(g, IR_POOL_MAX, a, x, (IrAttr){.win = SQWIN(k, s, p)}) : -1;
        CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
        int y = input(g, "y", IR_F64, &g->nodes[pt].shape);
        int yp = pools ? input(g, "yp", IR_F64, &g->nodes[pm].shape) : -1;
        int ptt = node(g, IR_PATCHES_T, y, -1, (IrAttr){.win = SQWIN(k, s, p), .shape = *SHAPE(B, 5, 4, 2)});
        int pmt = pools ? node(g, IR_POOL_MAX_T, a, yp, (IrAttr){.win = SQWIN(k, s, p)}) : -1;
        CU_ASSERT_PTR_NULL_FATAL(ir_error(g));

        IrEval ev;
        ir_eval_init(&ev, g, 2);
        double xv[80], av[80], yv[4096], ypv[256];
        int64_t ny = ir_elems(&g->nodes[y].shape, 2), np = pools ? ir_elems(&g->nodes[yp].shape, 2) : 0;
        CU_ASSERT_FATAL(ny <= 4096 && np <= 256);
        for (int64_t i = 0; i < 80; i++) {
            xv[i] = (double)(i * 7 % 11) - 5;
            av[i] = (double)(i * 37 % 80);  /* distinct */
        }
        for (int64_t i = 0; i < ny; i++)
            yv[i] = (double)(i * 5 % 13) - 6;
        for (int64_t i = 0; i < np; i++)
            ypv[i] = (double)(i * 3 % 7) - 3;
        ir_eval_set(&ev, x, xv);
        ir_eval_set(&ev, a, av);
        ir_eval_set(&ev, y, yv);
        if (pools)
            ir_eval_set(&ev, yp, ypv);
        run(&ev);
        double lhs = 0, rhs = 0, plhs = 0, prhs = 0;
        for (int64_t i = 0; i < ny; i++)
            lhs += ev.val[pt][i] * yv[i];
        for (int64_t i = 0; i < 80; i++)
            rhs += xv[i] * ev.val[ptt][i];
        for (int64_t i = 0; i < np; i++)
            plhs += ev.val[pm][i] * ypv[i];
        for (int64_t i = 0; pools && i < 80; i++)
            prhs += xv[i] * ev.val[pmt][i];
        if (lhs != rhs || plhs != prhs)
            fprintf(stderr, "\nk %lld stride %lld pad %lld: %g != %g or %g != %g\n", (long long)k, (long long)s,
                    (long long)p, lhs, rhs, plhs, prhs);
        CU_ASSERT_EQUAL(lhs, rhs);
        CU_ASSERT_EQUAL(plhs, prhs);
        CU_ASSERT(lhs != 0);
        CU_ASSERT(!pools || plhs != 0);
        ir_eval_free(&ev);
        end(&f);
    }
}

/* ---- fused regions ---------------------------------------------------------------------- */

#define INSTR(o, va, vb, vc, k) {.op = IR_##o, .a = (va), .b = (vb), .c = (vc), .f = (k)}

static void test_fused(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(B, 3));
    int y = input(g, "y", IR_F64, SHAPE(3));
    /* relu(x * y + 0.5), then select(that > 4, that^2, -1) */
    IrInstr code[] = {
        INSTR(MUL, 0, 1, -1, 0),       /* 2 */
        INSTR(CONST, -1, -1, -1, 0.5), /* 3 */
        INSTR(ADD, 2, 3, -1, 0),       /* 4 */
        INSTR(RELU, 4, -1, -1, 0),     /* 5 */
        INSTR(CONST, -1, -1, -1, 4),   /* 6 */
        INSTR(GT, 5, 6, -1, 0),        /* 7 */
        INSTR(POW, 5, -1, -1, 2),      /* 8 */
        INSTR(CONST, -1, -1, -1, -1),  /* 9 */
        INSTR(SELECT, 7, 8, 9, 0),     /* 10 */
    };
    IrProgram relu = {code, 4, 2}, full = {code, 9, 2};
    int fr = ir_add(g, IR_FUSED, (int[]){x, y}, 2, &(IrAttr){.prog = &relu, .shape = *SHAPE(B, 3)}, SPAN_NONE);
    int ff = ir_add(g, IR_FUSED, (int[]){x, y}, 2, &(IrAttr){.prog = &full, .shape = *SHAPE(B, 3)}, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));

    IrEval ev;
    ir_eval_init(&ev, g, 2);
    ir_eval_set(&ev, x, (double[]){-1, 2, 3, 4, -5, 6});
    ir_eval_set(&ev, y, (double[]){1, 2, 3});
    run(&ev);
    EXPECT(&ev, fr, 0, 4.5, 9.5, 4.5, 0, 18.5);
    EXPECT(&ev, ff, -1, 20.25, 90.25, 20.25, -1, 342.25);
    ir_eval_free(&ev);
    end(&f);
}

static void test_fused_rows(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(B, 3));
    int c = input(g, "c", IR_F64, SHAPE(B, 1));
    /* softmax: e = exp(x - max(x)), e / sum(e); logsumexp: log(sum(e)) + max(x) */
    IrInstr code[] = {
        INSTR(RMAX, 0, -1, -1, 0),  /* 1: per row */
        INSTR(SUB, 0, 1, -1, 0),    /* 2 */
        INSTR(EXP, 2, -1, -1, 0),   /* 3 */
        INSTR(SUM, 3, -1, -1, 0),   /* 4: per row */
        INSTR(DIV, 3, 4, -1, 0),    /* 5 */
        INSTR(LOG, 4, -1, -1, 0),   /* 6: per row */
        INSTR(ADD, 6, 1, -1, 0),    /* 7: per row */
    };
    IrProgram softmax = {code, 5, 1};
    IrProgram lse = {code, 7, 1};
    /* x - mean(x) * c, with c one number per row */
    IrInstr center[] = {
        INSTR(MEAN, 0, -1, -1, 0),  /* 2 */
        INSTR(MUL, 2, 1, -1, 0),    /* 3 */
        INSTR(SUB, 0, 3, -1, 0),    /* 4 */
    };
    IrProgram cent = {center, 3, 2};
    /* i[0]: the row length, as the fusion pass gives it */
    int sm = ir_add(g, IR_FUSED_ROWS, &x, 1, &(IrAttr){.prog = &softmax, .shape = *SHAPE(B, 3), .i = {3}}, SPAN_NONE);
    int ls = ir_add(g, IR_FUSED_ROWS, &x, 1, &(IrAttr){.prog = &lse, .shape = *SHAPE(B, 1), .i = {3}}, SPAN_NONE);
    int ce = ir_add(g, IR_FUSED_ROWS, (int[]){x, c}, 2, &(IrAttr){.prog = &cent, .shape = *SHAPE(B, 3), .i = {3}},
                    SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));

    static const double xv[] = {1, 2, 3, -1, 0, 5}, cv[] = {10, 20};
    IrEval ev;
    ir_eval_init(&ev, g, 2);
    ir_eval_set(&ev, x, xv);
    ir_eval_set(&ev, c, cv);
    run(&ev);
    double want_sm[6], want_ls[2], want_ce[6];
    for (int r = 0; r < 2; r++) {
        const double *row = xv + 3 * r;
        double m = fmax(fmax(row[0], row[1]), row[2]);
        double e[3] = {exp(row[0] - m), exp(row[1] - m), exp(row[2] - m)};
        double s = e[0] + e[1] + e[2];
        double mean = (row[0] + row[1] + row[2]) / 3;
        for (int j = 0; j < 3; j++) {
            want_sm[3 * r + j] = e[j] / s;
            want_ce[3 * r + j] = row[j] - mean * cv[r];
        }
        want_ls[r] = log(s) + m;
    }
    expect_array(&ev, sm, want_sm, 6, __LINE__);
    expect_array(&ev, ls, want_ls, 2, __LINE__);
    expect_array(&ev, ce, want_ce, 6, __LINE__);
    ir_eval_free(&ev);

    /* What the fusion pass never makes is refused, not guessed at: a row
     * program without its row length, and MAX of one operand (MAX takes two;
     * a row maximum is RMAX, the only one codegen knows). */
    IrInstr one_max[] = {INSTR(MAX, 0, -1, -1, 0)};
    IrProgram pm = {one_max, 1, 1};
    int no_len = ir_add(g, IR_FUSED_ROWS, &x, 1, &(IrAttr){.prog = &softmax, .shape = *SHAPE(B, 3)}, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    ir_eval_init(&ev, g, 2);
    ir_eval_set(&ev, x, xv);
    ir_eval_set(&ev, c, cv);
    CU_ASSERT_EQUAL(ir_eval_run(&ev), -1);
    char want[128];
    snprintf(want, sizeof want, "internal error: node %d: fused_rows with row length 0 (attribute i[0])", no_len);
    ASSERT_STR(ev.error, want);
    ir_eval_free(&ev);
    g->n = no_len;   /* drop it again */
    int mx = ir_add(g, IR_FUSED_ROWS, &x, 1, &(IrAttr){.prog = &pm, .shape = *SHAPE(B, 1), .i = {3}}, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    ir_eval_init(&ev, g, 2);
    ir_eval_set(&ev, x, xv);
    ir_eval_set(&ev, c, cv);
    CU_ASSERT_EQUAL(ir_eval_run(&ev), -1);
    snprintf(want, sizeof want, "internal error: node %d: instruction 0 reads value -1, not yet defined", mx);
    ASSERT_STR(ev.error, want);
    ir_eval_free(&ev);
    end(&f);
}

static void test_matmul_epi(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(B, 3));
    int wt = input(g, "wt", IR_F64, SHAPE(2, 3));   /* [out, in]: used transposed */
    int bias = input(g, "bias", IR_F64, SHAPE(2));
    /* relu(x w^T + bias) */
    IrInstr code[] = {INSTR(ADD, 0, 1, -1, 0), INSTR(RELU, 2, -1, -1, 0)};
    IrProgram prog = {code, 2, 2};
    int mm = ir_add(g, IR_MATMUL_EPI, (int[]){x, wt, bias}, 3, &(IrAttr){.i = {0, 1}, .prog = &prog}, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT(ir_shape_equal(&g->nodes[mm].shape, SHAPE(B, 2)));

    IrEval ev;
    ir_eval_init(&ev, g, 2);
    ir_eval_set(&ev, x, (double[]){1, 2, 3, 4, 5, 6});
    ir_eval_set(&ev, wt, (double[]){7, 9, 11, 8, 10, 12});
    ir_eval_set(&ev, bias, (double[]){-60, -100});
    run(&ev);
    EXPECT(&ev, mm, 0, 0, 79, 54);   /* 58 - 60, 64 - 100, 139 - 60, 154 - 100 */
    ir_eval_free(&ev);
    end(&f);
}

/* A program that reads a value before it is made is an internal error, not a crash. */
static void test_bad_program(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(2));
    IrInstr code[] = {INSTR(ADD, 0, 2, -1, 0)};
    IrProgram prog = {code, 1, 1};
    ir_add(g, IR_FUSED, &x, 1, &(IrAttr){.prog = &prog, .shape = *SHAPE(2)}, SPAN_NONE);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    IrEval ev;
    ir_eval_init(&ev, g, 1);
    ir_eval_set(&ev, x, (double[]){1, 2});
    CU_ASSERT_EQUAL(ir_eval_run(&ev), -1);
    ASSERT_STR(ev.error, "internal error: node 1: instruction 0 reads value 2, not yet defined");
    ir_eval_free(&ev);
    end(&f);
}

/* ---- runs ---------------------------------------------------------------------------------- */

/* Running again after new inputs recomputes everything. */
static void test_rerun(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(B));
    int y = ir_reduce(g, IR_SUM, ir_binary(g, IR_MUL, x, x, SPAN_NONE), 1, SPAN_NONE);
    ir_output(g, "y", y, OUT_LOSS, -1);
    IrEval ev;
    ir_eval_init(&ev, g, 2);
    ir_eval_set(&ev, x, (double[]){1, 2});
    run(&ev);
    EXPECT(&ev, y, 5);
    ir_eval_set(&ev, x, (double[]){3, 4});
    run(&ev);
    EXPECT(&ev, y, 25);
    ir_eval_free(&ev);
    end(&f);
}

/* Planned mode: activations share one arena exactly as the plan says. */
static void test_planned(void)
{
    Fixture f;
    IrGraph *g = begin(&f, IR_F64);
    int x = input(g, "x", IR_F64, SHAPE(B, 2));
    int k1 = ir_const(g, 1, SPAN_NONE), k2 = ir_const(g, 2, SPAN_NONE), k3 = ir_const(g, 3, SPAN_NONE);
    int a = ir_binary(g, IR_MUL, x, k2, SPAN_NONE);   /* read by b and d */
    int b = ir_binary(g, IR_ADD, a, k1, SPAN_NONE);
    int c = ir_binary(g, IR_MUL, b, k3, SPAN_NONE);
    int d = ir_binary(g, IR_ADD, c, a, SPAN_NONE);
    ir_output(g, "d", d, OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    CU_ASSERT_EQUAL_FATAL(g->n, 8);

    /* per example: 16 bytes each (two f64); B̂ = 16 at batch 2 and 3 */
    IrSlab slab[8] = {SLAB_INPUT, SLAB_NONE, SLAB_NONE, SLAB_NONE, SLAB_ACT, SLAB_ACT, SLAB_ACT, SLAB_ACT};
    IrBytes bytes[8] = {{0, 16}, {8, 0}, {8, 0}, {8, 0}, {0, 16}, {0, 16}, {0, 16}, {0, 16}};
    /* a [0, 16B); b [16B, 32B); c over b, which only c reads; d [32B, 48B) */
    IrBytes good[8] = {{0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 16}, {0, 16}, {0, 32}};
    /* c over a, which d still reads: d = c + c */
    IrBytes early[8] = {{0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 16}, {0, 0}, {0, 32}};
    struct { IrBytes *offset; double want[4]; } cases[] = {
        {good, {11, 19, 27, 35}},
        {early, {18, 30, 42, 54}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        IrPlan plan = {.batch = 2, .slab = slab, .offset = cases[i].offset, .bytes = bytes};
        plan.slab_bytes[SLAB_ACT] = (IrBytes){0, 48};
        IrEval ev;
        ir_eval_init(&ev, g, 2);
        ev.plan = &plan;
        ir_eval_set(&ev, x, (double[]){1, 2, 3, 4});
        run(&ev);
        expect_array(&ev, d, cases[i].want, 4, __LINE__);
        CU_ASSERT(ev.val[d] == ev.arena + 32 * 16 / 4);   /* a double per 4 bytes of the arena */
        ir_eval_free(&ev);
    }

    /* The same plan at another batch: offsets move with B̂, values do not. */
    IrPlan plan = {.batch = 2, .slab = slab, .offset = good, .bytes = bytes};
    plan.slab_bytes[SLAB_ACT] = (IrBytes){0, 48};
    IrEval ev;
    ir_eval_init(&ev, g, 17);   /* B̂ = 32 */
    ev.plan = &plan;
    double x17[34], want17[34];
    for (int e = 0; e < 34; e++)
        x17[e] = e + 1, want17[e] = 8 * (e + 1) + 3;   /* d = 3(2x + 1) + 2x */
    ir_eval_set(&ev, x, x17);
    run(&ev);
    expect_array(&ev, d, want17, 34, __LINE__);
    CU_ASSERT(ev.val[d] == ev.arena + 32 * 32 / 4);
    ir_eval_free(&ev);

    /* A plan that gives a value too little room. */
    IrBytes small[8] = {{0, 16}, {8, 0}, {8, 0}, {8, 0}, {0, 16}, {0, 8}, {0, 16}, {0, 16}};
    plan.bytes = small;
    ir_eval_init(&ev, g, 2);
    ev.plan = &plan;
    ir_eval_set(&ev, x, (double[]){1, 2, 3, 4});
    CU_ASSERT_EQUAL(ir_eval_run(&ev), -1);
    ASSERT_STR(ev.error, "memory plan: node 5 needs 32 bytes, given 16 at offset 256 of 768");
    ir_eval_free(&ev);
    end(&f);
}

static const TestCase tests[] = {
    {"leaves and missing inputs", test_leaves},
    {"elementwise ops broadcast", test_elementwise},
    {"f32 values are rounded after each node", test_f32_rounding},
    {"sum, mean and rmax over axes and the batch", test_reductions},
    {"argmax takes the first maximum", test_argmax},
    {"reshape, permute, broadcast", test_layout},
    {"slice, pad, concat", test_slice_pad_concat},
    {"cast and one_hot", test_cast_one_hot},
    {"matmul with transposes", test_matmul},
    {"matmul with leading axes", test_matmul_batched},
    {"matmul contracting over the batch", test_matmul_over_batch},
    {"gather, scatter_add and ids out of range", test_gather_scatter},
    {"the counter-based generator", test_uniform},
    {"random_mask", test_random_mask},
    {"windows and windows_t", test_windows},
    {"windows_t is the adjoint of windows", test_windows_adjoint},
    {"patches, pool_max and pool_max_t", test_patches_pool},
    {"patches_t and pool_max_t are the adjoints of patches and pool_max", test_patches_adjoint},
    {"fused programs", test_fused},
    {"fused row programs", test_fused_rows},
    {"matmul with an epilogue", test_matmul_epi},
    {"a malformed fused program", test_bad_program},
    {"running again", test_rerun},
    {"planned mode aliases activations", test_planned},
    {NULL, NULL},
};

void register_interp(void) { add_suite("interp", tests); }
