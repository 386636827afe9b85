/* fuzz_compile.c: the input is a .pcr source, compiled with
 * pcr_compile_buffer as if it were <root>/tests/fuzz/input.pcr, with
 * <root>/policies and <root>/tests/golden/diag as include directories (so
 * `use std.request`, `use std.calendars` and the golden modules resolve).
 * That drives the lexer, parser, checker, emitter and the verifier the
 * compiler runs on what it emits.
 *
 * Properties checked, besides every sanitizer report:
 *   - the status agrees with the policy and the diagnostics (a failure has
 *     at least one error; a success has none); every diagnostic has a code,
 *     a message and a known file, and printing them works;
 *   - a compiled policy runs its tests, disassembles, lists (pcr_policy_list
 *     on its first day and on 2026-03-02; a bad date and a policy loaded
 *     from bytecode are PCR_ERR_USAGE), saves, and the bytes
 *     load again (the loader and verifier accept what the compiler wrote)
 *     and save back identically;
 *   - the policy as compiled and as loaded from its bytecode give the same
 *     decision line for every sample record (fz_sample_records), and each
 *     line is one valid JSON object. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dates.h"
#include "fuzz_util.h"
#include "pcr/pcr.h"
#include "policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set once by LLVMFuzzerInitialize (see fuzz_util.h). */
static struct {
    char *name;              /* the input's path: `use` resolves from its directory */
    const char *include[2];  /* policies/, tests/golden/diag/ */
} fz;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *root = fz_repo_root();
    fz.name = fz_join(root, "tests/fuzz/input.pcr");
    fz.include[0] = fz_join(root, "policies");
    fz.include[1] = fz_join(root, "tests/golden/diag");
    free(root);
    return 0;
}

static void check_diags(const pcr_diags *d, pcr_status st)
{
    size_t n = pcr_diags_count(d), errors = 0;
    for (size_t i = 0; i < n; i++) {
        const pcr_diag *g = pcr_diags_get(d, i);
        FZ_CHECK(g && g->code && g->message, "diagnostic %zu lacks a code or message", i);
        FZ_CHECK(pcr_diags_file(d, g->span.file) != NULL, "diagnostic %zu (%s) names file %u",
                 i, g->code, g->span.file);
        if (g->has_related)
            FZ_CHECK(pcr_diags_file(d, g->related.file) != NULL && g->related_message,
                     "diagnostic %zu (%s): bad related span", i, g->code);
        errors += g->severity == PCR_SEV_ERROR;
    }
    size_t all = pcr_diags_errors(d), dropped = pcr_diags_dropped(d);
    FZ_CHECK(errors <= all && all <= errors + dropped,
             "%zu errors listed and %zu diagnostics dropped, pcr_diags_errors says %zu", errors,
             dropped, all);
    FZ_CHECK(dropped == 0 || n == 200, "%zu dropped with only %zu kept", dropped, n);
    if (st == PCR_OK) FZ_CHECK(errors == 0, "compiled, yet %zu errors were reported", errors);
    else FZ_CHECK(st == PCR_ERR_POLICY && errors > 0, "status %d with %zu errors", (int)st, errors);
    pcr_diags_print(d, fz_null_stream(), true);
}

/* The compiled policy and its bytecode decide every sample alike. */
static void check_policy(pcr_policy *pol)
{
    FILE *null = fz_null_stream();
    size_t passed = 0, failed = 0;
    pcr_policy_run_tests(pol, null, true, &passed, &failed);
    pcr_policy_disasm(pol, null);
    char first[16];
    int32_t day = pol->prog->eff_from, lo = date_from_ymd(DATE_MIN_YEAR, 1, 1);
    date_format(day < lo ? lo : day > lo + 400000 ? lo : day, first);
    FZ_CHECK(pcr_policy_list(pol, first, null) == PCR_OK, "pcr_policy_list %s failed", first);
    FZ_CHECK(pcr_policy_list(pol, "2026-03-02", null) == PCR_OK, "pcr_policy_list failed");
    FZ_CHECK(pcr_policy_list(pol, "2026-02-30", null) == PCR_ERR_USAGE, "listed a bad date");

    uint8_t *bc = NULL, *bc2 = NULL;
    size_t n = 0, n2 = 0;
    FZ_CHECK(pcr_policy_save(pol, &bc, &n) == PCR_OK, "pcr_policy_save failed");
    pcr_policy *back = NULL;
    char err[256] = "";
    pcr_status st = pcr_policy_load(bc, n, &back, err, sizeof err);
    FZ_CHECK(st == PCR_OK, "the compiled policy's bytecode is rejected: %s", err);
    FZ_CHECK(pcr_policy_list(back, first, null) == PCR_ERR_USAGE, "listed a loaded policy");
    FZ_CHECK(pcr_policy_save(back, &bc2, &n2) == PCR_OK, "pcr_policy_save (loaded) failed");
    FZ_CHECK(n == n2 && memcmp(bc, bc2, n) == 0, "bytecode changes on a load/save round trip");
    free(bc);
    free(bc2);

    Buf recs = {0}, out_src = {0}, out_bc = {0};
    fz_sample_records(pol, &recs);
    pcr_engine *es = pcr_engine_new(), *eb = pcr_engine_new();
    FZ_CHECK(pcr_engine_add(es, pol, err, sizeof err) == PCR_OK, "engine_add: %s", err);
    FZ_CHECK(pcr_engine_add(eb, back, err, sizeof err) == PCR_OK, "engine_add: %s", err);
    fz_eval_batch(es, recs.p, recs.n, &out_src);
    fz_eval_batch(eb, recs.p, recs.n, &out_bc);
    FZ_CHECK(out_src.n == out_bc.n && memcmp(out_src.p, out_bc.p, out_src.n) == 0,
             "compiled and loaded policies decide differently:\n%.*s\n---\n%.*s",
             (int)out_src.n, out_src.p, (int)out_bc.n, out_bc.p);
    pcr_engine_free(es);
    pcr_engine_free(eb);
    buf_free(&recs);
    buf_free(&out_src);
    buf_free(&out_bc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pcr_compile_opts opts = {fz.include, 2, false, NULL};
    pcr_policy *pol = NULL;
    pcr_diags *d = NULL;
    pcr_status st = pcr_compile_buffer(fz.name, (const char *)data, size, &opts, &pol, &d);
    FZ_CHECK(d != NULL, "no diagnostics object");
    FZ_CHECK((st == PCR_OK) == (pol != NULL), "status %d with policy %p", (int)st, (void *)pol);
    check_diags(d, st);
    pcr_diags_free(d);
    if (pol) check_policy(pol);
    return 0;
}
