/* test_onnx.c — the ONNX export's parts that tests/onnx (end to end,
 * through python3-onnx and onnxruntime) cannot reach:
 *
 *   the protobuf wire writer, byte for byte against the encoding's spec;
 *   an IR op with no ONNX form: refused with the exact located message;
 *   pool_max(x, y) with y other than x, which lowering never makes: likewise;
 *   the op table: which ops have no ONNX form is the list below, so an op
 *   added to ops.def without a row fails here, by name;
 *   docs/onnx.md's table equals the op table, row for row.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drive/onnx.h"
#include "drive/protobuf.h"
#include "ir/ir.h"

static bool contains(const PbBuf *b, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, s, n) == 0)
            return true;
    return false;
}

static bool bytes_are(const PbBuf *b, const uint8_t *want, size_t n)
{
    return b->len == n && memcmp(b->data, want, n) == 0;
}

static void test_wire(void)
{
    PbBuf b = {0};
    pb_int(&b, 1, 150);  /* the spec's example: field 1, varint 150 = 08 96 01 */
    CU_ASSERT(bytes_are(&b, (const uint8_t[]){0x08, 0x96, 0x01}, 3));
    pb_free(&b);
    pb_int(&b, 2, -1);   /* int64 -1: ten bytes of two's complement */
    CU_ASSERT(bytes_are(&b, (const uint8_t[]){0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 11));
    pb_free(&b);
    pb_string(&b, 2, "testing");  /* 12 07 74 65 73 74 69 6e 67 */
    CU_ASSERT(bytes_are(&b, (const uint8_t[]){0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'}, 9));
    pb_free(&b);
    pb_float(&b, 2, 1.0f);  /* wire type 5, little-endian 0x3f800000 */
    CU_ASSERT(bytes_are(&b, (const uint8_t[]){0x15, 0x00, 0x00, 0x80, 0x3f}, 5));
    pb_free(&b);
    PbBuf sub = {0};
    pb_int(&sub, 1, 150);
    pb_message(&b, 3, &sub);  /* 1a 03 08 96 01 */
    CU_ASSERT(bytes_are(&b, (const uint8_t[]){0x1a, 0x03, 0x08, 0x96, 0x01}, 5));
    pb_free(&b);
    pb_free(&sub);
    pb_int(&b, 20, 0);  /* a field number above 15 takes a two-byte tag: a0 01 00 */
    CU_ASSERT(bytes_are(&b, (const uint8_t[]){0xa0, 0x01, 0x00}, 3));
    CU_ASSERT(!pb_failed(&b));
    pb_free(&b);
}

/* A graph x -> relu -> windows_t (an op of the backward pass), encoded. */
static void test_no_form(void)
{
    Arena a;
    arena_init(&a);
    Source src;
    const char *text = "model t {\n    y = backward(x)\n}\n";
    source_from_memory(&src, &a, "t.nn", text, strlen(text));
    IrGraph g;
    ir_init(&g, &a, &src, "t", IR_F32);
    IrShape s = {5, {IR_BATCH, 1, 2, 2, 4}};
    int x = ir_input(&g, ROLE_INPUT, "x", IR_F32, &s, SPAN_NONE);
    int r = ir_unary(&g, IR_RELU, x, SPAN_NONE);
    IrAttr at = {.win = SQWIN(2, 2, 0), .shape = {4, {IR_BATCH, 1, 4, 4}}};
    Span where = {18, 29};  /* backward(x) */
    int w = ir_add(&g, IR_WINDOWS_T, &r, 1, &at, where);
    CU_ASSERT_FATAL(w >= 0);
    g.nodes[w].layer = "backward";
    char *diag = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&diag, &len);
    DiagSink ds;
    diag_init(&ds, &src, mem);
    const float *param[4] = {0};
    OnnxSource os = {.g = &g, .output = w, .need = onnx_needed(&g, w, &a), .output_name = "y", .param = param};
    PbBuf out = {0};
    CU_ASSERT_EQUAL(onnx_encode(&os, &a, &ds, &out), 1);
    diag_fini(&ds);
    fclose(mem);
    CU_ASSERT_STRING_EQUAL(diag, "t.nn:2:9: error: cannot export to ONNX: IR op 'windows_t' (from backward) has no "
                                 "ONNX form\n"
                                 "    2 |     y = backward(x)\n"
                                 "      |         ^~~~~~~~~~~\n");
    free(diag);
    pb_free(&out);
    /* the same graph up to the relu is written */
    os.output = r, os.need = onnx_needed(&g, r, &a);
    CU_ASSERT_EQUAL(onnx_encode(&os, &a, &(DiagSink){0}, &out), 0);
    CU_ASSERT(contains(&out, "Relu") && contains(&out, "batch") && !contains(&out, "windows"));
    pb_free(&out);
    arena_free(&a);
}

/* pool_max(x, relu(x)), y at x's first maximum, which lowering never makes
 * (autodiff's, backward only): refused where it came from; pool_max(x, x),
 * max pooling, is written as Max of the window elements. */
static void test_pool_max_general(void)
{
    Arena a;
    arena_init(&a);
    Source src;
    const char *text = "model t {\n    y = pooling(x)\n}\n";
    source_from_memory(&src, &a, "t.nn", text, strlen(text));
    IrGraph g;
    ir_init(&g, &a, &src, "t", IR_F32);
    IrShape s = {4, {IR_BATCH, 4, 4, 2}};
    int x = ir_input(&g, ROLE_INPUT, "x", IR_F32, &s, SPAN_NONE);
    int r = ir_unary(&g, IR_RELU, x, SPAN_NONE);
    IrAttr at = {.win = SQWIN(2, 2, 0)};
    Span where = {18, 28};  /* pooling(x) */
    int p = ir_add(&g, IR_POOL_MAX, (int[]){x, r}, 2, &at, where);
    int q = ir_add(&g, IR_POOL_MAX, (int[]){x, x}, 2, &at, where);
    CU_ASSERT_FATAL(p >= 0 && q >= 0);
    g.nodes[p].layer = "pooling";
    char *diag = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&diag, &len);
    DiagSink ds;
    diag_init(&ds, &src, mem);
    const float *param[5] = {0};
    OnnxSource os = {.g = &g, .output = p, .need = onnx_needed(&g, p, &a), .output_name = "y", .param = param};
    PbBuf out = {0};
    CU_ASSERT_EQUAL(onnx_encode(&os, &a, &ds, &out), 1);
    diag_fini(&ds);
    fclose(mem);
    CU_ASSERT_STRING_EQUAL(diag, "t.nn:2:9: error: cannot export to ONNX: IR op 'pool_max' (from pooling) with two "
                                 "different operands has no ONNX form (max pooling, pool_max(x, x), has)\n"
                                 "    2 |     y = pooling(x)\n"
                                 "      |         ^~~~~~~~~~\n");
    free(diag);
    pb_free(&out);
    os.output = q, os.need = onnx_needed(&g, q, &a);
    CU_ASSERT_EQUAL(onnx_encode(&os, &a, &(DiagSink){0}, &out), 0);
    CU_ASSERT(contains(&out, "Max") && contains(&out, "Slice") && !contains(&out, "pool_max"));
    pb_free(&out);
    arena_free(&a);
}

/* The ops with no ONNX form, and why: any other op needs a row. */
static const char *const no_form[] = {
    "scatter_add", "windows_t",             /* the backward pass only */
    "patches_t", "pool_max_t", "pool_rows_t", "pool_conv_t",
    "random_mask",                          /* dropout while training */
    "fused", "fused_rows", "matmul_epi",    /* the export reads the graph before fusion */
    "allreduce",                            /* data-parallel training: gradients only */
};

static void test_table(void)
{
    for (int op = 0; op < IR_OP_COUNT; op++) {
        bool listed = false;
        for (size_t k = 0; k < sizeof no_form / sizeof *no_form; k++)
            listed |= strcmp(no_form[k], ir_ops[op].name) == 0;
        if (listed == (onnx_op_name(op) != NULL)) {
            fprintf(stderr, "IR op '%s': %s\n", ir_ops[op].name,
                    listed ? "has an ONNX row but is listed as having none" : "has no ONNX row (compiler/drive/onnx.c)");
            CU_FAIL("op table");
        }
    }
}

/* docs/onnx.md: a "| `name` | ONNX |" row per op, the ONNX column as
 * onnx_op_name says, or "none: why" for an op without a form. */
static void test_docs(void)
{
    FILE *f = fopen(NNC_SOURCE_DIR "/docs/onnx.md", "r");
    CU_ASSERT_FATAL(f != NULL);
    char line[512];
    bool seen[IR_OP_COUNT] = {0};
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "| `", 3) != 0)
            continue;
        char *name = line + 3, *tick = strchr(name, '`');
        if (!tick || strncmp(tick, "` | ", 4) != 0)
            continue;
        *tick = 0;
        char *col = tick + 4, *end = strstr(col, " |");
        if (end)
            *end = 0;
        int op = 0;
        while (op < IR_OP_COUNT && strcmp(ir_ops[op].name, name) != 0)
            op++;
        if (op == IR_OP_COUNT) {
            fprintf(stderr, "docs/onnx.md: a row for '%s', which is no IR op\n", name);
            CU_FAIL("docs row for no op");
            continue;
        }
        seen[op] = true;
        const char *want = onnx_op_name(op);
        if (want ? strcmp(col, want) != 0 : strncmp(col, "none: ", 6) != 0) {
            fprintf(stderr, "docs/onnx.md: '%s' says '%s'; the table says '%s'\n", name, col, want ? want : "none: ...");
            CU_FAIL("docs row differs");
        }
    }
    fclose(f);
    for (int op = 0; op < IR_OP_COUNT; op++)
        if (!seen[op]) {
            fprintf(stderr, "docs/onnx.md: no row for IR op '%s'\n", ir_ops[op].name);
            CU_FAIL("docs row missing");
        }
}

static const TestCase tests[] = {
    {"the protobuf wire format", test_wire},
    {"an op with no ONNX form is refused where it came from", test_no_form},
    {"pool_max(x, y), y other than x, is refused where it came from", test_pool_max_general},
    {"every op has a row or is listed without one", test_table},
    {"docs/onnx.md's table is the op table", test_docs},
    {NULL, NULL},
};

void register_onnx(void) { add_suite("onnx", tests); }
