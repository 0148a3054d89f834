/* forward.c — a forward-only library (tests/embed/forward.nn: two inputs,
 * no loss, no train block) used from C: create, forward one example and a
 * batch of three, save and load.  Prints the first example's output, which
 * run.sh compares with nnc --predict --seed 7 on the same numbers.
 * Usage: forward DIR (for the checkpoint it writes). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "two_in.h"

static int check(int ok, const char *what)
{
    if (!ok)
        printf("FAIL: %s\n", what);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int bad = 0;
    bad |= check(TWO_IN_A_SIZE == 2 && TWO_IN_IDS_SIZE == 3 && TWO_IN_OUTPUT_SIZE == 2, "sizes");
    two_in *m = two_in_create(7);
    if (!m)
        return 1;
    /* the first example, then two more: the batch's first row must equal it */
    const float a[3 * TWO_IN_A_SIZE] = {0.5f, -1.0f, 2.0f, 0.25f, -3.0f, 1.0f};
    const int32_t ids[3 * TWO_IN_IDS_SIZE] = {4, 0, 2, 1, 1, 1, 3, 2, 0};
    float one[TWO_IN_OUTPUT_SIZE], three[3 * TWO_IN_OUTPUT_SIZE];
    bad |= check(two_in_forward(m, 1, a, ids, one) == 0, "forward 1");
    bad |= check(two_in_forward(m, 3, a, ids, three) == 0, "forward 3");
    bad |= check(memcmp(one, three, sizeof one) == 0, "row 0 of a batch of 3 equals the batch of 1");
    printf("%.7g %.7g\n", one[0], one[1]);
    /* a bad token id is the caller's business, but null arrays are refused */
    bad |= check(two_in_forward(m, 1, a, NULL, one) == -1, "a null input is refused");
    printf("%s\n", two_in_last_error(m));
    char path[4096];
    snprintf(path, sizeof path, "%s/fwd.safetensors", argv[1]);
    bad |= check(two_in_save(m, path) == 0, "save");
    two_in *other = two_in_create(8);
    float again[TWO_IN_OUTPUT_SIZE];
    bad |= check(other && two_in_forward(other, 1, a, ids, again) == 0 && memcmp(again, one, sizeof one) != 0,
                 "another seed gives other weights");
    bad |= check(other && two_in_load(other, path) == 0 && two_in_forward(other, 1, a, ids, again) == 0
                 && memcmp(again, one, sizeof one) == 0, "loading the saved weights gives the same output");
    two_in_destroy(other);
    two_in_destroy(m);
    return bad;
}
