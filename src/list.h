/* list.h: the analyst's listing of a policy (pcrc list, pcr_policy_list).
 *
 * pcr_policy_list() (include/pcr/pcr.h) prints, for one service date, every
 * rule in effect, grouped by the document sections the rules cite, with its
 * outcome, reviewer, deadline, codes, conditions and exceptions in plain
 * words. It reads the root file's syntax tree (pcr_policy.decls) for the
 * rules as written and the compiled Prog for code sets and field types.
 *
 * The code formatter is exposed on its own because it undoes what the
 * compiler did to a code set: a canonical interval array (codes.h) is turned
 * back into the codes, ranges and ICD-10 prefixes an analyst writes. */
#ifndef PCR_LIST_H
#define PCR_LIST_H

#include <stddef.h>

#include "buf.h"
#include "codes.h"

enum {
    LIST_WIDTH = 100, /* lines are wrapped to this many columns */
};

/* Appends the codes of r[0..n) (a canonical interval array: sorted,
 * disjoint, non-adjacent) to out, one group per system in system order,
 * codes in character order:
 *   "CPT 70551-70553, 72141-72158; HCPCS S2083; ICD-10 C50.*, D05.1"
 * Single codes print as themselves, same-length intervals as "lo-hi", and
 * the intervals an ICD-10 prefix compiles to (one per code length) as
 * "C50.*" or "C50.9*"; ICD-10 codes print with their dot. Appends nothing
 * for n == 0. Any interval, even one no source could produce, is printed
 * without crashing ("*" marks padding a prefix left). */
void list_codes(const CodeRange *r, size_t n, Buf *out);

#endif
