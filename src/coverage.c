/* coverage.c: which rules and unless alternatives a policy's tests reach
 * (pcrc test --coverage; docs/cli.md, "Coverage").
 *
 * Each test's record is decoded as pcrvm would and, when it is routed to
 * the policy, every rule is probed on it (explain_probe: the compiled
 * conditions read back and evaluated with the VM's three-valued logic).
 * A rule is fired by a test when its `when` is true and every unless is
 * false; near-missed when its `when` is true but an unless stopped it, or
 * when exactly one of two or more top-level `and` terms of the `when` is
 * not true. An unless alternative (a top-level `or` term of an unless
 * clause) is exercised by a test where the `when` is true and it is. */
#include "coverage.h"
#include "sema.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pcr/pcr.h"
#include "policy.h"
#include "rec.h"

/* Counts, per PSet, whether a code of rec (its code field, and the
 * elements of its lists of codes) is in it. */
static void count_set_hits(const Prog *p, const Record *rec, uint32_t *hits)
{
    for (uint32_t s = 0; s < p->nsets; s++) {
        const PSet *set = &p->sets[s];
        bool hit = false;
        for (uint32_t f = 0; f < p->nfields && !hit; f++) {
            if (!(rec->present >> f & 1)) continue;
            const PField *pf = &p->fields[f];
            if (pf->type == VT_CODE) {
                hit = code_ranges_contain(p->ranges + set->first, set->count, (CodeKey)rec->v[f].i);
            } else if (pf->type == VT_LIST && pf->elem == VT_CODE) {
                for (uint32_t j = 0; j < rec->v[f].n && !hit; j++)
                    hit = code_ranges_contain(p->ranges + set->first, set->count,
                                              (CodeKey)rec->items[rec->v[f].i + j].i);
            }
        }
        if (hit) hits[s]++;
    }
}

/* Whether rec goes to p (the payer and the policy's window). */
static bool routed(const Prog *p, const Record *r)
{
    const RecVal *payer = &r->v[p->f_payer];
    int32_t day = (int32_t)r->v[p->f_service_date].i;
    return payer->n == p->strlens[p->payer] && memcmp(payer->s, p->strs[p->payer], payer->n) == 0 &&
           day >= p->eff_from && day <= p->eff_through;
}

size_t cov_probe(const Prog *p, const TestCase *tests, size_t ntests, RuleCov *cov, uint32_t *set_hits)
{
    size_t routed_tests = 0;
    for (uint32_t r = 0; r < p->nrules; r++) {
        RuleProbe pr;
        explain_probe(p, r, NULL, &pr);
        cov[r].nalts = pr.nalts;
        memcpy(cov[r].clause, pr.alt_clause, sizeof cov[r].clause);
    }
    RecDecoder *dec = rec_decoder_new(p);
    for (size_t i = 0; i < ntests; i++) {
        const char *json = tests[i].record_json;
        const Record *rec = json ? rec_decode(dec, json, strlen(json), i + 1) : NULL;
        if (!rec || !routed(p, rec)) continue;
        routed_tests++;
        if (set_hits) count_set_hits(p, rec, set_hits);
        for (uint32_t r = 0; r < p->nrules; r++) {
            RuleProbe pr;
            explain_probe(p, r, rec, &pr);
            bool stopped = false, all_false = true;
            for (uint32_t a = 0; a < pr.nalts; a++) {
                if (pr.alt[a] == 1) stopped = true;
                if (pr.alt[a] != 0) all_false = false;
                if (pr.when == 1 && pr.alt[a] == 1) cov[r].alt[a]++;
            }
            if (pr.when == 1 && all_false) cov[r].fired++;
            else if ((pr.when == 1 && stopped) || (pr.terms >= 2 && pr.unmet == 1)) cov[r].near++;
        }
    }
    rec_decoder_free(dec);
    return routed_tests;
}

static double pct(size_t n, size_t of) { return of ? 100.0 * (double)n / (double)of : 100.0; }

static void put_json_str(FILE *out, const char *s, size_t n)
{
    Buf b = {0};
    buf_put_json_str(&b, s, n);
    fwrite(b.p, 1, b.n, out);
    buf_free(&b);
}

static void put_text(FILE *out, const pcr_policy *pol, const RuleCov *cov, size_t ntests,
                     const pcr_coverage *t)
{
    const Prog *p = pol->prog;
    const char *path = pol->path ? pol->path : "?";
    fprintf(out, "coverage of %s by %zu test%s:\n", path, ntests, ntests == 1 ? "" : "s");
    Buf b = {0};
    for (uint32_t r = 0; r < p->nrules; r++) {
        const RuleCov *c = &cov[r];
        /* An inherited rule is written in its base's file. */
        const char *where = pol->merged && r < pol->merged->nrules ? pol->merged->file[r] : path;
        fprintf(out, "  %s:%u: rule %s: ", where, p->rules[r].line, p->strs[p->rules[r].id]);
        if (c->fired) fprintf(out, "fired by %u test%s\n", c->fired, c->fired == 1 ? "" : "s");
        else if (c->near) fprintf(out, "NOT FIRED, near-missed by %u test%s\n", c->near, c->near == 1 ? "" : "s");
        else fprintf(out, "NOT REACHED by any test\n");
        for (uint32_t a = 0; a < c->nalts; a++) {
            b.n = 0;
            explain_alt_text(&b, p, r, a);
            if (c->alt[a])
                fprintf(out, "    unless %.*s: exercised by %u test%s\n", (int)b.n, b.p, c->alt[a],
                        c->alt[a] == 1 ? "" : "s");
            else
                fprintf(out, "    unless %.*s: NOT EXERCISED\n", (int)b.n, b.p);
        }
    }
    buf_free(&b);
    fprintf(out, "rules fired: %zu of %zu (%.1f%%); near-missed only: %zu; not reached: %zu\n",
            t->rules_fired, t->rules, pct(t->rules_fired, t->rules), t->rules_near,
            t->rules - t->rules_fired - t->rules_near);
    fprintf(out, "unless alternatives exercised: %zu of %zu (%.1f%%)\n", t->alts_exercised, t->alts,
            pct(t->alts_exercised, t->alts));
}

static void put_json(FILE *out, const pcr_policy *pol, const RuleCov *cov, size_t ntests,
                     const pcr_coverage *t)
{
    const Prog *p = pol->prog;
    const char *path = pol->path ? pol->path : "";
    fputs("{\"policy\":", out);
    put_json_str(out, path, strlen(path));
    fprintf(out, ",\"tests\":%zu,\"rules\":[", ntests);
    Buf b = {0};
    for (uint32_t r = 0; r < p->nrules; r++) {
        const RuleCov *c = &cov[r];
        const char *id = p->strs[p->rules[r].id];
        fputs(r ? ",{\"id\":" : "{\"id\":", out);
        put_json_str(out, id, strlen(id));
        fprintf(out, ",\"line\":%u,", p->rules[r].line);
        if (pol->merged && r < pol->merged->nrules && pol->merged->from[r]) {
            /* An inherited rule: its line is in the file of the base it comes from. */
            fputs("\"file\":", out);
            put_json_str(out, pol->merged->file[r], strlen(pol->merged->file[r]));
            fputs(",\"from\":", out);
            put_json_str(out, pol->merged->from[r], strlen(pol->merged->from[r]));
            fputc(',', out);
        }
        fprintf(out, "\"fired\":%u,\"near_missed\":%u,\"unless\":[", c->fired, c->near);
        for (uint32_t a = 0; a < c->nalts; a++) {
            b.n = 0;
            explain_alt_text(&b, p, r, a);
            fprintf(out, "%s{\"clause\":%u,\"text\":", a ? "," : "", c->clause[a] + 1);
            put_json_str(out, b.p ? b.p : "", b.n);
            fprintf(out, ",\"exercised\":%u}", c->alt[a]);
        }
        fputs("]}", out);
    }
    buf_free(&b);
    fprintf(out,
            "],\"totals\":{\"rules\":%zu,\"fired\":%zu,\"near_missed_only\":%zu,"
            "\"alternatives\":%zu,\"exercised\":%zu,\"rules_percent\":%.1f,\"alternatives_percent\":%.1f}}\n",
            t->rules, t->rules_fired, t->rules_near, t->alts, t->alts_exercised,
            pct(t->rules_fired, t->rules), pct(t->alts_exercised, t->alts));
}

pcr_status pcr_policy_coverage(const pcr_policy *pol, FILE *out, bool json, pcr_coverage *totals)
{
    if (!pol || !out) return PCR_ERR_USAGE;
    const Prog *p = pol->prog;
    RuleCov *cov = calloc(p->nrules + 1, sizeof *cov);
    if (!cov) return PCR_ERR_IO;
    size_t ntests = cov_probe(p, pol->tests, pol->ntests, cov, NULL);
    pcr_coverage t = {0};
    for (uint32_t r = 0; r < p->nrules; r++) {
        t.rules++;
        if (cov[r].fired) t.rules_fired++;
        else if (cov[r].near) t.rules_near++;
        for (uint32_t a = 0; a < cov[r].nalts; a++) {
            t.alts++;
            if (cov[r].alt[a]) t.alts_exercised++;
        }
    }
    if (json) put_json(out, pol, cov, ntests, &t);
    else put_text(out, pol, cov, ntests, &t);
    free(cov);
    if (totals) {
        totals->rules += t.rules;
        totals->rules_fired += t.rules_fired;
        totals->rules_near += t.rules_near;
        totals->alts += t.alts;
        totals->alts_exercised += t.alts_exercised;
    }
    return ferror(out) ? PCR_ERR_IO : PCR_OK;
}
