/* onnx_encode.c — a forward IR graph as an ONNX ModelProto; see onnx.h
 * and docs/onnx.md.
 *
 * The source is the lowered forward graph (lower.c, not training, so
 * dropout is already the identity), before the passes: every IR op there
 * is a primitive with a plain ONNX counterpart, while fused nodes are
 * programs ONNX has no word for.  Only the nodes the output depends on
 * are written (the loss, metrics and targets are not part of a
 * prediction).
 *
 * Names in the file: graph inputs and the output are named as in the .nn
 * file ("image", "logits"), parameters as in checkpoints ("hidden.weight"),
 * and every other value after the IR node it comes from, "%12" (with
 * ".1", ".2" ... for the helpers a node needs), as --dump-ir=ir numbers
 * them.  Each ONNX node's doc_string is its source location and layer.
 * The batch axis is the symbolic dimension "batch".
 *
 * One table, indexed by IR op, says how each op is written; an op without
 * a row (the backward pass's, fused ones, ops added later) is refused with
 * a located error naming it, never written wrong.
 */
#include "onnx.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../util/path.h"
#include "protobuf.h"

/* onnx.proto's field numbers (onnx 1.12), by message. */
enum {
    MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3, MODEL_DOC_STRING = 6,
    MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8,
    OPSET_DOMAIN = 1, OPSET_VERSION = 2,
    GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_DOC_STRING = 10, GRAPH_INPUT = 11,
    GRAPH_OUTPUT = 12,
    NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5, NODE_DOC_STRING = 6,
    ATTR_NAME = 1, ATTR_I = 3, ATTR_INTS = 8, ATTR_TYPE = 20,
    TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9,
    VALUE_NAME = 1, VALUE_TYPE = 2, VALUE_DOC_STRING = 3,
    TYPE_TENSOR = 1, TENSOR_TYPE_ELEM = 1, TENSOR_TYPE_SHAPE = 2,
    SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2,
};
/* AttributeProto.AttributeType and TensorProto.DataType values. */
enum { ATTR_INT = 2, ATTR_INTS_TYPE = 7 };
enum { DT_FLOAT = 1, DT_INT32 = 6, DT_INT64 = 7, DT_BOOL = 9 };

#define BATCH_DIM "batch"  /* the symbolic name of the batch axis */

/* The export of one graph. */
typedef struct Ox {
    const IrGraph *g;
    Arena         *a;
    DiagSink      *diag;
    const char    *file;     /* the model file's base name, for doc strings */
    const char   **name;     /* per IR node: its ONNX value name, once written */
    const float *const *param; /* per IR node: a parameter's values, or NULL */
    const char    *feed;     /* a batched graph input: the batch size is read from its shape */
    const char    *batch1d;  /* [batch] as int64 [1], made when first needed */
    int            v;        /* the IR node being written (names and doc strings) */
    int            sub;      /* helpers made for it so far */
    int            consts;   /* constants made so far */
    PbBuf          nodes, inits, inputs;  /* GraphProto fields, each already tagged */
    double         window_nodes;          /* the Slice nodes of the model's windows counted so far (window_fits) */
} Ox;

/* ---- small writers ----------------------------------------------------------------------- */

/* A name for a helper value of the node being written: "%12.1". */
static const char *helper(Ox *x) { return arena_printf(x->a, "%%%d.%d", x->v, ++x->sub); }

static void attr_int(PbBuf *attrs, const char *name, int64_t v)
{
    PbBuf at = {0};
    pb_string(&at, ATTR_NAME, name);
    pb_int(&at, ATTR_I, v);
    pb_int(&at, ATTR_TYPE, ATTR_INT);
    pb_message(attrs, NODE_ATTRIBUTE, &at);
    pb_free(&at);
}

static void attr_ints(PbBuf *attrs, const char *name, const int64_t *v, int n)
{
    PbBuf at = {0};
    pb_string(&at, ATTR_NAME, name);
    for (int i = 0; i < n; i++)
        pb_int(&at, ATTR_INTS, v[i]);
    pb_int(&at, ATTR_TYPE, ATTR_INTS_TYPE);
    pb_message(attrs, NODE_ATTRIBUTE, &at);
    pb_free(&at);
}

/* Appends the node op(ins[0..nin)) -> out (NULL: a new helper name); attrs
 * (may be NULL) holds its attributes and is freed.  Returns the output's
 * name. */
static const char *node_list(Ox *x, const char *op, const char *out, PbBuf *attrs, int nin, const char **ins)
{
    if (!out)
        out = helper(x);
    const IrNode *n = &x->g->nodes[x->v];
    PbBuf nd = {0};
    for (int i = 0; i < nin; i++)
        pb_string(&nd, NODE_INPUT, ins[i]);
    pb_string(&nd, NODE_OUTPUT, out);
    pb_string(&nd, NODE_NAME, arena_printf(x->a, "%s %s", op, out));
    pb_string(&nd, NODE_OP_TYPE, op);
    if (attrs) {
        pb_raw(&nd, attrs->data, attrs->len);
        if (pb_failed(attrs))
            nd.oom = true;
        pb_free(attrs);
    }
    /* where it came from: "mnist_cnn.nn:10:24 conv2d" */
    StrBuf doc = {0};
    if (!span_is_none(n->at) && x->g->src) {
        uint32_t line, col;
        source_linecol(x->g->src, n->at.begin, &line, &col);
        sb_printf(&doc, "%s:%u:%u", x->file, line, col);
    }
    if (n->layer)
        sb_printf(&doc, "%s%s", doc.len ? " " : "", n->layer);
    if (doc.len)
        pb_string(&nd, NODE_DOC_STRING, sb_cstr(&doc));
    sb_free(&doc);
    pb_message(&x->nodes, GRAPH_NODE, &nd);
    pb_free(&nd);
    return out;
}

/* node_list with the operands as arguments (at most 5). */
static const char *node(Ox *x, const char *op, const char *out, PbBuf *attrs, int nin, ...)
{
    const char *ins[5];
    va_list ap;
    va_start(ap, nin);
    for (int i = 0; i < nin; i++)
        ins[i] = va_arg(ap, const char *);
    va_end(ap);
    return node_list(x, op, out, attrs, nin, ins);
}

/* An initializer: dims (rank 0: a scalar), raw little-endian data. */
static void initializer(Ox *x, const char *name, int type, const int64_t *dims, int rank, const void *raw,
                        size_t bytes)
{
    PbBuf t = {0};
    for (int i = 0; i < rank; i++)
        pb_int(&t, TENSOR_DIMS, dims[i]);
    pb_int(&t, TENSOR_DATA_TYPE, type);
    pb_string(&t, TENSOR_NAME, name);
    pb_bytes(&t, TENSOR_RAW_DATA, raw, bytes);
    pb_message(&x->inits, GRAPH_INITIALIZER, &t);
    pb_free(&t);
}

/* Little-endian bytes of n values of `width` bytes read by get(i). */
static uint8_t *le_bytes(Arena *a, int64_t n, int width, uint64_t (*get)(const void *, int64_t), const void *src)
{
    uint8_t *b = ARENA_ARRAY(a, uint8_t, n * width + 1);
    for (int64_t i = 0; i < n; i++) {
        uint64_t bits = get(src, i);
        for (int k = 0; k < width; k++)
            b[i * width + k] = (uint8_t)(bits >> (8 * k));
    }
    return b;
}

static uint64_t get_i64(const void *p, int64_t i) { return (uint64_t)((const int64_t *)p)[i]; }
static uint64_t get_f32(const void *p, int64_t i)
{
    uint32_t bits;
    memcpy(&bits, (const float *)p + i, sizeof bits);
    return bits;
}

/* An int64 constant: a vector of n (or, with n == -1, the scalar v[0]). */
static const char *const_i64(Ox *x, const int64_t *v, int n)
{
    const char *name = arena_printf(x->a, "%%c%d", ++x->consts);
    int64_t dims[1] = {n};
    int count = n < 0 ? 1 : n;
    initializer(x, name, DT_INT64, dims, n < 0 ? 0 : 1, le_bytes(x->a, count, 8, get_i64, v), (size_t)count * 8);
    return name;
}

/* A float tensor initializer of the given shape (no batch axis). */
static void const_f32(Ox *x, const char *name, const IrShape *s, const float *v)
{
    int64_t count = ir_elems(s, 1);
    initializer(x, name, DT_FLOAT, s->dim, s->rank, le_bytes(x->a, count, 4, get_f32, v), (size_t)count * 4);
}

/* An int32 scalar constant (for i32 values such as token ids). */
static const char *const_i32(Ox *x, int32_t v)
{
    const char *name = arena_printf(x->a, "%%c%d", ++x->consts);
    uint8_t b[4];
    for (int k = 0; k < 4; k++)
        b[k] = (uint8_t)((uint32_t)v >> (8 * k));
    initializer(x, name, DT_INT32, NULL, 0, b, sizeof b);
    return name;
}

static const char *const_scalar(Ox *x, float v)
{
    const char *name = arena_printf(x->a, "%%c%d", ++x->consts);
    const_f32(x, name, &(IrShape){0}, &v);
    return name;
}

/* A graph input or output's declaration: element type and shape, the
 * batch axis symbolic. */
static void value_info(Ox *x, PbBuf *to, int field, const char *name, IrType type, const IrShape *s,
                       int64_t classes)
{
    PbBuf shape = {0}, tt = {0}, ty = {0}, vi = {0};
    for (int i = 0; i < s->rank; i++) {
        PbBuf d = {0};
        if (s->dim[i] == IR_BATCH)
            pb_string(&d, DIM_PARAM, BATCH_DIM);
        else
            pb_int(&d, DIM_VALUE, s->dim[i]);
        pb_message(&shape, SHAPE_DIM, &d);
        pb_free(&d);
    }
    pb_int(&tt, TENSOR_TYPE_ELEM, type == IR_I32 ? DT_INT32 : DT_FLOAT);
    pb_message(&tt, TENSOR_TYPE_SHAPE, &shape);
    pb_message(&ty, TYPE_TENSOR, &tt);
    pb_string(&vi, VALUE_NAME, name);
    pb_message(&vi, VALUE_TYPE, &ty);
    if (type == IR_I32 && classes > 0)  /* what a user must feed: "token ids in [0, 65)" */
        pb_string(&vi, VALUE_DOC_STRING, arena_printf(x->a, "token ids in [0, %lld)", (long long)classes));
    pb_message(to, field, &vi);
    pb_free(&shape), pb_free(&tt), pb_free(&ty), pb_free(&vi);
}

/* ---- the op table's writers ------------------------------------------------------------- */

typedef struct OxRule OxRule;
/* Writes IR node v; returns the ONNX name of its value, or NULL after an error. */
typedef const char *(*OxEmitFn)(Ox *x, int v, const OxRule *r);
struct OxRule {
    const char *op;    /* the ONNX operator (the main one where several are written) */
    OxEmitFn    emit;
    const char *doc;   /* docs/onnx.md's column when it says more than op */
    bool        windowed;  /* writes a Slice per element of a k x k window (window_fits) */
};

static const IrNode *nd(Ox *x, int v) { return &x->g->nodes[v]; }
static const char *in(Ox *x, int v, int k) { return x->name[nd(x, v)->in[k]]; }
static const char *self(Ox *x, int v) { return x->name[v] ? x->name[v] : arena_printf(x->a, "%%%d", v); }

/* The batch size as int64 [1]: Shape(feed)[0:1]. */
static const char *batch1d(Ox *x)
{
    if (!x->batch1d) {
        PbBuf at = {0};
        attr_int(&at, "start", 0);
        attr_int(&at, "end", 1);
        x->batch1d = node(x, "Shape", "%batch", &at, 1, x->feed);
    }
    return x->batch1d;
}

/* An IR shape as ONNX's: the batch, when there is one, first and read
 * from the graph's input. */
static const char *shape_value(Ox *x, const IrShape *s)
{
    int64_t d[IR_MAX_RANK];
    int from = ir_is_batched(s) ? 1 : 0;
    for (int i = from; i < s->rank; i++)
        d[i - from] = s->dim[i];
    const char *rest = const_i64(x, d, s->rank - from);
    if (!from)
        return rest;
    const char *b = batch1d(x);
    PbBuf at = {0};
    attr_int(&at, "axis", 0);
    return node(x, "Concat", NULL, &at, 2, b, rest);
}

static const char *ox_input(Ox *x, int v, const OxRule *r)
{
    (void)r;
    const IrNode *n = nd(x, v);
    if (n->a.role == ROLE_PARAM) {
        const_f32(x, n->a.name, &n->shape, x->param[v]);
        return n->a.name;
    }
    if (n->a.role != ROLE_INPUT) {
        diag_error(x->diag, n->at, "cannot export to ONNX: the output depends on %s '%s', which a prediction does "
                   "not have", n->a.role == ROLE_TARGET ? "target" : "training state", n->a.name);
        return NULL;
    }
    value_info(x, &x->inputs, GRAPH_INPUT, n->a.name, n->type, &n->shape, n->a.i[0]);
    return n->a.name;
}

static const char *ox_const(Ox *x, int v, const OxRule *r)
{
    (void)r;
    const char *name = self(x, v);
    float f = (float)nd(x, v)->a.f;
    const_f32(x, name, &(IrShape){0}, &f);
    return name;
}

static const char *ox_tensor(Ox *x, int v, const OxRule *r)
{
    (void)r;
    const IrNode *n = nd(x, v);
    int64_t count = ir_elems(&n->shape, 1);
    float *f = ARENA_ARRAY(x->a, float, count + 1);
    for (int64_t i = 0; i < count; i++)
        f[i] = (float)n->a.data[i];
    const char *name = self(x, v);
    const_f32(x, name, &n->shape, f);
    return name;
}

/* The batch size as a real scalar: Cast(Shape(feed)[0]). */
static const char *ox_batch_size(Ox *x, int v, const OxRule *r)
{
    (void)r;
    PbBuf at = {0};
    attr_int(&at, "start", 0);
    attr_int(&at, "end", 1);
    const char *s = node(x, "Shape", NULL, &at, 1, x->feed);
    int64_t scalar[1] = {0};  /* Reshape to the empty shape: a scalar */
    const char *s0 = node(x, "Reshape", NULL, NULL, 2, s, const_i64(x, scalar, 0));
    at = (PbBuf){0};
    attr_int(&at, "to", DT_FLOAT);
    return node(x, "Cast", self(x, v), &at, 1, s0);
}

/* One ONNX node with the IR node's operands, same order, no attributes. */
static const char *ox_same(Ox *x, int v, const OxRule *r)
{
    const IrNode *n = nd(x, v);
    const char **ins = ARENA_ARRAY(x->a, const char *, n->nin + 1);
    for (int k = 0; k < n->nin; k++)
        ins[k] = in(x, v, k);
    return node_list(x, r->op, self(x, v), NULL, n->nin, ins);
}

/* rsqrt(x) = 1 / sqrt(x), as the interpreter computes it */
static const char *ox_rsqrt(Ox *x, int v, const OxRule *r)
{
    (void)r;
    return node(x, "Reciprocal", self(x, v), NULL, 1, node(x, "Sqrt", NULL, NULL, 1, in(x, v, 0)));
}

static const char *ox_pow(Ox *x, int v, const OxRule *r)
{
    (void)r;
    return node(x, "Pow", self(x, v), NULL, 2, in(x, v, 0), const_scalar(x, (float)nd(x, v)->a.f));
}

/* gt, ge, eq give 1 or 0 in the real type: the comparison, then Cast */
static const char *ox_compare(Ox *x, int v, const OxRule *r)
{
    const char *b = node(x, r->op, NULL, NULL, 2, in(x, v, 0), in(x, v, 1));
    PbBuf at = {0};
    attr_int(&at, "to", nd(x, v)->type == IR_I32 ? DT_INT32 : DT_FLOAT);
    return node(x, "Cast", self(x, v), &at, 1, b);
}

/* select(c, y, z) = y where c != 0: Where(Cast(c, bool), y, z) */
static const char *ox_select(Ox *x, int v, const OxRule *r)
{
    (void)r;
    PbBuf at = {0};
    attr_int(&at, "to", DT_BOOL);
    const char *c = node(x, "Cast", NULL, &at, 1, in(x, v, 0));
    return node(x, "Where", self(x, v), NULL, 3, c, in(x, v, 1), in(x, v, 2));
}

/* The axes of a reduction's bit mask. */
static int mask_axes(const IrNode *n, int rank, int64_t *axes)
{
    int k = 0;
    for (int i = 0; i < rank; i++)
        if ((uint64_t)n->a.i[0] >> i & 1)
            axes[k++] = i;
    return k;
}

/* sum, mean, rmax keep the reduced axes (keepdims = 1), the mask's (rmax's
 * shape rule sets it to the last axis).  At opset 17 ReduceSum takes its
 * axes as an input (ox_reduce_input), ReduceMean and ReduceMax as an
 * attribute (ox_reduce): the rows of rules[] say which. */
static const char *reduce(Ox *x, int v, const OxRule *r, bool axes_input)
{
    const IrNode *n = nd(x, v);
    int64_t axes[IR_MAX_RANK];
    int k = mask_axes(n, x->g->nodes[n->in[0]].shape.rank, axes);
    PbBuf at = {0};
    attr_int(&at, "keepdims", 1);
    if (axes_input)
        return node(x, r->op, self(x, v), &at, 2, in(x, v, 0), const_i64(x, axes, k));
    attr_ints(&at, "axes", axes, k);
    return node(x, r->op, self(x, v), &at, 1, in(x, v, 0));
}

static const char *ox_reduce(Ox *x, int v, const OxRule *r) { return reduce(x, v, r, false); }
static const char *ox_reduce_input(Ox *x, int v, const OxRule *r) { return reduce(x, v, r, true); }

/* argmax: the first maximum of the last axis, kept; i32 as the IR has it */
static const char *ox_argmax(Ox *x, int v, const OxRule *r)
{
    PbBuf at = {0};
    attr_int(&at, "axis", -1);
    attr_int(&at, "keepdims", 1);
    const char *i64 = node(x, r->op, NULL, &at, 1, in(x, v, 0));
    at = (PbBuf){0};
    attr_int(&at, "to", DT_INT32);
    return node(x, "Cast", self(x, v), &at, 1, i64);
}

/* The batch axis as -1: Reshape infers it from the element count. */
static const char *ox_reshape(Ox *x, int v, const OxRule *r)
{
    const IrNode *n = nd(x, v);
    int64_t d[IR_MAX_RANK];
    for (int i = 0; i < n->shape.rank; i++)
        d[i] = n->shape.dim[i] == IR_BATCH ? -1 : n->shape.dim[i];
    return node(x, r->op, self(x, v), NULL, 2, in(x, v, 0), const_i64(x, d, n->shape.rank));
}

static const char *ox_permute(Ox *x, int v, const OxRule *r)
{
    const IrNode *n = nd(x, v);
    PbBuf at = {0};
    attr_ints(&at, "perm", n->a.i, n->shape.rank);
    return node(x, r->op, self(x, v), &at, 1, in(x, v, 0));
}

/* Expand to the target shape, the batch read from the input (an operand
 * of size 1 on the batch axis is repeated batch times, as in the IR). */
static const char *ox_broadcast(Ox *x, int v, const OxRule *r)
{
    return node(x, r->op, self(x, v), NULL, 2, in(x, v, 0), shape_value(x, &nd(x, v)->shape));
}

static const char *ox_slice(Ox *x, int v, const OxRule *r)
{
    const IrNode *n = nd(x, v);
    int64_t start = n->a.i[1], end = n->a.i[1] + n->a.i[2], axis = n->a.i[0];
    return node(x, r->op, self(x, v), NULL, 4, in(x, v, 0), const_i64(x, &start, 1), const_i64(x, &end, 1),
                const_i64(x, &axis, 1));
}

static const char *ox_pad(Ox *x, int v, const OxRule *r)
{
    const IrNode *n = nd(x, v);
    int rank = n->shape.rank;
    int64_t pads[2 * IR_MAX_RANK] = {0};
    pads[n->a.i[0]] = n->a.i[1];
    pads[rank + n->a.i[0]] = n->a.i[2];
    return node(x, r->op, self(x, v), NULL, 2, in(x, v, 0), const_i64(x, pads, 2 * rank));
}

static const char *ox_concat(Ox *x, int v, const OxRule *r)
{
    PbBuf at = {0};
    attr_int(&at, "axis", nd(x, v)->a.i[0]);
    return node(x, r->op, self(x, v), &at, 2, in(x, v, 0), in(x, v, 1));
}

static const char *ox_cast(Ox *x, int v, const OxRule *r)
{
    PbBuf at = {0};
    attr_int(&at, "to", DT_FLOAT);
    return node(x, r->op, self(x, v), &at, 1, in(x, v, 0));
}

/* Operand k of a matmul with its last two axes swapped. */
static const char *swap_last(Ox *x, int v, int k)
{
    int rank = x->g->nodes[nd(x, v)->in[k]].shape.rank;
    int64_t perm[IR_MAX_RANK];
    for (int i = 0; i < rank; i++)
        perm[i] = i;
    perm[rank - 2] = rank - 1, perm[rank - 1] = rank - 2;
    PbBuf at = {0};
    attr_ints(&at, "perm", perm, rank);
    return node(x, "Transpose", NULL, &at, 1, in(x, v, k));
}

/* matmul: MatMul (its leading axes broadcast as the IR's do), transposed
 * operands through Transpose.  The "lead" form (leading axes joining the
 * contraction: a [L..., k, n]^T b [L..., k, m]) reshapes both to two axes. */
static const char *ox_matmul(Ox *x, int v, const OxRule *r)
{
    const IrNode *n = nd(x, v);
    if (n->a.i[2]) {
        const IrShape *sa = &x->g->nodes[n->in[0]].shape, *sb = &x->g->nodes[n->in[1]].shape;
        int64_t da[2] = {-1, sa->dim[sa->rank - 1]}, db[2] = {-1, sb->dim[sb->rank - 1]};
        const char *a2 = node(x, "Reshape", NULL, NULL, 2, in(x, v, 0), const_i64(x, da, 2));
        const char *b2 = node(x, "Reshape", NULL, NULL, 2, in(x, v, 1), const_i64(x, db, 2));
        PbBuf at = {0};
        attr_int(&at, "transA", 1);
        return node(x, "Gemm", self(x, v), &at, 2, a2, b2);
    }
    const char *a = n->a.i[0] ? swap_last(x, v, 0) : in(x, v, 0);
    const char *b = n->a.i[1] ? swap_last(x, v, 1) : in(x, v, 1);
    return node(x, r->op, self(x, v), NULL, 2, a, b);
}

/* gather(table [V, D], ids): Gather on axis 0.  ONNX's Gather counts a
 * negative id from the end (-1 reads row V-1) where nnc refuses it, so a
 * negative id is first made V, which is out of range like any id >= V and
 * which onnxruntime refuses: Where(Less(ids, 0), V, ids).  Legal ids pass
 * unchanged, so the rows read are the same. */
static const char *ox_gather(Ox *x, int v, const OxRule *r)
{
    const char *ids = in(x, v, 1);
    int32_t rows = (int32_t)nd(x, nd(x, v)->in[0])->shape.dim[0];
    const char *neg = node(x, "Less", NULL, NULL, 2, ids, const_i32(x, 0));
    const char *legal = node(x, "Where", NULL, NULL, 3, neg, const_i32(x, rows), ids);
    PbBuf at = {0};
    attr_int(&at, "axis", 0);
    return node(x, r->op, self(x, v), &at, 2, in(x, v, 0), legal);
}

static const char *ox_one_hot(Ox *x, int v, const OxRule *r)
{
    int64_t depth = nd(x, v)->a.i[0];
    float off_on[2] = {0, 1};
    const char *values = arena_printf(x->a, "%%c%d", ++x->consts);
    const_f32(x, values, &(IrShape){1, {2}}, off_on);
    PbBuf at = {0};
    attr_int(&at, "axis", -1);
    return node(x, r->op, self(x, v), &at, 3, in(x, v, 0), const_i64(x, &depth, -1), values);
}

/* Each element of a k x k window is written as its own Slice (with its
 * starts and ends) and, for windows, an Unsqueeze: 211 bytes of the file
 * each from avg_pool's 3x3 against 2x2 on an 8x8 image, 259 for a
 * 1000x1000 window (the review of session 36); OX_WINDOW_BYTES is under
 * both (measured on windows only: patches' and pool_max's elements have no
 * Unsqueeze and take fewer bytes, not measured).  The model's windows together, counted as they are written, must
 * fit the 2 GiB an ONNX file holds (protobuf's limit): onnx_encode counts
 * them before it writes anything (the rules' windowed column), and the
 * window that goes past is refused at its call (a 1048576x1048576 window
 * ran the compiler out of memory, and a 5000x5000 one at 64 bytes a node
 * still did). */
enum { OX_WINDOW_BYTES = 200 };
static bool window_fits(Ox *x, int v)
{
    const IrNode *n = nd(x, v);
    double kh = (double)n->a.win.k[0], kw = (double)n->a.win.k[1];
    x->window_nodes += kh * kw;
    if (x->window_nodes * OX_WINDOW_BYTES <= (double)INT32_MAX)
        return true;
    diag_error(x->diag, n->at, "cannot export to ONNX: the model's windows (this one %.0fx%.0f) are written as %.0f "
               "Slice nodes of about %d bytes each, and an ONNX file holds at most 2 GiB (protobuf's limit)", kh, kw,
               x->window_nodes, OX_WINDOW_BYTES);
    return false;
}

/* windows: x [B, C, H, W] -> [B, C, Ho, Wo, kh*kw], element ky*kw + kx of a
 * window read at (oy*sh + ky - ph, ox*sw + kx - pw), the padding
 * filled with f (0, or -inf for max pooling).  Written as Pad with f, one
 * strided Slice per window element, Unsqueeze and Concat along the new last
 * axis: no arithmetic, so the values are exactly the IR's. */
static const char *ox_windows(Ox *x, int v, const OxRule *r)
{
    const IrNode *n = nd(x, v);
    const IrWindow *w = &n->a.win;
    int64_t ho = n->shape.dim[2], wo = n->shape.dim[3], taps = ir_window_taps(w);
    const char *src = in(x, v, 0);
    if (w->pad[0] > 0 || w->pad[1] > 0) {
        int64_t pads[8] = {0, 0, w->pad[0], w->pad[1], 0, 0, w->pad[0], w->pad[1]};
        src = node(x, "Pad", NULL, NULL, 3, src, const_i64(x, pads, 8), const_scalar(x, (float)n->a.f));
    }
    int64_t axes[2] = {2, 3}, steps[2] = {w->stride[0], w->stride[1]}, last[1] = {4};
    const char *axes_c = const_i64(x, axes, 2), *steps_c = const_i64(x, steps, 2), *last_c = const_i64(x, last, 1);
    const char **parts = ARENA_ARRAY(x->a, const char *, taps + 1);
    for (int64_t ky = 0; ky < w->k[0]; ky++)
        for (int64_t kx = 0; kx < w->k[1]; kx++) {
            int64_t starts[2] = {ky, kx};
            int64_t ends[2] = {ky + (ho - 1) * w->stride[0] + 1, kx + (wo - 1) * w->stride[1] + 1};
            const char *s = node(x, "Slice", NULL, NULL, 5, src, const_i64(x, starts, 2), const_i64(x, ends, 2),
                                 axes_c, steps_c);
            parts[ky * w->k[1] + kx] = node(x, "Unsqueeze", NULL, NULL, 2, s, last_c);
        }
    /* Concat of kh*kw operands: written by hand, node() takes a fixed count */
    const char *out = self(x, v);
    PbBuf nd_ = {0}, at = {0};
    for (int64_t i = 0; i < taps; i++)
        pb_string(&nd_, NODE_INPUT, parts[i]);
    pb_string(&nd_, NODE_OUTPUT, out);
    pb_string(&nd_, NODE_NAME, arena_printf(x->a, "%s %s", r->op, out));
    pb_string(&nd_, NODE_OP_TYPE, r->op);
    attr_int(&at, "axis", 4);
    pb_raw(&nd_, at.data, at.len);
    pb_free(&at);
    pb_message(&x->nodes, GRAPH_NODE, &nd_);
    pb_free(&nd_);
    return out;
}

/* The kh*kw window elements of a channels-last x [..., H, W, C] (patches,
 * pool_max): element ky*kw + kx is x padded with `fill`, then sliced on the
 * H and W axes from (ky, kx) with steps sh, sw, [..., Ho, Wo, C]; the
 * value at (oy, ox) is x[oy*sh + ky - ph, ox*sw + kx - pw]. */
static const char **cl_windows(Ox *x, int v, const char *src, float fill)
{
    const IrNode *n = nd(x, v);
    int rank = n->shape.rank;
    const IrWindow *w = &n->a.win;
    int64_t ho = n->shape.dim[rank - 3], wo = n->shape.dim[rank - 2];
    if (w->pad[0] > 0 || w->pad[1] > 0) {
        int64_t pads[2 * IR_MAX_RANK] = {0};
        pads[rank - 3] = pads[rank + rank - 3] = w->pad[0];  /* H: begin, end */
        pads[rank - 2] = pads[rank + rank - 2] = w->pad[1];  /* W: begin, end */
        src = node(x, "Pad", NULL, NULL, 3, src, const_i64(x, pads, 2 * rank), const_scalar(x, fill));
    }
    int64_t axes[2] = {rank - 3, rank - 2}, steps[2] = {w->stride[0], w->stride[1]};
    const char *axes_c = const_i64(x, axes, 2), *steps_c = const_i64(x, steps, 2);
    const char **parts = ARENA_ARRAY(x->a, const char *, ir_window_taps(w) + 1);
    for (int64_t ky = 0; ky < w->k[0]; ky++)
        for (int64_t kx = 0; kx < w->k[1]; kx++) {
            int64_t starts[2] = {ky, kx};
            int64_t ends[2] = {ky + (ho - 1) * w->stride[0] + 1, kx + (wo - 1) * w->stride[1] + 1};
            parts[ky * w->k[1] + kx] = node(x, "Slice", NULL, NULL, 5, src, const_i64(x, starts, 2),
                                            const_i64(x, ends, 2), axes_c, steps_c);
        }
    return parts;
}

/* patches: x [..., H, W, C] -> [..., Ho, Wo, kh*kw*C], element (ky*kw + kx)*C
 * + c from window element ky*kw + kx, 0 in the padding: the window elements
 * concatenated in order along the channel axis.  No arithmetic, so the
 * values are exactly the IR's. */
static const char *ox_patches(Ox *x, int v, const OxRule *r)
{
    const IrNode *n = nd(x, v);
    const char **parts = cl_windows(x, v, in(x, v, 0), 0.0f);
    PbBuf at = {0};
    attr_int(&at, "axis", n->shape.rank - 1);
    return node_list(x, r->op, self(x, v), &at, (int)ir_window_taps(&n->a.win), parts);
}

/* pool_max(x, x), max pooling: Max of the window elements, the padding
 * -inf (padding < k, so every window has a pixel of x and the padding
 * never decides).  Lowering makes pool_max only as pool_max(x, x); the
 * general pool_max(x, y) (y at x's first maximum) is autodiff's, in the
 * backward pass, and is refused. */
static const char *ox_pool_max(Ox *x, int v, const OxRule *r)
{
    const IrNode *n = nd(x, v);
    if (n->in[0] != n->in[1]) {
        diag_error(x->diag, n->at, "cannot export to ONNX: IR op 'pool_max'%s%s%s with two different operands has no "
                   "ONNX form (max pooling, pool_max(x, x), has)", n->layer ? " (from " : "", n->layer ? n->layer : "",
                   n->layer ? ")" : "");
        return NULL;
    }
    const char **parts = cl_windows(x, v, in(x, v, 0), -INFINITY);
    int64_t taps = ir_window_taps(&n->a.win);
    if (taps == 1)
        return node(x, "Identity", self(x, v), NULL, 1, parts[0]);
    return node_list(x, r->op, self(x, v), NULL, (int)taps, parts);
}

/* The table: how each IR op is written.  No row: no ONNX form (refused). */
static const OxRule rules[IR_OP_COUNT] = {
    [IR_INPUT] = {"graph input", ox_input, "graph input (inputs), initializer (parameters)"},
    [IR_CONST] = {"initializer", ox_const, "initializer (a scalar)"},
    [IR_TENSOR] = {"initializer", ox_tensor, NULL},
    [IR_BATCH_SIZE] = {"Shape", ox_batch_size, "Shape, Reshape, Cast"},
    [IR_NEG] = {"Neg", ox_same, NULL},
    [IR_EXP] = {"Exp", ox_same, NULL},
    [IR_LOG] = {"Log", ox_same, NULL},
    [IR_SQRT] = {"Sqrt", ox_same, NULL},
    [IR_RSQRT] = {"Reciprocal", ox_rsqrt, "Sqrt, Reciprocal"},
    [IR_TANH] = {"Tanh", ox_same, NULL},
    [IR_ERF] = {"Erf", ox_same, NULL},
    [IR_RELU] = {"Relu", ox_same, NULL},
    [IR_SIGMOID] = {"Sigmoid", ox_same, NULL},
    [IR_SIN] = {"Sin", ox_same, NULL},
    [IR_COS] = {"Cos", ox_same, NULL},
    [IR_FLOOR] = {"Floor", ox_same, NULL},
    [IR_POW] = {"Pow", ox_pow, "Pow (exponent an initializer)"},
    [IR_STOP_GRAD] = {"Identity", ox_same, NULL},
    [IR_ADD] = {"Add", ox_same, NULL},
    [IR_SUB] = {"Sub", ox_same, NULL},
    [IR_MUL] = {"Mul", ox_same, NULL},
    [IR_DIV] = {"Div", ox_same, NULL},
    [IR_MAX] = {"Max", ox_same, NULL},
    [IR_MIN] = {"Min", ox_same, NULL},
    [IR_GT] = {"Greater", ox_compare, "Greater, Cast"},
    [IR_GE] = {"GreaterOrEqual", ox_compare, "GreaterOrEqual, Cast"},
    [IR_EQ] = {"Equal", ox_compare, "Equal, Cast"},
    [IR_SELECT] = {"Where", ox_select, "Cast (to bool), Where"},
    [IR_SUM] = {"ReduceSum", ox_reduce_input, "ReduceSum (keepdims 1)"},
    [IR_MEAN] = {"ReduceMean", ox_reduce, "ReduceMean (keepdims 1)"},
    [IR_RMAX] = {"ReduceMax", ox_reduce, "ReduceMax (last axis, keepdims 1)"},
    [IR_ARGMAX] = {"ArgMax", ox_argmax, "ArgMax, Cast (to int32)"},
    [IR_RESHAPE] = {"Reshape", ox_reshape, "Reshape (the batch axis as -1)"},
    [IR_PERMUTE] = {"Transpose", ox_permute, NULL},
    [IR_BROADCAST] = {"Expand", ox_broadcast, "Expand (batch from Shape, Concat)"},
    [IR_SLICE] = {"Slice", ox_slice, NULL},
    [IR_PAD] = {"Pad", ox_pad, NULL},
    [IR_CONCAT] = {"Concat", ox_concat, NULL},
    [IR_CAST] = {"Cast", ox_cast, NULL},
    [IR_MATMUL] = {"MatMul", ox_matmul, "MatMul (Transpose for transposed operands; Reshape, Gemm for lead)"},
    [IR_GATHER] = {"Gather", ox_gather, "Less, Where (a negative id made V, out of range), Gather"},
    [IR_ONE_HOT] = {"OneHot", ox_one_hot, NULL},
    [IR_WINDOWS] = {"Concat", ox_windows, "Pad, Slice (strided) per window element, Unsqueeze, Concat", true},
    [IR_PATCHES] = {"Concat", ox_patches, "Pad, Slice (strided) per window element, Concat (channels last)", true},
    [IR_POOL_MAX] = {"Max", ox_pool_max, "Pad (-inf), Slice (strided) per window element, Max (pool_max(x, x) only)",
                     true},
    /* no row: scatter_add, windows_t, patches_t, pool_max_t, pool_rows_t and pool_conv_t
     * (backward pass only), random_mask
     * (dropout while training; a prediction has none), fused ops (the export
     * reads the graph before fusion) */
};

const char *onnx_op_name(int ir_op)
{
    return ir_op >= 0 && ir_op < IR_OP_COUNT && rules[ir_op].emit ? (rules[ir_op].doc ? rules[ir_op].doc
                                                                                       : rules[ir_op].op)
                                                                  : NULL;
}

/* ---- the model -------------------------------------------------------------------------- */

bool *onnx_needed(const IrGraph *g, int output, Arena *a)
{
    bool *need = ARENA_ARRAY(a, bool, g->n + 1);
    memset(need, 0, sizeof *need * (size_t)(g->n + 1));
    need[output] = true;
    for (int v = g->n - 1; v >= 0; v--)
        for (int k = 0; need[v] && k < g->nodes[v].nin; k++)
            need[g->nodes[v].in[k]] = true;
    for (int v = 0; v < g->n; v++)
        if (g->nodes[v].op == IR_INPUT && g->nodes[v].a.role == ROLE_INPUT)
            need[v] = true;
    return need;
}

int64_t onnx_param_bytes(const IrGraph *g, const bool *need, int *count)
{
    int64_t bytes = 0;
    *count = 0;
    for (int v = 0; v < g->n; v++)
        if (need[v] && g->nodes[v].op == IR_INPUT && g->nodes[v].a.role == ROLE_PARAM) {
            bytes += 4 * ir_elems(&g->nodes[v].shape, 1);  /* f32 initializers, never batched */
            ++*count;
        }
    return bytes;
}

int onnx_encode(const OnnxSource *src, Arena *a, DiagSink *diag, PbBuf *model)
{
    const IrGraph *g = src->g;
    Ox x = {.g = g, .a = a, .diag = diag};
    const char *file = g->src ? g->src->name : "";
    x.file = path_base(file);
    x.name = ARENA_ARRAY(a, const char *, g->n + 1);
    x.param = src->param;
    memset(x.name, 0, sizeof *x.name * (size_t)(g->n + 1));
    const bool *need = src->need;
    /* the first batched input gives the batch size where a node needs it */
    for (int v = 0; v < g->n && !x.feed; v++)
        if (g->nodes[v].op == IR_INPUT && g->nodes[v].a.role == ROLE_INPUT && ir_is_batched(&g->nodes[v].shape))
            x.feed = g->nodes[v].a.name;
    int rc = 0;
    for (int v = 0; v < g->n && rc == 0; v++)   /* the windows' nodes, all of them, before any is built */
        if (need[v] && rules[g->nodes[v].op].windowed && !window_fits(&x, v))
            rc = 1;
    for (int v = 0; v < g->n && rc == 0; v++) {
        if (!need[v])
            continue;
        const IrNode *n = &g->nodes[v];
        const OxRule *r = &rules[n->op];
        x.v = v, x.sub = 0;
        if (!r->emit) {
            diag_error(diag, n->at, "cannot export to ONNX: IR op '%s'%s%s%s has no ONNX form", ir_ops[n->op].name,
                       n->layer ? " (from " : "", n->layer ? n->layer : "", n->layer ? ")" : "");
            rc = 1;
        } else if (!x.feed && (n->op == IR_BATCH_SIZE || (n->op == IR_BROADCAST && ir_is_batched(&n->shape)))) {
            diag_error(diag, n->at, "cannot export to ONNX: IR op '%s' needs the batch size, and the model has no "
                       "batched input", ir_ops[n->op].name);
            rc = 1;
        } else if (!(x.name[v] = r->emit(&x, v, r))) {
            rc = 1;
        }
    }
    PbBuf out = {0}, graph = {0}, opset = {0};
    if (rc == 0) {
        /* the output, under the name the model gives it */
        x.v = src->output, x.sub = 0;
        const IrNode *o = &g->nodes[src->output];
        if (strcmp(x.name[src->output], src->output_name) != 0)
            node(&x, "Identity", src->output_name, NULL, 1, x.name[src->output]);
        value_info(&x, &out, GRAPH_OUTPUT, src->output_name, o->type, &o->shape, 0);
        pb_raw(&graph, x.nodes.data, x.nodes.len);
        pb_string(&graph, GRAPH_NAME, g->name);
        pb_raw(&graph, x.inits.data, x.inits.len);
        pb_string(&graph, GRAPH_DOC_STRING, arena_printf(a, "the forward pass of %s (%s)", g->name, x.file));
        pb_raw(&graph, x.inputs.data, x.inputs.len);
        pb_raw(&graph, out.data, out.len);
        bool lost = pb_failed(&x.nodes) || pb_failed(&x.inits) || pb_failed(&x.inputs) || pb_failed(&out);
        pb_int(model, MODEL_IR_VERSION, NNC_ONNX_IR_VERSION);
        pb_string(model, MODEL_PRODUCER_NAME, "nnc");
        if (src->version)
            pb_string(model, MODEL_PRODUCER_VERSION, src->version);
        if (src->doc)
            pb_string(model, MODEL_DOC_STRING, src->doc);
        pb_message(model, MODEL_GRAPH, &graph);
        pb_string(&opset, OPSET_DOMAIN, "");
        pb_int(&opset, OPSET_VERSION, NNC_ONNX_OPSET);
        pb_message(model, MODEL_OPSET_IMPORT, &opset);
        if (lost)
            model->oom = true;
    }
    pb_free(&x.nodes), pb_free(&x.inits), pb_free(&x.inputs);
    pb_free(&out), pb_free(&graph), pb_free(&opset);
    return rc;
}

