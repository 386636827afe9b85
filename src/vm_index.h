/* vm_index.h: what the evaluator derives once from a verified policy to
 * consider fewer rules per record (docs/bytecode.md, the guards, the filter
 * and the fold, the code table): every rule's guards (tests of one field
 * in its block that rule it out without running it), the filter of the
 * always-rules by the enum and string fields those guards test, the folding
 * of rules whose `or` is made of code-set tests, the steps of blocks that
 * are an `and` chain of tests (decided without running them), and the
 * code table (the disjoint intervals of every code set's ranges and index
 * segment, so one search per code finds every set that holds it).
 *
 * One ViIndex per Prog: vi_of() builds it for the Prog's first VM and
 * keeps it in the Prog (prog_free frees it); it is read-only from then on
 * and holds no per-record state, so every VM of that Prog (one per thread
 * with pcrvm -j N) shares it. The per-record caches (which sets a record's
 * codes are in, which folded rules were taken) live in each Vm (vm.c),
 * keyed on its record stamp. The readers used for every record are static
 * inline here, so the evaluator pays no call for them. */
#ifndef PCR_VM_INDEX_H
#define PCR_VM_INDEX_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "prog.h"
#include "rec.h"

/* A test of one field that vi_of found in a rule's block (vi_find_guards):
 * LDINMASK (mask), LDEQK (k) or `LOAD; STR; SEQ` (k: the string index). */
enum { VI_G_NONE, VI_G_MASK, VI_G_EQ, VI_G_STR };

typedef struct ViGuard {
    uint8_t kind;  /* VI_G_* */
    uint8_t field;
    int64_t k;     /* VI_G_MASK: the mask; VI_G_EQ: the constant; VI_G_STR: string index */
} ViGuard;

typedef struct ViRuleGuards {
    ViGuard when;   /* when it is known false, the rule is false */
    ViGuard unless; /* when it is known true, the rule is false */
    uint32_t any_first, any_count; /* ViIndex.atoms[any_first ..]: when every one is known
                                      false, the rule is false (0: none; vi_find_any) */
    uint32_t chain_first, chain_count; /* ViIndex.steps[chain_first ..]: the block is an
                                          `and` chain of these tests alone (vi_find_chain);
                                          0: it is not */
    uint32_t conj_first, conj_count; /* ViIndex.conds[conj_first ..]: every guard of the
                                        block's `and` chain, `when` and `unless` included
                                        (vi_find_guards); read by the filter only */
} ViRuleGuards;

/* One test of a block that is an `and` chain of tests (vi_find_chain). */
typedef struct ViStep {
    uint8_t op;     /* a fused test (OP_LDINSET .. OP_LDGEK); OP_SEQ, OP_SNE: `LOAD f;
                       STR arg; SEQ/SNE`; OP_LOAD: a bool field; OP_OR: an `or` of
                       the atoms ViIndex.atoms[arg .. arg + k) */
    uint8_t field;
    uint8_t negate; /* an `unless` clause: NOT before its AND */
    uint32_t arg;   /* LDINSET, LDANYSET: the set; SEQ, SNE: the string index; OR: the
                       first atom */
    int64_t k;      /* the constant (LDINMASK: the mask; OR: the atoms' count) */
} ViStep;

/* One conjunct of a block's `and` chain that rules the rule out: when g is
 * known false (unless == 0) or known true (unless == 1). */
typedef struct ViCond {
    ViGuard g;
    uint8_t unless;
} ViCond;

/* The filter of the always rules by one field (vi_filter_build): for each
 * value the field can take in a record, the always rules (bit k: p->always[k])
 * that its guards, and the fold, leave to consider. Values, in order: an enum
 * field's members, then null, then absent; a string field's distinct guard
 * constants (ViIndex.filter_strs[str_first ..]), then any other string, then
 * null, then absent. */
enum { VI_F_ENUM, VI_F_STR };
typedef struct ViFilter {
    uint32_t field;
    uint8_t kind;              /* VI_F_* */
    uint32_t nvalues;
    uint32_t str_first, str_count; /* VI_F_STR: its constants (string indices) */
    uint64_t *mask;            /* nvalues rows of ViIndex.always_words words */
} ViFilter;

/* One disjunct of the `or` a block begins with (vi_find_any), cheap to
 * test without running the block. */
enum { VI_A_GUARD, VI_A_SET, VI_A_PRESENT_SET, VI_A_BOOL, VI_A_PRESENT_GUARD, VI_A_CMP, VI_A_PRESENT, VI_A_AND };

typedef struct ViAtom {
    uint8_t kind;  /* VI_A_GUARD: g; VI_A_SET: LDINSET/LDANYSET field set;
                      VI_A_PRESENT_SET: `PRESENT f; JFALSE; LDINSET/LDANYSET f set; AND`;
                      VI_A_BOOL: LOAD of a bool field;
                      VI_A_PRESENT_GUARD (chains only): `PRESENT f; JFALSE; g (a test
                      of f); AND`;
                      VI_A_CMP (chains only): LDNEK, LDLTK, LDLEK, LDGTK or LDGEK
                      (set: the opcode; g.k: the constant), or `LOAD; STR; SNE`
                      (set: OP_SNE; g.k: the string index), of field;
                      VI_A_PRESENT (chains only): `PRESENT field`;
                      VI_A_AND (chains only): `x; JFALSE L; y; AND; L:` of two atoms
                      of the kinds above, ViIndex.pairs[set] and [set + 1] */
    uint8_t field;
    uint32_t set;
    ViGuard g;
} ViAtom;

/* The code table (vi_ct_build): the ranges of every code set and the index
 * segments cut at all their ends into disjoint intervals, each knowing the
 * sets that hold all of its codes and its segment. One search then answers
 * "which sets hold this code" for every set at once: a walk down a static
 * tree of 8-key nodes over the interval starts (vi_ct_find), or, through
 * the prefix memo, a binary search of the few intervals of a code's first
 * character (vi_ct_lookup). */
enum {
    VI_NODE = 8,         /* keys in a node of the code table's search tree: one cache line */
    VI_TREE_LEVELS = 11, /* upper levels at most: 8^11 is over 2^32, so any table fits */
};
#define VI_PAD UINT64_MAX /* a tree node's padding: above every code's key */

typedef struct ViCodeTab {
    CodeKey *start;     /* n interval starts, ascending: interval i is
                           start[i] .. start[i + 1] - 1 (the last: to the end);
                           64-byte aligned, padded with VI_PAD to whole nodes */
    CodeKey *level[VI_TREE_LEVELS]; /* the search tree's levels above start
                           (vi_ct_find): level[l] holds the keys 8, 16, 24, ...
                           of the level below (start for level[0]), aligned
                           and padded as start is */
    uint32_t levels;    /* levels above start: 0 when n <= VI_NODE */
    uint32_t *seg;      /* per interval: its index segment, or PIDX_NONE */
    uint32_t *set_first;/* n + 1: the sets of interval i are
                           set_ids[set_first[i] .. set_first[i + 1]) */
    uint32_t *set_ids;
    uint32_t n;         /* 0: no table (too large): sets are searched one by one */
    /* The bucket filter (vi_ct_held): the keys that share a prefix and
     * their next two characters (all bits from VI_BUCKET_SHIFT up) form a
     * bucket. bucket_pre[0 .. npre) are the prefixes that an interval
     * holding a set or a segment touches, ascending; bucket_bits holds a
     * zero bitmap of VI_BUCKET_WORDS words, then one bitmap per listed
     * prefix, whose bit b is set when such an interval touches its bucket
     * b. NULL when the table has none, or when those intervals touch more
     * than VI_BUCKET_MAX_PREFIXES prefixes: then every key is searched. */
    uint32_t *bucket_pre;
    uint64_t *bucket_bits;
    uint32_t npre;
} ViCodeTab;

enum {
    VI_MAX_FILTERS = 8,           /* fields that filter the always rules (vi_filter_build) */
    VI_FILTER_MAX_WORDS = 1u << 21, /* their masks' words in all (16 MiB); more: fewer fields */
    VI_CT_MAX_ENTRIES = 1u << 21, /* set entries of the code table (8 MiB); more: no table */
    VI_PREFIX_SHIFT = 36,      /* a key's prefix: system, length, shape, first character */
    VI_MEMO_BITS = 10,         /* prefixes remembered (vi_ct_lookup) */
    VI_KEY_MEMO_BITS = 12,     /* whole keys remembered (vi_ct_lookup_key) */
    VI_RUN_SEARCH = 16,        /* a prefix's run of intervals searched alone, up to this */
    VI_BUCKET_SHIFT = 24,      /* a key's bucket: its prefix and two more characters */
    VI_BUCKETS = 1 << (VI_PREFIX_SHIFT - VI_BUCKET_SHIFT), /* buckets of a prefix */
    VI_BUCKET_WORDS = VI_BUCKETS / 64,                      /* words of a prefix's bitmap */
    VI_BUCKET_MAX_PREFIXES = 4096, /* prefixes with a bitmap at most (2 MiB); more: no filter */
};
#define VI_BITS_NONE UINT32_MAX /* ViMemo.bits: no bitmap, search every key */

/* The intervals a prefix's keys fall in: lo .. hi, inclusive (lo
 * UINT32_MAX: some keys are before every interval), whether a set
 * holds any key of the prefix, and where its bucket bitmap is. */
typedef struct ViMemo {
    uint32_t prefix; /* UINT32_MAX: empty (a prefix has at most 28 bits) */
    uint32_t lo, hi;
    uint32_t sets;   /* 1: some interval lo .. hi holds a set; 0: none does */
    uint32_t bits;   /* the prefix's bitmap: ViCodeTab.bucket_bits + bits
                        (0: the zero one); VI_BITS_NONE: no filter */
} ViMemo;

/* One key and its interval (vi_ct_lookup_key). */
typedef struct ViKeyMemo {
    CodeKey key;
    uint32_t iv;   /* vi_ct_find's answer for key */
    uint32_t full; /* 0: empty */
} ViKeyMemo;

/* Everything vi_of derives from one Prog; owned by the Prog, read-only. */
typedef struct ViIndex ViIndex;
struct ViIndex {
    const Prog *p;              /* the policy (not owned; outlives the index) */
    ViCodeTab ct;               /* p's code table */
    uint8_t *slot_of;           /* per field: its code slot (a code or code-list
                                   field), else UINT8_MAX */
    uint32_t nslots;            /* code slots: at most PCR_MAX_FIELDS */
    ViRuleGuards *guards;       /* per rule (vi_find_guards) */
    ViAtom *atoms;              /* the rules' `or` disjuncts (ViRuleGuards.any_first) */
    uint32_t natoms, atoms_cap; /*   (at most VI_MAX_ATOMS) */
    ViAtom *pairs;              /* the two sides of each VI_A_AND atom (ViAtom.set) */
    uint32_t npairs, pairs_cap; /*   (at most VI_MAX_ATOMS) */
    ViStep *steps;              /* the chains' tests (ViRuleGuards.chain_first) */
    uint32_t nsteps, steps_cap; /*   (at most VI_MAX_ATOMS) */
    ViCond *conds;              /* the rules' `and` chain guards (ViRuleGuards.conj_first) */
    uint32_t nconds, conds_cap; /*   (at most VI_MAX_ATOMS) */
    uint32_t split_field;       /* the enum field whose tests fold rules (vi_split_build),
                                   or PIDX_NONE */
    uint32_t always_words;      /* 64-bit words of a mask of p->always */
    uint64_t *always_base;      /* the always rules that no filter value can add: all
                                   but the folded ones when there is no split field */
    ViFilter filters[VI_MAX_FILTERS]; /* the fields that filter p->always (split_field
                                   among them when there is one), those that leave
                                   out the most rules first */
    uint32_t nfilters;
    uint32_t *filter_strs;      /* the string filters' distinct constants */
    uint32_t *fold_atom_first;  /* per folded rule: the atoms of the `or` that selects
                                   it (its leading one's, or an `or` step's of its
                                   chain): atoms[fold_atom_first[r] .. +
                                   fold_atom_count[r]) */
    uint32_t *fold_atom_count;  /* 0 for a rule that is not folded */
    uint32_t *fold_first;       /* [slot * nsets + s .. + 1]: folded rules with a test of
                                   set s on that slot's field: fold_rules[fold_first[x] ..
                                   fold_first[x + 1]) */
    uint32_t *fold_rules;
    uint32_t *fold_absent_first;/* per slot (+ 1): folded rules to consider when the
                                   field is absent: fold_absent[...] */
    uint32_t *fold_absent;
    uint64_t fold_fields;       /* the fields of the folded rules' set tests */
    uint64_t fold_bools;        /* the bool fields the folded rules' `or`s load
                                   (`clinical_trial or diagnoses any in TRIAL`) */
    uint32_t *fold_bool_first;  /* per field (+ 1): the folded rules that load it, to
                                   consider unless it is known false:
                                   fold_bool_rules[fold_bool_first[f] .. [f + 1]) */
    uint32_t *fold_bool_rules;
};

/* prog's index: built by the first call and kept in prog->vindex, so every
 * later call (any thread; one build wins a race, the others are freed)
 * returns the same one. prog must be verified (bc_verify) and not change
 * afterwards; prog_free frees the index (vi_delete). Never NULL. */
const ViIndex *vi_of(const Prog *prog);
/* Drops prog's index, so that the next vi_of builds a new one: for a Prog
 * changed after VMs were made of it (tests that build a policy step by
 * step). No VM of prog may be alive. */
void vi_drop(const Prog *prog);
/* Frees ix and all it holds (prog_free does, for vi_of's). NULL is fine. */
void vi_delete(ViIndex *ix);
/* Empties a memo of 2^VI_MEMO_BITS entries for vi_ct_lookup. */
void vi_memo_init(ViMemo *memo);
/* A new, empty key memo of 2^VI_KEY_MEMO_BITS entries for
 * vi_ct_lookup_key; the caller frees it. */
ViKeyMemo *vi_key_memo_new(void);

/* Key k's bucket within its prefix. */
static inline uint32_t vi_bucket_of(CodeKey k) { return (uint32_t)(k >> VI_BUCKET_SHIFT) & (VI_BUCKETS - 1); }

/* Fills memo entry m for prefix pre from t (vi_memo_of, once per prefix;
 * apart, so that the usual lookup is inlined without it). */
void vi_memo_fill(const ViCodeTab *t, ViMemo *m, uint32_t pre);

/* Where prefix pre's bucket bitmap starts in t->bucket_bits (0: the zero
 * bitmap, for a prefix no interval holding a set or segment touches), or
 * VI_BITS_NONE when t has no filter. For vi_memo_of, once per prefix. */
uint32_t vi_bucket_bitmap(const ViCodeTab *t, uint32_t pre);

/* ---- per-record readers (inline) ----------------------------------------- */

/* How many of the VI_NODE keys at nd are at most k. All eight are compared
 * (no branch): the node is one cache line, already loaded. */
static inline uint32_t vi_node_count(const CodeKey *nd, CodeKey k)
{
    return (uint32_t)((nd[0] <= k) + (nd[1] <= k) + (nd[2] <= k) + (nd[3] <= k) + (nd[4] <= k) +
                      (nd[5] <= k) + (nd[6] <= k) + (nd[7] <= k));
}

/* The interval of t holding k, or UINT32_MAX when k is before them all.
 * A walk down the static search tree: at each level the count of that
 * level's keys at most k picks the node below (its keys are the level
 * below's every VI_NODE-th), one cache line a level, so a table of 4,096
 * intervals takes four lines instead of twelve dependent probes. k is a
 * code's key, below VI_PAD. */
static inline uint32_t vi_ct_find(const ViCodeTab *t, CodeKey k)
{
    if (t->n == 0) return UINT32_MAX;
    uint32_t c = 0; /* the count of keys at most k in the level walked */
    for (uint32_t l = t->levels; l-- > 0;)
        c = VI_NODE * c + vi_node_count(t->level[l] + VI_NODE * c, k);
    c = VI_NODE * c + vi_node_count(t->start + VI_NODE * c, k);
    return c - 1; /* UINT32_MAX when none is at most k */
}

/* The entry of memo (2^VI_MEMO_BITS entries, the caller's; vi_memo_init)
 * for k's prefix (the system, length, shape and first character: the 7
 * of 70551), found in t once per prefix and remembered. */
static inline const ViMemo *vi_memo_of(const ViCodeTab *t, ViMemo *memo, CodeKey k)
{
    uint32_t pre = (uint32_t)(k >> VI_PREFIX_SHIFT);
    ViMemo *m = &memo[((uint64_t)pre * 0x9E3779B97F4A7C15u) >> (64 - VI_MEMO_BITS)];
    if (m->prefix != pre) vi_memo_fill(t, m, pre);
    return m;
}

/* Whether some set may hold k: false when no set holds a key of k's
 * prefix (one memo entry, no search), as for most diagnoses. */
static inline bool vi_ct_may_hold(const ViCodeTab *t, ViMemo *memo, CodeKey k)
{
    return vi_memo_of(t, memo, k)->sets != 0;
}

/* vi_ct_find for key k of prefix memo entry m (vi_memo_of's for k): keys
 * that share a prefix fall in a run of intervals; a short run (most
 * prefixes, and every prefix no set or segment names) is searched alone,
 * a long one through the tree. Same result as vi_ct_find. */
static inline uint32_t vi_ct_lookup_at(const ViCodeTab *t, const ViMemo *m, CodeKey k)
{
    if (m->hi == UINT32_MAX) return UINT32_MAX; /* the whole prefix is before the table */
    uint32_t lo = m->lo == UINT32_MAX ? 0 : m->lo;
    uint32_t n = m->hi - lo + 1;
    if (n > VI_RUN_SEARCH) return vi_ct_find(t, k);
    const CodeKey *b = t->start + lo;
    if (k < b[0]) return UINT32_MAX; /* only when m->lo is UINT32_MAX */
    while (n > 1) {
        uint32_t half = n / 2;
        b = b[half] <= k ? b + half : b;
        n -= half;
    }
    return (uint32_t)(b - t->start);
}

/* vi_ct_lookup_at through memo. */
static inline uint32_t vi_ct_lookup(const ViCodeTab *t, ViMemo *memo, CodeKey k)
{
    return vi_ct_lookup_at(t, vi_memo_of(t, memo, k), k);
}

/* vi_ct_lookup_at through km (2^VI_KEY_MEMO_BITS entries, the caller's;
 * vi_key_memo_new) first: the interval of every key looked up lately is
 * remembered in one slot per key hash (a later key of the same hash takes
 * the slot), so a code that recurs, as most do, costs one comparison. m is
 * k's prefix memo entry. Same result as vi_ct_find. */
static inline __attribute__((always_inline)) uint32_t vi_ct_remembered(const ViCodeTab *t, ViKeyMemo *km, const ViMemo *m, CodeKey k)
{
    ViKeyMemo *e = &km[(k * 0x9E3779B97F4A7C15u) >> (64 - VI_KEY_MEMO_BITS)];
    if (e->key == k && e->full) return e->iv;
    e->key = k;
    e->iv = vi_ct_lookup_at(t, m, k);
    e->full = 1;
    return e->iv;
}

/* vi_ct_remembered with k's entry of the prefix memo memo. */
static inline uint32_t vi_ct_lookup_key(const ViCodeTab *t, ViKeyMemo *km, ViMemo *memo, CodeKey k)
{
    return vi_ct_remembered(t, km, vi_memo_of(t, memo, k), k);
}

/* vi_ct_lookup_key for keys some set or segment may hold: UINT32_MAX at
 * once when none holds any key of k's bucket (one bit of its prefix's
 * bitmap, found through memo), as for most codes of a batch; else
 * vi_ct_lookup_key's answer, through the same memo entry. Either way the
 * sets and the segment of the answer (none for UINT32_MAX) are those of
 * vi_ct_find's interval. vi_ct_held_at: the same from k's memo entry m. */
static inline __attribute__((always_inline)) uint32_t vi_ct_held_at(const ViCodeTab *t, ViKeyMemo *km, const ViMemo *m, CodeKey k)
{
    if (m->bits != VI_BITS_NONE) {
        uint32_t b = vi_bucket_of(k);
        if (!(t->bucket_bits[m->bits + b / 64] >> (b % 64) & 1)) return UINT32_MAX;
    }
    return vi_ct_remembered(t, km, m, k);
}

static inline __attribute__((always_inline)) uint32_t vi_ct_held(const ViCodeTab *t, ViKeyMemo *km, ViMemo *memo, CodeKey k)
{
    return vi_ct_held_at(t, km, vi_memo_of(t, memo, k), k);
}

/* vi_ct_held for a caller that wants only the sets of k's interval (not
 * its segment): also UINT32_MAX at once when no set holds any key of k's
 * prefix (vi_ct_may_hold's test, on the same memo entry), as for most
 * diagnoses. */
static inline __attribute__((always_inline)) uint32_t vi_ct_held_sets(const ViCodeTab *t, ViKeyMemo *km, ViMemo *memo, CodeKey k)
{
    const ViMemo *m = vi_memo_of(t, memo, k);
    return m->sets ? vi_ct_held_at(t, km, m, k) : UINT32_MAX;
}

/* Whether rule r is folded (vi_split_build): selected by the atoms of one
 * of its `or`s, of which it has at least one. */
static inline bool vi_folded(const ViIndex *ix, uint32_t r) { return ix->fold_atom_count[r] != 0; }

/* ViGuard g's test on rec: 1 it holds, 0 it fails (a field that does not
 * apply fails every test), -1 not known without running the block (the
 * field is absent: unknown, or its default). vi_guard_present: the same
 * for a field rec gives. */
static inline int vi_guard_present(const Prog *p, const Record *rec, const ViGuard *g)
{
    const RecVal *v = &rec->v[g->field];
    if (g->kind == VI_G_MASK) return (uint64_t)v->i < 64 && ((uint64_t)g->k >> v->i & 1);
    if (g->kind == VI_G_EQ) return v->i == g->k;
    return v->n == p->strlens[g->k] && (v->n == 0 || memcmp(v->s, p->strs[g->k], v->n) == 0);
}
static inline int vi_guard_test(const Prog *p, const Record *rec, const ViGuard *g)
{
    uint32_t f = g->field;
    if (rec->present >> f & 1) return vi_guard_present(p, rec, g);
    if ((rec->none >> f & 1) && p->fields[f].type != VT_BOOL) return 0;
    return -1;
}


/* The value index of rec's field for filter x (see ViFilter). */
static inline uint32_t vi_filter_value(const ViIndex *ix, const Record *rec, const ViFilter *x)
{
    const Prog *p = ix->p;
    uint32_t f = x->field, nv = x->nvalues;
    if (!(rec->present >> f & 1)) return nv - 1 - (uint32_t)(rec->none >> f & 1);
    const RecVal *v = &rec->v[f];
    if (x->kind == VI_F_ENUM) return (uint64_t)v->i < nv - 2 ? (uint32_t)v->i : nv - 1;
    for (uint32_t k = 0; k < x->str_count; k++) {
        uint32_t s = ix->filter_strs[x->str_first + k];
        if (v->n == p->strlens[s] && (v->n == 0 || memcmp(v->s, p->strs[s], v->n) == 0)) return k;
    }
    return x->str_count; /* another string */
}

/* The always rules to consider for rec, ascending, into out (room for
 * p->nalways); returns how many: those that every filter leaves for rec's
 * value of its field (see vi_filter_build). With at most 64 always rules
 * (one word), the filters stop as soon as none is left. */
static inline __attribute__((always_inline)) uint32_t vi_always(const ViIndex *ix, const Record *rec,
                                                                uint32_t *out)
{
    const Prog *p = ix->p;
    uint32_t nx = ix->nfilters, words = ix->always_words, n = 0;
    if (words == 1) {
        uint64_t m = ix->always_base[0];
        for (uint32_t x = 0; x < nx && m; x++)
            m &= ix->filters[x].mask[vi_filter_value(ix, rec, &ix->filters[x])];
        for (; m; m &= m - 1) out[n++] = p->always[__builtin_ctzll(m)];
        return n;
    }
    const uint64_t *row[VI_MAX_FILTERS];
    for (uint32_t x = 0; x < nx; x++)
        row[x] = ix->filters[x].mask + (size_t)vi_filter_value(ix, rec, &ix->filters[x]) * words;
    for (uint32_t w = 0; w < words; w++) {
        uint64_t m = ix->always_base[w];
        for (uint32_t x = 0; x < nx; x++) m &= row[x][w];
        for (; m; m &= m - 1) out[n++] = p->always[w * 64 + (uint32_t)__builtin_ctzll(m)];
    }
    return n;
}


/* The index segment containing code key k, or NULL. */
static inline const PSeg *vi_find_seg(const Prog *p, CodeKey k)
{
    uint32_t lo = 0, hi = p->nsegs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->segs[mid].hi < k) lo = mid + 1;
        else hi = mid;
    }
    return lo < p->nsegs && p->segs[lo].lo <= k ? &p->segs[lo] : NULL;
}


#endif
