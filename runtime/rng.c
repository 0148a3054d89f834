/* rng.c — the counter-based random numbers and the parameter
 * initialisation shared by the compiler's interpreter and generated code.
 *
 * A draw is a pure function of (seed, stream, step, element): no state, so
 * any thread can compute any element and every run with the same seed sees
 * the same numbers whatever the number of threads.
 */
#include <math.h>

#include "include/nnc_runtime.h"

/* splitmix64's finaliser: a bijection that mixes every bit into every bit. */
static uint64_t mix64(uint64_t z)
{
    z += UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* h = mix(mix(mix(mix(seed) ^ stream) ^ step) ^ element); the top 53 bits of h scaled to [0, 1) */
double rt_uniform(uint64_t seed, uint64_t stream, uint64_t step, uint64_t element)
{
    uint64_t h = mix64(seed);
    h = mix64(h ^ stream);
    h = mix64(h ^ step);
    h = mix64(h ^ element);
    return (double)(h >> 11) * 0x1.0p-53;
}

/* Box–Muller on the draws 2e and 2e+1 of step 0 */
double rt_normal(uint64_t seed, uint64_t stream, uint64_t element)
{
    double u1 = rt_uniform(seed, stream, 0, 2 * element), u2 = rt_uniform(seed, stream, 0, 2 * element + 1);
    return sqrt(-2 * log(1 - u1)) * cos(2 * M_PI * u2);
}

double rt_init_value(RtInit how, int64_t fan_in, double scale, const double *data, uint64_t seed,
                     uint64_t stream, uint64_t element)
{
    switch (how) {
    case RT_INIT_UNIFORM_FAN_IN: {
        double bound = fan_in > 0 ? 1 / sqrt((double)fan_in) : 0;
        return (2 * rt_uniform(seed, stream, 0, element) - 1) * bound;
    }
    case RT_INIT_NORMAL: return rt_normal(seed, stream, element);
    case RT_INIT_ONES: return 1;
    case RT_INIT_ZEROS: return 0;
    case RT_INIT_NORMAL_STD: return scale * rt_normal(seed, stream, element);
    case RT_INIT_UNIFORM: return (2 * rt_uniform(seed, stream, 0, element) - 1) * scale;
    case RT_INIT_DATA: return data ? data[element] : 0;
    }
    return 0;
}
