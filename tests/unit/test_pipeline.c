/* test_pipeline.c — every stage of the pipeline computes the same step.
 *
 * For each example, the training step is built at the grad, opt, fused and
 * plan stages and run by the reference interpreter on the same parameters
 * and batch; every output (loss, metrics, prediction, every update) must
 * agree with the grad stage's: exactly (1e-12 relative) in f64, within
 * f32 rounding in f32, where fused nodes round once at the end instead of
 * after every op.  The plan stage also runs in planned mode, with every
 * activation in one arena laid out by the plan. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ir/interp.h"
#include "ir/lower.h"
#include "passes/pipeline.h"

/* Runs c's graph on the deterministic inputs; the step counter 0, a
 * 100-step run, zero optimizer state. */
static int run(IrEval *ev, const SemaModel *m, NncCompiled *c, int64_t batch, bool planned)
{
    const IrGraph *g = &c->step.L.g;
    ir_eval_init(ev, g, batch);
    if (planned)
        ev->plan = c->plan;
    fill_step_inputs(ev, m, c);
    int rc = ir_eval_run(ev);
    if (rc)
        fprintf(stderr, "interpreter: %s\n", ev->error);
    return rc;
}

/* The largest difference between two runs' outputs, relative to each
 * output's scale.  Differences below 1e-6 in absolute value in f32 (1e-14
 * in f64) count as none: some values are zero in exact arithmetic and
 * rounding noise otherwise (the gradient of an attention key's bias: adding
 * it shifts a whole row of scores, which softmax ignores), and noise has no
 * relative precision. */
static double max_rel_diff(const IrEval *a, const IrEval *b, const char **worst)
{
    double worst_rel = 0;
    for (int i = 0; i < a->g->nouts; i++) {
        const char *name = a->g->outs[i].name;
        int64_t la, lb;
        const double *va = ir_eval_output(a, name, &la), *vb = ir_eval_output(b, name, &lb);
        CU_ASSERT_PTR_NOT_NULL_FATAL(vb);
        CU_ASSERT_EQUAL_FATAL(la, lb);
        Diff d = {0};
        for (int64_t e = 0; e < la; e++)
            diff_add(&d, vb[e], va[e]);
        double rel = diff_rel(&d, a->g->ftype == IR_F32 ? 1e-6 : 1e-14);
        if (rel > worst_rel) {
            worst_rel = rel;
            *worst = name;
        }
    }
    return worst_rel;
}

static void check_example(const char *path, IrType type, double tol, int64_t batch)
{
    FrontRun r;
    run_file(&r, path);
    const SemaModel *m = r.f.model;
    NncCompiled base, c;
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(m, &r.f.src, &r.f.arena, type, STAGE_GRAD, batch, &base, &err), 0);
    IrEval ref;
    CU_ASSERT_EQUAL_FATAL(run(&ref, m, &base, batch, false), 0);
    for (IrStage st = STAGE_OPT; st <= STAGE_PLAN; st++) {
        err = NULL;
        int rc = nnc_compile(m, &r.f.src, &r.f.arena, type, st, batch, &c, &err);
        if (rc)
            fprintf(stderr, "%s: %s\n", path, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        for (int planned = 0; planned <= (st == STAGE_PLAN); planned++) {
            IrEval ev;
            CU_ASSERT_EQUAL_FATAL(run(&ev, m, &c, batch, planned), 0);
            const char *worst = "";
            double d = max_rel_diff(&ref, &ev, &worst);
            if (d > tol)
                fprintf(stderr, "%s %s stage %d%s: output %s differs by %.3g relative\n", path, ir_type_name(type),
                        (int)st, planned ? " (planned)" : "", worst, d);
            CU_ASSERT(d <= tol);
            ir_eval_free(&ev);
        }
    }
    ir_eval_free(&ref);
    run_free(&r);
}

#define EX(name) NNC_SOURCE_DIR "/examples/" name ".nn"

static void test_f64(void)
{
    check_example(EX("xor"), IR_F64, 1e-12, 4);
    check_example(EX("mnist_mlp"), IR_F64, 1e-12, 8);
    check_example(EX("mnist_cnn"), IR_F64, 1e-12, 2);
    check_example(NNC_SOURCE_DIR "/tests/golden/ok/tiny_gpt.nn", IR_F64, 1e-12, 2);
}

static void test_f32(void)
{
    check_example(EX("xor"), IR_F32, 1e-5, 4);
    check_example(EX("mnist_mlp"), IR_F32, 1e-5, 8);
    check_example(EX("mnist_cnn"), IR_F32, 1e-5, 2);
    /* adamw normalises each gradient to about ±1 per step, the rounding noise
     * of an attention key's bias (whose gradient is exactly zero) included:
     * that parameter moves by noise, ~1e-5 relative */
    check_example(NNC_SOURCE_DIR "/tests/golden/ok/tiny_gpt.nn", IR_F32, 1e-4, 2);
}

/* Every built-in a model may use lowers to IR (repeat is expanded by sema). */
static void test_lowering_complete(void)
{
    for (int i = 0; i < B_COUNT; i++) {
        BuiltinClass c = builtin_table[i].cls;
        bool in_model = c == BC_LAYER || c == BC_LOSS || c == BC_METRIC;
        if (!in_model || i == B_REPEAT)
            continue;
        if (!lower_covers(i))
            fprintf(stderr, "no lowering for %s\n", builtin_table[i].name);
        CU_ASSERT(lower_covers(i));
    }
}

/* max_pool(relu(x)) lowers as relu(max_pool(x)) (lower.c's lower_max_pool;
 * tests/grad/pool_relu.nn checks its gradients and unit.codegen_grad its
 * code).  In that model each max_pool's value is a relu of a pool_max, and
 * no pool_max reads a relu.  Its first relu, read by the pooling alone, is
 * taken back, and its call keeps no value (memcheck counts a call's nodes
 * up to its value: the pooling's node took the relu's index).  The second,
 * also read by flatten, stays, with its value, a relu of the pooled
 * convolution: three relus in all, two of them after a pool_max. */
static void test_pool_relu(void)
{
    FrontRun r;
    run_file(&r, NNC_SOURCE_DIR "/tests/grad/pool_relu.nn");
    CU_ASSERT_STRING_EQUAL_FATAL(first_error(&r), "");
    const SemaModel *m = r.f.model;
    Lowered L;
    const char *err = NULL;
    LowerOptions opt = {.ftype = IR_F32};
    CU_ASSERT_EQUAL_FATAL(lower_model(m, &r.f.src, &r.f.arena, &opt, &L, &err), 0);
    const IrGraph *g = &L.g;
    int relu[2], pool[2], nrelu = 0, npool = 0;
    for (int i = 0; i < m->nnodes; i++) {
        const char *name = m->nodes[i].builtin ? m->nodes[i].builtin->name : "";
        if (strcmp(name, "relu") == 0 && nrelu < 2)
            relu[nrelu++] = i;
        if (strcmp(name, "max_pool") == 0 && npool < 2)
            pool[npool++] = i;
    }
    CU_ASSERT_FATAL(nrelu == 2 && npool == 2);
    int pooled[2];  /* each pooling's pool_max */
    for (int k = 0; k < 2; k++) {
        CU_ASSERT_FATAL(L.value[pool[k]] >= 0);
        const IrNode *pv = &g->nodes[L.value[pool[k]]];
        CU_ASSERT_EQUAL_FATAL(pv->op, IR_RELU);
        pooled[k] = pv->in[0];
        CU_ASSERT_EQUAL_FATAL(g->nodes[pooled[k]].op, IR_POOL_MAX);
    }
    CU_ASSERT_EQUAL(L.value[relu[0]], -1);
    CU_ASSERT_FATAL(L.value[relu[1]] >= 0);
    CU_ASSERT_EQUAL(g->nodes[L.value[relu[1]]].op, IR_RELU);
    CU_ASSERT_EQUAL(g->nodes[L.value[relu[1]]].in[0], g->nodes[pooled[1]].in[0]);
    int pools = 0, relus = 0, relu_of_pool = 0;
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op == IR_POOL_MAX) {
            pools++;
            CU_ASSERT_NOT_EQUAL(g->nodes[n->in[0]].op, IR_RELU);
        }
        if (n->op == IR_RELU) {
            relus++;
            relu_of_pool += g->nodes[n->in[0]].op == IR_POOL_MAX;
        }
    }
    CU_ASSERT_EQUAL(pools, 2);
    CU_ASSERT_EQUAL(relu_of_pool, 2);
    CU_ASSERT_EQUAL(relus, 3);
    run_free(&r);
}

/* The arena every stage allocates from: a request bigger than a block gets a
 * block of its own and the head keeps its room, so the next small request
 * lands right after the one before it (the head's room was dropped: up to
 * 8 MiB of populated pages per oversize request); every request zeroed. */
static void test_arena_oversize(void)
{
    Arena a;
    arena_init(&a);
    enum { S = sizeof(max_align_t) };   /* the arena's rounding: these sizes need none */
    unsigned char *p1 = arena_alloc(&a, S);
    unsigned char *big = arena_alloc(&a, 1 << 20);   /* the first blocks are 64 KiB */
    unsigned char *p2 = arena_alloc(&a, S);
    CU_ASSERT_PTR_EQUAL(p2, p1 + S);
    CU_ASSERT(big[0] == 0 && big[(1 << 20) - 1] == 0 && p2[0] == 0 && p2[S - 1] == 0);
    unsigned char *raw = arena_alloc_raw(&a, 3 << 20);
    raw[0] = 7;
    unsigned char *p3 = arena_alloc(&a, 2 * S);
    CU_ASSERT_PTR_EQUAL(p3, p2 + S);
    CU_ASSERT(p3[0] == 0 && p3[2 * S - 1] == 0);
    CU_ASSERT_EQUAL(a.total, (size_t)(S + (1 << 20) + S + (3 << 20) + 2 * S));
    arena_free(&a);
}

/* What the interpreter's allocations are for, as its message names them:
 * each must have failed once. */
static const char *const alloc_kinds[] = {"its table of values", "the memory plan's arena", "the values of '",
                                          "a value of ", "the scratch of ", "the patches of "};
enum { NKINDS = sizeof alloc_kinds / sizeof *alloc_kinds };

/* Fault injection (IrEval.fail_at, as NNC_INTERP_FAIL_ALLOC sets it): in a
 * planned run of c, allocation N fails for N = 1 .. every allocation of a
 * run; each such run fails with out_of_memory and the message
 * "the reference interpreter ran out of memory: <bytes> for <what>" (the
 * input's error, at the node being made where there is one), and
 * ir_eval_free frees what was made (ASan's leak check in the suite's
 * sanitized run).  Then the run past the last allocation gives the clean
 * run's loss, bit for bit.  seen[k]: whether an allocation of
 * alloc_kinds[k] failed. */
static void check_faults(const SemaModel *m, NncCompiled *c, int64_t batch, bool *seen)
{
    const char *prefix = "the reference interpreter ran out of memory: ";
    IrEval clean;
    CU_ASSERT_EQUAL_FATAL(run(&clean, m, c, batch, true), 0);
    int64_t allocs = clean.allocs;
    CU_ASSERT_FATAL(allocs > 0);
    for (int64_t at = 1; at <= allocs + 1; at++) {
        IrEval ev;
        ir_eval_init(&ev, &c->step.L.g, batch);
        ev.plan = c->plan;
        ev.fail_at = at;
        fill_step_inputs(&ev, m, c);
        int rc = ir_eval_run(&ev);
        if (at > allocs) {
            CU_ASSERT_EQUAL(rc, 0);
            CU_ASSERT_FALSE(ev.out_of_memory);
            CU_ASSERT_EQUAL(ev.allocs, allocs);
            CU_ASSERT(ev.val[c->step.L.loss][0] == clean.val[c->step.L.loss][0]);
        } else {
            CU_ASSERT_EQUAL(rc, -1);
            CU_ASSERT(ev.out_of_memory);
            CU_ASSERT_EQUAL(ev.allocs, at);  /* nothing allocated after the failure */
            CU_ASSERT_EQUAL(strncmp(ev.error, prefix, strlen(prefix)), 0);
            const char *what = strstr(ev.error, " for ");
            CU_ASSERT_PTR_NOT_NULL_FATAL(what);
            int kind = -1;
            for (int k = 0; k < NKINDS; k++)
                if (strncmp(what + 5, alloc_kinds[k], strlen(alloc_kinds[k])) == 0)
                    kind = k;
            if (kind < 0)
                fprintf(stderr, "allocation %lld: %s\n", (long long)at, ev.error);
            CU_ASSERT(kind >= 0);
            if (kind >= 0)
                seen[kind] = true;
            /* at the node being made (located where it has a place: not optimizer
             * state); the tables and the arena are no node's */
            CU_ASSERT_EQUAL(ev.error_node >= 0, kind > 1);
            if (ev.error_node < 0)
                CU_ASSERT_EQUAL(ir_eval_error_at(&ev).begin, SPAN_NONE.begin);
        }
        ir_eval_free(&ev);
    }
    ir_eval_free(&clean);
}

static void test_out_of_memory(void)
{
    bool seen[NKINDS] = {false};
    const char *models[] = {NNC_SOURCE_DIR "/tests/grad/conv_layout.nn", NNC_SOURCE_DIR "/tests/golden/ok/tiny_gpt.nn"};
    for (int i = 0; i < 2; i++) {
        FrontRun r;
        run_file(&r, models[i]);
        NncCompiled c;
        const char *err = NULL;
        CU_ASSERT_EQUAL_FATAL(nnc_compile(r.f.model, &r.f.src, &r.f.arena, IR_F64, STAGE_PLAN, 2, &c, &err), 0);
        check_faults(r.f.model, &c, 2, seen);
        run_free(&r);
    }
    for (int k = 0; k < NKINDS; k++) {
        if (!seen[k])
            fprintf(stderr, "no allocation for %s failed\n", alloc_kinds[k]);
        CU_ASSERT(seen[k]);
    }
}

static const TestCase tests[] = {
    {"the arena keeps its room after an oversize request", test_arena_oversize},
    {"every built-in lowers", test_lowering_complete},
    {"max_pool(relu(x)) lowers as relu(max_pool(x)); a relu read elsewhere stays", test_pool_relu},
    {"stages agree in f64", test_f64},
    {"stages agree in f32", test_f32},
    {"the interpreter reports every allocation that fails, located, and frees the rest", test_out_of_memory},
    {NULL, NULL},
};

void register_pipeline(void) { add_suite("pipeline", tests); }
