/* lower.h — from a checked model to the IR of its forward pass and loss.
 *
 * Consumes a SemaModel (front/sema.h); produces an IrGraph whose inputs are
 * the model's inputs and targets (batched), its parameters (named as
 * sema named them, torch layouts) and, when dropout needs it, the step
 * counter.  Every built-in becomes primitive ops: dense is a matmul and an
 * add, attention is projections, reshapes, batched matmuls, a mask and a
 * softmax ... (docs/ir.md lists each lowering).  Nodes keep the location
 * and the name of the layer they came from.
 */
#ifndef NNC_LOWER_H
#define NNC_LOWER_H

#include "../front/sema.h"
#include "ir.h"

typedef struct Lowered {
    IrGraph g;
    int    *param;      /* per SemaParam: its INPUT node */
    int     nparams;
    int     output;     /* the prediction */
    int     loss;       /* the mean loss (a scalar), or -1 */
    int     step;       /* the step counter input, or -1 when nothing needs it */
    int    *value;      /* per SemaNode: its IR value (--trace reads the bindings' values;
                         * see LowerOptions.bindings) */
} Lowered;

typedef struct LowerOptions {
    IrType  ftype;      /* IR_F32 to train, IR_F64 to check gradients */
    bool    training;   /* dropout active (else identity) */
    int64_t seed;       /* dropout masks */
    bool    bindings;   /* every SemaNode's value in its checked layout (--trace reads them all);
                         * else a channels-last image's value is its [B,H,W,C] form */
} LowerOptions;

/* Returns 0, or -1 with an internal error message in *err (the model was
 * checked, so any failure here is a bug in nnc). */
int lower_model(const SemaModel *m, const Source *src, Arena *a, const LowerOptions *opt, Lowered *out,
                const char **err);

/* Does every built-in that may appear in a model have a lowering? (tests) */
bool lower_covers(int builtin_id);

#endif
