/* gradcheck.h — nnc --gradcheck: the gradient of the loss for every
 * parameter, from autodiff (interpreted in f64), against central finite
 * differences of the loss. */
#ifndef NNC_GRADCHECK_H
#define NNC_GRADCHECK_H

#include "../front/front.h"
#include "../util/strbuf.h"

typedef struct GradcheckOptions {
    int64_t  batch;     /* examples in the deterministic batch */
    uint64_t seed;      /* parameters and batch */
    int      entries;   /* single entries checked per parameter tensor */
    double   h;         /* finite-difference step */
    double   rtol, atol;/* an entry passes if its relative or its absolute error is within these */
} GradcheckOptions;

#define GRADCHECK_DEFAULTS ((GradcheckOptions){.batch = 2, .seed = 1, .entries = 3, .h = 1e-6, .rtol = 1e-5, .atol = 1e-8})

/* Writes the table to out.  Returns the number of parameters that failed;
 * -1 with *err set (an internal error); -2 when the interpreter's memory
 * would not fit (said to f's diagnostics: nnc_check_gradcheck_memory). */
int nnc_gradcheck(NncFront *f, const GradcheckOptions *opt, StrBuf *out, const char **err);

#endif
