/* fold.c — a library's forward keeps its weights packed between calls on
 * the fold path too (run.sh's fold case): tests/embed/fold.nn, a GPT-like
 * text model whose products take the batch's examples times their T = 8
 * positions as rows, so that a batch of one takes the tiled path and keeps
 * each Wᵀ packed (cg_matmul_keeps_packing: five bodies call
 * rt_kept_scratch; run.sh checks):
 *   fold DIR   the forward of an instance, at batches 1 and 3, after create,
 *              after train_step, and after a load_memory that is refused
 *              (a tensor's shape changed), equals bit for bit the forward of
 *              a new instance that loaded the same parameters (saved to
 *              DIR); a stale packing would give the old weights' products
 * Prints what it checked; exit 1 on a failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "fold.h"

enum { MOST = 3, T = 8, V = 7, OUT = FOLD_OUTPUT_SIZE };

static int32_t text[MOST * T], next[MOST * T];
static float got[MOST * OUT], want[MOST * OUT];

/* m's forward at batches 1 and 3 against a new instance's that loaded m's
 * parameters: -1 on a difference or an error, else 0. */
static int same_as_new(fold *m, const char *dir, const char *after)
{
    static const int64_t batches[] = {1, MOST};
    TestPath path;
    test_path(path, dir, "now.safetensors");
    fold *fresh = fold_create(99);
    if (!fresh || fold_save(m, path) != 0 || fold_load(fresh, path) != 0) {
        printf("%s: save or load: %s\n", after, fold_last_error(m));
        fold_destroy(fresh);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof batches / sizeof *batches && rc == 0; i++) {
        int64_t b = batches[i];
        if (fold_forward(m, b, text, got) != 0 || fold_forward(fresh, b, text, want) != 0) {
            printf("%s: forward: %s\n", after, fold_last_error(m));
            rc = -1;
        } else if (memcmp(got, want, sizeof *got * (size_t)(b * OUT)) != 0) {
            printf("%s, batch %lld: the forward differs from a new instance's with the same parameters "
                   "(a packing of the old weights?)\n", after, (long long)b);
            rc = -1;
        }
    }
    fold_destroy(fresh);
    if (rc == 0)
        printf("%s: forward at batches 1 and %d equals a new instance's\n", after, MOST);
    return rc;
}

/* The first `what` in a safetensors file's JSON header (bytes [8, 8 + n),
 * n the little-endian length in its first 8), never in the tensors' data
 * after it; NULL when it is not there or the header is cut short. */
static char *in_header(char *bytes, long len, const char *what)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0 && len >= 8; i--)
        n = n << 8 | (unsigned char)bytes[i];
    size_t w = strlen(what);
    if (len < 8 || n > (uint64_t)len - 8)
        return NULL;
    for (uint64_t i = 0; i + w <= n; i++)
        if (memcmp(bytes + 8 + i, what, w) == 0)
            return bytes + 8 + i;
    return NULL;
}

/* A load_memory of m's own checkpoint with the first [7, 16] tensor's shape
 * written [16, 7] (the same length): refused, after load counted a new
 * version of the weights.  0 when it was refused. */
static int refused_load(fold *m, const char *dir)
{
    TestPath path;
    test_path(path, dir, "bad.safetensors");
    long len = 0;
    char *bytes = fold_save(m, path) == 0 ? slurp(path, &len) : NULL;
    char *shape = bytes ? in_header(bytes, len, "[7,16]") : NULL;
    if (!shape) {
        printf("no [7,16] tensor in fold's checkpoint to change\n");
        free(bytes);
        return -1;
    }
    memcpy(shape, "[16,7]", 6);
    int rc = fold_load_memory(m, bytes, (size_t)len);
    free(bytes);
    if (rc == 0) {
        printf("a checkpoint with a [16,7] tensor for a [7,16] parameter was loaded\n");
        return -1;
    }
    printf("refused load: %s\n", fold_last_error(m));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    for (int i = 0; i < MOST * T; i++) {
        text[i] = (i * 5 + 3) % V;
        next[i] = (i * 5 + 8) % V;
    }
    fold *m = fold_create(1);
    float before[MOST * OUT], loss;
    int rc = !m || fold_forward(m, MOST, text, before) != 0 || same_as_new(m, argv[1], "created") != 0;
    rc = rc || fold_forward(m, 1, text, got) != 0 || fold_train_step(m, MOST, text, next, &loss) != 0;
    if (!rc && (fold_forward(m, MOST, text, got) != 0 || memcmp(before, got, sizeof before) == 0)) {
        printf("train_step left the outputs as they were: the test cannot tell a stale packing\n");
        rc = 1;
    }
    rc = rc || same_as_new(m, argv[1], "train_step") != 0;
    rc = rc || refused_load(m, argv[1]) != 0 || same_as_new(m, argv[1], "refused load_memory") != 0;
    if (rc && m && *fold_last_error(m))
        printf("last error: %s\n", fold_last_error(m));
    fold_destroy(m);
    return rc != 0;
}
