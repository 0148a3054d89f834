/* jit.h — nnc --jit: compile the training step and the evaluation pass,
 * JIT them, load the train block's data and run the runtime's loop. */
#ifndef NNC_JIT_H
#define NNC_JIT_H

#include <stdio.h>

#include "../front/front.h"

/* The command line's overrides of the train block (0 or NULL: keep it). */
typedef struct JitOptions {
    int64_t     epochs, steps, batch, seed, threads;  /* seed: -1 keep */
    double      lr;
    const char *data_root;    /* --data, else $NNC_DATA, else "." */
    const char *save, *load, *metrics, *chart;
    int         eval_only;
    int         verbose;      /* -v: compile times */
    FILE       *log;
    const char *sample;       /* --sample TEXT: generate after TEXT instead of training */
    int64_t     length;       /* --length: characters to generate (default 300) */
    double      temperature;  /* --temperature (default 1) */
    int         no_cache;     /* --no-cache: compile without the persistent cache */
    int         no_kv_cache;  /* --no-kv-cache: sample without the decode entry (each token recomputes the window) */
} JitOptions;

/* Returns an exit status: 0, 1 (the input or the data is wrong; said on
 * log), 130 (interrupted), 143 (SIGTERM), 3 (internal error; said on log). */
int nnc_jit_train(NncFront *f, const JitOptions *o);

#endif
