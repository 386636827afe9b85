/* sema_inherit.c: the rules of a policy that extends a base list
 * (docs/language.md, "Extending a base list").
 *
 * compile.c loads the chain of policies (`policy x extends a`, and `a`'s own
 * base, ...) and marks each base's file; the files arrive here in
 * dependency order, so the deepest base comes first and the root last. The
 * merge walks them in that order over one working list of rules:
 *   - a policy's own `rule` is appended; one whose id is a rule it
 *     inherits is E127 (it must say `replace rule` or `remove rule`);
 *   - `replace rule ID` puts its rule in the place of the inherited one
 *     (the order of the base is kept, so the merged policy decides like a
 *     hand-merged copy of the base with the rule edited in place);
 *   - `remove rule ID "why"` takes the inherited rule out and keeps the
 *     removal, with its reason, for `pcrc list`.
 * Naming a rule that is not inherited (E128, with a did-you-mean), or
 * changing a rule written in the same file, is an error. The surviving
 * rules are then declared in the list's order, each with where it comes
 * from (SRule.from, SRule.how). */
#include "sema.h"

#include <stdlib.h>
#include <string.h>

#include "ast.h"

/* One rule of the working list. */
typedef struct Entry {
    const Node *rule;   /* the N_RULE now in force */
    const char *from;   /* id of the policy that wrote `rule` */
    const char *was;    /* after a `replace rule`: id of the policy whose rule it replaced */
    uint32_t level;     /* the policy (index into Merge.pols) that wrote `rule` */
    uint8_t how;        /* RULE_OWN (of pols[level]), RULE_INHERITED, RULE_REPLACED */
    int32_t removed;    /* index into s->m.removed, or -1 */
} Entry;

/* A policy of the chain: its file's declarations and its header. */
typedef struct Pol {
    const SemFile *f;
    const Node *decl;   /* its N_POLICY, or NULL when the file has none */
    const char *id;     /* its policy id ("" when it has none) */
} Pol;

typedef struct Merge {
    Sema *s;
    Pol *pols;
    uint32_t npols;
    Entry *v;           /* the working list */
    uint32_t n, cap;
    int32_t *slots;     /* open addressing: index into v, or -1 */
    uint32_t nslots;    /* a power of two, at least twice n */
    uint32_t removedcap;
} Merge;

static uint32_t str_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot of rule id in the working list's table: one holding it, or the
 * empty slot where it would go. */
static uint32_t slot_of(const Merge *M, const char *id)
{
    uint32_t i = str_hash(id) & (M->nslots - 1);
    while (M->slots[i] >= 0 && strcmp(M->v[M->slots[i]].rule->name, id) != 0)
        i = (i + 1) & (M->nslots - 1);
    return i;
}

static Entry *find(const Merge *M, const char *id)
{
    if (!M->nslots) return NULL;
    int32_t k = M->slots[slot_of(M, id)];
    return k >= 0 ? &M->v[k] : NULL;
}

static void grow_table(Merge *M)
{
    if ((M->n + 1) * 2 <= M->nslots) return;
    free(M->slots);
    M->nslots = M->nslots ? M->nslots * 2 : 64;
    M->slots = xmalloc(M->nslots * sizeof *M->slots);
    for (uint32_t i = 0; i < M->nslots; i++) M->slots[i] = -1;
    for (uint32_t k = 0; k < M->n; k++) M->slots[slot_of(M, M->v[k].rule->name)] = (int32_t)k;
}

static void append(Merge *M, const Node *rule, uint32_t level)
{
    grow_table(M);
    sema_reserve((void **)&M->v, &M->cap, M->n + 1, sizeof *M->v);
    M->v[M->n] = (Entry){.rule = rule, .from = M->pols[level].id, .level = level,
                         .how = RULE_OWN, .removed = -1};
    M->slots[slot_of(M, rule->name)] = (int32_t)M->n;
    M->n++;
}

/* "did you mean" among the rules pols[level] inherits (still in force). */
static const char *nearest_inherited(const Merge *M, const char *id, uint32_t level)
{
    const char **names = xmalloc((M->n + 1) * sizeof *names);
    size_t k = 0;
    for (uint32_t i = 0; i < M->n; i++)
        if (M->v[i].removed < 0 && M->v[i].level < level) names[k++] = M->v[i].rule->name;
    const char *near = diag_nearest(id, names, k);
    free(names);
    return near;
}

/* Checks that `d` (a `replace rule` or `remove rule` of pols[level]) names
 * a rule that policy inherits; returns its entry, or NULL (reported). */
static Entry *target(Merge *M, const Node *d, uint32_t level, const char *verb)
{
    Sema *s = M->s;
    const Pol *P = &M->pols[level];
    if (!P->decl) return NULL; /* no header: E120 or its syntax error says so */
    if (!P->decl->b) {
        diag_error(s->d, "E128", d->loc,
                   "`%s rule` changes an inherited rule, but policy `%s` extends no base "
                   "(write `policy %s extends BASE`)",
                   verb, P->id, P->id);
        return NULL;
    }
    Entry *e = find(M, d->name);
    if (e && e->level == level) {
        bool changed = e->removed >= 0 || e->how == RULE_REPLACED;
        pcr_diag *g;
        if (changed)
            g = diag_error(s->d, "E128", d->loc, "rule `%s` is already %s in this file", d->name,
                           e->removed >= 0 ? "removed" : "replaced");
        else
            g = diag_error(s->d, "E128", d->loc,
                           "rule `%s` is written in this file, not inherited; edit it instead",
                           d->name);
        const Loc at = e->removed >= 0 ? s->m.removed[e->removed].loc : e->rule->loc;
        diag_related(s->d, g, at, changed ? "first here" : "rule `%s` is here", d->name);
        return NULL;
    }
    if (e && e->removed >= 0) {
        pcr_diag *g = diag_error(s->d, "E128", d->loc,
                                 "rule `%s` cannot be %sd: base `%s` removes it", d->name, verb,
                                 s->m.removed[e->removed].by);
        diag_related(s->d, g, s->m.removed[e->removed].loc, "removed here");
        return NULL;
    }
    if (!e) {
        if (s->failed_base) {
            s->unreported++;
            return NULL;
        }
        const char *near = nearest_inherited(M, d->name, level);
        if (near)
            diag_error(s->d, "E128", d->loc,
                       "cannot %s rule `%s`: `%s` inherits no rule of that id; did you mean "
                       "`%s`?",
                       verb, d->name, P->id, near);
        else
            diag_error(s->d, "E128", d->loc,
                       "cannot %s rule `%s`: `%s` inherits no rule of that id", verb, d->name,
                       P->id);
        return NULL;
    }
    return e;
}

static void remove_rule(Merge *M, const Node *d, uint32_t level)
{
    Entry *e = target(M, d, level, "remove");
    if (!e) return;
    Sema *s = M->s;
    sema_reserve((void **)&s->m.removed, &M->removedcap, s->m.nremoved + 1,
                 sizeof *s->m.removed);
    s->m.removed[s->m.nremoved] = (SRemoved){.id = d->name, .why = d->str ? d->str : "",
                                             .from = e->from, .by = M->pols[level].id,
                                             .loc = d->loc, .rule = e->rule};
    e->removed = (int32_t)s->m.nremoved++;
    e->level = level;
}

static void replace_rule(Merge *M, const Node *d, uint32_t level)
{
    Entry *e = target(M, d, level, "replace");
    if (!e) return;
    e->was = e->from;
    e->from = M->pols[level].id;
    e->rule = d;
    e->level = level;
    e->how = RULE_REPLACED;
}

static void own_rule(Merge *M, const Node *d, uint32_t level)
{
    Sema *s = M->s;
    Entry *e = find(M, d->name);
    if (!e || e->removed >= 0) {
        /* An id that was removed may be used again by a new rule; it is
         * then a rule of this policy's own, listed with the others. */
        if (!e) {
            append(M, d, level);
            return;
        }
        *e = (Entry){.rule = d, .from = M->pols[level].id, .level = level, .how = RULE_OWN,
                     .removed = -1};
        return;
    }
    if (e->level == level) { /* twice in one file: the ordinary clash */
        pcr_diag *g = diag_error(s->d, "E110", d->loc, "`%s` is already defined (as a rule)",
                                 d->name);
        diag_related(s->d, g, e->rule->loc, "`%s` is first defined here", d->name);
        return;
    }
    pcr_diag *g = diag_error(s->d, "E127", d->loc,
                             "rule `%s` is inherited from `%s`; write `replace rule %s` to "
                             "redefine it, or use another id",
                             d->name, e->from, d->name);
    diag_related(s->d, g, e->rule->loc, "the inherited rule `%s` is here", d->name);
}

/* Collects the policies of the chain (the base files and the root, in
 * dependency order) and checks that each base is a policy with an id of
 * its own. */
static void collect(Merge *M, const SemFile *files, uint32_t n)
{
    Sema *s = M->s;
    M->pols = xmalloc((n + 1) * sizeof *M->pols);
    for (uint32_t i = 0; i < n; i++) {
        if (!files[i].root && !files[i].base) continue;
        const Node *decl = NULL;
        for (const Node *d = files[i].decls; d && !decl; d = d->next)
            if (d->kind == N_POLICY) decl = d;
        if (files[i].root) decl = s->policy;
        M->pols[M->npols++] = (Pol){.f = &files[i], .decl = decl,
                                    .id = decl && decl->name ? decl->name : ""};
    }
    /* Each policy's base is the one loaded just before it: single
     * inheritance and depth-first loading put the chain in order. */
    s->bases = arena_alloc(s->arena, (M->npols + 1) * sizeof *s->bases);
    for (uint32_t i = M->npols; i-- > 1;) {
        const Pol *P = &M->pols[i - 1];
        if (!P->decl) {
            const Node *ext = M->pols[i].decl ? M->pols[i].decl->b : NULL;
            if (ext)
                diag_error(s->d, "E129", ext->loc,
                           "`%s` is not a policy: a base declares a `policy` header with its "
                           "rules (%s declares none)",
                           ext->name, pcr_diags_file(s->d, P->f->file));
            continue;
        }
        s->bases[s->nbases++] = P->decl;
    }
    if (s->policy && s->policy->b && M->npols > 1 && M->pols[M->npols - 2].decl)
        s->m.base = M->pols[M->npols - 2].id;
    for (uint32_t j = 0; j < s->nbases && s->policy; j++) {
        if (!s->policy->name || strcmp(s->bases[j]->name ? s->bases[j]->name : "",
                                       s->policy->name) != 0)
            continue;
        pcr_diag *g = diag_error(s->d, "E129", s->policy->loc,
                                 "policy `%s` has the id of its base: an extending policy "
                                 "needs an id of its own (decisions name the policy by it)",
                                 s->policy->name);
        diag_related(s->d, g, s->bases[j]->loc, "the base `%s` is here", s->bases[j]->name);
    }
}

void sema_inherit_rules(Sema *s, const SemFile *files, uint32_t n)
{
    Merge M = {.s = s};
    collect(&M, files, n);
    for (uint32_t level = 0; level < M.npols; level++) {
        for (const Node *d = M.pols[level].f->decls; d; d = d->next) {
            if (d->kind == N_REMOVE && d->name) remove_rule(&M, d, level);
            else if (d->kind == N_RULE && d->name && (d->flags & FL_REPLACE))
                replace_rule(&M, d, level);
            else if (d->kind == N_RULE && d->name) own_rule(&M, d, level);
        }
    }
    uint32_t root = M.npols ? M.npols - 1 : 0;
    for (uint32_t i = 0; i < M.n; i++) {
        const Entry *e = &M.v[i];
        if (e->removed >= 0 || !sema_add_rule(s, e->rule)) continue;
        SRule *r = &s->m.rules[s->m.nrules - 1];
        if (e->level == root && e->how == RULE_OWN) continue;
        r->from = e->level == root ? e->was : e->from;
        r->how = e->level == root ? RULE_REPLACED : RULE_INHERITED;
    }
    /* The removals outlive the checker (pcrc list shows them). */
    SRemoved *kept = arena_alloc(s->arena, (s->m.nremoved + 1) * sizeof *kept);
    if (s->m.nremoved) memcpy(kept, s->m.removed, s->m.nremoved * sizeof *kept);
    free(s->m.removed);
    s->m.removed = kept;
    free(M.pols);
    free(M.v);
    free(M.slots);
}

const SRemoved *sema_removed(const Sema *s, const char *id)
{
    for (uint32_t i = 0; i < s->m.nremoved; i++)
        if (strcmp(s->m.removed[i].id, id) == 0) return &s->m.removed[i];
    return NULL;
}

const Merged *sema_merged(const Sema *s)
{
    Merged *g = arena_alloc(s->arena, sizeof *g);
    uint32_t n = s->m.nrules;
    g->rules = arena_alloc(s->arena, (n + 1) * sizeof *g->rules);
    g->from = arena_alloc(s->arena, (n + 1) * sizeof *g->from);
    g->how = arena_alloc(s->arena, n + 1);
    g->file = arena_alloc(s->arena, (n + 1) * sizeof *g->file);
    for (uint32_t i = 0; i < n; i++) {
        g->rules[i] = s->rule_nodes[i];
        g->from[i] = s->m.rules[i].from;
        g->how[i] = s->m.rules[i].how;
        const char *path = pcr_diags_file(s->d, s->rule_nodes[i]->loc.file);
        size_t len = path ? strlen(path) : 0;
        char *copy = arena_alloc(s->arena, len + 1);
        if (len) memcpy(copy, path, len);
        copy[len] = '\0';
        g->file[i] = copy;
    }
    g->nrules = n;
    g->removed = s->m.removed;
    g->nremoved = s->m.nremoved;
    g->bases = s->bases;
    g->nbases = s->nbases;
    g->base = s->m.base;
    return g;
}
