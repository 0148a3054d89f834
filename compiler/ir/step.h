/* step.h — the training step as one graph: forward, loss, backward and
 * the optimizer update (or, for a model without a train block, the
 * gradients as outputs). */
#ifndef NNC_STEP_H
#define NNC_STEP_H

#include "lower.h"

typedef struct NncStep {
    Lowered L;
    int    *grads;   /* per parameter: its gradient node (after the backward pass) */
} NncStep;

typedef enum StepParts {
    STEP_PREDICT,    /* the forward pass to the output only: no targets, loss or metrics (libraries) */
    STEP_FORWARD,    /* forward pass, loss and metrics: --dump-ir=ir */
    STEP_GRADIENTS,  /* and the backward pass, gradients as outputs: --gradcheck */
    STEP_TRAIN,      /* and the optimizer update: --dump-ir=grad and later stages */
    STEP_DECODE,     /* one new position with the key/value caches as state (lower.h, decode mode):
                      * the output and the caches' updates only; --sample, --dump-ir=decode */
} StepParts;

/* training: dropout active.  Returns 0, or -1 with *err (an internal error). */
int nnc_build_step(const SemaModel *m, const Source *src, Arena *a, IrType ftype, StepParts parts, bool training,
                   NncStep *out, const char **err);

#endif
