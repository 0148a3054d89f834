/* test_lexer.c — placeholder, filled in below. */
#include "harness.h"

static const TestCase tests[] = {
    {NULL, NULL},
};

void register_lexer(void) { add_suite("lexer", tests); }
