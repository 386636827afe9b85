/* test_extends.c: policies that extend a base list (docs/language.md,
 * "Extending a base list"), through the real pcrc and pcrvm on real files.
 *
 * The example policies/examples/cigna_variant.pcr extends policies/cigna.pcr
 * (one rule removed, one replaced, one added). tests/extends/hand_merge.sh
 * writes the copy of cigna.pcr an analyst would edit by hand to mean the
 * same; both must decide every request of policies/examples/requests.jsonl
 * (and a few that reach the changed rules) byte for byte alike, and compile
 * to the same bytecode but for the source hash and the rules' lines. The
 * errors (clash, bad target, cycle, base without a header, base with the
 * same id, a base outside the module roots) are checked for their code and
 * file:line:col; the golden files tests/golden/diag/e1{02,27,28,29}_*.pcr
 * hold their exact wording. */

/* helpers.h defines static helpers that not every test binary uses. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static char *make_tmpdir(void)
{
    char *dir = strdup("/tmp/pcr-extends-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static void rm_rf(const char *dir)
{
    int st;
    free(th_runf(&st, "rm -rf '%s'", dir));
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Requests that reach the example's changes: the removed sleep study, the
 * replaced imaging rule (its deadline changed), the added hearing aids,
 * and an inherited rule. */
static const char extra_requests[] =
    "{\"id\":\"sleep\",\"payer\":\"cigna\",\"code\":\"95810\",\"plan\":\"phs_plus\","
    "\"setting\":\"outpatient\",\"network\":\"in\",\"service_date\":\"2026-03-16\"}\n"
    "{\"id\":\"mri\",\"payer\":\"cigna\",\"code\":\"70551\",\"plan\":\"phs_plus\","
    "\"setting\":\"outpatient\",\"network\":\"in\",\"service_date\":\"2026-03-16\"}\n"
    "{\"id\":\"aid\",\"payer\":\"cigna\",\"code\":\"V5050\",\"plan\":\"phs_plus\","
    "\"setting\":\"outpatient\",\"network\":\"in\",\"service_date\":\"2026-03-16\"}\n"
    "{\"id\":\"chiro\",\"payer\":\"cigna\",\"code\":\"98941\",\"plan\":\"phs_plus\","
    "\"setting\":\"office\",\"network\":\"in\",\"visit_number\":6,"
    "\"service_date\":\"2026-03-16\"}\n";

/* The line of out whose "id" is id (a pointer into out), or NULL. */
static const char *line_of(const char *out, const char *id)
{
    char key[64];
    snprintf(key, sizeof key, "{\"id\":\"%s\"", id);
    const char *p = strstr(out, key);
    return p;
}

Test(extends, decides_like_a_hand_merged_copy, .timeout = 120)
{
    char *dir = make_tmpdir();
    int st;
    write_file(dir, "extra.jsonl", extra_requests);
    free(th_runf(&st,
                 "cat policies/examples/requests.jsonl '%s/extra.jsonl' > '%s/requests.jsonl' && "
                 "sh tests/extends/hand_merge.sh policies/cigna.pcr "
                 "policies/examples/cigna_variant.pcr > '%s/merged.pcr'",
                 dir, dir, dir));
    cr_assert_eq(st, 0, "hand_merge.sh failed");

    char *ext = th_runf(&st, "%s/pcrvm -I policies policies/examples/cigna_variant.pcr < '%s/requests.jsonl'",
                        th_bin(), dir);
    cr_assert_eq(st, 0, "pcrvm on the extending policy exited %d", st);
    char *merged = th_runf(&st, "%s/pcrvm -I policies '%s/merged.pcr' < '%s/requests.jsonl'", th_bin(),
                           dir, dir);
    cr_assert_eq(st, 0, "pcrvm on the hand-merged copy exited %d", st);
    char *base = th_runf(&st, "%s/pcrvm policies/cigna.pcr < '%s/requests.jsonl'", th_bin(), dir);
    cr_assert_eq(st, 0);

    size_t lines = 0;
    for (const char *c = ext; *c; c++) lines += *c == '\n';
    cr_assert_eq(lines, 444 + 4, "one decision per request: %zu", lines);
    cr_expect_str_eq(ext, merged, "the extending policy and its hand-merged copy decide differently");

    /* The changes matter: each changed request is decided otherwise by the base. */
    cr_assert_not_null(strstr(line_of(ext, "sleep"), "\"decision\":\"none\""));
    cr_assert_not_null(strstr(line_of(base, "sleep"), "\"decision\":\"prior_auth\""));
    cr_assert_not_null(strstr(line_of(ext, "mri"), "\"deadline\":\"2026-03-09\""));
    cr_assert_not_null(strstr(line_of(base, "mri"), "\"deadline\":\"2026-03-13T00:00\""));
    cr_assert_not_null(strstr(line_of(ext, "aid"), "\"rules\":[\"variant_hearing_aids\"]"));
    cr_assert_not_null(strstr(line_of(base, "aid"), "\"decision\":\"none\""));
    cr_assert_not_null(strstr(line_of(ext, "chiro"), "\"rules\":[\"cigna_chiropractic\"]"));
    cr_assert_not_null(strstr(line_of(ext, "chiro"), "\"policy\":\"cigna_variant@2026.1\""));

    /* The bytecode is an ordinary policy's: the same as the copy's but for
     * the source hash and the lines the rules are written on. */
    const char *mask = "sed -e 's/(line [0-9]*)$//' -e '/^  hash /d'";
    char *da = th_runf(&st, "%s/pcrc --disasm -I policies policies/examples/cigna_variant.pcr | %s",
                       th_bin(), mask);
    cr_assert_eq(st, 0);
    char *db = th_runf(&st, "%s/pcrc --disasm -I policies '%s/merged.pcr' | %s", th_bin(), dir, mask);
    cr_assert_eq(st, 0);
    cr_expect_str_eq(da, db, "the bytecode differs from the hand-merged copy's");

    free(da);
    free(db);
    free(ext);
    free(merged);
    free(base);
    rm_rf(dir);
    free(dir);
}

/* ---- a small base and its extensions, in a temporary directory ---------- */

static const char base_src[] =
    "use std.request\n"
    "policy national {\n"
    "  payer \"national\"\n"
    "  title \"National\"\n"
    "  version \"1\"\n"
    "  effective 2026-01-01\n"
    "  reviewer \"National UM\"\n"
    "}\n"
    "codeset mri \"MRI\" { CPT 70551..70553 }\n"
    "codeset sleep \"Sleep\" { CPT 95807..95811 }\n"
    "rule imaging \"Imaging\" {\n"
    "  when code in mri\n"
    "  require prior_auth\n"
    "}\n"
    "rule sleep_study \"Sleep\" {\n"
    "  when code in sleep\n"
    "  require prior_auth\n"
    "}\n"
    "test \"the base's own test\" {\n"
    "  given { code: \"95807\", service_date: 2026-02-01 }\n"
    "  expect prior_auth\n"
    "}\n";

/* An extending policy: header, then `body`. */
static void write_plan(const char *dir, const char *name, const char *id, const char *body)
{
    char text[4096];
    snprintf(text, sizeof text,
             "use std.request\n"
             "policy %s extends national {\n"
             "  payer \"plan\"\n"
             "  title \"Plan\"\n"
             "  version \"2\"\n"
             "  effective 2026-01-01\n"
             "}\n"
             "%s",
             id, body);
    write_file(dir, name, text);
}

/* pcrc --check on dir/name: its stderr (malloc'ed), its status in *st. */
static char *check(const char *dir, const char *name, int *st)
{
    return th_runf(st, "%s/pcrc --check --color=never '%s/%s' 2>&1", th_bin(), dir, name);
}

Test(extends, remove_replace_add_and_the_listing)
{
    char *dir = make_tmpdir();
    write_file(dir, "national.pcr", base_src);
    write_plan(dir, "plan.pcr", "plan",
               "remove rule sleep_study \"the plan does not review sleep studies\"\n"
               "replace rule imaging \"Imaging, outpatient\" {\n"
               "  when code in mri and setting == outpatient\n"
               "  require notification\n"
               "}\n"
               "codeset dme \"DME\" { HCPCS E0100..E0200 }\n"
               "rule dme_pa \"DME\" {\n"
               "  when code in dme\n"
               "  require prior_auth\n"
               "}\n"
               "test \"replaced\" {\n"
               "  given { code: \"70551\", setting: outpatient, service_date: 2026-02-01 }\n"
               "  expect notification\n"
               "  rules [imaging]\n"
               "  reviewer \"National UM\"\n"
               "}\n"
               "test \"removed\" {\n"
               "  given { code: \"95807\", service_date: 2026-02-01 }\n"
               "  expect none\n"
               "}\n"
               "test \"added\" {\n"
               "  given { code: \"E0150\", service_date: 2026-02-01 }\n"
               "  expect prior_auth\n"
               "}\n");
    int st;
    /* The extending policy runs its own tests (not the base's) on the merged rules. */
    char *out = th_runf(&st, "%s/pcrc test '%s/plan.pcr' 2>&1", th_bin(), dir);
    cr_expect_eq(st, 0, "%s", out);
    cr_expect_str_eq(out, "3 passed, 0 failed\n");
    free(out);
    out = th_runf(&st, "%s/pcrc test '%s/national.pcr' 2>&1", th_bin(), dir);
    cr_expect_eq(st, 0, "%s", out);
    cr_expect_str_eq(out, "1 passed, 0 failed\n");
    free(out);

    out = th_runf(&st, "%s/pcrc list '%s/plan.pcr' --date 2026-02-01", th_bin(), dir);
    cr_expect_eq(st, 0, "%s", out);
    cr_expect_not_null(strstr(out, "extends:    national\n"), "%s", out);
    cr_expect_not_null(strstr(out, "reviewer:   National UM, unless"), "inherited reviewer: %s", out);
    cr_expect_not_null(strstr(out, "Imaging, outpatient [imaging]\n"
                                   "  from:      this policy, replacing the rule of national\n"),
                       "%s", out);
    cr_expect_not_null(strstr(out, "DME [dme_pa]\n  requires:"), "own rule, no from: %s", out);
    cr_expect_not_null(strstr(out, "Removed from the base\n"), "%s", out);
    cr_expect_not_null(strstr(out, "Sleep [sleep_study], of national: removed by plan: the plan "
                                   "does not review sleep studies"),
                       "%s", out);
    cr_expect_null(strstr(out, "Sleep [sleep_study]\n"), "a removed rule is not listed: %s", out);
    free(out);

    /* Coverage counts the inherited rules, each at its own file's line. */
    write_plan(dir, "cov.pcr", "cov",
               "test \"inherited\" {\n"
               "  given { code: \"70551\", service_date: 2026-02-01 }\n"
               "  expect prior_auth\n"
               "}\n");
    out = th_runf(&st, "%s/pcrc test --coverage '%s/cov.pcr' 2>&1", th_bin(), dir);
    cr_expect_not_null(strstr(out, "national.pcr:11: rule imaging: fired by 1 test\n"), "%s", out);
    cr_expect_not_null(strstr(out, "national.pcr:15: rule sleep_study: NOT"), "%s", out);
    cr_expect_not_null(strstr(out, "rules fired: 1 of 2"), "%s", out);
    free(out);
    rm_rf(dir);
    free(dir);
}

Test(extends, errors_have_codes_and_locations)
{
    char *dir = make_tmpdir();
    write_file(dir, "national.pcr", base_src);
    int st;

    write_plan(dir, "clash.pcr", "clash", "rule imaging \"Mine\" {\n  when code in mri\n  require prior_auth\n}\n");
    char *out = check(dir, "clash.pcr", &st);
    cr_expect_eq(st, 1);
    cr_expect_not_null(strstr(out, "clash.pcr:8:1: error[E127]: rule `imaging` is inherited from `national`"),
                       "%s", out);
    cr_expect_not_null(strstr(out, "national.pcr:11:1: note: the inherited rule `imaging` is here"), "%s",
                       out);
    free(out);

    write_plan(dir, "typo.pcr", "typo", "remove rule sleep_stduy \"x\"\n");
    out = check(dir, "typo.pcr", &st);
    cr_expect_eq(st, 1);
    cr_expect_not_null(strstr(out, "typo.pcr:8:1: error[E128]: cannot remove rule `sleep_stduy`"), "%s", out);
    cr_expect_not_null(strstr(out, "did you mean `sleep_study`?"), "%s", out);
    free(out);

    write_plan(dir, "same.pcr", "national", "");
    out = check(dir, "same.pcr", &st);
    cr_expect_eq(st, 1);
    cr_expect_not_null(strstr(out, "same.pcr:2:1: error[E129]: policy `national` has the id of its base"),
                       "%s", out);
    free(out);

    /* a -> b -> a */
    write_file(dir, "a.pcr", "use std.request\npolicy a extends b {\n  payer \"a\"\n  title \"A\"\n"
                             "  version \"1\"\n  effective 2026-01-01\n}\n");
    write_file(dir, "b.pcr", "use std.request\npolicy b extends a {\n  payer \"b\"\n  title \"B\"\n"
                             "  version \"1\"\n  effective 2026-01-01\n}\n");
    out = check(dir, "a.pcr", &st);
    cr_expect_eq(st, 1);
    cr_expect_not_null(strstr(out, "b.pcr:2:18: error[E102]: `extends` cycle: "), "%s", out);
    cr_expect_not_null(strstr(out, "a.pcr -> "), "%s", out);
    free(out);

    /* A base reached through a symbolic link out of the module roots is
     * refused like any module. */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/p", dir);
    free(th_runf(&st, "mkdir -p '%s' && ln -s '%s/national.pcr' '%s/national.pcr'", sub, dir, sub));
    write_plan(sub, "out.pcr", "out", "");
    out = check(sub, "out.pcr", &st);
    cr_expect_eq(st, 1);
    cr_expect_not_null(strstr(out, "out.pcr:2:20: error[E101]: module `national`: "), "%s", out);
    cr_expect_not_null(strstr(out, "leads outside the module roots"), "%s", out);
    free(out);
    /* ... and found, once inside a root given with -I. */
    out = th_runf(&st, "%s/pcrc --check -I '%s' '%s/out.pcr' 2>&1", th_bin(), dir, sub);
    cr_expect_eq(st, 0, "%s", out);
    free(out);

    rm_rf(dir);
    free(dir);
}
