/* json_oracle.h: what the record decoder (src/rec.h) must make of a line,
 * worked out from jansson's reading of it.
 *
 * Shared by the differential tests of the decoder: tests/unit/test_rec_oracle.c
 * (Criterion, generated lines) and tests/fuzz/fuzz_decoder_diff.c (libFuzzer).
 * Given a line that json_loadb(JSON_REJECT_DUPLICATES) accepted and a schema
 * (a Prog), jo_want_from() applies the schema to jansson's values, with the
 * decoder's documented limits (keys at every depth, list items, nesting in
 * unknown members); dates and codes go through dates.c and codes.c, money is
 * converted exactly from the number's text by a digit-string method of its
 * own. jo_compare() and jo_check_id() then hold a decoded Record against the
 * result.
 *
 * Nothing here asserts: the two tests fail in their own ways (cr_assert,
 * FZ_CHECK), so every check returns a description of what is wrong, or sets
 * JoWant.bug when the oracle finds itself inconsistent, and the caller fails
 * with it. Everything is static inline, so that an includer that does not
 * use a function gets no warning. */
#ifndef PCR_TEST_JSON_ORACLE_H
#define PCR_TEST_JSON_ORACLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "dates.h"
#include "prog.h"
#include "rec.h"

/* What the decoder must produce for one line. Verdict: why != NULL -> it must
 * reject; ok -> it must accept with these values; neither (unjudged) -> the
 * oracle has no verdict. */
typedef struct JoWant {
    bool ok;                       /* every member fits the schema, and all were judged */
    const char *why;               /* the first definite reason it does not fit, or NULL */
    bool unjudged;                 /* a money number too long for jo_text_to_cents */
    char bug[256];                 /* non-empty: the oracle contradicts itself (caller fails) */
    uint64_t present;              /* bit f: field f given and not null */
    uint64_t none;                 /* bit f: field f given as null, or a list as [] */
    int64_t i[PCR_MAX_FIELDS];     /* the value of non-string fields, as in RecVal.i */
    const char *s[PCR_MAX_FIELDS]; /* strings and code texts, jansson's (owned by the root) */
    size_t n[PCR_MAX_FIELDS];      /* their lengths */
    json_t *list[PCR_MAX_FIELDS];  /* list fields: jansson's array (borrowed) */
    size_t nitems;                 /* list items, all lists together */
    bool has_id;                   /* the top-level "id" is a string */
    const char *id;                /* its value, jansson's */
    size_t id_len;
} JoWant;

/* Marks w as not fitting; keeps the first reason (why must not be NULL). */
static inline void jo_no(JoWant *w, const char *why)
{
    if (!w->why) w->why = why;
    w->ok = false;
}

/* Keys at every depth of v (REC_MAX_KEYS counts them all). */
static inline size_t jo_count_keys(json_t *v)
{
    size_t n = 0, i;
    const char *k;
    json_t *x;
    if (json_is_object(v)) json_object_foreach(v, k, x) n += 1 + jo_count_keys(x);
    else if (json_is_array(v)) json_array_foreach(v, i, x) n += jo_count_keys(x);
    return n;
}

/* Levels of arrays and objects in v: 0 for a scalar. */
static inline int jo_depth_of(json_t *v)
{
    int d = 0, dx;
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_object(v)) {
        json_object_foreach(v, k, x) if ((dx = jo_depth_of(x)) > d) d = dx;
        return d + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if ((dx = jo_depth_of(x)) > d) d = dx;
        return d + 1;
    }
    return 0;
}

/* ---- the text of a top-level member, in a line jansson accepted ----------
 * The JSON is valid, so these scanners check nothing. */

/* JSON whitespace, and NUL: jansson lets a raw NUL pass after a number or
 * a literal ({"a":29\0,...} loads), and such lines still reach the oracle
 * in the unit test (which then requires the decoder to reject them). */
static inline bool jo_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0';
}

/* Advances *i past whitespace in s[0 .. n). */
static inline void jo_skip_ws(const char *s, size_t n, size_t *i)
{
    while (*i < n && jo_is_space(s[*i])) (*i)++;
}

/* Advances *i, at a string's opening quote, past its closing quote. */
static inline void jo_skip_string(const char *s, size_t *i)
{
    for ((*i)++; s[*i] != '"'; (*i)++)
        if (s[*i] == '\\') (*i)++;
    (*i)++;
}

/* Reads the key at s[*i] (a valid JSON string) and advances past it: true
 * when, unescaped, it is exactly want (ASCII). Any non-ASCII character,
 * raw or escaped, makes it differ. No length limit. */
static inline bool jo_key_is(const char *s, size_t *i, const char *want)
{
    size_t k = 0, wn = strlen(want);
    bool same = true;
    for ((*i)++; s[*i] != '"';) {
        unsigned c = (unsigned char)s[*i];
        if (c == '\\') {
            char e = s[*i + 1];
            if (e == 'u') {
                char hex[5] = {s[*i + 2], s[*i + 3], s[*i + 4], s[*i + 5], 0};
                c = (unsigned)strtoul(hex, NULL, 16);
                if (c >= 0x80) c = 0x100; /* matches no ASCII name */
                *i += 6;
            } else {
                c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b'
                  : e == 'f' ? '\f' : (unsigned char)e;
                *i += 2;
            }
        } else {
            (*i)++;
        }
        if (k >= wn || (unsigned char)want[k] != c) same = false;
        k++;
    }
    (*i)++;
    return same && k == wn;
}

/* Finds top-level member want in the object s[0 .. n) (a line jansson
 * accepted, so keys are unique): true with its value's text in *vs, *vn
 * (pointing into s), false when there is none. */
static inline bool jo_top_member(const char *s, size_t n, const char *want, const char **vs,
                                 size_t *vn)
{
    size_t i = 0;
    jo_skip_ws(s, n, &i);
    i++; /* '{' */
    for (;;) {
        jo_skip_ws(s, n, &i);
        if (s[i] == '}') return false;
        bool hit = jo_key_is(s, &i, want);
        jo_skip_ws(s, n, &i);
        i++; /* ':' */
        jo_skip_ws(s, n, &i);
        size_t start = i;
        if (s[i] == '"') {
            jo_skip_string(s, &i);
        } else if (s[i] == '{' || s[i] == '[') {
            int depth = 0;
            do {
                if (s[i] == '"') {
                    jo_skip_string(s, &i);
                    continue;
                }
                if (s[i] == '{' || s[i] == '[') depth++;
                if (s[i] == '}' || s[i] == ']') depth--;
                i++;
            } while (depth > 0);
        } else {
            while (i < n && !jo_is_space(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') i++;
        }
        if (hit) {
            *vs = s + start;
            *vn = i - start;
            return true;
        }
        jo_skip_ws(s, n, &i);
        if (s[i++] != ',') return false;
    }
}

/* Exact cents of the JSON number text t[0 .. n), by moving the decimal point
 * along the digit string (no floating point): returns 0 for whole cents
 * (then in *out), 1 finer than cents, 2 beyond int64, 3 more digits than
 * this oracle holds (no verdict). The exponent may be any length: leading
 * zeros count for nothing, and beyond a million it saturates (from 100000
 * on, the answer no longer depends on it). */
static inline int jo_text_to_cents(const char *t, size_t n, int64_t *out)
{
    char dig[8192];
    size_t nd = 0, i = 0, intlen = 0;
    bool neg = t[0] == '-', in_frac = false;
    long long exp = 0;
    if (neg) i++;
    for (; i < n && ((t[i] >= '0' && t[i] <= '9') || t[i] == '.'); i++) {
        if (t[i] == '.') {
            in_frac = true;
        } else {
            if (nd == sizeof dig - 1) return 3;
            dig[nd++] = t[i];
            intlen += !in_frac;
        }
    }
    if (i < n) { /* 'e' or 'E', an optional sign, digits */
        size_t j = i + 1;
        bool eneg = j < n && t[j] == '-';
        if (j < n && (t[j] == '-' || t[j] == '+')) j++;
        for (; j < n && t[j] >= '0' && t[j] <= '9'; j++)
            if (exp < 1000000) exp = exp * 10 + (t[j] - '0');
        if (eneg) exp = -exp;
    }
    dig[nd] = '\0';
    size_t z = strspn(dig, "0");
    if (z == nd) {
        *out = 0;
        return 0;
    }
    if (exp > 100000) return 2;
    if (exp < -100000) return 1;
    const char *sig = dig + z; /* from the first nonzero digit */
    size_t ns = nd - z;
    /* how many significant digits come before the cents point */
    long long point = (long long)intlen - (long long)z + exp + 2;
    if (point > 19) return 2;
    for (long long k = point < 0 ? 0 : point; k < (long long)ns; k++)
        if (sig[k] != '0') return 1;
    char whole[24];
    size_t wn = 0;
    for (long long k = 0; k < point; k++) whole[wn++] = k < (long long)ns ? sig[k] : '0';
    whole[wn] = '\0';
    static const char max[] = "9223372036854775807";
    if (wn == strlen(max) && strcmp(whole, max) > 0) return 2;
    long long v = wn ? strtoll(whole, NULL, 10) : 0;
    *out = neg ? -v : v;
    return 0;
}

/* The CodeKey of code text s[0 .. n) for a field allowing the systems in
 * mask (SYS_BIT), in system sys, or when SYS_NONE the only system of mask
 * or the one whose shape s has: true with the key in *out, false when s is
 * no code of an allowed system. */
static inline bool jo_want_code(unsigned mask, CodeSystem sys, const char *s, size_t n,
                                int64_t *out)
{
    char norm[CODE_MAX_CHARS + 1];
    size_t k;
    if (sys == SYS_NONE) {
        for (int i = 1; i < SYS_COUNT; i++)
            if (mask == SYS_BIT(i)) sys = (CodeSystem)i;
        if (sys == SYS_NONE) sys = code_infer_system(s, n, mask);
    }
    if (sys == SYS_NONE || !(mask & SYS_BIT(sys)) || !code_normalize(sys, s, n, norm, &k, NULL))
        return false;
    *out = (int64_t)code_key(sys, norm, k);
    return true;
}

/* True when v is a string naming a member of enum field pf, with its index
 * in *out. */
static inline bool jo_member_of(const Prog *p, const PField *pf, json_t *v, int64_t *out)
{
    if (!json_is_string(v)) return false;
    for (uint32_t m = 0; m < pf->enum_count; m++) {
        uint32_t s = p->refs[pf->enum_first + m];
        if (p->strlens[s] == json_string_length(v) &&
            memcmp(p->strs[s], json_string_value(v), p->strlens[s]) == 0) {
            *out = m;
            return true;
        }
    }
    return false;
}

/* The index of the field named k, or p->nfields when there is none. */
static inline uint32_t jo_field_of(const Prog *p, const char *k)
{
    uint32_t f = 0;
    while (f < p->nfields && strcmp(p->strs[p->fields[f].name], k) != 0) f++;
    return f;
}

/* Converts member k (value v, not null) to field f's type into w. line and
 * len are the whole line, for the text of a money number. */
static inline void jo_want_member(const Prog *p, uint32_t f, const char *k, json_t *v,
                                  const char *line, size_t len, JoWant *w)
{
    const PField *pf = &p->fields[f];
    w->present |= 1ull << f;
    switch ((ValType)pf->type) {
    case VT_BOOL:
        if (!json_is_boolean(v)) jo_no(w, "bool");
        w->i[f] = json_is_true(v);
        break;
    case VT_INT:
        if (!json_is_integer(v)) jo_no(w, "int");
        else w->i[f] = json_integer_value(v);
        break;
    case VT_MONEY: {
        const char *t;
        size_t tn;
        if (!json_is_number(v)) {
            jo_no(w, "money type");
            break;
        }
        if (!jo_top_member(line, len, k, &t, &tn)) {
            if (!w->bug[0]) snprintf(w->bug, sizeof w->bug, "no text for member %s", k);
            break;
        }
        int r = jo_text_to_cents(t, tn, &w->i[f]);
        if (r == 3) {
            w->unjudged = true;
            w->ok = false;
        } else if (r != 0) {
            jo_no(w, "money value");
        } else {
            /* the digit-string method, checked against jansson's double */
            double jv = json_number_value(v), d = (double)w->i[f] / 100 - jv;
            if ((d < 0 ? -d : d) > 1e-9 * (jv < 0 ? -jv : jv) + 0.006 && !w->bug[0])
                snprintf(w->bug, sizeof w->bug, "money %.*s gave %lld cents, jansson %.17g",
                         (int)(tn < 60 ? tn : 60), t, (long long)w->i[f], jv);
        }
        break;
    }
    case VT_STRING:
        if (!json_is_string(v)) jo_no(w, "string type");
        else w->s[f] = json_string_value(v), w->n[f] = json_string_length(v);
        break;
    case VT_CODE: /* the key once the code_system tag is known: jo_want_from */
        if (!json_is_string(v)) jo_no(w, "code type");
        else w->s[f] = json_string_value(v), w->n[f] = json_string_length(v);
        break;
    case VT_DATE: {
        int32_t day;
        if (!json_is_string(v) || !date_parse(json_string_value(v), json_string_length(v), &day))
            jo_no(w, "date");
        else w->i[f] = day;
        break;
    }
    case VT_DATETIME:
        if (!json_is_string(v) ||
            !datetime_parse(json_string_value(v), json_string_length(v), &w->i[f], NULL))
            jo_no(w, "datetime");
        break;
    case VT_ENUM:
        if (!jo_member_of(p, pf, v, &w->i[f])) jo_no(w, "enum");
        break;
    case VT_LIST: {
        size_t i;
        json_t *x;
        int64_t key;
        if (!json_is_array(v)) {
            jo_no(w, "list type");
            break;
        }
        w->list[f] = v;
        w->nitems += json_array_size(v);
        json_array_foreach(v, i, x) {
            if (!json_is_string(x)) jo_no(w, "list element type");
            else if (pf->elem == VT_CODE &&
                     !jo_want_code(pf->systems, SYS_NONE, json_string_value(x),
                                   json_string_length(x), &key))
                jo_no(w, "list code");
        }
        break;
    }
    }
}

/* Applies p's schema to root, jansson's reading of line[0 .. len), into w.
 * Strings in w belong to root: keep it until w is no longer used. A root
 * that is not an object does not fit ("not an object"). */
static inline void jo_want_from(const Prog *p, json_t *root, const char *line, size_t len,
                                JoWant *w)
{
    memset(w, 0, sizeof *w);
    w->ok = true;
    if (!json_is_object(root)) {
        jo_no(w, "not an object");
        return;
    }
    json_t *id = json_object_get(root, "id");
    if (json_is_string(id)) {
        w->has_id = true;
        w->id = json_string_value(id);
        w->id_len = json_string_length(id);
    }
    if (jo_count_keys(root) > REC_MAX_KEYS) jo_no(w, "too many keys");
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        uint32_t f = jo_field_of(p, k);
        if (f == p->nfields) {
            if (jo_depth_of(v) > REC_MAX_DEPTH) jo_no(w, "too deep");
        } else if (json_is_null(v)) {
            if (p->fields[f].flags & PF_REQUIRED) jo_no(w, "required null");
            w->none |= 1ull << f;
        } else {
            jo_want_member(p, f, k, v, line, len, w);
            /* a list given as [] says what null says */
            if (p->fields[f].type == VT_LIST && json_is_array(v) && json_array_size(v) == 0 &&
                !(p->fields[f].flags & PF_REQUIRED)) {
                w->present &= ~(1ull << f);
                w->none |= 1ull << f;
            }
        }
    }
    if (w->nitems > REC_MAX_ITEMS) jo_no(w, "too many list items");
    /* codes last: a code's system may come from its tag field, in any order
     * (once something failed, the tag's value may be meaningless) */
    for (uint32_t f = 0; f < p->nfields && !w->why && !w->bug[0]; f++) {
        const PField *pf = &p->fields[f];
        if (pf->type != VT_CODE || !(w->present >> f & 1)) continue;
        CodeSystem sys = SYS_NONE;
        if (pf->tag_field != PIDX_NONE && (w->present >> pf->tag_field & 1)) {
            const PField *tf = &p->fields[pf->tag_field];
            uint32_t s = p->refs[tf->enum_first + (uint32_t)w->i[pf->tag_field]];
            sys = code_system_from_name(p->strs[s], p->strlens[s]);
        }
        if (!jo_want_code(pf->systems, sys, w->s[f], w->n[f], &w->i[f])) jo_no(w, "code");
    }
    for (uint32_t f = 0; f < p->nfields; f++)
        if ((p->fields[f].flags & PF_REQUIRED) && !(w->present >> f & 1))
            jo_no(w, "missing required");
    uint32_t at = p->f_service_at, sd = p->f_service_date;
    if (!w->why && at != PIDX_NONE && sd != PIDX_NONE && (w->present >> at & 1) &&
        (w->present >> sd & 1)) {
        int64_t day = w->i[at] / SECONDS_PER_DAY - (w->i[at] % SECONDS_PER_DAY < 0);
        if (day != w->i[sd]) jo_no(w, "service_at not on service_date");
    }
}

/* ---- holding a decoded record against the oracle -------------------------- */

/* Compares record r (decoded for p) with w (w->ok): NULL when every present
 * field, list item and code key is equal; else msg (cap bytes, the
 * caller's), describing the first difference. */
static inline const char *jo_compare(const Prog *p, const Record *r, const JoWant *w, char *msg,
                                     size_t cap)
{
    if (r->present != w->present) {
        snprintf(msg, cap, "present %llx, oracle %llx", (unsigned long long)r->present,
                 (unsigned long long)w->present);
        return msg;
    }
    if (r->none != w->none) {
        snprintf(msg, cap, "none %llx, oracle %llx", (unsigned long long)r->none,
                 (unsigned long long)w->none);
        return msg;
    }
    for (uint32_t f = 0; f < p->nfields; f++) {
        if (!(w->present >> f & 1)) continue;
        const PField *pf = &p->fields[f];
        const char *name = p->strs[pf->name];
        const RecVal *v = &r->v[f];
        switch ((ValType)pf->type) {
        case VT_STRING:
            if (v->n != w->n[f]) {
                snprintf(msg, cap, "field %s: %u bytes, oracle %zu", name, v->n, w->n[f]);
                return msg;
            }
            if (memcmp(v->s, w->s[f], w->n[f]) != 0) {
                snprintf(msg, cap, "field %s: the text differs", name);
                return msg;
            }
            break;
        case VT_LIST: {
            json_t *a = w->list[f];
            if (v->n != json_array_size(a)) {
                snprintf(msg, cap, "field %s: %u items, oracle %zu", name, v->n, json_array_size(a));
                return msg;
            }
            for (uint32_t k = 0; k < v->n; k++) {
                const RecVal *it = &r->items[v->i + k];
                json_t *x = json_array_get(a, k);
                if (it->n != json_string_length(x) ||
                    memcmp(it->s, json_string_value(x), it->n) != 0) {
                    snprintf(msg, cap, "field %s: item %u differs", name, k);
                    return msg;
                }
                int64_t key = 0;
                if (pf->elem == VT_CODE &&
                    (!jo_want_code(pf->systems, SYS_NONE, it->s, it->n, &key) || it->i != key)) {
                    snprintf(msg, cap, "field %s: item %u has key %llx, oracle %llx", name, k,
                             (unsigned long long)it->i, (unsigned long long)key);
                    return msg;
                }
            }
            break;
        }
        default:
            if (v->i != w->i[f]) {
                snprintf(msg, cap, "field %s: %lld, oracle %lld", name, (long long)v->i,
                         (long long)w->i[f]);
                return msg;
            }
        }
    }
    return NULL;
}

/* Checks the id a record offers (rec_decode's, or rec_partial's after a
 * rejection): NULL when it offers exactly w's id, and none when the
 * top-level "id" is not a string; else what is wrong (a static string). */
static inline const char *jo_check_id(const Record *r, const JoWant *w)
{
    if (r->has_id != w->has_id)
        return w->has_id ? "the record's id was not offered" : "an id was offered, the record has none";
    if (w->has_id && (r->id_len != w->id_len || memcmp(r->id, w->id, w->id_len) != 0))
        return "the offered id differs from the record's";
    return NULL;
}

#endif
