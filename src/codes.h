/* codes.h: billing codes as sortable 64-bit keys, and sets of them.
 *
 * A code's SHAPE says which of its positions hold letters and which digits
 * (0213T: four digits and a letter). A key packs (system, length, shape,
 * characters) so that codes of one system, length and shape sort as their
 * text does, and each such class is one contiguous block of keys:
 *
 *   bits 63..60  system
 *   bits 59..56  length (0..7)
 *   bits 55..49  shape: one bit per position, position 0 in bit 55;
 *                1 = letter, 0 = digit or past the end
 *   bits 48..42  zero
 *   bits 41..0   7 characters of 6 bits, position 0 in bits 41..36:
 *                '0'-'9' -> 0-9, 'A'-'Z' -> 10-35, past the end 0
 *
 * So the codes of one length and shape between two ends are one interval
 * (3044F is not in 30400..30462; a range whose ends share a letter that
 * the codes between them would not, as the T of 0213T..0218T, is one
 * interval per code: code_set_add_range), and an ICD-10 prefix
 * ("C50.*") is one interval per length and shape of the free positions
 * (code_set_add_prefix). Keys between codes (a character value that is not
 * of its position's kind, such as 10 where the shape says digit, or bits
 * set after the last character, as in the key of 70559 plus one) are no
 * code's; they appear only as index boundaries (emit.c uses key + 1).
 *
 * Characters are normalized first: ICD-10 dots removed, letters upper-cased.
 * Code sets are sorted arrays of disjoint, non-adjacent inclusive intervals
 * whose ends are codes (given codes, or the successors and predecessors of
 * codes within their shape). */
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
/* How messages name a system ("CPT", "HCPCS", "ICD-10-CM", "revenue",
 * "place-of-service") and its valid forms in a few words ("a letter A-V and
 * 4 digits"); static strings, NULL for SYS_NONE/out of range. */
const char *code_system_title(CodeSystem sys);
const char *code_system_forms(CodeSystem sys);
/* Inverse of code_system_name (exact, case-sensitive); SYS_NONE if unknown. */
CodeSystem code_system_from_name(const char *s, size_t n);

/* Normalizes s (drops ICD-10 dots, upper-cases) into out (CODE_MAX_CHARS+1
 * bytes). Returns false and sets *why to a static phrase such as
 * "expected 5 characters: 5 digits, or 4 digits and F, T or U" when s is not a
 * valid code of the system: CPT 5 digits or 4 digits and F, T or U; HCPCS
 * Level II a letter A-V and 4 digits; ICD-10-CM a letter, a digit, a letter
 * or digit and up to 4 more (dot optional after the third); REV 4 digits in
 * a range NUBC assigns (3 digits are left-padded to 4); POS 2 digits. */
bool code_normalize(CodeSystem sys, const char *s, size_t n, char *out, size_t *outn,
                    const char **why);
/* The fewest and most characters of sys's normalized codes (code_normalize):
 * CPT and HCPCS 5, REV 4, POS 2, ICD-10 3 to CODE_MAX_CHARS. */
void code_system_lengths(CodeSystem sys, size_t *min, size_t *max);
/* Packs an already normalized code (digits and letters; at most
 * CODE_MAX_CHARS are used). Any other byte packs as the digit 0. */
CodeKey code_key(CodeSystem sys, const char *norm, size_t n);
/* code_normalize then code_key in one call, with the same results: true
 * and *key for a valid code of sys, else false and *why (when why is not
 * NULL). The common forms (CPT and HCPCS codes, ICD-10-CM codes with or
 * without the dot) take a single pass that packs as it checks. */
bool code_parse(CodeSystem sys, const char *s, size_t n, CodeKey *key, const char **why);
/* The system whose shape s has among the systems in allowed (a SYS_BIT mask),
 * SYS_NONE if none. Used when a record omits code_system. */
CodeSystem code_infer_system(const char *s, size_t n, unsigned allowed);
/* code_infer_system and code_parse of the system it finds, in one pass:
 * that system (its key in *key), or SYS_NONE. */
CodeSystem code_infer_parse(const char *s, size_t n, unsigned allowed, CodeKey *key);
/* Writes the code's characters (normalized, no dot) plus NUL; returns the
 * length (at most CODE_MAX_CHARS). A character whose value is not of its
 * position's kind (a key between codes, or damage) is written as '?'. */
size_t code_key_format(CodeKey k, char *buf /* >= 8 bytes */);
CodeSystem code_key_system(CodeKey k);
/* The first code after k and the last code before k of k's system, length
 * and shape, in text order (70559 -> 70560, 0163Z -> 0164A). k may be a key
 * between codes (70559 + 1: the next code is 70560, the previous 70559).
 * *ok is false (and the result meaningless) when there is none: 99999 has
 * no next code of its shape. Letters count A-Z in every position, so the
 * result need not be a well-formed code of the system (0500V). */
CodeKey code_key_next(CodeKey k, bool *ok);
CodeKey code_key_prev(CodeKey k, bool *ok);

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
/* Adds the range lo..hi, whose ends have one system, length and shape: the
 * codes of that shape between them whose letters, where both ends have the
 * same letter in a position, are that letter. 0163T..0165T is 0163T, 0164T
 * and 0165T (not 0164F, nor 0163U); A0021..A0999 holds only A codes;
 * A0021..B0010 holds every letter in between. That is one interval, or one
 * per value of the positions up to the last such letter. False, after
 * adding max intervals, when it would take more than max. */
bool code_set_add_range(CodeSet *s, CodeKey lo, CodeKey hi, size_t max);
/* Adds the intervals of every code of sys that starts with the normalized
 * prefix norm[0..n), n <= CODE_MAX_CHARS: for each length from n to 7 and
 * each shape of the positions after the prefix (each a digit or a letter),
 * the interval from the prefix followed by 0s and As to the prefix followed
 * by 9s and Zs. That is 2^(8-n) - 1 intervals (31 for "C50"), in key
 * order, before code_set_normalize() merges them with their neighbours. */
void code_set_add_prefix(CodeSet *s, CodeSystem sys, const char *norm, size_t n);
void code_set_normalize(CodeSet *s);
/* dst = a ∪ b, dst = a − b; a and b must be normalized; dst is overwritten
 * (its old contents freed) and may not alias a or b. */
void code_set_union(CodeSet *dst, const CodeSet *a, const CodeSet *b);
void code_set_diff(CodeSet *dst, const CodeSet *a, const CodeSet *b);
void code_set_free(CodeSet *s);
/* Membership in a canonical interval array (binary search). */
bool code_ranges_contain(const CodeRange *r, size_t n, CodeKey k);

#endif
