/* cg_implicit.c — a matmul operand read as patches of an image (passes/implicit.c).
 *
 * The operand's rows are the patches of x [..., H, W, C] (channels last):
 * row `pix` is output pixel (plane, oy, ox), element kk = (ky·kw + kx)·C + c
 * of it is x[plane, oy·sh + ky − ph, ox·sw + kx − pw, c], 0 in the padding,
 * exactly as PATCHES writes them.  The matmul packs op(B) into panels
 * anyway, and reads A's MR rows tap by tap from the image (one chunk:
 * cg_implicit_tap_rows) or copies them per chunk (deeper rows): either way
 * the patches (kh·kw times the image) are never written out and read back.  A read in
 * the padding loads from the plane's first pixel (one that exists) and
 * selects 0 instead.  The same numbers land where
 * the plain copies put them: the matmul's sums, and their bits, are those
 * of the matmul over the written-out patches.
 */
#include <stdio.h>

#include "cg_internal.h"

typedef struct Win {
    int      x;                       /* the image's node */
    CgWindow g;
} Win;

static Win win_of(Cg *c, int v)
{
    const IrNode *n = N(c, v);
    int x = n->in[ir_mm_patches_operand(n)];
    const IrShape *xs = &N(c, x)->shape;
    int r = xs->rank;
    IrWindow a = ir_mm_window(n);
    int64_t h = xs->dim[r - 3], w = xs->dim[r - 2];
    return (Win){x, {h, w, xs->dim[r - 1], ir_window_out(h, a.k[0], a.stride[0], a.pad[0]),
                     ir_window_out(w, a.k[1], a.stride[1], a.pad[1]), a.k[0], a.k[1], a.stride[0], a.stride[1], a.pad[0],
                     a.pad[1]}};
}

/* Where channel 0 of tap `tap` of pixel `pix` is in x (a pixel that exists),
 * and whether it is inside the image (else the value is 0). */
static LLVMValueRef tap_at(Cg *c, const CgWindow *w, LLVMValueRef pix, LLVMValueRef tap, LLVMValueRef *inside)
{
    LLVMBuilderRef b = c->b;
    LLVMValueRef ox = LLVMBuildSRem(b, pix, cg_i64(c, w->wo), "ox");
    LLVMValueRef q = LLVMBuildSDiv(b, pix, cg_i64(c, w->wo), "");
    LLVMValueRef oy = LLVMBuildSRem(b, q, cg_i64(c, w->ho), "oy");
    LLVMValueRef plane = LLVMBuildSDiv(b, q, cg_i64(c, w->ho), "plane");
    LLVMValueRef ky = LLVMBuildSDiv(b, tap, cg_i64(c, w->kw), "ky"), kx = LLVMBuildSRem(b, tap, cg_i64(c, w->kw), "kx");
    LLVMValueRef iy = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, oy, cg_i64(c, w->sh), ""), LLVMBuildNSWSub(b, ky, cg_i64(c, w->ph), ""), "iy");
    LLVMValueRef ix = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, ox, cg_i64(c, w->sw), ""), LLVMBuildNSWSub(b, kx, cg_i64(c, w->pw), ""), "ix");
    *inside = cg_in_image(c, iy, ix, w->h, w->w);
    LLVMValueRef py = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, plane, cg_i64(c, w->h), ""), LLVMBuildSelect(b, *inside, iy, cg_i64(c, 0), ""), "");
    LLVMValueRef px = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, py, cg_i64(c, w->w), ""), LLVMBuildSelect(b, *inside, ix, cg_i64(c, 0), ""), "");
    return LLVMBuildNSWMul(b, px, cg_i64(c, w->c), "tap_at");
}

static LLVMValueRef elem_of(Cg *c, const Win *w, LLVMValueRef pix, LLVMValueRef kk)
{
    LLVMValueRef inside;
    LLVMValueRef tap = LLVMBuildSDiv(c->b, kk, cg_i64(c, w->g.c), "tap"), cc = LLVMBuildSRem(c->b, kk, cg_i64(c, w->g.c), "c");
    LLVMValueRef at = LLVMBuildNSWAdd(c->b, tap_at(c, &w->g, pix, tap, &inside), cc, "");
    return LLVMBuildSelect(c->b, inside, cg_load(c, w->x, at), cg_real(c, 0), "px");
}

LLVMValueRef cg_implicit_load(Cg *c, int v, LLVMValueRef pix, LLVMValueRef kk)
{
    Win w = win_of(c, v);
    return elem_of(c, &w, pix, kk);
}

static LLVMValueRef real_at(Cg *c, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildGEP2(c->b, c->t_real, base, &idx, 1, "");
}

void cg_implicit_pack_a(Cg *c, int v, LLVMValueRef i0, LLVMValueRef M, int MR, LLVMValueRef k0, LLVMValueRef kn,
                        int64_t kstride, LLVMValueRef apack)
{
    Win w = win_of(c, v);
    CgLoop r = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, MR), "ar");
    LLVMValueRef ii = LLVMBuildNSWAdd(c->b, i0, r.iv, "");
    LLVMValueRef last = LLVMBuildNSWSub(c->b, M, cg_i64(c, 1), "");
    ii = cg_imin(c, ii, last, "pix");  /* a row past M: row M - 1 */
    LLVMValueRef dst = real_at(c, apack, LLVMBuildNSWMul(c->b, r.iv, cg_i64(c, kstride), ""));
    CgLoop q = cg_loop_begin(c, cg_i64(c, 0), kn, "ak");
    LLVMBuildStore(c->b, elem_of(c, &w, ii, LLVMBuildNSWAdd(c->b, k0, q.iv, "")), real_at(c, dst, q.iv));
    cg_loop_end(c, &q);
    cg_loop_end(c, &r);
}

/* A module's constant of n zero reals: where a tap in the padding reads. */
static LLVMValueRef zeros(Cg *c, int64_t n)
{
    char name[64];
    snprintf(name, sizeof name, "nnc.zeros.%lld", (long long)n);
    LLVMValueRef g = LLVMGetNamedGlobal(c->mod, name);
    if (g)
        return g;
    LLVMTypeRef t = LLVMArrayType2(c->t_real, (uint64_t)n);
    g = LLVMAddGlobal(c->mod, t, name);
    LLVMSetInitializer(g, LLVMConstNull(t));
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    LLVMSetAlignment(g, 64);
    return g;
}

int64_t cg_implicit_taps(Cg *c, int v)
{
    Win w = win_of(c, v);
    return w.g.kh * w.g.kw;
}

int64_t cg_implicit_channels(Cg *c, int v)
{
    return win_of(c, v).g.c;
}

static void tap_row(Cg *c, const Win *w, LLVMValueRef pix, LLVMValueRef tap, LLVMValueRef r, int MR, LLVMValueRef zero,
                    LLVMValueRef rows)
{
    LLVMValueRef inside, src = tap_at(c, &w->g, pix, tap, &inside);
    LLVMValueRef p = LLVMBuildSelect(c->b, inside, cg_elem_ptr(c, w->x, src), zero, "tap_row");
    LLVMValueRef slot = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, tap, cg_i64(c, MR), ""), r, "");
    LLVMBuildStore(c->b, p, LLVMBuildGEP2(c->b, c->t_ptr, rows, &slot, 1, ""));
}

enum { TAP_ROWS_UNROLLED_K = 5 };  /* up to 5×5 taps written out (cg_implicit_tap_rows) */

/* All kh·kw taps of row `pix`, written out: the pixel's place is worked out
 * once, tap (ky, kx) is at the window's corner plus the constant (ky·w +
 * kx)·C, and whether it is inside is its row's test and its column's (kh +
 * kw range tests a row, not kh·kw).  tap_row for each tap took about 12
 * instructions a pointer.  The training step did not change (the out-of-
 * order core overlapped that work with the FMAs); the evaluation's first
 * convolution, whose taps are one k step each, went from 692 to 542
 * samples (bench/README, session 32, cnn stream).  The pointers are
 * tap_row's: the same reals read, the same bits. */
static void taps_written_out(Cg *c, const Win *w, LLVMValueRef pix, LLVMValueRef r, int MR, LLVMValueRef zero,
                             LLVMValueRef rows)
{
    LLVMBuilderRef b = c->b;
    const CgWindow *g = &w->g;
    LLVMValueRef ox = LLVMBuildSRem(b, pix, cg_i64(c, g->wo), "ox");
    LLVMValueRef q = LLVMBuildSDiv(b, pix, cg_i64(c, g->wo), "");
    LLVMValueRef oy = LLVMBuildSRem(b, q, cg_i64(c, g->ho), "oy");
    LLVMValueRef plane = LLVMBuildSDiv(b, q, cg_i64(c, g->ho), "plane");
    /* the window's corner (ky = kx = 0), outside the image where the padding is */
    LLVMValueRef iy0 = LLVMBuildNSWSub(b, LLVMBuildNSWMul(b, oy, cg_i64(c, g->sh), ""), cg_i64(c, g->ph), "iy0");
    LLVMValueRef ix0 = LLVMBuildNSWSub(b, LLVMBuildNSWMul(b, ox, cg_i64(c, g->sw), ""), cg_i64(c, g->pw), "ix0");
    LLVMValueRef py = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, plane, cg_i64(c, g->h), ""), iy0, "");
    LLVMValueRef corner = LLVMBuildNSWMul(b, LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, py, cg_i64(c, g->w), ""), ix0, ""),
                                          cg_i64(c, g->c), "corner");
    LLVMValueRef row_in[TAP_ROWS_UNROLLED_K], col_in[TAP_ROWS_UNROLLED_K];
    for (int64_t d = 0; d < g->kh || d < g->kw; d++) {
        if (d < g->kh)
            row_in[d] = cg_in_range(c, LLVMBuildNSWAdd(b, iy0, cg_i64(c, d), ""), g->h);
        if (d < g->kw)
            col_in[d] = cg_in_range(c, LLVMBuildNSWAdd(b, ix0, cg_i64(c, d), ""), g->w);
    }
    for (int64_t t = 0; t < g->kh * g->kw; t++) {
        int64_t ky = t / g->kw, kx = t % g->kw;
        LLVMValueRef inside = LLVMBuildAnd(b, row_in[ky], col_in[kx], "inside");
        /* a plain GEP: outside the image the address is never read */
        LLVMValueRef at = LLVMBuildAdd(b, corner, cg_i64(c, (ky * g->w + kx) * g->c), "");
        LLVMValueRef p = LLVMBuildSelect(b, inside, cg_elem_ptr(c, w->x, at), zero, "tap_row");
        LLVMBuildStore(b, p, LLVMBuildGEP2(b, c->t_ptr, rows, (LLVMValueRef[]){LLVMBuildNSWAdd(b, cg_i64(c, t * MR), r, "")}, 1, ""));
    }
}

void cg_implicit_tap_rows(Cg *c, int v, LLVMValueRef i0, LLVMValueRef M, int MR, LLVMValueRef rows)
{
    Win w = win_of(c, v);
    LLVMValueRef zero = zeros(c, w.g.c);
    CgLoop r = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, MR), "trow");
    LLVMValueRef ii = LLVMBuildNSWAdd(c->b, i0, r.iv, "");
    LLVMValueRef last = LLVMBuildNSWSub(c->b, M, cg_i64(c, 1), "");
    ii = cg_imin(c, ii, last, "pix");  /* a row past M: row M - 1 */
    if (w.g.kh <= TAP_ROWS_UNROLLED_K && w.g.kw <= TAP_ROWS_UNROLLED_K) {
        taps_written_out(c, &w, ii, r.iv, MR, zero, rows);
    } else {  /* more taps in a loop */
        CgLoop t = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, w.g.kh * w.g.kw), "ttap");
        tap_row(c, &w, ii, t.iv, r.iv, MR, zero, rows);
        cg_loop_end(c, &t);
    }
    cg_loop_end(c, &r);
}

/* Rows of A a block for a product reading A as patches of an image with
 * padding: the largest divisor of the output width from MR/2 to MR (7 of
 * the MNIST CNN's second convolution's 14), so that a block's rows are part
 * of one row of output pixels and a tap whose image row is padding is
 * padding for every row of the block (cg_implicit_tap_in_padding); 0 when none
 * fits, or there is no padding. */
int cg_implicit_row_block(Cg *c, int v, int MR)
{
    Win w = win_of(c, v);
    if (w.g.ph == 0 && w.g.pw == 0)
        return 0;
    for (int mr = MR; 2 * mr >= MR; mr--)
        if (w.g.wo % mr == 0)
            return mr;
    return 0;
}

/* Whether a row's pointer for a tap (cg_implicit_tap_rows) is at the
 * padding's zeros: that row's multiply-adds for the tap are 0 · b, which
 * leave its sums as they are unless B holds an inf or a NaN (whose 0 · inf
 * the sum then misses: a convolution's padding is no value) or the sum is
 * −0 and 0 · b is +0 (the FMA rounds a sum of +0 and a negative product
 * of magnitude at most 2^-150, half the smallest subnormal, to −0; −0 + +0 = +0), and cg_matmul.c skips
 * them, for whole blocks and a block's first or last row (tap_steps). */
LLVMValueRef cg_implicit_tap_in_padding(Cg *c, int v, LLVMValueRef trow)
{
    if (!cg_implicit_padded(c, v))  /* no pointer is at the zeros: the tests fold away */
        return LLVMConstInt(c->t_i1, 0, 0);
    return LLVMBuildICmp(c->b, LLVMIntEQ, trow, zeros(c, win_of(c, v).g.c), "in_padding");
}

bool cg_implicit_padded(Cg *c, int v)
{
    Win w = win_of(c, v);
    return w.g.ph > 0 || w.g.pw > 0;
}

/* Whether a row pointer of op(B) (cg_implicit_b_rows) is at the padding's
 * NR zeros: its k step adds a · 0 to each sum, nothing but in the taps'
 * edges above, and for every row of the tile alike; the CNN's second
 * layer's weight gradient has 9.3% of its pixel and tap pairs in the
 * padding. */
LLVMValueRef cg_implicit_b_row_skipped(Cg *c, LLVMValueRef brow, int NR)
{
    return LLVMBuildICmp(c->b, LLVMIntEQ, brow, zeros(c, NR), "row_in_padding");
}

/* op(B)'s chunk when C is a multiple of VW, so that a vector of a panel is
 * VW channels of one tap: packB[(p·kn + k)·NR ..] = pixel k0 + k's NR
 * columns of panel p, vector by vector (zeros in the padding and past n).
 * Panel by panel, the pixels inside, each vector's tap worked out once a
 * panel, and the pixel's (plane, oy, ox) carried from one pixel to the next
 * instead of divided out of its number.  (Pixels outside and panels inside,
 * every vector's tap and every pixel's place worked out by division, the
 * copy was 22% of the MNIST CNN's second convolution's weight gradient,
 * whose items are one panel each: cg_matmul.c's items_are_panels; 16% this
 * way, perf cpu-clock at --threads 1.  point_b_rows, which only works out a
 * pointer per pixel, goes by runs of a row instead.) */
static void copy_b_vectors(Cg *c, const Win *w, LLVMValueRef k0, LLVMValueRef kn, int64_t n, LLVMValueRef p_lo,
                           LLVMValueRef p_hi, int NR, int VW, LLVMValueRef packB)
{
    LLVMBuilderRef b = c->b;
    LLVMTypeRef vec = LLVMVectorType(c->t_real, (unsigned)VW);
    unsigned align = (unsigned)ir_type_size(c->g->ftype);
    LLVMValueRef wo = cg_i64(c, w->g.wo), ho = cg_i64(c, w->g.ho), H = cg_i64(c, w->g.h);
    LLVMValueRef C = cg_i64(c, w->g.c), kw = cg_i64(c, w->g.kw), zero = cg_i64(c, 0);
    /* the chunk's first pixel: its ox, oy and its plane's first row of x,
     * carried in allocas from pixel to pixel */
    LLVMValueRef q0 = LLVMBuildSDiv(b, k0, wo, "");
    LLVMValueRef ox0 = LLVMBuildSRem(b, k0, wo, "ox0"), oy0 = LLVMBuildSRem(b, q0, ho, "oy0");
    LLVMValueRef row0 = LLVMBuildNSWMul(b, LLVMBuildSDiv(b, q0, ho, ""), H, "plane_row0");
    LLVMValueRef oxp = cg_alloca(c, c->t_i64, NULL, "ox");
    LLVMValueRef oyp = cg_alloca(c, c->t_i64, NULL, "oy");
    LLVMValueRef rowp = cg_alloca(c, c->t_i64, NULL, "plane_row");
    CgLoop panel = cg_loop_begin(c, p_lo, p_hi, "ipanel");
    /* per vector h of the panel: whether its columns are below n, its tap's
     * offset (dy, dx) and its first channel */
    LLVMValueRef in[CG_TILE_MAX_NRV], dy[CG_TILE_MAX_NRV], dx[CG_TILE_MAX_NRV], cc[CG_TILE_MAX_NRV];
    for (int h = 0; h < NR / VW; h++) {
        LLVMValueRef j = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, panel.iv, cg_i64(c, NR), ""), cg_i64(c, h * VW), "j");
        in[h] = LLVMBuildICmp(b, LLVMIntSLT, j, cg_i64(c, n), "");  /* n is a multiple of VW: all in or all past n */
        LLVMValueRef jc = LLVMBuildSelect(b, in[h], j, zero, "");
        LLVMValueRef tap = LLVMBuildSDiv(b, jc, C, "tap");
        cc[h] = LLVMBuildSRem(b, jc, C, "c");
        dy[h] = LLVMBuildNSWSub(b, LLVMBuildSDiv(b, tap, kw, ""), cg_i64(c, w->g.ph), "dy");
        dx[h] = LLVMBuildNSWSub(b, LLVMBuildSRem(b, tap, kw, ""), cg_i64(c, w->g.pw), "dx");
    }
    LLVMBuildStore(b, ox0, oxp);
    LLVMBuildStore(b, oy0, oyp);
    LLVMBuildStore(b, row0, rowp);
    LLVMValueRef dst0 = real_at(c, packB, LLVMBuildNSWMul(b, LLVMBuildNSWMul(b, panel.iv, kn, ""), cg_i64(c, NR), ""));

    CgLoop pixel = cg_loop_begin(c, cg_i64(c, 0), kn, "ipk");
    LLVMValueRef ox = LLVMBuildLoad2(b, c->t_i64, oxp, "ox");
    LLVMValueRef oy = LLVMBuildLoad2(b, c->t_i64, oyp, "oy");
    LLVMValueRef prow = LLVMBuildLoad2(b, c->t_i64, rowp, "plane_row");
    LLVMValueRef ys = LLVMBuildNSWMul(b, oy, cg_i64(c, w->g.sh), "");
    LLVMValueRef xs = LLVMBuildNSWMul(b, ox, cg_i64(c, w->g.sw), "");
    LLVMValueRef dst = real_at(c, dst0, LLVMBuildNSWMul(b, pixel.iv, cg_i64(c, NR), ""));
    for (int h = 0; h < NR / VW; h++) {
        /* vector h's place in x; outside the image it is zeros, read from
         * the plane's first pixel (one that exists) */
        LLVMValueRef iy = LLVMBuildNSWAdd(b, ys, dy[h], "iy"), ix = LLVMBuildNSWAdd(b, xs, dx[h], "ix");
        LLVMValueRef inside = LLVMBuildAnd(b, cg_in_image(c, iy, ix, w->g.h, w->g.w), in[h], "inside");
        LLVMValueRef py = LLVMBuildNSWAdd(b, prow, LLVMBuildSelect(b, inside, iy, zero, ""), "");
        LLVMValueRef px = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, py, cg_i64(c, w->g.w), ""), LLVMBuildSelect(b, inside, ix, zero, ""), "");
        LLVMValueRef at = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, px, C, ""), cc[h], "");
        LLVMValueRef x = LLVMBuildLoad2(b, vec, cg_elem_ptr(c, w->x, at), "pv");
        LLVMSetAlignment(x, align);
        x = LLVMBuildSelect(b, inside, x, LLVMConstNull(vec), "");
        LLVMSetAlignment(LLVMBuildStore(b, x, real_at(c, dst, cg_i64(c, h * VW))), align);
    }
    /* the next pixel: ox, then oy, then the plane */
    LLVMValueRef ox1 = LLVMBuildNSWAdd(b, ox, cg_i64(c, 1), "");
    LLVMValueRef wrap = LLVMBuildICmp(b, LLVMIntEQ, ox1, wo, "");
    LLVMBuildStore(b, LLVMBuildSelect(b, wrap, zero, ox1, ""), oxp);
    LLVMValueRef oy1 = LLVMBuildNSWAdd(b, oy, LLVMBuildZExt(b, wrap, c->t_i64, ""), "");
    LLVMValueRef wrap2 = LLVMBuildICmp(b, LLVMIntEQ, oy1, ho, "");
    LLVMBuildStore(b, LLVMBuildSelect(b, wrap2, zero, oy1, ""), oyp);
    LLVMBuildStore(b, LLVMBuildNSWAdd(b, prow, LLVMBuildSelect(b, wrap2, H, zero, ""), ""), rowp);
    cg_loop_end(c, &pixel);
    cg_loop_end(c, &panel);
}

/* Where tap (dy, dx) of row q of output pixels (q = plane·ho + oy) reads x:
 * the element of x's row iy = oy·sh + dy at column 0, channel cc (the plane's
 * first row when iy is outside the image), and whether iy is inside. */
static LLVMValueRef tap_row_start(Cg *c, const Win *w, LLVMValueRef q, LLVMValueRef dy, LLVMValueRef cc,
                                  LLVMValueRef *row_inside)
{
    LLVMBuilderRef b = c->b;
    LLVMValueRef oy = LLVMBuildSRem(b, q, cg_i64(c, w->g.ho), "oy");
    LLVMValueRef plane = LLVMBuildSDiv(b, q, cg_i64(c, w->g.ho), "plane");
    LLVMValueRef iy = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, oy, cg_i64(c, w->g.sh), ""), dy, "iy");
    *row_inside = cg_in_range(c, iy, w->g.h);
    LLVMValueRef py = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, plane, cg_i64(c, w->g.h), ""),
                                      LLVMBuildSelect(b, *row_inside, iy, cg_i64(c, 0), ""), "py");
    return LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, LLVMBuildNSWMul(b, py, cg_i64(c, w->g.w), ""), cg_i64(c, w->g.c), ""), cc,
                           "row_start");
}

/* Nothing copied (C a multiple of NR, so a panel's NR columns are NR
 * channels of one tap, contiguous in x): rows[p·kn + k] = where pixel
 * k0 + k's NR columns of panel p are in x, or a constant of NR zeros in
 * the padding (cg_implicit_b_rows).  By runs of one row of output pixels,
 * not by the pixel walk: within a run the tap's row of x is fixed (inside
 * the image or not) and the pointers step by sw·C reals with ox, a loop of
 * compares and selects, vectorized 8 pointers a vector with its tail
 * masked (the loop's hints: a run is as long as a row, 14 pointers in the
 * MNIST CNN's second convolution, fewer than the 32 LLVM's own choice of
 * 8 lanes × 4 needed; it then ran scalar, 12 instructions a pointer).
 * Pixel by pixel a pointer took about 35 instructions and a branch, 8% of
 * that convolution's weight gradient at one thread, and every claim of a
 * call fills its panels' pointers again: 1.5 times that on two threads.
 * By runs, that work outside the FMA loop took 0.16 ms of CPU a step at one
 * thread, 0.20 at two, against 0.41 and 0.61 (perf samples, load 3.5). */
static void point_b_rows(Cg *c, const Win *w, LLVMValueRef k0, LLVMValueRef kn, int64_t n, LLVMValueRef p_lo,
                         LLVMValueRef p_hi, int NR, LLVMValueRef rows)
{
    LLVMBuilderRef b = c->b;
    LLVMValueRef wo = cg_i64(c, w->g.wo), C = cg_i64(c, w->g.c), zero = cg_i64(c, 0);
    LLVMValueRef x = cg_base(c, w->x), none = zeros(c, NR);
    LLVMTypeRef real = cg_type(c, c->g->nodes[w->x].type);
    /* the output rows the chunk's pixels [k0, k0 + kn) are on: [q0, q1) */
    LLVMValueRef q0 = LLVMBuildSDiv(b, k0, wo, "q0");
    LLVMValueRef q1 = LLVMBuildSDiv(b, LLVMBuildNSWAdd(b, LLVMBuildNSWAdd(b, k0, kn, ""), LLVMBuildNSWSub(b, wo, cg_i64(c, 1), ""), ""),
                                    wo, "q1");
    CgLoop pp = cg_loop_begin(c, p_lo, p_hi, "rpanel");
    LLVMValueRef j = LLVMBuildNSWMul(b, pp.iv, cg_i64(c, NR), "j");
    LLVMValueRef in = LLVMBuildICmp(b, LLVMIntSLT, j, cg_i64(c, n), "");  /* n is a multiple of NR: all in or all past n */
    LLVMValueRef jc = LLVMBuildSelect(b, in, j, zero, "");
    LLVMValueRef tap = LLVMBuildSDiv(b, jc, C, "tap"), cc = LLVMBuildSRem(b, jc, C, "c");
    LLVMValueRef dy = LLVMBuildNSWSub(b, LLVMBuildSDiv(b, tap, cg_i64(c, w->g.kw), ""), cg_i64(c, w->g.ph), "dy");
    LLVMValueRef dx = LLVMBuildNSWSub(b, LLVMBuildSRem(b, tap, cg_i64(c, w->g.kw), ""), cg_i64(c, w->g.pw), "dx");
    LLVMValueRef prows = LLVMBuildGEP2(b, c->t_ptr, rows, (LLVMValueRef[]){LLVMBuildNSWMul(b, pp.iv, kn, "")}, 1, "");
    CgLoop lq = cg_loop_begin(c, q0, q1, "orow");
    LLVMValueRef row_in, start = tap_row_start(c, w, lq.iv, dy, cc, &row_in);
    row_in = LLVMBuildAnd(b, row_in, in, "");
    /* the run: pixels [from, to) of the chunk, ox = k0 + k - q·wo */
    LLVMValueRef qk = LLVMBuildNSWSub(b, LLVMBuildNSWMul(b, lq.iv, wo, ""), k0, "qk");  /* where row q starts, from k0 */
    LLVMValueRef from = cg_imax(c, qk, zero, "from");
    LLVMValueRef end = LLVMBuildNSWAdd(b, qk, wo, "");
    LLVMValueRef to = cg_imin(c, end, kn, "to");
    CgLoop lk = cg_loop_begin(c, from, to, "rpix");
    LLVMValueRef ox = LLVMBuildNSWSub(b, lk.iv, qk, "ox");
    LLVMValueRef ix = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, ox, cg_i64(c, w->g.sw), ""), dx, "ix");
    LLVMValueRef inside = LLVMBuildAnd(b, row_in, cg_in_range(c, ix, w->g.w), "inside");
    LLVMValueRef at = LLVMBuildNSWAdd(b, start, LLVMBuildNSWMul(b, LLVMBuildSelect(b, inside, ix, zero, ""), C, ""), "");
    LLVMValueRef row = LLVMBuildSelect(b, inside, LLVMBuildGEP2(b, real, x, &at, 1, ""), none, "b_row");
    LLVMBuildStore(b, row, LLVMBuildGEP2(b, c->t_ptr, prows, &lk.iv, 1, ""));
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
    cg_loop_end(c, &lk);
    LLVMValueRef on = LLVMConstInt(c->t_i1, 1, 0);
    LLVMValueRef lanes = LLVMConstInt(c->t_i32, 64 / sizeof(void *), 0), once = LLVMConstInt(c->t_i32, 1, 0);
    cg_loop_hints(c, latch, (const char *const[]){"llvm.loop.vectorize.enable", "llvm.loop.vectorize.width",
                                                  "llvm.loop.vectorize.predicate.enable", "llvm.loop.interleave.count"},
                  (LLVMValueRef[]){on, lanes, on, once}, 4);
    cg_loop_end(c, &lq);
    cg_loop_end(c, &pp);
}

void cg_implicit_pack_b(Cg *c, int v, LLVMValueRef k0, LLVMValueRef kn, int64_t n, LLVMValueRef p_lo,
                        LLVMValueRef p_hi, int NR, int VW, LLVMValueRef packB)
{
    Win w = win_of(c, v);
    if (w.g.c % VW == 0) {
        copy_b_vectors(c, &w, k0, kn, n, p_lo, p_hi, NR, VW, packB);
        return;
    }
    /* element by element (C not a multiple of VW); k outer: a pixel's place
     * is worked out once for all its panels */
    CgLoop pk = cg_loop_begin(c, cg_i64(c, 0), kn, "ipk");
    CgLoop pp = cg_loop_begin(c, p_lo, p_hi, "ipanel");
    LLVMValueRef pix = LLVMBuildNSWAdd(c->b, k0, pk.iv, "pix");
    LLVMValueRef dst = real_at(c, packB, LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, pp.iv, kn, ""), pk.iv, ""),
                                                          cg_i64(c, NR), ""));
    for (int h = 0; h < NR / VW; h++) {
        LLVMValueRef j = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, pp.iv, cg_i64(c, NR), ""), cg_i64(c, h * VW), "j");
        for (int l = 0; l < VW; l++) {
            LLVMValueRef jl = LLVMBuildNSWAdd(c->b, j, cg_i64(c, l), "");
            LLVMValueRef in = LLVMBuildICmp(c->b, LLVMIntSLT, jl, cg_i64(c, n), "");
            LLVMValueRef jc = LLVMBuildSelect(c->b, in, jl, cg_i64(c, 0), "");
            LLVMValueRef x = LLVMBuildSelect(c->b, in, elem_of(c, &w, pix, jc), cg_real(c, 0), "");
            LLVMBuildStore(c->b, x, real_at(c, dst, cg_i64(c, h * VW + l)));
        }
    }
    cg_loop_end(c, &pp);
    cg_loop_end(c, &pk);
}

bool cg_implicit_b_rows_fit(Cg *c, int v, int NR)
{
    return win_of(c, v).g.c % NR == 0;
}

void cg_implicit_b_rows(Cg *c, int v, LLVMValueRef k0, LLVMValueRef kn, int64_t n, LLVMValueRef p_lo, LLVMValueRef p_hi,
                        int NR, LLVMValueRef rows)
{
    Win w = win_of(c, v);
    point_b_rows(c, &w, k0, kn, n, p_lo, p_hi, NR, rows);
}
