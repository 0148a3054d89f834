/* data_columns.c — a CSV whose columns feed several inputs and targets by
 * name: csv("f.csv", columns: "left: 0-3, right: 4-7, same: 8"); see
 * columns.h.
 *
 * The rows are read by rt_csv_load_lines (so blank lines, a header, the width of
 * every row and every number are checked as for csv without columns), then
 * each input and target takes its columns.  Columns no name mentions are not
 * read; a column feeds at most one name (rt_columns_parse refuses an overlap,
 * so a label cannot leak into an input as one of its features).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "columns.h"
#include "rt_internal.h"

static const char *skip(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

enum { COLUMN_MOST = 100000000 };  /* far past any CSV row's width: a number's digits stop here */

/* A column number at *p: 1, or 0 when there is none, or -1 when it is past
 * COLUMN_MOST. */
static int number(const char **p, int64_t *out)
{
    const char *s = skip(*p);
    if (!isdigit((unsigned char)*s))
        return 0;
    int64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s++ - '0');
        if (v > COLUMN_MOST)
            return -1;
    }
    *out = v;
    *p = skip(s);
    return 1;
}

/* The end of the item at p: the next ',' or the spec's end, less blanks. */
static const char *item_end(const char *p)
{
    const char *e = p + strcspn(p, ",");
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return e;
}

/* Fails with what is wrong about spec's bytes [from, to) (where). */
static int fail_at(int *where, const char *spec, const char *from, const char *to, char *err, size_t errlen,
                   const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int fail_at(int *where, const char *spec, const char *from, const char *to, char *err, size_t errlen,
                   const char *fmt, ...)
{
    if (where)
        where[0] = (int)(from - spec), where[1] = (int)(to - from);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* "2" or "0-2": a range as the columns string writes it. */
static const char *range_text(const RtColumnRange *r, char *buf, size_t len)
{
    if (r->first == r->last)
        snprintf(buf, len, "%lld", (long long)r->first);
    else
        snprintf(buf, len, "%lld-%lld", (long long)r->first, (long long)r->last);
    return buf;
}

/* Fails when r shares a column with one of the n ranges before it. */
static int check_overlap(const RtColumnRange *r, const RtColumnRange *before, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        const RtColumnRange *o = &before[i];
        if (r->first > o->last || o->first > r->last)
            continue;
        char a[48], b[48];
        return rt_fail(-1, err, errlen, "columns: '%s' (%s) and '%s' (%s) both take column %lld", o->name,
                       range_text(o, a, sizeof a), r->name, range_text(r, b, sizeof b),
                       (long long)(r->first > o->first ? r->first : o->first));
    }
    return 0;
}

int rt_columns_parse(const char *spec, RtColumnRange *out, int max, int *where, char *err, size_t errlen)
{
    if (where)
        where[0] = where[1] = 0;
    int n = 0;
    const char *p = skip(spec);
    while (*p) {
        const char *name = p;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        size_t len = (size_t)(p - name);
        if (len == 0 || len >= sizeof out->name || isdigit((unsigned char)*name))
            return fail_at(where, spec, name, item_end(name), err, errlen,
                           "columns: expected a name at '%.20s' (write \"NAME: FIRST-LAST, ...\")", name);
        p = skip(p);
        if (*p++ != ':')
            return fail_at(where, spec, name, item_end(name), err, errlen, "columns: expected ':' after '%.*s'",
                           (int)len, name);
        RtColumnRange r = {.first = 0, .at = (int)(name - spec), .len = (int)(item_end(name) - name)};
        snprintf(r.name, sizeof r.name, "%.*s", (int)len, name);
        const char *end = item_end(name);
        int got = number(&p, &r.first);
        r.last = r.first;
        if (got > 0 && *p == '-') {
            p++;
            got = number(&p, &r.last);
            if (got == 0)
                return fail_at(where, spec, name, end, err, errlen, "columns: the range of '%s' lacks its last column",
                               r.name);
        }
        if (got < 0)
            return fail_at(where, spec, name, end, err, errlen, "columns: '%s' names a column past %d", r.name,
                           COLUMN_MOST);
        if (got == 0)
            return fail_at(where, spec, name, end, err, errlen,
                           "columns: '%s' needs a column number or a range such as 0-3", r.name);
        if (r.last < r.first)
            return fail_at(where, spec, name, end, err, errlen, "columns: the range %lld-%lld of '%s' runs backwards",
                           (long long)r.first, (long long)r.last, r.name);
        for (int i = 0; i < n; i++)
            if (strcmp(out[i].name, r.name) == 0)
                return fail_at(where, spec, name, end, err, errlen, "columns: '%s' is given twice", r.name);
        if (check_overlap(&r, out, n, err, errlen) != 0) {
            if (where)
                where[0] = r.at, where[1] = r.len;
            return -1;
        }
        if (n == max)
            return fail_at(where, spec, name, end, err, errlen, "columns: more than %d names", max);
        out[n++] = r;
        if (*p == ',')
            p = skip(p + 1);
        else if (*p)
            return fail_at(where, spec, p, item_end(p), err, errlen, "columns: expected ',' at '%.20s'", p);
    }
    if (n == 0)
        return rt_fail(-1, err, errlen, "columns: names no input or target");
    return n;
}

int rt_csv_columns(const char *path, int header, const char *spec, const RtModel *m, int64_t *width_like,
                   RtDataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    RtColumnRange r[RT_MAX_COLUMN_RANGES];
    int nr = rt_columns_parse(spec, r, RT_MAX_COLUMN_RANGES, NULL, err, errlen);
    if (nr < 0)
        return -1;
    RtDataset raw;
    int64_t *line;   /* [raw.count] each example's line in the file, for messages */
    if (rt_csv_load_lines(path, header, 0, 0, NULL, &raw, &line, err, errlen) != 0)
        return -1;
    int64_t width = raw.x_elems + 1, n = m->ninputs + m->ntargets;
    int rc = -1;
    if (*width_like > 0 && width != *width_like) {   /* (rows within the file: rt_csv_load_lines) */
        rt_fail(-1, err, errlen, "%s has %lld values per line, but the training file's lines have %lld; columns: "
                "takes the same positions from both, so their layouts must match", path, (long long)width,
                (long long)*width_like);
        goto done;
    }
    *width_like = width;
    out->columns = rt_calloc((size_t)(n ? n : 1), sizeof *out->columns);
    if (!out->columns) {
        rt_fail(-1, err, errlen, "out of memory reading %s", path);
        goto done;
    }
    out->ncolumns = (int)n;
    out->count = raw.count;
    for (int k = 0; k < n; k++) {
        const RtTensorSpec *t = k < m->ninputs ? &m->inputs[k] : &m->targets[k - m->ninputs];
        const char *kind = k < m->ninputs ? "input" : "target";
        const RtColumnRange *c = NULL;
        for (int i = 0; i < nr; i++)
            if (strcmp(r[i].name, t->name) == 0)
                c = &r[i];
        if (!c) {
            rt_fail(-1, err, errlen, "columns: gives no columns for %s '%s'", kind, t->name);
            goto done;
        }
        int64_t per = rt_elems(t, 1);
        if (c->last - c->first + 1 != per) {
            rt_fail(-1, err, errlen, "columns: '%s' has %lld column%s, but %s '%s' takes %lld values", t->name,
                    (long long)(c->last - c->first + 1), c->last == c->first ? "" : "s", kind, t->name, (long long)per);
            goto done;
        }
        if (c->last >= width) {
            rt_fail(-1, err, errlen, "%s has %lld values per line (columns 0-%lld), but columns: gives '%s' column %lld",
                    path, (long long)width, (long long)width - 1, t->name, (long long)c->last);
            goto done;
        }
        RtColumn *col = &out->columns[k];
        col->elems = per;
        col->dtype = t->dtype == RT_I32 ? RT_I32 : RT_F32;
        col->data = rt_malloc((size_t)(raw.count * per) * 4 + 1);
        if (!col->data) {
            rt_fail(-1, err, errlen, "out of memory reading %s", path);
            goto done;
        }
        for (int64_t i = 0; i < raw.count; i++)
            for (int64_t e = 0; e < per; e++) {
                int64_t j = c->first + e;
                float v = j < raw.x_elems ? raw.x[i * raw.x_elems + j] : raw.y[i];
                if (col->dtype == RT_F32) {
                    ((float *)col->data)[i * per + e] = v;
                } else if (v != floorf(v) || v < 0 || v >= (float)t->classes) {
                    /* the line, as the reader's own messages say it, and
                     * the example, as npz(...)'s do */
                    rt_fail(-1, err, errlen, "%s: line %lld (example %lld), column %lld: %g is not a label in 0-%lld "
                            "for %s '%s'", path, (long long)line[i], (long long)i, (long long)j, (double)v,
                            (long long)t->classes - 1, kind, t->name);
                    goto done;
                } else {
                    ((int32_t *)col->data)[i * per + e] = (int32_t)v;
                }
            }
    }
    rc = 0;
done:
    if (rc != 0)
        rt_dataset_free(out);
    rt_dataset_free(&raw);
    free(line);
    return rc;
}
