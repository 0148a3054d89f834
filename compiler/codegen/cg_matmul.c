/* cg_matmul.c — matrix products with their fused epilogues.
 *
 * C[.., M, N] = op(A)[.., M, K] · op(B)[.., K, N], leading axes broadcast.
 * Two cases become one plain product: a B without leading axes times an
 * untransposed A (x·Wᵀ over [B, T, D]) multiplies all of A's rows as one
 * matrix ("fold"), and a `lead` matmul (a weight's gradient) contracts over
 * the leading axes and K together, A and B viewed as [L·K, M] and [L·K, N].
 *
 * The classic blocked scheme, written with LLVM vector types:
 *   - K is taken in chunks of about the CPU's kc (chunk_depth); for each chunk op(B) is packed, once per
 *     matrix, into panels of NR columns, k-major: panel[k·NR + c], zero
 *     beyond N (a weight's gradient contracts over B·T or B·pixels terms:
 *     whole, its packed op(B) would not fit in any cache);
 *   - an item is MR rows of one matrix, read in place (not packed: see
 *     arow below);
 *   - the microkernel keeps an MR × NR tile of C in MR·NR/VW vector
 *     registers (the CPU's row of cg_tune.c: 12 × 32 f32 = 24 zmm on
 *     AVX-512, 6 × 16 = 12 ymm on AVX2) and for each k broadcasts
 *     one element of A per row and does one FMA per register;
 *   - the tile goes to a small buffer, from which the epilogue program
 *     (bias, activation, scale, the optimizer's update) writes C.
 * Every element of C sums its k terms in order, in one item, so the split
 * of items over threads never changes a bit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"
#include "cg_module.h"  /* CG_TINY_MACS, CG_TINY_N */

typedef struct Mm {
    int64_t m, n;              /* static sizes of C's matrices */
    bool    k_batch;           /* K is the batch (weight gradients) */
    int64_t k;
    bool    ta, tb;
    bool    lead;              /* the leading axes join K */
    bool    fold;              /* all of C's rows are one matrix */
} Mm;

/* Of the graph, not of the code generation: cg_matmul_few_rows is asked
 * from outside it (the cache key, cg_module.c). */
static Mm mm_of(const IrGraph *g, int v)
{
    const IrNode *n = &g->nodes[v];
    const IrShape *a = ir_matmul_operand(g, n, 0);
    bool ta = ir_mm_ta(n), tb = ir_mm_tb(n);
    int64_t k = a->dim[a->rank - (ta ? 2 : 1)];
    return (Mm){n->shape.dim[n->shape.rank - 2], n->shape.dim[n->shape.rank - 1], k == IR_BATCH, k, ta, tb,
                ir_mm_lead(n), ir_matmul_folds(g, n)};
}

/* C's rows per matrix: all of them when folded. */
static LLVMValueRef mm_rows(Cg *c, int v, const Mm *mm)
{
    const IrShape *s = &N(c, v)->shape;
    return mm->fold ? cg_elems(c, s, 0, s->rank - 1) : cg_dim(c, mm->m);
}

/* The length of the contraction when the code is generated, or -1 when
 * only the run knows it (the batch is K or among the leading axes that join
 * it): the one test of "K known", which tile_mr's choice of rows and
 * cg_matmul_body's paths must agree on. */
static int64_t mm_known_depth(Cg *c, int v, const Mm *mm)
{
    const IrShape *a = ir_matmul_operand(c->g, N(c, v), 0);
    if (!mm->lead)
        return mm->k_batch ? -1 : mm->k;
    int64_t k = 1;
    for (int i = 0; i < a->rank - 1; i++) {
        if (a->dim[i] == IR_BATCH)
            return -1;
        k *= a->dim[i];
    }
    return k;
}

/* The length of the contraction: a constant exactly when mm_known_depth
 * knows it. */
static LLVMValueRef mm_depth(Cg *c, int v, const Mm *mm)
{
    const IrShape *a = ir_matmul_operand(c->g, N(c, v), 0);
    int64_t k = mm_known_depth(c, v, mm);
    if (k >= 0)
        return cg_i64(c, k);
    return mm->lead ? cg_elems(c, a, 0, a->rank - 1) : cg_batch(c);
}

/* The register tile is MR rows × NR columns (NR/TW vectors of TW reals):
 * a row of the CPU's table (cg_tune.c), with fewer rows when C's rows per
 * matrix are known and fewer rows waste less: the last block of M rows
 * computes MR rows whatever M leaves it.  Cost of a choice: its blocks ×
 * (mr + 2), the 2 for what a block costs beyond its rows (op(B)'s loads
 * per k, the tile's trip through the buffer); ties keep the larger tile.
 * The MNIST CNN's second convolution's weight gradient has M = 64: 6
 * blocks of 12 computed 72 rows, 6 of 11 compute 66; its first, per
 * example (passes/batch_split.c), M = 9: one block of 9 instead of 12.
 * A read as patches tap by tap in place (taps_in_place) takes blocks of
 * part of one row of output pixels (cg_implicit_row_block), so that a
 * tap in the padding is skipped for the whole block; rows copied first
 * skip nothing and take the blocks above.
 * Each element adds its k terms in order, in one accumulator, whatever
 * block it is in.  Which rows share a block still decides which terms are
 * skipped where an operand is an exact 0: a tap in the padding (tap_steps
 * skips it for a whole block and for a block's first or last row, so with
 * a padding of 2 or more, or blocks across output rows, some rows add it)
 * and a triangle's entries past the mask (tri_k_range: a block runs its
 * last row's range).  A skipped 0·b and an added one give the same bits
 * unless b is an inf or a NaN (0·b is NaN) or the sum so far is −0 and
 * 0·b is +0: the FMA rounds +0 plus a negative product of magnitude at
 * most 2^-150 (half the smallest f32 subnormal) to −0, and −0 + +0 = +0.
 * docs/training.md ("The matmul's register tile") says when. */
static int tri_mr(Cg *c, int v, int64_t m);
static bool taps_in_place(Cg *c, int v, int64_t k);

static int tile_mr(Cg *c, int v)
{
    int MR = c->tune->mr;
    const IrShape *s = &N(c, v)->shape;
    int64_t m = s->dim[s->rank - 2];
    if (ir_mm_tri(N(c, v)) && m > 0)
        return tri_mr(c, v, m);
    Mm mm = mm_of(c->g, v);
    int aligned = taps_in_place(c, v, mm_known_depth(c, v, &mm)) ? cg_implicit_row_block(c, v, MR) : 0;
    if (aligned)
        return aligned;
    if (ir_matmul_folds(c->g, N(c, v)) || m <= 0 || m % MR == 0)
        return MR;
    int best = MR;
    int64_t cost = (m + MR - 1) / MR * (MR + 2);
    for (int mr = MR - 1; mr >= 1; mr--)
        if ((m + mr - 1) / mr * (mr + 2) < cost) {
            best = mr;
            cost = (m + mr - 1) / mr * (mr + 2);
        }
    return best;
}

/* x·Wᵀ of an inference graph with fewer rows than this takes the few-rows
 * path (dot_rows): fixed, not the tile's MR, so that which path a batch
 * takes, and so its bits, do not depend on the CPU's tile. */
enum { FEW_ROWS = 6 };
/* The contraction in chunks of about the CPU's kc (cg_tune.c): a chunk of
 * packed op(B) stays in L2.  Below 1.5 kc a product is one chunk, and no
 * chunk is deeper (chunk_depth). */
static int64_t chunk_most(const Cg *c) { return c->tune->kc + c->tune->kc / 2; }
enum { PATCH_ROWS_KC = 1024 };  /* rows read as patches: one chunk up to this deep at least (one_chunk_below) */
enum { TAP_ROWS_MAX = 256 };      /* rows read as patches in place: at most this many taps (cg_matmul_body) */

/* The chunks of K: K / kc rounded to the nearest (at least one; kc the
 * CPU's, cg_tune.c), all of one depth (the last one shorter), below
 * chunk_most.  Chunks of exactly 256 left a short last chunk (K = 288,
 * the MNIST CNN's second convolution: 256 + 32) that costs a whole pass over C, storing the partial sums and loading them
 * back, for an eighth of the work.  Chunking never changes a bit: every
 * element adds its k terms in order across chunks. */
static LLVMValueRef chunk_depth(Cg *c, LLVMValueRef K, LLVMValueRef *chunks)
{
    int64_t kc = c->tune->kc;
    LLVMValueRef n = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, K, cg_i64(c, kc / 2), ""), cg_i64(c, kc), "");
    n = cg_imax(c, n, cg_i64(c, 1), "");
    LLVMValueRef depth = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, K, LLVMBuildNSWSub(c->b, n, cg_i64(c, 1), ""), ""), n, "");
    depth = cg_imax(c, depth, cg_i64(c, 1), "kc");  /* K = 0: no chunk */
    /* ceil(K / depth): with many chunks, n of that depth may end before K does */
    *chunks = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, K, LLVMBuildNSWSub(c->b, depth, cg_i64(c, 1), ""), ""), depth, "chunks");
    return depth;
}

/* The packed op(B) a thread keeps for the rest of a call, at most (the
 * CPU's keep_packed_bytes, cg_tune.c): every chunk of K in a slot of its
 * own, so that the thread's next claim of the same call (rt_parallel hands
 * out several per thread) packs nothing again.  Above it (a weight's
 * gradient over many examples) one slot is reused chunk after chunk, as
 * each chunk is packed anyway.
 *
 * A claim packs all of its panels of a chunk before its items
 * (claim_packs_panels) when they take at most claim_pack_bytes; a wider
 * claim packs each item's panel as it comes.  Packed whole, a chunk of a
 * [8, 50000] weight gradient's op(B) would be written out (50 MB) and read
 * back, where a panel at a time stays in L1.  The largest measured to
 * pay, the MNIST CNN's dense layer on one thread, is 1.6 MB a chunk (98
 * panels x 128 deep x 32 reals); Zen 4's 4 MB is a margin above it, not
 * measured.
 *
 * A non-transposed op(B) is copied pack_group panels side by side, row
 * after row (pack_rows): each row's pack_group · NR reals are contiguous
 * in B, and the panels written, kn · NR reals apart (8-32 KB: one L1 set),
 * are no more streams than L1 has ways (8 on Zen 4). */

/* Whether this claim is the whole call (one thread): then no later claim
 * of the call can use a kept chunk, and one slot reused chunk after chunk
 * stays in L2, where a slot per chunk (4 MB for the GPT's dense_2 weight
 * gradient, 8 chunks of 512 KB) was fresh memory at every call: that
 * kernel took 0.96-0.97 of the time on one thread (perf samples, fewest of
 * 5 rounds, two runs), the kernels it does not touch 0.98-0.99. */
static LLVMValueRef whole_call(Cg *c, int v)
{
    LLVMValueRef from_0 = LLVMBuildICmp(c->b, LLVMIntEQ, c->begin_arg, cg_i64(c, 0), "");
    LLVMValueRef to_end = LLVMBuildICmp(c->b, LLVMIntEQ, c->end_arg, cg_matmul_extent(c, v), "");
    return LLVMBuildAnd(c->b, from_0, to_end, "whole_call");
}

/* Bytes of one real: buffer sizes, and the alignment vector loads and stores
 * may claim (an element's, no more). */
static unsigned real_size(Cg *c) { return (unsigned)ir_type_size(c->g->ftype); }
static int vector_width(Cg *c) { return 64 / (int)real_size(c); }  /* one zmm: 64 bytes */
static int tile_width(Cg *c) { return c->tune->vector_bytes / (int)real_size(c); }  /* TW: the tile's vectors */
static int tile_nr(Cg *c) { return c->tune->nrv * tile_width(c); }

static bool tiny_product(Cg *c, int v, const Mm *mm);
static bool lead_b_in_place(Cg *c, int v, const Mm *mm);

/* The batch the step was planned for: the sizes the choices below weigh
 * (64, the least a plan rounds to, for a graph compiled without a plan). */
static int64_t planned_batch(const Cg *c) { return c->plan ? c->plan->batch : 64; }

/* C with at most this many rows (at the plan's batch) in one matrix has
 * panels for items (few_rows_many_panels): all of A's rows of a chunk,
 * 128 rows of a chunk (below 1.5 kc deep: up to 384 KB of f32 at Zen 4's kc,
 * 768 KB of f64; not measured), stay in L2 while a thread's panels go over them. */
enum { PANEL_ITEM_ROWS = 128 };

/* Whether C is one matrix of few rows (PANEL_ITEM_ROWS at the plan's batch)
 * and two panels or more, op(B) packed: the MNIST MLP's x·W1ᵀ [64, 784] ·
 * [784, 128] and its weight gradient gᵀ·x [128, 64] · [64, 784], the GPT's
 * weight gradients of 65 and 128 rows, the CNN's dense layer.  With row
 * blocks for items, every thread packed all of op(B) (the 400 KB of W1ᵀ,
 * or x) for its share of 6 or 11 blocks; a panel's claim packs that panel
 * alone, and A, small, is read again from L2 for each panel.  The same
 * sums in the same order: the split never changes a bit (a batch other
 * than the plan's has more or fewer rows in each panel, still one item). */
static bool few_rows_many_panels(Cg *c, int v, const Mm *mm)
{
    const IrShape *s = &N(c, v)->shape;
    int64_t batch = planned_batch(c);
    if (ir_mm_patches(N(c, v)) || (s->rank != 2 && !mm->fold) || mm->n <= tile_nr(c))
        return false;
    return ir_elems(s, batch) / mm->n <= PANEL_ITEM_ROWS;
}

/* Whether an item is one panel of NR columns over all of C's rows, not MR
 * rows over all columns: when op(B) is read as patches (a convolution's
 * weight gradient, (gᵀ·rows)ᵀ: C is [F, k·k·C], K the batch's pixels).  Its
 * packed op(B) is too large to keep (14.4 MB for the MNIST CNN's second
 * convolution), so a claim of row blocks packed all of it again: on two
 * threads, with a claim per item, six times a call instead of once.  A
 * claim of a panel packs that panel alone; the rows of A (gᵀ, read in
 * place) are what is read again, F × K instead of K × k·k·C.  And when C
 * has few rows (few_rows_many_panels). */
static bool items_are_panels(Cg *c, int v, const Mm *mm)
{
    if (tiny_product(c, v, mm))
        return false;
    return ir_mm_patches(N(c, v)) == IR_MM_PATCHES_B || few_rows_many_panels(c, v, mm);
}

/* Whether an item of items_are_panels is one block of MR rows of its
 * panel, not all of them: when op(B)'s rows are read where they are
 * (cg_implicit_b_rows_fit), so that an item's "packing" is a pointer per
 * row, which the items of one panel that a thread runs in a row share (the
 * slot's tag).  With a panel an item, the MNIST CNN's second convolution's
 * weight gradient had 9 items, on two threads 5 against 4; with 9 × 6 its
 * 8 claims are 6 or 7 blocks each.  And when op(B) is read in place
 * (lead_b_in_place), with nothing to pack: the GPT's [128, 128] weight
 * gradients had 4 items for two threads, and a worker that joined late
 * left the caller three of them; 4 × 11 blocks make 8 claims.  On one
 * thread the items run in the same order: panel by panel, each panel's
 * blocks in a row. */
static bool items_are_tiles(Cg *c, int v, const Mm *mm)
{
    if (!items_are_panels(c, v, mm))
        return false;
    if (ir_mm_patches(N(c, v)) == IR_MM_PATCHES_B)
        return cg_implicit_b_rows_fit(c, v, tile_nr(c));
    return lead_b_in_place(c, v, mm);
}

/* matrices × blocks of MR rows (or × panels of NR columns: items_are_panels;
 * or × panels × blocks: items_are_tiles) */
LLVMValueRef cg_matmul_extent(Cg *c, int v)
{
    const IrShape *s = &N(c, v)->shape;
    Mm mm = mm_of(c->g, v);
    LLVMValueRef mats = mm.fold ? cg_i64(c, 1) : cg_elems(c, s, 0, s->rank - 2);
    LLVMValueRef m = mm_rows(c, v, &mm);
    int MR = tile_mr(c, v);
    LLVMValueRef blocks = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, m, cg_i64(c, MR - 1), ""), cg_i64(c, MR), "");
    if (items_are_panels(c, v, &mm)) {
        LLVMValueRef panels = LLVMBuildNSWMul(c->b, mats, cg_i64(c, (mm.n + tile_nr(c) - 1) / tile_nr(c)), "items");
        return items_are_tiles(c, v, &mm) ? LLVMBuildNSWMul(c->b, panels, blocks, "items") : panels;
    }
    return LLVMBuildNSWMul(c->b, mats, blocks, "items");
}

double cg_matmul_flops(Cg *c, int v, int64_t batch)
{
    Mm mm = mm_of(c->g, v);
    const IrShape *a = ir_matmul_operand(c->g, N(c, v), 0);
    double depth = mm.lead ? (double)ir_elems(a, batch) / (double)a->dim[a->rank - 1]  /* as mm_depth */
                           : (double)(mm.k_batch ? batch : mm.k);
    return 2.0 * (double)ir_elems(&N(c, v)->shape, batch) * depth;
}

/* Offset of matrix number `mat` of operand x within x, its leading axes
 * broadcast to the result's. */
static LLVMValueRef matrix_offset(Cg *c, int x, const IrShape *result, LLVMValueRef mat)
{
    const IrShape *xs = &N(c, x)->shape;
    IrShape lead_r = {.rank = result->rank - 2}, lead_x = {.rank = xs->rank - 2};
    memcpy(lead_r.dim, result->dim, sizeof(int64_t) * (size_t)lead_r.rank);
    memcpy(lead_x.dim, xs->dim, sizeof(int64_t) * (size_t)lead_x.rank);
    CgStrides st;
    cg_strides(&lead_x, &lead_r, &st);
    LLVMValueRef mats = cg_offset_of(c, &lead_r, lead_r.rank, &st, mat);
    LLVMValueRef size = cg_elems(c, xs, xs->rank - 2, xs->rank);
    return LLVMBuildNSWMul(c->b, mats, size, "");
}

/* matrix_offset of operand k of matmul v: 0 for one read as patches (one
 * matrix: the folded rows of x·W, or a lead product's) */
static LLVMValueRef operand_offset(Cg *c, int v, int k, LLVMValueRef mat)
{
    const IrNode *n = N(c, v);
    return ir_mm_patches_operand(n) == k ? cg_i64(c, 0) : matrix_offset(c, n->in[k], &n->shape, mat);
}

static LLVMValueRef at(Cg *c, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildGEP2(c->b, c->t_real, base, &idx, 1, "");
}

/* base + bytes */
static LLVMValueRef byte_at(Cg *c, LLVMValueRef base, LLVMValueRef bytes)
{
    return LLVMBuildGEP2(c->b, c->t_i8, base, &bytes, 1, "");
}

/* A hint to load the line at ptr into the caches (llvm.prefetch: read,
 * kept in all levels, data); no fault, whatever ptr is. */
static void prefetch(Cg *c, LLVMValueRef ptr)
{
    unsigned id = LLVMLookupIntrinsicID("llvm.prefetch", 13);
    LLVMTypeRef pt = c->t_ptr;
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, &pt, 1);
    LLVMValueRef args[4] = {ptr, LLVMConstInt(c->t_i32, 0, 0), LLVMConstInt(c->t_i32, 3, 0), LLVMConstInt(c->t_i32, 1, 0)};
    LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &pt, 1), fn, args, 4, "");
}

/* ---- the epilogue: C's element from the product y ---------------------------------------- */

/* The extra operands of a fused epilogue (bias, the optimizer's state...):
 * constants, or tensors read at C's (row, column) through broadcast strides. */
typedef struct Epi {
    int        extra;
    CgOperand *op;   /* per extra operand; base and row_off at the current row */
    CgStrides *st;   /* per extra operand that is not a scalar */
    int        over; /* the extra operand C is written over, read through C's pointer (cg_inplace.c); -1: none */
} Epi;

/* The extra operand matmul v writes over (cg_inplace.c), or -1. */
static int over_operand(Cg *c, int v)
{
    const IrNode *n = N(c, v);
    if (!c->inplace || c->inplace[v] < 0 || n->op != IR_MATMUL_EPI)
        return -1;
    for (int k = 2; k < n->nin; k++)
        if (n->in[k] == c->inplace[v])
            return k - 2;
    return -1;
}

static void epi_begin(Cg *c, int v, Epi *e)
{
    const IrNode *n = N(c, v);
    e->extra = n->op == IR_MATMUL_EPI ? n->nin - 2 : 0;
    e->over = -1;
    e->op = calloc((size_t)e->extra + 1, sizeof *e->op);
    e->st = calloc((size_t)e->extra + 1, sizeof *e->st);
    for (int k = 0; k < e->extra; k++) {
        CgOperand *op = &e->op[k];
        op->node = n->in[2 + k];
        op->scalar = cg_leaf_scalar(c, op->node);
        if (op->scalar)
            continue;
        cg_strides(&N(c, op->node)->shape, &n->shape, &e->st[k]);
        op->step = e->st[k].stride[n->shape.rank - 1];
    }
}

/* Where each extra operand's row crow of C starts. */
static void epi_row(Cg *c, int v, Epi *e, LLVMValueRef crow)
{
    const IrNode *n = N(c, v);
    for (int k = 0; k < e->extra; k++)
        if (!e->op[k].scalar) {
            e->op[k].base = cg_base(c, k == e->over ? v : e->op[k].node);
            e->op[k].row_off = cg_offset_of(c, &n->shape, n->shape.rank - 1, &e->st[k], crow);
        }
}

/* C[crow, j] = the epilogue program of y and the extra operands. */
static void epi_store(Cg *c, int v, const Epi *e, LLVMValueRef crow, LLVMValueRef j, LLVMValueRef y)
{
    const IrNode *n = N(c, v);
    if (n->op == IR_MATMUL_EPI) {
        const IrProgram *p = n->a.prog;
        LLVMValueRef *val = calloc((size_t)(p->nin + p->n), sizeof *val);
        val[0] = y;
        for (int k = 0; k < e->extra; k++)
            val[1 + k] = cg_operand_load(c, &e->op[k], j);
        y = cg_program(c, p, val);
        free(val);
    }
    const IrShape *s = &n->shape;
    cg_store(c, v, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, crow, cg_i64(c, s->dim[s->rank - 1]), ""), j, ""), y);
}

static void epi_end(Epi *e)
{
    free(e->op);
    free(e->st);
}

/* ---- few rows: dot products in place ------------------------------------------------------ */

/* A graph without a loss only predicts (a library's forward): training and
 * evaluation keep one summation order, the tiled one, at every batch size. */
static bool inference_only(const IrGraph *g)
{
    for (int i = 0; i < g->nouts; i++)
        if (g->outs[i].kind == OUT_LOSS)
            return false;
    return true;
}

bool cg_matmul_few_rows(const IrGraph *g, int v)
{
    Mm mm = mm_of(g, v);
    return mm.tb && !mm.ta && !mm.k_batch && !ir_mm_patches(&g->nodes[v]) && inference_only(g);
}

/* A product keeps its packing across calls only for a W of at most this
 * many bytes.  The per-call packing it replaces held a slot per chunk up to
 * the CPU's keep_packed_bytes (4 MB on Zen 4) and one slot reused above,
 * while a larger W kept whole is another copy of it that the instance's
 * memory check (rt_model_bytes) does not count: a [16384, 4096] W (256 MB)
 * made the forward fail under a limit the instance fits in (session 36's
 * review).  The runtime caps the kept regions' sum too (rt_kept_scratch). */
enum { KEPT_W_MOST = 4 << 20 };

/* x·Wᵀ with W a parameter (its bytes change only when the instance's
 * parameters do: RtCtx.weights) of at most KEPT_W_MOST bytes and C one
 * matrix, so that op(B) packed is the same at every call of a library's
 * forward: it is packed whole once per version of the weights and kept
 * (cg_matmul_body).  Packing Wᵀ at every call was 6.94% + 0.77% of the
 * MNIST MLP's forward samples at batch 64 (its two products' tpack; perf,
 * session 36, bench/README). */
bool cg_matmul_keeps_packing(const IrGraph *g, const IrPlan *p, int v)
{
    const IrNode *n = &g->nodes[v], *w = &g->nodes[n->in[1]];
    return cg_matmul_few_rows(g, v) && p && p->slab[n->in[1]] == SLAB_PARAM
           && (mm_of(g, v).fold || n->shape.rank == 2)
           && ir_elems(&w->shape, 1) * (int64_t)ir_type_size(g->ftype) <= KEPT_W_MOST;
}

/* The few-rows path's blocking (dot_rows), measured on Zen 5 with MNIST's
 * first layer at batch 1:
 *   DS = 2 rows of W walked side by side, sharing each vector load of x
 *        (1 row: 2.3 us, two loads per FMA; 2: 1.76; 3: 1.9; 4: 3.1 —
 *        more streams from L2 at once than the prefetchers follow, it seems);
 *   DU = 4 accumulators per row: DS·DU = 8 chains of FMAs cover the two
 *        pipes' latency of 4;
 *   DV = 16 vectors per iteration (8: 2.7 us, 12: as 16);
 *   DG = 4 columns' lanes reduced together. */
enum { DG = 4, DS = 2, DU = 4, DV = 16 };

/* One level of the halving tree.  x, and y when not NULL, hold `cols`
 * columns of P lanes each (a column's lanes adjacent); the result holds x's
 * columns then y's, P/2 lanes each: lane i + lane i + P/2. */
static LLVMValueRef halve(Cg *c, LLVMValueRef x, LLVMValueRef y, int cols, int P)
{
    LLVMValueRef lo[16], hi[16];
    int n = 0;
    for (int s = 0; s < (y ? 2 : 1); s++)
        for (int col = 0; col < cols; col++)
            for (int i = 0; i < P / 2; i++, n++) {
                int from = (s * cols + col) * P + i;  /* a shuffle numbers y's lanes after x's */
                lo[n] = LLVMConstInt(c->t_i32, (unsigned)from, 0);
                hi[n] = LLVMConstInt(c->t_i32, (unsigned)(from + P / 2), 0);
            }
    LLVMValueRef other = y ? y : LLVMGetPoison(LLVMTypeOf(x));
    LLVMValueRef l = LLVMBuildShuffleVector(c->b, x, other, LLVMConstVector(lo, (unsigned)n), "lo");
    LLVMValueRef h = LLVMBuildShuffleVector(c->b, x, other, LLVMConstVector(hi, (unsigned)n), "hi");
    return LLVMBuildFAdd(c->b, l, h, "");
}

/* out[g] = the sum of acc[g]'s VW lanes, g < G, by the halving tree (lane
 * i + lane i + P/2 for P = VW, VW/2, .., 2).  Transpose-and-add: each level
 * pairs the vectors, so G columns take log2(VW) levels of one shuffle pair
 * and one add per vector, not G·log2(VW); a group of 3 gets a zero column. */
static void reduce_lanes(Cg *c, const LLVMValueRef *acc, int G, LLVMValueRef *out)
{
    int n = 1, cols = 1, P = vector_width(c);
    while (n < G)
        n *= 2;
    LLVMValueRef x[DG];
    for (int g = 0; g < n; g++)
        x[g] = g < G ? acc[g] : LLVMConstNull(LLVMTypeOf(acc[0]));
    for (; n > 1; n /= 2, cols *= 2, P /= 2)
        for (int g = 0; g < n / 2; g++)
            x[g] = halve(c, x[2 * g], x[2 * g + 1], cols, P);
    for (; P > 1; P /= 2)
        x[0] = halve(c, x[0], NULL, cols, P);
    for (int g = 0; g < G; g++)
        out[g] = LLVMBuildExtractElement(c->b, x[0], LLVMConstInt(c->t_i32, (unsigned)g, 0), "y");
}

/* The rows of W that one pass over k walks side by side. */
typedef struct DotRows {
    int          a, b;          /* x's and W's nodes */
    int          rows;          /* 1 .. DS */
    LLVMTypeRef  vec;           /* VW reals */
    LLVMValueRef arow;          /* x's row */
    LLVMValueRef wrow[DS];      /* where W's rows start */
    LLVMValueRef acc[DS][DU];   /* allocas: [s][q] sums W row s's vectors q, q + DU, q + 2·DU, .. of k */
} DotRows;

/* acc[·][q] += x[kk ..] · W_s[kk ..], one vector: one load of x for all rows. */
static void dot_step(Cg *c, DotRows *d, int q, LLVMValueRef kk)
{
    unsigned align = real_size(c);
    LLVMValueRef xv = LLVMBuildLoad2(c->b, d->vec, cg_elem_ptr(c, d->a, LLVMBuildNSWAdd(c->b, d->arow, kk, "")), "xv");
    LLVMSetAlignment(xv, align);
    for (int s = 0; s < d->rows; s++) {
        LLVMValueRef wv = LLVMBuildLoad2(c->b, d->vec, cg_elem_ptr(c, d->b, LLVMBuildNSWAdd(c->b, d->wrow[s], kk, "")), "wv");
        LLVMSetAlignment(wv, align);
        LLVMValueRef cur = LLVMBuildLoad2(c->b, d->vec, d->acc[s][q], "");
        LLVMBuildStore(c->b, cg_vec_fma(c, d->vec, xv, wv, cur), d->acc[s][q]);
    }
}

/* k over [from, to) vectors, `width` vectors a step (a multiple of DU:
 * vector i goes to accumulator i % DU), in a loop LLVM does not unroll. */
static void dot_pass(Cg *c, DotRows *d, int64_t from, int64_t to, int width)
{
    int VW = vector_width(c);
    if (to <= from)
        return;
    CgLoop k = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, (to - from) / width), "kv");
    LLVMValueRef k0 = LLVMBuildNSWMul(c->b, k.iv, cg_i64(c, width * VW), "");
    k0 = LLVMBuildNSWAdd(c->b, k0, cg_i64(c, from * VW), "k0");
    for (int q = 0; q < width; q++)
        dot_step(c, d, q % DU, LLVMBuildNSWAdd(c->b, k0, cg_i64(c, q * VW), ""));
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    cg_loop_end(c, &k);
    cg_loop_no_unroll(c, latch);  /* unrolled whole, a short k loop's loads of W no longer
                                    * depend on k, LICM lifts them out of the loop over
                                    * x's rows, and they spill (5 us instead of 1.8) */
}

/* C[crow, j0 .. j0 + G) from x's row arow and W's rows j0 .. j0 + G, the
 * first at brow, through the epilogue (epi_row was called for crow). */
static void dot_group(Cg *c, int v, const Mm *mm, Epi *epi, LLVMValueRef arow, LLVMValueRef brow, LLVMValueRef crow,
                      LLVMValueRef j0, int G)
{
    const IrNode *n = N(c, v);
    int VW = vector_width(c);
    int64_t K = mm->k, nv = K / VW;  /* whole vectors */
    int64_t big = nv / DV * DV, small = nv / DU * DU;
    LLVMValueRef sum[DG];
    for (int g0 = 0; g0 < G; g0 += DS) {
        DotRows d = {.a = n->in[0], .b = n->in[1], .rows = G - g0 < DS ? G - g0 : DS,
                     .vec = LLVMVectorType(c->t_real, (unsigned)VW), .arow = arow};
        for (int s = 0; s < d.rows; s++) {
            d.wrow[s] = LLVMBuildNSWAdd(c->b, brow, cg_i64(c, (g0 + s) * K), "wrow");
            for (int q = 0; q < DU; q++) {
                d.acc[s][q] = cg_alloca(c, d.vec, NULL, "dacc");
                LLVMBuildStore(c->b, LLVMConstNull(d.vec), d.acc[s][q]);
            }
        }
        dot_pass(c, &d, 0, big, DV);
        dot_pass(c, &d, big, small, DU);
        for (int64_t i = small; i < nv; i++)  /* fewer than DU: straight */
            dot_step(c, &d, (int)(i % DU), cg_i64(c, i * VW));
        for (int s = 0; s < d.rows; s++) {  /* the accumulators by a tree: (0 + 1) + (2 + 3) */
            LLVMValueRef t[DU];
            for (int q = 0; q < DU; q++)
                t[q] = LLVMBuildLoad2(c->b, d.vec, d.acc[s][q], "");
            for (int h = 1; h < DU; h *= 2)
                for (int q = 0; q + h < DU; q += 2 * h)
                    t[q] = LLVMBuildFAdd(c->b, t[q], t[q + h], "");
            sum[g0 + s] = t[0];
        }
    }
    LLVMValueRef y[DG], yp[DG];
    reduce_lanes(c, sum, G, y);
    /* the K % VW terms left, in order: for K < VW the tiled path's sum to the bit */
    for (int g = 0; g < G; g++) {
        yp[g] = cg_alloca(c, c->t_real, NULL, "dsum");
        LLVMBuildStore(c->b, y[g], yp[g]);
    }
    CgLoop t = cg_loop_begin(c, cg_i64(c, nv * VW), cg_i64(c, K), "kt");
    LLVMValueRef x = cg_load(c, n->in[0], LLVMBuildNSWAdd(c->b, arow, t.iv, ""));
    for (int g = 0; g < G; g++) {
        LLVMValueRef wi = LLVMBuildNSWAdd(c->b, brow, LLVMBuildNSWAdd(c->b, cg_i64(c, g * K), t.iv, ""), "");
        LLVMValueRef args[3] = {x, cg_load(c, n->in[1], wi), LLVMBuildLoad2(c->b, c->t_real, yp[g], "")};
        LLVMBuildStore(c->b, cg_call_real(c, "llvm.fma", args, 3), yp[g]);
    }
    cg_loop_end(c, &t);
    for (int g = 0; g < G; g++)
        epi_store(c, v, epi, crow, LLVMBuildNSWAdd(c->b, j0, cg_i64(c, g), "j"),
                  LLVMBuildLoad2(c->b, c->t_real, yp[g], "y"));
}

/* Rows [r_lo, r_hi) of one matrix over column groups [g_lo, g_hi) of DG
 * columns, or over the one group of the N % DG columns left (rest). */
static void dot_span(Cg *c, int v, const Mm *mm, Epi *epi, LLVMValueRef M, LLVMValueRef mat, LLVMValueRef r_lo,
                     LLVMValueRef r_hi, LLVMValueRef g_lo, LLVMValueRef g_hi, bool rest)
{
    const IrNode *n = N(c, v);
    int64_t K = mm->k;
    LLVMValueRef a0 = matrix_offset(c, n->in[0], &n->shape, mat), b0 = matrix_offset(c, n->in[1], &n->shape, mat);
    CgLoop jg = cg_loop_begin(c, g_lo, g_hi, "jg");
    LLVMValueRef j0 = LLVMBuildNSWMul(c->b, jg.iv, cg_i64(c, DG), "j0");
    LLVMValueRef brow = LLVMBuildNSWAdd(c->b, b0, LLVMBuildNSWMul(c->b, j0, cg_i64(c, K), ""), "brow");
    CgLoop r = cg_loop_begin(c, r_lo, r_hi, "r");
    LLVMValueRef crow = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, mat, M, ""), r.iv, "crow");
    LLVMValueRef arow = LLVMBuildNSWAdd(c->b, a0, LLVMBuildNSWMul(c->b, r.iv, cg_i64(c, K), ""), "arow");
    epi_row(c, v, epi, crow);
    dot_group(c, v, mm, epi, arow, brow, crow, j0, rest ? (int)(mm->n % DG) : DG);
    cg_loop_end(c, &r);
    cg_loop_end(c, &jg);
}

/* x·Wᵀ with fewer rows than the register tile (inference of one example):
 * packing W would cost more than the product, so C's elements come straight
 * from rows of x [M, K] and W [N, K], both contiguous in k.  One dot product
 * per element would load x once per column and end in VW - 1 dependent
 * adds; instead, in groups of DG columns j (rows of W):
 *   - DS rows of W at a time go over k side by side, sharing each vector
 *     load of x, DV vectors a step, vector i into accumulator i % DU of its
 *     row; then DU vectors a step, then the last (K / VW) % DU one by one;
 *   - every row of x goes over a group's rows of W while they are in L1, so
 *     W streams from L2 once whatever M is (at batch 1 that stream is the
 *     cost: 401 KB for MNIST's first layer, ~1.8 us);
 *   - a column's DU accumulators are added by a tree, its VW lanes by a
 *     halving tree with the group's other columns (reduce_lanes), then the
 *     K % VW terms left, one FMA each in order (for K < VW: the tiled
 *     path's sum to the bit);
 *   - the N % DG columns left make one smaller group, summed the same way.
 * Every element of C adds its k terms in one order fixed by K, whatever
 * its column, the batch or the threads.  That order differs from the tiled
 * path's, so a row of a small batch may differ from the same row of a
 * large batch in the last bits; only prediction graphs take this path
 * (inference_only).
 *
 * The items are the tiled path's (cg_matmul_extent), which a claim may
 * split anywhere: a panel of NR columns over all of a matrix's rows
 * (items_are_panels), or a block of MR rows over all its columns.  Each
 * item computes its own elements only; taking an item for a whole matrix
 * wrote past C (a prediction of one example through dense(x, 10000) has
 * 313 panel items: 312 rows written past its 40 KB, a crash; dense(x, 100)
 * wrote 3 rows past its output into the next tensor's memory). */
static void dot_rows(Cg *c, int v, const Mm *mm, LLVMValueRef M, Epi *epi)
{
    int NR = tile_nr(c), MR = tile_mr(c, v);
    int64_t groups = mm->n / DG, panels = (mm->n + NR - 1) / NR;
    bool by_panel = items_are_panels(c, v, mm);  /* never tiles: those read patches, or are lead products */
    LLVMValueRef blocks = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, M, cg_i64(c, MR - 1), ""), cg_i64(c, MR), "blocks");
    LLVMValueRef per_mat = by_panel ? cg_i64(c, panels) : blocks;
    CgLoop item = cg_loop_begin(c, c->begin_arg, c->end_arg, "item");
    LLVMValueRef mat = LLVMBuildSDiv(c->b, item.iv, per_mat, "mat"), part = LLVMBuildSRem(c->b, item.iv, per_mat, "part");
    LLVMValueRef r_lo = cg_i64(c, 0), r_hi = M, g_lo = cg_i64(c, 0), g_hi = cg_i64(c, groups);
    LLVMValueRef has_rest = LLVMConstInt(c->t_i1, mm->n % DG != 0, 0);
    if (by_panel) {  /* columns [p·NR, min(p·NR + NR, N)): NR is whole vectors of 4 reals or more, so whole
                      * groups of DG = 4, and the N % DG columns left in the last panel */
        LLVMValueRef col = LLVMBuildNSWMul(c->b, part, cg_i64(c, NR), "col");
        g_lo = LLVMBuildSDiv(c->b, col, cg_i64(c, DG), "g_lo");
        g_hi = cg_imin(c, LLVMBuildNSWAdd(c->b, g_lo, cg_i64(c, NR / DG), ""), g_hi, "g_hi");
        has_rest = LLVMBuildAnd(c->b, has_rest, LLVMBuildICmp(c->b, LLVMIntEQ, part, cg_i64(c, panels - 1), ""), "");
    } else {
        r_lo = LLVMBuildNSWMul(c->b, part, cg_i64(c, MR), "r_lo");
        r_hi = cg_imin(c, LLVMBuildNSWAdd(c->b, r_lo, cg_i64(c, MR), ""), M, "r_hi");
    }
    dot_span(c, v, mm, epi, M, mat, r_lo, r_hi, g_lo, g_hi, false);
    if (mm->n % DG) {
        LLVMBasicBlockRef rest = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "rest_columns");
        LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "rest_done");
        LLVMBuildCondBr(c->b, has_rest, rest, after);
        LLVMPositionBuilderAtEnd(c->b, rest);
        dot_span(c, v, mm, epi, M, mat, r_lo, r_hi, cg_i64(c, groups), cg_i64(c, groups + 1), true);
        LLVMBuildBr(c->b, after);
        LLVMPositionBuilderAtEnd(c->b, after);
    }
    cg_loop_end(c, &item);
}

/* One level of the in-register transpose: rows i and i + s (i & s == 0)
 * swap their off-diagonal s × s blocks.  After the levels s = VW/2 .. 1,
 * row q holds what was column q: each level exchanges bit s of the row and
 * the lane index. */
static void swap_blocks(Cg *c, LLVMValueRef *rows, int VW, int s)
{
    LLVMValueRef lo[16], hi[16];
    for (int l = 0; l < VW; l++) {
        lo[l] = LLVMConstInt(c->t_i32, (unsigned)((l & s) ? VW + l - s : l), 0);
        hi[l] = LLVMConstInt(c->t_i32, (unsigned)((l & s) ? VW + l : l + s), 0);
    }
    LLVMValueRef mlo = LLVMConstVector(lo, (unsigned)VW), mhi = LLVMConstVector(hi, (unsigned)VW);
    for (int i = 0; i < VW; i++) {
        if (i & s)
            continue;
        LLVMValueRef a = rows[i], b = rows[i + s];
        rows[i] = LLVMBuildShuffleVector(c->b, a, b, mlo, "");
        rows[i + s] = LLVMBuildShuffleVector(c->b, a, b, mhi, "");
    }
}

/* A function of the body's module, internal to it, named after the body
 * (BODY.SUFFIX), for a part of the body called rather than inlined. */
static LLVMValueRef sibling_function(Cg *c, LLVMValueRef body, const char *suffix, LLVMTypeRef ft)
{
    size_t len;
    const char *name = LLVMGetValueName2(body, &len);
    char fname[300];
    snprintf(fname, sizeof fname, "%.*s.%s", (int)len, name, suffix);
    LLVMValueRef f = LLVMAddFunction(c->mod, fname, ft);
    LLVMSetLinkage(f, LLVMInternalLinkage);
    return f;
}

/* The columns [c0, c0 + VW) of a panel: tpack(w, dst, c0, K, kn) sets
 * dst[k·NR + r] = w[(c0 + r)·K + k] for k < kn, 0 for c0 + r ≥ n (w: W's
 * row 0 at k0; dst: the panel's column c0).  An internal function of the
 * body's module, not inlined (pack_transposed says why); K, when known
 * (known_k ≥ 0: mm_known_depth), is used as a constant inside. */
static LLVMValueRef tpack_function(Cg *c, int64_t known_k, int64_t n, LLVMTypeRef *ftp)
{
    int VW = tile_width(c), NR = tile_nr(c);
    LLVMTypeRef vec = LLVMVectorType(c->t_real, (unsigned)VW);
    unsigned align = real_size(c);
    LLVMValueRef body = c->fn;
    LLVMBasicBlockRef saved_entry = c->entry, at_block = LLVMGetInsertBlock(c->b);
    LLVMTypeRef params[5] = {c->t_ptr, c->t_ptr, c->t_i64, c->t_i64, c->t_i64};
    LLVMTypeRef ft = LLVMFunctionType(c->t_void, params, 5, 0);
    LLVMValueRef f = sibling_function(c, body, "tpack", ft);
    unsigned count = LLVMGetAttributeCountAtIndex(body, LLVMAttributeFunctionIndex);  /* target, nounwind, noinline */
    LLVMAttributeRef *attrs = malloc(sizeof *attrs * (count + 1));
    LLVMGetAttributesAtIndex(body, LLVMAttributeFunctionIndex, attrs);
    for (unsigned k = 0; k < count; k++)
        LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, attrs[k]);
    free(attrs);
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    for (unsigned k = 1; k <= 2; k++)  /* W and the scratch memory never overlap */
        LLVMAddAttributeAtIndex(f, k, LLVMCreateEnumAttribute(c->ctx, noalias, 0));

    c->fn = f;
    c->entry = LLVMAppendBasicBlockInContext(c->ctx, f, "entry");
    LLVMPositionBuilderAtEnd(c->b, c->entry);
    LLVMValueRef w = LLVMGetParam(f, 0), dst = LLVMGetParam(f, 1), c0 = LLVMGetParam(f, 2);
    LLVMValueRef K = known_k >= 0 ? cg_i64(c, known_k) : LLVMGetParam(f, 3), kn = LLVMGetParam(f, 4);
    LLVMValueRef kblocks = LLVMBuildSDiv(c->b, kn, cg_i64(c, VW), "kblocks");  /* whole VW-blocks of k */
    LLVMValueRef kv = LLVMBuildNSWMul(c->b, kblocks, cg_i64(c, VW), "kv");
    LLVMValueRef full = LLVMBuildICmp(c->b, LLVMIntSLE, LLVMBuildNSWAdd(c->b, c0, cg_i64(c, VW), ""), cg_i64(c, n), "");
    LLVMBasicBlockRef blocks = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tblocks");
    LLVMBasicBlockRef singles = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tsingles");
    LLVMBuildCondBr(c->b, full, blocks, singles);

    /* whole blocks: k in [0, kv) */
    LLVMPositionBuilderAtEnd(c->b, blocks);
    CgLoop kb = cg_loop_begin(c, cg_i64(c, 0), kblocks, "tkb");
    LLVMValueRef kk = LLVMBuildNSWMul(c->b, kb.iv, cg_i64(c, VW), "kk");
    LLVMValueRef rows[16];
    for (int r = 0; r < VW; r++) {
        LLVMValueRef src = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, c0, cg_i64(c, r), ""), K, ""), kk, "");
        rows[r] = LLVMBuildLoad2(c->b, vec, at(c, w, src), "w");
        LLVMSetAlignment(rows[r], align);
    }
    for (int s = VW / 2; s >= 1; s /= 2)
        swap_blocks(c, rows, VW, s);
    for (int q = 0; q < VW; q++) {
        LLVMValueRef to = LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, kk, cg_i64(c, q), ""), cg_i64(c, NR), "");
        LLVMSetAlignment(LLVMBuildStore(c->b, rows[q], at(c, dst, to)), align);
    }
    cg_loop_end(c, &kb);
    LLVMBasicBlockRef tail = LLVMGetInsertBlock(c->b);

    /* one at a time: k in [kv, kn) after whole blocks, or all of k for
     * a block with rows past n */
    LLVMPositionBuilderAtEnd(c->b, singles);
    LLVMBasicBlockRef each = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "teach");
    LLVMBuildBr(c->b, each);
    LLVMPositionBuilderAtEnd(c->b, tail);
    LLVMBuildBr(c->b, each);
    LLVMPositionBuilderAtEnd(c->b, each);
    LLVMValueRef from = LLVMBuildPhi(c->b, c->t_i64, "tfrom");
    LLVMValueRef from_v[2] = {cg_i64(c, 0), kv};
    LLVMBasicBlockRef from_b[2] = {singles, tail};
    LLVMAddIncoming(from, from_v, from_b, 2);
    CgLoop kt = cg_loop_begin(c, from, kn, "tk");
    for (int r = 0; r < VW; r++) {
        LLVMValueRef j = LLVMBuildNSWAdd(c->b, c0, cg_i64(c, r), "");
        LLVMValueRef inside = LLVMBuildICmp(c->b, LLVMIntSLT, j, cg_i64(c, n), "");
        LLVMValueRef jj = LLVMBuildSelect(c->b, inside, j, cg_i64(c, 0), "");
        LLVMValueRef src = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, jj, K, ""), kt.iv, "");
        LLVMValueRef x = LLVMBuildSelect(c->b, inside, LLVMBuildLoad2(c->b, c->t_real, at(c, w, src), "x"), cg_real(c, 0), "");
        LLVMValueRef to = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, kt.iv, cg_i64(c, NR), ""), cg_i64(c, r), "");
        LLVMBuildStore(c->b, x, at(c, dst, to));
    }
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    cg_loop_end(c, &kt);
    cg_loop_no_vectorize(c, latch);  /* fewer than VW iterations, but for a panel's last columns:
                                      * vector code (scatters, runtime checks, an epilogue
                                      * loop) would only cost LLVM's time */
    LLVMBuildRetVoid(c->b);

    c->fn = body;
    c->entry = saved_entry;
    LLVMPositionBuilderAtEnd(c->b, at_block);
    *ftp = ft;
    return f;
}

/* Packs a chunk [k0, k0 + kn) of op(B) = Wᵀ, W [n, K] row-major (v's
 * operand b at b0; n = mm->n), into its panels [p_lo, p_hi) of NR columns, k-major:
 * packB[(p·kn + k)·NR + c] = W[p·NR + c, k0 + k], zero for rows past n.
 * A panel's columns are rows of W, so this is a transpose: VW rows × VW k
 * at a time are VW contiguous vector loads, transposed in registers (log2
 * VW levels of shuffles) and stored as VW vectors of the panel.  Element
 * by element, that needs a gather per vector (31% of the MLP's batch-64
 * forward went to gathers).  Blocks with rows past n, and the last kn mod
 * VW values of k, go one element at a time.  The same numbers land in the
 * same places either way.
 *
 * Each VW columns of a panel are packed by a function of their own
 * (tpack_function), called NR / VW times per panel: written inline, the
 * NR / VW copies of the block and element loops were all uses of the panel
 * loop's induction variable, and LLVM's Loop Strength Reduction, whose
 * work grows faster than its uses, spent 50 ms on the MNIST MLP's first
 * product alone (7 ms with half the copies).  The call costs nothing that
 * shows: one per VW × kn reals packed. */
static void pack_transposed(Cg *c, int v, const Mm *mm, LLVMValueRef b0, LLVMValueRef k0, LLVMValueRef kn,
                            LLVMValueRef p_lo, LLVMValueRef p_hi, LLVMValueRef packB)
{
    int VW = tile_width(c), NR = tile_nr(c), b = N(c, v)->in[1];
    LLVMTypeRef ft;
    LLVMValueRef tpack = tpack_function(c, mm_known_depth(c, v, mm), mm->n, &ft), K = mm_depth(c, v, mm);
    LLVMValueRef w = cg_elem_ptr(c, b, LLVMBuildNSWAdd(c->b, b0, k0, ""));  /* W[0, k0] */
    CgLoop pp = cg_loop_begin(c, p_lo, p_hi, "tpanel");
    LLVMValueRef panel = at(c, packB, LLVMBuildNSWMul(c->b, LLVMBuildNSWMul(c->b, pp.iv, kn, ""), cg_i64(c, NR), ""));
    for (int h = 0; h < NR / VW; h++) {
        LLVMValueRef c0 = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, pp.iv, cg_i64(c, NR), ""), cg_i64(c, h * VW), "c0");
        LLVMValueRef args[5] = {w, at(c, panel, cg_i64(c, h * VW)), c0, K, kn};
        LLVMBuildCall2(c->b, ft, tpack, args, 5, "");
    }
    cg_loop_end(c, &pp);
}

/* B's rows at least prefetch_row_bytes long (the CPU's row, cg_tune.c:
 * 2 KB) are copied with a prefetch of the same columns prefetch_rows rows
 * on (8; none when 0): a page of 4 KB then holds at most
 * two of the rows a panel's copy reads, and the hardware's prefetchers,
 * which follow a stride within a page, do not run ahead of it.  The GPT's
 * dense_1 weight gradient (rows of 2 KB, 4 MB from memory a call) spent
 * 14% of its samples on the copy's loads, copied panel by panel or a
 * claim's panels together (claim_packs_panels); with 8 rows ahead (or 4)
 * its kernel took 0.97 of the samples (perf, fewest of 4 rounds, load 4).
 * Only for a B of prefetch_b_bytes and more at the plan's batch (Zen 4's
 * L2, 1 MB), one that no L2 holds: the MNIST MLP's x [64, 784] (200 KB,
 * rows of 3 KB) comes from L2, and its weight gradient took 1.01 of the
 * time with the hints, 0.99 without. */

/* Packs a chunk [k0, k0 + kn) of op(B) = B [K, n] row-major (operand b at
 * b0) into its panels [p_lo, p_hi) of NR columns, k-major:
 * packB[(p·kn + k)·NR + c] = B[k0 + k, p·NR + c], zero past n. */
static void pack_rows(Cg *c, int b, LLVMValueRef b0, LLVMValueRef k0, LLVMValueRef kn, int64_t n, LLVMValueRef p_lo,
                      LLVMValueRef p_hi, LLVMValueRef packB)
{
    int VW = tile_width(c), NR = tile_nr(c);
    LLVMTypeRef vec = LLVMVectorType(c->t_real, (unsigned)VW);
    unsigned align = real_size(c);
    LLVMValueRef Nn = cg_i64(c, n), zero = cg_real(c, 0);
    const CgTune *t = c->tune;
    int group = t->pack_group, ahead_rows = t->prefetch_rows;
    bool ahead = ahead_rows > 0 && n * (int64_t)real_size(c) >= t->prefetch_row_bytes
                 && ir_elems(&N(c, b)->shape, planned_batch(c)) * (int64_t)real_size(c) >= t->prefetch_b_bytes;
    /* op(B) = B [K, n] row-major: a whole panel's row k is NR contiguous
     * reals, copied as vectors (selected element by element, LLVM made
     * gathers of them: 15% of the MNIST MLP's weight-gradient kernel);
     * the last panel, when n is not a multiple of NR, element by element.
     * Row by row, pack_group panels at a time: B is read in runs of
     * pack_group·NR reals.  Panel by panel, each row's NR reals came n
     * apart, a stride the prefetchers follow worse: the GPT's weight
     * gradients over [2048, 512] and [2048, 128] (the copy a fifth of the
     * kernel) took 0.93-0.97 and 0.98-1.00 of the time.  Every panel of
     * a row at once (98 for the CNN's dense layer, n = 3136) wrote more
     * streams one L1 set apart than the set has ways: its input
     * gradient's kernel took 1.19 of the time, 1.05 in groups of 8 (perf
     * samples, fewest of 3-5 rounds, load average 7-8).  Only the
     * panels [p_lo, p_hi): whole ones up to wp_hi, then the last. */
    int64_t whole = n / NR;
    LLVMValueRef wp_hi = cg_imin(c, p_hi, cg_i64(c, whole), "");
    if (whole > 0) {
        LLVMValueRef groups = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWSub(c->b, wp_hi, p_lo, ""), cg_i64(c, group - 1), ""),
                                            cg_i64(c, group), "groups");
        CgLoop vg = cg_loop_begin(c, cg_i64(c, 0), groups, "vgroup");
        LLVMValueRef g0 = LLVMBuildNSWAdd(c->b, p_lo, LLVMBuildNSWMul(c->b, vg.iv, cg_i64(c, group), ""), "g0");
        CgLoop vk = cg_loop_begin(c, cg_i64(c, 0), kn, "vpk");
        LLVMValueRef g_hi = cg_imin(c, LLVMBuildNSWAdd(c->b, g0, cg_i64(c, group), ""), wp_hi, "");
        CgLoop vp = cg_loop_begin(c, g0, g_hi, "vpanel");
        LLVMValueRef kk = LLVMBuildNSWAdd(c->b, k0, vk.iv, "kk");
        LLVMValueRef src = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, kk, Nn, ""), LLVMBuildNSWMul(c->b, vp.iv, cg_i64(c, NR), ""), "");
        LLVMValueRef dst = LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, vp.iv, kn, ""), vk.iv, ""), cg_i64(c, NR), "");
        for (int h = 0; h < NR / VW; h++) {
            if (ahead)  /* the same columns prefetch_rows rows on */
                prefetch(c, cg_elem_ptr(c, b, LLVMBuildNSWAdd(c->b, b0, LLVMBuildNSWAdd(c->b, src, cg_i64(c, h * VW + ahead_rows * n), ""), "")));
            LLVMValueRef x = LLVMBuildLoad2(c->b, vec, cg_elem_ptr(c, b, LLVMBuildNSWAdd(c->b, b0, LLVMBuildNSWAdd(c->b, src, cg_i64(c, h * VW), ""), "")), "bv");
            LLVMSetAlignment(x, align);
            LLVMSetAlignment(LLVMBuildStore(c->b, x, at(c, packB, LLVMBuildNSWAdd(c->b, dst, cg_i64(c, h * VW), ""))), align);
        }
        cg_loop_end(c, &vp);
        cg_loop_end(c, &vk);
        cg_loop_end(c, &vg);
    }
    CgLoop pp = cg_loop_begin(c, cg_imax(c, p_lo, cg_i64(c, whole), ""), p_hi, "panel");  /* the last panel, if the item has it */
    CgLoop pk = cg_loop_begin(c, cg_i64(c, 0), kn, "pk");
    LLVMValueRef kk = LLVMBuildNSWAdd(c->b, k0, pk.iv, "kk");
    CgLoop pc = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, NR), "pc");
    LLVMValueRef j = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, pp.iv, cg_i64(c, NR), ""), pc.iv, "j");
    LLVMValueRef inside = LLVMBuildICmp(c->b, LLVMIntSLT, j, Nn, "");
    LLVMValueRef jj = LLVMBuildSelect(c->b, inside, j, cg_i64(c, 0), "");
    LLVMValueRef src = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, kk, Nn, ""), jj, "");
    LLVMValueRef x = LLVMBuildSelect(c->b, inside, cg_load(c, b, LLVMBuildNSWAdd(c->b, b0, src, "")), zero, "");
    LLVMValueRef dst = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, pp.iv, kn, ""), pk.iv, ""),
                                                             cg_i64(c, NR), ""), pc.iv, "");
    LLVMBuildStore(c->b, x, at(c, packB, dst));
    cg_loop_end(c, &pc);
    cg_loop_end(c, &pk);
    cg_loop_end(c, &pp);
}

/* The few-rows path as a function of its own, with the kernel body's
 * signature and attributes, called from the body: kept apart, its register
 * allocation and code layout do not change with the tiled path's (when
 * they shared a function, a change to the tiled path's packing made the
 * MNIST MLP's batch-1 call 15% slower with the very same inner loop). */
static void call_few_rows(Cg *c, int v, const Mm *mm)
{
    LLVMValueRef body = c->fn, saved_ctx = c->ctx_arg, saved_begin = c->begin_arg, saved_end = c->end_arg;
    LLVMBasicBlockRef saved_entry = c->entry, at_block = LLVMGetInsertBlock(c->b);
    LLVMTypeRef ft = LLVMGlobalGetValueType(body);
    LLVMValueRef f = sibling_function(c, body, "few_rows", ft);
    unsigned nparams = LLVMCountParams(body);
    for (unsigned i = 0; i <= nparams; i++) {   /* the function's own (index ~0) and each parameter's */
        unsigned idx = i == nparams ? (unsigned)LLVMAttributeFunctionIndex : i + 1;
        unsigned count = LLVMGetAttributeCountAtIndex(body, idx);
        LLVMAttributeRef *attrs = malloc(sizeof *attrs * (count + 1));
        LLVMGetAttributesAtIndex(body, idx, attrs);
        for (unsigned k = 0; k < count; k++)
            LLVMAddAttributeAtIndex(f, idx, attrs[k]);
        free(attrs);
    }

    c->fn = f;
    c->ctx_arg = LLVMGetParam(f, nparams - 3);
    c->begin_arg = LLVMGetParam(f, nparams - 2);
    c->end_arg = LLVMGetParam(f, nparams - 1);
    c->entry = LLVMAppendBasicBlockInContext(c->ctx, f, "entry");
    LLVMPositionBuilderAtEnd(c->b, c->entry);
    Epi epi;
    epi_begin(c, v, &epi);
    dot_rows(c, v, mm, mm_rows(c, v, mm), &epi);
    epi_end(&epi);
    LLVMBuildRetVoid(c->b);

    c->fn = body;
    c->ctx_arg = saved_ctx;
    c->begin_arg = saved_begin;
    c->end_arg = saved_end;
    c->entry = saved_entry;
    LLVMPositionBuilderAtEnd(c->b, at_block);
    LLVMValueRef *args = malloc(sizeof *args * nparams);
    for (unsigned i = 0; i < nparams; i++)
        args[i] = LLVMGetParam(body, i);
    LLVMBuildCall2(c->b, ft, f, args, nparams, "");
    free(args);
}

/* The accumulators into the tile buffer, for the epilogue's loops. */
static void tile_store(Cg *c, LLVMValueRef accp[][CG_TILE_MAX_NRV], int MR, int NV, LLVMValueRef tile, LLVMTypeRef vec)
{
    int VW = tile_width(c), NR = tile_nr(c);
    for (int r = 0; r < MR; r++)
        for (int h = 0; h < NV; h++) {
            LLVMValueRef st = LLVMBuildStore(c->b, LLVMBuildLoad2(c->b, vec, accp[r][h], ""), at(c, tile, cg_i64(c, r * NR + h * VW)));
            LLVMSetAlignment(st, real_size(c));
        }
}

/* ---- tiny products: plain loops ------------------------------------------------------------ */

/* A product of at most CG_TINY_MACS multiply-adds at the plan's batch, with
 * at most CG_TINY_N columns (xor's, 16 at most): the tiled kernel's packing,
 * tile and epilogue buffer cost about 50 ms of LLVM's time per body for a
 * few nanoseconds of work, and xor's six products were most of its cold
 * compile.  Plain loops add each element's k terms in the same order, from
 * the same zero, with the same fma: the same bits as the tiled path.  Kept
 * this small so that the models of tests/grad (batch 3) still take the
 * tiled path with most of their products, as unit.codegen checks it. */
static bool tiny_product(Cg *c, int v, const Mm *mm)
{
    int64_t batch = planned_batch(c);
    return mm->n <= CG_TINY_N && cg_matmul_flops(c, v, batch) <= 2.0 * CG_TINY_MACS;
}

/* How deep a product may be and still be one chunk (chunk_depth): rows
 * read as patches are one chunk up to PATCH_ROWS_KC deep (cg_matmul_body
 * says why), and those of at most TAP_ROWS_MAX taps, read in place, also
 * deeper while all of op(B) packed, K × N (whole panels), takes at most
 * the CPU's patch_chunk_bytes (cg_tune.c: a share of its L3): in chunks
 * they are copied a real at a time instead.  3 x 3 convolutions over 128
 * and 256 channels (op(B) 288 KB to 3.5 MB) took 0.28-0.64 of their
 * forward's samples in one chunk (bench/README.md, session 33).  Others
 * below 1.5 times the CPU's kc. */
static int64_t one_chunk_below(Cg *c, int v)
{
    if (ir_mm_patches(N(c, v)) != IR_MM_PATCHES_A)
        return chunk_most(c);
    int64_t row_bytes = (mm_of(c->g, v).n + tile_nr(c) - 1) / tile_nr(c) * tile_nr(c) * real_size(c);  /* a k of op(B) */
    int64_t fits = cg_implicit_taps(c, v) <= TAP_ROWS_MAX ? c->tune->patch_chunk_bytes / row_bytes : 0;
    return (fits > PATCH_ROWS_KC ? fits : PATCH_ROWS_KC) + 1;
}

/* Whether a depth k known when the code is generated (-1: not) is one
 * chunk. */
static bool one_known_chunk(Cg *c, int v, int64_t k)
{
    return k >= 0 && k < one_chunk_below(c, v);
}

/* Whether A's rows read as patches are read in place, tap by tap
 * (cg_matmul_body): in one chunk of a depth k known here (-1: not), at
 * most TAP_ROWS_MAX taps.  Only then does a block skip the taps in the
 * padding (cg_implicit_tap_in_padding). */
static bool taps_in_place(Cg *c, int v, int64_t k)
{
    return ir_mm_patches(N(c, v)) == IR_MM_PATCHES_A && one_known_chunk(c, v, k)
           && cg_implicit_taps(c, v) <= TAP_ROWS_MAX;
}

/* One chunk exactly when a known K is below one_chunk_below, or a K known
 * only at run time below 1.5 times the CPU's kc (chunk_depth); the tiny path has none. */
LLVMValueRef cg_matmul_one_chunk(Cg *c, int v)
{
    Mm mm = mm_of(c->g, v);
    if (tiny_product(c, v, &mm))
        return NULL;
    int64_t k = mm_known_depth(c, v, &mm);
    if (k >= 0)
        return k < one_chunk_below(c, v) ? NULL : LLVMConstInt(c->t_i1, 0, 0);
    return LLVMBuildICmp(c->b, LLVMIntSLT, mm_depth(c, v, &mm), cg_i64(c, chunk_most(c)), "one_chunk");
}

/* The items as the tiled path has them (cg_matmul_extent: MR rows of one
 * matrix), each element C[row, j] = epilogue(sum over k of a·b). */
static void tiny_body(Cg *c, int v, const Mm *mm, LLVMValueRef M, LLVMValueRef K)
{
    const IrNode *n = N(c, v);
    int a = n->in[0], b = n->in[1], MR = tile_mr(c, v);
    LLVMValueRef Nn = cg_i64(c, mm->n);
    LLVMValueRef acc = cg_alloca(c, c->t_real, NULL, "acc");
    Epi epi;
    epi_begin(c, v, &epi);
    epi.over = over_operand(c, v);  /* a tiny product is always written in place (cg_matmul_one_chunk) */
    LLVMValueRef blocks = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, M, cg_i64(c, MR - 1), ""), cg_i64(c, MR), "");
    CgLoop item = cg_loop_begin(c, c->begin_arg, c->end_arg, "block");
    LLVMValueRef mat = LLVMBuildSDiv(c->b, item.iv, blocks, "mat");
    LLVMValueRef i0 = LLVMBuildNSWMul(c->b, LLVMBuildSRem(c->b, item.iv, blocks, ""), cg_i64(c, MR), "i0");
    LLVMValueRef a0 = operand_offset(c, v, 0, mat), b0 = operand_offset(c, v, 1, mat);
    CgLoop lr = cg_loop_begin(c, cg_i64(c, 0), cg_imin(c, cg_i64(c, MR), LLVMBuildNSWSub(c->b, M, i0, ""), ""), "r");
    LLVMValueRef ii = LLVMBuildNSWAdd(c->b, i0, lr.iv, "ii");
    LLVMValueRef crow = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, mat, M, ""), ii, "crow");
    epi_row(c, v, &epi, crow);
    CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), Nn, "j");
    LLVMBuildStore(c->b, cg_real(c, 0), acc);
    CgLoop lk = cg_loop_begin(c, cg_i64(c, 0), K, "k");
    LLVMValueRef asrc = mm->ta ? LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lk.iv, M, ""), ii, "")
                               : LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, ii, K, ""), lk.iv, "");
    LLVMValueRef bsrc = mm->tb ? LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lc.iv, K, ""), lk.iv, "")
                               : LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lk.iv, Nn, ""), lc.iv, "");
    LLVMValueRef x = ir_mm_patches(n) == IR_MM_PATCHES_A ? cg_implicit_load(c, v, ii, lk.iv)  /* a0 = 0: one matrix */
                                    : cg_load(c, a, LLVMBuildNSWAdd(c->b, a0, asrc, ""));
    LLVMValueRef w = ir_mm_patches(n) == IR_MM_PATCHES_B ? cg_implicit_load(c, v, lk.iv, lc.iv)
                                    : cg_load(c, b, LLVMBuildNSWAdd(c->b, b0, bsrc, ""));
    LLVMBuildStore(c->b, cg_vec_fma(c, c->t_real, x, w, LLVMBuildLoad2(c->b, c->t_real, acc, "")), acc);
    cg_loop_end(c, &lk);
    epi_store(c, v, &epi, crow, lc.iv, LLVMBuildLoad2(c->b, c->t_real, acc, "y"));
    cg_loop_end(c, &lc);
    cg_loop_end(c, &lr);
    cg_loop_end(c, &item);
    epi_end(&epi);
}

/* One step k of the microkernel: op(B)'s row k of the panel (bpanel +
 * k·bstep: NR packed, B's row length read in place), row r's element at
 * arow[r] + ai broadcast, MR × NV fused multiply-adds. */
static void k_step(Cg *c, LLVMValueRef bpanel, LLVMValueRef k, const LLVMValueRef *arow, LLVMValueRef ai, int MR, int NV,
                   int bstep, int VW, LLVMTypeRef vec, LLVMValueRef accp[][CG_TILE_MAX_NRV])
{
    LLVMValueRef bk = at(c, bpanel, LLVMBuildNSWMul(c->b, k, cg_i64(c, bstep), ""));
    LLVMValueRef bv[CG_TILE_MAX_NRV];
    for (int h = 0; h < NV; h++) {
        bv[h] = LLVMBuildLoad2(c->b, vec, at(c, bk, cg_i64(c, h * VW)), "b");
        LLVMSetAlignment(bv[h], real_size(c));
    }
    for (int r = 0; r < MR; r++) {
        LLVMValueRef s = LLVMBuildLoad2(c->b, c->t_real, at(c, arow[r], ai), "a");
        LLVMValueRef splat = LLVMBuildInsertElement(c->b, LLVMGetUndef(vec), s, LLVMConstInt(c->t_i32, 0, 0), "");
        splat = LLVMBuildShuffleVector(c->b, splat, LLVMGetUndef(vec), LLVMConstNull(LLVMVectorType(c->t_i32, (unsigned)VW)), "aa");
        for (int h = 0; h < NV; h++) {
            LLVMValueRef cur = LLVMBuildLoad2(c->b, vec, accp[r][h], "");
            LLVMBuildStore(c->b, cg_vec_fma(c, vec, splat, bv[h], cur), accp[r][h]);
        }
    }
}

/* The microkernel's tile, as k_step takes it. */
typedef struct Tile {
    int MR, NV, bstep, VW;
    LLVMTypeRef vec;
    LLVMValueRef (*accp)[CG_TILE_MAX_NRV];
} Tile;

/* What a tile's k loop reads (cg_matmul_body). */
typedef struct KLoop {
    LLVMValueRef bpanel;  /* op(B)'s panel at the chunk's row 0; b_rows: its rows' pointers */
    bool b_rows;
    bool b_padded;             /* b_rows of an image with padding: some are at its zeros */
    const LLVMValueRef *arow;  /* op(A)'s MR rows at the chunk's column 0 */
    LLVMValueRef astep;        /* op(A)'s next k: astep elements on */
    Tile t;
} KLoop;

/* The microkernel over k in [lo, hi) of the chunk, on the tile's first nv
 * vectors of columns. */
static void k_loop(Cg *c, const KLoop *kl, LLVMValueRef lo, LLVMValueRef hi, int nv)
{
    CgLoop lk = cg_loop_begin(c, lo, hi, "k");
    /* b_rows: row k is where its pointer says (k_step's row 0 of it) */
    LLVMValueRef brow = kl->b_rows ? LLVMBuildLoad2(c->b, c->t_ptr, LLVMBuildGEP2(c->b, c->t_ptr, kl->bpanel, &lk.iv, 1, ""), "b_row")
                                   : kl->bpanel;
    LLVMBasicBlockRef next = NULL;
    if (kl->b_padded) {  /* a row in the padding adds nothing: skipped */
        LLVMBasicBlockRef run = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "b_row_run");
        next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "b_row_next");
        LLVMBuildCondBr(c->b, cg_implicit_b_row_skipped(c, brow, kl->t.NV * kl->t.VW), next, run);  /* the padding's NR */
        LLVMPositionBuilderAtEnd(c->b, run);
    }
    const Tile *t = &kl->t;
    k_step(c, brow, kl->b_rows ? cg_i64(c, 0) : lk.iv, kl->arow, LLVMBuildNSWMul(c->b, lk.iv, kl->astep, "ak"), t->MR, nv,
           t->bstep, t->VW, t->vec, t->accp);
    if (next) {
        LLVMBuildBr(c->b, next);
        LLVMPositionBuilderAtEnd(c->b, next);
    }
    cg_loop_end(c, &lk);
}

/* ---- a causal attention's triangle (ir_mm_tri, passes/triangle.c) ---------------------- */

/* The chunk's k range [lo, hi) (of [0, kn), k0 its first k) where rows
 * i0 .. i0 + MR − 1 of op(A) may be nonzero: all of it but for a
 * triangular op(A).  A skipped term is 0·b, which leaves a sum as it is
 * (x + ±0 = x) but for b an inf or a NaN, or a sum that is −0 (the FMA's
 * rounding of +0 plus a negative product of magnitude at most 2^-150) where 0·b is
 * +0 (tile_mr's comment): the block's rows before its last compute some
 * such terms of their own, so in those edges the rows a block holds
 * (tri_mr) decide the bits.  Rows past M (which read row M − 1) only
 * widen the range. */
static void tri_k_range(Cg *c, int v, LLVMValueRef i0, int MR, LLVMValueRef k0, LLVMValueRef kn, LLVMValueRef *lo,
                        LLVMValueRef *hi)
{
    const IrNode *n = N(c, v);
    LLVMValueRef d = cg_i64(c, ir_mm_tri_offset(n)), zero = cg_i64(c, 0);
    *lo = zero;
    *hi = kn;
    if (ir_mm_tri(n) == IR_MM_TRI_A_LOWER) {  /* row i is 0 past column i + d: the last row's k < i0 + MR + d */
        LLVMValueRef end = LLVMBuildNSWSub(c->b, LLVMBuildNSWAdd(c->b, i0, cg_i64(c, MR + ir_mm_tri_offset(n)), ""), k0, "");
        *hi = cg_imin(c, cg_imax(c, end, zero, ""), kn, "tri_hi");
    } else if (ir_mm_tri(n) == IR_MM_TRI_A_UPPER) {  /* row i is 0 before column i − d: the first row's k >= i0 − d */
        LLVMValueRef start = LLVMBuildNSWSub(c->b, LLVMBuildNSWSub(c->b, i0, d, ""), k0, "");
        *lo = cg_imin(c, cg_imax(c, start, zero, ""), kn, "tri_lo");
    }
}

/* The tile's vectors that reach C's triangle (IR_MM_TRI_C): rows i0 ..
 * i0 + MR − 1 keep columns j <= i + d, j0 .. i0 + MR − 1 + d of the tile's,
 * in that many over VW vectors, between 0 and NV. */
static LLVMValueRef tri_vectors(Cg *c, int v, LLVMValueRef i0, int MR, LLVMValueRef j0, int VW, int NV)
{
    LLVMValueRef cols = LLVMBuildNSWSub(c->b, LLVMBuildNSWAdd(c->b, i0, cg_i64(c, MR + ir_mm_tri_offset(N(c, v))), ""), j0, "");
    cols = cg_imax(c, cols, cg_i64(c, 0), "");
    LLVMValueRef nv = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, cols, cg_i64(c, VW - 1), ""), cg_i64(c, VW), "");
    return cg_imin(c, nv, cg_i64(c, NV), "tri_vectors");
}

/* A value the builder folded to a constant, its operands all constants
 * (LLVM's constant folder folds every add, compare, select and division
 * by a constant other than 0 that tri_k_range and tri_vectors build):
 * false if it did not, which its callers pass on as "unknown" rather than
 * weigh a 0. */
static bool folded(LLVMValueRef x, int64_t *value)
{
    if (!LLVMIsAConstantInt(x))
        return false;
    *value = LLVMConstIntGetSExtValue(x);
    return true;
}

/* The k steps × tile vectors that rows [i0, i0 + mr) of a product with a
 * triangle run, over all panels: tri_k_range's range times, for a C
 * triangle, tri_vectors' count summed over the panels (else every
 * vector), the functions the k loops run by, given constants: the builder
 * folds them and emits no instruction.  Summed over the panels, the
 * vectors that reach the triangle are tri_vectors' count from column 0
 * over one tile as wide as all of them: panel p holds vectors [p·NV,
 * (p + 1)·NV) of that count, each panel's share clamped to [0, NV].  One
 * count a block, not one a panel (a panel each took the compile of a
 * 4096-long causal attention from 0.14 to 2.1 s, session 33's review).
 * -1 if the builder did not fold them (folded). */
static int64_t tri_block_work(Cg *c, int v, const Mm *mm, int64_t i0, int mr)
{
    int VW = tile_width(c), NR = tile_nr(c), NV = NR / VW;
    int64_t panels = (mm->n + NR - 1) / NR;
    LLVMValueRef row = cg_i64(c, i0), lo, hi;
    tri_k_range(c, v, row, mr, cg_i64(c, 0), cg_i64(c, mm->k), &lo, &hi);
    int64_t vectors = panels * NV, k_lo, k_hi;
    if (ir_mm_tri(N(c, v)) == IR_MM_TRI_C && !folded(tri_vectors(c, v, row, mr, cg_i64(c, 0), VW, (int)(panels * NV)), &vectors))
        return -1;
    if (!folded(lo, &k_lo) || !folded(hi, &k_hi))
        return -1;
    return (k_hi - k_lo) * vectors;
}

/* A product with a triangle has blocks of the rows (at most the CPU's MR)
 * that cost least, each block's cost (mr + 2) per k step and vector it
 * runs (tile_mr's weighing, over the work the triangle leaves it).  The
 * GPT's Q·Kᵀ, dO·Vᵀ, P·V and dS·K take 8 rows (of AVX-512's 12): 20
 * vectors of 32, or 288 k steps of 512, where 11 rows ran 17 of 24, or 229
 * of 384, and computed 66 rows for 64; Pᵀ·dO and dSᵀ·Q keep 11.  Those
 * three bodies all at 8 rows (matmul_eff.py, fewest of 3-5 rounds, load
 * 2.7-3.4): 292 samples, at 11: 316 (4 rows: 313, 6: 298, 12: 357).  Which rows
 * share a block changes no bit but in tri_k_range's edges (an inf or NaN, or a
 * −0 sum, where op(A) is 0). */
static int tri_mr(Cg *c, int v, int64_t m)
{
    Mm mm = mm_of(c->g, v);
    int best = c->tune->mr;
    if (mm_known_depth(c, v, &mm) < 0)  /* the weighing needs K */
        return best;
    int64_t cost = -1;
    for (int mr = c->tune->mr; mr >= 1; mr--) {
        int64_t sum = 0;
        for (int64_t i0 = 0; i0 < m; i0 += mr) {
            int64_t work = tri_block_work(c, v, &mm, i0, mr);
            if (work < 0)  /* a block's work unknown: no weighing, the CPU's tile */
                return c->tune->mr;
            sum += (mr + 2) * work;
        }
        if (cost < 0 || sum < cost) {
            best = mr;
            cost = sum;
        }
    }
    return best;
}

/* The tile's k loops: over the k range op(A)'s triangle leaves
 * (tri_k_range), and for a C whose entries outside its triangle are read
 * by nobody (IR_MM_TRI_C), over the vectors that reach the triangle alone,
 * a loop for each count; the others keep their accumulators' 0, which the
 * epilogue stores (the GPT's Q·Kᵀ in blocks of 8 rows: 20 vectors of 32
 * for 64 × 64, tri_mr). */
static void tri_k_loops(Cg *c, int v, const KLoop *kl, LLVMValueRef i0, LLVMValueRef j0, LLVMValueRef k0, LLVMValueRef kn)
{
    int NV = kl->t.NV;
    LLVMValueRef lo, hi;
    tri_k_range(c, v, i0, kl->t.MR, k0, kn, &lo, &hi);
    if (ir_mm_tri(N(c, v)) != IR_MM_TRI_C) {
        k_loop(c, kl, lo, hi, NV);
        return;
    }
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tri_done");
    LLVMValueRef sw = LLVMBuildSwitch(c->b, tri_vectors(c, v, i0, kl->t.MR, j0, kl->t.VW, NV), after, (unsigned)NV);
    for (int w = 1; w <= NV; w++) {
        LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tri_vectors");
        LLVMAddCase(sw, cg_i64(c, w), bb);
        LLVMPositionBuilderAtEnd(c->b, bb);
        k_loop(c, kl, lo, hi, w);
        LLVMBuildBr(c->b, after);
    }
    LLVMPositionBuilderAtEnd(c->b, after);
}

/* k steps [0, kn) of the tile on rows [r0, r1) only */
static void steps_on_rows(Cg *c, LLVMValueRef bpanel, int64_t kn, const LLVMValueRef *arow, int r0, int r1, const Tile *t)
{
    CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, kn), "tc");
    k_step(c, bpanel, lc.iv, arow + r0, lc.iv, r1 - r0, t->NV, t->bstep, t->VW, t->vec, t->accp + r0);
    cg_loop_end(c, &lc);
}

/* One tap's C k steps, rows read as patches in place (trow: each row's
 * pointer for the tap).  A row whose pointer is at the padding's zeros adds
 * nothing (cg_implicit_tap_in_padding), so the tap is skipped when every
 * row's is, and runs without its first or its last row when that row's is:
 * with blocks part of one row of output pixels (cg_implicit_row_block), a
 * tap whose image row is padding is padding for the whole block, and one
 * whose column is, for the block's first or last row only.  In the MNIST
 * CNN's second convolution (blocks of 7 of its 14-wide rows) the rows' case
 * is 4.8% of the forward's and the input gradient's multiply-adds (2 of 42
 * tap rows) and the columns' 4.5% (40/42 · 2/42): 9.3% together. */
static void tap_steps(Cg *c, int v, LLVMValueRef bpanel, const LLVMValueRef *trow, int64_t kn, const Tile *t)
{
    int MR = t->MR;
    if (!cg_implicit_padded(c, v)) {  /* no tap at the zeros: one k loop, not three more that fold away */
        steps_on_rows(c, bpanel, kn, trow, 0, MR, t);
        return;
    }
    LLVMValueRef first = cg_implicit_tap_in_padding(c, v, trow[0]), last = cg_implicit_tap_in_padding(c, v, trow[MR - 1]);
    LLVMValueRef all = LLVMConstInt(c->t_i1, 1, 0);
    for (int r = 0; r < MR; r++)
        all = LLVMBuildAnd(c->b, all, r == 0 ? first : r == MR - 1 ? last : cg_implicit_tap_in_padding(c, v, trow[r]), "");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tap_next");
    /* the first case that holds runs rows [r0, r1); none: every row */
    struct { LLVMValueRef when; int r0, r1; } cases[] = {{all, 0, 0}, {first, 1, MR}, {last, 0, MR - 1}};
    for (int k = 0; k < 3; k++) {
        LLVMBasicBlockRef run = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tap_rows");
        LLVMBasicBlockRef other = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tap_other");
        LLVMBuildCondBr(c->b, cases[k].when, run, other);
        LLVMPositionBuilderAtEnd(c->b, run);
        if (cases[k].r0 < cases[k].r1)
            steps_on_rows(c, bpanel, kn, trow, cases[k].r0, cases[k].r1, t);
        LLVMBuildBr(c->b, next);
        LLVMPositionBuilderAtEnd(c->b, other);
    }
    steps_on_rows(c, bpanel, kn, trow, 0, MR, t);
    LLVMBuildBr(c->b, next);
    LLVMPositionBuilderAtEnd(c->b, next);
}

/* Whether op(B) is read where it is, not packed: B untransposed and exactly
 * one panel wide (n = NR), its own packing (row k at k·NR, k-major), and
 * each matrix one block of rows, so that the packed panel would serve one
 * block and packing would only copy it.  The first convolution's weight
 * gradient, per example [784, 9]ᵀ·[784, 32] (passes/batch_split.c), spent
 * 40% of its time in that copy of the pooling's gradient.  The same values
 * in the same order: the same bits.  Not where many blocks share the panel
 * (the first convolution's forward, rows · W [9, 32]: read in place it took
 * 1.7 times as long as packed once per thread), nor for n = 2·NR and more
 * (a panel's rows n apart in B instead of NR in the packing), except the
 * `lead` products below (lead_b_in_place).  A few blocks
 * do gain: the GPT's attention, P·V and its gradients, is 128 matrices of
 * 64 rows (6 blocks) times V [64, 32] per call, whose copy was a fifth of
 * P·V's kernel; read in place it took 0.89-0.93 of the time (perf samples,
 * fewest of 5 rounds, load average 7). */
enum { FEW_BLOCK_ROWS = 64 };
/* A `lead` product (a weight's gradient over [B, T, ..] rows) reads op(B) =
 * B [L·K, n] in place too, panel p's row k at B[k, p·NR] (the next k n
 * reals on), when B's rows are at most LEAD_ROW_BYTES long and n is whole
 * panels (the last panel's row never reads past B's end).  Its packing was
 * a copy of B from memory at every chunk, on each thread, 10-15% of the
 * kernel, for 11 blocks of rows (M = 128) or 43 (M = 512) to read: the
 * GPT's [128, 128] and [512, 128] weight gradients (n = 128, rows of
 * 512 B) took 0.94-0.97 and 0.89-0.98 of the time read in place (perf
 * samples, fewest of 8-10 rounds, three runs, load average 4-8:
 * bench/matmul_eff.py); its [128, 512] one (rows of 2 KB) 1.05, so it is
 * still packed. */
enum { LEAD_ROW_BYTES = 512 };
static bool lead_b_in_place(Cg *c, int v, const Mm *mm)
{
    return mm->lead && !mm->tb && ir_mm_patches(N(c, v)) == 0 && mm->n % tile_nr(c) == 0
           && mm->n * real_size(c) <= LEAD_ROW_BYTES;
}

static bool b_in_place(Cg *c, int v, const Mm *mm)
{
    if (lead_b_in_place(c, v, mm))
        return true;
    return !mm->tb && ir_mm_patches(N(c, v)) != IR_MM_PATCHES_B && mm->n == tile_nr(c) && !mm->fold && mm->m > 0
           && mm->m <= FEW_BLOCK_ROWS;
}

/* Whether a claim packs all of its panels of a chunk before its items, not
 * each item its own: items that are panels (few_rows_many_panels) of one
 * matrix, op(B) = B [K, n] row-major and copied.  Panel by panel, a row's
 * NR reals were all an item read of it, n apart from the next row's: for
 * the GPT's dense_1 weight gradient, [128, 512] = gᵀ [128, 2048]·h [2048,
 * 512], rows of 2 KB, that copy from memory was 15% of the kernel (perf
 * annotate); a claim's panels side by side are read in runs of up to
 * pack_group·NR reals (pack_rows), all of a chunk's rows on one thread.
 * With the prefetch (prefetch_rows) the kernel took 0.96-0.99 of the
 * session's start's samples in four runs (one thread, fewest of 4-8
 * rounds, load 2-4; the MNIST MLP's weight gradient 0.99, the MNIST CNN's
 * dense layer's products 0.95 and 0.96).  The same panels hold the same
 * reals: the same bits. */
static bool claim_packs_panels(Cg *c, int v, const Mm *mm)
{
    return items_are_panels(c, v, mm) && !ir_mm_patches(N(c, v)) && !mm->tb && !b_in_place(c, v, mm);
}

/* Packs all of op(B) = Wᵀ, every chunk of K into its slot (slot_reals
 * apart) and every one of its panels, for a product that keeps its packing
 * (cg_matmul_keeps_packing): the same reals where the per-call packing
 * puts them. */
static void pack_kept(Cg *c, int v, const Mm *mm, LLVMValueRef K, LLVMValueRef kc, LLVMValueRef chunks,
                      int64_t panels, LLVMValueRef slot_reals, LLVMValueRef packB)
{
    CgLoop ch = cg_loop_begin(c, cg_i64(c, 0), chunks, "kept_chunk");
    LLVMValueRef k0 = LLVMBuildNSWMul(c->b, ch.iv, kc, "k0");
    LLVMValueRef kn = cg_imin(c, kc, LLVMBuildNSWSub(c->b, K, k0, ""), "");
    pack_transposed(c, v, mm, operand_offset(c, v, 1, cg_i64(c, 0)), k0, kn, cg_i64(c, 0), cg_i64(c, panels),
                    at(c, packB, LLVMBuildNSWMul(c->b, ch.iv, slot_reals, "")));
    cg_loop_end(c, &ch);
}

/* What the parts of cg_matmul_body share: the product, its register tile,
 * its chunks of K and where op(B) is packed. */
typedef struct Body {
    int v, a, b;               /* C, A, B */
    Mm mm;
    int VW, NR, MR, NV;        /* the register tile (tile_mr, tile_nr) */
    LLVMTypeRef vec;
    unsigned align;
    LLVMValueRef K, M, Nn;     /* K, C's rows per matrix, its columns */
    int64_t panels;            /* of NR columns */
    LLVMValueRef blocks;       /* of MR rows, per matrix */
    bool one_chunk;            /* K known and within one chunk: no partial sums */
    LLVMValueRef kc, chunks;
    bool taps;                 /* A's rows read as patches in place, tap by tap */
    int64_t ntaps, tapc, kcap;
    LLVMValueRef tile;         /* the tile's buffer, MR × NR */
    LLVMValueRef apack, trows; /* A's rows as patches: copied here; in place: a pointer per row and tap */
    bool b_rows;               /* op(B)'s panels read as patches: a pointer per row */
    bool by_panel, by_tile;    /* items_are_panels, items_are_tiles */
    /* the packing of op(B) (body_scratch) */
    bool direct, kept, claim_packs;
    LLVMValueRef keep, slot_reals, tags, packB;
    LLVMBasicBlockRef skip;    /* past the chunks, when there is no scratch memory */
    Epi epi;
} Body;

/* One chunk of K: its first k and depth, and the slot its op(B) is packed in. */
typedef struct Chunk {
    CgLoop loop;
    LLVMValueRef k0, kn;
    LLVMValueRef first, last;        /* the first chunk, the last */
    LLVMValueRef tag_mat, tag_chunk; /* the slot's tags: the item (or matrix) and chunk packed there */
    LLVMValueRef packB;              /* the slot */
} Chunk;

/* One item: a block of MR rows of a matrix, or a panel (by_panel), or a
 * block of a panel (by_tile). */
typedef struct Item {
    CgLoop loop;
    LLVMValueRef mat;          /* its matrix */
    LLVMValueRef p_lo, p_hi;   /* its panels */
    LLVMValueRef tag_key;      /* what the slot's tag names: the panel's item or the matrix */
    LLVMValueRef a0, b0;       /* the matrix's offsets in A and B */
} Item;

/* One tile of C: rows i0 .. i0 + MR − 1 (rows_here of them inside C),
 * columns j0 .. j0 + NR − 1 (cols of them) */
typedef struct TileAt {
    LLVMValueRef i0, rows_here, row0, cwidth;  /* row0: C's row of i0, over all matrices */
    LLVMValueRef j0, cols;
    LLVMValueRef whole;                        /* rows_here = MR and cols = NR */
    LLVMValueRef accp[CG_TILE_MAX_MR][CG_TILE_MAX_NRV];
} TileAt;

/* The product's sizes, its chunks of K, the tile's buffer and how A's
 * rows are read. */
static void body_begin(Cg *c, int v, Body *B)
{
    const IrNode *n = N(c, v);
    B->v = v, B->a = n->in[0], B->b = n->in[1];
    B->mm = mm_of(c->g, v);
    B->VW = tile_width(c), B->NR = tile_nr(c), B->MR = tile_mr(c, v), B->NV = B->NR / B->VW;
    B->vec = LLVMVectorType(c->t_real, (unsigned)B->VW);
    B->K = mm_depth(c, v, &B->mm);
    B->M = mm_rows(c, v, &B->mm), B->Nn = cg_i64(c, B->mm.n);  /* M is the batch for x·Wᵀ */
    B->panels = (B->mm.n + B->NR - 1) / B->NR;
}

/* After the direct ways (few rows, tiny products) are out of the way. */
static void body_tiled(Cg *c, Body *B)
{
    int v = B->v, MR = B->MR, NR = B->NR;
    const IrNode *n = N(c, v);
    epi_begin(c, v, &B->epi);
    B->blocks = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, B->M, cg_i64(c, MR - 1), ""), cg_i64(c, MR), "");
    /* K known and within one chunk: no partial sums to resume or to keep,
     * so neither path is generated (LLVM would fold them away, but only
     * after optimizing and vectorizing their loops: compile time).  Rows
     * read as patches are one chunk up to PATCH_ROWS_KC deep, or deeper
     * while op(B) packed fits (one_chunk_below): they are then
     * read in place tap by tap (below), instead of copied element by element
     * with a division per element for its tap (the CNN's input gradient as
     * a convolution, K = 9 × 64 = 576, was 6 times slower in chunks). */
    int64_t known_k = mm_known_depth(c, v, &B->mm);
    B->one_chunk = one_known_chunk(c, v, known_k);
    /* Rows read as patches in one chunk are read in place, tap by tap: for
     * each tap, each row's C channels are contiguous in the image (or are
     * zeros: the padding), so the microkernel broadcasts them from there
     * with a pointer per row and tap (cg_implicit_tap_rows), k = tap·C + c
     * in the same order.  Copying the rows first (cg_implicit_pack_a) was
     * 10-16% of the CNN's second convolution and of its input gradient.
     * At most TAP_ROWS_MAX taps: the pointers are on the stack (MR per tap;
     * 32 KB at most, half of the copy's largest), more (a kernel of 17×17 and
     * up) are copied. */
    B->taps = taps_in_place(c, v, known_k);
    B->ntaps = B->taps ? cg_implicit_taps(c, v) : 0, B->tapc = B->taps ? cg_implicit_channels(c, v) : 0;
    B->chunks = cg_i64(c, 1), B->kc = B->K;
    if (!B->one_chunk)
        B->kc = chunk_depth(c, B->K, &B->chunks);
    B->tile = cg_alloca(c, c->t_real, cg_i64(c, MR * NR), "tile");
    /* A read as patches (cg_implicit.c), deeper than one chunk: its MR rows
     * of a chunk copied here (K is fixed then; chunks are shorter than
     * 1.5 times the CPU's kc); in one chunk, where each row's taps start */
    B->kcap = B->one_chunk ? B->mm.k : chunk_most(c);
    B->apack = ir_mm_patches(n) == IR_MM_PATCHES_A && !B->taps ? cg_alloca(c, c->t_real, cg_i64(c, MR * B->kcap), "apack")
                                                                : NULL;
    B->trows = B->taps ? cg_alloca(c, c->t_ptr, cg_i64(c, B->ntaps * MR), "tap_rows") : NULL;
    if (B->apack)
        LLVMSetAlignment(B->apack, 64);
    B->align = real_size(c);
    /* op(B) read as patches, each panel one tap's NR channels: the "packing"
     * is a pointer per row of the panel, into the image (or at zeros), and
     * the microkernel loads the row from there.  Copying the rows was 16% of
     * the MNIST CNN's second convolution's weight gradient (K = 12544
     * pixels at batch 64, 14.4 MB of patches copied a step).  The same
     * reals in the same order: the same bits. */
    B->b_rows = ir_mm_patches(n) == IR_MM_PATCHES_B && cg_implicit_b_rows_fit(c, v, NR);
    B->by_panel = items_are_panels(c, v, &B->mm), B->by_tile = items_are_tiles(c, v, &B->mm);
}

/* The packing buffers, in this thread's scratch memory (rt_task_scratch):
 *   [0, 64)        the number of the call that last wrote the tags
 *   tags           per slot: the matrix and chunk packed in it (i64 × 2)
 *   packB          `slots` slots of kc × panels × NR reals
 * One slot per chunk of K when they all fit in keep_packed_bytes: then a
 * thread packs each chunk of op(B) once per call, however many claims
 * it runs; else one slot, packed again for each chunk.  Tags written by
 * an earlier call (or another kernel) are forgotten at the first claim.
 * A product that reads op(B) in place (b_in_place) packs nothing: its
 * slots are empty (the GPT's [128, 128] weight gradients asked for
 * chunks · kc · 128 reals a thread they never touched).
 * A product of a library's forward that keeps its packing
 * (cg_matmul_keeps_packing) has memory of its own, kept across calls
 * (rt_kept_scratch: the region of its weight, found by W's address, so
 * that products reading one W share it), a slot per chunk and no tags,
 * whose header holds the version of the weights packed there
 * (RtCtx.weights) in place of a call number: when it is not the
 * instance's, the first claim packs all of op(B), and no claim packs
 * anything.  On a worker thread, when nothing counts versions, or past
 * the runtime's budget for kept regions, the memory is the thread's
 * scratch and the number the call's: op(B) is packed whole once per call.
 * (keeps_packing implies x·Wᵀ, which b_in_place never reads in place.) */
static void body_scratch(Cg *c, Body *B)
{
    int v = B->v;
    B->direct = b_in_place(c, v, &B->mm);
    B->kept = c->keep_across_calls && cg_matmul_keeps_packing(c->g, c->plan, v);
    B->slot_reals = B->direct ? cg_i64(c, 0) : LLVMBuildNSWMul(c->b, B->kc, cg_i64(c, B->panels * B->NR), "slot_reals");
    LLVMValueRef slot_bytes = LLVMBuildNSWMul(c->b, B->slot_reals, cg_i64(c, real_size(c)), "");
    LLVMValueRef keep = LLVMBuildICmp(c->b, LLVMIntSLE, LLVMBuildNSWMul(c->b, B->chunks, slot_bytes, ""),
                                      cg_i64(c, c->tune->keep_packed_bytes), "keep");
    keep = LLVMBuildAnd(c->b, keep, LLVMBuildNot(c->b, whole_call(c, v), ""), "keep");
    /* a claim that packs its own panels never reads the tags: one slot,
     * written again chunk after chunk, not a fresh one per chunk */
    B->claim_packs = !B->kept && claim_packs_panels(c, v, &B->mm);
    if (B->claim_packs || B->kept)
        keep = LLVMConstInt(c->t_i1, B->kept, 0);
    B->keep = keep;
    LLVMValueRef slots = LLVMBuildSelect(c->b, keep, B->chunks, cg_i64(c, 1), "slots");
    LLVMValueRef tag_bytes = B->kept ? cg_i64(c, 0)  /* nothing reads them */
                                     : LLVMBuildAnd(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, slots, cg_i64(c, 16), ""), cg_i64(c, 63), ""),
                                                    cg_i64(c, ~(int64_t)63), "");
    LLVMValueRef packB_at = LLVMBuildNSWAdd(c->b, cg_i64(c, CG_SCRATCH_HEADER), tag_bytes, "");
    LLVMValueRef scratch_bytes = LLVMBuildNSWAdd(c->b, packB_at, LLVMBuildNSWMul(c->b, slots, slot_bytes, ""), "");
    LLVMValueRef call_p = cg_alloca(c, c->t_i64, NULL, "call");
    B->skip = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "no_scratch");
    LLVMValueRef buf = B->kept ? cg_kept_scratch(c, cg_elem_ptr(c, B->b, operand_offset(c, v, 1, cg_i64(c, 0))), scratch_bytes, call_p, B->skip)
                               : cg_task_scratch(c, scratch_bytes, call_p, B->skip);
    B->tags = byte_at(c, buf, cg_i64(c, CG_SCRATCH_HEADER));
    B->packB = byte_at(c, buf, packB_at);

    LLVMValueRef call = LLVMBuildLoad2(c->b, c->t_i64, call_p, "callno");
    LLVMValueRef stale = LLVMBuildICmp(c->b, LLVMIntNE, LLVMBuildLoad2(c->b, c->t_i64, buf, "tagged"), call, "stale");
    LLVMBasicBlockRef forget = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "forget_tags");
    LLVMBasicBlockRef tagged = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tags_ok");
    LLVMBuildCondBr(c->b, stale, forget, tagged);
    LLVMPositionBuilderAtEnd(c->b, forget);
    LLVMBuildStore(c->b, call, buf);
    if (B->kept) {
        pack_kept(c, v, &B->mm, B->K, B->kc, B->chunks, B->panels, B->slot_reals, B->packB);
    } else {
        CgLoop ls = cg_loop_begin(c, cg_i64(c, 0), slots, "slot");
        LLVMValueRef ti = LLVMBuildNSWMul(c->b, ls.iv, cg_i64(c, 2), "");
        LLVMBuildStore(c->b, cg_i64(c, -1), LLVMBuildGEP2(c->b, c->t_i64, B->tags, &ti, 1, ""));
        cg_loop_end(c, &ls);
    }
    LLVMBuildBr(c->b, tagged);
    LLVMPositionBuilderAtEnd(c->b, tagged);
}

/* K in chunks of kc, outermost: the packed chunk of op(B) stays in L2
 * while this thread's blocks of rows go over it.  Between chunks the
 * partial sums wait in C itself and come back as the accumulators'
 * starting values, so every element adds its k terms in order, exactly
 * as without chunks; the epilogue runs after the last chunk. */
static void chunk_begin(Cg *c, const Body *B, Chunk *ch)
{
    ch->loop = cg_loop_begin(c, cg_i64(c, 0), B->chunks, "kchunk");
    LLVMValueRef iv = ch->loop.iv;
    ch->k0 = LLVMBuildNSWMul(c->b, iv, B->kc, "k0");
    ch->kn = cg_imin(c, B->kc, LLVMBuildNSWSub(c->b, B->K, ch->k0, ""), "");
    ch->first = LLVMBuildICmp(c->b, LLVMIntEQ, iv, cg_i64(c, 0), "first");
    ch->last = LLVMBuildICmp(c->b, LLVMIntEQ, iv, LLVMBuildNSWSub(c->b, B->chunks, cg_i64(c, 1), ""), "lastk");
    LLVMValueRef slot = LLVMBuildSelect(c->b, B->keep, iv, cg_i64(c, 0), "slot");
    LLVMValueRef tag_i = LLVMBuildNSWMul(c->b, slot, cg_i64(c, 2), "");
    ch->tag_mat = LLVMBuildGEP2(c->b, c->t_i64, B->tags, &tag_i, 1, "tag_mat");
    LLVMValueRef tag_i1 = LLVMBuildNSWAdd(c->b, tag_i, cg_i64(c, 1), "");
    ch->tag_chunk = LLVMBuildGEP2(c->b, c->t_i64, B->tags, &tag_i1, 1, "tag_chunk");
    ch->packB = at(c, B->packB, LLVMBuildNSWMul(c->b, slot, B->slot_reals, ""));  /* this chunk's slot */
}

/* Whether this claim's panels of the chunk are packed now, all of them
 * before its items (claim_packs_panels): an i1. */
static LLVMValueRef claim_pack(Cg *c, const Body *B, const Chunk *ch)
{
    if (!B->claim_packs)
        return LLVMConstInt(c->t_i1, 0, 0);
    LLVMValueRef begin = c->begin_arg, end = c->end_arg;
    LLVMValueRef bytes = LLVMBuildNSWMul(c->b, LLVMBuildNSWMul(c->b, LLVMBuildNSWSub(c->b, end, begin, ""), ch->kn, ""),
                                         cg_i64(c, B->NR * (int64_t)real_size(c)), "claim_bytes");
    LLVMValueRef packed = LLVMBuildICmp(c->b, LLVMIntSLE, bytes, cg_i64(c, c->tune->claim_pack_bytes), "claim_packed");
    LLVMBasicBlockRef all = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "pack_claim");
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "claim_ready");
    LLVMBuildCondBr(c->b, packed, all, after);
    LLVMPositionBuilderAtEnd(c->b, all);
    pack_rows(c, B->b, operand_offset(c, B->v, 1, cg_i64(c, 0)), ch->k0, ch->kn, B->mm.n, begin, end, ch->packB);
    LLVMBuildBr(c->b, after);
    LLVMPositionBuilderAtEnd(c->b, after);
    return packed;
}

/* The item's panels [p_lo, p_hi): all, or its own (items_are_panels:
 * then the slot's tag names the panel too, and the item goes over all
 * of the matrix's row blocks, or over one: items_are_tiles). */
static void item_begin(Cg *c, const Body *B, Item *it)
{
    it->loop = cg_loop_begin(c, c->begin_arg, c->end_arg, "block");
    LLVMValueRef per_mat = B->by_panel ? cg_i64(c, B->panels) : B->blocks;
    LLVMValueRef pitem = B->by_tile ? LLVMBuildSDiv(c->b, it->loop.iv, B->blocks, "panel_item") : it->loop.iv;  /* mat·panels + panel */
    it->mat = LLVMBuildSDiv(c->b, pitem, per_mat, "mat");
    it->p_lo = B->by_panel ? LLVMBuildSRem(c->b, pitem, per_mat, "p_lo") : cg_i64(c, 0);
    it->p_hi = B->by_panel ? LLVMBuildNSWAdd(c->b, it->p_lo, cg_i64(c, 1), "p_hi") : cg_i64(c, B->panels);
    it->tag_key = B->by_panel ? pitem : it->mat;
    it->a0 = operand_offset(c, B->v, 0, it->mat), it->b0 = operand_offset(c, B->v, 1, it->mat);
}

/* Packs this chunk of op(B) into panels unless the slot holds it already
 * (or op(B) is read where it is: b_in_place, lead_b_in_place; or the
 * claim's panels are packed: claim_packs_panels; or all of it is, and
 * kept: cg_matmul_keeps_packing). */
static void item_pack(Cg *c, const Body *B, const Chunk *ch, const Item *it, LLVMValueRef claim_packed)
{
    const IrNode *n = N(c, B->v);
    LLVMValueRef changed =
        B->direct || B->kept ? LLVMConstInt(c->t_i1, 0, 0)
               : LLVMBuildOr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, it->tag_key, LLVMBuildLoad2(c->b, c->t_i64, ch->tag_mat, ""), ""),
                             LLVMBuildICmp(c->b, LLVMIntNE, ch->loop.iv, LLVMBuildLoad2(c->b, c->t_i64, ch->tag_chunk, ""), ""), "");
    changed = LLVMBuildAnd(c->b, changed, LLVMBuildNot(c->b, claim_packed, ""), "");
    LLVMBasicBlockRef pack = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "packB");
    LLVMBasicBlockRef packed = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "packedB");
    LLVMBuildCondBr(c->b, changed, pack, packed);
    LLVMPositionBuilderAtEnd(c->b, pack);
    LLVMBuildStore(c->b, it->tag_key, ch->tag_mat);
    LLVMBuildStore(c->b, ch->loop.iv, ch->tag_chunk);
    if (B->b_rows) {
        cg_implicit_b_rows(c, B->v, ch->k0, ch->kn, B->mm.n, it->p_lo, it->p_hi, B->NR, ch->packB);
    } else if (ir_mm_patches(n) == IR_MM_PATCHES_B) {
        cg_implicit_pack_b(c, B->v, ch->k0, ch->kn, B->mm.n, it->p_lo, it->p_hi, B->NR, B->VW, ch->packB);
    } else if (B->mm.tb) {
        pack_transposed(c, B->v, &B->mm, it->b0, ch->k0, ch->kn, it->p_lo, it->p_hi, ch->packB);
    } else {
        pack_rows(c, B->b, it->b0, ch->k0, ch->kn, B->mm.n, it->p_lo, it->p_hi, ch->packB);
    }
    LLVMBuildBr(c->b, packed);
    LLVMPositionBuilderAtEnd(c->b, packed);
}

/* op(A)'s MR rows of this chunk are read where they are, one element
 * per row and k broadcast by the microkernel: packing them (k-major,
 * MR apart) became scatters when LLVM vectorized the copy, and cost
 * 20% of the CNN's conv matmul, whose N = 64 gives the packed rows only
 * two panels to serve.  A row past M reads row M - 1 instead (memory
 * that exists); its sums are never stored.  arow[r]: row r at k0; the
 * next k is astep elements on (1, or M when A is transposed).  Then the
 * tile's rows in C. */
static void rows_begin(Cg *c, const Body *B, const Chunk *ch, const Item *it, TileAt *t, LLVMValueRef *arow)
{
    const IrNode *n = N(c, B->v);
    int MR = B->MR;
    if (ir_mm_patches(n) == IR_MM_PATCHES_A) {
        /* rows read as patches: copied from the image, row r at r·kcap; read
         * in place (taps), a pointer per row and tap instead, set in the k loop */
        if (!B->taps)
            for (int r = 0; r < MR; r++)
                arow[r] = at(c, B->apack, cg_i64(c, r * B->kcap));
    } else
        for (int r = 0; r < MR; r++) {
            LLVMValueRef ii = cg_imin(c, LLVMBuildNSWAdd(c->b, t->i0, cg_i64(c, r), ""), LLVMBuildNSWSub(c->b, B->M, cg_i64(c, 1), ""), "");
            LLVMValueRef src = B->mm.ta ? LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, ch->k0, B->M, ""), ii, "")
                                        : LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, ii, B->K, ""), ch->k0, "");
            arow[r] = cg_elem_ptr(c, B->a, LLVMBuildNSWAdd(c->b, it->a0, src, ""));
        }

    if (B->taps)
        cg_implicit_tap_rows(c, B->v, t->i0, B->M, MR, B->trows);
    else if (ir_mm_patches(n) == IR_MM_PATCHES_A)
        cg_implicit_pack_a(c, B->v, t->i0, B->M, MR, ch->k0, ch->kn, B->kcap, B->apack);
    t->rows_here = cg_imin(c, cg_i64(c, MR), LLVMBuildNSWSub(c->b, B->M, t->i0, ""), "");
    t->row0 = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, it->mat, B->M, ""), t->i0, "row0");  /* C's row index */
    const IrShape *cs = &n->shape;
    t->cwidth = cg_i64(c, cs->dim[cs->rank - 1]);
}

/* C's element offset of the tile's row r, at its first column */
static LLVMValueRef tile_row(Cg *c, const TileAt *t, int r)
{
    return LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, t->row0, cg_i64(c, r), ""), t->cwidth, ""), t->j0, "");
}

/* The accumulators start at 0, or at the partial sums of the chunks
 * before: a whole tile's straight from C, vector by vector; a tile cut
 * by M or N through the tile buffer (zero, then the elements there are).
 * (Zeroing the buffer for every tile was a 1.5 KB memset call per tile
 * and chunk: 4% of the GPT's step.) */
static void tile_begin(Cg *c, const Body *B, const Chunk *ch, TileAt *t)
{
    int MR = B->MR, NR = B->NR, NV = B->NV, VW = B->VW;
    for (int r = 0; r < MR; r++)
        for (int h = 0; h < NV; h++) {
            t->accp[r][h] = cg_alloca(c, B->vec, NULL, "acc");
            LLVMBuildStore(c->b, LLVMConstNull(B->vec), t->accp[r][h]);
        }
    t->whole = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, t->rows_here, cg_i64(c, MR), ""),
                            LLVMBuildICmp(c->b, LLVMIntEQ, t->cols, cg_i64(c, NR), ""), "whole");
    if (B->one_chunk)
        return;
    LLVMBasicBlockRef resume = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "resume");
    LLVMBasicBlockRef rwhole = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "resume_whole");
    LLVMBasicBlockRef rcut = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "resume_cut");
    LLVMBasicBlockRef fresh = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "fresh");
    LLVMBuildCondBr(c->b, ch->first, fresh, resume);
    LLVMPositionBuilderAtEnd(c->b, resume);
    LLVMBuildCondBr(c->b, t->whole, rwhole, rcut);
    LLVMPositionBuilderAtEnd(c->b, rwhole);
    for (int r = 0; r < MR; r++) {
        LLVMValueRef crow = tile_row(c, t, r);
        for (int h = 0; h < NV; h++) {
            LLVMValueRef y = LLVMBuildLoad2(c->b, B->vec, cg_elem_ptr(c, B->v, LLVMBuildNSWAdd(c->b, crow, cg_i64(c, h * VW), "")), "");
            LLVMSetAlignment(y, B->align);
            LLVMBuildStore(c->b, y, t->accp[r][h]);
        }
    }
    LLVMBuildBr(c->b, fresh);
    LLVMPositionBuilderAtEnd(c->b, rcut);
    for (int q = 0; q < MR * NR; q += VW)
        LLVMSetAlignment(LLVMBuildStore(c->b, LLVMConstNull(B->vec), at(c, B->tile, cg_i64(c, q))), B->align);
    CgLoop lr = cg_loop_begin(c, cg_i64(c, 0), t->rows_here, "rr");
    LLVMValueRef crow = LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, t->row0, lr.iv, ""), t->cwidth, "");
    CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), t->cols, "rc");
    LLVMValueRef y = cg_load(c, B->v, LLVMBuildNSWAdd(c->b, crow, LLVMBuildNSWAdd(c->b, t->j0, lc.iv, ""), ""));
    LLVMBuildStore(c->b, y, at(c, B->tile, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lr.iv, cg_i64(c, NR), ""), lc.iv, "")));
    cg_loop_end(c, &lc);
    cg_loop_end(c, &lr);
    for (int r = 0; r < MR; r++)
        for (int h = 0; h < NV; h++) {
            LLVMValueRef t0 = LLVMBuildLoad2(c->b, B->vec, at(c, B->tile, cg_i64(c, r * NR + h * VW)), "");
            LLVMSetAlignment(t0, B->align);
            LLVMBuildStore(c->b, t0, t->accp[r][h]);
        }
    LLVMBuildBr(c->b, fresh);
    LLVMPositionBuilderAtEnd(c->b, fresh);
}

/* The microkernel: the chunk's k terms into the MR × NV vector accumulators. */
static void tile_products(Cg *c, const Body *B, const Chunk *ch, const Item *it, LLVMValueRef panel, TileAt *t,
                          const LLVMValueRef *arow)
{
    int MR = B->MR, NV = B->NV, VW = B->VW;
    int bstep = B->direct ? (int)B->mm.n : B->NR;  /* op(B)'s row k at bpanel + k·bstep */
    LLVMValueRef bpanel =
        B->direct ? cg_elem_ptr(c, B->b, LLVMBuildNSWAdd(c->b, it->b0, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, ch->k0, B->Nn, ""), t->j0, ""), ""))
        : B->b_rows ? LLVMBuildGEP2(c->b, c->t_ptr, ch->packB, (LLVMValueRef[]){LLVMBuildNSWMul(c->b, panel, ch->kn, "")}, 1, "b_rows")
                    : at(c, ch->packB, LLVMBuildNSWMul(c->b, LLVMBuildNSWMul(c->b, panel, ch->kn, ""), cg_i64(c, B->NR), ""));
    if (B->taps) {  /* k = tap·C + c: per tap, each row's pointer, then C steps */
        CgLoop lt = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, B->ntaps), "tap");
        LLVMValueRef trow[CG_TILE_MAX_MR];
        for (int r = 0; r < MR; r++) {
            LLVMValueRef ts = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lt.iv, cg_i64(c, MR), ""), cg_i64(c, r), "");
            trow[r] = LLVMBuildLoad2(c->b, c->t_ptr, LLVMBuildGEP2(c->b, c->t_ptr, B->trows, &ts, 1, ""), "trow");
        }
        LLVMValueRef tb = at(c, bpanel, LLVMBuildNSWMul(c->b, lt.iv, cg_i64(c, B->tapc * bstep), ""));
        Tile tile_at = {MR, NV, bstep, VW, B->vec, t->accp};
        tap_steps(c, B->v, tb, trow, B->tapc, &tile_at);
        cg_loop_end(c, &lt);
    } else {
        LLVMValueRef astep = B->mm.ta ? B->M : cg_i64(c, 1);
        KLoop kl = {bpanel, B->b_rows, B->b_rows && cg_implicit_padded(c, B->v), arow, astep, {MR, NV, bstep, VW, B->vec, t->accp}};
        tri_k_loops(c, B->v, &kl, t->i0, t->j0, ch->k0, ch->kn);
    }
}

/* After the last chunk, the tile → C through the epilogue; before it, the
 * partial sums as they are. */
static void tile_end(Cg *c, Body *B, const Chunk *ch, TileAt *t)
{
    int MR = B->MR, NR = B->NR, NV = B->NV, VW = B->VW, v = B->v;
    LLVMBasicBlockRef epi_bb = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "epilogue");
    LLVMBasicBlockRef partial_bb = B->one_chunk ? NULL : LLVMAppendBasicBlockInContext(c->ctx, c->fn, "partial");
    LLVMBasicBlockRef stored = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "stored");
    if (B->one_chunk)
        LLVMBuildBr(c->b, epi_bb);
    else
        LLVMBuildCondBr(c->b, ch->last, epi_bb, partial_bb);
    LLVMPositionBuilderAtEnd(c->b, epi_bb);
    tile_store(c, t->accp, MR, NV, B->tile, B->vec);
    /* Written over an old value (cg_inplace.c) when C is that value's
     * bytes: then the epilogue reads it through C's pointer, so that LLVM
     * vectorizes the loop as it does for distinct buffers (with two
     * pointers that may alias, its run-time check finds them overlapping
     * and takes the scalar loop: the MLP's step took 1.28 times the CPU) */
    int over = over_operand(c, v);
    for (int version = over >= 0 ? 0 : 1; version < 2; version++) {
        LLVMBasicBlockRef other = NULL;
        if (version == 0) {  /* C is the old value's bytes: read it through C */
            LLVMBasicBlockRef same = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "epilogue_in_place");
            other = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "epilogue_apart");
            LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, cg_base(c, v), cg_base(c, c->inplace[v]), "in_place"),
                            same, other);
            LLVMPositionBuilderAtEnd(c->b, same);
        }
        B->epi.over = version == 0 ? over : -1;
        CgLoop lr = cg_loop_begin(c, cg_i64(c, 0), t->rows_here, "r");
        LLVMValueRef crow = LLVMBuildNSWAdd(c->b, t->row0, lr.iv, "crow");
        epi_row(c, v, &B->epi, crow);
        CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), t->cols, "cc");
        LLVMValueRef y = LLVMBuildLoad2(c->b, c->t_real, at(c, B->tile, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lr.iv, cg_i64(c, NR), ""), lc.iv, "")), "y");
        LLVMValueRef j = LLVMBuildNSWAdd(c->b, t->j0, lc.iv, "j");
        epi_store(c, v, &B->epi, crow, j, y);
        cg_loop_end(c, &lc);
        cg_loop_end(c, &lr);
        LLVMBuildBr(c->b, stored);
        if (other)
            LLVMPositionBuilderAtEnd(c->b, other);
    }
    if (!B->one_chunk) {
        /* the partial sums into C: a whole tile vector by vector, a cut one through the buffer */
        LLVMPositionBuilderAtEnd(c->b, partial_bb);
        LLVMBasicBlockRef pwhole = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "partial_whole");
        LLVMBasicBlockRef pcut = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "partial_cut");
        LLVMBuildCondBr(c->b, t->whole, pwhole, pcut);
        LLVMPositionBuilderAtEnd(c->b, pwhole);
        for (int r = 0; r < MR; r++) {
            LLVMValueRef crow = tile_row(c, t, r);
            for (int h = 0; h < NV; h++) {
                LLVMValueRef y = LLVMBuildLoad2(c->b, B->vec, t->accp[r][h], "");
                LLVMSetAlignment(LLVMBuildStore(c->b, y, cg_elem_ptr(c, v, LLVMBuildNSWAdd(c->b, crow, cg_i64(c, h * VW), ""))), B->align);
            }
        }
        LLVMBuildBr(c->b, stored);
        LLVMPositionBuilderAtEnd(c->b, pcut);
        tile_store(c, t->accp, MR, NV, B->tile, B->vec);
        CgLoop lr = cg_loop_begin(c, cg_i64(c, 0), t->rows_here, "pr");
        LLVMValueRef crow = LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, t->row0, lr.iv, ""), t->cwidth, "");
        CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), t->cols, "pcc");
        LLVMValueRef y = LLVMBuildLoad2(c->b, c->t_real, at(c, B->tile, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lr.iv, cg_i64(c, NR), ""), lc.iv, "")), "y");
        cg_store(c, v, LLVMBuildNSWAdd(c->b, crow, LLVMBuildNSWAdd(c->b, t->j0, lc.iv, ""), ""), y);
        cg_loop_end(c, &lc);
        cg_loop_end(c, &lr);
        LLVMBuildBr(c->b, stored);
    }
    LLVMPositionBuilderAtEnd(c->b, stored);
}

/* The tiled product: chunks of K, outermost; in each, this claim's
 * items, each packing its panels of op(B) if the slot does not hold them;
 * in each item, its blocks of MR rows (one, or all of a panel's), and in
 * each block its panels of NR columns: one tile each. */
static void body_chunks(Cg *c, Body *B)
{
    Chunk ch;
    chunk_begin(c, B, &ch);
    LLVMValueRef claim_packed = claim_pack(c, B, &ch);
    Item it;
    item_begin(c, B, &it);
    item_pack(c, B, &ch, &it, claim_packed);
    CgLoop rblock = {0};
    TileAt t;
    if (B->by_tile) {
        LLVMValueRef only = LLVMBuildSRem(c->b, it.loop.iv, B->blocks, "");
        rblock = cg_loop_begin(c, only, LLVMBuildNSWAdd(c->b, only, cg_i64(c, 1), ""), "rblock");
        t.i0 = LLVMBuildNSWMul(c->b, rblock.iv, cg_i64(c, B->MR), "i0");
    } else if (B->by_panel) {
        rblock = cg_loop_begin(c, cg_i64(c, 0), B->blocks, "rblock");
        t.i0 = LLVMBuildNSWMul(c->b, rblock.iv, cg_i64(c, B->MR), "i0");
    } else {
        t.i0 = LLVMBuildNSWMul(c->b, LLVMBuildSRem(c->b, it.loop.iv, B->blocks, ""), cg_i64(c, B->MR), "i0");
    }
    LLVMValueRef arow[CG_TILE_MAX_MR];
    rows_begin(c, B, &ch, &it, &t, arow);

    CgLoop panel = cg_loop_begin(c, it.p_lo, it.p_hi, "jb");
    t.j0 = LLVMBuildNSWMul(c->b, panel.iv, cg_i64(c, B->NR), "j0");
    t.cols = cg_imin(c, cg_i64(c, B->NR), LLVMBuildNSWSub(c->b, B->Nn, t.j0, ""), "");
    tile_begin(c, B, &ch, &t);
    tile_products(c, B, &ch, &it, panel.iv, &t, arow);
    tile_end(c, B, &ch, &t);
    cg_loop_end(c, &panel);
    if (B->by_panel)
        cg_loop_end(c, &rblock);
    cg_loop_end(c, &it.loop);
    cg_loop_end(c, &ch.loop);
}

void cg_matmul_body(Cg *c, int v)
{
    Body B;
    body_begin(c, v, &B);
    LLVMBasicBlockRef done = NULL;
    if (cg_matmul_few_rows(c->g, v)) {  /* x·Wᵀ: few rows go the direct way */
        LLVMBasicBlockRef few = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "few_rows");
        LLVMBasicBlockRef tiled = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tiled");
        done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "matmul_done");
        LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, B.M, cg_i64(c, FEW_ROWS), ""), few, tiled);
        LLVMPositionBuilderAtEnd(c->b, few);
        call_few_rows(c, v, &B.mm);
        LLVMBuildBr(c->b, done);
        LLVMPositionBuilderAtEnd(c->b, tiled);
    }
    if (tiny_product(c, v, &B.mm)) {
        tiny_body(c, v, &B.mm, B.M, B.K);
    } else {
        body_tiled(c, &B);
        body_scratch(c, &B);
        body_chunks(c, &B);
        LLVMBuildBr(c->b, B.skip);
        LLVMPositionBuilderAtEnd(c->b, B.skip);
        epi_end(&B.epi);
    }
    if (done) {
        LLVMBuildBr(c->b, done);
        LLVMPositionBuilderAtEnd(c->b, done);
    }
}
