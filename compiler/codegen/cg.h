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
#include "../util/cache.h"

typedef struct CgJit CgJit;

/* What --dump-ir=llvm|asm print: the module as generated and as
 * optimized, or the machine code. */
typedef enum CgDump { CG_DUMP_LLVM, CG_DUMP_ASM } CgDump;

/* The matmul's choices that depend on the core (cg_tune.c): a row of a
 * table keyed by the CPU name, or by its features when the name is not in
 * it.  Every field is a speed choice, never a bit of a finite result
 * (cg_tune.c names the edge): X(field), what each is in its comment (and
 * docs/training.md's tables, which unit.tune checks name every field). */
#define CG_TUNE_FIELDS(X)                                                                                                \
    X(vector_bytes)       /* the register tile's vectors: 64 (zmm) or 32 (ymm) */                                        \
    X(mr)                 /* rows of the register tile */                                                                \
    X(nrv)                /* its columns, in vectors */                                                                  \
    X(pack_group)         /* panels of a row-major op(B) copied side by side, row after row (pack_rows) */               \
    X(prefetch_row_bytes) /* op(B)'s copy prefetches rows of B at least this long ... */                                 \
    X(prefetch_rows)      /* ... this many rows ahead (0: no prefetch) ... */                                            \
    X(prefetch_b_bytes)   /* ... for a B of at least this many bytes at the plan's batch */                              \
    X(claim_pack_bytes)   /* a claim packs all of its panels of a chunk first when they take at most this */             \
    X(keep_packed_bytes)  /* a thread keeps every chunk of packed op(B) through a call when they take at most this */    \
    X(patch_chunk_bytes)  /* rows read as patches in place are one chunk while all of op(B) packed takes at most this */ \
    X(kc)                 /* the contraction in chunks of about this many reals (chunk_depth), one below 1.5 kc */

typedef struct CgTune {
    const char *name;  /* the row's name: in the compile cache's key with every field */
#define CG_TUNE_FIELD(f) int f;
    CG_TUNE_FIELDS(CG_TUNE_FIELD)
#undef CG_TUNE_FIELD
} CgTune;
enum { CG_TILE_MAX_MR = 16, CG_TILE_MAX_NRV = 4 };
/* The tile this process compiles with for a CPU: its row of the table,
 * or NNC_TILE's tile with the row's packing when the environment set one
 * (read once a process). */
const CgTune *cg_tune_for(const char *cpu, const char *features);
/* The table's row for a CPU, whatever NNC_TILE says: what tests of the
 * table state. */
const CgTune *cg_tune_row(const char *cpu, const char *features);

typedef struct CgOptions {
    const char   *cpu;   /* target CPU; NULL: this host */
    int           opt;   /* 0: no optimization (tests of the generator), 3: default<O3> */
    const CgTune *tune;  /* NULL: the target CPU's row (cg_tune_for); tests of a field give their own */
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

/* The modules cg_objects compiles g into, with the same pipelines (what
 * runs), as text: each module's LLVM IR as generated and as optimized, or
 * its assembly, each under a comment line naming the module and how it was
 * compiled. */
int   cg_dump(const IrGraph *g, const IrPlan *p, const char *name, const CgOptions *o, CgDump what, StrBuf *out,
              const char **err);

/* One entry of a module written ahead of time. */
typedef struct CgEntry {
    const IrGraph *g;
    const IrPlan  *p;
    const char    *name;
    bool           keep_across_calls; /* a library's forward, whose instance counts its weights'
                                       * versions (RtCtx.weights): products keep what they pack of
                                       * a parameter across calls (cg_matmul.c), not only within
                                       * one (CgTune.keep_packed_bytes) */
} CgEntry;

typedef enum CgFile { CG_FILE_OBJ, CG_FILE_ASM, CG_FILE_LLVM } CgFile;

/* The entries' code as cg_objects compiles it (position-independent, so it
 * serves executables and shared libraries alike), as one text: assembly
 * (CG_FILE_ASM: the modules' assembly in one file, their private labels
 * apart) or LLVM IR (CG_FILE_LLVM: the optimized modules linked into one).
 * Objects (CG_FILE_OBJ) come from cg_objects. */
int   cg_emit(const CgEntry *e, int n, const CgOptions *o, CgFile what, StrBuf *out, const char **err);

/* ---- object code for the compile cache -------------------------------------------------
 * The entries' key (everything that determines the machine code), hashed
 * before anything is built, so that a cache hit costs no LLVM work; on a
 * miss, the entries split into modules (at most CG_MAX_OBJECTS), each
 * optimized with its own pipeline and emitted as a relocatable object in
 * memory, which cg_jit_add_objects loads and --emit writes. */
enum { CG_MAX_OBJECTS = 16 };

/* Milliseconds in each part; with several modules compiling at once, the
 * longest module's (the parts of the wall time). */
typedef struct CgTimes {
    double build;  /* the modules as LLVM IR, verified */
    double opt;    /* LLVM's optimization pipeline */
    double mc;     /* machine code: instruction selection to the object */
    /* the CPU time of each, summed over the modules (ms), and of each
     * module's context and target machine, made and disposed of */
    double setup_cpu, build_cpu, opt_cpu, mc_cpu;
} CgTimes;

/* The relocatable objects that together hold the entries. */
typedef struct CgObjects {
    int     n;
    void   *obj[CG_MAX_OBJECTS];  /* malloc'ed */
    size_t  len[CG_MAX_OBJECTS];
} CgObjects;

/* The cache key of the entries for o (32 hex digits): this nnc's version
 * and executable, LLVM's version, the target triple, CPU and features, the
 * pipeline, and every field of the planned graphs the generator reads
 * (cg_key.c); no LLVM IR is built for it. */
int   cg_key(const CgEntry *e, int n, const CgOptions *o, char key[33], const char **err);
/* Compiles the entries into objects (cg_object.c): identical kernels once,
 * split over up to `threads` modules compiled in parallel (0: one per CPU). */
int   cg_objects(const CgEntry *e, int n, const CgOptions *o, int threads, CgObjects *out, CgTimes *t,
                 const char **err);
void  cg_objects_free(CgObjects *objs);

/* Links the objects made by cg_objects into the JIT (their entries are
 * then found by cg_jit_lookup). */
int   cg_jit_add_objects(CgJit *j, const CgObjects *objs, const char **err);

#endif
