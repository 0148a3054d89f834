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
#include <sys/resource.h>

#include "../front/front.h"
#include "../passes/pipeline.h"
#include "../util/clock.h"  /* clock_now: -v's compile times */
#include "nnc_runtime.h"

/* The command line's overrides of the train block (0 or NULL: keep it). */
typedef struct TrainOverrides {
    int64_t epochs, steps, batch, seed;  /* seed: -1 keep */
    double  lr;
    bool    distributed;                 /* reduce gradients across MPI ranks (allreduce nodes) */
} TrainOverrides;

typedef struct TrainModel {
    NncCompiled step, eval;   /* graphs and memory plans */
    NncCompiled predict;      /* nnc_train_model_predict only */
    NncCompiled decode;       /* nnc_train_model_decode only, when rm.decode.entry is there */
    const char *no_decode;    /* nnc_train_model_decode: why the model has no decode entry, or NULL */
    RtModel     rm;           /* entries' fn still NULL */
    RtRecipe    recipe;
    bool        forward_only; /* nnc_forward_model: only predict (rm.predict) is compiled */
} TrainModel;

/* The batch a forward-only model's plan is made for when the file has no
 * train block (any batch runs: the plan serves them all). */
enum { NNC_FORWARD_BATCH = 64 };

/* Applies the overrides, compiles and describes.  Returns 0, 1 (the model
 * has no train block, said on log; or compiling it would not fit in memory,
 * nnc_check_compile_memory, said on f's diagnostics) or 3 (internal error;
 * said on log). */
int nnc_train_model(NncFront *f, const TrainOverrides *o, TrainModel *out, FILE *log);

/* A forward-only model (no train block, or no loss): only the forward pass
 * to the output (rm.predict), its plan made for batch (0: the train
 * block's, else NNC_FORWARD_BATCH); rm.train and rm.eval stay empty.
 * Returns 0, 1 (compiling it would not fit in memory; said on f's
 * diagnostics) or 3 (internal error; said on log). */
int nnc_forward_model(NncFront *f, int64_t batch, TrainModel *out, FILE *log);

/* Whether m can be trained: it has a loss and the file a train block. */
static inline bool nnc_trainable(const SemaModel *m) { return m->loss >= 0 && m->train.decl; }

/* Also the forward pass to the output alone (rm.predict), for libraries.
 * Returns 0 or 3 (internal error; said on log). */
int nnc_train_model_predict(NncFront *f, TrainModel *t, FILE *log);

/* Also the decode entry (rm.decode: one new token per sequence with a
 * key/value cache, for --sample), its plan made for batch 1, when the model
 * has one; else no_decode says why not (lower_decode_block) and rm.decode
 * stays empty.  Returns 0 or 3 (internal error; said on log). */
int nnc_train_model_decode(NncFront *f, TrainModel *t, FILE *log);

/* The default output of a model file: model.nn -> model + ext; a model from
 * standard input is named after itself (model_name + ext).  Shared by every
 * writer (aot.c, onnx.c). */
const char *nnc_output_stem(Arena *a, const char *path, const char *model_name, const char *ext);
/* Whether path names the very file the model was read from (a writer refuses it). */
int nnc_is_model_file(const NncFront *f, const char *path);

/* Milliseconds of CPU time of the process (all its threads, not its
 * children), for -v: on a shared machine the wall clock of a compile says
 * little, its CPU time more. */
static inline double drive_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return 1e3 * (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + 1e-3 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Names of the generated entries. */
#define NNC_TRAIN_ENTRY "nnc_train_step"
#define NNC_EVAL_ENTRY  "nnc_eval"
#define NNC_PREDICT_ENTRY "nnc_predict"  /* a forward-only model's --emit=llvm|asm, and --predict */
#define NNC_DECODE_ENTRY "nnc_decode"    /* --sample with a key/value cache */

#endif
