/* aot.h — ahead of time: `nnc model.nn` writes a native trainer; --emit
 * writes the generated module as LLVM IR or assembly. */
#ifndef NNC_AOT_H
#define NNC_AOT_H

#include <stdio.h>

#include "model.h"

typedef enum AotKind { AOT_EXE, AOT_LLVM, AOT_ASM } AotKind;

typedef struct AotOptions {
    AotKind        kind;
    const char    *output;       /* -o; NULL: the model file's stem (+ .ll, .s) */
    const char    *cpu;          /* --target-cpu; NULL: this host */
    TrainOverrides train;        /* compiled in: batch, learning rate, and defaults */
    int            verbose;
    FILE          *log;
} AotOptions;

/* Returns an exit status: 0, 1 (no train block, no C compiler or runtime to
 * link with; said on log) or 3 (internal error). */
int nnc_aot(NncFront *f, const AotOptions *o);

#endif
