/* npz.c — the .npy members of a .npz (zip) archive in memory; see npy.h.
 *
 * np.savez writes a zip of NAME.npy members, stored (savez) or deflated
 * (savez_compressed), with zip64 extra fields on every member (numpy asks
 * Python's zipfile for them so that any size may be written).  The reader
 * goes by the central directory at the end (found through the end-of-
 * central-directory record, or its zip64 form), which gives each member's
 * method, sizes, CRC-32 and local header; the local header only says where
 * the data starts.  No offset, length or count is used before it is checked
 * against the archive's size, and a deflated member must inflate to exactly
 * its stated size and CRC.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "npy.h"
#include "rt_internal.h"

enum {
    SIG_LOCAL = 0x04034b50, SIG_CENTRAL = 0x02014b50, SIG_END = 0x06054b50,
    SIG_END64 = 0x06064b50, SIG_LOC64 = 0x07064b50,
    END_SIZE = 22, LOC64_SIZE = 20, END64_SIZE = 56, CENTRAL_SIZE = 46, LOCAL_SIZE = 30,
    ZIP64_EXTRA = 0x0001,
    MAX_MEMBERS = 1 << 16,
};

/* Deflate expands nothing by more than 1032:1; a member claiming more is damaged. */
#define MAX_RATIO 1032

static uint32_t u16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t u32(const uint8_t *p) { return u16(p) | u16(p + 2) << 16; }
static uint64_t u64(const uint8_t *p) { return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32; }

/* The zip64 extra field of a central entry: the 64-bit values of those of
 * usize, csize and offset that the entry gives as 0xFFFFFFFF, in that order. */
static int zip64_extra(const uint8_t *x, size_t n, RtNpzMember *m, char *err, size_t errlen)
{
    int need_u = m->usize == 0xFFFFFFFFu, need_c = m->csize == 0xFFFFFFFFu, need_o = m->offset == 0xFFFFFFFFu;
    while (n >= 4) {
        uint32_t id = u16(x), size = u16(x + 2);
        if (size > n - 4)
            return rt_fail(-1, err, errlen, "member '%s': an extra field runs past its entry", m->name);
        if (id == ZIP64_EXTRA) {
            const uint8_t *p = x + 4, *end = p + size;
            uint64_t *want[3] = {need_u ? &m->usize : NULL, need_c ? &m->csize : NULL, need_o ? &m->offset : NULL};
            for (int i = 0; i < 3; i++)
                if (want[i]) {
                    if (end - p < 8)
                        return rt_fail(-1, err, errlen, "member '%s': its zip64 field is too short", m->name);
                    *want[i] = u64(p);
                    p += 8;
                }
            return 0;
        }
        x += 4 + size;
        n -= 4 + size;
    }
    if (need_u || need_c || need_o)
        return rt_fail(-1, err, errlen, "member '%s': sizes of 0xFFFFFFFF but no zip64 field", m->name);
    return 0;
}

int rt_npz_open(const uint8_t *buf, size_t len, RtNpz *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->buf = buf;
    out->len = len;
    /* the end record: the last signature that leaves room for its comment */
    if (len < END_SIZE)
        return rt_fail(-1, err, errlen, "not a .npz (zip) archive: %zu bytes, too short", len);
    size_t end = SIZE_MAX;
    size_t lowest = len - END_SIZE > 0xFFFF ? len - END_SIZE - 0xFFFF : 0;
    for (size_t at = len - END_SIZE + 1; at-- > lowest;)
        if (u32(buf + at) == SIG_END && at + END_SIZE + u16(buf + at + 20) == len) {
            end = at;
            break;
        }
    if (end == SIZE_MAX)
        return rt_fail(-1, err, errlen, "not a .npz (zip) archive, or a truncated one: no end of central directory");
    const uint8_t *e = buf + end;
    uint64_t entries = u16(e + 10), cd_size = u32(e + 12), cd_off = u32(e + 16);
    if (u16(e + 4) != 0 || u16(e + 6) != 0)
        return rt_fail(-1, err, errlen, "a zip archive split over several disks is not supported");
    if (entries == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        if (end < LOC64_SIZE || u32(buf + end - LOC64_SIZE) != SIG_LOC64)
            return rt_fail(-1, err, errlen, "the zip64 end of central directory is missing");
        uint64_t at = u64(buf + end - LOC64_SIZE + 8);
        if (at > end - LOC64_SIZE || end - LOC64_SIZE - at < END64_SIZE || u32(buf + at) != SIG_END64)
            return rt_fail(-1, err, errlen, "the zip64 end of central directory is not where its locator says");
        e = buf + at;
        entries = u64(e + 32), cd_size = u64(e + 40), cd_off = u64(e + 48);
        end = (size_t)at;
    }
    if (cd_off > end || cd_size > end - cd_off)
        return rt_fail(-1, err, errlen, "the central directory (%" PRIu64 " bytes at %" PRIu64 ") lies outside the "
                       "%zu-byte archive; is it truncated?", cd_size, cd_off, len);
    if (entries > MAX_MEMBERS || entries > cd_size / CENTRAL_SIZE)
        return rt_fail(-1, err, errlen, "the central directory cannot hold the %" PRIu64 " members it announces",
                       entries);
    out->m = rt_calloc(entries ? (size_t)entries : 1, sizeof *out->m);
    if (!out->m)
        return rt_fail(-1, err, errlen, "out of memory for %" PRIu64 " members", entries);
    const uint8_t *p = buf + cd_off, *cd_end = p + cd_size;
    for (uint64_t k = 0; k < entries; k++) {
        RtNpzMember *m = &out->m[k];
        if (cd_end - p < CENTRAL_SIZE || u32(p) != SIG_CENTRAL) {
            rt_npz_close(out);
            return rt_fail(-1, err, errlen, "central directory entry %" PRIu64 " is damaged", k);
        }
        uint32_t flags = u16(p + 8), nlen = u16(p + 28), xlen = u16(p + 30), clen = u16(p + 32);
        if ((size_t)(cd_end - p) - CENTRAL_SIZE < (size_t)nlen + xlen + clen) {
            rt_npz_close(out);
            return rt_fail(-1, err, errlen, "central directory entry %" PRIu64 " runs past the directory", k);
        }
        const char *name = (const char *)p + CENTRAL_SIZE;
        int base = nlen >= 4 && memcmp(name + nlen - 4, ".npy", 4) == 0 ? (int)nlen - 4 : (int)nlen;
        snprintf(m->name, sizeof m->name, "%.*s", base < 255 ? base : 255, name);
        m->npy = base != (int)nlen;
        for (char *c = m->name; *c; c++)   /* names go into messages */
            if ((unsigned char)*c < 32 || *c == 127)
                *c = '?';
        m->method = (int)u16(p + 10);
        m->crc = u32(p + 16);
        m->csize = u32(p + 20);
        m->usize = u32(p + 24);
        m->offset = u32(p + 42);
        if (zip64_extra(p + CENTRAL_SIZE + nlen, xlen, m, err, errlen) != 0) {
            rt_npz_close(out);
            return -1;
        }
        if (flags & 1) {   /* said before closing: the name is in what closing frees */
            rt_fail(-1, err, errlen, "member '%s' is encrypted", m->name);
            rt_npz_close(out);
            return -1;
        }
        p += CENTRAL_SIZE + nlen + xlen + clen;
        out->n++;
    }
    return 0;
}

int rt_npz_find(const RtNpz *z, const char *name, char *err, size_t errlen)
{
    int found = -1;
    for (int k = 0; k < z->n; k++) {
        if (strcmp(z->m[k].name, name) != 0)
            continue;
        if (found >= 0)
            return rt_fail(-2, err, errlen, "array '%s' is in two members, '%s%s' and '%s%s'; keep one (which is meant "
                           "is not guessed)", name, z->m[found].name, z->m[found].npy ? ".npy" : "", z->m[k].name,
                           z->m[k].npy ? ".npy" : "");
        found = k;
    }
    return found;
}

const char *rt_npz_names(const RtNpz *z, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    if (z->n == 0)
        snprintf(buf, len, "no arrays");
    for (int k = 0; k < z->n && at < len; k++)
        at += (size_t)snprintf(buf + at, len - at, "%s'%s'", k == 0 ? "" : k == z->n - 1 ? " and " : ", ",
                               z->m[k].name);
    return buf;
}

/* Inflates raw deflate src[0, n) into *out (allocated here): exactly want
 * bytes.  The buffer grows with what the data gives, so a member claiming
 * far more than it holds costs only what it holds. */
static int inflate_all(const uint8_t *src, uint64_t n, uint8_t **out, uint64_t want, const char *name, char *err,
                       size_t errlen)
{
    /* start at what the compressed size makes plausible (twice it, at least
     * 1 MiB): an incompressible array then needs no growing */
    uint64_t guess = n < (UINT64_MAX >> 2) && 2 * n > (1u << 20) ? 2 * n : 1u << 20;
    uint64_t cap = want < guess ? want : guess, in = 0, outn = 0;
    if (rt_memory_check(want > INT64_MAX ? -1 : (int64_t)want, NULL, err, errlen, "member '%s' (%llu bytes inflated)",
                        name, (unsigned long long)want) != 0)
        return -1;
    uint8_t *buf = rt_malloc(cap ? (size_t)cap : 1);
    z_stream s = {0};
    if (!buf || inflateInit2(&s, -15) != Z_OK) {
        free(buf);
        return rt_fail(-1, err, errlen, "out of memory inflating member '%s'", name);
    }
    int zr = Z_OK;
    for (;;) {
        uInt ci = (uInt)(n - in > (1u << 30) ? 1u << 30 : n - in);
        uInt co = (uInt)(cap - outn > (1u << 30) ? 1u << 30 : cap - outn);
        s.next_in = (Bytef *)(uintptr_t)(src + in);
        s.avail_in = ci;
        s.next_out = buf + outn;
        s.avail_out = co;
        zr = inflate(&s, Z_NO_FLUSH);
        in += ci - s.avail_in;
        outn += co - s.avail_out;
        if (zr == Z_STREAM_END || (zr != Z_OK && zr != Z_BUF_ERROR))
            break;
        if (outn == cap && cap < want) {   /* room for more of what it states */
            uint64_t grown = cap * 2 < want ? cap * 2 : want;
            uint8_t *p = rt_realloc(buf, (size_t)grown);
            if (!p) {
                inflateEnd(&s);
                free(buf);
                return rt_fail(-1, err, errlen, "out of memory inflating member '%s'", name);
            }
            buf = p, cap = grown;
        } else if (ci == s.avail_in && co == s.avail_out) {
            break;   /* no progress: the input ended, or the stated size is full */
        }
    }
    const char *msg = s.msg;
    inflateEnd(&s);
    int rc = 0;
    if (zr == Z_DATA_ERROR)
        rc = rt_fail(-1, err, errlen, "member '%s': the compressed data is damaged (%s)", name,
                     msg ? msg : "invalid deflate data");
    else if (zr == Z_MEM_ERROR)
        rc = rt_fail(-1, err, errlen, "out of memory inflating member '%s'", name);
    else if (zr != Z_STREAM_END && outn >= want)
        rc = rt_fail(-1, err, errlen, "member '%s' inflates to more than the %" PRIu64 " bytes it states", name, want);
    else if (zr != Z_STREAM_END)
        rc = rt_fail(-1, err, errlen, "member '%s': the compressed data ends early (%" PRIu64 " of %" PRIu64
                     " bytes); the archive is truncated", name, outn, want);
    else if (outn != want)
        rc = rt_fail(-1, err, errlen, "member '%s' inflates to %" PRIu64 " bytes, but states %" PRIu64, name, outn,
                     want);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

/* Where member m's data starts in the archive, its local header, offset,
 * sizes and method checked first.  0, or -1 with why. */
static int member_start(const RtNpz *z, const RtNpzMember *m, uint64_t *at, char *err, size_t errlen)
{
    if (m->offset > z->len || z->len - m->offset < LOCAL_SIZE || u32(z->buf + m->offset) != SIG_LOCAL)
        return rt_fail(-1, err, errlen, "member '%s': no local header at offset %" PRIu64 " of the %zu-byte archive; "
                       "is it truncated?", m->name, m->offset, z->len);
    const uint8_t *l = z->buf + m->offset;
    uint64_t start = m->offset + LOCAL_SIZE + u16(l + 26) + u16(l + 28);
    if (start > z->len || m->csize > z->len - start)
        return rt_fail(-1, err, errlen, "member '%s': its %" PRIu64 " bytes at offset %" PRIu64 " run past the end "
                       "of the %zu-byte archive; it is truncated", m->name, m->csize, start, z->len);
    if (m->method != 0 && m->method != 8)
        return rt_fail(-1, err, errlen, "member '%s' is compressed with method %d; only stored (0) and deflate (8) "
                       "are supported", m->name, m->method);
    if (m->method == 0 ? m->usize != m->csize : m->usize / MAX_RATIO > m->csize + 1)
        return rt_fail(-1, err, errlen, "member '%s': %" PRIu64 " bytes cannot come from %" PRIu64, m->name, m->usize,
                       m->csize);
    if (m->usize > SIZE_MAX - 1)
        return rt_fail(-1, err, errlen, "member '%s' is too large", m->name);
    *at = start;
    return 0;
}

int rt_npz_read(const RtNpz *z, int k, int integers, uint8_t **data, RtNpy *out, char *err, size_t errlen)
{
    const RtNpzMember *m = &z->m[k];
    *data = NULL;
    uint64_t start;
    if (member_start(z, m, &start, err, errlen) != 0)
        return -1;
    const uint8_t *src = z->buf + start, *bytes = src;   /* a stored member is read where it is */
    uint8_t *buf = NULL;
    if (m->method == 8) {
        if (inflate_all(src, m->csize, &buf, m->usize, m->name, err, errlen) != 0)
            return -1;
        bytes = buf;
    }
    uint32_t crc = (uint32_t)crc32_z(0, bytes, (size_t)m->usize);
    if (crc != m->crc) {
        free(buf);
        return rt_fail(-1, err, errlen, "member '%s': CRC-32 %08x, but the archive says %08x; the file is damaged",
                       m->name, crc, m->crc);
    }
    char why[512];
    if (rt_npy_parse(bytes, (size_t)m->usize, integers, out, why, sizeof why) != 0) {
        free(buf);
        return rt_fail(-1, err, errlen, "array '%s': %s", m->name, why);
    }
    *data = buf;
    return 0;
}

/* The first want bytes that raw deflate src[0, n) inflates to, into buf
 * (room for want): how many it gave (fewer when the stream ends first), -1
 * when the data is damaged, -2 when zlib has no memory (rt_npz_read_header
 * then says so as inflate_all does, not "damaged"). */
static int64_t inflate_prefix(const uint8_t *src, uint64_t n, uint8_t *buf, size_t want)
{
    z_stream s = {0};
    int zi = inflateInit2(&s, -15);
    if (zi != Z_OK)
        return zi == Z_MEM_ERROR ? -2 : -1;
    s.next_in = (Bytef *)(uintptr_t)src;
    s.avail_in = (uInt)(n > (1u << 30) ? 1u << 30 : n);   /* a header is in the first bytes */
    s.next_out = buf;
    s.avail_out = (uInt)want;
    int zr = inflate(&s, Z_SYNC_FLUSH);
    int64_t got = (int64_t)(want - s.avail_out);
    inflateEnd(&s);
    return zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR ? got : zr == Z_MEM_ERROR ? -2 : -1;
}

int rt_npz_read_header(const RtNpz *z, int k, int integers, RtNpy *out, char *err, size_t errlen)
{
    const RtNpzMember *m = &z->m[k];
    uint64_t start;
    if (member_start(z, m, &start, err, errlen) != 0)
        return -1;
    const uint8_t *src = z->buf + start;
    char why[512];
    if (m->method == 0) {   /* in place: only the header's pages are touched */
        if (rt_npy_parse_header(src, (size_t)m->usize, (size_t)m->usize, integers, out, why, sizeof why) != 0)
            return rt_fail(-1, err, errlen, "array '%s': %s", m->name, why);
        return 0;
    }
    /* what numpy writes fits in 4 KiB; a longer header (version 2.0) is inflated again, as long as it says */
    size_t want = m->usize < 4096 ? (size_t)m->usize : 4096;
    uint8_t *buf = rt_malloc(want ? want : 1);
    if (!buf)
        return rt_fail(-1, err, errlen, "out of memory inflating member '%s'", m->name);
    int64_t got = inflate_prefix(src, m->csize, buf, want);
    size_t end = got > 0 ? rt_npy_header_end(buf, (size_t)got) : 0;
    if (end > (size_t)got && end <= m->usize) {
        uint8_t *more = rt_realloc(buf, end);
        if (!more) {
            free(buf);
            return rt_fail(-1, err, errlen, "out of memory inflating member '%s'", m->name);
        }
        buf = more;
        got = inflate_prefix(src, m->csize, buf, end);
    }
    int rc = got == -2 ? rt_fail(-1, err, errlen, "out of memory inflating member '%s'", m->name)
           : got < 0 ? rt_fail(-1, err, errlen, "member '%s': the compressed data is damaged", m->name)
           : rt_npy_parse_header(buf, (size_t)got, (size_t)m->usize, integers, out, why, sizeof why) != 0
           ? rt_fail(-1, err, errlen, "array '%s': %s", m->name, why) : 0;
    free(buf);
    return rc;
}

void rt_npz_close(RtNpz *z)
{
    free(z->m);
    z->m = NULL;
    z->n = 0;
}
