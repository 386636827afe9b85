/* feed.c: `make bench-feed` (docs/postgres.md, "Where a call's time goes").
 *
 *   feed MODE REQUESTS.jsonl POLICY.pcrb...
 *
 * Reads every request with jansson and makes of it what the PostgreSQL
 * extension gives the library for a jsonb value: one pcr_feed_member per
 * top-level member, in jsonb's order of keys (shorter first, then by
 * bytes), the keys back to back in one buffer as a jsonb object keeps
 * them, strings as their bytes, integers as PCR_FEED_INT, other numbers as
 * their text in the line, arrays of strings as PCR_FEED_STRINGS, any other
 * value as its compact JSON text; strings checked by the caller
 * (pcr_engine_feed_utf8_checked), as in a UTF8 database. Then, by MODE:
 *   feed   decides every request through pcr_engine_feed_members
 *          (feed_pass), twice;
 *   text   decides every line through pcr_engine_eval (text_pass), twice;
 *   check  both, and fails unless every request the fed route takes gets
 *          the text route's line, byte for byte.
 * The passes are functions of their own so that callgrind can count them
 * alone (--toggle-collect=feed_pass, text_pass): instructions per request
 * of the library's two readers on the same requests, with no PostgreSQL
 * and no noise. Prints how many requests the fed route took. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcr/pcr.h"

enum { MAX_MEMBERS = 64, KEY_BYTES = 4096 };

typedef struct Request {
    char *line;
    size_t len;
    pcr_feed_member m[MAX_MEMBERS];
    size_t n;
    char *keys;       /* the keys, back to back */
    json_t *json;     /* owns the strings the members point to */
} Request;

static int jsonb_order(const void *a, const void *b)
{
    const pcr_feed_member *x = a, *y = b;
    if (x->klen != y->klen) return x->klen < y->klen ? -1 : 1;
    return memcmp(x->key, y->key, x->klen);
}

/* The text of member key's number in line (it is written once, compactly). */
static void number_text(const char *line, const char *key, pcr_feed_member *x)
{
    char pat[300];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *q = strstr(line, pat);
    q = q ? q + strlen(pat) : line;
    x->type = PCR_FEED_NUMBER;
    x->s = q;
    x->n = strspn(q, "-+.eE0123456789");
}

/* Fills r's members from its line; false when it is not an object with
 * at most MAX_MEMBERS members. */
static bool request_members(Request *r)
{
    r->json = json_loadb(r->line, r->len, 0, NULL);
    if (!json_is_object(r->json) || json_object_size(r->json) > MAX_MEMBERS) return false;
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(r->json, key, v) {
        pcr_feed_member *x = &r->m[n++];
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
        case JSON_REAL: number_text(r->line, key, x); break;
        case JSON_TRUE: x->type = PCR_FEED_TRUE; break;
        case JSON_FALSE: x->type = PCR_FEED_FALSE; break;
        case JSON_NULL: x->type = PCR_FEED_NULL; break;
        default: {
            size_t k = json_is_array(v) ? json_array_size(v) : 0, strings = 0;
            for (size_t i = 0; i < k; i++) strings += json_is_string(json_array_get(v, i));
            if (json_is_array(v) && strings == k) {
                pcr_feed_str *it = calloc(k + 1, sizeof *it);
                if (!it) return false;
                for (size_t i = 0; i < k; i++) {
                    it[i].s = json_string_value(json_array_get(v, i));
                    it[i].n = json_string_length(json_array_get(v, i));
                }
                x->type = PCR_FEED_STRINGS;
                x->items = it;
                x->n = k;
            } else {
                char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
                if (!text) return false;
                x->type = PCR_FEED_JSON;
                x->s = text;
                x->n = strlen(text);
            }
        }
        }
    }
    qsort(r->m, n, sizeof r->m[0], jsonb_order);
    r->keys = malloc(KEY_BYTES);
    if (!r->keys) return false;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (r->m[i].klen > KEY_BYTES - used) return false;
        memcpy(r->keys + used, r->m[i].key, r->m[i].klen);
        r->m[i].key = r->keys + used;
        used += r->m[i].klen;
    }
    r->n = n;
    return true;
}

/* Decides every request through the fed route; returns how many it took. */
__attribute__((noinline)) static size_t feed_pass(pcr_engine *e, const Request *rs, size_t nr)
{
    size_t taken = 0;
    for (size_t j = 0; j < nr; j++) {
        const char *line;
        size_t len;
        pcr_decision_kind kind;
        taken += pcr_engine_feed_begin(e, 1) && pcr_engine_feed_members(e, rs[j].m, rs[j].n) &&
                 pcr_engine_feed_eval(e, &line, &len, &kind);
    }
    return taken;
}

/* Decides every request's line. */
__attribute__((noinline)) static void text_pass(pcr_engine *e, const Request *rs, size_t nr)
{
    for (size_t j = 0; j < nr; j++) {
        const char *line;
        size_t len;
        pcr_decision_kind kind;
        pcr_engine_eval(e, rs[j].line, rs[j].len, 1, &line, &len, &kind);
    }
}

/* The requests the fed route takes whose line differs from the text
 * route's. */
static size_t check(pcr_engine *e, const Request *rs, size_t nr)
{
    size_t differ = 0;
    for (size_t j = 0; j < nr; j++) {
        const char *line, *text;
        size_t len, tlen;
        pcr_decision_kind kind;
        if (!(pcr_engine_feed_begin(e, 1) && pcr_engine_feed_members(e, rs[j].m, rs[j].n) &&
              pcr_engine_feed_eval(e, &line, &len, &kind)))
            continue;
        char *fed = malloc(len ? len : 1);
        if (!fed) return nr;
        memcpy(fed, line, len);
        pcr_engine_eval(e, rs[j].line, rs[j].len, 1, &text, &tlen, &kind);
        if (tlen != len || memcmp(fed, text, len) != 0) {
            if (!differ) fprintf(stderr, "feed: request %zu: %.*s\n  text: %.*s", j + 1, (int)len, fed, (int)tlen, text);
            differ++;
        }
        free(fed);
    }
    return differ;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "feed") && strcmp(argv[1], "text") && strcmp(argv[1], "check"))) {
        fprintf(stderr, "usage: feed feed|text|check REQUESTS.jsonl POLICY.pcrb...\n");
        return 2;
    }
    pcr_engine *e = pcr_engine_new();
    for (int i = 3; i < argc; i++) {
        pcr_policy *p = NULL;
        char err[256];
        if (pcr_policy_load_file(argv[i], &p, err, sizeof err) != PCR_OK ||
            pcr_engine_add(e, p, err, sizeof err) != PCR_OK) {
            fprintf(stderr, "feed: %s: %s\n", argv[i], err);
            return 1;
        }
    }
    pcr_engine_feed_utf8_checked(e, true);
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    Request *rs = NULL;
    size_t nr = 0, cap = 0, lcap = 0;
    char *buf = NULL;
    ssize_t k;
    while ((k = getline(&buf, &lcap, f)) > 0) {
        if (nr == cap) {
            cap = cap ? 2 * cap : 1024;
            rs = realloc(rs, cap * sizeof *rs);
            if (!rs) return 1;
        }
        Request *r = &rs[nr];
        memset(r, 0, sizeof *r);
        r->line = malloc((size_t)k + 1);
        if (!r->line) return 1;
        memcpy(r->line, buf, (size_t)k + 1);
        r->len = (size_t)k;
        if (request_members(r)) nr++;
    }
    fclose(f);
    size_t taken = 0;
    if (!strcmp(argv[1], "feed")) {
        taken = feed_pass(e, rs, nr);
        feed_pass(e, rs, nr);
    } else if (!strcmp(argv[1], "text")) {
        text_pass(e, rs, nr);
        text_pass(e, rs, nr);
    } else {
        size_t differ = check(e, rs, nr);
        taken = feed_pass(e, rs, nr);
        printf("feed: %zu requests, the fed route took %zu, %zu differ from the text route\n", nr,
               taken, differ);
        return differ ? 1 : 0;
    }
    printf("feed: %zu requests, the fed route took %zu\n", nr, taken);
    return 0;
}
