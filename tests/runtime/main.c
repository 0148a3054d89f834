/* main.c — runs one runtime suite (or all) and fails if anything failed. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_harness.h"

static char scratch[256];

const char *rt_scratch_dir(void)
{
    if (!scratch[0]) {
        snprintf(scratch, sizeof scratch, "/tmp/nnc-rt-test-XXXXXX");
        if (!mkdtemp(scratch))
            abort();
    }
    return scratch;
}

static void remove_scratch(void)
{
    if (scratch[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
        if (system(cmd) != 0)
            fprintf(stderr, "runtime_tests: could not remove %s\n", scratch);
    }
}

void rt_add_suite(const char *name, const RtTestCase *tests)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    for (const RtTestCase *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}

#define SUITES(X) X(data) X(checkpoint) X(pool) X(init) X(json) X(npy) X(bpe) X(pace) X(dist) X(memory)

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    atexit(remove_scratch);
    const char *want = argc > 1 ? argv[1] : NULL;
    int found = 0;
#define REGISTER(n)                            \
    if (!want || strcmp(want, #n) == 0) {      \
        register_rt_##n();                     \
        found++;                               \
    }
    SUITES(REGISTER)
    if (!found) {
        fprintf(stderr, "runtime_tests: no suite '%s'\n", want);
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    return failures || ran == 0 ? 1 : 0;
}
