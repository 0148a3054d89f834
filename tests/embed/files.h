/* files.h — the files an embedding test is given and checks (state.c,
 * faults.c, repack.c): its paths in the directory run.sh names on its command line,
 * and whether a save that failed left the file it would have replaced as it
 * was.  Header-only, static inline: run.sh builds each test from its one
 * source file, and a test that uses only a part is not warned of the rest. */
#ifndef NNC_TESTS_EMBED_FILES_H
#define NNC_TESTS_EMBED_FILES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef char TestPath[4096];

/* dir/name: a file of the test's directory (argv[1]). */
static inline void test_path(TestPath p, const char *dir, const char *name)
{
    snprintf(p, sizeof(TestPath), "%s/%s", dir, name);
}

/* The bytes of path (*len of them, and a NUL) in malloc'd memory, or NULL. */
static inline char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    if (f && fseek(f, 0, SEEK_END) == 0 && (*len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0
        && (b = malloc((size_t)*len + 1)) && fread(b, 1, (size_t)*len, f) != (size_t)*len) {
        free(b);
        b = NULL;
    }
    if (b)
        b[*len] = 0;  /* a string search over the bytes stops at their end */
    if (f)
        fclose(f);
    return b;
}

/* Whether path is as slurp found it before a save was tried: the len bytes
 * of before, or (before NULL) still no file.  slurp's NULL means no file or
 * one that cannot be read, so "unreadable before and after" passes too; a
 * file that appeared, vanished or changed does not. */
static inline int unchanged(const char *path, const char *before, long len)
{
    long now = 0;
    char *after = slurp(path, &now);
    int same = before && after ? now == len && memcmp(before, after, (size_t)len) == 0 : !before && !after;
    free(after);
    return same;
}

#endif
