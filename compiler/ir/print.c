/* print.c — the text form of a graph (--dump-ir=ir|grad|opt|fused) and its
 * Graphviz form (--dot).  docs/ir.md describes the text form:
 *
 *   %6 = matmul %4, %0 tb : f32[B,128]                # mnist_mlp.nn:8:19 dense
 *   %53 = mul %49, %52 : f32[B,128]                   # mnist_mlp.nn:8 relu %8: relu' = x > 0
 */
#include <math.h>
#include <string.h>

#include "../util/path.h"
#include "ir_internal.h"
#include "print.h"

static const char *const role_name[] = {
    [ROLE_INPUT] = "input", [ROLE_TARGET] = "target", [ROLE_PARAM] = "param",
    [ROLE_STATE] = "state", [ROLE_STEP] = "step",
};

static const char *const out_kind_name[] = {
    [OUT_PREDICTION] = "prediction", [OUT_LOSS] = "loss", [OUT_METRIC] = "metric",
    [OUT_GRAD] = "grad", [OUT_UPDATE] = "update",
};

static void put_num(StrBuf *sb, double v)
{
    if (isinf(v))
        sb_puts(sb, v < 0 ? "-inf" : "inf");
    else
        sb_printf(sb, "%.9g", v);
}

static void put_mask(StrBuf *sb, int64_t mask)
{
    sb_puts(sb, " axes {");
    bool first = true;
    for (int i = 0; i < 64; i++)
        if (mask >> i & 1) {
            sb_printf(sb, first ? "%d" : ",%d", i);
            first = false;
        }
    sb_putc(sb, '}');
}

/* A fused program, one instruction per line under its node. */
static void put_program(StrBuf *sb, const IrNode *n)
{
    const IrProgram *p = n->a.prog;
    for (int k = 0; k < p->n; k++) {
        const IrInstr *in = &p->code[k];
        sb_printf(sb, "\n      $%d = %s", p->nin + k, ir_ops[in->op].name);
        if (in->op == IR_CONST) {
            sb_putc(sb, ' ');
            put_num(sb, in->f);
            continue;
        }
        int ops[3] = {in->a, in->b, in->c};
        for (int j = 0; j < 3 && ops[j] >= 0; j++)
            sb_printf(sb, "%s$%d", j ? ", " : " ", ops[j]);
        if (in->op == IR_POW) {
            sb_puts(sb, " ^");
            put_num(sb, in->f);
        }
    }
}

/* One of a window's sizes: " k 3" when both axes have it, else " k 1x5"
 * (height x width). */
static void put_window_pair(StrBuf *sb, const char *what, const int64_t v[2])
{
    if (v[0] == v[1])
        sb_printf(sb, " %s %lld", what, (long long)v[0]);
    else
        sb_printf(sb, " %s %lldx%lld", what, (long long)v[0], (long long)v[1]);
}

/* A window's k, stride and pad (IrWindow). */
static void put_window(StrBuf *sb, const IrWindow *w)
{
    put_window_pair(sb, "k", w->k);
    put_window_pair(sb, "stride", w->stride);
    put_window_pair(sb, "pad", w->pad);
}

/* Attributes after the operands, in the form each op reads best. */
static void put_attrs(StrBuf *sb, const IrNode *n)
{
    const IrAttr *a = &n->a;
    if (ir_ops[n->op].flags & OPF_REDUCTION)  /* every reduction: the axes it reduces */
        put_mask(sb, a->i[0]);
    switch (n->op) {
    case IR_INPUT: break;
    case IR_CONST: sb_putc(sb, ' '); put_num(sb, a->f); break;
    case IR_TENSOR: sb_printf(sb, " %s", a->name ? a->name : "data"); break;
    case IR_POW: sb_puts(sb, " ^"); put_num(sb, a->f); break;
    case IR_MATMUL: case IR_MATMUL_EPI:
        if (ir_mm_ta(n)) sb_puts(sb, " ta");
        if (ir_mm_tb(n)) sb_puts(sb, " tb");
        if (ir_mm_lead(n)) sb_puts(sb, " lead");
        if (ir_mm_patches(n)) {  /* passes/implicit.c */
            IrWindow w = ir_mm_window(n);
            sb_printf(sb, " %s patches", ir_mm_patches(n) == IR_MM_PATCHES_A ? "a" : "b");
            put_window(sb, &w);
        }
        if (ir_mm_tri(n)) {  /* passes/triangle.c */
            static const char *const tri[] = {[IR_MM_TRI_C] = "tri_c", [IR_MM_TRI_A_LOWER] = "tri_a_lower",
                                              [IR_MM_TRI_A_UPPER] = "tri_a_upper"};
            sb_printf(sb, " %s %+lld", tri[ir_mm_tri(n)], (long long)ir_mm_tri_offset(n));
        }
        break;
    case IR_PERMUTE:
        sb_puts(sb, " (");
        for (int i = 0; i < n->shape.rank; i++)
            sb_printf(sb, i ? ",%lld" : "%lld", (long long)a->i[i]);
        sb_putc(sb, ')');
        break;
    case IR_SLICE: sb_printf(sb, " axis %lld from %lld len %lld", (long long)a->i[0], (long long)a->i[1], (long long)a->i[2]); break;
    case IR_PAD: sb_printf(sb, " axis %lld before %lld after %lld", (long long)a->i[0], (long long)a->i[1], (long long)a->i[2]); break;
    case IR_CONCAT: sb_printf(sb, " axis %lld", (long long)a->i[0]); break;
    case IR_SCATTER_ADD: case IR_ONE_HOT: sb_printf(sb, " %lld", (long long)a->i[0]); break;
    case IR_RANDOM_MASK:
        sb_puts(sb, " p ");
        put_num(sb, a->f);
        sb_printf(sb, " seed %lld stream %lld", (long long)a->i[0], (long long)a->i[1]);
        break;
    case IR_POOL_MAX: case IR_POOL_MAX_T: case IR_POOL_ROWS_T: case IR_POOL_CONV_T:
        put_window(sb, &a->win);
        if (ir_pool_relu(n))
            sb_puts(sb, " relu");
        if (n->op == IR_POOL_CONV_T) {  /* the convolution's window (stride 1) */
            IrWindow cw = ir_pool_conv_window(n);
            sb_puts(sb, " conv");
            put_window_pair(sb, "k", cw.k);
            put_window_pair(sb, "pad", cw.pad);
        }
        break;
    case IR_WINDOWS: case IR_WINDOWS_T: case IR_PATCHES: case IR_PATCHES_T:
        put_window(sb, &a->win);
        if (n->op == IR_WINDOWS && a->f != 0) {
            sb_puts(sb, " fill ");
            put_num(sb, a->f);
        }
        break;
    case IR_ALLREDUCE:
        if (a->i[0] >= 0)
            sb_printf(sb, " bucket %lld at %lld of %lld", (long long)a->i[0], (long long)a->i[1], (long long)a->i[2]);
        break;
    case IR_FUSED: case IR_FUSED_ROWS:
        if (a->name)
            sb_printf(sb, " \"%s\"", a->name);
        if (n->op == IR_FUSED_ROWS && ir_rows_tri_mask(n) >= 0)  /* passes/triangle.c */
            sb_printf(sb, " tri_rows %%%d %+lld", n->in[ir_rows_tri_mask(n)], (long long)ir_rows_tri_offset(n));
        break;
    case IR_BATCH_SIZE: case IR_NEG: case IR_EXP: case IR_LOG: case IR_SQRT: case IR_RSQRT: case IR_TANH:
    case IR_ERF: case IR_RELU: case IR_SIGMOID: case IR_SIN: case IR_COS: case IR_FLOOR: case IR_STOP_GRAD:
    case IR_ADD: case IR_SUB: case IR_MUL: case IR_DIV: case IR_MAX: case IR_MIN: case IR_GT: case IR_GE:
    case IR_EQ: case IR_SELECT: case IR_ARGMAX: case IR_RESHAPE: case IR_BROADCAST: case IR_CAST: case IR_GATHER:
    case IR_SUM: case IR_MEAN: case IR_RMAX: case IR_OP_COUNT:
        break;  /* nothing to add after the operands (their shapes say it) or a reduction's axes */
    }
}

static void put_loc(StrBuf *sb, const IrGraph *g, Span at, bool with_col)
{
    if (!g->src || span_is_none(at))
        return;
    uint32_t line, col;
    source_linecol(g->src, at.begin, &line, &col);
    const char *base = path_base(g->src->name);
    if (with_col)
        sb_printf(sb, "%s:%u:%u", base, line, col);
    else
        sb_printf(sb, "%s:%u", base, line);
}

void ir_print_node(StrBuf *sb, const IrGraph *g, int i)
{
    const IrNode *n = &g->nodes[i];
    size_t start = sb->len;
    if (n->op == IR_INPUT)
        sb_printf(sb, "  %%%d = %s %s", i, role_name[n->a.role], n->a.name);
    else
        sb_printf(sb, "  %%%d = %s", i, ir_ops[n->op].name);
    for (int k = 0; k < n->nin; k++)
        sb_printf(sb, "%s%%%d", k ? ", " : " ", n->in[k]);
    put_attrs(sb, n);
    sb_printf(sb, " : %s", ir_type_name(n->type));
    ir_shape_print(sb, &n->shape);
    bool has_loc = g->src && !span_is_none(n->at);
    if (has_loc || n->layer || n->rule) {
        size_t width = sb->len - start;
        sb_pad(sb, width < 52 ? 52 : width + 1);
        sb_puts(sb, "# ");
        if (n->fwd >= 0) {
            /* file:line, the forward node and the rule that built this one */
            put_loc(sb, g, n->at, false);
            sb_printf(sb, "%s%s %%%d", has_loc ? " " : "", ir_ops[g->nodes[n->fwd].op].name, n->fwd);
            if (n->rule)
                sb_printf(sb, ": %s", n->rule);
        } else {
            put_loc(sb, g, n->at, true);
            if (n->layer)
                sb_printf(sb, "%s%s", has_loc ? " " : "", n->layer);
        }
    }
    if (n->a.prog && (ir_ops[n->op].flags & OPF_FUSED))
        put_program(sb, n);
    sb_putc(sb, '\n');
}

void ir_print(StrBuf *sb, const IrGraph *g)
{
    sb_printf(sb, "graph %s (%s, batch B)\n", g->name ? g->name : "?", ir_type_name(g->ftype));
    for (int i = 0; i < g->n; i++) {
        if (i == g->nforward && g->ngrad > g->nforward)
            sb_puts(sb, "  -- backward --\n");
        if (i == g->ngrad && g->n > g->ngrad && g->ngrad > 0)
            sb_puts(sb, "  -- update --\n");
        ir_print_node(sb, g, i);
    }
    sb_puts(sb, "outputs\n");
    for (int i = 0; i < g->nouts; i++) {
        const IrOutput *o = &g->outs[i];
        sb_printf(sb, "  %s %s = %%%d", out_kind_name[o->kind], o->name, o->value);
        if (o->kind == OUT_UPDATE && o->updates >= 0)
            sb_printf(sb, " (replaces %%%d)", o->updates);
        sb_putc(sb, '\n');
    }
}

/* The source line a node came from (a gradient node: its forward node's), or 0. */
static uint32_t line_of(const IrGraph *g, const IrNode *n)
{
    Span at = n->at;
    if (span_is_none(at) && n->fwd >= 0)
        at = g->nodes[n->fwd].at;
    if (!g->src || span_is_none(at))
        return 0;
    uint32_t line, col;
    source_linecol(g->src, at.begin, &line, &col);
    return line;
}

/* The group of every node, for drawing: a run of consecutive nodes from
 * one source line in one phase (forward, backward, update) is one group,
 * so the nodes of a layer stay together and each block of a repeat() is
 * its own.  Inputs and parameters are in none (-1).  Returns the number of
 * groups; first[k] is group k's first node. */
static int dot_groups(const IrGraph *g, int *group, int *first)
{
    int ngroups = 0, prev_key = -2;
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        int phase = i >= g->ngrad && g->ngrad > 0 ? 2 : i >= g->nforward && g->nforward > 0 ? 1 : 0;
        int key = n->op == IR_INPUT ? -1 : (int)line_of(g, n) * 3 + phase;
        if (key >= 0 && key != prev_key)
            first[ngroups++] = i;
        group[i] = key < 0 ? -1 : ngroups - 1;
        if (key >= 0)   /* an input among a group's nodes does not split it */
            prev_key = key;
    }
    return ngroups;
}

static int dot_phase(const IrGraph *g, int i)
{
    return i >= g->ngrad && g->ngrad > 0 ? 2 : i >= g->nforward && g->nforward > 0 ? 1 : 0;
}

/* "mnist_mlp.nn:9 dense (backward)": group k's label. */
static void group_label(StrBuf *sb, const IrGraph *g, const int *group, int k, int at)
{
    static const char *const phase_name[] = {"", " (backward)", " (update)"};
    uint32_t line = line_of(g, &g->nodes[at]);
    const char *layer = NULL;
    for (int j = at; j < g->n && group[j] == k && !layer; j++)
        layer = g->nodes[j].layer;
    if (line) {
        sb_printf(sb, "%s:%u", path_base(g->src->name), line);
    } else {
        sb_puts(sb, dot_phase(g, at) == 2 ? "optimizer" : "no source line");
    }
    sb_printf(sb, "%s%s%s", layer ? " " : "", layer ? layer : "", phase_name[dot_phase(g, at)]);
}

static const char *dot_color(const IrGraph *g, int i)
{
    const IrNode *n = &g->nodes[i];
    int phase = dot_phase(g, i);
    return n->op == IR_INPUT ? (n->a.role == ROLE_PARAM ? "lightyellow" : "lightblue")
         : phase == 2 ? "lightgrey" : phase == 1 ? "mistyrose" : "white";
}

/* One box per group, with its ops counted; edges between groups once. */
static void dot_layers(StrBuf *sb, const IrGraph *g, const int *group, const int *first, int ngroups)
{
    for (int i = 0; i < g->n; i++)
        if (group[i] < 0)
            sb_printf(sb, "  n%d [label=\"%%%d %s\", style=filled, fillcolor=%s];\n", i, i, g->nodes[i].a.name,
                      dot_color(g, i));
    for (int k = 0; k < ngroups; k++) {
        int end = k + 1 < ngroups ? first[k + 1] : g->n;
        sb_printf(sb, "  g%d [label=\"", k);
        group_label(sb, g, group, k, first[k]);
        int count = 0;
        for (int j = first[k]; j < end; j++)
            count += group[j] == k;
        sb_printf(sb, "\\n%d op%s, %%%d..%%%d\", style=filled, fillcolor=%s];\n", count, count == 1 ? "" : "s",
                  first[k], end - 1, dot_color(g, first[k]));
    }
    /* an edge per pair of boxes: drawn[x] is the box that last got one from x
     * (inputs by node number, groups after them) */
    int *drawn = arena_alloc(g->arena, sizeof(int) * (size_t)(g->n + ngroups));
    for (int i = 0; i < g->n + ngroups; i++)
        drawn[i] = -1;
    for (int j = 0; j < g->n; j++) {
        int k = group[j];
        for (int e = 0; k >= 0 && e < g->nodes[j].nin; e++) {
            int from = g->nodes[j].in[e], fg = group[from], id = fg < 0 ? from : g->n + fg;
            if (fg == k || drawn[id] == k)
                continue;
            drawn[id] = k;
            if (fg < 0)
                sb_printf(sb, "  n%d -> g%d;\n", from, k);
            else
                sb_printf(sb, "  g%d -> g%d;\n", fg, k);
        }
    }
    for (int i = 0; i < g->nouts; i++) {
        int v = g->outs[i].value;
        sb_printf(sb, "  out%d [shape=ellipse, label=\"%s\"];\n", i, g->outs[i].name);
        if (group[v] < 0)
            sb_printf(sb, "  n%d -> out%d;\n", v, i);
        else
            sb_printf(sb, "  g%d -> out%d;\n", group[v], i);
    }
}

/* Every node, in a box (cluster) per group. */
static void dot_nodes(StrBuf *sb, const IrGraph *g, const int *group, const int *first, int ngroups)
{
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        sb_printf(sb, "  n%d [label=\"%%%d %s", i, i, n->op == IR_INPUT ? n->a.name : ir_ops[n->op].name);
        if (n->op == IR_CONST) {
            sb_putc(sb, ' ');
            put_num(sb, n->a.f);
        }
        sb_printf(sb, "\\n%s", ir_type_name(n->type));
        ir_shape_print(sb, &n->shape);
        sb_printf(sb, "\", style=filled, fillcolor=%s];\n", dot_color(g, i));
    }
    for (int k = 0; k < ngroups; k++) {
        int end = k + 1 < ngroups ? first[k + 1] : g->n;
        sb_printf(sb, "  subgraph cluster_%d {\n    label=\"", k);
        group_label(sb, g, group, k, first[k]);
        sb_puts(sb, "\"; fontname=\"monospace\"; fontsize=10; color=grey;\n    ");
        bool any = false;
        for (int j = first[k]; j < end; j++)
            if (group[j] == k) {
                sb_printf(sb, "%sn%d;", any ? " " : "", j);
                any = true;
            }
        sb_puts(sb, "\n  }\n");
    }
    for (int i = 0; i < g->n; i++)
        for (int k = 0; k < g->nodes[i].nin; k++)
            sb_printf(sb, "  n%d -> n%d;\n", g->nodes[i].in[k], i);
    for (int i = 0; i < g->nouts; i++) {
        sb_printf(sb, "  out%d [shape=ellipse, label=\"%s\"];\n", i, g->outs[i].name);
        sb_printf(sb, "  n%d -> out%d;\n", g->outs[i].value, i);
    }
}

void ir_print_dot(StrBuf *sb, const IrGraph *g, IrDotStyle style)
{
    int *group = arena_alloc(g->arena, sizeof(int) * (size_t)(g->n ? g->n : 1));
    int *first = arena_alloc(g->arena, sizeof(int) * (size_t)(g->n ? g->n : 1));
    int ngroups = dot_groups(g, group, first);
    /* Graphviz lays out a few hundred boxes in a second, but the GPT's
     * training step (2,900 nodes) took more than ten minutes: past
     * DOT_NODES_MAX nodes a box stands for a whole group. */
    bool layers = style == IR_DOT_LAYERS || (style == IR_DOT_AUTO && g->n > IR_DOT_NODES_MAX);
    sb_printf(sb, "digraph \"%s\" {\n  rankdir=TB; newrank=true;\n"
                  "  node [shape=box, fontname=\"monospace\", fontsize=10];\n",
              g->name ? g->name : "graph");
    if (layers)
        dot_layers(sb, g, group, first, ngroups);
    else
        dot_nodes(sb, g, group, first, ngroups);
    sb_puts(sb, "}\n");
}
