/* passes.h — the optimization pipeline over an IrGraph.
 *
 * Each pass rewrites the graph into a new one (nodes stay in topological
 * order; indices change), keeping graph outputs, source locations and
 * autodiff provenance.  pipeline.c runs them in a visible list, with the
 * verifier after every pass (always: it is linear and cheap).
 */
#ifndef NNC_PASSES_H
#define NNC_PASSES_H

#include "../ir/ir.h"

/* verify.c: checks SSA order, operand counts, shapes against each op's
 * rule, types, outputs.  Returns NULL or a description of the first problem. */
const char *ir_verify(const IrGraph *g);

/* Each pass returns the number of nodes it changed or removed. */
int pass_simplify(IrGraph *g);   /* x*1, x+0, x-0, x/1, --x, permute of permute, reshape of reshape,
                                  * broadcast to the same shape, constant folding of scalars */
int pass_cse(IrGraph *g);        /* one node per (op, operands, attributes), except OPF_RANDOM */
int pass_dce(IrGraph *g);        /* drops nodes no output depends on (inputs stay) */
int pass_fuse(IrGraph *g);       /* FUSED, FUSED_ROWS and MATMUL_EPI regions */

/* Memory plan: where every value lives. */
typedef enum IrSlab { SLAB_NONE, SLAB_INPUT, SLAB_PARAM, SLAB_STATE, SLAB_ACT } IrSlab;

typedef struct IrPlan {
    int64_t  batch;       /* the batch size the offsets are for */
    IrSlab  *slab;        /* per node */
    int64_t *offset;      /* per node: byte offset in its slab */
    int64_t *bytes;       /* per node */
    int     *first, *last;/* per node: the step that defines it and the last that reads it
                             (for a view's owner, the last that reads any of its views) */
    int     *alias;       /* per node: the activation whose bytes a view (a reshape) shares, or -1 */
    int64_t  slab_bytes[SLAB_ACT + 1];  /* SLAB_ACT: peak activation bytes */
    int64_t  live_sum;    /* bytes of all activations if none shared space */
} IrPlan;

/* Liveness-based reuse of one activation arena; parameters, optimizer state
 * and inputs each in one contiguous slab.  Values of leaves (constants,
 * inputs) are not activations. */
IrPlan *plan_memory(const IrGraph *g, int64_t batch);
/* --dump-ir=plan: a line per value with its slab, offset, size and live range, then the totals. */
void plan_print(StrBuf *sb, const IrGraph *g, const IrPlan *p);
/* False, with *why, if two activations live at the same time share bytes (or the plan does not fit g). */
bool plan_check(const IrGraph *g, const IrPlan *p, const char **why);

/* The pipeline: stages as --dump-ir names them. */
typedef enum IrStage { STAGE_IR, STAGE_GRAD, STAGE_OPT, STAGE_FUSED, STAGE_PLAN } IrStage;

#endif
