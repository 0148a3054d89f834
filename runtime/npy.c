/* npy.c — one .npy array parsed strictly from memory; see npy.h.
 *
 * The format (numpy.lib.format): "\x93NUMPY", a major and a minor version
 * byte, the header's length (u16 for 1.0, u32 for 2.0 and 3.0), then the
 * header: a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }
 * padded with spaces and ended by '\n', then the data, row-major.  Only the
 * grammar numpy writes is accepted (the three keys, each once, in any order,
 * a trailing comma allowed): a file that says anything else is refused with
 * what was found rather than guessed at.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "npy.h"
#include "number.h"
#include "rt_internal.h"

/* What each RtNpyType is called in a header, by numpy, its width, and
 * whether its values are integers (labels and token ids may be read from
 * it).  Messages list the types from here, in this order. */
static const struct {
    const char *descr, *name;
    size_t      width;
    int         integer;
} types[] = {
    [RT_NPY_F4] = {"<f4", "float32", 4, 0}, [RT_NPY_F8] = {"<f8", "float64", 8, 0}, [RT_NPY_U1] = {"|u1", "uint8", 1, 1},
    [RT_NPY_I4] = {"<i4", "int32", 4, 1},   [RT_NPY_I8] = {"<i8", "int64", 8, 1},   [RT_NPY_B1] = {"|b1", "bool", 1, 1},
};
enum { NTYPES = sizeof types / sizeof *types };

const char *rt_npy_type_name(RtNpyType t) { return types[t].name; }

int rt_npy_is_integer(RtNpyType t) { return types[t].integer; }

const char *rt_npy_type_list(int integers, char *buf, size_t len)
{
    int n = 0, k = 0;
    for (int t = 0; t < NTYPES; t++)
        n += !integers || types[t].integer;
    buf[0] = 0;
    for (int t = 0; t < NTYPES; t++) {
        if (integers && !types[t].integer)
            continue;
        size_t at = strlen(buf);
        snprintf(buf + at, len - at, "%s%s", k == 0 ? "" : k == n - 1 ? " or " : ", ", types[t].name);
        k++;
    }
    return buf;
}

const char *rt_npy_position(int64_t i, int64_t per, char *buf, size_t len)
{
    if (per <= 1)
        snprintf(buf, len, "example %" PRId64, i);
    else
        snprintf(buf, len, "example %" PRId64 ", element %" PRId64, i / per, i % per);
    return buf;
}

const char *rt_npy_shape_str(const RtNpy *a, char *buf, size_t len)
{
    size_t at = 0;
    at += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < a->rank && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%" PRId64, i ? ", " : "", a->shape[i]);
    if (at < len)
        snprintf(buf + at, len - at, "]");
    return buf;
}

/* A cursor over the header text [p, end). */
typedef struct Cur { const char *p, *end; } Cur;

static void skip_ws(Cur *c)
{
    while (c->p < c->end && *c->p == ' ')
        c->p++;
}

static int eat(Cur *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "..."): its text in [*s, *s + *n). */
static int quoted(Cur *c, const char **s, size_t *n)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    char q = *c->p++;
    const char *start = c->p;
    while (c->p < c->end && *c->p != q)
        c->p++;
    if (c->p >= c->end)
        return 0;
    *s = start;
    *n = (size_t)(c->p - start);
    c->p++;
    return 1;
}

/* Shows up to 40 characters of what the parser stopped at. */
static int bad_header(Cur *c, const char *what, char *err, size_t errlen)
{
    int n = (int)(c->end - c->p);
    while (n > 0 && (c->p[n - 1] == '\n' || c->p[n - 1] == ' '))
        n--;
    char shown[RT_QUOTE_CAP(40)];
    return rt_fail(-1, err, errlen, "the .npy header is not the dict numpy writes: %s at '%s'", what,
                   rt_quote(c->p, (size_t)n, 40, shown));
}

int rt_npy_holds_examples(const RtNpy *a, const int64_t *shape, int rank)
{
    if (a->rank < 1)
        return 0;
    int64_t per = 1;
    for (int d = 0; d < rank; d++)
        per *= shape[d];
    if (per == 1 && (a->rank == 1 || (a->rank == 2 && a->shape[1] == 1)))
        return 1;   /* one value per example: [n] or [n, 1] */
    if (a->rank != rank + 1)
        return 0;
    for (int d = 0; d < rank; d++)
        if (a->shape[d + 1] != shape[d])
            return 0;
    return 1;
}

const char *rt_npy_examples_mismatch(const RtNpy *a, const char *kind, const char *name, const char *type, int64_t per,
                                     char *buf, size_t len)
{
    char shape[256];
    const char *rest = strchr(type, '[');   /* the per-example shape, as the type writes it */
    snprintf(buf, len, "has shape %s, but %s '%s' is %s: the first axis counts examples, the rest must be %s",
             rt_npy_shape_str(a, shape, sizeof shape), kind, name, type, per == 1 || !rest ? "[] or [1]" : rest);
    return buf;
}

size_t rt_npy_header_end(const uint8_t *buf, size_t have)
{
    if (have < 12 || memcmp(buf, "\x93NUMPY", 6) != 0 || buf[7] != 0)
        return 0;
    if (buf[6] == 1)
        return 10 + ((size_t)buf[8] | (size_t)buf[9] << 8);
    if (buf[6] == 2 || buf[6] == 3)
        return 12 + ((size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24);
    return 0;
}

/* The header of a .npy of total bytes from its first bytes, buf[0, len)
 * (all of it, or as much as holds the header): *data_at is where the data
 * starts, which must be exactly what the shape and type take, up to total. */
static int parse(const uint8_t *buf, size_t len, size_t total, int integers, RtNpy *out, size_t *data_at, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return rt_fail(-1, err, errlen, "not a .npy file (no \\x93NUMPY magic)");
    size_t hlen, hstart;
    if (buf[6] == 1 && buf[7] == 0) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        hstart = 10;
    } else if ((buf[6] == 2 || buf[6] == 3) && buf[7] == 0) {
        if (len < 12)
            return rt_fail(-1, err, errlen, "the .npy header is cut short");
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        hstart = 12;
    } else {
        return rt_fail(-1, err, errlen, ".npy format version %d.%d is not supported", buf[6], buf[7]);
    }
    if (hlen > len - hstart)
        return rt_fail(-1, err, errlen, "the .npy header is cut short: %zu bytes announced, %zu in the file", hlen,
                       len - hstart);
    const char *h = (const char *)buf + hstart;
    if (hlen == 0 || h[hlen - 1] != '\n')
        return rt_fail(-1, err, errlen, "the .npy header does not end with a newline");
    Cur c = {h, h + hlen - 1};
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0, fortran = 0;
    int type = -1;
    if (!eat(&c, '{'))
        return bad_header(&c, "no '{'", err, errlen);
    while (!eat(&c, '}')) {
        const char *key;
        size_t klen;
        if (!quoted(&c, &key, &klen))
            return bad_header(&c, "expected a quoted key", err, errlen);
        if (!eat(&c, ':'))
            return bad_header(&c, "expected ':'", err, errlen);
        int *seen;
        if (klen == 5 && memcmp(key, "descr", 5) == 0) {
            seen = &seen_descr;
            const char *d;
            size_t dlen;
            skip_ws(&c);
            if (c.p < c.end && *c.p == '[')   /* numpy's list of (name, type) fields */
                return rt_fail(-1, err, errlen, "a structured (record) .npy dtype is not supported; save each field as "
                               "an array of its own");
            if (!quoted(&c, &d, &dlen))
                return bad_header(&c, "descr is not a string", err, errlen);
            for (int t = 0; t < NTYPES; t++)
                if (dlen == 3 && memcmp(d, types[t].descr, 3) == 0)
                    type = t;
            char names[RT_NPY_TYPE_LIST], shown[RT_QUOTE_CAP(32)];
            if (type < 0)
                return rt_fail(-1, err, errlen, ".npy dtype '%s' is not supported; %s little-endian %s",
                               rt_quote(d, dlen, 32, shown), integers ? "labels and token ids may be" : "use",
                               rt_npy_type_list(integers, names, sizeof names));
        } else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0) {
            seen = &seen_fortran;
            skip_ws(&c);
            if (c.end - c.p >= 4 && memcmp(c.p, "True", 4) == 0)
                fortran = 1, c.p += 4;
            else if (c.end - c.p >= 5 && memcmp(c.p, "False", 5) == 0)
                c.p += 5;
            else
                return bad_header(&c, "fortran_order is not True or False", err, errlen);
        } else if (klen == 5 && memcmp(key, "shape", 5) == 0) {
            seen = &seen_shape;
            if (!eat(&c, '('))
                return bad_header(&c, "shape is not a tuple", err, errlen);
            while (!eat(&c, ')')) {
                skip_ws(&c);
                int64_t d = 0;
                const char *digits = c.p;
                while (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
                    if (d > (INT64_MAX - 9) / 10)
                        return bad_header(&c, "a size beyond 2^63", err, errlen);
                    d = d * 10 + (*c.p++ - '0');
                }
                if (c.p == digits)
                    return bad_header(&c, "shape is not a tuple of sizes", err, errlen);
                if (out->rank == RT_NPY_MAX_RANK)
                    return rt_fail(-1, err, errlen, "the .npy array has more than %d dimensions", RT_NPY_MAX_RANK);
                out->shape[out->rank++] = d;
                if (!eat(&c, ',')) {
                    if (!eat(&c, ')'))
                        return bad_header(&c, "expected ',' or ')' in shape", err, errlen);
                    break;
                }
            }
        } else {
            char shown[RT_QUOTE_CAP(32)];
            return rt_fail(-1, err, errlen, "the .npy header has the key '%s'; numpy writes only descr, "
                           "fortran_order and shape", rt_quote(key, klen, 32, shown));
        }
        if ((*seen)++)
            return rt_fail(-1, err, errlen, "the .npy header gives '%.*s' twice", (int)klen, key);
        if (!eat(&c, ',')) {
            if (!eat(&c, '}'))
                return bad_header(&c, "expected ',' or '}'", err, errlen);
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end)
        return bad_header(&c, "text after the dict", err, errlen);
    if (!seen_descr || !seen_fortran || !seen_shape)
        return rt_fail(-1, err, errlen, "the .npy header lacks %s", !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
    if (fortran)
        return rt_fail(-1, err, errlen, "a Fortran-order .npy array is not supported; save it in C order");
    out->type = (RtNpyType)type;
    out->width = types[type].width;
    /* the product of the sizes, refused when its bytes would not fit */
    uint64_t count = 1, limit = (uint64_t)INT64_MAX / out->width;
    int zero = 0;
    for (int i = 0; i < out->rank; i++)
        zero |= out->shape[i] == 0;
    for (int i = 0; i < out->rank && !zero; i++) {
        if ((uint64_t)out->shape[i] > limit / count) {
            char s[256];
            return rt_fail(-1, err, errlen, "the .npy shape %s has more elements than memory can hold",
                           rt_npy_shape_str(out, s, sizeof s));
        }
        count *= (uint64_t)out->shape[i];
    }
    out->count = zero ? 0 : (int64_t)count;
    size_t have = total - hstart - hlen;
    uint64_t need = (uint64_t)out->count * out->width;
    if (have != need) {
        char s[256];
        return rt_fail(-1, err, errlen, "the data holds %zu bytes, but shape %s of %s needs %" PRIu64, have,
                       rt_npy_shape_str(out, s, sizeof s), types[type].name, need);
    }
    *data_at = hstart + hlen;
    return 0;
}

int rt_npy_parse(const uint8_t *buf, size_t len, int integers, RtNpy *out, char *err, size_t errlen)
{
    size_t at;
    if (parse(buf, len, len, integers, out, &at, err, errlen) != 0)
        return -1;
    out->data = buf + at;
    return 0;
}

int rt_npy_parse_header(const uint8_t *buf, size_t len, size_t total, int integers, RtNpy *out, char *err,
                        size_t errlen)
{
    size_t at;
    if (len > total)
        len = total;
    return parse(buf, len, total, integers, out, &at, err, errlen);
}

double rt_npy_get(const RtNpy *a, int64_t i)
{
    const uint8_t *p = a->data + (size_t)i * a->width;
    uint64_t bits = 0;
    for (size_t b = 0; b < a->width; b++)
        bits |= (uint64_t)p[b] << (8 * b);
    switch (a->type) {
    case RT_NPY_F4: {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, 4);
        return f;
    }
    case RT_NPY_F8: {
        double d;
        memcpy(&d, &bits, 8);
        return d;
    }
    case RT_NPY_I4: return (double)(int32_t)(uint32_t)bits;
    case RT_NPY_I8: return (double)(int64_t)bits;
    case RT_NPY_U1: return (double)bits;
    case RT_NPY_B1: return bits != 0;   /* numpy reads any nonzero byte as True (a view of uint8 can hold 2) */
    }
    return 0;
}
