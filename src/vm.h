/* vm.h: evaluating a decoded record against a compiled policy.
 *
 * vm_decide() runs the condition block of every rule that can apply
 * (the index narrows them by the record's code), then combines the results
 * order-independently (docs/language.md, "How a decision is made"):
 *   - a rule fires when it is in effect on service_date and its condition is
 *     true; it is unknown when the condition is unknown (a field it needs
 *     is absent);
 *   - exempt rules that fire waive the rules they name (or all others);
 *     unknown exemptions may waive them;
 *   - every fired rule that nothing waives or may waive is certain; rules
 *     that are unknown, or fired but may be waived, are possible;
 *   - certain rules of one outcome and one set of reviewers make one
 *     obligation with their earliest deadline; a certain not_covered
 *     excludes prior_auth and notification obligations;
 *   - possible rules make the possible obligations, kept only where they
 *     would add something: a new outcome or reviewer, or an earlier deadline;
 *   - the decision is the strongest certain outcome (advisory never
 *     decides); info_needed when nothing is certain and a requirement is
 *     possible.
 * The VM trusts the verifier: it never runs unverified code. */
#ifndef PCR_VM_H
#define PCR_VM_H

#include "pcr/pcr.h"
#include "prog.h"
#include "rec.h"

/* What a request must do for one outcome and one set of reviewers. */
typedef struct Obligation {
    uint8_t outcome;           /* OUT_NOT_COVERED, OUT_PRIOR_AUTH, OUT_NOTIFICATION, OUT_ADVISORY */
    const uint32_t *reviewers; /* string indices (Prog memory): the rules' reviewers or the
                                  policy's default; may be empty */
    uint32_t nreviewers;
    bool has_deadline;
    bool deadline_is_date;     /* deadline is days (else seconds) */
    int64_t deadline;          /* the earliest of its rules' deadlines */
    int timely;                /* certain: 1 on time, 0 late, -1 unknown/no deadline */
    const uint32_t *rules;     /* ascending rule indices (VM scratch) */
    uint32_t nrules;
    uint64_t missing;          /* possible: the absent fields that leave it open */
} Obligation;

/* (vm.c's vm_decision_empty sets every field one by one, not by zeroing
 * the struct: a field added here must be set there too; test_vm checks
 * them all.) */
typedef struct Decision {
    pcr_decision_kind kind;
    const uint32_t *rules;     /* fired and not waived, ascending (VM scratch) */
    uint32_t nrules;
    const uint32_t *reviewers; /* the deciding outcome's obligations' reviewers, in rule
                                  order, deduplicated (string indices) */
    uint32_t nreviewers;
    bool has_deadline;         /* the earliest deadline of those obligations */
    bool deadline_is_date;     /* deadline is days (else seconds) */
    int64_t deadline;
    int timely;                /* 1 on time, 0 late, -1 unknown/not applicable */
    const Obligation *obligations; /* certain, strongest first, then by first rule */
    uint32_t nobligations;
    const Obligation *possible;    /* what absent fields could add, in the same order */
    uint32_t npossible;
    uint64_t missing;          /* the union of the possible obligations' missing */
} Decision;

typedef struct Vm Vm;

/* prog must be verified and outlive the VM. */
Vm *vm_new(const Prog *prog);
void vm_free(Vm *vm);
/* Decides one record; out's arrays stay valid until the next call. */
void vm_decide(Vm *vm, const Record *rec, Decision *out);
/* Tests: with plain, every record is combined by the general path, not
 * the shortcut for one fired rule (vm_combine_one); the decisions must not
 * differ. */
void vm_set_plain(Vm *vm, bool plain);
/* How often each rule fired (not waived) since vm_new: nrules counters. */
const uint64_t *vm_rule_counts(const Vm *vm);

/* The rules the index selects for rec, ascending, into out (room for
 * p->nrules); returns how many. The others cannot fire or be unknown. */
uint32_t vm_selected(const Prog *p, const Record *rec, uint32_t *out);

/* Evaluates rule r's condition block alone (tests, trace): returns 1 true,
 * 0 false, -1 unknown; *missing gets the absent fields it read. */
int vm_eval_rule(Vm *vm, const Record *rec, uint32_t r, uint64_t *missing);

/* Rule r's guards on rec (tests of one field, or an `or` of such tests and
 * code-set tests, that vm_new finds in the block, checked before it is
 * run): 1 they rule it out (its block would return false, so it is not
 * run), 0 they do not, -1 it has none. */
int vm_rule_guards(Vm *vm, const Record *rec, uint32_t r);

/* How this build dispatches instructions: "computed-goto" (the default
 * where the compiler supports it) or "switch" (-DPCR_DISPATCH_SWITCH, or a
 * compiler without labels as values). pcrvm --stats prints it. */
const char *vm_dispatch(void);

#endif
