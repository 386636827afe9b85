/* api.c: the public API (include/pcr/pcr.h) over the internal modules.
 *
 * A pcr_policy wraps a verified Prog (plus, when compiled from source, the
 * arena holding its tests). A pcr_engine routes records to policies by payer
 * and service date and owns one VM per policy, one decoder for the shared
 * schema and the output buffer. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "arena.h"
#include "bc.h"
#include "bc_format.h"
#include "buf.h"
#include "bytes.h"
#include "compile.h"
#include "diff.h"
#include "sema.h"
#include "dates.h"
#include "engine.h"
#include "diag.h"
#include "explain.h"
#include "fmt.h"
#include "near.h"
#include "fileio.h"
#include "out.h"
#include "syntax.h"
#include "pcr/pcr.h"
#include "policy.h"
#include "prog.h"
#include "rec.h"
#include "sha256.h"
#include "run.h"
#include "vm.h"

enum { SOURCE_MAX_BYTES = 8 << 20 };


static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

/* ---- compiling ------------------------------------------------------------ */

/* Compiles text (ownership passes to the diagnostics) into a policy, or only
 * checks it when out is NULL. */
static pcr_status compile_text(const char *path, char *text, size_t len,
                               const pcr_compile_opts *opts, bool lint, pcr_policy **out,
                               pcr_diags **diags)
{
    Diags *d = diags_new();
    pcr_policy *pol = xcalloc(1, sizeof *pol);
    arena_init(&pol->arena);
    CompileOpts co = {0};
    if (opts) {
        co.include_dirs = opts->include_dirs;
        co.n_include_dirs = opts->n_include_dirs;
        co.stdlib_dir = opts->stdlib_dir;
    }
    co.lint = lint;
    CompileOut res = {0};
    bool ok = compile_program(&pol->arena, d, path, text, len, &co, &res);
    if (ok && opts && opts->warnings_as_errors && pcr_diags_count(d) > 0) ok = false;
    pcr_status st = ok ? PCR_OK : PCR_ERR_POLICY;
    if (ok && out) {
        pol->prog = res.prog;
        pol->tests = res.tests;
        pol->ntests = res.ntests;
        pol->decls = res.root_decls;
        pol->module_decls = res.module_decls;
        pol->nmodules = res.nmodules;
        pol->facts = res.facts;
        pol->merged = res.merged;
        pol->path = xstrndup(path, strlen(path));
        *out = pol;
    } else {
        prog_free(res.prog);
        arena_free(&pol->arena);
        free(pol);
    }
    if (diags) *diags = d;
    else pcr_diags_free(d);
    return st;
}

/* Reports a root file that cannot be used as a diagnostic at 0:0, so every
 * caller prints it the same way: too large is an error in the policy (E103,
 * as for a module), unreadable an I/O error (E104). */
static pcr_status io_failure(const char *path, FioError why, pcr_diags **diags)
{
    int err = errno;
    bool too_big = why == FIO_TOO_BIG;
    if (diags) {
        Diags *d = diags_new();
        Loc nowhere = {0};
        uint32_t f = diags_add_file(d, path, xstrndup("", 0), 0);
        nowhere.file = f;
        if (too_big)
            diag_error(d, "E103", nowhere, "%s is larger than 8 MiB; sources are limited to 8 MiB",
                       path);
        else
            diag_error(d, "E104", nowhere, "cannot read %s: %s", path, fio_error_text(why, err));
        *diags = d;
    }
    return too_big ? PCR_ERR_POLICY : PCR_ERR_IO;
}

pcr_status pcr_compile_file(const char *path, const pcr_compile_opts *opts, pcr_policy **out,
                            pcr_diags **diags)
{
    if (!path || !out) return PCR_ERR_USAGE;
    *out = NULL;
    size_t len;
    FioError why;
    char *text = fio_read(path, SOURCE_MAX_BYTES, NULL, 0, &len, &why);
    if (!text) return io_failure(path, why, diags);
    return compile_text(path, text, len, opts, false, out, diags);
}

pcr_status pcr_compile_buffer(const char *name, const char *src, size_t len,
                              const pcr_compile_opts *opts, pcr_policy **out, pcr_diags **diags)
{
    if (!name || !src || !out) return PCR_ERR_USAGE;
    *out = NULL;
    return compile_text(name, xstrndup(src, len), len, opts, false, out, diags);
}

pcr_status pcr_check_file(const char *path, const pcr_compile_opts *opts, pcr_diags **diags)
{
    size_t len;
    FioError why;
    char *text = fio_read(path, SOURCE_MAX_BYTES, NULL, 0, &len, &why);
    if (!text) return io_failure(path, why, diags);
    return compile_text(path, text, len, opts, true, NULL, diags);
}

pcr_status pcr_lint_file(const char *path, const pcr_compile_opts *opts, pcr_diags **diags)
{
    return pcr_check_file(path, opts, diags);
}

/* ---- diff ----------------------------------------------------------------- */

typedef struct DiffRun {
    const char *old_path;
    char *old_text; /* ownership passes to the diagnostics when compiled */
    size_t old_len;
    Diags *d;
    const CompileOpts *co;
    FILE *out;
    const Sema *new_s; /* set while the old version compiles */
    const Prog *new_p;
    bool ran, changed;
} DiffRun;

static void diff_with_old(const Sema *s, const Prog *p, void *arg)
{
    DiffRun *R = arg;
    R->changed = diff_models(s, p, R->new_s, R->new_p, R->out);
    R->ran = true;
}

/* The new version compiled: compile the old one, and compare inside. */
static void diff_with_new(const Sema *s, const Prog *p, void *arg)
{
    DiffRun *R = arg;
    R->new_s = s;
    R->new_p = p;
    CompileOpts co = *R->co;
    co.inspect = diff_with_old;
    co.inspect_arg = R;
    Arena a;
    arena_init(&a);
    CompileOut res;
    char *text = R->old_text;
    R->old_text = NULL;
    compile_program(&a, R->d, R->old_path, text, R->old_len, &co, &res);
    prog_free(res.prog);
    arena_free(&a);
}

pcr_status pcr_diff_files(const char *old_path, const char *new_path, const pcr_compile_opts *opts,
                          FILE *out, bool *changed, pcr_diags **diags)
{
    if (!old_path || !new_path || !out || !changed) return PCR_ERR_USAGE;
    *changed = false;
    size_t olen, nlen;
    FioError why;
    char *otext = fio_read(old_path, SOURCE_MAX_BYTES, NULL, 0, &olen, &why);
    if (!otext) return io_failure(old_path, why, diags);
    char *ntext = fio_read(new_path, SOURCE_MAX_BYTES, NULL, 0, &nlen, &why);
    if (!ntext) {
        free(otext);
        return io_failure(new_path, why, diags);
    }
    Diags *d = diags_new();
    CompileOpts co = {0};
    if (opts) {
        co.include_dirs = opts->include_dirs;
        co.n_include_dirs = opts->n_include_dirs;
        co.stdlib_dir = opts->stdlib_dir;
    }
    DiffRun R = {.old_path = old_path, .old_text = otext, .old_len = olen, .d = d, .co = &co, .out = out};
    CompileOpts nco = co;
    nco.inspect = diff_with_new;
    nco.inspect_arg = &R;
    Arena a;
    arena_init(&a);
    CompileOut res;
    compile_program(&a, d, new_path, ntext, nlen, &nco, &res);
    prog_free(res.prog);
    arena_free(&a);
    free(R.old_text); /* not compiled: the new version had errors */
    *changed = R.changed;
    pcr_status st = R.ran && pcr_diags_errors(d) == 0 ? PCR_OK : PCR_ERR_POLICY;
    if (diags) *diags = d;
    else pcr_diags_free(d);
    return st;
}

pcr_status pcr_dump_ast(const char *path, FILE *out, pcr_diags **diags)
{
    size_t len;
    FioError why;
    char *text = fio_read(path, SOURCE_MAX_BYTES, NULL, 0, &len, &why);
    if (!text) return io_failure(path, why, diags);
    Diags *d = diags_new();
    Arena a;
    arena_init(&a);
    uint32_t file = diags_add_file(d, path, text, len);
    Node *decls = parse_file(&a, d, file);
    ast_dump(decls, out);
    arena_free(&a);
    pcr_status st = pcr_diags_errors(d) ? PCR_ERR_POLICY : PCR_OK;
    if (diags) *diags = d;
    else pcr_diags_free(d);
    return st;
}

/* ---- bytecode ------------------------------------------------------------- */

pcr_status pcr_policy_save(const pcr_policy *p, uint8_t **buf, size_t *len)
{
    if (!p || !buf || !len) return PCR_ERR_USAGE;
    *buf = bc_write(p->prog, len);
    return PCR_OK;
}

pcr_status pcr_policy_save_file(const pcr_policy *p, const char *path, char *err, size_t errlen)
{
    if (!p || !path) return PCR_ERR_USAGE;
    uint8_t *buf;
    size_t len;
    pcr_status st = pcr_policy_save(p, &buf, &len);
    if (st != PCR_OK) return st;
    char msg[512];
    bool ok = fio_replace(path, buf, len, BC_MAGIC, BC_MAGIC_LEN, msg, sizeof msg);
    free(buf);
    if (!ok) {
        set_err(err, errlen, msg);
        return PCR_ERR_IO;
    }
    return PCR_OK;
}

pcr_status pcr_policy_load(const uint8_t *buf, size_t len, pcr_policy **out, char *err,
                           size_t errlen)
{
    if (!buf || !out) return PCR_ERR_USAGE;
    *out = NULL;
    char msg[256] = "";
    Prog *prog = bc_load(buf, len, msg, sizeof msg);
    if (!prog) {
        set_err(err, errlen, msg);
        return PCR_ERR_BYTECODE;
    }
    pcr_policy *p = xcalloc(1, sizeof *p);
    arena_init(&p->arena);
    p->prog = prog;
    sha256_hex(buf, len, p->sha256);
    *out = p;
    return PCR_OK;
}

/* Bytecode files hold every code of a policy; 256 MiB is far beyond any
 * real one and keeps a stray huge file from exhausting memory. */
enum { BYTECODE_MAX_BYTES = 256 << 20 };

pcr_status pcr_policy_load_file(const char *path, pcr_policy **out, char *err, size_t errlen)
{
    if (!path || !out) return PCR_ERR_USAGE;
    *out = NULL;
    size_t len;
    FioError why;
    char *buf = fio_read(path, BYTECODE_MAX_BYTES, BC_MAGIC, BC_MAGIC_LEN, &len, &why);
    if (!buf) {
        int e = errno;
        if (why == FIO_BAD_PREFIX) {
            if (err) snprintf(err, errlen, "%s: not a PCR bytecode file (bad magic)", path);
            return PCR_ERR_BYTECODE;
        }
        if (err) snprintf(err, errlen, "cannot read %s: %s", path,
                          why == FIO_TOO_BIG ? "larger than 256 MiB" : fio_error_text(why, e));
        return PCR_ERR_IO;
    }
    char msg[256] = "";
    pcr_status st = pcr_policy_load((const uint8_t *)buf, len, out, msg, sizeof msg);
    free(buf);
    if (st != PCR_OK && err) snprintf(err, errlen, "%s: %s", path, msg);
    return st;
}

void pcr_policy_free(pcr_policy *p)
{
    if (!p) return;
    prog_free(p->prog);
    arena_free(&p->arena);
    free(p->path);
    free(p);
}

const char *pcr_policy_id(const pcr_policy *p) { return p->prog->strs[p->prog->id]; }
const char *pcr_policy_version(const pcr_policy *p) { return p->prog->strs[p->prog->version]; }
const char *pcr_policy_payer(const pcr_policy *p) { return p->prog->strs[p->prog->payer]; }
size_t pcr_policy_rule_count(const pcr_policy *p) { return p->prog->nrules; }

void pcr_policy_disasm(const pcr_policy *p, FILE *out) { bc_disasm(p->prog, out); }

const char *pcr_decision_name(pcr_decision_kind k) { return out_decision_name(k); }

/* ---- engine --------------------------------------------------------------- */

typedef struct EnginePolicy {
    pcr_policy *pol; /* shared with the engine's clones (pol->engine_refs) */
    Vm *vm;
    OutPolicy *out;
    uint64_t *merged; /* rule counts merged in from clones (nrules); NULL: none yet */
} EnginePolicy;

/* One payer a policy covers, with its window. route() hashes a record's
 * payer to one of ROUTE_SLOTS chains and walks it in policy order,
 * comparing the payer's first and last 8 bytes as two words (and the bytes
 * between, for a payer longer than 16): one or two routes looked at per
 * record, however many payers are loaded. */
typedef struct Route {
    uint64_t head, tail;    /* payer_head and payer_tail of the payer */
    const char *s;          /* the payer (Prog memory) */
    uint32_t n;             /* its length */
    uint32_t pol;           /* index into the engine's v */
    int32_t from, through;  /* the policy's window (days) */
    uint32_t next;          /* the next route of its chain, plus 1; 0 ends it */
} Route;

enum { ROUTE_SLOT_BITS = 6, ROUTE_SLOTS = 1 << ROUTE_SLOT_BITS };

enum {
    NO_POLICY_WHY_MAX = 512, /* bytes of a no_policy line's "why" */
    WHY_NEAREST = 3,         /* payer names suggested for an unknown payer */
};

/* The last no_policy record's explanation, kept for the next one: a batch's
 * unknown payers repeat, and finding the nearest payer names costs more
 * than deciding a record. The text depends on the payer alone when no
 * policy has it, on the payer and the service date when one has. */
typedef struct WhyMemo {
    bool valid;
    bool by_day;      /* the payer is known: the text names the date */
    int32_t day;
    uint32_t payer_len;
    char payer[64];   /* payers longer than this are not kept */
    size_t len;
    char text[NO_POLICY_WHY_MAX];
} WhyMemo;

struct pcr_engine {
    EnginePolicy *v; /* owned policies, in the order added */
    size_t n, cap;
    Route *routes;   /* every payer of every policy, in policy order */
    size_t nroutes, routes_cap;
    uint32_t route_slot[ROUTE_SLOTS]; /* each chain's first route, plus 1; 0: empty */
    uint32_t f_payer, f_service_date; /* the shared schema's payer and service_date fields
                                         (routes_add, from the first policy): read by
                                         decide_record without going through it */
    RecDecoder *dec; /* for the schema all policies share (the first's) */
    bool strict;     /* pcr_engine_set_strict: unknown keys are errors */
    Buf line;        /* the current decision line */
    uint64_t feed_recno; /* the record being fed (pcr_engine_feed_begin) */
    bool feed_utf8_checked; /* pcr_engine_feed_utf8_checked */
    FILE *explain;   /* where explanations go (pcr_engine_set_explain), or NULL */
    Buf why;         /* the current explanation */
    WhyMemo why_memo; /* the last no_policy explanation (no_policy_why_memo) */

    /* The last record, for pcr_engine_decision (set by eval_line; the
     * pointers are valid until the next record is decoded). */
    bool have_last;
    pcr_decision_kind last_kind;
    const EnginePolicy *last_pol; /* the deciding policy; NULL for no_policy, error */
    Decision last;                /* arrays in last_pol's VM scratch */
    const char *last_id;          /* not NUL-terminated; NULL: none */
    size_t last_id_len;
    const char *last_error;       /* NUL-terminated; error only */
    char last_msg[128];           /* run_too_long's message */
    /* What pcr_engine_decision hands out. */
    Buf id_copy, policy_name;
    const char **names; /* reviewers, then rules, then missing, then the obligations' */
    size_t names_cap;
    char deadline[OUT_DEADLINE_MAX];
    pcr_obligation *obls;          /* obligations, then possible ones */
    char (*obl_deadline)[OUT_DEADLINE_MAX];
    size_t obls_cap;
};

pcr_engine *pcr_engine_new(void) { return xcalloc(1, sizeof(pcr_engine)); }

static bool same_str(const Prog *a, uint32_t i, const Prog *b, uint32_t j)
{
    return a->strlens[i] == b->strlens[j] && memcmp(a->strs[i], b->strs[j], a->strlens[i]) == 0;
}

/* True when the two schemas decode every record identically. */
static bool same_schema(const Prog *a, const Prog *b)
{
    if (a->nfields != b->nfields) return false;
    for (uint32_t i = 0; i < a->nfields; i++) {
        const PField *x = &a->fields[i], *y = &b->fields[i];
        if (!same_str(a, x->name, b, y->name) || x->type != y->type || x->elem != y->elem ||
            x->flags != y->flags || x->systems != y->systems || x->tag_field != y->tag_field ||
            x->enum_count != y->enum_count || x->deflt != y->deflt)
            return false;
        for (uint32_t k = 0; k < x->enum_count; k++)
            if (!same_str(a, a->refs[x->enum_first + k], b, b->refs[y->enum_first + k]))
                return false;
    }
    return true;
}

/* A payer that both policies decide (a string index of b), or PIDX_NONE. */
static uint32_t shared_payer(const Prog *a, const Prog *b)
{
    for (uint32_t i = 0; i <= b->payer_count; i++) {
        uint32_t k = i ? b->refs[b->payer_first + i - 1] : b->payer;
        if (prog_has_payer(a, b->strs[k], b->strlens[k])) return k;
    }
    return PIDX_NONE;
}

/* A payer's first 8 bytes (zero-padded) as one word, byte i at bits 8i.
 * Short payers are read with overlapping loads (the overlap holds the same
 * bytes at the same places): no loop, no call. */
static inline uint64_t payer_head(const char *s, size_t n)
{
    if (n >= 8) return bytes_le64(s);
    if (n >= 4) return bytes_le32(s) | bytes_le32(s + n - 4) << (8 * (n - 4));
    if (n == 0) return 0;
    return (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n / 2] << (8 * (n / 2)) |
           (uint64_t)(unsigned char)s[n - 1] << (8 * (n - 1));
}

/* A payer's last 8 bytes as one word, when it is longer than 8 (else 0):
 * with the head and the length it tells payers of up to 16 bytes apart. */
static inline uint64_t payer_tail(const char *s, size_t n) { return n > 8 ? bytes_le64(s + n - 8) : 0; }

/* The chain of a payer with these payer_head, payer_tail and length. */
static inline uint32_t route_slot(uint64_t head, uint64_t tail, uint32_t n)
{
    return (uint32_t)(((head ^ tail * 31 ^ n) * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - ROUTE_SLOT_BITS));
}

/* Adds the routes of e->v[i] (its payers) at the end of e->routes and of
 * their chains. */
static void routes_add(pcr_engine *e, size_t i)
{
    const Prog *p = e->v[i].pol->prog;
    if (i == 0) {
        e->f_payer = p->f_payer;
        e->f_service_date = p->f_service_date;
    }
    for (uint32_t k = 0; k <= p->payer_count; k++) {
        uint32_t s = k ? p->refs[p->payer_first + k - 1] : p->payer;
        if (e->nroutes == e->routes_cap) {
            e->routes_cap = e->routes_cap ? 2 * e->routes_cap : 8;
            e->routes = xrealloc(e->routes, e->routes_cap * sizeof *e->routes);
        }
        Route *r = &e->routes[e->nroutes++];
        r->head = payer_head(p->strs[s], p->strlens[s]);
        r->tail = payer_tail(p->strs[s], p->strlens[s]);
        r->s = p->strs[s];
        r->n = p->strlens[s];
        r->pol = (uint32_t)i;
        r->from = p->eff_from;
        r->through = p->eff_through;
        r->next = 0;
        uint32_t *link = &e->route_slot[route_slot(r->head, r->tail, r->n)];
        while (*link) link = &e->routes[*link - 1].next;
        *link = (uint32_t)e->nroutes;
    }
}

pcr_status pcr_engine_add(pcr_engine *e, pcr_policy *p, char *err, size_t errlen)
{
    if (!e || !p) return PCR_ERR_USAGE;
    const Prog *np = p->prog;
    for (size_t i = 0; i < e->n; i++) {
        const Prog *op = e->v[i].pol->prog;
        if (!same_schema(op, np)) {
            if (err) snprintf(err, errlen, "policy %s declares a different request schema than %s",
                              np->strs[np->id], op->strs[op->id]);
            return PCR_ERR_USAGE;
        }
        uint32_t both = shared_payer(op, np);
        if (both != PIDX_NONE && np->eff_from <= op->eff_through &&
            op->eff_from <= np->eff_through) {
            if (err) snprintf(err, errlen,
                              "policies %s@%s and %s@%s both cover payer \"%s\" on overlapping dates",
                              op->strs[op->id], op->strs[op->version], np->strs[np->id],
                              np->strs[np->version], np->strs[both]);
            return PCR_ERR_USAGE;
        }
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->v = xrealloc(e->v, e->cap * sizeof *e->v);
    }
    e->v[e->n].pol = p;
    atomic_fetch_add(&p->engine_refs, 1);
    e->v[e->n].merged = NULL;
    e->v[e->n].vm = vm_new(np);
    e->v[e->n].out = out_policy_new(np);
    routes_add(e, e->n);
    if (e->n == 0) {
        e->dec = rec_decoder_new(np);
        if (e->dec) rec_decoder_set_strict(e->dec, e->strict);
        if (e->dec) rec_fed_utf8_checked(e->dec, e->feed_utf8_checked);
    }
    e->n++;
    e->why_memo.valid = false; /* the payers and their windows changed */
    return PCR_OK;
}

void pcr_engine_free(pcr_engine *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->n; i++) {
        vm_free(e->v[i].vm);
        out_policy_free(e->v[i].out);
        free(e->v[i].merged);
        if (atomic_fetch_sub(&e->v[i].pol->engine_refs, 1) == 1) pcr_policy_free(e->v[i].pol);
    }
    free(e->v);
    free(e->routes);
    rec_decoder_free(e->dec);
    buf_free(&e->line);
    buf_free(&e->why);
    buf_free(&e->id_copy);
    buf_free(&e->policy_name);
    free(e->names);
    free(e->obls);
    free(e->obl_deadline);
    free(e);
}

/* The policy for payer on day, or NULL. */
static EnginePolicy *route(pcr_engine *e, const char *payer, uint32_t n, int32_t day)
{
    uint64_t head = payer_head(payer, n), tail = payer_tail(payer, n);
    for (uint32_t i = e->route_slot[route_slot(head, tail, n)]; i;) {
        const Route *r = &e->routes[i - 1];
        if (r->head == head && r->tail == tail && r->n == n && day >= r->from && day <= r->through &&
            (n <= 16 || memcmp(r->s + 8, payer + 8, n - 16) == 0))
            return &e->v[r->pol];
        i = r->next;
    }
    return NULL;
}

/* Appends to out[*o .. cap) like snprintf, never past cap - 1. */
static void why_put(char *out, size_t cap, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void why_put(char *out, size_t cap, size_t *o, const char *fmt, ...)
{
    if (*o >= cap - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out + *o, cap - *o, fmt, ap);
    va_end(ap);
    if (k > 0) *o += (size_t)k < cap - *o ? (size_t)k : cap - 1 - *o;
}

/* The length of s[0..n) cut to at most max bytes without splitting a UTF-8
 * sequence (s is valid UTF-8 up to where a buffer may have cut it). */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max) max = n;
    size_t k = max;
    while (k > 0 && ((uint8_t)s[k - 1] & 0xC0) == 0x80) k--; /* continuation bytes */
    if (k > 0 && (uint8_t)s[k - 1] >= 0xC0) {                 /* their lead byte */
        uint8_t c = (uint8_t)s[k - 1];
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (k - 1 + len <= max) k = k - 1 + len; /* complete: keep it */
        else k--;
    } else {
        k = max; /* ended on ASCII: nothing was split */
    }
    return k;
}

/* Writes a window as pcrc list does: "2016-01-01 through 2021-12-31",
 * "2022-01-01 onward", "through 2021-12-31" or "always". */
static void why_window(char *out, size_t cap, size_t *o, int32_t from, int32_t through)
{
    char a[12], b[12];
    if (from != DATE_OPEN_FROM) date_format(from, a);
    if (through != DATE_OPEN_THROUGH) date_format(through, b);
    if (from != DATE_OPEN_FROM && through != DATE_OPEN_THROUGH)
        why_put(out, cap, o, "%s through %s", a, b);
    else if (from != DATE_OPEN_FROM) why_put(out, cap, o, "%s onward", a);
    else if (through != DATE_OPEN_THROUGH) why_put(out, cap, o, "through %s", b);
    else why_put(out, cap, o, "always");
}

/* True when policy i is the first of the engine's policies with its payer. */
static bool first_of_payer(const pcr_engine *e, size_t i)
{
    const Prog *p = e->v[i].pol->prog;
    for (size_t j = 0; j < i; j++)
        if (same_str(e->v[j].pol->prog, e->v[j].pol->prog->payer, p, p->payer)) return false;
    return true;
}

/* True when one of the engine's policies has the payer. */
static bool payer_known(const pcr_engine *e, const char *payer, uint32_t n)
{
    for (size_t i = 0; i < e->n; i++) {
        const Prog *p = e->v[i].pol->prog;
        if (p->strlens[p->payer] == n && memcmp(p->strs[p->payer], payer, n) == 0) return true;
    }
    return false;
}

/* Explains a no_policy record into out (cap bytes, NUL-terminated; returns
 * the length): either no loaded policy has the payer, and the nearest
 * payer names are suggested (a case-insensitive match first, then by edit
 * distance, else the loaded payers), or the payer's policies are listed
 * with their windows, none of which holds day. Allocates nothing: this
 * runs per record. */
static size_t no_policy_why(const pcr_engine *e, const char *payer, uint32_t n, int32_t day,
                            char *out, size_t cap)
{
    size_t o = 0;
    char date[12];
    out[0] = '\0';
    if (payer_known(e, payer, n)) {
        date_format(day, date);
        why_put(out, cap, &o, "no policy of payer \"%.*s\" is in force on %s; its policies cover ",
                (int)utf8_cut(payer, n, 60), payer, date);
        /* The payer's windows in date order (they do not overlap). */
        int32_t after = DATE_OPEN_FROM;
        bool first = true, any = true;
        while (any) {
            any = false;
            size_t pick = 0;
            for (size_t i = 0; i < e->n; i++) {
                const Prog *p = e->v[i].pol->prog;
                if (p->strlens[p->payer] != n || memcmp(p->strs[p->payer], payer, n) != 0) continue;
                if (!first && p->eff_from <= after) continue;
                if (!any || p->eff_from < e->v[pick].pol->prog->eff_from) pick = i;
                any = true;
            }
            if (!any) break;
            const Prog *p = e->v[pick].pol->prog;
            why_put(out, cap, &o, "%s", first ? "" : ", ");
            why_window(out, cap, &o, p->eff_from, p->eff_through);
            why_put(out, cap, &o, " (%s@%s)", p->strs[p->id], p->strs[p->version]);
            after = p->eff_from;
            first = false;
        }
        return utf8_cut(out, o, o);
    }
    why_put(out, cap, &o, "no policy for payer \"%.*s\"", (int)utf8_cut(payer, n, 60), payer);
    /* Up to WHY_NEAREST payers by distance, case-insensitive: an exact
     * match ignoring case has distance 0 and comes first. */
    size_t picked[WHY_NEAREST], npicked = 0;
    size_t limit = n <= 3 ? 1 : n <= 8 ? 2 : 3;
    for (size_t d = 0; d <= limit && npicked < WHY_NEAREST; d++)
        for (size_t i = 0; i < e->n && npicked < WHY_NEAREST; i++) {
            const Prog *p = e->v[i].pol->prog;
            if (!first_of_payer(e, i)) continue;
            if (near_distance(payer, n, p->strs[p->payer], p->strlens[p->payer], true) == d)
                picked[npicked++] = i;
        }
    if (npicked) {
        why_put(out, cap, &o, "; did you mean ");
        for (size_t k = 0; k < npicked; k++) {
            const Prog *p = e->v[picked[k]].pol->prog;
            why_put(out, cap, &o, "%s\"%s\"", k == 0 ? "" : k + 1 == npicked ? " or " : ", ",
                    p->strs[p->payer]);
        }
        why_put(out, cap, &o, "?");
        return utf8_cut(out, o, o);
    }
    why_put(out, cap, &o, "; loaded payers: ");
    size_t shown = 0;
    for (size_t i = 0; i < e->n; i++) {
        if (!first_of_payer(e, i)) continue;
        const Prog *p = e->v[i].pol->prog;
        why_put(out, cap, &o, "%s\"%s\"", shown ? ", " : "", p->strs[p->payer]);
        shown++;
    }
    return utf8_cut(out, o, o);
}

/* no_policy_why through the engine's memo: the same text, computed once for
 * a run of records with the same unknown payer (or the same known payer and
 * service date). */
static const WhyMemo *no_policy_why_memo(pcr_engine *e, const char *payer, uint32_t n, int32_t day)
{
    WhyMemo *m = &e->why_memo;
    if (m->valid && m->payer_len == n && memcmp(m->payer, payer, n) == 0 &&
        (!m->by_day || m->day == day))
        return m;
    m->len = no_policy_why(e, payer, n, day, m->text, sizeof m->text);
    m->valid = n <= sizeof m->payer;
    if (m->valid) memcpy(m->payer, payer, n);
    m->payer_len = n;
    m->by_day = payer_known(e, payer, n);
    m->day = day;
    return m;
}

/* Remembers the last record's decision for pcr_engine_decision. */
static pcr_decision_kind remember(pcr_engine *e, pcr_decision_kind k, const EnginePolicy *ep,
                                  const char *id, size_t id_len, const char *error)
{
    e->have_last = true;
    e->last_kind = k;
    e->last_pol = ep;
    e->last_id = id;
    e->last_id_len = id_len;
    e->last_error = error;
    return k;
}

static void put_window(Buf *b, int32_t from, int32_t through)
{
    char s[16];
    if (from == DATE_OPEN_FROM) buf_puts(b, "open");
    else date_format(from, s), buf_puts(b, s);
    buf_puts(b, "..");
    if (through == DATE_OPEN_THROUGH) buf_puts(b, "open");
    else date_format(through, s), buf_puts(b, s);
}

/* Writes the explanation of the record just decided (see explain.h):
 * the routing, then the rules. */
static void explain_last(pcr_engine *e, const Record *r, uint64_t recno, const char *error)
{
    Buf *b = &e->why;
    b->n = 0;
    buf_printf(b, "record %llu", (unsigned long long)recno);
    const Record *id = r ? r : rec_partial(e->dec);
    if (id && id->has_id) buf_printf(b, ", id \"%.*s\"", (int)id->id_len, id->id);
    if (error) {
        buf_printf(b, ": error: %s\n", error);
    } else if (r) {
        const Prog *p0 = e->v[0].pol->prog;
        const RecVal *payer = &r->v[p0->f_payer];
        char day[16];
        date_format((int32_t)r->v[p0->f_service_date].i, day);
        if (!e->last_pol) {
            buf_printf(b, ": no policy for payer \"%.*s\" on %s; loaded:", (int)payer->n, payer->s, day);
            for (size_t i = 0; i < e->n; i++) {
                const Prog *p = e->v[i].pol->prog;
                buf_printf(b, "%s %s@%s (payer \"%s\", ", i ? "," : "", p->strs[p->id], p->strs[p->version],
                           p->strs[p->payer]);
                put_window(b, p->eff_from, p->eff_through);
                buf_putc(b, ')');
            }
            buf_putc(b, '\n');
        } else {
            const Prog *p = e->last_pol->pol->prog;
            const RecVal *py = &r->v[p->f_payer];
            buf_printf(b, ": policy %s@%s, because its payer is \"%.*s\" and %s is in its window ",
                       p->strs[p->id], p->strs[p->version], (int)py->n, py->s, day);
            put_window(b, p->eff_from, p->eff_through);
            buf_putc(b, '\n');
            explain_decision(b, p, r, &e->last, NULL, 0);
        }
    }
    fwrite(b->p, 1, b->n, e->explain);
}

/* Routes and decides the decoded record r, appending its decision line
 * to out; returns the decision. */
static inline pcr_decision_kind decide_record(pcr_engine *e, const Record *r, Buf *out)
{
    const RecVal *payer = &r->v[e->f_payer];
    int32_t day = (int32_t)r->v[e->f_service_date].i;
    EnginePolicy *ep = route(e, payer->s, payer->n, day);
    if (!ep) {
        const WhyMemo *m = no_policy_why_memo(e, payer->s, payer->n, day);
        out_no_policy(out, r->id, r->id_len, m->text, m->len);
        return remember(e, PCR_DEC_NO_POLICY, NULL, r->id, r->id_len, NULL);
    }
    vm_decide(ep->vm, r, &e->last);
    out_decision(out, ep->out, r->id, r->id_len, &e->last);
    return remember(e, e->last.kind, ep, r->id, r->id_len, NULL);
}

/* Decides one line, appending its decision line to out; returns the
 * decision. */
static inline pcr_decision_kind decide_line(pcr_engine *e, const char *json, size_t len, uint64_t recno,
                                     Buf *out, const Record **rec)
{
    *rec = NULL;
    if (e->n == 0) {
        out_error(out, NULL, 0, "no policy loaded");
        return remember(e, PCR_DEC_ERROR, NULL, NULL, 0, "no policy loaded");
    }
    const Record *r = rec_decode(e->dec, json, len, recno);
    if (!r) {
        const Record *part = rec_partial(e->dec);
        const char *id = part && part->has_id ? part->id : NULL;
        size_t id_len = id ? part->id_len : 0;
        out_error(out, id, id_len, rec_error(e->dec));
        return remember(e, PCR_DEC_ERROR, NULL, id, id_len, rec_error(e->dec));
    }
    *rec = r;
    return decide_record(e, r, out);
}

/* Decides one line into out (and explains it when asked). */
__attribute__((always_inline)) static inline pcr_decision_kind eval_line(pcr_engine *e, const char *json,
                                                                       size_t len, uint64_t recno, Buf *out)
{
    const Record *r;
    pcr_decision_kind k = decide_line(e, json, len, recno, out, &r);
    if (e->explain) explain_last(e, r, recno, k == PCR_DEC_ERROR ? e->last_error : NULL);
    return k;
}

/* See run.h. */
pcr_decision_kind api_engine_eval_into(pcr_engine *e, const char *json, size_t len, uint64_t recno,
                                       Buf *out)
{
    return eval_line(e, json, len, recno, out);
}

/* See run.h. */
size_t api_engine_eval_lines(pcr_engine *e, const char *text, size_t n, uint64_t *recno, Buf *out,
                             size_t out_limit, volatile sig_atomic_t *stop, pcr_stats *st, bool numbered)
{
    size_t at = 0;
    /* the usual line is decoded as its end is found (rec.h), quietly:
     * its number is not used, unless to explain it */
    bool fast = e->n && (numbered || !e->explain);
    while (at < n) {
        const char *line = text + at;
        size_t len, rest = n - at;
        pcr_decision_kind k = PCR_DEC_ERROR;
        const Record *r = fast ? rec_decode_line(e->dec, line, rest, *recno + 1, &len) : NULL;
        if (r) {
            k = decide_record(e, r, out);
            ++*recno;
            if (e->explain) explain_last(e, r, *recno, k == PCR_DEC_ERROR ? e->last_error : NULL);
        } else {
            if (!numbered) break; /* its decision may name its number */
            const char *nl = memchr(line, '\n', rest);
            len = nl ? (size_t)(nl - line) : rest;
            if (len <= REC_MAX_LINE) {
                k = eval_line(e, line, len, ++*recno, out);
            } else {
                const char *t;
                size_t tn;
                api_engine_too_long(e, ++*recno, &t, &tn);
                buf_put(out, t, tn);
            }
        }
        st->records++;
        st->by_decision[k]++;
        at += len + (len < rest);
        if (out->n >= out_limit || (stop && *stop)) break;
    }
    return at;
}

void pcr_engine_set_explain(pcr_engine *e, FILE *out)
{
    if (e) e->explain = out;
}

static size_t count_bits(uint64_t m)
{
    size_t n = 0;
    for (; m; m &= m - 1) n++;
    return n;
}

/* Writes the names of the fields in mask (schema order) at *w. */
static const char **put_field_names(const Prog *p, uint64_t mask, const char **w)
{
    for (uint32_t f = 0; f < p->nfields; f++)
        if (mask >> f & 1) *w++ = p->strs[p->fields[f].name];
    return w;
}

/* Fills o from ob, its strings written at *w and its deadline into dl. */
static const char **put_obligation(const Prog *p, const Obligation *ob, pcr_obligation *o,
                                   const char **w, char *dl)
{
    memset(o, 0, sizeof *o);
    o->outcome = (pcr_outcome)ob->outcome;
    o->reviewers = w;
    for (uint32_t k = 0; k < ob->nreviewers; k++) *w++ = p->strs[ob->reviewers[k]];
    o->nreviewers = ob->nreviewers;
    if (ob->has_deadline) {
        out_format_deadline(dl, ob->deadline_is_date, ob->deadline);
        o->deadline = dl;
    }
    o->timely = ob->timely;
    o->rules = w;
    for (uint32_t k = 0; k < ob->nrules; k++) *w++ = p->strs[p->rules[ob->rules[k]].id];
    o->nrules = ob->nrules;
    o->missing = w;
    w = put_field_names(p, ob->missing, w);
    o->nmissing = count_bits(ob->missing);
    return w;
}

pcr_status pcr_engine_decision(pcr_engine *e, pcr_decision *out)
{
    if (!e || !out || !e->have_last) return PCR_ERR_USAGE;
    memset(out, 0, sizeof *out);
    out->kind = e->last_kind;
    out->timely = -1;
    out->error = e->last_error;
    if (e->last_id) {
        e->id_copy.n = 0;
        buf_put(&e->id_copy, e->last_id, e->last_id_len);
        buf_putc(&e->id_copy, '\0');
        out->id = e->id_copy.p;
    }
    const EnginePolicy *ep = e->last_pol;
    if (!ep) return PCR_OK;
    const Prog *p = ep->pol->prog;
    const Decision *d = &e->last;
    e->policy_name.n = 0;
    buf_printf(&e->policy_name, "%s@%s", p->strs[p->id], p->strs[p->version]);
    buf_putc(&e->policy_name, '\0');
    out->policy = e->policy_name.p;

    size_t nobl = (size_t)d->nobligations + d->npossible;
    size_t need = (size_t)d->nreviewers + d->nrules + count_bits(d->missing) + 1;
    for (size_t k = 0; k < nobl; k++) {
        const Obligation *ob = k < d->nobligations ? &d->obligations[k] : &d->possible[k - d->nobligations];
        need += ob->nreviewers + ob->nrules + count_bits(ob->missing);
    }
    if (need > e->names_cap) {
        e->names = xrealloc(e->names, need * sizeof *e->names);
        e->names_cap = need;
    }
    if (nobl > e->obls_cap) {
        e->obls = xrealloc(e->obls, nobl * sizeof *e->obls);
        e->obl_deadline = xrealloc(e->obl_deadline, nobl * sizeof *e->obl_deadline);
        e->obls_cap = nobl;
    }
    const char **w = e->names;
    out->reviewers = w;
    for (uint32_t k = 0; k < d->nreviewers; k++) *w++ = p->strs[d->reviewers[k]];
    out->nreviewers = d->nreviewers;
    out->rules = w;
    for (uint32_t k = 0; k < d->nrules; k++) *w++ = p->strs[p->rules[d->rules[k]].id];
    out->nrules = d->nrules;
    out->missing = w;
    w = put_field_names(p, d->missing, w);
    out->nmissing = count_bits(d->missing);
    for (size_t k = 0; k < nobl; k++) {
        const Obligation *ob = k < d->nobligations ? &d->obligations[k] : &d->possible[k - d->nobligations];
        w = put_obligation(p, ob, &e->obls[k], w, e->obl_deadline[k]);
    }
    out->obligations = e->obls;
    out->nobligations = d->nobligations;
    out->possible = e->obls ? e->obls + d->nobligations : NULL; /* none yet: NULL + 0 is UB */
    out->npossible = d->npossible;
    if (d->has_deadline) {
        out_format_deadline(e->deadline, d->deadline_is_date, d->deadline);
        out->deadline = e->deadline;
    }
    out->timely = d->timely;
    return PCR_OK;
}

const char *pcr_outcome_name(pcr_outcome o) { return out_outcome_name((unsigned)o); }

pcr_status pcr_engine_eval(pcr_engine *e, const char *json, size_t len, uint64_t recno,
                           const char **line, size_t *line_len, pcr_decision_kind *kind)
{
    if (!e || (!json && len)) return PCR_ERR_USAGE;
    e->line.n = 0;
    pcr_decision_kind k = eval_line(e, json ? json : "", len, recno, &e->line);
    if (line) *line = e->line.p;
    if (line_len) *line_len = e->line.n;
    if (kind) *kind = k;
    return k == PCR_DEC_ERROR ? PCR_ERR_RECORD : PCR_OK;
}

pcr_engine *pcr_engine_clone(const pcr_engine *e)
{
    if (!e) return NULL;
    pcr_engine *c = pcr_engine_new();
    c->cap = e->n ? e->n : 1;
    c->v = xcalloc(c->cap, sizeof *c->v);
    for (size_t i = 0; i < e->n; i++) {
        pcr_policy *p = e->v[i].pol;
        atomic_fetch_add(&p->engine_refs, 1);
        c->v[i].pol = p;
        c->v[i].vm = vm_new(p->prog);
        c->v[i].out = out_policy_new(p->prog);
        routes_add(c, i);
    }
    c->n = e->n;
    if (e->n) c->dec = rec_decoder_new(e->v[0].pol->prog);
    pcr_engine_set_strict(c, e->strict); /* and the same record options */
    pcr_engine_feed_utf8_checked(c, e->feed_utf8_checked);
    return c;
}

pcr_status pcr_engine_merge_counts(pcr_engine *dst, const pcr_engine *src)
{
    if (!dst || !src || dst->n != src->n) return PCR_ERR_USAGE;
    for (size_t i = 0; i < dst->n; i++)
        if (dst->v[i].pol != src->v[i].pol) return PCR_ERR_USAGE;
    for (size_t i = 0; i < dst->n; i++) {
        uint32_t nr = dst->v[i].pol->prog->nrules;
        if (!dst->v[i].merged) dst->v[i].merged = xcalloc(nr ? nr : 1, sizeof *dst->v[i].merged);
        const uint64_t *sc = vm_rule_counts(src->v[i].vm);
        const uint64_t *sm = src->v[i].merged;
        for (uint32_t r = 0; r < nr; r++) dst->v[i].merged[r] += sc[r] + (sm ? sm[r] : 0);
    }
    if (dst->dec && src->dec) rec_unknown_merge(dst->dec, src->dec);
    return PCR_OK;
}

void api_engine_too_long(pcr_engine *e, uint64_t recno, const char **line, size_t *len)
{
    char *msg = e->last_msg;
    snprintf(msg, sizeof e->last_msg, "record %llu: line longer than %d bytes", (unsigned long long)recno,
             REC_MAX_LINE);
    e->line.n = 0;
    out_error(&e->line, NULL, 0, msg);
    remember(e, PCR_DEC_ERROR, NULL, NULL, 0, msg);
    *line = e->line.p;
    *len = e->line.n;
}

void pcr_engine_print_stats(const pcr_engine *e, const pcr_stats *st, FILE *out)
{
    fprintf(out, "records %llu  bytes %llu  seconds %.3f\n", (unsigned long long)st->records,
            (unsigned long long)st->bytes, st->seconds);
    if (st->seconds > 0)
        fprintf(out, "throughput %.0f records/s  %.1f MB/s\n", (double)st->records / st->seconds,
                (double)st->bytes / st->seconds / 1e6);
    for (int k = 0; k <= PCR_DEC_ERROR; k++)
        if (st->by_decision[k])
            fprintf(out, "decision %-12s %llu\n", pcr_decision_name((pcr_decision_kind)k),
                    (unsigned long long)st->by_decision[k]);
    for (size_t i = 0; i < e->n; i++) {
        const Prog *p = e->v[i].pol->prog;
        char sum[SHA256_HEX];
        pcr_policy_sha256(e->v[i].pol, sum);
        fprintf(out, "policy %s@%s sha256 %s\n", p->strs[p->id], p->strs[p->version], sum);
    }
    for (size_t i = 0; i < e->n; i++) {
        const Prog *p = e->v[i].pol->prog;
        const uint64_t *counts = vm_rule_counts(e->v[i].vm);
        const uint64_t *merged = e->v[i].merged;
        for (uint32_t r = 0; r < p->nrules; r++) {
            uint64_t c = counts[r] + (merged ? merged[r] : 0);
            if (c)
                fprintf(out, "rule %s@%s %s %llu\n", p->strs[p->id], p->strs[p->version],
                        p->strs[p->rules[r].id], (unsigned long long)c);
        }
    }
    if (e->dec) {
        size_t nu = rec_unknown_count(e->dec);
        for (size_t i = 0; i < nu; i++) {
            uint64_t count = 0;
            const char *key = rec_unknown_key(e->dec, i, &count);
            fputs("unknown_key ", out);
            for (const char *c = key; *c; c++) /* one word per name, whatever it holds */
                fputc(*c > ' ' && *c < 0x7f ? *c : '?', out);
            fprintf(out, " %llu", (unsigned long long)count);
            const char *near = rec_field_nearest(e->dec, key, strlen(key));
            if (near) fprintf(out, " (did you mean '%s'?)", near);
            fputc('\n', out);
        }
        if (rec_unknown_other(e->dec))
            fprintf(out, "unknown_key (others) %llu\n",
                    (unsigned long long)rec_unknown_other(e->dec));
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) fprintf(out, "peak_rss_kb %ld\n", ru.ru_maxrss);
    fprintf(out, "dispatch vm %s reader %s\n", vm_dispatch(), rec_dispatch());
}

/* ---- policy facts for hosts ------------------------------------------------ */

void pcr_policy_window(const pcr_policy *p, char *from, char *through)
{
    const Prog *g = p->prog;
    from[0] = through[0] = '\0';
    if (g->eff_from != DATE_OPEN_FROM) date_format(g->eff_from, from);
    if (g->eff_through != DATE_OPEN_THROUGH) date_format(g->eff_through, through);
}

void pcr_policy_sha256(const pcr_policy *p, char *hex)
{
    if (p->sha256[0]) {
        memcpy(hex, p->sha256, SHA256_HEX);
        return;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (pcr_policy_save(p, &buf, &len) != PCR_OK) {
        hex[0] = '\0';
        return;
    }
    sha256_hex(buf, len, hex);
    free(buf);
}
/* ---- engine options ---------------------------------------------------------- */

void pcr_engine_set_strict(pcr_engine *e, bool strict)
{
    if (!e) return;
    e->strict = strict;
    if (e->dec) rec_decoder_set_strict(e->dec, strict);
}

/* ---- formatting ---------------------------------------------------------------- */

pcr_status pcr_format_buffer(const char *name, const char *src, size_t len, char **out,
                             size_t *out_len, pcr_diags **diags)
{
    if (!name || (!src && len) || !out || !out_len) return PCR_ERR_USAGE;
    *out = NULL;
    *out_len = 0;
    Diags *d = diags_new();
    pcr_status st = PCR_ERR_POLICY;
    if (len > SOURCE_MAX_BYTES) {
        Loc nowhere = {0, 0, 0, 0, 0};
        diag_error(d, "E103", nowhere, "%s is larger than 8 MiB; sources are limited to 8 MiB",
                   name);
    } else {
        uint32_t file = diags_add_file(d, name, xstrndup(src ? src : "", len), len);
        *out = fmt_source(d, file, out_len);
        if (*out) st = PCR_OK;
    }
    if (diags) *diags = d;
    else pcr_diags_free(d);
    return st;
}


/* ---- for the library's other front ends (engine.h) ------------------------ */

const Prog *engine_schema(const pcr_engine *e) { return e->n ? e->v[0].pol->prog : NULL; }

const RecDecoder *engine_decoder(const pcr_engine *e) { return e->dec; }

void engine_fail(pcr_engine *e, const char *id, size_t id_len, const char *msg, const char **line,
                 size_t *len)
{
    snprintf(e->last_msg, sizeof e->last_msg, "%s", msg);
    e->line.n = 0;
    out_error(&e->line, id, id_len, e->last_msg);
    remember(e, PCR_DEC_ERROR, NULL, id, id_len, e->last_msg);
    *line = e->line.p;
    *len = e->line.n;
}

/* ---- records fed member by member ---------------------------------------- */

bool pcr_engine_feed_begin(pcr_engine *e, uint64_t recno)
{
    if (!e || e->n == 0) return false;
    rec_begin(e->dec, recno);
    e->feed_recno = recno;
    return true;
}

bool pcr_engine_feed_string(pcr_engine *e, const char *key, size_t klen, const char *s, size_t n)
{
    return e && e->n && key && (s || !n) && rec_put_string(e->dec, key, klen, s ? s : "", n);
}

bool pcr_engine_feed_number(pcr_engine *e, const char *key, size_t klen, const char *text, size_t n)
{
    return e && e->n && key && text && rec_put_number(e->dec, key, klen, text, n);
}

bool pcr_engine_feed_bool(pcr_engine *e, const char *key, size_t klen, bool v)
{
    return e && e->n && key && rec_put_bool(e->dec, key, klen, v);
}

bool pcr_engine_feed_null(pcr_engine *e, const char *key, size_t klen)
{
    return e && e->n && key && rec_put_null(e->dec, key, klen);
}

bool pcr_engine_feed_json(pcr_engine *e, const char *key, size_t klen, const char *json, size_t n)
{
    return e && e->n && key && json && rec_put_json(e->dec, key, klen, json, n);
}

bool pcr_engine_feed_members(pcr_engine *e, const pcr_feed_member *m, size_t n)
{
    return e && e->n && (m || !n) && rec_put_members(e->dec, m, n);
}

void pcr_engine_feed_utf8_checked(pcr_engine *e, bool checked)
{
    if (!e) return;
    e->feed_utf8_checked = checked;
    if (e->dec) rec_fed_utf8_checked(e->dec, checked);
}

bool pcr_engine_feed_eval(pcr_engine *e, const char **line, size_t *line_len, pcr_decision_kind *kind)
{
    if (!e || e->n == 0) return false;
    const Record *r = rec_finish(e->dec);
    if (!r) return false;
    e->line.n = 0;
    pcr_decision_kind k = decide_record(e, r, &e->line);
    if (e->explain) explain_last(e, r, e->feed_recno, NULL);
    if (line) *line = e->line.p;
    if (line_len) *line_len = e->line.n;
    if (kind) *kind = k;
    return true;
}
