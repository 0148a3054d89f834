/* test_passes.c — the verifier and the rewriting passes (simplify, CSE,
 * DCE) on small graphs built by hand.
 *
 * Every graph is compared whole after a pass, through a one-line dump:
 * "%0=input x; %1=const 1; %2=mul %0 %1 | y=%2" lists every node (op,
 * operands, the attribute that tells it apart) and then the outputs.  Each
 * pass's result must also pass ir_verify; verifier tests corrupt one field
 * of a valid graph and expect the exact message.
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/autodiff.h"
#include "ir/interp.h"
#include "ir/ir.h"
#include "ir/ir_internal.h"  /* ir_mm_patches, ir_pool_relu */
#include "passes/passes.h"
#include "ir/print.h"
#include "passes/pipeline.h"

static Arena arena;
static IrGraph g;

static void begin(IrType ftype)
{
    arena_init(&arena);
    ir_init(&g, &arena, NULL, "t", ftype);
}

static void end(void) { arena_free(&arena); }

static int input(const char *name, IrShape s) { return ir_input(&g, ROLE_INPUT, name, IR_F32, &s, SPAN_NONE); }
static int param(const char *name, IrShape s) { return ir_input(&g, ROLE_PARAM, name, IR_F32, &s, SPAN_NONE); }
static int cnst(double v) { return ir_const(&g, v, SPAN_NONE); }
static int un(IrOp op, int x) { return ir_unary(&g, op, x, SPAN_NONE); }
static int bin(IrOp op, int x, int y) { return ir_binary(&g, op, x, y, SPAN_NONE); }
static void out(const char *name, int v) { ir_output(&g, name, v, OUT_PREDICTION, -1); }

static int permute(int x, int p0, int p1, int p2, int p3)
{
    int perm[4] = {p0, p1, p2, p3};
    return ir_permute(&g, x, perm, SPAN_NONE);
}

/* A node of op with attribute a, bypassing the builders' own shortcuts
 * (ir_reshape and ir_broadcast return x when nothing would change). */
static int raw(IrOp op, int x, IrAttr a) { return ir_add(&g, op, &x, 1, &a, SPAN_NONE); }

static const char *shape_text(const IrShape *s)
{
    static char buf[64];
    StrBuf sb = {0};
    ir_shape_print(&sb, s);
    snprintf(buf, sizeof buf, "%s", sb_cstr(&sb));
    sb_free(&sb);
    return buf;
}

/* The whole graph on one line; see the top of the file. */
static const char *dump(void)
{
    static char buf[8192];
    StrBuf sb = {0};
    for (int i = 0; i < g.n; i++) {
        const IrNode *n = &g.nodes[i];
        sb_printf(&sb, "%s%%%d=%s", i ? "; " : "", i, ir_ops[n->op].name);
        if (n->op == IR_INPUT)
            sb_printf(&sb, " %s", n->a.name);
        if (n->op == IR_CONST)
            sb_printf(&sb, " %g", n->a.f);
        for (int k = 0; k < n->nin; k++)
            sb_printf(&sb, " %%%d", n->in[k]);
        if (n->op == IR_PERMUTE)
            for (int k = 0; k < n->shape.rank; k++)
                sb_printf(&sb, "%s%lld%s", k ? "," : " (", (long long)n->a.i[k], k == n->shape.rank - 1 ? ")" : "");
        if (n->op == IR_RESHAPE || n->op == IR_BROADCAST)
            sb_printf(&sb, " %s", shape_text(&n->shape));
        if (n->op == IR_SUM || n->op == IR_POW)
            sb_printf(&sb, " {%lld %g}", (long long)n->a.i[0], n->a.f);
    }
    sb_puts(&sb, " |");
    for (int j = 0; j < g.nouts; j++)
        sb_printf(&sb, " %s=%%%d", g.outs[j].name, g.outs[j].value);
    snprintf(buf, sizeof buf, "%s", sb_cstr(&sb));
    sb_free(&sb);
    return buf;
}

/* Runs a pass; its result must verify. */
static int run(int (*pass)(IrGraph *))
{
    int changed = pass(&g);
    const char *why = ir_verify(&g);
    ASSERT_STR(why ? why : "(verifies)", "(verifies)");
    return changed;
}

static const IrShape B3 = {2, {IR_BATCH, 3}};
static const IrShape S3 = {1, {3}};

/* ---- the verifier ------------------------------------------------------------------ */

/* A small training step: every kind of node the checks look at. */
static void test_verify_valid(void)
{
    begin(IR_F32);
    int x = input("x", (IrShape){2, {IR_BATCH, 4}});
    int lab = ir_input(&g, ROLE_TARGET, "label", IR_I32, &(IrShape){1, {IR_BATCH}}, SPAN_NONE);
    int w = param("w", (IrShape){2, {3, 4}});
    int b = param("b", S3);
    int h = bin(IR_ADD, ir_matmul(&g, x, w, false, true, SPAN_NONE), b);
    int r = un(IR_RELU, h);
    int pred = un(IR_ARGMAX, r);
    int oh = raw(IR_ONE_HOT, lab, (IrAttr){.i = {3}});
    int loss = ir_reduce(&g, IR_MEAN, bin(IR_MUL, r, oh), 3, SPAN_NONE);
    int wn = bin(IR_SUB, w, bin(IR_MUL, w, cnst(0.1)));
    g.nforward = g.n;
    out("pred", pred);
    ir_output(&g, "loss", loss, OUT_LOSS, -1);
    ir_output(&g, "w", wn, OUT_UPDATE, w);
    CU_ASSERT_EQUAL(g.nodes[pred].type, IR_I32);
    CU_ASSERT_PTR_NULL(ir_verify(&g));
    end();
}

/* x=%0, e=exp x %1, n=neg e %2, a=add e n %3, output y=a. */
static void chain(void)
{
    int x = input("x", B3);
    int e = un(IR_EXP, x);
    out("y", bin(IR_ADD, e, un(IR_NEG, e)));
}

static void test_verify_operands(void)
{
    begin(IR_F32);
    chain();
    CU_ASSERT_PTR_NULL(ir_verify(&g));
    g.nodes[1].in[0] = 2;
    ASSERT_STR(ir_verify(&g), "node %1 (exp): operand 0 is %2, defined after it");
    g.nodes[1].in[0] = 0;
    g.nodes[3].in[1] = 3;
    ASSERT_STR(ir_verify(&g), "node %3 (add): operand 1 is the node itself");
    g.nodes[3].in[1] = -1;
    ASSERT_STR(ir_verify(&g), "node %3 (add): operand 1 is -1, which is not a node");
    g.nodes[3].in[1] = 9;
    ASSERT_STR(ir_verify(&g), "node %3 (add): operand 1 is 9, which is not a node");
    g.nodes[3].in[1] = 2;
    g.nodes[3].nin = 1;
    ASSERT_STR(ir_verify(&g), "node %3 (add): takes 2 operands, has 1");
    g.nodes[3].nin = 2;
    CU_ASSERT_PTR_NULL(ir_verify(&g));
    end();
}

static void test_verify_shapes(void)
{
    begin(IR_F32);
    chain();
    g.nodes[3].shape.dim[1] = 4;
    ASSERT_STR(ir_verify(&g), "node %3 (add): shape [B,4] but its rule gives [B,3]");
    g.nodes[3].shape.dim[1] = 3;
    g.nodes[2].type = IR_F64;
    ASSERT_STR(ir_verify(&g), "node %2 (neg): type f64 but its rule gives f32");
    g.nodes[2].type = IR_F32;
    g.nodes[0].shape = (IrShape){2, {3, IR_BATCH}};
    ASSERT_STR(ir_verify(&g), "node %0 (input): the batch in dimension 1; only dimension 0 may be B");
    g.nodes[0].shape = (IrShape){2, {IR_BATCH, 0}};
    ASSERT_STR(ir_verify(&g), "node %0 (input): dimension 1 has size 0");
    g.nodes[0].shape = B3;
    g.nodes[0].a.name = NULL;
    ASSERT_STR(ir_verify(&g), "node %0 (input): an input without a name");
    g.nodes[0].a.name = "x";
    g.nodes[2].fwd = 3;
    ASSERT_STR(ir_verify(&g), "node %2 (neg): autodiff provenance 3 is not an earlier node");
    g.nodes[2].fwd = 1;
    CU_ASSERT_PTR_NULL(ir_verify(&g));
    end();

    /* The op's own rule rejects the node. */
    begin(IR_F32);
    int p = permute(input("x", (IrShape){4, {IR_BATCH, 2, 3, 4}}), 0, 2, 1, 3);
    g.nodes[p].a.i[2] = 2;
    ASSERT_STR(ir_verify(&g), "node %1 (permute): not a permutation");
    end();
}

static void test_verify_outputs(void)
{
    begin(IR_F32);
    chain();
    int w = param("w", S3);
    ir_output(&g, "w", 3, OUT_UPDATE, 3);
    ASSERT_STR(ir_verify(&g), "output 1 (w): an update of 3, which is not an input");
    g.outs[1].updates = w;
    ASSERT_STR(ir_verify(&g), "output 1 (w): shape [B,3] but the input it updates (%4) has [3]");
    g.nodes[w].shape = g.nodes[w].a.shape = B3;   /* an input's shape is its attribute's */
    g.nodes[w].type = IR_F64;
    ASSERT_STR(ir_verify(&g), "output 1 (w): type f32 but the input it updates (%4) has f64");
    g.nodes[w].type = IR_F32;
    CU_ASSERT_PTR_NULL(ir_verify(&g));
    g.outs[0].value = 99;
    ASSERT_STR(ir_verify(&g), "output 0 (y): value 99 is not a node");
    g.outs[0].value = 3;
    g.error = "add: operands do not broadcast";
    ASSERT_STR(ir_verify(&g), "the graph recorded an error: add: operands do not broadcast");
    end();
}

/* ---- simplify ------------------------------------------------------------------------ */

static void test_simplify_identities(void)
{
    begin(IR_F32);
    int x = input("x", B3), one = cnst(1), zero = cnst(0);
    int v = bin(IR_MUL, x, one);
    v = bin(IR_MUL, one, v);
    v = bin(IR_ADD, v, zero);
    v = bin(IR_ADD, zero, v);
    v = bin(IR_SUB, v, zero);
    v = bin(IR_DIV, v, one);
    out("y", v);
    CU_ASSERT_EQUAL(run(pass_simplify), 6);
    ASSERT_STR(dump(), "%0=input x; %1=const 1; %2=const 0 | y=%0");
    CU_ASSERT_EQUAL(run(pass_dce), 2);
    ASSERT_STR(dump(), "%0=input x | y=%0");
    end();
}

/* Forms that look alike but are not identities stay as they are. */
static void test_simplify_keeps(void)
{
    begin(IR_F32);
    int x = input("x", B3), one = cnst(1), zero = cnst(0);
    out("a", bin(IR_SUB, zero, x));
    out("b", bin(IR_DIV, one, x));
    out("c", bin(IR_MUL, x, cnst(2)));
    out("d", bin(IR_ADD, x, one));
    /* The 1 broadcasts x from [3] to [4,3]: x alone would be too small. */
    int small = input("s", S3);
    int ones = raw(IR_BROADCAST, one, (IrAttr){.shape = {2, {4, 3}}});
    out("e", bin(IR_MUL, small, ones));
    /* x is f64 and the product f32 (the graph's type): not the same value. */
    int x64 = ir_input(&g, ROLE_INPUT, "x64", IR_F64, &B3, SPAN_NONE);
    out("f", bin(IR_MUL, x64, one));
    const char *before = "%0=input x; %1=const 1; %2=const 0; %3=sub %2 %0; %4=div %1 %0; %5=const 2; "
                         "%6=mul %0 %5; %7=add %0 %1; %8=input s; %9=broadcast %1 [4,3]; %10=mul %8 %9; "
                         "%11=input x64; %12=mul %11 %1 | a=%3 b=%4 c=%6 d=%7 e=%10 f=%12";
    ASSERT_STR(dump(), before);
    CU_ASSERT_EQUAL(run(pass_simplify), 0);
    ASSERT_STR(dump(), before);
    end();
}

/* A broadcast 1 of x's own shape is still 1. */
static void test_simplify_broadcast_one(void)
{
    begin(IR_F32);
    int x = input("x", (IrShape){2, {4, 3}});
    int ones = raw(IR_BROADCAST, cnst(1), (IrAttr){.shape = {2, {4, 3}}});
    out("y", bin(IR_MUL, ones, x));
    CU_ASSERT_EQUAL(run(pass_simplify), 1);
    ASSERT_STR(dump(), "%0=input x; %1=const 1; %2=broadcast %1 [4,3] | y=%0");
    end();
}

static void test_simplify_zero(void)
{
    begin(IR_F32);
    int x = input("x", B3), s = input("s", (IrShape){0});
    out("y", bin(IR_MUL, x, cnst(0)));
    out("z", bin(IR_MUL, cnst(0), s));
    CU_ASSERT_EQUAL(run(pass_simplify), 2);
    ASSERT_STR(dump(), "%0=input x; %1=input s; %2=const 0; %3=broadcast %2 [B,3]; %4=const 0 | y=%3 z=%4");
    CU_ASSERT_EQUAL(g.nodes[3].shape.dim[0], IR_BATCH);
    end();
}

static void test_simplify_neg(void)
{
    begin(IR_F32);
    int x = input("x", B3);
    int n2 = un(IR_NEG, un(IR_NEG, x));
    out("y", n2);
    out("z", un(IR_NEG, n2));
    CU_ASSERT_EQUAL(run(pass_simplify), 1);
    /* neg(neg(neg x)) is neg x again: a second copy, for CSE to merge. */
    ASSERT_STR(dump(), "%0=input x; %1=neg %0; %2=neg %0 | y=%0 z=%2");
    CU_ASSERT_EQUAL(run(pass_cse), 1);
    ASSERT_STR(dump(), "%0=input x; %1=neg %0 | y=%0 z=%1");
    end();
}

static void test_simplify_permute(void)
{
    begin(IR_F32);
    int x = input("x", (IrShape){4, {IR_BATCH, 2, 3, 4}});
    int p = permute(x, 0, 2, 3, 1);                 /* [B,3,4,2] */
    out("back", permute(p, 0, 3, 1, 2));            /* the inverse: x */
    int q = permute(p, 0, 1, 3, 2);                 /* [B,3,2,4]: x's axes 0,2,1,3 */
    g.nodes[q].at = (Span){5, 9};
    g.nodes[q].layer = "attention";
    g.nodes[q].fwd = x;
    g.nodes[q].rule = "permute' = permute(g, inverse)";
    out("one", q);
    out("same", permute(x, 0, 1, 2, 3));
    CU_ASSERT_EQUAL(run(pass_simplify), 3);
    ASSERT_STR(dump(), "%0=input x; %1=permute %0 (0,2,3,1); %2=permute %0 (0,2,1,3) | back=%0 one=%2 same=%0");
    /* The new permute is the old outer one for dumps and autodiff. */
    const IrNode *n = &g.nodes[2];
    CU_ASSERT_EQUAL(n->at.begin, 5);
    CU_ASSERT_EQUAL(n->at.end, 9);
    ASSERT_STR(n->layer, "attention");
    ASSERT_STR(n->rule, "permute' = permute(g, inverse)");
    CU_ASSERT_EQUAL(n->fwd, 0);
    ASSERT_STR(shape_text(&n->shape), "[B,3,2,4]");
    end();
}

static void test_simplify_reshape(void)
{
    begin(IR_F32);
    int x = input("x", (IrShape){2, {IR_BATCH, 12}});
    int r = ir_reshape(&g, x, &(IrShape){3, {IR_BATCH, 3, 4}}, SPAN_NONE);
    out("two", ir_reshape(&g, r, &(IrShape){3, {IR_BATCH, 2, 6}}, SPAN_NONE));
    out("back", ir_reshape(&g, r, &(IrShape){2, {IR_BATCH, 12}}, SPAN_NONE));
    out("self", raw(IR_RESHAPE, x, (IrAttr){.shape = {2, {IR_BATCH, 12}}}));
    out("bcast", raw(IR_BROADCAST, x, (IrAttr){.shape = {2, {IR_BATCH, 12}}}));
    CU_ASSERT_EQUAL(run(pass_simplify), 4);
    ASSERT_STR(dump(), "%0=input x; %1=reshape %0 [B,3,4]; %2=reshape %0 [B,2,6] | two=%2 back=%0 self=%0 bcast=%0");
    end();
}

static void test_simplify_fold(void)
{
    begin(IR_F64);
    /* (C argument order is unspecified: each node is built in its own statement.) */
    int x = ir_input(&g, ROLE_INPUT, "x", IR_F64, &B3, SPAN_NONE);
    int c2 = cnst(2), c3 = cnst(3);
    int sum = bin(IR_ADD, c2, c3), c4 = cnst(4);
    out("a", bin(IR_MUL, sum, c4));
    out("b", un(IR_EXP, cnst(0)));
    out("c", ir_pow(&g, cnst(2), 3, SPAN_NONE));
    int sel[3];
    sel[0] = cnst(0), sel[1] = cnst(5), sel[2] = cnst(6);
    out("d", ir_add(&g, IR_SELECT, sel, 3, NULL, SPAN_NONE));
    /* x * (3 - 2): the folded 1 then makes the product x. */
    c3 = cnst(3), c2 = cnst(2);
    out("e", bin(IR_MUL, x, bin(IR_SUB, c3, c2)));
    int tenth = cnst(0.1), fifth = cnst(0.2);
    out("f", bin(IR_ADD, tenth, fifth));
    CU_ASSERT_EQUAL(run(pass_simplify), 8);
    ASSERT_STR(dump(), "%0=input x; %1=const 2; %2=const 3; %3=const 5; %4=const 4; %5=const 20; "
                       "%6=const 0; %7=const 1; %8=const 2; %9=const 8; %10=const 0; %11=const 5; %12=const 6; "
                       "%13=const 6; %14=const 3; %15=const 2; %16=const 1; %17=const 0.1; %18=const 0.2; "
                       "%19=const 0.3 | a=%5 b=%7 c=%9 d=%13 e=%0 f=%19");
    CU_ASSERT_EQUAL(g.nodes[19].a.f, 0.1 + 0.2);
    CU_ASSERT_EQUAL(run(pass_dce), 14);
    ASSERT_STR(dump(), "%0=input x; %1=const 20; %2=const 1; %3=const 8; %4=const 6; %5=const 0.3 "
                       "| a=%1 b=%2 c=%3 d=%4 e=%0 f=%5");
    end();

    /* In an f32 graph constants are floats: folding rounds as running would. */
    begin(IR_F32);
    tenth = cnst(0.1), fifth = cnst(0.2);
    out("f", bin(IR_ADD, tenth, fifth));
    CU_ASSERT_EQUAL(run(pass_simplify), 1);
    CU_ASSERT_EQUAL(g.nodes[2].a.f, (double)(float)((double)(float)0.1 + (double)(float)0.2));
    CU_ASSERT_NOT_EQUAL(g.nodes[2].a.f, 0.1 + 0.2);
    end();
}

/* Replacing and rebuilding nodes keeps the forward/backward boundaries. */
static void test_simplify_stages(void)
{
    begin(IR_F32);
    int x = input("x", B3), e = un(IR_EXP, x);
    g.nforward = g.n;
    int m = bin(IR_MUL, e, cnst(1));
    g.nodes[m].fwd = e;
    int n = un(IR_NEG, m);
    g.nodes[n].fwd = e;
    int p = ir_reshape(&g, ir_reshape(&g, n, &(IrShape){3, {IR_BATCH, 3, 1}}, SPAN_NONE), &(IrShape){3, {IR_BATCH, 1, 3}},
                       SPAN_NONE);
    g.ngrad = g.n;
    out("y", p);
    CU_ASSERT_EQUAL(g.nforward, 2);
    CU_ASSERT_EQUAL(g.ngrad, 7);
    CU_ASSERT_EQUAL(run(pass_simplify), 2);
    ASSERT_STR(dump(), "%0=input x; %1=exp %0; %2=const 1; %3=neg %1; %4=reshape %3 [B,3,1]; %5=reshape %3 [B,1,3] | y=%5");
    CU_ASSERT_EQUAL(g.nforward, 2);
    CU_ASSERT_EQUAL(g.ngrad, 6);
    CU_ASSERT_EQUAL(g.nodes[3].fwd, 1);
    end();
}

/* The gradient of p = softmax(x) over x's last axis as autodiff builds it
 * from exp, sum and div's rules, g the gradient of p, the second sum over
 * the axes in `axes` (the first's, 2, for a softmax's gradient). */
static int softmax_grad_graph(uint64_t axes)
{
    int x = input("x", B3), gr = input("g", B3);
    int e = un(IR_EXP, x), z = ir_reduce(&g, IR_SUM, e, 2, SPAN_NONE);
    int p = bin(IR_DIV, e, z);
    int q = bin(IR_DIV, bin(IR_MUL, gr, p), z);
    int back = ir_broadcast(&g, ir_reduce(&g, IR_SUM, un(IR_NEG, q), axes, SPAN_NONE), &B3, SPAN_NONE);
    out("p", p);
    return bin(IR_MUL, bin(IR_ADD, bin(IR_DIV, gr, z), back), e);
}

/* The graph's output dx at batch 2 in the interpreter, for x and g
 * (inputs 0 and 1) of fixed values. */
static void eval_dx(double dx[6])
{
    static const double x[6] = {0.3, -1.2, 2.0, 0.7, 0.1, -0.4}, gr[6] = {1.0, -0.5, 0.25, 2.0, 0.0, -1.5};
    IrEval ev;
    ir_eval_init(&ev, &g, 2);
    ir_eval_set(&ev, 0, x);
    ir_eval_set(&ev, 1, gr);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
    int64_t len = 0;
    const double *v = ir_eval_output(&ev, "dx", &len);
    CU_ASSERT_EQUAL_FATAL(len, 6);
    memcpy(dx, v, sizeof(double) * 6);
    ir_eval_free(&ev);
}

/* ... is p·(g − sum(g·p)), which needs neither e nor Z (the attention's
 * backward kernel recomputed both from x): the same values within f32's
 * rounding (the graph's values are floats between nodes); over other axes
 * it stays. */
static void test_simplify_softmax_grad(void)
{
    begin(IR_F32);
    out("dx", softmax_grad_graph(2));
    double before[6], after[6];
    eval_dx(before);
    CU_ASSERT_EQUAL(run(pass_simplify), 1);
    CU_ASSERT_EQUAL(run(pass_dce), 6);
    ASSERT_STR(dump(), "%0=input x; %1=input g; %2=exp %0; %3=sum %2 {2 0}; %4=div %2 %3; %5=mul %1 %4; "
                       "%6=sum %5 {2 0}; %7=broadcast %6 [B,3]; %8=sub %1 %7; %9=mul %4 %8 | p=%4 dx=%9");
    eval_dx(after);
    for (int k = 0; k < 6; k++)
        if (!(fabs(after[k] - before[k]) <= 1e-6)) {
            fprintf(stderr, "softmax gradient %d: %.9g rewritten, %.9g before\n", k, after[k], before[k]);
            CU_FAIL("the rewritten softmax gradient differs");
        }
    end();

    begin(IR_F32);
    out("dx", softmax_grad_graph(1));
    CU_ASSERT_EQUAL(run(pass_simplify), 0);
    end();
}

/* The loss sum(y · t) over every axis, t an input of y's shape, and its
 * gradient for parameter x as autodiff builds it, returned.  The folds
 * below match the forms grad.c's rules build; these tests build the graph
 * through those rules, so a change there that stops a fold fails here,
 * not only in a slower step. */
static int append_grad(int x, int y)
{
    int t = input("t", g.nodes[y].shape);
    int loss = ir_reduce(&g, IR_SUM, bin(IR_MUL, y, t), (1u << g.nodes[y].shape.rank) - 1, SPAN_NONE);
    int dx;
    CU_ASSERT_EQUAL_FATAL(ad_append(&g, loss, &x, 1, &dx), 0);
    return dx;
}

/* softmax(x) as lower.c builds it (exp(x − stop_grad(rmax x)) / sum), its
 * gradient from autodiff: simplify leaves p·(g − sum(g·p)), a product
 * with p itself. */
static void test_simplify_softmax_grad_autodiff(void)
{
    begin(IR_F32);
    int x = param("x", (IrShape){2, {2, 3}});
    int m = un(IR_STOP_GRAD, ir_reduce(&g, IR_RMAX, x, 2, SPAN_NONE));
    int e = un(IR_EXP, bin(IR_SUB, x, m));
    int p = bin(IR_DIV, e, ir_reduce(&g, IR_SUM, e, 2, SPAN_NONE));
    out("dx", append_grad(x, p));
    run(pass_simplify);
    run(pass_dce);
    const IrNode *dx = &g.nodes[g.outs[0].value];
    CU_ASSERT_EQUAL(dx->op, IR_MUL);
    CU_ASSERT(dx->nin == 2 && (dx->in[0] == p || dx->in[1] == p));
    CU_ASSERT(dx->nin == 2 && g.nodes[dx->in[dx->in[0] == p]].op == IR_SUB);
    end();
}

/* ---- CSE ---------------------------------------------------------------------------------- */

static void test_cse_merges(void)
{
    begin(IR_F32);
    int x = input("x", B3), y = input("y", B3);
    int a1 = bin(IR_ADD, x, y), a2 = bin(IR_ADD, y, x);
    int e1 = un(IR_EXP, a1), e2 = un(IR_EXP, a2);
    out("p", bin(IR_MUL, e1, e2));
    out("q", bin(IR_MUL, e2, e1));
    out("r", bin(IR_MAX, a2, a1));
    CU_ASSERT_EQUAL(run(pass_cse), 3);
    ASSERT_STR(dump(), "%0=input x; %1=input y; %2=add %0 %1; %3=exp %2; %4=mul %3 %3; %5=max %2 %2 | p=%4 q=%4 r=%5");
    end();
}

static void test_cse_keeps(void)
{
    begin(IR_F32);
    int x = input("x", (IrShape){3, {IR_BATCH, 3, 4}}), x2 = input("x", (IrShape){3, {IR_BATCH, 3, 4}});
    out("s1", bin(IR_SUB, x, x2));
    out("s2", bin(IR_SUB, x2, x));
    out("r1", ir_reduce(&g, IR_SUM, x, 2, SPAN_NONE));
    out("r2", ir_reduce(&g, IR_SUM, x, 4, SPAN_NONE));
    out("p1", ir_pow(&g, x, 2, SPAN_NONE));
    out("p2", ir_pow(&g, x, 3, SPAN_NONE));
    out("m1", ir_matmul(&g, x, x, false, true, SPAN_NONE));
    out("m2", ir_matmul(&g, x, x, true, false, SPAN_NONE));
    int zero = cnst(0), minus_zero = cnst(-0.0);
    out("c", bin(IR_ADD, zero, minus_zero));
    const char *before = dump();
    char copy[8192];
    snprintf(copy, sizeof copy, "%s", before);
    CU_ASSERT_EQUAL(run(pass_cse), 0);
    ASSERT_STR(dump(), copy);
    CU_ASSERT_EQUAL(g.n, 13);
    end();
}

/* Two dropout masks of one shape draw different numbers; batch sizes are one. */
static void test_cse_random(void)
{
    begin(IR_F32);
    int step = ir_counter(&g, RT_COUNTER_STEP);
    IrAttr mask = {.shape = B3, .f = 0.5, .i = {7, 1}};
    out("m1", raw(IR_RANDOM_MASK, step, mask));
    out("m2", raw(IR_RANDOM_MASK, step, mask));
    out("b1", ir_add(&g, IR_BATCH_SIZE, NULL, 0, NULL, SPAN_NONE));
    out("b2", ir_add(&g, IR_BATCH_SIZE, NULL, 0, NULL, SPAN_NONE));
    CU_ASSERT_EQUAL(run(pass_cse), 1);
    ASSERT_STR(dump(), "%0=input step; %1=random_mask %0; %2=random_mask %0; %3=batch_size | m1=%1 m2=%2 b1=%3 b2=%3");
    end();
}

/* Enough nodes for the table to grow and collide. */
static void test_cse_many(void)
{
    begin(IR_F32);
    int x = input("x", B3);
    enum { N = 1000 };
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++)
            cnst(i);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++)
            bin(IR_ADD, x, 1 + i + round * N);
    out("last", g.n - 1);
    CU_ASSERT_EQUAL(g.n, 1 + 4 * N);
    CU_ASSERT_EQUAL(run(pass_cse), 2 * N);
    CU_ASSERT_EQUAL(g.n, 1 + 2 * N);
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(g.nodes[1 + i].a.f, i);
        CU_ASSERT_EQUAL(g.nodes[1 + N + i].in[1], 1 + i);
    }
    CU_ASSERT_EQUAL(g.outs[0].value, 2 * N);
    end();
}

/* ---- DCE ------------------------------------------------------------------------------------ */

static void test_dce(void)
{
    begin(IR_F32);
    int x = input("x", B3);
    input("unused", B3);
    int e = un(IR_EXP, x);
    int dead = un(IR_LOG, un(IR_NEG, x));
    g.nforward = g.n;
    int gr = bin(IR_MUL, e, cnst(2));
    g.nodes[gr].fwd = dead;
    int gr2 = un(IR_NEG, gr);
    g.nodes[gr2].fwd = e;
    g.ngrad = g.n;
    out("y", gr2);
    CU_ASSERT_EQUAL(run(pass_dce), 2);
    ASSERT_STR(dump(), "%0=input x; %1=input unused; %2=exp %0; %3=const 2; %4=mul %2 %3; %5=neg %4 | y=%5");
    CU_ASSERT_EQUAL(g.nforward, 3);
    CU_ASSERT_EQUAL(g.ngrad, 6);
    CU_ASSERT_EQUAL(g.nodes[4].fwd, -1);   /* its forward node is gone */
    CU_ASSERT_EQUAL(g.nodes[5].fwd, 2);
    CU_ASSERT_EQUAL(run(pass_dce), 0);
    end();
}

static void test_dce_updates(void)
{
    begin(IR_F32);
    int w = param("w", S3), m = ir_input(&g, ROLE_STATE, "m", IR_F32, &S3, SPAN_NONE);
    un(IR_EXP, w);
    int mn = bin(IR_ADD, bin(IR_MUL, m, cnst(0.9)), w);
    ir_output(&g, "w", bin(IR_SUB, w, mn), OUT_UPDATE, w);
    ir_output(&g, "m", mn, OUT_UPDATE, m);
    CU_ASSERT_EQUAL(run(pass_dce), 1);
    ASSERT_STR(dump(), "%0=input w; %1=input m; %2=const 0.9; %3=mul %1 %2; %4=add %3 %0; %5=sub %0 %4 | w=%5 m=%4");
    CU_ASSERT_EQUAL(g.outs[0].updates, 0);
    CU_ASSERT_EQUAL(g.outs[1].updates, 1);
    end();
}

/* ---- implicit patches ------------------------------------------------------------------- */

/* rows = reshape(patches(x)) of x [B,6,6,C], k 3, stride 1, pad 1: [B,36,9C] */
static int conv_rows(int x, int64_t c)
{
    int p = raw(IR_PATCHES, x, (IrAttr){.win = SQWIN(3, 1, 1)});
    return raw(IR_RESHAPE, p, (IrAttr){.shape = {3, {IR_BATCH, 36, 9 * c}}});
}

static int lead_matmul(int a, int b)
{
    IrAttr at = {.i = {1, 0, 1}};
    return ir_add(&g, IR_MATMUL, (int[]){a, b}, 2, &at, SPAN_NONE);
}

/* A convolution's forward and weight gradient read the image; the patches die. */
static void test_implicit_patches(void)
{
    begin(IR_F32);
    int x = input("x", (IrShape){4, {IR_BATCH, 6, 6, 4}});
    int gr = input("g", (IrShape){3, {IR_BATCH, 36, 8}});
    int w = param("w", (IrShape){2, {36, 8}});
    int rows = conv_rows(x, 4);
    out("y", ir_matmul(&g, rows, w, false, false, SPAN_NONE));
    out("dw", lead_matmul(rows, gr));
    CU_ASSERT_EQUAL(run(pass_implicit_patches), 2);
    CU_ASSERT_EQUAL(run(pass_dce), 2);
    ASSERT_STR(dump(), "%0=input x; %1=input g; %2=input w; %3=matmul %0 %2; %4=matmul %1 %0; %5=permute %4 (1,0) "
                       "| y=%3 dw=%5");
    CU_ASSERT_EQUAL(ir_mm_patches(&g.nodes[3]), IR_MM_PATCHES_A);   /* A read as patches, k 3 stride 1 pad 1 */
    IrWindow w3 = ir_mm_window(&g.nodes[3]);
    for (int d = 0; d < 2; d++)
        CU_ASSERT(w3.k[d] == 3 && w3.stride[d] == 1 && w3.pad[d] == 1);
    ASSERT_STR(shape_text(&g.nodes[3].shape), "[B,36,8]");
    CU_ASSERT_EQUAL(ir_mm_patches(&g.nodes[4]), IR_MM_PATCHES_B);   /* (gᵀ · rows)ᵀ: the rows are op(B) */
    ASSERT_STR(shape_text(&g.nodes[4].shape), "[8,36]");
    ASSERT_STR(shape_text(&g.nodes[5].shape), "[36,8]");
    CU_ASSERT_EQUAL(run(pass_implicit_patches), 0);
    end();
}

/* All of a patches node's users, or none: rows narrower than g (a first layer's
 * 9 values against 16 filters), or rows read by anything but such a matmul. */
static void test_implicit_patches_keeps(void)
{
    begin(IR_F32);
    int x = input("x", (IrShape){4, {IR_BATCH, 6, 6, 1}});
    int gr = input("g", (IrShape){3, {IR_BATCH, 36, 16}});
    int w = param("w", (IrShape){2, {9, 16}});
    int rows = conv_rows(x, 1);
    out("y", ir_matmul(&g, rows, w, false, false, SPAN_NONE));
    out("dw", lead_matmul(rows, gr));
    CU_ASSERT_EQUAL(run(pass_implicit_patches), 0);
    end();

    begin(IR_F32);
    x = input("x", (IrShape){4, {IR_BATCH, 6, 6, 4}});
    w = param("w", (IrShape){2, {36, 8}});
    rows = conv_rows(x, 4);
    out("y", ir_matmul(&g, rows, w, false, false, SPAN_NONE));
    out("r", un(IR_EXP, rows));
    CU_ASSERT_EQUAL(run(pass_implicit_patches), 0);
    end();
}

/* ---- a relu folded into max pooling ------------------------------------------------------ */

static int pool2(IrOp op, int x, int y)
{
    IrAttr a = {.win = SQWIN(2, 2, 0)};
    return ir_add(&g, op, (int[]){x, y}, 2, &a, SPAN_NONE);
}

/* A new graph of inputs x [B,4,4,2] (%0) and g [B,2,2,2] (%1) and P =
 * pool_max(x, x) (%2); relu's backward g · gt(P, 0) */
static int pool_graph(void)
{
    begin(IR_F32);
    int x = input("x", (IrShape){4, {IR_BATCH, 4, 4, 2}});
    input("g", (IrShape){4, {IR_BATCH, 2, 2, 2}});
    return pool2(IR_POOL_MAX, x, x);
}

static int relu_grad(int p, double zero) { return bin(IR_MUL, 1, bin(IR_GT, p, cnst(zero))); }

/* P = pool_max(x, x), relu(P), and the backward pool_max_t(x, g · gt(P, 0)):
 * the relu is P, the product's g goes straight to pool_max_t, both flagged;
 * the gt and the product die. */
static void test_pool_relu(void)
{
    int p = pool_graph();
    out("y", un(IR_RELU, p));
    out("dx", pool2(IR_POOL_MAX_T, 0, relu_grad(p, 0)));
    CU_ASSERT_EQUAL(run(pass_pool_relu), 3);
    CU_ASSERT_EQUAL(run(pass_dce), 3);
    ASSERT_STR(dump(), "%0=input x; %1=input g; %2=pool_max %0 %0; %3=pool_max_t %0 %1 | y=%2 dx=%3");
    CU_ASSERT(ir_pool_relu(&g.nodes[2]));
    CU_ASSERT(ir_pool_relu(&g.nodes[3]));
    CU_ASSERT_EQUAL(run(pass_pool_relu), 0);
    end();
}

/* What stays: a pooling also read by something other than a relu or gt(P, 0)
 * (its relu stays, but the backward still folds: gt(P, 0) reads the
 * unfolded P); a product read twice; a mask of the pooling of another image, or
 * against another constant. */
static void test_pool_relu_keeps(void)
{
    int p = pool_graph();
    out("y", un(IR_RELU, p));
    out("e", un(IR_EXP, p));
    out("dx", pool2(IR_POOL_MAX_T, 0, relu_grad(p, 0)));
    CU_ASSERT_EQUAL(run(pass_pool_relu), 1);
    CU_ASSERT(!ir_pool_relu(&g.nodes[2]));
    ASSERT_STR(dump(), "%0=input x; %1=input g; %2=pool_max %0 %0; %3=relu %2; %4=exp %2; %5=const 0; %6=gt %2 %5; "
                       "%7=mul %1 %6; %8=pool_max_t %0 %1 | y=%3 e=%4 dx=%8");
    CU_ASSERT(ir_pool_relu(&g.nodes[8]));
    end();

    p = pool_graph();
    int m = relu_grad(p, 0);
    out("dx", pool2(IR_POOL_MAX_T, 0, m));
    out("m", m);
    int x2 = input("x2", (IrShape){4, {IR_BATCH, 4, 4, 2}});
    out("dx2", pool2(IR_POOL_MAX_T, x2, relu_grad(p, 0)));
    out("dx3", pool2(IR_POOL_MAX_T, 0, relu_grad(p, 1)));
    CU_ASSERT_EQUAL(run(pass_pool_relu), 0);
    end();
}

/* relu(pool_max(x, x)) (output y) and its gradient from autodiff: both
 * poolings carry the relu, and neither the relu nor its mask is left. */
static void test_pool_relu_autodiff(void)
{
    begin(IR_F32);
    int x = param("x", (IrShape){3, {4, 4, 2}});
    int y = un(IR_RELU, pool2(IR_POOL_MAX, x, x));
    out("y", y);
    out("dx", append_grad(x, y));
    CU_ASSERT(run(pass_pool_relu) > 0);
    run(pass_dce);
    const IrNode *p = &g.nodes[g.outs[0].value];
    CU_ASSERT(p->op == IR_POOL_MAX && ir_pool_relu(p));
    int folded = 0;
    for (int i = 0; i < g.n; i++) {
        CU_ASSERT(g.nodes[i].op != IR_RELU && g.nodes[i].op != IR_GT);
        folded += g.nodes[i].op == IR_POOL_MAX_T && ir_pool_relu(&g.nodes[i]);
    }
    CU_ASSERT_EQUAL(folded, 1);
    end();
}

/* ---- a convolution's weight and bias gradient through its pooling --------------------------- */

/* A new graph of x [B,5,5,2] (%0), g [B,3,3,2] (%1), rows [B,25,3] (%2) and
 * the backward of a convolution and a 3×3 pooling (stride 2, padding 1:
 * windows overlap, some reach into the padding) as autodiff and
 * split-free passes leave it: d = reshape(pool_max_t(x, g)) [B,25,2], the
 * bias's sum(d) over all axes but C (output db) and the weight's
 * rowsᵀ · d over the batch's pixels (output dw); relu: the flag set, as
 * pool_relu.c leaves it.  Returns d. */
static int pool_grad_graph(bool relu, bool lead)
{
    begin(IR_F64);
    int x = input("x", (IrShape){4, {IR_BATCH, 5, 5, 2}});
    int gr = input("g", (IrShape){4, {IR_BATCH, 3, 3, 2}});
    int rows = input("rows", (IrShape){3, {IR_BATCH, 25, 3}});
    int t = ir_add(&g, IR_POOL_MAX_T, (int[]){x, gr}, 2, &(IrAttr){.win = SQWIN(3, 2, 1), .i = {[3] = relu}}, SPAN_NONE);
    int d = raw(IR_RESHAPE, t, (IrAttr){.shape = {3, {IR_BATCH, 25, 2}}});
    out("db", ir_reduce(&g, IR_SUM, d, 3, SPAN_NONE));
    out("dw", ir_add(&g, IR_MATMUL, (int[]){rows, d}, 2, &(IrAttr){.i = {1, 0, lead}}, SPAN_NONE));
    return d;
}

/* The graph evaluated at batch 2 on the pooling gradient's inputs: x
 * [2,5,5,2] with ties (the first maximum wins) and its channel 1 negative
 * everywhere (the relu's mask is 0 there), g [2,3,3,2] and the third input
 * (rows or w, n values) of both signs. */
static void eval_pool_inputs(IrEval *ev, int n)
{
    double x[100], gr[36], third[150];
    for (int i = 0; i < 100; i++)
        x[i] = i % 2 ? -1.0 - (double)((i * 7) % 5) : (double)((i * 37) % 11) - 6.0 + (i % 7 == 0 ? 0.0 : 0.25 * (i % 3));
    for (int i = 0; i < 36; i++)
        gr[i] = 0.5 + (double)((i * 13) % 9) - 4.0;
    for (int i = 0; i < n; i++)
        third[i] = 0.125 * (double)((i * 29) % 17) - 1.0;
    ir_eval_init(ev, &g, 2);
    ir_eval_set(ev, 0, x);
    ir_eval_set(ev, 1, gr);
    ir_eval_set(ev, 2, third);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(ev), 0);
}

/* Outputs db [1,1,2] and dw [3,2] (or [B,3,2]: 12 values) at batch 2, for
 * inputs of fixed values: x with ties (the first maximum wins), its channel
 * 1 negative everywhere (the relu's mask is 0 there), g and rows of both
 * signs. */
static void eval_pool_grad(double db[2], double dw[12])
{
    IrEval ev;
    eval_pool_inputs(&ev, 150);
    int64_t nb = 0, nw = 0;
    const double *b = ir_eval_output(&ev, "db", &nb), *w = ir_eval_output(&ev, "dw", &nw);
    CU_ASSERT_EQUAL_FATAL(nb, 2);
    CU_ASSERT_FATAL(nw == 6 || nw == 12);
    memcpy(db, b, sizeof(double) * 2);
    memcpy(dw, w, sizeof(double) * (size_t)nw);
    ir_eval_free(&ev);
}

/* pool_grad.c: the scatter, its sum and the product become one pool_rows_t
 * and its rows [0, 3) and [3, 4) summed over the batch; the same values
 * (f64, sums in another order: within 1e-12), with the relu folded in or
 * not. */
static void test_pool_grad(void)
{
    for (int relu = 0; relu < 2; relu++) {
        pool_grad_graph(relu, true);
        double b0[2], w0[12], b1[2], w1[12];
        eval_pool_grad(b0, w0);
        CU_ASSERT_EQUAL(run(pass_pool_grad), 1);
        CU_ASSERT_EQUAL(run(pass_dce), 2);
        ASSERT_STR(dump(), "%0=input x; %1=input g; %2=input rows; %3=pool_rows_t %0 %1 %2; %4=slice %3; "
                           "%5=sum %4 {1 0}; %6=slice %3; %7=sum %6 {1 0}; %8=reshape %7 [3,2] | db=%5 dw=%8");
        CU_ASSERT_EQUAL(g.nodes[3].a.i[3], relu);
        CU_ASSERT(g.nodes[4].a.i[1] == 3 && g.nodes[4].a.i[2] == 1 && g.nodes[6].a.i[1] == 0 && g.nodes[6].a.i[2] == 3);
        eval_pool_grad(b1, w1);
        for (int k = 0; k < 8; k++) {
            double before = k < 2 ? b0[k] : w0[k - 2], after = k < 2 ? b1[k] : w1[k - 2];
            if (!(fabs(after - before) <= 1e-12 * (1 + fabs(before)))) {
                fprintf(stderr, "pool gradient (relu %d) value %d: %.17g rewritten, %.17g before\n", relu, k, after, before);
                CU_FAIL("the rewritten pooling gradient differs");
            }
        }
        CU_ASSERT(b0[0] != 0 && w0[0] != 0);  /* the inputs reach the outputs */
        CU_ASSERT((b0[1] == 0 && w0[1] == 0) == (relu == 1));  /* channel 1's maxima are negative */
        end();
    }
}

/* pool_conv.c's graph: a 3×3, stride 2, padding 1 pooling's scatter of g
 * (overlapping windows: a pixel can be the maximum of two) over x [B,5,5,2],
 * read as patches by a 3×3 convolution of padding 1 and stride `stride`
 * into 4 channels, and summed too (so the scatter stays). */
static void pool_conv_graph(bool relu, int64_t stride)
{
    begin(IR_F64);
    int x = input("x", (IrShape){4, {IR_BATCH, 5, 5, 2}});
    int gr = input("g", (IrShape){4, {IR_BATCH, 3, 3, 2}});
    int w = input("w", (IrShape){2, {18, 4}});
    int t = ir_add(&g, IR_POOL_MAX_T, (int[]){x, gr}, 2, &(IrAttr){.win = SQWIN(3, 2, 1), .i = {[3] = relu}}, SPAN_NONE);
    int img = raw(IR_RESHAPE, t, (IrAttr){.shape = {4, {IR_BATCH, 5, 5, 2}}});
    int64_t o = stride == 1 ? 5 : 3;
    IrAttr a = {.shape = {3, {IR_BATCH, o * o, 18}}};
    ir_mm_set_patches(&a, IR_MM_PATCHES_A, &(IrWindow)SQWIN(3, stride, 1));
    out("e", ir_add(&g, IR_MATMUL, (int[]){img, w}, 2, &a, SPAN_NONE));
    out("s", ir_reduce(&g, IR_SUM, t, 7, SPAN_NONE));
}

/* Outputs e ([B,25,4] or [B,9,4]) and s at batch 2 for fixed inputs: x with
 * ties and its channel 1 negative (the relu's mask 0), g and w of both signs. */
static int64_t eval_pool_conv(double *e, double *s)
{
    IrEval ev;
    eval_pool_inputs(&ev, 72);
    int64_t ne = 0, ns = 0;
    const double *ev_e = ir_eval_output(&ev, "e", &ne), *ev_s = ir_eval_output(&ev, "s", &ns);
    CU_ASSERT_FATAL(ne <= 200 && ns == 2);
    memcpy(e, ev_e, sizeof(double) * (size_t)ne);
    memcpy(s, ev_s, sizeof(double) * 2);
    ir_eval_free(&ev);
    return ne;
}

/* pool_conv.c: the convolution of the scatter becomes one pool_conv_t of
 * x, g and w's rows channel first; the scatter stays for its sum; the same values (f64, sums in
 * another order: within 1e-12), with the relu folded in or not.  A stride-2
 * convolution stays. */
static void test_pool_conv(void)
{
    for (int relu = 0; relu < 2; relu++) {
        pool_conv_graph(relu, 1);
        double e0[200], s0[2], e1[200], s1[2];
        int64_t n = eval_pool_conv(e0, s0);
        CU_ASSERT_EQUAL(run(pass_pool_conv), 1);
        CU_ASSERT_EQUAL(run(pass_dce), 1);
        ASSERT_STR(dump(), "%0=input x; %1=input g; %2=input w; %3=pool_max_t %0 %1; %4=reshape %2 [9,2,4]; "
                           "%5=permute %4 (1,0,2); %6=reshape %5 [18,4]; %7=pool_conv_t %0 %1 %6; %8=sum %3 {7 0} | e=%7 s=%8");
        IrWindow cw = ir_pool_conv_window(&g.nodes[7]);  /* the convolution's 3x3, stride 1, padding 1 */
        CU_ASSERT(g.nodes[7].a.i[3] == relu && cw.k[0] == 3 && cw.k[1] == 3 && cw.pad[0] == 1 && cw.pad[1] == 1);
        CU_ASSERT_EQUAL(eval_pool_conv(e1, s1), n);
        int nonzero = 0;
        for (int64_t k = 0; k < n; k++) {
            nonzero += e0[k] != 0;
            if (!(fabs(e1[k] - e0[k]) <= 1e-12 * (1 + fabs(e0[k])))) {
                fprintf(stderr, "pool convolution (relu %d) value %lld: %.17g rewritten, %.17g before\n", relu, (long long)k,
                        e1[k], e0[k]);
                CU_FAIL("the rewritten input gradient differs");
            }
        }
        CU_ASSERT(n == 200 && nonzero > 100);  /* the inputs reach the outputs */
        end();
    }
    pool_conv_graph(false, 2);
    CU_ASSERT_EQUAL(run(pass_pool_conv), 0);
    end();
}

/* What stays: a product per example (not lead), the scattered gradient
 * read by something else. */
static void test_pool_grad_keeps(void)
{
    pool_grad_graph(false, false);
    CU_ASSERT_EQUAL(run(pass_pool_grad), 0);
    end();
    int d = pool_grad_graph(false, true);
    out("d", d);
    CU_ASSERT_EQUAL(run(pass_pool_grad), 0);
    end();
}

/* The scatter of pool_grad_graph with rows of T taps made first or (late)
 * after the bias's sum, and that sum or not: the product alone is
 * rewritten (no sum to take); rows made after the sum, which P would have
 * to stand before, leave the graph as it is (a decoy input of rows' shape
 * comes first: a rewrite would find it at the rows' place, as a node not
 * copied yet maps to node 0, and give a wrong gradient); so do k·k·T over
 * pool_rows_t's bound (a 3x3 window, T = 8: 72) and a pool_max_t read by
 * something else too (its scatter would stay, and pool_rows_t be made
 * beside it). */
static void test_pool_grad_sites(void)
{
    static const struct { int T; bool sum, late, t_out; int rewrites; } cases[] = {
        {3, false, false, false, 1}, {3, true, true, false, 0}, {8, true, false, false, 0},
        {7, true, false, false, 1}, {3, true, false, true, 0}};
    for (int k = 0; k < 5; k++) {
        begin(IR_F64);
        int T = cases[k].T;
        IrShape rs = {3, {IR_BATCH, 25, T}};
        if (cases[k].late)
            input("decoy", rs);
        int x = input("x", (IrShape){4, {IR_BATCH, 5, 5, 2}});
        int gr = input("g", (IrShape){4, {IR_BATCH, 3, 3, 2}});
        int rows = cases[k].late ? -1 : input("rows", rs);
        int t = ir_add(&g, IR_POOL_MAX_T, (int[]){x, gr}, 2, &(IrAttr){.win = SQWIN(3, 2, 1)}, SPAN_NONE);
        int d = raw(IR_RESHAPE, t, (IrAttr){.shape = {3, {IR_BATCH, 25, 2}}});
        if (cases[k].sum)
            out("db", ir_reduce(&g, IR_SUM, d, 3, SPAN_NONE));
        if (cases[k].t_out)
            out("t", t);
        if (rows < 0)
            rows = input("rows", rs);
        out("dw", ir_add(&g, IR_MATMUL, (int[]){rows, d}, 2, &(IrAttr){.i = {1, 0, 1}}, SPAN_NONE));
        CU_ASSERT_EQUAL(run(pass_pool_grad), cases[k].rewrites);
        if (k == 0) {
            run(pass_dce);
            ASSERT_STR(dump(), "%0=input x; %1=input g; %2=input rows; %3=pool_rows_t %0 %1 %2; %4=slice %3; "
                               "%5=sum %4 {1 0}; %6=reshape %5 [3,2] | dw=%6");
        }
        end();
    }
}

/* pool_rows_t's kernel unrolls k·k·T values: its shape rule refuses more
 * than IR_POOL_ROWS_T_MAX (a 3x3 window: T = 7 is 63, T = 8 is 72), and
 * pool_grad.c makes none such. */
static void test_pool_rows_t_bound(void)
{
    for (int T = 7; T <= 8; T++) {
        begin(IR_F64);
        int x = input("x", (IrShape){4, {IR_BATCH, 5, 5, 2}});
        int gr = input("g", (IrShape){4, {IR_BATCH, 3, 3, 2}});
        int rows = input("rows", (IrShape){3, {IR_BATCH, 25, T}});
        int p = ir_add(&g, IR_POOL_ROWS_T, (int[]){x, gr, rows}, 3, &(IrAttr){.win = SQWIN(3, 2, 1)}, SPAN_NONE);
        CU_ASSERT_EQUAL(p >= 0, 9 * T <= IR_POOL_ROWS_T_MAX);
        if (p < 0)
            ASSERT_STR(g.error, "pool_rows_t: window kh·kw times taps T is over 64 (IR_POOL_ROWS_T_MAX)");
        end();
    }
}

/* ---- together ---------------------------------------------------------------------------- */

static void test_pipeline(void)
{
    begin(IR_F32);
    int x = input("x", B3), w = param("w", S3);
    int a = bin(IR_MUL, x, cnst(1));
    int b = bin(IR_ADD, x, w);
    int c = bin(IR_ADD, w, a);
    int d = un(IR_NEG, un(IR_NEG, b));
    out("y", bin(IR_MUL, d, c));
    CU_ASSERT_EQUAL(run(pass_simplify), 2);
    ASSERT_STR(dump(), "%0=input x; %1=input w; %2=const 1; %3=add %0 %1; %4=add %1 %0; %5=neg %3; %6=mul %3 %4 | y=%6");
    CU_ASSERT_EQUAL(run(pass_cse), 1);
    CU_ASSERT_EQUAL(run(pass_dce), 2);
    ASSERT_STR(dump(), "%0=input x; %1=input w; %2=add %0 %1; %3=mul %2 %2 | y=%3");
    CU_ASSERT_EQUAL(run(pass_simplify), 0);
    CU_ASSERT_EQUAL(run(pass_cse), 0);
    CU_ASSERT_EQUAL(run(pass_dce), 0);
    end();
}

/* The lines of fr's training step at the fused stage with op `op` (" =
 * matmul "), as --dump-ir=fused prints them (in the arena); a fused
 * node's without its program. */
static const char *fused_lines(FrontRun *fr, const char *op)
{
    NncCompiled c;
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(fr->f.model, &fr->f.src, &fr->f.arena, IR_F32, STAGE_FUSED, 3, &c, &err), 0);
    StrBuf all = {0}, some = {0};
    ir_print(&all, &c.step.L.g);
    for (const char *line = sb_cstr(&all); *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) + 1 : strlen(line);
        const char *at = strstr(line, op);
        if (at && at < line + len)
            sb_printf(&some, "%.*s", (int)len, line);
        line += len;
    }
    const char *text = arena_strdup(&fr->f.arena, sb_cstr(&some));
    sb_free(&all);
    sb_free(&some);
    return text;
}

/* fuse.c's REGION_MAX: a dense layer, then a chain of 200 tanh, trained: the
 * backward chain was one fused node of 799 operations, whose compile grew
 * faster than its length (1000 tanh: 43.6 s); now no fused node has more
 * than 64. */
static void test_fuse_region_max(void)
{
    StrBuf text = {0};
    sb_puts(&text, "model chain {\n    input  x: f32[8]\n    target y: f32[8]\n    h = dense(x, 8)\n");
    for (int i = 0; i < 200; i++)
        sb_puts(&text, "    h = tanh(h)\n");
    sb_puts(&text, "    output h\n    loss mse(h, y)\n}\ntrain {\n    data = csv(\"x.csv\", columns: \"x: 0-7, y: 8-15\")\n"
                   "    optimizer = sgd(lr: 0.1)\n    steps = 1\n}\n");
    FrontRun fr;
    run_text(&fr, sb_cstr(&text));
    sb_free(&text);
    CU_ASSERT_STRING_EQUAL_FATAL(first_error(&fr), "");
    NncCompiled c;
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(fr.f.model, &fr.f.src, &fr.f.arena, IR_F32, STAGE_FUSED, 3, &c, &err), 0);
    const IrGraph *step = &c.step.L.g;
    int regions = 0, most = 0;  /* fused nodes, and the most operations in one (operands not counted) */
    for (int i = 0; i < step->n; i++)
        if (step->nodes[i].op == IR_FUSED) {
            const IrProgram *p = step->nodes[i].a.prog;
            regions++;
            most = p->n - p->nin > most ? p->n - p->nin : most;
        }
    CU_ASSERT(most <= 64);   /* 799 before the bound: the whole backward chain in one */
    CU_ASSERT(regions >= 8); /* 200 tanh and their 200 derivatives, 64 nodes at most a region */
    run_free(&fr);
}

/* passes/pool_conv.c on tests/grad/pool_conv.nn, the model unit.codegen_grad
 * checks pool_conv_t by: the 3x3 convolutions' input gradients through
 * their poolings, b's (padding 1, overlapping windows of 3 at stride 2)
 * and e's (no padding: its output, 10x9 at padding 2, is not its 8x7
 * image), become pool_conv_t; the 7x7 one's (49 taps, over
 * IR_POOL_CONV_T_TAPS_MAX) stays a product of patches. */
static void test_pool_conv_model(void)
{
    FrontRun fr;
    run_file(&fr, NNC_SOURCE_DIR "/tests/grad/pool_conv.nn");
    ASSERT_STR(fused_lines(&fr, " = pool_conv_t "),
               "  %84 = pool_conv_t %34, %58, %83 k 2 stride 2 pad 0 conv k 3 pad 2 : f32[B,90,5] # t.nn:15:18 conv2d\n"
               "  %122 = pool_conv_t %24, %66, %121 k 3 stride 2 pad 1 conv k 3 pad 1 : f32[B,90,5] # t.nn:13:18 conv2d\n");
    CU_ASSERT_PTR_NOT_NULL(strstr(fused_lines(&fr, " = matmul "),
                                  "  %102 = matmul %101, %100 a patches k 7 stride 1 pad 3 : f32[B,90,5] # t.nn:14:23 conv2d\n"));
    run_free(&fr);
}

/* passes/triangle.c on tests/unit/causal.nn: Q·Kᵀ and dO·Vᵀ (%22, %44)
 * may leave C outside the triangle 0, P·V and dS·K (%27, %47) read an A
 * that is 0 past the diagonal, Pᵀ·dO and dSᵀ·Q (%45, %48) an op(A) 0
 * before it; the products of the layers around the attention get nothing.
 * The softmax and its backward (%26, %46) stop their rows at the mask
 * (%25), the layer norms not.  The same model without `causal: true` has
 * no mask: no triangle, and its softmax computes every column. */
static void test_triangle(void)
{
    FrontRun fr;
    run_file(&fr, NNC_SOURCE_DIR "/tests/unit/causal.nn");
    ASSERT_STR(fused_lines(&fr, " = matmul "),
               "  %22 = matmul %15, %18 tb tri_c +0 : f32[B,2,40,40] # t.nn:13:13 attention\n"
               "  %27 = matmul %26, %21 tri_a_lower +0 : f32[B,2,40,16] # t.nn:13:13 attention\n"
               "  %41 = matmul %38, %8 : f32[B,40,32]               # t.nn:13:13 attention\n"
               "  %44 = matmul %43, %21 tb tri_c +0 : f32[B,2,40,40] # t.nn:13 matmul %27: matmul' = g * op(y)^T, op(x)^T * g\n"
               "  %45 = matmul %26, %43 ta tri_a_upper +0 : f32[B,2,40,16] # t.nn:13 matmul %27: matmul' = g * op(y)^T, op(x)^T * g\n"
               "  %47 = matmul %46, %18 tri_a_lower +0 : f32[B,2,40,16] # t.nn:13 matmul %22: matmul' = g * op(y)^T, op(x)^T * g\n"
               "  %48 = matmul %46, %15 ta tri_a_upper +0 : f32[B,2,40,16] # t.nn:13 matmul %22: matmul' = g * op(y)^T, op(x)^T * g\n"
               "  %57 = matmul %54, %4 : f32[B,40,32]               # t.nn:13:13 attention\n"
               "  %62 = matmul %59, %2 : f32[B,40,32]               # t.nn:13:13 attention\n");
    ASSERT_STR(fused_lines(&fr, " = fused_rows "),
               "  %12 = fused_rows %10, %0, %1 \"layer_norm\" : f32[B,40,32] # t.nn:13:23 layer_norm\n"
               "  %26 = fused_rows %22, %25 \"attention\" tri_rows %25 +0 : f32[B,2,40,40] # t.nn:13:13 attention\n"
               "  %46 = fused_rows %44, %26, %25 \"attention backward\" tri_rows %25 +0 : f32[B,2,40,40] # t.nn:13:13 attention\n"
               "  %66 = fused_rows %10, %63 \"layer_norm backward\" : f32[B,40,32] # t.nn:13:23 layer_norm\n");
    run_free(&fr);
    run_text(&fr, "model open {\n"
                  "    input  x: f32[40, 32]\n"
                  "    target y: f32[40, 32]\n"
                  "    h = x + attention(layer_norm(x), heads: 2)\n"
                  "    output h\n"
                  "    loss mse(h, y)\n"
                  "}\n"
                  "train {\n"
                  "    data = npz(\"open.npz\")\n"
                  "    optimizer = sgd(lr: 0.01)\n"
                  "    steps = 1\n"
                  "}\n");
    CU_ASSERT_STRING_EQUAL_FATAL(first_error(&fr), "");
    const char *open = fused_lines(&fr, " = matmul "), *open_rows = fused_lines(&fr, " = fused_rows ");
    CU_ASSERT_PTR_NULL(strstr(open, "tri_"));
    CU_ASSERT_PTR_NOT_NULL(strstr(open, "matmul %15, %18 tb : f32[B,2,40,40]"));
    CU_ASSERT_PTR_NULL(strstr(open_rows, "tri_"));
    CU_ASSERT_PTR_NOT_NULL(strstr(open_rows, "\"attention\" : f32[B,2,40,40]"));
    run_free(&fr);
}

/* A causal softmax of q·kᵀ (causal_softmax, varied by `how`), [B, 4, 4]
 * scores, the mask from key places k[] (0, 1, 2, 3 keeps j <= i), times
 * v; the scores also an output when `scores_out`.  Fused, then
 * triangle.c; returns the number of matmuls with a triangle, *tri the
 * scores', *rows whether P's fused_rows stops at the mask. */
static int causal_graph(const double *keys, bool scores_out, enum CausalHow how, IrMmTri *tri, bool *rows)
{
    static const double places[4] = {0, 1, 2, 3};
    begin(IR_F32);
    IrShape qs = {3, {IR_BATCH, 4, 2}};
    int s = ir_matmul(&g, input("q", qs), input("k", qs), false, true, SPAN_NONE), mask;
    out("p", ir_matmul(&g, causal_softmax(&g, s, 4, places, keys, how, &mask), input("v", qs), false, false, SPAN_NONE));
    if (scores_out)
        out("s", s);
    CU_ASSERT_FATAL(run(pass_fuse) > 0);
    run(pass_triangle);
    int tris = 0;
    *tri = IR_MM_TRI_NONE;
    *rows = false;
    for (int i = 0; i < g.n; i++) {
        const IrNode *n = &g.nodes[i];
        tris += n->op == IR_MATMUL && ir_mm_tri(n) != IR_MM_TRI_NONE;
        if (n->op == IR_MATMUL && ir_mm_tb(n))  /* q·kᵀ */
            *tri = ir_mm_tri(n);
        *rows |= n->op == IR_FUSED_ROWS && ir_rows_tri_mask(n) >= 0;
    }
    end();
    return tris;
}

/* triangle.c decides from the mask's data and from every reader: q·kᵀ gets
 * tri_c and P·V tri_a_lower; with the scores also an output, P·V alone;
 * with key places 0, 2, 1, 3, whose row 1 keeps columns 0 and 2 (no
 * triangle), none.  Values the program makes infinite where masked (the
 * reviews): with exp(−(x − max)), inf/inf = NaN there, and with P·log(P),
 * 0·−inf, q·kᵀ alone; with P·rsqrt(S), whose S a tri_c product would leave
 * 0 there (0·inf), P·V alone; with P·sum(S), P·V alone and no row stop; with
 * exp(x − max)/S, none. */
static void test_triangle_readers(void)
{
    static const double causal[4] = {0, 1, 2, 3}, crossed[4] = {0, 2, 1, 3};
    IrMmTri tri;
    bool rows;
    CU_ASSERT_EQUAL(causal_graph(causal, false, CAUSAL_SOFTMAX, &tri, &rows), 2);
    CU_ASSERT_EQUAL(tri, IR_MM_TRI_C);
    CU_ASSERT(rows);
    CU_ASSERT_EQUAL(causal_graph(causal, true, CAUSAL_SOFTMAX, &tri, &rows), 1);
    CU_ASSERT_EQUAL(tri, IR_MM_TRI_NONE);
    CU_ASSERT_EQUAL(causal_graph(crossed, false, CAUSAL_SOFTMAX, &tri, &rows), 0);
    CU_ASSERT_EQUAL(tri, IR_MM_TRI_NONE);
    CU_ASSERT(!rows);
    for (int how = CAUSAL_NEGATED; how <= CAUSAL_LOG; how++) {
        CU_ASSERT_EQUAL(causal_graph(causal, false, how, &tri, &rows), 1);
        CU_ASSERT_EQUAL(tri, IR_MM_TRI_C);
        CU_ASSERT(rows);  /* NaN or 0·−inf past the mask, but one value a row: computed once */
    }
    CU_ASSERT_EQUAL(causal_graph(causal, false, CAUSAL_RSQRT_S, &tri, &rows), 1);
    CU_ASSERT_EQUAL(tri, IR_MM_TRI_NONE);
    CU_ASSERT(!rows);  /* rsqrt(s) differs from column to column */
    /* P·sum(s): a row sum reads s past the mask (no tri_c), and sums terms
     * that are not 0 there (no stop); P is still 0 there (P·V keeps its) */
    CU_ASSERT_EQUAL(causal_graph(causal, false, CAUSAL_SUM_S, &tri, &rows), 1);
    CU_ASSERT_EQUAL(tri, IR_MM_TRI_NONE);
    CU_ASSERT(!rows);
    /* exp(x − max)/s: 0/s is no 0 where s may be 0 (only a sum of
     * exponentials is taken for positive), and s is read there */
    CU_ASSERT_EQUAL(causal_graph(causal, false, CAUSAL_DIV_S, &tri, &rows), 0);
    CU_ASSERT_EQUAL(tri, IR_MM_TRI_NONE);
    CU_ASSERT(!rows);
    /* exp(x − max)/sum(exp(s)): a sum of exponentials, but not of its
     * numerator's, may be 0 where x's kept entries are not (0/0 past the
     * mask): P is not 0 there, and P·V computes all of it */
    CU_ASSERT_EQUAL(causal_graph(causal, false, CAUSAL_DIV_EXP_S, &tri, &rows), 0);
    CU_ASSERT_EQUAL(tri, IR_MM_TRI_NONE);
    CU_ASSERT(!rows);
}

/* The shape rule takes a rows triangle (ir_rows_tri_mask) on a fused_rows
 * whose mask operand is [T, L] of its rows, whose result is one value a
 * row past the mask, and which skips there only a sum's terms: three
 * fused_rows over s [B, 4, 4] and a mask [4, 4], by hand. */
static void test_rows_triangle_verify(void)
{
    static const double places[4] = {0, 1, 2, 3};
    static const struct {
        int mask;               /* the operand named the mask */
        IrInstr root;           /* after $2 = rmax $0 */
        const char *error;
    } cases[] = {
        {1, {IR_SELECT, 1, 0, 2, 0}, "fused_rows: a rows triangle skips past the mask only the terms of a sum or mean"},
        {1, {IR_SUB, 0, 2, -1, 0}, "fused_rows: a rows triangle's result differs from column to column past the mask"},
        {0, {IR_SELECT, 1, 0, 2, 0}, "fused_rows: a rows triangle needs a mask [T, L] of a fused_rows' rows and an offset >= 0"},
    };
    for (int t = 0; t < 3; t++) {
        begin(IR_F32);
        IrShape ss = {3, {IR_BATCH, 4, 4}};
        int s = input("s", ss);
        IrAttr qa = {.shape = {2, {4, 1}}, .data = places, .name = "query_places"};
        IrAttr ka = {.shape = {1, {4}}, .data = places, .name = "key_places"};
        int mask = bin(IR_GE, ir_add(&g, IR_TENSOR, NULL, 0, &qa, SPAN_NONE), ir_add(&g, IR_TENSOR, NULL, 0, &ka, SPAN_NONE));
        IrInstr code[2] = {{IR_RMAX, 0, -1, -1, 0}, cases[t].root};
        IrProgram prog = {.code = code, .n = 2, .nin = 2};
        IrAttr a = {.prog = &prog, .shape = ss, .i = {4}};
        CU_ASSERT(ir_add(&g, IR_FUSED_ROWS, (int[]){s, mask}, 2, &a, SPAN_NONE) >= 0);  /* without a triangle */
        ir_rows_set_tri(&a, cases[t].mask, 0);
        CU_ASSERT(ir_add(&g, IR_FUSED_ROWS, (int[]){s, mask}, 2, &a, SPAN_NONE) < 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ir_error(&g));
        ASSERT_STR(ir_error(&g), cases[t].error);
        end();
    }
}

/* The rows triangle's two other limits (ir_rows_stop_error, the test
 * passes/triangle.c shares): a result of whole rows, not one value a row
 * (a sum of each row of s [B, 4, 4] as [B, 4, 1], its mask [4, 1]); and a
 * program of at most IR_ROWS_TRI_VALUES_MAX values, the shape rule's
 * buffer (a row's sum then negations: 256 values taken, 257 not). */
static void test_rows_triangle_limits(void)
{
    static const double places[4] = {0, 1, 2, 3};
    begin(IR_F32);
    int s = input("s", (IrShape){3, {IR_BATCH, 4, 4}});
    IrAttr qa = {.shape = {2, {4, 1}}, .data = places, .name = "query_places"};
    IrAttr ka = {.shape = {1, {1}}, .data = places, .name = "key_places"};
    int mask = bin(IR_GE, ir_add(&g, IR_TENSOR, NULL, 0, &qa, SPAN_NONE), ir_add(&g, IR_TENSOR, NULL, 0, &ka, SPAN_NONE));
    IrInstr sum[1] = {{IR_SUM, 0, -1, -1, 0}};
    IrProgram one = {.code = sum, .n = 1, .nin = 2};
    IrAttr a = {.prog = &one, .shape = {3, {IR_BATCH, 4, 1}}, .i = {4}};
    CU_ASSERT(ir_add(&g, IR_FUSED_ROWS, (int[]){s, mask}, 2, &a, SPAN_NONE) >= 0);  /* without a triangle */
    ir_rows_set_tri(&a, 1, 0);
    CU_ASSERT(ir_add(&g, IR_FUSED_ROWS, (int[]){s, mask}, 2, &a, SPAN_NONE) < 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ir_error(&g));
    ASSERT_STR(ir_error(&g), "fused_rows: a rows triangle's result is not whole rows (its last axis the row)");
    end();

    enum { NIN = 2 };
    static IrInstr code[IR_ROWS_TRI_VALUES_MAX + 1 - NIN];
    code[0] = (IrInstr){IR_SUM, 0, -1, -1, 0};
    for (int k = 1; k < IR_ROWS_TRI_VALUES_MAX + 1 - NIN; k++)
        code[k] = (IrInstr){IR_NEG, NIN + k - 1, -1, -1, 0};
    for (int extra = 0; extra <= 1; extra++) {
        begin(IR_F32);
        IrShape ss = {3, {IR_BATCH, 4, 4}};
        s = input("s", ss);
        qa.shape = (IrShape){2, {4, 1}};
        ka.shape = (IrShape){1, {4}};
        mask = bin(IR_GE, ir_add(&g, IR_TENSOR, NULL, 0, &qa, SPAN_NONE), ir_add(&g, IR_TENSOR, NULL, 0, &ka, SPAN_NONE));
        IrProgram prog = {.code = code, .n = IR_ROWS_TRI_VALUES_MAX - NIN + extra, .nin = NIN};
        a = (IrAttr){.prog = &prog, .shape = ss, .i = {4}};
        ir_rows_set_tri(&a, 1, 0);
        int r = ir_add(&g, IR_FUSED_ROWS, (int[]){s, mask}, 2, &a, SPAN_NONE);
        if (!extra) {
            CU_ASSERT(r >= 0);
        } else {
            CU_ASSERT(r < 0);
            CU_ASSERT_PTR_NOT_NULL_FATAL(ir_error(&g));
            ASSERT_STR(ir_error(&g), "fused_rows: a rows triangle's program has over 256 values (IR_ROWS_TRI_VALUES_MAX)");
        }
        end();
    }
}

/* The shape rule takes a triangle (ir_mm_tri) on a plain product of
 * matrices only: on x·W, whose rows fold into one matrix, the codegen's
 * rows would not be a matrix's. */
static void test_triangle_verify(void)
{
    begin(IR_F32);
    int q = input("q", (IrShape){3, {IR_BATCH, 4, 3}});
    int s = ir_matmul(&g, q, input("k", (IrShape){3, {IR_BATCH, 4, 3}}), false, true, SPAN_NONE);
    int f = ir_matmul(&g, q, param("w", (IrShape){2, {3, 5}}), false, false, SPAN_NONE);
    out("s", s);
    out("f", f);
    ir_mm_set_tri(&g.nodes[s].a, IR_MM_TRI_C, 0);
    CU_ASSERT_PTR_NULL(ir_verify(&g));
    ir_mm_set_tri(&g.nodes[f].a, IR_MM_TRI_A_LOWER, 0);
    const char *why = ir_verify(&g);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    ASSERT_STR(why, "node %4 (matmul): a triangle is for a plain matmul of matrices: not lead, folded or patches");
    end();
    /* and when a pass builds such a node (ir_add runs the shape rule on a
     * node whose shape is not known yet: the fold test needs the result's) */
    begin(IR_F32);
    q = input("q", (IrShape){3, {IR_BATCH, 4, 3}});
    int w = param("w", (IrShape){2, {3, 5}});
    IrAttr a = {0};
    ir_mm_set_tri(&a, IR_MM_TRI_A_LOWER, 0);
    CU_ASSERT(ir_add(&g, IR_MATMUL, (int[]){q, w}, 2, &a, SPAN_NONE) < 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ir_error(&g));
    ASSERT_STR(ir_error(&g), "matmul: a triangle is for a plain matmul of matrices: not lead, folded or patches");
    end();
}

static const TestCase tests[] = {
    {"verify: a valid training step", test_verify_valid},
    {"verify: operands and arity", test_verify_operands},
    {"verify: shapes, types, names, provenance", test_verify_shapes},
    {"verify: outputs and updates", test_verify_outputs},
    {"simplify: x*1 1*x x+0 0+x x-0 x/1", test_simplify_identities},
    {"simplify: look-alikes and broadcasting 1s stay", test_simplify_keeps},
    {"simplify: a broadcast 1", test_simplify_broadcast_one},
    {"simplify: x*0", test_simplify_zero},
    {"simplify: neg neg", test_simplify_neg},
    {"simplify: permute of permute", test_simplify_permute},
    {"simplify: reshape of reshape, to the same shape", test_simplify_reshape},
    {"simplify: constant folding", test_simplify_fold},
    {"simplify: stage boundaries and provenance", test_simplify_stages},
    {"simplify: a softmax's gradient from g and p alone", test_simplify_softmax_grad},
    {"simplify: ... as autodiff builds it", test_simplify_softmax_grad_autodiff},
    {"cse: equal nodes, commutative operands", test_cse_merges},
    {"cse: different attributes, inputs, operand order", test_cse_keeps},
    {"cse: random masks stay apart", test_cse_random},
    {"cse: thousands of nodes", test_cse_many},
    {"dce: dead nodes, unused inputs, stages", test_dce},
    {"dce: updates keep their inputs", test_dce_updates},
    {"implicit patches: forward and weight gradient", test_implicit_patches},
    {"implicit patches: all users or none", test_implicit_patches_keeps},
    {"pool relu: the relu and its backward in the pooling", test_pool_relu},
    {"pool relu: other readers, another window or constant", test_pool_relu_keeps},
    {"pool relu: ... as autodiff builds the backward", test_pool_relu_autodiff},
    {"pool gradient: rows of pool_rows_t, the same values", test_pool_grad},
    {"pool gradient: pool_rows_t's bound on k·k·T", test_pool_rows_t_bound},
    {"pool convolution: pool_conv_t of the pooled gradient, the same values", test_pool_conv},
    {"pool gradient: a product per example, another reader", test_pool_grad_keeps},
    {"pool gradient: no sum, rows made late, k·k·T over the bound", test_pool_grad_sites},
    {"simplify, cse, dce together", test_pipeline},
    {"triangle: a causal attention's products, and none without the mask", test_triangle},
    {"triangle: only on a plain product of matrices", test_triangle_verify},
    {"pool_conv: tests/grad/pool_conv.nn's convolutions through their poolings", test_pool_conv_model},
    {"fuse: a chain of 200 tanh in regions of at most 64 nodes", test_fuse_region_max},
    {"triangle: the mask's data and every reader decide", test_triangle_readers},
    {"triangle: a fused_rows stops at a mask of its rows", test_rows_triangle_verify},
    {"triangle: a rows triangle's whole rows and its program's bound", test_rows_triangle_limits},
    {NULL, NULL},
};

void register_passes(void) { add_suite("passes", tests); }
