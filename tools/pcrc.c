/* pcrc: the PCR compiler and policy tool. Uses only include/pcr/pcr.h.
 *
 *   pcrc [-I DIR] FILE.pcr -o FILE.pcrb   compile to bytecode
 *   pcrc --check FILE...                  diagnose only (with the lints)
 *   pcrc lint FILE...                     the same
 *   pcrc test FILE...                     run the policies' tests
 *   pcrc test --coverage FILE...          ... and report what they reach
 *   pcrc list FILE.pcr --date YYYY-MM-DD  list what the policy requires on a day
 *   pcrc diff OLD.pcr NEW.pcr             what changed between two versions
 *   pcrc --dump-ast FILE.pcr              print the syntax tree
 *   pcrc --disasm FILE.pcrb|FILE.pcr      print the bytecode listing
 *   pcrc fmt [--check] FILE...|-          lay sources out canonically
 *
 * Exit status: 0 clean, 1 errors in a policy (or failed tests; for diff:
 * something changed), 2 usage or I/O errors (for diff: any trouble). docs/cli.md is the manual. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcr/pcr.h"

enum { EXIT_CLEAN = 0, EXIT_POLICY = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: pcrc [options] FILE.pcr -o FILE.pcrb   compile a policy to bytecode\n"
    "       pcrc --check [options] FILE...         report diagnostics only\n"
    "       pcrc lint [options] FILE...            report diagnostics and lints (as --check)\n"
    "       pcrc test [options] FILE...            run the policies' tests\n"
    "       pcrc list [options] FILE.pcr --date YYYY-MM-DD\n"
    "                                              list what the policy requires that day\n"
    "       pcrc diff [options] OLD.pcr NEW.pcr    what changed (exit 1 when anything did)\n"
    "       pcrc --dump-ast FILE.pcr               print the syntax tree\n"
    "       pcrc --disasm FILE.pcrb|FILE.pcr       print the bytecode listing\n"
    "       pcrc fmt [--check] FILE...             lay sources out canonically, in place\n"
    "       pcrc fmt -                             format standard input to standard output\n"
    "options:\n"
    "  -o FILE          output file (compile)\n"
    "  --date DAY       list: the service date, YYYY-MM-DD (required)\n"
    "  -I DIR           also search DIR for `use` modules (repeatable)\n"
    "  --Werror         treat warnings as errors\n"
    "  --color=WHEN     auto (default), always or never\n"
    "  -v, --verbose    test: list passing tests too\n"
    "  --check          fmt: change nothing; list the files that would change, exit 1 if any\n"
    "  --coverage       test: report the rules and unless alternatives the tests reach\n"
    "  --threshold N    test: exit 1 when fewer than N% of either are reached\n"
    "  --json           test --coverage: one JSON object per policy on stdout\n"
    "  -h, --help       this text\n"
    "  --version        print the version\n";

typedef enum Mode { M_COMPILE, M_CHECK, M_TEST, M_DUMP_AST, M_DISASM, M_LIST, M_FMT, M_DIFF } Mode;

typedef struct Options {
    Mode mode;
    const char *output;
    const char *date; /* list: the service date as given */
    const char **includes; /* argv pointers */
    size_t nincludes;
    const char **files;
    size_t nfiles;
    bool werror, verbose;
    bool fmt_check; /* fmt --check */
    int color; /* -1 auto, 0 never, 1 always */
    const char *stdlib; /* the standard library directory, or NULL */
    char stdlib_buf[4096];
    bool coverage, json; /* test --coverage [--json] */
    double threshold;    /* test --threshold N: percent, or -1 for none */
} Options;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "pcrc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(pcrc --help shows the usage)\n");
    return EXIT_USAGE;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* True when a and b both exist and are the same file (device and inode,
 * after following symlinks), whatever their spelling. */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* True when path is a regular file (not a symlink) that starts with the
 * bytecode magic: the only thing pcrc ever removes. */
static bool holds_bytecode(const char *path)
{
    static const char magic[8] = "\x89PCR\r\n\x1a\n";
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return false;
    char head[8];
    bool yes = read(fd, head, sizeof head) == (ssize_t)sizeof head && memcmp(head, magic, 8) == 0;
    close(fd);
    return yes;
}

/* Parses argv into o; returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, Options *o)
{
    o->includes = calloc((size_t)argc, sizeof *o->includes);
    o->files = calloc((size_t)argc, sizeof *o->files);
    if (!o->includes || !o->files) return EXIT_USAGE;
    o->color = -1;
    o->threshold = -1;
    int subcmd = 0; /* argv index of `test`, `lint`, `diff`, `list` or `fmt`; 0: none */
    /* The subcommand is the first word that is not an option or an option's
     * argument, so options may come before it: `pcrc -I policies test f.pcr`. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 || strcmp(a, "-I") == 0 || strcmp(a, "--date") == 0 ||
            strcmp(a, "--threshold") == 0) {
            i++;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') continue;
        if (strcmp(a, "test") == 0) o->mode = M_TEST;
        else if (strcmp(a, "list") == 0) o->mode = M_LIST;
        else if (strcmp(a, "fmt") == 0) o->mode = M_FMT;
        else if (strcmp(a, "lint") == 0) o->mode = M_CHECK; /* the lints are part of --check */
        else if (strcmp(a, "diff") == 0) o->mode = M_DIFF;
        if (o->mode != M_COMPILE) subcmd = i;
        break;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i == subcmd) continue;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return EXIT_CLEAN;
        } else if (strcmp(a, "--version") == 0) {
            printf("pcrc %s\n", PCR_VERSION);
            return EXIT_CLEAN;
        } else if (o->mode == M_FMT && strcmp(a, "--check") == 0) {
            o->fmt_check = true;
        } else if (strcmp(a, "--check") == 0) {
            o->mode = M_CHECK;
        } else if (strcmp(a, "--dump-ast") == 0) {
            o->mode = M_DUMP_AST;
        } else if (strcmp(a, "--disasm") == 0) {
            o->mode = M_DISASM;
        } else if (strcmp(a, "-o") == 0) {
            if (++i == argc) return usage_error("%s needs a file name", a);
            o->output = argv[i];
        } else if (o->mode == M_LIST && strcmp(a, "--date") == 0) {
            if (++i == argc) return usage_error("%s needs a day, YYYY-MM-DD", a);
            o->date = argv[i];
        } else if (o->mode == M_LIST && strncmp(a, "--date=", 7) == 0) {
            o->date = a + 7;
        } else if (o->mode == M_TEST && strcmp(a, "--coverage") == 0) {
            o->coverage = true;
        } else if (o->mode == M_TEST && strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (o->mode == M_TEST && strcmp(a, "--threshold") == 0) {
            char *end;
            if (++i == argc) return usage_error("%s needs a percentage", a);
            o->threshold = strtod(argv[i], &end);
            if (end == argv[i] || *end || o->threshold < 0 || o->threshold > 100)
                return usage_error("--threshold takes a percentage from 0 to 100, not '%s'", argv[i]);
            o->coverage = true;
        } else if (strcmp(a, "-I") == 0) {
            if (++i == argc) return usage_error("%s needs a directory", a);
            o->includes[o->nincludes++] = argv[i];
        } else if (strncmp(a, "-I", 2) == 0) {
            o->includes[o->nincludes++] = a + 2;
        } else if (strcmp(a, "--Werror") == 0) {
            o->werror = true;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            o->verbose = true;
        } else if (strncmp(a, "--color=", 8) == 0) {
            const char *w = a + 8;
            if (strcmp(w, "auto") == 0) o->color = -1;
            else if (strcmp(w, "always") == 0) o->color = 1;
            else if (strcmp(w, "never") == 0) o->color = 0;
            else return usage_error("--color takes auto, always or never, not '%s'", w);
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option '%s'", a);
        } else {
            o->files[o->nfiles++] = a;
        }
    }
    if (o->nfiles == 0) return usage_error("%s", "no input file");
    if (o->mode == M_COMPILE) {
        if (o->nfiles != 1) return usage_error("%s", "compile takes one source file (use -o)");
        if (!o->output) return usage_error("%s", "compile needs -o FILE.pcrb (or use --check)");
        if (same_file(o->output, o->files[0]))
            return usage_error("-o %s names the source file itself; give the bytecode its own name (FILE.pcrb)",
                               o->output);
    }
    if ((o->mode == M_DUMP_AST || o->mode == M_DISASM) && o->nfiles != 1)
        return usage_error("%s", "--dump-ast and --disasm take one file");
    if (o->mode == M_FMT && o->nfiles > 1)
        for (size_t k = 0; k < o->nfiles; k++)
            if (strcmp(o->files[k], "-") == 0)
                return usage_error("%s", "fmt - (standard input) takes no other file");
    if (o->mode == M_DIFF && o->nfiles != 2) return usage_error("%s", "diff takes two sources: OLD.pcr NEW.pcr");
    if (o->mode == M_LIST) {
        if (o->nfiles != 1) return usage_error("%s", "list takes one source file");
        if (!ends_with(o->files[0], ".pcr"))
            return usage_error("list needs a policy source (.pcr), not '%s'", o->files[0]);
        if (!o->date) return usage_error("%s", "list needs --date YYYY-MM-DD");
    }
    return -1;
}

static void print_diags(const Options *o, pcr_diags *d)
{
    bool color = o->color == 1 || (o->color == -1 && isatty(fileno(stderr)));
    pcr_diags_print(d, stderr, color);
}

/* Compiles one source; prints its diagnostics. Returns the policy or NULL;
 * *status receives the exit status it implies. */
static pcr_policy *compile(const Options *o, const char *path, int *status)
{
    pcr_compile_opts co = {o->includes, o->nincludes, o->werror, o->stdlib};
    pcr_policy *p = NULL;
    pcr_diags *d = NULL;
    pcr_status st = pcr_compile_file(path, &co, &p, &d);
    print_diags(o, d);
    size_t errors = pcr_diags_errors(d);
    if (errors)
        fprintf(stderr, "%s: %zu error%s\n", path, errors, errors == 1 ? "" : "s");
    pcr_diags_free(d);
    *status = st == PCR_OK ? EXIT_CLEAN : st == PCR_ERR_IO ? EXIT_USAGE : EXIT_POLICY;
    return p;
}

static int do_compile(const Options *o)
{
    int status;
    pcr_policy *p = compile(o, o->files[0], &status);
    if (!p) {
        /* An older FILE.pcrb would pass for this source's (and look up to
         * date to make): remove it, as a C compiler removes its output.
         * Only bytecode: anything else -o names is never touched. */
        if (status == EXIT_POLICY && holds_bytecode(o->output) && unlink(o->output) == 0)
            fprintf(stderr, "pcrc: removed the old %s: the policy has errors, so no bytecode was written\n",
                    o->output);
        return status;
    }
    char err[512];
    pcr_status st = pcr_policy_save_file(p, o->output, err, sizeof err);
    pcr_policy_free(p);
    if (st != PCR_OK) {
        fprintf(stderr, "pcrc: %s\n", err);
        return EXIT_USAGE;
    }
    return EXIT_CLEAN;
}

static int do_check(const Options *o)
{
    int worst = EXIT_CLEAN;
    for (size_t i = 0; i < o->nfiles; i++) {
        pcr_compile_opts co = {o->includes, o->nincludes, o->werror, o->stdlib};
        pcr_diags *d = NULL;
        pcr_status st = pcr_check_file(o->files[i], &co, &d);
        print_diags(o, d);
        pcr_diags_free(d);
        int s = st == PCR_OK ? EXIT_CLEAN : st == PCR_ERR_IO ? EXIT_USAGE : EXIT_POLICY;
        if (s > worst) worst = s;
    }
    return worst;
}

static int do_test(const Options *o)
{
    size_t passed = 0, failed = 0, broken = 0;
    int worst = EXIT_CLEAN;
    pcr_coverage cov = {0};
    /* With --json the coverage alone goes to stdout. */
    FILE *report = o->json ? stderr : stdout;
    for (size_t i = 0; i < o->nfiles; i++) {
        int status;
        pcr_policy *p = compile(o, o->files[i], &status);
        if (!p) {
            if (status > worst) worst = status;
            broken++;
            continue;
        }
        pcr_policy_run_tests(p, report, o->verbose, &passed, &failed);
        if (o->coverage) pcr_policy_coverage(p, stdout, o->json, &cov);
        pcr_policy_free(p);
    }
    /* A file that does not compile runs no tests: the summary says so, or
     * "0 failed" would read as all good. */
    if (broken)
        fprintf(report, "%zu passed, %zu failed, %zu file%s not compiled (%s tests did not run)\n", passed,
                failed, broken, broken == 1 ? "" : "s", broken == 1 ? "its" : "their");
    else
        fprintf(report, "%zu passed, %zu failed\n", passed, failed);
    if (failed && worst == EXIT_CLEAN) worst = EXIT_POLICY;
    if (o->coverage && o->threshold >= 0) {
        double r = cov.rules ? 100.0 * (double)cov.rules_fired / (double)cov.rules : 100.0;
        double a = cov.alts ? 100.0 * (double)cov.alts_exercised / (double)cov.alts : 100.0;
        if (r < o->threshold || a < o->threshold) {
            fprintf(stderr, "pcrc: coverage below %g%%: rules fired %.1f%%, unless alternatives exercised %.1f%%\n",
                    o->threshold, r, a);
            if (worst == EXIT_CLEAN) worst = EXIT_POLICY;
        }
    }
    return worst;
}

static int do_dump_ast(const Options *o)
{
    pcr_diags *d = NULL;
    pcr_status st = pcr_dump_ast(o->files[0], stdout, &d);
    print_diags(o, d);
    pcr_diags_free(d);
    return st == PCR_OK ? EXIT_CLEAN : st == PCR_ERR_IO ? EXIT_USAGE : EXIT_POLICY;
}

static int do_disasm(const Options *o)
{
    const char *path = o->files[0];
    pcr_policy *p = NULL;
    if (ends_with(path, ".pcr")) {
        int status;
        p = compile(o, path, &status);
        if (!p) return status;
    } else {
        char err[512];
        if (pcr_policy_load_file(path, &p, err, sizeof err) != PCR_OK) {
            fprintf(stderr, "pcrc: %s\n", err);
            return EXIT_USAGE;
        }
    }
    pcr_policy_disasm(p, stdout);
    pcr_policy_free(p);
    return EXIT_CLEAN;
}

/* What changed from the first source to the second: 0 nothing, 1
 * something, 2 trouble (as diff(1)). */
static int do_diff(const Options *o)
{
    pcr_compile_opts co = {o->includes, o->nincludes, false, o->stdlib};
    pcr_diags *d = NULL;
    bool changed = false;
    pcr_status st = pcr_diff_files(o->files[0], o->files[1], &co, stdout, &changed, &d);
    print_diags(o, d);
    pcr_diags_free(d);
    if (st != PCR_OK) return EXIT_USAGE;
    return changed ? EXIT_POLICY : EXIT_CLEAN;
}

/* Prints the analyst's listing of one source for o->date. */
static int do_list(const Options *o)
{
    int status;
    pcr_policy *p = compile(o, o->files[0], &status);
    if (!p) return status;
    pcr_status st = pcr_policy_list(p, o->date, stdout);
    pcr_policy_free(p);
    if (st == PCR_ERR_USAGE)
        return usage_error("--date wants a real day written YYYY-MM-DD, not '%s'", o->date);
    if (st != PCR_OK) {
        fprintf(stderr, "pcrc: cannot write the listing\n");
        return EXIT_USAGE;
    }
    return EXIT_CLEAN;
}

/* ---- fmt ------------------------------------------------------------------ */

enum { FMT_MAX_BYTES = 8 << 20 };

/* Reads all of f into a malloc'd buffer (*len bytes); NULL on a read
 * error, or when it is over FMT_MAX_BYTES (then *too_big). */
static char *read_all(FILE *f, size_t *len, bool *too_big)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    *too_big = false;
    while (b) {
        if (n == cap) {
            if (cap > FMT_MAX_BYTES) {
                *too_big = true;
                break;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) break;
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) break;
            *len = n;
            if (n > FMT_MAX_BYTES) {
                *too_big = true;
                break;
            }
            return b;
        }
    }
    free(b);
    return NULL;
}

/* Writes text to path through a temporary file beside it and rename(),
 * so that a reader sees the old file or the new one, never a part; the
 * file keeps its permission bits. False, with a message, on failure. */
static bool replace_file(const char *path, const char *text, size_t len)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) return false;
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".fmt-XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "pcrc: cannot write beside %s: %s\n", path, strerror(errno));
        free(tmp);
        return false;
    }
    struct stat st;
    bool ok = stat(path, &st) == 0 && fchmod(fd, st.st_mode & 07777) == 0;
    for (size_t off = 0; ok && off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        if (ok) off += (size_t)w;
    }
    ok = ok && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        fprintf(stderr, "pcrc: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

/* Formats one file (or standard input, "-"); returns its exit status. */
static int fmt_one(const Options *o, const char *path)
{
    bool std = strcmp(path, "-") == 0, too_big;
    FILE *f = std ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "pcrc: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    size_t len = 0;
    errno = 0;
    char *src = read_all(f, &len, &too_big);
    int read_errno = errno;
    if (!std) fclose(f);
    if (!src) {
        if (too_big)
            fprintf(stderr, "pcrc: %s is larger than 8 MiB; sources are limited to 8 MiB\n", path);
        else
            fprintf(stderr, "pcrc: cannot read %s: %s\n", std ? "standard input" : path,
                    read_errno ? strerror(read_errno) : "read error");
        return too_big ? EXIT_POLICY : EXIT_USAGE;
    }
    char *out = NULL;
    size_t out_len = 0;
    pcr_diags *d = NULL;
    pcr_status st = pcr_format_buffer(std ? "<stdin>" : path, src, len, &out, &out_len, &d);
    print_diags(o, d);
    pcr_diags_free(d);
    int status = EXIT_CLEAN;
    if (st != PCR_OK) {
        fprintf(stderr, "%s: not formatted (it has errors)\n", std ? "<stdin>" : path);
        status = EXIT_POLICY;
    } else if (o->fmt_check) {
        if (out_len != len || memcmp(out, src, len) != 0) {
            printf("%s\n", path);
            status = EXIT_POLICY;
        }
    } else if (std) {
        if (fwrite(out, 1, out_len, stdout) != out_len) status = EXIT_USAGE;
    } else if (out_len != len || memcmp(out, src, len) != 0) {
        if (!replace_file(path, out, out_len)) status = EXIT_USAGE;
    }
    free(out);
    free(src);
    return status;
}

/* Every file is formatted; the status is the worst of them. */
static int do_fmt(const Options *o)
{
    int status = EXIT_CLEAN;
    for (size_t i = 0; i < o->nfiles; i++) {
        int s = fmt_one(o, o->files[i]);
        if (s > status) status = s;
    }
    return status;
}

int main(int argc, char **argv)
{
    Options o = {0};
    o.stdlib = pcr_find_stdlib_dir(o.stdlib_buf, sizeof o.stdlib_buf);
    int status = parse_args(argc, argv, &o);
    if (status < 0) {
        switch (o.mode) {
        case M_COMPILE: status = do_compile(&o); break;
        case M_CHECK: status = do_check(&o); break;
        case M_TEST: status = do_test(&o); break;
        case M_DUMP_AST: status = do_dump_ast(&o); break;
        case M_DISASM: status = do_disasm(&o); break;
        case M_LIST: status = do_list(&o); break;
        case M_FMT: status = do_fmt(&o); break;
        case M_DIFF: status = do_diff(&o); break;
        }
    }
    free(o.includes);
    free(o.files);
    if (fflush(stdout) != 0 && status == EXIT_CLEAN) status = EXIT_USAGE;
    return status;
}
