/* test_shapes.c — placeholder, filled in below. */
#include "harness.h"

static const TestCase tests[] = {
    {NULL, NULL},
};

void register_shapes(void) { add_suite("shapes", tests); }
