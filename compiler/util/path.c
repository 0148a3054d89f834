/* path.c — see path.h.  The splitting itself is the runtime's
 * (rt_split_path): the compiler and the trainers it writes agree on where
 * a model's folder is, since the compiler records it for the trainer
 * (RtRecipe.model_dir) and the runtime looks for data there. */
#include "path.h"

#include <string.h>

#include "nnc_runtime.h"

const char *path_base(const char *path)
{
    return rt_split_path(path, NULL, 0);
}

const char *path_dir(Arena *a, const char *path)
{
    size_t len = strlen(path) + 2;   /* the folder is a part of path, or "." */
    char *dir = arena_alloc(a, len);
    rt_split_path(path, dir, len);
    return dir;
}

const char *path_beside(Arena *a, const char *path, const char *name)
{
    const char *base = path_base(path);   /* what comes before it: the folder with its '/' */
    if (base == path)
        return arena_printf(a, "./%s", name);
    return arena_printf(a, "%.*s%s", (int)(base - path), path, name);
}
