/* harness.c — see harness.h. */
#include "harness.h"

#include "ir/fill.h"
#include "ir/interp.h"
#include "ir/ir_internal.h"  /* ir_counter_of */
#include "passes/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void run_text(FrontRun *r, const char *text)
{
    size_t len = 0;
    FILE *mem = open_memstream(&r->diag, &len);
    r->status = nnc_front_text(&r->f, "t.nn", text, strlen(text), mem);
    fclose(mem);
}

void run_free(FrontRun *r)
{
    nnc_front_free(&r->f);
    free(r->diag);
    r->diag = NULL;
}

const char *first_error(const FrontRun *r)
{
    static char buf[1024];
    buf[0] = '\0';
    const char *p = r->diag ? strstr(r->diag, ": error: ") : NULL;
    if (!p)
        return buf;
    p += strlen(": error: ");
    size_t n = strcspn(p, "\n");
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

void run_expr(FrontRun *r, const char *decls, const char *expr)
{
    char text[4096];
    snprintf(text, sizeof text, "model t {\n%s\ny = %s\noutput y\n}\n", decls, expr);
    run_text(r, text);
}

const char *output_type(const FrontRun *r)
{
    static char buf[256];
    buf[0] = '\0';
    const SemaModel *m = r->f.model;
    if (!m || m->output < 0)
        return buf;
    StrBuf sb = {0};
    type_print(&sb, &m->nodes[m->output].type);
    snprintf(buf, sizeof buf, "%s", sb_cstr(&sb));
    sb_free(&sb);
    return buf;
}

void assert_str_eq(const char *actual, const char *expected, const char *file, int line)
{
    bool ok = strcmp(actual, expected) == 0;
    if (!ok)
        fprintf(stderr, "\n%s:%d: strings differ\n  expected: %s\n  actual:   %s\n", file, line, expected, actual);
    CU_assertImplementation(ok, (unsigned)line, "strings equal", file, "", CU_FALSE);
}

void add_suite(const char *name, const TestCase *tests)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    for (const TestCase *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}

void diff_add(Diff *d, double got, double want)
{
    if (isfinite(want))
        d->scale = fmax(d->scale, fabs(want));
    if (isnan(got) || isnan(want)) {
        if (isnan(got) != isnan(want))
            d->diff = INFINITY;
        return;
    }
    if (got != want)    /* equal infinities subtract to NaN: leave them out */
        d->diff = fmax(d->diff, fabs(got - want));
}

double diff_rel(const Diff *d, double noise)
{
    if (d->diff <= noise)
        return 0;
    return d->scale > 0 ? d->diff / d->scale : d->diff;
}

char *read_whole(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;  /* -1: not a file that seeks (a pipe) */
    char *buf = n >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)n + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (buf)
        buf[got] = '\0';
    return buf;
}

int count_in(const char *text, const char *end, const char *needle)
{
    int n = 0;
    for (const char *q = text; (q = strstr(q, needle)) != NULL && (!end || q < end); q++)
        n++;
    return n;
}

void run_file(FrontRun *r, const char *path)
{
    char *text = read_whole(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    run_text(r, text);  /* the front end keeps a copy */
    free(text);
    CU_ASSERT_EQUAL_FATAL(r->status, NNC_OK);
}

void fill_step_inputs(IrEval *ev, const SemaModel *m, NncCompiled *c)
{
    const IrGraph *g = &c->step.L.g;
    nnc_fill_params(m, &c->step.L, ev, 5);
    nnc_fill_batch(&c->step.L, ev, 5);
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op != IR_INPUT || (n->a.role != ROLE_STATE && n->a.role != ROLE_STEP))
            continue;
        int64_t len = ir_elems(&n->shape, ev->batch);
        double *v = calloc((size_t)len + 1, sizeof(double));
        if (ir_counter_of(n) == RT_COUNTER_TOTAL_STEPS)
            v[0] = 100;
        ir_eval_set(ev, i, v);
        free(v);
    }
}

int causal_softmax(IrGraph *g, int s, int64_t T, const double *q, const double *k, enum CausalHow how, int *mask)
{
    IrAttr qa = {.shape = {2, {T, 1}}, .data = q, .name = "query_places"};
    IrAttr ka = {.shape = {1, {T}}, .data = k, .name = "key_places"};
    uint64_t row = 1u << (g->nodes[s].shape.rank - 1);
    *mask = ir_binary(g, IR_GE, ir_add(g, IR_TENSOR, NULL, 0, &qa, SPAN_NONE), ir_add(g, IR_TENSOR, NULL, 0, &ka, SPAN_NONE),
                      SPAN_NONE);
    int x = ir_add(g, IR_SELECT, (int[]){*mask, s, ir_const(g, -INFINITY, SPAN_NONE)}, 3, NULL, SPAN_NONE);
    int e = ir_binary(g, IR_SUB, x, ir_unary(g, IR_STOP_GRAD, ir_reduce(g, IR_RMAX, x, row, SPAN_NONE), SPAN_NONE), SPAN_NONE);
    e = ir_unary(g, IR_EXP, how == CAUSAL_NEGATED ? ir_unary(g, IR_NEG, e, SPAN_NONE) : e, SPAN_NONE);
    int sum = ir_reduce(g, IR_SUM, how == CAUSAL_DIV_EXP_S ? ir_unary(g, IR_EXP, s, SPAN_NONE) : e, row, SPAN_NONE);
    int p = ir_binary(g, IR_DIV, e, how == CAUSAL_DIV_S ? s : sum, SPAN_NONE);
    if (how == CAUSAL_LOG)
        p = ir_binary(g, IR_MUL, p, ir_unary(g, IR_LOG, p, SPAN_NONE), SPAN_NONE);
    if (how == CAUSAL_RSQRT_S)
        p = ir_binary(g, IR_MUL, p, ir_unary(g, IR_RSQRT, s, SPAN_NONE), SPAN_NONE);
    if (how == CAUSAL_SUM_S)
        p = ir_binary(g, IR_MUL, p, ir_reduce(g, IR_SUM, s, row, SPAN_NONE), SPAN_NONE);
    return p;
}
