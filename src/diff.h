/* diff.h: what changed between two versions of a policy (pcrc diff), in
 * the analyst's words (docs/cli.md, "pcrc diff").
 *
 * Rules are matched by id and named code sets by name. For a rule in both,
 * diff_models() compares outcome, reviewers, deadline, window, the codes
 * its `when` tests, and where it fires: the requests where one version
 * fires and the other does not are computed exactly (lint_solve.h), and
 * one of them is shown as a witness with the decision of each version. */
#ifndef PCR_DIFF_H
#define PCR_DIFF_H

#include <stdbool.h>
#include <stdio.h>

#include "prog.h"
#include "sema.h"

/* Writes the changes from old to new (each checked, with its emitted Prog)
 * to out. Returns true when anything changed. */
bool diff_models(const Sema *old, const Prog *pold, const Sema *new, const Prog *pnew, FILE *out);

#endif
