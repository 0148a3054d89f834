/* gradcheck.c — finite differences against autodiff; see gradcheck.h.
 *
 * Two graphs of the model in f64: the forward pass with the loss, as
 * lowered, and the same with the backward pass appended and carried through
 * the pipeline's passes to the fused stage (every pass nnc_compile_built
 * runs before the memory plan), so that a pass's rewrite of a gradient is
 * checked as well as autodiff's rules.  The second runs once and gives
 * every gradient; the first runs twice per check, at p + h and p − h.
 * Each parameter tensor is checked at a few random entries and along one
 * random direction v (∇·v against (L(p + hv) − L(p − hv)) / 2h), which
 * tests the whole tensor at once.
 */
#include "gradcheck.h"
#include "memcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/fill.h"
#include "../ir/interp.h"
#include "../ir/ir_internal.h"
#include "../ir/lower.h"
#include "../passes/pipeline.h"
#include "../util/clock.h"
#include "nnc_runtime.h"

/* A run of the interpreter failed: memory ran out, reported here at the
 * value being made (-2: the input's, exit 1 as the memory checks' errors),
 * or a bug (-1, *err says what). */
static int run_failed(NncFront *f, const IrEval *ev, const char **err)
{
    if (!ev->out_of_memory) {
        *err = ev->error;
        return -1;
    }
    diag_error(&f->diag, ir_eval_error_at(ev), "%s", ev->error);
    diag_note(&f->diag, SPAN_NONE, "--gradcheck holds every value of the step in double; a smaller batch "
              "(--batch N) takes less");
    return -2;
}

/* The loss of the forward graph at the current parameter values in *out:
 * 0, or run_failed's code. */
static int loss_at(NncFront *f, IrEval *ev, int loss, double *out, const char **err)
{
    if (ir_eval_run(ev) != 0)
        return run_failed(f, ev, err);
    *out = ev->val[loss][0];
    return 0;
}

typedef struct Check {
    double max_abs, max_rel;
    int    checked, failed;
} Check;

static void compare(Check *c, const GradcheckOptions *o, double fd, double ad)
{
    double abs_err = fabs(fd - ad);
    double scale = fmax(fabs(fd), fabs(ad));
    double rel = scale > 0 ? abs_err / scale : 0;
    c->max_abs = fmax(c->max_abs, abs_err);
    c->max_rel = fmax(c->max_rel, rel);
    c->checked++;
    if (!(abs_err <= o->atol || rel <= o->rtol))
        c->failed++;
}

/* "0.05 s", "51 s", "2.4 min", "1.5 h" */
static const char *duration_str(double s, char *buf, size_t len)
{
    if (s < 1)
        snprintf(buf, len, "%.1g s", s);
    else if (s < 60)
        snprintf(buf, len, "%.0f s", s);
    else if (s < 3600)
        snprintf(buf, len, "%.1f min", s / 60);
    else
        snprintf(buf, len, "%.1f h", s / 3600);
    return buf;
}

/* The checks evaluate the loss twice for each entry and direction of each
 * parameter tensor (three times as often when a step h is retried), after
 * the gradients' run, each evaluation `each` seconds as one took: past
 * o->note_after in all, a note says how long, and the batch that takes
 * about note_after (the time grows with the batch).  No bound refuses the
 * run: an ordinary check of a GPT at batch 2 (examples/shakespeare.nn,
 * 107 s of CPU) takes as long as xor at batch 16777216 (about 144 s). */
static void note_duration(const NncFront *f, const GradcheckOptions *o, double each)
{
    int64_t evals = (int64_t)f->model->nparams * (o->entries + 1) * 2;
    double total = each * (double)(evals + 3);   /* the gradients' run: the loss and its backward pass, about 3 */
    if (!o->log || !(total > o->note_after))
        return;
    char took[32];
    fprintf(o->log, "%s: note: --gradcheck takes about %s: the gradients and %lld evaluations of the loss at batch "
            "%lld, %.2g s each (up to 3 times as many when a step h is retried); each tensor's row is printed when it "
            "is checked\n",
            f->src.name, duration_str(total, took, sizeof took), (long long)evals, (long long)o->batch, each);
    int64_t fits = (int64_t)((double)o->batch * o->note_after / total);
    if (fits >= 1 && fits < o->batch)
        fprintf(o->log, "%s: note: a batch of about %lld takes %s (--batch N)\n", f->src.name, (long long)fits,
                duration_str(o->note_after, took, sizeof took));
    fflush(o->log);
}

int nnc_gradcheck(NncFront *f, const GradcheckOptions *o, FILE *out, const char **err)
{
    const SemaModel *m = f->model;
    const Source *src = &f->src;
    if (m->loss < 0) {
        *err = "the model has no loss to differentiate";
        return -1;
    }
    Arena arena;
    arena_init(&arena);
    LowerOptions lo = {.ftype = IR_F64, .training = false, .seed = (int64_t)o->seed};
    Lowered fwd;
    NncCompiled back;
    int failures = -1;
    IrEval fe = {0}, ge = {0};
    if (lower_model(m, src, &arena, &lo, &fwd, err) != 0
        || nnc_compile_parts(m, src, &arena, IR_F64, STEP_GRADIENTS, false, STAGE_FUSED, o->batch, &back, err) != 0)
        goto done;
    const Lowered *full = &back.step.L;
    const int *grads = back.step.grads;  /* the outputs grad.<parameter>, found again after the passes */
    if (nnc_check_gradcheck_memory(f, &full->g, &fwd.g, o->batch) != 0) {
        failures = -2;
        goto done;
    }
    /* the loss first: its time says how long the rest takes, before the gradients' run */
    ir_eval_init(&fe, &fwd.g, o->batch);
    fe.fail_at = o->interp_fail_at;
    nnc_fill_params(m, &fwd, &fe, o->seed);
    nnc_fill_batch(&fwd, &fe, o->seed);
    double base, again;
    if ((failures = loss_at(f, &fe, fwd.loss, &base, err)) != 0)
        goto done;
    /* one evaluation of the loss, timed on the second: the first touched
     * every value's memory (xor at batch 16777216, under load: 28 s, then 18 s) */
    double t0 = clock_now();
    if ((failures = loss_at(f, &fe, fwd.loss, &again, err)) != 0)
        goto done;
    double each = clock_now() - t0;

    fprintf(out, "gradcheck %s: f64, batch %lld, loss %.10g, central differences with h = %g\n", m->name,
            (long long)o->batch, base, o->h);
    fprintf(out, "each tensor: %d random entries and one random direction; pass if relative error <= %g "
            "or absolute error <= %g\n\n", o->entries, o->rtol, o->atol);
    size_t w = strlen("parameter");
    for (int i = 0; i < m->nparams; i++)
        if (strlen(m->params[i].name) > w)
            w = strlen(m->params[i].name);
    fprintf(out, "%-*s  %-14s  %12s  %12s  %s\n", (int)w, "parameter", "shape", "max abs err", "max rel err", "result");
    fflush(out);
    note_duration(f, o, each);
    ir_eval_init(&ge, &full->g, o->batch);
    ge.fail_at = o->interp_fail_at;
    nnc_fill_params(m, full, &ge, o->seed);
    nnc_fill_batch(full, &ge, o->seed);
    if (ir_eval_run(&ge) != 0) {
        failures = run_failed(f, &ge, err);
        goto done;
    }
    failures = 0;
    for (int i = 0; i < m->nparams && failures >= 0; i++) {
        int p = fwd.param[i];
        int64_t n = ir_elems(&fwd.g.nodes[p].shape, o->batch);
        double *pv = fe.val[p];
        const double *gv = ge.val[grads[i]];
        Check c = {0};
        for (int k = 0; k <= o->entries; k++) {
            bool direction = k == o->entries;
            double *v = calloc((size_t)(n ? n : 1), sizeof(double));
            if (!v) {  /* nnc_check_gradcheck_memory counted it: this is past the estimate */
                diag_error(&f->diag, m->params[i].use, "--gradcheck ran out of memory for a direction of '%s'",
                           m->params[i].name);
                failures = -2;
                break;
            }
            double dot = 0;
            if (direction) {
                for (int64_t e = 0; e < n; e++) {
                    v[e] = rt_normal(o->seed, 5000 + (uint64_t)i, (uint64_t)e);
                    dot += v[e] * gv[e];
                }
            } else {
                int64_t e = (int64_t)(ir_uniform(o->seed, 4000 + (uint64_t)i, 0, (uint64_t)k) * (double)n);
                v[e] = 1;
                dot = gv[e];
            }
            /* A step across a kink of relu or a max (a unit whose input is
             * within h of zero or of a tie) spoils the difference; such a
             * crossing becomes unlikely as h shrinks, a wrong rule does not. */
            double best_fd = NAN;
            for (int attempt = 0, ok = 0; attempt < 3 && !ok; attempt++) {
                double h = o->h * pow(0.1, attempt);
                for (int64_t e = 0; e < n; e++)
                    pv[e] += h * v[e];
                double up = 0, down = 0;
                int rc = loss_at(f, &fe, fwd.loss, &up, err);
                for (int64_t e = 0; e < n; e++)
                    pv[e] -= 2 * h * v[e];
                if (rc == 0)
                    rc = loss_at(f, &fe, fwd.loss, &down, err);
                for (int64_t e = 0; e < n; e++)
                    pv[e] += h * v[e];
                if (rc != 0) {
                    failures = rc;
                    break;
                }
                double fd = (up - down) / (2 * h);
                if (isnan(best_fd) || fabs(fd - dot) < fabs(best_fd - dot))
                    best_fd = fd;
                Check probe = {0};
                compare(&probe, o, fd, dot);
                ok = probe.failed == 0;
            }
            free(v);
            if (failures < 0)
                break;
            compare(&c, o, best_fd, dot);
        }
        if (failures < 0)
            break;
        StrBuf shape = {0};
        ir_shape_print(&shape, &fwd.g.nodes[p].shape);
        fprintf(out, "%-*s  %-14s  %12.3e  %12.3e  %s\n", (int)w, m->params[i].name, sb_cstr(&shape), c.max_abs,
                c.max_rel, c.failed ? "FAIL" : "ok");
        fflush(out);
        sb_free(&shape);
        failures += c.failed > 0;
    }
    if (failures == 0)
        fprintf(out, "\nall %d parameter tensors pass\n", m->nparams);
    else if (failures > 0)
        fprintf(out, "\n%d of %d parameter tensors FAIL\n", failures, m->nparams);
done:
    ir_eval_free(&fe);
    ir_eval_free(&ge);
    if (failures == -1 && *err)
        *err = strdup(*err);  /* outlives the arena; the caller exits soon after */
    arena_free(&arena);
    return failures;
}
