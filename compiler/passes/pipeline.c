/* pipeline.c — the passes in order, the verifier after each; see pipeline.h. */
#include "pipeline.h"

#include "../ir/ir_internal.h"  /* ir_counter_of */

typedef int (*PassFn)(IrGraph *g);

/* Passes renumber nodes: find the step's landmarks again, by role. */
static void refresh(NncStep *st)
{
    Lowered *L = &st->L;
    const IrGraph *g = &L->g;
    int k = 0;
    L->step = -1;
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op == IR_INPUT && n->a.role == ROLE_PARAM && k < L->nparams)
            L->param[k++] = i;
        if (ir_counter_of(n) == RT_COUNTER_STEP)
            L->step = i;
    }
    for (int i = 0; i < L->nparams; i++)
        st->grads[i] = -1;  /* in a training step, gradients are no longer separate values */
    for (int i = 0, gk = 0; i < g->nouts; i++) {
        if (g->outs[i].kind == OUT_LOSS)
            L->loss = g->outs[i].value;
        if (g->outs[i].kind == OUT_PREDICTION)
            L->output = g->outs[i].value;
        if (g->outs[i].kind == OUT_GRAD && gk < L->nparams)  /* STEP_GRADIENTS: grad.<parameter>, in their order */
            st->grads[gk++] = g->outs[i].value;
    }
}

/* Runs one pass and checks its result.  Returns 0, or -1 with *err. */
static int run(IrGraph *g, PassFn pass, const char *name, int *changed, const char **err)
{
    int c = pass(g);
    const char *why = c < 0 ? (g->error ? g->error : "failed") : ir_verify(g);
    if (why) {
        *err = arena_printf(g->arena, "after %s: %s", name, why);
        return -1;
    }
    *changed += c;
    return 0;
}

int nnc_compile(const SemaModel *m, const Source *src, Arena *a, IrType ftype, IrStage until, int64_t batch,
                NncCompiled *out, const char **err)
{
    StepParts parts = until == STAGE_IR ? STEP_FORWARD : STEP_TRAIN;
    return nnc_compile_parts(m, src, a, ftype, parts, until != STAGE_IR, until, batch, out, err);
}

int nnc_compile_parts(const SemaModel *m, const Source *src, Arena *a, IrType ftype, StepParts parts, bool training,
                      IrStage until, int64_t batch, NncCompiled *out, const char **err)
{
    if (nnc_build_step(m, src, a, ftype, parts, training, &out->step, err) != 0) {
        out->plan = NULL;
        return -1;
    }
    return nnc_compile_built(until, batch, out, err);
}

int nnc_compile_built(IrStage until, int64_t batch, NncCompiled *out, const char **err)
{
    out->plan = NULL;
    IrGraph *g = &out->step.L.g;
    const char *why = ir_verify(g);
    if (why) {
        *err = arena_printf(g->arena, "as built: %s", why);
        return -1;
    }
    if (until <= STAGE_GRAD)
        return 0;
    /* Simplification exposes common subexpressions and dead code, and
     * merging exposes simplifications: repeat until nothing changes. */
    for (int round = 0; round < 8; round++) {
        int changed = 0;
        if (run(g, pass_simplify, "simplify", &changed, err) || run(g, pass_cse, "cse", &changed, err)
            || run(g, pass_dce, "dce", &changed, err))
            return -1;
        if (!changed)
            break;
    }
    refresh(&out->step);
    if (until == STAGE_OPT)
        return 0;
    int changed = 0;
    if (run(g, pass_pool_relu, "pool relu", &changed, err)
        || run(g, pass_pool_grad, "pool gradient", &changed, err) || run(g, pass_fuse, "fuse", &changed, err)
        || run(g, pass_triangle, "triangle", &changed, err)
        || run(g, pass_conv_input_grad, "conv input gradient", &changed, err)
        || run(g, pass_implicit_patches, "implicit patches", &changed, err)
        || run(g, pass_pool_conv, "pool convolution", &changed, err)
        || run(g, pass_split_batch, "split batch sums", &changed, err)
        || run(g, pass_dce, "dce", &changed, err)
        || run(g, pass_buckets, "buckets", &changed, err)
        || run(g, pass_output_copy, "output copy", &changed, err))
        return -1;
    refresh(&out->step);
    if (until == STAGE_FUSED)
        return 0;
    out->plan = plan_memory(g, batch);
    if (!out->plan) {
        *err = "memory planning failed";
        return -1;
    }
    return 0;
}
