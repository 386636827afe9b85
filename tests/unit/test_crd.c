/* test_crd.c: decision lines onto CRD's coverage-information extension
 * (tools/crd.c, crd_map_line), with lines of every shape: the current
 * ones, the extended ones (obligations, possible, a list of reviewers) and
 * broken ones. tests/crd/check.js checks the server's real answers with
 * FHIRPath; this checks the mapping rules one by one. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "crd.h"

static const char order[] =
    "{\"resourceType\":\"ServiceRequest\",\"id\":\"sr-1\",\"status\":\"draft\","
    "\"code\":{\"coding\":[{\"system\":\"http://www.ama-assn.org/go/cpt\",\"code\":\"70551\"}]}}";
static const char coverage[] =
    "{\"resourceType\":\"Coverage\",\"id\":\"cov-9\",\"payor\":[{\"display\":\"demo\"}]}";

typedef struct Answer {
    json_t *all;  /* the whole answer */
    json_t *ext;  /* the coverage-information extension's sub-extensions, or NULL */
    json_t *card; /* the first card */
} Answer;

static Answer map(const char *line)
{
    Crd *c = crd_new();
    CrdReply r = {0};
    crd_map_line(c, order, coverage, line, &r);
    crd_free(c);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(r.body);
    Answer a = {json_loads(r.body, 0, NULL), NULL, NULL};
    free(r.body);
    cr_assert_not_null(a.all);
    a.card = json_array_get(json_object_get(a.all, "cards"), 0);
    cr_assert_not_null(a.card, "every order gets a card");
    json_t *act = json_array_get(json_object_get(a.all, "systemActions"), 0);
    json_t *exts = json_object_get(json_object_get(act, "resource"), "extension");
    size_t i;
    json_t *e;
    json_array_foreach(exts, i, e)
        if (strcmp(json_string_value(json_object_get(e, "url")),
                   "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information") == 0)
            a.ext = json_object_get(e, "extension");
    return a;
}

/* The values of sub-extension url, as text ("" for none), joined by ",". */
static const char *values(const Answer *a, const char *url)
{
    static char buf[1024];
    buf[0] = '\0';
    size_t i;
    json_t *e;
    json_array_foreach(a->ext, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "url")), url) != 0) continue;
        const char *v = json_string_value(json_object_get(e, "valueCode"));
        if (!v) v = json_string_value(json_object_get(e, "valueString"));
        if (!v) v = json_string_value(json_object_get(json_object_get(e, "valueCodeableConcept"), "text"));
        strcat(buf, buf[0] ? "," : "");
        strncat(buf, v ? v : "?", sizeof buf - strlen(buf) - 1);
    }
    return buf;
}

/* The value of the detail whose code is code, or "". */
static const char *detail(const Answer *a, const char *code)
{
    size_t i;
    json_t *e;
    json_array_foreach(a->ext, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "url")), "detail") != 0) continue;
        json_t *sub = json_object_get(e, "extension");
        json_t *cc = json_object_get(json_array_get(sub, 0), "valueCodeableConcept");
        const char *c = json_string_value(
            json_object_get(json_array_get(json_object_get(cc, "coding"), 0), "code"));
        if (c && strcmp(c, code) == 0)
            return json_string_value(json_object_get(json_array_get(sub, 1), "valueString"));
    }
    return "";
}

/* CRD STU 2 crd-ci-q2 (2.1 form) and q3 (both directions where a code
 * exists), plus the 1..1 elements. */
static void check_invariants(const Answer *a)
{
    char covered[64]; /* values() reuses its buffer */
    snprintf(covered, sizeof covered, "%s", values(a, "covered"));
    cr_assert(strcmp(covered, "covered") == 0 || strcmp(covered, "not-covered") == 0 ||
              strcmp(covered, "conditional") == 0, "covered is 1..1: %s", covered);
    char pa[64];
    snprintf(pa, sizeof pa, "%s", values(a, "pa-needed"));
    if (strcmp(covered, "not-covered") == 0) cr_assert_str_empty(pa, "crd-ci-q2");
    else cr_assert_str_not_empty(pa, "crd-ci-q2 (STU 2): pa-needed unless not covered");
    bool conditional = strcmp(covered, "conditional") == 0 || strcmp(pa, "conditional") == 0;
    if (values(a, "info-needed")[0]) cr_assert(conditional, "crd-ci-q3");
    cr_assert_str_not_empty(values(a, "date"));
    cr_assert_str_not_empty(values(a, "coverage-assertion-id"));
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(a->ext, 0), "valueReference"), "reference")),
                     "Coverage/cov-9");
}

Test(crd, prior_auth_today)
{
    Answer a = map("{\"id\":\"x\",\"decision\":\"prior_auth\",\"policy\":\"demo@2026.1\","
                   "\"reviewer\":\"eviCore\",\"deadline\":\"2026-02-27T00:00\",\"timely\":true,"
                   "\"rules\":[\"mri\"],\"reasons\":[{\"rule\":\"mri\",\"title\":\"MRI\","
                   "\"outcome\":\"prior_auth\",\"citation\":\"doc, sec\"}]}");
    check_invariants(&a);
    cr_assert_str_eq(values(&a, "covered"), "covered");
    cr_assert_str_eq(values(&a, "pa-needed"), "auth-needed");
    cr_assert_str_eq(values(&a, "info-needed"), "");
    cr_assert_str_eq(values(&a, "reason"), "MRI (doc, sec)");
    cr_assert_str_eq(detail(&a, "reviewer"), "eviCore");
    cr_assert_str_eq(detail(&a, "deadline"), "2026-02-27T00:00");
    cr_assert_str_eq(detail(&a, "policy"), "demo@2026.1");
    cr_assert_str_eq(json_string_value(json_object_get(a.card, "indicator")), "warning");
    json_decref(a.all);
}

Test(crd, extended_line_certain_pa_possible_not_covered)
{
    Answer a = map("{\"id\":\"r1\",\"decision\":\"prior_auth\",\"policy\":\"demo@2026.1\","
                   "\"reviewer\":[\"eviCore\",\"Demo UM\"],\"deadline\":\"2026-02-27T00:00\","
                   "\"timely\":null,\"rules\":[\"mri\"],"
                   "\"reasons\":[{\"rule\":\"mri\",\"title\":\"MRI\",\"outcome\":\"prior_auth\","
                   "\"citation\":\"doc, sec\",\"citations\":[\"doc, sec\"]}],"
                   "\"obligations\":[{\"outcome\":\"prior_auth\",\"reviewer\":\"eviCore\","
                   "\"deadline\":\"2026-02-27T00:00\",\"timely\":null,\"rules\":[\"mri\"],"
                   "\"citations\":[\"doc, sec\"]}],"
                   "\"possible\":[{\"outcome\":\"not_covered\",\"reviewer\":null,\"deadline\":null,"
                   "\"rules\":[\"r9\"],\"missing\":[\"setting\",\"diagnoses\"]}],"
                   "\"missing\":[\"setting\",\"diagnoses\"]}");
    check_invariants(&a);
    cr_assert_str_eq(values(&a, "covered"), "conditional");
    cr_assert_str_eq(values(&a, "pa-needed"), "auth-needed");
    cr_assert_str_eq(values(&a, "info-needed"), "location");
    cr_assert_str_eq(detail(&a, "missing"), "setting, diagnoses");
    cr_assert_str_eq(detail(&a, "reviewer"), "eviCore, Demo UM");
    json_decref(a.all);
}

Test(crd, extended_line_only_possible_prior_auth)
{
    Answer a = map("{\"id\":\"r1\",\"decision\":\"info_needed\",\"policy\":\"demo@2026.1\","
                   "\"reviewer\":null,\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[],"
                   "\"obligations\":[],\"possible\":[{\"outcome\":\"prior_auth\",\"reviewer\":\"X\","
                   "\"deadline\":\"2026-03-03\",\"rules\":[\"r9\"],\"missing\":[\"service_date\","
                   "\"admission\"]}],\"missing\":[\"service_date\",\"admission\"]}");
    check_invariants(&a);
    cr_assert_str_eq(values(&a, "covered"), "covered");
    cr_assert_str_eq(values(&a, "pa-needed"), "conditional");
    cr_assert_str_eq(values(&a, "info-needed"), "timeframe");
    cr_assert_str_eq(detail(&a, "missing"), "service_date, admission");
    cr_assert(strstr(json_string_value(json_object_get(a.card, "detail")),
                     "Missing: service_date, admission") != NULL);
    json_decref(a.all);
}

Test(crd, extended_line_only_possible_notification)
{
    /* nothing conditional about coverage or prior auth: no info-needed, but
     * the possible notification and what is missing are said */
    Answer a = map("{\"id\":\"r1\",\"decision\":\"info_needed\",\"policy\":\"demo@2026.1\","
                   "\"reviewer\":null,\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[],"
                   "\"possible\":[{\"outcome\":\"notification\",\"reviewer\":\"X\",\"deadline\":null,"
                   "\"rules\":[\"r9\"],\"missing\":[\"admission\"]}],\"missing\":[\"admission\"]}");
    check_invariants(&a);
    cr_assert_str_eq(values(&a, "covered"), "covered");
    cr_assert_str_eq(values(&a, "pa-needed"), "no-auth");
    cr_assert_str_eq(values(&a, "info-needed"), "");
    cr_assert_str_not_empty(detail(&a, "possible-notification"));
    cr_assert_str_eq(detail(&a, "missing"), "admission");
    json_decref(a.all);
}

Test(crd, todays_info_needed_without_possible_is_conditional)
{
    Answer a = map("{\"id\":\"hl-029\",\"decision\":\"info_needed\",\"policy\":\"healthlink@2022-01-01\","
                   "\"reviewer\":null,\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[],"
                   "\"missing\":[\"diagnoses\"]}");
    check_invariants(&a);
    cr_assert_str_eq(values(&a, "pa-needed"), "conditional");
    cr_assert_str_eq(values(&a, "info-needed"), "", "diagnoses has no information-needed code");
    cr_assert_str_eq(detail(&a, "missing"), "diagnoses");
    json_decref(a.all);
}

Test(crd, notification_with_advisory)
{
    Answer a = map("{\"id\":\"r\",\"decision\":\"notification\",\"policy\":\"demo@2026.1\","
                   "\"reviewer\":\"Demo Health\",\"deadline\":\"2026-03-09\",\"timely\":null,"
                   "\"rules\":[\"er\"],\"reasons\":[],\"obligations\":[{\"outcome\":\"notification\","
                   "\"reviewer\":\"Demo Health\",\"deadline\":\"2026-03-09\",\"rules\":[\"er\"]},"
                   "{\"outcome\":\"advisory\",\"reviewer\":null,\"deadline\":null,\"rules\":[\"a\"]}]}");
    check_invariants(&a);
    cr_assert_str_eq(values(&a, "covered"), "covered");
    cr_assert_str_eq(values(&a, "pa-needed"), "no-auth");
    cr_assert_str_eq(detail(&a, "notification"), "notify Demo Health by 2026-03-09");
    cr_assert(strstr(json_string_value(json_object_get(a.card, "summary")), "notification") != NULL);
    json_decref(a.all);
}

Test(crd, not_covered_has_no_pa_needed)
{
    Answer a = map("{\"id\":\"r\",\"decision\":\"not_covered\",\"policy\":\"demo@2026.1\","
                   "\"reviewer\":\"Demo Health\",\"deadline\":null,\"timely\":null,"
                   "\"rules\":[\"c\",\"p\"],\"reasons\":[],\"obligations\":["
                   "{\"outcome\":\"not_covered\",\"rules\":[\"c\"]},{\"outcome\":\"prior_auth\","
                   "\"rules\":[\"p\"]}]}");
    check_invariants(&a);
    cr_assert_str_eq(values(&a, "covered"), "not-covered");
    cr_assert_str_eq(values(&a, "pa-needed"), "");
    json_decref(a.all);
}

Test(crd, none_is_covered_without_auth)
{
    Answer a = map("{\"id\":\"r\",\"decision\":\"none\",\"policy\":\"demo@2026.1\",\"reviewer\":null,"
                   "\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[]}");
    check_invariants(&a);
    cr_assert_str_eq(values(&a, "covered"), "covered");
    cr_assert_str_eq(values(&a, "pa-needed"), "no-auth");
    cr_assert_str_eq(json_string_value(json_object_get(a.card, "indicator")), "info");
    json_decref(a.all);
}

Test(crd, assertion_ids_are_unique)
{
    Crd *c = crd_new();
    char seen[3][128];
    for (int i = 0; i < 3; i++) {
        CrdReply r = {0};
        crd_map_line(c, order, coverage,
                     "{\"decision\":\"none\",\"policy\":\"p@1\",\"rules\":[],\"reasons\":[]}", &r);
        json_t *all = json_loads(r.body, 0, NULL);
        free(r.body);
        json_t *exts = json_object_get(json_object_get(json_array_get(json_object_get(all, "systemActions"), 0), "resource"), "extension");
        json_t *subs = json_object_get(json_array_get(exts, 0), "extension");
        size_t k;
        json_t *e;
        seen[i][0] = '\0';
        json_array_foreach(subs, k, e)
            if (strcmp(json_string_value(json_object_get(e, "url")), "coverage-assertion-id") == 0)
                snprintf(seen[i], sizeof seen[i], "%s", json_string_value(json_object_get(e, "valueString")));
        json_decref(all);
        cr_assert_str_not_empty(seen[i]);
        for (int j = 0; j < i; j++) cr_assert_str_neq(seen[i], seen[j]);
    }
    crd_free(c);
}

Test(crd, broken_lines_give_a_card_and_no_assertion)
{
    static const char *const lines[] = {
        "not json",
        "{\"id\":\"r\",\"decision\":\"error\",\"error\":\"record 1: field 'payer': missing (required)\"}",
        "{\"id\":\"r\",\"decision\":\"no_policy\"}",
        "{\"decision\":17}",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        Answer a = map(lines[i]);
        cr_assert_null(a.ext, "line %zu: no assertion", i);
        cr_assert_eq(json_array_size(json_object_get(a.all, "systemActions")), 0);
        cr_assert_not_null(json_string_value(json_object_get(a.card, "summary")));
        json_decref(a.all);
    }
}
