/* ir.h — the tensor IR: one training step as a graph of SSA values.
 *
 * Produced by lower.c (forward pass and loss from a checked model),
 * autodiff.c (the backward pass, appended), optim.c (the optimizer update,
 * appended); rewritten by the passes in compiler/passes; executed by
 * interp.c and, later, compiled by compiler/codegen.
 *
 * A value is a node index.  Nodes are kept in topological order: every
 * operand of node i has an index below i.  Shapes are static except the
 * batch dimension, written IR_BATCH, which may only be dimension 0 and is
 * fixed when the program runs.  Every node keeps the source location it came
 * from; nodes built by autodiff also keep the forward node and the rule.
 * docs/ir.md describes the text form that ir_print() writes.
 */
#ifndef NNC_IR_H
#define NNC_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/arena.h"
#include "../util/source.h"
#include "../util/strbuf.h"

enum { IR_MAX_RANK = 8 };
#define IR_BATCH INT64_C(-1)   /* dimension 0 of a batched tensor: the runtime batch size */

typedef enum IrType {
    IR_F32,   /* real numbers, single precision */
    IR_F64,   /* real numbers, double precision (gradient checking) */
    IR_I32,   /* labels and indices */
} IrType;

typedef struct IrShape {
    int     rank;
    int64_t dim[IR_MAX_RANK];  /* dim[0] may be IR_BATCH */
} IrShape;

/* The operations.  ops.def is the only list; see there for each one's
 * operands, attributes, shape rule and derivative. */
typedef enum IrOp {
#define OP(id, name, arity, flags, shape, grad, rule, eval, scalar) IR_##id,
#include "ops.def"
#undef OP
    IR_OP_COUNT
} IrOp;

/* What a graph input holds; it decides which slab it lives in. */
typedef enum IrRole {
    ROLE_INPUT,    /* a model input, fed per batch */
    ROLE_TARGET,   /* a model target, fed per batch */
    ROLE_PARAM,    /* a trainable parameter */
    ROLE_STATE,    /* optimizer state (momentum, moments) */
    ROLE_STEP,     /* a step counter, a scalar (a.i[0]: which RtCounter; ir_counter makes them) */
} IrRole;

/* What a graph output is. */
typedef enum IrOutKind {
    OUT_PREDICTION, /* the model's output */
    OUT_LOSS,       /* the mean loss of the batch, a scalar */
    OUT_METRIC,     /* a metric of the batch, a scalar */
    OUT_GRAD,       /* the gradient of the loss for a parameter (gradient checking) */
    OUT_UPDATE,     /* the new value of a parameter, state or the step counter */
} IrOutKind;

/* A fused region: a small program evaluated per element (FUSED) or per
 * row (FUSED_ROWS, where row reductions are allowed), or applied to each
 * result of a matmul (MATMUL_EPI).  Instruction k computes value
 * nin + k; values 0 .. nin-1 are the node's operands (for MATMUL_EPI,
 * value 0 is the matmul's result and the node's operands 2.. follow). */
typedef struct IrInstr {
    IrOp    op;        /* an elementwise op, or (FUSED_ROWS) SUM/MEAN/RMAX over the row */
    int     a, b, c;   /* values (see above); -1 unused */
    double  f;         /* CONST's value, POW's exponent */
} IrInstr;

typedef struct IrProgram {
    IrInstr *code;
    int      n;        /* the result is the last instruction's value */
    int      nin;      /* values that come from operands */
} IrProgram;

/* A sliding window over an image's two spatial axes, [0] its height (rows)
 * and [1] its width (columns): what WINDOWS, PATCHES, the poolings and
 * their adjoints walk, and a matmul reading an operand as patches keeps.
 * conv2d(x, 8, kernel: [1, 5], padding: [0, 2]) makes k {1, 5}, pad {0, 2}. */
typedef struct IrWindow {
    int64_t k[2];         /* its size along each axis */
    int64_t stride[2];    /* the step between windows */
    int64_t pad[2];       /* added on both sides of the axis */
} IrWindow;
/* A window's taps, kh·kw: a patch's pixels, a pooling's terms. */
static inline int64_t ir_window_taps(const IrWindow *w) { return w->k[0] * w->k[1]; }

/* Attributes; which are live depends on the op (ops.def says). */
typedef struct IrAttr {
    int64_t     i[8];     /* axes, flags ... */
    IrWindow    win;      /* the window ops' window; a matmul's operand read as patches (ir_mm_patches) */
    double      f;        /* constants, exponents, probabilities */
    IrShape     shape;    /* RESHAPE/BROADCAST target, WINDOWS_T's input shape */
    const char *name;     /* INPUT: the tensor's name; fused nodes: what they came from */
    IrRole      role;     /* INPUT */
    const double *data;   /* TENSOR: the values, row-major */
    IrProgram  *prog;     /* FUSED, FUSED_ROWS, MATMUL_EPI */
} IrAttr;

/* An attribute's integers in one array: i[0..7], then its window (k, stride
 * and pad of each axis).  What the compile-cache key, CSE and the kernel
 * bodies' sharing key read, so that a new integer field joins all three at
 * once (a window missing from one let pools of different windows share a
 * body, session 41). */
enum { IR_ATTR_INTS = 14 };
static inline void ir_attr_ints(const IrAttr *a, int64_t out[IR_ATTR_INTS])
{
    for (int k = 0; k < 8; k++)
        out[k] = a->i[k];
    for (int d = 0; d < 2; d++) {
        out[8 + 3 * d] = a->win.k[d];
        out[9 + 3 * d] = a->win.stride[d];
        out[10 + 3 * d] = a->win.pad[d];
    }
}

typedef struct IrNode {
    IrOp     op;
    IrType   type;
    IrShape  shape;
    int      nin;
    int     *in;          /* operands: node indices below this one */
    IrAttr   a;
    Span     at;          /* the source it came from (SPAN_NONE: none) */
    int      fwd;         /* autodiff: the forward node it differentiates, or -1 */
    const char *rule;     /* autodiff: the rule that built it, e.g. "relu' = x > 0" */
    const char *layer;    /* the built-in or layer it was lowered from, e.g. "dense" */
} IrNode;

typedef struct IrOutput {
    const char *name;     /* "loss", "hidden.weight", "optimizer.hidden.weight.exp_avg", "step" */
    int         value;    /* node index */
    IrOutKind   kind;
    int         updates;  /* OUT_UPDATE: the INPUT node it replaces */
} IrOutput;

typedef struct IrGraph {
    Arena      *arena;    /* owns nodes, operands, names */
    const Source *src;    /* for locations in dumps (may be NULL) */
    const char *name;     /* model name */
    IrType      ftype;    /* the real-number type: IR_F32 or IR_F64 */
    IrNode     *nodes;
    int         n, cap;
    IrOutput   *outs;
    int         nouts, capouts;
    const char *error;    /* the first internal error while building, or NULL */
    int         nforward; /* nodes [0, nforward) are the forward pass and loss */
    int         ngrad;    /* nodes [nforward, ngrad) are the backward pass */
    IrNode     *spare;    /* rewriting: the node array before the last rewrite (dead), which the next
                           * rewrite fills again instead of taking fresh memory; or NULL */
    int         capspare; /* its capacity */
} IrGraph;

/* ---- the op table ------------------------------------------------------------ */

typedef enum IrOpFlag {
    OPF_LEAF = 1 << 0,        /* no operands: INPUT, CONST, TENSOR, BATCH_SIZE */
    OPF_ELEMENTWISE = 1 << 1, /* result[i] = f(operands at i, broadcast) */
    OPF_REDUCTION = 1 << 2,   /* SUM, MEAN, RMAX; in a FUSED_ROWS program, over the row */
    OPF_NO_GRAD = 1 << 3,     /* gradients do not flow through it */
    OPF_COMMUTATIVE = 1 << 4, /* operands may be swapped (CSE) */
    OPF_FUSED = 1 << 5,       /* made by fusion; not differentiated */
    OPF_RANDOM = 1 << 6,      /* its value depends on the step (never merged by CSE) */
    OPF_VIEW = 1 << 7,        /* its operand's elements in the same order: the memory plan shares the bytes */
    OPF_LAYOUT = 1 << 8,      /* moves elements, no arithmetic: RESHAPE, PERMUTE, SLICE, PAD, CONCAT */
    OPF_WINDOW = 1 << 9,      /* walks the kh x kw windows of an image: WINDOWS, PATCHES, POOL_MAX and adjoints */
    OPF_IN_PLACE = 1 << 10,   /* may write its result over its operand when nothing reads that after it: the
                               * memory plan shares the bytes then (ALLREDUCE, which the runtime writes) */
    OPF_CALL = 1 << 11,       /* a runtime call, not a kernel: the step's entry calls the runtime where it
                               * stands (ALLREDUCE: cg_module.c make_entry) */
    OPF_FINITE = 1 << 12,     /* finite for finite operands, 0 included, overflow aside (not LOG, SQRT of a
                               * negative, RSQRT, DIV, POW): what passes/triangle.c may assume of a
                               * value made from a 0 */
    OPF_ADDS = 1 << 13,       /* a reduction that adds its terms (SUM, MEAN): a ±0 term leaves it as it is,
                               * so a row stopped at its mask skips them (ir_rows_stop_error); from 0 */
    OPF_MAXES = 1 << 14,      /* a reduction that keeps the greatest of its terms (RMAX): from −inf */
    OPF_AVERAGES = 1 << 15,   /* a reduction whose result is divided by the count of its terms (MEAN) */
} IrOpFlag;

struct IrGradCtx;
/* Shape rule: checks operands and attributes, sets n->shape and n->type.
 * Returns NULL or a message saying what is wrong. */
typedef const char *(*IrShapeFn)(const IrGraph *g, IrNode *n);
/* Gradient rule: given the node and the gradient of the loss with respect to
 * its result, adds the gradient contribution of each operand (ad_contribute). */
typedef void (*IrGradFn)(struct IrGradCtx *ad, int node, int gout);
struct IrEval;
/* Interpreter kernel for one node (interp.c). */
typedef void (*IrEvalFn)(struct IrEval *ev, int node);
/* Elementwise ops: the scalar function, for kernels and fused programs. */
typedef double (*IrScalarFn)(double a, double b, double c, double f);

typedef struct IrOpInfo {
    const char *name;
    int         arity;    /* operands; -1: any number */
    unsigned    flags;
    IrShapeFn   shape;
    IrGradFn    grad;     /* NULL: not differentiable (OPF_NO_GRAD or fused) */
    const char *rule;     /* the derivative, for dumps: "relu' = x > 0" */
    IrEvalFn    eval;
    IrScalarFn  scalar;   /* OPF_ELEMENTWISE only */
} IrOpInfo;

extern const IrOpInfo ir_ops[IR_OP_COUNT];

/* The value reduction op starts from: 0 for one that adds, −inf for one
 * that keeps the greatest.  Its step and its end are its flags too
 * (OPF_MAXES, OPF_AVERAGES): every reduction has exactly one of OPF_ADDS
 * and OPF_MAXES (test_grad_ops.c walks the table), so a new one cannot
 * take another's rule by default. */
double ir_reduce_start(IrOp op);

/* ---- building graphs ----------------------------------------------------------- */

void ir_init(IrGraph *g, Arena *a, const Source *src, const char *name, IrType ftype);
/* Appends a node; its shape comes from the op's rule.  On a shape error
 * (a bug in the caller: the front end checked the model) records an
 * internal error in g->error (the first one stays) and returns -1. */
int  ir_add(IrGraph *g, IrOp op, const int *in, int nin, const IrAttr *a, Span at);
/* Convenience builders; all return the new node's index. */
int  ir_input(IrGraph *g, IrRole role, const char *name, IrType type, const IrShape *shape, Span at);
int  ir_const(IrGraph *g, double v, Span at);
int  ir_unary(IrGraph *g, IrOp op, int x, Span at);
int  ir_binary(IrGraph *g, IrOp op, int x, int y, Span at);
int  ir_pow(IrGraph *g, int x, double exponent, Span at);
int  ir_reduce(IrGraph *g, IrOp op, int x, uint64_t axes, Span at);   /* keeps reduced axes as 1 */
int  ir_reshape(IrGraph *g, int x, const IrShape *shape, Span at);
int  ir_permute(IrGraph *g, int x, const int *perm, Span at);
int  ir_broadcast(IrGraph *g, int x, const IrShape *shape, Span at);
int  ir_matmul(IrGraph *g, int a, int b, bool ta, bool tb, Span at);
void ir_output(IrGraph *g, const char *name, int value, IrOutKind kind, int updates);

/* The first error of ir_add (an internal compiler error), or NULL. */
const char *ir_error(const IrGraph *g);

bool    ir_shape_equal(const IrShape *a, const IrShape *b);
bool    ir_is_batched(const IrShape *s);
int64_t ir_elems(const IrShape *s, int64_t batch);   /* elements with the batch size given */
int     ir_type_size(IrType t);
const char *ir_type_name(IrType t);
void    ir_shape_print(StrBuf *sb, const IrShape *s);

/* Use counts of every node, counting graph outputs (arena array). */
int    *ir_use_counts(const IrGraph *g);

/* Rewriting (passes): an empty graph like src (same arena, names, type),
 * with room for src's nodes: the array src dropped at its last rewrite if
 * it is large enough (a graph is never copied by value, so nothing else
 * points into it), else a new one.  Returns the map from src's nodes to
 * dst's that ir_copy_into and ir_replaced fill (src->n + 1 ints, in src's
 * arena). */
int *ir_rewrite_begin(IrGraph *dst, const IrGraph *src);
/* Appends a copy of src's node with operands (and autodiff provenance)
 * renamed by map[old] = new; returns its index in dst.  Keeps the stage
 * boundaries: nodes copied from src's forward part count as forward. */
int  ir_copy(IrGraph *dst, const IrGraph *src, int node, const int *map);
/* Appends to dst a node of op over in[] with attributes a that stands where
 * node of src stood: its source place, rule, layer, and its side of the
 * forward/gradient boundaries (fwd unset).  Returns its id or -1. */
int  ir_add_like(IrGraph *dst, const IrGraph *src, int node, IrOp op, const int *in, int nin, const IrAttr *a);
/* ir_copy for a pass rewriting src into dst: sets map[node] to the copy.
 * If the copy fails (src was not verified), returns false with the reason in
 * src->error (unless src had an error already); the pass then leaves src as
 * it is. */
bool ir_copy_into(IrGraph *dst, IrGraph *src, int node, int *map);
/* The same for a node a pass replaced by dst's node value (made with
 * ir_add_like, -1 if that failed): sets map[node] = value and gives value
 * node's autodiff provenance (fwd, renamed by map); false, with dst's
 * reason in src->error, when value is -1. */
bool ir_replaced(IrGraph *dst, IrGraph *src, int node, int value, int *map);
/* Who reads each node, for passes that rewrite by looking at users: the
 * users of node i are node[e] for e = first[i], next[e], ... until -1 (last
 * user first); is_output[i] whether i is one of the graph's outputs.  In
 * g's arena, valid until g changes. */
typedef struct IrUsers {
    int *first, *next, *node;
    bool *is_output;
} IrUsers;
void ir_users(IrGraph *g, IrUsers *u);
/* Whether node i is read by exactly one node and is not an output: a pass
 * may then fold it into that reader. */
bool ir_read_once(const IrUsers *u, int i);
/* Ends a rewrite: dst takes src's outputs, values renamed by map, then
 * replaces src. */
void ir_rewrite_end(IrGraph *src, IrGraph *dst, const int *map);

#endif
