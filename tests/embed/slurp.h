/* slurp.h — a whole file into memory, for the tests of tests/embed (state.c,
 * repack.c): malloc'ed (the caller frees it), *len its bytes; NULL when it
 * cannot be read. */
#ifndef EMBED_SLURP_H
#define EMBED_SLURP_H

#include <stdio.h>
#include <stdlib.h>

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    if (f && fseek(f, 0, SEEK_END) == 0 && (*len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0
        && (b = malloc((size_t)*len + 1)) && fread(b, 1, (size_t)*len, f) != (size_t)*len) {
        free(b);
        b = NULL;
    }
    if (f)
        fclose(f);
    return b;
}

#endif
