/* near.c: edit distance between names (near.h). */
#include "near.h"

#include <stdint.h>
#include <string.h>

static char fold_byte(char c, bool fold)
{
    return fold && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

size_t near_distance(const char *a, size_t na, const char *b, size_t nb, bool fold)
{
    if (na > NEAR_MAX_LEN || nb > NEAR_MAX_LEN) return SIZE_MAX;
    size_t prev[NEAR_MAX_LEN + 1], cur[NEAR_MAX_LEN + 1];
    for (size_t j = 0; j <= nb; j++) prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t sub = prev[j - 1] + (fold_byte(a[i - 1], fold) != fold_byte(b[j - 1], fold));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (nb + 1) * sizeof *prev);
    }
    return prev[nb];
}

long near_best(const char *name, size_t n, const char *const *candidates, size_t count)
{
    size_t limit = n <= 3 ? 1 : 2, best_d = limit + 1;
    long best = -1;
    for (size_t i = 0; i < count; i++) {
        size_t d = near_distance(name, n, candidates[i], strlen(candidates[i]), false);
        if (d < best_d) {
            best_d = d;
            best = (long)i;
        }
    }
    return best;
}
