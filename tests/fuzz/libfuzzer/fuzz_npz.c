/* fuzz_npz.c — libFuzzer target: any bytes as a .npz archive (its central
 * directory, every member inflated and CRC-checked, parsed as .npy, and its
 * .npy header alone, which must agree) and as a
 * lone .npy file, then through the npz(...) data source (in memory: the
 * file reading is rt_read_whole, which other targets cover) for a model of an
 * input f32[4] and a target class(3), whose columns must then hold what it
 * promised: labels in range, reals finite. */
#include <math.h>
#include <stdlib.h>

#include "../../../runtime/npy.h"
#include "nnc_runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    RtNpy a;
    err[0] = 0;
    if (rt_npy_parse(data, size, 0, &a, err, sizeof err) == 0) {
        for (int64_t i = 0; i < a.count; i++)
            (void)rt_npy_get(&a, i);
    } else if (!err[0]) {
        abort();
    }
    RtNpz z;
    err[0] = 0;
    if (rt_npz_open(data, size, &z, err, sizeof err) == 0) {
        for (int k = 0; k < z.n; k++) {
            uint8_t *bytes;
            err[0] = 0;
            if (rt_npz_read(&z, k, 0, &bytes, &a, err, sizeof err) == 0) {
                if (bytes ? a.data < bytes : a.data < data || a.data + a.count * (int64_t)a.width > data + size)
                    abort();
                free(bytes);
            } else if (!err[0]) {
                abort();
            }
            /* the header alone (a library's count): the same shape whenever the whole member reads */
            RtNpy h;
            int64_t whole = err[0] ? -1 : a.count;
            err[0] = 0;
            if (rt_npz_read_header(&z, k, 0, &h, err, sizeof err) == 0) {
                if (h.data || (whole >= 0 && h.count != whole))
                    abort();
            } else if (!err[0] || whole >= 0) {
                abort();
            }
        }
        char names[256];
        rt_npz_names(&z, names, sizeof names);
        rt_npz_close(&z);
    } else if (!err[0]) {
        abort();
    }

    RtTensorSpec in = {.name = "x", .rank = 2, .shape = {-1, 4}, .dtype = RT_F32};
    RtTensorSpec tg = {.name = "y", .rank = 1, .shape = {-1}, .dtype = RT_I32, .classes = 3};
    RtModel m = {.name = "m", .inputs = &in, .ninputs = 1, .targets = &tg, .ntargets = 1};
    RtDataset d;
    err[0] = 0;
    if (rt_npz_columns(data, size, "d.npz", &m, &d, err, sizeof err) == 0) {
        if (d.count < 1 || d.ncolumns != 2 || d.columns[0].elems != 4 || d.columns[1].elems != 1)
            abort();
        const float *x = d.columns[0].data;
        const int32_t *y = d.columns[1].data;
        for (int64_t i = 0; i < d.count; i++) {
            if (y[i] < 0 || y[i] >= 3)
                abort();
            for (int e = 0; e < 4; e++)
                if (!isfinite(x[i * 4 + e]))
                    abort();
        }
        rt_dataset_free(&d);
    } else if (!err[0]) {
        abort();
    }
    return 0;
}
