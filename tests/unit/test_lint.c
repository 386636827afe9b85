/* test_lint.c: the W6xx lints through the real pcrc and pcrvm, on copies of
 * a shipped policy with one defect planted in each (tests/lint/README.md).
 * For each: the code at the planted line and column, and either a witness
 * that pcrvm, given the compiled copy, decides as the finding says, or a
 * reason note. Also: allowances, --Werror, and the shipped policies. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static const char *tmpdir(void) { return th_tmpdir("lint"); }

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* The text after "# KEY " on a header line of fixture text, up to the end
 * of the line (malloc'ed), or NULL. */
static char *header(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "# %s", key);
    const char *p = strstr(text, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    size_t n = strcspn(p, "\n");
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Writes ibx.pcr followed by fixture text to DIR/planted.pcr; returns the
 * number of lines of ibx.pcr. */
static size_t plant(const char *fixture_text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/policies/ibx.pcr", th_root());
    char *base = th_read_file(path, NULL);
    cr_assert_not_null(base);
    snprintf(path, sizeof path, "%s/planted.pcr", tmpdir());
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(base, f);
    fputs(fixture_text, f);
    fclose(f);
    size_t n = count_lines(base);
    free(base);
    return n;
}

/* Runs the planted copy of fixture `name` through pcrc lint and checks what
 * its header asks. */
static void check_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/lint/%s", th_root(), name);
    char *fx = th_read_file(path, NULL);
    cr_assert_not_null(fx, "missing fixture %s", path);
    char *expect = header(fx, "expect");
    cr_assert_not_null(expect);
    char code[8];
    unsigned line, col;
    cr_assert_eq(sscanf(expect, "%7s %u:%u", code, &line, &col), 3, "bad header: %s", expect);
    size_t base = plant(fx);

    int st;
    char *out = th_runf(&st, "%s/pcrc lint --color=never -I policies %s/planted.pcr 2>&1", th_bin(),
                        tmpdir());
    cr_assert_eq(st, 0, "warnings alone exit 0: %s", out);
    char want[128];
    snprintf(want, sizeof want, "planted.pcr:%zu:%u: warning[%s]", base + line, col, code);
    cr_assert_not_null(strstr(out, want), "%s: wanted `%s` in:\n%s", name, want, out);
    /* Only the planted defect: the base policy is lint-clean. (A planted
     * rule has no test: W610 about it is expected too.) */
    const char *mine = strstr(out, want) + (strstr(want, "warning[") - want);
    for (const char *w = strstr(out, "warning["); w; w = strstr(w + 1, "warning["))
        cr_assert(w == mine || strncmp(w, "warning[W610]", 13) == 0, "%s: another warning:\n%s", name, out);

    char *rules = header(fx, "witness-rules"), *not = header(fx, "witness-not");
    if (!rules && !not) {
        char *reason = header(fx, "reason");
        cr_assert_not_null(reason, "%s: needs witness-rules, witness-not or reason", name);
        free(reason);
        snprintf(want, sizeof want, "note[%s]: ", code);
        const char *note = strstr(out, want);
        cr_assert_not_null(note, "%s: no reason note:\n%s", name, out);
        cr_assert_null(strstr(out, "witness:"), "%s", out);
    } else {
        snprintf(want, sizeof want, "note[%s]: witness: ", code);
        const char *w = strstr(out, want);
        cr_assert_not_null(w, "%s: no witness:\n%s", name, out);
        w += strlen(want);
        char rec[600];
        snprintf(rec, sizeof rec, "%s/w.jsonl", tmpdir());
        FILE *f = fopen(rec, "wb");
        cr_assert_not_null(f);
        fwrite(w, 1, strcspn(w, "\n"), f);
        fputc('\n', f);
        fclose(f);
        char *r = th_runf(&st, "%s/pcrc -I policies %s/planted.pcr -o %s/planted.pcrb 2>&1 && "
                               "%s/pcrvm %s/planted.pcrb %s",
                          th_bin(), tmpdir(), tmpdir(), th_bin(), tmpdir(), rec);
        cr_assert_eq(st, 0, "%s", r);
        cr_assert_null(strstr(r, "\"decision\":\"error\""), "%s: witness is malformed: %s", name, r);
        /* The decision's fired rules: "rules":[...] */
        const char *fired = strstr(r, "\"rules\":[");
        cr_assert_not_null(fired, "%s", r);
        size_t flen = strcspn(fired, "]");
        for (char *tok = rules ? strtok(rules, " ") : NULL; tok; tok = strtok(NULL, " ")) {
            char q[128];
            snprintf(q, sizeof q, "\"%s\"", tok);
            const char *hit = strstr(fired, q);
            cr_assert(hit && (size_t)(hit - fired) < flen, "%s: %s did not fire on the witness: %s", name,
                      tok, r);
        }
        if (not) {
            char q[128];
            snprintf(q, sizeof q, "\"%s\"", not);
            const char *hit = strstr(fired, q);
            cr_assert(!hit || (size_t)(hit - fired) >= flen, "%s: %s fired on the witness: %s", name,
                      not, r);
        }
        free(r);
    }
    free(rules);
    free(not);
    free(out);
    free(expect);
    free(fx);
}

Test(lint, w601_contradictory_settings) { check_fixture("w601_disjoint.pcr"); }
Test(lint, w601_disjoint_code_sets) { check_fixture("w601_sets.pcr"); }
Test(lint, w602_unless_always_applies) { check_fixture("w602_always.pcr"); }
Test(lint, w603_unless_never_applies) { check_fixture("w603_never.pcr"); }
Test(lint, w604_rule_window_outside_policy) { check_fixture("w604_window.pcr"); }
Test(lint, w604_codeset_window_outside_policy) { check_fixture("w604_set.pcr"); }
Test(lint, w605_redundant_rule) { check_fixture("w605_redundant.pcr"); }
Test(lint, w606_not_covered_with_prior_auth) { check_fixture("w606_conflict.pcr"); }
Test(lint, w607_exempt_waives_nothing) { check_fixture("w607_exempt.pcr"); }
Test(lint, w608_misspelled_literal) { check_fixture("w608_literal.pcr"); }
Test(lint, w609_overlapping_items) { check_fixture("w609_overlap.pcr"); }
Test(lint, w610_rule_without_a_test) { check_fixture("w610_untested.pcr"); }
Test(lint, w610_alternative_without_a_test) { check_fixture("w610_alternative.pcr"); }

/* --check reports the same; --Werror makes a lint fail the check. */
Test(lint, check_reports_lints_and_werror_fails)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/lint/w601_disjoint.pcr", th_root());
    char *fx = th_read_file(path, NULL);
    plant(fx);
    int st;
    char *out = th_runf(&st, "%s/pcrc --check --color=never -I policies %s/planted.pcr 2>&1", th_bin(),
                        tmpdir());
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_not_null(strstr(out, "warning[W601]"), "%s", out);
    free(out);
    out = th_runf(&st, "%s/pcrc lint --Werror --color=never -I policies %s/planted.pcr 2>&1", th_bin(),
                  tmpdir());
    cr_assert_eq(st, 1, "%s", out);
    free(out);
    /* Compiling to bytecode does not lint. */
    out = th_runf(&st, "%s/pcrc --Werror -I policies %s/planted.pcr -o %s/x.pcrb 2>&1", th_bin(),
                  tmpdir(), tmpdir());
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_null(strstr(out, "W601"), "%s", out);
    free(out);
    free(fx);
}

/* A `# lint: allow CODE why` comment above the rule keeps that warning
 * quiet, and only that one. */
Test(lint, allow_comment_keeps_one_warning_quiet)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/lint/w601_disjoint.pcr", th_root());
    char *fx = th_read_file(path, NULL);
    char *at = strstr(fx, "rule lint_w601");
    cr_assert_not_null(at);
    size_t pre = (size_t)(at - fx);
    const char *allow = "# Planted on purpose.\n# lint: allow W601 kept to test the allowance\n"
                        "# lint: allow W610 no test on purpose\n";
    char *text = malloc(strlen(fx) + strlen(allow) + 1);
    memcpy(text, fx, pre);
    strcpy(text + pre, allow);
    strcat(text, at);
    plant(text);
    int st;
    char *out = th_runf(&st, "%s/pcrc lint --Werror --color=never -I policies %s/planted.pcr 2>&1",
                        th_bin(), tmpdir());
    /* W601 is reported at the `when`, two lines below the comment block:
     * the allowance must sit on that line or right above it. */
    cr_assert_not_null(strstr(out, "warning[W601]"), "%s", out);
    free(out);
    free(text);

    const char *inline_allow = "  when setting == inpatient and setting == office  # lint: allow W601 planted\n";
    char *w = strstr(fx, "  when setting");
    cr_assert_not_null(w);
    size_t wpre = (size_t)(w - fx), wlen = strcspn(w, "\n") + 1;
    const char *no_test = "# lint: allow W610 no test on purpose\n";
    text = malloc(strlen(fx) + strlen(inline_allow) + strlen(no_test) + 1);
    memcpy(text, fx, pre);
    strcpy(text + pre, no_test);
    strncat(text, fx + pre, wpre - pre);
    strcat(text, inline_allow);
    strcat(text, w + wlen);
    plant(text);
    out = th_runf(&st, "%s/pcrc lint --Werror --color=never -I policies %s/planted.pcr 2>&1", th_bin(),
                  tmpdir());
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_null(strstr(out, "W601"), "%s", out);
    free(out);
    /* Another code does not allow it. */
    char *k = strstr(text, "W601 planted");
    memcpy(k, "W602", 4);
    plant(text);
    out = th_runf(&st, "%s/pcrc lint --Werror --color=never -I policies %s/planted.pcr 2>&1", th_bin(),
                  tmpdir());
    cr_assert_eq(st, 1, "%s", out);
    free(out);
    free(text);
    free(fx);
}

/* The shipped policies are lint-clean: each remaining finding is allowed
 * by a comment that says why. */
Test(lint, shipped_policies_are_clean)
{
    int st;
    char *out = th_runf(&st, "for p in policies/*.pcr policies/examples/*.pcr; do "
                             "%s/pcrc lint --Werror --color=never -I policies $p || echo FAILED $p; done 2>&1",
                        th_bin());
    cr_assert_null(strstr(out, "FAILED"), "%s", out);
    free(out);
}
