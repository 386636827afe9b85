/* sema.c: the checker's driver: global names, the schema, the policy
 * header, calendars and rules. Code sets are in sema_sets.c, conditions in
 * sema_cond.c, tests in sema_test.c.
 *
 * Checking never stops at the first error: each declaration is checked on
 * its own, and a construct that failed leaves a NULL or an empty value that
 * later checks skip silently (so one mistake gives one diagnostic). */
#include "sema.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "buf.h"
#include "dates.h"

void sema_reserve(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) return;
    uint32_t c = *cap ? *cap : 8;
    while (c < need) c *= 2;
    *arr = xrealloc(*arr, (size_t)c * elem);
    *cap = c;
}

void sema_init(Sema *s, Arena *arena, Diags *d)
{
    memset(s, 0, sizeof *s);
    s->arena = arena;
    s->d = d;
    s->m.eff_from = DATE_OPEN_FROM;
    s->m.eff_through = DATE_OPEN_THROUGH;
}

void sema_free(Sema *s)
{
    for (uint32_t i = 0; i < s->m.nsets; i++) code_set_free(&s->m.sets[i].codes);
    free(s->m.fields);
    free(s->m.sets);
    free(s->m.used);
    free(s->m.rules);
    free(s->m.holidays);
    free(s->syms);
    free(s->cal_nodes);
    free(s->rule_nodes);
    free(s->busy);
    s->busy = NULL;
    memset(&s->m, 0, sizeof s->m);
    s->syms = NULL;
    s->cal_nodes = s->rule_nodes = NULL;
}

/* ---- global names --------------------------------------------------- */

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Rule ids live in a namespace of their own: they are only ever named where
 * a rule is expected (`exempt`, a test's `rules`), so a rule may share its id
 * with a field or code set. Everything else shares the other namespace. */
static Sym *lookup_ns(Sema *s, const char *name, bool rules)
{
    if (!s->symcap || !name) return NULL;
    for (uint32_t i = name_hash(name) & (s->symcap - 1);; i = (i + 1) & (s->symcap - 1)) {
        if (!s->syms[i].name) return NULL;
        if ((s->syms[i].kind == SYM_RULE) == rules && strcmp(s->syms[i].name, name) == 0)
            return &s->syms[i];
    }
}

Sym *sema_lookup(Sema *s, const char *name) { return lookup_ns(s, name, false); }
Sym *sema_lookup_rule(Sema *s, const char *name) { return lookup_ns(s, name, true); }

static const char *sym_kind_name(uint8_t k)
{
    switch (k) {
    case SYM_SCHEMA: return "a schema";
    case SYM_FIELD: return "a field";
    case SYM_CODESET: return "a code set";
    case SYM_CALENDAR: return "a calendar";
    case SYM_RULE: return "a rule";
    default: return "a name";
    }
}

/* Declares a global name; reports E110 and returns false when it exists. */
static bool declare(Sema *s, const char *name, SymKind kind, uint32_t index, Loc at)
{
    Sym *old = lookup_ns(s, name, kind == SYM_RULE);
    if (old) {
        pcr_diag *g = diag_error(s->d, "E110", at, "`%s` is already defined (as %s)", name,
                                 sym_kind_name(old->kind));
        diag_related(s->d, g, old->loc, "`%s` is first defined here", name);
        return false;
    }
    if ((s->nsyms + 1) * 2 > s->symcap) {
        uint32_t ncap = s->symcap ? s->symcap * 2 : 64;
        Sym *nt = xcalloc(ncap, sizeof *nt);
        for (uint32_t i = 0; i < s->symcap; i++) {
            if (!s->syms[i].name) continue;
            uint32_t j = name_hash(s->syms[i].name) & (ncap - 1);
            while (nt[j].name) j = (j + 1) & (ncap - 1);
            nt[j] = s->syms[i];
        }
        free(s->syms);
        s->syms = nt;
        s->symcap = ncap;
    }
    uint32_t j = name_hash(name) & (s->symcap - 1);
    while (s->syms[j].name) j = (j + 1) & (s->symcap - 1);
    s->syms[j] = (Sym){.name = name, .kind = (uint8_t)kind, .index = index, .loc = at};
    s->nsyms++;
    return true;
}

const char **sema_names(Sema *s, SymKind kind, size_t *n)
{
    size_t cap = 0, k = 0;
    switch (kind) {
    case SYM_FIELD: cap = s->m.nfields; break;
    case SYM_CODESET: cap = s->m.nsets; break;
    case SYM_CALENDAR: cap = s->ncal; break;
    case SYM_RULE: cap = s->m.nrules; break;
    default: break;
    }
    const char **v = xmalloc((cap + 1) * sizeof *v);
    for (size_t i = 0; i < cap; i++) {
        const char *name = NULL;
        switch (kind) {
        case SYM_FIELD: name = s->m.fields[i].name; break;
        case SYM_CODESET: name = s->m.sets[i].decl && ((const Node *)s->m.sets[i].decl)->kind ==
                                             N_CODESET ? s->m.sets[i].name : NULL;
            break;
        case SYM_CALENDAR: name = s->cal_nodes[i]->name; break;
        case SYM_RULE: name = s->m.rules[i].id; break;
        default: break;
        }
        if (name) v[k++] = name;
    }
    *n = k;
    return v;
}

/* "Did you mean" compares a name with every name of its kind: cheap for a
 * real policy, but a source of thousands of unknown names among thousands
 * of declared ones would spend minutes on hints. After HINT_MAX_WORK names
 * compared in all, or once nothing more will be shown, no hints. */
enum { HINT_MAX_WORK = 2000000 };

void sema_unknown(Sema *s, Loc at, const char *what, const char *name, SymKind kind)
{
    if (s->failed_module && (kind != SYM_RULE || s->failed_base)) { /* modules declare no rules */
        s->unreported++;
        return;
    }
    size_t n = 0;
    const char **names = NULL, *near = NULL;
    if (!diag_full(s->d) && s->hint_work <= HINT_MAX_WORK) {
        names = sema_names(s, kind, &n);
        s->hint_work += n;
        near = diag_nearest(name, names, n);
    }
    Sym *other = lookup_ns(s, name, kind != SYM_RULE);
    if (near)
        diag_error(s->d, "E111", at, "unknown %s `%s`; did you mean `%s`?", what, name, near);
    else if (other)
        diag_error(s->d, "E111", at, "unknown %s `%s` (`%s` is %s)", what, name, name,
                   sym_kind_name(other->kind));
    else
        diag_error(s->d, "E111", at, "unknown %s `%s`", what, name);
    free(names);
}

uint32_t sema_field(Sema *s, const char *name)
{
    Sym *y = sema_lookup(s, name);
    return y && y->kind == SYM_FIELD ? y->index : PIDX_NONE;
}

void sema_effective(Sema *s, const Node *eff, int32_t *from, int32_t *through)
{
    *from = DATE_OPEN_FROM;
    *through = DATE_OPEN_THROUGH;
    if (!eff || eff->kind != N_EFFECTIVE || !eff->a || eff->a->kind != N_DATE) return;
    *from = (int32_t)eff->a->ival;
    if (eff->b && eff->b->kind == N_DATE) {
        if (eff->b->ival < eff->a->ival) {
            char f[16], t[16];
            date_format((int32_t)eff->a->ival, f);
            date_format((int32_t)eff->b->ival, t);
            diag_error(s->d, "E405", eff->b->loc,
                       "`through` %s is before the start of the window, %s", t, f);
            return;
        }
        *through = (int32_t)eff->b->ival;
    }
}

const char *sema_type_name(Sema *s, uint32_t field)
{
    const SField *f = &s->m.fields[field];
    if (f->type == VT_LIST) return f->elem == VT_CODE ? "list of codes" : "list of strings";
    return prog_type_name(f->type);
}

/* ---- literals shared by conditions, defaults and tests --------------- */

bool sema_money(const Node *n, int64_t *cents)
{
    if (n->kind == N_MONEY) {
        *cents = n->ival;
        return true;
    }
    if (n->kind == N_INT) {
        if (n->ival > INT64_MAX / 100 || n->ival < INT64_MIN / 100) return false;
        *cents = n->ival * 100;
        return true;
    }
    if (n->kind != N_DECIMAL || !n->str) return false;
    /* "1000.5" -> 100050; more than two decimals is not money. */
    const char *p = n->str;
    int64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (*p - '0');
    }
    int dec = 0, frac = 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++dec > 2) return false;
            frac = frac * 10 + (*p - '0');
        }
    }
    if (*p || v > INT64_MAX / 100 - 1) return false;
    if (dec == 1) frac *= 10;
    *cents = v * 100 + frac;
    return true;
}

int32_t sema_member(const SField *f, const char *name)
{
    for (uint32_t i = 0; i < f->nmembers; i++)
        if (strcmp(f->members[i], name) == 0) return (int32_t)i;
    return -1;
}

void sema_unknown_member(Sema *s, Loc at, uint32_t field, const char *name)
{
    const SField *f = &s->m.fields[field];
    const char *near = diag_nearest(name, f->members, f->nmembers);
    if (near)
        diag_error(s->d, "E202", at, "`%s` is not a member of enum `%s`; did you mean `%s`?",
                   name, f->name, near);
    else
        diag_error(s->d, "E202", at, "`%s` is not a member of enum `%s`", name, f->name);
}

/* ---- declarations ----------------------------------------------------- */

static void add_field(Sema *s, const Node *fn, uint32_t *cap)
{
    if (s->m.nfields == PCR_MAX_FIELDS) {
        if (!s->too_many_fields)
            diag_error(s->d, "E133", fn->loc, "too many fields: a schema has at most %d",
                       PCR_MAX_FIELDS);
        s->too_many_fields = true;
        return;
    }
    uint32_t i = s->m.nfields;
    if (!declare(s, fn->name, SYM_FIELD, i, fn->loc)) return;
    sema_reserve((void **)&s->m.fields, cap, i + 1, sizeof *s->m.fields);
    s->m.fields[i] = (SField){.name = fn->name, .loc = fn->loc, .tag_field = PIDX_NONE};
    s->m.nfields++;
}

bool sema_add_rule(Sema *s, const Node *d)
{
    uint32_t i = s->m.nrules;
    if (i == PCR_MAX_RULES) {
        if (!s->too_many_rules)
            diag_error(s->d, "E126", d->loc, "too many rules: a policy has at most %d",
                       PCR_MAX_RULES);
        s->too_many_rules = true;
        return false;
    }
    if (!declare(s, d->name, SYM_RULE, i, d->loc)) return false;
    sema_reserve((void **)&s->m.rules, &s->rulecap, i + 1, sizeof *s->m.rules);
    sema_reserve((void **)&s->rule_nodes, &s->rncap, i + 1, sizeof *s->rule_nodes);
    s->m.rules[i] = (SRule){.id = d->name, .loc = d->loc};
    s->rule_nodes[i] = d;
    s->m.nrules++;
    return true;
}

static void declare_all(Sema *s, const SemFile *files, uint32_t n, uint32_t *fieldcap)
{
    for (uint32_t f = 0; f < n; f++) {
        for (const Node *d = files[f].decls; d; d = d->next) {
            switch (d->kind) {
            case N_POLICY:
            case N_RULE:
            case N_TEST:
            case N_REMOVE:
                if (!files[f].root && !files[f].base) {
                    diag_error(s->d, "E122", d->loc,
                               "a module may only declare schemas, code sets and calendars; "
                               "this %s belongs in the policy file",
                               d->kind == N_POLICY   ? "policy"
                               : d->kind == N_RULE   ? "rule"
                               : d->kind == N_REMOVE ? "`remove rule`"
                                                     : "test");
                    break;
                }
                /* A base's header and rules are merged by sema_inherit_rules;
                 * its tests run when the base itself is compiled. */
                if (d->kind != N_POLICY || !files[f].root) break;
                if (s->policy) {
                    pcr_diag *g =
                        diag_error(s->d, "E121", d->loc, "a policy file has exactly one `policy`");
                    diag_related(s->d, g, s->policy->loc, "the first policy is here");
                } else {
                    s->policy = d;
                }
                break;
            case N_SCHEMA:
                if (s->schema) {
                    pcr_diag *g = diag_error(s->d, "E131", d->loc,
                                             "only one schema may be declared across the "
                                             "loaded files");
                    diag_related(s->d, g, s->schema->loc, "the schema is declared here");
                    break;
                }
                s->schema = d;
                if (d->name) declare(s, d->name, SYM_SCHEMA, 0, d->loc);
                for (const Node *fn = d->a; fn; fn = fn->next)
                    if (fn->kind == N_FIELD && fn->name) add_field(s, fn, fieldcap);
                break;
            case N_CODESET: {
                if (!d->name) break;
                uint32_t i = s->m.nsets;
                if (!declare(s, d->name, SYM_CODESET, i, d->loc)) break;
                sema_reserve((void **)&s->m.sets, &s->setcap, i + 1, sizeof *s->m.sets);
                s->m.sets[i] = (SSet){.name = d->name, .loc = d->loc, .decl = d,
                                      .eff_from = DATE_OPEN_FROM,
                                      .eff_through = DATE_OPEN_THROUGH, .pset = PIDX_NONE};
                s->m.nsets++;
                break;
            }
            case N_CALENDAR:
                if (!d->name || !declare(s, d->name, SYM_CALENDAR, s->ncal, d->loc)) break;
                sema_reserve((void **)&s->cal_nodes, &s->calcap, s->ncal + 1,
                             sizeof *s->cal_nodes);
                s->cal_nodes[s->ncal++] = d;
                break;
            default:
                break;
            }
        }
    }
}

/* ---- the schema ------------------------------------------------------ */

/* Checks a field's default against its type; fills f->deflt. */
static void check_default(Sema *s, uint32_t fi, const Node *v)
{
    SField *f = &s->m.fields[fi];
    if (v->kind == N_ERROR) return;
    bool ok = false;
    int64_t val = 0;
    switch (f->type) {
    case VT_BOOL: ok = v->kind == N_BOOL, val = v->ival; break;
    case VT_INT: ok = v->kind == N_INT, val = v->ival; break;
    case VT_MONEY: ok = sema_money(v, &val); break;
    case VT_DATE: ok = v->kind == N_DATE, val = v->ival; break;
    case VT_DATETIME:
        ok = v->kind == N_DATETIME || v->kind == N_DATE;
        val = v->kind == N_DATE ? v->ival * SECONDS_PER_DAY : v->ival;
        break;
    case VT_ENUM:
        if (v->kind == N_NAME || v->kind == N_STRING) {
            const char *m = v->kind == N_NAME ? v->name : v->str;
            int32_t k = sema_member(f, m);
            if (k < 0) {
                sema_unknown_member(s, v->loc, fi, m);
                return;
            }
            ok = true;
            val = k;
        }
        break;
    default:
        diag_error(s->d, "E201", v->loc, "a %s field cannot have a default",
                   sema_type_name(s, fi));
        return;
    }
    if (!ok) {
        diag_error(s->d, "E201", v->loc, "the default of `%s` must be a %s", f->name,
                   sema_type_name(s, fi));
        return;
    }
    f->flags |= PF_DEFAULT;
    f->deflt = val;
}

static const char *const system_names[] = {"CPT", "HCPCS", "ICD10", "REV", "POS"};

void sema_unknown_system(Sema *s, Loc at, const char *name)
{
    const char *near = diag_nearest(name, system_names, sizeof system_names / sizeof *system_names);
    if (near)
        diag_error(s->d, "E304", at, "unknown code system `%s`; did you mean `%s`?", name, near);
    else
        diag_error(s->d, "E304", at,
                   "unknown code system `%s` (the systems are CPT, HCPCS, ICD10, REV and POS)",
                   name);
}

/* Reads a code(...) type's systems into a SYS_BIT mask (0 after an error). */
static uint8_t code_systems(Sema *s, const char *field, const Node *t)
{
    unsigned mask = 0;
    bool bad = false;
    for (const Node *n = t ? t->a : NULL; n; n = n->next) {
        if (n->kind != N_NAME || !n->name) continue;
        CodeSystem sys = code_system_from_name(n->name, strlen(n->name));
        if (sys == SYS_NONE) sema_unknown_system(s, n->loc, n->name);
        else mask |= SYS_BIT(sys);
        bad |= sys == SYS_NONE;
    }
    if (!mask && !bad && t)
        diag_error(s->d, "E136", t->loc, "field `%s`: a code type names its systems, e.g. "
                   "`code(CPT, HCPCS)`", field);
    return bad ? 0 : (uint8_t)mask;
}

/* Fills field fi's type from its N_TYPE. */
static void check_field_type(Sema *s, uint32_t fi, const Node *t)
{
    SField *f = &s->m.fields[fi];
    const char *k = t && t->kind == N_TYPE && t->name ? t->name : "";
    static const struct { const char *name; uint8_t vt; } simple[] = {
        {"bool", VT_BOOL}, {"int", VT_INT}, {"money", VT_MONEY}, {"string", VT_STRING},
        {"date", VT_DATE}, {"datetime", VT_DATETIME},
    };
    for (size_t i = 0; i < sizeof simple / sizeof *simple; i++)
        if (strcmp(k, simple[i].name) == 0) {
            f->type = simple[i].vt;
            return;
        }
    if (strcmp(k, "enum") == 0) {
        f->type = VT_ENUM;
        size_t n = ast_list_len(t->a), k2 = 0;
        f->members = arena_alloc(s->arena, n * sizeof *f->members);
        for (const Node *m = t->a; m; m = m->next) {
            const char *name = m->kind == N_NAME ? m->name : m->kind == N_STRING ? m->str : NULL;
            if (!name) continue;
            bool dup = false;
            for (size_t j = 0; j < k2 && !dup; j++) dup = strcmp(f->members[j], name) == 0;
            if (dup) {
                diag_error(s->d, "E110", m->loc, "enum member `%s` is listed twice", name);
                continue;
            }
            if (k2 == 64) {
                diag_error(s->d, "E134", m->loc, "enum `%s` has more than 64 members", f->name);
                break;
            }
            f->members[k2++] = name;
        }
        f->nmembers = (uint32_t)k2;
        return;
    }
    if (strcmp(k, "code") == 0) {
        f->type = VT_CODE;
        f->systems = code_systems(s, f->name, t);
        return;
    }
    if (strcmp(k, "list") == 0) {
        const Node *e = t->a;
        const char *ek = e && e->kind == N_TYPE && e->name ? e->name : "";
        if (strcmp(ek, "code") == 0 || strcmp(ek, "string") == 0) {
            f->type = VT_LIST;
            f->elem = ek[0] == 'c' ? VT_CODE : VT_STRING;
            if (f->elem == VT_CODE) f->systems = code_systems(s, f->name, e);
            if (e->b)
                diag_error(s->d, "E135", e->b->loc,
                           "only a code field can name the field that gives its system");
            return;
        }
        diag_error(s->d, "E136", t->loc,
                   "field `%s`: a list holds codes or strings (`list code(...)`, `list string`)",
                   f->name);
        return;
    }
    if (t && t->kind == N_TYPE)
        diag_error(s->d, "E136", t->loc,
                   "field `%s` cannot be of type %s (fields are bool, int, money, string, date, "
                   "datetime, enum, code or list)",
                   f->name, k);
}

/* A code field's `system F`: F must be an enum of system names, each one
 * the field accepts. */
static void check_tag(Sema *s, uint32_t fi, const Node *tag)
{
    SField *f = &s->m.fields[fi];
    if (!tag || tag->kind != N_NAME || !tag->name) return;
    uint32_t ti = sema_field(s, tag->name);
    if (ti == PIDX_NONE) {
        sema_unknown(s, tag->loc, "field", tag->name, SYM_FIELD);
        return;
    }
    const SField *t = &s->m.fields[ti];
    if (t->type != VT_ENUM) {
        if (t->type)
            diag_error(s->d, "E135", tag->loc,
                       "`%s` names the system of `%s`, so it must be an enum of system names; "
                       "it is a %s",
                       t->name, f->name, sema_type_name(s, ti));
        return;
    }
    for (uint32_t i = 0; i < t->nmembers; i++) {
        CodeSystem sys = code_system_from_name(t->members[i], strlen(t->members[i]));
        if (sys == SYS_NONE || !(f->systems & SYS_BIT(sys))) {
            diag_error(s->d, "E135", tag->loc,
                       "member `%s` of `%s` is not one of the code systems of `%s`",
                       t->members[i], t->name, f->name);
            return;
        }
    }
    f->tag_field = ti;
}

static void check_required(Sema *s, const char *name, uint8_t type)
{
    uint32_t fi = sema_field(s, name);
    if (fi == PIDX_NONE) {
        diag_error(s->d, "E132", s->schema->loc, "the schema must have a field `%s: %s required`",
                   name, prog_type_name(type));
        return;
    }
    const SField *f = &s->m.fields[fi];
    if (!f->type) return; /* its type had an error */
    if (f->type != type)
        diag_error(s->d, "E132", f->loc, "field `%s` must have type %s, not %s", name,
                   prog_type_name(type), sema_type_name(s, fi));
    else if (!(f->flags & PF_REQUIRED))
        diag_error(s->d, "E132", f->loc, "field `%s` must be `required`", name);
}

static void check_schema(Sema *s)
{
    if (!s->schema && s->failed_module) {
        s->unreported++;
        return;
    }
    if (!s->schema) {
        const Loc at = s->policy ? s->policy->loc : (Loc){0, 1, 1, 1, 1};
        diag_error(s->d, "E130", at, "no schema is declared (add `use std.request`)");
        return;
    }
    uint32_t fi = 0;
    for (const Node *fn = s->schema->a; fn && fi < s->m.nfields; fn = fn->next) {
        if (fn->kind != N_FIELD || !fn->name) continue;
        SField *f = &s->m.fields[fi];
        if (f->name != fn->name) continue; /* a duplicate, not declared */
        if (fn->flags & FL_REQUIRED) f->flags |= PF_REQUIRED;
        check_field_type(s, fi, fn->a);
        fi++;
    }
    fi = 0;
    for (const Node *fn = s->schema->a; fn && fi < s->m.nfields; fn = fn->next) {
        if (fn->kind != N_FIELD || !fn->name || s->m.fields[fi].name != fn->name) continue;
        if (s->m.fields[fi].type == VT_CODE && fn->a) check_tag(s, fi, fn->a->b);
        if (fn->b && s->m.fields[fi].type) check_default(s, fi, fn->b);
        if (s->m.fields[fi].type) sema_field_words(s, fi, fn);
        fi++;
    }
    check_required(s, "id", VT_STRING);
    check_required(s, "payer", VT_STRING);
    check_required(s, "service_date", VT_DATE);
    uint32_t ra = sema_field(s, "requested_at");
    if (ra != PIDX_NONE && s->m.fields[ra].type && s->m.fields[ra].type != VT_DATETIME)
        diag_error(s->d, "E132", s->m.fields[ra].loc,
                   "field `requested_at` must have type datetime, not %s",
                   sema_type_name(s, ra));
}

/* ---- the policy header ------------------------------------------------ */

/* The single string value of a property, or NULL (reported E125). */
static const char *prop_string(Sema *s, const Node *p)
{
    if (p->a && p->a->kind == N_STRING && !p->a->next) return p->a->str;
    if (!p->a || p->a->kind == N_ERROR) return NULL; /* a syntax error, reported */
    diag_error(s->d, "E125", p->loc, "property `%s` takes one string", p->name);
    return NULL;
}

/* `payer "a", "b", ...`: the payers whose requests the policy decides,
 * non-empty and distinct. */
static void check_payers(Sema *s, const Node *p)
{
    if (!p->a || p->a->kind == N_ERROR) return;
    const char **v = arena_alloc(s->arena, (ast_list_len(p->a) + 1) * sizeof *v);
    uint32_t n = 0;
    for (const Node *x = p->a; x; x = x->next) {
        if (x->kind != N_STRING) return;
        if (!*x->str) {
            diag_error(s->d, "E125", x->loc, "a payer cannot be empty");
            return;
        }
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(v[i], x->str) == 0) {
                diag_error(s->d, "E125", x->loc, "payer \"%s\" is listed twice", x->str);
                return;
            }
        v[n++] = x->str;
    }
    s->m.payers = v;
    s->m.npayers = n;
    s->m.payer = v[0];
}

static int cmp_day(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The policy's `calendar NAME`: its holidays, sorted and distinct. */
static void check_calendar(Sema *s, const Node *p)
{
    if (!p->a || p->a->kind == N_ERROR) return;
    if (p->a->kind != N_NAME || p->a->next) {
        diag_error(s->d, "E125", p->loc, "property `calendar` takes one calendar name");
        return;
    }
    Sym *y = sema_lookup(s, p->a->name);
    if (!y || y->kind != SYM_CALENDAR) {
        sema_unknown(s, p->a->loc, "calendar", p->a->name, SYM_CALENDAR);
        return;
    }
    const Node *cal = s->cal_nodes[y->index];
    size_t n = ast_list_len(cal->a), k = 0;
    int32_t *days = xmalloc(n * sizeof *days);
    for (const Node *h = cal->a; h; h = h->next)
        if (h->kind == N_HOLIDAY && h->a && h->a->kind == N_DATE) days[k++] = (int32_t)h->a->ival;
    qsort(days, k, sizeof *days, cmp_day);
    size_t w = 0;
    for (size_t i = 0; i < k; i++)
        if (w == 0 || days[w - 1] != days[i]) days[w++] = days[i];
    s->m.holidays = days;
    s->m.nholidays = (uint32_t)w;
}

/* The header of the root policy, and of its bases what a policy inherits
 * (docs/language.md, "Extending a base list"): `source`, `contact`,
 * `reviewer` and `calendar` come from the nearest policy in the chain that
 * gives them; `payer`, `title`, `version` and `effective` are the extending
 * policy's own and must be given again. A base's header errors are its
 * own: they are reported when the base is compiled. */
static void check_header(Sema *s)
{
    const Node *pol = s->policy;
    if (!pol) return;
    s->m.id = pol->name ? pol->name : "";
    s->m.at = pol->loc;
    static const char *const props[] = {"payer",   "title",    "version", "effective",
                                        "source",  "contact",  "reviewer", "calendar"};
    const Node *seen[8] = {0};
    uint32_t level_of[8] = {0}; /* the level (0: the root) that gave property k */
    size_t nprops = ast_list_len(pol->a);
    for (uint32_t j = 0; j < s->nbases; j++) nprops += ast_list_len(s->bases[j]->a);
    const char **contacts = arena_alloc(s->arena, (nprops + 1) * sizeof *contacts);
    for (uint32_t level = 0; level <= s->nbases; level++) {
        const Node *at = level == 0 ? pol : s->bases[level - 1];
        for (const Node *p = at->a; p; p = p->next) {
            const char *name = p->kind == N_EFFECTIVE ? "effective"
                               : p->kind == N_PROP    ? p->name
                                                      : NULL;
            if (!name) continue;
            size_t k = 0;
            while (k < 8 && strcmp(props[k], name) != 0) k++;
            if (level > 0) {
                /* Only what is inherited, and only when no nearer policy gave it. */
                if (k < 4 || k == 8 || (seen[k] && level_of[k] < level)) continue;
                if (seen[k] && k != 4 && k != 5) continue;
            }
            if (k == 8) {
                const char *near = diag_nearest(name, props, 8);
                if (near)
                    diag_error(s->d, "E124", p->loc,
                               "unknown policy property `%s`; did you mean `%s`?", name, near);
                else
                    diag_error(s->d, "E124", p->loc,
                               "unknown policy property `%s` (the properties are payer, title, "
                               "version, effective, source, contact, reviewer and calendar)",
                               name);
                continue;
            }
            /* contact and source may repeat (a policy may rest on several
             * documents); the Prog keeps the first source. */
            if (seen[k] && k != 4 && k != 5) {
                pcr_diag *g = diag_error(s->d, "E125", p->loc, "property `%s` is given twice", name);
                diag_related(s->d, g, seen[k]->loc, "first given here");
                continue;
            }
            if (!seen[k]) {
                seen[k] = p;
                level_of[k] = level;
            }
            switch (k) {
            case 0: check_payers(s, p); break;
            case 1: s->m.title = prop_string(s, p); break;
            case 2: s->m.version = prop_string(s, p); break;
            case 3: sema_effective(s, p, &s->m.eff_from, &s->m.eff_through); break;
            case 4:
                if (p->a && p->a->kind == N_STRING &&
                    (!p->a->next || (p->a->next->kind == N_STRING && !p->a->next->next))) {
                    if (!s->m.source_doc) {
                        s->m.source_doc = p->a->str;
                        s->m.source_title = p->a->next ? p->a->next->str : NULL;
                    }
                } else if (p->a && p->a->kind != N_ERROR) {
                    diag_error(s->d, "E125", p->loc,
                               "property `source` takes a document and an optional title");
                }
                break;
            case 5: {
                const char *c = prop_string(s, p);
                if (c) contacts[s->m.ncontacts++] = c;
                break;
            }
            case 6:
                s->m.reviewer = prop_string(s, p);
                if (s->m.reviewer && !*s->m.reviewer) {
                    diag_error(s->d, "E408", p->a->loc, "a reviewer name cannot be empty");
                    s->m.reviewer = NULL;
                }
                break;
            case 7: check_calendar(s, p); break;
            }
        }
    }
    s->m.contacts = contacts;
    for (size_t k = 0; k < 4; k++) /* payer, title, version, effective */
        if (!seen[k])
            diag_error(s->d, "E123", pol->loc, "the policy header is missing `%s`", props[k]);
    if (!s->m.payer) s->m.payer = "";
    if (!s->m.title) s->m.title = "";
    if (!s->m.version) s->m.version = "";
}

/* ---- rules ------------------------------------------------------------- */

/* The first non-negated `f in S` (f a code field) or `f any in S` (f a
 * list of codes) conjunct of c, in source order (S's model set), or
 * PIDX_NONE: a rule whose condition implies it can only fire when f's code,
 * or one of its codes, is in S, so the index may skip it for every other.
 * And-chains are left-deep and may be long: their spine is walked by loop,
 * only right operands (bounded by the parser's nesting) by recursion. */
static uint32_t index_set(const Cond *c, uint32_t f_code)
{
    size_t n = 0;
    for (const Cond *x = c; x->kind == C_AND; x = x->a) n++;
    const Cond **spine = xmalloc(n * sizeof *spine);
    n = 0;
    for (; c->kind == C_AND; c = c->a) spine[n++] = c;
    uint32_t found =
        (c->kind == C_INSET || c->kind == C_ANYSET) && c->field == f_code ? c->set : PIDX_NONE;
    while (found == PIDX_NONE && n > 0) found = index_set(spine[--n]->b, f_code);
    free(spine);
    return found;
}

static const Node *once(Sema *s, const Node *prev, const Node *cl, const char *what)
{
    if (prev) {
        pcr_diag *g = diag_error(s->d, "E403", cl->loc, "`%s` is given twice", what);
        diag_related(s->d, g, prev->loc, "first given here");
        return prev;
    }
    return cl;
}

static const char *const *strings_of(Sema *s, const Node *list, uint32_t *n)
{
    size_t cnt = ast_list_len(list), k = 0;
    const char **v = arena_alloc(s->arena, cnt * sizeof *v);
    for (const Node *x = list; x; x = x->next) {
        if (x->kind != N_STRING) continue;
        if (!*x->str) {
            diag_error(s->d, "E408", x->loc, "a reviewer name cannot be empty");
            continue;
        }
        v[k++] = x->str;
    }
    *n = (uint32_t)k;
    return v;
}

static void check_rule(Sema *s, uint32_t ri, uint32_t f_code)
{
    SRule *r = &s->m.rules[ri];
    const Node *rn = s->rule_nodes[ri];
    r->title = rn->str ? rn->str : "";
    r->eff_from = DATE_OPEN_FROM;
    r->eff_through = DATE_OPEN_THROUGH;
    r->index_set = PIDX_NONE;
    const Node *when = NULL, *outcome = NULL, *eff = NULL, *rev = NULL, *dl = NULL;
    size_t nunless = 0, ncites = 0;
    for (const Node *c = rn->a; c; c = c->next) {
        if (c->kind == N_CLAUSE && c->op == CL_UNLESS) nunless++;
        if (c->kind == N_CLAUSE && c->op == CL_CITE) ncites++;
    }
    r->unless = arena_alloc(s->arena, nunless * sizeof *r->unless);
    r->cite_docs = arena_alloc(s->arena, ncites * sizeof *r->cite_docs);
    r->cite_sections = arena_alloc(s->arena, ncites * sizeof *r->cite_sections);
    bool cond_ok = true;
    const SRemoved *removed_target = NULL; /* the first `exempt` target removed */
    Loc removed_at = {0};
    for (const Node *c = rn->a; c; c = c->next) {
        if (c->kind != N_CLAUSE) continue;
        switch (c->op) {
        case CL_WHEN:
            if (when) {
                pcr_diag *g = diag_error(s->d, "E401", c->loc, "rule `%s` has two `when` clauses",
                                         r->id);
                diag_related(s->d, g, when->loc, "the first `when` is here");
                break;
            }
            when = c;
            r->when = sema_cond(s, c->a, r->id);
            cond_ok &= r->when != NULL;
            break;
        case CL_UNLESS: {
            Cond *u = sema_cond(s, c->a, r->id);
            cond_ok &= u != NULL;
            if (u) r->unless[r->nunless++] = u;
            break;
        }
        case CL_REQUIRE:
        case CL_EXEMPT:
            if (outcome) {
                pcr_diag *g = diag_error(s->d, "E402", c->loc,
                                         "rule `%s` has more than one `require` or `exempt`",
                                         r->id);
                diag_related(s->d, g, outcome->loc, "the first is here");
                break;
            }
            outcome = c;
            if (c->op == CL_REQUIRE) {
                r->outcome = (uint8_t)c->ival;
                break;
            }
            r->outcome = OUT_EXEMPT;
            if (c->flags & FL_ALL) {
                r->exempt_all = 1;
                break;
            }
            r->waives = arena_alloc(s->arena, (ast_list_len(c->a) + 1) * sizeof *r->waives);
            removed_target = NULL;
            for (const Node *t = c->a; t; t = t->next) {
                if (t->kind != N_NAME) continue;
                Sym *y = sema_lookup_rule(s, t->name);
                /* A rule the policy removed is no longer waived; a waiver
                 * left with nothing to waive is an error (below). */
                const SRemoved *gone = y ? NULL : sema_removed(s, t->name);
                if (gone && !removed_target) {
                    removed_target = gone;
                    removed_at = t->loc;
                }
                if (gone) continue;
                if (!y) sema_unknown(s, t->loc, "rule", t->name, SYM_RULE);
                else if (y->index == ri)
                    diag_error(s->d, "E409", t->loc, "rule `%s` cannot exempt itself", r->id);
                else r->waives[r->nwaives++] = y->index;
            }
            if (removed_target && r->nwaives == 0) {
                pcr_diag *g = diag_error(s->d, "E128", removed_at,
                                         "rule `%s` waives only rules that `%s` removes; remove "
                                         "or replace `%s` too",
                                         r->id, removed_target->by, r->id);
                diag_related(s->d, g, removed_target->loc, "`%s` is removed here",
                             removed_target->id);
            }
            break;
        case CL_CITE:
            /* A rule may cite several places (the list and a notice that
             * amends it); each is kept, in source order. */
            if (!c->a || c->a->kind != N_STRING) break;
            r->cite_docs[r->ncites] = c->a->str;
            r->cite_sections[r->ncites++] = c->b && c->b->kind == N_STRING ? c->b->str : NULL;
            break;
        case CL_EFFECTIVE:
            if ((eff = once(s, eff, c, "effective")) != c) break;
            sema_effective(s, c->a, &r->eff_from, &r->eff_through);
            break;
        case CL_REVIEWER:
            if ((rev = once(s, rev, c, "reviewer")) != c) break;
            r->reviewers = (const char **)strings_of(s, c->a, &r->nreviewers);
            break;
        case CL_DEADLINE:
            if ((dl = once(s, dl, c, "deadline")) != c) break;
            if (!c->a || c->a->kind != N_DURATION) break;
            if (c->a->ival < 0 || c->a->ival > 10000) {
                diag_error(s->d, "E404", c->a->loc,
                           "a deadline is 0 to 10000 units; %" PRId64 " is out of range",
                           c->a->ival);
                break;
            }
            r->dl_amount = (int32_t)c->a->ival;
            r->dl_unit = (uint8_t)c->a->op;
            r->dl_dir = (uint8_t)c->ival;
            break;
        default:
            break;
        }
    }
    bool cut = (rn->flags & FL_CUT) != 0; /* its error says enough */
    if (!when && !cut) diag_error(s->d, "E401", rn->loc, "rule `%s` has no `when` clause", r->id);
    if (!outcome && !cut)
        diag_error(s->d, "E402", rn->loc,
                   "rule `%s` needs a `require` (prior_auth, notification, not_covered) or an "
                   "`exempt`",
                   r->id);
    if (cond_ok && r->when && f_code != PIDX_NONE) r->index_set = index_set(r->when, f_code);
}

/* ---- the driver --------------------------------------------------------- */

/* The field the rule index is keyed on: of the code fields and lists of
 * codes, the one that indexes the most rules (index_set), `code` on a tie
 * and when none indexes any; PIDX_NONE when the schema has no such field. */
static uint32_t index_field(Sema *s)
{
    uint32_t best = sema_field(s, "code"), most = 0;
    if (best != PIDX_NONE && s->m.fields[best].type != VT_CODE) best = PIDX_NONE;
    if (best != PIDX_NONE)
        for (uint32_t i = 0; i < s->m.nrules; i++)
            most += s->m.rules[i].when && index_set(s->m.rules[i].when, best) != PIDX_NONE;
    for (uint32_t f = 0; f < s->m.nfields; f++) {
        const SField *fd = &s->m.fields[f];
        if (f == best || !(fd->type == VT_CODE || (fd->type == VT_LIST && fd->elem == VT_CODE)))
            continue;
        uint32_t n = 0;
        for (uint32_t i = 0; i < s->m.nrules; i++)
            n += s->m.rules[i].when && index_set(s->m.rules[i].when, f) != PIDX_NONE;
        if (n > most || best == PIDX_NONE) best = f, most = n;
    }
    return best;
}

bool sema_run(Sema *s, const SemFile *files, uint32_t n)
{
    size_t errors_before = s->d->nerrors;
    uint32_t fieldcap = 0;
    const SemFile *root = NULL;
    for (uint32_t i = 0; i < n; i++)
        if (files[i].root) root = &files[i];
    declare_all(s, files, n, &fieldcap);
    sema_inherit_rules(s, files, n);
    if (!s->policy && root)
        diag_error(s->d, "E120", (Loc){root->file, 1, 1, 1, 1},
                   "this file declares no `policy`");
    check_schema(s);
    check_header(s);
    sema_sets_build(s);
    for (uint32_t i = 0; i < s->m.nrules; i++) check_rule(s, i, PIDX_NONE);
    uint32_t f_code = index_field(s);
    s->m.index_field = f_code;
    if (f_code != PIDX_NONE && s->d->nerrors == errors_before)
        for (uint32_t i = 0; i < s->m.nrules; i++)
            if (s->m.rules[i].when) s->m.rules[i].index_set = index_set(s->m.rules[i].when, f_code);
    if (root) sema_tests(s, root->decls);
    return s->d->nerrors == errors_before;
}
