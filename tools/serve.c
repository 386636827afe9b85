/* serve.c: `pcrvm serve`, decisions over HTTP on libmicrohttpd.
 *
 *   pcrvm serve [--listen ADDR:PORT] [--threads N] [options] POLICY...
 *
 * MHD runs a pool of worker threads (one epoll loop each); a stalled client
 * holds a socket, never a worker, and is closed after the idle timeout. Each
 * request evaluates on an engine checked out of the current generation of
 * policies (serve_gen.h), which it keeps referenced until it is answered, so
 * a reload (SIGHUP) never changes the policies under a request. SIGTERM or
 * SIGINT: stop accepting, let the requests in flight finish, exit 0.
 *
 * The main thread only waits for signals (through a self-pipe) and reloads.
 * docs/serve.md is the manual. */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crd.h"
#include "pcr/pcr.h"
#include "serve_accept.h"
#include "serve_auth.h"
#include "serve_gen.h"
#include "serve_metrics.h"

enum { SRV_EXIT_OK = 0, SRV_EXIT_USAGE = 2, SRV_MAX_THREADS = 256, SRV_MAX_POLICIES = 4096 };

static const char srv_usage[] =
    "usage: pcrvm serve [options] POLICY...\n"
    "  POLICY                 a .pcrb file, or a .pcr source compiled at start and on reload\n"
    "options:\n"
    "  --listen ADDR:PORT     address to listen on (default 127.0.0.1:8080; port 0: any free\n"
    "                         port, logged at start; [::1]:PORT for IPv6)\n"
    "  --threads N            worker threads, each with its own engine (default: CPUs)\n"
    "  --max-body BYTES       largest request body (default 16777216); larger: 413\n"
    "  --idle-timeout SECS    close a connection silent this long (default 15)\n"
    "  --read-timeout SECS    longest time to receive one request's body (default 30)\n"
    "  --max-connections N    open connections at most (default 1024)\n"
    "  --grace SECS           on SIGTERM, wait this long for requests in flight (default 30)\n"
    "  --jwt-issuer ISS=JWKS  accept CDS Hooks calls whose Bearer JWT is issued by ISS and\n"
    "                         signed with a key of the JWK Set file JWKS (ES384, RS384,\n"
    "                         HS256); repeatable. Without it the CDS services are open\n"
    "  --public-url URL       the URL the EHR calls us at (https://payer.example.com), for\n"
    "                         the JWT's aud; needed with --jwt-issuer\n"
    "  --cors-origin ORIGIN   Access-Control-Allow-Origin of the CDS services (default *;\n"
    "                         none: no CORS)\n"
    "  -h, --help             this text\n"
    "signals: SIGHUP reloads the policies (a failed reload keeps the old ones);\n"
    "SIGTERM or SIGINT stops accepting, finishes the requests in flight and exits 0.\n";

typedef struct SrvOpts {
    struct sockaddr_storage addr; /* where to listen */
    socklen_t addrlen;
    unsigned threads;
    size_t max_body;
    unsigned idle_timeout, read_timeout, max_conns, grace;
    const char **pols; /* npols policy paths, from argv */
    size_t npols;
    const char **jwt;  /* njwt "ISS=JWKS" arguments of --jwt-issuer, from argv */
    size_t njwt;
    const char *public_url; /* --public-url, or NULL */
    const char *cors_origin; /* --cors-origin; NULL: none */
} SrvOpts;

/* The server: everything the handlers share. */
typedef struct Srv {
    SrvOpts o;
    struct MHD_Daemon *d;
    Acceptor *acc;            /* the listening socket and its thread (serve_accept.h) */
    pthread_mutex_t gen_mu;   /* guards cur */
    Gen *cur;                 /* the current generation; one reference held here */
    unsigned long next_gen;   /* number for the next reload (main thread only) */
    Metrics m;
    Crd *crd;                 /* the CDS Hooks service (crd.h) */
    Auth *auth;               /* the EHRs' JWTs (serve_auth.h); NULL: not checked */
    atomic_bool stopping;     /* SIGTERM seen: answer with Connection: close */
    atomic_long inflight;     /* requests between their headers and their completion */
} Srv;

/* One request, from its headers to its completion (MHD's *con_cls). */
typedef struct Req {
    uint64_t t0;       /* monotonic microseconds at the headers */
    MetRoute route;
    char method[16];   /* printable copy, for the access log */
    char path[256];    /* printable copy, for the access log */
    char *body;        /* the body so far (malloc'ed), len of cap bytes */
    size_t len, cap;
    bool too_big;      /* the body passed --max-body: its bytes are dropped */
    bool timed_out;    /* the body took longer than --read-timeout */
    unsigned status;   /* the status answered; 0 while none */
    char why[160];     /* why a 401 was answered, for the access log */
    uint64_t records;  /* records evaluated */
    uint64_t us;       /* microseconds from headers to the response queued */
} Req;

/* ---- time and logging -------------------------------------------------- */

static uint64_t srv_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* "2026-12-06T01:02:03.456Z" (UTC, milliseconds) into buf (32 bytes). */
static void srv_timestamp(char *buf, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* Writes one JSON object line to stderr in a single write(2), so that
 * lines from several threads never interleave. obj is consumed. */
static void srv_log_json(json_t *obj)
{
    char ts[40];
    srv_timestamp(ts, sizeof ts);
    json_t *line = json_object();
    json_object_set_new(line, "time", json_string(ts));
    json_object_update(line, obj);
    json_decref(obj);
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (!text) return;
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps leaves the NUL; it becomes the newline */
    ssize_t w = write(STDERR_FILENO, text, n + 1);
    (void)w;
    free(text);
}

/* A server event ("listening", "reload", "stopping", ...) with one
 * optional message. */
static void srv_log_event(const char *event, const char *key, const char *msg)
{
    json_t *o = json_object();
    json_object_set_new(o, "event", json_string(event));
    if (key && msg) {
        json_t *m = json_string(msg);
        json_object_set_new(o, key, m ? m : json_string("(not UTF-8)"));
    }
    srv_log_json(o);
}

/* MHD's own messages, as events. */
static void srv_mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    srv_log_event("httpd", "message", msg);
}

/* Copies s into dst (n bytes) for the log: bytes outside printable ASCII
 * become '?', so the line stays valid JSON whatever the client sent. */
static void srv_printable(char *dst, size_t n, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < n; i++)
        dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    dst[i] = '\0';
}

static void srv_access_log(const Srv *s, const Req *q, bool aborted)
{
    (void)s;
    json_t *o = json_pack("{s:s,s:s,s:i,s:I,s:I}", "method", q->method, "path", q->path,
                          "status", (int)q->status, "records", (json_int_t)q->records, "us",
                          (json_int_t)q->us);
    if (!o) return;
    if (aborted) json_object_set_new(o, "aborted", json_true());
    if (q->why[0]) json_object_set_new(o, "auth", json_string(q->why));
    srv_log_json(o);
}

/* ---- generations --------------------------------------------------------- */

/* The current generation, with a reference for the caller. */
static Gen *srv_acquire(Srv *s)
{
    pthread_mutex_lock(&s->gen_mu);
    Gen *g = s->cur;
    gen_retain(g);
    pthread_mutex_unlock(&s->gen_mu);
    return g;
}

/* SIGHUP: builds the next generation from the files; on success it becomes
 * current and the old one is freed when its last request finishes. */
static void srv_reload(Srv *s)
{
    char err[1024] = "";
    if (s->auth) { /* the JWT keys first: rotated keys take effect with the policies */
        bool kok = auth_reload(s->auth, err, sizeof err);
        json_t *k = json_pack("{s:s,s:b}", "event", "keys", "ok", kok);
        if (k && !kok) json_object_set_new(k, "error", json_string(err));
        if (k) srv_log_json(k);
        err[0] = '\0';
    }
    Gen *g = gen_load(s->o.pols, s->o.npols, s->o.threads, s->next_gen, err, sizeof err);
    json_t *o = json_object();
    json_object_set_new(o, "event", json_string("reload"));
    json_object_set_new(o, "ok", json_boolean(g != NULL));
    if (!g) {
        atomic_fetch_add(&s->m.reloads_failed, 1);
        json_t *m = json_string(err);
        json_object_set_new(o, "error", m ? m : json_string("(not UTF-8)"));
        json_object_set_new(o, "kept_generation", json_integer((json_int_t)(s->next_gen - 1)));
        srv_log_json(o);
        return;
    }
    atomic_fetch_add(&s->m.reloads_ok, 1);
    s->next_gen++;
    pthread_mutex_lock(&s->gen_mu);
    Gen *old = s->cur;
    s->cur = g;
    pthread_mutex_unlock(&s->gen_mu);
    gen_release(old);
    json_object_set_new(o, "generation", json_integer((json_int_t)g->number));
    srv_log_json(o);
}

/* ---- responses ------------------------------------------------------------- */

/* Queues body (malloc'ed, taken over) with status. hname, hval: one more
 * header (Allow of a 405, WWW-Authenticate of a 401), or NULL. The CDS
 * services' answers carry the CORS header (--cors-origin). */
static enum MHD_Result srv_respond(Srv *s, struct MHD_Connection *c, Req *q, unsigned status,
                                   char *body, size_t len, const char *ctype, const char *hname,
                                   const char *hval)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (hname) MHD_add_response_header(r, hname, hval);
    if (q->route == MET_CDS && s->o.cors_origin)
        MHD_add_response_header(r, "Access-Control-Allow-Origin", s->o.cors_origin);
    if (atomic_load(&s->stopping)) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    q->status = status;
    q->us = srv_now_us() - q->t0;
    return ret;
}

/* A JSON error: {"status":N,"error":"message"}. */
static enum MHD_Result srv_error(Srv *s, struct MHD_Connection *c, Req *q, unsigned status,
                                 const char *msg, const char *hname, const char *hval)
{
    json_t *o = json_pack("{s:i,s:s}", "status", (int)status, "error", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) return MHD_NO;
    size_t n = strlen(text);
    text[n] = '\n';
    return srv_respond(s, c, q, status, text, n + 1, "application/json", hname, hval);
}

static enum MHD_Result srv_json(Srv *s, struct MHD_Connection *c, Req *q, unsigned status,
                                json_t *o, const char *ctype)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) return srv_error(s, c, q, 500, "out of memory", NULL, NULL);
    size_t n = strlen(text);
    text[n] = '\n';
    return srv_respond(s, c, q, status, text, n + 1, ctype, NULL, NULL);
}

/* ---- endpoints --------------------------------------------------------------- */

typedef struct SrvOut {
    char *p;
    size_t n, cap;
} SrvOut;

static bool srv_out_put(SrvOut *o, const char *s, size_t n)
{
    if (o->cap - o->n < n) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap - o->n < n) cap *= 2;
        char *np = realloc(o->p, cap);
        if (!np) return false;
        o->p = np;
        o->cap = cap;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    return true;
}

/* Whether the Content-Type names media (parameters such as charset
 * ignored). */
static bool srv_media_is(const char *ctype, const char *media)
{
    size_t k = strlen(media);
    while (*ctype == ' ' || *ctype == '\t') ctype++;
    if (strncasecmp(ctype, media, k) != 0) return false;
    char next = ctype[k];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* POST /v1/decide: one decision line per record, as pcrvm prints them. An
 * application/x-ndjson body is split at newlines exactly as pcrvm splits its
 * input (every line is a record, a last line without newline too); an
 * application/json body is one record. */
static enum MHD_Result srv_decide(Srv *s, struct MHD_Connection *c, Req *q)
{
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    bool one = ctype && srv_media_is(ctype, "application/json");
    if (q->len == 0)
        return srv_error(s, c, q, 400, "empty body: send JSON Lines request records", NULL, NULL);
    uint64_t by_kind[PCR_DEC_ERROR + 1] = {0};
    SrvOut out = {0};
    bool ok = true;
    Gen *g = srv_acquire(s);
    size_t ei = gen_checkout(g);
    pcr_engine *e = g->engines[ei];
    size_t start = 0;
    while (ok && start < q->len) {
        const char *nl = one ? NULL : memchr(q->body + start, '\n', q->len - start);
        size_t len = nl ? (size_t)(nl - (q->body + start)) : q->len - start;
        const char *text = NULL;
        size_t n = 0;
        pcr_decision_kind k = PCR_DEC_ERROR;
        pcr_engine_eval(e, q->body + start, len, ++q->records, &text, &n, &k);
        by_kind[k]++;
        ok = srv_out_put(&out, text, n);
        start += len + (nl != NULL);
    }
    gen_checkin(g, ei);
    unsigned long gnum = g->number;
    gen_release(g);
    for (int k = 0; k <= PCR_DEC_ERROR; k++)
        if (by_kind[k]) atomic_fetch_add(&s->m.decisions[k], by_kind[k]);
    atomic_fetch_add(&s->m.records, q->records);
    if (!ok) {
        free(out.p);
        return srv_error(s, c, q, 500, "out of memory", NULL, NULL);
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(out.n, out.p, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(out.p);
        return MHD_NO;
    }
    char gen[32];
    snprintf(gen, sizeof gen, "%lu", gnum);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
    MHD_add_response_header(r, "X-PCR-Generation", gen);
    if (atomic_load(&s->stopping)) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    q->status = 200;
    q->us = srv_now_us() - q->t0;
    return ret;
}

/* GET /v1/policies. */
static enum MHD_Result srv_policies(Srv *s, struct MHD_Connection *c, Req *q)
{
    Gen *g = srv_acquire(s);
    json_t *arr = json_array();
    for (size_t i = 0; i < g->npols; i++) {
        const GenPolicy *p = &g->pols[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(p->id));
        json_object_set_new(o, "version", json_string(p->version));
        json_object_set_new(o, "payer", json_string(p->payer));
        json_object_set_new(o, "effective_from", p->from[0] ? json_string(p->from) : json_null());
        json_object_set_new(o, "effective_through",
                            p->through[0] ? json_string(p->through) : json_null());
        json_object_set_new(o, "rules", json_integer((json_int_t)p->rules));
        json_object_set_new(o, "file", json_string(p->path));
        json_object_set_new(o, "bytes", json_integer((json_int_t)p->nbytes));
        json_object_set_new(o, "sha256", json_string(p->sha256));
        json_array_append_new(arr, o);
    }
    json_t *o = json_pack("{s:I,s:o}", "generation", (json_int_t)g->number, "policies", arr);
    gen_release(g);
    return srv_json(s, c, q, 200, o, "application/json");
}

/* GET /healthz: 200 while serving, 503 once stopping. */
static enum MHD_Result srv_healthz(Srv *s, struct MHD_Connection *c, Req *q)
{
    bool stopping = atomic_load(&s->stopping);
    Gen *g = srv_acquire(s);
    json_t *o = json_pack("{s:s,s:I,s:I}", "status", stopping ? "stopping" : "ok", "generation",
                          (json_int_t)g->number, "policies", (json_int_t)g->npols);
    gen_release(g);
    return srv_json(s, c, q, stopping ? 503 : 200, o, "application/json");
}

/* GET /metrics. */
static enum MHD_Result srv_metrics(Srv *s, struct MHD_Connection *c, Req *q)
{
    Gen *g = srv_acquire(s);
    size_t n = 0;
    char *text = met_render(&s->m, g, &n);
    gen_release(g);
    if (!text) return srv_error(s, c, q, 500, "out of memory", NULL, NULL);
    return srv_respond(s, c, q, 200, text, n, "text/plain; version=0.0.4; charset=utf-8", NULL, NULL);
}

/* ---- dispatch ---------------------------------------------------------------- */

/* The route of a path, and the method it takes ("GET" or "POST"); NULL
 * for a path we do not serve. */
static const char *srv_route(const char *url, MetRoute *route)
{
    static const struct {
        const char *path;
        MetRoute route;
        const char *method;
    } routes[] = {
        {"/v1/decide", MET_DECIDE, "POST"}, {"/v1/policies", MET_POLICIES, "GET"},
        {"/healthz", MET_HEALTHZ, "GET"},   {"/metrics", MET_METRICS, "GET"},
        {"/cds-services", MET_CDS, "GET"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(url, routes[i].path) == 0) {
            *route = routes[i].route;
            return routes[i].method;
        }
    const char *slash = strncmp(url, "/cds-services/", 14) == 0 && url[14] ? strchr(url + 14, '/')
                                                                           : NULL;
    if (strncmp(url, "/cds-services/", 14) == 0 && url[14] &&
        (!slash || (slash > url + 14 && strcmp(slash, "/feedback") == 0))) {
        *route = MET_CDS; /* a service, or its feedback */
        return "POST";
    }
    *route = MET_OTHER;
    return NULL;
}

/* OPTIONS on a CDS Hooks path: the CORS preflight of a browser EHR. */
static enum MHD_Result srv_preflight(Srv *s, struct MHD_Connection *c, Req *q, const char *method)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Access-Control-Allow-Origin", s->o.cors_origin);
    MHD_add_response_header(r, "Access-Control-Allow-Methods",
                            strcmp(method, "POST") == 0 ? "POST, OPTIONS" : "GET, OPTIONS");
    MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
    MHD_add_response_header(r, "Access-Control-Max-Age", "600");
    if (strcmp(s->o.cors_origin, "*") != 0) MHD_add_response_header(r, "Vary", "Origin");
    enum MHD_Result ret = MHD_queue_response(c, 204, r);
    MHD_destroy_response(r);
    q->status = 204;
    q->us = srv_now_us() - q->t0;
    return ret;
}

/* Checks what the headers alone decide: unknown path, wrong method, media
 * type, declared length. Returns true when it answered. */
static bool srv_reject_early(Srv *s, struct MHD_Connection *c, Req *q, const char *url,
                             const char *method, enum MHD_Result *ret)
{
    const char *want = srv_route(url, &q->route);
    if (!want) {
        *ret = srv_error(s, c, q, 404, "no such endpoint", NULL, NULL);
        return true;
    }
    if (q->route == MET_CDS && s->o.cors_origin && strcmp(method, "OPTIONS") == 0) {
        *ret = srv_preflight(s, c, q, want); /* CORS preflight: no token is sent with it */
        return true;
    }
    if (q->route == MET_CDS && s->auth) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!auth_check(s->auth, h, url, time(NULL), q->why, sizeof q->why)) {
            char www[256];
            snprintf(www, sizeof www, "Bearer realm=\"cds-services\"%s",
                     h ? ", error=\"invalid_token\"" : "");
            *ret = srv_error(s, c, q, 401, q->why, "WWW-Authenticate", www);
            return true;
        }
    }
    if (strcmp(method, want) != 0 && !(strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0)) {
        *ret = srv_error(s, c, q, 405, "method not allowed", MHD_HTTP_HEADER_ALLOW, want);
        return true;
    }
    if (strcmp(want, "POST") != 0) return false;
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    bool json = ctype && srv_media_is(ctype, "application/json");
    bool ndjson = ctype && srv_media_is(ctype, "application/x-ndjson");
    if (!json && !(ndjson && q->route == MET_DECIDE)) {
        *ret = srv_error(s, c, q, 415,
                         q->route == MET_DECIDE
                             ? "Content-Type must be application/x-ndjson or application/json"
                             : "Content-Type must be application/json",
                         NULL, NULL);
        return true;
    }
    const char *clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (clen) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(clen, &end, 10);
        if (errno == 0 && end != clen && n > s->o.max_body) {
            *ret = srv_error(s, c, q, 413, "request body too large", NULL, NULL);
            return true;
        }
    }
    return false;
}

/* Appends one piece of the body, dropping it once past --max-body. */
static void srv_take_body(Srv *s, Req *q, const char *data, size_t n)
{
    if (q->too_big || n > s->o.max_body - q->len) {
        q->too_big = true;
        return;
    }
    if (q->cap - q->len < n) {
        size_t cap = q->cap ? q->cap : 16384;
        while (cap - q->len < n) cap *= 2;
        char *nb = realloc(q->body, cap);
        if (!nb) {
            q->too_big = true;
            return;
        }
        q->body = nb;
        q->cap = cap;
    }
    memcpy(q->body + q->len, data, n);
    q->len += n;
}

static enum MHD_Result srv_handle(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    Srv *s = cls;
    Req *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q) return MHD_NO;
        q->t0 = srv_now_us();
        srv_printable(q->method, sizeof q->method, method);
        srv_printable(q->path, sizeof q->path, url);
        *con_cls = q;
        atomic_fetch_add(&s->inflight, 1);
        enum MHD_Result ret = MHD_YES;
        if (srv_reject_early(s, c, q, url, method, &ret)) return ret;
        return MHD_YES;
    }
    if (q->status) { /* answered at the headers; the body is dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (srv_now_us() - q->t0 > (uint64_t)s->o.read_timeout * 1000000u) {
            q->timed_out = true;
            q->status = 408;
            return MHD_NO; /* closes the connection */
        }
        srv_take_body(s, q, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_big) return srv_error(s, c, q, 413, "request body too large", NULL, NULL);
    switch (q->route) {
    case MET_DECIDE: return srv_decide(s, c, q);
    case MET_POLICIES: return srv_policies(s, c, q);
    case MET_HEALTHZ: return srv_healthz(s, c, q);
    case MET_METRICS: return srv_metrics(s, c, q);
    case MET_CDS: {
        CrdReply r = {0};
        const char *fb = strchr(url + 14, '/');
        if (strcmp(url, "/cds-services") == 0) {
            crd_discovery(s->crd, &r);
        } else if (fb) { /* /cds-services/{id}/feedback */
            char id[256];
            snprintf(id, sizeof id, "%.*s", (int)(fb - (url + 14)), url + 14);
            crd_feedback(s->crd, id, q->body, q->len, &r);
            json_t *items = r.note ? json_loads(r.note, 0, NULL) : NULL;
            if (items)
                srv_log_json(json_pack("{s:s,s:s,s:o}", "event", "feedback", "service", id,
                                       "feedback", items));
            free(r.note);
        } else {
            Gen *g = srv_acquire(s);
            size_t ei = gen_checkout(g);
            crd_service(s->crd, url + 14, g->engines[ei], q->body, q->len, &r);
            gen_checkin(g, ei);
            gen_release(g);
        }
        q->records = r.records;
        atomic_fetch_add(&s->m.records, r.records);
        for (int k = 0; k <= PCR_DEC_ERROR; k++)
            if (r.by_kind[k]) atomic_fetch_add(&s->m.decisions[k], r.by_kind[k]);
        if (!r.body) return srv_error(s, c, q, 500, "out of memory", NULL, NULL);
        return srv_respond(s, c, q, r.status, r.body, r.len, "application/json", NULL, NULL);
    }
    case MET_OTHER:
    case MET_NROUTES: break;
    }
    return srv_error(s, c, q, 404, "no such endpoint", NULL, NULL);
}

/* Every request ends here, answered or not: counted, logged, freed. */
static void srv_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    (void)c;
    Srv *s = cls;
    Req *q = *con_cls;
    if (!q) return;
    if (!q->us) q->us = srv_now_us() - q->t0;
    met_request(&s->m, q->route, q->status, q->us);
    srv_access_log(s, q, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    free(q->body);
    free(q);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

/* ---- options ----------------------------------------------------------------- */

static int srv_fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "pcrvm serve: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return SRV_EXIT_USAGE;
}

/* "ADDR:PORT", "[V6ADDR]:PORT", ":PORT" or "*:PORT" (any address). */
static bool srv_parse_listen(const char *a, SrvOpts *o)
{
    const char *colon = strrchr(a, ':');
    if (!colon) return false;
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port > 65535) return false;
    char host[64];
    size_t hn = (size_t)(colon - a);
    if (hn >= sizeof host) return false;
    memcpy(host, a, hn);
    host[hn] = '\0';
    memset(&o->addr, 0, sizeof o->addr);
    if (hn >= 2 && host[0] == '[' && host[hn - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->addr;
        host[hn - 1] = '\0';
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        o->addrlen = sizeof *s6;
        return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)&o->addr;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    o->addrlen = sizeof *s4;
    if (hn == 0 || strcmp(host, "*") == 0) {
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        return true;
    }
    return inet_pton(AF_INET, host, &s4->sin_addr) == 1;
}

static bool srv_parse_num(const char *a, unsigned long long lo, unsigned long long hi,
                          unsigned long long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(a, &end, 10);
    if (errno || end == a || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* Returns -1 when the options are good, else an exit status. */
static int srv_parse(int argc, char **argv, SrvOpts *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cpus > 0 && cpus < SRV_MAX_THREADS ? (unsigned)cpus : 1;
    o->max_body = 16u << 20;
    o->idle_timeout = 15;
    o->read_timeout = 30;
    o->max_conns = 1024;
    o->grace = 30;
    srv_parse_listen("127.0.0.1:8080", o);
    o->cors_origin = "*";
    o->pols = calloc((size_t)argc, sizeof *o->pols);
    o->jwt = calloc((size_t)argc, sizeof *o->jwt);
    if (!o->pols || !o->jwt) return SRV_EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned long long v = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(srv_usage, stdout);
            return SRV_EXIT_OK;
        }
        if (a[0] != '-') {
            if (o->npols == SRV_MAX_POLICIES) return srv_fail("%s", "too many policies");
            o->pols[o->npols++] = a;
            continue;
        }
        if (i + 1 == argc) return srv_fail("%s needs an argument (pcrvm serve --help)", a);
        const char *v_arg = argv[++i];
        if (strcmp(a, "--listen") == 0) {
            if (!srv_parse_listen(v_arg, o))
                return srv_fail("--listen: '%s' is not ADDR:PORT (e.g. 127.0.0.1:8080)", v_arg);
        } else if (strcmp(a, "--threads") == 0) {
            if (!srv_parse_num(v_arg, 1, SRV_MAX_THREADS, &v))
                return srv_fail("--threads: '%s' is not a number from 1 to 256", v_arg);
            o->threads = (unsigned)v;
        } else if (strcmp(a, "--max-body") == 0) {
            if (!srv_parse_num(v_arg, 1, 1ull << 30, &v))
                return srv_fail("--max-body: '%s' is not a byte count from 1 to 2^30", v_arg);
            o->max_body = (size_t)v;
        } else if (strcmp(a, "--idle-timeout") == 0 || strcmp(a, "--read-timeout") == 0 ||
                   strcmp(a, "--grace") == 0) {
            if (!srv_parse_num(v_arg, 1, 3600, &v))
                return srv_fail("'%s' is not a number of seconds from 1 to 3600", v_arg);
            if (a[2] == 'i') o->idle_timeout = (unsigned)v;
            else if (a[2] == 'r') o->read_timeout = (unsigned)v;
            else o->grace = (unsigned)v;
        } else if (strcmp(a, "--jwt-issuer") == 0) {
            const char *eq = strrchr(v_arg, '=');
            if (!eq || eq == v_arg || !eq[1])
                return srv_fail("--jwt-issuer: '%s' is not ISS=JWKS_FILE", v_arg);
            o->jwt[o->njwt++] = v_arg;
        } else if (strcmp(a, "--public-url") == 0) {
            if (strncmp(v_arg, "https://", 8) != 0 && strncmp(v_arg, "http://", 7) != 0)
                return srv_fail("--public-url: '%s' is not an http(s) URL", v_arg);
            o->public_url = v_arg;
        } else if (strcmp(a, "--cors-origin") == 0) {
            o->cors_origin = strcmp(v_arg, "none") == 0 ? NULL : v_arg;
        } else if (strcmp(a, "--max-connections") == 0) {
            if (!srv_parse_num(v_arg, 1, 100000, &v))
                return srv_fail("--max-connections: '%s' is not a number from 1 to 100000", v_arg);
            o->max_conns = (unsigned)v;
        } else {
            return srv_fail("unknown option '%s' (pcrvm serve --help shows the usage)", a);
        }
    }
    if (o->npols == 0) return srv_fail("%s", "no policy given (pcrvm serve --help)");
    if (o->njwt && !o->public_url)
        return srv_fail("%s", "--jwt-issuer needs --public-url (the JWT's aud is checked)");
    return -1;
}

/* ---- signals ------------------------------------------------------------------- */

/* The write end of the self-pipe. The one piece of global mutable state:
 * a signal handler is given no context, so it can only reach the server
 * through a global. Set once before the handlers are installed. */
static int srv_signal_fd = -1;

static void srv_on_signal(int sig)
{
    int saved = errno;
    char byte = sig == SIGHUP ? 'H' : 'T';
    ssize_t w = write(srv_signal_fd, &byte, 1);
    (void)w;
    errno = saved;
}

/* Waits for signals and acts on them; returns after SIGTERM or SIGINT. */
static void srv_wait_signals(Srv *s, int rfd)
{
    for (;;) {
        char byte;
        ssize_t r = read(rfd, &byte, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || byte == 'T') return;
        srv_reload(s);
    }
}

/* Stops accepting, waits (at most --grace seconds) for the requests in
 * flight, then stops the daemon. */
static void srv_shutdown(Srv *s)
{
    atomic_store(&s->stopping, true);
    srv_log_event("stopping", NULL, NULL);
    acc_stop(s->acc); /* the listening socket closed: new connections are refused */
    uint64_t deadline = srv_now_us() + (uint64_t)s->o.grace * 1000000u;
    while (atomic_load(&s->inflight) > 0 && srv_now_us() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    long left = atomic_load(&s->inflight);
    MHD_stop_daemon(s->d);
    s->d = NULL;
    char msg[64];
    snprintf(msg, sizeof msg, "%ld requests cut off", left);
    srv_log_event("stopped", left ? "warning" : NULL, left ? msg : NULL);
}

/* The JWT checker of --jwt-issuer (keys read now), or a warning that the
 * CDS services are open. */
static bool srv_auth_setup(Srv *s, char *err, size_t errlen)
{
    if (s->o.njwt == 0) {
        srv_log_event("warning", "message",
                      "the CDS services do not authenticate the EHR (no --jwt-issuer): "
                      "anyone who can reach this port can call them");
        return true;
    }
    s->auth = auth_new(s->o.public_url);
    if (!s->auth) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (size_t i = 0; i < s->o.njwt; i++) {
        const char *eq = strrchr(s->o.jwt[i], '=');
        char iss[1024];
        size_t n = (size_t)(eq - s->o.jwt[i]);
        if (n >= sizeof iss) n = sizeof iss - 1;
        memcpy(iss, s->o.jwt[i], n);
        iss[n] = '\0';
        if (!auth_add_issuer(s->auth, iss, eq + 1)) {
            snprintf(err, errlen, "--jwt-issuer: '%.200s' is given twice (or too many issuers)", iss);
            return false;
        }
    }
    return auth_reload(s->auth, err, errlen);
}

static struct MHD_Daemon *srv_start(Srv *s)
{
    /* no listening socket of MHD's own: serve_accept.c accepts and hands
     * the connections over, spread over the workers */
    return MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET,
        0, NULL, NULL, srv_handle, s, MHD_OPTION_EXTERNAL_LOGGER, srv_mhd_logger, NULL,
        MHD_OPTION_THREAD_POOL_SIZE,
        s->o.threads > 1 ? s->o.threads : 0u, /* 0: the polling thread is the one worker */
        MHD_OPTION_CONNECTION_TIMEOUT, s->o.idle_timeout,
        MHD_OPTION_CONNECTION_LIMIT, s->o.max_conns,
        MHD_OPTION_NOTIFY_COMPLETED, srv_completed, s, MHD_OPTION_END);
}

int serve_main(int argc, char **argv)
{
    Srv s;
    memset(&s, 0, sizeof s);
    int st = srv_parse(argc, argv, &s.o);
    if (st >= 0) {
        free(s.o.pols);
        free(s.o.jwt);
        return st;
    }
    signal(SIGPIPE, SIG_IGN);
    char err[1024] = "";
    s.cur = gen_load(s.o.pols, s.o.npols, s.o.threads, 1, err, sizeof err);
    if (!s.cur) {
        free(s.o.pols);
        free(s.o.jwt);
        return srv_fail("%s", err);
    }
    s.next_gen = 2;
    if (!srv_auth_setup(&s, err, sizeof err)) {
        gen_release(s.cur);
        auth_free(s.auth);
        free(s.o.pols);
        free(s.o.jwt);
        return srv_fail("%s", err);
    }
    s.crd = crd_new();
    pthread_mutex_init(&s.gen_mu, NULL);
    int pfd[2];
    if (!s.crd || pipe(pfd) != 0) {
        gen_release(s.cur);
        crd_free(s.crd);
    auth_free(s.auth);
        free(s.o.pols);
        free(s.o.jwt);
        return srv_fail("%s", "cannot set up (out of memory or file descriptors)");
    }
    fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
    fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
    fcntl(pfd[1], F_SETFL, O_NONBLOCK);
    srv_signal_fd = pfd[1];
    /* The worker threads start with these signals blocked, so that they
     * are delivered to the main thread, which waits on the pipe. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    unsigned port = 0;
    s.acc = acc_open((struct sockaddr *)&s.o.addr, s.o.addrlen, &port, err, sizeof err);
    s.d = s.acc ? srv_start(&s) : NULL;
    if (s.d && !acc_start(s.acc, s.d)) {
        MHD_stop_daemon(s.d);
        s.d = NULL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = srv_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!s.acc) {
        st = srv_fail("%s (in use, or not this host's?)", err);
    } else if (!s.d) {
        st = srv_fail("%s", "cannot start the HTTP workers");
    } else {
        char addr[INET6_ADDRSTRLEN + 16] = "?";
        char host[INET6_ADDRSTRLEN] = "?";
        if (s.o.addr.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&s.o.addr)->sin6_addr, host, sizeof host);
            snprintf(addr, sizeof addr, "[%s]:%u", host, port);
        } else {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&s.o.addr)->sin_addr, host, sizeof host);
            snprintf(addr, sizeof addr, "%s:%u", host, port);
        }
        json_t *o = json_pack("{s:s,s:s,s:i,s:I,s:I}", "event", "listening", "listen", addr,
                              "threads", (int)s.o.threads, "policies", (json_int_t)s.cur->npols,
                              "generation", (json_int_t)1);
        if (o) srv_log_json(o);
        srv_wait_signals(&s, pfd[0]);
        srv_shutdown(&s);
        st = SRV_EXIT_OK;
    }
    acc_free(s.acc);
    srv_signal_fd = -1;
    close(pfd[0]);
    close(pfd[1]);
    gen_release(s.cur);
    crd_free(s.crd);
    auth_free(s.auth);
    pthread_mutex_destroy(&s.gen_mu);
    free(s.o.pols);
        free(s.o.jwt);
    return st;
}
