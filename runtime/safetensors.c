/* safetensors.c — writing and reading the safetensors format; see nnc_runtime.h.
 *
 * Layout: u64 little-endian N, then N bytes of JSON
 *   {"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},...}
 * padded with spaces to a multiple of 8, then the tensors' bytes in the
 * order of their offsets.  Offsets count from the end of the header.
 * The header may also hold "__metadata__" (string pairs): nnc writes the
 * tokenizer of a text model there (nnc.tokenizer, nnc.bpe_merges or nnc.chars),
 * where PyTorch's load_state_dict never looks; the reader keeps the string
 * pairs and skips any other value.
 *
 * The writer builds the JSON by hand (it only ever prints names, dtypes and
 * integers); the reader trusts nothing and parses the header strictly (json.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "include/nnc_runtime.h"
#include "rt_internal.h"

typedef struct Buf { char *p; size_t n, cap; } Buf;

static int put(Buf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n)
            cap *= 2;
        char *p = rt_realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

static int put_int(Buf *b, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    return put(b, tmp, (size_t)n);
}

/* A JSON string: names are plain, but quote and control bytes are escaped anyway. */
static int put_string(Buf *b, const char *s)
{
    int rc = put(b, "\"", 1);
    for (; *s && rc == 0; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = put(b, "\\", 1) || put(b, (const char *)&c, 1);
        else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            rc = put(b, esc, 6);
        }
        else
            rc = put(b, (const char *)&c, 1);
    }
    return rc || put(b, "\"", 1);
}

int rt_safetensors_write(const char *path, const RtTensor *t, int n, char *err, size_t errlen)
{
    return rt_safetensors_write_meta(path, t, n, NULL, 0, err, errlen);
}

int rt_safetensors_write_meta(const char *path, const RtTensor *t, int n, const char *const *meta, int nmeta, char *err,
                              size_t errlen)
{
    Buf h = {0};
    int rc = put(&h, "{", 1);
    if (nmeta > 0) {
        rc = rc || put(&h, "\"__metadata__\":{", 16);
        for (int i = 0; i < nmeta && rc == 0; i++)
            rc = (i && put(&h, ",", 1)) || put_string(&h, meta[2 * i]) || put(&h, ":", 1) || put_string(&h, meta[2 * i + 1]);
        rc = rc || put(&h, n ? "}," : "}", n ? 2 : 1);
    }
    uint64_t off = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = (i && put(&h, ",", 1)) || put_string(&h, t[i].name) || put(&h, ":{\"dtype\":", 10)
          || put_string(&h, t[i].dtype) || put(&h, ",\"shape\":[", 10);
        for (int d = 0; d < t[i].rank && rc == 0; d++)
            rc = (d && put(&h, ",", 1)) || put_int(&h, (long long)t[i].shape[d]);
        rc = rc || put(&h, "],\"data_offsets\":[", 18) || put_int(&h, (long long)off);
        off += t[i].bytes;
        rc = rc || put(&h, ",", 1) || put_int(&h, (long long)off) || put(&h, "]}", 2);
    }
    rc = rc || put(&h, "}", 1);
    while (rc == 0 && h.n % 8)
        rc = put(&h, " ", 1);
    if (rc) {
        free(h.p);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    /* Atomic: a temporary beside the file (a link's target: the link stays
     * a link), flushed to disk, then renamed over it (rt_replace_begin). */
    RtReplace r;
    int bad = rt_replace_begin(&r, path) != 0;
    if (!bad) {
        unsigned char len[8];
        for (int i = 0; i < 8; i++)
            len[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
        int ok = !rt_write_all(r.fd, len, 8) && !rt_write_all(r.fd, h.p, h.n);
        for (int i = 0; i < n && ok; i++)
            ok = !rt_write_all(r.fd, t[i].data, t[i].bytes);
        bad = rt_replace_end(&r, ok) != 0;
    }
    if (bad)   /* the user's name, not the temporary's */
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno ? errno : EIO));
    free(h.p);
    return bad ? -1 : 0;
}

/* ---- reading ----------------------------------------------------------------------- */

/* Every dtype of the safetensors format, with its element size.  Any of them
 * reads; what a caller can use is up to the caller (nnc writes F32, F64, I32). */
static const struct { const char *name; size_t size; } dtypes[] = {
    {"F32", 4}, {"F64", 8}, {"I32", 4}, {"I64", 8}, {"F16", 2}, {"BF16", 2}, {"I16", 2}, {"I8", 1},
    {"U8", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

/* Each tensor's data starts on this boundary in the returned memory: more
 * than any dtype needs, and a cache line for the kernels that read it. */
enum { DATA_ALIGN = 64 };

/* One header entry while the header is checked. */
typedef struct Entry {
    const char   *name;    /* the header's key, valid while the header lives */
    int           dtype;   /* index into dtypes */
    int           rank;
    const RtJson *shape;   /* the validated "shape" array */
    int64_t     begin;     /* data_offsets, from the end of the header */
    int64_t     end;
    int         order;     /* position in the header */
} Entry;


/* Where a checkpoint's bytes come from: a file, or memory the caller holds
 * (a checkpoint built into a program). */
typedef struct Source {
    int                  fd;     /* -1: mem */
    const unsigned char *mem;
    uint64_t             size;
} Source;

/* How much of a checkpoint a read takes: the header's metadata only; every
 * tensor's name, dtype and shape too, without the data (a model's check
 * before it compiles); or everything. */
typedef enum Reading { READ_META, READ_HEADER, READ_WHOLE } Reading;

/* Reads exactly n bytes at off: 0, -1 with errno, or 1 when the source ends first. */
static int read_at(const Source *src, void *buf, size_t n, uint64_t off)
{
    if (src->fd < 0) {
        if (off > src->size || n > src->size - off)
            return 1;
        memcpy(buf, src->mem + off, n);
        return 0;
    }
    char *c = buf;
    while (n > 0) {
        ssize_t r = pread(src->fd, c, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return 1;
        c += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* "[2,4]" for a shape that has passed check_entry. */
static void format_shape(char *buf, size_t len, const RtJsonDoc *doc, const RtJson *shape)
{
    size_t at = (size_t)snprintf(buf, len, "[");
    int d = 0;
    for (int c = shape->first; c >= 0 && at < len; c = doc->v[c].next, d++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", d ? "," : "", doc->v[c].integer);
    if (at < len)
        snprintf(buf + at, len - at, "]");
}

/* Checks one header entry (everything but how it sits among the others)
 * and fills e.  data is the number of bytes after the header. */
static int check_entry(const char *path, const RtJsonDoc *doc, const RtJson *v, uint64_t data, Entry *e, char *err,
                       size_t errlen)
{
    const char *name = v->key;
    e->name = name;
    if (v->kind != RT_JSON_OBJECT)
        return rt_fail(-1, err, errlen, "%s: tensor '%s' is not a JSON object", path, name);
    const RtJson *dtype = rt_json_get(doc, v, "dtype"), *shape = rt_json_get(doc, v, "shape");
    const RtJson *offsets = rt_json_get(doc, v, "data_offsets");
    if (!dtype)
        return rt_fail(-1, err, errlen, "%s: tensor '%s' has no dtype", path, name);
    if (!shape)
        return rt_fail(-1, err, errlen, "%s: tensor '%s' has no shape", path, name);
    if (!offsets)
        return rt_fail(-1, err, errlen, "%s: tensor '%s' has no data_offsets", path, name);
    if (dtype->kind != RT_JSON_STRING)
        return rt_fail(-1, err, errlen, "%s: tensor '%s': dtype is not a string", path, name);
    if (shape->kind != RT_JSON_ARRAY)
        return rt_fail(-1, err, errlen, "%s: tensor '%s': shape is not an array", path, name);
    if (offsets->kind != RT_JSON_ARRAY || offsets->count != 2 || !rt_json_at(doc, offsets, 0)->is_integer
        || !rt_json_at(doc, offsets, 1)->is_integer)
        return rt_fail(-1, err, errlen, "%s: tensor '%s': data_offsets is not an array of two integers", path, name);

    e->dtype = -1;
    for (int i = 0; i < (int)(sizeof dtypes / sizeof dtypes[0]); i++)
        if (strcmp(dtype->str, dtypes[i].name) == 0)
            e->dtype = i;
    if (e->dtype < 0)
        return rt_fail(-1, err, errlen, "%s: tensor '%s': unknown dtype '%s'", path, name, dtype->str);

    /* bytes = product(shape) * element size, with every step checked for overflow */
    uint64_t bytes = dtypes[e->dtype].size;
    int overflow = 0;
    int d = 0;
    for (int c = shape->first; c >= 0; c = doc->v[c].next, d++) {
        const RtJson *dim = &doc->v[c];
        if (!dim->is_integer)
            return rt_fail(-1, err, errlen, "%s: tensor '%s': shape entry %d is not an integer", path, name, d);
        long long k = dim->integer;
        if (k < 0)
            return rt_fail(-1, err, errlen, "%s: tensor '%s': shape entry %d is negative (%lld)", path, name, d, k);
        overflow |= __builtin_mul_overflow(bytes, (uint64_t)k, &bytes);
    }
    e->rank = shape->count;
    e->shape = shape;

    char dims[128];
    format_shape(dims, sizeof dims, doc, shape);
    if (overflow)
        return rt_fail(-1, err, errlen, "%s: tensor '%s': shape %s of %s is too large", path, name, dims,
                    dtypes[e->dtype].name);

    long long b = rt_json_at(doc, offsets, 0)->integer, end = rt_json_at(doc, offsets, 1)->integer;
    if (b < 0 || end < 0)
        return rt_fail(-1, err, errlen,
                    "%s: tensor '%s': data_offsets [%lld,%lld] are negative",
                    path, name, b, end);
    if (end < b)
        return rt_fail(-1, err, errlen,
                    "%s: tensor '%s': data_offsets [%lld,%lld] are out of order",
                    path, name, b, end);
    if ((uint64_t)end > data)
        return rt_fail(-1, err, errlen,
                    "%s: tensor '%s': data_offsets [%lld,%lld] run past the end of the %llu bytes of data",
                    path, name, b, end, (unsigned long long)data);
    if ((uint64_t)(end - b) != bytes)
        return rt_fail(-1, err, errlen, "%s: tensor '%s': %llu bytes of data for shape %s of %s (%llu bytes)", path, name,
                    (unsigned long long)(end - b), dims, dtypes[e->dtype].name, (unsigned long long)bytes);
    e->begin = b;
    e->end = end;
    return 0;
}

static int by_offset(const void *a, const void *b)
{
    const Entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->order - y->order;
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

/* Checks the parsed header against the data that follows it and, if it is
 * sound, reads the tensors into one allocation:
 *   RtTensor[n] | int64_t shapes[sum of ranks] | names | each tensor's data, DATA_ALIGN-aligned
 * READ_HEADER leaves the data out: each tensor's data is NULL, its bytes as
 * the header says. */
static int load(const char *path, const Source *src, const RtJsonDoc *doc, uint64_t data_at, uint64_t data,
                Reading reading, RtCheckpoint *out, char *err, size_t errlen)
{
    const RtJson *header = &doc->v[0];
    if (header->kind != RT_JSON_OBJECT)
        return rt_fail(-1, err, errlen, "%s: header is not a JSON object", path);
    size_t count = (size_t)header->count;
    Entry *e = rt_calloc(count ? count : 1, sizeof *e);
    if (!e)
        return rt_fail(-1, err, errlen, "%s: out of memory", path);

    int n = 0, rc = 0;
    for (int c = header->first; c >= 0; c = doc->v[c].next) {
        const RtJson *v = &doc->v[c];
        if (strcmp(v->key, "__metadata__") == 0)
            continue;
        if ((rc = check_entry(path, doc, v, data, &e[n], err, errlen)) != 0)
            break;
        e[n].order = n;
        n++;
    }

    /* In the order of their data, a tensor must start at or after the end of
     * every earlier one (empty tensors take no room and overlap nothing). */
    if (rc == 0)
        qsort(e, (size_t)n, sizeof *e, by_offset);
    const Entry *reach = NULL;  /* the non-empty tensor that ends last so far */
    for (int i = 0; i < n && rc == 0; i++) {
        if (e[i].begin == e[i].end)
            continue;
        if (reach && e[i].begin < reach->end)
            rc = rt_fail(-1, err, errlen, "%s: tensor '%s': data_offsets [%lld,%lld] overlap tensor '%s' at [%lld,%lld]", path,
                      e[i].name, (long long)e[i].begin, (long long)e[i].end, reach->name, (long long)reach->begin,
                      (long long)reach->end);
        else if (!reach || e[i].end > reach->end)
            reach = &e[i];
    }

    size_t ranks = 0, names = 0, bytes = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        ranks += (size_t)e[i].rank;
        names += strlen(e[i].name) + 1;
        if (reading == READ_WHOLE)
            bytes += round_up((size_t)(e[i].end - e[i].begin), DATA_ALIGN);
    }
    size_t at_shapes = round_up((size_t)n * sizeof(RtTensor), sizeof(int64_t));
    size_t at_names = at_shapes + ranks * sizeof(int64_t);
    size_t at_data = round_up(at_names + names, DATA_ALIGN);
    size_t total = round_up(at_data + bytes, DATA_ALIGN) + DATA_ALIGN;  /* never 0 */
    char *mem = rc == 0 ? rt_aligned_alloc(DATA_ALIGN, total) : NULL;
    if (rc == 0 && !mem)
        rc = rt_fail(-1, err, errlen, "%s: out of memory for %zu bytes", path, total);

    /* Tensors go in header order; their data is read in file order.  No
     * pointer is made from a refused header's NULL (NULL + offset is undefined). */
    RtTensor *t = (RtTensor *)mem;
    int64_t *shapes = mem ? (int64_t *)(mem + at_shapes) : NULL;
    char *name = mem ? mem + at_names : NULL, *bytes_at = mem ? mem + at_data : NULL;
    for (int i = 0; i < n && rc == 0; i++) {
        RtTensor *ti = &t[e[i].order];
        size_t len = strlen(e[i].name) + 1, size = (size_t)(e[i].end - e[i].begin);
        memcpy(name, e[i].name, len);
        int d = 0;
        for (int c = e[i].shape->first; c >= 0; c = doc->v[c].next)
            shapes[d++] = (int64_t)doc->v[c].integer;
        *ti = (RtTensor){name, dtypes[e[i].dtype].name, e[i].rank, shapes, reading == READ_WHOLE ? bytes_at : NULL, size};
        name += len;
        shapes += e[i].rank;
        if (reading != READ_WHOLE)
            continue;
        int r = read_at(src, bytes_at, size, data_at + (uint64_t)e[i].begin);
        if (r < 0)
            rc = rt_fail(-1, err, errlen, "cannot read '%s': %s", path, strerror(errno));
        else if (r > 0)
            rc = rt_fail(-1, err, errlen, "%s: the file ended while reading tensor '%s'", path, e[i].name);
        bytes_at += round_up(size, DATA_ALIGN);
    }
    free(e);
    if (rc != 0) {
        free(mem);
        return -1;
    }
    *out = (RtCheckpoint){.t = t, .n = n, .mem = mem};
    return 0;
}

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = rt_malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

/* A JSON value's kind, for a message. */
static const char *json_kind(RtJsonKind k)
{
    switch (k) {
    case RT_JSON_NULL: return "null";
    case RT_JSON_BOOL: return "a boolean";
    case RT_JSON_NUMBER: return "a number";
    case RT_JSON_STRING: return "a string";
    case RT_JSON_ARRAY: return "an array";
    case RT_JSON_OBJECT: return "an object";
    }
    return "a value";
}

/* The string pairs of "__metadata__" into out->meta.  The format makes it
 * an object of strings (the safetensors library refuses anything else):
 * another value is refused by name, rather than skipped, since a step
 * written as the number 5 would resume silently from step 0. */
static int keep_meta(const char *path, const RtJsonDoc *doc, RtCheckpoint *out, char *err, size_t errlen)
{
    const RtJson *m = rt_json_get(doc, &doc->v[0], "__metadata__");
    if (m && m->kind != RT_JSON_OBJECT)
        return rt_fail(-1, err, errlen, "%s: __metadata__ is %s; the safetensors format makes it an object of strings", path,
                       json_kind(m->kind));
    if (!m || m->count == 0)
        return 0;
    for (int c = m->first; c >= 0; c = doc->v[c].next)
        if (doc->v[c].kind != RT_JSON_STRING)
            return rt_fail(-1, err, errlen, "%s: __metadata__ %s is %s, not a string; the safetensors format's metadata "
                           "values are strings", path, doc->v[c].key, json_kind(doc->v[c].kind));
    out->meta = rt_calloc(2 * (size_t)m->count, sizeof *out->meta);
    if (!out->meta)
        return rt_fail(-1, err, errlen, "%s: out of memory", path);
    for (int c = m->first; c >= 0; c = doc->v[c].next) {
        const RtJson *v = &doc->v[c];
        int k = 2 * out->nmeta;
        out->meta[k] = copy_string(v->key);
        out->meta[k + 1] = copy_string(v->str);
        out->nmeta++;
        if (!out->meta[k] || !out->meta[k + 1])
            return rt_fail(-1, err, errlen, "%s: out of memory", path);
    }
    return 0;
}

/* The header's metadata and as much of the tensors of src as reading asks;
 * path names it in messages. */
static int read_source(const char *path, const Source *src, Reading reading, RtCheckpoint *out, char *err,
                       size_t errlen)
{
    unsigned char len8[8];
    int rc = -1, r;
    if (src->size < 8)
        return rt_fail(-1, err, errlen, "%s: file of %llu bytes is shorter than the 8-byte header length", path,
                       (unsigned long long)src->size);
    if ((r = read_at(src, len8, 8, 0)) != 0)
        return rt_fail(-1, err, errlen, "cannot read '%s': %s", path, r < 0 ? strerror(errno) : "the file ended early");
    uint64_t size = src->size, hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)len8[i] << (8 * i);
    char *h = NULL;
    if (hlen > size - 8)
        rt_fail(-1, err, errlen, "%s: not a safetensors file (its first 8 bytes, read as a header length, say "
                "%llu bytes: past the end of the %llu-byte file)", path, (unsigned long long)hlen,
                (unsigned long long)size);
    else if (!(h = rt_malloc(hlen ? hlen : 1)))
        rt_fail(-1, err, errlen, "%s: out of memory for a header of %llu bytes", path, (unsigned long long)hlen);
    else if ((r = read_at(src, h, hlen, 8)) != 0)
        rt_fail(-1, err, errlen, "cannot read '%s': %s", path, r < 0 ? strerror(errno) : "the file ended early");
    else {
        /* Duplicate names are a JSON error here: which tensor would win? */
        RtJsonDoc doc;
        char why[256];
        if (rt_json_parse(h, hlen, &doc, why, sizeof why) != 0)
            rt_fail(-1, err, errlen, "%s: header is not valid JSON: %s", path, why);
        else if (reading == READ_META && doc.v[0].kind != RT_JSON_OBJECT)
            rt_fail(-1, err, errlen, "%s: header is not a JSON object", path);
        else
            rc = reading != READ_META ? load(path, src, &doc, 8 + hlen, size - 8 - hlen, reading, out, err, errlen) : 0;
        if (rc == 0 && keep_meta(path, &doc, out, err, errlen) != 0) {
            rt_checkpoint_free(out);
            rc = -1;
        }
        rt_json_free(&doc);
    }
    free(h);
    return rc;
}

static int read_file(const char *path, Reading reading, RtCheckpoint *out, char *err, size_t errlen);

int rt_safetensors_read(const char *path, RtCheckpoint *out, char *err, size_t errlen)
{
    return read_file(path, READ_WHOLE, out, err, errlen);
}

int rt_safetensors_read_meta(const char *path, RtCheckpoint *out, char *err, size_t errlen)
{
    return read_file(path, READ_META, out, err, errlen);
}

int rt_safetensors_read_header(const char *path, RtCheckpoint *out, char *err, size_t errlen)
{
    return read_file(path, READ_HEADER, out, err, errlen);
}

static int read_file(const char *path, Reading reading, RtCheckpoint *out, char *err, size_t errlen)
{
    *out = (RtCheckpoint){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rt_fail(-1, err, errlen, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0)
        rt_fail(-1, err, errlen, "cannot read '%s': %s", path, strerror(errno));
    else
        rc = read_source(path, &(Source){fd, NULL, (uint64_t)st.st_size}, reading, out, err, errlen);
    close(fd);
    return rc;
}

int rt_safetensors_read_memory(const void *data, size_t size, const char *name, RtCheckpoint *out, char *err,
                               size_t errlen)
{
    *out = (RtCheckpoint){0};
    if (!data && size)
        return rt_fail(-1, err, errlen, "%s: the data is a null pointer", name);
    return read_source(name, &(Source){-1, data, size}, READ_WHOLE, out, err, errlen);
}

const RtTensor *rt_checkpoint_find(const RtCheckpoint *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->t[i].name, name) == 0)
            return &c->t[i];
    return NULL;
}

const char *rt_checkpoint_meta(const RtCheckpoint *c, const char *key)
{
    for (int i = 0; i < c->nmeta; i++)
        if (strcmp(c->meta[2 * i], key) == 0)
            return c->meta[2 * i + 1];
    return NULL;
}

void rt_checkpoint_free(RtCheckpoint *c)
{
    for (int i = 0; c->meta && i < 2 * c->nmeta; i++)
        free(c->meta[i]);
    free(c->meta);
    for (int i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    free(c->converted);
    free(c->mem);
    *c = (RtCheckpoint){0};
}
