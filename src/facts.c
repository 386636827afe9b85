/* facts.c: the checker's results kept for the analyst's tools (facts.h). */
#include "facts.h"

#include <string.h>

const Facts *facts_keep(const Sema *s, Arena *a)
{
    const Model *m = &s->m;
    Facts *f = arena_alloc(a, sizeof *f);
    FieldText *fields = arena_alloc(a, (m->nfields + 1) * sizeof *fields);
    for (uint32_t i = 0; i < m->nfields; i++) fields[i] = m->fields[i].text;
    FactSet *sets = arena_alloc(a, (m->nsets + 1) * sizeof *sets);
    for (uint32_t i = 0; i < m->nsets; i++) {
        const SSet *x = &m->sets[i];
        const Node *d = x->decl;
        sets[i] = (FactSet){.name = x->name,
                            .title = d && d->kind == N_CODESET ? d->str : NULL,
                            .decl = d,
                            .from = x->eff_from,
                            .through = x->eff_through,
                            .pset = x->pset};
    }
    FactRule *rules = arena_alloc(a, (m->nrules + 1) * sizeof *rules);
    for (uint32_t i = 0; i < m->nrules; i++) {
        const SRule *r = &m->rules[i];
        rules[i] = (FactRule){.node = s->rule_nodes[i],
                              .id = r->id,
                              .title = r->title,
                              .doc = r->ncites ? r->cite_docs[0] : NULL,
                              .section = r->ncites ? r->cite_sections[0] : NULL,
                              .from = r->eff_from,
                              .through = r->eff_through,
                              .outcome = r->outcome};
    }
    *f = (Facts){.fields = fields, .nfields = m->nfields, .sets = sets, .nsets = m->nsets,
                 .rules = rules, .nrules = m->nrules};
    return f;
}

const FactSet *facts_set(const Facts *f, const Node *ref)
{
    if (!f || !ref) return NULL;
    for (uint32_t i = 0; i < f->nsets; i++) {
        const FactSet *x = &f->sets[i];
        if (ref->kind == N_SET_LIT ? x->decl == ref
                                   : ref->kind == N_NAME && ref->name && x->decl &&
                                         x->decl->kind == N_CODESET &&
                                         strcmp(x->name, ref->name) == 0)
            return x;
    }
    return NULL;
}
