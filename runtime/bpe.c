/* bpe.c — byte-level byte-pair encoding: learning merges from a text,
 * encoding bytes to token ids with them, decoding ids to bytes, and the
 * merges as the compact text a checkpoint keeps; see nnc_runtime.h.
 *
 * Ids 0..255 are the bytes.  A merge (a, b) makes the next id, 256 + i,
 * stand for token a followed by token b.  Learning starts from the text as
 * bytes and repeats: find the adjacent pair that occurs most often (ties:
 * the lowest first id, then the lowest second id), give it the next id,
 * and replace its occurrences left to right (so "aaa" becomes [aa, a]).
 * Encoding applies the merges in the order they were learned, each to all
 * its occurrences left to right; on the training text that reproduces the
 * learner's own sequence.  There is no pre-splitting into words: a token
 * may span a space or a newline.
 *
 * Why it is fast: a rescan of the text per merge would cost n × merges (a
 * second for 1 MB and 256 merges, minutes for bigger vocabularies).
 * Instead the text is a linked list of symbols, and a table keeps for every
 * adjacent pair its count and the positions where it was made.  Applying a
 * merge visits only the merged pair's positions and adjusts the counts of
 * the pairs around each (the left neighbour's pair and the right one's go,
 * two new ones with the new id come).  A max-heap of (count, a, b) finds the
 * next merge; a count that fell leaves a stale entry, which is re-pushed
 * with the true count when it comes to the top (lazy deletion).  Position
 * lists may hold stale positions too: each is checked before merging.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/nnc_runtime.h"
#include "rt_internal.h"

/* The longest token a merge list may make, and the most bytes all tokens
 * together may spell: a checkpoint's merges are untrusted, and each merge
 * may double a length ((a,a), (256,256), ...). */
enum { BPE_MAX_TOKEN = 1 << 20 };
#define BPE_MAX_TOTAL ((int64_t)1 << 28)

/* ---- the pair table -------------------------------------------------------------- */

typedef struct Pair {
    uint64_t key;      /* a << 32 | b */
    int64_t  count;    /* adjacent occurrences now (learning only) */
    int32_t *pos;      /* positions of the left symbol where the pair was made (may be stale) */
    int32_t  npos, cap;
    int32_t  rank;     /* encoding: the merge's index; learning: -1 */
    int32_t  round;    /* learning: the last merge in which the count rose (+1) */
} Pair;

typedef struct Table {
    int32_t *slot;     /* [mask + 1]: index into pairs, or -1 */
    uint64_t mask;
    Pair    *pairs;
    int32_t  n, cap;
} Table;

static uint64_t key_of(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

static uint64_t hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

static int table_init(Table *t, int32_t want)
{
    uint64_t size = 1024;
    while (size < (uint64_t)want * 2)
        size *= 2;
    memset(t, 0, sizeof *t);
    t->slot = rt_malloc(size * sizeof *t->slot);
    t->pairs = rt_malloc(1024 * sizeof *t->pairs);
    if (!t->slot || !t->pairs)
        return -1;
    memset(t->slot, 0xff, size * sizeof *t->slot);
    t->mask = size - 1;
    t->cap = 1024;
    return 0;
}

static void table_free(Table *t)
{
    for (int32_t i = 0; t->pairs && i < t->n; i++)
        free(t->pairs[i].pos);
    free(t->pairs);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

static Pair *table_find(const Table *t, uint64_t key)
{
    for (uint64_t h = hash(key) & t->mask;; h = (h + 1) & t->mask) {
        int32_t i = t->slot[h];
        if (i < 0)
            return NULL;
        if (t->pairs[i].key == key)
            return &t->pairs[i];
    }
}

/* The pair's entry, made (count 0, no positions) when new; NULL when out of memory. */
static Pair *table_add(Table *t, uint64_t key)
{
    Pair *p = table_find(t, key);
    if (p)
        return p;
    if ((uint64_t)(t->n + 1) * 2 > t->mask + 1) {  /* keep the load under a half */
        uint64_t size = (t->mask + 1) * 2;
        int32_t *slot = rt_malloc(size * sizeof *slot);
        if (!slot)
            return NULL;
        memset(slot, 0xff, size * sizeof *slot);
        for (int32_t i = 0; i < t->n; i++) {
            uint64_t h = hash(t->pairs[i].key) & (size - 1);
            while (slot[h] >= 0)
                h = (h + 1) & (size - 1);
            slot[h] = i;
        }
        free(t->slot);
        t->slot = slot;
        t->mask = size - 1;
    }
    if (t->n == t->cap) {
        Pair *pairs = rt_realloc(t->pairs, (size_t)t->cap * 2 * sizeof *pairs);
        if (!pairs)
            return NULL;
        t->pairs = pairs;
        t->cap *= 2;
    }
    uint64_t h = hash(key) & t->mask;
    while (t->slot[h] >= 0)
        h = (h + 1) & t->mask;
    t->slot[h] = t->n;
    p = &t->pairs[t->n++];
    *p = (Pair){.key = key, .rank = -1};
    return p;
}

static int push_pos(Pair *p, int32_t at)
{
    if (p->npos == p->cap) {
        int32_t cap = p->cap ? p->cap * 2 : 4;
        int32_t *pos = rt_realloc(p->pos, (size_t)cap * sizeof *pos);
        if (!pos)
            return -1;
        p->pos = pos;
        p->cap = cap;
    }
    p->pos[p->npos++] = at;
    return 0;
}

/* ---- the heap of candidate merges (learning) -------------------------------------- */

typedef struct Cand { int64_t count; int32_t a, b; } Cand;

typedef struct Heap { Cand *c; int64_t n, cap; } Heap;

/* Whether x should be merged before y: more occurrences, then lower ids. */
static int before(const Cand *x, const Cand *y)
{
    if (x->count != y->count)
        return x->count > y->count;
    if (x->a != y->a)
        return x->a < y->a;
    return x->b < y->b;
}

static int heap_push(Heap *h, Cand c)
{
    if (h->n == h->cap) {
        int64_t cap = h->cap ? h->cap * 2 : 4096;
        Cand *n = rt_realloc(h->c, (size_t)cap * sizeof *n);
        if (!n)
            return -1;
        h->c = n;
        h->cap = cap;
    }
    int64_t i = h->n++;
    while (i > 0 && before(&c, &h->c[(i - 1) / 2])) {
        h->c[i] = h->c[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->c[i] = c;
    return 0;
}

static Cand heap_pop(Heap *h)
{
    Cand top = h->c[0], last = h->c[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t k = 2 * i + 1;
        if (k >= h->n)
            break;
        if (k + 1 < h->n && before(&h->c[k + 1], &h->c[k]))
            k++;
        if (!before(&h->c[k], &last))
            break;
        h->c[i] = h->c[k];
        i = k;
    }
    if (h->n > 0)
        h->c[i] = last;
    return top;
}

/* ---- the text as a linked list of symbols, and applying one merge --------------------- */

typedef struct Seq {
    int32_t *sym;      /* [n]: the token starting here; -1 once merged into its left neighbour */
    int32_t *prev, *next;
    int64_t  n;
    Table    pairs;
    Heap     heap;
    int      learning; /* count pairs and feed the heap; else only merges' pairs are tracked */
    int32_t  round;    /* learning: the merge being applied, + 1 */
    int32_t *rose;     /* learning: the pairs whose count rose in this merge (indices into pairs) */
    int32_t  nrose, caprose;
} Seq;

static void seq_free(Seq *s)
{
    free(s->sym);
    free(s->prev);
    free(s->next);
    table_free(&s->pairs);
    free(s->heap.c);
    free(s->rose);
}

/* The text as single bytes, every adjacent pair recorded (learning: all of
 * them, counted; encoding: those of a merge, already in the table). */
static int seq_init(Seq *s, const uint8_t *text, int64_t n)
{
    s->n = n;
    s->sym = rt_malloc(sizeof *s->sym * (size_t)(n ? n : 1));
    s->prev = rt_malloc(sizeof *s->prev * (size_t)(n ? n : 1));
    s->next = rt_malloc(sizeof *s->next * (size_t)(n ? n : 1));
    if (!s->sym || !s->prev || !s->next)
        return -1;
    for (int64_t i = 0; i < n; i++) {
        s->sym[i] = text[i];
        s->prev[i] = (int32_t)(i - 1);
        s->next[i] = i + 1 < n ? (int32_t)(i + 1) : -1;
    }
    for (int64_t i = 0; i + 1 < n; i++) {
        uint64_t k = key_of(text[i], text[i + 1]);
        Pair *p = s->learning ? table_add(&s->pairs, k) : table_find(&s->pairs, k);
        if (s->learning && !p)
            return -1;
        if (p && push_pos(p, (int32_t)i) != 0)
            return -1;
        if (p)
            p->count++;
    }
    if (s->learning)
        for (int32_t i = 0; i < s->pairs.n; i++) {
            Pair *p = &s->pairs.pairs[i];
            if (heap_push(&s->heap, (Cand){p->count, (int32_t)(p->key >> 32), (int32_t)(uint32_t)p->key}) != 0)
                return -1;
        }
    return 0;
}

static void lose(Seq *s, int32_t a, int32_t b)
{
    if (!s->learning)
        return;
    Pair *p = table_find(&s->pairs, key_of(a, b));
    if (p)
        p->count--;
}

/* The pair (a, b) now starts at `at`. */
static int gain(Seq *s, int32_t a, int32_t b, int32_t at)
{
    Pair *p = s->learning ? table_add(&s->pairs, key_of(a, b)) : table_find(&s->pairs, key_of(a, b));
    if (!p)
        return s->learning ? -1 : 0;
    if (push_pos(p, at) != 0)
        return -1;
    if (!s->learning)
        return 0;
    p->count++;
    /* One heap entry per pair and merge, pushed when the merge is done: a
     * push per occurrence would fill the heap with a pair's every count. */
    if (p->round == s->round)
        return 0;
    p->round = s->round;
    if (s->nrose == s->caprose) {
        int32_t cap = s->caprose ? s->caprose * 2 : 1024;
        int32_t *r = rt_realloc(s->rose, (size_t)cap * sizeof *r);
        if (!r)
            return -1;
        s->rose = r;
        s->caprose = cap;
    }
    s->rose[s->nrose++] = (int32_t)(p - s->pairs.pairs);
    return 0;
}

static int by_position(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

/* Positions visited and heap entries taken by this thread's last rt_bpe_learn or
 * rt_bpe_encode (rt_bpe_work): what unit.bpe holds to a multiple of the text. */
static _Thread_local int64_t work;

int64_t rt_bpe_work(void) { return work; }

/* Replaces every occurrence of (a, b) by z, left to right.  The pair's
 * position list is taken (the table entry may move while pairs are added). */
static int apply(Seq *s, int32_t a, int32_t b, int32_t z)
{
    Pair *p = table_find(&s->pairs, key_of(a, b));
    if (!p || p->npos == 0)   /* (encoding: a merge whose pair the text never has) */
        return 0;
    int32_t *pos = p->pos, npos = p->npos;
    work += npos;
    p->pos = NULL;
    p->npos = p->cap = 0;
    qsort(pos, (size_t)npos, sizeof *pos, by_position);
    int rc = 0;
    for (int32_t k = 0; k < npos && rc == 0; k++) {
        int32_t at = pos[k];
        if (s->sym[at] != a)
            continue;
        int32_t q = s->next[at];
        if (q < 0 || s->sym[q] != b)
            continue;
        int32_t l = s->prev[at], r = s->next[q];
        if (l >= 0)
            lose(s, s->sym[l], a);
        lose(s, a, b);
        if (r >= 0)
            lose(s, b, s->sym[r]);
        s->sym[at] = z;
        s->sym[q] = -1;
        s->next[at] = r;
        if (r >= 0)
            s->prev[r] = at;
        if (l >= 0)
            rc = gain(s, s->sym[l], z, l);
        if (r >= 0 && rc == 0)
            rc = gain(s, z, s->sym[r], at);
    }
    free(pos);
    return rc;
}

/* ---- tokens' bytes ------------------------------------------------------------------- */

/* Fills b->off and b->bytes from b->pair, refusing lengths beyond the limits
 * (then b is freed: it is the last step of making one). */
static int spell(RtBpe *b, char *err, size_t errlen)
{
    int32_t V = b->vocab;
    b->off = rt_malloc(sizeof *b->off * (size_t)(V + 1));
    int64_t *len = rt_malloc(sizeof *len * (size_t)V);
    if (!b->off || !len) {
        free(len);
        rt_bpe_free(b);
        return rt_fail(-1, err, errlen, "out of memory for %d tokens", V);
    }
    int64_t total = 0;
    for (int32_t t = 0; t < V; t++) {
        int64_t n = t < 256 ? 1 : len[b->pair[2 * (t - 256)]] + len[b->pair[2 * (t - 256) + 1]];
        if (n > BPE_MAX_TOKEN || total + n > BPE_MAX_TOTAL) {
            free(len);
            rt_bpe_free(b);
            if (n > BPE_MAX_TOKEN)
                return rt_fail(-1, err, errlen, "merge %d makes a token of %lld bytes; tokens are at most %d bytes",
                               t - 256, (long long)n, BPE_MAX_TOKEN);
            return rt_fail(-1, err, errlen, "the tokens up to merge %d spell more than %lld bytes", t - 256,
                           (long long)BPE_MAX_TOTAL);
        }
        len[t] = n;
        b->off[t] = total;
        total += n;
    }
    b->off[V] = total;
    b->bytes = rt_malloc((size_t)total);
    if (!b->bytes) {
        free(len);
        rt_bpe_free(b);
        return rt_fail(-1, err, errlen, "out of memory for %d tokens", V);
    }
    for (int32_t t = 0; t < V; t++) {
        if (t < 256) {
            b->bytes[t] = (uint8_t)t;
            continue;
        }
        int32_t x = b->pair[2 * (t - 256)], y = b->pair[2 * (t - 256) + 1];
        memcpy(b->bytes + b->off[t], b->bytes + b->off[x], (size_t)len[x]);
        memcpy(b->bytes + b->off[t] + len[x], b->bytes + b->off[y], (size_t)len[y]);
    }
    free(len);
    return 0;
}

void rt_bpe_free(RtBpe *b)
{
    free(b->pair);
    free(b->off);
    free(b->bytes);
    memset(b, 0, sizeof *b);
}

/* ---- learning -------------------------------------------------------------------------- */

/* The symbols left in s, in order, into ids; their count. */
static int64_t collect(const Seq *s, int32_t *ids)
{
    int64_t count = 0;
    for (int64_t i = 0; i < s->n; i = s->next[i] < 0 ? s->n : s->next[i])
        ids[count++] = s->sym[i];
    return count;
}

int rt_bpe_learn(const uint8_t *text, int64_t n, int32_t vocab, RtBpe *out, int32_t *ids, int64_t *nids, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (vocab <= 256 || vocab > RT_BPE_MAX_VOCAB)
        return rt_fail(-1, err, errlen, "a bpe vocabulary is from 257 to %d tokens, not %d", RT_BPE_MAX_VOCAB, vocab);
    if (n >= INT32_MAX)
        return rt_fail(-1, err, errlen, "%lld bytes are too many to learn merges from (at most %d)", (long long)n,
                       INT32_MAX - 1);
    int32_t merges = vocab - 256;
    Seq s = {.learning = 1};
    work = 0;
    out->vocab = vocab;
    out->pair = rt_malloc(sizeof *out->pair * 2 * (size_t)merges);
    /* room for 65536 pairs, or for as many as a shorter text has (the table
     * grows): a 512 KiB table cleared for a few bytes was most of the text
     * fuzz target's time */
    int32_t room = n < 65536 ? (int32_t)n + 1 : 65536;
    int rc = !out->pair || table_init(&s.pairs, room) != 0 || seq_init(&s, text, n) != 0 ? -1 : 0;
    int32_t made = 0;
    while (rc == 0 && made < merges) {
        /* the top entry whose count is current; a stale one comes back with its true count */
        Cand c = {0};
        int found = 0;
        while (s.heap.n > 0) {
            c = heap_pop(&s.heap);
            work++;
            Pair *p = table_find(&s.pairs, key_of(c.a, c.b));
            if (p->count == c.count && c.count > 0) {
                found = 1;
                break;
            }
            if (p->count > 0 && p->count < c.count && heap_push(&s.heap, (Cand){p->count, c.a, c.b}) != 0) {
                rc = -1;
                break;
            }
        }
        if (rc != 0 || !found)
            break;
        out->pair[2 * made] = c.a;
        out->pair[2 * made + 1] = c.b;
        s.round = made + 1;
        s.nrose = 0;
        rc = apply(&s, c.a, c.b, 256 + made);
        for (int32_t i = 0; i < s.nrose && rc == 0; i++) {
            const Pair *p = &s.pairs.pairs[s.rose[i]];
            rc = heap_push(&s.heap, (Cand){p->count, (int32_t)(p->key >> 32), (int32_t)(uint32_t)p->key});
        }
        made++;
    }
    if (rc == 0 && made == merges && ids)
        *nids = collect(&s, ids);
    seq_free(&s);
    if (rc != 0) {
        rt_bpe_free(out);
        return rt_fail(-1, err, errlen, "out of memory learning %d merges from %lld bytes", merges, (long long)n);
    }
    if (made < merges) {
        rt_bpe_free(out);
        return rt_fail(-1, err, errlen, "%lld bytes of training text make only %d merges (the whole text is one token); "
                       "bpe(vocab: %d) needs %d", (long long)n, made, vocab, merges);
    }
    return spell(out, err, errlen);
}

/* ---- encoding and decoding ------------------------------------------------------------- */

int64_t rt_bpe_encode(const RtBpe *b, const uint8_t *text, int64_t n, int32_t *ids)
{
    if (n >= INT32_MAX)
        return -1;
    Seq s = {.learning = 0};
    int32_t merges = b->vocab - 256;
    work = 0;
    int rc = table_init(&s.pairs, merges);
    for (int32_t i = 0; i < merges && rc == 0; i++) {
        Pair *p = table_add(&s.pairs, key_of(b->pair[2 * i], b->pair[2 * i + 1]));
        if (!p)
            rc = -1;
        else if (p->rank < 0)   /* a list with a pair twice: the first merge takes it */
            p->rank = i;
    }
    rc = rc || seq_init(&s, text, n);
    for (int32_t i = 0; i < merges && rc == 0; i++) {
        Pair *p = table_find(&s.pairs, key_of(b->pair[2 * i], b->pair[2 * i + 1]));
        if (p->rank == i)
            rc = apply(&s, b->pair[2 * i], b->pair[2 * i + 1], 256 + i);
    }
    int64_t count = rc ? 0 : collect(&s, ids);
    seq_free(&s);
    return rc ? -1 : count;
}

int64_t rt_bpe_decode(const RtBpe *b, const int32_t *ids, int64_t n, uint8_t *out, int64_t cap)
{
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= b->vocab)
            return -1;
        int64_t len = b->off[ids[i] + 1] - b->off[ids[i]];
        if (at + len <= cap)
            memcpy(out + at, b->bytes + b->off[ids[i]], (size_t)len);
        at += len;
    }
    return at;
}

/* ---- the merges as text ------------------------------------------------------------------ */

char *rt_bpe_format(const RtBpe *b)
{
    int32_t merges = b->vocab - 256;
    size_t cap = (size_t)merges * 24 + 1, at = 0;
    char *s = rt_malloc(cap);
    if (!s)
        return NULL;
    s[0] = 0;
    for (int32_t i = 0; i < merges; i++)
        at += (size_t)snprintf(s + at, cap - at, "%s%d,%d", i ? " " : "", b->pair[2 * i], b->pair[2 * i + 1]);
    return s;
}

int rt_bpe_parse(const char *text, RtBpe *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int32_t merges = *text != '\0';
    for (const char *c = text; *c && merges <= RT_BPE_MAX_VOCAB; c++)
        merges += *c == ' ';
    if (merges == 0)
        return rt_fail(-1, err, errlen, "no merges");
    if (merges > RT_BPE_MAX_VOCAB - 256)
        return rt_fail(-1, err, errlen, "%d merges; a bpe vocabulary has at most %d tokens", merges, RT_BPE_MAX_VOCAB);
    out->vocab = 256 + merges;
    out->pair = rt_malloc(sizeof *out->pair * 2 * (size_t)merges);
    if (!out->pair)
        return rt_fail(-1, err, errlen, "out of memory for %d merges", merges);
    const char *c = text;
    for (int32_t i = 0; i < merges; i++) {
        for (int k = 0; k < 2; k++) {
            char *end;
            if (*c < '0' || *c > '9') {
                rt_bpe_free(out);
                return rt_fail(-1, err, errlen, "merge %d is not two token ids 'A,B'", i);
            }
            long v = strtol(c, &end, 10);
            if (v >= 256 + i) {
                rt_bpe_free(out);
                return rt_fail(-1, err, errlen, "merge %d uses token %ld, which does not exist before it", i, v);
            }
            out->pair[2 * i + k] = (int32_t)v;
            c = end;
            if (*c != (k ? (i + 1 < merges ? ' ' : '\0') : ',')) {
                rt_bpe_free(out);
                return rt_fail(-1, err, errlen, "merge %d is not two token ids 'A,B'", i);
            }
            c += *c != '\0';
        }
    }
    return spell(out, err, errlen);
}
