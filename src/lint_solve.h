/* lint_solve.h: exact reasoning over checked conditions, for the lints.
 *
 * A Box is a set of requests described field by field: for each schema
 * field, whether it is given a value, given as null, or either; and which
 * values it may take (an enum mask, an integer interval, code intervals, a
 * string equal to one literal or different from some). A condition's
 * requests where it is definitely true (or definitely false) are a union of
 * boxes, computed by lsol_refine() over the condition tree, with the VM's
 * semantics (src/vm.c): an atom on a field given as null is false (`!=` is
 * true), `present()` is false, and an absent field is unknown, which is
 * never definitely anything, so the boxes never leave a tested field
 * absent.
 *
 * Results are exact except in two cases, which the Solver records: a
 * comparison of two fields is taken as unconstrained (so an empty result
 * still proves that nothing satisfies the condition, but a box may not be a
 * real witness: `approx`), and more than LSOL_MAX_BOXES boxes (`overflow`:
 * nothing can be concluded). Everything lives in the solver's arena. */
#ifndef PCR_LINT_SOLVE_H
#define PCR_LINT_SOLVE_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "sema.h"

enum { LSOL_MAX_BOXES = 512 };

/* Dom.st */
enum { DS_ANY = 0, DS_VALUE, DS_NULL };

/* What one field may be. Arrays are shared between boxes, never modified in
 * place. */
typedef struct Dom {
    uint8_t st;            /* DS_* */
    uint64_t mask;         /* enum: allowed members; bool: bit 0 false, bit 1 true */
    int64_t lo, hi;        /* int, money, date, datetime: allowed interval */
    const CodeRange *cr;   /* code: allowed intervals (sorted, disjoint) */
    uint32_t ncr;
    const char *eq;        /* string: must equal this (NULL: any) */
    const char **ne;       /* string: must differ from these; list of strings: */
    uint32_t nne;          /*   no element may be one of these */
    const char **req;      /* list of strings: each must be an element */
    uint32_t nreq;
    const CodeRange **rq;  /* list of codes: for each i, some element in rq[i] */
    const uint32_t *nrq;
    uint32_t nrqs;
    const CodeRange *forb; /* list of codes: no element in these intervals */
    uint32_t nforb;
} Dom;

typedef struct Box {
    Dom *f; /* one per model field */
} Box;

typedef struct BoxList {
    Box *v;
    uint32_t n, cap;
} BoxList;

typedef struct Solver {
    Arena *arena;
    const Model *m;
    uint32_t f_service_date; /* field index, or PIDX_NONE */
    bool approx;             /* a field-to-field comparison was met */
    bool overflow;           /* a result was cut at LSOL_MAX_BOXES */
} Solver;

/* Prepares sv over model m (which must outlive it). */
void lsol_init(Solver *sv, Arena *arena, const Model *m);
/* The box of every request whose service date is in [from, through]
 * (DATE_OPEN_* bounds are open); one element. */
BoxList lsol_all(Solver *sv, int32_t from, int32_t through);
/* The boxes of `in` narrowed to where c is definitely `want`. */
BoxList lsol_refine(Solver *sv, BoxList in, const Cond *c, bool want);
/* The boxes of `in` narrowed to where rule r fires: its when is true, no
 * unless is, and the service date is in its window. */
BoxList lsol_fires(Solver *sv, BoxList in, const SRule *r);
/* The boxes of `in` narrowed to where rule r does not fire (its window,
 * when or an unless stops it). */
BoxList lsol_not_fires(Solver *sv, BoxList in, const SRule *r);
/* Appends to out a request of box b as one JSON object (no newline) that
 * pcrvm accepts, with id `id` and the policy's payer; false (out
 * unchanged) when no well-formed request of b was found. */
bool lsol_witness(Solver *sv, const Box *b, const char *id, Buf *out);

#endif
