/* test_records.c: honest records, through the public API and pcrvm: codes
 * checked against their systems' valid forms, unknown keys counted by
 * --stats and made errors by --strict (pcr_engine_set_strict), and the
 * "why" of a no_policy line. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "pcr/pcr.h"

static const char premera_src[] =
    "use std.request\n"
    "policy premera_2020 { payer \"premera\" title \"P\" version \"2020\"\n"
    "  effective 2020-01-01 through 2021-12-31 reviewer \"Plan\" }\n"
    "codeset mri \"MRI\" { CPT 70551..70553 }\n"
    "rule mri_pa \"MRI\" { when code in mri require prior_auth }\n";

static const char premera_2023_src[] =
    "use std.request\n"
    "policy premera_2023 { payer \"premera\" title \"P\" version \"2023\"\n"
    "  effective 2023-01-01 reviewer \"Plan\" }\n"
    "codeset mri \"MRI\" { CPT 70551..70553 }\n"
    "rule mri_pa \"MRI\" { when code in mri require prior_auth }\n";

static const char other_src[] =
    "use std.request\n"
    "policy other { payer \"premier\" title \"O\" version \"1\" effective 2020-01-01 reviewer \"O\" }\n"
    "codeset mri \"MRI\" { CPT 70551..70553 }\n"
    "rule mri_pa \"MRI\" { when code in mri require notification }\n";

static void add_src(pcr_engine *e, const char *name, const char *src)
{
    pcr_policy *p = th_compile(name, src);
    cr_assert_not_null(p);
    char err[256];
    cr_assert_eq(pcr_engine_add(e, p, err, sizeof err), PCR_OK, "%s", err);
}

/* Evaluates one record; returns the line's JSON (caller frees). */
static json_t *eval(pcr_engine *e, const char *rec, pcr_decision_kind *kind)
{
    const char *line = NULL;
    size_t n = 0;
    pcr_engine_eval(e, rec, strlen(rec), 1, &line, &n, kind);
    json_error_t jerr;
    json_t *j = json_loadb(line, n, 0, &jerr);
    cr_assert_not_null(j, "not JSON: %.*s", (int)n, line);
    return j;
}

static const char *str_of(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The error message of rec, or NULL when it decoded. */
static char *error_of(pcr_engine *e, const char *rec)
{
    pcr_decision_kind k;
    json_t *j = eval(e, rec, &k);
    char *msg = k == PCR_DEC_ERROR ? strdup(str_of(j, "error")) : NULL;
    json_decref(j);
    return msg;
}

#define REC(extra) "{\"id\":\"r\",\"payer\":\"premera\",\"service_date\":\"2020-06-01\"," extra "}"

Test(records, codes_of_every_form_are_accepted)
{
    pcr_engine *e = pcr_engine_new();
    add_src(e, "p.pcr", premera_src);
    static const char *const good[] = {
        REC("\"code\":\"70551\""), REC("\"code\":\"0213T\""), REC("\"code\":\"3044F\""),
        REC("\"code\":\"0001U\""), REC("\"code\":\"J1234\""), REC("\"code\":\"v2020\""),
        REC("\"code\":\"A0021\""), REC("\"code\":\"0450\""), REC("\"code\":\"450\",\"code_system\":\"REV\""),
        REC("\"code\":\"0001\""), REC("\"code\":\"0022\""), REC("\"code\":\"0024\""),
        REC("\"code\":\"0100\""), REC("\"code\":\"0999\""), REC("\"code\":\"1005\""),
        REC("\"code\":\"2100\""), REC("\"code\":\"3109\""),
        REC("\"diagnoses\":[\"C50.911\",\"C50911\",\"Z00.00\",\"U07.1\",\"I10\"]"),
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *msg = error_of(e, good[i]);
        cr_expect_null(msg, "%s rejected: %s", good[i], msg ? msg : "");
        free(msg);
    }
    pcr_engine_free(e);
}

Test(records, a_code_that_fits_no_system_is_an_error_naming_field_and_forms)
{
    pcr_engine *e = pcr_engine_new();
    add_src(e, "p.pcr", premera_src);
    const char *forms =
        "(CPT: 5 characters: 5 digits, or 4 digits and F, T or U; HCPCS: a letter A-V and 4 "
        "digits; revenue: 4 digits in 0001, 0022-0024, 0100-0999, 1000-1005, 2100-2109 or "
        "3100-3109)";
    /* 69930 with a digit dropped, unassigned revenue ranges, HCPCS W */
    static const char *const codes[] = {"6993", "0000", "0099", "1006", "2110", "9000", "W1234",
                                        "Z9999", "7055"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char rec[256], want[512];
        snprintf(rec, sizeof rec, REC("\"code\":\"%s\""), codes[i]);
        snprintf(want, sizeof want,
                 "record 1: field 'code': \"%s\" is not a CPT, HCPCS or revenue code %s", codes[i],
                 forms);
        char *msg = error_of(e, rec);
        cr_assert_not_null(msg, "%s accepted", codes[i]);
        cr_expect_str_eq(msg, want);
        free(msg);
    }
    /* with the system given, the message names that system's form */
    char *msg = error_of(e, REC("\"code\":\"1006\",\"code_system\":\"REV\""));
    cr_assert_not_null(msg);
    cr_expect_str_eq(msg, "record 1: field 'code': \"1006\" is not a valid REV code: a revenue code "
                          "is 4 digits in a range NUBC assigns: 0001, 0022-0024, 0100-0999, "
                          "1000-1005, 2100-2109 or 3100-3109");
    free(msg);
    msg = error_of(e, REC("\"code\":\"W1234\",\"code_system\":\"HCPCS\""));
    cr_assert_not_null(msg);
    cr_expect_str_eq(msg, "record 1: field 'code': \"W1234\" is not a valid HCPCS code: a HCPCS "
                          "Level II code is a letter A-V and 4 digits");
    free(msg);
    msg = error_of(e, REC("\"diagnoses\":[\"C50.9\",\"5C0\"]"));
    cr_assert_not_null(msg);
    cr_expect(strstr(msg, "field 'diagnoses': element 2: \"5C0\" is not a valid ICD10 code") != NULL,
              "%s", msg);
    free(msg);
    pcr_engine_free(e);
}

Test(records, strict_makes_unknown_keys_errors_before_or_after_add)
{
    for (int before = 0; before < 2; before++) {
        pcr_engine *e = pcr_engine_new();
        if (before) pcr_engine_set_strict(e, true);
        add_src(e, "p.pcr", premera_src);
        if (!before) pcr_engine_set_strict(e, true);
        char *msg = error_of(e, REC("\"code\":\"70551\",\"seting\":\"office\""));
        cr_assert_not_null(msg);
        cr_expect_str_eq(msg, "record 1: unknown field 'seting' (did you mean 'setting'?)");
        free(msg);
        msg = error_of(e, REC("\"code\":\"70551\",\"zzzzzzzz\":[1,{\"a\":2}]"));
        cr_assert_not_null(msg);
        cr_expect_str_eq(msg, "record 1: unknown field 'zzzzzzzz'");
        free(msg);
        /* a JSON error later in the line wins over the unknown key */
        msg = error_of(e, "{\"id\":\"r\",\"seting\":1,\"payer\":\"premera\",}");
        cr_assert_not_null(msg);
        cr_expect(strstr(msg, "unknown field") == NULL, "%s", msg);
        free(msg);
        pcr_engine_set_strict(e, false);
        msg = error_of(e, REC("\"code\":\"70551\",\"seting\":\"office\""));
        cr_expect_null(msg, "not strict, yet: %s", msg ? msg : "");
        free(msg);
        pcr_engine_free(e);
    }
}

/* Runs pcrvm over the lines in input (written to a temporary file) with
 * options; returns stdout+stderr and the exit status. */
static char *pcrvm(const char *opts, const char *input, int *status)
{
    char path[] = "/tmp/pcr-records-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(input, f);
    fclose(f);
    char *out = th_runf(status, "%s/pcrvm %s policies/examples/demo.pcr %s 2>&1", th_bin(), opts,
                        path);
    remove(path);
    return out;
}

#define DEMO(extra) "{\"id\":\"d\",\"payer\":\"demo\",\"service_date\":\"2026-03-01\"," extra "}\n"

Test(records, stats_count_unknown_keys_and_strict_exits_1)
{
    const char *input = DEMO("\"code\":\"70551\",\"seting\":\"office\"")
        DEMO("\"code\":\"70551\",\"seting\":\"home\",\"colour\":1")
        DEMO("\"code\":\"70551\",\"seting\":\"office\"")
        DEMO("\"code\":\"70551\"");
    int st;
    char *out = pcrvm("--stats", input, &st);
    cr_expect_eq(st, 0);
    cr_expect(strstr(out, "unknown_key seting 3 (did you mean 'setting'?)\n") != NULL, "%s", out);
    cr_expect(strstr(out, "unknown_key colour 1\n") != NULL, "%s", out);
    cr_expect(strstr(out, "\"decision\":\"error\"") == NULL, "%s", out);
    free(out);

    out = pcrvm("--strict --stats", input, &st);
    cr_expect_eq(st, 1);
    cr_expect(strstr(out, "\"error\":\"record 2: unknown field 'seting' (did you mean "
                          "'setting'?)\"") != NULL,
              "%s", out);
    cr_expect(strstr(out, "decision error        3\n") != NULL, "%s", out);
    cr_expect(strstr(out, "unknown_key seting 3") != NULL, "%s", out);
    free(out);
}

Test(records, unknown_key_table_is_bounded)
{
    /* 40 distinct names: 32 are counted by name, the rest together */
    char input[16384];
    size_t o = 0;
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(input + o, sizeof input - o,
                              DEMO("\"code\":\"70551\",\"extra_%02d\":true"), i);
    o += (size_t)snprintf(input + o, sizeof input - o,
                          DEMO("\"code\":\"70551\",\"a_key_name_much_longer_than_forty_bytes_in_all\":0"));
    int st;
    char *out = pcrvm("--stats", input, &st);
    cr_expect_eq(st, 0);
    cr_expect(strstr(out, "unknown_key extra_00 1\n") != NULL, "%s", out);
    cr_expect(strstr(out, "unknown_key extra_31 1\n") != NULL, "%s", out);
    cr_expect(strstr(out, "unknown_key extra_32") == NULL, "%s", out);
    cr_expect(strstr(out, "unknown_key (others) 9\n") != NULL, "%s", out);
    free(out);
}

Test(records, no_policy_says_why)
{
    pcr_engine *e = pcr_engine_new();
    add_src(e, "p23.pcr", premera_2023_src);
    add_src(e, "p20.pcr", premera_src);
    add_src(e, "o.pcr", other_src);
    struct {
        const char *rec, *why;
    } cases[] = {
        {"{\"id\":\"1\",\"payer\":\"Premera\",\"service_date\":\"2020-06-01\"}",
         "no policy for payer \"Premera\"; did you mean \"premera\" or \"premier\"?"},
        {"{\"id\":\"2\",\"payer\":\"premiere\",\"service_date\":\"2020-06-01\"}",
         "no policy for payer \"premiere\"; did you mean \"premier\" or \"premera\"?"},
        {"{\"id\":\"3\",\"payer\":\"aetna\",\"service_date\":\"2020-06-01\"}",
         "no policy for payer \"aetna\"; loaded payers: \"premera\", \"premier\""},
        {"{\"id\":\"4\",\"payer\":\"premera\",\"service_date\":\"2022-06-01\"}",
         "no policy of payer \"premera\" is in force on 2022-06-01; its policies cover 2020-01-01 "
         "through 2021-12-31 (premera_2020@2020), 2023-01-01 onward (premera_2023@2023)"},
        {"{\"id\":\"5\",\"payer\":\"premier\",\"service_date\":\"2019-12-31\"}",
         "no policy of payer \"premier\" is in force on 2019-12-31; its policies cover 2020-01-01 "
         "onward (other@1)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pcr_decision_kind k;
        json_t *j = eval(e, cases[i].rec, &k);
        cr_expect_eq(k, PCR_DEC_NO_POLICY);
        cr_expect_str_eq(str_of(j, "why"), cases[i].why);
        /* "why" is the last key, and only on no_policy lines */
        const char *prev = NULL;
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
        {
            if (strcmp(key, "why") == 0) cr_expect_str_eq(prev, "missing");
            prev = key;
        }
        json_decref(j);
    }
    pcr_decision_kind k;
    json_t *j = eval(e, "{\"id\":\"6\",\"payer\":\"premera\",\"service_date\":\"2020-06-01\"}", &k);
    cr_expect_neq(k, PCR_DEC_NO_POLICY);
    cr_expect_null(json_object_get(j, "why"));
    json_decref(j);
    pcr_engine_free(e);
}

/* The explanation is kept for the next record of the same payer (and, for
 * a known payer, the same date): it must never outlive what it depends on. */
Test(records, no_policy_why_follows_payer_date_and_policies)
{
    pcr_engine *e = pcr_engine_new();
    add_src(e, "p23.pcr", premera_2023_src);
    add_src(e, "p20.pcr", premera_src);
    struct {
        const char *rec, *why;
    } cases[] = {
        {"{\"id\":\"1\",\"payer\":\"aetna\",\"service_date\":\"2020-06-01\"}",
         "no policy for payer \"aetna\"; loaded payers: \"premera\""},
        {"{\"id\":\"2\",\"payer\":\"aetna\",\"service_date\":\"2024-01-01\"}",
         "no policy for payer \"aetna\"; loaded payers: \"premera\""},
        {"{\"id\":\"3\",\"payer\":\"aetn\",\"service_date\":\"2024-01-01\"}",
         "no policy for payer \"aetn\"; loaded payers: \"premera\""},
        {"{\"id\":\"4\",\"payer\":\"premera\",\"service_date\":\"2022-06-01\"}",
         "no policy of payer \"premera\" is in force on 2022-06-01; its policies cover 2020-01-01 "
         "through 2021-12-31 (premera_2020@2020), 2023-01-01 onward (premera_2023@2023)"},
        {"{\"id\":\"5\",\"payer\":\"premera\",\"service_date\":\"2022-07-01\"}",
         "no policy of payer \"premera\" is in force on 2022-07-01; its policies cover 2020-01-01 "
         "through 2021-12-31 (premera_2020@2020), 2023-01-01 onward (premera_2023@2023)"},
        {"{\"id\":\"6\",\"payer\":\"Premera\",\"service_date\":\"2022-07-01\"}",
         "no policy for payer \"Premera\"; did you mean \"premera\"?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pcr_decision_kind k;
        json_t *j = eval(e, cases[i].rec, &k);
        cr_expect_eq(k, PCR_DEC_NO_POLICY);
        cr_expect_str_eq(str_of(j, "why"), cases[i].why);
        json_decref(j);
    }
    /* a policy added after a no_policy record: the next one names it */
    add_src(e, "o.pcr", other_src);
    pcr_decision_kind k;
    json_t *j = eval(e, "{\"id\":\"7\",\"payer\":\"Premera\",\"service_date\":\"2022-07-01\"}", &k);
    cr_expect_eq(k, PCR_DEC_NO_POLICY);
    cr_expect_str_eq(str_of(j, "why"),
                     "no policy for payer \"Premera\"; did you mean \"premera\" or \"premier\"?");
    json_decref(j);
    pcr_engine_free(e);
}

Test(records, no_policy_why_is_valid_utf8_for_any_payer)
{
    pcr_engine *e = pcr_engine_new();
    add_src(e, "p20.pcr", premera_src);
    /* a long payer of 3-byte characters: the why is cut on a character */
    char rec[1024] = "{\"id\":\"7\",\"payer\":\"";
    for (int i = 0; i < 50; i++) strcat(rec, "\xe2\x82\xac");
    strcat(rec, "\",\"service_date\":\"2020-06-01\"}");
    pcr_decision_kind k;
    json_t *j = eval(e, rec, &k); /* json_loadb rejects invalid UTF-8 */
    cr_expect_eq(k, PCR_DEC_NO_POLICY);
    const char *why = str_of(j, "why");
    cr_assert_not_null(why);
    cr_expect(strncmp(why, "no policy for payer \"\xe2\x82\xac", 24) == 0, "%s", why);
    json_decref(j);
    pcr_engine_free(e);
}
