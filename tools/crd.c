/* crd.c: CDS Hooks services (crd.h). */
#include "crd.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct Crd {
    int unused;
};

Crd *crd_new(void) { return calloc(1, sizeof(Crd)); }
void crd_free(Crd *c) { free(c); }

static void crd_reply(CrdReply *r, unsigned status, json_t *o)
{
    r->status = status;
    r->body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    r->len = r->body ? strlen(r->body) : 0;
    json_decref(o);
}

void crd_discovery(Crd *c, CrdReply *r)
{
    (void)c;
    crd_reply(r, 200, json_pack("{s:[]}", "services"));
}

void crd_service(Crd *c, const char *id, pcr_engine *e, const char *body, size_t len,
                 CrdReply *r)
{
    (void)c, (void)e, (void)body, (void)len;
    crd_reply(r, 404, json_pack("{s:i,s:s,s:s}", "status", 404, "error", "no such CDS service", "service", id));
}
