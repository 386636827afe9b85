/* prog.h: a compiled policy in memory.
 *
 * The emitter (emit.c) builds a Prog from checked syntax; the bytecode
 * writer (bc_write.c) serializes it; the loader (bc_load.c) rebuilds one from
 * a .pcrb and the verifier (bc_verify.c) proves it safe to run; the VM
 * (vm.c) evaluates records against it. docs/bytecode.md is the format.
 *
 * Ownership: every array is allocated in p->arena and freed by prog_free(),
 * which also frees the evaluator's index of the Prog (vindex).
 * Indices are 32-bit; PIDX_NONE marks an absent optional index. */
#ifndef PCR_PROG_H
#define PCR_PROG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "codes.h"

#define PIDX_NONE UINT32_MAX
#define DATE_OPEN_FROM INT32_MIN    /* effective from the beginning of time */
#define DATE_OPEN_THROUGH INT32_MAX /* effective with no end */

enum {
    PCR_MAX_FIELDS = 64, /* schema fields (a record's presence is one uint64) */
    PCR_MAX_STACK = 64,  /* VM stack slots; the verifier rejects deeper code */
    PCR_MAX_RULES = 65536,       /* rules in one policy */
    PCR_MAX_SET_RANGES = 100000, /* disjoint ranges in one code set, after merging */
};

/* Rule outcomes, deadline units and directions: stored in bytecode, so
 * append only. The checker writes them into the model, the runtime reads
 * them from PRule; both take the names from here. */
typedef enum Outcome {
    OUT_NONE = 0,
    OUT_NOTIFICATION = 1,
    OUT_PRIOR_AUTH = 2,
    OUT_NOT_COVERED = 3,
    OUT_EXEMPT = 4,   /* waives other rules; not itself a requirement */
    OUT_ADVISORY = 5, /* informs (an obligation) without deciding: never the decision */
    OUT__COUNT
} Outcome;

/* How strongly an outcome decides: not_covered > prior_auth > notification;
 * advisory, exempt and none decide nothing (0). */
static inline int outcome_strength(unsigned o)
{
    return o == OUT_NOT_COVERED ? 3 : o == OUT_PRIOR_AUTH ? 2 : o == OUT_NOTIFICATION ? 1 : 0;
}

typedef enum DurationUnit { U_HOURS = 1, U_DAYS, U_BUSINESS_DAYS } DurationUnit;

enum { DIR_BEFORE = 1, DIR_AFTER = 2 };

/* Types of schema fields and of values. Stored in bytecode: append only. */
typedef enum ValType {
    VT_BOOL = 1,
    VT_INT = 2,
    VT_MONEY = 3,    /* cents */
    VT_STRING = 4,
    VT_DATE = 5,     /* days since 1970-01-01 */
    VT_DATETIME = 6, /* seconds since 1970-01-01T00:00 */
    VT_ENUM = 7,     /* member index */
    VT_CODE = 8,     /* CodeKey */
    VT_LIST = 9,     /* elements of type `elem`: VT_CODE or VT_STRING */
} ValType;

enum FieldFlags {
    PF_REQUIRED = 1 << 0, /* a record without it is malformed */
    PF_DEFAULT = 1 << 1,  /* `deflt` applies when absent */
};

typedef struct PField {
    uint32_t name;       /* string index */
    uint8_t type;        /* ValType */
    uint8_t elem;        /* element ValType when type == VT_LIST, else 0 */
    uint8_t flags;       /* FieldFlags */
    uint8_t systems;     /* VT_CODE or list of VT_CODE: SYS_BIT mask of accepted systems */
    uint32_t tag_field;  /* VT_CODE: index of the VT_ENUM field naming the system
                            (its member names are system names), or PIDX_NONE */
    uint32_t enum_first; /* VT_ENUM: member names are strings refs[enum_first ..] */
    uint32_t enum_count; /*   (at most 64 members: INMASK tests a 64-bit mask) */
    int64_t deflt;       /* the default (bool 0/1, int, cents, days, ...) */
} PField;

typedef struct PSet {
    uint32_t name;  /* string index */
    uint32_t first; /* ranges[first .. first + count), canonical (see codes.h) */
    uint32_t count;
} PSet;

typedef struct PRule {
    uint32_t id;           /* string index: the rule id */
    uint32_t title;        /* string index */
    uint32_t cite_first;   /* citations: pairs in refs[cite_first ..], each a document */
    uint32_t cite_count;   /*   string index and a section string index or PIDX_NONE */
    uint32_t line;         /* source line of the `rule` keyword */
    uint8_t outcome;       /* Outcome */
    uint8_t dl_unit;       /* DurationUnit, or 0 for no deadline */
    uint8_t dl_dir;        /* DIR_BEFORE or DIR_AFTER (relative to service_date) */
    uint8_t exempt_all;    /* OUT_EXEMPT: waives every other rule */
    int32_t dl_amount;     /* in dl_unit */
    int32_t eff_from;      /* inclusive day, or DATE_OPEN_FROM */
    int32_t eff_through;   /* inclusive day, or DATE_OPEN_THROUGH */
    uint32_t code_off;     /* the condition block: code[code_off .. + code_len) */
    uint32_t code_len;
    uint32_t rev_first;    /* reviewers: string indices refs[rev_first ..] */
    uint32_t rev_count;    /*   (empty: the policy's default reviewer) */
    uint32_t waive_first;  /* OUT_EXEMPT: rule indices refs[waive_first ..] */
    uint32_t waive_count;
    uint32_t index_set;    /* set the rule is indexed on (its condition implies
                              `code in set`), or PIDX_NONE: always evaluated */
    uint32_t unless_count; /* `unless` clauses: the block is when, then for each
                              `JFALSE; unless; NOT; AND` (explanations name them) */
} PRule;

/* One segment of the rule index: codes lo..hi select rules
 * seg_rules[first .. first + count) (ascending rule indices). Segments are
 * sorted and disjoint. */
typedef struct PSeg {
    CodeKey lo, hi;
    uint32_t first, count;
} PSeg;

typedef struct Prog {
    Arena arena;

    /* header */
    uint32_t id, payer, title, version; /* string indices */
    uint32_t source_doc;                /* string index or PIDX_NONE */
    uint32_t source_title;              /* string index or PIDX_NONE */
    uint32_t contact_first, contact_count; /* refs: string indices */
    uint32_t payer_first, payer_count;     /* refs: the payers after `payer` of a policy
                                              that decides several (string indices) */
    uint32_t reviewer;                  /* default reviewer: string index or PIDX_NONE */
    int32_t eff_from, eff_through;      /* the policy's window (inclusive days) */
    uint64_t source_hash;               /* FNV-1a 64 of the sources, in load order */

    /* strings: strs[i] is NUL-terminated, strlens[i] bytes */
    const char **strs;
    uint32_t *strlens;
    uint32_t nstrs;

    int64_t *consts;
    uint32_t nconsts;

    uint32_t *refs; /* shared pool of index lists (contacts, reviewers, waives, enum names) */
    uint32_t nrefs;

    PField *fields;
    uint32_t nfields;
    uint32_t f_id, f_payer, f_service_date, f_requested_at, f_code; /* field indices
                                   the engine needs; f_requested_at/f_code may be PIDX_NONE */
    uint32_t f_service_at;      /* datetime of the service or admission, or PIDX_NONE:
                                   hour deadlines count from it when a record gives it */

    PSet *sets;
    uint32_t nsets;
    CodeRange *ranges;
    uint32_t nranges;

    PRule *rules;
    uint32_t nrules;

    PSeg *segs;
    uint32_t nsegs;
    uint32_t *seg_rules;
    uint32_t nseg_rules;
    uint32_t *always; /* ascending indices of rules with index_set == PIDX_NONE */
    uint32_t nalways;

    int32_t *holidays; /* sorted distinct days of the policy's calendar */
    uint32_t nholidays;

    uint8_t *code;
    uint32_t ncode;

    /* Not part of the format: the evaluator's index of this policy
     * (vm_index.h, vi_of), built by the first VM made for it and shared
     * read-only by all later ones, from any thread; NULL until then, and
     * freed by prog_free. */
    _Atomic(struct ViIndex *) vindex;
} Prog;

/* "bool", "int", "money", ... for a ValType; "?" for any other value. */
const char *prog_type_name(unsigned type);

/* True when the policy decides requests of payer s[0..n): payer or one
 * of the others. Inline: the engine asks it of each policy for every
 * record, and the length and first byte settle nearly every answer. */
static inline bool prog_has_payer(const Prog *p, const char *s, uint32_t n)
{
    for (uint32_t i = 0; i <= p->payer_count; i++) {
        uint32_t k = i ? p->refs[p->payer_first + i - 1] : p->payer;
        if (p->strlens[k] == n && (n == 0 || (p->strs[k][0] == s[0] && memcmp(p->strs[k], s, n) == 0)))
            return true;
    }
    return false;
}
Prog *prog_new(void);
void prog_free(Prog *p);

#endif
