/* sema_test.c: `test` blocks: checked, and their `given` rendered as the
 * JSON line a client would send.
 *
 * The record goes through the same decoder as pcrvm input, so the checks
 * here mirror the decoder's: values of the field's type, enum members,
 * codes of the right shape for the field's systems (the system named by
 * the record's system field when the test gives one, else inferred). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "buf.h"
#include "compile.h"
#include "dates.h"
#include "sema.h"

/* One `given` entry that passed the field lookup. */
typedef struct Given {
    uint32_t field;
    const Node *fv; /* the N_FIELD_VALUE */
} Given;

static const char *value_type(const Node *v)
{
    switch (v->kind) {
    case N_INT: return "int";
    case N_DECIMAL: return "decimal";
    case N_MONEY: return "money";
    case N_STRING: return "string";
    case N_DATE: return "date";
    case N_DATETIME: return "datetime";
    case N_BOOL: return "bool";
    case N_NAME: return "name";
    case N_LIST_LIT: return "list";
    default: return "value";
    }
}

static void type_error(Sema *s, uint32_t f, const Node *v)
{
    diag_error(s->d, "E203", v->loc, "type mismatch: `%s` has type %s; this value is a %s",
               s->m.fields[f].name, sema_type_name(s, f), value_type(v));
}

static void put_date(Buf *b, int64_t day)
{
    char d[16];
    date_format((int32_t)day, d);
    buf_printf(b, "\"%s\"", d);
}

static void put_datetime(Buf *b, int64_t secs)
{
    int64_t day = secs >= 0 ? secs / SECONDS_PER_DAY
                            : -((-secs + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY);
    int64_t rem = secs - day * SECONDS_PER_DAY;
    char d[16];
    date_format((int32_t)day, d);
    buf_printf(b, "\"%sT%02d:%02d:%02d\"", d, (int)(rem / 3600), (int)(rem % 3600 / 60),
               (int)(rem % 60));
}

/* Checks that code text fits field f (system sys when the record names
 * it, else any of the field's systems); reports E301. */
static bool check_code(Sema *s, uint32_t f, const Node *v, CodeSystem sys)
{
    const SField *fd = &s->m.fields[f];
    char norm[CODE_MAX_CHARS + 1];
    size_t k;
    const char *why = "";
    size_t n = strlen(v->str);
    if (sys != SYS_NONE) {
        if (code_normalize(sys, v->str, n, norm, &k, &why)) return true;
        diag_error(s->d, "E301", v->loc, "`%s` is not a valid %s code: %s", v->str,
                   code_system_name(sys), why);
        return false;
    }
    if (code_infer_system(v->str, n, fd->systems) != SYS_NONE) return true;
    Buf names = {0};
    CodeSystem only = SYS_NONE;
    int count = 0, total = 0;
    for (int i = 1; i < SYS_COUNT; i++) total += (fd->systems & SYS_BIT(i)) != 0;
    for (int i = 1; i < SYS_COUNT; i++) {
        if (!(fd->systems & SYS_BIT(i))) continue;
        if (count++) buf_puts(&names, count == total ? " or " : ", ");
        buf_puts(&names, code_system_name((CodeSystem)i));
        only = (CodeSystem)i;
    }
    buf_putc(&names, '\0');
    if (count == 1) {
        code_normalize(only, v->str, n, norm, &k, &why);
        diag_error(s->d, "E301", v->loc, "`%s` is not a valid %s code: %s", v->str, names.p, why);
    } else {
        /* Inference wants 4-digit revenue codes; 3 digits need the system. */
        bool rev3 = (fd->systems & SYS_BIT(SYS_REV)) && n == 3 &&
                    code_normalize(SYS_REV, v->str, n, norm, &k, NULL);
        diag_error(s->d, "E301", v->loc,
                   "`%s` is not a valid code for `%s`, which takes %s codes%s", v->str, fd->name, names.p,
                   rev3 ? " (a 3-digit revenue code needs the record to name its system)" : "");
    }
    buf_free(&names);
    return false;
}

/* Checks value v of field f and appends it as JSON to b. sys: the system
 * the record names for a code field, or SYS_NONE. */
static bool render_value(Sema *s, uint32_t f, const Node *v, CodeSystem sys, Buf *b)
{
    const SField *fd = &s->m.fields[f];
    int64_t cents;
    /* `none`: the field does not apply (JSON null), unless an enum has a
     * member of that name. */
    if (v->kind == N_NAME && strcmp(v->name, "none") == 0 &&
        !(fd->type == VT_ENUM && sema_member(fd, "none") >= 0)) {
        buf_puts(b, "null");
        return true;
    }
    switch (fd->type) {
    case VT_BOOL:
        if (v->kind != N_BOOL) break;
        buf_puts(b, v->ival ? "true" : "false");
        return true;
    case VT_INT:
        if (v->kind != N_INT) break;
        buf_printf(b, "%" PRId64, v->ival);
        return true;
    case VT_MONEY:
        if (!sema_money(v, &cents)) {
            if (v->kind == N_DECIMAL) {
                diag_error(s->d, "E203",
                           v->loc, "type mismatch: `%s` is money, exact to the cent; this "
                           "value has more than two decimal places",
                           fd->name);
                return false;
            }
            break;
        }
        buf_printf(b, "%s%" PRId64 ".%02d", cents < 0 ? "-" : "",
                   (cents < 0 ? -(cents / 100) : cents / 100),
                   (int)(cents < 0 ? -(cents % 100) : cents % 100));
        return true;
    case VT_STRING:
        if (v->kind != N_STRING) break;
        buf_put_json_str(b, v->str, strlen(v->str));
        return true;
    case VT_DATE:
        if (v->kind != N_DATE) break;
        put_date(b, v->ival);
        return true;
    case VT_DATETIME:
        /* a bare date stays one: the record then knows only the day */
        if (v->kind == N_DATE) put_date(b, v->ival);
        else if (v->kind == N_DATETIME) put_datetime(b, v->ival);
        else break;
        return true;
    case VT_ENUM: {
        if (v->kind != N_NAME && v->kind != N_STRING) break;
        const char *name = v->kind == N_NAME ? v->name : v->str;
        if (sema_member(fd, name) < 0) {
            sema_unknown_member(s, v->loc, f, name);
            return false;
        }
        buf_put_json_str(b, name, strlen(name));
        return true;
    }
    case VT_CODE:
        if (v->kind != N_STRING) break;
        if (!check_code(s, f, v, sys)) return false;
        buf_put_json_str(b, v->str, strlen(v->str));
        return true;
    case VT_LIST: {
        if (v->kind != N_LIST_LIT) break;
        bool ok = true;
        buf_putc(b, '[');
        for (const Node *e = v->a; e; e = e->next) {
            if (e->kind != N_STRING) {
                if (e->kind != N_ERROR)
                    diag_error(s->d, "E203", e->loc,
                               "type mismatch: `%s` has type %s; this element is a %s", fd->name,
                               sema_type_name(s, f), value_type(e));
                ok = false;
                continue;
            }
            if (fd->elem == VT_CODE && !check_code(s, f, e, SYS_NONE)) {
                ok = false;
                continue;
            }
            if (e != v->a) buf_putc(b, ',');
            buf_put_json_str(b, e->str, strlen(e->str));
        }
        buf_putc(b, ']');
        return ok;
    }
    default: return false;
    }
    if (v->kind != N_ERROR) type_error(s, f, v);
    return false;
}

/* The names of a list of N_NAME, each checked as a rule or field and
 * listed once. */
static const char **names_of(Sema *s, const Node *list, SymKind kind, size_t *n)
{
    const char **v = arena_alloc(s->arena, (ast_list_len(list) + 1) * sizeof *v);
    size_t k = 0;
    for (const Node *x = list; x; x = x->next) {
        if (x->kind != N_NAME) continue;
        Sym *y = kind == SYM_RULE ? sema_lookup_rule(s, x->name) : sema_lookup(s, x->name);
        if (!y || y->kind != kind) {
            sema_unknown(s, x->loc, kind == SYM_RULE ? "rule" : "field", x->name, kind);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++) dup = strcmp(v[j], x->name) == 0;
        if (!dup) v[k++] = x->name;
    }
    *n = k;
    return v;
}

static const char *render_given(Sema *s, const Node *test, const Node *given)
{
    size_t cap = ast_list_len(given ? given->a : NULL);
    Given *g = xmalloc(cap * sizeof *g);
    size_t n = 0;
    for (const Node *fv = given ? given->a : NULL; fv; fv = fv->next) {
        if (fv->kind != N_FIELD_VALUE) continue;
        uint32_t f = sema_field(s, fv->name);
        if (f == PIDX_NONE) {
            sema_unknown(s, fv->loc, "field", fv->name, SYM_FIELD);
            continue;
        }
        size_t j = 0;
        while (j < n && g[j].field != f) j++;
        if (j < n) {
            pcr_diag *e = diag_error(s->d, "E406", fv->loc, "field `%s` is given twice",
                                     fv->name);
            diag_related(s->d, e, g[j].fv->loc, "first given here");
            continue;
        }
        g[n++] = (Given){.field = f, .fv = fv};
    }
    Buf b = {0};
    buf_putc(&b, '{');
    bool have_id = false, have_payer = false;
    for (size_t i = 0; i < n; i++) {
        have_id |= strcmp(s->m.fields[g[i].field].name, "id") == 0;
        have_payer |= strcmp(s->m.fields[g[i].field].name, "payer") == 0;
    }
    if (!have_id) {
        buf_puts(&b, "\"id\":");
        buf_put_json_str(&b, test->str ? test->str : "", test->str ? strlen(test->str) : 0);
    }
    if (!have_payer) {
        buf_puts(&b, have_id ? "\"payer\":" : ",\"payer\":");
        buf_put_json_str(&b, s->m.payer ? s->m.payer : "", s->m.payer ? strlen(s->m.payer) : 0);
    }
    bool first = have_id && have_payer;
    for (size_t i = 0; i < n; i++) {
        const SField *fd = &s->m.fields[g[i].field];
        CodeSystem sys = SYS_NONE;
        if (fd->type == VT_CODE && fd->tag_field != PIDX_NONE) {
            for (size_t j = 0; j < n; j++) {
                const Node *tv = g[j].fv->a;
                if (g[j].field != fd->tag_field || !tv) continue;
                const char *m = tv->kind == N_NAME ? tv->name : tv->kind == N_STRING ? tv->str : "";
                sys = code_system_from_name(m, strlen(m));
            }
        }
        if (!first) buf_putc(&b, ',');
        first = false;
        buf_put_json_str(&b, fd->name, strlen(fd->name));
        buf_putc(&b, ':');
        if (!g[i].fv->a || !render_value(s, g[i].field, g[i].fv->a, sys, &b)) buf_puts(&b, "null");
    }
    buf_putc(&b, '}');
    const char *json = arena_strndup(s->arena, b.p, b.n);
    buf_free(&b);
    free(g);
    return json;
}

static bool once(Sema *s, const Node **slot, const Node *cl, const char *what)
{
    if (*slot) {
        pcr_diag *g = diag_error(s->d, "E403", cl->loc, "`%s` is given twice", what);
        diag_related(s->d, g, (*slot)->loc, "first given here");
        return false;
    }
    *slot = cl;
    return true;
}

/* The Outcome bits of a list of N_INT outcome nodes. */
static uint32_t outcome_bits(const Node *list)
{
    uint32_t bits = 0;
    for (const Node *x = list; x; x = x->next)
        if (x->kind == N_INT && x->ival > 0 && x->ival < OUT__COUNT) bits |= 1u << x->ival;
    return bits;
}

static void check_test(Sema *s, const Node *tn, TestCase *t)
{
    t->name = tn->str ? tn->str : "";
    t->file = tn->loc.file;
    t->line = tn->loc.line;
    t->col = tn->loc.col;
    t->timely = -1;
    const Node *given = NULL, *expect = NULL, *rev = NULL, *rules = NULL, *dl = NULL,
               *missing = NULL, *timely = NULL, *possible = NULL;
    for (const Node *c = tn->a; c; c = c->next) {
        if (c->kind != N_CLAUSE) continue;
        switch (c->op) {
        case CL_GIVEN: once(s, &given, c, "given"); break;
        case CL_EXPECT:
            if (expect) {
                pcr_diag *g = diag_error(s->d, "E407", c->loc, "a test has exactly one `expect`");
                diag_related(s->d, g, expect->loc, "the first `expect` is here");
                break;
            }
            expect = c;
            t->expect = (pcr_decision_kind)c->ival;
            if (c->flags & FL_ALL) {
                /* `expect prior_auth, notification`: the decision is an
                 * outcome of the certain obligations too. */
                static const uint8_t as_outcome[] = {
                    [PCR_DEC_NOTIFICATION] = OUT_NOTIFICATION,
                    [PCR_DEC_PRIOR_AUTH] = OUT_PRIOR_AUTH,
                    [PCR_DEC_NOT_COVERED] = OUT_NOT_COVERED,
                };
                t->check_outcomes = true;
                if (c->ival < (int64_t)sizeof as_outcome && as_outcome[c->ival])
                    t->outcomes |= 1u << as_outcome[c->ival];
                t->outcomes |= outcome_bits(c->a);
            }
            break;
        case CL_POSSIBLE:
            if (!once(s, &possible, c, "possible")) break;
            t->check_possible = true;
            t->possible = outcome_bits(c->a);
            break;
        case CL_REVIEWER: {
            if (!once(s, &rev, c, "reviewer")) break;
            const char **v = arena_alloc(s->arena, (ast_list_len(c->a) + 1) * sizeof *v);
            size_t k = 0;
            for (const Node *x = c->a; x; x = x->next) {
                if (x->kind != N_STRING) continue;
                bool dup = false;
                for (size_t j = 0; j < k && !dup; j++) dup = strcmp(v[j], x->str) == 0;
                if (!dup) v[k++] = x->str;
            }
            t->check_reviewers = true;
            t->reviewers = v;
            t->nreviewers = k;
            break;
        }
        case CL_RULES:
            if (!once(s, &rules, c, "rules")) break;
            t->check_rules = true;
            t->rules = names_of(s, c->a, SYM_RULE, &t->nrules);
            break;
        case CL_MISSING:
            if (!once(s, &missing, c, "missing")) break;
            t->check_missing = true;
            t->missing = names_of(s, c->a, SYM_FIELD, &t->nmissing);
            break;
        case CL_DEADLINE_AT:
            if (!once(s, &dl, c, "deadline")) break;
            t->check_deadline = true;
            if (!c->a) {
                t->deadline_none = true;
            } else if (c->a->kind == N_DATE || c->a->kind == N_DATETIME) {
                t->deadline_is_date = c->a->kind == N_DATE;
                t->deadline = c->a->ival;
            } else {
                t->check_deadline = false;
            }
            break;
        case CL_TIMELY:
            if (!once(s, &timely, c, "timely")) break;
            t->check_timely = true;
            t->timely = c->a && c->a->kind == N_BOOL ? (int)c->a->ival : -1;
            break;
        default: break;
        }
    }
    if (!expect && !(tn->flags & FL_CUT))
        diag_error(s->d, "E407", tn->loc, "test \"%s\" has no `expect`", t->name);
    t->record_json = render_given(s, tn, given);
}

void sema_tests(Sema *s, const Node *decls)
{
    size_t n = 0;
    for (const Node *d = decls; d; d = d->next) n += d->kind == N_TEST;
    s->tests = arena_alloc(s->arena, n * sizeof *s->tests);
    s->ntests = 0;
    for (const Node *d = decls; d; d = d->next)
        if (d->kind == N_TEST) check_test(s, d, &s->tests[s->ntests++]);
}
