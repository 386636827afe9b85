/* explain.c: a decision in an analyst's words (explain.h is the contract).
 *
 * Reading a block back. A rule's block is straight-line postfix code (the
 * emitter's `cond` plus, per unless, `JFALSE u NOT AND`): replaying it on a
 * stack of node indices, ignoring the jumps (they only skip work whose
 * value the AND/OR would discard), rebuilds the condition tree. The last
 * unless_count AND(x, NOT(u)) layers of the root are the unless clauses.
 *
 * Evaluating it again. Each node is evaluated over the record with the
 * VM's three-valued rules (unknown for an absent field, none for a field
 * that does not apply); the rule's verdict is the VM's own (vm_eval_rule),
 * and tests check that the two agree. */
#include "explain.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "codes.h"
#include "dates.h"
#include "opcodes.h"
#include "out.h"

enum { X_UNKNOWN = -1 };

/* One node of a block read back. */
typedef struct XNode {
    uint8_t op;     /* the opcode that made it */
    uint32_t arg;   /* its operand: field, constant, string or set index */
    int32_t a, b;   /* operands (node indices), -1 when none */
} XNode;

typedef struct XTree {
    XNode *n;
    uint32_t count;
    int32_t root;
} XTree;

static uint32_t rd16(const uint8_t *at) { return (uint32_t)at[0] | (uint32_t)at[1] << 8; }
static uint32_t rd32(const uint8_t *at) { return rd16(at) | rd16(at + 2) << 16; }

static int operand_size(unsigned op)
{
    static const uint8_t fmt[] = {
#define OP_FMT(name, opnd, pops, pushes, doc) opnd,
        PCR_OPCODES(OP_FMT)
#undef OP_FMT
    };
    return op < OP__COUNT ? OPND_BYTES(fmt[op]) : -1;
}

/* Adds a node for op (operand arg) over the top `npop` entries of the
 * stack, and pushes it. False when the stack cannot take it (unverified
 * code). */
static bool add_node(XTree *t, int32_t *stack, int *sp, unsigned op, uint32_t arg, int npop)
{
    if (*sp < npop) return false;
    XNode *x = &t->n[t->count];
    x->op = (uint8_t)op;
    x->arg = arg;
    x->a = x->b = -1;
    if (npop == 2) x->b = stack[--*sp];
    if (npop >= 1) x->a = stack[--*sp];
    if (*sp == PCR_MAX_STACK) return false;
    stack[(*sp)++] = (int32_t)t->count++;
    return true;
}

/* How many stack entries op's node takes as operands. */
static int node_pops(unsigned op)
{
    switch (op) {
    case OP_EQ: case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE:
    case OP_SEQ: case OP_SNE: case OP_AND: case OP_OR:
        return 2;
    case OP_INSET: case OP_ANYSET: case OP_INMASK: case OP_ANYSTR: case OP_NOT:
        return 1;
    default: return 0; /* LOAD, PRESENT, CONST, STR, TRUE, FALSE: leaves */
    }
}

/* Rebuilds rule r's tree (t->n owned by the caller). A fused instruction
 * becomes the nodes of its parts (opcodes.h, PCR_FUSED). Verified code
 * keeps the stack within PCR_MAX_STACK; anything else gives root -1. */
static void read_block(const Prog *p, uint32_t r, XTree *t)
{
    const PRule *rule = &p->rules[r];
    const uint8_t *c = p->code + rule->code_off, *end = c + rule->code_len;
    /* at most 3 nodes per instruction, and an instruction is >= 1 byte */
    t->n = xcalloc(3 * (size_t)rule->code_len + 1, sizeof *t->n);
    t->count = 0;
    t->root = -1;
    int32_t stack[PCR_MAX_STACK];
    int sp = 0;
    while (c < end) {
        unsigned op = *c;
        int sz = operand_size(op);
        if (sz < 0 || c + 1 + sz > end) return;
        uint32_t arg = sz == 1   ? c[1]
                       : sz == 2 ? rd16(c + 1)
                       : sz == 3 ? c[1] | rd16(c + 2) << 8
                       : sz == 4 ? rd32(c + 1)
                                 : 0;
        c += 1 + sz;
        if (op == OP_JFALSE || op == OP_JTRUE) continue;
        if (op == OP_RET) {
            t->root = sp == 1 ? stack[0] : -1;
            return;
        }
        FusedParts f = opcode_fused(op);
        bool ok;
        if (f.is_fused) {
            ok = add_node(t, stack, &sp, OP_LOAD, arg & 0xFF, 0) &&
                 add_node(t, stack, &sp, (unsigned)f.second, arg >> 8, node_pops((unsigned)f.second)) &&
                 (f.third < 0 || add_node(t, stack, &sp, (unsigned)f.third, 0, node_pops((unsigned)f.third)));
        } else {
            ok = add_node(t, stack, &sp, op, arg, node_pops(op));
        }
        if (!ok) return;
    }
}

/* ---- values -------------------------------------------------------------- */

/* The field a node reads, or PIDX_NONE. */
static uint32_t node_field(const XNode *x) { return x->op == OP_LOAD ? x->arg : PIDX_NONE; }

static void put_money(Buf *b, int64_t cents)
{
    uint64_t v = cents < 0 ? (uint64_t)-cents : (uint64_t)cents;
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v / 100);
    buf_puts(b, cents < 0 ? "-$" : "$");
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) buf_putc(b, ',');
        buf_putc(b, digits[i]);
    }
    buf_printf(b, ".%02u", (unsigned)(v % 100));
}

static const char *member_name(const Prog *p, const PField *f, int64_t i)
{
    if (i < 0 || (uint64_t)i >= f->enum_count) return "?";
    return p->strs[p->refs[f->enum_first + (uint32_t)i]];
}

/* An integer value i of field f, as the analyst writes it. */
static void put_typed(Buf *b, const Prog *p, uint32_t f, int64_t i)
{
    char s[32];
    const PField *pf = f < p->nfields ? &p->fields[f] : NULL;
    switch (pf ? pf->type : VT_INT) {
    case VT_BOOL: buf_puts(b, i ? "true" : "false"); break;
    case VT_MONEY: put_money(b, i); break;
    case VT_DATE: date_format((int32_t)i, s), buf_puts(b, s); break;
    case VT_DATETIME: datetime_format(i, s), buf_puts(b, s); break;
    case VT_ENUM: buf_puts(b, member_name(p, pf, i)); break;
    case VT_CODE:
        code_key_format((CodeKey)i, s);
        buf_printf(b, "%s %s", code_system_name(code_key_system((CodeKey)i)), s);
        break;
    default: buf_printf(b, "%" PRId64, i); break;
    }
}

/* "setting: inpatient", "price: absent (unknown)", "code: null (does not
 * apply)", "emergent: false (default)". */
static void put_field_value(Buf *b, const Prog *p, const Record *rec, uint32_t f)
{
    const PField *pf = &p->fields[f];
    buf_printf(b, "%s: ", p->strs[pf->name]);
    if (rec->present >> f & 1) {
        const RecVal *v = &rec->v[f];
        if (pf->type == VT_STRING) {
            buf_printf(b, "\"%.*s\"", (int)v->n, v->s ? v->s : "");
        } else if (pf->type == VT_LIST) {
            buf_putc(b, '[');
            for (uint32_t k = 0; k < v->n; k++) {
                const RecVal *it = &rec->items[v->i + k];
                if (k) buf_puts(b, ", ");
                if (pf->elem == VT_CODE) {
                    char s[16];
                    code_key_format((CodeKey)it->i, s);
                    buf_puts(b, s);
                } else {
                    buf_printf(b, "\"%.*s\"", (int)it->n, it->s ? it->s : "");
                }
            }
            buf_putc(b, ']');
        } else {
            put_typed(b, p, f, v->i);
        }
    } else if (rec->none >> f & 1) {
        buf_puts(b, "null (does not apply)");
    } else if (pf->flags & PF_DEFAULT) {
        put_typed(b, p, f, pf->deflt);
        buf_puts(b, " (default)");
    } else {
        buf_puts(b, "absent (not known)");
    }
}

/* ---- evaluating ------------------------------------------------------------ */

typedef struct XVal {
    int64_t i;
    const char *s;
    uint32_t n;
    uint8_t st; /* 0 value, 1 unknown, 2 none (as vm.c's Slot) */
} XVal;

static XVal eval_value(const Prog *p, const Record *rec, const XTree *t, int32_t k, uint64_t *missing);

/* The three-valued truth of node k: 1, 0 or X_UNKNOWN; ORs into *missing
 * the absent fields that made it unknown. Mirrors vm_run. */
static int eval_bool(const Prog *p, const Record *rec, const XTree *t, int32_t k, uint64_t *missing)
{
    XVal v = eval_value(p, rec, t, k, missing);
    return v.st ? X_UNKNOWN : v.i != 0;
}

static bool str_eq(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static XVal eval_value(const Prog *p, const Record *rec, const XTree *t, int32_t k, uint64_t *missing)
{
    XVal r = {0, NULL, 0, 0};
    if (k < 0) {
        r.st = 1;
        return r;
    }
    const XNode *x = &t->n[k];
    switch (x->op) {
    case OP_LOAD: {
        uint32_t f = x->arg;
        if (rec->present >> f & 1) {
            r.i = rec->v[f].i, r.s = rec->v[f].s, r.n = rec->v[f].n;
        } else if (rec->none >> f & 1) {
            r.st = p->fields[f].type == VT_BOOL ? 0 : 2;
        } else if (p->fields[f].flags & PF_DEFAULT) {
            r.i = p->fields[f].deflt;
        } else {
            r.st = 1;
            *missing |= (uint64_t)1 << f;
        }
        return r;
    }
    case OP_PRESENT: {
        uint32_t f = x->arg;
        r.i = (rec->present >> f & 1) ||
              ((p->fields[f].flags & PF_DEFAULT) && !(rec->none >> f & 1));
        return r;
    }
    case OP_CONST: r.i = p->consts[x->arg]; return r;
    case OP_STR: r.s = p->strs[x->arg], r.n = p->strlens[x->arg]; return r;
    case OP_TRUE: r.i = 1; return r;
    case OP_FALSE: return r;
    case OP_NOT: {
        int v = eval_bool(p, rec, t, x->a, missing);
        if (v == X_UNKNOWN) r.st = 1;
        else r.i = !v;
        return r;
    }
    case OP_AND: case OP_OR: {
        uint64_t ma = 0, mb = 0;
        int a = eval_bool(p, rec, t, x->a, &ma), b = eval_bool(p, rec, t, x->b, &mb);
        int decisive = x->op == OP_AND ? 0 : 1;
        if (a == decisive || b == decisive) {
            r.i = decisive;
            return r;
        }
        if (a == X_UNKNOWN || b == X_UNKNOWN) {
            r.st = 1;
            *missing |= (a == X_UNKNOWN ? ma : 0) | (b == X_UNKNOWN ? mb : 0);
            return r;
        }
        r.i = !decisive;
        return r;
    }
    default: break;
    }
    /* comparisons and membership */
    uint64_t m = 0;
    XVal a = eval_value(p, rec, t, x->a, &m);
    XVal b = x->b >= 0 ? eval_value(p, rec, t, x->b, &m) : (XVal){0, NULL, 0, 0};
    uint8_t st = a.st | b.st;
    if (st & 2) {
        r.i = x->op == OP_NE || x->op == OP_SNE; /* `!=` is the negation of `==` */
        return r;
    }
    if (st) {
        r.st = 1;
        *missing |= m;
        return r;
    }
    switch (x->op) {
    case OP_EQ: r.i = a.i == b.i; break;
    case OP_NE: r.i = a.i != b.i; break;
    case OP_LT: r.i = a.i < b.i; break;
    case OP_LE: r.i = a.i <= b.i; break;
    case OP_GT: r.i = a.i > b.i; break;
    case OP_GE: r.i = a.i >= b.i; break;
    case OP_SEQ: r.i = str_eq(a.s, a.n, b.s, b.n); break;
    case OP_SNE: r.i = !str_eq(a.s, a.n, b.s, b.n); break;
    case OP_INSET: {
        const PSet *s = &p->sets[x->arg];
        r.i = code_ranges_contain(p->ranges + s->first, s->count, (CodeKey)a.i);
        break;
    }
    case OP_ANYSET: {
        const PSet *s = &p->sets[x->arg];
        for (uint32_t j = 0; j < a.n && !r.i; j++)
            r.i = code_ranges_contain(p->ranges + s->first, s->count, (CodeKey)rec->items[a.i + j].i);
        break;
    }
    case OP_INMASK: r.i = (uint64_t)a.i < 64 && ((uint64_t)p->consts[x->arg] >> a.i & 1); break;
    case OP_ANYSTR:
        for (uint32_t j = 0; j < a.n && !r.i; j++)
            r.i = str_eq(rec->items[a.i + j].s, rec->items[a.i + j].n, p->strs[x->arg], p->strlens[x->arg]);
        break;
    default: r.st = 1; break;
    }
    return r;
}

/* ---- rendering ------------------------------------------------------------- */

static void put_node(Buf *b, const Prog *p, const XTree *t, int32_t k, bool nested);

static const char *cmp_text(unsigned op)
{
    switch (op) {
    case OP_EQ: case OP_SEQ: return "==";
    case OP_NE: case OP_SNE: return "!=";
    case OP_LT: return "<";
    case OP_LE: return "<=";
    case OP_GT: return ">";
    default: return ">=";
    }
}

/* One side of a comparison: a field's name, or a constant typed by the
 * field on the other side. */
static void put_operand(Buf *b, const Prog *p, const XTree *t, int32_t k, uint32_t other_field)
{
    const XNode *x = &t->n[k];
    if (x->op == OP_LOAD) buf_puts(b, p->strs[p->fields[x->arg].name]);
    else if (x->op == OP_CONST) put_typed(b, p, other_field, p->consts[x->arg]);
    else if (x->op == OP_STR) buf_printf(b, "\"%s\"", p->strs[x->arg]);
    else put_node(b, p, t, k, true);
}

/* The members of an INMASK mask: "{a, b}", or "a" for one. */
static void put_members(Buf *b, const Prog *p, uint32_t f, uint64_t mask, bool *single)
{
    const PField *pf = &p->fields[f];
    unsigned n = 0;
    for (unsigned i = 0; i < 64; i++) n += (unsigned)(mask >> i & 1);
    *single = n == 1;
    if (!*single) buf_putc(b, '{');
    bool first = true;
    for (unsigned i = 0; i < 64 && i < pf->enum_count; i++) {
        if (!(mask >> i & 1)) continue;
        if (!first) buf_puts(b, ", ");
        buf_puts(b, member_name(p, pf, i));
        first = false;
    }
    if (!*single) buf_putc(b, '}');
}

static void put_node(Buf *b, const Prog *p, const XTree *t, int32_t k, bool nested)
{
    if (k < 0) {
        buf_puts(b, "?");
        return;
    }
    const XNode *x = &t->n[k];
    const XNode *a = x->a >= 0 ? &t->n[x->a] : NULL;
    switch (x->op) {
    case OP_LOAD: buf_puts(b, p->strs[p->fields[x->arg].name]); return;
    case OP_PRESENT: buf_printf(b, "present(%s)", p->strs[p->fields[x->arg].name]); return;
    case OP_TRUE: buf_puts(b, "true"); return;
    case OP_FALSE: buf_puts(b, "false"); return;
    case OP_CONST: buf_printf(b, "%" PRId64, p->consts[x->arg]); return;
    case OP_STR: buf_printf(b, "\"%s\"", p->strs[x->arg]); return;
    case OP_NOT:
        if (a && (a->op == OP_INSET || a->op == OP_ANYSET) && a->a >= 0) {
            put_node(b, p, t, a->a, true);
            buf_printf(b, " not %sin %s", a->op == OP_ANYSET ? "any " : "", p->strs[p->sets[a->arg].name]);
            return;
        }
        buf_puts(b, "not ");
        put_node(b, p, t, x->a, true);
        return;
    case OP_AND: case OP_OR:
        if (nested) buf_putc(b, '(');
        put_node(b, p, t, x->a, true);
        buf_puts(b, x->op == OP_AND ? " and " : " or ");
        put_node(b, p, t, x->b, true);
        if (nested) buf_putc(b, ')');
        return;
    case OP_INSET: case OP_ANYSET:
        put_node(b, p, t, x->a, true);
        buf_printf(b, " %sin %s", x->op == OP_ANYSET ? "any " : "", p->strs[p->sets[x->arg].name]);
        return;
    case OP_INMASK: {
        uint32_t f = a ? node_field(a) : PIDX_NONE;
        put_node(b, p, t, x->a, true);
        if (f == PIDX_NONE) {
            buf_printf(b, " in mask %" PRIu64, (uint64_t)p->consts[x->arg]);
            return;
        }
        Buf m = {0};
        bool single;
        put_members(&m, p, f, (uint64_t)p->consts[x->arg], &single);
        buf_puts(b, single ? " == " : " in ");
        buf_put(b, m.p, m.n);
        buf_free(&m);
        return;
    }
    case OP_ANYSTR:
        put_node(b, p, t, x->a, true);
        buf_printf(b, " has \"%s\"", p->strs[x->arg]);
        return;
    default: {
        uint32_t fa = node_field(&t->n[x->a]), fb = x->b >= 0 ? node_field(&t->n[x->b]) : PIDX_NONE;
        put_operand(b, p, t, x->a, fb);
        buf_printf(b, " %s ", cmp_text(x->op));
        if (x->b >= 0) put_operand(b, p, t, x->b, fa);
        return;
    }
    }
}

/* The fields node k reads, as a bit mask. */
static uint64_t fields_of(const XTree *t, int32_t k)
{
    if (k < 0) return 0;
    const XNode *x = &t->n[k];
    uint64_t m = (x->op == OP_LOAD || x->op == OP_PRESENT) ? (uint64_t)1 << x->arg : 0;
    return m | fields_of(t, x->a) | fields_of(t, x->b);
}

static void put_fields_list(Buf *b, const Prog *p, uint64_t mask)
{
    bool first = true;
    for (uint32_t f = 0; f < p->nfields; f++) {
        if (!(mask >> f & 1)) continue;
        buf_printf(b, "%s%s", first ? "" : ", ", p->strs[p->fields[f].name]);
        first = false;
    }
}

/* One condition line: the label, the condition, the values it reads and
 * its result. */
static void put_condition(Buf *b, const Prog *p, const Record *rec, const XTree *t, int32_t k,
                          const char *label)
{
    buf_printf(b, "    %-7s ", label);
    put_node(b, p, t, k, false);
    uint64_t reads = fields_of(t, k), missing = 0;
    int v = eval_bool(p, rec, t, k, &missing);
    if (reads) {
        buf_puts(b, "   [");
        bool first = true;
        for (uint32_t f = 0; f < p->nfields; f++) {
            if (!(reads >> f & 1)) continue;
            if (!first) buf_puts(b, "; ");
            put_field_value(b, p, rec, f);
            first = false;
        }
        buf_putc(b, ']');
    }
    if (v == X_UNKNOWN) {
        buf_puts(b, "  -> unknown, because ");
        put_fields_list(b, p, missing);
        buf_puts(b, missing & (missing - 1) ? " are missing\n" : " is missing\n");
    } else {
        buf_puts(b, v ? "  -> true\n" : "  -> false\n");
    }
}

/* Splits the root into its `when` and unless clauses (unless[] in source
 * order); returns the number of unless clauses found. */
static uint32_t split_rule(const XTree *t, uint32_t unless_count, int32_t *when, int32_t *unless)
{
    int32_t k = t->root;
    uint32_t n = 0;
    while (n < unless_count && k >= 0 && t->n[k].op == OP_AND && t->n[k].b >= 0 &&
           t->n[t->n[k].b].op == OP_NOT) {
        unless[unless_count - 1 - n] = t->n[t->n[k].b].a;
        k = t->n[k].a;
        n++;
    }
    if (n < unless_count) { /* not the emitter's shape: show it whole */
        *when = t->root;
        return 0;
    }
    *when = k;
    return n;
}

/* Appends the top-level terms of operator op under node k to v. */
static void terms_of(const XTree *t, int32_t k, uint8_t op, int32_t *v, uint32_t *n, uint32_t cap)
{
    if (k >= 0 && t->n[k].op == op) {
        terms_of(t, t->n[k].a, op, v, n, cap);
        terms_of(t, t->n[k].b, op, v, n, cap);
    } else if (*n < cap) {
        v[(*n)++] = k;
    }
}

/* The `when` condition, one line per conjunct of its top-level `and`. */
static void put_when(Buf *b, const Prog *p, const Record *rec, const XTree *t, int32_t k, bool *first)
{
    int32_t *v = xmalloc((t->count + 1) * sizeof *v);
    uint32_t n = 0;
    terms_of(t, k, OP_AND, v, &n, t->count + 1);
    for (uint32_t i = 0; i < n; i++) {
        put_condition(b, p, rec, t, v[i], *first ? "when" : "and");
        *first = false;
    }
    free(v);
}

static void put_rule_head(Buf *b, const Prog *p, uint32_t r)
{
    const PRule *rule = &p->rules[r];
    buf_printf(b, "  rule %s (line %u) \"%s\", %s: ", p->strs[rule->id], rule->line,
               rule->title != PIDX_NONE ? p->strs[rule->title] : "", out_outcome_name(rule->outcome));
}

static void put_deadline(Buf *b, const Obligation *o)
{
    char s[32];
    if (!o->has_deadline) {
        buf_puts(b, "no deadline");
        return;
    }
    if (o->deadline_is_date) date_format((int32_t)o->deadline, s);
    else datetime_format(o->deadline, s);
    buf_printf(b, "due %s", s);
}

static void put_obligations(Buf *b, const Prog *p, const Obligation *v, uint32_t n, bool certain)
{
    for (uint32_t k = 0; k < n; k++) {
        const Obligation *o = &v[k];
        buf_printf(b, "    %s", out_outcome_name(o->outcome));
        for (uint32_t j = 0; j < o->nreviewers; j++)
            buf_printf(b, "%s%s", j ? ", " : " by ", p->strs[o->reviewers[j]]);
        buf_puts(b, ", ");
        put_deadline(b, o);
        buf_puts(b, o->nrules > 1 ? ": rules " : ": rule ");
        for (uint32_t j = 0; j < o->nrules; j++)
            buf_printf(b, "%s%s", j ? ", " : "", p->strs[p->rules[o->rules[j]].id]);
        if (o->nrules > 1)
            buf_puts(b, " (one outcome and one set of reviewers: merged, the earliest deadline kept)");
        if (!certain) {
            buf_puts(b, "; open while ");
            put_fields_list(b, p, o->missing);
            buf_puts(b, o->missing & (o->missing - 1) ? " are missing" : " is missing");
        }
        buf_putc(b, '\n');
    }
}

void explain_rule_text(Buf *b, const Prog *p, uint32_t r)
{
    XTree t;
    read_block(p, r, &t);
    int32_t when, unless[64];
    uint32_t cap = p->rules[r].unless_count < 64 ? p->rules[r].unless_count : 0;
    uint32_t nu = split_rule(&t, cap, &when, unless);
    put_node(b, p, &t, when, false);
    for (uint32_t k = 0; k < nu; k++) {
        buf_puts(b, " unless ");
        put_node(b, p, &t, unless[k], false);
    }
    free(t.n);
}

void explain_decision(Buf *b, const Prog *p, const Record *rec, const Decision *d,
                      const char *const *show, size_t nshow)
{
    uint32_t *sel = xcalloc(p->nrules ? p->nrules : 1, sizeof *sel);
    uint32_t nsel = vm_selected(p, rec, sel);
    bool has_sd = p->f_service_date != PIDX_NONE && (rec->present >> p->f_service_date & 1);
    int32_t sd = has_sd ? (int32_t)rec->v[p->f_service_date].i : 0;
    uint32_t nwindow = 0;
    buf_printf(b, "  %u of %u rules selected (by the code index and the rules every record needs)\n",
               nsel, p->nrules);
    for (uint32_t s = 0; s < nsel; s++) {
        uint32_t r = sel[s];
        const PRule *rule = &p->rules[r];
        if (has_sd && (sd < rule->eff_from || sd > rule->eff_through)) {
            nwindow++;
            continue;
        }
        XTree t;
        read_block(p, r, &t);
        int32_t when, unless[64];
        uint32_t cap = rule->unless_count < 64 ? rule->unless_count : 0;
        uint32_t nu = split_rule(&t, cap, &when, unless);
        uint64_t missing = 0;
        int v = t.root >= 0 ? eval_bool(p, rec, &t, t.root, &missing) : X_UNKNOWN;
        bool shown = !show;
        for (size_t k = 0; !shown && k < nshow; k++) shown = strcmp(show[k], p->strs[rule->id]) == 0;
        if (v == 0 && !shown) {
            free(t.n);
            continue;
        }
        if (v == 0) {
            /* not fired: one line, the first condition that decided it */
            put_rule_head(b, p, r);
            buf_puts(b, "not fired\n");
            int32_t why = -1;
            const char *label = "when";
            for (int32_t k = when; why < 0 && k >= 0;) {
                const XNode *x = &t.n[k];
                int32_t part = x->op == OP_AND ? x->a : k;
                uint64_t m = 0;
                if (eval_bool(p, rec, &t, part, &m) == 0) why = part;
                else if (x->op == OP_AND) k = x->b;
                else break;
            }
            for (uint32_t k = 0; why < 0 && k < nu; k++) {
                uint64_t m = 0;
                if (eval_bool(p, rec, &t, unless[k], &m) == 1) why = unless[k], label = "unless";
            }
            if (why < 0) why = when;
            put_condition(b, p, rec, &t, why, label);
            free(t.n);
            continue;
        }
        put_rule_head(b, p, r);
        if (v == 1) buf_puts(b, "fired\n");
        else {
            buf_puts(b, "unknown, because ");
            put_fields_list(b, p, missing);
            buf_puts(b, missing & (missing - 1) ? " are missing\n" : " is missing\n");
        }
        bool first = true;
        put_when(b, p, rec, &t, when, &first);
        for (uint32_t k = 0; k < nu; k++) put_condition(b, p, rec, &t, unless[k], "unless");
        if (rule->outcome == OUT_EXEMPT && rule->exempt_all)
            buf_printf(b, "    %s every rule that is not an exemption\n", v == 1 ? "waives" : "may waive");
        for (uint32_t k = 0; k < rule->waive_count; k++)
            buf_printf(b, "    %s %s\n", v == 1 ? "waives" : "may waive",
                       p->strs[p->rules[p->refs[rule->waive_first + k]].id]);
        free(t.n);
    }
    if (nwindow) buf_printf(b, "  %u selected rule%s not in effect on the service date\n", nwindow, nwindow == 1 ? "" : "s");
    free(sel);

    buf_puts(b, "  obligations (certain whatever the missing fields are):\n");
    if (d->nobligations == 0) buf_puts(b, "    none\n");
    put_obligations(b, p, d->obligations, d->nobligations, true);
    if (d->npossible) {
        buf_puts(b, "  possible (what the missing fields could add):\n");
        put_obligations(b, p, d->possible, d->npossible, false);
    }
    switch (d->kind) {
    case PCR_DEC_INFO_NEEDED:
        buf_puts(b, "  decision info_needed: nothing is certain and a requirement is possible\n");
        break;
    case PCR_DEC_NONE:
        buf_puts(b, "  decision none: no requirement is certain or possible\n");
        break;
    default:
        buf_printf(b, "  decision %s: the strongest certain outcome\n",
                   d->kind == PCR_DEC_NOT_COVERED ? "not_covered"
                   : d->kind == PCR_DEC_PRIOR_AUTH ? "prior_auth" : "notification");
        break;
    }
}

/* ---- probing (coverage) -------------------------------------------------------- */

/* The unless alternatives of rule r's tree: node indices and clauses. */
static uint32_t alts_of(const Prog *p, uint32_t r, const XTree *t, int32_t *when, int32_t *alt,
                        uint32_t *clause)
{
    int32_t unless[64];
    uint32_t cap = p->rules[r].unless_count < 64 ? p->rules[r].unless_count : 0;
    uint32_t nu = split_rule(t, cap, when, unless), n = 0;
    for (uint32_t k = 0; k < nu; k++) {
        uint32_t before = n;
        terms_of(t, unless[k], OP_OR, alt, &n, EXPLAIN_MAX_ALTS);
        for (uint32_t j = before; j < n; j++) clause[j] = k;
    }
    return n;
}

void explain_probe(const Prog *p, uint32_t r, const Record *rec, RuleProbe *out)
{
    XTree t;
    read_block(p, r, &t);
    memset(out, 0, sizeof *out);
    int32_t when, alt[EXPLAIN_MAX_ALTS], terms[256];
    out->nalts = alts_of(p, r, &t, &when, alt, out->alt_clause);
    uint32_t nt = 0;
    terms_of(&t, when, OP_AND, terms, &nt, 256);
    out->terms = nt;
    uint64_t missing = 0;
    out->when = rec ? eval_bool(p, rec, &t, when, &missing) : X_UNKNOWN;
    for (uint32_t i = 0; i < nt; i++)
        if (!rec || eval_bool(p, rec, &t, terms[i], &missing) != 1) out->unmet++;
    for (uint32_t i = 0; i < out->nalts; i++)
        out->alt[i] = rec ? eval_bool(p, rec, &t, alt[i], &missing) : X_UNKNOWN;
    free(t.n);
}

void explain_alt_text(Buf *b, const Prog *p, uint32_t r, uint32_t i)
{
    XTree t;
    read_block(p, r, &t);
    int32_t when, alt[EXPLAIN_MAX_ALTS];
    uint32_t clause[EXPLAIN_MAX_ALTS];
    uint32_t n = alts_of(p, r, &t, &when, alt, clause);
    if (i < n) put_node(b, p, &t, alt[i], false);
    free(t.n);
}
