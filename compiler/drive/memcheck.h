/* memcheck.h — whether a run's memory fits this machine, asked before
 * compiling it (nnc --jit): the memory plan says what the slabs take at the
 * batch; what cannot fit is a located error, not an OOM kill later. */
#ifndef NNC_DRIVE_MEMCHECK_H
#define NNC_DRIVE_MEMCHECK_H

#include <stdbool.h>

#include "../front/front.h"
#include "nnc_runtime.h"

/* 0 when rm's slabs at batch fit (rt_memory_available), else 1 with an
 * error at the train block's batch (batch_given: the command line's
 * --batch, at the model) and a note on the largest batch that fits. */
int nnc_check_run_memory(NncFront *f, const RtModel *rm, int64_t batch, bool batch_given);

#endif
