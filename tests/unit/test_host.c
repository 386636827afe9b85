/* test_host.c: the policy facts a host keeps beside the bytecode
 * (pcr_policy_window), through the public API, on compiled and reloaded
 * policies. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "pcr/pcr.h"

static pcr_policy *compile(const char *src)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/policies", th_root());
    const char *inc[] = {dir};
    pcr_compile_opts opts = {.include_dirs = inc, .n_include_dirs = 1};
    pcr_policy *p = NULL;
    pcr_diags *d = NULL;
    pcr_status st = pcr_compile_buffer("host.pcr", src, strlen(src), &opts, &p, &d);
    if (st != PCR_OK) pcr_diags_print(d, stderr, false);
    pcr_diags_free(d);
    cr_assert_eq(st, PCR_OK);
    return p;
}

/* Saves and loads p again: what a host that stores bytecode sees. */
static pcr_policy *reload(const pcr_policy *p)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cr_assert_eq(pcr_policy_save(p, &buf, &len), PCR_OK);
    pcr_policy *q = NULL;
    char err[256];
    cr_assert_eq(pcr_policy_load(buf, len, &q, err, sizeof err), PCR_OK, "%s", err);
    free(buf);
    return q;
}

#define POLICY(window)                                                                     \
    "use std.request\n"                                                                     \
    "policy host { payer \"h\" title \"Host\" version \"1\" " window " reviewer \"Plan\" }\n" \
    "codeset mri \"MRI\" { CPT 70551..70553 }\n"                                              \
    "rule mri_pa \"MRI\" { when code in mri require prior_auth }\n"

Test(host, window_with_both_ends)
{
    pcr_policy *p = compile(POLICY("effective 2022-01-01 through 2022-12-31"));
    pcr_policy *q = reload(p);
    char from[11], through[11];
    pcr_policy_window(p, from, through);
    cr_assert_str_eq(from, "2022-01-01");
    cr_assert_str_eq(through, "2022-12-31");
    pcr_policy_window(q, from, through);
    cr_assert_str_eq(from, "2022-01-01");
    cr_assert_str_eq(through, "2022-12-31");
    pcr_policy_free(p);
    pcr_policy_free(q);
}

Test(host, window_open_at_the_end_is_empty)
{
    pcr_policy *p = reload(compile(POLICY("effective 2009-05-15")));
    char from[11] = "x", through[11] = "x";
    pcr_policy_window(p, from, through);
    cr_assert_str_eq(from, "2009-05-15");
    cr_assert_str_eq(through, "");
    pcr_policy_free(p);
}
