/* fuse.c — fusion: regions of elementwise work become one node each.
 *
 *   FUSED       elementwise ops of one shape, evaluated per element
 *   FUSED_ROWS  elementwise ops and reductions over the last axis of one
 *               row shape, evaluated per row: softmax, cross-entropy and
 *               layer norm become one node forward and (the parts that are
 *               row-local) one backward, recomputing what they share
 *   MATMUL_EPI  a matmul whose result feeds only such a region: bias,
 *               activation and scale applied as each result is produced
 *
 * The primitive graph stays the truth: this pass only regroups what autodiff
 * built, so fused nodes are never differentiated.
 *
 * Regions grow backwards from their last node (the root).  Walking nodes
 * from the end, a fusible node joins the region of its users when all its
 * users are in regions and its shape fits their domains; when they are in
 * several regions it joins each of them and is computed again in each (a
 * softmax recomputed by the backward pass costs less than writing it out
 * and reading it back).  Otherwise it roots a region of its own.  A node
 * whose users all lie inside regions cannot make a region reach around
 * itself through an outside node, so regions form no cycles.  An
 * elementwise region becomes a row region when a row reduction, or a value
 * with one element per row, joins it.  BROADCAST inside a region is free:
 * values broadcast anyway.
 */
#include <string.h>

#include "../ir/ir_internal.h"
#include "passes.h"

typedef enum Kind { K_NONE, K_EW, K_ROWRED } Kind;

/* The most nodes a region takes (copies recomputed in it counted).  LLVM's
 * optimization of one function grows faster than its size: a chain of 1000
 * tanh (a dense layer, then h = tanh(h) 1000 times, trained) was one region
 * forward and one backward, and took 43.6 s to compile (--emit=obj
 * --no-cache, 81 CPU-s on 2 cores), 1.28 s in regions of 64 (0.70 s of 32,
 * 1.94 s of 128: bench/README, session 37).  A region cut there writes one value and the next reads
 * it: one pass over memory a 64 operations, which costs less than the giant
 * region's own code did (300 tanh, 200 steps at batch 256: 0.83 against
 * 1.50 s; beside a busy process 1.42-1.49 against 2.72-2.75 s).  No region of the examples has 30 nodes. */
enum { REGION_MAX = 64 };

typedef struct Region {
    int      root;
    bool     rows;      /* FUSED_ROWS: domain is rows of length n */
    IrShape  shape;     /* EW: the element shape; rows: [rows..., n] */
    int      members;
} Region;

static Kind kind_of(const IrGraph *g, int i)
{
    const IrNode *n = &g->nodes[i];
    unsigned f = ir_ops[n->op].flags;
    if (n->op == IR_BROADCAST)
        return K_EW;
    if ((f & OPF_ELEMENTWISE) && n->type != IR_I32)
        return K_EW;
    if (f & OPF_REDUCTION) {
        const IrShape *in = &g->nodes[n->in[0]].shape;
        if (in->rank >= 1 && n->a.i[0] == (int64_t)1 << (in->rank - 1) && in->dim[in->rank - 1] != IR_BATCH)
            return K_ROWRED;
    }
    return K_NONE;
}

/* Does node i (of kind k) fit region r, possibly after r becomes a row region? */
static bool fits(const IrGraph *g, int i, Kind k, Region *r, bool commit)
{
    const IrNode *n = &g->nodes[i];
    const IrShape *s = k == K_ROWRED ? &g->nodes[n->in[0]].shape : &n->shape;
    if (!r->rows) {
        if (ir_shape_equal(s, &r->shape) && k == K_EW)
            return true;
        /* a row reduction over exactly the region's shape, or a value with one
         * element per row of it, turns it into a row region */
        bool per_row = k == K_EW && r->shape.rank >= 1 && s->rank == r->shape.rank && s->dim[s->rank - 1] == 1
                    && r->shape.dim[r->shape.rank - 1] != IR_BATCH;
        for (int d = 0; per_row && d + 1 < s->rank; d++)
            per_row = s->dim[d] == r->shape.dim[d];
        if (!(k == K_ROWRED && ir_shape_equal(s, &r->shape)) && !per_row)
            return false;
        if (commit)
            r->rows = true;
        return true;
    }
    /* rows: vectors [rows..., n] or per-row scalars [rows..., 1] */
    if (s->rank != r->shape.rank)
        return false;
    for (int d = 0; d + 1 < s->rank; d++)
        if (s->dim[d] != r->shape.dim[d])
            return false;
    int64_t last = s->dim[s->rank - 1];
    return last == r->shape.dim[r->shape.rank - 1] || (k == K_EW && last == 1);
}

static bool in_region(const int *member, int nmember, int r)
{
    for (int q = 0; q < nmember; q++)
        if (member[q] == r)
            return true;
    return false;
}

int pass_fuse(IrGraph *g)
{
    int n = g->n;
    IrUsers users;
    ir_users(g, &users);
    bool *is_output = users.is_output;
    int *first_user = users.first, *next_user = users.next, *user_node = users.node;

    /* Each fusible node belongs to up to MAX_COPIES regions (more than one:
     * it is recomputed in each). */
    enum { MAX_COPIES = 4 };
    int (*member)[MAX_COPIES] = (int (*)[MAX_COPIES])arena_alloc(g->arena, sizeof *member * (size_t)(n + 1));
    int *nmember = ARENA_ARRAY(g->arena, int, n + 1);
    bool *is_root = ARENA_ARRAY(g->arena, bool, n + 1);
    Region *regions = ARENA_ARRAY(g->arena, Region, n + 1);
    int nregions = 0;
    for (int i = n - 1; i >= 0; i--) {
        Kind k = kind_of(g, i);
        if (k == K_NONE)
            continue;
        int set[MAX_COPIES], nset = 0;
        bool joinable = !is_output[i] && first_user[i] >= 0;
        for (int u = first_user[i]; u >= 0 && joinable; u = next_user[u]) {
            int un = user_node[u];
            joinable = nmember[un] > 0;
            for (int q = 0; q < nmember[un] && joinable; q++) {
                int r = member[un][q], seen = 0;
                for (int t = 0; t < nset; t++)
                    seen |= set[t] == r;
                if (!seen) {
                    joinable = nset < MAX_COPIES;
                    if (joinable)
                        set[nset++] = r;
                }
            }
        }
        for (int t = 0; t < nset && joinable; t++)
            joinable = regions[set[t]].members < REGION_MAX && fits(g, i, k, &regions[set[t]], false);
        if (joinable) {
            for (int t = 0; t < nset; t++) {
                fits(g, i, k, &regions[set[t]], true);
                member[i][t] = set[t];
                regions[set[t]].members++;
            }
            nmember[i] = nset;
            continue;
        }
        /* a new region rooted here */
        Region *nr = &regions[nregions];
        memset(nr, 0, sizeof *nr);
        nr->root = i;
        nr->members = 1;
        nr->rows = k == K_ROWRED;
        nr->shape = k == K_ROWRED ? g->nodes[g->nodes[i].in[0]].shape : g->nodes[i].shape;
        member[i][0] = nregions++;
        nmember[i] = 1;
        is_root[i] = true;
    }

    /* A lone elementwise node, or a lone broadcast, stays as it is. */
    int *mm_of = ARENA_ARRAY(g->arena, int, nregions + 1);  /* a matmul folded in front, or -1 */
    for (int r = 0; r < nregions; r++)
        mm_of[r] = -1;
    for (int i = 0; i < n; i++) {
        const IrNode *nd = &g->nodes[i];
        if (nd->op != IR_MATMUL || !ir_read_once(&users, i))
            continue;
        int u = user_node[first_user[i]], r = nmember[u] == 1 ? member[u][0] : -1;
        if (r >= 0 && !regions[r].rows && mm_of[r] < 0 && regions[r].members < REGION_MAX
            && ir_shape_equal(&nd->shape, &regions[r].shape)) {
            mm_of[r] = i;
            regions[r].members++;
        }
    }

    /* Each region's members in node order (a member recomputed in several
     * regions is listed in each), so building a region's program costs its
     * size, not the size of the graph before it: per-region arrays of the
     * whole prefix made fusion quadratic in time and memory. */
    int *list_start = ARENA_ARRAY(g->arena, int, nregions + 2), nlisted = 0;
    for (int j = 0; j < n; j++)
        for (int q = 0; q < nmember[j]; q++)
            list_start[member[j][q] + 1]++, nlisted++;
    for (int r = 0; r < nregions; r++)
        list_start[r + 1] += list_start[r];
    int *listed = ARENA_ARRAY(g->arena, int, nlisted + 1), *fill = ARENA_ARRAY(g->arena, int, nregions + 1);
    for (int j = 0; j < n; j++)
        for (int q = 0; q < nmember[j]; q++) {
            int r = member[j][q];
            listed[list_start[r] + fill[r]++] = j;
        }
    /* node -> its value in the program being built, -1; reset after each region */
    int *value = ARENA_ARRAY(g->arena, int, n + 1);
    for (int j = 0; j < n; j++)
        value[j] = -1;

    /* Rebuild: every region with two or more members becomes one node at its root. */
    IrGraph out;
    int *map = ir_rewrite_begin(&out, g);
    bool *folded = ARENA_ARRAY(g->arena, bool, n + 1);
    for (int r = 0; r < nregions; r++)
        if (mm_of[r] >= 0)
            folded[mm_of[r]] = true;
    int changed = 0;
    for (int i = 0; i < n; i++) {
        int r = is_root[i] ? member[i][0] : -1;
        bool fused = r >= 0 && regions[r].members >= 2;
        if ((nmember[i] > 0 && !is_root[i]) || folded[i]) {
            map[i] = -1;  /* computed inside the nodes of its regions */
            continue;
        }
        if (!fused) {
            if (!ir_copy_into(&out, g, i, map))
                return -1;
            continue;
        }
        /* Gather the region's members in order, its outside operands, and the program. */
        Region *rg = &regions[r];
        int mm = mm_of[r];
        const int *mem = listed + list_start[r];
        int nmem = list_start[r + 1] - list_start[r];
        int *ops = ARENA_ARRAY(g->arena, int, 3 * nmem + 2);
        int nops = 0;
        if (mm >= 0) {
            ops[nops++] = map[g->nodes[mm].in[0]];
            ops[nops++] = map[g->nodes[mm].in[1]];
            value[mm] = 0;
        }
        /* operands first: outside values read by members (constants inline) */
        int nin = mm >= 0 ? 1 : 0;
        for (int q = 0; q < nmem; q++) {
            int j = mem[q];
            for (int k = 0; k < g->nodes[j].nin; k++) {
                int src = g->nodes[j].in[k];
                if (in_region(member[src], nmember[src], r) || src == mm || g->nodes[src].op == IR_CONST
                    || value[src] >= 0)
                    continue;
                value[src] = nin++;
                ops[nops++] = map[src];
            }
        }
        IrProgram *prog = ARENA_NEW(g->arena, IrProgram);
        prog->nin = nin;
        prog->code = ARENA_ARRAY(g->arena, IrInstr, 4 * nmem + 1);  /* each member: itself and up to 3 constants */
        for (int q = 0; q < nmem; q++) {
            int j = mem[q];
            const IrNode *m = &g->nodes[j];
            int arg[3] = {-1, -1, -1};
            for (int k = 0; k < m->nin && k < 3; k++) {
                int src = m->in[k];
                if (value[src] < 0 && g->nodes[src].op == IR_CONST) {
                    prog->code[prog->n] = (IrInstr){.op = IR_CONST, .a = -1, .b = -1, .c = -1, .f = g->nodes[src].a.f};
                    value[src] = nin + prog->n++;
                }
                arg[k] = value[src];
            }
            if (m->op == IR_BROADCAST) {  /* values broadcast by themselves */
                value[j] = arg[0];
                continue;
            }
            prog->code[prog->n] = (IrInstr){.op = m->op, .a = arg[0], .b = arg[1], .c = arg[2], .f = m->a.f};
            value[j] = nin + prog->n++;
            /* a constant used again must not be re-emitted, but a later
             * instruction may reuse its value: keep value[src] */
        }
        if (prog->n == 0 || value[i] != nin + prog->n - 1) {
            /* the root was a broadcast: end with an explicit copy of its value */
            prog->code[prog->n] = (IrInstr){.op = IR_STOP_GRAD, .a = value[i], .b = -1, .c = -1};
            prog->n++;
        }
        /* forget this region's values: its members, their operands, the matmul */
        for (int q = 0; q < nmem; q++) {
            value[mem[q]] = -1;
            for (int k = 0; k < g->nodes[mem[q]].nin; k++)
                value[g->nodes[mem[q]].in[k]] = -1;
        }
        if (mm >= 0)
            value[mm] = -1;
        const IrNode *root = &g->nodes[i];
        IrAttr a = {.prog = prog, .shape = root->shape};
        a.name = root->layer ? arena_printf(g->arena, "%s%s", root->layer, root->fwd >= 0 ? " backward" : "") : NULL;
        IrOp op = mm >= 0 ? IR_MATMUL_EPI : rg->rows ? IR_FUSED_ROWS : IR_FUSED;
        if (mm >= 0) {
            a.i[0] = g->nodes[mm].a.i[0];
            a.i[1] = g->nodes[mm].a.i[1];
            a.i[2] = g->nodes[mm].a.i[2];
        }
        if (op == IR_FUSED_ROWS)
            a.i[0] = rg->shape.dim[rg->shape.rank - 1];  /* the row length */
        int id = ir_add(&out, op, ops, nops, &a, root->at);
        if (id < 0) {
            if (!g->error)
                g->error = out.error;   /* the pipeline reports it */
            return -1;
        }
        out.nodes[id].layer = root->layer;
        out.nodes[id].fwd = -1;
        if (i < g->nforward)
            out.nforward = out.n;
        if (i < g->ngrad)
            out.ngrad = out.n;
        map[i] = id;
        changed += rg->members;
    }
    ir_rewrite_end(g, &out, map);
    return changed;
}
