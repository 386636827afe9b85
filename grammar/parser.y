/* parser.y: the PCR grammar (docs/language.md), a pure bison parser.
 *
 * Actions are thin: each one calls a single constructor from src/syntax.c
 * (prefix parse_), which builds the node shapes documented in src/ast.h.
 * Nothing here checks names or types or folds values; the lexer has already
 * decoded literals (grammar/lexer.l).
 *
 * The parser is a push parser: parse_file (src/syntax.c) scans each token,
 * keeps the stack of open brackets, and pushes the token in, first pushing
 * any closer the source left out (E004; see the top of syntax.c).
 *
 * Error recovery, so that one run reports several errors:
 *   - at declaration level, `decls error` skips to the next declaration
 *     keyword;
 *   - inside every block (policy, schema, calendar, rule, test) `xs error`
 *     skips to the next clause, and `KEYWORD error` keeps a clause whose
 *     body was malformed as a clause holding an N_ERROR node, so the checker
 *     does not go on to report it as missing;
 *   - every brace or bracket list that is not part of a condition recovers
 *     inside its own brackets (`members error`, `fvals error`, ...).
 * Recovery discards the rest of a broken clause, so its cascades are never
 * seen. Every list item starts with `resync`, an empty rule reduced only
 * once look-ahead correction has seen that the token can start the item;
 * its `yyerrok` lets a new clause report its own errors (bison otherwise
 * stays silent until three tokens have been shifted). */

%require "3.8"

%code requires {
#include <stdbool.h>
#include <stdint.h>

#include "ast.h"

/* The scanner handle, declared the way flex declares it so either header
 * may come first. */
#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

typedef struct Parser Parser;

/* A list under construction: head for the node, tail for O(1) appends
 * (code sets may list tens of thousands of codes). */
typedef struct NodeList {
    Node *head;
    Node *tail;
} NodeList;

/* A condition or set expression and its depth in operators, so that
 * over-deep trees are rejected before anything recurses over them. */
typedef struct Expr {
    Node *n;
    uint32_t depth;
} Expr;

/* A keyword's spelling in the source (not NUL-terminated), for the places
 * where a keyword is accepted as a name (enum members, `code` the field). */
typedef struct Slice {
    const char *s;
    uint32_t n;
} Slice;
}

%code provides {
/* Limits the front end enforces (docs/language.md, "Lexical structure"). */
enum {
    PARSE_MAX_NEST = 256,    /* conditions nested: parentheses, `not`s (E010) */
    PARSE_MAX_OPEN = 264,    /* open brackets: the above inside a block (E010) */
    PARSE_MAX_IDENT = 255,   /* identifier bytes (E011) */
    PARSE_MAX_STRING = 4096, /* decoded string bytes (E012) */
    PARSE_MAX_ERRORS = 100,  /* diagnostics from one file before giving up */
};

/* An open bracket not yet closed. */
typedef struct ParseOpener {
    int tok;        /* T_LBRACE, T_LPAREN or T_LBRACKET */
    Loc loc;        /* where it is */
    size_t nsyntax; /* Parser.nsyntax when it was opened */
} ParseOpener;

/* All state of one parse; the scanner's extra data and the parser's
 * parameter. Everything it allocates lives in `arena`. */
struct Parser {
    Arena *arena;
    Diags *d;
    uint32_t file; /* index of the source in d */
    const char *src; /* the source text (owned by d) */

    /* Scanner position: the next byte to scan. */
    size_t off;
    uint32_t line, col;
    /* The token just matched: text (into src) and span. */
    size_t tok_off, tok_len;
    Loc tok_loc;
    Loc last_loc; /* the last token scanned, to place the end of file */

    int prev_tok;        /* kind of the previous token scanned */
    bool first_on_line;  /* it is the first token on its line */
    uint32_t prefix_run; /* consecutive `not` and `(` tokens (E010) */

    ParseOpener open[PARSE_MAX_OPEN]; /* the bracket stack */
    uint32_t nopen;
    bool synthetic; /* the token being parsed was inserted, not written */

    size_t nerrors;     /* diagnostics reported by this parse */
    size_t err_tok;     /* 1 + offset of the token of the last syntax error */
    Loc err_loc;        /* and its span */
    size_t nsyntax;     /* syntax errors reported (the parser recovered) */
    bool fatal;         /* stop: nesting too deep or too many errors */
    bool nest_reported; /* E010 already said for the current clause */

    Node *decls, *decls_tail; /* the result, built as declarations finish */
};

/* The scanner, with the parser's context as a parameter (flex's default
 * prototype has no room for it). parse_file calls it and pushes each token
 * into the parser. */
#define YY_DECL                                                                    \
    int pcr_yylex(PCR_YYSTYPE *yylval_param, PCR_YYLTYPE *yylloc_param, yyscan_t yyscanner, \
                  Parser *p)
YY_DECL;

/* ---- src/syntax.c: scanner support (called from grammar/lexer.l) ----
 * "The token" is the text the scanner just matched; nodes returned are in
 * p->arena. */

/* Moves the position past the token (n bytes) and sets *loc to its span. */
void parse_lex_advance(Parser *p, Loc *loc, size_t n);
/* Moves the position back to the token's start (before yyless(0)). */
void parse_lex_rewind(Parser *p);
/* Returns tok, or end of file when the parse has stopped or a run of `not`
 * and `(` is too long (E010). */
int parse_lex_token(Parser *p, int tok, Loc *loc);
/* Returns end of file and sets *loc just after the last token. */
int parse_lex_eof(Parser *p, Loc *loc);
/* The token's spelling (a slice of the source). */
Slice parse_lex_slice(const Parser *p);
/* N_NAME for an identifier or system name (E011 when over-long). */
Node *parse_lex_ident(Parser *p);
/* N_CODE, or N_CODE_PREFIX when it ends in `*`. */
Node *parse_lex_code(Parser *p);
/* N_INT, N_DECIMAL, N_MONEY (in cents), N_DATE (days), N_DATETIME
 * (seconds): checked and decoded; an N_ERROR after reporting E005-E007. */
Node *parse_lex_int(Parser *p);
Node *parse_lex_decimal(Parser *p);
Node *parse_lex_money(Parser *p);
Node *parse_lex_date(Parser *p);
Node *parse_lex_datetime(Parser *p);
/* Reports E005 for something shaped like a date; returns N_ERROR. */
Node *parse_lex_bad_date(Parser *p);
/* N_STRING with escapes resolved (E008, E003, E009, E012 inside; E002 when
 * not terminated). */
Node *parse_lex_string(Parser *p, bool terminated);
/* Reports invalid UTF-8 in a comment (E009). */
void parse_lex_comment(Parser *p);
/* Reports a run of bytes that start no token (E003, or E009); the scanner
 * then returns the error token. */
void parse_lex_invalid(Parser *p);
/* Whether the token (a byte-order mark) is at the start of the file. */
bool parse_lex_bom(const Parser *p);

/* ---- grammar/parser.y: questions syntax.c asks the parser ---- */
/* Whether the parser in state ps would shift token tok (after any
 * reductions); look-ahead correction makes the answer exact. */
bool parse_accepts(pcr_yypstate *ps, int tok);

/* ---- src/syntax.c: errors found by the parser ---- */
/* E001 at `at`: unexpected is the lookahead's name, expected the names of
 * the tokens that could have come (from yysymbol_name). Silent after a
 * fatal error and at closers parse_file inserted. */
void parse_syntax_error(Parser *p, Loc at, const char *unexpected, const char *const *expected,
                        int nexpected);
/* E010 when bison's stack is full; stops the parse. */
void parse_stack_exhausted(Parser *p, Loc at);
/* Whether, after an error, an item starting at the lookahead may report
 * errors again (the `resync` rule). */
bool parse_new_item(const Parser *p);

/* ---- src/syntax.c: constructors, one per grammar action ----
 * Each returns a node (or list, or Expr) in p->arena with the shape ast.h
 * documents, spanning `loc`; the children passed in are linked, not copied.
 * A NULL where ast.h requires a child means error recovery lost it: the
 * constructor puts an N_ERROR there. parse_prop and parse_field return
 * NULL for an item made of the very token just reported (not a real one);
 * list constructors skip NULLs. The Expr constructors report E010 (once
 * per clause) and return an N_ERROR when the tree would nest deeper than
 * PARSE_MAX_NEST operators. */
NodeList parse_list(Node *first);
NodeList parse_list_add(NodeList l, Node *n);
/* Appends a finished declaration to the result (p->decls). */
void parse_add_decl(Parser *p, Node *decl);
/* N_NAME spelled like a keyword. */
Node *parse_word(Parser *p, Slice kw, Loc loc);
/* N_USE named by the dotted path of its N_NAME parts. */
Node *parse_use(Parser *p, Node *path, Loc loc);
/* N_POLICY; base is the dotted path of `extends` (N_NAME parts) or NULL. */
Node *parse_policy(Parser *p, Node *name, Node *base, Node *props, Loc loc);
/* N_REMOVE of rule `name` for the reason `why` (an N_STRING). */
Node *parse_remove(Parser *p, Node *name, Node *why, Loc loc);
/* N_RULE with FL_REPLACE: `replace rule ...`. */
Node *parse_replace(Parser *p, Node *name, Node *title, Node *clauses, Loc loc);
Node *parse_prop(Parser *p, Node *name, Node *values, Loc loc);
Node *parse_effective(Parser *p, Node *from, Node *through, Loc loc);
Node *parse_effective_error(Parser *p, Loc loc);
Node *parse_schema(Parser *p, Node *name, Node *fields, Loc loc);
/* N_FIELD; says is its wording (docs/language.md, "Field wording"): the
 * field's noun (N_STRING) followed by its N_WORDING pairs, or NULL. */
Node *parse_field(Parser *p, Node *name, Node *type, int required, Node *dflt, Node *says,
                  Loc loc);
/* N_WORDING: `key "text"` after a field's noun. */
Node *parse_wording(Parser *p, Node *key, Node *text, Loc loc);
/* N_TYPE `name` (copied) with children a and b; _named takes the name from
 * an identifier. */
Node *parse_type(Parser *p, const char *name, Node *a, Node *b, Loc loc);
Node *parse_type_named(Parser *p, Node *ident, Loc loc);
Node *parse_codeset(Parser *p, Node *name, Node *title, Node *eff, Expr set, Loc loc);
Node *parse_calendar(Parser *p, Node *name, Node *title, Node *holidays, Loc loc);
Node *parse_holiday(Parser *p, Node *date, Node *title, Loc loc);
Node *parse_rule(Parser *p, Node *name, Node *title, Node *clauses, Loc loc);
Node *parse_test(Parser *p, Node *title, Node *clauses, Loc loc);
Node *parse_set_lit(Parser *p, Node *groups, Loc loc);
Node *parse_group(Parser *p, Node *sys, Node *codes, Loc loc);
Node *parse_range(Parser *p, Node *lo, Node *hi, Loc loc);
Expr parse_set_leaf(Parser *p, Node *n);
Expr parse_setop(Parser *p, int op, Expr a, Expr b, Loc loc);
Expr parse_set_error(Parser *p, Loc loc);
Node *parse_value_list(Parser *p, Node *items, Loc loc);
Node *parse_list_lit(Parser *p, Node *items, Loc loc);
Node *parse_bool(Parser *p, int value, Loc loc);
Expr parse_binary(Parser *p, int op, Expr a, Expr b, Loc loc);
Expr parse_not(Parser *p, Expr a, Loc loc);
Expr parse_compare(Parser *p, int op, Node *a, Node *b, Loc loc);
Expr parse_in(Parser *p, Node *operand, Node *set, unsigned flags, Loc loc);
Expr parse_present(Parser *p, Node *field, Loc loc);
/* A name or literal used as a condition (a bool field, `true`). */
Expr parse_atom(Parser *p, Node *n);
/* N_CLAUSE of `kind` with children a and b, or with ival `val`. */
Node *parse_clause(Parser *p, int kind, Node *a, Node *b, Loc loc);
Node *parse_outcome(Parser *p, int outcome, Loc loc);
Node *parse_expect(Parser *p, int decision, Node *outcomes, Loc loc);
Node *parse_clause_val(Parser *p, int kind, int64_t val, Loc loc);
/* A `when` or `unless` clause; ends the clause for E010's once-only rule. */
Node *parse_clause_cond(Parser *p, int kind, Expr cond, Loc loc);
/* A clause of `kind` whose body failed to parse: a = N_ERROR. */
Node *parse_clause_error(Parser *p, int kind, Loc loc);
Node *parse_exempt(Parser *p, Node *rules, bool all, Loc loc);
/* CL_DEADLINE; checks the unit and the anchor (E001). */
Node *parse_deadline(Parser *p, Node *amount, Node *unit, int dir, Node *anchor, Loc loc);
Node *parse_field_value(Parser *p, Node *name, Node *value, Loc loc);
}

%code {
#include <string.h>

/* Spans run from the first symbol's start to the last one's end; an empty
 * rule sits at the end of what precedes it. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                   \
    do {                                                              \
        if (N) {                                                      \
            (Cur).file = YYRHSLOC(Rhs, 1).file;                       \
            (Cur).line = YYRHSLOC(Rhs, 1).line;                       \
            (Cur).col = YYRHSLOC(Rhs, 1).col;                         \
            (Cur).end_line = YYRHSLOC(Rhs, N).end_line;               \
            (Cur).end_col = YYRHSLOC(Rhs, N).end_col;                 \
        } else {                                                      \
            (Cur).file = YYRHSLOC(Rhs, 0).file;                       \
            (Cur).line = (Cur).end_line = YYRHSLOC(Rhs, 0).end_line;  \
            (Cur).col = (Cur).end_col = YYRHSLOC(Rhs, 0).end_col;     \
        }                                                             \
    } while (0)

static void pcr_yyerror(Loc *loc, yyscan_t scanner, Parser *p, const char *msg);
}

/* No global state: the parser's state lives on its stack and in Parser. */
%define api.pure full
/* Every external name starts with pcr_yy (the library shares a namespace
 * with its users). */
%define api.prefix {pcr_yy}
/* Token constants are T_WHEN, T_IN, ... so they cannot collide with
 * macros such as TRUE or EOF. */
%define api.token.prefix {T_}
/* Our spans: file, line, column, end line, end column (diag.h). */
%define api.location.type {Loc}
/* yyreport_syntax_error words the message (E001, E004). */
%define parse.error custom
/* Look-ahead correction: the expected-token list is exact, not the union
 * of a merged LALR state's. */
%define parse.lac full
%locations
/* A push parser: parse_file feeds it tokens, so that it can ask, before a
 * clause keyword, whether a closing bracket is missing (syntax.c). */
%define api.push-pull push
/* The scanner handle and our context reach the actions. */
%param {yyscan_t scanner} {Parser *p}
/* The grammar has no conflicts; keep it so. */
%expect 0
/* `use` and `codeset X = ...` end without a closing token, so an error may
 * be found right after one, before it is reduced. Shifting `error` there
 * (`USE modpath error`) keeps the declaration; reducing it first would
 * leave the error to `decls error`, which drops it. */
%precedence DECL_END
%precedence error

/* No %destructor: every semantic value lives in the parse's arena, which
 * the caller frees; discarding a value during recovery leaks nothing. */

%union {
    Node *node;    /* literals, names, and every construct */
    NodeList list; /* a list under construction */
    Expr expr;     /* a condition or set expression, with its depth */
    Slice kw;      /* a keyword's spelling */
    int num;       /* operators, outcomes, decisions, directions, flags */
}

/* Token names are what the user writes; they appear in syntax errors
 * ("unexpected `}`, expected `when`, ..."), in this order, so the tokens
 * most useful to name come first. A backquoted name is a fixed spelling. */
%token <node> IDENT "identifier"
%token <kw>
    /* clauses */
    WHEN "`when`" UNLESS "`unless`" REQUIRE "`require`" EXEMPT "`exempt`"
    REVIEWER "`reviewer`" DEADLINE "`deadline`" CITE "`cite`" EFFECTIVE "`effective`"
    GIVEN "`given`" EXPECT "`expect`" RULES "`rules`" MISSING "`missing`" TIMELY "`timely`"
    POSSIBLE "`possible`"
    /* declarations */
    USE "`use`" POLICY "`policy`" SCHEMA "`schema`" CODESET "`codeset`"
    CALENDAR "`calendar`" RULE "`rule`" TEST "`test`"
    EXTENDS "`extends`" REMOVE "`remove`" REPLACE "`replace`"
    /* conditions */
    AND "`and`" OR "`or`" NOT "`not`" IN "`in`" ANY "`any`" PRESENT "`present`"
    TRUE "`true`" FALSE "`false`"
    /* clause words */
    SECTION "`section`" THROUGH "`through`" BEFORE "`before`" AFTER "`after`" ALL "`all`"
    PRIOR_AUTH "`prior_auth`" NOTIFICATION "`notification`" NOT_COVERED "`not_covered`"
    ADVISORY "`advisory`"
    NONE "`none`" INFO_NEEDED "`info_needed`" NO_POLICY "`no_policy`" KW_ERROR "`error`"
    UNKNOWN "`unknown`"
    /* schema */
    REQUIRED "`required`" LIST "`list`" ENUM "`enum`" CODE "`code`" SYSTEM "`system`"
%token <node>
    SYS "system name"
    CODELIT "code literal"
    CODEPFX "code prefix"
    INT "integer"
    DECIMAL "decimal number"
    MONEY "money amount"
    STRING "string"
    DATE "date"
    DATETIME "datetime"
%token
    LBRACE "`{`" RBRACE "`}`" LPAREN "`(`" RPAREN "`)`" LBRACKET "`[`" RBRACKET "`]`"
    COMMA "`,`" COLON "`:`" ASSIGN "`=`" DOT "`.`" DOTDOT "`..`" PLUS "`+`" MINUS "`-`"
    EQ "`==`" NE "`!=`" LT "`<`" LE "`<=`" GT "`>`" GE "`>=`"

%nterm <node> decl use_decl policy_decl prop pname pcal effective
%nterm <node> schema_decl field fname type elem_type system_opt default_opt wording wkey
%nterm <node> codeset_decl title_opt eff_opt set_lit group item
%nterm <node> calendar_decl holiday rule_decl rclause test_decl tclause remove_decl replace_decl
%nterm <node> value literal word boolean gvalue fval list_lit setref value_list vitem
%nterm <node> operand name member
%nterm <list> modpath props strings fields members systems groups codes holidays rclauses ids
%nterm <list> props_opt fields_opt holidays_opt rclauses_opt tclauses_opt fvals_opt says says_opt
%nterm <list> tclauses fvals litems litems_opt names names_opt ids_opt vitems
%nterm <list> outcomes outcomes_opt
%nterm <node> outcome_item
%nterm <expr> cond cand cnot catom pred setexpr setterm cs_body
%nterm <num> required_opt outcome decision direction cmp
%nterm <kw> kwword

%%

file: %empty | decls ;

decls
    : resync decl        { parse_add_decl(p, $2); }
    | error
    | decls resync decl  { parse_add_decl(p, $3); }
    | decls error
    ;

/* A clause or declaration starts here: its errors are worth reporting
 * (parse_new_item says when we are sure a new item starts). */
resync: %empty  { if (parse_new_item(p)) yyerrok; } ;

decl
    : use_decl | policy_decl | schema_decl | codeset_decl | calendar_decl | rule_decl | test_decl
    | remove_decl | replace_decl
    ;

/* ---- use ---- */

use_decl
    : USE modpath %prec DECL_END  { $$ = parse_use(p, $2.head, @$); }
    | USE modpath error           { $$ = parse_use(p, $2.head, @$); }
    ;

modpath
    : IDENT              { $$ = parse_list($1); }
    | modpath DOT IDENT  { $$ = parse_list_add($1, $3); }
    ;

/* ---- policy header ---- */

/* `extends` names the base policy's module, as `use` names a module. */
policy_decl
    : POLICY IDENT LBRACE props_opt RBRACE  { $$ = parse_policy(p, $2, NULL, $4.head, @$); }
    | POLICY IDENT EXTENDS modpath LBRACE props_opt RBRACE
                                            { $$ = parse_policy(p, $2, $4.head, $6.head, @$); }
    ;

props_opt: %empty { $$ = parse_list(NULL); } | props ;

props
    : resync prop        { $$ = parse_list($2); }
    | error              { $$ = parse_list(NULL); }
    | props resync prop  { $$ = parse_list_add($1, $3); }
    | props error
    ;

prop
    : pname strings  { $$ = parse_prop(p, $1, $2.head, @$); }
    | pcal IDENT     { $$ = parse_prop(p, $1, $2, @$); }
    | effective
    | pname error    { $$ = parse_prop(p, $1, NULL, @$); }
    | pcal error     { $$ = parse_prop(p, $1, NULL, @$); }
    | EFFECTIVE error  { $$ = parse_effective_error(p, @$); }
    ;


pname
    : IDENT
    | REVIEWER  { $$ = parse_word(p, $1, @1); }
    ;

pcal: CALENDAR  { $$ = parse_word(p, $1, @1); } ;

strings
    : STRING                { $$ = parse_list($1); }
    | strings STRING        { $$ = parse_list_add($1, $2); }
    | strings COMMA STRING  { $$ = parse_list_add($1, $3); }
    ;

effective
    : EFFECTIVE DATE               { $$ = parse_effective(p, $2, NULL, @$); }
    | EFFECTIVE DATE THROUGH DATE  { $$ = parse_effective(p, $2, $4, @$); }
    ;

/* ---- schema ---- */

schema_decl: SCHEMA IDENT LBRACE fields_opt RBRACE  { $$ = parse_schema(p, $2, $4.head, @$); } ;

fields_opt: %empty { $$ = parse_list(NULL); } | fields ;

fields
    : resync field         { $$ = parse_list($2); }
    | error                { $$ = parse_list(NULL); }
    | fields resync field  { $$ = parse_list_add($1, $3); }
    | fields error
    ;

field
    : fname COLON type required_opt default_opt says_opt
        { $$ = parse_field(p, $1, $3, $4, $5, $6.head, @$); }
    | fname error  { $$ = parse_field(p, $1, NULL, 0, NULL, NULL, @$); }
    ;

/* How the field reads in pcrc list: `"the setting", ltac "LTAC"`. */
says_opt: %empty  { $$ = parse_list(NULL); } | says ;

says
    : STRING               { $$ = parse_list($1); }
    | says COMMA wording   { $$ = parse_list_add($1, $3); }
    ;

wording: wkey STRING  { $$ = parse_wording(p, $1, $2, @$); } ;

/* `true` and `false` (bools), `any` and `none` (lists), `unit`, or a member. */
wkey
    : word
    | TRUE   { $$ = parse_word(p, $1, @1); }
    | FALSE  { $$ = parse_word(p, $1, @1); }
    ;


/* `code` is a keyword (it introduces code types) and also the standard
 * schema's field name. */
fname
    : IDENT
    | CODE  { $$ = parse_word(p, $1, @1); }
    ;

type
    : IDENT                                         { $$ = parse_type_named(p, $1, @$); }
    | ENUM LBRACE members comma_opt RBRACE          { $$ = parse_type(p, "enum", $3.head, NULL, @$); }
    | CODE LPAREN systems RPAREN system_opt         { $$ = parse_type(p, "code", $3.head, $5, @$); }
    | LIST elem_type                                { $$ = parse_type(p, "list", $2, NULL, @$); }
    ;

elem_type
    : IDENT                                         { $$ = parse_type_named(p, $1, @$); }
    | CODE LPAREN systems RPAREN                    { $$ = parse_type(p, "code", $3.head, NULL, @$); }
    ;

members
    : member                       { $$ = parse_list($1); }
    | error                        { $$ = parse_list(NULL); }
    | members COMMA member         { $$ = parse_list_add($1, $3); }
    | members error
    ;

member: word | STRING ;

systems
    : SYS                  { $$ = parse_list($1); }
    | systems COMMA SYS    { $$ = parse_list_add($1, $3); }
    ;

system_opt
    : %empty        { $$ = NULL; }
    | SYSTEM fname  { $$ = $2; }
    ;

required_opt
    : %empty    { $$ = 0; }
    | REQUIRED  { $$ = 1; }
    ;

default_opt
    : %empty        { $$ = NULL; }
    | ASSIGN value  { $$ = $2; }
    ;

comma_opt: %empty | COMMA ;

/* ---- code sets ---- */

codeset_decl
    : CODESET IDENT title_opt eff_opt cs_body  { $$ = parse_codeset(p, $2, $3, $4, $5, @$); }
    ;

title_opt
    : %empty  { $$ = NULL; }
    | STRING
    ;

eff_opt
    : %empty  { $$ = NULL; }
    | effective
    ;

/* A `{ }` body recovers inside its braces (or its code lists). */
cs_body
    : LBRACE RBRACE               { $$ = parse_set_leaf(p, parse_set_lit(p, NULL, @$)); }
    | LBRACE groups RBRACE        { $$ = parse_set_leaf(p, parse_set_lit(p, $2.head, @$)); }
    | LBRACE error RBRACE         { $$ = parse_set_error(p, @$); }
    | ASSIGN setexpr %prec DECL_END  { $$ = $2; }
    | ASSIGN setexpr error        { $$ = $2; }
    | ASSIGN error                { $$ = parse_set_error(p, @$); }
    ;

setexpr
    : setterm
    | setexpr PLUS setterm   { $$ = parse_setop(p, '+', $1, $3, @$); }
    | setexpr MINUS setterm  { $$ = parse_setop(p, '-', $1, $3, @$); }
    ;

setterm
    : IDENT                   { $$ = parse_set_leaf(p, $1); }
    | set_lit                 { $$ = parse_set_leaf(p, $1); }
    | LPAREN setexpr RPAREN   { $$ = $2; }
    ;

set_lit: LBRACE groups RBRACE  { $$ = parse_set_lit(p, $2.head, @$); } ;

groups
    : group         { $$ = parse_list($1); }
    | groups group  { $$ = parse_list_add($1, $2); }
    ;

group
    : SYS codes  { $$ = parse_group(p, $1, $2.head, @$); }
    | SYS error  { $$ = parse_group(p, $1, NULL, @$); }
    ;

codes
    : item         { $$ = parse_list($1); }
    | codes item   { $$ = parse_list_add($1, $2); }
    | codes error
    ;

item
    : CODELIT
    | CODEPFX
    | CODELIT DOTDOT CODELIT  { $$ = parse_range(p, $1, $3, @$); }
    ;

/* ---- calendars ---- */

calendar_decl
    : CALENDAR IDENT title_opt LBRACE holidays_opt RBRACE  { $$ = parse_calendar(p, $2, $3, $5.head, @$); }
    ;

holidays_opt: %empty { $$ = parse_list(NULL); } | holidays ;

holidays
    : resync holiday           { $$ = parse_list($2); }
    | error                    { $$ = parse_list(NULL); }
    | holidays resync holiday  { $$ = parse_list_add($1, $3); }
    | holidays error
    ;

holiday: DATE STRING  { $$ = parse_holiday(p, $1, $2, @$); } ;

/* ---- rules ---- */

rule_decl
    : RULE IDENT STRING LBRACE rclauses_opt RBRACE  { $$ = parse_rule(p, $2, $3, $5.head, @$); }
    ;

/* ---- an extending policy's changes to the rules it inherits ---- */

remove_decl: REMOVE RULE IDENT STRING  { $$ = parse_remove(p, $3, $4, @$); } ;

replace_decl
    : REPLACE RULE IDENT STRING LBRACE rclauses_opt RBRACE  { $$ = parse_replace(p, $3, $4, $6.head, @$); }
    ;

rclauses_opt: %empty { $$ = parse_list(NULL); } | rclauses ;

rclauses
    : resync rclause           { $$ = parse_list($2); }
    | error                    { $$ = parse_list(NULL); }
    | rclauses resync rclause  { $$ = parse_list_add($1, $3); }
    | rclauses error
    ;

rclause
    : CITE STRING                   { $$ = parse_clause(p, CL_CITE, $2, NULL, @$); }
    | CITE STRING SECTION STRING    { $$ = parse_clause(p, CL_CITE, $2, $4, @$); }
    | effective                     { $$ = parse_clause(p, CL_EFFECTIVE, $1, NULL, @$); }
    | WHEN cond                     { $$ = parse_clause_cond(p, CL_WHEN, $2, @$); }
    | UNLESS cond                   { $$ = parse_clause_cond(p, CL_UNLESS, $2, @$); }
    | REQUIRE outcome               { $$ = parse_clause_val(p, CL_REQUIRE, $2, @$); }
    | EXEMPT ALL                    { $$ = parse_exempt(p, NULL, true, @$); }
    | EXEMPT ids                    { $$ = parse_exempt(p, $2.head, false, @$); }
    | REVIEWER strings              { $$ = parse_clause(p, CL_REVIEWER, $2.head, NULL, @$); }
    | DEADLINE INT IDENT direction IDENT  { $$ = parse_deadline(p, $2, $3, $4, $5, @$); }
    | CITE error                    { $$ = parse_clause_error(p, CL_CITE, @$); }
    | EFFECTIVE error               { $$ = parse_clause_error(p, CL_EFFECTIVE, @$); }
    | WHEN error                    { $$ = parse_clause_error(p, CL_WHEN, @$); }
    | UNLESS error                  { $$ = parse_clause_error(p, CL_UNLESS, @$); }
    | REQUIRE error                 { $$ = parse_clause_error(p, CL_REQUIRE, @$); }
    | EXEMPT error                  { $$ = parse_clause_error(p, CL_EXEMPT, @$); }
    | REVIEWER error                { $$ = parse_clause_error(p, CL_REVIEWER, @$); }
    | DEADLINE error                { $$ = parse_clause_error(p, CL_DEADLINE, @$); }
    ;


outcome
    : PRIOR_AUTH    { $$ = OUT_PRIOR_AUTH; }
    | NOTIFICATION  { $$ = OUT_NOTIFICATION; }
    | NOT_COVERED   { $$ = OUT_NOT_COVERED; }
    | ADVISORY      { $$ = OUT_ADVISORY; }
    ;

outcome_item: outcome  { $$ = parse_outcome(p, $1, @$); } ;

outcomes
    : outcome_item                 { $$ = parse_list($1); }
    | outcomes COMMA outcome_item  { $$ = parse_list_add($1, $3); }
    ;

outcomes_opt
    : %empty           { $$ = parse_list(NULL); }
    | outcomes comma_opt
    ;

direction
    : BEFORE  { $$ = DIR_BEFORE; }
    | AFTER   { $$ = DIR_AFTER; }
    ;

ids
    : IDENT            { $$ = parse_list($1); }
    | ids COMMA IDENT  { $$ = parse_list_add($1, $3); }
    ;

/* ---- conditions: `or` < `and` < `not`; comparisons do not chain ---- */

cond
    : cond OR cand  { $$ = parse_binary(p, BIN_OR, $1, $3, @$); }
    | cand
    ;

cand
    : cand AND cnot  { $$ = parse_binary(p, BIN_AND, $1, $3, @$); }
    | cnot
    ;

cnot
    : NOT cnot  { $$ = parse_not(p, $2, @$); }
    | catom
    ;

catom
    : LPAREN cond RPAREN  { $$ = $2; }
    | pred
    ;

pred
    : operand cmp operand         { $$ = parse_compare(p, $2, $1, $3, @$); }
    | name IN setref              { $$ = parse_in(p, $1, $3, 0, @$); }
    | name NOT IN setref          { $$ = parse_in(p, $1, $4, FL_NEGATED, @$); }
    | name ANY IN setref          { $$ = parse_in(p, $1, $4, FL_ANY, @$); }
    | PRESENT LPAREN name RPAREN  { $$ = parse_present(p, $3, @$); }
    | operand                     { $$ = parse_atom(p, $1); }
    ;

cmp
    : EQ  { $$ = BIN_EQ; }
    | NE  { $$ = BIN_NE; }
    | LT  { $$ = BIN_LT; }
    | LE  { $$ = BIN_LE; }
    | GT  { $$ = BIN_GT; }
    | GE  { $$ = BIN_GE; }
    ;

/* A system name is an operand so that `code_system == CPT` reads as
 * written (enum members may be keywords). */
operand: name | SYS | literal ;

name
    : IDENT
    | CODE  { $$ = parse_word(p, $1, @1); }
    ;

setref: IDENT | set_lit | value_list ;

value_list: LBRACE vitems comma_opt RBRACE  { $$ = parse_value_list(p, $2.head, @$); } ;

vitems
    : vitem               { $$ = parse_list($1); }
    | vitems COMMA vitem  { $$ = parse_list_add($1, $3); }
    ;

vitem: word | STRING | INT ;

/* ---- tests ---- */

test_decl: TEST STRING LBRACE tclauses_opt RBRACE  { $$ = parse_test(p, $2, $4.head, @$); } ;

tclauses_opt: %empty { $$ = parse_list(NULL); } | tclauses ;

tclauses
    : resync tclause           { $$ = parse_list($2); }
    | error                    { $$ = parse_list(NULL); }
    | tclauses resync tclause  { $$ = parse_list_add($1, $3); }
    | tclauses error
    ;

tclause
    : GIVEN LBRACE fvals_opt RBRACE       { $$ = parse_clause(p, CL_GIVEN, $3.head, NULL, @$); }
    | EXPECT decision                     { $$ = parse_clause_val(p, CL_EXPECT, $2, @$); }
    | EXPECT decision COMMA outcomes      { $$ = parse_expect(p, $2, $4.head, @$); }
    | POSSIBLE LBRACKET outcomes_opt RBRACKET { $$ = parse_clause(p, CL_POSSIBLE, $3.head, NULL, @$); }
    | REVIEWER strings                    { $$ = parse_clause(p, CL_REVIEWER, $2.head, NULL, @$); }
    | RULES LBRACKET ids_opt RBRACKET     { $$ = parse_clause(p, CL_RULES, $3.head, NULL, @$); }
    | DEADLINE DATE                       { $$ = parse_clause(p, CL_DEADLINE_AT, $2, NULL, @$); }
    | DEADLINE DATETIME                   { $$ = parse_clause(p, CL_DEADLINE_AT, $2, NULL, @$); }
    | DEADLINE NONE                       { $$ = parse_clause(p, CL_DEADLINE_AT, NULL, NULL, @$); }
    | MISSING LBRACKET names_opt RBRACKET { $$ = parse_clause(p, CL_MISSING, $3.head, NULL, @$); }
    | TIMELY boolean                      { $$ = parse_clause(p, CL_TIMELY, $2, NULL, @$); }
    | TIMELY UNKNOWN                      { $$ = parse_clause(p, CL_TIMELY, NULL, NULL, @$); }
    | GIVEN error                         { $$ = parse_clause_error(p, CL_GIVEN, @$); }
    | EXPECT error                        { $$ = parse_clause_error(p, CL_EXPECT, @$); }
    | REVIEWER error                      { $$ = parse_clause_error(p, CL_REVIEWER, @$); }
    | RULES error                         { $$ = parse_clause_error(p, CL_RULES, @$); }
    | DEADLINE error                      { $$ = parse_clause_error(p, CL_DEADLINE_AT, @$); }
    | MISSING error                       { $$ = parse_clause_error(p, CL_MISSING, @$); }
    | TIMELY error                        { $$ = parse_clause_error(p, CL_TIMELY, @$); }
    | POSSIBLE error                      { $$ = parse_clause_error(p, CL_POSSIBLE, @$); }
    ;


decision
    : PRIOR_AUTH    { $$ = PCR_DEC_PRIOR_AUTH; }
    | NOTIFICATION  { $$ = PCR_DEC_NOTIFICATION; }
    | NOT_COVERED   { $$ = PCR_DEC_NOT_COVERED; }
    | NONE          { $$ = PCR_DEC_NONE; }
    | INFO_NEEDED   { $$ = PCR_DEC_INFO_NEEDED; }
    | NO_POLICY     { $$ = PCR_DEC_NO_POLICY; }
    | KW_ERROR      { $$ = PCR_DEC_ERROR; }
    ;

/* Fields of `given` may be separated by commas or just by layout. */
fvals_opt: %empty { $$ = parse_list(NULL); } | fvals ;

fvals
    : fval comma_opt        { $$ = parse_list($1); }
    | error                 { $$ = parse_list(NULL); }
    | fvals fval comma_opt  { $$ = parse_list_add($1, $2); }
    | fvals error
    ;

fval: name COLON gvalue  { $$ = parse_field_value(p, $1, $3, @$); } ;

gvalue: value | list_lit ;

list_lit: LBRACKET litems_opt RBRACKET  { $$ = parse_list_lit(p, $2.head, @$); } ;

litems_opt
    : %empty  { $$ = parse_list(NULL); }
    | litems comma_opt
    ;

litems
    : value               { $$ = parse_list($1); }
    | error               { $$ = parse_list(NULL); }
    | litems COMMA value  { $$ = parse_list_add($1, $3); }
    | litems error
    ;

ids_opt
    : %empty  { $$ = parse_list(NULL); }
    | ids comma_opt
    | ids error
    | error   { $$ = parse_list(NULL); }
    ;

names_opt
    : %empty  { $$ = parse_list(NULL); }
    | names comma_opt
    | names error
    | error   { $$ = parse_list(NULL); }
    ;

names
    : name              { $$ = parse_list($1); }
    | names COMMA name  { $$ = parse_list_add($1, $3); }
    ;

/* ---- values ---- */

value: literal | word ;

literal: INT | DECIMAL | MONEY | STRING | DATE | DATETIME | boolean ;

boolean
    : TRUE   { $$ = parse_bool(p, 1, @1); }
    | FALSE  { $$ = parse_bool(p, 0, @1); }
    ;

/* Where an enum member is expected any keyword is a name, except `true`
 * and `false`, which are values. */
word
    : IDENT
    | SYS
    | kwword  { $$ = parse_word(p, $1, @1); }
    ;

kwword
    : WHEN | UNLESS | REQUIRE | EXEMPT | REVIEWER | DEADLINE | CITE | EFFECTIVE | GIVEN
    | EXPECT | RULES | MISSING | TIMELY | POSSIBLE | ADVISORY | USE | POLICY | SCHEMA | CODESET | CALENDAR | RULE
    | TEST | EXTENDS | REMOVE | REPLACE | AND | OR | NOT | IN | ANY | PRESENT | SECTION | THROUGH | BEFORE | AFTER | ALL
    | PRIOR_AUTH | NOTIFICATION | NOT_COVERED | NONE | INFO_NEEDED | NO_POLICY | KW_ERROR
    | UNKNOWN | REQUIRED | LIST | ENUM | CODE | SYSTEM
    ;

%%

/* Names the unexpected token and the expected ones, as the user writes
 * them; parse_syntax_error words and reports the diagnostic. */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, Parser *p)
{
    (void)scanner;
    yysymbol_kind_t expected[YYNTOKENS];
    const char *names[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, expected, YYNTOKENS);
    if (n < 0) return n; /* YYENOMEM from look-ahead correction */
    for (int i = 0; i < n; i++) names[i] = yysymbol_name(expected[i]);
    parse_syntax_error(p, *yypcontext_location(ctx), yysymbol_name(yypcontext_token(ctx)), names,
                       n);
    return 0;
}

bool parse_accepts(pcr_yypstate *ps, int tok)
{
    yysymbol_kind_t expected[YYNTOKENS];
    yysymbol_kind_t want = YYTRANSLATE(tok);
    int n = yypstate_expected_tokens(ps, expected, YYNTOKENS);
    for (int i = 0; i < n; i++)
        if (expected[i] == want) return true;
    return false;
}

/* Bison's only other message is "memory exhausted": its stack reached
 * YYMAXDEPTH, which only pathological nesting does. */
static void pcr_yyerror(Loc *loc, yyscan_t scanner, Parser *p, const char *msg)
{
    (void)scanner;
    (void)msg;
    parse_stack_exhausted(p, *loc);
}
