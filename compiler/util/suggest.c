/* suggest.c — nearest names by Levenshtein distance; see suggest.h. */
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
        }
    return d[la][lb];
}

const char *suggest_among(const char *name, const char *const *cands, int n)
{
    const char *best = NULL;
    int bestd = strlen(name) <= 3 ? 2 : 3;  /* one more than allowed */
    for (int i = 0; i < n; i++) {
        int d = suggest_distance(name, cands[i]);
        if (d > 0 && d < bestd) {
            best = cands[i];
            bestd = d;
        }
    }
    return best;
}
