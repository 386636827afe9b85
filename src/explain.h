/* explain.h: why a record got its decision, in a policy analyst's words
 * (pcrvm --explain, and pcrc test for a failing test).
 *
 * An explanation walks the rules the index selected for the record. Each
 * rule's condition block is read back into its `when` and `unless`
 * conditions (a compiled block is a tree in postfix order; PRule's
 * unless_count says how many unless clauses end it), every condition is
 * shown with the record's values of the fields it reads and its result
 * (true, false, or unknown because a field is missing), then what waived
 * what, how the rules merged into obligations, what is possible and why
 * the decision is what it is. Rules are named with their source line.
 *
 * Not a hot path: it allocates freely and is only called when asked. */
#ifndef PCR_EXPLAIN_H
#define PCR_EXPLAIN_H

#include "buf.h"
#include "prog.h"
#include "rec.h"
#include "vm.h"

/* Appends the explanation of d, the decision vm_decide made for rec with
 * a VM over p, to b: several lines, each ending in '\n', indented by two
 * spaces under a first line the caller writes. Rules that fired or are
 * unknown are always shown; a rule that did not fire is shown with the
 * condition that stopped it when show is NULL, or when its id is among
 * show[0 .. nshow). */
void explain_decision(Buf *b, const Prog *p, const Record *rec, const Decision *d,
                      const char *const *show, size_t nshow);

/* Appends one condition of rule r, rendered as the analyst wrote it, e.g.
 * "setting in {inpatient, observation}" (for tests of the renderer). */
void explain_rule_text(Buf *b, const Prog *p, uint32_t r);

/* ---- probing one rule (coverage.c) ------------------------------------ */

enum { EXPLAIN_MAX_ALTS = 64 };

/* What rule r's conditions give on one record. An unless alternative is a
 * top-level `or` term of an unless clause (an unless without `or` is one
 * alternative); they are numbered in source order, at most
 * EXPLAIN_MAX_ALTS. Results are 1, 0, or -1 (unknown: a field is absent). */
typedef struct RuleProbe {
    int when;          /* the `when` */
    uint32_t terms;    /* top-level `and` terms of the `when` */
    uint32_t unmet;    /*   how many of them are not true */
    uint32_t nalts;    /* unless alternatives */
    int alt[EXPLAIN_MAX_ALTS];
    uint32_t alt_clause[EXPLAIN_MAX_ALTS]; /* the unless clause (0-based) of each */
} RuleProbe;

/* Probes rule r on rec; rec NULL counts the terms and alternatives only
 * (their results are then -1). */
void explain_probe(const Prog *p, uint32_t r, const Record *rec, RuleProbe *out);
/* Appends unless alternative `alt` of rule r as the analyst wrote it. */
void explain_alt_text(Buf *b, const Prog *p, uint32_t r, uint32_t alt);

#endif
