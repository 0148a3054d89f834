/* safetensors.c — writing the safetensors format; see nnc_runtime.h.
 *
 * Layout: u64 little-endian N, then N bytes of JSON
 *   {"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},...}
 * padded with spaces to a multiple of 8, then the tensors' bytes in the
 * order of their offsets.  Offsets count from the end of the header.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "include/nnc_runtime.h"

typedef struct Buf { char *p; size_t n, cap; } Buf;

static int put(Buf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
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

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int rt_safetensors_write(const char *path, const RtTensor *t, int n, char *err, size_t errlen)
{
    Buf h = {0};
    int rc = put(&h, "{", 1);
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

    /* Atomic: write beside the target, flush to disk, then rename over it. */
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        free(h.p);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(tmp, plen + 16, "%s.tmp%d", path, (int)getpid() % 100000);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create '%s': %s", tmp, strerror(errno));
        free(h.p);
        free(tmp);
        return -1;
    }
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
    int bad = write_all(fd, len, 8) || write_all(fd, h.p, h.n);
    for (int i = 0; i < n && !bad; i++)
        bad = write_all(fd, t[i].data, t[i].bytes);
    bad = bad || fsync(fd) != 0;
    int saved = errno;
    bad = close(fd) != 0 || bad;
    if (!bad && rename(tmp, path) != 0) {
        saved = errno;
        bad = 1;
    }
    if (bad) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(saved ? saved : EIO));
        unlink(tmp);
    }
    free(h.p);
    free(tmp);
    return bad ? -1 : 0;
}
