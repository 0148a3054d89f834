/* suggest.h — "did you mean": the closest of some candidate names. */
#ifndef NNC_SUGGEST_H
#define NNC_SUGGEST_H

/* Edits between a and b: letters inserted, deleted or replaced, and two
 * neighbours swapped, each one (99 when either is very long). */
int suggest_distance(const char *a, const char *b);
/* The candidate within a small distance of name, the closest first (the
 * earliest of equals); NULL if none or name itself.  One edit is allowed
 * when name has at most 3 characters or both have at most 5, else two. */
const char *suggest_among(const char *name, const char *const *cands, int n);

#endif
