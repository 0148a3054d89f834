/* number.c — the numbers data files and --input hold; see number.h.
 *
 * strtod takes more than a data file should mean: hexadecimal ("0x10" is
 * 16, "0x1p3" is 8), and "inf", "infinity" and "nan(...)" in any case.  A
 * value is matched against the decimal grammar first, and only then
 * converted by strtod, which stops where the grammar does.  Every reader
 * keeps its values as f32, so a number beyond f32's range (1e39, finite in
 * double) is refused as such rather than stored as inf.
 */
#include "number.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>

const char RT_NOT_A_NUMBER[] = "is not a number";
static const char BEYOND_F32[] = "is beyond the range of f32 (3.4e38)";

static const char *digits(const char *p, const char *end)
{
    while (p < end && isdigit((unsigned char)*p))
        p++;
    return p;
}

/* Whether [p, end) is all one decimal number. */
static int is_decimal(const char *p, const char *end)
{
    if (p < end && (*p == '+' || *p == '-'))
        p++;
    const char *int_end = digits(p, end);
    int seen = int_end > p;
    p = int_end;
    if (p < end && *p == '.') {
        const char *frac_end = digits(p + 1, end);
        seen |= frac_end > p + 1;
        p = frac_end;
    }
    if (!seen)
        return 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *exp = p + 1 < end && (p[1] == '+' || p[1] == '-') ? p + 2 : p + 1;
        p = digits(exp, end);
        if (p == exp)
            return 0;
    }
    return p == end;
}

const char *rt_number_read(const char *text, size_t len, double *v)
{
    /* blanks around a value are not part of it ("1.5, -0.7" on a command line) */
    while (len > 0 && (*text == ' ' || *text == '\t'))
        text++, len--;
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    char *after;
    double x = strtod(text, &after);   /* stops at text[len] at the latest (number.h) */
    if (!is_decimal(text, text + len)) {
        if (len == 0 || after != text + len)
            return RT_NOT_A_NUMBER;
        return isfinite(x) ? "is not a decimal number" : "is not a finite number";
    }
    if (after != text + len)   /* a locale whose decimal point is not '.' (a host program's setlocale) */
        return RT_NOT_A_NUMBER;
    *v = x;
    return isfinite(x) ? rt_f32_unfit(x) : BEYOND_F32;   /* 1e400: inf in double already */
}

const char *rt_f32_unfit(double v)
{
    if (!isfinite(v))
        return "is not a finite number";
    if (!isfinite((float)v))
        return BEYOND_F32;
    return NULL;
}

size_t rt_utf8_bom(const char *text, size_t len)
{
    return len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB
                   && (unsigned char)text[2] == 0xBF ? 3 : 0;
}

const char *rt_quote(const char *text, size_t len, size_t max, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    char *out = buf;
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\r' || c == '\t' || c == '\n')
            *out++ = '\\', *out++ = c == '\r' ? 'r' : c == '\t' ? 't' : 'n';
        else if (c < 32 || c == 127)
            *out++ = '\\', *out++ = 'x', *out++ = hex[c >> 4], *out++ = hex[c & 15];
        else
            *out++ = (char)c;
    }
    *out = 0;
    return buf;
}
