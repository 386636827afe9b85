/* diff.c: the changes between two versions of a policy (diff.h is the
 * contract). */
#include "diff.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "codetext.h"
#include "dates.h"
#include "lint_solve.h"
#include "out.h"
#include "rec.h"
#include "vm.h"

enum { DIFF_MAX_RANGES = 12 }; /* code intervals printed per change */

/* One version: its model, program and what decides its records. */
typedef struct Side {
    const Sema *s;
    const Model *m;
    const Prog *p;
    RecDecoder *dec;
    Vm *vm;
    OutPolicy *out;
    Solver sv;
} Side;

typedef struct Diff {
    Side o, n;
    FILE *out;
    Arena arena;
    bool same_schema; /* fields match one to one: boxes carry over */
    bool changed;
} Diff;

/* ---- words ----------------------------------------------------------------- */

static void put_window(Buf *b, int32_t from, int32_t through)
{
    char d[16];
    if (from == DATE_OPEN_FROM && through == DATE_OPEN_THROUGH) {
        buf_puts(b, "always");
        return;
    }
    if (from != DATE_OPEN_FROM) {
        date_format(from, d);
        buf_printf(b, "from %s", d);
    }
    if (through != DATE_OPEN_THROUGH) {
        date_format(through, d);
        buf_printf(b, "%sthrough %s", from != DATE_OPEN_FROM ? " " : "", d);
    }
}

static void put_deadline(Buf *b, const SRule *r)
{
    static const char *unit[] = {"", "hours", "days", "business_days"};
    if (!r->dl_unit || r->dl_unit > 3) {
        buf_puts(b, "none");
        return;
    }
    buf_printf(b, "%d %s %s service", r->dl_amount, unit[r->dl_unit],
               r->dl_dir == DIR_AFTER ? "after" : "before");
}

static void put_reviewers(Buf *b, const SRule *r)
{
    if (!r->nreviewers) buf_puts(b, "(the policy's)");
    for (uint32_t i = 0; i < r->nreviewers; i++) buf_printf(b, "%s\"%s\"", i ? ", " : "", r->reviewers[i]);
}

/* Codes as pcrc list prints them (codetext.h), at most DIFF_MAX_RANGES
 * intervals of them. */
static void put_codes(Buf *b, const CodeSet *s)
{
    codetext_put(s->r, s->n < DIFF_MAX_RANGES ? s->n : DIFF_MAX_RANGES, b);
    if (s->n > DIFF_MAX_RANGES) buf_printf(b, " and %zu more ranges", s->n - DIFF_MAX_RANGES);
}

static void flush(Diff *D, Buf *b)
{
    if (b->n) fwrite(b->p, 1, b->n, D->out);
    b->n = 0;
}

/* ---- codes -------------------------------------------------------------------- */

/* The codes rule r's `when` asks for (the sets tested without a `not`). */
static void when_codes(const Model *m, const Cond *c, bool neg, CodeSet *out)
{
    if (!c) return;
    switch (c->kind) {
    case C_NOT: when_codes(m, c->a, !neg, out); break;
    case C_AND:
    case C_OR:
        when_codes(m, c->a, neg, out);
        when_codes(m, c->b, neg, out);
        break;
    case C_INSET:
    case C_ANYSET:
        if (!neg)
            for (size_t i = 0; i < m->sets[c->set].codes.n; i++)
                code_set_add(out, m->sets[c->set].codes.r[i].lo, m->sets[c->set].codes.r[i].hi);
        break;
    default: break;
    }
}

/* Appends "  codes added: ...\n" and "  codes removed: ...\n" for a → b;
 * false when the codes are the same. */
static bool diff_codes(Buf *b, const char *indent, CodeSet *a, CodeSet *c)
{
    code_set_normalize(a);
    code_set_normalize(c);
    CodeSet add = {0}, del = {0};
    code_set_diff(&add, c, a);
    code_set_diff(&del, a, c);
    if (add.n) {
        buf_printf(b, "%scodes added: ", indent);
        put_codes(b, &add);
        buf_putc(b, '\n');
    }
    if (del.n) {
        buf_printf(b, "%scodes removed: ", indent);
        put_codes(b, &del);
        buf_putc(b, '\n');
    }
    bool any = add.n || del.n;
    code_set_free(&add);
    code_set_free(&del);
    return any;
}

/* ---- decisions --------------------------------------------------------------- */

/* Appends the decision line side S gives the record json. */
static void decide(Side *S, const char *json, Buf *b)
{
    const Record *r = rec_decode(S->dec, json, strlen(json), 1);
    if (!r) {
        out_error(b, "witness", 7, rec_error(S->dec));
        return;
    }
    const Prog *p = S->p;
    const RecVal *payer = &r->v[p->f_payer];
    int32_t day = (int32_t)r->v[p->f_service_date].i;
    if (payer->n != p->strlens[p->payer] || memcmp(payer->s, p->strs[p->payer], payer->n) != 0 ||
        day < p->eff_from || day > p->eff_through) {
        static const char why[] = "no policy of this version covers the witness's payer and date";
        out_no_policy(b, r->id, r->id_len, why, sizeof why - 1);
        return;
    }
    Decision d;
    vm_decide(S->vm, r, &d);
    out_decision(b, S->out, r->id, r->id_len, &d);
}

/* Shows a witness of box x with both decisions, under `what`; the record
 * is written for side S (its payer). */
static void show_witness(Diff *D, Side *S, Buf *b, const Box *x, const char *id, const char *what)
{
    Buf w = {0};
    if (lsol_witness(&S->sv, x, id, &w)) {
        buf_putc(&w, '\0');
        buf_printf(b, "    %s, e.g. %s\n", what, w.p);
        buf_puts(b, "      old: ");
        decide(&D->o, w.p, b);
        buf_puts(b, "      new: ");
        decide(&D->n, w.p, b);
    } else {
        buf_printf(b, "    %s\n", what);
    }
    buf_free(&w);
}

/* ---- rules --------------------------------------------------------------------- */

static int32_t find_rule(const Model *m, const char *id)
{
    for (uint32_t i = 0; i < m->nrules; i++)
        if (strcmp(m->rules[i].id, id) == 0) return (int32_t)i;
    return -1;
}

static bool same_reviewers(const SRule *a, const SRule *b)
{
    if (a->nreviewers != b->nreviewers) return false;
    for (uint32_t i = 0; i < a->nreviewers; i++)
        if (strcmp(a->reviewers[i], b->reviewers[i]) != 0) return false;
    return true;
}

static void rule_changes(Diff *D, const SRule *a, const SRule *c)
{
    Buf b = {0};
    if (a->outcome != c->outcome)
        buf_printf(&b, "  outcome: %s -> %s\n", out_outcome_name(a->outcome), out_outcome_name(c->outcome));
    if (!same_reviewers(a, c)) {
        buf_puts(&b, "  reviewer: ");
        put_reviewers(&b, a);
        buf_puts(&b, " -> ");
        put_reviewers(&b, c);
        buf_putc(&b, '\n');
    }
    if (a->dl_unit != c->dl_unit || a->dl_amount != c->dl_amount || a->dl_dir != c->dl_dir) {
        buf_puts(&b, "  deadline: ");
        put_deadline(&b, a);
        buf_puts(&b, " -> ");
        put_deadline(&b, c);
        buf_putc(&b, '\n');
    }
    if (a->eff_from != c->eff_from || a->eff_through != c->eff_through) {
        buf_puts(&b, "  window: ");
        put_window(&b, a->eff_from, a->eff_through);
        buf_puts(&b, " -> ");
        put_window(&b, c->eff_from, c->eff_through);
        buf_putc(&b, '\n');
    }
    CodeSet ca = {0}, cc = {0};
    when_codes(D->o.m, a->when, false, &ca);
    when_codes(D->n.m, c->when, false, &cc);
    diff_codes(&b, "  ", &ca, &cc);
    code_set_free(&ca);
    code_set_free(&cc);

    /* Where it fires: new-only and old-only requests. */
    if (D->same_schema && a->when && c->when) {
        Arena tmp;
        arena_init(&tmp);
        D->o.sv.arena = D->n.sv.arena = &tmp;
        D->o.sv.approx = D->o.sv.overflow = D->n.sv.approx = D->n.sv.overflow = false;
        BoxList all = lsol_all(&D->n.sv, D->n.m->eff_from, D->n.m->eff_through);
        BoxList gained = lsol_not_fires(&D->o.sv, lsol_fires(&D->n.sv, all, c), a);
        BoxList lost = lsol_not_fires(&D->n.sv, lsol_fires(&D->o.sv, all, a), c);
        bool exact = !D->o.sv.approx && !D->o.sv.overflow && !D->n.sv.approx && !D->n.sv.overflow;
        if (gained.n || lost.n) {
            buf_puts(&b, "  condition: ");
            buf_puts(&b, gained.n && lost.n ? "applies to other requests\n"
                         : gained.n         ? "applies to more requests\n"
                                            : "applies to fewer requests\n");
            if (exact && gained.n) show_witness(D, &D->n, &b, &gained.v[0], c->id, "now applies");
            if (exact && lost.n) show_witness(D, &D->o, &b, &lost.v[0], c->id, "no longer applies");
        }
        arena_free(&tmp);
        D->o.sv.arena = D->n.sv.arena = &D->arena;
    }
    if (b.n) {
        D->changed = true;
        fprintf(D->out, "rule %s: changed\n", c->id);
        flush(D, &b);
    }
    buf_free(&b);
}

static void rule_added(Diff *D, const SRule *r, const char *how, Side *S)
{
    Buf b = {0};
    D->changed = true;
    buf_printf(&b, "rule %s: %s (%s) \"%s\"\n", r->id, how, out_outcome_name(r->outcome), r->title ? r->title : "");
    CodeSet codes = {0};
    when_codes(S->m, r->when, false, &codes);
    if (codes.n) {
        code_set_normalize(&codes);
        buf_puts(&b, "  codes: ");
        put_codes(&b, &codes);
        buf_putc(&b, '\n');
    }
    code_set_free(&codes);
    if (D->same_schema && r->when) {
        Arena tmp;
        arena_init(&tmp);
        S->sv.arena = &tmp;
        S->sv.approx = S->sv.overflow = false;
        BoxList all = lsol_all(&S->sv, S->m->eff_from, S->m->eff_through);
        BoxList f = lsol_fires(&S->sv, all, r);
        if (f.n && !S->sv.approx && !S->sv.overflow)
            show_witness(D, S, &b, &f.v[0], r->id, S == &D->n ? "applies" : "applied");
        arena_free(&tmp);
        S->sv.arena = &D->arena;
    }
    flush(D, &b);
    buf_free(&b);
}

/* ---- code sets ---------------------------------------------------------------- */

static void set_changes(Diff *D)
{
    const Model *om = D->o.m, *nm = D->n.m;
    Buf b = {0};
    for (uint32_t i = 0; i < nm->nsets; i++) {
        const SSet *s = &nm->sets[i];
        if (s->literal) continue; /* reported with its rule */
        uint32_t j = 0;
        while (j < om->nsets && strcmp(om->sets[j].name, s->name) != 0) j++;
        if (j == om->nsets) {
            D->changed = true;
            buf_printf(&b, "codeset %s: added\n", s->name);
            continue;
        }
        CodeSet a = {0}, c = {0};
        for (size_t k = 0; k < om->sets[j].codes.n; k++) code_set_add(&a, om->sets[j].codes.r[k].lo, om->sets[j].codes.r[k].hi);
        for (size_t k = 0; k < s->codes.n; k++) code_set_add(&c, s->codes.r[k].lo, s->codes.r[k].hi);
        Buf inner = {0};
        bool any = diff_codes(&inner, "  ", &a, &c);
        if (om->sets[j].eff_from != s->eff_from || om->sets[j].eff_through != s->eff_through) {
            buf_puts(&inner, "  window: ");
            put_window(&inner, om->sets[j].eff_from, om->sets[j].eff_through);
            buf_puts(&inner, " -> ");
            put_window(&inner, s->eff_from, s->eff_through);
            buf_putc(&inner, '\n');
            any = true;
        }
        if (any) {
            D->changed = true;
            buf_printf(&b, "codeset %s: changed\n", s->name);
            buf_put(&b, inner.p, inner.n);
        }
        buf_free(&inner);
        code_set_free(&a);
        code_set_free(&c);
    }
    for (uint32_t j = 0; j < om->nsets; j++) {
        if (om->sets[j].literal) continue;
        uint32_t i = 0;
        while (i < nm->nsets && strcmp(nm->sets[i].name, om->sets[j].name) != 0) i++;
        if (i == nm->nsets) {
            D->changed = true;
            buf_printf(&b, "codeset %s: removed\n", om->sets[j].name);
        }
    }
    flush(D, &b);
    buf_free(&b);
}

/* ---- driver ----------------------------------------------------------------------- */

static bool same_fields(const Model *a, const Model *b)
{
    if (a->nfields != b->nfields) return false;
    for (uint32_t i = 0; i < a->nfields; i++)
        if (strcmp(a->fields[i].name, b->fields[i].name) != 0 || a->fields[i].type != b->fields[i].type ||
            a->fields[i].elem != b->fields[i].elem || a->fields[i].nmembers != b->fields[i].nmembers)
            return false;
    return true;
}

static void side_init(Side *S, const Sema *s, const Prog *p, Arena *arena)
{
    S->s = s;
    S->m = &s->m;
    S->p = p;
    S->dec = rec_decoder_new(p);
    S->vm = vm_new(p);
    S->out = out_policy_new(p);
    lsol_init(&S->sv, arena, &s->m);
}

static void side_free(Side *S)
{
    rec_decoder_free(S->dec);
    vm_free(S->vm);
    out_policy_free(S->out);
}

static void header_changes(Diff *D)
{
    const Model *a = D->o.m, *c = D->n.m;
    Buf b = {0};
    if (strcmp(a->payer ? a->payer : "", c->payer ? c->payer : "") != 0)
        buf_printf(&b, "policy payer: \"%s\" -> \"%s\"\n", a->payer, c->payer);
    if (strcmp(a->version ? a->version : "", c->version ? c->version : "") != 0)
        buf_printf(&b, "policy version: \"%s\" -> \"%s\"\n", a->version, c->version);
    if (a->eff_from != c->eff_from || a->eff_through != c->eff_through) {
        buf_puts(&b, "policy window: ");
        put_window(&b, a->eff_from, a->eff_through);
        buf_puts(&b, " -> ");
        put_window(&b, c->eff_from, c->eff_through);
        buf_putc(&b, '\n');
    }
    if (!D->same_schema) buf_puts(&b, "schema: the fields changed (no witnesses are shown)\n");
    if (b.n) D->changed = true;
    flush(D, &b);
    buf_free(&b);
}

bool diff_models(const Sema *old, const Prog *pold, const Sema *new, const Prog *pnew, FILE *out)
{
    Diff D = {.out = out};
    arena_init(&D.arena);
    side_init(&D.o, old, pold, &D.arena);
    side_init(&D.n, new, pnew, &D.arena);
    D.same_schema = same_fields(D.o.m, D.n.m);

    header_changes(&D);
    for (uint32_t i = 0; i < D.n.m->nrules; i++) {
        const SRule *r = &D.n.m->rules[i];
        int32_t j = find_rule(D.o.m, r->id);
        if (j < 0) rule_added(&D, r, "added", &D.n);
        else rule_changes(&D, &D.o.m->rules[j], r);
    }
    for (uint32_t j = 0; j < D.o.m->nrules; j++)
        if (find_rule(D.n.m, D.o.m->rules[j].id) < 0) rule_added(&D, &D.o.m->rules[j], "removed", &D.o);
    set_changes(&D);
    if (!D.changed) fputs("no changes\n", out);

    side_free(&D.o);
    side_free(&D.n);
    arena_free(&D.arena);
    return D.changed;
}
