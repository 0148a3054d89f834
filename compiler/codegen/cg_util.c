/* cg_util.c — typed builder helpers: loops, addresses, scalar ops. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/DebugInfo.h>  /* LLVMTemporaryMDNode: a loop ID refers to itself */

#include "cg_internal.h"
#include "nnc_runtime.h"  /* RtCtx: the layout the generated code reads */

LLVMValueRef cg_i64(Cg *c, int64_t v) { return LLVMConstInt(c->t_i64, (unsigned long long)v, 1); }
LLVMValueRef cg_real(Cg *c, double v) { return LLVMConstReal(c->t_real, v); }

LLVMValueRef cg_imin(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *name)
{
    return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, a, b, ""), a, b, name);
}

LLVMValueRef cg_imax(Cg *c, LLVMValueRef a, LLVMValueRef b, const char *name)
{
    return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, a, b, ""), a, b, name);
}

LLVMValueRef cg_in_range(Cg *c, LLVMValueRef v, int64_t n)
{
    return LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, v, cg_i64(c, 0), ""),
                        LLVMBuildICmp(c->b, LLVMIntSLT, v, cg_i64(c, n), ""), "");
}

LLVMValueRef cg_in_image(Cg *c, LLVMValueRef iy, LLVMValueRef ix, int64_t h, int64_t w)
{
    return LLVMBuildAnd(c->b, cg_in_range(c, iy, h), cg_in_range(c, ix, w), "inside");
}

LLVMTypeRef cg_type(Cg *c, IrType t)
{
    switch (t) {
    case IR_F32: return c->t_f32;
    case IR_F64: return c->t_f64;
    case IR_I32: return c->t_i32;
    }
    return c->t_f32;
}

CgLoop cg_loop_begin(Cg *c, LLVMValueRef begin, LLVMValueRef end, const char *name)
{
    CgLoop l;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
    l.head = LLVMAppendBasicBlockInContext(c->ctx, c->fn, name);
    l.body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "body");
    l.exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "done");
    LLVMBuildBr(c->b, l.head);
    LLVMPositionBuilderAtEnd(c->b, l.head);
    l.iv = LLVMBuildPhi(c->b, c->t_i64, "i");
    LLVMAddIncoming(l.iv, &begin, &pre, 1);
    LLVMValueRef more = LLVMBuildICmp(c->b, LLVMIntSLT, l.iv, end, "more");
    LLVMBuildCondBr(c->b, more, l.body, l.exit);
    LLVMPositionBuilderAtEnd(c->b, l.body);
    return l;
}

void cg_loop_end(Cg *c, CgLoop *l)
{
    LLVMValueRef next = LLVMBuildNSWAdd(c->b, l->iv, cg_i64(c, 1), "next");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMBuildBr(c->b, l->head);
    LLVMPositionBuilderAtEnd(c->b, l->exit);
}

void cg_loop_hints(Cg *c, LLVMBasicBlockRef latch, const char *const *names, const LLVMValueRef *vals, int n)
{
    LLVMMetadataRef ops[CG_LOOP_HINTS_MAX + 1] = {LLVMTemporaryMDNode(c->ctx, NULL, 0)};
    for (int i = 0; i < n && i < CG_LOOP_HINTS_MAX; i++) {
        LLVMMetadataRef hint[2] = {LLVMMDStringInContext2(c->ctx, names[i], strlen(names[i])),
                                   vals[i] ? LLVMValueAsMetadata(vals[i]) : NULL};
        ops[1 + i] = LLVMMDNodeInContext2(c->ctx, hint, vals[i] ? 2 : 1);
    }
    LLVMMetadataRef id = LLVMMDNodeInContext2(c->ctx, ops, (size_t)(n < CG_LOOP_HINTS_MAX ? n : CG_LOOP_HINTS_MAX) + 1);
    LLVMMetadataReplaceAllUsesWith(ops[0], id);
    LLVMSetMetadata(LLVMGetBasicBlockTerminator(latch), LLVMGetMDKindIDInContext(c->ctx, "llvm.loop", 9),
                    LLVMMetadataAsValue(c->ctx, id));
}

void cg_loop_no_unroll(Cg *c, LLVMBasicBlockRef latch)
{
    cg_loop_hints(c, latch, (const char *const[]){"llvm.loop.unroll.disable"}, (LLVMValueRef[]){NULL}, 1);
}

void cg_loop_no_vectorize(Cg *c, LLVMBasicBlockRef latch)
{
    cg_loop_hints(c, latch, (const char *const[]){"llvm.loop.vectorize.enable"},
                  (LLVMValueRef[]){LLVMConstInt(c->t_i1, 0, 0)}, 1);
}

void cg_loop_fold_tail(Cg *c, LLVMBasicBlockRef latch, int width)
{
    cg_loop_hints(c, latch, (const char *const[]){"llvm.loop.vectorize.predicate.enable", "llvm.loop.vectorize.width"},
                  (LLVMValueRef[]){LLVMConstInt(c->t_i1, 1, 0), LLVMConstInt(c->t_i32, (unsigned)width, 0)},
                  2);
}

/* A call of the runtime's fn (rt_task_scratch or rt_kept_scratch) of type
 * ft, and the branch to none when it returns NULL. */
static LLVMValueRef scratch_call(Cg *c, const char *fn, LLVMTypeRef ft, LLVMValueRef *args, unsigned nargs,
                                 LLVMBasicBlockRef none)
{
    LLVMValueRef buf = LLVMBuildCall2(c->b, ft, cg_declare(c, fn, ft), args, nargs, "scratch");
    LLVMBasicBlockRef have = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "scratch_ok");
    /* no memory: the runtime has noted it (rt_pool_failed) and the step's results are void */
    LLVMBuildCondBr(c->b, LLVMBuildIsNull(c->b, buf, ""), none, have);
    LLVMPositionBuilderAtEnd(c->b, have);
    return buf;
}

LLVMValueRef cg_task_scratch(Cg *c, LLVMValueRef bytes, LLVMValueRef call_p, LLVMBasicBlockRef none)
{
    /* void *rt_task_scratch(RtCtx *ctx, int64_t bytes, uint64_t *call) */
    LLVMTypeRef params[3] = {c->t_ptr, c->t_i64, c->t_ptr};
    LLVMValueRef args[3] = {c->ctx_arg, bytes, call_p};
    return scratch_call(c, "rt_task_scratch", LLVMFunctionType(c->t_ptr, params, 3, 0), args, 3, none);
}

LLVMValueRef cg_kept_scratch(Cg *c, LLVMValueRef weight, LLVMValueRef bytes, LLVMValueRef call_p, LLVMBasicBlockRef none)
{
    /* void *rt_kept_scratch(RtCtx *ctx, const void *weight, int64_t bytes, uint64_t *call) */
    LLVMTypeRef params[4] = {c->t_ptr, c->t_ptr, c->t_i64, c->t_ptr};
    LLVMValueRef args[4] = {c->ctx_arg, weight, bytes, call_p};
    return scratch_call(c, "rt_kept_scratch", LLVMFunctionType(c->t_ptr, params, 4, 0), args, 4, none);
}

LLVMValueRef cg_alloca(Cg *c, LLVMTypeRef t, LLVMValueRef count, const char *name)
{
    /* At the top of the entry block, where mem2reg and the stack layout want allocas. */
    LLVMBuilderRef tmp = LLVMCreateBuilderInContext(c->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(c->entry);
    if (first)
        LLVMPositionBuilderBefore(tmp, first);
    else
        LLVMPositionBuilderAtEnd(tmp, c->entry);
    LLVMValueRef a = count ? LLVMBuildArrayAlloca(tmp, t, count, name) : LLVMBuildAlloca(tmp, t, name);
    LLVMDisposeBuilder(tmp);
    return a;
}

_Static_assert((int)SLAB_INPUT == (int)RT_SLAB_INPUT && (int)SLAB_PARAM == (int)RT_SLAB_PARAM
                   && (int)SLAB_STATE == (int)RT_SLAB_STATE && (int)SLAB_ACT == (int)RT_SLAB_ACT,
               "ctx->slab[] is indexed by the plan's slab");

/* The RtCtx field at byte_offset (an offsetof) of the kernel's ctx. */
static LLVMValueRef ctx_field(Cg *c, size_t byte_offset, LLVMTypeRef t, const char *name)
{
    LLVMValueRef off = cg_i64(c, (int64_t)byte_offset);
    LLVMValueRef p = LLVMBuildGEP2(c->b, c->t_i8, c->ctx_arg, &off, 1, "");
    return LLVMBuildLoad2(c->b, t, p, name);
}

LLVMValueRef cg_batch(Cg *c) { return ctx_field(c, offsetof(RtCtx, batch), c->t_i64, "batch"); }
LLVMValueRef cg_pool(Cg *c) { return ctx_field(c, offsetof(RtCtx, pool), c->t_ptr, "pool"); }
LLVMValueRef cg_first(Cg *c) { return ctx_field(c, offsetof(RtCtx, first), c->t_i64, "first"); }

LLVMValueRef cg_dim(Cg *c, int64_t d) { return d == IR_BATCH ? cg_batch(c) : cg_i64(c, d); }

LLVMValueRef cg_elems(Cg *c, const IrShape *s, int from, int to)
{
    int64_t k = 1;
    bool batch = false;
    for (int i = from; i < to; i++) {
        if (s->dim[i] == IR_BATCH)
            batch = true;
        else
            k *= s->dim[i];
    }
    return batch ? LLVMBuildNSWMul(c->b, cg_batch(c), cg_i64(c, k), "n") : cg_i64(c, k);
}

LLVMValueRef cg_base(Cg *c, int v)
{
    /* in a kernel body, every tensor it touches arrives as a parameter; an
     * elementwise one that writes over an old value reads it through its
     * result's pointer (cg_inplace.c: the same bytes, which two noalias
     * parameters would deny); in a group's body (cg_group.c) every member
     * is a result, and any may */
    for (int k = 0; k < c->nslots && c->inplace; k++)
        if (c->inplace[c->slot_node[k]] == v && cg_is_elementwise(N(c, c->slot_node[k]))) {
            v = c->slot_node[k];
            break;
        }
    int k = cg_index_of(c->slot_node, c->nslots, v);
    if (k >= 0)
        return LLVMGetParam(c->fn, (unsigned)k);
    const IrNode *n = &c->g->nodes[v];
    if (n->op == IR_TENSOR && c->tables[v])
        return c->tables[v];
    if (n->op == IR_TENSOR) {
        /* constant tables become read-only globals */
        int64_t len = ir_elems(&n->shape, 1);
        LLVMValueRef *elts = malloc(sizeof *elts * (size_t)len);
        for (int64_t i = 0; i < len; i++)
            elts[i] = cg_real(c, n->a.data[i]);
        LLVMTypeRef at = LLVMArrayType2(c->t_real, (uint64_t)len);
        LLVMValueRef gv = LLVMAddGlobal(c->mod, at, n->a.name ? n->a.name : "tensor");
        LLVMSetInitializer(gv, LLVMConstArray2(c->t_real, elts, (uint64_t)len));
        LLVMSetGlobalConstant(gv, 1);
        LLVMSetLinkage(gv, LLVMPrivateLinkage);
        free(elts);
        c->tables[v] = gv;
        return gv;
    }
    if (c->inplace && c->inplace[v] >= 0)
        return cg_inplace_base(c, v);
    return cg_planned_base(c, v);
}

LLVMValueRef cg_planned_base(Cg *c, int v)
{
    size_t slab = (size_t)c->plan->slab[v];
    LLVMValueRef base = ctx_field(c, offsetof(RtCtx, slab) + slab * sizeof(uint8_t *), c->t_ptr, "slab");
    /* the plan's offset at this call's batch: fixed + per_ex · B̂, B̂ the
     * batch rounded up to 16 and at least the planned batch (plan_bhat) */
    IrBytes at = c->plan->offset[v];
    LLVMValueRef off = cg_i64(c, at.fixed);
    if (at.per_ex) {
        LLVMValueRef rounded = LLVMBuildAnd(c->b, LLVMBuildNSWAdd(c->b, cg_batch(c), cg_i64(c, PLAN_BATCH_ROUND - 1), ""),
                                            cg_i64(c, -PLAN_BATCH_ROUND), "");
        LLVMValueRef floor = cg_i64(c, plan_round_batch(c->plan->batch));
        LLVMValueRef bhat = cg_imax(c, rounded, floor, "bhat");
        off = LLVMBuildNSWAdd(c->b, off, LLVMBuildNSWMul(c->b, bhat, cg_i64(c, at.per_ex), ""), "off");
    }
    return LLVMBuildGEP2(c->b, c->t_i8, base, &off, 1, "t");
}

LLVMValueRef cg_elem_ptr(Cg *c, int v, LLVMValueRef idx)
{
    LLVMValueRef base = cg_base(c, v);
    return LLVMBuildGEP2(c->b, cg_type(c, c->g->nodes[v].type), base, &idx, 1, "p");
}

LLVMValueRef cg_load(Cg *c, int v, LLVMValueRef idx)
{
    LLVMValueRef scalar = cg_leaf_scalar(c, v);  /* constants have no memory */
    if (scalar)
        return scalar;
    return LLVMBuildLoad2(c->b, cg_type(c, c->g->nodes[v].type), cg_elem_ptr(c, v, idx), "x");
}

void cg_store(Cg *c, int v, LLVMValueRef idx, LLVMValueRef x) { LLVMBuildStore(c->b, x, cg_elem_ptr(c, v, idx)); }

LLVMValueRef cg_leaf_scalar(Cg *c, int v)
{
    const IrNode *n = &c->g->nodes[v];
    if (!cg_no_memory(n))
        return NULL;
    return n->op == IR_CONST ? cg_real(c, n->a.f) : LLVMBuildSIToFP(c->b, cg_batch(c), c->t_real, "B");
}

LLVMValueRef cg_declare(Cg *c, const char *name, LLVMTypeRef ft)
{
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, name);
    return fn ? fn : LLVMAddFunction(c->mod, name, ft);
}

LLVMValueRef cg_vec_fma(Cg *c, LLVMTypeRef vec, LLVMValueRef a, LLVMValueRef b, LLVMValueRef acc)
{
    unsigned id = LLVMLookupIntrinsicID("llvm.fma", 8);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, &vec, 1);
    LLVMValueRef args[3] = {a, b, acc};
    return LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &vec, 1), fn, args, 3, "");
}

LLVMValueRef cg_call_real(Cg *c, const char *name, LLVMValueRef *args, int n)
{
    bool f32 = c->t_real == c->t_f32;
    char full[64];
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn;
    LLVMTypeRef ft;
    if (id) {
        LLVMTypeRef tys[1] = {c->t_real};
        fn = LLVMGetIntrinsicDeclaration(c->mod, id, tys, 1);
        ft = LLVMIntrinsicGetType(c->ctx, id, tys, 1);
    } else {  /* a libm function: erf, tanh; the float version ends in f */
        snprintf(full, sizeof full, "%s%s", name, f32 ? "f" : "");
        LLVMTypeRef params[3] = {c->t_real, c->t_real, c->t_real};
        ft = LLVMFunctionType(c->t_real, params, (unsigned)n, 0);
        fn = cg_declare(c, full, ft);
    }
    return LLVMBuildCall2(c->b, ft, fn, args, (unsigned)n, "");
}

static LLVMValueRef as_real(Cg *c, LLVMValueRef bit) { return LLVMBuildUIToFP(c->b, bit, c->t_real, ""); }

LLVMValueRef cg_scalar_op(Cg *c, IrOp op, LLVMValueRef a, LLVMValueRef b, LLVMValueRef x3, double f)
{
    LLVMBuilderRef B = c->b;
    LLVMValueRef args[2] = {a, b};
    switch (op) {
    case IR_NEG: return LLVMBuildFNeg(B, a, "");
    case IR_EXP: return cg_exp(c, a);
    case IR_LOG: return cg_call_real(c, "llvm.log", args, 1);
    case IR_SQRT: return cg_call_real(c, "llvm.sqrt", args, 1);
    case IR_RSQRT: return LLVMBuildFDiv(B, cg_real(c, 1), cg_call_real(c, "llvm.sqrt", args, 1), "");
    case IR_TANH: return cg_tanh(c, a);
    case IR_ERF: return cg_erf(c, a);
    case IR_RELU: return LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOGT, a, cg_real(c, 0), ""), a, cg_real(c, 0), "");
    case IR_SIGMOID: {
        /* 1/(1+exp(-a)) for a >= 0, exp(a)/(1+exp(a)) below: no overflow either way */
        LLVMValueRef neg_abs = LLVMBuildFNeg(B, cg_call_real(c, "llvm.fabs", args, 1), "");
        LLVMValueRef e = cg_exp(c, neg_abs);
        LLVMValueRef inv = LLVMBuildFDiv(B, cg_real(c, 1), LLVMBuildFAdd(B, cg_real(c, 1), e, ""), "");
        LLVMValueRef low = LLVMBuildFMul(B, e, inv, "");
        return LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOGE, a, cg_real(c, 0), ""), inv, low, "");
    }
    case IR_SIN: return cg_call_real(c, "llvm.sin", args, 1);
    case IR_COS: return cg_call_real(c, "llvm.cos", args, 1);
    case IR_FLOOR: return cg_call_real(c, "llvm.floor", args, 1);
    case IR_POW:
        if (f == 1)
            return a;
        if (f == 2)
            return LLVMBuildFMul(B, a, a, "");
        if (f == 0.5)
            return cg_call_real(c, "llvm.sqrt", args, 1);
        args[1] = cg_real(c, f);
        return cg_call_real(c, "llvm.pow", args, 2);
    case IR_STOP_GRAD: return a;
    case IR_ADD: return LLVMBuildFAdd(B, a, b, "");
    case IR_SUB: return LLVMBuildFSub(B, a, b, "");
    case IR_MUL: return LLVMBuildFMul(B, a, b, "");
    case IR_DIV: return LLVMBuildFDiv(B, a, b, "");
    case IR_MAX: return LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOGE, a, b, ""), a, b, "");
    case IR_MIN: return LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOLE, a, b, ""), a, b, "");
    case IR_GT: return as_real(c, LLVMBuildFCmp(B, LLVMRealOGT, a, b, ""));
    case IR_GE: return as_real(c, LLVMBuildFCmp(B, LLVMRealOGE, a, b, ""));
    case IR_EQ: return as_real(c, LLVMBuildFCmp(B, LLVMRealOEQ, a, b, ""));
    case IR_SELECT: return LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealUNE, a, cg_real(c, 0), ""), b, x3, "");
    case IR_CONST: return cg_real(c, f);
    default:  /* not OPF_ELEMENTWISE: the caller never asks */
        break;
    }
    return NULL;
}

LLVMValueRef cg_operand_load(Cg *c, const CgOperand *op, LLVMValueRef j)
{
    if (op->scalar)
        return op->scalar;
    LLVMValueRef idx = op->step ? LLVMBuildNSWAdd(c->b, op->row_off, j, "") : op->row_off;
    LLVMTypeRef t = cg_type(c, N(c, op->node)->type);
    LLVMValueRef p = LLVMBuildGEP2(c->b, t, op->base, &idx, 1, "");
    LLVMValueRef x = LLVMBuildLoad2(c->b, t, p, "");
    return N(c, op->node)->type == IR_I32 ? LLVMBuildSIToFP(c->b, x, c->t_real, "") : x;
}

int *cg_program_uses(const IrProgram *p)
{
    int *uses = calloc((size_t)(p->nin + p->n) + 1, sizeof *uses);
    for (int k = 0; k < p->n; k++) {
        const IrInstr *in = &p->code[k];
        int args[3] = {in->a, in->b, in->c};
        for (int q = 0; q < 3; q++)
            if (args[q] >= 0)
                uses[args[q]]++;
    }
    if (p->n > 0)
        uses[p->nin + p->n - 1]++;  /* the result */
    return uses;
}

/* Whether program value x (built as *v) is a product that only one
 * instruction reads: an fmul of this program's, not folded to a constant. */
static bool lone_product(const IrProgram *p, const int *uses, int x, LLVMValueRef v)
{
    return x >= p->nin && p->code[x - p->nin].op == IR_MUL && uses[x] == 1 && v && LLVMIsAInstruction(v) &&
           LLVMGetInstructionOpcode(v) == LLVMFMul;
}

/* Products are fused into sums here, as written, and nowhere else: no
 * instruction carries LLVM's `contract` flag, so whether a product and
 * a sum become one FMA no longer depends on how far a pipeline simplified
 * the code before instruction selection (with the flag, the loop unroller
 * forwarding a row temporary decided it, and a lighter pipeline changed
 * bits).  The choice is the one LLVM's instruction selection made with the
 * flag in one block: a + b·c with b·c read by nothing else is fma(b, c, a);
 * a·b - c is fma(a, b, -c), c - a·b fma(-a, b, c); the left product first
 * when both are. */
LLVMValueRef cg_program_instr(Cg *c, const IrProgram *p, const int *uses, int k, LLVMValueRef a, LLVMValueRef b,
                              LLVMValueRef x3)
{
    const IrInstr *in = &p->code[k];
    if (in->op == IR_ADD || in->op == IR_SUB) {
        LLVMValueRef m = lone_product(p, uses, in->a, a) ? a : lone_product(p, uses, in->b, b) ? b : NULL;
        if (m) {
            LLVMValueRef x = LLVMGetOperand(m, 0), y = LLVMGetOperand(m, 1), other = m == a ? b : a;
            if (in->op == IR_SUB && m == a)
                other = LLVMBuildFNeg(c->b, other, "");
            else if (in->op == IR_SUB)
                x = LLVMBuildFNeg(c->b, x, "");
            LLVMValueRef args[3] = {x, y, other};
            return cg_call_real(c, "llvm.fma", args, 3);  /* the product is dead now: any pass removes it */
        }
    }
    return cg_scalar_op(c, in->op, a, b, x3, in->f);
}

LLVMValueRef cg_program(Cg *c, const IrProgram *p, LLVMValueRef *val)
{
    int *uses = cg_program_uses(p);
    for (int k = 0; k < p->n; k++) {
        const IrInstr *in = &p->code[k];
        LLVMValueRef a = in->a >= 0 ? val[in->a] : NULL, b = in->b >= 0 ? val[in->b] : NULL;
        LLVMValueRef x3 = in->c >= 0 ? val[in->c] : NULL;
        val[p->nin + k] = cg_program_instr(c, p, uses, k, a, b, x3);
    }
    free(uses);
    return val[p->nin + p->n - 1];
}

void cg_strides(const IrShape *operand, const IrShape *result, CgStrides *s)
{
    memset(s, 0, sizeof *s);
    int extra = result->rank - operand->rank;
    int64_t stride = 1;
    bool batch = false;
    for (int i = result->rank - 1; i >= 0; i--) {
        int j = i - extra;
        if (j < 0 || (operand->dim[j] == 1 && result->dim[i] != 1)) {
            s->stride[i] = 0;
            continue;
        }
        s->stride[i] = stride;
        s->batch_scaled[i] = batch;
        if (operand->dim[j] == IR_BATCH)
            batch = true;
        else
            stride *= operand->dim[j];
    }
}

LLVMValueRef cg_offset_of(Cg *c, const IrShape *shape, int axes, const CgStrides *st, LLVMValueRef o)
{
    /* o's digits over axes [0, axes), innermost first: o % dim, then o / dim */
    LLVMValueRef off = cg_i64(c, 0), rest = o;
    for (int i = axes - 1; i >= 0; i--) {
        LLVMValueRef dim = cg_dim(c, shape->dim[i]);
        LLVMValueRef digit = i > 0 ? LLVMBuildSRem(c->b, rest, dim, "") : rest;
        if (i > 0)
            rest = LLVMBuildSDiv(c->b, rest, dim, "");
        if (st->stride[i] == 0)
            continue;
        LLVMValueRef s = cg_i64(c, st->stride[i]);
        if (st->batch_scaled[i])
            s = LLVMBuildNSWMul(c->b, s, cg_batch(c), "");
        off = LLVMBuildNSWAdd(c->b, off, LLVMBuildNSWMul(c->b, digit, s, ""), "");
    }
    return off;
}
