/* diag.h: collecting diagnostics during a compile.
 *
 * A Diags owns the text of every source file read during the compile (so the
 * printer can show the offending line) and the list of diagnostics, in the
 * order they were reported. It is the public pcr_diags. Messages are copied.
 *
 * Codes are stable strings: E0xx lexer and parser, E1xx modules and names,
 * E2xx types, E3xx code sets and values, E4xx rules and tests, W5xx checker warnings,
 * W6xx lints (lint.h).
 * docs/diagnostics.md lists them all. */
#ifndef PCR_DIAG_H
#define PCR_DIAG_H

#include <stdarg.h>

#include "pcr/pcr.h"

typedef pcr_span Loc;

typedef struct SrcFile {
    char *path; /* as opened */
    char *text; /* whole file, NUL-terminated (owned) */
    size_t len;
    /* Nonzero: the only line of this file a diagnostic may quote. Set for
     * a module that failed to parse, so a file that is not PCR (a secret
     * reached by mistake) shows at most its first offending line. */
    uint32_t quote_only_line;
} SrcFile;

enum { DIAG_MAX_KEPT = 200 }; /* diagnostics kept; later ones are only counted */

struct pcr_diags {
    pcr_diag *v; /* owned; message strings owned; at most DIAG_MAX_KEPT */
    size_t n, cap;
    size_t nerrors;  /* every error reported, kept or not */
    size_t dropped;  /* diagnostics reported after the first DIAG_MAX_KEPT */
    pcr_diag sink;   /* what diag_report returns once full (messages owned) */
    SrcFile *files;
    uint32_t nfiles, capfiles;
};
typedef struct pcr_diags Diags;

Diags *diags_new(void);
/* Registers a source; takes ownership of text (xmalloc'ed, NUL-terminated).
 * Returns its file index. */
uint32_t diags_add_file(Diags *d, const char *path, char *text, size_t len);

/* Reports a diagnostic; fmt is printf-style. Returns the new diagnostic so a
 * caller can attach a related span with diag_related(). Past DIAG_MAX_KEPT
 * the diagnostic is counted (in nerrors too) but not kept: a source with
 * thousands of errors costs no more than its first ones. */
pcr_diag *diag_report(Diags *d, pcr_severity sev, const char *code, Loc at, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
pcr_diag *diag_error(Diags *d, const char *code, Loc at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_related(Diags *d, pcr_diag *g, Loc at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* True once DIAG_MAX_KEPT diagnostics are kept: costly hints (did you
 * mean) can be skipped, since nothing more will be shown. */
bool diag_full(const Diags *d);

/* The candidate closest to name by edit distance (at most 2 edits, or 1 for
 * names of 3 characters or fewer), or NULL: for "did you mean" hints. */
const char *diag_nearest(const char *name, const char *const *candidates, size_t n);

#endif
