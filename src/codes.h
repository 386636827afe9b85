/* codes.h: billing codes as sortable 64-bit keys, and sets of them.
 *
 * A code key packs (system, length, characters) so that every inclusive
 * same-length range ("0213T..0218T") and every ICD-10 prefix ("C50.*", one
 * interval per possible length) is a contiguous interval of keys:
 *
 *   bits 63..60 system   bits 59..56 length   bits 55..0 up to 7 chars,
 *   big-endian, left-aligned, zero-padded.
 *
 * Characters are normalized first: ICD-10 dots removed, letters upper-cased.
 * Code sets are sorted arrays of disjoint, non-adjacent inclusive intervals. */
#ifndef PCR_CODES_H
#define PCR_CODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Code systems; the values are stored in bytecode, never renumber. */
typedef enum CodeSystem {
    SYS_NONE = 0,
    SYS_CPT = 1,
    SYS_HCPCS = 2,
    SYS_ICD10 = 3,
    SYS_REV = 4,
    SYS_POS = 5,
    SYS_COUNT
} CodeSystem;

#define SYS_BIT(s) (1u << (s))

enum { CODE_MAX_CHARS = 7 };

typedef uint64_t CodeKey;

/* "CPT", "HCPCS", "ICD10", "REV", "POS"; NULL for SYS_NONE/out of range. */
const char *code_system_name(CodeSystem sys);
/* Inverse of code_system_name (exact, case-sensitive); SYS_NONE if unknown. */
CodeSystem code_system_from_name(const char *s, size_t n);

/* Normalizes s (drops ICD-10 dots, upper-cases) into out (CODE_MAX_CHARS+1
 * bytes). Returns false and sets *why to a static phrase such as
 * "expected 5 characters: 5 digits, or 4 digits and F, T or U" when s is not a
 * well-formed code of the system. REV accepts 3 digits and left-pads to 4. */
bool code_normalize(CodeSystem sys, const char *s, size_t n, char *out, size_t *outn,
                    const char **why);
/* Packs an already normalized code. */
CodeKey code_key(CodeSystem sys, const char *norm, size_t n);
/* The system whose shape s has among the systems in allowed (a SYS_BIT mask),
 * SYS_NONE if none. Used when a record omits code_system. */
CodeSystem code_infer_system(const char *s, size_t n, unsigned allowed);
/* Writes the code's characters (normalized, no dot) plus NUL; returns length. */
size_t code_key_format(CodeKey k, char *buf /* >= 8 bytes */);
CodeSystem code_key_system(CodeKey k);

/* Bounds of the keys an ICD-10 style prefix covers at one length. */
CodeKey code_prefix_lo(CodeSystem sys, const char *norm, size_t n, size_t len);
CodeKey code_prefix_hi(CodeSystem sys, const char *norm, size_t n, size_t len);

/* An inclusive interval of keys. */
typedef struct CodeRange {
    CodeKey lo, hi;
} CodeRange;

/* A growable interval list. code_set_normalize() sorts and merges it into
 * the canonical form (sorted, disjoint, non-adjacent). Owns r (xmalloc). */
typedef struct CodeSet {
    CodeRange *r;
    size_t n, cap;
} CodeSet;

void code_set_add(CodeSet *s, CodeKey lo, CodeKey hi);
void code_set_normalize(CodeSet *s);
/* dst = a ∪ b, dst = a − b; a and b must be normalized; dst is overwritten
 * (its old contents freed) and may not alias a or b. */
void code_set_union(CodeSet *dst, const CodeSet *a, const CodeSet *b);
void code_set_diff(CodeSet *dst, const CodeSet *a, const CodeSet *b);
void code_set_free(CodeSet *s);
/* Membership in a canonical interval array (binary search). */
bool code_ranges_contain(const CodeRange *r, size_t n, CodeKey k);

#endif
