/* data_idx.c — MNIST-style IDX files into an RtDataset; see nnc_runtime.h.
 *
 * An IDX file is big-endian: a u32 magic (0x0000 0x08 = unsigned bytes, then
 * the number of dimensions), one u32 per dimension, then the bytes:
 *   images  2051 (0x00000803)  count, rows, cols   count·rows·cols pixels
 *   labels  2049 (0x00000801)  count               count labels
 * Each file is read as NAME, or else NAME.gz; either may be raw or gzip (one
 * or more members, nothing after them).  Every check names the file it failed on, so a user
 * with a wrong or damaged download learns which one; examples are counted
 * from 0, byte counts include the header.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "include/nnc_runtime.h"
#include "rt_internal.h"

enum {
    IDX_IMAGES_MAGIC = 2051,
    IDX_LABELS_MAGIC = 2049,
    MNIST_CLASSES = 10,
};

/* Data sets above this many pixel bytes are refused before anything is
 * allocated: a header claiming more is damaged (as floats it would take 16 GiB). */
#define IDX_MAX_BYTES (UINT64_C(1) << 32)

/* One IDX file being read: raw bytes, or gzip members inflated here rather
 * than through gzread, which ignores whatever follows the last member (a
 * damaged download or two files glued together would pass unnoticed). */
typedef struct IdxFile {
    char         *path;       /* the name opened: DIR/NAME or DIR/NAME.gz (owned) */
    int           fd;         /* -1 once closed */
    uint64_t      size;       /* the file's size in bytes, as fstat says */
    uint64_t      pos;        /* bytes of the file read into inbuf so far */
    unsigned char *inbuf;     /* raw bytes read ahead (owned), z.next_in into it */
    unsigned      incap;      /* its size */
    int           gz;         /* the file starts with gzip's magic 1f 8b */
    int           inflating;  /* z is initialised (inflateEnd owed) */
    int           member_end; /* inflate ended a gzip member: what follows is next */
    z_stream      z;          /* the inflate state, and the unread input for both kinds */
    uint32_t      dims[3];    /* the header's dimensions: count[, rows, cols] */
    uint64_t      read;       /* bytes consumed so far, header included */
} IdxFile;

static void idx_close(IdxFile *f)
{
    if (f->inflating)
        inflateEnd(&f->z);
    if (f->fd >= 0)
        close(f->fd);
    free(f->inbuf);
    free(f->path);
    f->inflating = 0;
    f->fd = -1;
    f->inbuf = NULL;
    f->path = NULL;
}

/* Moves the unread input to the front of inbuf and reads more behind it:
 * the bytes now unread, 0 at the end of the file, or -1 with why. */
static int64_t idx_refill(IdxFile *f, char *err, size_t errlen)
{
    z_stream *z = &f->z;
    if (z->avail_in > 0 && z->next_in != f->inbuf)
        memmove(f->inbuf, z->next_in, z->avail_in);
    z->next_in = f->inbuf;
    for (;;) {
        ssize_t r = read(f->fd, f->inbuf + z->avail_in, f->incap - z->avail_in);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read %s: %s", f->path, strerror(errno));
            return -1;
        }
        z->avail_in += (uInt)r;
        f->pos += (uint64_t)r;
        return z->avail_in;
    }
}

/* Opens DIR/NAME, or DIR/NAME.gz when NAME does not exist, and tells gzip
 * (by its magic, whatever the name) from raw bytes. */
static int idx_open(IdxFile *f, const char *dir, const char *name, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    size_t dlen = strlen(dir), size = dlen + strlen(name) + 5;
    const char *sep = dlen == 0 || dir[dlen - 1] == '/' ? "" : "/";
    f->path = rt_malloc(size);
    if (!f->path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int gz = 0; gz < 2 && f->fd < 0; gz++) {
        snprintf(f->path, size, "%s%s%s%s", dir, sep, name, gz ? ".gz" : "");
        f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot open %s: %s", f->path, strerror(errno));
            idx_close(f);
            return -1;
        }
    }
    if (f->fd < 0) {
        snprintf(err, errlen, "cannot open %s%s%s(.gz): %s", dir, sep, name, strerror(ENOENT));
        idx_close(f);
        return -1;
    }
    struct stat st;
    f->size = fstat(f->fd, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
    /* fewer, larger reads: the train images are 47 MB; a small file (the
     * test labels, the fuzz target's inputs) a small buffer */
    f->incap = f->size < (1 << 16) ? 1 << 14 : 1 << 20;
    f->inbuf = rt_malloc(f->incap);
    if (!f->inbuf) {
        snprintf(err, errlen, "out of memory");
        idx_close(f);
        return -1;
    }
    f->z.next_in = f->inbuf;
    if (idx_refill(f, err, errlen) < 0) {
        idx_close(f);
        return -1;
    }
    f->gz = f->z.avail_in >= 2 && f->inbuf[0] == 0x1f && f->inbuf[1] == 0x8b;
    if (f->gz) {
        if (inflateInit2(&f->z, 15 + 16) != Z_OK) {   /* 15 + 16: a gzip wrapper, its CRC and length checked */
            snprintf(err, errlen, "out of memory");
            idx_close(f);
            return -1;
        }
        f->inflating = 1;
    }
    return 0;
}

/* After a gzip member: 1 when another member follows (gzip allows several,
 * read as one stream), 0 at the end of the file, -1 when anything else
 * follows. */
static int idx_next_member(IdxFile *f, char *err, size_t errlen)
{
    z_stream *z = &f->z;
    if (z->avail_in < 2 && idx_refill(f, err, errlen) < 0)
        return -1;
    if (z->avail_in == 0)
        return 0;
    if (z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b) {
        inflateReset(z);
        f->member_end = 0;
        return 1;
    }
    uint64_t end = f->pos - z->avail_in, extra = f->size > end ? f->size - end : z->avail_in;
    snprintf(err, errlen, "%s has %llu byte%s that %s not gzip after its compressed data, which ends at byte %llu",
             f->path, (unsigned long long)extra, extra == 1 ? "" : "s", extra == 1 ? "is" : "are",
             (unsigned long long)end);
    return -1;
}

/* Up to n inflated bytes into buf: how many (short at the end of the data
 * or of a truncated stream), or -1 with why. */
static int64_t idx_inflate(IdxFile *f, unsigned char *buf, uint64_t n, char *err, size_t errlen)
{
    z_stream *z = &f->z;
    uint64_t got = 0;
    while (got < n) {
        if (f->member_end) {
            int next = idx_next_member(f, err, errlen);
            if (next <= 0)
                return next < 0 ? -1 : (int64_t)got;
        }
        if (z->avail_in == 0) {
            int64_t more = idx_refill(f, err, errlen);
            if (more <= 0)
                return more < 0 ? -1 : (int64_t)got;   /* a truncated stream: the caller counts the bytes */
        }
        uInt chunk = n - got > (1u << 30) ? 1u << 30 : (uInt)(n - got);
        z->next_out = buf + got;
        z->avail_out = chunk;
        int ret = inflate(z, Z_NO_FLUSH);
        got += chunk - z->avail_out;
        if (ret == Z_STREAM_END) {
            f->member_end = 1;
        } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
            snprintf(err, errlen, "cannot read %s: %s", f->path, z->msg ? z->msg : zError(ret));
            return -1;
        }
    }
    return (int64_t)got;
}

/* Up to n raw bytes into buf: first those read ahead, then from the file. */
static int64_t idx_copy(IdxFile *f, unsigned char *buf, uint64_t n, char *err, size_t errlen)
{
    z_stream *z = &f->z;
    uint64_t got = 0;
    while (got < n) {
        if (z->avail_in == 0) {
            int64_t more = idx_refill(f, err, errlen);
            if (more <= 0)
                return more < 0 ? -1 : (int64_t)got;
        }
        uint64_t take = n - got < z->avail_in ? n - got : z->avail_in;
        memcpy(buf + got, z->next_in, take);
        z->next_in += take;
        z->avail_in -= (uInt)take;
        got += take;
    }
    return (int64_t)got;
}

/* Reads up to n bytes; returns how many (short only at the end of the file
 * or of a truncated gzip stream), or -1 with a reason in err. */
static int64_t idx_read(IdxFile *f, void *buf, uint64_t n, char *err, size_t errlen)
{
    int64_t got = f->gz ? idx_inflate(f, buf, n, err, errlen) : idx_copy(f, buf, n, err, errlen);
    if (got > 0)
        f->read += (uint64_t)got;
    return got;
}

/* Reads and checks the magic number and the ndims dimensions. */
static int idx_header(IdxFile *f, uint32_t magic, int ndims, const char *kind, char *err, size_t errlen)
{
    unsigned char h[16];
    unsigned hdr = 4 + 4 * (unsigned)ndims;
    int64_t got = idx_read(f, h, hdr, err, errlen);
    if (got < 0)
        return -1;
    if (got >= 4) {
        uint32_t m = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (m != magic) {
            snprintf(err, errlen, "%s has magic %u, expected %u (IDX %s)", f->path, m, magic, kind);
            return -1;
        }
    }
    if ((uint64_t)got < hdr) {
        snprintf(err, errlen, "%s ends after %lld byte%s, inside its %u-byte header", f->path, (long long)got,
                 got == 1 ? "" : "s", hdr);
        return -1;
    }
    for (int d = 0; d < ndims; d++) {
        const unsigned char *p = h + 4 + 4 * d;
        f->dims[d] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    return 0;
}

/* Reads exactly the n bytes after the header, and checks nothing follows. */
static uint8_t *idx_payload(IdxFile *f, uint64_t n, char *err, size_t errlen)
{
    uint64_t total = f->read + n;
    /* Grow towards n rather than trusting the header with one allocation:
     * a truncated file claiming gigabytes then costs only what it holds. */
    uint64_t cap = n < (UINT64_C(1) << 26) ? n : UINT64_C(1) << 26, have = 0;
    uint8_t *buf = rt_malloc(cap ? cap : 1);
    while (buf) {
        int64_t got = idx_read(f, buf + have, cap - have, err, errlen);
        if (got < 0) {
            free(buf);
            return NULL;
        }
        have += (uint64_t)got;
        if (have < cap || cap == n)
            break;
        cap = cap * 2 < n ? cap * 2 : n;
        uint8_t *p = rt_realloc(buf, cap);
        if (!p)
            free(buf);
        buf = p;
    }
    if (!buf) {
        snprintf(err, errlen, "out of memory reading %s", f->path);
        return NULL;
    }
    if (have < n) {
        snprintf(err, errlen, "%s ends after %llu of %llu bytes", f->path, (unsigned long long)f->read,
                 (unsigned long long)total);
        free(buf);
        return NULL;
    }
    unsigned char extra;
    int64_t more = idx_read(f, &extra, 1, err, errlen);
    if (more != 0) {
        if (more > 0)
            snprintf(err, errlen, "%s has more than the %llu bytes its header describes", f->path,
                     (unsigned long long)total);
        free(buf);
        return NULL;
    }
    /* All of the data, but the file ended inside a gzip member: its CRC and
     * length (the member's last 8 bytes) never came, or a member's start
     * followed the stream and nothing more.  A download cut short. */
    if (f->gz && !f->member_end) {
        snprintf(err, errlen, "%s ends inside a gzip stream, at byte %llu (cut short?)", f->path,
                 (unsigned long long)f->pos);
        free(buf);
        return NULL;
    }
    return buf;
}

/* value(b) in float arithmetic, as torchvision's ToTensor (b / 255) and
 * Normalize ((x - mean) / std) compute it, so inputs match PyTorch's bit for bit. */
static void norm_table(RtNormalize norm, float table[256])
{
    for (int b = 0; b < 256; b++) {
        float v = (float)b;
        switch (norm) {
        case RT_NORM_NONE: break;
        case RT_NORM_UNIT: v = v / 255.0f; break;
        case RT_NORM_STANDARD: v = (v / 255.0f - 0.1307f) / 0.3081f; break;
        }
        table[b] = v;
    }
}

int rt_mnist_load(const char *dir, int test, RtNormalize norm, RtDataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *prefix = test ? "t10k" : "train";
    char name[64];
    IdxFile img, lab;
    uint8_t *pixels = NULL, *labels = NULL;
    int rc = -1;

    /* the images: [count, rows, cols] bytes */
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    if (idx_open(&img, dir, name, err, errlen) != 0)
        return -1;
    if (idx_header(&img, IDX_IMAGES_MAGIC, 3, "images", err, errlen) != 0)
        goto done_img;
    uint32_t count = img.dims[0], rows = img.dims[1], cols = img.dims[2];
    if (count == 0) {
        snprintf(err, errlen, "%s has no images", img.path);
        goto done_img;
    }
    if (rows == 0 || cols == 0) {
        snprintf(err, errlen, "%s has images of %ux%u pixels", img.path, rows, cols);
        goto done_img;
    }
    uint64_t pixel = (uint64_t)rows * cols;   /* < 2^64: both are u32 */
    if (pixel > IDX_MAX_BYTES / count) {
        snprintf(err, errlen, "%s claims %u images of %ux%u pixels, more than the %llu bytes this loader accepts",
                 img.path, count, rows, cols, (unsigned long long)IDX_MAX_BYTES);
        goto done_img;
    }
    uint64_t bytes = pixel * count;
    pixels = idx_payload(&img, bytes, err, errlen);
    if (!pixels)
        goto done_img;

    /* the labels: [count] bytes in 0..9 */
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    if (idx_open(&lab, dir, name, err, errlen) != 0)
        goto done_img;
    if (idx_header(&lab, IDX_LABELS_MAGIC, 1, "labels", err, errlen) != 0)
        goto done;
    if (lab.dims[0] != count) {
        snprintf(err, errlen, "%s has %u images but %s has %u labels", img.path, count, lab.path, lab.dims[0]);
        goto done;
    }
    labels = idx_payload(&lab, count, err, errlen);
    if (!labels)
        goto done;
    for (uint32_t i = 0; i < count; i++)
        if (labels[i] >= MNIST_CLASSES) {
            snprintf(err, errlen, "%s: label %u of example %u is outside 0-%d", lab.path, labels[i], i,
                     MNIST_CLASSES - 1);
            goto done;
        }

    if (rt_memory_check((int64_t)(bytes * sizeof *out->x + (size_t)count * sizeof *out->labels), NULL, err, errlen,
                        "%s: %u images of %ux%u pixels as floats", img.path, count, rows, cols) != 0)
        goto done;
    out->x = rt_malloc(bytes * sizeof *out->x);
    out->labels = rt_malloc((size_t)count * sizeof *out->labels);
    if (!out->x || !out->labels) {
        snprintf(err, errlen, "out of memory for %u images of %ux%u pixels", count, rows, cols);
        rt_dataset_free(out);
        goto done;
    }
    float table[256];
    norm_table(norm, table);
    for (uint64_t i = 0; i < bytes; i++)
        out->x[i] = table[pixels[i]];
    for (uint32_t i = 0; i < count; i++)
        out->labels[i] = labels[i];
    out->count = count;
    out->x_elems = (int64_t)pixel;
    out->y_elems = 1;
    out->classes = MNIST_CLASSES;
    out->rows = rows, out->cols = cols;
    rc = 0;
done:
    idx_close(&lab);
done_img:
    idx_close(&img);
    free(pixels);
    free(labels);
    return rc;
}

void rt_dataset_free(RtDataset *d)
{
    free(d->x);
    free(d->labels);
    free(d->y);
    for (int i = 0; i < d->ncolumns; i++)
        free(d->columns[i].data);
    free(d->columns);
    memset(d, 0, sizeof *d);
}
