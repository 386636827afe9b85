/* fuzz_records.c: the input is a JSON Lines batch, evaluated against the
 * shipped policies (every policies/NAME.pcr and policies/examples/demo.pcr, compiled
 * once in LLVMFuzzerInitialize into one engine).
 *
 * Properties checked, besides every sanitizer report:
 *   - line by line through pcr_engine_eval (fz_eval_batch): every input line
 *     gives exactly one decision line, ending in its only '\n', that is one
 *     valid JSON object with a well-formed "decision", "id" and "policy";
 *     a record that is decided is one jansson accepts as an object, and its
 *     decision echoes its "id";
 *   - the same batch streamed through pcr_engine_run (from fmemopen) gives
 *     exactly the concatenation of those lines, one per input line. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_util.h"
#include "pcr/pcr.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set once by LLVMFuzzerInitialize (see fuzz_util.h). */
static pcr_engine *engine;

static void add_policy(pcr_engine *e, const char *path, const char *const *inc)
{
    pcr_compile_opts opts = {inc, 1, false, NULL};
    pcr_policy *p = NULL;
    pcr_diags *d = NULL;
    char err[512] = "";
    if (pcr_compile_file(path, &opts, &p, &d) != PCR_OK) {
        pcr_diags_print(d, stderr, false);
        fprintf(stderr, "fuzz_records: cannot compile %s\n", path);
        exit(2);
    }
    pcr_diags_free(d);
    if (pcr_engine_add(e, p, err, sizeof err) != PCR_OK) {
        fprintf(stderr, "fuzz_records: %s: %s\n", path, err);
        exit(2);
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *root = fz_repo_root();
    char *dir = fz_join(root, "policies");
    const char *inc[1] = {dir};
    engine = pcr_engine_new();
    DIR *dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "fuzz_records: cannot open %s (set PCR_ROOT)\n", dir);
        exit(2);
    }
    char *names[64];
    size_t n = 0;
    struct dirent *ent;
    while ((ent = readdir(dp)) && n < 64) {
        size_t len = strlen(ent->d_name);
        if (len > 4 && strcmp(ent->d_name + len - 4, ".pcr") == 0)
            names[n++] = fz_join(dir, ent->d_name);
    }
    closedir(dp);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        add_policy(engine, names[i], inc);
        free(names[i]);
    }
    char *demo = fz_join(dir, "examples/demo.pcr");
    add_policy(engine, demo, inc);
    fprintf(stderr, "fuzz_records: %zu policies from %s\n", n + 1, dir);
    free(demo);
    free(dir);
    free(root);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Buf lines = {0};
    size_t records = fz_eval_batch(engine, (const char *)data, size, &lines);
    if (size > 0) {
        FILE *in = fmemopen((void *)data, size, "r");
        char *streamed = NULL;
        size_t slen = 0;
        FILE *out = open_memstream(&streamed, &slen);
        FZ_CHECK(in && out, "fmemopen/open_memstream failed");
        pcr_stats st;
        pcr_status rc = pcr_engine_run(engine, in, out, &st);
        fclose(in);
        fclose(out);
        FZ_CHECK(rc == PCR_OK, "pcr_engine_run failed (%d)", (int)rc);
        FZ_CHECK(st.records == records && st.bytes == size,
                 "pcr_engine_run counted %llu records, %llu bytes; the batch has %zu, %zu",
                 (unsigned long long)st.records, (unsigned long long)st.bytes, records, size);
        pcr_engine_print_stats(engine, &st, fz_null_stream());
        FZ_CHECK(slen == lines.n && memcmp(streamed, lines.p, slen) == 0,
                 "pcr_engine_run's output differs from line-by-line evaluation:\n%.*s\n---\n%.*s",
                 (int)slen, streamed, (int)lines.n, lines.p);
        free(streamed);
    }
    buf_free(&lines);
    return 0;
}
