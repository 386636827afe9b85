/* test_diff.c: pcrc diff OLD NEW through the real binaries, on a shipped
 * policy and an edited copy: each kind of change is named, each witness
 * is decided by pcrvm as the diff says for both versions, and the exit
 * status says whether anything changed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static const char *tmpdir(void) { return th_tmpdir("diff"); }

/* Replaces the first `from` in *s by `to` (*s is malloc'ed). */
static void replace(char **s, const char *from, const char *to)
{
    char *at = strstr(*s, from);
    cr_assert_not_null(at, "fixture text not found: %s", from);
    size_t pre = (size_t)(at - *s), fl = strlen(from), tl = strlen(to), n = strlen(*s);
    char *r = malloc(n - fl + tl + 1);
    memcpy(r, *s, pre);
    memcpy(r + pre, to, tl);
    strcpy(r + pre + tl, at + fl);
    free(*s);
    *s = r;
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir(), name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Writes old.pcr (policies/ibx.pcr) and new.pcr (edited). */
static void write_versions(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/policies/ibx.pcr", th_root());
    char *base = th_read_file(path, NULL);
    cr_assert_not_null(base);
    char *s = strdup(base);
    /* removed in the new version */
    char *old = malloc(strlen(base) + 200);
    strcpy(old, base);
    strcat(old, "\nrule ibx_old_only \"Gone\" {\n"
                "  cite \"x\" section \"y\"\n"
                "  when code in {CPT 99213}\n"
                "  require prior_auth\n"
                "}\n");
    write_file("old.pcr", old);
    free(base);
    /* narrowed: no longer for Medicare Advantage */
    replace(&s, "when code in ibx_facet_rfa_codes and plan in {\"commercial\", \"medicare_advantage\"}",
            "when code in ibx_facet_rfa_codes and plan in {\"commercial\"}");
    s = realloc(s, strlen(s) + 400);
    strcat(s, "\nrule ibx_brain_mri \"Brain MRI\" {\n"
              "  cite \"x\" section \"y\"\n"
              "  when code in {CPT 70551..70553} and plan == \"commercial\"\n"
              "  require notification\n"
              "}\n");
    write_file("new.pcr", s);
    free(s);
    free(old);
}

/* The decision line pcrvm gives record rec with policy src (compiled). */
static char *decide(const char *src, const char *rec)
{
    write_file("w.jsonl", rec);
    int st;
    char *out = th_runf(&st, "%s/pcrc -I policies %s/%s -o %s/p.pcrb && %s/pcrvm %s/p.pcrb %s/w.jsonl",
                        th_bin(), tmpdir(), src, tmpdir(), th_bin(), tmpdir(), tmpdir());
    cr_assert_eq(st, 0, "%s", out);
    return out;
}

/* After `marker` in out: the witness record, and the old and new lines. */
static void check_witness(const char *out, const char *marker)
{
    const char *m = strstr(out, marker);
    cr_assert_not_null(m, "no `%s` in:\n%s", marker, out);
    const char *eg = strstr(m, "e.g. ");
    cr_assert_not_null(eg);
    eg += 5;
    char rec[1024], oldl[4096], newl[4096];
    size_t n = strcspn(eg, "\n");
    cr_assert_lt(n, sizeof rec - 2);
    memcpy(rec, eg, n);
    rec[n] = '\n';
    rec[n + 1] = '\0';
    const char *o = strstr(eg, "      old: "), *w = strstr(eg, "      new: ");
    cr_assert(o && w);
    o += 11;
    w += 11;
    size_t on = strcspn(o, "\n"), wn = strcspn(w, "\n");
    memcpy(oldl, o, on);
    oldl[on] = '\n';
    oldl[on + 1] = '\0';
    memcpy(newl, w, wn);
    newl[wn] = '\n';
    newl[wn + 1] = '\0';
    char *got = decide("old.pcr", rec);
    cr_assert_str_eq(got, oldl);
    free(got);
    got = decide("new.pcr", rec);
    cr_assert_str_eq(got, newl);
    free(got);
    cr_assert_str_neq(oldl + strcspn(oldl, ","), newl + strcspn(newl, ","), "the decisions must differ");
}

Test(diff, names_each_change_with_a_witness)
{
    write_versions();
    int st;
    char *out = th_runf(&st, "%s/pcrc diff -I policies %s/old.pcr %s/new.pcr", th_bin(), tmpdir(), tmpdir());
    cr_assert_eq(st, 1, "%s", out);
    cr_assert_not_null(strstr(out, "rule ibx_facet_rfa: changed\n  condition: applies to fewer requests\n"), "%s", out);
    check_witness(out, "rule ibx_facet_rfa: changed");
    cr_assert_not_null(strstr(out, "rule ibx_brain_mri: added (notification) \"Brain MRI\"\n  codes: CPT 70551-70553\n"),
                       "%s", out);
    check_witness(out, "rule ibx_brain_mri: added");
    cr_assert_not_null(strstr(out, "rule ibx_old_only: removed (prior_auth) \"Gone\"\n  codes: CPT 99213\n"), "%s", out);
    check_witness(out, "rule ibx_old_only: removed");
    free(out);
}

Test(diff, outcome_deadline_reviewer_window_and_codes)
{
    const char *a = "use std.request\n"
                    "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\n"
                    "codeset mri { CPT 70551..70553 }\n"
                    "rule r \"r\" {\n"
                    "  when code in mri\n"
                    "  require prior_auth\n"
                    "  reviewer \"A\"\n"
                    "  deadline 2 days before service\n"
                    "}\n";
    const char *b = "use std.request\n"
                    "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\n"
                    "codeset mri { CPT 70551..70555 }\n"
                    "rule r \"r\" {\n"
                    "  effective 2026-03-01\n"
                    "  when code in mri\n"
                    "  require notification\n"
                    "  reviewer \"B\"\n"
                    "  deadline 3 days before service\n"
                    "}\n";
    write_file("a.pcr", a);
    write_file("b.pcr", b);
    int st;
    char *out = th_runf(&st, "%s/pcrc diff -I policies %s/a.pcr %s/b.pcr", th_bin(), tmpdir(), tmpdir());
    cr_assert_eq(st, 1, "%s", out);
    cr_assert_not_null(strstr(out, "rule r: changed\n"
                                   "  outcome: prior_auth -> notification\n"
                                   "  reviewer: \"A\" -> \"B\"\n"
                                   "  deadline: 2 days before service -> 3 days before service\n"
                                   "  window: always -> from 2026-03-01\n"
                                   "  codes added: CPT 70554-70555\n"
                                   "  condition: applies to other requests\n"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "codeset mri: changed\n  codes added: CPT 70554-70555\n"), "%s", out);
    free(out);
}

Test(diff, no_change_exits_0_and_trouble_exits_2)
{
    write_versions();
    int st;
    char *out = th_runf(&st, "%s/pcrc diff -I policies %s/old.pcr %s/old.pcr", th_bin(), tmpdir(), tmpdir());
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_str_eq(out, "no changes\n");
    free(out);
    write_file("bad.pcr", "policy {\n");
    free(th_runf(&st, "%s/pcrc diff -I policies %s/old.pcr %s/bad.pcr 2>/dev/null", th_bin(), tmpdir(), tmpdir()));
    cr_assert_eq(st, 2);
    free(th_runf(&st, "%s/pcrc diff -I policies %s/bad.pcr %s/old.pcr 2>/dev/null", th_bin(), tmpdir(), tmpdir()));
    cr_assert_eq(st, 2);
    free(th_runf(&st, "%s/pcrc diff %s/old.pcr 2>/dev/null", th_bin(), tmpdir()));
    cr_assert_eq(st, 2);
}
