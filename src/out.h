/* out.h: decision lines, one compact JSON object per record.
 *
 * Every line has the same keys in the same order, then "why" only for
 * no_policy and "error" only for errors, and ends in '\n' (docs/cli.md,
 * "Decision line", is the manual):
 *
 *   {"id":"r1","decision":"prior_auth","policy":"demo@2026.1",
 *    "reviewer":"eviCore","deadline":"2026-02-27T00:00","timely":true,
 *    "rules":["mri"],"reasons":[{"rule":"mri","title":"MRI of the brain",
 *    "outcome":"prior_auth","citation":"demo-list.txt, Diagnostic Imaging",
 *    "citations":["demo-list.txt, Diagnostic Imaging"]}],
 *    "obligations":[{"outcome":"prior_auth","reviewer":"eviCore",
 *    "deadline":"2026-02-27T00:00","timely":true,"rules":["mri"],
 *    "citations":["demo-list.txt, Diagnostic Imaging"]}],
 *    "possible":[],"missing":[]}
 *
 *   id          the record's id (a string), or null on an error line without one
 *   decision    none notification prior_auth not_covered info_needed no_policy error
 *   policy      "ID@VERSION" of the deciding policy, null for no_policy/error
 *   reviewer    the deciding obligations' reviewers: null, a string, an array
 *   deadline    their earliest: "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM", or null
 *   timely      true, false or null
 *   rules       ids of the fired, unwaived rules, ascending rule order
 *   reasons     one {"rule","title","outcome","citation","citations"} per rule
 *   obligations the certain ones: {"outcome","reviewer","deadline","timely",
 *               "rules","citations"}
 *   possible    {"outcome","reviewer","deadline","rules","missing"}
 *   missing     the union of the possible obligations' fields, schema order
 *   why         no_policy lines only: no policy for that payer (the nearest
 *               payer names), or none in force on that date (the windows)
 *   error       error lines only: the message
 *
 * This is pcrvm's hot path: everything fixed per policy (its "id@version",
 * each rule's id and reason object, each field name) is rendered once into
 * an OutPolicy, so a line is mostly memcpy. A rule's parts are rendered the
 * first time a line names it, so a policy of many rules costs little to
 * load. */
#ifndef PCR_OUT_H
#define PCR_OUT_H

#include <stddef.h>

#include "buf.h"
#include "pcr/pcr.h"
#include "prog.h"
#include "vm.h"

typedef struct OutPolicy OutPolicy;

/* Pre-renders the JSON fragments of p (its rules' when first needed, by
 * out_decision). p must outlive the result; free it with out_policy_free
 * (NULL is fine). Never fails (allocation aborts). */
OutPolicy *out_policy_new(const Prog *p);
void out_policy_free(OutPolicy *o);

/* Room for a formatted deadline, "YYYY-MM-DDTHH:MM" and its NUL. */
enum { OUT_DEADLINE_MAX = 20 };

/* Writes the deadline as "YYYY-MM-DD" (is_date: v in days) or
 * "YYYY-MM-DDTHH:MM" (v in seconds), NUL-terminated, into s (at least
 * OUT_DEADLINE_MAX bytes); returns its length. */
size_t out_format_deadline(char *s, bool is_date, int64_t v);

/* Appends the line of a decided record: d as vm_decide() filled it for the
 * policy o was made from. id/id_len: the record's id (UTF-8, need not be
 * NUL-terminated). o keeps the last deadline day it formatted, so one
 * OutPolicy serves one thread at a time. */
void out_decision(Buf *b, OutPolicy *o, const char *id, size_t id_len, const Decision *d);

/* Appends the line of a record that no policy covers (its payer and
 * service_date match none): decision no_policy, policy null, and why[0..
 * why_len) (UTF-8) as "why" right after "reasons". */
void out_no_policy(Buf *b, const char *id, size_t id_len, const char *why, size_t why_len);

/* Appends the line of a record that could not be decided: decision error
 * and "error": msg (NUL-terminated UTF-8, e.g. rec_error()). id may be NULL
 * (then "id":null), e.g. when rec_partial() has no id. */
void out_error(Buf *b, const char *id, size_t id_len, const char *msg);

/* The decision's name as in the "decision" key ("prior_auth", ...); the
 * string is static. Unknown values give "error". */
const char *out_decision_name(pcr_decision_kind k);
/* A rule outcome's name as in "outcome" ("prior_auth", "advisory", ...);
 * static; "none" for values out of range. */
const char *out_outcome_name(unsigned outcome);

#endif
