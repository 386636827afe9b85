/* vm.h: evaluating a decoded record against a compiled policy.
 *
 * vm_decide() runs the condition block of every rule that can apply
 * (the index narrows them by the record's code), then combines the results
 * order-independently (docs/language.md, "How a decision is made"):
 *   - a rule fires when it is in effect on service_date and its condition is
 *     true; it is unknown when the condition is unknown;
 *   - exempt rules that fire waive the rules they name (or all others);
 *   - among fired, unwaived rules the strongest outcome wins
 *     (not_covered > prior_auth > notification > none); its reviewers are
 *     all reported and the earliest deadline wins;
 *   - if an unknown rule could change that (a stronger outcome, or an
 *     exemption that could waive a winning rule), the decision is
 *     info_needed and names the fields that were missing.
 * The VM trusts the verifier: it never runs unverified code. */
#ifndef PCR_VM_H
#define PCR_VM_H

#include "pcr/pcr.h"
#include "prog.h"
#include "rec.h"

typedef struct Decision {
    pcr_decision_kind kind;
    const uint32_t *rules;     /* fired and not waived, ascending (VM scratch) */
    uint32_t nrules;
    const uint32_t *reviewers; /* string indices, deduplicated, first-seen order */
    uint32_t nreviewers;
    bool has_deadline;
    bool deadline_is_date;     /* deadline is days (else seconds) */
    int64_t deadline;
    int timely;                /* 1 on time, 0 late, -1 unknown/not applicable */
    uint64_t missing;          /* info_needed: fields whose absence matters */
} Decision;

typedef struct Vm Vm;

/* prog must be verified and outlive the VM. */
Vm *vm_new(const Prog *prog);
void vm_free(Vm *vm);
/* Decides one record; out's arrays stay valid until the next call. */
void vm_decide(Vm *vm, const Record *rec, Decision *out);
/* How often each rule fired (not waived) since vm_new: nrules counters. */
const uint64_t *vm_rule_counts(const Vm *vm);

/* Evaluates rule r's condition block alone (tests, trace): returns 1 true,
 * 0 false, -1 unknown; *missing gets the absent fields it read. */
int vm_eval_rule(Vm *vm, const Record *rec, uint32_t r, uint64_t *missing);

#endif
