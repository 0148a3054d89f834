/* model.h — a model compiled for training, described as the runtime sees it.
 *
 * Both `nnc --jit` and `nnc model.nn` (an executable) compile the same two
 * graphs (the training step, and the forward pass with loss and metrics for
 * evaluation), describe where every tensor lives (RtModel) and what the
 * train block asks for (RtRecipe); they differ only in where the code goes.
 */
#ifndef NNC_DRIVE_MODEL_H
#define NNC_DRIVE_MODEL_H

#include <stdio.h>
#include <time.h>

#include "../front/front.h"
#include "../passes/pipeline.h"
#include "nnc_runtime.h"

/* The command line's overrides of the train block (0 or NULL: keep it). */
typedef struct TrainOverrides {
    int64_t epochs, steps, batch, seed;  /* seed: -1 keep */
    double  lr;
} TrainOverrides;

typedef struct TrainModel {
    NncCompiled step, eval;   /* graphs and memory plans */
    NncCompiled predict;      /* nnc_train_model_predict only */
    RtModel     rm;           /* entries' fn still NULL */
    RtRecipe    recipe;
} TrainModel;

/* Applies the overrides, compiles and describes.  Returns 0, 1 (the model
 * has no train block; said on log) or 3 (internal error; said on log). */
int nnc_train_model(NncFront *f, const TrainOverrides *o, TrainModel *out, FILE *log);

/* Also the forward pass to the output alone (rm.predict), for libraries.
 * Returns 0 or 3 (internal error; said on log). */
int nnc_train_model_predict(NncFront *f, TrainModel *t, FILE *log);

/* Seconds on the monotonic clock, for -v's compile times. */
static inline double drive_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Names of the generated entries. */
#define NNC_TRAIN_ENTRY "nnc_train_step"
#define NNC_EVAL_ENTRY  "nnc_eval"

#endif
