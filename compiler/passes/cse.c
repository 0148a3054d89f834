/* cse.c — common-subexpression elimination; see passes.h.
 *
 * Consumes: a verified graph.  Produces: the graph with one node per
 * (op, type, operands, attributes).  One forward sweep: operands are renamed
 * to the node they were merged into before a node is looked up, so equal
 * chains merge link by link.  A hash table over the new graph's nodes keeps
 * the sweep linear.
 *
 * Never merged: inputs (each is a separate tensor of the interface, even
 * with equal names and shapes) and OPF_RANDOM ops (two dropout masks of the
 * same shape must draw different numbers).  The surviving node is the first
 * one; it keeps its own location, layer and provenance.
 */
#include "passes.h"

#include <stdbool.h>
#include <string.h>

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
    return h * UINT64_C(0xff51afd7ed558ccd);
}

static uint64_t bits(double f)
{
    uint64_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static bool commutative(const IrNode *n) { return (ir_ops[n->op].flags & OPF_COMMUTATIVE) && n->nin == 2; }

static uint64_t hash_node(const IrNode *n)
{
    uint64_t h = mix(mix(n->op, n->type), (uint64_t)n->nin);
    if (commutative(n)) {
        /* Either order hashes the same. */
        int lo = n->in[0] < n->in[1] ? n->in[0] : n->in[1], hi = n->in[0] ^ n->in[1] ^ lo;
        h = mix(mix(h, (uint64_t)lo), (uint64_t)hi);
    } else {
        for (int k = 0; k < n->nin; k++)
            h = mix(h, (uint64_t)n->in[k]);
    }
    int64_t ints[IR_ATTR_INTS];
    ir_attr_ints(&n->a, ints);
    for (int k = 0; k < IR_ATTR_INTS; k++)
        h = mix(h, (uint64_t)ints[k]);
    h = mix(h, bits(n->a.f));
    h = mix(h, (uint64_t)n->a.shape.rank);
    for (int d = 0; d < n->a.shape.rank && d < IR_MAX_RANK; d++)
        h = mix(h, (uint64_t)n->a.shape.dim[d]);
    for (const char *c = n->a.name; c && *c; c++)
        h = mix(h, (unsigned char)*c);
    h = mix(h, (uint64_t)n->a.role);
    h = mix(h, (uint64_t)(uintptr_t)n->a.data);
    return mix(h, (uint64_t)(uintptr_t)n->a.prog);
}

static bool same_operands(const IrNode *a, const IrNode *b)
{
    if (a->nin != b->nin)
        return false;
    if (commutative(a) && a->in[0] == b->in[1] && a->in[1] == b->in[0])
        return true;
    for (int k = 0; k < a->nin; k++)
        if (a->in[k] != b->in[k])
            return false;
    return true;
}

/* Attributes compare whole whatever the op: builders zero the ones an op
 * does not use.  f compares by bits so 0 and -0 stay apart (1/x tells them
 * apart) and a NaN constant still equals itself. */
static bool same_attr(const IrAttr *a, const IrAttr *b)
{
    int64_t x[IR_ATTR_INTS], y[IR_ATTR_INTS];
    ir_attr_ints(a, x);
    ir_attr_ints(b, y);
    if (memcmp(x, y, sizeof x) != 0)
        return false;
    bool names = a->name == b->name || (a->name && b->name && strcmp(a->name, b->name) == 0);
    return bits(a->f) == bits(b->f) && ir_shape_equal(&a->shape, &b->shape) && names && a->role == b->role
        && a->data == b->data && a->prog == b->prog;
}

static bool same_node(const IrNode *a, const IrNode *b)
{
    return a->op == b->op && a->type == b->type && ir_shape_equal(&a->shape, &b->shape) && same_operands(a, b)
        && same_attr(&a->a, &b->a);
}

static bool mergeable(const IrNode *n) { return n->op != IR_INPUT && !(ir_ops[n->op].flags & OPF_RANDOM); }

/* The slot holding a node equal to key, or the empty slot where it goes. */
static size_t find_slot(const int *slot, size_t cap, const IrGraph *dst, const IrNode *key)
{
    size_t h = (size_t)hash_node(key) & (cap - 1);
    while (slot[h] && !same_node(key, &dst->nodes[slot[h] - 1]))
        h = (h + 1) & (cap - 1);
    return h;
}

int pass_cse(IrGraph *g)
{
    IrGraph dst;
    int *map = ir_rewrite_begin(&dst, g);
    /* Open addressing, at most half full: slots hold dst node + 1 (0: empty). */
    size_t cap = 16;
    while (cap < 2 * (size_t)g->n)
        cap *= 2;
    int *slot = ARENA_ARRAY(g->arena, int, cap);
    int maxin = 1;
    for (int i = 0; i < g->n; i++)
        maxin = g->nodes[i].nin > maxin ? g->nodes[i].nin : maxin;
    int *in = ARENA_ARRAY(g->arena, int, maxin);

    int merged = 0;
    for (int i = 0; i < g->n; i++) {
        /* The node as it would read in dst, to compare with dst's nodes. */
        IrNode key = g->nodes[i];
        for (int k = 0; k < key.nin; k++)
            in[k] = map[key.in[k]];
        key.in = in;
        bool merge = mergeable(&key);
        size_t h = 0;
        if (merge) {
            h = find_slot(slot, cap, &dst, &key);
            if (slot[h]) {
                map[i] = slot[h] - 1;
                merged++;
                continue;
            }
        }
        if (!ir_copy_into(&dst, g, i, map))
            return 0;   /* only an unverified graph gets here: kept, with the reason */
        if (merge)
            slot[h] = map[i] + 1;
    }
    ir_rewrite_end(g, &dst, map);
    return merged;
}
