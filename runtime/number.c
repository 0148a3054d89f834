/* number.c — the numbers data files and --input hold; see number.h.
 *
 * Every reader keeps its values as f32, so a number beyond f32's range
 * (1e39, finite in double) is refused as such rather than stored as inf.
 */
#include "number.h"

#include <math.h>
#include <stddef.h>

const char *rt_f32_unfit(double v)
{
    if (!isfinite(v))
        return "is not a finite number";
    if (!isfinite((float)v))
        return "is beyond the range of f32 (3.4e38)";
    return NULL;
}
