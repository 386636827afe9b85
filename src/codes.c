/* codes.c: code shapes, key packing and interval-set algebra. */
#include "codes.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"

static const char *const system_names[SYS_COUNT] = {NULL, "CPT", "HCPCS", "ICD10", "REV", "POS"};

const char *code_system_name(CodeSystem sys)
{
    return sys > SYS_NONE && sys < SYS_COUNT ? system_names[sys] : NULL;
}

/* Every name has 3 or 5 letters: one compare of 3 or 5 bytes per name of
 * that length (records name a code's system once per code). */
CodeSystem code_system_from_name(const char *s, size_t n)
{
    if (n == 3) {
        if (memcmp(s, "CPT", 3) == 0) return SYS_CPT;
        if (memcmp(s, "REV", 3) == 0) return SYS_REV;
        if (memcmp(s, "POS", 3) == 0) return SYS_POS;
    } else if (n == 5) {
        if (memcmp(s, "HCPCS", 5) == 0) return SYS_HCPCS;
        if (memcmp(s, "ICD10", 5) == 0) return SYS_ICD10;
    }
    return SYS_NONE;
}

/* How a message names each system, and the valid forms in a few words. */
static const char *const system_titles[SYS_COUNT] = {NULL, "CPT", "HCPCS", "ICD-10-CM", "revenue",
                                                     "place-of-service"};
static const char *const system_forms[SYS_COUNT] = {
    NULL,
    "5 characters: 5 digits, or 4 digits and F, T or U",
    "a letter A-V and 4 digits",
    "a letter, a digit, a letter or digit, then up to 4 more (dot optional after the third)",
    "4 digits in 0001, 0022-0024, 0100-0999, 1000-1005, 2100-2109 or 3100-3109",
    "2 digits",
};

const char *code_system_title(CodeSystem sys)
{
    return sys > SYS_NONE && sys < SYS_COUNT ? system_titles[sys] : NULL;
}

const char *code_system_forms(CodeSystem sys)
{
    return sys > SYS_NONE && sys < SYS_COUNT ? system_forms[sys] : NULL;
}

/* The revenue codes NUBC assigns (UB-04 form locator 42), as ranges of
 * their 4-digit value: 0001 total charges; 0022-0024 the SNF, home health
 * and IRF PPS (HIPPS) lines; 0100-0999 accommodations and ancillary
 * services; 1000-1005 behavioral health accommodations; 2100-2109
 * alternative therapy services; 3100-3109 adult care. Sources in
 * docs/cli.md ("Codes"). */
static const struct {
    int lo, hi;
} rev_ranges[] = {{1, 1}, {22, 24}, {100, 999}, {1000, 1005}, {2100, 2109}, {3100, 3109}};

static bool rev_assigned(const char *d /* 4 digits */)
{
    int v = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
    for (size_t i = 0; i < sizeof rev_ranges / sizeof rev_ranges[0]; i++)
        if (v >= rev_ranges[i].lo && v <= rev_ranges[i].hi) return true;
    return false;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static char upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }
static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i])) return false;
    return true;
}

void code_system_lengths(CodeSystem sys, size_t *min, size_t *max)
{
    switch (sys) {
    case SYS_ICD10: *min = 3, *max = CODE_MAX_CHARS; break;
    case SYS_REV: *min = *max = 4; break;
    case SYS_POS: *min = *max = 2; break;
    default: *min = *max = 5; break; /* CPT, HCPCS */
    }
}

bool code_normalize(CodeSystem sys, const char *s, size_t n, char *out, size_t *outn,
                    const char **why)
{
    size_t k = 0;
    const char *msg = NULL;
    switch (sys) {
    case SYS_CPT:
        for (size_t i = 0; i < n && k <= 5; i++) out[k++] = upper(s[i]);
        if (k != 5 || !all_digits(out, 4) ||
            !(is_digit(out[4]) || out[4] == 'F' || out[4] == 'T' || out[4] == 'U'))
            msg = "a CPT code is 5 characters: 5 digits, or 4 digits and F, T or U";
        break;
    case SYS_HCPCS:
        for (size_t i = 0; i < n && k <= 5; i++) out[k++] = upper(s[i]);
        if (k != 5 || !is_upper(out[0]) || out[0] > 'V' || !all_digits(out + 1, 4))
            msg = "a HCPCS Level II code is a letter A-V and 4 digits";
        break;
    case SYS_REV:
        if (n == 3 && all_digits(s, 3)) {
            out[k++] = '0';
            memcpy(out + 1, s, 3);
            k = 4;
        } else if (n == 4 && all_digits(s, 4)) {
            memcpy(out, s, 4);
            k = 4;
        } else {
            msg = "a revenue code is 4 digits";
        }
        if (!msg && !rev_assigned(out))
            msg = "a revenue code is 4 digits in a range NUBC assigns: 0001, 0022-0024, 0100-0999, "
                  "1000-1005, 2100-2109 or 3100-3109";
        break;
    case SYS_POS:
        if (n == 2 && all_digits(s, 2)) {
            memcpy(out, s, 2);
            k = 2;
        } else {
            msg = "a place-of-service code is 2 digits";
        }
        break;
    case SYS_ICD10: {
        /* Letter, digit, alphanumeric, then an optional dot and up to 4 more
         * alphanumerics. The dot, when written, must follow the third char. */
        bool bad = false;
        for (size_t i = 0; i < n && !bad; i++) {
            char c = upper(s[i]);
            if (c == '.') {
                if (i != 3) bad = true;
                continue;
            }
            if (!(is_digit(c) || is_upper(c)) || k == CODE_MAX_CHARS) bad = true;
            else out[k++] = c;
        }
        if (bad || k < 3 || !is_upper(out[0]) || !is_digit(out[1]) || (n > 3 && s[n - 1] == '.'))
            msg = "an ICD-10-CM code is a letter, a digit, a letter or digit, then up to 4 more "
                  "(dot optional after the third)";
        break;
    }
    default:
        msg = "unknown code system";
    }
    if (msg) {
        if (why) *why = msg;
        return false;
    }
    out[k] = '\0';
    *outn = k;
    return true;
}

/* The key layout (codes.h): the system, length and shape fields sit above
 * the characters, so keys order by class first and by text within one. */
enum {
    SYS_SHIFT = 60,
    LEN_SHIFT = 56,
    SHAPE_SHIFT = 49,   /* position i's kind is bit SHAPE_SHIFT + 6 - i (1: letter) */
    CHAR_BITS = 6,      /* position i's value is bits CHAR_SHIFT0 + 5 - 6i .. CHAR_SHIFT0 - 6i */
    CHAR_SHIFT0 = 36,
    LETTER_BASE = 10,   /* 'A' packs as 10, 'Z' as 35 */
    CHAR_MAX_VALUE = 35,
};

static unsigned key_len(CodeKey k)
{
    unsigned n = (unsigned)(k >> LEN_SHIFT) & 0xF;
    return n > CODE_MAX_CHARS ? CODE_MAX_CHARS : n;
}

static unsigned char_shift(size_t i) { return (unsigned)(CHAR_SHIFT0 - CHAR_BITS * i); }
static unsigned shape_shift(size_t i) { return (unsigned)(SHAPE_SHIFT + CODE_MAX_CHARS - 1 - i); }
static bool is_letter_at(CodeKey k, size_t i) { return (k >> shape_shift(i)) & 1; }
static unsigned value_at(CodeKey k, size_t i) { return (unsigned)(k >> char_shift(i)) & 0x3F; }

static CodeKey with_value(CodeKey k, size_t i, unsigned v)
{
    return (k & ~((CodeKey)0x3F << char_shift(i))) | (CodeKey)v << char_shift(i);
}

/* The values a character of position i may take in k's shape. */
static unsigned lowest(CodeKey k, size_t i) { return is_letter_at(k, i) ? LETTER_BASE : 0; }
static unsigned highest(CodeKey k, size_t i) { return is_letter_at(k, i) ? CHAR_MAX_VALUE : 9; }

CodeKey code_key(CodeSystem sys, const char *norm, size_t n)
{
    if (n > CODE_MAX_CHARS) n = CODE_MAX_CHARS;
    CodeKey k = ((CodeKey)sys << SYS_SHIFT) | ((CodeKey)n << LEN_SHIFT);
    for (size_t i = 0; i < n; i++) {
        char c = upper(norm[i]);
        if (is_upper(c)) {
            k |= (CodeKey)1 << shape_shift(i);
            k |= (CodeKey)(c - 'A' + LETTER_BASE) << char_shift(i);
        } else if (is_digit(c)) {
            k |= (CodeKey)(c - '0') << char_shift(i);
        }
    }
    return k;
}

/* The key value of each byte: 0-9 for a digit, A = 10 to Z = 35 for a
 * letter of either case, else 0xFF (test_scan tries every byte at every
 * position of codes of each shape). */
static const uint8_t char_values[256] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
    25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
    25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
};

/* The key value of a digit or letter of either case (0-9, then A = 10 to
 * Z = 35), else 0xFF: one load, for parse_fast's loop. */
static inline unsigned char_value(uint8_t c) { return char_values[c]; }

/* code_parse's single pass over the common forms: CPT and HCPCS codes of
 * 5 characters, ICD-10-CM codes with or without their dot, any case. It
 * packs the key as code_key packs the normalized text, and returns false
 * (without a reason) for anything else. For those three systems that
 * is exact (test_scan checks it): a code it refuses is invalid, and the
 * two-step path only finds the reason; for the others it decides. */
static inline __attribute__((always_inline)) bool parse_fast(CodeSystem sys, const char *s, size_t n,
                                                         CodeKey *out)
{
    CodeKey chars = 0, shape = 0; /* position 0 first: shifted into place at the end */
    size_t k = 0;
    if (sys == SYS_CPT || sys == SYS_HCPCS) {
        if (n != 5) return false;
        /* CPT: 4 digits, then a digit or F, T, U; HCPCS: A-V, then 4 digits */
        unsigned first = char_value((uint8_t)s[0]), last = char_value((uint8_t)s[4]);
        unsigned d1 = (uint8_t)s[1] - (unsigned)'0', d2 = (uint8_t)s[2] - (unsigned)'0',
                 d3 = (uint8_t)s[3] - (unsigned)'0';
        if (d1 > 9 || d2 > 9 || d3 > 9) return false;
        if (sys == SYS_CPT) {
            if (first > 9) return false;
            if (last > 9 && last != 'F' - 'A' + LETTER_BASE && last != 'T' - 'A' + LETTER_BASE &&
                last != 'U' - 'A' + LETTER_BASE)
                return false;
            shape = last > 9;
        } else {
            if (first < LETTER_BASE || first > 'V' - 'A' + LETTER_BASE || last > 9) return false;
            shape = 1u << 4;
        }
        chars = ((((CodeKey)first << CHAR_BITS | d1) << CHAR_BITS | d2) << CHAR_BITS | d3)
                    << CHAR_BITS | last;
        k = 5;
    } else if (sys == SYS_ICD10) {
        /* a letter, a digit, a letter or digit, then up to 4 more after an
         * optional dot: at most 8 bytes */
        if (n < 3 || n > CODE_MAX_CHARS + 1) return false;
        unsigned v0 = char_value((uint8_t)s[0]), v1 = char_value((uint8_t)s[1]),
                 v2 = char_value((uint8_t)s[2]);
        if (v0 < LETTER_BASE || v0 == 0xFF || v1 > 9 || v2 == 0xFF) return false;
        chars = (CodeKey)v0 << 2 * CHAR_BITS | v1 << CHAR_BITS | v2;
        shape = 4u | (v2 >= LETTER_BASE);
        bool dot = n > 4 && s[3] == '.';
        if (!dot && n > CODE_MAX_CHARS) return false;
        k = n - dot;
        for (size_t i = 3 + dot; i < n; i++) {
            unsigned v = char_value((uint8_t)s[i]);
            if (v == 0xFF) return false;
            chars = chars << CHAR_BITS | v;
            shape = shape << 1 | (v >= LETTER_BASE);
        }
    } else {
        return false;
    }
    size_t rest = CODE_MAX_CHARS - k;
    *out = ((CodeKey)sys << SYS_SHIFT) | ((CodeKey)k << LEN_SHIFT) |
           shape << (SHAPE_SHIFT + rest) | chars << (CHAR_BITS * rest);
    return true;
}

/* code_parse after parse_fast refused s: the two-step path, apart so that
 * the common case sets up no buffer. */
static bool __attribute__((noinline)) parse_slow(CodeSystem sys, const char *s, size_t n,
                                                 CodeKey *key, const char **why)
{
    char norm[CODE_MAX_CHARS + 1];
    size_t k;
    /* parse_fast accepts every valid CPT, HCPCS and ICD-10-CM code, so for
     * those only the reason is left to find */
    if (!why && (sys == SYS_CPT || sys == SYS_HCPCS || sys == SYS_ICD10)) return false;
    if (!code_normalize(sys, s, n, norm, &k, why)) return false;
    *key = code_key(sys, norm, k);
    return true;
}

bool code_parse(CodeSystem sys, const char *s, size_t n, CodeKey *key, const char **why)
{
    return parse_fast(sys, s, n, key) || parse_slow(sys, s, n, key, why);
}

CodeSystem code_key_system(CodeKey k) { return (CodeSystem)(k >> SYS_SHIFT); }

size_t code_key_format(CodeKey k, char *buf)
{
    size_t n = key_len(k);
    for (size_t i = 0; i < n; i++) {
        unsigned v = value_at(k, i);
        if (v < lowest(k, i) || v > highest(k, i)) buf[i] = '?';
        else buf[i] = (char)(v < LETTER_BASE ? '0' + v : 'A' + (v - LETTER_BASE));
    }
    buf[n] = '\0';
    return n;
}

/* Codes are counted in their shape's alphabet, last position fastest.
 * Adding one sets the last position of c[0..end) that is below its highest
 * value one higher and the positions after it to their lowest; false when
 * every position is at its highest. Subtracting one is the mirror image. */
static bool count_up(CodeKey *k, size_t end)
{
    for (size_t i = end; i-- > 0;) {
        unsigned v = value_at(*k, i);
        if (v < highest(*k, i)) {
            *k = with_value(*k, i, v + 1);
            return true;
        }
        *k = with_value(*k, i, lowest(*k, i)); /* carry into the position before */
    }
    return false;
}

static bool count_down(CodeKey *k, size_t end)
{
    for (size_t i = end; i-- > 0;) {
        unsigned v = value_at(*k, i);
        if (v > lowest(*k, i)) {
            *k = with_value(*k, i, v - 1);
            return true;
        }
        *k = with_value(*k, i, highest(*k, i)); /* borrow from the position before */
    }
    return false;
}

/* The first position whose value is not of its kind; the length if none. */
static size_t first_stray(CodeKey k, size_t n)
{
    size_t i = 0;
    while (i < n && value_at(k, i) >= lowest(k, i) && value_at(k, i) <= highest(k, i)) i++;
    return i;
}

/* The character bits after the last position: zero in a code, not in a
 * key between codes such as a code + 1. */
static CodeKey tail_mask(size_t n)
{
    return n >= CODE_MAX_CHARS ? 0 : ((CodeKey)1 << (CHAR_SHIFT0 + CHAR_BITS - CHAR_BITS * n)) - 1;
}

/* A key between codes either has a first stray position j or, after its
 * last position, bits that are not zero. In the first case the code after
 * it has the same characters before j and, if j's value is below its kind,
 * the lowest value there, else the next prefix c[0..j); the lowest values
 * follow. In the second case the code before it is its own characters. */
CodeKey code_key_next(CodeKey k, bool *ok)
{
    size_t n = key_len(k), j = first_stray(k, n);
    k &= ~tail_mask(n);
    if (j == n) {
        *ok = count_up(&k, n);
        return k;
    }
    bool below = value_at(k, j) < lowest(k, j);
    for (size_t i = j; i < n; i++) k = with_value(k, i, lowest(k, i));
    *ok = below || count_up(&k, j);
    return k;
}

CodeKey code_key_prev(CodeKey k, bool *ok)
{
    size_t n = key_len(k), j = first_stray(k, n);
    CodeKey tail = k & tail_mask(n);
    k &= ~tail_mask(n);
    if (j == n) {
        *ok = tail != 0 || count_down(&k, n);
        return k;
    }
    bool above = value_at(k, j) > highest(k, j);
    for (size_t i = j; i < n; i++) k = with_value(k, i, highest(k, i));
    *ok = above || count_down(&k, j);
    return k;
}

/* code_infer_parse past its usual codes: every system of allowed in
 * inference order. Apart (and not inlined) so that the usual codes take
 * a path that saves no registers. */
static CodeSystem __attribute__((noinline)) infer_parse_rest(const char *s, size_t n,
                                                             unsigned allowed, CodeKey *key)
{
    static const CodeSystem order[] = {SYS_CPT, SYS_HCPCS, SYS_REV, SYS_POS, SYS_ICD10};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        CodeSystem sys = order[i];
        if (!(allowed & SYS_BIT(sys))) continue;
        if (sys == SYS_REV && n == 3) continue; /* inference wants the full 4 digits */
        /* for CPT, HCPCS and ICD-10-CM parse_fast decides (see code_parse) */
        bool exact = sys == SYS_CPT || sys == SYS_HCPCS || sys == SYS_ICD10;
        if (exact ? parse_fast(sys, s, n, key) : code_parse(sys, s, n, key, NULL)) return sys;
    }
    return SYS_NONE;
}

CodeSystem code_infer_parse(const char *s, size_t n, unsigned allowed, CodeKey *key)
{
    /* The usual codes first, by their first byte: a CPT code starts with
     * a digit, and a HCPCS code with a letter, which no CPT code has, so
     * either one is what infer_parse_rest would find first. */
    if (n == 5) {
        unsigned first = char_value((uint8_t)s[0]);
        if (first <= 9) {
            if ((allowed & SYS_BIT(SYS_CPT)) && parse_fast(SYS_CPT, s, n, key)) return SYS_CPT;
        } else if (first != 0xFF && (allowed & SYS_BIT(SYS_HCPCS)) &&
                   parse_fast(SYS_HCPCS, s, n, key)) {
            return SYS_HCPCS;
        }
    }
    return infer_parse_rest(s, n, allowed, key);
}

CodeSystem code_infer_system(const char *s, size_t n, unsigned allowed)
{
    CodeKey key;
    return code_infer_parse(s, n, allowed, &key);
}

void code_set_add(CodeSet *s, CodeKey lo, CodeKey hi)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->r = xrealloc(s->r, s->cap * sizeof *s->r);
    }
    s->r[s->n].lo = lo;
    s->r[s->n].hi = hi;
    s->n++;
}

/* count_up over c[0..end) that leaves the positions marked in `fixed`
 * (bit i: position i) as they are. */
static bool count_up_free(CodeKey *k, size_t end, unsigned fixed)
{
    for (size_t i = end; i-- > 0;) {
        if (fixed >> i & 1) continue;
        unsigned v = value_at(*k, i);
        if (v < highest(*k, i)) {
            *k = with_value(*k, i, v + 1);
            return true;
        }
        *k = with_value(*k, i, lowest(*k, i));
    }
    return false;
}

bool code_set_add_range(CodeSet *s, CodeKey lo, CodeKey hi, size_t max)
{
    size_t n = key_len(lo), same = 0;
    while (same < n && value_at(lo, same) == value_at(hi, same)) same++;
    unsigned fixed = 0;
    size_t last = n; /* the last fixed letter after the common prefix */
    for (size_t i = same; i < n; i++)
        if (is_letter_at(lo, i) && value_at(lo, i) == value_at(hi, i)) fixed |= 1u << i, last = i;
    if (last == n) {
        if (max == 0) return false;
        code_set_add(s, lo, hi);
        return true;
    }
    /* One interval per value of the positions up to `last`: the positions
     * after it are free, the fixed ones keep their letter. */
    CodeKey at = lo;
    for (size_t added = 0;; added++) {
        CodeKey a = at, b = at;
        for (size_t i = last + 1; i < n; i++) {
            a = with_value(a, i, lowest(a, i));
            b = with_value(b, i, highest(b, i));
        }
        if (a < lo) a = lo;
        if (b > hi) b = hi;
        if (a > hi) return true;
        if (added == max) return false;
        code_set_add(s, a, b);
        if (!count_up_free(&at, last + 1, fixed)) return true;
    }
}

void code_set_add_prefix(CodeSet *s, CodeSystem sys, const char *norm, size_t n)
{
    if (n > CODE_MAX_CHARS) n = CODE_MAX_CHARS;
    for (size_t len = n; len <= CODE_MAX_CHARS; len++) {
        size_t free_n = len - n;
        /* bit len - 1 - i of the mask is position i's kind (1: letter),
         * so counting up walks the shapes in key order */
        for (unsigned mask = 0; mask < 1u << free_n; mask++) {
            char lo[CODE_MAX_CHARS], hi[CODE_MAX_CHARS];
            memcpy(lo, norm, n);
            memcpy(hi, norm, n);
            for (size_t i = n; i < len; i++) {
                bool letter = (mask >> (len - 1 - i)) & 1;
                lo[i] = letter ? 'A' : '0';
                hi[i] = letter ? 'Z' : '9';
            }
            code_set_add(s, code_key(sys, lo, len), code_key(sys, hi, len));
        }
    }
}

static int cmp_range(const void *a, const void *b)
{
    const CodeRange *x = a, *y = b;
    if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
    if (x->hi != y->hi) return x->hi < y->hi ? -1 : 1;
    return 0;
}

/* Merges the overlapping and adjacent intervals of a sorted list. */
static void coalesce(CodeSet *s)
{
    if (s->n == 0) return;
    size_t w = 0;
    for (size_t i = 1; i < s->n; i++) {
        CodeRange *last = &s->r[w];
        bool ok;
        CodeKey after = code_key_next(last->hi, &ok);
        if (s->r[i].lo <= last->hi || (ok && s->r[i].lo == after)) {
            if (s->r[i].hi > last->hi) last->hi = s->r[i].hi;
        } else {
            s->r[++w] = s->r[i];
        }
    }
    s->n = w + 1;
}

void code_set_normalize(CodeSet *s)
{
    if (s->n == 0) return;
    qsort(s->r, s->n, sizeof *s->r, cmp_range);
    coalesce(s);
}

/* Both inputs are sorted: a merge, then one coalescing pass; linear. */
void code_set_union(CodeSet *dst, const CodeSet *a, const CodeSet *b)
{
    code_set_free(dst);
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        const CodeRange *r = j == b->n || (i < a->n && cmp_range(&a->r[i], &b->r[j]) <= 0)
                                 ? &a->r[i++]
                                 : &b->r[j++];
        code_set_add(dst, r->lo, r->hi);
    }
    coalesce(dst);
}

void code_set_diff(CodeSet *dst, const CodeSet *a, const CodeSet *b)
{
    code_set_free(dst);
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        CodeKey lo = a->r[i].lo, hi = a->r[i].hi;
        bool empty = false;
        while (j < b->n && b->r[j].hi < lo) j++;
        for (size_t m = j; m < b->n && b->r[m].lo <= hi; m++) {
            bool ok;
            if (b->r[m].lo > lo) {
                CodeKey before = code_key_prev(b->r[m].lo, &ok);
                if (ok && before >= lo) code_set_add(dst, lo, before);
            }
            CodeKey after = code_key_next(b->r[m].hi, &ok);
            if (b->r[m].hi >= hi || !ok || after > hi) {
                empty = true;
                break;
            }
            lo = after;
        }
        if (!empty) code_set_add(dst, lo, hi);
    }
}

void code_set_free(CodeSet *s)
{
    free(s->r);
    s->r = NULL;
    s->n = s->cap = 0;
}

bool code_ranges_contain(const CodeRange *r, size_t n, CodeKey k)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].hi < k) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && r[lo].lo <= k;
}
