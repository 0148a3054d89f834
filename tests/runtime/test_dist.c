/* test_dist.c — dist.c in one process: the slices of a batch (rank r's
 * contiguous share, the first B mod N ranks one more), a rank's text windows
 * being those one process draws there, and the reduction with one rank
 * giving back each gradient bit for bit (a trainer started alone trains
 * as one process).  Several ranks: tests/dist/run.sh. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rt_harness.h"

static void test_shard(void)
{
    for (int64_t batch = 0; batch <= 70; batch++)
        for (int size = 1; size <= 9; size++) {
            int64_t next = 0;
            for (int r = 0; r < size; r++) {
                int64_t first, count;
                rt_dist_shard(batch, r, size, &first, &count);
                CU_ASSERT_EQUAL(first, next);   /* contiguous, in rank order */
                CU_ASSERT_EQUAL(count, batch / size + (r < batch % size));
                next = first + count;
            }
            CU_ASSERT_EQUAL(next, batch);       /* every example once */
        }
}

/* windows [first, first + count) of a batch are rows first.. of the whole batch */
static void test_windows(void)
{
    enum { N = 500, T = 8, B = 10 };
    int32_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = (i * 7 + i / 13) % 31;
    RtText t = {.ids = ids, .n = N, .vocab = 31, .train_end = 400};
    int32_t x[B * T], y[B * T], xs[B * T], ys[B * T];
    for (int validation = 0; validation < 2; validation++) {
        rt_text_batch(&t, T, B, 5, 9, validation, x, y);
        for (int first = 0; first < B; first += 3) {
            int count = first + 3 <= B ? 3 : B - first;
            rt_text_windows(&t, T, first, count, 5, 9, validation, xs, ys);
            CU_ASSERT(memcmp(xs, x + first * T, sizeof *xs * (size_t)(count * T)) == 0);
            CU_ASSERT(memcmp(ys, y + first * T, sizeof *ys * (size_t)(count * T)) == 0);
        }
    }
}

/* One rank: bucket 0 of two members (3 and 2 reals), twice, f32 and f64:
 * out == x exactly, in place too (out == x, as the memory plan mostly
 * has it), and nothing is sent, counted or allocated for a bucket (a
 * trainer started alone trains as one process, at one process's cost). */
static void test_one_rank(void)
{
    CU_ASSERT_EQUAL(rt_dist_size(), 1);
    RtCtx ctx = {0};
    for (int step = 0; step < 2; step++) {
        rt_dist_set_batch(7);
        float a[3] = {0.1f, -2.5f, 3e-8f}, b[2] = {7.0f + (float)step, -0.0f}, oa[3], ob[2];
        rt_allreduce_start(&ctx, b, 2, 0, 3, 5, 2, 4);
        rt_allreduce_start(&ctx, a, 3, 0, 0, 5, 2, 4);
        rt_allreduce_wait(&ctx, a, oa, 3, 0, 0, 5, 2, 4);
        rt_allreduce_wait(&ctx, b, ob, 2, 0, 3, 5, 2, 4);
        CU_ASSERT(memcmp(a, oa, sizeof a) == 0);
        CU_ASSERT(oa[2] == a[2] && ob[0] == b[0] && ob[1] == 0.0f && signbit(ob[1]));
        double d[2] = {1.0 / 3, -1e-300}, od[2], keep[2];
        memcpy(keep, d, sizeof d);
        rt_allreduce_start(&ctx, d, 2, 1, 0, 2, 1, 8);
        rt_allreduce_wait(&ctx, d, od, 2, 1, 0, 2, 1, 8);
        CU_ASSERT(memcmp(d, od, sizeof d) == 0);
        rt_allreduce_start(&ctx, d, 2, 1, 0, 2, 1, 8);
        rt_allreduce_wait(&ctx, d, d, 2, 1, 0, 2, 1, 8);   /* in place */
        CU_ASSERT(memcmp(d, keep, sizeof d) == 0);
    }
    RtDistStats st;
    rt_dist_stats(&st);
    CU_ASSERT_EQUAL(st.messages, 0);   /* one rank sends nothing */
    CU_ASSERT_EQUAL(st.bytes, 0);
    CU_ASSERT_EQUAL(rt_dist_agree(0, NULL, 0), 0);   /* one rank agrees with itself */
    CU_ASSERT_EQUAL(rt_dist_agree(3, NULL, 0), 3);
}

static const RtTestCase tests[] = {
    {"shard", test_shard},
    {"windows", test_windows},
    {"one_rank", test_one_rank},
    {NULL, NULL},
};

void register_rt_dist(void) { rt_add_suite("dist", tests); }
