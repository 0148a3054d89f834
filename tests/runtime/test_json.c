/* test_json.c — the strict JSON reader behind safetensors headers: values
 * as written, and the exact message for each way text is not JSON. */
#include <string.h>

#include "rt_harness.h"
#include "../../runtime/rt_internal.h"

/* Parses text (len: strlen) expecting the message want, or success for NULL. */
static void expect(const char *text, const char *want)
{
    RtJsonDoc doc;
    char err[256] = "";
    int rc = rt_json_parse(text, strlen(text), &doc, err, sizeof err);
    if (want) {
        CU_ASSERT_EQUAL(rc, -1);
        CU_ASSERT_STRING_EQUAL(err, want);
        if (rc != -1 || strcmp(err, want) != 0)
            fprintf(stderr, "\n  text: %s\n  got:  %s\n  want: %s\n", text, err, want);
        CU_ASSERT_PTR_NULL(doc.v);
    } else {
        CU_ASSERT_EQUAL(rc, 0);
        if (rc != 0)
            fprintf(stderr, "\n  text: %s\n  error: %s\n", text, err);
    }
    rt_json_free(&doc);
}

static void test_values(void)
{
    const char *text = " {\"a\": [1, -0, 2.5e1, -9223372036854775808, 1e400, 99999999999999999999],"
                       " \"b\\u00e9\\n\": \"x\\\"y\\\\\\/\\b\\f\\r\\t\\ud83d\\ude00\", \"c\": true, \"d\": false,"
                       " \"e\": null, \"f\": {}, \"g\": []} ";
    RtJsonDoc doc;
    char err[256];
    CU_ASSERT_FATAL(rt_json_parse(text, strlen(text), &doc, err, sizeof err) == 0);
    const RtJson *root = &doc.v[0];
    CU_ASSERT_EQUAL(root->kind, RT_JSON_OBJECT);
    CU_ASSERT_EQUAL(root->count, 7);
    const RtJson *a = rt_json_get(&doc, root, "a");
    CU_ASSERT_FATAL(a && a->kind == RT_JSON_ARRAY && a->count == 6);
    CU_ASSERT(rt_json_at(&doc, a, 0)->is_integer && rt_json_at(&doc, a, 0)->integer == 1);
    CU_ASSERT(rt_json_at(&doc, a, 1)->is_integer && rt_json_at(&doc, a, 1)->integer == 0);
    CU_ASSERT(!rt_json_at(&doc, a, 2)->is_integer && rt_json_at(&doc, a, 2)->number == 25.0);
    CU_ASSERT(rt_json_at(&doc, a, 3)->is_integer && rt_json_at(&doc, a, 3)->integer == INT64_MIN);
    CU_ASSERT(!rt_json_at(&doc, a, 4)->is_integer);                      /* a real, out of double's range */
    CU_ASSERT(!rt_json_at(&doc, a, 5)->is_integer);                      /* an integer past int64: not exact */
    CU_ASSERT_PTR_NULL(rt_json_at(&doc, a, 6));
    const RtJson *b = rt_json_get(&doc, root, "b\xc3\xa9\n");            /* keys are decoded too */
    CU_ASSERT_FATAL(b && b->kind == RT_JSON_STRING);
    CU_ASSERT_EQUAL(b->len, 13);
    CU_ASSERT(memcmp(b->str, "x\"y\\/\b\f\r\t\xf0\x9f\x98\x80", 14) == 0);
    CU_ASSERT(rt_json_get(&doc, root, "c")->kind == RT_JSON_BOOL && rt_json_get(&doc, root, "c")->integer == 1);
    CU_ASSERT(rt_json_get(&doc, root, "d")->kind == RT_JSON_BOOL && rt_json_get(&doc, root, "d")->integer == 0);
    CU_ASSERT(rt_json_get(&doc, root, "e")->kind == RT_JSON_NULL);
    CU_ASSERT(rt_json_get(&doc, root, "f")->count == 0 && rt_json_get(&doc, root, "g")->count == 0);
    CU_ASSERT_PTR_NULL(rt_json_get(&doc, root, "h"));
    CU_ASSERT_PTR_NULL(rt_json_get(&doc, a, "a"));                       /* an array has no keys */
    rt_json_free(&doc);
    expect("\"\xe2\x82\xac\xf4\x8f\xbf\xbf\"", NULL);                     /* euro sign, U+10FFFF */
}

static void test_errors(void)
{
    expect("", "expected a value, found end of text (line 1, column 1, byte 0)");
    expect("{\"w\": ", "expected a value, found end of text (line 1, column 7, byte 6)");
    expect("{\"w\":{},\n \"w\":{}}", "duplicate key \"w\" (line 2, column 2, byte 10)");
    expect("{\"a\":1,}", "expected a key in quotes, found '}' (line 1, column 8, byte 7)");
    expect("[1,]", "expected a value, found ']' (line 1, column 4, byte 3)");
    expect("[1 2]", "expected ',' or ']', found '2' (line 1, column 4, byte 3)");
    expect("{\"a\" 1}", "expected ':' after a key, found '1' (line 1, column 6, byte 5)");
    expect("{a:1}", "expected a key in quotes, found 'a' (line 1, column 2, byte 1)");
    expect("{} {}", "expected the end of the text after the value, found '{' (line 1, column 4, byte 3)");
    expect("01", "expected the end of the text after the value, found '1' (line 1, column 2, byte 1)");
    expect("-", "a number needs a digit (line 1, column 2, byte 1)");
    expect("1.", "a number needs a digit after '.' (line 1, column 3, byte 2)");
    expect("1e+", "a number needs a digit in its exponent (line 1, column 4, byte 3)");
    expect("+1", "expected a value, found '+' (line 1, column 1, byte 0)");
    expect("tru", "expected a value, found 't' (line 1, column 1, byte 0)");
    expect("NaN", "expected a value, found 'N' (line 1, column 1, byte 0)");
    expect("\"abc", "the text ends inside a string (line 1, column 5, byte 4)");
    expect("\"a\tb\"", "control character 0x09 in a string (write it as \\u0009) (line 1, column 3, byte 2)");
    expect("\"\\x\"", "unknown escape in a string (line 1, column 3, byte 2)");
    expect("\"\\u12g4\"", "\\u needs four hex digits (line 1, column 6, byte 5)");
    expect("\"\\u0000\"", "\\u0000 in a string (line 1, column 8, byte 7)");
    expect("\"\\udc00\"", "a low surrogate \\udc00 without a high one (line 1, column 8, byte 7)");
    expect("\"\\ud800x\"", "a high surrogate \\ud800 without a low one (line 1, column 8, byte 7)");
    expect("\"\\ud800\\u0041\"", "a high surrogate followed by \\u0041 (line 1, column 14, byte 13)");
    expect("\"\xc0\xaf\"", "invalid UTF-8 in a string (line 1, column 2, byte 1)");        /* overlong '/' */
    expect("\"\xed\xa0\x80\"", "invalid UTF-8 in a string (line 1, column 2, byte 1)");    /* a surrogate */
    expect("\"\xf4\x90\x80\x80\"", "invalid UTF-8 in a string (line 1, column 2, byte 1)"); /* past U+10FFFF */
    expect("\"\xe2\x82\"", "invalid UTF-8 in a string (line 1, column 2, byte 1)");        /* cut short */
    expect("\x01", "expected a value, found byte 0x01 (line 1, column 1, byte 0)");
    expect("1234567890123456789012345678901234567890123456789012345678901234",
           "a number of 64 characters (line 1, column 1, byte 0)");
}

static void test_depth(void)
{
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = 0;
    expect(deep, NULL);                                 /* 64 levels: the limit */
    memset(deep, '[', 65);
    deep[65] = 0;
    expect(deep, "more than 64 nested arrays and objects (line 1, column 65, byte 64)");
}

/* Text that is not NUL-terminated: the reader never reads past len. */
static void test_length(void)
{
    RtJsonDoc doc;
    char err[128];
    CU_ASSERT(rt_json_parse("[12]345", 4, &doc, err, sizeof err) == 0);
    CU_ASSERT(rt_json_at(&doc, &doc.v[0], 0)->integer == 12);
    rt_json_free(&doc);
    CU_ASSERT(rt_json_parse("\"ab\"", 3, &doc, err, sizeof err) == -1);
    CU_ASSERT_STRING_EQUAL(err, "the text ends inside a string (line 1, column 4, byte 3)");
}

static const RtTestCase tests[] = {
    {"values", test_values},
    {"errors", test_errors},
    {"depth", test_depth},
    {"length", test_length},
    {NULL, NULL},
};

void register_rt_json(void) { rt_add_suite("json", tests); }
