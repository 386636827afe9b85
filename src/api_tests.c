/* api_tests.c: running a policy's `test` blocks (pcrc test).
 *
 * Each test's `given` record (rendered to JSON by the compiler) goes through
 * the same decoder, routing check and VM as a pcrvm input line, and the
 * result is compared with every expectation the test states. A failure is
 * one line, "FILE:LINE:COL: test "NAME" failed: ...", naming each
 * difference. */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "compile.h"
#include "dates.h"
#include "explain.h"
#include "out.h"
#include "pcr/pcr.h"
#include "policy.h"
#include "rec.h"
#include "vm.h"

/* What one test observed, in the terms tests state expectations in. */
typedef struct Observed {
    pcr_decision_kind kind;
    const char *error; /* decoder message for PCR_DEC_ERROR */
    Decision d;        /* valid unless kind is no_policy or error */
    const Record *rec; /* the decoded record, unless error */
} Observed;

static void observe(const Prog *p, RecDecoder *dec, Vm *vm, const TestCase *t, Observed *o)
{
    memset(o, 0, sizeof *o);
    const Record *r = rec_decode(dec, t->record_json, strlen(t->record_json), 1);
    if (!r) {
        o->kind = PCR_DEC_ERROR;
        o->error = rec_error(dec);
        return;
    }
    const RecVal *payer = &r->v[p->f_payer];
    int32_t day = (int32_t)r->v[p->f_service_date].i;
    if (!prog_has_payer(p, payer->s, payer->n) ||
        day < p->eff_from || day > p->eff_through) {
        o->kind = PCR_DEC_NO_POLICY;
        return;
    }
    o->rec = r;
    vm_decide(vm, r, &o->d);
    o->kind = o->d.kind;
}

/* Appends names as "a, b" (or "none"). */
static void put_names(Buf *b, const char *const *names, size_t n)
{
    if (n == 0) buf_puts(b, "none");
    for (size_t i = 0; i < n; i++) {
        if (i) buf_puts(b, ", ");
        buf_puts(b, names[i]);
    }
}

/* Set equality of two name lists (each without duplicates). */
static bool same_names(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && strcmp(a[i], b[j]) != 0) j++;
        if (j == nb) return false;
    }
    return true;
}

static void format_deadline(bool is_date, int64_t v, char *buf)
{
    if (is_date) date_format((int32_t)v, buf);
    else datetime_format(v, buf);
}

static const char *timely_name(int t) { return t > 0 ? "true" : t == 0 ? "false" : "unknown"; }

/* Appends the outcomes in bits (bit Outcome) as "a, b" (or "none"). */
static void put_outcomes(Buf *b, uint32_t bits)
{
    bool first = true;
    for (unsigned o = 0; o < OUT__COUNT; o++) {
        if (!(bits >> o & 1)) continue;
        if (!first) buf_puts(b, ", ");
        buf_puts(b, out_outcome_name(o));
        first = false;
    }
    if (first) buf_puts(b, "none");
}

static uint32_t outcomes_of(const Obligation *v, uint32_t n)
{
    uint32_t bits = 0;
    for (uint32_t k = 0; k < n; k++) bits |= 1u << v[k].outcome;
    return bits;
}

/* Appends what a test needs to see when it fails: every obligation with
 * its reviewers, deadline and rules, the possible ones and what is
 * missing. */
static void put_actual(Buf *b, const Prog *p, const Decision *d)
{
    buf_puts(b, "\n    obligations:");
    if (d->nobligations == 0) buf_puts(b, " none");
    for (uint32_t i = 0; i < d->nobligations + d->npossible; i++) {
        const Obligation *o = i < d->nobligations ? &d->obligations[i] : &d->possible[i - d->nobligations];
        if (i == d->nobligations) buf_puts(b, "\n    possible:");
        buf_printf(b, "%s %s", i == 0 || i == d->nobligations ? "" : ";", out_outcome_name(o->outcome));
        for (uint32_t k = 0; k < o->nreviewers; k++)
            buf_printf(b, "%s\"%s\"", k ? ", " : " by ", p->strs[o->reviewers[k]]);
        if (o->has_deadline) {
            char dl[24];
            format_deadline(o->deadline_is_date, o->deadline, dl);
            buf_printf(b, " by %s", dl);
        }
        buf_puts(b, " [");
        for (uint32_t k = 0; k < o->nrules; k++)
            buf_printf(b, "%s%s", k ? ", " : "", p->strs[p->rules[o->rules[k]].id]);
        buf_puts(b, "]");
    }
    if (d->missing) {
        buf_puts(b, "\n    missing:");
        for (uint32_t f = 0; f < p->nfields; f++)
            if (d->missing >> f & 1) buf_printf(b, " %s", p->strs[p->fields[f].name]);
    }
}

/* Compares o with t's expectations; appends "; "-separated differences to
 * why. got is scratch for at least max(rules, strings, fields) names.
 * Returns true when all hold. */
static bool compare(const Prog *p, const TestCase *t, const Observed *o, Buf *why,
                    const char **got)
{
    size_t start = why->n;
    if (o->kind != t->expect) {
        buf_printf(why, "expected %s, got %s", pcr_decision_name(t->expect),
                   pcr_decision_name(o->kind));
        if (o->kind == PCR_DEC_ERROR) buf_printf(why, " (%s)", o->error);
    }
    bool decided = o->kind != PCR_DEC_ERROR && o->kind != PCR_DEC_NO_POLICY;
    if (t->check_rules) {
        size_t n = 0;
        for (uint32_t i = 0; decided && i < o->d.nrules; i++)
            got[n++] = p->strs[p->rules[o->d.rules[i]].id];
        if (!same_names(t->rules, t->nrules, got, n)) {
            if (why->n > start) buf_puts(why, "; ");
            buf_puts(why, "expected rules [");
            put_names(why, t->rules, t->nrules);
            buf_puts(why, "], got [");
            put_names(why, got, n);
            buf_puts(why, "]");
        }
    }
    if (t->check_reviewers) {
        size_t n = 0;
        for (uint32_t i = 0; decided && i < o->d.nreviewers; i++)
            got[n++] = p->strs[o->d.reviewers[i]];
        if (!same_names(t->reviewers, t->nreviewers, got, n)) {
            if (why->n > start) buf_puts(why, "; ");
            buf_puts(why, "expected reviewer ");
            put_names(why, t->reviewers, t->nreviewers);
            buf_puts(why, ", got ");
            put_names(why, got, n);
        }
    }
    if (t->check_missing) {
        size_t n = 0;
        for (uint32_t f = 0; decided && f < p->nfields && f < 64; f++)
            if (o->d.missing >> f & 1) got[n++] = p->strs[p->fields[f].name];
        if (!same_names(t->missing, t->nmissing, got, n)) {
            if (why->n > start) buf_puts(why, "; ");
            buf_puts(why, "expected missing [");
            put_names(why, t->missing, t->nmissing);
            buf_puts(why, "], got [");
            put_names(why, got, n);
            buf_puts(why, "]");
        }
    }
    if (t->check_deadline) {
        bool has = decided && o->d.has_deadline;
        bool same = has ? !t->deadline_none && t->deadline_is_date == o->d.deadline_is_date &&
                              t->deadline == o->d.deadline
                        : t->deadline_none;
        if (!same) {
            char want[24] = "none", have[24] = "none";
            if (!t->deadline_none) format_deadline(t->deadline_is_date, t->deadline, want);
            if (has) format_deadline(o->d.deadline_is_date, o->d.deadline, have);
            if (why->n > start) buf_puts(why, "; ");
            buf_printf(why, "expected deadline %s, got %s", want, have);
        }
    }
    if (t->check_outcomes) {
        uint32_t have = decided ? outcomes_of(o->d.obligations, o->d.nobligations) : 0;
        if (have != t->outcomes) {
            if (why->n > start) buf_puts(why, "; ");
            buf_puts(why, "expected obligations ");
            put_outcomes(why, t->outcomes);
            buf_puts(why, ", got ");
            put_outcomes(why, have);
        }
    }
    if (t->check_possible) {
        uint32_t have = decided ? outcomes_of(o->d.possible, o->d.npossible) : 0;
        if (have != t->possible) {
            if (why->n > start) buf_puts(why, "; ");
            buf_puts(why, "expected possible [");
            put_outcomes(why, t->possible);
            buf_puts(why, "], got [");
            put_outcomes(why, have);
            buf_puts(why, "]");
        }
    }
    if (t->check_timely) {
        int have = decided ? o->d.timely : -1;
        if (have != t->timely) {
            if (why->n > start) buf_puts(why, "; ");
            buf_printf(why, "expected timely %s, got %s", timely_name(t->timely),
                       timely_name(have));
        }
    }
    if (why->n == start) return true;
    if (decided) {
        put_actual(why, p, &o->d);
        buf_puts(why, "\n  why:\n  ");
        size_t n0 = why->n;
        /* the rules that fired or are unknown, and those the test expected */
        explain_decision(why, p, o->rec, &o->d, t->rules, t->nrules);
        for (size_t k = n0; k < why->n; k++) /* indent it under the failure */
            if (why->p[k] == '\n' && k + 1 < why->n) {
                buf_reserve(why, 2);
                memmove(why->p + k + 3, why->p + k + 1, why->n - k - 1);
                why->p[k + 1] = ' ', why->p[k + 2] = ' ';
                why->n += 2;
            }
        if (why->n && why->p[why->n - 1] == '\n') why->n--;
    }
    return false;
}

pcr_status pcr_policy_run_tests(const pcr_policy *pol, FILE *out, bool verbose, size_t *passed,
                                size_t *failed)
{
    if (!pol || !out || !passed || !failed) return PCR_ERR_USAGE;
    const Prog *p = pol->prog;
    RecDecoder *dec = rec_decoder_new(p);
    Vm *vm = vm_new(p);
    Buf why = {0};
    size_t most = p->nrules > p->nstrs ? p->nrules : p->nstrs;
    const char **got = xmalloc((most > p->nfields ? most : p->nfields) * sizeof *got + 1);
    for (size_t i = 0; i < pol->ntests; i++) {
        const TestCase *t = &pol->tests[i];
        Observed o;
        observe(p, dec, vm, t, &o);
        why.n = 0;
        if (compare(p, t, &o, &why, got)) {
            (*passed)++;
            if (verbose) fprintf(out, "%s:%u:%u: test \"%s\" passed\n", pol->path, t->line, t->col,
                                 t->name);
        } else {
            (*failed)++;
            fprintf(out, "%s:%u:%u: test \"%s\" failed: %.*s\n", pol->path ? pol->path : "?",
                    t->line, t->col, t->name, (int)why.n, why.p);
        }
    }
    free(got);
    buf_free(&why);
    vm_free(vm);
    rec_decoder_free(dec);
    return PCR_OK;
}
