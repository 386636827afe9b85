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

CodeSystem code_system_from_name(const char *s, size_t n)
{
    for (int i = 1; i < SYS_COUNT; i++)
        if (strlen(system_names[i]) == n && memcmp(system_names[i], s, n) == 0) return (CodeSystem)i;
    return SYS_NONE;
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
        if (k != 5 || !is_upper(out[0]) || !all_digits(out + 1, 4))
            msg = "a HCPCS Level II code is a letter and 4 digits";
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

CodeKey code_key(CodeSystem sys, const char *norm, size_t n)
{
    CodeKey k = ((CodeKey)sys << 60) | ((CodeKey)n << 56);
    for (size_t i = 0; i < n && i < CODE_MAX_CHARS; i++)
        k |= (CodeKey)(unsigned char)norm[i] << (48 - 8 * i);
    return k;
}

CodeSystem code_key_system(CodeKey k) { return (CodeSystem)(k >> 60); }

size_t code_key_format(CodeKey k, char *buf)
{
    size_t n = (size_t)((k >> 56) & 0xF);
    if (n > CODE_MAX_CHARS) n = CODE_MAX_CHARS;
    for (size_t i = 0; i < n; i++) buf[i] = (char)((k >> (48 - 8 * i)) & 0xFF);
    buf[n] = '\0';
    return n;
}

CodeSystem code_infer_system(const char *s, size_t n, unsigned allowed)
{
    char norm[CODE_MAX_CHARS + 1];
    size_t k;
    static const CodeSystem order[] = {SYS_CPT, SYS_HCPCS, SYS_REV, SYS_POS, SYS_ICD10};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        CodeSystem sys = order[i];
        if (!(allowed & SYS_BIT(sys))) continue;
        if (sys == SYS_REV && n == 3) continue; /* inference wants the full 4 digits */
        if (code_normalize(sys, s, n, norm, &k, NULL)) return sys;
    }
    return SYS_NONE;
}

CodeKey code_prefix_lo(CodeSystem sys, const char *norm, size_t n, size_t len)
{
    return (code_key(sys, norm, n) & ~((CodeKey)0xF << 56)) | ((CodeKey)len << 56);
}

CodeKey code_prefix_hi(CodeSystem sys, const char *norm, size_t n, size_t len)
{
    CodeKey k = code_prefix_lo(sys, norm, n, len);
    for (size_t i = n; i < len; i++) k |= (CodeKey)0xFF << (48 - 8 * i);
    return k;
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

/* Code characters are digits and upper-case letters; in key order '0'-'9'
 * come before 'A'-'Z'. key_succ and key_pred step to the next and previous
 * code of the same system and length in that alphabet, so that adjacent
 * codes (70551, 70552) merge into one range and a difference ends on real
 * codes (70551..70553, not a key between two codes). Bytes outside the
 * alphabet (the 0x00/0xFF padding of prefix intervals) step to the nearest
 * code. *ok is false when there is no such code (all 'Z' / all '0'). */
static CodeKey key_succ(CodeKey k, bool *ok)
{
    size_t n = (size_t)((k >> 56) & 0xF);
    for (size_t i = n; i-- > 0;) {
        unsigned shift = (unsigned)(48 - 8 * i);
        unsigned c = (unsigned)(k >> shift) & 0xFF;
        unsigned next = c < '0' ? '0' : c < '9' ? c + 1 : c < 'A' ? 'A' : c < 'Z' ? c + 1 : 0;
        k &= ~((CodeKey)0xFF << shift);
        if (next) {
            *ok = true;
            return k | (CodeKey)next << shift;
        }
        k |= (CodeKey)'0' << shift; /* carry into the character before */
    }
    *ok = false;
    return k;
}

static CodeKey key_pred(CodeKey k, bool *ok)
{
    size_t n = (size_t)((k >> 56) & 0xF);
    for (size_t i = n; i-- > 0;) {
        unsigned shift = (unsigned)(48 - 8 * i);
        unsigned c = (unsigned)(k >> shift) & 0xFF;
        unsigned prev = c > 'Z' ? 'Z' : c > 'A' ? c - 1 : c > '9' ? '9' : c > '0' ? c - 1 : 0;
        k &= ~((CodeKey)0xFF << shift);
        if (prev) {
            *ok = true;
            return k | (CodeKey)prev << shift;
        }
        k |= (CodeKey)'Z' << shift; /* borrow from the character before */
    }
    *ok = false;
    return k;
}

static int cmp_range(const void *a, const void *b)
{
    const CodeRange *x = a, *y = b;
    if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
    if (x->hi != y->hi) return x->hi < y->hi ? -1 : 1;
    return 0;
}

void code_set_normalize(CodeSet *s)
{
    if (s->n == 0) return;
    qsort(s->r, s->n, sizeof *s->r, cmp_range);
    size_t w = 0;
    for (size_t i = 1; i < s->n; i++) {
        CodeRange *last = &s->r[w];
        bool ok;
        CodeKey after = key_succ(last->hi, &ok);
        if (s->r[i].lo <= last->hi || (ok && s->r[i].lo == after)) {
            if (s->r[i].hi > last->hi) last->hi = s->r[i].hi;
        } else {
            s->r[++w] = s->r[i];
        }
    }
    s->n = w + 1;
}

void code_set_union(CodeSet *dst, const CodeSet *a, const CodeSet *b)
{
    code_set_free(dst);
    for (size_t i = 0; i < a->n; i++) code_set_add(dst, a->r[i].lo, a->r[i].hi);
    for (size_t i = 0; i < b->n; i++) code_set_add(dst, b->r[i].lo, b->r[i].hi);
    code_set_normalize(dst);
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
                CodeKey before = key_pred(b->r[m].lo, &ok);
                if (ok && before >= lo) code_set_add(dst, lo, before);
            }
            CodeKey after = key_succ(b->r[m].hi, &ok);
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
