/* test_csv.c: pcrvm --input csv and --output csv, through the real pcrvm
 * binary with real files: a CSV batch decides as the JSON Lines batch with
 * the same meaning does (docs/cli.md, "CSV"). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define DEMO "policies/examples/demo.pcr"
#define PAYERS "policies/alliant.pcr policies/cigna.pcr policies/healthlink.pcr policies/ibx.pcr"

static const char *tmpdir(void) { return th_tmpdir("csv"); }

/* Writes text to DIR/name and returns the path (static: one at a time per name slot). */
static const char *put(const char *name, const char *text)
{
    static char paths[4][512];
    static int slot;
    char *path = paths[slot++ % 4];
    snprintf(path, 512, "%s/%s", tmpdir(), name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* pcrvm on csv_text with --input csv, and on the JSON Lines json_text:
 * the decision lines must be identical. */
static void same_as_json(const char *policies, const char *csv_text, const char *json_text)
{
    const char *csv = put("in.csv", csv_text);
    const char *json = put("in.jsonl", json_text);
    int st1, st2;
    char *a = th_runf(&st1, "%s/pcrvm %s --input csv %s", th_bin(), policies, csv);
    char *b = th_runf(&st2, "%s/pcrvm %s %s", th_bin(), policies, json);
    cr_assert_eq(st1, 0);
    cr_assert_eq(st2, 0);
    cr_assert_eq(count_lines(a), count_lines(json_text), "%s", a);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
}

Test(csv, example_batches_decide_as_their_json)
{
    int st;
    char *out = th_runf(&st, "python3 tests/csv/check.py %s/pcrvm %s policies/examples/requests.jsonl %s 2>&1",
                        th_bin(), tmpdir(), PAYERS);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "requests.jsonl: 444 records"), "%s", out);
    free(out);
    out = th_runf(&st, "python3 tests/csv/check.py %s/pcrvm %s policies/examples/demo-requests.jsonl %s 2>&1",
                  th_bin(), tmpdir(), DEMO);
    cr_assert_eq(st, 0, "%s", out);
    free(out);
}

Test(csv, empty_cells_are_absent_and_null_does_not_apply)
{
    same_as_json(DEMO,
                 "id,payer,code,setting,service_date,requested_at,emergent,diagnoses\n"
                 "d-1,demo,70551,outpatient,2026-03-02,,,\n"
                 "d-2,demo,70551,null,2026-03-02,2026-02-25T09:30,false,\n"
                 "d-3,demo,,office,2026-03-02,,true,M54.5; M51.16\n"
                 "d-4,demo,null,office,2026-03-02,,,[]\n",
                 "{\"id\":\"d-1\",\"payer\":\"demo\",\"code\":\"70551\",\"setting\":\"outpatient\","
                 "\"service_date\":\"2026-03-02\"}\n"
                 "{\"id\":\"d-2\",\"payer\":\"demo\",\"code\":\"70551\",\"setting\":null,"
                 "\"service_date\":\"2026-03-02\",\"requested_at\":\"2026-02-25T09:30\",\"emergent\":false}\n"
                 "{\"id\":\"d-3\",\"payer\":\"demo\",\"setting\":\"office\",\"service_date\":\"2026-03-02\","
                 "\"emergent\":true,\"diagnoses\":[\"M54.5\",\"M51.16\"]}\n"
                 "{\"id\":\"d-4\",\"payer\":\"demo\",\"code\":null,\"setting\":\"office\","
                 "\"service_date\":\"2026-03-02\",\"diagnoses\":[]}\n");
}

Test(csv, quoted_cells_crlf_and_a_bom)
{
    /* Commas, doubled quotes and a line break inside quoted cells; CRLF
     * rows; a UTF-8 byte order mark before the header is skipped. */
    same_as_json(DEMO,
                 "\xef\xbb\xbfid,payer,code,service_date,member_age\r\n"
                 "\"a,b\",demo,70551,2026-03-02,40\r\n"
                 "\"say \"\"hi\"\"\",\"demo\",\"70553\",\"2026-03-02\",\"7\"\r\n"
                 "\"two\nlines\",demo,70551,2026-03-02,\r\n",
                 "{\"id\":\"a,b\",\"payer\":\"demo\",\"code\":\"70551\",\"service_date\":\"2026-03-02\","
                 "\"member_age\":40}\n"
                 "{\"id\":\"say \\\"hi\\\"\",\"payer\":\"demo\",\"code\":\"70553\","
                 "\"service_date\":\"2026-03-02\",\"member_age\":7}\n"
                 "{\"id\":\"two\\nlines\",\"payer\":\"demo\",\"code\":\"70551\",\"service_date\":\"2026-03-02\"}\n");
}

Test(csv, type_errors_come_from_the_record_decoder)
{
    same_as_json(DEMO,
                 "id,payer,code,service_date,member_age,emergent\n"
                 "t-1,demo,70551,2026-03-02,forty,\n"
                 "t-2,demo,70551,2026-13-45,,\n"
                 "t-3,demo,70551,2026-03-02,,yes\n",
                 "{\"id\":\"t-1\",\"payer\":\"demo\",\"code\":\"70551\",\"service_date\":\"2026-03-02\","
                 "\"member_age\":\"forty\"}\n"
                 "{\"id\":\"t-2\",\"payer\":\"demo\",\"code\":\"70551\",\"service_date\":\"2026-13-45\"}\n"
                 "{\"id\":\"t-3\",\"payer\":\"demo\",\"code\":\"70551\",\"service_date\":\"2026-03-02\","
                 "\"emergent\":\"yes\"}\n");
}

Test(csv, ragged_rows_and_bad_quotes_are_errors_of_their_record)
{
    const char *csv = put("ragged.csv",
                          "id,payer,code,service_date\n"
                          "r-1,demo,70551,2026-03-02\n"
                          "r-2,demo,70551,2026-03-02,extra\n"
                          "r-3,demo,70551\n"
                          "r-4,de\"mo,70551,2026-03-02\n"
                          "r-5,demo,70551,2026-03-02\n"
                          "r-6,\"demo\"x,70551,2026-03-02\n"
                          "\n"
                          "r-7,demo,70551,2026-03-02\n"
                          "r-8,\"demo,70551,2026-03-02\n");
    int st;
    char *out = th_runf(&st, "%s/pcrvm %s --input csv %s", th_bin(), DEMO, csv);
    cr_assert_eq(st, 0);
    cr_assert_eq(count_lines(out), 8, "%s", out);
    char *line = out;
    const char *want[] = {
        "{\"id\":\"r-1\",\"decision\":\"info_needed\"",
        "{\"id\":\"r-2\",\"decision\":\"error\"",
        "{\"id\":\"r-3\",\"decision\":\"error\"",
        "{\"id\":\"r-4\",\"decision\":\"error\"",
        "{\"id\":\"r-5\",\"decision\":\"info_needed\"",
        "{\"id\":\"r-6\",\"decision\":\"error\"",
        "{\"id\":\"r-7\",\"decision\":\"info_needed\"",
        "{\"id\":\"r-8\",\"decision\":\"error\"",
    };
    const char *msg[] = {NULL, "\"error\":\"record 2: CSV row has 5 cells, the header 4\"}",
                         "\"error\":\"record 3: CSV row has 3 cells, the header 4\"}",
                         "\"error\":\"record 4: CSV: a stray quote (inside an unquoted cell, or after a closing one)\"}",
                         NULL, "\"error\":\"record 6: CSV: a stray quote", NULL,
                         "\"error\":\"record 8: CSV: a quoted cell has no closing quote\"}"};
    for (int i = 0; i < 8; i++) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        cr_assert(strncmp(line, want[i], strlen(want[i])) == 0, "line %d: %s", i + 1, line);
        if (msg[i]) cr_assert(strstr(line, msg[i]), "line %d: %s", i + 1, line);
        line = nl + 1;
    }
    free(out);
}

Test(csv, unknown_columns_are_counted_and_skipped)
{
    const char *csv = put("unknown.csv",
                          "id,payer,seting,code,service_date,note\n"
                          "u-1,demo,office,70551,2026-03-02,first\n"
                          "u-2,demo,,70553,2026-03-02,second\n");
    int st;
    char *out = th_runf(&st, "%s/pcrvm %s --stats --input csv %s 2>%s/err", th_bin(), DEMO, csv,
                        tmpdir());
    cr_assert_eq(st, 0);
    char path[600];
    snprintf(path, sizeof path, "%s/err", tmpdir());
    char *err = th_read_file(path, NULL);
    cr_assert(strstr(err, "column 3 'seting' is not a schema field (did you mean 'setting'?)"), "%s", err);
    cr_assert(strstr(err, "column 6 'note' is not a schema field (did you mean 'code'?); its cells"), "%s", err);
    cr_assert_null(strstr(strstr(err, "'seting'") + 1, "'seting' is not"), "told twice: %s", err);
    cr_assert(strstr(err, "unknown_key seting 1 (did you mean 'setting'?)"), "%s", err);
    cr_assert(strstr(err, "unknown_key note 2"), "%s", err);
    free(err);
    /* Decided as if the columns were not there. */
    char *plain = th_runf(&st, "cut -d, -f1,2,4,5 %s | %s/pcrvm %s --input csv", csv, th_bin(), DEMO);
    cr_assert_str_eq(out, plain);
    free(plain);
    free(out);

    out = th_runf(&st, "%s/pcrvm %s --strict --input csv %s 2>/dev/null", th_bin(), DEMO, csv);
    cr_assert_eq(st, 1);
    cr_assert(strstr(out, "\"error\":\"record 1: unknown field 'seting' (did you mean 'setting'?)\""), "%s", out);
    cr_assert(strstr(out, "\"error\":\"record 2: unknown field 'note' (did you mean 'code'?)\""), "%s", out);
    free(out);
}

Test(csv, header_problems_are_usage_errors)
{
    const char *cases[][2] = {
        {"id,payer,code\nh-1,demo,70551\n", "the CSV header names no 'service_date' column"},
        {"payer,code,service_date\ndemo,70551,2026-03-02\n", "the CSV header names no 'id' column"},
        {"id,payer,id,service_date\n", "the CSV header names column 'id' twice"},
        {"id,\"pay\"er,service_date\n", "the CSV header row cannot be read"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *csv = put("header.csv", cases[i][0]);
        int st;
        char *out = th_runf(&st, "%s/pcrvm %s --input csv %s 2>&1", th_bin(), DEMO, csv);
        cr_assert_eq(st, 2, "case %zu: %s", i, out);
        cr_assert(strstr(out, cases[i][1]), "case %zu: %s", i, out);
        cr_assert_null(strstr(out, "\"decision\""), "case %zu: %s", i, out);
        free(out);
    }
    int st;
    char *out = th_runf(&st, "%s/pcrvm %s --input xml /dev/null 2>&1", th_bin(), DEMO);
    cr_assert_eq(st, 2);
    cr_assert(strstr(out, "--input takes json or csv"), "%s", out);
    free(out);
}

Test(csv, empty_input)
{
    int st;
    char *out = th_runf(&st, "%s/pcrvm %s --input csv </dev/null", th_bin(), DEMO);
    cr_assert_eq(st, 0);
    cr_assert_str_eq(out, "");
    free(out);
    out = th_runf(&st, "%s/pcrvm %s --output csv </dev/null", th_bin(), DEMO);
    cr_assert_eq(st, 0);
    cr_assert_str_eq(out, "id,decision,policy,reviewer,deadline,timely,rules,missing,obligations,"
                          "possible,why,error\r\n");
    free(out);
}

Test(csv, output_rows_quote_what_needs_it)
{
    const char *json = put("q.jsonl", "{\"id\":\"a,\\\"b\\\"\\nc\",\"payer\":\"demo\",\"code\":\"70551\","
                                      "\"setting\":\"office\",\"service_date\":\"2026-03-02\"}\n"
                                      "{\"id\":\"n-1\",\"payer\":\"nobody\",\"service_date\":\"2026-03-02\"}\n");
    int st;
    char *out = th_runf(&st, "%s/pcrvm %s --output csv %s", th_bin(), DEMO, json);
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, "\r\n\"a,\"\"b\"\"\nc\",prior_auth,demo@2026.1,eviCore,2026-02-27T00:00,,imaging,,"
                          "prior_auth by eviCore due 2026-02-27T00:00 [imaging],,,\r\n"),
              "%s", out);
    cr_assert(strstr(out, "\r\nn-1,no_policy,,,,,,,,,\"no policy for payer \"\"nobody\"\""), "%s", out);
    free(out);
}

Test(csv, reading_resumes_after_a_bad_row_with_cr_line_ends)
{
    const char *csv = put("cr.csv", "id,payer,code,service_date\r"
                                    "c-1,demo,70551,2026-03-02\r"
                                    "c-2,de\"mo,70551,2026-03-02\r"
                                    "c-3,demo,70551,2026-03-02\r"
                                    "c-4,demo,70551,2026-03-02\r");
    int st;
    char *out = th_runf(&st, "%s/pcrvm %s --input csv %s", th_bin(), DEMO, csv);
    cr_assert_eq(st, 0);
    cr_assert_eq(count_lines(out), 4, "%s", out);
    cr_assert(strstr(out, "{\"id\":\"c-2\",\"decision\":\"error\""), "%s", out);
    cr_assert(strstr(out, "{\"id\":\"c-3\",\"decision\":\"info_needed\""), "%s", out);
    cr_assert(strstr(out, "{\"id\":\"c-4\",\"decision\":\"info_needed\""), "%s", out);
    free(out);
}
