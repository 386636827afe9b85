/* test_cli.c: end-to-end tests through the real pcrc and pcrvm binaries,
 * with real files, as a user runs them. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static const char *tmpdir(void) { return th_tmpdir("cli"); }

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

Test(cli, version_and_help)
{
    int st;
    char *out = th_runf(&st, "%s/pcrc --version", th_bin());
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, "pcrc ") == out, "got: %s", out);
    free(out);
    out = th_runf(&st, "%s/pcrvm --help", th_bin());
    cr_assert_eq(st, 0);
    cr_assert_not_null(strstr(out, "usage: pcrvm"));
    free(out);
}

Test(cli, usage_errors_exit_2)
{
    int st;
    free(th_runf(&st, "%s/pcrc 2>/dev/null", th_bin()));
    cr_assert_eq(st, 2);
    free(th_runf(&st, "%s/pcrc --bogus x.pcr 2>/dev/null", th_bin()));
    cr_assert_eq(st, 2);
    free(th_runf(&st, "%s/pcrc policies/examples/demo.pcr 2>/dev/null", th_bin()));
    cr_assert_eq(st, 2, "compile without -o is a usage error");
    free(th_runf(&st, "%s/pcrc --check /nonexistent/x.pcr 2>/dev/null", th_bin()));
    cr_assert_eq(st, 2);
    free(th_runf(&st, "%s/pcrvm < /dev/null 2>/dev/null", th_bin()));
    cr_assert_eq(st, 2, "pcrvm without a policy");
}

Test(cli, compile_is_deterministic)
{
    int st;
    free(th_runf(&st, "%s/pcrc policies/examples/demo.pcr -o %s/a.pcrb", th_bin(), tmpdir()));
    cr_assert_eq(st, 0);
    free(th_runf(&st, "%s/pcrc policies/examples/demo.pcr -o %s/b.pcrb", th_bin(), tmpdir()));
    cr_assert_eq(st, 0);
    free(th_runf(&st, "cmp %s/a.pcrb %s/b.pcrb", tmpdir(), tmpdir()));
    cr_assert_eq(st, 0, "two compiles of one source differ");
}

Test(cli, source_and_bytecode_give_identical_output)
{
    int st;
    free(th_runf(&st, "%s/pcrc policies/examples/demo.pcr -o %s/demo.pcrb", th_bin(), tmpdir()));
    cr_assert_eq(st, 0);
    char *from_bc = th_runf(&st, "%s/pcrvm %s/demo.pcrb policies/examples/demo-requests.jsonl",
                        th_bin(), tmpdir());
    cr_assert_eq(st, 0);
    char *from_src = th_runf(&st, "%s/pcrvm policies/examples/demo.pcr < "
                              "policies/examples/demo-requests.jsonl", th_bin());
    cr_assert_eq(st, 0);
    cr_assert_str_eq(from_bc, from_src);
    size_t in_lines = 0;
    char *input = th_read_file("policies/examples/demo-requests.jsonl", NULL);
    if (!input) {
        char path[512];
        snprintf(path, sizeof path, "%s/policies/examples/demo-requests.jsonl", th_root());
        input = th_read_file(path, NULL);
    }
    cr_assert_not_null(input);
    in_lines = count_lines(input);
    cr_assert_eq(count_lines(from_bc), in_lines, "one decision line per input line");
    free(input);
    free(from_bc);
    free(from_src);
}

Test(cli, demo_decisions_match_the_reviewed_file)
{
    int st;
    char *got = th_runf(&st, "%s/pcrvm policies/examples/demo.pcr "
                         "policies/examples/demo-requests.jsonl", th_bin());
    cr_assert_eq(st, 0);
    char path[512];
    snprintf(path, sizeof path, "%s/policies/examples/demo-decisions.jsonl", th_root());
    char *want = th_read_file(path, NULL);
    cr_assert_not_null(want, "missing %s", path);
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
}

Test(cli, payer_batch_decisions_match_the_reviewed_file)
{
    int st;
    char *got = th_runf(&st, "%s/pcrvm policies/alliant.pcr policies/cigna.pcr policies/healthlink.pcr "
                         "policies/ibx.pcr policies/examples/requests.jsonl", th_bin());
    cr_assert_eq(st, 0);
    char path[512];
    snprintf(path, sizeof path, "%s/policies/examples/decisions.jsonl", th_root());
    char *want = th_read_file(path, NULL);
    cr_assert_not_null(want, "missing %s", path);
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
}

Test(cli, strict_exits_1_on_malformed_records)
{
    int st;
    free(th_runf(&st, "%s/pcrvm policies/examples/demo.pcr policies/examples/demo-requests.jsonl "
                  ">/dev/null", th_bin()));
    cr_assert_eq(st, 0);
    free(th_runf(&st, "%s/pcrvm --strict policies/examples/demo.pcr "
                  "policies/examples/demo-requests.jsonl >/dev/null", th_bin()));
    cr_assert_eq(st, 1);
}

Test(cli, pcrc_test_runs_the_demo_tests)
{
    int st;
    char *out = th_runf(&st, "%s/pcrc test policies/examples/demo.pcr", th_bin());
    cr_assert_eq(st, 0, "output: %s", out);
    const char *last = strstr(out, " passed, 0 failed\n");
    cr_assert_not_null(last, "output: %s", out);
    cr_assert_eq(last[strlen(" passed, 0 failed\n")], '\0', "summary must be the last line");
    free(out);
}

Test(cli, failing_test_reports_location_and_exits_1)
{
    char src[512];
    snprintf(src, sizeof src, "%s/policies/examples/failing-test.pcr", th_root());
    /* Written beside demo.pcr so that `use std.request` resolves. */
    write_file(src,
               "use std.request\n"
               "policy f { payer \"f\" title \"t\" version \"1\" effective 2026-01-01 }\n"
               "codeset mri { CPT 70551 }\n"
               "rule r \"MRI\" { when code in mri require prior_auth }\n"
               "test \"wrong\" {\n"
               "  given { code: \"70551\", service_date: 2026-03-02 }\n"
               "  expect notification\n"
               "}\n");
    int st;
    char *out = th_runf(&st, "%s/pcrc test %s", th_bin(), src);
    remove(src);
    cr_assert_eq(st, 1, "output: %s", out);
    cr_assert_not_null(strstr(out, "failing-test.pcr:5:1: test \"wrong\" failed: "
                                   "expected notification, got prior_auth"), "output: %s", out);
    cr_assert_not_null(strstr(out, "0 passed, 1 failed\n"), "output: %s", out);
    free(out);
}

Test(cli, policy_errors_exit_1_and_write_no_bytecode)
{
    char src[300], pcrb[300];
    snprintf(src, sizeof src, "%s/bad.pcr", tmpdir());
    snprintf(pcrb, sizeof pcrb, "%s/bad.pcrb", tmpdir());
    write_file(src, "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\n"
                    "rule r \"r\" { when nosuchfield require prior_auth }\n");
    remove(pcrb);
    int st;
    char *err = th_runf(&st, "%s/pcrc %s -o %s 2>&1", th_bin(), src, pcrb);
    cr_assert_eq(st, 1, "output: %s", err);
    cr_assert_not_null(strstr(err, "bad.pcr:"), "diagnostic names the file: %s", err);
    cr_assert_not_null(strstr(err, "error["), "diagnostic has a code: %s", err);
    cr_assert_eq(access(pcrb, F_OK), -1, "no bytecode may be written");
    free(err);
}

/* An older .pcrb beside a source that no longer compiles would pass for its
 * bytecode (and look up to date to make): pcrc removes it and says so. */
Test(cli, policy_errors_remove_an_old_output)
{
    char src[300], pcrb[300];
    snprintf(src, sizeof src, "%s/stale.pcr", tmpdir());
    snprintf(pcrb, sizeof pcrb, "%s/stale.pcrb", tmpdir());
    write_file(src, "use std.request\n"
                    "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\n"
                    "rule r \"r\" { when true require prior_auth }\n");
    int st;
    free(th_runf(&st, "%s/pcrc -I %s/policies %s -o %s 2>&1", th_bin(), th_root(), src, pcrb));
    cr_assert_eq(st, 0);
    cr_assert_eq(access(pcrb, F_OK), 0);
    write_file(src, "use std.request\n"
                    "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\n"
                    "rule r \"r\" { when nosuchfield require prior_auth }\n");
    char *err = th_runf(&st, "%s/pcrc -I %s/policies %s -o %s 2>&1", th_bin(), th_root(), src, pcrb);
    cr_assert_eq(st, 1, "output: %s", err);
    cr_assert_not_null(strstr(err, "pcrc: removed the old "), "output: %s", err);
    cr_assert_eq(access(pcrb, F_OK), -1, "the old bytecode must be gone");
    free(err);
}

/* The summary counts the files whose tests could not run. */
Test(cli, pcrc_test_counts_files_that_do_not_compile)
{
    char bad[300];
    snprintf(bad, sizeof bad, "%s/broken-tests.pcr", tmpdir());
    write_file(bad, "use std.request\n"
                    "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\n"
                    "rule r \"r\" { when nosuchfield require prior_auth }\n"
                    "test \"never runs\" { given { service_date: 2026-03-02 } expect none }\n");
    int st;
    char *out = th_runf(&st, "%s/pcrc test -I %s/policies policies/examples/demo.pcr %s 2>/dev/null", th_bin(), th_root(), bad);
    cr_assert_eq(st, 1, "output: %s", out);
    const char *last = strstr(out, " passed, 0 failed, 1 file not compiled (its tests did not run)\n");
    cr_assert_not_null(last, "output: %s", out);
    cr_assert_eq(last[strlen(" passed, 0 failed, 1 file not compiled (its tests did not run)\n")], '\0',
                 "summary must be the last line");
    free(out);
}

/* Without -I and without a standard library (PCR_STDLIB set and empty),
 * std/ cannot be found: E101 says how. */
Test(cli, missing_std_module_suggests_an_include_dir)
{
    char src[300];
    snprintf(src, sizeof src, "%s/outside.pcr", tmpdir());
    write_file(src, "use std.request\n"
                    "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\n");
    int st;
    char *err = th_runf(&st, "PCR_STDLIB= %s/pcrc --check %s 2>&1", th_bin(), src);
    cr_assert_eq(st, 1, "output: %s", err);
    cr_assert_not_null(strstr(err, "error[E101]: cannot find module `std.request`"), "output: %s", err);
    cr_assert_not_null(strstr(err, "(give -I DIR, DIR holding std/: policies/ in the PCR tree)"), "output: %s", err);
    free(err);
    err = th_runf(&st, "PCR_STDLIB= %s/pcrc --check -I %s/policies %s 2>&1", th_bin(), th_root(), src);
    cr_assert_eq(st, 0, "output: %s", err);
    free(err);
}

Test(cli, damaged_bytecode_is_rejected_with_one_line)
{
    int st;
    free(th_runf(&st, "%s/pcrc policies/examples/demo.pcr -o %s/ok.pcrb", th_bin(), tmpdir()));
    cr_assert_eq(st, 0);
    free(th_runf(&st, "head -c 100 %s/ok.pcrb > %s/trunc.pcrb", tmpdir(), tmpdir()));
    char *err = th_runf(&st, "echo '{}' | %s/pcrvm %s/trunc.pcrb 2>&1 >/dev/null", th_bin(), tmpdir());
    cr_assert_eq(st, 2, "output: %s", err);
    cr_assert_eq(count_lines(err), 1, "one line: %s", err);
    cr_assert_not_null(strstr(err, "trunc.pcrb: "), "names the file: %s", err);
    free(err);
    err = th_runf(&st, "printf 'hello world, not bytecode' > %s/text.pcrb && echo '{}' | "
                   "%s/pcrvm %s/text.pcrb 2>&1 >/dev/null", tmpdir(), th_bin(), tmpdir());
    cr_assert_eq(st, 2, "output: %s", err);
    cr_assert_not_null(strstr(err, "magic"), "says what is wrong: %s", err);
    free(err);
}

Test(cli, closed_stdout_is_quiet)
{
    int st;
    char *out = th_runf(&st, "for i in $(seq 1 20000); do cat policies/examples/demo-requests.jsonl; "
                         "done | %s/pcrvm policies/examples/demo.pcr 2>%s/stderr.txt | head -1; "
                         "cat %s/stderr.txt", th_bin(), tmpdir(), tmpdir());
    cr_assert_eq(st, 0);
    cr_assert_eq(count_lines(out), 1, "only head's line and no noise: %s", out);
    free(out);
}

/* pcrvm --explain: the routing, each rule with its line, each condition with
 * the record's values and its result, the obligations and the decision. */
Test(cli, explain_says_why_in_words)
{
    char in[512], why[512];
    snprintf(in, sizeof in, "%s/explain.jsonl", tmpdir());
    snprintf(why, sizeof why, "%s/explain.txt", tmpdir());
    write_file(in, "{\"id\":\"a\",\"payer\":\"demo\",\"code\":\"70551\",\"service_date\":\"2026-03-02\"}\n"
                   "{\"id\":\"b\",\"payer\":\"demo\",\"code\":\"70551\",\"setting\":\"office\","
                   "\"emergent\":true,\"service_date\":\"2026-03-02\"}\n"
                   "{\"id\":\"c\",\"payer\":\"Demo\",\"service_date\":\"2026-03-02\"}\n");
    int st;
    char *out = th_runf(&st, "%s/pcrvm --explain=%s policies/examples/demo.pcr %s", th_bin(), why, in);
    cr_assert_eq(st, 0);
    cr_assert_eq(count_lines(out), 3, "the decision lines are unchanged by --explain");
    char *text = th_read_file(why, NULL);
    cr_assert_not_null(text);
    const char *want[] = {
        "record 1, id \"a\": policy demo@2026.1, because its payer is \"demo\" and 2026-03-02 is in its window 2026-01-01..open",
        "rule imaging (line ",
        "when    code in mri   [code: CPT 70551]  -> true",
        "setting in {outpatient, office}   [setting: absent (not known)]  -> unknown, because setting is missing",
        "possible (what the missing fields could add):",
        "prior_auth by eviCore, due 2026-02-27T00:00: rule imaging; open while setting is missing",
        "decision info_needed: nothing is certain and a requirement is possible",
        "record 2, id \"b\"",
        "unless  emergent   [emergent: true]  -> true",
        "decision none: no requirement is certain or possible",
        "record 3, id \"c\": no policy for payer \"Demo\" on 2026-03-02; loaded: demo@2026.1 (payer \"demo\", 2026-01-01..open)",
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        cr_assert_not_null(strstr(text, want[k]), "explanation lacks: %s\n--- got:\n%s", want[k], text);
    free(text);
    free(out);
}

/* The explanation agrees with the decision on every record of the batch:
 * each rule of `rules` is explained as fired, each possible obligation's
 * rules as unknown or fired, and every decision is explained once. */
Test(cli, explain_agrees_with_every_decision_of_the_batch)
{
    char why[512];
    snprintf(why, sizeof why, "%s/batch-explain.txt", tmpdir());
    int st;
    char *out = th_runf(&st, "%s/pcrvm --explain=%s policies/alliant.pcr policies/cigna.pcr "
                        "policies/healthlink.pcr policies/ibx.pcr policies/examples/requests.jsonl",
                        th_bin(), why);
    cr_assert_eq(st, 0);
    char *text = th_read_file(why, NULL);
    cr_assert_not_null(text);
    size_t recno = 0, checked = 0;
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        recno++;
        char head[64], next[64];
        snprintf(head, sizeof head, "record %zu", recno);
        snprintf(next, sizeof next, "\nrecord %zu", recno + 1);
        char *block = strstr(text, head);
        cr_assert_not_null(block, "no explanation for %s", head);
        char *end = strstr(block, next);
        if (end) *end = '\0';
        /* each fired rule of the line */
        char *rules = strstr(line, "\"rules\":[");
        if (rules && !strstr(line, "\"decision\":\"error\"")) {
            rules += 9;
            for (char *r = rules; *r == '"';) {
                char *q = strchr(r + 1, '"');
                char pat[160];
                snprintf(pat, sizeof pat, "rule %.*s (line ", (int)(q - r - 1), r + 1);
                char *at = strstr(block, pat);
                cr_assert_not_null(at, "%s: rule %.*s not explained", head, (int)(q - r - 1), r + 1);
                char *eol = strchr(at, '\n');
                cr_assert_not_null(eol);
                char said[512];
                snprintf(said, sizeof said, "%.*s", (int)(eol - at), at);
                cr_assert_not_null(strstr(said, ": fired"), "%s: %s", head, said);
                checked++;
                r = q + 1;
                if (*r == ',') r++;
            }
        }
        if (end) *end = '\n';
    }
    cr_assert_geq(recno, 444);
    cr_assert_gt(checked, 300);
    free(text);
    free(out);
}
