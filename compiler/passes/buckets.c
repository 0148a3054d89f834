/* buckets.c — which allreduce goes in which bucket; see passes.h.
 *
 * Consumes: a fused graph with ALLREDUCE nodes (a step built for several
 * ranks; any other graph passes through untouched).  Produces: the same
 * graph with each ALLREDUCE's attributes set: bucket, offset, the bucket's
 * elements and its members (ops.def).
 *
 * As PyTorch's DDP and Horovod do, gradients travel in buckets of about
 * BUCKET_BYTES: one message per gradient would pay the latency of every
 * small bias; one message for all would start only when the backward pass
 * ends, and overlap nothing.  The generated step starts a gradient's part
 * when its kernel has run, and a bucket leaves when its last member is
 * in, so buckets are filled in the order gradients become final: the
 * order of their producers.  That is only safe when every ALLREDUCE (where
 * the step waits) comes after every producer, which is how step.c builds
 * it and the passes keep it; a graph where that fails gets one bucket per
 * gradient, which is always safe.
 */
#include "passes.h"

/* 256 KiB: the MNIST MLP's gradients (397 KiB) make two buckets (the second
 * layer's, then the first's weight alone), the small GPT's (3.2 MiB) about
 * fifteen; shared-memory and 10 GbE transfers of this size take longer than
 * their latency (~25-200 us against a few us). */
enum { BUCKET_BYTES = 256 * 1024 };

static int64_t elems_of(const IrShape *s)
{
    int64_t n = 1;
    for (int d = 0; d < s->rank; d++)
        n *= s->dim[d];
    return n;
}

int pass_buckets(IrGraph *g)
{
    int *ar = ARENA_ARRAY(g->arena, int, g->n + 1), na = 0;
    int last_producer = -1, first_wait = g->n;
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].op == IR_ALLREDUCE) {
            ar[na++] = i;
            last_producer = g->nodes[i].in[0] > last_producer ? g->nodes[i].in[0] : last_producer;
            first_wait = i < first_wait ? i : first_wait;
        }
    if (na == 0)
        return 0;
    /* by producer: insertion sort, stable (gradients are few) */
    for (int x = 1; x < na; x++)
        for (int y = x; y > 0 && g->nodes[ar[y]].in[0] < g->nodes[ar[y - 1]].in[0]; y--) {
            int t = ar[y];
            ar[y] = ar[y - 1];
            ar[y - 1] = t;
        }
    bool grouped = first_wait > last_producer;
    int64_t size = ir_type_size(g->ftype);
    int bucket = 0;
    for (int x = 0; x < na;) {
        int64_t elems = 0;
        int end = x;
        /* a bucket closes before it would pass BUCKET_BYTES (a gradient larger than
         * that travels alone): a big gradient made late does not hold back the
         * small ones made before it */
        while (end < na && (end == x || (grouped && (elems + elems_of(&g->nodes[ar[end]].shape)) * size <= BUCKET_BYTES)))
            elems += elems_of(&g->nodes[ar[end++]].shape);
        int64_t offset = 0;
        for (int y = x; y < end; y++) {
            IrAttr *a = &g->nodes[ar[y]].a;
            a->i[0] = bucket, a->i[1] = offset, a->i[2] = elems, a->i[3] = end - x;
            offset += elems_of(&g->nodes[ar[y]].shape);
        }
        bucket++;
        x = end;
    }
    return na;
}
