/* sema_expr.c — values of expressions: constants folded, calls bound to
 * their signatures, shapes inferred by the built-ins' rules, user layers
 * checked at each use with that use's arguments.
 *
 * sema_eval() returns VAL_ERROR for anything already diagnosed and never
 * reports about a VAL_ERROR operand, so one mistake yields one message.
 */
#include "front.h"
#include "sema_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const Value ERR = {.kind = VAL_ERROR, .node = -1};

const char *sema_value_kind(const Value *v)
{
    switch (v->kind) {
    case VAL_ERROR: return "an error";
    case VAL_INT: return "an integer";
    case VAL_FLOAT: return "a number";
    case VAL_BOOL: return "a truth value";
    case VAL_STRING: return "a string";
    case VAL_LIST: return "a list";
    case VAL_TENSOR: return "a tensor";
    case VAL_LAYER: return "a layer";
    case VAL_NONE: return "nothing";
    case VAL_SPEC: return v->spec->b->cls == BC_DATA ? "a data source"
                        : v->spec->b->cls == BC_OPTIMIZER ? "an optimizer" : "a schedule";
    }
    return "?";
}

const char *sema_type_str(Sema *s, const TensorType *t)
{
    StrBuf sb = {0};
    type_print(&sb, t);
    const char *r = arena_strdup(s->arena, sb_cstr(&sb));
    sb_free(&sb);
    return r;
}

const char *cc_type(CallCheck *cc, const TensorType *t) { return sema_type_str(cc->sema, t); }

const char *cc_shape(CallCheck *cc, const Shape *sh, bool batched)
{
    StrBuf sb = {0};
    shape_print(&sb, sh, batched);
    const char *r = arena_strdup(cc->sema->arena, sb_cstr(&sb));
    sb_free(&sb);
    return r;
}

static bool cc_report(CallCheck *cc, Span at, const char *fmt, va_list ap)
{
    Sema *s = cc->sema;
    bool shown = diag_report(s->diag, DIAG_ERROR, at, fmt, ap);
    for (int i = s->depth - 1; shown && i >= 0 && i >= s->depth - 4; i--)
        diag_note(s->diag, s->stack[i].call, "in layer '%s' used here", s->stack[i].layer->layer.name);
    return false;
}

bool cc_error(CallCheck *cc, int arg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cc_report(cc, arg >= 0 ? cc->arg_at[arg] : cc->at, fmt, ap);
    va_end(ap);
    return false;
}

bool cc_error_at(CallCheck *cc, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cc_report(cc, at, fmt, ap);
    va_end(ap);
    return false;
}

Span cc_string_part(CallCheck *cc, int arg, int at, int len)
{
    Span whole = cc->arg_at[arg];
    const Source *src = cc->sema->diag->src;
    if (len <= 0 || span_is_none(whole) || !src || whole.end > src->len || src->text[whole.begin] != '"')
        return whole;
    uint32_t from = whole.begin + 1 + (uint32_t)at, to = from + (uint32_t)len;
    if (to >= whole.end)
        return whole;
    for (uint32_t i = whole.begin + 1; i < to; i++)
        if (src->text[i] == '\\')  /* an escape: the value's offsets are not the text's */
            return whole;
    return (Span){from, to};
}

void cc_note(CallCheck *cc, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_report(cc->sema->diag, DIAG_NOTE, at, fmt, ap);
    va_end(ap);
}

/* Records what an expression was found to be, for --dump-ir=ast. */
static void annotate(const AstNode *e, const Value *v)
{
    AstNode *n = (AstNode *)e;
    if (v->kind == VAL_ERROR || n->ann_state == ANN_VARIES)
        return;
    if (n->ann_state == ANN_NONE) {
        n->ann = *v;
        n->ann_state = ANN_ONE;
        return;
    }
    bool same = n->ann.kind == v->kind;
    if (same && v->kind == VAL_TENSOR)
        same = n->ann.t.elem == v->t.elem && n->ann.t.batched == v->t.batched
            && n->ann.t.classes == v->t.classes && shape_equal(&n->ann.t.shape, &v->t.shape);
    else if (same && v->kind == VAL_INT)
        same = n->ann.i == v->i;
    else if (same && v->kind == VAL_FLOAT)
        same = n->ann.f == v->f;
    if (!same)
        n->ann_state = ANN_VARIES;
}

/* ---- signatures and argument binding ----------------------------------------- */

/* The user layer repeat(count, layer, x, ...) repeats, or NULL: its layer:
 * argument, else its second positional one, when that is a layer's bare name. */
static const AstNode *repeated_layer(const Sema *s, const AstNode *call)
{
    const AstNode *given = NULL;
    int pos = 0;
    for (const AstNode *a = call->call.args; a; a = a->next) {
        if (a->arg.name ? strcmp(a->arg.name, "layer") == 0 : pos++ == 1)
            given = a;
    }
    int l = given && given->arg.value->kind == AST_NAME ? sema_layer_index(s, given->arg.value->name.id) : -1;
    return l >= 0 ? s->layers[l] : NULL;
}

/* The names of b's parameters in pnames (SIG_MAX room); returns how many. */
static int builtin_signature(const Sema *s, const AstNode *call, const Builtin *b, const char **pnames)
{
    int np = builtin_nparams(b);
    for (int i = 0; i < np; i++)
        pnames[i] = b->params[i].name;
    const AstNode *l = b - builtin_table == B_REPEAT ? repeated_layer(s, call) : NULL;
    for (const AstNode *p = l && l->layer.params ? l->layer.params->next : NULL; p && np < SIG_MAX; p = p->next)
        pnames[np++] = p->def.name;
    return np;
}

bool sema_signature(Sema *s, const AstNode *call, const char **pnames, int *np, bool *named,
                    const Builtin **b, int *layer)
{
    *layer = sema_layer_index(s, call->call.callee);
    *b = NULL;
    *np = 0;
    if (*layer >= 0) {
        for (const AstNode *p = s->layers[*layer]->layer.params; p && *np < SIG_MAX; p = p->next)
            pnames[(*np)++] = p->def.name;
        *named = true;
        return true;
    }
    *b = builtin_lookup(call->call.callee);
    if (!*b)
        return false;
    *np = builtin_signature(s, call, *b, pnames);
    *named = (*b)->pname != NULL || *b - builtin_table == B_REPEAT;
    return true;
}

bool sema_bind_args(Sema *s, const AstNode *call, const char *what, const char *const *pnames,
                    int np, bool allow_name, const AstNode **slot, const AstNode **name_arg, bool report)
{
    bool ok = true, seen_named = false;
    int pos = 0;
    *name_arg = NULL;
    for (int i = 0; i < np; i++)
        slot[i] = NULL;
    for (const AstNode *a = call->call.args; a; a = a->next) {
        if (!a->arg.name) {
            if (seen_named) {
                if (report)
                    sema_error(s, a->span, "positional argument after named arguments");
                ok = false;
            } else if (pos >= np) {
                if (report && ok)
                    sema_error(s, a->span, "%s takes %d argument%s, but more are given", what, np,
                               np == 1 ? "" : "s");
                ok = false;
            } else {
                slot[pos++] = a;
            }
            continue;
        }
        seen_named = true;
        if (allow_name && strcmp(a->arg.name, "name") == 0) {
            if (*name_arg) {
                if (report)
                    sema_error(s, a->arg.name_span, "argument 'name' given twice");
                ok = false;
            }
            *name_arg = a;
            continue;
        }
        int i = 0;
        while (i < np && strcmp(pnames[i], a->arg.name) != 0)
            i++;
        if (i == np) {
            if (report) {
                sema_error(s, a->arg.name_span, "%s has no argument '%s'", what, a->arg.name);
                /* name: is an argument too where the call is named */
                const char *cands[SIG_MAX + 1];
                int nc = 0;
                for (int j = 0; j < np && nc < SIG_MAX; j++)
                    cands[nc++] = pnames[j];
                if (allow_name)
                    cands[nc++] = "name";
                const char *best = suggest_among(a->arg.name, cands, nc);
                if (best) {
                    diag_note(s->diag, SPAN_NONE, "did you mean '%s'?", best);
                } else {
                    StrBuf sb = {0};
                    for (int j = 0; j < nc; j++)
                        sb_printf(&sb, "%s%s", j == 0 ? "" : j == nc - 1 ? " and " : ", ", cands[j]);
                    diag_note(s->diag, SPAN_NONE, nc ? "%s's arguments are %s" : "%s takes no arguments%s", what,
                              sb_cstr(&sb));
                    sb_free(&sb);
                }
            }
            ok = false;
        } else if (slot[i]) {
            if (report) {
                sema_error(s, a->arg.name_span, "argument '%s' given twice", a->arg.name);
                diag_note(s->diag, slot[i]->span, "first given here");
            }
            ok = false;
        } else {
            slot[i] = a;
        }
    }
    return ok;
}

/* "dense(x, units, bias: true)", for a note after a missing argument. */
static const char *builtin_synopsis(Sema *s, const Builtin *b)
{
    StrBuf sb = {0};
    sb_printf(&sb, "%s(", b->name);
    int np = builtin_nparams(b);
    for (int i = 0; i < np; i++) {
        const BuiltinParam *p = &b->params[i];
        sb_printf(&sb, "%s%s", i ? ", " : "", p->name);
        if (p->required)
            continue;
        if (p->def_from)
            sb_printf(&sb, ": %s", p->def_from);
        else if (p->def.kind == VAL_INT)
            sb_printf(&sb, ": %lld", (long long)p->def.i);
        else if (p->def.kind == VAL_FLOAT)
            sb_printf(&sb, ": %g", p->def.f);
        else if (p->def.kind == VAL_BOOL)
            sb_printf(&sb, ": %s", p->def.b ? "true" : "false");
        else if (p->def.kind == VAL_STRING)
            sb_printf(&sb, p->kind == PK_ENUM || p->kind == PK_TOKENIZER ? ": %s" : ": \"%s\"", p->def.s);
        else if (p->def.kind == VAL_NONE)
            sb_puts(&sb, ": none");
    }
    sb_putc(&sb, ')');
    const char *r = arena_strdup(s->arena, sb_cstr(&sb));
    sb_free(&sb);
    return r;
}

/* "at least 1", "in (0, 1)", for range errors. */
static const char *range_phrase(Sema *s, const char *r)
{
    const char *comma = strchr(r, ',');
    bool unbounded = strncmp(comma + 1, "inf", 3) == 0;
    if (unbounded)
        return arena_printf(s->arena, "%s %.*s", r[0] == '[' ? "at least" : "greater than",
                            (int)(comma - r - 1), r + 1);
    return arena_printf(s->arena, "in %.*s, %s", (int)(comma - r), r, comma + 1);
}

static bool choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *c = choices; c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, v, n) == 0)
            return true;
        c = bar ? bar + 1 : NULL;
    }
    return false;
}

static const char *choices_phrase(Sema *s, const char *choices)
{
    StrBuf sb = {0};
    int count = 1;
    for (const char *c = choices; *c; c++)
        count += *c == '|';
    int i = 0;
    for (const char *c = choices; c; i++) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        sb_printf(&sb, "%s%.*s", i == 0 ? "" : i == count - 1 ? " or " : ", ", (int)len, c);
        c = bar ? bar + 1 : NULL;
    }
    const char *r = arena_strdup(s->arena, sb_cstr(&sb));
    sb_free(&sb);
    return r;
}

/* Builtin.of_number of number arguments: a real (abs of an integer: an
 * integer), or an error when the result is not a finite real. */
static Value fold_call(Sema *s, const AstNode *call, const Builtin *b, const Value *args)
{
    const Value *x = &args[0];
    bool two = b->params[1].name != NULL;   /* pow(x, p) */
    double a = x->kind == VAL_INT ? (double)x->i : x->f, p = two ? args[1].f : 0;
    if (b - builtin_table == B_ABS && x->kind == VAL_INT && x->i != INT64_MIN)
        return (Value){.kind = VAL_INT, .node = -1, .i = x->i < 0 ? -x->i : x->i};
    double v = b->of_number(a, p);
    if (isfinite(v))
        return (Value){.kind = VAL_FLOAT, .node = -1, .f = v};
    const char *shown = x->kind == VAL_INT ? arena_printf(s->arena, "%lld", (long long)x->i)
                                           : arena_printf(s->arena, "%g", x->f);
    if (two)
        shown = arena_printf(s->arena, "%s, %g", shown, p);
    sema_error(s, call->span, "%s(%s) %s", b->name, shown,
               isnan(v) ? "is not a real number" : a == 0 ? "is infinite" : "is too large to represent");
    return ERR;
}

/* A real argument the model holds in f32 (every one but a data source's,
 * whose fractions stay doubles): it fits, and one that must be greater
 * than 0 is not 0 or subnormal there. */
static bool real_arg_fits(Sema *s, const Builtin *b, const BuiltinParam *p, Span at, double x)
{
    const char *named = arena_printf(s->arena, "%s's %s", b->name, p->name);
    if (!sema_f32_fits(s, at, named, x))
        return false;
    return !(p->range && range_positive(p->range)) || sema_f32_positive(s, at, named, x);
}

/* What parameter p of b takes, as "must be ..." says it ("an integer"). */
static const char *param_wants(Sema *s, const Builtin *b, const BuiltinParam *p, EvalCtx inner)
{
    switch (p->kind) {
    case PK_TENSOR: return !b->of_number ? "a tensor" : inner == EV_CONST ? "a number" : "a tensor or a number";
    case PK_INT: return "an integer";
    case PK_FLOAT: return "a number";
    case PK_BOOL: return "true or false";
    case PK_STRING: return "a string";
    case PK_ENUM: return arena_printf(s->arena, "one of %s", choices_phrase(s, p->choices));
    case PK_SHAPE: return "a list of integers such as [1, 28, 28]";
    case PK_LAYER: return "a layer defined with 'layer'";   /* (repeat's layer "must name" it) */
    case PK_TOKENIZER: return "bytes or a tokenizer such as bpe(vocab: 512)";
    case PK_AXES: return "an axis or a list of axes such as [0, 1]";
    case PK_OPERAND: return "a tensor or a number";
    case PK_WINDOW: return "an integer or a list of two integers such as [1, 5]";
    }
    return "?";
}

/* "dense(x, 3, relu)": a layer's name given where a value goes, as Keras
 * takes an activation; lb is the built-in it names, NULL for a layer
 * defined with 'layer'.  Says which argument it landed in and, when an
 * argument comes before it, how a layer is applied: relu(dense(x, 3)). */
static void layer_as_argument(Sema *s, const Builtin *b, const BuiltinParam *p, const AstNode *call,
                              const AstNode *arg, EvalCtx inner, const Builtin *lb)
{
    const char *id = arg->arg.value->name.id;
    sema_error(s, arg->arg.value->span, "%s's argument '%s' must be %s, found the %s%s '%s'", b->name, p->name,
               param_wants(s, b, p, inner), lb ? "built-in " : "", lb ? builtin_class_name(lb->cls) : "layer", id);
    const AstNode *before = NULL;
    for (const AstNode *a = call->call.args; a && a != arg; a = a->next)
        before = a;
    if (!before || (lb && lb->cls != BC_LAYER))
        return;
    /* the call as written without this argument, or with "..." for it when it is required: quoted when the
     * call is on one line and what is shown of it (all but [cut, the argument's end)) is at most 60 bytes */
    const char *src = s->diag->src->text;
    uint32_t cut = p->required ? arg->span.begin : before->span.end;
    int head = (int)(cut - call->span.begin), tail = (int)(call->span.end - arg->span.end);
    if (!source_quotable(s->diag->src, call->span, 60 + (arg->span.end - cut)))
        diag_note(s->diag, SPAN_NONE, "a layer is applied by calling it on a value: %s(%s(...))", id, b->name);
    else
        diag_note(s->diag, SPAN_NONE, "a layer is applied by calling it on a value: %s(%.*s%s%.*s)", id, head,
                  src + call->span.begin, p->required ? "..." : "", tail, src + arg->span.end);
}

/* A window argument written as a list (PK_WINDOW): [height, width], two
 * integers in the parameter's range, each said wrong where it is written.
 * v is the list's value: a list of integers, or the tensor literal a real
 * number among them made of it. */
static Value window_list(Sema *s, Env *env, const Builtin *b, const BuiltinParam *p, const AstNode *e, Value v,
                         EvalCtx inner)
{
    static const char *const axis[2] = {"height", "width"};
    int n = v.kind == VAL_LIST ? v.list.n : e->list.n;
    if (n != 2) {
        sema_error(s, e->span, "%s's %s must be %s, found a list of %d", b->name, p->name, param_wants(s, b, p, inner),
                   n);
        return ERR;
    }
    const AstNode *it = e->kind == AST_LIST ? e->list.items : NULL;
    for (int d = 0; d < 2; d++, it = it ? it->next : NULL) {
        Span at = it ? it->span : e->span;
        if (v.kind != VAL_LIST) {  /* find the element that is not an integer */
            Value x = sema_eval(s, env, it, inner);
            if (x.kind == VAL_ERROR)
                return ERR;
            if (x.kind == VAL_INT)
                continue;
            /* a real number as written: 2.0, not "2" beside "must be an integer" */
            const char *found = x.kind == VAL_FLOAT ? arena_printf(s->arena, "%g%s", x.f,
                                                                  fabs(x.f) < 1e15 && x.f == floor(x.f) ? ".0" : "")
                              : x.kind == VAL_TENSOR ? sema_type_str(s, &x.t) : sema_value_kind(&x);
            sema_error(s, at, "%s's %s %s must be an integer, found %s", b->name, p->name, axis[d], found);
            return ERR;
        }
        if (!range_contains(p->range, (double)v.list.v[d])) {
            sema_error(s, at, "%s's %s %s must be %s, found %lld", b->name, p->name, axis[d],
                       range_phrase(s, p->range), (long long)v.list.v[d]);
            return ERR;
        }
    }
    if (v.kind != VAL_LIST) {  /* not reached: only a real number or a list in it makes a list a tensor */
        sema_error(s, e->span, "%s's %s must be %s", b->name, p->name, param_wants(s, b, p, inner));
        return ERR;
    }
    return v;
}

/* The value of one argument, converted and checked against its parameter. */
static Value eval_param(Sema *s, Env *env, const Builtin *b, int i, const AstNode *call, const AstNode *arg,
                        EvalCtx inner)
{
    const BuiltinParam *p = &b->params[i];
    const AstNode *e = arg->arg.value;
    Binding *named_const = e->kind == AST_NAME ? env_find(&s->globals, e->name.id) : NULL;
    /* a choice is a bare word (approximate: tanh), or a name holding a string: a constant, or a layer's
     * parameter (layer f(x, k: "tanh") { ... gelu(x, approximate: k) }), read as its value */
    Binding *named_local = e->kind == AST_NAME && env != &s->globals ? env_find(env, e->name.id) : NULL;
    Binding *named = named_local ? named_local : named_const;
    if (p->kind == PK_ENUM && e->kind == AST_NAME && !(named && named->v.kind == VAL_STRING)) {
        Value v = {.kind = VAL_STRING, .node = -1, .s = e->name.id};
        if (!choice_ok(p->choices, v.s)) {
            sema_error(s, e->span, "'%s' is not a choice for %s's %s; use %s", v.s, b->name, p->name,
                       choices_phrase(s, p->choices));
            return ERR;
        }
        annotate(e, &v);
        return v;
    }
    if (p->kind == PK_TOKENIZER) {  /* the word bytes, or a call of a tokenizer */
        if (e->kind == AST_NAME && strcmp(e->name.id, "bytes") == 0 && !named_const)
            return (Value){.kind = VAL_STRING, .node = -1, .s = "bytes"};
        if (e->kind != AST_CALL) {
            sema_error(s, e->span, "%s's %s must be %s", b->name, p->name, param_wants(s, b, p, inner));
            return ERR;
        }
        return sema_eval(s, env, e, EV_TOKENIZER);
    }
    if (p->kind == PK_LAYER) {
        int l = e->kind == AST_NAME ? sema_layer_index(s, e->name.id) : -1;
        if (l < 0) {
            sema_error(s, e->span, "%s's %s must name %s", b->name, p->name, param_wants(s, b, p, inner));
            return ERR;
        }
        return (Value){.kind = VAL_LAYER, .node = -1, .layer = s->layers[l]};
    }
    if (e->kind == AST_NAME && !named && !strchr(e->name.id, '.')) {
        int l = sema_layer_index(s, e->name.id);
        const Builtin *lb = l < 0 ? builtin_lookup(e->name.id) : NULL;
        if (l >= 0 || lb) {
            layer_as_argument(s, b, p, call, arg, inner, lb);
            return ERR;
        }
    }
    Value v = sema_eval(s, env, e, inner);
    if (v.kind == VAL_ERROR)
        return ERR;
    if (p->kind == PK_WINDOW && (v.kind == VAL_LIST || (v.kind == VAL_TENSOR && e->kind == AST_LIST)))
        return window_list(s, env, b, p, e, v, inner);
    if (p->kind == PK_TENSOR && v.kind == VAL_LIST && inner == EV_EXPR) {
        v = sema_list_tensor(s, env, &v, e->span);
        if (v.kind == VAL_ERROR)
            return ERR;
    }
    /* numbers and lists converted to what the parameter holds, then whether v is of its kind */
    if (v.kind == VAL_INT && (p->kind == PK_FLOAT || p->kind == PK_OPERAND))
        v = (Value){.kind = VAL_FLOAT, .node = -1, .f = (double)v.i};
    if (v.kind == VAL_INT && p->kind == PK_SHAPE) {
        int64_t *one = ARENA_NEW(s->arena, int64_t);
        *one = v.i;
        v = (Value){.kind = VAL_LIST, .node = -1, .list = {1, one}};
    }
    bool ok = false;
    switch (p->kind) {
    case PK_TENSOR:   /* sqrt(2.0): a number, computed at once (fold_call) */
        ok = v.kind == VAL_TENSOR || (b->of_number && (v.kind == VAL_INT || v.kind == VAL_FLOAT));
        break;
    case PK_INT: ok = v.kind == VAL_INT; break;
    case PK_FLOAT: ok = v.kind == VAL_FLOAT; break;
    case PK_BOOL: ok = v.kind == VAL_BOOL; break;
    case PK_STRING: ok = v.kind == VAL_STRING; break;
    case PK_ENUM: ok = v.kind == VAL_STRING; break;
    case PK_SHAPE: ok = v.kind == VAL_LIST; break;
    case PK_LAYER: ok = true; break;       /* (taken above) */
    case PK_TOKENIZER: ok = true; break;   /* (taken above) */
    case PK_AXES: ok = v.kind == VAL_INT || v.kind == VAL_LIST; break;
    case PK_WINDOW: ok = v.kind == VAL_INT; break;  /* (a list: window_list, above) */
    case PK_OPERAND: ok = v.kind == VAL_TENSOR || v.kind == VAL_FLOAT; break;
    }
    if (ok && p->kind == PK_ENUM && !choice_ok(p->choices, v.s)) {
        sema_error(s, e->span, "'%s' is not a choice for %s's %s; use %s", v.s, b->name, p->name,
                   choices_phrase(s, p->choices));
        return ERR;
    }
    if (!ok) {
        sema_error(s, e->span, "%s's %s must be %s, found %s", b->name, p->name, param_wants(s, b, p, inner),
                   v.kind == VAL_TENSOR ? sema_type_str(s, &v.t) : sema_value_kind(&v));
        if (b - builtin_table == B_MAX && p->kind == PK_AXES)  /* max(x, 0.5) meant elementwise */
            diag_note(s->diag, SPAN_NONE, "max reduces over an axis; maximum(a, b) is the larger of two values");
        return ERR;
    }
    if (p->range && (v.kind == VAL_INT || v.kind == VAL_FLOAT)) {
        double x = v.kind == VAL_INT ? (double)v.i : v.f;
        if (!range_contains(p->range, x)) {
            if (v.kind == VAL_INT)
                sema_error(s, e->span, "%s's %s must be %s, found %lld", b->name, p->name,
                           range_phrase(s, p->range), (long long)v.i);
            else
                sema_error(s, e->span, "%s's %s must be %s, found %g", b->name, p->name,
                           range_phrase(s, p->range), v.f);
            return ERR;
        }
    }
    /* numbers a model holds (hyperparameters, a maximum's operand); a
     * tensor parameter's number folds in double (log(1e300) is a constant's
     * 690.8) and is checked where its result enters f32 */
    if (v.kind == VAL_FLOAT && (p->kind == PK_FLOAT || p->kind == PK_OPERAND) && b->cls != BC_DATA
        && !real_arg_fits(s, b, p, e->span, v.f))
        return ERR;
    return v;
}

static const char *class_misuse(const Builtin *b)
{
    switch (b->cls) {
    case BC_LOSS: return "it can only be the value of 'loss'";
    case BC_METRIC: return "it can only be used in a 'metric'";
    case BC_OPTIMIZER: return "it belongs in the train block: optimizer = ...";
    case BC_SCHEDULE: return "it belongs in the train block: schedule = ...";
    case BC_DATA: return "it belongs in the train block: data = ...";
    case BC_TOKENIZER: return "it belongs in the train block: text(..., tokenizer: ...)";
    case BC_LAYER: return "layers belong in model and layer bodies";
    }
    return "";
}

static Value eval_repeat(Sema *s, Env *env, const AstNode *call, const Value *args, const Span *arg_at,
                         const AstNode *const *passed, int npassed);
static Value instantiate(Sema *s, int li, Span use, const char *prefix, const Value *vals,
                         const AstNode *const *slot);

/* Whether node v is the result of the built-in id. */
static bool made_by(Sema *s, int v, BuiltinId id)
{
    const SemaNode *n = &s->m->nodes[v];
    return n->kind == SN_CALL && n->builtin == &builtin_table[id];
}

/* Losses given what they do not expect: valid programs that train badly. */
static void warn_pitfalls(Sema *s, const Builtin *b, const Value *args, const Span *arg_at)
{
    int p = args[0].node;
    if (b == &builtin_table[B_CROSS_ENTROPY] && made_by(s, p, B_SOFTMAX)) {
        if (diag_warning(s->diag, arg_at[0], "cross_entropy applies softmax itself; these logits are already a "
                                             "softmax output, so softmax is applied twice"))
            diag_note(s->diag, s->m->nodes[p].at, "pass the scores this softmax takes instead");
    } else if (b == &builtin_table[B_BINARY_CROSS_ENTROPY] && !made_by(s, p, B_SIGMOID) && !made_by(s, p, B_SOFTMAX)) {
        if (diag_warning(s->diag, arg_at[0], "binary_cross_entropy takes probabilities, but this value is not the "
                                             "result of sigmoid"))
            diag_note(s->diag, SPAN_NONE, "for scores z, binary_cross_entropy_logits(z, target) applies sigmoid "
                                          "itself, stably");
    }
}

static Value eval_builtin(Sema *s, Env *env, const AstNode *call, const Builtin *b, EvalCtx ctx)
{
    static const BuiltinClass want_class[] = {
        [EV_EXPR] = BC_LAYER, [EV_LOSS] = BC_LOSS, [EV_METRIC] = BC_METRIC, [EV_DATA] = BC_DATA,
        [EV_OPTIMIZER] = BC_OPTIMIZER, [EV_SCHEDULE] = BC_SCHEDULE, [EV_CONST] = BC_LAYER,
        [EV_TOKENIZER] = BC_TOKENIZER,
    };
    if (ctx == EV_CONST && !b->of_number) {
        sema_error(s, call->span, "a constant is computed from numbers; it cannot call %s", b->name);
        return ERR;
    }
    /* In expressions, loss built-ins are values like any other (a loss is
     * any expression of them); a metric's own built-ins only in a metric. */
    bool in_expr = ctx == EV_EXPR || ctx == EV_LOSS || ctx == EV_METRIC;
    bool fits = b->cls == want_class[ctx]
             || (in_expr && (b->cls == BC_LAYER || b->cls == BC_LOSS || (b->cls == BC_METRIC && ctx == EV_METRIC)));
    if (!fits) {
        if (in_expr)
            sema_error(s, call->call.callee_span, "%s is %s; %s", b->name, builtin_class_phrase(b->cls),
                       class_misuse(b));
        else
            sema_error(s, call->call.callee_span, "%s is %s, but %s is needed here", b->name,
                       builtin_class_phrase(b->cls), builtin_class_phrase(want_class[ctx]));
        return ERR;
    }
    /* repeat's signature holds the repeated layer's parameters too (SIG_MAX): its
     * arrays in the arena, where the other built-ins' small ones stay in a frame
     * that 1000 nested calls repeat (diag.nesting, under ASan) */
    bool repeat = b - builtin_table == B_REPEAT;
    const char *own_names[BUILTIN_MAX_PARAMS], **pnames = repeat ? ARENA_ARRAY(s->arena, const char *, SIG_MAX) : own_names;
    const AstNode *own_slot[BUILTIN_MAX_PARAMS], **slot = repeat ? ARENA_ARRAY(s->arena, const AstNode *, SIG_MAX) : own_slot;
    const AstNode *name_arg;
    int np = builtin_nparams(b), nsig = builtin_signature(s, call, b, pnames);  /* and what repeat passes on */
    bool named = b->pname != NULL || repeat;
    if (!sema_bind_args(s, call, b->name, pnames, nsig, named, slot, &name_arg, true))
        return ERR;
    /* Inside a train block arguments are constants; elsewhere they may be tensors. */
    EvalCtx inner = in_expr ? ctx : EV_CONST;
    Value args[BUILTIN_MAX_PARAMS];
    Span arg_at[BUILTIN_MAX_PARAMS];
    bool ok = true;
    for (int i = 0; i < np; i++) {
        const BuiltinParam *p = &b->params[i];
        arg_at[i] = slot[i] ? slot[i]->arg.value->span : call->span;
        if (slot[i]) {
            if ((b->cls == BC_LOSS || b->cls == BC_METRIC) && s->in_label_stmt)
                s->label_reader = slot[i]->arg.value;
            args[i] = eval_param(s, env, b, i, call, slot[i], inner);
            s->label_reader = NULL;
        } else if (p->required) {
            sema_error(s, call->span, "%s is missing argument '%s'", b->name, p->name);
            diag_note(s->diag, SPAN_NONE, "%s takes %s", b->name, builtin_synopsis(s, b));
            args[i] = ERR;
        } else if (p->def_from) {
            int j = 0;
            while (strcmp(b->params[j].name, p->def_from) != 0)
                j++;
            args[i] = args[j];
        } else {
            args[i] = p->def;
            args[i].node = -1;
        }
        ok &= args[i].kind != VAL_ERROR;
    }
    if (!ok)
        return ERR;
    if (b->of_number && args[0].kind != VAL_TENSOR)  /* a function of a number: a number */
        return fold_call(s, call, b, args);

    if (b - builtin_table == B_REPEAT)
        return eval_repeat(s, env, call, args, arg_at, slot + np, nsig - np);

    CallCheck cc = {.sema = s, .b = b, .at = call->span, .model = s->m};
    memcpy(cc.arg, args, sizeof args);
    memcpy(cc.arg_at, arg_at, sizeof arg_at);
    for (int i = 0; i < np; i++)
        if (slot[i] && slot[i]->arg.value->kind == AST_NAME)
            cc.arg_name[i] = slot[i]->arg.value->name.id;
    if (b->cls == BC_DATA || b->cls == BC_OPTIMIZER || b->cls == BC_SCHEDULE || b->cls == BC_TOKENIZER) {
        /* A data source's rule compares it with the model's declarations;
         * after errors in those the comparison would only be noise. */
        if (b->check && s->diag->errors == s->errors_at_start && !b->check(&cc))
            return ERR;
        Spec *spec = ARENA_NEW(s->arena, Spec);
        spec->b = b;
        spec->at = call->span;
        memcpy(spec->args, args, sizeof args);
        return (Value){.kind = VAL_SPEC, .node = -1, .spec = spec};
    }

    const char *pname = call->call.pname ? call->call.pname : b->pname;
    cc.prefix = b->pname ? arena_printf(s->arena, "%s%s.", env->prefix, pname) : "";
    int first_param = s->m->nparams;
    int64_t since = s->registrations, hits = s->shared_hits;
    if (!b->check(&cc)) {
        s->m->nparams = first_param;
        return ERR;
    }
    if (b->pname && !sema_shared_use(s, cc.prefix, first_param, since, hits, call->span))
        return ERR;
    SemaNode n = {
        .kind = SN_CALL, .at = call->span, .type = cc.result.t, .builtin = b,
        .first_param = first_param, .nparams = s->m->nparams - first_param, .flops = cc.flops,
        .name = b->pname ? arena_printf(s->arena, "%s%s", env->prefix, pname)
                         : arena_printf(s->arena, "%s%s", env->prefix, env->row ? env->row : "?"),
    };
    int k = 0;
    for (int i = 0; i < BUILTIN_MAX_PARAMS; i++)
        n.in[i] = -1;
    for (int i = 0; i < np; i++) {
        n.args[i] = args[i];
        if (args[i].kind == VAL_TENSOR)
            n.in[k++] = args[i].node;
    }
    if (b->cls == BC_LOSS)
        warn_pitfalls(s, b, args, arg_at);
    int id = sema_add_node(s, &n);
    if (id < 0)
        return ERR;
    return (Value){.kind = VAL_TENSOR, .node = id, .t = cc.result.t};
}

/* ---- user layers ------------------------------------------------------------- */

/* Keeps what st bound in a layer's scope for --trace (SemaInner). */
static void record_inner(Sema *s, Env *env, const AstNode *st, const char *name)
{
    Binding *b = env_find(env, name);
    if (!s->top || s->top->kind == AST_LOSS || s->top->kind == AST_METRIC || !b
        || (b->v.kind != VAL_TENSOR && b->v.kind != VAL_INT && b->v.kind != VAL_FLOAT))
        return;  /* the loss's and metrics' layers are no part of a prediction: --trace shows none */
    SemaModel *m = s->m;
    m->inner = sema_grow(s, m->inner, m->ninner, &s->cap_inner, sizeof *m->inner);
    m->inner[m->ninner++] = (SemaInner){.stmt = st, .top = s->top, .depth = s->depth, .v = b->v,
                                        .path = arena_printf(s->arena, "%s%s", env->prefix, name)};
}

/* Checks one use of layer li.  vals[i] is the value of parameter i, or
 * VAL_ERROR with slot[i] == NULL when its default applies. */
static Value instantiate(Sema *s, int li, Span use, const char *prefix, const Value *vals,
                         const AstNode *const *slot)
{
    const AstNode *l = s->layers[li];
    if (s->poisoned[li])
        return ERR;
    if (s->depth >= SEMA_MAX_DEPTH) {
        sema_error(s, use, "layers are nested more than %d deep", SEMA_MAX_DEPTH);
        return ERR;
    }
    Env env = {.prefix = prefix};
    int i = 0;
    for (const AstNode *p = l->layer.params; p; p = p->next, i++) {
        Value v = vals[i];
        if (!slot[i] && p->def.value)
            v = sema_eval(s, &s->globals, p->def.value, EV_CONST);
        if (v.kind == VAL_ERROR)
            return ERR;
        env_bind(s, &env, p->def.name, v, p->def.name_span, AST_PARAM);
    }
    s->stack[s->depth++] = (Frame){l, use};
    Value result = ERR;
    for (const AstNode *st = l->layer.body; st; st = st->next) {
        if (st->kind == AST_BIND) {
            env.row = st->def.name;
            sema_bind_result(s, &env, st, sema_eval(s, &env, st->def.value, EV_EXPR));
            record_inner(s, &env, st, st->def.name);
        } else if (st->kind == AST_PARAM_STMT) {
            env.row = st->pdecl.name;
            sema_param_stmt(s, &env, st);
            record_inner(s, &env, st, st->pdecl.name);
        } else if (st->kind == AST_RETURN) {
            env.row = "return";
            result = sema_eval(s, &env, st->stmt.value, EV_EXPR);
        }
    }
    s->depth--;
    return result;
}

/* "block(h, relu)": a layer's name given to a user layer, whose parameters
 * hold values only (only repeat takes a layer).  Says which parameter it
 * landed in, as layer_as_argument does for a built-in's, and where that
 * parameter is declared, since the layer is then called there by its name. */
static bool layer_to_layer(Sema *s, Env *env, const AstNode *l, const AstNode *param, const AstNode *arg)
{
    const AstNode *e = arg->arg.value;
    if (e->kind != AST_NAME || strchr(e->name.id, '.') || env_find(env, e->name.id)
        || env_find(&s->globals, e->name.id))
        return false;
    const char *id = e->name.id;
    int k = sema_layer_index(s, id);
    const Builtin *b = k < 0 ? builtin_lookup(id) : NULL;
    if (k < 0 && !b)
        return false;
    sema_error(s, e->span, "%s's argument '%s' must be a value such as a tensor or a number, found the %s%s '%s'",
               l->layer.name, param->def.name, b ? "built-in " : "", b ? builtin_class_name(b->cls) : "layer", id);
    if (!b || b->cls == BC_LAYER)
        diag_note(s->diag, param->def.name_span, "a layer's parameters hold values, not layers: call %s by its "
                  "own name inside '%s'", id, l->layer.name);
    return true;
}

/* The values of layer l's parameters from the first-th on, for one use:
 * slot[i] is the argument given for parameter i, evaluated in env (NULL: its
 * default applies).  A parameter without a default that none gives is
 * reported, as repeat's when in_repeat.  False after any error.  l has at
 * most SIG_MAX parameters (more are refused where it is defined). */
static bool layer_args(Sema *s, Env *env, const AstNode *l, const AstNode *call, int first,
                       const AstNode *const *slot, Value *vals, bool in_repeat)
{
    bool ok = true;
    int i = 0;
    for (const AstNode *p = l->layer.params; p && i < SIG_MAX; p = p->next, i++) {
        if (i < first)
            continue;
        vals[i] = ERR;
        if (slot[i]) {
            if (!layer_to_layer(s, env, l, p, slot[i]))
                vals[i] = sema_eval(s, env, slot[i]->arg.value, EV_EXPR);
            ok &= vals[i].kind != VAL_ERROR;
        } else if (!p->def.value) {
            if (in_repeat) {
                sema_error(s, call->span, "%s is missing argument '%s', which repeat passes to every copy after x",
                           l->layer.name, p->def.name);
                diag_note(s->diag, p->def.name_span, "'%s' is a parameter of layer '%s' without a default",
                          p->def.name, l->layer.name);
            } else {
                sema_error(s, call->span, "%s is missing argument '%s'", l->layer.name, p->def.name);
                diag_note(s->diag, l->layer.name_span, "layer '%s' is defined here", l->layer.name);
            }
            ok = false;
        }
    }
    return ok;
}

static Value eval_layer_call(Sema *s, Env *env, const AstNode *call, int li)
{
    const AstNode *l = s->layers[li];
    const char *pnames[SIG_MAX] = {0};
    int np = 0;
    for (const AstNode *p = l->layer.params; p && np < SIG_MAX; p = p->next)
        pnames[np++] = p->def.name;
    const AstNode *slot[SIG_MAX] = {0}, *name_arg = NULL;
    if (!sema_bind_args(s, call, l->layer.name, pnames, np, true, slot, &name_arg, true))
        return ERR;
    Value vals[SIG_MAX] = {{0}};
    if (!layer_args(s, env, l, call, 0, slot, vals, false))
        return ERR;
    const char *pname = call->call.pname ? call->call.pname : l->layer.name;
    const char *prefix = arena_printf(s->arena, "%s%s.", env->prefix, pname);
    int first_param = s->m->nparams;
    int64_t since = s->registrations, hits = s->shared_hits;
    Value v = instantiate(s, li, call->span, prefix, vals, slot);
    if (v.kind != VAL_ERROR && !sema_shared_use(s, prefix, first_param, since, hits, call->span))
        return ERR;
    return v;
}

/* repeat(count, layer, x, ...): x goes to the layer's first parameter, and
 * passed[j] (NULL if not given) to its parameter j + 1 in every copy, each
 * argument evaluated once, here (layer_args). */
static Value eval_repeat(Sema *s, Env *env, const AstNode *call, const Value *args, const Span *arg_at,
                         const AstNode *const *passed, int npassed)
{
    int64_t count = args[0].i;
    const AstNode *l = args[1].layer;
    int li = sema_layer_index(s, l->layer.name);
    if (s->poisoned[li] || !l->layer.params)
        return ERR;  /* reported where the layer is defined: no parameters, or more than SIG_MAX */
    /* passed[0 .. npassed) are the layer's parameters after its first (builtin_signature) */
    Value *vals = ARENA_ARRAY(s->arena, Value, SIG_MAX);
    const AstNode **slot = ARENA_ARRAY(s->arena, const AstNode *, SIG_MAX);
    for (int j = 1; j < SIG_MAX; j++)
        slot[j] = j - 1 < npassed ? passed[j - 1] : NULL;
    if (!layer_args(s, env, l, call, 1, slot, vals, true))
        return ERR;
    const char *pname = call->call.pname ? call->call.pname : arena_printf(s->arena, "%ss", l->layer.name);
    Value x = args[2];
    int first_param = s->m->nparams;
    int64_t since = s->registrations, hits = s->shared_hits;
    for (int64_t i = 0; i < count; i++) {
        vals[0] = x;
        slot[0] = call;  /* given */
        const char *prefix = arena_printf(s->arena, "%s%s.%lld.", env->prefix, pname, (long long)i);
        Value y = instantiate(s, li, call->span, prefix, vals, slot);
        if (y.kind == VAL_ERROR)
            return ERR;
        if (y.kind != VAL_TENSOR || y.t.elem != x.t.elem || y.t.batched != x.t.batched
            || !shape_equal(&y.t.shape, &x.t.shape)) {
            sema_error(s, arg_at[1], "repeat needs a layer that keeps the shape of its input, but '%s' turns %s into %s",
                       l->layer.name, sema_type_str(s, &x.t),
                       y.kind == VAL_TENSOR ? sema_type_str(s, &y.t) : sema_value_kind(&y));
            return ERR;
        }
        x = y;
        if (s->too_large)
            return ERR;
    }
    if (!sema_shared_use(s, arena_printf(s->arena, "%s%s.", env->prefix, pname), first_param, since, hits, call->span))
        return ERR;
    return x;
}

/* ---- arithmetic -------------------------------------------------------------- */

static const char *const verb[] = {[BIN_ADD] = "add", [BIN_SUB] = "subtract",
                                   [BIN_MUL] = "multiply", [BIN_DIV] = "divide"};

static Value fold(Sema *s, const AstNode *e, Value l, Value r)
{
    BinOp op = e->binary.op;
    if (l.kind == VAL_INT && r.kind == VAL_INT) {
        int64_t v = 0;
        bool ovf = false;
        switch (op) {
        case BIN_ADD: ovf = __builtin_add_overflow(l.i, r.i, &v); break;
        case BIN_SUB: ovf = __builtin_sub_overflow(l.i, r.i, &v); break;
        case BIN_MUL: ovf = __builtin_mul_overflow(l.i, r.i, &v); break;
        case BIN_DIV:
            if (r.i == 0) {
                sema_error(s, e->span, "division by zero");
                return ERR;
            }
            if (l.i == INT64_MIN && r.i == -1) {
                ovf = true;
                break;
            }
            if (l.i % r.i != 0) {
                sema_error(s, e->span, "%lld / %lld is not a whole number; write %lld.0 / %lld for a fraction",
                           (long long)l.i, (long long)r.i, (long long)l.i, (long long)r.i);
                return ERR;
            }
            v = l.i / r.i;
            break;
        }
        if (ovf) {
            sema_error(s, e->span, "integer overflow in %lld %s %lld", (long long)l.i,
                       ast_binop_symbol(op), (long long)r.i);
            return ERR;
        }
        return (Value){.kind = VAL_INT, .node = -1, .i = v};
    }
    double a = l.kind == VAL_INT ? (double)l.i : l.f, b = r.kind == VAL_INT ? (double)r.i : r.f, v = 0;
    switch (op) {
    case BIN_ADD: v = a + b; break;
    case BIN_SUB: v = a - b; break;
    case BIN_MUL: v = a * b; break;
    case BIN_DIV:
        if (b == 0) {
            sema_error(s, e->span, "division by zero");
            return ERR;
        }
        v = a / b;
        break;
    }
    if (!isfinite(v)) {
        sema_error(s, e->span, "the result of this constant expression is too large");
        return ERR;
    }
    return (Value){.kind = VAL_FLOAT, .node = -1, .f = v};
}

static bool is_number(const Value *v) { return v->kind == VAL_INT || v->kind == VAL_FLOAT; }

/* Does n apply a function to each element of its one tensor operand? */
static bool is_elementwise(const SemaNode *n)
{
    if (n->kind == SN_NEG || n->kind == SN_BINARY)
        return true;
    if (n->kind != SN_CALL)
        return false;
    switch (n->builtin - builtin_table) {
    case B_EXP: case B_LOG: case B_SQRT: case B_ABS: case B_POW: case B_MAXIMUM: case B_MINIMUM:
    case B_CLAMP: case B_RELU: case B_LEAKY_RELU: case B_SIGMOID: case B_TANH: case B_GELU:
        return true;
    default:
        return false;
    }
}

/* h / sqrt(sum(h * h)) for h [T,D], or x - logsumexp(x): the reduction
 * removed the axis that broadcasting needed.  When v is such a reduction,
 * or comes from one through operations of one tensor that keep its shape,
 * and keeping its axes would make the shapes broadcast, says so at the
 * reduction. */
static void note_keep(Sema *s, const Value *v, const Value *other)
{
    if (v->node < 0)
        return;
    const SemaNode *n = &s->m->nodes[v->node];
    while (n->in[0] >= 0 && n->in[1] < 0 && is_elementwise(n))
        n = &s->m->nodes[n->in[0]];
    int id = n->kind == SN_CALL ? (int)(n->builtin - builtin_table) : -1;
    if ((id != B_SUM && id != B_MEAN && id != B_MAX && id != B_LOGSUMEXP) || n->args[2].b || n->in[0] < 0)
        return;
    Shape kept = s->m->nodes[n->in[0]].type.shape, out;
    const Value *ax = &n->args[1];
    for (int k = 0; k < (ax->kind == VAL_INT ? 1 : ax->list.n); k++) {
        int64_t a = ax->kind == VAL_INT ? ax->i : ax->list.v[k];
        kept.dim[a < 0 ? a + kept.rank : a] = 1;
    }
    int bad;
    if (shape_broadcast(&kept, &other->t.shape, &out, &bad) == 0
        && out.rank <= shape_max_rank(v->t.batched || other->t.batched))
        diag_note(s->diag, n->at, "%s(..., keep: true) keeps the reduced ax%s as 1, %s, which broadcasts",
                  n->builtin->name, ax->kind == VAL_INT || ax->list.n == 1 ? "is" : "es",
                  sema_type_str(s, &(TensorType){.elem = ELEM_F32, .batched = v->t.batched, .shape = kept}));
}

/* A tensor literal divided by is held in f32 as a number divisor is: each
 * element must be normal there (x / [1e-39], x / [0.0, 0.0] made inf), and
 * the message names the first that is not by its index. */
static bool constant_divisor_normal(Sema *s, Span at, const SemaNode *d)
{
    if (d->kind != SN_CONST)
        return true;
    const Shape *sh = &d->type.shape;
    int64_t count = shape_elems(sh);
    for (int64_t i = 0; i < count; i++) {
        if (nnc_f32_is_normal(d->data[i]))
            continue;
        StrBuf what = {0};
        sb_puts(&what, "element [");
        for (int k = 0; k < sh->rank; k++) {  /* i's index, row-major */
            int64_t stride = 1;
            for (int j = k + 1; j < sh->rank; j++)
                stride *= sh->dim[j];
            sb_printf(&what, "%s%lld", k ? ", " : "", (long long)(i / stride % sh->dim[k]));
        }
        sb_puts(&what, "] of the divisor:");
        bool ok = sema_f32_normal(s, at, sb_cstr(&what), d->data[i]);
        sb_free(&what);
        return ok;
    }
    return true;
}

/* Labels t, written as the name `name`, where real numbers go: one_hot(name)
 * turns them into real numbers (unless it would have too many axes).  at:
 * the name, or SPAN_NONE where the error's excerpt already shows it.  use:
 * what takes them, or NULL. */
static void one_hot_note(Sema *s, Span at, const char *name, const TensorType *t, const char *use)
{
    TensorType oh;
    if (!builtin_one_hot_type(t, &oh))
        return;
    diag_note(s->diag, at, "one_hot(%s) is these labels as real numbers, %s: 1 at each label, 0 elsewhere%s%s", name,
              sema_type_str(s, &oh), use ? "; " : "", use ? use : "");
}

void cc_note_one_hot(CallCheck *cc, int arg, const char *use)
{
    if (cc->arg_name[arg] && cc->arg[arg].kind == VAL_TENSOR && cc->arg[arg].t.elem == ELEM_INDEX)
        /* the error's excerpt shows the name, unless "in layer ... used
         * here" notes came between: then the note shows it again */
        one_hot_note(cc->sema, cc->sema->depth > 0 ? cc->arg_at[arg] : SPAN_NONE, cc->arg_name[arg], &cc->arg[arg].t,
                     use);
}

/* Labels in arithmetic with a real tensor (scores * digit, where the
 * target's score was meant): one_hot turns them into real numbers.  Not
 * beside a number (text + 1), where no one-hot is meant. */
static void note_one_hot(Sema *s, const AstNode *labels, const TensorType *t, const TensorType *other)
{
    if (other && other->elem == ELEM_F32 && labels->kind == AST_NAME)
        one_hot_note(s, labels->span, labels->name.id, t, NULL);
}

static Value eval_binary(Sema *s, Env *env, const AstNode *e, EvalCtx ctx)
{
    Value l = sema_eval(s, env, e->binary.lhs, ctx);
    Value r = sema_eval(s, env, e->binary.rhs, ctx);
    if (l.kind == VAL_ERROR || r.kind == VAL_ERROR)
        return ERR;
    /* x * [1, 2]: a list of integers in a tensor's place is a constant tensor */
    if (l.kind == VAL_LIST && ctx != EV_CONST && (r.kind == VAL_TENSOR || is_number(&r)))
        l = sema_list_tensor(s, env, &l, e->binary.lhs->span);
    if (r.kind == VAL_LIST && ctx != EV_CONST && (l.kind == VAL_TENSOR || is_number(&l)))
        r = sema_list_tensor(s, env, &r, e->binary.rhs->span);
    if (l.kind == VAL_ERROR || r.kind == VAL_ERROR)
        return ERR;
    BinOp op = e->binary.op;
    if (is_number(&l) && is_number(&r))
        return fold(s, e, l, r);
    bool lt = l.kind == VAL_TENSOR, rt = r.kind == VAL_TENSOR;
    if ((!lt && !is_number(&l)) || (!rt && !is_number(&r))) {
        sema_error(s, e->span, "cannot %s %s and %s", verb[op],
                   lt ? sema_type_str(s, &l.t) : sema_value_kind(&l),
                   rt ? sema_type_str(s, &r.t) : sema_value_kind(&r));
        return ERR;
    }
    if ((lt && l.t.elem != ELEM_F32) || (rt && r.t.elem != ELEM_F32)) {
        bool left = lt && l.t.elem != ELEM_F32;
        const TensorType *bad = left ? &l.t : &r.t, *other = left ? (rt ? &r.t : NULL) : (lt ? &l.t : NULL);
        sema_error(s, e->span, "cannot %s integer labels %s; arithmetic needs real numbers", verb[op],
                   sema_type_str(s, bad));
        note_one_hot(s, left ? e->binary.lhs : e->binary.rhs, bad, other);
        return ERR;
    }
    SemaNode n = {.kind = SN_BINARY, .op = op, .at = e->span,
                  .name = arena_printf(s->arena, "%s%s", env->prefix, env->row ? env->row : "?")};
    for (int i = 0; i < BUILTIN_MAX_PARAMS; i++)
        n.in[i] = -1;
    if (lt && rt) {
        Shape out;
        int bad;
        bool batched = l.t.batched || r.t.batched, meet = shape_broadcast(&l.t.shape, &r.t.shape, &out, &bad) == 0;
        /* [B,3] + a parameter [1,1,1,1,1,1,1,3]: shapes that meet, in more
         * axes than a batched value may have (types.h) */
        if (!meet || out.rank > shape_max_rank(batched)) {
            StrBuf a = {0}, b = {0};
            shape_print(&a, &l.t.shape, l.t.batched);
            shape_print(&b, &r.t.shape, r.t.batched);
            if (meet)
                sema_error(s, e->span, "cannot %s shapes %s and %s: the result would have too many dimensions "
                           "(at most %d, the batch included)", verb[op], sb_cstr(&a), sb_cstr(&b), NNC_MAX_RANK);
            else
                sema_error(s, e->span, "cannot %s shapes %s and %s", verb[op], sb_cstr(&a), sb_cstr(&b));
            sb_free(&a);
            sb_free(&b);
            if (!meet) {
                note_keep(s, &l, &r);
                note_keep(s, &r, &l);
            }
            return ERR;
        }
        if (op == BIN_DIV && !constant_divisor_normal(s, e->binary.rhs->span, &s->m->nodes[r.node]))
            return ERR;
        n.type = (TensorType){.elem = ELEM_F32, .batched = batched, .shape = out};
        n.in[0] = l.node;
        n.in[1] = r.node;
    } else {
        const Value *t = lt ? &l : &r, *num = lt ? &r : &l;
        n.scalar = num->kind == VAL_INT ? (double)num->i : num->f;
        /* a divisor is held in f32 too: one that is 0 or subnormal there
         * (1e-39, 1e-320) makes inf of every value, as an exact 0 does */
        if (op == BIN_DIV && !rt) {
            if (n.scalar == 0) {
                sema_error(s, e->span, "division by zero");
                return ERR;
            }
            if (!sema_f32_normal(s, e->binary.rhs->span, "the divisor", n.scalar))
                return ERR;
        }
        /* a number over a tensor: the tensor divides, element by element */
        if (op == BIN_DIV && rt && !constant_divisor_normal(s, e->binary.rhs->span, &s->m->nodes[r.node]))
            return ERR;
        if (!sema_f32_fits(s, lt ? e->binary.rhs->span : e->binary.lhs->span, NULL, n.scalar))
            return ERR;
        n.type = t->t;
        n.in[0] = t->node;
        n.scalar_side = lt ? 2 : 1;
    }
    n.flops = (uint64_t)shape_elems(&n.type.shape);
    int id = sema_add_node(s, &n);
    if (id < 0)
        return ERR;
    return (Value){.kind = VAL_TENSOR, .node = id, .t = n.type};
}

static Value eval_neg(Sema *s, Env *env, const AstNode *e, EvalCtx ctx)
{
    Value v = sema_eval(s, env, e->unary.operand, ctx);
    switch (v.kind) {
    case VAL_ERROR: return ERR;
    case VAL_INT:
        if (v.i == INT64_MIN) {
            sema_error(s, e->span, "integer overflow in negation");
            return ERR;
        }
        v.i = -v.i;
        return v;
    case VAL_FLOAT: v.f = -v.f; return v;
    case VAL_TENSOR:
        if (v.t.elem == ELEM_F32) {
            SemaNode n = {.kind = SN_NEG, .at = e->span, .type = v.t,
                          .name = arena_printf(s->arena, "%s%s", env->prefix, env->row ? env->row : "?"),
                          .flops = (uint64_t)shape_elems(&v.t.shape)};
            for (int i = 0; i < BUILTIN_MAX_PARAMS; i++)
                n.in[i] = -1;
            n.in[0] = v.node;
            int id = sema_add_node(s, &n);
            return id < 0 ? ERR : (Value){.kind = VAL_TENSOR, .node = id, .t = v.t};
        }
        break;
    default: break;
    }
    if (v.kind == VAL_TENSOR)
        sema_error(s, e->span, "cannot negate integer labels %s; arithmetic needs real numbers", sema_type_str(s, &v.t));
    else
        sema_error(s, e->span, "cannot negate %s", sema_value_kind(&v));
    return ERR;
}

/* ---- subscripts: x[i, a:b] ------------------------------------------------------ */

/* An integer subscript bound, or false after saying why not. */
static bool eval_subscript(Sema *s, Env *env, const AstNode *e, int64_t *out)
{
    Value v = sema_eval(s, env, e, EV_EXPR);
    if (v.kind == VAL_ERROR)
        return false;
    if (v.kind != VAL_INT) {
        sema_error(s, e->span, "a subscript must be an integer, found %s",
                   v.kind == VAL_TENSOR ? sema_type_str(s, &v.t) : sema_value_kind(&v));
        return false;
    }
    *out = v.i;
    return true;
}

/* Each subscript names the next per-example axis (the batch is never
 * subscripted).  An index i in [-n, n) keeps element i and removes the
 * axis; a range a:b, ends in [-n, n] and either left out, keeps a .. b-1. */
static Value eval_index(Sema *s, Env *env, const AstNode *e, EvalCtx ctx)
{
    Value x = sema_eval(s, env, e->index.base, ctx);
    if (x.kind == VAL_ERROR)
        return ERR;
    if (x.kind != VAL_TENSOR || x.t.elem != ELEM_F32) {
        sema_error(s, e->span, "only a tensor of real numbers can be subscripted, found %s",
                   x.kind == VAL_TENSOR ? sema_type_str(s, &x.t) : sema_value_kind(&x));
        return ERR;
    }
    const Shape *in = &x.t.shape;
    if (e->index.n > in->rank) {
        const AstNode *extra = e->index.items;
        for (int i = 0; i < in->rank; i++)
            extra = extra->next;
        sema_error(s, extra->span, "%d subscript%s for %s, which has %d ax%s per example", e->index.n,
                   e->index.n == 1 ? "" : "s", sema_type_str(s, &x.t), in->rank, in->rank == 1 ? "is" : "es");
        return ERR;
    }
    SemaSlice *sl = ARENA_NEW(s->arena, SemaSlice);
    sl->naxes = e->index.n;
    Shape out = {0};
    bool ok = true;
    int k = 0;
    for (const AstNode *it = e->index.items; it; it = it->next, k++) {
        int64_t n = in->dim[k];
        if (it->kind != AST_RANGE) {
            int64_t i;
            if (!eval_subscript(s, env, it, &i)) {
                ok = false;
                continue;
            }
            if (i < -n || i >= n) {
                sema_error(s, it->span, "index %lld is out of range for axis %d of %s, of size %lld", (long long)i,
                           k, sema_type_str(s, &x.t), (long long)n);
                ok = false;
                continue;
            }
            sl->axis[k].start = i < 0 ? i + n : i;
            sl->axis[k].len = 1;
            sl->axis[k].drop = true;
            continue;
        }
        int64_t lo = 0, hi = n;
        const AstNode *end[2] = {it->range.lo, it->range.hi};
        int64_t *val[2] = {&lo, &hi};
        bool ends_ok = true;
        for (int j = 0; j < 2; j++) {
            if (!end[j])
                continue;
            if (!eval_subscript(s, env, end[j], val[j])) {
                ends_ok = false;
                continue;
            }
            if (*val[j] < -n || *val[j] > n) {
                sema_error(s, end[j]->span, "range end %lld is out of range for axis %d of %s, of size %lld",
                           (long long)*val[j], k, sema_type_str(s, &x.t), (long long)n);
                ends_ok = false;
                continue;
            }
            if (*val[j] < 0)
                *val[j] += n;
        }
        if (ends_ok && hi <= lo) {
            sema_error(s, it->span, "the range %lld:%lld of axis %d of %s is empty", (long long)lo, (long long)hi, k,
                       sema_type_str(s, &x.t));
            ends_ok = false;
        }
        ok &= ends_ok;
        sl->axis[k].start = lo;
        sl->axis[k].len = hi - lo;
        out.dim[out.rank++] = hi - lo;
    }
    if (!ok)
        return ERR;
    for (; k < in->rank; k++)
        out.dim[out.rank++] = in->dim[k];
    SemaNode n = {.kind = SN_INDEX, .at = e->span, .slice = sl,
                  .type = {.elem = ELEM_F32, .batched = x.t.batched, .shape = out},
                  .name = arena_printf(s->arena, "%s%s", env->prefix, env->row ? env->row : "?")};
    for (int i = 0; i < BUILTIN_MAX_PARAMS; i++)
        n.in[i] = -1;
    n.in[0] = x.node;
    int id = sema_add_node(s, &n);
    return id < 0 ? ERR : (Value){.kind = VAL_TENSOR, .node = id, .t = n.type};
}

/* ---- names and the dispatcher -------------------------------------------------- */

static Value eval_name(Sema *s, Env *env, const AstNode *e, EvalCtx ctx)
{
    const char *id = e->name.id;
    if (strchr(id, '.'))
        return sema_param_ref(s, env, e, ctx);
    Binding *b = env_find(env, id);
    if (!b && env != &s->globals)
        b = env_find(&s->globals, id);
    if (b && b->kind == AST_TARGET && b->v.kind != VAL_ERROR && s->label_reader != e && !s->in_label_stmt) {
        /* The model must not see what it is asked to predict. */
        sema_error(s, e->span, "target '%s' is what the model must predict; only a loss or a metric may read it", id);
        diag_note(s->diag, b->at, "'%s' is declared as a target here", id);
        return ERR;
    }
    if (b)
        return b->v;
    if (sema_layer_index(s, id) >= 0) {
        sema_error(s, e->span, "'%s' is a layer; call it as %s(...)", id, id);
        return ERR;
    }
    const Builtin *bi = builtin_lookup(id);
    if (bi) {
        sema_error(s, e->span, "'%s' is a built-in %s; call it as %s(...)", id, builtin_class_name(bi->cls), id);
        return ERR;
    }
    if (ctx == EV_CONST) {  /* bodies were checked by sema_names(); constants and train blocks were not */
        for (const AstNode *d = s->prog->decls; d; d = d->next)
            if (d->kind == AST_CONST && strcmp(d->def.name, id) == 0) {
                sema_error(s, e->span, "'%s' is used before it is defined", id);
                diag_note(s->diag, d->def.name_span, "'%s' is defined here", id);
                return ERR;
            }
        sema_error(s, e->span, "unknown name '%s'", id);
        const char *best = sema_suggest(s, NULL, id, false);
        const AstNode *model = sema_model_defining(s, id);
        if (model)
            diag_note(s->diag, SPAN_NONE, "only constants are visible here; '%s' is a name in model '%s'", id,
                      model->layer.name);
        else if (best)
            sema_note_suggestion(s, best);
    }
    return ERR;
}

/* A constant tensor where constants and settings are computed: none can hold one. */
static Value literal_in(Sema *s, Env *env, const AstNode *e, EvalCtx ctx)
{
    if (ctx != EV_CONST)
        return sema_literal(s, env, e);
    sema_error(s, e->span, "a tensor literal belongs in a model or a layer body");
    return ERR;
}

/* [8, -1] is a list of integers (reshape's shape), until it meets a tensor;
 * a list with a real number or a nested list is a tensor literal. */
static Value eval_list(Sema *s, Env *env, const AstNode *e, EvalCtx ctx)
{
    for (const AstNode *it = e->list.items; it; it = it->next)
        if (it->kind == AST_LIST)
            return literal_in(s, env, e, ctx);
    int64_t *v = ARENA_ARRAY(s->arena, int64_t, e->list.n + 1);
    int i = 0;
    bool ok = true, reals = false;
    for (const AstNode *it = e->list.items; it; it = it->next, i++) {
        Value x = sema_eval(s, env, it, ctx);
        if (x.kind == VAL_ERROR) {
            ok = false;
        } else if (x.kind == VAL_FLOAT) {
            reals = true;
        } else if (x.kind != VAL_INT) {
            sema_error(s, it->span, "a list holds numbers, found %s",
                       x.kind == VAL_TENSOR ? sema_type_str(s, &x.t) : sema_value_kind(&x));
            ok = false;
        } else {
            v[i] = x.i;
        }
    }
    if (!ok)
        return ERR;
    if (reals)
        return literal_in(s, env, e, ctx);
    return (Value){.kind = VAL_LIST, .node = -1, .list = {e->list.n, v}};
}

static Value eval_node(Sema *s, Env *env, const AstNode *e, EvalCtx ctx)
{
    Value v = ERR;
    switch (e->kind) {
    case AST_INT: v = (Value){.kind = VAL_INT, .node = -1, .i = e->i}; break;
    case AST_FLOAT: v = (Value){.kind = VAL_FLOAT, .node = -1, .f = e->f}; break;
    case AST_BOOL: v = (Value){.kind = VAL_BOOL, .node = -1, .b = e->b}; break;
    case AST_STRING: v = (Value){.kind = VAL_STRING, .node = -1, .s = e->str.text}; break;
    case AST_NAME: v = eval_name(s, env, e, ctx); break;
    case AST_LIST: v = eval_list(s, env, e, ctx); break;
    case AST_NEG: v = eval_neg(s, env, e, ctx); break;
    case AST_BINARY: v = eval_binary(s, env, e, ctx); break;
    case AST_INDEX: v = eval_index(s, env, e, ctx); break;
    case AST_CALL: {
        int li = sema_layer_index(s, e->call.callee);
        const Builtin *b = builtin_lookup(e->call.callee);
        if (li >= 0 && ctx != EV_CONST && ctx != EV_EXPR && ctx != EV_LOSS && ctx != EV_METRIC) {
            sema_error(s, e->call.callee_span, "'%s' is a layer, but a %s is needed here", e->call.callee,
                       ctx == EV_LOSS ? "loss" : ctx == EV_METRIC ? "metric" : ctx == EV_DATA ? "data source"
                       : ctx == EV_OPTIMIZER ? "optimizer" : ctx == EV_TOKENIZER ? "tokenizer" : "schedule");
        } else if (li >= 0 && ctx == EV_CONST) {
            sema_error(s, e->span, "a constant is computed from numbers; it cannot call %s", e->call.callee);
        } else if (li >= 0) {
            v = eval_layer_call(s, env, e, li);
        } else if (b) {
            v = eval_builtin(s, env, e, b, ctx);
        } else if (ctx != EV_EXPR && ctx != EV_LOSS && ctx != EV_METRIC) {  /* bodies had this reported by sema_names() */
            sema_error(s, e->call.callee_span, "unknown %s '%s'",
                       ctx == EV_DATA ? "data source" : ctx == EV_OPTIMIZER ? "optimizer"
                       : ctx == EV_SCHEDULE ? "schedule" : ctx == EV_TOKENIZER ? "tokenizer" : "layer", e->call.callee);
            const char *best = sema_suggest(s, NULL, e->call.callee, true);
            if (best) {
                sema_note_suggestion(s, best);
            } else if (ctx != EV_CONST) {
                BuiltinClass cls = ctx == EV_DATA ? BC_DATA : ctx == EV_OPTIMIZER ? BC_OPTIMIZER
                                 : ctx == EV_TOKENIZER ? BC_TOKENIZER : BC_SCHEDULE;
                StrBuf sb = {0};
                int count = 0, total = 0;
                for (int i = 0; i < B_COUNT; i++)
                    total += builtin_table[i].cls == cls;
                for (int i = 0; i < B_COUNT; i++)
                    if (builtin_table[i].cls == cls)
                        sb_printf(&sb, "%s%s", count++ == 0 ? "" : count == total ? " and " : ", ",
                                  builtin_table[i].name);
                diag_note(s->diag, SPAN_NONE, "the %ss are %s", builtin_class_name(cls), sb_cstr(&sb));
                sb_free(&sb);
            }
        }
        break;
    }
    default:
        break;  /* not an expression: the grammar never puts one here */
    }
    annotate(e, &v);
    return v;
}

/* Each level of an expression is one call here, and a layer's body is
 * evaluated inside the call that uses it.  The parser bounds one
 * expression's levels; this bounds them through layers used in layers,
 * AST_MAX_DEPTH in all, so the recursion fits the stack (ast.h). */
Value sema_eval(Sema *s, Env *env, const AstNode *e, EvalCtx ctx)
{
    if (s->levels > AST_MAX_DEPTH) {
        if (!s->too_deep)
            sema_error(s, sema_use_site(s, e->span), "expression nested too deeply through the layers it uses: more "
                       "than %d levels of " AST_LEVELS_OF " in all", AST_MAX_DEPTH);
        s->too_deep = true;
        return ERR;
    }
    s->levels++;
    Value v = eval_node(s, env, e, ctx);
    s->levels--;
    return v;
}

/* ---- types of inputs and targets ------------------------------------------------- */

static bool eval_dim(Sema *s, const AstNode *e, int64_t *out)
{
    Value v = sema_eval(s, &s->globals, e, EV_CONST);
    if (v.kind == VAL_ERROR)
        return false;
    if (v.kind != VAL_INT) {
        sema_error(s, e->span, "a dimension must be an integer, found %s", sema_value_kind(&v));
        return false;
    }
    if (v.i < 1) {
        sema_error(s, e->span, "a dimension must be positive, found %lld", (long long)v.i);
        return false;
    }
    *out = v.i;
    return true;
}

/* N of class(N) or token(N)[...]: at least 2.  With one class every label
 * is 0, so cross_entropy is 0 and accuracy 1 whatever the model predicts:
 * it trains nothing and reports success. */
static bool eval_label_count(Sema *s, const AstNode *e, bool cls, int64_t *out)
{
    Value v = sema_eval(s, &s->globals, e, EV_CONST);
    if (v.kind == VAL_ERROR)
        return false;
    const char *what = cls ? "classes" : "distinct tokens";
    if (v.kind != VAL_INT) {
        sema_error(s, e->span, "the number of %s must be an integer, found %s", what, sema_value_kind(&v));
        return false;
    }
    if (v.i < 2) {
        sema_error(s, e->span, "%s(N) needs at least 2 %s, found %lld", cls ? "class" : "token", what, (long long)v.i);
        if (v.i == 1 && cls)
            diag_note(s->diag, SPAN_NONE, "with one class every label is 0: cross_entropy is 0 and accuracy 1 whatever "
                      "the model predicts; a yes/no target is class(2), or f32[1] with binary_cross_entropy_logits");
        else if (v.i == 1)
            diag_note(s->diag, SPAN_NONE, "with one token every label is 0: as an input it tells the model nothing, as "
                      "a target cross_entropy is 0 and accuracy 1 whatever the model predicts");
        return false;
    }
    *out = v.i;
    return true;
}

bool sema_parse_type(Sema *s, const AstNode *ty, const char *what, TensorType *out)
{
    const char *name = ty->type.name;
    bool f32 = strcmp(name, "f32") == 0, cls = strcmp(name, "class") == 0, tok = strcmp(name, "token") == 0;
    if (!f32 && !cls && !tok) {
        sema_error(s, ty->type.name_span, "unknown type '%s'; use f32[...], class(N) or token(N)[...]", name);
        return false;
    }
    *out = (TensorType){.elem = f32 ? ELEM_F32 : ELEM_INDEX};
    bool ok = true;
    if (f32 && ty->type.arg) {
        sema_error(s, ty->type.arg->span, "f32 takes no count; write f32[...] for its shape");
        ok = false;
    }
    if (!f32) {
        if (!ty->type.arg) {
            sema_error(s, ty->type.name_span, "%s needs the number of %s: %s(N)", name,
                       cls ? "classes" : "distinct tokens", name);
            return false;
        }
        ok &= eval_label_count(s, ty->type.arg, cls, &out->classes);
        if (cls && ty->type.has_dims) {
            sema_error(s, ty->span, "class(N) is one label per example; use token(N)[...] for a sequence of labels");
            return false;
        }
        if (tok && !ty->type.dims) {
            sema_error(s, ty->type.name_span, "token(N) needs a shape, such as token(N)[64]");
            return false;
        }
    }
    /* the declared value is batched: the IR's 8 axes hold its batch too */
    int ndims = 0, most = shape_max_rank(true);
    for (const AstNode *d = ty->type.dims; d; d = d->next)
        ndims++;
    if (ndims > most) {
        sema_error(s, ty->span, "%s has %d dimensions per example; at most %d (the batch is the %dth)", what, ndims,
                   most, NNC_MAX_RANK);
        return false;
    }
    double elems = 1;
    for (const AstNode *d = ty->type.dims; d; d = d->next) {
        int64_t v = 1;
        ok &= eval_dim(s, d, &v);
        out->shape.dim[out->shape.rank++] = v;
        elems *= (double)v;
    }
    if (ok && elems > (double)NNC_MAX_ELEMS) {
        sema_error(s, ty->span, "this tensor has more than 2^40 elements per example");
        return false;
    }
    return ok;
}
