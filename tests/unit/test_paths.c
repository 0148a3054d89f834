/* test_paths.c — compiler/util/path.c: the folder and file name of a path,
 * which the compiler records for a trainer (RtRecipe.model_dir: data beside
 * the model), the header of a library (beside it) and the runtime beside
 * nnc are found with.  A model at the root, "/x.nn", is in "/", not in ""
 * (which the runtime reads as no folder at all, so its data beside it was
 * never looked for). */
#include <string.h>

#include "harness.h"
#include "util/path.h"

static const struct {
    const char *path, *base, *dir, *beside;   /* beside: path_beside(path, "d.csv") */
} cases[] = {
    {"x.nn", "x.nn", ".", "./d.csv"},
    {"a/x.nn", "x.nn", "a", "a/d.csv"},
    {"a/b/x.nn", "x.nn", "a/b", "a/b/d.csv"},
    {"/x.nn", "x.nn", "/", "/d.csv"},
    {"//x.nn", "x.nn", "/", "//d.csv"},
    {"/a/x.nn", "x.nn", "/a", "/a/d.csv"},
    {"a/b/", "", "a/b", "a/b/d.csv"},
    {"a//x.nn", "x.nn", "a/", "a//d.csv"},
    {"/", "", "/", "/d.csv"},
    {"", "", ".", "./d.csv"},
    {"<stdin>", "<stdin>", ".", "./d.csv"},
};

static void test_split(void)
{
    Arena a;
    arena_init(&a);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = cases[i].path;
        ASSERT_STR(path_base(path), cases[i].base);
        CU_ASSERT_PTR_EQUAL(path_base(path), path + strlen(path) - strlen(cases[i].base));  /* into path */
        ASSERT_STR(path_dir(&a, path), cases[i].dir);
        ASSERT_STR(path_beside(&a, path, "d.csv"), cases[i].beside);
    }
    arena_free(&a);
}

static const TestCase tests[] = {
    {"folder and file name of a path", test_split},
    {NULL, NULL},
};

void register_paths(void) { add_suite("paths", tests); }
