/* bc_verify.c: proving a Prog safe to run (the eBPF verifier in miniature).
 *
 * A Prog that passes bc_verify() can be evaluated on any record without an
 * out-of-range index, an unbounded loop or a stack overflow: every table
 * index is in range, every interval list is sorted, and each rule's block
 * is decoded instruction by instruction and interpreted abstractly over the
 * stack TYPES (opcodes.h) along every path.
 *
 * All state lives in one VEnv. A defect of the Prog is a user-facing
 * rejection with a one-line message naming the table entry, rule and offset;
 * a broken invariant of the verifier itself is an assert. */
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bc.h"
#include "bc_format.h"
#include "opcodes.h"

/* ---- the opcode table, generated from PCR_OPCODES ------------------------ */

static const BcOpInfo op_table[OP__COUNT] = {
#define OP_INFO(name, opnd, pops, pushes, doc) {#name, opnd, OPND_BYTES(opnd), pops, pushes},
    PCR_OPCODES(OP_INFO)
#undef OP_INFO
};

/* The generated description of op, or NULL when op is not an opcode. */
const BcOpInfo *bc_op_info(int op) { return op >= 0 && op < OP__COUNT ? &op_table[op] : NULL; }

/* Operand bytes of op (0 for none), -1 for a non-opcode (bc.h). */
int bc_operand_size(int op)
{
    const BcOpInfo *o = bc_op_info(op);
    return o ? o->opnd_size : -1;
}

/* "LOAD", ...; NULL for a non-opcode (bc.h). */
const char *bc_opcode_name(int op)
{
    const BcOpInfo *o = bc_op_info(op);
    return o ? o->name : NULL;
}

/* Little-endian operand of `size` bytes (0..4) at p; 0 when size is 0. */
uint32_t bc_get_operand(const uint8_t *p, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

/* ---- the environment ------------------------------------------------------ */

/* The abstract stack at one point of a block: one type letter per slot
 * (b i s c l m, as in opcodes.h), bottom first. */
typedef struct VState {
    uint32_t depth;
    uint32_t from; /* offset of the jump that carried this state (messages) */
    char t[PCR_MAX_STACK];
} VState;

typedef struct VEnv {
    const Prog *p;
    char *err;      /* the caller's buffer (may be NULL) */
    size_t errlen;
    bool failed;    /* the first message is kept */
    uint32_t rule;  /* rule being checked: messages start "rule N (id): ", or PIDX_NONE */
    int64_t at;     /* offset in the rule's block: "at N: ", or -1 */

    /* Abstract interpretation of one block. Every jump goes forward, so one
     * pass in offset order sees all of a point's predecessors first. */
    VState cur;     /* the stack before the instruction at pc, when live */
    bool live;      /* pc is reachable (by fall-through or a pending jump) */
    uint32_t *slot; /* slot[off]: 1 + index in pend of the state a jump carries to
                       off, or 0; sized for the longest block, zero between blocks */
    VState *pend;   /* states of pending jump targets */
    uint32_t npend, cappend;
} VEnv;

/* A printable, bounded copy of string s for messages ("?" if out of range). */
static const char *name_of(const Prog *p, uint32_t s, char *buf, size_t cap)
{
    if (s >= p->nstrs) return "?";
    size_t n = p->strlens[s], k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++) {
        unsigned char c = (unsigned char)p->strs[s][i];
        buf[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (k < n) {
        while (k > 0 && ((unsigned char)buf[k - 1] & 0xc0) == 0x80) k--; /* no cut UTF-8 */
        if (k > 0 && (unsigned char)buf[k - 1] >= 0xc0) k--;
        buf[k++] = '.', buf[k++] = '.', buf[k++] = '.';
    }
    buf[k] = '\0';
    return buf;
}

static bool fail(VEnv *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(VEnv *e, const char *fmt, ...)
{
    if (e->failed) return false;
    e->failed = true;
    if (!e->err || !e->errlen) return false;
    char prefix[128] = "", name[48];
    size_t k = 0;
    if (e->rule != PIDX_NONE) {
        const PRule *r = &e->p->rules[e->rule];
        k = (size_t)snprintf(prefix, sizeof prefix, "rule %u", e->rule);
        if (r->id < e->p->nstrs)
            k += (size_t)snprintf(prefix + k, sizeof prefix - k, " (%s)",
                                  name_of(e->p, r->id, name, sizeof name));
        k += (size_t)snprintf(prefix + k, sizeof prefix - k, ": ");
    }
    if (e->at >= 0) snprintf(prefix + k, sizeof prefix - k, "at %lld: ", (long long)e->at);
    size_t n = (size_t)snprintf(e->err, e->errlen, "%s", prefix);
    if (n < e->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->err + n, e->errlen - n, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* ---- table checks ---------------------------------------------------------- */

static bool check_str(VEnv *e, uint32_t s, const char *what)
{
    if (s < e->p->nstrs) return true;
    return fail(e, "%s: string %u out of range (%u strings)", what, s, e->p->nstrs);
}

static bool check_opt_str(VEnv *e, uint32_t s, const char *what)
{
    return s == PIDX_NONE || check_str(e, s, what);
}

/* refs[first .. first + count) must exist. */
static bool check_refs(VEnv *e, uint32_t first, uint32_t count, const char *what)
{
    if (first <= e->p->nrefs && count <= e->p->nrefs - first) return true;
    return fail(e, "%s: refs %u+%u out of range (%u refs)", what, first, count, e->p->nrefs);
}

/* refs[first .. first + count) must be string indices. */
static bool check_str_list(VEnv *e, uint32_t first, uint32_t count, const char *what)
{
    if (!check_refs(e, first, count, what)) return false;
    for (uint32_t i = 0; i < count; i++)
        if (!check_str(e, e->p->refs[first + i], what)) return false;
    return true;
}

/* A rule's citations: pairs in refs of a document and a section or NONE. */
static bool check_cites(VEnv *e, const PRule *r)
{
    if (r->cite_count > e->p->nrefs / 2) return fail(e, "cites: %u citations", r->cite_count);
    if (!check_refs(e, r->cite_first, r->cite_count * 2, "cites")) return false;
    for (uint32_t k = 0; k < r->cite_count; k++)
        if (!check_str(e, e->p->refs[r->cite_first + 2 * k], "cite") ||
            !check_opt_str(e, e->p->refs[r->cite_first + 2 * k + 1], "cite section"))
            return false;
    return true;
}

/* A table with entries must have its array (a Prog built in memory). */
static bool check_arrays(VEnv *e)
{
    const Prog *p = e->p;
    const struct {
        uint32_t n;
        const void *a;
        const char *name;
    } t[] = {
        {p->nstrs, p->strs, "strings"},       {p->nstrs, p->strlens, "string lengths"},
        {p->nconsts, p->consts, "constants"}, {p->nrefs, p->refs, "refs"},
        {p->nfields, p->fields, "fields"},    {p->nsets, p->sets, "sets"},
        {p->nranges, p->ranges, "ranges"},    {p->nrules, p->rules, "rules"},
        {p->nsegs, p->segs, "index segments"}, {p->nseg_rules, p->seg_rules, "segment rules"},
        {p->nalways, p->always, "always list"}, {p->nholidays, p->holidays, "holidays"},
        {p->ncode, p->code, "code"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].n && !t[i].a) return fail(e, "table '%s' has %u entries but no data", t[i].name, t[i].n);
    for (uint32_t i = 0; i < p->nstrs; i++)
        if (!p->strs[i]) return fail(e, "string %u has no data", i);
    return true;
}

static bool check_header(VEnv *e)
{
    const Prog *p = e->p;
    return check_str(e, p->id, "policy id") && check_str(e, p->payer, "policy payer") &&
           check_str(e, p->title, "policy title") && check_str(e, p->version, "policy version") &&
           check_opt_str(e, p->source_doc, "policy source") &&
           check_opt_str(e, p->source_title, "policy source title") &&
           check_opt_str(e, p->reviewer, "policy reviewer") &&
           check_str_list(e, p->contact_first, p->contact_count, "policy contacts") &&
           check_str_list(e, p->payer_first, p->payer_count, "policy payers") &&
           (p->eff_from <= p->eff_through ||
            fail(e, "policy effective window ends before it starts"));
}

static bool type_valid(unsigned t) { return t >= VT_BOOL && t <= VT_LIST; }

static bool is_code_field(const PField *f)
{
    return f->type == VT_CODE || (f->type == VT_LIST && f->elem == VT_CODE);
}

enum { SYS_VALID_MASK = ((1u << SYS_COUNT) - 1) & ~1u };

static bool check_field(VEnv *e, uint32_t i)
{
    const Prog *p = e->p;
    const PField *f = &p->fields[i];
    char what[96], nm[48];
    snprintf(what, sizeof what, "field %u", i);
    if (!check_str(e, f->name, what)) return false;
    snprintf(what, sizeof what, "field %u (%s)", i, name_of(p, f->name, nm, sizeof nm));

    if (!type_valid(f->type)) return fail(e, "%s: unknown type %u", what, f->type);
    if (f->type == VT_LIST ? f->elem != VT_CODE && f->elem != VT_STRING : f->elem != 0)
        return fail(e, "%s: element type %u invalid for a %s field", what, f->elem,
                    prog_type_name(f->type));
    if (f->flags & ~(PF_REQUIRED | PF_DEFAULT))
        return fail(e, "%s: unknown flags 0x%02x", what, f->flags);
    if (f->flags & PF_DEFAULT) {
        switch (f->type) {
        case VT_STRING:
        case VT_CODE:
        case VT_LIST: return fail(e, "%s: a %s field cannot have a default", what, prog_type_name(f->type));
        case VT_BOOL:
            if (f->deflt != 0 && f->deflt != 1)
                return fail(e, "%s: bool default %lld is not 0 or 1", what, (long long)f->deflt);
            break;
        case VT_ENUM:
            if (f->deflt < 0 || f->deflt >= (int64_t)f->enum_count)
                return fail(e, "%s: default member %lld out of range (%u members)", what,
                            (long long)f->deflt, f->enum_count);
            break;
        default: break;
        }
    }
    if (is_code_field(f)) {
        if (f->systems == 0 || (f->systems & ~SYS_VALID_MASK))
            return fail(e, "%s: invalid code system mask 0x%02x", what, f->systems);
    } else if (f->systems != 0) {
        return fail(e, "%s: code systems given for a %s field", what, prog_type_name(f->type));
    }
    if (f->type == VT_ENUM) {
        if (f->enum_count > 64)
            return fail(e, "%s: %u enum members (at most 64)", what, f->enum_count);
        if (!check_str_list(e, f->enum_first, f->enum_count, what)) return false;
    }
    return true;
}

/* A code field's system tag (checked once every field's own entries are). */
static bool check_tag_field(VEnv *e, uint32_t i)
{
    const Prog *p = e->p;
    const PField *f = &p->fields[i];
    if (f->type != VT_CODE || f->tag_field == PIDX_NONE) return true;
    char nm[48], tn[48];
    const char *name = name_of(p, f->name, nm, sizeof nm);
    if (f->tag_field >= p->nfields)
        return fail(e, "field %u (%s): system field %u out of range (%u fields)", i, name,
                    f->tag_field, p->nfields);
    const PField *t = &p->fields[f->tag_field];
    if (t->type != VT_ENUM)
        return fail(e, "field %u (%s): system field %u (%s) is not an enum", i, name,
                    f->tag_field, name_of(p, t->name, tn, sizeof tn));
    for (uint32_t m = 0; m < t->enum_count; m++) {
        uint32_t s = p->refs[t->enum_first + m];
        if (code_system_from_name(p->strs[s], p->strlens[s]) == SYS_NONE)
            return fail(e, "field %u (%s): system field member '%s' is not a code system", i,
                        name, name_of(p, s, tn, sizeof tn));
    }
    return true;
}

/* One of the fields the engine needs: f_id, f_payer, ... */
static bool check_role(VEnv *e, uint32_t f, const char *role, unsigned type, bool optional,
                       bool required)
{
    const Prog *p = e->p;
    if (f == PIDX_NONE && optional) return true;
    if (f >= p->nfields)
        return fail(e, "schema: %s field %u out of range (%u fields)", role, f, p->nfields);
    char nm[48];
    const PField *fd = &p->fields[f];
    /* The decoder finds these fields by name (the id it echoes is the "id"
     * member), so the role and the name must agree. */
    size_t rn = strlen(role);
    if (p->strlens[fd->name] != rn || memcmp(p->strs[fd->name], role, rn) != 0)
        return fail(e, "schema: the %s field (field %u) is called %s, not %s", role, f,
                    name_of(p, fd->name, nm, sizeof nm), role);
    if (fd->type != type)
        return fail(e, "schema: %s field %u (%s) must be a %s, not a %s", role, f,
                    name_of(p, fd->name, nm, sizeof nm), prog_type_name(type), prog_type_name(fd->type));
    if (required && !(fd->flags & PF_REQUIRED))
        return fail(e, "schema: %s field %u (%s) must be required", role, f,
                    name_of(p, fd->name, nm, sizeof nm));
    return true;
}

/* The field the rule index is keyed on (f_code): NONE, a code field or a
 * list of codes, whatever its name. */
static bool check_index_field(VEnv *e, uint32_t f)
{
    const Prog *p = e->p;
    if (f == PIDX_NONE) return true;
    if (f >= p->nfields)
        return fail(e, "schema: index field %u out of range (%u fields)", f, p->nfields);
    const PField *fd = &p->fields[f];
    if (fd->type == VT_CODE || (fd->type == VT_LIST && fd->elem == VT_CODE)) return true;
    char nm[48];
    return fail(e, "schema: index field %u (%s) must be a code or a list of codes, not a %s", f,
                name_of(p, fd->name, nm, sizeof nm), prog_type_name(fd->type));
}

static bool check_schema(VEnv *e)
{
    const Prog *p = e->p;
    if (p->nfields > PCR_MAX_FIELDS)
        return fail(e, "schema: %u fields (at most %d)", p->nfields, PCR_MAX_FIELDS);
    for (uint32_t i = 0; i < p->nfields; i++)
        if (!check_field(e, i)) return false;
    for (uint32_t i = 0; i < p->nfields; i++) {
        if (!check_tag_field(e, i)) return false;
        uint32_t a = p->fields[i].name;
        for (uint32_t j = 0; j < i; j++) {
            uint32_t b = p->fields[j].name;
            if (p->strlens[a] == p->strlens[b] && memcmp(p->strs[a], p->strs[b], p->strlens[a]) == 0) {
                char nm[48];
                return fail(e, "field %u (%s): same name as field %u", i,
                            name_of(p, a, nm, sizeof nm), j);
            }
        }
    }
    return check_role(e, p->f_id, "id", VT_STRING, false, true) &&
           check_role(e, p->f_payer, "payer", VT_STRING, false, true) &&
           check_role(e, p->f_service_date, "service_date", VT_DATE, false, true) &&
           check_role(e, p->f_requested_at, "requested_at", VT_DATETIME, true, false) &&
           check_index_field(e, p->f_code) &&
           check_role(e, p->f_service_at, "service_at", VT_DATETIME, true, false);
}

/* "KIND I", what a message says of entry i of a table: formatted only
 * for a message (a policy has thousands of entries, each checked on every
 * load). */
static const char *entry_what(const char *kind, uint32_t i, char *what, size_t cap)
{
    snprintf(what, cap, "%s %u", kind, i);
    return what;
}

/* check_str for the name of entry i of a table, named "KIND I" in a
 * message (entry_what). */
static bool check_entry_str(VEnv *e, uint32_t s, const char *kind, uint32_t i)
{
    char what[48];
    return s < e->p->nstrs || check_str(e, s, entry_what(kind, i, what, sizeof what));
}

/* "set I (NAME)", for a message about set i, whose name is a string. */
static const char *set_what(const Prog *p, uint32_t i, char *what, size_t cap)
{
    char nm[48];
    snprintf(what, cap, "set %u (%s)", i, name_of(p, p->sets[i].name, nm, sizeof nm));
    return what;
}

static bool check_sets(VEnv *e)
{
    const Prog *p = e->p;
    for (uint32_t i = 0; i < p->nsets; i++) {
        const PSet *s = &p->sets[i];
        char what[96];
        if (!check_entry_str(e, s->name, "set", i)) return false;
        if (s->count > PCR_MAX_SET_RANGES)
            return fail(e, "%s: %u ranges (at most %d)", set_what(p, i, what, sizeof what), s->count,
                        PCR_MAX_SET_RANGES);
        if (s->first > p->nranges || s->count > p->nranges - s->first)
            return fail(e, "%s: ranges %u+%u out of range (%u ranges)", set_what(p, i, what, sizeof what),
                        s->first, s->count, p->nranges);
        const CodeRange *r = p->ranges + s->first;
        for (uint32_t k = 0; k < s->count; k++) {
            if (r[k].lo > r[k].hi)
                return fail(e, "%s: range %u has lo > hi", set_what(p, i, what, sizeof what), k);
            if (k > 0 && r[k - 1].hi >= r[k].lo)
                return fail(e, "%s: ranges %u and %u are not sorted and disjoint",
                            set_what(p, i, what, sizeof what), k - 1, k);
        }
    }
    return true;
}

static bool check_rule(VEnv *e, uint32_t i)
{
    const Prog *p = e->p;
    const PRule *r = &p->rules[i];
    e->rule = PIDX_NONE;
    if (!check_entry_str(e, r->id, "rule", i)) return false;
    e->rule = i; /* from here on, messages name the rule */
    if (!check_str(e, r->title, "title") || !check_cites(e, r) ||
        !check_str_list(e, r->rev_first, r->rev_count, "reviewers") ||
        !check_refs(e, r->waive_first, r->waive_count, "waives"))
        return false;
    if (!bc_outcome_name(r->outcome)) return fail(e, "unknown outcome %u", r->outcome);
    if (r->exempt_all > 1) return fail(e, "exempt_all is %u (must be 0 or 1)", r->exempt_all);
    if (r->outcome != OUT_EXEMPT && (r->exempt_all || r->waive_count))
        return fail(e, "waives rules but is not an exemption");
    if (r->exempt_all && r->waive_count) return fail(e, "exempt all with a list of rules");
    for (uint32_t k = 0; k < r->waive_count; k++) {
        uint32_t w = p->refs[r->waive_first + k];
        if (w >= p->nrules) return fail(e, "waives rule %u of %u", w, p->nrules);
    }
    if (r->dl_unit == 0) {
        if (r->dl_dir || r->dl_amount)
            return fail(e, "deadline direction or amount without a unit");
    } else {
        if (!bc_unit_name(r->dl_unit)) return fail(e, "unknown deadline unit %u", r->dl_unit);
        if (!bc_dir_name(r->dl_dir)) return fail(e, "unknown deadline direction %u", r->dl_dir);
        if (r->dl_amount < 0 || r->dl_amount > BC_MAX_DEADLINE)
            return fail(e, "deadline amount %d out of range 0..%d", r->dl_amount, BC_MAX_DEADLINE);
    }
    if (r->eff_from > r->eff_through) return fail(e, "effective window ends before it starts");
    if (r->code_len == 0) return fail(e, "empty code block");
    if (r->code_off > p->ncode || r->code_len > p->ncode - r->code_off)
        return fail(e, "code block %u+%u outside the code section (%u bytes)", r->code_off,
                    r->code_len, p->ncode);
    /* each unless takes at least JFALSE, a value, NOT and AND: 6 bytes */
    if (r->unless_count > r->code_len / 6)
        return fail(e, "%u unless clauses in a block of %u bytes", r->unless_count, r->code_len);
    if (r->index_set != PIDX_NONE && r->index_set >= p->nsets)
        return fail(e, "index set %u out of range (%u sets)", r->index_set, p->nsets);
    e->rule = PIDX_NONE;
    return true;
}

typedef struct Block {
    uint32_t off, len, rule;
} Block;

static int cmp_block(const void *a, const void *b)
{
    const Block *x = a, *y = b;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* Blocks may not overlap: besides catching corrupt offsets, this bounds the
 * verifier's work by the size of the code section. */
static bool check_blocks_disjoint(VEnv *e)
{
    const Prog *p = e->p;
    if (p->nrules < 2) return true;
    Block *b = xmalloc(p->nrules * sizeof *b);
    for (uint32_t i = 0; i < p->nrules; i++)
        b[i] = (Block){p->rules[i].code_off, p->rules[i].code_len, i};
    qsort(b, p->nrules, sizeof *b, cmp_block);
    bool ok = true;
    for (uint32_t i = 1; i < p->nrules && ok; i++) {
        if ((uint64_t)b[i - 1].off + b[i - 1].len > b[i].off) {
            char nm[48];
            e->rule = b[i].rule;
            ok = fail(e, "code block overlaps rule %u (%s)", b[i - 1].rule,
                      name_of(p, p->rules[b[i - 1].rule].id, nm, sizeof nm));
            e->rule = PIDX_NONE;
        }
    }
    free(b);
    return ok;
}

static bool check_rules(VEnv *e)
{
    if (e->p->nrules > PCR_MAX_RULES)
        return fail(e, "rules: %u rules (at most %d)", e->p->nrules, PCR_MAX_RULES);
    for (uint32_t i = 0; i < e->p->nrules; i++)
        if (!check_rule(e, i)) return false;
    return check_blocks_disjoint(e);
}

/* A strictly ascending list of rule indices. indexed: every rule named must
 * have an index set (segments) or must have none (the always list).
 * Messages name the list "KIND I" (entry_what), or KIND when i is
 * PIDX_NONE (list_what). */
static const char *list_what(const char *kind, uint32_t i, char *what, size_t cap)
{
    return i == PIDX_NONE ? kind : entry_what(kind, i, what, cap);
}

static bool check_rule_list(VEnv *e, const uint32_t *v, uint32_t n, bool indexed, const char *kind,
                            uint32_t i)
{
    const Prog *p = e->p;
    char nm[48], w[48];
    for (uint32_t k = 0; k < n; k++) {
        if (v[k] >= p->nrules)
            return fail(e, "%s names rule %u of %u", list_what(kind, i, w, sizeof w), v[k], p->nrules);
        if (k > 0 && v[k - 1] >= v[k])
            return fail(e, "%s: rules not ascending", list_what(kind, i, w, sizeof w));
        const PRule *r = &p->rules[v[k]];
        if ((r->index_set != PIDX_NONE) != indexed)
            return fail(e, "%s names rule %u (%s), which is %s", list_what(kind, i, w, sizeof w), v[k],
                        name_of(p, r->id, nm, sizeof nm), indexed ? "not indexed" : "indexed");
    }
    return true;
}

static bool check_index(VEnv *e)
{
    const Prog *p = e->p;
    for (uint32_t i = 0; i < p->nsegs; i++) {
        const PSeg *s = &p->segs[i];
        char what[48];
        if (s->lo > s->hi)
            return fail(e, "%s has lo > hi", entry_what("index segment", i, what, sizeof what));
        if (i > 0 && p->segs[i - 1].hi >= s->lo)
            return fail(e, "index segments %u and %u are not sorted and disjoint", i - 1, i);
        if (s->first > p->nseg_rules || s->count > p->nseg_rules - s->first)
            return fail(e, "%s: rules %u+%u out of range (%u entries)",
                        entry_what("index segment", i, what, sizeof what), s->first, s->count, p->nseg_rules);
        if (!check_rule_list(e, p->seg_rules + s->first, s->count, true, "index segment", i)) return false;
    }
    if (!check_rule_list(e, p->always, p->nalways, false, "always list", PIDX_NONE)) return false;
    /* Ascending, distinct and all unindexed: equal counts make it exactly
     * the set of unindexed rules. */
    uint32_t unindexed = 0;
    for (uint32_t i = 0; i < p->nrules; i++) unindexed += p->rules[i].index_set == PIDX_NONE;
    if (unindexed != p->nalways)
        return fail(e, "always list has %u rules, but %u rules are not indexed", p->nalways,
                    unindexed);
    return true;
}

static bool check_holidays(VEnv *e)
{
    const Prog *p = e->p;
    for (uint32_t i = 1; i < p->nholidays; i++)
        if (p->holidays[i - 1] >= p->holidays[i])
            return fail(e, "holidays %u and %u are not sorted and distinct", i - 1, i);
    return true;
}

/* ---- code: decoding and abstract interpretation -------------------------- */

static const char *sprog_type_name(char t)
{
    switch (t) {
    case 'b': return "bool";
    case 'i': return "int";
    case 's': return "string";
    case 'c': return "code";
    case 'l': return "code list";
    case 'm': return "string list";
    default: return "?";
    }
}

/* The stack type LOAD pushes for a field. */
static char load_type(const PField *f)
{
    switch (f->type) {
    case VT_BOOL: return 'b';
    case VT_STRING: return 's';
    case VT_CODE: return 'c';
    case VT_LIST: return f->elem == VT_CODE ? 'l' : 'm';
    default: return 'i'; /* int, money, date, datetime, enum */
    }
}

/* "[b i]": a stack for messages (at most PCR_MAX_STACK letters). */
static const char *stack_text(const VState *s, char *buf)
{
    size_t k = 0;
    buf[k++] = '[';
    for (uint32_t i = 0; i < s->depth; i++) {
        if (i) buf[k++] = ' ';
        buf[k++] = s->t[i];
    }
    buf[k++] = ']';
    buf[k] = '\0';
    return buf;
}

static bool same_stack(const VState *a, const VState *b)
{
    return a->depth == b->depth && memcmp(a->t, b->t, a->depth) == 0;
}

static bool paths_differ(VEnv *e, uint32_t at, const VState *a, const VState *b)
{
    char x[2 * PCR_MAX_STACK + 3], y[2 * PCR_MAX_STACK + 3];
    e->at = at;
    return fail(e, "paths meet with different stacks (%s and %s)", stack_text(a, x),
                stack_text(b, y));
}

/* Records that the current state reaches `target` by a jump from `from`. */
static bool add_jump(VEnv *e, uint32_t from, uint32_t target)
{
    if (e->slot[target]) {
        const VState *s = &e->pend[e->slot[target] - 1];
        return same_stack(s, &e->cur) || paths_differ(e, target, s, &e->cur);
    }
    if (e->npend == e->cappend) {
        e->cappend = e->cappend ? 2 * e->cappend : 16;
        e->pend = xrealloc(e->pend, e->cappend * sizeof *e->pend);
    }
    e->pend[e->npend] = e->cur;
    e->pend[e->npend].from = from;
    e->slot[target] = ++e->npend;
    return true;
}

/* Checks an instruction's operand against the table it indexes. */
static bool check_operand(VEnv *e, const BcOpInfo *o, uint32_t v)
{
    const Prog *p = e->p;
    uint32_t n;
    const char *table;
    switch (o->opnd) {
    case OPND_FIELD: n = p->nfields, table = "field"; break;
    case OPND_CONST: n = p->nconsts, table = "constant"; break;
    case OPND_STR: n = p->nstrs, table = "string"; break;
    case OPND_SET: n = p->nsets, table = "set"; break;
    case OPND_FIELD_SET:
    case OPND_FIELD_CONST:
        if ((v & 0xFF) >= p->nfields)
            return fail(e, "%s field %u out of range (%u fields)", o->name, v & 0xFF, p->nfields);
        v >>= 8;
        n = o->opnd == OPND_FIELD_SET ? p->nsets : p->nconsts;
        table = o->opnd == OPND_FIELD_SET ? "set" : "constant";
        break;
    default: return true;
    }
    if (v < n) return true;
    return fail(e, "%s %s %u out of range (%u %ss)", o->name, table, v, n, table);
}

static bool step(VEnv *e, int op, const BcOpInfo *o, uint32_t operand);

/* A fused instruction's stack effect: its parts (opcodes.h, PCR_FUSED),
 * LOAD of the field, then the second part, then the third, each checked
 * as if written out. */
static bool step_fused(VEnv *e, FusedParts f, uint32_t operand)
{
    if (!step(e, OP_LOAD, bc_op_info(OP_LOAD), operand & 0xFF) ||
        !step(e, f.second, bc_op_info(f.second), operand >> 8))
        return false;
    return f.third < 0 || step(e, f.third, bc_op_info(f.third), 0);
}

/* Applies one instruction's stack effect to e->cur. */
static bool step(VEnv *e, int op, const BcOpInfo *o, uint32_t operand)
{
    VState *s = &e->cur;
    FusedParts fused = opcode_fused((unsigned)op);
    if (fused.is_fused) return step_fused(e, fused, operand);
    uint32_t npops = (uint32_t)strlen(o->pops);
    if (s->depth < npops)
        return fail(e, "stack underflow: %s needs %u values, stack has %u", o->name, npops,
                    s->depth);
    for (uint32_t k = 0; k < npops; k++) {
        char have = s->t[s->depth - npops + k];
        if (have != o->pops[k])
            return fail(e, "%s expects %s, found %s", o->name, sprog_type_name(o->pops[k]),
                        sprog_type_name(have));
    }
    s->depth -= npops;
    if (op == OP_RET && s->depth != 0)
        return fail(e, "RET with %u values on the stack (needs exactly 1)", s->depth + 1);
    for (const char *t = o->pushes; *t; t++) {
        if (s->depth == PCR_MAX_STACK)
            return fail(e, "stack overflow (more than %d values)", PCR_MAX_STACK);
        char pushed = *t == '?' ? load_type(&e->p->fields[operand]) : *t;
        assert(strchr("bisclm", pushed)); /* opcodes.h uses only these letters */
        s->t[s->depth++] = pushed;
    }
    return true;
}

/* Verifies rule r's block: decoding, operands, jumps, and the stack types
 * along every path, which must all end at a RET leaving one bool. */
static bool check_block(VEnv *e, uint32_t r)
{
    const PRule *ru = &e->p->rules[r];
    const uint8_t *code = e->p->code + ru->code_off;
    uint32_t n = ru->code_len, pc = 0;
    bool ok = true;
    e->rule = r;
    e->cur.depth = 0;
    e->live = true;
    e->npend = 0;
    while (ok && pc < n) {
        e->at = pc;
        if (e->slot[pc]) {
            const VState *s = &e->pend[e->slot[pc] - 1];
            if (!e->live) e->cur = *s, e->live = true;
            else if (!same_stack(&e->cur, s)) ok = paths_differ(e, pc, &e->cur, s);
            if (!ok) break;
        }
        if (!e->live) {
            ok = fail(e, "unreachable instruction");
            break;
        }
        const BcOpInfo *o = bc_op_info(code[pc]);
        if (!o) {
            ok = fail(e, "unknown opcode %u", code[pc]);
            break;
        }
        uint32_t size = 1u + o->opnd_size;
        if (size > n - pc) {
            ok = fail(e, "%s operand extends past the end of the block", o->name);
            break;
        }
        for (uint32_t k = pc + 1; k < pc + size; k++) {
            if (e->slot[k]) {
                const VState *s = &e->pend[e->slot[k] - 1];
                e->at = s->from;
                ok = fail(e, "jump target %u is inside the instruction at %u", k, pc);
                break;
            }
        }
        if (!ok) break;
        uint32_t v = bc_get_operand(code + pc + 1, o->opnd_size);
        if (!check_operand(e, o, v) || !step(e, code[pc], o, v)) {
            ok = false;
            break;
        }
        if (o->opnd == OPND_JUMP) {
            uint64_t target = (uint64_t)pc + size + v;
            if (target >= n) {
                ok = fail(e, "jump target %llu out of range", (unsigned long long)target);
                break;
            }
            ok = add_jump(e, pc, (uint32_t)target);
        }
        if (code[pc] == OP_RET) e->live = false;
        pc += size;
    }
    if (ok && e->live) {
        e->at = n;
        ok = fail(e, "control reaches the end of the block without RET");
    }
    memset(e->slot, 0, n * sizeof *e->slot); /* ready for the next block */
    e->rule = PIDX_NONE;
    e->at = -1;
    return ok;
}

static bool check_code(VEnv *e)
{
    const Prog *p = e->p;
    uint32_t longest = 0;
    for (uint32_t i = 0; i < p->nrules; i++)
        if (p->rules[i].code_len > longest) longest = p->rules[i].code_len;
    e->slot = xcalloc((size_t)longest + 1, sizeof *e->slot);
    bool ok = true;
    for (uint32_t i = 0; i < p->nrules && ok; i++) ok = check_block(e, i);
    free(e->slot);
    free(e->pend);
    e->slot = NULL;
    e->pend = NULL;
    return ok;
}

/* True when p is safe to run; otherwise false with one line in err (bc.h).
 * Allocates only scratch, freed before returning. */
bool bc_verify(const Prog *p, char *err, size_t errlen)
{
    VEnv e = {.p = p, .err = err, .errlen = errlen, .rule = PIDX_NONE, .at = -1};
    if (err && errlen) err[0] = '\0';
    return check_arrays(&e) && check_header(&e) && check_schema(&e) && check_sets(&e) &&
           check_rules(&e) && check_index(&e) && check_holidays(&e) && check_code(&e);
}
