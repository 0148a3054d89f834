/* grow.c — training steps at batches above and below the one a library was
 * compiled for: the instance grows its memory for the larger ones.  Prints
 * every loss and the final forward outputs exactly (%a); run.sh compares
 * the library nnc wrote for tiny.nn's batch (8) with one written for
 * --batch 64, which never grows: the same bits.
 *
 * usage: grow
 */
#include <math.h>
#include <stdio.h>

#include "tiny.h"

enum { N = 41 };
static float xs[N * TINY_X_SIZE];
static int32_t ys[N];

int main(void)
{
    for (int i = 0; i < N * TINY_X_SIZE; i++)
        xs[i] = (float)sin(0.29 * i);
    for (int i = 0; i < N; i++)
        ys[i] = (i * 7) % 3;
    tiny *m = tiny_create(3);
    if (!m)
        return 1;
    static const int batches[] = {37, 3, 8, 41, 1, 16, 17, 40};
    for (int s = 0; s < (int)(sizeof batches / sizeof *batches); s++) {
        float loss;
        if (tiny_train_step(m, batches[s], xs, ys, &loss) != 0) {
            fprintf(stderr, "train_step %d: %s\n", batches[s], tiny_last_error(m));
            return 1;
        }
        printf("batch %d loss %a\n", batches[s], loss);
    }
    float out[N * TINY_OUTPUT_SIZE];
    if (tiny_forward(m, N, xs, out) != 0) {
        fprintf(stderr, "forward: %s\n", tiny_last_error(m));
        return 1;
    }
    for (int i = 0; i < N * TINY_OUTPUT_SIZE; i++)
        printf("%a\n", out[i]);
    tiny_destroy(m);
    return 0;
}
