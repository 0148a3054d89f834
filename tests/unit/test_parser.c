/* test_parser.c — the shape of the syntax tree, and syntax errors with
 * their exact text, location and recovery. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const AstNode *decl(const FrontRun *r, int i)
{
    const AstNode *d = r->f.prog.decls;
    while (d && i-- > 0)
        d = d->next;
    return d;
}

static void test_structure(void)
{
    FrontRun r;
    run_text(&r, "const A = 2, B = A * 3\n"
                 "layer f(x, w: 4) { y = x * w\n return -y }\n"
                 "model m { input x: f32[B]\n target t: class(3)\n"
                 "  h = f(x, w: 2,)\n output h + 1 * 2\n loss mse(h, h) }\n"
                 "train { data = csv(\"a.csv\"); }\n");
    /* the ';' is a syntax error; the tree before it is still built */
    CU_ASSERT_EQUAL(r.status, NNC_EINPUT);
    const AstNode *a = decl(&r, 0), *b = decl(&r, 1), *f = decl(&r, 2), *m = decl(&r, 3);
    CU_ASSERT_EQUAL(a->kind, AST_CONST);
    ASSERT_STR(a->def.name, "A");
    CU_ASSERT_EQUAL(b->kind, AST_CONST);
    CU_ASSERT_EQUAL(b->def.value->kind, AST_BINARY);
    CU_ASSERT_EQUAL(b->def.value->binary.op, BIN_MUL);
    CU_ASSERT_EQUAL(f->kind, AST_LAYER);
    CU_ASSERT_PTR_NULL(f->layer.params->def.value);
    CU_ASSERT_EQUAL(f->layer.params->next->def.value->i, 4);
    CU_ASSERT_EQUAL(f->layer.body->next->kind, AST_RETURN);
    CU_ASSERT_EQUAL(f->layer.body->next->stmt.value->kind, AST_NEG);
    CU_ASSERT_EQUAL(m->kind, AST_MODEL);
    const AstNode *in = m->layer.body, *tg = in->next, *h = tg->next, *out = h->next;
    CU_ASSERT_EQUAL(in->kind, AST_INPUT);
    CU_ASSERT(in->decl.type->type.has_dims);
    CU_ASSERT_EQUAL(tg->decl.type->type.arg->i, 3);
    CU_ASSERT_FALSE(tg->decl.type->type.has_dims);
    CU_ASSERT_EQUAL(h->def.value->call.nargs, 2);  /* trailing comma allowed */
    ASSERT_STR(h->def.value->call.args->next->arg.name, "w");
    /* precedence: h + (1 * 2) */
    CU_ASSERT_EQUAL(out->stmt.value->binary.op, BIN_ADD);
    CU_ASSERT_EQUAL(out->stmt.value->binary.rhs->binary.op, BIN_MUL);
    ASSERT_STR(first_error(&r), "unexpected character ';'");
    run_free(&r);
}

static void test_spans(void)
{
    FrontRun r;
    run_text(&r, "model m { input x: f32[4]\n h = dense(x, 3)\n output h }");
    const AstNode *h = r.f.prog.decls->layer.body->next;
    CU_ASSERT_EQUAL(h->span.begin, 27);
    CU_ASSERT_EQUAL(h->span.end, 42);
    CU_ASSERT_EQUAL(h->def.value->call.callee_span.begin, 31);
    CU_ASSERT_EQUAL(h->def.value->call.callee_span.end, 36);
    run_free(&r);
}

static void test_error_texts(void)
{
    static const struct { const char *text, *diag; } cases[] = {
        {"model m {\n  h = relu(dense(x 10))\n}\n",
         "t.nn:2:20: error: expected ',' or ')', found integer 10\n"
         "    2 |   h = relu(dense(x 10))\n"
         "      |                    ^~\n"
         "t.nn:2:18: note: is a ',' or a ':' missing after 'x'?\n"
         "    2 |   h = relu(dense(x 10))\n"
         "      |                  ^\n"
         "t.nn:2:17: note: to match this '('\n"
         "    2 |   h = relu(dense(x 10))\n"
         "      |                 ^\n"},
        {"model m {\n  input layer: f32[4]\n}\n",
         "t.nn:2:9: error: expected identifier, found reserved word 'layer'\n"
         "    2 |   input layer: f32[4]\n"
         "      |         ^~~~~\n"},
        {"model m {\n  h =\n}\n",
         "t.nn:2:6: error: expected expression at the end of the line, before '}'\n"
         "    2 |   h =\n"
         "      |      ^\n"},
        {"model m {\n  h = x x\n  output h\n}\n",
         "t.nn:2:9: error: expected '=' after 'x', found 'output'\n"
         "    2 |   h = x x\n"
         "      |         ^\n"},
        {"model m {\n  h = x +\n  y = 2\n}\n",
         "t.nn:3:5: error: unexpected '='\n"
         "    3 |   y = 2\n"
         "      |     ^\n"
         "t.nn:3:3: note: 'y' was read as the end of the statement before it; is that statement complete?\n"
         "    3 |   y = 2\n"
         "      |   ^\n"},
        {"model m {\n  h = f(x\n",
         "t.nn:2:10: error: expected ',' or ')', found end of file\n"
         "    2 |   h = f(x\n"
         "      |          ^\n"
         "t.nn:2:8: note: to match this '('\n"
         "    2 |   h = f(x\n"
         "      |        ^\n"},
        {"model m { output x }\nfoo\n",
         "t.nn:2:1: error: expected end of file, 'model', 'layer', 'train' or 'const', found identifier 'foo'\n"
         "    2 | foo\n"
         "      | ^~~\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        FrontRun r;
        run_text(&r, cases[i].text);
        CU_ASSERT_EQUAL(r.status, NNC_EINPUT);
        ASSERT_STR(r.diag, cases[i].diag);
        run_free(&r);
    }
}

static void test_recovery(void)
{
    /* Two independent mistakes: both reported, nothing in between. */
    FrontRun r;
    run_text(&r, "model m {\n  a = f(x 1)\n  b = g(y)\n  c = h(z,, 2)\n  output a\n}\n");
    CU_ASSERT_EQUAL(count_in(r.diag, NULL, ": error: "), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.diag, "t.nn:2:11: error: expected ',' or ')', found integer 1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.diag, "t.nn:4:11: error: expected expression or ')', found ','"));
    run_free(&r);
}

static void test_deep_nesting(void)
{
    /* Far deeper than any model: a message, not a crash. */
    size_t depth = 20000;
    char *text = malloc(depth * 2 + 64);
    strcpy(text, "model m { y = ");
    size_t n = strlen(text);
    memset(text + n, '(', depth);
    n += depth;
    text[n++] = '1';
    memset(text + n, ')', depth);
    n += depth;
    strcpy(text + n, " }");
    FrontRun r;
    run_text(&r, text);
    CU_ASSERT_EQUAL(r.status, NNC_EINPUT);
    ASSERT_STR(first_error(&r), "expression nested too deeply");
    run_free(&r);
    free(text);
}

/* x[i, a:b, :] is a postfix primary: it binds tighter than unary minus and
 * chains; a line ending in an expression is not continued by the next one,
 * since no statement starts with '['. */
static void test_subscripts(void)
{
    FrontRun r;
    run_text(&r, "model m { input x: f32[2, 3, 4]\n target y: f32[4]\n"
                 "  h = -x[0, 1:, :2][:]\n output h\n loss mse(x[1:, 0][0], y) }\n");
    CU_ASSERT_EQUAL(r.status, NNC_OK);
    ASSERT_STR(output_type(&r), "f32[B,2,2]");
    const AstNode *body = r.f.prog.decls->layer.body, *h = body->next->next, *out = h->next;
    const AstNode *neg = h->def.value;
    CU_ASSERT_EQUAL_FATAL(neg->kind, AST_NEG);
    const AstNode *outer = neg->unary.operand;     /* (x[0, 1:, :2])[:] */
    CU_ASSERT_EQUAL_FATAL(outer->kind, AST_INDEX);
    CU_ASSERT_EQUAL(outer->index.n, 1);
    CU_ASSERT_EQUAL(outer->index.items->kind, AST_RANGE);
    CU_ASSERT_PTR_NULL(outer->index.items->range.lo);
    CU_ASSERT_PTR_NULL(outer->index.items->range.hi);
    const AstNode *inner = outer->index.base;
    CU_ASSERT_EQUAL_FATAL(inner->kind, AST_INDEX);
    CU_ASSERT_EQUAL(inner->index.base->kind, AST_NAME);
    CU_ASSERT_EQUAL(inner->index.n, 3);
    const AstNode *i0 = inner->index.items, *i1 = i0->next, *i2 = i1->next;
    CU_ASSERT_EQUAL(i0->kind, AST_INT);
    CU_ASSERT_EQUAL(i1->kind, AST_RANGE);
    CU_ASSERT_EQUAL(i1->range.lo->i, 1);
    CU_ASSERT_PTR_NULL(i1->range.hi);
    CU_ASSERT_PTR_NULL(i2->range.lo);
    CU_ASSERT_EQUAL(i2->range.hi->i, 2);
    CU_ASSERT_EQUAL(out->kind, AST_OUTPUT);
    CU_ASSERT_EQUAL(out->stmt.value->kind, AST_NAME);   /* 'output h' ends at the line */
    CU_ASSERT_EQUAL(out->next->kind, AST_LOSS);
    run_free(&r);

    run_text(&r, "model m { input x: f32[3]\n output x[0:2:1] }\n");
    ASSERT_STR(first_error(&r), "expected ',' or ']', found ':'");
    run_free(&r);
    run_text(&r, "model m { input x: f32[3]\n output x[] }\n");
    ASSERT_STR(first_error(&r), "expected expression or ':', found ']'");
    run_free(&r);
}

static void test_empty(void)
{
    FrontRun r;
    run_text(&r, "# nothing but a comment\n");
    CU_ASSERT_EQUAL(r.status, NNC_EINPUT);
    ASSERT_STR(r.diag, "t.nn: error: no model in this file; describe one with 'model NAME { ... }'\n");
    run_free(&r);
}

static const TestCase tests[] = {
    {"tree structure", test_structure},
    {"spans", test_spans},
    {"syntax error texts", test_error_texts},
    {"recovery without cascades", test_recovery},
    {"deep nesting", test_deep_nesting},
    {"empty file", test_empty},
    {"subscripts", test_subscripts},
    {NULL, NULL},
};

void register_parser(void) { add_suite("parser", tests); }
