/* list.c: the analyst's listing of a policy (pcrc list; see list.h).
 *
 * The rules are read as written, from their syntax trees: their clauses,
 * conditions and the document sections they cite. A policy that extends a
 * base lists the merged rules (pcr_policy.merged), each inherited one with
 * the base it comes from, and then the rules it removed, with the reasons. The compiled
 * Prog supplies what the tree cannot say by itself: the codes of each set
 * after its set algebra (PSet, found by name) and the types of fields. The
 * whole listing is built in one Buf and written at the end. */
#include "list.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ast.h"
#include "dates.h"
#include "pcr/pcr.h"
#include "policy.h"
#include "prog.h"
#include "sema.h"

enum {
    HEAD_LABEL = 12,   /* header lines: "listed for: " */
    RULE_LABEL = 13,   /* rule lines: "  requires:  " */
    INLINE_CODES = 40, /* a set's codes up to this many columns print inside the condition */
};

/* ---- text --------------------------------------------------------------- */

/* Columns of a UTF-8 string: one per code point. */
static size_t cols(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

static void spaces(Buf *b, size_t n)
{
    while (n--) buf_putc(b, ' ');
}

/* Appends lead, then text wrapped at spaces to LIST_WIDTH columns; lines
 * after the first start with `indent` spaces. A word too long for a line
 * gets a line of its own. Ends with a newline. */
static void put_wrapped(Buf *out, const char *lead, size_t indent, const char *text)
{
    if (*lead) buf_puts(out, lead); /* buf_put wants a buffer even for 0 bytes */
    size_t col = cols(lead, strlen(lead));
    bool line_empty = true;
    const char *s = text;
    for (;;) {
        while (*s == ' ') s++;
        if (!*s) break;
        const char *e = s;
        while (*e && *e != ' ' && *e != '\n') e++;
        size_t w = cols(s, (size_t)(e - s));
        if (!line_empty && col + 1 + w > LIST_WIDTH) {
            buf_putc(out, '\n');
            spaces(out, indent);
            col = indent;
            line_empty = true;
        }
        if (!line_empty) {
            buf_putc(out, ' ');
            col++;
        }
        buf_put(out, s, (size_t)(e - s));
        col += w;
        line_empty = false;
        s = e;
        if (*s == '\n') { /* an explicit line break keeps the indent */
            s++;
            buf_putc(out, '\n');
            spaces(out, indent);
            col = indent;
            line_empty = true;
        }
    }
    buf_putc(out, '\n');
}

/* A label padded to width, then text wrapped under it. */
static void put_labeled(Buf *out, size_t margin, size_t width, const char *label, const char *text)
{
    Buf lead = {0};
    spaces(&lead, margin);
    buf_puts(&lead, label);
    size_t n = margin + cols(label, strlen(label));
    spaces(&lead, n < width ? width - n : 1);
    buf_putc(&lead, '\0');
    put_wrapped(out, lead.p, width, text);
    buf_free(&lead);
}

/* A heading and a line of `rule` characters as wide as it (at most LIST_WIDTH). */
static void put_heading(Buf *out, const char *text, char rule)
{
    put_wrapped(out, "", 0, text);
    size_t w = cols(text, strlen(text));
    for (size_t i = 0; i < w && i < LIST_WIDTH; i++) buf_putc(out, rule);
    buf_putc(out, '\n');
}

/* NUL-terminates b and returns its text (b keeps ownership). */
static const char *cstr(Buf *b)
{
    buf_reserve(b, 1);
    b->p[b->n] = '\0';
    return b->p;
}

static void put_date(Buf *b, int32_t day)
{
    char d[16];
    date_format(day, d);
    buf_puts(b, d);
}

/* "2022-01-01 onward", "2022-01-01 through 2022-12-31", "through 2022-12-31". */
static void put_window(Buf *b, int32_t from, int32_t through)
{
    if (from != DATE_OPEN_FROM) put_date(b, from);
    if (through != DATE_OPEN_THROUGH) {
        if (from != DATE_OPEN_FROM) buf_putc(b, ' ');
        buf_puts(b, "through ");
        put_date(b, through);
    } else if (from != DATE_OPEN_FROM) {
        buf_puts(b, " onward");
    } else {
        buf_puts(b, "always");
    }
}

/* "$1,000.00" from cents. */
static void put_money(Buf *b, int64_t cents)
{
    uint64_t v = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    if (cents < 0) buf_putc(b, '-');
    buf_putc(b, '$');
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)(v / 100));
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf_putc(b, ',');
        buf_putc(b, digits[i]);
    }
    buf_printf(b, ".%02u", (unsigned)(v % 100));
}

/* Cents of a decimal literal as written ("1000.5"), or false. */
static bool decimal_cents(const char *s, int64_t *out)
{
    int64_t whole = 0, frac = 0;
    int nfrac = 0;
    bool dot = false, any = false;
    for (; *s; s++) {
        if (*s == '.' && !dot) {
            dot = true;
        } else if (*s >= '0' && *s <= '9') {
            any = true;
            if (!dot) {
                if (whole > INT64_MAX / 1000) return false;
                whole = whole * 10 + (*s - '0');
            } else if (nfrac < 2) {
                frac = frac * 10 + (*s - '0');
                nfrac++;
            } else if (*s != '0') {
                return false; /* sub-cent: not money */
            }
        } else if (*s != ',') {
            return false;
        }
    }
    if (nfrac == 1) frac *= 10;
    *out = whole * 100 + frac;
    return any;
}

/* An enum member or identifier as words: "ambulatory_surgery" -> "ambulatory surgery". */
static void put_words(Buf *b, const char *s)
{
    for (; *s; s++) buf_putc(b, *s == '_' ? ' ' : *s);
}

/* ---- codes --------------------------------------------------------------- */

typedef struct CodeItem {
    char lo[CODE_MAX_CHARS + 1]; /* first code (or prefix); NUL-padded */
    char hi[CODE_MAX_CHARS + 1]; /* last code (or prefix) of a run; == lo for one */
    uint8_t nlo, nhi;
    bool prefix; /* lo..hi are ICD-10 prefixes: every code that starts with them */
    bool gone;   /* merged into an earlier item */
} CodeItem;

typedef struct Items {
    CodeItem *v;
    size_t n, cap;
} Items;

static CodeItem *item_new(Items *it)
{
    if (it->n == it->cap) {
        it->cap = it->cap ? it->cap * 2 : 16;
        it->v = xrealloc(it->v, it->cap * sizeof *it->v);
    }
    CodeItem *c = &it->v[it->n++];
    memset(c, 0, sizeof *c);
    return c;
}

static bool is_alnum(unsigned c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *system_label(CodeSystem sys)
{
    switch (sys) {
    case SYS_CPT: return "CPT";
    case SYS_HCPCS: return "HCPCS";
    case SYS_ICD10: return "ICD-10";
    case SYS_REV: return "REV";
    case SYS_POS: return "POS";
    default: return "codes";
    }
}

/* One code's characters; ICD-10 gets its dot after the third. A character
 * that is not a code's ('?' from code_key_format: damage) shows as '?'. */
static void put_code(Buf *b, CodeSystem sys, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i];
        if (sys == SYS_ICD10 && i == 3) buf_putc(b, '.');
        buf_putc(b, is_alnum(c) ? (char)c : '?');
    }
}

/* "C50.*", "C50.9*". */
static void put_prefix(Buf *b, const char *s, size_t n)
{
    buf_put(b, s, n < 3 ? n : 3);
    if (n >= 3) buf_putc(b, '.');
    if (n > 3) buf_put(b, s + 3, n - 3);
    buf_putc(b, '*');
}

static bool item_single(const CodeItem *c)
{
    return c->nlo == c->nhi && memcmp(c->lo, c->hi, c->nlo) == 0;
}

static void put_item(Buf *b, CodeSystem sys, const CodeItem *c)
{
    if (c->prefix) put_prefix(b, c->lo, c->nlo);
    else put_code(b, sys, c->lo, c->nlo);
    if (item_single(c)) return;
    buf_putc(b, '-');
    if (c->prefix) put_prefix(b, c->hi, c->nhi);
    else put_code(b, sys, c->hi, c->nhi);
}

/* The code after s in its run: the last group of digits counts up
 * ("0001U" -> "0002U", "C09" -> "C10", "J9041" -> "J9042"). False when
 * there are no digits or they would overflow ("99999"). */
static bool next_code(const char *s, size_t n, char *out)
{
    memcpy(out, s, n);
    size_t end = n;
    while (end > 0 && !is_digit(out[end - 1])) end--;
    for (size_t i = end; i > 0 && is_digit(out[i - 1]); i--) {
        if (out[i - 1] != '9') {
            out[i - 1]++;
            return true;
        }
        out[i - 1] = '0';
    }
    return false;
}

static int chars_cmp(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c) return c;
    return na < nb ? -1 : na > nb;
}

/* Joins runs: an item followed (anywhere later in the sorted list: C4A.*
 * sorts between C49.* and C50.*) by the next code of its run becomes one
 * item "first-last". 0001U, 0002U, ... 0999U print as 0001U-0999U and
 * C00.* ... C99.* as C00.*-C99.*. */
static void join_runs(CodeItem *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CodeItem *cur = &v[i];
        if (cur->gone) continue;
        size_t from = i + 1;
        char want[CODE_MAX_CHARS + 1];
        while (next_code(cur->hi, cur->nhi, want)) {
            size_t j = from;
            while (j < n && chars_cmp(v[j].lo, v[j].nlo, want, cur->nhi) < 0) j++;
            while (j < n && (v[j].gone || v[j].prefix != cur->prefix) &&
                   chars_cmp(v[j].lo, v[j].nlo, want, cur->nhi) == 0)
                j++;
            if (j == n || v[j].gone || v[j].prefix != cur->prefix ||
                chars_cmp(v[j].lo, v[j].nlo, want, cur->nhi) != 0)
                break;
            memcpy(cur->hi, v[j].hi, sizeof cur->hi);
            cur->nhi = v[j].nhi;
            v[j].gone = true;
            from = j + 1;
        }
    }
}

static int item_cmp(const void *x, const void *y)
{
    const CodeItem *a = x, *b = y;
    size_t n = a->nlo < b->nlo ? a->nlo : b->nlo;
    int c = memcmp(a->lo, b->lo, n);
    if (c) return c;
    if (a->nlo != b->nlo) return a->nlo < b->nlo ? -1 : 1;
    return (int)b->prefix - (int)a->prefix;
}

/* The characters a code may have at each position, ascending (ASCII). */
typedef struct Shape {
    char at[CODE_MAX_CHARS][37]; /* NUL-terminated */
} Shape;

static const char digits[] = "0123456789";

static bool is_letter(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* The well-formed codes of sys (codes.c code_normalize) with letters where
 * c[0..n) has letters and digits where it has digits: a key interval holds
 * codes of one shape (codes.h). */
static void shape_of_system(Shape *sh, CodeSystem sys, const char *c, size_t n)
{
    static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static const char cpt_last[] = "0123456789FTU";
    for (size_t i = 0; i < CODE_MAX_CHARS; i++) {
        const char *all;
        switch (sys) {
        case SYS_CPT: all = i == 4 ? cpt_last : digits; break;
        case SYS_HCPCS: all = i == 0 ? letters : digits; break;
        case SYS_ICD10: all = i == 0 ? letters : i == 1 ? digits : alnum; break;
        case SYS_REV:
        case SYS_POS: all = digits; break;
        default: all = alnum; break;
        }
        size_t k = 0;
        for (const char *q = all; *q; q++)
            if (i < n && is_letter(*q) == is_letter(c[i])) sh->at[i][k++] = *q;
        sh->at[i][k] = '\0';
    }
}

/* The codes that look like c[0..n): digits where it has digits, its own
 * letters elsewhere (0095T: four digits and T). */
static void shape_of_code(Shape *sh, const char *c, size_t n)
{
    for (size_t i = 0; i < CODE_MAX_CHARS; i++) {
        if (i < n && is_digit(c[i])) {
            memcpy(sh->at[i], digits, sizeof digits);
        } else {
            sh->at[i][0] = i < n ? c[i] : '\0';
            sh->at[i][1] = '\0';
        }
    }
}

static bool same_look(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i] && !(is_digit(a[i]) && is_digit(b[i]))) return false;
    return true;
}

/* Letters and digits in the same places (codes.h: one key class). */
static bool same_kinds(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_alnum((unsigned char)a[i]) || is_letter(a[i]) != is_letter(b[i])) return false;
    return true;
}

static bool in_shape(const char *allowed, char c)
{
    return c != '\0' && strchr(allowed, c) != NULL;
}

/* Moves c[0..n) up to the smallest code of shape sh that is >= c. False
 * when there is none. */
static bool code_ceil(const Shape *sh, char *c, size_t n)
{
    size_t i = 0;
    while (i < n && in_shape(sh->at[i], c[i])) i++;
    if (n == 0 || i == n) return n > 0;
    for (size_t pos = i;; pos--) {
        const char *q = sh->at[pos];
        while (*q && (unsigned char)*q <= (unsigned char)c[pos]) q++;
        if (*q) {
            c[pos] = *q;
            for (size_t j = pos + 1; j < n; j++) c[j] = sh->at[j][0];
            return true;
        }
        if (pos == 0) return false;
    }
}

/* Moves c[0..n) down to the largest code of shape sh that is <= c. */
static bool code_floor(const Shape *sh, char *c, size_t n)
{
    size_t i = 0;
    while (i < n && in_shape(sh->at[i], c[i])) i++;
    if (i == n) return n > 0;
    for (size_t pos = i;; pos--) {
        const char *best = NULL;
        for (const char *q = sh->at[pos]; *q && (unsigned char)*q < (unsigned char)c[pos]; q++)
            best = q;
        if (best) {
            c[pos] = *best;
            for (size_t j = pos + 1; j < n; j++) c[j] = sh->at[j][strlen(sh->at[j]) - 1];
            return true;
        }
        if (pos == 0) return false;
    }
}

static void item_add(Items *items, const char *lo, const char *hi, size_t n)
{
    CodeItem *c = item_new(items);
    memcpy(c->lo, lo, n);
    memcpy(c->hi, hi, n);
    c->nlo = c->nhi = (uint8_t)n;
}

/* One interval of a compiled set, as the codes a reader expects.
 *
 * An interval holds the codes of one length and shape between its ends
 * (codes.h), and its ends are codes of that shape, but not always
 * well-formed ones of the system: code sets count letters A-Z everywhere,
 * so a difference may end on CPT 0500V. The ends move to the nearest
 * well-formed codes, and an interval with none inside shows nothing. Its
 * ends may still look different: 0095T and 0095U are neighbours and merge;
 * it then shows as one range per look (0095T, 0095U), as they were
 * written. (The compiler never builds an interval such as 0163T..0165T,
 * which would also hold 0163U-0163Z and 0164A-0164Z: that range is three
 * intervals, codes.c code_set_add_range.) */
static void add_interval(Items *items, CodeSystem sys, CodeKey lo, CodeKey hi)
{
    char a[CODE_MAX_CHARS + 1], z[CODE_MAX_CHARS + 1];
    size_t n = code_key_format(lo, a);
    if (code_key_format(hi, z) != n || !same_kinds(a, z, n)) { /* never built by codes.c */
        CodeItem *c = item_new(items);
        memcpy(c->lo, a, n);
        c->nlo = (uint8_t)n;
        c->nhi = (uint8_t)code_key_format(hi, c->hi);
        return;
    }
    Shape sh;
    shape_of_system(&sh, sys, a, n);
    if (!code_ceil(&sh, a, n) || !code_floor(&sh, z, n) || memcmp(a, z, n) > 0) return;
    if (same_look(a, z, n)) {
        item_add(items, a, z, n);
        return;
    }
    char a_last[CODE_MAX_CHARS + 1], z_first[CODE_MAX_CHARS + 1];
    memcpy(a_last, z, n);
    memcpy(z_first, a, n);
    shape_of_code(&sh, a, n);
    if (code_floor(&sh, a_last, n)) item_add(items, a, a_last, n);
    shape_of_code(&sh, z, n);
    if (code_ceil(&sh, z_first, n)) item_add(items, z_first, z, n);
}

/* The index of the last interval of s (canonical) whose lo is <= k; s->n
 * when there is none. */
static size_t interval_at(const CodeSet *s, CodeKey k)
{
    size_t a = 0, b = s->n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (s->r[m].lo <= k) a = m + 1;
        else b = m;
    }
    return a > 0 ? a - 1 : s->n;
}

/* Is every code that starts with the k-character ICD-10 code p in rest?
 * blocks is scratch space for p's intervals (code_set_add_prefix). When
 * not, *next is the first k-character code of p's shape after p that may
 * be (none before it can: their block that failed for p would lie in the
 * same gap or run past the same interval), and *more is false when there
 * is no such code. */
static bool prefix_covered(const CodeSet *rest, CodeSet *blocks, CodeKey p, CodeKey *next,
                           bool *more)
{
    char t[CODE_MAX_CHARS + 1];
    size_t k = code_key_format(p, t);
    blocks->n = 0;
    code_set_add_prefix(blocks, SYS_ICD10, t, k);
    for (size_t b = 0; b < blocks->n; b++) {
        CodeKey lo = blocks->r[b].lo, hi = blocks->r[b].hi;
        size_t i = interval_at(rest, lo);
        if (i < rest->n && rest->r[i].hi >= hi) continue;
        if (i < rest->n && rest->r[i].hi >= lo) { /* the block ends outside: try the next p */
            *next = code_key_next(p, more);
            return false;
        }
        /* lo is in a gap: the next p whose block of this length and shape
         * can be covered starts where the next interval of that class does */
        size_t j = i < rest->n ? i + 1 : 0;
        char blo[CODE_MAX_CHARS + 1], r[CODE_MAX_CHARS + 1];
        size_t nb = code_key_format(lo, blo);
        *more = j < rest->n && code_key_format(rest->r[j].lo, r) == nb && same_kinds(r, blo, nb);
        if (!*more) return false;
        bool tail_lowest = true;
        for (size_t c = k; c < nb; c++) tail_lowest &= r[c] == '0' || r[c] == 'A';
        *next = code_key(SYS_ICD10, r, k);
        if (!tail_lowest) *next = code_key_next(*next, more);
        return false;
    }
    return true;
}

/* The ICD-10 prefix `C50.*` compiles to one interval per length (3 through
 * 7) and shape of the characters after C50: C50, C500..C509, C50A..C50Z,
 * C5000..C5099, C500A..C509Z, and so on (codes.h). Neighbouring prefixes
 * merge (C50.* and C51.* into C5000..C5199). This finds, shortest first,
 * the prefixes whose every interval is in rest, adds them to items and
 * removes their codes from rest. A prefix's own code is in rest, so the
 * candidates of each length are the codes of that length in rest; each
 * failed check skips to a code whose blocks could be covered, so the walk
 * is bounded by the intervals of rest, not the codes they hold. */
static void take_prefixes(CodeSet *rest, Items *items)
{
    CodeSet blocks = {0};
    for (size_t k = 3; k < CODE_MAX_CHARS; k++) {
        CodeSet taken = {0};
        for (size_t i = 0; i < rest->n; i++) {
            char lo[CODE_MAX_CHARS + 1], hi[CODE_MAX_CHARS + 1];
            size_t n = code_key_format(rest->r[i].lo, lo);
            if (n != k || code_key_format(rest->r[i].hi, hi) != n || !same_kinds(lo, hi, n))
                continue;
            CodeKey p = rest->r[i].lo, next = p;
            bool more = true;
            while (more && p <= rest->r[i].hi) {
                if (prefix_covered(rest, &blocks, p, &next, &more)) {
                    char t[CODE_MAX_CHARS + 1];
                    code_key_format(p, t);
                    code_set_add_prefix(&taken, SYS_ICD10, t, k);
                    CodeItem *c = item_new(items);
                    memcpy(c->lo, t, k);
                    memcpy(c->hi, t, k);
                    c->nlo = c->nhi = (uint8_t)k;
                    c->prefix = true;
                    next = code_key_next(p, &more);
                }
                if (more && next <= p) break; /* never: each step moves forward */
                p = next;
            }
        }
        if (taken.n) {
            CodeSet left = {0};
            code_set_normalize(&taken);
            code_set_diff(&left, rest, &taken);
            code_set_free(rest);
            *rest = left;
        }
        code_set_free(&taken);
    }
    code_set_free(&blocks);
}

/* The codes of one system: prefixes first taken out, then what is left as
 * codes and ranges, all in character order, runs joined. Writes "; "
 * first unless *first; prints nothing when no real code is left. */
static void put_system(Buf *out, CodeSystem sys, const CodeRange *r, size_t n, bool *first)
{
    CodeSet rest = {0};
    for (size_t i = 0; i < n; i++) code_set_add(&rest, r[i].lo, r[i].hi);
    Items items = {0};
    if (sys == SYS_ICD10) take_prefixes(&rest, &items);
    for (size_t i = 0; i < rest.n; i++) add_interval(&items, sys, rest.r[i].lo, rest.r[i].hi);
    code_set_free(&rest);
    if (items.n) qsort(items.v, items.n, sizeof *items.v, item_cmp);
    join_runs(items.v, items.n);
    bool any = false;
    for (size_t i = 0; i < items.n; i++) {
        if (items.v[i].gone) continue;
        if (!any && !*first) buf_puts(out, "; ");
        buf_puts(out, any ? ", " : system_label(sys));
        if (!any) buf_putc(out, ' ');
        put_item(out, sys, &items.v[i]);
        any = true;
        *first = false;
    }
    free(items.v);
}

void list_codes(const CodeRange *r, size_t n, Buf *out)
{
    size_t i = 0;
    bool first = true;
    while (i < n) {
        CodeSystem sys = code_key_system(r[i].lo);
        size_t j = i;
        while (j < n && code_key_system(r[j].lo) == sys) j++;
        put_system(out, sys, r + i, j - i, &first);
        i = j;
    }
}

/* ---- fields --------------------------------------------------------------- */

/* How the standard request fields read in a sentence. Fields not listed
 * read as `name`. */
typedef struct FieldWords {
    const char *name;
    const char *noun;      /* "the setting" */
    const char *yes, *no;  /* bool: the field is true / false */
    const char *elem;      /* list: "a diagnosis" (some element) */
    const char *elem_none; /* list: "no diagnosis" */
    const char *unit;      /* int: " hours" after a number */
} FieldWords;

static const FieldWords field_words[] = {
    {"id", "the request id", NULL, NULL, NULL, NULL, NULL},
    {"payer", "the payer", NULL, NULL, NULL, NULL, NULL},
    {"plan", "the plan", NULL, NULL, NULL, NULL, NULL},
    {"network", "the provider", NULL, NULL, NULL, NULL, NULL},
    {"setting", "the setting", NULL, NULL, NULL, NULL, NULL},
    {"admission", "the admission type", NULL, NULL, NULL, NULL, NULL},
    {"admitted_from_er", "admission from the emergency room",
     "the member was admitted from the emergency room",
     "the member was not admitted from the emergency room", NULL, NULL, NULL},
    {"delivery", "the delivery", NULL, NULL, NULL, NULL, NULL},
    {"stay_hours", "the expected length of stay", NULL, NULL, NULL, NULL, " hours"},
    {"code", "the code", NULL, NULL, NULL, NULL, NULL},
    {"code_system", "the code system", NULL, NULL, NULL, NULL, NULL},
    {"diagnoses", "diagnoses", NULL, NULL, "a diagnosis", "no diagnosis", NULL},
    {"units", "the billed units", NULL, NULL, NULL, NULL, NULL},
    {"price", "the purchase price", NULL, NULL, NULL, NULL, NULL},
    {"visit_number", "the visit number", NULL, NULL, NULL, NULL, NULL},
    {"state", "the state of service", NULL, NULL, NULL, NULL, NULL},
    {"member_age", "the member's age", NULL, NULL, NULL, NULL, NULL},
    {"medicare_primary", "Medicare primary", "Medicare is the primary payer",
     "Medicare is not the primary payer", NULL, NULL, NULL},
    {"medicare_exhausted", "Medicare exhaustion", "the member's Medicare benefits are exhausted",
     "the member's Medicare benefits are not exhausted", NULL, NULL, NULL},
    {"clinical_trial", "clinical trial", "the service is part of an approved clinical trial",
     "the service is not part of an approved clinical trial", NULL, NULL, NULL},
    {"emergent", "emergency", "the service is emergent", "the service is not emergent", NULL,
     NULL, NULL},
    {"service_date", "the service date", NULL, NULL, NULL, NULL, NULL},
    {"requested_at", "the request time", NULL, NULL, NULL, NULL, NULL},
};

/* Values of a field that read better as words: `network == "in"` reads
 * "the provider is in network". */
static const struct {
    const char *field, *value, *words;
} value_words[] = {
    {"network", "in", "in network"},
    {"network", "out", "out of network"},
    {"setting", "ltac", "LTAC"},
};

static const FieldWords *words_of(const char *field)
{
    for (size_t i = 0; i < sizeof field_words / sizeof field_words[0]; i++)
        if (strcmp(field_words[i].name, field) == 0) return &field_words[i];
    return NULL;
}

typedef struct Lister {
    const Prog *p;
    const Node *decls;   /* the root file's declarations */
    const Merged *merged; /* the rules in force (from the root and its bases) */
    const Node *const *modules; /* each used module's declarations (shared sets) */
    size_t nmodules;
    int32_t day;         /* the service date listed */
    Buf out;             /* the listing */
    const char *rule;    /* id of the rule being listed (names its inline sets) */
    Buf notes;           /* its long code sets: "label: codes" entries, NUL-separated */
    size_t nnotes;
} Lister;

/* The Prog field a name in a condition refers to, or -1 (an enum member or
 * other literal). */
static int field_of(const Lister *L, const Node *n)
{
    if (!n || n->kind != N_NAME || !n->name) return -1;
    for (uint32_t i = 0; i < L->p->nfields; i++)
        if (strcmp(L->p->strs[L->p->fields[i].name], n->name) == 0) return (int)i;
    return -1;
}

static const char *field_name(const Lister *L, int f)
{
    return L->p->strs[L->p->fields[f].name];
}

static void put_noun(Buf *b, const Lister *L, int f)
{
    const FieldWords *w = words_of(field_name(L, f));
    if (w) buf_puts(b, w->noun);
    else buf_printf(b, "`%s`", field_name(L, f));
}

static void put_bool_field(Buf *b, const Lister *L, int f, bool yes)
{
    const FieldWords *w = words_of(field_name(L, f));
    if (w && w->yes) buf_puts(b, yes ? w->yes : w->no);
    else buf_printf(b, "`%s` is %s", field_name(L, f), yes ? "true" : "false");
}

/* A literal value in a comparison or value list, read as the type of
 * field f (-1: unknown). */
static void put_value(Buf *b, const Lister *L, int f, const Node *v)
{
    const PField *fd = f >= 0 ? &L->p->fields[f] : NULL;
    const char *fname = f >= 0 ? field_name(L, f) : "";
    const FieldWords *w = f >= 0 ? words_of(fname) : NULL;
    const char *unit = w && w->unit ? w->unit : "";
    if (v->kind == N_NAME || v->kind == N_STRING) {
        const char *s = v->kind == N_NAME ? v->name : v->str;
        if (!s) s = "";
        for (size_t i = 0; i < sizeof value_words / sizeof value_words[0]; i++)
            if (strcmp(value_words[i].field, fname) == 0 && strcmp(value_words[i].value, s) == 0) {
                buf_puts(b, value_words[i].words);
                return;
            }
        int g = field_of(L, v);
        if (v->kind == N_NAME && g >= 0 && !(fd && fd->type == VT_ENUM)) put_noun(b, L, g);
        else if (v->kind == N_STRING && !(fd && fd->type == VT_ENUM)) buf_printf(b, "\"%s\"", s);
        else put_words(b, s);
        return;
    }
    bool money = fd && fd->type == VT_MONEY;
    int64_t cents;
    char when[24];
    switch (v->kind) {
    case N_MONEY: put_money(b, v->ival); break;
    case N_INT:
        if (money) put_money(b, v->ival * 100);
        else buf_printf(b, "%lld%s", (long long)v->ival, unit);
        break;
    case N_DECIMAL:
        if (money && v->str && decimal_cents(v->str, &cents)) put_money(b, cents);
        else buf_puts(b, v->str ? v->str : "?");
        break;
    case N_DATE: put_date(b, (int32_t)v->ival); break;
    case N_DATETIME:
        datetime_format(v->ival, when);
        for (char *t = when; *t; t++)
            if (*t == 'T') *t = ' ';
        buf_puts(b, when);
        break;
    case N_BOOL: buf_puts(b, v->ival ? "true" : "false"); break;
    case N_DURATION:
        buf_printf(b, "%lld %s", (long long)v->ival,
                   v->op == U_HOURS ? "hours" : v->op == U_DAYS ? "days" : "business days");
        break;
    default: buf_puts(b, "?"); break;
    }
}

/* ---- code sets in conditions --------------------------------------------- */

static const PSet *find_pset(const Prog *p, const char *name)
{
    for (uint32_t i = 0; i < p->nsets; i++)
        if (strcmp(p->strs[p->sets[i].name], name) == 0) return &p->sets[i];
    return NULL;
}

/* The `codeset` declaration called name, in the root file or a module it
 * uses (std.codes' shared sets read by their titles too), or NULL. */
static const Node *find_codeset(const Lister *L, const char *name)
{
    for (size_t m = 0; m <= L->nmodules; m++)
        for (const Node *d = m == 0 ? L->decls : L->modules[m - 1]; d; d = d->next)
            if (d->kind == N_CODESET && d->name && strcmp(d->name, name) == 0) return d;
    return NULL;
}

static void effective_of(const Node *eff, int32_t *from, int32_t *through)
{
    *from = DATE_OPEN_FROM;
    *through = DATE_OPEN_THROUGH;
    if (!eff || eff->kind != N_EFFECTIVE) return;
    if (eff->a && eff->a->kind == N_DATE) *from = (int32_t)eff->a->ival;
    if (eff->b && eff->b->kind == N_DATE) *through = (int32_t)eff->b->ival;
}

/* Adds "label (window): codes" to the rule's "codes:" entries unless it is
 * there already (a set named twice in one rule). */
static void note_set(Lister *L, const char *label, const char *codes, const char *window)
{
    Buf e = {0};
    buf_printf(&e, "%s%s: %s", label, window, codes);
    const char *entry = cstr(&e), *note = L->notes.p;
    bool dup = false;
    for (size_t i = 0; i < L->nnotes && !dup; i++) {
        dup = strcmp(note, entry) == 0;
        note += strlen(note) + 1;
    }
    if (!dup) {
        buf_put(&L->notes, entry, e.n + 1);
        L->nnotes++;
    }
    buf_free(&e);
}

/* A code set operand: "MRI of the brain (CPT 70551-70553)" when its codes
 * are short, "Bariatric surgery (codes below)" with the codes noted for the
 * rule's "codes:" lines otherwise; an inline `{ ... }` set prints its codes. */
static void put_set(Buf *b, Lister *L, const Node *s)
{
    Buf name = {0};
    if (s->kind == N_NAME && s->name) buf_puts(&name, s->name);
    else buf_printf(&name, "%s{%u:%u}", L->rule, s->loc.line, s->loc.col); /* as sema names it */
    const char *key = cstr(&name);
    const PSet *ps = find_pset(L->p, key);
    const Node *decl = s->kind == N_NAME ? find_codeset(L, key) : NULL;
    const char *label = decl && decl->str ? decl->str : s->kind == N_NAME ? key : NULL;
    int32_t from, through;
    effective_of(decl ? decl->b : NULL, &from, &through);
    bool windowed = from != DATE_OPEN_FROM || through != DATE_OPEN_THROUGH;
    Buf codes = {0}, window = {0};
    if (ps) list_codes(L->p->ranges + ps->first, ps->count, &codes);
    else buf_puts(&codes, "(codes not found)"); /* not reached for a compiled policy */
    if (codes.n == 0) buf_puts(&codes, "no codes");
    if (windowed) {
        buf_puts(&window, " (codes in effect ");
        put_window(&window, from, through);
        buf_putc(&window, ')');
    }
    if (windowed && (L->day < from || L->day > through)) {
        buf_printf(b, "%s (not in effect on this date: in effect ", label ? label : "the code set");
        put_window(b, from, through);
        buf_puts(b, ", so no code matches)");
    } else if (!label) {
        buf_put(b, codes.p, codes.n);
    } else if (!windowed && cols(codes.p, codes.n) <= INLINE_CODES) {
        buf_printf(b, "%s (%s)", label, cstr(&codes));
    } else {
        buf_printf(b, "%s (codes below)", label);
        note_set(L, label, cstr(&codes), cstr(&window));
    }
    buf_free(&codes);
    buf_free(&window);
    buf_free(&name);
}

/* ---- conditions ---------------------------------------------------------- */

static void cond(Buf *b, Lister *L, const Node *n, int parent);

static int flip(int op)
{
    switch (op) {
    case BIN_LT: return BIN_GT;
    case BIN_LE: return BIN_GE;
    case BIN_GT: return BIN_LT;
    case BIN_GE: return BIN_LE;
    default: return op;
    }
}

static int negate_op(int op)
{
    switch (op) {
    case BIN_EQ: return BIN_NE;
    case BIN_NE: return BIN_EQ;
    case BIN_LT: return BIN_GE;
    case BIN_LE: return BIN_GT;
    case BIN_GT: return BIN_LE;
    case BIN_GE: return BIN_LT;
    default: return op;
    }
}

static const char *verb(int op, int type)
{
    bool when = type == VT_DATE || type == VT_DATETIME;
    switch (op) {
    case BIN_EQ: return "is";
    case BIN_NE: return "is not";
    case BIN_LT: return when ? "is before" : "is less than";
    case BIN_LE: return when ? "is on or before" : "is at most";
    case BIN_GT: return when ? "is after" : "is more than";
    case BIN_GE: return when ? "is on or after" : "is at least";
    default: return "?";
    }
}

/* `a OP b`: the field first ("the visit number is more than 5"); a bool
 * field compared with true or false reads as the field's own phrase. */
static void compare(Buf *b, Lister *L, const Node *n, bool negated)
{
    const Node *l = n->a, *r = n->b;
    int op = n->op;
    if (!l || !r) return;
    int fl = field_of(L, l);
    if (fl < 0 && field_of(L, r) >= 0) {
        const Node *t = l;
        l = r;
        r = t;
        op = flip(op);
        fl = field_of(L, l);
    }
    if (negated) op = negate_op(op);
    int type = fl >= 0 ? L->p->fields[fl].type : 0;
    if (type == VT_BOOL && r->kind == N_BOOL && (op == BIN_EQ || op == BIN_NE)) {
        put_bool_field(b, L, fl, (r->ival != 0) == (op == BIN_EQ));
        return;
    }
    if (fl >= 0) put_noun(b, L, fl);
    else put_value(b, L, -1, l);
    buf_printf(b, " %s ", verb(op, type));
    put_value(b, L, fl, r);
}

/* Values of a `{ ... }` list joined: "a, b or c" (joiner " or "), or "a, b, c". */
static void put_values(Buf *b, Lister *L, int f, const Node *list, const char *last)
{
    size_t n = ast_list_len(list), i = 0;
    for (const Node *v = list; v; v = v->next, i++) {
        if (i > 0) buf_puts(b, i + 1 == n && last ? last : ", ");
        put_value(b, L, f, v);
    }
}

/* `f in S`, `f not in S`, `f any in S`. */
static void in(Buf *b, Lister *L, const Node *n, bool negated)
{
    const Node *f = n->a, *s = n->b;
    if (!f || !s) return;
    int fi = field_of(L, f);
    bool any = (n->flags & FL_ANY) != 0;
    const FieldWords *w = fi >= 0 ? words_of(field_name(L, fi)) : NULL;
    const char *fname = fi >= 0 ? field_name(L, fi) : (f->name ? f->name : "?");
    if (any) {
        if (w && w->elem) buf_puts(b, negated ? w->elem_none : w->elem);
        else buf_printf(b, "%s element of `%s`", negated ? "no" : "an", fname);
    } else if (fi >= 0) {
        put_noun(b, L, fi);
    } else {
        buf_printf(b, "`%s`", fname);
    }
    if (s->kind == N_VALUE_LIST) {
        size_t k = ast_list_len(s->a);
        if (k == 0) {
            buf_puts(b, negated ? " is anything (`not in { }`)" : " is nothing (`in { }`)");
        } else if (!negated || any) {
            buf_puts(b, " is ");
            put_values(b, L, fi, s->a, " or ");
        } else if (k == 1) {
            buf_puts(b, " is not ");
            put_values(b, L, fi, s->a, NULL);
        } else if (k == 2) {
            buf_puts(b, " is neither ");
            put_value(b, L, fi, s->a);
            buf_puts(b, " nor ");
            put_value(b, L, fi, s->a->next);
        } else {
            buf_puts(b, " is none of ");
            put_values(b, L, fi, s->a, NULL);
        }
        return;
    }
    buf_puts(b, negated && !any ? " is not one of " : " is one of ");
    put_set(b, L, s);
}

static void negation(Buf *b, Lister *L, const Node *a, int parent);

/* `not (a and b)` as "a is not ... or b is not ..." (De Morgan). */
static void negated_chain(Buf *b, Lister *L, const Node *n, int parent)
{
    int op = n->op, dual = op == BIN_AND ? BIN_OR : BIN_AND;
    size_t depth = 0;
    const Node *x = n;
    for (; x && x->kind == N_BINARY && x->op == op; x = x->a) depth++;
    const Node **spine = xmalloc(depth * sizeof *spine);
    depth = 0;
    for (x = n; x && x->kind == N_BINARY && x->op == op; x = x->a) spine[depth++] = x;
    bool paren = parent != 0 && parent != dual;
    if (paren) buf_putc(b, '(');
    negation(b, L, x, dual);
    while (depth > 0) {
        buf_puts(b, dual == BIN_AND ? " and " : " or ");
        negation(b, L, spine[--depth]->b, dual);
    }
    if (paren) buf_putc(b, ')');
    free(spine);
}

/* `not x`: pushed into x, so plain words can say it. */
static void negation(Buf *b, Lister *L, const Node *a, int parent)
{
    if (!a) return;
    int f;
    switch (a->kind) {
    case N_NAME:
        if ((f = field_of(L, a)) >= 0) {
            put_bool_field(b, L, f, false);
            return;
        }
        break;
    case N_PRESENT:
        if (a->name) {
            Node name = {.kind = N_NAME, .name = a->name};
            if ((f = field_of(L, &name)) >= 0) {
                buf_puts(b, "the request does not give ");
                put_noun(b, L, f);
            } else {
                buf_printf(b, "the request does not give `%s`", a->name);
            }
            return;
        }
        break;
    case N_IN: in(b, L, a, (a->flags & FL_NEGATED) == 0); return;
    case N_BOOL: buf_puts(b, a->ival ? "never" : "always"); return;
    case N_NOT: cond(b, L, a->a, parent); return;
    case N_BINARY:
        if (a->op == BIN_AND || a->op == BIN_OR) negated_chain(b, L, a, parent);
        else compare(b, L, a, true);
        return;
    default: break;
    }
    buf_puts(b, "not (");
    cond(b, L, a, 0);
    buf_putc(b, ')');
}

/* An and/or chain, flattened: parsers nest `a and b and c` left-deep. */
static void chain(Buf *b, Lister *L, const Node *n)
{
    int op = n->op;
    size_t depth = 0;
    const Node *x = n;
    for (; x && x->kind == N_BINARY && x->op == op; x = x->a) depth++;
    const Node **spine = xmalloc(depth * sizeof *spine);
    depth = 0;
    for (x = n; x && x->kind == N_BINARY && x->op == op; x = x->a) spine[depth++] = x;
    cond(b, L, x, op);
    while (depth > 0) {
        buf_puts(b, op == BIN_AND ? " and " : " or ");
        cond(b, L, spine[--depth]->b, op);
    }
    free(spine);
}

/* A condition in words. parent is the chain operator around n (BIN_AND,
 * BIN_OR) or 0 at the top: a chain of another operator inside one is
 * parenthesized, so "a or (b and c)" reads as it binds. */
static void cond(Buf *b, Lister *L, const Node *n, int parent)
{
    if (!n) return;
    int f;
    switch (n->kind) {
    case N_BINARY:
        if (n->op == BIN_AND || n->op == BIN_OR) {
            bool paren = parent != 0 && parent != n->op;
            if (paren) buf_putc(b, '(');
            chain(b, L, n);
            if (paren) buf_putc(b, ')');
        } else {
            compare(b, L, n, false);
        }
        return;
    case N_NOT: negation(b, L, n->a, parent); return;
    case N_IN: in(b, L, n, (n->flags & FL_NEGATED) != 0); return;
    case N_PRESENT: {
        Node name = {.kind = N_NAME, .name = n->name};
        if ((f = field_of(L, &name)) >= 0) {
            buf_puts(b, "the request gives ");
            put_noun(b, L, f);
        } else {
            buf_printf(b, "the request gives `%s`", n->name ? n->name : "?");
        }
        return;
    }
    case N_NAME:
        if ((f = field_of(L, n)) >= 0) put_bool_field(b, L, f, true);
        else buf_printf(b, "`%s`", n->name ? n->name : "?");
        return;
    case N_BOOL: buf_puts(b, n->ival ? "always" : "never"); return;
    default: put_value(b, L, -1, n); return;
    }
}

/* ---- rules ----------------------------------------------------------------- */

static const Node *clause(const Node *rule, int kind)
{
    for (const Node *c = rule->a; c; c = c->next)
        if (c->kind == N_CLAUSE && c->op == kind) return c;
    return NULL;
}

static void rule_window(const Node *rule, int32_t *from, int32_t *through)
{
    const Node *e = clause(rule, CL_EFFECTIVE);
    effective_of(e ? e->a : NULL, from, through);
}

static bool rule_in_effect(const Lister *L, const Node *rule)
{
    int32_t from, through;
    rule_window(rule, &from, &through);
    return L->day >= from && L->day <= through;
}

static const char *cite_doc(const Node *rule)
{
    const Node *c = clause(rule, CL_CITE);
    return c && c->a && c->a->kind == N_STRING ? c->a->str : NULL;
}

static const char *cite_section(const Node *rule)
{
    const Node *c = clause(rule, CL_CITE);
    return c && c->b && c->b->kind == N_STRING ? c->b->str : NULL;
}

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static const char *outcome_words(int64_t outcome)
{
    switch (outcome) {
    case OUT_PRIOR_AUTH: return "prior authorization";
    case OUT_NOTIFICATION: return "notification";
    case OUT_NOT_COVERED: return "not covered";
    case OUT_ADVISORY: return "the requester is informed (advisory: it decides nothing)";
    default: return "no requirement";
    }
}

/* "at least 72 hours before the service", "within 1 business day after admission". */
static void put_deadline(Buf *b, const Node *c)
{
    const Node *d = c->a;
    if (!d || d->kind != N_DURATION) return;
    long long n = (long long)d->ival;
    const char *unit = d->op == U_HOURS ? "hour" : d->op == U_DAYS ? "day" : "business day";
    const char *anchor = c->str && strcmp(c->str, "admission") == 0 ? "admission" : "the service";
    if (n == 0 && d->op == U_HOURS)
        buf_printf(b, "by the start (00:00) of the day of %s", anchor);
    else if (n == 0)
        buf_printf(b, "no later than the day of %s", anchor);
    else
        buf_printf(b, "%s %lld %s%s %s %s", c->ival == DIR_AFTER ? "within" : "at least", n, unit,
                   n == 1 ? "" : "s", c->ival == DIR_AFTER ? "after" : "before", anchor);
}

static void rule_line(Lister *L, const char *label, const char *text)
{
    put_labeled(&L->out, 2, RULE_LABEL, label, text);
}

/* `unless a or b` lists as two exceptions: it is the same as two `unless`. */
static void exceptions(Lister *L, const Node *n)
{
    if (!n) return;
    if (n->kind == N_BINARY && n->op == BIN_OR) {
        size_t depth = 0;
        const Node *x = n;
        for (; x && x->kind == N_BINARY && x->op == BIN_OR; x = x->a) depth++;
        const Node **spine = xmalloc(depth * sizeof *spine);
        depth = 0;
        for (x = n; x && x->kind == N_BINARY && x->op == BIN_OR; x = x->a) spine[depth++] = x;
        exceptions(L, x);
        while (depth > 0) exceptions(L, spine[--depth]->b);
        free(spine);
        return;
    }
    Buf t = {0};
    cond(&t, L, n, 0);
    rule_line(L, "except:", cstr(&t));
    buf_free(&t);
}

static void list_rule(Lister *L, uint32_t ri, const char *default_reviewer)
{
    const Node *rule = L->merged->rules[ri];
    L->rule = rule->name ? rule->name : "";
    L->notes.n = 0;
    L->nnotes = 0;
    Buf t = {0};
    buf_printf(&t, "%s [%s]", rule->str ? rule->str : "(untitled)", L->rule);
    put_wrapped(&L->out, "", 2, cstr(&t));
    const char *origin = L->merged->from[ri];
    if (origin) {
        t.n = 0;
        if (L->merged->how[ri] == RULE_REPLACED)
            buf_printf(&t, "this policy, replacing the rule of %s", origin);
        else
            buf_puts(&t, origin);
        rule_line(L, "from:", cstr(&t));
    }

    const Node *req = clause(rule, CL_REQUIRE), *ex = clause(rule, CL_EXEMPT);
    t.n = 0;
    if (ex) {
        if (ex->flags & FL_ALL) {
            buf_puts(&t, "every rule that is not itself a waiver");
        } else {
            for (const Node *r = ex->a; r; r = r->next)
                buf_printf(&t, "%s%s", r == ex->a ? "" : ", ", r->name ? r->name : "?");
        }
        rule_line(L, "waives:", cstr(&t));
    } else {
        bool advisory = req && req->ival == OUT_ADVISORY;
        rule_line(L, advisory ? "advises:" : "requires:", outcome_words(req ? req->ival : OUT_NONE));
        const Node *rv = clause(rule, CL_REVIEWER);
        t.n = 0;
        if (rv && rv->a) {
            for (const Node *s = rv->a; s; s = s->next)
                buf_printf(&t, "%s%s", s == rv->a ? "" : ", ", s->str ? s->str : "?");
        } else {
            buf_puts(&t, default_reviewer ? default_reviewer : "none named");
        }
        rule_line(L, "reviewer:", cstr(&t));
        const Node *dl = clause(rule, CL_DEADLINE);
        if (dl) {
            t.n = 0;
            put_deadline(&t, dl);
            rule_line(L, "deadline:", cstr(&t));
        }
    }
    int32_t from, through;
    rule_window(rule, &from, &through);
    if (from != DATE_OPEN_FROM || through != DATE_OPEN_THROUGH) {
        t.n = 0;
        put_window(&t, from, through);
        rule_line(L, "effective:", cstr(&t));
    }
    const Node *when = clause(rule, CL_WHEN);
    if (when) {
        t.n = 0;
        cond(&t, L, when->a, 0);
        rule_line(L, "when:", cstr(&t));
    }
    for (const Node *c = rule->a; c; c = c->next)
        if (c->kind == N_CLAUSE && c->op == CL_UNLESS) exceptions(L, c->a);
    const char *note = L->notes.p;
    for (size_t i = 0; i < L->nnotes; i++) {
        rule_line(L, i == 0 ? "codes:" : "", note);
        note += strlen(note) + 1;
    }
    buf_putc(&L->out, '\n');
    buf_free(&t);
}

/* ---- the listing ------------------------------------------------------------ */

static const Node *find_policy(const Node *decls)
{
    for (const Node *d = decls; d; d = d->next)
        if (d->kind == N_POLICY) return d;
    return NULL;
}

/* The first string value of the policy's property `name`. */
static const char *prop(const Node *pol, const char *name)
{
    for (const Node *pr = pol ? pol->a : NULL; pr; pr = pr->next)
        if (pr->kind == N_PROP && pr->name && strcmp(pr->name, name) == 0 && pr->a)
            return pr->a->kind == N_STRING ? pr->a->str : pr->a->name;
    return NULL;
}

/* The policy of the chain (the root, then its bases, nearest first) that
 * gives property `name`, or the root when none does: what the merged
 * policy inherits (docs/language.md, "Extending a base list"). */
static const Node *giver(const Lister *L, const Node *pol, const char *name)
{
    for (uint32_t j = 0; j <= L->merged->nbases; j++) {
        const Node *at = j == 0 ? pol : L->merged->bases[j - 1];
        for (const Node *pr = at ? at->a : NULL; pr; pr = pr->next)
            if (pr->kind == N_PROP && pr->name && strcmp(pr->name, name) == 0) return at;
    }
    return pol;
}

static void head_line(Lister *L, const char *label, const char *text)
{
    put_labeled(&L->out, 0, HEAD_LABEL, label, text);
}

typedef struct Group {
    const char *doc, *section;
} Group;

/* The `source` (when sources) and `contact` (when contacts) lines of pol's
 * header, in the order written. */
static void put_sources(Lister *L, const Node *pol, bool sources, bool contacts)
{
    Buf t = {0};
    for (const Node *pr = pol ? pol->a : NULL; pr; pr = pr->next) {
        if (pr->kind != N_PROP || !pr->name || !pr->a) continue;
        bool source = strcmp(pr->name, "source") == 0;
        if (source ? !sources : !contacts || strcmp(pr->name, "contact") != 0) continue;
        t.n = 0;
        for (const Node *v = pr->a; v; v = v->next)
            buf_printf(&t, "%s%s", v == pr->a ? "" : ": ", v->str ? v->str : "");
        head_line(L, source ? "source:" : "contact:", cstr(&t));
    }
    buf_free(&t);
}

static void header(Lister *L, const Node *pol, const char *reviewer)
{
    const Prog *p = L->p;
    Buf t = {0};
    const char *title = prop(pol, "title");
    put_heading(&L->out, title ? title : p->strs[p->title], '=');
    buf_putc(&L->out, '\n');
    buf_printf(&t, "%s, version %s", p->strs[p->id], p->strs[p->version]);
    head_line(L, "policy:", cstr(&t));
    if (L->merged->base) head_line(L, "extends:", L->merged->base);
    head_line(L, "payer:", p->strs[p->payer]);
    t.n = 0;
    put_window(&t, p->eff_from, p->eff_through);
    head_line(L, "in effect:", cstr(&t));
    /* Sources and contacts in the order written, each from the policy of
     * the chain that gives them. */
    const Node *sources = giver(L, pol, "source"), *contacts = giver(L, pol, "contact");
    put_sources(L, sources, true, sources == contacts);
    if (sources != contacts) put_sources(L, contacts, false, true);
    t.n = 0;
    if (reviewer) buf_printf(&t, "%s, unless a rule names another", reviewer);
    else buf_puts(&t, "none, unless a rule names one");
    head_line(L, "reviewer:", cstr(&t));
    const char *cal = prop(giver(L, pol, "calendar"), "calendar");
    t.n = 0;
    if (cal) buf_printf(&t, "business days skip weekends and the holidays of %s", cal);
    else buf_puts(&t, "business days skip weekends only (no holiday calendar)");
    head_line(L, "calendar:", cstr(&t));
    t.n = 0;
    buf_puts(&t, "services on ");
    put_date(&t, L->day);
    head_line(L, "listed for:", cstr(&t));
    buf_free(&t);
}

static void listing(Lister *L)
{
    const Node *pol = find_policy(L->decls);
    const Prog *p = L->p;
    const char *reviewer = prop(giver(L, pol, "reviewer"), "reviewer");
    if (!reviewer && p->reviewer != PIDX_NONE) reviewer = p->strs[p->reviewer];
    header(L, pol, reviewer);
    Buf t = {0};
    if (L->day < p->eff_from || L->day > p->eff_through) {
        buf_puts(&t, "The policy is not in effect on ");
        put_date(&t, L->day);
        buf_puts(&t, ": it applies to services ");
        if (L->day < p->eff_from) {
            buf_puts(&t, "from ");
            put_date(&t, p->eff_from);
        } else {
            buf_puts(&t, "through ");
            put_date(&t, p->eff_through);
        }
        buf_puts(&t, ". No rule is listed.");
        buf_putc(&L->out, '\n');
        put_wrapped(&L->out, "", 0, cstr(&t));
        buf_free(&t);
        return;
    }

    Group *groups = NULL;
    size_t ngroups = 0, nrules = 0, nlate = 0, count[OUT__COUNT] = {0};
    const char *doc0 = NULL;
    bool many_docs = false;
    for (uint32_t ri = 0; ri < L->merged->nrules; ri++) {
        const Node *d = L->merged->rules[ri];
        if (!rule_in_effect(L, d)) {
            nlate++;
            continue;
        }
        const char *doc = cite_doc(d), *sec = cite_section(d);
        if (nrules++ == 0) doc0 = doc;
        else if (!same(doc, doc0)) many_docs = true;
        const Node *req = clause(d, CL_REQUIRE);
        int64_t out = clause(d, CL_EXEMPT) ? OUT_EXEMPT : req ? req->ival : OUT_NONE;
        if (out >= OUT_NONE && out < OUT__COUNT) count[out]++;
        size_t g = 0;
        while (g < ngroups && !(same(groups[g].doc, doc) && same(groups[g].section, sec))) g++;
        if (g == ngroups) {
            groups = xrealloc(groups, (ngroups + 1) * sizeof *groups);
            groups[ngroups++] = (Group){doc, sec};
        }
    }

    buf_printf(&t, "%zu rule%s in effect in %zu section%s", nrules, nrules == 1 ? "" : "s",
               ngroups, ngroups == 1 ? "" : "s");
    static const struct {
        int outcome;
        const char *words;
    } kinds[] = {{OUT_PRIOR_AUTH, "prior authorization"},
                 {OUT_NOTIFICATION, "notification"},
                 {OUT_NOT_COVERED, "not covered"},
                 {OUT_ADVISORY, "advisory"},
                 {OUT_EXEMPT, "waiver"}};
    bool first = true;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t c = count[kinds[k].outcome];
        if (!c) continue;
        buf_printf(&t, "%s%zu %s%s", first ? ": " : ", ", c, kinds[k].words,
                   kinds[k].outcome == OUT_EXEMPT && c != 1 ? "s" : "");
        first = false;
    }
    if (nlate) buf_printf(&t, "; %zu not in effect on this date (listed last)", nlate);
    head_line(L, "rules:", cstr(&t));
    buf_putc(&L->out, '\n'); /* sections follow two blank lines, as after a rule */

    for (size_t g = 0; g < ngroups; g++) {
        t.n = 0;
        if (groups[g].section) buf_puts(&t, groups[g].section);
        else if (groups[g].doc) buf_puts(&t, "No section named");
        else buf_puts(&t, "No document cited");
        if (many_docs && groups[g].doc) buf_printf(&t, " (%s)", groups[g].doc);
        buf_putc(&L->out, '\n');
        put_heading(&L->out, cstr(&t), '-');
        buf_putc(&L->out, '\n');
        for (uint32_t ri = 0; ri < L->merged->nrules; ri++) {
            const Node *d = L->merged->rules[ri];
            if (rule_in_effect(L, d) && same(cite_doc(d), groups[g].doc) &&
                same(cite_section(d), groups[g].section))
                list_rule(L, ri, reviewer);
        }
    }
    if (nlate) {
        t.n = 0;
        buf_puts(&t, "Not in effect on ");
        put_date(&t, L->day);
        buf_putc(&L->out, '\n');
        put_heading(&L->out, cstr(&t), '-');
        buf_putc(&L->out, '\n');
        for (uint32_t ri = 0; ri < L->merged->nrules; ri++) {
            const Node *d = L->merged->rules[ri];
            if (rule_in_effect(L, d)) continue;
            int32_t from, through;
            rule_window(d, &from, &through);
            t.n = 0;
            buf_printf(&t, "%s [%s]: in effect ", d->str ? d->str : "(untitled)",
                       d->name ? d->name : "?");
            put_window(&t, from, through);
            put_wrapped(&L->out, "", 2, cstr(&t));
        }
    }
    if (L->merged->nremoved) {
        buf_putc(&L->out, '\n');
        put_heading(&L->out, "Removed from the base", '-');
        buf_putc(&L->out, '\n');
        for (uint32_t i = 0; i < L->merged->nremoved; i++) {
            const SRemoved *x = &L->merged->removed[i];
            t.n = 0;
            buf_printf(&t, "%s [%s], of %s: removed by %s: %s",
                       x->rule && x->rule->str ? x->rule->str : "(untitled)", x->id, x->from,
                       x->by, x->why);
            put_wrapped(&L->out, "", 2, cstr(&t));
        }
    }
    free(groups);
    buf_free(&t);
}

/* See pcr.h. The listing is built in memory and written with one fwrite;
 * a failed write is PCR_ERR_IO. */
pcr_status pcr_policy_list(const pcr_policy *p, const char *date, FILE *out)
{
    int32_t day;
    if (!p || !p->prog || !p->decls || !p->merged || !date || !out) return PCR_ERR_USAGE;
    if (!date_parse(date, strlen(date), &day)) return PCR_ERR_USAGE;
    Lister L = {.p = p->prog, .decls = p->decls, .merged = p->merged, .modules = p->module_decls,
                .nmodules = p->nmodules, .day = day};
    listing(&L);
    while (L.out.n >= 2 && L.out.p[L.out.n - 1] == '\n' && L.out.p[L.out.n - 2] == '\n')
        L.out.n--; /* no blank line at the end */
    bool ok = fwrite(L.out.p, 1, L.out.n, out) == L.out.n;
    buf_free(&L.out);
    buf_free(&L.notes);
    return ok && !ferror(out) ? PCR_OK : PCR_ERR_IO;
}
