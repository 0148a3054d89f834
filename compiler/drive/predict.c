/* predict.c — nnc --predict; see predict.h.
 *
 * The values of every input are read first (typed numbers, .npy or .csv),
 * checked against the model's per-example shapes, then the forward pass
 * is compiled (the same predict graph a library's forward runs), JIT-ed and
 * run on all examples at once by the runtime's instance, which also loads
 * the checkpoint.  --trace runs the lowered forward graph in the reference
 * interpreter (f32, as the compiled code stores values) on the first
 * example, with the same parameters, and prints each binding of the model
 * body with its source line.
 *
 * Messages count examples and the values in one from 0, as npz(...),
 * columns: and the library do; a .csv file's lines from 1, as editors do,
 * and its columns from 0, as training's CSV reader says them.
 */
#include "predict.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/cg.h"
#include "../ir/interp.h"
#include "../ir/lower.h"
#include "../util/path.h"
#include "../util/suggest.h"
#include "memcheck.h"
#include "../../runtime/npy.h"
#include "../../runtime/number.h"
#include "compile.h"
#include "model.h"

enum { TRACE_HEAD = 8, TRACE_TAIL = 2 };  /* values shown of a long binding: the first 8, "...", the last 2 */

/* One input of the model and the examples given for it. */
typedef struct Feed {
    const SemaNode *node;
    const char     *given;    /* the --input argument, or NULL */
    int64_t         size;     /* values per example */
    int64_t         n;        /* examples */
    double         *v;        /* n * size values */
    bool            unread;   /* the output does not read it: it may be left out (zeros) */
} Feed;

__attribute__((format(printf, 2, 3)))
static int fail(FILE *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nnc: error: ", log);
    vfprintf(log, fmt, ap);
    va_end(ap);
    fputc('\n', log);
    return 1;
}

static const char *type_str(Arena *a, const TensorType *t)
{
    StrBuf b = {0};
    if (t->elem == ELEM_INDEX)
        sb_printf(&b, "%s(%lld)", t->shape.rank ? "token" : "class", (long long)t->classes);
    else
        sb_puts(&b, "f32");
    if (t->elem != ELEM_INDEX || t->shape.rank)
        shape_print(&b, &t->shape, false);
    const char *s = arena_printf(a, "%s", sb_cstr(&b));
    sb_free(&b);
    return s;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* ---- reading values --------------------------------------------------------------------- */

/* NULL when X may be a value of the feed's input, else why not: a token
 * input's values are its ids.  Each reader says where X was, in the form
 * its other refusals use, as the reason's subject. */
static const char *id_unfit(const Feed *fd, double x, Arena *a)
{
    const TensorType *t = &fd->node->type;
    if (t->elem != ELEM_INDEX || (x == floor(x) && x >= 0 && x < (double)t->classes))
        return NULL;
    return arena_printf(a, "is not a token id of input '%s' (whole numbers in [0, %lld))", fd->node->name,
                        (long long)t->classes);
}

/* "1.5,-0.7": one example. */
static int parse_numbers(FILE *log, Feed *fd, const char *text, Arena *a)
{
    int64_t count = 1;
    for (const char *p = text; *p; p++)
        count += *p == ',';
    fd->v = ARENA_ARRAY(a, double, count + 1);
    const char *p = text;
    for (int64_t i = 0; i < count; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        double x;
        const char *why = rt_number_read(p, len, &x);   /* the CSV readers' rule and words */
        if (!why)
            why = id_unfit(fd, x, a);
        /* one word that does not start as a number may be a file of another kind; else it is a number mistyped */
        if (why == RT_NOT_A_NUMBER && count == 1 && !strchr("0123456789+-.", *p))
            return fail(log, "--input %s: '%s' is neither comma-separated numbers nor a .npy or .csv file",
                        fd->node->name, text);
        char shown[RT_QUOTE_CAP(40)];
        if (why)
            return fail(log, "--input %s: value %lld: '%s' %s", fd->node->name, (long long)i,
                        rt_quote(p, len, 40, shown), why);
        fd->v[i] = x;
        p += len + (comma != NULL);
    }
    if (count != fd->size)
        return fail(log, "--input %s: %lld number%s given, but input '%s' (%s) takes %lld per example", fd->node->name,
                    (long long)count, count == 1 ? "" : "s", fd->node->name, type_str(a, &fd->node->type),
                    (long long)fd->size);
    fd->n = 1;
    return 0;
}

static char *read_all(const char *path, size_t *len, FILE *log)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(log, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        fail(log, "cannot read '%s': %s", path, buf ? "read error" : "out of memory");
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* One example per line, numbers separated by commas; blank lines skipped.
 *
 * Not runtime/data_csv.c's reader (rt_csv_load_fit), which is training's
 * and differs in what it must accept and say:
 *   - its lines are features then a target, so it refuses a line of one
 *     value; here every value is the input's, and an input of one value
 *     (a scalar, f32[1]) has lines of one value;
 *   - it keeps values as f32, so a token id written 2.00000001 or
 *     16777217 would arrive rounded to a whole number and pass read_feed's
 *     check; here the values stay as written (double) until that check;
 *   - its width is the first line's, and another line's is "line 2 has 1
 *     values, expected 2 like line 1"; here every line is measured against
 *     the input ("line 2 has 1 value, but input 'x' (f32[2]) takes 2 per
 *     example"), and a first line of words gets training's hint about
 *     csv(..., header: true), which --input has no way to say.
 * Both share the number rule and its words (rt_number_read), the
 * byte-order mark (rt_utf8_bom) and lines and columns counted from 1 and 0. */
static int parse_csv(FILE *log, Feed *fd, const char *path, Arena *a)
{
    size_t len;
    char *text = read_all(path, &len, log);
    if (!text)
        return 1;
    int64_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    fd->v = ARENA_ARRAY(a, double, lines * fd->size + 1);
    fd->n = 0;
    int rc = 0;
    int64_t lineno = 0;
    for (char *line = text + rt_utf8_bom(text, len); line && rc == 0; lineno++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p) {
            int64_t k = 0;
            for (;;) {
                while (*p == ' ' || *p == '\t')
                    p++;
                char *comma = strchr(p, ',');
                char *end = comma ? comma : p + strlen(p);
                while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                    end--;
                double x;
                const char *why = rt_number_read(p, (size_t)(end - p), &x);
                if (!why)
                    why = id_unfit(fd, x, a);
                if (why) {
                    char shown[RT_QUOTE_CAP(20)];
                    rc = fail(log, "%s: line %lld, column %lld: '%s' %s", path, (long long)lineno + 1, (long long)k,
                              rt_quote(p, (size_t)(end - p), 20, shown), why);
                    break;
                }
                if (k < fd->size)
                    fd->v[fd->n * fd->size + k] = x;
                k++;
                if (!comma)
                    break;
                p = comma + 1;
            }
            if (rc == 0 && k != fd->size)
                rc = fail(log, "%s: line %lld has %lld value%s, but input '%s' (%s) takes %lld per example", path,
                          (long long)lineno + 1, (long long)k, k == 1 ? "" : "s", fd->node->name,
                          type_str(a, &fd->node->type), (long long)fd->size);
            fd->n++;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    if (rc == 0 && fd->n == 0)
        rc = fail(log, "%s: no examples in the file", path);
    return rc;
}

/* A .npy file, read by the runtime's one .npy reader (runtime/npy.c):
 * float32, float64, uint8, int32, int64 or bool, C order, shape [n, ...]
 * with the input's values per example. */
static int parse_npy(FILE *log, Feed *fd, const char *path, Arena *a)
{
    size_t len;
    char *buf = read_all(path, &len, log);
    if (!buf)
        return 1;
    RtNpy arr;
    char why[512];
    int rc = 0;
    if (rt_npy_parse((const uint8_t *)buf, len, fd->node->type.elem == ELEM_INDEX, &arr, why, sizeof why) != 0)
        rc = fail(log, "%s: %s", path, why);
    if (rc == 0 && arr.rank == 0)
        rc = fail(log, "%s: a .npy scalar has no examples; the array's first axis counts them", path);
    const Shape *per = &fd->node->type.shape;
    if (rc == 0 && !rt_npy_holds_examples(&arr, per->dim, per->rank)) {
        /* npz(...)'s rule and words: a [5, 3, 2] array is not examples of [2, 3] */
        char msg[RT_NPY_EXAMPLES_MSG];
        rc = fail(log, "%s: the array %s", path,
                  rt_npy_examples_mismatch(&arr, "input", fd->node->name, type_str(a, &fd->node->type), fd->size, msg,
                                           sizeof msg));
    }
    if (rc == 0 && arr.shape[0] == 0)
        rc = fail(log, "%s: no examples in the array", path);
    /* the npz reader's rule for labels and token ids (data_npz.c): integers, never rounded reals */
    char names[RT_NPY_TYPE_LIST];
    if (rc == 0 && fd->node->type.elem == ELEM_INDEX && !rt_npy_is_integer(arr.type))
        rc = fail(log, "%s: the array is %s, but input '%s' is %s: its token ids must be integers (%s)", path,
                  rt_npy_type_name(arr.type), fd->node->name, type_str(a, &fd->node->type),
                  rt_npy_type_list(1, names, sizeof names));
    if (rc == 0) {
        fd->n = arr.shape[0];
        fd->v = ARENA_ARRAY(a, double, fd->n * fd->size + 1);
        for (int64_t i = 0; i < fd->n * fd->size; i++) {
            double x = rt_npy_get(&arr, i);
            const char *unfit = rt_f32_unfit(x);   /* npz(...)'s rule and words */
            if (!unfit)
                unfit = id_unfit(fd, x, a);
            if (unfit) {
                char at[64];
                rc = fail(log, "%s: %s: %g %s", path, rt_npy_position(i, fd->size, at, sizeof at), isnan(x) ? NAN : x,
                          unfit);
                break;
            }
            fd->v[i] = x;
        }
    }
    free(buf);
    return rc;
}

static int read_feed(FILE *log, Feed *fd, Arena *a)
{
    const char *text = strchr(fd->given, '=') + 1;
    if (ends_with(text, ".npy"))
        return parse_npy(log, fd, text, a);
    if (ends_with(text, ".csv"))
        return parse_csv(log, fd, text, a);
    return parse_numbers(log, fd, text, a);
}

/* Matches the --input arguments with the model's inputs and reads them. */
static int read_feeds(NncFront *f, const PredictOptions *o, Feed *feeds, int nfeeds)
{
    FILE *log = o->log;
    Arena *a = &f->arena;
    const char **names = ARENA_ARRAY(a, const char *, nfeeds + 1);
    for (int k = 0; k < nfeeds; k++)
        names[k] = feeds[k].node->name;
    for (int i = 0; i < o->ninputs; i++) {
        const char *eq = strchr(o->inputs[i], '=');
        const char *name = arena_printf(a, "%.*s", (int)(eq - o->inputs[i]), o->inputs[i]);
        int k = 0;
        while (k < nfeeds && strcmp(feeds[k].node->name, name) != 0)
            k++;
        if (k == nfeeds) {
            fail(log, "--input %s: model '%s' has no input '%s'", name, f->model->name, name);
            bool target = false;
            for (int j = 0; j < f->model->nnodes; j++)
                target |= f->model->nodes[j].kind == SN_TARGET && strcmp(f->model->nodes[j].name, name) == 0;
            const char *best = target ? NULL : suggest_among(name, names, nfeeds);
            if (target)
                fprintf(log, "nnc: note: '%s' is a target, which only the loss and the metrics read: --predict "
                             "takes the inputs\n", name);
            else if (best)
                fprintf(log, "nnc: note: did you mean '%s'?\n", best);
            return 1;
        }
        if (feeds[k].given) {   /* the command line alone is wrong: exit 2, as for an --input without '=' */
            fail(log, "--input %s is given twice", name);
            return NNC_EUSAGE;
        }
        feeds[k].given = o->inputs[i];
    }
    /* an input the output does not read may be left out; the output has
     * the batch, so it reads one input at least, and that one counts the
     * examples */
    StrBuf missing = {0};
    int nmissing = 0;
    for (int k = 0; k < nfeeds; k++)
        if (!feeds[k].given && !feeds[k].unread)
            sb_printf(&missing, "%s'%s'", nmissing++ ? ", " : "", feeds[k].node->name);
    if (nmissing) {
        fail(log, "--predict needs every input the output of model '%s' reads; missing %s (give --input NAME=VALUES)",
             f->model->name, sb_cstr(&missing));
        sb_free(&missing);
        return 1;
    }
    sb_free(&missing);
    const Feed *first = NULL;  /* the first given: the others have as many examples */
    for (int k = 0; k < nfeeds; k++) {
        if (!feeds[k].given)
            continue;
        if (read_feed(log, &feeds[k], a) != 0)
            return 1;
        if (!first)
            first = &feeds[k];
        else if (feeds[k].n != first->n)
            return fail(log, "input '%s' has %lld example%s, but input '%s' has %lld", feeds[k].node->name,
                        (long long)feeds[k].n, feeds[k].n == 1 ? "" : "s", first->node->name, (long long)first->n);
    }
    for (int k = 0; k < nfeeds; k++)
        if (!feeds[k].given) {  /* unread: zeros (the arena's memory is zeroed) */
            feeds[k].n = first->n;
            feeds[k].v = ARENA_ARRAY(a, double, first->n * feeds[k].size + 1);
        }
    return 0;
}

/* ---- writing results ------------------------------------------------------------------- */

/* float32 [n, ...shape], the .npy format 1.0 */
static int write_npy(FILE *log, const char *path, const float *v, int64_t n, const Shape *shape)
{
    StrBuf h = {0};
    sb_printf(&h, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld,", (long long)n);
    for (int i = 0; i < shape->rank; i++)
        sb_printf(&h, "%s%lld%s", i ? " " : " ", (long long)shape->dim[i], ",");
    sb_puts(&h, "), }");
    size_t used = 10 + strlen(sb_cstr(&h)) + 1;
    for (size_t pad = (64 - used % 64) % 64; pad > 0; pad--)
        sb_putc(&h, ' ');
    sb_putc(&h, '\n');
    size_t hlen = strlen(sb_cstr(&h));
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    int64_t count = n * shape_elems(shape);
    bool to_stdout = strcmp(path, "-") == 0;   /* -o -: the .npy bytes to a pipe */
    FILE *f = to_stdout ? stdout : fopen(path, "wb");
    bool ok = f && fwrite(pre, 1, 10, f) == 10 && fwrite(sb_cstr(&h), 1, hlen, f) == hlen
           && fwrite(v, sizeof *v, (size_t)count, f) == (size_t)count;
    sb_free(&h);
    if (f && (to_stdout ? fflush(f) : fclose(f)) != 0)
        ok = false;
    if (!ok)
        return fail(log, "cannot write '%s': %s", to_stdout ? "standard output" : path, strerror(errno));
    return 0;
}

static void print_values(FILE *out, const double *v, int64_t n, bool elide)
{
    for (int64_t i = 0; i < n; i++) {
        if (elide && n > TRACE_HEAD + TRACE_TAIL && i == TRACE_HEAD) {
            fputs(", ...", out);
            i = n - TRACE_TAIL;
        }
        const char *sep = i ? (elide ? ", " : " ") : "";
        if (isnan(v[i]))
            fprintf(out, "%snan", sep);   /* glibc's %g writes "-nan" when the sign bit is set, as inf/inf leaves it */
        else
            fprintf(out, "%s%.7g", sep, v[i]);
    }
}

/* ---- --trace ------------------------------------------------------------------------------ */

/* The parameters the instance was given: the checkpoint's, or the
 * initialisation rt_params_init computes (rounded to f32 as it stores them). */
static int trace_params(const SemaModel *m, const Lowered *L, IrEval *ev, const PredictOptions *o, uint64_t seed,
                        Arena *a)
{
    RtCheckpoint ck = {0};
    char why[512];
    if (o->load && rt_safetensors_read(o->load, &ck, why, sizeof why) != 0)
        return fail(o->log, "%s", why);
    int rc = 0;
    for (int i = 0; i < m->nparams && rc == 0; i++) {
        int64_t n = shape_elems(&m->params[i].shape);
        double *v = ARENA_ARRAY(a, double, n + 1);
        const RtTensor *t = o->load ? rt_checkpoint_find(&ck, m->params[i].name) : NULL;
        if (t && rt_checkpoint_as(&ck, t, "F32", o->load, why, sizeof why) != 0) {   /* F16, BF16, F64: to f32 */
            rc = fail(o->log, "%s", why);
            break;
        }
        if (o->load && (!t || t->bytes != (size_t)n * sizeof(float) || strcmp(t->dtype, "F32") != 0)) {
            rc = fail(o->log, "%s: tensor '%s' is missing or not f32 of its shape", o->load, m->params[i].name);
            break;
        }
        for (int64_t e = 0; e < n; e++) {
            float x;
            if (t)
                memcpy(&x, (const uint8_t *)t->data + sizeof x * (size_t)e, sizeof x);
            else
                x = (float)rt_init_value((RtInit)m->params[i].init, m->params[i].fan_in, m->params[i].scale,
                                         m->params[i].data, seed, rt_param_stream(i), (uint64_t)e);
            v[e] = x;
        }
        ir_eval_set(ev, L->param[i], v);
    }
    if (rc == 0 && o->verbose && ck.converted)
        fprintf(o->log, "%s: converted to F32: %s\n", o->load, ck.converted);
    rt_checkpoint_free(&ck);
    return rc;
}

/* One value bare, several in parentheses: "1.066", "(1.61, 0, 0)". */
static void print_bracketed(FILE *out, const double *vals, int64_t len)
{
    if (len == 1) {
        print_values(out, vals, 1, true);
        return;
    }
    fputc('(', out);
    print_values(out, vals, len, true);
    fputc(')', out);
}

/* One line of the trace, without its newline: "file:line: NAME: TYPE = VALUES",
 * NAME indented two spaces a layer deep; "= ?" for what has no value of its own. */
static void trace_value(NncFront *f, const PredictOptions *o, const Lowered *L, const IrEval *ev,
                        const AstNode *stmt, int depth, const char *kind, const char *name, const Value *v)
{
    uint32_t line, col;
    source_linecol(&f->src, stmt->span.begin, &line, &col);
    fprintf(o->out, "%s:%u: %*s%s%s", path_base(f->src.name), line, 2 * depth, "", kind, name);
    if (v && (v->kind == VAL_INT || v->kind == VAL_FLOAT)) {
        fprintf(o->out, " = %.7g", v->kind == VAL_INT ? (double)v->i : v->f);
        return;
    }
    int node = v && v->kind == VAL_TENSOR ? L->value[v->node] : -1;
    if (node < 0) {
        fputs(" = ?", o->out);
        return;
    }
    fprintf(o->out, ": %s = ", type_str(&f->arena, &v->t));
    print_bracketed(o->out, ev->val[node], ev->len[node]);
}

static int trace(NncFront *f, const PredictOptions *o, const Feed *feeds, int nfeeds, uint64_t seed)
{
    const SemaModel *m = f->model;
    Arena *a = &f->arena;
    Lowered L;
    const char *err = NULL;
    LowerOptions lo = {.ftype = IR_F32, .training = false, .seed = m->train.seed, .bindings = true};
    if (lower_model(m, &f->src, a, &lo, &L, &err) != 0) {
        fprintf(o->log, "nnc: internal compiler error: %s (this is a bug in nnc)\n", err);
        return 3;
    }
    IrEval ev;
    ir_eval_init(&ev, &L.g, 1);
    ev.fail_at = o->interp_fail_at;
    int rc = trace_params(m, &L, &ev, o, seed, a);
    /* inputs: the first example; targets (read only by the loss and metrics): zeros */
    for (int v = 0; v < L.g.n && rc == 0; v++) {
        const IrNode *n = &L.g.nodes[v];
        if (n->op != IR_INPUT || (n->a.role != ROLE_INPUT && n->a.role != ROLE_TARGET))
            continue;
        int64_t count = ir_elems(&n->shape, 1);
        double *vals = ARENA_ARRAY(a, double, count + 1);
        for (int k = 0; k < nfeeds && n->a.role == ROLE_INPUT; k++)
            if (strcmp(feeds[k].node->name, n->a.name) == 0)
                memcpy(vals, feeds[k].v, sizeof *vals * (size_t)count);
        ir_eval_set(&ev, v, vals);
    }
    if (rc == 0 && ir_eval_run(&ev) != 0 && ev.out_of_memory) {  /* the input's, not a bug */
        diag_error(&f->diag, ir_eval_error_at(&ev), "%s", ev.error);
        rc = 1;
    } else if (rc == 0 && ev.error[0]) {
        fprintf(o->log, "nnc: internal compiler error: the interpreter failed: %s (this is a bug in nnc)\n", ev.error);
        rc = 3;
    }
    const AstNode *model = NULL;
    for (const AstNode *d = f->prog.decls; d; d = d->next)
        if (d->kind == AST_MODEL && !model)
            model = d;
    int inner = 0;  /* m->inner is in the order of the model's statements */
    for (const AstNode *it = model ? model->layer.body : NULL; it && rc == 0; it = it->next) {
        const char *kind = "", *name;
        const AstNode *e;
        switch (it->kind) {
        case AST_INPUT: name = it->decl.name; e = it->decl.type; break;
        case AST_BIND: name = it->def.name; e = it->def.value; break;
        case AST_OUTPUT: name = "output"; e = it->stmt.value; break;
        case AST_PARAM_STMT: kind = "param "; name = it->pdecl.name; e = it->pdecl.type; break;
        default: name = NULL; e = NULL; break;  /* targets, the loss and metrics: not part of the prediction */
        }
        /* first what the layers it uses bound, in the order they computed it */
        for (; inner < m->ninner && m->inner[inner].top == it; inner++) {
            const SemaInner *in = &m->inner[inner];
            if (name) {
                trace_value(f, o, &L, &ev, in->stmt, in->depth, in->stmt->kind == AST_PARAM_STMT ? "param " : "",
                            in->path, &in->v);
                fputc('\n', o->out);
            }
        }
        if (!name)
            continue;
        trace_value(f, o, &L, &ev, it, 0, kind, name, e->ann_state == ANN_ONE ? &e->ann : NULL);
        for (int k = 0; k < nfeeds && it->kind == AST_INPUT; k++)
            if (!feeds[k].given && strcmp(feeds[k].node->name, name) == 0)
                fputs(" (not given: the output does not read it)", o->out);
        fputc('\n', o->out);
    }
    ir_eval_free(&ev);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------- */

int nnc_predict(NncFront *f, const PredictOptions *o)
{
    const SemaModel *m = f->model;
    Arena *a = &f->arena;
    FILE *log = o->log;
    int nfeeds = 0;
    for (int i = 0; i < m->nnodes; i++)
        nfeeds += m->nodes[i].kind == SN_INPUT;
    Feed *feeds = ARENA_ARRAY(a, Feed, nfeeds + 1);
    bool *read = ARENA_ARRAY(a, bool, m->nnodes + 1);
    sema_output_reads(m, read);
    for (int i = 0, k = 0; i < m->nnodes; i++)
        if (m->nodes[i].kind == SN_INPUT)
            feeds[k++] = (Feed){.node = &m->nodes[i], .size = shape_elems(&m->nodes[i].type.shape), .unread = !read[i]};
    int rc = read_feeds(f, o, feeds, nfeeds);
    if (rc != 0)
        return rc;
    int64_t n = feeds[0].n;
    uint64_t seed = o->seed >= 0 ? (uint64_t)o->seed : m->train.decl ? (uint64_t)m->train.seed : 1;

    double t0 = clock_now(), c0 = drive_cpu_ms();
    TrainModel tm;
    rc = nnc_forward_model(f, o->batch, &tm, log);
    if (rc == 0)
        rc = nnc_check_predict_memory(f, &tm.rm, tm.rm.batch, o->batch > 0);
    if (rc != 0)
        return rc;
    double t1 = clock_now();
    RtModel *rm = &tm.rm;
    const char *err = NULL;
    CgJit *jit = NULL;
    /* through the compile cache, as --jit: a model predicted again starts at once */
    CgEntry entry = {&tm.predict.step.L.g, tm.predict.plan, NNC_PREDICT_ENTRY, false};
    CompileResult cr = {0};
    double t2 = 0;
    bool failed = compile_entries(&entry, 1, &(CgOptions){.opt = 3}, !o->no_cache, log, o->verbose, &cr, &err) != 0
               || (t2 = clock_now(), cg_jit_create(&jit, &err) != 0)
               || cg_jit_add_objects(jit, &cr.objs, &err) != 0;
    compile_free(&cr);
    if (failed || !(rm->predict.fn = (void (*)(RtCtx *))cg_jit_lookup(jit, NNC_PREDICT_ENTRY, &err))) {
        fprintf(log, "nnc: internal compiler error: %s (this is a bug in nnc)\n", err);
        cg_jit_destroy(jit);
        return 3;
    }
    if (o->verbose) {
        double t3 = clock_now();
        compile_say(log, 1e3 * (t3 - t0), drive_cpu_ms() - c0, cr.status, &cr, 1e3 * (t1 - t0), "JIT link",
                    1e3 * (t3 - t2));
    }
    RtInstance *x = rt_instance_create(rm, seed, 0);
    if (!x) {
        cg_jit_destroy(jit);
        return fail(log, "out of memory");
    }
    if (o->load && rt_instance_load(x, o->load) != 0)
        rc = fail(log, "%s", rt_instance_error(x));
    else if (o->load && o->verbose && rt_instance_converted(x))
        fprintf(log, "%s: converted to F32: %s\n", o->load, rt_instance_converted(x));
    /* the instance takes float or int32 arrays, in the order of rm->inputs */
    const void **in = ARENA_ARRAY(a, const void *, rm->ninputs + 1);
    for (int i = 0; i < rm->ninputs && rc == 0; i++) {
        const Feed *fd = NULL;
        for (int k = 0; k < nfeeds; k++)
            if (strcmp(feeds[k].node->name, rm->inputs[i].name) == 0)
                fd = &feeds[k];
        int64_t count = n * fd->size;
        if (rm->inputs[i].dtype == RT_I32) {
            int32_t *v = ARENA_ARRAY(a, int32_t, count + 1);
            for (int64_t e = 0; e < count; e++)
                v[e] = (int32_t)fd->v[e];
            in[i] = v;
        } else {
            float *v = ARENA_ARRAY(a, float, count + 1);
            for (int64_t e = 0; e < count; e++)
                v[e] = (float)fd->v[e];
            in[i] = v;
        }
    }
    int64_t per = rm->predict.output_elems;
    float *out = ARENA_ARRAY(a, float, n * per + 1);
    if (rc == 0 && rt_instance_forward(x, n, in, out) != 0)
        rc = fail(log, "%s", rt_instance_error(x));
    rt_instance_destroy(x);
    cg_jit_destroy(jit);
    if (rc == 0 && o->output)
        rc = write_npy(log, o->output, out, n, &m->nodes[m->output].type.shape);
    if (rc == 0 && o->trace)
        return trace(f, o, feeds, nfeeds, seed);
    if (rc == 0 && !o->output) {
        double *row = ARENA_ARRAY(a, double, per + 1);
        for (int64_t i = 0; i < n; i++) {
            for (int64_t e = 0; e < per; e++)
                row[e] = out[i * per + e];
            print_values(o->out, row, per, false);
            fputc('\n', o->out);
        }
    }
    return rc;
}
