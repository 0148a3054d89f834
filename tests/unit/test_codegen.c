/* test_codegen.c — generated code computes what the reference interpreter
 * computes.
 *
 * For each example the training step is compiled to the plan stage,
 * JIT-compiled, and run on the same parameters, batch and optimizer state
 * as the interpreter: every output (loss, metrics, prediction) and every
 * updated parameter and state must agree, within 1e-5 relative in f32 and
 * 1e-12 in f64.  The same step on 1 and on 2 threads must agree bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cg.h"
#include "harness.h"
#include "ir/gradcheck.h"
#include "ir/interp.h"
#include "nnc_runtime.h"
#include "passes/passes.h"
#include "passes/pipeline.h"

static CgJit *jit;

static void put(uint8_t *dst, const IrNode *n, const double *v, int64_t len)
{
    for (int64_t e = 0; e < len; e++) {
        if (n->type == IR_F32)
            ((float *)dst)[e] = (float)v[e];
        else if (n->type == IR_F64)
            ((double *)dst)[e] = v[e];
        else
            ((int32_t *)dst)[e] = (int32_t)v[e];
    }
}

static double get(const uint8_t *src, const IrNode *n, int64_t e)
{
    return n->type == IR_F32 ? ((const float *)src)[e] : n->type == IR_F64 ? ((const double *)src)[e]
                                                        : ((const int32_t *)src)[e];
}

typedef struct Run {
    uint8_t *slab[5];
    RtCtx    ctx;
} Run;

/* Runs the JIT-compiled entry on the interpreter's inputs. */
static void run_jit(Run *r, void (*entry)(RtCtx *), const IrGraph *g, const IrPlan *p, const IrEval *ev, RtPool *pool)
{
    for (int s = RT_SLAB_INPUT; s <= RT_SLAB_ACT; s++)
        r->slab[s] = calloc((size_t)p->slab_bytes[s] + 64, 1);
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].op == IR_INPUT)
            put(r->slab[p->slab[i]] + p->offset[i], &g->nodes[i], ev->val[i], ev->len[i]);
    r->ctx = (RtCtx){.batch = ev->batch, .pool = pool};
    for (int s = 0; s < 5; s++)
        r->ctx.slab[s] = r->slab[s];
    entry(&r->ctx);
}

static void jit_run_free(Run *r)
{
    for (int s = RT_SLAB_INPUT; s <= RT_SLAB_ACT; s++)
        free(r->slab[s]);
}

/* Where output o's values are after the step: updates in their input's place. */
static const uint8_t *output_data(const Run *r, const IrGraph *g, const IrPlan *p, const IrOutput *o, const IrNode **n)
{
    int v = o->kind == OUT_UPDATE ? o->updates : o->value;
    *n = &g->nodes[v];
    return r->slab[p->slab[v]] + p->offset[v];
}

static void check(const char *path, IrType type, int64_t batch, double tol)
{
    const char *text = read_source(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    FrontRun fr;
    run_text(&fr, text);
    CU_ASSERT_EQUAL_FATAL(fr.status, NNC_OK);
    const SemaModel *m = fr.f.model;
    NncCompiled c;
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(m, &fr.f.src, &fr.f.arena, type, STAGE_PLAN, batch, &c, &err), 0);
    const IrGraph *g = &c.step.L.g;
    IrEval ev;
    ir_eval_init(&ev, g, batch);
    fill_step_inputs(&ev, m, &c);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);

    static int serial;
    char name[64];
    snprintf(name, sizeof name, "step%d", serial++);
    if (cg_jit_add(jit, g, c.plan, name, &(CgOptions){.opt = 3}, &err) != 0)
        fprintf(stderr, "%s: %s\n", path, err);
    void (*entry)(RtCtx *) = (void (*)(RtCtx *))cg_jit_lookup(jit, name, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry);

    Run one, two;
    run_jit(&one, entry, g, c.plan, &ev, NULL);
    RtPool *pool = rt_pool_create(2);
    run_jit(&two, entry, g, c.plan, &ev, pool);
    rt_pool_destroy(pool);

    double worst = 0;
    const char *worst_name = "";
    for (int o = 0; o < g->nouts; o++) {
        const IrOutput *out = &g->outs[o];
        const IrNode *n;
        const uint8_t *a = output_data(&one, g, c.plan, out, &n), *b = output_data(&two, g, c.plan, out, &n);
        int64_t len;
        const double *want = ir_eval_output(&ev, out->name, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(want);
        double scale = 0, diff = 0;
        bool same = memcmp(a, b, (size_t)len * (size_t)ir_type_size(n->type)) == 0;
        if (!same)
            fprintf(stderr, "%s: output %s differs between 1 and 2 threads\n", path, out->name);
        CU_ASSERT(same);
        for (int64_t e = 0; e < len; e++) {
            scale = fmax(scale, fabs(want[e]));
            diff = fmax(diff, fabs(get(a, n, e) - want[e]));
        }
        double rel = diff <= (type == IR_F32 ? 1e-6 : 1e-14) ? 0 : diff / fmax(scale, 1e-30);
        if (rel > worst) {
            worst = rel;
            worst_name = out->name;
        }
    }
    if (worst > tol)
        fprintf(stderr, "%s %s: output %s differs from the interpreter by %.3g relative\n", path, ir_type_name(type),
                worst_name, worst);
    CU_ASSERT(worst <= tol);
    jit_run_free(&one);
    jit_run_free(&two);
    ir_eval_free(&ev);
    run_free(&fr);
}

#define EX(name) NNC_SOURCE_DIR "/examples/" name ".nn"
#define GOLDEN_OK(name) NNC_SOURCE_DIR "/tests/golden/ok/" name ".nn"
#define GRAD(name) NNC_SOURCE_DIR "/tests/grad/" name ".nn"

static void test_f32(void)
{
    if (getenv("NNC_CG_ONLY")) {  /* NNC_CG_ONLY=model.nn: check that model alone (f64), for debugging */
        check(getenv("NNC_CG_ONLY"), IR_F64, 3, 1e-12);
        return;
    }
    check(EX("xor"), IR_F32, 4, 1e-5);
    check(EX("mnist_mlp"), IR_F32, 16, 1e-5);
    check(EX("mnist_cnn"), IR_F32, 3, 1e-5);
    check(GRAD("zoo"), IR_F32, 3, 1e-5);
    check(GRAD("bce_pos"), IR_F32, 3, 1e-5);
    check(GOLDEN_OK("tiny_gpt"), IR_F32, 2, 1e-4);  /* see test_pipeline.c: adamw on a noise gradient */
    check(GRAD("shakespeare_small"), IR_F32, 2, 1e-5);
}

static void test_f64(void)
{
    check(EX("xor"), IR_F64, 4, 1e-12);
    check(EX("mnist_mlp"), IR_F64, 16, 1e-12);
    check(EX("mnist_cnn"), IR_F64, 3, 1e-12);
    check(GRAD("zoo"), IR_F64, 3, 1e-12);
    check(GRAD("bce_pos"), IR_F64, 3, 1e-12);
    check(GOLDEN_OK("tiny_gpt"), IR_F64, 2, 1e-12);
    check(GRAD("shakespeare_small"), IR_F64, 2, 1e-12);
}

/* Reductions that keep the last axis run down columns in blocks of 64
 * (cg_kernels.c): sum and mean over leading axes of [B, 3, 70], two blocks
 * and a remainder per row, against the interpreter in f64, on 1 and 2
 * threads. */
static void test_reduce_columns(void)
{
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    ir_init(&g, &arena, NULL, "cols", IR_F64);
    IrShape shape = {3, {IR_BATCH, 3, 70}};
    int x = ir_input(&g, ROLE_INPUT, "x", IR_F64, &shape, SPAN_NONE);
    ir_output(&g, "sum", ir_reduce(&g, IR_SUM, x, 3, SPAN_NONE), OUT_PREDICTION, -1);
    ir_output(&g, "mean", ir_reduce(&g, IR_MEAN, x, 1, SPAN_NONE), OUT_PREDICTION, -1);
    ir_output(&g, "sum_t", ir_reduce(&g, IR_SUM, x, 2, SPAN_NONE), OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(&g));
    int64_t batch = 5;
    IrEval ev;
    ir_eval_init(&ev, &g, batch);
    double v[5 * 3 * 70];
    for (int e = 0; e < 5 * 3 * 70; e++)
        v[e] = sin(e * 0.37) * 10;
    ir_eval_set(&ev, x, v);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
    IrPlan *plan = plan_memory(&g, batch);
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(cg_jit_add(jit, &g, plan, "cols", &(CgOptions){.opt = 3}, &err), 0);
    void (*entry)(RtCtx *) = (void (*)(RtCtx *))cg_jit_lookup(jit, "cols", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
    Run one, two;
    run_jit(&one, entry, &g, plan, &ev, NULL);
    RtPool *pool = rt_pool_create(2);
    run_jit(&two, entry, &g, plan, &ev, pool);
    rt_pool_destroy(pool);
    for (int o = 0; o < g.nouts; o++) {
        const IrNode *n;
        const uint8_t *a = output_data(&one, &g, plan, &g.outs[o], &n), *b = output_data(&two, &g, plan, &g.outs[o], &n);
        int64_t len;
        const double *want = ir_eval_output(&ev, g.outs[o].name, &len);
        CU_ASSERT_EQUAL(len, o == 0 ? 70 : o == 1 ? 3 * 70 : 5 * 70);  /* [1,1,70], [1,3,70], [B,1,70] */
        CU_ASSERT(memcmp(a, b, sizeof(double) * (size_t)len) == 0);
        for (int64_t e = 0; e < len; e++)
            if (fabs(get(a, n, e) - want[e]) > 1e-12 * fmax(1, fabs(want[e]))) {
                fprintf(stderr, "%s[%lld] = %.17g, interpreter %.17g\n", g.outs[o].name, (long long)e, get(a, n, e), want[e]);
                CU_FAIL("a column reduction differs from the interpreter");
                break;
            }
    }
    jit_run_free(&one);
    jit_run_free(&two);
    ir_eval_free(&ev);
    arena_free(&arena);
}

static int setup(void)
{
    const char *err = NULL;
    if (cg_jit_create(&jit, &err) != 0) {
        fprintf(stderr, "cannot create the JIT: %s\n", err);
        return 1;
    }
    return 0;
}

static int teardown(void)
{
    cg_jit_destroy(jit);
    return 0;
}

static const TestCase tests[] = {
    {"generated code matches the interpreter in f32", test_f32},
    {"generated code matches the interpreter in f64", test_f64},
    {"reductions down columns match the interpreter", test_reduce_columns},
    {NULL, NULL},
};

void register_codegen(void)
{
    CU_pSuite s = CU_add_suite("codegen", setup, teardown);
    for (const TestCase *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
