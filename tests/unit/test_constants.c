/* test_constants.c — placeholder, filled in below. */
#include "harness.h"

static const TestCase tests[] = {
    {NULL, NULL},
};

void register_constants(void) { add_suite("constants", tests); }
