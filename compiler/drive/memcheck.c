/* memcheck.c — see memcheck.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memcheck.h"

#include "../ir/export.h"
#include "model.h"

/* Where the batch was set: the train block's `batch = N`, else the model. */
static Span batch_span(const NncFront *f, bool batch_given)
{
    const SemaModel *m = f->model;
    if (!batch_given && m->train.decl)
        for (const AstNode *st = m->train.decl->train.items; st; st = st->next)
            if (strcmp(st->def.name, "batch") == 0)
                return st->def.value->span;
    return m->at;
}

/* nnc_check_run_memory's and nnc_check_predict_memory's check; what: "the training step" */
static int check_run_memory(NncFront *f, const RtModel *rm, int64_t batch, bool batch_given, const char *what)
{
    const char *limit;
    int64_t have = rt_memory_available(&limit), want = rt_model_bytes(rm, batch);
    if (want <= have)
        return 0;
    char wanted[32], detail[160], says[128];
    rt_bytes_str(want, wanted, sizeof wanted);
    rt_model_bytes_detail(rm, batch, detail, sizeof detail);
    rt_memory_says(have, limit, says, sizeof says);
    diag_error(&f->diag, batch_span(f, batch_given), "%s needs %s of memory at batch %lld%s (%s); %s",
               what, wanted, (long long)batch, batch_given ? " (--batch)" : "", detail, says);
    int64_t fits = rt_model_max_batch(rm, have);
    if (fits)
        diag_note(&f->diag, SPAN_NONE, "a batch of at most %lld fits", (long long)fits);
    else
        diag_note(&f->diag, SPAN_NONE, "not even a batch of one fits");
    return 1;
}

int nnc_check_run_memory(NncFront *f, const RtModel *rm, int64_t batch, bool batch_given)
{
    return check_run_memory(f, rm, batch, batch_given, "the training step");
}

int nnc_check_predict_memory(NncFront *f, const RtModel *rm, int64_t batch, bool batch_given)
{
    return check_run_memory(f, rm, batch, batch_given, "the prediction");
}

/* Nodes made under one model-level call (consecutive sema nodes or
 * parameters of one use). */
typedef struct Run {
    Span    at;
    int64_t nodes;
} Run;

static void add_run(Run *runs, int *n, Span at, int64_t nodes)
{
    if (*n > 0 && runs[*n - 1].at.begin == at.begin && runs[*n - 1].at.end == at.end)
        runs[*n - 1].nodes += nodes;
    else
        runs[(*n)++] = (Run){at, nodes};
}

static int by_span(const void *x, const void *y)
{
    const Run *a = x, *b = y;
    if (a->at.begin != b->at.begin)
        return a->at.begin < b->at.begin ? -1 : 1;
    return a->at.end < b->at.end ? -1 : a->at.end > b->at.end;
}

/* Peak RSS of `nnc --emit=obj --no-cache` (train, eval and predict entries)
 * on examples/shakespeare.nn with repeat(L, block), L = 8 ... 128, against
 * the forward pass's node count n (81 a block): 120 MB at n = 683, 238 at
 * 2627, 375 at 5219, 662 at 10403, 2 cores (bench/repeat_compile.sh).  A
 * line through them: 85 MB, then 56 KB a node, nearly all of it LLVM's. */
enum { NNC_COMPILE_BASE = 85 << 20, NNC_COMPILE_PER_NODE = 56 << 10 };

/* Live nodes of [lo, hi): those some output of the step reads. */
static int64_t count_live(const bool *live, int64_t lo, int64_t hi)
{
    int64_t n = 0;
    for (int64_t i = lo; i < hi; i++)
        n += live[i];
    return n;
}

/* The span of the model-level call that makes the most of L's live
 * forward nodes, and how many (*most). */
static Span busiest_call(const SemaModel *m, const Lowered *L, const bool *live, Arena *scratch, int64_t *most)
{
    /* parameters come first (one node each), then each sema node's nodes,
     * those made after the ones before it (lowering appends) */
    int nruns = 0;
    Run *runs = ARENA_ARRAY(scratch, Run, m->nparams + m->nnodes + 1);
    for (int i = 0; i < m->nparams; i++)
        add_run(runs, &nruns, m->params[i].use, live[i]);
    int64_t made = m->nparams;
    for (int i = 0; i < m->nnodes; i++) {
        int64_t upto = L->value[i] + 1 > made ? L->value[i] + 1 : made;
        add_run(runs, &nruns, m->nodes[i].use, count_live(live, made, upto));
        made = upto;
    }
    qsort(runs, (size_t)nruns, sizeof *runs, by_span);
    Span site = m->at;
    *most = 0;
    for (int i = 0; i < nruns;) {
        int64_t sum = 0;
        int j = i;
        for (; j < nruns && by_span(&runs[i], &runs[j]) == 0; j++)
            sum += runs[j].nodes;
        if (sum > *most)
            *most = sum, site = runs[i].at;
        i = j;
    }
    return site;
}

int nnc_check_compile_memory(NncFront *f, const Lowered *L)
{
    const SemaModel *m = f->model;
    /* only what the step's outputs read: a prediction's step keeps the
     * loss and the metrics in the lowered graph, and dce drops them before
     * anything costly, so they neither count nor are pointed at */
    Arena scratch;
    arena_init(&scratch);
    bool *live = ARENA_ARRAY(&scratch, bool, L->g.n + 1);
    dce_mark(&L->g, live);
    int64_t n = count_live(live, 0, L->g.nforward), want = NNC_COMPILE_BASE + NNC_COMPILE_PER_NODE * n;
    const char *limit;
    int64_t have = rt_memory_available(&limit);
    int64_t site_nodes = 0;
    Span site = want > have ? busiest_call(m, L, live, &scratch, &site_nodes) : m->at;
    arena_free(&scratch);
    if (want <= have)
        return 0;
    char wanted[32], says[128], each[32], base[32];
    rt_bytes_str(want, wanted, sizeof wanted);
    rt_memory_says(have, limit, says, sizeof says);
    diag_error(&f->diag, site, "compiling model '%s' needs about %s of memory (%lld operations once lowered, "
               "%lld of them from this call); %s", m->name, wanted, (long long)n, (long long)site_nodes, says);
    rt_bytes_str(NNC_COMPILE_PER_NODE, each, sizeof each);
    int64_t fits = have > NNC_COMPILE_BASE ? (have - NNC_COMPILE_BASE) / NNC_COMPILE_PER_NODE : 0;
    if (fits > 0)
        diag_note(&f->diag, SPAN_NONE, "each operation takes about %s to compile; a model of at most %lld fits", each,
                  (long long)fits);
    else  /* never "a model of at most 0": what the compiler takes before the first operation is past it */
        diag_note(&f->diag, SPAN_NONE, "compiling takes about %s before the first operation and %s each; not even a "
                  "model of one operation fits", rt_bytes_str(NNC_COMPILE_BASE, base, sizeof base), each);
    return 1;
}

/* ---- what one compile's activations take --------------------------------------- */

/* The most bytes the activation slab may take at its batch: what one tensor
 * may hold (NNC_MAX_ELEMS f32 values) for all of them.  Past it the runtime
 * could only say "out of memory" when allocating the slab. */
#define MAX_ACT_BYTES (4 * NNC_MAX_ELEMS)

/* "f32[B,4,1024,1024,1099511627776]" */
static void put_type(StrBuf *sb, const IrNode *n)
{
    sb_puts(sb, ir_type_name(n->type));
    ir_shape_print(sb, &n->shape);
}

/* n's values per example, in double: an intermediate's may be past int64. */
static double values_per_example(const IrNode *n)
{
    double v = 1;
    for (int i = 0; i < n->shape.rank; i++)
        v *= n->shape.dim[i] == IR_BATCH ? 1 : (double)n->shape.dim[i];
    return v;
}

/* "2^40": NNC_MAX_ELEMS is a power of two */
static int max_elems_log2(void) { return __builtin_ctzll((unsigned long long)NNC_MAX_ELEMS); }

/* 0 when every value of g holds at most NNC_MAX_ELEMS per example, else 1
 * with an error at the first that does not.  Sema checks each call's
 * result; what a call lowers to (avg_pool's windows: the result's values
 * times the window's) is only known here, and its bytes would wrap int64
 * in the memory plan. */
static int check_lowered_sizes(NncFront *f, const IrGraph *g)
{
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (values_per_example(n) <= (double)NNC_MAX_ELEMS)
            continue;
        StrBuf type = {0};
        put_type(&type, n);
        diag_error(&f->diag, n->at, "this call makes %s (%s) when compiled, more than 2^%d values per example",
                   sb_cstr(&type), ir_ops[n->op].name, max_elems_log2());
        sb_free(&type);
        return 1;
    }
    return 0;
}

/* 0 when p's activation slab at batch takes at most MAX_ACT_BYTES, else 1
 * with an error at the largest activation's call.  The slab holds B̂
 * examples (the batch rounded up to a multiple of 16), what is allocated. */
static int check_activations(NncFront *f, const IrGraph *g, const IrPlan *p, int64_t batch)
{
    IrBytes act = p->slab_bytes[SLAB_ACT];
    int64_t bhat = plan_bhat(p->batch, batch);
    /* in double: a slab past the limit may be past int64 too */
    double total = (double)act.fixed + (double)act.per_ex * (double)bhat;
    if (total <= (double)MAX_ACT_BYTES)
        return 0;
    int largest = g->n - 1;   /* the last value, if no activation of its own is found (the fixed bytes alone) */
    double most = -1;
    for (int i = 0; i < g->n; i++) {
        double b = (double)p->bytes[i].fixed + (double)p->bytes[i].per_ex * (double)bhat;
        if (p->slab[i] == SLAB_ACT && p->alias[i] < 0 && b > most)
            largest = i, most = b;
    }
    char took[32], limit[32];
    rt_bytes_str(total < (double)INT64_MAX ? (int64_t)total : INT64_MAX, took, sizeof took);
    rt_bytes_str(MAX_ACT_BYTES, limit, sizeof limit);
    StrBuf type = {0};
    put_type(&type, &g->nodes[largest]);
    diag_error(&f->diag, g->nodes[largest].at, "the activations would take %s%s for %lld examples (batch %lld, "
               "rounded up to a multiple of %d), more than %s (2^%d f32 values); the largest, %s, is made here",
               total < (double)INT64_MAX ? "" : "more than ", took, (long long)bhat, (long long)batch,
               PLAN_BATCH_ROUND, limit, max_elems_log2(), sb_cstr(&type));
    sb_free(&type);
    return 1;
}

/* nnc_compile_checked, and (this_machine false) without asking whether
 * this machine has the compiler's memory: what nnc_check_limits asks. */
static int compile_within_limits(NncFront *f, StepParts parts, bool training, IrStage until, int64_t batch,
                                 bool this_machine, NncCompiled *out, const char **err)
{
    out->plan = NULL;
    if (nnc_build_step(f->model, &f->src, &f->arena, IR_F32, parts, training, &out->step, err) != 0)
        return -1;
    if (check_lowered_sizes(f, &out->step.L.g) != 0 || (this_machine && nnc_check_compile_memory(f, &out->step.L) != 0))
        return 1;
    int rc = nnc_compile_built(until, batch, out, err);
    if (rc == 0 && out->plan && check_activations(f, &out->step.L.g, out->plan, batch) != 0)
        return 1;
    return rc;
}

int nnc_compile_checked(NncFront *f, StepParts parts, bool training, IrStage until, int64_t batch, NncCompiled *out,
                        const char **err)
{
    return compile_within_limits(f, parts, training, until, batch, true, out, err);
}

int nnc_check_limits(NncFront *f, int64_t batch, const char **err)
{
    /* what --jit and a trainer plan (a train block, at its batch), else what --predict plans */
    bool training = f->model->train.decl != NULL;
    int64_t planned = training ? f->model->train.batch : NNC_FORWARD_BATCH;
    NncCompiled c;
    return compile_within_limits(f, training ? STEP_TRAIN : STEP_PREDICT, training, STAGE_PLAN,
                                 batch ? batch : planned, false, &c, err);
}

/* ---- the reference interpreter's memory (--gradcheck, --export-step) ---------------- */

/* Whether n has the batch among its axes. */
static bool batched(const IrNode *n)
{
    for (int d = 0; d < n->shape.rank; d++)
        if (n->shape.dim[d] == IR_BATCH)
            return true;
    return false;
}

/* Adds `each` bytes a value of n to fixed or per_ex (in double: a model
 * past int64 is still summed). */
static void add_bytes(const IrNode *n, double each, double *fixed, double *per_ex)
{
    *(batched(n) ? per_ex : fixed) += each * values_per_example(n);
}

/* What the reference interpreter (ir/interp.c) holds: every value of a
 * graph at once, each element a double; added to fixed and per_ex (bytes
 * without and per example).  copies: and --export-step's copies of what it
 * writes (nnc_export_copy_bytes). */
static void interp_bytes(const IrGraph *g, bool copies, double *fixed, double *per_ex)
{
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        add_bytes(n, 8 + (copies ? nnc_export_copy_bytes(n) : 0), fixed, per_ex);
    }
}

/* 0 when fixed + per_ex · batch bytes fit rt_memory_available, else 1 with
 * an error at the largest value of g (at batch) and a note on the batch
 * that fits. */
static int interp_fits(NncFront *f, const char *what, const IrGraph *g, double fixed, double per_ex, int64_t batch)
{
    const char *limit;
    int64_t have = rt_memory_available(&limit);
    double want = fixed + per_ex * (double)batch;
    if (want <= (double)have)
        return 0;
    int largest = 0;  /* the value that takes the most, where the error points */
    double most = -1;
    for (int i = 0; i < g->n; i++) {
        double b = values_per_example(&g->nodes[i]) * (batched(&g->nodes[i]) ? (double)batch : 1);
        if (b > most)
            largest = i, most = b;
    }
    char wanted[32], says[128];
    rt_bytes_str(want < (double)INT64_MAX ? (int64_t)want : INT64_MAX, wanted, sizeof wanted);
    rt_memory_says(have, limit, says, sizeof says);
    StrBuf type = {0};
    put_type(&type, &g->nodes[largest]);
    diag_error(&f->diag, g->nodes[largest].at, "%s needs %s%s of memory at batch %lld: the reference interpreter holds "
               "every value of the step, 8 bytes an element, and the largest, %s, is made here; %s", what,
               want < (double)INT64_MAX ? "" : "more than ", wanted, (long long)batch, sb_cstr(&type), says);
    sb_free(&type);
    double fits = per_ex > 0 ? floor(((double)have - fixed) / per_ex) : 0;
    if (fits >= 1)
        diag_note(&f->diag, SPAN_NONE, "a batch of at most %.0f fits (--batch N)", fits);
    else
        diag_note(&f->diag, SPAN_NONE, "not even a batch of one fits");
    return 1;
}

int nnc_check_gradcheck_memory(NncFront *f, const IrGraph *back, const IrGraph *fwd, int64_t batch)
{
    if (check_lowered_sizes(f, back) != 0)
        return 1;
    double fixed = 0, per_ex = 0, largest_param = 0;
    interp_bytes(back, false, &fixed, &per_ex);
    interp_bytes(fwd, false, &fixed, &per_ex);
    for (int i = 0; i < fwd->n; i++)  /* the direction of a parameter, one at a time */
        if (fwd->nodes[i].op == IR_INPUT && fwd->nodes[i].a.role == ROLE_PARAM)
            largest_param = fmax(largest_param, values_per_example(&fwd->nodes[i]));
    return interp_fits(f, "--gradcheck", back, fixed + 8 * largest_param, per_ex, batch);
}

int nnc_check_export_memory(NncFront *f, const NncStep *step, int64_t batch)
{
    if (check_lowered_sizes(f, &step->L.g) != 0)
        return 1;
    double fixed = 0, per_ex = 0;
    interp_bytes(&step->L.g, true, &fixed, &per_ex);
    return interp_fits(f, "--export-step", &step->L.g, fixed, per_ex, batch);
}
