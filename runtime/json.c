/*
 * json.c — a strict JSON reader for the one JSON the runtime reads: a
 * safetensors header.
 *
 * It replaces a library (jansson) that was linked into everything nnc
 * writes only for this: without it a model's shared library needs nothing
 * beyond libc and libm, and Debian's libjansson.a is not position-
 * independent, so it could not go into a .so statically.
 *
 * RFC 8259, with no extensions: one value, objects, arrays, strings with
 * every escape (surrogate pairs joined, \u0000 refused since names are C
 * strings), numbers by the grammar, true/false/null.  Text must be UTF-8.
 * Nesting stops at RT_JSON_DEPTH, so hostile input cannot exhaust the
 * stack; an object with a key twice is refused (which tensor would win?).
 *
 * The document is two allocations: the values, in an array where each
 * container links its children by index, and the decoded strings, which
 * are never longer than their source text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

enum { RT_JSON_DEPTH = 64 };

typedef struct Parser {
    const char *s, *end, *begin;
    RtJsonDoc  *doc;
    int         cap;
    char       *out;     /* the next free byte of doc->strings */
    char       *err;
    size_t      errlen;
    int         depth;
} Parser;

/* "unexpected ',' (line 1, column 7, byte 6)": where p->s stands. */
static int fail(Parser *p, const char *fmt, ...)
{
    int line = 1, col = 1;
    for (const char *c = p->begin; c < p->s; c++)
        if (*c == '\n')
            line++, col = 1;
        else
            col++;
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s (line %d, column %d, byte %td)", what, line, col, p->s - p->begin);
    return -1;
}

/* What stands at p->s, for a message: "'x'", "end of text". */
static const char *here(const Parser *p, char buf[16])
{
    if (p->s >= p->end)
        return "end of text";
    unsigned char c = (unsigned char)*p->s;
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, 16, "'%c'", c);
    else
        snprintf(buf, 16, "byte 0x%02x", c);
    return buf;
}

static void skip_space(Parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static int new_value(Parser *p, RtJsonKind kind)
{
    RtJsonDoc *d = p->doc;
    if (d->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        RtJson *v = rt_realloc(d->v, (size_t)cap * sizeof *v);
        if (!v)
            return fail(p, "out of memory"), -1;
        d->v = v;
        p->cap = cap;
    }
    d->v[d->n] = (RtJson){.kind = kind, .first = -1, .next = -1};
    return d->n++;
}

static int utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80)
        return o[0] = (char)cp, 1;
    if (cp < 0x800)
        return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000)
        return o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 0x3f)), o[2] = (char)(0x80 | (cp & 0x3f)), 3;
    o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The length of the well-formed UTF-8 sequence at s (no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0. */
static int utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    int n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || end - s < n)
        return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90)
        || (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

static int hex4(Parser *p, unsigned *cp)
{
    *cp = 0;
    for (int i = 0; i < 4; i++, p->s++) {
        char c = p->s < p->end ? *p->s : 0;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return fail(p, "\\u needs four hex digits");
        *cp = *cp << 4 | (unsigned)d;
    }
    return 0;
}

/* A string at p->s (on its '"'), decoded into doc->strings. */
static int string(Parser *p, const char **str, size_t *len)
{
    p->s++;
    char *o = p->out;
    *str = o;
    for (;;) {
        if (p->s >= p->end)
            return fail(p, "the text ends inside a string");
        unsigned char c = (unsigned char)*p->s;
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(p, "control character 0x%02x in a string (write it as \\u%04x)", c, c);
        if (c != '\\') {
            int n = utf8_len((const unsigned char *)p->s, (const unsigned char *)p->end);
            if (n == 0)
                return fail(p, "invalid UTF-8 in a string");
            memcpy(o, p->s, (size_t)n);
            o += n;
            p->s += n;
            continue;
        }
        p->s++;
        char e = p->s < p->end ? *p->s : 0;
        const char *plain = strchr("\"\\/bfnrt", e);
        if (e && plain) {
            *o++ = "\"\\/\b\f\n\r\t"[plain - "\"\\/bfnrt"];
            p->s++;
            continue;
        }
        if (e != 'u')
            return fail(p, "unknown escape in a string");
        p->s++;
        unsigned cp, lo;
        if (hex4(p, &cp) != 0)
            return -1;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return fail(p, "a low surrogate \\u%04x without a high one", cp);
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (p->end - p->s < 2 || p->s[0] != '\\' || p->s[1] != 'u')
                return fail(p, "a high surrogate \\u%04x without a low one", cp);
            p->s += 2;
            if (hex4(p, &lo) != 0)
                return -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                return fail(p, "a high surrogate followed by \\u%04x", lo);
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp == 0)
            return fail(p, "\\u0000 in a string");
        o += utf8_put(o, cp);
    }
    p->s++;
    *len = (size_t)(o - *str);
    *o++ = 0;
    p->out = o;
    return 0;
}

/* A number by RFC 8259's grammar; integers that fit are kept exactly. */
static int number(Parser *p, RtJson *v)
{
    const char *b = p->s, *s = p->s;
    int integer = 1;
    if (s < p->end && *s == '-')
        s++;
    if (s < p->end && *s == '0')
        s++;
    else if (s < p->end && *s >= '1' && *s <= '9')
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    else
        return p->s = s, fail(p, "a number needs a digit");
    if (s < p->end && *s == '.') {
        integer = 0;
        if (++s >= p->end || *s < '0' || *s > '9')
            return p->s = s, fail(p, "a number needs a digit after '.'");
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < p->end && (*s == 'e' || *s == 'E')) {
        integer = 0;
        s++;
        if (s < p->end && (*s == '+' || *s == '-'))
            s++;
        if (s >= p->end || *s < '0' || *s > '9')
            return p->s = s, fail(p, "a number needs a digit in its exponent");
        while (s < p->end && *s >= '0' && *s <= '9')
            s++;
    }
    char buf[64];
    size_t n = (size_t)(s - b);
    if (n >= sizeof buf)   /* no tensor needs 63 digits; strtod would need a copy */
        return fail(p, "a number of %zu characters", n);
    memcpy(buf, b, n);
    buf[n] = 0;
    errno = 0;
    if (integer) {
        long long i = strtoll(buf, NULL, 10);
        v->is_integer = errno == 0;
        v->integer = i;
    }
    v->number = strtod(buf, NULL);
    p->s = s;
    return 0;
}

typedef struct Member { const char *key; int index; } Member;

/* Members by key, then by position: a duplicate is the later of two. */
static int by_key(const void *a, const void *b)
{
    const Member *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Refuses an object with a key twice, pointing at the second: sorting the
 * keys finds one in n log n (a header can have many thousand tensors). */
static int unique_keys(Parser *p, int obj)
{
    RtJsonDoc *d = p->doc;
    int n = d->v[obj].count;
    if (n < 2)
        return 0;
    Member *m = rt_malloc((size_t)n * sizeof *m);
    if (!m)
        return fail(p, "out of memory");
    int i = 0;
    for (int c = d->v[obj].first; c >= 0; c = d->v[c].next)
        m[i++] = (Member){d->v[c].key, c};
    qsort(m, (size_t)n, sizeof *m, by_key);
    int rc = 0;
    for (i = 1; i < n && rc == 0; i++)
        if (strcmp(m[i - 1].key, m[i].key) == 0) {
            p->s = p->begin + d->v[m[i].index].at;
            rc = fail(p, "duplicate key \"%.60s\"", m[i].key);
        }
    free(m);
    return rc;
}

static int value(Parser *p);

/* An array or object at p->s; members link by index as they are parsed. */
static int container(Parser *p, int object)
{
    char close = object ? '}' : ']', buf[16];
    if (++p->depth > RT_JSON_DEPTH)
        return fail(p, "more than %d nested arrays and objects", RT_JSON_DEPTH), -1;
    int self = new_value(p, object ? RT_JSON_OBJECT : RT_JSON_ARRAY);
    if (self < 0)
        return -1;
    p->s++;
    skip_space(p);
    int last = -1;
    if (p->s < p->end && *p->s == close)
        p->s++;
    else
        for (;;) {
            const char *key = NULL, *at = p->s;
            size_t klen;
            if (object) {
                if (p->s >= p->end || *p->s != '"')
                    return fail(p, "expected a key in quotes, found %s", here(p, buf)), -1;
                if (string(p, &key, &klen) != 0)
                    return -1;
                skip_space(p);
                if (p->s >= p->end || *p->s != ':')
                    return fail(p, "expected ':' after a key, found %s", here(p, buf)), -1;
                p->s++;
            }
            int v = value(p);
            if (v < 0)
                return -1;
            p->doc->v[v].key = key;
            p->doc->v[v].at = (int)(at - p->begin);
            if (last < 0)
                p->doc->v[self].first = v;
            else
                p->doc->v[last].next = v;
            last = v;
            p->doc->v[self].count++;
            skip_space(p);
            if (p->s < p->end && *p->s == ',') {
                p->s++;
                skip_space(p);
                continue;
            }
            if (p->s < p->end && *p->s == close) {
                p->s++;
                break;
            }
            return fail(p, "expected ',' or '%c', found %s", close, here(p, buf)), -1;
        }
    p->depth--;
    return object && unique_keys(p, self) != 0 ? -1 : self;
}

/* One value at p->s (after spaces): its index, or -1. */
static int value(Parser *p)
{
    char buf[16];
    skip_space(p);
    if (p->s >= p->end)
        return fail(p, "expected a value, found end of text"), -1;
    char c = *p->s;
    if (c == '{' || c == '[')
        return container(p, c == '{');
    static const struct { const char *word; RtJsonKind kind; int truth; } words[] = {
        {"true", RT_JSON_BOOL, 1}, {"false", RT_JSON_BOOL, 0}, {"null", RT_JSON_NULL, 0}};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i].word);
        if ((size_t)(p->end - p->s) >= n && memcmp(p->s, words[i].word, n) == 0) {
            int v = new_value(p, words[i].kind);
            if (v >= 0)
                p->doc->v[v].integer = words[i].truth;   /* a boolean: 1 or 0 */
            p->s += n;
            return v;
        }
    }
    int v;
    if (c == '"') {
        if ((v = new_value(p, RT_JSON_STRING)) < 0)
            return -1;
        const char *str;
        size_t len;
        if (string(p, &str, &len) != 0)
            return -1;
        p->doc->v[v].str = str;
        p->doc->v[v].len = len;
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        if ((v = new_value(p, RT_JSON_NUMBER)) < 0)
            return -1;
        return number(p, &p->doc->v[v]) == 0 ? v : -1;
    }
    return fail(p, "expected a value, found %s", here(p, buf)), -1;
}

int rt_json_parse(const char *text, size_t len, RtJsonDoc *doc, char *err, size_t errlen)
{
    *doc = (RtJsonDoc){0};
    Parser p = {.s = text, .end = text + len, .begin = text, .doc = doc, .err = err, .errlen = errlen};
    doc->strings = rt_malloc(len + 1);
    if (!doc->strings) {
        snprintf(err, errlen, "out of memory for %zu bytes of JSON", len);
        return -1;
    }
    p.out = doc->strings;
    int rc = value(&p) < 0 ? -1 : 0;
    char buf[16];
    if (rc == 0) {
        skip_space(&p);
        if (p.s < p.end)
            rc = fail(&p, "expected the end of the text after the value, found %s", here(&p, buf));
    }
    if (rc != 0)
        rt_json_free(doc);
    return rc;
}

const RtJson *rt_json_get(const RtJsonDoc *doc, const RtJson *object, const char *key)
{
    if (!object || object->kind != RT_JSON_OBJECT)
        return NULL;
    for (int c = object->first; c >= 0; c = doc->v[c].next)
        if (strcmp(doc->v[c].key, key) == 0)
            return &doc->v[c];
    return NULL;
}

const RtJson *rt_json_at(const RtJsonDoc *doc, const RtJson *array, int i)
{
    if (!array || (array->kind != RT_JSON_ARRAY && array->kind != RT_JSON_OBJECT) || i < 0 || i >= array->count)
        return NULL;
    int c = array->first;
    while (i-- > 0)
        c = doc->v[c].next;
    return &doc->v[c];
}

void rt_json_free(RtJsonDoc *doc)
{
    free(doc->v);
    free(doc->strings);
    *doc = (RtJsonDoc){0};
}
