/* cg_internal.h — the state of one module's generation and the typed
 * builder helpers the kernel generators share. */
#ifndef NNC_CG_INTERNAL_H
#define NNC_CG_INTERNAL_H

#include <llvm-c/Core.h>

#include "../ir/ir_internal.h"
#include "cg.h"

typedef struct Cg {
    LLVMContextRef ctx;
    LLVMModuleRef  mod;
    LLVMBuilderRef b;
    const IrGraph *g;
    const IrPlan  *plan;
    LLVMTypeRef    t_void, t_i1, t_i8, t_i32, t_i64, t_ptr, t_f32, t_f64;
    LLVMTypeRef    t_real;        /* the graph's real type */
    LLVMTypeRef    t_kernel;      /* void (ptr ctx, i64 begin, i64 end): an RtTask */
    LLVMValueRef   fn;            /* the kernel being generated */
    LLVMValueRef   ctx_arg;       /* its RtCtx * */
    LLVMValueRef   begin_arg, end_arg; /* its items [begin, end) */
    const int     *slot_node;     /* a kernel body's pointer parameters: slot k holds node slot_node[k] */
    int            nslots;        /* 0: addresses come from the plan */
    LLVMBasicBlockRef entry;      /* for allocas */
    LLVMValueRef  *tables;        /* per node: the global holding a TENSOR constant */
    const CgTune  *tune;          /* the matmul's register tile for the target CPU */
    const int     *inplace;       /* per node: the old value an update writes over (cg_inplace.c), or -1; NULL: none */
    const int     *group;         /* cg_group_plan's answer: kernels merged into one loop; NULL: none */
    bool           keep_across_calls; /* the entry's CgEntry.keep_across_calls */
} Cg;

/* Node v of the graph being generated (short: the kernels say it often). */
static inline const IrNode *N(const Cg *c, int v) { return &c->g->nodes[v]; }

/* A scalar leaf, CONST or BATCH_SIZE: a value in the code with no memory of
 * its own (no slab, no global), read through cg_leaf_scalar. */
static inline bool cg_no_memory(const IrNode *n) { return n->op == IR_CONST || n->op == IR_BATCH_SIZE; }

/* Loops: [begin, end) with an i64 induction variable. */
typedef struct CgLoop {
    LLVMBasicBlockRef head, body, exit;
    LLVMValueRef      iv, next_phi_in;
} CgLoop;

CgLoop       cg_loop_begin(Cg *c, LLVMValueRef begin, LLVMValueRef end, const char *name);
void         cg_loop_end(Cg *c, CgLoop *l);
/* LLVM's hints (llvm.loop metadata) for the loop whose last block, before
 * cg_loop_end, is latch: hint i is names[i] with the i1 or i32 vals[i], or
 * the name alone when vals[i] is NULL (at most CG_LOOP_HINTS_MAX).  The loop
 * ID is a node whose first operand is itself: made around a temporary,
 * which then takes its place. */
enum { CG_LOOP_HINTS_MAX = 4 };
void         cg_loop_hints(Cg *c, LLVMBasicBlockRef latch, const char *const *names, const LLVMValueRef *vals, int n);
/* Three by name: never unrolled; not vectorized nor interleaved; if
 * vectorized, then `width` iterations to a vector (the vectorizer weighs no
 * other width) and the last iterations in the vector body under a mask (no
 * vector epilogue, no scalar remainder). */
void         cg_loop_no_unroll(Cg *c, LLVMBasicBlockRef latch);
void         cg_loop_no_vectorize(Cg *c, LLVMBasicBlockRef latch);
void         cg_loop_fold_tail(Cg *c, LLVMBasicBlockRef latch, int width);

LLVMValueRef cg_i64(Cg *c, int64_t v);
LLVMValueRef cg_real(Cg *c, double v);
/* min(a, b) and max(a, b) of two i64s, named `name` in the IR */
LLVMValueRef cg_imin(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *name);
LLVMValueRef cg_imax(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *name);
/* i1: 0 <= v < n; and (iy, ix) inside an h x w image (a window's tap, or
 * a pixel, that is not in the padding) */
LLVMValueRef cg_in_range(Cg *c, LLVMValueRef v, int64_t n);
LLVMValueRef cg_in_image(Cg *c, LLVMValueRef iy, LLVMValueRef ix, int64_t h, int64_t w);
LLVMTypeRef  cg_type(Cg *c, IrType t);
/* An alloca in the kernel's entry block. */
LLVMValueRef cg_alloca(Cg *c, LLVMTypeRef t, LLVMValueRef count, const char *name);
/* The runtime batch size, the thread pool (ctx->pool), and the size of a
 * dimension (IR_BATCH resolved). */
LLVMValueRef cg_batch(Cg *c);
LLVMValueRef cg_pool(Cg *c);
LLVMValueRef cg_dim(Cg *c, int64_t d);
/* Number of elements of a shape at run time. */
LLVMValueRef cg_elems(Cg *c, const IrShape *s, int from, int to);
/* ctx->first: a rank's first example in the global batch (RtCtx) */
LLVMValueRef cg_first(Cg *c);
/* Address of node v's data (its slab base + plan offset). */
LLVMValueRef cg_base(Cg *c, int v);
/* Where the plan puts v's buffer, whether or not v is written in place. */
LLVMValueRef cg_planned_base(Cg *c, int v);
/* Element idx of node v (a pointer typed as v's element). */
LLVMValueRef cg_elem_ptr(Cg *c, int v, LLVMValueRef idx);
LLVMValueRef cg_load(Cg *c, int v, LLVMValueRef idx);
void         cg_store(Cg *c, int v, LLVMValueRef idx, LLVMValueRef x);
/* The value of a scalar leaf (CONST, BATCH_SIZE), or NULL. */
LLVMValueRef cg_leaf_scalar(Cg *c, int v);
/* The elementwise op as instructions on scalars of the real type. */
LLVMValueRef cg_scalar_op(Cg *c, IrOp op, LLVMValueRef a, LLVMValueRef b, LLVMValueRef x3, double f);
/* The module's function `name` (a runtime or libc function), declared with
 * type ft unless the module has it already. */
LLVMValueRef cg_declare(Cg *c, const char *name, LLVMTypeRef ft);
/* rt_task_scratch(ctx, bytes, call_p): this thread's scratch memory, the
 * builder then where it is there; to block `none` when there is none (the
 * runtime has noted it: rt_pool_failed).  Its first 64 bytes are a header
 * whose first i64 the matmul reads as the call that wrote its tags
 * (cg_matmul.c): another user writes 0 there (no call's number). */
LLVMValueRef cg_task_scratch(Cg *c, LLVMValueRef bytes, LLVMValueRef call_p, LLVMBasicBlockRef none);
enum { CG_SCRATCH_HEADER = 64 };  /* cg_task_scratch's header, bytes */
/* rt_kept_scratch(ctx, weight, bytes, call_p): the same for memory kept
 * across calls (a library's forward: the region of the parameter at
 * weight, *call_p the weights' version). */
LLVMValueRef cg_kept_scratch(Cg *c, LLVMValueRef weight, LLVMValueRef bytes, LLVMValueRef call_p, LLVMBasicBlockRef none);
/* A call of an intrinsic or libm function over the real type. */
LLVMValueRef cg_call_real(Cg *c, const char *name, LLVMValueRef *args, int n);
LLVMValueRef cg_vec_fma(Cg *c, LLVMTypeRef vec, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc);  /* a·b + acc, one rounding */
/* exp, erf, tanh: in f32 as arithmetic that vectorizes (cg_math.c), in f64 libm. */
LLVMValueRef cg_exp(Cg *c, LLVMValueRef x);
LLVMValueRef cg_erf(Cg *c, LLVMValueRef x);
LLVMValueRef cg_tanh(Cg *c, LLVMValueRef x);

/* Offsets of an operand broadcast to a result shape: per axis of the result,
 * how far one step moves in the operand (0 where it is broadcast). */
typedef struct CgStrides {
    int64_t stride[IR_MAX_RANK];  /* in elements; IR_BATCH never appears */
    bool    batch_scaled[IR_MAX_RANK]; /* stride is multiplied by the batch size */
} CgStrides;

void         cg_strides(const IrShape *operand, const IrShape *result, CgStrides *s);
/* The operand's offset for the multi-index given by flat index o over
 * axes [0, axes) of shape (the outer part of an iteration). */
LLVMValueRef cg_offset_of(Cg *c, const IrShape *shape, int axes, const CgStrides *st, LLVMValueRef o);

/* An operand of an elementwise computation (an elementwise kernel, a
 * matmul's epilogue) read along one row of the result. */
typedef struct CgOperand {
    int          node;
    LLVMValueRef scalar;   /* a scalar leaf (cg_no_memory): its value; else NULL */
    LLVMValueRef base;     /* else its data */
    LLVMValueRef row_off;  /* offset of the current row */
    int64_t      step;     /* along the row: 0 (broadcast) or 1 */
} CgOperand;

/* Element j of the operand's row, i32 data (labels) converted to the real type. */
LLVMValueRef cg_operand_load(Cg *c, const CgOperand *op, LLVMValueRef j);
/* A fused program at one element: val[0 .. p->nin) hold its inputs, and
 * val[p->nin ..] (p->n more) receive its instructions' values; returns the
 * last, the result. */
LLVMValueRef cg_program(Cg *c, const IrProgram *p, LLVMValueRef *val);
/* How many of p's instructions read each value (the result once more):
 * malloc'ed, the caller's to free. */
int *cg_program_uses(const IrProgram *p);
/* p's instruction k on the values a, b, x3: cg_scalar_op, or one fma for a
 * sum of a product nothing else reads (the only place products and sums
 * are fused: cg_util.c says why). */
LLVMValueRef cg_program_instr(Cg *c, const IrProgram *p, const int *uses, int k, LLVMValueRef a, LLVMValueRef b,
                              LLVMValueRef x3);

/* Kernels (cg_kernels.c, cg_matmul.c): cg_kernel_body emits the body of
 * c->fn for node v; cg_kernel_extent returns its parallel extent (the number
 * of items [begin, end) ranges over) as a value built where the builder
 * stands: in the entry function, just before the kernel is launched. */
bool         cg_has_kernel(const IrNode *n);
/* An elementwise node whose operands in memory all have its shape (or are
 * scalars): result element i reads element i of each (or the scalar), so
 * its body runs over elements
 * [begin, end) whatever the shape (its wrapper multiplies the rows it is
 * given by cg_row_length), and kernel_key leaves the shapes out: one body
 * serves every such node of the same program and types (e.g. an
 * optimizer's update of each parameter). */
bool         cg_flat_elementwise(const IrGraph *g, int v);
/* The length of node v's rows (its last axis; 1 for a scalar). */
LLVMValueRef cg_row_length(Cg *c, int v);
/* A node the entry function does with runtime calls, not a kernel of its
 * own (ALLREDUCE): no body, no wrapper. */
bool         cg_is_call(const IrNode *n);
/* Is op a matrix product (the kernels of cg_matmul.c)? */
bool         cg_is_matmul(IrOp op);
/* Is op a row kernel (each row of the last axis computed whole: fused_rows)? */
bool         cg_is_rows(IrOp op);
/* Does n's kernel compute each result element from its operands' elements
 * at that index (broadcast): elementwise ops, FUSED, BROADCAST, CAST? */
bool         cg_is_elementwise(const IrNode *n);
/* Whether matmul v at this call's batch takes K in one chunk, so that it
 * keeps no partial sums in C (an i1 built where the builder stands); NULL
 * when it always does. */
LLVMValueRef cg_matmul_one_chunk(Cg *c, int v);
void         cg_kernel_body(Cg *c, int v);
LLVMValueRef cg_kernel_extent(Cg *c, int v);
void         cg_matmul_body(Cg *c, int v);
LLVMValueRef cg_matmul_extent(Cg *c, int v);
/* Whether matmul v's body has the few-rows path (x·Wᵀ of a graph that
 * only predicts): part of its body's key, as the same node of a training
 * graph has none. */
bool         cg_matmul_few_rows(const IrGraph *g, int v);
/* Whether matmul v of an entry that keeps packings (CgEntry.keep_across_calls)
 * keeps its op(B), a parameter, packed across calls: part of its body's key. */
bool         cg_matmul_keeps_packing(const IrGraph *g, const IrPlan *p, int v);
/* The multiply-adds of matmul node v, times 2, at this batch. */
double       cg_matmul_flops(Cg *c, int v, int64_t batch);
/* The geometry of kh x kw windows at strides sh, sw, padding ph, pw (an
 * IrWindow) over channels-last images [..., h, w, c]: ho x wo windows
 * (cg_patches.c's kernels, cg_implicit.c's patches read in place). */
typedef struct CgWindow { int64_t h, w, c, ho, wo, kh, kw, sh, sw, ph, pw; } CgWindow;
/* cg_patches.c: PATCHES, PATCHES_T, POOL_MAX, POOL_MAX_T, POOL_ROWS_T (channels-last windows) */
void         cg_patches_body(Cg *c, int v, LLVMValueRef item);
bool         cg_patches_has(IrOp op);   /* whether op is one of them */

/* cg_implicit.c: matmul v's operand attr i[3] - 1 read as patches of an
 * image (passes/implicit.c).  Element kk of row pix; A's MR rows from row i0
 * (rows past M: row M - 1), chunk [k0, k0 + kn), row r at apack + r·kstride
 * (rows deeper than one chunk: cg_matmul.c reads one chunk in place); a
 * chunk of op(B) = the rows [k0, k0 + kn) into panels as cg_matmul.c packs
 * them: packB[(p·kn + k)·NR + col], 0 for columns past n, panels p in
 * [p_lo, p_hi) only. */
LLVMValueRef cg_implicit_load(Cg *c, int v, LLVMValueRef pix, LLVMValueRef kk);
void         cg_implicit_pack_a(Cg *c, int v, LLVMValueRef i0, LLVMValueRef M, int MR, LLVMValueRef k0, LLVMValueRef kn,
                                int64_t kstride, LLVMValueRef apack);
void         cg_implicit_pack_b(Cg *c, int v, LLVMValueRef k0, LLVMValueRef kn, int64_t n, LLVMValueRef p_lo,
                                LLVMValueRef p_hi, int NR, int VW, LLVMValueRef packB);
LLVMValueRef cg_patches_extent(Cg *c, int v);
/* A read as patches in one chunk, in place (cg_matmul.c): the window's
 * k·k taps and C channels, and for MR rows from i0 (rows past M: row M - 1)
 * where each tap's C channels start: rows[t·MR + r] points into the image,
 * or at a constant of C zeros when the tap is in the padding. */
int64_t      cg_implicit_taps(Cg *c, int v);
int64_t      cg_implicit_channels(Cg *c, int v);
void         cg_implicit_tap_rows(Cg *c, int v, LLVMValueRef i0, LLVMValueRef M, int MR, LLVMValueRef rows);
/* Rows a block aligned to rows of output pixels (0: none; see cg_implicit.c),
 * and whether one row's pointer for a tap is at the padding's zeros. */
int          cg_implicit_row_block(Cg *c, int v, int MR);
LLVMValueRef cg_implicit_tap_in_padding(Cg *c, int v, LLVMValueRef trow);
/* B read as patches in place (cg_matmul.c): whether each panel of NR
 * columns is NR channels of one tap (C a multiple of NR); then, for a chunk
 * [k0, k0 + kn) and panels [p_lo, p_hi), where each panel's row k starts:
 * rows[p·kn + k] points into the image, or at a constant of NR zeros. */
bool         cg_implicit_b_rows_fit(Cg *c, int v, int NR);
void         cg_implicit_b_rows(Cg *c, int v, LLVMValueRef k0, LLVMValueRef kn, int64_t n, LLVMValueRef p_lo,
                                LLVMValueRef p_hi, int NR, LLVMValueRef rows);
LLVMValueRef cg_implicit_b_row_skipped(Cg *c, LLVMValueRef brow, int NR);  /* at the zeros */
/* Whether product v's image has padding: else no row or tap pointer is at
 * the zeros, and the tests above need not be made. */
bool         cg_implicit_padded(Cg *c, int v);

/* cg_inplace.c: updates written over the values they replace.
 * cg_inplace_plan: per node of g (alias: the plan's views), the update
 * input it may write over, or -1 (malloc'ed; NULL when memory ran out).
 * cg_inplace_when: for node v with c->inplace[v] >= 0, an i1 saying
 * whether this call writes in place, or NULL when it always does;
 * cg_inplace_never: whether that value says "never".  cg_inplace_base:
 * v's address for this call (cg_base's, for such a v). */
int         *cg_inplace_plan(const IrGraph *g, const int *alias);
LLVMValueRef cg_inplace_when(Cg *c, int v);
bool         cg_inplace_never(LLVMValueRef when);
LLVMValueRef cg_inplace_base(Cg *c, int v);

/* Where node u is among nodes[0..n) (a body's slots, a group's members), or -1. */
static inline int cg_index_of(const int *nodes, int n, int u)
{
    for (int k = 0; k < n; k++)
        if (nodes[k] == u)
            return k;
    return -1;
}

/* cg_group.c: consecutive flat elementwise kernels merged into one loop.
 * cg_group_plan: for g under plan p (inplace: cg_inplace_plan's), an array
 * of 2·g->n (malloc'ed; NULL when memory ran out): [v], the last member of
 * v's group, which launches it, or -1 (v is in no group of two or more);
 * [g->n + v], for a group's last member v, its first.  The members of the
 * group v launches are the nodes m in [first, v] with group[m] == v. */
int         *cg_group_plan(const IrGraph *g, const IrPlan *p, const int *inplace);
/* Node v launches a group of two or more (its body computes them all). */
static inline bool cg_group_launch(const int *group, int v) { return group && group[v] == v; }
/* Node v has no kernel of its own: a member of a group another launches. */
static inline bool cg_group_folded(const int *group, int v) { return group && group[v] >= 0 && group[v] != v; }
/* The first member of the group v launches. */
static inline int cg_group_first(const IrGraph *g, const int *group, int v) { return group[g->n + v]; }
/* Members in one group at most: Adam's three, and room for updates with more. */
enum { CG_GROUP_MAX = 8 };
/* The nodes kernel v computes, in order, into out[CG_GROUP_MAX]: the
 * members of the group it launches, or v alone.  Returns their count. */
int          cg_group_members(const IrGraph *g, const int *group, int v, int *out);

#endif
