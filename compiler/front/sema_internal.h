/* sema_internal.h — state shared by the files of semantic analysis:
 * sema.c (driver, declarations, models), sema_names.c (name resolution and
 * parameter naming), sema_expr.c (expressions, calls, layer instantiation),
 * sema_train.c (the train block).
 */
#ifndef NNC_SEMA_INTERNAL_H
#define NNC_SEMA_INTERNAL_H

#include "sema.h"
#include "../util/suggest.h"

/* A name visible in a scope instance and what it holds. */
typedef struct Binding {
    const char *name;
    Value       v;
    Span        at;       /* where it was defined */
    AstKind     kind;     /* AST_CONST, AST_PARAM, AST_INPUT, AST_TARGET or AST_BIND; in Sema.tops
                           * also AST_LAYER or AST_MODEL (check_toplevel_name tells layers apart by it) */
} Binding;

/* The names of one scope instance: the constants, a model body, or one use
 * of a layer (whose parameters get their own prefix). */
typedef struct Env {
    Binding    *b;
    int         n, cap;
    int        *index;      /* past ENV_LINEAR names: open addressing, slot -> binding + 1 (0: empty),
                             * so a file of 100,000 constants binds and finds each in O(1) */
    int         cap_index;  /* slots, a power of two at least twice n */
    const char *prefix;     /* parameter-name prefix: "" or "blocks.0." */
    const char *row;        /* what the statement being checked binds ("x", "output") */
} Env;

/* One use of a layer being checked, for "in layer 'block' used here" notes. */
typedef struct Frame {
    const AstNode *layer;
    Span           call;
} Frame;

enum {
    SEMA_MAX_DEPTH = 64,        /* layers nested in layers */
    SEMA_MAX_NODES = 100000,    /* operations in one model, user layers expanded */
    LAYER_MAX_PARAMS = 64,      /* parameters of one user layer */
    SIG_MAX = LAYER_MAX_PARAMS + 2, /* room for any signature: a user layer's, a built-in's, or
                                     * repeat's count, layer and x and the layer's others */
};

typedef struct Sema {
    Arena          *arena;
    DiagSink       *diag;
    const AstProgram *prog;
    Env             globals;      /* constants */
    Env             tops;         /* each top-level name's first declaration: .at its name, .kind its kind (.v ERR_VALUE) */
    const AstNode **layers;       /* user layer declarations */
    bool           *poisoned;     /* per layer: in a call cycle or misnamed (reported); uses are silent errors */
    int             nlayers;
    SemaModel      *m;
    int             cap_nodes, cap_params, cap_metrics, cap_metric_names;
    Frame           stack[SEMA_MAX_DEPTH];
    int             depth;
    bool            too_large;    /* reported "model too large" once */
    int             levels;       /* sema_eval calls under way: expression levels, through layer uses */
    bool            too_deep;     /* reported more than AST_MAX_DEPTH of them once */
    int             errors_at_start; /* diag->errors before checking: "no errors so far" */
    const AstNode  *label_reader; /* the argument of a loss or metric being evaluated: it may name a target */
    bool            sharing;      /* two calls share a name: (sema_names.c); else no parameter name recurs */
    int64_t         registrations;/* of parameters, created or shared: SemaParam.touched's clock */
    int64_t         shared_hits;  /* registrations that found the parameter made: sema_shared_use's cue */
    Env             under;        /* with sharing: each start of a parameter's name up to a '.'
                                   * ("E.", "enc.", "enc.dense.") -> .v.i, its list in under_lists */
    struct ParamList *under_lists;/* per such prefix: the parameters named under it, in order */
    int             nunder, cap_under;
    struct ParamRef *refs;        /* parameter references not found when evaluated (sema_params.c) */
    int             nrefs, cap_refs;
    bool            in_label_stmt;/* checking a 'loss' or 'metric' statement: anything in it may read a target */
    const AstNode  *top;          /* the model body's statement being checked (SemaInner.top) */
    int             cap_inner;
} Sema;

/* sema.c */
bool sema_error(Sema *s, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
Binding *env_find(Env *env, const char *name);
/* Binds the value of "NAME = ..." (item) in env after the checks every
 * scope shares: no constant is rebound, and only tensors and numbers bind. */
void sema_bind_result(Sema *s, Env *env, const AstNode *item, Value v);
/* The model whose body defines name (for "not visible here" notes), or NULL. */
const AstNode *sema_model_defining(Sema *s, const char *name);
/* The keyword of a train block, where its own errors point. */
Span     sema_keyword_span(const AstNode *decl);
#define ERR_VALUE ((Value){.kind = VAL_ERROR, .node = -1})
void     env_bind(Sema *s, Env *env, const char *name, Value v, Span at, AstKind kind);
int      sema_layer_index(const Sema *s, const char *name);
int      sema_add_node(Sema *s, const SemaNode *n);
/* The model-level call under way, where what at makes is charged
 * (SemaNode.use, SemaParam.use): the outermost layer use, else at itself. */
static inline Span sema_use_site(const Sema *s, Span at) { return s->depth > 0 ? s->stack[0].call : at; }
/* Makes room for element n of an arena array of *cap elements, doubling
 * when full; returns the (possibly moved) array.  Old copies stay in the arena. */
void    *sema_grow(Sema *s, void *old, int n, int *cap, size_t elem);
/* One rule for every number the model holds in f32 (tensor literals,
 * parameters' values, a tensor's scalar operand, real arguments of layers,
 * losses, optimizers): false, reported at at, when x is too large for f32.
 * what names the number ("softmax's temperature"), or is NULL for a
 * tensor's element. */
bool    sema_f32_fits(Sema *s, Span at, const char *what, double x);
/* For a number that must be greater than 0 (and is): false, reported at
 * at, when it is 0 or subnormal once rounded to f32, where dividing by it or scaling by
 * it would make every value inf or nan. */
bool    sema_f32_positive(Sema *s, Span at, const char *what, double x);
/* The same rule for a number of either sign that is divided by (a
 * divisor): its magnitude must be at least the smallest normal f32. */
bool    sema_f32_normal(Sema *s, Span at, const char *what, double x);
/* Names someone might have meant, for "did you mean" notes. */
const char *sema_suggest(Sema *s, Env *env, const char *name, bool calls);
/* The "did you mean" note for sema_suggest's answer: at its declaration
 * when it is a top-level name of the file (a constant, a layer), else (a
 * built-in) without a place. */
void sema_note_suggestion(Sema *s, const char *best);


/* sema_names.c */
void sema_names(Sema *s);

/* sema_expr.c */
typedef enum EvalCtx { EV_EXPR, EV_LOSS, EV_METRIC, EV_DATA, EV_OPTIMIZER, EV_SCHEDULE, EV_CONST, EV_TOKENIZER } EvalCtx;
Value sema_eval(Sema *s, Env *env, const AstNode *e, EvalCtx ctx);
/* Maps the arguments of a call to the parameters of a signature.
 * slot[i] receives the AST_ARG for parameter i or NULL; *name_arg the
 * 'name:' argument if allowed.  Reports misuse when report is set. */
bool sema_bind_args(Sema *s, const AstNode *call, const char *what, const char *const *pnames,
                    int np, bool allow_name, const AstNode **slot, const AstNode **name_arg, bool report);
/* The parameter names of the callee of call (a built-in or a user layer) and
 * whether it takes 'name:'.  repeat(count, layer, x, ...) takes the repeated
 * layer's parameters after its first too, given to every copy.  Returns false
 * for an unknown callee. */
bool sema_signature(Sema *s, const AstNode *call, const char **pnames, int *np, bool *named,
                    const Builtin **b, int *layer);
/* The type of an input or target declaration; what names it in messages
 * ("input 'x'").  Such a value is batched: sema_parse_type leaves .batched
 * to the caller but keeps room for the batch among the axes. */
bool sema_parse_type(Sema *s, const AstNode *type, const char *what, TensorType *out);
const char *sema_type_str(Sema *s, const TensorType *t);
const char *sema_value_kind(const Value *v);

/* sema_params.c */
/* Registers parameter name (the full name) and returns its index in
 * SemaModel.params; a name already registered is shared, after checking
 * that the shapes agree (else reported at both, -1). *created says which. */
/* After a use of a layer (built-in or user) whose parameters are named
 * prefix..., created from first_param on, the registrations counted from
 * since (and s->shared_hits then): whether it has exactly the parameters an
 * earlier use of the same name has (reported if not). */
bool  sema_shared_use(Sema *s, const char *prefix, int first_param, int64_t since, int64_t hits, Span at);
int   sema_add_param(Sema *s, const char *name, const Shape *shape, InitKind init, int64_t fan_in, double scale,
                     const double *data, Span at, bool *created);
/* param NAME: f32[...] = INIT in env's scope: the parameter and its binding. */
void  sema_param_stmt(Sema *s, Env *env, const AstNode *st);
/* A dotted name in an expression, "embed.weight": the parameter of that
 * name in env's scope, as a node. */
Value sema_param_ref(Sema *s, Env *env, const AstNode *e, EvalCtx ctx);
/* Reports the references that never found their parameter (after the model). */
void  sema_param_refs_finish(Sema *s);
/* A tensor literal [[1, 2], [3, 4]] as a constant node. */
Value sema_literal(Sema *s, Env *env, const AstNode *list);
/* zeros, ones, normal, uniform: not built-ins, they mean something only
 * as the whole initial value of a 'param' statement. */
bool  sema_is_init_name(const char *name);
/* A list of integers (VAL_LIST) where a tensor is needed: a constant node. */
Value sema_list_tensor(Sema *s, Env *env, const Value *v, Span at);

/* sema_train.c */
void sema_train(Sema *s, const AstNode *train);

#endif
