/* cg_object.c — entries compiled to relocatable objects in memory, on all
 * cores: the kernels are split over modules (cg_split: identical kernels
 * once; the wrappers and entries in module 0, with early-cse and LLVM's
 * fast code generation; elementwise bodies in modules of their own at
 * default<O2>, reductions at O2 without the unroller, matmuls on a short
 * pipeline, the rest at default<O3>; the costly ones spread first), and
 * each module is built,
 * optimized and emitted by one of up to one thread per CPU, in a context
 * and with a target machine of its own (LLVM contexts are not shared
 * across threads).
 * The objects go to the JIT (cg_jit_add_objects) or to the linker.
 * The dumps and --emit=llvm|asm take the same path (cg_parts), and only
 * print each module instead of (or as well as) emitting its object: what
 * they show is what runs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../util/clock.h"
#include "cg_module.h"

static double now_ms(void) { return 1e3 * clock_now(); }

/* This thread's CPU time, ms: the phases' CPU, summed over the modules. */
static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* One module's work and result. */
typedef struct Part {
    const CgEntry   *e;
    int              n;
    const CgSplit   *split;
    int              index;
    const CgTarget  *target;
    int              opt;
    CgMake           make;
    void            *obj;      /* out: the object, or the module's text */
    size_t           len;
    CgTimes          t;
    const char      *err;      /* NULL: done */
    char             errbuf[512];
    bool             llvm_failed;  /* LLVM reported an error (llvm_diagnostic): errbuf says it */
} Part;

/* A text's line that says which module follows and how it was compiled
 * (comment: the language's comment leader). */
static void part_header(StrBuf *sb, const char *comment, const Part *p, const char *what)
{
    int nbodies = 0;
    for (int b = 0; b < p->split->nbodies; b++)
        nbodies += p->split->part[b] == p->index;
    sb_printf(sb, "%s ---- module %d of %d (", comment, p->index + 1, p->split->nparts);
    if (p->index == 0 && p->split->nparts > 1)
        sb_puts(sb, "the wrappers and entries");
    else
        sb_printf(sb, "%d kernel bod%s%s", nbodies, nbodies == 1 ? "y" : "ies", p->index == 0 ? ", the wrappers and entries" : "");
    const char *pipeline = *cg_pipeline(p->opt) ? cg_pipeline(p->opt) : "none";
    sb_printf(sb, "): %s, pipeline %s%s, codegen %s ----\n", what, pipeline,
              strstr(pipeline, "default<") && !cg_unrolls(p->opt) ? " without the loop unroller" : "",
              cg_codegen_level(p->opt));
}

static void print_module(StrBuf *sb, LLVMModuleRef mod)
{
    char *s = LLVMPrintModuleToString(mod);
    sb_puts(sb, s);
    LLVMDisposeMessage(s);
}

/* LLVM's diagnostics while a part compiles (arg: the Part).  Its remarks
 * and notes are dropped: the loop vectorizer reports each loop nnc's hints
 * asked it to vectorize and it could not ("remark: <unknown>:0:0: loop not
 * vectorized: instruction return type cannot be vectorized"), which the
 * user cannot act on and which went to stderr beside the trainer's output
 * (`nnc --jit tests/golden/ok/tiny_gpt.nn` printed five).  Warnings print
 * as LLVM's own handler prints them; an error fails the part with its
 * message (LLVM's own handler exited the process).  Remarks asked for with
 * NNC_LLVM_ARGS=-pass-remarks... keep LLVM's handler (quiet_remarks). */
static void llvm_diagnostic(LLVMDiagnosticInfoRef di, void *arg)
{
    Part *p = arg;
    LLVMDiagnosticSeverity severity = LLVMGetDiagInfoSeverity(di);
    if (severity == LLVMDSRemark || severity == LLVMDSNote)
        return;
    char *msg = LLVMGetDiagInfoDescription(di);
    if (severity != LLVMDSError) {
        fprintf(stderr, "warning: %s\n", msg);
    } else if (!p->llvm_failed) {
        snprintf(p->errbuf, sizeof p->errbuf, "LLVM: %s", msg);
        p->llvm_failed = true;
    }
    LLVMDisposeMessage(msg);
}

/* Whether LLVM's remarks are dropped: unless NNC_LLVM_ARGS asks for some. */
static bool quiet_remarks(void)
{
    const char *args = getenv("NNC_LLVM_ARGS");
    return !args || !strstr(args, "-pass-remarks");
}

static void *compile_part(void *arg)
{
    Part *p = arg;
    double t0 = now_ms(), c0 = thread_cpu_ms();
    LLVMContextRef ctx = LLVMContextCreate();
    if (quiet_remarks())
        LLVMContextSetDiagnosticHandler(ctx, llvm_diagnostic, p);
    LLVMTargetMachineRef tm = cg_target_machine_for(p->target, p->opt);
    char name[64];
    snprintf(name, sizeof name, "%s.part%d", p->e[0].name, p->index);
    LLVMModuleRef mod = cg_module_for(ctx, name, p->target, tm);
    const char *err = NULL;
    double cs = thread_cpu_ms();
    int rc = cg_build_part(ctx, mod, p->e, p->n, p->split, p->index, p->target, &err);
    double t1 = now_ms(), c1 = thread_cpu_ms();
    StrBuf text = {0};  /* a text's header, and the module as generated */
    if (rc == 0 && p->make == CG_MAKE_LLVM_DUMP) {
        part_header(&text, ";", p, "as generated (verified)");
        print_module(&text, mod);
    }
    if (rc == 0)
        rc = cg_optimize(mod, tm, p->opt, &err);
    double t2 = now_ms(), c2 = thread_cpu_ms();
    if (rc == 0 && (p->make == CG_MAKE_LLVM || p->make == CG_MAKE_LLVM_DUMP)) {
        part_header(&text, ";", p, p->make == CG_MAKE_LLVM ? "optimized" : "after its pipeline");
        print_module(&text, mod);
    } else if (rc == 0) {
        if (p->make == CG_MAKE_ASM)
            part_header(&text, "#", p, "machine code");
        LLVMMemoryBufferRef buf;
        char *msg = NULL;
        if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, p->make == CG_MAKE_ASM ? LLVMAssemblyFile : LLVMObjectFile,
                                                &msg, &buf)) {
            snprintf(p->errbuf, sizeof p->errbuf, "machine code generation failed: %s", msg ? msg : "?");
            LLVMDisposeMessage(msg);
            err = p->errbuf;
            rc = -1;
        } else {
            sb_putn(&text, LLVMGetBufferStart(buf), LLVMGetBufferSize(buf));
            LLVMDisposeMemoryBuffer(buf);
        }
    }
    if (rc == 0 && p->llvm_failed) {  /* errbuf holds LLVM's message */
        err = p->errbuf;
        rc = -1;
    }
    if (rc == 0) {  /* the caller's: the text's own buffer (malloc'ed, as cg_objects_free frees it) */
        sb_cstr(&text);   /* allocated even when empty */
        p->obj = text.data;
        p->len = text.len;
        text = (StrBuf){0};
    }
    sb_free(&text);
    if (rc != 0 && err != p->errbuf) {  /* the builders' messages live in static buffers: copy now */
        snprintf(p->errbuf, sizeof p->errbuf, "%s", err ? err : "?");
        err = p->errbuf;
    }
    p->err = rc != 0 ? err : NULL;
    double t3 = now_ms(), c3 = thread_cpu_ms();
    LLVMDisposeModule(mod);
    LLVMDisposeTargetMachine(tm);
    LLVMContextDispose(ctx);
    p->t = (CgTimes){.build = t1 - t0, .opt = t2 - t1, .mc = t3 - t2, .setup_cpu = cs - c0 + thread_cpu_ms() - c3,
                     .build_cpu = c1 - cs, .opt_cpu = c2 - c1, .mc_cpu = c3 - c2};
    return NULL;
}

/* Modules claimed one at a time by the workers, the most costly first. */
typedef struct Pool {
    Part       *parts;
    int         order[CG_MAX_OBJECTS];
    int         n;
    atomic_int  next;
} Pool;

static void *work(void *arg)
{
    Pool *pool = arg;
    for (int x; (x = atomic_fetch_add(&pool->next, 1)) < pool->n;)
        compile_part(&pool->parts[pool->order[x]]);
    return NULL;
}

int cg_objects(const CgEntry *e, int n, const CgOptions *o, int threads, CgObjects *out, CgTimes *t,
               const char **err)
{
    return cg_parts(e, n, o, threads, CG_MAKE_OBJECT, out, t, err);
}

int cg_parts(const CgEntry *e, int n, const CgOptions *o, int threads, CgMake make, CgObjects *out, CgTimes *t,
             const char **err)
{
    static char errbuf[600];
    *out = (CgObjects){0};
    CgTarget target;
    if (cg_host_target(&target, o, err) != 0)  /* here: LLVM's registries are set up once */
        return -1;
    if (threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? (int)cpus : 1;
    }
    CgSplit split;
    int level = o ? o->opt : 3;
    cg_split(e, n, threads, level, &split);
    Part parts[CG_MAX_OBJECTS];
    Pool pool = {.parts = parts, .n = split.nparts};
    for (int k = 0; k < split.nparts; k++) {
        parts[k] = (Part){.e = e, .n = n, .split = &split, .index = k, .target = &target, .opt = split.level[k],
                           .make = make};
        pool.order[k] = k;
    }
    for (int x = 1; x < split.nparts; x++)  /* the most costly module first */
        for (int y = x; y > 0 && split.cost[pool.order[y]] > split.cost[pool.order[y - 1]]; y--) {
            int tmp = pool.order[y];
            pool.order[y] = pool.order[y - 1];
            pool.order[y - 1] = tmp;
        }
    int workers = threads < split.nparts ? threads : split.nparts;
    pthread_t tid[CG_MAX_OBJECTS];
    bool started[CG_MAX_OBJECTS] = {0};
    for (int w = 1; w < workers; w++)  /* this thread is a worker too; one that cannot start is not needed */
        started[w] = pthread_create(&tid[w], NULL, work, &pool) == 0;
    work(&pool);
    for (int w = 1; w < workers; w++)
        if (started[w])
            pthread_join(tid[w], NULL);
    int rc = 0;
    for (int k = 0; k < split.nparts; k++) {
        if (parts[k].err && rc == 0) {
            snprintf(errbuf, sizeof errbuf, "%s", parts[k].err);
            *err = errbuf;
            rc = -1;
        }
        out->obj[k] = parts[k].obj;
        out->len[k] = parts[k].len;
        if (t) {  /* the longest module's parts: what the wall clock saw */
            t->build = parts[k].t.build > t->build ? parts[k].t.build : t->build;
            t->opt = parts[k].t.opt > t->opt ? parts[k].t.opt : t->opt;
            t->mc = parts[k].t.mc > t->mc ? parts[k].t.mc : t->mc;
            t->setup_cpu += parts[k].t.setup_cpu;
            t->build_cpu += parts[k].t.build_cpu;
            t->opt_cpu += parts[k].t.opt_cpu;
            t->mc_cpu += parts[k].t.mc_cpu;
        }
    }
    out->n = split.nparts;
    cg_split_free(&split, n);
    cg_target_free(&target);
    if (rc != 0)
        cg_objects_free(out);
    return rc;
}

void cg_objects_free(CgObjects *objs)
{
    for (int k = 0; k < objs->n; k++)
        free(objs->obj[k]);
    objs->n = 0;
}
