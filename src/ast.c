/* ast.c: syntax tree nodes and their dump (pcrc --dump-ast).
 *
 * Dump format (golden tests compare it; keep it stable). One node per line,
 * indented two spaces per level, as an S-expression whose closing
 * parentheses end the line of the node's last descendant:
 *
 *   (KIND DETAILS @LINE:COL
 *     CHILD...)
 *
 * KIND is ast_kind_name(); @LINE:COL is where the node's span starts. A
 * node's `a` children come first, then its `b` children. Where `b` is
 * optional and could be mistaken for another `a` it is labelled:
 * `through=` (effective), `default=` (field), `system=` (code type),
 * `section=` (cite). DETAILS per kind:
 *
 *   use policy prop schema codeset calendar code_group name present
 *   field_value                          the name
 *   field                                name, then `required` if so
 *   type                                 the type name (bool, enum, code...)
 *   codeset calendar rule                then the title, quoted, if any
 *   holiday test string                  the string, quoted: \" \\ \n \t and
 *                                        \xNN for other control bytes
 *   clause                               the clause keyword, then: require
 *                                        and expect their outcome; exempt
 *                                        `all`; deadline `before service`;
 *                                        deadline_at and timely `none` or
 *                                        `unknown` when they have no value
 *   code code_prefix decimal             the text as written
 *   int bool                             the value
 *   money                                the text, then cents=N
 *   date datetime                        YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]
 *   duration                             `72 hours`, `2 business_days`
 *   setop                                + or -
 *   binary                               and or == != < <= > >=
 *   in                                   `not` or `any` for those forms
 *
 * Example:
 *   (rule mri "MRI of the brain" @12:1
 *     (clause when @14:3
 *       (in @14:8
 *         (name code @14:8)
 *         (name mri_brain @14:16))))
 */
#include "ast.h"

#include <inttypes.h>

#include "dates.h"

Node *ast_new(Arena *a, NodeKind kind, Loc loc)
{
    Node *n = arena_alloc(a, sizeof *n);
    n->kind = kind;
    n->loc = loc;
    return n;
}

void ast_append(Node **list, Node *item)
{
    while (*list) list = &(*list)->next;
    *list = item;
}

size_t ast_list_len(const Node *list)
{
    size_t n = 0;
    for (; list; list = list->next) n++;
    return n;
}

const char *ast_kind_name(NodeKind k)
{
    static const char *const names[] = {
        [N_USE] = "use",
        [N_POLICY] = "policy",
        [N_PROP] = "prop",
        [N_EFFECTIVE] = "effective",
        [N_SCHEMA] = "schema",
        [N_FIELD] = "field",
        [N_WORDING] = "wording",
        [N_TYPE] = "type",
        [N_CODESET] = "codeset",
        [N_CALENDAR] = "calendar",
        [N_HOLIDAY] = "holiday",
        [N_RULE] = "rule",
        [N_TEST] = "test",
        [N_REMOVE] = "remove",
        [N_CLAUSE] = "clause",
        [N_SET_LIT] = "set_lit",
        [N_CODE_GROUP] = "code_group",
        [N_CODE] = "code",
        [N_CODE_RANGE] = "code_range",
        [N_CODE_PREFIX] = "code_prefix",
        [N_SETOP] = "setop",
        [N_VALUE_LIST] = "value_list",
        [N_LIST_LIT] = "list_lit",
        [N_NAME] = "name",
        [N_INT] = "int",
        [N_DECIMAL] = "decimal",
        [N_MONEY] = "money",
        [N_STRING] = "string",
        [N_DATE] = "date",
        [N_DATETIME] = "datetime",
        [N_BOOL] = "bool",
        [N_DURATION] = "duration",
        [N_BINARY] = "binary",
        [N_NOT] = "not",
        [N_IN] = "in",
        [N_PRESENT] = "present",
        [N_FIELD_VALUE] = "field_value",
        [N_ERROR] = "error",
    };
    if ((unsigned)k >= sizeof names / sizeof names[0] || !names[k]) return "?";
    return names[k];
}

/* Looks up v in a table of n names indexed from 0; "?" when out of range. */
static const char *pick(const char *const *names, size_t n, int64_t v)
{
    return v >= 0 && (uint64_t)v < n && names[v] ? names[v] : "?";
}
#define PICK(table, v) pick(table, sizeof table / sizeof table[0], v)

static const char *const clause_names[] = {
    [CL_CITE] = "cite",           [CL_EFFECTIVE] = "effective", [CL_WHEN] = "when",
    [CL_UNLESS] = "unless",       [CL_REQUIRE] = "require",     [CL_EXEMPT] = "exempt",
    [CL_REVIEWER] = "reviewer",   [CL_DEADLINE] = "deadline",   [CL_GIVEN] = "given",
    [CL_EXPECT] = "expect",       [CL_RULES] = "rules",         [CL_DEADLINE_AT] = "deadline_at",
    [CL_MISSING] = "missing",     [CL_TIMELY] = "timely",       [CL_POSSIBLE] = "possible",
};
static const char *const outcome_names[] = {
    [OUT_NONE] = "none",           [OUT_NOTIFICATION] = "notification",
    [OUT_PRIOR_AUTH] = "prior_auth", [OUT_NOT_COVERED] = "not_covered", [OUT_EXEMPT] = "exempt",
    [OUT_ADVISORY] = "advisory",
};
static const char *const decision_names[] = {
    [PCR_DEC_NONE] = "none",
    [PCR_DEC_NOTIFICATION] = "notification",
    [PCR_DEC_PRIOR_AUTH] = "prior_auth",
    [PCR_DEC_NOT_COVERED] = "not_covered",
    [PCR_DEC_INFO_NEEDED] = "info_needed",
    [PCR_DEC_NO_POLICY] = "no_policy",
    [PCR_DEC_ERROR] = "error",
};
static const char *const binop_names[] = {
    [BIN_AND] = "and", [BIN_OR] = "or", [BIN_EQ] = "==", [BIN_NE] = "!=",
    [BIN_LT] = "<",    [BIN_LE] = "<=", [BIN_GT] = ">",  [BIN_GE] = ">=",
};
static const char *const unit_names[] = {
    [U_HOURS] = "hours", [U_DAYS] = "days", [U_BUSINESS_DAYS] = "business_days",
};
static const char *const dir_names[] = {[DIR_BEFORE] = "before", [DIR_AFTER] = "after"};

static void put_quoted(const char *s, FILE *out)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c == '\n') fputs("\\n", out);
        else if (c == '\t') fputs("\\t", out);
        else if (c < 0x20 || c == 0x7F) fprintf(out, "\\x%02X", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

static void put_word(const char *s, FILE *out)
{
    fputc(' ', out);
    fputs(s ? s : "?", out);
}

static void put_title(const char *s, FILE *out)
{
    if (!s) return;
    fputc(' ', out);
    put_quoted(s, out);
}

/* The kind-specific part of a node's line; returns the label of its `b`
 * children, or NULL when they need none. */
static const char *put_details(const Node *n, FILE *out)
{
    char buf[32];
    switch (n->kind) {
    case N_POLICY:
        put_word(n->name, out);
        return "extends";
    case N_USE: case N_PROP: case N_SCHEMA: case N_CODE_GROUP: case N_NAME:
    case N_PRESENT: case N_FIELD_VALUE:
        put_word(n->name, out);
        return NULL;
    case N_EFFECTIVE:
        return "through";
    case N_FIELD:
        put_word(n->name, out);
        if (n->flags & FL_REQUIRED) fputs(" required", out);
        put_title(n->str, out);
        return "default";
    case N_WORDING:
        put_word(n->name, out);
        put_title(n->str, out);
        return NULL;
    case N_TYPE:
        put_word(n->name, out);
        return "system";
    case N_CODESET: case N_CALENDAR: case N_RULE: case N_REMOVE:
        put_word(n->name, out);
        put_title(n->str, out);
        if (n->flags & FL_CUT) fputs(" cut", out);
        if (n->flags & FL_REPLACE) fputs(" replace", out);
        return NULL;
    case N_HOLIDAY: case N_TEST: case N_STRING:
        put_title(n->str ? n->str : "", out);
        if (n->flags & FL_CUT) fputs(" cut", out);
        return NULL;
    case N_CLAUSE:
        put_word(PICK(clause_names, n->op), out);
        switch (n->op) {
        /* A clause that failed to parse has only its (error) child. */
        case CL_REQUIRE: if (!n->a) put_word(PICK(outcome_names, n->ival), out); break;
        case CL_EXPECT:
            if (!n->a || (n->flags & FL_ALL)) put_word(PICK(decision_names, n->ival), out);
            break;
        case CL_EXEMPT: if (n->flags & FL_ALL) fputs(" all", out); break;
        case CL_DEADLINE:
            put_word(PICK(dir_names, n->ival), out);
            put_word(n->str, out);
            break;
        case CL_DEADLINE_AT: if (!n->a) fputs(" none", out); break;
        case CL_TIMELY: if (!n->a) fputs(" unknown", out); break;
        default: break;
        }
        return n->op == CL_CITE ? "section" : NULL;
    case N_CODE: case N_CODE_PREFIX: case N_DECIMAL:
        put_word(n->str, out);
        return NULL;
    case N_INT:
        fprintf(out, " %" PRId64, n->ival);
        return NULL;
    case N_MONEY:
        put_word(n->str, out);
        fprintf(out, " cents=%" PRId64, n->ival);
        return NULL;
    case N_DATE:
        date_format((int32_t)n->ival, buf);
        put_word(buf, out);
        return NULL;
    case N_DATETIME:
        datetime_format(n->ival, buf);
        put_word(buf, out);
        if (n->ival % 60) fprintf(out, ":%02d", (int)(((n->ival % 60) + 60) % 60));
        return NULL;
    case N_BOOL:
        fputs(n->ival ? " true" : " false", out);
        return NULL;
    case N_DURATION:
        fprintf(out, " %" PRId64, n->ival);
        put_word(PICK(unit_names, n->op), out);
        return NULL;
    case N_SETOP:
        fprintf(out, " %c", n->op == '-' ? '-' : n->op == '+' ? '+' : '?');
        return NULL;
    case N_BINARY:
        put_word(PICK(binop_names, n->op), out);
        return NULL;
    case N_IN:
        if (n->flags & FL_NEGATED) fputs(" not", out);
        if (n->flags & FL_ANY) fputs(" any", out);
        return NULL;
    default:
        return NULL;
    }
}

/* Recursion follows a and b only; the parser bounds their depth. */
static void dump(const Node *n, FILE *out, int depth, const char *label)
{
    fprintf(out, "%*s", depth * 2, "");
    if (label) fprintf(out, "%s=", label);
    fprintf(out, "(%s", ast_kind_name(n->kind));
    const char *blabel = put_details(n, out);
    fprintf(out, " @%u:%u", n->loc.line, n->loc.col);
    for (const Node *c = n->a; c; c = c->next) {
        fputc('\n', out);
        dump(c, out, depth + 1, NULL);
    }
    for (const Node *c = n->b; c; c = c->next) {
        fputc('\n', out);
        dump(c, out, depth + 1, blabel);
    }
    fputc(')', out);
}

void ast_dump(const Node *list, FILE *out)
{
    for (; list; list = list->next) {
        dump(list, out, 0, NULL);
        fputc('\n', out);
    }
}

const Node **ast_chain(const Node *n, int op, size_t *count)
{
    size_t depth = 0;
    const Node *x = n;
    for (; x && x->kind == N_BINARY && x->op == op; x = x->a) depth++;
    const Node **v = xmalloc((depth + 1) * sizeof *v);
    v[0] = x; /* the innermost left operand comes first */
    size_t k = depth;
    for (x = n; x && x->kind == N_BINARY && x->op == op; x = x->a) v[k--] = x->b;
    *count = depth + 1;
    return v;
}

