/* emit.h: from the checked model (sema.h) to a Prog (prog.h).
 *
 * The emitter interns strings and constants, lays out fields, code sets,
 * rules and their condition blocks, and builds the rule index. Its output
 * is deterministic: the same model always gives the same Prog, table for
 * table and byte for byte. */
#ifndef PCR_EMIT_H
#define PCR_EMIT_H

#include "diag.h"
#include "prog.h"
#include "sema.h"

/* Emits m (which must be free of errors) as a new Prog owned by the caller
 * (prog_free). Returns NULL when the policy exceeds a bytecode limit (more
 * than 65,536 constants or code sets, a jump longer than 65,535 bytes, a
 * condition deeper than the VM stack), reported as E410 into d. */
Prog *emit_prog(const Model *m, Diags *d);

/* Builds the rule index of p from its rules' index_set and its sets:
 * p->segs (sorted, disjoint, adjacent equal lists merged), p->seg_rules and
 * p->always. Rules sharing one list of rules share its slice of seg_rules.
 * O(N log N) in the total number of intervals of the indexed rules. Past
 * 4,194,304 interval ends, or as many rule numbers in seg_rules, it builds
 * no index: every rule goes on the always list (same decisions, slower). */
void emit_index(Prog *p);

#endif
