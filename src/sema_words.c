/* sema_words.c: a schema field's wording (docs/language.md, "Field wording").
 *
 *   stay_hours: int "the expected length of stay", unit "hours"
 *
 * The string after a field's type (and default) is its noun; each `key
 * "words"` after it says how one reading of the field is put: a bool's
 * `true` and `false` sentences, a list's `any` and `none` phrases, an
 * int's `unit`, an enum member's words. A key that does not fit the type,
 * or one given twice, is E137: wording the listing would never use is a
 * mistake worth saying. */
#include <string.h>

#include "ast.h"
#include "sema.h"

/* Where the words for key go in f's text, or NULL when the key does not
 * fit f's type. */
static const char **slot(Sema *s, SField *f, const char *key)
{
    if (f->type == VT_BOOL && strcmp(key, "true") == 0) return &f->text.yes;
    if (f->type == VT_BOOL && strcmp(key, "false") == 0) return &f->text.no;
    if (f->type == VT_LIST && strcmp(key, "any") == 0) return &f->text.some;
    if (f->type == VT_LIST && strcmp(key, "none") == 0) return &f->text.none;
    if (f->type == VT_INT && strcmp(key, "unit") == 0) return &f->text.unit;
    if (f->type == VT_ENUM) {
        int32_t m = sema_member(f, key);
        if (m < 0) return NULL;
        if (!f->text.members) {
            f->text.members = arena_alloc(s->arena, f->nmembers * sizeof *f->text.members);
            memset(f->text.members, 0, f->nmembers * sizeof *f->text.members);
        }
        return &f->text.members[m];
    }
    return NULL;
}

/* What the keys of a field of f's type are, for the message. */
static const char *keys_of(const SField *f)
{
    switch (f->type) {
    case VT_BOOL: return "`true` and `false`";
    case VT_LIST: return "`any` and `none`";
    case VT_INT: return "`unit`";
    case VT_ENUM: return "its members";
    default: return "none";
    }
}

void sema_field_words(Sema *s, uint32_t fi, const struct Node *fn)
{
    SField *f = &s->m.fields[fi];
    f->text.noun = fn->str;
    for (const Node *w = fn->a ? fn->a->next : NULL; w; w = w->next) {
        if (w->kind != N_WORDING || !w->name) continue;
        const char **at = slot(s, f, w->name);
        if (!at) {
            diag_error(s->d, "E137", w->loc,
                       "`%s` is not wording for field `%s` (%s): its keys are %s", w->name,
                       f->name, sema_type_name(s, fi), keys_of(f));
        } else if (*at) {
            diag_error(s->d, "E137", w->loc, "wording `%s` of field `%s` is given twice",
                       w->name, f->name);
        } else {
            *at = w->str;
        }
    }
}
