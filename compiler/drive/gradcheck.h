/* gradcheck.h — nnc --gradcheck: the gradient of the loss for every
 * parameter, from autodiff (interpreted in f64), against central finite
 * differences of the loss. */
#ifndef NNC_GRADCHECK_H
#define NNC_GRADCHECK_H

#include <stdio.h>

#include "../front/front.h"

typedef struct GradcheckOptions {
    int64_t  batch;     /* examples in the deterministic batch */
    uint64_t seed;      /* parameters and batch */
    int      entries;   /* single entries checked per parameter tensor */
    double   h;         /* finite-difference step */
    double   rtol, atol;/* an entry passes if its relative or its absolute error is within these */
    FILE    *log;       /* where a note goes when the checks will take long (NULL: nowhere) */
    double   note_after;/* seconds of checks, as first measured, past which the note is given */
    int64_t  interp_fail_at; /* tests: the allocation of each evaluator that fails (IrEval.fail_at); 0: none */
} GradcheckOptions;

#define GRADCHECK_DEFAULTS                                                                                              \
    ((GradcheckOptions){.batch = 2, .seed = 1, .entries = 3, .h = 1e-6, .rtol = 1e-5, .atol = 1e-8, .note_after = 10})

/* Writes the table to out, each parameter tensor's row (flushed) when it
 * is checked: a long check shows its progress.  Returns the number of parameters that failed;
 * -1 with *err set (an internal error); -2 when the interpreter's memory
 * would not fit (said to f's diagnostics: nnc_check_gradcheck_memory). */
int nnc_gradcheck(NncFront *f, const GradcheckOptions *opt, FILE *out, const char **err);

#endif
