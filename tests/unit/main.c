/* main.c — runs one CUnit suite (or all, with no argument) and exits
 * non-zero if anything failed.  ctest runs each suite as its own test. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define SUITES(X) X(lexer) X(parser) X(shapes) X(builtins) X(types) X(paths) X(diag) X(constants) X(naming) X(pipeline) X(codegen) X(codegen_models) X(codegen_grad) X(codegen_causal) X(interp) X(passes) X(plan) X(grad_ops) X(cg_math) X(docs_sync) X(onnx) X(decode) X(tune)

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    const char *want = argc > 1 ? argv[1] : NULL;
    int found = 0;
#define REGISTER(n)                                   \
    if (!want || strcmp(want, #n) == 0) {             \
        register_##n();                               \
        found++;                                      \
    }
    SUITES(REGISTER)
    if (!found) {
        fprintf(stderr, "unit_tests: no suite '%s'\n", want);
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    /* CU_cleanup_registry() zeroes the counters: read them first. */
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    return failures || ran == 0 ? 1 : 0;
}
