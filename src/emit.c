/* emit.c: the checked model to a Prog: tables, condition blocks, the rule
 * index.
 *
 * Tables are built in growable temporaries (interning through small
 * open-addressing hash tables) and copied into p->arena at the end. Every
 * table is filled in model order, never in hash or pointer order, so equal
 * models give equal Progs.
 *
 * A condition block evaluates three-valued logic with short circuits:
 *   a and b  ->  a; JFALSE L; b; AND; L:
 *   a or b   ->  a; JTRUE L;  b; OR;  L:
 * The jump keeps its operand on the stack, so at L the stack holds one
 * bool on both paths (what the verifier checks). Each jump skips only its
 * right operand, so chains of any length keep jumps short and the stack
 * shallow (and-/or-chains are left-deep). */
#include "emit.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "opcodes.h"

enum {
    MAX_U16 = 65535,
};

typedef struct Emitter {
    const Model *m;
    Diags *d;
    bool failed;        /* a limit was exceeded (reported) */

    const char **strs;  /* interned strings (the model's; copied at the end) */
    uint32_t *lens;
    uint32_t nstrs, capstrs, caplens;
    uint32_t *shash;    /* open addressing: string index + 1, 0 = empty */
    uint32_t shcap;

    int64_t *consts;
    uint32_t nconsts, capconsts;
    uint32_t *khash;    /* constant index + 1, 0 = empty */
    uint32_t khcap;

    uint32_t *refs;
    uint32_t nrefs, caprefs;

    Buf code;           /* all condition blocks */
    uint32_t sp, maxsp; /* stack depth while emitting the current block */
    uint32_t f_service_date;
    Loc rule_at;        /* the rule being emitted, for limit diagnostics */
    const char *rule_id;
} Emitter;

static void limit(Emitter *e, Loc at, const char *fmt, const char *what)
{
    if (!e->failed) diag_error(e->d, "E410", at, fmt, what);
    e->failed = true;
}

/* ---- pools ------------------------------------------------------------- */

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static uint32_t hash_u64(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    return (uint32_t)v;
}

/* Index of s in the string table (added if new). */
static uint32_t intern(Emitter *e, const char *s)
{
    size_t n = strlen(s);
    if ((e->nstrs + 1) * 2 > e->shcap) {
        uint32_t cap = e->shcap ? e->shcap * 2 : 256;
        uint32_t *h = xcalloc(cap, sizeof *h);
        for (uint32_t i = 0; i < e->nstrs; i++) {
            uint32_t j = hash_bytes(e->strs[i], e->lens[i]) & (cap - 1);
            while (h[j]) j = (j + 1) & (cap - 1);
            h[j] = i + 1;
        }
        free(e->shash);
        e->shash = h;
        e->shcap = cap;
    }
    uint32_t j = hash_bytes(s, n) & (e->shcap - 1);
    for (; e->shash[j]; j = (j + 1) & (e->shcap - 1)) {
        uint32_t i = e->shash[j] - 1;
        if (e->lens[i] == n && memcmp(e->strs[i], s, n) == 0) return i;
    }
    sema_reserve((void **)&e->strs, &e->capstrs, e->nstrs + 1, sizeof *e->strs);
    sema_reserve((void **)&e->lens, &e->caplens, e->nstrs + 1, sizeof *e->lens);
    e->strs[e->nstrs] = s;
    e->lens[e->nstrs] = (uint32_t)n;
    e->shash[j] = e->nstrs + 1;
    return e->nstrs++;
}

static uint32_t intern_opt(Emitter *e, const char *s) { return s ? intern(e, s) : PIDX_NONE; }

static uint32_t constant(Emitter *e, int64_t k)
{
    if ((e->nconsts + 1) * 2 > e->khcap) {
        uint32_t cap = e->khcap ? e->khcap * 2 : 256;
        uint32_t *h = xcalloc(cap, sizeof *h);
        for (uint32_t i = 0; i < e->nconsts; i++) {
            uint32_t j = hash_u64((uint64_t)e->consts[i]) & (cap - 1);
            while (h[j]) j = (j + 1) & (cap - 1);
            h[j] = i + 1;
        }
        free(e->khash);
        e->khash = h;
        e->khcap = cap;
    }
    uint32_t j = hash_u64((uint64_t)k) & (e->khcap - 1);
    for (; e->khash[j]; j = (j + 1) & (e->khcap - 1))
        if (e->consts[e->khash[j] - 1] == k) return e->khash[j] - 1;
    sema_reserve((void **)&e->consts, &e->capconsts, e->nconsts + 1, sizeof *e->consts);
    e->consts[e->nconsts] = k;
    e->khash[j] = e->nconsts + 1;
    if (e->nconsts == MAX_U16 + 1)
        limit(e, e->rule_at, "policy too large: more than 65536 %s", "distinct constants");
    return e->nconsts++;
}

static uint32_t ref(Emitter *e, uint32_t v)
{
    sema_reserve((void **)&e->refs, &e->caprefs, e->nrefs + 1, sizeof *e->refs);
    e->refs[e->nrefs] = v;
    return e->nrefs++;
}

/* ---- instructions -------------------------------------------------------- */

static void push(Emitter *e, int n)
{
    e->sp = (uint32_t)((int)e->sp + n);
    if (e->sp > e->maxsp) e->maxsp = e->sp;
}

static void op0(Emitter *e, Opcode op, int stack)
{
    buf_put_u8(&e->code, (uint8_t)op);
    push(e, stack);
}

static void op_field(Emitter *e, Opcode op, uint32_t field)
{
    buf_put_u8(&e->code, (uint8_t)op);
    buf_put_u8(&e->code, (uint8_t)field);
    push(e, 1);
}

static void op_const(Emitter *e, Opcode op, int64_t k, int stack)
{
    uint32_t i = constant(e, k);
    buf_put_u8(&e->code, (uint8_t)op);
    buf_put_u16(&e->code, (uint16_t)i);
    push(e, stack);
}

static void op_str(Emitter *e, Opcode op, const char *s, int stack)
{
    buf_put_u8(&e->code, (uint8_t)op);
    buf_put_u32(&e->code, intern(e, s));
    push(e, stack);
}

/* A fused instruction (opcodes.h, PCR_FUSED): field, then a u16 set or
 * constant index. Pushes one bool. */
static void op_fused(Emitter *e, Opcode op, uint32_t field, uint32_t index)
{
    buf_put_u8(&e->code, (uint8_t)op);
    buf_put_u8(&e->code, (uint8_t)field);
    buf_put_u16(&e->code, (uint16_t)index);
    push(e, 1);
}

/* Emits a forward jump; returns the offset of its operand for patch(). */
static size_t jump(Emitter *e, Opcode op)
{
    buf_put_u8(&e->code, (uint8_t)op);
    size_t at = e->code.n;
    buf_put_u16(&e->code, 0);
    return at;
}

/* Points the jump whose operand is at `at` to the current end of code. */
static void patch(Emitter *e, size_t at)
{
    size_t dist = e->code.n - (at + 2);
    if (dist > MAX_U16) {
        limit(e, e->rule_at, "the condition of rule `%s` is too long (a jump would span more "
                             "than 65535 bytes)", e->rule_id);
        return;
    }
    e->code.p[at] = (char)(dist & 0xFF);
    e->code.p[at + 1] = (char)(dist >> 8);
}

static void operand(Emitter *e, const Operand *o, bool str)
{
    if (o->is_field) op_field(e, OP_LOAD, o->field);
    else if (str) op_str(e, OP_STR, o->s, 1);
    else op_const(e, OP_CONST, o->k, 1);
}

/* `set`'s window: `and service_date >= from and service_date <= through`
 * after the membership test on the stack. */
static void set_window(Emitter *e, const SSet *set)
{
    if (set->eff_from != DATE_OPEN_FROM) {
        size_t j = jump(e, OP_JFALSE);
        op_fused(e, OP_LDGEK, e->f_service_date, constant(e, set->eff_from));
        op0(e, OP_AND, -1);
        patch(e, j);
    }
    if (set->eff_through != DATE_OPEN_THROUGH) {
        size_t j = jump(e, OP_JFALSE);
        op_fused(e, OP_LDLEK, e->f_service_date, constant(e, set->eff_through));
        op0(e, OP_AND, -1);
        patch(e, j);
    }
}

static void cond(Emitter *e, const Cond *c);

/* A left-deep chain of one logical operator, by loop. */
static void chain(Emitter *e, const Cond *c)
{
    CondKind k = c->kind;
    size_t n = 0;
    for (const Cond *x = c; x->kind == k; x = x->a) n++;
    const Cond **spine = xmalloc(n * sizeof *spine);
    n = 0;
    for (; c->kind == k; c = c->a) spine[n++] = c;
    cond(e, c);
    while (n > 0) {
        const Cond *x = spine[--n];
        size_t j = jump(e, k == C_AND ? OP_JFALSE : OP_JTRUE);
        cond(e, x->b);
        op0(e, k == C_AND ? OP_AND : OP_OR, -1);
        patch(e, j);
    }
    free(spine);
}

static void cond(Emitter *e, const Cond *c)
{
    static const Opcode icmp[] = {OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE};
    static const Opcode icmp_k[] = {OP_LDEQK, OP_LDNEK, OP_LDLTK, OP_LDLEK, OP_LDGTK, OP_LDGEK};
    switch (c->kind) {
    case C_TRUE: op0(e, OP_TRUE, 1); break;
    case C_FALSE: op0(e, OP_FALSE, 1); break;
    case C_BOOL: op_field(e, OP_LOAD, c->field); break;
    case C_PRESENT: op_field(e, OP_PRESENT, c->field); break;
    case C_NOT:
        cond(e, c->a);
        op0(e, OP_NOT, 0);
        break;
    case C_AND:
    case C_OR: chain(e, c); break;
    case C_ICMP:
        if (c->x.is_field && !c->y.is_field) { /* field against a constant: fused */
            op_fused(e, icmp_k[c->cmp], c->x.field, constant(e, c->y.k));
            break;
        }
        operand(e, &c->x, false);
        operand(e, &c->y, false);
        op0(e, icmp[c->cmp], -1);
        break;
    case C_SCMP:
        operand(e, &c->x, true);
        operand(e, &c->y, true);
        op0(e, c->cmp == CMP_EQ ? OP_SEQ : OP_SNE, -1);
        break;
    case C_INSET:
    case C_ANYSET: {
        const SSet *set = &e->m->sets[c->set];
        op_fused(e, c->kind == C_INSET ? OP_LDINSET : OP_LDANYSET, c->field, set->pset);
        set_window(e, set);
        break;
    }
    case C_INMASK:
        op_fused(e, OP_LDINMASK, c->field, constant(e, c->mask));
        break;
    case C_ANYSTR:
        op_field(e, OP_LOAD, c->field);
        op_str(e, OP_ANYSTR, c->str, 0);
        break;
    }
}

/* The block of rule r: when and not unless1 and not unless2 ..., RET. */
static void rule_block(Emitter *e, const SRule *r, PRule *pr)
{
    e->sp = e->maxsp = 0;
    e->rule_at = r->loc;
    e->rule_id = r->id;
    pr->code_off = (uint32_t)e->code.n;
    pr->unless_count = r->nunless;
    cond(e, r->when);
    for (uint32_t i = 0; i < r->nunless; i++) {
        size_t j = jump(e, OP_JFALSE);
        cond(e, r->unless[i]);
        op0(e, OP_NOT, 0);
        op0(e, OP_AND, -1);
        patch(e, j);
    }
    op0(e, OP_RET, -1);
    pr->code_len = (uint32_t)(e->code.n - pr->code_off);
    if (e->maxsp > PCR_MAX_STACK)
        limit(e, r->loc, "the condition of rule `%s` nests too deeply for the VM stack",
              r->id);
}

/* ---- the rule index ---------------------------------------------------- */

/* A sweep event: rule `rule` enters the active list at `key` (start) or
 * leaves it there (end, at hi + 1 of its interval). */
typedef struct Event {
    CodeKey key;
    uint32_t rule;
    uint32_t end; /* 1: leaves, 0: enters */
} Event;

static int cmp_event(const void *a, const void *b)
{
    const Event *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* The index is an optimisation: a rule without an index set is tried on
 * every record, with the same result. Past these bounds (a hostile or
 * absurd policy: thousands of rules over thousands of overlapping ranges)
 * the compiler builds no index instead of spending time and memory
 * quadratic in the rules. */
enum {
    INDEX_MAX_EVENTS = 1 << 22,  /* interval ends of the indexed rules */
    INDEX_MAX_ENTRIES = 1 << 22, /* rule numbers in seg_rules, all lists together */
};

/* No index: every rule is tried on every record. */
static void no_index(Prog *p)
{
    p->always = arena_alloc(&p->arena, p->nrules * sizeof *p->always);
    for (uint32_t r = 0; r < p->nrules; r++) {
        p->rules[r].index_set = PIDX_NONE;
        p->always[r] = r;
    }
    p->nalways = p->nrules;
    p->segs = arena_alloc(&p->arena, 0);
    p->nsegs = 0;
    p->seg_rules = arena_alloc(&p->arena, 0);
    p->nseg_rules = 0;
}

/* Applies the events ev[0..n) of one key to the ascending list active:
 * the rules that leave (end) are dropped, those that enter are merged in.
 * Events come sorted by (end, rule). O(nactive + n); `gone` (one flag per
 * rule, all clear) and `next` (room for every rule) are scratch. */
static uint32_t apply_events(const Event *ev, size_t n, uint32_t *active, uint32_t nactive,
                             uint8_t *gone, uint32_t *next)
{
    size_t nin = 0;
    while (nin < n && !ev[nin].end) nin++;
    for (size_t k = nin; k < n; k++) gone[ev[k].rule] = 1;
    uint32_t w = 0, a = 0, m = 0;
    for (uint32_t i = 0; i < nactive; i++) {
        if (gone[active[i]]) gone[active[i]] = 0;
        else active[w++] = active[i];
    }
    size_t k = 0;
    while (a < w || k < nin) {
        if (k == nin || (a < w && active[a] < ev[k].rule)) next[m++] = active[a++];
        else next[m++] = ev[k++].rule;
    }
    memcpy(active, next, m * sizeof *active);
    return m;
}

void emit_index(Prog *p)
{
    size_t nev = 0;
    uint32_t nalways = 0;
    for (uint32_t r = 0; r < p->nrules; r++) {
        if (p->rules[r].index_set == PIDX_NONE) nalways++;
        else nev += 2 * (size_t)p->sets[p->rules[r].index_set].count;
    }
    if (nev > INDEX_MAX_EVENTS) {
        no_index(p);
        return;
    }
    Event *ev = xmalloc(nev * sizeof *ev);
    size_t k = 0;
    for (uint32_t r = 0; r < p->nrules; r++) {
        const PRule *pr = &p->rules[r];
        if (pr->index_set == PIDX_NONE) continue;
        const PSet *set = &p->sets[pr->index_set];
        for (uint32_t i = 0; i < set->count; i++) {
            const CodeRange *cr = &p->ranges[set->first + i];
            ev[k++] = (Event){.key = cr->lo, .rule = r, .end = 0};
            ev[k++] = (Event){.key = cr->hi + 1, .rule = r, .end = 1};
        }
    }
    qsort(ev, nev, sizeof *ev, cmp_event);

    uint32_t *active = xmalloc(p->nrules * sizeof *active);
    uint32_t *next = xmalloc(p->nrules * sizeof *next);
    uint8_t *gone = xcalloc(p->nrules, 1);
    uint32_t nactive = 0;
    PSeg *segs = NULL;
    uint32_t nsegs = 0, capsegs = 0;
    uint32_t *lists = NULL, nlists = 0, caplists = 0;
    uint32_t last_first = 0, last_count = 0;
    bool have_last = false, too_big = false;
    for (size_t i = 0; i < nev && !too_big;) {
        CodeKey key = ev[i].key;
        size_t g = i;
        while (g < nev && ev[g].key == key) g++;
        nactive = apply_events(ev + i, g - i, active, nactive, gone, next);
        i = g;
        if (nactive == 0 || i == nev) continue;
        CodeKey hi = ev[i].key - 1;
        bool same = have_last && last_count == nactive &&
                    memcmp(lists + last_first, active, nactive * sizeof *active) == 0;
        if (same && nsegs && segs[nsegs - 1].hi + 1 == key) {
            segs[nsegs - 1].hi = hi;
            continue;
        }
        if (!same) {
            if ((size_t)nlists + nactive > INDEX_MAX_ENTRIES) {
                too_big = true;
                break;
            }
            /* Equal lists share one slice of seg_rules, adjacent or not. */
            sema_reserve((void **)&lists, &caplists, nlists + nactive, sizeof *lists);
            memcpy(lists + nlists, active, nactive * sizeof *active);
            last_first = nlists;
            last_count = nactive;
            nlists += nactive;
            have_last = true;
        }
        sema_reserve((void **)&segs, &capsegs, nsegs + 1, sizeof *segs);
        segs[nsegs++] = (PSeg){.lo = key, .hi = hi, .first = last_first, .count = last_count};
    }
    if (too_big) {
        no_index(p);
    } else {
        p->always = arena_alloc(&p->arena, nalways * sizeof *p->always);
        p->nalways = 0;
        for (uint32_t r = 0; r < p->nrules; r++)
            if (p->rules[r].index_set == PIDX_NONE) p->always[p->nalways++] = r;
        p->segs = arena_alloc(&p->arena, nsegs * sizeof *segs);
        if (nsegs) memcpy(p->segs, segs, nsegs * sizeof *segs);
        p->nsegs = nsegs;
        p->seg_rules = arena_alloc(&p->arena, nlists * sizeof *lists);
        if (nlists) memcpy(p->seg_rules, lists, nlists * sizeof *lists);
        p->nseg_rules = nlists;
    }
    free(ev);
    free(active);
    free(next);
    free(gone);
    free(segs);
    free(lists);
}

/* ---- the program ------------------------------------------------------- */

static uint32_t field_named(const Model *m, const char *name)
{
    for (uint32_t i = 0; i < m->nfields; i++)
        if (strcmp(m->fields[i].name, name) == 0) return i;
    return PIDX_NONE;
}

static void *arena_copy(Arena *a, const void *src, size_t n)
{
    void *p = arena_alloc(a, n);
    if (n) memcpy(p, src, n);
    return p;
}

static void emit_header(Emitter *e, Prog *p)
{
    const Model *m = e->m;
    p->id = intern(e, m->id ? m->id : "");
    p->payer = intern(e, m->payer ? m->payer : "");
    p->title = intern(e, m->title ? m->title : "");
    p->version = intern(e, m->version ? m->version : "");
    p->source_doc = intern_opt(e, m->source_doc);
    p->source_title = intern_opt(e, m->source_title);
    p->contact_first = e->nrefs;
    p->contact_count = m->ncontacts;
    for (uint32_t i = 0; i < m->ncontacts; i++) ref(e, intern(e, m->contacts[i]));
    p->reviewer = intern_opt(e, m->reviewer);
    p->payer_first = e->nrefs;
    p->payer_count = m->npayers > 1 ? m->npayers - 1 : 0;
    for (uint32_t i = 1; i < m->npayers; i++) ref(e, intern(e, m->payers[i]));
    p->eff_from = m->eff_from;
    p->eff_through = m->eff_through;
    p->source_hash = m->source_hash;
}

static void emit_fields(Emitter *e, Prog *p)
{
    const Model *m = e->m;
    p->fields = arena_alloc(&p->arena, m->nfields * sizeof *p->fields);
    p->nfields = m->nfields;
    for (uint32_t i = 0; i < m->nfields; i++) {
        const SField *f = &m->fields[i];
        PField *pf = &p->fields[i];
        pf->name = intern(e, f->name);
        pf->type = f->type;
        pf->elem = f->elem;
        pf->flags = f->flags;
        pf->systems = f->systems;
        pf->tag_field = f->tag_field;
        pf->enum_first = e->nrefs;
        pf->enum_count = f->nmembers;
        for (uint32_t k = 0; k < f->nmembers; k++) ref(e, intern(e, f->members[k]));
        pf->deflt = f->deflt;
    }
    p->f_id = field_named(m, "id");
    p->f_payer = field_named(m, "payer");
    p->f_service_date = field_named(m, "service_date");
    p->f_requested_at = field_named(m, "requested_at");
    p->f_code = m->index_field; /* the field the rule index is keyed on */
    p->f_service_at = field_named(m, "service_at");
    if (p->f_service_at != PIDX_NONE && m->fields[p->f_service_at].type != VT_DATETIME)
        p->f_service_at = PIDX_NONE;
    e->f_service_date = p->f_service_date;
}

static void emit_sets(Emitter *e, Prog *p)
{
    const Model *m = e->m;
    if (m->nused > MAX_U16 + 1)
        limit(e, m->at, "policy too large: more than 65536 %s", "code sets in conditions");
    size_t nranges = 0;
    for (uint32_t i = 0; i < m->nused; i++) nranges += m->sets[m->used[i]].codes.n;
    p->sets = arena_alloc(&p->arena, m->nused * sizeof *p->sets);
    p->nsets = m->nused;
    p->ranges = arena_alloc(&p->arena, nranges * sizeof *p->ranges);
    uint32_t at = 0;
    for (uint32_t i = 0; i < m->nused; i++) {
        const SSet *set = &m->sets[m->used[i]];
        p->sets[i] = (PSet){.name = intern(e, set->name), .first = at,
                            .count = (uint32_t)set->codes.n};
        if (set->codes.n) memcpy(p->ranges + at, set->codes.r, set->codes.n * sizeof *p->ranges);
        at += (uint32_t)set->codes.n;
    }
    p->nranges = at;
}

static void emit_rules(Emitter *e, Prog *p)
{
    const Model *m = e->m;
    p->rules = arena_alloc(&p->arena, m->nrules * sizeof *p->rules);
    p->nrules = m->nrules;
    for (uint32_t i = 0; i < m->nrules && !e->failed; i++) {
        const SRule *r = &m->rules[i];
        PRule *pr = &p->rules[i];
        pr->id = intern(e, r->id);
        pr->title = intern(e, r->title ? r->title : "");
        pr->cite_first = e->nrefs;
        pr->cite_count = r->ncites;
        for (uint32_t k = 0; k < r->ncites; k++) {
            ref(e, intern(e, r->cite_docs[k]));
            ref(e, intern_opt(e, r->cite_sections[k]));
        }
        pr->line = r->loc.line;
        pr->outcome = r->outcome;
        pr->dl_unit = r->dl_unit;
        pr->dl_dir = r->dl_dir;
        pr->dl_amount = r->dl_amount;
        pr->exempt_all = r->exempt_all;
        pr->eff_from = r->eff_from;
        pr->eff_through = r->eff_through;
        pr->rev_first = e->nrefs;
        pr->rev_count = r->nreviewers;
        for (uint32_t k = 0; k < r->nreviewers; k++) ref(e, intern(e, r->reviewers[k]));
        pr->waive_first = e->nrefs;
        pr->waive_count = r->nwaives;
        for (uint32_t k = 0; k < r->nwaives; k++) ref(e, r->waives[k]);
        pr->index_set = r->index_set == PIDX_NONE ? PIDX_NONE : m->sets[r->index_set].pset;
        rule_block(e, r, pr);
    }
}

Prog *emit_prog(const Model *m, Diags *d)
{
    Emitter e = {.m = m, .d = d, .rule_at = m->at};
    Prog *p = prog_new();
    emit_header(&e, p);
    emit_fields(&e, p);
    emit_sets(&e, p);
    emit_rules(&e, p);

    if (!e.failed) {
        /* Strings, constants, refs and code move into the Prog's arena. */
        p->strs = arena_alloc(&p->arena, (e.nstrs ? e.nstrs : 1) * sizeof *p->strs);
        p->strlens = arena_copy(&p->arena, e.lens, e.nstrs * sizeof *e.lens);
        for (uint32_t i = 0; i < e.nstrs; i++)
            p->strs[i] = arena_strndup(&p->arena, e.strs[i], e.lens[i]);
        p->nstrs = e.nstrs;
        p->consts = arena_copy(&p->arena, e.consts, e.nconsts * sizeof *e.consts);
        p->nconsts = e.nconsts;
        p->refs = arena_copy(&p->arena, e.refs, e.nrefs * sizeof *e.refs);
        p->nrefs = e.nrefs;
        p->code = arena_copy(&p->arena, e.code.p, e.code.n);
        p->ncode = (uint32_t)e.code.n;
        p->holidays = arena_copy(&p->arena, m->holidays, m->nholidays * sizeof *m->holidays);
        p->nholidays = m->nholidays;
        emit_index(p);
    }
    free(e.strs);
    free(e.lens);
    free(e.shash);
    free(e.consts);
    free(e.khash);
    free(e.refs);
    buf_free(&e.code);
    if (e.failed) {
        prog_free(p);
        return NULL;
    }
    return p;
}
