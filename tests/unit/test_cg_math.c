/* test_cg_math.c — the f32 exp, erf and tanh that generated code computes
 * inline (codegen/cg_math.c) against libm in double precision.
 *
 * Each function runs as a JIT-compiled elementwise kernel (vectorized, as in
 * a model) over a dense sweep of its interesting range, a few more points
 * (branch boundaries, tiny arguments) and a list of special values.  The
 * error of each result is measured in ulps of the correctly rounded f32
 * value; the largest must stay within the bound the function's comment in
 * cg_math.c promises, and special values (±0, ±∞, NaN, results at and past
 * overflow and underflow) must come out exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "jit_harness.h"
#include "passes/pipeline.h"

enum { SWEEP = 100000 };

typedef struct Fn {
    const char *name;
    IrOp        op;
    double (*ref)(double);
    double      lo, hi;     /* the sweep */
    double      max_ulp;    /* the bound */
} Fn;

static double sigmoid_ref(double x) { return 1 / (1 + exp(-x)); }

/* The distance between want and got in units of the f32 spacing at want. */
static double ulps(float want, float got)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got) ? 0 : INFINITY;
    if (want == got)
        return 0;
    float a = fabsf(want);
    double spacing = isinf(a) ? INFINITY : (double)nextafterf(a, INFINITY) - (double)a;
    return fabs((double)got - (double)want) / spacing;
}

/* y = op(x) compiled and run over xs; results in ys. */
static void run(IrOp op, const float *xs, float *ys, int64_t n)
{
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    ir_init(&g, &arena, NULL, "math", IR_F32);
    IrShape shape = {1, {IR_BATCH}};
    int x = ir_input(&g, ROLE_INPUT, "x", IR_F32, &shape, SPAN_NONE);
    ir_output(&g, "y", ir_unary(&g, op, x, SPAN_NONE), OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(&g));
    IrPlan *plan = plan_memory(&g, n);
    JitEntry entry = jit_compile(&g, plan);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
    IrEval ev;
    ir_eval_init(&ev, &g, n);
    double *v = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = xs[i];
    ir_eval_set(&ev, x, v);
    JitRun r;
    jit_run(&r, entry, &g, plan, &ev, NULL);
    const IrNode *y;
    memcpy(ys, jit_output(&r, &g, plan, &g.outs[0], &y), sizeof(float) * (size_t)n);
    jit_run_free(&r);
    ir_eval_free(&ev);
    free(v);
    arena_free(&arena);
}

#define COUNT(a) (int)(sizeof(a) / sizeof *(a))

/* The sweep and the points in also[] within the bound, special[] exact. */
static void check(const Fn *f, const float *also, int nalso, const float *special, int nspecial)
{
    int64_t first_special = SWEEP + nalso, n = first_special + nspecial;
    float *xs = malloc(sizeof(float) * (size_t)n), *ys = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < SWEEP; i++)
        xs[i] = (float)(f->lo + (f->hi - f->lo) * (double)i / (SWEEP - 1));
    memcpy(xs + SWEEP, also, sizeof(float) * (size_t)nalso);
    memcpy(xs + first_special, special, sizeof(float) * (size_t)nspecial);
    run(f->op, xs, ys, n);
    double worst = 0;
    float worst_x = 0;
    for (int64_t i = 0; i < n; i++) {
        float want = (float)f->ref((double)xs[i]);
        double u = ulps(want, ys[i]);
        if (i >= first_special && u != 0) {
            fprintf(stderr, "%s(%a) = %a, libm %a\n", f->name, (double)xs[i], (double)ys[i], (double)want);
            CU_FAIL("a special value is not exact");
        }
        if (!(u <= worst))   /* a NaN error (a finite result where libm overflows) counts as the worst */
            worst = u, worst_x = xs[i];
    }
    fprintf(stderr, "%s over [%g, %g]: worst %.2f ulp at %.9g (bound %.0f)\n", f->name, f->lo, f->hi, worst,
            (double)worst_x, f->max_ulp);
    CU_ASSERT(worst <= f->max_ulp);
    free(xs);
    free(ys);
}

static void test_exp(void)
{
    /* near the largest finite result; results in the subnormal range */
    float also[] = {1.0f, 88.7f, 88.72f, -87.0f, -95.0f, -100.0f, -103.0f, 1e-30f, -1e-30f};
    /* overflow, underflow, the identities */
    float special[] = {0.0f, -0.0f, 88.73f, 89.5f, -104.5f, -200.0f, INFINITY, -INFINITY, NAN};
    check(&(Fn){"exp", IR_EXP, exp, -104, 89, 2}, also, COUNT(also), special, COUNT(special));
}

static void test_erf(void)
{
    float also[] = {1.0f, -1.0f, 0.99999994f, 1e-30f, -1e-30f, 1e-40f};
    float special[] = {0.0f, -0.0f, 4.0f, 10.0f, -10.0f, INFINITY, -INFINITY, NAN};
    check(&(Fn){"erf", IR_ERF, erf, -6, 6, 3}, also, COUNT(also), special, COUNT(special));
}

static void test_tanh(void)
{
    float also[] = {0.625f, -0.625f, 0.62499994f, 1e-30f, -1e-30f, 1e-40f};
    float special[] = {0.0f, -0.0f, 20.0f, -20.0f, 100.0f, INFINITY, -INFINITY, NAN};
    check(&(Fn){"tanh", IR_TANH, tanh, -10, 10, 3}, also, COUNT(also), special, COUNT(special));
}

/* sigmoid is built on exp: 1/(1+e^-|x|) and its mirror */
static void test_sigmoid(void)
{
    float also[] = {-100.0f, -103.0f};
    float special[] = {0.0f, 50.0f, 100.0f, -110.0f, INFINITY, -INFINITY, NAN};
    check(&(Fn){"sigmoid", IR_SIGMOID, sigmoid_ref, -90, 30, 4}, also, COUNT(also), special, COUNT(special));
}

/* GELU's derivative, Φ(x) + x·φ(x), needs erf(z) and e^(−z²) of the same
 * z = x/√2: erf's tail builds its e^(−z·z) from the same expression, so the
 * fused kernel computes one exponential, one rounding (vrndscale) per
 * element.  Two is what it took before (the backward kernel, body34, took
 * 0.74-0.77 of its samples with one: bench/README, session 30, gpt stream).
 * The kernel holds the element's code more than once (a zmm loop, a ymm
 * epilogue, a scalar remainder, as the vectorizer chooses): each copy has
 * one division (erf's t), so roundings must equal divisions. */
static void test_erf_shares_exp(void)
{
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    ir_init(&g, &arena, NULL, "gelu_grad", IR_F32);
    IrShape shape = {2, {IR_BATCH, 512}};
    int x = ir_input(&g, ROLE_INPUT, "x", IR_F32, &shape, SPAN_NONE);
    int z2 = ir_unary(&g, IR_NEG, ir_binary(&g, IR_MUL, x, x, SPAN_NONE), SPAN_NONE);
    int y = ir_binary(&g, IR_ADD, ir_unary(&g, IR_ERF, x, SPAN_NONE), ir_unary(&g, IR_EXP, z2, SPAN_NONE), SPAN_NONE);
    ir_output(&g, "y", y, OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(&g));
    pass_fuse(&g);
    CU_ASSERT_PTR_NULL_FATAL(ir_verify(&g));
    int counts[2];  /* roundings, divisions */
    jit_asm_count(&g, plan_memory(&g, 64), "body0.fused", (const char *[]){"vrndscale", "vdiv"}, counts, 2);
    int rounds = counts[0], divs = counts[1];
    if (rounds != divs || divs == 0)
        fprintf(stderr, "erf(x) + exp(-x*x): %d roundings in the kernel for %d divisions\n", rounds, divs);
    CU_ASSERT(divs > 0);
    CU_ASSERT_EQUAL(rounds, divs);
    arena_free(&arena);
}

static const TestCase tests[] = {
    {"exp is within 2 ulp of libm, edges exact", test_exp},
    {"erf is within 3 ulp of libm, edges exact", test_erf},
    {"tanh is within 3 ulp of libm, edges exact", test_tanh},
    {"sigmoid is within 4 ulp of libm, edges exact", test_sigmoid},
    {"erf(x) and exp(-x*x) in one kernel compute one exponential", test_erf_shares_exp},
    {NULL, NULL},
};

void register_cg_math(void) { add_suite("cg_math", tests); }
