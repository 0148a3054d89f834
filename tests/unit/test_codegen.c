/* test_codegen.c — generated code computes what the reference interpreter
 * computes.
 *
 * For each example the training step is compiled to the plan stage,
 * JIT-compiled, and run on the same parameters, batch and optimizer state
 * as the interpreter: every output (loss, metrics, prediction) and every
 * updated parameter and state must agree, within 1e-5 relative in f32 and
 * 1e-12 in f64.  The same step on 1 and on 2 threads must agree bit for bit. */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "codegen/cg.h"
#include "codegen/cg_internal.h"  /* cg_flat_elementwise, cg_is_matmul */
#include "codegen/cg_module.h"    /* cg_split, CG_TINY_MACS */
#include "ir/ir_internal.h"     /* ir_mm_patches */
#include "ir/lower.h"
#include "jit_harness.h"
#include "passes/pipeline.h"

/* path's step compiled to the plan stage at plan_batch into *c (fr holds
 * the front end's run, freed by run_free). */
static void plan_file(FrontRun *fr, const char *path, IrType type, int64_t plan_batch, NncCompiled *c)
{
    run_file(fr, path);
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(fr->f.model, &fr->f.src, &fr->f.arena, type, STAGE_PLAN, plan_batch, c, &err), 0);
}

/* The step planned for batch plan_batch, compiled once and run at each of
 * the batches given: one plan serves every batch. */
static void check_batches(const char *path, IrType type, int64_t plan_batch, const int64_t *batches, int nbatches,
                          double tol)
{
    FrontRun fr;
    run_file(&fr, path);
    const SemaModel *m = fr.f.model;
    NncCompiled c;
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(m, &fr.f.src, &fr.f.arena, type, STAGE_PLAN, plan_batch, &c, &err), 0);
    const IrGraph *g = &c.step.L.g;
    JitEntry entry = jit_compile(g, c.plan);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
    for (int k = 0; k < nbatches; k++) {
        IrEval ev;
        ir_eval_init(&ev, g, batches[k]);
        fill_step_inputs(&ev, m, &c);
        CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
        const char *worst_name;
        double worst = jit_compare(entry, g, c.plan, &ev, &worst_name);
        if (worst > tol)
            fprintf(stderr, "%s %s at batch %lld (planned at %lld): output %s differs from the interpreter by %.3g "
                            "relative\n", path, ir_type_name(type), (long long)batches[k], (long long)plan_batch,
                    worst_name, worst);
        CU_ASSERT(worst <= tol);
        ir_eval_free(&ev);
    }
    run_free(&fr);
}

#ifdef NNC_SANITIZED
/* Under the sanitizers the model suites (unit.codegen_models,
 * unit.codegen_grad) build and verify each model's module with the code
 * generator (cg_build_module: nnc's code, instrumented) and stop there; the
 * values are the release build's to compare.  ASan does not see into the
 * JIT's code, the interpreter runs these models in grad.* there, and LLVM
 * optimizing and compiling the modules (not instrumented, but through
 * ASan's malloc) was most of these suites' time.  test_any_batch
 * (unit.codegen) still runs three models compiled against the interpreter
 * in both builds. */
static void build_only(const char *path, IrType type, int64_t batch)
{
    FrontRun fr;
    run_file(&fr, path);
    NncCompiled c;
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(fr.f.model, &fr.f.src, &fr.f.arena, type, STAGE_PLAN, batch, &c, &err), 0);
    CU_ASSERT_EQUAL(jit_build(&c.step.L.g, c.plan), 0);
    run_free(&fr);
}
#endif

static void check(const char *path, IrType type, int64_t batch, double tol)
{
#ifdef NNC_SANITIZED
    (void)tol;
    build_only(path, type, batch);
#else
    check_batches(path, type, batch, &batch, 1, tol);
#endif
}

#define EX(name) NNC_SOURCE_DIR "/examples/" name ".nn"
#define GOLDEN_OK(name) NNC_SOURCE_DIR "/tests/golden/ok/" name ".nn"
#define GRAD(name) NNC_SOURCE_DIR "/tests/grad/" name ".nn"

/* Every model in tests/grad (the models --gradcheck checks; a new one is a
 * new file), at a batch of 3, or 2 where its name ends in "_small". */
static void check_grad_models(IrType type, double tol)
{
    glob_t gl;
    CU_ASSERT_EQUAL_FATAL(glob(NNC_SOURCE_DIR "/tests/grad/*.nn", 0, NULL, &gl), 0);
    CU_ASSERT(gl.gl_pathc >= 3);
    for (size_t i = 0; i < gl.gl_pathc; i++) {
        const char *path = gl.gl_pathv[i];
        size_t n = strlen(path);
        check(path, type, n > 9 && strcmp(path + n - 9, "_small.nn") == 0 ? 2 : 3, tol);
    }
    globfree(&gl);
}

static void test_f32(void)
{
    if (getenv("NNC_CG_ONLY")) {  /* NNC_CG_ONLY=model.nn: check that model alone (f64), for debugging */
        check(getenv("NNC_CG_ONLY"), IR_F64, 3, 1e-12);
        return;
    }
    check(EX("xor"), IR_F32, 4, 1e-5);
    check(EX("mnist_mlp"), IR_F32, 16, 1e-5);
    /* Adam's first step is about lr·sign(g): a weight whose gradient sums to
     * within a few eps (1e-8) of 0 moves by a part of lr that f32 rounding
     * decides.  Of hidden.weight's 401,408 entries one did (2% of a step,
     * 1.1e-3 relative to the largest weight) once the conv2d weight's
     * patches order changed; with sgd(lr: 1) every entry of every update
     * agreed within 1e-6.  tests/grad/conv_layout.nn checks the same
     * kernels at 1e-5 with sgd. */
    check(EX("mnist_cnn"), IR_F32, 3, 3e-3);
    check(GOLDEN_OK("tiny_gpt"), IR_F32, 2, 1e-4);  /* see test_pipeline.c: adamw on a noise gradient */
    check(GOLDEN_OK("broadcasting"), IR_F32, 3, 1e-5);  /* [T,D] * [D] per example: [B,T,D] * [B,1,D] */
    check(GOLDEN_OK("layers_zoo"), IR_F32, 3, 1e-5);
    check(GOLDEN_OK("user_layers"), IR_F32, 3, 1e-5);
    check(GOLDEN_OK("wide_fused"), IR_F32, 3, 1e-5);   /* a fused region of 20 operands */
}

static void test_f64(void)
{
    check(EX("xor"), IR_F64, 4, 1e-12);
    check(EX("mnist_mlp"), IR_F64, 16, 1e-12);
    check(EX("mnist_cnn"), IR_F64, 3, 1e-12);
    check(GOLDEN_OK("tiny_gpt"), IR_F64, 2, 1e-12);
}

static void test_grad_f32(void) { check_grad_models(IR_F32, 1e-5); }
static void test_grad_f64(void) { check_grad_models(IR_F64, 1e-12); }

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
    int64_t len[3];
    for (int o = 0; o < 3; o++)
        ir_eval_output(&ev, g.outs[o].name, &len[o]);
    CU_ASSERT(len[0] == 70 && len[1] == 3 * 70 && len[2] == 5 * 70);  /* [1,1,70], [1,3,70], [B,1,70] */
    jit_check(&g, &ev, 0, "column reduction");   /* within 1e-14: the same additions in the same order */
    ir_eval_free(&ev);
    arena_free(&arena);
}

/* Elementwise nodes whose operands have their shape (cg_flat_elementwise)
 * run over elements and share one body whatever their shapes: the squares
 * of a [B,200,7] and a [B,30,50] tensor (rows of 7 and of 50 values) are
 * one body, and each is the interpreter's to the bit, on 1 thread and on 2
 * (jit_check_entry: the launch's rows become elements in each thread's range). */
static void test_flat_elementwise(void)
{
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    ir_init(&g, &arena, NULL, "flat", IR_F64);
    IrShape sa = {3, {IR_BATCH, 200, 7}}, sb = {3, {IR_BATCH, 30, 50}};
    int a = ir_input(&g, ROLE_INPUT, "a", IR_F64, &sa, SPAN_NONE);
    int b = ir_input(&g, ROLE_INPUT, "b", IR_F64, &sb, SPAN_NONE);
    int a2 = ir_binary(&g, IR_MUL, a, a, SPAN_NONE), b2 = ir_binary(&g, IR_MUL, b, b, SPAN_NONE);
    ir_output(&g, "a2", a2, OUT_PREDICTION, -1);
    ir_output(&g, "b2", b2, OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(&g));
    CU_ASSERT(cg_flat_elementwise(&g, a2) && cg_flat_elementwise(&g, b2));
    int64_t batch = 5;
    IrPlan *plan = plan_memory(&g, batch);
    CgSplit split;
    CU_ASSERT_EQUAL_FATAL(cg_split(&(CgEntry){&g, plan, "flat", false}, 1, 2, 3, &split), 0);
    CU_ASSERT_EQUAL(split.nbodies, 1);
    CU_ASSERT(split.body[0][a2] >= 0 && split.body[0][a2] == split.body[0][b2]);
    cg_split_free(&split, 1);
    IrEval ev;
    ir_eval_init(&ev, &g, batch);
    double *va = malloc(sizeof *va * 5 * 200 * 7), *vb = malloc(sizeof *vb * 5 * 30 * 50);
    for (int e = 0; e < 5 * 200 * 7; e++)
        va[e] = sin(e * 0.37) * 10;
    for (int e = 0; e < 5 * 30 * 50; e++)
        vb[e] = cos(e * 0.11) * 3;
    ir_eval_set(&ev, a, va);
    ir_eval_set(&ev, b, vb);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
    JitEntry entry = jit_compile(&g, plan);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
    jit_check_entry(entry, &g, plan, &ev, 0, "flat square");
    ir_eval_free(&ev);
    free(va);
    free(vb);
    arena_free(&arena);
}

#ifndef NNC_SANITIZED   /* test_any_batch's release-only half */
/* The step at `batch`, planned for plan_a and for plan_b: the same bits
 * (only the places of tensors differ, never the arithmetic). */
static void check_same_bits(const char *path, int64_t plan_a, int64_t plan_b, int64_t batch)
{
    FrontRun fr;
    run_file(&fr, path);
    const SemaModel *m = fr.f.model;
    NncCompiled c[2];
    const char *err = NULL;
    JitRun run[2];
    IrEval ev;   /* only the inputs: parameters, data, state */
    for (int k = 0; k < 2; k++) {
        CU_ASSERT_EQUAL_FATAL(nnc_compile(m, &fr.f.src, &fr.f.arena, IR_F32, STAGE_PLAN, k ? plan_b : plan_a, &c[k],
                                          &err), 0);
        const IrGraph *g = &c[k].step.L.g;
        JitEntry entry = jit_compile(g, c[k].plan);
        CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
        ir_eval_init(&ev, g, batch);
        fill_step_inputs(&ev, m, &c[k]);
        jit_run(&run[k], entry, g, c[k].plan, &ev, NULL);
        ir_eval_free(&ev);
    }
    const IrGraph *g = &c[0].step.L.g;
    CU_ASSERT_EQUAL_FATAL(g->nouts, c[1].step.L.g.nouts);
    for (int o = 0; o < g->nouts; o++) {
        const IrNode *n;
        const uint8_t *a = jit_output(&run[0], g, c[0].plan, &g->outs[o], &n);
        const uint8_t *b = jit_output(&run[1], &c[1].step.L.g, c[1].plan, &c[1].step.L.g.outs[o], &n);
        size_t bytes = (size_t)ir_elems(&n->shape, batch) * (size_t)ir_type_size(n->type);
        if (memcmp(a, b, bytes) != 0)
            fprintf(stderr, "%s at batch %lld: output %s differs between plans for %lld and %lld\n", path,
                    (long long)batch, g->outs[o].name, (long long)plan_a, (long long)plan_b);
        CU_ASSERT(memcmp(a, b, bytes) == 0);
    }
    jit_run_free(&run[0]);
    jit_run_free(&run[1]);
    run_free(&fr);
}
#endif

/* Planned for one batch, run at others: smaller, larger, and across the
 * rounding of the batch to 16 that places per-example tensors.  The CNN at
 * batches 2 and 18 is compared with itself planned for them: against the
 * interpreter its f32 Adam step differs there by 1.1e-4 and 2.7e-4 however
 * it was planned (the first Adam step is g / (|g| + 1e-8), so a gradient
 * element near 1e-8 magnifies its rounding). */
static void test_any_batch(void)
{
    check_batches(EX("mnist_mlp"), IR_F32, 16, (const int64_t[]){1, 17, 40}, 3, 1e-5);
    check_batches(EX("mnist_cnn"), IR_F32, 3, (const int64_t[]){1}, 1, 1e-5);
#ifndef NNC_SANITIZED   /* four more compiles of the CNN, about bits: the release pass's */
    check_same_bits(EX("mnist_cnn"), 3, 2, 2);
    check_same_bits(EX("mnist_cnn"), 3, 18, 18);
#endif
    check_batches(GRAD("shakespeare_small"), IR_F64, 2, (const int64_t[]){1, 17}, 2, 1e-12);
}

/* x·Wᵀ with fewer rows than the register tile in a prediction graph takes
 * the few-rows path (cg_matmul.c's dot_rows), here with the bias and relu
 * fused after it.  Its remainders, in f32 (16 lanes) and f64 (8): K = 784
 * (49 or 98 vectors: the 16-vector loop and vectors left one by one), 100
 * (the 4-vector loop and a scalar tail), 33 and 7 (a scalar tail alone
 * when K < lanes); N = 10 (groups of 4 and one of 2), 7 (a group of 3,
 * padded with a zero column in the tree), 1; M = 1 .. 5.  Each graph is
 * compiled once, planned for 5 rows, and run at every M: the path is
 * chosen at run time by the batch (fewer than cg_matmul.c's FEW_ROWS),
 * and 5 rows make every product here larger than a tiny one (plain loops:
 * CG_TINY_MACS at the plan's batch).  Against the interpreter within 1e-5
 * in f32 and 1e-12 in f64 (relative to the output's largest magnitude);
 * one wrong lane in the tree is far beyond. */
/* Sets every input of g (pass_fuse renumbered the nodes: found again) to
 * values of mixed signs, so that the terms cancel in part. */
static void fill_inputs(IrEval *ev, const IrGraph *g, int64_t batch)
{
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op != IR_INPUT)
            continue;
        int64_t len = ir_elems(&n->shape, batch);
        bool param = n->a.role == ROLE_PARAM;
        double *v = malloc(sizeof *v * (size_t)len);
        for (int64_t e = 0; e < len; e++)
            v[e] = param ? 0.1 * sin((double)e * 0.91 + n->shape.rank) : sin((double)e * 0.37);
        ir_eval_set(ev, i, v);
        free(v);
    }
}

static void check_few_rows(IrType type, int64_t K, int64_t N, double tol)
{
    enum { ROWS = 5 };
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    ir_init(&g, &arena, NULL, "few_rows", type);
    IrShape xs = {2, {IR_BATCH, K}}, ws = {2, {N, K}}, bs = {1, {N}};
    int x = ir_input(&g, ROLE_INPUT, "x", type, &xs, SPAN_NONE);
    int w = ir_input(&g, ROLE_PARAM, "w", type, &ws, SPAN_NONE);
    int b = ir_input(&g, ROLE_PARAM, "b", type, &bs, SPAN_NONE);
    int y = ir_unary(&g, IR_RELU, ir_binary(&g, IR_ADD, ir_matmul(&g, x, w, false, true, SPAN_NONE), b, SPAN_NONE),
                     SPAN_NONE);
    ir_output(&g, "y", y, OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(&g));
    pass_fuse(&g);
    CU_ASSERT_PTR_NULL_FATAL(ir_verify(&g));
    CU_ASSERT_FATAL(ROWS * K * N > CG_TINY_MACS);
    IrPlan *plan = plan_memory(&g, ROWS);
    JitEntry entry = jit_compile(&g, plan);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
    for (int64_t M = 1; M <= ROWS; M++) {
        IrEval ev;
        ir_eval_init(&ev, &g, M);
        fill_inputs(&ev, &g, M);
        CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
        char what[96];
        snprintf(what, sizeof what, "few rows %s K=%lld N=%lld M=%lld", ir_type_name(type), (long long)K,
                 (long long)N, (long long)M);
        jit_check_entry(entry, &g, plan, &ev, tol, what);
        ir_eval_free(&ev);
    }
    arena_free(&arena);
}

static void test_few_rows(void)
{
    static const int64_t ks[] = {784, 100, 33, 7}, ns[] = {10, 7, 1};
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 4; k++)
            for (int n = 0; n < 3; n++)
                check_few_rows(t ? IR_F64 : IR_F32, ks[k], ns[n], t ? 1e-12 : 1e-5);
}

/* Products whose C has few rows (at most cg_matmul.c's PANEL_ITEM_ROWS at
 * the plan's batch) take panels of NR columns for items, each packing its
 * own panels of op(B) (few_rows_many_panels).  Planned for 16 rows:
 *   y = x·Wᵀ, x [B, 600], W [100, 600]: op(B) = Wᵀ packed by transposing
 *       (pack_transposed), K = 600 in two chunks, N = 100 whole panels and
 *       a last one of 4 columns (NR = 32 in f32 on AVX-512, 16 in f64);
 *   z = yᵀ·x [100, 600], K = the batch: op(B) = x copied row by row in
 *       groups of pack_group panels (cg_tune.c), 19 or 38 of them, all of a claim's
 *       panels before its items (claim_packs_panels: one claim of all on
 *       one thread, claims of some from any panel on two), the last one cut
 *       by N; at batch 400, K in two chunks.
 * Run at 7, 17 (rows not a multiple of the tile's) and 400 rows: against
 * the interpreter within 1e-5 in f32 and 1e-12 in f64 (relative to the
 * output's largest magnitude), and on 1 and 2 threads bit for bit
 * (jit_check_entry).  A panel packed from the wrong columns, or left
 * unpacked, is far beyond that.  Again with W [8, 9000] in f32: at 400
 * rows the one thread's claim of all 282 panels (7.2 MB a chunk) is over
 * claim_pack_bytes (4 MB on znver4) and packs panel by panel, two threads' claims pack
 * theirs whole; planned for 64 rows, its B (x, 2.3 MB) is copied with a
 * prefetch ahead (pack_rows: prefetch_b_bytes), which must be a prefetch
 * instruction in z's kernel (a load there would read past B's end), and
 * the 600 columns' B (38 KB at 16 rows) has none. */
static void check_panel_items(IrType type, double tol, int64_t outs, int64_t ins)
{
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    ir_init(&g, &arena, NULL, "panel_items", type);
    IrShape xs = {2, {IR_BATCH, ins}}, ws = {2, {outs, ins}};
    int x = ir_input(&g, ROLE_INPUT, "x", type, &xs, SPAN_NONE);
    int w = ir_input(&g, ROLE_PARAM, "w", type, &ws, SPAN_NONE);
    int y = ir_matmul(&g, x, w, false, true, SPAN_NONE);
    ir_output(&g, "y", y, OUT_PREDICTION, -1);
    ir_output(&g, "z", ir_matmul(&g, y, x, true, false, SPAN_NONE), OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(&g));
    pass_fuse(&g);
    CU_ASSERT_PTR_NULL_FATAL(ir_verify(&g));
    IrPlan *plan = plan_memory(&g, ins > 1000 ? 64 : 16);
    JitEntry entry = jit_compile(&g, plan);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
    int prefetches;
    jit_asm_count(&g, plan, "body1.matmul", (const char *[]){"prefetch"}, &prefetches, 1);
    if ((prefetches > 0) != (ins > 1000))
        fprintf(stderr, "panel items, %lld columns: %d prefetches in z's kernel\n", (long long)ins, prefetches);
    CU_ASSERT((prefetches > 0) == (ins > 1000));
    static const int64_t rows[] = {7, 17, 400};
    for (int k = 0; k < 3; k++) {
        IrEval ev;
        ir_eval_init(&ev, &g, rows[k]);
        fill_inputs(&ev, &g, rows[k]);
        CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
        char what[64];
        snprintf(what, sizeof what, "panel items %s M=%lld", ir_type_name(type), (long long)rows[k]);
        jit_check_entry(entry, &g, plan, &ev, tol, what);
        ir_eval_free(&ev);
    }
    arena_free(&arena);
}

static void test_panel_items(void)
{
    check_panel_items(IR_F32, 1e-5, 100, 600);
    check_panel_items(IR_F64, 1e-12, 100, 600);
    check_panel_items(IR_F32, 1e-5, 8, 9000);
}

/* x: [B, L] and its softmax over rows, one rows kernel (pass_fuse), as
 * output "softmax"; g named `name`. */
static void softmax_rows(IrGraph *g, Arena *arena, const char *name, IrType type, int64_t L)
{
    ir_init(g, arena, NULL, name, type);
    IrShape xs = {2, {IR_BATCH, L}};
    int x = ir_input(g, ROLE_INPUT, "x", type, &xs, SPAN_NONE);
    int m = ir_unary(g, IR_STOP_GRAD, ir_reduce(g, IR_RMAX, x, 2, SPAN_NONE), SPAN_NONE);
    int e = ir_unary(g, IR_EXP, ir_binary(g, IR_SUB, x, m, SPAN_NONE), SPAN_NONE);
    ir_output(g, "softmax", ir_binary(g, IR_DIV, e, ir_reduce(g, IR_SUM, e, 2, SPAN_NONE), SPAN_NONE),
              OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    pass_fuse(g);
    CU_ASSERT_PTR_NULL_FATAL(ir_verify(g));
    bool rows = false;
    for (int i = 0; i < g->n; i++)
        rows |= g->nodes[i].op == IR_FUSED_ROWS;
    CU_ASSERT(rows);  /* else this tests some other kernel */
}

/* A row's sum and maximum of 32 or more elements go in 16 lanes, folded in
 * halves, then the row's tail in order (cg_kernels.c's body_rows): a
 * softmax over rows of L = 31 (one lane, in order), 32 and 128 (lanes, no
 * tail), 47 and 65 (lanes and a tail of 15 and 1), each row's largest
 * element somewhere else (lane 0, a middle lane, the tail), in f64 against
 * the interpreter within 1e-12, on 1 and 2 threads to the bit
 * (jit_compare).  A lost lane or tail element is far beyond that. */
static void check_row_lanes(int64_t L)
{
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    softmax_rows(&g, &arena, "lanes", IR_F64, L);
    const int64_t B = 6;
    IrEval ev;
    ir_eval_init(&ev, &g, B);
    double *v = malloc(sizeof *v * (size_t)(B * L));
    for (int64_t r = 0; r < B; r++)
        for (int64_t j = 0; j < L; j++)  /* row r's largest at (r·7 + r·r) mod L */
            v[r * L + j] = sin((double)(r * L + j) * 0.37) + (j == (r * 7 + r * r) % L ? 2.5 : 0);
    for (int i = 0; i < g.n; i++)
        if (g.nodes[i].op == IR_INPUT)
            ir_eval_set(&ev, i, v);
    free(v);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
    char what[48];
    snprintf(what, sizeof what, "row lanes L=%lld", (long long)L);
    jit_check(&g, &ev, 1e-12, what);
    ir_eval_free(&ev);
    arena_free(&arena);
}

static void test_row_lanes(void)
{
    static const int64_t lengths[] = {31, 32, 47, 65, 128};
    for (int k = 0; k < 5; k++)
        check_row_lanes(lengths[k]);
}

/* Rows shorter than 2·ROW_LANES go element by element, in order
 * (cg_kernels.c's body_rows); unrolled whole, they leave the loop over rows
 * innermost, and LLVM vectorizes it, 16 rows to a vector, the last rows
 * under a mask (cg_kernel_body).  A softmax over rows of L = 1, 3, 10, 16
 * and 17 in f32, 37 rows (two vectors and 5 rows under a mask; other masks
 * when split over 2 threads), rows holding a NaN, +inf, -inf, nothing but
 * -inf, or values spread by 40 (exps that underflow): NaN where the
 * interpreter has NaN and only there, within 1e-5 of it elsewhere (a
 * softmax's scale is 1), and the same bits on 1 and 2 threads
 * (jit_check_entry). */
static void check_short_rows(int64_t L)
{
    enum { B = 37 };
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    softmax_rows(&g, &arena, "short_rows", IR_F32, L);
    IrEval ev;
    ir_eval_init(&ev, &g, B);
    double *v = malloc(sizeof *v * (size_t)(B * L));
    for (int64_t r = 0; r < B; r++)
        for (int64_t j = 0; j < L; j++) {
            double *x = &v[r * L + j];
            *x = sin((double)(r * L + j) * 0.37);
            bool here = j == (r * 3) % L;
            switch (r % 6) {
            case 1: *x = here ? NAN : *x; break;
            case 2: *x = here ? INFINITY : *x; break;
            case 3: *x = here ? -INFINITY : *x; break;
            case 4: *x = -INFINITY; break;
            case 5: *x *= 40; break;
            }
        }
    for (int i = 0; i < g.n; i++)
        if (g.nodes[i].op == IR_INPUT)
            ir_eval_set(&ev, i, v);
    free(v);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
    IrPlan *plan = plan_memory(&g, B);
    JitEntry entry = jit_compile(&g, plan);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
    char what[32];
    snprintf(what, sizeof what, "short rows L=%lld", (long long)L);
    jit_check_entry(entry, &g, plan, &ev, 1e-5, what);
    ir_eval_free(&ev);
    arena_free(&arena);
}

static void test_short_rows(void)
{
    static const int64_t lengths[] = {1, 3, 10, 16, 17};
    for (int k = 0; k < 5; k++)
        check_short_rows(lengths[k]);
}

/* pool_rows_t where rows hold inf or NaN: the op adds y · rows at each
 * window's maximum and 0 · rows at its other pixels, so such a pixel makes
 * its window's sums NaN in every channel, its maximum or not (as the
 * product with pool_max_t's scatter of zeros would), in the interpreter
 * and in the kernel alike; the rest within 1e-5 of the interpreter. */
static void test_pool_rows_nan(void)
{
    enum { B = 3, T = 3 };
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    ir_init(&g, &arena, NULL, "pool_rows_nan", IR_F32);
    IrShape xs = {4, {IR_BATCH, 4, 4, 2}}, ys = {4, {IR_BATCH, 2, 2, 2}}, rs = {3, {IR_BATCH, 16, T}};
    int in[3] = {ir_input(&g, ROLE_INPUT, "x", IR_F32, &xs, SPAN_NONE),
                 ir_input(&g, ROLE_INPUT, "y", IR_F32, &ys, SPAN_NONE),
                 ir_input(&g, ROLE_INPUT, "rows", IR_F32, &rs, SPAN_NONE)};
    ir_output(&g, "d", ir_add(&g, IR_POOL_ROWS_T, in, 3, &(IrAttr){.win = SQWIN(2, 2, 0)}, SPAN_NONE), OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(&g));
    IrEval ev;
    ir_eval_init(&ev, &g, B);
    double x[B * 32], y[B * 8], rows[B * 16 * T];
    for (int e = 0; e < B * 32; e++)
        x[e] = sin(e * 0.37);
    for (int e = 0; e < B * 8; e++)
        y[e] = cos(e * 0.53);
    for (int e = 0; e < B * 16 * T; e++)
        rows[e] = sin(e * 0.71);
    rows[(1 * 16 + 5) * T + 1] = INFINITY;  /* example 1, pixel (1, 1) of window (0, 0), tap 1 */
    rows[(2 * 16 + 10) * T + 0] = NAN;      /* example 2, pixel (2, 2) of window (1, 1), tap 0 */
    ir_eval_set(&ev, in[0], x);
    ir_eval_set(&ev, in[1], y);
    ir_eval_set(&ev, in[2], rows);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
    int64_t len;
    const double *want = ir_eval_output(&ev, "d", &len);
    CU_ASSERT_FATAL(want != NULL && len == B * (T + 1) * 2);
    int nans = 0;
    for (int64_t e = 0; e < len; e++)
        nans += isnan(want[e]);
    CU_ASSERT_EQUAL(nans, 4);  /* tap 1 of example 1 and tap 0 of example 2, both channels */
    CU_ASSERT(isnan(want[(1 * (T + 1) + 1) * 2]) && isnan(want[(1 * (T + 1) + 1) * 2 + 1]));
    jit_check(&g, &ev, 1e-5, "pool_rows_t, rows of inf and NaN");
    ir_eval_free(&ev);
    arena_free(&arena);
}

/* binary_cross_entropy of a NaN prediction is NaN, in the interpreter and
 * in the generated code alike: its logs are clamped at -100 as torch's
 * clamp_min clamps them, which lets a NaN through.  (A clamp by max(log p,
 * -100) made it 100, a finite loss the runtime's non-finite guard never
 * saw, and training wrote NaN parameters over a good checkpoint.)  The
 * example of x = NaN makes p NaN; the others are finite. */
static const char bce_model[] =
    "model bce {\n input x: f32[1]\n target y: f32[1]\n p = sigmoid(dense(x, 1))\n output p\n"
    " loss binary_cross_entropy(p, y)\n}\n";

enum { BCE_B = 4 };

/* The step of model text (bce_model) for BCE_B examples of x (and of y,
 * unless NULL: then fill_step_inputs' targets), run in the interpreter into ev. */
static const IrGraph *bce_step(FrontRun *fr, NncCompiled *c, IrEval *ev, const char *text, const double *x,
                               const double *y)
{
    run_text(fr, text);
    CU_ASSERT_STRING_EQUAL_FATAL(first_error(fr), "");
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(fr->f.model, &fr->f.src, &fr->f.arena, IR_F32, STAGE_PLAN, BCE_B, c, &err), 0);
    const IrGraph *g = &c->step.L.g;
    ir_eval_init(ev, g, BCE_B);
    fill_step_inputs(ev, fr->f.model, c);
    int set = 0;
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op == IR_INPUT && n->a.role == ROLE_INPUT)
            ir_eval_set(ev, i, x), set++;
        else if (n->op == IR_INPUT && n->a.role == ROLE_TARGET && y)
            ir_eval_set(ev, i, y), set++;
    }
    CU_ASSERT_EQUAL_FATAL(set, y ? 2 : 1);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(ev), 0);
    return g;
}

static void test_bce_nan(void)
{
    FrontRun fr;
    NncCompiled c;
    IrEval ev;
    const double x[BCE_B] = {0.5, NAN, -1, 2};
    const IrGraph *g = bce_step(&fr, &c, &ev, bce_model, x, NULL);
    const char *loss = NULL;
    for (int o = 0; o < g->nouts; o++)
        if (g->outs[o].kind == OUT_LOSS)
            loss = g->outs[o].name;
    CU_ASSERT_PTR_NOT_NULL_FATAL(loss);
    int64_t len;
    const double *v = ir_eval_output(&ev, loss, &len);
    CU_ASSERT_FATAL(v != NULL && len == 1);
    if (!isnan(v[0]))
        fprintf(stderr, "binary_cross_entropy of a NaN prediction: the interpreter's loss is %g, not nan\n", v[0]);
    CU_ASSERT(isnan(v[0]));
    jit_check(g, &ev, 1e-5, "binary_cross_entropy of a NaN prediction");  /* NaN where the interpreter has NaN */
    ir_eval_free(&ev);
    run_free(&fr);
}

/* ... and a saturated prediction (p exactly 0 or 1: sigmoid of ±10^30·w) has
 * finite gradients: the clamped log's branch gets 0, and 0 / (1 - p) was
 * 0/0 = NaN, which torch's own backward (p - y) / max(p(1 - p), 1e-12)
 * never makes.  The logs now read max(v, 2^-149), whose log is below the
 * clamp: every loss the same, and 0 / 2^-149 = 0.  Every example's
 * combination of p and y: the prediction, the loss (100 for a wrong one, 0
 * for a right one) and the gradients, finite in the interpreter and the
 * generated code. */
static void test_bce_saturated(void)
{
    FrontRun fr;
    NncCompiled c;
    IrEval ev;
    const double x[BCE_B] = {1e30, -1e30, 1e30, -1e30}, y[BCE_B] = {0, 0, 1, 1};
    const IrGraph *g = bce_step(&fr, &c, &ev, bce_model, x, y);
    int finite = 0, outs = 0;
    for (int o = 0; o < g->nouts; o++) {
        int64_t len;
        const double *v = ir_eval_output(&ev, g->outs[o].name, &len);
        CU_ASSERT_FATAL(v != NULL);
        for (int64_t e = 0; e < len; e++, outs++)
            finite += isfinite(v[e]) != 0;
        if (g->outs[o].kind == OUT_LOSS)
            CU_ASSERT_DOUBLE_EQUAL(v[0], 50, 1e-4);   /* two of the four wrong, each 100 */
    }
    if (finite != outs)
        fprintf(stderr, "binary_cross_entropy of saturated predictions: %d of %d values finite\n", finite, outs);
    CU_ASSERT(outs > 0 && finite == outs);
    jit_check(g, &ev, 1e-5, "binary_cross_entropy of saturated predictions");
    ir_eval_free(&ev);
    run_free(&fr);
}

/* ... and a "probability" out of [0, 1] (a linear output given to it by
 * mistake) makes a log's argument negative: its log is NaN and so is the
 * loss, which stops training at the guard.  The saturation mend first
 * raised every argument below 2^-149 to it, negatives too, and such a
 * model trained on at a loss of −100-ish, falling. */
static void test_bce_out_of_range(void)
{
    FrontRun fr;
    NncCompiled c;
    IrEval ev;
    static const char linear[] = "model bcl {\n input x: f32[1]\n target y: f32[1]\n p = dense(x, 1)\n output p\n"
                                 " loss binary_cross_entropy(p, y)\n}\n";   /* p = w·x + b: ±1e30·w is out of [0, 1] */
    const double x[BCE_B] = {1e30, -1e30, 0.5, 0.25}, y[BCE_B] = {0, 1, 1, 0};
    const IrGraph *g = bce_step(&fr, &c, &ev, linear, x, y);
    int64_t len;
    const double *v = NULL;
    for (int o = 0; o < g->nouts; o++)
        if (g->outs[o].kind == OUT_LOSS)
            v = ir_eval_output(&ev, g->outs[o].name, &len);
    CU_ASSERT_FATAL(v != NULL);
    CU_ASSERT(isnan(v[0]));
    jit_check(g, &ev, 1e-5, "binary_cross_entropy of a probability out of [0, 1]");
    ir_eval_free(&ev);
    run_free(&fr);
}

/* ... and the rows kernel holds one copy of the row's code: for a softmax
 * over 10 classes, compiled for znver4, one exp per element, each rounding
 * once (vrndscaleps: 10 in the body).  With the remainder rows in a vector
 * epilogue and then a scalar loop it was 15 here, and the MNIST MLP's
 * forward cross-entropy kernel 1596 instructions (670 with the mask). */
static void test_short_rows_one_copy(void)
{
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    softmax_rows(&g, &arena, "short_rows", IR_F32, 10);
    int rounds;
    jit_asm_count(&g, plan_memory(&g, 64), "body0.fused_rows", (const char *[]){"vrndscale"}, &rounds, 1);
    if (rounds != 10)
        fprintf(stderr, "short rows: %d roundings in the rows kernel, not 10\n", rounds);
    CU_ASSERT_EQUAL(rounds, 10);
    arena_free(&arena);
}

/* The generator classifies ops by the op table's flags, naming only the
 * ops with a kernel of their own: a new op that fits no class must fail
 * here, by name, rather than compile to nothing. */
static void test_every_op_has_kernel(void)
{
    for (int op = 0; op < IR_OP_COUNT; op++) {
        bool leaf = (ir_ops[op].flags & OPF_LEAF) != 0;
        if (leaf == cg_op_has_kernel((IrOp)op))
            fprintf(stderr, "op %s: %s\n", ir_ops[op].name, leaf ? "a leaf with a kernel" : "no kernel in codegen");
        CU_ASSERT(leaf != cg_op_has_kernel((IrOp)op));
    }
}

/* The primitives on numbers worked out by hand (h = (3, -4, 0)
 * has norm 5, x's rows (1, -2, 2) and (0, 3, -4) norms 3 and 5), two
 * examples, the second -2 times the first: lowered, interpreted in f64 and
 * compared with the expected values to 1e-12, then compiled and compared
 * with the interpreter.  v / sqrt(sum(v * v)) divides by one number per
 * example; with keep: true by one per row. */
static void test_primitive_values(void)
{
    static const char text[] =
        "model prims {\n"
        "    input x: f32[2, 3]\n"
        "    input h: f32[3]\n"
        "    a = concat(h / sqrt(sum(h * h)), flatten(x / sqrt(sum(x * x, keep: true))))\n"
        "    b = concat(concat(abs(h), pow(h, 2)), concat(clamp(h, min: -1, max: 1), maximum(h, 0.5)))\n"
        "    c = concat(concat(minimum(h, x[0]), sum(x, axis: 0)), concat(mean(x, axis: -1), max(x, axis: 0)))\n"
        "    d = concat(max(x), max(x, axis: [0, 1], keep: true)[0])\n"
        "    e = concat(concat(flatten(transpose(x)), x[1, 0:2]), concat(x[:, -1], flatten(concat(x, x[0:1], axis: 0))))\n"
        "    output concat(concat(concat(a, b), concat(c, d)), concat(e, exp(log(abs(h) + 1))))\n"
        "}\n";
    static const double x1[6] = {1, -2, 2, 0, 3, -4}, h1[3] = {3, -4, 0};
    static const double want1[57] = {
        0.6, -0.8, 0, 1.0 / 3, -2.0 / 3, 2.0 / 3, 0, 0.6, -0.8,     /* a */
        3, 4, 0, 9, 16, 0, 1, -1, 0, 3, 0.5, 0.5,                   /* b */
        1, -4, 0, 1, 1, -2, 1.0 / 3, -1.0 / 3, 1, 3, 2,             /* c */
        2, 3, 3,                                                    /* d */
        1, 0, -2, 3, 2, -4, 0, 3, 2, -4, 1, -2, 2, 0, 3, -4, 1, -2, 2, /* e */
        4, 5, 1,
    };
    static const double want2[57] = {
        -0.6, 0.8, 0, -1.0 / 3, 2.0 / 3, -2.0 / 3, 0, -0.6, 0.8,
        6, 8, 0, 36, 64, 0, -1, 1, 0, 0.5, 8, 0.5,
        -6, 4, -4, -2, -2, 4, -2.0 / 3, 2.0 / 3, 0, 4, 8,
        4, 8, 8,
        -2, 0, 4, -6, -4, 8, 0, -6, -4, 8, -2, 4, -4, 0, -6, 8, -2, 4, -4,
        7, 9, 1,
    };
    FrontRun fr;
    run_text(&fr, text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fr.f.model);
    Lowered L;
    const char *err = NULL;
    LowerOptions opt = {.ftype = IR_F64};
    CU_ASSERT_EQUAL_FATAL(lower_model(fr.f.model, &fr.f.src, &fr.f.arena, &opt, &L, &err), 0);
    IrGraph *g = &L.g;
    IrEval ev;
    ir_eval_init(&ev, g, 2);
    double xs[12], hs[6];
    for (int i = 0; i < 6; i++)
        xs[i] = x1[i], xs[6 + i] = -2 * x1[i];
    for (int i = 0; i < 3; i++)
        hs[i] = h1[i], hs[3 + i] = -2 * h1[i];
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].op == IR_INPUT && g->nodes[i].a.role == ROLE_INPUT)
            ir_eval_set(&ev, i, strcmp(g->nodes[i].a.name, "x") == 0 ? xs : hs);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
    int64_t len;
    const double *y = ir_eval_output(&ev, "output", &len);
    CU_ASSERT_EQUAL_FATAL(len, 2 * 57);
    for (int e = 0; e < 57; e++) {
        if (fabs(y[e] - want1[e]) > 1e-12 || fabs(y[57 + e] - want2[e]) > 1e-12)
            fprintf(stderr, "primitive values: element %d is %.17g and %.17g, expected %.17g and %.17g\n", e, y[e],
                    y[57 + e], want1[e], want2[e]);
        CU_ASSERT(fabs(y[e] - want1[e]) <= 1e-12 && fabs(y[57 + e] - want2[e]) <= 1e-12);
    }
    jit_check(g, &ev, 1e-12, "primitive values compiled");
    ir_eval_free(&ev);
    run_free(&fr);
}

/* What follows c1 in the models below: a second convolution (8 filters, 3×3,
 * padding 1) and a dense head. */
#define IMPLICIT_TAIL                                      \
    "    c2 = relu(conv2d(c1, 8, kernel: 3, padding: 1))\n" \
    "    logits = dense(flatten(c2), 3)\n"                  \
    "    output logits\n"                                   \
    "    loss cross_entropy(logits, y)\n"                   \
    "    metric accuracy(logits, y)\n"                      \
    "}\n"

/* passes/implicit.c reads a convolution's patches from the image instead of
 * writing them out, the same products added in the same order: the same
 * bits.  A two-convolution step (stride 2, then 1; both weight gradients
 * read swapped, k·k·C ≥ filters) compiled twice: by the pipeline, and with
 * its passes after `opt` run by hand without pass_implicit_patches; run on
 * the same inputs (bound by name), the first on one thread and on two,
 * every output (loss, metric, each updated parameter) must be the same
 * bytes.  That the pass did its work
 * is asserted too: five matmuls read patches in the first graph (both
 * forwards, both weight gradients, the second's input gradient as a
 * convolution: conv_grad.c), none in the second. */
static const char implicit_model[] =
    "model implicit_bits {\n"
    "    input x: f32[2, 9, 9]\n"
    "    target y: class(3)\n"
    "    c1 = max_pool(relu(conv2d(x, 4, kernel: 3, stride: 2, padding: 1)), 2, stride: 1)\n"
    IMPLICIT_TAIL;

static int implicit_matmuls(const IrGraph *g)
{
    int n = 0;
    for (int i = 0; i < g->n; i++)
        n += cg_is_matmul(g->nodes[i].op) && ir_mm_patches(&g->nodes[i]) != 0;
    return n;
}

/* The same for channels a multiple of the vector (16 here): the weight
 * gradients' op(B) is then copied vector by vector, the pixel's place
 * carried from pixel to pixel (cg_implicit.c's copy_b_vectors).  Batch 17
 * makes K = 17 × 25 = 425 pixels two chunks of 213, the second starting
 * inside an image's row (pixel 13 of plane 8); the first convolution has
 * stride 2 and padding. */
static const char implicit_vector_model[] =
    "model implicit_vectors {\n"
    "    input x: f32[16, 9, 9]\n"
    "    target y: class(3)\n"
    "    c1 = relu(conv2d(x, 16, kernel: 3, stride: 2, padding: 1))\n"
    IMPLICIT_TAIL;

/* Channels a multiple of the register tile's width (32: NR on AVX-512 is 32,
 * on AVX2 16): the first convolution's weight gradient reads op(B)'s rows
 * where they are, a pointer per pixel into x or at zeros in the padding
 * (cg_implicit_b_rows), and its items are one panel × one block of rows
 * (cg_matmul.c's items_are_tiles): 13 filters are two blocks of 7 rows, the
 * second cut by M.  Batch 17: K = 17 × 25 = 425 pixels in two chunks, the
 * second starting inside an image's row; stride 2 and padding. */
static const char implicit_rows_model[] =
    "model implicit_rows {\n"
    "    input x: f32[32, 9, 9]\n"
    "    target y: class(3)\n"
    "    c1 = relu(conv2d(x, 13, kernel: 3, stride: 2, padding: 1))\n"
    IMPLICIT_TAIL;

/* Rows in place as above, with items that claims cut apart: a 2×2 kernel
 * over 32 channels is 4 panels, and 25 filters are 3 blocks of 9 rows (the
 * last cut by M), so 12 items (cg_matmul.c's items_are_tiles), 8 claims on
 * two threads, most of them across two panels; a thread that runs items of
 * one panel in a row reuses their pointers (the slot's tag).  Batch 17:
 * K = 17 × 25 = 425 pixels in two chunks (stride 2: at most 63 pixels an
 * example, so that batch_split leaves the bias gradients alone, as the
 * pipeline without patches does).  Run on one thread and on two: the same
 * bits as without patches. */
static const char implicit_groups_model[] =
    "model implicit_groups {\n"
    "    input x: f32[32, 9, 9]\n"
    "    target y: class(3)\n"
    "    c1 = relu(conv2d(x, 25, kernel: 2, stride: 2, padding: 1))\n"
    IMPLICIT_TAIL;

/* Padding skipped: 7 pixels wide, so that a block of A's rows read as
 * patches is one row of output pixels (cg_implicit_row_block: 7 rows on a
 * 12-row tile) and a tap whose image row is all padding is skipped for the
 * block (cg_implicit_tap_in_padding), in both forwards and the second's input
 * gradient.  Its 0 · w terms change no sum: the same bits as the written-out
 * patches, which multiply them.  Batch 5: 35 blocks. */
static const char implicit_padded_model[] =
    "model implicit_padded {\n"
    "    input x: f32[3, 7, 7]\n"
    "    target y: class(3)\n"
    "    c1 = relu(conv2d(x, 8, kernel: 3, padding: 1))\n"
    IMPLICIT_TAIL;

/* A 17×17 kernel: 289 taps, more than cg_matmul.c reads in place with a
 * pointer per row and tap (TAP_ROWS_MAX), so its rows are copied (no input
 * gradient: x is the model's input). */
static const char implicit_wide_model[] =
    "model implicit_wide {\n"
    "    input x: f32[1, 20, 20]\n"
    "    target y: class(3)\n"
    "    c = relu(conv2d(x, 4, kernel: 17, padding: 1))\n"
    "    logits = dense(flatten(c), 3)\n"
    "    output logits\n"
    "    loss cross_entropy(logits, y)\n"
    "    metric accuracy(logits, y)\n"
    "}\n";

static void implicit_same_bits(const char *model, int batch, int matmuls, int conv_grads);

/* Every output of run a (graph ga, plan pa) has run b's bytes (graph gb,
 * the same outputs); `what` names a's step where one differs. */
static void same_outputs(const JitRun *a, const IrGraph *ga, const IrPlan *pa, const JitRun *b, const IrGraph *gb,
                         const IrPlan *pb, int64_t batch, const char *what)
{
    CU_ASSERT_EQUAL_FATAL(ga->nouts, gb->nouts);
    for (int o = 0; o < ga->nouts; o++) {
        const IrNode *na, *nb;
        const uint8_t *x = jit_output(a, ga, pa, &ga->outs[o], &na);
        const uint8_t *y = jit_output(b, gb, pb, &gb->outs[o], &nb);
        CU_ASSERT_STRING_EQUAL(ga->outs[o].name, gb->outs[o].name);
        CU_ASSERT_FATAL(ir_shape_equal(&na->shape, &nb->shape));
        size_t bytes = (size_t)ir_elems(&na->shape, batch) * (size_t)ir_type_size(na->type);
        bool same = memcmp(x, y, bytes) == 0;
        if (!same)
            fprintf(stderr, "%s: output %s differs from the step without them\n", what, ga->outs[o].name);
        CU_ASSERT(same);
    }
}

/* ga's step (planned pa, compiled by the caller as entry_a: callers that
 * also compare it with the interpreter compile it once, LLVM being nearly
 * all of unit.codegen's time; inputs ea) on one thread and on two (claims
 * of a call on both) against gb's (pb, eb) on one: every output the same
 * bits (same_outputs), or a failure naming `what` and the thread count. */
static void runs_match(JitEntry entry_a, const IrGraph *ga, const IrPlan *pa, const IrEval *ea, const IrGraph *gb,
                       const IrPlan *pb, const IrEval *eb, int64_t batch, const char *what)
{
    JitEntry entry_b = jit_compile(gb, pb);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry_a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry_b);
    JitRun ra[2], rb;
    RtPool *pool = rt_pool_create(2);
    jit_run(&ra[0], entry_a, ga, pa, ea, NULL);
    jit_run(&ra[1], entry_a, ga, pa, ea, pool);
    rt_pool_destroy(pool);
    jit_run(&rb, entry_b, gb, pb, eb, NULL);
    for (int t = 0; t < 2; t++) {
        char on[600];
        snprintf(on, sizeof on, "%s on %d thread%s", what, t + 1, t ? "s" : "");
        same_outputs(&ra[t], ga, pa, &rb, gb, pb, batch, on);
        jit_run_free(&ra[t]);
    }
    jit_run_free(&rb);
}


static void test_implicit_same_bits(void)
{
    implicit_same_bits(implicit_model, 5, 5, 1);
}

static void test_implicit_vectors_same_bits(void)
{
    implicit_same_bits(implicit_vector_model, 17, 5, 1);
}

static void test_implicit_rows_same_bits(void)
{
    implicit_same_bits(implicit_rows_model, 17, 5, 1);
}

static void test_implicit_groups_same_bits(void)
{
    implicit_same_bits(implicit_groups_model, 17, 5, 1);
}

static void test_implicit_padded_same_bits(void)
{
    implicit_same_bits(implicit_padded_model, 5, 5, 1);
}

static void test_implicit_wide_same_bits(void)
{
    implicit_same_bits(implicit_wide_model, 3, 2, 0);
}

static void implicit_same_bits(const char *model, int batch, int matmuls, int conv_grads)
{
    FrontRun fr;
    run_text(&fr, model);
    CU_ASSERT_STRING_EQUAL_FATAL(first_error(&fr), "");
    const SemaModel *m = fr.f.model;
    NncCompiled with, without;
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(m, &fr.f.src, &fr.f.arena, IR_F32, STAGE_PLAN, batch, &with, &err), 0);
    CU_ASSERT_EQUAL_FATAL(nnc_compile(m, &fr.f.src, &fr.f.arena, IR_F32, STAGE_OPT, batch, &without, &err), 0);
    IrGraph *gb = &without.step.L.g;
    CU_ASSERT_FATAL(pass_fuse(gb) >= 0 && !ir_verify(gb));
    CU_ASSERT_FATAL(pass_conv_input_grad(gb) == conv_grads && !ir_verify(gb));
    CU_ASSERT_FATAL(pass_dce(gb) >= 0 && !ir_verify(gb));
    CU_ASSERT_FATAL(pass_buckets(gb) >= 0 && !ir_verify(gb));
    IrPlan *plan_b = plan_memory(gb, batch);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plan_b);
    const IrGraph *ga = &with.step.L.g;
    CU_ASSERT_EQUAL(implicit_matmuls(ga), matmuls);
    CU_ASSERT_EQUAL(implicit_matmuls(gb), 0);

    IrEval ea, eb;   /* only the inputs: parameters, data, state, step */
    ir_eval_init(&ea, ga, batch);
    fill_step_inputs(&ea, m, &with);
    ir_eval_init(&eb, gb, batch);
    for (int i = 0; i < gb->n; i++) {
        const IrNode *n = &gb->nodes[i];
        if (n->op != IR_INPUT)
            continue;
        int j = 0;
        while (j < ga->n && !(ga->nodes[j].op == IR_INPUT && ga->nodes[j].a.role == n->a.role
                              && strcmp(ga->nodes[j].a.name, n->a.name) == 0))
            j++;
        CU_ASSERT_FATAL(j < ga->n && ea.val[j] != NULL);
        ir_eval_set(&eb, i, ea.val[j]);
    }
    runs_match(jit_compile(ga, with.plan), ga, with.plan, &ea, gb, plan_b, &eb, batch, "implicit patches");
    ir_eval_free(&ea);
    ir_eval_free(&eb);
    run_free(&fr);
}

/* A weight's gradient contracting over the batch and the sequence, its
 * op(B) read in place (cg_matmul.c, lead_b_in_place): tests/unit/lead.nn's
 * first layer, C [26, 64] over x [B, 50, 64], its items one panel × one
 * block of rows each (items_are_tiles), compiled for batch 3 and run
 * at 3 (K = 150, one chunk) and at 8 (K = 400, two chunks: the second
 * resumes from the first's partial sums), in f32 and f64.  Every updated
 * parameter agrees with the interpreter, within 1e-5 relative in f32 and
 * 1e-12 in f64, and on 1 and 2 threads bit for bit (jit_compare).  A panel
 * read from the wrong columns or rows of B is far beyond either. */
static void test_lead_in_place(void)
{
    static const int64_t batches[2] = {3, 8};
    const char *path = NNC_SOURCE_DIR "/tests/unit/lead.nn";
    for (int t = 0; t < 2; t++) {
        IrType type = t ? IR_F64 : IR_F32;
        FrontRun fr;
        NncCompiled c;
        plan_file(&fr, path, type, 3, &c);
        const IrGraph *g = &c.step.L.g;
        bool lead = false;  /* else this tests some other product */
        for (int i = 0; i < g->n; i++) {
            const IrNode *n = &g->nodes[i];
            lead |= cg_is_matmul(n->op) && ir_mm_lead(n) && !ir_mm_tb(n) && n->shape.rank == 2
                    && n->shape.dim[0] == 26 && n->shape.dim[1] == 64;
        }
        CU_ASSERT(lead);
        run_free(&fr);
        check_batches(path, type, 3, batches, 2, t ? 1e-12 : 1e-5);
    }
}

/* The per-head products of a causal attention skip what its mask throws
 * away (passes/triangle.c; cg_matmul.c, tri_k_loops), and its softmax and
 * the softmax's backward stop each row at the mask (cg_kernels.c,
 * rows_at_stops): path's step (six products with a triangle, two
 * fused_rows) compiled for `batch` runs, on one thread and on two, to the
 * same bytes as the same step with the triangles cleared, which computes
 * everything: a skipped term is 0·v, which changes no sum, the scores and
 * dP outside the triangle, left 0, are read by nobody (the select drops
 * them, P's zeros multiply them), and a row's values past its stop are
 * one value, computed once. */
static void causal_same_bits(const char *path, IrType type, int64_t batch, double tol)
{
    FrontRun fr;
    NncCompiled with, without;
    plan_file(&fr, path, type, batch, &with);
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(fr.f.model, &fr.f.src, &fr.f.arena, type, STAGE_PLAN, batch, &without, &err), 0);
    const IrGraph *ga = &with.step.L.g;
    IrGraph *gb = &without.step.L.g;
    int tri, rows;
    jit_clear_triangles(gb, &tri, &rows);
    CU_ASSERT_EQUAL(tri, 6);
    CU_ASSERT_EQUAL(rows, 2);  /* the softmax and its backward */
    IrEval ev;   /* only the inputs: parameters, data, state, step */
    ir_eval_init(&ev, ga, batch);
    fill_step_inputs(&ev, fr.f.model, &with);
    char what[512];
    snprintf(what, sizeof what, "%s %s with triangles", path, ir_type_name(type));
    JitEntry entry = jit_compile(ga, with.plan);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
#ifdef NNC_SANITIZED
    (void)tol;   /* the values are the release pass's to compare (see build_only) */
#else
    /* the step with triangles against the interpreter (check_batches', on
     * this entry) */
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
    jit_check_entry(entry, ga, with.plan, &ev, tol, what);
#endif
    runs_match(entry, ga, with.plan, &ev, gb, without.plan, &ev, batch, what);
    ir_eval_free(&ev);
    run_free(&fr);
}

/* tests/unit/causal.nn (scores 40 × 40 in two heads: tiles cut by M and N)
 * and causal_long.nn (400 × 400: the contractions over 400 in two chunks),
 * in f32 and f64 (other tiles: 16 columns), each against the interpreter
 * (1e-5 and 1e-12 relative; 1 and 2 threads bit for bit: jit_check_entry)
 * and against itself without the triangles (causal_same_bits, one compile
 * of the step for both). */
static void test_causal_triangle(void)
{
    static const char *const paths[2] = {NNC_SOURCE_DIR "/tests/unit/causal.nn", NNC_SOURCE_DIR "/tests/unit/causal_long.nn"};
    for (int p = 0; p < 2; p++)
        for (int t = 0; t < 2; t++)
            causal_same_bits(paths[p], t ? IR_F64 : IR_F32, 3, t ? 1e-12 : 1e-5);
    /* rows of one column: compiled (no stop to make) and agreeing */
    for (int t = 0; t < 2; t++)
        check(NNC_SOURCE_DIR "/tests/unit/causal_one.nn", t ? IR_F64 : IR_F32, 3, t ? 1e-12 : 1e-5);
}

/* A causal mask with an offset: keys at j − 1, so row i keeps j <= i + 1
 * (d = 1; lower_attention's own mask has d = 0).  By hand, q, k, v [B, T,
 * 32] and g [B, T, T]: P = causal_softmax(q·kᵀ), P·V, Pᵀ·V, a softmax's
 * backward as simplify.c leaves it, dS = select(mask, P·(g − sum(g·P)),
 * 0), and dS·k, and the softmax of −(x − max) (NaN past the mask: the one
 * value written there), fused; the triangle pass gives q·kᵀ tri_c +1, P·V
 * and dS·k tri_a_lower +1, Pᵀ·V tri_a_upper +1, and the three fused_rows
 * tri_rows +1, and the code agrees with the interpreter on 1 and 2
 * threads (in the release pass; under the sanitizers see below), in f32
 * and f64 at T = 40 .. 96 (41 and 57: odd, rows stopped one an item) and
 * at 137 and 150, rows of more than ROWS_STOP_COPIES · 16
 * = 128 places, which loop to a variable stop (cg_kernels.c
 * STOPS_VARIABLE; causal_long.nn's 400 is even and a multiple of 16: 137
 * is odd, and neither ends on a whole vector), and with itself without the
 * triangles, bit for bit: a k range that left d out would drop column
 * i + 1 of every block's last row (or row i − 1 of its first), and a
 * vector count, where that column starts a vector (which rows make a block
 * depends on T and the type, tri_mr: four of the twelve have one); a row
 * stopped without d would drop it where it starts a vector of 16 (T/16 − 1
 * of the rows' i + 1 do: 2 at T = 48, 5 at T = 96). */
static void check_causal_offset(IrType type, int64_t T, double tol)
{
    enum { D = 32, TMAX = 150 };
    static double qplaces[TMAX], kplaces[TMAX];
    for (int i = 0; i < T; i++)
        qplaces[i] = i, kplaces[i] = i - 1;
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    ir_init(&g, &arena, NULL, "offset", type);
    IrShape s3 = {3, {IR_BATCH, T, D}}, st = {3, {IR_BATCH, T, T}};
    int q = ir_input(&g, ROLE_INPUT, "q", type, &s3, SPAN_NONE);
    int k = ir_input(&g, ROLE_INPUT, "k", type, &s3, SPAN_NONE);
    int v = ir_input(&g, ROLE_INPUT, "v", type, &s3, SPAN_NONE);
    int dp = ir_input(&g, ROLE_INPUT, "g", type, &st, SPAN_NONE);
    int sc = ir_matmul(&g, q, k, false, true, SPAN_NONE), mask;
    int p = causal_softmax(&g, sc, T, qplaces, kplaces, CAUSAL_SOFTMAX, &mask);
    ir_output(&g, "pn", causal_softmax(&g, sc, T, qplaces, kplaces, CAUSAL_NEGATED, &(int){0}), OUT_PREDICTION, -1);
    ir_output(&g, "o", ir_matmul(&g, p, v, false, false, SPAN_NONE), OUT_PREDICTION, -1);
    ir_output(&g, "ot", ir_matmul(&g, p, v, true, false, SPAN_NONE), OUT_PREDICTION, -1);  /* Pᵀ·v, as Pᵀ·dO */
    int gp = ir_reduce(&g, IR_SUM, ir_binary(&g, IR_MUL, dp, p, SPAN_NONE), 1u << 2, SPAN_NONE);
    int ds = ir_binary(&g, IR_MUL, p, ir_binary(&g, IR_SUB, dp, gp, SPAN_NONE), SPAN_NONE);
    ds = ir_add(&g, IR_SELECT, (int[]){mask, ds, ir_const(&g, 0, SPAN_NONE)}, 3, NULL, SPAN_NONE);
    ir_output(&g, "ds", ir_matmul(&g, ds, k, false, false, SPAN_NONE), OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(&g));
    CU_ASSERT_FATAL(pass_fuse(&g) > 0);
    CU_ASSERT_EQUAL_FATAL(pass_triangle(&g), 7);
    CU_ASSERT_PTR_NULL_FATAL(ir_verify(&g));
    IrGraph whole = g;  /* the same step computing everything */
    whole.nodes = malloc(sizeof *whole.nodes * (size_t)g.n);
    memcpy(whole.nodes, g.nodes, sizeof *whole.nodes * (size_t)g.n);
    for (int i = 0; i < g.n; i++) {  /* else this tests d = 0 */
        const IrNode *n = &whole.nodes[i];
        if (n->op == IR_MATMUL)
            CU_ASSERT_EQUAL(ir_mm_tri_offset(n), 1);
        if (n->op == IR_FUSED_ROWS && ir_rows_tri_mask(n) >= 0)
            CU_ASSERT_EQUAL(ir_rows_tri_offset(n), 1);
    }
    int products, rows;
    jit_clear_triangles(&whole, &products, &rows);
    CU_ASSERT_EQUAL(products, 4);
    CU_ASSERT_EQUAL(rows, 3);
    const int64_t B = 3;
    IrEval ev;
    ir_eval_init(&ev, &g, B);
    double *val = malloc(sizeof *val * B * T * (T > D ? T : D));
    for (int in = 0; in < 4; in++) {
        for (int64_t e2 = 0; e2 < B * T * (in < 3 ? D : T); e2++)
            val[e2] = sin((double)(e2 * (in + 2)) * 0.37 + in);
        ir_eval_set(&ev, (int[]){q, k, v, dp}[in], val);
    }
    free(val);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
    char what[64];
    snprintf(what, sizeof what, "causal offset 1, %s T=%lld", ir_type_name(type), (long long)T);
#ifdef NNC_SANITIZED
    /* Under the sanitizers two of the ten lengths are compiled and run, in
     * f32 and f64: 41 (odd: rows stopped one an item) and 137 (rows that
     * loop to a variable stop).  The others' steps, with the triangles and
     * without, are built and verified by the code generator (nnc's code,
     * instrumented) and stop before LLVM optimizes and compiles them, as in
     * build_only: LLVM (not instrumented) was most of this suite's time
     * there, and the values are the release pass's to compare. */
    if (T != 41 && T != 137) {
        CU_ASSERT_EQUAL(jit_build(&g, plan_memory(&g, B)), 0);
        CU_ASSERT_EQUAL(jit_build(&whole, plan_memory(&whole, B)), 0);
        free(whole.nodes);
        ir_eval_free(&ev);
        arena_free(&arena);
        return;
    }
#endif
    /* compiled once for both comparisons (jit_check's plan: g at ev's batch) */
    IrPlan *plan = plan_memory(&g, B), *whole_plan = plan_memory(&whole, B);
    JitEntry entry = jit_compile(&g, plan);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
    jit_check_entry(entry, &g, plan, &ev, tol, what);
    runs_match(entry, &g, plan, &ev, &whole, whole_plan, &ev, B, what);
    free(whole.nodes);
    ir_eval_free(&ev);
    arena_free(&arena);
}

static void test_causal_offset(void)
{
    static const int64_t ts[] = {40, 41, 48, 56, 57, 64, 80, 96, 137, 150};  /* odd T: items of one row */
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        check_causal_offset(IR_F32, ts[i], 1e-5);
        check_causal_offset(IR_F64, ts[i], 1e-12);
    }
}

/* Updates written over the values they replace (cg_inplace.c), in
 * tests/unit/inplace.nn's momentum step planned for batch 16: the new
 * weight (an elementwise kernel) always; the new momentum buffer of the
 * first layer (the weight gradient's matmul, K = the batch) while K is one
 * chunk, below 1.5 times the row's kc, and not once K takes chunks; the
 * bias (one row) never.  At batches 16, 600 and 800, with the harness's
 * kc of 256 (600 and 800 in chunks) and the same row at kc 512 (Zen 4's:
 * 600 one chunk, which fails if chunk_depth and the one-chunk test ever
 * disagree on kc; on every CPU, kc being no matter of its vectors).  Written in place, the value's own planned buffer is
 * left as it was (it differs from the parameter); copied, it equals it.
 * Every updated value agrees with the interpreter, and on 1 and 2 threads
 * bit for bit, at each batch; and the two kc's alike, bit for bit (chunks
 * never change a sum). */
static void test_update_in_place(void)
{
    static const int64_t batches[3] = {16, 600, 800};
    const char *path = NNC_SOURCE_DIR "/tests/unit/inplace.nn";
    check_batches(path, IR_F32, 16, batches, 3, 1e-5);
    FrontRun fr;
    run_file(&fr, path);
    const SemaModel *m = fr.f.model;
    NncCompiled c;
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(m, &fr.f.src, &fr.f.arena, IR_F32, STAGE_PLAN, 16, &c, &err), 0);
    const IrGraph *g = &c.step.L.g;
    CgTune deep = *jit_tune();
    deep.kc = 512;
    const CgTune *tunes[2] = {jit_tune(), &deep};
    uint8_t *first[3][3] = {{NULL}};  /* the harness's updates, by batch and want */
    for (int u = 0; u < 2; u++) {
        JitEntry entry = jit_compile_tuned(g, c.plan, tunes[u]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
        int64_t one_chunk = tunes[u]->kc + tunes[u]->kc / 2;
        for (int k = 0; k < 3; k++) {
            const struct {
                const char *name;
                bool        in_place;
            } want[] = {
                {"h.weight", true},
                {"optimizer.h.weight.momentum_buffer", batches[k] < one_chunk},
                {"h.bias", false},
            };
            IrEval ev;
            ir_eval_init(&ev, g, batches[k]);
            fill_step_inputs(&ev, m, &c);
            JitRun run;
            jit_run(&run, entry, g, c.plan, &ev, NULL);
            int found = 0;
            for (int o = 0; o < g->nouts; o++)
                for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
                    const IrOutput *out = &g->outs[o];
                    if (out->kind != OUT_UPDATE || strcmp(out->name, want[w].name) != 0)
                        continue;
                    found++;
                    const IrNode *n;
                    const uint8_t *param = jit_output(&run, g, c.plan, out, &n);
                    const uint8_t *own = run.slab[c.plan->slab[out->value]] + plan_at(c.plan, c.plan->offset[out->value],
                                                                                      batches[k]);
                    size_t bytes = (size_t)ir_elems(&n->shape, 1) * (size_t)ir_type_size(n->type);
                    bool copied = memcmp(param, own, bytes) == 0;
                    if (copied == want[w].in_place)
                        fprintf(stderr, "kc %d, batch %lld: %s was %s, not %s\n", tunes[u]->kc, (long long)batches[k],
                                out->name, copied ? "copied" : "written in place", want[w].in_place ? "in place" : "copied");
                    CU_ASSERT(copied != want[w].in_place);
                    if (u == 0) {
                        first[k][w] = malloc(bytes);
                        memcpy(first[k][w], param, bytes);
                    } else {
                        CU_ASSERT(first[k][w] && memcmp(first[k][w], param, bytes) == 0);
                        free(first[k][w]);
                    }
                }
            CU_ASSERT_EQUAL(found, 3);
            jit_run_free(&run);
            ir_eval_free(&ev);
        }
    }
    run_free(&fr);
}

/* The value output `name` (an update's, or a state's) of graph g, or -1. */
static int output_value(const IrGraph *g, const char *name)
{
    for (int o = 0; o < g->nouts; o++)
        if (g->outs[o].kind == OUT_UPDATE && strcmp(g->outs[o].name, name) == 0)
            return g->outs[o].value;
    return -1;
}

/* Consecutive elementwise kernels merged into one loop (cg_group.c), in
 * tests/unit/group.nn's Adam step planned for batch 16.  A weight's three
 * updates (its first moment, its second, then itself from both) are one
 * group, which the weight's kernel launches.  A bias's two moments are one
 * group, but its own update is not in it: a bias is one row, which
 * cg_inplace.c does not write in place, and the bias's gradient is dead
 * once the moments have read it, so the plan may give the update its bytes
 * (for h.bias it does): written in the moments' loop they would be the
 * same bytes as an operand both read.
 * Every updated value agrees with the interpreter, in f32 and f64, at batch
 * 16 and 400, and on 1 and 2 threads bit for bit (check_batches). */
static void test_update_groups(void)
{
    static const int64_t batches[2] = {16, 400};
    const char *path = NNC_SOURCE_DIR "/tests/unit/group.nn";
    check_batches(path, IR_F32, 16, batches, 2, 1e-5);
    check_batches(path, IR_F64, 16, batches, 2, 1e-12);
    FrontRun fr;
    NncCompiled c;
    plan_file(&fr, path, IR_F32, 16, &c);
    const IrGraph *g = &c.step.L.g;
    int *inplace = cg_inplace_plan(g, c.plan->alias), *group = cg_group_plan(g, c.plan, inplace);
    CU_ASSERT_PTR_NOT_NULL_FATAL(group);
    static const char *const params[] = {"h.weight", "p.weight", "h.bias", "p.bias"};
    for (int k = 0; k < 4; k++) {
        char m[128], v[128];
        snprintf(m, sizeof m, "optimizer.%s.exp_avg", params[k]);
        snprintf(v, sizeof v, "optimizer.%s.exp_avg_sq", params[k]);
        int w = output_value(g, params[k]), mv = output_value(g, m), vv = output_value(g, v);
        CU_ASSERT_FATAL(w >= 0 && mv >= 0 && vv >= 0);
        bool bias = k >= 2;
        /* the moments together, launched by the second unless the weight joins */
        CU_ASSERT(group[mv] >= 0 && group[mv] == group[vv]);
        CU_ASSERT_EQUAL(group[w], bias ? -1 : w);
        CU_ASSERT_EQUAL(group[mv], bias ? vv : w);
        if (k == 2)  /* why it stays out: its bytes are the gradient's */
            CU_ASSERT(c.plan->offset[w].fixed == c.plan->offset[g->nodes[mv].in[1]].fixed
                      && c.plan->offset[w].per_ex == c.plan->offset[g->nodes[mv].in[1]].per_ex);
    }
    free(group);
    free(inplace);
    run_free(&fr);
}

/* A graph built by hand for the group tests: its parameter w of shape s. */
static int hand_graph(Arena *arena, IrGraph *g, IrShape s)
{
    arena_init(arena);
    ir_init(g, arena, NULL, "t", IR_F32);
    return ir_input(g, ROLE_PARAM, "w", IR_F32, &s, SPAN_NONE);
}

/* Outputs a and e of a hand-built graph, then its groups under its plan at
 * batch 4 (cg_group_plan, no update in place; the caller frees them). */
static int *hand_groups(IrGraph *g, int a, int e, IrPlan **plan)
{
    ir_output(g, "a", a, OUT_PREDICTION, -1);
    ir_output(g, "e", e, OUT_PREDICTION, -1);
    *plan = plan_memory(g, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*plan);
    int *group = cg_group_plan(g, *plan, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(group);
    return group;
}

/* A group ends at a value an ALLREDUCE sends (cg_group.c): the entry
 * starts the send right after that value's own kernel, so it cannot be
 * made later inside the next one's loop.  By hand: a parameter's neg and
 * exp (flat, one shape, consecutive kernels), the first sent (sent 1), or
 * a view of it (sent 2: a reshape to [16], which the entry sends where
 * the view stands, before the exp): no group; the same graph without the
 * send: one group, launched by the exp. */
static void test_group_ends_at_send(void)
{
    for (int sent = 0; sent < 3; sent++) {
        Arena arena;
        IrGraph g;
        IrPlan *p;
        int w = hand_graph(&arena, &g, (IrShape){2, {4, 4}});
        int e1 = ir_unary(&g, IR_NEG, w, SPAN_NONE);
        int r = sent == 2 ? ir_add(&g, IR_RESHAPE, &e1, 1, &(IrAttr){.shape = {1, {16}}}, SPAN_NONE) : e1;
        int e2 = ir_unary(&g, IR_EXP, w, SPAN_NONE);
        int a = sent ? ir_add(&g, IR_ALLREDUCE, &r, 1, &(IrAttr){.i = {-1}}, SPAN_NONE) : e1;
        int *group = hand_groups(&g, a, e2, &p);
        CU_ASSERT(sent != 2 || p->alias[r] == e1);  /* else this tests no view */
        CU_ASSERT_EQUAL(group[e1], sent ? -1 : e2);
        CU_ASSERT_EQUAL(group[e2], sent ? -1 : e2);
        free(group);
        arena_free(&arena);
    }
}

/* Nor does a group take a member whose operand is a view of an earlier
 * member's result (cg_group.c): the view is read from memory, which the
 * group writes only in the same loop.  By hand: w [1], e1 = neg(w), its
 * view r as a scalar, e2 = w + r (flat: r has rank 0): no group; with w in
 * r's place, one. */
static void test_group_not_through_view(void)
{
    for (int view = 0; view < 2; view++) {
        Arena arena;
        IrGraph g;
        IrPlan *p;
        int w = hand_graph(&arena, &g, (IrShape){1, {1}});
        int e1 = ir_unary(&g, IR_NEG, w, SPAN_NONE);
        int r = view ? ir_add(&g, IR_RESHAPE, &e1, 1, &(IrAttr){.shape = {0, {0}}}, SPAN_NONE) : w;
        int e2 = ir_add(&g, IR_ADD, (int[]){w, r}, 2, NULL, SPAN_NONE);
        int *group = hand_groups(&g, e1, e2, &p);
        CU_ASSERT(!view || p->alias[r] == e1);  /* else this tests no view */
        CU_ASSERT_EQUAL(group[e1], view ? -1 : e2);
        free(group);
        arena_free(&arena);
    }
}

/* Nor a member whose bytes the plan may have given to v: by hand, e1 =
 * neg(w) that nothing reads (dce would remove it; a graph built by hand
 * keeps it), then e2 = exp(w).  The plan frees e1's bytes at once and gives
 * them to e2, so in one loop both would store to one address: no group. */
static void test_group_not_over_unread(void)
{
    Arena arena;
    IrGraph g;
    int w = hand_graph(&arena, &g, (IrShape){2, {4, 4}});
    int e1 = ir_unary(&g, IR_NEG, w, SPAN_NONE);
    int e2 = ir_unary(&g, IR_EXP, w, SPAN_NONE);
    ir_output(&g, "e", e2, OUT_PREDICTION, -1);
    IrPlan *p = plan_memory(&g, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_FATAL(p->slab[e1] == p->slab[e2] && plan_at(p, p->offset[e1], 4) == plan_at(p, p->offset[e2], 4));
    int *group = cg_group_plan(&g, p, NULL);  /* else this tests nothing */
    CU_ASSERT_PTR_NOT_NULL_FATAL(group);
    CU_ASSERT_EQUAL(group[e1], -1);
    CU_ASSERT_EQUAL(group[e2], -1);
    free(group);
    arena_free(&arena);
}

/* Two groups whose members have the same programs but other wiring do not
 * share a body (cg_module.c's body_key: each operand's slot is in the
 * key).  By hand, x and y [B, 4]: a = exp(x), b = a·y; a row sum of b
 * between (another shape: it ends the group); c = exp(y), d = x·y.  Both
 * groups are an exp of an operand and a product of two buffers; in the
 * first the product reads the exp's result, in the second it does not.
 * Sharing the first group's body, d would be exp(y)·x. */
static void test_group_wiring(void)
{
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    ir_init(&g, &arena, NULL, "wiring", IR_F64);
    IrShape s = {2, {IR_BATCH, 4}};
    int x = ir_input(&g, ROLE_INPUT, "x", IR_F64, &s, SPAN_NONE);
    int y = ir_input(&g, ROLE_INPUT, "y", IR_F64, &s, SPAN_NONE);
    int a = ir_unary(&g, IR_EXP, x, SPAN_NONE);
    int b = ir_binary(&g, IR_MUL, a, y, SPAN_NONE);
    int r = ir_reduce(&g, IR_SUM, b, 2, SPAN_NONE);
    int c = ir_unary(&g, IR_EXP, y, SPAN_NONE);
    int d = ir_binary(&g, IR_MUL, x, y, SPAN_NONE);
    const char *names[] = {"a", "b", "r", "c", "d"};
    const int outs[] = {a, b, r, c, d};
    for (int k = 0; k < 5; k++)
        ir_output(&g, names[k], outs[k], OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(&g));
    IrPlan *p = plan_memory(&g, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    int *group = cg_group_plan(&g, p, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(group);
    /* else this tests no two groups */
    CU_ASSERT(group[a] == b && group[b] == b && group[r] == -1 && group[c] == d && group[d] == d);
    free(group);
    const int64_t B = 3;
    IrEval ev;
    ir_eval_init(&ev, &g, B);
    double v[12];
    for (int k = 0; k < 12; k++)
        v[k] = 0.1 * k - 0.4;
    ir_eval_set(&ev, x, v);
    for (int k = 0; k < 12; k++)
        v[k] = 0.7 - 0.05 * k;
    ir_eval_set(&ev, y, v);
    CU_ASSERT_EQUAL_FATAL(ir_eval_run(&ev), 0);
    jit_check(&g, &ev, 1e-12, "group wiring");
    ir_eval_free(&ev);
    arena_free(&arena);
}

/* Four suites, so that ctest runs them side by side: each takes tens of
 * seconds, most of it in LLVM (and under the sanitizers in the interpreter). */
static const TestCase tests[] = {
    {"every op that is not a leaf has a kernel", test_every_op_has_kernel},
    {"the primitives compute the values worked out by hand", test_primitive_values},
    {"one compiled step serves every batch", test_any_batch},
    {"reductions down columns match the interpreter", test_reduce_columns},
    {"elementwise nodes of any shape share one body over elements", test_flat_elementwise},
    {"x·Wᵀ with fewer rows than the tile matches the interpreter", test_few_rows},
    {"few-row products split by panels match the interpreter", test_panel_items},
    {"row sums and maxima in lanes match the interpreter", test_row_lanes},
    {"short rows, 16 to a vector and the last under a mask, match the interpreter", test_short_rows},
    {"pool_rows_t: rows of inf and NaN, NaN sums in both", test_pool_rows_nan},
    {"binary_cross_entropy of a NaN prediction is NaN in both", test_bce_nan},
    {"binary_cross_entropy of saturated predictions has finite gradients", test_bce_saturated},
    {"binary_cross_entropy of a probability out of [0, 1] is NaN in both", test_bce_out_of_range},
    {"a short rows kernel holds one copy of the row's code", test_short_rows_one_copy},
    {"convolutions read as patches keep the bits", test_implicit_same_bits},
    {"convolutions read as patches keep the bits, vector copies", test_implicit_vectors_same_bits},
    {"convolutions read as patches keep the bits, rows in place", test_implicit_rows_same_bits},
    {"convolutions read as patches keep the bits, rows in place in claims", test_implicit_groups_same_bits},
    {"convolutions read as patches keep the bits, taps in the padding skipped", test_implicit_padded_same_bits},
    {"convolutions read as patches keep the bits, 289 taps", test_implicit_wide_same_bits},
    {"updates are written over the values they replace when nothing reads those after", test_update_in_place},
    {"an optimizer's consecutive elementwise updates run as one loop", test_update_groups},
    {"a group of elementwise kernels ends at a value an allreduce sends", test_group_ends_at_send},
    {"a group of elementwise kernels does not read a member through a view", test_group_not_through_view},
    {"a group of elementwise kernels does not take bytes the plan reused", test_group_not_over_unread},
    {"groups of the same programs wired otherwise do not share a body", test_group_wiring},
    {"a weight's gradient over batch and sequence reads its rows in place", test_lead_in_place},
    {NULL, NULL},
};

/* The causal triangles' tests, the longest two (55 of codegen's 96 CPU-s in
 * the release build, session 41; 34 once each compiled its step once): a
 * suite of their own so that ctest runs them beside the rest, and neither
 * suite is a long tail of a pass. */
static const TestCase causal_tests[] = {
    {"a causal mask with an offset skips only what it masks", test_causal_offset},
    {"a causal attention's products skip its triangle and keep the bits", test_causal_triangle},
    {NULL, NULL},
};

static const TestCase model_tests[] = {
    {"generated code matches the interpreter in f32", test_f32},
    {"generated code matches the interpreter in f64", test_f64},
    {NULL, NULL},
};

static const TestCase grad_tests[] = {
    {"the tests/grad models compiled match the interpreter in f32", test_grad_f32},
    {"the tests/grad models compiled match the interpreter in f64", test_grad_f64},
    {NULL, NULL},
};

void register_codegen(void) { add_suite("codegen", tests); }
void register_codegen_models(void) { add_suite("codegen_models", model_tests); }
void register_codegen_grad(void) { add_suite("codegen_grad", grad_tests); }
void register_codegen_causal(void) { add_suite("codegen_causal", causal_tests); }
