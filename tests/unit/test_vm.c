/* test_vm.c: the evaluator (vm.h) and decision lines (out.h).
 *
 * Programs are assembled by hand on top of th_std_prog(): each rule's
 * condition block is written opcode by opcode, records are filled field by
 * field, so these tests need neither the front end nor the decoder.
 * Expected values come from docs/language.md, worked out by hand. */

/* helpers.h defines static helpers that not every test binary uses. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "codes.h"
#include "dates.h"
#include "helpers.h"
#include "out.h"
#include "vm.h"
#include "vm_index.h"
#include "bc.h"

#include "ast.h" /* Outcome, DurationUnit, DIR_* */
#include "opcodes.h"
#include "policy.h"

/* ---- assembling programs ------------------------------------------------- */

static void emit(Prog *p, unsigned byte)
{
    p->code = realloc(p->code, p->ncode + 1);
    p->code[p->ncode++] = (uint8_t)byte;
}
static void emit16(Prog *p, uint32_t v)
{
    emit(p, v & 0xff);
    emit(p, v >> 8 & 0xff);
}
static void emit32(Prog *p, uint32_t v)
{
    emit16(p, v & 0xffff);
    emit16(p, v >> 16);
}

static uint32_t add_const(Prog *p, int64_t v)
{
    p->consts = realloc(p->consts, (p->nconsts + 1) * sizeof *p->consts);
    p->consts[p->nconsts] = v;
    return p->nconsts++;
}

static void e_op(Prog *p, Opcode op) { emit(p, op); }
static void e_load(Prog *p, const char *field)
{
    emit(p, OP_LOAD);
    emit(p, th_field_index(p, field));
}
static void e_present(Prog *p, const char *field)
{
    emit(p, OP_PRESENT);
    emit(p, th_field_index(p, field));
}
static void e_const(Prog *p, int64_t v)
{
    emit(p, OP_CONST);
    emit16(p, add_const(p, v));
}
static void e_str(Prog *p, const char *s)
{
    emit(p, OP_STR);
    emit32(p, th_str(p, s));
}
static void e_set(Prog *p, Opcode op, uint32_t set)
{
    emit(p, op);
    emit16(p, set);
}
static void e_mask(Prog *p, uint64_t mask)
{
    emit(p, OP_INMASK);
    emit16(p, add_const(p, (int64_t)mask));
}
static void e_anystr(Prog *p, const char *s)
{
    emit(p, OP_ANYSTR);
    emit32(p, th_str(p, s));
}
/* Emits a jump with a placeholder offset; returns where to patch it. */
static size_t e_jump(Prog *p, Opcode op)
{
    emit(p, op);
    size_t at = p->ncode;
    emit16(p, 0);
    return at;
}
/* Makes the jump at `at` land on the next instruction emitted. */
static void e_patch(Prog *p, size_t at)
{
    uint32_t d = p->ncode - (uint32_t)(at + 2);
    p->code[at] = d & 0xff;
    p->code[at + 1] = d >> 8 & 0xff;
}
/* field == v (ints, enums, dates) */
static void e_eq(Prog *p, const char *field, int64_t v)
{
    e_load(p, field);
    e_const(p, v);
    e_op(p, OP_EQ);
}

/* Starts rule id; its condition is whatever is emitted until rule_end. */
static uint32_t rule_begin(Prog *p, const char *id, Outcome o)
{
    uint32_t r = p->nrules++;
    p->rules = realloc(p->rules, p->nrules * sizeof *p->rules);
    PRule *rule = &p->rules[r];
    memset(rule, 0, sizeof *rule);
    rule->id = th_str(p, id);
    rule->title = th_str(p, id);
    rule->outcome = (uint8_t)o;
    rule->eff_from = DATE_OPEN_FROM;
    rule->eff_through = DATE_OPEN_THROUGH;
    rule->index_set = PIDX_NONE;
    rule->code_off = p->ncode;
    return r;
}
static void rule_end(Prog *p, uint32_t r)
{
    e_op(p, OP_RET);
    p->rules[r].code_len = p->ncode - p->rules[r].code_off;
}
static uint32_t rule_true(Prog *p, const char *id, Outcome o)
{
    uint32_t r = rule_begin(p, id, o);
    e_op(p, OP_TRUE);
    rule_end(p, r);
    return r;
}
static uint32_t rule_false(Prog *p, const char *id, Outcome o)
{
    uint32_t r = rule_begin(p, id, o);
    e_op(p, OP_FALSE);
    rule_end(p, r);
    return r;
}
/* A rule whose condition is `field == v`. */
static uint32_t rule_eq(Prog *p, const char *id, Outcome o, const char *field, int64_t v)
{
    uint32_t r = rule_begin(p, id, o);
    e_eq(p, field, v);
    rule_end(p, r);
    return r;
}
/* A rule whose condition is the bool field itself. */
static uint32_t rule_bool(Prog *p, const char *id, Outcome o, const char *field)
{
    uint32_t r = rule_begin(p, id, o);
    e_load(p, field);
    rule_end(p, r);
    return r;
}
static void rule_reviewers(Prog *p, uint32_t r, const char *const *names)
{
    p->rules[r].rev_first = p->nrefs;
    p->rules[r].rev_count = 0;
    for (; *names; names++, p->rules[r].rev_count++) th_ref(p, th_str(p, *names));
}
static void rule_waives(Prog *p, uint32_t r, const uint32_t *targets, uint32_t n)
{
    p->rules[r].waive_first = p->nrefs;
    p->rules[r].waive_count = n;
    for (uint32_t k = 0; k < n; k++) th_ref(p, targets[k]);
}
static void rule_deadline(Prog *p, uint32_t r, int32_t amount, DurationUnit unit, int dir)
{
    p->rules[r].dl_amount = amount;
    p->rules[r].dl_unit = (uint8_t)unit;
    p->rules[r].dl_dir = (uint8_t)dir;
}

/* Rebuilds p->always from the rules' index_set. */
static void finish(Prog *p)
{
    vi_drop(p); /* a VM made of p before these changes built its index */
    free(p->always);
    p->always = malloc((p->nrules + 1) * sizeof *p->always);
    p->nalways = 0;
    for (uint32_t r = 0; r < p->nrules; r++)
        if (p->rules[r].index_set == PIDX_NONE) p->always[p->nalways++] = r;
}

static CodeKey key(CodeSystem sys, const char *code)
{
    char norm[CODE_MAX_CHARS + 1];
    size_t n;
    const char *why;
    cr_assert(code_normalize(sys, code, strlen(code), norm, &n, &why), "bad code %s", code);
    return code_key(sys, norm, n);
}

static uint32_t add_set(Prog *p, const char *name, CodeKey lo, CodeKey hi)
{
    p->ranges = realloc(p->ranges, (p->nranges + 1) * sizeof *p->ranges);
    p->ranges[p->nranges].lo = lo;
    p->ranges[p->nranges].hi = hi;
    p->sets = realloc(p->sets, (p->nsets + 1) * sizeof *p->sets);
    p->sets[p->nsets].name = th_str(p, name);
    p->sets[p->nsets].first = p->nranges++;
    p->sets[p->nsets].count = 1;
    return p->nsets++;
}

/* Appends cs (normalized here, then freed) as one set of p. */
static uint32_t add_code_set(Prog *p, const char *name, CodeSet *cs)
{
    code_set_normalize(cs);
    p->ranges = realloc(p->ranges, (p->nranges + cs->n) * sizeof *p->ranges);
    memcpy(p->ranges + p->nranges, cs->r, cs->n * sizeof *cs->r);
    p->sets = realloc(p->sets, (p->nsets + 1) * sizeof *p->sets);
    p->sets[p->nsets].name = th_str(p, name);
    p->sets[p->nsets].first = p->nranges;
    p->sets[p->nsets].count = (uint32_t)cs->n;
    p->nranges += (uint32_t)cs->n;
    code_set_free(cs);
    return p->nsets++;
}

static void add_seg(Prog *p, CodeKey lo, CodeKey hi, const uint32_t *rules, uint32_t n)
{
    p->segs = realloc(p->segs, (p->nsegs + 1) * sizeof *p->segs);
    PSeg *s = &p->segs[p->nsegs++];
    s->lo = lo;
    s->hi = hi;
    s->first = p->nseg_rules;
    s->count = n;
    p->seg_rules = realloc(p->seg_rules, (p->nseg_rules + n + 1) * sizeof *p->seg_rules);
    for (uint32_t k = 0; k < n; k++) p->seg_rules[p->nseg_rules++] = rules[k];
}

static void add_holiday(Prog *p, int32_t day)
{
    p->holidays = realloc(p->holidays, (p->nholidays + 1) * sizeof *p->holidays);
    p->holidays[p->nholidays++] = day;
}

/* ---- records ------------------------------------------------------------- */

#define DAY(y, m, d) date_from_ymd(y, m, d)
#define AT(y, m, d, hh, mm) ((int64_t)DAY(y, m, d) * SECONDS_PER_DAY + (hh) * 3600 + (mm) * 60)

static const int32_t SD = 20514; /* 2026-03-02, a Monday; checked in a test */

static void set_i(const Prog *p, Record *r, const char *field, int64_t v)
{
    uint32_t f = th_field_index(p, field);
    r->present |= (uint64_t)1 << f;
    r->v[f].i = v;
}
static void set_s(const Prog *p, Record *r, const char *field, const char *s)
{
    uint32_t f = th_field_index(p, field);
    r->present |= (uint64_t)1 << f;
    r->v[f].s = s;
    r->v[f].n = (uint32_t)strlen(s);
}
static void set_list(const Prog *p, Record *r, const char *field, uint32_t first, uint32_t n)
{
    uint32_t f = th_field_index(p, field);
    r->present |= (uint64_t)1 << f;
    r->v[f].i = first;
    r->v[f].n = n;
}
static void unset(const Prog *p, Record *r, const char *field)
{
    r->present &= ~((uint64_t)1 << th_field_index(p, field));
}
static Record rec_new(const Prog *p, int32_t service_date)
{
    Record r;
    memset(&r, 0, sizeof r);
    set_s(p, &r, "id", "r1");
    set_s(p, &r, "payer", "testpayer");
    set_i(p, &r, "service_date", service_date);
    r.has_id = true;
    r.id = "r1";
    r.id_len = 2;
    return r;
}

static uint64_t bit(const Prog *p, const char *field) { return (uint64_t)1 << th_field_index(p, field); }

static int eval(const Prog *p, const Record *rec, uint32_t r, uint64_t *missing)
{
    vi_drop(p); /* tests change p between evaluations: index it afresh */
    Vm *vm = vm_new(p);
    uint64_t m = ~(uint64_t)0;
    int v = vm_eval_rule(vm, rec, r, &m);
    vm_free(vm);
    if (missing) *missing = m;
    return v;
}

static Decision decide(const Prog *p, const Record *rec)
{
    vi_drop(p); /* tests change p between decisions: index it afresh */
    Vm *vm = vm_new(p);
    Decision d;
    vm_decide(vm, rec, &d);
    /* The arrays live in the VM: keep copies past vm_free. */
    uint32_t *rules = malloc((d.nrules + 1) * sizeof *rules);
    uint32_t *revs = malloc((d.nreviewers + 1) * sizeof *revs);
    if (d.nrules) memcpy(rules, d.rules, d.nrules * sizeof *rules);
    if (d.nreviewers) memcpy(revs, d.reviewers, d.nreviewers * sizeof *revs);
    /* Obligations: their own rule lists too (reviewers live in the Prog). */
    uint32_t nob = d.nobligations + d.npossible;
    Obligation *obl = malloc((nob + 1) * sizeof *obl);
    for (uint32_t k = 0; k < nob; k++) {
        obl[k] = k < d.nobligations ? d.obligations[k] : d.possible[k - d.nobligations];
        uint32_t *r = malloc((obl[k].nrules + 1) * sizeof *r);
        if (obl[k].nrules) memcpy(r, obl[k].rules, obl[k].nrules * sizeof *r);
        obl[k].rules = r;
    }
    vm_free(vm);
    d.rules = rules;
    d.reviewers = revs;
    d.obligations = obl;
    d.possible = obl + d.nobligations;
    return d;
}
static void decision_free(Decision *d)
{
    free((void *)d->rules);
    free((void *)d->reviewers);
    for (uint32_t k = 0; k < d->nobligations + d->npossible; k++)
        free((void *)d->obligations[k].rules);
    free((void *)d->obligations);
}

/* Asserts that o is of outcome `outcome` and from exactly rules want[0 .. n). */
static void expect_obligation(const Obligation *o, uint8_t outcome, const uint32_t *want, uint32_t n)
{
    cr_assert_eq(o->outcome, outcome, "outcome %u, want %u", o->outcome, outcome);
    cr_assert_eq(o->nrules, n, "obligation nrules %u, want %u", o->nrules, n);
    for (uint32_t k = 0; k < n; k++) cr_assert_eq(o->rules[k], want[k], "obligation rules[%u]", k);
}

/* Asserts that d.rules is exactly the given rule indices. */
static void expect_rules(const Decision *d, const uint32_t *want, uint32_t n)
{
    cr_assert_eq(d->nrules, n, "nrules %u, want %u", d->nrules, n);
    for (uint32_t k = 0; k < n; k++) cr_assert_eq(d->rules[k], want[k], "rules[%u]", k);
}
static void expect_reviewers(const Prog *p, const Decision *d, const char *const *want)
{
    uint32_t n = 0;
    for (; want[n]; n++) {
        cr_assert_lt(n, d->nreviewers, "too few reviewers");
        cr_assert_str_eq(p->strs[d->reviewers[n]], want[n]);
    }
    cr_assert_eq(d->nreviewers, n, "nreviewers %u, want %u", d->nreviewers, n);
}

/* ---- three-valued logic -------------------------------------------------- */

/* Truth value t (1 true, 0 false, -1 unknown) of `field == 1`. */
static void set_tv(const Prog *p, Record *r, const char *field, int t)
{
    if (t < 0) unset(p, r, field);
    else set_i(p, r, field, t ? 1 : 2);
}

Test(vm, kleene_and_or_not)
{
    Prog *p = th_std_prog();
    uint32_t r_and = rule_begin(p, "and", OUT_PRIOR_AUTH);
    e_eq(p, "units", 1);
    e_eq(p, "member_age", 1);
    e_op(p, OP_AND);
    rule_end(p, r_and);
    uint32_t r_or = rule_begin(p, "or", OUT_PRIOR_AUTH);
    e_eq(p, "units", 1);
    e_eq(p, "member_age", 1);
    e_op(p, OP_OR);
    rule_end(p, r_or);
    /* the emitter's short-circuit shapes: A JFALSE(L) B AND L: / A JTRUE(L) B OR L: */
    uint32_t r_sand = rule_begin(p, "sand", OUT_PRIOR_AUTH);
    e_eq(p, "units", 1);
    size_t j1 = e_jump(p, OP_JFALSE);
    e_eq(p, "member_age", 1);
    e_op(p, OP_AND);
    e_patch(p, j1);
    rule_end(p, r_sand);
    uint32_t r_sor = rule_begin(p, "sor", OUT_PRIOR_AUTH);
    e_eq(p, "units", 1);
    size_t j2 = e_jump(p, OP_JTRUE);
    e_eq(p, "member_age", 1);
    e_op(p, OP_OR);
    e_patch(p, j2);
    rule_end(p, r_sor);
    uint32_t r_not = rule_begin(p, "not", OUT_PRIOR_AUTH);
    e_eq(p, "units", 1);
    e_op(p, OP_NOT);
    rule_end(p, r_not);
    finish(p);

    static const int vals[3] = {1, 0, -1};
    /* [a][b], a and b in the order true, false, unknown (Kleene). */
    static const int want_and[3][3] = {{1, 0, -1}, {0, 0, 0}, {-1, 0, -1}};
    static const int want_or[3][3] = {{1, 1, 1}, {1, 0, -1}, {1, -1, -1}};
    static const int want_not[3] = {0, 1, -1};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            Record rec = rec_new(p, SD);
            set_tv(p, &rec, "units", vals[i]);
            set_tv(p, &rec, "member_age", vals[j]);
            cr_assert_eq(eval(p, &rec, r_and, NULL), want_and[i][j], "AND %d %d", vals[i], vals[j]);
            cr_assert_eq(eval(p, &rec, r_sand, NULL), want_and[i][j], "JFALSE-AND %d %d", vals[i],
                         vals[j]);
            cr_assert_eq(eval(p, &rec, r_or, NULL), want_or[i][j], "OR %d %d", vals[i], vals[j]);
            cr_assert_eq(eval(p, &rec, r_sor, NULL), want_or[i][j], "JTRUE-OR %d %d", vals[i],
                         vals[j]);
        }
        Record rec = rec_new(p, SD);
        set_tv(p, &rec, "units", vals[i]);
        cr_assert_eq(eval(p, &rec, r_not, NULL), want_not[i], "NOT %d", vals[i]);
    }
    th_prog_free(p);
}

Test(vm, missing_mask_follows_loads)
{
    Prog *p = th_std_prog();
    uint32_t r_and = rule_begin(p, "and", OUT_PRIOR_AUTH);
    e_eq(p, "units", 1);
    e_eq(p, "member_age", 1);
    e_op(p, OP_AND);
    rule_end(p, r_and);
    uint32_t r_sand = rule_begin(p, "sand", OUT_PRIOR_AUTH);
    e_eq(p, "units", 1);
    size_t j = e_jump(p, OP_JFALSE);
    e_eq(p, "member_age", 1);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r_sand);
    finish(p);

    uint64_t m;
    Record rec = rec_new(p, SD);
    set_i(p, &rec, "units", 2); /* false */
    /* plain AND loads both sides: member_age is read, and absent */
    cr_assert_eq(eval(p, &rec, r_and, &m), 0);
    cr_assert_eq(m, bit(p, "member_age"));
    /* the short circuit skips the right side: nothing missing */
    cr_assert_eq(eval(p, &rec, r_sand, &m), 0);
    cr_assert_eq(m, 0);
    /* both absent */
    unset(p, &rec, "units");
    cr_assert_eq(eval(p, &rec, r_sand, &m), -1);
    cr_assert_eq(m, bit(p, "units") | bit(p, "member_age"));
    /* all present */
    set_i(p, &rec, "units", 1);
    set_i(p, &rec, "member_age", 1);
    cr_assert_eq(eval(p, &rec, r_and, &m), 1);
    cr_assert_eq(m, 0);
    th_prog_free(p);
}

Test(vm, integer_comparisons)
{
    Prog *p = th_std_prog();
    static const Opcode ops[6] = {OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE};
    uint32_t r[6];
    for (int k = 0; k < 6; k++) {
        r[k] = rule_begin(p, "cmp", OUT_PRIOR_AUTH);
        e_load(p, "units"); /* units OP 5 */
        e_const(p, 5);
        e_op(p, ops[k]);
        rule_end(p, r[k]);
    }
    finish(p);
    /* rows: units = 4, 5, 6; columns: EQ NE LT LE GT GE */
    static const int64_t units[3] = {4, 5, 6};
    static const int want[3][6] = {{0, 1, 1, 1, 0, 0}, {1, 0, 0, 1, 0, 1}, {0, 1, 0, 0, 1, 1}};
    for (int i = 0; i < 3; i++) {
        Record rec = rec_new(p, SD);
        set_i(p, &rec, "units", units[i]);
        for (int k = 0; k < 6; k++)
            cr_assert_eq(eval(p, &rec, r[k], NULL), want[i][k], "units %lld op %d",
                         (long long)units[i], k);
    }
    Record rec = rec_new(p, SD);
    for (int k = 0; k < 6; k++) cr_assert_eq(eval(p, &rec, r[k], NULL), -1, "absent, op %d", k);
    /* negative values and int64 extremes compare as signed integers */
    set_i(p, &rec, "units", INT64_MIN);
    cr_assert_eq(eval(p, &rec, r[2], NULL), 1);
    set_i(p, &rec, "units", INT64_MAX);
    cr_assert_eq(eval(p, &rec, r[4], NULL), 1);
    th_prog_free(p);
}

/* ---- defaults and presence ----------------------------------------------- */

Test(vm, defaults_and_present)
{
    Prog *p = th_std_prog();
    uint32_t r_er = rule_begin(p, "er", OUT_PRIOR_AUTH);
    e_load(p, "admitted_from_er");
    rule_end(p, r_er);
    uint32_t r_pres_er = rule_begin(p, "pres_er", OUT_PRIOR_AUTH);
    e_present(p, "admitted_from_er");
    rule_end(p, r_pres_er);
    uint32_t r_pres_units = rule_begin(p, "pres_units", OUT_PRIOR_AUTH);
    e_present(p, "units");
    rule_end(p, r_pres_units);
    uint32_t r_not_pres = rule_begin(p, "not_pres", OUT_PRIOR_AUTH);
    e_present(p, "units");
    e_op(p, OP_NOT);
    rule_end(p, r_not_pres);
    uint32_t r_stay = rule_begin(p, "stay", OUT_PRIOR_AUTH);
    e_load(p, "stay_hours");
    e_const(p, 24);
    e_op(p, OP_GT);
    rule_end(p, r_stay);
    finish(p);

    uint64_t m;
    Record rec = rec_new(p, SD);
    /* absent bool with default false: known false, nothing missing */
    cr_assert_eq(eval(p, &rec, r_er, &m), 0);
    cr_assert_eq(m, 0);
    /* the record's value wins over the default */
    set_i(p, &rec, "admitted_from_er", 1);
    cr_assert_eq(eval(p, &rec, r_er, &m), 1);
    unset(p, &rec, "admitted_from_er");
    /* a default of true applies when absent */
    p->fields[th_field_index(p, "admitted_from_er")].deflt = 1;
    cr_assert_eq(eval(p, &rec, r_er, &m), 1);
    /* without PF_DEFAULT the same absence is unknown and missing */
    p->fields[th_field_index(p, "admitted_from_er")].flags = 0;
    cr_assert_eq(eval(p, &rec, r_er, &m), -1);
    cr_assert_eq(m, bit(p, "admitted_from_er"));
    cr_assert_eq(eval(p, &rec, r_pres_er, &m), 0);
    p->fields[th_field_index(p, "admitted_from_er")].flags = PF_DEFAULT;
    /* present(): a defaulted field is present; never unknown, never missing */
    cr_assert_eq(eval(p, &rec, r_pres_er, &m), 1);
    cr_assert_eq(eval(p, &rec, r_pres_units, &m), 0);
    cr_assert_eq(m, 0);
    cr_assert_eq(eval(p, &rec, r_not_pres, &m), 1);
    set_i(p, &rec, "units", 3);
    cr_assert_eq(eval(p, &rec, r_pres_units, &m), 1);
    cr_assert_eq(eval(p, &rec, r_not_pres, &m), 0);
    /* an absent int without default: unknown, and it is missing */
    cr_assert_eq(eval(p, &rec, r_stay, &m), -1);
    cr_assert_eq(m, bit(p, "stay_hours"));
    set_i(p, &rec, "stay_hours", 25);
    cr_assert_eq(eval(p, &rec, r_stay, &m), 1);
    cr_assert_eq(m, 0);
    th_prog_free(p);
}

/* ---- set, mask and string operations ------------------------------------ */

Test(vm, inset)
{
    Prog *p = th_std_prog();
    uint32_t s = add_set(p, "mri", key(SYS_CPT, "70551"), key(SYS_CPT, "70553"));
    uint32_t r = rule_begin(p, "mri", OUT_PRIOR_AUTH);
    e_load(p, "code");
    e_set(p, OP_INSET, s);
    rule_end(p, r);
    finish(p);
    uint64_t m;
    Record rec = rec_new(p, SD);
    cr_assert_eq(eval(p, &rec, r, &m), -1);
    cr_assert_eq(m, bit(p, "code"));
    set_i(p, &rec, "code", (int64_t)key(SYS_CPT, "70551"));
    cr_assert_eq(eval(p, &rec, r, NULL), 1);
    set_i(p, &rec, "code", (int64_t)key(SYS_CPT, "70553"));
    cr_assert_eq(eval(p, &rec, r, NULL), 1);
    set_i(p, &rec, "code", (int64_t)key(SYS_CPT, "70554"));
    cr_assert_eq(eval(p, &rec, r, NULL), 0);
    set_i(p, &rec, "code", (int64_t)key(SYS_CPT, "70550"));
    cr_assert_eq(eval(p, &rec, r, NULL), 0);
    /* same characters, another system: a different key */
    set_i(p, &rec, "code", (int64_t)key(SYS_REV, "0170"));
    cr_assert_eq(eval(p, &rec, r, NULL), 0);
    th_prog_free(p);
}

Test(vm, anyset)
{
    Prog *p = th_std_prog();
    uint32_t s = add_set(p, "breast", key(SYS_ICD10, "C50.911"), key(SYS_ICD10, "C50.929"));
    uint32_t r = rule_begin(p, "dx", OUT_PRIOR_AUTH);
    e_load(p, "diagnoses");
    e_set(p, OP_ANYSET, s);
    rule_end(p, r);
    finish(p);
    RecVal items[4] = {{0}};
    items[0].i = (int64_t)key(SYS_ICD10, "Z85.3");
    items[1].i = (int64_t)key(SYS_ICD10, "C50.912");
    items[2].i = (int64_t)key(SYS_ICD10, "Z85.3");
    items[3].i = (int64_t)key(SYS_ICD10, "C50.929");
    uint64_t m;
    Record rec = rec_new(p, SD);
    rec.items = items;
    rec.nitems = 4;
    cr_assert_eq(eval(p, &rec, r, &m), -1, "absent list");
    cr_assert_eq(m, bit(p, "diagnoses"));
    set_list(p, &rec, "diagnoses", 0, 2); /* Z85.3, C50.912 */
    cr_assert_eq(eval(p, &rec, r, NULL), 1);
    set_list(p, &rec, "diagnoses", 0, 1); /* Z85.3 */
    cr_assert_eq(eval(p, &rec, r, NULL), 0);
    set_list(p, &rec, "diagnoses", 2, 2); /* Z85.3, C50.929 (the last element, the set's end) */
    cr_assert_eq(eval(p, &rec, r, NULL), 1);
    set_list(p, &rec, "diagnoses", 0, 0); /* present but empty */
    cr_assert_eq(eval(p, &rec, r, &m), 0);
    cr_assert_eq(m, 0);
    th_prog_free(p);
}

Test(vm, inmask)
{
    Prog *p = th_std_prog();
    /* setting in {inpatient, office}: member indices 0 and 3 */
    uint32_t r = rule_begin(p, "setting", OUT_PRIOR_AUTH);
    e_load(p, "setting");
    e_mask(p, (uint64_t)1 << 0 | (uint64_t)1 << 3);
    rule_end(p, r);
    uint32_t r63 = rule_begin(p, "m63", OUT_PRIOR_AUTH);
    e_load(p, "setting");
    e_mask(p, (uint64_t)1 << 63);
    rule_end(p, r63);
    finish(p);
    uint64_t m;
    Record rec = rec_new(p, SD);
    cr_assert_eq(eval(p, &rec, r, &m), -1);
    cr_assert_eq(m, bit(p, "setting"));
    set_i(p, &rec, "setting", 0);
    cr_assert_eq(eval(p, &rec, r, NULL), 1);
    set_i(p, &rec, "setting", 3);
    cr_assert_eq(eval(p, &rec, r, NULL), 1);
    set_i(p, &rec, "setting", 1);
    cr_assert_eq(eval(p, &rec, r, NULL), 0);
    set_i(p, &rec, "setting", 63);
    cr_assert_eq(eval(p, &rec, r63, NULL), 1);
    cr_assert_eq(eval(p, &rec, r, NULL), 0);
    /* indices no enum can have are not members (and must not shift by >= 64) */
    set_i(p, &rec, "setting", 64);
    cr_assert_eq(eval(p, &rec, r, NULL), 0);
    set_i(p, &rec, "setting", -1);
    cr_assert_eq(eval(p, &rec, r63, NULL), 0);
    th_prog_free(p);
}

Test(vm, seq_sne)
{
    Prog *p = th_std_prog();
    uint32_t r_eq = rule_begin(p, "eq", OUT_PRIOR_AUTH);
    e_load(p, "state");
    e_str(p, "IL");
    e_op(p, OP_SEQ);
    rule_end(p, r_eq);
    uint32_t r_ne = rule_begin(p, "ne", OUT_PRIOR_AUTH);
    e_load(p, "state");
    e_str(p, "IL");
    e_op(p, OP_SNE);
    rule_end(p, r_ne);
    uint32_t r_empty = rule_begin(p, "empty", OUT_PRIOR_AUTH);
    e_load(p, "state");
    e_str(p, "");
    e_op(p, OP_SEQ);
    rule_end(p, r_empty);
    finish(p);
    static const struct {
        const char *state;
        int eq;
    } cases[] = {{"IL", 1}, {"IN", 0}, {"ILL", 0}, {"I", 0}, {"il", 0}, {"", 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Record rec = rec_new(p, SD);
        set_s(p, &rec, "state", cases[k].state);
        cr_assert_eq(eval(p, &rec, r_eq, NULL), cases[k].eq, "SEQ \"%s\"", cases[k].state);
        cr_assert_eq(eval(p, &rec, r_ne, NULL), !cases[k].eq, "SNE \"%s\"", cases[k].state);
    }
    Record rec = rec_new(p, SD);
    uint64_t m;
    cr_assert_eq(eval(p, &rec, r_eq, &m), -1);
    cr_assert_eq(m, bit(p, "state"));
    cr_assert_eq(eval(p, &rec, r_ne, NULL), -1);
    set_s(p, &rec, "state", "");
    cr_assert_eq(eval(p, &rec, r_empty, NULL), 1);
    th_prog_free(p);
}

Test(vm, anystr)
{
    Prog *p = th_std_prog();
    uint32_t f = th_field(p, "tags", VT_LIST, 0);
    p->fields[f].elem = VT_STRING;
    uint32_t r = rule_begin(p, "tag", OUT_PRIOR_AUTH);
    e_load(p, "tags");
    e_anystr(p, "oncology");
    rule_end(p, r);
    finish(p);
    RecVal items[3] = {{0}};
    items[0].s = "cardiology", items[0].n = 10;
    items[1].s = "oncology", items[1].n = 8;
    items[2].s = "oncolog", items[2].n = 7;
    uint64_t m;
    Record rec = rec_new(p, SD);
    rec.items = items;
    rec.nitems = 3;
    cr_assert_eq(eval(p, &rec, r, &m), -1);
    cr_assert_eq(m, (uint64_t)1 << f);
    set_list(p, &rec, "tags", 0, 2);
    cr_assert_eq(eval(p, &rec, r, NULL), 1);
    set_list(p, &rec, "tags", 0, 1);
    cr_assert_eq(eval(p, &rec, r, NULL), 0);
    set_list(p, &rec, "tags", 2, 1); /* a prefix is not equal */
    cr_assert_eq(eval(p, &rec, r, NULL), 0);
    set_list(p, &rec, "tags", 0, 0);
    cr_assert_eq(eval(p, &rec, r, NULL), 0);
    th_prog_free(p);
}

/* ---- rule selection through the index ------------------------------------ */

/* Rules 0 and 2 are indexed on CPT 70551..70553 with condition `true`;
 * rule 1 (always evaluated) fires when units == 1. A second segment,
 * CPT 99201..99205, selects rule 3 only. */
static Prog *index_prog(void)
{
    Prog *p = th_std_prog();
    uint32_t s_mri = add_set(p, "mri", key(SYS_CPT, "70551"), key(SYS_CPT, "70553"));
    uint32_t s_em = add_set(p, "em", key(SYS_CPT, "99201"), key(SYS_CPT, "99205"));
    uint32_t r0 = rule_true(p, "mri_a", OUT_PRIOR_AUTH);
    rule_eq(p, "always", OUT_NOTIFICATION, "units", 1);
    uint32_t r2 = rule_true(p, "mri_b", OUT_PRIOR_AUTH);
    uint32_t r3 = rule_true(p, "em", OUT_NOT_COVERED);
    p->rules[r0].index_set = s_mri;
    p->rules[r2].index_set = s_mri;
    p->rules[r3].index_set = s_em;
    static const uint32_t mri[2] = {0, 2}, em[1] = {3};
    add_seg(p, key(SYS_CPT, "70551"), key(SYS_CPT, "70553"), mri, 2);
    add_seg(p, key(SYS_CPT, "99201"), key(SYS_CPT, "99205"), em, 1);
    finish(p);
    cr_assert_eq(p->nalways, 1);
    return p;
}

/* A record on which nothing fires nor is unknown gets its Decision field
 * by field (vm_decide's shortcut): whatever the Decision held before (a
 * decided record's, or garbage), every field must be the plain empty
 * decision's. */
Test(vm, a_record_that_decides_nothing_leaves_nothing_of_the_one_before)
{
    Prog *p = index_prog();
    Vm *vm = vm_new(p);
    Record rec = rec_new(p, SD);
    set_i(p, &rec, "units", 1);
    for (int round = 0; round < 4; round++) {
        Decision d;
        if (round % 2) {
            memset(&d, 0xA5, sizeof d);
        } else { /* a decided record first: rules, obligations, reviewers */
            set_i(p, &rec, "code", (int64_t)key(SYS_CPT, "70551"));
            vm_decide(vm, &rec, &d);
            cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
            cr_assert_gt(d.nobligations, 0);
        }
        Record none = rec_new(p, SD);
        set_i(p, &none, "units", 2); /* the always rule wants 1 unit */
        set_i(p, &none, "code", (int64_t)key(SYS_CPT, "99213"));
        vm_decide(vm, &none, &d);
        cr_assert_eq(d.kind, PCR_DEC_NONE, "round %d", round);
        cr_assert_eq(d.nrules, 0);
        cr_assert_not_null(d.rules);
        cr_assert_eq(d.nreviewers, 0);
        cr_assert_eq(d.has_deadline, false);
        cr_assert_eq(d.deadline_is_date, false);
        cr_assert_eq(d.deadline, 0);
        cr_assert_eq(d.timely, -1);
        cr_assert_eq(d.nobligations, 0);
        cr_assert_not_null(d.obligations);
        cr_assert_eq(d.npossible, 0);
        cr_assert_not_null(d.possible);
        cr_assert_eq(d.missing, 0, "round %d", round);
    }
    vm_free(vm);
    th_prog_free(p);
}

Test(vm, index_skips_rules_of_other_codes)
{
    Prog *p = index_prog();
    Vm *vm = vm_new(p);
    Decision d;
    Record rec = rec_new(p, SD);
    set_i(p, &rec, "units", 1);

    /* a code in no segment: only the always rule runs, although the indexed
     * rules' conditions are plain `true` */
    set_i(p, &rec, "code", (int64_t)key(SYS_CPT, "99213"));
    vm_decide(vm, &rec, &d);
    cr_assert_eq(d.kind, PCR_DEC_NOTIFICATION);
    expect_rules(&d, (const uint32_t[]){1}, 1);
    const uint64_t *counts = vm_rule_counts(vm);
    cr_assert_eq(counts[0], 0);
    cr_assert_eq(counts[1], 1);
    cr_assert_eq(counts[2], 0);
    cr_assert_eq(counts[3], 0);

    /* a code at the segment's lower bound: its rules merge with always, ascending */
    set_i(p, &rec, "code", (int64_t)key(SYS_CPT, "70551"));
    vm_decide(vm, &rec, &d);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    expect_rules(&d, (const uint32_t[]){0, 1, 2}, 3);

    /* the upper bound of the second segment */
    set_i(p, &rec, "code", (int64_t)key(SYS_CPT, "99205"));
    vm_decide(vm, &rec, &d);
    cr_assert_eq(d.kind, PCR_DEC_NOT_COVERED);
    expect_rules(&d, (const uint32_t[]){1, 3}, 2);

    /* between and beyond the segments */
    static const char *const outside[] = {"70550", "70554", "99200", "99206", "00100", "99999"};
    for (size_t k = 0; k < sizeof outside / sizeof outside[0]; k++) {
        set_i(p, &rec, "code", (int64_t)key(SYS_CPT, outside[k]));
        vm_decide(vm, &rec, &d);
        cr_assert_eq(d.kind, PCR_DEC_NOTIFICATION, "code %s", outside[k]);
        expect_rules(&d, (const uint32_t[]){1}, 1);
    }

    /* without a code every rule is evaluated */
    unset(p, &rec, "code");
    vm_decide(vm, &rec, &d);
    expect_rules(&d, (const uint32_t[]){0, 1, 2, 3}, 4);

    cr_assert_eq(counts[0], 2);
    cr_assert_eq(counts[1], 10);
    cr_assert_eq(counts[2], 2);
    cr_assert_eq(counts[3], 2);
    vm_free(vm);
    th_prog_free(p);
}

/* Every VM of one policy uses one index of it (vi_of), built by the first
 * and freed with the Prog: a second VM decides alike, and still does once
 * the first is freed (a VM owns none of the index), and threads asking for
 * the index at once all get the same one (the losers' builds are freed:
 * make san and make valgrind would report a leak or a double free). */
static void *index_of(void *p) { return (void *)vi_of(p); }

Test(vm, vms_of_one_policy_share_its_index)
{
    Prog *p = index_prog();
    Vm *a = vm_new(p), *b = vm_new(p);
    const ViIndex *ix = vi_of(p);
    cr_assert_not_null(ix);
    cr_assert_eq(vi_of(p), ix);
    cr_assert_gt(ix->ct.n, 0, "index_prog has code sets: a code table");
    static const char *const codes[] = {"70551", "70553", "99205", "99213", "00100"};
    Decision da, db;
    Record rec = rec_new(p, SD);
    set_i(p, &rec, "units", 1);
    for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
        set_i(p, &rec, "code", (int64_t)key(SYS_CPT, codes[k]));
        vm_decide(a, &rec, &da);
        vm_decide(b, &rec, &db);
        cr_assert_eq(da.kind, db.kind, "code %s", codes[k]);
        cr_assert_eq(da.nrules, db.nrules, "code %s", codes[k]);
        for (uint32_t r = 0; r < da.nrules; r++) cr_assert_eq(da.rules[r], db.rules[r]);
    }
    vm_free(a);
    set_i(p, &rec, "code", (int64_t)key(SYS_CPT, "70552"));
    vm_decide(b, &rec, &db);
    cr_assert_eq(db.kind, PCR_DEC_PRIOR_AUTH);
    expect_rules(&db, (const uint32_t[]){0, 1, 2}, 3);
    vm_free(b);
    cr_assert_eq(vi_of(p), ix, "the index outlives the VMs: the Prog owns it");

    vi_drop(p); /* a race for a new one */
    enum { NTHREADS = 4 };
    pthread_t t[NTHREADS];
    void *got[NTHREADS];
    for (int k = 0; k < NTHREADS; k++) cr_assert_eq(pthread_create(&t[k], NULL, index_of, p), 0);
    for (int k = 0; k < NTHREADS; k++) cr_assert_eq(pthread_join(t[k], &got[k]), 0);
    for (int k = 0; k < NTHREADS; k++) {
        cr_assert_not_null(got[k]);
        cr_assert_eq(got[k], (void *)vi_of(p), "thread %d got another index", k);
    }
    th_prog_free(p); /* frees the index */
}

Test(vm, effective_window_boundaries)
{
    Prog *p = th_std_prog();
    uint32_t from_today = rule_true(p, "from_today", OUT_NOTIFICATION);
    uint32_t from_tomorrow = rule_true(p, "from_tomorrow", OUT_NOT_COVERED);
    uint32_t through_today = rule_true(p, "through_today", OUT_NOTIFICATION);
    uint32_t through_yesterday = rule_true(p, "through_yesterday", OUT_NOT_COVERED);
    uint32_t one_day = rule_true(p, "one_day", OUT_PRIOR_AUTH);
    /* out of its window, an unknown rule does not ask for information */
    uint32_t unknown_old = rule_eq(p, "unknown_old", OUT_NOT_COVERED, "units", 1);
    p->rules[from_today].eff_from = SD;
    p->rules[from_tomorrow].eff_from = SD + 1;
    p->rules[through_today].eff_through = SD;
    p->rules[through_yesterday].eff_through = SD - 1;
    p->rules[one_day].eff_from = p->rules[one_day].eff_through = SD;
    p->rules[unknown_old].eff_through = SD - 1;
    finish(p);
    Record rec = rec_new(p, SD);
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    expect_rules(&d, (const uint32_t[]){from_today, through_today, one_day}, 3);
    decision_free(&d);

    /* the next day: the windows ending today are over */
    rec = rec_new(p, SD + 1);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_NOT_COVERED);
    expect_rules(&d, (const uint32_t[]){from_today, from_tomorrow}, 2);
    decision_free(&d);
    th_prog_free(p);
}

/* ---- combining ----------------------------------------------------------- */

Test(vm, strongest_wins_regardless_of_order)
{
    static const Outcome orders[3][3] = {
        {OUT_NOTIFICATION, OUT_NOT_COVERED, OUT_PRIOR_AUTH},
        {OUT_NOT_COVERED, OUT_PRIOR_AUTH, OUT_NOTIFICATION},
        {OUT_PRIOR_AUTH, OUT_NOTIFICATION, OUT_NOT_COVERED},
    };
    for (int k = 0; k < 3; k++) {
        Prog *p = th_std_prog();
        /* each rule fires when units == 1; not_covered also needs member_age == 1 */
        for (int j = 0; j < 3; j++) {
            uint32_t r = rule_begin(p, "r", orders[k][j]);
            e_eq(p, "units", 1);
            if (orders[k][j] == OUT_NOT_COVERED) {
                e_eq(p, "member_age", 1);
                e_op(p, OP_AND);
            }
            rule_end(p, r);
        }
        finish(p);
        Record rec = rec_new(p, SD);
        set_i(p, &rec, "units", 1);
        set_i(p, &rec, "member_age", 1);
        Decision d = decide(p, &rec);
        cr_assert_eq(d.kind, PCR_DEC_NOT_COVERED, "order %d", k);
        expect_rules(&d, (const uint32_t[]){0, 1, 2}, 3);
        decision_free(&d);
        set_i(p, &rec, "member_age", 2);
        d = decide(p, &rec);
        cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH, "order %d", k);
        cr_assert_eq(d.nrules, 2);
        decision_free(&d);
        set_i(p, &rec, "units", 2);
        d = decide(p, &rec);
        cr_assert_eq(d.kind, PCR_DEC_NONE, "order %d", k);
        cr_assert_eq(d.nrules, 0);
        cr_assert_eq(d.nreviewers, 0);
        cr_assert_not(d.has_deadline);
        cr_assert_eq(d.timely, -1);
        decision_free(&d);
        th_prog_free(p);
    }
}

Test(vm, reviewers_union_dedup_and_default)
{
    Prog *p = th_std_prog();
    p->reviewer = th_str(p, "Default UM");
    uint32_t a = rule_true(p, "a", OUT_PRIOR_AUTH);
    uint32_t weak = rule_true(p, "weak", OUT_NOTIFICATION);
    uint32_t b = rule_true(p, "b", OUT_PRIOR_AUTH);
    uint32_t c = rule_true(p, "c", OUT_PRIOR_AUTH);
    rule_reviewers(p, a, (const char *const[]){"eviCore", "Carelon", NULL});
    rule_reviewers(p, weak, (const char *const[]){"Weak Reviewer", NULL});
    /* "Carelon" again, as a separate string-table entry */
    rule_reviewers(p, b, (const char *const[]){"Carelon", "Magellan", "eviCore", NULL});
    (void)c; /* no reviewers: the policy's default */
    finish(p);
    Record rec = rec_new(p, SD);
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    expect_reviewers(p, &d, (const char *const[]){"eviCore", "Carelon", "Magellan", "Default UM", NULL});
    decision_free(&d);

    /* no default reviewer: a rule without reviewers adds none */
    p->reviewer = PIDX_NONE;
    d = decide(p, &rec);
    expect_reviewers(p, &d, (const char *const[]){"eviCore", "Carelon", "Magellan", NULL});
    decision_free(&d);

    /* only the weak rule's reviewers when it alone fires */
    p->code[p->rules[a].code_off] = OP_FALSE;
    p->code[p->rules[b].code_off] = OP_FALSE;
    p->code[p->rules[c].code_off] = OP_FALSE;
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_NOTIFICATION);
    expect_reviewers(p, &d, (const char *const[]){"Weak Reviewer", NULL});
    decision_free(&d);
    th_prog_free(p);
}

/* Decides a program of two prior_auth rules with the given deadlines. */
static Decision two_deadlines(int32_t n1, DurationUnit u1, int d1, int32_t n2, DurationUnit u2,
                              int d2, bool reversed)
{
    Prog *p = th_std_prog();
    uint32_t r1 = rule_true(p, "one", OUT_PRIOR_AUTH);
    uint32_t r2 = rule_true(p, "two", OUT_PRIOR_AUTH);
    rule_deadline(p, reversed ? r2 : r1, n1, u1, d1);
    rule_deadline(p, reversed ? r1 : r2, n2, u2, d2);
    finish(p);
    Record rec = rec_new(p, SD);
    Decision d = decide(p, &rec);
    th_prog_free(p);
    return d;
}

Test(vm, earliest_deadline_mixed_date_and_datetime)
{
    cr_assert_eq(date_weekday(SD), 0, "SD is a Monday");
    char want[24];
    date_format(SD, want);
    cr_assert_str_eq(want, "2026-03-02");
    for (int rev = 0; rev < 2; rev++) {
        /* 72 hours before = 2026-02-27T00:00, before 3 days before = 2026-02-27 (all day) */
        Decision d = two_deadlines(72, U_HOURS, DIR_BEFORE, 3, U_DAYS, DIR_BEFORE, rev);
        cr_assert(d.has_deadline);
        cr_assert_not(d.deadline_is_date);
        cr_assert_eq(d.deadline, AT(2026, 2, 27, 0, 0));
        decision_free(&d);
        /* 4 days before = 2026-02-26 ends before 2026-02-27T00:00 */
        d = two_deadlines(72, U_HOURS, DIR_BEFORE, 4, U_DAYS, DIR_BEFORE, rev);
        cr_assert(d.deadline_is_date);
        cr_assert_eq(d.deadline, DAY(2026, 2, 26));
        decision_free(&d);
        /* a date lasts to the end of its day: 0 days after (2026-03-02) is
         * earlier than 24 hours after (2026-03-03T00:00) ... */
        d = two_deadlines(24, U_HOURS, DIR_AFTER, 0, U_DAYS, DIR_AFTER, rev);
        cr_assert(d.deadline_is_date);
        cr_assert_eq(d.deadline, SD);
        decision_free(&d);
        /* ... but later than 23 hours after (2026-03-02T23:00) */
        d = two_deadlines(23, U_HOURS, DIR_AFTER, 0, U_DAYS, DIR_AFTER, rev);
        cr_assert_not(d.deadline_is_date);
        cr_assert_eq(d.deadline, AT(2026, 3, 2, 23, 0));
        decision_free(&d);
        /* two of a kind */
        d = two_deadlines(48, U_HOURS, DIR_BEFORE, 72, U_HOURS, DIR_BEFORE, rev);
        cr_assert_eq(d.deadline, AT(2026, 2, 27, 0, 0));
        decision_free(&d);
        d = two_deadlines(1, U_DAYS, DIR_AFTER, 2, U_DAYS, DIR_BEFORE, rev);
        cr_assert_eq(d.deadline, DAY(2026, 2, 28));
        decision_free(&d);
        /* a rule without deadline does not hide the other's */
        d = two_deadlines(0, 0, 0, 5, U_DAYS, DIR_AFTER, rev);
        cr_assert(d.has_deadline);
        cr_assert_eq(d.deadline, DAY(2026, 3, 7));
        decision_free(&d);
        d = two_deadlines(0, 0, 0, 0, 0, 0, rev);
        cr_assert_not(d.has_deadline);
        decision_free(&d);
    }
}

Test(vm, weaker_rules_deadline_ignored)
{
    Prog *p = th_std_prog();
    uint32_t weak = rule_true(p, "weak", OUT_NOTIFICATION);
    uint32_t strong = rule_true(p, "strong", OUT_PRIOR_AUTH);
    rule_deadline(p, weak, 30, U_DAYS, DIR_BEFORE);
    rule_deadline(p, strong, 2, U_DAYS, DIR_BEFORE);
    finish(p);
    Record rec = rec_new(p, SD);
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.deadline, SD - 2);
    decision_free(&d);
    th_prog_free(p);
}

static int32_t bday_deadline(int32_t sd, int32_t n, int dir, const int32_t *holidays, int nh)
{
    Prog *p = th_std_prog();
    uint32_t r = rule_true(p, "r", OUT_PRIOR_AUTH);
    rule_deadline(p, r, n, U_BUSINESS_DAYS, dir);
    for (int k = 0; k < nh; k++) add_holiday(p, holidays[k]);
    finish(p);
    Record rec = rec_new(p, sd);
    Decision d = decide(p, &rec);
    cr_assert(d.has_deadline);
    cr_assert(d.deadline_is_date);
    int32_t v = (int32_t)d.deadline;
    decision_free(&d);
    th_prog_free(p);
    return v;
}

Test(vm, business_days_skip_weekends_and_holidays)
{
    /* Monday 2026-03-02, 2 business days before: Fri 27, Thu 26 */
    cr_assert_eq(bday_deadline(SD, 2, DIR_BEFORE, NULL, 0), DAY(2026, 2, 26));
    /* with Friday 2026-02-27 a holiday: Thu 26, Wed 25 */
    int32_t fri = DAY(2026, 2, 27);
    cr_assert_eq(bday_deadline(SD, 2, DIR_BEFORE, &fri, 1), DAY(2026, 2, 25));
    /* Friday 2026-02-27, 1 business day after: Monday 2026-03-02 */
    cr_assert_eq(bday_deadline(fri, 1, DIR_AFTER, NULL, 0), SD);
    /* with that Monday a holiday: Tuesday */
    int32_t hol[2] = {DAY(2026, 1, 1), SD};
    cr_assert_eq(bday_deadline(fri, 1, DIR_AFTER, hol, 2), DAY(2026, 3, 3));
    /* 0 business days: the service date itself */
    cr_assert_eq(bday_deadline(SD, 0, DIR_BEFORE, NULL, 0), SD);
}

Test(vm, exempt_all_and_named)
{
    Prog *p = th_std_prog();
    uint32_t pa = rule_true(p, "pa", OUT_PRIOR_AUTH);
    uint32_t note = rule_true(p, "note", OUT_NOTIFICATION);
    uint32_t ex_all = rule_bool(p, "medicare", OUT_EXEMPT, "medicare_primary");
    uint32_t ex_pa = rule_bool(p, "trial", OUT_EXEMPT, "clinical_trial");
    p->rules[ex_all].exempt_all = 1;
    rule_waives(p, ex_pa, &pa, 1);
    finish(p);
    Record rec = rec_new(p, SD);

    /* no exemption fires (their booleans default to false) */
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    expect_rules(&d, (const uint32_t[]){pa, note}, 2);
    decision_free(&d);

    /* exempt all: every non-exemption rule is waived; the exemption is reported */
    set_i(p, &rec, "medicare_primary", 1);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_NONE);
    expect_rules(&d, (const uint32_t[]){ex_all}, 1);
    cr_assert_eq(d.nreviewers, 0);
    decision_free(&d);

    /* exempt all does not waive another exemption */
    set_i(p, &rec, "clinical_trial", 1);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_NONE);
    expect_rules(&d, (const uint32_t[]){ex_all, ex_pa}, 2);
    decision_free(&d);

    /* a named exemption waives only its target */
    set_i(p, &rec, "medicare_primary", 0);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_NOTIFICATION);
    expect_rules(&d, (const uint32_t[]){note, ex_pa}, 2);
    decision_free(&d);
    th_prog_free(p);
}

Test(vm, waived_rules_are_not_counted)
{
    Prog *p = th_std_prog();
    uint32_t pa = rule_true(p, "pa", OUT_PRIOR_AUTH);
    uint32_t ex = rule_true(p, "ex", OUT_EXEMPT);
    rule_waives(p, ex, &pa, 1);
    finish(p);
    Vm *vm = vm_new(p);
    Record rec = rec_new(p, SD);
    Decision d;
    vm_decide(vm, &rec, &d);
    vm_decide(vm, &rec, &d);
    cr_assert_eq(vm_rule_counts(vm)[pa], 0);
    cr_assert_eq(vm_rule_counts(vm)[ex], 2);
    vm_free(vm);
    th_prog_free(p);
}

/* The decision is the strongest certain outcome; each unknown rule that
 * would add an outcome is a possible obligation naming its fields, even a
 * weaker one (the provider would have to go to both). */
Test(vm, certain_and_possible_obligations)
{
    Prog *p = th_std_prog();
    uint32_t pa = rule_true(p, "pa", OUT_PRIOR_AUTH);
    uint32_t note_u = rule_eq(p, "note_u", OUT_NOTIFICATION, "units", 1);    /* unknown, weaker */
    uint32_t nc_u = rule_eq(p, "nc_u", OUT_NOT_COVERED, "price", 100000);    /* unknown, stronger */
    uint32_t nc_u2 = rule_eq(p, "nc_u2", OUT_NOT_COVERED, "member_age", 70); /* unknown, stronger */
    finish(p);
    Record rec = rec_new(p, SD);
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.nobligations, 1);
    expect_obligation(&d.obligations[0], OUT_PRIOR_AUTH, (const uint32_t[]){pa}, 1);
    cr_assert_eq(d.npossible, 2);
    expect_obligation(&d.possible[0], OUT_NOT_COVERED, (const uint32_t[]){nc_u, nc_u2}, 2);
    cr_assert_eq(d.possible[0].missing, bit(p, "price") | bit(p, "member_age"));
    expect_obligation(&d.possible[1], OUT_NOTIFICATION, (const uint32_t[]){note_u}, 1);
    cr_assert_eq(d.possible[1].missing, bit(p, "units"));
    cr_assert_eq(d.missing, bit(p, "price") | bit(p, "member_age") | bit(p, "units"));
    expect_rules(&d, (const uint32_t[]){pa}, 1);
    decision_free(&d);

    /* the stronger rules known false: only the notification stays open */
    set_i(p, &rec, "price", 5);
    set_i(p, &rec, "member_age", 5);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.npossible, 1);
    cr_assert_eq(d.missing, bit(p, "units"));
    decision_free(&d);

    /* nothing certain, a requirement possible: info_needed */
    p->code[p->rules[pa].code_off] = OP_FALSE;
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_INFO_NEEDED);
    cr_assert_eq(d.missing, bit(p, "units"));
    cr_assert_eq(d.nrules, 0);
    cr_assert_eq(d.nobligations, 0);
    cr_assert_eq(d.nreviewers, 0);
    cr_assert_not(d.has_deadline);
    decision_free(&d);
    th_prog_free(p);
}

/* A rule an unknown exemption may waive is possible, not certain. */
Test(vm, unknown_exemptions)
{
    Prog *p = th_std_prog();
    uint32_t pa = rule_true(p, "pa", OUT_PRIOR_AUTH);
    uint32_t note = rule_true(p, "note", OUT_NOTIFICATION);
    uint32_t ex_note = rule_eq(p, "ex_note", OUT_EXEMPT, "units", 1);
    rule_waives(p, ex_note, &note, 1);
    finish(p);
    Record rec = rec_new(p, SD);
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.nobligations, 1);
    cr_assert_eq(d.npossible, 1);
    expect_obligation(&d.possible[0], OUT_NOTIFICATION, (const uint32_t[]){note}, 1);
    cr_assert_eq(d.missing, bit(p, "units"));
    decision_free(&d);

    /* an unknown exemption of the prior auth too: nothing is certain */
    uint32_t ex_pa = rule_eq(p, "ex_pa", OUT_EXEMPT, "stay_hours", 24);
    rule_waives(p, ex_pa, &pa, 1);
    finish(p);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_INFO_NEEDED);
    cr_assert_eq(d.nobligations, 0);
    cr_assert_eq(d.npossible, 2);
    expect_obligation(&d.possible[0], OUT_PRIOR_AUTH, (const uint32_t[]){pa}, 1);
    cr_assert_eq(d.possible[0].missing, bit(p, "stay_hours"));
    cr_assert_eq(d.missing, bit(p, "stay_hours") | bit(p, "units"));
    decision_free(&d);

    /* known false again: decided */
    set_i(p, &rec, "stay_hours", 12);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    decision_free(&d);

    /* an unknown `exempt all` may waive every requirement */
    uint32_t ex_all = rule_eq(p, "ex_all", OUT_EXEMPT, "visit_number", 1);
    p->rules[ex_all].exempt_all = 1;
    finish(p);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_INFO_NEEDED);
    cr_assert_eq(d.possible[0].missing, bit(p, "visit_number"));
    cr_assert_eq(d.missing, bit(p, "visit_number") | bit(p, "units"));
    decision_free(&d);
    th_prog_free(p);
}

/* A possible rule of a certain outcome is listed when it would add a
 * reviewer or an earlier deadline, and left out when it adds nothing. */
Test(vm, unknown_rule_of_the_winning_outcome)
{
    Prog *p = th_std_prog();
    uint32_t pa = rule_true(p, "pa", OUT_PRIOR_AUTH);
    rule_reviewers(p, pa, (const char *const[]){"Payer", NULL});
    rule_deadline(p, pa, 1, U_DAYS, DIR_BEFORE);
    uint32_t pa_u = rule_eq(p, "pa_u", OUT_PRIOR_AUTH, "member_age", 70);
    rule_reviewers(p, pa_u, (const char *const[]){"Payer", NULL});
    rule_deadline(p, pa_u, 1, U_DAYS, DIR_AFTER);
    finish(p);
    Record rec = rec_new(p, SD);

    /* same reviewer, a later deadline: nothing to add */
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.missing, 0);
    cr_assert_eq(d.npossible, 0);
    expect_reviewers(p, &d, (const char *const[]){"Payer", NULL});
    cr_assert(d.has_deadline && d.deadline_is_date && d.deadline == SD - 1);
    decision_free(&d);

    /* an earlier deadline: possible, and the certain one still stands */
    rule_deadline(p, pa_u, 14, U_DAYS, DIR_BEFORE);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert(d.has_deadline && d.deadline == SD - 1);
    cr_assert_eq(d.npossible, 1);
    cr_assert(d.possible[0].has_deadline && d.possible[0].deadline == SD - 14);
    cr_assert_eq(d.missing, bit(p, "member_age"));
    expect_rules(&d, (const uint32_t[]){pa}, 1);
    decision_free(&d);

    /* the same deadline, another reviewer: possible */
    rule_deadline(p, pa_u, 1, U_DAYS, DIR_BEFORE);
    rule_reviewers(p, pa_u, (const char *const[]){"AIM", NULL});
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.npossible, 1);
    cr_assert_eq(d.missing, bit(p, "member_age"));
    decision_free(&d);

    /* known: both fire, two obligations, both reviewers on the line */
    set_i(p, &rec, "member_age", 70);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.nobligations, 2);
    expect_reviewers(p, &d, (const char *const[]){"Payer", "AIM", NULL});
    decision_free(&d);

    /* an unknown requirement that a fired exemption waives is not possible */
    unset(p, &rec, "member_age");
    uint32_t ex = rule_true(p, "ex", OUT_EXEMPT);
    rule_waives(p, ex, &pa_u, 1);
    finish(p);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.npossible, 0);
    expect_reviewers(p, &d, (const char *const[]){"Payer", NULL});
    decision_free(&d);
    th_prog_free(p);
}

/* A rule an unknown exemption may waive is listed as possible when it
 * brings something the certain rules do not. */
Test(vm, unknown_exemption_that_changes_reviewers_or_nothing)
{
    Prog *p = th_std_prog();
    uint32_t a = rule_true(p, "a", OUT_PRIOR_AUTH);
    uint32_t b = rule_true(p, "b", OUT_PRIOR_AUTH);
    rule_reviewers(p, a, (const char *const[]){"Payer", NULL});
    rule_reviewers(p, b, (const char *const[]){"Payer", NULL});
    uint32_t ex_a = rule_eq(p, "ex_a", OUT_EXEMPT, "units", 1);
    rule_waives(p, ex_a, &a, 1);
    finish(p);
    Record rec = rec_new(p, SD);

    /* b stays with the same reviewer and no deadline: nothing to add */
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.missing, 0);
    expect_rules(&d, (const uint32_t[]){a, b}, 2);
    cr_assert_eq(d.nobligations, 1);
    expect_obligation(&d.obligations[0], OUT_PRIOR_AUTH, (const uint32_t[]){b}, 1);
    decision_free(&d);

    /* a brings its own reviewer: possible */
    rule_reviewers(p, a, (const char *const[]){"Payer", "eviCore", NULL});
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.npossible, 1);
    cr_assert_eq(d.missing, bit(p, "units"));
    decision_free(&d);

    /* a brings a deadline: possible */
    rule_reviewers(p, a, (const char *const[]){"Payer", NULL});
    rule_deadline(p, a, 3, U_DAYS, DIR_BEFORE);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.npossible, 1);
    decision_free(&d);

    /* two unknown exemptions that may take both rules away: nothing certain */
    rule_deadline(p, a, 0, 0, 0);
    uint32_t ex_b = rule_eq(p, "ex_b", OUT_EXEMPT, "stay_hours", 24);
    rule_waives(p, ex_b, &b, 1);
    finish(p);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_INFO_NEEDED);
    cr_assert_eq(d.missing, bit(p, "units") | bit(p, "stay_hours"));
    decision_free(&d);

    /* one of them known false: b is certain, a adds nothing */
    set_i(p, &rec, "stay_hours", 12);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_PRIOR_AUTH);
    cr_assert_eq(d.missing, 0);
    decision_free(&d);
    (void)ex_a;
    th_prog_free(p);
}

/* Waiving is one pass (vm_consider): a fired exemption waives its targets
 * even when another exemption waives it. So an unknown exemption that is
 * itself waived can still take the winner away. */
Test(vm, waived_unknown_exemption_still_matters)
{
    Prog *p = th_std_prog();
    uint32_t pa = rule_true(p, "pa", OUT_PRIOR_AUTH);
    uint32_t ex_u = rule_eq(p, "ex_u", OUT_EXEMPT, "units", 1);
    rule_waives(p, ex_u, &pa, 1);
    uint32_t ex = rule_true(p, "ex", OUT_EXEMPT);
    rule_waives(p, ex, &ex_u, 1);
    finish(p);
    Record rec = rec_new(p, SD);
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_INFO_NEEDED);
    cr_assert_eq(d.missing, bit(p, "units"));
    decision_free(&d);

    /* and when it is known to fire, pa is waived */
    set_i(p, &rec, "units", 1);
    d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_NONE);
    decision_free(&d);
    th_prog_free(p);
}

Test(vm, unknown_exempt_all_without_winner_is_none)
{
    Prog *p = th_std_prog();
    rule_false(p, "pa", OUT_PRIOR_AUTH);
    uint32_t ex_all = rule_eq(p, "ex_all", OUT_EXEMPT, "units", 1);
    p->rules[ex_all].exempt_all = 1;
    finish(p);
    Record rec = rec_new(p, SD);
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_NONE);
    cr_assert_eq(d.missing, 0);
    decision_free(&d);
    th_prog_free(p);
}

Test(vm, waived_unknown_rule_does_not_count)
{
    Prog *p = th_std_prog();
    rule_true(p, "note", OUT_NOTIFICATION);
    uint32_t nc_u = rule_eq(p, "nc_u", OUT_NOT_COVERED, "units", 1);
    uint32_t ex = rule_true(p, "ex", OUT_EXEMPT);
    rule_waives(p, ex, &nc_u, 1);
    finish(p);
    Record rec = rec_new(p, SD);
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_NOTIFICATION);
    cr_assert_eq(d.missing, 0);
    decision_free(&d);
    th_prog_free(p);
}

Test(vm, timely)
{
    Prog *p = th_std_prog();
    uint32_t hours = rule_eq(p, "hours", OUT_PRIOR_AUTH, "units", 1);
    uint32_t days = rule_eq(p, "days", OUT_PRIOR_AUTH, "units", 2);
    rule_true(p, "no_deadline", OUT_NOTIFICATION);
    rule_deadline(p, hours, 72, U_HOURS, DIR_BEFORE); /* 2026-02-27T00:00 */
    rule_deadline(p, days, 3, U_DAYS, DIR_BEFORE);    /* 2026-02-27 */
    finish(p);
    const struct {
        int64_t units;
        bool has_req;
        int64_t req;
        int timely;
        bool date_only; /* requested_at was a bare date: some time that day */
    } cases[] = {
        {1, true, AT(2026, 2, 26, 10, 0), 1, false},
        {1, true, AT(2026, 2, 27, 0, 0), 1, false}, /* on the deadline is on time */
        {1, true, AT(2026, 2, 27, 0, 1), 0, false},
        {1, true, AT(2026, 2, 27, 0, 0) + 1, 0, false},
        {1, false, 0, -1, false},
        {2, true, AT(2026, 2, 27, 23, 59) + 59, 1, false}, /* a date deadline lasts all day */
        {2, true, AT(2026, 2, 27, 0, 0), 1, false},        /* midnight of the deadline day */
        {2, true, AT(2026, 2, 28, 0, 0), 0, false},
        {2, true, AT(1969, 12, 31, 12, 0), 1, false},      /* before 1970: negative seconds */
        {2, false, 0, -1, false},
        {3, true, AT(2026, 2, 1, 0, 0), -1, false},        /* notification without a deadline */
        /* a bare request date against a datetime deadline: known only when
         * the whole day is on one side of it */
        {1, true, AT(2026, 2, 26, 0, 0), 1, true},
        {1, true, AT(2026, 2, 27, 0, 0), -1, true},
        {1, true, AT(2026, 2, 28, 0, 0), 0, true},
        /* against a date deadline the day is enough */
        {2, true, AT(2026, 2, 27, 0, 0), 1, true},
        {2, true, AT(2026, 2, 28, 0, 0), 0, true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Record rec = rec_new(p, SD);
        set_i(p, &rec, "units", cases[k].units);
        if (cases[k].has_req) set_i(p, &rec, "requested_at", cases[k].req);
        if (cases[k].date_only) rec.date_only |= bit(p, "requested_at");
        Decision d = decide(p, &rec);
        cr_assert_eq(d.timely, cases[k].timely, "case %zu: timely %d", k, d.timely);
        decision_free(&d);
    }
    th_prog_free(p);
}

Test(vm, many_records_reuse_scratch)
{
    /* Alternating records: state from one record must not leak into the next. */
    Prog *p = th_std_prog();
    uint32_t pa = rule_eq(p, "pa", OUT_PRIOR_AUTH, "units", 1);
    uint32_t ex = rule_eq(p, "ex", OUT_EXEMPT, "member_age", 1);
    rule_waives(p, ex, &pa, 1);
    finish(p);
    Vm *vm = vm_new(p);
    for (int k = 0; k < 1000; k++) {
        Record rec = rec_new(p, SD);
        set_i(p, &rec, "units", 1);
        set_i(p, &rec, "member_age", k % 2 ? 1 : 2);
        Decision d;
        vm_decide(vm, &rec, &d);
        cr_assert_eq(d.kind, k % 2 ? PCR_DEC_NONE : PCR_DEC_PRIOR_AUTH, "record %d", k);
    }
    cr_assert_eq(vm_rule_counts(vm)[pa], 500);
    cr_assert_eq(vm_rule_counts(vm)[ex], 500);
    vm_free(vm);
    th_prog_free(p);
}

Test(vm, empty_policy)
{
    Prog *p = th_std_prog();
    finish(p);
    Record rec = rec_new(p, SD);
    Decision d = decide(p, &rec);
    cr_assert_eq(d.kind, PCR_DEC_NONE);
    cr_assert_eq(d.nrules, 0);
    decision_free(&d);
    th_prog_free(p);
}

/* ---- decision lines ------------------------------------------------------ */

/* The demo policy of docs/language.md, plus rules for the other shapes. */
static Prog *demo_prog(void)
{
    Prog *p = th_std_prog();
    p->id = th_str(p, "demo");
    p->version = th_str(p, "2026.1");
    p->reviewer = th_str(p, "Demo Health");
    uint32_t mri = rule_eq(p, "mri", OUT_PRIOR_AUTH, "units", 1);
    p->rules[mri].title = th_str(p, "MRI of the brain");
    p->rules[mri].cite_first = th_ref(p, th_str(p, "demo-list.txt"));
    th_ref(p, th_str(p, "Diagnostic Imaging"));
    p->rules[mri].cite_count = 1;
    rule_reviewers(p, mri, (const char *const[]){"eviCore", NULL});
    rule_deadline(p, mri, 72, U_HOURS, DIR_BEFORE);
    uint32_t pt = rule_eq(p, "pt", OUT_PRIOR_AUTH, "visit_number", 1);
    p->rules[pt].title = th_str(p, "Physical \"therapy\"");
    p->rules[pt].cite_first = th_ref(p, th_str(p, "demo-list.txt"));
    th_ref(p, PIDX_NONE);
    p->rules[pt].cite_count = 1;
    rule_deadline(p, pt, 2, U_BUSINESS_DAYS, DIR_BEFORE);
    uint32_t dme = rule_eq(p, "dme", OUT_NOTIFICATION, "units", 2);
    p->rules[dme].title = th_str(p, "Durable equipment");
    uint32_t nc = rule_eq(p, "nc", OUT_NOT_COVERED, "price", 1);
    p->rules[nc].title = th_str(p, "Cosmetic");
    uint32_t nc2 = rule_eq(p, "nc2", OUT_NOT_COVERED, "units", 3);
    p->rules[nc2].title = th_str(p, "Experimental");
    uint32_t ex = rule_bool(p, "medicare", OUT_EXEMPT, "medicare_primary");
    p->rules[ex].title = th_str(p, "Medicare primary");
    p->rules[ex].exempt_all = 1;
    finish(p);
    return p;
}

/* A record for demo_prog: nothing unknown unless a test unsets a field. */
static Record demo_rec(const Prog *p, int64_t units, int64_t visit_number)
{
    Record rec = rec_new(p, SD);
    set_i(p, &rec, "units", units);
    set_i(p, &rec, "visit_number", visit_number);
    set_i(p, &rec, "price", 0);
    return rec;
}

/* The line out_decision writes for rec, as a malloc'ed string. */
static char *decision_line(const Prog *p, const Record *rec)
{
    vi_drop(p); /* tests change p between decisions: index it afresh */
    Vm *vm = vm_new(p);
    OutPolicy *o = out_policy_new(p);
    Decision d;
    vm_decide(vm, rec, &d);
    Buf b = {0};
    out_decision(&b, o, rec->id, rec->id_len, &d);
    buf_putc(&b, '\0');
    out_policy_free(o);
    vm_free(vm);
    return b.p;
}

Test(out, prior_auth_one_reviewer_datetime_deadline)
{
    Prog *p = demo_prog();
    Record rec = demo_rec(p, 1, 2);
    set_i(p, &rec, "requested_at", AT(2026, 2, 20, 9, 30));
    char *line = decision_line(p, &rec);
    cr_assert_str_eq(line, "{\"id\":\"r1\",\"decision\":\"prior_auth\",\"policy\":\"demo@2026.1\","
                           "\"reviewer\":\"eviCore\",\"deadline\":\"2026-02-27T00:00\",\"timely\":true,"
                           "\"rules\":[\"mri\"],\"reasons\":[{\"rule\":\"mri\",\"title\":\"MRI of the brain\","
                           "\"outcome\":\"prior_auth\",\"citation\":\"demo-list.txt, Diagnostic Imaging\","
                           "\"citations\":[\"demo-list.txt, Diagnostic Imaging\"]}],"
                           "\"obligations\":[{\"outcome\":\"prior_auth\",\"reviewer\":\"eviCore\","
                           "\"deadline\":\"2026-02-27T00:00\",\"timely\":true,\"rules\":[\"mri\"],"
                           "\"citations\":[\"demo-list.txt, Diagnostic Imaging\"]}],\"possible\":[],"
                           "\"missing\":[]}\n");
    free(line);
    th_prog_free(p);
}

Test(out, several_reviewers_date_deadline_escapes)
{
    Prog *p = demo_prog();
    Record rec = demo_rec(p, 1, 1);
    set_i(p, &rec, "requested_at", AT(2026, 2, 27, 8, 0));
    rec.id = "a\"b\\c\n";
    rec.id_len = 6;
    char *line = decision_line(p, &rec);
    /* pt's 2 business days before Monday (Thursday 02-26) ends before mri's
     * 2026-02-27T00:00; requested on the 27th is late */
    cr_assert_str_eq(line, "{\"id\":\"a\\\"b\\\\c\\n\",\"decision\":\"prior_auth\",\"policy\":\"demo@2026.1\","
                           "\"reviewer\":[\"eviCore\",\"Demo Health\"],\"deadline\":\"2026-02-26\","
                           "\"timely\":false,\"rules\":[\"mri\",\"pt\"],\"reasons\":[{\"rule\":\"mri\","
                           "\"title\":\"MRI of the brain\",\"outcome\":\"prior_auth\","
                           "\"citation\":\"demo-list.txt, Diagnostic Imaging\",\"citations\":[\"demo-list.txt,"
                           " Diagnostic Imaging\"]},{\"rule\":\"pt\",\"title\":\"Physical \\\"therapy\\\"\","
                           "\"outcome\":\"prior_auth\",\"citation\":\"demo-list.txt\","
                           "\"citations\":[\"demo-list.txt\"]}],\"obligations\":[{\"outcome\":\"prior_auth\","
                           "\"reviewer\":\"eviCore\",\"deadline\":\"2026-02-27T00:00\",\"timely\":false,"
                           "\"rules\":[\"mri\"],\"citations\":[\"demo-list.txt, Diagnostic Imaging\"]},"
                           "{\"outcome\":\"prior_auth\",\"reviewer\":\"Demo Health\","
                           "\"deadline\":\"2026-02-26\",\"timely\":false,\"rules\":[\"pt\"],"
                           "\"citations\":[\"demo-list.txt\"]}],\"possible\":[],\"missing\":[]}\n");
    free(line);
    th_prog_free(p);
}

Test(out, notification_without_deadline_or_requested_at)
{
    Prog *p = demo_prog();
    Record rec = demo_rec(p, 2, 2);
    char *line = decision_line(p, &rec);
    cr_assert_str_eq(line, "{\"id\":\"r1\",\"decision\":\"notification\",\"policy\":\"demo@2026.1\","
                           "\"reviewer\":\"Demo Health\",\"deadline\":null,\"timely\":null,\"rules\":[\"dme\"],"
                           "\"reasons\":[{\"rule\":\"dme\",\"title\":\"Durable equipment\","
                           "\"outcome\":\"notification\",\"citation\":null,\"citations\":[]}],"
                           "\"obligations\":[{\"outcome\":\"notification\",\"reviewer\":\"Demo Health\","
                           "\"deadline\":null,\"timely\":null,\"rules\":[\"dme\"],\"citations\":[]}],"
                           "\"possible\":[],\"missing\":[]}\n");
    free(line);
    th_prog_free(p);
}

Test(out, none_and_exempt)
{
    Prog *p = demo_prog();
    Record rec = demo_rec(p, 9, 2);
    char *line = decision_line(p, &rec);
    cr_assert_str_eq(line, "{\"id\":\"r1\",\"decision\":\"none\",\"policy\":\"demo@2026.1\","
                           "\"reviewer\":null,\"deadline\":null,\"timely\":null,\"rules\":[],"
                           "\"reasons\":[],\"obligations\":[],\"possible\":[],\"missing\":[]}\n");
    free(line);
    set_i(p, &rec, "units", 1);
    set_i(p, &rec, "medicare_primary", 1);
    line = decision_line(p, &rec);
    cr_assert_str_eq(line, "{\"id\":\"r1\",\"decision\":\"none\",\"policy\":\"demo@2026.1\",\"reviewer\":null,"
                           "\"deadline\":null,\"timely\":null,\"rules\":[\"medicare\"],"
                           "\"reasons\":[{\"rule\":\"medicare\",\"title\":\"Medicare primary\","
                           "\"outcome\":\"exempt\",\"citation\":null,\"citations\":[]}],\"obligations\":[],"
                           "\"possible\":[],\"missing\":[]}\n");
    free(line);
    th_prog_free(p);
}

Test(out, possible_obligations_and_missing_in_schema_order)
{
    Prog *p = demo_prog();
    Record rec = rec_new(p, SD);
    set_i(p, &rec, "requested_at", AT(2026, 2, 20, 0, 0));
    /* units, price and visit_number absent: every rule but the exemption is
     * unknown: nothing is certain, each outcome and reviewer is possible */
    char *line = decision_line(p, &rec);
    cr_assert_str_eq(line, "{\"id\":\"r1\",\"decision\":\"info_needed\",\"policy\":\"demo@2026.1\","
                           "\"reviewer\":null,\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[],"
                           "\"obligations\":[],\"possible\":[{\"outcome\":\"not_covered\","
                           "\"reviewer\":\"Demo Health\",\"deadline\":null,\"rules\":[\"nc\",\"nc2\"],"
                           "\"missing\":[\"units\",\"price\"]},{\"outcome\":\"prior_auth\","
                           "\"reviewer\":\"eviCore\",\"deadline\":\"2026-02-27T00:00\",\"rules\":[\"mri\"],"
                           "\"missing\":[\"units\"]},{\"outcome\":\"prior_auth\",\"reviewer\":\"Demo Health\","
                           "\"deadline\":\"2026-02-26\",\"rules\":[\"pt\"],\"missing\":[\"visit_number\"]},"
                           "{\"outcome\":\"notification\",\"reviewer\":\"Demo Health\",\"deadline\":null,"
                           "\"rules\":[\"dme\"],\"missing\":[\"units\"]}],\"missing\":[\"units\",\"price\","
                           "\"visit_number\"]}\n");
    free(line);
    /* mri and pt fire: prior auth is certain, with both reviewers; nc
     * (price) is unknown: a possible not_covered that names price */
    set_i(p, &rec, "units", 1);
    set_i(p, &rec, "visit_number", 1);
    line = decision_line(p, &rec);
    cr_assert_str_eq(line, "{\"id\":\"r1\",\"decision\":\"prior_auth\",\"policy\":\"demo@2026.1\","
                           "\"reviewer\":[\"eviCore\",\"Demo Health\"],\"deadline\":\"2026-02-26\","
                           "\"timely\":true,\"rules\":[\"mri\",\"pt\"],\"reasons\":[{\"rule\":\"mri\","
                           "\"title\":\"MRI of the brain\",\"outcome\":\"prior_auth\","
                           "\"citation\":\"demo-list.txt, Diagnostic Imaging\",\"citations\":[\"demo-list.txt,"
                           " Diagnostic Imaging\"]},{\"rule\":\"pt\",\"title\":\"Physical \\\"therapy\\\"\","
                           "\"outcome\":\"prior_auth\",\"citation\":\"demo-list.txt\","
                           "\"citations\":[\"demo-list.txt\"]}],\"obligations\":[{\"outcome\":\"prior_auth\","
                           "\"reviewer\":\"eviCore\",\"deadline\":\"2026-02-27T00:00\",\"timely\":true,"
                           "\"rules\":[\"mri\"],\"citations\":[\"demo-list.txt, Diagnostic Imaging\"]},"
                           "{\"outcome\":\"prior_auth\",\"reviewer\":\"Demo Health\","
                           "\"deadline\":\"2026-02-26\",\"timely\":true,\"rules\":[\"pt\"],"
                           "\"citations\":[\"demo-list.txt\"]}],\"possible\":[{\"outcome\":\"not_covered\","
                           "\"reviewer\":\"Demo Health\",\"deadline\":null,\"rules\":[\"nc\"],"
                           "\"missing\":[\"price\"]}],\"missing\":[\"price\"]}\n");
    free(line);
    th_prog_free(p);
}

Test(out, no_policy_and_error_lines)
{
    Buf b = {0};
    out_no_policy(&b, "r7", 2, "no policy for payer \"x\"", strlen("no policy for payer \"x\""));
    out_error(&b, "r8", 2, "record 8: field 'units': expected integer, got \"abc\"");
    out_error(&b, NULL, 0, "record 9: not a JSON object");
    buf_putc(&b, '\0');
    cr_assert_str_eq(
        b.p,
        "{\"id\":\"r7\",\"decision\":\"no_policy\",\"policy\":null,\"reviewer\":null,"
        "\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[],"
        "\"obligations\":[],\"possible\":[],\"missing\":[],\"why\":\"no policy for payer \\\"x\\\"\"}\n"
        "{\"id\":\"r8\",\"decision\":\"error\",\"policy\":null,\"reviewer\":null,"
        "\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[],"
        "\"obligations\":[],\"possible\":[],\"missing\":[],\"error\":\"record 8: field 'units': expected integer, got \\\"abc\\\"\"}\n"
        "{\"id\":null,\"decision\":\"error\",\"policy\":null,\"reviewer\":null,"
        "\"deadline\":null,\"timely\":null,\"rules\":[],\"reasons\":[],"
        "\"obligations\":[],\"possible\":[],\"missing\":[],\"error\":\"record 9: not a JSON object\"}\n");
    buf_free(&b);
}

Test(out, lines_append_to_the_buffer)
{
    Prog *p = demo_prog();
    OutPolicy *o = out_policy_new(p);
    Decision d;
    memset(&d, 0, sizeof d);
    d.kind = PCR_DEC_NONE;
    d.timely = -1;
    Buf b = {0};
    buf_puts(&b, "X");
    out_decision(&b, o, "a", 1, &d);
    out_decision(&b, o, "b", 1, &d);
    buf_putc(&b, '\0');
    cr_assert_str_eq(b.p, "X{\"id\":\"a\",\"decision\":\"none\",\"policy\":\"demo@2026.1\","
                          "\"reviewer\":null,\"deadline\":null,\"timely\":null,\"rules\":[],"
                          "\"reasons\":[],\"obligations\":[],\"possible\":[],\"missing\":[]}\n"
                          "{\"id\":\"b\",\"decision\":\"none\",\"policy\":\"demo@2026.1\","
                          "\"reviewer\":null,\"deadline\":null,\"timely\":null,\"rules\":[],"
                          "\"reasons\":[],\"obligations\":[],\"possible\":[],\"missing\":[]}\n");
    buf_free(&b);
    out_policy_free(o);
    th_prog_free(p);
}

Test(out, deadline_formats)
{
    Prog *p = demo_prog();
    OutPolicy *o = out_policy_new(p);
    const struct {
        bool is_date;
        int64_t v;
        const char *want;
    } cases[] = {
        {true, 20514, "\"2026-03-02\""},
        {false, AT(2026, 2, 27, 0, 0), "\"2026-02-27T00:00\""},
        {false, AT(2026, 12, 31, 23, 59) + 59, "\"2026-12-31T23:59\""},
        {false, AT(1969, 12, 31, 22, 15), "\"1969-12-31T22:15\""},
        {true, DAY(1900, 1, 1), "\"1900-01-01\""},
        {true, DAY(2999, 12, 31), "\"2999-12-31\""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Decision d;
        memset(&d, 0, sizeof d);
        d.kind = PCR_DEC_PRIOR_AUTH;
        d.has_deadline = true;
        d.deadline_is_date = cases[k].is_date;
        d.deadline = cases[k].v;
        d.timely = -1;
        Buf b = {0};
        out_decision(&b, o, "x", 1, &d);
        buf_putc(&b, '\0');
        char *at = strstr(b.p, "\"deadline\":");
        cr_assert(at);
        cr_assert_eq(strncmp(at + 11, cases[k].want, strlen(cases[k].want)), 0, "case %zu: %s", k,
                     b.p);
        buf_free(&b);
    }
    out_policy_free(o);
    th_prog_free(p);
}

Test(out, decision_names)
{
    cr_assert_str_eq(out_decision_name(PCR_DEC_NONE), "none");
    cr_assert_str_eq(out_decision_name(PCR_DEC_NOTIFICATION), "notification");
    cr_assert_str_eq(out_decision_name(PCR_DEC_PRIOR_AUTH), "prior_auth");
    cr_assert_str_eq(out_decision_name(PCR_DEC_NOT_COVERED), "not_covered");
    cr_assert_str_eq(out_decision_name(PCR_DEC_INFO_NEEDED), "info_needed");
    cr_assert_str_eq(out_decision_name(PCR_DEC_NO_POLICY), "no_policy");
    cr_assert_str_eq(out_decision_name(PCR_DEC_ERROR), "error");
    cr_assert_str_eq(out_decision_name((pcr_decision_kind)99), "error");
}

/* ---- fused instructions ----------------------------------------------------- */

/* A fused instruction (opcodes.h, PCR_FUSED): field, then a u16 index. */
static void e_fused(Prog *p, Opcode op, const char *field, uint32_t index)
{
    emit(p, op);
    emit(p, th_field_index(p, field));
    emit16(p, index);
}

/* Each fused instruction gives what its parts give, written out, on a
 * field that is present (in and out of the set, mask or comparison, and an
 * empty list), absent (unknown, and missing) and null (does not apply). */
Test(vm, fused_instructions_match_their_parts)
{
    Prog *p = th_std_prog();
    uint32_t mri = add_set(p, "mri", key(SYS_CPT, "70551"), key(SYS_CPT, "70553"));
    uint32_t dx = add_set(p, "dx", key(SYS_ICD10, "C500"), key(SYS_ICD10, "C509"));
    static const Opcode cmp[] = {OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE};
    static const Opcode cmp_k[] = {OP_LDEQK, OP_LDNEK, OP_LDLTK, OP_LDLEK, OP_LDGTK, OP_LDGEK};
    const char *int_fields[] = {"units", "setting", "price", "member_age"};
    uint32_t pairs = 0; /* rule 2k is fused, 2k + 1 its parts */
    for (size_t f = 0; f < sizeof int_fields / sizeof *int_fields; f++)
        for (size_t c = 0; c < 6; c++) {
            uint32_t k = add_const(p, 3);
            uint32_t r = rule_begin(p, "fused", OUT_PRIOR_AUTH);
            e_fused(p, cmp_k[c], int_fields[f], k);
            rule_end(p, r);
            r = rule_begin(p, "parts", OUT_PRIOR_AUTH);
            e_load(p, int_fields[f]);
            emit(p, OP_CONST);
            emit16(p, k);
            e_op(p, cmp[c]);
            rule_end(p, r);
            pairs++;
        }
    uint32_t mask = add_const(p, (1 << 1) | (1 << 3));
    uint32_t r = rule_begin(p, "fused", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDINMASK, "setting", mask);
    rule_end(p, r);
    r = rule_begin(p, "parts", OUT_PRIOR_AUTH);
    e_load(p, "setting");
    e_set(p, OP_INMASK, mask);
    rule_end(p, r);
    r = rule_begin(p, "fused", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDINSET, "code", mri);
    rule_end(p, r);
    r = rule_begin(p, "parts", OUT_PRIOR_AUTH);
    e_load(p, "code");
    e_set(p, OP_INSET, mri);
    rule_end(p, r);
    r = rule_begin(p, "fused", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDANYSET, "diagnoses", dx);
    rule_end(p, r);
    r = rule_begin(p, "parts", OUT_PRIOR_AUTH);
    e_load(p, "diagnoses");
    e_set(p, OP_ANYSET, dx);
    rule_end(p, r);
    pairs += 3;
    finish(p);
    char err[256];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);

    RecVal items[2] = {{.i = (int64_t)key(SYS_ICD10, "C501")}, {.i = (int64_t)key(SYS_ICD10, "I10")}};
    const char *fields[] = {"units", "setting", "price", "member_age", "code", "diagnoses"};
    uint32_t checked = 0;
    for (int variant = 0; variant < 5; variant++) {
        Record rec = rec_new(p, SD);
        rec.items = items;
        rec.nitems = 2;
        for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
            uint32_t fi = th_field_index(p, fields[f]);
            switch (variant) {
            case 0: /* values that pass: 3, member 3, 70552, [C501, I10] */
            case 1: /* values that fail or sit on the other side: 2, member 2, 70554, [I10] */
                if (strcmp(fields[f], "code") == 0)
                    set_i(p, &rec, "code", (int64_t)key(SYS_CPT, variant ? "70554" : "70552"));
                else if (strcmp(fields[f], "diagnoses") == 0)
                    set_list(p, &rec, "diagnoses", variant, 2 - (uint32_t)variant);
                else set_i(p, &rec, fields[f], variant ? 2 : 3);
                break;
            case 2: unset(p, &rec, fields[f]); break; /* absent */
            case 3:                                  /* null */
                unset(p, &rec, fields[f]);
                rec.none |= (uint64_t)1 << fi;
                break;
            default: /* 4 (the other side of the comparisons), an empty list */
                if (strcmp(fields[f], "diagnoses") == 0) set_list(p, &rec, "diagnoses", 0, 0);
                else set_i(p, &rec, fields[f], 4);
                break;
            }
        }
        for (uint32_t k = 0; k < pairs; k++) {
            uint64_t m1, m2;
            int a = eval(p, &rec, 2 * k, &m1), b = eval(p, &rec, 2 * k + 1, &m2);
            cr_expect_eq(a, b, "variant %d, pair %u: fused %d, parts %d", variant, k, a, b);
            cr_expect_eq(m1, m2, "variant %d, pair %u: missing differs", variant, k);
            checked++;
        }
    }
    cr_assert_eq(checked, 5 * pairs);
    th_prog_free(p);
}

/* ---- guards ------------------------------------------------------------------ */

/* vm_new finds a rule's guards in its block (a first test whose failure,
 * or an `unless` test whose success, makes the rule false on every path);
 * a rule they rule out is not run. They must never rule out a rule whose
 * block is not false, must be found in the shapes the compiler writes, and
 * must not be found where another path could still make the rule true. */
Test(vm, guards_rule_out_only_rules_that_are_false)
{
    Prog *p = th_std_prog();
    uint32_t mask = add_const(p, (1 << 1) | (1 << 3));
    uint32_t c2 = add_const(p, 2), c5 = add_const(p, 5);
    enum { NSHAPES = 7 };
    /* found[k]: whether shape k must have a guard */
    static const bool found[NSHAPES] = {true, true, true, true, false, false, false};
    uint32_t r;
    /* 0: setting in {..} and units > 5 unless member_age == 2 */
    r = rule_begin(p, "when_mask", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDINMASK, "setting", mask);
    size_t j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDGTK, "units", c5);
    e_op(p, OP_AND);
    e_patch(p, j);
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDEQK, "member_age", c2);
    e_op(p, OP_NOT);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    /* 1: units > 5 unless setting == 2 (the shared `unless` shape) */
    r = rule_begin(p, "unless_eq", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDGTK, "units", c5);
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDEQK, "setting", c2);
    e_op(p, OP_NOT);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    /* 2: state == "IL" and units > 5 */
    r = rule_begin(p, "when_str", OUT_PRIOR_AUTH);
    e_load(p, "state");
    e_str(p, "IL");
    e_op(p, OP_SEQ);
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDGTK, "units", c5);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    /* 3: member_age == 2 alone */
    r = rule_begin(p, "when_eq", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDEQK, "member_age", c2);
    rule_end(p, r);
    /* 4: setting == 2 or units > 5: the test failing does not decide */
    r = rule_begin(p, "or", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDEQK, "setting", c2);
    j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDGTK, "units", c5);
    e_op(p, OP_OR);
    e_patch(p, j);
    rule_end(p, r);
    /* 5: not (setting == 2) */
    r = rule_begin(p, "not", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDEQK, "setting", c2);
    e_op(p, OP_NOT);
    rule_end(p, r);
    /* 6: units > 5 or (member_age > 5 and not setting == 2): the `unless`
     * shape sits under an `or`, which a true left side jumps past */
    r = rule_begin(p, "nested", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDGTK, "units", c5);
    size_t jt = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDGTK, "member_age", c5);
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDEQK, "setting", c2);
    e_op(p, OP_NOT);
    e_op(p, OP_AND);
    e_patch(p, j);
    e_op(p, OP_OR);
    e_patch(p, jt);
    rule_end(p, r);
    finish(p);
    char err[256];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);

    Vm *vm = vm_new(p);
    uint32_t ruled_out[NSHAPES] = {0};
    const char *const fields[] = {"setting", "units", "member_age", "state"};
    /* every field of the shapes: absent, null, or each of a few values */
    for (int combo = 0; combo < 5 * 5 * 5 * 4; combo++) {
        Record rec = rec_new(p, SD);
        int x = combo;
        for (size_t f = 0; f < 4; f++) {
            int v = x % (f == 3 ? 4 : 5);
            x /= f == 3 ? 4 : 5;
            uint32_t fi = th_field_index(p, fields[f]);
            if (v == 0) continue; /* absent */
            if (v == 1) rec.none |= (uint64_t)1 << fi;
            else if (f == 3) set_s(p, &rec, "state", v == 2 ? "IL" : "WI");
            else set_i(p, &rec, fields[f], v == 2 ? 1 : v == 3 ? 2 : 6);
        }
        for (uint32_t k = 0; k < NSHAPES; k++) {
            int g = vm_rule_guards(vm, &rec, k);
            cr_assert(found[k] ? g >= 0 : g == -1, "rule %u: guards %d", k, g);
            if (g != 1) continue;
            ruled_out[k]++;
            uint64_t m;
            cr_assert_eq(vm_eval_rule(vm, &rec, k, &m), 0, "rule %u ruled out but not false", k);
        }
    }
    for (uint32_t k = 0; k < NSHAPES; k++)
        if (found[k]) cr_expect_gt(ruled_out[k], 0, "rule %u: its guards never ruled it out", k);
    vm_free(vm);
    th_prog_free(p);
}

/* ---- the code table ------------------------------------------------------ */

/* vm_new cuts every set's ranges into one table of disjoint intervals, and
 * a record's code (or list of codes) is looked up once per record. Many
 * overlapping sets of several ranges each, one VM reused across records:
 * every `code in S` and `codes any in S` must agree with a binary search of
 * S itself, at range ends and next to them, and nothing may leak from one
 * record into the next. */
Test(vm, code_table_agrees_with_each_set)
{
    Prog *p = th_std_prog();
    enum { NSETS = 24, NCODES = 400 };
    uint32_t seed = 12345;
#define NEXT_RAND() (seed = seed * 1103515245u + 12345u, (seed >> 8) % NCODES)
    CodeKey keys[NCODES];
    for (int c = 0; c < NCODES; c++) {
        char text[8];
        snprintf(text, sizeof text, "%05d", 10000 + c * 223); /* 10000 .. 98977: many prefixes */
        keys[c] = key(SYS_CPT, text);
    }
    for (uint32_t s = 0; s < NSETS; s++) {
        CodeSet cs = {0};
        uint32_t nr = 1 + s % 5;
        for (uint32_t k = 0; k < nr; k++) {
            uint32_t a = NEXT_RAND(), b = a + NEXT_RAND() % (s % 3 ? 8 : 120);
            code_set_add(&cs, keys[a], keys[b < NCODES ? b : NCODES - 1]);
        }
        add_code_set(p, "s", &cs);
    }
    for (uint32_t s = 0; s < NSETS; s++) { /* rule 2s: code in s; 2s + 1: diagnoses any in s */
        uint32_t r = rule_begin(p, "code", OUT_PRIOR_AUTH);
        e_fused(p, OP_LDINSET, "code", s);
        rule_end(p, r);
        r = rule_begin(p, "list", OUT_PRIOR_AUTH);
        e_fused(p, OP_LDANYSET, "diagnoses", s);
        rule_end(p, r);
    }
    finish(p);
    char err[256];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);

    Vm *vm = vm_new(p);
    RecVal items[3] = {{0}};
    uint32_t checked = 0;
    for (int rec_no = 0; rec_no < 600; rec_no++) {
        Record rec = rec_new(p, SD);
        rec.items = items;
        rec.nitems = 3;
        /* codes: each one of the 400 in turn, then random ones; a key just
         * before the first code and one past the last as well */
        CodeKey code = rec_no < NCODES ? keys[rec_no] : keys[NEXT_RAND()] + (rec_no % 3) - 1;
        if (rec_no == NCODES) code = keys[0] - 1;
        if (rec_no == NCODES + 1) code = keys[NCODES - 1] + 1;
        if (rec_no == NCODES + 2) code = key(SYS_CPT, "00001"); /* a prefix before the table */
        if (rec_no == NCODES + 3) code = key(SYS_CPT, "99999"); /* and one after it */
        if (rec_no == NCODES + 4) code = key(SYS_HCPCS, "A0001");
        set_i(p, &rec, "code", (int64_t)code);
        for (int k = 0; k < 3; k++) items[k].i = (int64_t)keys[NEXT_RAND()];
        set_list(p, &rec, "diagnoses", 0, (uint32_t)(rec_no % 4 == 3 ? 0 : 1 + rec_no % 3));
        uint32_t nlist = rec_no % 4 == 3 ? 0 : 1 + (uint32_t)(rec_no % 3);
        for (uint32_t s = 0; s < NSETS; s++) {
            const CodeRange *rs = p->ranges + p->sets[s].first;
            uint32_t n = p->sets[s].count;
            bool want_code = code_ranges_contain(rs, n, code), want_list = false;
            for (uint32_t k = 0; k < nlist; k++) want_list |= code_ranges_contain(rs, n, (CodeKey)items[k].i);
            uint64_t m;
            cr_assert_eq(vm_eval_rule(vm, &rec, 2 * s, &m), want_code, "record %d, set %u, code", rec_no, s);
            cr_assert_eq(vm_eval_rule(vm, &rec, 2 * s + 1, &m), want_list, "record %d, set %u, list", rec_no, s);
            checked += 2;
        }
        /* and through vm_decide: every rule whose set holds a code fires */
        Decision d;
        vm_decide(vm, &rec, &d);
        uint32_t want_fired = 0;
        for (uint32_t s = 0; s < NSETS; s++) {
            const CodeRange *rs = p->ranges + p->sets[s].first;
            bool any = false;
            for (uint32_t k = 0; k < nlist; k++) any |= code_ranges_contain(rs, p->sets[s].count, (CodeKey)items[k].i);
            want_fired += code_ranges_contain(rs, p->sets[s].count, code) + any;
        }
        cr_assert_eq(d.nrules, want_fired, "record %d: %u rules fired, want %u", rec_no, d.nrules, want_fired);
    }
#undef NEXT_RAND
    cr_assert_eq(checked, 600 * NSETS * 2);
    vm_free(vm);
    th_prog_free(p);
}

static int key_order(const void *a, const void *b)
{
    CodeKey x = *(const CodeKey *)a, y = *(const CodeKey *)b;
    return x < y ? -1 : x > y;
}

static const char *const payer_names[] = {"alliant", "cigna", "healthlink", "ibx"};
enum { NPAYERS = sizeof payer_names / sizeof payer_names[0] };

/* The shipped policy of payer_names[k], compiled; the caller frees it. */
static pcr_policy *payer_policy(size_t k)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/policies", th_root());
    snprintf(path, sizeof path, "%s/%s.pcr", dir, payer_names[k]);
    const char *inc[] = {dir};
    pcr_compile_opts opts = {.include_dirs = inc, .n_include_dirs = 1};
    pcr_policy *pol = NULL;
    pcr_diags *d = NULL;
    cr_assert_eq(pcr_compile_file(path, &opts, &pol, &d), PCR_OK, "%s does not compile", path);
    pcr_diags_free(d);
    return pol;
}

/* The code table of a shipped payer policy, against its definition: its
 * interval starts are every range's and segment's first code and the code
 * after its last, ascending and each once (here by qsort), and each
 * interval's segment is the one holding its start (vi_find_seg). The
 * policies' sets and segments give their starts in many ascending runs. */
Test(vm, code_table_is_the_sets_and_segments_cut)
{
    for (size_t k = 0; k < NPAYERS; k++) {
        pcr_policy *pol = payer_policy(k);
        const Prog *p = pol->prog;
        const ViCodeTab *t = &vi_of(p)->ct;
        CodeKey *want = malloc((2 * ((size_t)p->nranges + p->nsegs) + 1) * sizeof *want);
        size_t n = 0, runs = 1;
        for (uint32_t r = 0; r < p->nranges; r++) {
            want[n++] = p->ranges[r].lo;
            if (p->ranges[r].hi != UINT64_MAX) want[n++] = p->ranges[r].hi + 1;
        }
        for (uint32_t g = 0; g < p->nsegs; g++) {
            want[n++] = p->segs[g].lo;
            if (p->segs[g].hi != UINT64_MAX) want[n++] = p->segs[g].hi + 1;
        }
        for (size_t i = 1; i < n; i++) runs += want[i - 1] > want[i];
        cr_assert_gt(runs, 8, "%s: its starts come in %zu runs", payer_names[k], runs);
        qsort(want, n, sizeof *want, key_order);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (m == 0 || want[m - 1] != want[i]) want[m++] = want[i];
        cr_assert_eq(t->n, m, "%s: %u intervals, want %zu", payer_names[k], t->n, m);
        for (size_t i = 0; i < m; i++) {
            cr_assert_eq(t->start[i], want[i], "%s: interval %zu", payer_names[k], i);
            const PSeg *g = vi_find_seg(p, t->start[i]);
            cr_assert_eq(t->seg[i], g ? (uint32_t)(g - p->segs) : PIDX_NONE, "%s: interval %zu's segment",
                         payer_names[k], i);
        }
        free(want);
        pcr_policy_free(pol);
    }
}

/* The interval of t holding k by a walk over every start: the answer
 * vi_ct_find's tree must give. */
static uint32_t find_by_walk(const ViCodeTab *t, CodeKey k)
{
    uint32_t i = UINT32_MAX;
    for (uint32_t j = 0; j < t->n && t->start[j] <= k; j++) i = j;
    return i;
}

/* vi_ct_find (the search tree) and vi_ct_lookup (a prefix's run, or the
 * tree for a long one) against find_by_walk, for every start of t, the keys
 * either side of it, and keys before and after the table. */
static void check_table_search(const ViCodeTab *t, const char *what)
{
    ViMemo *memo = malloc(((size_t)1 << VI_MEMO_BITS) * sizeof *memo);
    vi_memo_init(memo);
    CodeKey edge[] = {0, 1, t->n ? t->start[t->n - 1] + 1000 : 5, UINT64_MAX - 1};
    for (size_t e = 0; e < sizeof edge / sizeof edge[0]; e++)
        cr_assert_eq(vi_ct_find(t, edge[e]), find_by_walk(t, edge[e]), "%s: key %llx", what,
                     (unsigned long long)edge[e]);
    for (uint32_t i = 0; i < t->n; i++) {
        for (int d = -1; d <= 1; d++) {
            if (d < 0 && t->start[i] == 0) continue;
            CodeKey k = t->start[i] + (CodeKey)(int64_t)d;
            uint32_t want = find_by_walk(t, k);
            cr_assert_eq(vi_ct_find(t, k), want, "%s: interval %u, key %+d", what, i, d);
            cr_assert_eq(vi_ct_lookup(t, memo, k), want, "%s: interval %u, key %+d, through the memo",
                         what, i, d);
        }
    }
    free(memo);
}

/* The search tree over tables of 2 to 2,600 starts: within one node, one
 * key over it, a level of one full node (66 starts) and one key over that
 * (74), two levels and three (single codes 3 apart make two starts each,
 * all of one prefix, so the memo's run is long and the lookup takes the
 * tree), and over the four payers' tables. */
Test(vm, code_table_search_finds_every_keys_interval)
{
    static const uint32_t codes[] = {1, 4, 5, 8, 9, 32, 33, 37, 260, 1300};
    for (size_t c = 0; c < sizeof codes / sizeof codes[0]; c++) {
        Prog *p = th_std_prog();
        CodeSet cs = {0};
        for (uint32_t i = 0; i < codes[c]; i++) {
            char text[8];
            snprintf(text, sizeof text, "%05u", 10000 + 3 * i);
            code_set_add(&cs, key(SYS_CPT, text), key(SYS_CPT, text));
        }
        add_code_set(p, "s", &cs);
        uint32_t r = rule_begin(p, "code", OUT_PRIOR_AUTH);
        e_fused(p, OP_LDINSET, "code", 0);
        rule_end(p, r);
        finish(p);
        const ViCodeTab *t = &vi_of(p)->ct;
        cr_assert_eq(t->n, 2 * codes[c], "%u codes: %u intervals", codes[c], t->n);
        cr_assert_eq(t->levels, codes[c] <= 4 ? 0u : codes[c] <= 36 ? 1u : codes[c] <= 292 ? 2u : 3u,
                     "%u codes: %u levels", codes[c], t->levels);
        char what[32];
        snprintf(what, sizeof what, "%u codes", codes[c]);
        check_table_search(t, what);
        th_prog_free(p);
    }
    for (size_t k = 0; k < NPAYERS; k++) {
        pcr_policy *pol = payer_policy(k);
        check_table_search(&vi_of(pol->prog)->ct, payer_names[k]);
        pcr_policy_free(pol);
    }
}

/* vi_ct_may_hold against a search of every interval of the key's prefix:
 * true exactly when one of them holds a set, for a key of every interval
 * of the four payers' tables and the key before each, through one memo
 * that each prefix's entry passes through many times. */
Test(vm, code_prefix_may_hold_a_set_exactly_when_one_of_its_intervals_does)
{
    size_t held = 0, empty = 0;
    for (size_t k = 0; k < NPAYERS; k++) {
        pcr_policy *pol = payer_policy(k);
        const ViCodeTab *t = &vi_of(pol->prog)->ct;
        ViMemo *memo = malloc(((size_t)1 << VI_MEMO_BITS) * sizeof *memo);
        vi_memo_init(memo);
        for (uint32_t i = 0; i < t->n; i++) {
            for (int before = 0; before <= 1; before++) {
                if (before && t->start[i] == 0) continue;
                CodeKey key = t->start[i] - (CodeKey)before;
                CodeKey first = key >> VI_PREFIX_SHIFT << VI_PREFIX_SHIFT;
                uint32_t lo = vi_ct_find(t, first);
                uint32_t hi = vi_ct_find(t, first | (((CodeKey)1 << VI_PREFIX_SHIFT) - 1));
                bool want = false;
                for (uint32_t j = lo == UINT32_MAX ? 0 : lo; hi != UINT32_MAX && j <= hi && !want; j++)
                    want = t->set_first[j + 1] > t->set_first[j];
                cr_assert_eq(vi_ct_may_hold(t, memo, key), want, "%s: key %llx (interval %u%s)",
                             payer_names[k], (unsigned long long)key, i, before ? ", the key before" : "");
                want ? held++ : empty++;
            }
        }
        free(memo);
        pcr_policy_free(pol);
    }
    cr_assert_gt(held, 0, "no prefix holds a set");
    cr_assert_gt(empty, 0, "every prefix holds a set");
}

/* ---- the bucket filter ---------------------------------------------------- */

/* Whether some interval of t holding a set or in a segment has a key in
 * lo .. hi, by a walk from lo's interval: what a bucket's bit must say. */
static bool held_in(const ViCodeTab *t, CodeKey lo, CodeKey hi)
{
    uint32_t i = vi_ct_find(t, lo);
    for (uint32_t j = i == UINT32_MAX ? 0 : i; j < t->n && t->start[j] <= hi; j++)
        if (t->set_first[j + 1] > t->set_first[j] || t->seg[j] != PIDX_NONE) return true;
    return false;
}

/* vi_ct_held for key k of t against vi_ct_find: the same interval, or
 * UINT32_MAX where that interval holds no set and is in no segment.
 * Returns whether the filter answered (UINT32_MAX for an interval). */
static bool check_held(const ViCodeTab *t, ViKeyMemo *km, ViMemo *memo, CodeKey k, const char *what)
{
    uint32_t want = vi_ct_find(t, k), got = vi_ct_held(t, km, memo, k);
    if (got == want) return false;
    cr_assert_eq(got, UINT32_MAX, "%s: key %llx: interval %u, want %u", what, (unsigned long long)k, got,
                 want);
    cr_assert(t->set_first[want + 1] == t->set_first[want] && t->seg[want] == PIDX_NONE,
              "%s: key %llx: left out, but its interval %u holds a set or segment", what,
              (unsigned long long)k, want);
    return true;
}

/* The bucket filter of the four payers' tables, against its definition:
 * each listed prefix's bucket has its bit exactly when an interval that
 * holds a set or segment has a key in it, and each prefix such an
 * interval touches is listed. Then vi_ct_held (through one prefix memo
 * and one key memo) against the table for the first and last key of every
 * bucket of every listed prefix, every interval's start and the key
 * before it, and keys of prefixes not listed: it must leave out only keys
 * no set and no segment holds, and it must leave out some. */
Test(vm, bucket_filter_leaves_out_only_keys_nothing_holds)
{
    for (size_t k = 0; k < NPAYERS; k++) {
        pcr_policy *pol = payer_policy(k);
        const ViCodeTab *t = &vi_of(pol->prog)->ct;
        cr_assert_not_null(t->bucket_bits, "%s: no filter", payer_names[k]);
        cr_assert_gt(t->npre, 0, "%s: no prefix listed", payer_names[k]);
        for (uint32_t i = 0; i < t->n; i++) { /* every touched prefix is listed */
            if (!held_in(t, t->start[i], t->start[i])) continue;
            CodeKey last = i + 1 < t->n ? t->start[i + 1] - 1 : UINT64_MAX;
            for (CodeKey x = t->start[i] >> VI_PREFIX_SHIFT; x <= last >> VI_PREFIX_SHIFT; x++)
                cr_assert_neq(vi_bucket_bitmap(t, (uint32_t)x), 0, "%s: prefix %llx of interval %u not listed",
                              payer_names[k], (unsigned long long)x, i);
        }
        ViMemo *memo = malloc(((size_t)1 << VI_MEMO_BITS) * sizeof *memo);
        vi_memo_init(memo);
        ViKeyMemo *km = vi_key_memo_new();
        size_t left_out = 0, set = 0;
        for (uint32_t x = 0; x < t->npre; x++) {
            CodeKey pre = (CodeKey)t->bucket_pre[x] << VI_PREFIX_SHIFT;
            cr_assert(x == 0 || t->bucket_pre[x - 1] < t->bucket_pre[x], "%s: prefixes out of order",
                      payer_names[k]);
            uint32_t at = vi_bucket_bitmap(t, t->bucket_pre[x]);
            cr_assert_eq(at, (x + 1) * VI_BUCKET_WORDS);
            for (uint32_t b = 0; b < VI_BUCKETS; b++) {
                CodeKey lo = pre | (CodeKey)b << VI_BUCKET_SHIFT, hi = lo | (((CodeKey)1 << VI_BUCKET_SHIFT) - 1);
                bool bit = t->bucket_bits[at + b / 64] >> (b % 64) & 1;
                cr_assert_eq(bit, held_in(t, lo, hi), "%s: prefix %u, bucket %u", payer_names[k], x, b);
                set += bit;
                left_out += check_held(t, km, memo, lo, payer_names[k]);
                left_out += check_held(t, km, memo, hi, payer_names[k]);
            }
        }
        for (uint32_t i = 0; i < t->n; i++) {
            left_out += check_held(t, km, memo, t->start[i], payer_names[k]);
            if (t->start[i]) left_out += check_held(t, km, memo, t->start[i] - 1, payer_names[k]);
        }
        /* prefixes no holding interval touches: the zero bitmap */
        static const struct {
            CodeSystem sys;
            const char *code;
        } other[] = {{SYS_HCPCS, "U0001"}, {SYS_ICD10, "U07.1"}, {SYS_REV, "0001"}, {SYS_POS, "99"}};
        for (size_t o = 0; o < sizeof other / sizeof other[0]; o++) {
            CodeKey c = key(other[o].sys, other[o].code);
            if (held_in(t, c >> VI_PREFIX_SHIFT << VI_PREFIX_SHIFT, c | (((CodeKey)1 << VI_PREFIX_SHIFT) - 1)))
                continue;
            cr_assert_eq(vi_bucket_bitmap(t, (uint32_t)(c >> VI_PREFIX_SHIFT)), 0, "%s: %s", payer_names[k],
                         other[o].code);
            cr_assert_eq(vi_ct_held(t, km, memo, c), UINT32_MAX, "%s: %s", payer_names[k], other[o].code);
            left_out++;
        }
        cr_assert_gt(set, 0, "%s: no bucket holds anything", payer_names[k]);
        cr_assert_gt(left_out, 0, "%s: the filter left out no key", payer_names[k]);
        free(km);
        free(memo);
        pcr_policy_free(pol);
    }
}

/* A table whose holding intervals touch more prefixes than
 * VI_BUCKET_MAX_PREFIXES (a range from CPT codes to HCPCS ones) has no
 * filter, and vi_ct_held then answers as the table for every key. */
Test(vm, bucket_filter_is_off_past_its_limit)
{
    Prog *p = th_std_prog();
    CodeSet wide = {0}, narrow = {0};
    code_set_add(&wide, key(SYS_CPT, "70010"), key(SYS_HCPCS, "E0100"));
    code_set_add(&narrow, key(SYS_CPT, "93350"), key(SYS_CPT, "93350"));
    add_code_set(p, "wide", &wide);
    add_code_set(p, "narrow", &narrow);
    for (uint32_t s = 0; s < 2; s++) {
        uint32_t r = rule_begin(p, "code", OUT_PRIOR_AUTH);
        e_fused(p, OP_LDINSET, "code", s);
        rule_end(p, r);
    }
    finish(p);
    const ViCodeTab *t = &vi_of(p)->ct;
    cr_assert_null(t->bucket_bits);
    cr_assert_eq(vi_bucket_bitmap(t, 0), VI_BITS_NONE);
    ViMemo *memo = malloc(((size_t)1 << VI_MEMO_BITS) * sizeof *memo);
    vi_memo_init(memo);
    ViKeyMemo *km = vi_key_memo_new();
    static const struct {
        CodeSystem sys;
        const char *code;
    } codes[] = {{SYS_CPT, "10000"}, {SYS_CPT, "70010"}, {SYS_CPT, "93350"}, {SYS_CPT, "99999"},
                 {SYS_HCPCS, "A0001"}, {SYS_HCPCS, "E0100"}, {SYS_HCPCS, "E0101"}, {SYS_ICD10, "I10"}};
    for (size_t c = 0; c < sizeof codes / sizeof codes[0]; c++) {
        CodeKey k = key(codes[c].sys, codes[c].code);
        cr_assert_eq(vi_ct_held(t, km, memo, k), vi_ct_find(t, k), "%s", codes[c].code);
    }
    free(km);
    free(memo);
    th_prog_free(p);
}

/* ---- the always rules split by an enum field ----------------------------- */

static void e_fused_k(Prog *p, Opcode op, const char *field, int64_t k)
{
    e_fused(p, op, field, add_const(p, k));
}

/* `field == "s"` on a string field: LOAD, STR, SEQ (a guard vi_find_guards
 * reads). */
static void e_str_eq(Prog *p, const char *field, const char *s)
{
    e_load(p, field);
    e_str(p, s);
    e_op(p, OP_SEQ);
}

/* The one-field tests the filters and the chains read: a fused `==` or
 * `in {...}` of an enum, a string `==`, a bool field, a list `any in` set k. */
typedef enum { T_EQ, T_MASK, T_STR, T_BOOL, T_ANYSET } TestKind;
static void e_test(Prog *p, TestKind t, const char *field, int64_t k, const char *s)
{
    if (t == T_EQ) e_fused_k(p, OP_LDEQK, field, k);
    else if (t == T_MASK) e_fused_k(p, OP_LDINMASK, field, k);
    else if (t == T_BOOL) e_load(p, field);
    else if (t == T_ANYSET) e_fused(p, OP_LDANYSET, field, (uint32_t)k);
    else e_str_eq(p, field, s);
}

/* Appends `JFALSE L; <test>; AND; L:` (`and` a conjunct) or, with not,
 * `JFALSE L; <test>; NOT; AND; L:` (an `unless` clause). */
static void e_and_test(Prog *p, bool not, TestKind t, const char *field, int64_t k, const char *s)
{
    size_t j = e_jump(p, OP_JFALSE);
    e_test(p, t, field, k, s);
    if (not) e_op(p, OP_NOT);
    e_op(p, OP_AND);
    e_patch(p, j);
}

/* vm_new splits the rules the index does not select by the enum field their
 * guards test most, so a record considers only the rules its value leaves.
 * For every member of that field, null and absent, with and without the
 * other fields: the rules vm_decide fires, and those it leaves possible,
 * must be exactly the rules whose block returns true, and unknown. */
Test(vm, always_rules_split_by_setting_decide_as_every_block)
{
    Prog *p = th_std_prog();
    uint32_t r;
    r = rule_begin(p, "when_mask", OUT_PRIOR_AUTH); /* setting in {outpatient, office} */
    e_fused_k(p, OP_LDINMASK, "setting", (1 << 1) | (1 << 3));
    rule_end(p, r);
    r = rule_begin(p, "when_eq_and", OUT_PRIOR_AUTH); /* setting == ambulatory_surgery and units == 5 */
    e_fused_k(p, OP_LDEQK, "setting", 2);
    size_t j = e_jump(p, OP_JFALSE);
    e_fused_k(p, OP_LDEQK, "units", 5);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    r = rule_begin(p, "unless", OUT_NOTIFICATION); /* units == 5 unless setting == home */
    e_fused_k(p, OP_LDEQK, "units", 5);
    j = e_jump(p, OP_JFALSE);
    e_fused_k(p, OP_LDEQK, "setting", 4);
    e_op(p, OP_NOT);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    r = rule_begin(p, "unguarded", OUT_NOTIFICATION); /* emergent */
    e_load(p, "emergent");
    rule_end(p, r);
    r = rule_begin(p, "other_field", OUT_PRIOR_AUTH); /* admission == urgent */
    e_fused_k(p, OP_LDEQK, "admission", 2);
    rule_end(p, r);
    r = rule_begin(p, "when_inpatient", OUT_NOT_COVERED); /* setting == inpatient */
    e_fused_k(p, OP_LDEQK, "setting", 0);
    rule_end(p, r);
    /* a reviewer each: no possible obligation merges into a certain one */
    static const char *const reviewers[][2] = {{"a", NULL}, {"b", NULL}, {"c", NULL},
                                               {"d", NULL}, {"e", NULL}, {"f", NULL}};
    for (uint32_t k = 0; k < p->nrules; k++) rule_reviewers(p, k, reviewers[k]);
    finish(p);
    char err[256];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);
    uint32_t fs = th_field_index(p, "setting");
    uint32_t nmembers = p->fields[fs].enum_count, checked = 0;

    Vm *vm = vm_new(p);
    for (uint32_t v = 0; v < nmembers + 2; v++) {     /* members, then null, then absent */
        for (int other = 0; other < 4; other++) {      /* units, admission, emergent, code */
            Record rec = rec_new(p, SD);
            if (v < nmembers) set_i(p, &rec, "setting", v);
            else if (v == nmembers) rec.none |= (uint64_t)1 << fs;
            if (other & 1) set_i(p, &rec, "units", 5);
            if (other & 2) set_i(p, &rec, "admission", 2), set_i(p, &rec, "emergent", 1);
            if (other != 3) set_i(p, &rec, "code", (int64_t)key(SYS_CPT, "99213"));
            uint32_t want_fired[8], nfired = 0, want_unknown[8], nunknown = 0;
            for (uint32_t k = 0; k < p->nrules; k++) {
                uint64_t m;
                int res = vm_eval_rule(vm, &rec, k, &m);
                if (res > 0) want_fired[nfired++] = k;
                else if (res < 0) want_unknown[nunknown++] = k;
            }
            Decision d;
            vm_decide(vm, &rec, &d);
            cr_assert_eq(d.nrules, nfired, "setting %u, variant %d: %u fired, want %u", v, other,
                         d.nrules, nfired);
            for (uint32_t k = 0; k < nfired; k++) cr_assert_eq(d.rules[k], want_fired[k]);
            bool possible[8] = {false};
            uint32_t npossible = 0;
            for (uint32_t k = 0; k < d.npossible; k++)
                for (uint32_t x = 0; x < d.possible[k].nrules; x++, npossible++)
                    possible[d.possible[k].rules[x]] = true;
            /* a not_covered that fired leaves prior_auth/notification ones out */
            bool nc = false;
            for (uint32_t k = 0; k < nfired; k++) nc |= p->rules[want_fired[k]].outcome == OUT_NOT_COVERED;
            if (!nc) {
                cr_assert_eq(npossible, nunknown, "setting %u, variant %d: %u possible, want %u", v,
                             other, npossible, nunknown);
                for (uint32_t k = 0; k < nunknown; k++)
                    cr_assert(possible[want_unknown[k]], "setting %u, variant %d: rule %u", v, other,
                              want_unknown[k]);
            }
            checked++;
        }
    }
    cr_assert_eq(checked, (nmembers + 2) * 4);
    vm_free(vm);
    th_prog_free(p);
}

/* vm_new also finds an `or` at the head of a block whose disjuncts are
 * cheap tests (one-field guards, code-set tests with or without
 * `present(f) and`, bool fields): when each is known false, the rule is
 * false and is not run. Every combination of absent, null and present
 * values: a rule ruled out must be false, and each shape must be ruled out
 * somewhere; a shape with another disjunct must have no guard. */
Test(vm, or_guards_rule_out_only_rules_that_are_false)
{
    Prog *p = th_std_prog();
    uint32_t s = add_set(p, "mri", key(SYS_CPT, "70551"), key(SYS_CPT, "70553"));
    uint32_t d = add_set(p, "dx", key(SYS_ICD10, "C500"), key(SYS_ICD10, "C509"));
    uint32_t c2 = add_const(p, 2), c5 = add_const(p, 5);
    enum { NSHAPES = 7 };
    static const bool found[NSHAPES] = {true, true, true, true, false, true, false};
    uint32_t r;
    size_t j, j2;
    /* 0: setting == 2 or code in mri */
    r = rule_begin(p, "or_set", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDEQK, "setting", c2);
    j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDINSET, "code", s);
    e_op(p, OP_OR);
    e_patch(p, j);
    rule_end(p, r);
    /* 1: code in mri or (present(diagnoses) and diagnoses any in dx) */
    r = rule_begin(p, "or_present", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDINSET, "code", s);
    j = e_jump(p, OP_JTRUE);
    e_present(p, "diagnoses");
    e_and_test(p, false, T_ANYSET, "diagnoses", d, NULL);
    e_op(p, OP_OR);
    e_patch(p, j);
    rule_end(p, r);
    /* 2: (clinical_trial or diagnoses any in dx or setting == 2) and units > 5 */
    r = rule_begin(p, "or3_and", OUT_PRIOR_AUTH);
    e_load(p, "clinical_trial");
    j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDANYSET, "diagnoses", d);
    e_op(p, OP_OR);
    e_patch(p, j);
    j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDEQK, "setting", c2);
    e_op(p, OP_OR);
    e_patch(p, j);
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDGTK, "units", c5);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    /* 3: present(diagnoses) and diagnoses any in dx, alone */
    r = rule_begin(p, "present_alone", OUT_PRIOR_AUTH);
    e_present(p, "diagnoses");
    e_and_test(p, false, T_ANYSET, "diagnoses", d, NULL);
    rule_end(p, r);
    /* 4: code in mri or units > 5: a disjunct that is not cheap */
    r = rule_begin(p, "or_other", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDINSET, "code", s);
    j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDGTK, "units", c5);
    e_op(p, OP_OR);
    e_patch(p, j);
    rule_end(p, r);
    /* 5: (setting == 2 and (units > 5 or not clinical_trial)) or code in mri:
     * a conjunction stands as its head */
    r = rule_begin(p, "and_head", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDEQK, "setting", c2);
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDGTK, "units", c5);
    j2 = e_jump(p, OP_JTRUE);
    e_load(p, "clinical_trial");
    e_op(p, OP_NOT);
    e_op(p, OP_OR);
    e_patch(p, j2);
    e_op(p, OP_AND);
    e_patch(p, j);
    j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDINSET, "code", s);
    e_op(p, OP_OR);
    e_patch(p, j);
    rule_end(p, r);
    /* 6: (units > 5 and setting == 2) or code in mri: its head is not cheap */
    r = rule_begin(p, "and_other_head", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDGTK, "units", c5);
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDEQK, "setting", c2);
    e_op(p, OP_AND);
    e_patch(p, j);
    j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDINSET, "code", s);
    e_op(p, OP_OR);
    e_patch(p, j);
    rule_end(p, r);
    finish(p);
    char err[256];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);

    RecVal items[2] = {{.i = (int64_t)key(SYS_ICD10, "C501")}, {.i = (int64_t)key(SYS_ICD10, "I10")}};
    Vm *vm = vm_new(p);
    uint32_t ruled_out[NSHAPES] = {0}, combos = 0;
    /* setting, code, diagnoses, clinical_trial, units: absent, null, values */
    for (int combo = 0; combo < 4 * 4 * 5 * 4 * 3; combo++) {
        Record rec = rec_new(p, SD);
        rec.items = items;
        rec.nitems = 2;
        int x = combo, v;
        v = x % 4, x /= 4; /* setting */
        if (v == 1) rec.none |= bit(p, "setting");
        if (v >= 2) set_i(p, &rec, "setting", v == 2 ? 2 : 3);
        v = x % 4, x /= 4; /* code */
        if (v == 1) rec.none |= bit(p, "code");
        if (v >= 2) set_i(p, &rec, "code", (int64_t)key(SYS_CPT, v == 2 ? "70552" : "70554"));
        v = x % 5, x /= 5; /* diagnoses: [C501], [I10], [] */
        if (v == 1) rec.none |= bit(p, "diagnoses");
        if (v >= 2) set_list(p, &rec, "diagnoses", v == 3 ? 1 : 0, v == 4 ? 0 : 1);
        v = x % 4, x /= 4; /* clinical_trial (defaults to false) */
        if (v == 1) rec.none |= bit(p, "clinical_trial");
        if (v >= 2) set_i(p, &rec, "clinical_trial", v == 2);
        v = x % 3; /* units */
        if (v >= 1) set_i(p, &rec, "units", v == 1 ? 6 : 1);
        for (uint32_t k = 0; k < NSHAPES; k++) {
            int g = vm_rule_guards(vm, &rec, k);
            cr_assert(found[k] ? g >= 0 : g == -1, "rule %u: guards %d", k, g);
            if (g != 1) continue;
            ruled_out[k]++;
            uint64_t m;
            cr_assert_eq(vm_eval_rule(vm, &rec, k, &m), 0, "rule %u ruled out but not false (combo %d)",
                         k, combo);
        }
        combos++;
    }
    cr_assert_eq(combos, 4 * 4 * 5 * 4 * 3);
    for (uint32_t k = 0; k < NSHAPES; k++)
        if (found[k]) cr_expect_gt(ruled_out[k], 0, "rule %u: its guards never ruled it out", k);
    vm_free(vm);
    th_prog_free(p);
}

/* Asserts that vm_decide on rec fires exactly the rules whose blocks return
 * true and leaves possible exactly those that return unknown (every rule
 * has its own reviewer and none is not_covered or an exemption). */
static void expect_decide_as_blocks(Vm *vm, const Prog *p, const Record *rec, int label)
{
    bool fired[64] = {false}, unknown[64] = {false};
    uint32_t nfired = 0, nunknown = 0;
    cr_assert(p->nrules <= 64);
    for (uint32_t k = 0; k < p->nrules; k++) {
        uint64_t m;
        int res = vm_eval_rule(vm, rec, k, &m);
        if (res > 0) fired[k] = true, nfired++;
        else if (res < 0) unknown[k] = true, nunknown++;
    }
    Decision d;
    vm_decide(vm, rec, &d);
    cr_assert_eq(d.nrules, nfired, "case %d: %u fired, want %u", label, d.nrules, nfired);
    for (uint32_t k = 0; k < d.nrules; k++) cr_assert(fired[d.rules[k]], "case %d: rule %u", label, d.rules[k]);
    uint32_t npossible = 0;
    for (uint32_t k = 0; k < d.npossible; k++)
        for (uint32_t x = 0; x < d.possible[k].nrules; x++, npossible++)
            cr_assert(unknown[d.possible[k].rules[x]], "case %d: rule %u possible", label,
                      d.possible[k].rules[x]);
    cr_assert_eq(npossible, nunknown, "case %d: %u possible, want %u", label, npossible, nunknown);
}

/* Rules outside the index whose `or` is made of code-set tests and tests of
 * the split field are considered only when a code or that field may select
 * them (vm_split_build, vm_folded). Every combination of absent, null and
 * present code, diagnoses and setting: vm_decide must fire, and leave
 * possible, exactly what the blocks say. */
Test(vm, folded_or_rules_decide_as_every_block)
{
    Prog *p = th_std_prog();
    uint32_t s = add_set(p, "mri", key(SYS_CPT, "70551"), key(SYS_CPT, "70553"));
    uint32_t s2 = add_set(p, "ct", key(SYS_CPT, "70450"), key(SYS_CPT, "70552"));
    uint32_t d = add_set(p, "dx", key(SYS_ICD10, "C500"), key(SYS_ICD10, "C509"));
    uint32_t c2 = add_const(p, 2), c4 = add_const(p, 4), mask = add_const(p, (1 << 1) | (1 << 3));
    uint32_t r;
    size_t j, j2;
    /* 0: setting == 2 or code in mri */
    r = rule_begin(p, "eq_or_set", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDEQK, "setting", c2);
    j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDINSET, "code", s);
    e_op(p, OP_OR);
    e_patch(p, j);
    rule_end(p, r);
    /* 1: code in ct or (present(diagnoses) and diagnoses any in dx) */
    r = rule_begin(p, "set_or_present", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDINSET, "code", s2);
    j = e_jump(p, OP_JTRUE);
    e_present(p, "diagnoses");
    e_and_test(p, false, T_ANYSET, "diagnoses", d, NULL);
    e_op(p, OP_OR);
    e_patch(p, j);
    rule_end(p, r);
    /* 2: (setting in {1, 3} or setting == 4) and units == 2 */
    r = rule_begin(p, "mask_or_eq", OUT_NOTIFICATION);
    e_fused(p, OP_LDINMASK, "setting", mask);
    j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDEQK, "setting", c4);
    e_op(p, OP_OR);
    e_patch(p, j);
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDEQK, "units", c2);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    /* 3: diagnoses any in dx, alone */
    r = rule_begin(p, "list_alone", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDANYSET, "diagnoses", d);
    rule_end(p, r);
    /* 4: setting == 4 (a plain guarded rule, split as before) */
    r = rule_begin(p, "when_eq", OUT_NOTIFICATION);
    e_fused(p, OP_LDEQK, "setting", c4);
    rule_end(p, r);
    /* 5: (code in ct and units == 2) or (setting == 1 and units == 2) */
    r = rule_begin(p, "and_heads", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDINSET, "code", s2);
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDEQK, "units", c2);
    e_op(p, OP_AND);
    e_patch(p, j);
    j2 = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDEQK, "setting", add_const(p, 1));
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDEQK, "units", c2);
    e_op(p, OP_AND);
    e_patch(p, j);
    e_op(p, OP_OR);
    e_patch(p, j2);
    rule_end(p, r);
    static const char *const reviewers[][2] = {{"a", NULL}, {"b", NULL}, {"c", NULL},
                                               {"d", NULL}, {"e", NULL}, {"f", NULL}};
    for (uint32_t k = 0; k < p->nrules; k++) rule_reviewers(p, k, reviewers[k]);
    finish(p);
    char err[256];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);

    RecVal items[3] = {{.i = (int64_t)key(SYS_ICD10, "C501")}, {.i = (int64_t)key(SYS_ICD10, "I10")},
                       {.i = (int64_t)key(SYS_ICD10, "C509")}};
    static const char *const codes[] = {"70552", "70551", "70450", "99213", "70553"};
    Vm *vm = vm_new(p);
    int cases = 0;
    for (int combo = 0; combo < 5 * 7 * 6 * 3; combo++) {
        Record rec = rec_new(p, SD);
        rec.items = items;
        rec.nitems = 3;
        int x = combo, v;
        v = x % 5, x /= 5; /* setting: absent, null, 1, 2, 4 */
        if (v == 1) rec.none |= bit(p, "setting");
        if (v >= 2) set_i(p, &rec, "setting", v == 2 ? 1 : v == 3 ? 2 : 4);
        v = x % 7, x /= 7; /* code: absent, null, then each code */
        if (v == 1) rec.none |= bit(p, "code");
        if (v >= 2) set_i(p, &rec, "code", (int64_t)key(SYS_CPT, codes[v - 2]));
        v = x % 6, x /= 6; /* diagnoses: absent, null, [C501], [I10], [I10, C509], [] */
        if (v == 1) rec.none |= bit(p, "diagnoses");
        if (v == 2) set_list(p, &rec, "diagnoses", 0, 1);
        if (v == 3) set_list(p, &rec, "diagnoses", 1, 1);
        if (v == 4) set_list(p, &rec, "diagnoses", 1, 2);
        if (v == 5) set_list(p, &rec, "diagnoses", 0, 0);
        v = x % 3; /* units: absent, 2, 3 */
        if (v) set_i(p, &rec, "units", v == 1 ? 2 : 3);
        expect_decide_as_blocks(vm, p, &rec, combo);
        cases++;
    }
    cr_assert_eq(cases, 5 * 7 * 6 * 3);
    vm_free(vm);
    th_prog_free(p);
}

/* Rules outside the index whose `or` loads bool fields are folded too:
 * considered only when one of their bools is not known false (vm_folded),
 * or a code or the split field selects them. The bools are of each kind:
 * with the default false (clinical_trial, medicare_primary), without a
 * default (emergent: absent is unknown), and with the default true
 * (admitted_from_er: absent is true). So are rules whose `and` chain has
 * an `or` step of such tests, its `and`s selected by one side (rules 5,
 * 6 and 8), but not one whose `or` step is an `unless` clause (rule 7) or
 * holds an `and` without such a side (rule 9). Every combination of false, true, null and absent bools, codes,
 * diagnoses and setting: vm_decide must fire, and leave possible, exactly
 * what the blocks say. */
Test(vm, folded_bool_and_chain_rules_decide_as_every_block)
{
    Prog *p = th_std_prog();
    uint32_t ct = add_set(p, "ct", key(SYS_CPT, "70450"), key(SYS_CPT, "70470"));
    uint32_t mri = add_set(p, "mri", key(SYS_CPT, "70551"), key(SYS_CPT, "70553"));
    uint32_t dx = add_set(p, "dx", key(SYS_ICD10, "C500"), key(SYS_ICD10, "C509"));
    uint32_t f_em = th_field_index(p, "emergent"), f_er = th_field_index(p, "admitted_from_er");
    p->fields[f_em].flags &= (uint8_t)~PF_DEFAULT;
    p->fields[f_er].deflt = 1;
    uint32_t r;
    size_t j;
    /* 0: clinical_trial or (present(diagnoses) and diagnoses any in dx) */
    r = rule_begin(p, "trial_or_dx", OUT_PRIOR_AUTH);
    e_load(p, "clinical_trial");
    j = e_jump(p, OP_JTRUE);
    e_present(p, "diagnoses");
    e_and_test(p, false, T_ANYSET, "diagnoses", dx, NULL);
    e_op(p, OP_OR);
    e_patch(p, j);
    rule_end(p, r);
    /* 1: medicare_primary, alone */
    rule_bool(p, "medicare", OUT_NOTIFICATION, "medicare_primary");
    /* 2: emergent or code in ct (emergent has no default) */
    r = rule_begin(p, "emergent_or_ct", OUT_PRIOR_AUTH);
    e_load(p, "emergent");
    j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDINSET, "code", ct);
    e_op(p, OP_OR);
    e_patch(p, j);
    rule_end(p, r);
    /* 3: admitted_from_er or setting == 2 (the default true) */
    r = rule_begin(p, "er_or_setting", OUT_NOTIFICATION);
    e_load(p, "admitted_from_er");
    j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDEQK, "setting", add_const(p, 2));
    e_op(p, OP_OR);
    e_patch(p, j);
    rule_end(p, r);
    /* 4: setting == 1 (a second test of setting: the split field) */
    rule_begin(p, "when_setting", OUT_NOTIFICATION);
    e_fused(p, OP_LDEQK, "setting", add_const(p, 1));
    rule_end(p, 4);
    /* 5: setting == 2 and (code in ct or (code in mri and diagnoses any in dx)) */
    size_t j2, j3;
    r = rule_begin(p, "chain_or", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDEQK, "setting", add_const(p, 2));
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDINSET, "code", ct);
    j2 = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDINSET, "code", mri);
    j3 = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDANYSET, "diagnoses", dx);
    e_op(p, OP_AND);
    e_patch(p, j3);
    e_op(p, OP_OR);
    e_patch(p, j2);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    /* 6: setting == 1 and ((emergent and code in mri) or diagnoses any in dx) */
    r = rule_begin(p, "chain_bool_and", OUT_NOTIFICATION);
    e_fused(p, OP_LDEQK, "setting", add_const(p, 1));
    j = e_jump(p, OP_JFALSE);
    e_load(p, "emergent");
    j3 = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDINSET, "code", mri);
    e_op(p, OP_AND);
    e_patch(p, j3);
    j2 = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDANYSET, "diagnoses", dx);
    e_op(p, OP_OR);
    e_patch(p, j2);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    /* 7: setting == 2 unless (code in ct or clinical_trial): an `or` step
     * that is an `unless` clause selects nothing (its being true rules the
     * rule out), so the rule is not folded */
    r = rule_begin(p, "unless_or", OUT_NOTIFICATION);
    e_fused(p, OP_LDEQK, "setting", add_const(p, 2));
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDINSET, "code", ct);
    j2 = e_jump(p, OP_JTRUE);
    e_load(p, "clinical_trial");
    e_op(p, OP_OR);
    e_patch(p, j2);
    e_op(p, OP_NOT);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    /* 8: (units == 2 or units == 3) and (code in ct or medicare_primary):
     * folded by its second `or`, the first being of another field */
    r = rule_begin(p, "second_or", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDEQK, "units", add_const(p, 2));
    j2 = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDEQK, "units", add_const(p, 3));
    e_op(p, OP_OR);
    e_patch(p, j2);
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDINSET, "code", ct);
    j2 = e_jump(p, OP_JTRUE);
    e_load(p, "medicare_primary");
    e_op(p, OP_OR);
    e_patch(p, j2);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    /* 9: units == 2 and ((units == 2 and setting == 1) or code in ct): its
     * `and` has no side that selects (a test of the split field is not
     * one: the split filter reads the `or`'s own tests), so it is not folded */
    r = rule_begin(p, "and_of_guards", OUT_NOTIFICATION);
    e_fused(p, OP_LDEQK, "units", add_const(p, 2));
    j = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDEQK, "units", add_const(p, 2));
    j3 = e_jump(p, OP_JFALSE);
    e_fused(p, OP_LDEQK, "setting", add_const(p, 1));
    e_op(p, OP_AND);
    e_patch(p, j3);
    j2 = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDINSET, "code", ct);
    e_op(p, OP_OR);
    e_patch(p, j2);
    e_op(p, OP_AND);
    e_patch(p, j);
    rule_end(p, r);
    static const char *const reviewers[][2] = {{"a", NULL}, {"b", NULL}, {"c", NULL}, {"d", NULL}, {"e", NULL},
                                               {"f", NULL}, {"g", NULL}, {"h", NULL}, {"i", NULL}, {"j", NULL}};
    for (uint32_t k = 0; k < p->nrules; k++) rule_reviewers(p, k, reviewers[k]);
    finish(p);
    char err[256];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);
    const ViIndex *ix = vi_of(p);
    for (uint32_t k = 0; k < 10; k++)
        cr_assert_eq(vi_folded(ix, k), k != 4 && k != 7 && k != 9, "rule %u is%s folded", k,
                     vi_folded(ix, k) ? "" : " not");
    cr_assert(ix->guards[7].chain_count, "rule 7 is no chain: the test would not try its `or` step");
    const ViRuleGuards *g9 = &ix->guards[9];
    cr_assert(g9->chain_count == 2 && ix->steps[g9->chain_first + 1].op == OP_OR &&
                  ix->atoms[ix->steps[g9->chain_first + 1].arg].kind == VI_A_AND,
              "rule 9 is no chain with an `and` in its `or` step: the test would not try it");
    cr_assert_eq(ix->fold_bools, bit(p, "clinical_trial") | bit(p, "medicare_primary") |
                                     bit(p, "emergent") | bit(p, "admitted_from_er"));

    RecVal items[2] = {{.i = (int64_t)key(SYS_ICD10, "C501")}, {.i = (int64_t)key(SYS_ICD10, "I10")}};
    static const char *const bools[] = {"clinical_trial", "medicare_primary", "emergent", "admitted_from_er"};
    Vm *vm = vm_new(p);
    int cases = 0;
    for (int combo = 0; combo < 4 * 4 * 4 * 4 * 4 * 3 * 3 * 3; combo++) {
        Record rec = rec_new(p, SD);
        rec.items = items;
        rec.nitems = 2;
        int x = combo, v;
        for (int b = 0; b < 4; b++) { /* absent, null, false, true */
            v = x % 4, x /= 4;
            if (v == 1) rec.none |= bit(p, bools[b]);
            if (v >= 2) set_i(p, &rec, bools[b], v - 2);
        }
        v = x % 4, x /= 4; /* code: absent, 70450 (ct), 70551 (mri), 99213 */
        if (v) set_i(p, &rec, "code", (int64_t)key(SYS_CPT, v == 1 ? "70450" : v == 2 ? "70551" : "99213"));
        v = x % 3, x /= 3; /* diagnoses: absent, [C501], [I10] */
        if (v) set_list(p, &rec, "diagnoses", v - 1, 1);
        v = x % 3, x /= 3; /* setting: absent, 1, 2 */
        if (v) set_i(p, &rec, "setting", v);
        v = x % 3; /* units: absent, 2, 5 */
        if (v) set_i(p, &rec, "units", v == 1 ? 2 : 5);
        expect_decide_as_blocks(vm, p, &rec, combo);
        cases++;
    }
    cr_assert_eq(cases, 4 * 4 * 4 * 4 * 4 * 3 * 3 * 3);
    vm_free(vm);
    th_prog_free(p);
}

/* Many rules with the same `or` guard: each finds its own and is folded on
 * its own, and the guards' atoms grow past their first allocation. 60
 * rules of three disjuncts: every decision as the blocks say. */
Test(vm, many_or_guards_each_rule_its_own)
{
    Prog *p = th_std_prog();
    uint32_t s = add_set(p, "mri", key(SYS_CPT, "70551"), key(SYS_CPT, "70553"));
    uint32_t d = add_set(p, "dx", key(SYS_ICD10, "C500"), key(SYS_ICD10, "C509"));
    uint32_t c2 = add_const(p, 2);
    for (uint32_t k = 0; k < 60; k++) { /* setting == 2 or code in mri or diagnoses any in dx */
        uint32_t r = rule_begin(p, "or3", OUT_PRIOR_AUTH);
        e_fused(p, OP_LDEQK, "setting", c2);
        size_t j = e_jump(p, OP_JTRUE);
        e_fused(p, OP_LDINSET, "code", s);
        e_op(p, OP_OR);
        e_patch(p, j);
        j = e_jump(p, OP_JTRUE);
        e_fused(p, OP_LDANYSET, "diagnoses", d);
        e_op(p, OP_OR);
        e_patch(p, j);
        rule_end(p, r);
    }
    static const char *names[60][2];
    static char text[60][4];
    for (uint32_t k = 0; k < 60; k++) {
        snprintf(text[k], sizeof text[k], "r%u", k);
        names[k][0] = text[k];
        names[k][1] = NULL;
        rule_reviewers(p, k, names[k]);
    }
    finish(p);
    char err[256];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);

    RecVal items[1] = {{.i = (int64_t)key(SYS_ICD10, "C501")}};
    Vm *vm = vm_new(p);
    for (int combo = 0; combo < 3 * 3 * 3; combo++) {
        Record rec = rec_new(p, SD);
        rec.items = items;
        rec.nitems = 1;
        int x = combo, v;
        v = x % 3, x /= 3;
        if (v) set_i(p, &rec, "setting", v == 1 ? 2 : 3);
        v = x % 3, x /= 3;
        if (v) set_i(p, &rec, "code", (int64_t)key(SYS_CPT, v == 1 ? "70552" : "99213"));
        v = x % 3;
        if (v == 1) set_list(p, &rec, "diagnoses", 0, 1);
        if (v == 2) set_list(p, &rec, "diagnoses", 0, 0);
        for (uint32_t k = 0; k < 60; k++) {
            int g = vm_rule_guards(vm, &rec, k);
            cr_assert(g >= 0, "rule %u has no guard", k);
        }
        expect_decide_as_blocks(vm, p, &rec, combo);
    }
    vm_free(vm);
    th_prog_free(p);
}

/* ---- the always rules filtered by several fields ------------------------- */

/* vm_new filters the rules the index does not select by every enum and
 * string field their `and` chains test (vi_filter_build): guards after the
 * first conjunct, `unless` clauses of every field, string constants, and
 * the fold's tests of the split field, so a record considers only the rules
 * that no guard on its values rules out. On every combination of absent,
 * null and present values of the fields they test: each rule the filter
 * leaves out must be false when its block runs, and vm_decide must fire,
 * and leave possible, exactly what the blocks say (the plain path that runs
 * every rule). */
Test(vm, always_rules_filtered_by_many_fields_decide_as_every_block)
{
    Prog *p = th_std_prog();
    uint32_t s = add_set(p, "mri", key(SYS_CPT, "70551"), key(SYS_CPT, "70553"));
    uint32_t r;
    /* 0: setting == inpatient and admission == elective */
    r = rule_begin(p, "ip_elective", OUT_PRIOR_AUTH);
    e_test(p, T_EQ, "setting", 0, NULL);
    e_and_test(p, false, T_EQ, "admission", 0, NULL);
    rule_end(p, r);
    /* 1: payer == "acme" and plan == "ma" and setting in {outpatient, office} */
    r = rule_begin(p, "acme_ma_op", OUT_PRIOR_AUTH);
    e_str_eq(p, "payer", "acme");
    e_and_test(p, false, T_STR, "plan", 0, "ma");
    e_and_test(p, false, T_MASK, "setting", (1 << 1) | (1 << 3), NULL);
    rule_end(p, r);
    /* 2: network == out and units == 5 unless setting == emergency */
    r = rule_begin(p, "oon_units", OUT_NOTIFICATION);
    e_test(p, T_EQ, "network", 1, NULL);
    e_and_test(p, false, T_EQ, "units", 5, NULL);
    e_and_test(p, true, T_EQ, "setting", 5, NULL);
    rule_end(p, r);
    /* 3: units == 5 unless plan == "ma" unless admission in {elective, urgent} */
    r = rule_begin(p, "units_unless", OUT_PRIOR_AUTH);
    e_test(p, T_EQ, "units", 5, NULL);
    e_and_test(p, true, T_STR, "plan", 0, "ma");
    e_and_test(p, true, T_MASK, "admission", (1 << 0) | (1 << 2), NULL);
    rule_end(p, r);
    /* 4: plan == "ma" and network == out unless payer == "acme" */
    r = rule_begin(p, "ma_oon", OUT_PRIOR_AUTH);
    e_str_eq(p, "plan", "ma");
    e_and_test(p, false, T_EQ, "network", 1, NULL);
    e_and_test(p, true, T_STR, "payer", 0, "acme");
    rule_end(p, r);
    /* 5: (setting == ambulatory_surgery or code in mri) and network == in:
     * folded by its `or`, filtered by its conjunct */
    r = rule_begin(p, "asc_or_mri_in", OUT_PRIOR_AUTH);
    e_test(p, T_EQ, "setting", 2, NULL);
    size_t j = e_jump(p, OP_JTRUE);
    e_fused(p, OP_LDINSET, "code", s);
    e_op(p, OP_OR);
    e_patch(p, j);
    e_and_test(p, false, T_EQ, "network", 0, NULL);
    rule_end(p, r);
    /* 6: emergent (nothing to filter on) */
    rule_bool(p, "emergent", OUT_NOTIFICATION, "emergent");
    /* 7: plan == "pp" and setting == office */
    r = rule_begin(p, "pp_office", OUT_NOTIFICATION);
    e_str_eq(p, "plan", "pp");
    e_and_test(p, false, T_EQ, "setting", 3, NULL);
    rule_end(p, r);
    static const char *const reviewers[][2] = {{"a", NULL}, {"b", NULL}, {"c", NULL}, {"d", NULL},
                                               {"e", NULL}, {"f", NULL}, {"g", NULL}, {"h", NULL}};
    for (uint32_t k = 0; k < p->nrules; k++) rule_reviewers(p, k, reviewers[k]);
    finish(p);
    char err[256];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);

    Vm *vm = vm_new(p);
    const ViIndex *ix = vi_of(p);
    cr_assert_geq(ix->nfilters, 5, "setting, admission, payer, plan and network filter: %u", ix->nfilters);
    static const int settings[] = {0, 1, 2, 3, 5};
    static const char *const strs[] = {"acme", "ma", "pp", "zz"};
    uint32_t cases = 0, left_out = 0;
    for (int combo = 0; combo < 7 * 4 * 5 * 6 * 4 * 3 * 3 * 2; combo++) {
        Record rec = rec_new(p, SD);
        int x = combo, v;
        v = x % 7, x /= 7; /* setting: absent, null, 0, 1, 2, 3, 5 */
        if (v == 0) unset(p, &rec, "setting");
        if (v == 1) rec.none |= bit(p, "setting");
        if (v >= 2) set_i(p, &rec, "setting", settings[v - 2]);
        v = x % 4, x /= 4; /* admission: absent, null, elective, emergency */
        if (v == 1) rec.none |= bit(p, "admission");
        if (v >= 2) set_i(p, &rec, "admission", v - 2);
        v = x % 5, x /= 5; /* payer: absent, null, acme, ma, zz */
        unset(p, &rec, "payer");
        if (v == 1) rec.none |= bit(p, "payer");
        if (v >= 2) set_s(p, &rec, "payer", strs[v == 4 ? 3 : v - 2]);
        v = x % 6, x /= 6; /* plan: absent, null, acme, ma, pp, zz */
        if (v == 1) rec.none |= bit(p, "plan");
        if (v >= 2) set_s(p, &rec, "plan", strs[v - 2]);
        v = x % 4, x /= 4; /* network: absent, null, in, out */
        if (v == 1) rec.none |= bit(p, "network");
        if (v >= 2) set_i(p, &rec, "network", v - 2);
        v = x % 3, x /= 3; /* units: absent, 5, 6 */
        if (v) set_i(p, &rec, "units", v == 1 ? 5 : 6);
        v = x % 3, x /= 3; /* code: absent, in mri, another */
        if (v) set_i(p, &rec, "code", (int64_t)key(SYS_CPT, v == 1 ? "70552" : "99213"));
        if (x % 2) set_i(p, &rec, "emergent", 1);

        uint32_t kept[16], nkept = vi_always(ix, &rec, kept);
        bool in_list[16] = {false};
        for (uint32_t k = 0; k < nkept; k++) {
            cr_assert(k == 0 || kept[k - 1] < kept[k], "case %d: not ascending", combo);
            in_list[kept[k]] = true;
        }
        for (uint32_t k = 0; k < p->nrules; k++) {
            uint64_t m;
            if (in_list[k] || vi_folded(ix, k)) continue; /* folded: also taken by its codes */
            left_out++;
            cr_assert_eq(vm_eval_rule(vm, &rec, k, &m), 0, "case %d: rule %u left out but not false",
                         combo, k);
        }
        expect_decide_as_blocks(vm, p, &rec, combo);
        cases++;
    }
    cr_assert_eq(cases, 7 * 4 * 5 * 6 * 4 * 3 * 3 * 2);
    cr_expect_gt(left_out, cases, "the filters leave out more than one rule a record: %u", left_out);
    vm_free(vm);
    th_prog_free(p);
}

/* ---- the key memo ---------------------------------------------------------- */

/* vi_ct_lookup_key remembers each key's interval in one slot per hash:
 * over a stream of more distinct keys than it has slots, recurring ones,
 * keys that share a slot in turn, keys before and after the table and in
 * no set, it must answer as a plain search of the table (vi_ct_find). */
Test(vm, key_memo_answers_as_the_table)
{
    Prog *p = th_std_prog();
    enum { NKEYS = 6000 };
    static CodeKey keys[NKEYS];
    for (int c = 0; c < NKEYS; c++) {
        char text[8];
        snprintf(text, sizeof text, "%05d", 10000 + c * 13);
        keys[c] = key(SYS_CPT, text);
    }
    for (uint32_t s = 0; s < 40; s++) { /* sets of 1 to 40 consecutive keys, every 150th on */
        CodeSet cs = {0};
        code_set_add(&cs, keys[s * 150], keys[s * 150 + s]);
        add_code_set(p, "s", &cs);
        uint32_t r = rule_begin(p, "code", OUT_PRIOR_AUTH);
        e_fused(p, OP_LDINSET, "code", s);
        rule_end(p, r);
    }
    finish(p);
    const ViIndex *ix = vi_of(p);
    cr_assert_gt(ix->ct.n, 40);
    ViMemo *memo = malloc(((size_t)1 << VI_MEMO_BITS) * sizeof *memo);
    vi_memo_init(memo);
    ViKeyMemo *km = vi_key_memo_new();
    /* two keys of one slot (more keys than slots: there are some) */
    CodeKey a = 0, b = 0;
    static int first_of[1 << VI_KEY_MEMO_BITS];
    memset(first_of, -1, sizeof first_of);
    for (int c = 0; c < NKEYS && !b; c++) {
        size_t slot = (size_t)((keys[c] * 0x9E3779B97F4A7C15u) >> (64 - VI_KEY_MEMO_BITS));
        if (first_of[slot] >= 0) a = keys[first_of[slot]], b = keys[c];
        else first_of[slot] = c;
    }
    cr_assert(b, "no two keys of one slot among %d", NKEYS);
    uint32_t seed = 777, hits = 0;
    CodeKey after = key(SYS_CPT, "99999"), other = key(SYS_HCPCS, "A0001");
    for (int n = 0; n < 40000; n++) {
        seed = seed * 1103515245u + 12345u;
        CodeKey k = n % 7 == 0 ? (n % 14 ? a : b)                  /* one slot, in turn */
                    : n % 11 == 0 ? keys[(seed >> 8) % 50]        /* recurring */
                    : n % 13 == 0 ? keys[0] - 1 - (seed >> 8) % 3 /* before the table */
                    : n % 17 == 0 ? (n % 34 ? after : other)       /* after it */
                                  : keys[(seed >> 8) % NKEYS] + (seed >> 4) % 2;
        uint32_t want = vi_ct_find(&ix->ct, k);
        ViKeyMemo *e = &km[(k * 0x9E3779B97F4A7C15u) >> (64 - VI_KEY_MEMO_BITS)];
        hits += e->full && e->key == k;
        cr_assert_eq(vi_ct_lookup_key(&ix->ct, km, memo, k), want, "lookup %d", n);
    }
    cr_expect_gt(hits, 10000, "the memo answered only %u lookups", hits);
    free(km);
    free(memo);
    th_prog_free(p);
}

/* ---- chains decided without running them ---------------------------------- */

/* The `or` of what comes before the open and what comes between it and the
 * close: `JTRUE L; <right>; OR; L:`. */
static void e_or2_open(Prog *p, size_t *j) { *j = e_jump(p, OP_JTRUE); }
static void e_or2_close(Prog *p, size_t j)
{
    e_op(p, OP_OR);
    e_patch(p, j);
}
/* The same for `and`: `JFALSE L; <right>; AND; L:`. */
static void e_and2_open(Prog *p, size_t *j) { *j = e_jump(p, OP_JFALSE); }
static void e_and2_close(Prog *p, size_t j)
{
    e_op(p, OP_AND);
    e_patch(p, j);
}
/* `PRESENT f; JFALSE; LDEQK f k; AND` */
static void e_present_eq(Prog *p, const char *field, int64_t k)
{
    e_present(p, field);
    size_t j;
    e_and2_open(p, &j);
    e_fused_k(p, OP_LDEQK, field, k);
    e_and2_close(p, j);
}

/* vm_new reads a block that is an `and` chain of tests (fused tests,
 * string comparisons, bool fields, `or`s of such tests, `unless` clauses)
 * as a list of steps, and vm_decide decides it without running it
 * (vi_find_chain, vm_chain), unknowns and the absent fields they read
 * included. On records drawn from every combination of absent, null and
 * present values of the fields the chains test: the rules that fire, those
 * left possible and the absent fields each possible one names must be
 * exactly what running the blocks gives (vm_eval_rule, the plain path). */
Test(vm, chains_decide_as_their_blocks)
{
    Prog *p = th_std_prog();
    uint32_t s = add_set(p, "mri", key(SYS_CPT, "70551"), key(SYS_CPT, "70553"));
    uint32_t d = add_set(p, "dx", key(SYS_ICD10, "C500"), key(SYS_ICD10, "C509"));
    uint32_t em = add_set(p, "em", key(SYS_CPT, "99211"), key(SYS_CPT, "99215"));
    uint32_t r;
    size_t j, j2, o;
    /* 0: code in mri and setting in {outpatient, office} unless setting == emergency */
    r = rule_begin(p, "r01", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDINSET, "code", s);
    e_and_test(p, false, T_MASK, "setting", (1 << 1) | (1 << 3), NULL);
    e_and_test(p, true, T_EQ, "setting", 5, NULL);
    rule_end(p, r);
    /* 1: plan == "ma" and units > 5 unless diagnoses any in dx */
    r = rule_begin(p, "seq_gt_list", OUT_PRIOR_AUTH);
    e_str_eq(p, "plan", "ma");
    e_and2_open(p, &j);
    e_fused_k(p, OP_LDGTK, "units", 5);
    e_and2_close(p, j);
    e_and_test(p, true, T_ANYSET, "diagnoses", d, NULL);
    rule_end(p, r);
    /* 2: code in mri unless emergent or (present(setting) and setting == emergency) */
    r = rule_begin(p, "emergency_or", OUT_PRIOR_AUTH);
    e_fused(p, OP_LDINSET, "code", s);
    e_and2_open(p, &j);
    e_load(p, "emergent");
    e_or2_open(p, &o);
    e_present_eq(p, "setting", 5);
    e_or2_close(p, o);
    e_op(p, OP_NOT);
    e_and2_close(p, j);
    rule_end(p, r);
    /* 3: code in mri and (plan == "a" or plan == "b") unless emergent */
    r = rule_begin(p, "plan_or", OUT_NOTIFICATION);
    e_fused(p, OP_LDINSET, "code", s);
    e_and2_open(p, &j);
    e_str_eq(p, "plan", "a");
    e_or2_open(p, &o);
    e_str_eq(p, "plan", "b");
    e_or2_close(p, o);
    e_and2_close(p, j);
    e_and_test(p, true, T_BOOL, "emergent", 0, NULL);
    rule_end(p, r);
    /* 4: network != out and state != "NY" and units <= 3 and units < 9 and stay_hours >= 2 */
    r = rule_begin(p, "ne_sne_le_lt_ge", OUT_NOTIFICATION);
    e_fused_k(p, OP_LDNEK, "network", 1);
    e_and2_open(p, &j);
    e_load(p, "state");
    e_str(p, "NY");
    e_op(p, OP_SNE);
    e_and2_close(p, j);
    e_and_test(p, false, T_EQ, "units", 3, NULL); /* (LDEQK; then LE, LT, GE below) */
    p->code[p->ncode - 5] = OP_LDLEK;
    e_and2_open(p, &j);
    e_fused_k(p, OP_LDLTK, "units", 9);
    e_and2_close(p, j);
    e_and2_open(p, &j);
    e_fused_k(p, OP_LDGEK, "stay_hours", 2);
    e_and2_close(p, j);
    rule_end(p, r);
    /* 5: emergent and (code in mri or (present(diagnoses) and diagnoses any in dx)) */
    r = rule_begin(p, "bool_set_or", OUT_PRIOR_AUTH);
    e_load(p, "emergent");
    e_and2_open(p, &j);
    e_fused(p, OP_LDINSET, "code", s);
    e_or2_open(p, &o);
    e_present(p, "diagnoses");
    e_and_test(p, false, T_ANYSET, "diagnoses", d, NULL);
    e_or2_close(p, o);
    e_and2_close(p, j);
    rule_end(p, r);
    /* 6: medicare_primary unless admission == elective (a bool with a default) */
    r = rule_begin(p, "default_bool", OUT_NOTIFICATION);
    e_load(p, "medicare_primary");
    e_and_test(p, true, T_EQ, "admission", 0, NULL);
    rule_end(p, r);
    /* 7: setting in {outpatient, office} and (code in mri or (code in em and
     * diagnoses any in dx)) unless emergent: an `or` holding an `and` */
    r = rule_begin(p, "or_of_and", OUT_PRIOR_AUTH);
    e_fused_k(p, OP_LDINMASK, "setting", (1 << 1) | (1 << 3));
    e_and2_open(p, &j);
    e_fused(p, OP_LDINSET, "code", em);
    e_or2_open(p, &o);
    e_fused(p, OP_LDINSET, "code", s);
    e_and_test(p, false, T_ANYSET, "diagnoses", d, NULL);
    e_or2_close(p, o);
    e_and2_close(p, j);
    e_and_test(p, true, T_BOOL, "emergent", 0, NULL);
    rule_end(p, r);
    /* 8: (setting == emergency and emergent) or (emergent and
     * (present(setting) and setting == emergency)) or (plan == "a" and
     * diagnoses any in dx) or (plan == "b" and medicare_primary): `and`s of
     * a guard, a bool, a present guard, a string, a list and a bool with a
     * default, alone in the block (an `and` whose left side is false reads
     * nothing of its right side, so names none of its absent fields) */
    r = rule_begin(p, "and_or_and", OUT_NOTIFICATION);
    e_fused_k(p, OP_LDEQK, "setting", 5);
    e_and_test(p, false, T_BOOL, "emergent", 0, NULL);
    e_or2_open(p, &o);
    e_load(p, "emergent");
    e_and2_open(p, &j2);
    e_present_eq(p, "setting", 5);
    e_and2_close(p, j2);
    e_or2_close(p, o);
    e_or2_open(p, &o);
    e_str_eq(p, "plan", "a");
    e_and_test(p, false, T_ANYSET, "diagnoses", d, NULL);
    e_or2_close(p, o);
    e_or2_open(p, &o);
    e_str_eq(p, "plan", "b");
    e_and2_open(p, &j2);
    e_load(p, "medicare_primary");
    e_and2_close(p, j2);
    e_or2_close(p, o);
    rule_end(p, r);
    /* 9: setting == inpatient and (admission == maternity or present(delivery)
     * or (units == 3 and present(medicare_primary))) and ((delivery == vaginal and stay_hours <= 2) or (delivery == cesarean
     * and stay_hours > 2) or (units < 6 and units >= 5) or (units != 9 and
     * stay_hours < 2) or plan != "ma"): comparisons and `present` in `or`s */
    r = rule_begin(p, "cmp_or", OUT_PRIOR_AUTH);
    e_fused_k(p, OP_LDEQK, "setting", 0);
    e_and2_open(p, &j);
    e_fused_k(p, OP_LDEQK, "admission", 3);
    e_or2_open(p, &o);
    e_present(p, "delivery");
    e_or2_close(p, o);
    e_or2_open(p, &o);
    e_fused_k(p, OP_LDEQK, "units", 3);
    e_and2_open(p, &j2);
    e_present(p, "medicare_primary"); /* true when absent: it has a default */
    e_and2_close(p, j2);
    e_or2_close(p, o);
    e_and2_close(p, j);
    e_and2_open(p, &j);
    static const struct { const char *f1; int64_t k1; Opcode op2; const char *f2; int64_t k2; } ands[] = {
        {"delivery", 0, OP_LDLEK, "stay_hours", 2}, {"delivery", 1, OP_LDGTK, "stay_hours", 2},
        {NULL, 6, OP_LDGEK, "units", 5}, {NULL, 9, OP_LDLTK, "stay_hours", 2}};
    for (size_t x = 0; x < sizeof ands / sizeof *ands; x++) {
        if (x) e_or2_open(p, &o);
        if (!ands[x].f1) e_fused_k(p, x == 2 ? OP_LDLTK : OP_LDNEK, "units", ands[x].k1);
        else e_fused_k(p, OP_LDEQK, ands[x].f1, ands[x].k1);
        e_and2_open(p, &j2);
        e_fused_k(p, ands[x].op2, ands[x].f2, ands[x].k2);
        e_and2_close(p, j2);
        if (x) e_or2_close(p, o);
    }
    e_or2_open(p, &o);
    e_load(p, "plan");
    e_str(p, "ma");
    e_op(p, OP_SNE);
    e_or2_close(p, o);
    e_and2_close(p, j);
    rule_end(p, r);
    static const char *const reviewers[][2] = {{"a", NULL}, {"b", NULL}, {"c", NULL}, {"d", NULL},
                                               {"e", NULL}, {"f", NULL}, {"g", NULL}, {"h", NULL},
                                               {"i", NULL}, {"j", NULL}};
    for (uint32_t k = 0; k < p->nrules; k++) rule_reviewers(p, k, reviewers[k]);
    finish(p);
    char err[256];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);
    const ViIndex *ix = vi_of(p);
    for (uint32_t k = 0; k < p->nrules; k++)
        cr_assert_gt(ix->guards[k].chain_count, 0, "rule %u is not read as a chain", k);
    cr_assert_eq(ix->npairs, 20, "the `and`s inside `or`s: %u sides", ix->npairs);

    RecVal items[2] = {{.i = (int64_t)key(SYS_ICD10, "C501")}, {.i = (int64_t)key(SYS_ICD10, "I10")}};
    static const char *const plans[] = {"ma", "a", "b"}, *const states[] = {"NY", "CA"};
    Vm *vm = vm_new(p);
    uint32_t seed = 4242, nunknown_seen = 0;
    for (int n = 0; n < 40000; n++) {
        Record rec = rec_new(p, SD);
        rec.items = items;
        rec.nitems = 2;
        /* each field: absent, null, or one of its values, drawn in turn */
#define PICK(m) (seed = seed * 1103515245u + 12345u, (int)((seed >> 9) % (m)))
        int v;
        if ((v = PICK(5)) == 1) rec.none |= bit(p, "code");
        else if (v >= 2) set_i(p, &rec, "code", (int64_t)key(SYS_CPT, v == 2 ? "70552" : "99213"));
        if ((v = PICK(5)) == 1) rec.none |= bit(p, "setting");
        else if (v >= 2) set_i(p, &rec, "setting", v == 2 ? 5 : v == 3 ? 1 : 3);
        if ((v = PICK(5)) == 1) rec.none |= bit(p, "plan");
        else if (v >= 2) set_s(p, &rec, "plan", plans[v - 2]);
        if ((v = PICK(6)) == 1) rec.none |= bit(p, "units");
        else if (v >= 2) set_i(p, &rec, "units", v == 2 ? 3 : v == 3 ? 5 : v == 4 ? 6 : 9);
        if ((v = PICK(5)) == 1) rec.none |= bit(p, "diagnoses");
        else if (v >= 2) set_list(p, &rec, "diagnoses", v == 3 ? 1 : 0, v == 4 ? 0 : 1);
        if ((v = PICK(4)) == 1) rec.none |= bit(p, "emergent");
        else if (v >= 2) set_i(p, &rec, "emergent", v - 2);
        if ((v = PICK(4)) == 1) rec.none |= bit(p, "network");
        else if (v >= 2) set_i(p, &rec, "network", v - 2);
        if ((v = PICK(4)) == 1) rec.none |= bit(p, "state");
        else if (v >= 2) set_s(p, &rec, "state", states[v - 2]);
        if ((v = PICK(4)) == 1) rec.none |= bit(p, "stay_hours");
        else if (v >= 2) set_i(p, &rec, "stay_hours", v - 1);
        if ((v = PICK(4)) == 1) rec.none |= bit(p, "admission");
        else if (v >= 2) set_i(p, &rec, "admission", v - 2);
        if ((v = PICK(4)) == 1) rec.none |= bit(p, "medicare_primary");
        else if (v >= 2) set_i(p, &rec, "medicare_primary", v - 2);
        if ((v = PICK(4)) == 1) rec.none |= bit(p, "delivery");
        else if (v >= 2) set_i(p, &rec, "delivery", v - 2);
        if (PICK(2)) rec.none &= ~bit(p, "setting"), set_i(p, &rec, "setting", 0); /* inpatient, half the time */
#undef PICK
        expect_decide_as_blocks(vm, p, &rec, n);
        /* and each possible rule names the absent fields its block read */
        Decision dd;
        vm_decide(vm, &rec, &dd);
        Obligation pos[8];
        uint32_t npos = dd.npossible < 8 ? dd.npossible : 8;
        memcpy(pos, dd.possible, npos * sizeof *pos);
        for (uint32_t k = 0; k < npos; k++) {
            uint64_t m;
            cr_assert_eq(pos[k].nrules, 1);
            cr_assert_eq(vm_eval_rule(vm, &rec, pos[k].rules[0], &m), -1);
            cr_assert_eq(pos[k].missing, m, "record %d, rule %u: missing %llx, the block reads %llx", n,
                         pos[k].rules[0], (unsigned long long)pos[k].missing, (unsigned long long)m);
            nunknown_seen++;
        }
    }
    cr_expect_gt(nunknown_seen, 1000, "only %u unknown rules drawn", nunknown_seen);
    vm_free(vm);
    th_prog_free(p);
}

/* ---- one fired rule: the shortcut and the general path -------------------- */

static void expect_same_obligation(const Obligation *a, const Obligation *b, int n, const char *what)
{
    cr_assert_eq(a->outcome, b->outcome, "record %d %s: outcome", n, what);
    cr_assert_eq(a->nreviewers, b->nreviewers, "record %d %s: reviewers", n, what);
    for (uint32_t k = 0; k < a->nreviewers; k++) cr_assert_eq(a->reviewers[k], b->reviewers[k]);
    cr_assert_eq(a->has_deadline, b->has_deadline, "record %d %s: has_deadline", n, what);
    if (a->has_deadline) {
        cr_assert_eq(a->deadline_is_date, b->deadline_is_date, "record %d %s", n, what);
        cr_assert_eq(a->deadline, b->deadline, "record %d %s: deadline", n, what);
    }
    cr_assert_eq(a->timely, b->timely, "record %d %s: timely", n, what);
    cr_assert_eq(a->nrules, b->nrules, "record %d %s: rules", n, what);
    for (uint32_t k = 0; k < a->nrules; k++) cr_assert_eq(a->rules[k], b->rules[k]);
    cr_assert_eq(a->missing, b->missing, "record %d %s: missing", n, what);
}

/* A record where one rule fires, not an exemption, and none is unknown
 * is combined by a shortcut (vm_combine_one); every other by the general
 * path. Over many records (units, stay_hours, service_at and requested_at
 * absent, null or present; every outcome, deadline unit and direction;
 * own, duplicated and default reviewers), the shortcut must decide as the
 * general path does (vm_set_plain), and count the same fires. */
Test(vm, one_fired_rule_decides_as_the_general_path)
{
    Prog *p = th_std_prog();
    p->reviewer = th_str(p, "default_reviewer");
    static const Outcome outcomes[] = {OUT_PRIOR_AUTH, OUT_NOTIFICATION, OUT_NOT_COVERED, OUT_ADVISORY};
    static const DurationUnit units[] = {U_HOURS, U_DAYS, U_BUSINESS_DAYS};
    static const char *const rev_a[] = {"a", NULL}, *const rev_bcb[] = {"b", "c", "b", NULL};
    uint32_t first = 0;
    for (int k = 0; k < 12; k++) { /* units == k: one rule each */
        char id[16];
        snprintf(id, sizeof id, "u%d", k);
        uint32_t r = rule_eq(p, id, outcomes[k % 4], "units", k);
        if (k == 0) first = r;
        if (k % 4 != 3) rule_deadline(p, r, 1 + k, units[k % 3], k % 2 ? DIR_AFTER : DIR_BEFORE);
        if (k % 3 == 1) rule_reviewers(p, r, rev_a);
        if (k % 3 == 2) rule_reviewers(p, r, rev_bcb);
    }
    uint32_t ex = rule_eq(p, "exempt_u0", OUT_EXEMPT, "units", 12); /* fires alone: general path */
    rule_waives(p, ex, &first, 1);
    uint32_t both = rule_eq(p, "stay7", OUT_PRIOR_AUTH, "stay_hours", 7); /* a second rule */
    rule_deadline(p, both, 24, U_HOURS, DIR_AFTER);
    add_holiday(p, SD + 3);
    finish(p);
    char err[256];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);

    Vm *fast = vm_new(p), *plain = vm_new(p);
    vm_set_plain(plain, true);
    uint32_t seed = 4242, shortcut = 0;
    for (int n = 0; n < 20000; n++) {
        Record rec = rec_new(p, SD);
        seed = seed * 1103515245u + 12345u;
        uint32_t x = seed >> 8;
        uint32_t u = x % 16;
        x /= 16;
        if (u == 14) rec.none |= bit(p, "units");
        else if (u < 14) set_i(p, &rec, "units", u);
        uint32_t st = x % 4; /* stay_hours: absent, null, 7, 8 */
        x /= 4;
        if (st == 1) rec.none |= bit(p, "stay_hours");
        if (st >= 2) set_i(p, &rec, "stay_hours", st == 2 ? 7 : 8);
        set_i(p, &rec, "service_date", SD + (int32_t)(x % 9));
        x /= 9;
        if (x % 3 == 1) set_i(p, &rec, "service_at", (int64_t)(SD + 2) * SECONDS_PER_DAY + (x % 7) * 3600);
        if (x % 3 == 2) rec.none |= bit(p, "service_at");
        x /= 3;
        uint32_t rq = x % 4; /* requested_at: absent, a datetime, a bare date, null */
        x /= 4;
        int64_t req = (int64_t)(SD - 6 + (int32_t)(x % 14)) * SECONDS_PER_DAY + (rq == 1 ? (x % 24) * 3600 : 0);
        if (rq == 1 || rq == 2) set_i(p, &rec, "requested_at", req);
        if (rq == 2) rec.date_only |= bit(p, "requested_at");
        if (rq == 3) rec.none |= bit(p, "requested_at");

        Decision a, b;
        vm_decide(fast, &rec, &a);
        vm_decide(plain, &rec, &b);
        if (b.nrules == 1 && b.npossible == 0 && p->rules[b.rules[0]].outcome != OUT_EXEMPT) shortcut++;
        cr_assert_eq(a.kind, b.kind, "record %d: kind %d, want %d", n, a.kind, b.kind);
        cr_assert_eq(a.nrules, b.nrules, "record %d: rules", n);
        for (uint32_t k = 0; k < a.nrules; k++) cr_assert_eq(a.rules[k], b.rules[k], "record %d", n);
        cr_assert_eq(a.nreviewers, b.nreviewers, "record %d: reviewers", n);
        for (uint32_t k = 0; k < a.nreviewers; k++) cr_assert_eq(a.reviewers[k], b.reviewers[k]);
        cr_assert_eq(a.has_deadline, b.has_deadline, "record %d: has_deadline", n);
        if (a.has_deadline) {
            cr_assert_eq(a.deadline_is_date, b.deadline_is_date, "record %d", n);
            cr_assert_eq(a.deadline, b.deadline, "record %d: deadline", n);
        }
        cr_assert_eq(a.timely, b.timely, "record %d: timely %d, want %d", n, a.timely, b.timely);
        cr_assert_eq(a.nobligations, b.nobligations, "record %d: obligations", n);
        for (uint32_t k = 0; k < a.nobligations; k++)
            expect_same_obligation(&a.obligations[k], &b.obligations[k], n, "obligation");
        cr_assert_eq(a.npossible, b.npossible, "record %d: possible", n);
        for (uint32_t k = 0; k < a.npossible; k++)
            expect_same_obligation(&a.possible[k], &b.possible[k], n, "possible");
        cr_assert_eq(a.missing, b.missing, "record %d: missing", n);
    }
    cr_expect_gt(shortcut, 5000, "only %u records had one rule fired", shortcut);
    const uint64_t *ca = vm_rule_counts(fast), *cb = vm_rule_counts(plain);
    for (uint32_t r = 0; r < p->nrules; r++) cr_assert_eq(ca[r], cb[r], "rule %u fire count", r);
    vm_free(fast);
    vm_free(plain);
    th_prog_free(p);
}
