/* data_npz.c — a .npz archive into an RtDataset, one column per input and
 * target of the model, each found by its name; see nnc_runtime.h.
 *
 * The first axis of every array counts examples, and the rest must be the
 * per-example shape the model declares (one value per example may also be
 * [n]).  Reals of any element type become f32, as they are (never
 * rescaled: uint8 pixels stay 0-255); labels and token ids must be integers
 * within the class or vocabulary.  Every message names the file and the
 * array, and the example (from 0) where a value is wrong.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "include/nnc_runtime.h"
#include "npy.h"
#include "number.h"
#include "rt_internal.h"

/* "f32[4]", "class(10)", "token(65)[8]": the model's type of t, per example. */
static const char *type_str(const RtTensorSpec *t, char *buf, size_t len)
{
    size_t at;
    if (t->dtype == RT_I32)
        at = (size_t)snprintf(buf, len, "%s(%lld)", t->rank > 1 ? "token" : "class", (long long)t->classes);
    else
        at = (size_t)snprintf(buf, len, "%s", t->dtype == RT_F64 ? "f64" : "f32");
    for (int d = 1; d < t->rank && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld%s", d == 1 ? "[" : "", (long long)t->shape[d],
                               d == t->rank - 1 ? "]" : ", ");
    return buf;
}

/* A column of n bytes; a large one in huge pages where the system has them
 * (filling it is then a few hundred page faults rather than tens of thousands). */
static void *column_alloc(size_t n)
{
    return n < ((size_t)16 << 20) ? rt_malloc(n ? n : 1) : rt_huge_alloc(n);
}

/* Array a into column c for t, checking every value. */
static int convert(const RtNpy *a, const RtTensorSpec *t, const char *kind, RtColumn *c, const char *path,
                   char *err, size_t errlen)
{
    int64_t per = rt_elems(t, 1), total = a->count;
    char ts[128], at[64];
    c->elems = per;
    c->dtype = t->dtype == RT_I32 ? RT_I32 : RT_F32;
    if (rt_memory_check(total > INT64_MAX / 4 ? -1 : total * 4, NULL, err, errlen, "%s: array '%s' (%lld values as %s)",
                        path, t->name, (long long)total, c->dtype == RT_I32 ? "int32" : "float32") != 0)
        return -1;
    c->data = column_alloc((size_t)total * 4);
    if (!c->data)
        return rt_fail(-1, err, errlen, "out of memory for array '%s' of %s (%lld values)", t->name, path,
                       (long long)total);
    if (c->dtype == RT_I32) {
        int32_t *dst = c->data;
        for (int64_t i = 0; i < total; i++) {
            double v = rt_npy_get(a, i);
            if (v < 0 || v >= (double)t->classes)
                return rt_fail(-1, err, errlen, "%s: array '%s', %s: %s %.0f is outside %s's 0-%lld", path, t->name,
                               rt_npy_position(i, per, at, sizeof at), per == 1 ? "label" : "id", v,
                               type_str(t, ts, sizeof ts), (long long)t->classes - 1);
            dst[i] = (int32_t)v;
        }
        return 0;
    }
    float *dst = c->data;
    if (a->type == RT_NPY_F4)   /* the common case: the bytes as they are */
        memcpy(dst, a->data, (size_t)total * 4);
    else
        for (int64_t i = 0; i < total; i++)
            dst[i] = (float)rt_npy_get(a, i);
    for (int64_t i = 0; i < total; i++)
        if (!isfinite(dst[i])) {   /* %g of NAN: "nan", where a NaN with its sign bit set prints "-nan" */
            double v = rt_npy_get(a, i);
            return rt_fail(-1, err, errlen, "%s: array '%s', %s: %g %s", path, t->name,
                           rt_npy_position(i, per, at, sizeof at), isnan(v) ? NAN : v, rt_f32_unfit(v));
        }
    return 0;
}

/* Whether array a (its header) can be t's: its examples of t's per-example
 * shape, at least one, as many as `first` has (NULL: a is the first), and
 * integers for labels and ids.  0, or -1 with why. */
static int array_fits(const RtNpy *a, const RtTensorSpec *t, const char *kind, const char *first, int64_t count,
                      const char *path, char *err, size_t errlen)
{
    char ts[128];
    if (a->rank == 0 || !rt_npy_holds_examples(a, t->shape + 1, t->rank - 1)) {  /* shape[0]: the batch */
        char msg[RT_NPY_EXAMPLES_MSG];
        return rt_fail(-1, err, errlen, "%s: array '%s' %s", path, t->name,
                       rt_npy_examples_mismatch(a, kind, t->name, type_str(t, ts, sizeof ts), rt_elems(t, 1), msg,
                                                sizeof msg));
    }
    if (a->shape[0] == 0)
        return rt_fail(-1, err, errlen, "%s: array '%s' has no examples", path, t->name);
    if (first && a->shape[0] != count)
        return rt_fail(-1, err, errlen, "%s: array '%s' has %lld examples, but array '%s' has %lld", path, t->name,
                       (long long)a->shape[0], first, (long long)count);
    char names[RT_NPY_TYPE_LIST];
    if (t->dtype == RT_I32 && !rt_npy_is_integer(a->type))
        return rt_fail(-1, err, errlen, "%s: array '%s' is %s, but %s '%s' is %s: its labels must be integers (%s)",
                       path, t->name, rt_npy_type_name(a->type), kind, t->name, type_str(t, ts, sizeof ts),
                       rt_npy_type_list(1, names, sizeof names));
    return 0;
}

/* The member holding t's array: its index, or -1 with why (none, or two). */
static int find_array(const RtNpz *z, const RtTensorSpec *t, const char *kind, const char *path, char *err,
                      size_t errlen)
{
    char why[768];
    int at = rt_npz_find(z, t->name, why, sizeof why);
    if (at == -2)
        return rt_fail(-1, err, errlen, "%s: %s", path, why);
    if (at < 0) {
        char names[512];
        return rt_fail(-1, err, errlen, "%s has no array '%s' for %s '%s'; it has %s", path, t->name, kind, t->name,
                       rt_npz_names(z, names, sizeof names));
    }
    return at;
}

/* An archive in memory: mapped (populate: paged in at once, for a reader of
 * all of it), else read whole. */
typedef struct Archive {
    const uint8_t *buf;
    size_t         len;
    void          *map;   /* from mmap, or NULL */
    char          *raw;   /* from rt_read_whole, or NULL */
} Archive;

static int archive_open(const char *path, int populate, Archive *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        size_t len = (size_t)st.st_size;
        void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
        close(fd);
        if (map != MAP_FAILED) {
            a->buf = map, a->len = len, a->map = map;
            return 0;
        }
    } else if (fd >= 0) {
        close(fd);
    }
    /* not a regular file, empty, or not mappable: read it (rt_read_whole names the error) */
    if (rt_read_whole(path, &a->raw, &a->len, err, errlen) != 0)
        return -1;
    a->buf = (const uint8_t *)a->raw;
    return 0;
}

static void archive_close(Archive *a)
{
    if (a->map)
        munmap(a->map, a->len);
    free(a->raw);
}

/* The archive is mapped rather than read: stored members are then used
 * where they are, and the only memory written is the columns (a data set
 * of 60,000 images is 188 MB, and each copy of it costs). */
int rt_npz_load(const char *path, const RtModel *m, RtDataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    Archive a;
    if (archive_open(path, 1, &a, err, errlen) != 0)
        return -1;
    int rc = rt_npz_columns(a.buf, a.len, path, m, out, err, errlen);
    archive_close(&a);
    return rc;
}

/* Mapped without paging it in: only the central directory and the arrays'
 * headers are read (a count over 188 MB of images reads a few pages). */
int rt_npz_count(const char *path, const RtModel *m, int64_t *count, char *err, size_t errlen)
{
    *count = 0;
    Archive a;
    if (archive_open(path, 0, &a, err, errlen) != 0)
        return -1;
    RtNpz z;
    char why[768];
    if (rt_npz_open(a.buf, a.len, &z, why, sizeof why) != 0) {
        archive_close(&a);
        return rt_fail(-1, err, errlen, "%s: %s", path, why);
    }
    int rc = 0;
    const char *first = NULL;
    for (int k = 0; rc == 0 && k < m->ninputs + m->ntargets; k++) {
        const RtTensorSpec *t = k < m->ninputs ? &m->inputs[k] : &m->targets[k - m->ninputs];
        const char *kind = k < m->ninputs ? "input" : "target";
        RtNpy arr;
        int at = find_array(&z, t, kind, path, err, errlen);
        if (at < 0 || rt_npz_read_header(&z, at, t->dtype == RT_I32, &arr, why, sizeof why) != 0)
            rc = at < 0 ? -1 : rt_fail(-1, err, errlen, "%s: %s", path, why);
        else if ((rc = array_fits(&arr, t, kind, first, *count, path, err, errlen)) == 0)
            first = t->name, *count = arr.shape[0];
    }
    rt_npz_close(&z);
    archive_close(&a);
    return rc;
}

int rt_npz_columns(const uint8_t *raw, size_t len, const char *path, const RtModel *m, RtDataset *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    RtNpz z;
    char why[768];
    if (rt_npz_open(raw, len, &z, why, sizeof why) != 0)
        return rt_fail(-1, err, errlen, "%s: %s", path, why);
    int n = m->ninputs + m->ntargets, rc = -1;
    const char *first = NULL;   /* the array whose example count the others must have */
    out->columns = rt_calloc((size_t)(n ? n : 1), sizeof *out->columns);
    if (!out->columns) {
        rt_fail(-1, err, errlen, "out of memory reading %s", path);
        goto done;
    }
    out->ncolumns = n;
    for (int k = 0; k < n; k++) {
        const RtTensorSpec *t = k < m->ninputs ? &m->inputs[k] : &m->targets[k - m->ninputs];
        const char *kind = k < m->ninputs ? "input" : "target";
        int at = find_array(&z, t, kind, path, err, errlen);
        if (at < 0)
            goto done;
        uint8_t *bytes;
        RtNpy a;
        if (rt_npz_read(&z, at, t->dtype == RT_I32, &bytes, &a, why, sizeof why) != 0) {
            rt_fail(-1, err, errlen, "%s: %s", path, why);
            goto done;
        }
        if (array_fits(&a, t, kind, first, out->count, path, err, errlen) != 0) {
            free(bytes);
            goto done;
        }
        first = t->name;
        out->count = a.shape[0];
        int bad = convert(&a, t, kind, &out->columns[k], path, err, errlen);
        free(bytes);
        if (bad)
            goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        rt_dataset_free(out);
    rt_npz_close(&z);
    return rc;
}
