/* fuzz_util.h: what the libFuzzer targets of tests/fuzz/ share.
 *
 * Each target (fuzz_<name>.c) defines LLVMFuzzerTestOneInput and is linked
 * with fuzz_util.c and the instrumented library (make fuzz). A property that
 * does not hold is reported with FZ_CHECK, which prints the reason and
 * traps: libFuzzer then saves the input as a crash like any sanitizer
 * report. docs/reliability.md describes the targets and how to run them.
 *
 * libFuzzer passes no context to the target, so what a target prepares once
 * (compiled policies, an engine, a decoder) lives in a file-scope variable
 * set in LLVMFuzzerInitialize: the one place in PCR with mutable statics. */
#ifndef PCR_FUZZ_UTIL_H
#define PCR_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "pcr/pcr.h"

/* Prints "fuzz check failed at FILE:LINE: message" to stderr and traps. */
_Noreturn void fz_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks a property of the input under test; see fz_fail. */
#define FZ_CHECK(cond, ...)                                       \
    do {                                                          \
        if (!(cond)) fz_fail(__FILE__, __LINE__, __VA_ARGS__);    \
    } while (0)

/* The repository root, malloc'ed: $PCR_ROOT when set; else the directory two
 * levels above the executable (build/fuzz/fuzz_x) when it holds
 * policies/std/request.pcr; else ".". */
char *fz_repo_root(void);

/* "<dir>/<rel>", malloc'ed. */
char *fz_join(const char *dir, const char *rel);

/* A stream that discards everything written to it (/dev/null), for the
 * printers (diagnostics, disassembly, test reports). Opened on first use
 * and kept for the life of the process; aborts if it cannot be opened. */
FILE *fz_null_stream(void);

/* Checks one decision line as pcr_engine_eval returned it: it ends in its
 * only '\n', and the rest is one JSON object (strict: jansson with
 * JSON_REJECT_DUPLICATES) whose "decision" is the name of kind, whose "id"
 * is a string or null and whose "policy" is a string for a decided record
 * and null otherwise. Traps when it is not. */
void fz_check_decision(const char *line, size_t len, pcr_decision_kind kind);

/* Appends to out a batch of JSON Lines request records for p (compiled or
 * loaded): fixed samples in the standard schema and records built from p's
 * own schema, sets and constants, all with p's payer and service dates in
 * p's effective window, so that they reach its rules. */
void fz_sample_records(const pcr_policy *p, Buf *out);

/* Evaluates every line of batch (split on '\n' as pcr_engine_run splits:
 * no record after a final newline) with pcr_engine_eval, checks each
 * decision line (fz_check_decision), and that a record that was decided
 * (not an error) has no NUL byte, is a JSON object jansson accepts, and has
 * its "id" member echoed by the decision (null when it has none). Appends
 * the decision lines to out when out is not NULL. Returns the number of
 * records. */
size_t fz_eval_batch(pcr_engine *e, const char *batch, size_t len, Buf *out);

/* An engine with every payer policy of <root>/policies (in name order) and
 * policies/examples/demo.pcr, compiled with policies/ as -I. who names the
 * target in messages; any failure prints why and exits 2. */
pcr_engine *fz_payer_engine(const char *who);

#endif
