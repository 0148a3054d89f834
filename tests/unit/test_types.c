/* test_types.c — shapes: printing and broadcasting. */
#include "harness.h"
#include "types.h"

static const char *shape_str(const Shape *s, bool batched)
{
    static char buf[128];
    StrBuf sb = {0};
    shape_print(&sb, s, batched);
    snprintf(buf, sizeof buf, "%s", sb_cstr(&sb));
    sb_free(&sb);
    return buf;
}

static void test_print(void)
{
    Shape s = {2, {64, 128}};
    ASSERT_STR(shape_str(&s, false), "[64,128]");
    ASSERT_STR(shape_str(&s, true), "[B,64,128]");
    Shape scalar = {0};
    ASSERT_STR(shape_str(&scalar, false), "[]");
    ASSERT_STR(shape_str(&scalar, true), "[B]");

    StrBuf sb = {0};
    TensorType cls = {.elem = ELEM_INDEX, .classes = 10, .batched = true};
    type_print(&sb, &cls);
    ASSERT_STR(sb_cstr(&sb), "class(10)[B]");
    sb.len = 0;
    TensorType tok = {.elem = ELEM_INDEX, .classes = 65, .batched = true, .shape = {1, {64}}};
    type_print(&sb, &tok);
    ASSERT_STR(sb_cstr(&sb), "token(65)[B,64]");
    sb.len = 0;
    TensorType f = {.elem = ELEM_F32, .shape = {1, {784}}};
    type_print(&sb, &f);
    ASSERT_STR(sb_cstr(&sb), "f32[784]");
    sb_free(&sb);
}

static void test_broadcast(void)
{
    static const struct { Shape a, b; int ok; Shape want; int bad; } cases[] = {
        {{2, {3, 4}}, {2, {3, 4}}, 1, {2, {3, 4}}, 0},
        {{2, {3, 4}}, {1, {4}}, 1, {2, {3, 4}}, 0},
        {{1, {4}}, {3, {2, 3, 4}}, 1, {3, {2, 3, 4}}, 0},
        {{2, {3, 1}}, {2, {1, 5}}, 1, {2, {3, 5}}, 0},
        {{0, {0}}, {2, {7, 8}}, 1, {2, {7, 8}}, 0},
        {{2, {3, 4}}, {2, {2, 4}}, 0, {0, {0}}, 0},
        {{3, {2, 3, 4}}, {1, {5}}, 0, {0, {0}}, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Shape out = {0};
        int bad = -1;
        int rc = shape_broadcast(&cases[i].a, &cases[i].b, &out, &bad);
        CU_ASSERT_EQUAL(rc == 0, cases[i].ok);
        if (cases[i].ok) {
            CU_ASSERT(shape_equal(&out, &cases[i].want));
        } else {
            CU_ASSERT_EQUAL(bad, cases[i].bad);
        }
    }
}

static void test_group(void)
{
    StrBuf sb = {0};
    sb_group(&sb, 0);
    sb_putc(&sb, ' ');
    sb_group(&sb, 999);
    sb_putc(&sb, ' ');
    sb_group(&sb, 1000);
    sb_putc(&sb, ' ');
    sb_group(&sb, 101770);
    sb_putc(&sb, ' ');
    sb_group(&sb, 1234567890);
    ASSERT_STR(sb_cstr(&sb), "0 999 1,000 101,770 1,234,567,890");
    sb_free(&sb);
}

static const TestCase tests[] = {
    {"printing shapes and types", test_print},
    {"broadcasting", test_broadcast},
    {"thousands separators", test_group},
    {NULL, NULL},
};

void register_types(void) { add_suite("types", tests); }
