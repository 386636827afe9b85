/* test_codes_e2e.c: code ranges and prefixes from policy source to
 * decision: a range holds the codes of its ends' shape only (codes.h), a
 * prefix every code that starts with it. Through the public API and, for
 * the shipped HealthLink policy, through the real pcrvm. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "pcr/pcr.h"

static const char policy_src[] =
    "use std.request\n"
    "policy shapes { payer \"shapes\" title \"Shapes\" version \"1\" effective 2026-01-01 }\n"
    "codeset rhino \"Rhinoplasty\" { CPT 30400..30462 }\n"
    "codeset cat3 \"Category III\" { CPT 0163T..0165T }\n"
    "codeset breast \"Breast cancer\" { ICD10 C50.* }\n"
    "rule rhino_pa \"Rhinoplasty\" { when code in rhino require prior_auth }\n"
    "rule cat3_pa \"Category III\" { when code in cat3 require prior_auth }\n"
    "rule breast_note \"Breast cancer\" { when diagnoses any in breast require notification }\n";

/* An engine holding the policy above, compiled from memory. */
static pcr_engine *engine(void)
{
    pcr_engine *e = th_engine("shapes.pcr", policy_src);
    cr_assert_not_null(e);
    return e;
}

/* The decision for one request with code and diagnoses (a JSON array's
 * inside, may be empty). */
static pcr_decision_kind decide(pcr_engine *e, const char *code, const char *dx)
{
    char rec[512];
    snprintf(rec, sizeof rec,
             "{\"id\":\"t\",\"payer\":\"shapes\",\"service_date\":\"2026-03-02\",\"code\":\"%s\","
             "\"diagnoses\":[%s]}",
             code, dx);
    const char *line;
    size_t n;
    pcr_decision_kind k;
    cr_assert_eq(pcr_engine_eval(e, rec, strlen(rec), 1, &line, &n, &k), PCR_OK, "%s", rec);
    return k;
}

Test(codes_e2e, a_range_matches_codes_of_its_shape_only)
{
    pcr_engine *e = engine();
    cr_expect_eq(decide(e, "30410", ""), PCR_DEC_PRIOR_AUTH);
    cr_expect_eq(decide(e, "30462", ""), PCR_DEC_PRIOR_AUTH);
    cr_expect_eq(decide(e, "3044F", ""), PCR_DEC_NONE, "a Category II code is not rhinoplasty");
    cr_expect_eq(decide(e, "0164T", ""), PCR_DEC_PRIOR_AUTH);
    cr_expect_eq(decide(e, "0163T", ""), PCR_DEC_PRIOR_AUTH);
    cr_expect_eq(decide(e, "01650", ""), PCR_DEC_NONE, "an anesthesia code is not Category III");
    cr_expect_eq(decide(e, "01640", ""), PCR_DEC_NONE);
    cr_expect_eq(decide(e, "0166T", ""), PCR_DEC_NONE);
    cr_expect_eq(decide(e, "0164F", ""), PCR_DEC_NONE, "the T both ends share is in every code");
    cr_expect_eq(decide(e, "0163U", ""), PCR_DEC_NONE, "a PLA code is not Category III");
    pcr_engine_free(e);
}

Test(codes_e2e, a_prefix_matches_codes_of_every_shape)
{
    pcr_engine *e = engine();
    const char *in[] = {"\"C50\"", "\"C50.911\"", "\"C50A1\"", "\"C50.1A\"", "\"c50.z\""};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++)
        cr_expect_eq(decide(e, "99213", in[i]), PCR_DEC_NOTIFICATION, "%s", in[i]);
    const char *out[] = {"\"C51.0\"", "\"C49.9\"", "\"C4A.0\"", "\"D05.10\""};
    for (size_t i = 0; i < sizeof out / sizeof *out; i++)
        cr_expect_eq(decide(e, "99213", out[i]), PCR_DEC_NONE, "%s", out[i]);
    pcr_engine_free(e);
}

/* The defect as found: HealthLink's ambulatory rhinoplasty range
 * 30400..30462 required prior authorization for Category II code 3044F. */
Test(codes_e2e, healthlink_office_3044F_needs_nothing)
{
    char cmd[1024];
    const char *rec = "{\"id\":\"x\",\"payer\":\"healthlink\",\"setting\":\"office\","
                      "\"code\":\"%s\",\"service_date\":\"2022-03-01\"}";
    const char *codes[] = {"3044F", "30410"};
    const char *want[] = {"\"decision\":\"none\"", "\"decision\":\"prior_auth\""};
    for (size_t i = 0; i < 2; i++) {
        char r[256];
        snprintf(r, sizeof r, rec, codes[i]);
        snprintf(cmd, sizeof cmd, "cd '%s' && echo '%s' | '%s/pcrvm' policies/healthlink.pcr",
                 th_root(), r, th_bin());
        int st;
        char *out = th_run(cmd, &st);
        cr_assert_not_null(out, "could not run %s", cmd);
        cr_expect_eq(st, 0, "%s", cmd);
        cr_expect(strstr(out, want[i]) != NULL, "%s: %s", codes[i], out);
        free(out);
    }
}
