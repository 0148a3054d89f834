/*
 * chart.c — the training curves as an SVG picture (--chart FILE.svg).
 *
 * After every evaluation the whole picture is drawn again from the points
 * so far and replaces the file (a temporary file beside it, then rename),
 * so a browser showing it sees a complete picture at any moment.  Runs
 * that evaluate many times a second (xor: 2000 epochs in a second) redraw
 * at most every half second and once at the end: a redraw is O(points),
 * and one per evaluation would make such a run quadratic.  SVG is
 * text a program can write with printf, every browser shows it, and it
 * needs no script and no library: a small writer here is less than a
 * plotting dependency would be for a trainer that links only libc.
 *
 * Two panels share the x axis (epoch, or step for runs counted in steps):
 * the losses (train and test), and, when the model has metrics, the
 * metrics.  A value that is not finite leaves a gap in its line.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

/* as many metrics as an entry has (RtEntry.metric_name) */
#define MAX_METRICS ((int)(sizeof ((RtEntry *)0)->metric_name / sizeof ((RtEntry *)0)->metric_name[0]))
enum { MAX_SERIES = 2 + 8 };
_Static_assert(MAX_SERIES == 2 + MAX_METRICS, "a chart has a line per metric");

struct RtChart {
    char   *path;                          /* the user's (rt_replace_begin writes through its links) */
    char    title[160], xlabel[16];
    int     nseries;                       /* train_loss, test_loss, then the metrics */
    char    name[MAX_SERIES][72];
    double *x, *y[MAX_SERIES];
    int     n, cap;
    int     drawn;                         /* points in the file */
    double  drawn_at;                      /* when it was written (monotonic seconds) */
};

/* Colour-blind-safe (Okabe and Ito), in series order. */
static const char *const colour[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
                                     "#000000"};

RtChart *rt_chart_new(const char *path, const char *model, const char *xlabel, int nmetrics,
                      const char *const *metric_names)
{
    RtChart *c = rt_calloc(1, sizeof *c);
    size_t len = strlen(path);
    if (!c || !(c->path = rt_malloc(len + 1))) {
        rt_chart_free(c);
        return NULL;
    }
    memcpy(c->path, path, len + 1);
    snprintf(c->title, sizeof c->title, "%s", model);
    snprintf(c->xlabel, sizeof c->xlabel, "%s", xlabel);
    if (nmetrics > MAX_METRICS)
        nmetrics = MAX_METRICS;
    c->nseries = 2 + nmetrics;
    snprintf(c->name[0], sizeof c->name[0], "train_loss");
    snprintf(c->name[1], sizeof c->name[1], "test_loss");
    for (int i = 0; i < nmetrics; i++)
        snprintf(c->name[2 + i], sizeof c->name[2 + i], "test_%s", metric_names[i]);
    return c;
}

void rt_chart_free(RtChart *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->x);
    for (int s = 0; s < MAX_SERIES; s++)
        free(c->y[s]);
    free(c);
}

/* ---- scales ----------------------------------------------------------------------------- */

/* A tick step of 1, 2 or 5 times a power of ten giving about `want` ticks over span. */
static double nice_step(double span, int want)
{
    double raw = span / want, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

typedef struct Axis { double lo, hi, step; } Axis;

/* Bounds of the finite values of count series, widened to ticks (from 0
 * if from_zero; ticks at whole numbers if whole). */
static Axis axis_of(const RtChart *c, const double *const *v, int count, int from_zero, int whole)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < count; s++)
        for (int i = 0; i < c->n; i++)
            if (isfinite(v[s][i]))
                lo = fmin(lo, v[s][i]), hi = fmax(hi, v[s][i]);
    if (!isfinite(lo))
        lo = 0, hi = 1;
    if (from_zero && lo > 0)
        lo = 0;
    /* one value (a first evaluation, a flat series): a tenth of it on the
     * side of zero, so that an accuracy of 0.97 is not drawn on an axis up
     * to 1.1 */
    if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
        if (lo > 0)
            lo -= lo * 0.1;
        else if (lo < 0)
            hi -= lo * 0.1;
        else
            hi = 1;
    }
    Axis a;
    a.step = nice_step(hi - lo, 5);
    if (whole && a.step < 1)   /* epochs and steps: no tick at 2.5 */
        a.step = 1;
    a.lo = floor(lo / a.step) * a.step;
    a.hi = ceil(hi / a.step) * a.step;
    return a;
}

/* "0.25", "1e-05": short tick labels. */
static void label(char *buf, size_t len, double v, double step)
{
    if (fabs(v) < step * 1e-9)
        v = 0;
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (decimals > 4 || fabs(v) >= 1e6)
        snprintf(buf, len, "%.3g", v);
    else
        snprintf(buf, len, "%.*f", decimals, v);
}

/* ---- drawing ---------------------------------------------------------------------------- */

enum { WIDTH = 760, LEFT = 70, RIGHT = 170, TOP = 48, PANEL = 230, GAP = 56 };

/* One panel at y0: frame, ticks, grid, the lines of series [first, first+count). */
static void panel(FILE *f, const RtChart *c, int y0, const char *what, int first, int count, Axis xa, int from_zero)
{
    const double *v[MAX_SERIES];
    for (int s = 0; s < count; s++)
        v[s] = c->y[first + s];
    Axis ya = axis_of(c, v, count, from_zero, 0);
    int w = WIDTH - LEFT - RIGHT;
    char buf[32];
#define PX(x) (LEFT + (x - xa.lo) / (xa.hi - xa.lo) * w)
#define PY(y) (y0 + PANEL - (y - ya.lo) / (ya.hi - ya.lo) * PANEL)
    fprintf(f, "<g font-size=\"11\" fill=\"#444\">\n");
    for (double t = ya.lo; t <= ya.hi + ya.step * 1e-6; t += ya.step) {
        label(buf, sizeof buf, t, ya.step);
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>", LEFT, LEFT + w, PY(t), PY(t));
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", LEFT - 6, PY(t) + 4, buf);
    }
    for (double t = xa.lo; t <= xa.hi + xa.step * 1e-6; t += xa.step) {
        label(buf, sizeof buf, t, xa.step);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#e5e5e5\"/>", PX(t), PX(t), y0, y0 + PANEL);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", PX(t), y0 + PANEL + 16, buf);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", LEFT, y0, w,
            PANEL);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", LEFT + w / 2, y0 + PANEL + 32, c->xlabel);
    fprintf(f, "<text transform=\"translate(%d,%d) rotate(-90)\" text-anchor=\"middle\">%s</text>\n</g>\n", 18,
            y0 + PANEL / 2, what);

    for (int s = 0; s < count; s++) {
        const char *col = colour[(first + s) % (int)(sizeof colour / sizeof colour[0])];
        /* a path of runs of finite points: a non-finite value ends a run */
        fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"", col);
        int pen = 0;
        for (int i = 0; i < c->n; i++) {
            if (!isfinite(v[s][i])) {
                pen = 0;
                continue;
            }
            fprintf(f, "%c%.1f %.1f ", pen ? 'L' : 'M', PX(c->x[i]), PY(v[s][i]));
            pen = 1;
        }
        fprintf(f, "\"/>\n");
        if (c->n <= 60)   /* dots while they can be told apart */
            for (int i = 0; i < c->n; i++)
                if (isfinite(v[s][i]))
                    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>", PX(c->x[i]), PY(v[s][i]), col);
        /* the legend: name and the last finite value */
        double last = NAN;
        for (int i = c->n - 1; i >= 0 && isnan(last); i--)
            if (isfinite(v[s][i]))
                last = v[s][i];
        int ly = y0 + 14 + 20 * s;
        fprintf(f, "\n<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>", LEFT + w + 12,
                LEFT + w + 32, ly - 4, ly - 4, col);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s %.4g</text>\n", LEFT + w + 38, ly, c->name[first + s],
                last);
    }
#undef PX
#undef PY
}

static int draw(const RtChart *c, FILE *f)
{
    int panels = c->nseries > 2 ? 2 : 1, height = TOP + panels * (PANEL + GAP);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\">\n",
            WIDTH, height, WIDTH, height);
    fprintf(f, "<title>%s: training curves</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", c->title);
    fprintf(f, "<text x=\"%d\" y=\"26\" font-size=\"15\">%s: %d evaluation%s</text>\n", LEFT, c->title, c->n,
            c->n == 1 ? "" : "s");
    const double *xs[1] = {c->x};
    Axis xa = axis_of(c, xs, 1, 1, 1);
    panel(f, c, TOP, "loss", 0, 2, xa, 0);
    if (panels == 2)
        panel(f, c, TOP + PANEL + GAP, "metrics", 2, c->nseries - 2, xa, 0);
    fprintf(f, "</svg>\n");
    return ferror(f) ? -1 : 0;
}

int rt_chart_add(RtChart *c, double x, double train_loss, double test_loss, const double *metrics, char *err,
                 size_t errlen)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 32;
        double *nx = rt_realloc(c->x, (size_t)cap * sizeof *nx);
        if (!nx)
            return rt_fail(1, err, errlen, "out of memory for the chart");
        c->x = nx;
        for (int s = 0; s < c->nseries; s++) {
            double *ny = rt_realloc(c->y[s], (size_t)cap * sizeof *ny);
            if (!ny)
                return rt_fail(1, err, errlen, "out of memory for the chart");
            c->y[s] = ny;
        }
        c->cap = cap;
    }
    c->x[c->n] = x;
    c->y[0][c->n] = train_loss;
    c->y[1][c->n] = test_loss;
    for (int s = 2; s < c->nseries; s++)
        c->y[s][c->n] = metrics[s - 2];
    c->n++;
    return c->n == 1 || rt_now() - c->drawn_at >= 0.5 ? rt_chart_flush(c, err, errlen) : 0;
}

int rt_chart_flush(RtChart *c, char *err, size_t errlen)
{
    if (!c || c->drawn == c->n)
        return 0;
    c->drawn = c->n;
    c->drawn_at = rt_now();
    /* the whole picture, then rename: a reader never sees half of one */
    RtReplace r;
    FILE *f = NULL;
    if (rt_replace_begin(&r, c->path) != 0 || !(f = fdopen(r.fd, "w"))) {
        if (r.fd >= 0)
            rt_replace_end(&r, 0);
        /* the user's path in messages: the temporary is ours */
        return rt_fail(1, err, errlen, "cannot write the chart to '%s': %s", c->path, strerror(errno));
    }
    int ok = draw(c, f) == 0 && fflush(f) == 0 && fsync(r.fd) == 0;
    int saved = errno;
    if (fclose(f) != 0 && ok)   /* the stream's descriptor is r.fd: closed */
        ok = 0, saved = errno;
    r.fd = -1;
    errno = saved;
    if (rt_replace_end(&r, ok) != 0)
        return rt_fail(1, err, errlen, "cannot write the chart to '%s': %s", c->path, strerror(errno ? errno : EIO));
    return 0;
}
