/* classify.c — classify MNIST test digits with a model trained by nnc.
 *
 *   nnc --jit examples/mnist_mlp.nn --save ck.safetensors
 *   nnc --emit=so -o build/libmnist_mlp.so examples/mnist_mlp.nn
 *   cc classify.c -I build -L build -lmnist_mlp -Wl,-rpath,build -lz -lm -o classify
 *   ./classify ck.safetensors $NNC_DATA/mnist
 *
 * It reads the test images itself (IDX, gzipped or not: see
 * read_idx), prepares them as the model's header says, runs the whole set
 * through mnist_mlp_forward in one call and prints the loss and accuracy
 * (nnc --jit --eval prints the same); then the first image alone: batch 1
 * must give the same row to 1e-6 of its largest value (exit 1 otherwise).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mnist_mlp.h"

/* An IDX file (gzipped or not): its bytes after the header, and the count. */
static unsigned char *read_idx(const char *dir, const char *name, int header, long *count)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.gz", dir, name);
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = gzopen(path, "rb");
    }
    if (!f) {
        fprintf(stderr, "classify: cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 1 << 20, len = 0;
    unsigned char *buf = malloc(cap);
    int got;
    while ((got = gzread(f, buf + len, (unsigned)(cap - len))) > 0)
        if ((len += (size_t)got) == cap)
            buf = realloc(buf, cap *= 2);
    gzclose(f);
    if (len < (size_t)header) {
        fprintf(stderr, "classify: %s is too short\n", path);
        free(buf);
        return NULL;
    }
    *count = (long)buf[4] << 24 | (long)buf[5] << 16 | (long)buf[6] << 8 | buf[7];
    memmove(buf, buf + header, len - (size_t)header);
    return buf;
}

static int argmax(const float *row, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (row[i] > row[best])
            best = i;
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: classify CHECKPOINT MNIST_DIR\n");
        return 2;
    }
    long n, nl;
    unsigned char *pixels = read_idx(argv[2], "t10k-images-idx3-ubyte", 16, &n);
    unsigned char *labels = read_idx(argv[2], "t10k-labels-idx1-ubyte", 8, &nl);
    if (!pixels || !labels || n != nl)
        return 1;
    /* as the header says: (p / 255 - 0.1307) / 0.3081 */
    float *x = malloc(sizeof *x * (size_t)n * MNIST_MLP_IMAGE_SIZE);
    for (long i = 0; i < n * MNIST_MLP_IMAGE_SIZE; i++)
        x[i] = ((float)pixels[i] / 255.0f - 0.1307f) / 0.3081f;
    float *out = malloc(sizeof *out * (size_t)n * MNIST_MLP_OUTPUT_SIZE);

    mnist_mlp *m = mnist_mlp_create(0);
    if (!m || mnist_mlp_load(m, argv[1]) != 0) {
        fprintf(stderr, "classify: %s\n", m ? mnist_mlp_last_error(m) : "out of memory");
        return 1;
    }
    if (mnist_mlp_forward(m, n, x, out) != 0) {
        fprintf(stderr, "classify: %s\n", mnist_mlp_last_error(m));
        return 1;
    }
    long right = 0;
    double loss = 0;  /* cross-entropy of the logits, as the model's loss */
    for (long i = 0; i < n; i++) {
        const float *row = out + i * MNIST_MLP_OUTPUT_SIZE;
        int best = argmax(row, MNIST_MLP_OUTPUT_SIZE);
        double sum = 0;
        for (int k = 0; k < MNIST_MLP_OUTPUT_SIZE; k++)
            sum += exp((double)row[k] - row[best]);
        loss += log(sum) + row[best] - row[labels[i]];
        right += best == labels[i];
    }
    printf("test_loss %.6f test_accuracy %.4f (%ld of %ld)\n", loss / (double)n, (double)right / (double)n, right, n);

    /* batch 1 takes another summation order than large batches (docs/embedding.md):
     * the difference, relative to the row's largest logit, stays within 1e-6 */
    float one[MNIST_MLP_OUTPUT_SIZE];
    mnist_mlp_forward(m, 1, x, one);
    double diff = 0, scale = 0;
    for (int k = 0; k < MNIST_MLP_OUTPUT_SIZE; k++) {
        diff = fmax(diff, fabs(one[k] - out[k]));
        scale = fmax(scale, fabs(out[k]));
    }
    diff /= scale;
    printf("first image: digit %d (label %d); batch 1 vs batch %ld: relative difference %.3g\n",
           argmax(one, MNIST_MLP_OUTPUT_SIZE), labels[0], n, diff);
    mnist_mlp_destroy(m);
    free(x);
    free(out);
    free(pixels);
    free(labels);
    return diff <= 1e-6 ? 0 : 1;
}
