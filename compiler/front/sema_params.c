/* sema_params.c — parameters written in the program: 'param' statements,
 * tensor literals, parameters shared by name and parameters named in
 * expressions (docs/language.md §6, "Parameters in programs").
 *
 * Consumes the statements and expressions sema.c and sema_expr.c hand it;
 * produces SemaParams (with their initialisation: zeros, ones, normal(std),
 * uniform(limit) or the literal's values) and the nodes that stand for them
 * in expressions: SN_PARAM for a parameter, SN_CONST for a literal.
 *
 * A full parameter name is the scope's prefix plus the name ("enc.g" for
 * 'param g' in a layer used as enc = ...).  Names are unique per scope
 * (sema_names.c), so the only way two registrations meet under one full
 * name is sharing: two uses of a layer given the same name: "...".  They
 * get one tensor, and their shapes must agree.
 */
#include "sema_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

static const Value ERR = {.kind = VAL_ERROR, .node = -1};

/* A dotted name that found no parameter when it was evaluated.  Whether it
 * names one created later, or none, is known only after the model. */
typedef struct ParamRef {
    Span        at;
    const char *full;     /* prefix + name */
    const char *prefix;   /* the scope's, "" in the model */
    int         known;    /* parameters that existed at the reference */
    const AstNode *body;  /* the statements of its scope */
} ParamRef;

static const char *shape_str(Sema *s, const Shape *sh)
{
    StrBuf sb = {0};
    shape_print(&sb, sh, false);
    const char *r = arena_strdup(s->arena, sb_cstr(&sb));
    sb_free(&sb);
    return r;
}

/* ---- finding parameters by name ----------------------------------------------------
 * Two indexes keep a model of many shared names linear: each name
 * (SemaModel.param_slots) and, with sharing, each prefix a use's parameters
 * are named under (Sema.under).  They are brought up to date where they are
 * read (index_params): a model that never looks a parameter up by name, one
 * without sharing or dotted names, does not pay for them. */

/* The parameters named under one prefix, "E." (E.weight, E.bias), in the
 * order they were made: what sema_shared_use compares a use with. */
typedef struct ParamList {
    int *idx;
    int  n, cap;
} ParamList;

/* FNV-1a of prefix, then '.' and suffix when there is one: the name
 * prefix.suffix hashed without being written out. */
static uint32_t param_hash(const char *prefix, const char *suffix)
{
    uint32_t h = 2166136261u;
    for (const char *c = prefix; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    if (suffix) {
        h = (h ^ (unsigned char)'.') * 16777619u;
        for (const char *c = suffix; *c; c++)
            h = (h ^ (unsigned char)*c) * 16777619u;
    }
    return h;
}

static bool param_named(const char *name, const char *prefix, const char *suffix)
{
    size_t lp = strlen(prefix);
    if (strncmp(name, prefix, lp) != 0)
        return false;
    return suffix ? name[lp] == '.' && strcmp(name + lp + 1, suffix) == 0 : name[lp] == '\0';
}

/* The slot of prefix.suffix: where it is, or the empty one it would take. */
static int param_slot(const SemaModel *m, const char *prefix, const char *suffix)
{
    int mask = m->cap_param_slots - 1, i = (int)(param_hash(prefix, suffix) & (uint32_t)mask);
    while (m->param_slots[i] && !param_named(m->params[m->param_slots[i] - 1].name, prefix, suffix))
        i = (i + 1) & mask;
    return i;
}

int sema_param_find(const SemaModel *m, const char *prefix, const char *suffix)
{
    int k = m->param_slots ? m->param_slots[param_slot(m, prefix, suffix)] : 0;
    if (k)
        return k - 1;
    for (int i = m->nindexed; i < m->nparams; i++)  /* made since the index was brought up to date */
        if (param_named(m->params[i].name, prefix, suffix))
            return i;
    return -1;
}

/* Enters m->params[i], the first not yet entered, in the name index (at twice as many
 * slots as names; a copy outgrown stays in the arena) and, with sharing,
 * in the list of every prefix of its name that ends in '.'. */
static void index_param(Sema *s, int i)
{
    SemaModel *m = s->m;
    if (2 * (i + 1) > m->cap_param_slots) {
        int cap = 64;
        while (cap < 4 * (i + 1))
            cap *= 2;
        m->param_slots = ARENA_ARRAY(s->arena, int, cap);  /* zeroed: every slot empty */
        m->cap_param_slots = cap;
        for (int k = 0; k < i; k++)
            m->param_slots[param_slot(m, m->params[k].name, NULL)] = k + 1;
    }
    int slot = param_slot(m, m->params[i].name, NULL);
    if (!m->param_slots[slot])  /* a name already there keeps its first parameter, as a scan found it */
        m->param_slots[slot] = i + 1;
    if (!s->sharing)
        return;
    const char *name = m->params[i].name;
    char buf[256];
    for (const char *dot = strchr(name, '.'); dot; dot = strchr(dot + 1, '.')) {
        size_t len = (size_t)(dot - name) + 1;
        const char *prefix = buf;  /* copied to the arena only when it is new, or long */
        if (len < sizeof buf) {
            memcpy(buf, name, len);
            buf[len] = '\0';
        } else {
            prefix = arena_strndup(s->arena, name, len);
        }
        Binding *b = env_find(&s->under, prefix);
        if (!b) {
            s->under_lists = sema_grow(s, s->under_lists, s->nunder, &s->cap_under, sizeof *s->under_lists);
            s->under_lists[s->nunder] = (ParamList){0};
            env_bind(s, &s->under, arena_strndup(s->arena, name, len),
                     (Value){.kind = VAL_INT, .node = -1, .i = s->nunder}, m->params[i].at, AST_BIND);
            b = &s->under.b[s->under.n - 1];
            s->nunder++;
        }
        ParamList *l = &s->under_lists[b->v.i];
        if (l->n == l->cap) {  /* most names have two or three parameters: start small */
            int cap = l->cap ? 2 * l->cap : 4;
            int *idx = ARENA_ARRAY(s->arena, int, cap);
            if (l->n)
                memcpy(idx, l->idx, sizeof *idx * (size_t)l->n);
            l->idx = idx;
            l->cap = cap;
        }
        l->idx[l->n++] = i;
    }
}

/* Brings both indexes up to date with the parameters made. */
static void index_params(Sema *s)
{
    for (SemaModel *m = s->m; m->nindexed < m->nparams; m->nindexed++)
        index_param(s, m->nindexed);
}

static int find_param(Sema *s, const char *name)
{
    index_params(s);
    return sema_param_find(s->m, name, NULL);
}

int sema_add_param(Sema *s, const char *name, const Shape *shape, InitKind init, int64_t fan_in, double scale,
                   const double *data, Span at, bool *created)
{
    SemaModel *m = s->m;
    /* Without sharing every name is new (sema_names.c): skip the search,
     * which would make a model of many parameters quadratic. */
    int i = s->sharing ? find_param(s, name) : -1;
    *created = i < 0;
    int64_t now = s->registrations++;
    if (i >= 0) {
        m->params[i].touched = now;
        s->shared_hits++;
        if (!shape_equal(&m->params[i].shape, shape)) {
            sema_error(s, at, "parameter '%s' is shared by two uses of one name, but is %s here and %s at the first use",
                       name, shape_str(s, shape), shape_str(s, &m->params[i].shape));
            Span first = m->params[i].use;
            if (first.begin == m->params[i].at.begin && first.end == m->params[i].at.end)
                diag_note(s->diag, first, "'%s' is first created here as %s", name, shape_str(s, &m->params[i].shape));
            else
                diag_note(s->diag, first, "'%s' is first created by this use, as %s", name,
                          shape_str(s, &m->params[i].shape));
            return -1;
        }
        return i;
    }
    m->params = sema_grow(s, m->params, m->nparams, &s->cap_params, sizeof *m->params);
    m->params[m->nparams] = (SemaParam){
        .name = name, .shape = *shape, .init = init, .fan_in = fan_in, .at = at, .scale = scale, .data = data,
        .use = sema_use_site(s, at), .touched = now,
    };
    return m->nparams++;
}

/* Two uses given one name share one set of parameters (docs/language.md
 * §6): dense(x, 4, name: "E") and dense(y, 4, bias: false, name: "E")
 * would share E.weight and leave E.bias to one of them, which the reader
 * of either line cannot see.  An earlier use's parameter this use did not
 * register (touched before since), or one this use created (at or past
 * first_param) beside an earlier use's, is an error.  Only a use that
 * shared a parameter is looked at (one of the same layer and name as an
 * earlier use always shares one: its first, or the shapes differ and that
 * is the error), so the scan, linear in the parameters, runs for the
 * sharing uses alone: a model of 20,000 dense calls, one name shared, is
 * not made quadratic by it; and it visits only the parameters named under
 * prefix (Sema.under), so neither is a model of 8,000 names each shared. */
bool sema_shared_use(Sema *s, const char *prefix, int first_param, int64_t since, int64_t hits, Span at)
{
    if (!s->sharing || s->shared_hits == hits)
        return true;
    const SemaModel *m = s->m;
    index_params(s);
    const Binding *b = env_find(&s->under, prefix);  /* prefix ends in '.', as the lists' do */
    if (!b)
        return true;
    const ParamList *under = &s->under_lists[b->v.i];  /* in order: the first is the earliest */
    int earlier = under->n > 0 && under->idx[0] < first_param ? under->idx[0] : -1;
    if (earlier < 0)
        return true;
    int len_name = (int)strlen(prefix) - 1;  /* the name without its '.' */
    for (int j = 0; j < under->n; j++) {
        int k = under->idx[j];
        const SemaParam *p = &m->params[k];
        if (k < first_param && p->touched < since) {
            sema_error(s, at, "this use shares the parameters named '%.*s', but has no '%s', which the first use has",
                       len_name, prefix, p->name);
            diag_note(s->diag, p->use, "'%s' is created by this use", p->name);
            return false;
        }
        if (k >= first_param) {
            sema_error(s, at, "this use shares the parameters named '%.*s', but creates '%s', which the first use does not have",
                       len_name, prefix, p->name);
            diag_note(s->diag, m->params[earlier].use, "the first use of '%.*s' is here", len_name, prefix);
            return false;
        }
    }
    return true;
}

static Value param_node(Sema *s, int index, bool created, Span at)
{
    const SemaParam *p = &s->m->params[index];
    SemaNode n = {.kind = SN_PARAM, .name = p->name, .at = at,
                  .type = {.elem = ELEM_F32, .batched = false, .shape = p->shape},
                  .first_param = index, .nparams = created ? 1 : 0};
    for (int i = 0; i < BUILTIN_MAX_PARAMS; i++)
        n.in[i] = -1;
    int id = sema_add_node(s, &n);
    return id < 0 ? ERR : (Value){.kind = VAL_TENSOR, .node = id, .t = n.type};
}

/* ---- tensor literals ----------------------------------------------------------- */

typedef struct Literal {
    Sema   *s;
    Env    *env;
    Shape   shape;    /* from the first element at every depth */
    double *data;
    int64_t n;        /* values written */
    bool    ok;
} Literal;

/* Checks e, element index (from 0) of its list at depth d, against the
 * shape, and appends its numbers. */
static void literal_walk(Literal *L, const AstNode *e, int d, int index)
{
    Sema *s = L->s;
    if (!L->ok)
        return;
    if (d < L->shape.rank) {
        if (e->kind != AST_LIST) {
            L->ok = sema_error(s, e->span, "ragged tensor literal: expected a list of %lld elements here, found a number",
                               (long long)L->shape.dim[d]);
            return;
        }
        if (e->list.n != L->shape.dim[d]) {
            L->ok = sema_error(s, e->span, "ragged tensor literal: row %d has %d element%s, expected %lld as in row 1",
                               index + 1, e->list.n, e->list.n == 1 ? "" : "s", (long long)L->shape.dim[d]);
            return;
        }
        int i = 0;
        for (const AstNode *it = e->list.items; it; it = it->next)
            literal_walk(L, it, d + 1, i++);
        return;
    }
    if (e->kind == AST_LIST) {
        L->ok = sema_error(s, e->span, "ragged tensor literal: expected a number here, found a list");
        return;
    }
    Value v = sema_eval(s, L->env, e, EV_EXPR);
    if (v.kind == VAL_ERROR) {
        L->ok = false;
        return;
    }
    if (v.kind != VAL_INT && v.kind != VAL_FLOAT) {
        L->ok = sema_error(s, e->span, "a tensor literal holds numbers, found %s",
                           v.kind == VAL_TENSOR ? sema_type_str(s, &v.t) : sema_value_kind(&v));
        return;
    }
    double x = v.kind == VAL_INT ? (double)v.i : v.f;
    if (!sema_f32_fits(s, e->span, NULL, x)) {
        L->ok = false;
        return;
    }
    L->data[L->n++] = x;
}

/* The shape and values of the literal list; false after reporting. */
static bool literal_values(Sema *s, Env *env, const AstNode *list, Shape *shape, double **data)
{
    Literal L = {.s = s, .env = env, .ok = true};
    double elems = 1;
    for (const AstNode *e = list; e->kind == AST_LIST; e = e->list.items) {
        if (e->list.n == 0)
            return sema_error(s, e->span, "an empty list is not a tensor");
        if (L.shape.rank == NNC_MAX_RANK)
            return sema_error(s, e->span, "a tensor literal has at most %d dimensions", NNC_MAX_RANK);
        L.shape.dim[L.shape.rank++] = e->list.n;
        elems *= e->list.n;
    }
    /* Nesting depth bounds the rank, and the source's length the count. */
    L.data = ARENA_ARRAY(s->arena, double, (size_t)elems + 1);
    literal_walk(&L, list, 0, 0);
    if (!L.ok)
        return false;
    *shape = L.shape;
    *data = L.data;
    return true;
}

static Value const_node(Sema *s, Env *env, const Shape *shape, const double *data, Span at)
{
    SemaNode n = {.kind = SN_CONST, .at = at, .data = data,
                  .type = {.elem = ELEM_F32, .batched = false, .shape = *shape},
                  .name = arena_printf(s->arena, "%s%s", env->prefix, env->row ? env->row : "?")};
    for (int i = 0; i < BUILTIN_MAX_PARAMS; i++)
        n.in[i] = -1;
    int id = sema_add_node(s, &n);
    return id < 0 ? ERR : (Value){.kind = VAL_TENSOR, .node = id, .t = n.type};
}

Value sema_literal(Sema *s, Env *env, const AstNode *list)
{
    Shape shape;
    double *data;
    if (!literal_values(s, env, list, &shape, &data))
        return ERR;
    return const_node(s, env, &shape, data, list->span);
}

Value sema_list_tensor(Sema *s, Env *env, const Value *v, Span at)
{
    if (v->list.n == 0) {
        sema_error(s, at, "an empty list is not a tensor");
        return ERR;
    }
    Shape shape = {.rank = 1, .dim = {v->list.n}};
    double *data = ARENA_ARRAY(s->arena, double, (size_t)v->list.n);
    for (int i = 0; i < v->list.n; i++)
        data[i] = (double)v->list.v[i];
    return const_node(s, env, &shape, data, at);
}

/* ---- param statements ------------------------------------------------------------ */

static const char *const init_calls[] = {"zeros", "ones", "normal", "uniform"};

bool sema_is_init_name(const char *name)
{
    for (size_t i = 0; i < sizeof init_calls / sizeof *init_calls; i++)
        if (strcmp(name, init_calls[i]) == 0)
            return true;
    return false;
}

static bool is_init_call(const AstNode *e) { return e->kind == AST_CALL && sema_is_init_name(e->call.callee); }

/* normal(std) or uniform(limit): the one positive number. */
static bool init_scale(Sema *s, Env *env, const AstNode *call, const char *what, double *out)
{
    const char *pn[1] = {what};
    const AstNode *slot[1], *name_arg;
    if (!sema_bind_args(s, call, call->call.callee, pn, 1, false, slot, &name_arg, true))
        return false;
    if (!slot[0])
        return sema_error(s, call->span, "%s needs its %s: %s(%s)", call->call.callee, what, call->call.callee, what);
    const AstNode *e = slot[0]->arg.value;
    Value v = sema_eval(s, env, e, EV_EXPR);
    if (v.kind == VAL_ERROR)
        return false;
    if (v.kind != VAL_INT && v.kind != VAL_FLOAT)
        return sema_error(s, e->span, "%s's %s must be a number, found %s", call->call.callee, what,
                          v.kind == VAL_TENSOR ? sema_type_str(s, &v.t) : sema_value_kind(&v));
    double x = v.kind == VAL_INT ? (double)v.i : v.f;
    if (!(x > 0)) {
        if (v.kind == VAL_INT)
            return sema_error(s, e->span, "%s's %s must be greater than 0, found %lld", call->call.callee, what,
                              (long long)v.i);
        return sema_error(s, e->span, "%s's %s must be greater than 0, found %g", call->call.callee, what, x);
    }
    const char *named = arena_printf(s->arena, "%s's %s", call->call.callee, what);
    if (!sema_f32_fits(s, e->span, named, x) || !sema_f32_positive(s, e->span, named, x))
        return false;
    *out = x;
    return true;
}

static const char init_help[] = "a parameter starts as zeros(), ones(), normal(std), uniform(limit) or a tensor literal";

/* How the parameter declared with shape starts; false after reporting. */
static bool param_init(Sema *s, Env *env, const AstNode *st, const Shape *shape, InitKind *kind, double *scale,
                       const double **data)
{
    const AstNode *e = st->pdecl.init;
    *scale = 0;
    *data = NULL;
    if (e->kind == AST_CALL) {
        const char *f = e->call.callee;
        if (!is_init_call(e)) {
            sema_error(s, e->call.callee_span, "unknown initialisation '%s'; %s", f, init_help);
            const char *best = suggest_among(f, init_calls, (int)(sizeof init_calls / sizeof *init_calls));
            if (best)
                diag_note(s->diag, SPAN_NONE, "did you mean '%s'?", best);
            return false;
        }
        if (strcmp(f, "zeros") == 0 || strcmp(f, "ones") == 0) {
            if (e->call.nargs)
                return sema_error(s, e->call.args->span, "%s() takes no arguments; the shape is the declared type's", f);
            *kind = f[0] == 'z' ? INIT_ZEROS : INIT_ONES;
            return true;
        }
        bool normal = strcmp(f, "normal") == 0;
        *kind = normal ? INIT_NORMAL_STD : INIT_UNIFORM;
        return init_scale(s, env, e, normal ? "std" : "limit", scale);
    }
    Shape got = {0};
    double *values = NULL;
    if (e->kind == AST_LIST) {
        if (!literal_values(s, env, e, &got, &values))
            return false;
    } else {
        Value v = sema_eval(s, env, e, EV_EXPR);
        if (v.kind == VAL_ERROR)
            return false;
        if (v.kind != VAL_INT && v.kind != VAL_FLOAT)
            return sema_error(s, e->span, "%s, found %s", init_help,
                              v.kind == VAL_TENSOR ? sema_type_str(s, &v.t) : sema_value_kind(&v));
        values = ARENA_NEW(s->arena, double);
        *values = v.kind == VAL_INT ? (double)v.i : v.f;
        if (!sema_f32_fits(s, e->span, NULL, *values))
            return false;
    }
    if (!shape_equal(&got, shape)) {
        sema_error(s, e->span, "the initial value has shape %s, but parameter '%s' is declared f32%s",
                   shape_str(s, &got), st->pdecl.name, shape_str(s, shape));
        diag_note(s->diag, st->pdecl.type->span, "declared here");
        return false;
    }
    *kind = INIT_DATA;
    *data = values;
    return true;
}

/* f32[dims]: the dimensions are integer expressions of the scope, so a
 * layer's parameter may take its size from an argument (f32[width]). */
static bool param_type(Sema *s, Env *env, const AstNode *ty, TensorType *t)
{
    *t = (TensorType){.elem = ELEM_F32};
    if (strcmp(ty->type.name, "f32") != 0 || ty->type.arg || !ty->type.has_dims)
        return sema_error(s, ty->span, "a parameter holds real numbers: write f32[dims] (f32[] for one number)");
    bool ok = true;
    double elems = 1;
    for (const AstNode *d = ty->type.dims; d; d = d->next) {
        if (t->shape.rank == NNC_MAX_RANK)
            return sema_error(s, d->span, "at most %d dimensions are supported", NNC_MAX_RANK);
        Value v = sema_eval(s, env, d, EV_EXPR);
        int64_t n = 1;
        if (v.kind == VAL_ERROR)
            ok = false;
        else if (v.kind != VAL_INT)
            ok = sema_error(s, d->span, "a dimension must be an integer, found %s",
                            v.kind == VAL_TENSOR ? sema_type_str(s, &v.t) : sema_value_kind(&v));
        else if (v.i < 1)
            ok = sema_error(s, d->span, "a dimension must be positive, found %lld", (long long)v.i);
        else
            n = v.i;
        t->shape.dim[t->shape.rank++] = n;
        elems *= (double)n;
    }
    if (ok && elems > (double)NNC_MAX_ELEMS)
        return sema_error(s, ty->span, "this tensor has more than 2^40 elements per example");
    return ok;
}

void sema_param_stmt(Sema *s, Env *env, const AstNode *st)
{
    const char *name = st->pdecl.name;
    /* A second definition in the scope was reported by sema_names(). */
    if (env_find(env, name))
        return;
    Binding *g = env_find(&s->globals, name);
    if (g) {
        sema_error(s, st->pdecl.name_span, "'%s' is a constant; a parameter needs a name of its own", name);
        diag_note(s->diag, g->at, "'%s' is defined here", name);
        env_bind(s, env, name, ERR, st->pdecl.name_span, AST_PARAM_STMT);
        return;
    }
    Value v = ERR;
    TensorType t;
    AstNode *ty = (AstNode *)st->pdecl.type;
    if (param_type(s, env, ty, &t)) {
        InitKind kind = INIT_ZEROS;
        double scale;
        const double *data;
        if (param_init(s, env, st, &t.shape, &kind, &scale, &data)) {
            bool created;
            const char *full = arena_printf(s->arena, "%s%s", env->prefix, name);
            int i = sema_add_param(s, full, &t.shape, kind, 0, scale, data, st->span, &created);
            if (i >= 0)
                v = param_node(s, i, created, st->span);
        }
        if (v.kind == VAL_TENSOR) {  /* for --dump-ir=ast */
            ty->ann = v;
            ty->ann_state = ANN_ONE;
        }
    }
    env_bind(s, env, name, v, st->pdecl.name_span, AST_PARAM_STMT);
}

/* ---- parameters named in expressions ---------------------------------------------- */

Value sema_param_ref(Sema *s, Env *env, const AstNode *e, EvalCtx ctx)
{
    const char *id = e->name.id;
    if (ctx == EV_CONST) {
        sema_error(s, e->span, "'%s' names a parameter; only model and layer bodies can use one", id);
        return ERR;
    }
    const char *full = arena_printf(s->arena, "%s%s", env->prefix, id);
    int i = find_param(s, full);
    if (i >= 0)
        return param_node(s, i, false, e->span);
    s->refs = sema_grow(s, s->refs, s->nrefs, &s->cap_refs, sizeof *s->refs);
    const AstNode *body = NULL;
    if (s->depth > 0)
        body = s->stack[s->depth - 1].layer->layer.body;
    else
        for (const AstNode *d = s->prog->decls; d && !body; d = d->next)
            body = d->kind == AST_MODEL ? d->layer.body : NULL;
    s->refs[s->nrefs++] = (ParamRef){e->span, full, env->prefix, s->m->nparams, body};
    return ERR;  /* reported by sema_param_refs_finish() */
}

/* The call of the expression e whose parameters' names begin rel ("enc"
 * for "enc.bias"), or NULL.  Names were fixed by sema_names() for every
 * call, also those that were never checked because an argument was wrong. */
static const AstNode *call_named(const AstNode *e, const char *rel)
{
    if (!e)
        return NULL;
    switch (e->kind) {
    case AST_CALL: {
        size_t n = e->call.pname ? strlen(e->call.pname) : 0;
        if (n && strncmp(rel, e->call.pname, n) == 0 && rel[n] == '.')
            return e;
        for (const AstNode *a = e->call.args; a; a = a->next) {
            const AstNode *c = call_named(a->arg.value, rel);
            if (c)
                return c;
        }
        return NULL;
    }
    case AST_BINARY: {
        const AstNode *c = call_named(e->binary.lhs, rel);
        return c ? c : call_named(e->binary.rhs, rel);
    }
    case AST_NEG: return call_named(e->unary.operand, rel);
    case AST_LIST:
        for (const AstNode *i = e->list.items; i; i = i->next) {
            const AstNode *c = call_named(i, rel);
            if (c)
                return c;
        }
        return NULL;
    default: return NULL;
    }
}

/* "h.weight" unknown, "dense.weight" made: the call was named otherwise
 * than the reader thought (h bound twice takes the layer's name, say), too
 * far for "did you mean".  Names the parameters of this scope that end as
 * rel does after its first part, up to three. */
static void note_same_suffix(Sema *s, const char *rel, const char **cands, int n)
{
    const char *dot = strchr(rel, '.');
    if (!dot)
        return;
    StrBuf sb = {0};
    int shown = 0, more = 0;
    for (int k = 0; k < n; k++) {
        const char *c = strchr(cands[k], '.');
        if (!c || strcmp(c, dot) != 0)
            continue;
        if (shown < 3)
            sb_printf(&sb, "%s'%s'", shown ? ", " : "", cands[k]);
        shown < 3 ? shown++ : more++;
    }
    if (shown)
        diag_note(s->diag, SPAN_NONE, "this scope's parameters ending in '%s': %s%s", dot, sb_cstr(&sb),
                  more ? arena_printf(s->arena, " and %d more", more) : "");
    sb_free(&sb);
}

void sema_param_refs_finish(Sema *s)
{
    for (int r = 0; r < s->nrefs; r++) {
        const ParamRef *ref = &s->refs[r];
        bool seen = false;  /* a layer used twice refers twice from one place: say it once */
        for (int q = 0; q < r; q++)
            seen |= s->refs[q].at.begin == ref->at.begin && s->refs[q].at.end == ref->at.end;
        if (seen)
            continue;
        const char *rel = ref->full + strlen(ref->prefix);
        int i = find_param(s, ref->full);
        if (i >= 0) {
            diag_error(s->diag, ref->at, "parameter '%s' is used before the call that creates it", rel);
            diag_note(s->diag, s->m->params[i].at, "'%s' is created here", rel);
            continue;
        }
        const AstNode *creator = NULL;
        for (const AstNode *st = ref->body; st && !creator; st = st->next)
            creator = call_named(st->kind == AST_BIND ? st->def.value
                                 : st->kind == AST_OUTPUT || st->kind == AST_LOSS || st->kind == AST_METRIC
                                   || st->kind == AST_RETURN ? st->stmt.value : NULL, rel);
        if (creator) {
            /* A call that ran created its parameters: then the name is misspelt. */
            const char *made = arena_printf(s->arena, "%s%s.", ref->prefix, creator->call.pname);
            for (int k = 0; k < s->m->nparams && creator; k++)
                if (strncmp(s->m->params[k].name, made, strlen(made)) == 0)
                    creator = NULL;
        }
        /* A call wholly before the reference that created nothing failed,
         * and said so: the reference adds nothing to that. */
        if (creator && creator->span.end <= ref->at.begin && s->diag->errors > s->errors_at_start)
            continue;
        if (creator && creator->span.end > ref->at.begin) {
            diag_error(s->diag, ref->at, "parameter '%s' is used before the call that creates it", rel);
            diag_note(s->diag, creator->span, "'%s' is created here", rel);
            continue;
        }
        diag_error(s->diag, ref->at, "unknown parameter '%s'", rel);
        size_t lp = strlen(ref->prefix);
        const char **cands = ARENA_ARRAY(s->arena, const char *, ref->known + 1);
        int n = 0;
        for (int k = 0; k < ref->known; k++)
            if (strncmp(s->m->params[k].name, ref->prefix, lp) == 0)
                cands[n++] = s->m->params[k].name + lp;
        const char *best = suggest_among(rel, cands, n);
        if (best)
            diag_note(s->diag, SPAN_NONE, "did you mean '%s'?", best);
        else if (n == 0)
            diag_note(s->diag, SPAN_NONE, "no parameter of this scope is created before this point");
        else
            note_same_suffix(s, rel, cands, n);
    }
    s->nrefs = 0;
}

/* Registers a parameter for the call being checked (see builtins.h). */
void cc_param(CallCheck *cc, const char *suffix, const Shape *shape, InitKind init, int64_t fan_in)
{
    bool created;
    sema_add_param(cc->sema, arena_printf(cc->sema->arena, "%s%s", cc->prefix, suffix), shape, init, fan_in, 0, NULL,
                   cc->at, &created);
}
