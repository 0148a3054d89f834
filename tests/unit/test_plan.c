/* test_plan.c — the memory plan (passes/plan.c) on small graphs built by
 * hand, where every offset is worked out below, and on the training step of
 * examples/mnist_mlp.nn.
 *
 * Sizes and offsets are linear in the batch, fixed + per_ex·B̂ (B̂ the batch
 * rounded up to 16): an f32[B,16] is 64 bytes per example and an f32[B,32]
 * 128, so the per-example offsets are easy sums.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/ir_internal.h"  /* ir_counter */
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

/* x is fixed + per_ex·B̂, exactly. */
#define ASSERT_BYTES(x, f, e)                          \
    do {                                               \
        IrBytes x_ = (x);                              \
        CU_ASSERT_EQUAL(x_.fixed, (f));                \
        CU_ASSERT_EQUAL(x_.per_ex, (e));               \
    } while (0)

static bool check(const IrPlan *p)
{
    const char *why = NULL;
    bool ok = plan_check(&g, p, &why);
    if (!ok)
        fprintf(stderr, "plan_check: %s\n", why);
    return ok;
}

/* x -> relu -> neg -> exp -> tanh, only the last an output (offsets per example):
 *   %1 relu @0    live %1..%2
 *   %2 neg  @64   live %2..%3   (%1 is still read by it)
 *   %3 exp  @0    live %3..%4   (%1 is free from step 3)
 *   %4 tanh @64   live %4..end  (%2 is free from step 4) */
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
    static const int64_t want_off[] = {0, 0, 64, 0, 64};
    static const int want_last[] = {1, 2, 3, 4, 5};
    for (int i = 0; i < 5; i++) {
        ASSERT_BYTES(p->offset[i], 0, want_off[i]);
        ASSERT_BYTES(p->bytes[i], 0, 64);
        CU_ASSERT_EQUAL(p->first[i], i);
        CU_ASSERT_EQUAL(p->last[i], want_last[i]);
        if (i)
            CU_ASSERT_EQUAL(p->slab[i], SLAB_ACT);
    }
    ASSERT_BYTES(p->slab_bytes[SLAB_ACT], 0, 128);   /* two buffers */
    ASSERT_BYTES(p->live_sum, 0, 256);
    ASSERT_BYTES(p->slab_bytes[SLAB_INPUT], 0, 64);
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
    static const int64_t want_off[] = {0, 0, 64, 128, 64};
    for (int i = 1; i < 5; i++)
        ASSERT_BYTES(p->offset[i], 0, want_off[i]);
    ASSERT_BYTES(p->slab_bytes[SLAB_ACT], 0, 192);
    ASSERT_BYTES(p->live_sum, 0, 256);
    CU_ASSERT(check(p));
    end();
}

/* Two holes when %7 is placed (per example): [0,128) from %2 and [192,256)
 * from %4.  Best fit takes the 64-byte hole for an f32[B,16], not the first.
 *   %2 relu x @0     live %2..%6
 *   %3 relu y @128   output
 *   %4 relu y @192   live %4..%5
 *   %5 neg %4 @256   output
 *   %6 neg %2 @320   output  (needs 128: the [192,256) hole is too small)
 *   %7 relu y @192   output */
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
    static const int64_t want_off[] = {0, 128, 0, 128, 192, 256, 320, 192};
    for (int i = 0; i < 8; i++)
        ASSERT_BYTES(p->offset[i], 0, want_off[i]);
    ASSERT_BYTES(p->slab_bytes[SLAB_ACT], 0, 448);
    ASSERT_BYTES(p->slab_bytes[SLAB_INPUT], 0, 192);
    CU_ASSERT(check(p));
    end();
}

/* Reshapes of an activation are views of it, a reshape of a view too:
 *   %1 relu x          @0    owner, live to the end (%5 is an output)
 *   %2 reshape %1      view of %1
 *   %3 exp %1          @64   output
 *   %4 neg %2          @128  output (%1 is still live: %5 reads it later)
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
    static const int64_t want_off[] = {0, 0, 0, 64, 128, 0};
    static const int want_alias[] = {-1, -1, 1, -1, -1, 1};
    for (int i = 0; i < 6; i++) {
        ASSERT_BYTES(p->offset[i], 0, want_off[i]);
        CU_ASSERT_EQUAL(p->alias[i], want_alias[i]);
    }
    CU_ASSERT_EQUAL(p->last[a], g.n);
    ASSERT_BYTES(p->slab_bytes[SLAB_ACT], 0, 192);
    ASSERT_BYTES(p->live_sum, 0, 192);   /* views have no bytes of their own */
    CU_ASSERT(check(p));

    const char *why = NULL;
    p->offset[2].per_ex = 64;   /* a view that is not where its owner is */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%2 is not a view of %1 that the plan can keep");
    p->offset[2].per_ex = 0;
    p->last[1] = 4;       /* the owner freed while a view is still read */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%2 is not a view of %1 that the plan can keep");   /* %5 reads %2 */
    end();
}

/* Inputs, targets, parameters, state and the step counter, interleaved in
 * node order; each slab packs its own in that order, fixed sizes at
 * multiples of 64, sizes per example at multiples of 4. */
static int slabs_graph(void)
{
    int x = input(ROLE_INPUT, "x", IR_F32, (IrShape){2, {IR_BATCH, 10}});
    int w = input(ROLE_PARAM, "w", IR_F32, (IrShape){2, {10, 3}});
    int m = input(ROLE_STATE, "m", IR_F32, (IrShape){2, {10, 3}});
    int t = input(ROLE_TARGET, "t", IR_I32, (IrShape){1, {IR_BATCH}});
    int b = input(ROLE_PARAM, "b", IR_F32, (IrShape){1, {3}});
    ir_counter(&g, RT_COUNTER_STEP);
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
    static const IrBytes want_off[] = {{0, 0}, {0, 0}, {0, 0}, {0, 40}, {128, 0}, {128, 0}};
    static const IrBytes want_bytes[] = {{0, 40}, {120, 0}, {120, 0}, {0, 4}, {12, 0}, {4, 0}};
    for (int i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(p->slab[i], want_slab[i]);
        ASSERT_BYTES(p->offset[i], want_off[i].fixed, want_off[i].per_ex);
        ASSERT_BYTES(p->bytes[i], want_bytes[i].fixed, want_bytes[i].per_ex);
    }
    ASSERT_BYTES(p->slab_bytes[SLAB_INPUT], 0, 44);   /* 40 + 4 per example */
    ASSERT_BYTES(p->slab_bytes[SLAB_PARAM], 192, 0);  /* 128 + 12, rounded up to 64 */
    ASSERT_BYTES(p->slab_bytes[SLAB_STATE], 192, 0);  /* 128 + 4 */
    CU_ASSERT_EQUAL(p->slab[c], SLAB_NONE);
    for (int i = 6; i < g.n; i++)
        if (i != c)
            CU_ASSERT_EQUAL(p->slab[i], SLAB_ACT);
    /* the update is an activation that lives to the end (the runtime copies it back) */
    CU_ASSERT_EQUAL(p->last[g.n - 1], g.n);
    CU_ASSERT(check(p));
    end();
}

/* The activations of slabs_graph, per example: x·w @0 and + b @12 (12
 * bytes each; x·w is read by + b, so they cannot share).  Then m·c, fixed
 * (120 bytes): x·w's 12 bytes per example are free again, and 4 of them
 * hold 120 bytes at any B̂ >= 64 (the floor, the planned batch), so m·c goes
 * there rather than into a fixed region; so does the update w - m·c, into
 * the next 4.  At batch 8, with B̂ >= 16, they would need 8 bytes per
 * example each: m·c still fits, the update does not, and takes the fixed
 * region's first 128 bytes. */
static void test_regions(void)
{
    begin();
    slabs_graph();
    IrPlan *p = plan_memory(&g, 64);
    int mm = 6, add = 7, mul = g.n - 2, upd = g.n - 1;
    ASSERT_BYTES(p->bytes[mm], 0, 12);
    ASSERT_BYTES(p->offset[mm], 0, 0);
    ASSERT_BYTES(p->offset[add], 0, 12);
    ASSERT_BYTES(p->bytes[mul], 120, 0);
    ASSERT_BYTES(p->offset[mul], 0, 0);
    ASSERT_BYTES(p->offset[upd], 0, 4);
    ASSERT_BYTES(p->slab_bytes[SLAB_ACT], 0, 24);
    CU_ASSERT(check(p));

    p = plan_memory(&g, 8);
    ASSERT_BYTES(p->offset[mm], 128, 0);
    ASSERT_BYTES(p->offset[add], 128, 12);
    ASSERT_BYTES(p->offset[mul], 128, 0);
    ASSERT_BYTES(p->offset[upd], 0, 0);
    ASSERT_BYTES(p->slab_bytes[SLAB_ACT], 128, 24);
    CU_ASSERT(check(p));
    end();
}

/* One plan for every batch: each tensor 64-byte aligned at any batch, and
 * the slabs as large as the batch needs, but never smaller than the
 * planned batch's. */
static void test_any_batch(void)
{
    begin();
    slabs_graph();
    IrPlan *p = plan_memory(&g, 8);
    static const int64_t batches[] = {1, 2, 15, 16, 17, 64, 1000};
    for (size_t k = 0; k < sizeof batches / sizeof *batches; k++) {
        int64_t b = batches[k];
        for (int i = 0; i < g.n; i++)
            if (p->slab[i] != SLAB_NONE)
                CU_ASSERT_EQUAL(plan_at(p, p->offset[i], b) % 64, 0);
    }
    CU_ASSERT_EQUAL(plan_at(p, p->slab_bytes[SLAB_INPUT], 1), 44 * 16);      /* B̂ = 16 */
    CU_ASSERT_EQUAL(plan_at(p, p->slab_bytes[SLAB_INPUT], 64), 44 * 64);
    CU_ASSERT_EQUAL(plan_at(p, p->slab_bytes[SLAB_INPUT], 65), 44 * 80);
    CU_ASSERT_EQUAL(plan_at(p, p->slab_bytes[SLAB_PARAM], 1), plan_at(p, p->slab_bytes[SLAB_PARAM], 1000));
    end();

    begin();
    chain();
    p = plan_memory(&g, 64);
    CU_ASSERT_EQUAL(plan_at(p, p->offset[2], 64), 4096);
    CU_ASSERT_EQUAL(plan_at(p, p->slab_bytes[SLAB_ACT], 64), 8192);
    CU_ASSERT_EQUAL(plan_at(p, p->slab_bytes[SLAB_ACT], 3), 8192);   /* never below the planned batch */
    CU_ASSERT_EQUAL(plan_at(p, p->slab_bytes[SLAB_ACT], 65), 10240);
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

    p->offset[3].per_ex = 64;   /* exp onto neg, which exp reads */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%2 and %3 share bytes 1024..2048 of the activation arena at batch 16 while both are live "
                    "(%2..%3 and %3..%4)");
    p->offset[3].per_ex = 16;   /* partly over relu (dead), partly over neg (live) */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%2 and %3 share bytes 1024..1280 of the activation arena at batch 16 while both are live "
                    "(%2..%3 and %3..%4)");
    p->offset[3].per_ex = 0;

    /* Apart at batch 16, together from batch 32 on: exp at a fixed 2048,
     * neg at 64·B̂ (the arena made large enough for both). */
    p->offset[3] = (IrBytes){2048, 0};
    p->slab_bytes[SLAB_ACT] = (IrBytes){2048, 128};
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%2 and %3 share bytes 2048..4096 of the activation arena at batch 32 while both are live "
                    "(%2..%3 and %3..%4)");
    p->offset[3] = (IrBytes){0, 0};
    p->slab_bytes[SLAB_ACT] = (IrBytes){0, 128};

    p->last[1] = 1;   /* relu freed before neg reads it */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%1 is live %1..%1 in the plan, but read until %2");
    p->last[1] = 2;

    p->offset[4].per_ex = 80;   /* past the end of the arena */
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%4 at 80*B +64*B is outside the act slab of 128*B bytes");
    p->offset[4].per_ex = 64;

    p->offset[4] = (IrBytes){32, 64};
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%4 at 32+64*B is not aligned to 64 bytes (4 per example)");
    p->offset[4] = (IrBytes){0, 62};
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%4 at 62*B is not aligned to 64 bytes (4 per example)");
    p->offset[4] = (IrBytes){0, 64};

    p->bytes[2].per_ex = 32;
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%2 has 32*B bytes, but its shape needs 64*B");
    p->bytes[2].per_ex = 64;

    p->slab[0] = SLAB_PARAM;
    CU_ASSERT_FALSE(plan_check(&g, p, &why));
    ASSERT_STR(why, "%0 is in slab param, not input");
    p->slab[0] = SLAB_INPUT;

    CU_ASSERT(plan_check(&g, p, NULL));
    end();

    begin();
    slabs_graph();
    p = plan_memory(&g, 8);
    p->offset[4].fixed = 64;   /* b over w */
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
               "plan: offsets and sizes in bytes; B = the batch rounded up to a multiple of 16, at least 16\n"
               "  %0 = input x : f32[B,16]  input  @0     +64*B\n"
               "  %1 = relu    : f32[B,16]  act    @0     +64*B  live %1..%2\n"
               "  %2 = neg     : f32[B,16]  act    @64*B  +64*B  live %2..%3\n"
               "  %3 = exp     : f32[B,16]  act    @0     +64*B  live %3..%4\n"
               "  %4 = tanh    : f32[B,16]  act    @64*B  +64*B  live %4..end\n"
               "slabs: input 64*B bytes, param 0 bytes, state 0 bytes\n"
               "activations: 128*B bytes; at batch 4 the peak is 2048 bytes (2.0 KiB) for 4096 bytes of tensors; "
               "reuse saves 50.0%\n"
               "the most live at one step at batch 4: 2048 bytes; the peak is 0.0% above it\n");
    sb_free(&sb);
    end();
}

/* The training step of examples/mnist_mlp.nn (as --dump-ir=grad prints it)
 * at batch 64. */
static void test_mnist(void)
{
    FrontRun r;
    run_file(&r, NNC_SOURCE_DIR "/examples/mnist_mlp.nn");
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
    ASSERT_BYTES(p->slab_bytes[SLAB_PARAM], 401408 + 512 + 5120 + 64, 0);
    /* per example, an image of 784 floats and a label */
    ASSERT_BYTES(p->slab_bytes[SLAB_INPUT], 0, 3136 + 4);

    /* No plan does better than the most bytes live at one step; reuse must
     * beat no reuse. */
    int64_t most = 0;
    for (int t = 0; t < sg->n; t++) {
        int64_t live = 0;
        for (int i = 0; i <= t; i++)
            if (p->slab[i] == SLAB_ACT && p->alias[i] < 0 && p->last[i] >= t)
                live += plan_at(p, p->bytes[i], 64);
        most = live > most ? live : most;
    }
    int64_t peak = plan_at(p, p->slab_bytes[SLAB_ACT], 64);
    CU_ASSERT(peak >= most);
    CU_ASSERT(peak < plan_at(p, p->live_sum, 64));

    /* deterministic: the same graph, the same plan */
    IrPlan *again = plan_memory(sg, 64);
    CU_ASSERT_EQUAL(memcmp(p->offset, again->offset, sizeof *p->offset * (size_t)sg->n), 0);
    CU_ASSERT_EQUAL(memcmp(p->slab_bytes, again->slab_bytes, sizeof p->slab_bytes), 0);
    CU_ASSERT_EQUAL(memcmp(&again->live_sum, &p->live_sum, sizeof p->live_sum), 0);
    run_free(&r);
}

static const TestCase tests[] = {
    {"a chain reuses two buffers", test_chain_reuse},
    {"outputs live to the end", test_outputs_live_to_end},
    {"best fit picks the smallest hole", test_best_fit},
    {"reshapes are views of their operand", test_views},
    {"inputs, params and state packed and aligned", test_fixed_slabs},
    {"fixed and per-example regions", test_regions},
    {"one plan serves every batch", test_any_batch},
    {"plan_check catches corrupted plans", test_check_catches},
    {"the printed plan", test_print},
    {"mnist_mlp's training step", test_mnist},
    {NULL, NULL},
};

void register_plan(void) { add_suite("plan", tests); }
