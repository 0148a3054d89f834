/* fuzz_idx.c — libFuzzer target: MNIST-style IDX files.  The input is split
 * at its first byte's proportion into an images file and a labels file (raw
 * or, when the input's last byte is odd, named .gz so the gzip path reads
 * them), written as the training split of a folder, and loaded. */
#include "fuzz_file.h"
#include "nnc_runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t cut = 1 + (size - 1) * data[0] / 255;
    int gz = data[size - 1] & 1;
    char path[256], err[512];
    const char *names[2][2] = {{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
                               {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}};
    const char *other[2][2] = {{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"},
                               {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"}};
    for (int k = 0; k < 2; k++) {   /* only one form of each file may exist */
        snprintf(path, sizeof path, "%s/%s", fuzz_dir(), other[gz][k]);
        remove(path);
    }
    fuzz_write(names[gz][0], data + 1, cut - 1, path, sizeof path);
    fuzz_write(names[gz][1], data + cut, size - cut, path, sizeof path);
    RtDataset d;
    err[0] = 0;
    if (rt_mnist_load(fuzz_dir(), 0, RT_NORM_UNIT, &d, err, sizeof err) == 0) {
        for (int64_t i = 0; i < d.count; i++)
            if (d.labels[i] < 0 || d.labels[i] > 9)
                abort();
        rt_dataset_free(&d);
    } else if (!err[0]) {
        abort();
    }
    return 0;
}
