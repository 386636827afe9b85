/* sema.h: the checker (sema*.c) and the checked model of a policy that the
 * emitter (emit.c) turns into a Prog.
 *
 * compile.c loads the root file and its modules and hands their syntax
 * trees to sema_run(), which resolves names, checks types, builds code sets,
 * calendars and rules into a Model, and collects the root file's tests.
 * Nothing is emitted when any error was reported.
 *
 * The checker takes syntax through the opaque struct Node, and the model
 * carries only plain values (outcomes and units already as the numbers
 * stored in a PRule), so the emitter never needs the syntax tree. */
#ifndef PCR_SEMA_H
#define PCR_SEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "codes.h"
#include "diag.h"
#include "prog.h"

struct Node;
struct TestCase;

/* ---- the checked model ---------------------------------------------- */

/* How a field reads in the analyst's tools (pcrc list): its wording in
 * the schema (docs/language.md, "Field wording"), checked against its type.
 * Every string is NULL when the schema gives none; the tools then fall back
 * to the field's name in backquotes, "`f` is true", "an element of `f`". */
typedef struct FieldText {
    const char *noun;       /* "the setting" */
    const char *yes, *no;   /* bool: the sentence when true, when false */
    const char *some, *none;/* list: "a diagnosis" (some element), "no diagnosis" */
    const char *unit;       /* int: "hours", printed after a number */
    const char **members;   /* enum: nmembers entries, each the member's words or
                               NULL (the member reads as itself); or NULL */
} FieldText;

/* A schema field, already checked; becomes a PField. */
typedef struct SField {
    const char *name;
    Loc loc;             /* the field's declaration */
    uint8_t type;        /* ValType */
    uint8_t elem;        /* VT_LIST: element ValType, else 0 */
    uint8_t flags;       /* PF_REQUIRED, PF_DEFAULT */
    uint8_t systems;     /* VT_CODE or list of codes: SYS_BIT mask */
    uint32_t tag_field;  /* VT_CODE: enum field naming the system, or PIDX_NONE */
    const char **members; /* VT_ENUM: member names, in declaration order */
    uint32_t nmembers;
    int64_t deflt;       /* PF_DEFAULT: the value, as PField.deflt */
    FieldText text;      /* its wording (strings in the arena) */
} SField;

/* A code set: a named `codeset`, or an anonymous `{ ... }` literal used in
 * a condition. */
typedef struct SSet {
    const char *name;     /* codeset name; literals get "<rule>{<n>}" */
    Loc loc;
    const struct Node *decl; /* N_CODESET, or the N_SET_LIT itself */
    CodeSet codes;        /* canonical intervals (owned; freed by sema_free) */
    int32_t eff_from;     /* membership also needs service_date in */
    int32_t eff_through;  /*   [eff_from, eff_through] (DATE_OPEN_* if none) */
    uint32_t pset;        /* index among the emitted PSets, or PIDX_NONE when
                             no condition tests it */
    uint8_t state;        /* SET_* below: evaluation state, for cycles */
    bool bad;             /* its definition had errors (already reported) */
    bool literal;         /* an anonymous `{ ... }` in a condition: its name is the
                             checker's ("<rule>{line:col}"), never shown as a name */
} SSet;

enum { SET_TODO = 0, SET_BUSY, SET_DONE };

typedef enum CondKind {
    C_TRUE,
    C_FALSE,
    C_BOOL,    /* the value of bool field `field` */
    C_PRESENT, /* whether field `field` is present (or defaulted) */
    C_NOT,     /* not a */
    C_AND,     /* a and b (three-valued, short-circuit) */
    C_OR,      /* a or b */
    C_ICMP,    /* x cmp y on integers (int, cents, days, seconds, member index) */
    C_SCMP,    /* x == y or x != y on strings */
    C_INSET,   /* code field `field` in model set `set` (plus its window) */
    C_ANYSET,  /* some code of list field `field` in model set `set` */
    C_INMASK,  /* enum field `field`'s member bit is set in `mask` */
    C_ANYSTR,  /* some string of list field `field` equals `str` */
} CondKind;

typedef enum CmpOp { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE } CmpOp;

/* One side of a comparison: a field's value or a constant. */
typedef struct Operand {
    bool is_field;
    uint32_t field; /* is_field: the field index */
    int64_t k;      /* C_ICMP constant */
    const char *s;  /* C_SCMP constant (arena, NUL-terminated) */
} Operand;

typedef struct Cond Cond;
struct Cond {
    CondKind kind;
    uint8_t cmp;    /* C_ICMP, C_SCMP: CmpOp */
    Cond *a, *b;    /* C_NOT: a; C_AND, C_OR: a, b */
    Operand x, y;   /* C_ICMP, C_SCMP */
    uint32_t field; /* C_BOOL, C_PRESENT, C_INSET, C_ANYSET, C_INMASK, C_ANYSTR */
    uint32_t set;   /* C_INSET, C_ANYSET: model set index */
    int64_t mask;   /* C_INMASK: bit i = member i */
    const char *str;/* C_ANYSTR */
};

/* A checked rule; becomes a PRule and its condition block. */
typedef struct SRule {
    const char *id, *title;
    const char **cite_docs;     /* ncites citations, in source order; */
    const char **cite_sections; /*   a section is NULL when the cite names none */
    uint32_t ncites;
    Loc loc;
    uint8_t outcome;     /* Outcome value (ast.h) */
    uint8_t dl_unit;     /* DurationUnit value, 0 for none */
    uint8_t dl_dir;      /* DIR_BEFORE or DIR_AFTER */
    uint8_t exempt_all;
    int32_t dl_amount;
    int32_t eff_from, eff_through;
    Cond *when;          /* NULL only after an error */
    Cond **unless;
    uint32_t nunless;
    const char **reviewers;
    uint32_t nreviewers;
    uint32_t *waives;    /* rule indices */
    uint32_t nwaives;
    uint32_t index_set;  /* model set the rule is indexed on, or PIDX_NONE */
    /* Where the rule comes from in a policy that extends a base: from is
     * the id of the base policy that wrote it (NULL for the policy's own
     * rules); how is RULE_OWN, RULE_INHERITED or RULE_REPLACED (the policy's
     * `replace rule` redefined the rule it inherited from `from`). */
    const char *from;
    uint8_t how;
} SRule;

enum { RULE_OWN = 0, RULE_INHERITED, RULE_REPLACED };

/* A rule an extending policy (or one of its bases) took out with
 * `remove rule ID "why"`. */
typedef struct SRemoved {
    const char *id, *why;
    const char *from; /* the base policy whose rule it was */
    const char *by;   /* the policy that removed it */
    Loc loc;          /* the `remove rule` */
    const struct Node *rule; /* the rule removed (its N_RULE) */
} SRemoved;

typedef struct Model {
    const char *id, *payer, *title, *version;
    const char *source_doc, *source_title; /* NULL when absent */
    const char *reviewer;                  /* NULL when absent */
    const char **contacts;
    uint32_t ncontacts;
    const char **payers;                   /* every payer of `payer "a", "b"`; payer is payers[0] */
    uint32_t index_field;                  /* the code or list-of-codes field the rule index is
                                              keyed on (rules' index_set test it), or PIDX_NONE */
    uint32_t npayers;
    int32_t eff_from, eff_through;
    uint64_t source_hash;

    SField *fields;
    uint32_t nfields;
    SSet *sets;          /* named code sets first, then literals as met */
    uint32_t nsets;
    uint32_t *used;      /* model set indices of the PSets, in PSet order */
    uint32_t nused;
    SRule *rules;
    uint32_t nrules;
    int32_t *holidays;   /* sorted, distinct */
    uint32_t nholidays;
    const char *base;    /* the id of the policy this one extends, or NULL */
    SRemoved *removed;   /* rules removed by the policy or its bases (arena) */
    uint32_t nremoved;
    Loc at;              /* the policy header: where emitter limits are reported */
} Model;

/* The rules of a policy as merged from its bases, for tools that read the
 * rules as written (pcrc list): everything is in the compile's arena. */
typedef struct Merged {
    const struct Node **rules; /* N_RULE of each rule in force, in model order */
    const char **from;         /* parallel: SRule.from */
    uint8_t *how;              /* parallel: SRule.how */
    const char **file;         /* parallel: the path of the file the rule is written in */
    uint32_t nrules;
    const SRemoved *removed;   /* Model.removed */
    uint32_t nremoved;
    const struct Node **bases; /* the bases' N_POLICY, nearest first */
    uint32_t nbases;
    const char *base;          /* Model.base */
} Merged;

/* ---- the checker ---------------------------------------------------- */

/* One loaded source file. */
typedef struct SemFile {
    uint32_t file;        /* diagnostics file index */
    struct Node *decls;   /* its declarations */
    bool root;
    bool base;            /* reached through `extends`: a base policy's file */
} SemFile;

typedef enum SymKind {
    SYM_NONE,
    SYM_SCHEMA,
    SYM_FIELD,
    SYM_CODESET,
    SYM_CALENDAR,
    SYM_RULE,
} SymKind;

/* A global name. */
typedef struct Sym {
    const char *name; /* NULL: empty hash slot */
    uint8_t kind;     /* SymKind */
    uint32_t index;   /* into the model array of its kind (calendars: cal_nodes) */
    Loc loc;          /* the declaration, for "first defined here" */
} Sym;

typedef struct Sema {
    Arena *arena;
    Diags *d;
    Model m;

    Sym *syms;          /* open-addressing hash table of global names */
    uint32_t symcap;    /* a power of two */
    uint32_t nsyms;

    const struct Node *policy;   /* the root file's policy, or NULL */
    const struct Node **bases;   /* the base policies' N_POLICY, nearest first (arena) */
    uint32_t nbases;
    const struct Node *schema;   /* the first schema, or NULL */
    const struct Node **cal_nodes; /* N_CALENDAR declarations */
    uint32_t ncal, calcap;
    const struct Node **rule_nodes; /* N_RULE, parallel to m.rules */
    uint32_t setcap, rulecap, rncap, usedcap; /* capacities of m.sets, m.rules,
                                                  rule_nodes, m.used */
    bool too_many_fields;        /* E133 was reported */
    bool too_many_rules;         /* E126 was reported */
    uint32_t *busy;              /* code sets being built, outermost first */
    uint32_t nbusy, busycap;
    size_t hint_work;            /* names compared for "did you mean" (sema_unknown) */
    size_t set_work;             /* intervals handled building code sets (sema_sets.c) */
    bool set_work_over;          /* E307 for the whole policy was reported */
    /* A `use` whose module could not be read (E101, E103, E104) leaves its
     * names undeclared: with failed_module set, unknown fields, code sets,
     * calendars and a missing schema are counted in unreported instead of
     * reported (compile.c then adds one note), so the one useful error is
     * not buried under the names that module would have declared. */
    const char *failed_module;   /* its name, or NULL */
    bool failed_base;            /* it was the `extends` of a policy: rule names too */
    Loc failed_use_at;           /* the `use` */
    size_t unreported;

    struct TestCase *tests;
    size_t ntests;
} Sema;

/* Prepares s for one compile; everything it allocates lives in arena or is
 * freed by sema_free(). */
void sema_init(Sema *s, Arena *arena, Diags *d);
/* Checks the loaded files (files[0 .. n) in dependency order: every module
 * before the files that use it; exactly one is the root). Fills s->m and
 * s->tests. Returns true when no error was reported by the checker. */
bool sema_run(Sema *s, const SemFile *files, uint32_t n);
void sema_free(Sema *s);

/* ---- shared between the sema*.c files ------------------------------- */

/* Grows *arr (xrealloc) so that it holds at least need elements. */
void sema_reserve(void **arr, uint32_t *cap, uint32_t need, size_t elem);
/* The field, code set, schema or calendar called name, or NULL. */
Sym *sema_lookup(Sema *s, const char *name);
/* The rule called name, or NULL (rules have a namespace of their own). */
Sym *sema_lookup_rule(Sema *s, const char *name);
/* Names of every symbol of kind (model order) into an xmalloc'ed array,
 * for "did you mean"; *n receives the count. */
const char **sema_names(Sema *s, SymKind kind, size_t *n);
/* Reports E111 "unknown <what> `name`" with a did-you-mean among the names
 * of kind; only counts it (s->unreported) when a module failed to load and
 * kind is not SYM_RULE. */
void sema_unknown(Sema *s, Loc at, const char *what, const char *name, SymKind kind);
/* The field called name, or PIDX_NONE. */
uint32_t sema_field(Sema *s, const char *name);
/* A checked effective window from an N_EFFECTIVE (NULL: open both ways);
 * reports E405 when through < from. */
void sema_effective(Sema *s, const struct Node *eff, int32_t *from, int32_t *through);
/* "bool", "money", "enum", "list of codes", ...: a static string. */
const char *sema_type_name(Sema *s, uint32_t field);

/* The cents of a money literal (N_MONEY, N_INT, or N_DECIMAL with at most
 * two decimals); false when n is none of those or out of range. */
bool sema_money(const struct Node *n, int64_t *cents);
/* The index of enum member name in f, or -1. */
int32_t sema_member(const SField *f, const char *name);
/* Reports E202 for name, not a member of enum field `field`. */
void sema_unknown_member(Sema *s, Loc at, uint32_t field, const char *name);
/* sema_words.c: checks the wording of field fi, declared by fn (N_FIELD
 * whose type is already checked), and fills fields[fi].text; reports E137
 * for a key that does not fit the field's type or is given twice. */
void sema_field_words(Sema *s, uint32_t fi, const struct Node *fn);
/* Reports E304 for an unknown code system name. */
void sema_unknown_system(Sema *s, Loc at, const char *name);

/* sema_sets.c: builds every named code set (reporting E301-E305, W501). */
void sema_sets_build(Sema *s);
/* The model set index of the code set named by expr (N_NAME of a codeset or
 * an N_SET_LIT), marked used for emission; PIDX_NONE after an error.
 * owner names anonymous literals. */
uint32_t sema_set_use(Sema *s, const struct Node *expr, const char *owner);

/* sema_cond.c: checks a condition; NULL after an error (reported). */
Cond *sema_cond(Sema *s, const struct Node *n, const char *owner);

/* sema_inherit.c: merges the rules of the policy files files[0 .. n) (the
 * root and its bases, in dependency order) into s->m.rules and
 * s->rule_nodes: a base's rules first, in its order, with `replace rule`
 * redefining one in place and `remove rule` taking one out (s->m.removed),
 * then each extending policy's own rules. Reports E127-E129 and declares
 * every surviving rule id. Also fills s->bases and s->m.base. */
void sema_inherit_rules(Sema *s, const SemFile *files, uint32_t n);
/* The merged rules of a checked policy, copied into the arena (they
 * outlive the checker). */
const Merged *sema_merged(const Sema *s);
/* The removal of rule `id`, or NULL. */
const SRemoved *sema_removed(const Sema *s, const char *id);
/* sema.c: declares rule d (an N_RULE) as rule m.rules[m.nrules]; false
 * (reported E110 or E126) when it cannot be. */
bool sema_add_rule(Sema *s, const struct Node *d);

/* sema_test.c: checks the root file's `test` declarations into s->tests. */
void sema_tests(Sema *s, const struct Node *decls);

#endif
