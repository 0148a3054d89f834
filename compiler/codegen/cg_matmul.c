/* cg_matmul.c — matrix products with their fused epilogues.
 *
 * C[.., M, N] = op(A)[.., M, K] · op(B)[.., K, N], leading axes broadcast.
 * Items are rows of C (matrix, i).  A row accumulates in a row buffer over
 * k with the j loop innermost and contiguous, which LLVM vectorizes; a
 * transposed B is first packed, once per matrix, into [K, N] so that loop
 * stays contiguous.  Each row's k order is fixed, so any split of rows over
 * threads gives the same bits.  The epilogue program (bias, activation,
 * scale) runs on each finished element before it is stored.
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
} Mm;

static Mm mm_of(Cg *c, int v)
{
    const IrNode *n = N(c, v);
    const IrShape *a = &N(c, n->in[0])->shape;
    bool ta = n->a.i[0], tb = n->a.i[1];
    int64_t k = a->dim[a->rank - (ta ? 2 : 1)];
    return (Mm){n->shape.dim[n->shape.rank - 2], n->shape.dim[n->shape.rank - 1], k == IR_BATCH, k, ta, tb};
}

LLVMValueRef cg_matmul_extent(Cg *c, int v)
{
    const IrShape *s = &N(c, v)->shape;
    return cg_elems(c, s, 0, s->rank - 1);  /* every row of every matrix */
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

void cg_matmul_body(Cg *c, int v)
{
    const IrNode *n = N(c, v);
    Mm mm = mm_of(c, v);
    int a = n->in[0], b = n->in[1];
    LLVMValueRef begin = LLVMGetParam(c->fn, 1), end = LLVMGetParam(c->fn, 2);
    LLVMValueRef K = mm.k_batch ? cg_batch(c) : cg_i64(c, mm.k);
    LLVMValueRef M = cg_dim(c, mm.m), Nn = cg_i64(c, mm.n);  /* M is the batch for x·Wᵀ */
    LLVMValueRef A = cg_base(c, a), Bm = cg_base(c, b);
    /* buffers: the row accumulator, and B packed as [K, N] when it is transposed */
    LLVMValueRef acc = malloc_reals(c, Nn);
    LLVMValueRef packed = mm.tb ? malloc_reals(c, LLVMBuildNSWMul(c->b, K, Nn, "")) : NULL;
    LLVMValueRef last_mat = cg_alloca(c, c->t_i64, NULL, "last");
    LLVMBuildStore(c->b, cg_i64(c, -1), last_mat);

    CgLoop item = cg_loop_begin(c, begin, end, "row");
    LLVMValueRef mat = LLVMBuildSDiv(c->b, item.iv, M, "mat"), i = LLVMBuildSRem(c->b, item.iv, M, "i");
    LLVMValueRef a0 = matrix_offset(c, a, &n->shape, mat), b0 = matrix_offset(c, b, &n->shape, mat);
    LLVMValueRef Bk;  /* row k of op(B) starts at Bk + k*N */
    if (mm.tb) {
        /* pack B[j, k] into packed[k*N + j] when the matrix changes */
        LLVMValueRef changed = LLVMBuildICmp(c->b, LLVMIntNE, mat, LLVMBuildLoad2(c->b, c->t_i64, last_mat, ""), "");
        LLVMBasicBlockRef pack = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "pack");
        LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "go");
        LLVMBuildCondBr(c->b, changed, pack, go);
        LLVMPositionBuilderAtEnd(c->b, pack);
        LLVMBuildStore(c->b, mat, last_mat);
        CgLoop pj = cg_loop_begin(c, cg_i64(c, 0), Nn, "pj");
        LLVMValueRef src_row = LLVMBuildNSWAdd(c->b, b0, LLVMBuildNSWMul(c->b, pj.iv, K, ""), "");
        CgLoop pk = cg_loop_begin(c, cg_i64(c, 0), K, "pk");
        LLVMValueRef x = cg_load(c, b, LLVMBuildNSWAdd(c->b, src_row, pk.iv, ""));
        LLVMBuildStore(c->b, x, at(c, packed, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, pk.iv, Nn, ""), pj.iv, "")));
        cg_loop_end(c, &pk);
        cg_loop_end(c, &pj);
        LLVMBuildBr(c->b, go);
        LLVMPositionBuilderAtEnd(c->b, go);
        Bk = packed;
    } else {
        LLVMValueRef off = b0;
        Bk = LLVMBuildGEP2(c->b, c->t_real, Bm, &off, 1, "");
    }
    /* acc = 0; for k: acc += A(i,k) · op(B)[k, :] */
    CgLoop z = cg_loop_begin(c, cg_i64(c, 0), Nn, "z");
    LLVMBuildStore(c->b, cg_real(c, 0), at(c, acc, z.iv));
    cg_loop_end(c, &z);
    CgLoop lk = cg_loop_begin(c, cg_i64(c, 0), K, "k");
    LLVMValueRef a_idx = mm.ta ? LLVMBuildNSWAdd(c->b, a0, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lk.iv, M, ""), i, ""), "")
                               : LLVMBuildNSWAdd(c->b, a0, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, i, K, ""), lk.iv, ""), "");
    LLVMValueRef aik = LLVMBuildLoad2(c->b, c->t_real, at(c, A, a_idx), "aik");
    LLVMValueRef brow = at(c, Bk, LLVMBuildNSWMul(c->b, lk.iv, Nn, ""));
    CgLoop lj = cg_loop_begin(c, cg_i64(c, 0), Nn, "j");
    LLVMValueRef bkj = LLVMBuildLoad2(c->b, c->t_real, at(c, brow, lj.iv), "");
    LLVMValueRef cur = LLVMBuildLoad2(c->b, c->t_real, at(c, acc, lj.iv), "");
    LLVMValueRef prod = LLVMBuildFMul(c->b, aik, bkj, "");
    LLVMSetFastMathFlags(prod, LLVMFastMathAllowContract);
    LLVMValueRef sum = LLVMBuildFAdd(c->b, cur, prod, "");
    LLVMSetFastMathFlags(sum, LLVMFastMathAllowContract);
    LLVMBuildStore(c->b, sum, at(c, acc, lj.iv));
    cg_loop_end(c, &lj);
    cg_loop_end(c, &lk);

    /* the epilogue and the store */
    int extra = n->op == IR_MATMUL_EPI ? n->nin - 2 : 0;
    LLVMValueRef ext_base[16], ext_off[16];
    int64_t ext_step[16];
    for (int e = 0; e < extra; e++) {
        int x = n->in[2 + e];
        ext_base[e] = cg_leaf_scalar(c, x);
        if (ext_base[e]) {
            ext_off[e] = NULL;
            continue;
        }
        CgStrides st;
        cg_strides(&N(c, x)->shape, &n->shape, &st);
        ext_base[e] = cg_base(c, x);
        ext_off[e] = cg_offset_of(c, &n->shape, n->shape.rank - 1, &st, item.iv);
        ext_step[e] = st.stride[n->shape.rank - 1];
    }
    LLVMValueRef out_row = LLVMBuildNSWMul(c->b, item.iv, Nn, "");
    CgLoop lo = cg_loop_begin(c, cg_i64(c, 0), Nn, "o");
    LLVMValueRef y = LLVMBuildLoad2(c->b, c->t_real, at(c, acc, lo.iv), "");
    if (n->op == IR_MATMUL_EPI) {
        const IrProgram *p = n->a.prog;
        LLVMValueRef *val = calloc((size_t)(p->nin + p->n), sizeof *val);
        val[0] = y;
        for (int e = 0; e < extra; e++) {
            if (!ext_off[e]) {
                val[1 + e] = ext_base[e];
                continue;
            }
            LLVMValueRef idx = ext_step[e] ? LLVMBuildNSWAdd(c->b, ext_off[e], lo.iv, "") : ext_off[e];
            LLVMTypeRef t = cg_type(c, N(c, n->in[2 + e])->type);
            LLVMValueRef xv = LLVMBuildLoad2(c->b, t, LLVMBuildGEP2(c->b, t, ext_base[e], &idx, 1, ""), "");
            val[1 + e] = N(c, n->in[2 + e])->type == IR_I32 ? LLVMBuildSIToFP(c->b, xv, c->t_real, "") : xv;
        }
        for (int k = 0; k < p->n; k++) {
            const IrInstr *in = &p->code[k];
            val[p->nin + k] = cg_scalar_op(c, in->op, in->a >= 0 ? val[in->a] : NULL, in->b >= 0 ? val[in->b] : NULL,
                                           in->c >= 0 ? val[in->c] : NULL, in->f);
        }
        y = val[p->nin + p->n - 1];
        free(val);
    }
    cg_store(c, v, LLVMBuildNSWAdd(c->b, out_row, lo.iv, ""), y);
    cg_loop_end(c, &lo);
    cg_loop_end(c, &item);
    free_ptr(c, acc);
    if (packed)
        free_ptr(c, packed);
}
