/* diag.c: diagnostics as data, and their printer. */
#include "diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "near.h"

Diags *diags_new(void) { return xcalloc(1, sizeof(Diags)); }

uint32_t diags_add_file(Diags *d, const char *path, char *text, size_t len)
{
    if (d->nfiles == d->capfiles) {
        d->capfiles = d->capfiles ? d->capfiles * 2 : 4;
        d->files = xrealloc(d->files, d->capfiles * sizeof *d->files);
    }
    SrcFile *f = &d->files[d->nfiles];
    f->path = xstrndup(path, strlen(path));
    f->text = text;
    f->len = len;
    f->quote_only_line = 0;
    return d->nfiles++;
}

static char *vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *s = xmalloc((size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static void diag_clear(pcr_diag *g)
{
    free((char *)g->message);
    free((char *)g->related_message);
    memset(g, 0, sizeof *g);
}

bool diag_full(const Diags *d) { return d->n >= DIAG_MAX_KEPT; }

static pcr_diag *vreport(Diags *d, pcr_severity sev, const char *code, Loc at, const char *fmt,
                         va_list ap)
{
    if (sev == PCR_SEV_ERROR) d->nerrors++;
    if (diag_full(d)) { /* counted, not kept: the caller may still attach a note */
        d->dropped++;
        diag_clear(&d->sink);
        return &d->sink;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->v = xrealloc(d->v, d->cap * sizeof *d->v);
    }
    pcr_diag *g = &d->v[d->n++];
    memset(g, 0, sizeof *g);
    g->severity = sev;
    g->code = code;
    g->span = at;
    g->message = vformat(fmt, ap);
    return g;
}

pcr_diag *diag_report(Diags *d, pcr_severity sev, const char *code, Loc at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pcr_diag *g = vreport(d, sev, code, at, fmt, ap);
    va_end(ap);
    return g;
}

pcr_diag *diag_error(Diags *d, const char *code, Loc at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pcr_diag *g = vreport(d, PCR_SEV_ERROR, code, at, fmt, ap);
    va_end(ap);
    return g;
}

void diag_related(Diags *d, pcr_diag *g, Loc at, const char *fmt, ...)
{
    (void)d;
    va_list ap;
    va_start(ap, fmt);
    free((char *)g->related_message);
    g->has_related = true;
    g->related = at;
    g->related_message = vformat(fmt, ap);
    va_end(ap);
}

const char *diag_nearest(const char *name, const char *const *candidates, size_t n)
{
    long i = near_best(name, strlen(name), candidates, n);
    return i < 0 ? NULL : candidates[i];
}

/* ---- public accessors and printer ---- */

size_t pcr_diags_count(const pcr_diags *d) { return d ? d->n : 0; }
size_t pcr_diags_errors(const pcr_diags *d) { return d ? d->nerrors : 0; }
size_t pcr_diags_dropped(const pcr_diags *d) { return d ? d->dropped : 0; }
const pcr_diag *pcr_diags_get(const pcr_diags *d, size_t i) { return d && i < d->n ? &d->v[i] : NULL; }
const char *pcr_diags_file(const pcr_diags *d, uint32_t file)
{
    return d && file < d->nfiles ? d->files[file].path : "<unknown>";
}

/* Finds the text of 1-based line `line` in f; sets *len. NULL if absent. */
static const char *line_text(const SrcFile *f, uint32_t line, size_t *len)
{
    const char *p = f->text, *end = f->text + f->len;
    for (uint32_t l = 1; l < line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return NULL;
        p = nl + 1;
    }
    if (p > end || (p == end && line > 1 && p[-1] == '\n')) return NULL;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *len = (size_t)((nl ? nl : end) - p);
    if (*len && p[*len - 1] == '\r') (*len)--;
    return p;
}

enum { SNIPPET_WIDTH = 120 }; /* bytes of a long source line shown around the column */

static bool utf8_cont(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

/* The source line, then a caret under the span. A line longer than
 * SNIPPET_WIDTH is shown as a window around the column, with "..." where
 * it was cut (never inside a UTF-8 sequence). */
static void print_snippet(const pcr_diags *d, FILE *out, const pcr_span *s, bool color)
{
    if (s->file >= d->nfiles || s->line == 0) return;
    uint32_t only = d->files[s->file].quote_only_line;
    if (only && s->line != only) return;
    size_t len;
    const char *text = line_text(&d->files[s->file], s->line, &len);
    if (!text) return;
    uint32_t col = s->col ? s->col : 1;
    uint32_t end = (s->end_line == s->line && s->end_col >= col) ? s->end_col : col;
    if (s->end_line > s->line) end = (uint32_t)len > col ? (uint32_t)len : col;
    size_t from = 0, to = len;
    if (len > SNIPPET_WIDTH) {
        size_t at = col - 1 < len ? col - 1 : len;
        from = at > SNIPPET_WIDTH / 4 ? at - SNIPPET_WIDTH / 4 : 0;
        if (from > len - SNIPPET_WIDTH) from = len - SNIPPET_WIDTH;
        to = from + SNIPPET_WIDTH;
        while (from > 0 && utf8_cont(text[from])) from--;
        while (to < len && utf8_cont(text[to])) to++;
    }
    const char *pre = from > 0 ? "..." : "";
    int w = snprintf(NULL, 0, "%u", s->line);
    if (w < 5) w = 5;
    fprintf(out, "%*u | %s", w, s->line, pre);
    for (size_t i = from; i < to; i++) fputc(text[i] == '\t' ? ' ' : text[i], out);
    if (to < len) fputs("...", out);
    fprintf(out, "\n%*s | ", w, "");
    if (end > to && to >= col) end = (uint32_t)to;
    for (size_t i = 0; i < strlen(pre) + (col - 1 - from); i++) fputc(' ', out);
    if (color) fputs("\033[1;32m", out);
    fputc('^', out);
    for (uint32_t i = col; i < end; i++) fputc('~', out);
    if (color) fputs("\033[0m", out);
    fputc('\n', out);
}

static const char *sev_name(pcr_severity s)
{
    return s == PCR_SEV_ERROR ? "error" : s == PCR_SEV_WARNING ? "warning" : "note";
}

void pcr_diags_print(const pcr_diags *d, FILE *out, bool color)
{
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        const pcr_diag *g = &d->v[i];
        const char *sc = g->severity == PCR_SEV_ERROR ? "\033[1;31m" : "\033[1;35m";
        fprintf(out, "%s:%u:%u: %s%s%s[%s]: %s\n", pcr_diags_file(d, g->span.file), g->span.line,
                g->span.col, color ? sc : "", sev_name(g->severity), color ? "\033[0m" : "",
                g->code, g->message);
        print_snippet(d, out, &g->span, color);
        if (g->has_related) {
            fprintf(out, "%s:%u:%u: note: %s\n", pcr_diags_file(d, g->related.file),
                    g->related.line, g->related.col, g->related_message);
            print_snippet(d, out, &g->related, color);
        }
    }
    if (d->dropped)
        fprintf(out, "%zu more diagnostic%s not shown (the first %d are kept)\n", d->dropped,
                d->dropped == 1 ? "" : "s", DIAG_MAX_KEPT);
}

void pcr_diags_free(pcr_diags *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        free((char *)d->v[i].message);
        free((char *)d->v[i].related_message);
    }
    diag_clear(&d->sink);
    for (uint32_t i = 0; i < d->nfiles; i++) {
        free(d->files[i].path);
        free(d->files[i].text);
    }
    free(d->v);
    free(d->files);
    free(d);
}
