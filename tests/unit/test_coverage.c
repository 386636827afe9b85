/* test_coverage.c: pcrc test --coverage through the real binary: per-rule
 * fired / near-missed / not reached, unless alternatives, totals, the JSON
 * form, --threshold, and the shipped policies' coverage. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static const char *tmpdir(void) { return th_tmpdir("cov"); }

/* Rule `fired` fires in a test; `stopped` has its when true but an unless
 * alternative stops it (near-missed, the second alternative exercised, the
 * first not); `one_away` misses one of its two `and` terms (near-missed);
 * `unreached` is never close. */
static const char policy[] =
    "use std.request\n"
    "policy cov { payer \"cov\" title \"t\" version \"1\" effective 2026-01-01 }\n"
    "rule fired \"fired\" {\n"
    "  when code in {CPT 70551}\n"
    "  require prior_auth\n"
    "}\n"
    "rule stopped \"stopped\" {\n"
    "  when code in {CPT 70552}\n"
    "  unless emergent or setting == emergency\n"
    "  require prior_auth\n"
    "}\n"
    "rule one_away \"one away\" {\n"
    "  when code in {CPT 70553} and setting == inpatient\n"
    "  require prior_auth\n"
    "}\n"
    "rule unreached \"unreached\" {\n"
    "  when code in {CPT 99999}\n"
    "  require prior_auth\n"
    "}\n"
    "test \"a\" {\n"
    "  given { code: \"70551\", service_date: 2026-02-01 }\n"
    "  expect prior_auth\n"
    "}\n"
    "test \"b\" {\n"
    "  given { code: \"70552\", setting: emergency, service_date: 2026-02-01 }\n"
    "  expect none\n"
    "}\n"
    "test \"c\" {\n"
    "  given { code: \"70553\", setting: office, service_date: 2026-02-01 }\n"
    "  expect none\n"
    "}\n";

static void write_policy(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/cov.pcr", tmpdir());
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(policy, f);
    fclose(f);
}

Test(coverage, text_report_per_rule_and_totals)
{
    write_policy();
    int st;
    char *out = th_runf(&st, "%s/pcrc test --coverage -I policies %s/cov.pcr", th_bin(), tmpdir());
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_not_null(strstr(out, "coverage of "), "%s", out);
    cr_assert_not_null(strstr(out, "cov.pcr:3: rule fired: fired by 1 test\n"), "%s", out);
    cr_assert_not_null(strstr(out, "cov.pcr:7: rule stopped: NOT FIRED, near-missed by 1 test\n"), "%s", out);
    cr_assert_not_null(strstr(out, "    unless emergent: NOT EXERCISED\n"), "%s", out);
    cr_assert_not_null(strstr(out, "    unless setting == emergency: exercised by 1 test\n"), "%s", out);
    cr_assert_not_null(strstr(out, "rule one_away: NOT FIRED, near-missed by 1 test\n"), "%s", out);
    cr_assert_not_null(strstr(out, "rule unreached: NOT REACHED by any test\n"), "%s", out);
    cr_assert_not_null(strstr(out, "rules fired: 1 of 4 (25.0%); near-missed only: 2; not reached: 1\n"), "%s", out);
    cr_assert_not_null(strstr(out, "unless alternatives exercised: 1 of 2 (50.0%)\n"), "%s", out);
    cr_assert_not_null(strstr(out, "3 passed, 0 failed\n"), "%s", out);
    free(out);
}

Test(coverage, json_is_one_object_per_policy)
{
    write_policy();
    int st;
    char *out = th_runf(&st, "%s/pcrc test --coverage --json -I policies %s/cov.pcr 2>/dev/null", th_bin(),
                        tmpdir());
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    cr_assert_not_null(j, "%s: %s", e.text, out);
    cr_assert_eq(json_integer_value(json_object_get(j, "tests")), 3);
    json_t *rules = json_object_get(j, "rules");
    cr_assert_eq(json_array_size(rules), 4);
    json_t *stopped = json_array_get(rules, 1);
    cr_assert_str_eq(json_string_value(json_object_get(stopped, "id")), "stopped");
    cr_assert_eq(json_integer_value(json_object_get(stopped, "fired")), 0);
    cr_assert_eq(json_integer_value(json_object_get(stopped, "near_missed")), 1);
    json_t *alts = json_object_get(stopped, "unless");
    cr_assert_eq(json_array_size(alts), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(alts, 1), "text")),
                     "setting == emergency");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(alts, 1), "exercised")), 1);
    json_t *t = json_object_get(j, "totals");
    cr_assert_eq(json_integer_value(json_object_get(t, "fired")), 1);
    cr_assert_eq(json_integer_value(json_object_get(t, "alternatives")), 2);
    cr_assert_float_eq(json_real_value(json_object_get(t, "rules_percent")), 25.0, 0.01);
    json_decref(j);
    free(out);
}

Test(coverage, threshold_sets_the_exit_status)
{
    write_policy();
    int st;
    free(th_runf(&st, "%s/pcrc test --threshold 25 -I policies %s/cov.pcr >/dev/null 2>&1", th_bin(), tmpdir()));
    cr_assert_eq(st, 0);
    char *err = th_runf(&st, "%s/pcrc test --threshold 50 -I policies %s/cov.pcr 2>&1 >/dev/null", th_bin(),
                        tmpdir());
    cr_assert_eq(st, 1, "%s", err);
    cr_assert_not_null(strstr(err, "coverage below 50%: rules fired 25.0%, unless alternatives exercised 50.0%"),
                       "%s", err);
    free(err);
    err = th_runf(&st, "%s/pcrc test --threshold 101 %s/cov.pcr 2>&1", th_bin(), tmpdir());
    cr_assert_eq(st, 2, "%s", err);
    free(err);
}

/* The shipped policies' tests fire at least 95% of their rules and
 * exercise 95% of their unless alternatives. */
Test(coverage, shipped_policies_reach_95_percent)
{
    int st;
    char *out = th_runf(&st, "for p in policies/*.pcr; do %s/pcrc test --threshold 95 -I policies $p "
                             ">/dev/null 2>&1 || { echo FAILED $p; %s/pcrc test --coverage -I policies $p "
                             "| grep -E 'NOT|rules fired|alternatives'; }; done",
                        th_bin(), th_bin());
    cr_assert_null(strstr(out, "FAILED"), "%s", out);
    free(out);
}
