/* cache.c — the persistent compile cache; see cache.h for the format.
 *
 * Nothing here is fatal: a cache that cannot be read is a miss, one that
 * cannot be written costs the next process its compile, and the caller
 * compiles either way.  Entries are checked whole (header, key, length,
 * checksum) before a byte of them is used, so a crash mid-write, a disk
 * error or another version's file is recompiled, never loaded; that is why
 * writes need no fsync.
 */
#include "cache.h"
#include "nnc_runtime.h"  /* rt_write_all */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef NNC_VERSION
#define NNC_VERSION "0.0.0"
#endif

/* Bumped whenever the entry layout, or how a key is made, changes. */
enum { CACHE_FORMAT = 1 };
enum { HEADER_SIZE = 8 + 8 + 32 + 32 + 8 + 8 };
static const char magic[8] = {'N', 'N', 'C', 'C', 'A', 'C', 'H', 'E'};
static const char suffix[] = ".nncobj";
#define DEFAULT_CAP (256ull << 20)
/* Temporary files older than this were left by a killed process. */
enum { STALE_TMP_SECONDS = 600 };

/* ---- the hash ------------------------------------------------------------------------- */

/* Two lanes with different multipliers, each a multiply-rotate per 64-bit
 * word (as xxHash's rounds), finished by MurmurHash3's fmix64: not a
 * cryptographic hash, but 128 bits against accidental collisions. */
static const uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full, P3 = 0x165667B19E3779F9ull,
                      P4 = 0x85EBCA77C2B2AE63ull;

static uint64_t rotl(uint64_t x, int r) { return x << r | x >> (64 - r); }

static uint64_t fmix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

static void word(CacheHash *h, uint64_t w)
{
    h->a = rotl(h->a ^ w * P1, 31) * P2;
    h->b = rotl(h->b + w * P3, 27) * P4 + 0x52dce729;
}

void cache_hash_init(CacheHash *h)
{
    *h = (CacheHash){.a = P1 ^ 0x6e6e63, .b = P2 ^ 0x636163686500};
}

void cache_hash_add(CacheHash *h, const void *data, size_t n)
{
    const unsigned char *p = data;
    h->len += n;
    while (n > 0 && h->ntail > 0 && h->ntail < 8) {  /* finish a word begun by the last call */
        h->tail[h->ntail++] = *p++;
        n--;
        if (h->ntail == 8) {
            uint64_t w;
            memcpy(&w, h->tail, 8);
            word(h, w);
            h->ntail = 0;
        }
    }
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        word(h, w);
    }
    memcpy(h->tail + h->ntail, p, n);
    h->ntail += (int)n;
}

void cache_hash_str(CacheHash *h, const char *s)
{
    cache_hash_add(h, s, strlen(s) + 1);
}

static void finish(const CacheHash *h, uint64_t *a, uint64_t *b)
{
    CacheHash t = *h;
    uint64_t w = 0;
    memcpy(&w, t.tail, (size_t)t.ntail);
    word(&t, w ^ (uint64_t)t.ntail << 56);
    *a = fmix(t.a ^ t.len);
    *b = fmix(t.b ^ rotl(t.len, 17) ^ *a);
}

void cache_hash_hex(const CacheHash *h, char out[33])
{
    uint64_t a, b;
    finish(h, &a, &b);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

static uint64_t checksum(const void *data, size_t n)
{
    CacheHash h;
    cache_hash_init(&h);
    cache_hash_add(&h, data, n);
    uint64_t a, b;
    finish(&h, &a, &b);
    return a;
}

/* ---- the directory ---------------------------------------------------------------------- */

static void warn(NncCache *c, const char *what, int err)
{
    fprintf(c->log, "nnc: warning: cannot write the compile cache %s: %s; compiling without it (set "
                    "NNC_CACHE_DIR, or give --no-cache)\n", what, strerror(err));
}

/* mkdir -p, new directories 0700 (the cache holds code this user runs). */
static int make_dirs(char *path)
{
    for (char *s = path + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        int rc = mkdir(path, 0700);
        *s = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static uint64_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return DEFAULT_CAP;
    switch (*end) {
    case 'k': case 'K': v <<= 10; break;
    case 'm': case 'M': v <<= 20; break;
    case 'g': case 'G': v <<= 30; break;
    default: break;
    }
    return v;
}

void cache_open(NncCache *c, FILE *log, bool verbose)
{
    *c = (NncCache){.log = log, .verbose = verbose};
    const char *env = getenv("NNC_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (env && *env)
        n = snprintf(c->dir, sizeof c->dir, "%s", env);
    else if (xdg && *xdg)
        n = snprintf(c->dir, sizeof c->dir, "%s/nnc", xdg);
    else if (home && *home)
        n = snprintf(c->dir, sizeof c->dir, "%s/.cache/nnc", home);
    else {
        c->dir[0] = 0;  /* nowhere to keep it: off, as with --no-cache */
        return;
    }
    if (n <= 0 || (size_t)n >= sizeof c->dir - 64) {
        c->dir[0] = 0;
        return;
    }
    while (n > 1 && c->dir[n - 1] == '/')
        c->dir[--n] = 0;
    const char *cap = getenv("NNC_CACHE_MAX");
    c->cap = cap && *cap ? parse_size(cap) : DEFAULT_CAP;
    if (make_dirs(c->dir) != 0) {
        warn(c, c->dir, errno);
        c->dir[0] = 0;
    }
}

static void entry_path(const NncCache *c, const char *key, char *out, size_t size)
{
    snprintf(out, size, "%s/%s%s", c->dir, key, suffix);
}

/* ---- reading ---------------------------------------------------------------------------- */

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Why the entry (n bytes at b) may not be used for key, or NULL. */
static const char *check(const unsigned char *b, size_t n, const char *key, char *why, size_t whysize)
{
    if (n < HEADER_SIZE || memcmp(b, magic, 8) != 0)
        return n < HEADER_SIZE && n >= 8 && memcmp(b, magic, 8) == 0 ? "truncated inside its header"
                                                                      : "not an nnc cache entry";
    char version[33] = {0};
    memcpy(version, b + 16, 32);
    if (get_u32(b + 8) != CACHE_FORMAT || strcmp(version, NNC_VERSION) != 0) {
        snprintf(why, whysize, "written by nnc %.32s (entry format %u), this is nnc %s (format %d)", version,
                 get_u32(b + 8), NNC_VERSION, CACHE_FORMAT);
        return why;
    }
    if (memcmp(b + 48, key, 32) != 0)
        return "its header holds another key";
    uint64_t len = get_u64(b + 80);
    if (len != n - HEADER_SIZE) {
        snprintf(why, whysize, "truncated: %llu bytes of object code, its header says %llu",
                 (unsigned long long)(n - HEADER_SIZE), (unsigned long long)len);
        return why;
    }
    if (checksum(b + HEADER_SIZE, (size_t)len) != get_u64(b + 88))
        return "checksum mismatch";
    return NULL;
}

bool cache_get(NncCache *c, const char *key, void **data, size_t *len)
{
    if (!c->dir[0])
        return false;
    char path[sizeof c->dir + 300];
    entry_path(c, key, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;  /* the ordinary miss */
    struct stat st;
    unsigned char *b = NULL;
    size_t n = 0;
    if (fstat(fd, &st) == 0 && st.st_size >= 0 && (b = malloc((size_t)st.st_size + 1))) {
        for (ssize_t r; n < (size_t)st.st_size; n += (size_t)r)
            if ((r = read(fd, b + n, (size_t)st.st_size - n)) <= 0)
                break;
    }
    char why_buf[160];
    const char *why = b ? check(b, n, key, why_buf, sizeof why_buf) : "cannot be read";
    if (why) {
        if (c->verbose)
            fprintf(c->log, "nnc: cache: %s: %s; recompiling\n", path, why);
        if (!c->readonly)
            unlink(path);  /* a good entry will take its place */
        free(b);
        close(fd);
        return false;
    }
    futimens(fd, NULL);  /* used now: last to be evicted (failure only costs accuracy of the order) */
    close(fd);
    *len = n - HEADER_SIZE;
    memmove(b, b + HEADER_SIZE, *len);
    *data = b;
    return true;
}

/* ---- writing and eviction ----------------------------------------------------------------- */

typedef struct Entry {
    char     name[80];
    off_t    size;
    struct timespec used;
} Entry;

static int older(const void *x, const void *y)
{
    const Entry *a = x, *b = y;
    if (a->used.tv_sec != b->used.tv_sec)
        return a->used.tv_sec < b->used.tv_sec ? -1 : 1;
    if (a->used.tv_nsec != b->used.tv_nsec)
        return a->used.tv_nsec < b->used.tv_nsec ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Removes the least recently used entries until the rest fit the cap (the
 * entry just written, keep, stays even when it alone is larger), and
 * temporary files a killed process left. */
static void evict(NncCache *c, const char *keep)
{
    DIR *d = opendir(c->dir);
    if (!d)
        return;
    Entry *e = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    time_t now = time(NULL);
    char path[sizeof c->dir + 300];
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        bool entry = len == 32 + sizeof suffix - 1 && strcmp(de->d_name + 32, suffix) == 0;
        bool tmp = strncmp(de->d_name, ".tmp-", 5) == 0;
        if (!entry && !tmp)
            continue;
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", c->dir, de->d_name);
        if (stat(path, &st) != 0)
            continue;  /* another process removed it */
        if (tmp) {
            if (now - st.st_mtime > STALE_TMP_SECONDS)
                unlink(path);
            continue;
        }
        total += (uint64_t)st.st_size;
        if (strncmp(de->d_name, keep, 32) == 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            Entry *grown = realloc(e, cap * sizeof *e);
            if (!grown)
                break;
            e = grown;
        }
        snprintf(e[n].name, sizeof e[n].name, "%.*s", (int)sizeof e[n].name - 1, de->d_name);
        e[n].size = st.st_size;
        e[n].used = st.st_mtim;
        n++;
    }
    closedir(d);
    if (n > 1)  /* qsort wants a non-null array even for none */
        qsort(e, n, sizeof *e, older);
    for (size_t i = 0; i < n && total > c->cap; i++) {
        snprintf(path, sizeof path, "%s/%s", c->dir, e[i].name);
        if (unlink(path) == 0 || errno == ENOENT)  /* ENOENT: another process evicted it first */
            total -= (uint64_t)e[i].size;
        if (c->verbose)
            fprintf(c->log, "nnc: cache: evicted %s (over the cap of %llu bytes)\n", e[i].name,
                    (unsigned long long)c->cap);
    }
    free(e);
}

void cache_put(NncCache *c, const char *key, const void *data, size_t len)
{
    if (!c->dir[0] || c->readonly)
        return;
    unsigned char h[HEADER_SIZE] = {0};
    memcpy(h, magic, 8);
    uint32_t format = CACHE_FORMAT;
    memcpy(h + 8, &format, 4);
    strncpy((char *)h + 16, NNC_VERSION, 32);
    memcpy(h + 48, key, 32);
    uint64_t n = len, sum = checksum(data, len);
    memcpy(h + 80, &n, 8);
    memcpy(h + 88, &sum, 8);
    char tmp[sizeof c->dir + 300], path[sizeof c->dir + 300];
    snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", c->dir);
    entry_path(c, key, path, sizeof path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        warn(c, c->dir, errno);
        c->readonly = true;
        return;
    }
    int bad = rt_write_all(fd, h, sizeof h) || rt_write_all(fd, data, len);
    int err = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (!bad && rename(tmp, path) != 0) {  /* whole, or not at all (mkstemp made it 0600) */
        bad = 1;
        err = errno;
    }
    if (bad) {
        unlink(tmp);
        warn(c, path, err);
        c->readonly = true;
        return;
    }
    evict(c, key);
}
