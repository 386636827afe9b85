/* facts.h: what the checker resolved, kept after a compile for the
 * analyst's tools (pcrc list).
 *
 * The checked model (sema.h) is freed when a compile ends; the listing runs
 * later, on a pcr_policy. Facts keep the part of the model it needs, so it
 * does not resolve anything again: each field's wording (FieldText, from the
 * schema), and for each code set the checker built, its title, window and
 * emitted PSet, found from the syntax node that names it; and each rule's
 * window, citation and outcome, in the order the checker kept the rules
 * (with its syntax node, for the clauses as written). Everything lives
 * in the compile's arena, beside the syntax tree it points into. */
#ifndef PCR_FACTS_H
#define PCR_FACTS_H

#include <stdint.h>

#include "arena.h"
#include "ast.h"
#include "sema.h"

/* A code set as the checker built it. */
typedef struct FactSet {
    const char *name;        /* codeset name; a literal's checker name */
    const char *title;       /* a codeset's title, or NULL */
    const Node *decl;        /* the N_CODESET, or the N_SET_LIT in a condition */
    int32_t from, through;   /* its window (DATE_OPEN_* when it has none) */
    uint32_t pset;           /* its emitted PSet, or PIDX_NONE */
} FactSet;

/* A rule as the checker resolved it, in model order (the order the
 * policy's rules are decided and listed in). */
typedef struct FactRule {
    const Node *node;        /* its N_RULE: the clauses as written */
    const char *id, *title;  /* title NULL when untitled */
    const char *doc;         /* the document its first `cite` names, or NULL */
    const char *section;     /*   and that cite's section, or NULL */
    int32_t from, through;   /* its own window (DATE_OPEN_* when it has none) */
    uint8_t outcome;         /* Outcome (exempt for a waiver) */
} FactRule;

typedef struct Facts {
    const FieldText *fields; /* parallel to the Prog's fields */
    uint32_t nfields;
    const FactSet *sets;     /* the model's sets, in model order */
    uint32_t nsets;
    const FactRule *rules;   /* the model's rules, in model order */
    uint32_t nrules;
} Facts;

/* Copies the facts of the checked model s->m (sema_run() succeeded) into
 * arena a, which must be the compile's arena (strings are shared). */
const Facts *facts_keep(const Sema *s, Arena *a);

/* The set a condition names: ref is an N_NAME (a codeset, looked up by
 * name) or an N_SET_LIT (the literal itself). NULL when there is none. */
const FactSet *facts_set(const Facts *f, const Node *ref);

#endif
