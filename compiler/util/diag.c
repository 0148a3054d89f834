/* diag.c — rendering diagnostics with the source line and a caret; see diag.h. */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

void diag_init(DiagSink *ds, const Source *src, FILE *out)
{
    memset(ds, 0, sizeof *ds);
    ds->src = src;
    ds->out = out;
    ds->max_errors = 50;
}

void diag_fini(DiagSink *ds)
{
    free(ds->seen);
    ds->seen = NULL;
    ds->nseen = ds->capseen = 0;
}

/* FNV-1a over the span and the text: cheap identity for "said already". */
static unsigned long long diag_hash(Span at, const char *text)
{
    unsigned long long h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)&at;
    for (size_t i = 0; i < sizeof at; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    for (p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* The hashes said already, an open-addressed set (0 marks a free slot; a
 * hash of 0 is stored as 1): a linear list made a file of n bad bytes cost
 * n^2/2 compares, most of the front end's time on binary input. */
static bool diag_is_repeat(DiagSink *ds, unsigned long long h)
{
    h += !h;
    if (2 * (ds->nseen + 1) > ds->capseen) {
        unsigned cap = ds->capseen ? ds->capseen * 2 : 64;
        unsigned long long *old = ds->seen, *set = calloc(cap, sizeof *set);
        if (!set)
            abort();
        for (unsigned i = 0; i < ds->capseen; i++)
            if (old[i]) {
                unsigned j = (unsigned)old[i] & (cap - 1);
                while (set[j])
                    j = (j + 1) & (cap - 1);
                set[j] = old[i];
            }
        free(old);
        ds->seen = set;
        ds->capseen = cap;
    }
    unsigned j = (unsigned)h & (ds->capseen - 1);
    for (; ds->seen[j]; j = (j + 1) & (ds->capseen - 1))
        if (ds->seen[j] == h)
            return true;
    ds->seen[j] = h;
    ds->nseen++;
    return false;
}

static const char *const level_name[] = {
    [DIAG_ERROR] = "error", [DIAG_WARNING] = "warning", [DIAG_NOTE] = "note",
};
static const char *const level_color[] = {
    [DIAG_ERROR] = "\033[1;31m", [DIAG_WARNING] = "\033[1;35m", [DIAG_NOTE] = "\033[1;36m",
};

/* A line longer than this is quoted in part: this many bytes of it, from a
 * quarter of that before the span, with "..." where it is cut.  A generated
 * or binary file's one long line was otherwise printed whole with each of
 * up to 50 errors (megabytes, and most of the fuzz target's time). */
enum { EXCERPT_BYTES = 256 };

/* The quoted source line and a caret line under the span:
 *    12 |     y = a + b
 *       |         ^~~~~
 * Tabs before the span are copied into the caret line so it lines up. */
static void render_excerpt(DiagSink *ds, StrBuf *sb, Span at)
{
    const Source *src = ds->src;
    uint32_t begin = at.begin > src->len ? src->len : at.begin;
    uint32_t end = at.end > src->len ? src->len : at.end;
    uint32_t line, col;
    source_linecol(src, begin, &line, &col);
    uint32_t len;
    const char *text = source_line(src, line, &len);
    uint32_t from = 0, to = len;
    if (len > EXCERPT_BYTES) {
        uint32_t c = col - 1 < len ? col - 1 : len;
        from = c > EXCERPT_BYTES / 4 ? c - EXCERPT_BYTES / 4 : 0;
        if (from > len - EXCERPT_BYTES)
            from = len - EXCERPT_BYTES;
        to = from + EXCERPT_BYTES;
        /* whole characters: no cut inside a UTF-8 sequence */
        while (from > 0 && ((unsigned char)text[from] & 0xC0) == 0x80)
            from--;
        while (to < len && ((unsigned char)text[to] & 0xC0) == 0x80)
            to--;
    }
    char gutter[16];
    int gw = snprintf(gutter, sizeof gutter, "%u", line);
    sb_printf(sb, " %*s | %s", gw + 3, gutter, from ? "..." : "");
    for (uint32_t i = from, run = from; i <= to; i++) {
        /* Control bytes would corrupt a terminal; show them as '?'.  The
         * bytes between them go in one piece. */
        unsigned char c = i < to ? (unsigned char)text[i] : 0;
        if (i == to || (c < 0x20 && c != '\t') || c == 0x7f) {
            sb_putn(sb, text + run, i - run);
            if (i < to)
                sb_putc(sb, '?');
            run = i + 1;
        }
    }
    sb_puts(sb, to < len ? "...\n" : "\n");
    sb_printf(sb, " %*s | %s", gw + 3, "", from ? "   " : "");
    /* One caret column per character: UTF-8 continuation bytes take none
     * (at most the quoted part's bytes: the line from `from` to `to`). */
    uint32_t line_end = (uint32_t)(text - src->text) + to;
    uint32_t stop = end < line_end ? end : line_end;
    for (uint32_t i = from; i + 1 < col; i++)
        if (i >= len || ((unsigned char)text[i] & 0xC0) != 0x80)
            sb_putc(sb, i < len && text[i] == '\t' ? '\t' : ' ');
    if (ds->color)
        sb_puts(sb, "\033[1;32m");
    sb_putc(sb, '^');
    for (uint32_t i = begin + 1; i < stop; i++)
        if (((unsigned char)src->text[i] & 0xC0) != 0x80)
            sb_putc(sb, '~');
    if (ds->color)
        sb_puts(sb, "\033[0m");
    sb_putc(sb, '\n');
}

bool diag_report(DiagSink *ds, DiagLevel level, Span at, const char *fmt, va_list ap)
{
    /* Past the limit only its note is printed, with the first error past
     * it: a binary file makes an error per byte, each formatted and hashed
     * for nothing. */
    if (level == DIAG_ERROR && ds->max_errors && ds->errors >= ds->max_errors) {
        if (ds->errors++ == ds->max_errors)
            fprintf(ds->out, "%s: note: too many errors; stopping after %d\n", ds->src->name, ds->max_errors);
        ds->last_shown = false;
        return false;
    }
    StrBuf msg = {0};
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    char *text = malloc((size_t)n + 1);
    if (!text)
        abort();
    vsnprintf(text, (size_t)n + 1, fmt, ap);

    bool show;
    if (level == DIAG_NOTE) {
        show = ds->last_shown;
    } else {
        if (level == DIAG_ERROR)
            ds->errors++;
        else
            ds->warnings++;
        show = !diag_is_repeat(ds, diag_hash(at, text));
        ds->last_shown = show;
    }
    if (show) {
        if (ds->color)
            sb_puts(&msg, "\033[1m");
        if (span_is_none(at)) {
            sb_printf(&msg, "%s: ", ds->src->name);
        } else {
            uint32_t line, col;
            source_linecol(ds->src, at.begin > ds->src->len ? ds->src->len : at.begin, &line, &col);
            sb_printf(&msg, "%s:%u:%u: ", ds->src->name, line, col);
        }
        if (ds->color)
            sb_printf(&msg, "%s%s:\033[0m\033[1m %s\033[0m\n", level_color[level], level_name[level], text);
        else
            sb_printf(&msg, "%s: %s\n", level_name[level], text);
        if (!span_is_none(at))
            render_excerpt(ds, &msg, at);
        fputs(sb_cstr(&msg), ds->out);
    }
    sb_free(&msg);
    free(text);
    return show;
}

bool diag_error(DiagSink *ds, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool shown = diag_report(ds, DIAG_ERROR, at, fmt, ap);
    va_end(ap);
    return shown;
}

bool diag_warning(DiagSink *ds, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool shown = diag_report(ds, DIAG_WARNING, at, fmt, ap);
    va_end(ap);
    return shown;
}

void diag_note(DiagSink *ds, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_report(ds, DIAG_NOTE, at, fmt, ap);
    va_end(ap);
}
