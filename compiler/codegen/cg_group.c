/* cg_group.c — elementwise kernels that run one after another merged into
 * one loop.
 *
 * Fusion (fuse.c) makes one node of a region with one result; an
 * optimizer's update leaves several such nodes over the same elements, one
 * per value it keeps: Adam's first moment m, its second v, and the weight,
 * each from its own fused node, each a pass over memory.  The weight's pass
 * reads the m and v the two before it just wrote, and both of those read
 * the gradient: for the MNIST CNN's hidden.weight [128, 3136] that was
 * 16 MB through memory a step for three kernels where one pass needs 11
 * (g, m, v and the weight read, m, v and the weight written).
 *
 * A group is a run of consecutive kernels (no other kernel between them)
 * that are all flat elementwise (cg_flat_elementwise: every operand of the
 * result's shape, or a scalar) over one shape and type.  Its last member
 * launches one body that, per element, evaluates each member's program in
 * order and stores its result; a member that reads an earlier member takes
 * its value, not its memory.  Each member's program is generated as it
 * was alone (cg_program, with its own products fused into FMAs or not), so
 * every stored value has the same bits.  The graph and the memory plan are
 * unchanged: members are still nodes with their own buffers (the dumps
 * show them as before); only the launches are fewer.
 *
 * What the plan allows: it placed each member's result as if written at
 * the member's own step, and the group writes it at the last member's.
 * So a member joins only if no bytes it writes may be those of a value
 * an earlier member reads that was dead before it (the plan would reuse
 * them: every value read in the group so far is live until this member,
 * or it writes in place over an update's old value: cg_inplace.c, never
 * reused).  An earlier member may read that old value (Adam's moments read
 * the weight under a coupled weight decay): cg_base sends every read of it
 * in the body through the in-place member's own pointer, so no two noalias
 * pointers share bytes, and each element is read before it is written in
 * the same pass.  A value an ALLREDUCE sends, itself or through a view,
 * ends its group: the send follows its kernel.
 */
#include <stdlib.h>

#include "cg_internal.h"

/* The activation whose bytes v's are (a view's owner), or v. */
static int root_of(const IrPlan *p, int v) { return p->alias[v] >= 0 ? p->alias[v] : v; }

/* Whether v may join the group members[0..n) (see the opening comment). */
static bool joins(const IrGraph *g, const IrPlan *p, const int *inplace, const int *members, int n, int v)
{
    const IrNode *nv = &g->nodes[v], *first = &g->nodes[members[0]];
    if (n >= CG_GROUP_MAX || !cg_flat_elementwise(g, v) || nv->type != first->type || !ir_shape_equal(&nv->shape, &first->shape))
        return false;
    bool over = inplace && inplace[v] >= 0;
    for (int q = 0; q < n; q++) {
        const IrNode *m = &g->nodes[members[q]];
        /* a member's result dead before v that no member read (so the
         * operand test below misses it): nothing reads it at all, which
         * dce leaves in no compiled graph, but the plan frees its bytes
         * at once and may give them to v */
        if (!over && p->slab[members[q]] == SLAB_ACT && p->last[members[q]] < v)
            return false;
        for (int k = 0; k < m->nin; k++) {
            int r = root_of(p, m->in[k]);
            if (!over && p->slab[r] == SLAB_ACT && p->last[r] < v)
                return false;
        }
    }
    /* an operand that is a view of a member's result would be read from
     * memory the group has not written yet */
    for (int k = 0; k < nv->nin; k++) {
        int r = root_of(p, nv->in[k]);
        if (r != nv->in[k] && cg_index_of(members, n, r) >= 0)
            return false;
    }
    return true;
}

/* Closes the group members[0..n): records it when it has two or more. */
static void close_group(int *group, int nnodes, const int *members, int n)
{
    if (n < 2)
        return;
    for (int q = 0; q < n; q++)
        group[members[q]] = members[n - 1];
    group[nnodes + members[n - 1]] = members[0];
}

int cg_group_members(const IrGraph *g, const int *group, int v, int *out)
{
    if (!cg_group_launch(group, v)) {
        out[0] = v;
        return 1;
    }
    int n = 0;
    for (int m = cg_group_first(g, group, v); m <= v; m++)
        if (group[m] == v)
            out[n++] = m;
    return n;
}

int *cg_group_plan(const IrGraph *g, const IrPlan *p, const int *inplace)
{
    int *group = malloc(sizeof *group * (size_t)(2 * g->n + 1));
    bool *sent = calloc((size_t)g->n + 1, sizeof *sent);  /* read by an ALLREDUCE */
    if (!group || !sent) {
        free(group);
        free(sent);
        return NULL;
    }
    for (int v = 0; v < 2 * g->n; v++)
        group[v] = -1;
    for (int v = 0; v < g->n; v++)  /* a send of a view sends its owner's bytes */
        if (cg_is_call(&g->nodes[v]))
            sent[root_of(p, g->nodes[v].in[0])] = true;
    int members[CG_GROUP_MAX], n = 0;
    for (int v = 0; v < g->n; v++) {
        const IrNode *nd = &g->nodes[v];
        if (cg_is_call(nd)) {
            close_group(group, g->n, members, n);
            n = 0;
            continue;
        }
        if (!cg_has_kernel(nd) || p->alias[v] >= 0)
            continue;
        if (n > 0 && joins(g, p, inplace, members, n, v)) {
            members[n++] = v;
        } else {
            close_group(group, g->n, members, n);
            n = 0;
            if (cg_flat_elementwise(g, v))
                members[n++] = v;
        }
        if (n > 0 && sent[v]) {
            close_group(group, g->n, members, n);
            n = 0;
        }
    }
    close_group(group, g->n, members, n);
    free(sent);
    return group;
}
