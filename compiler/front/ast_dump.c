/* ast_dump.c — --dump-ir=ast: the syntax tree as sema annotated it.
 *
 * One node per line, indented by depth: what it is, where it starts
 * (@line:col) and, after "->", the type or constant value sema inferred.
 * Tensor shapes show the implicit batch dimension as B.  A node inside a
 * layer used with different shapes shows "-> (varies by use)".
 *
 *     bind hidden @7:5 -> f32[B,128]
 *       call relu @7:14 -> f32[B,128]
 *         call dense [hidden.*] @7:19 -> f32[B,128]
 */
#include <string.h>

#include "front.h"

static void loc(StrBuf *sb, const Source *src, Span s)
{
    uint32_t line, col;
    source_linecol(src, s.begin, &line, &col);
    sb_printf(sb, " @%u:%u", line, col);
}

static void put_string(StrBuf *sb, const char *s)
{
    sb_putc(sb, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            sb_printf(sb, "\\%c", *s);
        else if (*s == '\n')
            sb_puts(sb, "\\n");
        else if (*s == '\t')
            sb_puts(sb, "\\t");
        else
            sb_putc(sb, *s);
    }
    sb_putc(sb, '"');
}

static void value(StrBuf *sb, const Value *v)
{
    switch (v->kind) {
    case VAL_INT: sb_printf(sb, "%lld", (long long)v->i); break;
    case VAL_FLOAT: sb_printf(sb, "%g", v->f); break;
    case VAL_BOOL: sb_puts(sb, v->b ? "true" : "false"); break;
    case VAL_STRING: put_string(sb, v->s); break;
    case VAL_LIST:
        sb_putc(sb, '[');
        for (int i = 0; i < v->list.n; i++)
            sb_printf(sb, i ? ", %lld" : "%lld", (long long)v->list.v[i]);
        sb_putc(sb, ']');
        break;
    case VAL_TENSOR: type_print(sb, &v->t); break;
    case VAL_LAYER: sb_printf(sb, "layer %s", v->layer->layer.name); break;
    case VAL_SPEC: sb_printf(sb, "%s", v->spec->b->name); break;
    case VAL_NONE: sb_puts(sb, "none"); break;
    case VAL_ERROR: sb_puts(sb, "?"); break;
    }
}

static void annotation(StrBuf *sb, const AstNode *n)
{
    if (n->ann_state == ANN_VARIES)
        sb_puts(sb, " -> (varies by use)");
    else if (n->ann_state == ANN_ONE && n->ann.kind != VAL_SPEC && n->ann.kind != VAL_LAYER) {
        sb_puts(sb, " -> ");
        value(sb, &n->ann);
    }
    sb_putc(sb, '\n');
}

static void indent(StrBuf *sb, int depth)
{
    for (int i = 0; i < depth; i++)
        sb_puts(sb, "  ");
}

static void expr(StrBuf *sb, const Source *src, const AstNode *e, int depth, const char *label)
{
    indent(sb, depth);
    if (label)
        sb_printf(sb, "%s: ", label);
    switch (e->kind) {
    case AST_INT: sb_printf(sb, "int %lld", (long long)e->i); break;
    case AST_FLOAT: sb_printf(sb, "float %g", e->f); break;
    case AST_BOOL: sb_printf(sb, "bool %s", e->b ? "true" : "false"); break;
    case AST_STRING: sb_puts(sb, "string "); put_string(sb, e->str.text); break;
    case AST_NAME: sb_printf(sb, "name %s", e->name.id); break;
    case AST_LIST: sb_puts(sb, "list"); break;
    case AST_NEG: sb_puts(sb, "neg"); break;
    case AST_BINARY: sb_printf(sb, "binary %s", ast_binop_symbol(e->binary.op)); break;
    case AST_CALL:
        sb_printf(sb, "call %s", e->call.callee);
        if (e->call.pname)
            sb_printf(sb, " [%s.*]", e->call.pname);
        break;
    default: sb_puts(sb, ast_kind_name(e->kind)); break;
    }
    loc(sb, src, e->span);
    bool literal = e->kind == AST_INT || e->kind == AST_FLOAT || e->kind == AST_BOOL || e->kind == AST_STRING;
    if (literal)
        sb_putc(sb, '\n');  /* its value is already on the line */
    else
        annotation(sb, e);
    switch (e->kind) {
    case AST_LIST:
        for (const AstNode *i = e->list.items; i; i = i->next)
            expr(sb, src, i, depth + 1, NULL);
        break;
    case AST_NEG: expr(sb, src, e->unary.operand, depth + 1, NULL); break;
    case AST_BINARY:
        expr(sb, src, e->binary.lhs, depth + 1, NULL);
        expr(sb, src, e->binary.rhs, depth + 1, NULL);
        break;
    case AST_CALL:
        for (const AstNode *a = e->call.args; a; a = a->next)
            expr(sb, src, a->arg.value, depth + 1, a->arg.name);
        break;
    case AST_INDEX:
        expr(sb, src, e->index.base, depth + 1, NULL);
        for (const AstNode *i = e->index.items; i; i = i->next)
            expr(sb, src, i, depth + 1, NULL);
        break;
    case AST_RANGE:
        if (e->range.lo)
            expr(sb, src, e->range.lo, depth + 1, "from");
        if (e->range.hi)
            expr(sb, src, e->range.hi, depth + 1, "to");
        break;
    default: break;
    }
}

static void body(StrBuf *sb, const Source *src, const AstNode *items, int depth)
{
    for (const AstNode *it = items; it; it = it->next) {
        indent(sb, depth);
        switch (it->kind) {
        case AST_INPUT:
        case AST_TARGET:
            sb_printf(sb, "%s %s", ast_kind_name(it->kind), it->decl.name);
            loc(sb, src, it->span);
            annotation(sb, it->decl.type);
            break;
        case AST_BIND:
        case AST_SETTING:
            sb_printf(sb, "%s %s", ast_kind_name(it->kind), it->def.name);
            loc(sb, src, it->span);
            sb_putc(sb, '\n');
            expr(sb, src, it->def.value, depth + 1, NULL);
            break;
        case AST_OUTPUT:
        case AST_LOSS:
        case AST_METRIC:
        case AST_RETURN:
            sb_puts(sb, ast_kind_name(it->kind));
            loc(sb, src, it->span);
            sb_putc(sb, '\n');
            expr(sb, src, it->stmt.value, depth + 1, NULL);
            break;
        case AST_PARAM_STMT:
            sb_printf(sb, "param %s", it->pdecl.name);
            loc(sb, src, it->span);
            annotation(sb, it->pdecl.type);
            expr(sb, src, it->pdecl.init, depth + 1, "init");
            break;
        default:
            sb_printf(sb, "%s\n", ast_kind_name(it->kind));
            break;
        }
    }
}

void nnc_dump_ast(StrBuf *sb, const NncFront *f)
{
    const Source *src = &f->src;
    sb_printf(sb, "file %s\n", src->name);
    for (const AstNode *d = f->prog.decls; d; d = d->next) {
        switch (d->kind) {
        case AST_CONST:
            sb_printf(sb, "  const %s", d->def.name);
            loc(sb, src, d->span);
            sb_putc(sb, '\n');
            expr(sb, src, d->def.value, 2, NULL);
            break;
        case AST_LAYER:
            sb_printf(sb, "  layer %s", d->layer.name);
            loc(sb, src, d->span);
            sb_putc(sb, '\n');
            for (const AstNode *p = d->layer.params; p; p = p->next) {
                sb_printf(sb, "    param %s", p->def.name);
                loc(sb, src, p->span);
                sb_putc(sb, '\n');
                if (p->def.value)
                    expr(sb, src, p->def.value, 3, "default");
            }
            body(sb, src, d->layer.body, 2);
            break;
        case AST_MODEL:
            sb_printf(sb, "  model %s", d->layer.name);
            loc(sb, src, d->span);
            sb_putc(sb, '\n');
            body(sb, src, d->layer.body, 2);
            break;
        case AST_TRAIN:
            sb_puts(sb, "  train");
            loc(sb, src, d->span);
            sb_putc(sb, '\n');
            body(sb, src, d->train.items, 2);
            break;
        default:
            break;
        }
    }
}
