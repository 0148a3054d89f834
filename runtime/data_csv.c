/* data_csv.c — comma-separated numbers into an RtDataset, and the shuffled
 * order of examples in an epoch; see nnc_runtime.h.
 *
 * One example per line: the features, then the target, separated by commas.
 * Spaces and tabs around a value are allowed, blank lines are skipped, and a
 * line may end in \r\n; a UTF-8 byte-order mark before the first line (a
 * spreadsheet's export) is skipped.  A value is a decimal number f32 can
 * hold (number.h: no hexadecimal, inf or nan).  Every row has the number of
 * values of the first.  Errors name the file and its line (counted from 1,
 * the header included) and, for a value, its column (from 0, as columns:
 * counts them).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/nnc_runtime.h"
#include "number.h"
#include "rt_internal.h"

/* rt_uniform's stream for rt_shuffle: (seed, SHUFFLE_STREAM, epoch, i) is
 * the draw that picks the element swapped into place i. */
enum { SHUFFLE_STREAM = 7 };

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Growing arrays for the examples read so far. */
typedef struct Rows {
    int64_t  count, cap;
    int64_t  x_elems;
    float   *x;       /* [cap, x_elems] */
    int32_t *labels;  /* [cap] when classes > 0 */
    float   *y;       /* [cap] otherwise */
    int64_t *line;    /* [cap] each example's line, when the caller asked (NULL otherwise) */
} Rows;

static int rows_grow(Rows *r, int classified)
{
    int64_t cap = r->cap ? 2 * r->cap : 1024;
    float *x = rt_realloc(r->x, (size_t)(cap * r->x_elems) * sizeof *x);
    if (!x)
        return -1;
    r->x = x;
    if (classified) {
        int32_t *l = rt_realloc(r->labels, (size_t)cap * sizeof *l);
        if (!l)
            return -1;
        r->labels = l;
    }
    else {
        float *y = rt_realloc(r->y, (size_t)cap * sizeof *y);
        if (!y)
            return -1;
        r->y = y;
    }
    if (r->line) {
        int64_t *l = rt_realloc(r->line, (size_t)cap * sizeof *l);
        if (!l)
            return -1;
        r->line = l;
    }
    r->cap = cap;
    return 0;
}

/* Parses the line [line, stop), already known to hold ncols values, into
 * vals; each value is NUL-terminated in place, and *target points at the
 * last one's text (header: the file was said to have one, for a hint). */
static int parse_line(char *line, char *stop, int64_t lineno, int header, double *vals, int64_t ncols,
                      const char **target, const char *path, char *err, size_t errlen)
{
    char *p = line;
    for (int64_t k = 0; k < ncols; k++) {
        char *end = memchr(p, ',', (size_t)(stop - p));
        char *next = end ? end + 1 : stop;
        if (!end)
            end = stop;
        while (p < end && is_blank(*p))
            p++;
        while (end > p && is_blank(end[-1]))
            end--;
        if (memchr(p, '\0', (size_t)(end - p))) {
            snprintf(err, errlen, "%s: line %lld, column %lld holds a NUL byte", path, (long long)lineno, (long long)k);
            return -1;
        }
        *end = '\0';
        double v;
        const char *why = rt_number_read(p, (size_t)(end - p), &v);
        if (why) {
            /* a first line whose first value is words is most likely a
             * header the file has and the train block did not say */
            char shown[RT_QUOTE_CAP(40)];
            snprintf(err, errlen, "%s: line %lld, column %lld: '%s' %s%s", path, (long long)lineno, (long long)k,
                     rt_quote(p, (size_t)(end - p), 40, shown), why, why == RT_NOT_A_NUMBER && lineno == 1 && k == 0 && !header
                              ? " (a header row? csv(..., header: true) skips the first line)" : "");
            return -1;
        }
        vals[k] = v;
        *target = p;
        p = next;
    }
    return 0;
}

int rt_csv_load(const char *path, int header, int64_t classes, RtDataset *out, char *err, size_t errlen)
{
    return rt_csv_load_fit(path, header, classes, 0, NULL, out, err, errlen);
}

int rt_csv_load_fit(const char *path, int header, int64_t classes, int64_t x_elems, const char *input, RtDataset *out,
                    char *err, size_t errlen)
{
    return rt_csv_load_lines(path, header, classes, x_elems, input, out, NULL, err, errlen);
}

int rt_csv_load_lines(const char *path, int header, int64_t classes, int64_t x_elems, const char *input,
                      RtDataset *out, int64_t **lines, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (lines)
        *lines = NULL;
    if (x_elems > 0 && !input) {   /* the width's message names the input: a caller's bug, said as one */
        snprintf(err, errlen, "rt_csv_load_fit: x_elems is %lld but input is NULL; a width to check needs the input's "
                 "name", (long long)x_elems);
        return -1;
    }
    if (classes > INT32_MAX) {
        snprintf(err, errlen, "%s: %lld classes are more than a label can hold", path, (long long)classes);
        return -1;
    }
    char *buf;
    size_t len;
    /* a value takes at least two bytes ("1,"), so at most two floats' bytes per byte of text */
    if (rt_file_check(path, 3, "the text and its values as floats", err, errlen) != 0
        || rt_read_whole(path, &buf, &len, err, errlen) != 0)
        return -1;

    int classified = classes > 0;
    Rows r = {0};
    int64_t ncols = 0;   /* values per line, from the first example */
    int64_t first = 0;   /* the line of the first example */
    double *vals = NULL;  /* [ncols] */
    int rc = -1;
    int64_t lineno = 0;
    if (lines && !(r.line = rt_malloc(sizeof *r.line)))   /* non-NULL: rows_grow grows it */
        goto oom;
    for (char *p = buf + rt_utf8_bom(buf, len), *end = buf + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        if (stop > p && stop[-1] == '\r')
            stop--;
        *stop = '\0';
        char *line = p;
        p = next;
        if (++lineno == 1 && header)
            continue;
        char *c = line;
        while (is_blank(*c))
            c++;
        if (c == stop)
            continue;

        int64_t n = 1;
        for (c = line; c < stop; c++)
            n += *c == ',';
        if (ncols == 0) {
            if (n < 2) {
                snprintf(err, errlen, "%s: line %lld has 1 value, expected at least 2 (the features, then the target)",
                         path, (long long)lineno);
                goto done;
            }
            if (x_elems > 0 && n != x_elems + 1) {
                snprintf(err, errlen, "%s has %lld value%s per example, but input '%s' and the target take %lld", path,
                         (long long)n, n == 1 ? "" : "s", input, (long long)x_elems + 1);
                goto done;
            }
            ncols = n;
            first = lineno;
            r.x_elems = n - 1;
            vals = rt_malloc((size_t)n * sizeof *vals);
            if (!vals)
                goto oom;
        }
        if (n != ncols) {
            snprintf(err, errlen, "%s: line %lld has %lld value%s, expected %lld like line %lld", path,
                     (long long)lineno, (long long)n, n == 1 ? "" : "s", (long long)ncols, (long long)first);
            goto done;
        }
        const char *text;   /* the target as written */
        if (parse_line(line, stop, lineno, header, vals, ncols, &text, path, err, errlen) != 0)
            goto done;

        if (r.count == r.cap && rows_grow(&r, classified) != 0)
            goto oom;
        for (int64_t k = 0; k < r.x_elems; k++)
            r.x[r.count * r.x_elems + k] = (float)vals[k];
        double t = vals[ncols - 1];
        if (classified) {
            if (t != floor(t)) {
                snprintf(err, errlen, "%s: line %lld: label %.40s is not a whole number", path, (long long)lineno,
                         text);
                goto done;
            }
            if (t < 0 || t >= (double)classes) {
                snprintf(err, errlen, "%s: line %lld: label %.40s is outside 0-%lld", path, (long long)lineno, text,
                         (long long)classes - 1);
                goto done;
            }
            r.labels[r.count] = (int32_t)t;
        }
        else
            r.y[r.count] = (float)t;
        if (r.line)
            r.line[r.count] = lineno;
        r.count++;
    }
    if (r.count == 0) {
        snprintf(err, errlen, "%s: no examples", path);
        goto done;
    }
    out->count = r.count;
    out->x_elems = r.x_elems;
    out->x = r.x;
    out->y_elems = 1;
    out->labels = r.labels;
    out->y = r.y;
    out->classes = classified ? classes : 0;
    if (lines)
        *lines = r.line;
    r = (Rows){0};   /* out and *lines own the arrays now */
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory reading %s", path);
done:
    free(r.x);
    free(r.labels);
    free(r.y);
    free(r.line);
    free(vals);
    free(buf);
    return rc;
}

/* Fisher-Yates from the back: place i (n-1 down to 1) takes the element at
 * j = floor(u·(i+1)), u = rt_uniform(seed, SHUFFLE_STREAM, epoch, i). */
void rt_shuffle(int64_t *order, int64_t n, uint64_t seed, uint64_t epoch)
{
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rt_uniform(seed, SHUFFLE_STREAM, epoch, (uint64_t)i) * (double)(i + 1));
        if (j > i)   /* u·(i+1) can round up to i+1 only beyond 2^53 elements */
            j = i;
        int64_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}
