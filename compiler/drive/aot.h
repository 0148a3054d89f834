/* aot.h — ahead of time: `nnc model.nn` writes a native trainer; --emit=so
 * and --emit=obj a library for embedding with its header; --emit=llvm|asm
 * the generated module. */
#ifndef NNC_AOT_H
#define NNC_AOT_H

#include <stdio.h>

#include "model.h"

typedef enum AotKind {
    AOT_EXE,   /* a trainer */
    AOT_SO,    /* lib<model>.so + <model>.h */
    AOT_OBJ,   /* <model>.o + <model>.h, for static linking with the runtime */
    AOT_LLVM,  /* the optimized module as LLVM IR */
    AOT_ASM,   /* ... as assembly */
} AotKind;

typedef struct AotOptions {
    AotKind        kind;
    const char    *output;       /* -o; NULL: the model file's stem (+ .ll, .s), lib<model>.so, <model>.o */
    const char    *cpu;          /* --target-cpu; NULL: this host */
    TrainOverrides train;        /* compiled in: batch, learning rate, and defaults */
    int            verbose;
    int            no_cache;     /* --no-cache: compile without the persistent cache */
    FILE          *log;
} AotOptions;

/* Returns an exit status: 0, 1 (no train block, no C compiler or runtime to
 * link with; said on log) or 3 (internal error). */
int nnc_aot(NncFront *f, const AotOptions *o);

/* 0 if -o FILE can be written: not a directory, in a folder that exists and
 * may be written, and (replaced: a file put in place whole, not one LLVM
 * writes where it is) a path a regular file may replace; else 1, said on
 * log in the words of every --emit, before any work. */
int nnc_check_output(const char *out, bool replaced, FILE *log);

#endif
