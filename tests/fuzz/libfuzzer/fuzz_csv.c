/* fuzz_csv.c — libFuzzer target: any bytes as a CSV data file, read with
 * and without a header, as labels of 3 classes and as real targets. */
#include "fuzz_file.h"
#include "nnc_runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256], err[512];
    fuzz_write("d.csv", data, size, path, sizeof path);
    for (int mode = 0; mode < 4; mode++) {
        RtDataset d;
        err[0] = 0;
        if (rt_csv_load(path, mode & 1, mode & 2 ? 3 : 0, &d, err, sizeof err) == 0) {
            if (d.count < 1 || d.x_elems < 1)
                abort();
            for (int64_t i = 0; d.labels && i < d.count; i++)
                if (d.labels[i] < 0 || d.labels[i] >= 3)
                    abort();
            rt_dataset_free(&d);
        } else if (!err[0]) {
            abort();
        }
    }
    return 0;
}
