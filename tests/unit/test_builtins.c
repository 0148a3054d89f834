/* test_builtins.c — walks the table of built-ins: every row is complete and
 * consistent, so a new row cannot be half-added. (Each layer's shape rule
 * is tested in test_shapes.c, which also checks that every layer has rows.) */
#include <stdio.h>
#include <string.h>

#include "builtins.h"
#include "harness.h"

static void test_rows_complete(void)
{
    for (int i = 0; i < B_COUNT; i++) {
        const Builtin *b = &builtin_table[i];
        CU_ASSERT_PTR_NOT_NULL_FATAL(b->name);
        CU_ASSERT_PTR_NOT_NULL(b->doc);
        CU_ASSERT_PTR_EQUAL(builtin_lookup(b->name), b);  /* names are unique */
        bool needs_rule = b->cls == BC_LAYER || b->cls == BC_LOSS || b->cls == BC_METRIC || b->cls == BC_DATA;
        if (i != B_REPEAT)
            CU_ASSERT_EQUAL(b->check != NULL, needs_rule);
        if (b->pname)
            CU_ASSERT_EQUAL(b->cls, BC_LAYER);
    }
}

static void test_signatures(void)
{
    for (int i = 0; i < B_COUNT; i++) {
        const Builtin *b = &builtin_table[i];
        int np = builtin_nparams(b);
        bool seen_optional = false;
        for (int j = 0; j < np; j++) {
            const BuiltinParam *p = &b->params[j];
            CU_ASSERT_PTR_NOT_NULL(p->doc);
            CU_ASSERT_STRING_NOT_EQUAL(p->name, "name");  /* reserved for parameter naming */
            for (int k = 0; k < j; k++)
                CU_ASSERT_STRING_NOT_EQUAL(p->name, b->params[k].name);
            /* required parameters come first, so positional calls are unambiguous */
            if (p->required)
                CU_ASSERT_FALSE(seen_optional);
            seen_optional |= !p->required;
            if (!p->required && !p->def_from) {
                ValueKind want = p->kind == PK_INT || p->kind == PK_AXES || p->kind == PK_WINDOW ? VAL_INT
                               : p->kind == PK_FLOAT ? VAL_FLOAT : p->kind == PK_BOOL ? VAL_BOOL
                               : p->kind == PK_TENSOR ? VAL_NONE : VAL_STRING;
                CU_ASSERT_EQUAL(p->def.kind, want);
            }
            if (p->def_from) {
                int k = 0;
                while (k < j && strcmp(b->params[k].name, p->def_from) != 0)
                    k++;
                CU_ASSERT(k < j);
                CU_ASSERT_EQUAL(b->params[k].kind, p->kind);
            }
            if (p->range) {
                CU_ASSERT(p->kind == PK_INT || p->kind == PK_FLOAT || p->kind == PK_WINDOW);
                if (!p->required && !p->def_from)  /* defaults satisfy their own range */
                    CU_ASSERT(range_contains(p->range, p->kind == PK_FLOAT ? p->def.f : (double)p->def.i));
            }
            if (p->kind == PK_ENUM) {
                CU_ASSERT_PTR_NOT_NULL_FATAL(p->choices);
                CU_ASSERT_PTR_NOT_NULL(strstr(p->choices, p->def.s));
            }
        }
    }
}

static void test_ranges(void)
{
    CU_ASSERT(range_contains("[1,inf)", 1));
    CU_ASSERT_FALSE(range_contains("[1,inf)", 0));
    CU_ASSERT_FALSE(range_contains("(0,inf)", 0));
    CU_ASSERT(range_contains("(0,inf)", 1e-12));
    CU_ASSERT(range_contains("[0,1)", 0));
    CU_ASSERT_FALSE(range_contains("[0,1)", 1));
    CU_ASSERT(range_contains("(0,1]", 1));
    CU_ASSERT(range_contains("[1,1024]", 1024));
    CU_ASSERT_FALSE(range_contains("[1,1024]", 1025));
}

static void test_lookup(void)
{
    CU_ASSERT_PTR_EQUAL(builtin_lookup("attention"), &builtin_table[B_ATTENTION]);
    CU_ASSERT_PTR_EQUAL(builtin_lookup("cross_attention"), &builtin_table[B_CROSS_ATTENTION]);
    CU_ASSERT_PTR_NULL(builtin_lookup("Dense"));
    CU_ASSERT_PTR_NULL(builtin_lookup(""));
    ASSERT_STR(builtin_class_name(builtin_table[B_ADAMW].cls), "optimizer");
}

/* An argument of the train block's calls written as a setting ("lr = 0.1")
 * is noted as its class's (sema_train.c's note_argument_setting, which
 * tries the classes in turn): no argument's name may be an optimizer's and a
 * schedule's or a data source's, or the note would pick one by that order. */
static void test_train_arguments_apart(void)
{
    const BuiltinClass calls[] = {BC_OPTIMIZER, BC_SCHEDULE, BC_DATA};
    for (int i = 0; i < B_COUNT; i++)
        for (int j = 0; j < B_COUNT; j++) {
            const Builtin *a = &builtin_table[i], *b = &builtin_table[j];
            bool ia = false, ib = false;
            for (int c = 0; c < 3; c++)
                ia |= a->cls == calls[c], ib |= b->cls == calls[c];
            if (!ia || !ib || a->cls == b->cls)
                continue;
            for (int p = 0; p < builtin_nparams(a); p++)
                for (int q = 0; q < builtin_nparams(b); q++)
                    if (strcmp(a->params[p].name, b->params[q].name) == 0) {
                        fprintf(stderr, "\n%s and %s both take '%s'\n", a->name, b->name, a->params[p].name);
                        CU_FAIL("an argument's name in two classes of the train block's calls");
                    }
        }
}

static const TestCase tests[] = {
    {"every row complete", test_rows_complete},
    {"signatures consistent", test_signatures},
    {"range strings", test_ranges},
    {"lookup by name", test_lookup},
    {"train calls' arguments apart", test_train_arguments_apart},
    {NULL, NULL},
};

void register_builtins(void) { add_suite("builtins", tests); }
