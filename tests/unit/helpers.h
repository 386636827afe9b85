/* helpers.h: small shared helpers for the Criterion tests.
 *
 * th_std_prog() builds, by hand, a Prog whose schema is the standard request
 * schema (policies/std/request.pcr) so that the decoder, VM and bytecode
 * tests can run without the front end. th_str() interns a string. Rules,
 * sets and code are added by each test. Everything is static: include this
 * header from one test file per binary. */
#ifndef PCR_TEST_HELPERS_H
#define PCR_TEST_HELPERS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pcr/pcr.h"
#include "prog.h"

/* Appends a string to p's table (no dedup) and returns its index. */
static inline uint32_t th_str(Prog *p, const char *s)
{
    uint32_t i = p->nstrs++;
    p->strs = realloc(p->strs, p->nstrs * sizeof *p->strs);
    p->strlens = realloc(p->strlens, p->nstrs * sizeof *p->strlens);
    p->strs[i] = arena_strndup(&p->arena, s, strlen(s));
    p->strlens[i] = (uint32_t)strlen(s);
    return i;
}

static inline uint32_t th_ref(Prog *p, uint32_t v)
{
    uint32_t i = p->nrefs++;
    p->refs = realloc(p->refs, p->nrefs * sizeof *p->refs);
    p->refs[i] = v;
    return i;
}

static inline uint32_t th_field(Prog *p, const char *name, ValType t, unsigned flags)
{
    uint32_t i = p->nfields++;
    p->fields = realloc(p->fields, p->nfields * sizeof *p->fields);
    PField *f = &p->fields[i];
    memset(f, 0, sizeof *f);
    f->name = th_str(p, name);
    f->type = (uint8_t)t;
    f->flags = (uint8_t)flags;
    f->tag_field = PIDX_NONE;
    return i;
}

static inline uint32_t th_enum(Prog *p, const char *name, const char *const *members, unsigned flags)
{
    uint32_t f = th_field(p, name, VT_ENUM, flags);
    uint32_t first = p->nrefs, n = 0;
    for (; members[n]; n++) th_ref(p, th_str(p, members[n]));
    p->fields[f].enum_first = first;
    p->fields[f].enum_count = n;
    return f;
}

/* NOTE: the arrays built here are realloc'ed, not arena-owned; free them
 * with th_prog_free (prog_free would leak them). */
static inline Prog *th_std_prog(void)
{
    Prog *p = prog_new();
    static const char *const network[] = {"in", "out", NULL};
    static const char *const setting[] = {
        "inpatient", "outpatient", "ambulatory_surgery", "office", "home", "emergency",
        "observation", "skilled_nursing", "rehabilitation", "ltac", "hospice", "residential",
        "partial_hospital", "intensive_outpatient", "ambulance", NULL};
    static const char *const admission[] = {"elective", "emergency", "urgent", "maternity",
                                            "newborn", "transfer", NULL};
    static const char *const delivery[] = {"vaginal", "cesarean", NULL};
    static const char *const systems[] = {"CPT", "HCPCS", "REV", NULL};
    p->f_id = th_field(p, "id", VT_STRING, PF_REQUIRED);
    p->f_payer = th_field(p, "payer", VT_STRING, PF_REQUIRED);
    th_field(p, "plan", VT_STRING, 0);
    th_enum(p, "network", network, 0);
    th_enum(p, "setting", setting, 0);
    th_enum(p, "admission", admission, 0);
    th_field(p, "admitted_from_er", VT_BOOL, PF_DEFAULT);
    th_enum(p, "delivery", delivery, 0);
    th_field(p, "stay_hours", VT_INT, 0);
    uint32_t code = th_field(p, "code", VT_CODE, 0);
    uint32_t tag = th_enum(p, "code_system", systems, 0);
    p->fields[code].systems = SYS_BIT(SYS_CPT) | SYS_BIT(SYS_HCPCS) | SYS_BIT(SYS_REV);
    p->fields[code].tag_field = tag;
    p->f_code = code;
    uint32_t dx = th_field(p, "diagnoses", VT_LIST, 0);
    p->fields[dx].elem = VT_CODE;
    p->fields[dx].systems = SYS_BIT(SYS_ICD10);
    th_field(p, "units", VT_INT, 0);
    th_field(p, "price", VT_MONEY, 0);
    th_field(p, "visit_number", VT_INT, 0);
    th_field(p, "state", VT_STRING, 0);
    th_field(p, "member_age", VT_INT, 0);
    th_field(p, "medicare_primary", VT_BOOL, PF_DEFAULT);
    th_field(p, "medicare_exhausted", VT_BOOL, PF_DEFAULT);
    th_field(p, "clinical_trial", VT_BOOL, PF_DEFAULT);
    th_field(p, "emergent", VT_BOOL, PF_DEFAULT);
    p->f_service_date = th_field(p, "service_date", VT_DATE, PF_REQUIRED);
    p->f_service_at = th_field(p, "service_at", VT_DATETIME, 0);
    p->f_requested_at = th_field(p, "requested_at", VT_DATETIME, 0);
    p->id = th_str(p, "test");
    p->payer = th_str(p, "testpayer");
    p->title = th_str(p, "Test policy");
    p->version = th_str(p, "1");
    return p;
}

/* Index of the schema field called name; aborts the test binary if none. */
static inline uint32_t th_field_index(const Prog *p, const char *name)
{
    for (uint32_t i = 0; i < p->nfields; i++)
        if (strcmp(p->strs[p->fields[i].name], name) == 0) return i;
    fprintf(stderr, "th_field_index: no field %s\n", name);
    abort();
}

static inline void th_prog_free(Prog *p)
{
    free(p->strs);
    free(p->strlens);
    free(p->refs);
    free(p->fields);
    free(p->consts);
    free(p->sets);
    free(p->ranges);
    free(p->rules);
    free(p->segs);
    free(p->seg_rules);
    free(p->always);
    free(p->holidays);
    free(p->code);
    prog_free(p);
}

/* n bytes of noise from a linear congruential generator seeded by seed
 * (the same bytes for the same seed), for tests that feed large buffers
 * to two implementations; the caller frees them. */
static inline uint8_t *th_noise(size_t n, uint32_t seed)
{
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return NULL;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        b[i] = (uint8_t)(seed >> 24);
    }
    return b;
}

/* Reads a whole file (NUL-terminated); NULL if it cannot. */
static inline char *th_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (cap - n < 4096) buf = realloc(buf, cap = cap * 2 + 8192);
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* Runs a shell command, captures its stdout into a malloc'ed string and its
 * exit status into *status. */
static inline char *th_run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (cap - n < 4096) buf = realloc(buf, cap = cap * 2 + 8192);
        got = fread(buf + n, 1, cap - n - 1, p);
        n += got;
    } while (got > 0);
    buf[n] = '\0';
    int st = pclose(p);
    if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return buf;
}

static inline const char *th_root(void);

/* Runs a printf-formatted shell command in the repository root and returns
 * its stdout (malloc'ed); aborts when the shell cannot be started. */
static inline char *th_runf(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline char *th_runf(int *status, const char *fmt, ...)
{
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd, "cd '%s' && ", th_root());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    char *out = th_run(cmd, status);
    if (!out) {
        fprintf(stderr, "th_runf: could not run: %s\n", cmd);
        abort();
    }
    return out;
}

/* Directory of the built binaries (make passes PCR_BIN) and of the repo. */
static inline const char *th_bin(void)
{
    const char *b = getenv("PCR_BIN");
    return b ? b : "bin";
}
static inline const char *th_root(void)
{
    const char *r = getenv("PCR_ROOT");
    return r ? r : ".";
}

/* The scratch directory of this test process: made on first use as
 * $TMPDIR/pcr-NAME-XXXXXX (TMPDIR defaults to /tmp) and removed, with all
 * it holds, when the process that made it exits normally (Criterion runs
 * each test in a process of its own, so each test gets a fresh one; a
 * forked child that exits does not remove its parent's). Aborts when it
 * cannot be made. */
typedef struct ThScratch {
    char dir[4096];
    pid_t owner;
} ThScratch;

static inline ThScratch *th_scratch(void)
{
    static ThScratch s;
    return &s;
}

static inline void th_tmpdir_remove(void)
{
    ThScratch *s = th_scratch();
    if (!s->dir[0] || s->owner != getpid()) return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0) fprintf(stderr, "th_tmpdir: could not remove %s\n", s->dir);
    s->dir[0] = '\0';
}

static inline const char *th_tmpdir(const char *name)
{
    ThScratch *s = th_scratch();
    if (s->dir[0] && s->owner == getpid()) return s->dir;
    const char *t = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/pcr-%s-XXXXXX", t && t[0] ? t : "/tmp", name);
    if (!mkdtemp(s->dir)) {
        fprintf(stderr, "th_tmpdir: cannot make %s\n", s->dir);
        abort();
    }
    s->owner = getpid();
    atexit(th_tmpdir_remove);
    return s->dir;
}

/* Compiles src (named name) with policies/ as -I; NULL after printing its
 * diagnostics when it has errors. */
static inline pcr_policy *th_compile(const char *name, const char *src)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/policies", th_root());
    const char *inc[] = {dir};
    pcr_compile_opts opts = {.include_dirs = inc, .n_include_dirs = 1};
    pcr_policy *p = NULL;
    pcr_diags *d = NULL;
    pcr_status st = pcr_compile_buffer(name, src, strlen(src), &opts, &p, &d);
    if (st != PCR_OK) pcr_diags_print(d, stderr, false);
    pcr_diags_free(d);
    return st == PCR_OK ? p : NULL;
}

/* An engine holding the policy src (named name in diagnostics), compiled
 * from memory with the repo's policies/ on the module path; NULL, with the
 * diagnostics on stderr, when it does not compile or load. */
static inline pcr_engine *th_engine(const char *name, const char *src)
{
    pcr_policy *p = th_compile(name, src);
    if (!p) return NULL;
    pcr_engine *e = pcr_engine_new();
    char err[256];
    if (pcr_engine_add(e, p, err, sizeof err) != PCR_OK) {
        fprintf(stderr, "%s\n", err);
        pcr_engine_free(e);
        return NULL;
    }
    return e;
}

#endif
