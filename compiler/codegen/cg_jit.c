/* cg_jit.c — the ORC LLJIT: one per process; every graph compiled into it
 * is a module of its own, built in its own thread-safe context.
 *
 * Generated code calls the runtime (rt_parallel, rt_uniform, rt_task_scratch) and libc/libm
 * (malloc, free, erff, tanhf): the runtime's two are defined as absolute
 * symbols, the rest found in the process.
 */
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_module.h"
#include "nnc_runtime.h"

struct CgJit {
    LLVMOrcLLJITRef jit;
    CgTarget        target;
};

static const char *take_error(LLVMErrorRef e)
{
    static char buf[1024];
    char *m = LLVMGetErrorMessage(e);
    snprintf(buf, sizeof buf, "%s", m);
    LLVMDisposeErrorMessage(m);
    return buf;
}

static int define_runtime(CgJit *j, const char **err)
{
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(j->jit);
    /* the runtime's entry points, by address */
    struct { const char *name; void *addr; } syms[] = {
        {"rt_parallel", (void *)rt_parallel},
        {"rt_uniform", (void *)rt_uniform},
        {"rt_task_scratch", (void *)rt_task_scratch},
        {"rt_allreduce_start", (void *)rt_allreduce_start},  /* dist.c: a step built for several ranks */
        {"rt_allreduce_wait", (void *)rt_allreduce_wait},
    };
    enum { NSYMS = sizeof syms / sizeof syms[0] };
    LLVMOrcCSymbolMapPair pairs[NSYMS];
    for (int i = 0; i < NSYMS; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(j->jit, syms[i].name);
        pairs[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)syms[i].addr;
        pairs[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
        pairs[i].Sym.Flags.TargetFlags = 0;
    }
    LLVMErrorRef e = LLVMOrcJITDylibDefine(jd, LLVMOrcAbsoluteSymbols(pairs, NSYMS));
    if (e) {
        *err = take_error(e);
        return -1;
    }
    /* libc and libm from the process */
    LLVMOrcDefinitionGeneratorRef gen;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j->jit), NULL, NULL);
    if (e) {
        *err = take_error(e);
        return -1;
    }
    LLVMOrcJITDylibAddGenerator(jd, gen);  /* the dylib owns the generator now */
    return 0;
}

int cg_jit_create(CgJit **out, const char **err)
{
    CgJit *j = calloc(1, sizeof *j);
    if (cg_host_target(&j->target, NULL, err) != 0) {
        free(j);
        return -1;
    }
    LLVMOrcJITTargetMachineBuilderRef jtmb;
    LLVMErrorRef e = LLVMOrcJITTargetMachineBuilderDetectHost(&jtmb);
    if (e) {
        *err = take_error(e);
        cg_target_free(&j->target);
        free(j);
        return -1;
    }
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);  /* the builder owns jtmb */
    e = LLVMOrcCreateLLJIT(&j->jit, builder);                    /* ... and the LLJIT the builder */
    if (e) {
        *err = take_error(e);
        cg_target_free(&j->target);
        free(j);
        return -1;
    }
    if (define_runtime(j, err) != 0) {
        cg_jit_destroy(j);
        return -1;
    }
    *out = j;
    return 0;
}

int cg_jit_add(CgJit *j, const IrGraph *g, const IrPlan *p, const char *name, const CgOptions *o, const char **err)
{
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMContextRef ctx = LLVMOrcThreadSafeContextGetContext(tsc);
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext(name, ctx);
    LLVMSetTarget(mod, LLVMOrcLLJITGetTripleString(j->jit));
    LLVMSetDataLayout(mod, LLVMOrcLLJITGetDataLayoutStr(j->jit));
    CgTarget target = j->target;  /* the host's, with the options' tune if they give one */
    if (o && o->tune)
        target.tune = o->tune;
    int rc = cg_build_module(ctx, mod, g, p, name, &target, err);
    if (rc == 0) {
        LLVMTargetMachineRef tm = cg_target_machine(&j->target);
        rc = cg_optimize(mod, tm, o ? o->opt : 3, err);
        LLVMDisposeTargetMachine(tm);
    }
    if (rc != 0) {
        LLVMDisposeModule(mod);
        LLVMOrcDisposeThreadSafeContext(tsc);
        return -1;
    }
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);  /* owns mod */
    LLVMOrcDisposeThreadSafeContext(tsc);  /* the module keeps its context alive */
    LLVMErrorRef e = LLVMOrcLLJITAddLLVMIRModule(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), tsm);
    if (e) {  /* on failure the module is still ours */
        LLVMOrcDisposeThreadSafeModule(tsm);
        *err = take_error(e);
        return -1;
    }
    return 0;
}

void *cg_jit_lookup(CgJit *j, const char *name, const char **err)
{
    LLVMOrcExecutorAddress addr = 0;
    LLVMErrorRef e = LLVMOrcLLJITLookup(j->jit, &addr, name);  /* machine code is made here */
    if (e) {
        *err = take_error(e);
        return NULL;
    }
    return (void *)(uintptr_t)addr;
}

void cg_jit_destroy(CgJit *j)
{
    if (!j)
        return;
    if (j->jit)
        LLVMOrcDisposeLLJIT(j->jit);
    cg_target_free(&j->target);
    free(j);
}

int cg_jit_add_objects(CgJit *j, const CgObjects *objs, const char **err)
{
    for (int k = 0; k < objs->n; k++) {
        LLVMMemoryBufferRef mb = LLVMCreateMemoryBufferWithMemoryRangeCopy(objs->obj[k], objs->len[k], "nnc-object");
        /* the JIT owns mb now, whether or not this succeeds */
        LLVMErrorRef e = LLVMOrcLLJITAddObjectFile(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), mb);
        if (e) {
            *err = take_error(e);
            return -1;
        }
    }
    return 0;
}
