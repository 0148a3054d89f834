/* suggest.c — nearest names by edit distance; see suggest.h. */
#include "suggest.h"

#include <string.h>

int suggest_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32)
        return 99;
    int d[33][33];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            /* two neighbours swapped (nmae, inptu) is one slip of the fingers */
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    return d[la][lb];
}

/* Two edits in a pair of short names leave too little in common: 'label'
 * is two letters from 'layer', and took repeat's 'layer' for a guess.  A
 * short name only of the two, 'conv' for 'conv2d', keeps two. */
static int edits_allowed(const char *name, const char *cand)
{
    size_t ln = strlen(name), lc = strlen(cand);
    return ln <= 3 || (ln <= 5 && lc <= 5) ? 1 : 2;
}

const char *suggest_among(const char *name, const char *const *cands, int n)
{
    const char *best = NULL;
    int bestd = 99;
    for (int i = 0; i < n; i++) {
        int d = suggest_distance(name, cands[i]);
        if (d > 0 && d <= edits_allowed(name, cands[i]) && d < bestd) {
            best = cands[i];
            bestd = d;
        }
    }
    return best;
}
