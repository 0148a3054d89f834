/* io.c — reading files whole, for the data loaders. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_internal.h"

/* rt_read_whole: see rt_internal.h. */
int rt_read_whole(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = 0, cap = 1 << 16;
    char *p = rt_malloc(cap + 1);
    while (p) {
        n += fread(p + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        char *q = rt_realloc(p, cap + 1);
        if (!q)
            free(p);
        p = q;
    }
    int bad = !p || ferror(f);
    int saved = errno;
    fclose(f);
    if (bad) {
        if (p)
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(saved));
        else
            snprintf(err, errlen, "out of memory reading %s", path);
        free(p);
        return -1;
    }
    p[n] = '\0';
    *buf = p;
    *len = n;
    return 0;
}

int rt_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
