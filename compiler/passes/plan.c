/* plan.c — the memory plan: where every value of a training step lives, for
 * every batch size at once (--dump-ir=plan).
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
 * A value's size is either fixed (no batch axis: parameters, their
 * gradients, the loss) or so many bytes per example.  Every slab is a fixed
 * region followed by a per-example region, and an offset in the second is
 * F + o·B̂: F the fixed region's size, o the bytes per example of everything
 * below it, B̂ the batch rounded up to PLAN_BATCH_ROUND but never below the
 * batch the plan is made for (its floor, rounded alike).  Because every
 * per-example offset scales with the same B̂, values apart at one batch are
 * apart at all, and the generated code works out its addresses from the
 * batch it is called with: one plan, any batch, the slabs sized by the
 * caller.  Fixed offsets are multiples of PLAN_ALIGN; per-example ones of 4
 * bytes, which B̂ (a multiple of 16) turns into multiples of 64 too.  The
 * floor costs smaller batches nothing they did not have before (the
 * planned batch's memory) and lets a value of fixed size f live in a free
 * per-example range of f / floor bytes.
 *
 * Inputs, parameters and state are contiguous, in node order within each
 * region.  Activations share one arena and reuse each other's space by
 * liveness: value i is written by step i and read last by step last[i]
 * (g->n for a graph output, which is read after the step ends), and its
 * bytes are free again for steps after last[i] only.  Not at last[i]
 * itself: a kernel never writes into bytes one of its own operands still
 * holds, so no kernel has to be safe for in-place use.
 *
 * The allocator is greedy, walking the steps in order, with one free list
 * per region.  Before step i the buffers last read by step i-1 go back to a
 * free list of [offset, size) ranges, kept sorted and merged; step i takes
 * the smallest free range that fits (the lowest one among equals), or else
 * grows its region at the top.  Neither that best fit nor taking the lowest
 * range that fits (first fit) always fragments less, and letting a
 * fixed-size value take a hole in the per-example region (place_activations)
 * is not always better either: the whole plan is made all four ways, and the
 * one whose arena is smallest at the planned batch wins (on a tie, the first
 * of best fit, first fit, best fit sharing holes, first fit sharing holes).
 * The regions' high-water marks make slab_bytes[SLAB_ACT]; live_sum adds up
 * the same rounded sizes, what the arena would need without reuse, so peak
 * <= live_sum.  Everything depends on the graph and the planned batch
 * alone, so they always get the same plan.
 *
 * A reshape (an op flagged OPF_VIEW) of an activation is a view: it shares
 * its operand's bytes (alias[i] names the activation that owns them) and no
 * kernel copies them.  The owner's buffer then lives until the last read of
 * any of its views, and its printed live range says so.  An op flagged
 * OPF_IN_PLACE (allreduce) is planned as a view too when it is the last
 * reader of its operand's bytes: it writes over them, and nothing reads
 * them after it.
 */
#include <stdint.h>
#include <string.h>

#include "passes.h"

enum { PLAN_ALIGN = 64 };   /* bytes: a cache line, and any vector load */
enum { EX_ALIGN = 4 };      /* bytes per example: times B̂ a multiple of PLAN_ALIGN */

static int64_t align_to(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

static IrBytes add(IrBytes x, IrBytes y) { return (IrBytes){x.fixed + y.fixed, x.per_ex + y.per_ex}; }

/* x <= y at every B̂ from floor up: at floor and, as B̂ grows, still. */
static bool le_always(IrBytes x, IrBytes y, int64_t floor)
{
    return x.per_ex <= y.per_ex && x.fixed + x.per_ex * floor <= y.fixed + y.per_ex * floor;
}

/* The region's share of x, rounded up to its alignment. */
static IrBytes reserve(IrBytes x) { return (IrBytes){align_to(x.fixed, PLAN_ALIGN), align_to(x.per_ex, EX_ALIGN)}; }

/* "4096", "512*B", "4096+512*B": bytes, B standing for B̂. */
static void put_bytes(StrBuf *sb, IrBytes x)
{
    if (x.fixed || !x.per_ex)
        sb_printf(sb, "%lld", (long long)x.fixed);
    if (x.per_ex)
        sb_printf(sb, "%s%lld*B", x.fixed ? "+" : "", (long long)x.per_ex);
}

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

/* A shape has the batch at most once, in front (the verifier sees to it), so
 * its bytes are fixed or per example. */
static IrBytes bytes_of(const IrNode *n)
{
    int64_t b = ir_elems(&n->shape, 1) * ir_type_size(n->type);
    return ir_is_batched(&n->shape) ? (IrBytes){0, b} : (IrBytes){b, 0};
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

/* The offset of size > 0 bytes (a multiple of the region's alignment) taken
 * from the list, growing the region if nothing free fits; or, when !grow,
 * -1 instead of growing. */
static int64_t fl_take(FreeList *fl, int64_t size, bool grow)
{
    int best = -1;
    for (int k = 0; k < fl->n; k++)
        if (fl->r[k].size >= size && (best < 0 || (!fl->first_fit && fl->r[k].size < fl->r[best].size)))
            best = k;
    if (best < 0) {
        if (!grow && fl->peak - fl->top < size)
            return -1;
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
 * (views take their owner's; every activation's entry is written before it
 * is read, every other entry left alone), one free list per region;
 * returns the regions' sizes.  Offsets in the per-example region are left
 * as {-1, o}: the fixed region's size, their fixed part, is not known until
 * the walk ends.
 *
 * With share, a fixed-size value may take a free range of the per-example
 * region that holds it at the smallest B̂, p's floor (so at every B̂), though
 * never one that grows the region: a hole the per-example values left
 * would otherwise stay empty while the fixed region grows beside it. */
static IrBytes place_activations(const IrPlan *p, int n, bool first_fit, bool share, IrBytes *offset)
{
    /* dies[t]: the activations last read by step t, chained through next[];
     * held[i]: what i took from the per-example list (a shared fixed value
     * takes more than its bytes) */
    Arena scratch;
    arena_init(&scratch);
    int *dies = ARENA_ARRAY(&scratch, int, n + 1);
    int *next = ARENA_ARRAY(&scratch, int, n);
    int64_t *held = ARENA_ARRAY(&scratch, int64_t, n);
    for (int t = 0; t <= n; t++)
        dies[t] = -1;
    /* each list has at most one more range than live buffers */
    FreeList fixed = {.r = ARENA_ARRAY(&scratch, Range, n + 1), .first_fit = first_fit};
    FreeList per_ex = {.r = ARENA_ARRAY(&scratch, Range, n + 1), .first_fit = first_fit};
    int64_t floor = plan_round_batch(p->batch);   /* the smallest B̂ */
    for (int i = 0; i < n; i++) {
        /* the order buffers come back in does not matter: the merged list is the same */
        for (int j = i > 0 ? dies[i - 1] : -1; j >= 0; j = next[j]) {
            if (held[j])
                fl_give(&per_ex, offset[j].per_ex, held[j]);
            else
                fl_give(&fixed, offset[j].fixed, reserve(p->bytes[j]).fixed);
        }
        if (p->slab[i] != SLAB_ACT)
            continue;
        if (p->alias[i] >= 0) {
            offset[i] = offset[p->alias[i]];
            continue;
        }
        IrBytes r = reserve(p->bytes[i]);
        if (!r.fixed && !r.per_ex) {
            offset[i] = (IrBytes){0, 0};   /* an empty tensor: offset 0, no bytes */
            continue;
        }
        int64_t at = -1;
        if (r.per_ex) {
            held[i] = r.per_ex;
            at = fl_take(&per_ex, r.per_ex, true);
        } else if (share) {
            held[i] = align_to((r.fixed + floor - 1) / floor, EX_ALIGN);
            if ((at = fl_take(&per_ex, held[i], false)) < 0)
                held[i] = 0;
        }
        offset[i] = at >= 0 ? (IrBytes){-1, at} : (IrBytes){fl_take(&fixed, r.fixed, true), 0};
        next[i] = dies[p->last[i]];
        dies[p->last[i]] = i;
    }
    arena_free(&scratch);
    return (IrBytes){fixed.peak, per_ex.peak};
}

IrPlan *plan_memory(const IrGraph *g, int64_t batch)
{
    Arena *a = g->arena;
    int n = g->n;
    IrPlan *p = ARENA_NEW(a, IrPlan);
    p->batch = batch;
    p->slab = ARENA_ARRAY(a, IrSlab, n);
    p->offset = ARENA_ARRAY(a, IrBytes, n);
    p->bytes = ARENA_ARRAY(a, IrBytes, n);
    p->first = ARENA_ARRAY(a, int, n);
    p->last = ARENA_ARRAY(a, int, n);
    p->alias = ARENA_ARRAY(a, int, n);
    liveness(g, p->first, p->last);

    /* inputs, parameters, state: the fixed ones in order, then the
     * per-example ones in order above them */
    for (int i = 0; i < n; i++) {
        IrSlab s = p->slab[i] = slab_of(&g->nodes[i]);
        p->bytes[i] = bytes_of(&g->nodes[i]);
        if ((s == SLAB_INPUT || s == SLAB_PARAM || s == SLAB_STATE) && !p->bytes[i].per_ex) {
            p->offset[i].fixed = p->slab_bytes[s].fixed;
            p->slab_bytes[s].fixed = align_to(p->offset[i].fixed + p->bytes[i].fixed, PLAN_ALIGN);
        }
    }
    for (int i = 0; i < n; i++) {
        IrSlab s = p->slab[i];
        if ((s == SLAB_INPUT || s == SLAB_PARAM || s == SLAB_STATE) && p->bytes[i].per_ex) {
            p->offset[i] = (IrBytes){p->slab_bytes[s].fixed, p->slab_bytes[s].per_ex};
            p->slab_bytes[s].per_ex = align_to(p->offset[i].per_ex + p->bytes[i].per_ex, EX_ALIGN);
        }
    }

    /* views: a view of an activation shares its owner's bytes, and the
     * owner lives as long as its longest-lived view */
    for (int i = 0; i < n; i++) {
        const IrNode *nd = &g->nodes[i];
        int x = nd->nin ? nd->in[0] : -1;
        p->alias[i] = -1;
        bool view = ir_ops[nd->op].flags & OPF_VIEW;
        if (!view && (ir_ops[nd->op].flags & OPF_IN_PLACE) && x >= 0)
            view = p->last[p->alias[x] >= 0 ? p->alias[x] : x] == i;   /* nothing reads the bytes after i */
        if (!view || p->slab[i] != SLAB_ACT || p->slab[x] != SLAB_ACT || p->bytes[i].fixed != p->bytes[x].fixed
            || p->bytes[i].per_ex != p->bytes[x].per_ex)
            continue;
        int owner = p->alias[x] >= 0 ? p->alias[x] : x;
        p->alias[i] = owner;
        if (p->last[i] > p->last[owner])
            p->last[owner] = p->last[i];
    }

    /* four ways: best or first fit, fixed values in per-example holes or
     * not; the smallest arena at the given batch wins (the first on a tie).
     * Each way rewrites every activation's offset and only those (inputs,
     * params, state are placed already), so one copy serves all four. */
    IrBytes *try = ARENA_ARRAY(a, IrBytes, n);
    memcpy(try, p->offset, sizeof(IrBytes) * (size_t)n);
    IrBytes peak = {0, 0};
    for (int way = 0; way < 4; way++) {
        IrBytes got = place_activations(p, n, way & 1, way & 2, try);
        if (way == 0 || plan_at(p, got, batch) < plan_at(p, peak, batch)) {
            peak = got;
            memcpy(p->offset, try, sizeof(IrBytes) * (size_t)n);
        }
    }
    for (int i = 0; i < n; i++) {
        if (p->slab[i] != SLAB_ACT)
            continue;
        if (p->offset[i].fixed < 0)
            p->offset[i].fixed = peak.fixed;   /* the per-example region starts above the fixed one */
        if (p->alias[i] < 0)
            p->live_sum = add(p->live_sum, reserve(p->bytes[i]));
    }
    p->slab_bytes[SLAB_ACT] = peak;
    return p;
}

/* ---- checking a plan ----------------------------------------------------------- */

/* The smallest B̂ >= floor at which [lo1, hi1) and [lo2, hi2) share bytes,
 * or 0 if they never do.  Each bound is linear in B̂, so each of the two
 * conditions lo2 < hi1 and lo1 < hi2 holds on a half-line of B̂. */
static int64_t first_overlap(IrBytes lo1, IrBytes hi1, IrBytes lo2, IrBytes hi2, int64_t floor)
{
    int64_t from = floor, to = INT64_MAX / 4;
    IrBytes gap[2] = {{hi1.fixed - lo2.fixed, hi1.per_ex - lo2.per_ex}, {hi2.fixed - lo1.fixed, hi2.per_ex - lo1.per_ex}};
    for (int k = 0; k < 2; k++) {   /* gap[k].fixed + gap[k].per_ex · B̂ > 0 */
        int64_t c = gap[k].fixed, m = gap[k].per_ex;
        if (m == 0) {
            if (c <= 0)
                return 0;
        } else if (m > 0) {   /* B̂ > -c/m */
            int64_t least = c >= 0 ? 0 : -c / m + 1;
            from = least > from ? least : from;
        } else {              /* B̂ < c/(-m) */
            int64_t most = c <= 0 ? -1 : (c - 1) / -m;
            to = most < to ? most : to;
        }
    }
    from = align_to(from, PLAN_BATCH_ROUND);
    return from <= to ? from : 0;
}

static const char *fmt(Arena *a, IrBytes x)
{
    StrBuf sb = {0};
    put_bytes(&sb, x);
    const char *s = arena_printf(a, "%s", sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

/* NULL, or what is wrong with p for g, in g's arena; last[] is the graph's
 * own liveness. */
static const char *find_problem(const IrGraph *g, const IrPlan *p, const int *last)
{
    Arena *a = g->arena;
    int n = g->n;
    int64_t floor = plan_round_batch(p->batch);   /* the smallest B̂ */
    IrBytes end[SLAB_ACT] = {{0, 0}};   /* fixed slabs: where the previous tensor ended */
    for (int i = 0; i < n; i++) {
        IrSlab s = p->slab[i], want = slab_of(&g->nodes[i]);
        if (s != want)
            return arena_printf(a, "%%%d is in slab %s, not %s", i, slab_name[s], slab_name[want]);
        if (s == SLAB_NONE)
            continue;
        IrBytes off = p->offset[i], bytes = p->bytes[i], need = bytes_of(&g->nodes[i]);
        if (bytes.fixed != need.fixed || bytes.per_ex != need.per_ex)
            return arena_printf(a, "%%%d has %s bytes, but its shape needs %s", i, fmt(a, bytes), fmt(a, need));
        if (off.fixed % PLAN_ALIGN != 0 || off.per_ex % EX_ALIGN != 0)
            return arena_printf(a, "%%%d at %s is not aligned to %d bytes (%d per example)", i, fmt(a, off),
                                PLAN_ALIGN, EX_ALIGN);
        IrBytes top = add(off, bytes);
        if (off.fixed < 0 || off.per_ex < 0 || !le_always(top, p->slab_bytes[s], floor))
            return arena_printf(a, "%%%d at %s +%s is outside the %s slab of %s bytes", i, fmt(a, off),
                                fmt(a, bytes), slab_name[s], fmt(a, p->slab_bytes[s]));
        if (s != SLAB_ACT) {
            if (!le_always(end[s], off, floor))
                return arena_printf(a, "%%%d at %s overlaps the tensor before it in the %s slab", i, fmt(a, off),
                                    slab_name[s]);
            end[s] = top;
        } else if (p->alias[i] >= 0) {
            int o = p->alias[i];
            if (!(ir_ops[g->nodes[i].op].flags & (OPF_VIEW | OPF_IN_PLACE)) || p->alias[o] >= 0 || o >= i
                || p->offset[i].fixed != p->offset[o].fixed || p->offset[i].per_ex != p->offset[o].per_ex
                || p->bytes[i].fixed != p->bytes[o].fixed || p->bytes[i].per_ex != p->bytes[o].per_ex
                || p->last[o] < last[i])
                return arena_printf(a, "%%%d is not a view of %%%d that the plan can keep", i, o);
            /* in place: nothing may read the bytes it writes over after it (o, or a view of o made
             * before i; a view made after i is of i's own result) */
            if (!(ir_ops[g->nodes[i].op].flags & OPF_VIEW))
                for (int j = 0; j < n; j++)
                    if ((j == o || (p->alias[j] == o && j < i)) && last[j] > i)
                        return arena_printf(a, "%%%d writes over %%%d, which %%%d reads after it", i, o, last[j]);
        } else if (p->first[i] != i || p->last[i] < last[i]) {
            return arena_printf(a, "%%%d is live %%%d..%%%d in the plan, but read until %%%d", i, p->first[i],
                                p->last[i], last[i]);
        }
    }
    /* Activations: j is written by step j, inside i's live range when
     * i < j <= last[i]. */
    for (int i = 0; i < n; i++) {
        if (p->slab[i] != SLAB_ACT || p->alias[i] >= 0)
            continue;
        int until = p->last[i] < n - 1 ? p->last[i] : n - 1;
        for (int j = i + 1; j <= until; j++) {
            if (p->slab[j] != SLAB_ACT || p->alias[j] >= 0)
                continue;   /* a view writes nothing */
            int64_t at = first_overlap(p->offset[i], add(p->offset[i], p->bytes[i]), p->offset[j],
                                       add(p->offset[j], p->bytes[j]), floor);
            if (!at)
                continue;
            int64_t lo = plan_at(p, p->offset[i], at) > plan_at(p, p->offset[j], at) ? plan_at(p, p->offset[i], at)
                                                                                     : plan_at(p, p->offset[j], at);
            int64_t end_i = plan_at(p, add(p->offset[i], p->bytes[i]), at);
            int64_t end_j = plan_at(p, add(p->offset[j], p->bytes[j]), at);
            return arena_printf(a, "%%%d and %%%d share bytes %lld..%lld of the activation arena at batch %lld while "
                                   "both are live (%%%d..%%%d and %%%d..%%%d)",
                                i, j, (long long)lo, (long long)(end_i < end_j ? end_i : end_j), (long long)at, i,
                                p->last[i], j, p->last[j]);
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

/* The bytes of activations live at each step, at batch: the floor no
 * placement can beat is the largest. */
static int64_t most_live(const IrGraph *g, const IrPlan *p, int64_t batch)
{
    int64_t most = 0;
    for (int step = 0; step < g->n; step++) {
        int64_t live = 0;
        for (int i = 0; i <= step; i++)
            if (p->slab[i] == SLAB_ACT && p->alias[i] < 0 && p->last[i] >= step)
                live += plan_at(p, reserve(p->bytes[i]), batch);
        if (live > most)
            most = live;
    }
    return most;
}

/*   plan: B = the batch rounded up to a multiple of 16
 *     %7 = matmul  : f32[B,128]  act    @1024+0B  +512B  live %7..%12
 *   slabs: input 3140B bytes, param 407104 bytes, state 0 bytes
 *   activations: 1024+1500B bytes; at batch 64 the peak is X bytes (Y KiB) for Z bytes of tensors; reuse saves W%
 *   the most live at one step at batch 64: V bytes; the peak is U% above it */
void plan_print(StrBuf *sb, const IrGraph *g, const IrPlan *p)
{
    /* column widths, measured on a scratch buffer */
    size_t w[4] = {0, 0, 1, 1};   /* head, type, offset, size */
    StrBuf t = {0};
    for (int i = 0; i < g->n; i++) {
        if (p->slab[i] == SLAB_NONE)
            continue;
        for (int c = 0; c < 4; c++) {
            t.len = 0;
            if (c == 0)
                put_head(&t, g, i);
            else if (c == 1)
                put_type(&t, &g->nodes[i]);
            else
                put_bytes(&t, c == 2 ? p->offset[i] : p->bytes[i]);
            w[c] = t.len > w[c] ? t.len : w[c];
        }
    }
    sb_free(&t);
    size_t head_w = w[0], type_w = w[1], off_w = w[2], bytes_w = w[3];

    sb_printf(sb, "plan: offsets and sizes in bytes; B = the batch rounded up to a multiple of %d, at least %lld\n",
              PLAN_BATCH_ROUND, (long long)plan_round_batch(p->batch));
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
        sb_printf(sb, "  %-5s  @", slab_name[s]);
        size_t at = sb->len;
        put_bytes(sb, p->offset[i]);
        pad_to(sb, at + off_w);
        sb_puts(sb, "  +");
        at = sb->len;
        put_bytes(sb, p->bytes[i]);
        if (s != SLAB_ACT) {
            sb_putc(sb, '\n');
            continue;
        }
        pad_to(sb, at + bytes_w);
        if (p->alias[i] >= 0) {
            sb_printf(sb, "  view of %%%d\n", p->alias[i]);
            continue;
        }
        sb_printf(sb, "  live %%%d..", p->first[i]);
        if (p->last[i] >= g->n)
            sb_puts(sb, "end\n");
        else
            sb_printf(sb, "%%%d\n", p->last[i]);
    }
    sb_puts(sb, "slabs:");
    for (IrSlab s = SLAB_INPUT; s < SLAB_ACT; s++) {
        sb_printf(sb, "%s %s ", s == SLAB_INPUT ? "" : ",", slab_name[s]);
        put_bytes(sb, p->slab_bytes[s]);
        sb_puts(sb, " bytes");
    }
    sb_puts(sb, "\nactivations: ");
    put_bytes(sb, p->slab_bytes[SLAB_ACT]);
    int64_t peak = plan_at(p, p->slab_bytes[SLAB_ACT], p->batch), sum = plan_at(p, p->live_sum, p->batch);
    double saves = sum > 0 ? 100.0 * (double)(sum - peak) / (double)sum : 0.0;
    sb_printf(sb, " bytes; at batch %lld the peak is %lld bytes (%.1f KiB) for %lld bytes of tensors; reuse saves "
                  "%.1f%%\n",
              (long long)p->batch, (long long)peak, (double)peak / 1024.0, (long long)sum, saves);
    int64_t most = most_live(g, p, p->batch);
    sb_printf(sb, "the most live at one step at batch %lld: %lld bytes; the peak is %.1f%% above it\n",
              (long long)p->batch, (long long)most, most > 0 ? 100.0 * (double)(peak - most) / (double)most : 0.0);
}

/* The plan as a graph: each buffer a box with its slab, offset, size and
 * the steps it lives (views dashed), coloured by slab, so the reuse of
 * the activation slab can be followed along the edges. */
void plan_print_dot(StrBuf *sb, const IrGraph *g, const IrPlan *p)
{
    static const char *const fill[] = {
        [SLAB_NONE] = "white", [SLAB_INPUT] = "lightblue", [SLAB_PARAM] = "lightyellow",
        [SLAB_STATE] = "lavender", [SLAB_ACT] = "white",
    };
    sb_printf(sb, "digraph \"%s plan\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n",
              g->name ? g->name : "graph");
    sb_printf(sb, "  label=\"%s: the memory plan (B = the batch rounded up to a multiple of %d)\"; "
                  "fontname=\"monospace\"; labelloc=t;\n",
              g->name ? g->name : "graph", PLAN_BATCH_ROUND);
    for (int i = 0; i < g->n; i++) {
        IrSlab s = p->slab[i];
        if (s == SLAB_NONE)
            continue;
        sb_printf(sb, "  n%d [label=\"", i);
        put_head(sb, g, i);
        sb_puts(sb, "\\n");
        put_type(sb, &g->nodes[i]);
        sb_printf(sb, "\\n%s @", slab_name[s]);
        put_bytes(sb, p->offset[i]);
        sb_puts(sb, " +");
        put_bytes(sb, p->bytes[i]);
        if (s == SLAB_ACT && p->alias[i] >= 0)
            sb_printf(sb, "\\nview of %%%d", p->alias[i]);
        else if (s == SLAB_ACT && p->last[i] >= g->n)
            sb_printf(sb, "\\nlive %%%d..end", p->first[i]);
        else if (s == SLAB_ACT)
            sb_printf(sb, "\\nlive %%%d..%%%d", p->first[i], p->last[i]);
        sb_printf(sb, "\", style=\"filled%s\", fillcolor=%s];\n", s == SLAB_ACT && p->alias[i] >= 0 ? ",dashed" : "",
                  fill[s]);
    }
    for (int i = 0; i < g->n; i++)
        for (int k = 0; p->slab[i] != SLAB_NONE && k < g->nodes[i].nin; k++)
            if (p->slab[g->nodes[i].in[k]] != SLAB_NONE)
                sb_printf(sb, "  n%d -> n%d;\n", g->nodes[i].in[k], i);
    sb_puts(sb, "}\n");
}
