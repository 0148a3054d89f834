/* predict.h — nnc --predict: the forward pass on numbers typed on the
 * command line or read from .npy/.csv files, through the JIT; --trace
 * shows every binding of the first example, computed by the reference
 * interpreter. */
#ifndef NNC_PREDICT_H
#define NNC_PREDICT_H

#include <stdio.h>

#include "../front/front.h"

typedef struct PredictOptions {
    const char *const *inputs;  /* "NAME=VALUES" as given to --input */
    int         ninputs;
    const char *load;           /* --load CHECKPOINT, or NULL: initialise from seed */
    const char *output;         /* -o FILE.npy, or NULL: print to stdout */
    int64_t     seed;           /* -1: the train block's seed, or 1 without a train block */
    int64_t     batch;          /* 0: the plan's default */
    bool        trace;          /* print the first example's bindings instead of the outputs */
    FILE       *out, *log;      /* stdout, stderr */
    bool        no_cache;       /* --no-cache: compile without the persistent compile cache */
    bool        verbose;        /* -v: the compile's times on log; which tensors of --load were converted to f32 */
    int64_t     interp_fail_at; /* tests: --trace's interpreter fails this allocation (IrEval.fail_at); 0: none */
} PredictOptions;

/* Returns an exit status: 0, 1 (wrong input, values or checkpoint; said on
 * log), 3 (internal error; said on log). */
int nnc_predict(NncFront *f, const PredictOptions *o);

#endif
