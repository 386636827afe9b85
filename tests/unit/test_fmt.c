/* test_fmt.c: pcrc fmt, through the real binary.
 *
 * Every shipped policy and module is copied with its whitespace disturbed
 * (indentation dropped or made a tab, spaces doubled, trailing blanks,
 * some CRLF line ends), formatted in place, and checked: formatting again
 * changes nothing, every comment is kept, in order, and each payer policy
 * and the demo compile from the formatted tree to the same bytecode as
 * from policies/, byte for byte except the header's source hash (offset 32,
 * 8 bytes: FNV-1a of the source texts, which formatting changes by
 * design). Then the layout rules, one by one, on small sources, and the
 * command's modes: --check, standard input, errors, in-place writes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

/* The shipped sources, relative to the repository root. */
static const char *const shipped[] = {
    "policies/alliant.pcr",       "policies/cigna.pcr",      "policies/healthlink.pcr",
    "policies/ibx.pcr",           "policies/std/calendars.pcr", "policies/std/codes.pcr",
    "policies/std/request.pcr",   "policies/examples/demo.pcr",
    "policies/examples/cigna_variant.pcr",
};
/* The ones that are policies (the rest are modules they use). */
static const char *const roots[] = {
    "policies/alliant.pcr", "policies/cigna.pcr", "policies/healthlink.pcr",
    "policies/ibx.pcr",     "policies/examples/demo.pcr",
    "policies/examples/cigna_variant.pcr", /* extends policies/cigna.pcr */
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

static void spit(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* The comments of a source, each trimmed of trailing blanks and ended by
 * '\n', in order: '#' or "//" outside a string, to the end of the line. */
static char *comments_of(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *out = malloc(n + 1);
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\' && i + 1 < n) i++;
            else if (c == '"' || c == '\n') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '#' || (c == '/' && s[i + 1] == '/')) {
            size_t j = i;
            while (j < n && s[j] != '\n') j++;
            size_t k = j;
            while (k > i && (s[k - 1] == ' ' || s[k - 1] == '\t' || s[k - 1] == '\r')) k--;
            memcpy(out + o, s + i, k - i);
            o += k - i;
            out[o++] = '\n';
            i = j;
        }
    }
    out[o] = '\0';
    return out;
}

/* s with its whitespace disturbed but its tokens, comments and line breaks
 * kept (see the file comment). */
static char *disturb(const char *s, size_t *len)
{
    size_t n = strlen(s), o = 0;
    char *out = malloc(3 * n + 16);
    size_t line = 0;
    bool in_str = false, in_comment = false, at_start = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (at_start) {
            if (c == ' ' || c == '\t') continue;
            if (line % 3 == 1 && c != '\n') out[o++] = '\t';
            at_start = false;
        }
        if (c == '\n') {
            if (line % 2 == 1 && !in_comment) out[o++] = ' ', out[o++] = ' ';
            if (line % 5 == 4) out[o++] = '\r';
            out[o++] = '\n';
            line++;
            at_start = true;
            in_str = in_comment = false;
            continue;
        }
        if (in_comment) {
            out[o++] = c;
        } else if (in_str) {
            out[o++] = c;
            if (c == '\\' && i + 1 < n) out[o++] = s[++i];
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            out[o++] = c;
            in_str = true;
        } else if (c == '#' || (c == '/' && s[i + 1] == '/')) {
            out[o++] = c;
            in_comment = true;
        } else if (c == ' ') {
            out[o++] = ' ';
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

static char *make_tmpdir(void)
{
    char *dir = strdup("/tmp/pcr-fmt-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static void rm_rf(const char *dir)
{
    int st;
    free(th_runf(&st, "rm -rf '%s'", dir));
}

/* Compiles root (under tree) to bytes, with the header's source hash
 * zeroed. */
static char *compile_masked(const char *tree, const char *root, const char *out, size_t *len)
{
    int st;
    char *msg = th_runf(&st, "%s/pcrc -I '%s/policies' '%s/%s' -o '%s' 2>&1", th_bin(), tree, tree,
                        root, out);
    cr_assert_eq(st, 0, "%s/%s does not compile: %s", tree, root, msg);
    free(msg);
    char *b = slurp(out, len);
    cr_assert_geq(*len, 40);
    memset(b + 32, 0, 8);
    memset(b + 20, 0, 4); /* the checksum covers the source hash too */
    return b;
}

Test(fmt, shipped_policies_disturbed_then_formatted, .timeout = 120)
{
    char *dir = make_tmpdir();
    int st;
    free(th_runf(&st, "mkdir -p '%s/policies/std' '%s/policies/examples'", dir, dir));
    char path[512];
    for (size_t i = 0; i < COUNT(shipped); i++) {
        size_t len, dlen;
        char *orig = slurp(shipped[i], &len);
        char *messy = disturb(orig, &dlen);
        snprintf(path, sizeof path, "%s/%s", dir, shipped[i]);
        spit(path, messy, dlen);
        char *before = comments_of(orig);

        char *msg = th_runf(&st, "%s/pcrc fmt '%s' 2>&1", th_bin(), path);
        cr_assert_eq(st, 0, "%s: %s", shipped[i], msg);
        free(msg);
        size_t flen;
        char *formatted = slurp(path, &flen);
        cr_expect_neq(strcmp(formatted, messy), 0, "%s: nothing was formatted", shipped[i]);
        cr_expect(strstr(formatted, "\r") == NULL && strstr(formatted, " \n") == NULL,
                  "%s: CR or trailing blanks left", shipped[i]);

        /* idempotent: --check finds nothing, fmt - gives the same bytes */
        msg = th_runf(&st, "%s/pcrc fmt --check '%s'", th_bin(), path);
        cr_expect_eq(st, 0, "%s: formatting twice changes it: %s", shipped[i], msg);
        cr_expect_str_eq(msg, "");
        free(msg);
        msg = th_runf(&st, "%s/pcrc fmt - < '%s'", th_bin(), path);
        cr_expect_eq(st, 0);
        cr_expect_str_eq(msg, formatted, "%s: fmt of fmt differs", shipped[i]);
        free(msg);

        char *after = comments_of(formatted);
        cr_expect_str_eq(after, before, "%s: comments changed", shipped[i]);
        /* the line count is kept: the bytecode records rules' lines */
        size_t lines_o = 0, lines_f = 0;
        for (const char *c = orig; *c; c++) lines_o += *c == '\n';
        for (const char *c = formatted; *c; c++) lines_f += *c == '\n';
        cr_expect_eq(lines_f, lines_o, "%s: %zu lines became %zu", shipped[i], lines_o, lines_f);
        free(after);
        free(before);
        free(formatted);
        free(messy);
        free(orig);
    }
    for (size_t i = 0; i < COUNT(roots); i++) {
        char a_out[600], b_out[600];
        snprintf(a_out, sizeof a_out, "%s/a.pcrb", dir);
        snprintf(b_out, sizeof b_out, "%s/b.pcrb", dir);
        size_t alen, blen;
        char *a = compile_masked(".", roots[i], a_out, &alen);
        char *b = compile_masked(dir, roots[i], b_out, &blen);
        cr_expect(alen == blen && memcmp(a, b, alen) == 0,
                  "%s: the formatted source compiles to different bytecode", roots[i]);
        free(a);
        free(b);
    }
    rm_rf(dir);
    free(dir);
}

Test(fmt, shipped_policies_are_formatted)
{
    /* Today's shipped sources are already in the canonical layout: the
     * formatter was written from them. */
    for (size_t i = 0; i < COUNT(shipped); i++) {
        int st;
        char *msg = th_runf(&st, "%s/pcrc fmt --check %s", th_bin(), shipped[i]);
        cr_expect_eq(st, 0, "%s would change", shipped[i]);
        free(msg);
    }
}

/* Formats src through standard input; returns stdout (and the status). */
static char *fmt_text(const char *src, int *status)
{
    char *dir = make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/in.pcr", dir);
    spit(path, src, strlen(src));
    char *out = th_runf(status, "%s/pcrc fmt - < '%s' 2>/dev/null", th_bin(), path);
    rm_rf(dir);
    free(dir);
    return out;
}

static void expect_fmt(const char *src, const char *want)
{
    int st;
    char *got = fmt_text(src, &st);
    cr_expect_eq(st, 0);
    cr_expect_str_eq(got, want, "\n--- source\n%s--- got\n%s--- want\n%s", src, got, want);
    free(got);
    got = fmt_text(want, &st);
    cr_expect_str_eq(got, want, "the expected text is not a fixed point");
    free(got);
}

Test(fmt, indentation_by_braces)
{
    expect_fmt("use std.request\n"
               "policy p {\n"
               "payer \"p\" title \"P\" version \"1\"\n"
               "      effective 2026-01-01\n"
               "}\n"
               "rule r \"R\" {\n"
               "\twhen code in { CPT 70551 }\n"
               "        require prior_auth\n"
               "    }\n",
               "use std.request\n"
               "policy p {\n"
               "  payer \"p\" title \"P\" version \"1\"\n"
               "  effective 2026-01-01\n"
               "}\n"
               "rule r \"R\" {\n"
               "  when code in { CPT 70551 }\n"
               "  require prior_auth\n"
               "}\n");
}

Test(fmt, spacing_between_tokens)
{
    expect_fmt("use std . request\n"
               "codeset a \"A\" {CPT 70551..70553 , 70554\n"
               "HCPCS E0100}\n"
               "codeset b \"B\" = a+{ CPT 12345 }-{CPT 12345}\n"
               "rule r \"R\" {\n"
               "  when setting in { outpatient , office } and(present( price )and price>$1,000.00)\n"
               "  require prior_auth\n"
               "}\n"
               "test \"t\" {\n"
               "  given {code:\"70551\",setting:outpatient,diagnoses:[ \"C50.9\" ]}\n"
               "  expect prior_auth\n"
               "  rules [ r ]\n"
               "}\n",
               "use std.request\n"
               "codeset a \"A\" { CPT 70551..70553, 70554\n"
               "                HCPCS E0100 }\n"
               "codeset b \"B\" = a + { CPT 12345 } - { CPT 12345 }\n"
               "rule r \"R\" {\n"
               "  when setting in {outpatient, office} and (present(price) and price > $1,000.00)\n"
               "  require prior_auth\n"
               "}\n"
               "test \"t\" {\n"
               "  given { code: \"70551\", setting: outpatient, diagnoses: [\"C50.9\"] }\n"
               "  expect prior_auth\n"
               "  rules [r]\n"
               "}\n");
}

Test(fmt, continuation_lines_keep_their_alignment)
{
    expect_fmt("rule r \"R\" {\n"
               "  when code in a\n"
               "       or (setting == office\n"
               "           and emergent)\n"
               "and x\n"
               "  require prior_auth\n"
               "}\n"
               "test \"t\" {\n"
               "given { code: \"70551\",\n"
               "service_date: 2026-03-02 }\n"
               "}\n",
               "rule r \"R\" {\n"
               "  when code in a\n"
               "       or (setting == office\n"
               "           and emergent)\n"
               "  and x\n"
               "  require prior_auth\n"
               "}\n"
               "test \"t\" {\n"
               "  given { code: \"70551\",\n"
               "          service_date: 2026-03-02 }\n"
               "}\n");
}

Test(fmt, braces_opened_on_a_continuation_line)
{
    expect_fmt("codeset a \"A\" =\n"
               "  b\n"
               "  + { HCPCS G0378   # one\n"
               "  CPT 99217 }   # two\n"
               "codeset c \"C\" =\n"
               "  b + {\n"
               "      HCPCS G0235\n"
               "    } + d\n",
               "codeset a \"A\" =\n"
               "  b\n"
               "  + { HCPCS G0378   # one\n"
               "      CPT 99217 }  # two\n"
               "codeset c \"C\" =\n"
               "  b + {\n"
               "  HCPCS G0235\n"
               "} + d\n");
}

Test(fmt, comments_blank_lines_and_line_ends)
{
    expect_fmt("\xEF\xBB\xBF\n"
               "# a file comment   \r\n"
               "\n"
               "\n"
               "codeset a \"A\" {   // slashes\r\n"
               "      # an indented comment stays where it is\n"
               "# one at the left edge goes in\n"
               "CPT 70551 # now too close: moves to 2 spaces after the code\n"
               "  CPT 70552..70559            # aligned: stays\n"
               "}\n"
               "\n\n\n",
               "\xEF\xBB\xBF\n"
               "# a file comment\n"
               "\n"
               "\n"
               "codeset a \"A\" {   // slashes\n"
               "      # an indented comment stays where it is\n"
               "  # one at the left edge goes in\n"
               "  CPT 70551  # now too close: moves to 2 spaces after the code\n"
               "  CPT 70552..70559            # aligned: stays\n"
               "}\n");
}

Test(fmt, check_lists_files_that_would_change)
{
    char *dir = make_tmpdir();
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a.pcr", dir);
    snprintf(b, sizeof b, "%s/b.pcr", dir);
    const char *ugly = "codeset x \"X\" {CPT 70551}\n";
    const char *tidy = "codeset x \"X\" { CPT 70551 }\n";
    spit(a, ugly, strlen(ugly));
    spit(b, tidy, strlen(tidy));
    int st;
    char *out = th_runf(&st, "%s/pcrc fmt --check '%s' '%s'", th_bin(), a, b);
    cr_expect_eq(st, 1);
    char want[600];
    snprintf(want, sizeof want, "%s\n", a);
    cr_expect_str_eq(out, want);
    free(out);
    char *text = slurp(a, NULL);
    cr_expect_str_eq(text, ugly, "--check wrote the file");
    free(text);

    /* in place: the file is rewritten (by rename), its mode kept */
    chmod(a, 0640);
    out = th_runf(&st, "%s/pcrc fmt '%s' '%s'", th_bin(), a, b);
    cr_expect_eq(st, 0);
    cr_expect_str_eq(out, "");
    free(out);
    text = slurp(a, NULL);
    cr_expect_str_eq(text, tidy);
    free(text);
    struct stat sb;
    cr_assert_eq(stat(a, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0640);
    out = th_runf(&st, "ls -a '%s' | wc -l", dir);
    cr_expect_eq(atoi(out), 4, "temporary files left behind"); /* . .. a.pcr b.pcr */
    free(out);
    rm_rf(dir);
    free(dir);
}

Test(fmt, a_source_with_errors_is_left_alone)
{
    char *dir = make_tmpdir();
    char a[512];
    snprintf(a, sizeof a, "%s/bad.pcr", dir);
    const char *bad = "rule r \"R\" {\n  when (code in a\n  require prior_auth\n}\n";
    spit(a, bad, strlen(bad));
    int st;
    char *out = th_runf(&st, "%s/pcrc fmt '%s' 2>&1", th_bin(), a);
    cr_expect_eq(st, 1);
    cr_expect(strstr(out, "error[E004]") != NULL, "%s", out);
    cr_expect(strstr(out, "not formatted (it has errors)") != NULL, "%s", out);
    free(out);
    char *text = slurp(a, NULL);
    cr_expect_str_eq(text, bad);
    free(text);
    out = th_runf(&st, "%s/pcrc fmt '%s/missing.pcr' 2>&1", th_bin(), dir);
    cr_expect_eq(st, 2);
    free(out);
    out = th_runf(&st, "%s/pcrc fmt - '%s' 2>&1", th_bin(), a);
    cr_expect_eq(st, 2);
    free(out);
    rm_rf(dir);
    free(dir);
}

Test(fmt, public_api_formats_a_buffer)
{
    const char *src = "codeset x \"X\" {CPT 70551}";
    char *out = NULL;
    size_t n = 0;
    pcr_diags *d = NULL;
    cr_assert_eq(pcr_format_buffer("x.pcr", src, strlen(src), &out, &n, &d), PCR_OK);
    cr_expect_str_eq(out, "codeset x \"X\" { CPT 70551 }\n");
    cr_expect_eq(n, strlen(out));
    cr_expect_eq(pcr_diags_count(d), 0);
    free(out);
    pcr_diags_free(d);
    cr_expect_eq(pcr_format_buffer("x.pcr", "rule {", 6, &out, &n, &d), PCR_ERR_POLICY);
    cr_expect_null(out);
    cr_expect_gt(pcr_diags_errors(d), 0);
    pcr_diags_free(d);
    cr_expect_eq(pcr_format_buffer("e.pcr", "", 0, &out, &n, NULL), PCR_OK);
    cr_expect_str_eq(out, "");
    free(out);
}
