/* test_naming.c — placeholder, filled in below. */
#include "harness.h"

static const TestCase tests[] = {
    {NULL, NULL},
};

void register_naming(void) { add_suite("naming", tests); }
