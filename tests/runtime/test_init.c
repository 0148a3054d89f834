/* test_init.c — rt_init_value for every RtInit kind, and rt_params_init
 * filling a parameter slab as a spec says (typed-in data included). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "rt_harness.h"
#include "../../runtime/rt_internal.h"  /* rt_params_init: how every build path starts its parameters */

/* The fixed kinds: exactly their value; the scaled ones: the unit draw times the scale. */
static void test_kinds(void)
{
    static const double data[3] = {0.8, -0.3, 2.5};
    for (uint64_t e = 0; e < 100; e++) {
        CU_ASSERT_EQUAL(rt_init_value(RT_INIT_ONES, 0, 0, NULL, 1, 1000, e), 1.0);
        CU_ASSERT_EQUAL(rt_init_value(RT_INIT_ZEROS, 0, 0, NULL, 1, 1000, e), 0.0);
        CU_ASSERT_EQUAL(rt_init_value(RT_INIT_NORMAL_STD, 0, 0.02, NULL, 1, 1000, e),
                        0.02 * rt_normal(1, 1000, e));
        CU_ASSERT_EQUAL(rt_init_value(RT_INIT_NORMAL, 0, 0, NULL, 1, 1000, e), rt_normal(1, 1000, e));
        double u = rt_init_value(RT_INIT_UNIFORM, 0, 0.25, NULL, 1, 1000, e);
        CU_ASSERT_EQUAL(u, (2 * rt_uniform(1, 1000, 0, e) - 1) * 0.25);
        CU_ASSERT(u >= -0.25 && u < 0.25);
        /* the uniform fan-in of torch Linear is the uniform of limit 1/sqrt(fan_in) */
        CU_ASSERT_DOUBLE_EQUAL(rt_init_value(RT_INIT_UNIFORM_FAN_IN, 16, 0, NULL, 1, 1000, e),
                               rt_init_value(RT_INIT_UNIFORM, 0, 0.25, NULL, 1, 1000, e), 1e-15);
    }
    for (uint64_t e = 0; e < 3; e++)
        CU_ASSERT_EQUAL(rt_init_value(RT_INIT_DATA, 0, 0, data, 1, 1000, e), data[e]);
}

/* rt_params_init writes each parameter of the slab from its spec: a literal
 * as its f32 values, a normal(2) with a sample std near 2. */
static void test_params_init(void)
{
    static const double lit[4] = {0.8, -0.3, -0.4, 0.6};
    RtTensorSpec params[2] = {
        {.name = "w1", .slab = RT_SLAB_PARAM, .offset = {0, 0}, .rank = 2, .shape = {2, 2}, .dtype = RT_F32,
         .init = RT_INIT_DATA, .data = lit},
        {.name = "v", .slab = RT_SLAB_PARAM, .offset = {16, 0}, .rank = 1, .shape = {4096}, .dtype = RT_F32,
         .init = RT_INIT_NORMAL_STD, .scale = 2},
    };
    RtModel m = {.params = params, .nparams = 2};
    uint8_t *slab[5] = {0};
    slab[RT_SLAB_PARAM] = calloc(16 + 4 * 4096, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(slab[RT_SLAB_PARAM]);
    rt_params_init(&m, slab, 7);
    const float *w = (const float *)slab[RT_SLAB_PARAM], *v = w + 4;
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(w[i], (float)lit[i]);
    double sum = 0, sq = 0;
    for (int i = 0; i < 4096; i++)
        sum += v[i], sq += (double)v[i] * v[i];
    double mean = sum / 4096, std = sqrt(sq / 4096 - mean * mean);
    CU_ASSERT(fabs(mean) < 4 * 2 / sqrt(4096.0));
    CU_ASSERT(fabs(std - 2) < 0.1);
    free(slab[RT_SLAB_PARAM]);
}

static const RtTestCase tests[] = {
    {"kinds", test_kinds},
    {"params_init", test_params_init},
    {NULL, NULL},
};

void register_rt_init(void) { rt_add_suite("init", tests); }
