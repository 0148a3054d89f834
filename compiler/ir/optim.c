/* optim.c — optimizers and schedules as IR; see optim.h.
 *
 * The formulas are torch.optim's (docs/ir.md gives them):
 *   sgd        p -= lr·(g + wd·p)
 *   momentum   v = μ·v + (g + wd·p);  p -= lr·v   (nesterov: p -= lr·(g + wd·p + μ·v))
 *   adam       m = β1·m + (1-β1)·g';  s = β2·s + (1-β2)·g'²;  g' = g + wd·p
 *              p -= lr · (m / (1-β1^t)) / (sqrt(s / (1-β2^t)) + ε),  t = step + 1
 *   adamw      p -= lr·wd·p first, then adam with g' = g
 * Gradient clipping by global norm (clip > 0) scales every g by
 * min(1, clip / (‖g‖ + 1e-6)) first, as torch.nn.utils.clip_grad_norm_.
 */
#include "optim.h"
#include "ir_internal.h"  /* ir_counter */

#include <math.h>
#include <string.h>

typedef struct Opt {
    IrGraph *g;
    Span     at;
} Opt;

static int C(Opt *o, double v) { return ir_const(o->g, v, o->at); }
static int B(Opt *o, IrOp op, int x, int y) { return ir_binary(o->g, op, x, y, o->at); }
static int U(Opt *o, IrOp op, int x) { return ir_unary(o->g, op, x, o->at); }

/* A step counter (checkpoints keep the step, the run sets total_steps);
 * L->step is the step's node. */
static int scalar_input(Opt *o, Lowered *L, RtCounter counter)
{
    int id = ir_counter(o->g, counter);
    if (counter == RT_COUNTER_STEP)
        L->step = id;
    return id;
}

/* Helpers taking constants as numbers, so that every expression below has
 * at most one node-building call per argument list (C leaves their order
 * open, and node numbers must not depend on the compiler). */
static int Bc(Opt *o, IrOp op, int x, double c) { return B(o, op, x, C(o, c)); }
static int cB(Opt *o, IrOp op, double c, int x)
{
    int k = C(o, c);
    return B(o, op, k, x);
}

/* base^e for a constant base > 0, as exp(e · ln base); base 0 gives 0 for e > 0 */
static int const_pow(Opt *o, double base, int e)
{
    return U(o, IR_EXP, Bc(o, IR_MUL, e, log(base)));
}

/* The learning rate at this step. */
static int schedule(Opt *o, Lowered *L, const SemaTrain *t, double lr)
{
    if (!t->schedule || t->schedule == &builtin_table[B_CONSTANT])
        return C(o, lr);
    int step = scalar_input(o, L, RT_COUNTER_STEP);
    if (t->schedule == &builtin_table[B_STEP]) {
        /* lr · γ^floor(step / every) */
        int k = U(o, IR_FLOOR, Bc(o, IR_DIV, step, (double)t->schedule_args[0].i));
        return Bc(o, IR_MUL, const_pow(o, t->schedule_args[1].f, k), lr);
    }
    /* cosine: lr·(step+1)/warmup while warming up, then from lr down to
     * min_lr along half a cosine over the remaining steps */
    double warm = (double)t->schedule_args[0].i, min_lr = t->schedule_args[1].f;
    int total = scalar_input(o, L, RT_COUNTER_TOTAL_STEPS);
    int span = Bc(o, IR_MAX, Bc(o, IR_SUB, total, warm), 1);
    int progress = Bc(o, IR_MIN, B(o, IR_DIV, Bc(o, IR_SUB, step, warm), span), 1);
    int wave = Bc(o, IR_ADD, U(o, IR_COS, Bc(o, IR_MUL, progress, M_PI)), 1);
    int decayed = Bc(o, IR_ADD, Bc(o, IR_MUL, wave, 0.5 * (lr - min_lr)), min_lr);
    if (warm <= 0)
        return decayed;
    int warming = Bc(o, IR_MUL, Bc(o, IR_ADD, step, 1), lr / warm);
    int in[3] = {cB(o, IR_GT, warm, step), warming, decayed};
    return ir_add(o->g, IR_SELECT, in, 3, NULL, o->at);
}

static int state(Opt *o, const char *pname, const char *kind, int like)
{
    const char *name = arena_printf(o->g->arena, "optimizer.%s.%s", pname, kind);
    return ir_input(o->g, ROLE_STATE, name, o->g->ftype, &o->g->nodes[like].shape, SPAN_NONE);
}

static void update(Opt *o, int input, int value)
{
    ir_output(o->g, o->g->nodes[input].a.name, value, OUT_UPDATE, input);
}

int optim_append(Lowered *L, const SemaTrain *t, const int *grads)
{
    Opt o = {.g = &L->g, .at = t->decl ? (Span){t->decl->span.begin, t->decl->span.begin + 5} : SPAN_NONE};
    IrGraph *g = o.g;
    const Builtin *opt = t->optimizer;
    const Value *a = t->optimizer_args;
    BuiltinId id = (BuiltinId)(opt - builtin_table);
    double lr = a[0].f;
    /* argument positions per builtins.c: sgd(lr, weight_decay, clip),
     * momentum(lr, momentum, nesterov, weight_decay, clip),
     * adam/adamw(lr, beta1, beta2, eps, weight_decay, clip) */
    double wd = id == B_SGD ? a[1].f : id == B_MOMENTUM ? a[3].f : a[4].f;
    double clip = id == B_SGD ? a[2].f : id == B_MOMENTUM ? a[4].f : a[5].f;
    int n = L->nparams;
    int *gr = ARENA_ARRAY(g->arena, int, n + 1);
    memcpy(gr, grads, sizeof(int) * (size_t)n);

    if (clip > 0) {
        int total = -1;
        for (int i = 0; i < n; i++) {
            IrShape scalar = {0};
            int sq = B(&o, IR_MUL, gr[i], gr[i]);
            sq = ir_reduce(g, IR_SUM, sq, ((uint64_t)1 << g->nodes[gr[i]].shape.rank) - 1, o.at);
            sq = ir_reshape(g, sq, &scalar, o.at);
            total = total < 0 ? sq : B(&o, IR_ADD, total, sq);
        }
        int norm = Bc(&o, IR_ADD, U(&o, IR_SQRT, total), 1e-6);
        int scale = Bc(&o, IR_MIN, cB(&o, IR_DIV, clip, norm), 1);
        for (int i = 0; i < n; i++)
            gr[i] = B(&o, IR_MUL, gr[i], scale);
    }

    int lr_t = schedule(&o, L, t, lr);
    int step = scalar_input(&o, L, RT_COUNTER_STEP);
    int t1 = Bc(&o, IR_ADD, step, 1);
    int bc1 = -1, bc2 = -1;
    if (id == B_ADAM || id == B_ADAMW) {
        bc1 = cB(&o, IR_SUB, 1, const_pow(&o, a[1].f, t1));
        bc2 = cB(&o, IR_SUB, 1, const_pow(&o, a[2].f, t1));
    }
    for (int i = 0; i < n && !g->error; i++) {
        int p = L->param[i];
        const char *pname = g->nodes[p].a.name;
        int grad = gr[i];
        if (wd > 0 && id != B_ADAMW)
            grad = B(&o, IR_ADD, grad, Bc(&o, IR_MUL, p, wd));
        int step_dir;  /* what lr multiplies */
        if (id == B_SGD) {
            step_dir = grad;
        } else if (id == B_MOMENTUM) {
            double mu = a[1].f;
            int v = state(&o, pname, "momentum_buffer", p);
            int v2 = B(&o, IR_ADD, Bc(&o, IR_MUL, v, mu), grad);
            update(&o, v, v2);
            step_dir = a[2].b ? B(&o, IR_ADD, grad, Bc(&o, IR_MUL, v2, mu)) : v2;
        } else {  /* adam, adamw */
            double b1 = a[1].f, b2 = a[2].f, eps = a[3].f;
            int m = state(&o, pname, "exp_avg", p), s = state(&o, pname, "exp_avg_sq", p);
            int m_old = Bc(&o, IR_MUL, m, b1);
            int m2 = B(&o, IR_ADD, m_old, Bc(&o, IR_MUL, grad, 1 - b1));
            int s_old = Bc(&o, IR_MUL, s, b2);
            int s2 = B(&o, IR_ADD, s_old, Bc(&o, IR_MUL, B(&o, IR_MUL, grad, grad), 1 - b2));
            update(&o, m, m2);
            update(&o, s, s2);
            int denom = Bc(&o, IR_ADD, U(&o, IR_SQRT, B(&o, IR_DIV, s2, bc2)), eps);
            step_dir = B(&o, IR_DIV, B(&o, IR_DIV, m2, bc1), denom);
        }
        int base = p;
        if (id == B_ADAMW && wd > 0)  /* decoupled decay: p · (1 - lr·wd) */
            base = B(&o, IR_MUL, p, cB(&o, IR_SUB, 1, Bc(&o, IR_MUL, lr_t, wd)));
        update(&o, p, B(&o, IR_SUB, base, B(&o, IR_MUL, step_dir, lr_t)));
    }
    update(&o, step, t1);
    for (int i = L->g.ngrad; i < g->n; i++)  /* name the update's nodes after the optimizer */
        if (!g->nodes[i].layer && g->nodes[i].op != IR_INPUT)
            g->nodes[i].layer = opt->name;
    return g->error ? -1 : 0;
}
