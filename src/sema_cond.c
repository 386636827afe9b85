/* sema_cond.c: type checking of conditions into Cond trees.
 *
 * Comparisons need operands of one type: an enum with its own members
 * (bare names or strings), money with money or number literals (at most two
 * decimals), a datetime with datetimes or dates, and otherwise like with
 * like. Strings, enums, codes and bools are unordered (E204). `in` tests a
 * code field against a code set, an enum or string field against a list of
 * values, and `any in` a list field. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "buf.h"
#include "dates.h"
#include "sema.h"

static Cond *mk(Sema *s, CondKind k)
{
    Cond *c = arena_alloc(s->arena, sizeof *c);
    c->kind = k;
    return c;
}

static Cond *mk2(Sema *s, CondKind k, Cond *a, Cond *b)
{
    Cond *c = mk(s, k);
    c->a = a;
    c->b = b;
    return c;
}

static Cond *mk_field(Sema *s, CondKind k, uint32_t field)
{
    Cond *c = mk(s, k);
    c->field = field;
    return c;
}

/* ---- operands and their descriptions -------------------------------- */

/* The type of a literal, as users read it. */
static const char *lit_type(const Node *n)
{
    switch (n->kind) {
    case N_INT: return "int";
    case N_DECIMAL: return "decimal";
    case N_MONEY: return "money";
    case N_STRING: return "string";
    case N_DATE: return "date";
    case N_DATETIME: return "datetime";
    case N_BOOL: return "bool";
    case N_DURATION: return "duration";
    case N_SET_LIT: return "code set";
    case N_VALUE_LIST: return "value list";
    case N_LIST_LIT: return "list";
    default: return "expression";
    }
}

/* A literal or name as written, for messages (arena string). */
static const char *text_of(Sema *s, const Node *n)
{
    Buf b = {0};
    switch (n->kind) {
    case N_NAME: buf_puts(&b, n->name ? n->name : ""); break;
    case N_STRING: buf_printf(&b, "\"%s\"", n->str ? n->str : ""); break;
    case N_DATE: {
        char t[16];
        date_format((int32_t)n->ival, t);
        buf_puts(&b, t);
        break;
    }
    case N_DATETIME: {
        char t[24];
        datetime_format(n->ival, t);
        buf_puts(&b, t);
        break;
    }
    case N_BOOL: buf_puts(&b, n->ival ? "true" : "false"); break;
    case N_INT:
        if (n->str) buf_puts(&b, n->str);
        else buf_printf(&b, "%" PRId64, n->ival);
        break;
    case N_DURATION:
        buf_printf(&b, "%" PRId64 " %s", n->ival,
                   n->op == U_HOURS ? "hours" : n->op == U_DAYS ? "days" : "business_days");
        break;
    default: buf_puts(&b, n->str ? n->str : lit_type(n)); break;
    }
    const char *r = arena_strndup(s->arena, b.p ? b.p : "", b.n);
    buf_free(&b);
    return r;
}

/* "`price` (money)" or "`$100` (money)". */
static const char *describe(Sema *s, const Node *n, uint32_t field)
{
    Buf b = {0};
    if (field != PIDX_NONE) buf_printf(&b, "`%s` (%s)", s->m.fields[field].name,
                                       sema_type_name(s, field));
    else buf_printf(&b, "`%s` (%s)", text_of(s, n), lit_type(n));
    const char *r = arena_strndup(s->arena, b.p, b.n);
    buf_free(&b);
    return r;
}

static void mismatch(Sema *s, Loc at, const Node *l, uint32_t lf, const Node *r, uint32_t rf)
{
    diag_error(s->d, "E203", at, "type mismatch: cannot compare %s with %s", describe(s, l, lf),
               describe(s, r, rf));
}

/* A field operand. */
static Operand fld(uint32_t f) { return (Operand){.is_field = true, .field = f}; }
static Operand konst(int64_t k) { return (Operand){.k = k}; }

/* The integer value of literal o compared with field f; false if o does
 * not have f's type. Enum members as strings are resolved here (E202). */
static bool lit_value(Sema *s, uint32_t f, const Node *o, int64_t *out, bool *reported)
{
    const SField *fd = &s->m.fields[f];
    switch (fd->type) {
    case VT_INT: *out = o->ival; return o->kind == N_INT;
    case VT_MONEY:
        if (o->kind == N_DECIMAL && !sema_money(o, out)) {
            diag_error(s->d, "E203", o->loc,
                       "type mismatch: `%s` is money, exact to the cent; `%s` has more than two "
                       "decimal places",
                       fd->name, text_of(s, o));
            *reported = true;
            return false;
        }
        return sema_money(o, out);
    case VT_DATE: *out = o->ival; return o->kind == N_DATE;
    case VT_DATETIME:
        *out = o->kind == N_DATE ? o->ival * SECONDS_PER_DAY : o->ival;
        return o->kind == N_DATE || o->kind == N_DATETIME;
    case VT_ENUM: {
        if (o->kind != N_STRING && o->kind != N_NAME) return false;
        const char *name = o->kind == N_STRING ? o->str : o->name;
        int32_t k = sema_member(fd, name);
        if (k < 0) {
            sema_unknown_member(s, o->loc, f, name);
            *reported = true;
            return false;
        }
        *out = k;
        return true;
    }
    case VT_BOOL: *out = o->ival; return o->kind == N_BOOL;
    default: return false;
    }
}

/* `a == b` on bools, three-valued: (a and b) or (not a and not b). */
static Cond *bool_eq(Sema *s, Cond *a, Cond *b)
{
    Cond *both = mk2(s, C_AND, a, b);
    Cond *neither = mk2(s, C_AND, mk2(s, C_NOT, a, NULL), mk2(s, C_NOT, b, NULL));
    return mk2(s, C_OR, both, neither);
}

static Cond *negate_if(Sema *s, Cond *c, bool neg) { return neg ? mk2(s, C_NOT, c, NULL) : c; }

static const char *const op_text[] = {"==", "!=", "<", "<=", ">", ">="};

/* Two literals: folded into constants of one type. */
static Cond *compare_literals(Sema *s, const Node *n, CmpOp op)
{
    const Node *l = n->a, *r = n->b;
    bool ordering = op >= CMP_LT;
    bool lm = l->kind == N_INT || l->kind == N_DECIMAL || l->kind == N_MONEY;
    bool rm = r->kind == N_INT || r->kind == N_DECIMAL || r->kind == N_MONEY;
    Cond *c = mk(s, C_ICMP);
    c->cmp = (uint8_t)op;
    if (l->kind == r->kind && l->kind == N_INT) {
        c->x = konst(l->ival), c->y = konst(r->ival);
        return c;
    }
    if (lm && rm) {
        int64_t a, b;
        if (!sema_money(l, &a) || !sema_money(r, &b)) {
            mismatch(s, n->loc, l, PIDX_NONE, r, PIDX_NONE);
            return NULL;
        }
        c->x = konst(a), c->y = konst(b);
        return c;
    }
    if (l->kind != r->kind || l->kind == N_DURATION || !(l->kind == N_DATE ||
        l->kind == N_DATETIME || l->kind == N_STRING || l->kind == N_BOOL)) {
        mismatch(s, n->loc, l, PIDX_NONE, r, PIDX_NONE);
        return NULL;
    }
    if (ordering && (l->kind == N_STRING || l->kind == N_BOOL)) {
        diag_error(s->d, "E204", n->loc, "`%s` does not apply to %ss: only `==` and `!=` do",
                   op_text[op], lit_type(l));
        return NULL;
    }
    if (l->kind == N_STRING) {
        c->kind = C_SCMP;
        c->x.s = l->str, c->y.s = r->str;
        return c;
    }
    if (l->kind == N_BOOL) {
        bool eq = l->ival == r->ival;
        return mk(s, (eq == (op == CMP_EQ)) ? C_TRUE : C_FALSE);
    }
    c->x = konst(l->ival), c->y = konst(r->ival);
    return c;
}

static Cond *compare(Sema *s, const Node *n)
{
    const Node *l = n->a, *r = n->b;
    if (!l || !r || l->kind == N_ERROR || r->kind == N_ERROR) return NULL;
    CmpOp op = (CmpOp)(n->op - BIN_EQ);
    bool ordering = op >= CMP_LT;
    uint32_t lf = l->kind == N_NAME ? sema_field(s, l->name) : PIDX_NONE;
    uint32_t rf = r->kind == N_NAME ? sema_field(s, r->name) : PIDX_NONE;
    /* Beside an enum field, a name that is one of its members is the member,
     * even if a field has the same name. */
    if (lf != PIDX_NONE && rf != PIDX_NONE && s->m.fields[lf].type == VT_ENUM &&
        sema_member(&s->m.fields[lf], r->name) >= 0)
        rf = PIDX_NONE;
    else if (lf != PIDX_NONE && rf != PIDX_NONE && s->m.fields[rf].type == VT_ENUM &&
             sema_member(&s->m.fields[rf], l->name) >= 0)
        lf = PIDX_NONE;
    if (lf == PIDX_NONE && rf == PIDX_NONE) {
        if (l->kind == N_NAME || r->kind == N_NAME) {
            const Node *u = l->kind == N_NAME ? l : r;
            sema_unknown(s, u->loc, "field", u->name, SYM_FIELD);
            return NULL;
        }
        return compare_literals(s, n, op);
    }
    /* f: the field side (the left one if both are); o: the other side. */
    bool field_left = lf != PIDX_NONE;
    uint32_t f = field_left ? lf : rf, of = field_left ? rf : lf;
    const Node *o = field_left ? r : l;
    const SField *fd = &s->m.fields[f];
    uint8_t t = fd->type;
    if (!t || (of != PIDX_NONE && !s->m.fields[of].type)) return NULL; /* bad schema type */
    if (ordering && (t == VT_STRING || t == VT_ENUM || t == VT_CODE || t == VT_BOOL)) {
        diag_error(s->d, "E204", n->loc,
                   "`%s` does not apply to %s `%s`: %ss are compared only with `==` and `!=`",
                   op_text[op], sema_type_name(s, f), fd->name, sema_type_name(s, f));
        return NULL;
    }
    if (t == VT_CODE || t == VT_LIST) {
        diag_error(s->d, "E203", n->loc,
                   "type mismatch: cannot compare %s with %s; test a %s with `%s`",
                   describe(s, l, lf), describe(s, r, rf), t == VT_CODE ? "code" : "list",
                   t == VT_CODE ? "in { CPT 70551 }" : "any in");
        return NULL;
    }
    Operand fop = fld(f), oop = {0};
    if (of != PIDX_NONE) {
        const SField *od = &s->m.fields[of];
        bool same = od->type == t;
        if (same && t == VT_ENUM) {
            same = od->nmembers == fd->nmembers;
            for (uint32_t i = 0; same && i < fd->nmembers; i++)
                same = strcmp(fd->members[i], od->members[i]) == 0;
        }
        if (!same) {
            mismatch(s, n->loc, l, lf, r, rf);
            return NULL;
        }
        if (t == VT_BOOL)
            return negate_if(s, bool_eq(s, mk_field(s, C_BOOL, lf), mk_field(s, C_BOOL, rf)),
                             op == CMP_NE);
        oop = fld(of);
    } else if (o->kind == N_NAME && t != VT_ENUM) {
        sema_unknown(s, o->loc, "field", o->name, SYM_FIELD);
        return NULL;
    } else if (t == VT_STRING) {
        if (o->kind != N_STRING) {
            mismatch(s, n->loc, l, lf, r, rf);
            return NULL;
        }
        oop.s = o->str;
    } else {
        bool reported = false;
        if (!lit_value(s, f, o, &oop.k, &reported)) {
            if (!reported) mismatch(s, n->loc, l, lf, r, rf);
            return NULL;
        }
        if (t == VT_BOOL) {
            /* `f == true` is f; `f == false` and `f != true` are not f. */
            bool keep = (oop.k != 0) == (op == CMP_EQ);
            return negate_if(s, mk_field(s, C_BOOL, f), !keep);
        }
    }
    Cond *c = mk(s, t == VT_STRING ? C_SCMP : C_ICMP);
    c->cmp = (uint8_t)op;
    c->x = field_left ? fop : oop;
    c->y = field_left ? oop : fop;
    return c;
}

/* ---- in ------------------------------------------------------------------ */

/* `f in { "a", "b" }` on a string (or `any in` on a list of strings): an
 * or-chain, left-nested so that the VM stack stays shallow. */
static Cond *string_chain(Sema *s, uint32_t f, const Node *list, bool any)
{
    Cond *acc = NULL;
    bool ok = true;
    for (const Node *v = list->a; v; v = v->next) {
        if (v->kind != N_STRING) {
            if (v->kind != N_ERROR)
                diag_error(s->d, "E203", v->loc,
                           "type mismatch: `%s` is a %s, so its values are strings; `%s` is %s",
                           s->m.fields[f].name, sema_type_name(s, f), text_of(s, v),
                           lit_type(v));
            ok = false;
            continue;
        }
        Cond *c;
        if (any) {
            c = mk_field(s, C_ANYSTR, f);
            c->str = v->str;
        } else {
            c = mk(s, C_SCMP);
            c->cmp = CMP_EQ;
            c->x = fld(f);
            c->y.s = v->str;
        }
        acc = acc ? mk2(s, C_OR, acc, c) : c;
    }
    if (!ok) return NULL;
    return acc ? acc : mk(s, C_FALSE);
}

static Cond *enum_mask(Sema *s, uint32_t f, const Node *list)
{
    uint64_t mask = 0;
    bool ok = true;
    for (const Node *v = list->a; v; v = v->next) {
        if (v->kind != N_NAME && v->kind != N_STRING) {
            if (v->kind != N_ERROR)
                diag_error(s->d, "E203", v->loc,
                           "type mismatch: `%s` is an enum; `%s` (%s) is not one of its members",
                           s->m.fields[f].name, text_of(s, v), lit_type(v));
            ok = false;
            continue;
        }
        const char *name = v->kind == N_NAME ? v->name : v->str;
        int32_t k = sema_member(&s->m.fields[f], name);
        if (k < 0) {
            sema_unknown_member(s, v->loc, f, name);
            ok = false;
            continue;
        }
        mask |= (uint64_t)1 << k;
    }
    if (!ok) return NULL;
    Cond *c = mk_field(s, C_INMASK, f);
    c->mask = (int64_t)mask;
    return c;
}

static Cond *in(Sema *s, const Node *n, const char *owner)
{
    const Node *a = n->a, *b = n->b;
    if (!a || !b || a->kind == N_ERROR || b->kind == N_ERROR) return NULL;
    bool any = (n->flags & FL_ANY) != 0;
    const char *kw = any ? "any in" : "in";
    if (a->kind != N_NAME) {
        diag_error(s->d, "E203", a->loc, "type mismatch: `%s` tests a field; `%s` is a %s", kw,
                   text_of(s, a), lit_type(a));
        return NULL;
    }
    uint32_t f = sema_field(s, a->name);
    if (f == PIDX_NONE) {
        sema_unknown(s, a->loc, "field", a->name, SYM_FIELD);
        return NULL;
    }
    const SField *fd = &s->m.fields[f];
    bool is_set = b->kind == N_NAME || b->kind == N_SET_LIT;
    bool is_list = b->kind == N_VALUE_LIST;
    Cond *c = NULL;
    if (!fd->type) return NULL;
    if (fd->type == VT_LIST && !any) {
        diag_error(s->d, "E203", n->loc,
                   "type mismatch: `%s` is a %s; test its elements with `%s any in ...`",
                   fd->name, sema_type_name(s, f), fd->name);
        return NULL;
    }
    if (fd->type != VT_LIST && any) {
        diag_error(s->d, "E203", n->loc,
                   "type mismatch: `any in` needs a list field; `%s` is a %s (write `%s in ...`)",
                   fd->name, sema_type_name(s, f), fd->name);
        return NULL;
    }
    bool wants_set = fd->type == VT_CODE || (fd->type == VT_LIST && fd->elem == VT_CODE);
    bool wants_list = fd->type == VT_ENUM || fd->type == VT_STRING ||
                      (fd->type == VT_LIST && fd->elem == VT_STRING);
    if (!wants_set && !wants_list) {
        diag_error(s->d, "E203", n->loc,
                   "type mismatch: `in` tests a code, enum or string field; `%s` is %s",
                   fd->name, sema_type_name(s, f));
        return NULL;
    }
    if (wants_set && !is_set) {
        diag_error(s->d, "E203", b->loc,
                   "type mismatch: `%s` (%s) is tested against a code set, such as a codeset "
                   "name or `{ CPT 70551 }`",
                   fd->name, sema_type_name(s, f));
        return NULL;
    }
    if (wants_list && !is_list) {
        diag_error(s->d, "E203", b->loc,
                   "type mismatch: `%s` (%s) is tested against a list of values such as "
                   "`{ \"a\", \"b\" }`, not a code set",
                   fd->name, sema_type_name(s, f));
        return NULL;
    }
    if (wants_set) {
        uint32_t set = sema_set_use(s, b, owner);
        if (set == PIDX_NONE) return NULL;
        c = mk_field(s, fd->type == VT_CODE ? C_INSET : C_ANYSET, f);
        c->set = set;
    } else if (fd->type == VT_ENUM) {
        c = enum_mask(s, f, b);
    } else {
        c = string_chain(s, f, b, any);
    }
    if (!c) return NULL;
    return negate_if(s, c, (n->flags & FL_NEGATED) != 0);
}

/* ---- conditions ---------------------------------------------------------- */

/* `a and b and c ...`: parsers build and-chains left-deep, and a long one
 * would recurse once per operand; the chain's operands come as an array
 * (ast_chain) and the Cond is built left-deep again. */
static Cond *logic(Sema *s, const Node *n, const char *owner)
{
    size_t k;
    const Node **v = ast_chain(n, n->op, &k);
    Cond *acc = sema_cond(s, v[0], owner);
    bool ok = acc != NULL;
    for (size_t i = 1; i < k; i++) {
        Cond *r = sema_cond(s, v[i], owner);
        ok &= r != NULL;
        if (ok) acc = mk2(s, n->op == BIN_AND ? C_AND : C_OR, acc, r);
    }
    free(v);
    return ok ? acc : NULL;
}

Cond *sema_cond(Sema *s, const Node *n, const char *owner)
{
    if (!n) return NULL;
    switch (n->kind) {
    case N_BINARY:
        if (n->op == BIN_AND || n->op == BIN_OR) return logic(s, n, owner);
        return compare(s, n);
    case N_NOT: {
        Cond *a = sema_cond(s, n->a, owner);
        return a ? mk2(s, C_NOT, a, NULL) : NULL;
    }
    case N_IN: return in(s, n, owner);
    case N_PRESENT: {
        uint32_t f = sema_field(s, n->name);
        if (f == PIDX_NONE) {
            sema_unknown(s, n->loc, "field", n->name, SYM_FIELD);
            return NULL;
        }
        return mk_field(s, C_PRESENT, f);
    }
    case N_NAME: {
        uint32_t f = sema_field(s, n->name);
        if (f == PIDX_NONE) {
            sema_unknown(s, n->loc, "field", n->name, SYM_FIELD);
            return NULL;
        }
        if (s->m.fields[f].type == VT_BOOL) return mk_field(s, C_BOOL, f);
        if (s->m.fields[f].type)
            diag_error(s->d, "E203", n->loc,
                       "type mismatch: a condition is a bool, and `%s` has type %s (compare it, or "
                       "test `present(%s)`)",
                       n->name, sema_type_name(s, f), n->name);
        return NULL;
    }
    case N_BOOL: return mk(s, n->ival ? C_TRUE : C_FALSE);
    case N_ERROR: return NULL;
    default:
        diag_error(s->d, "E203", n->loc, "type mismatch: a condition is a bool, not a %s",
                   lit_type(n));
        return NULL;
    }
}
