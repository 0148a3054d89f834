/* arena.h — bump allocation for everything a compilation builds.
 *
 * Consumes: nothing.  Produces: memory that lives until arena_free().
 * The AST, the checked model and every string derived from the source are
 * allocated here; nothing is freed one by one, so no pass needs to track
 * ownership of nodes.  One arena belongs to one compilation (NncCompilation).
 */
#ifndef NNC_ARENA_H
#define NNC_ARENA_H

#include <stddef.h>

typedef struct ArenaBlock ArenaBlock;

typedef struct Arena {
    ArenaBlock *head;   /* newest block; older blocks chain through ->next */
    size_t      total;  /* bytes handed out, for -v statistics */
} Arena;

void  arena_init(Arena *a);
void  arena_free(Arena *a);
/* Zeroed, aligned for any object. Never returns NULL (aborts on OOM). */
void *arena_alloc(Arena *a, size_t size);
/* The same, not zeroed: for large arrays the caller fills before it reads
 * them (a graph's nodes), where zeroing showed in profiles. */
void *arena_alloc_raw(Arena *a, size_t size);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_strdup(Arena *a, const char *s);
/* printf into the arena. */
char *arena_printf(Arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define ARENA_NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define ARENA_ARRAY(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (size_t)(n)))

#endif
