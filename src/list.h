/* list.h: the analyst's listing of a policy (pcrc list, pcr_policy_list).
 *
 * pcr_policy_list() (include/pcr/pcr.h) prints, for one service date, every
 * rule in effect, grouped by the document sections the rules cite, with its
 * outcome, reviewer, deadline, codes, conditions and exceptions in plain
 * words. It reads the root file's syntax tree (pcr_policy.decls) for the
 * rules as written and the compiled Prog for code sets and field types.
 *
 * The code sets print through codetext.h. */
#ifndef PCR_LIST_H
#define PCR_LIST_H

enum {
    LIST_WIDTH = 100, /* lines are wrapped to this many columns */
};

#endif
