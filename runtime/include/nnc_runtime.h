/* nnc_runtime.h — the thin C runtime that nnc's generated code and tools
 * link.  Plain C, no compiler headers.  This version holds the checkpoint
 * writer; the rest (slabs, threads, data, the training loop) comes with the
 * code generator.
 */
#ifndef NNC_RUNTIME_H
#define NNC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* One tensor for a safetensors file. */
typedef struct RtTensor {
    const char    *name;    /* e.g. "hidden.weight" (torch names) */
    const char    *dtype;   /* "F32", "F64" or "I32" */
    int            rank;
    const int64_t *shape;
    const void    *data;    /* row-major, little-endian */
    size_t         bytes;
} RtTensor;

/* Writes tensors to path in the safetensors format (an 8-byte header
 * length, a JSON header, the data), atomically: a temporary file beside
 * path, fsync, rename.  Returns 0, or -1 with a reason in err. */
int rt_safetensors_write(const char *path, const RtTensor *tensors, int n, char *err, size_t errlen);

#endif
