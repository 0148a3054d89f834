/* forward.c LIB_DIR CHECKPOINT — examples/primer.nn as a library: created
 * from its typed-in weights, its forward pass gives the primer's 1.066 for
 * x = (1.5, -0.7); then it saves its parameters for check_ckpt.py. */
#include <math.h>
#include <stdio.h>

#include "primer.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    primer *m = primer_create(1);
    if (!m)
        return 1;
    float x[2] = {1.5f, -0.7f}, y = 0;
    if (primer_forward(m, 1, x, &y) != 0 || primer_save(m, argv[1]) != 0) {
        printf("FAIL: %s\n", primer_last_error(m));
        return 1;
    }
    printf("primer(1.5, -0.7) = %.7g\n", y);
    primer_destroy(m);
    if (fabs(y - 1.066) > 1e-6) {
        printf("FAIL: expected 1.066 (within 1e-6)\n");
        return 1;
    }
    return 0;
}
