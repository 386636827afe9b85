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

Test(feed, example_requests_decide_as_their_text)
{
    pcr_engine *fed = example_engine(), *text = example_engine();
    char path[600];
    snprintf(path, sizeof path, "%s/policies/examples/requests.jsonl", th_root());
    FILE *f = fopen(path, "r");
    cr_assert(f);
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
