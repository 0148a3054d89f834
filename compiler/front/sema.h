/* sema.h — the checked model: names resolved, shapes inferred, parameters
 * named, the train block validated.
 *
 * Consumes an AstProgram; produces a SemaModel: a flat list of nodes in
 * evaluation order (inputs, then every layer application with user layers
 * and repeat expanded) that the summary prints and the IR lowering will
 * consume, the parameter tensors with their stable names, and the training
 * recipe.  Errors go to the DiagSink; a model with errors is not used.
 */
#ifndef NNC_SEMA_H
#define NNC_SEMA_H

#include "ast.h"
#include "builtins.h"
#include "../util/diag.h"

/* A node of the checked model. Which fields are live depends on .kind. */
typedef enum SemaNodeKind {
    SN_INPUT,    /* an 'input' declaration */
    SN_TARGET,   /* a 'target' declaration */
    SN_CALL,     /* a built-in: .builtin, .args (bound to its signature) */
    SN_BINARY,   /* .op on .in[0] and .in[1] (or .scalar when one side is a number) */
    SN_NEG,      /* -.in[0] */
    SN_INDEX,    /* .in[0][.slice]: x[i, a:b] */
    SN_PARAM,    /* the parameter tensor SemaModel.params[.first_param] (unbatched); .nparams is 1
                  * where a 'param' statement creates it, 0 where a name refers to it */
    SN_CONST,    /* a tensor literal: .data, row-major, of .type (unbatched) */
} SemaNodeKind;

/* The subscripts of x[...], resolved: per-example axis k of the operand
 * keeps elements start .. start+len-1; an index (drop) keeps one and
 * removes the axis.  Axes from naxes on are kept whole. */
typedef struct SemaSlice {
    int naxes;
    struct { int64_t start, len; bool drop; } axis[NNC_MAX_RANK];
} SemaSlice;

typedef struct SemaNode {
    SemaNodeKind   kind;
    const char    *name;       /* binding path ("blocks.0.x") or parameter prefix ("hidden") */
    Span           at;         /* the source it came from */
    TensorType     type;       /* result; losses and metrics give a scalar */
    int            in[BUILTIN_MAX_PARAMS]; /* tensor operands: node indices, -1 unused */
    const Builtin *builtin;    /* SN_CALL */
    Value          args[BUILTIN_MAX_PARAMS];
    BinOp          op;         /* SN_BINARY */
    double         scalar;     /* SN_BINARY with one numeric side */
    int            scalar_side;/* 0: no scalar; 1: scalar on the left; 2: on the right */
    int            first_param, nparams; /* parameters it created, in SemaModel.params */
    const SemaSlice *slice;    /* SN_INDEX */
    uint64_t       flops;      /* per example, forward */
    const double  *data;       /* SN_CONST */
    Span           use;        /* the model's call it was expanded under (a user layer's or
                                * repeat's; == at outside layers): where the compile-memory
                                * check points (drive/memcheck.c) */
} SemaNode;

typedef struct SemaParam {
    const char *name;       /* "blocks.2.attn.query.weight" */
    Shape       shape;
    InitKind    init;
    int64_t     fan_in;     /* INIT_UNIFORM_FAN_IN */
    Span        at;         /* the call that created it */
    double      scale;      /* INIT_NORMAL_STD: the std; INIT_UNIFORM: the limit */
    const double *data;     /* INIT_DATA: the literal's values, row-major */
    Span        use;        /* the model's call it was created under (== at outside layers) */
    int64_t     touched;    /* the checker's count of registrations at its last (sema_shared_use) */
} SemaParam;

typedef struct SemaTrain {
    const AstNode *decl;              /* the train block, or NULL */
    const Builtin *data, *optimizer, *schedule;
    Value          data_args[BUILTIN_MAX_PARAMS];
    Value          optimizer_args[BUILTIN_MAX_PARAMS];
    Value          schedule_args[BUILTIN_MAX_PARAMS];
    int64_t        batch, epochs, steps, seed, eval_every;  /* 0 where not given */
    bool           distributed;       /* the driver's, not the block's: gradients summed across MPI
                                       * ranks before the update (allreduce nodes; docs/distributed.md) */
} SemaTrain;

/* A binding inside a user layer as one use of the layer computed it, for
 * --trace, which shows each before the model statement that made the use. */
typedef struct SemaInner {
    const AstNode *stmt;      /* the layer body's "NAME = ..." or param statement */
    const AstNode *top;       /* the model body's statement being checked */
    const char    *path;      /* the use's parameter prefix and the name: "y.h", "blocks.0.a" */
    int            depth;     /* 1 in a layer the model calls, 2 in a layer that one calls, ... */
    Value          v;
} SemaInner;

typedef struct SemaModel {
    const char *name;
    Span        at;
    SemaNode   *nodes;
    int         nnodes;
    SemaParam  *params;
    int         nparams;
    int        *param_slots;  /* params' names hashed (sema_param_find): open addressing,
                               * slot -> index + 1 (0: empty); made when first needed */
    int         cap_param_slots; /* slots, a power of two at least twice nindexed */
    int         nindexed;     /* params[0 .. nindexed) are in param_slots */
    int         output;       /* node index */
    int         loss;         /* node index, or -1 */
    int        *metrics;
    int         nmetrics;
    const char **metric_names; /* per metric: the callee of a call ("accuracy", a user layer), else "metric" */
    SemaTrain   train;
    SemaInner  *inner;        /* in the order checked */
    int         ninner;
} SemaModel;

/* Checks prog. Returns the model, or NULL when there were errors (all of
 * them reported to diag). */
SemaModel *sema_check(const AstProgram *prog, Arena *a, DiagSink *diag);

int64_t sema_param_count(const SemaModel *m);
/* The index in m->params of the parameter named prefix.suffix ("E" and
 * "weight": "E.weight"), or named prefix when suffix is NULL; -1 when
 * there is none.  A lookup, not a scan, in a model with shared names: a
 * shared use finds its parameters in O(1) however many there are (lower.c).
 * Parameters made since the index was last brought up to date (all of
 * them in a model without sharing or dotted names) are scanned. */
int     sema_param_find(const SemaModel *m, const char *prefix, const char *suffix);
/* used[i] (m->nnodes entries): whether the output reads node i, itself included. */
void sema_output_reads(const SemaModel *m, bool *used);
/* only[i]: whether the metrics read node i and neither the output nor the
 * loss does (what evaluation alone computes). */
void sema_metric_only(const SemaModel *m, bool *only, Arena *a);

#endif
