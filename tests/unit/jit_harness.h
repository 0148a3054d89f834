/* jit_harness.h — planned graphs JIT-compiled and run for the code
 * generator's suites (test_codegen.c, test_cg_math.c). */
#ifndef NNC_TEST_JIT_HARNESS_H
#define NNC_TEST_JIT_HARNESS_H

#include <stdint.h>

#include "codegen/cg.h"
#include "ir/interp.h"
#include "nnc_runtime.h"
#include "passes/passes.h"

typedef void (*JitEntry)(RtCtx *);

/* g's entry compiled at O3 by the process's one JIT (made on first use,
 * destroyed at exit); NULL, with a CUnit failure, if it does not compile.
 * With jit_tune: the host's row with the contraction in chunks of 256
 * reals, the depth the suites' shapes were chosen to cross (products 400
 * to 600 deep); a row's own kc (512 on Zen 4) would make them one chunk
 * and leave the chunks' edges untested.  jit_compile_tuned takes a row. */
JitEntry jit_compile(const IrGraph *g, const IrPlan *p);
JitEntry jit_compile_tuned(const IrGraph *g, const IrPlan *p, const CgTune *tune);
const CgTune *jit_tune(void);

/* g's entry built into a module of its own by the code generator and
 * verified (cg_build_module), neither optimized nor compiled; 0, or -1 with
 * a CUnit failure.  Asserts that the module defines the entry. */
int jit_build(const IrGraph *g, const IrPlan *p);

/* Slabs laid out by the plan, the inputs taken from the interpreter's. */
typedef struct JitRun {
    uint8_t *slab[5];
    RtCtx    ctx;
} JitRun;

/* Runs entry on ev's inputs, on pool's threads (NULL: this thread). */
void jit_run(JitRun *r, JitEntry entry, const IrGraph *g, const IrPlan *p, const IrEval *ev, RtPool *pool);
void jit_run_free(JitRun *r);
/* Output o's data after the run (an update in its input's place), and its node. */
const uint8_t *jit_output(const JitRun *r, const IrGraph *g, const IrPlan *p, const IrOutput *o, const IrNode **n);
double jit_value(const uint8_t *data, const IrNode *n, int64_t e);

/* Runs entry on 1 and on 2 threads, asserts that every output is the same
 * to the bit, and returns the largest difference from the interpreter's
 * outputs in ev, relative to each output's largest finite magnitude
 * (diff_add: NaN or an infinity on one side only is an infinite
 * difference; differences below 1e-6 in f32 and 1e-14 in f64 count as 0);
 * *worst_name names that output. */
double jit_compare(JitEntry entry, const IrGraph *g, const IrPlan *p, const IrEval *ev, const char **worst_name);

/* The tail of the generator's checks on a graph built by hand: g planned
 * for ev's batch, compiled, and compared with the interpreter's run ev
 * (jit_compare, so 1 and 2 threads to the bit too); a difference beyond
 * tol (relative) is printed after `what` and fails.  Returns it. */
double jit_check(const IrGraph *g, const IrEval *ev, double tol, const char *what);
/* ... the same with the entry compiled already (planned by p: one plan
 * serves every batch). */
double jit_check_entry(JitEntry entry, const IrGraph *g, const IrPlan *p, const IrEval *ev, double tol,
                       const char *what);

/* Clears every triangle of g (passes/triangle.c: a product's, a
 * fused_rows' stop at its mask), so that g computes everything: the step
 * that the triangles' same-bits tests compare with.  *products and *rows
 * count what it cleared. */
void jit_clear_triangles(IrGraph *g, int *products, int *rows);

/* How often each of needles[0..n-1] occurs in the machine code, for
 * znver4 at O3, of g's kernel `body` (e.g. "body0.fused": the function
 * itself, not its wrapper), in counts[]; a CUnit failure if there is no
 * such function.  For tests of what the optimizer makes of a kernel. */
void jit_asm_count(const IrGraph *g, const IrPlan *p, const char *body, const char *const *needles, int *counts,
                   int n);

#endif
