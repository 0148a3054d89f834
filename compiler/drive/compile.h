/* compile.h — entries to object code, through the persistent compile cache:
 * what --jit, the trainer nnc writes and --emit=so|obj share.
 *
 * The entries' key (cg_key) finds the objects an earlier process made; else
 * they are compiled (cg_objects: on all cores) and stored for the next
 * process, as one cache entry: u32 count, then per object u64 length and
 * its bytes. */
#ifndef NNC_COMPILE_H
#define NNC_COMPILE_H

#include <stdbool.h>
#include <stdio.h>

#include "../codegen/cg.h"

typedef struct CompileResult {
    CgObjects   objs;    /* the relocatable objects (compile_free) */
    int         nobjs;   /* how many modules compiled them (0 on a hit) */
    double      cpu;     /* ms of CPU time (all threads) compiling them */
    CgTimes     t;       /* ms: LLVM IR, optimization, machine code (all 0 on a hit) */
    double      cache;   /* ms: the key, reading and writing the cache */
    const char *status;  /* "hit", "miss" or "off" (--no-cache, or no directory) */
} CompileResult;

/* Returns 0, or -1 with *err (an internal error). */
int  compile_entries(const CgEntry *e, int n, const CgOptions *o, bool use_cache, FILE *log, bool verbose,
                     CompileResult *r, const char **err);
void compile_free(CompileResult *r);
/* --dump-ir=llvm|asm: cg_dump's text of one entry, through the same cache
 * (its key: the entry's, and which dump), so a model dumped again costs no
 * LLVM work.  *status is "hit", "miss" or "off".  Returns 0, or -1 with *err
 * (an internal error). */
int  compile_dump(const CgEntry *e, const CgOptions *o, CgDump what, bool use_cache, FILE *log, bool verbose,
                  StrBuf *out, const char **status, const char **err);
/* --emit=llvm|asm: cg_emit's file of the entries, through the same cache
 * (its key: the entries', and which text), so an emit repeated costs no
 * LLVM work.  *status is "hit", "miss" or "off".  Returns 0, or -1 with
 * *err (the file cannot be written, or an internal error). */
int  compile_emit(const CgEntry *e, int n, const CgOptions *o, CgFile what, const char *path, bool use_cache, FILE *log,
                  bool verbose, const char **status, const char **err);
/* -v's one line for every way of compiling: "compiled in W ms, CPU C ms
 * (cache S)" (wall and CPU from the start of the compile), and with r, the
 * parts: "(cache S: front end and passes F ms, <the LLVM parts>, LAST L
 * ms)" (LAST: what came after the code, e.g. "JIT link"; NULL: nothing). */
void compile_say(FILE *log, double wall_ms, double cpu_ms, const char *status, const CompileResult *r, double front_ms,
                 const char *last, double last_ms);

#endif
