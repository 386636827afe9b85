/* near.h: edit distance between names, for "did you mean" hints in the
 * compiler's diagnostics and in the record decoder's messages. */
#ifndef PCR_NEAR_H
#define PCR_NEAR_H

#include <stdbool.h>
#include <stddef.h>

enum { NEAR_MAX_LEN = 64 };

/* The Levenshtein distance between a[0..na) and b[0..nb), comparing bytes
 * (ASCII letters folded to lower case when fold is true); SIZE_MAX when
 * either is longer than NEAR_MAX_LEN. Allocates nothing. */
size_t near_distance(const char *a, size_t na, const char *b, size_t nb, bool fold);

/* The index of the candidate (NUL-terminated) closest to name[0..n) with
 * at most 2 edits (1 for names of 3 characters or fewer), the first on a
 * tie; -1 when none is that close. */
long near_best(const char *name, size_t n, const char *const *candidates, size_t count);

#endif
