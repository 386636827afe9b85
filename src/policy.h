/* policy.h: what a public pcr_policy handle holds (internal). */
#ifndef PCR_POLICY_H
#define PCR_POLICY_H

#include "arena.h"
#include "ast.h"
#include "compile.h"
#include "prog.h"

struct pcr_policy {
    Prog *prog;      /* verified; owned */
    Arena arena;     /* the tests and their strings (source-compiled policies) */
    TestCase *tests; /* in arena; none for a policy loaded from bytecode */
    size_t ntests;
    Node *decls;     /* the root file's syntax tree, in arena (pcrc list); or NULL */
    const Node **module_decls; /* the used modules' syntax trees, in arena */
    size_t nmodules;
    const struct Facts *facts; /* the checker's results for pcrc list (facts.h), in arena */
    const struct Merged *merged; /* the rules in force and where they come from, in arena */
    char *path;      /* the root source file, for test locations; or NULL */
    char sha256[65]; /* hex digest of the bytes loaded; "" when compiled from source */
    /* Engines holding this policy (pcr_engine_add, pcr_engine_clone); the
     * last one to let go frees it. Read-only while shared. */
    _Atomic unsigned engine_refs;
};

#endif
