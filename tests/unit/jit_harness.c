/* jit_harness.c — see jit_harness.h. */
#include "jit_harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cg.h"
#include "codegen/cg_internal.h"  /* cg_is_matmul */
#include "codegen/cg_module.h"    /* jit_build: cg_build_module */
#include "harness.h"
#include "ir/ir_internal.h"       /* the triangles' attributes */

static CgJit *jit;

static void drop_jit(void) { cg_jit_destroy(jit); }

const CgTune *jit_tune(void)
{
    static CgTune tune;
    if (!tune.name) {
        CgTarget t;
        const char *err = NULL;
        CU_ASSERT_EQUAL_FATAL(cg_host_target(&t, NULL, &err), 0);
        tune = *t.tune;
        tune.kc = 256;
        cg_target_free(&t);
    }
    return &tune;
}

JitEntry jit_compile(const IrGraph *g, const IrPlan *p) { return jit_compile_tuned(g, p, jit_tune()); }

JitEntry jit_compile_tuned(const IrGraph *g, const IrPlan *p, const CgTune *tune)
{
    const char *err = NULL;
    if (!jit) {
        if (cg_jit_create(&jit, &err) != 0) {
            fprintf(stderr, "cannot create the JIT: %s\n", err);
            CU_FAIL("cannot create the JIT");
            return NULL;
        }
        atexit(drop_jit);
    }
    static int serial;
    char name[32];
    snprintf(name, sizeof name, "entry%d", serial++);
    if (cg_jit_add(jit, g, p, name, &(CgOptions){.opt = 3, .tune = tune}, &err) != 0) {
        fprintf(stderr, "%s: %s\n", g->name, err);
        CU_FAIL("the graph does not compile");
        return NULL;
    }
    JitEntry entry = (JitEntry)cg_jit_lookup(jit, name, &err);
    CU_ASSERT_PTR_NOT_NULL(entry);
    return entry;
}

int jit_build(const IrGraph *g, const IrPlan *p)
{
    CgTarget t;
    const char *err = NULL;
    if (cg_host_target(&t, &(CgOptions){.tune = jit_tune()}, &err) != 0) {
        fprintf(stderr, "no host target: %s\n", err);
        CU_FAIL("no host target");
        return -1;
    }
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMTargetMachineRef tm = cg_target_machine(&t);
    LLVMModuleRef mod = cg_module_for(ctx, g->name, &t, tm);
    LLVMDisposeTargetMachine(tm);
    int rc = cg_build_module(ctx, mod, g, p, "entry", &t, &err);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", g->name, err);
        CU_FAIL("the graph does not build");
    }
    CU_ASSERT(rc != 0 || LLVMGetNamedFunction(mod, "entry") != NULL);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    cg_target_free(&t);
    return rc;
}

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

double jit_value(const uint8_t *src, const IrNode *n, int64_t e)
{
    return n->type == IR_F32 ? ((const float *)src)[e] : n->type == IR_F64 ? ((const double *)src)[e]
                                                        : ((const int32_t *)src)[e];
}

void jit_run(JitRun *r, JitEntry entry, const IrGraph *g, const IrPlan *p, const IrEval *ev, RtPool *pool)
{
    for (int s = RT_SLAB_INPUT; s <= RT_SLAB_ACT; s++)
        r->slab[s] = calloc((size_t)plan_at(p, p->slab_bytes[s], ev->batch) + 64, 1);
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].op == IR_INPUT)
            put(r->slab[p->slab[i]] + plan_at(p, p->offset[i], ev->batch), &g->nodes[i], ev->val[i], ev->len[i]);
    r->ctx = (RtCtx){.batch = ev->batch, .pool = pool};
    for (int s = 0; s < 5; s++)
        r->ctx.slab[s] = r->slab[s];
    entry(&r->ctx);
}

void jit_run_free(JitRun *r)
{
    for (int s = RT_SLAB_INPUT; s <= RT_SLAB_ACT; s++)
        free(r->slab[s]);
}

const uint8_t *jit_output(const JitRun *r, const IrGraph *g, const IrPlan *p, const IrOutput *o, const IrNode **n)
{
    int v = o->kind == OUT_UPDATE ? o->updates : o->value;
    *n = &g->nodes[v];
    return r->slab[p->slab[v]] + plan_at(p, p->offset[v], r->ctx.batch);
}

double jit_compare(JitEntry entry, const IrGraph *g, const IrPlan *p, const IrEval *ev, const char **worst_name)
{
    JitRun one, two;
    jit_run(&one, entry, g, p, ev, NULL);
    RtPool *pool = rt_pool_create(2);
    jit_run(&two, entry, g, p, ev, pool);
    rt_pool_destroy(pool);
    double worst = 0;
    *worst_name = "";
    for (int o = 0; o < g->nouts; o++) {
        const IrOutput *out = &g->outs[o];
        const IrNode *n;
        const uint8_t *a = jit_output(&one, g, p, out, &n), *b = jit_output(&two, g, p, out, &n);
        int64_t len;
        const double *want = ir_eval_output(ev, out->name, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(want);
        bool same = memcmp(a, b, (size_t)len * (size_t)ir_type_size(n->type)) == 0;
        if (!same)
            fprintf(stderr, "%s: output %s differs between 1 and 2 threads\n", g->name, out->name);
        CU_ASSERT(same);
        Diff d = {0};
        for (int64_t e = 0; e < len; e++)
            diff_add(&d, jit_value(a, n, e), want[e]);
        double rel = diff_rel(&d, g->ftype == IR_F32 ? 1e-6 : 1e-14);
        if (rel > worst) {
            worst = rel;
            *worst_name = out->name;
        }
    }
    jit_run_free(&one);
    jit_run_free(&two);
    return worst;
}

double jit_check_entry(JitEntry entry, const IrGraph *g, const IrPlan *p, const IrEval *ev, double tol,
                       const char *what)
{
    const char *worst_name;
    double worst = jit_compare(entry, g, p, ev, &worst_name);
    if (worst > tol)
        fprintf(stderr, "%s: %s differs from the interpreter by %.3g relative\n", what, worst_name, worst);
    CU_ASSERT(worst <= tol);
    return worst;
}

double jit_check(const IrGraph *g, const IrEval *ev, double tol, const char *what)
{
    IrPlan *plan = plan_memory(g, ev->batch);
    JitEntry entry = jit_compile(g, plan);
    CU_ASSERT_PTR_NOT_NULL_FATAL(entry);
    return jit_check_entry(entry, g, plan, ev, tol, what);
}

void jit_asm_count(const IrGraph *g, const IrPlan *p, const char *body, const char *const *needles, int *counts,
                   int n)
{
    StrBuf asm_text = {0};
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(cg_dump(g, p, "asm", &(CgOptions){.cpu = "znver4", .opt = 3}, CG_DUMP_ASM, &asm_text,
                                  &err), 0);
    char label[64];
    snprintf(label, sizeof label, "\nasm.%s:\n", body);
    const char *start = strstr(sb_cstr(&asm_text), label);
    CU_ASSERT_PTR_NOT_NULL_FATAL(start);
    const char *end = strstr(start, ".Lfunc_end");
    CU_ASSERT_PTR_NOT_NULL_FATAL(end);
    for (int i = 0; i < n; i++)
        counts[i] = count_in(start, end, needles[i]);
    sb_free(&asm_text);
}

void jit_clear_triangles(IrGraph *g, int *products, int *rows)
{
    *products = *rows = 0;
    for (int i = 0; i < g->n; i++) {
        IrNode *n = &g->nodes[i];
        if (cg_is_matmul(n->op) && ir_mm_tri(n)) {
            ir_mm_set_tri(&n->a, IR_MM_TRI_NONE, 0);
            (*products)++;
        } else if (n->op == IR_FUSED_ROWS && ir_rows_tri_mask(n) >= 0) {
            ir_rows_set_tri(&n->a, -1, 0);
            (*rows)++;
        }
    }
}
