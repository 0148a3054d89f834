/* convert.c — a checkpoint's tensors in the model's float type: --load
 * takes F16, BF16 and F64 tensors (torch's half, bfloat16 and double, as
 * model.half().state_dict() and friends save them) and converts them to the
 * model's F32 (or F32 to an F64 model); see rt_checkpoint_as in nnc_runtime.h.
 *
 * Conversion to F32 rounds to nearest (F64) or is exact (F16, BF16: every
 * value of theirs is an f32); infinities and NaNs stay what they are.  The
 * converted data lives in memory the checkpoint owns, and the checkpoint
 * notes what changed, for -v.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

/* An IEEE half's bits as a float: exponent 5 bits (bias 15), mantissa 10. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F)   /* inf, nan */
        bits = sign | 0x7F800000u | (man << 13);
    else if (exp != 0) /* normal: rebias 15 -> 127 */
        bits = sign | ((exp + 112) << 23) | (man << 13);
    else if (man == 0) /* zero */
        bits = sign;
    else {             /* subnormal half: a normal float */
        int shift = 0;
        while (!(man & 0x400)) {
            man <<= 1;
            shift++;
        }
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((man & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Element i of raw little-endian data of a float dtype, as a double. */
static double element(const uint8_t *p, const char *dtype, int64_t i)
{
    if (strcmp(dtype, "F64") == 0) {
        double d;
        memcpy(&d, p + 8 * i, 8);
        return d;
    }
    if (strcmp(dtype, "F32") == 0) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
    if (strcmp(dtype, "F16") == 0)
        return half_to_float(h);
    uint32_t bits = (uint32_t)h << 16;   /* BF16: the top half of an f32 */
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static int is_float(const char *dtype)
{
    return strcmp(dtype, "F16") == 0 || strcmp(dtype, "BF16") == 0 || strcmp(dtype, "F32") == 0
        || strcmp(dtype, "F64") == 0;
}

/* Appends ", name (FROM)" to the checkpoint's note of conversions. */
static int note(RtCheckpoint *c, const char *name, const char *from)
{
    size_t have = c->converted ? strlen(c->converted) : 0, add = strlen(name) + strlen(from) + 8;
    char *s = rt_realloc(c->converted, have + add);
    if (!s)
        return -1;
    snprintf(s + have, add, "%s%s (%s)", have ? ", " : "", name, from);
    c->converted = s;
    return 0;
}

int rt_checkpoint_as(RtCheckpoint *c, const RtTensor *tensor, const char *want, const char *path, char *err,
                     size_t errlen)
{
    RtTensor *t = &c->t[tensor - c->t];
    if (strcmp(t->dtype, want) == 0 || !is_float(want))
        return 0;   /* (an integer tensor must match as it is: the caller checks) */
    if (!is_float(t->dtype))
        return rt_fail(-1, err, errlen, "%s: tensor '%s' is %s; --load converts only F16, BF16 and F64 tensors to "
                       "the model's %s", path, t->name, t->dtype, want);
    size_t from = strcmp(t->dtype, "F64") == 0 ? 8 : strcmp(t->dtype, "F32") == 0 ? 4 : 2;
    size_t to = strcmp(want, "F64") == 0 ? 8 : 4;
    int64_t n = (int64_t)(t->bytes / from);
    if (t->data) {   /* a header without the data (rt_safetensors_read_header) is only relabelled */
        void **owned = rt_realloc(c->owned, sizeof *owned * (size_t)(c->nowned + 1));
        if (!owned)
            return rt_fail(-1, err, errlen, "%s: out of memory converting tensor '%s'", path, t->name);
        c->owned = owned;
        /* the size a multiple of the alignment, as C11 asks */
        uint8_t *data = rt_aligned_alloc(64, ((size_t)n * to + 63) / 64 * 64 + 64);
        if (!data || note(c, t->name, t->dtype) != 0) {
            free(data);
            return rt_fail(-1, err, errlen, "%s: out of memory converting tensor '%s'", path, t->name);
        }
        c->owned[c->nowned++] = data;
        for (int64_t i = 0; i < n; i++)
            rt_set(data, to == 8 ? RT_F64 : RT_F32, i, element(t->data, t->dtype, i));
        t->data = data;
    }
    t->bytes = (size_t)n * to;
    t->dtype = to == 8 ? "F64" : "F32";
    return 0;
}
