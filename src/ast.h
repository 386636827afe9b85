/* ast.h: the syntax tree the parser builds and the checker reads.
 *
 * One generic node type; each kind uses the fields listed beside it and
 * leaves the others zero. Lists are chained through `next`, in source order.
 * Every node lives in the compile's Arena (see arena.h) and is freed with it;
 * strings (name, str) are arena copies, NUL-terminated.
 *
 * The grammar that produces these nodes is in grammar/parser.y and is
 * described for users in docs/language.md. */
#ifndef PCR_AST_H
#define PCR_AST_H

#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "diag.h"
#include "prog.h" /* Outcome, DurationUnit, DIR_*: shared with the runtime */

typedef enum NodeKind {
    /* ---- declarations (a file is a list of these) ---- */
    N_USE,       /* name: module path as written, dotted ("std.request") */
    N_POLICY,    /* name: policy id; a: list of N_PROP; b: N_USE naming the base policy's
                    module (`policy x extends a.b`) or NULL */
    N_PROP,      /* name: property ("payer", "title", "version", "source", "contact",
                    "reviewer", "calendar"); a: list of values (N_STRING, N_NAME).
                    "effective" is an N_EFFECTIVE node in the same list instead. */
    N_EFFECTIVE, /* a: N_DATE from (required); b: N_DATE through (inclusive) or NULL */
    N_SCHEMA,    /* name; a: list of N_FIELD */
    N_FIELD,     /* name; a: N_TYPE, followed (through next) by the field's N_WORDING
                    pairs; b: default value expr or NULL; str: the field's noun ("the
                    setting") or NULL; flags: FL_REQUIRED */
    N_WORDING,   /* name: key (`true`, `false`, `any`, `none`, `unit` or an enum
                    member); str: its words */
    N_TYPE,      /* name: "bool" "int" "money" "string" "date" "datetime" "duration"
                    "enum" "code" "list".
                    enum: a = members (N_NAME or N_STRING).
                    code: a = systems (N_NAME "CPT" ...); b = N_NAME of the enum field
                          that names the system in a record, or NULL.
                    list: a = element N_TYPE. */
    N_CODESET,   /* name; str: title or NULL; a: set expression; b: N_EFFECTIVE or NULL */
    N_CALENDAR,  /* name; str: title or NULL; a: list of N_HOLIDAY */
    N_HOLIDAY,   /* a: N_DATE; str: holiday name */
    N_RULE,      /* name: rule id; str: title; a: list of N_CLAUSE; flags: FL_CUT, and
                    FL_REPLACE for `replace rule` (it redefines an inherited rule) */
    N_REMOVE,    /* `remove rule ID "why"`: name: the inherited rule's id; str: why */
    N_TEST,      /* str: test name; a: list of N_CLAUSE; flags: FL_CUT */
    N_CLAUSE,    /* op: ClauseKind; operands per ClauseKind below */

    /* ---- set expressions ---- */
    N_SET_LIT,    /* { CPT 70551..70553 HCPCS S2083 }  a: list of N_CODE_GROUP */
    N_CODE_GROUP, /* name: system as written ("CPT"); a: list of N_CODE, N_CODE_RANGE,
                     N_CODE_PREFIX */
    N_CODE,       /* str: code text as written ("Z68.35", "0213T") */
    N_CODE_RANGE, /* a: N_CODE low; b: N_CODE high (inclusive) */
    N_CODE_PREFIX,/* str: text as written, including the '*' ("C50.*") */
    N_SETOP,      /* op: '+' (union) or '-' (difference); a, b: set expressions */
    N_VALUE_LIST, /* { inpatient, outpatient }  a: list of N_NAME, N_STRING, N_INT */
    N_LIST_LIT,   /* [ "C50.911", "Z85.3" ]  a: list of values (in test `given`) */

    /* ---- expressions ---- */
    N_NAME,     /* name */
    N_INT,      /* ival; str: text as written */
    N_DECIMAL,  /* str: text as written ("1000.50"); a money or exact value */
    N_MONEY,    /* str: text as written ("$1,000.00"); ival: cents (lexer-checked) */
    N_STRING,   /* str: value with escapes resolved */
    N_DATE,     /* ival: days since 1970-01-01 (lexer-checked) */
    N_DATETIME, /* ival: seconds since 1970-01-01T00:00 (lexer-checked) */
    N_BOOL,     /* ival: 0 or 1 */
    N_DURATION, /* ival: amount; op: DurationUnit */
    N_BINARY,   /* op: BinOp; a, b */
    N_NOT,      /* a */
    N_IN,       /* a: operand; b: N_NAME (a code set), N_SET_LIT or N_VALUE_LIST;
                   flags: FL_NEGATED (`not in`), FL_ANY (`any in`, list operand) */
    N_PRESENT,  /* name: field (`present(price)`) */
    N_FIELD_VALUE, /* name: field; a: value (in test `given`) */
    N_ERROR,    /* placeholder left by error recovery, wherever a child or list item
                   is expected (a literal that failed E005-E007, a clause whose body
                   did not parse: then `ival` of a require/expect is meaningless);
                   checkers skip it silently */
} NodeKind;

typedef enum ClauseKind {
    CL_CITE = 1, /* rule: a: N_STRING document; b: N_STRING section or NULL */
    CL_EFFECTIVE,/* rule: a: N_EFFECTIVE */
    CL_WHEN,     /* rule: a: condition */
    CL_UNLESS,   /* rule: a: condition (a rule may have many) */
    CL_REQUIRE,  /* rule: ival: Outcome (OUT_NOTIFICATION, OUT_PRIOR_AUTH, OUT_NOT_COVERED) */
    CL_EXEMPT,   /* rule: a: list of N_NAME rule ids; flags: FL_ALL for `exempt all` */
    CL_REVIEWER, /* rule or test: a: list of N_STRING */
    CL_DEADLINE, /* rule: a: N_DURATION; ival: DIR_BEFORE or DIR_AFTER;
                    str: anchor as written ("service" or "admission") */
    CL_GIVEN,    /* test: a: list of N_FIELD_VALUE */
    CL_EXPECT,   /* test: ival: pcr_decision_kind (PCR_DEC_*); with FL_ALL, a: list of
                    N_INT Outcome values, the other outcomes of the certain obligations */
    CL_RULES,    /* test: a: list of N_NAME (expected fired rules, exact set) */
    CL_DEADLINE_AT, /* test: a: N_DATE, N_DATETIME, or NULL for `deadline none` */
    CL_MISSING,  /* test: a: list of N_NAME */
    CL_TIMELY,   /* test: a: N_BOOL, or NULL for `timely unknown` */
    CL_POSSIBLE, /* test: a: list of N_INT Outcome values (the possible obligations') */
} ClauseKind;

typedef enum BinOp { BIN_AND = 1, BIN_OR, BIN_EQ, BIN_NE, BIN_LT, BIN_LE, BIN_GT, BIN_GE } BinOp;

enum NodeFlags {
    FL_REQUIRED = 1 << 0,
    FL_NEGATED = 1 << 1,
    FL_ANY = 1 << 2,
    FL_ALL = 1 << 3,
    FL_CUT = 1 << 4, /* N_RULE, N_TEST: holds a syntax error, or the file ends inside it */
    FL_REPLACE = 1 << 5, /* N_RULE: written `replace rule` */
};

typedef struct Node Node;
struct Node {
    NodeKind kind;
    Loc loc;       /* span of the whole construct */
    Node *next;    /* next sibling in a list */
    Node *a, *b;   /* children, per kind */
    const char *name;
    const char *str;
    int64_t ival;
    int op;
    unsigned flags;
};

/* Allocates a zeroed node in the arena. */
Node *ast_new(Arena *a, NodeKind kind, Loc loc);
/* Appends item to the list whose head is *list (O(n); lists are short). */
void ast_append(Node **list, Node *item);
/* Number of nodes in a list. */
size_t ast_list_len(const Node *list);
/* Prints the tree as an indented S-expression, one node per line, with
 * line:col of each node (pcrc --dump-ast; golden tests compare it). */
void ast_dump(const Node *list, FILE *out);
/* "N_RULE" -> "rule" style name of a kind, for dumps and messages. */
const char *ast_kind_name(NodeKind k);

/* The operands of the chain of `op` (BIN_AND or BIN_OR) rooted at n, in
 * source order: the parser nests `a and b and c` left-deep, and this gives
 * a, b, c. Only the left spine is followed (a parenthesized `b and c` on
 * the right stays one operand); a node that is not a chain of op is its
 * own only operand. The spine is walked by loop, since chains may be long.
 * Returns an xmalloc'ed array the caller frees; *count receives its length
 * (at least 1). The one walker every reader of conditions uses (the
 * checker, pcrc list, the lints). */
const Node **ast_chain(const Node *n, int op, size_t *count);

#endif
