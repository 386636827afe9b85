/* prog.c: a program built against an installed libpcr, the way an
 * application would be (tests/install/run.sh compiles it with
 * `pkg-config --cflags --libs pcr`, statically and shared).
 *
 *   prog STDLIB_DIR POLICY.pcr RECORDS.jsonl
 *
 * Compiles POLICY.pcr with STDLIB_DIR searched by `use` (the installed
 * share/pcr), then prints, per record line, the decision line followed by a
 * summary line built from pcr_engine_decision:
 *   # KIND RULES REVIEWERS DEADLINE
 * Diagnostics go to stderr. Exit status 0, 1 when the policy does not
 * compile or a record is malformed, 2 on usage or I/O errors. Everything is
 * freed before exit (the sanitizer builds check it). */
#include <pcr/pcr.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the fields of the engine's last decision as one line. */
static void print_summary(pcr_engine *e)
{
    pcr_decision d;
    if (pcr_engine_decision(e, &d) != PCR_OK) {
        printf("# (no decision)\n");
        return;
    }
    printf("# %s", pcr_decision_name(d.kind));
    printf(" rules=");
    for (size_t i = 0; i < d.nrules; i++) printf("%s%s", i ? "," : "", d.rules[i]);
    printf(" reviewers=");
    for (size_t i = 0; i < d.nreviewers; i++) printf("%s%s", i ? "," : "", d.reviewers[i]);
    printf(" deadline=%s\n", d.deadline ? d.deadline : "-");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: prog STDLIB_DIR POLICY.pcr RECORDS.jsonl\n");
        return 2;
    }
    const char *dirs[] = {argv[1]};
    pcr_compile_opts opts = {.include_dirs = dirs, .n_include_dirs = 1};
    pcr_policy *p = NULL;
    pcr_diags *diags = NULL;
    pcr_status st = pcr_compile_file(argv[2], &opts, &p, &diags);
    if (diags) {
        pcr_diags_print(diags, stderr, false);
        pcr_diags_free(diags);
    }
    if (st != PCR_OK) return st == PCR_ERR_IO ? 2 : 1;
    fprintf(stderr, "prog: libpcr %s, policy %s@%s, %zu rules\n", PCR_VERSION, pcr_policy_id(p),
            pcr_policy_version(p), pcr_policy_rule_count(p));

    char err[256];
    pcr_engine *e = pcr_engine_new();
    if (!e || pcr_engine_add(e, p, err, sizeof err) != PCR_OK) {
        fprintf(stderr, "prog: %s\n", e ? err : "out of memory");
        pcr_engine_free(e);
        return 2;
    }
    FILE *in = fopen(argv[3], "r");
    if (!in) {
        perror(argv[3]);
        pcr_engine_free(e);
        return 2;
    }
    int rc = 0;
    char buf[8192];
    uint64_t recno = 0;
    while (fgets(buf, sizeof buf, in)) {
        size_t n = strcspn(buf, "\n");
        const char *line;
        size_t len;
        pcr_decision_kind kind;
        if (pcr_engine_eval(e, buf, n, ++recno, &line, &len, &kind) != PCR_OK) rc = 1;
        fwrite(line, 1, len, stdout);
        print_summary(e);
    }
    fclose(in);
    pcr_engine_free(e);
    return rc;
}
