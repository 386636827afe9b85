/* vm.c: the evaluator. Runs rule condition blocks over one decoded record
 * and combines their three-valued results into a Decision
 * (docs/language.md, "How a decision is made"; src/vm.h is the contract).
 *
 * Values. A stack slot holds an integer (bool 0/1, int, cents, days,
 * seconds, enum index, CodeKey), a string (pointer and length) or a list
 * (first index into rec->items and a count), plus a `known` flag. An
 * unknown value comes from LOAD of an absent field that has no default;
 * every operation with an unknown input yields unknown, except that AND/OR
 * follow Kleene's logic (false AND unknown = false, true OR unknown = true).
 *
 * Dispatch. One loop written with VM_DISPATCH / VM_CASE / VM_NEXT: a switch
 * by default, computed goto (a label table generated from opcodes.h) when
 * built with -DPCR_COMPUTED_GOTO. Debug builds (!NDEBUG) assert every
 * instruction's operands and stack types against the opcode table before
 * running it (SQLite's OPFLG idea); release builds trust bc_verify().
 *
 * Per-record cost. Rules are selected through the code index (p->segs) and
 * nothing in a decision walks all rules: per-rule facts ("fired in this
 * record", "waived in this record") are epoch stamps, so a new record only
 * bumps the epoch instead of clearing nrules entries. */
#include "vm.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "codes.h"
#include "dates.h"

#include "ast.h" /* Outcome, DurationUnit, DIR_* */
#include "opcodes.h"

typedef struct Slot {
    int64_t i;     /* b: 0/1; i: the integer; c: CodeKey; l, m: first element in rec->items */
    const char *s; /* s: the bytes (not NUL-terminated; may be NULL when n == 0) */
    uint32_t n;    /* s: byte length; l, m: element count */
    bool known;    /* false: the third truth value / an absent field */
#ifndef NDEBUG
    char kind; /* debug: the stack letter of opcodes.h, set and checked by vm_check */
#endif
} Slot;

struct Vm {
    const Prog *p;
    Holidays holidays;          /* p's calendar, for business-day deadlines */
    uint32_t epoch;             /* stamp of the record being decided; never 0 */
    uint32_t *fired_at;         /* per rule: epoch of the last record in which it fired */
    uint32_t *waived_at;        /* per rule: epoch of the last record in which a fired
                                   exemption named it */
    bool waive_all;             /* this record: a fired `exempt all` waives every
                                   non-exemption rule */
    uint32_t *fired;            /* this record: rules that fired, ascending */
    uint32_t nfired;
    uint32_t *unknown;          /* this record: rules whose condition was unknown, ascending */
    uint64_t *unknown_missing;  /*   parallel: the absent fields each of them read */
    uint32_t nunknown;
    uint32_t *rules;            /* Decision.rules */
    uint32_t *reviewers;        /* Decision.reviewers (capacity: see vm_new) */
    uint32_t *whatif_reviewers; /* the same, for a what-if verdict (vm_unknown_matters) */
    uint32_t skip_epoch;        /* stamp of the current what-if; never 0 */
    uint32_t *skip_at;          /* per rule: skip_epoch of the what-if that takes it away */
    uint64_t *counts;           /* per rule: fires (not waived) since vm_new */
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

static const uint8_t opnd_size[] = {
    [OPND_NONE] = 0, [OPND_FIELD] = 1, [OPND_CONST] = 2,
    [OPND_STR] = 4,  [OPND_SET] = 2,   [OPND_JUMP] = 2,
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
    assert(o + opnd_size[oi->opnd] <= end && "truncated operand");
    switch (oi->opnd) {
    case OPND_FIELD: assert(o[0] < p->nfields); break;
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
        if (!x->known) fputs(" ?", stderr);
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

/* Pops b, a and leaves (a OP b) where a was; unknown if either is. */
#define VM_COMPARE(name, OPER)                                                                 \
    VM_CASE(name)                                                                              \
    {                                                                                          \
        Slot *a = sp - 2, *b = sp - 1;                                                         \
        a->known = a->known && b->known;                                                       \
        a->i = a->i OPER b->i;                                                                 \
        sp--;                                                                                  \
        VM_NEXT();                                                                             \
    }

/* Runs one condition block code[0 .. len). Returns 1 (true), 0 (false) or
 * -1 (unknown) and ORs into *missing the bit of every absent field without
 * a default that it loaded. Requires verified code (see bc_verify). */
static int vm_run(const Prog *p, const Record *rec, const uint8_t *code, uint32_t len,
                  uint64_t *missing)
{
    Slot stack[PCR_MAX_STACK];
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
        /* LOAD f: the field's value; its default when absent and it has one;
         * else unknown, and f is recorded as missing. */
        VM_CASE(LOAD)
        {
            uint32_t f = ip[0];
            ip += 1;
            if (rec->present >> f & 1) {
                const RecVal *v = &rec->v[f];
                sp->i = v->i;
                sp->s = v->s;
                sp->n = v->n;
                sp->known = true;
            } else if (p->fields[f].flags & PF_DEFAULT) {
                sp->i = p->fields[f].deflt;
                sp->s = NULL;
                sp->n = 0;
                sp->known = true;
            } else {
                sp->i = 0;
                sp->s = NULL;
                sp->n = 0;
                sp->known = false;
                *missing |= (uint64_t)1 << f;
            }
            sp++;
            VM_NEXT();
        }
        /* PRESENT f: never unknown; a defaulted field counts as present. */
        VM_CASE(PRESENT)
        {
            uint32_t f = ip[0];
            ip += 1;
            sp->i = (rec->present >> f & 1) || (p->fields[f].flags & PF_DEFAULT);
            sp->known = true;
            sp++;
            VM_NEXT();
        }
        VM_CASE(CONST)
        {
            sp->i = p->consts[rd16(ip)];
            sp->known = true;
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
            sp->known = true;
            sp++;
            VM_NEXT();
        }
        VM_CASE(TRUE)
        {
            sp->i = 1;
            sp->known = true;
            sp++;
            VM_NEXT();
        }
        VM_CASE(FALSE)
        {
            sp->i = 0;
            sp->known = true;
            sp++;
            VM_NEXT();
        }
        VM_COMPARE(EQ, ==)
        VM_COMPARE(NE, !=)
        VM_COMPARE(LT, <)
        VM_COMPARE(LE, <=)
        VM_COMPARE(GT, >)
        VM_COMPARE(GE, >=)
        VM_CASE(SEQ)
        VM_CASE(SNE)
        {
            Slot *a = sp - 2, *b = sp - 1;
            a->known = a->known && b->known;
            if (a->known) a->i = str_eq(a->s, a->n, b->s, b->n) == (op == OP_SEQ);
            sp--;
            VM_NEXT();
        }
        /* INSET s: the code is in set s (binary search over its intervals). */
        VM_CASE(INSET)
        {
            const PSet *set = &p->sets[rd16(ip)];
            Slot *t = sp - 1;
            ip += 2;
            if (t->known) t->i = code_ranges_contain(p->ranges + set->first, set->count, (CodeKey)t->i);
            VM_NEXT();
        }
        /* ANYSET s: some element of the code list is in set s; an empty
         * (present) list gives false. */
        VM_CASE(ANYSET)
        {
            const PSet *set = &p->sets[rd16(ip)];
            Slot *t = sp - 1;
            ip += 2;
            if (t->known) {
                const RecVal *it = rec->items + t->i;
                bool any = false;
                for (uint32_t k = 0; k < t->n && !any; k++)
                    any = code_ranges_contain(p->ranges + set->first, set->count, (CodeKey)it[k].i);
                t->i = any;
            }
            VM_NEXT();
        }
        /* INMASK k: enum membership. An index beyond 63 (impossible for a
         * decoded enum) is simply not a member: a shift by >= 64 would be UB. */
        VM_CASE(INMASK)
        {
            uint64_t mask = (uint64_t)p->consts[rd16(ip)];
            Slot *t = sp - 1;
            ip += 2;
            if (t->known) t->i = (uint64_t)t->i < 64 && (mask >> t->i & 1);
            VM_NEXT();
        }
        VM_CASE(ANYSTR)
        {
            uint32_t k = rd32(ip);
            Slot *t = sp - 1;
            ip += 4;
            if (t->known) {
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
            if ((a->known && !a->i) || (b->known && !b->i)) {
                a->known = true;
                a->i = 0;
            } else {
                a->known = a->known && b->known;
                a->i = 1;
            }
            sp--;
            VM_NEXT();
        }
        VM_CASE(OR)
        {
            Slot *a = sp - 2, *b = sp - 1;
            if ((a->known && a->i) || (b->known && b->i)) {
                a->known = true;
                a->i = 1;
            } else {
                a->known = a->known && b->known;
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
            if (sp[-1].known && !sp[-1].i) ip += d;
            VM_NEXT();
        }
        VM_CASE(JTRUE)
        {
            uint32_t d = rd16(ip);
            ip += 2;
            if (sp[-1].known && sp[-1].i) ip += d;
            VM_NEXT();
        }
        VM_CASE(RET)
        {
            return sp[-1].known ? (sp[-1].i != 0) : -1;
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
#undef VM_DISPATCH
#undef VM_GO
#undef VM_CASE
#undef VM_NEXT
#undef VM_BAD
#undef VM_CHECK

/* ---- the VM object ------------------------------------------------------- */

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
    vm->fired_at = xcalloc(n, sizeof *vm->fired_at);
    vm->waived_at = xcalloc(n, sizeof *vm->waived_at);
    vm->fired = xcalloc(n, sizeof *vm->fired);
    vm->unknown = xcalloc(n, sizeof *vm->unknown);
    vm->unknown_missing = xcalloc(n, sizeof *vm->unknown_missing);
    vm->rules = xcalloc(n, sizeof *vm->rules);
    vm->counts = xcalloc(n, sizeof *vm->counts);
    /* Every winning rule contributes its reviewers or the one default:
     * their sum bounds the deduplicated list. */
    size_t nrev = 0;
    for (uint32_t r = 0; r < n; r++) nrev += prog->rules[r].rev_count ? prog->rules[r].rev_count : 1;
    vm->reviewers = xcalloc(nrev, sizeof *vm->reviewers);
    vm->whatif_reviewers = xcalloc(nrev, sizeof *vm->whatif_reviewers);
    vm->skip_at = xcalloc(n, sizeof *vm->skip_at);
    return vm;
}

/* Frees vm and its scratch (not the Prog). NULL is fine. */
void vm_free(Vm *vm)
{
    if (!vm) return;
    date_holidays_free_index(&vm->holidays);
    free(vm->fired_at);
    free(vm->waived_at);
    free(vm->fired);
    free(vm->unknown);
    free(vm->unknown_missing);
    free(vm->rules);
    free(vm->reviewers);
    free(vm->whatif_reviewers);
    free(vm->skip_at);
    free(vm->counts);
    free(vm);
}

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
    return vm_run(p, rec, p->code + p->rules[r].code_off, p->rules[r].code_len, missing);
}

/* ---- selecting and evaluating rules ------------------------------------- */

/* Evaluates rule r for the current record and files it as fired or unknown.
 * A rule out of its effective window is neither. Without a service_date
 * (impossible for a decoded record: the field is required) a bounded
 * window is itself unknown. A fired exemption waives its targets at once,
 * even if another exemption waives it in turn: waiving is one pass over the
 * fired exemptions, so the result never depends on rule order. */
static void vm_consider(Vm *vm, const Record *rec, uint32_t r, bool has_sd, int32_t sd)
{
    const Prog *p = vm->p;
    const PRule *rule = &p->rules[r];
    uint64_t missing = 0;
    int res;
#ifdef PCR_TRACE
    fprintf(stderr, "  rule %u %s\n", r, p->strs[rule->id]);
#endif
    if (has_sd) {
        if (sd < rule->eff_from || sd > rule->eff_through) return;
        res = vm_run(p, rec, p->code + rule->code_off, rule->code_len, &missing);
    } else if (rule->eff_from != DATE_OPEN_FROM || rule->eff_through != DATE_OPEN_THROUGH) {
        res = -1;
        if (p->f_service_date != PIDX_NONE) missing = (uint64_t)1 << p->f_service_date;
    } else {
        res = vm_run(p, rec, p->code + rule->code_off, rule->code_len, &missing);
    }

#ifdef PCR_TRACE
    fprintf(stderr, "  -> %s\n", res > 0 ? "true" : res == 0 ? "false" : "unknown");
#endif
    if (res > 0) {
        vm->fired[vm->nfired++] = r;
        vm->fired_at[r] = vm->epoch;
        if (rule->outcome == OUT_EXEMPT) {
            if (rule->exempt_all) vm->waive_all = true;
            for (uint32_t k = 0; k < rule->waive_count; k++)
                vm->waived_at[p->refs[rule->waive_first + k]] = vm->epoch;
        }
    } else if (res < 0) {
        vm->unknown[vm->nunknown] = r;
        vm->unknown_missing[vm->nunknown++] = missing;
    }
}

/* The index segment containing code key k, or NULL. */
static const PSeg *vm_find_seg(const Prog *p, CodeKey k)
{
    uint32_t lo = 0, hi = p->nsegs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->segs[mid].hi < k) lo = mid + 1;
        else hi = mid;
    }
    return lo < p->nsegs && p->segs[lo].lo <= k ? &p->segs[lo] : NULL;
}

/* Evaluates the rules that can apply to rec, in ascending order: with a
 * code, the merge of p->always and the code's segment (an indexed rule
 * outside its segment implies `code in S` is false, so it cannot fire or be
 * unknown); without one, every rule. */
static void vm_evaluate(Vm *vm, const Record *rec)
{
    const Prog *p = vm->p;
    bool has_sd = p->f_service_date != PIDX_NONE && (rec->present >> p->f_service_date & 1);
    int32_t sd = has_sd ? (int32_t)rec->v[p->f_service_date].i : 0;

    if (p->f_code == PIDX_NONE || !(rec->present >> p->f_code & 1)) {
        for (uint32_t r = 0; r < p->nrules; r++) vm_consider(vm, rec, r, has_sd, sd);
        return;
    }
    const PSeg *seg = vm_find_seg(p, (CodeKey)rec->v[p->f_code].i);
    const uint32_t *a = p->always, *b = seg ? p->seg_rules + seg->first : NULL;
    uint32_t na = p->nalways, nb = seg ? seg->count : 0, i = 0, j = 0;
    while (i < na || j < nb) {
        uint32_t r;
        if (j == nb || (i < na && a[i] < b[j])) r = a[i++];
        else if (i == na || b[j] < a[i]) r = b[j++];
        else r = a[i++], j++; /* listed in both: evaluate once */
        vm_consider(vm, rec, r, has_sd, sd);
    }
}

/* ---- combining ----------------------------------------------------------- */

static bool vm_waived(const Vm *vm, uint32_t r)
{
    return vm->waived_at[r] == vm->epoch ||
           (vm->waive_all && vm->p->rules[r].outcome != OUT_EXEMPT);
}

/* Rule r's deadline for service date sd: *is_date tells days from seconds.
 * Returns false when the rule has none. */
static bool vm_rule_deadline(const Vm *vm, const PRule *rule, int32_t sd, bool *is_date,
                             int64_t *at)
{
    int64_t n = rule->dl_dir == DIR_BEFORE ? -(int64_t)rule->dl_amount : rule->dl_amount;
    switch (rule->dl_unit) {
    case U_HOURS:
        *is_date = false;
        *at = (int64_t)sd * SECONDS_PER_DAY + n * 3600;
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

static void vm_add_reviewer(const Prog *p, uint32_t *list, uint32_t *n, uint32_t s)
{
    for (uint32_t k = 0; k < *n; k++)
        if (list[k] == s || str_eq(p->strs[list[k]], p->strlens[list[k]], p->strs[s], p->strlens[s]))
            return;
    list[(*n)++] = s;
}

/* What a decision tells the requester, apart from its rule list: the
 * outcome, the reviewers (in a caller's buffer) and the earliest deadline.
 * Two verdicts over the same record are compared to see whether an unknown
 * rule could change the decision. */
typedef struct Verdict {
    uint8_t outcome;        /* strongest outcome of the counted rules */
    uint32_t nreviewers;    /* reviewers of its rules, deduplicated */
    bool has_deadline;      /* false: none of its rules has a deadline */
    bool deadline_is_date;  /* deadline is a day number, else seconds */
    int64_t deadline;
} Verdict;

/* Whether rule r counts in a verdict: fired and not waived, not skipped by
 * the current what-if (skip_at == skip_epoch), or the what-if's extra rule. */
static bool vm_counts(const Vm *vm, uint32_t r, uint32_t extra)
{
    if (r == extra) return true;
    return vm->fired_at[r] == vm->epoch && !vm_waived(vm, r) && vm->skip_at[r] != vm->skip_epoch;
}

/* The verdict of the counted rules (see vm_counts) for rec, with the
 * reviewers written to rev (capacity: see vm_new). */
static void vm_verdict(const Vm *vm, const Record *rec, uint32_t extra, uint32_t *rev, Verdict *v)
{
    const Prog *p = vm->p;
    bool has_sd = p->f_service_date != PIDX_NONE && (rec->present >> p->f_service_date & 1);
    int32_t sd = has_sd ? (int32_t)rec->v[p->f_service_date].i : 0;
    memset(v, 0, sizeof *v);
    v->outcome = OUT_NONE;
    for (uint32_t k = 0; k <= vm->nfired; k++) {
        uint32_t r = k < vm->nfired ? vm->fired[k] : extra;
        if (r == UINT32_MAX || !vm_counts(vm, r, extra)) continue;
        uint8_t o = p->rules[r].outcome;
        if (o != OUT_EXEMPT && o > v->outcome) v->outcome = o;
    }
    if (v->outcome == OUT_NONE) return;
    /* fired is ascending and extra goes last: reviewers come in rule order
     * for the decision itself (extra is only ever set for a what-if). */
    for (uint32_t k = 0; k <= vm->nfired; k++) {
        uint32_t r = k < vm->nfired ? vm->fired[k] : extra;
        if (r == UINT32_MAX || !vm_counts(vm, r, extra)) continue;
        const PRule *rule = &p->rules[r];
        if (rule->outcome != v->outcome) continue;
        if (rule->rev_count == 0 && p->reviewer != PIDX_NONE)
            vm_add_reviewer(p, rev, &v->nreviewers, p->reviewer);
        for (uint32_t j = 0; j < rule->rev_count; j++)
            vm_add_reviewer(p, rev, &v->nreviewers, p->refs[rule->rev_first + j]);
        bool is_date;
        int64_t at;
        if (has_sd && vm_rule_deadline(vm, rule, sd, &is_date, &at) &&
            (!v->has_deadline || vm_deadline_before(is_date, at, v->deadline_is_date, v->deadline))) {
            v->has_deadline = true;
            v->deadline_is_date = is_date;
            v->deadline = at;
        }
    }
}

/* Whether two verdicts of one record differ. The what-ifs only add rules
 * (reviewers can only be added, a deadline only move earlier) or only take
 * winning rules away (the reverse), so comparing the reviewer counts is
 * enough to compare the reviewer sets. */
static bool vm_verdict_differs(const Verdict *a, const Verdict *b)
{
    return a->outcome != b->outcome || a->nreviewers != b->nreviewers ||
           a->has_deadline != b->has_deadline ||
           (a->has_deadline && (a->deadline_is_date != b->deadline_is_date || a->deadline != b->deadline));
}

/* Starts a what-if: no rule is skipped until vm_skip_targets marks some. */
static void vm_skip_reset(Vm *vm)
{
    if (++vm->skip_epoch == 0) {
        memset(vm->skip_at, 0, vm->p->nrules * sizeof *vm->skip_at);
        vm->skip_epoch = 1;
    }
}

/* Marks as skipped what exemption rule would waive if it fired. */
static void vm_skip_targets(Vm *vm, const PRule *rule)
{
    const Prog *p = vm->p;
    if (rule->exempt_all) {
        for (uint32_t k = 0; k < vm->nfired; k++)
            if (p->rules[vm->fired[k]].outcome != OUT_EXEMPT) vm->skip_at[vm->fired[k]] = vm->skip_epoch;
    }
    for (uint32_t k = 0; k < rule->waive_count; k++) vm->skip_at[p->refs[rule->waive_first + k]] = vm->skip_epoch;
}

/* Whether a request at req (seconds; with date_only, some time on req's day)
 * meets the decision's deadline: 1 yes, 0 no, -1 unknown. A date deadline
 * lasts to the end of its day. A bare request date against a datetime
 * deadline is known only when the whole day is before it or after it. */
static int vm_timely(int64_t req, bool date_only, const Decision *d)
{
    if (d->deadline_is_date) return day_of(req) <= d->deadline;
    if (!date_only) return req <= d->deadline;
    int64_t first = day_of(req) * SECONDS_PER_DAY, last = first + SECONDS_PER_DAY - 1;
    return last <= d->deadline ? 1 : first > d->deadline ? 0 : -1;
}

/* Whether unknown rule u, had it fired, would change the decision d0: a
 * requirement with a stronger outcome, or one of the winning outcome that
 * adds a reviewer or an earlier deadline; an exemption that would take away
 * winning rules so that the outcome, the reviewers or the deadline change.
 * A waived requirement never matters; an exemption waives its targets even
 * when waived itself (see vm_consider), so it may. */
static bool vm_unknown_matters(Vm *vm, const Record *rec, uint32_t u, const Verdict *d0)
{
    const PRule *rule = &vm->p->rules[u];
    Verdict v;
    vm_skip_reset(vm);
    if (rule->outcome != OUT_EXEMPT) {
        if (vm_waived(vm, u) || rule->outcome < d0->outcome) return false;
        vm_verdict(vm, rec, u, vm->whatif_reviewers, &v);
    } else {
        if (d0->outcome == OUT_NONE) return false;
        vm_skip_targets(vm, rule);
        vm_verdict(vm, rec, UINT32_MAX, vm->whatif_reviewers, &v);
    }
    return vm_verdict_differs(&v, d0);
}

/* Whether the unknown exemptions, firing together, would change d0 when
 * none does alone (two waivers that each take away one of two rules with
 * the same reviewer and deadline). If so, their missing fields go to out. */
static bool vm_unknown_waivers_matter(Vm *vm, const Record *rec, const Verdict *d0, Decision *out)
{
    const Prog *p = vm->p;
    uint32_t n = 0;
    vm_skip_reset(vm);
    for (uint32_t k = 0; k < vm->nunknown; k++) {
        const PRule *rule = &p->rules[vm->unknown[k]];
        if (rule->outcome == OUT_EXEMPT) vm_skip_targets(vm, rule), n++;
    }
    if (n < 2 || d0->outcome == OUT_NONE) return false;
    Verdict v;
    vm_verdict(vm, rec, UINT32_MAX, vm->whatif_reviewers, &v);
    if (!vm_verdict_differs(&v, d0)) return false;
    for (uint32_t k = 0; k < vm->nunknown; k++)
        if (p->rules[vm->unknown[k]].outcome == OUT_EXEMPT) out->missing |= vm->unknown_missing[k];
    return true;
}

/* Decides rec (a record decoded for vm's Prog) into *out, whose arrays
 * point into vm's scratch until the next call. Allocates nothing. */
void vm_decide(Vm *vm, const Record *rec, Decision *out)
{
    static const pcr_decision_kind kind_of[] = {
        [OUT_NONE] = PCR_DEC_NONE,
        [OUT_NOTIFICATION] = PCR_DEC_NOTIFICATION,
        [OUT_PRIOR_AUTH] = PCR_DEC_PRIOR_AUTH,
        [OUT_NOT_COVERED] = PCR_DEC_NOT_COVERED,
    };
    const Prog *p = vm->p;

    /* A new record: stamps from earlier records no longer match. On wrap,
     * clear them so a stamp from 2^32 records ago cannot match. */
    if (++vm->epoch == 0) {
        memset(vm->fired_at, 0, p->nrules * sizeof *vm->fired_at);
        memset(vm->waived_at, 0, p->nrules * sizeof *vm->waived_at);
        vm->epoch = 1;
    }
    vm->nfired = vm->nunknown = 0;
    vm->waive_all = false;
    vm_evaluate(vm, rec);

    /* Fired, unwaived rules (ascending, as fired is): the decision's list. */
    uint32_t nrules = 0;
    for (uint32_t k = 0; k < vm->nfired; k++) {
        uint32_t r = vm->fired[k];
        if (vm_waived(vm, r)) continue;
        vm->rules[nrules++] = r;
        vm->counts[r]++;
    }

    memset(out, 0, sizeof *out);
    out->rules = vm->rules;
    out->nrules = nrules;
    out->reviewers = vm->reviewers;
    out->timely = -1;

    Verdict d0;
    vm_skip_reset(vm);
    vm_verdict(vm, rec, UINT32_MAX, vm->reviewers, &d0);

    bool need = false;
    for (uint32_t k = 0; k < vm->nunknown; k++) {
        if (vm_unknown_matters(vm, rec, vm->unknown[k], &d0)) {
            need = true;
            out->missing |= vm->unknown_missing[k];
        }
    }
    if (!need) need = vm_unknown_waivers_matter(vm, rec, &d0, out);
    if (need) {
        out->kind = PCR_DEC_INFO_NEEDED;
        return;
    }
    assert(d0.outcome <= OUT_NOT_COVERED);
    out->kind = kind_of[d0.outcome];
    if (d0.outcome == OUT_NONE) return;
    out->nreviewers = d0.nreviewers;
    out->has_deadline = d0.has_deadline;
    out->deadline_is_date = d0.deadline_is_date;
    out->deadline = d0.deadline;
    if (out->has_deadline && p->f_requested_at != PIDX_NONE && (rec->present >> p->f_requested_at & 1))
        out->timely = vm_timely(rec->v[p->f_requested_at].i, rec->date_only >> p->f_requested_at & 1, out);
}
