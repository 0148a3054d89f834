/* cg_module.h — building, verifying and optimizing one module (used by the
 * JIT and by the object and assembly writers). */
#ifndef NNC_CG_MODULE_H
#define NNC_CG_MODULE_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "cg.h"

typedef struct CgTarget {
    char          *triple, *cpu, *features;
    LLVMTargetRef  target;
} CgTarget;

/* The host (or cpu when given, with its default features). */
int  cg_host_target(CgTarget *t, const char *cpu, const char **err);
void cg_target_free(CgTarget *t);
/* A target machine for t; the caller disposes of it. */
LLVMTargetMachineRef cg_target_machine(const CgTarget *t);

/* Builds g's kernels and entry `name` into mod and verifies the module. */
int cg_build_module(LLVMContextRef ctx, LLVMModuleRef mod, const IrGraph *g, const IrPlan *p, const char *name,
                    const CgTarget *t, const char **err);
/* The pass pipeline cg_optimize runs at level (part of the cache key). */
const char *cg_pipeline(int level);
/* default<O3> (level 3) with loop and SLP vectorization. */
int cg_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, int level, const char **err);

#endif
