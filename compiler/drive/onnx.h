/* onnx.h — nnc --emit=onnx: the forward graph and its weights as an ONNX
 * model (docs/onnx.md).
 *
 * Consumes a checked model; lowers its forward pass (dropout as identity),
 * keeps what the output needs, and writes one ONNX node or a few per IR
 * op (the table in onnx.c) with the parameters as initializers named as in
 * checkpoints.  Opset 17, IR version 8; the protobuf encoding is
 * protobuf.c's.
 */
#ifndef NNC_ONNX_H
#define NNC_ONNX_H

#include <stdio.h>

#include "../front/front.h"
#include "../ir/ir.h"
#include "protobuf.h"

enum { NNC_ONNX_OPSET = 17, NNC_ONNX_IR_VERSION = 8 };

typedef struct OnnxOptions {
    const char *output;   /* -o FILE.onnx; NULL: the model file's stem + .onnx */
    const char *load;     /* --load CHECKPOINT; NULL: initialise from seed */
    int64_t     seed;     /* -1: the train block's seed, or 1 without a train block */
    int         verbose;  /* -v: say what was written */
    const char *version;  /* nnc's version, written as the producer's */
    FILE       *log;
} OnnxOptions;

/* Returns an exit status: 0; 1 (a checkpoint that does not fit, an op with
 * no ONNX form, a file that cannot be written: said on log or through the
 * front end's diagnostics); 3 (internal error). */
int nnc_emit_onnx(NncFront *f, const OnnxOptions *o);

/* What onnx_encode writes: the graph's node `output` as the model's output. */
typedef struct OnnxSource {
    const IrGraph *g;            /* a forward graph (lowered, not fused) */
    int            output;       /* the node that is the model's output */
    const bool    *need;         /* per node of g: whether the file holds it (onnx_needed) */
    const char    *output_name;  /* its name in the file */
    const float *const *param;   /* per node of g: a ROLE_PARAM input's values (row-major f32), else NULL */
    const char    *doc;          /* the model's doc_string, or NULL */
    const char    *version;      /* producer_version (nnc's), or NULL */
} OnnxSource;

/* Appends the ModelProto of src to model.  Returns 0, or 1 after reporting
 * to diag, at its location, a node with no ONNX form (or a prediction that
 * needs a target).  Only src->need's nodes are written.  model->oom tells
 * whether memory ran out. */
int onnx_encode(const OnnxSource *src, Arena *a, DiagSink *diag, PbBuf *model);

/* The nodes the file of (g, output) holds, per node of g (in a): what the
 * output needs (operands come before their users), and every input of the
 * model, used or not (as the library's forward takes them all).  Computed
 * once, for onnx_param_bytes and onnx_encode. */
bool *onnx_needed(const IrGraph *g, int output, Arena *a);

/* The parameters the file holds (need: onnx_needed's), those the output
 * needs: their number in *count and their values' bytes, the least the
 * file can be; known before any value is computed or any byte encoded. */
int64_t onnx_param_bytes(const IrGraph *g, const bool *need, int *count);

/* The ONNX operator an IR op becomes ("Add"), or NULL when it has no ONNX
 * form (tests and docs compare this with docs/onnx.md's table). */
const char *onnx_op_name(int ir_op);

#endif
