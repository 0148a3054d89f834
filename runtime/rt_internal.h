/* rt_internal.h — helpers shared by the runtime's files; not part of its
 * public header. */
#ifndef NNC_RT_INTERNAL_H
#define NNC_RT_INTERNAL_H

#include <stddef.h>

/* The whole file in *buf, NUL-terminated (caller frees), its length (the
 * NUL excluded) in *len.  Returns 0, or -1 with a reason naming path. */
int rt_read_whole(const char *path, char **buf, size_t *len, char *err, size_t errlen);

#endif
