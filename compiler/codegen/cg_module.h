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
    const CgTune  *tune;  /* the matmul's choices for this CPU (cg_tune_for), or the options' own */
} CgTarget;

/* The host (or o->cpu when given, with its default features), and its row
 * of cg_tune.c unless o gives a tune of its own. */
int  cg_host_target(CgTarget *t, const CgOptions *o, const char **err);
void cg_target_free(CgTarget *t);
/* A target machine for t; the caller disposes of it. */
LLVMTargetMachineRef cg_target_machine(const CgTarget *t);
/* An empty module named name for t, with tm's data layout. */
LLVMModuleRef cg_module_for(LLVMContextRef ctx, const char *name, const CgTarget *t, LLVMTargetMachineRef tm);
/* cg_optimize's level of the module that holds only the wrappers and
 * entries (cg_split's module 0). */
enum { CG_LEVEL_ENTRIES = -1 };
/* ... and of the modules of matmul bodies: a pipeline of their own (cg_module.c). */
enum { CG_LEVEL_PRODUCTS = -2 };
/* ... and of the modules of reductions, indices and casts: default<O2>
 * without the loop unroller (cg_module.c body_kind). */
enum { CG_LEVEL_REDUCE = -3 };
/* Products of at most CG_TINY_MACS multiply-adds at the plan's batch and
 * at most CG_TINY_N columns compile as plain loops (cg_matmul.c
 * tiny_product); part of the cache key. */
enum { CG_TINY_MACS = 32, CG_TINY_N = 4 };
/* A target machine for a module optimized at level (CG_LEVEL_ENTRIES: less
 * work in instruction selection and register allocation). */
LLVMTargetMachineRef cg_target_machine_for(const CgTarget *t, int level);

/* The options nnc gives LLVM before $NNC_LLVM_ARGS (cg_host_target sets
 * them once per process): part of the cache key. */
const char *cg_llvm_options(void);

/* Its code generation level's name, as the dumps say it ("none", "aggressive"). */
const char *cg_codegen_level(int level);

/* What cg_parts makes of each module, after the module's own pipeline:
 * its relocatable object (what runs), its assembly, its LLVM IR, or (a
 * dump) its LLVM IR as generated and then as optimized; each text begins
 * with a comment line that names the module and how it was compiled. */
typedef enum CgMake { CG_MAKE_OBJECT, CG_MAKE_ASM, CG_MAKE_LLVM, CG_MAKE_LLVM_DUMP } CgMake;
/* cg_objects, making `make` of each module (out->obj[k]: module k's object
 * or text, not NUL-terminated). */
int cg_parts(const CgEntry *e, int n, const CgOptions *o, int threads, CgMake make, CgObjects *out, CgTimes *t,
             const char **err);

/* Builds g's kernels and entry `name` into mod and verifies the module. */
int cg_build_module(LLVMContextRef ctx, LLVMModuleRef mod, const IrGraph *g, const IrPlan *p, const char *name,
                    const CgTarget *t, const char **err);
/* The kernels of several entries compiled as one object: one body per
 * distinct kernel (kernel_key), shared by every node and entry that needs
 * it, and each body assigned to one of the modules that compile in
 * parallel: elementwise bodies to modules optimized with default<O2>,
 * matmuls to modules at CG_LEVEL_PRODUCTS, reductions, indices and casts
 * to modules at CG_LEVEL_REDUCE, the rest (rows, windows, layout) to
 * modules with default<O3>.  Module 0 holds every node's wrapper
 * and the entries, and no body (CG_LEVEL_ENTRIES); the others hold bodies
 * only (external, hidden), which module 0 declares. */
enum { CG_MAX_PARTS = 16 };
typedef struct CgSplit {
    int     nparts;
    int     nbodies;
    int    *part;               /* per body: its module */
    IrOp   *op;                 /* per body: its op (a group's: its last member's), for body_kind and body_cost */
    int   **body;               /* per entry, per node: its body, or -1 (no kernel) */
    int   **inplace;            /* per entry: cg_inplace_plan's, which the keys and the bodies both read */
    int   **group;              /* per entry: cg_group_plan's, likewise */
    double  cost[CG_MAX_PARTS]; /* per module: the estimated compile cost of its bodies */
    int     level[CG_MAX_PARTS];/* per module: cg_optimize's level (2: the light pipeline; CG_LEVEL_*) */
} CgSplit;

/* nparts: modules of each kind (elementwise bodies at 2 when level is 3,
 * the rest at level), at most CG_MAX_PARTS in all with module 0. */
int  cg_split(const CgEntry *e, int n, int nparts, int level, CgSplit *s);
void cg_split_free(CgSplit *s, int n);
/* Module part of the split: its bodies, and (part 0) the wrappers and entries. */
int  cg_build_part(LLVMContextRef ctx, LLVMModuleRef mod, const CgEntry *e, int n, const CgSplit *s, int part,
                   const CgTarget *t, const char **err);

/* The pass pipeline cg_optimize runs at level (part of the cache key). */
const char *cg_pipeline(int level);
/* Whether it unrolls loops at level (part of the cache key too). */
bool cg_unrolls(int level);
/* default<O3> (level 3) with loop and SLP vectorization and unrolling;
 * CG_LEVEL_PRODUCTS, CG_LEVEL_ENTRIES: cg_pipeline's, cg_unrolls'. */
int cg_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, int level, const char **err);

#endif
