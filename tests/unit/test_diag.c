/* test_diag.c — rendering of diagnostics: location, excerpt, caret, notes,
 * repeats, the error limit. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct Sink {
    Arena    a;
    Source   src;
    DiagSink ds;
    FILE    *mem;
    char    *text;
    size_t   len;
} Sink;

static void sink_open(Sink *s, const char *text)
{
    arena_init(&s->a);
    source_from_memory(&s->src, &s->a, "m.nn", text, strlen(text));
    s->text = NULL;
    s->mem = open_memstream(&s->text, &s->len);
    diag_init(&s->ds, &s->src, s->mem);
}

static const char *sink_text(Sink *s)
{
    fflush(s->mem);
    return s->text;
}

static void sink_close(Sink *s)
{
    fclose(s->mem);
    free(s->text);
    diag_fini(&s->ds);
    arena_free(&s->a);
}

static void test_caret(void)
{
    Sink s;
    sink_open(&s, "model m {\n    y = a + b\n}\n");
    diag_error(&s.ds, (Span){18, 23}, "cannot add shapes %s and %s", "[B,64,10]", "[B,32,10]");
    diag_note(&s.ds, (Span){0, 5}, "'%s' is here", "model");
    ASSERT_STR(sink_text(&s), "m.nn:2:9: error: cannot add shapes [B,64,10] and [B,32,10]\n"
                              "    2 |     y = a + b\n"
                              "      |         ^~~~~\n"
                              "m.nn:1:1: note: 'model' is here\n"
                              "    1 | model m {\n"
                              "      | ^~~~~\n");
    CU_ASSERT_EQUAL(s.ds.errors, 1);
    sink_close(&s);
}

static void test_tabs_and_multiline(void)
{
    Sink s;
    sink_open(&s, "\ty =\tfoo(\n  x)\n");
    /* a span running past the line end is cut at the end of the line */
    diag_error(&s.ds, (Span){5, 15}, "bad");
    ASSERT_STR(sink_text(&s), "m.nn:1:6: error: bad\n"
                              "    1 | \ty =\tfoo(\n"
                              "      | \t   \t^~~~\n");
    sink_close(&s);
}

static void test_no_location(void)
{
    Sink s;
    sink_open(&s, "x");
    diag_error(&s.ds, SPAN_NONE, "no model in this file");
    diag_note(&s.ds, SPAN_NONE, "did you mean '%s'?", "y");
    ASSERT_STR(sink_text(&s), "m.nn: error: no model in this file\nm.nn: note: did you mean 'y'?\n");
    sink_close(&s);
}

static void test_repeats_dropped(void)
{
    Sink s;
    sink_open(&s, "abc\n");
    CU_ASSERT_TRUE(diag_error(&s.ds, (Span){0, 3}, "same"));
    CU_ASSERT_FALSE(diag_error(&s.ds, (Span){0, 3}, "same"));
    diag_note(&s.ds, (Span){0, 1}, "a note of the repeat is dropped too");
    CU_ASSERT_TRUE(diag_error(&s.ds, (Span){0, 2}, "same"));   /* another place */
    CU_ASSERT_TRUE(diag_error(&s.ds, (Span){0, 3}, "other"));  /* another text */
    CU_ASSERT_PTR_NULL(strstr(sink_text(&s), "dropped"));
    CU_ASSERT_EQUAL(s.ds.errors, 4);
    sink_close(&s);
}

static void test_limit(void)
{
    Sink s;
    sink_open(&s, "abc\n");
    s.ds.max_errors = 2;
    diag_error(&s.ds, SPAN_NONE, "one");
    diag_error(&s.ds, SPAN_NONE, "two");
    diag_error(&s.ds, SPAN_NONE, "three");
    diag_error(&s.ds, SPAN_NONE, "four");
    ASSERT_STR(sink_text(&s), "m.nn: error: one\nm.nn: error: two\n"
                              "m.nn: note: too many errors; stopping after 2\n");
    CU_ASSERT_EQUAL(s.ds.errors, 4);
    sink_close(&s);
}

/* The note comes with the first error past the limit even when that error
 * repeats one printed before (it used to be lost then), and what follows
 * the limit counts but prints nothing. */
static void test_limit_after_repeat(void)
{
    Sink s;
    sink_open(&s, "abc\n");
    s.ds.max_errors = 2;
    diag_error(&s.ds, SPAN_NONE, "one");
    diag_error(&s.ds, SPAN_NONE, "two");
    CU_ASSERT_FALSE(diag_error(&s.ds, SPAN_NONE, "one"));
    CU_ASSERT_FALSE(diag_error(&s.ds, SPAN_NONE, "three"));
    diag_note(&s.ds, SPAN_NONE, "a note of a dropped error");
    CU_ASSERT_TRUE(diag_warning(&s.ds, SPAN_NONE, "a warning is still printed"));
    ASSERT_STR(sink_text(&s), "m.nn: error: one\nm.nn: error: two\n"
                              "m.nn: note: too many errors; stopping after 2\n"
                              "m.nn: warning: a warning is still printed\n");
    CU_ASSERT_EQUAL(s.ds.errors, 4);
    sink_close(&s);
}

/* The set of what was said, through several growths: each of 5000
 * messages is printed once, its repeat never, a new one still. */
static void test_many_repeats(void)
{
    Sink s;
    sink_open(&s, "abc\n");
    s.ds.max_errors = 0;
    int shown = 0, again = 0;
    for (int i = 0; i < 5000; i++)
        shown += diag_error(&s.ds, (Span){(uint32_t)(i % 4), 4}, "e%d", i / 4);
    for (int i = 0; i < 5000; i++)
        again += diag_error(&s.ds, (Span){(uint32_t)(i % 4), 4}, "e%d", i / 4);
    CU_ASSERT_EQUAL(shown, 5000);
    CU_ASSERT_EQUAL(again, 0);
    CU_ASSERT_TRUE(diag_error(&s.ds, (Span){0, 4}, "e1250"));
    CU_ASSERT_EQUAL(s.ds.errors, 10001);
    sink_close(&s);
}

/* A line of more than 256 bytes is quoted in part: 256 bytes from 64
 * before the span, "..." where it was cut, the caret still under the span;
 * a cut never splits a UTF-8 character. */
static void test_long_line(void)
{
    char text[1002];
    memset(text, 'a', 1000);
    text[1000] = '\n';
    text[1001] = 0;
    char want[1200], as[300];
    memset(as, 'a', 256);
    as[256] = 0;
    Sink s;
    sink_open(&s, text);
    diag_error(&s.ds, (Span){600, 603}, "middle");
    snprintf(want, sizeof want, "m.nn:1:601: error: middle\n    1 | ...%s...\n      |    %64s^~~\n", as, "");
    ASSERT_STR(sink_text(&s), want);
    sink_close(&s);

    sink_open(&s, text);
    diag_error(&s.ds, (Span){990, 1000}, "end");
    snprintf(want, sizeof want, "m.nn:1:991: error: end\n    1 | ...%s\n      |    %246s^~~~~~~~~~\n", as, "");
    ASSERT_STR(sink_text(&s), want);
    sink_close(&s);

    sink_open(&s, text);
    diag_error(&s.ds, (Span){9, 2000}, "start");
    snprintf(want, sizeof want, "m.nn:1:10: error: start\n    1 | %s...\n      | %9s^%246s\n", as, "", "");
    for (char *p = strrchr(want, '^') + 1; *p == ' '; p++)
        *p = '~';  /* the span runs to the cut */
    ASSERT_STR(sink_text(&s), want);
    sink_close(&s);

    /* 200 three-byte characters: the window would start inside one */
    char euro[602], euros[300];
    for (int i = 0; i < 200; i++)
        memcpy(euro + 3 * i, "\xE2\x82\xAC", 3);
    euro[600] = '\n';
    euro[601] = 0;
    memcpy(euros, euro + 234, 258);
    euros[258] = 0;
    sink_open(&s, euro);
    diag_error(&s.ds, (Span){300, 303}, "euro");
    snprintf(want, sizeof want, "m.nn:1:301: error: euro\n    1 | ...%s...\n      |    %22s^\n", euros, "");
    ASSERT_STR(sink_text(&s), want);
    sink_close(&s);
}

static void test_control_bytes(void)
{
    Sink s;
    sink_open(&s, "a\x01\x1b[31mb\n\x7f\x02xy\x03\n");
    diag_error(&s.ds, (Span){0, 1}, "x");
    diag_error(&s.ds, (Span){12, 13}, "y");
    ASSERT_STR(sink_text(&s), "m.nn:1:1: error: x\n"
                              "    1 | a??[31mb\n"
                              "      | ^\n"
                              "m.nn:2:4: error: y\n"
                              "    2 | ??xy?\n"
                              "      |    ^\n");
    sink_close(&s);
}

static void test_color(void)
{
    Sink s;
    sink_open(&s, "abc\n");
    s.ds.color = true;
    diag_error(&s.ds, (Span){0, 3}, "x");
    ASSERT_STR(sink_text(&s), "\033[1mm.nn:1:1: \033[1;31merror:\033[0m\033[1m x\033[0m\n"
                              "    1 | abc\n"
                              "      | \033[1;32m^~~\033[0m\n");
    sink_close(&s);
}

static void test_line_lookup(void)
{
    Arena a;
    arena_init(&a);
    Source src;
    source_from_memory(&src, &a, "m.nn", "ab\ncd\r\n\nx", 9);
    uint32_t line, col, len;
    source_linecol(&src, 0, &line, &col);
    CU_ASSERT(line == 1 && col == 1);
    source_linecol(&src, 4, &line, &col);
    CU_ASSERT(line == 2 && col == 2);
    source_linecol(&src, 8, &line, &col);
    CU_ASSERT(line == 4 && col == 1);
    const char *l2 = source_line(&src, 2, &len);
    CU_ASSERT_EQUAL(len, 2);  /* the \r is not part of the line */
    CU_ASSERT_NSTRING_EQUAL(l2, "cd", 2);
    source_line(&src, 3, &len);
    CU_ASSERT_EQUAL(len, 0);
    arena_free(&a);
}

/* The one rule of the front end's quotes: at most max bytes, on one line
 * (a "\r\n" line end counts as the line's end too). */
static void test_quotable(void)
{
    Arena a;
    arena_init(&a);
    Source src;
    source_from_memory(&src, &a, "m.nn", "abcd\r\nef", 9);
    CU_ASSERT(source_quotable(&src, (Span){0, 4}, 4));
    CU_ASSERT(!source_quotable(&src, (Span){0, 4}, 3));
    CU_ASSERT(source_quotable(&src, (Span){0, 5}, 40));    /* the \r alone */
    CU_ASSERT(!source_quotable(&src, (Span){0, 6}, 40));   /* past the line's end */
    CU_ASSERT(!source_quotable(&src, (Span){5, 9}, 40));
    CU_ASSERT(source_quotable(&src, (Span){7, 7}, 0));     /* nothing: quotable */
    arena_free(&a);
}

static const TestCase tests[] = {
    {"caret under the span", test_caret},
    {"tabs and spans past the line", test_tabs_and_multiline},
    {"messages without a location", test_no_location},
    {"repeats dropped", test_repeats_dropped},
    {"error limit", test_limit},
    {"error limit after a repeat", test_limit_after_repeat},
    {"repeats among thousands", test_many_repeats},
    {"control bytes in the excerpt", test_control_bytes},
    {"long lines quoted in part", test_long_line},
    {"colour", test_color},
    {"offsets to lines", test_line_lookup},
    {"what a message may quote", test_quotable},
    {NULL, NULL},
};

void register_diag(void) { add_suite("diag", tests); }
