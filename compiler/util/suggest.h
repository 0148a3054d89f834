/* suggest.h — "did you mean": the closest of some candidate names. */
#ifndef NNC_SUGGEST_H
#define NNC_SUGGEST_H

/* Edit distance between a and b (99 when either is very long). */
int suggest_distance(const char *a, const char *b);
/* The candidate within a small edit distance of name (1 for names of up to
 * 3 characters, else 2), the closest first; NULL if none or name itself. */
const char *suggest_among(const char *name, const char *const *cands, int n);

#endif
