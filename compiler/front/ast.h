/* ast.h — the syntax tree of a .nn file.
 *
 * Produced by the parser (parser.y), whose actions only call the ast_new_*
 * constructors here; consumed by sema.c, which annotates expression nodes
 * with their inferred types, and by ast_dump.c.  All nodes live in the
 * compilation's arena.  Sibling nodes in a list chain through ->next.
 */
#ifndef NNC_AST_H
#define NNC_AST_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/arena.h"
#include "../util/source.h"
#include "types.h"

/* Each kind names the union member it uses. */
typedef enum AstKind {
    /* expressions */
    AST_INT,      /* .i */
    AST_FLOAT,    /* .f */
    AST_BOOL,     /* .b */
    AST_STRING,   /* .str: the unescaped text */
    AST_NAME,     /* .name: a reference to a constant, binding, parameter or layer; a dotted
                   * id ("embed.weight") names a parameter tensor created in this scope */
    AST_LIST,     /* .list: [a, b, c] */
    AST_NEG,      /* .unary: -x */
    AST_BINARY,   /* .binary: x + y, x - y, x * y, x / y */
    AST_CALL,     /* .call: f(args) */
    AST_ARG,      /* .arg: one argument of a call; .arg.name is NULL when positional */
    AST_INDEX,    /* .index: x[i, a:b]; items are index expressions and AST_RANGEs */
    AST_RANGE,    /* .range: a:b in a subscript; either end may be NULL */
    /* declarations and statements */
    AST_TYPE,     /* .type: f32[784], class(10), token(V)[T] */
    AST_CONST,    /* .def: const NAME = value (top level) */
    AST_LAYER,    /* .layer: layer NAME(params) { body } */
    AST_PARAM,    /* .def: a layer parameter; .def.value is its default or NULL */
    AST_MODEL,    /* .layer: model NAME { body } (params unused) */
    AST_INPUT,    /* .decl: input NAME: type */
    AST_TARGET,   /* .decl: target NAME: type */
    AST_BIND,     /* .def: NAME = value, in a layer or model body */
    AST_OUTPUT,   /* .stmt: output expr */
    AST_LOSS,     /* .stmt: loss expr */
    AST_METRIC,   /* .stmt: metric expr */
    AST_RETURN,   /* .stmt: return expr (layers) */
    AST_PARAM_STMT, /* .pdecl: param NAME: f32[dims] = INIT, in a layer or model body */
    AST_TRAIN,    /* .train: train { settings } */
    AST_SETTING,  /* .def: NAME = value inside train */
} AstKind;

typedef enum BinOp { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV } BinOp;

/* What sema learned about an expression, for --dump-ir=ast.  A layer body
 * is checked once per use; if two uses disagree the node says so. */
typedef enum AnnState { ANN_NONE, ANN_ONE, ANN_VARIES } AnnState;

typedef struct AstNode AstNode;
struct AstNode {
    AstKind  kind;
    Span     span;      /* the whole construct */
    AstNode *next;      /* next sibling in a list */
    union {
        int64_t i;
        double  f;
        bool    b;
        struct { const char *text; } str;
        struct { const char *id; } name;
        struct { AstNode *items; int n; } list;
        struct { AstNode *operand; } unary;
        struct { BinOp op; AstNode *lhs, *rhs; Span op_span; } binary;
        struct { const char *callee; Span callee_span; AstNode *args; int nargs;
                 const char *pname; /* sema_names: what its parameters are called */ } call;
        struct { const char *name; Span name_span; AstNode *value; } arg;
        struct { AstNode *base; AstNode *items; int n; } index;
        struct { AstNode *lo, *hi; } range;
        struct { const char *name; Span name_span; AstNode *arg; AstNode *dims; bool has_dims; } type;
        struct { const char *name; Span name_span; AstNode *value; } def;
        struct { const char *name; Span name_span; AstNode *type; } decl;
        struct { AstNode *value; } stmt;
        struct { const char *name; Span name_span; AstNode *params; AstNode *body; } layer;
        struct { AstNode *items; } train;
        struct { const char *name; Span name_span; AstNode *type; AstNode *init; } pdecl;
    };
    int      depth;      /* expressions: levels down to the deepest leaf (a leaf is 0; ast_depth) */
    AnnState ann_state;  /* sema's annotation of an expression ... */
    Value    ann;        /* ... and its value (VAL_TENSOR shapes, folded constants) */
};

/* A list under construction in the parser: append is O(1). */
typedef struct AstList { AstNode *head, *tail; int n; } AstList;

typedef struct AstProgram {
    AstNode *decls;   /* consts, layers, models and train blocks, in source order */
} AstProgram;

/* The deepest an expression may nest: operators, calls, subscripts and lists
 * each count one level (parentheses and a call's argument none).  Every
 * later stage walks expressions recursively (sema's checks, lowering, dumps);
 * at this depth each does so within an 8 MB stack with the sanitizers'
 * larger frames (diag.nesting checks it at the limit and beyond).  The deepest expression of examples/ is 9 levels. */
enum { AST_MAX_DEPTH = 1000 };
/* What ast_depth counts, as the depth-limit messages name it. */
#define AST_LEVELS_OF "operators, calls, unary minus, subscripts, ranges and lists"

AstNode *ast_new(Arena *a, AstKind kind, Span span);
/* The depth of expression n from its children's, which are set already
 * (the parser builds bottom-up, so no walk is needed). */
int      ast_depth(const AstNode *n);
/* Where to point at the level n adds: a binary's operator, a call's name,
 * a subscript's ']', else n's first character. */
Span     ast_level_span(const AstNode *n);
AstList  ast_list_one(AstNode *n);
AstList  ast_list_append(AstList l, AstNode *n);

const char *ast_binop_symbol(BinOp op);
const char *ast_kind_name(AstKind kind);

#endif
