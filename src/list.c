/* list.c: the analyst's listing of a policy (pcrc list; see list.h).
 *
 * What the checker resolved comes from the policy's facts (facts.h): the
 * rules in model order with their windows and citations, each code set a
 * condition names (title, window, emitted PSet), and how each field reads
 * (the schema's wording). A policy that extends a base lists the merged
 * rules, each inherited one with the base it comes from (pcr_policy.merged,
 * parallel to the facts' rules), and then the rules it removed, with the
 * reasons. The rules' clauses and conditions are read as written, from
 * their syntax nodes; the compiled Prog gives field types and the codes of
 * each set after its set algebra. The whole listing is built in one Buf and
 * written at the end. */
#include "list.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ast.h"
#include "codetext.h"
#include "dates.h"
#include "facts.h"
#include "pcr/pcr.h"
#include "policy.h"
#include "prog.h"
#include "sema.h"

enum {
    HEAD_LABEL = 12,   /* header lines: "listed for: " */
    RULE_LABEL = 13,   /* rule lines: "  requires:  " */
    INLINE_CODES = 40, /* a set's codes up to this many columns print inside the condition */
};

/* ---- text --------------------------------------------------------------- */

/* Columns of a UTF-8 string: one per code point. */
static size_t cols(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

static void spaces(Buf *b, size_t n)
{
    while (n--) buf_putc(b, ' ');
}

/* Appends lead, then text wrapped at spaces to LIST_WIDTH columns; lines
 * after the first start with `indent` spaces. A word too long for a line
 * gets a line of its own. Ends with a newline. */
static void put_wrapped(Buf *out, const char *lead, size_t indent, const char *text)
{
    if (*lead) buf_puts(out, lead); /* buf_put wants a buffer even for 0 bytes */
    size_t col = cols(lead, strlen(lead));
    bool line_empty = true;
    const char *s = text;
    for (;;) {
        while (*s == ' ') s++;
        if (!*s) break;
        const char *e = s;
        while (*e && *e != ' ' && *e != '\n') e++;
        size_t w = cols(s, (size_t)(e - s));
        if (!line_empty && col + 1 + w > LIST_WIDTH) {
            buf_putc(out, '\n');
            spaces(out, indent);
            col = indent;
            line_empty = true;
        }
        if (!line_empty) {
            buf_putc(out, ' ');
            col++;
        }
        buf_put(out, s, (size_t)(e - s));
        col += w;
        line_empty = false;
        s = e;
        if (*s == '\n') { /* an explicit line break keeps the indent */
            s++;
            buf_putc(out, '\n');
            spaces(out, indent);
            col = indent;
            line_empty = true;
        }
    }
    buf_putc(out, '\n');
}

/* A label padded to width, then text wrapped under it. */
static void put_labeled(Buf *out, size_t margin, size_t width, const char *label, const char *text)
{
    Buf lead = {0};
    spaces(&lead, margin);
    buf_puts(&lead, label);
    size_t n = margin + cols(label, strlen(label));
    spaces(&lead, n < width ? width - n : 1);
    buf_putc(&lead, '\0');
    put_wrapped(out, lead.p, width, text);
    buf_free(&lead);
}

/* A heading and a line of `rule` characters as wide as it (at most LIST_WIDTH). */
static void put_heading(Buf *out, const char *text, char rule)
{
    put_wrapped(out, "", 0, text);
    size_t w = cols(text, strlen(text));
    for (size_t i = 0; i < w && i < LIST_WIDTH; i++) buf_putc(out, rule);
    buf_putc(out, '\n');
}

/* NUL-terminates b and returns its text (b keeps ownership). */
static const char *cstr(Buf *b)
{
    buf_reserve(b, 1);
    b->p[b->n] = '\0';
    return b->p;
}

static void put_date(Buf *b, int32_t day)
{
    char d[16];
    date_format(day, d);
    buf_puts(b, d);
}

/* "2022-01-01 onward", "2022-01-01 through 2022-12-31", "through 2022-12-31". */
static void put_window(Buf *b, int32_t from, int32_t through)
{
    if (from != DATE_OPEN_FROM) put_date(b, from);
    if (through != DATE_OPEN_THROUGH) {
        if (from != DATE_OPEN_FROM) buf_putc(b, ' ');
        buf_puts(b, "through ");
        put_date(b, through);
    } else if (from != DATE_OPEN_FROM) {
        buf_puts(b, " onward");
    } else {
        buf_puts(b, "always");
    }
}

/* "$1,000.00" from cents. */
static void put_money(Buf *b, int64_t cents)
{
    uint64_t v = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    if (cents < 0) buf_putc(b, '-');
    buf_putc(b, '$');
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)(v / 100));
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf_putc(b, ',');
        buf_putc(b, digits[i]);
    }
    buf_printf(b, ".%02u", (unsigned)(v % 100));
}

/* Cents of a decimal literal as written ("1000.5"), or false. */
static bool decimal_cents(const char *s, int64_t *out)
{
    int64_t whole = 0, frac = 0;
    int nfrac = 0;
    bool dot = false, any = false;
    for (; *s; s++) {
        if (*s == '.' && !dot) {
            dot = true;
        } else if (*s >= '0' && *s <= '9') {
            any = true;
            if (!dot) {
                if (whole > INT64_MAX / 1000) return false;
                whole = whole * 10 + (*s - '0');
            } else if (nfrac < 2) {
                frac = frac * 10 + (*s - '0');
                nfrac++;
            } else if (*s != '0') {
                return false; /* sub-cent: not money */
            }
        } else if (*s != ',') {
            return false;
        }
    }
    if (nfrac == 1) frac *= 10;
    *out = whole * 100 + frac;
    return any;
}

/* An enum member or identifier as words: "ambulatory_surgery" -> "ambulatory surgery". */
static void put_words(Buf *b, const char *s)
{
    for (; *s; s++) buf_putc(b, *s == '_' ? ' ' : *s);
}

/* ---- fields --------------------------------------------------------------- */

typedef struct Lister {
    const Prog *p;
    const Node *decls;   /* the root file's declarations */
    const Facts *facts;  /* the checker's results: field wording, code sets */
    const Merged *merged; /* where each rule comes from (parallel to facts->rules) */
    int32_t day;         /* the service date listed */
    Buf out;             /* the listing */
    Buf notes;           /* the rule's long code sets: "label: codes" entries, NUL-separated */
    size_t nnotes;
} Lister;

/* The Prog field a name in a condition refers to, or -1 (an enum member or
 * other literal). */
static int field_of(const Lister *L, const Node *n)
{
    if (!n || n->kind != N_NAME || !n->name) return -1;
    for (uint32_t i = 0; i < L->p->nfields; i++)
        if (strcmp(L->p->strs[L->p->fields[i].name], n->name) == 0) return (int)i;
    return -1;
}

static const char *field_name(const Lister *L, int f)
{
    return L->p->strs[L->p->fields[f].name];
}

/* Field f's wording in the schema (every string NULL when it has none). */
static const FieldText *text_of(const Lister *L, int f)
{
    static const FieldText none = {0};
    return L->facts && (uint32_t)f < L->facts->nfields ? &L->facts->fields[f] : &none;
}

static void put_noun(Buf *b, const Lister *L, int f)
{
    const FieldText *t = text_of(L, f);
    if (t->noun) buf_puts(b, t->noun);
    else buf_printf(b, "`%s`", field_name(L, f));
}

static void put_bool_field(Buf *b, const Lister *L, int f, bool yes)
{
    const FieldText *t = text_of(L, f);
    if (t->yes && t->no) buf_puts(b, yes ? t->yes : t->no);
    else buf_printf(b, "`%s` is %s", field_name(L, f), yes ? "true" : "false");
}

/* The schema's words for member s of enum field f, or NULL. */
static const char *member_words(const Lister *L, int f, const char *s)
{
    const FieldText *t = text_of(L, f);
    const PField *fd = &L->p->fields[f];
    if (!t->members || fd->type != VT_ENUM) return NULL;
    for (uint32_t i = 0; i < fd->enum_count; i++)
        if (strcmp(L->p->strs[L->p->refs[fd->enum_first + i]], s) == 0) return t->members[i];
    return NULL;
}

/* A literal value in a comparison or value list, read as the type of
 * field f (-1: unknown). */
static void put_value(Buf *b, const Lister *L, int f, const Node *v)
{
    const PField *fd = f >= 0 ? &L->p->fields[f] : NULL;
    const char *unit = f >= 0 ? text_of(L, f)->unit : NULL;
    if (v->kind == N_NAME || v->kind == N_STRING) {
        const char *s = v->kind == N_NAME ? v->name : v->str;
        if (!s) s = "";
        const char *words = f >= 0 ? member_words(L, f, s) : NULL;
        int g = field_of(L, v);
        if (words) buf_puts(b, words);
        else if (v->kind == N_NAME && g >= 0 && !(fd && fd->type == VT_ENUM)) put_noun(b, L, g);
        else if (v->kind == N_STRING && !(fd && fd->type == VT_ENUM)) buf_printf(b, "\"%s\"", s);
        else put_words(b, s);
        return;
    }
    bool money = fd && fd->type == VT_MONEY;
    int64_t cents;
    char when[24];
    switch (v->kind) {
    case N_MONEY: put_money(b, v->ival); break;
    case N_INT:
        if (money) put_money(b, v->ival * 100);
        else if (unit) buf_printf(b, "%lld %s", (long long)v->ival, unit);
        else buf_printf(b, "%lld", (long long)v->ival);
        break;
    case N_DECIMAL:
        if (money && v->str && decimal_cents(v->str, &cents)) put_money(b, cents);
        else buf_puts(b, v->str ? v->str : "?");
        break;
    case N_DATE: put_date(b, (int32_t)v->ival); break;
    case N_DATETIME:
        datetime_format(v->ival, when);
        for (char *t = when; *t; t++)
            if (*t == 'T') *t = ' ';
        buf_puts(b, when);
        break;
    case N_BOOL: buf_puts(b, v->ival ? "true" : "false"); break;
    case N_DURATION:
        buf_printf(b, "%lld %s", (long long)v->ival,
                   v->op == U_HOURS ? "hours" : v->op == U_DAYS ? "days" : "business days");
        break;
    default: buf_puts(b, "?"); break;
    }
}

/* ---- code sets in conditions --------------------------------------------- */

/* Adds "label (window): codes" to the rule's "codes:" entries unless it is
 * there already (a set named twice in one rule). */
static void note_set(Lister *L, const char *label, const char *codes, const char *window)
{
    Buf e = {0};
    buf_printf(&e, "%s%s: %s", label, window, codes);
    const char *entry = cstr(&e), *note = L->notes.p;
    bool dup = false;
    for (size_t i = 0; i < L->nnotes && !dup; i++) {
        dup = strcmp(note, entry) == 0;
        note += strlen(note) + 1;
    }
    if (!dup) {
        buf_put(&L->notes, entry, e.n + 1);
        L->nnotes++;
    }
    buf_free(&e);
}

/* A code set operand: "MRI of the brain (CPT 70551-70553)" when its codes
 * are short, "Bariatric surgery (codes below)" with the codes noted for the
 * rule's "codes:" lines otherwise; an inline `{ ... }` set prints its codes. */
static void put_set(Buf *b, Lister *L, const Node *s)
{
    const FactSet *fs = facts_set(L->facts, s);
    const PSet *ps = fs && fs->pset != PIDX_NONE ? &L->p->sets[fs->pset] : NULL;
    const char *label = fs && fs->title ? fs->title : s->kind == N_NAME ? s->name : NULL;
    int32_t from = fs ? fs->from : DATE_OPEN_FROM, through = fs ? fs->through : DATE_OPEN_THROUGH;
    bool windowed = from != DATE_OPEN_FROM || through != DATE_OPEN_THROUGH;
    Buf codes = {0}, window = {0};
    if (ps) codetext_put(L->p->ranges + ps->first, ps->count, &codes);
    else buf_puts(&codes, "(codes not found)"); /* not reached for a compiled policy */
    if (codes.n == 0) buf_puts(&codes, "no codes");
    if (windowed) {
        buf_puts(&window, " (codes in effect ");
        put_window(&window, from, through);
        buf_putc(&window, ')');
    }
    if (windowed && (L->day < from || L->day > through)) {
        buf_printf(b, "%s (not in effect on this date: in effect ", label ? label : "the code set");
        put_window(b, from, through);
        buf_puts(b, ", so no code matches)");
    } else if (!label) {
        buf_put(b, codes.p, codes.n);
    } else if (!windowed && cols(codes.p, codes.n) <= INLINE_CODES) {
        buf_printf(b, "%s (%s)", label, cstr(&codes));
    } else {
        buf_printf(b, "%s (codes below)", label);
        note_set(L, label, cstr(&codes), cstr(&window));
    }
    buf_free(&codes);
    buf_free(&window);
}

/* ---- conditions ---------------------------------------------------------- */

static void cond(Buf *b, Lister *L, const Node *n, int parent);

static int flip(int op)
{
    switch (op) {
    case BIN_LT: return BIN_GT;
    case BIN_LE: return BIN_GE;
    case BIN_GT: return BIN_LT;
    case BIN_GE: return BIN_LE;
    default: return op;
    }
}

static int negate_op(int op)
{
    switch (op) {
    case BIN_EQ: return BIN_NE;
    case BIN_NE: return BIN_EQ;
    case BIN_LT: return BIN_GE;
    case BIN_LE: return BIN_GT;
    case BIN_GT: return BIN_LE;
    case BIN_GE: return BIN_LT;
    default: return op;
    }
}

static const char *verb(int op, int type)
{
    bool when = type == VT_DATE || type == VT_DATETIME;
    switch (op) {
    case BIN_EQ: return "is";
    case BIN_NE: return "is not";
    case BIN_LT: return when ? "is before" : "is less than";
    case BIN_LE: return when ? "is on or before" : "is at most";
    case BIN_GT: return when ? "is after" : "is more than";
    case BIN_GE: return when ? "is on or after" : "is at least";
    default: return "?";
    }
}

/* `a OP b`: the field first ("the visit number is more than 5"); a bool
 * field compared with true or false reads as the field's own phrase. */
static void compare(Buf *b, Lister *L, const Node *n, bool negated)
{
    const Node *l = n->a, *r = n->b;
    int op = n->op;
    if (!l || !r) return;
    int fl = field_of(L, l);
    if (fl < 0 && field_of(L, r) >= 0) {
        const Node *t = l;
        l = r;
        r = t;
        op = flip(op);
        fl = field_of(L, l);
    }
    if (negated) op = negate_op(op);
    int type = fl >= 0 ? L->p->fields[fl].type : 0;
    if (type == VT_BOOL && r->kind == N_BOOL && (op == BIN_EQ || op == BIN_NE)) {
        put_bool_field(b, L, fl, (r->ival != 0) == (op == BIN_EQ));
        return;
    }
    if (fl >= 0) put_noun(b, L, fl);
    else put_value(b, L, -1, l);
    buf_printf(b, " %s ", verb(op, type));
    put_value(b, L, fl, r);
}

/* Values of a `{ ... }` list joined: "a, b or c" (joiner " or "), or "a, b, c". */
static void put_values(Buf *b, Lister *L, int f, const Node *list, const char *last)
{
    size_t n = ast_list_len(list), i = 0;
    for (const Node *v = list; v; v = v->next, i++) {
        if (i > 0) buf_puts(b, i + 1 == n && last ? last : ", ");
        put_value(b, L, f, v);
    }
}

/* `f in S`, `f not in S`, `f any in S`. */
static void in(Buf *b, Lister *L, const Node *n, bool negated)
{
    const Node *f = n->a, *s = n->b;
    if (!f || !s) return;
    int fi = field_of(L, f);
    bool any = (n->flags & FL_ANY) != 0;
    const FieldText *t = fi >= 0 ? text_of(L, fi) : NULL;
    const char *fname = fi >= 0 ? field_name(L, fi) : (f->name ? f->name : "?");
    if (any) {
        if (t && t->some && t->none) buf_puts(b, negated ? t->none : t->some);
        else buf_printf(b, "%s element of `%s`", negated ? "no" : "an", fname);
    } else if (fi >= 0) {
        put_noun(b, L, fi);
    } else {
        buf_printf(b, "`%s`", fname);
    }
    if (s->kind == N_VALUE_LIST) {
        size_t k = ast_list_len(s->a);
        if (k == 0) {
            buf_puts(b, negated ? " is anything (`not in { }`)" : " is nothing (`in { }`)");
        } else if (!negated || any) {
            buf_puts(b, " is ");
            put_values(b, L, fi, s->a, " or ");
        } else if (k == 1) {
            buf_puts(b, " is not ");
            put_values(b, L, fi, s->a, NULL);
        } else if (k == 2) {
            buf_puts(b, " is neither ");
            put_value(b, L, fi, s->a);
            buf_puts(b, " nor ");
            put_value(b, L, fi, s->a->next);
        } else {
            buf_puts(b, " is none of ");
            put_values(b, L, fi, s->a, NULL);
        }
        return;
    }
    buf_puts(b, negated && !any ? " is not one of " : " is one of ");
    put_set(b, L, s);
}

static void chain(Buf *b, Lister *L, const Node *n, bool negated, int parent);

/* `not x`: pushed into x, so plain words can say it. */
static void negation(Buf *b, Lister *L, const Node *a, int parent)
{
    if (!a) return;
    int f;
    switch (a->kind) {
    case N_NAME:
        if ((f = field_of(L, a)) >= 0) {
            put_bool_field(b, L, f, false);
            return;
        }
        break;
    case N_PRESENT:
        if (a->name) {
            Node name = {.kind = N_NAME, .name = a->name};
            if ((f = field_of(L, &name)) >= 0) {
                buf_puts(b, "the request does not give ");
                put_noun(b, L, f);
            } else {
                buf_printf(b, "the request does not give `%s`", a->name);
            }
            return;
        }
        break;
    case N_IN: in(b, L, a, (a->flags & FL_NEGATED) == 0); return;
    case N_BOOL: buf_puts(b, a->ival ? "never" : "always"); return;
    case N_NOT: cond(b, L, a->a, parent); return;
    case N_BINARY:
        if (a->op == BIN_AND || a->op == BIN_OR) chain(b, L, a, true, parent);
        else compare(b, L, a, true);
        return;
    default: break;
    }
    buf_puts(b, "not (");
    cond(b, L, a, 0);
    buf_putc(b, ')');
}

/* An and/or chain, flattened: parsers nest `a and b and c` left-deep.
 * Negated, it reads by De Morgan: `not (a and b)` as "a is not ... or b is
 * not ...". parent as for cond(). */
static void chain(Buf *b, Lister *L, const Node *n, bool negated, int parent)
{
    int op = !negated ? n->op : n->op == BIN_AND ? BIN_OR : BIN_AND; /* as it reads */
    size_t k;
    const Node **v = ast_chain(n, n->op, &k);
    bool paren = parent != 0 && parent != op;
    if (paren) buf_putc(b, '(');
    for (size_t i = 0; i < k; i++) {
        if (i > 0) buf_puts(b, op == BIN_AND ? " and " : " or ");
        if (negated) negation(b, L, v[i], op);
        else cond(b, L, v[i], op);
    }
    if (paren) buf_putc(b, ')');
    free(v);
}

/* A condition in words. parent is the chain operator around n (BIN_AND,
 * BIN_OR) or 0 at the top: a chain of another operator inside one is
 * parenthesized, so "a or (b and c)" reads as it binds. */
static void cond(Buf *b, Lister *L, const Node *n, int parent)
{
    if (!n) return;
    int f;
    switch (n->kind) {
    case N_BINARY:
        if (n->op == BIN_AND || n->op == BIN_OR) chain(b, L, n, false, parent);
        else compare(b, L, n, false);
        return;
    case N_NOT: negation(b, L, n->a, parent); return;
    case N_IN: in(b, L, n, (n->flags & FL_NEGATED) != 0); return;
    case N_PRESENT: {
        Node name = {.kind = N_NAME, .name = n->name};
        if ((f = field_of(L, &name)) >= 0) {
            buf_puts(b, "the request gives ");
            put_noun(b, L, f);
        } else {
            buf_printf(b, "the request gives `%s`", n->name ? n->name : "?");
        }
        return;
    }
    case N_NAME:
        if ((f = field_of(L, n)) >= 0) put_bool_field(b, L, f, true);
        else buf_printf(b, "`%s`", n->name ? n->name : "?");
        return;
    case N_BOOL: buf_puts(b, n->ival ? "always" : "never"); return;
    default: put_value(b, L, -1, n); return;
    }
}

/* ---- rules ----------------------------------------------------------------- */

static const Node *clause(const Node *rule, int kind)
{
    for (const Node *c = rule->a; c; c = c->next)
        if (c->kind == N_CLAUSE && c->op == kind) return c;
    return NULL;
}

static bool rule_in_effect(const Lister *L, const FactRule *r)
{
    return L->day >= r->from && L->day <= r->through;
}

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static const char *outcome_words(int64_t outcome)
{
    switch (outcome) {
    case OUT_PRIOR_AUTH: return "prior authorization";
    case OUT_NOTIFICATION: return "notification";
    case OUT_NOT_COVERED: return "not covered";
    case OUT_ADVISORY: return "the requester is informed (advisory: it decides nothing)";
    default: return "no requirement";
    }
}

/* "at least 72 hours before the service", "within 1 business day after admission". */
static void put_deadline(Buf *b, const Node *c)
{
    const Node *d = c->a;
    if (!d || d->kind != N_DURATION) return;
    long long n = (long long)d->ival;
    const char *unit = d->op == U_HOURS ? "hour" : d->op == U_DAYS ? "day" : "business day";
    const char *anchor = c->str && strcmp(c->str, "admission") == 0 ? "admission" : "the service";
    if (n == 0 && d->op == U_HOURS)
        buf_printf(b, "by the start (00:00) of the day of %s", anchor);
    else if (n == 0)
        buf_printf(b, "no later than the day of %s", anchor);
    else
        buf_printf(b, "%s %lld %s%s %s %s", c->ival == DIR_AFTER ? "within" : "at least", n, unit,
                   n == 1 ? "" : "s", c->ival == DIR_AFTER ? "after" : "before", anchor);
}

static void rule_line(Lister *L, const char *label, const char *text)
{
    put_labeled(&L->out, 2, RULE_LABEL, label, text);
}

/* `unless a or b` lists as two exceptions: it is the same as two `unless`. */
static void exceptions(Lister *L, const Node *n)
{
    if (!n) return;
    if (n->kind == N_BINARY && n->op == BIN_OR) {
        size_t k;
        const Node **v = ast_chain(n, BIN_OR, &k);
        for (size_t i = 0; i < k; i++) exceptions(L, v[i]);
        free(v);
        return;
    }
    Buf t = {0};
    cond(&t, L, n, 0);
    rule_line(L, "except:", cstr(&t));
    buf_free(&t);
}

static void list_rule(Lister *L, const FactRule *fr, const char *default_reviewer)
{
    const Node *rule = fr->node;
    uint32_t ri = (uint32_t)(fr - L->facts->rules);
    L->notes.n = 0;
    L->nnotes = 0;
    Buf t = {0};
    buf_printf(&t, "%s [%s]", rule->str ? rule->str : "(untitled)", rule->name ? rule->name : "");
    put_wrapped(&L->out, "", 2, cstr(&t));
    const char *origin = L->merged->from[ri];
    if (origin) {
        t.n = 0;
        if (L->merged->how[ri] == RULE_REPLACED)
            buf_printf(&t, "this policy, replacing the rule of %s", origin);
        else
            buf_puts(&t, origin);
        rule_line(L, "from:", cstr(&t));
    }

    const Node *req = clause(rule, CL_REQUIRE), *ex = clause(rule, CL_EXEMPT);
    t.n = 0;
    if (ex) {
        if (ex->flags & FL_ALL) {
            buf_puts(&t, "every rule that is not itself a waiver");
        } else {
            for (const Node *r = ex->a; r; r = r->next)
                buf_printf(&t, "%s%s", r == ex->a ? "" : ", ", r->name ? r->name : "?");
        }
        rule_line(L, "waives:", cstr(&t));
    } else {
        bool advisory = req && req->ival == OUT_ADVISORY;
        rule_line(L, advisory ? "advises:" : "requires:", outcome_words(req ? req->ival : OUT_NONE));
        const Node *rv = clause(rule, CL_REVIEWER);
        t.n = 0;
        if (rv && rv->a) {
            for (const Node *s = rv->a; s; s = s->next)
                buf_printf(&t, "%s%s", s == rv->a ? "" : ", ", s->str ? s->str : "?");
        } else {
            buf_puts(&t, default_reviewer ? default_reviewer : "none named");
        }
        rule_line(L, "reviewer:", cstr(&t));
        const Node *dl = clause(rule, CL_DEADLINE);
        if (dl) {
            t.n = 0;
            put_deadline(&t, dl);
            rule_line(L, "deadline:", cstr(&t));
        }
    }
    if (fr->from != DATE_OPEN_FROM || fr->through != DATE_OPEN_THROUGH) {
        t.n = 0;
        put_window(&t, fr->from, fr->through);
        rule_line(L, "effective:", cstr(&t));
    }
    const Node *when = clause(rule, CL_WHEN);
    if (when) {
        t.n = 0;
        cond(&t, L, when->a, 0);
        rule_line(L, "when:", cstr(&t));
    }
    for (const Node *c = rule->a; c; c = c->next)
        if (c->kind == N_CLAUSE && c->op == CL_UNLESS) exceptions(L, c->a);
    const char *note = L->notes.p;
    for (size_t i = 0; i < L->nnotes; i++) {
        rule_line(L, i == 0 ? "codes:" : "", note);
        note += strlen(note) + 1;
    }
    buf_putc(&L->out, '\n');
    buf_free(&t);
}

/* ---- the listing ------------------------------------------------------------ */

static const Node *find_policy(const Node *decls)
{
    for (const Node *d = decls; d; d = d->next)
        if (d->kind == N_POLICY) return d;
    return NULL;
}

/* The first string value of the policy's property `name`. */
static const char *prop(const Node *pol, const char *name)
{
    for (const Node *pr = pol ? pol->a : NULL; pr; pr = pr->next)
        if (pr->kind == N_PROP && pr->name && strcmp(pr->name, name) == 0 && pr->a)
            return pr->a->kind == N_STRING ? pr->a->str : pr->a->name;
    return NULL;
}

/* The policy of the chain (the root, then its bases, nearest first) that
 * gives property `name`, or the root when none does: what the merged
 * policy inherits (docs/language.md, "Extending a base list"). */
static const Node *giver(const Lister *L, const Node *pol, const char *name)
{
    for (uint32_t j = 0; j <= L->merged->nbases; j++) {
        const Node *at = j == 0 ? pol : L->merged->bases[j - 1];
        for (const Node *pr = at ? at->a : NULL; pr; pr = pr->next)
            if (pr->kind == N_PROP && pr->name && strcmp(pr->name, name) == 0) return at;
    }
    return pol;
}

static void head_line(Lister *L, const char *label, const char *text)
{
    put_labeled(&L->out, 0, HEAD_LABEL, label, text);
}

typedef struct Group {
    const char *doc, *section;
} Group;

/* The `source` (when sources) and `contact` (when contacts) lines of pol's
 * header, in the order written. */
static void put_sources(Lister *L, const Node *pol, bool sources, bool contacts)
{
    Buf t = {0};
    for (const Node *pr = pol ? pol->a : NULL; pr; pr = pr->next) {
        if (pr->kind != N_PROP || !pr->name || !pr->a) continue;
        bool source = strcmp(pr->name, "source") == 0;
        if (source ? !sources : !contacts || strcmp(pr->name, "contact") != 0) continue;
        t.n = 0;
        for (const Node *v = pr->a; v; v = v->next)
            buf_printf(&t, "%s%s", v == pr->a ? "" : ": ", v->str ? v->str : "");
        head_line(L, source ? "source:" : "contact:", cstr(&t));
    }
    buf_free(&t);
}

static void header(Lister *L, const Node *pol, const char *reviewer)
{
    const Prog *p = L->p;
    Buf t = {0};
    const char *title = prop(pol, "title");
    put_heading(&L->out, title ? title : p->strs[p->title], '=');
    buf_putc(&L->out, '\n');
    buf_printf(&t, "%s, version %s", p->strs[p->id], p->strs[p->version]);
    head_line(L, "policy:", cstr(&t));
    if (L->merged->base) head_line(L, "extends:", L->merged->base);
    head_line(L, "payer:", p->strs[p->payer]);
    t.n = 0;
    put_window(&t, p->eff_from, p->eff_through);
    head_line(L, "in effect:", cstr(&t));
    /* Sources and contacts in the order written, each from the policy of
     * the chain that gives them. */
    const Node *sources = giver(L, pol, "source"), *contacts = giver(L, pol, "contact");
    put_sources(L, sources, true, sources == contacts);
    if (sources != contacts) put_sources(L, contacts, false, true);
    t.n = 0;
    if (reviewer) buf_printf(&t, "%s, unless a rule names another", reviewer);
    else buf_puts(&t, "none, unless a rule names one");
    head_line(L, "reviewer:", cstr(&t));
    const char *cal = prop(giver(L, pol, "calendar"), "calendar");
    t.n = 0;
    if (cal) buf_printf(&t, "business days skip weekends and the holidays of %s", cal);
    else buf_puts(&t, "business days skip weekends only (no holiday calendar)");
    head_line(L, "calendar:", cstr(&t));
    t.n = 0;
    buf_puts(&t, "services on ");
    put_date(&t, L->day);
    head_line(L, "listed for:", cstr(&t));
    buf_free(&t);
}

static void listing(Lister *L)
{
    const Node *pol = find_policy(L->decls);
    const Prog *p = L->p;
    const char *reviewer = prop(giver(L, pol, "reviewer"), "reviewer");
    if (!reviewer && p->reviewer != PIDX_NONE) reviewer = p->strs[p->reviewer];
    header(L, pol, reviewer);
    Buf t = {0};
    if (L->day < p->eff_from || L->day > p->eff_through) {
        buf_puts(&t, "The policy is not in effect on ");
        put_date(&t, L->day);
        buf_puts(&t, ": it applies to services ");
        if (L->day < p->eff_from) {
            buf_puts(&t, "from ");
            put_date(&t, p->eff_from);
        } else {
            buf_puts(&t, "through ");
            put_date(&t, p->eff_through);
        }
        buf_puts(&t, ". No rule is listed.");
        buf_putc(&L->out, '\n');
        put_wrapped(&L->out, "", 0, cstr(&t));
        buf_free(&t);
        return;
    }

    Group *groups = NULL;
    size_t ngroups = 0, nrules = 0, nlate = 0, count[OUT__COUNT] = {0};
    const char *doc0 = NULL;
    bool many_docs = false;
    const FactRule *rules = L->facts->rules;
    for (uint32_t i = 0; i < L->facts->nrules; i++) {
        const FactRule *r = &rules[i];
        if (!rule_in_effect(L, r)) {
            nlate++;
            continue;
        }
        const char *doc = r->doc, *sec = r->section;
        if (nrules++ == 0) doc0 = doc;
        else if (!same(doc, doc0)) many_docs = true;
        if (r->outcome < OUT__COUNT) count[r->outcome]++;
        size_t g = 0;
        while (g < ngroups && !(same(groups[g].doc, doc) && same(groups[g].section, sec))) g++;
        if (g == ngroups) {
            groups = xrealloc(groups, (ngroups + 1) * sizeof *groups);
            groups[ngroups++] = (Group){doc, sec};
        }
    }

    buf_printf(&t, "%zu rule%s in effect in %zu section%s", nrules, nrules == 1 ? "" : "s",
               ngroups, ngroups == 1 ? "" : "s");
    static const struct {
        int outcome;
        const char *words;
    } kinds[] = {{OUT_PRIOR_AUTH, "prior authorization"},
                 {OUT_NOTIFICATION, "notification"},
                 {OUT_NOT_COVERED, "not covered"},
                 {OUT_ADVISORY, "advisory"},
                 {OUT_EXEMPT, "waiver"}};
    bool first = true;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t c = count[kinds[k].outcome];
        if (!c) continue;
        buf_printf(&t, "%s%zu %s%s", first ? ": " : ", ", c, kinds[k].words,
                   kinds[k].outcome == OUT_EXEMPT && c != 1 ? "s" : "");
        first = false;
    }
    if (nlate) buf_printf(&t, "; %zu not in effect on this date (listed last)", nlate);
    head_line(L, "rules:", cstr(&t));
    buf_putc(&L->out, '\n'); /* sections follow two blank lines, as after a rule */

    for (size_t g = 0; g < ngroups; g++) {
        t.n = 0;
        if (groups[g].section) buf_puts(&t, groups[g].section);
        else if (groups[g].doc) buf_puts(&t, "No section named");
        else buf_puts(&t, "No document cited");
        if (many_docs && groups[g].doc) buf_printf(&t, " (%s)", groups[g].doc);
        buf_putc(&L->out, '\n');
        put_heading(&L->out, cstr(&t), '-');
        buf_putc(&L->out, '\n');
        for (uint32_t i = 0; i < L->facts->nrules; i++)
            if (rule_in_effect(L, &rules[i]) && same(rules[i].doc, groups[g].doc) &&
                same(rules[i].section, groups[g].section))
                list_rule(L, &rules[i], reviewer);
    }
    if (nlate) {
        t.n = 0;
        buf_puts(&t, "Not in effect on ");
        put_date(&t, L->day);
        buf_putc(&L->out, '\n');
        put_heading(&L->out, cstr(&t), '-');
        buf_putc(&L->out, '\n');
        for (uint32_t i = 0; i < L->facts->nrules; i++) {
            const FactRule *r = &rules[i];
            if (rule_in_effect(L, r)) continue;
            t.n = 0;
            buf_printf(&t, "%s [%s]: in effect ", r->node->str ? r->node->str : "(untitled)",
                       r->id);
            put_window(&t, r->from, r->through);
            put_wrapped(&L->out, "", 2, cstr(&t));
        }
    }
    if (L->merged->nremoved) {
        buf_putc(&L->out, '\n');
        put_heading(&L->out, "Removed from the base", '-');
        buf_putc(&L->out, '\n');
        for (uint32_t i = 0; i < L->merged->nremoved; i++) {
            const SRemoved *x = &L->merged->removed[i];
            t.n = 0;
            buf_printf(&t, "%s [%s], of %s: removed by %s: %s",
                       x->rule && x->rule->str ? x->rule->str : "(untitled)", x->id, x->from,
                       x->by, x->why);
            put_wrapped(&L->out, "", 2, cstr(&t));
        }
    }
    free(groups);
    buf_free(&t);
}

/* See pcr.h. The listing is built in memory and written with one fwrite;
 * a failed write is PCR_ERR_IO. */
pcr_status pcr_policy_list(const pcr_policy *p, const char *date, FILE *out)
{
    int32_t day;
    if (!p || !p->prog || !p->decls || !p->facts || !p->merged || !date || !out)
        return PCR_ERR_USAGE;
    if (!date_parse(date, strlen(date), &day)) return PCR_ERR_USAGE;
    if (p->facts->nrules != p->merged->nrules) return PCR_ERR_USAGE;
    Lister L = {.p = p->prog, .decls = p->decls, .facts = p->facts, .merged = p->merged, .day = day};
    listing(&L);
    while (L.out.n >= 2 && L.out.p[L.out.n - 1] == '\n' && L.out.p[L.out.n - 2] == '\n')
        L.out.n--; /* no blank line at the end */
    bool ok = fwrite(L.out.p, 1, L.out.n, out) == L.out.n;
    buf_free(&L.out);
    buf_free(&L.notes);
    return ok && !ferror(out) ? PCR_OK : PCR_ERR_IO;
}
