/* test_constants.c — constant expressions: folding, integer rules, errors. */
#include <string.h>

#include "harness.h"

static void check_const(const char *decls, const char *name, ValueKind kind, double want)
{
    char text[512];
    snprintf(text, sizeof text, "%s\nmodel m { input x: f32[1]\n output x }\n", decls);
    FrontRun r;
    run_text(&r, text);
    CU_ASSERT_EQUAL(r.status, NNC_OK);
    const AstNode *c = r.f.prog.decls;
    while (c && !(c->kind == AST_CONST && strcmp(c->def.name, name) == 0))
        c = c->next;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->def.value->ann.kind, kind);
    if (kind == VAL_INT)
        CU_ASSERT_EQUAL(c->def.value->ann.i, (int64_t)want);
    if (kind == VAL_FLOAT)
        CU_ASSERT_DOUBLE_EQUAL(c->def.value->ann.f, want, 1e-12);
    run_free(&r);
}

static void check_error(const char *decls, const char *message)
{
    char text[512];
    snprintf(text, sizeof text, "%s\nmodel m { input x: f32[1]\n output x }\n", decls);
    FrontRun r;
    run_text(&r, text);
    CU_ASSERT_EQUAL(r.status, NNC_EINPUT);
    ASSERT_STR(first_error(&r), message);
    run_free(&r);
}

static void test_folding(void)
{
    check_const("const D = 128, F = 4 * D", "F", VAL_INT, 512);
    check_const("const A = 7 - 2 * 3", "A", VAL_INT, 1);
    check_const("const A = (7 - 2) * 3", "A", VAL_INT, 15);
    check_const("const A = -(-3)", "A", VAL_INT, 3);
    check_const("const A = 12 / 4", "A", VAL_INT, 3);
    check_const("const A = 1 / 4.0", "A", VAL_FLOAT, 0.25);
    check_const("const A = 2 * 0.5e-3", "A", VAL_FLOAT, 1e-3);
    check_const("const A = 4611686018427387904", "A", VAL_INT, 4611686018427387904.0);
}

/* exp, log, sqrt, abs and pow of numbers are numbers, computed at once */
static void test_number_functions(void)
{
    check_const("const A = sqrt(4.0)", "A", VAL_FLOAT, 2.0);
    check_const("const D = 64, S = 1 / sqrt(D)", "S", VAL_FLOAT, 0.125);
    check_const("const A = exp(0)", "A", VAL_FLOAT, 1.0);
    check_const("const A = log(exp(2.5))", "A", VAL_FLOAT, 2.5);
    check_const("const A = abs(-3)", "A", VAL_INT, 3);
    check_const("const A = abs(-2.5)", "A", VAL_FLOAT, 2.5);
    check_const("const A = pow(2, 10)", "A", VAL_FLOAT, 1024.0);
    check_const("const A = pow(2.0, 0.5) * sqrt(2.0)", "A", VAL_FLOAT, 2.0);
    check_error("const A = sqrt(-1)", "sqrt(-1) is not a real number");
    check_error("const A = log(0)", "log(0) is infinite");
    check_error("const A = exp(1000)", "exp(1000) is too large to represent");
    check_error("const A = pow(-8, 1 / 3.0)", "pow(-8, 0.333333) is not a real number");
    check_error("const A = sqrt([1.0, 4.0])", "a tensor literal belongs in a model or a layer body");
    check_error("const A = sqrt(\"s\")", "sqrt's x must be a number, found a string");
    check_error("const A = maximum(1, 2)", "a constant is computed from numbers; it cannot call maximum");
    /* in a model and a setting too; of a tensor they stay elementwise */
    FrontRun r;
    run_text(&r, "model m { input x: f32[4]\n target y: f32[1]\n output x * sqrt(4) + sqrt(x)\n"
                 " loss mse(dense(x, 1) * sqrt(4.0), y) }\n"
                 "train { data = csv(\"d.csv\") optimizer = sgd(lr: sqrt(1e-4)) batch = 2 epochs = 1 }");
    CU_ASSERT_EQUAL_FATAL(r.status, NNC_OK);
    CU_ASSERT_DOUBLE_EQUAL(r.f.model->train.optimizer_args[0].f, 1e-2, 1e-15);
    run_free(&r);
    run_text(&r, "model m { input x: f32[4]\n output x / sqrt(-4.0) }");
    ASSERT_STR(first_error(&r), "sqrt(-4) is not a real number");
    run_free(&r);
}

static void test_errors(void)
{
    check_error("const A = 10 / 4", "10 / 4 is not a whole number; write 10.0 / 4 for a fraction");
    check_error("const A = 1 / 0", "division by zero");
    check_error("const A = 1.5 / 0", "division by zero");
    check_error("const A = 9223372036854775807 + 1", "integer overflow in 9223372036854775807 + 1");
    check_error("const A = 4294967296 * 4294967296", "integer overflow in 4294967296 * 4294967296");
    check_error("const A = -9223372036854775807 - 1\nconst B = -A", "integer overflow in negation");
    check_error("const A = B + 1\nconst B = 2", "'B' is used before it is defined");
    check_error("const A = C", "unknown name 'C'");
    check_error("const A = relu(2)", "a constant is computed from numbers; it cannot call relu");
    check_error("const A = [1, 2]", "constant 'A' must be a number, a string or a truth value, found a list");
    check_error("const A = 1e308 * 10.0", "the result of this constant expression is too large");
    check_error("const A = 1\nconst A = 2", "redefinition of 'A'");
    check_error("const dense = 1", "'dense' is the name of a built-in layer");
    check_error("const A = \"s\" + 1", "cannot add a string and an integer");
}

static void test_dimensions(void)
{
    FrontRun r;
    run_text(&r, "const T = 0\nmodel m { input x: f32[T]\n output x }");
    ASSERT_STR(first_error(&r), "a dimension must be positive, found 0");
    run_free(&r);
    run_text(&r, "model m { input x: f32[2.5]\n output x }");
    ASSERT_STR(first_error(&r), "a dimension must be an integer, found a number");
    run_free(&r);
    run_text(&r, "model m { input x: f32[1048576, 1048576, 2]\n output x }");
    ASSERT_STR(first_error(&r), "this tensor has more than 2^40 elements per example");
    run_free(&r);
    /* the IR's 8 axes hold the batch: an input or target has 7 of its own */
    run_text(&r, "model m { input x: f32[1,1,1,1,1,1,1,1,1]\n output x }");
    ASSERT_STR(first_error(&r), "input 'x' has 9 dimensions per example; at most 7 (the batch is the 8th)");
    run_free(&r);
    run_text(&r, "model m { input x: f32[1,1,1,1,1,1,1,1]\n output x }");
    ASSERT_STR(first_error(&r), "input 'x' has 8 dimensions per example; at most 7 (the batch is the 8th)");
    run_free(&r);
    run_text(&r, "model m { input x: f32[2]\n target y: token(3)[1,1,1,1,1,1,1,2]\n output x }");
    ASSERT_STR(first_error(&r), "target 'y' has 8 dimensions per example; at most 7 (the batch is the 8th)");
    run_free(&r);
    run_text(&r, "model m { input x: f32[1,1,1,1,1,1,2]\n output x }");
    ASSERT_STR(first_error(&r), "");
    run_free(&r);
}

static const TestCase tests[] = {
    {"folding", test_folding},
    {"functions of numbers", test_number_functions},
    {"errors", test_errors},
    {"dimensions of types", test_dimensions},
    {NULL, NULL},
};

void register_constants(void) { add_suite("constants", tests); }
