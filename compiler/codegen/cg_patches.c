/* cg_patches.c — the channels-last window kernels: PATCHES and PATCHES_T
 * (convolution's rows and their adjoint), POOL_MAX and POOL_MAX_T (max
 * pooling in one pass and its scatter back), POOL_ROWS_T (a convolution's
 * weight and bias gradient through its max pooling).
 *
 * Images are [..., H, W, C], channels innermost, so every inner loop runs
 * over the C channels of one pixel: contiguous in memory, and vectorized by
 * LLVM (the CNN's second layer has 32 channels, two zmm).  An item is one
 * row of the result: (plane, oy) for PATCHES and POOL_MAX, (plane, y) for
 * the adjoints, which gather what falls on their row instead of scattering
 * from windows that overlap, so each element of a result is computed by one
 * item in one order and the split over threads never changes a bit.
 * interp.c's eval_patches* / eval_pool_max* add in the same orders.
 */
#include "cg_internal.h"

/* image [..., H, W, C], windows [..., Ho, Wo, ·] */
static CgWindow cl_of(const IrNode *n, const IrShape *img, const IrShape *win)
{
    int r = img->rank;
    const IrWindow *w = &n->a.win;
    return (CgWindow){img->dim[r - 3], img->dim[r - 2], img->dim[r - 1], win->dim[r - 3], win->dim[r - 2],
                      w->k[0], w->k[1], w->stride[0], w->stride[1], w->pad[0], w->pad[1]};
}

static LLVMValueRef add(Cg *c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWAdd(c->b, a, b, ""); }
static LLVMValueRef mul(Cg *c, LLVMValueRef a, int64_t b) { return LLVMBuildNSWMul(c->b, a, cg_i64(c, b), ""); }

/* Opens `if (cond)`; returns the block to close it with if_end. */
static LLVMBasicBlockRef if_begin(Cg *c, LLVMValueRef cond, const char *name)
{
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->ctx, c->fn, name);
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "endif");
    LLVMBuildCondBr(c->b, cond, then, after);
    LLVMPositionBuilderAtEnd(c->b, then);
    return after;
}

static void if_end(Cg *c, LLVMBasicBlockRef after)
{
    LLVMBuildBr(c->b, after);
    LLVMPositionBuilderAtEnd(c->b, after);
}

static LLVMValueRef slot(Cg *c, LLVMTypeRef t, LLVMValueRef buf, LLVMValueRef i)
{
    return LLVMBuildGEP2(c->b, t, buf, &i, 1, "");
}

/* PATCHES: item (plane, oy) writes [ox, ky, kx, c] = x[oy·sh + ky − ph, ox·sw + kx − pw, c], or 0 */
static void body_patches(Cg *c, int v, LLVMValueRef item)
{
    const IrNode *n = N(c, v);
    int x = n->in[0];
    CgWindow G = cl_of(n, &N(c, x)->shape, &n->shape);
    LLVMValueRef plane = LLVMBuildSDiv(c->b, item, cg_i64(c, G.ho), "plane");
    LLVMValueRef oy = LLVMBuildSRem(c->b, item, cg_i64(c, G.ho), "oy");
    LLVMValueRef src_plane = mul(c, plane, G.h * G.w * G.c);
    LLVMValueRef dst_row = mul(c, item, G.wo * G.kh * G.kw * G.c);
    CgLoop lx = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.wo), "ox");
    CgLoop ly = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.kh), "ky");
    LLVMValueRef iy = LLVMBuildNSWSub(c->b, add(c, mul(c, oy, G.sh), ly.iv), cg_i64(c, G.ph), "iy");
    CgLoop lk = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.kw), "kx");
    LLVMValueRef ix = LLVMBuildNSWSub(c->b, add(c, mul(c, lx.iv, G.sw), lk.iv), cg_i64(c, G.pw), "ix");
    LLVMValueRef inside = cg_in_image(c, iy, ix, G.h, G.w);
    LLVMValueRef pix = add(c, mul(c, LLVMBuildSelect(c->b, inside, iy, cg_i64(c, 0), ""), G.w),
                           LLVMBuildSelect(c->b, inside, ix, cg_i64(c, 0), ""));
    LLVMValueRef src = add(c, src_plane, mul(c, pix, G.c));
    LLVMValueRef dst = add(c, dst_row, mul(c, add(c, mul(c, lx.iv, G.kh * G.kw), add(c, mul(c, ly.iv, G.kw), lk.iv)), G.c));
    CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.c), "c");
    LLVMValueRef val = LLVMBuildSelect(c->b, inside, cg_load(c, x, add(c, src, lc.iv)), cg_real(c, 0), "");
    cg_store(c, v, add(c, dst, lc.iv), val);
    cg_loop_end(c, &lc);
    cg_loop_end(c, &lk);
    cg_loop_end(c, &ly);
    cg_loop_end(c, &lx);
}

/* PATCHES_T: item (plane, y) sums, for each pixel of its row, the patch
 * elements that read it: (ky, kx) in order, those whose window exists */
static void body_patches_t(Cg *c, int v, LLVMValueRef item)
{
    const IrNode *n = N(c, v);
    int w = n->in[0];
    CgWindow G = cl_of(n, &n->shape, &N(c, w)->shape);
    int64_t kkc = G.kh * G.kw * G.c;
    LLVMValueRef plane = LLVMBuildSDiv(c->b, item, cg_i64(c, G.h), "plane");
    LLVMValueRef y = LLVMBuildSRem(c->b, item, cg_i64(c, G.h), "y");
    LLVMValueRef dst_row = mul(c, item, G.w * G.c);
    LLVMValueRef src_plane = mul(c, plane, G.ho * G.wo * kkc);
    CgLoop lx = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.w), "x");
    LLVMValueRef dst = add(c, dst_row, mul(c, lx.iv, G.c));
    CgLoop z = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.c), "z");
    cg_store(c, v, add(c, dst, z.iv), cg_real(c, 0));
    cg_loop_end(c, &z);
    CgLoop ly = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.kh), "ky");
    LLVMValueRef ny = LLVMBuildNSWSub(c->b, add(c, y, cg_i64(c, G.ph)), ly.iv, "ny");
    LLVMValueRef oy = LLVMBuildSDiv(c->b, ny, cg_i64(c, G.sh), "oy");
    LLVMValueRef ok_y = LLVMBuildAnd(c->b, cg_in_range(c, oy, G.ho),
                                     LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, ny, cg_i64(c, 0), ""),
                                                  LLVMBuildICmp(c->b, LLVMIntEQ, LLVMBuildSRem(c->b, ny, cg_i64(c, G.sh), ""),
                                                                cg_i64(c, 0), ""), ""), "");
    CgLoop lk = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.kw), "kx");
    LLVMValueRef nx = LLVMBuildNSWSub(c->b, add(c, lx.iv, cg_i64(c, G.pw)), lk.iv, "nx");
    LLVMValueRef ox = LLVMBuildSDiv(c->b, nx, cg_i64(c, G.sw), "ox");
    LLVMValueRef ok_x = LLVMBuildAnd(c->b, cg_in_range(c, ox, G.wo),
                                     LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, nx, cg_i64(c, 0), ""),
                                                  LLVMBuildICmp(c->b, LLVMIntEQ, LLVMBuildSRem(c->b, nx, cg_i64(c, G.sw), ""),
                                                                cg_i64(c, 0), ""), ""), "");
    LLVMBasicBlockRef after = if_begin(c, LLVMBuildAnd(c->b, ok_y, ok_x, ""), "read");
    LLVMValueRef src = add(c, add(c, src_plane, mul(c, add(c, mul(c, oy, G.wo), ox), kkc)),
                           mul(c, add(c, mul(c, ly.iv, G.kw), lk.iv), G.c));
    CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.c), "c");
    LLVMValueRef at = add(c, dst, lc.iv);
    cg_store(c, v, at, LLVMBuildFAdd(c->b, cg_load(c, v, at), cg_load(c, w, add(c, src, lc.iv)), ""));
    cg_loop_end(c, &lc);
    if_end(c, after);
    cg_loop_end(c, &lk);
    cg_loop_end(c, &ly);
    cg_loop_end(c, &lx);
}

/* The first maximum of window (oy, ox) of x, per channel: best[c] its
 * value, at[c] its place ky·kw + kx, pick[c] (when y is not x) y there.
 * Padding never wins; a NaN beats any number and the first NaN stays. */
static void window_argmax(Cg *c, const IrNode *n, const CgWindow *G, LLVMValueRef src_plane, LLVMValueRef oy,
                          LLVMValueRef ox, LLVMValueRef best, LLVMValueRef at, LLVMValueRef pick)
{
    int x = n->in[0], y = n->in[1];
    LLVMValueRef seen = cg_alloca(c, c->t_i1, NULL, "seen");
    LLVMBuildStore(c->b, LLVMConstInt(c->t_i1, 0, 0), seen);
    CgLoop ly = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G->kh), "ky");
    LLVMValueRef iy = LLVMBuildNSWSub(c->b, add(c, mul(c, oy, G->sh), ly.iv), cg_i64(c, G->ph), "iy");
    CgLoop lk = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G->kw), "kx");
    LLVMValueRef ix = LLVMBuildNSWSub(c->b, add(c, mul(c, ox, G->sw), lk.iv), cg_i64(c, G->pw), "ix");
    LLVMBasicBlockRef after = if_begin(c, cg_in_image(c, iy, ix, G->h, G->w), "pixel");
    LLVMValueRef first = LLVMBuildNot(c->b, LLVMBuildLoad2(c->b, c->t_i1, seen, ""), "first");
    LLVMValueRef src = add(c, src_plane, mul(c, add(c, mul(c, iy, G->w), ix), G->c));
    LLVMValueRef place = LLVMBuildTrunc(c->b, add(c, mul(c, ly.iv, G->kw), lk.iv), c->t_i32, "place");
    CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G->c), "c");
    LLVMValueRef v = cg_load(c, x, add(c, src, lc.iv));
    LLVMValueRef bp = slot(c, c->t_real, best, lc.iv);
    LLVMValueRef cur = LLVMBuildLoad2(c->b, c->t_real, bp, "cur");
    LLVMValueRef nan_wins = LLVMBuildAnd(c->b, LLVMBuildFCmp(c->b, LLVMRealUNO, v, v, ""),
                                         LLVMBuildFCmp(c->b, LLVMRealORD, cur, cur, ""), "");
    LLVMValueRef take = LLVMBuildOr(c->b, first, LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, cur, ""), nan_wins, ""),
                                    "take");
    LLVMBuildStore(c->b, LLVMBuildSelect(c->b, take, v, cur, ""), bp);
    if (at) {
        LLVMValueRef ap = slot(c, c->t_i32, at, lc.iv);
        LLVMBuildStore(c->b, LLVMBuildSelect(c->b, take, place, LLVMBuildLoad2(c->b, c->t_i32, ap, ""), ""), ap);
    }
    if (pick) {
        LLVMValueRef pp = slot(c, c->t_real, pick, lc.iv);
        LLVMValueRef yv = cg_load(c, y, add(c, src, lc.iv));
        LLVMBuildStore(c->b, LLVMBuildSelect(c->b, take, yv, LLVMBuildLoad2(c->b, c->t_real, pp, ""), ""), pp);
    }
    cg_loop_end(c, &lc);
    LLVMBuildStore(c->b, LLVMConstInt(c->t_i1, 1, 0), seen);
    if_end(c, after);
    cg_loop_end(c, &lk);
    cg_loop_end(c, &ly);
}

/* POOL_MAX: item (plane, oy) writes [ox, c]: y at each window's first maximum of x
 * (a relu folded in, pool_max(x, x) only: relu of it) */
static void body_pool_max(Cg *c, int v, LLVMValueRef item)
{
    const IrNode *n = N(c, v);
    CgWindow G = cl_of(n, &N(c, n->in[0])->shape, &n->shape);
    bool same = n->in[0] == n->in[1];  /* max pooling itself: the value is the maximum */
    LLVMValueRef plane = LLVMBuildSDiv(c->b, item, cg_i64(c, G.ho), "plane");
    LLVMValueRef oy = LLVMBuildSRem(c->b, item, cg_i64(c, G.ho), "oy");
    LLVMValueRef src_plane = mul(c, plane, G.h * G.w * G.c);
    LLVMValueRef best = cg_alloca(c, c->t_real, cg_i64(c, G.c), "best");
    LLVMValueRef pick = same ? NULL : cg_alloca(c, c->t_real, cg_i64(c, G.c), "pick");
    CgLoop lx = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.wo), "ox");
    window_argmax(c, n, &G, src_plane, oy, lx.iv, best, NULL, pick);
    LLVMValueRef dst = mul(c, add(c, mul(c, item, G.wo), lx.iv), G.c);
    CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.c), "c");
    LLVMValueRef r = LLVMBuildLoad2(c->b, c->t_real, slot(c, c->t_real, same ? best : pick, lc.iv), "");
    cg_store(c, v, add(c, dst, lc.iv), ir_pool_relu(n) ? cg_scalar_op(c, IR_RELU, r, NULL, NULL, 0) : r);
    cg_loop_end(c, &lc);
    cg_loop_end(c, &lx);
}

/* What POOL_MAX_T adds for channel lc of a window whose first maximum is at
 * the pixel being written (hit): y there, times (the maximum > 0) when a
 * relu is folded in (relu's backward, g · gt(P, 0), as its own kernel did
 * it), else 0 */
static LLVMValueRef grad_at(Cg *c, const IrNode *n, LLVMValueRef hit, LLVMValueRef y, LLVMValueRef best, LLVMValueRef lc)
{
    if (ir_pool_relu(n)) {
        LLVMValueRef max = LLVMBuildLoad2(c->b, c->t_real, slot(c, c->t_real, best, lc), "max");
        y = cg_scalar_op(c, IR_MUL, y, cg_scalar_op(c, IR_GT, max, cg_real(c, 0), NULL, 0), NULL, 0);
    }
    return LLVMBuildSelect(c->b, hit, y, cg_real(c, 0), "");
}

/* Whether the windows tile the image: stride k, no padding, no pixel left
 * over, on both axes, so that every pixel is in exactly one window. */
static bool windows_tile(const CgWindow *G)
{
    return G->sh == G->kh && G->sw == G->kw && G->ph == 0 && G->pw == 0 && G->h == G->ho * G->kh
        && G->w == G->wo * G->kw;
}

/* POOL_MAX_T when the windows tile the image (2×2 pooling of an even image):
 * item (plane, oy) writes the kh rows its windows cover, each pixel once,
 * 0 + (g where the pixel is its window's first maximum, else 0), the value
 * the general body below adds to its zeroed row.  The general body finds
 * each window's maximum once per row it covers and adds into the row it
 * zeroed first: x read kh times and the result written twice.  On the MNIST
 * CNN's first pooling gradient ([B, 28, 28, 32], 6.4 MB) that was 8% of a
 * step's CPU. */
static void body_pool_max_t_tiled(Cg *c, int v, LLVMValueRef item, const CgWindow *G)
{
    const IrNode *n = N(c, v);
    int g = n->in[1];
    LLVMValueRef plane = LLVMBuildSDiv(c->b, item, cg_i64(c, G->ho), "plane");
    LLVMValueRef oy = LLVMBuildSRem(c->b, item, cg_i64(c, G->ho), "oy");
    LLVMValueRef src_plane = mul(c, plane, G->h * G->w * G->c);
    LLVMValueRef best = cg_alloca(c, c->t_real, cg_i64(c, G->c), "best");
    LLVMValueRef at = cg_alloca(c, c->t_i32, cg_i64(c, G->c), "at");
    CgLoop lx = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G->wo), "ox");
    window_argmax(c, n, G, src_plane, oy, lx.iv, best, at, NULL);
    LLVMValueRef gsrc = mul(c, add(c, mul(c, item, G->wo), lx.iv), G->c);
    CgLoop ly = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G->kh), "ky");
    LLVMValueRef iy = add(c, mul(c, oy, G->kh), ly.iv);
    CgLoop lk = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G->kw), "kx");
    LLVMValueRef ix = add(c, mul(c, lx.iv, G->kw), lk.iv);
    LLVMValueRef place = LLVMBuildTrunc(c->b, add(c, mul(c, ly.iv, G->kw), lk.iv), c->t_i32, "place");
    LLVMValueRef dst = add(c, src_plane, mul(c, add(c, mul(c, iy, G->w), ix), G->c));
    CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G->c), "c");
    LLVMValueRef hit = LLVMBuildICmp(c->b, LLVMIntEQ, LLVMBuildLoad2(c->b, c->t_i32, slot(c, c->t_i32, at, lc.iv), ""), place, "");
    LLVMValueRef gv = grad_at(c, n, hit, cg_load(c, g, add(c, gsrc, lc.iv)), best, lc.iv);
    cg_store(c, v, add(c, dst, lc.iv), LLVMBuildFAdd(c->b, cg_real(c, 0), gv, ""));  /* 0 + g: -0 becomes +0, as below */
    cg_loop_end(c, &lc);
    cg_loop_end(c, &lk);
    cg_loop_end(c, &ly);
    cg_loop_end(c, &lx);
}

/* POOL_MAX_T: item (plane, y) is row y of x's shape: zeros, then for each
 * window over the row ((oy, ox) in order) and each of its pixels on the
 * row, y's value where that pixel is the window's first maximum */
static void body_pool_max_t(Cg *c, int v, LLVMValueRef item)
{
    const IrNode *n = N(c, v);
    int g = n->in[1];
    CgWindow G = cl_of(n, &n->shape, &N(c, g)->shape);
    if (windows_tile(&G)) {
        body_pool_max_t_tiled(c, v, item, &G);
        return;
    }
    LLVMValueRef plane = LLVMBuildSDiv(c->b, item, cg_i64(c, G.h), "plane");
    LLVMValueRef y = LLVMBuildSRem(c->b, item, cg_i64(c, G.h), "y");
    LLVMValueRef src_plane = mul(c, plane, G.h * G.w * G.c);
    LLVMValueRef dst_row = mul(c, item, G.w * G.c);
    CgLoop z = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.w * G.c), "z");
    cg_store(c, v, add(c, dst_row, z.iv), cg_real(c, 0));
    cg_loop_end(c, &z);
    LLVMValueRef best = cg_alloca(c, c->t_real, cg_i64(c, G.c), "best");
    LLVMValueRef at = cg_alloca(c, c->t_i32, cg_i64(c, G.c), "at");
    CgLoop ly = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.ho), "oy");
    LLVMValueRef ky = add(c, LLVMBuildNSWSub(c->b, y, mul(c, ly.iv, G.sh), ""), cg_i64(c, G.ph));  /* the row in the window */
    LLVMBasicBlockRef after = if_begin(c, cg_in_range(c, ky, G.kh), "covers");
    CgLoop lx = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.wo), "ox");
    window_argmax(c, n, &G, src_plane, ly.iv, lx.iv, best, at, NULL);
    LLVMValueRef gsrc = mul(c, add(c, mul(c, add(c, mul(c, plane, G.ho), ly.iv), G.wo), lx.iv), G.c);
    CgLoop lk = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.kw), "kx");
    LLVMValueRef ix = LLVMBuildNSWSub(c->b, add(c, mul(c, lx.iv, G.sw), lk.iv), cg_i64(c, G.pw), "ix");
    LLVMBasicBlockRef inside = if_begin(c, cg_in_range(c, ix, G.w), "inside");
    LLVMValueRef place = LLVMBuildTrunc(c->b, add(c, mul(c, ky, G.kw), lk.iv), c->t_i32, "place");
    LLVMValueRef dst = add(c, dst_row, mul(c, ix, G.c));
    CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.c), "c");
    LLVMValueRef hit = LLVMBuildICmp(c->b, LLVMIntEQ, LLVMBuildLoad2(c->b, c->t_i32, slot(c, c->t_i32, at, lc.iv), ""), place, "");
    LLVMValueRef d = add(c, dst, lc.iv);
    LLVMValueRef gv = grad_at(c, n, hit, cg_load(c, g, add(c, gsrc, lc.iv)), best, lc.iv);
    cg_store(c, v, d, LLVMBuildFAdd(c->b, cg_load(c, v, d), gv, ""));
    cg_loop_end(c, &lc);
    if_end(c, inside);
    cg_loop_end(c, &lk);
    cg_loop_end(c, &lx);
    if_end(c, after);
    cg_loop_end(c, &ly);
}

/* POOL_ROWS_T: item `plane` writes its [T + 1, C]: zeros, then for each
 * window (oy, ox) in order, y (· (maximum > 0) with a relu folded in) into
 * row T, and into each row t, for the window's pixels in order, y · rows[p,
 * t] where pixel p is the channel's first maximum, else 0 · rows[p, t], as
 * the interpreter does (a zero changes no sum, but 0 · inf is NaN, as in
 * the scatter's product this op replaces; a select instead of the product
 * kept LLVM's vectors but took twice the time, session 31).  The window's
 * kh·kw pixels' T row values are loaded before the channel loops; a first
 * loop puts y or 0 per pixel and channel in a stack array (which nothing in
 * memory aliases, so LLVM vectorizes the loops without checks), then a
 * loop per row t adds its kh·kw products. */
static void body_pool_rows_t(Cg *c, int v, LLVMValueRef item)
{
    const IrNode *n = N(c, v);
    int g = n->in[1], rows = n->in[2];
    CgWindow G = cl_of(n, &N(c, n->in[0])->shape, &N(c, g)->shape);
    const IrShape *rs = &N(c, rows)->shape;
    int64_t taps = rs->dim[rs->rank - 1], kk = G.kh * G.kw;
    LLVMValueRef src_plane = mul(c, item, G.h * G.w * G.c), rows_plane = mul(c, item, G.h * G.w * taps);
    LLVMValueRef dst = mul(c, item, (taps + 1) * G.c);
    CgLoop z = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, (taps + 1) * G.c), "z");
    cg_store(c, v, add(c, dst, z.iv), cg_real(c, 0));
    cg_loop_end(c, &z);
    LLVMValueRef best = cg_alloca(c, c->t_real, cg_i64(c, G.c), "best");
    LLVMValueRef at = cg_alloca(c, c->t_i32, cg_i64(c, G.c), "at");
    LLVMValueRef m = cg_alloca(c, c->t_real, cg_i64(c, kk * G.c), "m");  /* [pixel][c]: y where it is the maximum, else 0 */
    CgLoop ly = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.ho), "oy");
    CgLoop lx = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.wo), "ox");
    window_argmax(c, n, &G, src_plane, ly.iv, lx.iv, best, at, NULL);
    /* [pixel of the window][tap]: rows there, 0 in the padding; kh·kw·T of
     * them, within the shape rule's bound (the MNIST CNN's 4 × 9) */
    LLVMValueRef r[IR_POOL_ROWS_T_MAX];
    for (int64_t q = 0; q < kk; q++) {
        LLVMValueRef iy = LLVMBuildNSWSub(c->b, add(c, mul(c, ly.iv, G.sh), cg_i64(c, q / G.kw)), cg_i64(c, G.ph), "iy");
        LLVMValueRef ix = LLVMBuildNSWSub(c->b, add(c, mul(c, lx.iv, G.sw), cg_i64(c, q % G.kw)), cg_i64(c, G.pw), "ix");
        LLVMValueRef inside = cg_in_image(c, iy, ix, G.h, G.w);
        LLVMValueRef pix = add(c, mul(c, LLVMBuildSelect(c->b, inside, iy, cg_i64(c, 0), ""), G.w),
                               LLVMBuildSelect(c->b, inside, ix, cg_i64(c, 0), ""));
        LLVMValueRef src = add(c, rows_plane, mul(c, pix, taps));
        for (int64_t t = 0; t < taps; t++)
            r[q * taps + t] = LLVMBuildSelect(c->b, inside, cg_load(c, rows, add(c, src, cg_i64(c, t))), cg_real(c, 0), "row");
    }
    LLVMValueRef gsrc = mul(c, add(c, mul(c, add(c, mul(c, item, G.ho), ly.iv), G.wo), lx.iv), G.c);
    CgLoop lc = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.c), "c");
    LLVMValueRef place = LLVMBuildLoad2(c->b, c->t_i32, slot(c, c->t_i32, at, lc.iv), "place");
    LLVMValueRef gv = grad_at(c, n, LLVMConstInt(c->t_i1, 1, 0),
                              cg_load(c, g, add(c, gsrc, lc.iv)), best, lc.iv);
    LLVMValueRef bias = add(c, dst, add(c, cg_i64(c, taps * G.c), lc.iv));
    cg_store(c, v, bias, LLVMBuildFAdd(c->b, cg_load(c, v, bias), gv, ""));
    for (int64_t q = 0; q < kk; q++) {
        LLVMValueRef hit = LLVMBuildICmp(c->b, LLVMIntEQ, place, LLVMConstInt(c->t_i32, (unsigned long long)q, 0), "");
        LLVMBuildStore(c->b, LLVMBuildSelect(c->b, hit, gv, cg_real(c, 0), "hit"),
                       slot(c, c->t_real, m, add(c, cg_i64(c, q * G.c), lc.iv)));
    }
    cg_loop_end(c, &lc);
    for (int64_t t = 0; t < taps; t++) {
        CgLoop lt = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.c), "c");
        LLVMValueRef d = add(c, dst, add(c, cg_i64(c, t * G.c), lt.iv));
        LLVMValueRef acc = cg_load(c, v, d);
        for (int64_t q = 0; q < kk; q++) {
            LLVMValueRef mq = LLVMBuildLoad2(c->b, c->t_real, slot(c, c->t_real, m, add(c, cg_i64(c, q * G.c), lt.iv)), "");
            acc = cg_call_real(c, "llvm.fma", (LLVMValueRef[]){mq, r[q * taps + t], acc}, 3);
        }
        cg_store(c, v, d, acc);
        cg_loop_end(c, &lt);
    }
    cg_loop_end(c, &lx);
    cg_loop_end(c, &ly);
}

enum { POOL_CONV_VECTORS = 24 };  /* a window pixel's taps × channel vectors summed in registers at most */
_Static_assert((int)IR_POOL_CONV_T_TAPS_MAX <= (int)POOL_CONV_VECTORS, "every tap has a vector of at least one channel vector");

/* POOL_CONV_T's sums for window pixel q (iy, ix) over its bucket, channel
 * vectors [v0, v0 + nv): per tap t, Σ val[f] · w[f·taps + t, those channels]
 * over the bucket's channels f (in vector registers), then added into the
 * output pixel (iy − ky + ph, ix − kx + pw) when it is inside, (ky, kx) tap
 * t of the convolution's kh x kw window and ph, pw its padding. */
static void pool_conv_pixel(Cg *c, int v, LLVMValueRef dst, LLVMValueRef iy, LLVMValueRef ix, LLVMValueRef bucket,
                            LLVMValueRef count, LLVMValueRef val, int64_t v0, int64_t nv, int VW)
{
    const IrNode *n = N(c, v);
    int w = n->in[2];
    IrWindow cw = ir_pool_conv_window(n);
    int64_t kw = cw.k[1], ph = cw.pad[0], pw = cw.pad[1], taps = ir_window_taps(&cw), C = N(c, w)->shape.dim[1];
    const IrShape *xs = &N(c, n->in[0])->shape;
    int64_t h2 = ir_window_out(xs->dim[xs->rank - 3], cw.k[0], 1, ph), w2 = ir_window_out(xs->dim[xs->rank - 2], kw, 1, pw);
    LLVMTypeRef vec = LLVMVectorType(c->t_real, (unsigned)VW);
    unsigned align = (unsigned)ir_type_size(c->g->ftype);
    LLVMValueRef acc[POOL_CONV_VECTORS];
    for (int64_t a = 0; a < taps * nv; a++) {
        acc[a] = cg_alloca(c, vec, NULL, "pacc");
        LLVMBuildStore(c->b, LLVMConstNull(vec), acc[a]);
    }
    CgLoop li = cg_loop_begin(c, cg_i64(c, 0), count, "member");
    LLVMValueRef f = LLVMBuildSExt(c->b, LLVMBuildLoad2(c->b, c->t_i32, slot(c, c->t_i32, bucket, li.iv), "f"), c->t_i64, "");
    LLVMValueRef g = LLVMBuildLoad2(c->b, c->t_real, slot(c, c->t_real, val, f), "g");
    LLVMValueRef splat = LLVMBuildInsertElement(c->b, LLVMGetUndef(vec), g, LLVMConstInt(c->t_i32, 0, 0), "");
    splat = LLVMBuildShuffleVector(c->b, splat, LLVMGetUndef(vec), LLVMConstNull(LLVMVectorType(c->t_i32, (unsigned)VW)), "gg");
    for (int64_t t = 0; t < taps; t++)
        for (int64_t h = 0; h < nv; h++) {
            LLVMValueRef at = add(c, mul(c, add(c, mul(c, f, taps), cg_i64(c, t)), C), cg_i64(c, (v0 + h) * VW));
            LLVMValueRef wv = LLVMBuildLoad2(c->b, vec, cg_elem_ptr(c, w, at), "wv");
            LLVMSetAlignment(wv, align);
            LLVMValueRef *ap = &acc[t * nv + h];
            LLVMBuildStore(c->b, cg_vec_fma(c, vec, splat, wv, LLVMBuildLoad2(c->b, vec, *ap, "")), *ap);
        }
    cg_loop_end(c, &li);
    for (int64_t t = 0; t < taps; t++) {
        LLVMValueRef py = add(c, iy, cg_i64(c, ph - t / kw)), qx = add(c, ix, cg_i64(c, pw - t % kw));
        LLVMBasicBlockRef after = if_begin(c, LLVMBuildAnd(c->b, cg_in_range(c, py, h2), cg_in_range(c, qx, w2), ""), "out_pixel");
        LLVMValueRef row = add(c, dst, mul(c, add(c, mul(c, py, w2), qx), C));
        for (int64_t h = 0; h < nv; h++) {
            LLVMValueRef p = cg_elem_ptr(c, v, add(c, row, cg_i64(c, (v0 + h) * VW)));
            LLVMValueRef old = LLVMBuildLoad2(c->b, vec, p, "");
            LLVMSetAlignment(old, align);
            LLVMValueRef sum = LLVMBuildFAdd(c->b, old, LLVMBuildLoad2(c->b, vec, acc[t * nv + h], ""), "");
            LLVMSetAlignment(LLVMBuildStore(c->b, sum, p), align);
        }
        if_end(c, after);
    }
}

/* POOL_CONV_T: item `plane` writes its [H2·W2, C]: zeros, then per window
 * (oy, ox): each channel's first maximum (window_argmax) and its weight
 * val[f] = y (· (maximum > 0) with a relu folded in); the channels bucketed
 * by the window pixel of their maximum, branch-free (each is written at its
 * bucket's count, which a zero weight does not advance: the folded relu's
 * zeros join none); then per window pixel its taps' sums (pool_conv_pixel).
 * pool_max_t's scatter is three quarters zeros: the dense convolution of it
 * multiplied them all.  bench/pool_conv_scatter.c has the plain-C form:
 * 1.5-1.9 ms a step for the MNIST CNN's conv2 input gradient against the
 * dense product's 4.3 (session 32). */
static void body_pool_conv_t(Cg *c, int v, LLVMValueRef item)
{
    const IrNode *n = N(c, v);
    int y = n->in[1];
    CgWindow G = cl_of(n, &N(c, n->in[0])->shape, &N(c, y)->shape);
    IrWindow cw = ir_pool_conv_window(n);
    int64_t taps = ir_window_taps(&cw), C = N(c, n->in[2])->shape.dim[1], kk = G.kh * G.kw;
    int64_t h2 = ir_window_out(G.h, cw.k[0], 1, cw.pad[0]), w2 = ir_window_out(G.w, cw.k[1], 1, cw.pad[1]);
    int VW = c->tune->vector_bytes / (int)ir_type_size(c->g->ftype);
    while (VW > 1 && C % VW)
        VW /= 2;
    int64_t NV = C / VW, chunk = POOL_CONV_VECTORS / taps < 1 ? 1 : POOL_CONV_VECTORS / taps;
    LLVMValueRef dst = mul(c, item, h2 * w2 * C), src_plane = mul(c, item, G.h * G.w * G.c);
    CgLoop z = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, h2 * w2 * C), "z");
    cg_store(c, v, add(c, dst, z.iv), cg_real(c, 0));
    cg_loop_end(c, &z);
    LLVMValueRef best = cg_alloca(c, c->t_real, cg_i64(c, G.c), "best");
    LLVMValueRef at = cg_alloca(c, c->t_i32, cg_i64(c, G.c), "at");
    LLVMValueRef val = cg_alloca(c, c->t_real, cg_i64(c, G.c), "val");
    LLVMValueRef list = cg_alloca(c, c->t_i32, cg_i64(c, kk * G.c), "bucket");
    LLVMValueRef cnt = cg_alloca(c, c->t_i64, cg_i64(c, kk), "count");
    CgLoop ly = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.ho), "oy");
    CgLoop lx = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.wo), "ox");
    window_argmax(c, n, &G, src_plane, ly.iv, lx.iv, best, at, NULL);
    for (int64_t q = 0; q < kk; q++)
        LLVMBuildStore(c->b, cg_i64(c, 0), slot(c, c->t_i64, cnt, cg_i64(c, q)));
    LLVMValueRef gsrc = mul(c, add(c, mul(c, add(c, mul(c, item, G.ho), ly.iv), G.wo), lx.iv), G.c);
    CgLoop lf = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.c), "f");
    LLVMValueRef g = grad_at(c, n, LLVMConstInt(c->t_i1, 1, 0), cg_load(c, y, add(c, gsrc, lf.iv)), best, lf.iv);
    LLVMBuildStore(c->b, g, slot(c, c->t_real, val, lf.iv));
    LLVMValueRef q = LLVMBuildZExt(c->b, LLVMBuildLoad2(c->b, c->t_i32, slot(c, c->t_i32, at, lf.iv), "q"), c->t_i64, "");
    LLVMValueRef cp = slot(c, c->t_i64, cnt, q), k = LLVMBuildLoad2(c->b, c->t_i64, cp, "k");
    LLVMBuildStore(c->b, LLVMBuildTrunc(c->b, lf.iv, c->t_i32, ""), slot(c, c->t_i32, list, add(c, mul(c, q, G.c), k)));
    LLVMValueRef joins = LLVMBuildZExt(c->b, LLVMBuildFCmp(c->b, LLVMRealUNE, g, cg_real(c, 0), ""), c->t_i64, "");
    LLVMBuildStore(c->b, add(c, k, joins), cp);
    cg_loop_end(c, &lf);
    for (int64_t qq = 0; qq < kk; qq++) {
        LLVMValueRef iy = LLVMBuildNSWSub(c->b, add(c, mul(c, ly.iv, G.sh), cg_i64(c, qq / G.kw)), cg_i64(c, G.ph), "iy");
        LLVMValueRef ix = LLVMBuildNSWSub(c->b, add(c, mul(c, lx.iv, G.sw), cg_i64(c, qq % G.kw)), cg_i64(c, G.pw), "ix");
        LLVMValueRef count = LLVMBuildLoad2(c->b, c->t_i64, slot(c, c->t_i64, cnt, cg_i64(c, qq)), "members");
        LLVMBasicBlockRef after = if_begin(c, LLVMBuildICmp(c->b, LLVMIntSGT, count, cg_i64(c, 0), ""), "bucket");
        LLVMValueRef bucket = slot(c, c->t_i32, list, cg_i64(c, qq * G.c));
        for (int64_t v0 = 0; v0 < NV; v0 += chunk)
            pool_conv_pixel(c, v, dst, iy, ix, bucket, count, val, v0, NV - v0 < chunk ? NV - v0 : chunk, VW);
        if_end(c, after);
    }
    cg_loop_end(c, &lx);
    cg_loop_end(c, &ly);
}

/* Items: the rows of the result, all axes but W and C (a POOL_MAX_T whose
 * windows tile the image: its rows of windows). */
LLVMValueRef cg_patches_extent(Cg *c, int v)
{
    const IrShape *s = &N(c, v)->shape;
    if (N(c, v)->op == IR_POOL_MAX_T) {
        CgWindow G = cl_of(N(c, v), s, &N(c, N(c, v)->in[1])->shape);
        if (windows_tile(&G))
            return LLVMBuildNSWMul(c->b, cg_elems(c, s, 0, s->rank - 3), cg_i64(c, G.ho), "");
    }
    return cg_elems(c, s, 0, s->rank - 2);
}

/* The ops these kernels compute, each with its body: cg_kernels.c sends an op
 * here exactly when it has a row (cg_patches_has), so an op cannot reach an
 * empty loop. */
typedef void (*PatchesBody)(Cg *c, int v, LLVMValueRef item);
static const PatchesBody bodies[IR_OP_COUNT] = {
    [IR_PATCHES] = body_patches,
    [IR_PATCHES_T] = body_patches_t,
    [IR_POOL_MAX] = body_pool_max,
    [IR_POOL_MAX_T] = body_pool_max_t,
    [IR_POOL_ROWS_T] = body_pool_rows_t,
    [IR_POOL_CONV_T] = body_pool_conv_t,
};

bool cg_patches_has(IrOp op) { return bodies[op] != NULL; }

void cg_patches_body(Cg *c, int v, LLVMValueRef item) { bodies[N(c, v)->op](c, v, item); }
