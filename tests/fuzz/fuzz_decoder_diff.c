/* fuzz_decoder_diff.c: the record decoder (src/rec.h) against jansson.
 *
 * The input is one record line. The schema is the standard request schema
 * (policies/std/request.pcr) plus `tags: list string`, compiled from the
 * source below in LLVMFuzzerInitialize. The same bytes go to rec_decode and
 * to json_loadb(JSON_REJECT_DUPLICATES); then:
 *
 *   a raw NUL byte anywhere        -> rec_decode must reject (jansson is no
 *                                     judge here: its reader can skip one);
 *   jansson rejects                -> rec_decode must reject. Except when
 *                                     jansson's reason is a number it cannot
 *                                     hold (1e999, 2^64: valid JSON, so no
 *                                     verdict);
 *   jansson accepts a non-object   -> rec_decode must reject;
 *   jansson accepts an object      -> the oracle below applies the schema to
 *                                     jansson's values (the decoder's limits
 *                                     on keys, items and nesting included;
 *                                     dates and codes through dates.c and
 *                                     codes.c; money from the number's text
 *                                     by an independent digit-string method).
 *                                     If every member fits, rec_decode must
 *                                     accept with equal values; if one does
 *                                     not, it must reject. Either way the id
 *                                     must be offered (rec_partial) when the
 *                                     top-level "id" is a string.
 *
 * Any disagreement traps (FZ_CHECK). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "dates.h"
#include "fuzz_util.h"
#include "pcr/pcr.h"
#include "policy.h"
#include "prog.h"
#include "rec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_src[] =
    "schema request {\n"
    "  id: string required\n"
    "  payer: string required\n"
    "  plan: string\n"
    "  network: enum { \"in\", \"out\" }\n"
    "  setting: enum {\n"
    "    inpatient, outpatient, ambulatory_surgery, office, home, emergency, observation,\n"
    "    skilled_nursing, rehabilitation, ltac, hospice, residential, partial_hospital,\n"
    "    intensive_outpatient, ambulance\n"
    "  }\n"
    "  admission: enum { elective, emergency, urgent, maternity, newborn, transfer }\n"
    "  admitted_from_er: bool = false\n"
    "  delivery: enum { vaginal, cesarean }\n"
    "  stay_hours: int\n"
    "  code: code(CPT, HCPCS, REV) system code_system\n"
    "  code_system: enum { CPT, HCPCS, REV }\n"
    "  diagnoses: list code(ICD10)\n"
    "  units: int\n"
    "  price: money\n"
    "  visit_number: int\n"
    "  state: string\n"
    "  member_age: int\n"
    "  medicare_primary: bool = false\n"
    "  medicare_exhausted: bool = false\n"
    "  clinical_trial: bool = false\n"
    "  emergent: bool = false\n"
    "  service_date: date required\n"
    "  requested_at: datetime\n"
    "  tags: list string\n"
    "}\n"
    "policy diff {\n"
    "  payer \"diff\"\n"
    "  title \"decoder differential\"\n"
    "  version \"1\"\n"
    "  effective 2020-01-01\n"
    "}\n";

/* Set once by LLVMFuzzerInitialize (see fuzz_util.h). */
static struct {
    pcr_policy *pol; /* owns the Prog */
    const Prog *p;
    RecDecoder *dec;
} fz;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    pcr_diags *d = NULL;
    size_t len = sizeof schema_src - 1;
    if (pcr_compile_buffer("decoder_diff.pcr", schema_src, len, NULL, &fz.pol, &d) != PCR_OK) {
        pcr_diags_print(d, stderr, false);
        exit(2);
    }
    pcr_diags_free(d);
    fz.p = fz.pol->prog;
    fz.dec = rec_decoder_new(fz.p);
    if (!fz.dec) exit(2);
    return 0;
}

/* ---- the oracle ------------------------------------------------------------- */

typedef struct Want {
    bool ok;                       /* every member fits the schema */
    const char *why;               /* the first reason it does not */
    uint64_t present;
    int64_t i[PCR_MAX_FIELDS];
    const char *s[PCR_MAX_FIELDS]; /* strings and code texts, jansson's */
    size_t n[PCR_MAX_FIELDS];
    json_t *list[PCR_MAX_FIELDS];
    size_t nitems;
} Want;

static void no(Want *w, const char *why)
{
    if (w->ok) w->why = why;
    w->ok = false;
}

/* Keys at every depth (REC_MAX_KEYS counts them all). */
static size_t count_keys(json_t *v)
{
    size_t n = 0, i;
    const char *k;
    json_t *x;
    if (json_is_object(v)) json_object_foreach(v, k, x) n += 1 + count_keys(x);
    else if (json_is_array(v)) json_array_foreach(v, i, x) n += count_keys(x);
    return n;
}

/* Levels of arrays and objects: 0 for a scalar. */
static int depth_of(json_t *v)
{
    int d = 0, dx;
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_object(v)) {
        json_object_foreach(v, k, x) if ((dx = depth_of(x)) > d) d = dx;
        return d + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if ((dx = depth_of(x)) > d) d = dx;
        return d + 1;
    }
    return 0;
}

/* ---- the text of a top-level member, in a line jansson accepted ---- */

static void skip_ws(const char *s, size_t n, size_t *i)
{
    while (*i < n && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\r' || s[*i] == '\n')) (*i)++;
}

static void skip_string(const char *s, size_t *i)
{
    for ((*i)++; s[*i] != '"'; (*i)++)
        if (s[*i] == '\\') (*i)++;
    (*i)++;
}

/* Reads the key at s[*i] (a valid JSON string): true when, unescaped, it is
 * exactly want (ASCII). */
static bool key_is(const char *s, size_t *i, const char *want)
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

/* The text of top-level member `want` (keys are unique: jansson checked). */
static bool top_member(const char *s, size_t n, const char *want, const char **vs, size_t *vn)
{
    size_t i = 0;
    skip_ws(s, n, &i);
    i++; /* '{' */
    for (;;) {
        skip_ws(s, n, &i);
        if (s[i] == '}') return false;
        bool hit = key_is(s, &i, want);
        skip_ws(s, n, &i);
        i++; /* ':' */
        skip_ws(s, n, &i);
        size_t start = i;
        if (s[i] == '"') {
            skip_string(s, &i);
        } else if (s[i] == '{' || s[i] == '[') {
            int depth = 0;
            do {
                if (s[i] == '"') {
                    skip_string(s, &i);
                    continue;
                }
                if (s[i] == '{' || s[i] == '[') depth++;
                if (s[i] == '}' || s[i] == ']') depth--;
                i++;
            } while (depth > 0);
        } else {
            while (i < n && !strchr(",}] \t\r\n", s[i])) i++;
        }
        if (hit) {
            *vs = s + start;
            *vn = i - start;
            return true;
        }
        skip_ws(s, n, &i);
        if (s[i++] != ',') return false;
    }
}

/* Exact cents of a JSON number's text, by moving the decimal point along
 * the digit string: 0 whole cents (in *out), 1 finer than cents, 2 beyond
 * int64, 3 too long for this oracle. */
static int text_to_cents(const char *t, size_t n, int64_t *out)
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
    if (i < n) { /* 'e' or 'E' */
        char e[32];
        size_t en = n - i - 1 < sizeof e - 1 ? n - i - 1 : sizeof e - 1;
        memcpy(e, t + i + 1, en);
        e[en] = '\0';
        exp = strtoll(e, NULL, 10); /* a longer exponent saturates the same way */
        if (n - i - 1 > sizeof e - 1) exp = e[0] == '-' ? -1000000 : 1000000;
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

static bool want_code(unsigned mask, CodeSystem sys, const char *s, size_t n, int64_t *out)
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

static bool member_of(const Prog *p, const PField *pf, json_t *v, int64_t *out)
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

static uint32_t field_of(const Prog *p, const char *k)
{
    uint32_t f = 0;
    while (f < p->nfields && strcmp(p->strs[p->fields[f].name], k) != 0) f++;
    return f;
}

/* One member's value, converted to field f's type. */
static void want_member(const Prog *p, uint32_t f, const char *k, json_t *v, const char *line,
                        size_t len, Want *w)
{
    const PField *pf = &p->fields[f];
    w->present |= 1ull << f;
    switch ((ValType)pf->type) {
    case VT_BOOL:
        if (!json_is_boolean(v)) no(w, "bool");
        w->i[f] = json_is_true(v);
        break;
    case VT_INT:
        if (!json_is_integer(v)) no(w, "int");
        else w->i[f] = json_integer_value(v);
        break;
    case VT_MONEY: {
        const char *t;
        size_t tn;
        if (!json_is_number(v)) {
            no(w, "money type");
            break;
        }
        FZ_CHECK(top_member(line, len, k, &t, &tn), "oracle: no text for %s", k);
        int r = text_to_cents(t, tn, &w->i[f]);
        if (r == 3) no(w, NULL); /* no verdict: see the caller */
        else if (r != 0) no(w, "money value");
        break;
    }
    case VT_STRING:
    case VT_CODE:
        if (!json_is_string(v)) no(w, "string type");
        else w->s[f] = json_string_value(v), w->n[f] = json_string_length(v);
        break;
    case VT_DATE: {
        int32_t day;
        if (!json_is_string(v) || !date_parse(json_string_value(v), json_string_length(v), &day))
            no(w, "date");
        else w->i[f] = day;
        break;
    }
    case VT_DATETIME:
        if (!json_is_string(v) ||
            !datetime_parse(json_string_value(v), json_string_length(v), &w->i[f], NULL))
            no(w, "datetime");
        break;
    case VT_ENUM:
        if (!member_of(p, pf, v, &w->i[f])) no(w, "enum");
        break;
    case VT_LIST: {
        size_t i;
        json_t *x;
        int64_t key;
        if (!json_is_array(v)) {
            no(w, "list type");
            break;
        }
        w->list[f] = v;
        w->nitems += json_array_size(v);
        json_array_foreach(v, i, x) {
            if (!json_is_string(x)) no(w, "list element type");
            else if (pf->elem == VT_CODE &&
                     !want_code(pf->systems, SYS_NONE, json_string_value(x), json_string_length(x),
                                &key))
                no(w, "list code");
        }
        break;
    }
    }
}

/* The schema applied to jansson's object. */
static void want_from(const Prog *p, json_t *root, const char *line, size_t len, Want *w)
{
    memset(w, 0, sizeof *w);
    w->ok = true;
    if (count_keys(root) > REC_MAX_KEYS) no(w, "too many keys");
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        uint32_t f = field_of(p, k);
        if (f == p->nfields) {
            if (depth_of(v) > REC_MAX_DEPTH) no(w, "too deep");
        } else if (!json_is_null(v)) {
            want_member(p, f, k, v, line, len, w);
        }
    }
    if (w->nitems > REC_MAX_ITEMS) no(w, "too many list items");
    for (uint32_t f = 0; f < p->nfields && w->ok; f++) {
        const PField *pf = &p->fields[f];
        if (pf->type != VT_CODE || !(w->present >> f & 1)) continue;
        CodeSystem sys = SYS_NONE;
        if (pf->tag_field != PIDX_NONE && (w->present >> pf->tag_field & 1)) {
            const PField *tf = &p->fields[pf->tag_field];
            uint32_t s = p->refs[tf->enum_first + (uint32_t)w->i[pf->tag_field]];
            sys = code_system_from_name(p->strs[s], p->strlens[s]);
        }
        if (!want_code(pf->systems, sys, w->s[f], w->n[f], &w->i[f])) no(w, "code");
    }
    for (uint32_t f = 0; f < p->nfields; f++)
        if ((p->fields[f].flags & PF_REQUIRED) && !(w->present >> f & 1)) no(w, "missing required");
}

/* ---- comparing -------------------------------------------------------------- */

static void compare(const Prog *p, const Record *r, const Want *w)
{
    FZ_CHECK(r->present == w->present, "present %llx, oracle %llx", (unsigned long long)r->present,
             (unsigned long long)w->present);
    for (uint32_t f = 0; f < p->nfields; f++) {
        if (!(w->present >> f & 1)) continue;
        const PField *pf = &p->fields[f];
        const char *name = p->strs[pf->name];
        const RecVal *v = &r->v[f];
        switch ((ValType)pf->type) {
        case VT_STRING:
            FZ_CHECK(v->n == w->n[f] && memcmp(v->s, w->s[f], w->n[f]) == 0,
                     "field %s: %u bytes, oracle %zu", name, v->n, w->n[f]);
            break;
        case VT_LIST: {
            json_t *a = w->list[f];
            FZ_CHECK(v->n == json_array_size(a), "field %s: %u items, oracle %zu", name, v->n,
                     json_array_size(a));
            for (uint32_t k = 0; k < v->n; k++) {
                const RecVal *it = &r->items[v->i + k];
                json_t *x = json_array_get(a, k);
                FZ_CHECK(it->n == json_string_length(x) &&
                             memcmp(it->s, json_string_value(x), it->n) == 0,
                         "field %s: item %u differs", name, k);
                if (pf->elem == VT_CODE) {
                    int64_t key = 0;
                    FZ_CHECK(want_code(pf->systems, SYS_NONE, it->s, it->n, &key) && it->i == key,
                             "field %s: item %u has key %llx", name, k, (unsigned long long)it->i);
                }
            }
            break;
        }
        default:
            FZ_CHECK(v->i == w->i[f], "field %s: %lld, oracle %lld", name, (long long)v->i,
                     (long long)w->i[f]);
        }
    }
}

/* The id rec_decode (or rec_partial after a rejection) offers. */
static void check_id(const Record *r, json_t *root)
{
    json_t *id = json_object_get(root, "id");
    if (!json_is_string(id)) return;
    FZ_CHECK(r->has_id, "the record's id was not offered");
    FZ_CHECK(r->id_len == json_string_length(id) &&
                 memcmp(r->id, json_string_value(id), r->id_len) == 0,
             "the offered id differs from the record's");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    const Record *r = rec_decode(fz.dec, line, size, 1);
    const char *err = rec_error(fz.dec);
    if (!r) FZ_CHECK(strncmp(err, "record 1: ", 10) == 0 && err[10], "bad error text: %s", err);
    /* A raw NUL byte is never valid JSON, but jansson's reader can skip one
     * (after a number it reads "29\0.," as 29): no oracle needed. */
    if (memchr(line, '\0', size)) {
        FZ_CHECK(!r, "rec_decode accepts a line with a NUL byte");
        return 0;
    }
    json_error_t je;
    json_t *root = json_loadb(line, size, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (json_error_code(&je) != json_error_numeric_overflow)
            FZ_CHECK(!r, "jansson rejects (%s at byte %d), rec_decode accepts", je.text,
                     je.position);
        return 0;
    }
    if (!json_is_object(root)) {
        FZ_CHECK(!r, "rec_decode accepts a JSON value that is not an object");
        json_decref(root);
        return 0;
    }
    Want w;
    want_from(fz.p, root, line, size, &w);
    if (w.ok) {
        FZ_CHECK(r, "rec_decode rejects a record the schema accepts: %s", err);
        compare(fz.p, r, &w);
        check_id(r, root);
    } else if (w.why) { /* NULL: the oracle cannot judge (an over-long number) */
        FZ_CHECK(!r, "rec_decode accepts a record the schema rejects (%s)", w.why);
        check_id(rec_partial(fz.dec), root);
    }
    json_decref(root);
    return 0;
}
