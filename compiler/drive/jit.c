/* jit.c — nnc --jit; see jit.h.
 *
 * Two graphs are compiled: the whole training step and the forward pass
 * with loss and metrics (no dropout) for evaluation.  Both are planned for
 * the train block's batch; their parameters and inputs are laid out alike
 * (the same tensors in the same order), so one set of slabs serves both,
 * and the runtime's loop (rt_train) drives them.
 */
#include "jit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../codegen/cg.h"
#include "../passes/pipeline.h"
#include "nnc_runtime.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static RtDtype dtype_of(IrType t) { return t == IR_F64 ? RT_F64 : t == IR_I32 ? RT_I32 : RT_F32; }

static RtTensorSpec spec_of(const IrGraph *g, const IrPlan *p, int v)
{
    const IrNode *n = &g->nodes[v];
    RtTensorSpec s = {.name = n->a.name, .slab = (RtSlab)p->slab[v], .offset = p->offset[v], .rank = n->shape.rank,
                      .dtype = dtype_of(n->type)};
    for (int i = 0; i < n->shape.rank; i++)
        s.shape[i] = n->shape.dim[i] == IR_BATCH ? -1 : n->shape.dim[i];
    return s;
}

static int output_offset(const IrGraph *g, const IrPlan *p, IrOutKind kind, int nth)
{
    for (int i = 0; i < g->nouts; i++)
        if (g->outs[i].kind == kind && nth-- == 0)
            return i;
    (void)p;
    return -1;
}

/* Fills an entry's description from its graph and plan. */
static int describe_entry(RtEntry *e, const IrGraph *g, const IrPlan *p, const char **err)
{
    void (*fn)(RtCtx *) = e->fn;
    memset(e, 0, sizeof *e);
    e->fn = fn;
    for (int s = 0; s <= SLAB_ACT; s++)
        e->slab_bytes[s] = p->slab_bytes[s];
    e->loss = -1;
    int o = output_offset(g, p, OUT_LOSS, 0);
    if (o >= 0) {
        int v = g->outs[o].value;
        if (p->slab[v] != SLAB_ACT) {
            *err = "the loss is not computed in the activation slab";
            return -1;
        }
        e->loss = p->offset[v];
    }
    e->output = -1;
    o = output_offset(g, p, OUT_PREDICTION, 0);
    if (o >= 0 && p->slab[g->outs[o].value] == SLAB_ACT) {
        const IrNode *pred = &g->nodes[g->outs[o].value];
        e->output = p->offset[g->outs[o].value];
        e->output_last = pred->shape.dim[pred->shape.rank - 1];
    }
    for (int k = 0; (o = output_offset(g, p, OUT_METRIC, k)) >= 0 && k < 8; k++) {
        e->metric_name[k] = g->outs[o].name;
        e->metric[k] = p->offset[g->outs[o].value];
        e->nmetrics++;
    }
    return 0;
}

/* A relative data path: under the data root if it is there, else beside the model. */
static const char *resolve(Arena *a, const char *root, const char *model_path, const char *path)
{
    if (path[0] == '/')
        return path;
    const char *in_root = arena_printf(a, "%s/%s", root, path);
    struct stat st;
    if (stat(in_root, &st) == 0)
        return in_root;
    const char *slash = strrchr(model_path, '/');
    if (slash) {
        const char *beside = arena_printf(a, "%.*s/%s", (int)(slash - model_path), model_path, path);
        if (stat(beside, &st) == 0)
            return beside;
    }
    return in_root;  /* the loader says what is missing */
}

int nnc_jit_train(NncFront *f, const JitOptions *o)
{
    SemaModel *m = f->model;
    FILE *log = o->log;
    SemaTrain t = m->train;
    if (!t.decl) {
        fprintf(log, "%s: error: model '%s' has no train block; --jit needs one\n", f->src.name, m->name);
        return 1;
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
    m->train = t;  /* lowering reads the recipe from the model */

    double t0 = now();
    const char *err = NULL;
    NncCompiled step, eval;
    if (nnc_compile_parts(m, &f->src, &f->arena, IR_F32, STEP_TRAIN, true, STAGE_PLAN, t.batch, &step, &err) != 0
        || nnc_compile_parts(m, &f->src, &f->arena, IR_F32, STEP_FORWARD, false, STAGE_PLAN, t.batch, &eval, &err) != 0) {
        fprintf(log, "nnc: internal compiler error: %s (this is a bug in nnc)\n", err);
        return 3;
    }
    const IrGraph *gs = &step.step.L.g, *ge = &eval.step.L.g;
    double t1 = now();
    CgJit *jit = NULL;
    if (cg_jit_create(&jit, &err) != 0 || cg_jit_add(jit, gs, step.plan, "nnc_train_step", &(CgOptions){.opt = 3}, &err) != 0
        || cg_jit_add(jit, ge, eval.plan, "nnc_eval", &(CgOptions){.opt = 3}, &err) != 0) {
        fprintf(log, "nnc: internal compiler error: %s (this is a bug in nnc)\n", err);
        cg_jit_destroy(jit);
        return 3;
    }
    RtModel rm = {.name = m->name, .real = RT_F32};
    rm.train.fn = (void (*)(RtCtx *))cg_jit_lookup(jit, "nnc_train_step", &err);
    rm.eval.fn = rm.train.fn ? (void (*)(RtCtx *))cg_jit_lookup(jit, "nnc_eval", &err) : NULL;
    double t2 = now();
    if (!rm.train.fn || !rm.eval.fn || describe_entry(&rm.train, gs, step.plan, &err) != 0
        || describe_entry(&rm.eval, ge, eval.plan, &err) != 0) {
        fprintf(log, "nnc: internal compiler error: %s (this is a bug in nnc)\n", err);
        cg_jit_destroy(jit);
        return 3;
    }
    if (o->verbose)
        fprintf(log, "compiled in %.1f ms (front end and passes %.1f ms, LLVM and JIT %.1f ms)\n",
                1e3 * (t2 - t0), 1e3 * (t1 - t0), 1e3 * (t2 - t1));

    /* tensors by role; the evaluation graph must see parameters and inputs where the step does */
    rm.params = ARENA_ARRAY(&f->arena, RtTensorSpec, gs->n + 1);
    rm.state = ARENA_ARRAY(&f->arena, RtTensorSpec, gs->n + 1);
    rm.inputs = ARENA_ARRAY(&f->arena, RtTensorSpec, gs->n + 1);
    rm.targets = ARENA_ARRAY(&f->arena, RtTensorSpec, gs->n + 1);
    for (int v = 0; v < gs->n; v++) {
        const IrNode *n = &gs->nodes[v];
        if (n->op != IR_INPUT)
            continue;
        RtTensorSpec s = spec_of(gs, step.plan, v);
        for (int u = 0; u < ge->n; u++)
            if (ge->nodes[u].op == IR_INPUT && strcmp(ge->nodes[u].a.name, n->a.name) == 0
                && (eval.plan->offset[u] != s.offset || (int)eval.plan->slab[u] != (int)s.slab)) {
                fprintf(log, "nnc: internal compiler error: '%s' is laid out differently for training and "
                        "evaluation (this is a bug in nnc)\n", n->a.name);
                cg_jit_destroy(jit);
                return 3;
            }
        switch (n->a.role) {
        case ROLE_PARAM: {
            const SemaParam *sp = &m->params[rm.nparams];
            s.init = (RtInit)sp->init;
            s.fan_in = sp->fan_in;
            rm.params[rm.nparams++] = s;
            break;
        }
        case ROLE_STATE: case ROLE_STEP: rm.state[rm.nstate++] = s; break;
        case ROLE_INPUT: rm.inputs[rm.ninputs++] = s; break;
        case ROLE_TARGET: rm.targets[rm.ntargets++] = s; break;
        }
    }

    /* the data */
    const char *root = o->data_root ? o->data_root : getenv("NNC_DATA") ? getenv("NNC_DATA") : ".";
    RtTrainConfig cfg = {.batch = t.batch, .epochs = t.epochs, .steps = t.steps, .eval_every = t.eval_every,
                         .seed = (uint64_t)t.seed, .threads = o->threads > 0 ? (int)o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN),
                         .save_path = o->save, .load_path = o->load, .metrics_path = o->metrics, .eval_only = o->eval_only,
                         .progress = isatty(fileno(log)), .log = log, .sample = o->sample,
                         .sample_length = o->length ? o->length : 300,
                         .temperature = o->temperature > 0 ? o->temperature : 1.0, .out = stdout};
    RtDataset train = {0}, test = {0};
    RtText text = {0};
    char why[1024];
    int rc = 0;
    const Builtin *data = t.data;
    if (data == &builtin_table[B_MNIST]) {
        const char *dir = resolve(&f->arena, root, f->src.name, t.data_args[0].s);
        RtNormalize norm = strcmp(t.data_args[1].s, "standard") == 0 ? RT_NORM_STANDARD
                         : strcmp(t.data_args[1].s, "unit") == 0 ? RT_NORM_UNIT : RT_NORM_NONE;
        if (rt_mnist_load(dir, 0, norm, &train, why, sizeof why) || rt_mnist_load(dir, 1, norm, &test, why, sizeof why))
            rc = 1;
        cfg.train = &train, cfg.test = &test;
    } else if (data == &builtin_table[B_CSV]) {
        int64_t classes = 0;  /* labels: their classes; real targets: 0 */
        for (int i = 0; i < m->nnodes; i++)
            if (m->nodes[i].kind == SN_TARGET)
                classes = m->nodes[i].type.elem == ELEM_INDEX ? m->nodes[i].type.classes : 0;
        const char *tr = resolve(&f->arena, root, f->src.name, t.data_args[0].s);
        const char *te = t.data_args[1].s[0] ? resolve(&f->arena, root, f->src.name, t.data_args[1].s) : tr;
        if (rt_csv_load(tr, t.data_args[2].b, classes, &train, why, sizeof why)
            || rt_csv_load(te, t.data_args[2].b, classes, &test, why, sizeof why))
            rc = 1;
        cfg.train = &train, cfg.test = &test;
    } else {
        const char *path = resolve(&f->arena, root, f->src.name, t.data_args[0].s);
        cfg.block = t.data_args[1].i;
        if (rt_text_load(path, t.data_args[2].f, &text, why, sizeof why))
            rc = 1;
        else {
            int64_t vocab = 0;
            for (int i = 0; i < m->nnodes; i++)
                if (m->nodes[i].kind == SN_INPUT)
                    vocab = m->nodes[i].type.classes;
            if (text.vocab > vocab) {
                snprintf(why, sizeof why, "%s has %d distinct characters, but the model's vocabulary is %lld", path,
                         text.vocab, (long long)vocab);
                rc = 1;
            }
        }
        cfg.text = &text;
    }
    if (rc)
        fprintf(log, "nnc: error: %s\n", why);
    else {
        rc = rt_train(&rm, &cfg, why, sizeof why);
        if (rc == 1)
            fprintf(log, "nnc: error: %s\n", why);
    }
    rt_dataset_free(&train);
    rt_dataset_free(&test);
    rt_text_free(&text);
    cg_jit_destroy(jit);
    return rc;
}
