/* serve_metrics.h: the counters behind GET /metrics (Prometheus text
 * format 0.0.4). Every counter is a C11 atomic, updated by the worker
 * threads without a lock. */
#ifndef PCR_TOOLS_SERVE_METRICS_H
#define PCR_TOOLS_SERVE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "pcr/pcr.h"
#include "serve_gen.h"

/* The paths a request can be counted under. */
typedef enum MetRoute {
    MET_DECIDE,      /* POST /v1/decide */
    MET_POLICIES,    /* GET /v1/policies */
    MET_HEALTHZ,     /* GET /healthz */
    MET_METRICS,     /* GET /metrics */
    MET_CDS,         /* GET /cds-services and POST /cds-services/{id} */
    MET_OTHER,       /* anything else (404) */
    MET_NROUTES
} MetRoute;

enum { MET_NSTATUS = 12, MET_NBUCKETS = 15, MET_NWORKERS = 256 };

typedef struct Metrics {
    atomic_ullong requests[MET_NROUTES][MET_NSTATUS]; /* by route and status */
    atomic_ullong decisions[PCR_DEC_ERROR + 1];       /* records by decision kind */
    atomic_ullong records;                            /* records evaluated */
    atomic_ullong bucket[MET_NROUTES][MET_NBUCKETS];  /* latency, non-cumulative */
    atomic_ullong sum_us[MET_NROUTES];                /* latency sum, microseconds */
    atomic_ullong reloads_ok, reloads_failed;
    /* requests by worker thread: slot i counts the thread whose id is in
     * worker[i] (claimed on its first request; 0: free) */
    atomic_ulong worker[MET_NWORKERS];
    atomic_ullong by_worker[MET_NWORKERS];
} Metrics;

/* The path label of a route ("/v1/decide", ...). */
const char *met_route_path(MetRoute r);

/* Counts one answered request: its status, its latency, and the calling
 * thread (a worker) as the one that served it. */
void met_request(Metrics *m, MetRoute r, unsigned status, uint64_t us);

/* Appends the Prometheus exposition of m, and of the policies of g (an
 * info gauge per policy with its SHA-256) to a malloc'ed string; NULL when
 * out of memory. */
char *met_render(Metrics *m, const Gen *g, size_t *len);

#endif
