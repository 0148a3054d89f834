/* cache.h — the persistent compile cache: object code on disk, found by a
 * hash of everything that determined it.
 *
 * Consumes: a key (32 hex digits, made with cache_hash_*) and object bytes.
 * Produces: the bytes stored under that key by an earlier process, or a
 * miss.  No LLVM here: the code generator makes the key and the object; this
 * file only keeps them.
 *
 * Where: $NNC_CACHE_DIR, else $XDG_CACHE_HOME/nnc, else ~/.cache/nnc, made
 * 0700.  One file per entry, KEY.nncobj:
 *
 *   magic "NNCCACHE"  8 bytes
 *   format            u32 (CACHE_FORMAT), then u32 0
 *   nnc version       32 bytes, NUL-padded
 *   key               32 hex digits
 *   payload length    u64
 *   payload checksum  u64 (cache_hash of the payload)
 *   payload           the object file
 *
 * An entry is written to a temporary file in the directory and renamed over
 * KEY.nncobj, so a reader sees a whole entry or none, however many processes
 * compile at once.  A hit touches the file's mtime: the oldest mtime is the
 * least recently used, and entries go oldest first when the directory holds
 * more than the cap ($NNC_CACHE_MAX, bytes with an optional K, M or G;
 * default 256M).  An entry whose header, key, length or checksum is wrong is
 * never loaded: it is reported with -v, removed and recompiled.
 */
#ifndef NNC_CACHE_H
#define NNC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A 128-bit hash being fed (two independent 64-bit lanes). */
typedef struct CacheHash {
    uint64_t a, b;     /* the lanes */
    uint64_t len;      /* bytes fed */
    unsigned char tail[8];  /* bytes fed that do not yet make a word */
    int      ntail;
} CacheHash;

void cache_hash_init(CacheHash *h);
void cache_hash_add(CacheHash *h, const void *data, size_t n);
/* Adds a string and its terminating NUL (so "ab","c" differs from "a","bc"). */
void cache_hash_str(CacheHash *h, const char *s);
/* The key: 32 lower-case hex digits and a NUL. */
void cache_hash_hex(const CacheHash *h, char out[33]);

typedef struct NncCache {
    char     dir[4096];     /* the cache directory; "" when the cache is off */
    uint64_t cap;           /* bytes the entries may take before eviction */
    bool     readonly;      /* the directory cannot be written: hits only */
    bool     verbose;       /* -v: say why an entry was not used */
    FILE    *log;
} NncCache;

/* Finds (and makes) the directory.  Never fails: a cache that cannot be
 * made is off, with one warning on log. */
void cache_open(NncCache *c, FILE *log, bool verbose);
/* The entry for key: *data (malloc'ed; the caller frees it) and *len.
 * false on a miss; a bad entry is reported (-v), removed, and a miss. */
bool cache_get(NncCache *c, const char *key, void **data, size_t *len);
/* Stores an entry (atomically) and evicts beyond the cap.  A write that
 * fails warns once and makes the cache read-only for this process. */
void cache_put(NncCache *c, const char *key, const void *data, size_t len);

#endif
