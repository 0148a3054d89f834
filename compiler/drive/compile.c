/* compile.c — see compile.h. */
#include "compile.h"
#include "model.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The objects as one cache entry's payload. */
static void *pack(const CgObjects *o, size_t *len)
{
    size_t n = 4;
    for (int k = 0; k < o->n; k++)
        n += 8 + o->len[k];
    unsigned char *b = malloc(n), *p = b;
    if (!b)
        return NULL;
    uint32_t count = (uint32_t)o->n;
    memcpy(p, &count, 4);
    p += 4;
    for (int k = 0; k < o->n; k++) {
        uint64_t l = o->len[k];
        memcpy(p, &l, 8);
        memcpy(p + 8, o->obj[k], o->len[k]);
        p += 8 + o->len[k];
    }
    *len = n;
    return b;
}

/* The objects of a payload; false if it does not parse (the checksum
 * passed, so only a bug would make one). */
static bool unpack(const unsigned char *b, size_t n, CgObjects *o)
{
    *o = (CgObjects){0};
    uint32_t count;
    if (n < 4 || (memcpy(&count, b, 4), count < 1 || count > CG_MAX_OBJECTS))
        return false;
    size_t at = 4;
    for (uint32_t k = 0; k < count; k++) {
        uint64_t l;
        if (n - at < 8 || (memcpy(&l, b + at, 8), l > n - at - 8))
            break;
        o->obj[k] = malloc(l ? l : 1);
        memcpy(o->obj[k], b + at + 8, l);
        o->len[k] = l;
        o->n++;
        at += 8 + l;
    }
    if (o->n != (int)count || at != n) {
        cg_objects_free(o);
        return false;
    }
    return true;
}

/* The cache entry for the entries, or for a text of them (tag, e.g. "dump
 * llvm"; NULL: their objects): its key in KEY ("" with the cache off or not
 * there), and its bytes in *DATA on a hit.  *STATUS becomes "off", "miss"
 * or "hit".  Returns -1 on an error of the key, 1 on a hit, 0 otherwise. */
static int lookup(NncCache *cache, const CgEntry *e, int n, const CgOptions *o, const char *tag, bool use_cache,
                  FILE *log, bool verbose, char key[33], void **data, size_t *len, const char **status,
                  const char **err)
{
    *status = "off";
    key[0] = 0;
    if (!use_cache)
        return 0;
    cache_open(cache, log, verbose);
    if (!cache->dir[0])
        return 0;
    if (cg_key(e, n, o, key, err) != 0)
        return -1;
    if (tag) {  /* not the objects' key: the entry holds text */
        CacheHash h;
        cache_hash_init(&h);
        cache_hash_str(&h, key);
        cache_hash_str(&h, tag);
        cache_hash_hex(&h, key);
    }
    *status = "miss";
    if (!cache_get(cache, key, data, len))
        return 0;
    *status = "hit";
    return 1;
}

int compile_entries(const CgEntry *e, int n, const CgOptions *o, bool use_cache, FILE *log, bool verbose,
                    CompileResult *r, const char **err)
{
    *r = (CompileResult){.status = "off"};
    double t0 = 1e3 * clock_now();
    NncCache cache = {0};
    char key[33];
    void *data;
    size_t len;
    int got = lookup(&cache, e, n, o, NULL, use_cache, log, verbose, key, &data, &len, &r->status, err);
    if (got < 0)
        return -1;
    if (got) {
        bool ok = unpack(data, len, &r->objs);
        free(data);
        if (ok) {
            r->cache = 1e3 * clock_now() - t0;
            return 0;
        }
        r->status = "miss";
    }
    double t1 = 1e3 * clock_now();
    r->cache = t1 - t0;
    double c0 = drive_cpu_ms();
    if (cg_objects(e, n, o, 0, &r->objs, &r->t, err) != 0)
        return -1;
    r->cpu = drive_cpu_ms() - c0;
    r->nobjs = r->objs.n;
    if (key[0]) {
        double t2 = 1e3 * clock_now();
        data = pack(&r->objs, &len);
        if (data)
            cache_put(&cache, key, data, len);
        free(data);
        r->cache += 1e3 * clock_now() - t2;
    }
    return 0;
}

/* The texts kept in the cache: a dump of one entry (CgDump), or an emitted
 * file (CgFile; objects are compile_objects'), under these tags. */
static const char *const dump_tag[] = {[CG_DUMP_LLVM] = "dump llvm", [CG_DUMP_ASM] = "dump asm"};
static const char *const emit_tag[] = {[CG_FILE_LLVM] = "emit llvm", [CG_FILE_ASM] = "emit asm"};

/* The text of the entries (cg_dump's `what` when dump, else cg_emit's) into
 * out, through the cache. */
static int cached_text(const CgEntry *e, int n, const CgOptions *o, bool dump, int what, bool use_cache, FILE *log,
                       bool verbose, StrBuf *out, const char **status, const char **err)
{
    NncCache cache = {0};
    char key[33];
    void *data;
    size_t len;
    int got = lookup(&cache, e, n, o, dump ? dump_tag[what] : emit_tag[what], use_cache, log, verbose, key, &data,
                     &len, status, err);
    if (got < 0)
        return -1;
    if (got) {
        sb_putn(out, data, len);
        free(data);
        return 0;
    }
    StrBuf text = {0};
    int rc = dump ? cg_dump(e->g, e->p, e->name, o, (CgDump)what, &text, err)
                  : cg_emit(e, n, o, (CgFile)what, &text, err);
    if (rc == 0 && key[0])
        cache_put(&cache, key, text.data ? text.data : "", text.len);
    if (rc == 0 && text.len)
        sb_putn(out, text.data, text.len);
    sb_free(&text);
    return rc;
}

int compile_dump(const CgEntry *e, const CgOptions *o, CgDump what, bool use_cache, FILE *log, bool verbose,
                 StrBuf *out, const char **status, const char **err)
{
    return cached_text(e, 1, o, true, what, use_cache, log, verbose, out, status, err);
}

int compile_emit(const CgEntry *e, int n, const CgOptions *o, CgFile what, const char *path, bool use_cache, FILE *log,
                 bool verbose, const char **status, const char **err)
{
    static char errbuf[PATH_MAX + 64];
    StrBuf text = {0};
    if (cached_text(e, n, o, false, what, use_cache, log, verbose, &text, status, err) != 0) {
        sb_free(&text);
        return -1;
    }
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(text.data ? text.data : "", 1, text.len, f) == text.len;
    ok = f && fclose(f) == 0 && ok;
    sb_free(&text);
    if (!ok) {
        snprintf(errbuf, sizeof errbuf, "cannot write %s: %s", path, strerror(errno));
        *err = errbuf;
        return -1;
    }
    return 0;
}

void compile_free(CompileResult *r)
{
    cg_objects_free(&r->objs);
}

/* -v's parts of the compile from the cache on: a hit's "cache 1.2 ms", or
 * "LLVM IR .. ms, LLVM optimisation .. ms, machine code .. ms (CPU ..)" and
 * for a miss ", cache .. ms" (off: no cache part). */
static void describe(const CompileResult *r, char *out, size_t size)
{
    if (strcmp(r->status, "hit") == 0) {
        snprintf(out, size, "cache %.1f ms", r->cache);
        return;
    }
    char modules[200], phases[120];
    snprintf(phases, sizeof phases, ": LLVM IR %.1f, optimisation %.1f, machine code %.1f, contexts %.1f",
             r->t.build_cpu, r->t.opt_cpu, r->t.mc_cpu, r->t.setup_cpu);
    if (r->nobjs > 1)
        snprintf(modules, sizeof modules, " (%d modules in parallel, CPU %.1f ms%s)", r->nobjs, r->cpu, phases);
    else
        snprintf(modules, sizeof modules, " (CPU %.1f ms%s)", r->cpu, phases);
    int n = snprintf(out, size, "LLVM IR %.1f ms, LLVM optimisation %.1f ms, machine code %.1f ms%s", r->t.build,
                     r->t.opt, r->t.mc, modules);
    if (strcmp(r->status, "miss") == 0 && n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, ", cache %.1f ms", r->cache);
}

void compile_say(FILE *log, double wall_ms, double cpu_ms, const char *status, const CompileResult *r, double front_ms,
                 const char *last, double last_ms)
{
    fprintf(log, "compiled in %.1f ms, CPU %.1f ms (cache %s", wall_ms, cpu_ms, status);
    if (r) {
        char parts[256];
        describe(r, parts, sizeof parts);
        fprintf(log, ": front end and passes %.1f ms, %s", front_ms, parts);
    }
    if (last)
        fprintf(log, ", %s %.1f ms", last, last_ms);
    fputs(")\n", log);
}
