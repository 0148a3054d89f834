/* sema_train.c — the train block: its settings, and whether its data source
 * can feed the model's inputs and targets. */
#include "sema_internal.h"

#include <string.h>

static const char *const settings[] = {"data", "optimizer", "schedule", "batch", "epochs",
                                       "steps", "seed", "eval_every"};
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

/* The single input and single target a data source feeds, or NULL. */
static const SemaNode *only(Sema *s, SemaNodeKind kind, const Spec *data, int *count)
{
    const SemaNode *found = NULL;
    *count = 0;
    for (int i = 0; i < s->m->nnodes; i++)
        if (s->m->nodes[i].kind == kind) {
            found = &s->m->nodes[i];
            ++*count;
        }
    if (*count != 1) {
        sema_error(s, data->at, "%s data feeds one %s, but the model declares %d", data->b->name,
                   kind == SN_INPUT ? "input" : "target", *count);
        return NULL;
    }
    return found;
}

static void check_data(Sema *s, const Spec *d)
{
    int n;
    const SemaNode *in = only(s, SN_INPUT, d, &n);
    const SemaNode *tg = only(s, SN_TARGET, d, &n);
    if (!in || !tg)
        return;
    const char *it = sema_type_str(s, &in->type), *tt = sema_type_str(s, &tg->type);
    switch ((BuiltinId)(d->b - builtin_table)) {
    case B_MNIST:
        if (in->type.elem != ELEM_F32 || shape_elems(&in->type.shape) != 784) {
            sema_error(s, d->at, "mnist gives 28x28 = 784 pixels per image, but input '%s' is %s", in->name, it);
            diag_note(s->diag, in->at, "declare it as f32[784], f32[28, 28] or f32[1, 28, 28]");
        }
        if (tg->type.elem != ELEM_INDEX || tg->type.shape.rank != 0 || tg->type.classes != 10) {
            sema_error(s, d->at, "mnist gives one digit 0-9 per image, but target '%s' is %s", tg->name, tt);
            diag_note(s->diag, tg->at, "declare it as class(10)");
        }
        break;
    case B_TEXT: {
        int64_t block = d->args[1].i;
        bool ok_in = in->type.elem == ELEM_INDEX && in->type.shape.rank == 1;
        bool ok_tg = tg->type.elem == ELEM_INDEX && tg->type.shape.rank == 1;
        if (!ok_in || !ok_tg) {
            const SemaNode *bad = ok_in ? tg : in;
            sema_error(s, d->at, "text gives windows of characters, token(V)[T], but %s '%s' is %s",
                       bad == in ? "input" : "target", bad->name, bad == in ? it : tt);
            break;
        }
        if (in->type.shape.dim[0] != block || tg->type.shape.dim[0] != block) {
            const SemaNode *bad = in->type.shape.dim[0] != block ? in : tg;
            sema_error(s, d->at, "text gives windows of %lld characters, but %s '%s' is %s", (long long)block,
                       bad == in ? "input" : "target", bad->name, bad == in ? it : tt);
            if (in->type.shape.dim[0] == tg->type.shape.dim[0])
                diag_note(s->diag, SPAN_NONE, "use block: %lld to match the model", (long long)in->type.shape.dim[0]);
            break;
        }
        if (in->type.classes != tg->type.classes)
            sema_error(s, d->at, "input '%s' (%s) and target '%s' (%s) must share one vocabulary", in->name, it,
                       tg->name, tt);
        break;
    }
    case B_CSV:
        if (in->type.elem != ELEM_F32)
            sema_error(s, d->at, "csv gives real-valued features, but input '%s' is %s", in->name, it);
        if (tg->type.elem == ELEM_INDEX ? tg->type.shape.rank != 0 : shape_elems(&tg->type.shape) != 1)
            sema_error(s, d->at, "csv gives one target value per row, but target '%s' is %s", tg->name, tt);
        break;
    default:
        break;  /* only data sources reach here */
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
        while (k < NSETTINGS && strcmp(settings[k], st->def.name) != 0)
            k++;
        if (k == NSETTINGS) {
            sema_error(s, st->def.name_span, "unknown train setting '%s'", st->def.name);
            const char *best = suggest_among(st->def.name, settings, NSETTINGS);
            if (best) {
                diag_note(s->diag, SPAN_NONE, "did you mean '%s'?", best);
                /* Count the misspelling as the setting, so its absence is not reported too. */
                for (int j = 0; j < NSETTINGS; j++)
                    if (settings[j] == best && !seen[j])
                        seen[j] = st, misspelt[j] = true;
            } else {
                diag_note(s->diag, SPAN_NONE, "the settings are data, optimizer, schedule, batch, epochs, steps, seed and eval_every");
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
        const char *key = settings[k];
        if (k <= 2) {  /* data, optimizer, schedule */
            EvalCtx ctx = k == 0 ? EV_DATA : k == 1 ? EV_OPTIMIZER : EV_SCHEDULE;
            const AstNode *e = st->def.value;
            if (e->kind != AST_CALL) {
                Value v = sema_eval(s, &s->globals, e, EV_CONST);
                if (v.kind != VAL_ERROR)
                    sema_error(s, e->span, "%s must be a call such as %s", key,
                               k == 0 ? "mnist(\"mnist\")" : k == 1 ? "sgd(lr: 0.1)" : "cosine(warmup: 100)");
                continue;
            }
            Value v = sema_eval(s, &s->globals, e, ctx);
            if (v.kind != VAL_SPEC)
                continue;
            const Builtin **slot = k == 0 ? &t->data : k == 1 ? &t->optimizer : &t->schedule;
            Value *args = k == 0 ? t->data_args : k == 1 ? t->optimizer_args : t->schedule_args;
            *slot = v.spec->b;
            memcpy(args, v.spec->args, sizeof v.spec->args);
            /* Declarations with errors would make every comparison noise. */
            if (k == 0 && s->diag->errors == s->errors_at_start)
                check_data(s, v.spec);
        } else if (strcmp(key, "batch") == 0) {
            int_setting(s, st, 1, 1 << 20, &t->batch);
        } else if (strcmp(key, "epochs") == 0) {
            int_setting(s, st, 1, 1000000, &t->epochs);
        } else if (strcmp(key, "steps") == 0) {
            int_setting(s, st, 1, INT64_C(1) << 40, &t->steps);
        } else if (strcmp(key, "seed") == 0) {
            int_setting(s, st, 0, INT64_MAX, &t->seed);
        } else {
            int_setting(s, st, 1, INT64_C(1) << 40, &t->eval_every);
        }
    }
    Span kw = sema_keyword_span(train);
    if (!seen[0])
        sema_error(s, kw, "the train block has no data; add data = mnist(\"...\"), csv(...) or text(...)");
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
