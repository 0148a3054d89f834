/* jit.c — nnc --jit; see jit.h.
 *
 * The model's two graphs (model.h) are compiled into the process by LLJIT
 * and handed, with the train block's recipe, to the runtime's loop.
 */
#include "jit.h"


#include "../codegen/cg.h"
#include "compile.h"
#include "memcheck.h"
#include "model.h"

static int jit_train(NncFront *f, const JitOptions *o);

/* Under mpirun, one of several ranks: every rank compiles the same step,
 * with the gradients' allreduce (docs/distributed.md). */
int nnc_jit_train(NncFront *f, const JitOptions *o)
{
    char why[512];
    if (rt_dist_init(why, sizeof why) != 0) {
        fprintf(o->log, "nnc: error: %s\n", why);
        return 2;
    }
    int rc = jit_train(f, o);
    rt_dist_finalize();
    return rc;
}

/* Several ranks: whether any failed at this point, which every rank
 * reaches once; one that did not says it stops with the one that did
 * (which says why itself).  Returns rc, or 1. */
static int ranks_agree(int rc, FILE *log)
{
    char why[256];
    int all = rt_dist_agree(rc, why, sizeof why);
    if (rc == 0 && all != 0)
        fprintf(log, "nnc: error: %s\n", why);
    return all;
}

static int jit_train(NncFront *f, const JitOptions *o)
{
    FILE *log = o->log;
    double t0 = clock_now(), c0 = drive_cpu_ms();
    if (!nnc_trainable(f->model)) {
        fprintf(log, "%s: error: --jit trains the model, and '%s' has no %s\n", f->src.name, f->model->name,
                f->model->loss < 0 ? "loss and no train block" : "train block");
        fprintf(log, "%s: note: run its forward pass with --predict, or compile it with --emit=so\n", f->src.name);
        return 1;
    }
    TrainModel tm;
    TrainOverrides ov = {.epochs = o->epochs, .steps = o->steps, .batch = o->batch, .seed = o->seed, .lr = o->lr,
                         .distributed = rt_dist_size() > 1};
    int rc = nnc_train_model(f, &ov, &tm, log);
    /* what the slabs will take, before any LLVM work: training here, on this machine */
    if (rc == 0 && nnc_check_run_memory(f, &tm.rm, tm.recipe.batch, o->batch > 0) != 0)
        rc = 1;
    /* a checkpoint that does not fit is refused now, not after the compile;
     * rt_run checks it again, as it must for trainers: a few KB read twice */
    char why[512];
    if (rc == 0 && o->load && rt_state_check(&tm.rm, o->load, why, sizeof why) != 0) {
        fprintf(log, "nnc: error: %s\n", why);
        rc = 1;
    }
    /* sampling: the decode entry too, when the model has one (a key/value cache) */
    if (rc == 0 && o->sample && !o->no_kv_cache)
        rc = nnc_train_model_decode(f, &tm, log);
    /* several ranks: memory differs between machines; a rank that stops here
     * must not leave the others waiting for rank 0's compile */
    if ((rc = ranks_agree(rc, log)) != 0)
        return rc;
    bool decode = tm.rm.decode.block > 0;
    if (o->sample && !o->no_kv_cache && !decode && o->verbose)
        fprintf(log, "no key/value cache: %s; each token recomputes the window\n", tm.no_decode);
    double t1 = clock_now();
    const char *err = NULL;
    CgJit *jit = NULL;
    RtModel *rm = &tm.rm;
    /* the entries in one compile (their kernels shared), one cache entry */
    CgEntry entries[3] = {{&tm.step.step.L.g, tm.step.plan, NNC_TRAIN_ENTRY, false},
                          {&tm.eval.step.L.g, tm.eval.plan, NNC_EVAL_ENTRY, false},
                          {&tm.decode.step.L.g, tm.decode.plan, NNC_DECODE_ENTRY, false}};
    CompileResult cr = {0};
    double t2 = 0;
    /* Several ranks compile the same step: rank 0 first, into the cache, and
     * the others then find it there instead of compiling it again each. */
    bool first_rank0 = rt_dist_size() > 1 && !o->no_cache;
    if (first_rank0 && rt_dist_rank() > 0 && (rc = ranks_agree(0, log)) != 0)
        return rc;   /* rank 0 could not compile */
    int compiled = compile_entries(entries, decode ? 3 : 2, &(CgOptions){.opt = 3}, !o->no_cache, log, o->verbose, &cr, &err);
    if (first_rank0 && rt_dist_rank() == 0)
        ranks_agree(compiled != 0, log);
    if (compiled != 0
        || (t2 = clock_now(), cg_jit_create(&jit, &err) != 0)
        || cg_jit_add_objects(jit, &cr.objs, &err) != 0
        || !(rm->train.fn = (void (*)(RtCtx *))cg_jit_lookup(jit, NNC_TRAIN_ENTRY, &err))
        || !(rm->eval.fn = (void (*)(RtCtx *))cg_jit_lookup(jit, NNC_EVAL_ENTRY, &err))
        || (decode && !(rm->decode.entry.fn = (void (*)(RtCtx *))cg_jit_lookup(jit, NNC_DECODE_ENTRY, &err)))) {
        fprintf(log, "nnc: internal compiler error: %s (this is a bug in nnc)\n", err);
        compile_free(&cr);
        cg_jit_destroy(jit);
        if (rt_dist_size() > 1 && !(first_rank0 && compiled != 0))
            ranks_agree(3, log);   /* the others wait for this rank below */
        return 3;
    }
    compile_free(&cr);
    if ((rc = ranks_agree(0, log)) != 0) {   /* every rank compiled */
        cg_jit_destroy(jit);
        return rc;
    }
    double t3 = clock_now();
    if (o->verbose)
        compile_say(log, 1e3 * (t3 - t0), drive_cpu_ms() - c0, cr.status, &cr, 1e3 * (t1 - t0), "JIT link",
                    1e3 * (t3 - t2));
    RtRunOptions run = {.seed = -1, .threads = o->threads, .data_root = o->data_root, .save = o->save,
                        .load = o->load, .metrics = o->metrics, .chart = o->chart, .eval_only = o->eval_only, .sample = o->sample,
                        .length = o->length, .temperature = o->temperature, .verbose = o->verbose,
                        .no_kv_cache = o->no_kv_cache};
    rc = rt_run(rm, &tm.recipe, &run, log);
    cg_jit_destroy(jit);
    return rc;
}
