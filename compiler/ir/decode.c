/* decode.c — which models have a decode entry; see lower_decode_block in
 * lower.h.
 *
 * Decode mode computes one position of a sequence from the keys and values
 * of the earlier ones, so it is right only where the positions of the
 * sequence meet nowhere but in causal attention.  The rule is checked on
 * the nodes the output depends on: a value with the batch keeps the
 * sequence as its first per-example axis, and each built-in either works on
 * each position alone (elementwise, along the last axis of a value of
 * rank >= 2, or along axes other than the first) or is causal attention.
 * Values without the batch (parameters, positional tables, literals) are
 * the same for every example and position;
 * lowering reads a [T, ...] one at the position where it meets the sequence.
 * Anything else (flatten, reshape, concat, slicing, convolution, pooling,
 * a reduction over the positions, non-causal attention) is refused with
 * the reason, and --sample recomputes the window instead.
 */
#include "lower.h"

#include <string.h>

/* a batched value whose first per-example axis is the sequence */
static bool sequence_first(const SemaNode *n, int64_t t)
{
    return n->type.batched && n->type.shape.rank >= 1 && n->type.shape.dim[0] == t;
}

/* Whether BR_AXIS node n (sum, softmax, ...) works along the positions:
 * its argument "axis" names per-example axis 0 of its operand x. */
static bool along_positions(const SemaNode *n, const SemaNode *x)
{
    int arg = 0;
    while (strcmp(n->builtin->params[arg].name, "axis") != 0)
        arg++;
    const Value *ax = &n->args[arg];
    int rank = x->type.shape.rank;
    for (int k = 0; k < (ax->kind == VAL_INT ? 1 : ax->list.n); k++) {
        int64_t a = ax->kind == VAL_INT ? ax->i : ax->list.v[k];
        if ((a < 0 ? a + rank : a) == 0)
            return true;
    }
    return false;
}

/* NULL if built-in node n treats the positions one by one, else why not. */
static const char *call_rule(const SemaModel *m, const SemaNode *n)
{
    const SemaNode *x = n->in[0] >= 0 ? &m->nodes[n->in[0]] : NULL;
    int rank = x ? x->type.shape.rank : 0;  /* per example */
    if (n->builtin->reach == BR_LAST)
        return !x || !x->type.batched || rank >= 2 ? NULL : "works along the positions (its operand's last axis)";
    if (n->builtin->reach == BR_AXIS)
        return !x || !x->type.batched || !along_positions(n, x) ? NULL
             : rank == 1 ? "works along the positions (its operand's last axis)"
             : "works along the positions (its operand's axis 0)";
    if (n->builtin->reach != BR_ANY)
        return NULL;   /* elementwise, a lookup per id, or no tensor operand (the table's reach) */
    switch ((BuiltinId)(n->builtin - builtin_table)) {
    case B_TRANSPOSE:
        return !x || !x->type.batched || rank >= 3 ? NULL : "swaps the positions with another axis";
    case B_MATMUL:
        return n->in[1] < 0 || !m->nodes[n->in[1]].type.batched ? NULL : "multiplies by a value that varies with the positions";
    case B_ATTENTION:
        return n->args[3].kind == VAL_TENSOR ? "has a mask (a decoded position's keys keep none)"
             : n->args[2].b ? NULL : "attends to later positions (it is not causal: true)";
    default:
        return "is not one of the built-ins that keep the positions apart";
    }
}

int64_t lower_decode_block(const SemaModel *m, const Source *src, Arena *a, bool *needed, const char **why)
{
    sema_output_reads(m, needed);
    int input = -1;
    for (int i = 0; i < m->nnodes; i++)
        if (needed[i] && m->nodes[i].kind == SN_INPUT) {
            if (input >= 0) {
                *why = "its output depends on more than one input";
                return 0;
            }
            input = i;
        }
    const TensorType *in = input >= 0 ? &m->nodes[input].type : NULL;
    if (!in || in->elem != ELEM_INDEX || in->shape.rank != 1) {
        *why = "its output does not depend on one input of token ids [T]";
        return 0;
    }
    int64_t t = in->shape.dim[0];
    const SemaNode *out = &m->nodes[m->output];
    if (!sequence_first(out, t) || out->type.shape.rank != 2) {
        *why = "its output is not [T, V] (logits per position)";
        return 0;
    }
    for (int i = 0; i < m->nnodes; i++) {
        const SemaNode *n = &m->nodes[i];
        if (!needed[i] || !n->type.batched)
            continue;   /* without the batch: the same at every position */
        const char *rule = !sequence_first(n, t) ? "does not keep the positions as its first axis"
                         : n->kind == SN_CALL ? call_rule(m, n)
                         : n->kind == SN_INDEX ? "may mix the positions"
                         : NULL;
        if (rule) {
            uint32_t line = 0, col = 0;
            if (src && !span_is_none(n->at))
                source_linecol(src, n->at.begin, &line, &col);
            const char *what = n->kind == SN_CALL ? n->builtin->name : n->kind == SN_INDEX ? "a slice"
                             : n->kind == SN_INPUT ? "the input" : "an arithmetic operation";
            *why = arena_printf(a, "%s (line %u, in '%s') %s", what, line, n->name, rule);
            return 0;
        }
    }
    return t;
}
