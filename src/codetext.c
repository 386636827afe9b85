/* codetext.c: code sets back in the analyst's notation (codetext.h).
 *
 * A canonical interval array is cut per system; within a system, the
 * intervals that make up a whole ICD-10 prefix are taken first, then what
 * is left becomes single codes and ranges, and neighbouring items that
 * follow each other in code order are joined into runs. */
#include "codetext.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

typedef struct CodeItem {
    char lo[CODE_MAX_CHARS + 1]; /* first code (or prefix); NUL-padded */
    char hi[CODE_MAX_CHARS + 1]; /* last code (or prefix) of a run; == lo for one */
    uint8_t nlo, nhi;
    bool prefix; /* lo..hi are ICD-10 prefixes: every code that starts with them */
    bool span;   /* lo..hi in the source's notation, letters and all (add_spans) */
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
    buf_puts(b, c->span ? ".." : "-");
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

/* The first of v[from .. to) (sorted by item_cmp, which orders lo as
 * chars_cmp does) whose lo is not before want; to when there is none. */
static size_t first_from(const CodeItem *v, size_t from, size_t to, const char *want, size_t nwant)
{
    while (from < to) {
        size_t m = from + (to - from) / 2;
        if (chars_cmp(v[m].lo, v[m].nlo, want, nwant) < 0) from = m + 1;
        else to = m;
    }
    return from;
}

/* Whether c may join a run of items with (or without) prefix. */
static bool joins(const CodeItem *c, bool prefix)
{
    return !c->gone && !c->span && c->prefix == prefix;
}

/* Joins runs: an item followed (anywhere later in the sorted list: C4A.*
 * sorts between C49.* and C50.*) by the next code of its run becomes one
 * item "first-last". 0001U, 0002U, ... 0999U print as 0001U-0999U and
 * C00.* ... C99.* as C00.*-C99.*. The next code is found by a binary
 * search, so n items cost n log n comparisons: a set of 33 intervals that
 * no source produces printed 17,616 prefixes, and a scan from each item
 * took 0.48 s (docs/reliability.md, F5). */
static void join_runs(CodeItem *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CodeItem *cur = &v[i];
        if (!joins(cur, cur->prefix)) continue; /* a span runs on letters: no next code */
        size_t from = i + 1;
        char want[CODE_MAX_CHARS + 1];
        while (next_code(cur->hi, cur->nhi, want)) {
            size_t j = first_from(v, from, n, want, cur->nhi);
            while (j < n && !joins(&v[j], cur->prefix) &&
                   chars_cmp(v[j].lo, v[j].nlo, want, cur->nhi) == 0)
                j++;
            if (j == n || !joins(&v[j], cur->prefix) ||
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
 * codes of one shape (codes.h). Every position is empty when sys has no
 * code of n characters: a prefix covers keys of every length up to
 * CODE_MAX_CHARS, so CPT 2120* also covers 2120 and 212000, which no CPT
 * code is. */
static void shape_of_system(Shape *sh, CodeSystem sys, const char *c, size_t n)
{
    static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static const char hcpcs_first[] = "ABCDEFGHIJKLMNOPQRSTUV";
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static const char cpt_last[] = "0123456789FTU";
    size_t shortest, longest;
    code_system_lengths(sys, &shortest, &longest);
    bool some = n >= shortest && n <= longest;
    for (size_t i = 0; i < CODE_MAX_CHARS; i++) {
        const char *all;
        switch (sys) {
        case SYS_CPT: all = i == 4 ? cpt_last : digits; break;
        case SYS_HCPCS: all = i == 0 ? hcpcs_first : digits; break;
        case SYS_ICD10: all = i == 0 ? letters : i == 1 ? digits : alnum; break;
        case SYS_REV:
        case SYS_POS: all = digits; break;
        default: all = alnum; break;
        }
        size_t k = 0;
        for (const char *q = all; *q && some; q++)
            if (i < n && is_letter(*q) == is_letter(c[i])) sh->at[i][k++] = *q;
        sh->at[i][k] = '\0';
    }
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

/* Whether every position of a code of n characters may hold some
 * character under sh. shape_of_system leaves a position empty when the
 * system has no well-formed code with a letter (or a digit) there, or
 * none of n characters, as for the codes of 6 characters that a set's
 * prefix `CPT 21208*` also covers: such an interval holds no code to
 * show. */
static bool shape_has_codes(const Shape *sh, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (sh->at[i][0] == '\0') return false;
    return true;
}

/* Moves c[0..n) up to the smallest code of shape sh that is >= c. False
 * when there is none. */
static bool code_ceil(const Shape *sh, char *c, size_t n)
{
    if (!shape_has_codes(sh, n)) return false;
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
    if (!shape_has_codes(sh, n)) return false;
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

enum { LOOKS_MAX = 26 }; /* looks an interval shows a range each for, at most */

/* The length of a's and z's common start: every code between them starts so. */
static size_t common_start(const char *a, const char *z, size_t n)
{
    size_t k = 0;
    while (k < n && a[k] == z[k]) k++;
    return k;
}

/* Whether every code of the shape from a to z has a's look: the first
 * place where the ends differ and every place after it are digits (A0B0
 * to A9B9 also holds A0C0, so it is not one look). */
static bool one_look(const char *a, const char *z, size_t n)
{
    size_t s = common_start(a, z, n);
    for (size_t i = s; i < n; i++)
        if (is_letter(a[i]) || is_letter(z[i])) return false;
    return true;
}

static void add_codes(Items *items, const Shape *sh, const char *a, const char *z, size_t n);

/* The codes of shape sh from a to z (codes of sh, a < z) as ranges in the
 * source's notation, a..z: the codes of the shape between the ends that
 * keep the letters both ends have in the same place. That is every code
 * between them unless the ends share a letter after the first place where
 * they differ (C50.A0BA..C50.Z9BZ would keep the B); then the interval is
 * cut at that first place s: from a to the last code that starts as a
 * does up to s, the codes whose character at s lies between the ends'
 * (lowest to highest characters after it: they share no letter a shape
 * lets vary), and from the first code that starts as z does up to s to z.
 * The outer two are cut again further on, so an interval gives at most
 * two pieces a place. */
static void add_spans(Items *items, const Shape *sh, const char *a, const char *z, size_t n)
{
    size_t s = common_start(a, z, n);
    bool shared = false;
    for (size_t i = s + 1; i < n; i++) /* (a letter that is its place's only one is no cut) */
        shared |= is_letter(a[i]) && a[i] == z[i] && sh->at[i][1] != '\0';
    if (!shared) {
        item_add(items, a, z, n);
        items->v[items->n - 1].span = true;
        return;
    }
    char a_end[CODE_MAX_CHARS + 1], z_start[CODE_MAX_CHARS + 1], lo[CODE_MAX_CHARS + 1],
        hi[CODE_MAX_CHARS + 1];
    memcpy(a_end, a, n);
    memcpy(z_start, z, n);
    for (size_t i = s + 1; i < n; i++) {
        a_end[i] = sh->at[i][strlen(sh->at[i]) - 1];
        z_start[i] = sh->at[i][0];
    }
    add_codes(items, sh, a, a_end, n);
    const char *first = strchr(sh->at[s], a[s]) + 1, *last = strchr(sh->at[s], z[s]) - 1;
    if (first <= last) {
        memcpy(lo, z_start, n);
        memcpy(hi, a_end, n);
        lo[s] = *first;
        hi[s] = *last;
        add_codes(items, sh, lo, hi, n);
    }
    add_codes(items, sh, z_start, z, n);
}

/* The codes of shape sh from a to z (codes of sh, a <= z): one range when
 * one look holds them all; else a range per look (its letters fixed,
 * digits free), from the look's first code >= a to its last <= z, so CPT
 * 0* holds 0000F-0999F, 0000T-0999T and 0000U-0999U (the letters of the
 * ends' common start are every code's); with more looks than LOOKS_MAX
 * (two or more letters free), ranges in the source's notation
 * (add_spans). */
static void add_codes(Items *items, const Shape *sh, const char *a, const char *z, size_t n)
{
    if (one_look(a, z, n)) {
        item_add(items, a, z, n);
        return;
    }
    size_t looks = 1, pos[CODE_MAX_CHARS], npos = 0, pick[CODE_MAX_CHARS] = {0};
    size_t same = common_start(a, z, n);
    for (size_t i = same; i < n && i < CODE_MAX_CHARS; i++)
        if (is_letter(a[i])) looks *= strlen(sh->at[i]), pos[npos++] = i;
    if (looks > LOOKS_MAX) {
        add_spans(items, sh, a, z, n);
        return;
    }
    Shape look = *sh;
    for (size_t i = 0; i < same; i++) look.at[i][0] = a[i], look.at[i][1] = '\0';
    for (bool more = true; more;) {
        for (size_t k = 0; k < npos; k++) {
            look.at[pos[k]][0] = sh->at[pos[k]][pick[k]];
            look.at[pos[k]][1] = '\0';
        }
        char from[CODE_MAX_CHARS + 1], to[CODE_MAX_CHARS + 1];
        memcpy(from, a, n);
        memcpy(to, z, n);
        if (code_ceil(&look, from, n) && code_floor(&look, to, n) && memcmp(from, to, n) <= 0)
            item_add(items, from, to, n);
        size_t k = npos; /* the next look, the last letter position fastest */
        while (k > 0 && sh->at[pos[k - 1]][++pick[k - 1]] == '\0') pick[--k] = 0;
        more = k > 0;
    }
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
 * written (add_codes). (The compiler never builds an interval such as
 * 0163T..0165T from that range, which would also hold 0163U-0163Z and
 * 0164A-0164Z: that range is three intervals, codes.c
 * code_set_add_range; a difference can leave one.) */
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
    add_codes(items, &sh, a, z, n);
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

/* Prefixes one system's codes of a set list as, at most (take_prefixes).
 * A few intervals can hold millions of whole prefixes: `ICD10 C*` less
 * the codes of 3 and 4 characters is every code of 5 characters as one,
 * 466,560 of them, which took 0.6 s and 100 MB to list (docs/reliability.md,
 * F8). Real lists name a few dozen. */
enum { PREFIXES_MAX = 10000 };

/* The ICD-10 prefix `C50.*` compiles to one interval per length (3 through
 * 7) and shape of the characters after C50: C50, C500..C509, C50A..C50Z,
 * C5000..C5099, C500A..C509Z, and so on (codes.h). Neighbouring prefixes
 * merge (C50.* and C51.* into C5000..C5199). This finds, shortest first,
 * the prefixes whose every interval is in rest, adds them to items and
 * removes their codes from rest. A prefix's own code is in rest, so the
 * candidates of each length are the codes of that length in rest; each
 * failed check skips to a code whose blocks could be covered, so the walk
 * is bounded by the intervals of rest and the prefixes it finds. False,
 * with rest and items half done, when there are more than PREFIXES_MAX. */
static bool take_prefixes(CodeSet *rest, Items *items)
{
    CodeSet blocks = {0};
    bool ok = true;
    for (size_t k = 3; k < CODE_MAX_CHARS; k++) {
        CodeSet taken = {0};
        for (size_t i = 0; i < rest->n; i++) {
            char lo[CODE_MAX_CHARS + 1], hi[CODE_MAX_CHARS + 1];
            size_t n = code_key_format(rest->r[i].lo, lo);
            if (n != k || code_key_format(rest->r[i].hi, hi) != n || !same_kinds(lo, hi, n))
                continue;
            CodeKey p = rest->r[i].lo, next = p;
            bool more = true;
            while (ok && more && p <= rest->r[i].hi) {
                if (prefix_covered(rest, &blocks, p, &next, &more)) {
                    if (items->n == PREFIXES_MAX) {
                        ok = false;
                        break;
                    }
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
        if (ok && taken.n) {
            CodeSet left = {0};
            code_set_normalize(&taken);
            code_set_diff(&left, rest, &taken);
            code_set_free(rest);
            *rest = left;
        }
        code_set_free(&taken);
        if (!ok) break;
    }
    code_set_free(&blocks);
    return ok;
}

/* The codes of one system: prefixes first taken out, then what is left as
 * codes and ranges, all in character order, runs joined. Writes "; "
 * first unless *first; prints nothing when no real code is left. */
static void put_system(Buf *out, CodeSystem sys, const CodeRange *r, size_t n, bool *first)
{
    CodeSet rest = {0};
    for (size_t i = 0; i < n; i++) code_set_add(&rest, r[i].lo, r[i].hi);
    Items items = {0};
    if (sys == SYS_ICD10 && !take_prefixes(&rest, &items)) { /* too many: the intervals instead */
        items.n = 0;
        rest.n = 0;
        for (size_t i = 0; i < n; i++) code_set_add(&rest, r[i].lo, r[i].hi);
    }
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

void codetext_put(const CodeRange *r, size_t n, Buf *out)
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
