/* run.c — from a recipe to a training run: find and load the data the train
 * block names, check it fits the model, and hand both to rt_train.  Shared by
 * `nnc --jit` and the executables `nnc model.nn` makes, so the two read the
 * same data the same way.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnc_runtime.h"
#include "columns.h"
#include "npy.h"
#include "rt_internal.h"

/* dir/name into buf: a folder that ends in '/' (the root, "/") takes no
 * second one, which messages would show ("//xor.csv"). */
static void join(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
}

/* A relative data path: under the data root if it is there, else beside the
 * model; when neither exists, the one under the root (the loader says what
 * is missing). */
static const char *resolve(char *buf, size_t len, const char *root, const char *model_dir, const char *path)
{
    if (path[0] == '/')
        return path;
    struct stat st;
    join(buf, len, root, path);
    if (stat(buf, &st) == 0 || !model_dir || !model_dir[0])
        return buf;
    char beside[4096];
    join(beside, sizeof beside, model_dir, path);
    if (stat(beside, &st) == 0)
        snprintf(buf, len, "%s", beside);
    return buf;
}

/* After the data failed to load: when a relative path of the train block
 * (the training or the test split) is found neither under the data root nor
 * beside the model, and the message is about that path (not a bad number
 * in the other split's file), says which root that was and where it came
 * from (from, "from NNC_DATA" ...), for every kind of data alike: "cannot
 * open ./mnist/..." alone does not say how to point nnc at the data. */
static void root_note(char *why, size_t len, const RtRecipe *r, const char *root, const char *from)
{
    int splits = r->data == RT_DATA_CSV || r->data == RT_DATA_NPZ;
    const char *paths[] = {r->path, splits ? r->path2 : NULL};
    for (int i = 0; i < 2; i++) {
        char buf[4096];
        struct stat st;
        if (!paths[i] || !paths[i][0] || paths[i][0] == '/'
            || stat(resolve(buf, sizeof buf, root, r->model_dir, paths[i]), &st) == 0 || !strstr(why, buf))
            continue;
        const char *dir = r->model_dir && r->model_dir[0] && strcmp(r->model_dir, root) != 0 ? r->model_dir : NULL;
        size_t n = strlen(why);
        snprintf(why + n, len - n, " (data root '%s', %s%s%s%s)", root, from, dir ? "; nor beside the model in '" : "",
                 dir ? dir : "", dir ? "'" : "");
        return;
    }
}

static int64_t per_example(const RtTensorSpec *t)
{
    int64_t n = 1;
    for (int d = 1; d < t->rank; d++)
        n *= t->shape[d];
    return n;
}

/* Whether the examples of one split fit the model's first input and
 * target: every split is checked, since evaluating a test split whose
 * examples are wider than the input would write past it.  0, or 1 with why.
 * The input's check is MNIST's (IDX files of other images: jit.splits); a
 * plain CSV never fails it, since rt_csv_load_fit refused a line of another
 * width first, in words that count the target's column too.  The target's
 * guards the slabs: both sources give one value per example, and the front
 * end refuses a wider target for either (front/builtins.c): only a model and
 * recipe not made by nnc fail it. */
static int fits(const RtModel *m, const RtDataset *d, const char *what, char *why, size_t len)
{
    if (!d->count)
        return 0;   /* a split not loaded (--eval loads only the test split) */
    if (m->ninputs > 0 && d->x_elems != per_example(&m->inputs[0])) {
        snprintf(why, len, "%s has %lld value%s per example, but input '%s' takes %lld", what, (long long)d->x_elems,
                 d->x_elems == 1 ? "" : "s", m->inputs[0].name, (long long)per_example(&m->inputs[0]));
        return 1;
    }
    if (m->ntargets > 0 && d->y_elems != per_example(&m->targets[0])) {
        snprintf(why, len, "%s has %lld target value%s per example, but target '%s' takes %lld", what,
                 (long long)d->y_elems, d->y_elems == 1 ? "" : "s", m->targets[0].name,
                 (long long)per_example(&m->targets[0]));
        return 1;
    }
    return 0;
}

/* Whether a split's IDX images are mnist(...)'s 28x28: a model takes them
 * as f32[784], f32[28, 28] or f32[1, 28, 28] (builtins.c's check_mnist),
 * and 14x56 images, 784 pixels too, would train into it silently.  0, or 1
 * with why. */
static int mnist_sized(const RtDataset *d, const char *what, char *why, size_t len)
{
    if (!d->count || (d->rows == 28 && d->cols == 28))
        return 0;
    return rt_fail(1, why, len, "%s are %lldx%lld pixels, but mnist(...) reads images of 28x28", what,
                   (long long)d->rows, (long long)d->cols);
}

/* A plain CSV (no columns) for m's first input and one target value. */
static int load_csv(const RtModel *m, const RtRecipe *r, const char *path, RtDataset *d, char *why, size_t len)
{
    int64_t x = m->ninputs > 0 ? per_example(&m->inputs[0]) : 0;
    return rt_csv_load_fit(path, r->header, r->classes, x, x ? m->inputs[0].name : NULL, d, why, len);
}

/* One split of csv or npz data at path: npz and csv with columns feed every
 * input and target (width: the training file's, which the test file's
 * must match), a plain csv the first input and one target, its width then
 * checked against the model (fits).  0, or 1 with why. */
static int load_split(const RtModel *m, const RtRecipe *r, const char *path, int64_t *width, RtDataset *d, char *why,
                      size_t len)
{
    if (r->data == RT_DATA_NPZ)
        return rt_npz_load(path, m, d, why, len) != 0;
    if (r->columns && r->columns[0])
        return rt_csv_columns(path, r->header, r->columns, m, width, d, why, len) != 0;
    return load_csv(m, r, path, d, why, len) != 0 || fits(m, d, path, why, len);
}

/* The examples of the training split at path, as load_split would find
 * them: from the arrays' headers where the format has them (npz), else by
 * loading the split (csv keeps no count).  0, or 1 with why. */
static int count_split(const RtModel *m, const RtRecipe *r, const char *path, int64_t *count, char *why, size_t len)
{
    if (r->data == RT_DATA_NPZ)
        return rt_npz_count(path, m, count, why, len) != 0;
    int64_t width = 0;
    RtDataset d = {0};
    int rc = load_split(m, r, path, &width, &d, why, len);
    *count = d.count;
    rt_dataset_free(&d);
    return rc;
}

/* Where relative data paths are looked up first, and where that came from
 * in root_note's words: --data, else $NNC_DATA, else the current
 * directory.  o NULL: a library's count (rt_train_examples), which has no
 * --data to suggest. */
static const char *data_root(const RtRunOptions *o, const char **from)
{
    const char *env = getenv("NNC_DATA");
    if (o && o->data_root) {
        *from = "from --data";
        return o->data_root;
    }
    if (env && env[0]) {
        *from = "from NNC_DATA";
        return env;
    }
    *from = o ? "the default: set NNC_DATA or --data" : "the default: set NNC_DATA";
    return ".";
}

/* A progress bar redraws its line with \r and an escape: only on a terminal
 * that does them (TERM=dumb: Emacs shells, some CI logs, does not). */
static int redraws(FILE *log)
{
    const char *term = getenv("TERM");
    return isatty(fileno(log)) && !(term && strcmp(term, "dumb") == 0);
}

/* A text as bpe tokens: the merges of the checkpoint --load names (the
 * tokens the model was trained on), else learned from the training part.
 * --sample with --load needs the merges alone and reads no file.  *read is
 * set when the file was (or was to be) read.  0, or 1 with why. */
static int load_bpe_text(const RtRecipe *r, const RtRunOptions *o, const char *path, RtText *text, int *read,
                         FILE *log, char *why, size_t len)
{
    RtBpe given = {0};
    if (o->load && rt_state_load_bpe(o->load, (int32_t)r->bpe_vocab, &given, why, len) != 0)
        return 1;
    *read = !(o->load && o->sample);   /* (a checkpoint without merges was refused above) */
    int rc = *read ? rt_text_load_bpe(path, r->split, (int32_t)r->bpe_vocab, o->load ? &given : NULL, text, why, len)
                   : rt_text_of_vocab(NULL, &given, text, why, len);
    rc = rc ? 1 : 0;
    rt_bpe_free(&given);
    if (rc == 0 && o->verbose) {
        if (!*read)
            fprintf(log, "bpe: %lld merges from %s; --sample reads no text file\n", (long long)r->bpe_vocab - 256,
                    o->load);
        else if (o->load)
            fprintf(log, "bpe: %lld merges from %s", (long long)r->bpe_vocab - 256, o->load);
        else
            fprintf(log, "bpe: learned %lld merges from %lld bytes in %.1f ms", (long long)r->bpe_vocab - 256,
                    (long long)text->train_bytes, 1e3 * text->bpe_seconds);
        if (*read)
            fprintf(log, "; %.3f bytes per token on the training split (%lld tokens)\n",
                    (double)text->train_bytes / (double)text->train_end, (long long)text->train_end);
    }
    return rc;
}

/* A text as bytes: with --load, the ids of the checkpoint's vocabulary (the
 * model's, whatever the file holds now), else of the file's bytes; a
 * vocabulary larger than the model's is the checkpoint's fault, not the
 * file's, and rt_state_load_chars says so.  --sample with --load of a checkpoint that keeps its
 * vocabulary needs nothing more and reads no file; *read is set when the
 * file was (or was to be) read.  With -v, --sample says where the
 * vocabulary came from.  0, or 1 with why. */
static int load_char_text(const RtRecipe *r, const RtRunOptions *o, const char *path, RtText *text, int *read,
                          FILE *log, char *why, size_t len)
{
    RtCharVocab saved = {0};
    if (o->load && rt_state_load_chars(o->load, r->vocab, &saved, why, len) != 0)
        return 1;
    *read = !(o->sample && saved.n);
    if (*read ? rt_text_load_vocab(path, r->split, saved.n ? &saved : NULL, text, why, len)
              : rt_text_of_vocab(&saved, NULL, text, why, len))
        return 1;
    if (o->sample && o->verbose) {
        if (!*read)
            fprintf(log, "vocabulary: %d bytes from %s (%s); --sample reads no text file\n", text->vocab, o->load,
                    RT_META_CHARS);
        else
            fprintf(log, "vocabulary: the %d distinct bytes of %s (%s%s)\n", text->vocab, path,
                    o->load ? o->load : "no --load", o->load ? " has no " RT_META_CHARS : "");
    }
    return 0;
}

/* After --sample failed to read the text (rc 1 from load_*_text with *read
 * set): why it needs the file at all, since it would not with a checkpoint
 * that keeps its vocabulary.  With --load only a byte model's gets here (an
 * older checkpoint, without nnc.chars): one of a bpe model always has its
 * merges, or was refused before the file. */
static void sample_note(char *why, size_t len, const RtRecipe *r, const RtRunOptions *o)
{
    size_t n = strlen(why);
    if (o->load)
        snprintf(why + n, len - n, "; --sample needs the text for its vocabulary: %s carries none (its __metadata__ "
                 "has no %s)", o->load, RT_META_CHARS);
    else
        snprintf(why + n, len - n, "; --sample without --load needs the text for its vocabulary%s",
                 r->bpe_vocab ? " (it learns the merges from it)" : "");
}

/* Threads for one rank of several: the cores mpirun bound it to, shared
 * with the other ranks on the same machine when it bound none (more
 * threads than cores make every rank wait for the slowest). */
static int rank_threads(void)
{
    int cores = rt_usable_cpus();
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int here = local && atoi(local) > 0 ? atoi(local) : 1;
    int online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cores >= online && here > 1)   /* not bound: a share of the machine */
        cores = online / here;
    return cores > 0 ? cores : 1;
}

const char *rt_sample_options_rule(const char *sample, int samples, int64_t length, double temperature, int no_kv_cache)
{
    if (samples > 1)   /* one text is sampled: the last would win unsaid, as a second --input of one name would */
        return "--sample is given twice";
    if ((length || temperature > 0) && !sample)
        return "--length and --temperature go with --sample";
    if (no_kv_cache && !sample)
        return "--no-kv-cache goes with --sample";
    return NULL;
}

/* Which run mode takes which option.  Training takes them all; a mode that
 * does not use an option refuses it rather than dropping it, so a user who
 * asked for a file or a setting is never silently left without it. */
enum { MODE_TRAIN = 1, MODE_EVAL = 2, MODE_SAMPLE = 4 };

static const struct {
    unsigned    given;    /* RT_OPT_* */
    const char *name;
    unsigned    modes;    /* MODE_* that use it */
    const char *takers;   /* the same in words */
    const char *unused;   /* what a mode without it lacks */
} run_options[] = {
    {RT_OPT_SAVE, "--save", MODE_TRAIN, "training", "there is no checkpoint to write"},
    {RT_OPT_METRICS, "--metrics", MODE_TRAIN | MODE_EVAL, "training and --eval", "there are no metrics to write"},
    {RT_OPT_CHART, "--chart", MODE_TRAIN, "training", "there is no learning curve to draw"},
    {RT_OPT_EPOCHS, "--epochs", MODE_TRAIN, "training", "there are no epochs to run"},
    {RT_OPT_STEPS, "--steps", MODE_TRAIN, "training", "there are no steps to take"},
    {RT_OPT_LR, "--lr", MODE_TRAIN, "training", "no learning rate is used"},
    {RT_OPT_BATCH, "--batch", MODE_TRAIN | MODE_EVAL, "training and --eval", "it draws one sequence, not batches"},
};

const char *rt_value_option_typed(const struct option *opts, int longindex, int c, char *buf, size_t len)
{
    const struct option *row = longindex >= 0 ? &opts[longindex] : NULL;
    for (const struct option *o = opts; !row && o->name; o++)
        if (o->val == c)
            row = o;
    if (!row || row->has_arg == no_argument)
        return NULL;
    if (longindex >= 0)
        snprintf(buf, len, "--%s", row->name);
    else
        snprintf(buf, len, "-%c", c);
    return buf;
}

const char *rt_mode_options_rule(int eval_only, const char *sample, unsigned given, char *buf, size_t len)
{
    if (eval_only && sample)
        return "give --eval or --sample, not both";
    unsigned mode = eval_only ? MODE_EVAL : sample ? MODE_SAMPLE : MODE_TRAIN;
    const char *what = eval_only ? "--eval trains nothing" : "--sample trains and evaluates nothing";
    for (size_t i = 0; i < sizeof run_options / sizeof *run_options; i++)
        if ((given & run_options[i].given) && !(run_options[i].modes & mode)) {
            snprintf(buf, len, "%s goes with %s; %s, so %s", run_options[i].name, run_options[i].takers, what,
                     run_options[i].unused);
            return buf;
        }
    return NULL;
}

/* (nnc_runtime.h) Existing files compare by device and inode; each path is
 * taken through its links first (rt_link_target: a link to a file not made
 * yet is that file). */
static int same_path(const char *a, const char *b);
int rt_same_file(const char *a, const char *b)
{
    char *ta = rt_link_target(a), *tb = rt_link_target(b);
    int same = same_path(ta ? ta : a, tb ? tb : b);
    free(ta), free(tb);
    return same;
}

static int same_path(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return 1;
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char da[4096], db[4096];
    if (strcmp(rt_split_path(a, da, sizeof da), rt_split_path(b, db, sizeof db)) != 0)
        return 0;
    return stat(da, &sa) == 0 && stat(db, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

const char *rt_output_files_rule(const char *load, const char *save, const char *metrics, const char *chart, char *buf,
                                 size_t len)
{
    /* --metrics - is standard output, no file */
    const struct { const char *name, *path; } out[] = {
        {"--save", save}, {"--metrics", metrics && strcmp(metrics, "-") != 0 ? metrics : NULL}, {"--chart", chart},
    };
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (out[i].path && out[j].path && rt_same_file(out[i].path, out[j].path)) {
                snprintf(buf, len, "%s '%s' and %s '%s' are the same file; each writes a file of its own",
                         out[i].name, out[i].path, out[j].name, out[j].path);
                return buf;
            }
    for (int i = 1; load && i < 3; i++)   /* --save may: the run resumes in place */
        if (out[i].path && rt_same_file(load, out[i].path)) {
            snprintf(buf, len, "--load '%s' and %s '%s' are the same file; %s would write over the checkpoint --load "
                     "reads", load, out[i].name, out[i].path, out[i].name);
            return buf;
        }
    /* the chart is an SVG picture whatever the name says: x.png would be
     * an SVG that no PNG viewer opens */
    size_t n = chart ? strlen(chart) : 0;
    if (chart && (n < 4 || strcasecmp(chart + n - 4, ".svg") != 0)) {
        snprintf(buf, len, "--chart draws SVG only: give it a name ending in .svg, not '%s'", chart);
        return buf;
    }
    return NULL;
}

const char *rt_epochs_rule(int64_t epochs, int text_data)
{
    return epochs && text_data ? "--epochs: the model trains on text data, which is sampled in random windows and has no "
                                 "epochs; use --steps"
                               : NULL;
}

int rt_train_examples(const RtModel *m, const RtRecipe *r, int64_t *count, char *why, size_t len)
{
    if (r->data == RT_DATA_MNIST) {
        *count = 60000;
        return 0;
    }
    if (r->data != RT_DATA_CSV && r->data != RT_DATA_NPZ)
        return rt_fail(1, why, len, "text data has no epochs, so no size to count");
    const char *from, *root = data_root(NULL, &from);
    char buf[4096];
    int rc = count_split(m, r, resolve(buf, sizeof buf, root, r->model_dir, r->path), count, why, len);
    if (rc != 0) {
        /* only the training split is read here */
        RtRecipe train_only = *r;
        train_only.path2 = NULL;
        root_note(why, len, &train_only, root, from);
    }
    return rc;
}

int rt_run(const RtModel *m, const RtRecipe *r, const RtRunOptions *o, void *logp)
{
    FILE *log = logp;
    if (rt_dist_size() > 1 && !m->distributed) {
        if (rt_dist_rank() == 0)
            fprintf(log, "%s: error: started as one of %d ranks, but model '%s' was compiled for one process; "
                         "recompile it with nnc --distributed\n", o->prog ? o->prog : "nnc", rt_dist_size(), m->name);
        return 2;
    }
    const char *root_from, *root = data_root(o, &root_from);
    RtTrainConfig cfg = {
        .batch = r->batch, .epochs = r->epochs, .steps = r->steps, .eval_every = r->eval_every,
        .seed = o->seed >= 0 ? (uint64_t)o->seed : r->seed,
        .threads = o->threads > 0 ? (int)o->threads : rt_dist_size() > 1 ? rank_threads() : rt_usable_cpus(), .threads_fixed = o->threads > 0,
        .save_path = o->save, .load_path = o->load, .metrics_path = o->metrics, .chart_path = o->chart, .eval_only = o->eval_only,
        .progress = redraws(log), .log = log, .sample = o->sample,
        .sample_length = o->length ? o->length : 300,
        .temperature = o->temperature > 0 ? o->temperature : 1.0, .out = stdout,
        .no_kv_cache = o->no_kv_cache,
        .model_file = r->model_file, .data_root = root, .lr = r->lr, .verbose = o->verbose,
    };
    if (o->epochs)
        cfg.epochs = o->epochs, cfg.steps = 0;
    if (o->steps)
        cfg.steps = o->steps, cfg.epochs = 0;

    RtDataset train = {0}, test = {0};
    RtText text = {0};
    char why[1024] = "", p1[4096], p2[4096];
    /* A checkpoint that does not fit is refused before the data is read;
     * several ranks still meet in rt_dist_agree below. */
    int ck_unfit = o->load && rt_state_check(m, o->load, why, sizeof why) != 0;
    int rc = ck_unfit;
    int text_unread = 0;   /* --sample could not read the text it needed for the vocabulary */
    if (rc == 0) switch (r->data) {
    case RT_DATA_MNIST: {
        const char *dir = resolve(p1, sizeof p1, root, r->model_dir, r->path);
        char tr[4200], te[4200];
        snprintf(tr, sizeof tr, "the training images in %s", dir);
        snprintf(te, sizeof te, "the test images in %s", dir);
        if ((!o->eval_only && rt_mnist_load(dir, 0, r->normalize, &train, why, sizeof why))
            || rt_mnist_load(dir, 1, r->normalize, &test, why, sizeof why)
            || mnist_sized(&train, tr, why, sizeof why) || mnist_sized(&test, te, why, sizeof why)
            || fits(m, &train, tr, why, sizeof why) || fits(m, &test, te, why, sizeof why))
            rc = 1;
        cfg.train = o->eval_only ? NULL : &train, cfg.test = &test;
        break;
    }
    case RT_DATA_CSV:
    case RT_DATA_NPZ: {
        /* Without test: there is no test split, and nothing is evaluated (the
         * training file is not a test); --eval loads only the test split. */
        const char *tr = resolve(p1, sizeof p1, root, r->model_dir, r->path);
        const char *te = r->path2 && r->path2[0] ? resolve(p2, sizeof p2, root, r->model_dir, r->path2) : NULL;
        int64_t width = 0;   /* with columns: the training file's, which the test file's must match */
        rc = (!o->eval_only && load_split(m, r, tr, &width, &train, why, sizeof why))
          || (te && load_split(m, r, te, &width, &test, why, sizeof why));
        cfg.train = o->eval_only ? NULL : &train, cfg.test = te ? &test : NULL;
        break;
    }
    case RT_DATA_TEXT: {
        const char *path = resolve(p1, sizeof p1, root, r->model_dir, r->path);
        cfg.block = r->block;
        int read = 0;   /* the file was read (after a success, 0: --sample from the checkpoint's vocabulary) */
        if (r->bpe_vocab ? load_bpe_text(r, o, path, &text, &read, log, why, sizeof why) != 0
                         : load_char_text(r, o, path, &text, &read, log, why, sizeof why) != 0) {
            rc = 1;
            text_unread = o->sample && read;
        } else if (!read) {
            /* no windows to check: sampling takes a prompt, not the file */
        } else if (text.train_end <= r->block || text.n - text.train_end <= r->block) {
            /* a window and its target shifted by one must fit in each part */
            int train_short = text.train_end <= r->block;
            snprintf(why, sizeof why, "%s: the %s part has %lld %s (split %g), but a window of block %lld "
                     "needs at least %lld", path, train_short ? "training" : "validation",
                     (long long)(train_short ? text.train_end : text.n - text.train_end),
                     text.bpe ? "tokens" : "bytes", r->split, (long long)r->block, (long long)r->block + 1);
            rc = 1;
        } else if (text.vocab > r->vocab) {
            /* the tokens are bytes: a character beyond ASCII is several (sorted: the last is the largest) */
            snprintf(why, sizeof why, "%s has %d distinct bytes, but the model's vocabulary is %lld%s", path,
                     text.vocab, (long long)r->vocab, text.chars[text.vocab - 1] >= 128
                     ? " (each byte is a token: a UTF-8 character beyond ASCII is 2 to 4 of them)" : "");
            rc = 1;
        }
        cfg.text = &text;
        break;
    }
    }
    if (rc && !ck_unfit)
        root_note(why, sizeof why, r, root, root_from);
    if (text_unread)
        sample_note(why, sizeof why, r, o);
    /* several ranks: one that cannot load its data (a file only some ranks
     * can read, a memory check that refuses on one machine) tells the others
     * here, rather than leaving them in the training's first gather */
    rc = rt_dist_agree(rc, why, sizeof why);
    if (rc == 0 && o->sample && !o->load && rt_dist_rank() == 0)   /* a smoke test, but maybe a forgotten --load */
        fprintf(log, "%s: note: --sample without --load samples from the model's untrained (random) weights\n",
                o->prog ? o->prog : "nnc");
    if (rc == 0)
        rc = rt_train(m, &cfg, why, sizeof why);
    if (rc == 1 && why[0])   /* not on an interrupt (130, 143): rt_train has said so; nor on a rank that
                              * stops with rank 0 for a reason rank 0 gives */
        fprintf(log, "%s: error: %s\n", o->prog ? o->prog : "nnc", why);
    if (rt_dist_size() > 1 && o->verbose && rt_dist_rank() == 0) {
        RtDistStats st;
        rt_dist_stats(&st);
        fprintf(log, "allreduce (rank 0, %d ranks, %d threads each): %.3f s starting, %.3f s waiting, %.3f s summing; "
                     "%.1f MB received in %lld buckets\n", rt_dist_size(), cfg.threads, st.start_seconds,
                st.wait_seconds, st.reduce_seconds, (double)st.bytes / 1e6, (long long)st.messages);
    }
    rt_dataset_free(&train);
    rt_dataset_free(&test);
    rt_text_free(&text);
    return rc;
}
