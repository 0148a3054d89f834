/* test_types.c — placeholder, filled in below. */
#include "harness.h"

static const TestCase tests[] = {
    {NULL, NULL},
};

void register_types(void) { add_suite("types", tests); }
