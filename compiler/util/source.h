/* source.h — a loaded .nn file and the mapping from byte offsets to lines.
 *
 * Every token, AST node and diagnostic refers to text by a Span of byte
 * offsets; line and column are computed only when something is printed.
 */
#ifndef NNC_SOURCE_H
#define NNC_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

/* Byte range [begin, end) of the source text. */
typedef struct Span {
    uint32_t begin, end;
} Span;

/* A span that points at no text: messages about the file as a whole. */
#define SPAN_NONE ((Span){UINT32_MAX, UINT32_MAX})
static inline int span_is_none(Span s) { return s.begin == UINT32_MAX; }
static inline Span span_join(Span a, Span b) { return (Span){a.begin, b.end}; }

typedef struct Source {
    const char *name;        /* as given on the command line; printed in messages */
    const char *text;        /* contents, followed by a NUL the lexer relies on */
    uint32_t    len;         /* bytes, excluding that NUL */
    uint32_t   *line_start;  /* offset of the first byte of each line */
    uint32_t    nlines;
} Source;

/* The name of a model read from standard input (the path "-"). */
#define SOURCE_STDIN "<stdin>"

/* Largest file we accept; offsets are 32-bit. */
#define SOURCE_MAX_BYTES (64u << 20)

/* Reads path ("-": standard input). On failure returns non-zero and writes a reason ("No such file
 * or directory", "file is larger than 64 MiB") into why. */
int  source_load(Source *src, Arena *a, const char *path, char *why, size_t whylen);
/* Wraps text already in memory (copied into the arena). */
void source_from_memory(Source *src, Arena *a, const char *name, const char *text, size_t len);
/* 1-based line and byte column of an offset. */
void source_linecol(const Source *src, uint32_t off, uint32_t *line, uint32_t *col);
/* The text of line (1-based), without its newline. */
const char *source_line(const Source *src, uint32_t line, uint32_t *len);
/* Whether a message may quote the text of at whole: at most max bytes,
 * and on one line (a quote that breaks the message's line is worse than
 * none).  The front end's one rule for it; each caller says what it shows
 * instead ("...", or the construct's outline). */
bool source_quotable(const Source *src, Span at, uint32_t max);

#endif
