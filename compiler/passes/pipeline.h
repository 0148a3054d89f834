/* pipeline.h — from a checked model to the planned training step, stage by
 * stage, as --dump-ir shows them:
 *
 *   ir     the forward pass and loss as lowered
 *   grad   + the backward pass and the optimizer update (the whole step)
 *   opt    after simplify, cse and dce (repeated while they change something)
 *   fused  after fusion (and dce)
 *   plan   with the memory plan
 *
 * The verifier runs after every pass; a failure is an internal error.
 */
#ifndef NNC_PIPELINE_H
#define NNC_PIPELINE_H

#include "../ir/step.h"
#include "passes.h"

typedef struct NncCompiled {
    NncStep step;       /* step.L.g is the graph at the stage reached */
    IrPlan *plan;       /* STAGE_PLAN only */
} NncCompiled;

/* The step of parts (training: dropout on) carried to stage until.
 * Returns 0, or -1 with *err (an internal compiler error). */
int nnc_compile_parts(const SemaModel *m, const Source *src, Arena *a, IrType ftype, StepParts parts, bool training,
                      IrStage until, int64_t batch, NncCompiled *out, const char **err);
/* nnc_compile_parts from out->step as nnc_build_step left it: the passes
 * to stage until (nnc_check_compile_memory reads the step as built). */
int nnc_compile_built(IrStage until, int64_t batch, NncCompiled *out, const char **err);
/* The training step (STAGE_IR: the forward pass as lowered). */
int nnc_compile(const SemaModel *m, const Source *src, Arena *a, IrType ftype, IrStage until, int64_t batch,
                NncCompiled *out, const char **err);

#endif
