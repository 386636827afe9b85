/* test_parse.c: the front end (lexer, parser, AST construction and dump).
 *
 *   golden       every tests/golden/parse/NAME.pcr, policies/std/request.pcr
 *                and the example policy of docs/language.md, parsed and
 *                dumped (tree, then diagnostics), compared with NAME.ast.
 *                PCR_UPDATE_GOLDEN=1 rewrites the .ast files instead;
 *                review every change by eye before committing it.
 *   diagnostics  tests/golden/parse/diag/NAME.pcr carry their expected
 *                diagnostics inline: `# expect: CODE LINE:COL MESSAGE`. Each
 *                diagnostic must be expected, each expectation met.
 *   literals, spans, recovery, the AST API, and hostile bytes.
 *
 * Data is found relative to PCR_ROOT (default "."). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dates.h"
#include "helpers.h"
#include "syntax.h"

/* ---- parsing helpers --------------------------------------------------- */

typedef struct Parsed {
    Diags *d;
    Arena arena;
    Node *tree;
    uint32_t file;
} Parsed;

static Parsed parse_bytes(const char *name, const char *src, size_t len)
{
    Parsed r;
    r.d = diags_new();
    arena_init(&r.arena);
    char *text = xmalloc(len + 1);
    memcpy(text, src, len);
    text[len] = '\0';
    r.file = diags_add_file(r.d, name, text, len);
    r.tree = parse_file(&r.arena, r.d, r.file);
    return r;
}

static Parsed parse_str(const char *src) { return parse_bytes("test.pcr", src, strlen(src)); }

static void parsed_free(Parsed *r)
{
    arena_free(&r->arena);
    pcr_diags_free(r->d);
}

static size_t nerrors(const Parsed *r) { return pcr_diags_errors(r->d); }

static const pcr_diag *diag(const Parsed *r, size_t i) { return pcr_diags_get(r->d, i); }

/* The diagnostics, one per line, as "CODE LINE:COL MESSAGE". */
static char *diag_lines(const Parsed *r)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    for (size_t i = 0; i < pcr_diags_count(r->d); i++) {
        const pcr_diag *g = diag(r, i);
        fprintf(f, "%s %u:%u %s\n", g->code, g->span.line, g->span.col, g->message);
    }
    fclose(f);
    return buf;
}

/* The golden rendering: the tree dump, then every diagnostic with its span
 * and related note. */
static char *render(const Parsed *r)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ast_dump(r->tree, f);
    for (size_t i = 0; i < pcr_diags_count(r->d); i++) {
        const pcr_diag *g = diag(r, i);
        fprintf(f, "error %s @%u:%u-%u:%u: %s\n", g->code, g->span.line, g->span.col,
                g->span.end_line, g->span.end_col, g->message);
        if (g->has_related)
            fprintf(f, "  note @%u:%u-%u:%u: %s\n", g->related.line, g->related.col,
                    g->related.end_line, g->related.end_col, g->related_message);
    }
    fclose(f);
    return buf;
}

static char *dump_str(const Node *tree)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ast_dump(tree, f);
    fclose(f);
    return buf;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* The sorted names in dir ending in suffix (NULL-terminated, malloc'ed). */
static char **list_dir(const char *dir, const char *suffix, size_t *count)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name), sl = strlen(suffix);
            if (len <= sl || strcmp(e->d_name + len - sl, suffix) != 0) continue;
            names = realloc(names, (n + 2) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
        closedir(d);
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: few files */
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    if (names) names[n] = NULL;
    *count = n;
    return names;
}

static void free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Line number (1-based) of the first difference between a and b. */
static int first_diff_line(const char *a, const char *b)
{
    int line = 1;
    for (; *a && *a == *b; a++, b++)
        if (*a == '\n') line++;
    return line;
}

/* Compares (or with PCR_UPDATE_GOLDEN, writes) one golden rendering. */
static void check_golden(const char *name, const char *src, size_t len, const char *ast_path)
{
    Parsed r = parse_bytes(name, src, len);
    char *got = render(&r);
    if (getenv("PCR_UPDATE_GOLDEN")) {
        FILE *f = fopen(ast_path, "w");
        cr_assert(f, "cannot write %s", ast_path);
        fputs(got, f);
        fclose(f);
    } else {
        char *want = th_read_file(ast_path, NULL);
        cr_expect(want != NULL, "%s: no golden file %s (PCR_UPDATE_GOLDEN=1 writes it)", name,
                  ast_path);
        if (want)
            cr_expect(strcmp(got, want) == 0, "%s: dump differs from %s at line %d", name,
                      ast_path, first_diff_line(got, want));
        free(want);
    }
    free(got);
    parsed_free(&r);
}

/* ---- golden trees ------------------------------------------------------- */

Test(golden, every_pcr_file)
{
    char *dir = path_join(th_root(), "tests/golden/parse");
    size_t n;
    char **names = list_dir(dir, ".pcr", &n);
    cr_assert(n >= 3, "expected golden sources in %s", dir);
    for (size_t i = 0; i < n; i++) {
        char *pcr = path_join(dir, names[i]);
        char *ast = strdup(pcr);
        strcpy(ast + strlen(ast) - 4, ".ast");
        size_t len = 0;
        char *src = th_read_file(pcr, &len);
        cr_assert(src, "cannot read %s", pcr);
        check_golden(names[i], src, len, ast);
        free(src);
        free(pcr);
        free(ast);
    }
    free_list(names, n);
    free(dir);
}

Test(golden, std_request_schema)
{
    char *pcr = path_join(th_root(), "policies/std/request.pcr");
    char *ast = path_join(th_root(), "tests/golden/parse/std_request.ast");
    size_t len = 0;
    char *src = th_read_file(pcr, &len);
    cr_assert(src, "cannot read %s", pcr);
    check_golden("request.pcr", src, len, ast);
    Parsed r = parse_bytes("request.pcr", src, len);
    cr_expect_eq(nerrors(&r), 0);
    parsed_free(&r);
    free(src);
    free(pcr);
    free(ast);
}

/* The first ```pcr block of docs/language.md: the doc's example policy. */
Test(golden, language_doc_example)
{
    char *md = path_join(th_root(), "docs/language.md");
    char *ast = path_join(th_root(), "tests/golden/parse/language_example.ast");
    char *doc = th_read_file(md, NULL);
    cr_assert(doc, "cannot read %s", md);
    char *start = strstr(doc, "```pcr\n");
    cr_assert(start, "no ```pcr block in %s", md);
    start += strlen("```pcr\n");
    char *end = strstr(start, "\n```");
    cr_assert(end, "unterminated ```pcr block in %s", md);
    check_golden("language.md", start, (size_t)(end - start) + 1, ast);
    Parsed r = parse_bytes("language.md", start, (size_t)(end - start) + 1);
    cr_expect_eq(nerrors(&r), 0, "the documented example must parse cleanly");
    parsed_free(&r);
    free(doc);
    free(md);
    free(ast);
}

/* ---- inline-expectation diagnostics ------------------------------------ */

typedef struct Expect {
    char code[8];
    unsigned line, col;
    char *message;
    bool met;
} Expect;

/* Reads every `# expect: CODE LINE:COL MESSAGE` comment of src. */
static Expect *read_expectations(const char *src, size_t *count)
{
    static const char tag[] = "# expect: ";
    Expect *v = NULL;
    size_t n = 0;
    for (const char *s = strstr(src, tag); s; s = strstr(s + 1, tag)) {
        Expect e = {0};
        int used = 0;
        if (sscanf(s + strlen(tag), "%7s %u:%u %n", e.code, &e.line, &e.col, &used) < 3) continue;
        const char *msg = s + strlen(tag) + used, *eol = strchr(msg, '\n');
        size_t len = eol ? (size_t)(eol - msg) : strlen(msg);
        e.message = strndup(msg, len);
        v = realloc(v, (n + 1) * sizeof *v);
        v[n++] = e;
    }
    *count = n;
    return v;
}

Test(diagnostics, inline_expectations)
{
    char *dir = path_join(th_root(), "tests/golden/parse/diag");
    size_t nfiles;
    char **names = list_dir(dir, ".pcr", &nfiles);
    cr_assert(nfiles >= 5, "expected diagnostic cases in %s", dir);
    for (size_t f = 0; f < nfiles; f++) {
        char *path = path_join(dir, names[f]);
        size_t len = 0;
        char *src = th_read_file(path, &len);
        cr_assert(src, "cannot read %s", path);
        size_t nexp;
        Expect *exp = read_expectations(src, &nexp);
        cr_expect(nexp > 0, "%s has no `# expect:` lines", names[f]);
        Parsed r = parse_bytes(names[f], src, len);
        for (size_t i = 0; i < pcr_diags_count(r.d); i++) {
            const pcr_diag *g = diag(&r, i);
            bool found = false;
            for (size_t k = 0; k < nexp && !found; k++) {
                Expect *e = &exp[k];
                if (e->met || strcmp(e->code, g->code) != 0 || e->line != g->span.line ||
                    e->col != g->span.col || strcmp(e->message, g->message) != 0)
                    continue;
                e->met = found = true;
            }
            cr_expect(found, "%s: unexpected diagnostic %s %u:%u %s", names[f], g->code,
                      g->span.line, g->span.col, g->message);
        }
        for (size_t k = 0; k < nexp; k++) {
            cr_expect(exp[k].met, "%s: expected %s %u:%u %s", names[f], exp[k].code, exp[k].line,
                      exp[k].col, exp[k].message);
            free(exp[k].message);
        }
        free(exp);
        parsed_free(&r);
        free(src);
        free(path);
    }
    free_list(names, nfiles);
    free(dir);
}

/* ---- literals and node shapes ------------------------------------------ */

/* The first clause of the first declaration. */
static const Node *first_clause(const Parsed *r)
{
    cr_assert(r->tree && r->tree->a, "no clause parsed");
    return r->tree->a;
}

/* The right-hand operand of `when x == LITERAL`. */
static const Node *compared(const Parsed *r)
{
    const Node *c = first_clause(r);
    cr_assert_eq(c->a->kind, N_BINARY);
    return c->a->b;
}

Test(literals, money_is_converted_to_cents)
{
    static const struct {
        const char *text;
        int64_t cents;
    } cases[] = {
        {"$1,000.00", 100000}, {"$250", 25000}, {"$0.5", 50}, {"$12,345,678.09", 1234567809},
        {"$1000", 100000},     {"$0", 0},       {"$007.10", 710},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[128];
        snprintf(src, sizeof src, "rule r \"t\" { when price == %s require prior_auth }",
                 cases[i].text);
        Parsed r = parse_str(src);
        cr_expect_eq(nerrors(&r), 0, "%s", cases[i].text);
        const Node *m = compared(&r);
        cr_expect_eq(m->kind, N_MONEY);
        cr_expect_eq(m->ival, cases[i].cents, "%s: %lld cents", cases[i].text, (long long)m->ival);
        cr_expect_str_eq(m->str, cases[i].text);
        parsed_free(&r);
    }
}

Test(literals, dates_and_datetimes_are_decoded)
{
    Parsed r = parse_str("rule r \"t\" { when d == 2024-02-29 or t == 2026-02-27T08:30 "
                         "or u == 2026-02-27T08:30:15 require prior_auth }");
    cr_assert_eq(nerrors(&r), 0);
    const Node *or2 = first_clause(&r)->a;     /* (d or t) or u */
    const Node *or1 = or2->a;
    cr_expect_eq(or1->a->b->kind, N_DATE);
    cr_expect_eq(or1->a->b->ival, date_from_ymd(2024, 2, 29));
    cr_expect_eq(or1->b->b->kind, N_DATETIME);
    cr_expect_eq(or1->b->b->ival, (int64_t)date_from_ymd(2026, 2, 27) * 86400 + 8 * 3600 + 30 * 60);
    cr_expect_eq(or2->b->b->ival,
                 (int64_t)date_from_ymd(2026, 2, 27) * 86400 + 8 * 3600 + 30 * 60 + 15);
    parsed_free(&r);
}

Test(literals, string_escapes_are_resolved)
{
    Parsed r = parse_str("rule r \"a\\\"b\\\\c\\nd\\te\\u00e9\\u20ac!\" { when x require prior_auth }");
    cr_assert_eq(nerrors(&r), 0);
    cr_expect_str_eq(r.tree->str, "a\"b\\c\nd\te\xc3\xa9\xe2\x82\xac!");
    parsed_free(&r);
}

Test(literals, utf8_in_strings_and_comments_is_kept)
{
    Parsed r = parse_str("# café ✓\nrule r \"Ärztliche Überweisung ✓\" { when x require prior_auth }");
    cr_assert_eq(nerrors(&r), 0);
    cr_expect_str_eq(r.tree->str, "Ärztliche Überweisung ✓");
    parsed_free(&r);
}

Test(literals, integers_and_decimals)
{
    Parsed r = parse_str("rule r \"t\" { when a == 123456789012345678 or b == 0007 or c == 12.50 "
                         "require prior_auth }");
    cr_assert_eq(nerrors(&r), 0);
    const Node *or2 = first_clause(&r)->a;
    cr_expect_eq(or2->a->a->b->ival, 123456789012345678LL);
    cr_expect_eq(or2->a->b->b->ival, 7);
    cr_expect_str_eq(or2->a->b->b->str, "0007");
    cr_expect_eq(or2->b->b->kind, N_DECIMAL);
    cr_expect_str_eq(or2->b->b->str, "12.50");
    parsed_free(&r);
}

Test(literals, code_literals_after_a_system_name)
{
    Parsed r = parse_str("codeset c { CPT 70551..70553 0213T HCPCS S2083 ICD10 C50.* Z68.35 D05* }");
    cr_assert_eq(nerrors(&r), 0);
    const Node *cpt = r.tree->a->a, *hcpcs = cpt->next, *icd = hcpcs->next;
    cr_expect_str_eq(cpt->name, "CPT");
    cr_expect_eq(ast_list_len(cpt->a), 2);
    cr_expect_eq(cpt->a->kind, N_CODE_RANGE);
    cr_expect_str_eq(cpt->a->a->str, "70551");
    cr_expect_str_eq(cpt->a->b->str, "70553");
    cr_expect_str_eq(cpt->a->next->str, "0213T");
    cr_expect_str_eq(hcpcs->a->str, "S2083");
    cr_expect_eq(icd->a->kind, N_CODE_PREFIX);
    cr_expect_str_eq(icd->a->str, "C50.*");
    cr_expect_eq(icd->a->next->kind, N_CODE);
    cr_expect_str_eq(icd->a->next->str, "Z68.35");
    cr_expect_eq(icd->a->next->next->kind, N_CODE_PREFIX);
    parsed_free(&r);
}

/* A comma after a code only separates, so a list pasted from a document
 * reads as written; right after a system name it is still an error. */
Test(literals, commas_between_codes)
{
    Parsed r = parse_str("codeset c { CPT 70551, 70552..70553, ICD10 C50.*, D05.1, }");
    cr_assert_eq(nerrors(&r), 0, "%s", diag_lines(&r));
    const Node *cpt = r.tree->a->a, *icd = cpt->next;
    cr_expect_eq(ast_list_len(cpt->a), 2);
    cr_expect_str_eq(cpt->a->str, "70551");
    cr_expect_eq(cpt->a->next->kind, N_CODE_RANGE);
    cr_expect_str_eq(icd->name, "ICD10");
    cr_expect_eq(ast_list_len(icd->a), 2);
    cr_expect_eq(icd->a->kind, N_CODE_PREFIX);
    parsed_free(&r);

    r = parse_str("codeset c { CPT , 70551 }");
    cr_expect_eq(nerrors(&r), 1, "%s", diag_lines(&r));
    parsed_free(&r);
}

/* Code literals only follow a system name inside `{ }`: elsewhere a system
 * name is a value, and the words after it stay words. */
Test(literals, system_names_outside_sets_are_values)
{
    Parsed r = parse_str("rule r \"t\" {\n  when code_system == CPT and x\n"
                         "  unless code_system in { CPT, HCPCS }\n  require prior_auth\n}");
    cr_assert_eq(nerrors(&r), 0, "%s", diag_lines(&r));
    const Node *when = first_clause(&r), *unless = when->next;
    cr_expect_eq(when->a->op, BIN_AND);
    cr_expect_str_eq(when->a->a->b->name, "CPT");
    cr_expect_eq(unless->a->b->kind, N_VALUE_LIST);
    cr_expect_eq(ast_list_len(unless->a->b->a), 2);
    parsed_free(&r);
}

Test(literals, deadline_units_and_anchors)
{
    Parsed r = parse_str("rule a \"t\" { when x deadline 1 hour before service }\n"
                         "rule b \"t\" { when x deadline 3 days after admission }\n"
                         "rule c \"t\" { when x deadline 2 business_day before service }");
    cr_assert_eq(nerrors(&r), 0);
    const Node *a = r.tree->a->next, *b = r.tree->next->a->next, *c = r.tree->next->next->a->next;
    cr_expect_eq(a->op, CL_DEADLINE);
    cr_expect_eq(a->a->op, U_HOURS);
    cr_expect_eq(a->a->ival, 1);
    cr_expect_eq(a->ival, DIR_BEFORE);
    cr_expect_str_eq(a->str, "service");
    cr_expect_eq(b->a->op, U_DAYS);
    cr_expect_eq(b->ival, DIR_AFTER);
    cr_expect_str_eq(b->str, "admission");
    cr_expect_eq(c->a->op, U_BUSINESS_DAYS);
    cr_expect_eq(c->a->ival, 2);
    parsed_free(&r);
}

Test(literals, keywords_as_names_where_a_name_is_expected)
{
    Parsed r = parse_str("schema s { code: enum { none, all, in, error } = all }\n"
                         "test \"t\" { given { code: none, kind: unknown } expect none }");
    cr_assert_eq(nerrors(&r), 0, "%s", diag_lines(&r));
    const Node *field = r.tree->a;
    cr_expect_str_eq(field->name, "code");
    cr_expect_eq(ast_list_len(field->a->a), 4);
    cr_expect_str_eq(field->a->a->next->next->name, "in");
    cr_expect_str_eq(field->b->name, "all");
    const Node *given = r.tree->next->a;
    cr_expect_str_eq(given->a->name, "code");
    cr_expect_str_eq(given->a->a->name, "none");
    cr_expect_str_eq(given->a->next->a->name, "unknown");
    parsed_free(&r);
}

Test(literals, byte_order_mark_only_at_the_start)
{
    Parsed r = parse_str("\xEF\xBB\xBFuse std.request");
    cr_expect_eq(nerrors(&r), 0);
    cr_expect_str_eq(r.tree->name, "std.request");
    parsed_free(&r);
    r = parse_str("use std.request \xEF\xBB\xBF");
    cr_expect_eq(nerrors(&r), 1);
    cr_expect_str_eq(diag(&r, 0)->code, "E003");
    cr_expect_str_eq(diag(&r, 0)->message, "invalid character U+FEFF (\\xEF\\xBB\\xBF)");
    parsed_free(&r);
}

/* ---- spans -------------------------------------------------------------- */

static void expect_span(const Node *n, uint32_t l, uint32_t c, uint32_t el, uint32_t ec)
{
    cr_expect(n->loc.line == l && n->loc.col == c && n->loc.end_line == el && n->loc.end_col == ec,
              "%s spans %u:%u-%u:%u, expected %u:%u-%u:%u", ast_kind_name(n->kind), n->loc.line,
              n->loc.col, n->loc.end_line, n->loc.end_col, l, c, el, ec);
}

Test(spans, every_node_spans_its_construct)
{
    Parsed r = parse_str("rule mri \"MRI\" {\n"
                         "  when code in mri and (not x)\n"
                         "  deadline 72 hours before service\n"
                         "}\n");
    cr_assert_eq(nerrors(&r), 0);
    const Node *rule = r.tree, *when = rule->a, *and = when->a, *dl = when->next;
    cr_expect_eq(r.tree->loc.file, r.file);
    expect_span(rule, 1, 1, 4, 1);
    expect_span(when, 2, 3, 2, 30);
    expect_span(and, 2, 8, 2, 30); /* to the closing parenthesis */
    expect_span(and->a, 2, 8, 2, 18);
    expect_span(and->a->a, 2, 8, 2, 11);
    expect_span(and->b, 2, 25, 2, 29); /* `not x`, without the parentheses */
    expect_span(dl, 3, 3, 3, 34);
    expect_span(dl->a, 3, 12, 3, 19); /* `72 hours` */
    parsed_free(&r);
}

Test(spans, strings_and_codes)
{
    Parsed r = parse_str("codeset c \"a \\u00e9 b\" {\n\tICD10 C50.*\n}");
    cr_assert_eq(nerrors(&r), 0);
    expect_span(r.tree->a, 1, 24, 3, 1);
    expect_span(r.tree->a->a, 2, 2, 2, 12);    /* the group: tab is one column */
    expect_span(r.tree->a->a->a, 2, 8, 2, 12); /* C50.* */
    parsed_free(&r);
}

/* ---- error recovery ----------------------------------------------------- */

Test(recovery, broken_clause_leaves_an_error_node)
{
    Parsed r = parse_str("rule r \"t\" {\n  when a b c\n  require prior_auth\n}");
    cr_expect_eq(nerrors(&r), 1);
    const Node *when = first_clause(&r);
    cr_expect_eq(when->op, CL_WHEN);
    cr_expect_eq(when->a->kind, N_ERROR);
    cr_expect_eq(when->next->op, CL_REQUIRE);
    cr_expect_eq(when->next->ival, OUT_PRIOR_AUTH);
    parsed_free(&r);
}

Test(recovery, one_error_per_broken_clause)
{
    Parsed r = parse_str("rule r \"t\" {\n  when a b c\n  require maybe not\n  reviewer 3 4 5\n}\n"
                         "rule s \"u\" { when ok require prior_auth }");
    cr_expect_eq(nerrors(&r), 3, "%s", diag_lines(&r));
    cr_expect_eq(diag(&r, 0)->span.line, 2);
    cr_expect_eq(diag(&r, 1)->span.line, 3);
    cr_expect_eq(diag(&r, 2)->span.line, 4);
    cr_expect_eq(ast_list_len(r.tree), 2, "both rules are kept");
    parsed_free(&r);
}

Test(recovery, unclosed_bracket_before_a_clause_is_closed)
{
    Parsed r = parse_str("test \"x\" {\n  given { a: 1, b: [2, 3\n  expect none\n}");
    cr_assert_eq(nerrors(&r), 1, "%s", diag_lines(&r));
    const pcr_diag *g = diag(&r, 0);
    cr_expect_str_eq(g->code, "E004");
    cr_expect_str_eq(g->message, "expected `]` to close `[` opened at 2:20");
    cr_expect_eq(g->span.line, 3);
    cr_expect_eq(g->span.col, 3);
    cr_expect(g->has_related);
    cr_expect_eq(g->related.line, 2);
    cr_expect_eq(g->related.col, 20);
    cr_expect_str_eq(g->related_message, "`[` opened here");
    /* Both brackets were closed for the parser: the test keeps its clauses. */
    const Node *given = first_clause(&r);
    cr_expect_eq(ast_list_len(given->a), 2);
    cr_expect_eq(given->next->op, CL_EXPECT);
    parsed_free(&r);
}

Test(recovery, declaration_keyword_closes_open_blocks)
{
    Parsed r = parse_str("rule a \"t\" {\n  when (x and y\n  require prior_auth\n"
                         "rule b \"u\" { when z require notification }");
    cr_expect_eq(nerrors(&r), 2, "%s", diag_lines(&r));
    cr_expect_str_eq(diag(&r, 0)->message, "expected `)` to close `(` opened at 2:8");
    cr_expect_str_eq(diag(&r, 1)->message, "expected `}` to close `{` opened at 1:12");
    cr_expect_eq(diag(&r, 1)->span.line, 4);
    cr_expect_eq(ast_list_len(r.tree), 2);
    cr_expect_str_eq(r.tree->next->name, "b");
    cr_expect_eq(ast_list_len(r.tree->next->a), 2);
    parsed_free(&r);
}

Test(recovery, mismatched_closer)
{
    Parsed r = parse_str("rule a \"t\" { when (x and y } rule b \"u\" { when z }");
    cr_expect_eq(nerrors(&r), 1, "%s", diag_lines(&r));
    cr_expect_str_eq(diag(&r, 0)->message, "expected `)` to close `(` opened at 1:19");
    cr_expect_eq(diag(&r, 0)->span.col, 28);
    cr_expect_eq(ast_list_len(r.tree), 2);
    cr_expect_eq(first_clause(&r)->a->op, BIN_AND, "the condition survives");
    parsed_free(&r);
}

Test(recovery, unclosed_at_end_of_file)
{
    static const struct {
        const char *src;
        const char *code;
        const char *message;
    } cases[] = {
        {"rule r \"t\" { when a", "E004", "expected `}` to close `{` opened at 1:12"},
        {"rule r \"t\" { when (a", "E004", "expected `)` to close `(` opened at 1:19"},
        {"test \"t\" { rules [a, b", "E004", "expected `]` to close `[` opened at 1:18"},
        {"test \"t\" { given {", "E004", "expected `}` to close `{` opened at 1:18"},
        {"rule r \"t", "E002", "unterminated string (strings end on the line they start)"},
        {"use", "E001", "unexpected end of file, expected identifier"},
        {"codeset c = a +", "E001", "unexpected end of file, expected identifier, `{` or `(`"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Parsed r = parse_str(cases[i].src);
        cr_expect_geq(nerrors(&r), 1, "%s", cases[i].src);
        if (nerrors(&r)) {
            cr_expect_str_eq(diag(&r, 0)->code, cases[i].code, "%s", cases[i].src);
            cr_expect_str_eq(diag(&r, 0)->message, cases[i].message, "%s", cases[i].src);
        }
        parsed_free(&r);
    }
}

Test(recovery, garbage_between_declarations_is_skipped)
{
    Parsed r = parse_str("use std.request\n} ] ) , 12 \"x\" foo\nrule r \"t\" { when a }\n");
    cr_expect_eq(nerrors(&r), 1, "%s", diag_lines(&r));
    cr_expect_eq(ast_list_len(r.tree), 2);
    cr_expect_eq(r.tree->next->kind, N_RULE);
    parsed_free(&r);
}

/* ---- the AST API -------------------------------------------------------- */

Test(ast, new_append_len)
{
    Arena a;
    arena_init(&a);
    Loc at = {0, 3, 4, 3, 9};
    Node *list = NULL, *x = ast_new(&a, N_NAME, at), *y = ast_new(&a, N_INT, at);
    cr_expect_eq(x->kind, N_NAME);
    cr_expect_eq(x->loc.col, 4);
    cr_expect(x->next == NULL && x->a == NULL && x->b == NULL && x->name == NULL && x->ival == 0);
    cr_expect_eq(ast_list_len(list), 0);
    ast_append(&list, x);
    ast_append(&list, y);
    cr_expect(list == x && x->next == y);
    cr_expect_eq(ast_list_len(list), 2);
    arena_free(&a);
}

Test(ast, kind_names_are_distinct)
{
    for (int i = N_USE; i <= N_ERROR; i++) {
        const char *name = ast_kind_name((NodeKind)i);
        cr_expect_str_neq(name, "?", "kind %d has no name", i);
        for (int k = N_USE; k < i; k++)
            cr_expect_str_neq(name, ast_kind_name((NodeKind)k), "kinds %d and %d", k, i);
    }
    cr_expect_str_eq(ast_kind_name(N_RULE), "rule");
    cr_expect_str_eq(ast_kind_name((NodeKind)(N_ERROR + 1)), "?");
}

Test(ast, dump_of_a_hand_built_tree)
{
    Arena a;
    arena_init(&a);
    Loc at = {0, 2, 5, 2, 9};
    Node *in = ast_new(&a, N_IN, at), *name = ast_new(&a, N_NAME, at), *set = ast_new(&a, N_NAME, at);
    name->name = "setting";
    set->name = "places";
    set->loc.col = 17;
    in->a = name;
    in->b = set;
    in->flags = FL_NEGATED;
    char *s = dump_str(in);
    cr_expect_str_eq(s, "(in not @2:5\n  (name setting @2:5)\n  (name places @2:17))\n");
    free(s);
    arena_free(&a);
}

/* ---- limits and hostile bytes ------------------------------------------ */

/* A buffer of `prefix`, `n` copies of `unit`, then `suffix`. */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix, size_t *len)
{
    size_t lp = strlen(prefix), lu = strlen(unit), ls = strlen(suffix);
    *len = lp + lu * n + ls;
    char *s = malloc(*len + 1), *o = s;
    memcpy(o, prefix, lp);
    o += lp;
    for (size_t i = 0; i < n; i++, o += lu) memcpy(o, unit, lu);
    memcpy(o, suffix, ls + 1);
    return s;
}

static size_t count_code(const Parsed *r, const char *code)
{
    size_t n = 0;
    for (size_t i = 0; i < pcr_diags_count(r->d); i++) n += strcmp(diag(r, i)->code, code) == 0;
    return n;
}

Test(limits, nesting_at_the_limit_is_fine)
{
    size_t len = 0;
    char *open = repeat("rule r \"t\" { when ", "(", 256, "a", &len);
    char *full = repeat(open, ")", 256, " require prior_auth }", &len);
    Parsed r = parse_str(full);
    cr_expect_eq(nerrors(&r), 0, "%s", diag_lines(&r));
    parsed_free(&r);
    free(open);
    free(full);

    char *nots = repeat("rule r \"t\" { when ", "not ", 256, "a require prior_auth }", &len);
    r = parse_str(nots);
    cr_expect_eq(nerrors(&r), 0);
    parsed_free(&r);
    free(nots);
}

Test(limits, deep_parentheses_are_rejected_early)
{
    size_t len = 0;
    char *src = repeat("rule r \"t\" { when ", "(", 100000, "a", &len);
    Parsed r = parse_bytes("deep.pcr", src, len);
    cr_expect_eq(nerrors(&r), 1, "%s", diag_lines(&r));
    cr_expect_str_eq(diag(&r, 0)->code, "E010");
    cr_expect_eq(diag(&r, 0)->span.col, 19 + 256, "at the 257th parenthesis");
    cr_expect_str_eq(diag(&r, 0)->message, "nested too deeply (more than 256 levels)");
    parsed_free(&r);
    free(src);
}

Test(limits, deep_not_chains_are_rejected_early)
{
    size_t len = 0;
    char *src = repeat("rule r \"t\" { when ", "not ", 100000, "a require prior_auth }", &len);
    Parsed r = parse_bytes("nots.pcr", src, len);
    cr_expect_eq(nerrors(&r), 1);
    cr_expect_str_eq(diag(&r, 0)->code, "E010");
    parsed_free(&r);
    free(src);
}

/* A long `and` chain is a deep left-leaning tree: the checker would recurse
 * over it, so it is rejected, once. */
Test(limits, long_operator_chains_are_rejected_once)
{
    size_t len = 0;
    char *src = repeat("rule r \"t\" { when a", " and a", 100000, " require prior_auth }", &len);
    Parsed r = parse_bytes("chain.pcr", src, len);
    cr_expect_eq(nerrors(&r), 1);
    cr_expect_str_eq(diag(&r, 0)->message, "condition nested too deeply (more than 256 levels)");
    cr_expect_eq(first_clause(&r)->next->op, CL_REQUIRE, "the rule goes on");
    parsed_free(&r);
    free(src);

    src = repeat("codeset c = a", " + b", 100000, "", &len);
    r = parse_bytes("sets.pcr", src, len);
    cr_expect_eq(nerrors(&r), 1);
    cr_expect_str_eq(diag(&r, 0)->message,
                     "set expression nested too deeply (more than 256 levels)");
    parsed_free(&r);
    free(src);

    src = repeat("rule r \"t\" { when a", " or a", 255, " require prior_auth }", &len);
    r = parse_bytes("ok.pcr", src, len);
    cr_expect_eq(nerrors(&r), 0, "256 levels are allowed");
    parsed_free(&r);
    free(src);
}

Test(limits, deep_braces_are_rejected)
{
    size_t len = 0;
    char *src = repeat("", "{", 100000, "", &len);
    Parsed r = parse_bytes("braces.pcr", src, len);
    cr_expect_eq(count_code(&r, "E010"), 1);
    cr_expect_leq(nerrors(&r), 2);
    parsed_free(&r);
    free(src);
}

Test(limits, identifier_and_string_lengths)
{
    size_t len = 0;
    char *id = repeat("rule ", "x", 255, " \"t\" { when a }", &len);
    Parsed r = parse_str(id);
    cr_expect_eq(nerrors(&r), 0);
    parsed_free(&r);
    free(id);
    id = repeat("rule ", "x", 256, " \"t\" { when a }", &len);
    r = parse_str(id);
    cr_expect_eq(nerrors(&r), 1);
    cr_expect_str_eq(diag(&r, 0)->code, "E011");
    cr_expect_str_eq(diag(&r, 0)->message, "identifier longer than 255 bytes (256)");
    cr_expect_eq(diag(&r, 0)->span.end_col, 5 + 256);
    parsed_free(&r);
    free(id);

    char *s = repeat("rule r \"", "\\u00e9", 2048, "\" { when a }", &len); /* 4096 bytes */
    r = parse_str(s);
    cr_expect_eq(nerrors(&r), 0);
    cr_expect_eq(strlen(r.tree->str), 4096);
    parsed_free(&r);
    free(s);
    s = repeat("rule r \"", "x", 4097, "\" { when a }", &len);
    r = parse_str(s);
    cr_expect_eq(nerrors(&r), 1);
    cr_expect_str_eq(diag(&r, 0)->code, "E012");
    parsed_free(&r);
    free(s);
}

Test(hostile, ten_megabyte_lines)
{
    static const char *const units[] = {"x", "9", " ", "(", "@", "\"", "{"};
    static const char *const prefixes[] = {"# ", "rule ", "rule r \"", "rule r \"t\" { when a == ",
                                           "", "", ""};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t len = 0;
        char *src = repeat(prefixes[i], units[i], 10u << 20, "\nrule z \"t\" { when a }\n", &len);
        Parsed r = parse_bytes("big.pcr", src, len);
        cr_expect_leq(nerrors(&r), 100, "unit %s", units[i]);
        parsed_free(&r);
        free(src);
    }
    size_t len = 0;
    char *src = repeat("# ", "x", 10u << 20, "\nrule z \"t\" { when a }\n", &len);
    Parsed r = parse_bytes("comment.pcr", src, len);
    cr_expect_eq(nerrors(&r), 0);
    cr_expect_eq(r.tree->kind, N_RULE);
    cr_expect_eq(r.tree->loc.line, 2);
    parsed_free(&r);
    free(src);
}

Test(hostile, nul_bytes)
{
    static const char src[] = "rule r \"t\" {\0 when a\0 require prior_auth }\0";
    Parsed r = parse_bytes("nul.pcr", src, sizeof src - 1);
    cr_expect_eq(nerrors(&r), 3);
    cr_expect_str_eq(diag(&r, 0)->message, "invalid character \\x00");
    cr_expect_eq(diag(&r, 0)->span.col, 13);
    cr_expect_eq(ast_list_len(first_clause(&r)), 2, "the rule parses around them");
    parsed_free(&r);

    static const char str[] = "rule r \"a\0b\" { when a }";
    r = parse_bytes("nulstr.pcr", str, sizeof str - 1);
    cr_expect_eq(nerrors(&r), 1);
    cr_expect_str_eq(diag(&r, 0)->message, "invalid character \\x00 in string");
    cr_expect_str_eq(r.tree->str, "ab");
    parsed_free(&r);
}

Test(hostile, invalid_utf8)
{
    static const struct {
        const char *src;
        const char *message;
        uint32_t col;
    } cases[] = {
        {"rule r \"caf\xC3\" { when a }", "invalid UTF-8 in string (byte \\xC3)", 12},
        {"rule r \"t\" { when a \xFF\xFE }", "invalid UTF-8 in the source (byte \\xFF)", 21},
        {"# \xC0\xAF overlong\nuse a", "invalid UTF-8 in comment (byte \\xC0)", 3},
        {"# \xED\xA0\x80 surrogate\nuse a", "invalid UTF-8 in comment (byte \\xED)", 3},
        {"# \xF4\x90\x80\x80 too big\nuse a", "invalid UTF-8 in comment (byte \\xF4)", 3},
        {"rule r \"\xE2\x82\" { when a }", "invalid UTF-8 in string (byte \\xE2)", 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Parsed r = parse_str(cases[i].src);
        cr_expect_eq(count_code(&r, "E009"), 1, "case %zu: %s", i, diag_lines(&r));
        if (nerrors(&r)) {
            cr_expect_str_eq(diag(&r, 0)->message, cases[i].message, "case %zu", i);
            cr_expect_eq(diag(&r, 0)->span.col, cases[i].col, "case %zu", i);
        }
        parsed_free(&r);
    }
}

Test(hostile, error_count_is_bounded)
{
    size_t len = 0;
    char *src = repeat("", "@ ", 1000000, "", &len);
    Parsed r = parse_bytes("many.pcr", src, len);
    cr_expect_eq(nerrors(&r), 100);
    parsed_free(&r);
    free(src);
}

/* xorshift64*: a deterministic stream for the fuzz-style tests. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* Checks what must hold for any input: spans inside the file, few enough
 * errors, a dump that does not crash. Returns the number of nodes. */
static size_t check_tree(const Node *n, uint32_t file, uint32_t lines, int depth)
{
    size_t count = 0;
    cr_assert_lt(depth, 600, "tree too deep");
    for (; n; n = n->next) {
        cr_assert_eq(n->loc.file, file);
        cr_assert(n->loc.line >= 1 && n->loc.line <= lines && n->loc.col >= 1,
                  "%s at %u:%u outside the file", ast_kind_name(n->kind), n->loc.line, n->loc.col);
        cr_assert(n->loc.end_line > n->loc.line ||
                      (n->loc.end_line == n->loc.line && n->loc.end_col + 1 >= n->loc.col),
                  "%s span ends before it starts", ast_kind_name(n->kind));
        count += 1 + check_tree(n->a, file, lines, depth + 1) + check_tree(n->b, file, lines, depth + 1);
    }
    return count;
}

static void check_any_input(const char *src, size_t len)
{
    Parsed r = parse_bytes("fuzz.pcr", src, len);
    uint32_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += src[i] == '\n';
    check_tree(r.tree, r.file, lines, 0);
    cr_assert_leq(nerrors(&r), 100);
    for (size_t i = 0; i < pcr_diags_count(r.d); i++) {
        const pcr_diag *g = diag(&r, i);
        cr_assert(g->span.line >= 1 && g->span.line <= lines && g->span.col >= 1,
                  "%s at %u:%u outside the file", g->code, g->span.line, g->span.col);
        cr_assert(g->code[0] == 'E' && strlen(g->code) == 4);
    }
    char *d = dump_str(r.tree);
    free(d);
    parsed_free(&r);
}

Test(hostile, random_token_soup)
{
    static const char *const vocab[] = {
        "use ", "policy ", "schema ", "codeset ", "calendar ", "rule ", "test ", "when ",
        "unless ", "require ", "exempt ", "all ", "reviewer ", "deadline ", "before ", "after ",
        "cite ", "section ", "effective ", "through ", "given ", "expect ", "rules ", "missing ",
        "timely ", "and ", "or ", "not ", "in ", "any ", "present ", "true ", "false ", "required ",
        "list ", "enum ", "code ", "system ", "none ", "unknown ", "prior_auth ", "error ",
        "CPT ", "ICD10 ", "70551", "..", "C50.*", "x ", "service ", "hours ", "{", "}", "(", ")",
        "[", "]", ",", ":", "=", ".", "+", "-", "==", "<=", "\"s\" ", "\"unterminated", "12 ",
        "1.5 ", "$1,000.00 ", "$1,00 ", "2026-01-01 ", "2026-02-30 ", "2026-01-01T08:00 ",
        "\n", "# c\n", "\\", "@", "\xff", "\xc3\xa9", "\0",
    };
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    char buf[4096];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0, ntok = next_rand(&seed) % 120;
        for (size_t t = 0; t < ntok; t++) {
            size_t k = next_rand(&seed) % (sizeof vocab / sizeof vocab[0]);
            size_t l = vocab[k][0] ? strlen(vocab[k]) : 1;
            if (len + l >= sizeof buf) break;
            memcpy(buf + len, vocab[k], l);
            len += l;
        }
        check_any_input(buf, len);
    }
}

/* Random byte edits of a valid policy: the recovery paths of real code. */
Test(hostile, mutated_policies)
{
    char *path = path_join(th_root(), "tests/golden/parse/grammar.pcr");
    size_t len = 0;
    char *orig = th_read_file(path, &len);
    cr_assert(orig, "cannot read %s", path);
    char *buf = malloc(len + 64);
    uint64_t seed = 42;
    static const char pool[] = "{}()[]\",:=.#\n\\@\xff abc 12";
    for (int iter = 0; iter < 1500; iter++) {
        memcpy(buf, orig, len);
        size_t n = len, edits = 1 + next_rand(&seed) % 4;
        for (size_t e = 0; e < edits; e++) {
            size_t at = next_rand(&seed) % n;
            switch (next_rand(&seed) % 3) {
            case 0: /* delete a byte */
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            case 1: /* replace a byte */
                buf[at] = pool[next_rand(&seed) % (sizeof pool - 1)];
                break;
            default: /* insert a byte */
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = pool[next_rand(&seed) % (sizeof pool - 1)];
                n++;
                break;
            }
        }
        check_any_input(buf, n);
    }
    free(buf);
    free(orig);
    free(path);
}

Test(hostile, every_prefix_of_a_policy)
{
    char *path = path_join(th_root(), "tests/golden/parse/grammar.pcr");
    size_t len = 0;
    char *src = th_read_file(path, &len);
    cr_assert(src, "cannot read %s", path);
    for (size_t n = 0; n <= len; n += 7) check_any_input(src, n);
    free(src);
    free(path);
}
