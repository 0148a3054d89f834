/* memcheck.c — see memcheck.h. */
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
