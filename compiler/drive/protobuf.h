/* protobuf.h — the protocol buffers wire format, write side only.
 *
 * Enough of https://protobuf.dev/programming-guides/encoding/ to write the
 * messages of onnx.proto by their field numbers: varints (int32, int64,
 * enums), fixed32 floats and length-delimited fields (strings, bytes,
 * nested messages, packed arrays).  A message is built in a PbBuf; a nested
 * one is built in a buffer of its own and appended with pb_message (its
 * length must be known before its bytes, so it cannot be written in place).
 * Buffers grow on the heap; on running out of memory they stop growing and
 * remember it (pb_failed), so callers check once at the end.
 */
#ifndef NNC_PROTOBUF_H
#define NNC_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct PbBuf {
    uint8_t *data;
    size_t   len, cap;
    bool     oom;    /* an append failed: the buffer is incomplete */
} PbBuf;

/* A varint field (wire type 0): int32, int64, enum, bool.  Negative values
 * take ten bytes, as protobuf's int64 encoding says. */
void pb_int(PbBuf *b, int field, int64_t v);
/* A float field (wire type 5, fixed32, little-endian IEEE 754). */
void pb_float(PbBuf *b, int field, float v);
/* A length-delimited field (wire type 2): bytes, or a string without its NUL. */
void pb_bytes(PbBuf *b, int field, const void *data, size_t len);
void pb_string(PbBuf *b, int field, const char *s);
/* A nested message: sub's bytes as a length-delimited field. */
void pb_message(PbBuf *b, int field, const PbBuf *sub);
/* Raw bytes with no tag: a PbBuf of fields joined into another. */
void pb_raw(PbBuf *b, const void *data, size_t len);

bool pb_failed(const PbBuf *b);
void pb_free(PbBuf *b);

#endif
