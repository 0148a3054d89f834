/* exe.c — the command line of a trainer made by `nnc model.nn`.
 *
 * The executable holds one compiled model; its options are those of
 * `nnc --jit` that make sense once the code exists.  The batch is only a
 * default (the memory plan serves any); the learning rate, a constant of
 * the generated update, cannot change: asking for another says how to
 * recompile rather than silently doing something else.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnc_runtime.h"
#include "rt_internal.h"

static int parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* "--batch wants a whole number from 1 to 16777216", in buf. */
static const char *range(char *buf, const char *option, long long lo, long long hi)
{
    snprintf(buf, 96, "%s wants a whole number from %lld to %lld", option, lo, hi);
    return buf;
}

static int parse_real(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static void usage(FILE *f, const char *prog, const RtModel *m, const RtRecipe *r)
{
    fprintf(f,
            "Usage: %s [OPTION]...\n"
            "Train model '%s' (compiled by nnc) as its train block says.\n"
            "\n"
            "      --epochs N, --steps N   train this long instead\n"
            "      --batch N           examples per batch (default %lld)\n"
            "      --seed N            seed for initial weights and data order (default %llu)\n"
            "      --threads N         threads (default: all CPUs)\n"
            "      --data DIR          root of relative data paths (default $NNC_DATA, else .)\n"
            "      --save FILE         write a checkpoint (safetensors) after each evaluation\n"
            "      --load FILE         start from a checkpoint\n"
            "      --eval              with --load: evaluate the test split and print metrics\n"
            "      --metrics FILE      append one JSON object per evaluation to FILE (-: stdout)\n"
            "      --chart FILE.svg    draw loss and metrics per evaluation as an SVG picture\n"
            "      --sample TEXT       generate text after TEXT (a text model; use with --load)\n"
            "      --length N, --temperature X\n"
            "                          characters to generate (300; tokens with bpe), softmax\n"
            "                          temperature (1)\n"
            "      --no-kv-cache       sample without the key/value cache (each token\n"
            "                          recomputes the window: the same tokens, slower)\n"
            "  -v, --verbose           say how the data was read (bpe: learning time, bytes per token)\n"
            "                          and, with --sample, the tokens per second\n"
            "  -h, --help              show this help and exit\n"
            "\n"
            "The learning rate (%g) is compiled in: recompile with nnc --lr X to change it.\n"
            "Exit status: 0 success, 1 bad data or checkpoint, 2 bad command line,\n"
            "130 interrupted (Ctrl-C), 143 terminated (SIGTERM).\n",
            prog, m->name, (long long)r->batch, (unsigned long long)r->seed, r->lr);
}

int rt_exe_main(const RtModel *m, const RtRecipe *recipe, int argc, char **argv)
{
    enum { O_EPOCHS = 256, O_STEPS, O_BATCH, O_LR, O_SEED, O_THREADS, O_DATA, O_SAVE, O_LOAD, O_EVAL, O_METRICS, O_CHART,
           O_SAMPLE, O_LENGTH, O_TEMP, O_NO_KV_CACHE };
    static const struct option opts[] = {
        {"epochs", required_argument, 0, O_EPOCHS}, {"steps", required_argument, 0, O_STEPS},
        {"batch", required_argument, 0, O_BATCH},   {"lr", required_argument, 0, O_LR},
        {"seed", required_argument, 0, O_SEED},     {"threads", required_argument, 0, O_THREADS},
        {"data", required_argument, 0, O_DATA},     {"save", required_argument, 0, O_SAVE},
        {"load", required_argument, 0, O_LOAD},     {"eval", no_argument, 0, O_EVAL},
        {"metrics", required_argument, 0, O_METRICS}, {"chart", required_argument, 0, O_CHART}, {"sample", required_argument, 0, O_SAMPLE},
        {"length", required_argument, 0, O_LENGTH}, {"temperature", required_argument, 0, O_TEMP},
        {"help", no_argument, 0, 'h'},              {"verbose", no_argument, 0, 'v'},
        {"no-kv-cache", no_argument, 0, O_NO_KV_CACHE},
        {0, 0, 0, 0},
    };
    const char *prog = rt_split_path(argv[0], NULL, 0);
    RtRecipe r = *recipe;
    RtRunOptions o = {.seed = -1, .prog = prog};
    int c, lr_given = 0, batch_given = 0;   /* --lr given (the compiled-in rate, or it was refused); --batch given */
    int samples = 0;                        /* --sample options given */
    uint32_t seen = 0;                      /* by option code - O_EPOCHS: the options with a value given */
    opterr = 0;
    int li = -1;
    while ((c = getopt_long(argc, argv, ":hv", opts, &li)) != -1) {
        char typed[64];   /* (--sample: rt_sample_options_rule says it) */
        const char *twice = c >= O_EPOCHS && c != O_SAMPLE && (seen >> (c - O_EPOCHS) & 1)
                                ? rt_value_option_typed(opts, li, c, typed, sizeof typed)
                                : NULL;
        li = -1;
        if (twice) {
            fprintf(stderr, "%s: error: %s is given twice\n", prog, twice);
            return 2;
        }
        if (c >= O_EPOCHS)
            seen |= 1u << (c - O_EPOCHS);
        int64_t n = 0;
        double x = 0;
        const char *bad = NULL;
        char msg[96];
        switch (c) {
        case O_EPOCHS:
            if (parse_int(optarg, 1, RT_MAX_EPOCHS, &o.epochs)) bad = range(msg, "--epochs", 1, RT_MAX_EPOCHS);
            break;
        case O_STEPS:
            if (parse_int(optarg, 1, RT_MAX_STEPS, &o.steps)) bad = range(msg, "--steps", 1, RT_MAX_STEPS);
            break;
        case O_THREADS:
            if (parse_int(optarg, 1, RT_MAX_THREADS, &o.threads)) bad = range(msg, "--threads", 1, RT_MAX_THREADS);
            break;
        case O_SEED: if (parse_int(optarg, 0, INT64_MAX, &o.seed)) bad = "--seed wants a whole number of at least 0"; break;
        case O_LENGTH: if (parse_int(optarg, 1, 1000000, &o.length)) bad = range(msg, "--length", 1, 1000000); break;
        case O_TEMP: if (parse_real(optarg, &o.temperature)) bad = "--temperature wants a positive number"; break;
        case O_BATCH:
            if (parse_int(optarg, 1, RT_MAX_BATCH, &n))
                bad = range(msg, "--batch", 1, RT_MAX_BATCH);
            else
                r.batch = n, batch_given = 1;
            break;
        case O_LR:
            lr_given = 1;
            if (parse_real(optarg, &x))
                bad = "--lr wants a positive number";
            else if (x != recipe->lr) {
                fprintf(stderr, "%s: error: --lr %s: the learning rate is compiled in (%g); recompile with nnc --lr %s\n",
                        prog, optarg, recipe->lr, optarg);
                return 2;
            }
            break;
        case O_DATA: o.data_root = optarg; break;
        case O_SAVE: o.save = optarg; break;
        case O_LOAD: o.load = optarg; break;
        case O_EVAL: o.eval_only = 1; break;
        case O_METRICS: o.metrics = optarg; break;
        case O_CHART: o.chart = optarg; break;
        case O_SAMPLE: o.sample = optarg, samples++; break;
        case O_NO_KV_CACHE: o.no_kv_cache = 1; break;
        case 'v': o.verbose = 1; break;
        case 'h': usage(stdout, prog, m, recipe); return 0;
        case ':': fprintf(stderr, "%s: error: %s needs a value\n", prog, argv[optind - 1]); return 2;
        default:
            fprintf(stderr, "%s: error: unknown option '%s' (see %s --help)\n", prog, argv[optind - 1], prog);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "%s: error: %s, not '%s'\n", prog, bad, optarg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: error: unexpected argument '%s' (see %s --help)\n", prog, argv[optind], prog);
        return 2;
    }
    if (o.eval_only && !o.load) {
        fprintf(stderr, "%s: error: --eval needs --load FILE\n", prog);
        return 2;
    }
    char rule_buf[2 * 4096 + 256];   /* a message may quote two paths */
    unsigned given = (o.save ? RT_OPT_SAVE : 0) | (o.metrics ? RT_OPT_METRICS : 0) | (o.chart ? RT_OPT_CHART : 0)
                   | (o.epochs ? RT_OPT_EPOCHS : 0) | (o.steps ? RT_OPT_STEPS : 0) | (lr_given ? RT_OPT_LR : 0)
                   | (batch_given ? RT_OPT_BATCH : 0);
    const char *rule = rt_sample_options_rule(o.sample, samples, o.length, o.temperature, o.no_kv_cache);
    if (!rule)   /* (--lr is compiled in: one that differs was refused above) */
        rule = rt_mode_options_rule(o.eval_only, o.sample, given, rule_buf, sizeof rule_buf);
    if (!rule)
        rule = rt_output_files_rule(o.load, o.save, o.metrics, o.chart, rule_buf, sizeof rule_buf);
    if (rule) {
        fprintf(stderr, "%s: error: %s\n", prog, rule);
        return 2;
    }
    if ((rule = rt_epochs_rule(o.epochs, r.data == RT_DATA_TEXT))) {
        fprintf(stderr, "%s: error: %s\n", prog, rule);
        return 2;
    }
    if (o.sample && r.data != RT_DATA_TEXT) {
        fprintf(stderr, "%s: error: --sample needs a model trained on text(...)\n", prog);
        return 2;
    }
    char why[512];
    if (rt_dist_init(why, sizeof why) != 0) {   /* under mpirun: one rank of several (docs/distributed.md) */
        fprintf(stderr, "%s: error: %s\n", prog, why);
        return 2;
    }
    int rc = rt_run(m, &r, &o, stderr);
    rt_dist_finalize();
    if (rt_alloc_injected())   /* a fault-injection test needs to know it happened */
        fprintf(stderr, "%s: note: allocation %s failed on purpose (NNC_FAIL_ALLOC)\n", o.prog, getenv("NNC_FAIL_ALLOC"));
    return rc;
}
