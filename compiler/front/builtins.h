/* builtins.h — the library of built-in layers, losses, metrics, optimizers,
 * schedules and data sources: one table, the only list of them.
 *
 * Each row gives a name, where it may be used (its class), its signature
 * (parameters with kinds, defaults and ranges), the default name of the
 * parameters it creates, and its check function: the shape rule, which also
 * declares parameters and counts FLOPs (for a data source: whether it can
 * feed the model's input and target).  sema.c binds arguments from the
 * signature generically; docs/language.md describes the same rows.
 */
#ifndef NNC_BUILTINS_H
#define NNC_BUILTINS_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/source.h"
#include "types.h"

typedef enum BuiltinId {
    /* layers: tensor -> tensor */
    B_DENSE, B_CONV2D, B_MAX_POOL, B_AVG_POOL, B_CONV1D, B_MAX_POOL1D, B_AVG_POOL1D,
    B_FLATTEN, B_RESHAPE, B_EMBEDDING,
    B_POSITIONAL, B_LAYER_NORM, B_DROPOUT, B_ATTENTION, B_CROSS_ATTENTION, B_MATMUL,
    /* activations */
    B_RELU, B_LEAKY_RELU, B_SIGMOID, B_TANH, B_GELU, B_SOFTMAX, B_LOG_SOFTMAX,
    /* primitives: elementwise functions, reductions over an axis, layout */
    B_EXP, B_LOG, B_SQRT, B_ABS, B_POW, B_MAXIMUM, B_MINIMUM, B_CLAMP,
    B_SUM, B_MEAN, B_MAX, B_LOGSUMEXP, B_TRANSPOSE, B_CONCAT, B_ONE_HOT,
    /* composition */
    B_REPEAT,
    /* losses and metrics */
    B_CROSS_ENTROPY, B_MSE, B_BINARY_CROSS_ENTROPY, B_ACCURACY,
    B_MAE, B_BINARY_CROSS_ENTROPY_LOGITS,
    /* train block: optimizers, schedules, data sources */
    B_SGD, B_MOMENTUM, B_ADAM, B_ADAMW,
    B_CONSTANT, B_STEP, B_COSINE,
    B_MNIST, B_CSV, B_TEXT, B_NPZ,
    /* train block: tokenizers (text's tokenizer: argument) */
    B_BPE,
    B_COUNT
} BuiltinId;

/* Where a built-in may appear. */
typedef enum BuiltinClass {
    BC_LAYER,      /* in expressions of layers and models */
    BC_LOSS,       /* a loss function: one number; in any expression (a loss or a metric is one) */
    BC_METRIC,     /* only in a 'metric' statement (not differentiable) */
    BC_OPTIMIZER,  /* train: optimizer = ... */
    BC_SCHEDULE,   /* train: schedule = ... */
    BC_DATA,       /* train: data = ... */
    BC_TOKENIZER,  /* train: text(..., tokenizer: ...) */
} BuiltinClass;

typedef enum ParamKind {
    PK_TENSOR,  /* a tensor value */
    PK_INT,     /* an integer; .range bounds it */
    PK_FLOAT,   /* a number (integers convert); .range bounds it */
    PK_BOOL,    /* true or false */
    PK_STRING,  /* a string literal or string constant */
    PK_ENUM,    /* one of .choices, written as a bare word or a string */
    PK_SHAPE,   /* a list of integers, [1, 28, 28]; -1 once means "the rest" */
    PK_LAYER,   /* the name of a user-defined layer */
    PK_OPERAND, /* a tensor or a number (integers convert): an operand of maximum/minimum */
    PK_AXES,    /* one axis (an integer; its default) or a list of them: VAL_INT or VAL_LIST */
    PK_TOKENIZER, /* the bare word bytes (VAL_STRING) or a tokenizer call such as bpe(vocab: 512) (VAL_SPEC) */
    PK_WINDOW,  /* a window's size, stride or padding: an integer for both axes (VAL_INT; its default) or
                 * [height, width] (VAL_LIST of two); .range bounds each (builtin_window_arg reads it) */
} ParamKind;

typedef struct BuiltinParam {
    const char *name;
    ParamKind   kind;
    bool        required;  /* else .def (or .def_from) gives its value */
    Value       def;
    const char *def_from;  /* default copies this earlier parameter (pool stride = size) */
    const char *range;     /* PK_INT/PK_FLOAT/PK_WINDOW: "[1,inf)", "(0,1)" ... */
    const char *choices;   /* PK_ENUM: "standard|unit|none" */
    const char *doc;       /* one line for docs and --help-layers */
} BuiltinParam;

enum { BUILTIN_MAX_PARAMS = 8 };

/* One parameter tensor a call creates, before its scope prefix is added. */
typedef enum InitKind {
    INIT_UNIFORM_FAN_IN,  /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)), torch Linear/Conv2d */
    INIT_NORMAL,          /* N(0, 1), torch Embedding */
    INIT_ONES,            /* torch LayerNorm weight */
    INIT_ZEROS,           /* torch LayerNorm bias */
    INIT_NORMAL_STD,      /* N(0, scale^2): param ... = normal(std) */
    INIT_UNIFORM,         /* U(-scale, scale): param ... = uniform(limit) */
    INIT_DATA,            /* the values of a tensor literal: param ... = [[...]] */
} InitKind;

struct CallCheck;
typedef bool (*BuiltinCheckFn)(struct CallCheck *cc);

/* Which places of its operands a layer's result at one place depends on: the
 * one answer that decode.c (the positions kept apart) and lower.c (a
 * channels-last image passed through) both read. */
typedef enum BuiltinReach {
    BR_ANY = 0,   /* not said: may mix places (each user has its own rules, or refuses) */
    BR_ELEMENT,   /* each result element from the same element of its one tensor operand: relu(x) */
    BR_ELEMENTS,  /* ... of its tensor operands, broadcast: maximum(a, b) */
    BR_POSITION,  /* each position's result from that position alone, not elementwise: an embedding's
                   * lookup, positional (no operand), dropout (its mask follows the layout) */
    BR_LAST,      /* each result row from the same row of its operand, along its last axis: dense,
                   * layer_norm (positions apart when an axis comes before the last) */
    BR_AXIS,      /* each result from its operand's places along the axes its argument "axis" names,
                   * the places on the other axes apart: sum, softmax (positions apart when the
                   * axes leave out the first) */
} BuiltinReach;

typedef struct Builtin {
    const char  *name;
    BuiltinClass cls;
    const char  *pname;    /* default name of its parameters ("attn"); NULL: none */
    BuiltinParam params[BUILTIN_MAX_PARAMS];
    BuiltinCheckFn check;  /* shape rule; for a data source, whether it fits the model's
                            * input and target; NULL for optimizers and schedules */
    const char  *doc;      /* one line */
    BuiltinReach reach;    /* layers */
    /* also a function of numbers: of a number x (and the number p, its second
     * argument, if any) it gives a number, computed when the program is
     * checked, so constants and settings may call it (1 / sqrt(64.0));
     * NULL: of tensors only */
    double (*of_number)(double x, double p);
} Builtin;

extern const Builtin builtin_table[B_COUNT];

/* A data source, optimizer or schedule as written in a train block. */
typedef struct Spec {
    const Builtin *b;
    Value          args[BUILTIN_MAX_PARAMS];  /* bound to b's signature, defaults filled in */
    Span           at;
} Spec;

/* one_hot's shape rule: labels class(C) -> f32[C], token(C)[s...] ->
 * f32[s..., C], batched as the labels are; false when the classes' axis
 * leaves no room for the batch among the IR's axes (types.h). */
bool builtin_one_hot_type(const TensorType *labels, TensorType *out);

/* The row named name, or NULL. */
const Builtin *builtin_lookup(const char *name);
int            builtin_nparams(const Builtin *b);
const char    *builtin_class_name(BuiltinClass c);    /* "optimizer" */
const char    *builtin_class_phrase(BuiltinClass c);  /* "an optimizer" */

/* The state a check function works on: arguments bound to parameters (in
 * signature order), and what it fills in. */
typedef struct CallCheck {
    struct Sema   *sema;
    const Builtin *b;
    Span           at;                       /* the call */
    const struct SemaModel *model;           /* the model checked so far (data sources compare with it) */
    const char    *prefix;                   /* parameter-name prefix, "blocks.0.attn." */
    Value          arg[BUILTIN_MAX_PARAMS];
    Span           arg_at[BUILTIN_MAX_PARAMS];/* each argument, or the call when defaulted */
    const char    *arg_name[BUILTIN_MAX_PARAMS];/* each argument written as a plain name ("digit"), else NULL */
    /* out: */
    Value          result;
    uint64_t       flops;                    /* per example, forward */
} CallCheck;

/* Helpers for check functions (implemented in sema_expr.c and sema.c). */
void cc_note(CallCheck *cc, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cc_param(CallCheck *cc, const char *suffix, const Shape *shape, InitKind init, int64_t fan_in);
bool cc_error(CallCheck *cc, int arg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool cc_error_at(CallCheck *cc, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Bytes [at, at + len) of string argument arg's value, where the literal
 * writes them: a span of its text, or the whole literal when the value's
 * offsets are not the text's (an escape before them) or len is 0. */
Span cc_string_part(CallCheck *cc, int arg, int at, int len);
/* Formats a type for a message: "f32[B,784]" (in a buffer owned by the sema arena). */
const char *cc_type(CallCheck *cc, const TensorType *t);
/* After an error at argument arg, labels where real numbers go: a note that
 * one_hot(name) is them as real numbers, with its type, when arg is written
 * as a name and one_hot takes it; use says what takes them, or NULL. */
void cc_note_one_hot(CallCheck *cc, int arg, const char *use);
const char *cc_shape(CallCheck *cc, const Shape *s, bool batched);

/* A PK_WINDOW argument's values along the height and the width: an
 * integer's twice, or the list's two. */
void builtin_window_arg(const Value *v, int64_t hw[2]);

/* Parses a range "[lo,hi)" and checks v against it. */
bool range_contains(const char *range, double v);
/* Whether the range is of numbers greater than 0: "(0,...". */
bool range_positive(const char *range);

#endif
