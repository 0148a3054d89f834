/* io.c — reading files whole, for the data loaders; where the runtime's
 * own files (checkpoints, charts) may be written. */
#include <errno.h>
#include <fcntl.h>
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
        /* the link's folder, with its '/' (none in the current folder) */
        size_t dir = link[0] == '/' ? 0 : (size_t)(rt_split_path(at, NULL, 0) - at);
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

int rt_replace_begin(RtReplace *r, const char *path)
{
    *r = (RtReplace){.fd = -1};
    size_t len = 0;
    if (!(r->target = rt_link_target(path)) || !(r->tmp = rt_malloc((len = strlen(r->target) + 48)))) {
        free(r->target);
        errno = ENOMEM;
        return -1;
    }
    /* O_EXCL: a name that exists (a file, a link planted there) is never
     * opened, only a new file made; 0644 less the umask, as any new file.
     * The name is the folder's and a short one of its own, not the target's
     * with a suffix: a target name near NAME_MAX (255 bytes) that passed the
     * checks before training would fail here, at its first save. */
    int dir = (int)(rt_split_path(r->target, NULL, 0) - r->target);  /* the folder, with its '/' */
    static unsigned tries;
    for (int n = 0; n < 100; n++) {
        unsigned salt = __atomic_add_fetch(&tries, 1, __ATOMIC_RELAXED) * 2654435761u ^ (unsigned)(uint64_t)(rt_now() * 1e9);
        snprintf(r->tmp, len, "%.*s.nnc-%d-%08x.tmp", dir, r->target, (int)getpid(), salt);
        if ((r->fd = open(r->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) >= 0 || errno != EEXIST)
            break;
    }
    if (r->fd < 0) {
        int saved = errno;
        free(r->target), free(r->tmp);
        *r = (RtReplace){.fd = -1};
        errno = saved;
        return -1;
    }
    return 0;
}

int rt_write_all(int fd, const void *p, size_t n)
{
    for (const char *s = p; n > 0;) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int rt_replace_end(RtReplace *r, int ok)
{
    int saved = ok ? 0 : errno;
    if (r->fd >= 0) {
        if (ok && fsync(r->fd) != 0)
            saved = errno, ok = 0;
        if (close(r->fd) != 0 && ok)
            saved = errno, ok = 0;
    }
    if (ok && rename(r->tmp, r->target) != 0)
        saved = errno, ok = 0;
    if (!ok)
        unlink(r->tmp);
    free(r->target), free(r->tmp);
    *r = (RtReplace){.fd = -1};
    errno = saved;
    return ok ? 0 : -1;
}

/* What a file of this mode is, for a message. */
static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode) ? "a directory" : S_ISCHR(mode) ? "a character device" : S_ISBLK(mode) ? "a block device"
         : S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket" : "a special file";
}

const char *rt_split_path(const char *path, char *folder, size_t len)
{
    const char *slash = strrchr(path, '/');
    /* a slash at the start is the root's, so it stays in the folder */
    snprintf(folder, len, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
    return slash ? slash + 1 : path;
}

int rt_writable_folder(const char *cannot, const char *path, const char *file, char *err, size_t errlen)
{
    char dir[4096];
    rt_split_path(file, dir, sizeof dir);
    if (access(dir, W_OK) != 0)
        return rt_fail(1, err, errlen, "%s '%s': %s", cannot, path, strerror(errno));
    return 0;
}

int rt_replaceable(const char *cannot, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {   /* (stat follows links) */
        /* missing is fine (a dangling link too: its target is made); a
         * link loop (ELOOP) or an unreadable folder is not: a loop's first
         * link would be replaced by the file */
        if (errno == ENOENT)
            return 0;
        return rt_fail(1, err, errlen, "%s '%s': %s", cannot, path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return rt_fail(1, err, errlen, "%s '%s': it is %s, not a regular file", cannot, path, file_kind(st.st_mode));
    return 0;
}
