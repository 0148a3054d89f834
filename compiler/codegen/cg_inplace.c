/* cg_inplace.c — updates written over the values they replace.
 *
 * The memory plan gives a new parameter (or optimizer state) a buffer of
 * its own, and the step's entry used to copy it over the old one at the
 * end (cg_module.c make_entry), serially, on the calling thread.  When
 * the kernel that makes the new value reads the old one only at the
 * element it writes, and nothing reads the old value after that kernel,
 * the kernel can write straight into the old value's bytes, and the copy
 * goes.
 *
 * Which kernels: elementwise ones (a fused optimizer update: every result
 * element from its operands' elements at the same index), with the old
 * value an operand of the result's own shape; and a matmul whose epilogue
 * is the update (a weight's gradient times the learning rate, taken from
 * the weight), with the old value an epilogue operand of C's shape, not A
 * or B.  The epilogue reads the old element and then stores the new one at
 * the same place.  But a matmul that takes K in several chunks keeps its
 * partial sums in C between them (cg_matmul.c), which would overwrite the
 * old value before the epilogue reads it: such a matmul writes in place
 * only when its K makes one chunk, which for a weight's gradient depends on
 * the batch, so the choice is made at run time (cg_matmul_one_chunk) and
 * the entry still copies when it went the other way.
 *
 * The bits are those of the copy: the same kernel computes the same values,
 * only where they land differs.  The plan is not changed (the new value
 * keeps its buffer, unused when written in place), so its dumps and sizes
 * are as before.  An elementwise body that writes in place (it always
 * does) reads the old value through its result's pointer (cg_base), not the
 * old value's own parameter: the parameters are noalias, which two pointers
 * to the same bytes would break, and with one pointer LLVM vectorizes the
 * loop as it did before (with two parameters that may alias it checked at
 * run time and kept a scalar loop whose fmul and fsub, in two blocks, no
 * longer became one FMA: other bits).  A matmul's body, which writes in
 * place or not as the call's K says, reads the old value through its own
 * parameter, and neither that nor the result's is noalias.  The body's key
 * says which operand it writes over.  Elementwise kernels of one row (rank 0
 * or 1: a bias and its state) still go through the copy: their loop over
 * rows reads the old value at the same place for every row, so with one
 * pointer LLVM cannot hoist the loads out of that loop as it did with two,
 * the fmul is hoisted without its fsub, and the FMA they made is gone (the
 * MNIST MLP's logits.bias moved by an ulp).  Their copies are small.
 */
#include <stdlib.h>

#include "cg_internal.h"

/* Whether kernel v reads p only as "the element it writes": p is an operand
 * of v's shape and type, read where v's element is (elementwise), or an
 * epilogue operand of a matmul (not A or B). */
static bool reads_at_own_element(const IrGraph *g, int v, int p)
{
    const IrNode *n = &g->nodes[v], *old = &g->nodes[p];
    if (old->type != n->type || !ir_shape_equal(&old->shape, &n->shape))
        return false;
    if (cg_is_elementwise(n))
        return n->shape.rank >= 2;  /* one row (a bias): see the opening comment */
    if (n->op != IR_MATMUL_EPI)
        return false;
    return n->in[0] != p && n->in[1] != p;
}

int *cg_inplace_plan(const IrGraph *g, const int *alias)
{
    /* over[v]: the answer; last[u]: the last node that reads u; named[u]:
     * outputs that name u (as value or as what an update replaces), plus
     * one per view of u (a view's bytes are u's, read through the plan) */
    int *over = malloc(sizeof *over * (size_t)(3 * g->n + 1));
    if (!over)
        return NULL;
    int *last = over + g->n, *named = last + g->n;
    for (int v = 0; v < g->n; v++) {
        over[v] = last[v] = -1;
        named[v] = alias && alias[v] >= 0;  /* a view is no kernel's own buffer */
    }
    for (int w = 0; w < g->n; w++) {
        for (int k = 0; k < g->nodes[w].nin; k++)
            last[g->nodes[w].in[k]] = w;
        if (alias && alias[w] >= 0)
            named[alias[w]]++;
    }
    for (int o = 0; o < g->nouts; o++) {
        if (g->outs[o].value >= 0)
            named[g->outs[o].value]++;
        if (g->outs[o].kind == OUT_UPDATE && g->outs[o].updates >= 0)
            named[g->outs[o].updates]++;
    }
    for (int o = 0; o < g->nouts; o++) {
        const IrOutput *out = &g->outs[o];
        int v = out->value, p = out->updates;
        if (out->kind != OUT_UPDATE || v == p || v < 0 || p < 0 || cg_no_memory(&g->nodes[v]))
            continue;
        if (g->nodes[p].op != IR_INPUT || !cg_has_kernel(&g->nodes[v]) || cg_is_call(&g->nodes[v]))
            continue;
        /* v and p named by this update alone, p read by nothing after v */
        if (named[v] != 1 || named[p] != 1 || last[p] != v || !reads_at_own_element(g, v, p))
            continue;
        over[v] = p;
    }
    return over;
}

LLVMValueRef cg_inplace_when(Cg *c, int v)
{
    if (!cg_is_matmul(N(c, v)->op))
        return NULL;
    return cg_matmul_one_chunk(c, v);
}

/* Constant false: this call never writes in place. */
bool cg_inplace_never(LLVMValueRef when) { return when && LLVMIsAConstantInt(when) && !LLVMConstIntGetZExtValue(when); }

LLVMValueRef cg_inplace_base(Cg *c, int v)
{
    LLVMValueRef when = cg_inplace_when(c, v);
    if (cg_inplace_never(when))
        return cg_planned_base(c, v);
    LLVMValueRef over = cg_base(c, c->inplace[v]);
    if (!when)
        return over;
    return LLVMBuildSelect(c->b, when, over, cg_planned_base(c, v), "in_place");
}
