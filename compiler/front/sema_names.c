/* sema_names.c — names, before any shape is known.
 *
 * Walks every layer body and the model body once, in order, and reports:
 * unknown names and layers (with a "did you mean"), names used before their
 * definition, duplicate layer parameters, a layer without a final 'return',
 * and layers that call themselves.  It also fixes the name under which each
 * call keeps its parameters (call.pname), by the rule of docs/language.md:
 *
 *   1. name: "..." given at the call;
 *   2. else the binding's name, when the statement binds a name assigned
 *      only once in the scope and holds exactly one parameterised call
 *      (repeat excepted);
 *   3. else the callee's default name (dense, conv, ln, attn, embed, pos;
 *      a user layer's own name; repeat: the layer's name plus "s"),
 *      numbered _1, _2, ... in evaluation order when it occurs more than
 *      once in the scope.
 *
 * Because this is decided per definition, not per use, the names are stable:
 * they depend only on the text of the scope.
 */
#include "sema_internal.h"

#include <ctype.h>
#include <string.h>

typedef struct ParamCall { const AstNode *call, *stmt; } ParamCall;

typedef struct NameScope {
    Env          defs;     /* defined so far, newest binding of each name: .at where, .kind AST_PARAM_STMT for a
                            * 'param' statement (no values yet: .v unused); hashed past ENV_LINEAR names as
                            * sema's scopes are, so a body of n bindings checks in O(n) */
    const AstNode *body;   /* statements, for "defined later" */
    int          layer;    /* index of the layer being walked, -1 in the model */
    ParamCall   *calls;    /* calls that create parameters, in evaluation order */
    int          ncalls, capcalls;
} NameScope;

typedef struct Edge { int from, to; Span at; } Edge;

typedef struct NamesState {
    Sema *s;
    Edge *edges;
    int   nedges, capedges;
} NamesState;

static const Binding *scope_find(NameScope *sc, const char *name)
{
    return env_find(&sc->defs, name);
}

static void scope_define(Sema *s, NameScope *sc, const char *name, Span at, AstKind kind)
{
    env_bind(s, &sc->defs, name, ERR_VALUE, at, kind);
}

/* A later statement of the body that binds name, if any. */
static const AstNode *defined_later(const AstNode *after, const char *name)
{
    for (const AstNode *st = after ? after->next : NULL; st; st = st->next)
        if ((st->kind == AST_BIND && strcmp(st->def.name, name) == 0)
            || ((st->kind == AST_INPUT || st->kind == AST_TARGET) && strcmp(st->decl.name, name) == 0)
            || (st->kind == AST_PARAM_STMT && strcmp(st->pdecl.name, name) == 0))
            return st;
    return NULL;
}

static void name_unknown(Sema *s, NameScope *sc, const AstNode *e, const AstNode *stmt)
{
    const char *id = e->name.id;
    const AstNode *later = defined_later(stmt, id);
    if (later) {
        sema_error(s, e->span, "'%s' is used before it is defined", id);
        diag_note(s->diag, later->kind == AST_BIND ? later->def.name_span
                           : later->kind == AST_PARAM_STMT ? later->pdecl.name_span : later->decl.name_span,
                  "'%s' is defined here", id);
        return;
    }
    sema_error(s, e->span, "unknown name '%s'", id);
    const AstNode *model = sc->layer >= 0 ? sema_model_defining(s, id) : NULL;
    if (model) {
        diag_note(s->diag, SPAN_NONE, "a layer sees only its parameters and constants; '%s' is a name in model '%s'",
                  id, model->layer.name);
        return;
    }
    const char **names = ARENA_ARRAY(s->arena, const char *, sc->defs.n + 1);
    for (int i = 0; i < sc->defs.n; i++)
        names[i] = sc->defs.b[i].name;
    const char *best = suggest_among(id, names, sc->defs.n);
    if (best) {  /* a name of this body: shown where it is defined */
        diag_note(s->diag, scope_find(sc, best)->at, "did you mean '%s', defined here?", best);
        return;
    }
    best = sema_suggest(s, NULL, id, false);
    if (best)
        sema_note_suggestion(s, best);
}

static void walk(NamesState *ns, NameScope *sc, const AstNode *e, const AstNode *stmt);

/* "return act(x)" in layer block(x, act): a call of a name that holds a
 * value.  Says what the name is, where "unknown layer" would deny that it
 * exists; false when the name is not defined here. */
static bool call_of_value(Sema *s, NameScope *sc, const AstNode *e)
{
    const char *id = e->call.callee;
    const Binding *b = scope_find(sc, id);
    if (!b)
        b = env_find(&s->globals, id);
    if (!b)
        return false;
    if (b->kind == AST_PARAM) {
        const char *layer = s->layers[sc->layer]->layer.name;
        sema_error(s, e->call.callee_span, "'%s' is a parameter of layer '%s', not a layer, and cannot be called",
                   id, layer);
        diag_note(s->diag, b->at, "a layer's parameters hold values, not layers: call the layer you mean by its "
                  "own name");
        return true;
    }
    sema_error(s, e->call.callee_span, "'%s' is %s, not a layer, and cannot be called", id,
               b->kind == AST_CONST ? "a constant" : b->kind == AST_INPUT ? "an input"
               : b->kind == AST_TARGET ? "a target" : b->kind == AST_PARAM_STMT ? "a parameter tensor" : "a value");
    diag_note(s->diag, b->at, "'%s' is defined here", id);
    return true;
}

static void walk_call(NamesState *ns, NameScope *sc, const AstNode *e, const AstNode *stmt)
{
    Sema *s = ns->s;
    const char *pnames[SIG_MAX] = {0};
    int np = 0, layer = -1;
    bool named = false;
    const Builtin *b = NULL;
    if (!sema_signature(s, e, pnames, &np, &named, &b, &layer)) {
        if (call_of_value(s, sc, e)) {
            for (const AstNode *a = e->call.args; a; a = a->next)
                walk(ns, sc, a->arg.value, stmt);
            return;
        }
        sema_error(s, e->call.callee_span, "unknown layer '%s'", e->call.callee);
        const char *best = sema_suggest(s, NULL, e->call.callee, true);
        if (sema_is_init_name(e->call.callee))
            diag_note(s->diag, SPAN_NONE, "%s() is the whole initial value of a parameter: param NAME: f32[...] = %s(%s)",
                      e->call.callee, e->call.callee,
                      strcmp(e->call.callee, "normal") == 0 ? "std" : strcmp(e->call.callee, "uniform") == 0 ? "limit" : "");
        else if (best)
            sema_note_suggestion(s, best);
        for (const AstNode *a = e->call.args; a; a = a->next)
            walk(ns, sc, a->arg.value, stmt);
        return;
    }
    if (layer >= 0 && sc->layer >= 0) {
        ns->edges = sema_grow(s, ns->edges, ns->nedges, &ns->capedges, sizeof *ns->edges);
        ns->edges[ns->nedges++] = (Edge){sc->layer, layer, e->call.callee_span};
    }
    const AstNode *slot[SIG_MAX] = {0}, *name_arg = NULL;
    bool bound = sema_bind_args(s, e, e->call.callee, pnames, np, named, slot, &name_arg, true);
    for (const AstNode *a = e->call.args; a; a = a->next) {
        int which = -1;
        for (int i = 0; bound && i < np; i++)
            if (slot[i] == a)
                which = i;
        const AstNode *v = a->arg.value;
        if (b && which >= 0 && which < builtin_nparams(b) && v->kind == AST_NAME) {
            ParamKind k = b->params[which].kind;
            if (k == PK_ENUM)
                continue;  /* a bare word such as 'standard' names a choice, not a binding */
            if (k == PK_LAYER) {
                int l = sema_layer_index(s, v->name.id);
                if (l >= 0 && sc->layer >= 0) {
                    ns->edges = sema_grow(s, ns->edges, ns->nedges, &ns->capedges, sizeof *ns->edges);
                    ns->edges[ns->nedges++] = (Edge){sc->layer, l, v->span};
                }
                if (l >= 0)
                    continue;
            }
        }
        if (a == name_arg)
            continue;
        walk(ns, sc, v, stmt);
    }
    /* Post-order: a call's arguments are evaluated, and numbered, first. */
    if ((b && b->pname) || layer >= 0 || (b && b - builtin_table == B_REPEAT)) {
        sc->calls = sema_grow(s, sc->calls, sc->ncalls, &sc->capcalls, sizeof *sc->calls);
        sc->calls[sc->ncalls++] = (ParamCall){e, stmt};
    }
}

static void walk(NamesState *ns, NameScope *sc, const AstNode *e, const AstNode *stmt)
{
    Sema *s = ns->s;
    switch (e->kind) {
    case AST_NAME:
        /* a dotted name refers to a parameter: known once calls have run (sema_params.c) */
        if (!strchr(e->name.id, '.') && !scope_find(sc, e->name.id) && !env_find(&s->globals, e->name.id)
            && sema_layer_index(s, e->name.id) < 0 && !builtin_lookup(e->name.id))
            name_unknown(s, sc, e, stmt);
        break;
    case AST_LIST:
        for (const AstNode *i = e->list.items; i; i = i->next)
            walk(ns, sc, i, stmt);
        break;
    case AST_NEG: walk(ns, sc, e->unary.operand, stmt); break;
    case AST_BINARY:
        walk(ns, sc, e->binary.lhs, stmt);
        walk(ns, sc, e->binary.rhs, stmt);
        break;
    case AST_CALL: walk_call(ns, sc, e, stmt); break;
    case AST_INDEX:
        walk(ns, sc, e->index.base, stmt);
        for (const AstNode *i = e->index.items; i; i = i->next)
            walk(ns, sc, i, stmt);
        break;
    case AST_RANGE:
        if (e->range.lo)
            walk(ns, sc, e->range.lo, stmt);
        if (e->range.hi)
            walk(ns, sc, e->range.hi, stmt);
        break;
    default: break;  /* literals */
    }
}

static const char *default_name(Sema *s, const AstNode *call)
{
    /* A layer that took a built-in's name (reported) is still the layer here,
     * as sema_signature has it: a built-in without parameters has no pname. */
    if (sema_layer_index(s, call->call.callee) >= 0)
        return call->call.callee;
    const Builtin *b = builtin_lookup(call->call.callee);
    if (b && b - builtin_table == B_REPEAT) {
        /* repeat(n, block, x) keeps its copies under "blocks" */
        const AstNode *slot[SIG_MAX] = {0}, *name_arg = NULL;
        const char *pn[SIG_MAX];
        int np, layer;
        bool named;
        sema_signature(s, call, pn, &np, &named, &b, &layer);
        if (sema_bind_args(s, call, b->name, pn, np, true, slot, &name_arg, false) && slot[1]
            && slot[1]->arg.value->kind == AST_NAME)
            return arena_printf(s->arena, "%ss", slot[1]->arg.value->name.id);
        return "repeat";
    }
    return b ? b->pname : call->call.callee;
}

static bool valid_name(const char *n)
{
    if (!*n || !(isalpha((unsigned char)*n) || *n == '_'))
        return false;
    for (; *n; n++)
        if (!(isalnum((unsigned char)*n) || *n == '_'))
            return false;
    return true;
}

/* One more of name in counts (an Env of .v.i tallies, hashed past
 * ENV_LINEAR names like any scope); returns its tally now. */
static int64_t tally(Sema *s, Env *counts, const char *name)
{
    Binding *b = env_find(counts, name);
    if (b)
        return ++b->v.i;
    env_bind(s, counts, name, (Value){.kind = VAL_INT, .node = -1, .i = 1}, SPAN_NONE, AST_BIND);
    return 1;
}

static int64_t tally_of(Env *counts, const char *name)
{
    const Binding *b = env_find(counts, name);
    return b ? b->v.i : 0;
}

static bool has_name_arg(const AstNode *call)
{
    for (const AstNode *a = call->call.args; a; a = a->next)
        if (a->arg.name && strcmp(a->arg.name, "name") == 0)
            return true;
    return false;
}

/* A clash already reported: the call's parameters get a name no other can
 * have, so that checking them does not report it again as sharing. */
static void unshare(Sema *s, const AstNode *call, int i)
{
    ((AstNode *)call)->call.pname = arena_printf(s->arena, "%s?%d", call->call.pname, i);
}

/* Reports call i when call j, the first with its name, may not share it.
 * j is the only earlier call to compare with: each call between them that
 * kept the name shares it with j (another would have been unshared), so i
 * may share with them exactly when it may with j. */
static void check_clash(Sema *s, NameScope *sc, int i, int j, const Span *at, const bool *is_default)
{
    const AstNode *ci = sc->calls[i].call, *cj = sc->calls[j].call;
    /* Two uses of one layer, both given the name: they share its
     * parameters (sema_params.c checks that the shapes agree). */
    if (!is_default[i] && !is_default[j] && has_name_arg(ci) && has_name_arg(cj)) {
        if (strcmp(ci->call.callee, cj->call.callee) == 0) {
            s->sharing = true;
            return;
        }
        sema_error(s, at[i], "name '%s' is given to a use of %s and to one of %s; only uses of one layer can share parameters",
                   ci->call.pname, ci->call.callee, cj->call.callee);
        diag_note(s->diag, at[j], "'%s' is first used here", ci->call.pname);
        unshare(s, ci, i);
        return;
    }
    sema_error(s, at[i], "parameters named '%s' twice in this %s", ci->call.pname, sc->layer >= 0 ? "layer" : "model");
    diag_note(s->diag, at[j], "'%s' is first used here; give one of them name: \"...\"", ci->call.pname);
    unshare(s, ci, i);
}

/* Per call, the calls of its statement without name: "...".  A statement's
 * calls are consecutive in sc->calls: names_body walks one at a time. */
static int *unnamed_per_statement(Sema *s, const NameScope *sc)
{
    int n = sc->ncalls, *unnamed = ARENA_ARRAY(s->arena, int, n);
    for (int lo = 0, hi; lo < n; lo = hi) {
        int count = 0;
        for (hi = lo; hi < n && sc->calls[hi].stmt == sc->calls[lo].stmt; hi++)
            count += !has_name_arg(sc->calls[hi].call);
        for (int k = lo; k < hi; k++)
            unnamed[k] = count;
    }
    return unnamed;
}

/* Rule 1-3 of the header comment, then a check that no two calls share a
 * name; each step linear in the calls and statements (tallies in Envs). */
static void assign_names(Sema *s, NameScope *sc)
{
    int n = sc->ncalls;
    if (!n)
        return;
    const char **name = ARENA_ARRAY(s->arena, const char *, n);
    Span *at = ARENA_ARRAY(s->arena, Span, n);
    bool *is_default = ARENA_ARRAY(s->arena, bool, n);
    Env assigned = {0}, uses = {0}, numbered = {0}, first = {0};
    for (const AstNode *st = sc->body; st; st = st->next)
        if (st->kind == AST_BIND)
            tally(s, &assigned, st->def.name);
    int *unnamed = unnamed_per_statement(s, sc);
    for (int i = 0; i < n; i++) {
        const AstNode *call = sc->calls[i].call, *stmt = sc->calls[i].stmt;
        at[i] = call->call.callee_span;
        const char *pn[SIG_MAX] = {0};
        const AstNode *slot[SIG_MAX] = {0}, *name_arg = NULL;
        int np = 0, layer = -1;
        bool named = false;
        const Builtin *b = NULL;
        sema_signature(s, call, pn, &np, &named, &b, &layer);
        sema_bind_args(s, call, call->call.callee, pn, np, named, slot, &name_arg, false);
        if (name_arg) {
            const AstNode *v = name_arg->arg.value;
            at[i] = v->span;
            if (v->kind != AST_STRING || !valid_name(v->str.text)) {
                sema_error(s, v->span, "name: needs a string that is a plain name, such as \"encoder\"");
                name[i] = "?";
            } else {
                name[i] = v->str.text;
            }
            continue;
        }
        bool is_repeat = b && b - builtin_table == B_REPEAT;
        if (stmt && stmt->kind == AST_BIND && !is_repeat && tally_of(&assigned, stmt->def.name) == 1) {
            if (unnamed[i] == 1) {   /* the statement's only unnamed parameterised call */
                name[i] = stmt->def.name;
                continue;
            }
        }
        name[i] = default_name(s, call);
        is_default[i] = true;
    }
    /* Number default names that occur more than once: ln_1, ln_2. */
    for (int i = 0; i < n; i++)
        if (is_default[i])
            tally(s, &uses, name[i]);
    for (int i = 0; i < n; i++) {
        if (!is_default[i])
            continue;
        int64_t index = tally(s, &numbered, name[i]);
        if (tally_of(&uses, name[i]) > 1)
            ((AstNode *)sc->calls[i].call)->call.pname = arena_printf(s->arena, "%s_%lld", name[i], (long long)index);
        else
            ((AstNode *)sc->calls[i].call)->call.pname = name[i];
    }
    for (int i = 0; i < n; i++)
        if (!is_default[i])
            ((AstNode *)sc->calls[i].call)->call.pname = name[i];
    /* A name met for the first time cannot clash (a name unshare() gives
     * has a '?', which no other has); the rest are compared with the first
     * call of their name, whose index `first` holds. */
    for (int i = 0; i < n; i++) {
        const char *pn = sc->calls[i].call->call.pname;
        if (strcmp(pn, "?") == 0)
            continue;
        const Binding *b = env_find(&first, pn);
        if (b)
            check_clash(s, sc, i, (int)b->v.i, at, is_default);
        else
            env_bind(s, &first, pn, (Value){.kind = VAL_INT, .node = -1, .i = i}, SPAN_NONE, AST_BIND);
    }
}

static void names_body(NamesState *ns, NameScope *sc)
{
    Sema *s = ns->s;
    for (const AstNode *st = sc->body; st; st = st->next) {
        switch (st->kind) {
        case AST_INPUT:
        case AST_TARGET:
            scope_define(s, sc, st->decl.name, st->decl.name_span, st->kind);
            break;
        case AST_BIND: {
            walk(ns, sc, st->def.value, st);
            const Binding *prev = scope_find(sc, st->def.name);
            if (prev && prev->kind == AST_PARAM_STMT) {
                sema_error(s, st->def.name_span, "'%s' is a parameter and cannot be rebound", st->def.name);
                diag_note(s->diag, prev->at, "'%s' is declared here", st->def.name);
                break;
            }
            scope_define(s, sc, st->def.name, st->def.name_span, AST_BIND);
            break;
        }
        case AST_PARAM_STMT: {
            for (const AstNode *d = st->pdecl.type->type.dims; d; d = d->next)
                walk(ns, sc, d, st);   /* f32[width]: a layer's argument may size it */
            /* zeros() ones() normal() uniform() are not layers: only their arguments are names */
            if (st->pdecl.init->kind == AST_CALL)
                for (const AstNode *a = st->pdecl.init->call.args; a; a = a->next)
                    walk(ns, sc, a->arg.value, st);
            else
                walk(ns, sc, st->pdecl.init, st);
            const Binding *prev = scope_find(sc, st->pdecl.name);
            if (prev) {
                if (prev->kind == AST_PARAM_STMT)
                    sema_error(s, st->pdecl.name_span, "parameter '%s' is declared twice", st->pdecl.name);
                else
                    sema_error(s, st->pdecl.name_span, "'%s' is already defined; a parameter needs a name of its own",
                               st->pdecl.name);
                diag_note(s->diag, prev->at, "'%s' is first defined here", st->pdecl.name);
                break;
            }
            scope_define(s, sc, st->pdecl.name, st->pdecl.name_span, AST_PARAM_STMT);
            break;
        }
        case AST_RETURN:
            walk(ns, sc, st->stmt.value, st);
            if (st->next)
                sema_error(s, st->next->span, "statement after 'return'; a layer returns at its end");
            break;
        case AST_OUTPUT:
        case AST_LOSS:
        case AST_METRIC:
            walk(ns, sc, st->stmt.value, st);
            break;
        default:
            break;
        }
    }
    assign_names(s, sc);
}

static void names_layer(NamesState *ns, int index)
{
    Sema *s = ns->s;
    const AstNode *l = s->layers[index];
    NameScope sc = {.body = l->layer.body, .layer = index};
    NameScope defaults = {.layer = index};
    int nparams = 0;
    for (const AstNode *p = l->layer.params; p; p = p->next, nparams++) {
        if (strcmp(p->def.name, "name") == 0)
            sema_error(s, p->def.name_span, "'name' is how a call names its parameters (name: \"...\"); "
                       "choose another name for this layer parameter");
        const Binding *prev = scope_find(&sc, p->def.name);
        if (prev) {
            sema_error(s, p->def.name_span, "parameter '%s' appears twice", p->def.name);
            diag_note(s->diag, prev->at, "first here");
        }
        if (p->def.value)   /* defaults see only constants */
            walk(ns, &defaults, p->def.value, NULL);
        else
            for (const AstNode *q = l->layer.params; q != p; q = q->next)
                if (q->def.value) {
                    sema_error(s, p->def.name_span, "parameter '%s' has no default but follows one that has",
                               p->def.name);
                    break;
                }
        scope_define(s, &sc, p->def.name, p->def.name_span, AST_PARAM);
    }
    if (!l->layer.params)
        sema_error(s, l->layer.name_span, "layer '%s' takes no input; a layer needs at least one parameter",
                   l->layer.name);
    if (nparams > LAYER_MAX_PARAMS) {
        sema_error(s, l->layer.name_span, "layer '%s' has %d parameters; at most %d are supported", l->layer.name,
                   nparams, LAYER_MAX_PARAMS);
        s->poisoned[index] = true;
    }
    names_body(ns, &sc);
    const AstNode *last = l->layer.body;
    while (last && last->next)
        last = last->next;
    bool returns = false;
    for (const AstNode *st = l->layer.body; st; st = st->next)
        returns |= st->kind == AST_RETURN;
    if (!returns)
        sema_error(s, l->layer.name_span, "layer '%s' has no 'return'", l->layer.name);
}

/* Depth-first search for cycles among layer calls. */
static void find_cycles(NamesState *ns, int from, int *stack, int depth, int *state)
{
    Sema *s = ns->s;
    state[from] = 1;  /* on the stack */
    stack[depth] = from;
    for (int i = 0; i < ns->nedges; i++) {
        Edge *e = &ns->edges[i];
        if (e->from != from)
            continue;
        if (state[e->to] == 1) {
            /* Cycle: stack[k..depth] with e closing it. */
            int k = depth;
            while (stack[k] != e->to)
                k--;
            bool known = true;
            for (int j = k; j <= depth; j++)
                known &= s->poisoned[stack[j]];
            for (int j = k; j <= depth; j++)
                s->poisoned[stack[j]] = true;
            if (known)
                continue;
            const char *name = s->layers[e->to]->layer.name;
            if (k == depth) {
                sema_error(s, e->at, "layer '%s' calls itself", name);
            } else {
                StrBuf chain = {0};
                for (int j = k; j <= depth; j++)
                    sb_printf(&chain, "%s -> ", s->layers[stack[j]]->layer.name);
                sb_puts(&chain, name);
                sema_error(s, e->at, "layer '%s' calls itself: %s", name, sb_cstr(&chain));
                sb_free(&chain);
            }
            diag_note(s->diag, s->layers[e->to]->layer.name_span, "'%s' is defined here", name);
        } else if (state[e->to] == 0) {
            find_cycles(ns, e->to, stack, depth + 1, state);
        }
    }
    state[from] = 2;
}

void sema_names(Sema *s)
{
    NamesState ns = {.s = s};
    for (int i = 0; i < s->nlayers; i++)
        names_layer(&ns, i);
    int *state = ARENA_ARRAY(s->arena, int, s->nlayers + 1);
    int *stack = ARENA_ARRAY(s->arena, int, s->nlayers + 1);
    for (int i = 0; i < s->nlayers; i++)
        if (state[i] == 0)
            find_cycles(&ns, i, stack, 0, state);
    for (const AstNode *d = s->prog->decls; d; d = d->next)
        if (d->kind == AST_MODEL) {
            NameScope sc = {.body = d->layer.body, .layer = -1};
            names_body(&ns, &sc);
            break;
        }
}
