/* test_soundness.c: the certain/possible split, as a property over many
 * generated records (docs/language.md, "What is certain and what is
 * possible").
 *
 * Records are the example batch's, mutated field by field from pools of
 * values the four shipped policies test, and decided by those policies
 * through the public API. For each record and one field removed from it:
 *   1. sound: every obligation of the full record is among the reduced
 *      record's certain obligations (same outcome, reviewers and deadline)
 *      or its possible ones (same outcome and reviewers, a deadline no
 *      later);
 *   2. certain: every certain obligation of the reduced record holds for
 *      the full one (the full record may only add rules, so its deadline is
 *      no later), unless a not_covered took the place of a requirement;
 *   3. named: when the answer changed (the decision, or the set of
 *      obligations with their deadlines), the removed field is in missing.
 * Fields with a default (their absence means the default, not "unknown")
 * and service_at (its absence means 00:00, the stricter instant) are never
 * removed; required fields neither. Nor is a field that the record's policy
 * tests with present(): present() is the one test that reads absence as an
 * answer (the policy has said what an absent field means), so the property
 * holds there in the policy's own sense, not the three-valued one. The
 * fields are read from each policy's source, so the exception is no wider
 * than the policies make it. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "pcr/pcr.h"

enum { RECORDS = 115000, MAX_OBL = 64 };

/* An obligation reduced to what the property compares. */
typedef struct Ob {
    pcr_outcome outcome;
    char reviewers[256]; /* sorted, joined with '|' */
    char deadline[24];   /* "" for none */
} Ob;

typedef struct Answer {
    pcr_decision_kind kind;
    Ob certain[MAX_OBL], possible[MAX_OBL];
    size_t ncertain, npossible;
    char missing[1024]; /* ",a,b," */
} Answer;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static size_t pick(size_t n) { return (size_t)(rnd() % n); }

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void ob_from(const pcr_obligation *o, Ob *out)
{
    out->outcome = o->outcome;
    const char *names[64];
    size_t n = o->nreviewers < 64 ? o->nreviewers : 64;
    memcpy(names, o->reviewers, n * sizeof *names);
    qsort(names, n, sizeof *names, cmp_str);
    out->reviewers[0] = '\0';
    for (size_t k = 0; k < n; k++) {
        strncat(out->reviewers, names[k], sizeof out->reviewers - strlen(out->reviewers) - 2);
        strcat(out->reviewers, "|");
    }
    snprintf(out->deadline, sizeof out->deadline, "%s", o->deadline ? o->deadline : "");
}

/* A deadline as a comparable instant string: a date lasts to its day's
 * end, so "2026-03-02" compares as "2026-03-02T23:59"; none is last. */
static void instant(const char *dl, char *out)
{
    if (!dl[0]) strcpy(out, "~");
    else if (strlen(dl) == 10) snprintf(out, 24, "%sT23:59", dl);
    else snprintf(out, 24, "%s", dl);
}
static int deadline_cmp(const char *a, const char *b)
{
    char x[24], y[24];
    instant(a, x);
    instant(b, y);
    return strcmp(x, y);
}

static bool same_key(const Ob *a, const Ob *b)
{
    return a->outcome == b->outcome && strcmp(a->reviewers, b->reviewers) == 0;
}

static bool eval(pcr_engine *e, const char *json, Answer *a)
{
    memset(a, 0, sizeof *a);
    pcr_decision_kind k;
    pcr_engine_eval(e, json, strlen(json), 1, NULL, NULL, &k);
    pcr_decision d;
    cr_assert_eq(pcr_engine_decision(e, &d), PCR_OK);
    a->kind = d.kind;
    if (d.kind == PCR_DEC_ERROR || d.kind == PCR_DEC_NO_POLICY) return false;
    cr_assert(d.nobligations <= MAX_OBL && d.npossible <= MAX_OBL);
    for (size_t i = 0; i < d.nobligations; i++) ob_from(&d.obligations[i], &a->certain[i]);
    for (size_t i = 0; i < d.npossible; i++) ob_from(&d.possible[i], &a->possible[i]);
    a->ncertain = d.nobligations;
    a->npossible = d.npossible;
    strcpy(a->missing, ",");
    for (size_t i = 0; i < d.nmissing; i++) {
        strncat(a->missing, d.missing[i], sizeof a->missing - strlen(a->missing) - 2);
        strcat(a->missing, ",");
    }
    return true;
}

static bool same_answer(const Answer *x, const Answer *y)
{
    if (x->kind != y->kind || x->ncertain != y->ncertain) return false;
    for (size_t i = 0; i < x->ncertain; i++) {
        size_t j = 0;
        while (j < y->ncertain && !(same_key(&x->certain[i], &y->certain[j]) &&
                                    strcmp(x->certain[i].deadline, y->certain[j].deadline) == 0))
            j++;
        if (j == y->ncertain) return false;
    }
    return true;
}

static bool has_not_covered(const Answer *a)
{
    for (size_t i = 0; i < a->ncertain; i++)
        if (a->certain[i].outcome == PCR_OUT_NOT_COVERED) return true;
    return false;
}

/* Value pools: what the shipped policies' conditions test. */
static const char *const settings[] = {"inpatient", "outpatient", "ambulatory_surgery", "office",
                                       "home", "emergency", "observation", "skilled_nursing",
                                       "rehabilitation", "ltac", "hospice", "residential",
                                       "partial_hospital", "intensive_outpatient", "ambulance"};
static const char *const admissions[] = {"elective", "emergency", "urgent", "maternity", "newborn",
                                         "transfer"};
static const char *const plans[] = {"commercial", "medicare_advantage", "phs_plus", "open_access",
                                    "hmo"};
static const char *const deliveries[] = {"vaginal", "cesarean"};
static const char *const networks[] = {"in", "out"};
static const char *const bools[] = {"medicare_primary", "medicare_exhausted", "clinical_trial",
                                    "emergent", "admitted_from_er"};

#define NELEM(a) (sizeof a / sizeof a[0])

/* Changes one or two fields of r to values from the pools (codes and
 * diagnoses from other records of the batch). */
static void mutate(json_t *r, json_t *const *batch, size_t n)
{
    size_t times = 1 + pick(2);
    for (size_t t = 0; t < times; t++) {
        switch (pick(12)) {
        case 0: json_object_set_new(r, "setting", json_string(settings[pick(NELEM(settings))])); break;
        case 1: json_object_set_new(r, "admission", json_string(admissions[pick(NELEM(admissions))])); break;
        case 2: json_object_set_new(r, "plan", json_string(plans[pick(NELEM(plans))])); break;
        case 3: json_object_set_new(r, "delivery", json_string(deliveries[pick(2)])); break;
        case 4: json_object_set_new(r, "network", json_string(networks[pick(2)])); break;
        case 5: json_object_set_new(r, bools[pick(NELEM(bools))], json_boolean(pick(2))); break;
        case 6: json_object_set_new(r, "stay_hours", json_integer((json_int_t)pick(120))); break;
        case 7: json_object_set_new(r, "visit_number", json_integer((json_int_t)pick(40))); break;
        case 8: json_object_set_new(r, "units", json_integer((json_int_t)pick(30))); break;
        case 9: json_object_set_new(r, "price", json_real((double)pick(300000) / 100.0)); break;
        case 10: {
            json_t *other = batch[pick(n)];
            json_t *c = json_object_get(other, "code");
            if (c && json_object_get(other, "payer") && !json_object_get(other, "code_system"))
                json_object_set(r, "code", c);
            break;
        }
        default: {
            json_t *dx = json_object_get(batch[pick(n)], "diagnoses");
            if (dx) json_object_set(r, "diagnoses", dx);
            break;
        }
        }
    }
    json_object_del(r, "code_system"); /* codes come from other records */
    json_object_del(r, "requested_at");
    if (pick(2)) json_object_set_new(r, "requested_at", json_string("2026-01-05T09:00"));
}

/* The fields a policy tests with present(), as ",a,b," (read from src). */
static void present_fields(const char *src, char *out, size_t cap)
{
    snprintf(out, cap, ",");
    for (const char *at = strstr(src, "present("); at; at = strstr(at + 8, "present(")) {
        const char *name = at + 8, *end = strchr(name, ')');
        if (!end || end - name > 40) continue;
        char item[48];
        snprintf(item, sizeof item, ",%.*s,", (int)(end - name), name);
        if (!strstr(out, item)) strncat(out, item + 1, cap - strlen(out) - 1);
    }
}

/* Whether f may be removed: not required, no default, not service_at, not
 * read with present() by the policy (present_of: its ",a,b," list). */
static bool removable(const char *f, const char *present_of)
{
    static const char *const keep[] = {"id", "payer", "service_date", "service_at",
                                       "medicare_primary", "medicare_exhausted", "clinical_trial",
                                       "emergent", "admitted_from_er"};
    for (size_t k = 0; k < NELEM(keep); k++)
        if (strcmp(f, keep[k]) == 0) return false;
    char item[80];
    snprintf(item, sizeof item, ",%s,", f);
    return !strstr(present_of, item);
}

Test(soundness, certain_possible_missing_over_generated_records, .timeout = 300)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/policies", th_root());
    const char *inc[] = {dir};
    pcr_compile_opts opts = {.include_dirs = inc, .n_include_dirs = 1};
    pcr_engine *e = pcr_engine_new();
    const char *payers[] = {"alliant", "cigna", "healthlink", "ibx"};
    char presence[NELEM(payers)][512];
    for (size_t i = 0; i < NELEM(payers); i++) {
        snprintf(path, sizeof path, "%s/%s.pcr", dir, payers[i]);
        char *src = th_read_file(path, NULL);
        cr_assert_not_null(src);
        present_fields(src, presence[i], sizeof presence[i]);
        free(src);
        pcr_policy *p = NULL;
        cr_assert_eq(pcr_compile_file(path, &opts, &p, NULL), PCR_OK, "%s", path);
        char err[256];
        cr_assert_eq(pcr_engine_add(e, p, err, sizeof err), PCR_OK, "%s", err);
    }

    /* The batch's well-formed records. */
    snprintf(path, sizeof path, "%s/examples/requests.jsonl", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    json_t *batch[1024];
    size_t n = 0;
    char line[8192];
    while (n < NELEM(batch) && fgets(line, sizeof line, f)) {
        json_t *r = json_loads(line, 0, NULL);
        if (!r || !json_is_object(r)) {
            json_decref(r);
            continue;
        }
        Answer a;
        char *s = json_dumps(r, JSON_COMPACT);
        bool ok = eval(e, s, &a);
        free(s);
        if (ok) batch[n++] = r;
        else json_decref(r);
    }
    fclose(f);
    cr_assert_gt(n, 400);

    size_t checked = 0, changed = 0, possible_lines = 0;
    for (size_t it = 0; it < RECORDS; it++) {
        json_t *r = json_deep_copy(batch[pick(n)]);
        mutate(r, batch, n);
        char *full_json = json_dumps(r, JSON_COMPACT);
        Answer full, red;
        if (!eval(e, full_json, &full)) goto next;

        /* one removable field, at random */
        const char *keys[64], *present_of = ",";
        const char *payer = json_string_value(json_object_get(r, "payer"));
        for (size_t i = 0; payer && i < NELEM(payers); i++)
            if (strcmp(payer, payers[i]) == 0) present_of = presence[i];
        size_t nk = 0;
        const char *k;
        json_t *v;
        json_object_foreach(r, k, v) if (removable(k, present_of) && nk < 64 && !json_is_null(v)) keys[nk++] = k;
        if (nk == 0) goto next;
        char removed[64];
        snprintf(removed, sizeof removed, "%s", keys[pick(nk)]);
        json_object_del(r, removed);
        char *red_json = json_dumps(r, JSON_COMPACT);
        cr_assert(eval(e, red_json, &red), "reduced record failed: %s", red_json);
        checked++;
        possible_lines += red.npossible > 0;

        /* 1. sound */
        for (size_t i = 0; i < full.ncertain; i++) {
            const Ob *o = &full.certain[i];
            bool found = false;
            for (size_t j = 0; j < red.ncertain && !found; j++)
                found = same_key(o, &red.certain[j]) && strcmp(o->deadline, red.certain[j].deadline) == 0;
            for (size_t j = 0; j < red.npossible && !found; j++)
                found = same_key(o, &red.possible[j]) && deadline_cmp(red.possible[j].deadline, o->deadline) <= 0;
            cr_assert(found, "obligation %s by %s due %s of\n  %s\nis neither certain nor possible without %s:\n  %s",
                      pcr_outcome_name(o->outcome), o->reviewers, o->deadline, full_json, removed, red_json);
        }
        /* 2. certain */
        for (size_t j = 0; j < red.ncertain; j++) {
            const Ob *c = &red.certain[j];
            if ((c->outcome == PCR_OUT_PRIOR_AUTH || c->outcome == PCR_OUT_NOTIFICATION) &&
                has_not_covered(&full))
                continue;
            bool found = false;
            for (size_t i = 0; i < full.ncertain && !found; i++)
                found = same_key(c, &full.certain[i]) && deadline_cmp(full.certain[i].deadline, c->deadline) <= 0;
            cr_assert(found, "certain %s by %s without %s does not hold for\n  %s",
                      pcr_outcome_name(c->outcome), c->reviewers, removed, full_json);
        }
        /* 3. named */
        if (!same_answer(&full, &red)) {
            changed++;
            char want[80];
            snprintf(want, sizeof want, ",%s,", removed);
            cr_assert(strstr(red.missing, want), "removing %s changed the answer but missing is [%s]:\n  %s\n  %s",
                      removed, red.missing, full_json, red_json);
        }
        free(red_json);
    next:
        free(full_json);
        json_decref(r);
    }
    cr_log_info("soundness: %zu records checked, %zu answers changed by the removal, %zu with possible obligations",
                checked, changed, possible_lines);
    cr_assert_geq(checked, 100000);
    cr_assert_gt(changed, 1000); /* the property was exercised, not vacuous */
    for (size_t i = 0; i < n; i++) json_decref(batch[i]);
    pcr_engine_free(e);
}
