/* vm.c: the evaluator. Runs rule condition blocks over one decoded record
 * and combines their three-valued results into a Decision
 * (docs/language.md, "How a decision is made"; src/vm.h is the contract).
 *
 * Values. A stack slot holds an integer (bool 0/1, int, cents, days,
 * seconds, enum index, CodeKey), a string (pointer and length) or a list
 * (first index into rec->items and a count), plus a state: a value, unknown
 * or none. An unknown value comes from LOAD of an absent field that has no
 * default; every operation with an unknown input yields unknown, except
 * that AND/OR follow Kleene's logic (false AND unknown = false, true OR
 * unknown = true). A none value comes from LOAD of a field the record gave
 * as null ("does not apply"): every test of it is a known false (`!=` is
 * true: it is the negation of `==`), whatever the other operand; a bool
 * field that does not apply loads as false.
 *
 * Dispatch. One loop written with VM_DISPATCH / VM_CASE / VM_NEXT: computed
 * goto (a label table generated from opcodes.h, one indirect jump at the end
 * of every handler) where the compiler has labels as values (GCC, Clang:
 * __GNUC__), else a switch; -DPCR_DISPATCH_SWITCH forces the switch
 * (dispatch.h decides; make test builds that pcrvm too and checks both
 * decide byte for byte alike, tests/dispatch/run.sh). Debug builds
 * (!NDEBUG) assert every instruction's operands and stack types against
 * the opcode table before running it (SQLite's OPFLG idea); release builds
 * trust bc_verify().
 *
 * Per-record cost. Rules are selected through the code index (p->segs),
 * the rules outside it through the filter by the fields their guards test
 * (one AND of bit masks per field) and the fold of their `or` of code-set
 * tests into the code table, and then their guards
 * (tests of one field that, when they fail, or when an `unless` of that
 * shape holds, or an `or` of cheap tests that all fail, make the rule false
 * on every path), so a rule whose guard rules it out is not run; a block
 * that is an `and` chain of tests is decided from its steps without
 * running it (vm_chain). All of
 * that is derived once per policy by vm_index.c (vi_of; vm_index.h is
 * the contract and holds the inline readers); this file keeps what changes
 * per record. A record's codes are looked up once in the code table
 * (vm_ct_mark: the segment, and every set that holds each code, stamped),
 * so `code in S` is a comparison (vm_in_set), and the folded rules its
 * codes select are gathered then (vm_folded). Nothing in a decision walks
 * all rules: per-rule facts ("fired in this record", "waived in this
 * record") are epoch stamps, so a new record only bumps the epoch instead
 * of clearing nrules entries; the per-record caches (sets, folded rules)
 * are keyed on vm->stamp likewise. */
#include "vm.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "codes.h"
#include "dates.h"
#include "dispatch.h"

#include "opcodes.h"
#include "vm_index.h"

/* A field of ViIndex.fold_fields, as vm_folded walks them (vm_new). */
typedef struct VmFoldField {
    uint8_t field;
    uint8_t slot;  /* ViIndex.slot_of[field] */
    uint8_t list;  /* 1: a list of codes, 0: one code */
} VmFoldField;

/* Slot.st: 0 for a value, else these bits. */
enum { ST_UNKNOWN = 1, ST_NONE = 2 };

typedef struct Slot {
    int64_t i;     /* b: 0/1; i: the integer; c: CodeKey; l, m: first element in rec->items */
    const char *s; /* s: the bytes (not NUL-terminated; may be NULL when n == 0) */
    uint32_t n;    /* s: byte length; l, m: element count */
    uint8_t st;    /* 0: a value; ST_UNKNOWN: the third truth value, an absent field;
                      ST_NONE: a field that does not apply (never a bool) */
#ifndef NDEBUG
    char kind; /* debug: the stack letter of opcodes.h, set and checked by vm_check */
#endif
} Slot;

struct Vm {
    const Prog *p;
    ViIndex ix;                 /* p's index (vi_of: shared by every VM of p, read-only;
                                   this copy of its pointers owns nothing) */
    ViMemo *ct_memo;            /* 2^VI_MEMO_BITS prefixes and their intervals */
    ViKeyMemo *key_memo;        /* 2^VI_KEY_MEMO_BITS keys and their intervals */
    uint32_t stamp;             /* the record being evaluated (vm_decide, vm_eval_rule):
                                   keys the per-record caches below; never 0 */
    uint32_t *rule_at;          /* per rule: stamp when vm_folded took it */
    uint32_t *slot_iv;          /* per code slot of a single code: its interval, set with
                                   slot_at (UINT32_MAX: none) */
    uint32_t *slot_at;          /* per code slot: stamp when its sets were marked */
    uint32_t *set_at;           /* [slot * nsets + s]: stamp when the slot's code (or a code
                                   of its list) was found in set s */
    uint32_t *sel;              /* the rules selected for the record (vm_select) */
    uint32_t *sel2;             /* scratch: the folded rules selected (vm_folded) */
    uint32_t *always;           /* scratch: the always rules to consider (vi_always) */
    Holidays holidays;          /* p's calendar, for business-day deadlines */
    uint32_t epoch;             /* stamp of the record being decided; never 0 */
    uint32_t *fired_at;         /* per rule: epoch of the last record in which it fired */
    uint32_t *waived_at;        /* per rule: epoch of the last record in which a fired
                                   exemption named it (certainly waived) */
    uint32_t *pwaived_at;       /* per rule: epoch of the last record in which an unknown
                                   exemption named it (possibly waived) */
    uint64_t *pwaive_missing;   /*   parallel: the absent fields those exemptions read */
    bool waive_all;             /* this record: a fired `exempt all` waives every
                                   non-exemption rule */
    bool pwaive_all;            /* this record: an unknown `exempt all` may */
    uint64_t pwaive_all_missing;/*   and the absent fields it read */
    uint32_t *fired;            /* this record: rules that fired, ascending */
    uint32_t nfired;
    uint32_t *unknown;          /* this record: rules whose condition was unknown, ascending */
    uint64_t *unknown_missing;  /*   parallel: the absent fields each of them read */
    uint32_t nunknown;
    uint32_t *rules;            /* Decision.rules */
    uint32_t *reviewers;        /* Decision.reviewers (capacity: see vm_new) */
    Obligation *obl;            /* Decision.obligations, then Decision.possible (nrules) */
    uint32_t *obl_rules;        /* the obligations' rule lists, back to back (nrules) */
    uint32_t *cand;             /* scratch: the rules being grouped (nrules) */
    uint64_t *cand_missing;     /*   parallel: what leaves each open (possible ones) */
    uint32_t *cand_group;       /*   parallel: the obligation each joins */
    uint64_t *counts;           /* per rule: fires (not waived) since vm_new */
    /* What every record reads of p, derived once by vm_new: */
    uint64_t sd_bit;            /* 1 << p->f_service_date; 0 without that field */
    uint32_t sd_field;          /* p->f_service_date (0 without it) */
    uint64_t code_bit;          /* 1 << p->f_code when it is one code (VT_CODE), else 0:
                                   vm_evaluate's own path, else vm_select_list/vm_select */
    uint64_t list_bit;          /* 1 << p->f_code when it is a list of codes and there is a
                                   code table (vm_select_list), else 0 */
    uint32_t nfold;             /* the fields of ix.fold_fields, ascending */
    VmFoldField fold[64];
    bool plain;                 /* vm_set_plain: combine every record by the general path */
};

static inline uint32_t rd16(const uint8_t *at) { return (uint32_t)at[0] | (uint32_t)at[1] << 8; }
static inline uint32_t rd32(const uint8_t *at) { return rd16(at) | rd16(at + 2) << 16; }

static bool str_eq(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* Floor division of seconds into days (datetimes before 1970 are negative). */
static int64_t day_of(int64_t secs)
{
    int64_t d = secs / SECONDS_PER_DAY;
    return secs % SECONDS_PER_DAY < 0 ? d - 1 : d;
}

/* ---- debug-build operand contracts --------------------------------------- */

#ifndef NDEBUG
typedef struct OpInfo {
    uint8_t opnd;       /* OPND_* */
    const char *pops;   /* stack letters consumed, deepest first */
    const char *pushes; /* stack letters produced ("?": the loaded field's type) */
} OpInfo;

static const OpInfo op_info[OP__COUNT] = {
#define OP_INFO(name, opnd, pops, pushes, doc) {opnd, pops, pushes},
    PCR_OPCODES(OP_INFO)
#undef OP_INFO
};


/* The stack letter a LOAD of field f pushes. */
static char field_kind(const PField *f)
{
    switch (f->type) {
    case VT_BOOL: return 'b';
    case VT_STRING: return 's';
    case VT_CODE: return 'c';
    case VT_LIST: return f->elem == VT_STRING ? 'm' : 'l';
    default: return 'i';
    }
}

/* Asserts that the instruction at `at` is one the verifier would accept at
 * this point: a known opcode, its operand inside the block and its index in
 * range, the popped slots of the right kinds, room for the result. Then
 * records the kind of the slot the instruction will produce; handlers never
 * write `kind`, so every slot's kind is what the opcode table promises. */
static void vm_check(const Prog *p, const uint8_t *at, const uint8_t *end, Slot *stack, Slot *sp)
{
    assert(at < end && "fell off the end of a rule block");
    unsigned op = at[0];
    assert(op < OP__COUNT && "unknown opcode");
    const OpInfo *oi = &op_info[op];
    const uint8_t *o = at + 1;
    assert(o + OPND_BYTES(oi->opnd) <= end && "truncated operand");
    switch (oi->opnd) {
    case OPND_FIELD: assert(o[0] < p->nfields); break;
    case OPND_FIELD_SET: assert(o[0] < p->nfields && rd16(o + 1) < p->nsets); break;
    case OPND_FIELD_CONST: assert(o[0] < p->nfields && rd16(o + 1) < p->nconsts); break;
    case OPND_CONST: assert(rd16(o) < p->nconsts); break;
    case OPND_STR: assert(rd32(o) < p->nstrs); break;
    case OPND_SET: assert(rd16(o) < p->nsets); break;
    case OPND_JUMP: assert(o + 2 + rd16(o) < end && "jump out of the block"); break;
    default: break;
    }
    size_t npop = strlen(oi->pops), npush = strlen(oi->pushes);
    assert((size_t)(sp - stack) >= npop && "stack underflow");
    for (size_t k = 0; k < npop; k++)
        assert(sp[(ptrdiff_t)k - (ptrdiff_t)npop].kind == oi->pops[k] && "operand type");
    Slot *res = sp - npop;
    assert(res + npush <= stack + PCR_MAX_STACK && "stack overflow");
    if (npush) res->kind = oi->pushes[0] == '?' ? field_kind(&p->fields[o[0]]) : oi->pushes[0];
}
#define VM_CHECK() vm_check(p, ip - 1, end, stack, sp)
#else
#define VM_CHECK() ((void)0)
#endif

#ifdef PCR_TRACE
#ifdef NDEBUG
#error "the trace build needs the debug slot kinds: build it without NDEBUG (make trace)"
#endif
#include <stdio.h>

#include "bc.h"

/* The trace build (make trace): before each instruction, its offset and
 * name and the stack, top last, to stderr; `?` marks an unknown value. */
static void vm_trace(const uint8_t *code, const uint8_t *at, const Slot *stack, const Slot *sp)
{
    fprintf(stderr, "    %4u  %-7s [", (unsigned)(at - code), bc_opcode_name(at[0]));
    for (const Slot *x = stack; x < sp; x++) {
        char text[CODE_MAX_CHARS + 1];
        if (x->st & ST_UNKNOWN) fputs(" ?", stderr);
        else if (x->st & ST_NONE) fputs(" none", stderr);
        else if (x->kind == 'b') fputs(x->i ? " true" : " false", stderr);
        else if (x->kind == 's') fprintf(stderr, " \"%.*s\"", (int)x->n, x->s ? x->s : "");
        else if (x->kind == 'c') {
            code_key_format((CodeKey)x->i, text);
            fprintf(stderr, " %s", text);
        } else if (x->kind == 'l' || x->kind == 'm') fprintf(stderr, " [%u items]", x->n);
        else fprintf(stderr, " %lld", (long long)x->i);
    }
    fputs(" ]\n", stderr);
}
#define VM_TRACE() vm_trace(code, ip - 1, stack, sp)
#else
#define VM_TRACE() ((void)0)
#endif

/* ---- the interpreter ----------------------------------------------------- */

/* See vm.h. */
const char *vm_dispatch(void)
{
#ifdef PCR_COMPUTED_GOTO
    return "computed-goto";
#else
    return "switch";
#endif
}

/* The dispatch vocabulary. VM_DISPATCH fetches the next opcode and enters
 * its handler; VM_CASE(NAME) begins a handler; VM_NEXT ends one; VM_BAD is
 * where an opcode outside the table lands (an internal bug: the verifier
 * rejects such code). */
#ifdef PCR_COMPUTED_GOTO
#define VM_GO()                                                                                \
    do {                                                                                       \
        op = *ip++;                                                                            \
        VM_TRACE();                                                                            \
        VM_CHECK();                                                                            \
        goto *dispatch[op < OP__COUNT ? op : OP__COUNT];                                       \
    } while (0)
#define VM_DISPATCH() VM_GO();
#define VM_CASE(name) op_##name:
#define VM_NEXT() VM_GO()
#define VM_BAD op_bad_:
#else
#define VM_DISPATCH()                                                                          \
    next:                                                                                      \
    op = *ip++;                                                                                \
    VM_TRACE();                                                                                \
    VM_CHECK();                                                                                \
    switch (op)
#define VM_CASE(name) case OP_##name:
#define VM_NEXT() goto next
#define VM_BAD default:
#endif

/* Pops b, a and leaves (a OP b) where a was: if_none when either does not
 * apply, else unknown if either is. */
#define VM_COMPARE(name, OPER, if_none)                                                        \
    VM_CASE(name)                                                                              \
    {                                                                                          \
        Slot *a = sp - 2, *b = sp - 1;                                                         \
        uint8_t st = a->st | b->st;                                                            \
        a->i = st & ST_NONE ? (if_none) : a->i OPER b->i;                                      \
        a->st = st & ST_NONE ? 0 : st;                                                         \
        sp--;                                                                                  \
        VM_NEXT();                                                                             \
    }

/* LOAD f; CONST k; compare: what VM_COMPARE leaves for a loaded value
 * against a constant (never unknown, never none). */
#define VM_COMPARE_K(name, OPER, if_none)                                                      \
    VM_CASE(name)                                                                              \
    {                                                                                          \
        int64_t k = p->consts[rd16(ip + 1)];                                                   \
        vm_load(p, rec, ip[0], sp, missing);                                                   \
        ip += 3;                                                                               \
        sp->i = sp->st & ST_NONE ? (if_none) : sp->i OPER k;                                   \
        sp->st = sp->st & ST_NONE ? 0 : sp->st;                                                \
        sp++;                                                                                  \
        VM_NEXT();                                                                             \
    }

/* A membership test of the top: false when it does not apply; computed
 * (by expr, into t->i) when it is a value; unknown stays unknown. */
#define VM_TEST_TOP(t, expr)                                                                   \
    do {                                                                                       \
        if ((t)->st & ST_NONE) (t)->st = 0, (t)->i = 0;                                        \
        else if ((t)->st == 0) (t)->i = (expr);                                                \
    } while (0)

/* LOAD f into *sp: the field's value; its default when absent and it has
 * one; else unknown, and f is recorded as missing. A field given as null
 * does not apply (a bool one loads as false). */
static inline void vm_load(const Prog *p, const Record *rec, uint32_t f, Slot *sp,
                           uint64_t *missing)
{
    if (rec->present >> f & 1) {
        const RecVal *v = &rec->v[f];
        sp->i = v->i;
        sp->s = v->s;
        sp->n = v->n;
        sp->st = 0;
    } else if (rec->none >> f & 1) {
        sp->i = 0;
        sp->s = NULL;
        sp->n = 0;
        sp->st = p->fields[f].type == VT_BOOL ? 0 : ST_NONE;
    } else if (p->fields[f].flags & PF_DEFAULT) {
        sp->i = p->fields[f].deflt;
        sp->s = NULL;
        sp->n = 0;
        sp->st = 0;
    } else {
        sp->i = 0;
        sp->s = NULL;
        sp->n = 0;
        sp->st = ST_UNKNOWN;
        *missing |= (uint64_t)1 << f;
    }
}

/* Whether some code of the list (n items from rec->items + first) is in
 * set. */
static inline bool vm_any_in_set(const Prog *p, const Record *rec, const PSet *set, int64_t first,
                                 uint32_t n)
{
    const RecVal *it = rec->items + first;
    for (uint32_t k = 0; k < n; k++)
        if (code_ranges_contain(p->ranges + set->first, set->count, (CodeKey)it[k].i)) return true;
    return false;
}

/* ---- code sets: the code table's per-record stamps ----------------------- */

/* Stamps the sets that hold k in code slot `slot`; returns k's interval (or
 * UINT32_MAX when no set and no segment holds k: vi_ct_held). */
static uint32_t vm_ct_mark(Vm *vm, uint32_t slot, CodeKey k)
{
    const ViCodeTab *t = &vm->ix.ct;
    uint32_t i = vi_ct_held(&vm->ix.ct, vm->key_memo, vm->ct_memo, k);
    if (i == UINT32_MAX) return i;
    uint32_t *at = vm->set_at + (size_t)slot * vm->p->nsets;
    for (uint32_t j = t->set_first[i]; j < t->set_first[i + 1]; j++) at[t->set_ids[j]] = vm->stamp;
    return i;
}

/* Whether the code (or some code of the list) v loaded from field f is in
 * set s. With the code table, the first test of f in a record stamps every
 * set that holds its codes and each test is then a comparison; without
 * one, a binary search of s. Requires a value (v->st == 0). */
static bool vm_in_set_slow(Vm *vm, const Record *rec, uint32_t f, uint32_t s, const Slot *v)
{
    const Prog *p = vm->p;
    bool list = p->fields[f].type == VT_LIST;
    if (!vm->ix.ct.n) {
        const PSet *set = &p->sets[s];
        if (list) return vm_any_in_set(p, rec, set, v->i, v->n);
        return code_ranges_contain(p->ranges + set->first, set->count, (CodeKey)v->i);
    }
    uint32_t slot = vm->ix.slot_of[f];
    vm->slot_at[slot] = vm->stamp;
    if (!list) vm->slot_iv[slot] = vm_ct_mark(vm, slot, (CodeKey)v->i);
    else
        for (uint32_t k = 0; k < v->n; k++) vm_ct_mark(vm, slot, (CodeKey)rec->items[v->i + k].i);
    return vm->set_at[(size_t)slot * p->nsets + s] == vm->stamp;
}

/* (The common case inline: the field's codes already stamped this record.) */
static inline bool vm_in_set(Vm *vm, const Record *rec, uint32_t f, uint32_t s, const Slot *v)
{
    uint32_t slot = vm->ix.slot_of[f];
    if (vm->ix.ct.n && vm->slot_at[slot] == vm->stamp)
        return vm->set_at[(size_t)slot * vm->p->nsets + s] == vm->stamp;
    return vm_in_set_slow(vm, rec, f, s, v);
}

/* Runs one condition block code[0 .. len). Returns 1 (true), 0 (false) or
 * -1 (unknown) and ORs into *missing the bit of every absent field without
 * a default that it loaded. Requires verified code (see bc_verify). */
static int vm_run(Vm *vm, const Record *rec, const uint8_t *code, uint32_t len,
                  uint64_t *missing)
{
    const Prog *p = vm->p;
#ifdef PCR_TRACE
    Slot stack[PCR_MAX_STACK] = {{0}}; /* the trace prints every slot below sp */
#else
    Slot stack[PCR_MAX_STACK];
#endif
    Slot *sp = stack; /* the next free slot */
    const uint8_t *ip = code;
    const uint8_t *end = code + len;
    unsigned op;
    (void)end; /* read only by debug checks */

#ifdef PCR_COMPUTED_GOTO
    static const void *const dispatch[OP__COUNT + 1] = {
#define OP_LABEL(name, opnd, pops, pushes, doc) &&op_##name,
        PCR_OPCODES(OP_LABEL)
#undef OP_LABEL
            &&op_bad_,
    };
#endif

    VM_DISPATCH()
    {
        /* LOAD f (vm_load). */
        VM_CASE(LOAD)
        {
            vm_load(p, rec, ip[0], sp, missing);
            ip += 1;
            sp++;
            VM_NEXT();
        }
        /* PRESENT f: never unknown; a defaulted field counts as present,
         * unless the record says it does not apply. */
        VM_CASE(PRESENT)
        {
            uint32_t f = ip[0];
            ip += 1;
            sp->i = (rec->present >> f & 1) ||
                    ((p->fields[f].flags & PF_DEFAULT) && !(rec->none >> f & 1));
            sp->st = 0;
            sp++;
            VM_NEXT();
        }
        VM_CASE(CONST)
        {
            sp->i = p->consts[rd16(ip)];
            sp->st = 0;
            ip += 2;
            sp++;
            VM_NEXT();
        }
        VM_CASE(STR)
        {
            uint32_t k = rd32(ip);
            ip += 4;
            sp->s = p->strs[k];
            sp->n = p->strlens[k];
            sp->st = 0;
            sp++;
            VM_NEXT();
        }
        VM_CASE(TRUE)
        {
            sp->i = 1;
            sp->st = 0;
            sp++;
            VM_NEXT();
        }
        VM_CASE(FALSE)
        {
            sp->i = 0;
            sp->st = 0;
            sp++;
            VM_NEXT();
        }
        VM_COMPARE(EQ, ==, 0)
        VM_COMPARE(NE, !=, 1)
        VM_COMPARE(LT, <, 0)
        VM_COMPARE(LE, <=, 0)
        VM_COMPARE(GT, >, 0)
        VM_COMPARE(GE, >=, 0)
        VM_CASE(SEQ)
        VM_CASE(SNE)
        {
            Slot *a = sp - 2, *b = sp - 1;
            uint8_t st = a->st | b->st;
            if (st & ST_NONE) a->i = op == OP_SNE; /* `!=` is the negation of `==` */
            else if (!st) a->i = str_eq(a->s, a->n, b->s, b->n) == (op == OP_SEQ);
            a->st = st & ST_NONE ? 0 : st;
            sp--;
            VM_NEXT();
        }
        /* INSET s: the code is in set s (binary search over its intervals). */
        VM_CASE(INSET)
        {
            const PSet *set = &p->sets[rd16(ip)];
            Slot *t = sp - 1;
            ip += 2;
            VM_TEST_TOP(t, code_ranges_contain(p->ranges + set->first, set->count, (CodeKey)t->i));
            VM_NEXT();
        }
        /* ANYSET s: some element of the code list is in set s; an empty
         * (present) list gives false. */
        VM_CASE(ANYSET)
        {
            const PSet *set = &p->sets[rd16(ip)];
            Slot *t = sp - 1;
            ip += 2;
            if (t->st == 0) t->i = vm_any_in_set(p, rec, set, t->i, t->n);
            else if (t->st & ST_NONE) t->st = 0, t->i = 0;
            VM_NEXT();
        }
        /* INMASK k: enum membership. An index beyond 63 (impossible for a
         * decoded enum) is simply not a member: a shift by >= 64 would be UB. */
        VM_CASE(INMASK)
        {
            uint64_t mask = (uint64_t)p->consts[rd16(ip)];
            Slot *t = sp - 1;
            ip += 2;
            VM_TEST_TOP(t, (uint64_t)t->i < 64 && (mask >> t->i & 1));
            VM_NEXT();
        }
        VM_CASE(ANYSTR)
        {
            uint32_t k = rd32(ip);
            Slot *t = sp - 1;
            ip += 4;
            if (t->st & ST_NONE) {
                t->st = 0, t->i = 0;
            } else if (t->st == 0) {
                const RecVal *it = rec->items + t->i;
                bool any = false;
                for (uint32_t j = 0; j < t->n && !any; j++)
                    any = str_eq(it[j].s, it[j].n, p->strs[k], p->strlens[k]);
                t->i = any;
            }
            VM_NEXT();
        }
        VM_CASE(NOT)
        {
            sp[-1].i = !sp[-1].i; /* meaningless but harmless when unknown */
            VM_NEXT();
        }
        /* AND: false if either side is a known false, else unknown if either
         * is unknown, else true. OR is its dual. */
        VM_CASE(AND)
        {
            Slot *a = sp - 2, *b = sp - 1;
            if ((!a->st && !a->i) || (!b->st && !b->i)) {
                a->st = 0;
                a->i = 0;
            } else {
                a->st |= b->st;
                a->i = 1;
            }
            sp--;
            VM_NEXT();
        }
        VM_CASE(OR)
        {
            Slot *a = sp - 2, *b = sp - 1;
            if ((!a->st && a->i) || (!b->st && b->i)) {
                a->st = 0;
                a->i = 1;
            } else {
                a->st |= b->st;
                a->i = 0;
            }
            sp--;
            VM_NEXT();
        }
        /* JFALSE/JTRUE d: jump d bytes past this instruction when the top is
         * a known false/true; the top stays either way (it is the value of
         * the whole short-circuited AND/OR). */
        VM_CASE(JFALSE)
        {
            uint32_t d = rd16(ip);
            ip += 2;
            if (!sp[-1].st && !sp[-1].i) ip += d;
            VM_NEXT();
        }
        VM_CASE(JTRUE)
        {
            uint32_t d = rd16(ip);
            ip += 2;
            if (!sp[-1].st && sp[-1].i) ip += d;
            VM_NEXT();
        }
        /* The fused instructions (opcodes.h, PCR_FUSED): LOAD f, then the
         * test, exactly as the unfused sequence computes it. */
        /* LDINSET, LDANYSET: the field's code (or codes) looked up once
         * per record in the code table (vm_in_set), then a bit test. */
        VM_CASE(LDINSET)
        VM_CASE(LDANYSET)
        {
            uint32_t f = ip[0], s = rd16(ip + 1);
            vm_load(p, rec, f, sp, missing);
            ip += 3;
            VM_TEST_TOP(sp, vm_in_set(vm, rec, f, s, sp));
            sp++;
            VM_NEXT();
        }
        VM_CASE(LDINMASK)
        {
            uint64_t mask = (uint64_t)p->consts[rd16(ip + 1)];
            vm_load(p, rec, ip[0], sp, missing);
            ip += 3;
            VM_TEST_TOP(sp, (uint64_t)sp->i < 64 && (mask >> sp->i & 1));
            sp++;
            VM_NEXT();
        }
        VM_COMPARE_K(LDEQK, ==, 0)
        VM_COMPARE_K(LDNEK, !=, 1)
        VM_COMPARE_K(LDLTK, <, 0)
        VM_COMPARE_K(LDLEK, <=, 0)
        VM_COMPARE_K(LDGTK, >, 0)
        VM_COMPARE_K(LDGEK, >=, 0)
        VM_CASE(RET)
        {
            return !sp[-1].st ? (sp[-1].i != 0) : -1;
        }
        VM_BAD
        {
            assert(!"unknown opcode: the verifier should have rejected this block");
            return -1;
        }
    }
    /* Not reached: every handler ends in VM_NEXT or return. */
    return -1;
}

#undef VM_COMPARE
#undef VM_COMPARE_K
#undef VM_DISPATCH
#undef VM_GO
#undef VM_CASE
#undef VM_NEXT
#undef VM_BAD
#undef VM_CHECK

/* Whether bool field f of rec is known false as a LOAD reads it: false,
 * null (a bool that does not apply loads false), or absent with the
 * default false. */
static inline bool vm_bool_false(const Prog *p, const Record *rec, uint32_t f)
{
    if (rec->present >> f & 1) return rec->v[f].i == 0;
    if (rec->none >> f & 1) return true;
    return (p->fields[f].flags & PF_DEFAULT) && p->fields[f].deflt == 0;
}

/* Whether atom a is known false on rec, as the block would compute it. */
static bool vm_atom_false(Vm *vm, const Record *rec, const ViAtom *a)
{
    const Prog *p = vm->p;
    uint32_t f = a->field;
    switch (a->kind) {
    case VI_A_GUARD: return vi_guard_test(p, rec, &a->g) == 0;
    case VI_A_BOOL: return vm_bool_false(p, rec, f);
    default: /* VI_A_SET, VI_A_PRESENT_SET */
        if (rec->present >> f & 1) {
            Slot v = {.i = rec->v[f].i, .n = rec->v[f].n};
            return !vm_in_set(vm, rec, f, a->set, &v);
        }
        if (rec->none >> f & 1) return true; /* no code: in no set (PRESENT: false) */
        /* absent: unknown, or its default decides (PRESENT of a default is
         * true): only PRESENT without a default is known false */
        return a->kind == VI_A_PRESENT_SET && !(p->fields[f].flags & PF_DEFAULT);
    }
}

/* Whether rule r's guards rule it out for rec: its block would return
 * false. */
/* Whether every one of the g->any_count atoms of a rule's `or` is known
 * false on rec (out of line: most rules have none). */
__attribute__((noinline)) static bool vm_any_false(Vm *vm, const Record *rec, const ViRuleGuards *g)
{
    for (uint32_t k = 0; k < g->any_count; k++)
        if (!vm_atom_false(vm, rec, &vm->ix.atoms[g->any_first + k])) return false;
    return true;
}

static inline __attribute__((always_inline)) bool vm_guarded_out(Vm *vm, const Record *rec, uint32_t r)
{
    const ViRuleGuards *g = &vm->ix.guards[r];
    if ((g->when.kind && vi_guard_test(vm->p, rec, &g->when) == 0) ||
        (g->unless.kind && vi_guard_test(vm->p, rec, &g->unless) == 1))
        return true;
    return g->any_count && vm_any_false(vm, rec, g);
}

static void vm_next_stamp(Vm *vm);

/* See vm.h. */
int vm_rule_guards(Vm *vm, const Record *rec, uint32_t r)
{
    if (r >= vm->p->nrules) return -1;
    const ViRuleGuards *g = &vm->ix.guards[r];
    if (!g->when.kind && !g->unless.kind && !g->any_count) return -1;
    vm_next_stamp(vm);
    return vm_guarded_out(vm, rec, r);
}

/* ---- the VM object ------------------------------------------------------- */

static int vm_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Takes rule r into out[*n] unless already taken for this record. */
static inline void vm_take(Vm *vm, uint32_t r, uint32_t *out, uint32_t *n)
{
    if (vm->rule_at[r] == vm->stamp) return;
    vm->rule_at[r] = vm->stamp;
    out[(*n)++] = r;
}

/* vm_ct_mark, and the folding, in one pass over the sets of k's interval:
 * stamps each set that holds k in code slot `slot` and takes into out the
 * folded rules with a test of it (of that slot's field). Returns k's interval (or
 * UINT32_MAX, as vm_ct_mark); with sets_only, a caller that uses only the
 * sets gets UINT32_MAX also for a prefix no set holds (vi_ct_held_sets). */
static inline __attribute__((always_inline)) uint32_t vm_ct_mark_fold(Vm *vm, uint32_t slot, CodeKey k,
                                                                      uint32_t *out, uint32_t *n, bool sets_only)
{
    const ViCodeTab *t = &vm->ix.ct;
    uint32_t i = sets_only ? vi_ct_held_sets(t, vm->key_memo, vm->ct_memo, k)
                           : vi_ct_held(t, vm->key_memo, vm->ct_memo, k);
    if (i == UINT32_MAX) return i;
    size_t base = (size_t)slot * vm->p->nsets;
    uint32_t *at = vm->set_at + base, stamp = vm->stamp;
    const uint32_t *first = vm->ix.fold_first + base;
    for (uint32_t j = t->set_first[i], e = t->set_first[i + 1]; j < e; j++) {
        uint32_t s = t->set_ids[j];
        at[s] = stamp;
        for (uint32_t x = first[s]; x < first[s + 1]; x++) vm_take(vm, vm->ix.fold_rules[x], out, n);
    }
    return i;
}

/* Sorts out[0 .. n) ascending. */
static inline void vm_sort(uint32_t *out, uint32_t n)
{
    if (n > 16) {
        qsort(out, n, sizeof *out, vm_u32_cmp);
        return;
    }
    for (uint32_t i = 1; i < n; i++) { /* a few: insertion sort */
        uint32_t t = out[i], j = i;
        while (j > 0 && out[j - 1] > t) out[j] = out[j - 1], j--;
        out[j] = t;
    }
}

/* The folded rules (vi_split_build) that rec's codes and bools select,
 * into out from out[*n] (room for nrules in all; unsorted, each rule
 * once), except those of code field skip, whose codes the caller has taken
 * through vm_ct_mark_fold. Looks up each code of the folded rules' fields
 * (stamping its sets, as vm_in_set would); takes the rules that load a
 * bool field unless rec's is known false. */
static void vm_folded(Vm *vm, const Record *rec, uint32_t *out, uint32_t *count, uint32_t skip)
{
    uint32_t m = *count, *n = &m; /* a local the compiler can keep in a register */
    for (const VmFoldField *ff = vm->fold, *end = vm->fold + vm->nfold; ff < end; ff++) {
        uint32_t f = ff->field, slot = ff->slot;
        if (f == skip) continue;
        if (!(rec->present >> f & 1)) {
            if (rec->none >> f & 1) continue; /* no code: in no set */
            for (uint32_t k = vm->ix.fold_absent_first[slot]; k < vm->ix.fold_absent_first[slot + 1]; k++)
                vm_take(vm, vm->ix.fold_absent[k], out, n);
            continue;
        }
        const RecVal *v = &rec->v[f];
        if (ff->list) { /* a code no set can hold has nothing to stamp or take */
            for (uint32_t c = 0; c < v->n; c++) {
                CodeKey k = (CodeKey)rec->items[v->i + c].i;
                vm_ct_mark_fold(vm, slot, k, out, n, true);
            }
        } else {
            vm->slot_iv[slot] = vm_ct_mark_fold(vm, slot, (CodeKey)v->i, out, n, false);
        }
        vm->slot_at[slot] = vm->stamp;
    }
    for (uint64_t bs = vm->ix.fold_bools; bs; bs &= bs - 1) {
        uint32_t f = (uint32_t)__builtin_ctzll(bs);
        if (vm_bool_false(vm->p, rec, f)) continue;
        for (uint32_t k = vm->ix.fold_bool_first[f]; k < vm->ix.fold_bool_first[f + 1]; k++)
            vm_take(vm, vm->ix.fold_bool_rules[k], out, n);
    }
    *count = m;
}

/* A new record for the per-record caches (vm->stamp). On wrap, clears the
 * stamps so one from 2^32 records ago cannot match. */
static void vm_next_stamp(Vm *vm)
{
    if (++vm->stamp != 0) return;
    const Prog *p = vm->p;
    uint32_t nslots = vm->ix.nslots;
    memset(vm->slot_at, 0, (nslots ? nslots : 1) * sizeof *vm->slot_at);
    memset(vm->set_at, 0, ((size_t)nslots * p->nsets + 1) * sizeof *vm->set_at);
    memset(vm->rule_at, 0, (p->nrules ? p->nrules : 1) * sizeof *vm->rule_at);
    vm->stamp = 1;
}

/* Allocates the VM and all per-record scratch, sized by prog->nrules, so
 * that vm_decide never allocates. prog must be verified and outlive the VM;
 * the caller owns the result (vm_free). */
Vm *vm_new(const Prog *prog)
{
    Vm *vm = xcalloc(1, sizeof *vm);
    uint32_t n = prog->nrules;
    vm->p = prog;
    vm->holidays.days = prog->holidays;
    vm->holidays.n = prog->nholidays;
    date_holidays_index(&vm->holidays);
    vm->sel = xcalloc(n ? n : 1, sizeof *vm->sel);
    vm->sel2 = xcalloc(n ? n : 1, sizeof *vm->sel2);
    vm->always = xcalloc(prog->nalways ? prog->nalways : 1, sizeof *vm->always);
    vm->ix = *vi_of(prog); /* a copy of the shared index's pointers: one load less per use */
    if (prog->f_service_date != PIDX_NONE) {
        vm->sd_bit = (uint64_t)1 << prog->f_service_date;
        vm->sd_field = prog->f_service_date;
    }
    if (prog->f_code != PIDX_NONE && prog->fields[prog->f_code].type == VT_CODE)
        vm->code_bit = (uint64_t)1 << prog->f_code;
    if (prog->f_code != PIDX_NONE && prog->fields[prog->f_code].type == VT_LIST && vm->ix.ct.n)
        vm->list_bit = (uint64_t)1 << prog->f_code;
    for (uint64_t fs = vm->ix.fold_fields; fs; fs &= fs - 1) {
        uint32_t f = (uint32_t)__builtin_ctzll(fs);
        vm->fold[vm->nfold++] = (VmFoldField){
            .field = (uint8_t)f, .slot = vm->ix.slot_of[f], .list = prog->fields[f].type == VT_LIST};
    }
    vm->ct_memo = xmalloc(((size_t)1 << VI_MEMO_BITS) * sizeof *vm->ct_memo);
    vi_memo_init(vm->ct_memo);
    vm->key_memo = vi_key_memo_new();
    uint32_t nslots = vm->ix.nslots;
    vm->slot_at = xcalloc(nslots ? nslots : 1, sizeof *vm->slot_at);
    vm->set_at = xcalloc((size_t)nslots * prog->nsets + 1, sizeof *vm->set_at);
    vm->rule_at = xcalloc(n ? n : 1, sizeof *vm->rule_at);
    vm->slot_iv = xcalloc(nslots ? nslots : 1, sizeof *vm->slot_iv);
    vm->fired_at = xcalloc(n, sizeof *vm->fired_at);
    vm->waived_at = xcalloc(n, sizeof *vm->waived_at);
    vm->pwaived_at = xcalloc(n, sizeof *vm->pwaived_at);
    vm->pwaive_missing = xcalloc(n, sizeof *vm->pwaive_missing);
    vm->fired = xcalloc(n, sizeof *vm->fired);
    vm->unknown = xcalloc(n, sizeof *vm->unknown);
    vm->unknown_missing = xcalloc(n, sizeof *vm->unknown_missing);
    vm->rules = xcalloc(n, sizeof *vm->rules);
    vm->counts = xcalloc(n, sizeof *vm->counts);
    /* Certain and possible obligations together group distinct rules, so
     * n bounds both the obligations and their rule lists. */
    vm->obl = xcalloc(n ? n : 1, sizeof *vm->obl);
    vm->obl_rules = xcalloc(n ? n : 1, sizeof *vm->obl_rules);
    vm->cand = xcalloc(n ? n : 1, sizeof *vm->cand);
    vm->cand_missing = xcalloc(n ? n : 1, sizeof *vm->cand_missing);
    vm->cand_group = xcalloc(n ? n : 1, sizeof *vm->cand_group);
    /* Every deciding rule contributes its reviewers or the one default:
     * their sum bounds the deduplicated list. */
    size_t nrev = 0;
    for (uint32_t r = 0; r < n; r++) nrev += prog->rules[r].rev_count ? prog->rules[r].rev_count : 1;
    vm->reviewers = xcalloc(nrev ? nrev : 1, sizeof *vm->reviewers);
    return vm;
}

/* Frees vm and its scratch (not the Prog). NULL is fine. */
void vm_free(Vm *vm)
{
    if (!vm) return;
    date_holidays_free_index(&vm->holidays);
    free(vm->sel);
    free(vm->sel2);
    free(vm->always);
    free(vm->ct_memo);
    free(vm->key_memo);
    free(vm->rule_at);
    free(vm->slot_iv);
    free(vm->slot_at);
    free(vm->set_at);
    free(vm->fired_at);
    free(vm->waived_at);
    free(vm->pwaived_at);
    free(vm->pwaive_missing);
    free(vm->fired);
    free(vm->unknown);
    free(vm->unknown_missing);
    free(vm->rules);
    free(vm->reviewers);
    free(vm->obl);
    free(vm->obl_rules);
    free(vm->cand);
    free(vm->cand_missing);
    free(vm->cand_group);
    free(vm->counts);
    free(vm);
}

/* See vm.h. */
void vm_set_plain(Vm *vm, bool plain) { vm->plain = plain; }

/* Per-rule fire counts (fired and not waived), p->nrules entries, owned by
 * vm and updated by every vm_decide. */
const uint64_t *vm_rule_counts(const Vm *vm) { return vm->counts; }

/* Runs rule r's condition block only (no effective window, no combining):
 * 1 true, 0 false, -1 unknown; *missing gets the absent fields it read.
 * r out of range is a caller bug: asserted, and unknown in release. */
int vm_eval_rule(Vm *vm, const Record *rec, uint32_t r, uint64_t *missing)
{
    const Prog *p = vm->p;
    *missing = 0;
    assert(r < p->nrules);
    if (r >= p->nrules) return -1;
    vm_next_stamp(vm);
    return vm_run(vm, rec, p->code + p->rules[r].code_off, p->rules[r].code_len, missing);
}

/* ---- selecting and evaluating rules ------------------------------------- */

/* Marks what exemption rule waives: certainly (it fired) or possibly (it
 * is unknown; missing: the fields it read). Waiving is one pass over the
 * exemptions, so an exemption waives its targets even when another waives
 * it, and the result never depends on rule order. */
static void vm_mark_waived(Vm *vm, const PRule *rule, bool certain, uint64_t missing)
{
    const Prog *p = vm->p;
    if (certain) {
        if (rule->exempt_all) vm->waive_all = true;
        for (uint32_t k = 0; k < rule->waive_count; k++)
            vm->waived_at[p->refs[rule->waive_first + k]] = vm->epoch;
        return;
    }
    if (rule->exempt_all) {
        vm->pwaive_all = true;
        vm->pwaive_all_missing |= missing;
    }
    for (uint32_t k = 0; k < rule->waive_count; k++) {
        uint32_t t = p->refs[rule->waive_first + k];
        if (vm->pwaived_at[t] != vm->epoch) {
            vm->pwaived_at[t] = vm->epoch;
            vm->pwaive_missing[t] = 0;
        }
        vm->pwaive_missing[t] |= missing;
    }
}

/* Atom a of a chain's `or` on rec, as the block computes it: 1 true, 0
 * false, -1 unknown (an absent field without a default: its bit is ORed
 * into *m, as LOAD does), -2 when only running the block tells (an absent
 * field whose default decides). */
/* A VI_A_CMP atom on rec, as the chain's step of its opcode reads it
 * (vm_chain): a null field fails every test but `!=`, an absent one reads
 * its default, or is unknown (its bit ORed into *m). */
static int vm_atom_cmp(const Prog *p, const Record *rec, const ViAtom *a, uint64_t *m)
{
    uint32_t f = a->field;
    const RecVal *v = &rec->v[f];
    RecVal dv;
    if (!(rec->present >> f & 1)) {
        if (rec->none >> f & 1) return a->set == OP_LDNEK || a->set == OP_SNE;
        if (!(p->fields[f].flags & PF_DEFAULT)) {
            *m |= (uint64_t)1 << f;
            return -1;
        }
        dv.i = p->fields[f].deflt, dv.s = NULL, dv.n = 0;
        v = &dv;
    }
    int64_t k = a->g.k;
    switch (a->set) {
    case OP_LDNEK: return v->i != k;
    case OP_LDLTK: return v->i < k;
    case OP_LDLEK: return v->i <= k;
    case OP_LDGTK: return v->i > k;
    case OP_LDGEK: return v->i >= k;
    default: return !str_eq(v->s, v->n, p->strs[k], p->strlens[k]); /* OP_SNE */
    }
}

static inline __attribute__((always_inline)) int vm_atom_simple(Vm *vm, const Record *rec, const ViAtom *a, uint64_t *m)
{
    const Prog *p = vm->p;
    if (a->kind == VI_A_CMP) return vm_atom_cmp(p, rec, a, m);
    if (a->kind == VI_A_PRESENT) /* as PRESENT: never unknown */
        return (rec->present >> a->field & 1) ||
               ((p->fields[a->field].flags & PF_DEFAULT) && !(rec->none >> a->field & 1));
    uint32_t f = a->kind == VI_A_GUARD ? a->g.field : a->field;
    if (rec->present >> f & 1) {
        if (a->kind == VI_A_BOOL) return rec->v[f].i != 0;
        if (a->kind == VI_A_GUARD || a->kind == VI_A_PRESENT_GUARD)
            return vi_guard_present(p, rec, &a->g);
        Slot v = {.i = rec->v[f].i, .n = rec->v[f].n};
        return vm_in_set(vm, rec, f, a->set, &v);
    }
    if (rec->none >> f & 1) return 0; /* fails every test; a bool loads false; PRESENT is false */
    if (p->fields[f].flags & PF_DEFAULT)
        return a->kind == VI_A_BOOL ? p->fields[f].deflt != 0 : -2;
    if (a->kind == VI_A_PRESENT_SET || a->kind == VI_A_PRESENT_GUARD) return 0; /* PRESENT is false */
    *m |= (uint64_t)1 << f;
    return -1;
}

/* vm_atom_simple, and a VI_A_AND atom `x; JFALSE L; y; AND; L:` as the
 * block computes it: false when x is (y is not read), else Kleene's `and`
 * of the two (y read, its absent fields ORed into *m); -2 when either side
 * is. */
static inline __attribute__((always_inline)) int vm_atom_value(Vm *vm, const Record *rec, const ViAtom *a, uint64_t *m)
{
    if (a->kind != VI_A_AND) return vm_atom_simple(vm, rec, a, m);
    const ViAtom *x = &vm->ix.pairs[a->set];
    int u = vm_atom_simple(vm, rec, x, m);
    if (u == 0 || u == -2) return u;
    int w = vm_atom_simple(vm, rec, x + 1, m);
    if (w == 0 || w == -2) return w;
    return u < 0 || w < 0 ? -1 : 1;
}

/* Rule r's block when it is an `and` chain of tests (vi_find_chain),
 * decided without running it: 1 true, 0 false, -1 unknown (ORing into
 * *missing the absent fields the block would read), as vm_run returns; -2
 * when only running the block tells (an absent field whose default
 * decides a code-set test or a guard). Kleene: false if a test is, else
 * unknown if a test is, else true; the tests read in order until the
 * first false, as the JFALSE jumps do. A field given as null fails every
 * test but `!=`; an absent one with a default is its default. */
static inline int vm_chain(Vm *vm, const Record *rec, const ViRuleGuards *g, uint64_t *missing)
{
    const Prog *p = vm->p;
    const ViStep *st = vm->ix.steps + g->chain_first, *end = st + g->chain_count;
    uint64_t m = 0;
    bool unknown = false;
    for (; st < end; st++) {
        int b;
        if (st->op == OP_OR) { /* JTRUE stops at the first true */
            b = 0;
            for (uint32_t k = 0; k < (uint32_t)st->k && b != 1; k++) {
                int a = vm_atom_value(vm, rec, &vm->ix.atoms[st->arg + k], &m);
                if (a == -2) return -2;
                if (a) b = a;
            }
        } else {
            uint32_t f = st->field;
            const RecVal *v = &rec->v[f];
            RecVal dv;
            if (!(rec->present >> f & 1)) {
                if (rec->none >> f & 1) {
                    b = st->op == OP_LDNEK || st->op == OP_SNE; /* `!=` is the negation of `==` */
                    goto judged;
                }
                if (!(p->fields[f].flags & PF_DEFAULT)) {
                    m |= (uint64_t)1 << f;
                    b = -1;
                    goto judged;
                }
                if (st->op == OP_LDINSET || st->op == OP_LDANYSET) return -2;
                dv.i = p->fields[f].deflt, dv.s = NULL, dv.n = 0;
                v = &dv;
            }
            switch (st->op) {
            case OP_LDINSET:
            case OP_LDANYSET: {
                Slot sl = {.i = v->i, .n = v->n};
                b = vm_in_set(vm, rec, f, st->arg, &sl);
                break;
            }
            case OP_LDINMASK: b = (uint64_t)v->i < 64 && ((uint64_t)st->k >> v->i & 1); break;
            case OP_LDEQK: b = v->i == st->k; break;
            case OP_LDNEK: b = v->i != st->k; break;
            case OP_LDLTK: b = v->i < st->k; break;
            case OP_LDLEK: b = v->i <= st->k; break;
            case OP_LDGTK: b = v->i > st->k; break;
            case OP_LDGEK: b = v->i >= st->k; break;
            case OP_SEQ: b = str_eq(v->s, v->n, p->strs[st->arg], p->strlens[st->arg]); break;
            case OP_SNE: b = !str_eq(v->s, v->n, p->strs[st->arg], p->strlens[st->arg]); break;
            default: b = v->i != 0; break; /* OP_LOAD of a bool */
            }
        }
    judged:
        if (b < 0) unknown = true;
        else if (b == st->negate) return 0; /* (an `unless` clause: NOT, then AND) */
    }
    if (!unknown) return 1;
    *missing |= m;
    return -1;
}

/* Runs rule r's block (vm_run), or decides its chain without running it
 * (vm_chain) when that can tell. */
static inline int vm_block(Vm *vm, const Record *rec, uint32_t r, uint64_t *missing)
{
    const PRule *rule = &vm->p->rules[r];
    const ViRuleGuards *g = &vm->ix.guards[r];
    if (g->chain_count) {
        int res = vm_chain(vm, rec, g, missing);
        if (res != -2) return res;
    }
    return vm_run(vm, rec, vm->p->code + rule->code_off, rule->code_len, missing);
}

/* Evaluates rule r for the current record and files it as fired or unknown.
 * A rule out of its effective window is neither. Without a service_date
 * (impossible for a decoded record: the field is required) a bounded
 * window is itself unknown. */
static inline __attribute__((always_inline)) void vm_consider(Vm *vm, const Record *rec, uint32_t r,
                                                                   bool has_sd, int32_t sd)
{
    const Prog *p = vm->p;
    const PRule *rule = &p->rules[r];
    uint64_t missing = 0;
    int res;
#ifdef PCR_TRACE
    fprintf(stderr, "  rule %u %s\n", r, p->strs[rule->id]);
#endif
    if (vm_guarded_out(vm, rec, r)) return; /* its block would return false */
    if (has_sd) {
        if (sd < rule->eff_from || sd > rule->eff_through) return;
        res = vm_block(vm, rec, r, &missing);
    } else if (rule->eff_from != DATE_OPEN_FROM || rule->eff_through != DATE_OPEN_THROUGH) {
        res = -1;
        if (p->f_service_date != PIDX_NONE) missing = (uint64_t)1 << p->f_service_date;
    } else {
        res = vm_block(vm, rec, r, &missing);
    }

#ifdef PCR_TRACE
    fprintf(stderr, "  -> %s\n", res > 0 ? "true" : res == 0 ? "false" : "unknown");
#endif
    if (res > 0) {
        vm->fired[vm->nfired++] = r;
        vm->fired_at[r] = vm->epoch;
        if (rule->outcome == OUT_EXEMPT) vm_mark_waived(vm, rule, true, 0);
    } else if (res < 0) {
        vm->unknown[vm->nunknown] = r;
        vm->unknown_missing[vm->nunknown++] = missing;
        if (rule->outcome == OUT_EXEMPT) vm_mark_waived(vm, rule, false, missing);
    }
}

enum { SEL_MAX_CODES = 16 }; /* codes of a list looked up one by one; more: every rule */

/* The rules that can apply to rec, ascending, into out (room for nrules),
 * and their number. The index is keyed on p->f_code, a code field or a list
 * of codes. With codes, the merge of p->always and each code's segment (an
 * indexed rule outside every segment of the record's codes has its `code in
 * S` or `codes any in S` false, so it cannot fire or be unknown); without
 * any (absent), or a list longer than SEL_MAX_CODES, every rule. A field
 * that does not apply (null, []) has no code in any set: p->always only. */
static uint32_t vm_select(const Prog *p, const Record *rec, uint32_t *out)
{
    uint32_t f = p->f_code, n = 0;
    bool has_code = f != PIDX_NONE && (rec->present >> f & 1);
    bool no_code = f != PIDX_NONE && (rec->none >> f & 1);
    const RecVal *v = has_code ? &rec->v[f] : NULL;
    bool list = v && p->fields[f].type == VT_LIST;
    if ((!has_code && !no_code) || (list && v->n > SEL_MAX_CODES)) {
        for (uint32_t r = 0; r < p->nrules; r++) out[n++] = r;
        return n;
    }
    /* lists: k = 0 is p->always, k >= 1 a code's segment */
    const uint32_t *head[SEL_MAX_CODES + 1];
    uint32_t left[SEL_MAX_CODES + 1], k = 0;
    head[k] = p->always;
    left[k++] = p->nalways;
    if (v) {
        uint32_t nc = list ? v->n : 1;
        for (uint32_t c = 0; c < nc; c++) {
            CodeKey key = (CodeKey)(list ? rec->items[v->i + c].i : v->i);
            const PSeg *seg = vi_find_seg(p, key);
            if (!seg || !seg->count) continue;
            head[k] = p->seg_rules + seg->first;
            left[k++] = seg->count;
        }
    }
    for (;;) { /* each list is ascending: take the least head, drop it everywhere */
        uint32_t least = UINT32_MAX;
        for (uint32_t j = 0; j < k; j++)
            if (left[j] && head[j][0] < least) least = head[j][0];
        if (least == UINT32_MAX) return n;
        out[n++] = least;
        for (uint32_t j = 0; j < k; j++)
            if (left[j] && head[j][0] == least) head[j]++, left[j]--;
    }
}

/* Merges ascending a[0 .. na) and b[0 .. nb) into out, each rule once;
 * returns the count. */
static uint32_t vm_merge(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb,
                         uint32_t *out)
{
    uint32_t i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) out[n++] = a[i++];
        else if (b[j] < a[i]) out[n++] = b[j++];
        else out[n++] = a[i++], j++;
    }
    while (i < na) out[n++] = a[i++];
    while (j < nb) out[n++] = b[j++];
    return n;
}

/* vm_select for a list of codes, with the code table: one search per code
 * gives its segment and stamps its sets (so the list's `any in` tests
 * search nothing more). The rules, ascending, end up in out or in
 * vm->cand (the merges alternate between them; vm->cand is free until the
 * rules are combined): *sel points to them. Returns the count, or
 * UINT32_MAX when vm_select must do it (no table, no list, or more than
 * SEL_MAX_CODES codes). */
static uint32_t vm_select_list(Vm *vm, const Record *rec, uint32_t *out, const uint32_t **sel)
{
    const Prog *p = vm->p;
    uint32_t f = p->f_code;
    if (!(rec->present & vm->list_bit) || rec->v[f].n > SEL_MAX_CODES) return UINT32_MAX;
    const RecVal *v = &rec->v[f];
    uint32_t slot = vm->ix.slot_of[f];
    /* out and vm->cand alternate as the merge's destination */
    uint32_t *cur = vm->cand, *next = out;
    uint32_t n = vi_always(&vm->ix, rec, cur);
    uint32_t nf = 0; /* the folded rules, gathered in vm->sel2 */
    for (uint32_t c = 0; c < v->n; c++) {
        uint32_t i = vm_ct_mark_fold(vm, slot, (CodeKey)rec->items[v->i + c].i, vm->sel2, &nf, false);
        const PSeg *seg = i != UINT32_MAX && vm->ix.ct.seg[i] != PIDX_NONE ? &p->segs[vm->ix.ct.seg[i]] : NULL;
        if (!seg || !seg->count) continue;
        n = vm_merge(cur, n, p->seg_rules + seg->first, seg->count, next);
        uint32_t *t = cur;
        cur = next;
        next = t;
    }
    vm->slot_at[slot] = vm->stamp;
    if ((vm->ix.fold_fields & ~((uint64_t)1 << f)) | vm->ix.fold_bools) vm_folded(vm, rec, vm->sel2, &nf, f);
    vm_sort(vm->sel2, nf);
    if (nf) {
        n = vm_merge(cur, n, vm->sel2, nf, next);
        cur = next;
    }
    *sel = cur;
    return n;
}

/* Evaluates the rules that can apply to rec (vm_select), in ascending
 * order. A single code field, the common case, merges p->always with its
 * segment in place (no selection pass). */
static void vm_evaluate(Vm *vm, const Record *rec)
{
    const Prog *p = vm->p;
    bool has_sd = (rec->present & vm->sd_bit) != 0;
    int32_t sd = has_sd ? (int32_t)rec->v[vm->sd_field].i : 0;
    uint32_t f = p->f_code;
    if (!((rec->present | rec->none) & vm->code_bit)) {
        const uint32_t *sel = vm->sel;
        uint32_t n = vm_select_list(vm, rec, vm->sel, &sel);
        if (n == UINT32_MAX) n = vm_select(p, rec, vm->sel), sel = vm->sel;
        for (uint32_t i = 0; i < n; i++) vm_consider(vm, rec, sel[i], has_sd, sd);
        return;
    }
    uint32_t nf = 0; /* first: it may look the code up */
    if (vm->ix.fold_fields | vm->ix.fold_bools) vm_folded(vm, rec, vm->sel2, &nf, PIDX_NONE);
    if (nf > 1) vm_sort(vm->sel2, nf);
    const PSeg *seg = NULL;
    if (rec->present & vm->code_bit) {
        CodeKey key = (CodeKey)rec->v[f].i;
        if (vm->ix.ct.n) { /* the code's sets, stamped now, and its segment: one search */
            uint32_t slot = vm->ix.slot_of[f], i;
            if (vm->slot_at[slot] == vm->stamp) {
                i = vm->slot_iv[slot];
            } else {
                i = vm->slot_iv[slot] = vm_ct_mark(vm, slot, key);
                vm->slot_at[slot] = vm->stamp;
            }
            seg = i != UINT32_MAX && vm->ix.ct.seg[i] != PIDX_NONE ? &p->segs[vm->ix.ct.seg[i]] : NULL;
        } else {
            seg = vi_find_seg(p, key);
        }
    }
    uint32_t na = vi_always(&vm->ix, rec, vm->always), nb = seg ? seg->count : 0, i = 0, j = 0;
    const uint32_t *a = vm->always, *b = seg ? p->seg_rules + seg->first : NULL;
    if (nf) { /* the segment's rules and the folded ones, as one list */
        nb = vm_merge(b ? b : vm->sel2, b ? nb : 0, vm->sel2, nf, vm->sel);
        b = vm->sel;
    }
    while (i < na || j < nb) {
        uint32_t r;
        if (j == nb || (i < na && a[i] < b[j])) r = a[i++];
        else if (i == na || b[j] < a[i]) r = b[j++];
        else r = a[i++], j++; /* listed in both: evaluate once */
        vm_consider(vm, rec, r, has_sd, sd);
    }
}

/* See vm.h. */
uint32_t vm_selected(const Prog *p, const Record *rec, uint32_t *out)
{
    return vm_select(p, rec, out);
}

/* ---- combining ----------------------------------------------------------- */

static bool vm_waived(const Vm *vm, uint32_t r)
{
    return vm->waived_at[r] == vm->epoch ||
           (vm->waive_all && vm->p->rules[r].outcome != OUT_EXEMPT);
}

/* Whether an unknown exemption may waive r; ORs the fields it read into
 * *missing. */
static bool vm_maybe_waived(const Vm *vm, uint32_t r, uint64_t *missing)
{
    bool may = false;
    if (vm->pwaived_at[r] == vm->epoch) {
        may = true;
        *missing |= vm->pwaive_missing[r];
    }
    if (vm->pwaive_all && vm->p->rules[r].outcome != OUT_EXEMPT) {
        may = true;
        *missing |= vm->pwaive_all_missing;
    }
    return may;
}

/* Rule r's deadline for service date sd (and the service's time, in
 * seconds, when at_known): *is_date tells days from seconds. Hour deadlines
 * count from the time of the service when the record gives it, else from
 * the start of its day (the earlier, stricter instant). Returns false when
 * the rule has none. */
static bool vm_rule_deadline(const Vm *vm, const PRule *rule, int32_t sd, bool at_known,
                             int64_t at_secs, bool *is_date, int64_t *at)
{
    int64_t n = rule->dl_dir == DIR_BEFORE ? -(int64_t)rule->dl_amount : rule->dl_amount;
    switch (rule->dl_unit) {
    case U_HOURS:
        *is_date = false;
        *at = (at_known ? at_secs : (int64_t)sd * SECONDS_PER_DAY) + n * 3600;
        return true;
    case U_DAYS:
        *is_date = true;
        *at = sd + n;
        return true;
    case U_BUSINESS_DAYS:
        *is_date = true;
        *at = date_add_business_days(sd, (int32_t)n, &vm->holidays);
        return true;
    default:
        assert(rule->dl_unit == 0 && "bad deadline unit");
        return false;
    }
}

/* A deadline as a comparable instant: a date lasts to its last second. On
 * equal instants the datetime is preferred (it is the more precise one), so
 * the choice never depends on rule order. */
static bool vm_deadline_before(bool a_date, int64_t a, bool b_date, int64_t b)
{
    int64_t ka = a_date ? (a + 1) * SECONDS_PER_DAY - 1 : a;
    int64_t kb = b_date ? (b + 1) * SECONDS_PER_DAY - 1 : b;
    return ka < kb || (ka == kb && !a_date && b_date);
}

/* The reviewers rule r names, or the policy's default (or none). */
static void vm_rule_reviewers(const Prog *p, const PRule *rule, const uint32_t **list, uint32_t *n)
{
    if (rule->rev_count) {
        *list = p->refs + rule->rev_first;
        *n = rule->rev_count;
    } else {
        *list = p->reviewer != PIDX_NONE ? &p->reviewer : NULL;
        *n = p->reviewer != PIDX_NONE;
    }
}

static bool vm_same_str(const Prog *p, uint32_t a, uint32_t b)
{
    return a == b || str_eq(p->strs[a], p->strlens[a], p->strs[b], p->strlens[b]);
}

/* Whether every reviewer of a is in b. */
static bool vm_reviewers_within(const Prog *p, const uint32_t *a, uint32_t na, const uint32_t *b,
                                uint32_t nb)
{
    for (uint32_t i = 0; i < na; i++) {
        uint32_t j = 0;
        while (j < nb && !vm_same_str(p, a[i], b[j])) j++;
        if (j == nb) return false;
    }
    return true;
}

static bool vm_same_key(const Prog *p, const Obligation *o, uint8_t outcome, const uint32_t *rev,
                        uint32_t nrev)
{
    return o->outcome == outcome && vm_reviewers_within(p, o->reviewers, o->nreviewers, rev, nrev) &&
           vm_reviewers_within(p, rev, nrev, o->reviewers, o->nreviewers);
}

static void vm_add_reviewer(const Prog *p, uint32_t *list, uint32_t *n, uint32_t s)
{
    for (uint32_t k = 0; k < *n; k++)
        if (vm_same_str(p, list[k], s)) return;
    list[(*n)++] = s;
}

/* Groups the candidate rules vm->cand[0 .. n) into obligations at
 * vm->obl + first, their rule lists at vm->obl_rules + rules_at: one per
 * outcome and set of reviewers, with the earliest deadline and the union of
 * the candidates' missing fields. Returns the number of obligations. */
static uint32_t vm_group(Vm *vm, const Record *rec, uint32_t n, uint32_t first, uint32_t rules_at)
{
    const Prog *p = vm->p;
    Obligation *o = vm->obl + first;
    uint32_t no = 0;
    bool has_sd = p->f_service_date != PIDX_NONE && (rec->present >> p->f_service_date & 1);
    int32_t sd = has_sd ? (int32_t)rec->v[p->f_service_date].i : 0;
    bool at_known = p->f_service_at != PIDX_NONE && (rec->present >> p->f_service_at & 1);
    int64_t at_secs = at_known ? rec->v[p->f_service_at].i : 0;

    for (uint32_t k = 0; k < n; k++) {
        const PRule *rule = &p->rules[vm->cand[k]];
        const uint32_t *rev;
        uint32_t nrev;
        vm_rule_reviewers(p, rule, &rev, &nrev);
        uint32_t g = 0;
        while (g < no && !vm_same_key(p, &o[g], rule->outcome, rev, nrev)) g++;
        if (g == no) {
            memset(&o[no], 0, sizeof o[no]);
            o[no].outcome = rule->outcome;
            o[no].reviewers = rev;
            o[no].nreviewers = nrev;
            o[no].timely = -1;
            no++;
        }
        vm->cand_group[k] = g;
        o[g].nrules++;
        o[g].missing |= vm->cand_missing[k];
        bool is_date;
        int64_t at;
        if (has_sd && vm_rule_deadline(vm, rule, sd, at_known, at_secs, &is_date, &at) &&
            (!o[g].has_deadline || vm_deadline_before(is_date, at, o[g].deadline_is_date, o[g].deadline))) {
            o[g].has_deadline = true;
            o[g].deadline_is_date = is_date;
            o[g].deadline = at;
        }
    }
    /* Rule lists: each obligation's slice, filled in candidate (ascending)
     * order. nrules is the running fill count. */
    uint32_t at = rules_at;
    for (uint32_t g = 0; g < no; g++) {
        o[g].rules = vm->obl_rules + at;
        at += o[g].nrules;
        o[g].nrules = 0;
    }
    for (uint32_t k = 0; k < n; k++) {
        Obligation *og = &o[vm->cand_group[k]];
        vm->obl_rules[og->rules - vm->obl_rules + og->nrules++] = vm->cand[k];
    }
    /* Strongest first (advisory last); ties keep first-rule order. */
    for (uint32_t i = 1; i < no; i++) {
        Obligation t = o[i];
        uint32_t j = i;
        while (j > 0 && outcome_strength(o[j - 1].outcome) < outcome_strength(t.outcome)) {
            o[j] = o[j - 1];
            j--;
        }
        o[j] = t;
    }
    return no;
}

/* Whether a request at req (seconds; with date_only, some time on req's day)
 * meets a deadline: 1 yes, 0 no, -1 unknown. A date deadline lasts to the
 * end of its day. A bare request date against a datetime deadline is known
 * only when the whole day is before it or after it. */
static int vm_timely(int64_t req, bool date_only, bool dl_is_date, int64_t dl)
{
    if (dl_is_date) return day_of(req) <= dl;
    if (!date_only) return req <= dl;
    int64_t first = day_of(req) * SECONDS_PER_DAY, last = first + SECONDS_PER_DAY - 1;
    return last <= dl ? 1 : first > dl ? 0 : -1;
}

/* Whether possible obligation q adds nothing to the certain ones c[0 .. nc):
 * one of them has its outcome and reviewers and a deadline no later. */
static bool vm_adds_nothing(const Prog *p, const Obligation *q, const Obligation *c, uint32_t nc)
{
    for (uint32_t i = 0; i < nc; i++) {
        if (!vm_same_key(p, &c[i], q->outcome, q->reviewers, q->nreviewers)) continue;
        if (!q->has_deadline) return true;
        return c[i].has_deadline &&
               !vm_deadline_before(q->deadline_is_date, q->deadline, c[i].deadline_is_date, c[i].deadline);
    }
    return false;
}

static bool vm_excluded_by_not_covered(uint8_t outcome)
{
    return outcome == OUT_PRIOR_AUTH || outcome == OUT_NOTIFICATION;
}

/* The decision of the strongest certain outcome (OUT_NONE, advisory and
 * exempt have none: strength 0). */
static const pcr_decision_kind vm_kind_of[] = {
    [OUT_NONE] = PCR_DEC_NONE,
    [OUT_NOTIFICATION] = PCR_DEC_NOTIFICATION,
    [OUT_PRIOR_AUTH] = PCR_DEC_PRIOR_AUTH,
    [OUT_NOT_COVERED] = PCR_DEC_NOT_COVERED,
};

/* Makes *out the decision of nothing: kind none, every list empty (its
 * arrays vm's), no deadline, timely unknown. Field by field: a compound
 * literal or memset is zeroed with `rep stos`, whose start-up costs more
 * than these stores, for every record (vm.h: a field added to Decision
 * must be set here too). */
static inline void vm_decision_empty(const Vm *vm, Decision *out)
{
    out->kind = PCR_DEC_NONE;
    out->rules = vm->rules;
    out->nrules = 0;
    out->reviewers = NULL;
    out->nreviewers = 0;
    out->has_deadline = false;
    out->deadline_is_date = false;
    out->deadline = 0;
    out->timely = -1;
    out->obligations = out->possible = vm->obl;
    out->nobligations = out->npossible = 0;
    out->missing = 0;
}

/* vm_combine for the commonest decided record: one rule fired, not an
 * exemption, and none is unknown. No exemption fired or may have, so
 * nothing waives it; it makes the one certain obligation, nothing is
 * possible, and it decides alone. The same Decision as the general path
 * (test_vm compares them over many records through vm_set_plain). */
static inline void vm_combine_one(Vm *vm, const Record *rec, Decision *out)
{
    const Prog *p = vm->p;
    uint32_t r = vm->fired[0];
    const PRule *rule = &p->rules[r];
    const uint32_t *rev;
    uint32_t nrev;
    vm_rule_reviewers(p, rule, &rev, &nrev);
    vm->rules[0] = r;
    vm->counts[r]++;
    vm->obl_rules[0] = r;
    Obligation *o = &vm->obl[0];
    *o = (Obligation){.outcome = rule->outcome, .reviewers = rev, .nreviewers = nrev, .timely = -1,
                      .rules = vm->obl_rules, .nrules = 1};
    if (rec->present & vm->sd_bit) {
        bool at_known = p->f_service_at != PIDX_NONE && (rec->present >> p->f_service_at & 1);
        int64_t at_secs = at_known ? rec->v[p->f_service_at].i : 0, at;
        bool is_date;
        if (vm_rule_deadline(vm, rule, (int32_t)rec->v[vm->sd_field].i, at_known, at_secs, &is_date, &at)) {
            o->has_deadline = true;
            o->deadline_is_date = is_date;
            o->deadline = at;
        }
    }
    uint32_t fr = p->f_requested_at;
    if (o->has_deadline && fr != PIDX_NONE && (rec->present >> fr & 1))
        o->timely = vm_timely(rec->v[fr].i, rec->date_only >> fr & 1, o->deadline_is_date, o->deadline);
    vm_decision_empty(vm, out);
    out->nrules = 1;
    out->nobligations = 1;
    out->possible = vm->obl + 1;
    if (!outcome_strength(rule->outcome)) return; /* advisory: decides nothing */
    out->kind = vm_kind_of[rule->outcome];
    out->reviewers = vm->reviewers;
    for (uint32_t x = 0; x < nrev; x++) vm_add_reviewer(p, vm->reviewers, &out->nreviewers, rev[x]);
    out->has_deadline = o->has_deadline;
    out->deadline_is_date = o->deadline_is_date;
    out->deadline = o->deadline;
    out->timely = o->timely;
}

/* Clears the per-rule epoch stamps when vm->epoch wraps, so that a stamp
 * from 2^32 records ago cannot match. */
__attribute__((noinline, cold)) static void vm_epoch_wrap(Vm *vm)
{
    const Prog *p = vm->p;
    memset(vm->fired_at, 0, p->nrules * sizeof *vm->fired_at);
    memset(vm->waived_at, 0, p->nrules * sizeof *vm->waived_at);
    memset(vm->pwaived_at, 0, p->nrules * sizeof *vm->pwaived_at);
    vm->epoch = 1;
}

static void vm_combine(Vm *vm, const Record *rec, Decision *out);

/* Decides rec (a record decoded for vm's Prog) into *out, whose arrays
 * point into vm's scratch until the next call. Allocates nothing. */
void vm_decide(Vm *vm, const Record *rec, Decision *out)
{
    /* A new record: stamps from earlier records no longer match. */
    if (++vm->epoch == 0) vm_epoch_wrap(vm);
    vm_next_stamp(vm);
    vm->nfired = vm->nunknown = 0;
    vm->waive_all = vm->pwaive_all = false;
    vm->pwaive_all_missing = 0;
    vm_evaluate(vm, rec);
    /* Most records: no rule fired and none is unknown, so there is nothing
     * to waive, group or time. The decision is none, its lists empty. */
    if (vm->nfired == 0 && vm->nunknown == 0) {
        vm_decision_empty(vm, out);
        return;
    }
    vm_combine(vm, rec, out);
}

/* vm_decide's combining of the fired and unknown rules (at least one)
 * into *out: kept out of line, so the common record (nothing to combine)
 * saves no registers for it. */
__attribute__((noinline)) static void vm_combine(Vm *vm, const Record *rec, Decision *out)
{
    const Prog *p = vm->p;
    if (vm->nfired == 1 && vm->nunknown == 0 && p->rules[vm->fired[0]].outcome != OUT_EXEMPT && !vm->plain) {
        vm_combine_one(vm, rec, out);
        return;
    }
    vm_decision_empty(vm, out);

    /* Fired, unwaived rules (ascending, as fired is): the decision's list;
     * the certain ones among them: nothing may waive them. */
    uint32_t nrules = 0, ncand = 0;
    for (uint32_t k = 0; k < vm->nfired; k++) {
        uint32_t r = vm->fired[k];
        if (vm_waived(vm, r)) continue;
        vm->rules[nrules++] = r;
        vm->counts[r]++;
        uint64_t m = 0;
        if (p->rules[r].outcome != OUT_EXEMPT && !vm_maybe_waived(vm, r, &m)) {
            vm->cand_missing[ncand] = 0;
            vm->cand[ncand++] = r;
        }
    }
    out->rules = vm->rules;
    out->nrules = nrules;
    uint32_t nobl = ncand ? vm_group(vm, rec, ncand, 0, 0) : 0;
    uint32_t used_rules = ncand;

    /* A certain not_covered leaves nothing to authorize or notify. */
    bool not_covered = nobl > 0 && vm->obl[0].outcome == OUT_NOT_COVERED;
    if (not_covered) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < nobl; i++)
            if (!vm_excluded_by_not_covered(vm->obl[i].outcome)) vm->obl[w++] = vm->obl[i];
        nobl = w;
    }

    /* Possible rules: fired but an unknown exemption may waive them, or
     * unknown themselves (and not certainly waived). Both lists are
     * ascending; merge them so the candidates are too. */
    uint32_t np = 0, i = 0, j = 0;
    while (i < vm->nfired || j < vm->nunknown) {
        bool take_fired = j == vm->nunknown || (i < vm->nfired && vm->fired[i] < vm->unknown[j]);
        uint32_t r = take_fired ? vm->fired[i] : vm->unknown[j];
        uint64_t m = take_fired ? 0 : vm->unknown_missing[j];
        take_fired ? i++ : j++;
        if (p->rules[r].outcome == OUT_EXEMPT || vm_waived(vm, r)) continue;
        if (not_covered && vm_excluded_by_not_covered(p->rules[r].outcome)) continue;
        bool maybe = vm_maybe_waived(vm, r, &m);
        if (take_fired && !maybe) continue; /* certain: already grouped */
        vm->cand_missing[np] = m;
        vm->cand[np++] = r;
    }
    uint32_t npos = np ? vm_group(vm, rec, np, nobl, used_rules) : 0;
    Obligation *pos = vm->obl + nobl;
    uint32_t w = 0;
    for (uint32_t k = 0; k < npos; k++) {
        if (vm_adds_nothing(p, &pos[k], vm->obl, nobl)) continue;
        pos[w++] = pos[k];
        out->missing |= pos[k].missing;
    }
    npos = w;

    /* timely, per certain obligation. */
    bool has_req = p->f_requested_at != PIDX_NONE && (rec->present >> p->f_requested_at & 1);
    for (uint32_t k = 0; k < nobl; k++) {
        Obligation *o = &vm->obl[k];
        if (o->has_deadline && has_req)
            o->timely = vm_timely(rec->v[p->f_requested_at].i, rec->date_only >> p->f_requested_at & 1,
                                  o->deadline_is_date, o->deadline);
    }
    out->obligations = vm->obl;
    out->nobligations = nobl;
    out->possible = pos;
    out->npossible = npos;

    /* The decision: the strongest certain outcome; info_needed when none is
     * certain and a requirement is possible. Its obligations' reviewers (in
     * rule order) and earliest deadline are the line's own. */
    uint8_t top = nobl && outcome_strength(vm->obl[0].outcome) ? vm->obl[0].outcome : OUT_NONE;
    if (top == OUT_NONE) {
        bool need = false;
        for (uint32_t k = 0; k < npos; k++) need |= outcome_strength(pos[k].outcome) > 0;
        out->kind = need ? PCR_DEC_INFO_NEEDED : PCR_DEC_NONE;
        return;
    }
    out->kind = vm_kind_of[top];
    out->reviewers = vm->reviewers;
    for (uint32_t k = 0; k < nrules; k++) {
        const PRule *rule = &p->rules[vm->rules[k]];
        if (rule->outcome != top) continue;
        uint64_t m = 0;
        if (vm_maybe_waived(vm, vm->rules[k], &m)) continue;
        const uint32_t *rev;
        uint32_t nrev;
        vm_rule_reviewers(p, rule, &rev, &nrev);
        for (uint32_t x = 0; x < nrev; x++) vm_add_reviewer(p, vm->reviewers, &out->nreviewers, rev[x]);
    }
    for (uint32_t k = 0; k < nobl && vm->obl[k].outcome == top; k++) {
        const Obligation *o = &vm->obl[k];
        if (o->has_deadline && (!out->has_deadline ||
                                vm_deadline_before(o->deadline_is_date, o->deadline,
                                                   out->deadline_is_date, out->deadline))) {
            out->has_deadline = true;
            out->deadline_is_date = o->deadline_is_date;
            out->deadline = o->deadline;
        }
    }
    if (out->has_deadline && has_req)
        out->timely = vm_timely(rec->v[p->f_requested_at].i, rec->date_only >> p->f_requested_at & 1,
                                out->deadline_is_date, out->deadline);
}
