/* vm_index.c: builds what vm_index.h describes from a verified Prog: the
 * code table (vi_ct_build), every rule's guards and `or` atoms
 * (vi_find_guards, vi_find_any), the fold of code-set `or`s
 * (vi_split_build) and the filter of the always rules (vi_filter_build).
 * Runs once per policy, before any record; nothing here is on the
 * per-record path. */
#include "vm_index.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "codes.h"
#include "opcodes.h"

static inline uint32_t rd16(const uint8_t *at) { return (uint32_t)at[0] | (uint32_t)at[1] << 8; }
static inline uint32_t rd32(const uint8_t *at) { return rd16(at) | rd16(at + 2) << 16; }

/* ---- the code table ------------------------------------------------------ */

/* The end of the ascending run of keys that starts at i (before n). */
static size_t vi_run_end(const CodeKey *keys, size_t i, size_t n)
{
    while (++i < n && keys[i - 1] <= keys[i]) {}
    return i;
}

/* Sorts keys[0 .. n) ascending by merging its ascending runs, two at a
 * time, until one is left (tmp has room for n keys). Each set's ranges and
 * the segments come in order, so a policy's interval starts are few runs
 * for their number: make bench's 10,000-rule policy has 109,120 starts in
 * 8 runs, sorted in three passes. */
static void vi_sort_keys(CodeKey *keys, CodeKey *tmp, size_t n)
{
    CodeKey *from = keys, *to = tmp;
    for (size_t runs = 2; runs > 1;) {
        runs = 0;
        for (size_t i = 0; i < n; runs++) {
            size_t mid = vi_run_end(from, i, n), end = mid < n ? vi_run_end(from, mid, n) : n;
            size_t a = i, b = mid, k = i;
            while (a < mid && b < end) to[k++] = from[b] < from[a] ? from[b++] : from[a++];
            while (a < mid) to[k++] = from[a++];
            while (b < end) to[k++] = from[b++];
            i = end;
        }
        CodeKey *t = from;
        from = to;
        to = t;
    }
    if (from != keys) memcpy(keys, from, n * sizeof *keys);
}

/* n keys, padded with VI_PAD to whole nodes, in new 64-byte aligned memory. */
static CodeKey *vi_node_array(const CodeKey *keys, size_t n)
{
    size_t cap = (n + VI_NODE - 1) / VI_NODE * VI_NODE;
    CodeKey *a = xaligned(64, (cap ? cap : VI_NODE) * sizeof *a);
    memcpy(a, keys, n * sizeof *a);
    for (size_t i = n; i < cap || i < VI_NODE; i++) a[i] = VI_PAD;
    return a;
}

/* t->start (t->n keys) and the search tree's levels above it, from the
 * ascending keys b: each level holds every VI_NODE-th key of the one below
 * from the VI_NODE-th on, up to a level of one node. */
static void vi_tree_build(ViCodeTab *t, const CodeKey *b)
{
    t->start = vi_node_array(b, t->n);
    const CodeKey *below = t->start;
    size_t nbelow = t->n;
    CodeKey *keys = xmalloc((nbelow / VI_NODE + 1) * sizeof *keys);
    for (t->levels = 0; nbelow > VI_NODE; t->levels++) {
        size_t m = (nbelow - 1) / VI_NODE; /* keys 8, 16, ... of the level below */
        assert(t->levels < VI_TREE_LEVELS);
        for (size_t j = 0; j < m; j++) keys[j] = below[(j + 1) * VI_NODE];
        below = t->level[t->levels] = vi_node_array(keys, m);
        nbelow = m;
    }
    free(keys);
}

static void vi_ct_free(ViCodeTab *t)
{
    free(t->start);
    for (uint32_t l = 0; l < t->levels; l++) free(t->level[l]);
    free(t->seg);
    free(t->set_first);
    free(t->set_ids);
    free(t->bucket_pre);
    free(t->bucket_bits);
}

/* The last key of interval i of t. */
static CodeKey vi_ct_last(const ViCodeTab *t, uint32_t i)
{
    return i + 1 < t->n ? t->start[i + 1] - 1 : UINT64_MAX;
}

/* Whether interval i of t holds a set or is in a segment. */
static bool vi_ct_holds(const ViCodeTab *t, uint32_t i)
{
    return t->set_first[i] != t->set_first[i + 1] || t->seg[i] != PIDX_NONE;
}

/* Sets bits first .. last (inclusive) of the bitmap w, whole words at a
 * time where it can. */
static void vi_bits_set(uint64_t *w, uint32_t first, uint32_t last)
{
    for (uint32_t b = first; b <= last;) {
        if (b % 64 == 0 && last - b >= 63) {
            w[b / 64] = UINT64_MAX;
            b += 64;
        } else {
            w[b / 64] |= (uint64_t)1 << (b % 64);
            b++;
        }
    }
}

/* Builds t's bucket filter (ViCodeTab.bucket_pre): pass 1 lists the
 * prefixes the holding intervals touch (ascending, as the intervals are),
 * pass 2 sets the bits of their buckets. None when there are more than
 * VI_BUCKET_MAX_PREFIXES. */
static void vi_bucket_build(ViCodeTab *t)
{
    uint32_t *pre = xmalloc(VI_BUCKET_MAX_PREFIXES * sizeof *pre), npre = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        if (!vi_ct_holds(t, i)) continue;
        uint64_t a = t->start[i] >> VI_PREFIX_SHIFT, b = vi_ct_last(t, i) >> VI_PREFIX_SHIFT;
        if (npre && pre[npre - 1] >= a) a = (uint64_t)pre[npre - 1] + 1;
        if (b >= a && b - a >= VI_BUCKET_MAX_PREFIXES - npre) {
            free(pre);
            return;
        }
        for (uint64_t x = a; x <= b; x++) pre[npre++] = (uint32_t)x;
    }
    t->bucket_pre = xrealloc(pre, (npre ? npre : 1) * sizeof *pre);
    pre = t->bucket_pre;
    t->npre = npre;
    t->bucket_bits = xcalloc(((size_t)npre + 1) * VI_BUCKET_WORDS, sizeof *t->bucket_bits);
    uint32_t j = 0; /* the listed prefix of interval i's first key */
    for (uint32_t i = 0; i < t->n; i++) {
        if (!vi_ct_holds(t, i)) continue;
        CodeKey lo = t->start[i], hi = vi_ct_last(t, i);
        while (pre[j] < lo >> VI_PREFIX_SHIFT) j++;
        for (uint32_t x = j; x < npre && pre[x] <= hi >> VI_PREFIX_SHIFT; x++) {
            uint32_t first = pre[x] == lo >> VI_PREFIX_SHIFT ? vi_bucket_of(lo) : 0;
            uint32_t last = pre[x] == hi >> VI_PREFIX_SHIFT ? vi_bucket_of(hi) : VI_BUCKETS - 1;
            vi_bits_set(t->bucket_bits + (size_t)(x + 1) * VI_BUCKET_WORDS, first, last);
        }
    }
}

/* See vm_index.h. */
void vi_memo_fill(const ViCodeTab *t, ViMemo *m, uint32_t pre)
{
    CodeKey first = (CodeKey)pre << VI_PREFIX_SHIFT;
    m->prefix = pre;
    m->lo = vi_ct_find(t, first);
    m->hi = vi_ct_find(t, first | (((CodeKey)1 << VI_PREFIX_SHIFT) - 1));
    /* set_first counts the sets of the intervals before each */
    m->sets = m->hi != UINT32_MAX && t->set_first[m->hi + 1] != t->set_first[m->lo == UINT32_MAX ? 0 : m->lo];
    m->bits = vi_bucket_bitmap(t, pre);
}

/* See vm_index.h. */
uint32_t vi_bucket_bitmap(const ViCodeTab *t, uint32_t pre)
{
    if (!t->bucket_bits) return VI_BITS_NONE;
    uint32_t lo = 0, hi = t->npre;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->bucket_pre[mid] < pre) lo = mid + 1;
        else hi = mid;
    }
    return lo < t->npre && t->bucket_pre[lo] == pre ? (lo + 1) * VI_BUCKET_WORDS : 0;
}

/* Builds p's code table into *t (t->n stays 0 when it would hold more than
 * VI_CT_MAX_ENTRIES set entries). Interval starts are every range's and
 * segment's first code and the code after its last, so each interval lies
 * wholly inside or outside every range and segment. */
static void vi_ct_build(const Prog *p, ViCodeTab *t)
{
    memset(t, 0, sizeof *t);
    size_t nb = 0, cap = 2 * ((size_t)p->nranges + p->nsegs);
    if (cap == 0) return;
    CodeKey *b = xmalloc(cap * sizeof *b), *tmp = xmalloc(cap * sizeof *tmp);
    for (uint32_t r = 0; r < p->nranges; r++) {
        b[nb++] = p->ranges[r].lo;
        if (p->ranges[r].hi != UINT64_MAX) b[nb++] = p->ranges[r].hi + 1;
    }
    for (uint32_t g = 0; g < p->nsegs; g++) {
        b[nb++] = p->segs[g].lo;
        if (p->segs[g].hi != UINT64_MAX) b[nb++] = p->segs[g].hi + 1;
    }
    vi_sort_keys(b, tmp, nb);
    free(tmp);
    size_t n = 0;
    for (size_t k = 0; k < nb; k++)
        if (n == 0 || b[n - 1] != b[k]) b[n++] = b[k];
    t->n = (uint32_t)n;
    vi_tree_build(t, b);
    free(b);
    t->set_first = xcalloc(n + 1, sizeof *t->set_first);
    /* Pass 1 counts each interval's sets (into set_first[i + 1]), pass 2
     * fills them (sets ascending within an interval). */
    size_t total = 0;
    uint32_t *first = xmalloc(((size_t)p->nranges + 1) * sizeof *first); /* range r's first interval */
    /* vi_ct_find takes keys below VI_PAD, the tree's padding, as every
     * code's is; a verified file may still hold a range at the largest key
     * (docs/reliability.md, F9), which starts the last interval */
    for (uint32_t r = 0; r < p->nranges; r++)
        first[r] = p->ranges[r].lo == VI_PAD ? (uint32_t)n - 1 : vi_ct_find(t, p->ranges[r].lo);
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t s = 0; s < p->nsets; s++) {
            const PSet *set = &p->sets[s];
            for (uint32_t r = set->first; r < set->first + set->count; r++) {
                for (uint32_t i = first[r]; i < n && t->start[i] <= p->ranges[r].hi; i++) {
                    if (pass == 0) t->set_first[i + 1]++, total++;
                    else t->set_ids[t->set_first[i]++] = s;
                }
            }
        }
        if (pass == 0) {
            if (total > VI_CT_MAX_ENTRIES) {
                free(first);
                vi_ct_free(t);
                memset(t, 0, sizeof *t);
                return;
            }
            for (size_t i = 0; i < n; i++) t->set_first[i + 1] += t->set_first[i];
            t->set_ids = xmalloc((total ? total : 1) * sizeof *t->set_ids);
        }
    }
    free(first);
    /* Pass 2 advanced each set_first[i] to the end of interval i: shift back. */
    memmove(t->set_first + 1, t->set_first, n * sizeof *t->set_first);
    t->set_first[0] = 0;
    /* Each interval's segment (vi_find_seg's answer for its start): the
     * starts and the segments are both ascending, so one walk of both. */
    t->seg = xmalloc((n ? n : 1) * sizeof *t->seg);
    for (size_t i = 0, g = 0; i < n; i++) {
        while (g < p->nsegs && p->segs[g].hi < t->start[i]) g++;
        t->seg[i] = g < p->nsegs && p->segs[g].lo <= t->start[i] ? (uint32_t)g : PIDX_NONE;
    }
    vi_bucket_build(t);
}

/* ---- guards -------------------------------------------------------------- */

/* Whether a known false on top of the stack at offset pc of a block of len
 * bytes reaches RET only through JFALSE jumps (each keeps it and jumps), so
 * the block returns false. */
static bool vi_false_to_ret(const uint8_t *code, uint32_t len, uint32_t pc)
{
    while (pc < len) {
        if (code[pc] == OP_RET) return true;
        if (code[pc] != OP_JFALSE || len - pc < 3) return false;
        pc += 3 + rd16(code + pc + 1);
    }
    return false;
}

/* If code[pc] begins a test of one field that a guard can stand for, fills
 * *g and returns the test's size in bytes; else 0. */
static uint32_t vi_guard_at(const Prog *p, const uint8_t *code, uint32_t len, uint32_t pc, ViGuard *g)
{
    if (len - pc >= 4 && (code[pc] == OP_LDINMASK || code[pc] == OP_LDEQK)) {
        g->kind = code[pc] == OP_LDINMASK ? VI_G_MASK : VI_G_EQ;
        g->field = code[pc + 1];
        g->k = p->consts[rd16(code + pc + 2)];
        return 4;
    }
    if (len - pc >= 8 && code[pc] == OP_LOAD && code[pc + 2] == OP_STR && code[pc + 7] == OP_SEQ) {
        g->kind = VI_G_STR;
        g->field = code[pc + 1];
        g->k = rd32(code + pc + 3);
        return 8;
    }
    return 0;
}

enum { VI_MAX_ATOMS = 1 << 20 }; /* more `or` disjuncts or chain guards (crafted files):
                                   no more guards */

/* Appends guard t (an `unless` one when unless) to ix->conds; false when
 * VI_MAX_ATOMS are there. */
static bool vi_add_cond(ViIndex *ix, const ViGuard *t, uint8_t unless)
{
    if (ix->nconds == ix->conds_cap) {
        if (ix->conds_cap >= VI_MAX_ATOMS) return false;
        ix->conds_cap = ix->conds_cap ? 2 * ix->conds_cap : 64;
        ix->conds = xrealloc(ix->conds, ix->conds_cap * sizeof *ix->conds);
    }
    ix->conds[ix->nconds].g = *t;
    ix->conds[ix->nconds++].unless = unless;
    return true;
}

/* The guards of rule r, from its verified block (zero when none):
 *   when: the block begins with a guard test, and its false reaches RET
 *     through JFALSE jumps only (a left-deep `and` chain, then `unless`
 *     clauses): the test failing makes the rule false;
 *   unless: `JFALSE; test; NOT; AND`, the shape of an `unless` clause, whose
 *     result reaches RET through JFALSE jumps only, and no jump before it
 *     lands past its start (every path runs it): the test holding makes
 *     the AND, and so the rule, false, whatever the rest (Kleene: false and
 *     unknown is false). The first such clause;
 *   conj: `when`, every `unless` clause as above, and every later conjunct
 *     of the chain of that shape without the NOT (`JFALSE L; test; AND; L:`,
 *     its result reaching RET through JFALSE jumps only, no jump before it
 *     past its start): the test failing makes the AND, and so the rule,
 *     false. Appended to ix->conds (the filter reads them). */
static void vi_find_guards(ViIndex *ix, const PRule *rule, ViRuleGuards *g)
{
    const Prog *p = ix->p;
    const uint8_t *code = p->code + rule->code_off;
    uint32_t len = rule->code_len, n;
    ViGuard t;
    memset(g, 0, sizeof *g);
    g->conj_first = ix->nconds;
    if ((n = vi_guard_at(p, code, len, 0, &t)) && vi_false_to_ret(code, len, n)) {
        g->when = t;
        vi_add_cond(ix, &t, 0);
    }
    uint32_t reach = 0; /* the furthest jump target seen so far */
    for (uint32_t pc = 0; pc < len && code[pc] < OP__COUNT;) {
        static const uint8_t fmt[] = {
#define OP_FMT(name, opnd, pops, pushes, doc) opnd,
            PCR_OPCODES(OP_FMT)
#undef OP_FMT
        };
        uint32_t size = 1 + OPND_BYTES(fmt[code[pc]]);
        if (code[pc] == OP_JFALSE && reach <= pc && len - pc >= 3 &&
            (n = vi_guard_at(p, code, len, pc + 3, &t))) {
            uint32_t d = rd16(code + pc + 1), after = pc + 3 + n;
            if (d == n + 2 && len - after >= 2 && code[after] == OP_NOT &&
                code[after + 1] == OP_AND && vi_false_to_ret(code, len, after + 2)) {
                if (!g->unless.kind) g->unless = t;
                vi_add_cond(ix, &t, 1);
            } else if (d == n + 1 && len - after >= 1 && code[after] == OP_AND &&
                       vi_false_to_ret(code, len, after + 1)) {
                vi_add_cond(ix, &t, 0);
            }
        }
        if ((code[pc] == OP_JFALSE || code[pc] == OP_JTRUE) && len - pc >= 3) {
            uint32_t target = pc + 3 + rd16(code + pc + 1);
            if (target > reach) reach = target;
        }
        pc += size;
    }
    g->conj_count = ix->nconds - g->conj_first;
}

/* The size in bytes of the instruction with opcode op (< OP__COUNT). */
static uint32_t vi_op_size(unsigned op)
{
    static const uint8_t fmt[] = {
#define OP_FMT(name, opnd, pops, pushes, doc) opnd,
        PCR_OPCODES(OP_FMT)
#undef OP_FMT
    };
    return 1 + OPND_BYTES(fmt[op]);
}

static uint32_t vi_atom_head(const Prog *p, const uint8_t *code, uint32_t len, uint32_t pc, ViAtom *a);

/* If code[pc] begins a disjunct that an ViAtom can stand for, fills *a and
 * returns its size in bytes; else 0. A disjunct `head and rest` (`head;
 * JFALSE L; rest; AND; L:`) stands as its head: when the head is known
 * false, the JFALSE leaves that false as the conjunction's value,
 * whatever rest is. */
static uint32_t vi_atom_at(const Prog *p, const uint8_t *code, uint32_t len, uint32_t pc, ViAtom *a)
{
    uint32_t n = vi_atom_head(p, code, len, pc, a);
    if (!n || len - pc - n < 3 || code[pc + n] != OP_JFALSE) return n;
    uint32_t at = pc + n + 3, target = at + rd16(code + pc + n + 1), last = at;
    while (at < target && at < len && code[at] < OP__COUNT) {
        last = at;
        at += vi_op_size(code[at]);
    }
    if (at != target || last == pc + n + 3 || code[last] != OP_AND) return n;
    return target - pc;
}

/* The atoms themselves (vi_atom_at). */
static uint32_t vi_atom_head(const Prog *p, const uint8_t *code, uint32_t len, uint32_t pc, ViAtom *a)
{
    memset(a, 0, sizeof *a);
    uint32_t n = vi_guard_at(p, code, len, pc, &a->g);
    if (n) {
        a->kind = VI_A_GUARD;
        return n;
    }
    if (len - pc >= 4 && (code[pc] == OP_LDINSET || code[pc] == OP_LDANYSET)) {
        a->kind = VI_A_SET;
        a->field = code[pc + 1];
        a->set = rd16(code + pc + 2);
        return 4;
    }
    if (len - pc >= 10 && code[pc] == OP_PRESENT && code[pc + 2] == OP_JFALSE &&
        rd16(code + pc + 3) == 5 && (code[pc + 5] == OP_LDINSET || code[pc + 5] == OP_LDANYSET) &&
        code[pc + 6] == code[pc + 1] && code[pc + 9] == OP_AND) {
        a->kind = VI_A_PRESENT_SET;
        a->field = code[pc + 1];
        a->set = rd16(code + pc + 7);
        return 10;
    }
    if (len - pc >= 2 && code[pc] == OP_LOAD && p->fields[code[pc + 1]].type == VT_BOOL) {
        a->kind = VI_A_BOOL;
        a->field = code[pc + 1];
        return 2;
    }
    return 0;
}

/* Appends a to ix->atoms; false when VI_MAX_ATOMS are there. */
static bool vi_add_atom(ViIndex *ix, const ViAtom *a)
{
    if (ix->natoms == ix->atoms_cap) {
        if (ix->atoms_cap >= VI_MAX_ATOMS) return false;
        ix->atoms_cap = ix->atoms_cap ? 2 * ix->atoms_cap : 64;
        ix->atoms = xrealloc(ix->atoms, ix->atoms_cap * sizeof *ix->atoms);
    }
    ix->atoms[ix->natoms++] = *a;
    return true;
}

/* The `or` a rule's block begins with, when every disjunct is an ViAtom and
 * its false reaches RET through JFALSE jumps only (so it being false makes
 * the rule false): `a1; JTRUE L1; a2; OR; L1: JTRUE L2; a3; OR; L2: ...`,
 * each JTRUE landing just past the OR that ends its right side. Appends the
 * atoms to ix->atoms and sets g->any_*; leaves
 * any_count 0 for a single guard (the `when` guard already stands for it)
 * or any other shape. */
static void vi_find_any(ViIndex *ix, const PRule *rule, ViRuleGuards *g)
{
    const Prog *p = ix->p;
    const uint8_t *code = p->code + rule->code_off;
    uint32_t len = rule->code_len, pc, n, first = ix->natoms;
    ViAtom a;
    if (!(n = vi_atom_at(p, code, len, 0, &a)) || !vi_add_atom(ix, &a)) return;
    pc = n;
    while (len - pc >= 3 && code[pc] == OP_JTRUE) {
        uint32_t target = pc + 3 + rd16(code + pc + 1);
        pc += 3;
        if (!(n = vi_atom_at(p, code, len, pc, &a)) || pc + n >= len || code[pc + n] != OP_OR ||
            pc + n + 1 != target || !vi_add_atom(ix, &a)) {
            ix->natoms = first;
            return;
        }
        pc = target;
    }
    /* A rule the index selects has the code of its index set: a test of
     * that set is true whenever the rule is considered, and so the `or`. */
    bool index_true = false;
    for (uint32_t k = first; k < ix->natoms; k++)
        index_true |= ix->atoms[k].kind != VI_A_GUARD && ix->atoms[k].kind != VI_A_BOOL &&
                      rule->index_set != PIDX_NONE && ix->atoms[k].field == p->f_code &&
                      ix->atoms[k].set == rule->index_set;
    if (!vi_false_to_ret(code, len, pc) || (ix->natoms - first == 1 && a.kind == VI_A_GUARD) ||
        index_true) {
        ix->natoms = first;
        return;
    }
    g->any_first = first;
    g->any_count = ix->natoms - first;
}

/* ---- chains -------------------------------------------------------------- */

/* If code[pc] begins a test a chain step can stand for (ViStep), fills *st
 * and returns its size in bytes; else 0. */
static uint32_t vi_step_at(const Prog *p, const uint8_t *code, uint32_t len, uint32_t pc, ViStep *st)
{
    memset(st, 0, sizeof *st);
    unsigned op = code[pc];
    if (len - pc >= 4 && (op == OP_LDINSET || op == OP_LDANYSET)) {
        st->op = (uint8_t)op;
        st->field = code[pc + 1];
        st->arg = rd16(code + pc + 2);
        return 4;
    }
    if (len - pc >= 4 && op >= OP_LDINMASK && op <= OP_LDGEK) {
        st->op = (uint8_t)op;
        st->field = code[pc + 1];
        st->k = p->consts[rd16(code + pc + 2)];
        return 4;
    }
    if (len - pc >= 8 && op == OP_LOAD && code[pc + 2] == OP_STR &&
        (code[pc + 7] == OP_SEQ || code[pc + 7] == OP_SNE)) {
        st->op = code[pc + 7];
        st->field = code[pc + 1];
        st->arg = rd32(code + pc + 3);
        return 8;
    }
    if (len - pc >= 2 && op == OP_LOAD && p->fields[code[pc + 1]].type == VT_BOOL) {
        st->op = OP_LOAD;
        st->field = code[pc + 1];
        return 2;
    }
    return 0;
}

/* Appends st to ix->steps; false when VI_MAX_ATOMS are there. */
static bool vi_add_step(ViIndex *ix, const ViStep *st)
{
    if (ix->nsteps == ix->steps_cap) {
        if (ix->steps_cap >= VI_MAX_ATOMS) return false;
        ix->steps_cap = ix->steps_cap ? 2 * ix->steps_cap : 64;
        ix->steps = xrealloc(ix->steps, ix->steps_cap * sizeof *ix->steps);
    }
    ix->steps[ix->nsteps++] = *st;
    return true;
}

/* An atom of a chain's `or` that is no conjunction: as vi_atom_head reads
 * it, a comparison (VI_A_CMP), `PRESENT f; JFALSE; <a test of f>; AND`, or
 * `PRESENT f` alone. Fills *a and returns its size in bytes; else 0. */
static uint32_t vi_or_simple_at(const Prog *p, const uint8_t *code, uint32_t len, uint32_t pc, ViAtom *a)
{
    uint32_t n = vi_atom_head(p, code, len, pc, a);
    if (n) return n;
    ViStep st;
    if ((n = vi_step_at(p, code, len, pc, &st)) &&
        ((st.op >= OP_LDNEK && st.op <= OP_LDGEK) || st.op == OP_SNE)) {
        memset(a, 0, sizeof *a);
        a->kind = VI_A_CMP;
        a->field = st.field;
        a->set = st.op;
        a->g.k = st.op == OP_SNE ? (int64_t)st.arg : st.k;
        return n;
    }
    if (len - pc >= 5 && code[pc] == OP_PRESENT && code[pc + 2] == OP_JFALSE &&
        (n = vi_guard_at(p, code, len, pc + 5, &a->g)) && a->g.field == code[pc + 1] &&
        rd16(code + pc + 3) == n + 1 && len - pc - 5 - n >= 1 && code[pc + 5 + n] == OP_AND) {
        a->kind = VI_A_PRESENT_GUARD;
        a->field = code[pc + 1];
        return n + 6;
    }
    if (len - pc >= 2 && code[pc] == OP_PRESENT) {
        memset(a, 0, sizeof *a);
        a->kind = VI_A_PRESENT;
        a->field = code[pc + 1];
        return 2;
    }
    return 0;
}

/* Appends x and y, the sides of a VI_A_AND atom, to ix->pairs; returns the
 * index of x, or UINT32_MAX when VI_MAX_ATOMS are there. */
static uint32_t vi_add_pair(ViIndex *ix, const ViAtom *x, const ViAtom *y)
{
    if (ix->npairs + 2 > ix->pairs_cap) {
        if (ix->pairs_cap >= VI_MAX_ATOMS) return UINT32_MAX;
        ix->pairs_cap = ix->pairs_cap ? 2 * ix->pairs_cap : 64;
        ix->pairs = xrealloc(ix->pairs, ix->pairs_cap * sizeof *ix->pairs);
    }
    ix->pairs[ix->npairs] = *x;
    ix->pairs[ix->npairs + 1] = *y;
    ix->npairs += 2;
    return ix->npairs - 2;
}

/* If code[pc] begins an atom of a chain's `or`: a simple one
 * (vi_or_simple_at), or the conjunction of two, `x; JFALSE L; y; AND; L:`
 * (VI_A_AND, its sides appended to ix->pairs). Fills *a and returns its
 * size in bytes; else 0. */
static uint32_t vi_or_atom_at(ViIndex *ix, const uint8_t *code, uint32_t len, uint32_t pc, ViAtom *a)
{
    ViAtom x, y;
    uint32_t n = vi_or_simple_at(ix->p, code, len, pc, &x), m;
    *a = x;
    if (!n || len - pc - n < 4 || code[pc + n] != OP_JFALSE) return n;
    uint32_t at = pc + n + 3, target = at + rd16(code + pc + n + 1);
    if (!(m = vi_or_simple_at(ix->p, code, len, at, &y)) || at + m + 1 != target || target > len ||
        code[at + m] != OP_AND)
        return n;
    uint32_t first = vi_add_pair(ix, &x, &y);
    if (first == UINT32_MAX) return n;
    memset(a, 0, sizeof *a);
    a->kind = VI_A_AND;
    a->set = first;
    return target - pc;
}
static uint32_t vi_or_step_at(ViIndex *ix, const uint8_t *code, uint32_t len, uint32_t pc, ViStep *st)
{
    uint32_t first = ix->natoms, at = pc, n;
    ViAtom a;
    if (!(n = vi_or_atom_at(ix, code, len, at, &a)) || !vi_add_atom(ix, &a)) goto none;
    at += n;
    while (len - at >= 3 && code[at] == OP_JTRUE) {
        uint32_t target = at + 3 + rd16(code + at + 1);
        at += 3;
        if (!(n = vi_or_atom_at(ix, code, len, at, &a)) || at + n >= len || code[at + n] != OP_OR ||
            at + n + 1 != target || !vi_add_atom(ix, &a))
            goto none;
        at = target;
    }
    memset(st, 0, sizeof *st);
    st->op = OP_OR;
    st->arg = first;
    st->k = ix->natoms - first;
    return at - pc;
none:
    ix->natoms = first;
    return 0;
}

/* Whether rule r's verified block is an `and` chain of tests: `t0; (JFALSE
 * L; t; [NOT;] AND; L:)* RET`, each JFALSE landing just past its AND and
 * each t a step (vi_step_at) or an `or` of atoms (vi_or_step_at). Sets
 * g->chain_* and appends the steps then. When each test is a known true
 * or false on a record, the block is their conjunction (a false one, the
 * JFALSE jumps carry to RET), so vm.c decides it without running it. */
/* The test of a chain at code[pc] (a step, or else an `or` step) that is
 * followed by what `follows` accepts: its size (and *st), or 0. */
static uint32_t vi_chain_test_at(ViIndex *ix, const uint8_t *code, uint32_t len, uint32_t pc,
                                 ViStep *st, bool (*follows)(const uint8_t *, uint32_t, uint32_t),
                                 bool or_first)
{
    uint32_t n = or_first ? 0 : vi_step_at(ix->p, code, len, pc, st);
    if (n && follows(code, len, pc + n)) return n;
    uint32_t first = ix->natoms;
    n = vi_or_step_at(ix, code, len, pc, st);
    if (n && follows(code, len, pc + n)) return n;
    ix->natoms = first;
    return 0;
}
/* What may follow the chain's first test, and a later one. */
static bool vi_head_follows(const uint8_t *code, uint32_t len, uint32_t at)
{
    return at < len && (code[at] == OP_JFALSE || code[at] == OP_RET);
}
static bool vi_conjunct_follows(const uint8_t *code, uint32_t len, uint32_t at)
{
    return at < len &&
           (code[at] == OP_AND || (code[at] == OP_NOT && at + 1 < len && code[at + 1] == OP_AND));
}

static bool vi_find_chain_from(ViIndex *ix, const PRule *rule, ViRuleGuards *g, bool or_first)
{
    const Prog *p = ix->p;
    const uint8_t *code = p->code + rule->code_off;
    uint32_t len = rule->code_len, first = ix->nsteps, first_atom = ix->natoms, pc, n;
    uint32_t first_pair = ix->npairs;
    ViStep st;
    if (!len || !(n = vi_chain_test_at(ix, code, len, 0, &st, vi_head_follows, or_first)) ||
        !vi_add_step(ix, &st))
        goto none;
    for (pc = n; pc < len && code[pc] == OP_JFALSE;) {
        if (len - pc < 3) goto none;
        uint32_t at = pc + 3, target = at + rd16(code + pc + 1);
        if (!(n = vi_chain_test_at(ix, code, len, at, &st, vi_conjunct_follows, false))) goto none;
        at += n;
        if (code[at] == OP_NOT) st.negate = 1, at++;
        if (code[at] != OP_AND || at + 1 != target || !vi_add_step(ix, &st)) goto none;
        pc = target;
    }
    if (pc != len - 1 || code[pc] != OP_RET) goto none;
    g->chain_first = first;
    g->chain_count = ix->nsteps - first;
    return true;
none:
    ix->nsteps = first;
    ix->natoms = first_atom;
    ix->npairs = first_pair;
    return false;
}
/* The chain read with its first test a step when that fits, else with it
 * an `or` (whose first atom may be an `and` a step would have begun:
 * `(a and b) or c`). */
static void vi_find_chain(ViIndex *ix, const PRule *rule, ViRuleGuards *g)
{
    if (!vi_find_chain_from(ix, rule, g, false)) vi_find_chain_from(ix, rule, g, true);
}


/* ---- the split field and the fold --------------------------------------- */

/* Whether atom a, true, says a code of a code field is in a set or a bool
 * field is true: a code-set test of a code field or a load of a bool. */
static bool vi_selects(const ViIndex *ix, const ViAtom *a)
{
    return ((a->kind == VI_A_SET || a->kind == VI_A_PRESENT_SET) && ix->slot_of[a->field] != UINT8_MAX) ||
           a->kind == VI_A_BOOL;
}

/* The atom that stands for fold atom a: a itself, or for an `and` of two
 * atoms (true only when both are) the first side that vi_selects. */
static const ViAtom *vi_fold_side(const ViIndex *ix, const ViAtom *a)
{
    if (a->kind != VI_A_AND) return a;
    const ViAtom *x = &ix->pairs[a->set];
    return vi_selects(ix, x) ? x : x + 1;
}

/* Whether the `or` of atoms[first .. first + n) can select its rule alone
 * (vi_split_build): every atom (an `and`: its vi_fold_side) vi_selects, or
 * is a one-field test of field sf. */
static bool vi_or_foldable(const ViIndex *ix, uint32_t first, uint32_t n, uint32_t sf)
{
    if (!n) return false;
    for (uint32_t k = 0; k < n; k++) {
        const ViAtom *a = &ix->atoms[first + k];
        if (vi_selects(ix, vi_fold_side(ix, a))) continue;
        if (a->kind != VI_A_GUARD || (a->g.kind != VI_G_MASK && a->g.kind != VI_G_EQ) || a->g.field != sf)
            return false;
    }
    return true;
}

/* Folds always rule r if it can be (vi_split_build; vi_folded): sets *first
 * and *n to the atoms of the `or` that selects it, its leading `or`
 * (vi_find_any), else the first `or` step of its `and` chain that can, not
 * an `unless` clause (vi_find_chain): its being false makes the chain, and
 * so the rule, false
 * (`setting in {...} and (code in A or (code in B and diagnoses any in C))`).
 * Leaves them as they are (0) when it cannot. */
static void vi_foldable(const ViIndex *ix, uint32_t r, uint32_t sf, uint32_t *first, uint32_t *n)
{
    const ViRuleGuards *g = &ix->guards[r];
    if (!ix->ct.n || ix->p->rules[r].index_set != PIDX_NONE) return;
    if (vi_or_foldable(ix, g->any_first, g->any_count, sf)) {
        *first = g->any_first;
        *n = g->any_count;
        return;
    }
    for (uint32_t k = 0; k < g->chain_count; k++) {
        const ViStep *st = &ix->steps[g->chain_first + k];
        if (st->op != OP_OR || st->negate || !vi_or_foldable(ix, st->arg, (uint32_t)st->k, sf)) continue;
        *first = st->arg;
        *n = (uint32_t)st->k;
        return;
    }
}

/* Whether some one-field atom of folded rule r holds for member v of the
 * split field (UINT32_MAX: null; PIDX_NONE - 1: absent, where it may). */
static bool vi_fold_guard_may(const ViIndex *ix, uint32_t r, uint32_t v, bool absent)
{
    for (uint32_t k = 0; k < ix->fold_atom_count[r]; k++) {
        const ViAtom *a = &ix->atoms[ix->fold_atom_first[r] + k];
        if (a->kind != VI_A_GUARD) continue;
        if (absent) return true;
        if (v == UINT32_MAX) continue; /* null fails every test */
        if (a->g.kind == VI_G_MASK ? v < 64 && ((uint64_t)a->g.k >> v & 1) : (int64_t)v == a->g.k)
            return true;
    }
    return false;
}

/* Chooses the enum field that the most of p->always's guards test (in the
 * payers' policies, `setting`) as the split field, and folds into the code
 * table the always rules whose `or` is made of code-set tests, tests of
 * that field and loads of bool fields (`setting == residential or code in
 * RTC`, `clinical_trial or diagnoses any in TRIAL`, `medicare_primary`):
 * such a rule is considered only when a code of the record is in one of
 * its sets, the field passes one of its tests (the split field's filter,
 * vi_filter_build), one of its bools is not known false (vm_folded), or
 * the field it needs is absent. */
static void vi_split_build(ViIndex *ix)
{
    const Prog *p = ix->p;
    ix->split_field = PIDX_NONE;
    uint32_t best = 0, best_n = 0;
    for (uint32_t f = 0; f < p->nfields; f++) {
        if (p->fields[f].type != VT_ENUM) continue;
        uint32_t n = 0;
        for (uint32_t k = 0; k < p->nalways; k++) {
            const ViRuleGuards *g = &ix->guards[p->always[k]];
            n += ((g->when.kind == VI_G_MASK || g->when.kind == VI_G_EQ) && g->when.field == f) ||
                 ((g->unless.kind == VI_G_MASK || g->unless.kind == VI_G_EQ) && g->unless.field == f);
            for (uint32_t x = 0; x < g->any_count; x++) {
                const ViAtom *a = &ix->atoms[g->any_first + x];
                n += a->kind == VI_A_GUARD && (a->g.kind == VI_G_MASK || a->g.kind == VI_G_EQ) && a->g.field == f;
            }
        }
        if (n > best_n) best = f, best_n = n;
    }
    uint32_t sf = best_n >= 2 ? best : PIDX_NONE;
    ix->split_field = sf;
    ix->fold_atom_first = xcalloc(p->nrules ? p->nrules : 1, sizeof *ix->fold_atom_first);
    ix->fold_atom_count = xcalloc(p->nrules ? p->nrules : 1, sizeof *ix->fold_atom_count);
    for (uint32_t k = 0; k < p->nalways; k++) {
        uint32_t r = p->always[k];
        vi_foldable(ix, r, sf, &ix->fold_atom_first[r], &ix->fold_atom_count[r]);
    }

    /* The folded rules by (slot, set) and, per slot, those an absent field
     * leaves to consider. Two passes: count, then fill. */
    uint32_t nslots = 0;
    for (uint32_t f = 0; f < p->nfields; f++) nslots += ix->slot_of[f] != UINT8_MAX;
    size_t nx = (size_t)nslots * p->nsets;
    ix->fold_first = xcalloc(nx + 1, sizeof *ix->fold_first);
    ix->fold_absent_first = xcalloc(nslots + 1, sizeof *ix->fold_absent_first);
    ix->fold_bool_first = xcalloc((size_t)p->nfields + 1, sizeof *ix->fold_bool_first);
    size_t total = 0, total_absent = 0, total_bool = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t r = 0; r < p->nrules; r++) {
            if (!vi_folded(ix, r)) continue;
            uint64_t absent_done = 0, bool_done = 0;
            for (uint32_t k = 0; k < ix->fold_atom_count[r]; k++) {
                const ViAtom *a = vi_fold_side(ix, &ix->atoms[ix->fold_atom_first[r] + k]);
                if (a->kind == VI_A_GUARD) continue;
                if (a->kind == VI_A_BOOL) { /* once a field, however often the `or` loads it */
                    if (bool_done >> a->field & 1) continue;
                    bool_done |= (uint64_t)1 << a->field;
                    if (pass == 0) ix->fold_bool_first[a->field + 1]++, total_bool++;
                    else ix->fold_bool_rules[ix->fold_bool_first[a->field]++] = r;
                    ix->fold_bools |= (uint64_t)1 << a->field;
                    continue;
                }
                uint32_t slot = ix->slot_of[a->field];
                size_t x = (size_t)slot * p->nsets + a->set;
                if (pass == 0) ix->fold_first[x + 1]++, total++;
                else ix->fold_rules[ix->fold_first[x]++] = r;
                bool need = a->kind == VI_A_SET || (p->fields[a->field].flags & PF_DEFAULT);
                if (need && !(absent_done >> slot & 1)) {
                    absent_done |= (uint64_t)1 << slot;
                    if (pass == 0) ix->fold_absent_first[slot + 1]++, total_absent++;
                    else ix->fold_absent[ix->fold_absent_first[slot]++] = r;
                }
                ix->fold_fields |= (uint64_t)1 << a->field;
            }
        }
        if (pass == 0) {
            for (size_t x = 0; x < nx; x++) ix->fold_first[x + 1] += ix->fold_first[x];
            for (uint32_t x = 0; x < nslots; x++) ix->fold_absent_first[x + 1] += ix->fold_absent_first[x];
            for (uint32_t f = 0; f < p->nfields; f++) ix->fold_bool_first[f + 1] += ix->fold_bool_first[f];
            ix->fold_rules = xmalloc((total + 1) * sizeof *ix->fold_rules);
            ix->fold_absent = xmalloc((total_absent + 1) * sizeof *ix->fold_absent);
            ix->fold_bool_rules = xmalloc((total_bool + 1) * sizeof *ix->fold_bool_rules);
        }
    }
    /* pass 2 advanced each start to its end: shift back */
    memmove(ix->fold_first + 1, ix->fold_first, nx * sizeof *ix->fold_first);
    ix->fold_first[0] = 0;
    memmove(ix->fold_absent_first + 1, ix->fold_absent_first, nslots * sizeof *ix->fold_absent_first);
    ix->fold_absent_first[0] = 0;
    memmove(ix->fold_bool_first + 1, ix->fold_bool_first, p->nfields * sizeof *ix->fold_bool_first);
    ix->fold_bool_first[0] = 0;
}

/* ---- the filter of the always rules ------------------------------------ */

/* Whether the texts of strings a and b are equal. */
static bool vi_same_str(const Prog *p, uint32_t a, uint32_t b)
{
    return a == b || (p->strlens[a] == p->strlens[b] &&
                      memcmp(p->strs[a], p->strs[b], p->strlens[a]) == 0);
}

/* Whether cond c (a guard of field x->field) rules its rule out on a record
 * whose value of that field is v (ViFilter's numbering), as vi_guard_test
 * would decide. */
static bool vi_cond_rules_out(const ViIndex *ix, const ViCond *c, const ViFilter *x, uint32_t v)
{
    const ViGuard *g = &c->g;
    int res; /* vi_guard_test's answer */
    if (v == x->nvalues - 1) res = -1;                           /* absent */
    else if (v == x->nvalues - 2) res = 0;                       /* null fails every test */
    else if (g->kind == VI_G_MASK) res = v < 64 && ((uint64_t)g->k >> v & 1);
    else if (g->kind == VI_G_EQ) res = (int64_t)v == g->k;
    else if (v < x->str_count)
        res = vi_same_str(ix->p, ix->filter_strs[x->str_first + v], (uint32_t)g->k);
    else res = 0;                                                /* another string */
    return c->unless ? res == 1 : res == 0;
}

/* Whether cond c can be read by a filter of field f: a test of an enum
 * field's member, or a string field's text. */
static bool vi_cond_fits(const Prog *p, const ViCond *c, uint32_t f)
{
    if (c->g.field != f) return false;
    if (p->fields[f].type == VT_ENUM) return c->g.kind == VI_G_MASK || c->g.kind == VI_G_EQ;
    return p->fields[f].type == VT_STRING && c->g.kind == VI_G_STR;
}

/* Fills filter x of field f: its values (a string field's distinct guard
 * constants, appended to ix->filter_strs) and, per value, the always rules
 * to consider: those that no guard of their `and` chain on f rules out, and,
 * when f is the split field, of the folded rules only those a test of f in
 * their `or` may select (vi_fold_guard_may). */
static void vi_filter_fill(ViIndex *ix, ViFilter *x, uint32_t f, uint32_t *nstrs)
{
    const Prog *p = ix->p;
    x->field = f;
    x->kind = p->fields[f].type == VT_ENUM ? VI_F_ENUM : VI_F_STR;
    x->str_first = *nstrs;
    x->str_count = 0;
    if (x->kind == VI_F_STR) {
        for (uint32_t k = 0; k < p->nalways; k++) {
            const ViRuleGuards *g = &ix->guards[p->always[k]];
            for (uint32_t c = g->conj_first; c < g->conj_first + g->conj_count; c++) {
                if (!vi_cond_fits(p, &ix->conds[c], f)) continue;
                uint32_t s = (uint32_t)ix->conds[c].g.k, j = 0;
                while (j < x->str_count && !vi_same_str(p, ix->filter_strs[x->str_first + j], s)) j++;
                if (j == x->str_count) ix->filter_strs[x->str_first + x->str_count++] = s;
            }
        }
        *nstrs += x->str_count;
        x->nvalues = x->str_count + 3; /* the constants, another string, null, absent */
    } else {
        x->nvalues = p->fields[f].enum_count + 2; /* the members, null, absent */
    }
    uint32_t words = ix->always_words;
    x->mask = xcalloc((size_t)x->nvalues * words + 1, sizeof *x->mask);
    for (uint32_t v = 0; v < x->nvalues; v++) {
        uint64_t *row = x->mask + (size_t)v * words;
        for (uint32_t k = 0; k < p->nalways; k++) {
            uint32_t r = p->always[k];
            const ViRuleGuards *g = &ix->guards[r];
            bool keep = true;
            if (vi_folded(ix, r) && f == ix->split_field) {
                bool absent = v == x->nvalues - 1;
                keep = vi_fold_guard_may(ix, r, v == x->nvalues - 2 ? UINT32_MAX : v, absent);
            }
            for (uint32_t c = g->conj_first; keep && c < g->conj_first + g->conj_count; c++)
                keep = !vi_cond_fits(p, &ix->conds[c], f) || !vi_cond_rules_out(ix, &ix->conds[c], x, v);
            if (keep) row[k / 64] |= (uint64_t)1 << (k % 64);
        }
    }
}

/* The share of filter x's values, other than null and absent, that keep
 * always rule k (bit k). */
static double vi_filter_keeps(const ViFilter *x, uint32_t words, uint32_t k)
{
    uint32_t n = x->nvalues - 2, keep = 0;
    for (uint32_t v = 0; v < n; v++)
        keep += (uint32_t)(x->mask[(size_t)v * words + k / 64] >> (k % 64) & 1);
    return n ? (double)keep / n : 1;
}

/* Chooses the fields that filter p->always (the split field, then the
 * enum and string fields their `and` chains test most, up to
 * VI_MAX_FILTERS, and while the masks stay within VI_FILTER_MAX_WORDS),
 * builds their masks and orders them (those that leave out the most
 * first), so that a record considers only the always rules that no guard
 * on its values rules out: a visit to the office does not
 * look at `setting == inpatient and ...` rules, a commercial plan at
 * `plan == medicare_advantage and ...` ones, nor a record of one payer at
 * `payer == "healthlink" and ...` ones. A field that is absent rules
 * nothing out. */
static void vi_filter_build(ViIndex *ix)
{
    const Prog *p = ix->p;
    uint32_t words = (p->nalways + 63) / 64, nstrs = 0;
    ix->always_words = words;
    ix->always_base = xcalloc(words + 1, sizeof *ix->always_base);
    for (uint32_t k = 0; k < p->nalways; k++)
        if (!vi_folded(ix, p->always[k]) || ix->split_field != PIDX_NONE)
            ix->always_base[k / 64] |= (uint64_t)1 << (k % 64);
    uint32_t *count = xcalloc(p->nfields ? p->nfields : 1, sizeof *count), total = 0;
    for (uint32_t k = 0; k < p->nalways; k++) {
        const ViRuleGuards *g = &ix->guards[p->always[k]];
        for (uint32_t c = g->conj_first; c < g->conj_first + g->conj_count; c++) {
            uint32_t f = ix->conds[c].g.field;
            if (f < p->nfields && vi_cond_fits(p, &ix->conds[c], f)) count[f]++, total++;
        }
    }
    ix->filter_strs = xmalloc((total ? total : 1) * sizeof *ix->filter_strs);
    size_t used = 0;
    if (ix->split_field != PIDX_NONE) count[ix->split_field] = UINT32_MAX; /* first */
    while (ix->nfilters < VI_MAX_FILTERS) {
        uint32_t best = PIDX_NONE;
        for (uint32_t f = 0; f < p->nfields; f++)
            if (count[f] && (best == PIDX_NONE || count[f] > count[best])) best = f;
        if (best == PIDX_NONE) break;
        count[best] = 0;
        uint32_t nv = p->fields[best].type == VT_ENUM ? p->fields[best].enum_count + 2 : total + 3;
        if (used + (size_t)nv * words > VI_FILTER_MAX_WORDS) continue;
        ViFilter *x = &ix->filters[ix->nfilters++];
        vi_filter_fill(ix, x, best, &nstrs);
        used += (size_t)x->nvalues * words;
    }
    free(count);
    /* Order: greedily, the filter that leaves the fewest rules expected
     * after those before it, counting each rule by the share of the
     * filter's values (not null or absent) that keep it, as if the fields
     * were independent and their values equally likely. A record's masks
     * stop being ANDed once nothing is left (vi_always). */
    uint32_t nx = ix->nfilters;
    double *alive = xmalloc((p->nalways ? p->nalways : 1) * sizeof *alive);
    for (uint32_t k = 0; k < p->nalways; k++) alive[k] = 1;
    for (uint32_t at = 0; at < nx; at++) {
        uint32_t best = at;
        double best_left = 0;
        for (uint32_t c = at; c < nx; c++) {
            const ViFilter *x = &ix->filters[c];
            double left = 0;
            for (uint32_t k = 0; k < p->nalways; k++)
                left += alive[k] * vi_filter_keeps(x, words, k);
            if (c == at || left < best_left) best = c, best_left = left;
        }
        ViFilter t = ix->filters[at];
        ix->filters[at] = ix->filters[best];
        ix->filters[best] = t;
        for (uint32_t k = 0; k < p->nalways; k++) alive[k] *= vi_filter_keeps(&ix->filters[at], words, k);
    }
    free(alive);
}


/* Builds *ix from prog, which must be verified (bc_verify) and outlive
 * ix. Never fails (allocation failure aborts, as xmalloc does); a policy
 * too large for a code table gets ix->ct.n == 0 and every reader copes. */
static void vi_build(ViIndex *ix, const Prog *prog)
{
    memset(ix, 0, sizeof *ix);
    ix->p = prog;
    vi_ct_build(prog, &ix->ct);
    /* One code slot per code or code-list field (at most PCR_MAX_FIELDS). */
    ix->slot_of = xmalloc((prog->nfields ? prog->nfields : 1) * sizeof *ix->slot_of);
    for (uint32_t f = 0; f < prog->nfields; f++) {
        const PField *pf = &prog->fields[f];
        bool code = pf->type == VT_CODE || (pf->type == VT_LIST && pf->elem == VT_CODE);
        ix->slot_of[f] = code ? (uint8_t)ix->nslots++ : UINT8_MAX;
    }
    uint32_t n = prog->nrules;
    ix->guards = xcalloc(n ? n : 1, sizeof *ix->guards);
    for (uint32_t r = 0; r < n; r++) {
        vi_find_guards(ix, &prog->rules[r], &ix->guards[r]);
        vi_find_any(ix, &prog->rules[r], &ix->guards[r]);
        vi_find_chain(ix, &prog->rules[r], &ix->guards[r]);
    }
    vi_split_build(ix);
    vi_filter_build(ix);
}

/* Frees what vi_build allocated in *ix (not ix itself, not the Prog). */
static void vi_free(ViIndex *ix)
{
    vi_ct_free(&ix->ct);
    free(ix->slot_of);
    free(ix->guards);
    free(ix->atoms);
    free(ix->pairs);
    free(ix->conds);
    free(ix->steps);
    free(ix->always_base);
    for (uint32_t x = 0; x < ix->nfilters; x++) free(ix->filters[x].mask);
    free(ix->filter_strs);
    free(ix->fold_atom_first);
    free(ix->fold_atom_count);
    free(ix->fold_first);
    free(ix->fold_rules);
    free(ix->fold_absent_first);
    free(ix->fold_absent);
    free(ix->fold_bool_first);
    free(ix->fold_bool_rules);
}

/* See vm_index.h. */
const ViIndex *vi_of(const Prog *prog)
{
    /* Only the cache is written: a Prog is allocated by prog_new, never
     * defined const, so casting the qualifier away is sound. */
    _Atomic(struct ViIndex *) *cell = &((Prog *)prog)->vindex;
    ViIndex *ix = atomic_load_explicit(cell, memory_order_acquire);
    if (ix) return ix;
    ViIndex *mine = xmalloc(sizeof *mine);
    vi_build(mine, prog);
    if (atomic_compare_exchange_strong_explicit(cell, &ix, mine, memory_order_acq_rel,
                                                memory_order_acquire))
        return mine;
    vi_delete(mine); /* another thread's build won: ix is it */
    return ix;
}

/* See vm_index.h. */
void vi_drop(const Prog *prog)
{
    vi_delete(atomic_exchange(&((Prog *)prog)->vindex, NULL));
}

/* See vm_index.h. */
void vi_delete(ViIndex *ix)
{
    if (!ix) return;
    vi_free(ix);
    free(ix);
}

/* See vm_index.h. */
void vi_memo_init(ViMemo *memo)
{
    for (size_t k = 0; k < (size_t)1 << VI_MEMO_BITS; k++) memo[k].prefix = UINT32_MAX;
}

/* See vm_index.h. */
ViKeyMemo *vi_key_memo_new(void)
{
    return xcalloc((size_t)1 << VI_KEY_MEMO_BITS, sizeof(ViKeyMemo));
}
