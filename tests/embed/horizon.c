/* horizon.c — a library's learning-rate schedule spans the train block's
 * epochs of its csv data (tests/embed/run.sh, case horizon): he.nn trains
 * `epochs = 2` of lin.csv's 64 examples at batch 16 under cosine(), hs.nn
 * `steps = 8`, the same model otherwise.  Both run train_step on the same 8
 * batches and must give the same losses bit for bit (the same horizon, 8
 * steps), and the rate is not 0 past step 2 (a library took 2 epochs for 2
 * steps: steps 3 and 7, the same batch, gave the same loss).  The examples
 * are run.sh's, made here by the same formula: multiples of 1/16, exact in
 * f32 and in the csv's decimals. */
#include <stdio.h>
#include <string.h>

#include "he.h"
#include "hs.h"

enum { N = 64, B = 16, STEPS = 8 };

int main(void)
{
    static float x[N][4], y[N];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 4; j++)
            x[i][j] = (float)((i * 7 + j * 3) % 17 - 8) / 8.0f;
        y[i] = x[i][0] - 2 * x[i][1] + 0.5f * x[i][2] + 3 * x[i][3] + 0.125f;
    }
    he *e = he_create(1);
    hs *s = hs_create(1);
    if (!e || !s)
        return fprintf(stderr, "create failed\n"), 1;
    float le[STEPS], ls[STEPS];
    for (int k = 0; k < STEPS; k++) {
        int b = k % (N / B);
        if (he_train_step(e, B, &x[b * B][0], &y[b * B], &le[k]) != 0
            || hs_train_step(s, B, &x[b * B][0], &y[b * B], &ls[k]) != 0)
            return fprintf(stderr, "train_step: %s%s\n", he_last_error(e), hs_last_error(s)), 1;
        printf("step %d: epochs = 2 %.9g, steps = 8 %.9g\n", k + 1, le[k], ls[k]);
    }
    he_destroy(e);
    hs_destroy(s);
    if (memcmp(le, ls, sizeof le) != 0)
        return fprintf(stderr, "the two horizons differ\n"), 1;
    if (le[6] == le[2] && le[7] == le[3])
        return fprintf(stderr, "no learning past step 2\n"), 1;
    return 0;
}
