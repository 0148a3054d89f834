/* plan.c — the memory plan: where every value of a training step lives, for
 * one batch size (--dump-ir=plan).
 *
 * Consumes a graph whose node order is its execution order.  Produces an
 * IrPlan in the graph's arena: per node a slab, a byte offset in it and a
 * size, and per slab its size.
 *
 *   SLAB_PARAM  inputs with ROLE_PARAM
 *   SLAB_STATE  ROLE_STATE and ROLE_STEP (optimizer state, the step counter)
 *   SLAB_INPUT  ROLE_INPUT and ROLE_TARGET (fed per batch)
 *   SLAB_NONE   CONST, TENSOR, BATCH_SIZE: baked into the code
 *   SLAB_ACT    everything else: activations, gradients, updated values
 *
 * The first three are contiguous, tensors in node order, each at a multiple
 * of PLAN_ALIGN bytes.  Activations share one arena and reuse each other's
 * space by liveness: value i is written by step i and read last by step
 * last[i] (g->n for a graph output, which is read after the step ends), and
 * its bytes are free again for steps after last[i] only.  Not at last[i]
 * itself: a kernel never writes into bytes one of its own operands still
 * holds, so no kernel has to be safe for in-place use.
 *
 * The allocator is greedy, walking the steps in order.  Before step i the
 * buffers last read by step i-1 go back to a free list of [offset, size)
 * ranges, kept sorted and merged; step i takes the smallest free range that
 * fits (the lowest one among equals), or else grows the arena at its top.
 * Neither that best fit nor taking the lowest range that fits (first fit)
 * always fragments less: the plan is made both ways and keeps the smaller
 * arena (best fit on a tie).
 * Sizes are rounded up to PLAN_ALIGN.  The arena's high-water mark is
 * slab_bytes[SLAB_ACT]; live_sum adds up the same rounded sizes, what the
 * arena would need without reuse, so peak <= live_sum.  Everything depends
 * on the graph alone, so the same graph always gets the same plan.
 *
 * A reshape (an op flagged OPF_VIEW) of an activation is a view: it shares
 * its operand's bytes (alias[i] names the activation that owns them) and no
 * kernel copies them.  The owner's buffer then lives until the last read of any of its
 * views, and its printed live range says so.
 */
#include <string.h>

#include "passes.h"

enum { PLAN_ALIGN = 64 };   /* bytes: a cache line, and any vector load */

static int64_t align_up(int64_t x) { return (x + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN; }

static const char *const slab_name[] = {
    [SLAB_NONE] = "none", [SLAB_INPUT] = "input", [SLAB_PARAM] = "param",
    [SLAB_STATE] = "state", [SLAB_ACT] = "act",
};

static IrSlab slab_of(const IrNode *n)
{
    if (n->op == IR_INPUT) {
        switch (n->a.role) {
        case ROLE_INPUT: case ROLE_TARGET: return SLAB_INPUT;
        case ROLE_PARAM: return SLAB_PARAM;
        case ROLE_STATE: case ROLE_STEP: return SLAB_STATE;
        }
        return SLAB_NONE;
    }
    /* the other leaves are constants */
    return ir_ops[n->op].flags & OPF_LEAF ? SLAB_NONE : SLAB_ACT;
}

static int64_t bytes_of(const IrNode *n, int64_t batch)
{
    return ir_elems(&n->shape, batch) * ir_type_size(n->type);
}

/* first[i] = i; last[i] = the last step that reads i: g->n for graph
 * outputs, i itself for a value nobody reads. */
static void liveness(const IrGraph *g, int *first, int *last)
{
    for (int i = 0; i < g->n; i++) {
        first[i] = last[i] = i;
        for (int k = 0; k < g->nodes[i].nin; k++)
            last[g->nodes[i].in[k]] = i;   /* i only grows: the last write wins */
    }
    for (int j = 0; j < g->nouts; j++)
        last[g->outs[j].value] = g->n;
}

/* ---- the activation arena ------------------------------------------------------ */

typedef struct Range { int64_t off, size; } Range;

typedef struct FreeList {
    Range  *r;      /* free ranges below top, sorted by offset, no two adjacent */
    int     n;
    bool    first_fit;  /* take the lowest range that fits, not the smallest */
    int64_t top;    /* everything from here up is free */
    int64_t peak;   /* the highest top so far: the arena's size */
} FreeList;

/* Replaces ranges [lo, hi) of the list with the nput ranges at put. */
static void fl_splice(FreeList *fl, int lo, int hi, const Range *put, int nput)
{
    memmove(&fl->r[lo + nput], &fl->r[hi], sizeof *fl->r * (size_t)(fl->n - hi));
    if (nput)
        fl->r[lo] = *put;
    fl->n += nput - (hi - lo);
}

/* size > 0, a multiple of PLAN_ALIGN. */
static int64_t fl_take(FreeList *fl, int64_t size)
{
    int best = -1;
    for (int k = 0; k < fl->n; k++)
        if (fl->r[k].size >= size && (best < 0 || (!fl->first_fit && fl->r[k].size < fl->r[best].size)))
            best = k;
    if (best < 0) {
        int64_t off = fl->top;
        fl->top += size;
        if (fl->top > fl->peak)
            fl->peak = fl->top;
        return off;
    }
    Range *r = &fl->r[best];
    int64_t off = r->off;
    r->off += size;
    r->size -= size;
    if (r->size == 0)
        fl_splice(fl, best, best + 1, NULL, 0);
    return off;
}

static void fl_give(FreeList *fl, int64_t off, int64_t size)
{
    int k = 0;
    while (k < fl->n && fl->r[k].off < off)
        k++;
    Range x = {off, size};
    int lo = k, hi = k;
    if (k > 0 && fl->r[k - 1].off + fl->r[k - 1].size == off) {
        lo = k - 1;
        x.off = fl->r[lo].off;
        x.size += fl->r[lo].size;
    }
    if (k < fl->n && off + size == fl->r[k].off) {
        hi = k + 1;
        x.size += fl->r[k].size;
    }
    if (x.off + x.size == fl->top) {   /* the top comes down instead */
        fl->top = x.off;
        fl_splice(fl, lo, hi, NULL, 0);
    } else {
        fl_splice(fl, lo, hi, &x, 1);
    }
}

/* ---- the plan ------------------------------------------------------------------- */

/* Offsets in the activation arena for p's activations, into offset[]
 * (views take their owner's); returns the arena's size. */
static int64_t place_activations(const IrPlan *p, int n, bool first_fit, int64_t *offset)
{
    /* dies[t]: the activations last read by step t, chained through next[] */
    Arena scratch;
    arena_init(&scratch);
    int *dies = ARENA_ARRAY(&scratch, int, n + 1);
    int *next = ARENA_ARRAY(&scratch, int, n);
    for (int t = 0; t <= n; t++)
        dies[t] = -1;
    FreeList fl = {.r = ARENA_ARRAY(&scratch, Range, n + 1), .first_fit = first_fit};  /* at most one more than live buffers */
    for (int i = 0; i < n; i++) {
        /* the order buffers come back in does not matter: the merged list is the same */
        for (int j = i > 0 ? dies[i - 1] : -1; j >= 0; j = next[j])
            fl_give(&fl, offset[j], align_up(p->bytes[j]));
        if (p->slab[i] != SLAB_ACT)
            continue;
        if (p->alias[i] >= 0) {
            offset[i] = offset[p->alias[i]];
            continue;
        }
        int64_t size = align_up(p->bytes[i]);
        if (size == 0) {
            offset[i] = 0;   /* an empty tensor: offset 0, no bytes */
            continue;
        }
        offset[i] = fl_take(&fl, size);
        next[i] = dies[p->last[i]];
        dies[p->last[i]] = i;
    }
    arena_free(&scratch);
    return fl.peak;
}

IrPlan *plan_memory(const IrGraph *g, int64_t batch)
{
    Arena *a = g->arena;
    int n = g->n;
    IrPlan *p = ARENA_NEW(a, IrPlan);
    p->batch = batch;
    p->slab = ARENA_ARRAY(a, IrSlab, n);
    p->offset = ARENA_ARRAY(a, int64_t, n);
    p->bytes = ARENA_ARRAY(a, int64_t, n);
    p->first = ARENA_ARRAY(a, int, n);
    p->last = ARENA_ARRAY(a, int, n);
    p->alias = ARENA_ARRAY(a, int, n);
    liveness(g, p->first, p->last);

    for (int i = 0; i < n; i++) {
        IrSlab s = p->slab[i] = slab_of(&g->nodes[i]);
        p->bytes[i] = bytes_of(&g->nodes[i], batch);
        if (s == SLAB_INPUT || s == SLAB_PARAM || s == SLAB_STATE) {
            p->offset[i] = p->slab_bytes[s];
            p->slab_bytes[s] = align_up(p->offset[i] + p->bytes[i]);
        }
    }

    /* views: a view of an activation shares its owner's bytes, and the
     * owner lives as long as its longest-lived view */
    for (int i = 0; i < n; i++) {
        const IrNode *nd = &g->nodes[i];
        int x = nd->nin ? nd->in[0] : -1;
        p->alias[i] = -1;
        bool view = ir_ops[nd->op].flags & OPF_VIEW;
        if (!view || p->slab[i] != SLAB_ACT || p->slab[x] != SLAB_ACT || p->bytes[i] != p->bytes[x])
            continue;
        int owner = p->alias[x] >= 0 ? p->alias[x] : x;
        p->alias[i] = owner;
        if (p->last[i] > p->last[owner])
            p->last[owner] = p->last[i];
    }

    int64_t *first_fit = ARENA_ARRAY(a, int64_t, n);
    memcpy(first_fit, p->offset, sizeof(int64_t) * (size_t)n);
    int64_t best = place_activations(p, n, false, p->offset), first = place_activations(p, n, true, first_fit);
    if (first < best)
        memcpy(p->offset, first_fit, sizeof(int64_t) * (size_t)n);
    p->slab_bytes[SLAB_ACT] = first < best ? first : best;
    for (int i = 0; i < n; i++)
        if (p->slab[i] == SLAB_ACT && p->alias[i] < 0)
            p->live_sum += align_up(p->bytes[i]);
    return p;
}

/* ---- checking a plan ----------------------------------------------------------- */

/* NULL, or what is wrong with p for g, in g's arena; last[] is the graph's
 * own liveness. */
static const char *find_problem(const IrGraph *g, const IrPlan *p, const int *last)
{
    Arena *a = g->arena;
    int n = g->n;
    int64_t end[SLAB_ACT] = {0};   /* fixed slabs: where the previous tensor ended */
    for (int i = 0; i < n; i++) {
        IrSlab s = p->slab[i], want = slab_of(&g->nodes[i]);
        if (s != want)
            return arena_printf(a, "%%%d is in slab %s, not %s", i, slab_name[s], slab_name[want]);
        if (s == SLAB_NONE)
            continue;
        int64_t off = p->offset[i], bytes = p->bytes[i], need = bytes_of(&g->nodes[i], p->batch);
        if (bytes != need)
            return arena_printf(a, "%%%d has %lld bytes, but its shape needs %lld at batch %lld", i,
                                (long long)bytes, (long long)need, (long long)p->batch);
        if (off % PLAN_ALIGN != 0)
            return arena_printf(a, "%%%d at %lld is not aligned to %d bytes", i, (long long)off, PLAN_ALIGN);
        if (off < 0 || off + bytes > p->slab_bytes[s])
            return arena_printf(a, "%%%d at %lld +%lld is outside the %s slab of %lld bytes", i, (long long)off,
                                (long long)bytes, slab_name[s], (long long)p->slab_bytes[s]);
        if (s != SLAB_ACT) {
            if (off < end[s])
                return arena_printf(a, "%%%d at %lld overlaps the tensor before it in the %s slab", i,
                                    (long long)off, slab_name[s]);
            end[s] = off + bytes;
        } else if (p->alias[i] >= 0) {
            int o = p->alias[i];
            if (!(ir_ops[g->nodes[i].op].flags & OPF_VIEW) || p->alias[o] >= 0 || o >= i || p->offset[i] != p->offset[o]
                || p->bytes[i] != p->bytes[o] || p->last[o] < last[i])
                return arena_printf(a, "%%%d is not a view of %%%d that the plan can keep", i, o);
        } else if (p->first[i] != i || p->last[i] < last[i]) {
            return arena_printf(a, "%%%d is live %%%d..%%%d in the plan, but read until %%%d", i, p->first[i],
                                p->last[i], last[i]);
        }
    }
    /* Activations: j is written by step j, inside i's live range when
     * i < j <= last[i]. */
    for (int i = 0; i < n; i++) {
        if (p->slab[i] != SLAB_ACT || p->bytes[i] == 0 || p->alias[i] >= 0)
            continue;
        int until = p->last[i] < n - 1 ? p->last[i] : n - 1;
        for (int j = i + 1; j <= until; j++) {
            if (p->slab[j] != SLAB_ACT || p->bytes[j] == 0 || p->alias[j] >= 0)
                continue;   /* a view writes nothing */
            int64_t lo = p->offset[i] > p->offset[j] ? p->offset[i] : p->offset[j];
            int64_t end_i = p->offset[i] + p->bytes[i], end_j = p->offset[j] + p->bytes[j];
            int64_t hi = end_i < end_j ? end_i : end_j;
            if (lo < hi)
                return arena_printf(a, "%%%d and %%%d share bytes %lld..%lld of the activation arena while both "
                                       "are live (%%%d..%%%d and %%%d..%%%d)",
                                    i, j, (long long)lo, (long long)hi, i, p->last[i], j, p->last[j]);
        }
    }
    return NULL;
}

bool plan_check(const IrGraph *g, const IrPlan *p, const char **why)
{
    Arena scratch;
    arena_init(&scratch);
    int *first = ARENA_ARRAY(&scratch, int, g->n);
    int *last = ARENA_ARRAY(&scratch, int, g->n);
    liveness(g, first, last);
    const char *problem = find_problem(g, p, last);
    arena_free(&scratch);
    if (why)
        *why = problem;
    return problem == NULL;
}

/* ---- printing ------------------------------------------------------------------- */

static void put_head(StrBuf *sb, const IrGraph *g, int i)
{
    const IrNode *n = &g->nodes[i];
    sb_printf(sb, "%%%d = %s", i, ir_ops[n->op].name);
    if (n->op == IR_INPUT)
        sb_printf(sb, " %s", n->a.name);
}

static void put_type(StrBuf *sb, const IrNode *n)
{
    sb_puts(sb, ir_type_name(n->type));
    ir_shape_print(sb, &n->shape);
}

/* spaces up to sb->len == to (sb_pad always puts at least one) */
static void pad_to(StrBuf *sb, size_t to)
{
    while (sb->len < to)
        sb_putc(sb, ' ');
}

static size_t digits(int64_t v)
{
    size_t d = 1;
    for (; v >= 10; v /= 10)
        d++;
    return d;
}

/*   plan for batch 64
 *     %7 = matmul  : f32[B,128]  act    @1024  +32768  live %7..%12
 *   slabs: input 200960 bytes, param 407104 bytes, state 0 bytes
 *   activations: peak X bytes (Y KiB) for Z bytes of tensors; reuse saves W% */
void plan_print(StrBuf *sb, const IrGraph *g, const IrPlan *p)
{
    /* column widths, measured on a scratch buffer */
    size_t head_w = 0, type_w = 0, off_w = 1, bytes_w = 1;
    StrBuf t = {0};
    for (int i = 0; i < g->n; i++) {
        if (p->slab[i] == SLAB_NONE)
            continue;
        t.len = 0;
        put_head(&t, g, i);
        head_w = t.len > head_w ? t.len : head_w;
        t.len = 0;
        put_type(&t, &g->nodes[i]);
        type_w = t.len > type_w ? t.len : type_w;
        off_w = digits(p->offset[i]) > off_w ? digits(p->offset[i]) : off_w;
        bytes_w = digits(p->bytes[i]) > bytes_w ? digits(p->bytes[i]) : bytes_w;
    }
    sb_free(&t);

    sb_printf(sb, "plan for batch %lld\n", (long long)p->batch);
    for (int i = 0; i < g->n; i++) {
        if (i == g->nforward && g->ngrad > g->nforward)
            sb_puts(sb, "  -- backward --\n");
        if (i == g->ngrad && g->n > g->ngrad && g->ngrad > 0)
            sb_puts(sb, "  -- update --\n");
        IrSlab s = p->slab[i];
        if (s == SLAB_NONE)
            continue;
        size_t line = sb->len;
        sb_puts(sb, "  ");
        put_head(sb, g, i);
        pad_to(sb, line + 2 + head_w);
        sb_puts(sb, " : ");
        put_type(sb, &g->nodes[i]);
        pad_to(sb, line + 2 + head_w + 3 + type_w);
        sb_printf(sb, "  %-5s  @%-*lld  +", slab_name[s], (int)off_w, (long long)p->offset[i]);
        if (s != SLAB_ACT) {
            sb_printf(sb, "%lld\n", (long long)p->bytes[i]);
            continue;
        }
        if (p->alias[i] >= 0) {
            sb_printf(sb, "%-*lld  view of %%%d\n", (int)bytes_w, (long long)p->bytes[i], p->alias[i]);
            continue;
        }
        sb_printf(sb, "%-*lld  live %%%d..", (int)bytes_w, (long long)p->bytes[i], p->first[i]);
        if (p->last[i] >= g->n)
            sb_puts(sb, "end\n");
        else
            sb_printf(sb, "%%%d\n", p->last[i]);
    }
    sb_printf(sb, "slabs: input %lld bytes, param %lld bytes, state %lld bytes\n",
              (long long)p->slab_bytes[SLAB_INPUT], (long long)p->slab_bytes[SLAB_PARAM],
              (long long)p->slab_bytes[SLAB_STATE]);
    int64_t peak = p->slab_bytes[SLAB_ACT];
    double saves = p->live_sum > 0 ? 100.0 * (double)(p->live_sum - peak) / (double)p->live_sum : 0.0;
    sb_printf(sb, "activations: peak %lld bytes (%.1f KiB) for %lld bytes of tensors; reuse saves %.1f%%\n",
              (long long)peak, (double)peak / 1024.0, (long long)p->live_sum, saves);
    /* The floor no placement can beat: the most bytes live at one step. */
    int64_t most = 0;
    for (int step = 0; step < g->n; step++) {
        int64_t live = 0;
        for (int i = 0; i <= step; i++)
            if (p->slab[i] == SLAB_ACT && p->alias[i] < 0 && p->last[i] >= step)
                live += (p->bytes[i] + 63) / 64 * 64;
        if (live > most)
            most = live;
    }
    sb_printf(sb, "the most live at one step: %lld bytes; the peak is %.1f%% above it\n", (long long)most,
              most > 0 ? 100.0 * (double)(peak - most) / (double)most : 0.0);
}
