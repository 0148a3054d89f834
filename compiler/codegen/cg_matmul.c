/* cg_matmul.c — matrix products with their fused epilogues.
 *
 * C[.., M, N] = op(A)[.., M, K] · op(B)[.., K, N], leading axes broadcast.
 * Two cases become one plain product: a B without leading axes times an
 * untransposed A (x·Wᵀ over [B, T, D]) multiplies all of A's rows as one
 * matrix ("fold"), and a `lead` matmul (a weight's gradient) contracts over
 * the leading axes and K together, A and B viewed as [L·K, M] and [L·K, N].
 *
 * The classic blocked scheme, written with LLVM vector types:
 *   - K is taken in chunks of KC; for each chunk op(B) is packed, once per
 *     matrix, into panels of NR columns, k-major: panel[k·NR + c], zero
 *     beyond N (a weight's gradient contracts over B·T or B·pixels terms:
 *     whole, its packed op(B) would not fit in any cache);
 *   - an item is MR rows of one matrix; they are packed k-major too,
 *     packA[k·MR + r], zero beyond M;
 *   - the microkernel keeps an MR × NR tile of C in MR·NR/VW vector
 *     registers (6 × 32 f32 = 12 zmm on AVX-512) and for each k broadcasts
 *     one element of A per row and does one FMA per register;
 *   - the tile goes to a small buffer, from which the epilogue program
 *     (bias, activation, scale, the optimizer's update) writes C.
 * Every element of C sums its k terms in order, in one item, so the split
 * of items over threads never changes a bit.
 */
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

static const IrNode *N(Cg *c, int v) { return &c->g->nodes[v]; }

typedef struct Mm {
    int64_t m, n;              /* static sizes of C's matrices */
    bool    k_batch;           /* K is the batch (weight gradients) */
    int64_t k;
    bool    ta, tb;
    bool    lead;              /* the leading axes join K */
    bool    fold;              /* all of C's rows are one matrix */
} Mm;

static Mm mm_of(Cg *c, int v)
{
    const IrNode *n = N(c, v);
    const IrShape *a = &N(c, n->in[0])->shape, *b = &N(c, n->in[1])->shape;
    bool ta = n->a.i[0], tb = n->a.i[1];
    int64_t k = a->dim[a->rank - (ta ? 2 : 1)];
    return (Mm){n->shape.dim[n->shape.rank - 2], n->shape.dim[n->shape.rank - 1], k == IR_BATCH, k, ta, tb,
                n->a.i[2] != 0, !ta && b->rank == 2 && n->shape.rank > 2};
}

/* C's rows per matrix: all of them when folded. */
static LLVMValueRef mm_rows(Cg *c, int v, const Mm *mm)
{
    const IrShape *s = &N(c, v)->shape;
    return mm->fold ? cg_elems(c, s, 0, s->rank - 1) : cg_dim(c, mm->m);
}

/* The length of the contraction. */
static LLVMValueRef mm_depth(Cg *c, int v, const Mm *mm)
{
    const IrShape *a = &N(c, N(c, v)->in[0])->shape;
    if (mm->lead)
        return cg_elems(c, a, 0, a->rank - 1);
    return mm->k_batch ? cg_batch(c) : cg_i64(c, mm->k);
}

enum { MR = 6 };    /* rows of the register tile; NR = 2 vectors of columns */
enum { KC = 256 };  /* the contraction in chunks of KC: a chunk of packed op(B) stays in L2 */

static int vector_width(Cg *c) { return c->t_real == c->t_f32 ? 16 : 8; }  /* one zmm */

/* matrices × blocks of MR rows */
LLVMValueRef cg_matmul_extent(Cg *c, int v)
{
    const IrShape *s = &N(c, v)->shape;
    Mm mm = mm_of(c, v);
    LLVMValueRef mats = mm.fold ? cg_i64(c, 1) : cg_elems(c, s, 0, s->rank - 2);
    LLVMValueRef m = mm_rows(c, v, &mm);
    LLVMValueRef blocks = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, m, cg_i64(c, MR - 1), ""), cg_i64(c, MR), "");
    return LLVMBuildNSWMul(c->b, mats, blocks, "items");
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

static LLVMValueRef malloc_reals(Cg *c, LLVMValueRef count)
{
    LLVMTypeRef ft = LLVMFunctionType(c->t_ptr, &c->t_i64, 1, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, "malloc");
    if (!fn)
        fn = LLVMAddFunction(c->mod, "malloc", ft);
    LLVMValueRef bytes = LLVMBuildNSWMul(c->b, count, cg_i64(c, c->t_real == c->t_f32 ? 4 : 8), "");
    return LLVMBuildCall2(c->b, ft, fn, &bytes, 1, "buf");
}

static void free_ptr(Cg *c, LLVMValueRef p)
{
    LLVMTypeRef ft = LLVMFunctionType(c->t_void, &c->t_ptr, 1, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, "free");
    if (!fn)
        fn = LLVMAddFunction(c->mod, "free", ft);
    LLVMBuildCall2(c->b, ft, fn, &p, 1, "");
}

static LLVMValueRef at(Cg *c, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildGEP2(c->b, c->t_real, base, &idx, 1, "");
}


/* min(a, b) for i64 */
static LLVMValueRef imin(Cg *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, a, b, ""), a, b, "");
}

/* ---- the epilogue: C's element from the product y ---------------------------------------- */

/* The extra operands of a fused epilogue (bias, the optimizer's state...):
 * constants, or tensors read at C's (row, column) through broadcast strides. */
typedef struct Epi {
    int           extra;
    LLVMValueRef *scalar;   /* per extra operand: a constant, or NULL */
    CgStrides    *st;
    LLVMValueRef *off, *base;  /* at the current row */
} Epi;

static void epi_begin(Cg *c, int v, Epi *e)
{
    const IrNode *n = N(c, v);
    e->extra = n->op == IR_MATMUL_EPI ? n->nin - 2 : 0;
    e->scalar = calloc((size_t)e->extra + 1, sizeof *e->scalar);
    e->st = calloc((size_t)e->extra + 1, sizeof *e->st);
    e->off = calloc((size_t)e->extra + 1, sizeof *e->off);
    e->base = calloc((size_t)e->extra + 1, sizeof *e->base);
    for (int k = 0; k < e->extra; k++) {
        e->scalar[k] = cg_leaf_scalar(c, n->in[2 + k]);
        if (!e->scalar[k])
            cg_strides(&N(c, n->in[2 + k])->shape, &n->shape, &e->st[k]);
    }
}

/* Where each extra operand's row crow of C starts. */
static void epi_row(Cg *c, int v, Epi *e, LLVMValueRef crow)
{
    const IrNode *n = N(c, v);
    for (int k = 0; k < e->extra; k++)
        if (!e->scalar[k]) {
            e->base[k] = cg_base(c, n->in[2 + k]);
            e->off[k] = cg_offset_of(c, &n->shape, n->shape.rank - 1, &e->st[k], crow);
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
        for (int k = 0; k < e->extra; k++) {
            if (e->scalar[k]) {
                val[1 + k] = e->scalar[k];
                continue;
            }
            int64_t step = e->st[k].stride[n->shape.rank - 1];
            LLVMValueRef idx = step ? LLVMBuildNSWAdd(c->b, e->off[k], j, "") : e->off[k];
            LLVMTypeRef t = cg_type(c, N(c, n->in[2 + k])->type);
            LLVMValueRef xv = LLVMBuildLoad2(c->b, t, LLVMBuildGEP2(c->b, t, e->base[k], &idx, 1, ""), "");
            val[1 + k] = N(c, n->in[2 + k])->type == IR_I32 ? LLVMBuildSIToFP(c->b, xv, c->t_real, "") : xv;
        }
        for (int k = 0; k < p->n; k++) {
            const IrInstr *in = &p->code[k];
            val[p->nin + k] = cg_scalar_op(c, in->op, in->a >= 0 ? val[in->a] : NULL, in->b >= 0 ? val[in->b] : NULL,
                                           in->c >= 0 ? val[in->c] : NULL, in->f);
        }
        y = val[p->nin + p->n - 1];
        free(val);
    }
    const IrShape *s = &n->shape;
    cg_store(c, v, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, crow, cg_i64(c, s->dim[s->rank - 1]), ""), j, ""), y);
}

static void epi_end(Epi *e)
{
    free(e->scalar);
    free(e->st);
    free(e->off);
    free(e->base);
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

/* x·Wᵀ with fewer rows than the register tile (inference of one example):
 * packing W would cost more than the product, so each element is a dot
 * product of two contiguous rows, VW lanes at a time in four accumulators,
 * summed pairwise and then lane by lane at the end.  The order of the k terms differs from the tiled path's,
 * so a row of a small batch may differ from the same row of a large batch
 * in the last bits; the choice depends only on the batch, never on threads.
 * Only prediction graphs take this path (inference_only). */
static void dot_rows(Cg *c, int v, const Mm *mm, LLVMValueRef M, Epi *epi)
{
    const IrNode *n = N(c, v);
    int a = n->in[0], b = n->in[1];
    int VW = vector_width(c);
    LLVMTypeRef vec = LLVMVectorType(c->t_real, (unsigned)VW);
    unsigned align = c->t_real == c->t_f32 ? 4 : 8;
    int64_t K = mm->k, kv = K / VW * VW;
    LLVMTypeRef fma_t[1] = {vec}, one_t[1] = {c->t_real};
    unsigned fma_id = LLVMLookupIntrinsicID("llvm.fma", 8);
    LLVMValueRef vfma = LLVMGetIntrinsicDeclaration(c->mod, fma_id, fma_t, 1);
    LLVMTypeRef vfma_ft = LLVMIntrinsicGetType(c->ctx, fma_id, fma_t, 1);
    LLVMValueRef sfma = LLVMGetIntrinsicDeclaration(c->mod, fma_id, one_t, 1);
    LLVMTypeRef sfma_ft = LLVMIntrinsicGetType(c->ctx, fma_id, one_t, 1);
    /* four accumulators, so that four chains of FMAs overlap */
    enum { ACC = 4 };
    LLVMValueRef accp[ACC], sump = cg_alloca(c, c->t_real, NULL, "dsum");
    for (int q = 0; q < ACC; q++)
        accp[q] = cg_alloca(c, vec, NULL, "dacc");

    CgLoop item = cg_loop_begin(c, c->begin_arg, c->end_arg, "mat");  /* one block per matrix */
    LLVMValueRef a0 = matrix_offset(c, a, &n->shape, item.iv), b0 = matrix_offset(c, b, &n->shape, item.iv);
    CgLoop r = cg_loop_begin(c, cg_i64(c, 0), M, "r");
    LLVMValueRef crow = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, item.iv, M, ""), r.iv, "crow");
    LLVMValueRef arow = LLVMBuildNSWAdd(c->b, a0, LLVMBuildNSWMul(c->b, r.iv, cg_i64(c, K), ""), "arow");
    epi_row(c, v, epi, crow);
    CgLoop j = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, mm->n), "j");
    LLVMValueRef brow = LLVMBuildNSWAdd(c->b, b0, LLVMBuildNSWMul(c->b, j.iv, cg_i64(c, K), ""), "brow");
    for (int q = 0; q < ACC; q++)
        LLVMBuildStore(c->b, LLVMConstNull(vec), accp[q]);
    /* k in steps of ACC vectors, then of one vector (into the first accumulator) */
    int64_t k4 = K / (ACC * VW);
    for (int pass = 0; pass < 2; pass++) {
        int width = pass ? 1 : ACC;
        LLVMValueRef from = cg_i64(c, pass ? k4 * ACC : 0), to = cg_i64(c, pass ? kv / VW : k4 * ACC);
        CgLoop k = cg_loop_begin(c, LLVMBuildSDiv(c->b, from, cg_i64(c, width), ""),
                                 LLVMBuildSDiv(c->b, to, cg_i64(c, width), ""), "kv");
        for (int q = 0; q < width; q++) {
            LLVMValueRef kk = LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, k.iv, cg_i64(c, width), ""),
                                                                    cg_i64(c, q), ""), cg_i64(c, VW), "");
            LLVMValueRef av = LLVMBuildLoad2(c->b, vec, cg_elem_ptr(c, a, LLVMBuildNSWAdd(c->b, arow, kk, "")), "av");
            LLVMValueRef bv = LLVMBuildLoad2(c->b, vec, cg_elem_ptr(c, b, LLVMBuildNSWAdd(c->b, brow, kk, "")), "bv");
            LLVMSetAlignment(av, align);
            LLVMSetAlignment(bv, align);
            LLVMValueRef args[3] = {av, bv, LLVMBuildLoad2(c->b, vec, accp[q], "")};
            LLVMBuildStore(c->b, LLVMBuildCall2(c->b, vfma_ft, vfma, args, 3, ""), accp[q]);
        }
        cg_loop_end(c, &k);
    }
    LLVMValueRef acc = LLVMBuildFAdd(c->b,
        LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, vec, accp[0], ""), LLVMBuildLoad2(c->b, vec, accp[1], ""), ""),
        LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, vec, accp[2], ""), LLVMBuildLoad2(c->b, vec, accp[3], ""), ""), "acc");
    /* the lanes in order, then the k terms left over */
    LLVMValueRef sum = LLVMBuildExtractElement(c->b, acc, LLVMConstInt(c->t_i32, 0, 0), "");
    for (int l = 1; l < VW; l++)
        sum = LLVMBuildFAdd(c->b, sum, LLVMBuildExtractElement(c->b, acc, LLVMConstInt(c->t_i32, (unsigned)l, 0), ""), "");
    LLVMBuildStore(c->b, sum, sump);
    CgLoop t = cg_loop_begin(c, cg_i64(c, kv), cg_i64(c, K), "kt");
    LLVMValueRef x = cg_load(c, a, LLVMBuildNSWAdd(c->b, arow, t.iv, ""));
    LLVMValueRef w = cg_load(c, b, LLVMBuildNSWAdd(c->b, brow, t.iv, ""));
    LLVMValueRef sargs[3] = {x, w, LLVMBuildLoad2(c->b, c->t_real, sump, "")};
    LLVMBuildStore(c->b, LLVMBuildCall2(c->b, sfma_ft, sfma, sargs, 3, ""), sump);
    cg_loop_end(c, &t);
    epi_store(c, v, epi, crow, j.iv, LLVMBuildLoad2(c->b, c->t_real, sump, "y"));
    cg_loop_end(c, &j);
    cg_loop_end(c, &r);
    cg_loop_end(c, &item);
}

void cg_matmul_body(Cg *c, int v)
{
    const IrNode *n = N(c, v);
    Mm mm = mm_of(c, v);
    int a = n->in[0], b = n->in[1];
    int VW = vector_width(c), NR = 2 * VW;
    LLVMTypeRef vec = LLVMVectorType(c->t_real, (unsigned)VW);
    LLVMValueRef begin = c->begin_arg, end = c->end_arg;
    LLVMValueRef K = mm_depth(c, v, &mm);
    LLVMValueRef M = mm_rows(c, v, &mm), Nn = cg_i64(c, mm.n);  /* M is the batch for x·Wᵀ */
    int64_t panels = (mm.n + NR - 1) / NR;
    Epi epi;
    epi_begin(c, v, &epi);
    LLVMBasicBlockRef done = NULL;
    if (mm.tb && !mm.ta && !mm.k_batch && inference_only(c->g)) {  /* x·Wᵀ: few rows go the direct way */
        LLVMBasicBlockRef few = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "few_rows");
        LLVMBasicBlockRef tiled = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "tiled");
        done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "matmul_done");
        LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, M, cg_i64(c, MR), ""), few, tiled);
        LLVMPositionBuilderAtEnd(c->b, few);
        dot_rows(c, v, &mm, M, &epi);
        LLVMBuildBr(c->b, done);
        LLVMPositionBuilderAtEnd(c->b, tiled);
    }
    LLVMValueRef blocks = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, M, cg_i64(c, MR - 1), ""), cg_i64(c, MR), "");
    LLVMValueRef chunks = LLVMBuildSDiv(c->b, LLVMBuildNSWAdd(c->b, K, cg_i64(c, KC - 1), ""), cg_i64(c, KC), "chunks");
    LLVMValueRef packA = malloc_reals(c, cg_i64(c, KC * MR));
    LLVMValueRef packB = malloc_reals(c, cg_i64(c, KC * panels * NR));
    LLVMValueRef tile = cg_alloca(c, c->t_real, cg_i64(c, MR * NR), "tile");
    LLVMValueRef last_mat = cg_alloca(c, c->t_i64, NULL, "last");
    LLVMValueRef zero = cg_real(c, 0);
    unsigned align = c->t_real == c->t_f32 ? 4 : 8;

    /* K in chunks of KC, outermost: the packed chunk of op(B) stays in L2
     * while this thread's blocks of rows go over it.  Between chunks the
     * partial sums wait in C itself and come back as the accumulators'
     * starting values, so every element adds its k terms in order, exactly
     * as without chunks; the epilogue runs after the last chunk. */
    CgLoop chunk = cg_loop_begin(c, cg_i64(c, 0), chunks, "kchunk");
    LLVMValueRef k0 = LLVMBuildNSWMul(c->b, chunk.iv, cg_i64(c, KC), "k0");
    LLVMValueRef kn = imin(c, cg_i64(c, KC), LLVMBuildNSWSub(c->b, K, k0, ""));
    LLVMValueRef first = LLVMBuildICmp(c->b, LLVMIntEQ, chunk.iv, cg_i64(c, 0), "first");
    LLVMValueRef last = LLVMBuildICmp(c->b, LLVMIntEQ, chunk.iv, LLVMBuildNSWSub(c->b, chunks, cg_i64(c, 1), ""), "lastk");
    LLVMBuildStore(c->b, cg_i64(c, -1), last_mat);

    CgLoop item = cg_loop_begin(c, begin, end, "block");
    LLVMValueRef mat = LLVMBuildSDiv(c->b, item.iv, blocks, "mat");
    LLVMValueRef i0 = LLVMBuildNSWMul(c->b, LLVMBuildSRem(c->b, item.iv, blocks, ""), cg_i64(c, MR), "i0");
    LLVMValueRef a0 = matrix_offset(c, a, &n->shape, mat), b0 = matrix_offset(c, b, &n->shape, mat);

    /* pack this chunk of op(B) into panels when the matrix changes */
    LLVMValueRef changed = LLVMBuildICmp(c->b, LLVMIntNE, mat, LLVMBuildLoad2(c->b, c->t_i64, last_mat, ""), "");
    LLVMBasicBlockRef pack = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "packB");
    LLVMBasicBlockRef packed = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "packedB");
    LLVMBuildCondBr(c->b, changed, pack, packed);
    LLVMPositionBuilderAtEnd(c->b, pack);
    LLVMBuildStore(c->b, mat, last_mat);
    {
        CgLoop pp = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, panels), "panel");
        CgLoop pk = cg_loop_begin(c, cg_i64(c, 0), kn, "pk");
        LLVMValueRef kk = LLVMBuildNSWAdd(c->b, k0, pk.iv, "kk");
        CgLoop pc = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, NR), "pc");
        LLVMValueRef j = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, pp.iv, cg_i64(c, NR), ""), pc.iv, "j");
        LLVMValueRef inside = LLVMBuildICmp(c->b, LLVMIntSLT, j, Nn, "");
        LLVMValueRef jj = LLVMBuildSelect(c->b, inside, j, cg_i64(c, 0), "");
        LLVMValueRef src = mm.tb ? LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, jj, K, ""), kk, "")
                                 : LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, kk, Nn, ""), jj, "");
        LLVMValueRef x = LLVMBuildSelect(c->b, inside, cg_load(c, b, LLVMBuildNSWAdd(c->b, b0, src, "")), zero, "");
        LLVMValueRef dst = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, pp.iv, kn, ""), pk.iv, ""),
                                                                 cg_i64(c, NR), ""), pc.iv, "");
        LLVMBuildStore(c->b, x, at(c, packB, dst));
        cg_loop_end(c, &pc);
        cg_loop_end(c, &pk);
        cg_loop_end(c, &pp);
    }
    LLVMBuildBr(c->b, packed);
    LLVMPositionBuilderAtEnd(c->b, packed);

    /* pack MR rows of this chunk of op(A): packA[k·MR + r] */
    {
        CgLoop pk = cg_loop_begin(c, cg_i64(c, 0), kn, "ak");
        LLVMValueRef kk = LLVMBuildNSWAdd(c->b, k0, pk.iv, "kk");
        for (int r = 0; r < MR; r++) {
            LLVMValueRef i = LLVMBuildNSWAdd(c->b, i0, cg_i64(c, r), "");
            LLVMValueRef inside = LLVMBuildICmp(c->b, LLVMIntSLT, i, M, "");
            LLVMValueRef ii = LLVMBuildSelect(c->b, inside, i, cg_i64(c, 0), "");
            LLVMValueRef src = mm.ta ? LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, kk, M, ""), ii, "")
                                     : LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, ii, K, ""), kk, "");
            LLVMValueRef x = LLVMBuildSelect(c->b, inside, cg_load(c, a, LLVMBuildNSWAdd(c->b, a0, src, "")), zero, "");
            LLVMBuildStore(c->b, x, at(c, packA, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, pk.iv, cg_i64(c, MR), ""),
                                                                 cg_i64(c, r), "")));
        }
        cg_loop_end(c, &pk);
    }

    LLVMValueRef rows_here = imin(c, cg_i64(c, MR), LLVMBuildNSWSub(c->b, M, i0, ""));
    LLVMValueRef row0 = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, mat, M, ""), i0, "row0");  /* C's row index */
    const IrShape *cs = &n->shape;
    LLVMValueRef cwidth = cg_i64(c, cs->dim[cs->rank - 1]);

    CgLoop panel = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, panels), "jb");
    LLVMValueRef j0 = LLVMBuildNSWMul(c->b, panel.iv, cg_i64(c, NR), "j0");
    LLVMValueRef cols = imin(c, cg_i64(c, NR), LLVMBuildNSWSub(c->b, Nn, j0, ""));
    /* the tile starts at 0, or at the partial sums of the chunks before */
    for (int q = 0; q < MR * NR; q += VW)
        LLVMSetAlignment(LLVMBuildStore(c->b, LLVMConstNull(vec), at(c, tile, cg_i64(c, q))), align);
    {
        LLVMBasicBlockRef resume = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "resume");
        LLVMBasicBlockRef fresh = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "fresh");
        LLVMBuildCondBr(c->b, first, fresh, resume);
        LLVMPositionBuilderAtEnd(c->b, resume);
        CgLoop lr = cg_loop_begin(c, cg_i64(c, 0), rows_here, "rr");
        LLVMValueRef crow = LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, row0, lr.iv, ""), cwidth, "");
        CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), cols, "rc");
        LLVMValueRef y = cg_load(c, v, LLVMBuildNSWAdd(c->b, crow, LLVMBuildNSWAdd(c->b, j0, lc.iv, ""), ""));
        LLVMBuildStore(c->b, y, at(c, tile, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lr.iv, cg_i64(c, NR), ""), lc.iv, "")));
        cg_loop_end(c, &lc);
        cg_loop_end(c, &lr);
        LLVMBuildBr(c->b, fresh);
        LLVMPositionBuilderAtEnd(c->b, fresh);
    }
    /* the microkernel: MR × 2 vector accumulators */
    LLVMValueRef accp[MR][2];
    for (int r = 0; r < MR; r++)
        for (int h = 0; h < 2; h++) {
            accp[r][h] = cg_alloca(c, vec, NULL, "acc");
            LLVMValueRef t0 = LLVMBuildLoad2(c->b, vec, at(c, tile, cg_i64(c, r * NR + h * VW)), "");
            LLVMSetAlignment(t0, align);
            LLVMBuildStore(c->b, t0, accp[r][h]);
        }
    LLVMValueRef bpanel = at(c, packB, LLVMBuildNSWMul(c->b, LLVMBuildNSWMul(c->b, panel.iv, kn, ""), cg_i64(c, NR), ""));
    CgLoop lk = cg_loop_begin(c, cg_i64(c, 0), kn, "k");
    LLVMValueRef bk = at(c, bpanel, LLVMBuildNSWMul(c->b, lk.iv, cg_i64(c, NR), ""));
    LLVMValueRef bv[2];
    for (int h = 0; h < 2; h++) {
        bv[h] = LLVMBuildLoad2(c->b, vec, at(c, bk, cg_i64(c, h * VW)), "b");
        LLVMSetAlignment(bv[h], align);
    }
    LLVMValueRef ak = at(c, packA, LLVMBuildNSWMul(c->b, lk.iv, cg_i64(c, MR), ""));
    LLVMTypeRef fma_t[1] = {vec};
    unsigned fma_id = LLVMLookupIntrinsicID("llvm.fma", 8);
    LLVMValueRef fma = LLVMGetIntrinsicDeclaration(c->mod, fma_id, fma_t, 1);
    LLVMTypeRef fma_ft = LLVMIntrinsicGetType(c->ctx, fma_id, fma_t, 1);
    for (int r = 0; r < MR; r++) {
        LLVMValueRef s = LLVMBuildLoad2(c->b, c->t_real, at(c, ak, cg_i64(c, r)), "a");
        LLVMValueRef splat = LLVMBuildInsertElement(c->b, LLVMGetUndef(vec), s, LLVMConstInt(c->t_i32, 0, 0), "");
        splat = LLVMBuildShuffleVector(c->b, splat, LLVMGetUndef(vec), LLVMConstNull(LLVMVectorType(c->t_i32, (unsigned)VW)), "aa");
        for (int h = 0; h < 2; h++) {
            LLVMValueRef cur = LLVMBuildLoad2(c->b, vec, accp[r][h], "");
            LLVMValueRef args[3] = {splat, bv[h], cur};
            LLVMBuildStore(c->b, LLVMBuildCall2(c->b, fma_ft, fma, args, 3, ""), accp[r][h]);
        }
    }
    cg_loop_end(c, &lk);
    for (int r = 0; r < MR; r++)
        for (int h = 0; h < 2; h++) {
            LLVMValueRef st = LLVMBuildStore(c->b, LLVMBuildLoad2(c->b, vec, accp[r][h], ""),
                                             at(c, tile, cg_i64(c, r * NR + h * VW)));
            LLVMSetAlignment(st, align);
        }

    /* after the last chunk, tile → C through the epilogue; before it, the partial sums as they are */
    LLVMBasicBlockRef epi_bb = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "epilogue");
    LLVMBasicBlockRef partial_bb = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "partial");
    LLVMBasicBlockRef stored = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "stored");
    LLVMBuildCondBr(c->b, last, epi_bb, partial_bb);
    LLVMPositionBuilderAtEnd(c->b, epi_bb);
    {
        CgLoop lr = cg_loop_begin(c, cg_i64(c, 0), rows_here, "r");
        LLVMValueRef crow = LLVMBuildNSWAdd(c->b, row0, lr.iv, "crow");
        epi_row(c, v, &epi, crow);
        CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), cols, "cc");
        LLVMValueRef y = LLVMBuildLoad2(c->b, c->t_real, at(c, tile, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lr.iv, cg_i64(c, NR), ""), lc.iv, "")), "y");
        LLVMValueRef j = LLVMBuildNSWAdd(c->b, j0, lc.iv, "j");
        epi_store(c, v, &epi, crow, j, y);
        cg_loop_end(c, &lc);
        cg_loop_end(c, &lr);
    }
    LLVMBuildBr(c->b, stored);
    LLVMPositionBuilderAtEnd(c->b, partial_bb);
    {
        CgLoop lr = cg_loop_begin(c, cg_i64(c, 0), rows_here, "pr");
        LLVMValueRef crow = LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, row0, lr.iv, ""), cwidth, "");
        CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), cols, "pcc");
        LLVMValueRef y = LLVMBuildLoad2(c->b, c->t_real, at(c, tile, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lr.iv, cg_i64(c, NR), ""), lc.iv, "")), "y");
        cg_store(c, v, LLVMBuildNSWAdd(c->b, crow, LLVMBuildNSWAdd(c->b, j0, lc.iv, ""), ""), y);
        cg_loop_end(c, &lc);
        cg_loop_end(c, &lr);
    }
    LLVMBuildBr(c->b, stored);
    LLVMPositionBuilderAtEnd(c->b, stored);
    cg_loop_end(c, &panel);
    cg_loop_end(c, &item);
    cg_loop_end(c, &chunk);
    free_ptr(c, packA);
    free_ptr(c, packB);
    if (done) {
        LLVMBuildBr(c->b, done);
        LLVMPositionBuilderAtEnd(c->b, done);
    }
    epi_end(&epi);
}
