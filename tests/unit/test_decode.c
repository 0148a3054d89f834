/* test_decode.c — the decode entry (lower.h, decode mode) against the
 * forward pass, in the reference interpreter in f64.
 *
 * Fed the tokens of a window one at a time, at places 0, 1, ..., with the
 * caches it returns fed back, the decode graph must give at every place the
 * logits the forward pass gives for that row of the whole window: the same
 * arithmetic in another order, so equal to 1e-12 in f64.  Two sequences of
 * different tokens in one batch check that the caches are per sequence.
 * Which models have a decode entry is checked by the exact reason for those
 * that have none.
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/fill.h"
#include "ir/interp.h"
#include "passes/pipeline.h"

enum { BATCH = 2 };

/* Two blocks; positions from a sinusoidal table, a learned one and a [T, D]
 * parameter added to the sequence, all read at the place by decode mode. */
static const char gpt[] =
    "const V = 7, T = 6, D = 8\n"
    "layer block(x) {\n"
    "    x = x + attention(layer_norm(x), heads: 2, causal: true)\n"
    "    x = x + dense(gelu(dense(layer_norm(x), 16)), D)\n"
    "    return x\n"
    "}\n"
    "model m {\n"
    "    input  text: token(V)[T]\n"
    "    target next: token(V)[T]\n"
    "    param shift: f32[T, D] = normal(0.5)\n"
    "    h = embedding(text, D) + positional(T, D, kind: sinusoidal) + shift\n"
    "    h = repeat(2, block, h)\n"
    "    h = h + positional(T, D)\n"
    "    logits = dense(layer_norm(h), V)\n"
    "    output logits\n"
    "    loss cross_entropy(logits, next)\n"
    "}\n";

/* one_hot of the tokens in place of an embedding: a lookup per position
 * (BR_POSITION), read at the place as embedding's is */
static const char one_hot_gpt[] =
    "const V = 7, T = 6, D = 8\n"
    "model m {\n"
    "    input  text: token(V)[T]\n"
    "    target next: token(V)[T]\n"
    "    h = dense(one_hot(text), D) + positional(T, D)\n"
    "    h = h + attention(layer_norm(h), heads: 2, causal: true)\n"
    "    logits = dense(layer_norm(h), V) + one_hot(text)\n"
    "    output logits\n"
    "    loss cross_entropy(logits, next)\n"
    "}\n";

/* The softmaxes and logsumexp along an axis other than the positions' (here
 * the last, named as 1 and as a list; BR_AXIS), logsumexp kept as [T, 1]:
 * one position's row each, read at the place as any row is */
static const char axis_gpt[] =
    "const V = 7, T = 6, D = 8\n"
    "model m {\n"
    "    input  text: token(V)[T]\n"
    "    target next: token(V)[T]\n"
    "    h = embedding(text, D) + positional(T, D)\n"
    "    h = h + attention(layer_norm(h), heads: 2, causal: true)\n"
    "    h = softmax(h, temperature: 2, axis: 1) + log_softmax(h, axis: [-1])\n"
    "    logits = dense(h, V) - logsumexp(h, axis: 1, keep: true)\n"
    "    output logits\n"
    "    loss cross_entropy(logits, next)\n"
    "}\n";

static int input_named(const IrGraph *g, IrRole role, const char *name)
{
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].op == IR_INPUT && g->nodes[i].a.role == role && strcmp(g->nodes[i].a.name, name) == 0)
            return i;
    return -1;
}

/* Decodes a window of two sequences place by place and compares every
 * place's logits with the forward pass's. */
static void check_decode(FrontRun *r, int want_caches)
{
    CU_ASSERT_FATAL(r->status == NNC_OK);
    const SemaModel *m = r->f.model;
    const char *err = NULL;
    NncCompiled fwd, dec;
    CU_ASSERT_FATAL(nnc_compile_parts(m, &r->f.src, &r->f.arena, IR_F64, STEP_PREDICT, false, STAGE_IR, BATCH, &fwd, &err) == 0);
    CU_ASSERT_FATAL(nnc_compile_parts(m, &r->f.src, &r->f.arena, IR_F64, STEP_DECODE, false, STAGE_IR, BATCH, &dec, &err) == 0);
    const IrGraph *gf = &fwd.step.L.g, *gd = &dec.step.L.g;
    int text = input_named(gf, ROLE_INPUT, "text");
    CU_ASSERT_FATAL(text >= 0);
    int64_t t_len = gf->nodes[text].shape.dim[1], v_len = gf->nodes[fwd.step.L.output].shape.dim[2];

    /* the window: tokens of two sequences */
    double x[BATCH * 64];
    CU_ASSERT_FATAL(t_len <= 64);
    for (int b = 0; b < BATCH; b++)
        for (int t = 0; t < t_len; t++)
            x[b * t_len + t] = (b * 5 + t * 3 + 1) % v_len;
    IrEval fe, de;
    ir_eval_init(&fe, gf, BATCH);
    nnc_fill_params(m, &fwd.step.L, &fe, 5);
    nnc_fill_batch(&fwd.step.L, &fe, 5);  /* (the target, which the output does not read) */
    ir_eval_set(&fe, text, x);
    CU_ASSERT_FATAL(ir_eval_run(&fe) == 0);
    int64_t len;
    const double *want = ir_eval_output(&fe, "output", &len);
    CU_ASSERT_FATAL(want && len == BATCH * t_len * v_len);

    ir_eval_init(&de, gd, BATCH);
    nnc_fill_params(m, &dec.step.L, &de, 5);
    int caches = 0;
    for (int i = 0; i < gd->n; i++)  /* the caches start empty */
        if (gd->nodes[i].op == IR_INPUT && gd->nodes[i].a.role == ROLE_STATE) {
            int64_t n = ir_elems(&gd->nodes[i].shape, BATCH);
            double *zero = calloc((size_t)n, sizeof *zero);
            ir_eval_set(&de, i, zero);
            free(zero);
            caches++;
        }
    CU_ASSERT_EQUAL(caches, want_caches);  /* a key and a value cache per attention */
    double worst = 0;
    for (int t = 0; t < t_len; t++) {
        double tok[BATCH] = {x[t], x[t_len + t]}, place[BATCH] = {t, t};
        ir_eval_set(&de, input_named(gd, ROLE_INPUT, "text"), tok);
        ir_eval_set(&de, input_named(gd, ROLE_INPUT, "position"), place);
        CU_ASSERT_FATAL(ir_eval_run(&de) == 0);
        const double *got = ir_eval_output(&de, "output", &len);
        CU_ASSERT_FATAL(got && len == BATCH * v_len);
        for (int b = 0; b < BATCH; b++)
            for (int v = 0; v < v_len; v++) {
                double d = fabs(got[b * v_len + v] - want[(b * t_len + t) * v_len + v]);
                worst = !(d <= worst) ? d : worst;  /* (a NaN stays) */
            }
        /* the caches it returns are the next place's */
        for (int o = 0; o < gd->nouts; o++)
            if (gd->outs[o].kind == OUT_UPDATE) {
                double *copy = malloc(sizeof(double) * (size_t)de.len[gd->outs[o].value]);
                memcpy(copy, de.val[gd->outs[o].value], sizeof(double) * (size_t)de.len[gd->outs[o].value]);
                ir_eval_set(&de, gd->outs[o].updates, copy);
                free(copy);
            }
    }
    if (!(worst <= 1e-12))
        fprintf(stderr, "\n%s: decode differs from the window by %g\n", m->name, worst);
    CU_ASSERT(worst <= 1e-12);
    ir_eval_free(&fe);
    ir_eval_free(&de);
}

static void test_decode_matches_window(void)
{
    FrontRun r;
    run_text(&r, gpt);
    check_decode(&r, 4);
    run_free(&r);
    /* weight tying: the output multiplies by the embedding table (a matmul
     * by a value without the batch) */
    run_file(&r, NNC_SOURCE_DIR "/tests/grad/tied_gpt.nn");
    check_decode(&r, 4);
    run_free(&r);
    run_text(&r, one_hot_gpt);
    check_decode(&r, 2);
    run_free(&r);
    run_text(&r, axis_gpt);
    check_decode(&r, 2);
    run_free(&r);
}

/* run_text on a program that must check cleanly (else its diagnostics) */
static void run_checked(FrontRun *r, const char *text)
{
    run_text(r, text);
    if (r->status != NNC_OK)
        fprintf(stderr, "\n%s", r->diag);
    CU_ASSERT_FATAL(r->status == NNC_OK);
}

/* The reason lower_decode_block gives for the model with `body`. */
static void expect_no_decode(const char *body, const char *why)
{
    char text[2048];
    snprintf(text, sizeof text,
             "model m {\n    input text: token(7)[6]\n    target next: token(7)[6]\n    h = embedding(text, 8)\n"
             "%s\n    output logits\n    loss cross_entropy(logits, next)\n}\n", body);
    FrontRun r;
    run_checked(&r, text);
    bool needed[64];
    const char *got = NULL;
    CU_ASSERT_EQUAL(lower_decode_block(r.f.model, &r.f.src, &r.f.arena, needed, &got), 0);
    ASSERT_STR(got ? got : "(none)", why);
    run_free(&r);
}

static void test_decode_refused(void)
{
    expect_no_decode("    logits = dense(h, 7) + reshape(dense(flatten(h), 42), shape: [6, 7])",
                     "flatten (line 5, in 'logits') does not keep the positions as its first axis");
    expect_no_decode("    logits = dense(h + sum(h, axis: 0, keep: true), 7)",
                     "sum (line 5, in 'logits') does not keep the positions as its first axis");
    expect_no_decode("    logits = dense(h + attention(h, heads: 2), 7)",
                     "attention (line 5, in 'attn') attends to later positions (it is not causal: true)");
    /* a mask made from the one input: still no decode entry (a cached key keeps no mask) */
    expect_no_decode("    logits = dense(h + attention(h, heads: 2, causal: true, mask: sum(h, axis: 1)), 7)",
                     "attention (line 5, in 'attn') has a mask (a decoded position's keys keep none)");
    expect_no_decode("    logits = dense(h + cross_attention(h, h, 2), 7)",
                     "cross_attention (line 5, in 'xattn') is not one of the built-ins that keep the positions apart");
    expect_no_decode("    logits = dense(transpose(matmul(h, transpose(h))), 7)",
                     "transpose (line 5, in 'logits') does not keep the positions as its first axis");
    expect_no_decode("    x = h[:, 0:4]\n    logits = dense(x, 7)", "a slice (line 5, in 'x') may mix the positions");
    /* along the positions: the softmaxes keep the shape, so their axis is the reason */
    expect_no_decode("    logits = dense(softmax(h, temperature: 2, axis: 0), 7)",
                     "softmax (line 5, in 'logits') works along the positions (its operand's axis 0)");
    expect_no_decode("    logits = dense(log_softmax(h, axis: [1, -2]), 7)",
                     "log_softmax (line 5, in 'logits') works along the positions (its operand's axis 0)");
    expect_no_decode("    logits = dense(h, 7) * reshape(softmax(sum(h)), [6, 1])",
                     "softmax (line 5, in 'logits') works along the positions (its operand's last axis)");
    /* positions one by one: a bigram model has a decode entry */
    FrontRun r;
    run_checked(&r, "model m {\n    input text: token(7)[6]\n    output dense(embedding(text, 8), 7)\n}\n");
    bool needed[16];
    const char *why = NULL;
    CU_ASSERT_EQUAL(lower_decode_block(r.f.model, &r.f.src, &r.f.arena, needed, &why), 6);
    run_free(&r);
}

static const TestCase tests[] = {
    {"decode_matches_window", test_decode_matches_window},
    {"decode_refused", test_decode_refused},
    {NULL, NULL},
};

void register_decode(void) { add_suite("decode", tests); }
