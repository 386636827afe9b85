/* lint_sets.c: W609, items of one code set literal that repeat codes
 * another item of it already lists: a duplicate, an item inside an earlier
 * range or prefix (shadowed), or two items that overlap. The set means the
 * same either way; the repetition usually hides a typo or a stale edit. */
#include "lint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"

typedef struct Item {
    const Node *n;
    CodeSet codes; /* normalized */
} Item;

/* The codes of one item (code, range or prefix) of system sys; false when
 * it cannot be built (the checker has reported why). */
static bool item_codes(CodeSystem sys, const Node *c, CodeSet *out)
{
    char lo[CODE_MAX_CHARS + 1], hi[CODE_MAX_CHARS + 1];
    size_t nlo, nhi;
    const char *why;
    switch (c->kind) {
    case N_CODE:
        if (!c->str || !code_normalize(sys, c->str, strlen(c->str), lo, &nlo, &why)) return false;
        code_set_add(out, code_key(sys, lo, nlo), code_key(sys, lo, nlo));
        break;
    case N_CODE_RANGE:
        if (!c->a || !c->b || !c->a->str || !c->b->str ||
            !code_normalize(sys, c->a->str, strlen(c->a->str), lo, &nlo, &why) ||
            !code_normalize(sys, c->b->str, strlen(c->b->str), hi, &nhi, &why) || nlo != nhi)
            return false;
        if (!code_set_add_range(out, code_key(sys, lo, nlo), code_key(sys, hi, nhi), PCR_MAX_SET_RANGES))
            return false;
        break;
    case N_CODE_PREFIX: {
        size_t n = c->str ? strlen(c->str) : 0;
        if (n && c->str[n - 1] == '*') n--;
        if (n && c->str[n - 1] == '.') n--;
        if (sys != SYS_ICD10 || !code_normalize(sys, c->str, n, lo, &nlo, &why)) return false;
        code_set_add_prefix(out, sys, lo, nlo);
        break;
    }
    default: return false;
    }
    code_set_normalize(out);
    return true;
}

static bool set_empty_diff(const CodeSet *a, const CodeSet *b)
{
    CodeSet d = {0};
    code_set_diff(&d, a, b);
    bool empty = d.n == 0;
    code_set_free(&d);
    return empty;
}

/* The first code in a ∩ b into buf ("" when none). */
static void first_common(const CodeSet *a, const CodeSet *b, char *buf)
{
    CodeSet amb = {0}, both = {0};
    code_set_diff(&amb, a, b);
    code_set_diff(&both, a, &amb);
    buf[0] = '\0';
    for (size_t i = 0; i < both.n && !buf[0]; i++) {
        bool ok;
        CodeKey k = both.r[i].lo;
        char t[CODE_MAX_CHARS + 1];
        code_key_format(k, t);
        if (strchr(t, '?')) {
            k = code_key_next(k, &ok);
            if (!ok || k > both.r[i].hi) continue;
            code_key_format(k, t);
        }
        snprintf(buf, 32, "%s %s", code_system_name(code_key_system(k)), t);
    }
    code_set_free(&amb);
    code_set_free(&both);
}

static const char *item_words(const Node *n)
{
    switch (n->kind) {
    case N_CODE_RANGE: return "range";
    case N_CODE_PREFIX: return "prefix";
    default: return "code";
    }
}

static void lint_literal(const Sema *s, const Node *lit)
{
    Item *v = NULL;
    uint32_t n = 0, cap = 0;
    for (const Node *g = lit->a; g; g = g->next) {
        if (g->kind != N_CODE_GROUP || !g->name) continue;
        CodeSystem sys = code_system_from_name(g->name, strlen(g->name));
        if (sys == SYS_NONE) continue;
        for (const Node *c = g->a; c; c = c->next) {
            Item it = {c, {0}};
            if (!item_codes(sys, c, &it.codes)) {
                code_set_free(&it.codes);
                continue;
            }
            uint32_t k = 0;
            for (; k < n; k++) {
                CodeSet dummy = {0};
                code_set_diff(&dummy, &it.codes, &v[k].codes);
                bool meets = !set_empty_diff(&it.codes, &dummy); /* it ∩ o = it − (it − o) */
                code_set_free(&dummy);
                if (meets) break;
            }
            if (k < n && !lint_allowed(s->d, c->loc, "W609")) {
                const Item *o = &v[k];
                char code[32];
                first_common(&it.codes, &o->codes, code);
                bool inside = set_empty_diff(&it.codes, &o->codes);
                bool covers = set_empty_diff(&o->codes, &it.codes);
                bool same = inside && covers;
                const char *how = same     ? "repeats"
                                  : inside ? "is already covered by"
                                  : covers ? "takes in"
                                           : "overlaps";
                pcr_diag *gd = diag_report(s->d, PCR_SEV_WARNING, "W609", c->loc,
                                           "this %s %s the %s at line %u%s", item_words(c), how,
                                           item_words(o->n), o->n->loc.line,
                                           inside && o->n->kind == N_CODE_PREFIX ? " (shadowed by the prefix)" : "");
                diag_related(s->d, gd, o->n->loc, "the earlier %s is here", item_words(o->n));
                diag_report(s->d, PCR_SEV_NOTE, "W609", c->loc, "both hold %s", code);
            }
            sema_reserve((void **)&v, &cap, n + 1, sizeof *v);
            v[n++] = it;
        }
    }
    for (uint32_t i = 0; i < n; i++) code_set_free(&v[i].codes);
    free(v);
}

/* Every set literal in the set expression e. */
static void walk(const Sema *s, const Node *e)
{
    if (!e) return;
    if (e->kind == N_SET_LIT) lint_literal(s, e);
    else if (e->kind == N_SETOP) {
        walk(s, e->a);
        walk(s, e->b);
    }
}

void lint_sets(const Sema *s)
{
    for (uint32_t i = 0; i < s->m.nsets; i++) {
        const SSet *set = &s->m.sets[i];
        if (set->bad || !set->decl) continue;
        walk(s, set->decl->kind == N_CODESET ? set->decl->a : set->decl);
    }
}
