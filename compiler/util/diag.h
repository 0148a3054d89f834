/* diag.h — the diagnostics sink.
 *
 * Consumes: messages with a Span.  Produces: GNU-style text on a stream,
 *
 *     model.nn:12:17: error: cannot add shapes [64,10] and [32,10]
 *        12 |     y = a + b
 *           |         ^~~~~
 *     model.nn:4:5: note: 'b' defined here
 *
 * Library code reports through a sink and returns; only main.c decides the
 * exit status.  The sink drops exact repeats (same place, same text) so a
 * layer instantiated four times reports its mistake once, and stops printing
 * after a limit so one bad file cannot scroll forever.
 */
#ifndef NNC_DIAG_H
#define NNC_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "source.h"

typedef enum DiagLevel { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

typedef struct DiagSink {
    const Source *src;       /* file the spans refer to */
    FILE         *out;       /* where text goes (stderr, or a memstream in tests) */
    bool          color;     /* ANSI colours, for terminals */
    int           errors;    /* errors reported, including suppressed repeats */
    int           warnings;
    int           max_errors;/* stop printing after this many (0: no limit) */
    bool          last_shown;/* whether the last error/warning was printed; its notes follow it */
    unsigned      nseen, capseen;
    unsigned long long *seen;/* hashes of printed (span, text) pairs: a set of capseen slots */
} DiagSink;

void diag_init(DiagSink *ds, const Source *src, FILE *out);
void diag_fini(DiagSink *ds);

/* Each returns true if the message was printed (not a repeat). A note
 * attaches to the error or warning before it and is printed only if that was. */
bool diag_error(DiagSink *ds, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool diag_warning(DiagSink *ds, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_note(DiagSink *ds, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool diag_report(DiagSink *ds, DiagLevel level, Span at, const char *fmt, va_list ap);

#endif
