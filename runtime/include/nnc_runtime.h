/* nnc_runtime.h — the thin C runtime that nnc's generated code and tools
 * link.  Plain C, no compiler headers.  This version holds the random
 * numbers, parameter initialisation and the checkpoint writer; the rest
 * (slabs, threads, data, the training loop) comes with the code generator.
 */
#ifndef NNC_RUNTIME_H
#define NNC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* ---- random numbers and initialisation (rng.c) ------------------------------------ */

/* A uniform number in [0, 1), a pure function of its four arguments: dropout
 * masks draw (seed, mask stream, step, element). */
double rt_uniform(uint64_t seed, uint64_t stream, uint64_t step, uint64_t element);
/* A standard normal number from the draws 2e and 2e+1 of (seed, stream, step 0). */
double rt_normal(uint64_t seed, uint64_t stream, uint64_t element);

/* How a parameter starts, as torch.nn initialises the layer it belongs to. */
typedef enum RtInit {
    RT_INIT_UNIFORM_FAN_IN,  /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)): Linear, Conv2d weight and bias */
    RT_INIT_NORMAL,          /* N(0, 1): Embedding */
    RT_INIT_ONES,            /* LayerNorm weight */
    RT_INIT_ZEROS,           /* LayerNorm bias */
} RtInit;

/* Element e of a parameter: parameter i of a model draws from stream 1000 + i. */
double rt_init_value(RtInit how, int64_t fan_in, uint64_t seed, uint64_t stream, uint64_t element);

/* ---- checkpoints (safetensors.c) ------------------------------------------------------ */

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
