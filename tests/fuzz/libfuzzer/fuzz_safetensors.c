/* fuzz_safetensors.c — libFuzzer target: any bytes as a checkpoint file.
 * rt_safetensors_read must accept it or refuse it with a reason; what it
 * accepts must be self-consistent (every tensor's data inside the buffer). */
#include "fuzz_file.h"
#include "nnc_runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256], err[512];
    fuzz_write("ck.safetensors", data, size, path, sizeof path);
    RtCheckpoint ck;
    if (rt_safetensors_read(path, &ck, err, sizeof err) == 0) {
        volatile uint8_t sum = 0;
        for (int i = 0; i < ck.n; i++)  /* ASan checks each byte is inside what was allocated */
            for (size_t b = 0; b < ck.t[i].bytes; b++)
                sum += ((const uint8_t *)ck.t[i].data)[b];
        if (ck.n > 0 && !rt_checkpoint_find(&ck, ck.t[0].name))
            abort();
        rt_checkpoint_free(&ck);
    } else if (!err[0]) {
        abort();   /* refused without a reason */
    }
    return 0;
}
