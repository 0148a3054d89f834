/* app.c — uses the xor model from an installed nnc: create with seed 3 and
 * print the four outputs, which run.sh compares with nnc --predict. */
#include <stdio.h>

#include "xor.h"

int main(void)
{
    xor *m = xor_create(3);
    if (!m)
        return 1;
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    float p[4];
    if (xor_forward(m, 4, x, p) != 0) {
        fprintf(stderr, "%s\n", xor_last_error(m));
        return 1;
    }
    for (int i = 0; i < 4; i++)
        printf("%.7g\n", p[i]);
    xor_destroy(m);
    return 0;
}
