/* test_api.c: pcr_engine_decision, the decision field by field, against the
 * JSON line the same call wrote (parsed with jansson), for every kind of
 * decision; and its use before any record. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "pcr/pcr.h"

static const char policy_src[] =
    "use std.request\n"
    "policy api { payer \"api\" title \"API\" version \"7\" effective 2026-01-01 reviewer \"Plan\" }\n"
    "codeset mri \"MRI\" { CPT 70551..70553 }\n"
    "codeset dme \"DME\" { HCPCS E0100..E8002 }\n"
    "rule mri_pa \"MRI\" { when code in mri require prior_auth reviewer \"eviCore\", \"AIM\"\n"
    "                      deadline 72 hours before service }\n"
    "rule mri_note \"MRI notice\" { when code in mri require notification }\n"
    "rule dme_pa \"DME over $1,000\" { when code in dme and price > 1000.00 require prior_auth\n"
    "                      deadline 2 days before service }\n";

static pcr_engine *engine(void)
{
    pcr_engine *e = th_engine("api.pcr", policy_src);
    cr_assert_not_null(e);
    return e;
}

/* Asserts that the strings arr[0..n) are the JSON value v: null (n == 0),
 * a string (n == 1, when one_is_string) or an array of strings. */
static void expect_strings(const char *what, json_t *v, const char *const *arr, size_t n, bool one_is_string)
{
    if (one_is_string && n == 0) {
        cr_assert(json_is_null(v), "%s: expected null", what);
        return;
    }
    if (one_is_string && n == 1) {
        cr_assert(json_is_string(v), "%s: expected a string", what);
        cr_assert_str_eq(arr[0], json_string_value(v), "%s", what);
        return;
    }
    cr_assert(json_is_array(v), "%s: expected an array", what);
    cr_assert_eq(json_array_size(v), n, "%s: %zu, want %zu", what, n, json_array_size(v));
    for (size_t i = 0; i < n; i++) cr_assert_str_eq(arr[i], json_string_value(json_array_get(v, i)), "%s[%zu]", what, i);
}

/* Evaluates rec and checks every field of pcr_engine_decision against the
 * line; returns the decision's kind. */
static pcr_decision_kind check(pcr_engine *e, const char *rec)
{
    const char *line;
    size_t n;
    pcr_decision_kind k;
    pcr_engine_eval(e, rec, strlen(rec), 3, &line, &n, &k);
    pcr_decision d;
    cr_assert_eq(pcr_engine_decision(e, &d), PCR_OK);
    json_error_t jerr;
    json_t *j = json_loadb(line, n, 0, &jerr);
    cr_assert_not_null(j, "%.*s", (int)n, line);

    cr_assert_eq(d.kind, k);
    cr_assert_str_eq(pcr_decision_name(d.kind), json_string_value(json_object_get(j, "decision")));
    json_t *id = json_object_get(j, "id");
    if (json_is_null(id)) cr_assert_null(d.id);
    else cr_assert_str_eq(d.id, json_string_value(id));
    json_t *pol = json_object_get(j, "policy");
    if (json_is_null(pol)) cr_assert_null(d.policy);
    else cr_assert_str_eq(d.policy, json_string_value(pol));
    expect_strings("reviewer", json_object_get(j, "reviewer"), d.reviewers, d.nreviewers, true);
    json_t *dl = json_object_get(j, "deadline");
    if (json_is_null(dl)) cr_assert_null(d.deadline);
    else cr_assert_str_eq(d.deadline, json_string_value(dl));
    json_t *t = json_object_get(j, "timely");
    cr_assert_eq(d.timely, json_is_null(t) ? -1 : json_is_true(t) ? 1 : 0);
    expect_strings("rules", json_object_get(j, "rules"), d.rules, d.nrules, false);
    json_t *missing = json_object_get(j, "missing");
    if (missing) expect_strings("missing", missing, d.missing, d.nmissing, false);
    else cr_assert_eq(d.nmissing, 0);
    json_t *error = json_object_get(j, "error");
    if (error) cr_assert_str_eq(d.error, json_string_value(error));
    else cr_assert_null(d.error);
    json_decref(j);
    return k;
}

Test(api, decision_fields_match_the_line)
{
    pcr_engine *e = engine();
    /* two winning reviewers and a datetime deadline, on time */
    cr_assert_eq(check(e, "{\"id\":\"a1\",\"payer\":\"api\",\"code\":\"70551\",\"service_date\":\"2026-03-02\","
                          "\"requested_at\":\"2026-02-20T09:00\"}"),
                 PCR_DEC_PRIOR_AUTH);
    pcr_decision d;
    pcr_engine_decision(e, &d);
    cr_assert_str_eq(d.policy, "api@7");
    cr_assert_eq(d.nreviewers, 2);
    cr_assert_str_eq(d.reviewers[1], "AIM");
    cr_assert_str_eq(d.deadline, "2026-02-27T00:00");
    cr_assert_eq(d.timely, 1);
    cr_assert_eq(d.nrules, 2); /* the notification fired too, and is listed */

    /* the default reviewer and a date deadline */
    cr_assert_eq(check(e, "{\"id\":\"a2\",\"payer\":\"api\",\"code\":\"E0260\",\"price\":1200,"
                          "\"service_date\":\"2026-03-02\"}"),
                 PCR_DEC_PRIOR_AUTH);
    pcr_engine_decision(e, &d);
    cr_assert_str_eq(d.reviewers[0], "Plan");
    cr_assert_str_eq(d.deadline, "2026-02-28");
    cr_assert_eq(d.timely, -1);

    /* info_needed: no reviewer, no deadline, the missing field */
    cr_assert_eq(check(e, "{\"id\":\"a3\",\"payer\":\"api\",\"code\":\"E0260\",\"service_date\":\"2026-03-02\"}"),
                 PCR_DEC_INFO_NEEDED);
    pcr_engine_decision(e, &d);
    cr_assert_eq(d.nmissing, 1);
    cr_assert_str_eq(d.missing[0], "price");
    cr_assert_eq(d.nreviewers, 0);

    /* none, no_policy, and errors with and without an id */
    cr_assert_eq(check(e, "{\"id\":\"a4\",\"payer\":\"api\",\"code\":\"99213\",\"service_date\":\"2026-03-02\"}"),
                 PCR_DEC_NONE);
    cr_assert_eq(check(e, "{\"id\":\"a5\",\"payer\":\"other\",\"service_date\":\"2026-03-02\"}"), PCR_DEC_NO_POLICY);
    cr_assert_eq(check(e, "{\"id\":\"a6\",\"payer\":\"api\",\"service_date\":\"2026-13-45\"}"), PCR_DEC_ERROR);
    pcr_engine_decision(e, &d);
    cr_assert_str_eq(d.error, "record 3: field 'service_date': expected date YYYY-MM-DD, got \"2026-13-45\"");
    cr_assert_eq(check(e, "not json"), PCR_DEC_ERROR);
    pcr_engine_decision(e, &d);
    cr_assert_null(d.id);
    /* an id with an escape comes back unescaped */
    cr_assert_eq(check(e, "{\"id\":\"a\\u00e9\",\"payer\":\"api\",\"code\":\"99213\",\"service_date\":\"2026-03-02\"}"), PCR_DEC_NONE);
    pcr_engine_decision(e, &d);
    cr_assert_str_eq(d.id, "a\xc3\xa9");
    pcr_engine_free(e);
}

Test(api, decision_before_any_record_is_a_usage_error)
{
    pcr_engine *e = engine();
    pcr_decision d;
    cr_assert_eq(pcr_engine_decision(e, &d), PCR_ERR_USAGE);
    cr_assert_eq(pcr_engine_decision(NULL, &d), PCR_ERR_USAGE);
    pcr_engine_free(e);
}
