/* fuzz_csv.c: the input is a CSV batch (header row, then records), decided
 * with pcr_engine_run_csv against the shipped policies (every
 * policies/NAME.pcr and policies/examples/demo.pcr, compiled once in
 * LLVMFuzzerInitialize into one engine).
 *
 * Properties checked, besides every sanitizer report:
 *   - --input csv: the run succeeds, or is a usage error (the header) with
 *     a message and no decision; every output line is a valid decision
 *     line (fz_check_decision), and an error's message starts with
 *     "record N: " where N is the line's number: decisions are numbered by
 *     data row, one each;
 *   - for an input without quotes, where rows are simple to count (lines
 *     split at CR or LF, blank or space-only ones no row), exactly one
 *     decision per data row;
 *   - --input csv --output csv: a header and as many rows as decisions,
 *     each parsing as RFC 4180 with 12 cells, its decision cell the JSON
 *     decision's name. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_util.h"
#include "pcr/pcr.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set once by LLVMFuzzerInitialize (see fuzz_util.h). */
static pcr_engine *engine;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    engine = fz_payer_engine("fuzz_csv");
    return 0;
}

static const char *find(const char *s, size_t n, const char *what)
{
    size_t k = strlen(what);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, what, k) == 0) return s + i;
    return NULL;
}

/* Runs the batch through pcr_engine_run_csv into a malloc'ed *out. */
static pcr_status run(const uint8_t *data, size_t size, bool csv_out, char **out, size_t *len,
                      pcr_stats *st, char *err, size_t errlen)
{
    FILE *in = size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
    FILE *o = open_memstream(out, len);
    FZ_CHECK(in && o, "fmemopen/open_memstream failed");
    pcr_csv_opts opts = {true, csv_out, fz_null_stream()};
    pcr_status rc = pcr_engine_run_csv(engine, in, o, &opts, st, err, errlen);
    fclose(in);
    fclose(o);
    return rc;
}

/* The data rows of a batch without quotes, as libcsv splits them. */
static size_t simple_rows(const char *s, size_t n)
{
    if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) s += 3, n -= 3;
    size_t rows = 0;
    bool blank = true;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '\n' || s[i] == '\r') {
            rows += !blank;
            blank = true;
        } else if (s[i] != ' ' && s[i] != '\t') {
            blank = false;
        }
    }
    return rows ? rows - 1 : 0;
}

static pcr_decision_kind kind_of(const char *line, size_t len)
{
    static const char key[] = "\"decision\":\"";
    const char *p = find(line, len, key);
    FZ_CHECK(p != NULL, "no decision: %.*s", (int)len, line);
    p += sizeof key - 1;
    for (int k = 0; k <= PCR_DEC_ERROR; k++) {
        const char *name = pcr_decision_name((pcr_decision_kind)k);
        size_t nl = strlen(name);
        if ((size_t)(line + len - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '"')
            return (pcr_decision_kind)k;
    }
    fz_fail(__FILE__, __LINE__, "unknown decision: %.*s", (int)len, line);
}

/* Parses one RFC 4180 record of s[*pos..n) into its cells' count; the
 * second cell (decision) is copied into dec. False when malformed. */
static bool csv_row(const char *s, size_t n, size_t *pos, size_t *cells, char *dec, size_t deccap)
{
    size_t i = *pos, count = 0, dn = 0;
    for (;;) {
        bool quoted = i < n && s[i] == '"';
        if (quoted) {
            i++;
            for (;;) {
                if (i >= n) return false;
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') i++;
                    else break;
                }
                if (count == 1 && dn + 1 < deccap) dec[dn++] = s[i];
                i++;
            }
            i++;
        } else {
            while (i < n && s[i] != ',' && s[i] != '\r' && s[i] != '\n') {
                if (s[i] == '"') return false;
                if (count == 1 && dn + 1 < deccap) dec[dn++] = s[i];
                i++;
            }
        }
        count++;
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        if (i + 1 < n && s[i] == '\r' && s[i + 1] == '\n') break;
        return false;
    }
    dec[dn] = '\0';
    *pos = i + 2;
    *cells = count;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out = NULL, err[256] = "";
    size_t len = 0;
    pcr_stats st;
    pcr_status rc = run(data, size, false, &out, &len, &st, err, sizeof err);
    FZ_CHECK(rc == PCR_OK || rc == PCR_ERR_USAGE, "pcr_engine_run_csv failed (%d)", (int)rc);
    FZ_CHECK(rc == PCR_OK || (err[0] && len == 0 && st.records == 0),
             "a usage error with decisions, or without a message: %s", err);
    FZ_CHECK(st.bytes <= size, "counted %llu bytes of %zu", (unsigned long long)st.bytes, size);
    uint64_t lines = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(out + i, '\n', len - i);
        FZ_CHECK(nl != NULL, "output does not end with a newline");
        size_t n = (size_t)(nl - (out + i)) + 1;
        pcr_decision_kind k = kind_of(out + i, n);
        fz_check_decision(out + i, n, k);
        lines++;
        if (k == PCR_DEC_ERROR) {
            char want[64];
            int wn = snprintf(want, sizeof want, "\"error\":\"record %llu: ", (unsigned long long)lines);
            FZ_CHECK(wn > 0 && find(out + i, n, want) != NULL, "decision %llu misnumbered: %.*s",
                     (unsigned long long)lines, (int)n, out + i);
        }
        i += n;
    }
    FZ_CHECK(lines == st.records, "%llu lines, %llu records counted", (unsigned long long)lines,
             (unsigned long long)st.records);
    if (rc == PCR_OK && !memchr(data, '"', size))
        FZ_CHECK(lines == simple_rows((const char *)data, size),
                 "%llu decisions for %zu data rows", (unsigned long long)lines,
                 simple_rows((const char *)data, size));

    char *rows = NULL;
    size_t rlen = 0;
    pcr_stats st2;
    pcr_status rc2 = run(data, size, true, &rows, &rlen, &st2, err, sizeof err);
    FZ_CHECK(rc2 == rc && st2.records == st.records, "--output csv decided differently");
    if (rc == PCR_OK) {
        size_t pos = 0, cells = 0;
        char dec[32];
        FZ_CHECK(csv_row(rows, rlen, &pos, &cells, dec, sizeof dec) && cells == 12 &&
                     strcmp(dec, "decision") == 0,
                 "bad CSV header: %.*s", (int)(rlen < 200 ? rlen : 200), rows);
        size_t at = 0;
        for (uint64_t r = 0; r < st.records; r++) {
            size_t before = pos;
            FZ_CHECK(csv_row(rows, rlen, &pos, &cells, dec, sizeof dec) && cells == 12,
                     "row %llu is not a CSV row of 12 cells: %.*s", (unsigned long long)r + 1,
                     (int)(rlen - before < 300 ? rlen - before : 300), rows + before);
            const char *nl = memchr(out + at, '\n', len - at);
            size_t n = (size_t)(nl - (out + at)) + 1;
            FZ_CHECK(strcmp(dec, pcr_decision_name(kind_of(out + at, n))) == 0,
                     "row %llu says %s, the line %.*s", (unsigned long long)r + 1, dec, (int)n,
                     out + at);
            at += n;
        }
        FZ_CHECK(pos == rlen, "%zu bytes after the last row", rlen - pos);
    }
    free(rows);
    free(out);
    return 0;
}
