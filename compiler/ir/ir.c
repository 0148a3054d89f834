/* ir.c — building graphs: nodes appended in topological order, each shaped
 * by its op's rule. */
#include "ir_internal.h"

#include <stdio.h>
#include <string.h>

void ir_init(IrGraph *g, Arena *a, const Source *src, const char *name, IrType ftype)
{
    memset(g, 0, sizeof *g);
    g->arena = a;
    g->src = src;
    g->name = name;
    g->ftype = ftype;
}

const char *ir_error(const IrGraph *g) { return g->error; }

int ir_add(IrGraph *g, IrOp op, const int *in, int nin, const IrAttr *a, Span at)
{
    const IrOpInfo *info = &ir_ops[op];
    for (int k = 0; k < nin; k++)
        if (in[k] < 0 || in[k] >= g->n) {
            if (!g->error)
                g->error = arena_printf(g->arena, "%s: operand %d is not a value", info->name, k);
            return -1;
        }
    if (info->arity >= 0 && nin != info->arity) {
        if (!g->error)
            g->error = arena_printf(g->arena, "%s takes %d operands, given %d", info->name, info->arity, nin);
        return -1;
    }
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 256;
        IrNode *nodes = arena_alloc_raw(g->arena, sizeof(IrNode) * (size_t)cap);  /* each node is set below */
        if (g->n)
            memcpy(nodes, g->nodes, sizeof *nodes * (size_t)g->n);
        g->nodes = nodes;
        g->cap = cap;
    }
    IrNode *n = &g->nodes[g->n];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->nin = nin;
    n->in = ARENA_ARRAY(g->arena, int, nin + 1);
    if (nin)
        memcpy(n->in, in, sizeof(int) * (size_t)nin);
    if (a)
        n->a = *a;
    n->at = at;
    n->fwd = -1;
    n->type = g->ftype;
    const char *why = info->shape(g, n);
    if (why) {
        if (!g->error)
            g->error = arena_printf(g->arena, "%s: %s", info->name, why);
        return -1;
    }
    return g->n++;
}

int ir_input(IrGraph *g, IrRole role, const char *name, IrType type, const IrShape *shape, Span at)
{
    IrAttr a = {.name = name, .role = role, .shape = *shape};
    int id = ir_add(g, IR_INPUT, NULL, 0, &a, at);
    if (id >= 0)
        g->nodes[id].type = type;
    return id;
}

int ir_counter(IrGraph *g, RtCounter counter)
{
    for (int i = 0; i < g->n; i++)
        if (ir_counter_of(&g->nodes[i]) == counter)
            return i;
    IrShape scalar = {0};
    int id = ir_input(g, ROLE_STEP, rt_counter_name(counter), g->ftype, &scalar, SPAN_NONE);
    if (id >= 0)
        g->nodes[id].a.i[0] = counter;
    return id;
}

int ir_const(IrGraph *g, double v, Span at)
{
    IrAttr a = {.f = v};
    return ir_add(g, IR_CONST, NULL, 0, &a, at);
}

int ir_unary(IrGraph *g, IrOp op, int x, Span at) { return ir_add(g, op, &x, 1, NULL, at); }

int ir_binary(IrGraph *g, IrOp op, int x, int y, Span at)
{
    int in[2] = {x, y};
    return ir_add(g, op, in, 2, NULL, at);
}

int ir_pow(IrGraph *g, int x, double exponent, Span at)
{
    IrAttr a = {.f = exponent};
    return ir_add(g, IR_POW, &x, 1, &a, at);
}

int ir_reduce(IrGraph *g, IrOp op, int x, uint64_t axes, Span at)
{
    IrAttr a = {.i = {(int64_t)axes}};
    return ir_add(g, op, &x, 1, &a, at);
}

int ir_reshape(IrGraph *g, int x, const IrShape *shape, Span at)
{
    if (x >= 0 && ir_shape_equal(&g->nodes[x].shape, shape))
        return x;
    IrAttr a = {.shape = *shape};
    return ir_add(g, IR_RESHAPE, &x, 1, &a, at);
}

int ir_permute(IrGraph *g, int x, const int *perm, Span at)
{
    IrAttr a = {0};
    int rank = x >= 0 ? g->nodes[x].shape.rank : 0;
    for (int i = 0; i < rank; i++)
        a.i[i] = perm[i];
    return ir_add(g, IR_PERMUTE, &x, 1, &a, at);
}

int ir_broadcast(IrGraph *g, int x, const IrShape *shape, Span at)
{
    if (x >= 0 && ir_shape_equal(&g->nodes[x].shape, shape))
        return x;
    IrAttr a = {.shape = *shape};
    return ir_add(g, IR_BROADCAST, &x, 1, &a, at);
}

int ir_matmul(IrGraph *g, int a, int b, bool ta, bool tb, Span at)
{
    int in[2] = {a, b};
    IrAttr at_ = {.i = {ta, tb}};
    return ir_add(g, IR_MATMUL, in, 2, &at_, at);
}

void ir_output(IrGraph *g, const char *name, int value, IrOutKind kind, int updates)
{
    if (g->nouts == g->capouts) {
        int cap = g->capouts ? g->capouts * 2 : 32;
        IrOutput *o = ARENA_ARRAY(g->arena, IrOutput, cap);
        if (g->nouts)
            memcpy(o, g->outs, sizeof *o * (size_t)g->nouts);
        g->outs = o;
        g->capouts = cap;
    }
    g->outs[g->nouts++] = (IrOutput){name, value, kind, updates};
}

bool ir_shape_equal(const IrShape *a, const IrShape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i])
            return false;
    return true;
}

bool ir_is_batched(const IrShape *s) { return s->rank > 0 && s->dim[0] == IR_BATCH; }

int64_t ir_elems(const IrShape *s, int64_t batch)
{
    int64_t e = 1;
    for (int i = 0; i < s->rank; i++)
        e *= s->dim[i] == IR_BATCH ? batch : s->dim[i];
    return e;
}

int ir_type_size(IrType t) { return t == IR_F64 ? 8 : 4; }

const char *ir_type_name(IrType t)
{
    switch (t) {
    case IR_F32: return "f32";
    case IR_F64: return "f64";
    case IR_I32: return "i32";
    }
    return "?";
}

void ir_shape_print(StrBuf *sb, const IrShape *s)
{
    sb_putc(sb, '[');
    for (int i = 0; i < s->rank; i++) {
        if (i)
            sb_putc(sb, ',');
        if (s->dim[i] == IR_BATCH)
            sb_putc(sb, 'B');
        else
            sb_printf(sb, "%lld", (long long)s->dim[i]);
    }
    sb_putc(sb, ']');
}

int *ir_use_counts(const IrGraph *g)
{
    int *uses = ARENA_ARRAY(g->arena, int, g->n + 1);
    for (int i = 0; i < g->n; i++)
        for (int k = 0; k < g->nodes[i].nin; k++)
            uses[g->nodes[i].in[k]]++;
    for (int i = 0; i < g->nouts; i++)
        uses[g->outs[i].value]++;
    return uses;
}

int *ir_rewrite_begin(IrGraph *dst, const IrGraph *src)
{
    ir_init(dst, src->arena, src->src, src->name, src->ftype);
    dst->error = src->error;
    /* Passes copy the whole graph several times per compile: growing each
     * copy by doubling, in fresh zeroed memory, was most of a warm compile
     * of the GPT (memset and page faults). */
    int cap = src->n + src->n / 8 + 16;
    if (src->spare && src->capspare >= cap) {
        dst->nodes = src->spare;
        dst->cap = src->capspare;
    } else {
        dst->nodes = arena_alloc_raw(src->arena, sizeof(IrNode) * (size_t)cap);
        dst->cap = cap;
    }
    return ARENA_ARRAY(src->arena, int, src->n + 1);
}

int ir_add_like(IrGraph *dst, const IrGraph *src, int node, IrOp op, const int *in, int nin, const IrAttr *a)
{
    const IrNode *s = &src->nodes[node];
    int id = ir_add(dst, op, in, nin, a, s->at);
    if (id < 0)
        return -1;
    IrNode *d = &dst->nodes[id];   /* fwd is -1 (ir_add) */
    d->rule = s->rule;
    d->layer = s->layer;
    if (node < src->nforward)
        dst->nforward = dst->n;
    if (node < src->ngrad)
        dst->ngrad = dst->n;
    return id;
}

int ir_copy(IrGraph *dst, const IrGraph *src, int node, const int *map)
{
    const IrNode *s = &src->nodes[node];
    int *in = ARENA_ARRAY(dst->arena, int, s->nin + 1);
    for (int k = 0; k < s->nin; k++)
        in[k] = map[s->in[k]];
    int id = ir_add_like(dst, src, node, s->op, in, s->nin, &s->a);
    if (id < 0)
        return -1;
    IrNode *d = &dst->nodes[id];
    d->type = s->type;
    d->fwd = s->fwd >= 0 ? map[s->fwd] : -1;
    return id;
}

void ir_users(IrGraph *g, IrUsers *u)
{
    int n = g->n, total = 0;
    for (int i = 0; i < n; i++)
        total += g->nodes[i].nin;
    u->is_output = ARENA_ARRAY(g->arena, bool, n + 1);
    for (int i = 0; i < g->nouts; i++)
        u->is_output[g->outs[i].value] = true;
    u->first = ARENA_ARRAY(g->arena, int, n + 1);
    u->next = ARENA_ARRAY(g->arena, int, total + 1);
    u->node = ARENA_ARRAY(g->arena, int, total + 1);
    for (int i = 0; i < n; i++)
        u->first[i] = -1;
    int e = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].nin; k++) {
            int src = g->nodes[i].in[k];
            u->node[e] = i;
            u->next[e] = u->first[src];
            u->first[src] = e++;
        }
}

bool ir_read_once(const IrUsers *u, int i)
{
    return !u->is_output[i] && u->first[i] >= 0 && u->next[u->first[i]] < 0;
}

bool ir_copy_into(IrGraph *dst, IrGraph *src, int node, int *map)
{
    map[node] = ir_copy(dst, src, node, map);
    if (map[node] >= 0)
        return true;
    if (!src->error)
        src->error = dst->error;
    return false;
}

bool ir_replaced(IrGraph *dst, IrGraph *src, int node, int value, int *map)
{
    map[node] = value;
    if (value < 0) {
        if (!src->error)
            src->error = dst->error;
        return false;
    }
    int fwd = src->nodes[node].fwd;
    dst->nodes[value].fwd = fwd >= 0 ? map[fwd] : -1;
    return true;
}

void ir_rewrite_end(IrGraph *src, IrGraph *dst, const int *map)
{
    for (int i = 0; i < src->nouts; i++) {
        const IrOutput *o = &src->outs[i];
        ir_output(dst, o->name, map[o->value], o->kind, o->updates >= 0 ? map[o->updates] : -1);
    }
    dst->spare = src->nodes;  /* dead from here on */
    dst->capspare = src->cap;
    *src = *dst;
}
