/* test_checkpoint.c — safetensors files: what rt_safetensors_write writes
 * reads back bit for bit, the write is atomic, and every way a file can be
 * malformed gets its own message naming the file and the tensor. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt_harness.h"
#include "../../runtime/rt_internal.h"  /* rt_safetensors_read_header, rt_state_load: --load's check and load */

/* A path in the scratch directory. */
static const char *scratch(const char *name)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", rt_scratch_dir(), name);
    return p;
}

/* A file of raw bytes: the 8-byte length hlen, the header text, then data. */
static void write_raw(const char *path, uint64_t hlen, const char *header, const void *data, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(hlen >> (8 * i));
    CU_ASSERT(fwrite(len, 1, 8, f) == 8);
    CU_ASSERT(fwrite(header, 1, strlen(header), f) == strlen(header));
    if (bytes)
        CU_ASSERT(fwrite(data, 1, bytes, f) == bytes);
    CU_ASSERT(fclose(f) == 0);
}

/* A well-formed file whose header is the given text and whose data is bytes of zeros. */
static void write_header(const char *path, const char *header, size_t bytes)
{
    static const unsigned char zeros[256];
    CU_ASSERT_FATAL(bytes <= sizeof zeros);
    write_raw(path, strlen(header), header, zeros, bytes);
}

/* Reading path fails with exactly "<path>: <want>" (or want itself when it
 * starts with "cannot") and leaves out empty. */
static void expect_error(const char *path, const char *want)
{
    RtCheckpoint c = {(RtTensor *)1, 7, (void *)1, (char **)1, 3, (void **)1, 2, (char *)1};  /* garbage the reader must overwrite */
    char err[512] = "", full[768];
    if (strncmp(want, "cannot", 6) == 0)
        snprintf(full, sizeof full, "%s", want);
    else
        snprintf(full, sizeof full, "%s: %s", path, want);
    CU_ASSERT_EQUAL(rt_safetensors_read(path, &c, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, full);
    if (strcmp(err, full) != 0)
        fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, full);
    CU_ASSERT(c.t == NULL && c.n == 0 && c.mem == NULL);
    rt_checkpoint_free(&c);
}

static void expect_header_error(const char *header, size_t bytes, const char *want)
{
    const char *path = scratch("bad.safetensors");
    write_header(path, header, bytes);
    expect_error(path, want);
}

/* The only file in dir, or "" when dir holds none or several ("model.safetensors
 * and its temporary" must not pass for "model.safetensors"). */
static void only_file(const char *dir, char *out, size_t len)
{
    int n = 0;
    DIR *d = opendir(dir);
    CU_ASSERT_FATAL(d != NULL);
    out[0] = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && n++ == 0)
            snprintf(out, len, "%.*s", (int)len - 1, e->d_name);
    closedir(d);
    if (n != 1)
        out[0] = 0;
}

/* ---- round trips ------------------------------------------------------------------- */

static void test_roundtrip(void)
{
    float w[6] = {1.5f, -2.25f, 0.0f, -0.0f, 3.4028235e38f, 1e-45f};
    double b[3] = {0.1, -1e300, 4.9e-324};
    int32_t idx[4] = {0, -1, INT32_MAX, INT32_MIN};
    float scalar = 42.0f;
    int64_t sw[2] = {2, 3}, sb[1] = {3}, si[3] = {2, 1, 2}, se[2] = {4, 0};
    const RtTensor in[] = {
        {"hidden.weight", "F32", 2, sw, w, sizeof w},
        {"hidden.bias", "F64", 1, sb, b, sizeof b},
        {"index", "I32", 3, si, idx, sizeof idx},
        {"scale", "F32", 0, NULL, &scalar, sizeof scalar},
        {"empty", "F32", 2, se, NULL, 0},
        {"odd \"name\"\t\\", "F32", 1, sb, w, 3 * sizeof(float)},
    };
    const int n = (int)(sizeof in / sizeof in[0]);
    const char *path = scratch("roundtrip.safetensors");
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_write(path, in, n, err, sizeof err), 0);

    RtCheckpoint c = {0};
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_read(path, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(c.n, n);
    for (int i = 0; i < n; i++) {
        const RtTensor *t = &c.t[i];  /* in the header's order, which is the writer's */
        CU_ASSERT_STRING_EQUAL(t->name, in[i].name);
        CU_ASSERT_STRING_EQUAL(t->dtype, in[i].dtype);
        CU_ASSERT_EQUAL(t->rank, in[i].rank);
        for (int d = 0; d < t->rank && d < in[i].rank; d++)
            CU_ASSERT_EQUAL(t->shape[d], in[i].shape[d]);
        CU_ASSERT_EQUAL(t->bytes, in[i].bytes);
        CU_ASSERT(t->data != NULL);
        if (in[i].bytes)
            CU_ASSERT(memcmp(t->data, in[i].data, in[i].bytes) == 0);
        CU_ASSERT(rt_checkpoint_find(&c, in[i].name) == t);
    }
    CU_ASSERT(rt_checkpoint_find(&c, "hidden") == NULL);
    CU_ASSERT(rt_checkpoint_find(&c, "hidden.weight2") == NULL);
    CU_ASSERT(rt_checkpoint_find(&c, "") == NULL);
    rt_checkpoint_free(&c);
    CU_ASSERT(c.t == NULL && c.n == 0 && c.mem == NULL);
    rt_checkpoint_free(&c);  /* twice is harmless */
}

/* No tensors at all is a valid file ("{}" padded to 8 bytes). */
static void test_no_tensors(void)
{
    const char *path = scratch("none.safetensors");
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_write(path, NULL, 0, err, sizeof err), 0);
    RtCheckpoint c = {0};
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_read(path, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.n, 0);
    CU_ASSERT(rt_checkpoint_find(&c, "w") == NULL);
    rt_checkpoint_free(&c);

    RtCheckpoint zero = {0};
    rt_checkpoint_free(&zero);
    CU_ASSERT(rt_checkpoint_find(&zero, "w") == NULL);
}

/* An F32 of one element puts the F64 after it at offset 4 of the data: the
 * reader still returns it 8-byte aligned (and every tensor 64-byte aligned). */
static void test_alignment(void)
{
    float one = 1.0f;
    double two[2] = {2.0, -3.0};
    int64_t s1[1] = {1}, s2[1] = {2};
    const RtTensor in[] = {
        {"a", "F32", 1, s1, &one, sizeof one},
        {"b", "F64", 1, s2, two, sizeof two},
    };
    const char *path = scratch("align.safetensors");
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_write(path, in, 2, err, sizeof err), 0);
    RtCheckpoint c = {0};
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_read(path, &c, err, sizeof err), 0);
    const RtTensor *b = rt_checkpoint_find(&c, "b");
    CU_ASSERT_FATAL(b != NULL);
    CU_ASSERT_EQUAL((uintptr_t)b->data % 64, 0);
    CU_ASSERT_EQUAL((uintptr_t)c.t[0].data % 64, 0);
    CU_ASSERT_EQUAL(((const double *)b->data)[0], 2.0);
    CU_ASSERT_EQUAL(((const double *)b->data)[1], -3.0);
    rt_checkpoint_free(&c);
}

/* Files from elsewhere: "__metadata__" ignored, spare header keys ignored, other
 * safetensors dtypes read as bytes, offsets in any order, gaps in the data. */
static void test_foreign_file(void)
{
    const char *path = scratch("foreign.safetensors");
    const char *header = "{\"__metadata__\":{\"format\":\"pt\"},"
                         "\"z\":{\"data_offsets\":[16,24],\"dtype\":\"I64\",\"shape\":[1],\"extra\":null},"
                         "\"y\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}";
    unsigned char data[24];
    for (int i = 0; i < 24; i++)
        data[i] = (unsigned char)(i + 1);
    write_raw(path, strlen(header), header, data, sizeof data);
    RtCheckpoint c = {0};
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_read(path, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(c.n, 2);
    CU_ASSERT_STRING_EQUAL(c.t[0].name, "z");
    CU_ASSERT_STRING_EQUAL(c.t[0].dtype, "I64");
    CU_ASSERT_EQUAL(c.t[0].bytes, 8);
    CU_ASSERT(memcmp(c.t[0].data, data + 16, 8) == 0);
    CU_ASSERT_STRING_EQUAL(c.t[1].name, "y");
    CU_ASSERT_STRING_EQUAL(c.t[1].dtype, "BF16");
    CU_ASSERT_EQUAL(c.t[1].rank, 2);
    CU_ASSERT(memcmp(c.t[1].data, data, 8) == 0);
    CU_ASSERT(rt_checkpoint_find(&c, "__metadata__") == NULL);
    rt_checkpoint_free(&c);
}

/* ---- the atomic write ---------------------------------------------------------------- */

static void test_write_leaves_no_temporary(void)
{
    char dir[512], listing[1024], err[256] = "";
    snprintf(dir, sizeof dir, "%s", scratch("atomic"));
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float v[2] = {1, 2};
    int64_t s[1] = {2};
    RtTensor t = {"w", "F32", 1, s, v, sizeof v};
    CU_ASSERT_EQUAL(rt_safetensors_write(path, &t, 1, err, sizeof err), 0);
    v[0] = 5;
    CU_ASSERT_EQUAL(rt_safetensors_write(path, &t, 1, err, sizeof err), 0);  /* over an existing file */
    only_file(dir, listing, sizeof listing);
    CU_ASSERT_STRING_EQUAL(listing, "model.safetensors");
    RtCheckpoint c = {0};
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_read(path, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(((const float *)c.t[0].data)[0], 5.0f);
    rt_checkpoint_free(&c);
}

static void read_file(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    *len = fread(buf, 1, cap, f);
    fclose(f);
}

/* Writing into a directory the process may not write to fails with a reason
 * and leaves the file already there as it was.  Root ignores permissions, so
 * then the write runs in a child that has dropped to nobody (65534). */
static void test_write_unwritable_dir(void)
{
    char dir[512], path[600], listing[1024], err[256] = "";
    snprintf(dir, sizeof dir, "%s", scratch("readonly"));
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    float v[2] = {1, 2};
    int64_t s[1] = {2};
    RtTensor t = {"w", "F32", 1, s, v, sizeof v};
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_write(path, &t, 1, err, sizeof err), 0);
    char before[256], after[256];
    size_t nbefore, nafter;
    read_file(path, before, sizeof before, &nbefore);

    CU_ASSERT_FATAL(chmod(dir, 0555) == 0);
    CU_ASSERT_FATAL(chmod(rt_scratch_dir(), 0711) == 0);  /* so nobody can reach dir */
    int fds[2];
    CU_ASSERT_FATAL(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        /* The child: no CUnit, no atexit handlers (they would remove the scratch directory). */
        close(fds[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        v[0] = 9;
        char msg[256] = "";
        int rc = rt_safetensors_write(path, &t, 1, msg, sizeof msg);
        ssize_t w = write(fds[1], msg, strlen(msg));
        _exit(rc == -1 && w == (ssize_t)strlen(msg) ? 0 : 4);
    }
    close(fds[1]);
    char msg[256] = "";
    ssize_t got = read(fds[0], msg, sizeof msg - 1);
    close(fds[0]);
    msg[got > 0 ? got : 0] = 0;
    int status = 0;
    CU_ASSERT(waitpid(pid, &status, 0) == pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    chmod(dir, 0755);
    chmod(rt_scratch_dir(), 0700);

    /* the user's path, not the temporary file's */
    char want[700];
    snprintf(want, sizeof want, "cannot write '%s': Permission denied", path);
    CU_ASSERT_STRING_EQUAL(msg, want);

    read_file(path, after, sizeof after, &nafter);
    CU_ASSERT_EQUAL(nafter, nbefore);
    CU_ASSERT(memcmp(before, after, nbefore) == 0);
    only_file(dir, listing, sizeof listing);
    CU_ASSERT_STRING_EQUAL(listing, "model.safetensors");
}

/* ---- one malformed file per rule ------------------------------------------------------ */

static void test_cannot_open(void)
{
    const char *path = scratch("missing.safetensors");
    char want[600];
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory", path);
    expect_error(path, want);
}

static void test_too_short(void)
{
    const char *path = scratch("short.safetensors");
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    fwrite("\x10\0\0\0\0", 1, 5, f);
    fclose(f);
    expect_error(path, "file of 5 bytes is shorter than the 8-byte header length");
}

static void test_header_past_end(void)
{
    const char *path = scratch("long.safetensors");
    char header[593];
    memset(header, ' ', sizeof header - 1);
    header[0] = '{';
    header[1] = '}';
    header[sizeof header - 1] = 0;
    write_raw(path, 1234, header, NULL, 0);  /* 8 + 592 = 600 bytes */
    expect_error(path, "not a safetensors file (its first 8 bytes, read as a header length, say 1234 bytes: past "
                       "the end of the 600-byte file)");
    write_raw(path, UINT64_MAX, header, NULL, 0);
    expect_error(path, "not a safetensors file (its first 8 bytes, read as a header length, say "
                       "18446744073709551615 bytes: past the end of the 600-byte file)");
}

static void test_header_not_json(void)
{
    expect_header_error("{\"w\": ", 0, "header is not valid JSON: expected a value, found end of text (line 1, column 7, byte 6)");
    expect_header_error("", 0, "header is not valid JSON: expected a value, found end of text (line 1, column 1, byte 0)");
    expect_header_error("{\"w\":{},\"w\":{}}", 0,
                        "header is not valid JSON: duplicate key \"w\" (line 1, column 9, byte 8)");
}

static void test_header_not_object(void)
{
    expect_header_error("[1,2]   ", 0, "header is not a JSON object");
}

static void test_entry_not_object(void)
{
    expect_header_error("{\"w\":[0,4]}", 4, "tensor 'w' is not a JSON object");
}

static void test_entry_missing_field(void)
{
    expect_header_error("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'w' has no dtype");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'w' has no shape");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'w' has no data_offsets");
}

static void test_entry_wrong_types(void)
{
    expect_header_error("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                        "tensor 'w': dtype is not a string");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4,
                        "tensor 'w': shape is not an array");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\"0-4\"}}", 4,
                        "tensor 'w': data_offsets is not an array of two integers");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
                        "tensor 'w': data_offsets is not an array of two integers");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4,
                        "tensor 'w': data_offsets is not an array of two integers");
}

/* __metadata__ is an object of strings (the format's rule): a step written
 * as the number 5 resumed from step 0 when other values were skipped. */
static void test_metadata_not_strings(void)
{
    static const char w[] = "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
    char h[256];
    snprintf(h, sizeof h, "{\"__metadata__\":{\"format\":\"pt\",\"nnc.step\":5},%s}", w);
    expect_header_error(h, 4, "__metadata__ nnc.step is a number, not a string; the safetensors format's metadata "
                              "values are strings");
    snprintf(h, sizeof h, "{\"__metadata__\":{\"nnc.step\":{\"n\":\"5\"}},%s}", w);
    expect_header_error(h, 4, "__metadata__ nnc.step is an object, not a string; the safetensors format's metadata "
                              "values are strings");
    snprintf(h, sizeof h, "{\"__metadata__\":[\"nnc.step\",\"5\"],%s}", w);
    expect_header_error(h, 4, "__metadata__ is an array; the safetensors format makes it an object of strings");
    snprintf(h, sizeof h, "{\"__metadata__\":null,%s}", w);
    expect_header_error(h, 4, "__metadata__ is null; the safetensors format makes it an object of strings");
}

static void test_unknown_dtype(void)
{
    expect_header_error("{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                        "tensor 'w': unknown dtype 'F33'");
    expect_header_error("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                        "tensor 'w': unknown dtype 'f32'");
}

static void test_bad_shape_entry(void)
{
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,0]}}", 0,
                        "tensor 'w': shape entry 1 is negative (-3)");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,10]}}", 10,
                        "tensor 'w': shape entry 0 is not an integer");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
                        "tensor 'w': shape entry 0 is not an integer");
    expect_header_error("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
                        "tensor 'w': shape [4294967296,4294967296] of F64 is too large");
}

static void test_offsets_out_of_order(void)
{
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
                        "tensor 'w': data_offsets [8,4] are out of order");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8,
                        "tensor 'w': data_offsets [-4,0] are negative");
}

static void test_offsets_past_data(void)
{
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[0,64]}}", 32,
                        "tensor 'w': data_offsets [0,64] run past the end of the 32 bytes of data");
}

static void test_offsets_overlap(void)
{
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                        24, "tensor 'b': data_offsets [8,24] overlap tensor 'w' at [0,16]");
    /* one tensor inside another, listed first */
    expect_header_error("{\"in\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]},"
                        "\"out\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}",
                        32, "tensor 'in': data_offsets [16,20] overlap tensor 'out' at [0,32]");
    /* touching is not overlapping, and empty tensors take no room */
    const char *path = scratch("touch.safetensors");
    write_header(path,
                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                 16);
    RtCheckpoint c = {0};
    char err[256] = "";
    CU_ASSERT_EQUAL(rt_safetensors_read(path, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.n, 3);
    rt_checkpoint_free(&c);
}

static void test_bytes_mismatch(void)
{
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,24]}}", 24,
                        "tensor 'w': 24 bytes of data for shape [2,4] of F32 (32 bytes)");
    expect_header_error("{\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,4]}}", 8,
                        "tensor 's': 4 bytes of data for shape [] of F64 (8 bytes)");
}

/* The file ends inside the data the header promised. */
static void test_truncated_data(void)
{
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                        "tensor 'w': data_offsets [0,16] run past the end of the 8 bytes of data");
}

/* A header refused after some of its tensors were accepted: load() counts
 * them (n > 0), so the offsets into the one allocation it never made are
 * not zero.  safetensors.c once added such offsets to that allocation's
 * NULL, which is undefined; clang's UBSan reports it (gcc's does not), so
 * this case stops ubsan.runtime (tests/runtime/clang_ubsan.sh, the runtime
 * built by clang with -fsanitize=undefined) if it comes back: "runtime
 * error: applying non-zero offset ... to null pointer".  Here: each is
 * refused by message, from a file and from memory. */
static void test_refused_no_null_offset(void)
{
    static const struct { const char *header; size_t bytes; const char *want; } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, "tensor 'b': unknown dtype 'F33'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
         "\"c\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,40]}}",
         40, "tensor 'c': 24 bytes of data for shape [2] of F32 (8 bytes)"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "tensor 'b': data_offsets [4,12] overlap tensor 'a' at [0,8]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expect_header_error(cases[i].header, cases[i].bytes, cases[i].want);
        /* the same bytes through the reader of memory (the embedding library's load) */
        size_t hl = strlen(cases[i].header), size = 8 + hl + cases[i].bytes;
        unsigned char *file = calloc(1, size);
        CU_ASSERT_FATAL(file != NULL);
        for (int k = 0; k < 8; k++)
            file[k] = (unsigned char)((uint64_t)hl >> (8 * k));
        memcpy(file + 8, cases[i].header, hl);
        RtCheckpoint c = {0};
        char err[256] = "";
        CU_ASSERT_EQUAL(rt_safetensors_read_memory(file, size, "mem", &c, err, sizeof err), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].want));
        CU_ASSERT_PTR_NULL(c.mem);
        free(file);
    }
}

/* rt_checkpoint_as: F16 (normal, subnormal, zero, inf, nan), BF16 and F64
 * tensors to F32, exactly where the value is an f32 and rounded to nearest
 * where not; the note names each; an integer tensor is refused by name. */
static void test_convert(void)
{
    /* F16 bits: 1, -2, 65504 (largest), 2^-24 (smallest subnormal), 2^-14 - 2^-24
     * (largest subnormal), -0, inf, nan */
    uint16_t h[8] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x8000, 0x7C00, 0x7E00};
    /* BF16 bits: 1, -3.140625, 2^-133 (subnormal), -inf */
    uint16_t bf[4] = {0x3F80, 0xC049, 0x0001, 0xFF80};
    double d[3] = {0.1, -1e300, 1e-50};
    int8_t q[2] = {1, -1};
    int64_t s8[1] = {8}, s4[1] = {4}, s3[1] = {3}, s2[1] = {2};
    const RtTensor in[] = {
        {"h", "F16", 1, s8, h, sizeof h}, {"bf", "BF16", 1, s4, bf, sizeof bf},
        {"d", "F64", 1, s3, d, sizeof d}, {"q", "I8", 1, s2, q, sizeof q},
    };
    const char *path = scratch("convert.safetensors");
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_write(path, in, 4, err, sizeof err), 0);
    RtCheckpoint c = {0};
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_read(path, &c, err, sizeof err), 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(rt_checkpoint_as(&c, &c.t[i], "F32", "ck", err, sizeof err), 0);
    const float *f = c.t[0].data;
    CU_ASSERT_STRING_EQUAL(c.t[0].dtype, "F32");
    CU_ASSERT_EQUAL(c.t[0].bytes, 8 * sizeof(float));
    CU_ASSERT(f[0] == 1.0f && f[1] == -2.0f && f[2] == 65504.0f);
    CU_ASSERT(f[3] == 0x1p-24f && f[4] == 0x1p-14f - 0x1p-24f);
    CU_ASSERT(f[5] == 0.0f && signbit(f[5]) && isinf(f[6]) && f[6] > 0 && isnan(f[7]));
    f = c.t[1].data;
    CU_ASSERT(f[0] == 1.0f && f[1] == -3.140625f && f[2] == 0x1p-133f && isinf(f[3]) && f[3] < 0);
    f = c.t[2].data;
    CU_ASSERT(f[0] == 0.1f && isinf(f[1]) && f[1] < 0 && f[2] == 0.0f);
    CU_ASSERT_STRING_EQUAL(c.converted, "h (F16), bf (BF16), d (F64)");
    /* already F32: nothing to do, nothing noted */
    CU_ASSERT_EQUAL(rt_checkpoint_as(&c, &c.t[0], "F32", "ck", err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.converted, "h (F16), bf (BF16), d (F64)");
    CU_ASSERT_EQUAL(rt_checkpoint_as(&c, &c.t[3], "F32", "ck", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "ck: tensor 'q' is I8; --load converts only F16, BF16 and F64 tensors to the model's F32");
    /* and F32 to an f64 model */
    CU_ASSERT_EQUAL(rt_checkpoint_as(&c, &c.t[0], "F64", "ck", err, sizeof err), 0);
    CU_ASSERT(strcmp(c.t[0].dtype, "F64") == 0 && ((const double *)c.t[0].data)[2] == 65504.0);
    rt_checkpoint_free(&c);
    CU_ASSERT(c.owned == NULL && c.converted == NULL);
}

/* rt_safetensors_read_header: names, dtypes, shapes and bytes, no data, and
 * the header's checks all the same.  rt_state_check on that header (nnc --jit
 * asks it before compiling) says what rt_state_load says of the whole file,
 * word for word, and takes an F16 tensor as --load would. */
static void test_header_only(void)
{
    uint16_t h[6] = {0x3C00, 0xC000, 0, 0, 0, 0};
    float b[3] = {1, 2, 3};
    int8_t q[3] = {1, 2, 3};
    int64_t s23[2] = {2, 3}, s3[1] = {3};
    const RtTensor in[] = {{"w", "F16", 2, s23, h, sizeof h}, {"b", "F32", 1, s3, b, sizeof b}, {"q", "I8", 1, s3, q, sizeof q}};
    const char *path = scratch("header.safetensors");
    char err[512] = "", full[512] = "";
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_write(path, in, 3, err, sizeof err), 0);
    RtCheckpoint c = {0};
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_read_header(path, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(c.n, 3);
    CU_ASSERT(strcmp(c.t[0].name, "w") == 0 && strcmp(c.t[0].dtype, "F16") == 0 && c.t[0].rank == 2);
    CU_ASSERT(c.t[0].shape[0] == 2 && c.t[0].shape[1] == 3 && c.t[0].bytes == sizeof h && c.t[0].data == NULL);
    CU_ASSERT(c.t[1].data == NULL && c.t[1].bytes == sizeof b && c.t[2].data == NULL);
    rt_checkpoint_free(&c);

    RtTensorSpec params[2] = {
        {.name = "w", .slab = RT_SLAB_PARAM, .offset = {0, 0}, .rank = 2, .shape = {2, 3}, .dtype = RT_F32},
        {.name = "b", .slab = RT_SLAB_PARAM, .offset = {24, 0}, .rank = 1, .shape = {3}, .dtype = RT_F32},
    };
    RtModel m = {.name = "m", .params = params, .nparams = 2};
    uint8_t *slab[5] = {0};
    slab[RT_SLAB_PARAM] = calloc(64, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(slab[RT_SLAB_PARAM]);
    int resumed = -1;
    const char *wb = scratch("wb.safetensors");   /* without q, which the model has no place for */
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_write(wb, in, 2, err, sizeof err), 0);
    CU_ASSERT_EQUAL(rt_state_check(&m, wb, err, sizeof err), 0);
    CU_ASSERT_EQUAL(rt_state_load(&m, slab, wb, &resumed, err, sizeof err), 0);
    CU_ASSERT(((float *)slab[RT_SLAB_PARAM])[1] == -2.0f && ((float *)slab[RT_SLAB_PARAM])[8] == 3.0f);
    /* refusals: a shape, a missing tensor, a dtype that does not convert */
    static const struct { const char *name; int rank; int64_t d0; const char *want; } bad[] = {
        {"w", 2, 3, "tensor 'w' is F16[2,3], but the model has F32[3,3]"},
        {"v", 1, 3, "no tensor 'v'; is it a checkpoint of model 'm'?"},
        {"q", 1, 3, "tensor 'q' is I8; --load converts only F16, BF16 and F64 tensors to the model's F32"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        params[0] = (RtTensorSpec){.name = bad[i].name, .slab = RT_SLAB_PARAM, .rank = bad[i].rank,
                                   .shape = {bad[i].d0, 3}, .dtype = RT_F32};
        snprintf(full, sizeof full, "%s: %s", path, bad[i].want);
        CU_ASSERT_EQUAL(rt_state_check(&m, path, err, sizeof err), -1);
        CU_ASSERT_STRING_EQUAL(err, full);
        CU_ASSERT_EQUAL(rt_state_load(&m, slab, path, &resumed, err, sizeof err), -1);
        CU_ASSERT_STRING_EQUAL(err, full);
    }
    free(slab[RT_SLAB_PARAM]);
    /* a header whose data the file does not hold is refused as by the whole read */
    const char *cut = scratch("cut.safetensors");
    write_header(cut, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
    CU_ASSERT_EQUAL(rt_safetensors_read_header(cut, &c, err, sizeof err), -1);
    snprintf(full, sizeof full, "%s: tensor 'w': data_offsets [0,16] run past the end of the 8 bytes of data", cut);
    CU_ASSERT_STRING_EQUAL(err, full);
    CU_ASSERT_PTR_NULL(c.mem);
}

/* A model of one parameter w [3] and Adam's two state tensors for it,
 * loading a file of the tensors named (each [3] F32): rt_state_check and
 * rt_state_load both return want_rc, with the message "<path>: <want>"
 * when refused, and *resumed (RT_LOAD_* flags) want_resumed when not. */
static void load_names(const char *names, int want_rc, int want_resumed, const char *want)
{
    static const float v[3] = {1, 2, 3};
    static const int64_t s3[1] = {3};
    char list[256], *save = NULL, err[512] = "", full[600];
    RtTensor t[8];
    int n = 0;
    snprintf(list, sizeof list, "%s", names);
    for (char *name = strtok_r(list, " ", &save); name && n < 8; name = strtok_r(NULL, " ", &save))
        t[n++] = (RtTensor){name, "F32", 1, s3, v, sizeof v};
    const char *path = scratch("state.safetensors");
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_write(path, t, n, err, sizeof err), 0);
    RtTensorSpec params[1] = {{.name = "w", .slab = RT_SLAB_PARAM, .rank = 1, .shape = {3}, .dtype = RT_F32}};
    RtTensorSpec state[2] = {
        {.name = "optimizer.w.exp_avg", .slab = RT_SLAB_STATE, .offset = {0, 0}, .rank = 1, .shape = {3}, .dtype = RT_F32},
        {.name = "optimizer.w.exp_avg_sq", .slab = RT_SLAB_STATE, .offset = {16, 0}, .rank = 1, .shape = {3}, .dtype = RT_F32},
    };
    RtModel m = {.name = "m", .params = params, .nparams = 1, .state = state, .nstate = 2};
    uint8_t *slab[5] = {0};
    slab[RT_SLAB_PARAM] = calloc(64, 1);
    slab[RT_SLAB_STATE] = calloc(64, 1);
    CU_ASSERT_FATAL(slab[RT_SLAB_PARAM] && slab[RT_SLAB_STATE]);
    snprintf(full, sizeof full, "%s: %s", path, want ? want : "");
    int resumed = -1;
    CU_ASSERT_EQUAL(rt_state_check(&m, path, err, sizeof err), want_rc);
    if (want_rc)
        CU_ASSERT_STRING_EQUAL(err, full);
    CU_ASSERT_EQUAL(rt_state_load(&m, slab, path, &resumed, err, sizeof err), want_rc);
    if (want_rc)
        CU_ASSERT_STRING_EQUAL(err, full);
    if (want_rc && strcmp(err, full) != 0)
        fprintf(stderr, "\n  %s\n  got:  %s\n  want: %s\n", names, err, full);
    if (!want_rc)
        CU_ASSERT_EQUAL(resumed, want_resumed);
    free(slab[RT_SLAB_PARAM]);
    free(slab[RT_SLAB_STATE]);
}

/* Tensors the model has no place for are refused, naming the first and the
 * count (a 4-block GPT's checkpoint loaded into a 2-block model, then
 * replaced by a smaller one at its save); another optimizer's state of the
 * model's parameters passes, not taken (an Adam checkpoint fine-tuned by
 * SGD), and the caller hears of it; optimizer state of a parameter the
 * model does not have is refused like any tensor. */
static void test_extra_tensors(void)
{
    load_names("w optimizer.w.exp_avg optimizer.w.exp_avg_sq", 0, RT_LOAD_RESUMED, NULL);
    load_names("w blocks.1.w optimizer.w.exp_avg blocks.2.w optimizer.w.exp_avg_sq", -1, 0,
               "2 tensors that model 'm' does not have, the first 'blocks.1.w'; is it a checkpoint of model 'm'?");
    load_names("w optimizer.w.momentum_buffer", 0, RT_LOAD_OTHER_STATE, NULL);
    load_names("w optimizer.v.momentum_buffer", -1, 0,
               "1 tensor that model 'm' does not have, the first 'optimizer.v.momentum_buffer'; is it a checkpoint of "
               "model 'm'?");
}

/* The optimizer's state all there or none of it: a part (one of Adam's
 * tensors deleted) is refused, naming the first missing, since the rest
 * would start at zero and the resumed run differ silently; none (a
 * parameters-only file, from PyTorch) loads, and says so in *resumed. */
static void test_partial_state(void)
{
    load_names("w optimizer.w.exp_avg_sq", -1, 0,
               "no tensor 'optimizer.w.exp_avg': the file has 1 of the optimizer's 2 state tensors; resuming needs all of "
               "them (or none, to start the optimizer from zero)");
    load_names("w optimizer.w.exp_avg", -1, 0,
               "no tensor 'optimizer.w.exp_avg_sq': the file has 1 of the optimizer's 2 state tensors; resuming needs all "
               "of them (or none, to start the optimizer from zero)");
    load_names("w", 0, RT_LOAD_NO_STATE, NULL);
}

/* The run's step counters are state specs with .counter set, as nnc's
 * generated code makes them: a checkpoint keeps the step in __metadata__
 * (nnc.step), not as a tensor, and total_steps not at all; a resume reads
 * the step back from there and leaves total_steps to the run. */
static void test_step_counter(void)
{
    RtTensorSpec params[1] = {{.name = "w", .slab = RT_SLAB_PARAM, .rank = 1, .shape = {3}, .dtype = RT_F32}};
    RtTensorSpec state[2] = {
        {.name = "step", .slab = RT_SLAB_STATE, .offset = {0, 0}, .dtype = RT_F32, .counter = RT_COUNTER_STEP},
        {.name = "total_steps", .slab = RT_SLAB_STATE, .offset = {4, 0}, .dtype = RT_F32,
         .counter = RT_COUNTER_TOTAL_STEPS},
    };
    RtModel m = {.name = "m", .params = params, .nparams = 1, .state = state, .nstate = 2};
    uint8_t *slab[5] = {0};
    slab[RT_SLAB_PARAM] = calloc(64, 1);
    slab[RT_SLAB_STATE] = calloc(64, 1);
    CU_ASSERT_FATAL(slab[RT_SLAB_PARAM] && slab[RT_SLAB_STATE]);
    float *w = (float *)slab[RT_SLAB_PARAM], *counters = (float *)slab[RT_SLAB_STATE];
    w[0] = 1, w[1] = -2, w[2] = 0.5f;
    counters[0] = 7, counters[1] = 100;   /* step, total_steps */
    const char *path = scratch("step.safetensors");
    char err[512] = "";
    CU_ASSERT_EQUAL_FATAL(rt_state_save(&m, slab, path, err, sizeof err), 0);

    RtCheckpoint c = {0};
    CU_ASSERT_EQUAL_FATAL(rt_safetensors_read(path, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.n, 1);   /* w alone: neither counter is a tensor */
    CU_ASSERT_PTR_NOT_NULL(rt_checkpoint_find(&c, "w"));
    CU_ASSERT_PTR_NULL(rt_checkpoint_find(&c, "step"));
    CU_ASSERT_PTR_NULL(rt_checkpoint_find(&c, "total_steps"));
    const char *meta = rt_checkpoint_meta(&c, RT_META_STEP);
    CU_ASSERT_STRING_EQUAL(meta ? meta : "(none)", "7");
    rt_checkpoint_free(&c);

    memset(slab[RT_SLAB_PARAM], 0, 64);
    counters[0] = 0, counters[1] = 55;   /* a new run of another length */
    int resumed = -1;
    CU_ASSERT_EQUAL(rt_state_check(&m, path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(rt_state_load(&m, slab, path, &resumed, err, sizeof err), 0);
    CU_ASSERT(w[0] == 1 && w[1] == -2 && w[2] == 0.5f);
    CU_ASSERT_EQUAL(counters[0], 7);    /* the step, from the metadata */
    CU_ASSERT_EQUAL(counters[1], 55);   /* the run's, untouched */
    CU_ASSERT_EQUAL(resumed, RT_LOAD_RESUMED);
    free(slab[RT_SLAB_PARAM]);
    free(slab[RT_SLAB_STATE]);
}

/* rt_split_path, which --save's, --metrics' and --chart's checks (same_path,
 * rt_writable_folder) share: a name without a folder is in ".", the root
 * keeps its slash. */
static void test_split_path(void)
{
    static const struct { const char *path, *folder, *name; } cases[] = {
        {"x", ".", "x"}, {"/x", "/", "x"}, {"a/x", "a", "x"}, {"a/b/x", "a/b", "x"}, {"/", "/", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char folder[64];
        const char *name = rt_split_path(cases[i].path, folder, sizeof folder);
        CU_ASSERT_STRING_EQUAL(folder, cases[i].folder);
        CU_ASSERT_STRING_EQUAL(name, cases[i].name);
        CU_ASSERT_PTR_EQUAL(name, cases[i].path + strlen(cases[i].path) - strlen(cases[i].name));  /* into path */
    }
}

/* rt_link_target and rt_replace_begin, which checkpoints, charts, --predict
 * -o and the compiler's outputs are written through: a relative link is
 * read from the link's folder (no folder for a name in the current one),
 * an absolute link as it is, a chain to its end, a loop left where 40
 * links took it; the temporary is made in the target's folder.  Run in a
 * scratch folder made the current one, for the names without a folder
 * (the shell tests' paths all have one). */
static void test_link_target(void)
{
    char dir[512], cwd[4096], t[600], here[600];
    snprintf(dir, sizeof dir, "%s", scratch("links"));
    snprintf(t, sizeof t, "%s/t", dir);
    snprintf(here, sizeof here, "%s/here", dir);
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    CU_ASSERT_FATAL(getcwd(cwd, sizeof cwd) != NULL);
    CU_ASSERT_FATAL(chdir(dir) == 0);
    CU_ASSERT_FATAL(mkdir("sub", 0755) == 0);
    CU_ASSERT_FATAL(symlink("t", "here") == 0 && symlink("../t", "sub/up") == 0 && symlink(t, "sub/abs") == 0
                    && symlink("up", "sub/chain") == 0 && symlink("la", "lb") == 0 && symlink("lb", "la") == 0);
    const struct { const char *path, *target; } cases[] = {
        {"here", "t"}, {"./here", "./t"}, {"sub/up", "sub/../t"}, {"sub/chain", "sub/../t"}, {"sub/abs", t},
        {here, t}, {"t", "t"}, {"sub/none", "sub/none"}, {"la", "la"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = rt_link_target(cases[i].path);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        if (strcmp(got, cases[i].target) != 0)
            fprintf(stderr, "rt_link_target(\"%s\"): \"%s\", not \"%s\"\n", cases[i].path, got, cases[i].target);
        CU_ASSERT_STRING_EQUAL(got, cases[i].target);
        free(got);
    }
    /* the temporary beside the target: renamed over it, the link kept; or removed */
    RtReplace r;
    CU_ASSERT_EQUAL_FATAL(rt_replace_begin(&r, "here"), 0);
    CU_ASSERT_STRING_EQUAL(r.target, "t");
    CU_ASSERT(strncmp(r.tmp, ".nnc-", 5) == 0 && !strchr(r.tmp, '/'));
    CU_ASSERT_EQUAL(rt_replace_end(&r, 1), 0);
    struct stat st;
    CU_ASSERT(lstat("here", &st) == 0 && S_ISLNK(st.st_mode));
    CU_ASSERT(lstat("t", &st) == 0 && S_ISREG(st.st_mode));
    CU_ASSERT_EQUAL_FATAL(rt_replace_begin(&r, "sub/chain"), 0);
    CU_ASSERT_STRING_EQUAL(r.target, "sub/../t");
    CU_ASSERT(strncmp(r.tmp, "sub/../.nnc-", 12) == 0 && !strchr(r.tmp + 7, '/'));
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s", r.tmp);
    CU_ASSERT(lstat(tmp, &st) == 0 && S_ISREG(st.st_mode));
    CU_ASSERT_EQUAL(rt_replace_end(&r, 0), -1);
    CU_ASSERT(lstat(tmp, &st) != 0);
    CU_ASSERT_EQUAL_FATAL(rt_replace_begin(&r, here), 0);
    CU_ASSERT_STRING_EQUAL(r.target, t);
    CU_ASSERT(strncmp(r.tmp, dir, strlen(dir)) == 0 && strncmp(r.tmp + strlen(dir), "/.nnc-", 6) == 0);
    CU_ASSERT_EQUAL(rt_replace_end(&r, 0), -1);
    CU_ASSERT(chdir(cwd) == 0);
}

static const RtTestCase tests[] = {
    {"convert", test_convert},
    {"header_only", test_header_only},
    {"extra_tensors", test_extra_tensors},
    {"partial_state", test_partial_state},
    {"step_counter", test_step_counter},
    {"roundtrip", test_roundtrip},
    {"no_tensors", test_no_tensors},
    {"alignment", test_alignment},
    {"foreign_file", test_foreign_file},
    {"write_leaves_no_temporary", test_write_leaves_no_temporary},
    {"write_unwritable_dir", test_write_unwritable_dir},
    {"cannot_open", test_cannot_open},
    {"too_short", test_too_short},
    {"header_past_end", test_header_past_end},
    {"header_not_json", test_header_not_json},
    {"header_not_object", test_header_not_object},
    {"entry_not_object", test_entry_not_object},
    {"entry_missing_field", test_entry_missing_field},
    {"entry_wrong_types", test_entry_wrong_types},
    {"metadata_not_strings", test_metadata_not_strings},
    {"unknown_dtype", test_unknown_dtype},
    {"bad_shape_entry", test_bad_shape_entry},
    {"offsets_out_of_order", test_offsets_out_of_order},
    {"offsets_past_data", test_offsets_past_data},
    {"offsets_overlap", test_offsets_overlap},
    {"bytes_mismatch", test_bytes_mismatch},
    {"truncated_data", test_truncated_data},
    {"refused_no_null_offset", test_refused_no_null_offset},
    {"split_path", test_split_path},
    {"link_target", test_link_target},
    {NULL, NULL},
};

void register_rt_checkpoint(void) { rt_add_suite("checkpoint", tests); }
