/* out.c: rendering decision lines (the format is documented in out.h).
 *
 * Fixed fragments are rendered once per policy into OutPolicy.text; a
 * decision line copies them and renders only what varies: the id, the
 * reviewers, the deadline. No printf, no strlen on Prog strings (their
 * lengths are Prog.strlens). */
#include "out.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "bytes.h"
#include "dates.h"

/* Appends a string literal without strlen. */
#define PUT_LIT(b, lit) buf_put((b), (lit), sizeof(lit) - 1)

typedef struct Frag {
    uint32_t off, len; /* bytes text[off .. off + len) */
} Frag;

struct OutPolicy {
    const Prog *p;
    Buf text;      /* every fragment rendered so far, back to back (not NUL-terminated) */
    Frag policy;   /* "\"ID@VERSION\"" */
    /* The per-rule fragments below are rendered the first time a line
     * names the rule (out_need_rules): a policy of 10,000 rules renders
     * only those a batch fires, not megabytes at load. rule_id[r].len is 0
     * until then (an id's fragment has at least its two quotes). The room
     * for all of them is reserved in text at load (rule_room), so text
     * never moves: only the pages written become resident, and nothing is
     * allocated while lines are written (a buffer grown then would sit
     * above memory the caller frees, as a PostgreSQL backend's per-query
     * memory, and keep the allocator from returning it). */
    Frag *rule_id; /* per rule: its id as a JSON string */
    Frag *reason;  /* per rule: its whole reasons-array object */
    Frag *cite;    /* per rule: its citations, each a JSON string, at cite[cite_at[r] ..] */
    uint32_t *cite_at; /*   (nrules + 1 entries: rule r has cite_at[r + 1] - cite_at[r]) */
    Frag *field;   /* per schema field: its name as a JSON string */
    /* Per rule, the fixed parts of an obligation made from it (all rules of
     * an obligation share the first one's outcome and reviewers): */
    Frag *reviewer;   /* its reviewers: null, "a" or ["a","b"] */
    Frag *obl_open;   /* {"outcome":O,"reviewer":R,"deadline": */
    Frag *obl_close;  /* ,"rules":["id"],"citations":[...]}  (one rule, certain) */
    Frag *obl_rules;  /* ,"rules":["id"],"missing":  (one rule, possible) */
    /* Per decision kind: */
    Frag head[PCR_DEC_ERROR + 1];  /* ,"decision":"K","policy":"ID@VERSION","reviewer": */
    Frag empty[PCR_DEC_ERROR + 1]; /* the same, then every later key empty, "}\n": the
                                      whole rest of a line with no rule (most lines) */
    Frag *one_rule; /* per rule: ,"rules":["id"],"reasons":[{reason}],"obligations":[ */
    /* A line whose one rule makes its one obligation, nothing left open
     * (most decided lines), per rule: */
    Frag *solo_mid;  /* one_rule, then obl_open */
    Frag *solo_tail; /* obl_close, then ],"possible":[],"missing":[]}\n */
    /* The last deadline day written, formatted (the only state a line
     * changes): a line's deadlines, and those of the lines around it, mostly
     * fall on one day, and date_to_ymd costs more than the rest of a date. */
    bool ymd_valid;
    int32_t ymd_day;
    char ymd[10]; /* "YYYY-MM-DD" of ymd_day, not NUL-terminated */
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
    [OUT_ADVISORY] = NAME("advisory"),
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

/* Appends a copy of fragment f of b itself (b may move as it grows). */
static void put_frag_of(Buf *b, Frag f)
{
    buf_reserve(b, f.len);
    memcpy(b->p + b->n, b->p + f.off, f.len);
    b->n += f.len;
}

/* What follows "reviewer": in a line with no rule and no obligation. */
#define EMPTY_TAIL                                                                             \
    "null,\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[],\"obligations\":[],"   \
    "\"possible\":[],\"missing\":[]}\n"

/* The end of a decided line with nothing left open. */
#define SOLO_END "],\"possible\":[],\"missing\":[]}\n"

static const Name *outcome_name(unsigned o)
{
    return o < OUT__COUNT ? &outcome_names[o] : &outcome_names[OUT_NONE];
}

/* See out.h. */
const char *out_outcome_name(unsigned o) { return outcome_name(o)->name; }

/* Citation k of rule: its document, and its section or PIDX_NONE. */
static uint32_t cite_doc(const Prog *p, const PRule *rule, uint32_t k)
{
    return p->refs[rule->cite_first + 2 * k];
}
static uint32_t cite_section(const Prog *p, const PRule *rule, uint32_t k)
{
    return p->refs[rule->cite_first + 2 * k + 1];
}

/* A rule's reviewers: its own, else the policy's default (if any); their
 * count into *n. */
static const uint32_t *rule_reviewers(const Prog *p, const PRule *rule, uint32_t *n)
{
    *n = rule->rev_count ? rule->rev_count : p->reviewer != PIDX_NONE;
    return rule->rev_count ? p->refs + rule->rev_first : &p->reviewer;
}

/* Citation k of rule as a JSON string: "DOC, SECTION" or "DOC". */
static void put_cite(Buf *b, const Prog *p, const PRule *rule, uint32_t k)
{
    uint32_t doc = cite_doc(p, rule, k), sec = cite_section(p, rule, k);
    if (sec == PIDX_NONE) put_pstr(b, p, doc);
    else put_joined(b, p, doc, ", ", 2, sec);
}

/* A rule's reason object: "citation" is its first citation (or null), as
 * lines had it before rules could cite several places; "citations" all,
 * each one's fragment in cite[k]. */
static void put_reason(Buf *b, const Prog *p, const PRule *rule, Frag *cite)
{
    PUT_LIT(b, "{\"rule\":");
    put_pstr(b, p, rule->id);
    PUT_LIT(b, ",\"title\":");
    if (rule->title != PIDX_NONE) put_pstr(b, p, rule->title);
    else PUT_LIT(b, "null");
    PUT_LIT(b, ",\"outcome\":");
    const Name *o = outcome_name(rule->outcome);
    buf_put(b, o->json, o->len);
    PUT_LIT(b, ",\"citation\":");
    if (rule->cite_count == 0) PUT_LIT(b, "null");
    else put_cite(b, p, rule, 0);
    PUT_LIT(b, ",\"citations\":[");
    for (uint32_t k = 0; k < rule->cite_count; k++) {
        if (k) buf_putc(b, ',');
        size_t start = b->n;
        put_cite(b, p, rule, k);
        cite[k] = frag_since(b, start);
    }
    PUT_LIT(b, "]}");
}

static void put_reviewers(Buf *b, const Prog *p, const uint32_t *rev, uint32_t n);

/* Renders rule r's obl_open at the end of b, its reviewer fragment
 * inside it. */
static void put_obl_open(Buf *b, OutPolicy *o, uint32_t r)
{
    const Prog *p = o->p;
    const PRule *rule = &p->rules[r];
    uint32_t nrev;
    const uint32_t *rev = rule_reviewers(p, rule, &nrev);
    size_t start = b->n;
    const Name *n = outcome_name(rule->outcome);
    PUT_LIT(b, "{\"outcome\":");
    buf_put(b, n->json, n->len);
    PUT_LIT(b, ",\"reviewer\":");
    size_t at = b->n;
    put_reviewers(b, p, rev, nrev);
    o->reviewer[r] = frag_since(b, at);
    PUT_LIT(b, ",\"deadline\":");
    o->obl_open[r] = frag_since(b, start);
}

/* Renders rule r's obl_close at the end of b (its id and citations are
 * rendered already). */
static void put_obl_close(Buf *b, OutPolicy *o, uint32_t r)
{
    size_t start = b->n;
    PUT_LIT(b, ",\"rules\":[");
    put_frag_of(b, o->rule_id[r]);
    PUT_LIT(b, "],\"citations\":[");
    for (uint32_t k = o->cite_at[r]; k < o->cite_at[r + 1]; k++) {
        if (k > o->cite_at[r]) buf_putc(b, ',');
        put_frag_of(b, o->cite[k]);
    }
    PUT_LIT(b, "]}");
    o->obl_close[r] = frag_since(b, start);
}

/* At most the bytes of Prog string s as a JSON string. */
static size_t json_room(const Prog *p, uint32_t s) { return buf_json_str_room(p->strs[s], p->strlens[s]); }

/* At most the bytes render_rule writes for rule r: its literals (250
 * bytes with the longest outcome names; 320 counted), its id 4 times, its
 * title, each citation at most 4 times (the first as "citation" too; a
 * section joined to its document by ", ") and each reviewer once, with
 * their commas. render_rule asserts it. */
static size_t rule_room(const Prog *p, uint32_t r)
{
    const PRule *rule = &p->rules[r];
    size_t room = 320 + 4 * json_room(p, rule->id);
    if (rule->title != PIDX_NONE) room += json_room(p, rule->title);
    for (uint32_t k = 0; k < rule->cite_count; k++) {
        uint32_t sec = cite_section(p, rule, k);
        room += 4 * (1 + json_room(p, cite_doc(p, rule, k)) + (sec == PIDX_NONE ? 0 : json_room(p, sec)));
    }
    uint32_t nrev;
    const uint32_t *rev = rule_reviewers(p, rule, &nrev);
    for (uint32_t k = 0; k < nrev; k++) room += 1 + json_room(p, rev[k]);
    return room;
}

/* Renders rule r's fragments at the end of o->text. In the order
 * rendered: one_rule (rule_id and reason inside it), obl_open (reviewer
 * inside it), which together are solo_mid; obl_close, which with SOLO_END
 * is solo_tail; obl_rules. Those that are parts of others point inside
 * them; a line copies fragments whole, so where they lie changes no byte. */
static void render_rule(OutPolicy *o, uint32_t r)
{
    const Prog *p = o->p;
    const PRule *rule = &p->rules[r];
    Buf *b = &o->text;
    size_t one = b->n, at;
    PUT_LIT(b, ",\"rules\":[");
    at = b->n;
    put_pstr(b, p, rule->id);
    o->rule_id[r] = frag_since(b, at);
    PUT_LIT(b, "],\"reasons\":[");
    at = b->n;
    put_reason(b, p, rule, o->cite + o->cite_at[r]);
    o->reason[r] = frag_since(b, at);
    PUT_LIT(b, "],\"obligations\":[");
    o->one_rule[r] = frag_since(b, one);
    put_obl_open(b, o, r);
    o->solo_mid[r] = frag_since(b, one);
    put_obl_close(b, o, r);
    PUT_LIT(b, SOLO_END);
    o->solo_tail[r] = frag_since(b, o->obl_close[r].off);
    at = b->n;
    PUT_LIT(b, ",\"rules\":[");
    put_frag_of(b, o->rule_id[r]);
    PUT_LIT(b, "],\"missing\":");
    o->obl_rules[r] = frag_since(b, at);
    assert(b->n - one <= rule_room(p, r) && "rule_room is not enough: text would move");
}

/* Renders the rules of `rules` that are not rendered yet. */
static inline void need_rules(OutPolicy *o, const uint32_t *rules, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        if (o->rule_id[rules[k]].len == 0) render_rule(o, rules[k]);
}

/* Renders every rule d's line names that is not rendered yet: the fired
 * ones, which include every certain obligation's (vm_combine groups those
 * from d->rules), and the possible obligations' (unknown rules among
 * them). */
static void out_need_rules(OutPolicy *o, const Decision *d)
{
    need_rules(o, d->rules, d->nrules);
    for (uint32_t k = 0; k < d->npossible; k++)
        need_rules(o, d->possible[k].rules, d->possible[k].nrules);
}

/* Renders p's fixed fragments (its rules' are rendered when first named);
 * the caller owns the result. */
OutPolicy *out_policy_new(const Prog *p)
{
    OutPolicy *o = xcalloc(1, sizeof *o);
    Buf *b = &o->text;
    size_t start;
    o->p = p;
    o->rule_id = xcalloc(p->nrules, sizeof *o->rule_id);
    o->reason = xcalloc(p->nrules, sizeof *o->reason);
    o->cite_at = xcalloc((size_t)p->nrules + 1, sizeof *o->cite_at);
    for (uint32_t r = 0; r < p->nrules; r++) o->cite_at[r + 1] = o->cite_at[r] + p->rules[r].cite_count;
    uint32_t ncites = o->cite_at[p->nrules];
    o->cite = xcalloc(ncites ? ncites : 1, sizeof *o->cite);
    o->field = xcalloc(p->nfields, sizeof *o->field);
    o->reviewer = xcalloc(p->nrules, sizeof *o->reviewer);
    o->obl_open = xcalloc(p->nrules, sizeof *o->obl_open);
    o->obl_close = xcalloc(p->nrules, sizeof *o->obl_close);
    o->obl_rules = xcalloc(p->nrules, sizeof *o->obl_rules);
    o->one_rule = xcalloc(p->nrules, sizeof *o->one_rule);
    o->solo_mid = xcalloc(p->nrules, sizeof *o->solo_mid);
    o->solo_tail = xcalloc(p->nrules, sizeof *o->solo_tail);

    start = b->n;
    put_joined(b, p, p->id, "@", 1, p->version);
    o->policy = frag_since(b, start);
    for (unsigned k = 0; k <= PCR_DEC_ERROR; k++) {
        const Name *n = decision_name((pcr_decision_kind)k);
        start = b->n;
        PUT_LIT(b, ",\"decision\":");
        buf_put(b, n->json, n->len);
        PUT_LIT(b, ",\"policy\":");
        put_frag_of(b, o->policy);
        PUT_LIT(b, ",\"reviewer\":");
        o->head[k] = frag_since(b, start);
        PUT_LIT(b, EMPTY_TAIL); /* empty[k] is head[k], then this */
        o->empty[k] = frag_since(b, start);
    }
    for (uint32_t f = 0; f < p->nfields; f++) {
        start = b->n;
        put_pstr(b, p, p->fields[f].name);
        o->field[f] = frag_since(b, start);
    }
    size_t room = 0;
    for (uint32_t r = 0; r < p->nrules; r++) room += rule_room(p, r);
    buf_reserve_exact(b, room);
    return o;
}

/* Frees o (not its Prog). NULL is fine. */
void out_policy_free(OutPolicy *o)
{
    if (!o) return;
    buf_free(&o->text);
    free(o->rule_id);
    free(o->reason);
    free(o->cite);
    free(o->cite_at);
    free(o->reviewer);
    free(o->obl_open);
    free(o->obl_close);
    free(o->obl_rules);
    free(o->one_rule);
    free(o->solo_mid);
    free(o->solo_tail);
    free(o->field);
    free(o);
}

/* ---- lines --------------------------------------------------------------- */

static void put_frag(Buf *b, const OutPolicy *o, Frag f) { buf_put(b, o->text.p + f.off, f.len); }

/* "00" to "99", two bytes each. */
static const char two_digits[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                    "8081828384858687888990919293949596979899";

/* Writes v (< 100) as two decimal digits: one table load, no division. */
static char *put_2digits(char *w, unsigned v)
{
    memcpy(w, two_digits + 2 * v, 2);
    return w + 2;
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
    unsigned y4 = (unsigned)((y % 10000 + 10000) % 10000);
    w = put_2digits(w, y4 / 100);
    w = put_2digits(w, y4 % 100);
    *w++ = '-';
    w = put_2digits(w, (unsigned)m);
    *w++ = '-';
    w = put_2digits(w, (unsigned)d);
    if (!is_date) {
        *w++ = 'T';
        w = put_2digits(w, (unsigned)(rem / 3600));
        *w++ = ':';
        w = put_2digits(w, (unsigned)(rem % 3600 / 60));
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* Writes day's "YYYY-MM-DD" (10 bytes) at w, formatting it only when it
 * is not o's last one. */
static char *put_ymd(OutPolicy *o, char *w, int32_t day)
{
    if (!o->ymd_valid || o->ymd_day != day) {
        char s[OUT_DEADLINE_MAX];
        out_format_deadline(s, true, day);
        memcpy(o->ymd, s, sizeof o->ymd);
        o->ymd_day = day;
        o->ymd_valid = true;
    }
    memcpy(w, o->ymd, sizeof o->ymd);
    return w + sizeof o->ymd;
}

/* A deadline as a JSON string at w, "YYYY-MM-DD" (is_date: v in days) or
 * "YYYY-MM-DDTHH:MM" (v in seconds), as out_format_deadline writes it;
 * writes at most OUT_DEADLINE_MAX bytes, returns the end. */
static char *put_deadline_at(OutPolicy *o, char *w, bool is_date, int64_t v)
{
    *w++ = '"';
    if (is_date) {
        w = put_ymd(o, w, (int32_t)v);
    } else {
        int64_t day = v / SECONDS_PER_DAY, rem = v % SECONDS_PER_DAY;
        if (rem < 0) day--, rem += SECONDS_PER_DAY;
        w = put_ymd(o, w, (int32_t)day);
        *w++ = 'T';
        w = put_2digits(w, (unsigned)(rem / 3600));
        *w++ = ':';
        w = put_2digits(w, (unsigned)(rem % 3600 / 60));
    }
    *w++ = '"';
    return w;
}

static void put_deadline(Buf *b, OutPolicy *o, bool is_date, int64_t v)
{
    if (b->cap - b->n < OUT_DEADLINE_MAX) buf_reserve(b, OUT_DEADLINE_MAX);
    b->n = (size_t)(put_deadline_at(o, b->p + b->n, is_date, v) - b->p);
}

/* Copies fragment f of o to w; returns the end. */
static char *put_frag_at(const OutPolicy *o, char *w, Frag f)
{
    memcpy(w, o->text.p + f.off, f.len);
    return w + f.len;
}

/* Writes `D,"timely":T` at w (D a date, a datetime or null; T true, false
 * or null): at most OUT_DEADLINE_MAX + 16 bytes. */
static char *put_deadline_timely_at(OutPolicy *o, char *w, bool has, bool is_date, int64_t v, int timely)
{
    static const char tf[3][6] = {"null", "false", "true"};
    if (has) {
        w = put_deadline_at(o, w, is_date, v);
    } else {
        memcpy(w, "null", 4);
        w += 4;
    }
    memcpy(w, ",\"timely\":", 10);
    w += 10;
    unsigned t = timely < 0 ? 0 : timely ? 2 : 1;
    memcpy(w, tf[t], 5); /* "null" and "true" copy a NUL the next bytes overwrite */
    return w + 4 + (t == 1);
}

/* A line's start: {"id": and the id, or null. */
static void put_head(Buf *b, const char *id, size_t id_len)
{
    PUT_LIT(b, "{\"id\":");
    if (id) buf_put_json_str(b, id, id_len);
    else PUT_LIT(b, "null");
}

/* The start of a decided line, {"id":"ID", then `rest` (a fragment of
 * o): one room check and plain copies for an id of 1 to 16 bytes without a
 * byte to escape (nearly every id), put_head otherwise. */
static inline __attribute__((always_inline)) void put_head_and(Buf *b, const OutPolicy *o,
                                                                const char *id, size_t id_len,
                                                                Frag rest)
{
    static const char open[8] = "{\"id\":\""; /* 7 bytes and a NUL the id overwrites */
    if (id && id_len - 1 < 16) {
        bool plain;
        if (id_len >= 8) {
            plain = buf_json_plain_8_16(id, id_len);
        } else {
            uint64_t x;
            if (id_len >= 4) {
                x = bytes_le32(id) | bytes_le32(id + id_len - 4) << 32;
            } else {
                /* Bytes 0, n/2 and n - 1 are all of them; 'a' pads the word. */
                x = UINT64_C(0x6161616161000000) | (uint64_t)(unsigned char)id[0] |
                    (uint64_t)(unsigned char)id[id_len / 2] << 8 | (uint64_t)(unsigned char)id[id_len - 1] << 16;
            }
            plain = !buf_json_word_special(x);
        }
        if (plain) {
            size_t need = 8 + 16 + rest.len;
            if (b->cap - b->n < need) buf_reserve(b, need);
            char *w = b->p + b->n;
            memcpy(w, open, 8);
            w += 7;
            if (id_len >= 8) {
                memcpy(w, id, 8);
                memcpy(w + id_len - 8, id + id_len - 8, 8);
            } else if (id_len >= 4) {
                memcpy(w, id, 4);
                memcpy(w + id_len - 4, id + id_len - 4, 4);
            } else {
                w[0] = id[0];
                w[id_len / 2] = id[id_len / 2];
                w[id_len - 1] = id[id_len - 1];
            }
            w += id_len;
            *w++ = '"';
            memcpy(w, o->text.p + rest.off, rest.len);
            b->n = (size_t)(w + rest.len - b->p);
            return;
        }
    }
    put_head(b, id, id_len);
    buf_put(b, o->text.p + rest.off, rest.len);
}

/* put_head, then "decision" (for lines that no policy decided). */
static void put_head_kind(Buf *b, const char *id, size_t id_len, pcr_decision_kind k)
{
    const Name *n = decision_name(k);
    put_head(b, id, id_len);
    PUT_LIT(b, ",\"decision\":");
    buf_put(b, n->json, n->len);
}

/* The keys after "decision" of a line that no policy decided. */
#define UNDECIDED_TAIL                                                                         \
    ",\"policy\":null,\"reviewer\":null,\"deadline\":null,\"timely\":null,\"rules\":[],"      \
    "\"reasons\":[],\"obligations\":[],\"possible\":[],\"missing\":[]"

/* null, a string for one reviewer, an array for several. */
static void put_reviewers(Buf *b, const Prog *p, const uint32_t *rev, uint32_t n)
{
    if (n == 0) {
        PUT_LIT(b, "null");
    } else if (n == 1) {
        put_pstr(b, p, rev[0]);
    } else {
        buf_putc(b, '[');
        for (uint32_t k = 0; k < n; k++) {
            if (k) buf_putc(b, ',');
            put_pstr(b, p, rev[k]);
        }
        buf_putc(b, ']');
    }
}

static void put_timely(Buf *b, int timely)
{
    if (timely < 0) PUT_LIT(b, "null");
    else if (timely) PUT_LIT(b, "true");
    else PUT_LIT(b, "false");
}

static void put_rule_ids(Buf *b, const OutPolicy *o, const uint32_t *rules, uint32_t n)
{
    buf_putc(b, '[');
    for (uint32_t k = 0; k < n; k++) {
        if (k) buf_putc(b, ',');
        put_frag(b, o, o->rule_id[rules[k]]);
    }
    buf_putc(b, ']');
}

/* The names of the fields in mask, in schema order, as a JSON array. */
static void put_fields(Buf *b, const OutPolicy *o, uint64_t mask)
{
    if (!mask) {
        PUT_LIT(b, "[]");
        return;
    }
    buf_putc(b, '[');
    bool first = true;
    for (uint32_t f = 0; mask; f++, mask >>= 1) {
        if (!(mask & 1)) continue;
        if (!first) buf_putc(b, ',');
        put_frag(b, o, o->field[f]);
        first = false;
    }
    buf_putc(b, ']');
}

static bool same_frag(const OutPolicy *o, Frag a, Frag b)
{
    return a.len == b.len && memcmp(o->text.p + a.off, o->text.p + b.off, a.len) == 0;
}

/* The citations of an obligation's rules, each once, in rule order. */
static void put_citations(Buf *b, const OutPolicy *o, const Obligation *ob)
{
    buf_putc(b, '[');
    bool first = true;
    for (uint32_t k = 0; k < ob->nrules; k++) {
        uint32_t r = ob->rules[k];
        for (uint32_t c = o->cite_at[r]; c < o->cite_at[r + 1]; c++) {
            bool seen = false;
            for (uint32_t j = 0; j < k && !seen; j++)
                for (uint32_t e = o->cite_at[ob->rules[j]]; e < o->cite_at[ob->rules[j] + 1] && !seen; e++)
                    seen = same_frag(o, o->cite[c], o->cite[e]);
            for (uint32_t e = o->cite_at[r]; e < c && !seen; e++) seen = same_frag(o, o->cite[c], o->cite[e]);
            if (seen) continue;
            if (!first) buf_putc(b, ',');
            put_frag(b, o, o->cite[c]);
            first = false;
        }
    }
    buf_putc(b, ']');
}

/* One obligation object; certain ones carry timely and citations,
 * possible ones the fields that leave them open. Its outcome and reviewers
 * are those of its first rule, whose pre-rendered parts are used; a
 * one-rule obligation (the common case) is nearly all pre-rendered. */
static void put_obligation(Buf *b, OutPolicy *o, const Obligation *ob, bool certain)
{
    uint32_t r0 = ob->rules[0];
    put_frag(b, o, o->obl_open[r0]);
    if (ob->has_deadline) put_deadline(b, o, ob->deadline_is_date, ob->deadline);
    else PUT_LIT(b, "null");
    if (certain) {
        PUT_LIT(b, ",\"timely\":");
        put_timely(b, ob->timely);
    }
    if (ob->nrules == 1) {
        if (certain) {
            put_frag(b, o, o->obl_close[r0]);
        } else {
            put_frag(b, o, o->obl_rules[r0]);
            put_fields(b, o, ob->missing);
            buf_putc(b, '}');
        }
        return;
    }
    PUT_LIT(b, ",\"rules\":");
    put_rule_ids(b, o, ob->rules, ob->nrules);
    if (certain) {
        PUT_LIT(b, ",\"citations\":");
        put_citations(b, o, ob);
    } else {
        PUT_LIT(b, ",\"missing\":");
        put_fields(b, o, ob->missing);
    }
    buf_putc(b, '}');
}

/* Whether d has nothing after "decision" but its policy: no rule, no
 * obligation, nothing missing (a "none" line, the common case). */
static bool decision_is_empty(const Decision *d)
{
    /* one test of all the counts and flags ORed (fewer branches than one each) */
    return ((d->nrules | d->nobligations | d->npossible | d->nreviewers | (uint32_t)d->has_deadline) |
            d->missing | (uint64_t)(d->timely >= 0)) == 0;
}

/* The rest of a line whose one rule makes its one certain obligation
 * and which leaves nothing open (solo_mid, solo_tail): one room check. */
static void put_solo_rest(Buf *b, OutPolicy *o, const Decision *d)
{
    const Obligation *ob = &d->obligations[0];
    uint32_t r = d->rules[0];
    Frag rev = o->reviewer[r], mid = o->solo_mid[r], tail = o->solo_tail[r];
    size_t need = rev.len + mid.len + tail.len + 2 * (2 * OUT_DEADLINE_MAX + 32);
    if (b->cap - b->n < need) buf_reserve(b, need);
    char *w = b->p + b->n;
    if (d->nreviewers) {
        w = put_frag_at(o, w, rev);
    } else {
        memcpy(w, "null", 4);
        w += 4;
    }
    memcpy(w, ",\"deadline\":", 12);
    w = put_deadline_timely_at(o, w + 12, d->has_deadline, d->deadline_is_date, d->deadline, d->timely);
    w = put_frag_at(o, w, mid); /* ends in the obligation's "deadline": */
    w = put_deadline_timely_at(o, w, ob->has_deadline, ob->deadline_is_date, ob->deadline, ob->timely);
    b->n = (size_t)(put_frag_at(o, w, tail) - b->p);
}

/* The line of a decision with rules, after its head (out_decision). */
__attribute__((noinline)) static void put_decision_rest(Buf *b, OutPolicy *o, const Decision *d)
{
    const Prog *p = o->p;
    if (d->nrules == 1 && d->nobligations == 1 && d->npossible == 0 && d->missing == 0 &&
        d->obligations[0].nrules == 1 && d->obligations[0].rules[0] == d->rules[0]) {
        put_solo_rest(b, o, d);
        return;
    }
    /* one deciding obligation (the common case): its first rule's reviewers */
    if (d->nreviewers && (d->nobligations == 1 || d->obligations[1].outcome != d->obligations[0].outcome))
        put_frag(b, o, o->reviewer[d->obligations[0].rules[0]]);
    else put_reviewers(b, p, d->reviewers, d->nreviewers);
    PUT_LIT(b, ",\"deadline\":");
    if (!d->has_deadline) PUT_LIT(b, "null");
    else put_deadline(b, o, d->deadline_is_date, d->deadline);
    PUT_LIT(b, ",\"timely\":");
    put_timely(b, d->timely);

    if (d->nrules == 1) {
        put_frag(b, o, o->one_rule[d->rules[0]]);
    } else {
        PUT_LIT(b, ",\"rules\":");
        put_rule_ids(b, o, d->rules, d->nrules);
        PUT_LIT(b, ",\"reasons\":[");
        for (uint32_t k = 0; k < d->nrules; k++) {
            if (k) buf_putc(b, ',');
            put_frag(b, o, o->reason[d->rules[k]]);
        }
        PUT_LIT(b, "],\"obligations\":[");
    }
    for (uint32_t k = 0; k < d->nobligations; k++) {
        if (k) buf_putc(b, ',');
        put_obligation(b, o, &d->obligations[k], true);
    }
    if (d->npossible == 0 && d->missing == 0) {
        PUT_LIT(b, SOLO_END); /* nothing left open (most lines) */
        return;
    }
    PUT_LIT(b, "],\"possible\":[");
    for (uint32_t k = 0; k < d->npossible; k++) {
        if (k) buf_putc(b, ',');
        put_obligation(b, o, &d->possible[k], false);
    }
    PUT_LIT(b, "],\"missing\":");
    put_fields(b, o, d->missing);
    PUT_LIT(b, "}\n");
}

/* Appends d's line (see out.h for the keys); d must come from a VM over
 * o's Prog. Everything but the id, the deadlines and timely is copied from
 * o's fragments; a line without rules is the id and one fragment. */
void out_decision(Buf *b, OutPolicy *o, const char *id, size_t id_len, const Decision *d)
{
    unsigned kind = (unsigned)d->kind <= PCR_DEC_ERROR ? (unsigned)d->kind : PCR_DEC_ERROR;
    if (decision_is_empty(d)) {
        put_head_and(b, o, id, id_len, o->empty[kind]);
    } else {
        out_need_rules(o, d);
        put_head_and(b, o, id, id_len, o->head[kind]);
        put_decision_rest(b, o, d);
    }
}

/* Appends a no_policy line for id (NULL gives "id":null). */
void out_no_policy(Buf *b, const char *id, size_t id_len, const char *why, size_t why_len)
{
    put_head_kind(b, id, id_len, PCR_DEC_NO_POLICY);
    PUT_LIT(b, UNDECIDED_TAIL ",\"why\":");
    buf_put_json_str(b, why, why_len);
    PUT_LIT(b, "}\n");
}

/* Appends an error line: id or null, and msg (NUL-terminated). */
void out_error(Buf *b, const char *id, size_t id_len, const char *msg)
{
    put_head_kind(b, id, id_len, PCR_DEC_ERROR);
    PUT_LIT(b, UNDECIDED_TAIL ",\"error\":");
    buf_put_json_str(b, msg, strlen(msg));
    PUT_LIT(b, "}\n");
}
