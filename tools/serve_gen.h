/* serve_gen.h: a generation of loaded policies for `pcrvm serve`.
 *
 * A generation is everything loaded from the policy files at one time: the
 * facts reported by GET /v1/policies (id, version, payer, window, SHA-256 of
 * the .pcrb bytes) and a pool of engines, one per worker thread, each built
 * from the same verified bytes (engines are not thread-safe). A request
 * takes a reference to the current generation and checks an engine out of
 * it; a reload (SIGHUP) builds a new generation beside the old one, which is
 * freed when its last reference is dropped. */
#ifndef PCR_TOOLS_SERVE_GEN_H
#define PCR_TOOLS_SERVE_GEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "pcr/pcr.h"

typedef struct GenPolicy {
    char *path;                  /* as given on the command line; owned */
    char *id, *version, *payer;  /* owned copies */
    char from[11], through[11];  /* effective window; "" for an open end */
    size_t rules;                /* number of rules */
    size_t nbytes;               /* size of the .pcrb bytes */
    char sha256[65];             /* of the .pcrb bytes (compiled ones for a .pcr) */
} GenPolicy;

typedef struct Gen {
    unsigned long number;     /* 1 for the first load, +1 per successful reload */
    GenPolicy *pols;          /* npols, in command-line order; owned */
    size_t npols;
    pcr_engine **engines;     /* nengines, each with every policy; owned */
    size_t nengines;
    size_t *idle;             /* stack of indices of engines not checked out */
    size_t nidle;
    pthread_mutex_t mu;       /* guards idle, nidle */
    pthread_cond_t cv;        /* signalled when an engine is checked in */
    atomic_size_t refs;       /* holders; the generation is freed at zero */
} Gen;

/* Loads the policy files (.pcrb verified, .pcr compiled) into a new
 * generation with nengines engines and one reference (the caller's). On
 * failure returns NULL and writes one line naming the file and the problem
 * into err. */
Gen *gen_load(const char *const *paths, size_t npaths, size_t nengines, unsigned long number,
              char *err, size_t errlen);

/* Takes a reference. */
void gen_retain(Gen *g);
/* Drops a reference; the last one frees the generation. */
void gen_release(Gen *g);

/* Checks an engine out, waiting while all are in use; returns its index.
 * The engine is the caller's alone until gen_checkin. */
size_t gen_checkout(Gen *g);
void gen_checkin(Gen *g, size_t idx);

#endif
