/* memcheck.c — see memcheck.h. */
#include <stdlib.h>
#include <string.h>

#include "memcheck.h"

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

int nnc_check_run_memory(NncFront *f, const RtModel *rm, int64_t batch, bool batch_given)
{
    const char *limit;
    int64_t have = rt_memory_available(&limit), want = rt_model_bytes(rm, batch);
    if (want <= have)
        return 0;
    char wanted[32], detail[160], says[128];
    rt_bytes_str(want, wanted, sizeof wanted);
    rt_model_bytes_detail(rm, batch, detail, sizeof detail);
    rt_memory_says(have, limit, says, sizeof says);
    diag_error(&f->diag, batch_span(f, batch_given), "the training step needs %s of memory at batch %lld%s (%s); %s",
               wanted, (long long)batch, batch_given ? " (--batch)" : "", detail, says);
    int64_t fits = rt_model_max_batch(rm, have);
    if (fits)
        diag_note(&f->diag, SPAN_NONE, "a batch of at most %lld fits", (long long)fits);
    else
        diag_note(&f->diag, SPAN_NONE, "not even a batch of one fits");
    return 1;
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

int nnc_check_compile_memory(NncFront *f, const Lowered *L)
{
    const SemaModel *m = f->model;
    int64_t n = L->g.nforward, want = NNC_COMPILE_BASE + NNC_COMPILE_PER_NODE * n;
    const char *limit;
    int64_t have = rt_memory_available(&limit);
    if (want <= have)
        return 0;
    Arena scratch;
    arena_init(&scratch);
    /* Which model-level call makes the most of them: parameters come first
     * (one node each), then each sema node's nodes, those made after the
     * ones before it (lowering appends). */
    int nruns = 0;
    Run *runs = ARENA_ARRAY(&scratch, Run, m->nparams + m->nnodes + 1);
    for (int i = 0; i < m->nparams; i++)
        add_run(runs, &nruns, m->params[i].use, 1);
    int64_t made = m->nparams;
    for (int i = 0; i < m->nnodes; i++) {
        int64_t upto = L->value[i] + 1 > made ? L->value[i] + 1 : made;
        add_run(runs, &nruns, m->nodes[i].use, upto - made);
        made = upto;
    }
    qsort(runs, (size_t)nruns, sizeof *runs, by_span);
    Span site = m->at;
    int64_t site_nodes = 0;
    for (int i = 0; i < nruns;) {
        int64_t sum = 0;
        int j = i;
        for (; j < nruns && by_span(&runs[i], &runs[j]) == 0; j++)
            sum += runs[j].nodes;
        if (sum > site_nodes)
            site_nodes = sum, site = runs[i].at;
        i = j;
    }
    arena_free(&scratch);
    char wanted[32], says[128], each[32];
    rt_bytes_str(want, wanted, sizeof wanted);
    rt_memory_says(have, limit, says, sizeof says);
    diag_error(&f->diag, site, "compiling model '%s' needs about %s of memory (%lld operations once lowered, "
               "%lld of them from this call); %s", m->name, wanted, (long long)n, (long long)site_nodes, says);
    int64_t fits = have > NNC_COMPILE_BASE ? (have - NNC_COMPILE_BASE) / NNC_COMPILE_PER_NODE : 0;
    diag_note(&f->diag, SPAN_NONE, "each operation takes about %s to compile; a model of at most %lld fits",
              rt_bytes_str(NNC_COMPILE_PER_NODE, each, sizeof each), (long long)fits);
    return 1;
}

int nnc_compile_checked(NncFront *f, StepParts parts, bool training, IrStage until, int64_t batch, NncCompiled *out,
                        const char **err)
{
    out->plan = NULL;
    if (nnc_build_step(f->model, &f->src, &f->arena, IR_F32, parts, training, &out->step, err) != 0)
        return -1;
    if (nnc_check_compile_memory(f, &out->step.L) != 0)
        return 1;
    int rc = nnc_compile_built(until, batch, out, err);
    if (rc == 0 && out->plan && !plan_fits(&out->step.L.g, out->plan, batch, &f->diag))
        return 1;
    return rc;
}
