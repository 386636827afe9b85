/* out.c: rendering decision lines (the format is documented in out.h).
 *
 * Fixed fragments are rendered once per policy into OutPolicy.text; a
 * decision line copies them and renders only what varies: the id, the
 * reviewers, the deadline. No printf, no strlen on Prog strings (their
 * lengths are Prog.strlens). */
#include "out.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ast.h" /* Outcome */
#include "dates.h"

/* Appends a string literal without strlen. */
#define PUT_LIT(b, lit) buf_put((b), (lit), sizeof(lit) - 1)

typedef struct Frag {
    uint32_t off, len; /* bytes text[off .. off + len) */
} Frag;

struct OutPolicy {
    const Prog *p;
    char *text;    /* every fragment back to back (owned; not NUL-terminated) */
    Frag policy;   /* "\"ID@VERSION\"" */
    Frag *rule_id; /* per rule: its id as a JSON string */
    Frag *reason;  /* per rule: its whole reasons-array object */
    Frag *field;   /* per schema field: its name as a JSON string */
};

typedef struct Name {
    const char *name; /* as in the output, unquoted */
    const char *json; /* the same, quoted */
    uint8_t len;      /* strlen(json) */
} Name;

#define NAME(s) {s, "\"" s "\"", sizeof(s) + 1}

static const Name decision_names[] = {
    [PCR_DEC_NONE] = NAME("none"),
    [PCR_DEC_NOTIFICATION] = NAME("notification"),
    [PCR_DEC_PRIOR_AUTH] = NAME("prior_auth"),
    [PCR_DEC_NOT_COVERED] = NAME("not_covered"),
    [PCR_DEC_INFO_NEEDED] = NAME("info_needed"),
    [PCR_DEC_NO_POLICY] = NAME("no_policy"),
    [PCR_DEC_ERROR] = NAME("error"),
};

static const Name outcome_names[] = {
    [OUT_NONE] = NAME("none"),
    [OUT_NOTIFICATION] = NAME("notification"),
    [OUT_PRIOR_AUTH] = NAME("prior_auth"),
    [OUT_NOT_COVERED] = NAME("not_covered"),
    [OUT_EXEMPT] = NAME("exempt"),
};

#undef NAME

static const Name *decision_name(pcr_decision_kind k)
{
    size_t n = sizeof decision_names / sizeof decision_names[0];
    return (unsigned)k < n ? &decision_names[k] : &decision_names[PCR_DEC_ERROR];
}

/* See out.h: the static name of k ("error" for values out of range). */
const char *out_decision_name(pcr_decision_kind k) { return decision_name(k)->name; }

/* ---- per-policy fragments ------------------------------------------------ */

static void put_pstr(Buf *b, const Prog *p, uint32_t s)
{
    buf_put_json_str(b, p->strs[s], p->strlens[s]);
}

/* Renders whatever put appended to b since `start` as a fragment. */
static Frag frag_since(const Buf *b, size_t start)
{
    Frag f = {(uint32_t)start, (uint32_t)(b->n - start)};
    return f;
}

/* Renders a JSON string made of two Prog strings joined by sep. */
static void put_joined(Buf *b, const Prog *p, uint32_t x, const char *sep, size_t seplen, uint32_t y)
{
    size_t nx = p->strlens[x], ny = p->strlens[y];
    char *tmp = xmalloc(nx + seplen + ny);
    memcpy(tmp, p->strs[x], nx);
    memcpy(tmp + nx, sep, seplen);
    memcpy(tmp + nx + seplen, p->strs[y], ny);
    buf_put_json_str(b, tmp, nx + seplen + ny);
    free(tmp);
}

static void put_reason(Buf *b, const Prog *p, const PRule *rule)
{
    PUT_LIT(b, "{\"rule\":");
    put_pstr(b, p, rule->id);
    PUT_LIT(b, ",\"title\":");
    if (rule->title != PIDX_NONE) put_pstr(b, p, rule->title);
    else PUT_LIT(b, "null");
    PUT_LIT(b, ",\"outcome\":");
    const Name *o = rule->outcome <= OUT_EXEMPT ? &outcome_names[rule->outcome] : &outcome_names[OUT_NONE];
    buf_put(b, o->json, o->len);
    PUT_LIT(b, ",\"citation\":");
    if (rule->cite_doc == PIDX_NONE) PUT_LIT(b, "null");
    else if (rule->cite_section == PIDX_NONE) put_pstr(b, p, rule->cite_doc);
    else put_joined(b, p, rule->cite_doc, ", ", 2, rule->cite_section);
    buf_putc(b, '}');
}

/* Renders p's fixed fragments once; the caller owns the result. */
OutPolicy *out_policy_new(const Prog *p)
{
    OutPolicy *o = xcalloc(1, sizeof *o);
    Buf b = {0};
    size_t start;
    o->p = p;
    o->rule_id = xcalloc(p->nrules, sizeof *o->rule_id);
    o->reason = xcalloc(p->nrules, sizeof *o->reason);
    o->field = xcalloc(p->nfields, sizeof *o->field);

    start = b.n;
    put_joined(&b, p, p->id, "@", 1, p->version);
    o->policy = frag_since(&b, start);
    for (uint32_t r = 0; r < p->nrules; r++) {
        start = b.n;
        put_pstr(&b, p, p->rules[r].id);
        o->rule_id[r] = frag_since(&b, start);
        start = b.n;
        put_reason(&b, p, &p->rules[r]);
        o->reason[r] = frag_since(&b, start);
    }
    for (uint32_t f = 0; f < p->nfields; f++) {
        start = b.n;
        put_pstr(&b, p, p->fields[f].name);
        o->field[f] = frag_since(&b, start);
    }
    o->text = b.p; /* the buffer's storage becomes ours */
    return o;
}

/* Frees o (not its Prog). NULL is fine. */
void out_policy_free(OutPolicy *o)
{
    if (!o) return;
    free(o->text);
    free(o->rule_id);
    free(o->reason);
    free(o->field);
    free(o);
}

/* ---- lines --------------------------------------------------------------- */

static void put_frag(Buf *b, const OutPolicy *o, Frag f) { buf_put(b, o->text + f.off, f.len); }

/* Writes v as exactly n decimal digits (v < 10^n). */
static char *put_digits(char *w, unsigned v, int n)
{
    for (int k = n - 1; k >= 0; k--) {
        w[k] = (char)('0' + v % 10);
        v /= 10;
    }
    return w + n;
}

/* Writes the deadline as "YYYY-MM-DD" (a date, in days) or
 * "YYYY-MM-DDTHH:MM" (a datetime, in seconds), NUL-terminated; returns its
 * length. s needs OUT_DEADLINE_MAX bytes. */
size_t out_format_deadline(char *s, bool is_date, int64_t v)
{
    char *w = s;
    int64_t day = v, rem = 0;
    if (!is_date) {
        day = v / SECONDS_PER_DAY;
        rem = v % SECONDS_PER_DAY;
        if (rem < 0) day--, rem += SECONDS_PER_DAY;
    }
    int y, m, d;
    date_to_ymd((int32_t)day, &y, &m, &d);
    w = put_digits(w, (unsigned)((y % 10000 + 10000) % 10000), 4);
    *w++ = '-';
    w = put_digits(w, (unsigned)m, 2);
    *w++ = '-';
    w = put_digits(w, (unsigned)d, 2);
    if (!is_date) {
        *w++ = 'T';
        w = put_digits(w, (unsigned)(rem / 3600), 2);
        *w++ = ':';
        w = put_digits(w, (unsigned)(rem % 3600 / 60), 2);
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void put_deadline(Buf *b, bool is_date, int64_t v)
{
    char s[OUT_DEADLINE_MAX];
    size_t n = out_format_deadline(s, is_date, v);
    buf_putc(b, '"');
    buf_put(b, s, n);
    buf_putc(b, '"');
}

static void put_head(Buf *b, const char *id, size_t id_len, pcr_decision_kind k)
{
    const Name *n = decision_name(k);
    PUT_LIT(b, "{\"id\":");
    if (id) buf_put_json_str(b, id, id_len);
    else PUT_LIT(b, "null");
    PUT_LIT(b, ",\"decision\":");
    buf_put(b, n->json, n->len);
}

/* The keys after "decision" of a line that no policy decided. */
#define UNDECIDED_TAIL                                                                         \
    ",\"policy\":null,\"reviewer\":null,\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[]"

/* Appends d's line (see out.h for the keys); d must come from a VM over
 * o's Prog. Reviewer, deadline and timely are null for info_needed. */
void out_decision(Buf *b, const OutPolicy *o, const char *id, size_t id_len, const Decision *d)
{
    const Prog *p = o->p;
    bool info = d->kind == PCR_DEC_INFO_NEEDED;

    put_head(b, id, id_len, d->kind);
    PUT_LIT(b, ",\"policy\":");
    put_frag(b, o, o->policy);

    PUT_LIT(b, ",\"reviewer\":");
    if (info || d->nreviewers == 0) {
        PUT_LIT(b, "null");
    } else if (d->nreviewers == 1) {
        put_pstr(b, p, d->reviewers[0]);
    } else {
        buf_putc(b, '[');
        for (uint32_t k = 0; k < d->nreviewers; k++) {
            if (k) buf_putc(b, ',');
            put_pstr(b, p, d->reviewers[k]);
        }
        buf_putc(b, ']');
    }

    PUT_LIT(b, ",\"deadline\":");
    if (info || !d->has_deadline) PUT_LIT(b, "null");
    else put_deadline(b, d->deadline_is_date, d->deadline);

    PUT_LIT(b, ",\"timely\":");
    if (info || d->timely < 0) PUT_LIT(b, "null");
    else if (d->timely) PUT_LIT(b, "true");
    else PUT_LIT(b, "false");

    PUT_LIT(b, ",\"rules\":[");
    for (uint32_t k = 0; k < d->nrules; k++) {
        if (k) buf_putc(b, ',');
        put_frag(b, o, o->rule_id[d->rules[k]]);
    }
    PUT_LIT(b, "],\"reasons\":[");
    for (uint32_t k = 0; k < d->nrules; k++) {
        if (k) buf_putc(b, ',');
        put_frag(b, o, o->reason[d->rules[k]]);
    }
    buf_putc(b, ']');

    if (info) {
        PUT_LIT(b, ",\"missing\":[");
        bool first = true;
        for (uint32_t f = 0; f < p->nfields; f++) {
            if (!(d->missing >> f & 1)) continue;
            if (!first) buf_putc(b, ',');
            put_frag(b, o, o->field[f]);
            first = false;
        }
        buf_putc(b, ']');
    }
    PUT_LIT(b, "}\n");
}

/* Appends a no_policy line for id (NULL gives "id":null). */
void out_no_policy(Buf *b, const char *id, size_t id_len, const char *why, size_t why_len)
{
    put_head(b, id, id_len, PCR_DEC_NO_POLICY);
    PUT_LIT(b, UNDECIDED_TAIL ",\"why\":");
    buf_put_json_str(b, why, why_len);
    PUT_LIT(b, "}\n");
}

/* Appends an error line: id or null, and msg (NUL-terminated). */
void out_error(Buf *b, const char *id, size_t id_len, const char *msg)
{
    put_head(b, id, id_len, PCR_DEC_ERROR);
    PUT_LIT(b, UNDECIDED_TAIL ",\"error\":");
    buf_put_json_str(b, msg, strlen(msg));
    PUT_LIT(b, "}\n");
}
