/* ast.c — node construction for the parser; see ast.h. */
#include "ast.h"

AstNode *ast_new(Arena *a, AstKind kind, Span span)
{
    AstNode *n = ARENA_NEW(a, AstNode);
    n->kind = kind;
    n->span = span;
    return n;
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
