/* test_data.c — the data-set loaders (data_idx.c, data_csv.c, data_text.c)
 * on small files written into the scratch directory: values after each
 * normalisation, every error message word for word, raw and gzipped alike,
 * shuffles and text windows; then the real MNIST and tinyshakespeare when a
 * copy exists (NNC_DATA, else NNC_DATA_DEFAULT), skipped without one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../../runtime/rt_internal.h"
#include "rt_harness.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* A fresh directory in the scratch space, named after the test. */
static void make_dir(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", rt_scratch_dir(), name);
    CU_ASSERT_FATAL(mkdir(buf, 0755) == 0);
}

static void join(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* Writes n bytes to path, gzip-compressed when gz is set. */
static void write_file(const char *path, const void *data, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        CU_ASSERT_FATAL(f != NULL);
        CU_ASSERT_FATAL(n == 0 || gzwrite(f, data, (unsigned)n) == (int)n);
        CU_ASSERT_FATAL(gzclose(f) == Z_OK);
    }
    else {
        FILE *f = fopen(path, "wb");
        CU_ASSERT_FATAL(f != NULL);
        CU_ASSERT_FATAL(fwrite(data, 1, n, f) == n);
        CU_ASSERT_FATAL(fclose(f) == 0);
    }
}

static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text), 0); }

/* An IDX file image: magic, ndims big-endian u32 dimensions, then the bytes. */
typedef struct Idx { unsigned char b[256]; size_t n; } Idx;

static void put_u32(Idx *f, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        f->b[f->n++] = (unsigned char)(v >> (8 * i));
}

static Idx idx_make(uint32_t magic, int ndims, const uint32_t *dims, const unsigned char *data, size_t n)
{
    Idx f = {.n = 0};
    put_u32(&f, magic);
    for (int d = 0; d < ndims; d++)
        put_u32(&f, dims[d]);
    if (n)
        memcpy(f.b + f.n, data, n);
    f.n += n;
    return f;
}

/* Three 2x3 images and their labels: the small data set of the IDX tests. */
static const unsigned char PIXELS[18] = {0, 1, 2, 127, 128, 129, 200, 254, 255, 0, 0, 0, 10, 20, 30, 40, 50, 60};
static const unsigned char LABELS[3] = {0, 9, 5};

static Idx images(void) { return idx_make(2051, 3, (const uint32_t[]){3, 2, 3}, PIXELS, 18); }
static Idx labels(void) { return idx_make(2049, 1, (const uint32_t[]){3}, LABELS, 3); }

/* Writes dir/name (+ ".gz" when gz), the first n bytes of f (all when n is SIZE_MAX). */
static void write_idx(const char *dir, const char *name, const Idx *f, size_t n, int gz)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, gz ? ".gz" : "");
    write_file(path, f->b, n == SIZE_MAX ? f->n : n, gz);
}

static const char *TRAIN_IMAGES = "train-images-idx3-ubyte", *TRAIN_LABELS = "train-labels-idx1-ubyte";

/* pattern with every "%s" replaced by s: expected messages name a file. */
static void fill(char *buf, size_t n, const char *pattern, const char *s)
{
    size_t k = 0, slen = strlen(s);
    for (const char *p = pattern; *p && k + 1 < n; p++) {
        if (p[0] == '%' && p[1] == 's' && k + slen < n) {
            memcpy(buf + k, s, slen);
            k += slen;
            p++;
        }
        else
            buf[k++] = *p;
    }
    buf[k] = '\0';
}

/* Compares an error with the expected text, showing both when they differ. */
static void expect_err(const char *got, const char *want)
{
    if (strcmp(got, want) != 0)
        fprintf(stderr, "\n  error:    '%s'\n  expected: '%s'\n", got, want);
    CU_ASSERT_STRING_EQUAL(got, want);
}

static void expect_empty_dataset(const RtDataset *d)
{
    CU_ASSERT(d->count == 0 && d->x == NULL && d->labels == NULL && d->y == NULL);
}

/* value(b) as the header defines it, computed in float like torchvision */
static float normalized(RtNormalize norm, unsigned char b)
{
    switch (norm) {
    case RT_NORM_NONE: return (float)b;
    case RT_NORM_UNIT: return (float)b / 255.0f;
    case RT_NORM_STANDARD: return ((float)b / 255.0f - 0.1307f) / 0.3081f;
    }
    return NAN;
}

/* ---- MNIST-style IDX files -------------------------------------------------------------- */

static void test_mnist_values(void)
{
    char dir[512];
    make_dir(dir, sizeof dir, "idx_values");
    Idx im = images(), lb = labels();
    write_idx(dir, TRAIN_IMAGES, &im, SIZE_MAX, 0);
    write_idx(dir, TRAIN_LABELS, &lb, SIZE_MAX, 0);
    const RtNormalize norms[] = {RT_NORM_NONE, RT_NORM_UNIT, RT_NORM_STANDARD};
    for (int k = 0; k < 3; k++) {
        RtDataset d;
        char err[512] = "";
        CU_ASSERT_EQUAL_FATAL(rt_mnist_load(dir, 0, norms[k], &d, err, sizeof err), 0);
        CU_ASSERT_EQUAL(d.count, 3);
        CU_ASSERT_EQUAL(d.x_elems, 6);
        CU_ASSERT(d.rows == 2 && d.cols == 3);   /* the header's, which run.c checks against 28x28 */
        CU_ASSERT_EQUAL(d.y_elems, 1);
        CU_ASSERT_EQUAL(d.classes, 10);
        CU_ASSERT_PTR_NULL(d.y);
        for (int i = 0; i < 18; i++)
            CU_ASSERT_EQUAL(d.x[i], normalized(norms[k], PIXELS[i]));
        for (int i = 0; i < 3; i++)
            CU_ASSERT_EQUAL(d.labels[i], LABELS[i]);
        if (norms[k] == RT_NORM_NONE) {
            CU_ASSERT_EQUAL(d.x[3], 127.0f);
            CU_ASSERT_EQUAL(d.x[8], 255.0f);
        }
        if (norms[k] == RT_NORM_UNIT) {
            CU_ASSERT_EQUAL(d.x[0], 0.0f);
            CU_ASSERT_EQUAL(d.x[8], 1.0f);
            CU_ASSERT_DOUBLE_EQUAL(d.x[4], 128 / 255.0, 1e-7);
        }
        if (norms[k] == RT_NORM_STANDARD) {
            CU_ASSERT_DOUBLE_EQUAL(d.x[0], -0.1307 / 0.3081, 1e-6);        /* -0.424213 */
            CU_ASSERT_DOUBLE_EQUAL(d.x[8], (1 - 0.1307) / 0.3081, 1e-6);   /* 2.821487 */
        }
        rt_dataset_free(&d);
        expect_empty_dataset(&d);
    }
}

/* test = 1 reads the t10k files, and only those */
static void test_mnist_test_set(void)
{
    char dir[512], err[512] = "", want[1024];
    make_dir(dir, sizeof dir, "idx_t10k");
    Idx im = images(), lb = labels();
    write_idx(dir, "t10k-images-idx3-ubyte", &im, SIZE_MAX, 1);
    write_idx(dir, "t10k-labels-idx1-ubyte", &lb, SIZE_MAX, 1);
    RtDataset d;
    CU_ASSERT_EQUAL_FATAL(rt_mnist_load(dir, 1, RT_NORM_NONE, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.count, 3);
    CU_ASSERT_EQUAL(d.labels[1], 9);
    rt_dataset_free(&d);
    CU_ASSERT_EQUAL(rt_mnist_load(dir, 0, RT_NORM_NONE, &d, err, sizeof err), -1);
    snprintf(want, sizeof want, "cannot open %s/train-images-idx3-ubyte(.gz): No such file or directory", dir);
    expect_err(err, want);
}

/* Raw, gzipped and a mix give the same data set; raw wins when both exist. */
static void test_mnist_gz_equals_raw(void)
{
    char raw[512], gz[512], mix[512], both[512], err[512] = "";
    make_dir(raw, sizeof raw, "idx_raw");
    make_dir(gz, sizeof gz, "idx_gz");
    make_dir(mix, sizeof mix, "idx_mix");
    make_dir(both, sizeof both, "idx_both");
    Idx im = images(), lb = labels();
    write_idx(raw, TRAIN_IMAGES, &im, SIZE_MAX, 0);
    write_idx(raw, TRAIN_LABELS, &lb, SIZE_MAX, 0);
    write_idx(gz, TRAIN_IMAGES, &im, SIZE_MAX, 1);
    write_idx(gz, TRAIN_LABELS, &lb, SIZE_MAX, 1);
    write_idx(mix, TRAIN_IMAGES, &im, SIZE_MAX, 1);
    write_idx(mix, TRAIN_LABELS, &lb, SIZE_MAX, 0);

    RtDataset a, b, c;
    CU_ASSERT_EQUAL_FATAL(rt_mnist_load(raw, 0, RT_NORM_STANDARD, &a, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(rt_mnist_load(gz, 0, RT_NORM_STANDARD, &b, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(rt_mnist_load(mix, 0, RT_NORM_STANDARD, &c, err, sizeof err), 0);
    CU_ASSERT(a.count == b.count && a.count == c.count && a.x_elems == b.x_elems && a.x_elems == c.x_elems);
    CU_ASSERT(memcmp(a.x, b.x, 18 * sizeof(float)) == 0 && memcmp(a.x, c.x, 18 * sizeof(float)) == 0);
    CU_ASSERT(memcmp(a.labels, b.labels, 3 * sizeof(int32_t)) == 0);
    CU_ASSERT(memcmp(a.labels, c.labels, 3 * sizeof(int32_t)) == 0);
    rt_dataset_free(&a);
    rt_dataset_free(&b);
    rt_dataset_free(&c);

    /* NAME is tried before NAME.gz */
    Idx lb2 = idx_make(2049, 1, (const uint32_t[]){3}, (const unsigned char[]){1, 1, 1}, 3);
    write_idx(both, TRAIN_IMAGES, &im, SIZE_MAX, 0);
    write_idx(both, TRAIN_LABELS, &lb, SIZE_MAX, 0);
    write_idx(both, TRAIN_LABELS, &lb2, SIZE_MAX, 1);
    CU_ASSERT_EQUAL_FATAL(rt_mnist_load(both, 0, RT_NORM_NONE, &a, err, sizeof err), 0);
    CU_ASSERT(a.labels[0] == 0 && a.labels[1] == 9 && a.labels[2] == 5);
    rt_dataset_free(&a);
}

/* One broken directory: which files it holds, and the error it must give
 * (%s stands for the directory). */
typedef struct IdxCase {
    const char *name;
    Idx         images, labels;
    size_t      images_n, labels_n;   /* bytes written; 0: no file, SIZE_MAX: all */
    int         images_gz, labels_gz;
    const char *want;
} IdxCase;

static void test_mnist_errors(void)
{
    const unsigned char bad_labels[3] = {0, 12, 3};
    unsigned char pixels_and_one[19];
    memcpy(pixels_and_one, PIXELS, 18);
    pixels_and_one[18] = 1;
    const Idx im = images(), lb = labels();
    const IdxCase cases[] = {
        {"none", im, lb, 0, 0, 0, 0, "cannot open %s/train-images-idx3-ubyte(.gz): No such file or directory"},
        {"no_labels", im, lb, SIZE_MAX, 0, 1, 0,
         "cannot open %s/train-labels-idx1-ubyte(.gz): No such file or directory"},
        {"magic", idx_make(1234, 3, (const uint32_t[]){3, 2, 3}, PIXELS, 18), lb, SIZE_MAX, SIZE_MAX, 0, 0,
         "%s/train-images-idx3-ubyte has magic 1234, expected 2051 (IDX images)"},
        {"labels_magic", im, idx_make(2051, 1, (const uint32_t[]){3}, LABELS, 3), SIZE_MAX, SIZE_MAX, 0, 1,
         "%s/train-labels-idx1-ubyte.gz has magic 2051, expected 2049 (IDX labels)"},
        {"truncated", im, lb, 20, SIZE_MAX, 0, 0, "%s/train-images-idx3-ubyte ends after 20 of 34 bytes"},
        {"truncated_gz", im, lb, 33, SIZE_MAX, 1, 0, "%s/train-images-idx3-ubyte.gz ends after 33 of 34 bytes"},
        {"no_pixels", im, lb, 16, SIZE_MAX, 0, 0, "%s/train-images-idx3-ubyte ends after 16 of 34 bytes"},
        {"short_header", im, lb, 10, SIZE_MAX, 0, 0,
         "%s/train-images-idx3-ubyte ends after 10 bytes, inside its 16-byte header"},
        {"empty", im, lb, 1, SIZE_MAX, 1, 0,   /* the gzip of one byte: '\0' */
         "%s/train-images-idx3-ubyte.gz ends after 1 byte, inside its 16-byte header"},
        {"short_labels_header", im, lb, SIZE_MAX, 6, 0, 0,
         "%s/train-labels-idx1-ubyte ends after 6 bytes, inside its 8-byte header"},
        {"short_labels", im, lb, SIZE_MAX, 9, 0, 0, "%s/train-labels-idx1-ubyte ends after 9 of 11 bytes"},
        {"long", idx_make(2051, 3, (const uint32_t[]){3, 2, 3}, pixels_and_one, 19), lb, SIZE_MAX, SIZE_MAX, 0, 0,
         "%s/train-images-idx3-ubyte has more than the 34 bytes its header describes"},
        {"count", im, idx_make(2049, 1, (const uint32_t[]){2}, LABELS, 2), SIZE_MAX, SIZE_MAX, 0, 0,
         "%s/train-images-idx3-ubyte has 3 images but %s/train-labels-idx1-ubyte has 2 labels"},
        {"zero", idx_make(2051, 3, (const uint32_t[]){0, 2, 3}, NULL, 0), lb, SIZE_MAX, SIZE_MAX, 0, 0,
         "%s/train-images-idx3-ubyte has no images"},
        {"zero_rows", idx_make(2051, 3, (const uint32_t[]){3, 0, 3}, NULL, 0), lb, SIZE_MAX, SIZE_MAX, 0, 0,
         "%s/train-images-idx3-ubyte has images of 0x3 pixels"},
        {"absurd", idx_make(2051, 3, (const uint32_t[]){4294967295u, 28, 28}, PIXELS, 18), lb, SIZE_MAX, SIZE_MAX,
         1, 0,
         "%s/train-images-idx3-ubyte.gz claims 4294967295 images of 28x28 pixels, "
         "more than the 4294967296 bytes this loader accepts"},
        {"label_range", im, idx_make(2049, 1, (const uint32_t[]){3}, bad_labels, 3), SIZE_MAX, SIZE_MAX, 0, 0,
         "%s/train-labels-idx1-ubyte: label 12 of example 1 is outside 0-9"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const IdxCase *c = &cases[k];
        char name[64], dir[512], err[512] = "", want[2048];
        snprintf(name, sizeof name, "idx_err_%s", c->name);
        make_dir(dir, sizeof dir, name);
        if (c->images_n)
            write_idx(dir, TRAIN_IMAGES, &c->images, c->images_n, c->images_gz);
        if (c->labels_n)
            write_idx(dir, TRAIN_LABELS, &c->labels, c->labels_n, c->labels_gz);
        RtDataset d;
        CU_ASSERT_EQUAL(rt_mnist_load(dir, 0, RT_NORM_UNIT, &d, err, sizeof err), -1);
        fill(want, sizeof want, c->want, dir);
        expect_err(err, want);
        expect_empty_dataset(&d);
    }
}

/* Damaged compressed streams: zlib's reason, or the truncation it amounts to. */
static void test_mnist_bad_gzip(void)
{
    char dir[512], path[600], err[512] = "", want[1024];
    make_dir(dir, sizeof dir, "idx_bad_gz");
    Idx im = images(), lb = labels();
    write_idx(dir, TRAIN_IMAGES, &im, SIZE_MAX, 1);
    write_idx(dir, TRAIN_LABELS, &lb, SIZE_MAX, 0);
    join(path, sizeof path, dir, "train-images-idx3-ubyte.gz");

    /* the compressed file cut in half: the bytes it still decompresses to */
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    unsigned char gzb[256];
    size_t gzn = fread(gzb, 1, sizeof gzb, f);
    fclose(f);
    CU_ASSERT_FATAL(gzn > 20 && gzn < sizeof gzb);
    write_file(path, gzb, gzn / 2, 0);
    gzFile g = gzopen(path, "rb");
    unsigned char tmp[64];
    int avail = gzread(g, tmp, sizeof tmp);
    gzclose(g);
    CU_ASSERT_FATAL(avail >= 0 && avail < 34);
    RtDataset d;
    CU_ASSERT_EQUAL(rt_mnist_load(dir, 0, RT_NORM_UNIT, &d, err, sizeof err), -1);
    if (avail < 16)
        snprintf(want, sizeof want, "%s ends after %d bytes, inside its 16-byte header", path, avail);
    else
        snprintf(want, sizeof want, "%s ends after %d of 34 bytes", path, avail);
    expect_err(err, want);

    /* a gzip header followed by a deflate block of reserved type 3 */
    const unsigned char bad[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0, 0, 0, 0, 0, 0};
    write_file(path, bad, sizeof bad, 0);
    CU_ASSERT_EQUAL(rt_mnist_load(dir, 0, RT_NORM_UNIT, &d, err, sizeof err), -1);
    snprintf(want, sizeof want, "cannot read %s: invalid block type", path);
    expect_err(err, want);
    expect_empty_dataset(&d);

    /* a directory where a file should be */
    char sub[512];
    make_dir(sub, sizeof sub, "idx_dir_as_file");
    join(path, sizeof path, sub, TRAIN_IMAGES);
    CU_ASSERT_FATAL(mkdir(path, 0755) == 0);
    CU_ASSERT_EQUAL(rt_mnist_load(sub, 0, RT_NORM_UNIT, &d, err, sizeof err), -1);
    snprintf(want, sizeof want, "cannot read %s: Is a directory", path);
    expect_err(err, want);
}

/* Appends n bytes to path. */
static void append_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "ab");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fwrite(data, 1, n, f) == n);
    CU_ASSERT_FATAL(fclose(f) == 0);
}

static long file_size(const char *path)
{
    struct stat st;
    CU_ASSERT_FATAL(stat(path, &st) == 0);
    return (long)st.st_size;
}

/* Bytes after the gzip stream are refused, named with where the stream ends;
 * a second gzip member is not trailing bytes but more of the file. */
static void test_mnist_gzip_trailing(void)
{
    char dir[512], path[600], err[512] = "", want[1024];
    make_dir(dir, sizeof dir, "idx_gz_trailing");
    Idx im = images(), lb = labels();
    write_idx(dir, TRAIN_LABELS, &lb, SIZE_MAX, 0);
    join(path, sizeof path, dir, "train-images-idx3-ubyte.gz");
    const struct { const char *junk; size_t n; } cases[] = {{"junk\n", 5}, {"\x1f", 1}, {"\0\0\0", 3}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        write_idx(dir, TRAIN_IMAGES, &im, SIZE_MAX, 1);
        long end = file_size(path);
        append_file(path, cases[k].junk, cases[k].n);
        RtDataset d;
        CU_ASSERT_EQUAL(rt_mnist_load(dir, 0, RT_NORM_UNIT, &d, err, sizeof err), -1);
        snprintf(want, sizeof want, "%s has %zu byte%s that %s not gzip after its compressed data, which ends at byte %ld",
                 path, cases[k].n, cases[k].n == 1 ? "" : "s", cases[k].n == 1 ? "is" : "are", end);
        expect_err(err, want);
        expect_empty_dataset(&d);
    }

    /* all of the data, but the file cut inside the gzip trailer (its CRC,
     * its length), or a lone member header after the stream */
    for (int cut = 0; cut < 3; cut++) {
        write_idx(dir, TRAIN_IMAGES, &im, SIZE_MAX, 1);
        long end = file_size(path);
        if (cut < 2) {
            CU_ASSERT_FATAL(truncate(path, end - (cut ? 8 : 4)) == 0);
        } else {
            append_file(path, "\x1f\x8b\x08\0\0\0\0\0\0\x03", 10);
        }
        RtDataset d;
        CU_ASSERT_EQUAL(rt_mnist_load(dir, 0, RT_NORM_UNIT, &d, err, sizeof err), -1);
        snprintf(want, sizeof want, "%s ends inside a gzip stream, at byte %ld (cut short?)", path, file_size(path));
        expect_err(err, want);
        expect_empty_dataset(&d);
    }

    /* two members, the header in one and the pixels in the other: one file */
    write_file(path, im.b, 16, 1);
    char second[600];
    join(second, sizeof second, dir, "second.gz");
    write_file(second, im.b + 16, im.n - 16, 1);
    unsigned char gzb[256];
    FILE *f = fopen(second, "rb");
    CU_ASSERT_FATAL(f != NULL);
    size_t gzn = fread(gzb, 1, sizeof gzb, f);
    fclose(f);
    append_file(path, gzb, gzn);
    RtDataset d;
    CU_ASSERT_EQUAL_FATAL(rt_mnist_load(dir, 0, RT_NORM_NONE, &d, err, sizeof err), 0);
    CU_ASSERT(d.count == 3 && d.x[3] == 127.0f && d.x[17] == 60.0f);
    rt_dataset_free(&d);
}

/* ---- CSV --------------------------------------------------------------------------------- */

static void test_csv_classes(void)
{
    char path[512], err[512] = "";
    join(path, sizeof path, rt_scratch_dir(), "classes.csv");
    write_text(path, "1, 2 ,3\r\n\n  4,5,6 \r\n \t\n7,\t8.5e0,0");
    RtDataset d;
    CU_ASSERT_EQUAL_FATAL(rt_csv_load(path, 0, 7, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.count, 3);
    CU_ASSERT_EQUAL(d.x_elems, 2);
    CU_ASSERT_EQUAL(d.y_elems, 1);
    CU_ASSERT_EQUAL(d.classes, 7);
    CU_ASSERT_PTR_NULL(d.y);
    const float x[6] = {1, 2, 4, 5, 7, 8.5f};
    const int32_t l[3] = {3, 6, 0};
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(d.x[i], x[i]);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(d.labels[i], l[i]);
    rt_dataset_free(&d);
    expect_empty_dataset(&d);
}

static void test_csv_regression(void)
{
    char path[512], err[512] = "";
    join(path, sizeof path, rt_scratch_dir(), "regression.csv");
    write_text(path, "x1,x2,x3,t\n0.5,-1e-3,+2,2.25\n0.1,0,0,-7\n");
    RtDataset d;
    CU_ASSERT_EQUAL_FATAL(rt_csv_load(path, 1, 0, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.count, 2);
    CU_ASSERT_EQUAL(d.x_elems, 3);
    CU_ASSERT_EQUAL(d.y_elems, 1);
    CU_ASSERT_EQUAL(d.classes, 0);
    CU_ASSERT_PTR_NULL(d.labels);
    const float x[6] = {0.5f, -1e-3f, 2, 0.1f, 0, 0};
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(d.x[i], x[i]);
    CU_ASSERT(d.y[0] == 2.25f && d.y[1] == -7.0f);
    rt_dataset_free(&d);

    /* the same file without header: its first line is not numbers */
    char want[1024];
    CU_ASSERT_EQUAL(rt_csv_load(path, 0, 0, &d, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: line 1, column 0: 'x1' is not a number (a header row? csv(..., header: true) skips "
             "the first line)", path);
    expect_err(err, want);
}

/* A UTF-8 byte-order mark before the first line (a spreadsheet's export) is
 * skipped, with or without a header; every decimal spelling is read. */
static void test_csv_bom(void)
{
    char path[512], err[512] = "";
    join(path, sizeof path, rt_scratch_dir(), "bom.csv");
    const char *texts[] = {"\xEF\xBB\xBF" "-.5,1.,+2e-3,7E+1\n0,0,0,1\n",
                           "\xEF\xBB\xBF" "a,b,c,t\n-.5,1.,+2e-3,7E+1\n0,0,0,1\n"};
    for (int header = 0; header < 2; header++) {
        write_text(path, texts[header]);
        RtDataset d;
        int rc = rt_csv_load(path, header, 0, &d, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "\n  header %d: %s\n", header, err);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_EQUAL(d.count, 2);
        CU_ASSERT(d.x[0] == -0.5f && d.x[1] == 1.0f && d.x[2] == 2e-3f && d.y[0] == 70.0f);
        rt_dataset_free(&d);
    }
}

/* Many rows, past the first growth of the arrays */
static void test_csv_many_rows(void)
{
    char path[512], err[512] = "";
    join(path, sizeof path, rt_scratch_dir(), "many.csv");
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    for (int i = 0; i < 5000; i++)
        fprintf(f, "%d,%d,%d\n", i, -i, i % 3);
    fclose(f);
    RtDataset d;
    CU_ASSERT_EQUAL_FATAL(rt_csv_load(path, 0, 3, &d, err, sizeof err), 0);
    CU_ASSERT_EQUAL(d.count, 5000);
    int ok = 1;
    for (int i = 0; i < 5000; i++)
        ok &= d.x[2 * i] == (float)i && d.x[2 * i + 1] == (float)-i && d.labels[i] == i % 3;
    CU_ASSERT(ok);
    rt_dataset_free(&d);
}

typedef struct CsvCase {
    const char *text;     /* NULL: no file */
    size_t      len;      /* 0: strlen(text) */
    int         header;
    int64_t     classes;
    const char *want;     /* %s: the path */
} CsvCase;

static void test_csv_errors(void)
{
    const CsvCase cases[] = {
        {NULL, 0, 0, 0, "cannot open %s: No such file or directory"},
        {"1,2,3,0\n1,2,3,0\n1,2,3,0\n\n1,2,3,0\n1,2,3,0\n1,2,0\n", 0, 0, 2, "%s: line 7 has 3 values, expected 4 like line 1"},
        {"h\n1,2,3\n4,5,6,7\n", 0, 1, 0, "%s: line 3 has 4 values, expected 3 like line 2"},
        {"1,2,3\n4,5,6\n7\n", 0, 0, 0, "%s: line 3 has 1 value, expected 3 like line 1"},
        {"a,b,c\n1,2,3\n4,abc,6\n", 0, 1, 0, "%s: line 3, column 1: 'abc' is not a number"},
        {"1, ,3\n", 0, 0, 0, "%s: line 1, column 1: '' is not a number"},
        {"1,2 3,3\n", 0, 0, 0, "%s: line 1, column 1: '2 3' is not a number"},
        {"1,2,\n", 0, 0, 0, "%s: line 1, column 2: '' is not a number"},
        {"1,inf,3\n", 0, 0, 0, "%s: line 1, column 1: 'inf' is not a finite number"},
        {"1,-Infinity,3\n", 0, 0, 0, "%s: line 1, column 1: '-Infinity' is not a finite number"},
        {"1,NaN,3\n", 0, 0, 0, "%s: line 1, column 1: 'NaN' is not a finite number"},
        {"1,0x10,3\n", 0, 0, 0, "%s: line 1, column 1: '0x10' is not a decimal number"},
        {"0x1p3,2,3\n", 0, 0, 0, "%s: line 1, column 0: '0x1p3' is not a decimal number"},
        {"1,1e,3\n", 0, 0, 0, "%s: line 1, column 1: '1e' is not a number"},
        {"1,.,3\n", 0, 0, 0, "%s: line 1, column 1: '.' is not a number"},
        {"1,1e999,3\n", 0, 0, 0, "%s: line 1, column 1: '1e999' is beyond the range of f32 (3.4e38)"},
        {"1,2,1e39\n", 0, 0, 0, "%s: line 1, column 2: '1e39' is beyond the range of f32 (3.4e38)"},
        {"-3.5e38,2,0\n", 0, 0, 0, "%s: line 1, column 0: '-3.5e38' is beyond the range of f32 (3.4e38)"},
        {"1,2\0,3\n", 7, 0, 0, "%s: line 1, column 1 holds a NUL byte"},
        /* control bytes quoted as escapes: lines ended by CR alone, a tab, an escape sequence */
        {"1,2,3,4,0\r1,2,3,4,1\r", 0, 0, 0, "%s: line 1, column 4: '0\\r1' is not a number"},
        {"1,2\t3,3\n", 0, 0, 0, "%s: line 1, column 1: '2\\t3' is not a number"},
        {"1,\x1b[2J\x7f,3\n", 0, 0, 0, "%s: line 1, column 1: '\\x1b[2J\\x7f' is not a number"},
        {"\xEF\xBB\xBF\xEF\xBB\xBF" "1,2\n", 0, 0, 0, "%s: line 1, column 0: '\xEF\xBB\xBF" "1' is not a number (a header row? "
         "csv(..., header: true) skips the first line)"},
        {"0,0\n0,1\n1,0\n1,1\n0,0\n0,0\n0,0\n0,0\n0,3.5\n", 0, 0, 3, "%s: line 9: label 3.5 is not a whole number"},
        {"0,0\n0, 3 \n", 0, 0, 3, "%s: line 2: label 3 is outside 0-2"},
        {"0,-1\n", 0, 0, 3, "%s: line 1: label -1 is outside 0-2"},
        {"5\n", 0, 0, 0, "%s: line 1 has 1 value, expected at least 2 (the features, then the target)"},
        {"", 0, 0, 0, "%s: no examples"},
        {"a,b,c\n", 0, 1, 2, "%s: no examples"},
        {"\n  \r\n\t\n", 0, 0, 2, "%s: no examples"},
        {"1,1\n", 0, 0, INT64_C(3000000000), "%s: 3000000000 classes are more than a label can hold"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const CsvCase *c = &cases[k];
        char path[512], err[512] = "", want[1024];
        snprintf(path, sizeof path, "%s/err%zu.csv", rt_scratch_dir(), k);
        if (c->text)
            write_file(path, c->text, c->len ? c->len : strlen(c->text), 0);
        RtDataset d;
        CU_ASSERT_EQUAL(rt_csv_load(path, c->header, c->classes, &d, err, sizeof err), -1);
        fill(want, sizeof want, c->want, path);
        expect_err(err, want);
        expect_empty_dataset(&d);
    }
}

/* A model's width first: a missing target column (three features, no
 * label) is refused by the count of values, not as "label 0.3 is not a
 * whole number"; one too many after a header likewise. */
static void test_csv_width(void)
{
    const CsvCase cases[] = {
        {"0.1,0.2,0.3\n", 0, 0, 2, "%s has 3 values per example, but input 'x' and the target take 4"},
        {"h\n1,2,3,4,0\n", 0, 1, 2, "%s has 5 values per example, but input 'x' and the target take 4"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const CsvCase *c = &cases[k];
        char path[512], err[512] = "", want[1024];
        snprintf(path, sizeof path, "%s/width%zu.csv", rt_scratch_dir(), k);
        write_file(path, c->text, strlen(c->text), 0);
        RtDataset d;
        CU_ASSERT_EQUAL(rt_csv_load_fit(path, c->header, c->classes, 3, "x", &d, err, sizeof err), -1);
        fill(want, sizeof want, c->want, path);
        expect_err(err, want);
        expect_empty_dataset(&d);
    }
}

/* A width to check without the input's name, which its message needs, is
 * refused as the caller's mistake, even for a file of that width. */
static void test_csv_width_unnamed(void)
{
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/unnamed.csv", rt_scratch_dir());
    write_file(path, "1,2,3,0\n", 8, 0);
    RtDataset d;
    CU_ASSERT_EQUAL(rt_csv_load_fit(path, 0, 2, 3, NULL, &d, err, sizeof err), -1);
    expect_err(err, "rt_csv_load_fit: x_elems is 3 but input is NULL; a width to check needs the input's name");
    expect_empty_dataset(&d);
}

/* ---- shuffling --------------------------------------------------------------------------- */

static int is_permutation(const int64_t *order, int64_t n)
{
    char *seen = calloc((size_t)n + 1, 1);
    int ok = seen != NULL;
    for (int64_t i = 0; i < n && ok; i++) {
        ok = order[i] >= 0 && order[i] < n && !seen[order[i]];
        if (ok)
            seen[order[i]] = 1;
    }
    free(seen);
    return ok;
}

static void test_shuffle(void)
{
    enum { N = 1000 };
    static int64_t a[N], b[N], c[N], d[N];
    rt_shuffle(a, N, 42, 0);
    rt_shuffle(b, N, 42, 0);
    rt_shuffle(c, N, 42, 1);
    rt_shuffle(d, N, 43, 0);
    CU_ASSERT(is_permutation(a, N) && is_permutation(c, N) && is_permutation(d, N));
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);   /* a pure function of (n, seed, epoch) */
    CU_ASSERT(memcmp(a, c, sizeof a) != 0);   /* a new order every epoch */
    CU_ASSERT(memcmp(a, d, sizeof a) != 0);   /* and for every seed */
    int fixed = 0;
    for (int i = 0; i < N; i++)
        fixed += a[i] == i;
    CU_ASSERT(fixed < 10);   /* about 1 expected: it does shuffle */

    /* the documented draws: place i takes j = floor(rt_uniform(seed, 7, epoch, i)·(i+1)) */
    int64_t want[50];
    for (int i = 0; i < 50; i++)
        want[i] = i;
    for (int i = 49; i > 0; i--) {
        int64_t j = (int64_t)(rt_uniform(9, 7, 3, (uint64_t)i) * (i + 1)), t = want[i];
        want[i] = want[j];
        want[j] = t;
    }
    rt_shuffle(a, 50, 9, 3);
    CU_ASSERT(memcmp(a, want, sizeof want) == 0);

    int64_t one[1] = {99};
    rt_shuffle(one, 1, 1, 1);
    CU_ASSERT_EQUAL(one[0], 0);
    rt_shuffle(NULL, 0, 1, 1);   /* nothing to write */
}

/* Over 6000 epochs each of the 6 orders of 3 elements comes about 1000 times. */
static void test_shuffle_uniform(void)
{
    int counts[6] = {0};
    for (uint64_t e = 0; e < 6000; e++) {
        int64_t o[3];
        rt_shuffle(o, 3, 5, e);
        CU_ASSERT_FATAL(is_permutation(o, 3));
        /* the permutation's rank: its first element, then the order of the other two */
        int code = (int)(o[0] * 2 + (o[1] > o[2]));
        counts[code]++;
    }
    for (int k = 0; k < 6; k++)
        CU_ASSERT(counts[k] > 850 && counts[k] < 1150);   /* sigma is about 29 */
}

/* ---- text -------------------------------------------------------------------------------- */

static void test_text_vocabulary(void)
{
    char path[512], err[512] = "";
    join(path, sizeof path, rt_scratch_dir(), "hello.txt");
    write_text(path, "hello world\n");
    RtText t;
    CU_ASSERT_EQUAL_FATAL(rt_text_load(path, 0.5, &t, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.n, 12);
    CU_ASSERT_EQUAL(t.vocab, 9);
    CU_ASSERT(memcmp(t.chars, "\n dehlorw", 9) == 0);
    const int32_t ids[12] = {4, 3, 5, 5, 6, 1, 8, 6, 7, 5, 2, 0};
    CU_ASSERT(memcmp(t.ids, ids, sizeof ids) == 0);
    CU_ASSERT_EQUAL(t.train_end, 6);
    rt_text_free(&t);
    CU_ASSERT(t.ids == NULL && t.n == 0);

    /* any byte is a character, NUL and bytes above 127 too */
    join(path, sizeof path, rt_scratch_dir(), "bytes.bin");
    write_file(path, (const unsigned char[]){0, 255, 0, 128}, 4, 0);
    CU_ASSERT_EQUAL_FATAL(rt_text_load(path, 0.5, &t, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.vocab, 3);
    CU_ASSERT(t.chars[0] == 0 && t.chars[1] == 128 && t.chars[2] == 255);
    CU_ASSERT(t.ids[0] == 0 && t.ids[1] == 2 && t.ids[2] == 0 && t.ids[3] == 1);
    CU_ASSERT_EQUAL(t.train_end, 2);
    rt_text_free(&t);

    /* train_end = floor(n·split) */
    join(path, sizeof path, rt_scratch_dir(), "ten.txt");
    write_text(path, "0123456789");
    CU_ASSERT_EQUAL_FATAL(rt_text_load(path, 0.55, &t, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.train_end, 5);
    rt_text_free(&t);
    CU_ASSERT_EQUAL_FATAL(rt_text_load(path, 0.8, &t, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.train_end, 8);
    rt_text_free(&t);
}

/* A vocabulary given (a checkpoint's): the ids are its, whatever bytes the
 * file holds now; a byte it lacks is refused where it stands. */
static void test_text_given_vocabulary(void)
{
    char path[512], err[512] = "", want[1024];
    RtText t, saved;
    join(path, sizeof path, rt_scratch_dir(), "trained.txt");
    write_text(path, "hello world\n");
    CU_ASSERT_EQUAL_FATAL(rt_text_load(path, 0.5, &saved, err, sizeof err), 0);
    RtCharVocab trained = {.n = saved.vocab};
    memcpy(trained.chars, saved.chars, sizeof trained.chars);
    char *table = rt_text_vocab_format(&trained);
    CU_ASSERT_STRING_EQUAL(table, "10 32 100 101 104 108 111 114 119");
    RtCharVocab given = {.from = "ck.safetensors"};
    CU_ASSERT_EQUAL_FATAL(rt_text_vocab_parse(table, &given, err, sizeof err), 0);
    free(table);
    CU_ASSERT(given.n == 9 && memcmp(given.chars, saved.chars, 9) == 0);
    rt_text_free(&saved);

    /* "world" alone has 4 of the 9 bytes: its own ids would be d=0 l=1 o=2 r=3 w=4 */
    join(path, sizeof path, rt_scratch_dir(), "fewer.txt");
    write_text(path, "world");
    CU_ASSERT_EQUAL_FATAL(rt_text_load_vocab(path, 0.5, &given, &t, err, sizeof err), 0);
    const int32_t ids[5] = {8, 6, 7, 5, 2};
    CU_ASSERT(memcmp(t.ids, ids, sizeof ids) == 0);
    CU_ASSERT(t.vocab == 9 && memcmp(t.chars, given.chars, 9) == 0);
    /* the vocabulary alone (--sample from a checkpoint): the same ids and bytes, no text */
    RtText alone;
    CU_ASSERT_EQUAL_FATAL(rt_text_of_vocab(&given, NULL, &alone, err, sizeof err), 0);
    CU_ASSERT(alone.vocab == t.vocab && memcmp(alone.chars, t.chars, sizeof t.chars) == 0);
    CU_ASSERT(alone.ids == NULL && alone.n == 0 && alone.train_end == 0 && alone.bpe == NULL);
    rt_text_free(&alone);
    rt_text_free(&t);

    join(path, sizeof path, rt_scratch_dir(), "more.txt");
    write_text(path, "hello\nworld!\n");
    CU_ASSERT_EQUAL(rt_text_load_vocab(path, 0.5, &given, &t, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2:6: byte 0x21 ('!') is not in the vocabulary saved in ck.safetensors (the 9 "
             "distinct bytes of the text the model was trained on): the model has no id for it", path);
    expect_err(err, want);
    CU_ASSERT(t.ids == NULL);
    /* a byte that does not print is given by its value alone (the first of é's two) */
    write_text(path, "hello\nw\xc3\xa9rld\n");
    CU_ASSERT_EQUAL(rt_text_load_vocab(path, 0.5, &given, &t, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2:2: byte 0xc3 is not in the vocabulary saved in ck.safetensors (the 9 "
             "distinct bytes of the text the model was trained on): the model has no id for it", path);
    expect_err(err, want);

    /* the table's text: byte values 0-255, each once, single spaces */
    const char *bad[][2] = {{"10 256", "'256' at byte 3 is not a byte value from 0 to 255"},
                            {"10 32 10", "byte 10 is listed twice"},
                            {"10,32", "',32' at byte 2: byte values are separated by single spaces"},
                            {"10  32", "' 32' at byte 3 is not a byte value from 0 to 255"},
                            {"", "'' at byte 0 is not a byte value from 0 to 255"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CU_ASSERT_EQUAL(rt_text_vocab_parse(bad[i][0], &given, err, sizeof err), -1);
        expect_err(err, bad[i][1]);
    }
}

/* 20 distinct letters: token id = position, so a window shows where it starts. */
static void test_text_windows(void)
{
    char path[512], err[512] = "";
    join(path, sizeof path, rt_scratch_dir(), "letters.txt");
    write_text(path, "ABCDEFGHIJKLMNOPQRST");
    RtText t;
    CU_ASSERT_EQUAL_FATAL(rt_text_load(path, 0.5, &t, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(t.train_end, 10);
    enum { T = 3, B = 64 };
    int32_t x[B * T], y[B * T], x2[B * T], y2[B * T];
    for (int validation = 0; validation < 2; validation++) {
        int64_t lo = validation ? 10 : 0, hi = validation ? 16 : 6;   /* the starts: [begin, end - T - 1] */
        int seen[20] = {0}, inside = 1, shifted = 1, formula = 1;
        for (uint64_t step = 0; step < 4; step++) {
            rt_text_batch(&t, T, B, 11, step, validation, x, y);
            for (int b = 0; b < B; b++) {
                int32_t s = x[b * T];
                inside &= s >= lo && s <= hi;
                if (s >= 0 && s < 20)
                    seen[s] = 1;
                for (int j = 0; j < T; j++)
                    shifted &= x[b * T + j] == s + j && y[b * T + j] == s + j + 1;
                double u = rt_uniform(11, validation ? 9 : 8, step, (uint64_t)b);
                int64_t want = lo + (int64_t)(u * (double)(hi - lo + 1));
                formula &= s == want;
            }
        }
        CU_ASSERT(inside);
        CU_ASSERT(shifted);
        CU_ASSERT(formula);
        for (int64_t s = lo; s <= hi; s++)
            CU_ASSERT(seen[s]);   /* every start is drawn */
    }
    /* the same (seed, step) gives the same batch; another step another */
    rt_text_batch(&t, T, B, 11, 5, 0, x, y);
    rt_text_batch(&t, T, B, 11, 5, 0, x2, y2);
    CU_ASSERT(memcmp(x, x2, sizeof x) == 0 && memcmp(y, y2, sizeof y) == 0);
    rt_text_batch(&t, T, B, 11, 6, 0, x2, y2);
    CU_ASSERT(memcmp(x, x2, sizeof x) != 0);
    /* T = 9 leaves one start in each part of 10 */
    rt_text_batch(&t, 9, 2, 11, 0, 1, x, y);
    CU_ASSERT(x[0] == 10 && x[8] == 18 && y[8] == 19 && x[9] == 10);
    /* a window longer than a part cannot be drawn: zeros */
    x[0] = y[0] = 7;
    rt_text_batch(&t, 10, 1, 11, 0, 0, x, y);
    CU_ASSERT(x[0] == 0 && y[0] == 0 && x[9] == 0 && y[9] == 0);
    rt_text_free(&t);
}

static void test_text_errors(void)
{
    char dir[512], path[600], err[512] = "", want[1024];
    make_dir(dir, sizeof dir, "text_errors");
    RtText t;

    join(path, sizeof path, dir, "missing.txt");
    CU_ASSERT_EQUAL(rt_text_load(path, 0.9, &t, err, sizeof err), -1);
    snprintf(want, sizeof want, "cannot open %s: No such file or directory", path);
    expect_err(err, want);

    join(path, sizeof path, dir, "empty.txt");
    write_text(path, "");
    CU_ASSERT_EQUAL(rt_text_load(path, 0.9, &t, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s is empty", path);
    expect_err(err, want);

    join(path, sizeof path, dir, "abc.txt");
    write_text(path, "abc");
    CU_ASSERT_EQUAL(rt_text_load(path, 0.5, &t, err, sizeof err), -1);
    snprintf(want, sizeof want,
             "%s: a split of 0.5 leaves 1 of its 3 bytes for training; each part needs at least 2", path);
    expect_err(err, want);

    join(path, sizeof path, dir, "ten.txt");
    write_text(path, "0123456789");
    CU_ASSERT_EQUAL(rt_text_load(path, 0.9, &t, err, sizeof err), -1);
    snprintf(want, sizeof want,
             "%s: a split of 0.9 leaves 1 of its 10 bytes for validation; each part needs at least 2", path);
    expect_err(err, want);
    CU_ASSERT(t.ids == NULL && t.n == 0);

    CU_ASSERT_EQUAL(rt_text_load(path, 1.5, &t, err, sizeof err), -1);
    expect_err(err, "split 1.5 is not between 0 and 1");
    CU_ASSERT_EQUAL(rt_text_load(path, 0, &t, err, sizeof err), -1);
    expect_err(err, "split 0 is not between 0 and 1");
    CU_ASSERT_EQUAL(rt_text_load(path, NAN, &t, err, sizeof err), -1);
    expect_err(err, "split nan is not between 0 and 1");
}

/* ---- the real data sets, when present ---------------------------------------------------- */

static const char *data_root(void)
{
    const char *env = getenv("NNC_DATA");
    return env && *env ? env : NNC_DATA_DEFAULT;
}

/* dir/sub when it is a directory, else a note that the checks are skipped */
static int find_data(char *buf, size_t n, const char *sub)
{
    struct stat st;
    snprintf(buf, n, "%s/%s", data_root(), sub);
    if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
        return 1;
    printf("\n  (no %s: skipped)", buf);
    return 0;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check_mnist(const char *dir, int test, int64_t count, int32_t first, const int64_t hist_want[10])
{
    RtDataset d;
    char err[512] = "";
    double t0 = seconds();
    int rc = rt_mnist_load(dir, test, RT_NORM_UNIT, &d, err, sizeof err);
    double t1 = seconds();
    if (rc != 0)
        fprintf(stderr, "\n  %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    printf("\n  %s set: %lld examples loaded in %.3f s", test ? "test" : "train", (long long)d.count, t1 - t0);
    CU_ASSERT_EQUAL(d.count, count);
    CU_ASSERT_EQUAL(d.x_elems, 784);
    CU_ASSERT_EQUAL(d.classes, 10);
    CU_ASSERT_EQUAL(d.labels[0], first);
    int64_t hist[10] = {0}, sum = 0;
    for (int64_t i = 0; i < d.count; i++)
        hist[d.labels[i]]++;
    for (int k = 0; k < 10; k++) {
        CU_ASSERT_EQUAL(hist[k], hist_want[k]);
        sum += hist[k];
    }
    CU_ASSERT_EQUAL(sum, count);
    double mean = 0, sq = 0;
    int64_t n = d.count * d.x_elems;
    for (int64_t i = 0; i < n; i++) {
        mean += d.x[i];
        sq += (double)d.x[i] * d.x[i];
    }
    mean /= (double)n;
    double sd = sqrt(sq / (double)n - mean * mean);
    if (!test) {   /* the constants of RT_NORM_STANDARD come from the train set */
        CU_ASSERT_DOUBLE_EQUAL(mean, 0.1307, 1e-3);
        CU_ASSERT_DOUBLE_EQUAL(sd, 0.3081, 1e-3);
    }
    rt_dataset_free(&d);
}

static void test_real_mnist(void)
{
    char dir[1024];
    if (!find_data(dir, sizeof dir, "mnist"))
        return;
    const int64_t train[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    const int64_t test[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    check_mnist(dir, 0, 60000, 5, train);
    check_mnist(dir, 1, 10000, 7, test);

    /* standardised, the train set has mean 0 and deviation 1 */
    RtDataset d;
    char err[512] = "";
    CU_ASSERT_EQUAL_FATAL(rt_mnist_load(dir, 0, RT_NORM_STANDARD, &d, err, sizeof err), 0);
    double mean = 0;
    for (int64_t i = 0; i < d.count * d.x_elems; i++)
        mean += d.x[i];
    CU_ASSERT_DOUBLE_EQUAL(mean / (double)(d.count * d.x_elems), 0, 1e-3);
    rt_dataset_free(&d);
}

static void test_real_shakespeare(void)
{
    char dir[1024], path[1100], err[512] = "";
    if (!find_data(dir, sizeof dir, "tinyshakespeare"))
        return;
    join(path, sizeof path, dir, "input.txt");
    RtText t;
    CU_ASSERT_EQUAL_FATAL(rt_text_load(path, 0.9, &t, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.n, 1115394);
    CU_ASSERT_EQUAL(t.vocab, 65);
    CU_ASSERT_EQUAL(t.train_end, 1003854);   /* floor(1115394 · 0.9) */
    CU_ASSERT(t.chars[0] == '\n' && t.chars[1] == ' ' && t.chars[64] == 'z');
    CU_ASSERT_EQUAL(t.chars[t.ids[0]], 'F');   /* "First Citizen:" */
    enum { T = 64, B = 16 };
    static int32_t x[B * T], y[B * T];
    rt_text_batch(&t, T, B, 1, 0, 1, x, y);
    int ok = 1;
    for (int b = 0; b < B; b++)
        for (int j = 0; j + 1 < T; j++)
            ok &= x[b * T + j + 1] == y[b * T + j];
    CU_ASSERT(ok);
    rt_text_free(&t);
}

static const RtTestCase tests[] = {
    {"mnist values after each normalisation", test_mnist_values},
    {"mnist test set reads t10k files", test_mnist_test_set},
    {"mnist gzipped, raw and mixed agree", test_mnist_gz_equals_raw},
    {"mnist error messages", test_mnist_errors},
    {"mnist damaged gzip and directories", test_mnist_bad_gzip},
    {"mnist bytes after the gzip stream", test_mnist_gzip_trailing},
    {"csv class labels", test_csv_classes},
    {"csv real targets and header", test_csv_regression},
    {"csv many rows", test_csv_many_rows},
    {"csv byte-order mark and decimal spellings", test_csv_bom},
    {"csv error messages", test_csv_errors},
    {"csv width before labels", test_csv_width},
    {"csv width without a name", test_csv_width_unnamed},
    {"shuffle is a deterministic permutation per epoch", test_shuffle},
    {"shuffle is uniform", test_shuffle_uniform},
    {"text vocabulary, ids and split", test_text_vocabulary},
    {"text with a vocabulary given", test_text_given_vocabulary},
    {"text windows", test_text_windows},
    {"text error messages", test_text_errors},
    {"real MNIST (NNC_DATA)", test_real_mnist},
    {"real tinyshakespeare (NNC_DATA)", test_real_shakespeare},
    {NULL, NULL},
};

void register_rt_data(void) { rt_add_suite("data", tests); }
