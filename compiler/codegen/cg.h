/* cg.h — code generation: a planned IR graph becomes native code through
 * LLVM.  All LLVM code of nnc lives in this directory.
 *
 * A graph compiles to one function per kernel (every node that computes
 * something) and an entry `void NAME(RtCtx *ctx)` that runs them in order,
 * each split over the runtime's thread pool, then writes every updated
 * parameter and state back over its input.  Tensors live where the memory
 * plan put them: ctx->slab[slab] + offset.
 */
#ifndef NNC_CG_H
#define NNC_CG_H

#include "../ir/ir.h"
#include "../passes/passes.h"

typedef struct CgJit CgJit;

/* What --dump-ir=llvm|asm print: the module as generated and as
 * optimized, or the machine code. */
typedef enum CgDump { CG_DUMP_LLVM, CG_DUMP_ASM } CgDump;

typedef struct CgOptions {
    const char *cpu;      /* target CPU; NULL: this host */
    int         opt;      /* 0: no optimization (tests of the generator), 3: default<O3> */
} CgOptions;

/* Whether --target-cpu may name this CPU (x86-64 with 64-bit mode, as
 * LLVM 19 knows them); if not, *nearest is a close name or NULL. */
bool  cg_known_cpu(const char *name, const char **nearest);

/* Whether the generator has a kernel for op: every op that is not a leaf
 * must (unit.codegen walks the op table). */
bool  cg_op_has_kernel(IrOp op);

/* A JIT for one process (LLJIT); entries are looked up by name. */
int   cg_jit_create(CgJit **out, const char **err);
/* Compiles g (planned by p) into the JIT as entry `name`. */
int   cg_jit_add(CgJit *j, const IrGraph *g, const IrPlan *p, const char *name, const CgOptions *o,
                 const char **err);
/* The entry's address, or NULL with *err. */
void *cg_jit_lookup(CgJit *j, const char *name, const char **err);
void  cg_jit_destroy(CgJit *j);

/* The module as LLVM IR (before or after optimization) or assembly. */
int   cg_dump(const IrGraph *g, const IrPlan *p, const char *name, const CgOptions *o, CgDump what, StrBuf *out,
              const char **err);

/* One entry of a module written ahead of time. */
typedef struct CgEntry {
    const IrGraph *g;
    const IrPlan  *p;
    const char    *name;
} CgEntry;

typedef enum CgFile { CG_FILE_OBJ, CG_FILE_ASM, CG_FILE_LLVM } CgFile;

/* Compiles the entries into one optimized module (position-independent, so
 * it serves executables and shared libraries alike) and writes it to path
 * as a relocatable object, assembly or LLVM IR. */
int   cg_emit(const CgEntry *e, int n, const CgOptions *o, CgFile what, const char *path, const char **err);

#endif
