/* verify.c — checks that a graph is well formed; see passes.h.
 *
 * Consumes: any IrGraph.  Produces: NULL, or the first problem found, as
 * text in the graph's arena.  Runs between passes in every build,
 * so a pass that breaks the graph is named by the stage after which the
 * verifier fails rather than by a crash far downstream.
 *
 * Nodes are checked in order and each only after all its operands, so the
 * shape rules (which read operand shapes) only ever see checked nodes.
 */
#include "passes.h"

#include <stdarg.h>
#include <stdio.h>

/* A shape as --dump-ir writes it, "[B,3]", in the arena. */
static const char *shape_text(const IrGraph *g, const IrShape *s)
{
    StrBuf sb = {0};
    ir_shape_print(&sb, s);
    const char *text = arena_strdup(g->arena, sb_cstr(&sb));
    sb_free(&sb);
    return text;
}

/* "node %12 (add): <what>" */
static const char *node_error(const IrGraph *g, int i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static const char *node_error(const IrGraph *g, int i, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return arena_printf(g->arena, "node %%%d (%s): %s", i, ir_ops[g->nodes[i].op].name, what);
}

static const char *check_operands(const IrGraph *g, int i)
{
    const IrNode *n = &g->nodes[i];
    int arity = ir_ops[n->op].arity;
    if (n->nin < 0 || (arity >= 0 && n->nin != arity))
        return node_error(g, i, "takes %d operands, has %d", arity, n->nin);
    for (int k = 0; k < n->nin; k++) {
        int v = n->in[k];
        if (v < 0 || v >= g->n)
            return node_error(g, i, "operand %d is %d, which is not a node", k, v);
        if (v == i)
            return node_error(g, i, "operand %d is the node itself", k);
        if (v > i)
            return node_error(g, i, "operand %d is %%%d, defined after it", k, v);
    }
    return NULL;
}

/* The stored shape on its own: a rank that fits, sizes of at least 1, and
 * the batch only in front (every kernel and the memory plan assume it). */
static const char *check_own_shape(const IrGraph *g, int i)
{
    const IrShape *s = &g->nodes[i].shape;
    if (s->rank < 0 || s->rank > IR_MAX_RANK)
        return node_error(g, i, "rank %d is out of range", s->rank);
    for (int d = 0; d < s->rank; d++) {
        if (s->dim[d] == IR_BATCH && d > 0)
            return node_error(g, i, "the batch in dimension %d; only dimension 0 may be B", d);
        if (s->dim[d] < 1 && s->dim[d] != IR_BATCH)
            return node_error(g, i, "dimension %d has size %lld", d, (long long)s->dim[d]);
    }
    return NULL;
}

/* Runs the op's rule on a copy, the way ir_add() shaped the node: the type
 * starts as the graph's real type except for inputs (ir_input() sets theirs).
 * Ops whose shape the builder gives (shp_leaf, shp_fused) take it from their
 * attribute, so the stored shape must match it. */
static const char *check_rule(const IrGraph *g, int i)
{
    const IrNode *n = &g->nodes[i];
    IrNode c = *n;
    if (n->op != IR_INPUT)
        c.type = g->ftype;
    const char *why = ir_ops[n->op].shape(g, &c);
    if (why)
        return node_error(g, i, "%s", why);
    if (!ir_shape_equal(&c.shape, &n->shape))
        return node_error(g, i, "shape %s but its rule gives %s", shape_text(g, &n->shape), shape_text(g, &c.shape));
    if (c.type != n->type)
        return node_error(g, i, "type %s but its rule gives %s", ir_type_name(n->type), ir_type_name(c.type));
    return NULL;
}

static const char *check_node(const IrGraph *g, int i)
{
    const IrNode *n = &g->nodes[i];
    if ((unsigned)n->op >= IR_OP_COUNT)
        return arena_printf(g->arena, "node %%%d: unknown op %d", i, (int)n->op);
    if ((unsigned)n->type > IR_I32)
        return node_error(g, i, "unknown type %d", (int)n->type);
    const char *why = check_operands(g, i);
    if (!why)
        why = check_own_shape(g, i);
    if (!why)
        why = check_rule(g, i);
    if (why)
        return why;
    if (n->op == IR_INPUT && (!n->a.name || !n->a.name[0]))
        return node_error(g, i, "an input without a name");
    if (n->fwd != -1 && (n->fwd < 0 || n->fwd >= i))
        return node_error(g, i, "autodiff provenance %d is not an earlier node", n->fwd);
    return NULL;
}

/* An update replaces the input it names at the end of the step, so it must
 * be exactly as large and of the same type. */
static const char *check_output(const IrGraph *g, int j)
{
    const IrOutput *o = &g->outs[j];
    const char *name = o->name ? o->name : "?";
    if (!o->name || !o->name[0])
        return arena_printf(g->arena, "output %d: no name", j);
    if (o->value < 0 || o->value >= g->n)
        return arena_printf(g->arena, "output %d (%s): value %d is not a node", j, name, o->value);
    if (o->updates >= g->n)
        return arena_printf(g->arena, "output %d (%s): updates %d, which is not a node", j, name, o->updates);
    if (o->kind != OUT_UPDATE)
        return NULL;
    if (o->updates < 0 || g->nodes[o->updates].op != IR_INPUT)
        return arena_printf(g->arena, "output %d (%s): an update of %d, which is not an input", j, name, o->updates);
    const IrNode *v = &g->nodes[o->value], *u = &g->nodes[o->updates];
    if (!ir_shape_equal(&v->shape, &u->shape))
        return arena_printf(g->arena, "output %d (%s): shape %s but the input it updates (%%%d) has %s", j, name,
                            shape_text(g, &v->shape), o->updates, shape_text(g, &u->shape));
    if (v->type != u->type)
        return arena_printf(g->arena, "output %d (%s): type %s but the input it updates (%%%d) has %s", j, name,
                            ir_type_name(v->type), o->updates, ir_type_name(u->type));
    return NULL;
}

const char *ir_verify(const IrGraph *g)
{
    /* A failed ir_add() left a hole that later nodes may have papered over. */
    if (g->error)
        return arena_printf(g->arena, "the graph recorded an error: %s", g->error);
    if (g->nforward < 0 || g->nforward > g->n || g->ngrad < 0 || g->ngrad > g->n)
        return arena_printf(g->arena, "stage boundaries %d and %d outside the %d nodes", g->nforward, g->ngrad, g->n);
    for (int i = 0; i < g->n; i++) {
        const char *why = check_node(g, i);
        if (why)
            return why;
    }
    for (int j = 0; j < g->nouts; j++) {
        const char *why = check_output(g, j);
        if (why)
            return why;
    }
    return NULL;
}
