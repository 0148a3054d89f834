/* ast.c — node construction for the parser; see ast.h. */
#include "ast.h"

AstNode *ast_new(Arena *a, AstKind kind, Span span)
{
    AstNode *n = ARENA_NEW(a, AstNode);
    n->kind = kind;
    n->span = span;
    return n;
}

static int deepest(const AstNode *list)
{
    int d = 0;
    for (const AstNode *n = list; n; n = n->next)
        if (n->depth > d)
            d = n->depth;
    return d;
}

static int max2(int a, int b) { return a > b ? a : b; }

int ast_depth(const AstNode *n)
{
    switch (n->kind) {
    case AST_NEG: return 1 + n->unary.operand->depth;
    case AST_BINARY: return 1 + max2(n->binary.lhs->depth, n->binary.rhs->depth);
    case AST_CALL: return 1 + deepest(n->call.args);
    case AST_ARG: return n->arg.value->depth;
    case AST_INDEX: return 1 + max2(n->index.base->depth, deepest(n->index.items));
    case AST_RANGE: return 1 + max2(n->range.lo ? n->range.lo->depth : 0, n->range.hi ? n->range.hi->depth : 0);
    case AST_LIST: return 1 + deepest(n->list.items);
    case AST_INT:
    case AST_FLOAT:
    case AST_BOOL:
    case AST_STRING:
    case AST_NAME: return 0;   /* leaves */
    /* Not expressions: the parser never asks (named, not defaulted, so
     * that a new kind of node is a -Wswitch warning here until placed). */
    case AST_TYPE:
    case AST_CONST:
    case AST_LAYER:
    case AST_PARAM:
    case AST_MODEL:
    case AST_INPUT:
    case AST_TARGET:
    case AST_BIND:
    case AST_OUTPUT:
    case AST_LOSS:
    case AST_METRIC:
    case AST_RETURN:
    case AST_PARAM_STMT:
    case AST_TRAIN:
    case AST_SETTING: return 0;
    }
    return 0;
}

Span ast_level_span(const AstNode *n)
{
    switch (n->kind) {
    case AST_BINARY: return n->binary.op_span;
    case AST_CALL: return n->call.callee_span;
    case AST_INDEX: return (Span){n->span.end - 1, n->span.end};
    default: return (Span){n->span.begin, n->span.begin + 1};
    }
}

AstList ast_list_one(AstNode *n)
{
    return (AstList){n, n, n ? 1 : 0};
}

AstList ast_list_append(AstList l, AstNode *n)
{
    if (!n)
        return l;
    if (l.tail)
        l.tail->next = n;
    else
        l.head = n;
    l.tail = n;
    l.n++;
    return l;
}

const char *ast_binop_symbol(BinOp op)
{
    switch (op) {
    case BIN_ADD: return "+";
    case BIN_SUB: return "-";
    case BIN_MUL: return "*";
    case BIN_DIV: return "/";
    }
    return "?";
}

const char *ast_kind_name(AstKind kind)
{
    switch (kind) {
    case AST_INT: return "int";
    case AST_FLOAT: return "float";
    case AST_BOOL: return "bool";
    case AST_STRING: return "string";
    case AST_NAME: return "name";
    case AST_LIST: return "list";
    case AST_NEG: return "neg";
    case AST_BINARY: return "binary";
    case AST_CALL: return "call";
    case AST_ARG: return "arg";
    case AST_INDEX: return "index";
    case AST_RANGE: return "range";
    case AST_TYPE: return "type";
    case AST_CONST: return "const";
    case AST_LAYER: return "layer";
    case AST_PARAM: return "param";
    case AST_MODEL: return "model";
    case AST_INPUT: return "input";
    case AST_TARGET: return "target";
    case AST_BIND: return "bind";
    case AST_OUTPUT: return "output";
    case AST_LOSS: return "loss";
    case AST_METRIC: return "metric";
    case AST_RETURN: return "return";
    case AST_PARAM_STMT: return "param_stmt";
    case AST_TRAIN: return "train";
    case AST_SETTING: return "setting";
    }
    return "?";
}
