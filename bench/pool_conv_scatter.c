/* bench/pool_conv_scatter.c — a prototype, outside nnc: the MNIST CNN's
 * second convolution's input gradient from pool2's pooled gradient without
 * the scatter's zeros, against the dense product nnc ran before it had
 * pool_conv_t (the form this prototype led to: cg_patches.c).
 *
 *   cc -O3 -march=native -ffp-contract=fast bench/pool_conv_scatter.c -lm -o build/pool_conv_scatter
 *   build/pool_conv_scatter [REPS]
 *
 * nnc's step computes D = pool_max_t(x2, g2) ([B,14,14,64]: each 2×2
 * window's gradient at its maximum's pixel, per filter; three quarters
 * zeros) and then out = patches(D) · W ([B,196,576] · [576,32], 3×3
 * reversed taps, padding 1): 231 M multiply-adds a step, of which at most a
 * quarter are not 0 · w.  Here, per example and window: the filters are
 * bucketed by the pixel of their maximum (branch-free; a zero gradient, as
 * the folded relu gives, joins no bucket), then per pixel q the 9 taps' 32
 * outputs (18 vectors, in registers) add g · W[f, tap, :] over the bucket's
 * filters and go once into the rows q - tap's offset.  Random data: g half
 * zeros, each window's maximum at a uniform pixel (the real CNN's split is
 * not measured).  Prints the CPU time a step (batch 64) of both forms and
 * their largest difference relative to the largest output (other sums, so
 * other rounding).  The dense form here is a plain loop, the reference for
 * that check, not nnc's tiled product: compare the bucketed time with
 * cnn_threads_table.sh's conv2 input gradient (body40, 4.3 ms a step at one
 * thread in session 32).  Session 32 (load 1.7-2.5, CPU time): bucketed
 * 1.5-1.9 ms (clang or gcc), differences 3e-7; earlier drafts: a two-way
 * branch per filter to bucket it 2.3-2.5 ms, the taps' sums in memory
 * instead of registers 2.7-3.2, every filter's 9 taps added into the
 * output rows directly 4.4-5.5 (store to load waits). */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { B = 64, H = 14, W = 14, F = 64, C = 32, HO = 7, WO = 7, TAPS = 9 };
typedef float v16 __attribute__((vector_size(64)));

static float g2[B][HO * WO][F];                              /* the pooled gradient */
static unsigned char at[B][HO * WO][F];                      /* each window's maximum: pixel 0..3 */
static float wt[F][TAPS][C] __attribute__((aligned(64)));    /* W[f, tap, c] */
static float out[B][H * W][C], ref[H * W][C];

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* the window's pixel q and a tap's output row: q - (ky - 1, kx - 1), or -1 outside */
static int row_of(int oy, int ox, int q, int tap)
{
    int py = 2 * oy + (q >> 1) - (tap / 3 - 1), px = 2 * ox + (q & 1) - (tap % 3 - 1);
    return py < 0 || py >= H || px < 0 || px >= W ? -1 : py * W + px;
}

/* The dense form: D written out, then every output row's 576 products. */
static void dense(int b, float (*o)[C], float (*d)[F])
{
    memset(d, 0, sizeof(float) * H * W * F);
    for (int w = 0; w < HO * WO; w++)
        for (int f = 0; f < F; f++) {
            int q = at[b][w][f];
            d[(2 * (w / WO) + (q >> 1)) * W + 2 * (w % WO) + (q & 1)][f] = g2[b][w][f];
        }
    for (int p = 0; p < H * W; p++) {
        float acc[C] = {0};
        for (int t = 0; t < TAPS; t++) {
            int iy = p / W + t / 3 - 1, ix = p % W + t % 3 - 1;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                continue;
            for (int f = 0; f < F; f++)
                for (int c = 0; c < C; c++)
                    acc[c] += d[iy * W + ix][f] * wt[f][t][c];
        }
        memcpy(o[p], acc, sizeof acc);
    }
}

/* The bucketed form, one example. */
static void scatter(int b, float (*o)[C])
{
    memset(o, 0, sizeof(float) * H * W * C);
    for (int w = 0; w < HO * WO; w++) {
        int list[4][F], n[4] = {0, 0, 0, 0};
        for (int f = 0; f < F; f++) {
            int q = at[b][w][f];
            list[q][n[q]] = f;
            n[q] += g2[b][w][f] != 0;
        }
        for (int q = 0; q < 4; q++) {
            v16 acc[TAPS * C / 16];
            for (int k = 0; k < TAPS * C / 16; k++)
                acc[k] = (v16){0};
            for (int i = 0; i < n[q]; i++) {
                float g = g2[b][w][list[q][i]];
                const v16 *s = (const v16 *)wt[list[q][i]];
                for (int k = 0; k < TAPS * C / 16; k++)
                    acc[k] += g * s[k];
            }
            const float *sum = (const float *)acc;
            for (int t = 0; t < TAPS; t++) {
                int p = row_of(w / WO, w % WO, q, t);
                if (p >= 0)
                    for (int c = 0; c < C; c++)
                        o[p][c] += sum[t * C + c];
            }
        }
    }
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    static float d[H * W][F];
    srand(1);
    for (int i = 0; i < F * TAPS * C; i++)
        ((float *)wt)[i] = (float)((double)rand() / RAND_MAX - 0.5);
    for (int i = 0; i < B * HO * WO * F; i++) {
        ((float *)g2)[i] = rand() & 1 ? (float)((double)rand() / RAND_MAX - 0.5) : 0;
        ((unsigned char *)at)[i] = (unsigned char)(rand() & 3);
    }
    double t0 = cpu_s();
    for (int r = 0; r < reps; r++)
        for (int b = 0; b < B; b++)
            dense(b, out[b], d);
    double t_dense = (cpu_s() - t0) / reps;
    memcpy(ref, out[B - 1], sizeof ref);
    t0 = cpu_s();
    for (int r = 0; r < reps; r++)
        for (int b = 0; b < B; b++)
            scatter(b, out[b]);
    double t_scatter = (cpu_s() - t0) / reps;
    double worst = 0, big = 0;
    for (int p = 0; p < H * W; p++)
        for (int c = 0; c < C; c++) {
            worst = fmax(worst, fabs(out[B - 1][p][c] - ref[p][c]));
            big = fmax(big, fabs(ref[p][c]));
        }
    printf("dense %.3f ms a step, bucketed %.3f ms (batch %d); largest difference %.2g of the largest output\n",
           t_dense * 1e3, t_scatter * 1e3, B, worst / big);
    return 0;
}
