/* model.c — see model.h.
 *
 * The graphs' plans serve any batch (the train block's is the default);
 * their parameters and inputs are laid out alike (the same tensors in the
 * same order), so one set of slabs serves all.  That is checked here, not
 * assumed.
 */
#include "model.h"
#include "memcheck.h"
#include "../ir/ir_internal.h"  /* ir_counter_of */
#include "../util/path.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

_Static_assert((int)PLAN_BATCH_ROUND == (int)RT_BATCH_ROUND, "the plan and the runtime round the batch alike");

static RtDtype dtype_of(IrType t) { return t == IR_F64 ? RT_F64 : t == IR_I32 ? RT_I32 : RT_F32; }

static RtBytes rt_bytes(IrBytes x) { return (RtBytes){x.fixed, x.per_ex}; }

static RtTensorSpec spec_of(const IrGraph *g, const IrPlan *p, int v)
{
    const IrNode *n = &g->nodes[v];
    RtTensorSpec s = {.name = n->a.name, .slab = (RtSlab)p->slab[v], .offset = rt_bytes(p->offset[v]), .rank = n->shape.rank,
                      .dtype = dtype_of(n->type), .classes = n->op == IR_INPUT && n->type == IR_I32 ? n->a.i[0] : 0};
    for (int i = 0; i < n->shape.rank; i++)
        s.shape[i] = n->shape.dim[i] == IR_BATCH ? -1 : n->shape.dim[i];
    return s;
}

static int nth_output(const IrGraph *g, IrOutKind kind, int nth)
{
    for (int i = 0; i < g->nouts; i++)
        if (g->outs[i].kind == kind && nth-- == 0)
            return i;
    return -1;
}

/* An entry's slabs and where its results are; state_batched: its state
 * may grow with the batch (the decode entry's key/value caches, in a slab
 * of its own). */
static int describe_slabs(RtEntry *e, const IrGraph *g, const IrPlan *p, bool state_batched, const char **err)
{
    memset(e, 0, sizeof *e);
    for (int s = 0; s <= SLAB_ACT; s++)
        e->slab_bytes[s] = rt_bytes(p->slab_bytes[s]);
    if (p->slab_bytes[SLAB_PARAM].per_ex || (p->slab_bytes[SLAB_STATE].per_ex && !state_batched)) {
        *err = "parameters or optimizer state grow with the batch";   /* the runtime keeps them at any batch */
        return -1;
    }
    e->loss = (RtBytes){-1, 0};
    int o = nth_output(g, OUT_LOSS, 0);
    if (o >= 0) {
        int v = g->outs[o].value;
        if (p->slab[v] != SLAB_ACT) {
            *err = "the loss is not computed in the activation slab";
            return -1;
        }
        e->loss = rt_bytes(p->offset[v]);
    }
    e->output = (RtBytes){-1, 0};
    o = nth_output(g, OUT_PREDICTION, 0);
    if (o >= 0) {
        int v = g->outs[o].value;
        if (p->slab[v] != SLAB_ACT) {   /* pass_output_copy copies an input or constant prediction there */
            *err = "the prediction is not computed in the activation slab";
            return -1;
        }
        const IrNode *pred = &g->nodes[v];
        e->output = rt_bytes(p->offset[v]);
        e->output_last = pred->shape.dim[pred->shape.rank - 1];
        e->output_elems = 1;
        for (int d = 0; d < pred->shape.rank; d++)
            e->output_elems *= pred->shape.dim[d] == IR_BATCH ? 1 : pred->shape.dim[d];
    }
    for (int k = 0; (o = nth_output(g, OUT_METRIC, k)) >= 0 && k < 8; k++) {
        int v = g->outs[o].value;
        if (p->slab[v] != SLAB_ACT) {
            *err = "a metric is not computed in the activation slab";
            return -1;
        }
        e->metric_name[k] = g->outs[o].name;
        e->metric[k] = rt_bytes(p->offset[v]);
        e->nmetrics++;
    }
    return 0;
}

static int describe_entry(RtEntry *e, const IrGraph *g, const IrPlan *p, const char **err)
{
    return describe_slabs(e, g, p, false, err);
}

/* Whether every input of g sits where the training step has it. */
static int same_layout(const TrainModel *t, const IrGraph *g, const IrPlan *p, Arena *a, const char **err)
{
    const IrGraph *gs = &t->step.step.L.g;
    for (int v = 0; v < gs->n; v++)
        for (int u = 0; gs->nodes[v].op == IR_INPUT && u < g->n; u++)
            if (g->nodes[u].op == IR_INPUT && strcmp(g->nodes[u].a.name, gs->nodes[v].a.name) == 0
                && (p->offset[u].fixed != t->step.plan->offset[v].fixed
                    || p->offset[u].per_ex != t->step.plan->offset[v].per_ex || p->slab[u] != t->step.plan->slab[v])) {
                *err = arena_printf(a, "'%s' is laid out differently for training and %s", gs->nodes[v].a.name,
                                    g == &t->eval.step.L.g ? "evaluation" : "prediction");
                return -1;
            }
    return 0;
}

/* The tensors of graph gs (planned by plan) by role.  Returns 0, or -1
 * with *err for a step counter the runtime does not know. */
static int describe_inputs(TrainModel *t, const IrGraph *gs, const IrPlan *plan, const SemaModel *m, Arena *a,
                           const char **err)
{
    RtModel *rm = &t->rm;
    int ninputs = 0;  /* a few of the graph's nodes: arrays as long as the graph showed in warm compiles */
    for (int v = 0; v < gs->n; v++)
        ninputs += gs->nodes[v].op == IR_INPUT;
    rm->params = ARENA_ARRAY(a, RtTensorSpec, ninputs + 1);
    rm->state = ARENA_ARRAY(a, RtTensorSpec, ninputs + 1);
    rm->inputs = ARENA_ARRAY(a, RtTensorSpec, ninputs + 1);
    rm->targets = ARENA_ARRAY(a, RtTensorSpec, ninputs + 1);
    for (int v = 0; v < gs->n; v++) {
        const IrNode *n = &gs->nodes[v];
        if (n->op != IR_INPUT)
            continue;
        RtTensorSpec s = spec_of(gs, plan, v);
        switch (n->a.role) {
        case ROLE_PARAM: {
            const SemaParam *sp = &m->params[rm->nparams];
            s.init = (RtInit)sp->init;
            s.fan_in = sp->fan_in;
            s.scale = sp->scale;
            s.data = sp->data;  /* in the front end's arena, which outlives the model */
            rm->params[rm->nparams++] = s;
            break;
        }
        case ROLE_STATE: rm->state[rm->nstate++] = s; break;
        case ROLE_STEP:  /* the runtime finds the counters by this flag, never by name */
            /* ir_counter says which; a ROLE_STEP input made otherwise is nnc's bug */
            if ((s.counter = ir_counter_of(n)) <= RT_COUNTER_NONE || s.counter >= RT_COUNTER_COUNT) {
                *err = arena_printf(a, "step counter '%s' is not one the runtime knows", n->a.name);
                return -1;
            }
            rm->state[rm->nstate++] = s;
            break;
        case ROLE_INPUT: rm->inputs[rm->ninputs++] = s; break;
        case ROLE_TARGET: rm->targets[rm->ntargets++] = s; break;
        }
    }
    return 0;
}

/* Tensors by role, checking that evaluation sees each where the step does. */
static int describe_tensors(TrainModel *t, const SemaModel *m, Arena *a, const char **err)
{
    if (same_layout(t, &t->eval.step.L.g, t->eval.plan, a, err) != 0)
        return -1;
    return describe_inputs(t, &t->step.step.L.g, t->step.plan, m, a, err);
}

/* The train block as plain values. */
static void describe_recipe(RtRecipe *r, const SemaModel *m, const Source *src, Arena *a)
{
    const SemaTrain *t = &m->train;
    *r = (RtRecipe){.batch = t->batch, .epochs = t->epochs, .steps = t->steps, .eval_every = t->eval_every,
                    .seed = (uint64_t)t->seed, .lr = t->optimizer_args[0].f, .path = t->data_args[0].s, .path2 = "",
                    .columns = ""};
    r->model_dir = path_dir(a, src->name);
    r->model_file = src->name;
    if (t->data == &builtin_table[B_MNIST]) {
        r->data = RT_DATA_MNIST;
        const char *norm = t->data_args[1].s;
        r->normalize = strcmp(norm, "standard") == 0 ? RT_NORM_STANDARD
                     : strcmp(norm, "unit") == 0 ? RT_NORM_UNIT : RT_NORM_NONE;
    } else if (t->data == &builtin_table[B_CSV]) {
        r->data = RT_DATA_CSV;
        r->path2 = t->data_args[1].s;
        r->header = t->data_args[2].b;
        r->columns = t->data_args[3].s;
        for (int i = 0; i < m->nnodes; i++)  /* labels: their classes; real targets: 0 */
            if (m->nodes[i].kind == SN_TARGET)
                r->classes = m->nodes[i].type.elem == ELEM_INDEX ? m->nodes[i].type.classes : 0;
    } else if (t->data == &builtin_table[B_NPZ]) {
        r->data = RT_DATA_NPZ;   /* what each array must be comes from the model's inputs and targets */
        r->path2 = t->data_args[1].s;
    } else {
        r->data = RT_DATA_TEXT;
        r->block = t->data_args[1].i;
        r->split = t->data_args[2].f;
        if (t->data_args[3].kind == VAL_SPEC)  /* tokenizer: bpe(vocab: N) */
            r->bpe_vocab = t->data_args[3].spec->args[0].i;
        for (int i = 0; i < m->nnodes; i++)
            if (m->nodes[i].kind == SN_INPUT)
                r->vocab = m->nodes[i].type.classes;
    }
}

/* What every failure after the front end says: the model was checked, so
 * it is nnc's bug; exit code 3. */
static int internal(FILE *log, const char *err)
{
    fprintf(log, "nnc: internal compiler error: %s (this is a bug in nnc)\n", err);
    return 3;
}

int nnc_train_model(NncFront *f, const TrainOverrides *o, TrainModel *out, FILE *log)
{
    SemaModel *m = f->model;
    SemaTrain t = m->train;
    if (!t.decl) {
        fprintf(log, "%s: error: model '%s' has no train block; a trainer needs one (and a loss)\n", f->src.name, m->name);
        fprintf(log, "%s: note: a forward-only model compiles with --emit=so, obj, llvm, asm or onnx, and runs with --predict\n",
                f->src.name);
        return 1;
    }
    const char *rule = rt_epochs_rule(o->epochs, t.data == &builtin_table[B_TEXT]);
    if (rule) {
        fprintf(log, "nnc: error: %s\n", rule);
        return NNC_EUSAGE;
    }
    if (o->epochs)
        t.epochs = o->epochs, t.steps = 0;
    if (o->steps)
        t.steps = o->steps, t.epochs = 0;
    if (o->batch)
        t.batch = o->batch;
    if (o->seed >= 0)
        t.seed = o->seed;
    if (o->lr > 0)
        t.optimizer_args[0] = (Value){.kind = VAL_FLOAT, .f = o->lr};
    if (o->distributed)
        t.distributed = true;
    m->train = t;  /* lowering reads the recipe from the model */

    memset(out, 0, sizeof *out);
    const char *err = NULL;
    int fits = nnc_compile_checked(f, STEP_TRAIN, true, STAGE_PLAN, t.batch, &out->step, &err);
    if (fits > 0)
        return 1;
    if (fits < 0
        || nnc_compile_parts(m, &f->src, &f->arena, IR_F32, STEP_FORWARD, false, STAGE_PLAN, t.batch, &out->eval, &err) != 0
        || describe_entry(&out->rm.train, &out->step.step.L.g, out->step.plan, &err) != 0
        || describe_entry(&out->rm.eval, &out->eval.step.L.g, out->eval.plan, &err) != 0
        || describe_tensors(out, m, &f->arena, &err) != 0) {
        return internal(log, err);
    }
    out->rm.name = m->name;
    out->rm.real = RT_F32;
    out->rm.batch = t.batch;
    out->rm.distributed = t.distributed;
    describe_recipe(&out->recipe, m, &f->src, &f->arena);
    return 0;
}

int nnc_train_model_predict(NncFront *f, TrainModel *t, FILE *log)
{
    const char *err = NULL;
    if (nnc_compile_parts(f->model, &f->src, &f->arena, IR_F32, STEP_PREDICT, false, STAGE_PLAN, t->rm.batch,
                          &t->predict, &err) != 0
        || describe_entry(&t->rm.predict, &t->predict.step.L.g, t->predict.plan, &err) != 0
        || same_layout(t, &t->predict.step.L.g, t->predict.plan, &f->arena, &err) != 0) {
        return internal(log, err);
    }
    if (t->rm.predict.output.fixed < 0) {
        return internal(log, "the prediction entry has no prediction");
    }
    return 0;
}

int nnc_forward_model(NncFront *f, int64_t batch, TrainModel *out, FILE *log)
{
    SemaModel *m = f->model;
    memset(out, 0, sizeof *out);
    out->forward_only = true;
    if (batch <= 0)
        batch = m->train.batch ? m->train.batch : NNC_FORWARD_BATCH;
    const char *err = NULL;
    int fits = nnc_compile_checked(f, STEP_PREDICT, false, STAGE_PLAN, batch, &out->predict, &err);
    if (fits > 0)
        return 1;
    if (fits < 0
        || describe_entry(&out->rm.predict, &out->predict.step.L.g, out->predict.plan, &err) != 0) {
        return internal(log, err);
    }
    if (out->rm.predict.output.fixed < 0) {
        return internal(log, "the prediction entry has no prediction");
    }
    if (describe_inputs(out, &out->predict.step.L.g, out->predict.plan, m, &f->arena, &err) != 0)
        return internal(log, err);
    out->rm.name = m->name;
    out->rm.real = RT_F32;
    out->rm.batch = batch;
    if (m->train.decl)
        describe_recipe(&out->recipe, m, &f->src, &f->arena);
    out->recipe.batch = batch;
    return 0;
}

/* The spec of decode input `name`, or one in no slab when dce removed it
 * (a model that reads no position). */
static RtTensorSpec decode_input(const IrGraph *g, const IrPlan *p, const char *name)
{
    for (int v = 0; v < g->n; v++)
        if (g->nodes[v].op == IR_INPUT && g->nodes[v].a.role == ROLE_INPUT && strcmp(g->nodes[v].a.name, name) == 0)
            return spec_of(g, p, v);
    return (RtTensorSpec){.name = name, .slab = RT_SLAB_NONE};
}

int nnc_train_model_decode(NncFront *f, TrainModel *t, FILE *log)
{
    SemaModel *m = f->model;
    const char *err = NULL;
    RtDecode *d = &t->rm.decode;
    const IrGraph *g = &t->decode.step.L.g, *gs = &t->step.step.L.g;
    if (nnc_compile_parts(m, &f->src, &f->arena, IR_F32, STEP_DECODE, false, STAGE_PLAN, 1, &t->decode, &err) != 0) {
        if ((t->no_decode = t->decode.step.L.no_decode))  /* not a model with a decode entry */
            return 0;
        goto internal;
    }
    int64_t block = t->decode.step.L.block;
    if (describe_slabs(&d->entry, g, t->decode.plan, true, &err) != 0)
        goto internal;
    /* The parameters are the model's: each where the training step has it. */
    for (int v = 0; v < gs->n; v++)
        for (int u = 0; gs->nodes[v].op == IR_INPUT && gs->nodes[v].a.role == ROLE_PARAM && u < g->n; u++)
            if (g->nodes[u].op == IR_INPUT && strcmp(g->nodes[u].a.name, gs->nodes[v].a.name) == 0
                && (t->decode.plan->offset[u].fixed != t->step.plan->offset[v].fixed
                    || t->decode.plan->slab[u] != t->step.plan->slab[v])) {
                err = arena_printf(&f->arena, "'%s' is laid out differently for training and decoding", gs->nodes[v].a.name);
                goto internal;
            }
    if (d->entry.output.fixed < 0) {
        err = "the decode entry has no prediction";
        goto internal;
    }
    d->planned = 1;
    d->block = block;
    d->tokens = decode_input(g, t->decode.plan, t->rm.inputs[0].name);
    d->positions = decode_input(g, t->decode.plan, "position");
    if (d->tokens.slab != RT_SLAB_INPUT) {
        err = "the decode entry reads no tokens";
        goto internal;
    }
    return 0;
internal:
    memset(d, 0, sizeof *d);
    return internal(log, err);
}

const char *nnc_output_stem(Arena *a, const char *path, const char *model_name, const char *ext)
{
    if (strcmp(path, SOURCE_STDIN) == 0)
        return arena_printf(a, "%s%s", model_name, ext);
    const char *base = path_base(path);
    const char *dot = strrchr(base, '.');
    int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    return arena_printf(a, "%.*s%s", len, base, ext);
}

int nnc_is_model_file(const NncFront *f, const char *path)
{
    struct stat in_st, out_st;
    return stat(f->src.name, &in_st) == 0 && stat(path, &out_st) == 0 && in_st.st_dev == out_st.st_dev
        && in_st.st_ino == out_st.st_ino;
}
