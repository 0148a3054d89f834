/* source.c — loading sources and locating offsets; see source.h. */
#include "source.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void index_lines(Source *src, Arena *a)
{
    uint32_t n = 1;
    for (uint32_t i = 0; i < src->len; i++)
        n += src->text[i] == '\n';
    src->line_start = ARENA_ARRAY(a, uint32_t, n);
    src->nlines = n;
    uint32_t k = 0;
    src->line_start[k++] = 0;
    for (uint32_t i = 0; i < src->len; i++)
        if (src->text[i] == '\n')
            src->line_start[k++] = i + 1;
}

void source_from_memory(Source *src, Arena *a, const char *name, const char *text, size_t len)
{
    /* A UTF-8 byte order mark, as some editors write, is not part of the
     * text; editors do not show it, so columns are counted without it. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3, len -= 3;
    src->name = arena_strdup(a, name);
    src->text = arena_strndup(a, text, len);
    src->len = (uint32_t)len;
    index_lines(src, a);
}

int source_load(Source *src, Arena *a, const char *path, char *why, size_t whylen)
{
    /* "-" is standard input (a pipe: `generate | nnc --check -`), named
     * <stdin> in diagnostics */
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
    /* Read in chunks rather than trusting ftell: works for pipes too. */
    size_t cap = 4096, len = 0;
    char *buf = arena_alloc(a, cap);
    for (;;) {
        if (len == cap) {
            if (cap >= SOURCE_MAX_BYTES) {
                if (!is_stdin)
                    fclose(f);
                snprintf(why, whylen, "file is larger than %u MiB", SOURCE_MAX_BYTES >> 20);
                return -1;
            }
            char *bigger = arena_alloc(a, cap * 2);
            memcpy(bigger, buf, len);
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(why, whylen, "%s", strerror(errno ? errno : EIO));
                if (!is_stdin)
                    fclose(f);
                return -1;
            }
            break;
        }
    }
    if (!is_stdin)
        fclose(f);
    if (len > SOURCE_MAX_BYTES) {
        snprintf(why, whylen, "file is larger than %u MiB", SOURCE_MAX_BYTES >> 20);
        return -1;
    }
    source_from_memory(src, a, is_stdin ? SOURCE_STDIN : path, buf, len);
    return 0;
}

void source_linecol(const Source *src, uint32_t off, uint32_t *line, uint32_t *col)
{
    uint32_t lo = 0, hi = src->nlines;  /* line_start[lo] <= off < line_start[hi] */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (src->line_start[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    *line = lo + 1;
    *col = off - src->line_start[lo] + 1;
}

const char *source_line(const Source *src, uint32_t line, uint32_t *len)
{
    /* the next line's start is one past this one's '\n' (no scan: the
     * excerpt of each error on a line of kilobytes would repeat it) */
    uint32_t b = src->line_start[line - 1];
    uint32_t e = line < src->nlines ? src->line_start[line] - 1 : src->len;
    if (e > b && src->text[e - 1] == '\r')
        e--;
    *len = e - b;
    return src->text + b;
}

bool source_quotable(const Source *src, Span at, uint32_t max)
{
    return at.end - at.begin <= max && !memchr(src->text + at.begin, '\n', at.end - at.begin);
}
