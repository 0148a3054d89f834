/* train.c — train the MNIST MLP through the library, one train_step at a
 * time, in the order nnc --jit uses, and check the loss against it.
 *
 *   nnc --emit=so -o build/libmnist_mlp.so examples/mnist_mlp.nn
 *   cc train.c -I build $(pkg-config --cflags nnc-runtime) -L build -lmnist_mlp \
 *      -Wl,-rpath,build $(pkg-config --libs nnc-runtime) -o train
 *   ./train $NNC_DATA/mnist EPOCHS SAVE.safetensors
 *
 * The data order: nnc --jit shuffles epoch e's examples with the runtime's
 * rt_shuffle(order, n, seed, e) and takes batches of the train block's size
 * in that order, the last one short.  Doing the same here (with the runtime's
 * MNIST loader, which normalises as the train block says) gives the very same
 * steps, so the mean loss of each epoch equals --jit's train_loss.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mnist_mlp.h"
#include "nnc_runtime.h"

enum { SEED = 5, BATCH = MNIST_MLP_TRAIN_BATCH };  /* examples/mnist_mlp.nn's train block */

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: train MNIST_DIR EPOCHS SAVE.safetensors\n");
        return 2;
    }
    RtDataset d;
    char err[512];
    if (rt_mnist_load(argv[1], 0, RT_NORM_STANDARD, &d, err, sizeof err) != 0) {
        fprintf(stderr, "train: %s\n", err);
        return 1;
    }
    int epochs = atoi(argv[2]);
    mnist_mlp *m = mnist_mlp_create(SEED);
    int64_t *order = malloc(sizeof *order * (size_t)d.count);
    float *x = malloc(sizeof *x * BATCH * MNIST_MLP_IMAGE_SIZE);
    int32_t y[BATCH];
    for (int e = 0; e < epochs; e++) {
        rt_shuffle(order, d.count, SEED, (uint64_t)e);
        double sum = 0;
        for (int64_t first = 0; first < d.count; first += BATCH) {
            int64_t b = d.count - first < BATCH ? d.count - first : BATCH;
            for (int64_t i = 0; i < b; i++) {
                memcpy(x + i * MNIST_MLP_IMAGE_SIZE, d.x + order[first + i] * d.x_elems,
                       sizeof *x * MNIST_MLP_IMAGE_SIZE);
                y[i] = d.labels[order[first + i]];
            }
            float loss;
            if (mnist_mlp_train_step(m, b, x, y, &loss) != 0) {
                fprintf(stderr, "train: %s\n", mnist_mlp_last_error(m));
                return 1;
            }
            sum += (double)loss * (double)b;
        }
        printf("epoch %d train_loss %.6f\n", e + 1, sum / (double)d.count);
    }
    if (mnist_mlp_save(m, argv[3]) != 0) {
        fprintf(stderr, "train: %s\n", mnist_mlp_last_error(m));
        return 1;
    }
    mnist_mlp_destroy(m);
    rt_dataset_free(&d);
    free(order);
    free(x);
    return 0;
}
