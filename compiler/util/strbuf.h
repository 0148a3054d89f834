/* strbuf.h — a growable string for building dumps and messages.
 *
 * Heap-backed (not arena) because dumps can be large and are written out
 * once; sb_free() releases it.
 */
#ifndef NNC_STRBUF_H
#define NNC_STRBUF_H

#include <stddef.h>

typedef struct StrBuf {
    char  *data;  /* NUL-terminated when len > 0 or after sb_cstr() */
    size_t len, cap;
} StrBuf;

void        sb_putc(StrBuf *sb, char c);
void        sb_puts(StrBuf *sb, const char *s);
void        sb_putn(StrBuf *sb, const char *s, size_t n);
void        sb_printf(StrBuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void        sb_pad(StrBuf *sb, size_t col);   /* spaces up to column col of the last line */
/* 1234567 -> "1,234,567", the way --summary prints counts. */
void        sb_group(StrBuf *sb, unsigned long long v);
const char *sb_cstr(StrBuf *sb);
void        sb_free(StrBuf *sb);

#endif
