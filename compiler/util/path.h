/* path.h — the folder and the file name of a path, split as the runtime
 * splits them (rt_split_path in nnc_runtime.h, which these call): a name
 * without a '/' is in ".", and the root keeps its '/' ("/x.nn" is in "/"),
 * so a model, a library or nnc itself at the top of the file system finds
 * what sits beside it.
 */
#ifndef NNC_PATH_H
#define NNC_PATH_H

#include "arena.h"

/* The file name of a path: what follows its last '/' ("a/x.nn" -> "x.nn",
 * "a/b/" -> ""); a pointer into path. */
const char *path_base(const char *path);
/* The folder path names a file in: "a/b/x.nn" -> "a/b", "x.nn" -> ".",
 * "/x.nn" -> "/", "//x.nn" -> "/", "a/b/" -> "a/b". */
const char *path_dir(Arena *a, const char *path);
/* The file called name in that folder: "a/x.nn" and "d.csv" -> "a/d.csv",
 * "x.nn" -> "./d.csv", "/x.nn" -> "/d.csv" (path up to its last '/', then
 * name; "./" when it has none). */
const char *path_beside(Arena *a, const char *path, const char *name);

#endif
