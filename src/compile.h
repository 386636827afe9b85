/* compile.h: from source text to a checked, emitted, verified Prog.
 *
 * compile_program() reads the root file's `use` modules (depth first, each
 * once), checks names and types across them, builds code sets and
 * calendars, emits bytecode with the rule index, runs the verifier on the
 * result (an emitter bug is an internal error, not a user diagnostic), and
 * collects the `test` blocks of the root file. */
#ifndef PCR_COMPILE_H
#define PCR_COMPILE_H

#include <stdbool.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "prog.h"

struct Sema;
struct Merged;

/* A `test` block, ready to run: the given record rendered as one JSON line
 * (unset id defaults to the test name, unset payer to the policy's payer)
 * and the expectations. Everything lives in the compile arena. */
typedef struct TestCase {
    const char *name;
    uint32_t file, line, col; /* where the test is (diagnostic file index) */
    const char *record_json;
    pcr_decision_kind expect;
    bool check_reviewers;
    const char **reviewers;
    size_t nreviewers;
    bool check_rules;
    const char **rules; /* rule ids */
    size_t nrules;
    bool check_deadline;
    bool deadline_none;    /* expect no deadline */
    bool deadline_is_date; /* else datetime (seconds) */
    int64_t deadline;
    bool check_missing;
    const char **missing; /* field names */
    size_t nmissing;
    bool check_timely;
    int timely; /* 1, 0, or -1 for unknown */
    bool check_outcomes;   /* `expect D, O...`: the certain obligations' outcomes */
    uint32_t outcomes;     /*   exactly these (bit Outcome) */
    bool check_possible;   /* `possible [...]`: the possible obligations' outcomes */
    uint32_t possible;     /*   exactly these (bit Outcome) */
} TestCase;

typedef struct CompileOpts {
    const char *const *include_dirs;
    size_t n_include_dirs;
    const char *stdlib_dir; /* the standard library's directory (holding std/); NULL: none */
    bool lint; /* also report the W6xx lints (lint.h) when the policy has no error */
    /* Called, when not NULL, with the checked model and its verified program
     * once the policy compiled without error (both freed after it returns). */
    void (*inspect)(const struct Sema *s, const Prog *p, void *arg);
    void *inspect_arg;
} CompileOpts;

typedef struct CompileOut {
    Prog *prog;       /* NULL when any error was reported; else owned by the caller */
    TestCase *tests;  /* in the arena */
    size_t ntests;
    Node *root_decls; /* the root file's syntax tree (in the arena), for dumps */
    const Node **module_decls; /* each used module's syntax tree (in the arena), */
    size_t nmodules;
    const struct Facts *facts; /* what pcrc list reads of the checked model (facts.h),
                                  in the arena; NULL when prog is */
    const struct Merged *merged; /* the rules in force, from the policy and its bases
                                    (in the arena; NULL when the check failed early) */
} CompileOut;

/* Compiles the source `text` (len bytes, xmalloc'ed; ownership passes to d)
 * registered under `path`. Returns true when no error was reported. The
 * arena must outlive the tests and tree in *out. */
bool compile_program(Arena *arena, Diags *d, const char *path, char *text, size_t len,
                     const CompileOpts *opts, CompileOut *out);

#endif
