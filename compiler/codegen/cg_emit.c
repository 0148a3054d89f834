/* cg_emit.c — modules written out: --dump-ir=llvm|asm print one graph's
 * module; cg_emit writes several entries as one object, assembly or IR file
 * for the executables, objects and libraries of --emit.
 *
 * Each entry is built in a module of its own (kernel names are per graph)
 * and linked into the first; LLVM renames the internal kernels that clash.
 */
#include <llvm-c/Linker.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_module.h"

static char errbuf[1024];

/* A module for t: triple and data layout set. */
static LLVMModuleRef new_module(LLVMContextRef ctx, const char *name, const CgTarget *t, LLVMTargetMachineRef tm)
{
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext(name, ctx);
    LLVMSetTarget(mod, t->triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    char *layout = LLVMCopyStringRepOfTargetData(td);
    LLVMSetDataLayout(mod, layout);
    LLVMDisposeMessage(layout);
    LLVMDisposeTargetData(td);
    return mod;
}

/* Builds every entry into one module (not yet optimized). */
static int build(LLVMContextRef ctx, const CgTarget *t, LLVMTargetMachineRef tm, const CgEntry *e, int n,
                 LLVMModuleRef *out, const char **err)
{
    LLVMModuleRef mod = new_module(ctx, e[0].name, t, tm);
    if (cg_build_module(ctx, mod, e[0].g, e[0].p, e[0].name, t, err) != 0) {
        LLVMDisposeModule(mod);
        return -1;
    }
    for (int i = 1; i < n; i++) {
        LLVMModuleRef m2 = new_module(ctx, e[i].name, t, tm);
        if (cg_build_module(ctx, m2, e[i].g, e[i].p, e[i].name, t, err) != 0) {
            LLVMDisposeModule(m2);
            LLVMDisposeModule(mod);
            return -1;
        }
        if (LLVMLinkModules2(mod, m2)) {  /* m2 is consumed either way */
            *err = "linking the entries' modules failed";
            LLVMDisposeModule(mod);
            return -1;
        }
    }
    *out = mod;
    return 0;
}

/* A target, a context, a machine and the built module, made and disposed
 * of together. */
typedef struct Session {
    CgTarget             t;
    LLVMContextRef       ctx;
    LLVMTargetMachineRef tm;
    LLVMModuleRef        mod;
} Session;

static void session_close(Session *s);

/* Builds the entries for o's CPU.  On failure everything is disposed of. */
static int session_open(Session *s, const CgOptions *o, const CgEntry *e, int n, const char **err)
{
    if (cg_host_target(&s->t, o ? o->cpu : NULL, err) != 0)
        return -1;
    s->ctx = LLVMContextCreate();
    s->tm = cg_target_machine(&s->t);
    s->mod = NULL;
    if (build(s->ctx, &s->t, s->tm, e, n, &s->mod, err) != 0) {
        session_close(s);
        return -1;
    }
    return 0;
}

static void session_close(Session *s)
{
    if (s->mod)
        LLVMDisposeModule(s->mod);
    LLVMDisposeTargetMachine(s->tm);
    LLVMContextDispose(s->ctx);
    cg_target_free(&s->t);
}

int cg_dump(const IrGraph *g, const IrPlan *p, const char *name, const CgOptions *o, CgDump what, StrBuf *out,
            const char **err)
{
    Session ss;
    if (session_open(&ss, o, &(CgEntry){g, p, name}, 1, err) != 0)
        return -1;
    LLVMModuleRef mod = ss.mod;
    LLVMTargetMachineRef tm = ss.tm;
    if (what == CG_DUMP_LLVM) {  /* as generated, then as optimized */
        char *text = LLVMPrintModuleToString(mod);
        sb_puts(out, "; ---- the module as generated (verified) ----\n");
        sb_puts(out, text);
        LLVMDisposeMessage(text);
        sb_puts(out, "\n; ---- after default<O3> with loop and SLP vectorization ----\n");
    }
    int rc = cg_optimize(mod, tm, o ? o->opt : 3, err);
    if (rc == 0 && what == CG_DUMP_ASM) {
        LLVMMemoryBufferRef buf;
        char *msg = NULL;
        if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMAssemblyFile, &msg, &buf)) {
            snprintf(errbuf, sizeof errbuf, "assembly failed: %s", msg ? msg : "?");
            *err = errbuf;
            rc = -1;
        } else {
            sb_putn(out, LLVMGetBufferStart(buf), LLVMGetBufferSize(buf));
            LLVMDisposeMemoryBuffer(buf);
        }
        LLVMDisposeMessage(msg);
    } else if (rc == 0) {
        char *text = LLVMPrintModuleToString(mod);
        sb_puts(out, text);
        LLVMDisposeMessage(text);
    }
    session_close(&ss);
    return rc;
}

int cg_emit(const CgEntry *e, int n, const CgOptions *o, CgFile what, const char *path, const char **err)
{
    Session ss;
    if (session_open(&ss, o, e, n, err) != 0)
        return -1;
    LLVMModuleRef mod = ss.mod;
    LLVMTargetMachineRef tm = ss.tm;
    int rc = cg_optimize(mod, tm, o ? o->opt : 3, err);
    char *msg = NULL;
    if (rc == 0 && what == CG_FILE_LLVM) {
        if (LLVMPrintModuleToFile(mod, path, &msg)) {
            snprintf(errbuf, sizeof errbuf, "cannot write %s: %s", path, msg ? msg : "?");
            *err = errbuf;
            rc = -1;
        }
    } else if (rc == 0) {
        /* the C API takes a non-const path */
        char *p = strdup(path);
        if (LLVMTargetMachineEmitToFile(tm, mod, p, what == CG_FILE_ASM ? LLVMAssemblyFile : LLVMObjectFile, &msg)) {
            snprintf(errbuf, sizeof errbuf, "cannot write %s: %s", path, msg ? msg : "?");
            *err = errbuf;
            rc = -1;
        }
        free(p);
    }
    LLVMDisposeMessage(msg);
    session_close(&ss);
    return rc;
}
