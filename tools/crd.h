/* crd.h: Coverage Requirements Discovery (HL7 Da Vinci CRD STU 2) over
 * CDS Hooks 2.0 for `pcrvm serve` (docs/crd.md). */
#ifndef PCR_TOOLS_CRD_H
#define PCR_TOOLS_CRD_H

#include <stddef.h>
#include <stdint.h>

#include "pcr/pcr.h"

typedef struct Crd Crd;

/* An answer: status and a malloc'ed JSON body (NULL when out of memory). */
typedef struct CrdReply {
    unsigned status;
    char *body;
    size_t len;
    uint64_t records; /* PCR records evaluated */
    uint64_t by_kind[PCR_DEC_ERROR + 1]; /* of them, by decision */
    char *note; /* malloc'ed text for the server's log (feedback items), or NULL */
} CrdReply;

/* The service's state (the coverage-assertion-id counter and seed). */
Crd *crd_new(void);
void crd_free(Crd *c);

/* GET /cds-services. */
void crd_discovery(Crd *c, CrdReply *r);

/* POST /cds-services/{id}: id is the service id, body the hook request.
 * e is an engine the caller has checked out for this call alone. */
void crd_service(Crd *c, const char *id, pcr_engine *e, const char *body, size_t len,
                 CrdReply *r);

/* POST /cds-services/{id}/feedback: 200 and {} for a well-formed CDS
 * Hooks feedback body (each item with card, outcome accepted or
 * overridden, outcomeTimestamp), r->note the items; 400 or 404 otherwise.
 * PCR keeps nothing of it: the server logs it. */
void crd_feedback(Crd *c, const char *id, const char *body, size_t len, CrdReply *r);

/* The answer crd_service gives for one order whose decision line is line
 * (the JSON text of a pcrvm decision line, of any version: keys it lacks
 * read as empty), as {"cards":[...],"systemActions":[...]}. order and
 * coverage are FHIR JSON (a ServiceRequest or another order; a Coverage).
 * For tests of the mapping with constructed lines. */
void crd_map_line(Crd *c, const char *order, const char *coverage, const char *line,
                  CrdReply *r);

#endif
