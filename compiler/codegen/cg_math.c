/* cg_math.c — exp, erf and tanh in f32 as straight-line arithmetic.
 *
 * libm's expf and erff are calls, one element at a time: in a GELU layer
 * they were a fifth of a transformer's training step.  Written as
 * multiplies, adds, selects and bit operations, the loop vectorizer turns
 * the same formulas into 16 lanes at once.  Against libm in double,
 * rounded to f32, over 100,000 points of each range (unit.cg_math): exp
 * within 1 ulp, erf 2, tanh 1, sigmoid 2; infinities, NaN, overflow and
 * underflow come out as libm's.  f64 keeps libm: it is the checking type, held to
 * 1e-12 against the interpreter.
 */
#include <math.h>

#include "cg_internal.h"

static LLVMValueRef fma3(Cg *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef d)
{
    LLVMValueRef args[3] = {a, b, d};
    return cg_call_real(c, "llvm.fma", args, 3);
}

static LLVMValueRef mul(Cg *c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(c->b, a, b, ""); }

static LLVMValueRef sel(Cg *c, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b, LLVMValueRef t, LLVMValueRef f)
{
    return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, p, a, b, ""), t, f, "");
}

/* Σ coef[i]·z^i by Horner's rule, coef[0] the constant term. */
static LLVMValueRef horner(Cg *c, LLVMValueRef z, const double *coef, int n)
{
    LLVMValueRef acc = cg_real(c, coef[n - 1]);
    for (int i = n - 2; i >= 0; i--)
        acc = fma3(c, acc, z, cg_real(c, coef[i]));
    return acc;
}

/* 2^n for an integer-valued f32 n in [-150, 130], as two powers built in the
 * exponent bits, so that results in the subnormal range and overflow to
 * infinity come out of the final multiplies as they should. */
static LLVMValueRef scale2(Cg *c, LLVMValueRef p, LLVMValueRef n)
{
    LLVMValueRef ni = LLVMBuildFPToSI(c->b, n, c->t_i32, "");
    LLVMValueRef n1 = LLVMBuildAShr(c->b, ni, LLVMConstInt(c->t_i32, 1, 0), "");
    LLVMValueRef n2 = LLVMBuildSub(c->b, ni, n1, "");
    LLVMValueRef pow2[2];
    LLVMValueRef half[2] = {n1, n2};
    for (int i = 0; i < 2; i++) {
        LLVMValueRef bits = LLVMBuildShl(c->b, LLVMBuildAdd(c->b, half[i], LLVMConstInt(c->t_i32, 127, 0), ""),
                                         LLVMConstInt(c->t_i32, 23, 0), "");
        pow2[i] = LLVMBuildBitCast(c->b, bits, c->t_f32, "");
    }
    return mul(c, mul(c, p, pow2[0]), pow2[1]);
}

/* exp(x) = 2^n · e^r with n = round(x / ln 2) and r = x − n·ln 2 in
 * [−0.35, 0.35], ln 2 split in two (Cody and Waite) so that n·ln2_hi is
 * exact; e^r by its Taylor series to r^7 (remainder below 6e-9).  x is
 * clamped to [−104, 89], beyond which exp is 0 or infinite in f32; NaN is
 * passed through. */
static LLVMValueRef exp_f32(Cg *c, LLVMValueRef x)
{
    static const double taylor[] = {1, 1, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040};
    LLVMValueRef xc = sel(c, LLVMRealOLT, x, cg_real(c, -104), cg_real(c, -104), x);
    xc = sel(c, LLVMRealOGT, xc, cg_real(c, 89), cg_real(c, 89), xc);
    LLVMValueRef half = cg_real(c, 0.5);
    LLVMValueRef n = cg_call_real(c, "llvm.floor", (LLVMValueRef[]){fma3(c, xc, cg_real(c, M_LOG2E), half)}, 1);
    LLVMValueRef r = fma3(c, n, cg_real(c, -0.693359375), xc);  /* ln2_hi: 0.693359375 has 10 bits */
    r = fma3(c, n, cg_real(c, 2.12194440e-4), r);              /* ln 2 = ln2_hi − 2.12194440e-4 */
    LLVMValueRef e = scale2(c, horner(c, r, taylor, 8), n);
    return sel(c, LLVMRealUNO, x, x, x, e);
}

/* erf(x): for |x| < 1, x·S(x²) with S of degree 5 (relative error below
 * 5.4e-8 with its coefficients in f32); from 1 on, 1 − t·P(t)·e^(−x²) with
 * t = 1/(1 + p|x|) and P of degree 3 (absolute error below 5.7e-9).  Both
 * are minimax fits made for this code by tools/erf_fit.py: S on [0, 1], P
 * and p on [1, 3.92], past which erf rounds to 1 in f32 (beyond it e^(−x²)
 * takes the tail to 0).  They replaced the Taylor series to x^23 and
 * Abramowitz and Stegun's 7.1.26 (fitted on [0, ∞): 1.4e-7), which took
 * seven FMAs more per element and erred by 3 ulp where these err by 2
 * (unit.cg_math).  Odd in x. */
static LLVMValueRef erf_f32(Cg *c, LLVMValueRef x)
{
    static const double small_coef[] = {1.1283791065216064, -0.37612324953079224, 0.11280180513858795,
                                        -0.026711318641901016, 0.0049175601452589035, -0.0005631459061987698};
    static const double tail_coef[] = {0.40617474913597107, 0.3289068639278412, 0.5525649189949036,
                                       -0.2914969325065613};
    LLVMValueRef ax = cg_call_real(c, "llvm.fabs", (LLVMValueRef[]){x}, 1);
    LLVMValueRef small = mul(c, x, horner(c, mul(c, x, x), small_coef, 6));
    LLVMValueRef t = LLVMBuildFDiv(c->b, cg_real(c, 1), fma3(c, ax, cg_real(c, 0.7070000171661377), cg_real(c, 1)), "");
    /* e^(−x·x), not e^(−|x|·|x|): the same value, and the same expression as
     * erf's derivative (grad.c's grad_erf: exp(neg(mul z z))), which GELU's
     * backward holds, so that in the fused backward the optimizer computes
     * the exponential once for both. */
    LLVMValueRef tail = mul(c, mul(c, t, horner(c, t, tail_coef, 4)),
                            exp_f32(c, LLVMBuildFNeg(c->b, mul(c, x, x), "")));
    LLVMValueRef big = LLVMBuildFSub(c->b, cg_real(c, 1), tail, "");
    big = cg_call_real(c, "llvm.copysign", (LLVMValueRef[]){big, x}, 2);
    return sel(c, LLVMRealOLT, ax, cg_real(c, 1), small, big);  /* NaN: big, which is NaN */
}

/* tanh(x): for |x| < 0.625 its Taylor series (coefficients from the
 * Bernoulli numbers, to x^23; remainder below 2e-9 relative); beyond,
 * 1 − 2/(e^(2|x|) + 1), whose cancellation costs at most a factor 2 there.
 * Odd in x. */
static LLVMValueRef tanh_f32(Cg *c, LLVMValueRef x)
{
    static const double series[] = {
        1, -1.0 / 3, 2.0 / 15, -17.0 / 315, 62.0 / 2835, -1382.0 / 155925, 21844.0 / 6081075,
        -929569.0 / 638512875, 6404582.0 / 10854718875, -443861162.0 / 1856156927625,
        18888466084.0 / 194896477400625, -113927491862.0 / 2900518163668125,
    };
    LLVMValueRef ax = cg_call_real(c, "llvm.fabs", (LLVMValueRef[]){x}, 1);
    LLVMValueRef small = mul(c, x, horner(c, mul(c, x, x), series, (int)(sizeof series / sizeof *series)));
    LLVMValueRef e = exp_f32(c, LLVMBuildFAdd(c->b, ax, ax, ""));
    LLVMValueRef big = LLVMBuildFSub(c->b, cg_real(c, 1), LLVMBuildFDiv(c->b, cg_real(c, 2), LLVMBuildFAdd(c->b, e, cg_real(c, 1), ""), ""), "");
    big = cg_call_real(c, "llvm.copysign", (LLVMValueRef[]){big, x}, 2);
    return sel(c, LLVMRealOLT, ax, cg_real(c, 0.625), small, big);
}

LLVMValueRef cg_exp(Cg *c, LLVMValueRef x)
{
    return c->t_real == c->t_f32 ? exp_f32(c, x) : cg_call_real(c, "llvm.exp", &x, 1);
}

LLVMValueRef cg_erf(Cg *c, LLVMValueRef x)
{
    return c->t_real == c->t_f32 ? erf_f32(c, x) : cg_call_real(c, "erf", &x, 1);
}

LLVMValueRef cg_tanh(Cg *c, LLVMValueRef x)
{
    return c->t_real == c->t_f32 ? tanh_f32(c, x) : cg_call_real(c, "tanh", &x, 1);
}
