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
                         * see LowerOptions.bindings); -1 for a relu that max_pool took back */
    int     position;   /* decode: the input "position", i32 [B,1], or -1 */
    int64_t block;      /* decode: the window T (lower_decode_block) */
    const char *no_decode;  /* decode: why the model has none (lower_model then fails with it in *err);
                             * callers tell it from an internal error by it, and need not ask first */
} Lowered;

typedef struct LowerOptions {
    IrType  ftype;      /* IR_F32 to train, IR_F64 to check gradients */
    bool    training;   /* dropout active (else identity) */
    int64_t seed;       /* dropout masks */
    bool    bindings;   /* every SemaNode's value in its checked layout (--trace reads them all);
                         * else a channels-last image's value is its [B,H,W,C] form */
    bool    decode;     /* the decode entry (lower_decode_block says which models have one) */
} LowerOptions;

/* Returns 0, or -1 with an internal error message in *err (the model was
 * checked, so any failure here is a bug in nnc). */
int lower_model(const SemaModel *m, const Source *src, Arena *a, const LowerOptions *opt, Lowered *out,
                const char **err);

/* Decode mode (sampling with a key/value cache): the model for ONE new
 * position per sequence.  The token input is [B,1], a second input
 * "position" (i32 [B,1]) says where it is in its window, and every causal
 * attention keeps its keys and values of the window's earlier positions as
 * state, "cache.NAME.key" and "cache.NAME.value" [B,H,T,dh]: the new
 * position's key and value are written at its place (an update of the
 * state), the query attends to places <= position.  Tables indexed by
 * position (positional(T, D), a [T, ...] parameter added to a [T, ...]
 * value) are read at the position (a gather).  Only the output is lowered:
 * logits [B,1,V], no loss or metrics.
 *
 * A model has a decode entry when its output is [T, V] per example and
 * depends on one input, token ids [T], through built-ins that treat the
 * positions one by one (dense, layer norm, activations, reductions over
 * other axes ...) and causal attention, the only place positions meet.
 * Returns T, or 0 with why not in *why (in a; decode.c); needed[i] (room for
 * m->nnodes) says which nodes the output depends on. */
int64_t lower_decode_block(const SemaModel *m, const Source *src, Arena *a, bool *needed, const char **why);

/* Does every built-in that may appear in a model have a lowering? (tests) */
bool lower_covers(int builtin_id);

#endif
