/* fuzz_text.c — libFuzzer target: any bytes as a text data set, split
 * 0.9 / 0.1, and a batch of windows drawn from each part when they are long
 * enough (rt_run refuses shorter ones). */
#include "fuzz_file.h"
#include "nnc_runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256], err[512];
    fuzz_write("t.txt", data, size, path, sizeof path);
    RtText t;
    err[0] = 0;
    if (rt_text_load(path, 0.9, &t, err, sizeof err) == 0) {
        enum { T = 8, B = 3 };
        int32_t x[T * B], y[T * B];
        for (int v = 0; v < 2; v++)
            if ((v ? t.n - t.train_end : t.train_end) > T) {
                rt_text_batch(&t, T, B, 1, 7, v, x, y);
                for (int i = 0; i < T * B; i++)
                    if (x[i] < 0 || x[i] >= t.vocab || y[i] < 0 || y[i] >= t.vocab)
                        abort();
            }
        rt_text_free(&t);
    } else if (!err[0]) {
        abort();
    }
    return 0;
}
