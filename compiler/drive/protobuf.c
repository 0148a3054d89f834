/* protobuf.c — the wire format's write side; see protobuf.h. */
#include "protobuf.h"

#include <stdlib.h>
#include <string.h>

enum { WIRE_VARINT = 0, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

static bool reserve(PbBuf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void pb_raw(PbBuf *b, const void *data, size_t len)
{
    if (len && reserve(b, len)) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
    }
}

/* Seven bits at a time, least significant first; the top bit says more follow. */
static void varint(PbBuf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_raw(b, tmp, n);
}

static void tag(PbBuf *b, int field, int wire) { varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

void pb_int(PbBuf *b, int field, int64_t v)
{
    tag(b, field, WIRE_VARINT);
    varint(b, (uint64_t)v);  /* two's complement: -1 is ten bytes, as int64 says */
}

void pb_float(PbBuf *b, int field, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint8_t le[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16), (uint8_t)(bits >> 24)};
    tag(b, field, WIRE_FIXED32);
    pb_raw(b, le, sizeof le);
}

void pb_bytes(PbBuf *b, int field, const void *data, size_t len)
{
    tag(b, field, WIRE_LEN);
    varint(b, len);
    pb_raw(b, data, len);
}

void pb_string(PbBuf *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

void pb_message(PbBuf *b, int field, const PbBuf *sub)
{
    if (sub->oom)
        b->oom = true;
    pb_bytes(b, field, sub->data, sub->len);
}

bool pb_failed(const PbBuf *b) { return b->oom; }

void pb_free(PbBuf *b)
{
    free(b->data);
    *b = (PbBuf){0};
}
