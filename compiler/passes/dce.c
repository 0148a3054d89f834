/* dce.c — dead-code elimination; see passes.h.
 *
 * Consumes: a verified graph.  Produces: the graph without the nodes no
 * output depends on.  One backward sweep marks what the outputs read (nodes
 * are in topological order, so a node's users are all after it); one forward
 * sweep copies the marked nodes.
 *
 * Inputs stay even when nothing reads them: they are the graph's interface
 * (what the caller feeds and the parameters the updates replace), which must
 * not depend on what the optimizer managed to prove unused.
 * Autodiff provenance is not a use: a gradient node whose forward node died
 * keeps fwd = -1 (ir_copy maps it through the -1 of the removed node).
 */
#include "passes.h"

#include <stdbool.h>

void dce_mark(const IrGraph *g, bool *live)
{
    for (int j = 0; j < g->nouts; j++)
        live[g->outs[j].value] = true;
    for (int i = g->n - 1; i >= 0; i--) {
        const IrNode *n = &g->nodes[i];
        if (n->op == IR_INPUT)
            live[i] = true;
        if (live[i])
            for (int k = 0; k < n->nin; k++)
                live[n->in[k]] = true;
    }
}

int pass_dce(IrGraph *g)
{
    bool *live = ARENA_ARRAY(g->arena, bool, g->n + 1);
    dce_mark(g, live);
    int dead = 0;
    for (int i = 0; i < g->n; i++)
        dead += !live[i];
    if (dead == 0)
        return 0;   /* the copy would equal g: spare it (the pipeline runs dce after every round) */

    IrGraph dst;
    int *map = ir_rewrite_begin(&dst, g);
    for (int i = 0; i < g->n; i++) {
        map[i] = -1;
        if (!live[i])
            continue;
        if (!ir_copy_into(&dst, g, i, map))
            return 0;   /* only an unverified graph gets here: kept, with the reason */
    }
    int removed = g->n - dst.n;
    ir_rewrite_end(g, &dst, map);
    return removed;
}
