/* fill.h — the values --gradcheck and --export-step run a step on:
 * parameters initialised as docs/language.md says (torch.nn's defaults)
 * and a deterministic batch, both from a seed. */
#ifndef NNC_FILL_H
#define NNC_FILL_H

#include <stdint.h>

#include "../front/sema.h"

struct Lowered;
struct IrEval;
void nnc_fill_params(const SemaModel *m, const struct Lowered *L, struct IrEval *ev, uint64_t seed);
void nnc_fill_batch(const struct Lowered *L, struct IrEval *ev, uint64_t seed);

#endif
