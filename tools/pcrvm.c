/* pcrvm: evaluates request records against compiled policies. Uses only
 * include/pcr/pcr.h.
 *
 *   pcrvm [options] POLICY... [INPUT]
 *   pcrvm serve [options] POLICY...      (the HTTP server, tools/serve.c)
 *
 * POLICY is a .pcrb (loaded and verified) or a .pcr (compiled in memory);
 * INPUT is a JSON Lines file (CSV with --input csv), or standard input when
 * absent or "-". One decision line (CSV row with --output csv) per input
 * record goes to standard output, in input order.
 *
 * Exit status: 0; 1 with --strict (which also makes unknown keys errors)
 * when any record was malformed; 2 when a
 * policy or the input cannot be used, or the output cannot be written.
 * docs/cli.md is the manual. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcr/pcr.h"
#include "serve.h"

enum { EXIT_CLEAN = 0, EXIT_RECORDS = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: pcrvm [options] POLICY... [INPUT]\n"
    "       pcrvm serve [options] POLICY...   (HTTP server; pcrvm serve --help)\n"
    "  POLICY           a .pcrb file, or a .pcr source compiled in memory\n"
    "  INPUT            JSON Lines request records (default: standard input, or -)\n"
    "options:\n"
    "  -o FILE          write decisions to FILE instead of standard output\n"
    "  -I DIR           search DIR for `use` modules of .pcr policies (repeatable)\n"
    "  --stats          print counts per decision, rule and unknown key, and throughput,\n"
    "                   to stderr\n"
    "  --strict         a record with an unknown key is malformed; exit 1 when any\n"
    "                   record was malformed\n"
    "  --input FORMAT   the input's format: json (JSON Lines, the default) or csv\n"
    "  --output FORMAT  the decisions' format: json (decision lines, the default) or csv\n"
    "  --explain[=FILE] explain every decision, in words, to FILE (default: stderr)\n"
    "  -h, --help       this text\n"
    "  --version        print the version\n";

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "pcrvm: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

/* Loads one policy file into the engine. Returns an exit status. */
static int add_policy(pcr_engine *e, const char *path, const char *const *inc, size_t ninc)
{
    pcr_policy *p = NULL;
    char err[512];
    if (ends_with(path, ".pcr")) {
        pcr_compile_opts co = {inc, ninc, false};
        pcr_diags *d = NULL;
        pcr_status st = pcr_compile_file(path, &co, &p, &d);
        pcr_diags_print(d, stderr, isatty(fileno(stderr)));
        pcr_diags_free(d);
        if (st != PCR_OK) return fail("%s: policy has errors; no records evaluated", path);
    } else if (pcr_policy_load_file(path, &p, err, sizeof err) != PCR_OK) {
        return fail("%s", err);
    }
    if (pcr_engine_add(e, p, err, sizeof err) != PCR_OK) {
        pcr_policy_free(p);
        return fail("%s", err);
    }
    return EXIT_CLEAN;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "serve") == 0) return serve_main(argc - 1, argv + 1);
    /* A reader that goes away (pcrvm ... | head -1) is not an error: the
     * write fails with EPIPE and pcrvm stops quietly. */
    signal(SIGPIPE, SIG_IGN);
    const char **inc = calloc((size_t)argc, sizeof *inc);
    const char **pols = calloc((size_t)argc, sizeof *pols);
    size_t ninc = 0, npols = 0;
    const char *input = NULL, *output = NULL, *explain = NULL;
    bool stats = false, strict = false;
    pcr_csv_opts csv = {false, false, stderr};
    int status = EXIT_CLEAN;
    if (!inc || !pols) return EXIT_USAGE;
    for (int i = 1; i < argc && status == EXIT_CLEAN; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            free(inc);
            free(pols);
            return EXIT_CLEAN;
        } else if (strcmp(a, "--version") == 0) {
            printf("pcrvm %s\n", PCR_VERSION);
            free(inc);
            free(pols);
            return EXIT_CLEAN;
        } else if (strcmp(a, "--stats") == 0) {
            stats = true;
        } else if (strcmp(a, "--strict") == 0) {
            strict = true;
        } else if (strcmp(a, "--explain") == 0) {
            explain = "-";
        } else if (strncmp(a, "--explain=", 10) == 0) {
            explain = a + 10;
        } else if (strcmp(a, "--input") == 0 || strcmp(a, "--output") == 0) {
            const char *f = i + 1 < argc ? argv[++i] : "";
            bool *is_csv = a[2] == 'i' ? &csv.csv_in : &csv.csv_out;
            if (strcmp(f, "csv") == 0 || strcmp(f, "json") == 0) *is_csv = f[0] == 'c';
            else status = fail("%s takes json or csv", a);
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "-I") == 0) {
            if (i + 1 == argc) status = fail("%s needs an argument", a);
            else if (a[1] == 'o') output = argv[++i];
            else inc[ninc++] = argv[++i];
        } else if (strncmp(a, "-I", 2) == 0) {
            inc[ninc++] = a + 2;
        } else if (a[0] == '-' && a[1] != '\0') {
            status = fail("unknown option '%s' (pcrvm --help shows the usage)", a);
        } else if (ends_with(a, ".pcr") || ends_with(a, ".pcrb")) {
            pols[npols++] = a;
        } else if (input) {
            status = fail("more than one input file ('%s'); policies end in .pcr or .pcrb", a);
        } else {
            input = a;
        }
    }
    if (status == EXIT_CLEAN && npols == 0) status = fail("%s", "no policy given (pcrvm --help)");

    pcr_engine *e = pcr_engine_new();
    pcr_engine_set_strict(e, strict);
    for (size_t i = 0; i < npols && status == EXIT_CLEAN; i++)
        status = add_policy(e, pols[i], inc, ninc);

    FILE *in = stdin, *out = stdout;
    if (status == EXIT_CLEAN && input && strcmp(input, "-") != 0 && !(in = fopen(input, "rb"))) {
        in = NULL;
        fprintf(stderr, "pcrvm: cannot read %s: %s\n", input, strerror(errno));
        status = EXIT_USAGE;
    }
    if (status == EXIT_CLEAN && output && !(out = fopen(output, "wb"))) {
        out = NULL;
        fprintf(stderr, "pcrvm: cannot write %s: %s\n", output, strerror(errno));
        status = EXIT_USAGE;
    }
    FILE *why = NULL;
    if (status == EXIT_CLEAN && explain) {
        why = strcmp(explain, "-") == 0 ? stderr : fopen(explain, "w");
        if (!why) {
            fprintf(stderr, "pcrvm: cannot write %s: %s\n", explain, strerror(errno));
            status = EXIT_USAGE;
        }
        pcr_engine_set_explain(e, why);
    }
    if (status == EXIT_CLEAN) {
        pcr_stats st;
        errno = 0;
        char err[256];
        pcr_status rs = csv.csv_in || csv.csv_out
                            ? pcr_engine_run_csv(e, in, out, &csv, &st, err, sizeof err)
                            : pcr_engine_run(e, in, out, &st);
        if (rs == PCR_ERR_USAGE) {
            status = fail("%s", err);
        } else if (rs != PCR_OK && errno != EPIPE) {
            fprintf(stderr, "pcrvm: %s\n",
                    ferror(in) ? "error reading the input" : "error writing the decisions");
            status = EXIT_USAGE;
        }
        if (stats) pcr_engine_print_stats(e, &st, stderr);
        if (status == EXIT_CLEAN && strict && st.by_decision[PCR_DEC_ERROR] > 0)
            status = EXIT_RECORDS;
    }
    if (why && why != stderr && fclose(why) != 0 && status == EXIT_CLEAN) {
        fprintf(stderr, "pcrvm: cannot write %s: %s\n", explain, strerror(errno));
        status = EXIT_USAGE;
    }
    if (in && in != stdin) fclose(in);
    if (out && out != stdout && fclose(out) != 0 && status == EXIT_CLEAN) {
        fprintf(stderr, "pcrvm: cannot write %s: %s\n", output, strerror(errno));
        status = EXIT_USAGE;
    }
    pcr_engine_free(e);
    free(inc);
    free(pols);
    return status;
}
