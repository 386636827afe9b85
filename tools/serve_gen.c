/* serve_gen.c: loading a generation of policies and its engine pool
 * (serve_gen.h). */
#include "serve_gen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


enum { GEN_MAX_FILE = 256 << 20 };

static bool gen_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Reads a whole file into *buf (malloc'ed). */
static bool gen_read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *nb = cap < GEN_MAX_FILE ? realloc(b, cap * 2) : NULL;
            if (!nb) free(b);
            b = nb;
            cap *= 2;
        }
    }
    bool ok = b && !ferror(f);
    fclose(f);
    if (!ok) {
        free(b);
        snprintf(err, errlen, "%s: cannot read the file", path);
        return false;
    }
    *buf = b;
    *len = n;
    return true;
}

/* The .pcrb bytes of one policy file: the file itself, or a .pcr compiled
 * and saved. */
static bool gen_policy_bytes(const char *path, uint8_t **buf, size_t *len, char *err,
                             size_t errlen)
{
    if (!gen_ends_with(path, ".pcr")) return gen_read_file(path, buf, len, err, errlen);
    pcr_policy *p = NULL;
    pcr_diags *d = NULL;
    /* `use std.*` resolves from the standard library, found as pcrvm finds it */
    char stdlib[4096];
    pcr_compile_opts co = {.stdlib_dir = pcr_find_stdlib_dir(stdlib, sizeof stdlib)};
    pcr_status st = pcr_compile_file(path, &co, &p, &d);
    if (st != PCR_OK) {
        const pcr_diag *first = NULL;
        for (size_t i = 0; d && i < pcr_diags_count(d) && !first; i++)
            if (pcr_diags_get(d, i)->severity == PCR_SEV_ERROR) first = pcr_diags_get(d, i);
        if (first)
            snprintf(err, errlen, "%s:%u:%u: %s", pcr_diags_file(d, first->span.file),
                     (unsigned)first->span.line, (unsigned)first->span.col, first->message);
        else
            snprintf(err, errlen, "%s: the policy cannot be compiled", path);
        pcr_diags_free(d);
        return false;
    }
    pcr_diags_free(d);
    st = pcr_policy_save(p, buf, len);
    pcr_policy_free(p);
    if (st != PCR_OK) snprintf(err, errlen, "%s: cannot serialize the policy", path);
    return st == PCR_OK;
}

static char *gen_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

static void gen_free(Gen *g)
{
    for (size_t i = 0; i < g->npols; i++) {
        free(g->pols[i].path);
        free(g->pols[i].id);
        free(g->pols[i].version);
        free(g->pols[i].payer);
    }
    for (size_t i = 0; i < g->nengines; i++) pcr_engine_free(g->engines[i]);
    free(g->pols);
    free(g->engines);
    free(g->idle);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

/* Fills the facts of policy i from its first loaded copy. */
static bool gen_describe(GenPolicy *gp, const char *path, const pcr_policy *p, size_t len)
{
    gp->path = gen_strdup(path);
    gp->id = gen_strdup(pcr_policy_id(p));
    gp->version = gen_strdup(pcr_policy_version(p));
    gp->payer = gen_strdup(pcr_policy_payer(p));
    pcr_policy_window(p, gp->from, gp->through);
    gp->rules = pcr_policy_rule_count(p);
    gp->nbytes = len;
    pcr_policy_sha256(p, gp->sha256); /* of the bytes loaded: what sha256sum prints */
    return gp->path && gp->id && gp->version && gp->payer;
}

Gen *gen_load(const char *const *paths, size_t npaths, size_t nengines, unsigned long number,
              char *err, size_t errlen)
{
    Gen *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    atomic_init(&g->refs, 1);
    g->number = number;
    g->pols = calloc(npaths ? npaths : 1, sizeof *g->pols);
    g->engines = calloc(nengines, sizeof *g->engines);
    g->idle = calloc(nengines, sizeof *g->idle);
    bool ok = g->pols && g->engines && g->idle;
    if (!ok) snprintf(err, errlen, "out of memory");
    for (size_t i = 0; ok && i < nengines; i++) {
        ok = (g->engines[i] = pcr_engine_new()) != NULL;
        g->nengines += ok;
        if (ok) g->idle[g->nidle++] = i;
    }
    for (size_t k = 0; ok && k < npaths; k++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        ok = gen_policy_bytes(paths[k], &bytes, &len, err, errlen);
        /* One verified copy per engine: policies are owned by their engine. */
        for (size_t i = 0; ok && i < nengines; i++) {
            pcr_policy *p = NULL;
            char why[400];
            if (pcr_policy_load(bytes, len, &p, why, sizeof why) != PCR_OK) {
                snprintf(err, errlen, "%s: %s", paths[k], why);
                ok = false;
                break;
            }
            if (i == 0 && !gen_describe(&g->pols[g->npols++], paths[k], p, len)) {
                snprintf(err, errlen, "out of memory");
                pcr_policy_free(p);
                ok = false;
                break;
            }
            if (pcr_engine_add(g->engines[i], p, why, sizeof why) != PCR_OK) {
                snprintf(err, errlen, "%s: %s", paths[k], why);
                pcr_policy_free(p);
                ok = false;
            }
        }
        free(bytes);
    }
    if (!ok) {
        gen_free(g);
        return NULL;
    }
    return g;
}

void gen_retain(Gen *g) { atomic_fetch_add(&g->refs, 1); }

void gen_release(Gen *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1) gen_free(g);
}

size_t gen_checkout(Gen *g)
{
    pthread_mutex_lock(&g->mu);
    while (g->nidle == 0) pthread_cond_wait(&g->cv, &g->mu);
    size_t idx = g->idle[--g->nidle];
    pthread_mutex_unlock(&g->mu);
    return idx;
}

void gen_checkin(Gen *g, size_t idx)
{
    pthread_mutex_lock(&g->mu);
    g->idle[g->nidle++] = idx;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
}
