/* test_plan.c — the memory plan (passes/plan.c) on small graphs built by
 * hand, where every offset is worked out below, and on the training step of
 * examples/mnist_mlp.nn.
 *
 * Sizes: at batch 4 an f32[B,16] is 256 bytes and an f32[B,32] 512, both
 * multiples of the 64-byte alignment, so the arena offsets are easy sums.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/step.h"
#include "passes/passes.h"

static Arena arena;
static IrGraph g;

static void begin(void)
{
    arena_init(&arena);
    ir_init(&g, &arena, NULL, "t", IR_F32);
}

static void end(void) { arena_free(&arena); }

static const IrShape B16 = {2, {IR_BATCH, 16}};
static const IrShape B32 = {2, {IR_BATCH, 32}};

static int input(IrRole role, const char *name, IrType type, IrShape s)
{
    return ir_input(&g, role, name, type, &s, SPAN_NONE);
}
static int un(IrOp op, int x) { return ir_unary(&g, op, x, SPAN_NONE); }
static void out(const char *name, int v) { ir_output(&g, name, v, OUT_PREDICTION, -1); }

static bool check(const IrPlan *p)
{
    const char *why = NULL;
    bool ok = plan_check(&g, p, &why);
    if (!ok)
        fprintf(stderr, "plan_check: %s\n", why);
    return ok;
}

/* x -> relu -> neg -> exp -> tanh, only the last an output:
 *   %1 relu @0    live %1..%2
 *   %2 neg  @256  live %2..%3   (%1 is still read by it)
 *   %3 exp  @0    live %3..%4   (%1 is free from step 3)
 *   %4 tanh @256  live %4..end  (%2 is free from step 4) */
static void chain(void)
{
    int x = input(ROLE_INPUT, "x", IR_F32, B16);
    out("y", un(IR_TANH, un(IR_EXP, un(IR_NEG, un(IR_RELU, x)))));
}

static void test_chain_reuse(void)
{
    begin();
    chain();
    IrPlan *p = plan_memory(&g, 4);
    CU_ASSERT_EQUAL(p->slab[0], SLAB_INPUT);
    static const int64_t want_off[] = {0, 0, 256, 0, 256};
    static const int want_last[] = {1, 2, 3, 4, 5};
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(p->offset[i], want_off[i]);
        CU_ASSERT_EQUAL(p->bytes[i], 256);
        CU_ASSERT_EQUAL(p->first[i], i);
        CU_ASSERT_EQUAL(p->last[i], want_last[i]);
        if (i)
            CU_ASSERT_EQUAL(p->slab[i], SLAB_ACT);
    }
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_ACT], 512);   /* two buffers */
    CU_ASSERT_EQUAL(p->live_sum, 1024);
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_INPUT], 256);
    CU_ASSERT(check(p));
    end();
}

/* The same chain with the first value an output too: it keeps its buffer to
 * the end, so exp cannot reuse it and gets new bytes; tanh takes neg's. */
static void test_outputs_live_to_end(void)
{
    begin();
    int x = input(ROLE_INPUT, "x", IR_F32, B16);
    int a = un(IR_RELU, x);
    out("a", a);
    out("y", un(IR_TANH, un(IR_EXP, un(IR_NEG, a))));
    IrPlan *p = plan_memory(&g, 4);
    CU_ASSERT_EQUAL(p->last[a], g.n);
    static const int64_t want_off[] = {0, 0, 256, 512, 256};
    for (int i = 1; i < 5; i++)
        CU_ASSERT_EQUAL(p->offset[i], want_off[i]);
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_ACT], 768);
    CU_ASSERT_EQUAL(p->live_sum, 1024);
    CU_ASSERT(check(p));
    end();
}

/* Two holes when %7 is placed: [0,512) from %2 and [768,1024) from %4.
 * Best fit takes the 256-byte hole for an f32[B,16], not the first one.
 *   %2 relu x @0     live %2..%6
 *   %3 relu y @512   output
 *   %4 relu y @768   live %4..%5
 *   %5 neg %4 @1024  output
 *   %6 neg %2 @1280  output  (needs 512: the [768,1024) hole is too small)
 *   %7 relu y @768   output */
static void test_best_fit(void)
{
    begin();
    int x = input(ROLE_INPUT, "x", IR_F32, B32);
    int y = input(ROLE_INPUT, "y", IR_F32, B16);
    int p2 = un(IR_RELU, x);
    out("k1", un(IR_RELU, y));
    int q = un(IR_RELU, y);
    out("k2", un(IR_NEG, q));
    out("p", un(IR_NEG, p2));
    out("z", un(IR_RELU, y));
    IrPlan *p = plan_memory(&g, 4);
    /* x and y in the input slab, then the activations */
    static const int64_t want_off[] = {0, 512, 0, 512, 768, 1024, 1280, 768};
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(p->offset[i], want_off[i]);
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_ACT], 1792);
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_INPUT], 768);
    CU_ASSERT(check(p));
    end();
}

/* Reshapes of an activation are views of it, a reshape of a view too:
 *   %1 relu x          @0    owner, live to the end (%5 is an output)
 *   %2 reshape %1      view of %1
 *   %3 exp %1          @256  output
 *   %4 neg %2          @512  output (%1 is still live: %5 reads it later)
 *   %5 reshape %2      view of %1, an output */
static void test_views(void)
{
    begin();
    int x = input(ROLE_INPUT, "x", IR_F32, B16);
    int a = un(IR_RELU, x);
    int v = ir_add(&g, IR_RESHAPE, &a, 1, &(IrAttr){.shape = {3, {IR_BATCH, 4, 4}}}, SPAN_NONE);
    out("e", un(IR_EXP, a));
    out("n", un(IR_NEG, v));
    out("w", ir_add(&g, IR_RESHAPE, &v, 1, &(IrAttr){.shape = B16}, SPAN_NONE));
    CU_ASSERT_PTR_NULL_FATAL(ir_error(&g));
    IrPlan *p = plan_memory(&g, 4);
    static const int64_t want_off[] = {0, 0, 0, 256, 512, 0};
    static const int want_alias[] = {-1, -1, 1, -1, -1, 1};
    for (int i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(p->offset[i], want_off[i]);
        CU_ASSERT_EQUAL(p->alias[i], want_alias[i]);
    }
    CU_ASSERT_EQUAL(p->last[a], g.n);
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_ACT], 768);
    CU_ASSERT_EQUAL(p->live_sum, 768);   /* views have no bytes of their own */
    CU_ASSERT(check(p));

    const char *why = NULL;
    p->offset[2] = 256;   /* a view that is not where its owner is */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%2 is not a view of %1 that the plan can keep");
    p->offset[2] = 0;
    p->last[1] = 4;       /* the owner freed while a view is still read */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%2 is not a view of %1 that the plan can keep");   /* %5 reads %2 */
    end();
}

/* Inputs, targets, parameters, state and the step counter, interleaved in
 * node order; each slab packs its own in that order at multiples of 64. */
static int slabs_graph(void)
{
    int x = input(ROLE_INPUT, "x", IR_F32, (IrShape){2, {IR_BATCH, 10}});
    int w = input(ROLE_PARAM, "w", IR_F32, (IrShape){2, {10, 3}});
    int m = input(ROLE_STATE, "m", IR_F32, (IrShape){2, {10, 3}});
    int t = input(ROLE_TARGET, "t", IR_I32, (IrShape){1, {IR_BATCH}});
    int b = input(ROLE_PARAM, "b", IR_F32, (IrShape){1, {3}});
    input(ROLE_STEP, "step", IR_F32, (IrShape){0, {0}});
    int h = ir_binary(&g, IR_ADD, ir_matmul(&g, x, w, false, false, SPAN_NONE), b, SPAN_NONE);
    out("h", h);
    out("t", t);
    int c = ir_const(&g, 0.5, SPAN_NONE);
    int w2 = ir_binary(&g, IR_SUB, w, ir_binary(&g, IR_MUL, m, c, SPAN_NONE), SPAN_NONE);
    ir_output(&g, "w", w2, OUT_UPDATE, w);
    return c;
}

static void test_fixed_slabs(void)
{
    begin();
    int c = slabs_graph();
    IrPlan *p = plan_memory(&g, 8);
    static const IrSlab want_slab[] = {SLAB_INPUT, SLAB_PARAM, SLAB_STATE, SLAB_INPUT, SLAB_PARAM, SLAB_STATE};
    static const int64_t want_off[] = {0, 0, 0, 320, 128, 128};
    static const int64_t want_bytes[] = {320, 120, 120, 32, 12, 4};
    for (int i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(p->slab[i], want_slab[i]);
        CU_ASSERT_EQUAL(p->offset[i], want_off[i]);
        CU_ASSERT_EQUAL(p->bytes[i], want_bytes[i]);
    }
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_INPUT], 384);   /* 320 + 32, rounded up to 64 */
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_PARAM], 192);   /* 128 + 12 */
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_STATE], 192);   /* 128 + 4 */
    CU_ASSERT_EQUAL(p->slab[c], SLAB_NONE);
    for (int i = 6; i < g.n; i++)
        if (i != c)
            CU_ASSERT_EQUAL(p->slab[i], SLAB_ACT);
    /* the update is an activation that lives to the end (the runtime copies it back) */
    CU_ASSERT_EQUAL(p->last[g.n - 1], g.n);
    CU_ASSERT(check(p));
    end();
}

static void test_batch_scaling(void)
{
    begin();
    slabs_graph();
    IrPlan *one = plan_memory(&g, 1), *big = plan_memory(&g, 64);
    CU_ASSERT_EQUAL(one->bytes[0], 40);
    CU_ASSERT_EQUAL(big->bytes[0], 2560);
    CU_ASSERT_EQUAL(one->bytes[3], 4);
    CU_ASSERT_EQUAL(big->bytes[3], 256);
    CU_ASSERT_EQUAL(one->slab_bytes[SLAB_INPUT], 128);     /* 40 -> 64, + 4 */
    CU_ASSERT_EQUAL(big->slab_bytes[SLAB_INPUT], 2816);    /* 2560 + 256 */
    CU_ASSERT_EQUAL(one->slab_bytes[SLAB_PARAM], big->slab_bytes[SLAB_PARAM]);
    CU_ASSERT_EQUAL(one->slab_bytes[SLAB_STATE], big->slab_bytes[SLAB_STATE]);
    int mm = 6;   /* matmul: f32[B,3] */
    CU_ASSERT_EQUAL(one->bytes[mm], 12);
    CU_ASSERT_EQUAL(big->bytes[mm], 768);
    CU_ASSERT_EQUAL(big->bytes[g.n - 1], 120);   /* the update is not batched */
    CU_ASSERT(check(one));
    CU_ASSERT(check(big));
    end();

    begin();
    chain();
    IrPlan *p = plan_memory(&g, 64);
    CU_ASSERT_EQUAL(p->bytes[1], 4096);
    CU_ASSERT_EQUAL(p->offset[2], 4096);
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_ACT], 8192);
    end();
}

static void test_check_catches(void)
{
    begin();
    chain();
    IrPlan *p = plan_memory(&g, 4);
    const char *why = "unset";
    CU_ASSERT(plan_check(&g, p, &why));
    CU_ASSERT_PTR_NULL(why);

    p->offset[3] = 256;   /* exp onto neg, which exp reads */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%2 and %3 share bytes 256..512 of the activation arena while both are live (%2..%3 and %3..%4)");
    p->offset[3] = 0;

    p->offset[3] = 64;   /* half over relu (dead), half over neg (live) */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%2 and %3 share bytes 256..320 of the activation arena while both are live (%2..%3 and %3..%4)");
    p->offset[3] = 0;

    p->last[1] = 1;   /* relu freed before neg reads it */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%1 is live %1..%1 in the plan, but read until %2");
    p->last[1] = 2;

    p->offset[4] = 320;   /* past the end of the arena */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%4 at 320 +256 is outside the act slab of 512 bytes");
    p->offset[4] = 256;

    p->offset[4] = 32;
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%4 at 32 is not aligned to 64 bytes");
    p->offset[4] = 256;

    p->bytes[2] = 128;
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%2 has 128 bytes, but its shape needs 256 at batch 4");
    p->bytes[2] = 256;

    p->slab[0] = SLAB_PARAM;
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%0 is in slab param, not input");
    p->slab[0] = SLAB_INPUT;

    CU_ASSERT(plan_check(&g, p, NULL));
    end();

    begin();
    slabs_graph();
    p = plan_memory(&g, 8);
    p->offset[4] = 64;   /* b over w */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%4 at 64 overlaps the tensor before it in the param slab");
    end();
}

static void test_print(void)
{
    begin();
    chain();
    IrPlan *p = plan_memory(&g, 4);
    StrBuf sb = {0};
    plan_print(&sb, &g, p);
    ASSERT_STR(sb_cstr(&sb),
               "plan for batch 4\n"
               "  %0 = input x : f32[B,16]  input  @0    +256\n"
               "  %1 = relu    : f32[B,16]  act    @0    +256  live %1..%2\n"
               "  %2 = neg     : f32[B,16]  act    @256  +256  live %2..%3\n"
               "  %3 = exp     : f32[B,16]  act    @0    +256  live %3..%4\n"
               "  %4 = tanh    : f32[B,16]  act    @256  +256  live %4..end\n"
               "slabs: input 256 bytes, param 0 bytes, state 0 bytes\n"
               "activations: peak 512 bytes (0.5 KiB) for 1024 bytes of tensors; reuse saves 50.0%\n"
               "the most live at one step: 512 bytes; the peak is 0.0% above it\n");
    sb_free(&sb);
    end();
}

/* The training step of examples/mnist_mlp.nn (as --dump-ir=grad prints it)
 * at batch 64. */
static void test_mnist(void)
{
    FILE *f = fopen(NNC_SOURCE_DIR "/examples/mnist_mlp.nn", "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char text[8192];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    FrontRun r;
    run_text(&r, text);
    CU_ASSERT_EQUAL_FATAL(r.status, NNC_OK);
    NncStep step;
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_build_step(r.f.model, &r.f.src, &r.f.arena, IR_F32, STEP_TRAIN, true, &step, &err),
                          0);
    const IrGraph *sg = &step.L.g;
    IrPlan *p = plan_memory(sg, 64);
    const char *why = NULL;
    CU_ASSERT(plan_check(sg, p, &why));
    if (why)
        fprintf(stderr, "plan_check: %s\n", why);

    /* 784*128 + 128 + 128*10 + 10 floats; the 10 biases round up to 64 bytes */
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_PARAM], 401408 + 512 + 5120 + 64);
    /* 64 images of 784 floats and 64 labels */
    CU_ASSERT_EQUAL(p->slab_bytes[SLAB_INPUT], 200704 + 256);

    /* No plan does better than the most bytes live at one step; reuse must
     * beat no reuse. */
    int64_t most = 0;
    for (int t = 0; t < sg->n; t++) {
        int64_t live = 0;
        for (int i = 0; i <= t; i++)
            if (p->slab[i] == SLAB_ACT && p->alias[i] < 0 && p->last[i] >= t)
                live += (p->bytes[i] + 63) / 64 * 64;
        most = live > most ? live : most;
    }
    int64_t peak = p->slab_bytes[SLAB_ACT];
    CU_ASSERT(peak >= most);
    CU_ASSERT(peak < p->live_sum);

    /* deterministic: the same graph, the same plan */
    IrPlan *again = plan_memory(sg, 64);
    CU_ASSERT_EQUAL(memcmp(p->offset, again->offset, sizeof *p->offset * (size_t)sg->n), 0);
    CU_ASSERT_EQUAL(memcmp(p->slab_bytes, again->slab_bytes, sizeof p->slab_bytes), 0);
    CU_ASSERT_EQUAL(again->live_sum, p->live_sum);
    run_free(&r);
}

static const TestCase tests[] = {
    {"a chain reuses two buffers", test_chain_reuse},
    {"outputs live to the end", test_outputs_live_to_end},
    {"best fit picks the smallest hole", test_best_fit},
    {"reshapes are views of their operand", test_views},
    {"inputs, params and state packed and aligned", test_fixed_slabs},
    {"bytes scale with the batch", test_batch_scaling},
    {"plan_check catches corrupted plans", test_check_catches},
    {"the printed plan", test_print},
    {"mnist_mlp's training step", test_mnist},
    {NULL, NULL},
};

void register_plan(void) { add_suite("plan", tests); }
