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
                                  * broadcast to the same shape, constant folding of scalars, a
                                  * softmax's gradient from g and p alone */
int pass_cse(IrGraph *g);        /* one node per (op, operands, attributes), except OPF_RANDOM */
int pass_dce(IrGraph *g);        /* drops nodes no output depends on (inputs stay) */
void dce_mark(const IrGraph *g, bool *live); /* live[i] (g->n of them, false): what dce keeps */
int pass_pool_relu(IrGraph *g); /* a relu after max pooling, and its backward, folded into the
                                  * pooling's kernels (pool_relu.c), before fusion */
int pass_pool_grad(IrGraph *g); /* a convolution's weight and bias gradient through its max
                                  * pooling in one pass, pool_rows_t (pool_grad.c), before fusion */
int pass_fuse(IrGraph *g);       /* FUSED, FUSED_ROWS and MATMUL_EPI regions */
int pass_triangle(IrGraph *g);   /* the products of a causal attention told which triangle of C they may
                                  * leave 0, or of op(A) is 0 (ir_mm_tri), its softmax rows where they
                                  * may stop (ir_rows_tri_mask; after fusion, in place) */
int pass_conv_input_grad(IrGraph *g); /* a stride-1 convolution's input gradient, patches_t(g · Wᵀ),
                                  * as a convolution of g (conv_grad.c), before implicit patches */
int pass_implicit_patches(IrGraph *g); /* convolution matmuls read their patches from the image
                                  * (implicit.c); dce drops the patches after it */
int pass_pool_conv(IrGraph *g); /* a stride-1 convolution's input gradient through its max pooling
                                  * from the pooled gradient, pool_conv_t (pool_conv.c), after
                                  * implicit patches */
int pass_split_batch(IrGraph *g); /* small sums over the batch and more (a lead matmul, a bias's
                                  * gradient) as per-example sums, then their sum (batch_split.c) */
int pass_buckets(IrGraph *g);    /* ALLREDUCE nodes (several ranks) into buckets, in the order
                                  * their gradients become final (buckets.c) */
int pass_output_copy(IrGraph *g); /* a prediction that is an input, or a constant after simplify,
                                  * copied into an activation, where entries return it (output_copy.c), last */

/* Memory plan: where every value lives, for every batch size at once. */
typedef enum IrSlab { SLAB_NONE, SLAB_INPUT, SLAB_PARAM, SLAB_STATE, SLAB_ACT } IrSlab;

/* Offsets and sizes are linear in the batch: fixed + per_ex · B̂, where B̂
 * is the batch rounded up to a multiple of PLAN_BATCH_ROUND, and never below
 * the batch the plan was made for (rounded alike): its floor.  Rounding
 * keeps every offset a multiple of 64 bytes (per_ex is a multiple of 4); the
 * floor gives batches up to the planned one the memory the planned one has,
 * so a fixed-size value fits where so many bytes per example are free.  One
 * plan serves any batch, and a library grows its slabs instead of being
 * recompiled.  A tensor's own size is fixed + per_ex · B (unrounded). */
enum { PLAN_BATCH_ROUND = 16 };
typedef struct IrBytes { int64_t fixed, per_ex; } IrBytes;

static inline int64_t plan_round_batch(int64_t batch)
{
    return (batch + PLAN_BATCH_ROUND - 1) / PLAN_BATCH_ROUND * PLAN_BATCH_ROUND;
}
/* B̂ for a batch under a plan for batch `planned` */
static inline int64_t plan_bhat(int64_t planned, int64_t batch)
{
    int64_t r = plan_round_batch(batch), floor = plan_round_batch(planned);
    return r > floor ? r : floor;
}

typedef struct IrPlan {
    int64_t  batch;       /* the batch it was made for: B̂'s floor, and what the totals are printed for */
    IrSlab  *slab;        /* per node */
    IrBytes *offset;      /* per node: byte offset in its slab */
    IrBytes *bytes;       /* per node: its size (one of the two parts is 0) */
    int     *first, *last;/* per node: the step that defines it and the last that reads it
                             (for a view's owner, the last that reads any of its views) */
    int     *alias;       /* per node: the activation whose bytes a view (a reshape) shares, or -1 */
    IrBytes  slab_bytes[SLAB_ACT + 1];  /* SLAB_ACT: peak activation bytes */
    IrBytes  live_sum;    /* bytes of all activations if none shared space */
} IrPlan;

/* x at a batch under plan p */
static inline int64_t plan_at(const IrPlan *p, IrBytes x, int64_t batch)
{
    return x.fixed + x.per_ex * plan_bhat(p->batch, batch);
}

/* Liveness-based reuse of one activation arena; parameters, optimizer state
 * and inputs each in one contiguous slab.  Values of leaves (constants,
 * inputs) are not activations.  The plan serves every batch; batch is its
 * floor (the train block's batch, usually). */
IrPlan *plan_memory(const IrGraph *g, int64_t batch);
/* --dump-ir=plan: a line per value with its slab, offset, size and live range, then the totals. */
void plan_print(StrBuf *sb, const IrGraph *g, const IrPlan *p);
/* The same for Graphviz: a box per buffer with its slab, offset, size and life. */
void plan_print_dot(StrBuf *sb, const IrGraph *g, const IrPlan *p);
/* False, with *why, if two activations live at the same time share bytes at
 * some batch size (or the plan does not fit g). */
bool plan_check(const IrGraph *g, const IrPlan *p, const char **why);

/* The pipeline: stages as --dump-ir names them. */
typedef enum IrStage { STAGE_IR, STAGE_GRAD, STAGE_OPT, STAGE_FUSED, STAGE_PLAN } IrStage;

#endif
