/* serve_metrics.c: counting requests and decisions, and the Prometheus
 * text exposition (serve_metrics.h). */
#include "serve_metrics.h"

#include <pthread.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned met_statuses[MET_NSTATUS] = {200, 400, 404, 405, 408, 412, 413,
                                                   415, 422, 500, 503, 0};
/* Upper bounds of the latency buckets, in microseconds; the last is +Inf. */
static const uint64_t met_bounds_us[MET_NBUCKETS - 1] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000};

static const char *const met_paths[MET_NROUTES] = {
    "/v1/decide", "/v1/policies", "/healthz", "/metrics", "/cds-services", "other"};

const char *met_route_path(MetRoute r) { return met_paths[r]; }

void met_request(Metrics *m, MetRoute r, unsigned status, uint64_t us)
{
    int s = MET_NSTATUS - 1; /* "other" statuses share the last slot */
    for (int i = 0; i < MET_NSTATUS - 1; i++)
        if (met_statuses[i] == status) s = i;
    atomic_fetch_add(&m->requests[r][s], 1);
    int b = 0;
    while (b < MET_NBUCKETS - 1 && us > met_bounds_us[b]) b++;
    atomic_fetch_add(&m->bucket[r][b], 1);
    atomic_fetch_add(&m->sum_us[r], us);
    /* the calling thread's slot: found, or the first free one claimed */
    unsigned long self = (unsigned long)pthread_self();
    for (int i = 0; i < MET_NWORKERS; i++) {
        unsigned long cur = atomic_load(&m->worker[i]);
        if (cur == 0 && atomic_compare_exchange_strong(&m->worker[i], &cur, self)) cur = self;
        if (cur == self) {
            atomic_fetch_add(&m->by_worker[i], 1);
            break;
        }
    }
}

typedef struct MetBuf {
    char *p;
    size_t n, cap;
    int failed;
} MetBuf;

static void met_printf(MetBuf *b, const char *fmt, ...)
{
    for (int tries = 0; tries < 2 && !b->failed; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0) b->failed = 1;
        else if ((size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        } else {
            size_t cap = b->cap * 2 + (size_t)k;
            char *np = realloc(b->p, cap);
            if (!np) b->failed = 1;
            else b->p = np, b->cap = cap;
        }
    }
}

/* Writes s as a Prometheus label value: backslash, quote and newline
 * escaped. */
static void met_label(MetBuf *b, const char *s)
{
    for (; *s && !b->failed; s++) {
        if (*s == '\\' || *s == '"') met_printf(b, "\\%c", *s);
        else if (*s == '\n') met_printf(b, "\\n");
        else met_printf(b, "%c", *s);
    }
}

char *met_render(Metrics *m, const Gen *g, size_t *len)
{
    MetBuf b = {malloc(8192), 0, 8192, 0};
    if (!b.p) return NULL;
    met_printf(&b, "# HELP pcr_http_requests_total HTTP requests answered, by path and status.\n"
                   "# TYPE pcr_http_requests_total counter\n");
    for (int r = 0; r < MET_NROUTES; r++)
        for (int s = 0; s < MET_NSTATUS; s++) {
            unsigned long long v = atomic_load(&m->requests[r][s]);
            if (!v) continue;
            if (met_statuses[s])
                met_printf(&b, "pcr_http_requests_total{path=\"%s\",status=\"%u\"} %llu\n",
                           met_paths[r], met_statuses[s], v);
            else
                met_printf(&b, "pcr_http_requests_total{path=\"%s\",status=\"other\"} %llu\n",
                           met_paths[r], v);
        }
    met_printf(&b, "# HELP pcr_http_request_duration_seconds Time from the request's headers to "
                   "its response being queued.\n"
                   "# TYPE pcr_http_request_duration_seconds histogram\n");
    for (int r = 0; r < MET_NROUTES; r++) {
        unsigned long long cum = 0;
        for (int k = 0; k < MET_NBUCKETS; k++) {
            cum += atomic_load(&m->bucket[r][k]);
            if (k < MET_NBUCKETS - 1)
                met_printf(&b,
                           "pcr_http_request_duration_seconds_bucket{path=\"%s\",le=\"%g\"} %llu\n",
                           met_paths[r], (double)met_bounds_us[k] / 1e6, cum);
            else
                met_printf(&b,
                           "pcr_http_request_duration_seconds_bucket{path=\"%s\",le=\"+Inf\"} %llu\n",
                           met_paths[r], cum);
        }
        met_printf(&b, "pcr_http_request_duration_seconds_sum{path=\"%s\"} %.6f\n", met_paths[r],
                   (double)atomic_load(&m->sum_us[r]) / 1e6);
        met_printf(&b, "pcr_http_request_duration_seconds_count{path=\"%s\"} %llu\n", met_paths[r],
                   cum);
    }
    met_printf(&b, "# HELP pcr_decisions_total Records evaluated, by decision.\n"
                   "# TYPE pcr_decisions_total counter\n");
    for (int k = 0; k <= PCR_DEC_ERROR; k++)
        met_printf(&b, "pcr_decisions_total{decision=\"%s\"} %llu\n",
                   pcr_decision_name((pcr_decision_kind)k), atomic_load(&m->decisions[k]));
    met_printf(&b, "# HELP pcr_http_worker_requests_total HTTP requests served, by worker "
                   "thread (numbered in the order of their first request).\n"
                   "# TYPE pcr_http_worker_requests_total counter\n");
    for (int i = 0; i < MET_NWORKERS && atomic_load(&m->worker[i]); i++)
        met_printf(&b, "pcr_http_worker_requests_total{worker=\"%d\"} %llu\n", i,
                   atomic_load(&m->by_worker[i]));
    met_printf(&b, "# HELP pcr_reloads_total Policy reloads (SIGHUP), by result.\n"
                   "# TYPE pcr_reloads_total counter\n"
                   "pcr_reloads_total{result=\"ok\"} %llu\n"
                   "pcr_reloads_total{result=\"failed\"} %llu\n",
               atomic_load(&m->reloads_ok), atomic_load(&m->reloads_failed));
    met_printf(&b, "# HELP pcr_policy_generation Number of the loaded generation of policies.\n"
                   "# TYPE pcr_policy_generation gauge\n"
                   "pcr_policy_generation %lu\n",
               g->number);
    met_printf(&b, "# HELP pcr_policy_info A loaded policy; sha256 is of its .pcrb bytes.\n"
                   "# TYPE pcr_policy_info gauge\n");
    for (size_t i = 0; i < g->npols; i++) {
        const GenPolicy *p = &g->pols[i];
        met_printf(&b, "pcr_policy_info{id=\"");
        met_label(&b, p->id);
        met_printf(&b, "\",version=\"");
        met_label(&b, p->version);
        met_printf(&b, "\",payer=\"");
        met_label(&b, p->payer);
        met_printf(&b, "\",sha256=\"%s\"} 1\n", p->sha256);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.n;
    return b.p;
}
