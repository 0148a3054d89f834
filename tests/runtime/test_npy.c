/* test_npy.c — the strict .npy header parser (npy.c) and the zip reader
 * (npz.c) on bytes built here: every refusal word for word, the values of
 * each element type, and archives cut or bent at every byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../runtime/npy.h"
#include "rt_harness.h"

/* A version-1.0 .npy of the header text (padded as numpy pads) and data. */
static size_t make_npy(uint8_t *buf, const char *dict, const void *data, size_t n)
{
    size_t len = strlen(dict), pad = (64 - (10 + len + 1) % 64) % 64;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)((len + pad + 1) & 0xFF), buf[9] = (uint8_t)((len + pad + 1) >> 8);
    memcpy(buf + 10, dict, len);
    memset(buf + 10 + len, ' ', pad);
    buf[10 + len + pad] = '\n';
    size_t at = 10 + len + pad + 1;
    memcpy(buf + at, data, n);
    return at + n;
}

static void expect_npy_error(const char *dict, size_t data_bytes, const char *want)
{
    uint8_t buf[512], data[64] = {0};
    size_t n = make_npy(buf, dict, data, data_bytes);
    RtNpy a;
    char err[256] = "";
    CU_ASSERT(rt_npy_parse(buf, n, 0, &a, err, sizeof err) == -1);
    if (strcmp(err, want) != 0)
        fprintf(stderr, "\n%s\n  got:  %s\n  want: %s\n", dict, err, want);
    CU_ASSERT_STRING_EQUAL(err, want);
}

static void test_header(void)
{
    float v[6] = {1.5f, -2, 3, 4, 5, 6};
    uint8_t buf[512];
    size_t n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", v, sizeof v);
    RtNpy a;
    char err[256];
    CU_ASSERT_FATAL(rt_npy_parse(buf, n, 0, &a, err, sizeof err) == 0);
    CU_ASSERT(a.rank == 2 && a.shape[0] == 3 && a.shape[1] == 2 && a.count == 6 && a.type == RT_NPY_F4);
    CU_ASSERT(rt_npy_get(&a, 0) == 1.5 && rt_npy_get(&a, 1) == -2 && rt_npy_get(&a, 5) == 6);
    /* keys in another order, no trailing comma, a 1-tuple, double quotes */
    int64_t w[2] = {-7, INT64_C(1) << 40};
    n = make_npy(buf, "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<i8\"}", w, sizeof w);
    CU_ASSERT_FATAL(rt_npy_parse(buf, n, 0, &a, err, sizeof err) == 0);
    CU_ASSERT(a.rank == 1 && rt_npy_get(&a, 0) == -7 && rt_npy_get(&a, 1) == 1099511627776.0);

    /* bool: any nonzero byte is True, as numpy reads it (np.uint8 viewed as bool) */
    uint8_t b[4] = {0, 1, 2, 255};
    n = make_npy(buf, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", b, sizeof b);
    CU_ASSERT_FATAL(rt_npy_parse(buf, n, 0, &a, err, sizeof err) == 0);
    CU_ASSERT(rt_npy_get(&a, 0) == 0 && rt_npy_get(&a, 1) == 1 && rt_npy_get(&a, 2) == 1 && rt_npy_get(&a, 3) == 1);

    expect_npy_error("{'descr': '<f4', 'fortran_order': False}", 0, "the .npy header lacks shape");
    expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", 4,
                     "the .npy header has the key 'extra'; numpy writes only descr, fortran_order and shape");
    expect_npy_error("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4,
                     "the .npy header gives 'descr' twice");
    expect_npy_error("{'descr': '>i4', 'fortran_order': False, 'shape': (1,)}", 4,
                     ".npy dtype '>i4' is not supported; use little-endian float32, float64, uint8, int32, int64 or bool");
    /* for labels or token ids only the integer types are suggested */
    n = make_npy(buf, "{'descr': '<i2', 'fortran_order': False, 'shape': (1,)}", v, 2);
    CU_ASSERT(rt_npy_parse(buf, n, 1, &a, err, sizeof err) == -1);
    CU_ASSERT_STRING_EQUAL(err, ".npy dtype '<i2' is not supported; labels and token ids may be little-endian uint8, "
                           "int32, int64 or bool");
    expect_npy_error("{'descr': [('a', '<f4', (4,)), ('b', '<i8')], 'fortran_order': False, 'shape': (1,)}", 24,
                     "a structured (record) .npy dtype is not supported; save each field as an array of its own");
    expect_npy_error("{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}", 4,
                     "a Fortran-order .npy array is not supported; save it in C order");
    expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}", 12,
                     "the data holds 12 bytes, but shape [2, 2] of float32 needs 16");
    expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", 0,
                     "the .npy shape [4294967296, 4294967296] has more elements than memory can hold");
    expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1)}", 0,
                     "the .npy header is not the dict numpy writes: shape is not a tuple of sizes at '-1)}'");
    expect_npy_error("{'descr': '<f4', 'fortran_order': nope, 'shape': (1,)}", 4,
                     "the .npy header is not the dict numpy writes: fortran_order is not True or False at "
                     "'nope, 'shape': (1,)}'");
    expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", 4,
                     "the .npy header is not the dict numpy writes: text after the dict at 'x'");
    /* version 4.0, and a header longer than the file */
    n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", v, 4);
    buf[6] = 4;
    CU_ASSERT(rt_npy_parse(buf, n, 0, &a, err, sizeof err) == -1);
    CU_ASSERT_STRING_EQUAL(err, ".npy format version 4.0 is not supported");
    buf[6] = 1;
    CU_ASSERT(rt_npy_parse(buf, 40, 0, &a, err, sizeof err) == -1);
    CU_ASSERT_STRING_EQUAL(err, "the .npy header is cut short: 118 bytes announced, 30 in the file");
}

/* A stored zip of one member x.npy holding npy[0, n). */
static size_t make_zip(uint8_t *z, const uint8_t *npy, size_t n)
{
    uint32_t crc = (uint32_t)crc32(0, npy, (uInt)n);
    size_t at = 0;
#define U16(v) (z[at++] = (uint8_t)((v) & 0xFF), z[at++] = (uint8_t)(((v) >> 8) & 0xFF))
#define U32(v) (U16((v) & 0xFFFF), U16(((uint32_t)(v)) >> 16))
    U32(0x04034b50); U16(20); U16(0); U16(0); U16(0); U16(0); U32(crc); U32(n); U32(n); U16(5); U16(0);
    memcpy(z + at, "x.npy", 5), at += 5;
    memcpy(z + at, npy, n), at += n;
    size_t cd = at;
    U32(0x02014b50); U16(20); U16(20); U16(0); U16(0); U16(0); U16(0); U32(crc); U32(n); U32(n); U16(5); U16(0);
    U16(0); U16(0); U16(0); U32(0); U32(0);
    memcpy(z + at, "x.npy", 5), at += 5;
    size_t cdlen = at - cd;
    U32(0x06054b50); U16(0); U16(0); U16(1); U16(1); U32(cdlen); U32(cd); U16(0);
#undef U16
#undef U32
    return at;
}

static void test_zip(void)
{
    float v[2] = {0.25f, 8};
    uint8_t npy[256], zip[512];
    size_t n = make_npy(npy, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", v, sizeof v);
    size_t zn = make_zip(zip, npy, n);
    RtNpz z;
    RtNpy a;
    uint8_t *mem;
    char err[256];
    CU_ASSERT_FATAL(rt_npz_open(zip, zn, &z, err, sizeof err) == 0);
    CU_ASSERT(z.n == 1 && rt_npz_find(&z, "x", err, sizeof err) == 0 && rt_npz_find(&z, "y", err, sizeof err) == -1);
    CU_ASSERT_FATAL(rt_npz_read(&z, 0, 0, &mem, &a, err, sizeof err) == 0);
    CU_ASSERT(mem == NULL && rt_npy_get(&a, 1) == 8);   /* stored: read in place */
    rt_npz_close(&z);
    /* every prefix is refused with a reason, never read past */
    for (size_t cut = 0; cut < zn; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, zip, cut);
        err[0] = 0;
        int ok = rt_npz_open(copy, cut, &z, err, sizeof err) == 0;
        CU_ASSERT(!ok && err[0]);
        if (ok)
            rt_npz_close(&z);
        free(copy);
    }
    /* every single byte flipped: accepted or refused with a reason, never a crash */
    for (size_t at = 0; at < zn; at++) {
        uint8_t copy[512];
        memcpy(copy, zip, zn);
        copy[at] ^= 0xA5;
        err[0] = 0;
        if (rt_npz_open(copy, zn, &z, err, sizeof err) != 0) {
            CU_ASSERT(err[0] != 0);
            continue;
        }
        for (int k = 0; k < z.n; k++) {
            err[0] = 0;
            if (rt_npz_read(&z, k, 0, &mem, &a, err, sizeof err) == 0)
                free(mem);
            else
                CU_ASSERT(err[0] != 0);
        }
        rt_npz_close(&z);
    }
    /* a data byte flipped: the CRC says so */
    zip[30 + 5 + n - 1] ^= 1;
    CU_ASSERT_FATAL(rt_npz_open(zip, zn, &z, err, sizeof err) == 0);
    CU_ASSERT(rt_npz_read(&z, 0, 0, &mem, &a, err, sizeof err) == -1);
    CU_ASSERT(strncmp(err, "member 'x': CRC-32 ", 19) == 0 && strstr(err, "; the file is damaged"));
    rt_npz_close(&z);
}

/* A zip of members names[i].npy holding npy[i][0, len[i]), each stored
 * (deflated 0) or deflated as np.savez_compressed does: raw deflate, the
 * compressed size in the headers. */
static size_t make_zip_of(uint8_t *z, int n, const char *const *names, const uint8_t *const *npy, const size_t *len,
                          int deflated)
{
    size_t at = 0, local[8], csize[8];
    uint32_t crc[8];
    uint8_t *packed[8];
#define U16(v) (z[at++] = (uint8_t)((v) & 0xFF), z[at++] = (uint8_t)(((v) >> 8) & 0xFF))
#define U32(v) (U16((v) & 0xFFFF), U16(((uint32_t)(v)) >> 16))
    for (int i = 0; i < n; i++) {
        crc[i] = (uint32_t)crc32(0, npy[i], (uInt)len[i]);
        packed[i] = malloc(len[i] + 64);
        if (deflated) {
            z_stream s = {0};
            deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
            s.next_in = (Bytef *)(uintptr_t)npy[i], s.avail_in = (uInt)len[i];
            s.next_out = packed[i], s.avail_out = (uInt)len[i] + 64;
            deflate(&s, Z_FINISH);
            csize[i] = s.total_out;
            deflateEnd(&s);
        } else {
            memcpy(packed[i], npy[i], len[i]);
            csize[i] = len[i];
        }
        size_t nl = strlen(names[i]) + 4;
        local[i] = at;
        U32(0x04034b50); U16(20); U16(0); U16(deflated ? 8 : 0); U16(0); U16(0); U32(crc[i]); U32(csize[i]);
        U32(len[i]); U16(nl); U16(0);
        memcpy(z + at, names[i], nl - 4), memcpy(z + at + nl - 4, ".npy", 4), at += nl;
        memcpy(z + at, packed[i], csize[i]), at += csize[i];
        free(packed[i]);
    }
    size_t cd = at;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]) + 4;
        U32(0x02014b50); U16(20); U16(20); U16(0); U16(deflated ? 8 : 0); U16(0); U16(0); U32(crc[i]); U32(csize[i]);
        U32(len[i]); U16(nl); U16(0); U16(0); U16(0); U16(0); U32(0); U32(local[i]);
        memcpy(z + at, names[i], nl - 4), memcpy(z + at + nl - 4, ".npy", 4), at += nl;
    }
    size_t cdlen = at - cd;
    U32(0x06054b50); U16(0); U16(0); U16(n); U16(n); U32(cdlen); U32(cd); U16(0);
#undef U16
#undef U32
    return at;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(p, 1, n, f) == n);
    fclose(f);
}

/* rt_npz_count (a library's count of the training examples) reads the
 * arrays' headers alone, stored or deflated: a data byte damaged past the
 * header, which rt_npz_load refuses by its CRC, changes no count.  What it
 * does check it refuses in rt_npz_load's words. */
static void test_count(void)
{
    RtTensorSpec in = {.name = "x", .rank = 2, .shape = {-1, 2}, .dtype = RT_F32};
    RtTensorSpec tg = {.name = "y", .rank = 2, .shape = {-1, 1}, .dtype = RT_I32, .classes = 4};
    RtModel m = {.name = "m", .inputs = &in, .ninputs = 1, .targets = &tg, .ntargets = 1};
    float xv[6] = {1, 2, 3, 4, 5, 6};
    int64_t yv[3] = {0, 3, 1}, y2[2] = {0, 1};
    uint8_t x[256], y[256], yshort[256], zip[2048];
    size_t xn = make_npy(x, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", xv, sizeof xv);
    size_t yn = make_npy(y, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", yv, sizeof yv);
    size_t sn = make_npy(yshort, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", y2, sizeof y2);
    char path[4096], err[1024], load_err[1024];
    snprintf(path, sizeof path, "%s/count.npz", rt_scratch_dir());
    const char *names[] = {"x", "y"};
    for (int deflate = 0; deflate < 2; deflate++) {
        const uint8_t *npys[] = {x, y};
        size_t lens[] = {xn, yn};
        size_t zn = make_zip_of(zip, 2, names, npys, lens, deflate);
        write_file(path, zip, zn);
        int64_t count = -1;
        CU_ASSERT(rt_npz_count(path, &m, &count, err, sizeof err) == 0);
        CU_ASSERT(count == 3);
        if (!deflate) {   /* x's last data byte: the CRC fails, the header is as it was */
            zip[30 + 5 + xn - 1] ^= 1;
            write_file(path, zip, zn);
            RtDataset d;
            CU_ASSERT(rt_npz_load(path, &m, &d, load_err, sizeof load_err) == -1);
            CU_ASSERT(strstr(load_err, "member 'x': CRC-32 ") != NULL);
            count = -1;
            CU_ASSERT(rt_npz_count(path, &m, &count, err, sizeof err) == 0);
            CU_ASSERT(count == 3);
        }
        /* arrays of 3 and 2 examples, and an archive without y */
        const uint8_t *bad[] = {x, yshort};
        size_t bad_lens[] = {xn, sn};
        for (int k = 0; k < 2; k++) {
            zn = make_zip_of(zip, 2 - k, names, bad, bad_lens, deflate);
            write_file(path, zip, zn);
            char expect[4200];
            if (k == 0)
                snprintf(expect, sizeof expect, "%s: array 'y' has 2 examples, but array 'x' has 3", path);
            else
                snprintf(expect, sizeof expect, "%s has no array 'y' for target 'y'; it has 'x'", path);
            RtDataset d;
            CU_ASSERT(rt_npz_count(path, &m, &count, err, sizeof err) == -1);
            CU_ASSERT(rt_npz_load(path, &m, &d, load_err, sizeof load_err) == -1);
            CU_ASSERT_STRING_EQUAL(err, expect);
            CU_ASSERT_STRING_EQUAL(load_err, expect);
        }
    }
}

/* RT_NPY_TYPE_LIST bytes hold either list whole: a type added to npy.c
 * whose name makes the list longer fails here, where a message would
 * otherwise lose its last types silently. */
static void test_type_list_fits(void)
{
    for (int integers = 0; integers < 2; integers++) {
        char whole[1024], fits[RT_NPY_TYPE_LIST];
        rt_npy_type_list(integers, whole, sizeof whole);
        rt_npy_type_list(integers, fits, sizeof fits);
        CU_ASSERT(strlen(whole) < sizeof fits);
        CU_ASSERT_STRING_EQUAL(fits, whole);
        size_t n = strlen(whole), tail = strlen(" or bool");   /* RT_NPY_B1, an integer type, is the last */
        CU_ASSERT(n >= tail && strcmp(whole + n - tail, " or bool") == 0);
    }
}

static const RtTestCase tests[] = {
    {"header", test_header},
    {"zip", test_zip},
    {"count", test_count},
    {"type_list_fits", test_type_list_fits},
    {NULL, NULL},
};

void register_rt_npy(void) { rt_add_suite("npy", tests); }
