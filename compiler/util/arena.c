/* arena.c — bump allocator; see arena.h. */
#include "arena.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct ArenaBlock {
    ArenaBlock *next;
    size_t      used, cap;
    bool        mapped;  /* mmap'ed (block_new), else malloc'ed */
    max_align_t data[];  /* payload; max_align_t keeps it aligned for anything */
};

/* Blocks grow with the arena (a quarter of what it holds, up to
 * ARENA_BLOCK_MAX), and large ones are mapped with their pages populated:
 * a compile of the GPT fills megabytes, and in a virtual machine a page
 * fault per 4 KiB touched cost more than the passes that touched them. */
enum { ARENA_BLOCK_MIN = 64 * 1024, ARENA_BLOCK_MAX = 8 << 20, ARENA_MAP_MIN = 256 * 1024 };

/* A block of at least cap bytes of payload, or NULL. */
static ArenaBlock *block_new(size_t cap)
{
    ArenaBlock *b = NULL;
    bool mapped = false;
    if (cap >= ARENA_MAP_MIN) {
        void *p = mmap(NULL, sizeof *b + cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p != MAP_FAILED) {
            b = p;
            mapped = true;
        }
    }
    if (!b)
        b = malloc(sizeof *b + cap);
    if (b) {
        b->cap = cap;
        b->used = 0;
        b->mapped = mapped;
    }
    return b;
}

void arena_init(Arena *a) { a->head = NULL; a->total = 0; }

void arena_free(Arena *a)
{
    for (ArenaBlock *b = a->head, *next; b; b = next) {
        next = b->next;
        if (b->mapped)
            munmap(b, sizeof *b + b->cap);
        else
            free(b);
    }
    a->head = NULL;
    a->total = 0;
}

/* size bytes; *from is the block they come from.  A request bigger than a
 * new block would be gets a block of its own, put behind the head (so
 * a->head is the block requests are carved from, not always the newest): the
 * head keeps the room it has left for the requests after it (it used to be
 * dropped, up to ARENA_BLOCK_MAX of populated pages). */
static void *take(Arena *a, size_t size, ArenaBlock **from)
{
    const size_t align = sizeof(max_align_t);
    size = (size + align - 1) & ~(align - 1);
    if (size == 0)
        size = align;
    ArenaBlock *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t grow = a->total / 4 < ARENA_BLOCK_MAX ? a->total / 4 : ARENA_BLOCK_MAX;
        size_t cap = grow > ARENA_BLOCK_MIN ? grow : ARENA_BLOCK_MIN;
        bool oversize = size > cap;
        cap = oversize ? size : cap;
        ArenaBlock *nb = block_new(cap);
        if (!nb) {
            /* Out of memory is not a user error nor a compiler bug we can
             * report sensibly; there is nothing left to build a message. */
            fputs("nnc: out of memory\n", stderr);
            abort();
        }
        if (oversize && b) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = a->head;
            a->head = nb;
        }
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    a->total += size;
    *from = b;
    return p;
}

void *arena_alloc(Arena *a, size_t size)
{
    ArenaBlock *b;
    void *p = take(a, size, &b);
    if (!b->mapped)  /* a mapped block's bytes are zero until first handed out */
        memset(p, 0, size);
    return p;
}

void *arena_alloc_raw(Arena *a, size_t size)
{
    ArenaBlock *b;
    return take(a, size, &b);
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(Arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
