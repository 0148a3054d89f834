/* bench/fma.h — the FMA loop that stands for the machine's peak: bench/peak.c
 * measures the peak with it, bench/gemm.c measures the matmul against it in
 * the same process.  One copy, so both measure the same loop.
 *
 * ACC independent chains of 16-float FMAs: enough to cover the latency of
 * two FMA pipes (4 cycles x 2) on every x86 core of the last decade, and 16
 * floats is the widest vector there is (AVX-512).  With -march=native the
 * compiler emits the widest FMA the CPU has. */
#ifndef NNC_BENCH_FMA_H
#define NNC_BENCH_FMA_H

typedef float v16 __attribute__((vector_size(64)));

enum { FMA_ACC = 12 };

static volatile float fma_sink;

/* iters rounds of FMA_ACC chains; returns the flops done. */
static double fma_loop(long iters)
{
    v16 acc[FMA_ACC], a, b;
    for (int i = 0; i < 16; i++)
        a[i] = 1.0f + 1e-7f * (float)i, b[i] = 1e-7f;
    for (int k = 0; k < FMA_ACC; k++)
        acc[k] = a * (float)k;
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int k = 0; k < FMA_ACC; k++)
            acc[k] = acc[k] * a + b;
        __asm__ volatile("" : "+x"(a));   /* a is not loop-invariant: no folding */
    }
    float s = 0;
    for (int k = 0; k < FMA_ACC; k++)
        for (int i = 0; i < 16; i++)
            s += acc[k][i];
    fma_sink = s;
    return 2.0 * 16 * FMA_ACC * (double)iters;
}

#endif
