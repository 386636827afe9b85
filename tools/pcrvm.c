/* pcrvm: evaluates request records against compiled policies. Uses only
 * include/pcr/pcr.h.
 *
 *   pcrvm [options] POLICY... [INPUT]
 *   pcrvm serve [options] POLICY...      (the HTTP server: execs pcrvm-serve)
 *
 * POLICY is a .pcrb (loaded and verified) or a .pcr (compiled in memory);
 * INPUT is a JSON Lines file (CSV with --input csv), or standard input when
 * absent or "-". One decision line (CSV row with --output csv) per input
 * record goes to standard output, in input order.
 *
 * Exit status: 0; 1 with --strict (which also makes unknown keys errors)
 * when any record was malformed; 2 when a
 * policy or the input cannot be used, or the output cannot be written
 * (or, for serve, when pcrvm-serve cannot be run).
 * docs/cli.md is the manual. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcr/pcr.h"

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
    "  -j N             decide on N threads (default: the online CPUs, at most 16;\n"
    "                   1 with --explain)\n"
    "  -h, --help       this text\n"
    "  --version        print the version\n";

/* The signal that asked pcrvm to stop (SIGINT, SIGTERM), or 0. The one
 * mutable static: a signal handler can reach nothing else. The handler
 * only sets it; the run loop checks it after each line. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

/* SIGINT and SIGTERM stop the run after the line in progress. Without
 * SA_RESTART, so a read waiting on a quiet pipe returns; SA_RESETHAND, so
 * a second signal ends pcrvm at once. */
static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Says how far a stopped run got; returns the conventional status. */
static int stopped(uint64_t records)
{
    int sig = stop_signal;
    fprintf(stderr, "pcrvm: stopped by %s after %llu record%s decided\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)records, records == 1 ? "" : "s");
    return 128 + sig;
}

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

/* `pcrvm serve ARGS...`: runs the server, the program pcrvm-serve, with
 * ARGS (pcrvm itself links none of the server's libraries, whose loading
 * would slow every run: docs/serve.md). Execs the pcrvm-serve in the
 * directory of this executable (/proc/self/exe: bin/ of a build tree, or
 * the bindir it was installed to), else the first on PATH. argv is main's:
 * argv[1] is "serve". Returns only when neither could be run, after saying
 * so: EXIT_USAGE. */
static int exec_serve(char **argv)
{
    char name[] = "pcrvm-serve";
    /* argv[1..] ("serve", ARGS..., NULL) becomes the server's argv, with
     * the server's name for "serve" */
    char **sargv = argv + 1;
    sargv[0] = name;
    char path[4096 + sizeof name];
    ssize_t n = readlink("/proc/self/exe", path, 4096);
    char *slash = NULL;
    if (n > 0 && n < 4096) {
        path[n] = '\0';
        slash = strrchr(path, '/');
    }
    int beside_err = ENOENT;
    if (slash) {
        memcpy(slash + 1, name, sizeof name);
        execv(path, sargv);
        beside_err = errno;
    }
    execvp(name, sargv);
    /* the error beside pcrvm tells more than PATH's, unless it is "none there" */
    int err = beside_err != ENOENT ? beside_err : errno;
    if (slash)
        fprintf(stderr, "pcrvm: serve: cannot run %s (looked in %.*s and PATH): %s\n", name,
                slash == path ? 1 : (int)(slash - path), path, strerror(err));
    else
        fprintf(stderr, "pcrvm: serve: cannot run %s (looked in PATH): %s\n", name, strerror(err));
    return EXIT_USAGE;
}

/* True when a and b both exist and are the same file (device and inode,
 * after following symlinks), whatever their spelling. */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Refuses an output that is the input or a policy: opening it for writing
 * would empty it before a byte was read. Returns an exit status. */
static int check_output(const char *output, const char *input, const char *const *pols, size_t npols)
{
    if (!output) return EXIT_CLEAN;
    if (input && strcmp(input, "-") != 0 && same_file(output, input))
        return fail("-o %s is the input file; write the decisions elsewhere", output);
    for (size_t i = 0; i < npols; i++)
        if (same_file(output, pols[i]))
            return fail("-o %s is a policy file; write the decisions elsewhere", output);
    return EXIT_CLEAN;
}

/* Loads one policy file into the engine. Returns an exit status. */
static int add_policy(pcr_engine *e, const char *path, const char *const *inc, size_t ninc,
                      const char *stdlib)
{
    pcr_policy *p = NULL;
    char err[512];
    if (ends_with(path, ".pcr")) {
        pcr_compile_opts co = {inc, ninc, false, stdlib};
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
    /* first, before any signal disposition changes: an exec keeps them */
    if (argc > 1 && strcmp(argv[1], "serve") == 0) return exec_serve(argv);
    /* A reader that goes away (pcrvm ... | head -1) is not an error: the
     * write fails with EPIPE and pcrvm stops quietly. */
    signal(SIGPIPE, SIG_IGN);
    catch_stop_signals();
    const char **inc = calloc((size_t)argc, sizeof *inc);
    const char **pols = calloc((size_t)argc, sizeof *pols);
    size_t ninc = 0, npols = 0;
    const char *input = NULL, *output = NULL, *explain = NULL;
    bool stats = false, strict = false;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (unsigned)ncpu;
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
        } else if (strcmp(a, "-j") == 0 || strncmp(a, "-j", 2) == 0) {
            const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            char *end = NULL;
            long n = v ? strtol(v, &end, 10) : 0;
            if (!v || end == v || *end || n < 1 || n > 16)
                status = fail("%s", "-j takes a number of threads from 1 to 16");
            else threads = (unsigned)n;
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
    if (status == EXIT_CLEAN) status = check_output(output, input, pols, npols);

    pcr_engine *e = pcr_engine_new();
    pcr_engine_set_strict(e, strict);
    char stdlib_buf[4096];
    const char *stdlib = pcr_find_stdlib_dir(stdlib_buf, sizeof stdlib_buf);
    for (size_t i = 0; i < npols && status == EXIT_CLEAN; i++)
        status = add_policy(e, pols[i], inc, ninc, stdlib);

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
    if (status == EXIT_CLEAN && stop_signal) status = stopped(0);
    if (status == EXIT_CLEAN) {
        pcr_stats st;
        /* explanations come in record order from one engine: one thread */
        pcr_run_opts ro = {.threads = explain ? 1 : threads, .stop = &stop_signal};
        char err[256];
        errno = 0;
        pcr_status rs = csv.csv_in || csv.csv_out
                            ? pcr_engine_run_csv(e, in, out, &csv, &st, err, sizeof err)
                            : pcr_engine_run_opts(e, in, out, &ro, &st);
        if (rs == PCR_ERR_USAGE) {
            status = fail("%s", err);
        } else if (rs != PCR_OK && ro.read_errno) {
            fprintf(stderr, "pcrvm: error reading the input: %s\n", strerror(ro.read_errno));
            status = EXIT_USAGE;
        } else if (rs != PCR_OK && (csv.csv_in || csv.csv_out) && errno != EPIPE) {
            fprintf(stderr, "pcrvm: %s: %s\n",
                    ferror(in) ? "error reading the input" : "error writing the decisions",
                    strerror(errno ? errno : EIO));
            status = EXIT_USAGE;
        } else if (rs != PCR_OK && !(csv.csv_in || csv.csv_out) && ro.write_errno != EPIPE) {
            fprintf(stderr, "pcrvm: error writing the decisions: %s\n",
                    strerror(ro.write_errno ? ro.write_errno : EIO));
            status = EXIT_USAGE;
        }
        if (stats) pcr_engine_print_stats(e, &st, stderr);
        if (ro.stopped) status = stopped(st.records);
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
