/* memcheck.h — whether a run's memory fits this machine, asked before
 * compiling it (nnc --jit): the memory plan says what the slabs take at the
 * batch; what cannot fit is a located error, not an OOM kill later. */
#ifndef NNC_DRIVE_MEMCHECK_H
#define NNC_DRIVE_MEMCHECK_H

#include <stdbool.h>

#include "../front/front.h"
#include "../ir/lower.h"
#include "../passes/pipeline.h"
#include "nnc_runtime.h"

/* 0 when rm's slabs at batch fit (rt_memory_available), else 1 with an
 * error at the train block's batch (batch_given: the command line's
 * --batch, at the model) and a note on the largest batch that fits. */
int nnc_check_run_memory(NncFront *f, const RtModel *rm, int64_t batch, bool batch_given);
/* The same for a forward-only rm (nnc --predict): "the prediction needs". */
int nnc_check_predict_memory(NncFront *f, const RtModel *rm, int64_t batch, bool batch_given);

/* The compiler's own memory for f's model, estimated before it is compiled
 * (issue 17) from L, the step nnc_build_step built for the compile: the
 * nodes of its forward pass [0, g.nforward) that its outputs read are
 * counted (a prediction's leaves out the loss and metrics; lowering is cheap:
 * linear, a few KiB a node); compiling takes about NNC_COMPILE_BASE +
 * NNC_COMPILE_PER_NODE bytes per node (autodiff, the passes, the plan and
 * LLVM, measured on repeat(8 ... 128) of the GPT block: memcheck.c).  0
 * when that fits rt_memory_available, else 1 with an error at the model's
 * call that lowers to the most of them (a repeat, a user layer, or a
 * built-in), the bytes wanted and available, and a note on the model that
 * fits (or that none does). */
int nnc_check_compile_memory(NncFront *f, const Lowered *L);

/* Whether the reference interpreter can run --export-step's step of f's
 * model at batch (step, as nnc_export_step runs it: every value in double,
 * and f32 copies of what it writes), or --gradcheck's graphs (its fused step back and its
 * forward pass fwd, as nnc_gradcheck built them, and a direction the size
 * of the largest parameter): within rt_memory_available, and each value
 * within NNC_MAX_ELEMS per example.  0 when it fits, else 1 with an error
 * at the largest value's call and a note on the batch that fits. */
int nnc_check_export_memory(NncFront *f, const NncStep *step, int64_t batch);
int nnc_check_gradcheck_memory(NncFront *f, const IrGraph *back, const IrGraph *fwd, int64_t batch);

/* nnc_compile_parts of f's model with nnc_check_compile_memory between
 * building the step and its passes, and two limits no machine's memory
 * decides: each value, a call's intermediates included, holds at most
 * NNC_MAX_ELEMS per example, and the activation slab at batch (the plan's,
 * when until reaches STAGE_PLAN) at most 4 * NNC_MAX_ELEMS bytes.  0; 1
 * when the compile would not fit (said, at the call); -1 with *err, an
 * internal compiler error. */
int nnc_compile_checked(NncFront *f, StepParts parts, bool training, IrStage until, int64_t batch, NncCompiled *out,
                        const char **err);

/* nnc --check past the front end: f's step lowered and planned as --jit
 * (a train block, at its batch) or --predict (none: at NNC_FORWARD_BATCH)
 * plans it, or at batch when it is not 0 (--check --batch N, as --jit's), and refused where nnc_compile_checked refuses what no machine
 * can run (a value past NNC_MAX_ELEMS per example, activations past
 * 4 * NNC_MAX_ELEMS bytes).  Whether this machine has the memory (the
 * compiler's, the run's) is not asked: that is the run's question.  0; 1
 * (said, at the call); -1 with *err, an internal compiler error. */
int nnc_check_limits(NncFront *f, int64_t batch, const char **err);

#endif
