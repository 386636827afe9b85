/* test_api_lines.c: the line loop of a run (api.c, api_engine_eval_lines),
 * which decodes a usual line in the pass that finds its end (rec.h
 * rec_decode_line), against the route that finds each '\n' first: a run
 * (pcr_engine_run_opts, one thread and two) must write, for every line of
 * its input, the decision pcr_engine_eval gives that line, and count the
 * same unknown keys. The input has records split by a '\n' inside the
 * object (after a ',', a ':', in spaces, in a string), CRLF endings, blank
 * lines, bytes after an object, unknown keys, a line over the limit in the
 * middle, and a last line without its '\n'; the last record is split (the
 * block the line loop is given ends after it). And the run's wait for
 * input ends when the stop flag is set. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "pcr/pcr.h"

static const char policy_src[] =
    "use std.request\n"
    "policy lines { payer \"api\" title \"Lines\" version \"1\" effective 2026-01-01 reviewer \"Plan\" }\n"
    "codeset mri \"MRI\" { CPT 70551..70553 }\n"
    "rule mri_pa \"MRI\" { when code in mri require prior_auth deadline 72 hours before service }\n";

#define R(id, rest) "{\"id\":\"" id "\",\"payer\":\"api\",\"service_date\":\"2026-03-02\"" rest "}"

static const char *const pieces[] = {
    R("a1", ",\"code\":\"70551\""),
    R("a2", ",\"code\":\"70551\"") "\r",
    "",
    R("a3", ",\"code\":\"99213\",\"diagnoses\":[\"I50.9\", \"Z00.00\"]") "  \t",
    "{\"id\":\"b1\",\n\"payer\":\"api\",\"service_date\":\"2026-03-02\"}",
    "{\"id\":\"b2\",\"payer\":\n\"api\",\"service_date\":\"2026-03-02\"}",
    "{ \"id\" : \"b3\" ,\n \"payer\" : \"api\" , \"service_date\" : \"2026-03-02\" }",
    "{\"id\":\"b4\",\"payer\":\"a\npi\",\"service_date\":\"2026-03-02\"}",
    "{\"id\":\"b5\",\"payer\":\"api\",\"service_date\":\"2026-03-02\",\"units\":1\n2}",
    "{\"id\":\"b6\",\"payer\":\"api\",\"service_date\":\"2026-03-02\"\n}",
    "\r",
    R("c1", ",\"seting\":\"office\",\"zz\":[1,{\"a\":2}]"),
    R("c1", ",\"seting\":\"office\"") " x",
    R("c2", ",\"code\":\"7055\""),
    R("c3", "") "}",
    "{}",
    "  ",
    "LONG",
    R("d1", ",\"code\":\"70553\""),
    R("d2", ",\"code\":\"70553\",\"units\":2"),
    "{\"id\":\"e1\",\"payer\":\"api\",\n\"service_date\":\"2026-03-02\"}",
};

/* The input: pieces joined by '\n', "LONG" a line of more than 1 MiB. */
static char *input(size_t *n, bool last_newline)
{
    size_t cap = 2 * 1024 * 1024, o = 0;
    char *s = malloc(cap);
    cr_assert(s);
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        if (strcmp(pieces[i], "LONG") == 0) {
            o += (size_t)sprintf(s + o, "{\"id\":\"");
            memset(s + o, 'x', 1100000);
            o += 1100000;
            o += (size_t)sprintf(s + o, "\"}");
        } else {
            o += (size_t)sprintf(s + o, "%s", pieces[i]);
        }
        if (last_newline || i + 1 < sizeof pieces / sizeof *pieces) s[o++] = '\n';
    }
    *n = o;
    return s;
}

/* The lines that print_stats writes about unknown keys and decisions. */
static char *counts(pcr_engine *e)
{
    char *text = NULL, *out = malloc(4096);
    size_t len = 0, o = 0;
    FILE *f = open_memstream(&text, &len);
    pcr_stats st = {0};
    pcr_engine_print_stats(e, &st, f);
    fclose(f);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, "unknown_key", 11) == 0)
            o += (size_t)snprintf(out + o, 4096 - o, "%s\n", line);
    free(text);
    return out;
}

/* The decisions of text[0..n) line by line through pcr_engine_eval (a line
 * over 1 MiB: the run's message for it), on a fresh engine. */
static char *expected(const char *text, size_t n, bool strict, char **unknown)
{
    pcr_engine *e = th_engine("lines.pcr", policy_src);
    pcr_engine_set_strict(e, strict);
    cr_assert(e);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    uint64_t recno = 0;
    for (size_t at = 0; at < n;) {
        const char *nl = memchr(text + at, '\n', n - at);
        size_t ln = nl ? (size_t)(nl - (text + at)) : n - at;
        recno++;
        if (ln > 1048576) {
            fprintf(f, "{\"id\":null,\"decision\":\"error\",\"policy\":null,\"reviewer\":null,"
                       "\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[],\"obligations\":[],"
                       "\"possible\":[],\"missing\":[],\"error\":\"record %llu: line longer than 1048576 "
                       "bytes\"}\n",
                    (unsigned long long)recno);
        } else {
            const char *line;
            size_t line_len;
            pcr_engine_eval(e, text + at, ln, recno, &line, &line_len, NULL);
            fwrite(line, 1, line_len, f);
        }
        at += ln + (nl != NULL);
    }
    fclose(f);
    *unknown = counts(e);
    pcr_engine_free(e);
    return out;
}

/* The decisions of a run over text[0..n) on threads threads. */
static char *run(const char *text, size_t n, unsigned threads, bool strict, char **unknown)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/in.jsonl", th_tmpdir("api_lines"));
    FILE *in = fopen(path, "wb");
    cr_assert(in && fwrite(text, 1, n, in) == n);
    fclose(in);
    in = fopen(path, "rb");
    FILE *out = tmpfile();
    cr_assert(in && out);
    pcr_engine *e = th_engine("lines.pcr", policy_src);
    cr_assert(e);
    pcr_engine_set_strict(e, strict);
    pcr_run_opts o = {.threads = threads};
    pcr_stats st;
    cr_assert_eq(pcr_engine_run_opts(e, in, out, &o, &st), PCR_OK);
    long len = ftell(out);
    cr_assert(len >= 0);
    rewind(out);
    char *s = malloc((size_t)len + 1);
    cr_assert(s && fread(s, 1, (size_t)len, out) == (size_t)len);
    s[len] = '\0';
    fclose(in);
    fclose(out);
    *unknown = counts(e);
    pcr_engine_free(e);
    return s;
}

/* A run (one thread and two, strict or not) decides each line of the
 * input as pcr_engine_eval does, with the same unknown keys counted. */
static void run_as_eval(bool strict)
{
    for (int last = 0; last < 2; last++) {
        size_t n;
        char *text = input(&n, last);
        char *want_unknown, *want = expected(text, n, strict, &want_unknown);
        cr_assert(strstr(want, "\"decision\":\"prior_auth\"") && strstr(want, "\"error\":\"record 3:") &&
                  strstr(want, "unexpected data after the object") && strstr(want, "\"id\":\"d2\"") && strstr(want, "\"id\":\"e1\",\"decision\":\"error\""));
        cr_assert(strstr(want_unknown, "unknown_key seting 2"), "%s", want_unknown);
        if (strict) cr_assert(strstr(want, "unknown field 'seting'"), "%s", want);
        for (unsigned threads = 1; threads <= 2; threads++) {
            char *got_unknown, *got = run(text, n, threads, strict, &got_unknown);
            cr_assert_str_eq(got, want, "%u threads", threads);
            cr_assert_str_eq(got_unknown, want_unknown, "%u threads", threads);
            free(got);
            free(got_unknown);
        }
        free(want);
        free(want_unknown);
        free(text);
    }
}

Test(api_lines, a_run_decides_each_line_as_eval_does) { run_as_eval(false); }

/* Strict: a record with an unknown key is an error, from the line loop's
 * single pass as from pcr_engine_eval. */
Test(api_lines, a_strict_run_decides_each_line_as_eval_does) { run_as_eval(true); }

/* A stop flag that is set while the run waits for input ends the wait,
 * even when no signal interrupts that wait (the signal that set it came
 * just before the read began): here it is set before the run, on a pipe
 * whose writer stays open and silent, with one thread and two. */
Test(api_lines, a_stop_flag_ends_a_wait_for_input, .timeout = 20)
{
    for (unsigned threads = 1; threads <= 2; threads++) {
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        FILE *in = fdopen(fds[0], "rb"), *out = tmpfile();
        cr_assert(in && out);
        pcr_engine *e = th_engine("lines.pcr", policy_src);
        cr_assert(e);
        volatile sig_atomic_t stop = 1;
        pcr_run_opts o = {.threads = threads, .stop = &stop};
        pcr_stats st;
        cr_assert_eq(pcr_engine_run_opts(e, in, out, &o, &st), PCR_OK);
        cr_assert(o.stopped, "%u threads", threads);
        cr_assert_eq(st.records, 0);
        pcr_engine_free(e);
        fclose(in);
        fclose(out);
        close(fds[1]);
    }
}
