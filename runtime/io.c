/* io.c — reading files whole, for the data loaders; where the runtime's
 * own files (checkpoints, charts) may be written. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* rt_link_target: see rt_internal.h.  A relative link is read from the
 * link's folder; after 40 links (a loop) path is left where it got. */
char *rt_link_target(const char *path)
{
    size_t len = strlen(path);
    char *at = rt_malloc(len + 1);
    if (!at)
        return NULL;
    memcpy(at, path, len + 1);
    struct stat st;
    for (int hops = 0; hops < 40 && lstat(at, &st) == 0 && S_ISLNK(st.st_mode); hops++) {
        char link[PATH_MAX];
        ssize_t n = readlink(at, link, sizeof link - 1);
        if (n < 0)
            break;
        link[n] = '\0';
        const char *slash = strrchr(at, '/');
        size_t dir = link[0] == '/' || !slash ? 0 : (size_t)(slash - at) + 1;   /* the link's folder, with its '/' */
        char *next = rt_malloc(dir + (size_t)n + 1);
        if (!next) {
            free(at);
            return NULL;
        }
        memcpy(next, at, dir);
        memcpy(next + dir, link, (size_t)n + 1);
        free(at);
        at = next;
    }
    return at;
}

/* What a file of this mode is, for a message. */
static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode) ? "a directory" : S_ISCHR(mode) ? "a character device" : S_ISBLK(mode) ? "a block device"
         : S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket" : "a special file";
}

int rt_replaceable(const char *cannot, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))   /* (stat follows links) */
        return rt_fail(1, err, errlen, "%s '%s': it is %s, not a regular file", cannot, path, file_kind(st.st_mode));
    return 0;
}
