/* grad.c — the derivative of every differentiable op, as IR.
 *
 * Each rule receives the forward node and g, the gradient of the loss with
 * respect to its result, and contributes the gradient of each operand
 * (ad_contribute ignores operands that need none).  Operands that were
 * broadcast get their contribution summed back to their shape.  The rule's
 * formula is in ops.def; dumps print it beside every node built here.
 * (No argument list has two node-building calls: their order would be the
 * compiler's choice.)
 */
#include <math.h>
#include <string.h>

#include "autodiff.h"
#include "ir_internal.h"

static const IrNode *N(IrGradCtx *ad, int i) { return &ad->g->nodes[i]; }
static int X(IrGradCtx *ad, int node, int k) { return ad->g->nodes[node].in[k]; }
static const IrShape *S(IrGradCtx *ad, int v) { return &ad->g->nodes[v].shape; }

/* contribute g (already of the result's shape) to operand k, unbroadcast */
static void give(IrGradCtx *ad, int node, int k, int g)
{
    int x = X(ad, node, k);
    if (!ad->needs[x])
        return;
    ad_contribute(ad, x, ad_unbroadcast(ad, g, S(ad, x)));
}

/* ---- one operand ---------------------------------------------------------------- */

void grad_neg(IrGradCtx *ad, int node, int g) { give(ad, node, 0, ad_un(ad, IR_NEG, g)); }
void grad_exp(IrGradCtx *ad, int node, int g) { give(ad, node, 0, ad_bin(ad, IR_MUL, g, node)); }
void grad_log(IrGradCtx *ad, int node, int g) { give(ad, node, 0, ad_bin(ad, IR_DIV, g, X(ad, node, 0))); }

void grad_sqrt(IrGradCtx *ad, int node, int g)
{
    give(ad, node, 0, ad_bin(ad, IR_DIV, g, ad_bin(ad, IR_MUL, node, ad_const(ad, 2))));
}

/* d/dx x^(-1/2) = -1/2 x^(-3/2) = -1/2 y^3 */
void grad_rsqrt(IrGradCtx *ad, int node, int g)
{
    IrAttr cube = {.f = 3};
    int y3 = ad_op(ad, IR_POW, &node, 1, &cube);
    give(ad, node, 0, ad_bin(ad, IR_MUL, g, ad_bin(ad, IR_MUL, y3, ad_const(ad, -0.5))));
}

void grad_tanh(IrGradCtx *ad, int node, int g)
{
    int y2 = ad_bin(ad, IR_MUL, node, node);
    int d = ad_bin(ad, IR_SUB, ad_const(ad, 1), y2);
    give(ad, node, 0, ad_bin(ad, IR_MUL, g, d));
}

void grad_erf(IrGradCtx *ad, int node, int g)
{
    int x = X(ad, node, 0);
    int e = ad_un(ad, IR_EXP, ad_un(ad, IR_NEG, ad_bin(ad, IR_MUL, x, x)));
    give(ad, node, 0, ad_bin(ad, IR_MUL, g, ad_bin(ad, IR_MUL, e, ad_const(ad, 2 / sqrt(M_PI)))));
}

void grad_relu(IrGradCtx *ad, int node, int g)
{
    int pos = ad_bin(ad, IR_GT, X(ad, node, 0), ad_const(ad, 0));
    give(ad, node, 0, ad_bin(ad, IR_MUL, g, pos));
}

void grad_sigmoid(IrGradCtx *ad, int node, int g)
{
    int d = ad_bin(ad, IR_MUL, node, ad_bin(ad, IR_SUB, ad_const(ad, 1), node));
    give(ad, node, 0, ad_bin(ad, IR_MUL, g, d));
}

void grad_sin(IrGradCtx *ad, int node, int g)
{
    give(ad, node, 0, ad_bin(ad, IR_MUL, g, ad_un(ad, IR_COS, X(ad, node, 0))));
}

void grad_cos(IrGradCtx *ad, int node, int g)
{
    give(ad, node, 0, ad_un(ad, IR_NEG, ad_bin(ad, IR_MUL, g, ad_un(ad, IR_SIN, X(ad, node, 0)))));
}

void grad_pow(IrGradCtx *ad, int node, int g)
{
    double c = N(ad, node)->a.f;
    int x = X(ad, node, 0);
    IrAttr a = {.f = c - 1};
    int d = c == 1 ? ad_const(ad, 1) : c == 2 ? x : ad_op(ad, IR_POW, &x, 1, &a);
    give(ad, node, 0, ad_bin(ad, IR_MUL, g, ad_bin(ad, IR_MUL, d, ad_const(ad, c))));
}

/* ---- two or three operands -------------------------------------------------------- */

void grad_add(IrGradCtx *ad, int node, int g)
{
    give(ad, node, 0, g);
    give(ad, node, 1, g);
}

void grad_sub(IrGradCtx *ad, int node, int g)
{
    give(ad, node, 0, g);
    if (ad->needs[X(ad, node, 1)])
        give(ad, node, 1, ad_un(ad, IR_NEG, g));
}

void grad_mul(IrGradCtx *ad, int node, int g)
{
    int x = X(ad, node, 0), y = X(ad, node, 1);
    if (ad->needs[x])
        give(ad, node, 0, ad_bin(ad, IR_MUL, g, y));
    if (ad->needs[y])
        give(ad, node, 1, ad_bin(ad, IR_MUL, g, x));
}

/* d(x/y)/dy = -x/y^2 = -(x/y)/y: reuses the result */
void grad_div(IrGradCtx *ad, int node, int g)
{
    int x = X(ad, node, 0), y = X(ad, node, 1);
    if (ad->needs[x])
        give(ad, node, 0, ad_bin(ad, IR_DIV, g, y));
    if (ad->needs[y])
        give(ad, node, 1, ad_un(ad, IR_NEG, ad_bin(ad, IR_DIV, ad_bin(ad, IR_MUL, g, node), y)));
}

/* MAX and MIN: the winner takes g, ties to operand 0 (as in sc_max and
 * sc_min).  Operand 0 wins where a >= b, operand 1 where b > a: MAX passes
 * (x, y), MIN (y, x). */
static void give_winner(IrGradCtx *ad, int node, int g, int a, int b)
{
    if (ad->needs[X(ad, node, 0)])
        give(ad, node, 0, ad_bin(ad, IR_MUL, g, ad_bin(ad, IR_GE, a, b)));
    if (ad->needs[X(ad, node, 1)])
        give(ad, node, 1, ad_bin(ad, IR_MUL, g, ad_bin(ad, IR_GT, b, a)));
}

void grad_max(IrGradCtx *ad, int node, int g) { give_winner(ad, node, g, X(ad, node, 0), X(ad, node, 1)); }
void grad_min(IrGradCtx *ad, int node, int g) { give_winner(ad, node, g, X(ad, node, 1), X(ad, node, 0)); }

void grad_select(IrGradCtx *ad, int node, int g)
{
    int c = X(ad, node, 0);
    int zero = ad_const(ad, 0);
    if (ad->needs[X(ad, node, 1)])
        give(ad, node, 1, ad_op(ad, IR_SELECT, (int[]){c, g, zero}, 3, NULL));
    if (ad->needs[X(ad, node, 2)])
        give(ad, node, 2, ad_op(ad, IR_SELECT, (int[]){c, zero, g}, 3, NULL));
}

/* ---- reductions ------------------------------------------------------------------ */

void grad_sum(IrGradCtx *ad, int node, int g)
{
    IrAttr a = {.shape = *S(ad, X(ad, node, 0))};
    give(ad, node, 0, ad_op(ad, IR_BROADCAST, &g, 1, &a));
}

/* broadcast(g) / count, where count includes the runtime batch size when
 * the batch axis was reduced: that division is the mean over the batch */
void grad_mean(IrGradCtx *ad, int node, int g)
{
    int x = X(ad, node, 0);
    const IrShape *xs = S(ad, x);
    uint64_t axes = (uint64_t)N(ad, node)->a.i[0];
    double count = 1;
    bool batch = false;
    for (int i = 0; i < xs->rank; i++)
        if (axes >> i & 1) {
            if (xs->dim[i] == IR_BATCH)
                batch = true;
            else
                count *= (double)xs->dim[i];
        }
    int scaled = ad_bin(ad, IR_MUL, g, ad_const(ad, 1 / count));
    if (batch)
        scaled = ad_bin(ad, IR_DIV, scaled, ad_op(ad, IR_BATCH_SIZE, NULL, 0, NULL));
    IrAttr a = {.shape = *xs};
    give(ad, node, 0, ad_op(ad, IR_BROADCAST, &scaled, 1, &a));
}

/* the gradient goes to the first maximum of each row: one_hot(argmax) · g */
void grad_rmax(IrGradCtx *ad, int node, int g)
{
    int x = X(ad, node, 0);
    const IrShape *xs = S(ad, x);
    int am = ad_op(ad, IR_ARGMAX, &x, 1, NULL);
    IrShape rows = *xs;
    rows.rank--;
    IrAttr ra = {.shape = rows};
    am = ad_op(ad, IR_RESHAPE, &am, 1, &ra);
    IrAttr oh = {.i = {xs->dim[xs->rank - 1]}};
    int mask = ad_op(ad, IR_ONE_HOT, &am, 1, &oh);
    give(ad, node, 0, ad_bin(ad, IR_MUL, mask, g));
}

/* ---- layout -------------------------------------------------------------------------- */

void grad_reshape(IrGradCtx *ad, int node, int g)
{
    IrAttr a = {.shape = *S(ad, X(ad, node, 0))};
    give(ad, node, 0, ad_op(ad, IR_RESHAPE, &g, 1, &a));
}

void grad_permute(IrGradCtx *ad, int node, int g)
{
    const IrNode *n = N(ad, node);
    IrAttr a = {0};
    for (int i = 0; i < n->shape.rank; i++)
        a.i[n->a.i[i]] = i;
    give(ad, node, 0, ad_op(ad, IR_PERMUTE, &g, 1, &a));
}

void grad_broadcast(IrGradCtx *ad, int node, int g) { give(ad, node, 0, g); }

void grad_slice(IrGradCtx *ad, int node, int g)
{
    const IrNode *n = N(ad, node);
    int64_t ax = n->a.i[0], full = S(ad, X(ad, node, 0))->dim[ax];
    IrAttr a = {.i = {ax, n->a.i[1], full - n->a.i[1] - n->a.i[2]}};
    give(ad, node, 0, ad_op(ad, IR_PAD, &g, 1, &a));
}

void grad_pad(IrGradCtx *ad, int node, int g)
{
    const IrNode *n = N(ad, node);
    int64_t ax = n->a.i[0];
    IrAttr a = {.i = {ax, n->a.i[1], S(ad, X(ad, node, 0))->dim[ax]}};
    give(ad, node, 0, ad_op(ad, IR_SLICE, &g, 1, &a));
}

void grad_concat(IrGradCtx *ad, int node, int g)
{
    int64_t ax = N(ad, node)->a.i[0], first = S(ad, X(ad, node, 0))->dim[ax];
    IrAttr a0 = {.i = {ax, 0, first}}, a1 = {.i = {ax, first, S(ad, X(ad, node, 1))->dim[ax]}};
    if (ad->needs[X(ad, node, 0)])
        give(ad, node, 0, ad_op(ad, IR_SLICE, &g, 1, &a0));
    if (ad->needs[X(ad, node, 1)])
        give(ad, node, 1, ad_op(ad, IR_SLICE, &g, 1, &a1));
}

/* Operand k's gradient, the matmul of in[0] and in[1] with flags fl.  An
 * operand without leading axes in a product with them (a weight applied at
 * every example and position) gets the sum over them; with ta and no tb
 * the leading axes are contiguous with k, so one `lead` matmul contracts
 * over both at once instead of writing a product per matrix and summing. */
static void give_matmul(IrGradCtx *ad, int node, int k, int in[2], IrAttr *fl)
{
    const IrShape *x = S(ad, in[0]), *y = S(ad, in[1]);
    if (fl->i[0] && !fl->i[1] && S(ad, X(ad, node, k))->rank == 2 && x->rank > 2 && x->rank == y->rank) {
        bool same = true;
        for (int d = 0; d < x->rank - 1; d++)
            same &= x->dim[d] == y->dim[d];
        fl->i[2] = same;
    }
    give(ad, node, k, ad_op(ad, IR_MATMUL, in, 2, fl));
}

/* C = op(A)·op(B):  d op(A) = G·op(B)ᵀ,  d op(B) = op(A)ᵀ·G, written as
 * matmuls with transpose flags so no transpose is materialised.  For a
 * lead matmul C = Σ_l A_lᵀ·B_l:  dA_l = B_l·Gᵀ,  dB_l = A_l·G. */
void grad_matmul(IrGradCtx *ad, int node, int g)
{
    const IrNode *n = N(ad, node);
    int a = n->in[0], b = n->in[1];
    bool ta = ir_mm_ta(n), tb = ir_mm_tb(n), lead = ir_mm_lead(n);
    if (ad->needs[a]) {
        IrAttr fl = {.i = {lead ? 0 : ta ? tb : 0, lead ? 1 : ta ? 1 : !tb}};
        int in[2] = {lead || ta ? b : g, lead || ta ? g : b};
        give_matmul(ad, node, 0, in, &fl);
    }
    if (ad->needs[b]) {
        IrAttr fl = {.i = {lead ? 0 : tb ? 1 : !ta, lead ? 0 : tb ? ta : 0}};
        int in[2] = {lead || !tb ? a : g, lead || !tb ? g : a};
        give_matmul(ad, node, 1, in, &fl);
    }
}

/* ---- indices and windows ----------------------------------------------------------- */

void grad_gather(IrGradCtx *ad, int node, int g)
{
    int table = X(ad, node, 0), ids = X(ad, node, 1);
    IrAttr a = {.i = {S(ad, table)->dim[0]}};
    give(ad, node, 0, ad_op(ad, IR_SCATTER_ADD, (int[]){g, ids}, 2, &a));
}

void grad_scatter_add(IrGradCtx *ad, int node, int g)
{
    give(ad, node, 0, ad_op(ad, IR_GATHER, (int[]){g, X(ad, node, 1)}, 2, NULL));
}

void grad_windows(IrGradCtx *ad, int node, int g)
{
    const IrNode *n = N(ad, node);
    IrAttr a = ir_window(n);
    a.shape = *S(ad, X(ad, node, 0));
    give(ad, node, 0, ad_op(ad, IR_WINDOWS_T, &g, 1, &a));
}

void grad_windows_t(IrGradCtx *ad, int node, int g)
{
    const IrNode *n = N(ad, node);
    IrAttr a = ir_window(n);  /* no fill */
    give(ad, node, 0, ad_op(ad, IR_WINDOWS, &g, 1, &a));
}

void grad_patches(IrGradCtx *ad, int node, int g)
{
    const IrNode *n = N(ad, node);
    IrAttr a = ir_window(n);
    a.shape = *S(ad, X(ad, node, 0));
    give(ad, node, 0, ad_op(ad, IR_PATCHES_T, &g, 1, &a));
}

void grad_patches_t(IrGradCtx *ad, int node, int g)
{
    const IrNode *n = N(ad, node);
    IrAttr a = ir_window(n);
    give(ad, node, 0, ad_op(ad, IR_PATCHES, &g, 1, &a));
}

/* Where the maxima are does not move under a small change of x (ties
 * aside), so x gets nothing; y's values are picked, and the adjoint of
 * picking is adding back at the same places. */
void grad_pool_max(IrGradCtx *ad, int node, int g)
{
    const IrNode *n = N(ad, node);
    IrAttr a = ir_window(n);
    give(ad, node, 1, ad_op(ad, IR_POOL_MAX_T, (int[]){X(ad, node, 0), g}, 2, &a));
}

void grad_pool_max_t(IrGradCtx *ad, int node, int g)
{
    const IrNode *n = N(ad, node);
    IrAttr a = ir_window(n);
    give(ad, node, 1, ad_op(ad, IR_POOL_MAX, (int[]){X(ad, node, 0), g}, 2, &a));
}
