/* cg_module.c — a graph's module: its kernels and its entry function.
 *
 *   void NAME(RtCtx *ctx)
 *     for each node with a kernel, in order:
 *       rt_parallel(ctx->pool, extent, NAME.kI, ctx)   (or a direct call when small)
 *       (several ranks: rt_allreduce_start after a gradient's kernel,
 *        rt_allreduce_wait where its ALLREDUCE stands)
 *     then every updated parameter and state is copied over its input
 *     (unless its kernel wrote it there: cg_inplace.c).
 *
 * Kernels get the host's CPU and features and prefer 512-bit vectors; the
 * module is verified before it is optimized with default<O3> (loop and SLP
 * vectorization on).
 */
#include <llvm-c/Analysis.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"
#include "cg_module.h"

/* Work below this many items runs on the calling thread: waking the pool
 * costs more than it saves.  Not so a matmul's items, each MR rows of C
 * over all of K: the MNIST CNN's second convolution's weight gradient
 * ([64, 288] over 12,544 terms, 6 items) is 460 MFLOP, and ran on one
 * thread, a quarter of the step, while the other waited; its FLOPs alone
 * (threads_from_batch) say whether it is worth the pool. */
enum { PARALLEL_MIN_ITEMS = 8, PARALLEL_MIN_MATMUL_ITEMS = 2 };

/* Nor does a kernel smaller than this (at the step's batch) go to the pool:
 * a call costs about 1-2 us of synchronisation however small its work
 * (bench/pool_overhead.c), and the MNIST MLP's step was 25 calls, most of
 * them on [64, 10] or [64, 1].  The thresholds are about 10 us of work on
 * one core: a matmul's FLOPs at the ~100 GFLOP/s the tiled kernel keeps up,
 * and the bytes another kernel reads and writes at ~10 GB/s; below that,
 * the second thread saves less than the call costs.  One thread runs the
 * kernel as one item range, as with --threads 1: the same bits. */
#define PARALLEL_MIN_FLOPS 1.0e6
#define PARALLEL_MIN_BYTES (128.0 * 1024)

static int body_slots(const IrGraph *g, const int *group, int v, int **slots);

/* A kernel's work at a batch, as a fraction of the threshold (below 1: too
 * small for threads). */
static double work_at(Cg *c, int v, int64_t batch)
{
    const IrGraph *g = c->g;
    if (cg_is_matmul(g->nodes[v].op))
        return cg_matmul_flops(c, v, batch) / PARALLEL_MIN_FLOPS;
    double bytes = 0;
    int *slots, nslots = body_slots(g, c->group, v, &slots);  /* a group's buffers once each (cg_group.c) */
    for (int k = 0; k < nslots; k++)
        if (!cg_no_memory(&g->nodes[slots[k]]))
            bytes += (double)ir_elems(&g->nodes[slots[k]].shape, batch) * ir_type_size(g->nodes[slots[k]].type);
    free(slots);
    return bytes / PARALLEL_MIN_BYTES;
}

/* The least batch at which kernel v is worth the pool: 0 at every batch,
 * INT64_MAX at none.  Decided at run time against the step's batch, not
 * once at the plan's: a kernel judged small at the plan's batch of 64 stayed
 * on one thread when a library ran it on 1000 examples (and a large one went
 * to the pool for one example).  The work is affine in the batch (sizes are
 * products of fixed dimensions and at most one batch axis, and a
 * contraction over the batch is one more factor of it): w(b) = a·b + w0. */
static int64_t threads_from_batch(Cg *c, int v)
{
    double w1 = work_at(c, v, 1), a = work_at(c, v, 2) - w1, w0 = w1 - a;
    if (a <= 0)
        return w0 >= 1 ? 0 : INT64_MAX;
    double b = (1 - w0) / a;
    if (b <= 1)
        return 0;
    return b >= 1e15 ? INT64_MAX : (int64_t)b + ((double)(int64_t)b < b);  /* ceil */
}

static void add_string_attr(Cg *c, LLVMValueRef fn, const char *k, const char *v)
{
    LLVMAttributeRef a = LLVMCreateStringAttribute(c->ctx, k, (unsigned)strlen(k), v, (unsigned)strlen(v));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
}

/* A kernel body and what it was generated from. */
typedef struct Body {
    unsigned long long hash;
    char              *key;
    LLVMValueRef       fn;
} Body;

static unsigned long long hash_of(const char *s)
{
    unsigned long long h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Which of bodies[0..n) has key (hashed h), or n. */
static int find_body(const Body *bodies, int n, unsigned long long h, const char *key)
{
    int b = 0;
    while (b < n && !(bodies[b].hash == h && strcmp(bodies[b].key, key) == 0))
        b++;
    return b;
}

/* Whether node v runs a kernel body of its own: not a leaf, a call, a view
 * (its bytes are already there) or a member of a group its last member
 * launches (cg_group.c). */
static bool own_body(const IrGraph *g, const IrPlan *p, const int *group, int v)
{
    return cg_has_kernel(&g->nodes[v]) && !cg_is_call(&g->nodes[v]) && p->alias[v] < 0 && !cg_group_folded(group, v);
}

/* Everything the generators read about node v, as text: two nodes with the
 * same key get the same code, whatever their buffers. */
static void kernel_key(StrBuf *sb, const IrGraph *g, const IrPlan *p, int v, bool keep_across_calls)
{
    const IrNode *n = &g->nodes[v];
    bool flat = cg_flat_elementwise(g, v);  /* its code does not depend on the shape */
    sb_printf(sb, "%d %d ", (int)n->op, (int)n->type);
    if (flat)
        sb_puts(sb, "flat");
    else
        ir_shape_print(sb, &n->shape);
    int64_t ints[IR_ATTR_INTS];
    ir_attr_ints(&n->a, ints);
    for (int i = 0; i < IR_ATTR_INTS; i++)
        sb_printf(sb, " %lld", (long long)ints[i]);
    sb_printf(sb, " %a ", n->a.f);
    if (!flat)
        ir_shape_print(sb, &n->a.shape);
    /* a library's forward and its train step share bodies, but not a
     * product that only the forward computes the few-rows way: when they
     * did, batch 1 took the step's tiled path, packing W at every call
     * (the MNIST MLP on a Zen 4: 31.6-31.9 us a call, 3.7 the few-rows way) */
    if (cg_is_matmul(n->op) && cg_matmul_few_rows(g, v))
        sb_puts(sb, " few_rows");
    /* a product that keeps its packing across calls: the runtime finds its
     * region by the weight the body is called with (rt_kept_scratch), so
     * products of one shape share a body */
    if (keep_across_calls && cg_is_matmul(n->op) && cg_matmul_keeps_packing(g, p, v))
        sb_puts(sb, " kept");
    /* a product's items (panels or row blocks) and its paths are chosen at
     * the plan's batch (cg_matmul.c's planned_batch), which entries of one
     * compile may not share (a text model's decode step is planned at 1) */
    if (cg_is_matmul(n->op))
        sb_printf(sb, " batch %lld", (long long)(p ? p->batch : -1));
    if (n->a.prog) {
        sb_printf(sb, " prog %d", n->a.prog->nin);
        for (int k = 0; k < n->a.prog->n; k++) {
            const IrInstr *in = &n->a.prog->code[k];
            sb_printf(sb, " (%d %d %d %d %a)", (int)in->op, in->a, in->b, in->c, in->f);
        }
    }
    for (int k = 0; k < n->nin; k++) {
        const IrNode *u = &g->nodes[n->in[k]];
        sb_printf(sb, " | %d %d ", (int)(cg_no_memory(u) ? u->op : IR_INPUT), (int)u->type);
        if (!flat)
            ir_shape_print(sb, &u->shape);
        else if (u->shape.rank == 0)
            sb_puts(sb, "scalar");
        if (u->op == IR_CONST)
            sb_printf(sb, " %a", u->a.f);
        for (int q = 0; q < k; q++)  /* the same buffer twice is part of the shape of the code */
            if (n->in[q] == n->in[k])
                sb_printf(sb, " =%d", q);
    }
}

/* The last part of a kernel's and its body's names: its op, or "group" for
 * a group of kernels in one loop (cg_group.c), which the names of its
 * last member would hide. */
static const char *kernel_kind(const int *group, const IrNode *n, int v)
{
    return cg_group_launch(group, v) ? "group" : ir_ops[n->op].name;
}

/* A body's buffers: slots[0] = v and its operands'; or for a group that v
 * launches (cg_group.c), every member's result, then each operand outside
 * the group once.  Malloc'ed: the caller frees it. */
static int body_slots(const IrGraph *g, const int *group, int v, int **slots)
{
    int members[CG_GROUP_MAX], count = cg_group_members(g, group, v, members), n = 0, cap = 1;
    for (int q = 0; q < count; q++)
        cap += 1 + g->nodes[members[q]].nin;
    *slots = malloc(sizeof **slots * (size_t)cap);
    for (int q = 0; q < count; q++)
        (*slots)[n++] = members[q];
    for (int q = 0; q < count; q++)
        for (int k = 0; k < g->nodes[members[q]].nin; k++) {
            int u = g->nodes[members[q]].in[k];
            if (count == 1 || cg_index_of(*slots, n, u) < 0)  /* a lone kernel keeps an operand given twice twice */
                (*slots)[n++] = u;
        }
    return n;
}

/* kernel_key, and which operand the kernel writes over (cg_inplace.c):
 * the body reads it through its result's pointer.  For a group, each
 * member's, and which of the body's slots each member's operands are. */
static void body_key(StrBuf *sb, const IrGraph *g, const IrPlan *p, int v, const int *inplace, const int *group,
                     bool keep_across_calls)
{
    int members[CG_GROUP_MAX], count = cg_group_members(g, group, v, members), *slots = NULL;
    int nslots = count > 1 ? body_slots(g, group, v, &slots) : 0;
    for (int q = 0; q < count; q++) {
        int m = members[q];
        kernel_key(sb, g, p, m, keep_across_calls);
        for (int k = 0; k < g->nodes[m].nin && inplace && inplace[m] >= 0; k++)
            if (g->nodes[m].in[k] == inplace[m])
                sb_printf(sb, " inplace %d", k);
        for (int k = 0; k < g->nodes[m].nin && count > 1; k++)
            sb_printf(sb, " @%d", cg_index_of(slots, nslots, g->nodes[m].in[k]));
        sb_puts(sb, count > 1 ? " ;" : "");
    }
    free(slots);
}

static void init_types(Cg *c)
{
    c->t_void = LLVMVoidTypeInContext(c->ctx);
    c->t_i1 = LLVMInt1TypeInContext(c->ctx);
    c->t_i8 = LLVMInt8TypeInContext(c->ctx);
    c->t_i32 = LLVMInt32TypeInContext(c->ctx);
    c->t_i64 = LLVMInt64TypeInContext(c->ctx);
    c->t_ptr = LLVMPointerTypeInContext(c->ctx, 0);
    c->t_f32 = LLVMFloatTypeInContext(c->ctx);
    c->t_f64 = LLVMDoubleTypeInContext(c->ctx);
    c->t_real = c->g->ftype == IR_F64 ? c->t_f64 : c->t_f32;
    LLVMTypeRef params[3] = {c->t_ptr, c->t_i64, c->t_i64};
    c->t_kernel = LLVMFunctionType(c->t_void, params, 3, 0);
}

static void mark_function(Cg *c, LLVMValueRef fn, const CgTarget *t)
{
    if (t->cpu)
        add_string_attr(c, fn, "target-cpu", t->cpu);
    if (t->features)
        add_string_attr(c, fn, "target-features", t->features);
    /* Some CPUs' tuning prefers 256-bit vectors even with AVX-512: ask for 512. */
    add_string_attr(c, fn, "prefer-vector-width", "512");
    unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, nounwind, 0));
}

/* Node v's kernel body (its buffers in the parameters slots[k]) as
 * function bname: internal, or external and hidden when other modules of
 * the same object call it. */
/* A kernel body's buffers (body_slots) and the type of the body that takes
 * them, then the context, then the item range: void(ptr slots..., ptr ctx,
 * i64 from, i64 to).  *slots is the caller's to free. */
static LLVMTypeRef body_type(Cg *c, int v, int **slots, int *nslots)
{
    *nslots = body_slots(c->g, c->group, v, slots);
    LLVMTypeRef *p = malloc(sizeof *p * (size_t)(*nslots + 3));
    for (int k = 0; k < *nslots; k++)
        p[k] = c->t_ptr;
    p[*nslots] = c->t_ptr;
    p[*nslots + 1] = p[*nslots + 2] = c->t_i64;
    LLVMTypeRef t = LLVMFunctionType(c->t_void, p, (unsigned)*nslots + 3, 0);
    free(p);
    return t;
}

static LLVMValueRef make_body(Cg *c, int v, int *slots, int nslots, LLVMTypeRef body_t, const char *bname,
                              bool internal, const CgTarget *t)
{
    LLVMContextRef ctx = c->ctx;
    LLVMValueRef body = LLVMAddFunction(c->mod, bname, body_t);
    if (internal)
        LLVMSetLinkage(body, LLVMInternalLinkage);
    else
        LLVMSetVisibility(body, LLVMHiddenVisibility);
    mark_function(c, body, t);
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
    LLVMAddAttributeAtIndex(body, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(ctx, noinline, 0));
    for (int k = 0; k < nslots; k++) {
        bool repeated = false;  /* one buffer passed twice must not claim to be alone */
        for (int q = 0; q < nslots; q++)
            repeated |= q != k && slots[q] == slots[k];
        /* a matmul that may write over an old value (cg_inplace.c): its result and that value may be the same bytes */
        repeated |= c->inplace && c->inplace[v] >= 0 && !cg_is_elementwise(&c->g->nodes[v]) &&
                    (k == 0 || slots[k] == c->inplace[v]);
        if (!repeated)
            LLVMAddAttributeAtIndex(body, (unsigned)k + 1, LLVMCreateEnumAttribute(ctx, noalias, 0));
    }
    c->fn = body;
    c->slot_node = slots;
    c->nslots = nslots;
    c->ctx_arg = LLVMGetParam(body, (unsigned)nslots);
    c->begin_arg = LLVMGetParam(body, (unsigned)nslots + 1);
    c->end_arg = LLVMGetParam(body, (unsigned)nslots + 2);
    LLVMSetValueName2(c->ctx_arg, "ctx", 3);
    LLVMSetValueName2(c->begin_arg, "begin", 5);
    LLVMSetValueName2(c->end_arg, "end", 3);
    c->entry = LLVMAppendBasicBlockInContext(ctx, body, "entry");
    LLVMPositionBuilderAtEnd(c->b, c->entry);
    cg_kernel_body(c, v);
    LLVMBuildRetVoid(c->b);
    return body;
}

/* Node v's wrapper kernel (an RtTask): calls body with v's buffers, as
 * the plan places them. */
static LLVMValueRef make_wrapper(Cg *c, int v, const int *slots, int nslots, LLVMTypeRef body_t, LLVMValueRef body,
                                 const char *kname, const CgTarget *t)
{
    const IrGraph *g = c->g;
    c->fn = LLVMAddFunction(c->mod, kname, c->t_kernel);
    LLVMValueRef fn = c->fn;
    LLVMSetLinkage(c->fn, LLVMInternalLinkage);
    mark_function(c, c->fn, t);
    c->slot_node = NULL;
    c->nslots = 0;
    c->ctx_arg = LLVMGetParam(c->fn, 0);
    c->entry = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "entry");
    LLVMPositionBuilderAtEnd(c->b, c->entry);
    LLVMValueRef *args = malloc(sizeof *args * (size_t)(nslots + 3));
    for (int k = 0; k < nslots; k++) {
        args[k] = cg_no_memory(&g->nodes[slots[k]]) ? LLVMConstNull(c->t_ptr) : cg_base(c, slots[k]);
    }
    args[nslots] = c->ctx_arg;
    args[nslots + 1] = LLVMGetParam(c->fn, 1);
    args[nslots + 2] = LLVMGetParam(c->fn, 2);
    if (cg_flat_elementwise(g, v)) {  /* its body counts elements, the launch rows */
        LLVMValueRef len = cg_row_length(c, v);
        args[nslots + 1] = LLVMBuildNSWMul(c->b, args[nslots + 1], len, "");
        args[nslots + 2] = LLVMBuildNSWMul(c->b, args[nslots + 2], len, "");
    }
    LLVMBuildCall2(c->b, body_t, body, args, (unsigned)nslots + 3, "");
    LLVMBuildRetVoid(c->b);
    free(args);
    return fn;
}

/* In the entry: rt_allreduce_start(ctx, x, n, bucket, offset, bucket elements,
 * members, real bytes) with ALLREDUCE a's operand, or rt_allreduce_wait with
 * the operand and a's own buffer (nnc_runtime.h; the same bytes when the
 * plan shares them, plan.c).  The runtime copies x when it starts and
 * writes a's buffer only when waited for, at a (which reads x: it is still
 * there), so the plan's live ranges (x until a, a from a on) hold as for
 * any kernel. */
static void allreduce_call(Cg *c, int a, bool start)
{
    const IrNode *n = &c->g->nodes[a];
    const char *fn_name = start ? "rt_allreduce_start" : "rt_allreduce_wait";
    int npointers = start ? 2 : 3;   /* ctx, x (, out) */
    LLVMTypeRef params[9];
    LLVMValueRef args[9] = {c->ctx_arg, cg_base(c, n->in[0])};
    if (!start)
        args[2] = cg_base(c, a);
    LLVMValueRef sizes[6] = {cg_elems(c, &n->shape, 0, n->shape.rank), cg_i64(c, n->a.i[0]), cg_i64(c, n->a.i[1]),
                             cg_i64(c, n->a.i[2]), cg_i64(c, n->a.i[3]), cg_i64(c, ir_type_size(n->type))};
    for (int i = 0; i < 9; i++)
        params[i] = i < npointers ? c->t_ptr : c->t_i64;
    for (int i = 0; i < 6; i++)
        args[npointers + i] = sizes[i];
    LLVMTypeRef ft = LLVMFunctionType(c->t_void, params, (unsigned)npointers + 6, 0);
    LLVMValueRef fn = cg_declare(c, fn_name, ft);
    LLVMBuildCall2(c->b, ft, fn, args, (unsigned)npointers + 6, "");
}

/* Kernel launches per function of an entry: the launches are one basic
 * block, and LLVM's instruction selection (SelectionDAG, a block at a time)
 * costs more than linearly in a block's size: the step of a 64-block GPT
 * (8,000 launches) spent most of its machine-code time there. */
enum { ENTRY_PART = 128 };

/* c->fn: a new function `void name(RtCtx *ctx)`, the builder at its entry. */
static void begin_function(Cg *c, const char *name, LLVMTypeRef step_t, const CgTarget *t)
{
    c->fn = LLVMAddFunction(c->mod, name, step_t);
    mark_function(c, c->fn, t);
    c->ctx_arg = LLVMGetParam(c->fn, 0);
    c->entry = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "entry");
    LLVMPositionBuilderAtEnd(c->b, c->entry);
}

/* The entry `void name(RtCtx *ctx)`: each kernel[v] in order, then the
 * updates copied over their inputs.  Past ENTRY_PART launches they go in
 * internal, never inlined functions name.part0, name.part1, ... that the
 * entry calls in order. */
static void make_entry(Cg *c, const char *name, LLVMValueRef *kernel, const CgTarget *t)
{
    const IrGraph *g = c->g;
    c->slot_node = NULL;
    c->nslots = 0;
    LLVMTypeRef step_t = LLVMFunctionType(c->t_void, &c->t_ptr, 1, 0);
    LLVMTypeRef par_params[4] = {c->t_ptr, c->t_i64, c->t_ptr, c->t_ptr};
    LLVMTypeRef par_t = LLVMFunctionType(c->t_void, par_params, 4, 0);
    LLVMValueRef par = cg_declare(c, "rt_parallel", par_t);
    /* starts[v]: the first ALLREDUCE whose gradient v makes, chained by next[] */
    int *starts = malloc(sizeof *starts * (size_t)(2 * g->n + 1)), *next = starts + g->n;
    for (int v = 0; v < g->n; v++)
        starts[v] = -1;
    for (int a = g->n - 1; a >= 0; a--)
        if (cg_is_call(&g->nodes[a])) {
            next[a] = starts[g->nodes[a].in[0]];
            starts[g->nodes[a].in[0]] = a;
        }
    int launches = 0;
    for (int v = 0; v < g->n; v++)
        launches += kernel[v] != NULL;
    int nparts = launches > ENTRY_PART ? (launches + ENTRY_PART - 1) / ENTRY_PART : 0, done = 0;
    LLVMValueRef *parts = calloc((size_t)nparts + 1, sizeof *parts);
    unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
    if (!nparts)
        begin_function(c, name, step_t, t);
    for (int v = 0; v < g->n; v++) {
        /* a part begins at a kernel: an ALLREDUCE always follows its gradient's */
        if (nparts && kernel[v] && done % ENTRY_PART == 0) {
            if (done)
                LLVMBuildRetVoid(c->b);
            char pname[256];
            snprintf(pname, sizeof pname, "%s.part%d", name, done / ENTRY_PART);
            begin_function(c, pname, step_t, t);
            LLVMSetLinkage(c->fn, LLVMInternalLinkage);
            LLVMAddAttributeAtIndex(c->fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, noinline, 0));
            parts[done / ENTRY_PART] = c->fn;
        }
        if (cg_is_call(&g->nodes[v]))  /* wait for the gradient's bucket, then its share of the sum */
            allreduce_call(c, v, false);
        if (kernel[v]) {
            done++;
            LLVMValueRef extent = cg_kernel_extent(c, v);
            int64_t from = threads_from_batch(c, v);
            int min_items = cg_is_matmul(g->nodes[v].op) ? PARALLEL_MIN_MATMUL_ITEMS : PARALLEL_MIN_ITEMS;
            if (LLVMIsAConstantInt(extent) && LLVMConstIntGetSExtValue(extent) < min_items)
                from = INT64_MAX;
            LLVMBasicBlockRef direct = NULL, pooled = NULL, joined = NULL;
            if (from > 0 && from < INT64_MAX) {  /* the step's batch decides */
                direct = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "direct");
                pooled = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "pooled");
                joined = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "called");
                LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, cg_batch(c), cg_i64(c, from), "big"), pooled, direct);
                LLVMPositionBuilderAtEnd(c->b, direct);
            }
            if (from > 0) {
                LLVMValueRef args[3] = {c->ctx_arg, cg_i64(c, 0), extent};
                LLVMBuildCall2(c->b, c->t_kernel, kernel[v], args, 3, "");
            }
            if (pooled) {
                LLVMBuildBr(c->b, joined);
                LLVMPositionBuilderAtEnd(c->b, pooled);
            }
            if (from < INT64_MAX) {
                LLVMValueRef args[4] = {cg_pool(c), extent, kernel[v], c->ctx_arg};
                LLVMBuildCall2(c->b, par_t, par, args, 4, "");
            }
            if (joined) {
                LLVMBuildBr(c->b, joined);
                LLVMPositionBuilderAtEnd(c->b, joined);
            }
        }
        for (int a = starts[v]; a >= 0; a = next[a])  /* a gradient is final once v has run: send it now */
            allreduce_call(c, a, true);
    }
    free(starts);
    if (nparts) {
        LLVMBuildRetVoid(c->b);
        begin_function(c, name, step_t, t);
        for (int k = 0; k < nparts; k++)
            LLVMBuildCall2(c->b, step_t, parts[k], &c->ctx_arg, 1, "");
    }
    free(parts);
    /* new parameters and state over the old: only now, when nothing reads the old */
    for (int o = 0; o < g->nouts; o++) {
        const IrOutput *out = &g->outs[o];
        if (out->kind != OUT_UPDATE || out->value == out->updates)
            continue;
        if (cg_no_memory(&g->nodes[out->value])) {
            /* a constant update (rare: simplified away): store it */
            cg_store(c, out->updates, cg_i64(c, 0), cg_leaf_scalar(c, out->value));
            continue;
        }
        /* written in place (cg_inplace.c): nothing to copy, or only when this call did not */
        LLVMBasicBlockRef copied = NULL;
        if (c->inplace && c->inplace[out->value] == out->updates) {
            LLVMValueRef when = cg_inplace_when(c, out->value);
            if (!when)
                continue;
            if (!cg_inplace_never(when)) {
                LLVMBasicBlockRef copy = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "copy");
                copied = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "copied");
                LLVMBuildCondBr(c->b, when, copied, copy);
                LLVMPositionBuilderAtEnd(c->b, copy);
            }
        }
        const IrNode *dst = &g->nodes[out->updates];
        LLVMValueRef bytes = LLVMBuildNSWMul(c->b, cg_elems(c, &dst->shape, 0, dst->shape.rank),
                                             cg_i64(c, ir_type_size(dst->type)), "");
        LLVMValueRef from = cg_planned_base(c, out->value), to = cg_base(c, out->updates);
        LLVMBuildMemCpy(c->b, to, 0, from, 0, bytes);  /* alignments 0: none claimed */
        if (copied) {
            LLVMBuildBr(c->b, copied);
            LLVMPositionBuilderAtEnd(c->b, copied);
        }
    }
    LLVMBuildRetVoid(c->b);
}

int cg_build_module(LLVMContextRef ctx, LLVMModuleRef mod, const IrGraph *g, const IrPlan *p, const char *name,
                    const CgTarget *t, const char **err)
{
    int *inplace = cg_inplace_plan(g, p->alias), *group = cg_group_plan(g, p, inplace);
    Cg cg = {.ctx = ctx, .mod = mod, .g = g, .plan = p, .tune = t->tune, .inplace = inplace,
             .group = group};
    Cg *c = &cg;
    init_types(c);
    c->b = LLVMCreateBuilderInContext(ctx);
    c->tables = calloc((size_t)g->n + 1, sizeof *c->tables);
    LLVMValueRef *kernel = calloc((size_t)g->n + 1, sizeof *kernel);
    /* Kernels that would generate the same code share one body; each node
     * gets a small wrapper that passes its buffers (noalias) to it. */
    Body *bodies = calloc((size_t)g->n + 1, sizeof *bodies);
    int nbodies = 0;
    for (int v = 0; v < g->n; v++) {
        if (!own_body(g, p, group, v))
            continue;
        const IrNode *n = &g->nodes[v];
        int nslots, *slots;
        LLVMTypeRef body_t = body_type(c, v, &slots, &nslots);
        StrBuf key = {0};
        body_key(&key, g, c->plan, v, c->inplace, c->group, c->keep_across_calls);
        unsigned long long h = hash_of(sb_cstr(&key));
        int b = find_body(bodies, nbodies, h, sb_cstr(&key));
        LLVMValueRef body = b < nbodies ? bodies[b].fn : NULL;
        if (!body) {
            char bname[256];
            snprintf(bname, sizeof bname, "%s.body%d.%s", name, nbodies, kernel_kind(c->group, n, v));
            body = make_body(c, v, slots, nslots, body_t, bname, true, t);
            bodies[nbodies++] = (Body){h, strdup(sb_cstr(&key)), body};
        }
        sb_free(&key);
        /* the wrapper: this node's buffers, by the plan */
        char kname[256];
        snprintf(kname, sizeof kname, "%s.k%d.%s", name, v, kernel_kind(c->group, n, v));
        kernel[v] = make_wrapper(c, v, slots, nslots, body_t, body, kname, t);
        free(slots);
    }
    for (int b = 0; b < nbodies; b++)
        free(bodies[b].key);
    free(bodies);
    c->slot_node = NULL;
    c->nslots = 0;

    make_entry(c, name, kernel, t);
    LLVMDisposeBuilder(c->b);
    free(c->tables);
    free(kernel);
    free(inplace);
    free(group);

    char *msg = NULL;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
        static char buf[2048];
        snprintf(buf, sizeof buf, "generated LLVM IR does not verify: %s", msg ? msg : "?");
        LLVMDisposeMessage(msg);
        *err = buf;
        return -1;
    }
    LLVMDisposeMessage(msg);
    return 0;
}

/* LLVM's options nnc always sets, once per process, before
 * $NNC_LLVM_ARGS (a later occurrence wins: -disable-lsr=false restores it).
 * -disable-lsr: Loop Strength Reduction, in the code generator's IR
 * passes, was 16% of the MNIST MLP's cold compile's instructions and a
 * quarter to a third of the machine-code time of its elementwise and
 * matmul modules; without it the MLP's object took 0.81 of the
 * instructions, the CNN's 0.85 (callgrind, --emit=obj), and the step's kernels
 * ran as fast (bench/kernels.sh, one thread, 3 rounds: MLP 0.99, CNN 0.90,
 * GPT 1.00 of the samples; the same checkpoint bits: LSR only rewrites
 * address arithmetic).  Part of the cache key. */
const char *cg_llvm_options(void) { return "-disable-lsr"; }

/* Splits s at spaces into argv[*argc...] (at most max), in buf. */
static void add_args(char *buf, size_t size, const char *s, const char **argv, int *argc, int max)
{
    snprintf(buf, size, "%s", s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok && *argc < max; tok = strtok_r(NULL, " ", &save))
        argv[(*argc)++] = tok;
}

/* cg_llvm_options() and $NNC_LLVM_ARGS, once per process: LLVM's own
 * options, the latter for measuring the compiler (NNC_LLVM_ARGS=-time-passes
 * prints where the time goes). */
static void llvm_args(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    static char own[256], buf[1024];
    static const char *argv[32];
    int argc = 0;
    argv[argc++] = "nnc";
    add_args(own, sizeof own, cg_llvm_options(), argv, &argc, 31);
    const char *env = getenv("NNC_LLVM_ARGS");
    add_args(buf, sizeof buf, env ? env : "", argv, &argc, 31);
    LLVMParseCommandLineOptions(argc, argv, "nnc");
}

int cg_host_target(CgTarget *t, const CgOptions *o, const char **err)
{
    const char *cpu = o ? o->cpu : NULL;
    llvm_args();
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    t->triple = LLVMGetDefaultTargetTriple();
    t->cpu = cpu ? strdup(cpu) : LLVMGetHostCPUName();
    t->features = cpu ? strdup("") : LLVMGetHostCPUFeatures();
    t->tune = o && o->tune ? o->tune : cg_tune_for(t->cpu, t->features);
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(t->triple, &t->target, &msg)) {
        static char buf[512];
        snprintf(buf, sizeof buf, "no LLVM target for %s: %s", t->triple, msg ? msg : "?");
        LLVMDisposeMessage(msg);
        *err = buf;
        return -1;
    }
    return 0;
}

LLVMTargetMachineRef cg_target_machine(const CgTarget *t)
{
    return LLVMCreateTargetMachine(t->target, t->triple, t->cpu, t->features, LLVMCodeGenLevelAggressive,
                                   LLVMRelocPIC, LLVMCodeModelDefault);
}

/* An empty module in ctx for t, with tm's data layout (the one the code is
 * emitted with). */
LLVMModuleRef cg_module_for(LLVMContextRef ctx, const char *name, const CgTarget *t, LLVMTargetMachineRef tm)
{
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext(name, ctx);
    LLVMSetTarget(mod, t->triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    char *layout = LLVMCopyStringRepOfTargetData(td);
    LLVMSetDataLayout(mod, layout);
    LLVMDisposeMessage(layout);
    LLVMDisposeTargetData(td);
    return mod;
}

/* The wrappers and entries are address arithmetic and calls, run once per
 * kernel launch: fast instruction selection and register allocation
 * (LLVM's -O0 code generation) take a tenth of the time, and the step does
 * not notice (the GPT's entries module: 790 ms of machine code at
 * Aggressive, 43 ms at None, CPU on a loaded machine). */
LLVMTargetMachineRef cg_target_machine_for(const CgTarget *t, int level)
{
    if (level != CG_LEVEL_ENTRIES)
        return cg_target_machine(t);
    return LLVMCreateTargetMachine(t->target, t->triple, t->cpu, t->features, LLVMCodeGenLevelNone, LLVMRelocPIC,
                                   LLVMCodeModelDefault);
}

const char *cg_codegen_level(int level)
{
    return level == CG_LEVEL_ENTRIES ? "none" : "aggressive";  /* cg_target_machine_for */
}

/* The matmul bodies' pipeline, written out: their register tile is
 * unrolled and vectorized by hand (explicit llvm.fma on vectors), so of
 * default<O3> they need what makes the rest of the code good: the
 * accumulators out of memory (sroa), the constant arguments of their
 * packing function propagated (ipsccp), loops rotated and their invariant
 * address arithmetic hoisted (licm), redundant loads gone (gvn), the
 * packing and epilogue loops vectorized.  default<O3> spent about twice
 * the optimisation time on the same bodies (the MNIST MLP's matmul module:
 * 230 -> 110 ms CPU, machine code unchanged at ~150 ms) for no faster step,
 * and its microkernel loop kept two spills the shorter pipeline does not.
 * The bits are those of default<O3>: nothing here contracts or
 * reassociates differently (bench/bits.sh: the four examples' checkpoints
 * identical).  instcombine without its fixpoint check, as the default
 * pipelines run it (the check aborts when one run does not reach it). */
#define PRODUCTS_INSTCOMBINE "instcombine<no-verify-fixpoint>"
#define PRODUCTS_PIPELINE                                                                                       \
    "ipsccp,function(sroa,early-cse,simplifycfg," PRODUCTS_INSTCOMBINE ",loop-mssa(loop-rotate,licm),simplifycfg," \
    PRODUCTS_INSTCOMBINE ",loop(indvars),gvn,loop-vectorize," PRODUCTS_INSTCOMBINE ",simplifycfg,loop-mssa(licm))"

const char *cg_pipeline(int level)
{
    if (level == CG_LEVEL_ENTRIES)  /* each wrapper's repeated loads of the context merged; nothing more pays */
        return "function(early-cse)";
    if (level == CG_LEVEL_PRODUCTS)
        return PRODUCTS_PIPELINE;
    if (level == CG_LEVEL_REDUCE)
        return "default<O2>";
    return level <= 0 ? "" : level >= 3 ? "default<O3>" : level == 2 ? "default<O2>" : "default<O1>";
}

/* LLVM's loop unroller runs at every level but the products' and the
 * reductions' (body_kind). */
bool cg_unrolls(int level) { return level > 0; }

int cg_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, int level, const char **err)
{
    if (!*cg_pipeline(level))
        return 0;
    LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(o, 1);
    LLVMPassBuilderOptionsSetSLPVectorization(o, 1);  /* off by default in the C API */
    LLVMPassBuilderOptionsSetLoopUnrolling(o, cg_unrolls(level));
    LLVMErrorRef e = LLVMRunPasses(mod, cg_pipeline(level), tm, o);
    LLVMDisposePassBuilderOptions(o);
    if (e) {
        char *m = LLVMGetErrorMessage(e);
        static _Thread_local char buf[512];  /* modules are optimized on several threads */
        snprintf(buf, sizeof buf, "LLVM optimization failed: %s", m);
        LLVMDisposeErrorMessage(m);
        *err = buf;
        return -1;
    }
    return 0;
}

void cg_target_free(CgTarget *t)
{
    LLVMDisposeMessage(t->triple);
    free(t->cpu);
    free(t->features);
}

/* ---- several entries, their kernels split over modules ---------------------------------- */

/* What compiling a body of op costs, roughly, relative to an elementwise
 * loop (the matmul's packing and register tile dominate every model). */
static double body_cost(IrOp op)
{
    if (cg_is_matmul(op))
        return 12;
    if (ir_ops[op].flags & OPF_WINDOW)   /* windows, patches, pooling: nested window loops */
        return 4;
    if (cg_is_rows(op))
        return 3;
    return ir_ops[op].flags & OPF_FUSED ? 2 : 1;  /* a fused elementwise chain, or one op */
}

/* Which modules a body goes to.  Light: the elementwise loops (plain or
 * fused), which default<O2> vectorizes alike in less time.  Heavy: rows,
 * windows, pooling, layout at default<O3> (with O2 for every body but the
 * matmuls, the CNN's training took more CPU: 9.1-9.6 s against 7.2-8.4 s
 * for 100 steps on one thread).  Products: the matmuls, at default<O3>
 * without LLVM's loop unroller (CG_LEVEL_PRODUCTS): their register tile is
 * unrolled by hand and the vectorizer interleaves the rest, and the
 * unroller doubled their optimization and machine-code time (the MNIST
 * MLP's whole compile took 0.55 of the CPU without it).  Reductions: sums
 * over any axes, argmax, one_hot, random masks, gathers, scatters, casts
 * and broadcasts, at default<O2> without the unroller (CG_LEVEL_REDUCE):
 * nearly half the CNN's bodies, whose loops the vectorizer handles alone;
 * the rest of the heavy kind needs the unroller of O3 (perf, one thread:
 * the MLP's softmax rows of 10 ran 6-8x slower without it, fully unrolled
 * into registers; the CNN's NCHW permute 2x; the GPT's long rows 1.3-2.9x),
 * these lost about a fifth of their few samples at most. */
enum { KIND_LIGHT, KIND_HEAVY, KIND_PRODUCT, KIND_REDUCE, KINDS };
static int body_kind(IrOp op)
{
    if (cg_is_matmul(op))
        return KIND_PRODUCT;
    unsigned flags = ir_ops[op].flags;
    if (cg_is_rows(op) || (flags & (OPF_WINDOW | OPF_LAYOUT)))
        return KIND_HEAVY;
    /* elementwise ops and the chains fusion made of them (the other fused
     * ops, rows and matmuls with epilogues, are taken above) */
    return flags & (OPF_ELEMENTWISE | OPF_FUSED) ? KIND_LIGHT : KIND_REDUCE;
}

/* Assigns bodies [order...] (most costly first) of one kind (-1: all) to
 * modules [first, first + count), each to the least loaded. */
static void assign(CgSplit *s, const int *order, int nb, int kind, int first, int count)
{
    for (int x = 0; x < nb; x++) {
        int b = order[x];
        if (kind >= 0 && body_kind(s->op[b]) != kind)
            continue;
        int best = first;
        for (int q = first + 1; q < first + count; q++)
            if (s->cost[q] < s->cost[best])
                best = q;
        s->part[b] = best;
        s->cost[best] += body_cost(s->op[b]);
    }
}

int cg_split(const CgEntry *e, int n, int nparts, int level, CgSplit *s)
{
    *s = (CgSplit){0};
    s->body = calloc((size_t)n, sizeof *s->body);
    s->inplace = calloc((size_t)n, sizeof *s->inplace);
    s->group = calloc((size_t)n, sizeof *s->group);
    int cap = 16;
    Body *bodies = malloc(sizeof *bodies * (size_t)cap);
    s->op = malloc(sizeof *s->op * (size_t)cap);
    for (int i = 0; i < n; i++) {
        const IrGraph *g = e[i].g;
        int *inplace = s->inplace[i] = cg_inplace_plan(g, e[i].p->alias);
        int *group = s->group[i] = cg_group_plan(g, e[i].p, inplace);
        s->body[i] = malloc(sizeof **s->body * (size_t)(g->n + 1));
        for (int v = 0; v < g->n; v++) {
            s->body[i][v] = -1;
            if (!own_body(g, e[i].p, group, v))
                continue;
            StrBuf key = {0};
            body_key(&key, g, e[i].p, v, inplace, group, e[i].keep_across_calls);
            unsigned long long h = hash_of(sb_cstr(&key));
            int b = find_body(bodies, s->nbodies, h, sb_cstr(&key));
            if (b == s->nbodies) {
                if (s->nbodies == cap) {
                    cap *= 2;
                    bodies = realloc(bodies, sizeof *bodies * (size_t)cap);
                    s->op = realloc(s->op, sizeof *s->op * (size_t)cap);
                }
                bodies[b] = (Body){h, strdup(sb_cstr(&key)), NULL};
                s->op[b] = g->nodes[v].op;
                s->nbodies++;
            }
            sb_free(&key);
            s->body[i][v] = b;
        }
    }
    for (int b = 0; b < s->nbodies; b++)
        free(bodies[b].key);
    free(bodies);
    /* the most costly first, each to the least loaded module of its kind
     * (ties: the lower index, so every run splits alike); module 0 holds
     * the wrappers and entries alone (CG_LEVEL_ENTRIES), then come the
     * light modules, the heavy ones and the products' */
    nparts = nparts < 1 ? 1 : KINDS * nparts + 1 > CG_MAX_PARTS ? (CG_MAX_PARTS - 1) / KINDS : nparts;
    int count[KINDS] = {0}, parts[KINDS] = {0}, first[KINDS];
    for (int b = 0; b < s->nbodies; b++)
        count[level >= 3 ? body_kind(s->op[b]) : KIND_LIGHT]++;  /* below O3 all bodies are alike */
    s->nparts = 1;
    for (int k = 0; k < KINDS; k++) {
        parts[k] = count[k] < nparts ? count[k] : nparts;
        first[k] = s->nparts;
        s->nparts += parts[k];
    }
    int kind_level[KINDS] = {level >= 3 ? 2 : level, level, level >= 3 ? CG_LEVEL_PRODUCTS : level,
                             level >= 3 ? CG_LEVEL_REDUCE : level};
    s->level[0] = level > 0 ? CG_LEVEL_ENTRIES : level;
    for (int k = 0; k < KINDS; k++)
        for (int q = first[k]; q < first[k] + parts[k]; q++)
            s->level[q] = kind_level[k];
    for (int i = 0; i < n; i++)  /* a wrapper and a launch: about a tenth of an elementwise body */
        for (int v = 0; v < e[i].g->n; v++)
            s->cost[0] += s->body[i][v] >= 0 ? 0.1 : 0;
    s->part = malloc(sizeof *s->part * (size_t)(s->nbodies + 1));
    int *order = malloc(sizeof *order * (size_t)(s->nbodies + 1));
    for (int b = 0; b < s->nbodies; b++)
        order[b] = b;
    for (int x = 1; x < s->nbodies; x++)  /* insertion sort: stable, and bodies are few */
        for (int y = x; y > 0 && body_cost(s->op[order[y]]) > body_cost(s->op[order[y - 1]]); y--) {
            int tmp = order[y];
            order[y] = order[y - 1];
            order[y - 1] = tmp;
        }
    if (level >= 3)
        for (int k = 0; k < KINDS; k++)
            assign(s, order, s->nbodies, k, first[k], parts[k]);
    else
        assign(s, order, s->nbodies, -1, first[KIND_LIGHT], parts[KIND_LIGHT]);
    free(order);
    return 0;
}

void cg_split_free(CgSplit *s, int n)
{
    for (int i = 0; i < n && s->body; i++)
        free(s->body[i]);
    for (int i = 0; i < n && s->inplace; i++)
        free(s->inplace[i]);
    for (int i = 0; i < n && s->group; i++)
        free(s->group[i]);
    free(s->group);
    free(s->body);
    free(s->inplace);
    free(s->part);
    free(s->op);
}

int cg_build_part(LLVMContextRef ctx, LLVMModuleRef mod, const CgEntry *e, int n, const CgSplit *s, int part,
                  const CgTarget *t, const char **err)
{
    Cg cg = {.ctx = ctx, .mod = mod, .tune = t->tune};
    Cg *c = &cg;
    c->b = LLVMCreateBuilderInContext(ctx);
    LLVMValueRef *fns = calloc((size_t)s->nbodies + 1, sizeof *fns);  /* bodies defined or declared here */
    for (int i = 0; i < n; i++) {
        const IrGraph *g = e[i].g;
        c->g = g;
        c->plan = e[i].p;
        c->inplace = s->inplace[i];
        c->group = s->group[i];
        c->keep_across_calls = e[i].keep_across_calls;
        init_types(c);
        c->tables = calloc((size_t)g->n + 1, sizeof *c->tables);
        LLVMValueRef *kernel = calloc((size_t)g->n + 1, sizeof *kernel);
        for (int v = 0; v < g->n; v++) {
            int b = s->body[i][v];
            if (b < 0 || (part != 0 && (s->part[b] != part || fns[b])))
                continue;
            const IrNode *nd = &g->nodes[v];
            int nslots, *slots;
            LLVMTypeRef body_t = body_type(c, v, &slots, &nslots);
            char bname[256];
            snprintf(bname, sizeof bname, "%s.body%d.%s", e[0].name, b, kernel_kind(s->group[i], nd, v));
            if (!fns[b] && s->part[b] == part)
                fns[b] = make_body(c, v, slots, nslots, body_t, bname, s->nparts == 1, t);
            if (part == 0) {
                if (!fns[b]) {  /* compiled in another module of the same object */
                    fns[b] = LLVMAddFunction(mod, bname, body_t);
                    LLVMSetVisibility(fns[b], LLVMHiddenVisibility);
                }
                char kname[256];
                snprintf(kname, sizeof kname, "%s.k%d.%s", e[i].name, v, kernel_kind(s->group[i], nd, v));
                kernel[v] = make_wrapper(c, v, slots, nslots, body_t, fns[b], kname, t);
            }
            free(slots);
        }
        if (part == 0)
            make_entry(c, e[i].name, kernel, t);
        free(kernel);
        free(c->tables);
        c->inplace = NULL;
        c->group = NULL;
    }
    free(fns);
    LLVMDisposeBuilder(c->b);
    char *msg = NULL;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
        static _Thread_local char buf[2048];
        snprintf(buf, sizeof buf, "generated LLVM IR does not verify: %s", msg ? msg : "?");
        LLVMDisposeMessage(msg);
        *err = buf;
        return -1;
    }
    LLVMDisposeMessage(msg);
    return 0;
}
