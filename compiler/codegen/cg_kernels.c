/* cg_kernels.c — one kernel per node: the loops that compute it.
 *
 * Every kernel is `void k(RtCtx *ctx, i64 begin, i64 end)` over items
 * [begin, end) of its extent: rows of its result for elementwise, row and
 * layout kernels, result elements for reductions.  Each result element is
 * computed by exactly one item, always in the same order, so the split over
 * threads never changes a bit.  Inner loops are plain scalar loops over
 * contiguous memory that LLVM's vectorizer turns into vector code; the
 * matmul (cg_matmul.c) is blocked by hand.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

/* Result split into rows: all axes but the last are the rows, the last the
 * inner loop; a rank-0 result is one row of one element. */
static int row_axes(const IrShape *s) { return s->rank > 0 ? s->rank - 1 : 0; }
static LLVMValueRef inner_len(Cg *c, const IrShape *s) { return s->rank ? cg_dim(c, s->dim[s->rank - 1]) : cg_i64(c, 1); }

/* ---- elementwise: single ops, FUSED, BROADCAST, CAST -------------------------------- */

/* Operand v at row `row` of domain (a row: all axes but the last). */
static void operand_at_row(Cg *c, CgOperand *op, int v, const IrShape *domain, LLVMValueRef row)
{
    op->node = v;
    op->scalar = cg_leaf_scalar(c, v);
    if (op->scalar)
        return;
    op->base = cg_base(c, v);
    CgStrides st;
    cg_strides(&N(c, v)->shape, domain, &st);
    op->row_off = cg_offset_of(c, domain, row_axes(domain), &st, row);
    op->step = domain->rank ? st.stride[domain->rank - 1] : 0;
}

/* Evaluates a fused program (or a single op) at one element.  given[k],
 * when given and not NULL, is operand k's value (a group's earlier member:
 * body_flat), not loaded. */
static LLVMValueRef eval_program(Cg *c, const IrNode *n, const CgOperand *ops, const LLVMValueRef *given,
                                 LLVMValueRef j)
{
    int nin = n->op != IR_FUSED && n->op != IR_MATMUL_EPI ? (n->nin < 3 ? n->nin : 3) : n->a.prog->nin;
    LLVMValueRef *val = calloc((size_t)nin + (n->a.prog ? (size_t)n->a.prog->n : 0) + 3, sizeof *val);
    for (int k = 0; k < nin; k++)
        val[k] = given && given[k] ? given[k] : cg_operand_load(c, &ops[k], j);
    LLVMValueRef r;
    if (n->op != IR_FUSED && n->op != IR_MATMUL_EPI)
        r = n->op == IR_BROADCAST || n->op == IR_CAST ? val[0] : cg_scalar_op(c, n->op, val[0], val[1], val[2], n->a.f);
    else
        r = cg_program(c, n->a.prog, val);
    free(val);
    return r;
}

static void body_elementwise(Cg *c, int v, LLVMValueRef row)
{
    const IrNode *n = N(c, v);
    const IrShape *s = &n->shape;
    CgOperand *ops = calloc((size_t)n->nin + 1, sizeof *ops);  /* a fused region has any number */
    for (int k = 0; k < n->nin; k++)
        operand_at_row(c, &ops[k], n->in[k], s, row);
    LLVMValueRef len = inner_len(c, s);
    LLVMValueRef out_row = LLVMBuildNSWMul(c->b, row, len, "");
    CgLoop l = cg_loop_begin(c, cg_i64(c, 0), len, "j");
    LLVMValueRef x = eval_program(c, n, ops, NULL, l.iv);
    cg_store(c, v, LLVMBuildNSWAdd(c->b, out_row, l.iv, ""), x);
    cg_loop_end(c, &l);
    free(ops);
}

/* Operand v of a flat elementwise node: its element e is at base[e], or
 * its one value (a scalar in memory, or a leaf with none). */
static void flat_operand(Cg *c, CgOperand *op, int v)
{
    op->node = v;
    op->scalar = cg_leaf_scalar(c, v);
    if (!op->scalar) {
        op->base = cg_base(c, v);
        op->row_off = cg_i64(c, 0);
        op->step = N(c, v)->shape.rank > 0;  /* a scalar in memory: its one value */
    }
}

/* Flat elementwise nodes (cg_flat_elementwise), elements [begin, end) in
 * one loop whatever the shape (the wrapper turns its rows into elements):
 * v alone, or the group v launches (cg_group.c), each member in order, its
 * result stored and handed as a value to the later members that read it. */
static void body_flat(Cg *c, int v)
{
    int members[CG_GROUP_MAX], count = cg_group_members(c->g, c->group, v, members);
    CgOperand *ops[CG_GROUP_MAX];
    LLVMValueRef *given[CG_GROUP_MAX], result[CG_GROUP_MAX];
    for (int q = 0; q < count; q++) {  /* the operands' addresses, before the loop */
        const IrNode *n = N(c, members[q]);
        ops[q] = calloc((size_t)n->nin + 1, sizeof **ops);
        given[q] = calloc((size_t)n->nin + 1, sizeof **given);
        for (int k = 0; k < n->nin; k++)
            if (cg_index_of(members, q, n->in[k]) < 0)
                flat_operand(c, &ops[q][k], n->in[k]);
    }
    CgLoop l = cg_loop_begin(c, c->begin_arg, c->end_arg, "e");
    for (int q = 0; q < count; q++) {
        const IrNode *n = N(c, members[q]);
        for (int k = 0; k < n->nin; k++) {
            int p = cg_index_of(members, q, n->in[k]);
            given[q][k] = p >= 0 ? result[p] : NULL;
        }
        result[q] = eval_program(c, n, ops[q], given[q], l.iv);
        cg_store(c, members[q], l.iv, result[q]);
    }
    cg_loop_end(c, &l);
    for (int q = 0; q < count; q++) {
        free(ops[q]);
        free(given[q]);
    }
}

/* ---- rows: FUSED_ROWS ---------------------------------------------------------------- */

/* Partial results of a row's sum, mean or maximum (row_reduce); also the
 * width of the vectors at whose end a row stops at its mask (rows_stop_at). */
enum { ROW_LANES = 16 };

/* A rows kernel's temporaries too long for the stack (rows_scratch_begin):
 * the thread's scratch memory, the call that asks for it (its size set
 * when the body is done), and the reals handed out so far; base NULL when
 * the temporaries are allocas.  One per kernel body, its rows' share. */
typedef struct RowScratch {
    LLVMValueRef base, call;
    int64_t      reals;
} RowScratch;

/* A row of a fused_rows: its operands, per-row scalars and row
 * temporaries (body_rows). */
typedef struct Row {
    CgOperand    *ops;      /* operands at the row */
    LLVMValueRef *scal;     /* per-row scalars, by value */
    LLVMValueRef *vec;      /* row temporaries (allocas), by value */
    bool         *is_vec;   /* which values are a row (else a scalar) */
    LLVMValueRef  row;      /* the row's index */
    int           nin;      /* operands: values [0, nin) */
    int64_t       len;      /* the row's length L */
    /* A row stopped at its causal mask (ir_rows_tri_mask), or stop NULL:
     * columns [0, stop) computed, stop the end of the vector of ROW_LANES
     * that holds column i + d of row i (or L); past[x] the one value of
     * value x in [stop, L), NULL where a sum skips x (0 there: triangle.c). */
    LLVMValueRef  stop;
    LLVMValueRef *past;
    RowScratch   *scratch;  /* where temporaries too long for the stack go */
} Row;

/* Element i of row value a: an operand's, or a row temporary's. */
static LLVMValueRef row_value(Cg *c, const Row *r, int a, LLVMValueRef i)
{
    return a < r->nin ? cg_operand_load(c, &r->ops[a], i)
                      : LLVMBuildLoad2(c->b, c->t_real, LLVMBuildGEP2(c->b, c->t_real, r->vec[a], &i, 1, ""), "");
}

/* The end of the columns a row computes: its stop, or L. */
static LLVMValueRef row_end(Cg *c, const Row *r) { return r->stop ? r->stop : cg_i64(c, r->len); }

/* One step of a reduction (SUM, MEAN, RMAX; body_rows and body_reduce),
 * or two partial results combined: cur + x, where a NaN stays; or for one
 * that keeps the greatest (OPF_MAXES: RMAX) the greater, x taken only when
 * x > cur, so a NaN element is passed over (one x86 max instruction).  The
 * interpreter's RMAX lets a NaN win instead: a maximum over a NaN and
 * numbers differs between them (a softmax over that row is NaN in both). */
static LLVMValueRef reduce_step(Cg *c, IrOp op, LLVMValueRef cur, LLVMValueRef x)
{
    return ir_ops[op].flags & OPF_MAXES ? LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, x, cur, ""), x, cur, "")
                                        : LLVMBuildFAdd(c->b, cur, x, "");
}

/* A reduction's result from its accumulated terms: divided by their count
 * (an i64) for one that averages (OPF_AVERAGES: MEAN). */
static LLVMValueRef reduce_finish(Cg *c, IrOp op, LLVMValueRef acc, LLVMValueRef count)
{
    if (!(ir_ops[op].flags & OPF_AVERAGES))
        return acc;
    return LLVMBuildFDiv(c->b, acc, LLVMBuildSIToFP(c->b, count, c->t_real, ""), "");
}

/* A reduction of L copies of one value is L times it when it adds them
 * (SUM), the value itself when it averages or keeps the greatest. */
static bool sums_copies(IrOp op) { return (ir_ops[op].flags & OPF_ADDS) && !(ir_ops[op].flags & OPF_AVERAGES); }

/* acc = reduce_step(acc, x(i)) for i in [begin, end), in order: x(i) is
 * x_at(row value a, i), or `same` at every i. */
static void reduce_run(Cg *c, IrOp op, LLVMTypeRef t, LLVMValueRef acc, LLVMValueRef begin, LLVMValueRef end,
                       LLVMValueRef (*x_at)(Cg *, const Row *, int, LLVMValueRef), const Row *r, int a, LLVMValueRef same)
{
    CgLoop l = cg_loop_begin(c, begin, end, "r");
    LLVMValueRef x = same ? same : x_at(c, r, a, l.iv);
    LLVMBuildStore(c->b, reduce_step(c, op, LLVMBuildLoad2(c->b, t, acc, ""), x), acc);
    cg_loop_end(c, &l);
}

/* ROW_LANES consecutive elements of row value a, those of vector iv. */
static LLVMValueRef lanes_at(Cg *c, const Row *r, int a, LLVMValueRef iv)
{
    LLVMValueRef at0 = LLVMBuildNSWMul(c->b, iv, cg_i64(c, ROW_LANES), "");
    LLVMValueRef x = LLVMGetUndef(LLVMVectorType(c->t_real, ROW_LANES));
    for (int j = 0; j < ROW_LANES; j++)
        x = LLVMBuildInsertElement(c->b, x, row_value(c, r, a, LLVMBuildNSWAdd(c->b, at0, cg_i64(c, j), "")),
                                   LLVMConstInt(c->t_i32, (unsigned)j, 0), "");
    return x;
}

/* A vector's lanes folded in halves, lane j with lane j + h, h = 8, 4, 2,
 * 1: lane 0's value. */
static LLVMValueRef fold_lanes(Cg *c, IrOp op, LLVMValueRef cur)
{
    for (int h = ROW_LANES / 2; h >= 1; h /= 2) {
        LLVMValueRef lo[ROW_LANES / 2], hi[ROW_LANES / 2];
        for (int j = 0; j < h; j++) {
            lo[j] = LLVMConstInt(c->t_i32, (unsigned)j, 0);
            hi[j] = LLVMConstInt(c->t_i32, (unsigned)(j + h), 0);
        }
        LLVMValueRef u = LLVMGetUndef(LLVMTypeOf(cur));
        LLVMValueRef vlo = LLVMBuildShuffleVector(c->b, cur, u, LLVMConstVector(lo, (unsigned)h), "");
        LLVMValueRef vhi = LLVMBuildShuffleVector(c->b, cur, u, LLVMConstVector(hi, (unsigned)h), "");
        cur = reduce_step(c, op, vlo, vhi);
    }
    return LLVMBuildExtractElement(c->b, cur, LLVMConstInt(c->t_i32, 0, 0), "");
}

/* Reduction `op` (SUM, MEAN, RMAX) of row value a: ROW_LANES partial
 * results, lane j over the elements j, j + ROW_LANES, ...: independent
 * chains that LLVM makes one vector (one scalar chain of `len` dependent
 * adds was 6% of the GPT's step in the attention's softmax alone); then
 * the lanes folded in halves and the last len mod ROW_LANES elements added
 * in order.  A fixed order whatever the CPU and the threads: the same bits
 * everywhere.  A row shorter than 2·ROW_LANES is one lane, in order.  A
 * row stopped at its mask reads [0, stop) and takes its one value past it
 * in the same order (past), or skips the terms there (±0, a sum's). */
static LLVMValueRef row_reduce(Cg *c, const Row *r, IrOp op, int a)
{
    int64_t len = r->len, lanes = len >= 2 * ROW_LANES ? ROW_LANES : 1, whole = lanes > 1 ? len / lanes * lanes : 0;
    LLVMValueRef stop = row_end(c, r), past = r->stop ? r->past[a] : NULL;
    LLVMValueRef init = cg_real(c, ir_reduce_start(op)), res = init;
    if (lanes > 1) {
        LLVMTypeRef vt = LLVMVectorType(c->t_real, ROW_LANES);
        LLVMValueRef acc = cg_alloca(c, vt, NULL, "lanes");
        LLVMValueRef splat[ROW_LANES];
        for (int j = 0; j < ROW_LANES; j++)
            splat[j] = init;
        LLVMBuildStore(c->b, LLVMConstVector(splat, ROW_LANES), acc);
        LLVMValueRef vecs = cg_i64(c, whole / lanes);  /* a stop is whole vectors, or L */
        LLVMValueRef read = r->stop ? LLVMBuildSDiv(c->b, cg_imin(c, stop, cg_i64(c, whole), ""), cg_i64(c, lanes), "") : vecs;
        reduce_run(c, op, vt, acc, cg_i64(c, 0), read, lanes_at, r, a, NULL);
        if (past) {
            LLVMValueRef same = LLVMGetUndef(vt);
            for (int j = 0; j < ROW_LANES; j++)
                same = LLVMBuildInsertElement(c->b, same, past, LLVMConstInt(c->t_i32, (unsigned)j, 0), "");
            reduce_run(c, op, vt, acc, read, vecs, NULL, r, a, same);
        }
        res = fold_lanes(c, op, LLVMBuildLoad2(c->b, vt, acc, ""));
    }
    LLVMValueRef acc = cg_alloca(c, c->t_real, NULL, "acc");
    LLVMBuildStore(c->b, res, acc);
    LLVMValueRef tail = r->stop ? cg_imax(c, stop, cg_i64(c, whole), "") : cg_i64(c, len);  /* [whole, L) in order */
    reduce_run(c, op, c->t_real, acc, cg_i64(c, whole), tail, row_value, r, a, NULL);
    if (past)
        reduce_run(c, op, c->t_real, acc, tail, cg_i64(c, len), NULL, r, a, past);
    res = LLVMBuildLoad2(c->b, c->t_real, acc, "");
    return reduce_finish(c, op, res, cg_i64(c, len));
}

/* Where rows kernel n stops row `row` (Row's stop): the end of the vector
 * of ROW_LANES that holds column i + d, i the row's place along the mask's
 * rows, or L. */
static LLVMValueRef rows_stop_at(Cg *c, const IrNode *n, LLVMValueRef row, int64_t len)
{
    int64_t T = n->shape.dim[n->shape.rank - 2];
    LLVMValueRef i = LLVMBuildURem(c->b, row, cg_i64(c, T), "i");
    LLVMValueRef kept = LLVMBuildNSWAdd(c->b, i, cg_i64(c, ir_rows_tri_offset(n) + ROW_LANES), "");  /* i + d + 1, rounded up */
    LLVMValueRef up = LLVMBuildNSWMul(c->b, LLVMBuildUDiv(c->b, kept, cg_i64(c, ROW_LANES), ""), cg_i64(c, ROW_LANES), "");
    return cg_imin(c, up, cg_i64(c, len), "stop");
}

/* Value x's one value past a row's stop (Row's past), once its operands'
 * are known: the mask is 0 (false) there, a select on it takes its other
 * side; a scalar is itself; NULL for a value that differs from column to
 * column (ir_rows_fixed). */
static LLVMValueRef past_value(Cg *c, const Row *r, const IrProgram *p, int mk, const bool *fixed, int x)
{
    if (!fixed[x])
        return NULL;
    if (x == mk)
        return cg_real(c, 0);
    if (!r->is_vec[x])
        return r->scal[x];
    const IrInstr *in = &p->code[x - p->nin];
    int side = ir_past_mask_side(in, mk);
    if (side >= 0)
        return r->past[side];
    LLVMValueRef v[3] = {NULL, NULL, NULL};
    int args[3] = {in->a, in->b, in->c};
    for (int q = 0; q < 3; q++)
        v[q] = args[q] >= 0 ? r->past[args[q]] : NULL;
    return cg_scalar_op(c, in->op, v[0], v[1], v[2], in->f);  /* as the row's loop computes it */
}

/* Instruction `in` (value id) of a row, one that reads a row value: its
 * loop over the row's computed columns into a row temporary. */
static void row_instr(Cg *c, Row *r, const IrInstr *in, int id)
{
    r->is_vec[id] = true;
    if (r->scratch->base) {
        r->vec[id] = LLVMBuildGEP2(c->b, c->t_real, r->scratch->base, (LLVMValueRef[]){cg_i64(c, r->scratch->reals)}, 1, "rowtmp");
        r->scratch->reals += r->len;
    } else {
        r->vec[id] = cg_alloca(c, c->t_real, cg_i64(c, r->len), "rowtmp");
    }
    CgLoop l = cg_loop_begin(c, cg_i64(c, 0), row_end(c, r), "e");
    LLVMValueRef x[3] = {NULL, NULL, NULL};
    int args[3] = {in->a, in->b, in->c};
    for (int q = 0; q < 3; q++)
        if (args[q] >= 0)
            x[q] = r->is_vec[args[q]] ? row_value(c, r, args[q], l.iv) : r->scal[args[q]];
    LLVMValueRef y = cg_scalar_op(c, in->op, x[0], x[1], x[2], in->f);
    LLVMBuildStore(c->b, y, LLVMBuildGEP2(c->b, c->t_real, r->vec[id], &l.iv, 1, ""));
    cg_loop_end(c, &l);
}

/* Instruction k of program p (uses: cg_program_uses) in row r: a
 * reduction, a per-row scalar, or a row of values; and its value past the
 * row's stop. */
static void row_step(Cg *c, Row *r, const IrProgram *p, const int *uses, int k, int mk, const bool *fixed)
{
    const IrInstr *in = &p->code[k];
    int id = p->nin + k;
    int args[3] = {in->a, in->b, in->c};
    bool any_vec = false;
    for (int q = 0; q < 3; q++)
        any_vec |= args[q] >= 0 && r->is_vec[args[q]];
    if (ir_ops[in->op].flags & OPF_REDUCTION) {
        int a = in->a;
        if (!r->is_vec[a])  /* a per-row scalar repeated along the row: L of it, its mean or its maximum */
            r->scal[id] = sums_copies(in->op) ? LLVMBuildFMul(c->b, r->scal[a], cg_real(c, (double)r->len), "") : r->scal[a];
        else
            r->scal[id] = row_reduce(c, r, in->op, a);
    } else if (!any_vec) {
        LLVMValueRef x[3] = {NULL, NULL, NULL};
        for (int q = 0; q < 3; q++)
            x[q] = args[q] >= 0 ? r->scal[args[q]] : NULL;
        r->scal[id] = cg_program_instr(c, p, uses, k, x[0], x[1], x[2]);  /* one block: a lone product fused */
    } else {
        row_instr(c, r, in, id);
    }
    if (r->stop)
        r->past[id] = past_value(c, r, p, mk, fixed, id);
}

/* out[row · L + j] = y(j) for j in [begin, end): row value root's element,
 * or `same`. */
static void row_store(Cg *c, int v, const Row *r, int root, LLVMValueRef begin, LLVMValueRef end, LLVMValueRef same)
{
    LLVMValueRef out_row = LLVMBuildNSWMul(c->b, r->row, cg_i64(c, r->len), "");
    CgLoop l = cg_loop_begin(c, begin, end, "out");
    LLVMValueRef y = same ? same : row_value(c, r, root, l.iv);
    cg_store(c, v, LLVMBuildNSWAdd(c->b, out_row, l.iv, ""), y);
    cg_loop_end(c, &l);
}

/* The program of rows r[0 .. nrows) from their operands on (set), each up
 * to its stop, instruction by instruction across the rows (their chains
 * of dependent steps side by side: rows_per_item), and their results
 * stored. */
static void rows_program(Cg *c, int v, Row *r, int nrows, const bool *fixed)
{
    const IrNode *n = N(c, v);
    const IrProgram *p = n->a.prog;
    int mk = ir_rows_tri_mask(n), root = p->nin + p->n - 1;
    int *uses = cg_program_uses(p);
    for (int k = 0; k < p->n; k++)
        for (int q = 0; q < nrows; q++)
            row_step(c, &r[q], p, uses, k, mk, fixed);
    free(uses);
    for (int q = 0; q < nrows; q++) {
        LLVMValueRef L = cg_i64(c, r[q].len);
        if (r[q].is_vec[root]) {
            row_store(c, v, &r[q], root, cg_i64(c, 0), row_end(c, &r[q]), NULL);
            if (r[q].stop)
                row_store(c, v, &r[q], root, r[q].stop, L, r[q].past[root]);
        } else if (n->shape.dim[n->shape.rank - 1] == 1) {
            cg_store(c, v, r[q].row, r[q].scal[root]);
        } else {  /* a per-row value broadcast along the row (a BROADCAST root folds into this) */
            row_store(c, v, &r[q], root, cg_i64(c, 0), L, r[q].scal[root]);
        }
    }
}

/* Rows stopped at their mask, in one copy of their code per place they may
 * stop (the multiples of ROW_LANES below L, and L) when there are at most
 * this many: constant loop counts, which LLVM unrolls into straight vector
 * code as it does whole rows' (with the count a variable, the GPT's
 * 64-long rows took 1.8 times the CPU of whole rows: remainder loops, the
 * result copied by a call to memcpy).  Longer rows loop to a variable
 * stop. */
enum { ROWS_STOP_COPIES = 8 };

/* Rows a rows kernel computes per item: of a row-stopped one
 * (ir_rows_tri_mask) ROWS_TRI_ITEM neighbours along the mask's rows (when
 * they divide them: all in one matrix), whose chains of dependent steps
 * (the maximum, the exponentials, the sum, the division) run side by side;
 * one at a time, a stopped row took as long as a whole one: its chain is
 * as long, and the core overlaps few rows' chains. */
enum { ROWS_TRI_ITEM = 2 };

static int rows_per_item(const IrNode *n)
{
    return ir_rows_tri_mask(n) >= 0 && n->shape.dim[n->shape.rank - 2] % ROWS_TRI_ITEM == 0 ? ROWS_TRI_ITEM : 1;
}

/* Where a rows kernel's rows stop (rows_at_stops). */
typedef enum RowsStops {
    STOPS_NONE,      /* no mask: every row whole, in one copy of the program */
    STOPS_CONSTANT,  /* at their mask, in a copy per place they may stop (rows_places) */
    STOPS_VARIABLE,  /* at their mask, in one copy looping to a variable stop: too many places */
} RowsStops;

/* The places a row of length L may stop at: the multiples of ROW_LANES
 * below L, and L. */
static int64_t rows_places(const IrNode *n) { return (n->a.i[0] + ROW_LANES - 1) / ROW_LANES; }

static RowsStops rows_stops(const IrNode *n)
{
    if (ir_rows_tri_mask(n) < 0)
        return STOPS_NONE;
    return rows_places(n) <= ROWS_STOP_COPIES ? STOPS_CONSTANT : STOPS_VARIABLE;
}

/* The copies of a rows kernel's program (rows_at_stops). */
static int64_t rows_copies(const IrNode *n) { return rows_stops(n) == STOPS_CONSTANT ? rows_places(n) : 1; }

/* Rows r[0 .. nrows) of rows kernel v, their operands set, stopped where
 * the last (the furthest) stops: a row computed further than its own stop
 * is computed as a whole row would be.  Their programs at each place they
 * may stop (ROWS_STOP_COPIES), or at one. */
static void rows_at_stops(Cg *c, int v, Row *r, int nrows, const bool *fixed)
{
    const IrNode *n = N(c, v);
    const IrProgram *p = n->a.prog;
    int nv = p->nin + p->n, mk = ir_rows_tri_mask(n);
    int64_t len = r[0].len, copies = rows_copies(n);  /* the scratch bound's count too */
    for (int q = 0; q < nrows; q++)
        for (int k = 0; k < p->nin; k++)
            r[q].past[k] = past_value(c, &r[q], p, mk, fixed, k);
    LLVMValueRef stop = rows_stop_at(c, n, r[nrows - 1].row, len);
    if (rows_stops(n) == STOPS_VARIABLE) {
        for (int q = 0; q < nrows; q++)
            r[q].stop = stop;
        rows_program(c, v, r, nrows, fixed);
        return;
    }
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "rows_stopped");
    LLVMBasicBlockRef whole = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "rows_whole");
    LLVMValueRef sw = LLVMBuildSwitch(c->b, stop, whole, (unsigned)copies - 1);
    RowScratch *scratch = r[0].scratch;
    int64_t first = scratch->reals, most = first;  /* the copies are alternatives: one scratch for all */
    for (int64_t s = 1; s <= copies; s++) {
        scratch->reals = first;
        LLVMBasicBlockRef bb = whole;
        if (s < copies) {
            bb = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "rows_stop");
            LLVMAddCase(sw, cg_i64(c, s * ROW_LANES), bb);
        }
        LLVMPositionBuilderAtEnd(c->b, bb);
        for (int q = 0; q < nrows; q++) {  /* the operands' entries kept, the program's values each copy's own */
            r[q].stop = cg_i64(c, s < copies ? s * ROW_LANES : len);
            for (int k = p->nin; k < nv; k++)
                r[q].is_vec[k] = false;
        }
        rows_program(c, v, r, nrows, fixed);
        most = scratch->reals > most ? scratch->reals : most;
        LLVMBuildBr(c->b, done);
    }
    scratch->reals = most;
    LLVMPositionBuilderAtEnd(c->b, done);
}

/* Row r of rows kernel v at `row`: its operands (is_vec, scal). */
static void row_begin(Cg *c, int v, Row *r, LLVMValueRef row, RowScratch *scratch)
{
    const IrNode *n = N(c, v);
    const IrProgram *p = n->a.prog;
    int nv = p->nin + p->n;
    IrShape domain = n->shape;  /* the rows, each of length len */
    domain.dim[domain.rank - 1] = n->a.i[0];
    *r = (Row){.ops = calloc((size_t)p->nin + 1, sizeof *r->ops), .scal = calloc((size_t)nv, sizeof *r->scal),
               .vec = calloc((size_t)nv, sizeof *r->vec), .is_vec = calloc((size_t)nv, sizeof *r->is_vec),
               .row = row, .nin = p->nin, .len = n->a.i[0], .past = calloc((size_t)nv, sizeof *r->past),
               .scratch = scratch};
    for (int k = 0; k < p->nin; k++) {
        operand_at_row(c, &r->ops[k], n->in[k], &domain, row);
        r->is_vec[k] = !r->ops[k].scalar && r->ops[k].step != 0;
        if (!r->is_vec[k])
            r->scal[k] = cg_operand_load(c, &r->ops[k], cg_i64(c, 0));
    }
}

static void row_free(Row *r)
{
    free(r->ops);
    free(r->scal);
    free(r->vec);
    free(r->is_vec);
    free(r->past);
}

/* Whether the operands ir_rows_fixed calls one value per row (from their
 * shapes) are the ones row r loads as one (from their strides: a last axis
 * of 1 has stride 0), the mask aside.  They agree for every rule ops.c has;
 * should one make them differ, the row is computed whole, which is never
 * wrong, instead of past_value reading an operand that is a row as if it
 * were an instruction (a T = 1 attention crashed so, session 33). */
static bool operands_agree(const Row *r, int nin, int mk, const bool *fixed)
{
    for (int k = 0; k < nin; k++)
        if (fixed[k] && k != mk && r->is_vec[k])
            return false;
    return true;
}

/* Item `item` of rows kernel v: rows_per_item rows from item times that. */
static void body_rows(Cg *c, int v, LLVMValueRef item, RowScratch *scratch)
{
    const IrNode *n = N(c, v);
    const IrProgram *p = n->a.prog;
    int mk = ir_rows_tri_mask(n), nrows = rows_per_item(n);
    bool *fixed = calloc((size_t)(p->nin + p->n), sizeof *fixed);
    Row r[ROWS_TRI_ITEM];
    for (int q = 0; q < nrows; q++) {
        LLVMValueRef row = nrows == 1 ? item : LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, item, cg_i64(c, nrows), ""), cg_i64(c, q), "row");
        row_begin(c, v, &r[q], row, scratch);
    }
    if (mk >= 0)
        ir_rows_fixed(c->g, n, mk, fixed);
    if (mk >= 0 && operands_agree(&r[0], p->nin, mk, fixed)) {
        rows_at_stops(c, v, r, nrows, fixed);
    } else {
        memset(fixed, 0, sizeof *fixed * (size_t)(p->nin + p->n));
        rows_program(c, v, r, nrows, fixed);
    }
    for (int q = 0; q < nrows; q++)
        row_free(&r[q]);
    free(fixed);
}

/* ---- reductions over any axes, and argmax ------------------------------------------ */

enum { COLUMNS = 64 };  /* result elements per item when reducing down columns */

/* A reduction's input split by axes: where a result element starts in the
 * input (the kept axes at its index) and the reduced axes to walk. */
typedef struct Reduction {
    CgStrides kept;            /* the input's strides, 0 on reduced axes */
    IrShape   red;             /* the reduced axes */
    CgStrides red_st;          /* their strides in the input */
} Reduction;

static void split_axes(const IrShape *xs, uint64_t axes, Reduction *r)
{
    CgStrides in_st;
    cg_strides(xs, xs, &in_st);  /* the input's own strides */
    *r = (Reduction){.kept = in_st};
    for (int i = 0; i < xs->rank; i++)
        if (axes >> i & 1) {
            r->kept.stride[i] = 0;
            r->red.dim[r->red.rank] = xs->dim[i];
            r->red_st.stride[r->red.rank] = in_st.stride[i];
            r->red_st.batch_scaled[r->red.rank++] = in_st.batch_scaled[i];
        }
}

/* A sum or mean that keeps its input's last axis (a bias's gradient: the
 * sum of [B, T, D] over B and T) reads each reduced row as a contiguous
 * run: an item takes up to COLUMNS neighbouring result elements and adds
 * whole row segments into them, from 0, a loop that vectorizes, where one
 * result element per item would stride down a column.  Each element still
 * adds its terms in the same order, so the result is the same to the bit.
 * Only a reduction that adds (OPF_ADDS; rmax's shape rule reduces the
 * last axis anyway). */
static bool reduce_columns(const IrNode *n, const IrShape *xs)
{
    return (ir_ops[n->op].flags & OPF_ADDS) && xs->rank >= 2 && !((uint64_t)n->a.i[0] >> (xs->rank - 1) & 1);
}

static void body_reduce_columns(Cg *c, int v, LLVMValueRef item)
{
    const IrNode *n = N(c, v);
    int x = n->in[0];
    const IrShape *xs = &N(c, x)->shape, *os = &n->shape;
    int64_t d = xs->dim[xs->rank - 1], per_row = (d + COLUMNS - 1) / COLUMNS;
    Reduction rd;
    split_axes(xs, (uint64_t)n->a.i[0], &rd);
    LLVMValueRef orow = LLVMBuildSDiv(c->b, item, cg_i64(c, per_row), "orow");
    LLVMValueRef j0 = LLVMBuildNSWMul(c->b, LLVMBuildSRem(c->b, item, cg_i64(c, per_row), ""), cg_i64(c, COLUMNS), "j0");
    LLVMValueRef o0 = LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, orow, cg_i64(c, d), ""), j0, "o0");
    LLVMValueRef left = LLVMBuildNSWSub(c->b, cg_i64(c, d), j0, "");
    LLVMValueRef width = cg_imin(c, left, cg_i64(c, COLUMNS), "width");
    LLVMValueRef start = cg_offset_of(c, os, os->rank, &rd.kept, o0);
    LLVMValueRef acc = cg_alloca(c, c->t_real, cg_i64(c, COLUMNS), "acc");
    CgLoop z = cg_loop_begin(c, cg_i64(c, 0), width, "z");
    LLVMBuildStore(c->b, cg_real(c, 0), LLVMBuildGEP2(c->b, c->t_real, acc, &z.iv, 1, ""));
    cg_loop_end(c, &z);
    LLVMValueRef count = cg_elems(c, &rd.red, 0, rd.red.rank);
    CgLoop r = cg_loop_begin(c, cg_i64(c, 0), count, "r");
    LLVMValueRef off = LLVMBuildNSWAdd(c->b, start, cg_offset_of(c, &rd.red, rd.red.rank, &rd.red_st, r.iv), "");
    CgLoop j = cg_loop_begin(c, cg_i64(c, 0), width, "j");
    LLVMValueRef val = cg_load(c, x, LLVMBuildNSWAdd(c->b, off, j.iv, ""));
    LLVMValueRef slot = LLVMBuildGEP2(c->b, c->t_real, acc, &j.iv, 1, "");
    LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->t_real, slot, ""), val, ""), slot);
    cg_loop_end(c, &j);
    cg_loop_end(c, &r);
    CgLoop w = cg_loop_begin(c, cg_i64(c, 0), width, "w");
    LLVMValueRef y = LLVMBuildLoad2(c->b, c->t_real, LLVMBuildGEP2(c->b, c->t_real, acc, &w.iv, 1, ""), "");
    y = reduce_finish(c, n->op, y, count);
    cg_store(c, v, LLVMBuildNSWAdd(c->b, o0, w.iv, ""), y);
    cg_loop_end(c, &w);
}

static void body_reduce(Cg *c, int v, LLVMValueRef o)
{
    const IrNode *n = N(c, v);
    int x = n->in[0];
    const IrShape *xs = &N(c, x)->shape, *os = &n->shape;
    Reduction rd;
    split_axes(xs, (uint64_t)n->a.i[0], &rd);
    LLVMValueRef start = cg_offset_of(c, os, os->rank, &rd.kept, o);
    LLVMValueRef count = cg_elems(c, &rd.red, 0, rd.red.rank);
    LLVMValueRef acc = cg_alloca(c, c->t_real, NULL, "acc");
    LLVMBuildStore(c->b, cg_real(c, ir_reduce_start(n->op)), acc);
    CgLoop l = cg_loop_begin(c, cg_i64(c, 0), count, "r");
    LLVMValueRef off = LLVMBuildNSWAdd(c->b, start, cg_offset_of(c, &rd.red, rd.red.rank, &rd.red_st, l.iv), "");
    LLVMValueRef val = cg_load(c, x, off);
    LLVMBuildStore(c->b, reduce_step(c, n->op, LLVMBuildLoad2(c->b, c->t_real, acc, ""), val), acc);
    cg_loop_end(c, &l);
    LLVMValueRef r = reduce_finish(c, n->op, LLVMBuildLoad2(c->b, c->t_real, acc, ""), count);
    cg_store(c, v, o, r);
}

static void body_argmax(Cg *c, int v, LLVMValueRef row)
{
    const IrNode *n = N(c, v);
    int x = n->in[0];
    const IrShape *xs = &N(c, x)->shape;
    LLVMValueRef len = cg_dim(c, xs->dim[xs->rank - 1]);
    LLVMValueRef start = LLVMBuildNSWMul(c->b, row, len, "");
    LLVMValueRef best = cg_alloca(c, c->t_real, NULL, "best"), at = cg_alloca(c, c->t_i64, NULL, "at");
    LLVMBuildStore(c->b, cg_load(c, x, start), best);
    LLVMBuildStore(c->b, cg_i64(c, 0), at);
    CgLoop l = cg_loop_begin(c, cg_i64(c, 1), len, "r");
    LLVMValueRef val = cg_load(c, x, LLVMBuildNSWAdd(c->b, start, l.iv, ""));
    LLVMValueRef cur = LLVMBuildLoad2(c->b, c->t_real, best, "");
    LLVMValueRef gt = LLVMBuildFCmp(c->b, LLVMRealOGT, val, cur, "");  /* the first maximum wins */
    LLVMBuildStore(c->b, LLVMBuildSelect(c->b, gt, val, cur, ""), best);
    LLVMBuildStore(c->b, LLVMBuildSelect(c->b, gt, l.iv, LLVMBuildLoad2(c->b, c->t_i64, at, ""), ""), at);
    cg_loop_end(c, &l);
    cg_store(c, v, row, LLVMBuildTrunc(c->b, LLVMBuildLoad2(c->b, c->t_i64, at, ""), c->t_i32, ""));
}

/* ---- layout: reshape, permute, slice, pad, concat ---------------------------------- */

/* The digit of flat row index `row` along axis `ax` of shape's row axes. */
static LLVMValueRef digit_of(Cg *c, const IrShape *s, int ax, LLVMValueRef row)
{
    LLVMValueRef below = cg_elems(c, s, ax + 1, row_axes(s));
    LLVMValueRef q = LLVMBuildSDiv(c->b, row, below, "");
    return ax > 0 ? LLVMBuildSRem(c->b, q, cg_dim(c, s->dim[ax]), "") : q;
}

static void body_layout(Cg *c, int v, LLVMValueRef row)
{
    const IrNode *n = N(c, v);
    const IrShape *os = &n->shape;
    LLVMValueRef len = inner_len(c, os);
    LLVMValueRef out_row = LLVMBuildNSWMul(c->b, row, len, "");
    int x = n->in[0];
    const IrShape *xs = &N(c, x)->shape;
    CgStrides xst;
    cg_strides(xs, xs, &xst);
    if (n->op == IR_RESHAPE) {
        CgLoop l = cg_loop_begin(c, cg_i64(c, 0), len, "j");
        LLVMValueRef e = LLVMBuildNSWAdd(c->b, out_row, l.iv, "");
        cg_store(c, v, e, cg_load(c, x, e));
        cg_loop_end(c, &l);
        return;
    }
    /* Strides of the operand along each result axis. */
    CgStrides st = {0};
    int64_t shift = 0;  /* extra offset (slice start) */
    int ax = -1;
    for (int i = 0; i < os->rank; i++) {
        int src = n->op == IR_PERMUTE ? (int)n->a.i[i] : i;
        st.stride[i] = xst.stride[src];
        st.batch_scaled[i] = xst.batch_scaled[src];
    }
    if (n->op == IR_SLICE || n->op == IR_PAD || n->op == IR_CONCAT) {
        ax = (int)n->a.i[0];
        if (n->op == IR_SLICE)
            shift = n->a.i[1] * xst.stride[ax];
    }
    LLVMValueRef start = LLVMBuildNSWAdd(c->b, cg_offset_of(c, os, row_axes(os), &st, row), cg_i64(c, shift), "");
    bool ax_inner = ax == os->rank - 1;
    if (n->op == IR_PERMUTE || n->op == IR_SLICE) {
        int64_t step = os->rank ? st.stride[os->rank - 1] : 0;
        CgLoop l = cg_loop_begin(c, cg_i64(c, 0), len, "j");
        LLVMValueRef src = LLVMBuildNSWAdd(c->b, start, LLVMBuildNSWMul(c->b, l.iv, cg_i64(c, step), ""), "");
        cg_store(c, v, LLVMBuildNSWAdd(c->b, out_row, l.iv, ""), cg_load(c, x, src));
        cg_loop_end(c, &l);
        return;
    }
    /* pad and concat: which operand (or zero) depends on the index along ax */
    int64_t before = n->op == IR_PAD ? n->a.i[1] : 0;
    int64_t first = xs->dim[ax];  /* concat: indices below this come from the first operand */
    const IrShape *ys = n->op == IR_CONCAT ? &N(c, n->in[1])->shape : NULL;
    CgStrides yst = {0};
    if (ys)
        cg_strides(ys, ys, &yst);
    LLVMValueRef dig = ax_inner ? NULL : digit_of(c, os, ax, row);
    CgLoop l = cg_loop_begin(c, cg_i64(c, 0), len, "j");
    LLVMValueRef d = ax_inner ? l.iv : dig;
    LLVMValueRef here = LLVMBuildNSWAdd(c->b, out_row, l.iv, "");
    /* the element's position with ax's digit removed, then put back for the chosen operand */
    LLVMValueRef inner_step = cg_i64(c, os->rank ? st.stride[os->rank - 1] : 0);
    LLVMValueRef base_off = LLVMBuildNSWAdd(c->b, start, ax_inner ? cg_i64(c, 0) : LLVMBuildNSWMul(c->b, l.iv, inner_step, ""), "");
    /* along an inner ax, start (from the row digits) never held ax's digit */
    LLVMValueRef no_ax = ax_inner ? base_off
                       : LLVMBuildNSWSub(c->b, base_off, LLVMBuildNSWMul(c->b, d, cg_i64(c, xst.stride[ax]), ""), "");
    LLVMValueRef val;
    if (n->op == IR_PAD) {
        LLVMValueRef k = LLVMBuildNSWSub(c->b, d, cg_i64(c, before), "");
        LLVMValueRef inside = cg_in_range(c, k, xs->dim[ax]);
        LLVMValueRef kk = LLVMBuildSelect(c->b, inside, k, cg_i64(c, 0), "");
        LLVMValueRef src = LLVMBuildNSWAdd(c->b, no_ax, LLVMBuildNSWMul(c->b, kk, cg_i64(c, xst.stride[ax]), ""), "");
        val = LLVMBuildSelect(c->b, inside, cg_load(c, x, src), LLVMConstNull(cg_type(c, n->type)), "");
    } else {
        LLVMValueRef in_a = LLVMBuildICmp(c->b, LLVMIntSLT, d, cg_i64(c, first), "");
        LLVMValueRef da = LLVMBuildSelect(c->b, in_a, d, cg_i64(c, 0), "");
        LLVMValueRef a_src = LLVMBuildNSWAdd(c->b, no_ax, LLVMBuildNSWMul(c->b, da, cg_i64(c, xst.stride[ax]), ""), "");
        /* the second operand's offset: same digits with its own strides */
        CgStrides yrow = {0};
        for (int i = 0; i < os->rank; i++) {
            yrow.stride[i] = i == ax ? 0 : yst.stride[i];
            yrow.batch_scaled[i] = yst.batch_scaled[i];
        }
        LLVMValueRef y_start = cg_offset_of(c, os, row_axes(os), &yrow, row);
        LLVMValueRef y_inner = ax_inner ? cg_i64(c, 0)
                             : LLVMBuildNSWMul(c->b, l.iv, cg_i64(c, os->rank ? yst.stride[os->rank - 1] : 0), "");
        LLVMValueRef db = LLVMBuildSelect(c->b, in_a, cg_i64(c, 0), LLVMBuildNSWSub(c->b, d, cg_i64(c, first), ""), "");
        LLVMValueRef b_src = LLVMBuildNSWAdd(c->b, LLVMBuildNSWAdd(c->b, y_start, y_inner, ""),
                                             LLVMBuildNSWMul(c->b, db, cg_i64(c, yst.stride[ax]), ""), "");
        val = LLVMBuildSelect(c->b, in_a, cg_load(c, x, a_src), cg_load(c, n->in[1], b_src), "");
    }
    cg_store(c, v, here, val);
    cg_loop_end(c, &l);
}

/* ---- indices ----------------------------------------------------------------------- */

/* GATHER: row r of the result = table[ids[r], :] */
static void body_gather(Cg *c, int v, LLVMValueRef row)
{
    const IrNode *n = N(c, v);
    int table = n->in[0], ids = n->in[1];
    int64_t d = n->shape.dim[n->shape.rank - 1];
    LLVMValueRef id = LLVMBuildSExt(c->b, cg_load(c, ids, row), c->t_i64, "id");
    LLVMValueRef src = LLVMBuildNSWMul(c->b, id, cg_i64(c, d), ""), dst = LLVMBuildNSWMul(c->b, row, cg_i64(c, d), "");
    CgLoop l = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, d), "j");
    cg_store(c, v, LLVMBuildNSWAdd(c->b, dst, l.iv, ""), cg_load(c, table, LLVMBuildNSWAdd(c->b, src, l.iv, "")));
    cg_loop_end(c, &l);
}

/* SCATTER_ADD: rows added at their ids, in row order (one item: deterministic) */
static void body_scatter_add(Cg *c, int v)
{
    const IrNode *n = N(c, v);
    int rows = n->in[0], ids = n->in[1];
    int64_t d = n->shape.dim[1];
    LLVMValueRef total = cg_elems(c, &n->shape, 0, 2);
    CgLoop z = cg_loop_begin(c, cg_i64(c, 0), total, "z");
    cg_store(c, v, z.iv, cg_real(c, 0));
    cg_loop_end(c, &z);
    LLVMValueRef count = cg_elems(c, &N(c, ids)->shape, 0, N(c, ids)->shape.rank);
    CgLoop r = cg_loop_begin(c, cg_i64(c, 0), count, "r");
    LLVMValueRef id = LLVMBuildSExt(c->b, cg_load(c, ids, r.iv), c->t_i64, "id");
    LLVMValueRef dst = LLVMBuildNSWMul(c->b, id, cg_i64(c, d), ""), src = LLVMBuildNSWMul(c->b, r.iv, cg_i64(c, d), "");
    CgLoop l = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, d), "j");
    LLVMValueRef at = LLVMBuildNSWAdd(c->b, dst, l.iv, "");
    LLVMValueRef sum = LLVMBuildFAdd(c->b, cg_load(c, v, at), cg_load(c, rows, LLVMBuildNSWAdd(c->b, src, l.iv, "")), "");
    cg_store(c, v, at, sum);
    cg_loop_end(c, &l);
    cg_loop_end(c, &r);
}

static void body_one_hot(Cg *c, int v, LLVMValueRef row)
{
    const IrNode *n = N(c, v);
    int64_t k = n->a.i[0];
    LLVMValueRef id = LLVMBuildSExt(c->b, cg_load(c, n->in[0], row), c->t_i64, "id");
    LLVMValueRef dst = LLVMBuildNSWMul(c->b, row, cg_i64(c, k), "");
    CgLoop l = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, k), "j");
    LLVMValueRef hit = LLVMBuildICmp(c->b, LLVMIntEQ, l.iv, id, "");
    cg_store(c, v, LLVMBuildNSWAdd(c->b, dst, l.iv, ""), LLVMBuildSelect(c->b, hit, cg_real(c, 1), cg_real(c, 0), ""));
    cg_loop_end(c, &l);
}

/* RANDOM_MASK: element e = 0 if rt_uniform(seed, stream, step, e) < p, else 1/(1-p) */
static void body_random_mask(Cg *c, int v, LLVMValueRef row)
{
    const IrNode *n = N(c, v);
    LLVMTypeRef params[4] = {c->t_i64, c->t_i64, c->t_i64, c->t_i64};
    LLVMTypeRef ft = LLVMFunctionType(c->t_f64, params, 4, 0);
    LLVMValueRef fn = cg_declare(c, "rt_uniform", ft);
    LLVMValueRef step = LLVMBuildFPToUI(c->b, cg_load(c, n->in[0], cg_i64(c, 0)), c->t_i64, "step");
    LLVMValueRef len = inner_len(c, &n->shape);
    LLVMValueRef out_row = LLVMBuildNSWMul(c->b, row, len, "");
    double keep = 1 / (1 - n->a.f);
    /* a step for several ranks (attr i[2]): element e of this rank's slice is
     * element e + first · per-example elements of the global batch, so the
     * masks are those of one process */
    LLVMValueRef skip = n->a.i[2] && n->shape.rank > 0 && n->shape.dim[0] == IR_BATCH
                      ? LLVMBuildNSWMul(c->b, cg_first(c), cg_elems(c, &n->shape, 1, n->shape.rank), "skip") : NULL;
    CgLoop l = cg_loop_begin(c, cg_i64(c, 0), len, "j");
    LLVMValueRef e = LLVMBuildNSWAdd(c->b, out_row, l.iv, "");
    LLVMValueRef args[4] = {cg_i64(c, n->a.i[0]), cg_i64(c, n->a.i[1]), step, skip ? LLVMBuildNSWAdd(c->b, e, skip, "") : e};
    LLVMValueRef u = LLVMBuildCall2(c->b, ft, fn, args, 4, "u");
    LLVMValueRef drop = LLVMBuildFCmp(c->b, LLVMRealOLT, u, LLVMConstReal(c->t_f64, n->a.f), "");
    cg_store(c, v, e, LLVMBuildSelect(c->b, drop, cg_real(c, 0), cg_real(c, keep), ""));
    cg_loop_end(c, &l);
}

/* ---- windows ----------------------------------------------------------------------- */

/* image [B, C, H, W] under the window kh x kw, strides sh, sw, padding ph, pw */
typedef struct Geo { int64_t c, h, w, ho, wo, kh, kw, sh, sw, ph, pw; } Geo;

static Geo geo_of(const IrNode *n, const IrShape *img)
{
    const IrWindow *w = &n->a.win;
    return (Geo){img->dim[1], img->dim[2], img->dim[3], ir_window_out(img->dim[2], w->k[0], w->stride[0], w->pad[0]),
                 ir_window_out(img->dim[3], w->k[1], w->stride[1], w->pad[1]), w->k[0], w->k[1], w->stride[0],
                 w->stride[1], w->pad[0], w->pad[1]};
}

/* WINDOWS: item = (plane, oy); writes [ox, ky, kx] */
static void body_windows(Cg *c, int v, LLVMValueRef item)
{
    const IrNode *n = N(c, v);
    int x = n->in[0];
    Geo G = geo_of(n, &N(c, x)->shape);
    LLVMValueRef plane = LLVMBuildSDiv(c->b, item, cg_i64(c, G.ho), "plane");
    LLVMValueRef oy = LLVMBuildSRem(c->b, item, cg_i64(c, G.ho), "oy");
    LLVMValueRef src_plane = LLVMBuildNSWMul(c->b, plane, cg_i64(c, G.h * G.w), "");
    LLVMValueRef dst = LLVMBuildNSWMul(c->b, item, cg_i64(c, G.wo * G.kh * G.kw), "");
    CgLoop lx = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.wo), "ox");
    CgLoop ly = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.kh), "ky");
    CgLoop lk = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.kw), "kx");
    LLVMValueRef iy = LLVMBuildNSWSub(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, oy, cg_i64(c, G.sh), ""), ly.iv, ""), cg_i64(c, G.ph), "");
    LLVMValueRef ix = LLVMBuildNSWSub(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lx.iv, cg_i64(c, G.sw), ""), lk.iv, ""), cg_i64(c, G.pw), "");
    LLVMValueRef inside = cg_in_image(c, iy, ix, G.h, G.w);
    LLVMValueRef src = LLVMBuildNSWAdd(c->b, src_plane, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, LLVMBuildSelect(c->b, inside, iy, cg_i64(c, 0), ""), cg_i64(c, G.w), ""), LLVMBuildSelect(c->b, inside, ix, cg_i64(c, 0), ""), ""), "");
    LLVMValueRef val = LLVMBuildSelect(c->b, inside, cg_load(c, x, src), cg_real(c, n->a.f), "");
    LLVMValueRef at = LLVMBuildNSWAdd(c->b, dst, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lx.iv, cg_i64(c, G.kh * G.kw), ""), LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, ly.iv, cg_i64(c, G.kw), ""), lk.iv, ""), ""), "");
    cg_store(c, v, at, val);
    cg_loop_end(c, &lk);
    cg_loop_end(c, &ly);
    cg_loop_end(c, &lx);
}

/* WINDOWS_T: item = plane; sums every window element back onto its pixel */
static void body_windows_t(Cg *c, int v, LLVMValueRef plane)
{
    const IrNode *n = N(c, v);
    int w = n->in[0];
    Geo G = geo_of(n, &n->shape);
    LLVMValueRef dst_plane = LLVMBuildNSWMul(c->b, plane, cg_i64(c, G.h * G.w), "");
    CgLoop z = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.h * G.w), "z");
    cg_store(c, v, LLVMBuildNSWAdd(c->b, dst_plane, z.iv, ""), cg_real(c, 0));
    cg_loop_end(c, &z);
    LLVMValueRef src_plane = LLVMBuildNSWMul(c->b, plane, cg_i64(c, G.ho * G.wo * G.kh * G.kw), "");
    CgLoop ly = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.ho), "oy");
    CgLoop lx = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.wo), "ox");
    CgLoop lky = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.kh), "ky");
    CgLoop lkx = cg_loop_begin(c, cg_i64(c, 0), cg_i64(c, G.kw), "kx");
    LLVMValueRef iy = LLVMBuildNSWSub(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, ly.iv, cg_i64(c, G.sh), ""), lky.iv, ""), cg_i64(c, G.ph), "");
    LLVMValueRef ix = LLVMBuildNSWSub(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lx.iv, cg_i64(c, G.sw), ""), lkx.iv, ""), cg_i64(c, G.pw), "");
    LLVMBasicBlockRef add = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "add");
    LLVMBasicBlockRef skip = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "skip");
    LLVMBuildCondBr(c->b, cg_in_image(c, iy, ix, G.h, G.w), add, skip);
    LLVMPositionBuilderAtEnd(c->b, add);
    LLVMValueRef widx = LLVMBuildNSWAdd(c->b, src_plane, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, ly.iv, cg_i64(c, G.wo), ""), lx.iv, ""), cg_i64(c, G.kh * G.kw), ""), LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, lky.iv, cg_i64(c, G.kw), ""), lkx.iv, ""), ""), "");
    LLVMValueRef at = LLVMBuildNSWAdd(c->b, dst_plane, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, iy, cg_i64(c, G.w), ""), ix, ""), "");
    cg_store(c, v, at, LLVMBuildFAdd(c->b, cg_load(c, v, at), cg_load(c, w, widx), ""));
    LLVMBuildBr(c->b, skip);
    LLVMPositionBuilderAtEnd(c->b, skip);
    cg_loop_end(c, &lkx);
    cg_loop_end(c, &lky);
    cg_loop_end(c, &lx);
    cg_loop_end(c, &ly);
}

/* ---- dispatch ---------------------------------------------------------------------- */

typedef enum KernelKind { KK_NONE, KK_EW, KK_ROWS, KK_REDUCE, KK_ARGMAX, KK_LAYOUT, KK_MATMUL, KK_GATHER,
                          KK_SCATTER, KK_ONE_HOT, KK_MASK, KK_WINDOWS, KK_WINDOWS_T, KK_PATCHES,
                          KK_CALL } KernelKind;

/* The op table's flags classify most ops; the ops with a kernel of their
 * own are named.  unit.codegen walks the table: every op that is not a
 * leaf must have a kernel, so a new op without one fails there. */
static KernelKind kind_of(const IrNode *n)
{
    unsigned flags = ir_ops[n->op].flags;
    if (flags & OPF_LEAF)
        return KK_NONE;
    if (flags & OPF_ELEMENTWISE)
        return KK_EW;
    if (flags & OPF_REDUCTION)
        return KK_REDUCE;
    if (flags & OPF_LAYOUT)
        return KK_LAYOUT;
    if (flags & OPF_CALL)
        return KK_CALL;  /* the entry calls the runtime (cg_module.c make_entry) */
    if (cg_patches_has(n->op))
        return KK_PATCHES;  /* cg_patches.c's table */
    switch (n->op) {
    case IR_BROADCAST: case IR_CAST: case IR_FUSED: return KK_EW;   /* one result element from one place */
    case IR_FUSED_ROWS: return KK_ROWS;
    case IR_ARGMAX: return KK_ARGMAX;
    case IR_MATMUL: case IR_MATMUL_EPI: return KK_MATMUL;
    case IR_GATHER: return KK_GATHER;
    case IR_SCATTER_ADD: return KK_SCATTER;
    case IR_ONE_HOT: return KK_ONE_HOT;
    case IR_RANDOM_MASK: return KK_MASK;
    case IR_WINDOWS: return KK_WINDOWS;
    case IR_WINDOWS_T: return KK_WINDOWS_T;
    default: return KK_NONE;
    }
}

bool cg_has_kernel(const IrNode *n) { return kind_of(n) != KK_NONE; }

bool cg_flat_elementwise(const IrGraph *g, int v)
{
    const IrNode *n = &g->nodes[v];
    if (kind_of(n) != KK_EW)
        return false;
    for (int k = 0; k < n->nin; k++) {
        const IrNode *u = &g->nodes[n->in[k]];
        if (!cg_no_memory(u) && u->shape.rank > 0 && !ir_shape_equal(&u->shape, &n->shape))
            return false;
    }
    return true;
}

LLVMValueRef cg_row_length(Cg *c, int v) { return inner_len(c, &N(c, v)->shape); }

bool cg_op_has_kernel(IrOp op) { return kind_of(&(IrNode){.op = op}) != KK_NONE; }

bool cg_is_call(const IrNode *n) { return kind_of(n) == KK_CALL; }

bool cg_is_matmul(IrOp op) { return kind_of(&(IrNode){.op = op}) == KK_MATMUL; }

bool cg_is_rows(IrOp op) { return kind_of(&(IrNode){.op = op}) == KK_ROWS; }

bool cg_is_elementwise(const IrNode *n) { return kind_of(n) == KK_EW; }

LLVMValueRef cg_kernel_extent(Cg *c, int v)
{
    const IrNode *n = N(c, v);
    const IrShape *s = &n->shape;
    switch (kind_of(n)) {
    case KK_EW: case KK_LAYOUT: case KK_MASK:
        return cg_elems(c, s, 0, row_axes(s));
    case KK_ROWS:
        return LLVMBuildSDiv(c->b, cg_elems(c, s, 0, s->rank - 1), cg_i64(c, rows_per_item(n)), "");
    case KK_ARGMAX: case KK_GATHER: case KK_ONE_HOT:
        return cg_elems(c, s, 0, s->rank - 1);
    case KK_REDUCE:
        if (reduce_columns(n, &N(c, n->in[0])->shape)) {
            int64_t d = s->dim[s->rank - 1];
            return LLVMBuildNSWMul(c->b, cg_elems(c, s, 0, s->rank - 1), cg_i64(c, (d + COLUMNS - 1) / COLUMNS), "");
        }
        return cg_elems(c, s, 0, s->rank);
    case KK_MATMUL:
        return cg_matmul_extent(c, v);
    case KK_WINDOWS: {
        const IrShape *x = &N(c, n->in[0])->shape;
        return LLVMBuildNSWMul(c->b, cg_elems(c, x, 0, 2), cg_i64(c, s->dim[2]), "");
    }
    case KK_WINDOWS_T:
        return cg_elems(c, s, 0, 2);
    case KK_PATCHES:
        return cg_patches_extent(c, v);
    case KK_SCATTER:
        return cg_i64(c, 1);
    case KK_CALL: case KK_NONE:
        break;
    }
    return cg_i64(c, 0);
}

/* A rows kernel's temporaries, at most this many bytes (bounded by every
 * instruction of its program a row, in every rows_at_stops copy), live on
 * the stack in allocas; longer ones in the thread's scratch memory.  A
 * softmax over 3,000,000 classes asked for 12 MB a temporary, past a
 * thread's 8 MB stack, and crashed; the examples' rows (512 reals at most)
 * stay allocas. */
enum { ROW_STACK_BYTES = 256 << 10 };

/* Starts rows kernel v's body with its scratch memory when its rows are too
 * long for the stack (a return when there is none): row_instr takes its
 * temporaries from it, after the header (cg_task_scratch), which it marks
 * as no call's. */
static void rows_scratch_begin(Cg *c, int v, RowScratch *s)
{
    const IrNode *n = N(c, v);
    double bound = (double)n->a.prog->n * (double)n->a.i[0] * rows_per_item(n) * (double)rows_copies(n)
                 * ir_type_size(c->g->ftype);
    if (bound <= ROW_STACK_BYTES)
        return;
    LLVMValueRef call_p = cg_alloca(c, c->t_i64, NULL, "call");
    LLVMBasicBlockRef none = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "no_scratch");
    LLVMValueRef buf = cg_task_scratch(c, cg_i64(c, 0), call_p, none);
    LLVMBuildStore(c->b, cg_i64(c, 0), buf);
    *s = (RowScratch){LLVMBuildGEP2(c->b, c->t_i8, buf, (LLVMValueRef[]){cg_i64(c, CG_SCRATCH_HEADER)}, 1, "rowtmps"), buf, 0};
    LLVMBasicBlockRef have = LLVMGetInsertBlock(c->b);
    LLVMPositionBuilderAtEnd(c->b, none);
    LLVMBuildRetVoid(c->b);
    LLVMPositionBuilderAtEnd(c->b, have);
}

/* The scratch memory's size, now that the temporaries are counted. */
static void rows_scratch_end(Cg *c, const RowScratch *s)
{
    if (!s->base)
        return;
    int64_t bytes = CG_SCRATCH_HEADER + s->reals * (int64_t)ir_type_size(c->g->ftype);
    LLVMSetOperand(s->call, 1, cg_i64(c, bytes));
}

void cg_kernel_body(Cg *c, int v)
{
    LLVMValueRef begin = c->begin_arg, end = c->end_arg;
    KernelKind k = kind_of(N(c, v));
    if (k == KK_MATMUL) {
        cg_matmul_body(c, v);
        return;
    }
    if (k == KK_SCATTER) {
        body_scatter_add(c, v);
        return;
    }
    if (cg_flat_elementwise(c->g, v)) {  /* alone, or launching its group (cg_group.c) */
        body_flat(c, v);
        return;
    }
    RowScratch scratch = {0};
    if (k == KK_ROWS)
        rows_scratch_begin(c, v, &scratch);
    CgLoop l = cg_loop_begin(c, begin, end, "item");
    switch (k) {
    case KK_EW: body_elementwise(c, v, l.iv); break;
    case KK_ROWS: body_rows(c, v, l.iv, &scratch); break;
    case KK_REDUCE:
        if (reduce_columns(N(c, v), &N(c, N(c, v)->in[0])->shape))
            body_reduce_columns(c, v, l.iv);
        else
            body_reduce(c, v, l.iv);
        break;
    case KK_ARGMAX: body_argmax(c, v, l.iv); break;
    case KK_LAYOUT: body_layout(c, v, l.iv); break;
    case KK_GATHER: body_gather(c, v, l.iv); break;
    case KK_ONE_HOT: body_one_hot(c, v, l.iv); break;
    case KK_MASK: body_random_mask(c, v, l.iv); break;
    case KK_WINDOWS: body_windows(c, v, l.iv); break;
    case KK_WINDOWS_T: body_windows_t(c, v, l.iv); break;
    case KK_PATCHES: cg_patches_body(c, v, l.iv); break;
    case KK_MATMUL: case KK_SCATTER: case KK_CALL: case KK_NONE: break;
    }
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    cg_loop_end(c, &l);
    /* Short rows (the 10 classes of a cross-entropy): their loops unrolled
     * whole, the loop over rows is vectorized, 16 rows to a vector.  Its
     * remainder was an 8-row vector epilogue and a scalar loop, three
     * copies of the row's code (every exp in it): 40% of the MNIST MLP's
     * machine code.  Under a mask, one copy, as fast (bench/README.md,
     * session 29).  The width it chose, one vector register of rows, given:
     * weighing the others was 62M of the MLP's 2.18G instructions of
     * compile, for the same object.  Rows too long to unroll leave this
     * loop outer, and the hints unused. */
    if (k == KK_ROWS) {
        cg_loop_fold_tail(c, latch, c->tune->vector_bytes / (int)ir_type_size(c->g->ftype));
        rows_scratch_end(c, &scratch);
    }
}
