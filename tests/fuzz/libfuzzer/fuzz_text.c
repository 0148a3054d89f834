/* fuzz_text.c — libFuzzer target: any bytes as a text data set, split
 * 0.9 / 0.1, and a batch of windows drawn from each part when they are long
 * enough (rt_run refuses shorter ones); the same bytes as bpe(vocab: 264)
 * tokens (ids in range, decoding gives every byte back) and as the merges
 * text a checkpoint's metadata holds (rt_bpe_parse: refused, or a tokenizer
 * that round-trips its own input). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_file.h"
#include "nnc_runtime.h"

static void check_bpe(const char *path, const uint8_t *data, size_t size)
{
    RtText t;
    char err[512] = "";
    if (rt_text_load_bpe(path, 0.9, 264, NULL, &t, err, sizeof err) == 0) {
        uint8_t *back = malloc(size + 1);
        for (int64_t i = 0; i < t.n; i++)
            if (t.ids[i] < 0 || t.ids[i] >= 264)
                abort();
        if (!back || rt_bpe_decode(t.bpe, t.ids, t.n, back, (int64_t)size) != (int64_t)size
            || memcmp(back, data, size) != 0)
            abort();
        free(back);
        rt_text_free(&t);
    } else if (!err[0]) {
        abort();
    }
    /* the bytes as merges text: "97,97 256,98 ..." */
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = 0;
    RtBpe b;
    err[0] = 0;
    if (rt_bpe_parse(text, &b, err, sizeof err) == 0) {
        int32_t *ids = malloc(sizeof *ids * (size + 1));
        uint8_t *back = malloc(size + 1);
        int64_t n = ids ? rt_bpe_encode(&b, data, (int64_t)size, ids) : -1;
        if (n < 0 || !back || rt_bpe_decode(&b, ids, n, back, (int64_t)size) != (int64_t)size
            || memcmp(back, data, size) != 0)
            abort();
        free(ids);
        free(back);
        rt_bpe_free(&b);
    } else if (!err[0]) {
        abort();
    }
    free(text);
}

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
    check_bpe(path, data, size);
    return 0;
}
