/* test_shapes.c — the shape rule of every built-in usable in a model, of the
 * losses and the metric, and of + - * / (with broadcasting) and unary minus.
 *
 * Each row is a small program: optional top-level text (layers for repeat),
 * declarations inside the model, y = expr, output y, and optionally a loss or
 * metric statement.  A row expects either the type of the output (of the
 * loss/metric node when the row has a statement) or the first error.  Rows
 * with .params also check the model's parameters and the node's FLOPs.
 * Expected values follow the rules as written in builtins.c, computed by hand.
 */
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct Row {
    int         line;
    const char *of;      /* the built-in or operator the row is about */
    const char *top;     /* before the model, or NULL */
    const char *decls;   /* inside the model, before y = expr */
    const char *expr;
    const char *stmt;    /* "loss ..." or "metric ...", or NULL */
    const char *type;    /* expected type of the output (of stmt's node when given) */
    const char *error;   /* or the expected first error */
    const char *params;  /* "name[shape] ..." of every parameter, or NULL: unchecked */
    uint64_t    flops;   /* of the checked node; checked when .params is given */
} Row;

#define OK(o, d, e, t)             {__LINE__, o, NULL, d, e, NULL, t, NULL, NULL, 0}
#define OKP(o, d, e, t, p, f)      {__LINE__, o, NULL, d, e, NULL, t, NULL, p, f}
#define BAD(o, d, e, m)            {__LINE__, o, NULL, d, e, NULL, NULL, m, NULL, 0}
#define TOK(o, top, d, e, t)       {__LINE__, o, top, d, e, NULL, t, NULL, NULL, 0}
#define TOKP(o, top, d, e, t, p, f){__LINE__, o, top, d, e, NULL, t, NULL, p, f}
#define TBAD(o, top, d, e, m)      {__LINE__, o, top, d, e, NULL, NULL, m, NULL, 0}
#define SOK(o, d, e, s, p, f)      {__LINE__, o, NULL, d, e, s, "f32[]", NULL, p, f}
#define SBAD(o, d, e, s, m)        {__LINE__, o, NULL, d, e, s, NULL, m, NULL, 0}
#define STYPE(o, d, e, s, t)       {__LINE__, o, NULL, d, e, s, t, NULL, NULL, 0}  /* the statement's node's type */
#define END                        {0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}

#define INT_LABELS(name, type) \
    name " needs real numbers, but " type " holds integer labels; use embedding() to turn tokens into vectors"

static const Row layer_rows[] = {
    OKP("dense", "input x: f32[784]", "dense(x, 128)", "f32[B,128]", "y.weight[128,784] y.bias[128]", 200832),
    OKP("dense", "input x: f32[5, 16]", "dense(x, 8)", "f32[B,5,8]", "y.weight[8,16] y.bias[8]", 1320),
    OKP("dense", "input x: f32[4]", "dense(x, units: 3, bias: false)", "f32[B,3]", "y.weight[3,4]", 24),
    OK("dense", "input x: f32[2, 3, 4]", "dense(x, 1)", "f32[B,2,3,1]"),
    BAD("dense", "input x: token(10)[4]", "dense(x, 3)", INT_LABELS("dense", "token(10)[B,4]")),
    BAD("dense", "input x: f32[]", "dense(x, 3)", "dense needs a tensor with at least 1 dimension per example, found f32[B]"),
    BAD("dense", "input x: f32[4]", "dense(x, 0)", "dense's units must be at least 1, found 0"),
    BAD("dense", "input x: f32[4]", "dense(x, 2.5)", "dense's units must be an integer, found a number"),
    BAD("dense", "input x: f32[4]", "dense(x)", "dense is missing argument 'units'"),
    BAD("dense", "input x: f32[1000000]", "dense(x, 2000000)",
        "dense would make a tensor of shape [2000000,1000000], more than 2^40 elements"),

    OKP("conv2d", "input x: f32[1, 28, 28]", "conv2d(x, 32, 3)", "f32[B,32,26,26]",
        "y.weight[32,1,3,3] y.bias[32]", 411008),
    OK("conv2d", "input x: f32[1, 28, 28]", "conv2d(x, 32, kernel: 3, padding: 1)", "f32[B,32,28,28]"),
    OK("conv2d", "input x: f32[3, 32, 32]", "conv2d(x, 16, 5, stride: 2)", "f32[B,16,14,14]"),
    OKP("conv2d", "input x: f32[3, 7, 9]", "conv2d(x, 4, 3, stride: 2, padding: 1, bias: false)", "f32[B,4,4,5]",
        "y.weight[4,3,3,3]", 4320),
    OK("conv2d", "input x: f32[2, 5, 5]", "conv2d(x, 3, 5)", "f32[B,3,1,1]"),
    OK("conv2d", "input x: f32[1, 10, 6]", "conv2d(x, 1, 3, stride: 3)", "f32[B,1,3,2]"),
    OK("conv2d", "input x: f32[1, 3, 3]", "conv2d(x, 1, 2, stride: 5)", "f32[B,1,1,1]"),
    OK("conv2d", "input x: f32[1, 4, 4]", "conv2d(x, 2, 5, padding: 1)", "f32[B,2,2,2]"),
    BAD("conv2d", "input x: f32[28, 28]", "conv2d(x, 8, 3)",
        "conv2d needs [channels, height, width] per example, found f32[B,28,28]"),
    BAD("conv2d", "input x: f32[1, 3, 8, 8]", "conv2d(x, 8, 3)",
        "conv2d needs [channels, height, width] per example, found f32[B,1,3,8,8]"),
    BAD("conv2d", "input x: f32[1, 4, 4]", "conv2d(x, 2, 5)",
        "conv2d kernel 5x5 does not fit the 4x4 input of f32[B,1,4,4] (padding 0)"),
    BAD("conv2d", "input x: f32[1, 8, 2]", "conv2d(x, 1, 3)",
        "conv2d kernel 3x3 does not fit the 8x2 input of f32[B,1,8,2] (padding 0)"),
    OK("conv2d", "input x: f32[1, 8, 8]", "conv2d(x, 2, 3, padding: 3)", "f32[B,2,12,12]"),
    BAD("conv2d", "input x: f32[1, 8, 8]", "conv2d(x, 2, 3, stride: 0)", "conv2d's stride must be in [1, 1048576], found 0"),
    BAD("conv2d", "input x: token(4)[1, 8, 8]", "conv2d(x, 2, 3)", INT_LABELS("conv2d", "token(4)[B,1,8,8]")),
    BAD("conv2d", "input x: f32[1, 8, 8]", "conv2d(x, 2)", "conv2d is missing argument 'kernel'"),
    /* rectangular windows: [height, width] for kernel, stride and padding */
    OKP("conv2d", "input x: f32[3, 10, 12]", "conv2d(x, 8, kernel: [1, 5], padding: [0, 2])", "f32[B,8,10,12]",
        "y.weight[8,3,1,5] y.bias[8]", 29760),
    OKP("conv2d", "input x: f32[2, 9, 7]", "conv2d(x, 4, [3, 1], stride: [2, 3], bias: false)", "f32[B,4,4,3]",
        "y.weight[4,2,3,1]", 576),
    BAD("conv2d", "input x: f32[1, 8, 8]", "conv2d(x, 2, [1, 9])",
        "conv2d kernel 1x9 does not fit the 8x8 input of f32[B,1,8,8] (padding 0)"),
    BAD("conv2d", "input x: f32[1, 8, 8]", "conv2d(x, 2, [3, 9], padding: [1, 0])",
        "conv2d kernel 3x9 does not fit the 8x8 input of f32[B,1,8,8] (padding [1, 0])"),
    BAD("conv2d", "input x: f32[1, 8, 8]", "conv2d(x, 2, [1, 2, 3])",
        "conv2d's kernel must be an integer or a list of two integers such as [1, 5], found a list of 3"),
    BAD("conv2d", "input x: f32[1, 8, 8]", "conv2d(x, 2, [3, 2.5])", "conv2d's kernel width must be an integer, found 2.5"),
    BAD("conv2d", "input x: f32[1, 8, 8]", "conv2d(x, 2, 3, stride: [1, 0])",
        "conv2d's stride width must be in [1, 1048576], found 0"),
    BAD("conv2d", "input x: f32[1, 8, 8]", "conv2d(x, 2, 3, padding: [-1, 0])",
        "conv2d's padding height must be in [0, 1048576], found -1"),

    OKP("max_pool", "input x: f32[32, 28, 28]", "max_pool(x, 2)", "f32[B,32,14,14]", "", 25088),
    OK("max_pool", "input x: f32[3, 7, 7]", "max_pool(x, 2)", "f32[B,3,3,3]"),
    OK("max_pool", "input x: f32[1, 5, 5]", "max_pool(x, 3, stride: 1)", "f32[B,1,3,3]"),
    OK("max_pool", "input x: f32[8, 32, 32]", "max_pool(x, 3, stride: 2, padding: 1)", "f32[B,8,16,16]"),
    OK("max_pool", "input x: f32[1, 5, 5]", "max_pool(x, 2, padding: 1)", "f32[B,1,3,3]"),
    OK("max_pool", "input x: f32[2, 4, 6]", "max_pool(x, 1)", "f32[B,2,4,6]"),
    BAD("max_pool", "input x: f32[1, 8, 8]", "max_pool(x, 2, padding: 2)",
        "max_pool padding 2 must be at most half the window size 2"),
    BAD("max_pool", "input x: f32[1, 2, 2]", "max_pool(x, 3)",
        "max_pool window 3x3 does not fit the 2x2 input of f32[B,1,2,2]"),
    BAD("max_pool", "input x: f32[784]", "max_pool(x, 2)",
        "max_pool needs [channels, height, width] per example, found f32[B,784]"),
    BAD("max_pool", "input x: f32[1, 1, 4, 4]", "max_pool(x, 2)",
        "max_pool needs [channels, height, width] per example, found f32[B,1,1,4,4]"),
    BAD("max_pool", "input x: f32[1, 4, 4]", "max_pool(x, 0)", "max_pool's size must be in [1, 1048576], found 0"),
    OKP("max_pool", "input x: f32[4, 6, 8]", "max_pool(x, [1, 2])", "f32[B,4,6,4]", "", 192),
    OK("max_pool", "input x: f32[1, 5, 5]", "max_pool(x, [2, 3], stride: 1, padding: [0, 1])", "f32[B,1,4,5]"),
    BAD("max_pool", "input x: f32[1, 8, 8]", "max_pool(x, [2, 4], padding: [2, 1])",
        "max_pool padding 2 along the height must be at most half the window's height 2"),
    BAD("max_pool", "input x: f32[1, 8, 8]", "max_pool(x, \"a\")",
        "max_pool's size must be an integer or a list of two integers such as [1, 5], found a string"),

    OKP("conv1d", "input x: f32[3, 20]", "conv1d(x, 6, 5, padding: 2)", "f32[B,6,20]",
        "y.weight[6,3,5] y.bias[6]", 3720),
    OKP("conv1d", "input x: f32[6, 10]", "conv1d(x, 4, kernel: 3, stride: 2, bias: false)", "f32[B,4,4]",
        "y.weight[4,6,3]", 576),
    BAD("conv1d", "input x: f32[3, 7]", "conv1d(x, 2, 9)",
        "conv1d kernel 9 does not fit the length-7 input of f32[B,3,7] (padding 0)"),
    BAD("conv1d", "input x: f32[1, 8, 8]", "conv1d(x, 2, 3)",
        "conv1d needs [channels, length] per example, found f32[B,1,8,8]"),
    BAD("conv1d", "input x: f32[3, 8]", "conv1d(x, 2, [1, 3])", "conv1d's kernel must be an integer, found a list"),

    OKP("max_pool1d", "input x: f32[6, 20]", "max_pool1d(x, 2)", "f32[B,6,10]", "", 120),
    OK("max_pool1d", "input x: f32[2, 11]", "max_pool1d(x, 3, stride: 1, padding: 1)", "f32[B,2,11]"),
    BAD("max_pool1d", "input x: f32[2, 8]", "max_pool1d(x, 2, padding: 2)",
        "max_pool1d padding 2 must be at most half the window size 2"),
    OKP("avg_pool1d", "input x: f32[6, 20]", "avg_pool1d(x, 3, stride: 2, padding: 1)", "f32[B,6,10]", "", 180),
    OK("avg_pool1d", "input x: f32[3, 9]", "avg_pool1d(x, 3)", "f32[B,3,3]"),
    BAD("avg_pool1d", "input x: f32[2, 4]", "avg_pool1d(x, 5)",
        "avg_pool1d window 5 does not fit the length-4 input of f32[B,2,4]"),
    BAD("avg_pool1d", "input x: f32[4]", "avg_pool1d(x, 2)",
        "avg_pool1d needs [channels, length] per example, found f32[B,4]"),

    OKP("avg_pool", "input x: f32[64, 8, 8]", "avg_pool(x, 8)", "f32[B,64,1,1]", "", 4096),
    OK("avg_pool", "input x: f32[4, 10, 10]", "avg_pool(x, 3, stride: 2)", "f32[B,4,4,4]"),
    OK("avg_pool", "input x: f32[2, 6, 6]", "avg_pool(x, 3, padding: 1)", "f32[B,2,2,2]"),
    OK("avg_pool", "input x: f32[1, 9, 4]", "avg_pool(x, 2)", "f32[B,1,4,2]"),
    OKP("avg_pool", "input x: f32[2, 6, 4]", "avg_pool(x, [3, 1], stride: [1, 1])", "f32[B,2,4,4]", "", 96),
    BAD("avg_pool", "input x: f32[1, 4, 4]", "avg_pool(x, [1, 8])",
        "avg_pool window 1x8 does not fit the 4x4 input of f32[B,1,4,4]"),
    BAD("avg_pool", "input x: f32[1, 8, 8]", "avg_pool(x, 4, padding: 3)",
        "avg_pool padding 3 must be at most half the window size 4"),
    BAD("avg_pool", "input x: f32[1, 3, 9]", "avg_pool(x, 4)",
        "avg_pool window 4x4 does not fit the 3x9 input of f32[B,1,3,9]"),
    BAD("avg_pool", "input x: f32[4, 4]", "avg_pool(x, 2)",
        "avg_pool needs [channels, height, width] per example, found f32[B,4,4]"),
    BAD("avg_pool", "input x: f32[1, 4, 4]", "avg_pool(x, 2, stride: 0)", "avg_pool's stride must be in [1, 1048576], found 0"),

    OKP("flatten", "input x: f32[64, 7, 7]", "flatten(x)", "f32[B,3136]", "", 0),
    OK("flatten", "input x: f32[10]", "flatten(x)", "f32[B,10]"),
    OK("flatten", "input x: f32[1, 5, 5]", "flatten(conv2d(x, 4, 3))", "f32[B,36]"),
    OK("flatten", "input x: f32[]", "flatten(x)", "f32[B,1]"),
    BAD("flatten", "input x: token(5)[3]", "flatten(x)", INT_LABELS("flatten", "token(5)[B,3]")),
    BAD("flatten", "input x: f32[2, 3]", "flatten(x, 2)", "flatten takes 1 argument, but more are given"),

    OKP("reshape", "input x: f32[784]", "reshape(x, [1, 28, 28])", "f32[B,1,28,28]", "", 0),
    OK("reshape", "input x: f32[6, 4]", "reshape(x, [-1, 3])", "f32[B,8,3]"),
    OK("reshape", "input x: f32[2, 3, 4]", "reshape(x, 24)", "f32[B,24]"),
    OK("reshape", "input x: f32[2, 3, 4]", "reshape(x, [4, -1, 2])", "f32[B,4,3,2]"),
    OK("reshape", "input x: f32[5]", "reshape(x, shape: [-1])", "f32[B,5]"),
    OK("reshape", "input x: f32[1]", "reshape(x, [])", "f32[B]"),
    BAD("reshape", "input x: f32[784]", "reshape(x, [5, 5])",
        "cannot reshape f32[B,784] (784 elements per example) to [5,5] (25 elements)"),
    BAD("reshape", "input x: f32[784]", "reshape(x, [-1, 5])",
        "cannot reshape f32[B,784]: 784 elements do not divide into rows of 5"),
    BAD("reshape", "input x: f32[6]", "reshape(x, [-1, -1])",
        "reshape dimensions must be positive (or a single -1), found -1"),
    BAD("reshape", "input x: f32[6]", "reshape(x, [0, 6])", "reshape dimensions must be positive (or a single -1), found 0"),
    /* the IR's 8 axes hold the batch: 7 of a batched value's own, 8 of a parameter's */
    OK("reshape", "input x: f32[6]", "reshape(x, [1, 1, 1, 1, 1, 1, 6])", "f32[B,1,1,1,1,1,1,6]"),
    BAD("reshape", "input x: f32[6]", "reshape(x, [1, 1, 1, 1, 1, 1, 1, 6])",
        "reshape of f32[B,6] to 8 axes per example would have too many dimensions (at most 8, the batch included)"),
    BAD("reshape", "input x: f32[6]", "reshape(x, [1, 1, 1, 1, 1, 1, 1, 1, 6])",
        "reshape of f32[B,6] to 9 axes per example would have too many dimensions (at most 8, the batch included)"),
    OK("reshape", "input x: f32[6]\nparam w: f32[6] = zeros()", "x + sum(reshape(w, [1, 1, 1, 1, 1, 1, 1, 6]), [0, 1, 2, 3, 4, 5, 6])",
       "f32[B,6]"),
    BAD("reshape", "input x: f32[6]\nparam w: f32[6] = zeros()", "x + sum(reshape(w, [1, 1, 1, 1, 1, 1, 1, 1, 6]))",
        "reshape of f32[6] to 9 axes would have too many dimensions (at most 8)"),
    BAD("reshape", "input x: f32[6]", "reshape(x, 2.0)",
        "reshape's shape must be a list of integers such as [1, 28, 28], found a number"),
    BAD("reshape", "input t: token(3)[6]", "reshape(t, [2, 3])", INT_LABELS("reshape", "token(3)[B,6]")),

    OKP("embedding", "input t: token(65)[64]", "embedding(t, 128)", "f32[B,64,128]", "y.weight[65,128]", 0),
    OK("embedding", "input t: token(10)[2, 3]", "embedding(t, 4)", "f32[B,2,3,4]"),
    OK("embedding", "input t: token(7)[1]", "embedding(t, dim: 5)", "f32[B,1,5]"),
    OKP("embedding", "input x: f32[1, 2]\ninput c: token(10)[1]", "x + embedding(c, 2)", "f32[B,1,2]", "y.weight[10,2]", 2),
    BAD("embedding", "input x: f32[2]\ntarget c: class(10)", "x + embedding(c, 2)",
        "target 'c' is what the model must predict; only a loss or a metric may read it"),
    BAD("embedding", "input x: f32[4]", "embedding(x, 8)", "embedding needs token or class indices, found f32[B,4]"),
    BAD("embedding", "input t: token(5)[4]", "embedding(t, 0)", "embedding's dim must be at least 1, found 0"),
    OK("embedding", "input t: token(3)[1, 1, 1, 1, 1, 1]", "embedding(t, 2)", "f32[B,1,1,1,1,1,1,2]"),
    BAD("embedding", "input t: token(3)[1, 1, 1, 1, 1, 1, 1]", "embedding(t, 2)",
        "embedding of token(3)[B,1,1,1,1,1,1,1] would have too many dimensions (at most 8, the batch included)"),
    BAD("embedding", "input t: token(2000000)[1]", "embedding(t, 1000000)",
        "embedding would make a tensor of shape [2000000,1000000], more than 2^40 elements"),

    OKP("positional", "input x: f32[4, 8]", "x + positional(4, 8)", "f32[B,4,8]", "y.weight[4,8]", 32),
    OKP("positional", "input x: f32[4, 8]", "x + positional(4, 8, kind: sinusoidal)", "f32[B,4,8]", "", 32),
    OK("positional", "input x: f32[6, 2]", "x + positional(6, 2, \"sinusoidal\")", "f32[B,6,2]"),
    OK("positional", "input x: f32[3, 7]", "x + positional(3, 7, kind: learned)", "f32[B,3,7]"),
    OK("positional", "input x: f32[8]", "x + positional(4, 8)", "f32[B,4,8]"),
    OKP("positional", "input t: token(50)[16]", "embedding(t, 32) + positional(16, 32)", "f32[B,16,32]",
        "embed.weight[50,32] pos.weight[16,32]", 512),
    BAD("positional", "input x: f32[4, 7]", "x + positional(4, 7, kind: sinusoidal)",
        "sinusoidal positions need an even width, found 7"),
    BAD("positional", "input x: f32[4, 8]", "x + positional(0, 8)", "positional's length must be at least 1, found 0"),
    BAD("positional", "input x: f32[4, 8]", "x + positional(4, 8, kind: fixed)",
        "'fixed' is not a choice for positional's kind; use learned or sinusoidal"),
    BAD("positional", "input x: f32[4, 8]", "x + positional(5, 8)", "cannot add shapes [B,4,8] and [5,8]"),
    BAD("positional", "input x: f32[4, 8]", "positional(4, 8)",
        "the output must be a per-example tensor of real numbers, found f32[4,8]"),

    OKP("layer_norm", "input x: f32[16]", "layer_norm(x)", "f32[B,16]", "y.weight[16] y.bias[16]", 80),
    OKP("layer_norm", "input x: f32[4, 8]", "layer_norm(x, eps: 1e-6)", "f32[B,4,8]", "y.weight[8] y.bias[8]", 160),
    OKP("layer_norm", "input x: f32[3, 2, 5]", "layer_norm(x, name: \"norm\")", "f32[B,3,2,5]",
        "norm.weight[5] norm.bias[5]", 150),
    BAD("layer_norm", "input x: f32[4]", "layer_norm(x, eps: 0)", "layer_norm's eps must be greater than 0, found 0"),
    BAD("layer_norm", "input t: token(7)[3]", "layer_norm(t)", INT_LABELS("layer_norm", "token(7)[B,3]")),
    BAD("layer_norm", "input x: f32[]", "layer_norm(x)",
        "layer_norm needs a tensor with at least 1 dimension per example, found f32[B]"),

    OKP("dropout", "input x: f32[128]", "dropout(x)", "f32[B,128]", "", 128),
    OK("dropout", "input x: f32[3, 4]", "dropout(x, 0.25)", "f32[B,3,4]"),
    OK("dropout", "input x: f32[]", "dropout(x, p: 0)", "f32[B]"),
    BAD("dropout", "input x: f32[4]", "dropout(x, 1)", "dropout's p must be in [0, 1), found 1"),
    BAD("dropout", "input x: f32[4]", "dropout(x, -0.1)", "dropout's p must be in [0, 1), found -0.1"),
    BAD("dropout", "input t: token(4)[2]", "dropout(t)", INT_LABELS("dropout", "token(4)[B,2]")),

    OKP("attention", "input x: f32[64, 128]", "attention(x, 4)", "f32[B,64,128]",
        "y.query.weight[128,128] y.query.bias[128] y.key.weight[128,128] y.key.bias[128] "
        "y.value.weight[128,128] y.value.bias[128] y.out.weight[128,128] y.out.bias[128]",
        10584064),
    OK("attention", "input x: f32[10, 12]", "attention(x, heads: 3, causal: true)", "f32[B,10,12]"),
    OKP("attention", "input x: f32[1, 5]", "attention(x, 1)", "f32[B,1,5]",
        "y.query.weight[5,5] y.query.bias[5] y.key.weight[5,5] y.key.bias[5] "
        "y.value.weight[5,5] y.value.bias[5] y.out.weight[5,5] y.out.bias[5]",
        244),
    BAD("attention", "input x: f32[64, 130]", "attention(x, 4)", "attention width 130 is not divisible by 4 heads"),
    BAD("attention", "input x: f32[4, 2]", "attention(x, 4)", "attention width 2 is not divisible by 4 heads"),
    BAD("attention", "input x: f32[128]", "attention(x, 4)",
        "attention needs [sequence, width] per example, found f32[B,128]"),
    BAD("attention", "input x: f32[2, 4, 8]", "attention(x, 4)",
        "attention needs [sequence, width] per example, found f32[B,2,4,8]"),
    BAD("attention", "input x: f32[4, 8]", "attention(x, 0)", "attention's heads must be at least 1, found 0"),
    BAD("attention", "input x: f32[4, 8]", "attention(x, 2, causal: 1)",
        "attention's causal must be true or false, found an integer"),
    /* a mask: one number per position attended to, each example's or the same for all */
    OK("attention", "input x: f32[4, 8]\ninput m: f32[4]", "attention(x, 2, causal: true, mask: m)", "f32[B,4,8]"),
    OK("attention", "input x: f32[4, 8]", "attention(x, 2, mask: [1, 1, 0, 1])", "f32[B,4,8]"),
    BAD("attention", "input x: f32[4, 8]\ninput m: f32[3]", "attention(x, 2, mask: m)",
        "attention's mask needs one number per position of x, [4] per example, found f32[B,3]"),
    BAD("attention", "input x: f32[4, 8]", "attention(x, 2, mask: x)",
        "attention's mask needs one number per position of x, [4] per example, found f32[B,4,8]"),
    BAD("attention", "input x: f32[4, 8]", "attention(x, 2, mask: 1)", "attention's mask must be a tensor, found an integer"),
    BAD("attention", "input x: f32[4, 8]\ninput t: token(3)[4]", "attention(x, 2, mask: t)",
        "attention needs real numbers, but token(3)[B,4] holds integer labels; use embedding() to turn tokens into vectors"),

    /* queries and out from x's width D = 8, key and value from the context's E = 6:
     * 2·5·8·17 + 2·3·8·13 + 2·(2·5·3·8) + 4·2·5·3 */
    OKP("cross_attention", "input x: f32[5, 8]\ninput c: f32[3, 6]", "cross_attention(x, c, heads: 2)", "f32[B,5,8]",
        "y.query.weight[8,8] y.query.bias[8] y.key.weight[8,6] y.key.bias[8] "
        "y.value.weight[8,6] y.value.bias[8] y.out.weight[8,8] y.out.bias[8]",
        2 * 5 * 8 * 17 + 2 * 3 * 8 * 13 + 2 * (2 * 5 * 3 * 8) + 4 * 2 * 5 * 3),
    OK("cross_attention", "input x: f32[5, 8]", "cross_attention(x, x, 4)", "f32[B,5,8]"),
    BAD("cross_attention", "input x: f32[5, 8]\ninput c: f32[3, 6]", "cross_attention(x, c, 3)",
        "cross_attention width 8 is not divisible by 3 heads"),
    BAD("cross_attention", "input x: f32[5, 8]\ninput c: f32[6]", "cross_attention(x, c, 2)",
        "cross_attention needs [sequence, width] per example for its context, found f32[B,6]"),
    BAD("cross_attention", "input x: f32[8]\ninput c: f32[3, 6]", "cross_attention(x, c, 2)",
        "cross_attention needs [sequence, width] per example for its x, found f32[B,8]"),
    BAD("cross_attention", "input x: f32[5, 8]", "cross_attention(x, positional(3, 6), 2)",
        "cross_attention works on each example's own sequence, but f32[3,6] is the same for every example: it is "
        "made of parameters and constants alone"),
    BAD("cross_attention", "input x: f32[5, 8]\ninput t: token(4)[3, 6]", "cross_attention(x, t, 2)",
        INT_LABELS("cross_attention", "token(4)[B,3,6]")),
    BAD("cross_attention", "input x: f32[5, 8]\ninput c: f32[3, 6]", "cross_attention(x, c)",
        "cross_attention is missing argument 'heads'"),
    OK("cross_attention", "input x: f32[5, 8]\ninput c: f32[3, 6]\ninput k: f32[3]", "cross_attention(x, c, 2, mask: k)",
       "f32[B,5,8]"),
    BAD("cross_attention", "input x: f32[5, 8]\ninput c: f32[3, 6]\ninput k: f32[5]", "cross_attention(x, c, 2, mask: k)",
        "cross_attention's mask needs one number per position of the context, [3] per example, found f32[B,5]"),

    OKP("matmul", "input a: f32[3, 4]\ninput b: f32[4, 5]", "matmul(a, b)", "f32[B,3,5]", "", 120),
    OKP("matmul", "input a: f32[2, 3, 4]\ninput b: f32[4, 5]", "matmul(a, b)", "f32[B,2,3,5]", "", 240),
    OK("matmul", "input a: f32[6, 1, 3, 4]\ninput b: f32[5, 4, 2]", "matmul(a, b)", "f32[B,6,5,3,2]"),
    OKP("matmul", "input x: f32[3, 4]", "matmul(x, positional(4, 8))", "f32[B,3,8]", "y.weight[4,8]", 192),
    OK("matmul", "input x: f32[4, 3]", "matmul(positional(2, 4), x)", "f32[B,2,3]"),
    BAD("matmul", "input a: f32[3, 4]\ninput b: f32[5, 6]", "matmul(a, b)",
        "matmul inner dimensions differ: f32[B,3,4] has 4 columns but f32[B,5,6] has 5 rows"),
    BAD("matmul", "input a: f32[2, 3, 4]\ninput b: f32[3, 4, 5]", "matmul(a, b)",
        "matmul cannot broadcast the leading dimensions of f32[B,2,3,4] and f32[B,3,4,5]"),
    BAD("matmul", "input a: f32[4]\ninput b: f32[4, 5]", "matmul(a, b)",
        "matmul needs a tensor with at least 2 dimensions per example, found f32[B,4]"),
    BAD("matmul", "input a: f32[3, 4]", "matmul(a)", "matmul is missing argument 'b'"),
    OK("matmul", "input a: f32[2, 3]\nparam w: f32[1, 1, 1, 1, 1, 3, 2] = zeros()", "matmul(a, w)",
       "f32[B,1,1,1,1,1,2,2]"),
    BAD("matmul", "input a: f32[2, 3]\nparam w: f32[1, 1, 1, 1, 1, 1, 3, 2] = zeros()", "matmul(a, w)",
        "matmul of f32[B,2,3] and f32[1,1,1,1,1,1,3,2] would have too many dimensions (at most 8, the batch included)"),
    OK("matmul", "input a: f32[2]\nparam v: f32[1, 1, 1, 1, 1, 1, 2, 3] = zeros()\nparam w: f32[3, 2] = zeros()",
       "a + sum(matmul(v, w), [0, 1, 2, 3, 4, 5, 6])", "f32[B,2]"),
    END,
};

static const Row activation_rows[] = {
    OKP("relu", "input x: f32[10]", "relu(x)", "f32[B,10]", "", 10),
    OK("relu", "input x: f32[2, 3, 4]", "relu(x)", "f32[B,2,3,4]"),
    BAD("relu", "input t: token(5)[3]", "relu(t)", INT_LABELS("relu", "token(5)[B,3]")),
    BAD("relu", "input x: f32[4]", "relu(x, 2)", "relu takes 1 argument, but more are given"),

    OKP("leaky_relu", "input x: f32[6]", "leaky_relu(x)", "f32[B,6]", "", 6),
    OK("leaky_relu", "input x: f32[2, 2]", "leaky_relu(x, slope: 0.2)", "f32[B,2,2]"),
    BAD("leaky_relu", "input x: f32[4]", "leaky_relu(x, slope: -1)", "leaky_relu's slope must be at least 0, found -1"),
    BAD("leaky_relu", "input x: f32[4]", "leaky_relu(x, alpha: 0.1)", "leaky_relu has no argument 'alpha'"),

    OKP("sigmoid", "input x: f32[1]", "sigmoid(x)", "f32[B,1]", "", 1),
    OK("sigmoid", "input x: f32[3, 5]", "sigmoid(x)", "f32[B,3,5]"),
    BAD("sigmoid", "input t: token(2)[1]", "sigmoid(t)", INT_LABELS("sigmoid", "token(2)[B,1]")),
    BAD("sigmoid", "input x: f32[4]", "sigmoid()", "sigmoid is missing argument 'x'"),

    OKP("tanh", "input x: f32[2]", "tanh(x)", "f32[B,2]", "", 2),
    OK("tanh", "input x: f32[]", "tanh(x)", "f32[B]"),
    BAD("tanh", "input t: token(9)[4]", "tanh(t)", INT_LABELS("tanh", "token(9)[B,4]")),

    OKP("gelu", "input x: f32[512]", "gelu(x)", "f32[B,512]", "", 512),
    OK("gelu", "input x: f32[4, 8]", "gelu(x, approximate: tanh)", "f32[B,4,8]"),
    OK("gelu", "input x: f32[4, 8]", "gelu(x, approximate: \"none\")", "f32[B,4,8]"),
    BAD("gelu", "input x: f32[4]", "gelu(x, approximate: exact)", "'exact' is not a choice for gelu's approximate; use none or tanh"),
    BAD("gelu", "input t: token(3)[2]", "gelu(t)", INT_LABELS("gelu", "token(3)[B,2]")),

    OK("softmax", "input x: f32[10]", "softmax(x)", "f32[B,10]"),
    OK("softmax", "input x: f32[4, 6]", "softmax(x, temperature: 2)", "f32[B,4,6]"),
    OKP("softmax", "input x: f32[3, 4]", "softmax(x, axis: 0)", "f32[B,3,4]", "", 48),
    OK("softmax", "input x: f32[2, 3, 4]", "softmax(x, temperature: 2, axis: -2)", "f32[B,2,3,4]"),
    OK("softmax", "input x: f32[2, 3, 4]", "softmax(x, 0.5, 1)", "f32[B,2,3,4]"),
    OK("softmax", "input x: f32[2, 3, 4]", "softmax(x, axis: [0, 2])", "f32[B,2,3,4]"),
    BAD("softmax", "input x: f32[3, 4]", "softmax(x, axis: 2)",
        "softmax has no axis 2: f32[B,3,4] has 2 axes per example (0 to 1, or -2 to -1)"),
    BAD("softmax", "input x: f32[3, 4]", "softmax(x, axis: -3)",
        "softmax has no axis -3: f32[B,3,4] has 2 axes per example (0 to 1, or -2 to -1)"),
    BAD("softmax", "input x: f32[3, 4]", "softmax(x, axis: true)",
        "softmax's axis must be an axis or a list of axes such as [0, 1], found a truth value"),
    BAD("softmax", "input x: f32[3, 4]", "softmax(x, axis: [0, 0])", "softmax's axis names axis 0 of f32[B,3,4] twice"),
    BAD("softmax", "input x: f32[3, 4]", "softmax(x, keep: true)", "softmax has no argument 'keep'"),
    BAD("softmax", "input x: f32[10]", "softmax(x, temperature: 0)", "softmax's temperature must be greater than 0, found 0"),
    BAD("softmax", "input x: f32[]", "softmax(x)", "softmax needs a tensor with at least 1 dimension per example, found f32[B]"),
    BAD("softmax", "input t: token(10)[1]", "softmax(t)", INT_LABELS("softmax", "token(10)[B,1]")),
    OK("log_softmax", "input x: f32[10]", "log_softmax(x)", "f32[B,10]"),
    OK("log_softmax", "input x: f32[4, 6]", "log_softmax(x, temperature: 2)", "f32[B,4,6]"),
    OKP("log_softmax", "input x: f32[3, 4]", "log_softmax(x, axis: 0)", "f32[B,3,4]", "", 48),
    OK("log_softmax", "input x: f32[2, 3, 4]", "log_softmax(x, temperature: 2, axis: -2)", "f32[B,2,3,4]"),
    BAD("log_softmax", "input x: f32[4]", "log_softmax(x, axis: 1)",
        "log_softmax has no axis 1: f32[B,4] has 1 axis per example (0 to 0, or -1 to -1)"),
    BAD("log_softmax", "input x: f32[3, 4]", "log_softmax(x, axis: 1.0)",
        "log_softmax's axis must be an axis or a list of axes such as [0, 1], found a number"),
    BAD("log_softmax", "input x: f32[10]", "log_softmax(x, temperature: 0)",
        "log_softmax's temperature must be greater than 0, found 0"),
    BAD("log_softmax", "input x: f32[]", "log_softmax(x)",
        "log_softmax needs a tensor with at least 1 dimension per example, found f32[B]"),
    END,
};

#define BLOCK "layer block(x) {\n    return x + dense(relu(x), 4)\n}"
#define MLP   "layer mlp(x, width: 16) {\n    h = relu(dense(x, width))\n    return dense(h, 8)\n}"

static const Row repeat_rows[] = {
    TOKP("repeat", BLOCK, "input x: f32[4]", "repeat(3, block, x)", "f32[B,4]",
         "blocks.0.dense.weight[4,4] blocks.0.dense.bias[4] blocks.1.dense.weight[4,4] blocks.1.dense.bias[4] "
         "blocks.2.dense.weight[4,4] blocks.2.dense.bias[4]", 4),
    TOK("repeat", BLOCK, "input x: f32[2, 4]", "repeat(1, block, x)", "f32[B,2,4]"),
    TOKP("repeat", MLP, "input x: f32[8]", "repeat(2, mlp, x, name: \"stack\")", "f32[B,8]",
         "stack.0.h.weight[16,8] stack.0.h.bias[16] stack.0.dense.weight[8,16] stack.0.dense.bias[8] "
         "stack.1.h.weight[16,8] stack.1.h.bias[16] stack.1.dense.weight[8,16] stack.1.dense.bias[8]", 264),
    TBAD("repeat", "layer grow(x) {\n    return dense(x, 8)\n}", "input x: f32[4]", "repeat(2, grow, x)",
         "repeat needs a layer that keeps the shape of its input, but 'grow' turns f32[B,4] into f32[B,8]"),
    TBAD("repeat", "layer pos(x) {\n    return positional(4, 8)\n}", "input x: f32[4, 8]", "repeat(2, pos, x)",
         "repeat needs a layer that keeps the shape of its input, but 'pos' turns f32[B,4,8] into f32[4,8]"),
    TBAD("repeat", BLOCK, "input x: f32[4]", "repeat(0, block, x)", "repeat's count must be in [1, 1024], found 0"),
    TBAD("repeat", BLOCK, "input x: f32[4]", "repeat(1025, block, x)", "repeat's count must be in [1, 1024], found 1025"),
    TBAD("repeat", "layer pair(a, b) {\n    return a + b\n}", "input x: f32[4]", "repeat(2, pair, x)",
         "pair is missing argument 'b', which repeat passes to every copy after x"),
    /* the arguments after x: the layer's others, by position or name, the same for every copy */
    TOK("repeat", "layer pair(a, b) {\n    return a + b\n}", "input x: f32[4]", "repeat(2, pair, x, x)", "f32[B,4]"),
    TOKP("repeat", MLP, "input x: f32[8]", "repeat(2, mlp, x, 4)", "f32[B,8]",
         "mlps.0.h.weight[4,8] mlps.0.h.bias[4] mlps.0.dense.weight[8,4] mlps.0.dense.bias[8] "
         "mlps.1.h.weight[4,8] mlps.1.h.bias[4] mlps.1.dense.weight[8,4] mlps.1.dense.bias[8]", 72),
    TOKP("repeat", MLP, "input x: f32[8]", "repeat(1, mlp, x, width: 2, name: \"two\")", "f32[B,8]",
         "two.0.h.weight[2,8] two.0.h.bias[2] two.0.dense.weight[8,2] two.0.dense.bias[8]", 40),
    TBAD("repeat", MLP, "input x: f32[8]", "repeat(2, mlp, x, widht: 4)", "repeat has no argument 'widht'"),
    TBAD("repeat", MLP, "input x: f32[8]", "repeat(2, mlp, x, 4, 5)", "repeat takes 4 arguments, but more are given"),
    TBAD("repeat", MLP, "input x: f32[8]", "repeat(2, mlp, x, width: x)", "dense's units must be an integer, found f32[B,8]"),
    TBAD("repeat", "layer none() {\n    return 1\n}", "input x: f32[4]", "repeat(2, none, x)",
         "layer 'none' takes no input; a layer needs at least one parameter"),
    TBAD("repeat", BLOCK, "input x: f32[4]", "repeat(2, relu, x)", "repeat's layer must name a layer defined with 'layer'"),
    TBAD("repeat", BLOCK, "input x: f32[3]", "repeat(2, block, x)", "cannot add shapes [B,3] and [B,4]"),
    END,
};

static const Row loss_rows[] = {
    SOK("cross_entropy", "input x: f32[784]\ntarget t: class(10)", "dense(x, 10)", "loss cross_entropy(y, t)",
        "y.weight[10,784] y.bias[10]", 40),
    SOK("cross_entropy", "input s: token(65)[64]\ntarget n: token(65)[64]", "dense(embedding(s, 32), 65)",
        "loss cross_entropy(y, n)", "embed.weight[65,32] dense.weight[65,32] dense.bias[65]", 16640),
    SOK("cross_entropy", "input x: f32[3, 4]\ntarget t: token(4)[3]", "x", "loss cross_entropy(y, t)", "", 48),
    SBAD("cross_entropy", "input x: f32[10]\ntarget t: class(5)", "x", "loss cross_entropy(y, t)",
         "cross_entropy: predictions f32[B,10] do not match target class(5)[B] (expected f32[B,5] for 5 classes)"),
    SBAD("cross_entropy", "input x: f32[32, 65]\ntarget n: token(65)[64]", "x", "loss cross_entropy(y, n)",
         "cross_entropy: predictions f32[B,32,65] do not match target token(65)[B,64] "
         "(expected f32[B,64,65] for 65 classes)"),
    SBAD("cross_entropy", "input x: f32[10]\ntarget t: f32[10]", "x", "loss cross_entropy(y, t)",
         "cross_entropy needs class or token labels as its target, found f32[B,10]; "
         "use mse or binary_cross_entropy for real-valued targets"),
    SBAD("cross_entropy", "input x: f32[4, 10]\ntarget n: token(10)[4]", "x", "loss cross_entropy(positional(4, 10), n)",
         "cross_entropy needs per-example predictions and targets"),
    SBAD("cross_entropy", "input s: token(4)[3]\ntarget n: token(4)[3]\ninput x: f32[2]", "x", "loss cross_entropy(s, n)",
         INT_LABELS("cross_entropy", "token(4)[B,3]")),
    SOK("cross_entropy", "input x: f32[10]\ntarget t: class(10)", "x", "metric cross_entropy(y, t)", "", 40),
    BAD("cross_entropy", "input x: f32[10]\ntarget t: class(10)", "cross_entropy(x, t)",
        "target 't' is what the model must predict; only a loss or a metric may read it"),
    SBAD("cross_entropy", "input x: f32[10]\ntarget t: class(10)", "x", "loss cross_entropy(y, t) * y",
         "the loss must be one number per example, found f32[B,10]"),
    SOK("cross_entropy", "input x: f32[10]\ntarget t: class(10)", "x", "loss cross_entropy(y, t) + 0.5 * cross_entropy(y, t)",
        "", 1),

    SOK("mse", "input x: f32[2]\ntarget t: f32[1]", "dense(x, 1)", "loss mse(y, t)", "y.weight[1,2] y.bias[1]", 3),
    SOK("mse", "input x: f32[3, 4]\ntarget t: f32[3, 4]", "x * 2", "loss mse(y, t)", "", 36),
    SBAD("mse", "input x: f32[1]\ntarget t: f32[2]", "x", "loss mse(y, t)",
         "mse: predictions f32[B,1] and target f32[B,2] differ in shape"),
    SBAD("mse", "input x: f32[3]\ntarget t: f32[1]", "x", "loss mse(y, t)",
         "mse: predictions f32[B,3] and target f32[B,1] differ in shape"),
    SBAD("mse", "input x: f32[10]\ntarget t: class(10)", "x", "loss mse(y, t)",
         "mse needs a real-valued target, found class(10)[B]; use cross_entropy for labels"),
    SBAD("mse", "input x: f32[2, 3]\ntarget t: f32[2, 3]", "x", "loss mse(positional(2, 3), t)",
         "mse needs per-example predictions and targets"),

    SOK("binary_cross_entropy", "input x: f32[2]\ntarget t: f32[1]", "sigmoid(dense(x, 1))",
        "loss binary_cross_entropy(y, t)", "y.weight[1,2] y.bias[1]", 3),
    SOK("binary_cross_entropy", "input x: f32[5]\ntarget t: f32[5]", "sigmoid(x)", "loss binary_cross_entropy(y, t)", "", 15),
    SBAD("binary_cross_entropy", "input x: f32[1]\ntarget t: f32[2]", "sigmoid(x)", "loss binary_cross_entropy(y, t)",
         "binary_cross_entropy: predictions f32[B,1] and target f32[B,2] differ in shape"),
    SBAD("binary_cross_entropy", "input x: f32[3]\ntarget t: token(2)[3]", "sigmoid(x)", "loss binary_cross_entropy(y, t)",
         "binary_cross_entropy needs a real-valued target, found token(2)[B,3]; use cross_entropy for labels"),

    SOK("accuracy", "input x: f32[784]\ntarget t: class(10)", "dense(x, 10)", "metric accuracy(y, t)",
        "y.weight[10,784] y.bias[10]", 40),
    SOK("accuracy", "input x: f32[8, 5]\ntarget t: token(5)[8]", "x", "metric accuracy(y, t)", "", 160),
    SBAD("accuracy", "input x: f32[10]\ntarget t: class(9)", "x", "metric accuracy(y, t)",
         "accuracy: predictions f32[B,10] do not match target class(9)[B] (expected f32[B,9] for 9 classes)"),
    SOK("accuracy", "input x: f32[1]\ntarget t: f32[1]", "sigmoid(x)", "metric accuracy(y, t)", "", 3),
    SBAD("accuracy", "input x: f32[1]\ntarget t: f32[2]", "x", "metric accuracy(y, t)",
         "accuracy: predictions f32[B,1] and target f32[B,2] differ in shape"),
    SBAD("accuracy", "input x: f32[10]\ntarget t: class(10)", "x", "loss accuracy(y, t)",
         "accuracy is a metric; it can only be used in a 'metric'"),
    BAD("accuracy", "input x: f32[10]\ntarget t: class(10)", "accuracy(x, t)",
        "accuracy is a metric; it can only be used in a 'metric'"),

    SOK("mae", "input x: f32[2]\ntarget t: f32[1]", "dense(x, 1)", "loss mae(y, t)", "y.weight[1,2] y.bias[1]", 3),
    SOK("mae", "input x: f32[3]\ntarget t: f32[3]", "x", "metric mae(y, t)", "", 9),
    SBAD("mae", "input x: f32[1]\ntarget t: f32[2]", "x", "loss mae(y, t)",
         "mae: predictions f32[B,1] and target f32[B,2] differ in shape"),

    SOK("binary_cross_entropy_logits", "input x: f32[2]\ntarget t: f32[1]", "dense(x, 1)",
        "loss binary_cross_entropy_logits(y, t)", "y.weight[1,2] y.bias[1]", 3),
    SOK("binary_cross_entropy_logits", "input x: f32[5]\ntarget t: f32[5]", "x", "loss binary_cross_entropy_logits(y, t)", "", 15),
    SBAD("binary_cross_entropy_logits", "input x: f32[3]\ntarget t: token(2)[3]", "x", "loss binary_cross_entropy_logits(y, t)",
         "binary_cross_entropy_logits needs a real-valued target, found token(2)[B,3]; use cross_entropy for labels"),
    END,
};

static const Row arith_rows[] = {
    OKP("+", "input a: f32[3, 4]\ninput b: f32[3, 4]", "a + b", "f32[B,3,4]", "", 12),
    OK("+", "input a: f32[3, 4]\ninput b: f32[4]", "a + b", "f32[B,3,4]"),
    OK("+", "input a: f32[4]\ninput b: f32[3, 4]", "a + b", "f32[B,3,4]"),
    OK("+", "input a: f32[1]\ninput b: f32[3, 4]", "a + b", "f32[B,3,4]"),
    OK("+", "input a: f32[3, 4]", "a + 1", "f32[B,3,4]"),
    OK("+", "input a: f32[3, 4]", "0.5 + a", "f32[B,3,4]"),
    OKP("+", "input x: f32[8]", "x + positional(4, 8)", "f32[B,4,8]", "y.weight[4,8]", 32),
    OK("+", "input x: f32[1, 8]", "positional(4, 8) + x", "f32[B,4,8]"),
    BAD("+", "input a: f32[3, 4]\ninput b: f32[5]", "a + b", "cannot add shapes [B,3,4] and [B,5]"),
    OK("+", "input a: f32[3]\nparam w: f32[1, 1, 1, 1, 1, 1, 3] = zeros()", "a + w", "f32[B,1,1,1,1,1,1,3]"),
    BAD("+", "input a: f32[3]\nparam w: f32[1, 1, 1, 1, 1, 1, 1, 3] = zeros()", "a + w",
        "cannot add shapes [B,3] and [1,1,1,1,1,1,1,3]: the result would have too many dimensions (at most 8, the batch included)"),
    BAD("+", "input a: f32[3]\nparam w: f32[1, 1, 1, 1, 1, 1, 1, 3] = zeros()", "w - a",
        "cannot subtract shapes [1,1,1,1,1,1,1,3] and [B,3]: the result would have too many dimensions (at most 8, the batch included)"),
    BAD("+", "input t: token(5)[3]", "t + 1", "cannot add integer labels token(5)[B,3]; arithmetic needs real numbers"),
    BAD("+", "input a: f32[3]", "a + true", "cannot add f32[B,3] and a truth value"),
    BAD("+", "input a: f32[3]", "positional(2, 4) + positional(2, 4, kind: sinusoidal)",
        "the output must be a per-example tensor of real numbers, found f32[2,4]"),

    OK("-", "input a: f32[2, 3]\ninput b: f32[2, 3]", "a - b", "f32[B,2,3]"),
    OK("-", "input a: f32[2, 1, 5]\ninput b: f32[3, 1]", "a - b", "f32[B,2,3,5]"),
    OKP("-", "input a: f32[2, 3]", "1 - a", "f32[B,2,3]", "", 6),
    BAD("-", "input a: f32[2, 3]\ninput b: f32[3, 2]", "a - b", "cannot subtract shapes [B,2,3] and [B,3,2]"),
    BAD("-", "input a: f32[2]", "a - \"s\"", "cannot subtract f32[B,2] and a string"),

    OK("*", "input a: f32[3, 1]\ninput b: f32[1, 4]", "a * b", "f32[B,3,4]"),
    OKP("*", "input a: f32[3, 4]", "a * 2", "f32[B,3,4]", "", 12),
    OK("*", "input a: f32[3, 4]", "(2 + 3) * a", "f32[B,3,4]"),
    BAD("*", "input a: f32[2, 3]\ninput b: f32[2]", "a * b", "cannot multiply shapes [B,2,3] and [B,2]"),
    BAD("*", "input a: f32[4]\ninput c: token(4)[4]", "a * c",
        "cannot multiply integer labels token(4)[B,4]; arithmetic needs real numbers"),

    OK("/", "input a: f32[3, 4]\ninput b: f32[3, 4]", "a / b", "f32[B,3,4]"),
    OK("/", "input a: f32[3, 4]", "a / 2.5", "f32[B,3,4]"),
    OK("/", "input a: f32[3, 4]", "0 / a", "f32[B,3,4]"),
    OKP("/", "input a: f32[5, 1, 2]\ninput b: f32[4, 1]", "a / b", "f32[B,5,4,2]", "", 40),
    BAD("/", "input a: f32[3]", "a / 0", "division by zero"),
    BAD("/", "input a: f32[3]", "a / (2 - 2.0)", "division by zero"),
    BAD("/", "input a: f32[2, 4]\ninput b: f32[4, 2]", "a / b", "cannot divide shapes [B,2,4] and [B,4,2]"),

    OKP("neg", "input x: f32[3, 4]", "-x", "f32[B,3,4]", "", 12),
    OK("neg", "input a: f32[3]\ninput b: f32[2, 3]", "-(a + b)", "f32[B,2,3]"),
    OK("neg", "input x: f32[4]", "-dense(x, 3)", "f32[B,3]"),
    OK("neg", "input x: f32[4, 8]", "x + -positional(4, 8)", "f32[B,4,8]"),
    BAD("neg", "input t: token(5)[3]", "-t", "cannot negate integer labels token(5)[B,3]; arithmetic needs real numbers"),
    BAD("neg", "input x: f32[4, 8]", "-positional(4, 8)",
        "the output must be a per-example tensor of real numbers, found f32[4,8]"),
    BAD("neg", "input x: f32[2]", "-\"s\"", "cannot negate a string"),
    END,
};

/* exp ... concat: the primitives (FLOPs: 1 per output element elementwise,
 * 1 per input element for reductions, 0 for layout); then x[...] */
static const Row prim_rows[] = {
    OKP("exp", "input x: f32[3, 4]", "exp(x)", "f32[B,3,4]", "", 12),
    OK("exp", "input x: f32[]", "exp(x)", "f32[B]"),
    BAD("exp", "input t: token(5)[3]", "exp(t)", INT_LABELS("exp", "token(5)[B,3]")),
    OKP("log", "input x: f32[4]", "log(x)", "f32[B,4]", "", 4),
    OK("log", "input x: f32[2, 2]", "log(x + 1)", "f32[B,2,2]"),
    BAD("log", "input x: f32[4]", "log(\"e\")", "log's x must be a tensor or a number, found a string"),
    OK("log", "input x: f32[4]", "x * log(2)", "f32[B,4]"),   /* log of a number is a number */
    OKP("sqrt", "input x: f32[5]", "sqrt(x)", "f32[B,5]", "", 5),
    OK("sqrt", "input x: f32[5]", "x / sqrt(sum(x * x))", "f32[B,5]"),
    BAD("sqrt", "input t: token(5)[3]", "sqrt(t)", INT_LABELS("sqrt", "token(5)[B,3]")),
    OKP("abs", "input x: f32[2, 3]", "abs(x)", "f32[B,2,3]", "", 6),
    OK("abs", "input x: f32[3]", "abs(-x)", "f32[B,3]"),
    BAD("abs", "input x: f32[3]", "abs(x, 2)", "abs takes 1 argument, but more are given"),
    OKP("pow", "input x: f32[4]", "pow(x, 3)", "f32[B,4]", "", 4),
    OK("pow", "input x: f32[4]", "pow(x, p: 0.5)", "f32[B,4]"),
    BAD("pow", "input t: token(5)[3]", "pow(t, 2)", INT_LABELS("pow", "token(5)[B,3]")),
    BAD("pow", "input x: f32[4]", "pow(x, x)", "pow's p must be a number, found f32[B,4]"),
    BAD("pow", "input x: f32[4]", "pow(x)", "pow is missing argument 'p'"),
    OKP("maximum", "input a: f32[3, 4]\ninput b: f32[4]", "maximum(a, b)", "f32[B,3,4]", "", 12),
    OK("maximum", "input a: f32[3]", "maximum(a, 0)", "f32[B,3]"),
    OK("maximum", "input a: f32[3]", "maximum(0.5, a)", "f32[B,3]"),
    OK("maximum", "input a: f32[4]", "maximum(a, positional(2, 4))", "f32[B,2,4]"),
    BAD("maximum", "input a: f32[3]\ninput b: f32[4]", "maximum(a, b)", "maximum cannot broadcast shapes [B,3] and [B,4]"),
    OK("maximum", "input a: f32[3]\nparam w: f32[1, 1, 1, 1, 1, 1, 3] = zeros()", "maximum(a, w)", "f32[B,1,1,1,1,1,1,3]"),
    BAD("minimum", "input a: f32[3]\nparam w: f32[1, 1, 1, 1, 1, 1, 1, 3] = zeros()", "minimum(w, a)",
        "minimum of f32[1,1,1,1,1,1,1,3] and f32[B,3] would have too many dimensions (at most 8, the batch included)"),
    BAD("maximum", "input a: f32[3]", "maximum(1, 2)", "maximum needs a tensor; of two numbers, write the larger itself"),
    BAD("maximum", "input a: f32[3]", "maximum(a, true)", "maximum's b must be a tensor or a number, found a truth value"),
    OKP("minimum", "input a: f32[2, 3]\ninput b: f32[2, 1]", "minimum(a, b)", "f32[B,2,3]", "", 6),
    OK("minimum", "input a: f32[3]", "minimum(a, 1e-3)", "f32[B,3]"),
    BAD("minimum", "input t: token(5)[3]", "minimum(t, 1)", INT_LABELS("minimum", "token(5)[B,3]")),
    OKP("clamp", "input x: f32[4]", "clamp(x, min: -1, max: 1)", "f32[B,4]", "", 4),
    OK("clamp", "input x: f32[4]", "clamp(x, min: 0)", "f32[B,4]"),
    OK("clamp", "input x: f32[4]", "clamp(x, max: 6)", "f32[B,4]"),
    BAD("clamp", "input x: f32[4]", "clamp(x)", "clamp needs min:, max: or both"),
    BAD("clamp", "input x: f32[4]", "clamp(x, min: 1, max: 0)", "clamp's min 1 is greater than its max 0"),
    OKP("sum", "input x: f32[3, 4]", "sum(x)", "f32[B,3]", "", 12),
    OK("sum", "input x: f32[3, 4]", "sum(x, axis: 0)", "f32[B,4]"),
    OK("sum", "input x: f32[3, 4]", "sum(x, axis: -2, keep: true)", "f32[B,1,4]"),
    OK("sum", "input x: f32[4]", "sum(x)", "f32[B]"),
    OK("sum", "input x: f32[3, 4]", "x / sum(x, keep: true)", "f32[B,3,4]"),
    BAD("sum", "input x: f32[3, 4]", "sum(x, axis: 2)",
        "sum has no axis 2: f32[B,3,4] has 2 axes per example (0 to 1, or -2 to -1)"),
    BAD("sum", "input x: f32[3]", "sum(x, axis: -2)", "sum has no axis -2: f32[B,3] has 1 axis per example (0 to 0, or -1 to -1)"),
    BAD("sum", "input x: f32[]", "sum(x)", "sum needs a tensor with at least 1 dimension per example, found f32[B]"),
    OKP("mean", "input x: f32[2, 3, 4]", "mean(x, axis: 1)", "f32[B,2,4]", "", 24),
    OK("mean", "input x: f32[5]", "mean(x, keep: true)", "f32[B,1]"),
    BAD("mean", "input t: token(5)[3]", "mean(t)", INT_LABELS("mean", "token(5)[B,3]")),
    OKP("max", "input x: f32[2, 3]", "max(x, axis: 0)", "f32[B,3]", "", 6),
    OK("max", "input x: f32[2, 3]", "max(x)", "f32[B,2]"),
    BAD("max", "input x: f32[2, 3]", "max(x, 0.5)", "max's axis must be an axis or a list of axes such as [0, 1], found a number"),
    OK("max", "input x: f32[2, 3, 4]", "max(x, axis: [0, 2])", "f32[B,3]"),
    OKP("sum", "input x: f32[2, 3, 4]", "sum(x, axis: [0, 1])", "f32[B,4]", "", 24),
    OK("mean", "input x: f32[2, 3, 4]", "mean(x, axis: [0, -1], keep: true)", "f32[B,1,3,1]"),
    OK("mean", "input x: f32[2, 3]", "mean(x, axis: [1, 0])", "f32[B]"),
    BAD("sum", "input x: f32[3, 4]", "sum(x, axis: [0, -2])", "sum's axis names axis 0 of f32[B,3,4] twice"),
    BAD("sum", "input x: f32[3, 4]", "sum(x, axis: [])", "sum needs at least one axis"),
    BAD("mean", "input x: f32[3, 4]", "mean(x, axis: [0, 2])",
        "mean has no axis 2: f32[B,3,4] has 2 axes per example (0 to 1, or -2 to -1)"),
    OKP("logsumexp", "input x: f32[10]", "logsumexp(x)", "f32[B]", "", 40),
    OK("logsumexp", "input x: f32[4, 6]", "logsumexp(x)", "f32[B,4]"),
    OK("logsumexp", "input x: f32[6]", "x - logsumexp(x)", "f32[B,6]"),
    BAD("logsumexp", "input x: f32[]", "logsumexp(x)",
        "logsumexp needs a tensor with at least 1 dimension per example, found f32[B]"),
    BAD("logsumexp", "input t: token(10)[3]", "logsumexp(t)", INT_LABELS("logsumexp", "token(10)[B,3]")),
    OKP("logsumexp", "input x: f32[3, 4]", "logsumexp(x, axis: 0)", "f32[B,4]", "", 48),
    OK("logsumexp", "input x: f32[2, 3, 4]", "logsumexp(x, axis: -2, keep: true)", "f32[B,2,1,4]"),
    OK("logsumexp", "input x: f32[3, 4]", "x - logsumexp(x, axis: 0, keep: true)", "f32[B,3,4]"),
    OK("logsumexp", "input x: f32[2, 3, 4]", "logsumexp(x, axis: [0, 2])", "f32[B,3]"),
    OK("logsumexp", "input x: f32[2, 3, 4]", "logsumexp(x, axis: [2, 0], keep: true)", "f32[B,1,3,1]"),
    BAD("logsumexp", "input x: f32[3, 4]", "logsumexp(x, axis: 2)",
        "logsumexp has no axis 2: f32[B,3,4] has 2 axes per example (0 to 1, or -2 to -1)"),
    BAD("logsumexp", "input x: f32[3, 4]", "logsumexp(x, axis: 0.5)",
        "logsumexp's axis must be an axis or a list of axes such as [0, 1], found a number"),
    BAD("logsumexp", "input x: f32[3, 4]", "logsumexp(x, axis: [1, -1])", "logsumexp's axis names axis 1 of f32[B,3,4] twice"),
    BAD("logsumexp", "input x: f32[3, 4]", "logsumexp(x, axis: [])", "logsumexp needs at least one axis"),
    OKP("transpose", "input x: f32[3, 4]", "transpose(x)", "f32[B,4,3]", "", 0),
    OK("transpose", "input x: f32[2, 3, 4]", "transpose(x)", "f32[B,2,4,3]"),
    OK("transpose", "input x: f32[4]", "x + transpose(positional(4, 2))", "f32[B,2,4]"),
    BAD("transpose", "input x: f32[4]", "transpose(x)",
        "transpose swaps the last two axes and needs at least 2 per example, found f32[B,4]"),
    OKP("concat", "input a: f32[3, 4]\ninput b: f32[2, 4]", "concat(a, b, axis: 0)", "f32[B,5,4]", "", 0),
    OK("concat", "input a: f32[3, 4]\ninput b: f32[3, 2]", "concat(a, b)", "f32[B,3,6]"),
    OK("concat", "input a: f32[4, 3]", "concat(a, positional(4, 2))", "f32[B,4,5]"),
    BAD("concat", "input a: f32[3, 4]\ninput b: f32[2, 4]", "concat(a, b)",
        "concat along axis 1 needs the other axes to match, found f32[B,3,4] and f32[B,2,4]"),
    BAD("concat", "input a: f32[3, 4]\ninput b: f32[4]", "concat(a, b)",
        "concat needs operands of the same rank, found f32[B,3,4] and f32[B,4]"),
    BAD("concat", "input a: f32[3, 4]\ninput b: f32[3, 4]", "concat(a, b, axis: -3)",
        "concat has no axis -3: f32[B,3,4] has 2 axes per example (0 to 1, or -2 to -1)"),

    OKP("one_hot", "input t: token(5)[3]", "one_hot(t)", "f32[B,3,5]", "", 0),
    OK("one_hot", "input t: token(7)[2, 3]", "one_hot(t)", "f32[B,2,3,7]"),
    OK("one_hot", "input t: token(4)[3]\ninput x: f32[3, 4]", "x * one_hot(t)", "f32[B,3,4]"),
    STYPE("one_hot", "input x: f32[10]\ntarget t: class(10)", "x", "loss sum(y * one_hot(t))", "f32[B]"),
    STYPE("one_hot", "input x: f32[3, 4]\ntarget t: token(4)[3]", "x", "loss sum(logsumexp(y) - sum(y * one_hot(t)))",
          "f32[B]"),
    SBAD("one_hot", "input x: f32[10]\ntarget t: class(10)", "x", "loss one_hot(t)",
         "the loss must be one number per example, found f32[B,10]"),
    BAD("one_hot", "input x: f32[10]\ntarget t: class(10)", "x * one_hot(t)",
        "target 't' is what the model must predict; only a loss or a metric may read it"),
    BAD("one_hot", "input x: f32[10]", "one_hot(x)", "one_hot needs class or token labels, found f32[B,10]"),
    BAD("one_hot", "input x: f32[4]\nparam w: f32[4] = zeros()", "x + one_hot(w)",
        "one_hot needs class or token labels, found parameter 'w', f32[4]"),
    BAD("one_hot", "input x: f32[3]", "one_hot(3)", "one_hot's labels must be a tensor, found an integer"),
    BAD("one_hot", "input t: token(3)[1, 1, 1, 1, 1, 1, 1]", "one_hot(t)",
        "one_hot of token(3)[B,1,1,1,1,1,1,1] would have too many dimensions (at most 8, the batch included)"),
    OK("one_hot", "input t: token(3)[1, 1, 1, 1, 1, 1]", "one_hot(t)", "f32[B,1,1,1,1,1,1,3]"),
    BAD("one_hot", "input t: token(1048576)[1048576, 2]", "one_hot(t)",
        "one_hot would make a tensor of shape [1048576,2,1048576], more than 2^40 elements"),

    OKP("[]", "input x: f32[3, 4]", "x[0]", "f32[B,4]", "", 0),
    OK("[]", "input x: f32[3, 4]", "x[1:, -2:]", "f32[B,2,2]"),
    OK("[]", "input x: f32[3, 4]", "x[:, 1]", "f32[B,3]"),
    OK("[]", "input x: f32[3, 4]", "x[-1, 3]", "f32[B]"),
    OK("[]", "input x: f32[3, 4]", "x[:2][:, :1]", "f32[B,2,1]"),
    OK("[]", "input x: f32[3, 4]", "dense(x, 5)[0]", "f32[B,5]"),
    BAD("[]", "input x: f32[3, 4]", "x[3]", "index 3 is out of range for axis 0 of f32[B,3,4], of size 3"),
    BAD("[]", "input x: f32[3, 4]", "x[0, -5]", "index -5 is out of range for axis 1 of f32[B,3,4], of size 4"),
    BAD("[]", "input x: f32[3, 4]", "x[2:1]", "the range 2:1 of axis 0 of f32[B,3,4] is empty"),
    BAD("[]", "input x: f32[3, 4]", "x[:, 0:9]", "range end 9 is out of range for axis 1 of f32[B,3,4], of size 4"),
    BAD("[]", "input x: f32[3, 4]", "x[0, 0, 0]", "3 subscripts for f32[B,3,4], which has 2 axes per example"),
    BAD("[]", "input x: f32[3, 4]", "x[0.5]", "a subscript must be an integer, found a number"),
    BAD("[]", "input x: f32[3]", "sum(x)[0]", "1 subscript for f32[B], which has 0 axes per example"),
    BAD("[]", "input t: token(5)[3]", "t[0]", "only a tensor of real numbers can be subscripted, found token(5)[B,3]"),
    END,
};

static const Row *const tables[] = {layer_rows, activation_rows, repeat_rows, loss_rows, arith_rows, prim_rows};

static void expect_str(const Row *row, const char *what, const char *actual, const char *expected)
{
    bool ok = strcmp(actual, expected) == 0;
    char msg[1024];
    snprintf(msg, sizeof msg, "y = %s%s%s: %s: expected \"%s\", got \"%s\"", row->expr, row->stmt ? "; " : "",
             row->stmt ? row->stmt : "", what, expected, actual);
    if (!ok)
        fprintf(stderr, "\n%s:%d: %s\n", __FILE__, row->line, msg);
    CU_assertImplementation(ok, (unsigned)row->line, msg, __FILE__, "", CU_FALSE);
}

static void type_str(char *buf, size_t n, const TensorType *t)
{
    StrBuf sb = {0};
    type_print(&sb, t);
    snprintf(buf, n, "%s", sb_cstr(&sb));
    sb_free(&sb);
}

static void params_str(char *buf, size_t n, const SemaModel *m)
{
    StrBuf sb = {0};
    for (int i = 0; i < m->nparams; i++) {
        sb_printf(&sb, "%s%s", i ? " " : "", m->params[i].name);
        shape_print(&sb, &m->params[i].shape, false);
    }
    snprintf(buf, n, "%s", sb_cstr(&sb));
    sb_free(&sb);
}

/* The node a row's expectations are about: the loss, the metric or the output. */
static int checked_node(const Row *row, const SemaModel *m)
{
    if (row->stmt && strncmp(row->stmt, "loss", 4) == 0)
        return m->loss;
    if (row->stmt && strncmp(row->stmt, "metric", 6) == 0)
        return m->nmetrics ? m->metrics[0] : -1;
    return m->output;
}

static void run_row(const Row *row)
{
    char text[4096];
    snprintf(text, sizeof text, "%s\nmodel t {\n%s\ny = %s\noutput y\n%s\n}\n", row->top ? row->top : "",
             row->decls, row->expr, row->stmt ? row->stmt : "");
    FrontRun r = {0};
    run_text(&r, text);
    if (row->error) {
        expect_str(row, "first error", first_error(&r), row->error);
        expect_str(row, "model", r.f.model ? "checked" : "rejected", "rejected");
        run_free(&r);
        return;
    }
    expect_str(row, "first error", first_error(&r), "");
    const SemaModel *m = r.f.model;
    expect_str(row, "status", r.status == NNC_OK && m ? "ok" : "failed", "ok");
    int id = m ? checked_node(row, m) : -1;
    if (id < 0) {
        if (m)
            expect_str(row, "checked node", "missing", "present");
        run_free(&r);
        return;
    }
    char buf[2048];
    type_str(buf, sizeof buf, &m->nodes[id].type);
    expect_str(row, "type", buf, row->type);
    if (row->params) {
        params_str(buf, sizeof buf, m);
        expect_str(row, "parameters", buf, row->params);
        char want[32], got[32];
        snprintf(want, sizeof want, "%llu", (unsigned long long)row->flops);
        snprintf(got, sizeof got, "%llu", (unsigned long long)m->nodes[id].flops);
        expect_str(row, "flops", got, want);
    }
    run_free(&r);
}

static void run_table(const Row *rows)
{
    for (const Row *row = rows; row->of; row++)
        run_row(row);
}

static void test_layers(void) { run_table(layer_rows); }
static void test_activations(void) { run_table(activation_rows); }
static void test_repeat(void) { run_table(repeat_rows); }
static void test_losses(void) { run_table(loss_rows); }
static void test_arithmetic(void) { run_table(arith_rows); }
static void test_primitives(void) { run_table(prim_rows); }

static bool is_ident(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

/* Whether text calls name: "name(" not preceded by part of an identifier. */
static bool calls(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text ? strstr(text, name) : NULL; p; p = strstr(p + 1, name))
        if ((p == text || !is_ident(p[-1])) && p[n] == '(')
            return true;
    return false;
}

/* Every built-in usable in a model, as a loss or as a metric has at least two
 * rows that succeed and one that fails, and each of its rows calls it. */
static void test_every_builtin_has_rows(void)
{
    for (int b = 0; b < B_COUNT; b++) {
        const Builtin *bi = &builtin_table[b];
        if (bi->cls != BC_LAYER && bi->cls != BC_LOSS && bi->cls != BC_METRIC)
            continue;
        int ok = 0, bad = 0;
        for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
            for (const Row *row = tables[t]; row->of; row++) {
                if (strcmp(row->of, bi->name) != 0)
                    continue;
                ok += row->type != NULL;
                bad += row->error != NULL;
                if (!calls(row->expr, bi->name) && !calls(row->stmt, bi->name))
                    expect_str(row, "row calls its built-in", "no", "yes");
            }
        char got[64];
        snprintf(got, sizeof got, "%s: %s", bi->name, ok >= 2 && bad >= 1 ? "covered" : "missing rows");
        char want[64];
        snprintf(want, sizeof want, "%s: covered", bi->name);
        if (strcmp(got, want) != 0)
            fprintf(stderr, "\n%s: %d succeeding and %d failing rows; need 2 and 1\n", bi->name, ok, bad);
        ASSERT_STR(got, want);
    }
}

static const TestCase tests[] = {
    {"layers", test_layers},
    {"activations", test_activations},
    {"repeat", test_repeat},
    {"losses and metrics", test_losses},
    {"arithmetic and negation", test_arithmetic},
    {"primitives and subscripts", test_primitives},
    {"every built-in has rows", test_every_builtin_has_rows},
    {NULL, NULL},
};

void register_shapes(void) { add_suite("shapes", tests); }
