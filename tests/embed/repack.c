/* repack.c — a library's forward keeps its weights packed between calls
 * and packs them again when they change (run.sh's repack case), on the
 * MNIST MLP (libmnist_mlp.so; x·W1ᵀ takes the tiled path from 6 rows on,
 * packing W1ᵀ):
 *   repack DIR   every forward of an instance, after each thing that writes
 *                its parameters (load, load_memory, train_step), equals
 *                bit for bit the forward of a new instance that loaded the
 *                same parameters (saved to DIR), at batches 64, 150 (in
 *                pieces) and 7; a stale packing would give the old weights'
 *                products
 * Prints what it checked; exit 1 on a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "mnist_mlp.h"

enum { MOST = 150, IN = MNIST_MLP_IMAGE_SIZE, OUT = MNIST_MLP_OUTPUT_SIZE };

static float x[MOST * IN], got[MOST * OUT], want[MOST * OUT];
static int32_t digit[MOST];

/* m's forward at each batch against a new instance's that loaded m's
 * parameters: -1 on a difference or an error, else 0. */
static int same_as_new(mnist_mlp *m, const char *dir, const char *after)
{
    static const int64_t batches[] = {64, MOST, 7};
    TestPath path;
    test_path(path, dir, "now.safetensors");
    mnist_mlp *fresh = mnist_mlp_create(99);
    if (!fresh || mnist_mlp_save(m, path) != 0 || mnist_mlp_load(fresh, path) != 0) {
        printf("%s: save or load: %s\n", after, mnist_mlp_last_error(m));
        mnist_mlp_destroy(fresh);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof batches / sizeof *batches && rc == 0; i++) {
        int64_t b = batches[i];
        if (mnist_mlp_forward(m, b, x, got) != 0 || mnist_mlp_forward(fresh, b, x, want) != 0) {
            printf("%s: forward: %s\n", after, mnist_mlp_last_error(m));
            rc = -1;
        } else if (memcmp(got, want, sizeof *got * (size_t)(b * OUT)) != 0) {
            printf("%s, batch %lld: the forward differs from a new instance's with the same parameters "
                   "(a packing of the old weights?)\n", after, (long long)b);
            rc = -1;
        }
    }
    mnist_mlp_destroy(fresh);
    if (rc == 0)
        printf("%s: forward at batches 64, %d and 7 equals a new instance's\n", after, MOST);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    for (int i = 0; i < MOST * IN; i++)
        x[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    for (int i = 0; i < MOST; i++)
        digit[i] = i % 10;
    char other[4096];
    snprintf(other, sizeof other, "%s/other.safetensors", argv[1]);
    mnist_mlp *m = mnist_mlp_create(1), *o = mnist_mlp_create(2);
    float before[64 * OUT], loss;
    long len = 0;
    char *bytes = NULL;
    int rc = !m || !o || mnist_mlp_save(o, other) != 0 || !(bytes = slurp(other, &len));
    rc = rc || mnist_mlp_forward(m, 64, x, before) != 0 || same_as_new(m, argv[1], "created") != 0;
    rc = rc || mnist_mlp_load(m, other) != 0 || same_as_new(m, argv[1], "load") != 0;
    if (!rc && (mnist_mlp_forward(m, 64, x, got) != 0 || memcmp(before, got, sizeof before) == 0)) {
        printf("the other weights gave the same outputs: the test cannot tell a stale packing\n");
        rc = 1;
    }
    rc = rc || mnist_mlp_train_step(m, 64, x, digit, &loss) != 0 || same_as_new(m, argv[1], "train_step") != 0;
    rc = rc || mnist_mlp_load_memory(m, bytes, (size_t)len) != 0 || same_as_new(m, argv[1], "load_memory") != 0;
    if (rc && m && *mnist_mlp_last_error(m))
        printf("last error: %s\n", mnist_mlp_last_error(m));
    free(bytes);
    mnist_mlp_destroy(m);
    mnist_mlp_destroy(o);
    return rc != 0;
}
