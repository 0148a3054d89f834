/* optim.h — the optimizer update and learning-rate schedule, as IR appended
 * after the backward pass, so the whole training step is one graph.
 *
 * Inputs it adds: the optimizer state per parameter (ROLE_STATE, named as
 * torch.optim names it under "optimizer.": momentum_buffer, exp_avg,
 * exp_avg_sq), and the step counters (ir_counter): the step (steps done
 * before this one, from 0) and, for cosine, total_steps.  Outputs: OUT_UPDATE for every parameter,
 * every state and the step counter.
 */
#ifndef NNC_OPTIM_H
#define NNC_OPTIM_H

#include "../front/sema.h"
#include "lower.h"

/* Appends the update of L's parameters from their gradients grads[] by the
 * optimizer and schedule of train.  Returns 0 or -1 (g->error). */
int optim_append(Lowered *L, const SemaTrain *train, const int *grads);

#endif
