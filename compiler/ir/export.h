/* export.h — nnc --export-step: one training step's numbers, for checking
 * nnc against other frameworks.  Runs the reference interpreter (f32,
 * training: dropout active at step 0) on the deterministic batch of
 * --gradcheck and writes a safetensors file with the parameters (torch
 * names and layouts), the batch ("input.NAME", "target.NAME"), every
 * dropout's mask ("dropout.K", K its stream: 0 or 1/(1-p) per element),
 * the loss ("loss") and the gradient of every parameter ("grad.NAME"). */
#ifndef NNC_EXPORT_H
#define NNC_EXPORT_H

#include "../front/sema.h"
#include "ir.h"
#include "step.h"

/* step: m's, as nnc_build_step makes it for f32, STEP_GRADIENTS and
 * training (dropout draws its masks at step 0); the caller builds it once,
 * for this and for the memory estimate before it.  fail_at: for tests, the
 * interpreter's allocation that fails (IrEval.fail_at); 0: none.  0, or -1:
 * *err says why (the caller frees it), or it is said to diag (the
 * interpreter ran out of memory, at the value it was making) and *err is
 * NULL. */
int nnc_export_step(const SemaModel *m, const NncStep *step, int64_t batch, uint64_t seed, int64_t fail_at,
                    const char *path, DiagSink *diag, const char **err);

/* The bytes nnc_export_step adds per element of node n of its step, for
 * the copies it writes (4 bytes an element, f32 or i32): a parameter's and
 * its gradient's, an input's or target's, a dropout mask's; 0 for the rest.
 * For the memory estimate before the run (drive/memcheck.c). */
int nnc_export_copy_bytes(const IrNode *n);

#endif
