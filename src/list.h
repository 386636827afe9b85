/* list.h: the analyst's listing of a policy (pcrc list, pcr_policy_list).
 *
 * pcr_policy_list() (include/pcr/pcr.h) prints, for one service date, every
 * rule in effect, grouped by the document sections the rules cite, with its
 * outcome, reviewer, deadline, codes, conditions and exceptions in plain
 * words. It reads the checker's results kept in pcr_policy.facts (facts.h:
 * rules, code sets, field wording), the rules' clauses as written (their
 * syntax nodes) and the compiled Prog (field types, codes).
 *
 * The code sets print through codetext.h. */
#ifndef PCR_LIST_H
#define PCR_LIST_H

enum {
    LIST_WIDTH = 100, /* lines are wrapped to this many columns */
};

#endif
