/* test_tune.c — the matmul's choices by CPU (compiler/codegen/cg_tune.c):
 * which row a CPU name or feature string gets, that the compile cache's key
 * holds every field of it, and that the generated code follows a field.
 *
 * The rows' values are the table's to state (and docs/training.md's to
 * explain); these tests check what must hold of any values: the register
 * tile fits the registers, a changed field is a different key, and the
 * prefetch of op(B)'s copy is where the row puts it and absent where the
 * row says none. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cg.h"
#include "passes/passes.h"
#include "passes/pipeline.h"

/* CPU names of LLVM 19 (and a feature string for a name not in the table)
 * and the row each gets. */
static void test_rows_by_cpu(void)
{
    static const struct {
        const char *cpu, *features, *row;
    } cases[] = {
        {"znver4", "", "avx512-split"},
        {"znver5", "", "avx512-full"},
        {"sapphirerapids", "", "avx512-full"},
        {"x86-64-v4", "", "avx512-full"},
        {"tigerlake", "", "avx512-split"},
        {"znver3", "", "avx2"},
        {"x86-64-v3", "", "avx2"},
        {"haswell", "", "avx2"},
        {"x86-64", "", "generic"},
        {"", "", "generic"},
        /* a name LLVM has no row for: the host's features decide */
        {"future-core", "+sse2,+avx2,+avx512f,+fma", "avx512-full"},
        {"future-core", "+sse2,+avx2,-avx512f", "avx2"},
        {"future-core", "+sse2,-avx2,+avx512fp16", "generic"},  /* avx512fp16 is not avx512f */
        {NULL, "+avx2", "avx2"},
        /* a name whose vectors the features take away (a virtual machine
         * that masks them): the row of what is left */
        {"znver4", "+avx2,-avx512f", "avx2"},
        {"sapphirerapids", "-avx512f,+avx2", "avx2"},
        {"znver5", "-avx512f,-avx2", "generic"},
        {"haswell", "-avx2", "generic"},
        {"znver4", "+avx2,+avx512f", "avx512-split"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const CgTune *t = cg_tune_row(cases[k].cpu, cases[k].features);
        if (!getenv("NNC_TILE"))  /* the row the compiler takes, without a caller's tile */
            CU_ASSERT_PTR_EQUAL(cg_tune_for(cases[k].cpu, cases[k].features), t);
        if (strcmp(t->name, cases[k].row) != 0)
            fprintf(stderr, "cpu '%s' features '%s': row %s, not %s\n", cases[k].cpu ? cases[k].cpu : "(null)",
                    cases[k].features, t->name, cases[k].row);
        CU_ASSERT_STRING_EQUAL(t->name, cases[k].row);
        /* the tile's accumulators, a k step's vectors of B and one broadcast
         * fit the registers: 32 vector registers with AVX-512 (zmm), 16 with
         * AVX2 (ymm).  Not the generic row's: the tile before the table,
         * whose zmm LLVM splits on a CPU without them into more than its 16
         * registers (it spills there; no such CPU was measured) */
        if (strcmp(t->name, "generic") != 0)
            CU_ASSERT(t->mr * t->nrv + t->nrv + 1 <= (strcmp(t->name, "avx2") == 0 ? 16 : 32));
        CU_ASSERT(t->pack_group >= 1 && t->prefetch_rows >= 0 && t->prefetch_row_bytes > 0);
        CU_ASSERT(t->kc > 0 && t->patch_chunk_bytes > 0);  /* chunk_depth divides by kc */
    }
}

/* z = yᵀ·x [8, 9000], K = the batch: op(B) = x copied row by row into
 * panels (cg_matmul.c's pack_rows), planned for 64 rows: x is 2.3 MB, rows
 * of 36 KB, so Zen 4's row prefetches 8 rows ahead. */
static IrPlan *product(IrGraph *g, Arena *arena)
{
    ir_init(g, arena, NULL, "tune", IR_F32);
    IrShape ys = {2, {IR_BATCH, 8}}, xs = {2, {IR_BATCH, 9000}};
    int y = ir_input(g, ROLE_INPUT, "y", IR_F32, &ys, SPAN_NONE);
    int x = ir_input(g, ROLE_INPUT, "x", IR_F32, &xs, SPAN_NONE);
    ir_output(g, "z", ir_matmul(g, y, x, true, false, SPAN_NONE), OUT_PREDICTION, -1);
    CU_ASSERT_PTR_NULL_FATAL(ir_error(g));
    pass_fuse(g);
    CU_ASSERT_PTR_NULL_FATAL(ir_verify(g));
    return plan_memory(g, 64);
}

static void key_of(const IrGraph *g, const IrPlan *p, const CgTune *tune, char key[33])
{
    const char *err = NULL;
    CgOptions o = {.cpu = "znver4", .opt = 3, .tune = tune};
    CU_ASSERT_EQUAL_FATAL(cg_key(&(CgEntry){g, p, "tune", false}, 1, &o, key, &err), 0);
}

/* The key of a product for znver4 with its row (tune NULL: cg_tune_for's,
 * NNC_TILE's tile when the caller set one), with a copy of the row (the
 * same key: the values count, not where they are), and with each field of
 * the copy one more, or the name changed (each a new key). */
static void test_key_holds_every_field(void)
{
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    IrPlan *p = product(&g, &arena);
    char row_key[33], key[33];
    key_of(&g, p, NULL, row_key);
    CgTune t = *cg_tune_for("znver4", "");
    key_of(&g, p, &t, key);
    CU_ASSERT_STRING_EQUAL(key, row_key);
#define CHANGED(f)                                                             \
    {                                                                          \
        CgTune u = t;                                                          \
        u.f++;                                                                 \
        key_of(&g, p, &u, key);                                                \
        if (strcmp(key, row_key) == 0)                                         \
            fprintf(stderr, "the cache key does not change with " #f "\n"); \
        CU_ASSERT_STRING_NOT_EQUAL(key, row_key);                              \
    }
    CG_TUNE_FIELDS(CHANGED)
#undef CHANGED
    t.name = "another";
    key_of(&g, p, &t, key);
    CU_ASSERT_STRING_NOT_EQUAL(key, row_key);
    arena_free(&arena);
}

/* How often needle occurs in the LLVM IR of g as generated (opt 0) for
 * znver4 (a 12 x 32 tile) with tune (NULL: its row of the table, not a
 * caller's NNC_TILE). */
static int count_in_llvm(const IrGraph *g, const IrPlan *p, const CgTune *tune, const char *needle)
{
    StrBuf text = {0};
    const char *err = NULL;
    CgOptions o = {.cpu = "znver4", .opt = 0, .tune = tune ? tune : cg_tune_row("znver4", "")};
    CU_ASSERT_EQUAL_FATAL(cg_dump(g, p, "tune", &o, CG_DUMP_LLVM, &text, &err), 0);
    int n = count_in(sb_cstr(&text), NULL, needle);
    sb_free(&text);
    return n;
}

/* The prefetch of op(B)'s copy follows the row: the copy's two vectors of
 * a row (NR = 32 reals, 16 a vector) each get one prefetch, prefetch_rows
 * rows of 9000 reals on (+ 72000 and + 72016 reals at 8 rows, + 36000 and
 * + 36016 at 4), none at 0 rows, nor for a B under prefetch_b_bytes (x at
 * 64 rows is 2,304,000 bytes), nor for rows under prefetch_row_bytes (x's
 * are 36,000 bytes). */
static void test_prefetch_follows_row(void)
{
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    IrPlan *p = product(&g, &arena);
    const char *call = "call void @llvm.prefetch";
    CgTune t = *cg_tune_row("znver4", "");
    CU_ASSERT_EQUAL(t.prefetch_rows, 8);  /* what the counts below are for */
    int at8 = count_in_llvm(&g, p, &t, call);
    CU_ASSERT(at8 > 0 && at8 % 2 == 0);
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, ", 72000\n"), at8 / 2);
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, ", 72016\n"), at8 / 2);
    t.prefetch_rows = 4;
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, call), at8);
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, ", 36000\n"), at8 / 2);
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, ", 72000\n"), 0);
    t.prefetch_rows = 0;
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, call), 0);
    t.prefetch_rows = 8;
    t.prefetch_b_bytes = 2304000;
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, call), at8);
    t.prefetch_b_bytes = 2304001;
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, call), 0);
    t.prefetch_b_bytes = 2304000;
    t.prefetch_row_bytes = 36000;
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, call), at8);
    t.prefetch_row_bytes = 36001;
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, call), 0);
    arena_free(&arena);
}

/* The copy's other choices follow the row too: its groups are pack_group
 * panels (the rounding up before their
 * division, "add nsw i64 %N, 7" then "%groups = sdiv ..."); and the compares
 * that decide whether a claim packs all its panels first ("%claim_bytes,
 * 4194304") and whether a thread keeps every chunk through the call take
 * claim_pack_bytes and keep_packed_bytes (4 MB in the row: given values
 * of their own, each appears where 4194304 did for it). */
static void test_packing_follows_row(void)
{
    Arena arena;
    arena_init(&arena);
    IrGraph g;
    IrPlan *p = product(&g, &arena);
    CgTune t = *cg_tune_row("znver4", "");
    CU_ASSERT_EQUAL(t.pack_group, 8);  /* what the needles below are for */
    int groups = count_in_llvm(&g, p, &t, "%groups = sdiv");
    CU_ASSERT(groups > 0);
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, ", 7\n  %groups = sdiv"), groups);
    t.pack_group = 5;
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, ", 7\n  %groups = sdiv"), 0);
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, ", 4\n  %groups = sdiv"), groups);

    t = *cg_tune_row("znver4", "");
    CU_ASSERT_EQUAL(t.claim_pack_bytes, 4194304);
    CU_ASSERT_EQUAL(t.keep_packed_bytes, 4194304);
    int claim = count_in_llvm(&g, p, &t, "%claim_bytes, 4194304\n"), both = count_in_llvm(&g, p, &t, ", 4194304\n");
    CU_ASSERT(claim > 0 && both > claim);
    t.claim_pack_bytes = 4194301;
    t.keep_packed_bytes = 4194299;
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, "%claim_bytes, 4194301\n"), claim);
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, ", 4194299\n"), both - claim);
    CU_ASSERT_EQUAL(count_in_llvm(&g, p, &t, ", 4194304\n"), 0);
    arena_free(&arena);
}

/* ... in the training step of model, planned at batch 4, with tune (NULL:
 * znver4's row). */
static int count_in_model(const char *model, const CgTune *tune, const char *needle)
{
    FrontRun fr;
    run_text(&fr, model);
    CU_ASSERT_STRING_EQUAL_FATAL(first_error(&fr), "");
    NncCompiled c;
    const char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(nnc_compile(fr.f.model, &fr.f.src, &fr.f.arena, IR_F32, STAGE_PLAN, 4, &c, &err), 0);
    int n = count_in_llvm(&c.step.L.g, c.plan, tune, needle);
    run_free(&fr);
    return n;
}

#define CONV_MODEL(image, kernel) CONV_MODEL_C(1, image, kernel)
#define CONV_MODEL_C(channels, image, kernel)                        \
    "model rows {\n"                                                 \
    "    input x: f32[" #channels ", " #image ", " #image "]\n"       \
    "    target y: class(3)\n"                                       \
    "    c = relu(conv2d(x, 4, kernel: " #kernel ", padding: 1))\n"  \
    "    logits = dense(flatten(c), 3)\n"                            \
    "    output logits\n"                                            \
    "    loss cross_entropy(logits, y)\n"                            \
    "}\n"

/* A convolution's forward reads its image as patches; its output is 6
 * pixels wide in both models, 36 rows an example.  With 3 x 3 taps it reads
 * them in place, tap by tap, and a block of 6 rows (one row of output
 * pixels: cg_implicit_row_block) skips a tap in the padding: a tile of 6 x
 * 32 reals.  With 17 x 17 taps (more than cg_matmul.c's TAP_ROWS_MAX) its
 * rows are copied, nothing is skipped, and 36 rows take 3 blocks of the
 * row's 12: no tile of 6 rows in the step (with blocks of an output row
 * there were two). */
static void test_patch_rows_blocks(void)
{
    const char *six_rows = "%tile = alloca float, i64 192,";
    CU_ASSERT(count_in_model(CONV_MODEL(6, 3), NULL, six_rows) >= 1);
    int copied = count_in_model(CONV_MODEL(20, 17), NULL, six_rows);
    if (copied)
        fprintf(stderr, "rows copied from patches: %d tiles of 6 rows\n", copied);
    CU_ASSERT_EQUAL(copied, 0);
}

/* A causal attention of T = 64 and heads of 32: its products with a
 * triangle (passes/triangle.c) take the rows that cost least over the work
 * the triangle leaves (cg_matmul.c's tri_mr, by tri_block_work): 8 rows
 * for Q·Kᵀ, dO·Vᵀ (C's triangle: 20 vectors of 32, not 24 of 12 rows) and
 * P·V, dS·K (op(A)'s lower triangle), 11 for Pᵀ·dO and dSᵀ·Q (its upper
 * one), as in the GPT (T = 64, heads of 32); every other product the
 * row's 12.  Counted as the tiles' buffers in the generated code, which
 * prints each body twice (as generated and after its pipeline, empty at
 * opt 0), products of one shape and triangle sharing a body: two bodies
 * of 8 rows, two of 11, four of 12. */
static void test_triangle_rows(void)
{
    static const char model[] = "const T = 64, D = 64\n"
                                "model tri {\n"
                                "    input  x: f32[T, D]\n"
                                "    target y: f32[T, D]\n"
                                "    h = x + attention(layer_norm(x), heads: 2, causal: true)\n"
                                "    output h\n"
                                "    loss mse(h, y)\n"
                                "}\n";
    int rows8 = count_in_model(model, NULL, "%tile = alloca float, i64 256,");
    int rows11 = count_in_model(model, NULL, "%tile = alloca float, i64 352,");
    int rows12 = count_in_model(model, NULL, "%tile = alloca float, i64 384,");
    if (rows8 != 4 || rows11 != 4 || rows12 != 8)
        fprintf(stderr, "triangle rows: tiles of 8, 11 and 12 rows printed %d, %d and %d times, not 4, 4 and 8\n", rows8,
                rows11, rows12);
    CU_ASSERT(rows8 == 4 && rows11 == 4 && rows12 == 8);
}

/* docs/training.md ("Threads and the host CPU") names every field of the
 * row, in backquotes, as the table of CG_TUNE_FIELDS grows. */
static void test_fields_documented(void)
{
    char *doc = read_whole(NNC_SOURCE_DIR "/docs/training.md");
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
#define DOCUMENTED(f)                                                          \
    if (!strstr(doc, "`" #f "`"))                                              \
        fprintf(stderr, "docs/training.md does not name the row's field " #f "\n"); \
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, "`" #f "`"));
    CG_TUNE_FIELDS(DOCUMENTED)
#undef DOCUMENTED
    free(doc);
}

/* A 3 x 3 convolution over 128 channels: its forward reads its image as
 * patches, K = 1152 deep, and 4 filters are one panel of 32 columns: all
 * of op(B) packed is 1152 x 32 reals, 147456 bytes.  Under the row's
 * patch_chunk_bytes (a share of its L3) that is one chunk, read in place tap by tap
 * (the tap rows' pointers); one byte fewer and it is chunks of copied rows
 * (apack), as every product deeper than 1024 was before. */
static void test_patch_chunk_follows_row(void)
{
    const char *model = CONV_MODEL_C(128, 6, 3), *in_place = "%tap_rows = alloca", *copied = "%apack = alloca";
    CgTune t = *cg_tune_row("znver4", "");
    CU_ASSERT(t.patch_chunk_bytes >= 147456);  /* what the counts below are for */
    CU_ASSERT(count_in_model(model, &t, in_place) >= 1);
    CU_ASSERT_EQUAL(count_in_model(model, &t, copied), 0);
    t.patch_chunk_bytes = 147456;
    CU_ASSERT(count_in_model(model, &t, in_place) >= 1);
    CU_ASSERT_EQUAL(count_in_model(model, &t, copied), 0);
    t.patch_chunk_bytes = 147455;
    CU_ASSERT_EQUAL(count_in_model(model, &t, in_place), 0);
    CU_ASSERT(count_in_model(model, &t, copied) >= 1);
}

/* A dense layer over 512 features: its forward x·Wᵀ is K = 512 deep, one
 * chunk below kc + kc / 2 (the row's 512: 768) and two at the 256 every row
 * had before the field; a product taken in chunks resumes its tiles from C
 * (blocks "resume_whole"), one in a single chunk does not.  The weight
 * gradient's depth is the batch, known only at run time: its chunks are
 * the same code whatever kc is. */
static void test_chunks_follow_row(void)
{
    const char *model = "model wide {\n    input x: f32[512]\n    target y: class(3)\n"
                        "    logits = dense(x, 3)\n    output logits\n    loss cross_entropy(logits, y)\n}\n";
    const char *resume = "resume_whole:";
    CgTune t = *cg_tune_row("znver4", "");
    CU_ASSERT_EQUAL(t.kc, 512);  /* what the counts below are for */
    int one = count_in_model(model, &t, resume);
    t.kc = 256;
    int chunked = count_in_model(model, &t, resume);
    CU_ASSERT(chunked > one);
    t.kc = 342;  /* 342 + 171 = 513: still one chunk */
    CU_ASSERT_EQUAL(count_in_model(model, &t, resume), one);
    t.kc = 341;  /* 341 + 170 = 511: chunks */
    CU_ASSERT_EQUAL(count_in_model(model, &t, resume), chunked);
    t.kc = 342;  /* 513 deep at 342 + 171 = 513: chunks (one chunk is below it, not at it) */
    const char *deeper = "model wide {\n    input x: f32[513]\n    target y: class(3)\n"
                         "    logits = dense(x, 3)\n    output logits\n    loss cross_entropy(logits, y)\n}\n";
    CU_ASSERT_EQUAL(count_in_model(deeper, &t, resume), chunked);
    CU_ASSERT_EQUAL(cg_tune_row("x86-64-v3", "")->kc, 256);
}

static const TestCase tests[] = {
    {"the row for CPU names and feature strings", test_rows_by_cpu},
    {"the cache key holds every field of the row", test_key_holds_every_field},
    {"op(B)'s copy prefetches as far ahead as the row says", test_prefetch_follows_row},
    {"op(B)'s copy takes its groups and byte bounds from the row", test_packing_follows_row},
    {"rows read as patches take blocks of an output row only where taps are skipped", test_patch_rows_blocks},
    {"products with a triangle take the rows that cost least over what they run", test_triangle_rows},
    {"rows read as patches in place are one chunk while op(B) packed fits the row's bytes", test_patch_chunk_follows_row},
    {"a product is one chunk below 1.5 times the row's kc", test_chunks_follow_row},
    {"docs/training.md names every field of the row", test_fields_documented},
    {NULL, NULL},
};

void register_tune(void) { add_suite("tune", tests); }
