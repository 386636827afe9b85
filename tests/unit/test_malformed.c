/* test_malformed.c: every malformed source and record of
 * tests/golden/malformed/ through the real pcrc and pcrvm (PCR_BIN), compared
 * byte for byte with its .expected file (scripts/update-malformed.sh writes
 * them). Besides the exact text: pcrc exits 1 on a policy error, 2 on an
 * unreadable file, never by a signal; pcrvm prints exactly one line per input
 * line and exits 0. Cases too big to commit are generated into a temporary
 * directory exactly as the script generates them. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>

#include "helpers.h"

#define MAL "tests/golden/malformed"

/* Absolute directory of the binaries: th_runf cds into the root. */
static char *bin_dir(void)
{
    const char *b = th_bin();
    char *out = malloc(strlen(b) + 4096);
    if (b[0] == '/') strcpy(out, b);
    else {
        cr_assert(getcwd(out, 4000) != NULL);
        strcat(out, "/");
        strcat(out, b);
    }
    return out;
}

/* Reads ROOT/rel; fails the test when it cannot. */
static char *read_rel(const char *rel, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", th_root(), rel);
    char *s = th_read_file(path, len);
    cr_assert(s != NULL, "cannot read %s", path);
    return s;
}

/* Lines of a file as pcrvm counts them: a last line without '\n' counts. */
static size_t count_lines(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    return k + (n > 0 && s[n - 1] != '\n');
}

/* Whether s[0..len) holds the string w (s may hold NUL bytes). */
static bool has_bytes(const char *s, size_t len, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= len; i++)
        if (memcmp(s + i, w, wl) == 0) return true;
    return false;
}

/* The exit status written as the last line of output ("exit status: N\n"). */
static int last_status(const char *out, size_t len)
{
    static const char tag[] = "exit status: ";
    size_t i = len > 1 ? len - 2 : 0;
    while (i > 0 && out[i - 1] != '\n') i--;
    cr_assert(len - i > sizeof tag - 1 && memcmp(out + i, tag, sizeof tag - 1) == 0,
              "no exit status at the end of the output");
    return atoi(out + i + sizeof tag - 1);
}

/* Runs cmd (in the root) with its stdout sent to a temporary file and
 * returns that file's bytes (malloc'ed, NUL-terminated, *len set): the
 * outputs hold NUL bytes, which th_runf's string would cut short. */
static char *run_bytes(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *run_bytes(size_t *len, const char *fmt, ...)
{
    char cmd[6144];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char out[] = "/tmp/pcr-malformed-out-XXXXXX";
    int fd = mkstemp(out);
    cr_assert(fd >= 0);
    close(fd);
    int st;
    free(th_runf(&st, "%s > '%s'", cmd, out));
    char *s = th_read_file(out, len);
    unlink(out);
    cr_assert(s != NULL);
    return s;
}

/* Compares the output with ROOT/expected_rel byte for byte. */
static void check_equal(const char *what, const char *got, size_t glen, const char *expected_rel)
{
    size_t wlen;
    char *want = read_rel(expected_rel, &wlen);
    cr_expect(glen == wlen && memcmp(got, want, glen) == 0,
              "%s: output differs from %s:\n--- got\n%s\n--- want\n%s", what, expected_rel, got, want);
    free(want);
}

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of DIR (relative to the root) ending in ext. */
static size_t list_cases(const char *dir, const char *ext, char ***names)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", th_root(), dir);
    DIR *d = opendir(path);
    cr_assert(d != NULL, "cannot open %s", path);
    size_t n = 0, el = strlen(ext);
    *names = NULL;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t l = strlen(e->d_name);
        if (l <= el || strcmp(e->d_name + l - el, ext) != 0) continue;
        *names = realloc(*names, (n + 1) * sizeof **names);
        (*names)[n++] = strndup(e->d_name, l - el);
    }
    closedir(d);
    qsort(*names, n, sizeof **names, strcmp_ptr);
    return n;
}

Test(malformed, sources_match_expected)
{
    char *bin = bin_dir();
    char **names;
    size_t n = list_cases(MAL "/sources", ".pcr", &names);
    cr_assert_geq(n, 40, "only %zu malformed sources", n);
    for (size_t i = 0; i < n; i++) {
        char rel[512];
        snprintf(rel, sizeof rel, MAL "/sources/%s.expected", names[i]);
        size_t glen;
        char *got = run_bytes(&glen, "{ '%s/pcrc' --check --color=never -I policies "
                                 MAL "/sources/%s.pcr 2>&1 >/dev/null; echo \"exit status: $?\"; }",
                            bin, names[i]);
        check_equal(names[i], got, glen, rel);
        int code = last_status(got, glen);
        cr_expect(code == 0 || code == 1, "%s: pcrc exited %d", names[i], code);
        cr_expect(code == 0 || has_bytes(got, glen, ": error["), "%s: exit %d without an error", names[i], code);
        free(got);
        free(names[i]);
    }
    free(names);
    free(bin);
}

Test(malformed, records_match_expected)
{
    char *bin = bin_dir();
    char **names;
    size_t n = list_cases(MAL "/records", ".jsonl", &names);
    cr_assert_geq(n, 40, "only %zu malformed records", n);
    for (size_t i = 0; i < n; i++) {
        char rel[512];
        size_t inlen;
        snprintf(rel, sizeof rel, MAL "/records/%s.jsonl", names[i]);
        char *in = read_rel(rel, &inlen);
        snprintf(rel, sizeof rel, MAL "/records/%s.expected", names[i]);
        size_t glen;
        char *got = run_bytes(&glen, "{ '%s/pcrvm' policies/examples/demo.pcr " MAL
                                 "/records/%s.jsonl; echo \"exit status: $?\"; }",
                            bin, names[i]);
        check_equal(names[i], got, glen, rel);
        cr_expect_eq(last_status(got, glen), 0, "%s: pcrvm did not exit 0", names[i]);
        /* the output less its status line has one line per input line */
        cr_expect_eq(count_lines(got, glen) - 1, count_lines(in, inlen),
                     "%s: %zu input lines, %zu output lines", names[i], count_lines(in, inlen),
                     count_lines(got, glen) - 1);
        free(got);
        free(in);
        free(names[i]);
    }
    free(names);
    free(bin);
}

/* A fresh temporary directory for a generated case (malloc'ed path). */
static char *tmp_dir(void)
{
    char *t = strdup("/tmp/pcr-malformed-XXXXXX");
    cr_assert(mkdtemp(t) != NULL);
    return t;
}

/* pcrc on the generated source dir/NAME.pcr, run from dir so that messages
 * name it as NAME.pcr, against sources/NAME.expected: a policy error. */
static void check_generated(const char *bin, const char *dir, const char *name)
{
    size_t glen;
    char *got = run_bytes(&glen, "cd '%s' && { '%s/pcrc' --check --color=never "
                             "-I \"$OLDPWD/policies\" %s.pcr 2>&1 >/dev/null; "
                             "echo \"exit status: $?\"; }",
                        dir, bin, name);
    char rel[512];
    snprintf(rel, sizeof rel, MAL "/sources/%s.expected", name);
    check_equal(name, got, glen, rel);
    cr_expect_eq(last_status(got, glen), 1, "%s is an error in the policy", name);
    free(got);
}

Test(malformed, source_over_8mib)
{
    char *bin = bin_dir(), *dir = tmp_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/90-over-8mib.pcr", dir);
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL);
    for (int i = 0; i < 838861; i++) fputs("# padding\n", f); /* 8,388,610 bytes */
    fclose(f);
    check_generated(bin, dir, "90-over-8mib");
    unlink(path);
    rmdir(dir);
    free(dir), free(bin);
}

/* Sources over the rule and code-set limits, written by generate.sh. */
Test(malformed, sources_over_the_rule_and_set_limits)
{
    char *bin = bin_dir(), *dir = tmp_dir();
    int st;
    free(th_runf(&st, "sh " MAL "/generate.sh '%s'", dir));
    cr_assert_eq(st, 0, "generate.sh failed");
    static const char *const cases[] = {"93-too-many-rules", "94-set-too-large"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        check_generated(bin, dir, cases[i]);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.pcr", dir, cases[i]);
        unlink(path);
    }
    rmdir(dir);
    free(dir), free(bin);
}

Test(malformed, unreadable_sources)
{
    char *bin = bin_dir();
    static const char *const cases[][2] = {
        {"91-directory", MAL "/sources"},
        {"92-missing-file", MAL "/sources/92-missing-file.pcr"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t glen;
        char *got = run_bytes(&glen, "{ '%s/pcrc' --check --color=never -I policies %s 2>&1 >/dev/null; "
                                 "echo \"exit status: $?\"; }", bin, cases[i][1]);
        char rel[512];
        snprintf(rel, sizeof rel, MAL "/sources/%s.expected", cases[i][0]);
        check_equal(cases[i][0], got, glen, rel);
        cr_expect_eq(last_status(got, glen), 2, "%s", cases[i][0]);
        free(got);
    }
    free(bin);
}

Test(malformed, record_line_over_1mib)
{
    char *bin = bin_dir(), *dir = tmp_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/90-line-over-1mib.jsonl", dir);
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL);
    fputs("{\"id\":\"big\",\"payer\":\"demo\",\"service_date\":\"2026-03-02\",\"x\":\"", f);
    for (int i = 0; i < 1048576; i++) fputc('a', f);
    fputs("\"}\n{\"id\":\"r2\",\"payer\":\"demo\",\"service_date\":\"2026-03-02\","
          "\"code\":\"70551\",\"setting\":\"office\"}\n", f);
    fclose(f);
    size_t glen;
    char *got = run_bytes(&glen, "{ '%s/pcrvm' policies/examples/demo.pcr '%s'; echo \"exit status: $?\"; }",
                        bin, path);
    check_equal("90-line-over-1mib", got, glen, MAL "/records/90-line-over-1mib.expected");
    cr_expect_eq(count_lines(got, glen), 3, "two decision lines and the status");
    cr_expect_eq(last_status(got, glen), 0);
    unlink(path);
    rmdir(dir);
    free(got), free(dir), free(bin);
}

/* Every .expected file belongs to a case this file runs. */
Test(malformed, no_orphan_expected)
{
    static const char *const kinds[][2] = {{"sources", ".pcr"}, {"records", ".jsonl"}};
    static const char *const generated[] = {"90-over-8mib",      "91-directory",
                                            "92-missing-file",   "93-too-many-rules",
                                            "94-set-too-large", "90-line-over-1mib"};
    for (size_t k = 0; k < 2; k++) {
        char dir[256], **names;
        snprintf(dir, sizeof dir, MAL "/%s", kinds[k][0]);
        size_t n = list_cases(dir, ".expected", &names);
        for (size_t i = 0; i < n; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s/%s%s", th_root(), dir, names[i], kinds[k][1]);
            bool gen = false;
            for (size_t g = 0; g < sizeof generated / sizeof generated[0]; g++)
                gen |= strcmp(names[i], generated[g]) == 0;
            cr_expect(gen || access(path, R_OK) == 0, "%s/%s.expected has no input", dir, names[i]);
            free(names[i]);
        }
        free(names);
    }
}
