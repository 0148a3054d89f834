/* sema_train.c — the train block: its settings and their ranges.  (Whether
 * the data source fits the model is the source's own rule in builtins.c.) */
#include "sema_internal.h"

#include <string.h>

#include "nnc_runtime.h"   /* RT_MAX_*: the command line's limits are the same */

/* The train block's settings.  Those with an example take a call of a
 * built-in of their class (ctx: how it is evaluated; example: the call
 * "must be a call such as" shows); the rest take integers. */
static const struct {
    const char  *name;
    BuiltinClass cls;
    EvalCtx      ctx;
    const char  *example;
} settings[] = {
    {"data", BC_DATA, EV_DATA, "mnist(\"mnist\")"},
    {"optimizer", BC_OPTIMIZER, EV_OPTIMIZER, "sgd(lr: 0.1)"},
    {"schedule", BC_SCHEDULE, EV_SCHEDULE, "cosine(warmup: 100)"},
    {.name = "batch"}, {.name = "epochs"}, {.name = "steps"}, {.name = "seed"}, {.name = "eval_every"},
};
enum { NSETTINGS = sizeof settings / sizeof *settings };

/* An integer setting within [lo, hi]. */
static bool int_setting(Sema *s, const AstNode *st, int64_t lo, int64_t hi, int64_t *out)
{
    Value v = sema_eval(s, &s->globals, st->def.value, EV_CONST);
    if (v.kind == VAL_ERROR)
        return false;
    if (v.kind != VAL_INT)
        return sema_error(s, st->def.value->span, "%s must be an integer, found %s", st->def.name,
                          sema_value_kind(&v));
    if (v.i < lo || v.i > hi)
        return sema_error(s, st->def.value->span, "%s must be between %lld and %lld, found %lld", st->def.name,
                          (long long)lo, (long long)hi, (long long)v.i);
    *out = v.i;
    return true;
}

/* "lr = 0.1": an argument of the optimizer, schedule or data source written
 * as a setting.  Notes which call it belongs in, the one the block makes
 * when that one takes it: optimizer = sgd(lr: 0.1). */
static void note_argument_setting(Sema *s, const AstNode *train, const AstNode *st)
{
    for (int h = 0; h < NSETTINGS; h++) {   /* (no argument's name is in two classes: their order shows nowhere) */
        if (!settings[h].example)
            continue;   /* an integer setting */
        /* the built-ins the block calls for this setting (once each, even when set twice) */
        bool made[B_COUNT] = {0};
        for (const AstNode *o = train->train.items; o; o = o->next) {
            const Builtin *b = o->def.value->kind == AST_CALL && strcmp(o->def.name, settings[h].name) == 0
                             ? builtin_lookup(o->def.value->call.callee) : NULL;
            if (b)
                made[b - builtin_table] = true;
        }
        /* the block's own call, when it takes the argument, else the first that does */
        const Builtin *found = NULL;
        int at = 0;
        for (int i = 0; i < B_COUNT; i++) {
            const Builtin *b = &builtin_table[i];
            if (b->cls != settings[h].cls)
                continue;
            int np = builtin_nparams(b), k = 0;
            while (k < np && strcmp(b->params[k].name, st->def.name) != 0)
                k++;
            if (k == np)
                continue;
            if (!found || made[i])
                found = b, at = k;
            if (made[i])
                break;
        }
        if (!found)
            continue;
        const char *src = s->diag->src->text;
        Span v = st->def.value->span;
        bool shown = source_quotable(s->diag->src, v, 30);
        diag_note(s->diag, SPAN_NONE, "'%s' is an argument of the %s, not a setting: %s = %s(%s%s: %.*s)", st->def.name,
                  builtin_class_name(settings[h].cls), settings[h].name, found->name, at ? "..., " : "",
                  st->def.name, shown ? (int)(v.end - v.begin) : 3, shown ? src + v.begin : "...");
        return;
    }
}

void sema_train(Sema *s, const AstNode *train)
{
    SemaTrain *t = &s->m->train;
    t->decl = train;
    const AstNode *seen[NSETTINGS] = {0};
    bool misspelt[NSETTINGS] = {0};
    for (const AstNode *st = train->train.items; st; st = st->next) {
        int k = 0;
        while (k < NSETTINGS && strcmp(settings[k].name, st->def.name) != 0)
            k++;
        if (k == NSETTINGS) {
            sema_error(s, st->def.name_span, "unknown train setting '%s'", st->def.name);
            const char *names[NSETTINGS];
            for (int j = 0; j < NSETTINGS; j++)
                names[j] = settings[j].name;
            const char *best = suggest_among(st->def.name, names, NSETTINGS);
            if (best) {
                diag_note(s->diag, SPAN_NONE, "did you mean '%s'?", best);
                /* Count the misspelling as the setting, so its absence is not reported too. */
                for (int j = 0; j < NSETTINGS; j++)
                    if (names[j] == best && !seen[j])
                        seen[j] = st, misspelt[j] = true;
            } else {
                diag_note(s->diag, SPAN_NONE, "the settings are data, optimizer, schedule, batch, epochs, steps, seed and eval_every");
                note_argument_setting(s, train, st);
            }
            continue;
        }
        if (seen[k] && misspelt[k]) {
            seen[k] = st;
            misspelt[k] = false;
        }
        if (seen[k]) {
            sema_error(s, st->def.name_span, "'%s' is set twice", st->def.name);
            diag_note(s->diag, seen[k]->def.name_span, "first set here");
            continue;
        }
        seen[k] = st;
        const char *key = settings[k].name;
        if (settings[k].example) {  /* data, optimizer, schedule */
            const AstNode *e = st->def.value;
            if (e->kind != AST_CALL) {
                Value v = sema_eval(s, &s->globals, e, EV_CONST);
                if (v.kind != VAL_ERROR)
                    sema_error(s, e->span, "%s must be a call such as %s", key, settings[k].example);
                continue;
            }
            Value v = sema_eval(s, &s->globals, e, settings[k].ctx);
            if (v.kind != VAL_SPEC)
                continue;
            const Builtin **slot = k == 0 ? &t->data : k == 1 ? &t->optimizer : &t->schedule;
            Value *args = k == 0 ? t->data_args : k == 1 ? t->optimizer_args : t->schedule_args;
            *slot = v.spec->b;
            memcpy(args, v.spec->args, sizeof v.spec->args);
        } else if (strcmp(key, "batch") == 0) {
            int_setting(s, st, 1, RT_MAX_BATCH, &t->batch);
        } else if (strcmp(key, "epochs") == 0) {
            int_setting(s, st, 1, RT_MAX_EPOCHS, &t->epochs);
        } else if (strcmp(key, "steps") == 0) {
            int_setting(s, st, 1, RT_MAX_STEPS, &t->steps);
        } else if (strcmp(key, "seed") == 0) {
            int_setting(s, st, 0, INT64_MAX, &t->seed);
        } else {
            int_setting(s, st, 1, INT64_C(1) << 40, &t->eval_every);
        }
    }
    Span kw = sema_keyword_span(train);
    if (!seen[0])
        sema_error(s, kw, "the train block has no data; add data = mnist(\"...\"), csv(...), npz(...) or text(...)");
    if (!seen[1])
        sema_error(s, kw, "the train block has no optimizer; add optimizer = sgd(lr: 0.1) or another");
    if (seen[4] && seen[5] && !misspelt[4] && !misspelt[5]) {
        sema_error(s, seen[5]->def.name_span, "give epochs or steps, not both");
        diag_note(s->diag, seen[4]->def.name_span, "epochs is set here");
    } else if (!seen[4] && !seen[5]) {
        sema_error(s, kw, "the train block says neither how many epochs nor how many steps to train");
    }
    if (t->data == &builtin_table[B_TEXT] && seen[4] && !misspelt[4])
        sema_error(s, seen[4]->def.name_span, "text data is sampled in random windows and has no epochs; use steps");
    if (!t->batch && !seen[3])
        t->batch = 32;
}
