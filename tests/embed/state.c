/* state.c — a library's checkpoints and its optimizer (run.sh's state
 * case), on xor trained with adam (libadam_xor.so, header adam_xor.h):
 *   state DIR train   trains an instance 5 steps and saves DIR/full.safetensors
 *   state DIR resume  DIR/params.safetensors (full's parameters, no optimizer
 *                     state): an instance that trained 5 steps first and a
 *                     new one load it, then train 3 steps: the same losses, bit
 *                     for bit (the first kept its Adam moments and step);
 *                     then NaN inputs make the parameters NaN: save refuses,
 *                     says why, and leaves DIR/full.safetensors as it was
 * Prints what it checked; exit 1 on a failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slurp.h"
#include "adam_xor.h"

static const float X[8] = {0, 0, 0, 1, 1, 0, 1, 1}, Y[4] = {0, 1, 1, 0};

static int train(adam_xor *m, int steps, float *loss)
{
    for (int s = 0; s < steps; s++)
        if (adam_xor_train_step(m, 4, X, Y, &loss[s]) != 0) {
            printf("train_step: %s\n", adam_xor_last_error(m));
            return 1;
        }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    char full[4096], params[4096];
    snprintf(full, sizeof full, "%s/full.safetensors", argv[1]);
    snprintf(params, sizeof params, "%s/params.safetensors", argv[1]);
    float loss[8];
    if (strcmp(argv[2], "train") == 0) {
        adam_xor *m = adam_xor_create(3);
        int rc = !m || train(m, 5, loss) || adam_xor_save(m, full) != 0;
        adam_xor_destroy(m);
        return rc;
    }
    adam_xor *a = adam_xor_create(3), *b = adam_xor_create(3);
    float la[3], lb[3];
    if (!a || !b || train(a, 5, loss))
        return 1;
    if (adam_xor_load(a, params) != 0 || adam_xor_load(b, params) != 0) {
        printf("load: %s / %s\n", adam_xor_last_error(a), adam_xor_last_error(b));
        return 1;
    }
    if (train(a, 3, la) || train(b, 3, lb))
        return 1;
    for (int s = 0; s < 3; s++)
        printf("after a parameters-only load, step %d: %.9g %.9g\n", s, la[s], lb[s]);
    if (memcmp(la, lb, sizeof la) != 0) {
        printf("a trained instance kept its optimizer state through a parameters-only load\n");
        return 1;
    }
    long before_len = 0, after_len = 0;
    char *before = slurp(full, &before_len);
    const float nan_x[8] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    float l;
    if (!before || adam_xor_train_step(b, 4, nan_x, Y, &l) != 0)
        return 1;
    int rc = adam_xor_save(b, full);
    printf("save of NaN parameters: %d, %s\n", rc, rc ? adam_xor_last_error(b) : "");
    char want[5000];
    snprintf(want, sizeof want, "save: parameter 'hidden.weight' holds nan; nothing written ('%s' is left as it was)", full);
    char *after = slurp(full, &after_len);
    int ok = rc == -1 && strcmp(adam_xor_last_error(b), want) == 0 && after && after_len == before_len
             && memcmp(before, after, (size_t)before_len) == 0;
    free(before);
    free(after);
    adam_xor_destroy(a);
    adam_xor_destroy(b);
    if (!ok)
        printf("want -1, '%s', the file as it was\n", want);
    return !ok;
}
