/* lint.c: the W6xx warnings (lint.h is the contract; docs/diagnostics.md
 * lists the codes and docs/workflow.md shows them in use).
 *
 * Each rule's "fires" region (its window, its when true, every unless false)
 * is computed once as a list of boxes (lint_solve.h); the lints are
 * questions about these regions: empty, disjoint, contained. */
#include "lint.h"

#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "compile.h"
#include "coverage.h"
#include "explain.h"
#include "buf.h"
#include "dates.h"
#include "lint_solve.h"

typedef struct Lint {
    const Sema *s;
    const Model *m;
    Diags *d;
    Arena arena; /* the rules' regions; freed at the end */
    Solver sv;
    BoxList *fires; /* per rule: where it fires */
    bool *exact;    /* per rule: fires[] is exact (no approximation, no overflow) */
} Lint;

/* ---- locations ---------------------------------------------------------- */

/* The n-th clause of kind k of rule ri's syntax, or NULL. */
static const Node *clause(const Lint *L, uint32_t ri, int k, uint32_t n)
{
    const Node *rn = L->s->rule_nodes[ri];
    for (const Node *c = rn ? rn->a : NULL; c; c = c->next)
        if (c->kind == N_CLAUSE && c->op == k && n-- == 0) return c->a ? c->a : c;
    return NULL;
}

static Loc rule_loc(const Lint *L, uint32_t ri) { return L->m->rules[ri].loc; }

static Loc when_loc(const Lint *L, uint32_t ri)
{
    const Node *n = clause(L, ri, CL_WHEN, 0);
    return n ? n->loc : rule_loc(L, ri);
}

static Loc unless_loc(const Lint *L, uint32_t ri, uint32_t i)
{
    const Node *n = clause(L, ri, CL_UNLESS, i);
    return n ? n->loc : rule_loc(L, ri);
}

/* Appends the top-level `or` terms of n to v (as explain_probe counts
 * them). */
static void or_terms(const Node *n, const Node **v, uint32_t *k, uint32_t cap)
{
    if (n && n->kind == N_BINARY && n->op == BIN_OR) {
        size_t m;
        const Node **t = ast_chain(n, BIN_OR, &m);
        for (size_t i = 0; i < m; i++) or_terms(t[i], v, k, cap);
        free(t);
    } else if (n && *k < cap) {
        v[(*k)++] = n;
    }
}

/* Where alternative `alt` (0-based within its clause) of unless clause i is. */
static Loc alt_loc(const Lint *L, uint32_t ri, uint32_t i, uint32_t alt)
{
    const Node *n = clause(L, ri, CL_UNLESS, i);
    const Node *v[EXPLAIN_MAX_ALTS];
    uint32_t k = 0;
    or_terms(n, v, &k, EXPLAIN_MAX_ALTS);
    return alt < k ? v[alt]->loc : unless_loc(L, ri, i);
}

/* The first string literal `str` in the expression tree n, or NULL. */
static const Node *find_string(const Node *n, const char *str)
{
    for (; n; n = n->next) {
        if (n->kind == N_STRING && n->str && strcmp(n->str, str) == 0) return n;
        const Node *f = find_string(n->a, str);
        if (!f) f = find_string(n->b, str);
        if (f) return f;
    }
    return NULL;
}

/* ---- allowances -------------------------------------------------------- */

/* Whether line [p, end) holds "lint: allow" followed by code in a comment. */
static bool line_allows(const char *p, const char *end, const char *code)
{
    const char *hash = memchr(p, '#', (size_t)(end - p));
    size_t k = strlen(code);
    const char *q = hash;
    while (q && q + 11 <= end && memcmp(q, "lint: allow", 11) != 0) q++;
    if (!q || q + 11 > end) return false;
    for (q += 11; q + k <= end; q++)
        if (memcmp(q, code, k) == 0) return true;
    return false;
}

bool lint_allowed(const Diags *d, Loc at, const char *code)
{
    if (at.file >= d->nfiles || at.line == 0) return false;
    const SrcFile *f = &d->files[at.file];
    const char *text = f->text, *end = f->text + f->len;
    const char *line = text;
    for (uint32_t l = 1; l < at.line && line < end; l++) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        line = nl ? nl + 1 : end;
    }
    const char *eol = memchr(line, '\n', (size_t)(end - line));
    if (line_allows(line, eol ? eol : end, code)) return true;
    /* the comment lines right above */
    const char *cur = line;
    while (cur > text) {
        const char *prev_end = cur - 1; /* the '\n' ending the previous line */
        const char *prev = prev_end;
        while (prev > text && prev[-1] != '\n') prev--;
        const char *q = prev;
        while (q < prev_end && (*q == ' ' || *q == '\t')) q++;
        if (q == prev_end || *q != '#') return false;
        if (line_allows(prev, prev_end, code)) return true;
        cur = prev;
    }
    return false;
}

/* ---- notes ----------------------------------------------------------------- */

static void note(Lint *L, const char *code, Loc at, const char *fmt, const char *arg)
{
    diag_report(L->d, PCR_SEV_NOTE, code, at, fmt, arg);
}

/* Adds the witness note for box b; false when no well-formed record of b
 * was found (nothing is reported then). */
static bool witness(Lint *L, const char *code, Loc at, const Box *b, const char *id)
{
    Buf w = {0};
    bool ok = lsol_witness(&L->sv, b, id, &w);
    if (ok) {
        buf_putc(&w, '\0');
        note(L, code, at, "witness: %s", w.p);
    }
    buf_free(&w);
    return ok;
}

static void date_words(int32_t from, int32_t through, char *buf, size_t n)
{
    char a[16] = "", b[16] = "";
    if (from != DATE_OPEN_FROM) date_format(from, a);
    if (through != DATE_OPEN_THROUGH) date_format(through, b);
    if (through == DATE_OPEN_THROUGH) snprintf(buf, n, "from %s", a);
    else if (from == DATE_OPEN_FROM) snprintf(buf, n, "through %s", b);
    else snprintf(buf, n, "%s through %s", a, b);
}

static bool windows_meet(int32_t f1, int32_t t1, int32_t f2, int32_t t2)
{
    return f1 <= t2 && f2 <= t1;
}

/* ---- W604: windows ------------------------------------------------------------ */

static void lint_windows(Lint *L)
{
    const Model *m = L->m;
    char pw[64], w[64];
    date_words(m->eff_from, m->eff_through, pw, sizeof pw);
    for (uint32_t i = 0; i < m->nrules; i++) {
        const SRule *r = &m->rules[i];
        if (windows_meet(r->eff_from, r->eff_through, m->eff_from, m->eff_through) ||
            lint_allowed(L->d, rule_loc(L, i), "W604"))
            continue;
        date_words(r->eff_from, r->eff_through, w, sizeof w);
        diag_report(L->d, PCR_SEV_WARNING, "W604", rule_loc(L, i),
                    "rule `%s` is effective %s, outside the policy's window (%s): it never applies",
                    r->id, w, pw);
        note(L, "W604", rule_loc(L, i), "%s", "no service date is in both windows, so no request can show it");
    }
    for (uint32_t i = 0; i < m->nsets; i++) {
        const SSet *s = &m->sets[i];
        if (s->bad || windows_meet(s->eff_from, s->eff_through, m->eff_from, m->eff_through) ||
            lint_allowed(L->d, s->loc, "W604"))
            continue;
        date_words(s->eff_from, s->eff_through, w, sizeof w);
        diag_report(L->d, PCR_SEV_WARNING, "W604", s->loc,
                    "code set `%s` is effective %s, outside the policy's window (%s): it never holds a code",
                    s->name, w, pw);
        note(L, "W604", s->loc, "%s", "no service date is in both windows, so no request can show it");
    }
}

/* ---- W601-W603: conditions --------------------------------------------------- */

static void lint_conditions(Lint *L, uint32_t ri, BoxList base)
{
    const SRule *r = &L->m->rules[ri];
    Solver *sv = &L->sv;
    sv->approx = sv->overflow = false;
    BoxList when = lsol_refine(sv, base, r->when, true);
    if (sv->overflow) return;
    if (when.n == 0) {
        if (lint_allowed(L->d, when_loc(L, ri), "W601")) return;
        diag_report(L->d, PCR_SEV_WARNING, "W601", when_loc(L, ri),
                    "rule `%s` can never fire: no request satisfies its condition", r->id);
        note(L, "W601", when_loc(L, ri), "%s",
             "every way to make it true asks one field for two values that exclude each other "
             "(or for a date outside the rule's window)");
        return;
    }
    bool when_exact = !sv->approx;
    for (uint32_t i = 0; i < r->nunless; i++) {
        sv->approx = sv->overflow = false;
        BoxList off = lsol_refine(sv, when, r->unless[i], false);
        bool off_ok = !sv->overflow;
        sv->approx = sv->overflow = false;
        BoxList on = lsol_refine(sv, when, r->unless[i], true);
        bool on_ok = !sv->overflow;
        if (lint_allowed(L->d, unless_loc(L, ri, i), off_ok && off.n == 0 ? "W602" : "W603"))
            continue;
        if (off_ok && off.n == 0) {
            diag_report(L->d, PCR_SEV_WARNING, "W602", unless_loc(L, ri, i),
                        "this `unless` of rule `%s` applies whenever its `when` holds: the rule never fires",
                        r->id);
            /* A request where both hold: the unless stops the rule. */
            if (!(when_exact && on_ok && on.n > 0 &&
                  witness(L, "W602", unless_loc(L, ri, i), &on.v[0], r->id)))
                note(L, "W602", unless_loc(L, ri, i), "%s",
                     "every request that satisfies the `when` also satisfies this `unless`");
        } else if (on_ok && on.n == 0) {
            diag_report(L->d, PCR_SEV_WARNING, "W603", unless_loc(L, ri, i),
                        "this `unless` of rule `%s` never applies when its `when` holds: it exempts nothing",
                        r->id);
            note(L, "W603", unless_loc(L, ri, i), "%s",
                 "no request satisfies both the `when` and this `unless`");
        }
    }
}

/* ---- W605: redundant rules; W606: conflicts; W607: idle exemptions ----------- */

static bool same_strings(const char **a, uint32_t na, const char **b, uint32_t nb)
{
    if (na != nb) return false;
    for (uint32_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0) return false;
    return true;
}

/* Whether rules a and b ask the same of a request. */
static bool same_ask(const SRule *a, const SRule *b)
{
    return a->outcome == b->outcome && a->outcome != OUT_EXEMPT && a->dl_unit == b->dl_unit &&
           a->dl_amount == b->dl_amount && a->dl_dir == b->dl_dir &&
           same_strings(a->reviewers, a->nreviewers, b->reviewers, b->nreviewers);
}

/* W605: a rule that fires only where another asking the same does. */
static void lint_redundant(Lint *L)
{
    const Model *m = L->m;
    Solver *sv = &L->sv;
    for (uint32_t i = 0; i < m->nrules; i++) {
        const SRule *r = &m->rules[i];
        if (!L->exact[i] || L->fires[i].n == 0 || lint_allowed(L->d, rule_loc(L, i), "W605"))
            continue;
        uint32_t by = PIDX_NONE;
        for (uint32_t j = 0; j < m->nrules && by == PIDX_NONE; j++) {
            const SRule *o = &m->rules[j];
            if (j == i || !o->when || !same_ask(r, o) || !L->exact[j] || L->fires[j].n == 0)
                continue;
            Arena tmp;
            arena_init(&tmp);
            sv->arena = &tmp;
            /* r is redundant when it fires only where o does; of two
             * equivalent rules, the later one is reported. */
            sv->overflow = false;
            BoxList alone = lsol_not_fires(sv, L->fires[i], o);
            bool ok = !sv->overflow && alone.n == 0;
            if (ok && j > i) {
                sv->overflow = false;
                BoxList back = lsol_not_fires(sv, L->fires[j], r);
                if (!sv->overflow && back.n == 0) ok = false; /* reported at j */
            }
            if (ok) by = j;
            arena_free(&tmp);
            sv->arena = &L->arena;
        }
        if (by == PIDX_NONE) continue;
        pcr_diag *g = diag_report(L->d, PCR_SEV_WARNING, "W605", rule_loc(L, i),
                                  "rule `%s` is redundant: rule `%s` asks the same (outcome, reviewer, "
                                  "deadline) of every request it applies to",
                                  r->id, m->rules[by].id);
        diag_related(L->d, g, rule_loc(L, by), "rule `%s` is here", m->rules[by].id);
        note(L, "W605", rule_loc(L, i), "%s", "no request makes this rule fire without the other");
        witness(L, "W605", rule_loc(L, i), &L->fires[i].v[0], r->id);
    }
}

/* W606: a not_covered rule that fires with prior_auth rules on one request:
 * one warning per not_covered rule, naming the first such rule and how many
 * others there are, with a request where both fire. */
static void lint_conflicts(Lint *L)
{
    const Model *m = L->m;
    Solver *sv = &L->sv;
    for (uint32_t i = 0; i < m->nrules; i++) {
        const SRule *r = &m->rules[i];
        if (r->outcome != OUT_NOT_COVERED || !L->exact[i] || L->fires[i].n == 0 ||
            lint_allowed(L->d, rule_loc(L, i), "W606"))
            continue;
        uint32_t first = PIDX_NONE, count = 0;
        Buf w = {0};
        for (uint32_t j = 0; j < m->nrules; j++) {
            const SRule *o = &m->rules[j];
            if (o->outcome != OUT_PRIOR_AUTH || !o->when) continue;
            Arena tmp;
            arena_init(&tmp);
            sv->arena = &tmp;
            sv->approx = sv->overflow = false;
            BoxList both = lsol_fires(sv, L->fires[i], o);
            if (!sv->approx && !sv->overflow && both.n > 0) {
                if (first == PIDX_NONE) {
                    if (lsol_witness(sv, &both.v[0], r->id, &w)) first = j;
                } else {
                    count++;
                }
            }
            arena_free(&tmp);
            sv->arena = &L->arena;
        }
        if (first != PIDX_NONE) {
            buf_putc(&w, '\0');
            pcr_diag *g = diag_report(
                L->d, PCR_SEV_WARNING, "W606", rule_loc(L, i),
                "rule `%s` (not covered) and rule `%s` (prior authorization)%s fire on the same request",
                r->id, m->rules[first].id, count ? ", among others," : "");
            diag_related(L->d, g, rule_loc(L, first), "rule `%s` is here", m->rules[first].id);
            if (count)
                diag_report(L->d, PCR_SEV_NOTE, "W606", rule_loc(L, i),
                            "%u other prior-authorization rule%s also fire%s with it", count,
                            count == 1 ? "" : "s", count == 1 ? "s" : "");
            note(L, "W606", rule_loc(L, i), "witness: %s", w.p);
        }
        buf_free(&w);
    }
}

/* W607: an exempt rule none of whose waived rules can fire with it. */
static void lint_exempts(Lint *L)
{
    const Model *m = L->m;
    Solver *sv = &L->sv;
    for (uint32_t i = 0; i < m->nrules; i++) {
        const SRule *r = &m->rules[i];
        if (r->outcome != OUT_EXEMPT || !L->exact[i] || L->fires[i].n == 0 ||
            lint_allowed(L->d, rule_loc(L, i), "W607"))
            continue;
        bool waives = false, sure = true;
        for (uint32_t j = 0; j < m->nrules && !waives; j++) {
            bool named = r->exempt_all;
            for (uint32_t k = 0; k < r->nwaives && !named; k++) named = r->waives[k] == j;
            if (!named || j == i || !m->rules[j].when) continue;
            Arena tmp;
            arena_init(&tmp);
            sv->arena = &tmp;
            sv->overflow = false;
            BoxList both = lsol_fires(sv, L->fires[i], &m->rules[j]);
            if (sv->overflow) sure = false;
            else if (both.n) waives = true;
            arena_free(&tmp);
            sv->arena = &L->arena;
        }
        if (waives || !sure) continue;
        diag_report(L->d, PCR_SEV_WARNING, "W607", rule_loc(L, i),
                    "exempt rule `%s` waives nothing: no rule it waives can fire when it does", r->id);
        note(L, "W607", rule_loc(L, i), "%s",
             "every request it applies to is outside the waived rules' conditions or windows");
    }
}

/* ---- W608: a string literal used once ---------------------------------------- */

typedef struct Lit {
    const char *s;
    uint32_t field;
    uint32_t rule; /* first rule using it */
    uint32_t uses;
} Lit;

typedef struct Lits {
    Lit *v;
    uint32_t n, cap;
} Lits;

static void lits_add(Lits *l, const char *s, uint32_t field, uint32_t rule)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i].field == field && strcmp(l->v[i].s, s) == 0) {
            l->v[i].uses++;
            return;
        }
    sema_reserve((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = (Lit){s, field, rule, 1};
}

static void lits_walk(Lits *l, const Cond *c, uint32_t rule)
{
    if (!c) return;
    switch (c->kind) {
    case C_SCMP:
        if (c->x.is_field && !c->y.is_field) lits_add(l, c->y.s, c->x.field, rule);
        if (c->y.is_field && !c->x.is_field) lits_add(l, c->x.s, c->y.field, rule);
        break;
    case C_ANYSTR: lits_add(l, c->str, c->field, rule); break;
    case C_NOT: lits_walk(l, c->a, rule); break;
    case C_AND:
    case C_OR:
        lits_walk(l, c->a, rule);
        lits_walk(l, c->b, rule);
        break;
    default: break;
    }
}

/* Whether a test's record gives field `name` the string s. */
static bool tests_use(const Sema *s, const char *name, const char *str)
{
    Buf pat = {0};
    buf_put_json_str(&pat, name, strlen(name));
    buf_putc(&pat, ':');
    buf_put_json_str(&pat, str, strlen(str));
    buf_putc(&pat, '\0');
    bool found = false;
    for (size_t i = 0; i < s->ntests && !found; i++)
        found = s->tests[i].record_json && strstr(s->tests[i].record_json, pat.p) != NULL;
    buf_free(&pat);
    return found;
}

static void lint_literals(Lint *L)
{
    const Model *m = L->m;
    Lits l = {0};
    for (uint32_t i = 0; i < m->nrules; i++) {
        lits_walk(&l, m->rules[i].when, i);
        for (uint32_t k = 0; k < m->rules[i].nunless; k++) lits_walk(&l, m->rules[i].unless[k], i);
    }
    const char **cands = xmalloc((l.n + 1) * sizeof *cands);
    for (uint32_t i = 0; i < l.n; i++) {
        const Lit *x = &l.v[i];
        const char *fname = m->fields[x->field].name;
        if (x->uses > 1 || tests_use(L->s, fname, x->s)) continue;
        size_t nc = 0;
        for (uint32_t k = 0; k < l.n; k++)
            if (k != i && l.v[k].field == x->field) cands[nc++] = l.v[k].s;
        const char *near = diag_nearest(x->s, cands, nc);
        if (!near) continue;
        const Node *rn = L->s->rule_nodes[x->rule];
        const Node *at = rn ? find_string(rn->a, x->s) : NULL;
        Loc loc = at ? at->loc : rule_loc(L, x->rule);
        if (lint_allowed(L->d, loc, "W608")) continue;
        diag_report(L->d, PCR_SEV_WARNING, "W608", loc,
                    "`\"%s\"` is compared with `%s` only here and in no test: did you mean `\"%s\"`?",
                    x->s, fname, near);
        note(L, "W608", loc, "%s",
             "a value written once is often a misspelling: nothing else in the policy or its tests uses it");
    }
    free(cands);
    free(l.v);
}

/* ---- W610: what no test reaches -------------------------------------------- */

static void lint_untested(Lint *L, const Prog *p)
{
    const Model *m = L->m;
    const Sema *s = L->s;
    if (s->ntests == 0 || p->nrules != m->nrules) return;
    RuleCov *cov = xcalloc(p->nrules + 1, sizeof *cov);
    uint32_t *hits = xcalloc(p->nsets + 1, sizeof *hits);
    cov_probe(p, s->tests, s->ntests, cov, hits);
    Buf b = {0};
    for (uint32_t i = 0; i < m->nrules; i++) {
        const SRule *r = &m->rules[i];
        /* An inherited rule is its base's to test (docs/language.md,
         * "Extending a base list"); coverage still counts it. */
        if (r->how == RULE_INHERITED) continue;
        if (!cov[i].fired && !lint_allowed(L->d, rule_loc(L, i), "W610")) {
            diag_report(L->d, PCR_SEV_WARNING, "W610", rule_loc(L, i), "rule `%s` is fired by no test", r->id);
            if (cov[i].near)
                diag_report(L->d, PCR_SEV_NOTE, "W610", rule_loc(L, i),
                            "%u test%s come%s close (its `when` true but an unless stops it, or one "
                            "condition away): pcrc test --coverage lists them",
                            cov[i].near, cov[i].near == 1 ? "" : "s", cov[i].near == 1 ? "s" : "");
            else
                note(L, "W610", rule_loc(L, i), "%s", "no test's record comes within one condition of it");
        }
        for (uint32_t a = 0; a < cov[i].nalts; a++) {
            uint32_t within = 0; /* its place in its clause */
            for (uint32_t k = 0; k < a; k++) within += cov[i].clause[k] == cov[i].clause[a];
            if (cov[i].alt[a]) continue;
            Loc at = alt_loc(L, i, cov[i].clause[a], within);
            if (lint_allowed(L->d, at, "W610")) continue;
            b.n = 0;
            explain_alt_text(&b, p, i, a);
            buf_putc(&b, '\0');
            diag_report(L->d, PCR_SEV_WARNING, "W610", at,
                        "`unless %s` of rule `%s` is exercised by no test", b.p, r->id);
            note(L, "W610", at, "%s",
                 "no test's record makes the rule's `when` true and this alternative true");
        }
    }
    for (uint32_t i = 0; i < m->nsets; i++) {
        const SSet *set = &m->sets[i];
        if (set->bad || set->pset == PIDX_NONE || set->pset >= p->nsets || set->literal ||
            hits[set->pset] || lint_allowed(L->d, set->loc, "W610"))
            continue;
        if (m->base && s->policy && set->loc.file != s->policy->loc.file) continue; /* the base's */
        diag_report(L->d, PCR_SEV_WARNING, "W610", set->loc, "code set `%s` holds no code of any test",
                    set->name);
        note(L, "W610", set->loc, "%s", "no test's record has a code in it");
    }
    buf_free(&b);
    free(cov);
    free(hits);
}

/* ---- driver -------------------------------------------------------------------- */

void lint_run(const Sema *s, const Prog *p)
{
    Lint L = {.s = s, .m = &s->m, .d = s->d};
    const Model *m = L.m;
    arena_init(&L.arena);
    lsol_init(&L.sv, &L.arena, m);
    L.fires = xcalloc(m->nrules + 1, sizeof *L.fires);
    L.exact = xcalloc(m->nrules + 1, sizeof *L.exact);

    lint_windows(&L);
    BoxList base = lsol_all(&L.sv, m->eff_from, m->eff_through);
    for (uint32_t i = 0; i < m->nrules; i++) {
        const SRule *r = &m->rules[i];
        if (!r->when || !windows_meet(r->eff_from, r->eff_through, m->eff_from, m->eff_through))
            continue;
        lint_conditions(&L, i, base);
        L.sv.approx = L.sv.overflow = false;
        L.fires[i] = lsol_fires(&L.sv, base, r);
        L.exact[i] = !L.sv.approx && !L.sv.overflow;
    }
    lint_redundant(&L);
    lint_conflicts(&L);
    lint_exempts(&L);
    lint_literals(&L);
    lint_sets(s);
    lint_untested(&L, p);

    free(L.fires);
    free(L.exact);
    arena_free(&L.arena);
}
