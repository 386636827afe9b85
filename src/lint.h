/* lint.h: warnings about policies that compile but do not say what their
 * author meant (W6xx, docs/diagnostics.md).
 *
 * lint_run() reads the checked model (and the syntax tree only for
 * locations) after a compile without errors, and reports each finding as a
 * warning at the construct, with a note that holds either a witness (a
 * request record, as one JSON line pcrvm accepts, that shows the finding)
 * or the reason none can exist. The analyses are exact over the model
 * (lint_solve.h): a finding is reported only when it is proved. A comment
 * `# lint: allow W6xx why` above (or on) the reported line keeps it quiet:
 * the justification stays next to the code. */
#ifndef PCR_LINT_H
#define PCR_LINT_H

#include "sema.h"

/* Reports the lints of the checked policy in s (sema_run() succeeded),
 * whose emitted program is p (for W610, what the tests reach), into s->d.
 * Allocates only temporarily. */
void lint_run(const Sema *s, const Prog *p);

/* Whether the warning `code` at `at` is allowed by a comment
 * `# lint: allow CODE reason` on its line or in the comment lines right
 * above it (docs/diagnostics.md). */
bool lint_allowed(const Diags *d, Loc at, const char *code);

/* lint_sets.c: W609, repeated codes inside one code set literal. */
void lint_sets(const Sema *s);

#endif
