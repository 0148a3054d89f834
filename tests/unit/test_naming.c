/* test_naming.c — stable parameter names (docs/language.md, "Parameter
 * names"): the binding's name, name:, defaults numbered per scope, user
 * layer and repeat prefixes, 'param' statements and sharing, and the torch
 * layouts of their shapes. */
#include <string.h>

#include "harness.h"

/* All parameter names and shapes, one per line: "hidden.weight [128,784]". */
static const char *params_of(const FrontRun *r)
{
    static char buf[8192];
    buf[0] = '\0';
    const SemaModel *m = r->f.model;
    if (!m)
        return "(not checked)";
    StrBuf sb = {0};
    for (int i = 0; i < m->nparams; i++) {
        sb_printf(&sb, "%s ", m->params[i].name);
        shape_print(&sb, &m->params[i].shape, false);
        sb_putc(&sb, '\n');
    }
    snprintf(buf, sizeof buf, "%s", sb_cstr(&sb));
    sb_free(&sb);
    return buf;
}

static void expect_params(const char *text, const char *want)
{
    FrontRun r;
    run_text(&r, text);
    if (r.status != NNC_OK)
        fprintf(stderr, "%s", r.diag);
    ASSERT_STR(params_of(&r), want);
    run_free(&r);
}

static void test_binding_names(void)
{
    expect_params("model m { input image: f32[784]\n"
                  "  hidden = relu(dense(image, 128))\n  logits = dense(hidden, 10)\n  output logits }",
                  "hidden.weight [128,784]\nhidden.bias [128]\nlogits.weight [10,128]\nlogits.bias [10]\n");
}

static void test_defaults_numbered(void)
{
    /* Rebinding x: default names, numbered in evaluation order. */
    expect_params("model m { input i: f32[4]\n"
                  "  x = dense(i, 8)\n  x = dense(layer_norm(x), 8, bias: false)\n  output x }",
                  "dense_1.weight [8,4]\ndense_1.bias [8]\nln.weight [8]\nln.bias [8]\ndense_2.weight [8,8]\n");
}

static void test_name_argument(void)
{
    expect_params("model m { input x: f32[4]\n"
                  "  y = dense(layer_norm(x, name: \"pre\"), 3)\n  output y }",
                  "pre.weight [4]\npre.bias [4]\ny.weight [3,4]\ny.bias [3]\n");
}

static void test_layers_and_repeat(void)
{
    expect_params("layer mlp(x, width: 8) { h = dense(x, width)\n return dense(h, 4) }\n"
                  "layer twice(x) { return mlp(mlp(x)) }\n"
                  "model m { input x: f32[4]\n"
                  "  y = twice(x)\n  z = repeat(2, mlp, y, name: \"stack\")\n  output z }",
                  "y.mlp_1.h.weight [8,4]\ny.mlp_1.h.bias [8]\ny.mlp_1.dense.weight [4,8]\ny.mlp_1.dense.bias [4]\n"
                  "y.mlp_2.h.weight [8,4]\ny.mlp_2.h.bias [8]\ny.mlp_2.dense.weight [4,8]\ny.mlp_2.dense.bias [4]\n"
                  "stack.0.h.weight [8,4]\nstack.0.h.bias [8]\nstack.0.dense.weight [4,8]\nstack.0.dense.bias [4]\n"
                  "stack.1.h.weight [8,4]\nstack.1.h.bias [8]\nstack.1.dense.weight [4,8]\nstack.1.dense.bias [4]\n");
}

static void test_shakespeare_names(void)
{
    FrontRun r;
    run_file(&r, NNC_SOURCE_DIR "/examples/shakespeare.nn");
    const char *p = params_of(&r);
    static const char *const want[] = {
        "embed.weight [65,128]\n", "pos.weight [64,128]\n", "blocks.0.ln_1.weight [128]\n",
        "blocks.2.attn.query.weight [128,128]\n", "blocks.2.attn.out.bias [128]\n",
        "blocks.3.dense_1.weight [512,128]\n", "blocks.3.dense_2.weight [128,512]\n",
        "blocks.3.ln_2.bias [128]\n", "ln_f.weight [128]\n", "logits.weight [65,128]\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        if (!strstr(p, want[i]))
            fprintf(stderr, "missing %s", want[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(p, want[i]));
    }
    CU_ASSERT_EQUAL(r.f.model->nparams, 70);
    CU_ASSERT_EQUAL(sema_param_count(r.f.model), 818241);
    run_free(&r);
}

static void test_conflicts(void)
{
    FrontRun r;
    /* two uses given one name share their parameters: p.weight and p.bias once */
    run_text(&r, "model m { input x: f32[4]\n  a = dense(x, 4, name: \"p\")\n  b = dense(a, 4, name: \"p\")\n  output b }");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.f.model);
    CU_ASSERT_EQUAL(r.f.model->nparams, 2);
    CU_ASSERT_EQUAL(sema_param_count(r.f.model), 20);
    run_free(&r);
    /* a binding's name that meets an explicit one is an accident */
    run_text(&r, "model m { input x: f32[4]\n  p = dense(x, 4)\n  b = dense(p, 4, name: \"p\")\n  output b }");
    ASSERT_STR(first_error(&r), "parameters named 'p' twice in this model");
    run_free(&r);
    run_text(&r, "model m { input x: f32[4]\n  a = dense(x, 4, name: \"a.b\")\n  output a }");
    ASSERT_STR(first_error(&r), "name: needs a string that is a plain name, such as \"encoder\"");
    run_free(&r);
    run_text(&r, "model m { input x: f32[4]\n  a = relu(x, name: \"r\")\n  output a }");
    ASSERT_STR(first_error(&r), "relu has no argument 'name'");
    run_free(&r);
}

/* 'param' statements: NAME in the model, the use's prefix in a layer (n.g,
 * blocks.i.g); uses sharing a name: keep one set; a user layer shared by
 * name shares its own params too. */
static void test_param_statements(void)
{
    expect_params("layer rms(x) { param g: f32[4] = ones()\n return x * g }\n"
                  "layer blk(x) { param g: f32[4] = zeros()\n return x + x * g }\n"
                  "model m { input x: f32[4]\n param w: f32[2, 4] = normal(0.1)\n param s: f32[] = 0.5\n"
                  "  n = rms(x)\n  h = repeat(2, blk, n)\n"
                  "  a = dense(h, 4, name: \"p\")\n  b = dense(a, 4, name: \"p\")\n"
                  "  c = rms(b, name: \"r\") + rms(x, name: \"r\")\n  output c * w * s }",
                  "w [2,4]\ns []\nn.g [4]\nblks.0.g [4]\nblks.1.g [4]\np.weight [4,4]\np.bias [4]\nr.g [4]\n");
}

static const TestCase tests[] = {
    {"param statements and sharing", test_param_statements},
    {"binding names", test_binding_names},
    {"default names numbered", test_defaults_numbered},
    {"name: argument", test_name_argument},
    {"user layers and repeat", test_layers_and_repeat},
    {"shakespeare's names", test_shakespeare_names},
    {"conflicts and bad names", test_conflicts},
    {NULL, NULL},
};

void register_naming(void) { add_suite("naming", tests); }
