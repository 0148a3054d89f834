/* data_text.c — a text file as character tokens (or byte-level BPE tokens,
 * bpe.c), and random windows of it for next-token prediction; see
 * nnc_runtime.h.
 *
 * Every byte is a token; the vocabulary is the sorted set of bytes present,
 * so the ids of a file depend on nothing but its contents, unless the
 * vocabulary is given (a checkpoint's: the ids the model was trained on,
 * whatever the file holds now).  The first floor(n·split) tokens are for
 * training, the rest for validation.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/nnc_runtime.h"
#include "number.h"
#include "rt_internal.h"

/* rt_uniform's streams for window starts: (seed, stream, step, b) places
 * window b of the batch at step. */
enum {
    TEXT_TRAIN_STREAM = 8,
    TEXT_VALID_STREAM = 9,
};

int rt_text_load(const char *path, double split, RtText *out, char *err, size_t errlen)
{
    return rt_text_load_vocab(path, split, NULL, out, err, errlen);
}

/* id_of[b] for every byte b of the text (ids: the order of chars[]), and the
 * vocabulary in out.  0, or -1 with why: a byte the given vocabulary lacks,
 * located by line and column (both from 1, the column in bytes). */
static int byte_ids(const unsigned char *text, size_t n, const RtCharVocab *given, const char *path, RtText *out,
                    int id_of[256], char *err, size_t errlen)
{
    if (!given) {   /* first 1 where a byte occurs, then its id */
        for (size_t i = 0; i < n; i++)
            id_of[text[i]] = 1;
        for (int b = 0; b < 256; b++)
            if (id_of[b]) {
                out->chars[out->vocab] = (uint8_t)b;
                id_of[b] = out->vocab++;
            }
        return 0;
    }
    for (int b = 0; b < 256; b++)
        id_of[b] = -1;
    for (int i = 0; i < given->n; i++)
        id_of[given->chars[i]] = i, out->chars[i] = given->chars[i];
    out->vocab = given->n;
    long long line = 1, col = 1;
    for (size_t i = 0; i < n; i++, col++) {
        if (id_of[text[i]] < 0) {
            char shown[8] = "";   /* a printable byte is shown as well */
            if (text[i] > 32 && text[i] < 127)
                snprintf(shown, sizeof shown, " ('%c')", text[i]);
            return rt_fail(-1, err, errlen, "%s:%lld:%lld: byte 0x%02x%s is not in the vocabulary saved in %s (the %d "
                           "distinct bytes of the text the model was trained on): the model has no id for it", path,
                           line, col, text[i], shown, given->from, given->n);
        }
        if (text[i] == '\n')
            line++, col = 0;
    }
    return 0;
}

int rt_text_load_vocab(const char *path, double split, const RtCharVocab *given, RtText *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!(split > 0 && split < 1)) {
        snprintf(err, errlen, "split %g is not between 0 and 1", split);
        return -1;
    }
    char *raw;
    size_t n;
    if (rt_file_check(path, 1 + sizeof *out->ids, "the text and its token ids", err, errlen) != 0
        || rt_read_whole(path, &raw, &n, err, errlen) != 0)
        return -1;
    unsigned char *text = (unsigned char *)raw;  /* bytes, not characters of a string */
    if (n == 0) {
        snprintf(err, errlen, "%s is empty", path);
        free(text);
        return -1;
    }
    /* Both parts must hold a window of one token and its successor. */
    int64_t train_end = (int64_t)floor((double)n * split), valid = (int64_t)n - train_end;
    if (train_end < 2 || valid < 2) {
        int64_t part = train_end < 2 ? train_end : valid;
        snprintf(err, errlen, "%s: a split of %g leaves %lld of its %zu bytes for %s; each part needs at least 2",
                 path, split, (long long)part, n, train_end < 2 ? "training" : "validation");
        free(text);
        return -1;
    }

    int id_of[256] = {0};
    if (byte_ids(text, n, given, path, out, id_of, err, errlen) != 0) {
        free(text);
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->ids = rt_malloc(n * sizeof *out->ids);
    if (!out->ids) {
        snprintf(err, errlen, "out of memory for the %zu bytes of %s", n, path);
        free(text);
        memset(out, 0, sizeof *out);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        out->ids[i] = id_of[text[i]];
    free(text);
    out->n = (int64_t)n;
    out->train_end = train_end;
    return 0;
}

char *rt_text_vocab_format(const RtCharVocab *v)
{
    char *s = rt_malloc((size_t)v->n * 4 + 1), *at = s;   /* "255 " at most per byte */
    if (!s)
        return NULL;
    *at = 0;
    for (int i = 0; i < v->n; i++)
        at += sprintf(at, i ? " %d" : "%d", v->chars[i]);
    return s;
}

int rt_text_vocab_parse(const char *s, RtCharVocab *out, char *why, size_t len)
{
    int seen[256] = {0};
    out->n = 0;
    for (const char *p = s;; p++) {
        char *end;
        errno = 0;
        long b = *p >= '0' && *p <= '9' ? strtol(p, &end, 10) : -1;
        char shown[RT_QUOTE_CAP(20)];
        if (b < 0 || b > 255 || errno)
            return rt_fail(-1, why, len, "'%s' at byte %d is not a byte value from 0 to 255",
                           rt_quote(p, strlen(p), 20, shown), (int)(p - s));
        if (seen[b]++)
            return rt_fail(-1, why, len, "byte %ld is listed twice", b);
        out->chars[out->n++] = (uint8_t)b;
        if (*end == 0)
            return 0;
        if (*end != ' ')
            return rt_fail(-1, why, len, "'%s' at byte %d: byte values are separated by single spaces",
                           rt_quote(end, strlen(end), 20, shown), (int)(end - s));
        p = end;
    }
}

/* Window b starts at part_begin + floor(u·(len - T)), u = rt_uniform(seed,
 * stream, step, b), len the part's length: one of the len - T starts whose
 * window and shifted target both stay inside the part.  The caller ensures
 * T < len for both parts (rt_run refuses a text that is too short); a batch
 * it cannot draw comes back as zeros. */
void rt_text_batch(const RtText *t, int64_t T, int64_t batch, uint64_t seed, uint64_t step, int validation,
                   int32_t *x, int32_t *y)
{
    rt_text_windows(t, T, 0, batch, seed, step, validation, x, y);
}

void rt_text_windows(const RtText *t, int64_t T, int64_t first, int64_t batch, uint64_t seed, uint64_t step,
                     int validation, int32_t *x, int32_t *y)
{
    int64_t begin = validation ? t->train_end : 0, end = validation ? t->n : t->train_end;
    int64_t starts = end - begin - T;
    uint64_t stream = validation ? TEXT_VALID_STREAM : TEXT_TRAIN_STREAM;
    if (T <= 0 || batch <= 0)
        return;
    if (starts < 1) {
        memset(x, 0, (size_t)(T * batch) * sizeof *x);
        memset(y, 0, (size_t)(T * batch) * sizeof *y);
        return;
    }
    for (int64_t b = 0; b < batch; b++) {
        int64_t s = (int64_t)(rt_uniform(seed, stream, step, (uint64_t)(first + b)) * (double)starts);
        if (s > starts - 1)   /* u·starts rounds up to starts only beyond 2^53 */
            s = starts - 1;
        const int32_t *src = t->ids + begin + s;
        memcpy(x + b * T, src, (size_t)T * sizeof *x);
        memcpy(y + b * T, src + 1, (size_t)T * sizeof *y);
    }
}

void rt_text_free(RtText *t)
{
    free(t->ids);
    if (t->bpe) {
        rt_bpe_free(t->bpe);
        free(t->bpe);
    }
    memset(t, 0, sizeof *t);
}

int rt_text_of_vocab(const RtCharVocab *chars, RtBpe *bpe, RtText *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (bpe) {   /* as rt_text_load_bpe leaves them: the merges owned, ids 0..255 the bytes */
        if (!(out->bpe = rt_malloc(sizeof *out->bpe)))
            return rt_fail(-1, err, errlen, "out of memory for the merges");
        *out->bpe = *bpe;
        memset(bpe, 0, sizeof *bpe);
        out->vocab = (int)out->bpe->vocab;
        for (int i = 0; i < 256; i++)
            out->chars[i] = (uint8_t)i;
        return 0;
    }
    out->vocab = chars->n;
    memcpy(out->chars, chars->chars, sizeof out->chars);
    return 0;
}

int rt_text_load_bpe(const char *path, double split, int32_t vocab, RtBpe *given, RtText *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!(split > 0 && split < 1))
        return rt_fail(-1, err, errlen, "split %g is not between 0 and 1", split);
    char *raw;
    size_t n;
    /* learning the merges holds each byte's symbol and its neighbours, and
     * the places of each pair: about 32 bytes per byte of text (bpe.c) */
    if (rt_file_check(path, given ? 1 + sizeof *out->ids : 32,
                      given ? "the text and its token ids" : "the text, its token ids and the byte-pair learner's arrays",
                      err, errlen) != 0
        || rt_read_whole(path, &raw, &n, err, errlen) != 0)
        return -1;
    const uint8_t *text = (const uint8_t *)raw;
    int64_t train_end = (int64_t)floor((double)n * split), valid = (int64_t)n - train_end;
    if (n == 0 || train_end < 2 || valid < 2) {
        int64_t part = train_end < 2 ? train_end : valid;
        if (n == 0)
            rt_fail(-1, err, errlen, "%s is empty", path);
        else
            rt_fail(-1, err, errlen, "%s: a split of %g leaves %lld of its %zu bytes for %s; each part needs at least 2",
                    path, split, (long long)part, n, train_end < 2 ? "training" : "validation");
        free(raw);
        return -1;
    }
    RtBpe *b = rt_calloc(1, sizeof *b);
    int rc = b ? 0 : rt_fail(-1, err, errlen, "out of memory for the merges of %s", path);
    if (rc == 0 && !(out->ids = rt_malloc(n * sizeof *out->ids)))
        rc = rt_fail(-1, err, errlen, "out of memory for the %zu bytes of %s", n, path);
    int64_t ntrain = -1;
    if (rc == 0 && given) {
        *b = *given;
        memset(given, 0, sizeof *given);
        if (b->vocab != vocab)
            rc = rt_fail(-1, err, errlen, "the merges make a vocabulary of %d tokens, but the model's is %d", b->vocab,
                         (int)vocab);
        else
            ntrain = rt_bpe_encode(b, text, train_end, out->ids);
    } else if (rc == 0) {
        /* the learner ends with the training part's tokens: no second pass */
        double t0 = rt_now();
        char why[512];
        if (rt_bpe_learn(text, train_end, vocab, b, out->ids, &ntrain, why, sizeof why) != 0)
            rc = rt_fail(-1, err, errlen, "%s: cannot learn bpe(vocab: %d): %s", path, (int)vocab, why);
        out->bpe_seconds = rt_now() - t0;
    }
    int64_t nvalid = ntrain < 0 ? -1 : rt_bpe_encode(b, text + train_end, valid, out->ids + ntrain);
    if (rc == 0 && (ntrain < 0 || nvalid < 0))
        rc = rt_fail(-1, err, errlen, "out of memory encoding the %zu bytes of %s", n, path);
    free(raw);
    if (rc != 0) {
        if (b)
            rt_bpe_free(b);
        free(b);
        free(out->ids);
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->bpe = b;
    out->n = ntrain + nvalid;
    out->train_end = ntrain;
    out->train_bytes = train_end;
    out->vocab = (int)vocab;
    for (int i = 0; i < 256; i++)
        out->chars[i] = (uint8_t)i;
    return 0;
}
