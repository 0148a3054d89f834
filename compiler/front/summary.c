/* summary.c — --summary: one row per layer application of the checked
 * model, with its per-example output shape, the parameters it created and
 * its forward FLOPs per example, then totals.  Metrics are evaluation-only
 * and not counted; the loss is.
 *
 *     name     layer   output  parameters    FLOPs
 *     hidden   dense   [128]      100,480  200,832
 */
#include <string.h>

#include "front.h"

typedef struct Row {
    const char *cell[5];   /* name, layer, output, parameters, FLOPs */
} Row;

static const char *node_kind(const SemaNode *n)
{
    static const char *const binop[] = {[BIN_ADD] = "add", [BIN_SUB] = "sub", [BIN_MUL] = "mul",
                                        [BIN_DIV] = "div"};
    switch (n->kind) {
    case SN_INPUT: return "input";
    case SN_TARGET: return "target";
    case SN_CALL: return n->builtin->name;
    case SN_BINARY: return binop[n->op];
    case SN_NEG: return "neg";
    case SN_INDEX: return "slice";
    case SN_PARAM: return "param";
    case SN_CONST: return "literal";
    }
    return "?";
}

static char *fmt_group(Arena *a, unsigned long long v)
{
    StrBuf sb = {0};
    sb_group(&sb, v);
    char *r = arena_strdup(a, sb_cstr(&sb));
    sb_free(&sb);
    return r;
}

static char *fmt_type(Arena *a, const TensorType *t, bool with_batch)
{
    StrBuf sb = {0};
    TensorType u = *t;
    u.batched = with_batch && t->batched;
    if (t->elem == ELEM_F32)
        shape_print(&sb, &u.shape, false);
    else
        type_print(&sb, &u);
    char *r = arena_strdup(a, sb_cstr(&sb));
    sb_free(&sb);
    return r;
}

/* Human-sized bytes: 397.5 KiB. */
static void put_bytes(StrBuf *sb, double b)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4)
        b /= 1024, u++;
    sb_printf(sb, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

static void put_spec(StrBuf *sb, const Builtin *b, const Value *args)
{
    sb_printf(sb, "%s(", b->name);
    int np = builtin_nparams(b);
    for (int i = 0; i < np; i++) {
        const Value *v = &args[i];
        if (b->params[i].kind == PK_TOKENIZER && v->kind == VAL_STRING)
            continue;  /* bytes, the default: text(...) reads as it always did */
        sb_printf(sb, "%s%s: ", i ? ", " : "", b->params[i].name);
        switch (v->kind) {
        case VAL_SPEC: put_spec(sb, v->spec->b, v->spec->args); break;
        case VAL_INT: sb_printf(sb, "%lld", (long long)v->i); break;
        case VAL_FLOAT: sb_printf(sb, "%g", v->f); break;
        case VAL_BOOL: sb_puts(sb, v->b ? "true" : "false"); break;
        case VAL_STRING: sb_printf(sb, b->params[i].kind == PK_ENUM ? "%s" : "\"%s\"", v->s); break;
        default: sb_puts(sb, "?"); break;
        }
    }
    sb_putc(sb, ')');
}

void nnc_summary(StrBuf *sb, const NncFront *f)
{
    const SemaModel *m = f->model;
    Arena *a = (Arena *)&f->arena;
    sb_printf(sb, "model %s (%s)\n", m->name, f->src.name);
    for (int pass = 0; pass < 2; pass++) {
        SemaNodeKind k = pass ? SN_TARGET : SN_INPUT;
        bool first = true;
        for (int i = 0; i < m->nnodes; i++) {
            const SemaNode *n = &m->nodes[i];
            if (n->kind != k)
                continue;
            StrBuf t = {0};
            TensorType u = n->type;
            u.batched = false;
            type_print(&t, &u);
            sb_printf(sb, "%s%s %s", first ? (pass ? "targets: " : "inputs:  ") : ", ", n->name, sb_cstr(&t));
            sb_free(&t);
            first = false;
        }
        if (!first)
            sb_putc(sb, '\n');
    }
    sb_putc(sb, '\n');

    int nrows = 0;
    Row *rows = ARENA_ARRAY(a, Row, m->nnodes + 2);
    rows[nrows++] = (Row){{"name", "layer", "output", "parameters", "FLOPs"}};
    /* what only the metrics compute is left out, all of it (not just each
     * metric's last operation), but for a call that creates parameters:
     * those are the model's, in its checkpoint and in the total */
    bool *metric_only = ARENA_ARRAY(a, bool, m->nnodes + 1);
    sema_metric_only(m, metric_only, a);
    unsigned long long tparams = 0, tflops = 0;
    for (int i = 0; i < m->nnodes; i++) {
        const SemaNode *n = &m->nodes[i];
        if (n->kind == SN_INPUT || n->kind == SN_TARGET || (metric_only[i] && n->nparams == 0))
            continue;
        unsigned long long p = 0;
        for (int j = 0; j < n->nparams; j++)
            p += (unsigned long long)shape_elems(&m->params[n->first_param + j].shape);
        tparams += p;
        tflops += n->flops;
        rows[nrows++] = (Row){{n->name, node_kind(n),
                               i == m->loss ? "[]" : fmt_type(a, &n->type, false),
                               fmt_group(a, p), fmt_group(a, n->flops)}};
    }
    rows[nrows++] = (Row){{"total", "", "", fmt_group(a, tparams), fmt_group(a, tflops)}};

    size_t w[5] = {0};
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < 5; c++)
            if (strlen(rows[r].cell[c]) > w[c])
                w[c] = strlen(rows[r].cell[c]);
    for (int r = 0; r < nrows; r++) {
        if (r == nrows - 1) {
            size_t total = w[0] + w[1] + w[2] + w[3] + w[4] + 8;
            for (size_t i = 0; i < total; i++)
                sb_putc(sb, '-');
            sb_putc(sb, '\n');
        }
        StrBuf line = {0};
        for (int c = 0; c < 5; c++) {
            const char *cell = rows[r].cell[c];
            size_t pad = w[c] - strlen(cell);
            if (c >= 3)  /* numbers right-aligned */
                sb_printf(&line, "  %*s%s", (int)pad, "", cell);
            else
                sb_printf(&line, "%s%s%*s", c ? "  " : "", cell, (int)pad, "");
        }
        /* no trailing blanks */
        while (line.len && line.data[line.len - 1] == ' ')
            line.data[--line.len] = '\0';
        sb_printf(sb, "%s\n", sb_cstr(&line));
        sb_free(&line);
    }
    sb_putc(sb, '\n');
    sb_puts(sb, "parameters: ");
    sb_group(sb, tparams);
    sb_puts(sb, " (");
    put_bytes(sb, (double)tparams * 4);
    sb_printf(sb, " as f32) in %d tensor%s\n", m->nparams, m->nparams == 1 ? "" : "s");
    sb_puts(sb, "FLOPs: forward pass per example, loss included; a multiply-add counts as 2\n");
    const SemaTrain *t = &m->train;
    if (t->decl && t->data && t->optimizer) {
        sb_puts(sb, "train: ");
        put_spec(sb, t->data, t->data_args);
        sb_puts(sb, ", ");
        put_spec(sb, t->optimizer, t->optimizer_args);
        if (t->schedule) {
            sb_puts(sb, ", ");
            put_spec(sb, t->schedule, t->schedule_args);
        }
        sb_printf(sb, ", batch %lld, ", (long long)t->batch);
        if (t->epochs)
            sb_printf(sb, "%lld epoch%s", (long long)t->epochs, t->epochs == 1 ? "" : "s");
        else
            sb_printf(sb, "%lld steps", (long long)t->steps);
        sb_printf(sb, ", seed %lld\n", (long long)t->seed);
    }
}
