/* sema.c — semantic analysis: the driver, top-level declarations, and the
 * model body.
 *
 * The order of work:
 *   1. top-level names: constants, layers and the model; duplicates;
 *   2. constants, evaluated in declaration order (each sees those before it);
 *   3. sema_names(): every layer and model body — unknown names, use before
 *      definition, recursion, and the parameter name of every call;
 *   4. the model body, statement by statement; calls of user layers check
 *      the layer's body at that use, with that use's shapes;
 *   5. the train block, against the model.
 * A value already diagnosed is VAL_ERROR and silences everything built on
 * it, so one mistake gives one message.
 */
#include "front.h"
#include "sema_internal.h"

#include "../util/suggest.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

bool sema_error(Sema *s, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool shown = diag_report(s->diag, DIAG_ERROR, at, fmt, ap);
    va_end(ap);
    /* Inside a layer the shapes come from a particular use: show it. */
    for (int i = s->depth - 1; shown && i >= 0 && i >= s->depth - 4; i--)
        diag_note(s->diag, s->stack[i].call, "in layer '%s' used here", s->stack[i].layer->layer.name);
    return false;
}

const AstNode *sema_model_defining(Sema *s, const char *name)
{
    for (const AstNode *d = s->prog->decls; d; d = d->next) {
        if (d->kind != AST_MODEL)
            continue;
        for (const AstNode *it = d->layer.body; it; it = it->next)
            if (((it->kind == AST_INPUT || it->kind == AST_TARGET) && strcmp(it->decl.name, name) == 0)
                || (it->kind == AST_BIND && strcmp(it->def.name, name) == 0)
                || (it->kind == AST_PARAM_STMT && strcmp(it->pdecl.name, name) == 0))
                return d;
    }
    return NULL;
}

Span sema_keyword_span(const AstNode *decl)
{
    return (Span){decl->span.begin, decl->span.begin + 5};  /* "train" */
}

enum { ENV_LINEAR = 32 };   /* names a scope searches one by one: layer uses, model bodies */

static uint32_t name_hash(const char *name)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* The slot of name in env's index: where it is, or the empty one it would take. */
static int index_slot(const Env *env, const char *name)
{
    int mask = env->cap_index - 1, i = (int)(name_hash(name) & (uint32_t)mask);
    while (env->index[i] && strcmp(env->b[env->index[i] - 1].name, name) != 0)
        i = (i + 1) & mask;
    return i;
}

/* A new index for env's names, twice as many slots as it will hold. */
static void index_rebuild(Sema *s, Env *env, int names)
{
    int cap = 64;
    while (cap < 2 * names)
        cap *= 2;
    env->index = ARENA_ARRAY(s->arena, int, cap);   /* zeroed: every slot empty */
    env->cap_index = cap;
    for (int k = 0; k < env->n; k++)
        env->index[index_slot(env, env->b[k].name)] = k + 1;
}

Binding *env_find(Env *env, const char *name)
{
    if (env->index) {
        int k = env->index[index_slot(env, name)];
        return k ? &env->b[k - 1] : NULL;
    }
    for (int i = env->n - 1; i >= 0; i--)
        if (strcmp(env->b[i].name, name) == 0)
            return &env->b[i];
    return NULL;
}

void env_bind(Sema *s, Env *env, const char *name, Value v, Span at, AstKind kind)
{
    Binding *b = env_find(env, name);
    if (b) {  /* rebinding: the newest value wins */
        b->v = v;
        b->at = at;
        b->kind = kind;
        return;
    }
    if (env->n == env->cap) {
        int cap = env->cap ? env->cap * 2 : 16;
        Binding *nb = ARENA_ARRAY(s->arena, Binding, cap);
        if (env->n)
            memcpy(nb, env->b, sizeof *nb * (size_t)env->n);
        env->b = nb;
        env->cap = cap;
    }
    env->b[env->n++] = (Binding){name, v, at, kind};
    if (env->n > ENV_LINEAR && 2 * env->n > env->cap_index)
        index_rebuild(s, env, env->n);
    else if (env->index)
        env->index[index_slot(env, name)] = env->n;
}

bool sema_f32_fits(Sema *s, Span at, const char *what, double x)
{
    if (fabs(x) <= FLT_MAX)
        return true;
    if (what)
        return sema_error(s, at, "%s %g is too large for f32", what, x);
    return sema_error(s, at, "%g is too large for f32, the type of a tensor's elements", x);
}

/* The one message of sema_f32_positive and sema_f32_normal; bound says
 * what must reach FLT_MIN ("it", "its magnitude").  %.9g: enough digits to
 * tell any two f32 apart, so a value just under FLT_MIN does not print as it. */
static bool f32_too_small(Sema *s, Span at, const char *what, double x, const char *bound)
{
    return sema_error(s, at, "%s %.9g is 0 or subnormal in f32; %s must be at least %.9g, the smallest normal f32",
                      what, x, bound, (double)FLT_MIN);
}

/* Past FLT_MAX is not this rule's (sema_f32_fits says so), and converting
 * it to float would be undefined. */
bool nnc_f32_is_normal(double x)
{
    return fabs(x) > FLT_MAX || fabsf((float)x) >= FLT_MIN;
}

bool sema_f32_positive(Sema *s, Span at, const char *what, double x)
{
    return (x > 0 && nnc_f32_is_normal(x)) || f32_too_small(s, at, what, x, "it");
}

bool sema_f32_normal(Sema *s, Span at, const char *what, double x)
{
    return nnc_f32_is_normal(x) || f32_too_small(s, at, what, x, "its magnitude");
}

int sema_layer_index(const Sema *s, const char *name)
{
    for (int i = 0; i < s->nlayers; i++)
        if (strcmp(s->layers[i]->layer.name, name) == 0)
            return i;
    return -1;
}

void *sema_grow(Sema *s, void *old, int n, int *cap, size_t elem)
{
    if (n < *cap)
        return old;
    int nc = *cap ? *cap * 2 : 64;
    void *p = arena_alloc(s->arena, elem * (size_t)nc);
    if (n)
        memcpy(p, old, elem * (size_t)n);
    *cap = nc;
    return p;
}

int sema_add_node(Sema *s, const SemaNode *n)
{
    SemaModel *m = s->m;
    if (m->nnodes >= SEMA_MAX_NODES) {
        if (!s->too_large)
            diag_error(s->diag, n->at, "the model has more than %d operations; nnc stops here", SEMA_MAX_NODES);
        s->too_large = true;
        return -1;
    }
    m->nodes = sema_grow(s, m->nodes, m->nnodes, &s->cap_nodes, sizeof *m->nodes);
    m->nodes[m->nnodes] = *n;
    m->nodes[m->nnodes].use = sema_use_site(s, n->at);
    return m->nnodes++;
}

/* ---- suggestions ----------------------------------------------------------- */

const char *sema_suggest(Sema *s, Env *env, const char *name, bool calls)
{
    int n = 0, cap = calls ? B_COUNT + s->nlayers : (env ? env->n : 0) + s->globals.n;
    const char **cands = ARENA_ARRAY(s->arena, const char *, cap + 3);
    if (calls) {
        for (int i = 0; i < B_COUNT; i++)
            cands[n++] = builtin_table[i].name;
        for (int i = 0; i < s->nlayers; i++)
            cands[n++] = s->layers[i]->layer.name;
    } else {
        for (int i = 0; env && i < env->n; i++)
            cands[n++] = env->b[i].name;
        for (int i = 0; i < s->globals.n; i++)
            cands[n++] = s->globals.b[i].name;
        /* reserved words, so never names, but values wherever a name is: bias: flase */
        cands[n++] = "true";
        cands[n++] = "false";
    }
    return suggest_among(name, cands, n);
}

void sema_note_suggestion(Sema *s, const char *best)
{
    const Binding *top = env_find(&s->tops, best);
    if (top)
        diag_note(s->diag, top->at, "did you mean '%s', defined here?", best);
    else
        diag_note(s->diag, SPAN_NONE, "did you mean '%s'?", best);
}

/* ---- declarations ---------------------------------------------------------- */

/* One meaning per top-level name: constants, layers, the model and the
 * built-ins share it.  Says what the name clashes with, after reporting. */
typedef enum Clash { CLASH_NONE, CLASH_BUILTIN, CLASH_LAYER, CLASH_OTHER } Clash;

static Clash check_toplevel_name(Sema *s, const char *name, Span at)
{
    const Builtin *b = builtin_lookup(name);
    if (b) {
        sema_error(s, at, "'%s' is the name of a built-in %s", name, builtin_class_name(b->cls));
        return CLASH_BUILTIN;
    }
    /* the declaration named at `at` is the first of its name or a later one
     * (one file: a name's span is one declaration's) */
    const Binding *first = env_find(&s->tops, name);
    if (!first || first->at.begin == at.begin)
        return CLASH_NONE;
    sema_error(s, at, "redefinition of '%s'", name);
    diag_note(s->diag, first->at, "'%s' was first defined here", name);
    return first->kind == AST_LAYER ? CLASH_LAYER : CLASH_OTHER;
}

/* The first declaration of each top-level name (constants, layers, the
 * model), for check_toplevel_name: one pass, where a scan of the earlier
 * declarations per name took quadratic time (100,000 constants: about 100 s). */
static void index_top_names(Sema *s)
{
    for (const AstNode *d = s->prog->decls; d; d = d->next) {
        const char *name = d->kind == AST_CONST ? d->def.name
                         : d->kind == AST_LAYER || d->kind == AST_MODEL ? d->layer.name : NULL;
        Span at = d->kind == AST_CONST ? d->def.name_span : d->layer.name_span;
        if (name && !env_find(&s->tops, name))  /* a declaration, not a value: none to give */
            env_bind(s, &s->tops, name, ERR_VALUE, at, d->kind);
    }
}

static void check_constants(Sema *s)
{
    for (const AstNode *d = s->prog->decls; d; d = d->next) {
        if (d->kind != AST_CONST)
            continue;
        Clash clash = check_toplevel_name(s, d->def.name, d->def.name_span);
        Value v = sema_eval(s, &s->globals, d->def.value, EV_CONST);
        if (v.kind != VAL_ERROR && v.kind != VAL_INT && v.kind != VAL_FLOAT && v.kind != VAL_BOOL
            && v.kind != VAL_STRING) {
            sema_error(s, d->def.value->span, "constant '%s' must be a number, a string or a truth value, found %s",
                       d->def.name, sema_value_kind(&v));
            v.kind = VAL_ERROR;
        }
        /* A clash was reported: uses of the name stay quiet, except that a
         * second constant of one name leaves the first in force. */
        if (clash != CLASH_NONE && !(clash == CLASH_OTHER && env_find(&s->globals, d->def.name)))
            v = ERR_VALUE;
        if (clash == CLASH_NONE || v.kind == VAL_ERROR)
            env_bind(s, &s->globals, d->def.name, v, d->def.name_span, AST_CONST);
    }
}

/* ---- the model ------------------------------------------------------------- */

static void model_declare(Sema *s, Env *env, const AstNode *item)
{
    const char *name = item->decl.name;
    Binding *prev = env_find(env, name);
    if (prev) {
        sema_error(s, item->decl.name_span, "redefinition of '%s'", name);
        diag_note(s->diag, prev->at, "'%s' was first defined here", name);
        return;
    }
    TensorType t;
    Value v = {.kind = VAL_ERROR, .node = -1};
    const char *what = arena_printf(s->arena, "%s '%s'", item->kind == AST_INPUT ? "input" : "target", name);
    if (sema_parse_type(s, item->decl.type, what, &t)) {
        t.batched = true;
        bool usable = true;
        if (item->kind == AST_INPUT && t.elem == ELEM_INDEX && t.shape.rank == 0)
            usable = sema_error(s, item->decl.type->span,
                                "an input of one class label per example is not supported; use token(N)[1]");
        SemaNode n = {.kind = item->kind == AST_INPUT ? SN_INPUT : SN_TARGET, .name = name,
                      .at = item->span, .type = t, .in = {-1, -1, -1, -1, -1, -1, -1, -1}};
        int id = sema_add_node(s, &n);
        if (id >= 0 && usable)
            v = (Value){.kind = VAL_TENSOR, .node = id, .t = t};
        AstNode *ty = (AstNode *)item->decl.type;  /* for --dump-ir=ast */
        ty->ann = v;
        ty->ann_state = ANN_ONE;
    }
    env_bind(s, env, name, v, item->decl.name_span, item->kind);
}

void sema_bind_result(Sema *s, Env *env, const AstNode *item, Value v)
{
    const char *name = item->def.name;
    Binding *g = env_find(&s->globals, name);
    Binding *p = env_find(env, name);
    if (p && p->kind == AST_PARAM_STMT)
        return;  /* rebinding a parameter: reported by sema_names() */
    if (v.kind == VAL_LIST)  /* w = [1, 2]: a list of integers in a tensor's place */
        v = sema_list_tensor(s, env, &v, item->def.value->span);
    if (g) {
        sema_error(s, item->def.name_span, "'%s' is a constant and cannot be rebound", name);
        diag_note(s->diag, g->at, "'%s' is defined here", name);
        v = ERR_VALUE;  /* its uses stay quiet */
    } else if (v.kind != VAL_TENSOR && v.kind != VAL_ERROR && v.kind != VAL_INT && v.kind != VAL_FLOAT) {
        sema_error(s, item->def.value->span, "a binding must hold a tensor or a number, found %s",
                   sema_value_kind(&v));
        v = ERR_VALUE;
    }
    env_bind(s, env, name, v, item->def.name_span, AST_BIND);
}

static void model_bind(Sema *s, Env *env, const AstNode *item)
{
    const char *name = item->def.name;
    Binding *prev = env_find(env, name);
    if (prev && (prev->kind == AST_INPUT || prev->kind == AST_TARGET)) {
        sema_error(s, item->def.name_span, "cannot assign to %s '%s'",
                   prev->kind == AST_INPUT ? "input" : "target", name);
        diag_note(s->diag, prev->at, "'%s' is declared here", name);
        return;
    }
    env->row = name;
    sema_bind_result(s, env, item, sema_eval(s, env, item->def.value, EV_EXPR));
}

/* Whether node v is computed from a parameter (in one pass over the
 * nodes, which come in evaluation order).  Every kind is named (no
 * default: a new one is a -Wswitch error until it is): taking the others
 * to depend on one kept quiet the warning this serves whenever the loss
 * held a subscript or a literal (loss mse(x[0:1], t)). */
static bool uses_parameters(const SemaModel *m, int v, Arena *a)
{
    bool *dep = ARENA_ARRAY(a, bool, v + 1);
    for (int i = 0; i <= v; i++) {
        const SemaNode *n = &m->nodes[i];
        dep[i] = false;
        switch (n->kind) {
        case SN_INPUT: case SN_TARGET: case SN_CONST: case SN_INDEX: break;
        case SN_CALL: case SN_BINARY: case SN_NEG: dep[i] = n->nparams > 0; break;
        case SN_PARAM: dep[i] = true; break;
        }
        for (int k = 0; k < BUILTIN_MAX_PARAMS && !dep[i]; k++)
            dep[i] = n->in[k] >= 0 && dep[n->in[k]];
    }
    return dep[v];
}

/* output, loss and metric: each checks its value and records its node. */
static void model_result(Sema *s, Env *env, const AstNode *item, const AstNode **seen_output,
                         const AstNode **seen_loss)
{
    const AstNode *e = item->stmt.value;
    if (item->kind == AST_OUTPUT || item->kind == AST_LOSS) {
        const AstNode **seen = item->kind == AST_OUTPUT ? seen_output : seen_loss;
        const char *what = item->kind == AST_OUTPUT ? "output" : "loss";
        if (*seen) {
            sema_error(s, item->span, "a model has one '%s'", what);
            diag_note(s->diag, (*seen)->span, "the first '%s' is here", what);
            return;
        }
        *seen = item;
    }
    env->row = item->kind == AST_OUTPUT ? "output" : item->kind == AST_LOSS ? "loss" : "metric";
    EvalCtx ctx = item->kind == AST_LOSS ? EV_LOSS : item->kind == AST_METRIC ? EV_METRIC : EV_EXPR;
    /* A loss or a metric is any expression; anything in it may read a target. */
    s->in_label_stmt = ctx != EV_EXPR;
    Value v = sema_eval(s, env, e, ctx);
    s->in_label_stmt = false;
    if (v.kind == VAL_ERROR)
        return;
    SemaModel *m = s->m;
    if (item->kind == AST_OUTPUT) {
        if (v.kind != VAL_TENSOR || v.t.elem != ELEM_F32 || !v.t.batched) {
            sema_error(s, e->span, "the output must be a per-example tensor of real numbers, found %s",
                       v.kind == VAL_TENSOR ? sema_type_str(s, &v.t) : sema_value_kind(&v));
            return;
        }
        m->output = v.node;
        return;
    }
    /* One number per example (f32[B], averaged over the batch) or one
     * number (what the loss built-ins give: already averaged).  A shape of
     * one element, f32[1] as (y - t) * (y - t) with y: f32[1] gives, is
     * one number too. */
    if (v.kind != VAL_TENSOR || v.t.elem != ELEM_F32 || shape_elems(&v.t.shape) != 1) {
        sema_error(s, e->span, "the %s must be one number per example, found %s", env->row,
                   v.kind == VAL_TENSOR ? sema_type_str(s, &v.t) : sema_value_kind(&v));
        if (v.kind == VAL_TENSOR && v.t.elem == ELEM_F32 && v.t.shape.rank > 0)
            diag_note(s->diag, SPAN_NONE, "a loss built-in such as mse(...) gives one number; so does a reduction, "
                                          "mean(x, axis: -1)");
        return;
    }
    if (item->kind == AST_LOSS) {
        m->loss = v.node;
        /* (a model with no parameters at all is a fixture for the passes, not a mistake) */
        if (m->nparams > 0 && !uses_parameters(m, v.node, s->arena))
            diag_warning(s->diag, e->span, "the loss does not depend on any of the model's parameters; training "
                                           "cannot change it");
    } else {
        m->metrics = sema_grow(s, m->metrics, m->nmetrics, &s->cap_metrics, sizeof *m->metrics);
        m->metric_names = sema_grow(s, m->metric_names, m->nmetrics, &s->cap_metric_names, sizeof *m->metric_names);
        m->metric_names[m->nmetrics] = e->kind == AST_CALL ? e->call.callee : "metric";
        m->metrics[m->nmetrics++] = v.node;
    }
}

/* Marks in used[] every node that the nodes marked already read, through
 * the operands (nodes come in evaluation order: operands first). */
static void mark_reads(const SemaModel *m, bool *used)
{
    for (int i = m->nnodes - 1; i >= 0; i--)
        for (int k = 0; k < BUILTIN_MAX_PARAMS && used[i]; k++)
            if (m->nodes[i].in[k] >= 0)
                used[m->nodes[i].in[k]] = true;
}

/* Marks in used[] every node the output, the loss and the metrics read. */
static void mark_used(const SemaModel *m, bool *used)
{
    if (m->output >= 0)
        used[m->output] = true;
    if (m->loss >= 0)
        used[m->loss] = true;
    for (int i = 0; i < m->nmetrics; i++)
        used[m->metrics[i]] = true;
    mark_reads(m, used);
}

void sema_metric_only(const SemaModel *m, bool *only, Arena *a)
{
    bool *trained = ARENA_ARRAY(a, bool, m->nnodes + 1);
    if (m->output >= 0)
        trained[m->output] = true;
    if (m->loss >= 0)
        trained[m->loss] = true;
    mark_reads(m, trained);
    memset(only, 0, sizeof *only * (size_t)m->nnodes);
    for (int i = 0; i < m->nmetrics; i++)
        only[m->metrics[i]] = true;
    mark_reads(m, only);
    for (int i = 0; i < m->nnodes; i++)
        only[i] &= !trained[i];
}

void sema_output_reads(const SemaModel *m, bool *used)
{
    memset(used, 0, sizeof *used * (size_t)m->nnodes);
    if (m->output >= 0)
        used[m->output] = true;
    mark_reads(m, used);
}

/* An input nothing reads is a mistake (a typo in a use, a leftover)
 * more often than a choice: one warning at each such declaration. */
static void warn_unused_inputs(Sema *s, const AstNode *model)
{
    const SemaModel *m = s->m;
    bool *used = ARENA_ARRAY(s->arena, bool, m->nnodes + 1);
    mark_used(m, used);
    /* one pass over both: check_model made the inputs' nodes in the order
     * of their declarations */
    const AstNode *item = model->layer.body;
    for (int i = 0; i < m->nnodes && item; i++) {
        if (m->nodes[i].kind != SN_INPUT)
            continue;
        while (item && !(item->kind == AST_INPUT && item->span.begin == m->nodes[i].at.begin))
            item = item->next;
        if (item && !used[i])
            diag_warning(s->diag, item->decl.name_span, "input '%s' is not used by the output, the loss or a "
                         "metric", item->decl.name);
    }
}

/* The parameters node n reads: those it created, the one it names
 * (SN_PARAM), and, for a call that created none with sharing on (a later
 * use of a shared name: sema_shared_use makes all uses of a name have the
 * same parameters), those the first use created: the node creators maps
 * its name to (one lookup, not a scan of every parameter per later use). */
static void mark_node_params(const Sema *s, Env *creators, const SemaNode *n, bool *reached)
{
    const SemaModel *m = s->m;
    if (n->kind == SN_PARAM)
        reached[n->first_param] = true;
    for (int j = 0; j < n->nparams; j++)
        reached[n->first_param + j] = true;
    if (!s->sharing || n->kind != SN_CALL || !n->builtin->pname || n->nparams > 0)
        return;
    const Binding *first = env_find(creators, n->name);
    if (!first)
        return;
    const SemaNode *c = &m->nodes[first->v.i];
    for (int j = 0; j < c->nparams; j++)
        reached[c->first_param + j] = true;
}

/* With sharing on, each named call's name ("E", "blocks.0.attn") -> the
 * node of its first use, the one that created the parameters all its uses
 * read (.v.i).  Names are unique per scope but where uses share them
 * (sema_names.c), so the parameters named "E.*" are exactly that node's. */
static Env shared_creators(Sema *s)
{
    Env creators = {0};
    const SemaModel *m = s->m;
    for (int i = 0; s->sharing && i < m->nnodes; i++) {
        const SemaNode *n = &m->nodes[i];
        if (n->kind == SN_CALL && n->builtin->pname && n->nparams > 0 && !env_find(&creators, n->name))
            env_bind(s, &creators, n->name, (Value){.kind = VAL_INT, .node = -1, .i = i}, n->at, AST_BIND);
    }
    return creators;
}

/* The slot of span at in a set of the places warned at (said[], hashed
 * into slots[cap], slot -> index + 1, 0: empty): where it is, or the
 * empty one it would take. */
static int said_slot(const Span *said, const int *slots, int cap, Span at)
{
    uint64_t h = (uint64_t)at.begin * 0x9E3779B97F4A7C15ull ^ (uint64_t)at.end * 0xC2B2AE3D27D4EB4Full;
    int i = (int)((h >> 32) & (uint64_t)(cap - 1));
    while (slots[i] && !(said[slots[i] - 1].begin == at.begin && said[slots[i] - 1].end == at.end))
        i = (i + 1) & (cap - 1);
    return i;
}

/* A parameter the loss does not read is never trained: a metric's own
 * dense layer (metric mse(dense(x, 1), y) reported a test error of random
 * weights), a head the loss forgot, a leftover.  One warning per call that
 * created such parameters, at the call; only for a model that trains. */
static void warn_untrained_params(Sema *s)
{
    const SemaModel *m = s->m;
    if (m->loss < 0 || !m->train.decl || m->nparams == 0)
        return;
    bool *read = ARENA_ARRAY(s->arena, bool, m->nnodes + 1);
    read[m->loss] = true;
    mark_reads(m, read);
    bool *reached = ARENA_ARRAY(s->arena, bool, m->nparams + 1);  /* zeroed, as the arena's are */
    Env creators = shared_creators(s);
    for (int i = 0; i < m->nnodes; i++)
        if (read[i])
            mark_node_params(s, &creators, &m->nodes[i], reached);
    /* One warning per place (a layer used often): the places warned at,
     * hashed (comparing each with every earlier one made a model of many
     * warnings quadratic); made at the first warning. */
    Span *said = NULL;
    int *said_slots = NULL, cap = 16, nsaid = 0;
    for (int i = 0; i < m->nnodes; i++) {
        const SemaNode *n = &m->nodes[i];
        int first = -1, count = 0;
        for (int j = 0; j < n->nparams; j++)
            if (!reached[n->first_param + j]) {
                count++;
                if (first < 0)
                    first = n->first_param + j;
            }
        if (count == 0)
            continue;
        if (!said) {
            while (cap < 2 * (m->nnodes + 1))
                cap *= 2;
            said = ARENA_ARRAY(s->arena, Span, m->nnodes + 1);
            said_slots = ARENA_ARRAY(s->arena, int, cap);  /* zeroed: every slot empty */
        }
        int slot = said_slot(said, said_slots, cap, n->at);
        if (said_slots[slot])
            continue;
        said_slots[slot] = nsaid + 1;
        said[nsaid++] = n->at;
        const char *what = n->kind == SN_CALL ? n->builtin->name : "param";
        if (count == 1)
            diag_warning(s->diag, n->at, "%s creates '%s', which the loss does not use: training never changes it",
                         what, m->params[first].name);
        else
            diag_warning(s->diag, n->at, "%s creates '%s' and %d more parameter%s, which the loss does not use: "
                         "training never changes them", what, m->params[first].name, count - 1, count == 2 ? "" : "s");
    }
}

static void check_model(Sema *s, const AstNode *model)
{
    /* Without an input nothing in the body has a batch: say only that. */
    bool has_input = false;
    for (const AstNode *item = model->layer.body; item; item = item->next)
        has_input |= item->kind == AST_INPUT;
    if (!has_input) {
        sema_error(s, model->layer.name_span, "model '%s' has no input; declare one with 'input NAME: f32[...]'",
                   model->layer.name);
        return;
    }
    Env env = {.prefix = ""};
    const AstNode *seen_output = NULL, *seen_loss = NULL;
    for (const AstNode *item = model->layer.body; item; item = item->next) {
        s->top = item;
        switch (item->kind) {
        case AST_INPUT:
        case AST_TARGET: model_declare(s, &env, item); break;
        case AST_BIND: model_bind(s, &env, item); break;
        case AST_PARAM_STMT: env.row = item->pdecl.name; sema_param_stmt(s, &env, item); break;
        case AST_OUTPUT:
        case AST_LOSS:
        case AST_METRIC: model_result(s, &env, item, &seen_output, &seen_loss); break;
        default: break;  /* the grammar admits nothing else in a model */
        }
    }
    s->top = NULL;
    if (!seen_output)
        sema_error(s, model->layer.name_span, "model '%s' has no output", model->layer.name);
}

SemaModel *sema_check(const AstProgram *prog, Arena *a, DiagSink *diag)
{
    int errors_before = diag->errors;
    Sema s = {.arena = a, .diag = diag, .prog = prog, .globals = {.prefix = ""}, .errors_at_start = errors_before};
    SemaModel *m = ARENA_NEW(a, SemaModel);
    m->output = m->loss = -1;
    s.m = m;
    index_top_names(&s);

    const AstNode *model = NULL, *train = NULL;
    for (const AstNode *d = prog->decls; d; d = d->next) {
        if (d->kind == AST_LAYER)
            s.nlayers++;
    }
    s.layers = ARENA_ARRAY(a, const AstNode *, s.nlayers + 1);
    s.poisoned = ARENA_ARRAY(a, bool, s.nlayers + 1);
    s.nlayers = 0;
    for (const AstNode *d = prog->decls; d; d = d->next) {
        /* Calls name layers unambiguously, so a layer that clashes with a
         * constant or a built-in is still usable; of two layers, the first. */
        if (d->kind == AST_LAYER) {
            Clash clash = check_toplevel_name(&s, d->layer.name, d->layer.name_span);
            if (clash != CLASH_LAYER) {
                /* A layer named like a built-in stays registered so its body is
                 * still checked, but its uses yield silent errors. */
                s.poisoned[s.nlayers] = clash == CLASH_BUILTIN;
                s.layers[s.nlayers++] = d;
            }
        }
        if (d->kind == AST_MODEL) {
            if (model) {
                sema_error(&s, d->layer.name_span, "a file describes one model; '%s' is a second",
                           d->layer.name);
                diag_note(diag, model->layer.name_span, "the first model is '%s'", model->layer.name);
            } else {
                check_toplevel_name(&s, d->layer.name, d->layer.name_span);
                model = d;
            }
        }
        if (d->kind == AST_TRAIN) {
            if (train) {
                sema_error(&s, sema_keyword_span(d), "a file has at most one train block");
                diag_note(diag, sema_keyword_span(train), "the first train block is here");
            } else {
                train = d;
            }
        }
    }
    check_constants(&s);
    sema_names(&s);
    if (!model) {
        if (diag->errors == errors_before)
            diag_error(diag, SPAN_NONE, "no model in this file; describe one with 'model NAME { ... }'");
        return NULL;
    }
    m->name = model->layer.name;
    m->at = model->layer.name_span;
    check_model(&s, model);
    sema_param_refs_finish(&s);
    if (train) {
        sema_train(&s, train);
        if (m->loss < 0 && diag->errors == errors_before) {
            sema_error(&s, sema_keyword_span(train), "the train block needs a loss, but model '%s' has none", m->name);
            diag_note(diag, model->layer.name_span, "add 'loss cross_entropy(...)' or another loss to this model");
        }
    }
    if (diag->errors == errors_before) {  /* after the parameter references: they may read an input */
        warn_unused_inputs(&s, model);
        warn_untrained_params(&s);
    }
    return diag->errors == errors_before ? m : NULL;
}

int64_t sema_param_count(const SemaModel *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->nparams; i++)
        n += shape_elems(&m->params[i].shape);
    return n;
}
