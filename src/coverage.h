/* coverage.h: what a policy's tests reach (coverage.c), for pcrc test
 * --coverage and for the lint W610. */
#ifndef PCR_COVERAGE_H
#define PCR_COVERAGE_H

#include <stddef.h>
#include <stdint.h>

#include "compile.h"
#include "explain.h"
#include "prog.h"

/* What the tests do to one rule. */
typedef struct RuleCov {
    uint32_t fired, near;              /* tests that fire it; that near-miss it */
    uint32_t nalts;                    /* its unless alternatives (explain_probe) */
    uint32_t alt[EXPLAIN_MAX_ALTS];    /* tests exercising each */
    uint32_t clause[EXPLAIN_MAX_ALTS]; /* the unless clause of each (0-based) */
} RuleCov;

/* Probes every rule of p on the records of tests[0 .. ntests) that route
 * to p, filling cov (p->nrules entries, zeroed by the caller) and, when
 * set_hits is not NULL, counting per PSet the tests with a code in it.
 * Returns the number of tests routed to p. */
size_t cov_probe(const Prog *p, const TestCase *tests, size_t ntests, RuleCov *cov, uint32_t *set_hits);

#endif
