/* cg_math.c — exp, erf and tanh in f32 as straight-line arithmetic.
 *
 * libm's expf and erff are calls, one element at a time: in a GELU layer
 * they were a fifth of a transformer's training step.  Written as
 * multiplies, adds, selects and bit operations, the loop vectorizer turns
 * the same formulas into 16 lanes at once.  Against libm in double,
 * rounded to f32, over 100,000 points of each range (unit.cg_math): exp
 * within 1 ulp, erf 3, tanh 1, sigmoid 2; infinities, NaN, overflow and
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

/* erf(x): for |x| < 1 its Taylor series (2/√π) Σ (−1)^j x^(2j+1) / (j!(2j+1))
 * to j = 11 (remainder below 1e-10); from 1 on, 1 − (a1·t + ... + a5·t^5)·e^(−x²)
 * with t = 1/(1 + p|x|) (Abramowitz and Stegun 7.1.26, absolute error below
 * 1.5e-7, which is under 2e-7 relative where erf ≥ erf(1) = 0.84).  Odd in x. */
static LLVMValueRef erf_f32(Cg *c, LLVMValueRef x)
{
    enum { TERMS = 12 };
    double series[TERMS], fact = 1;
    for (int j = 0; j < TERMS; j++) {
        fact *= j ? j : 1;
        series[j] = (j % 2 ? -2 : 2) / sqrt(M_PI) / (fact * (2 * j + 1));
    }
    static const double as[] = {0, 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429};
    LLVMValueRef ax = cg_call_real(c, "llvm.fabs", (LLVMValueRef[]){x}, 1);
    LLVMValueRef small = mul(c, x, horner(c, mul(c, x, x), series, TERMS));
    LLVMValueRef t = LLVMBuildFDiv(c->b, cg_real(c, 1), fma3(c, ax, cg_real(c, 0.3275911), cg_real(c, 1)), "");
    /* e^(−x·x), not e^(−|x|·|x|): the same value, and the same expression as
     * GELU's derivative builds (exp(neg(mul z z))), so that in the fused
     * backward the optimizer computes the exponential once for both. */
    LLVMValueRef tail = mul(c, horner(c, t, as, 6), exp_f32(c, LLVMBuildFNeg(c->b, mul(c, x, x), "")));
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
