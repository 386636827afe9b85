/* test_feed.c: records fed member by member (rec.h "fed records", pcr.h
 * "Records fed member by member") against the text reader.
 *
 * The engine tests parse every example request with jansson and feed its
 * top-level members (strings, numbers as their text, true/false/null,
 * arrays and objects as compact JSON), in the file's order and reversed,
 * to one engine, and the line itself to another: every request the fed
 * route takes must get the text route's decision line, byte for byte, and
 * the route must take every example request the text route decides
 * without error. The decoder tests give each condition under which the
 * route must not take a record, and check that a taken record is the
 * same Record rec_decode makes of the equivalent line. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>

/* helpers.h defines static helpers this file does not need (th_run, ...). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "helpers.h"
#pragma GCC diagnostic pop
#include "rec.h"

/* ---- the engine, over the example requests --------------------------------- */

static pcr_engine *example_engine(void)
{
    static const char *const names[] = {"alliant", "cigna", "healthlink", "ibx"};
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/policies", th_root());
    const char *inc[] = {dir};
    pcr_compile_opts opts = {.include_dirs = inc, .n_include_dirs = 1, .stdlib_dir = dir};
    pcr_engine *e = pcr_engine_new();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.pcr", dir, names[i]);
        pcr_policy *p = NULL;
        pcr_diags *d = NULL;
        pcr_status st = pcr_compile_file(path, &opts, &p, &d);
        if (st != PCR_OK) pcr_diags_print(d, stderr, false);
        pcr_diags_free(d);
        cr_assert_eq(st, PCR_OK, "%s does not compile", path);
        char err[256];
        cr_assert_eq(pcr_engine_add(e, p, err, sizeof err), PCR_OK, "%s", err);
    }
    return e;
}

/* Feeds one member; the texts stay alive in keep[] until the record is
 * decided. */
static bool feed_member(pcr_engine *e, const char *key, json_t *v, char **keep, size_t *nkeep)
{
    size_t kn = strlen(key);
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING: return pcr_engine_feed_string(e, key, kn, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return pcr_engine_feed_number(e, key, kn, num, strlen(num));
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        return pcr_engine_feed_number(e, key, kn, num, strlen(num));
    case JSON_TRUE: return pcr_engine_feed_bool(e, key, kn, true);
    case JSON_FALSE: return pcr_engine_feed_bool(e, key, kn, false);
    case JSON_NULL: return pcr_engine_feed_null(e, key, kn);
    default: {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        cr_assert(text);
        keep[(*nkeep)++] = text;
        return pcr_engine_feed_json(e, key, kn, text, strlen(text));
    }
    }
}

/* Feeds object o's members (reversed: last first); true when the engine
 * took the record, *line then its decision line. */
static bool feed_object(pcr_engine *e, json_t *o, bool reversed, const char **line, size_t *len)
{
    const char *keys[256];
    json_t *vals[256];
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        cr_assert(n < 256);
        keys[n] = key;
        vals[n++] = v;
    }
    char *keep[256];
    size_t nkeep = 0;
    bool ok = pcr_engine_feed_begin(e, 1);
    for (size_t i = 0; ok && i < n; i++) {
        size_t k = reversed ? n - 1 - i : i;
        ok = feed_member(e, keys[k], vals[k], keep, &nkeep);
    }
    pcr_decision_kind kind;
    if (ok) ok = pcr_engine_feed_eval(e, line, len, &kind);
    if (ok) cr_assert_neq(kind, PCR_DEC_ERROR, "the fed route decided an error");
    for (size_t i = 0; i < nkeep; i++) free(keep[i]);
    return ok;
}

/* policies/examples/requests.jsonl, open for reading. */
static FILE *examples_file(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/policies/examples/requests.jsonl", th_root());
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    return f;
}

Test(feed, example_requests_decide_as_their_text)
{
    pcr_engine *fed = example_engine(), *text = example_engine();
    FILE *f = examples_file();
    char *buf = NULL;
    size_t cap = 0, taken = 0, objects = 0, clean = 0;
    ssize_t got;
    while ((got = getline(&buf, &cap, f)) > 0) {
        size_t n = (size_t)got;
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        const char *want;
        size_t want_len;
        pcr_decision_kind kind;
        pcr_engine_eval(text, buf, n, 1, &want, &want_len, &kind);
        char *want_copy = strndup(want, want_len);
        json_error_t jerr;
        json_t *o = json_loadb(buf, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (kind != PCR_DEC_ERROR) clean++;
        if (o && json_is_object(o)) {
            objects++;
            for (int reversed = 0; reversed < 2; reversed++) {
                const char *line;
                size_t len;
                if (feed_object(fed, o, reversed, &line, &len)) {
                    taken += !reversed;
                    cr_assert(len == want_len && memcmp(line, want_copy, len) == 0,
                              "fed decision differs for %.*s:\n%.*s\n%s", (int)n, buf, (int)len,
                              line, want_copy);
                } else {
                    cr_assert_eq(kind, PCR_DEC_ERROR, "not taken, yet no error: %.*s", (int)n, buf);
                }
            }
        }
        json_decref(o);
        free(want_copy);
    }
    free(buf);
    fclose(f);
    cr_assert_gt(objects, 400);
    /* every example the text route decides without error was taken */
    cr_assert_eq(taken, clean, "taken %zu of %zu requests decided without error", taken, clean);
    pcr_engine_free(fed);
    pcr_engine_free(text);
}

Test(feed, no_policy_is_not_taken)
{
    pcr_engine *e = pcr_engine_new();
    cr_assert_not(pcr_engine_feed_begin(e, 1));
    cr_assert_not(pcr_engine_feed_string(e, "id", 2, "a", 1));
    cr_assert_not(pcr_engine_feed_eval(e, NULL, NULL, NULL));
    pcr_engine_free(e);
}

/* ---- the decoder: what is taken and what is not ----------------------------- */

typedef struct Dec {
    Prog *p;
    RecDecoder *fed, *text;
} Dec;

static Dec dec_new(void)
{
    Dec x;
    x.p = th_std_prog();
    x.fed = rec_decoder_new(x.p);
    x.text = rec_decoder_new(x.p);
    cr_assert(x.fed && x.text);
    return x;
}

static void dec_free(Dec *x)
{
    rec_decoder_free(x->fed);
    rec_decoder_free(x->text);
    th_prog_free(x->p);
}

#define S(d, k, v) rec_put_string((d), k, strlen(k), v, strlen(v))
#define N(d, k, v) rec_put_number((d), k, strlen(k), v, strlen(v))
#define J(d, k, v) rec_put_json((d), k, strlen(k), v, strlen(v))

/* The members every record needs (the required id, payer, service_date). */
static bool put_required(RecDecoder *d)
{
    return S(d, "id", "r-1") && S(d, "payer", "acme") && S(d, "service_date", "2024-05-02");
}

static void same_record(const Dec *x, const Record *a, const Record *b)
{
    cr_assert_eq(a->present, b->present);
    cr_assert_eq(a->none, b->none);
    cr_assert_eq(a->date_only, b->date_only);
    cr_assert_eq(a->nitems, b->nitems);
    cr_assert(a->has_id && b->has_id && a->id_len == b->id_len && !memcmp(a->id, b->id, a->id_len));
    for (uint32_t f = 0; f < x->p->nfields; f++) {
        if (!(a->present >> f & 1)) continue;
        cr_assert_eq(a->v[f].i, b->v[f].i, "field %u", f);
        cr_assert_eq(a->v[f].n, b->v[f].n, "field %u", f);
        if (a->v[f].s) cr_assert(!memcmp(a->v[f].s, b->v[f].s, a->v[f].n), "field %u", f);
    }
    for (uint32_t i = 0; i < a->nitems; i++) {
        cr_assert_eq(a->items[i].i, b->items[i].i);
        cr_assert(a->items[i].n == b->items[i].n && !memcmp(a->items[i].s, b->items[i].s, a->items[i].n));
    }
}

Test(feed, a_taken_record_is_the_text_readers_record)
{
    Dec x = dec_new();
    const char *line = "{\"id\":\"r-1\",\"payer\":\"acme\",\"service_date\":\"2024-05-02\","
                       "\"network\":\"in\",\"setting\":\"inpatient\",\"stay_hours\":36,"
                       "\"price\":12.5,\"member_age\":-0,\"code\":\"43770\",\"plan\":null,"
                       "\"admitted_from_er\":true,\"emergent\":false,"
                       "\"diagnoses\":[\"E66.01\",\"Z68.41\"],\"service_at\":\"2024-05-02T10:15\","
                       "\"state\":\"caf\\u00e9 \\\"x\\\"\"}";
    const Record *b = rec_decode(x.text, line, strlen(line), 1);
    cr_assert(b, "%s", rec_error(x.text));
    /* in another order than the line's */
    rec_begin(x.fed, 1);
    cr_assert(S(x.fed, "state", "caf\xc3\xa9 \"x\""));
    cr_assert(J(x.fed, "diagnoses", "[\"E66.01\", \"Z68.41\"]"));
    cr_assert(S(x.fed, "service_at", "2024-05-02T10:15"));
    cr_assert(rec_put_bool(x.fed, "emergent", 8, false));
    cr_assert(rec_put_bool(x.fed, "admitted_from_er", 16, true));
    cr_assert(rec_put_null(x.fed, "plan", 4));
    cr_assert(S(x.fed, "code", "43770"));
    cr_assert(N(x.fed, "member_age", "-0"));
    cr_assert(N(x.fed, "price", "12.5"));
    cr_assert(N(x.fed, "stay_hours", "36"));
    cr_assert(S(x.fed, "setting", "inpatient"));
    cr_assert(S(x.fed, "network", "in"));
    cr_assert(put_required(x.fed));
    const Record *a = rec_finish(x.fed);
    cr_assert(a);
    same_record(&x, a, b);
    dec_free(&x);
}

/* Each condition the route leaves to the text reader. */
Test(feed, what_is_not_taken)
{
    Dec x = dec_new();
    RecDecoder *d = x.fed;
    /* an unknown key (the text reader counts it, and strict mode refuses it) */
    rec_begin(d, 1);
    cr_assert(put_required(d));
    cr_assert_not(S(d, "seting", "inpatient"));
    cr_assert_null(rec_finish(d));
    /* a duplicate */
    rec_begin(d, 1);
    cr_assert(put_required(d));
    cr_assert_not(S(d, "payer", "acme"));
    cr_assert_null(rec_finish(d));
    /* type errors, bad values, values out of range */
    const char *bad_strings[][2] = {
        {"stay_hours", "36"}, {"service_at", "2024-05-02T25:00"}, {"network", "elsewhere"},
        {"emergent", "true"}, {"diagnoses", "E66.01"},
    };
    for (size_t i = 0; i < sizeof bad_strings / sizeof bad_strings[0]; i++) {
        rec_begin(d, 1);
        cr_assert(put_required(d));
        cr_assert_not(S(d, bad_strings[i][0], bad_strings[i][1]), "%s", bad_strings[i][0]);
        cr_assert_null(rec_finish(d));
    }
    const char *bad_numbers[][2] = {
        {"stay_hours", "1.5"}, {"stay_hours", "99999999999999999999"}, {"price", "1.005"},
        {"plan", "3"}, {"stay_hours", "01"}, {"stay_hours", "1 "}, {"stay_hours", "+1"},
    };
    for (size_t i = 0; i < sizeof bad_numbers / sizeof bad_numbers[0]; i++) {
        rec_begin(d, 1);
        cr_assert(put_required(d));
        cr_assert_not(N(d, bad_numbers[i][0], bad_numbers[i][1]), "%s", bad_numbers[i][1]);
        cr_assert_null(rec_finish(d));
    }
    /* null for a required field; a bool for a string */
    rec_begin(d, 1);
    cr_assert_not(rec_put_null(d, "payer", 5));
    rec_begin(d, 1);
    cr_assert_not(rec_put_bool(d, "payer", 5, true));
    /* nested values where they do not belong; a list of the wrong elements;
     * JSON text that is not one value */
    const char *bad_json[][2] = {
        {"plan", "{\"a\":1}"}, {"diagnoses", "[1,2]"}, {"diagnoses", "[\"E66.01\"] x"},
        {"diagnoses", "[\"E66.01\""}, {"state", "[\"IL\"]"},
    };
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        rec_begin(d, 1);
        cr_assert(put_required(d));
        cr_assert_not(J(d, bad_json[i][0], bad_json[i][1]), "%s", bad_json[i][1]);
        cr_assert_null(rec_finish(d));
    }
    /* a missing required field */
    rec_begin(d, 1);
    cr_assert(S(d, "id", "r-1") && S(d, "payer", "acme"));
    cr_assert_null(rec_finish(d));
    /* a time of service that is not on service_date */
    rec_begin(d, 1);
    cr_assert(put_required(d) && S(d, "service_at", "2024-05-03T10:00"));
    cr_assert_null(rec_finish(d));
    /* strings that are not UTF-8, or hold NUL */
    rec_begin(d, 1);
    cr_assert_not(rec_put_string(d, "state", 5, "I\xffL", 3));
    rec_begin(d, 1);
    cr_assert_not(rec_put_string(d, "state", 5, "I\0L", 3));
    rec_begin(d, 1);
    cr_assert_not(rec_put_string(d, "state", 5, "Illinois, USA\0", 14));
    rec_begin(d, 1);
    cr_assert_not(rec_put_string(d, "state", 5, "Illinois, \xc3\x28SA", 14));
    rec_begin(d, 1);
    cr_assert(rec_put_string(d, "state", 5, "Illinois, caf\xc3\xa9", 15));
    /* a string longer than a line may be */
    size_t big = REC_MAX_LINE;
    char *s = malloc(big);
    memset(s, 'a', big);
    rec_begin(d, 1);
    cr_assert(put_required(d));
    cr_assert_not(rec_put_string(d, "state", 5, s, big));
    cr_assert_null(rec_finish(d));
    free(s);
    /* after a member is not taken, nothing more is */
    rec_begin(d, 1);
    cr_assert_not(S(d, "nope", "x"));
    cr_assert_not(put_required(d));
    cr_assert_null(rec_finish(d));
    /* and the next record starts afresh */
    rec_begin(d, 2);
    cr_assert(put_required(d));
    cr_assert_not_null(rec_finish(d));
    dec_free(&x);
}

/* ---- many members in one call (pcr_engine_feed_members, rec_put_members) ---- */

/* jsonb's order of keys: shorter first, then by bytes. */
static int jsonb_key_cmp(const void *a, const void *b)
{
    const pcr_feed_member *x = a, *y = b;
    if (x->klen != y->klen) return x->klen < y->klen ? -1 : 1;
    return memcmp(x->key, y->key, x->klen);
}

/* Object o's members as pcr_feed_members into m (their texts and items in
 * keep[], freed by the caller): strings as strings, integers as PCR_FEED_INT,
 * other numbers as their text, arrays of strings as PCR_FEED_STRINGS, other
 * arrays and objects as JSON text. order 0: the object's; 1: reversed; 2:
 * jsonb's. Returns the count. */
static size_t members_of(json_t *o, int order, pcr_feed_member *m, void **keep, size_t *nkeep)
{
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        cr_assert(n < 256);
        pcr_feed_member *x = &m[n++];
        memset(x, 0, sizeof *x);
        x->key = key;
        x->klen = strlen(key);
        switch (json_typeof(v)) {
        case JSON_STRING:
            x->type = PCR_FEED_STRING;
            x->s = json_string_value(v);
            x->n = json_string_length(v);
            break;
        case JSON_INTEGER:
            x->type = PCR_FEED_INT;
            x->i = (int64_t)json_integer_value(v);
            break;
        case JSON_REAL: {
            char *num = malloc(64);
            snprintf(num, 64, "%.17g", json_real_value(v));
            keep[(*nkeep)++] = num;
            x->type = PCR_FEED_NUMBER;
            x->s = num;
            x->n = strlen(num);
            break;
        }
        case JSON_TRUE: x->type = PCR_FEED_TRUE; break;
        case JSON_FALSE: x->type = PCR_FEED_FALSE; break;
        case JSON_NULL: x->type = PCR_FEED_NULL; break;
        default: {
            size_t k = json_is_array(v) ? json_array_size(v) : 0, strings = 0;
            for (size_t i = 0; i < k; i++) strings += json_is_string(json_array_get(v, i));
            if (json_is_array(v) && strings == k) {
                pcr_feed_str *items = calloc(k + 1, sizeof *items);
                for (size_t i = 0; i < k; i++) {
                    items[i].s = json_string_value(json_array_get(v, i));
                    items[i].n = json_string_length(json_array_get(v, i));
                }
                keep[(*nkeep)++] = items;
                x->type = PCR_FEED_STRINGS;
                x->items = items;
                x->n = k;
            } else {
                char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
                cr_assert(text);
                keep[(*nkeep)++] = text;
                x->type = PCR_FEED_JSON;
                x->s = text;
                x->n = strlen(text);
            }
            break;
        }
        }
    }
    if (order == 1)
        for (size_t i = 0; i < n / 2; i++) {
            pcr_feed_member t = m[i];
            m[i] = m[n - 1 - i];
            m[n - 1 - i] = t;
        }
    if (order == 2) qsort(m, n, sizeof *m, jsonb_key_cmp);
    return n;
}

Test(feed, example_requests_decide_as_their_text_in_one_call)
{
    pcr_engine *fed = example_engine(), *text = example_engine();
    FILE *f = examples_file();
    char *buf = NULL;
    size_t cap = 0, taken = 0, clean = 0, strings_lists = 0, ints = 0;
    ssize_t got;
    while ((got = getline(&buf, &cap, f)) > 0) {
        size_t n = (size_t)got;
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        const char *want;
        size_t want_len;
        pcr_decision_kind kind;
        pcr_engine_eval(text, buf, n, 1, &want, &want_len, &kind);
        char *want_copy = strndup(want, want_len);
        if (kind != PCR_DEC_ERROR) clean++;
        json_error_t jerr;
        json_t *o = json_loadb(buf, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        for (int order = 0; o && json_is_object(o) && order < 3; order++) {
            pcr_feed_member m[256];
            void *keep[256];
            size_t nkeep = 0, nm = members_of(o, order, m, keep, &nkeep);
            for (size_t i = 0; i < nm; i++) {
                strings_lists += m[i].type == PCR_FEED_STRINGS;
                ints += m[i].type == PCR_FEED_INT;
            }
            const char *line;
            size_t len;
            pcr_decision_kind k;
            /* in two calls, the second taking the rest */
            size_t half = order == 1 ? nm / 2 : nm;
            bool ok = pcr_engine_feed_begin(fed, 1) && pcr_engine_feed_members(fed, m, half) &&
                      pcr_engine_feed_members(fed, m + half, nm - half) &&
                      pcr_engine_feed_eval(fed, &line, &len, &k);
            if (ok) {
                taken += order == 2;
                cr_assert_neq(k, PCR_DEC_ERROR, "the fed route decided an error");
                cr_assert(len == want_len && memcmp(line, want_copy, len) == 0,
                          "fed decision (order %d) differs for %.*s:\n%.*s\n%s", order, (int)n,
                          buf, (int)len, line, want_copy);
            } else {
                cr_assert_eq(kind, PCR_DEC_ERROR, "not taken, yet no error: %.*s", (int)n, buf);
            }
            for (size_t i = 0; i < nkeep; i++) free(keep[i]);
        }
        json_decref(o);
        free(want_copy);
    }
    free(buf);
    fclose(f);
    cr_assert_eq(taken, clean, "taken %zu of %zu requests decided without error", taken, clean);
    cr_assert_gt(strings_lists, 100);
    cr_assert_gt(ints, 100);
    pcr_engine_free(fed);
    pcr_engine_free(text);
}

#define MS(k, v) {.key = k, .klen = sizeof k - 1, .type = PCR_FEED_STRING, .s = v, .n = sizeof v - 1}
#define MI(k, v) {.key = k, .klen = sizeof k - 1, .type = PCR_FEED_INT, .i = v}
#define MN(k, v) {.key = k, .klen = sizeof k - 1, .type = PCR_FEED_NUMBER, .s = v, .n = sizeof v - 1}
#define MJ(k, v) {.key = k, .klen = sizeof k - 1, .type = PCR_FEED_JSON, .s = v, .n = sizeof v - 1}
#define ML(k, it, cnt) {.key = k, .klen = sizeof k - 1, .type = PCR_FEED_STRINGS, .items = it, .n = cnt}
#define MT(k, t) {.key = k, .klen = sizeof k - 1, .type = t}
#define REQUIRED MS("id", "r-1"), MS("payer", "acme"), MS("service_date", "2024-05-02")
#define NMEMB(a) (sizeof a / sizeof a[0])

/* rec_put_members' record for m[0..n), or NULL. */
static const Record *put_all(RecDecoder *d, const pcr_feed_member *m, size_t n)
{
    rec_begin(d, 1);
    return rec_put_members(d, m, n) ? rec_finish(d) : (rec_finish(d), NULL);
}

Test(feed, members_make_the_text_readers_record)
{
    Dec x = dec_new();
    const char *line = "{\"id\":\"r-1\",\"payer\":\"acme\",\"service_date\":\"2024-05-02\","
                       "\"network\":\"in\",\"setting\":\"inpatient\",\"stay_hours\":36,"
                       "\"price\":12,\"member_age\":-3,\"code\":\"43770\",\"plan\":null,"
                       "\"admitted_from_er\":true,\"emergent\":false,"
                       "\"diagnoses\":[\"E66.01\",\"Z68.41\"],"
                       "\"service_at\":\"2024-05-02T10:15\",\"state\":\"caf\\u00e9\"}";
    const Record *b = rec_decode(x.text, line, strlen(line), 1);
    cr_assert(b, "%s", rec_error(x.text));
    pcr_feed_str dx[] = {{"E66.01", 6}, {"Z68.41", 6}};
    pcr_feed_member m[] = {
        MS("state", "caf\xc3\xa9"), ML("diagnoses", dx, 2),
        MS("service_at", "2024-05-02T10:15"), MT("emergent", PCR_FEED_FALSE),
        MT("admitted_from_er", PCR_FEED_TRUE), MT("plan", PCR_FEED_NULL), MS("code", "43770"),
        MI("member_age", -3), MI("price", 12), MI("stay_hours", 36), MS("setting", "inpatient"),
        MS("network", "in"), REQUIRED,
    };
    const Record *a = put_all(x.fed, m, NMEMB(m));
    cr_assert(a);
    same_record(&x, a, b);
    /* the same with a list as JSON text and numbers as text */
    pcr_feed_member m2[] = {
        MS("state", "caf\xc3\xa9"), MJ("diagnoses", "[\"E66.01\",\"Z68.41\"]"),
        MS("service_at", "2024-05-02T10:15"),
        MT("emergent", PCR_FEED_FALSE), MT("admitted_from_er", PCR_FEED_TRUE),
        MT("plan", PCR_FEED_NULL), MS("code", "43770"), MN("member_age", "-3"), MN("price", "12"),
        MN("stay_hours", "36"), MS("setting", "inpatient"), MS("network", "in"), REQUIRED,
    };
    a = put_all(x.fed, m2, NMEMB(m2));
    cr_assert(a);
    same_record(&x, a, b);
    /* an empty list says what null says */
    const char *empty = "{\"id\":\"r-1\",\"payer\":\"acme\",\"service_date\":\"2024-05-02\","
                        "\"diagnoses\":[]}";
    b = rec_decode(x.text, empty, strlen(empty), 1);
    cr_assert(b, "%s", rec_error(x.text));
    pcr_feed_member m3[] = {ML("diagnoses", NULL, 0), REQUIRED};
    a = put_all(x.fed, m3, NMEMB(m3));
    cr_assert(a);
    same_record(&x, a, b);
    dec_free(&x);
}

/* Each key is first compared with the field that followed the key before
 * it the record before: keys of one length that trade places, and a key
 * where another stood, still name their own fields. */
Test(feed, keys_that_trade_places_keep_their_fields)
{
    Dec x = dec_new();
    const char *line = "{\"id\":\"r-1\",\"payer\":\"acme\",\"service_date\":\"2024-05-02\","
                       "\"network\":\"in\",\"setting\":\"inpatient\",\"code\":\"43770\","
                       "\"state\":\"IL\",\"stay_hours\":36}";
    const Record *b = rec_decode(x.text, line, strlen(line), 1);
    cr_assert(b, "%s", rec_error(x.text));
    pcr_feed_member m1[] = {MS("code", "43770"), MS("state", "IL"), MS("network", "in"),
                            MS("setting", "inpatient"), MI("stay_hours", 36), REQUIRED};
    pcr_feed_member m2[] = {MS("code", "43770"), MS("state", "IL"), MS("setting", "inpatient"),
                            MS("network", "in"), MI("stay_hours", 36), REQUIRED};
    pcr_feed_member m3[] = {REQUIRED, MI("stay_hours", 36), MS("network", "in"),
                            MS("setting", "inpatient"), MS("state", "IL"), MS("code", "43770")};
    const pcr_feed_member *all[] = {m1, m2, m1, m3, m2, m3};
    for (size_t r = 0; r < sizeof all / sizeof all[0]; r++) {
        const Record *a = put_all(x.fed, all[r], NMEMB(m1));
        cr_assert(a, "record %zu not taken", r);
        same_record(&x, a, b);
    }
    /* an unknown key where a known one stood the time before */
    pcr_feed_member m4[] = {MS("codes", "43770"), MS("state", "IL"), MS("network", "in"),
                            MS("setting", "inpatient"), MI("stay_hours", 36), REQUIRED};
    cr_assert_null(put_all(x.fed, m4, NMEMB(m4)));
    const Record *a = put_all(x.fed, m1, NMEMB(m1));
    cr_assert(a);
    same_record(&x, a, b);
    dec_free(&x);
}

/* An integer means exactly its decimal text, for an int and a money field,
 * at the edges of the fast paths and beyond. */
Test(feed, an_int_is_its_decimal_text)
{
    Dec x = dec_new();
    const int64_t values[] = {0, 1, -1, 36, -36, 9999999999999999LL, 10000000000000000LL,
                              -9999999999999999LL, -10000000000000000LL, 999999999999999999LL,
                              1000000000000000000LL, -999999999999999999LL,
                              -1000000000000000000LL, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    const char *fields[] = {"stay_hours", "price", "member_age"};
    for (size_t fi = 0; fi < NMEMB(fields); fi++) {
        for (size_t i = 0; i < NMEMB(values); i++) {
            char text[32];
            snprintf(text, sizeof text, "%lld", (long long)values[i]);
            pcr_feed_member m[] = {REQUIRED, {.key = fields[fi], .klen = strlen(fields[fi]),
                                              .type = PCR_FEED_INT, .i = values[i]}};
            pcr_feed_member t[] = {REQUIRED, {.key = fields[fi], .klen = strlen(fields[fi]),
                                              .type = PCR_FEED_NUMBER, .s = text, .n = strlen(text)}};
            char line[256];
            snprintf(line, sizeof line,
                     "{\"id\":\"r-1\",\"payer\":\"acme\",\"service_date\":\"2024-05-02\",\"%s\":%s}",
                     fields[fi], text);
            const Record *b = rec_decode(x.text, line, strlen(line), 1);
            const Record *a = put_all(x.fed, m, NMEMB(m));
            cr_assert_eq(a != NULL, b != NULL, "%s %s: taken %d, text %d", fields[fi], text,
                         a != NULL, b != NULL);
            if (a) same_record(&x, a, b);
            a = put_all(x.fed, t, NMEMB(t));
            cr_assert_eq(a != NULL, b != NULL, "%s %s as text", fields[fi], text);
            if (a) same_record(&x, a, b);
        }
    }
    dec_free(&x);
}

/* Each condition under which rec_put_members leaves the record to the text
 * reader. */
Test(feed, members_not_taken)
{
    Dec x = dec_new();
    RecDecoder *d = x.fed;
    pcr_feed_str ok_items[] = {{"E66.01", 6}};
    pcr_feed_str not_utf8[] = {{"E66.01", 6}, {"E6\xff.01", 6}};
    pcr_feed_str with_nul[] = {{"E66\0001", 6}};
    pcr_feed_str not_code[] = {{"hello", 5}};
    pcr_feed_member unknown[] = {REQUIRED, MS("seting", "inpatient")};
    pcr_feed_member dup[] = {REQUIRED, MS("payer", "acme")};
    pcr_feed_member list_for_string[] = {REQUIRED, ML("state", ok_items, 1)};
    pcr_feed_member int_for_string[] = {REQUIRED, MI("state", 3)};
    pcr_feed_member string_for_int[] = {REQUIRED, MS("stay_hours", "3")};
    pcr_feed_member bad_list1[] = {REQUIRED, ML("diagnoses", not_utf8, 2)};
    pcr_feed_member bad_list2[] = {REQUIRED, ML("diagnoses", with_nul, 1)};
    pcr_feed_member bad_list3[] = {REQUIRED, ML("diagnoses", not_code, 1)};
    pcr_feed_member null_items[] = {REQUIRED, ML("diagnoses", NULL, 1)};
    pcr_feed_member null_key[] = {REQUIRED, {.key = NULL, .klen = 0, .type = PCR_FEED_NULL}};
    pcr_feed_member null_string[] = {REQUIRED, {.key = "state", .klen = 5, .type = PCR_FEED_STRING, .n = 2}};
    pcr_feed_member bad_type[] = {REQUIRED, {.key = "state", .klen = 5, .type = (pcr_feed_type)99}};
    pcr_feed_member null_required[] = {MS("id", "r-1"), MT("payer", PCR_FEED_NULL), MS("service_date", "2024-05-02")};
    pcr_feed_member missing[] = {MS("id", "r-1"), MS("payer", "acme")};
    pcr_feed_member bad_date[] = {MS("id", "r-1"), MS("payer", "acme"), MS("service_date", "2024-02-30")};
    pcr_feed_member bad_json[] = {REQUIRED, MJ("diagnoses", "[\"E66.01\"] x")};
    struct { const pcr_feed_member *m; size_t n; const char *what; } cases[] = {
        {unknown, NMEMB(unknown), "an unknown key"},
        {dup, NMEMB(dup), "a repeated key"},
        {list_for_string, NMEMB(list_for_string), "a list for a string"},
        {int_for_string, NMEMB(int_for_string), "an integer for a string"},
        {string_for_int, NMEMB(string_for_int), "a string for an integer"},
        {bad_list1, NMEMB(bad_list1), "an element that is not UTF-8"},
        {bad_list2, NMEMB(bad_list2), "an element with NUL"},
        {bad_list3, NMEMB(bad_list3), "an element that is not a code"},
        {null_items, NMEMB(null_items), "no items"},
        {null_key, NMEMB(null_key), "no key"},
        {null_string, NMEMB(null_string), "no string"},
        {bad_type, NMEMB(bad_type), "no such type"},
        {null_required, NMEMB(null_required), "null for a required field"},
        {missing, NMEMB(missing), "a missing required field"},
        {bad_date, NMEMB(bad_date), "a date that is not one"},
        {bad_json, NMEMB(bad_json), "JSON text that is not one value"},
    };
    for (size_t i = 0; i < NMEMB(cases); i++)
        cr_assert_null(put_all(d, cases[i].m, cases[i].n), "%s was taken", cases[i].what);
    /* more list elements than a record may hold */
    pcr_feed_str *many = calloc(REC_MAX_ITEMS + 1, sizeof *many);
    for (size_t i = 0; i <= REC_MAX_ITEMS; i++) many[i] = (pcr_feed_str){"E66.01", 6};
    pcr_feed_member too_many[] = {REQUIRED, ML("diagnoses", many, REC_MAX_ITEMS + 1)};
    cr_assert_null(put_all(d, too_many, NMEMB(too_many)));
    pcr_feed_member just_enough[] = {REQUIRED, ML("diagnoses", many, REC_MAX_ITEMS)};
    cr_assert_not_null(put_all(d, just_enough, NMEMB(just_enough)));
    free(many);
    /* a key given member by member, then again in a batch; after a batch
     * is not taken, nothing more is; the next record starts afresh */
    rec_begin(d, 1);
    cr_assert(put_required(d));
    pcr_feed_member again[] = {MS("id", "r-2")};
    cr_assert_not(rec_put_members(d, again, 1));
    rec_begin(d, 1);
    cr_assert_not(rec_put_members(d, unknown, NMEMB(unknown)));
    cr_assert_not(S(d, "network", "in"));
    cr_assert_null(rec_finish(d));
    pcr_feed_member fine[] = {REQUIRED, MS("network", "in"), ML("diagnoses", ok_items, 1)};
    cr_assert_not_null(put_all(d, fine, NMEMB(fine)));
    dec_free(&x);
}

/* ---- key layouts (rec_put_members' memo of keys back to back) ---------------- */

/* Copies the keys of m[0..n) back to back into buf (as a jsonb object
 * keeps them) and points the members at the copies. */
static void back_to_back(pcr_feed_member *m, size_t n, char *buf)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, m[i].key, m[i].klen);
        m[i].key = buf;
        buf += m[i].klen;
    }
}

/* put_all over a copy of m[0..n) whose keys lie back to back. */
static const Record *put_back_to_back(RecDecoder *d, const pcr_feed_member *m, size_t n)
{
    pcr_feed_member c[16];
    char buf[512];
    cr_assert(n <= NMEMB(c));
    memcpy(c, m, n * sizeof *m);
    back_to_back(c, n, buf);
    return put_all(d, c, n);
}

#define LINE_REQUIRED "{\"id\":\"r-1\",\"payer\":\"acme\",\"service_date\":\"2024-05-02\","

/* Records whose keys lie back to back find their fields by their layout
 * when one before had the same keys: layouts that change from record to
 * record, a key added or removed, and other keys of the same lengths, each
 * still give every key its own field (the text reader's record). */
Test(feed, key_layouts_give_each_key_its_field)
{
    Dec x = dec_new();
    static const pcr_feed_member a[] = {REQUIRED, MS("network", "in"), MI("stay_hours", 36)};
    /* the same number of keys of the same lengths, other bytes */
    static const pcr_feed_member b[] = {REQUIRED, MS("setting", "inpatient"), MI("member_age", 36)};
    static const pcr_feed_member c[] = {REQUIRED, MS("network", "in"), MI("stay_hours", 36),
                                        MS("state", "IL")};
    static const pcr_feed_member dd[] = {REQUIRED, MS("network", "in")};
    static const pcr_feed_member e[] = {REQUIRED, MS("network", "out"), MI("stay_hours", 5)};
    struct {
        const pcr_feed_member *m;
        size_t n;
        const char *line;
    } recs[] = {
        {a, NMEMB(a), LINE_REQUIRED "\"network\":\"in\",\"stay_hours\":36}"},
        {b, NMEMB(b), LINE_REQUIRED "\"setting\":\"inpatient\",\"member_age\":36}"},
        {c, NMEMB(c), LINE_REQUIRED "\"network\":\"in\",\"stay_hours\":36,\"state\":\"IL\"}"},
        {dd, NMEMB(dd), LINE_REQUIRED "\"network\":\"in\"}"},
        {e, NMEMB(e), LINE_REQUIRED "\"network\":\"out\",\"stay_hours\":5}"},
    };
    static const int order[] = {0, 0, 1, 0, 2, 3, 0, 1, 4, 0, 1, 1, 3, 2, 4};
    for (size_t k = 0; k < NMEMB(order); k++) {
        int r = order[k];
        const Record *want = rec_decode(x.text, recs[r].line, strlen(recs[r].line), 1);
        cr_assert(want, "%s", rec_error(x.text));
        const Record *got = put_back_to_back(x.fed, recs[r].m, recs[r].n);
        cr_assert(got, "record %zu (%d) not taken", k, r);
        same_record(&x, got, want);
    }
    dec_free(&x);
}

/* A known layout does not make its values any less checked, nor a key
 * given before in the same record any less repeated; an unknown key is
 * never taken, however often its layout comes. */
Test(feed, a_known_layout_still_checks_its_record)
{
    Dec x = dec_new();
    RecDecoder *d = x.fed;
    static const pcr_feed_member a[] = {REQUIRED, MS("network", "in"), MI("stay_hours", 36)};
    static const pcr_feed_member wrong_type[] = {REQUIRED, MS("network", "in"),
                                                 MS("stay_hours", "36")};
    static const pcr_feed_member wrong_member[] = {REQUIRED, MS("network", "inn"),
                                                   MI("stay_hours", 36)};
    static const pcr_feed_member unknown[] = {REQUIRED, MS("netwrk", "in")};
    cr_assert_not_null(put_back_to_back(d, a, NMEMB(a)));
    cr_assert_null(put_back_to_back(d, wrong_type, NMEMB(wrong_type)));
    cr_assert_null(put_back_to_back(d, wrong_member, NMEMB(wrong_member)));
    cr_assert_not_null(put_back_to_back(d, a, NMEMB(a)));
    for (int i = 0; i < 3; i++) cr_assert_null(put_back_to_back(d, unknown, NMEMB(unknown)));
    /* many layouts with a's key lengths and an unknown key: some share a's
     * slot of the memo, none is taken for a */
    cr_assert_not_null(put_back_to_back(d, a, NMEMB(a)));
    for (int i = 0; i < 4000; i++) {
        char key[16];
        snprintf(key, sizeof key, "x%06d", i);
        pcr_feed_member v[] = {REQUIRED, {.key = key, .klen = 7, .type = PCR_FEED_STRING, .s = "in", .n = 2},
                               MI("stay_hours", 36)};
        cr_assert_null(put_back_to_back(d, v, NMEMB(v)), "%s taken", key);
    }
    /* network given on its own first, then a's layout, which has it too */
    pcr_feed_member c[NMEMB(a)];
    char buf[128];
    memcpy(c, a, sizeof a);
    back_to_back(c, NMEMB(c), buf);
    rec_begin(d, 1);
    cr_assert(S(d, "network", "in"));
    cr_assert_not(rec_put_members(d, c, NMEMB(c)));
    cr_assert_null(rec_finish(d));
    /* a's layout in two calls: the rest after the first three */
    rec_begin(d, 1);
    cr_assert(rec_put_members(d, c, 3));
    cr_assert(rec_put_members(d, c + 3, 2));
    cr_assert_not_null(rec_finish(d));
    cr_assert_not_null(put_all(d, c, NMEMB(c)));
    dec_free(&x);
}

/* Strings the caller has checked (rec_fed_utf8_checked) are not checked
 * again; by default they are. */
Test(feed, strings_checked_by_the_caller)
{
    Dec x = dec_new();
    static const pcr_feed_member bad[] = {REQUIRED, MS("state", "I\xffL")};
    static const pcr_feed_member good[] = {REQUIRED, MS("state", "caf\xc3\xa9")};
    cr_assert_null(put_all(x.fed, bad, NMEMB(bad)));
    cr_assert_not_null(put_all(x.fed, good, NMEMB(good)));
    rec_fed_utf8_checked(x.fed, true);
    cr_assert_not_null(put_all(x.fed, good, NMEMB(good)));
    cr_assert_not_null(put_all(x.fed, bad, NMEMB(bad)), "checked again");
    rec_fed_utf8_checked(x.fed, false);
    cr_assert_null(put_all(x.fed, bad, NMEMB(bad)));
    dec_free(&x);
}

/* pcr_engine_feed_utf8_checked through the engine, and in its clones. */
Test(feed, an_engine_takes_checked_strings_as_they_are)
{
    pcr_engine *e = example_engine();
    static const pcr_feed_member bad[] = {MS("id", "r-1"), MS("payer", "acme"),
                                          MS("service_date", "2024-05-02"), MS("state", "I\xffL")};
    const char *line;
    size_t len;
    cr_assert(pcr_engine_feed_begin(e, 1));
    cr_assert_not(pcr_engine_feed_members(e, bad, NMEMB(bad)) &&
                  pcr_engine_feed_eval(e, &line, &len, NULL));
    pcr_engine_feed_utf8_checked(e, true);
    cr_assert(pcr_engine_feed_begin(e, 1));
    cr_assert(pcr_engine_feed_members(e, bad, NMEMB(bad)) && pcr_engine_feed_eval(e, &line, &len, NULL));
    pcr_engine *c = pcr_engine_clone(e);
    cr_assert(pcr_engine_feed_begin(c, 1));
    cr_assert(pcr_engine_feed_members(c, bad, NMEMB(bad)) && pcr_engine_feed_eval(c, &line, &len, NULL),
              "the clone checks again");
    pcr_engine_free(c);
    pcr_engine_free(e);
}
