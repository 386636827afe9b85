/* codetext.h: a code set in the analyst's notation (pcrc list, lint, diff).
 *
 * Undoes what the compiler did to a code set: a canonical interval array
 * (codes.h) is turned back into the codes, ranges and ICD-10 prefixes an
 * analyst writes. */
#ifndef PCR_CODETEXT_H
#define PCR_CODETEXT_H

#include <stddef.h>

#include "buf.h"
#include "codes.h"

/* Appends the codes of r[0..n) (a canonical interval array: sorted,
 * disjoint, non-adjacent) to out, one group per system in system order,
 * codes in character order:
 *   "CPT 70551-70553, 72141-72158; HCPCS S2083; ICD-10 C50.*, D05.1"
 * Single codes print as themselves, the codes of one look (letters fixed,
 * digits free) as "lo-hi", those of more than 26 looks in the source's
 * range notation "lo..hi", and the intervals an ICD-10 prefix compiles to
 * (one per code length) as "C50.*" or "C50.9*", up to 10,000 prefixes a
 * system; ICD-10 codes print with their dot. For intervals of one length
 * and shape (all that codes.c builds), the text holds exactly their codes
 * that the system can have. Appends nothing for n == 0. Any
 * interval, even one no source could produce, is printed without crashing
 * ("*" marks padding a prefix left). */
void codetext_put(const CodeRange *r, size_t n, Buf *out);

#endif
