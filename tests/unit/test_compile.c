/* test_compile.c: compile_program (compile.h): modules, checking, emission.
 *
 * Real sources are compiled, and the resulting Prog is inspected table by
 * table, decoded instruction by instruction (through bc.h's opcode names),
 * and run through the decoder and the VM to check what the emitted code
 * means. Expected values come from docs/language.md and the standard
 * schema as tests/unit/helpers.h builds it by hand; index segments are
 * checked against a brute-force scan of the rules' sets.
 *
 * Golden diagnostics: every tests/golden/diag/NAME.pcr carries its
 * expected diagnostics inline, one per comment line
 *     # expect: CODE [FILE:]LINE:COL TEXT
 * (FILE, for a diagnostic in a used module, is a path suffix; TEXT must
 * occur in the message). A file without expectations must compile clean.
 * Data is found relative to env PCR_ROOT (default "."). */

/* helpers.h defines static helpers that not every test binary uses. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bc.h"
#include "buf.h"
#include "compile.h"
#include "dates.h"
#include "helpers.h"
#include "rec.h"
#include "sema.h"
#include "vm.h"

/* ---- compiling ------------------------------------------------------------ */

typedef struct Compiled {
    Arena arena;
    Diags *d;
    CompileOut out;
    bool ok;
} Compiled;

static char *root_path(const char *rel)
{
    Buf b = {0};
    buf_printf(&b, "%s/%s", th_root(), rel);
    buf_putc(&b, '\0');
    return b.p;
}

/* Compiles src as if it were the file at rel (relative to the repo root),
 * with <root>/policies as the include directory. */
static Compiled *compile_as(const char *rel, const char *src, size_t len)
{
    Compiled *c = calloc(1, sizeof *c);
    arena_init(&c->arena);
    c->d = diags_new();
    char *inc = root_path("policies");
    const char *dirs[] = {inc};
    CompileOpts opts = {.include_dirs = dirs, .n_include_dirs = 1};
    char *path = root_path(rel);
    char *text = xmalloc(len + 1);
    memcpy(text, src, len);
    text[len] = '\0';
    c->ok = compile_program(&c->arena, c->d, path, text, len, &opts, &c->out);
    free(path);
    free(inc);
    return c;
}

static Compiled *compile_src(const char *src)
{
    return compile_as("tests/golden/inline.pcr", src, strlen(src));
}

static void compiled_free(Compiled *c)
{
    prog_free(c->out.prog);
    pcr_diags_free(c->d);
    arena_free(&c->arena);
    free(c);
}

/* Every diagnostic as "file:line:col: CODE message" lines (static buffer
 * per call site is not allowed: the caller frees). */
static char *diag_lines(const Diags *d)
{
    Buf b = {0};
    for (size_t i = 0; i < d->n; i++) {
        const pcr_diag *g = &d->v[i];
        buf_printf(&b, "%s:%u:%u: %s %s\n", pcr_diags_file(d, g->span.file), g->span.line,
                   g->span.col, g->code, g->message);
    }
    buf_putc(&b, '\0');
    return b.p;
}

#define HEADER                                                                                    \
    "use std.request\n"                                                                           \
    "policy demo {\n"                                                                             \
    "  payer \"demo\"\n"                                                                          \
    "  title \"Demo\"\n"                                                                          \
    "  version \"1\"\n"                                                                           \
    "  effective 2026-01-01\n"                                                                    \
    "}\n"

static Compiled *compile_ok(const char *src)
{
    Compiled *c = compile_src(src);
    char *why = diag_lines(c->d);
    cr_assert(c->ok && c->out.prog, "compile failed:\n%s", why);
    free(why);
    return c;
}

/* The single diagnostic codes reported, space-separated, in order. */
static char *diag_codes(const Diags *d)
{
    Buf b = {0};
    for (size_t i = 0; i < d->n; i++) buf_printf(&b, "%s%s", i ? " " : "", d->v[i].code);
    buf_putc(&b, '\0');
    return b.p;
}

/* ---- looking into a Prog ---------------------------------------------------- */

static uint32_t rule_index(const Prog *p, const char *id)
{
    for (uint32_t i = 0; i < p->nrules; i++)
        if (strcmp(p->strs[p->rules[i].id], id) == 0) return i;
    cr_assert_fail("no rule %s", id);
    return 0;
}

static uint32_t set_index(const Prog *p, const char *name)
{
    for (uint32_t i = 0; i < p->nsets; i++)
        if (strcmp(p->strs[p->sets[i].name], name) == 0) return i;
    return PIDX_NONE;
}

/* Rule r's block as opcode names, e.g. "LOAD INMASK RET". */
static char *block_ops(const Prog *p, uint32_t r)
{
    Buf b = {0};
    const PRule *pr = &p->rules[r];
    for (uint32_t pc = 0; pc < pr->code_len;) {
        uint8_t op = p->code[pr->code_off + pc];
        const char *name = bc_opcode_name(op);
        cr_assert(name, "bad opcode %u", op);
        buf_printf(&b, "%s%s", pc ? " " : "", name);
        pc += 1 + (uint32_t)bc_operand_size(op);
    }
    buf_putc(&b, '\0');
    return b.p;
}

static bool has_const(const Prog *p, int64_t k)
{
    for (uint32_t i = 0; i < p->nconsts; i++)
        if (p->consts[i] == k) return true;
    return false;
}

static CodeKey key_of(CodeSystem sys, const char *code)
{
    char norm[CODE_MAX_CHARS + 1];
    size_t n;
    const char *why;
    cr_assert(code_normalize(sys, code, strlen(code), norm, &n, &why), "%s: %s", code, why);
    return code_key(sys, norm, n);
}

static bool set_has(const Prog *p, uint32_t set, CodeSystem sys, const char *code)
{
    const PSet *s = &p->sets[set];
    return code_ranges_contain(p->ranges + s->first, s->count, key_of(sys, code));
}

/* Evaluates rule `id` on a JSON record: 1 true, 0 false, -1 unknown. */
static int eval_rule(const Prog *p, const char *id, const char *json)
{
    RecDecoder *dec = rec_decoder_new(p);
    const Record *rec = rec_decode(dec, json, strlen(json), 1);
    cr_assert(rec, "record rejected: %s", rec_error(dec));
    Vm *vm = vm_new(p);
    uint64_t missing = 0;
    int r = vm_eval_rule(vm, rec, rule_index(p, id), &missing);
    vm_free(vm);
    rec_decoder_free(dec);
    return r;
}

#define REC(extra) "{\"id\":\"r\",\"payer\":\"demo\",\"service_date\":\"2026-03-02\"" extra "}"

/* ---- the schema and the header ---------------------------------------------- */

Test(compile, standard_schema_matches_hand_built)
{
    Compiled *c = compile_ok(HEADER);
    const Prog *p = c->out.prog;
    Prog *want = th_std_prog();
    cr_assert_eq(p->nfields, want->nfields);
    for (uint32_t i = 0; i < want->nfields; i++) {
        const PField *a = &p->fields[i], *b = &want->fields[i];
        const char *name = want->strs[b->name];
        cr_assert_str_eq(p->strs[a->name], name);
        cr_assert_eq(a->type, b->type, "%s type", name);
        cr_assert_eq(a->elem, b->elem, "%s elem", name);
        cr_assert_eq(a->flags, b->flags, "%s flags", name);
        cr_assert_eq(a->systems, b->systems, "%s systems", name);
        cr_assert_eq(a->tag_field, b->tag_field, "%s tag", name);
        cr_assert_eq(a->enum_count, b->enum_count, "%s members", name);
        for (uint32_t k = 0; k < b->enum_count; k++)
            cr_assert_str_eq(p->strs[p->refs[a->enum_first + k]],
                             want->strs[want->refs[b->enum_first + k]]);
        cr_assert_eq(a->deflt, b->deflt, "%s default", name);
    }
    cr_assert_eq(p->f_id, want->f_id);
    cr_assert_eq(p->f_payer, want->f_payer);
    cr_assert_eq(p->f_service_date, want->f_service_date);
    cr_assert_eq(p->f_requested_at, want->f_requested_at);
    cr_assert_eq(p->f_code, want->f_code);
    th_prog_free(want);
    compiled_free(c);
}

Test(compile, header_tables)
{
    Compiled *c = compile_ok(
        "use std.request\n"
        "calendar hol { 2026-12-25 \"Christmas\" 2026-01-01 \"New Year\" 2026-07-03 \"Fourth\"\n"
        "               2026-01-01 \"New Year again\" }\n"
        "policy acme {\n"
        "  payer \"acme\"\n  title \"Acme list\"\n  version \"2026.1\"\n"
        "  effective 2026-01-01 through 2026-12-31\n"
        "  source \"list.txt\" \"Acme PA list\"\n"
        "  contact \"800-555-0100\"\n  contact \"fax 800-555-0101\"\n"
        "  reviewer \"Acme UM\"\n  calendar hol\n}\n");
    const Prog *p = c->out.prog;
    cr_assert_str_eq(p->strs[p->id], "acme");
    cr_assert_str_eq(p->strs[p->payer], "acme");
    cr_assert_str_eq(p->strs[p->title], "Acme list");
    cr_assert_str_eq(p->strs[p->version], "2026.1");
    cr_assert_str_eq(p->strs[p->source_doc], "list.txt");
    cr_assert_str_eq(p->strs[p->source_title], "Acme PA list");
    cr_assert_str_eq(p->strs[p->reviewer], "Acme UM");
    cr_assert_eq(p->contact_count, 2);
    cr_assert_str_eq(p->strs[p->refs[p->contact_first]], "800-555-0100");
    cr_assert_str_eq(p->strs[p->refs[p->contact_first + 1]], "fax 800-555-0101");
    cr_assert_eq(p->eff_from, date_from_ymd(2026, 1, 1));
    cr_assert_eq(p->eff_through, date_from_ymd(2026, 12, 31));
    cr_assert_eq(p->nholidays, 3);
    cr_assert_eq(p->holidays[0], date_from_ymd(2026, 1, 1));
    cr_assert_eq(p->holidays[1], date_from_ymd(2026, 7, 3));
    cr_assert_eq(p->holidays[2], date_from_ymd(2026, 12, 25));
    cr_assert_eq(p->nrules, 0);
    cr_assert_eq(p->nsets, 0);
    compiled_free(c);
}

Test(compile, optional_header_parts_absent)
{
    Compiled *c = compile_ok(HEADER);
    const Prog *p = c->out.prog;
    cr_assert_eq(p->source_doc, PIDX_NONE);
    cr_assert_eq(p->source_title, PIDX_NONE);
    cr_assert_eq(p->reviewer, PIDX_NONE);
    cr_assert_eq(p->contact_count, 0);
    cr_assert_eq(p->eff_through, DATE_OPEN_THROUGH);
    cr_assert_eq(p->nholidays, 0);
    compiled_free(c);
}

Test(compile, strings_are_interned_once)
{
    Compiled *c = compile_ok(HEADER "rule a \"same\" { when emergent require prior_auth reviewer \"X\" }\n"
                                    "rule b \"same\" { when emergent require prior_auth reviewer \"X\" }\n");
    const Prog *p = c->out.prog;
    for (uint32_t i = 0; i < p->nstrs; i++)
        for (uint32_t j = i + 1; j < p->nstrs; j++)
            cr_assert(p->strlens[i] != p->strlens[j] || strcmp(p->strs[i], p->strs[j]) != 0,
                      "string \"%s\" stored twice", p->strs[i]);
    cr_assert_eq(p->rules[0].title, p->rules[1].title);
    compiled_free(c);
}

/* ---- code sets ----------------------------------------------------------------- */

Test(compile, code_set_shapes)
{
    Compiled *c = compile_ok(
        HEADER
        "codeset imaging { CPT 70551..70553 0213T..0218T HCPCS s2083 REV 172 }\n"
        "codeset breast { ICD10 C50.* Z85.3 }\n"
        "codeset unused { CPT 99999 }\n"
        "rule r1 \"\" { when code in imaging require prior_auth }\n"
        "rule r2 \"\" { when diagnoses any in breast require notification }\n");
    const Prog *p = c->out.prog;
    cr_assert_eq(p->nsets, 2, "only sets used in conditions are emitted");
    uint32_t im = set_index(p, "imaging"), br = set_index(p, "breast");
    cr_assert_neq(im, PIDX_NONE);
    cr_assert_neq(br, PIDX_NONE);
    cr_assert_eq(set_index(p, "unused"), PIDX_NONE);
    cr_assert(set_has(p, im, SYS_CPT, "70551"));
    cr_assert(set_has(p, im, SYS_CPT, "70552"));
    cr_assert(set_has(p, im, SYS_CPT, "70553"));
    cr_assert(!set_has(p, im, SYS_CPT, "70554"));
    cr_assert(!set_has(p, im, SYS_CPT, "70550"));
    cr_assert(set_has(p, im, SYS_CPT, "0215T"));
    cr_assert(!set_has(p, im, SYS_CPT, "0219T"));
    cr_assert(set_has(p, im, SYS_HCPCS, "S2083"), "letters are upper-cased");
    cr_assert(set_has(p, im, SYS_REV, "0172"), "3-digit revenue codes are padded");
    cr_assert(!code_ranges_contain(p->ranges + p->sets[im].first, p->sets[im].count,
                                   code_key(SYS_HCPCS, "70551", 5)),
              "codes keep their system");
    cr_assert(set_has(p, br, SYS_ICD10, "C50"));
    cr_assert(set_has(p, br, SYS_ICD10, "C50.911"));
    cr_assert(set_has(p, br, SYS_ICD10, "C5011"));
    cr_assert(!set_has(p, br, SYS_ICD10, "C51.1"));
    cr_assert(!set_has(p, br, SYS_ICD10, "C49.9"));
    cr_assert(set_has(p, br, SYS_ICD10, "Z853"));
    cr_assert(!set_has(p, br, SYS_ICD10, "Z85.4"));
    /* Canonical: sorted, disjoint, non-adjacent. */
    for (uint32_t s = 0; s < p->nsets; s++)
        for (uint32_t k = 1; k < p->sets[s].count; k++)
            cr_assert(p->ranges[p->sets[s].first + k - 1].hi + 1 <
                      p->ranges[p->sets[s].first + k].lo);
    compiled_free(c);
}

Test(compile, set_algebra_and_literals)
{
    Compiled *c = compile_ok(
        HEADER
        "codeset combined = mri + ct - { CPT 70450 }\n" /* used before defined */
        "codeset mri { CPT 70551..70553 }\n"
        "codeset ct { CPT 70450 70460 }\n"
        "rule r \"\" { when code in combined and code in { HCPCS J1234 } require prior_auth }\n");
    const Prog *p = c->out.prog;
    cr_assert_eq(p->nsets, 2);
    uint32_t all = set_index(p, "combined");
    cr_assert_neq(all, PIDX_NONE);
    cr_assert(set_has(p, all, SYS_CPT, "70551"));
    cr_assert(set_has(p, all, SYS_CPT, "70460"));
    cr_assert(!set_has(p, all, SYS_CPT, "70450"));
    uint32_t lit = all == 0 ? 1 : 0;
    cr_assert(set_has(p, lit, SYS_HCPCS, "J1234"));
    cr_assert_eq(p->sets[lit].count, 1);
    compiled_free(c);
}

Test(compile, same_named_set_emitted_once)
{
    Compiled *c = compile_ok(HEADER "codeset s { CPT 70551 }\n"
                                    "rule a \"\" { when code in s require prior_auth }\n"
                                    "rule b \"\" { when not (code in s) require notification }\n");
    cr_assert_eq(c->out.prog->nsets, 1);
    compiled_free(c);
}

/* ---- rules ------------------------------------------------------------------------ */

Test(compile, rule_metadata)
{
    Compiled *c = compile_ok(
        HEADER
        "rule mri \"MRI\" {\n"
        "  cite \"list.txt\" section \"Imaging\"\n"
        "  effective 2026-02-01 through 2026-06-30\n"
        "  when emergent\n"
        "  require prior_auth\n"
        "  reviewer \"eviCore\", \"Acme\"\n"
        "  deadline 72 hours before service\n"
        "}\n"
        "rule waiver \"Medicare primary\" {\n"
        "  when medicare_primary\n"
        "  exempt mri, late\n"
        "}\n"
        "rule late \"\" { when emergent require notification deadline 1 business_day after admission }\n"
        "rule trial \"\" { when clinical_trial exempt all }\n");
    const Prog *p = c->out.prog;
    cr_assert_eq(p->nrules, 4);
    const PRule *r = &p->rules[rule_index(p, "mri")];
    cr_assert_str_eq(p->strs[r->title], "MRI");
    cr_assert_eq(r->cite_count, 1);
    cr_assert_str_eq(p->strs[p->refs[r->cite_first]], "list.txt");
    cr_assert_str_eq(p->strs[p->refs[r->cite_first + 1]], "Imaging");
    cr_assert_eq(r->line, 8);
    cr_assert_eq(r->outcome, OUT_PRIOR_AUTH);
    cr_assert_eq(r->eff_from, date_from_ymd(2026, 2, 1));
    cr_assert_eq(r->eff_through, date_from_ymd(2026, 6, 30));
    cr_assert_eq(r->dl_unit, U_HOURS);
    cr_assert_eq(r->dl_dir, DIR_BEFORE);
    cr_assert_eq(r->dl_amount, 72);
    cr_assert_eq(r->rev_count, 2);
    cr_assert_str_eq(p->strs[p->refs[r->rev_first]], "eviCore");
    cr_assert_str_eq(p->strs[p->refs[r->rev_first + 1]], "Acme");
    cr_assert_eq(r->exempt_all, 0);

    const PRule *w = &p->rules[rule_index(p, "waiver")];
    cr_assert_eq(w->outcome, OUT_EXEMPT);
    cr_assert_eq(w->waive_count, 2);
    cr_assert_eq(p->refs[w->waive_first], rule_index(p, "mri"));
    cr_assert_eq(p->refs[w->waive_first + 1], rule_index(p, "late"));
    cr_assert_eq(w->cite_count, 0);
    cr_assert_eq(w->eff_from, DATE_OPEN_FROM);
    cr_assert_eq(w->eff_through, DATE_OPEN_THROUGH);
    cr_assert_eq(w->dl_unit, 0);
    cr_assert_eq(w->rev_count, 0);

    const PRule *l = &p->rules[rule_index(p, "late")];
    cr_assert_eq(l->outcome, OUT_NOTIFICATION);
    cr_assert_eq(l->dl_unit, U_BUSINESS_DAYS);
    cr_assert_eq(l->dl_dir, DIR_AFTER);
    cr_assert_eq(l->dl_amount, 1);

    const PRule *a = &p->rules[rule_index(p, "trial")];
    cr_assert_eq(a->outcome, OUT_EXEMPT);
    cr_assert_eq(a->exempt_all, 1);
    cr_assert_eq(a->waive_count, 0);
    compiled_free(c);
}

Test(compile, instruction_shapes)
{
    Compiled *c = compile_ok(
        HEADER
        "rule eq \"\" { when setting == outpatient require prior_auth }\n"
        "rule mask \"\" { when setting in {inpatient, office} require prior_auth }\n"
        "rule nmask \"\" { when setting not in {inpatient} require prior_auth }\n"
        "rule str \"\" { when state in {\"IL\", \"WI\"} require prior_auth }\n"
        "rule unl \"\" { when emergent unless medicare_primary unless clinical_trial require prior_auth }\n"
        "rule money \"\" { when price >= $1,000.00 and price < 2500.5 and price > 3 require prior_auth }\n"
        "rule day \"\" { when service_date >= 2026-02-01 and requested_at < 2026-02-01T08:30 require prior_auth }\n"
        "rule pres \"\" { when present(price) or not present(units) require prior_auth }\n"
        "rule anystr \"\" { when code in { CPT 70551 } require prior_auth }\n"
        "rule lt_rev \"\" { when 18 < member_age require prior_auth }\n");
    const Prog *p = c->out.prog;
    struct { const char *rule, *ops; } want[] = {
        {"eq", "LDEQK RET"},
        {"mask", "LDINMASK RET"},
        {"nmask", "LDINMASK NOT RET"},
        {"str", "LOAD STR SEQ JTRUE LOAD STR SEQ OR RET"},
        {"unl", "LOAD JFALSE LOAD NOT AND JFALSE LOAD NOT AND RET"},
        {"money", "LDGEK JFALSE LDLTK AND JFALSE LDGTK AND RET"},
        {"day", "LDGEK JFALSE LDLTK AND RET"},
        {"pres", "PRESENT JTRUE PRESENT NOT OR RET"},
        {"anystr", "LDINSET RET"},
        {"lt_rev", "CONST LOAD LT RET"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char *ops = block_ops(p, rule_index(p, want[i].rule));
        cr_expect_str_eq(ops, want[i].ops, "rule %s", want[i].rule);
        free(ops);
    }
    /* Constants: the enum member index, the mask, cents, days, seconds. */
    cr_assert(has_const(p, 1), "outpatient is member 1 of setting");
    cr_assert(has_const(p, (1 << 0) | (1 << 3)), "mask of inpatient and office");
    cr_assert(has_const(p, 100000));
    cr_assert(has_const(p, 250050));
    cr_assert(has_const(p, 300));
    cr_assert(has_const(p, date_from_ymd(2026, 2, 1)));
    cr_assert(has_const(p, (int64_t)date_from_ymd(2026, 2, 1) * 86400 + 8 * 3600 + 30 * 60));
    for (uint32_t i = 0; i < p->nconsts; i++)
        for (uint32_t j = i + 1; j < p->nconsts; j++)
            cr_assert_neq(p->consts[i], p->consts[j], "constant stored twice");
    compiled_free(c);
}

Test(compile, condition_semantics)
{
    Compiled *c = compile_ok(
        HEADER
        "codeset mri { CPT 70551..70553 }\n"
        "codeset dated effective 2026-03-01 through 2026-03-31 { CPT 70551 }\n"
        "rule a \"\" { when code in mri and setting in {outpatient, office} require prior_auth }\n"
        "rule o \"\" { when emergent or price > $100 require prior_auth }\n"
        "rule n \"\" { when code not in mri require prior_auth }\n"
        "rule u \"\" { when code in mri unless price > $500 require prior_auth }\n"
        "rule e \"\" { when network == \"in\" and admitted_from_er == false require prior_auth }\n"
        "rule b \"\" { when medicare_primary == clinical_trial require prior_auth }\n"
        "rule d \"\" { when code in dated require prior_auth }\n"
        "rule l \"\" { when diagnoses any in { ICD10 C50.* } require prior_auth }\n"
        "rule s \"\" { when plan != \"x\" and state in {\"IL\"} require prior_auth }\n"
        "rule t \"\" { when requested_at < 2026-03-02 require prior_auth }\n");
    const Prog *p = c->out.prog;
    struct { const char *rule, *rec; int want; } cases[] = {
        {"a", REC(",\"code\":\"70552\",\"setting\":\"office\""), 1},
        {"a", REC(",\"code\":\"70554\",\"setting\":\"office\""), 0},
        {"a", REC(",\"code\":\"70552\""), -1},           /* setting absent */
        {"a", REC(",\"setting\":\"inpatient\""), 0},     /* unknown and false */
        {"o", REC(""), -1},                              /* false or unknown */
        {"o", REC(",\"emergent\":true"), 1},
        {"o", REC(",\"price\":150.00"), 1},
        {"o", REC(",\"price\":100.00"), 0},
        {"n", REC(",\"code\":\"70551\""), 0},
        {"n", REC(",\"code\":\"99213\""), 1},
        {"n", REC(""), -1},
        {"u", REC(",\"code\":\"70551\",\"price\":600"), 0},
        {"u", REC(",\"code\":\"70551\",\"price\":400"), 1},
        {"u", REC(",\"code\":\"70551\""), -1},           /* the exception is unknown */
        {"u", REC(",\"code\":\"99213\""), 0},            /* when false: unless irrelevant */
        {"e", REC(",\"network\":\"in\""), 1},            /* the default applies */
        {"e", REC(",\"network\":\"in\",\"admitted_from_er\":true"), 0},
        {"b", REC(""), 1},                               /* false == false */
        {"b", REC(",\"clinical_trial\":true"), 0},
        {"b", REC(",\"clinical_trial\":true,\"medicare_primary\":true"), 1},
        {"d", REC(",\"code\":\"70551\""), 1},
        {"d", "{\"id\":\"r\",\"payer\":\"demo\",\"service_date\":\"2026-04-01\",\"code\":\"70551\"}", 0},
        {"d", "{\"id\":\"r\",\"payer\":\"demo\",\"service_date\":\"2026-02-28\",\"code\":\"70551\"}", 0},
        {"l", REC(",\"diagnoses\":[\"Z85.3\",\"C50.911\"]"), 1},
        {"l", REC(",\"diagnoses\":[\"Z85.3\"]"), 0},
        {"l", REC(",\"diagnoses\":[]"), 0},
        {"s", REC(",\"plan\":\"y\",\"state\":\"IL\""), 1},
        {"s", REC(",\"plan\":\"x\",\"state\":\"IL\""), 0},
        {"s", REC(",\"plan\":\"y\",\"state\":\"WI\""), 0},
        {"t", REC(",\"requested_at\":\"2026-03-01T23:59\""), 1},
        {"t", REC(",\"requested_at\":\"2026-03-02T00:00\""), 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_eq(eval_rule(p, cases[i].rule, cases[i].rec), cases[i].want,
                     "rule %s on %s", cases[i].rule, cases[i].rec);
    compiled_free(c);
}

Test(compile, custom_schema_semantics)
{
    Compiled *c = compile_ok(
        "schema req {\n"
        "  id: string required\n  payer: string required\n  service_date: date required\n"
        "  tags: list string\n"
        "  kind: enum { a, b, c } = b\n  other: enum { a, b, c }\n"
        "  proc: code(POS)\n"
        "  fee: money = 12.5\n"
        "  seen: datetime\n"
        "}\n"
        "policy p { payer \"demo\" title \"T\" version \"1\" effective 2026-01-01 }\n"
        "rule tag \"\" { when tags any in {\"x\", \"y\"} require prior_auth }\n"
        "rule same \"\" { when kind == other require prior_auth }\n"
        "rule lit \"\" { when 1 < 2 and \"a\" != \"b\" and $1 == 1.00 require prior_auth }\n"
        "rule r_fee \"\" { when fee == 12.50 and kind == b require prior_auth }\n"
        "rule r_pos \"\" { when proc in { POS 22 } require prior_auth }\n");
    const Prog *p = c->out.prog;
    /* no field named code: the index is keyed on the code field proc,
     * which r_pos tests */
    cr_assert_eq(p->f_code, th_field_index(p, "proc"));
    cr_assert_neq(p->rules[4].index_set, PIDX_NONE);
    cr_assert_eq(p->rules[0].index_set, PIDX_NONE);
    cr_assert_eq(p->f_requested_at, PIDX_NONE);
    const PField *kind = &p->fields[th_field_index(p, "kind")];
    cr_assert_eq(kind->flags, PF_DEFAULT);
    cr_assert_eq(kind->deflt, 1);
    cr_assert_eq(p->fields[th_field_index(p, "fee")].deflt, 1250);
    cr_assert_eq(p->fields[th_field_index(p, "tags")].elem, VT_STRING);
    cr_assert_eq(p->fields[th_field_index(p, "tags")].systems, 0);
    cr_assert_eq(p->fields[th_field_index(p, "proc")].systems, SYS_BIT(SYS_POS));
    char *ops = block_ops(p, rule_index(p, "tag"));
    cr_expect_str_eq(ops, "LOAD ANYSTR JTRUE LOAD ANYSTR OR RET");
    free(ops);
#define R(extra) "{\"id\":\"r\",\"payer\":\"demo\",\"service_date\":\"2026-03-02\"" extra "}"
    cr_expect_eq(eval_rule(p, "tag", R(",\"tags\":[\"q\",\"y\"]")), 1);
    cr_expect_eq(eval_rule(p, "tag", R(",\"tags\":[\"q\"]")), 0);
    cr_expect_eq(eval_rule(p, "tag", R("")), -1);
    cr_expect_eq(eval_rule(p, "same", R(",\"other\":\"b\"")), 1, "kind defaults to b");
    cr_expect_eq(eval_rule(p, "same", R(",\"other\":\"c\"")), 0);
    cr_expect_eq(eval_rule(p, "lit", R("")), 1);
    cr_expect_eq(eval_rule(p, "r_fee", R("")), 1);
    cr_expect_eq(eval_rule(p, "r_fee", R(",\"fee\":12.51")), 0);
    cr_expect_eq(eval_rule(p, "r_pos", R(",\"proc\":\"22\"")), 1);
    cr_expect_eq(eval_rule(p, "r_pos", R(",\"proc\":\"21\"")), 0);
#undef R
    compiled_free(c);
}

Test(compile, no_prog_after_errors_but_warnings_allowed)
{
    Compiled *c = compile_src(HEADER "codeset e = { CPT 70551 } - { CPT 70551 }\n");
    cr_assert(c->ok);
    cr_assert_not_null(c->out.prog);
    cr_assert_eq(c->d->n, 1);
    cr_assert_str_eq(c->d->v[0].code, "W501");
    cr_assert_eq(c->d->v[0].severity, PCR_SEV_WARNING);
    compiled_free(c);

    c = compile_src(HEADER "rule r \"\" { when nope require prior_auth }\n"
                           "rule q \"\" { when price == 2026-01-01 require prior_auth }\n");
    cr_assert(!c->ok);
    cr_assert_null(c->out.prog);
    char *codes = diag_codes(c->d);
    cr_assert_str_eq(codes, "E111 E203", "checking continues after an error");
    free(codes);
    compiled_free(c);
}

/* ---- the rule index -------------------------------------------------------------- */

/* The rules the index offers for key k (segments, then always). */
static void index_rules(const Prog *p, CodeKey k, uint32_t *out, uint32_t *n)
{
    *n = 0;
    for (uint32_t s = 0; s < p->nsegs; s++)
        if (p->segs[s].lo <= k && k <= p->segs[s].hi)
            for (uint32_t i = 0; i < p->segs[s].count; i++)
                out[(*n)++] = p->seg_rules[p->segs[s].first + i];
}

/* Checks the segments' shape and, for each key in keys, that they offer
 * exactly the indexed rules whose set holds it. */
static void check_index(const Prog *p, const CodeKey *keys, size_t nkeys)
{
    for (uint32_t s = 0; s < p->nsegs; s++) {
        const PSeg *g = &p->segs[s];
        cr_assert_leq(g->lo, g->hi);
        cr_assert_gt(g->count, 0);
        cr_assert_leq(g->first + g->count, p->nseg_rules);
        if (s > 0) cr_assert_lt(p->segs[s - 1].hi, g->lo, "segments sorted and disjoint");
        for (uint32_t i = 1; i < g->count; i++)
            cr_assert_lt(p->seg_rules[g->first + i - 1], p->seg_rules[g->first + i]);
        if (s > 0 && p->segs[s - 1].hi + 1 == g->lo) {
            const PSeg *f = &p->segs[s - 1];
            cr_assert(f->count != g->count ||
                          memcmp(p->seg_rules + f->first, p->seg_rules + g->first,
                                 g->count * sizeof *p->seg_rules) != 0,
                      "adjacent segments %u and %u with equal lists are not merged", s - 1, s);
        }
    }
    uint32_t *got = malloc((p->nrules + 1) * sizeof *got);
    for (size_t i = 0; i < nkeys; i++) {
        uint32_t n;
        index_rules(p, keys[i], got, &n);
        uint32_t k = 0;
        for (uint32_t r = 0; r < p->nrules; r++) {
            const PRule *pr = &p->rules[r];
            if (pr->index_set == PIDX_NONE) continue;
            const PSet *set = &p->sets[pr->index_set];
            if (!code_ranges_contain(p->ranges + set->first, set->count, keys[i])) continue;
            cr_assert_lt(k, n, "key %zu: rule %u missing from the index", i, r);
            cr_assert_eq(got[k], r, "key %zu: index offers rule %u, want %u", i, got[k], r);
            k++;
        }
        cr_assert_eq(k, n, "key %zu: index offers %u rules, %u hold it", i, n, k);
    }
    free(got);
    uint32_t unindexed = 0;
    for (uint32_t r = 0; r < p->nrules; r++)
        if (p->rules[r].index_set == PIDX_NONE) {
            cr_assert_lt(unindexed, p->nalways);
            cr_assert_eq(p->always[unindexed++], r);
        }
    cr_assert_eq(unindexed, p->nalways);
}

Test(compile, which_rules_are_indexed)
{
    Compiled *c = compile_ok(
        HEADER
        "codeset s1 { CPT 70551..70553 }\n"
        "codeset s2 { CPT 70552..70560 HCPCS J1000..J2000 }\n"
        "rule first \"\" { when code in s1 require prior_auth }\n"
        "rule later \"\" { when emergent and (price > $1 and code in s2) require prior_auth }\n"
        "rule neg \"\" { when not (code in s1) require prior_auth }\n"
        "rule notin \"\" { when code not in s1 require prior_auth }\n"
        "rule either \"\" { when code in s1 or emergent require prior_auth }\n"
        "rule plain \"\" { when emergent require prior_auth }\n"
        "rule lit \"\" { when setting == office and code in { CPT 70552 } require prior_auth }\n"
        "rule dx \"\" { when diagnoses any in { ICD10 C50.* } require prior_auth }\n");
    const Prog *p = c->out.prog;
    cr_assert_eq(p->rules[rule_index(p, "first")].index_set, set_index(p, "s1"));
    cr_assert_eq(p->rules[rule_index(p, "later")].index_set, set_index(p, "s2"));
    cr_assert_eq(p->rules[rule_index(p, "neg")].index_set, PIDX_NONE);
    cr_assert_eq(p->rules[rule_index(p, "notin")].index_set, PIDX_NONE);
    cr_assert_eq(p->rules[rule_index(p, "either")].index_set, PIDX_NONE);
    cr_assert_eq(p->rules[rule_index(p, "plain")].index_set, PIDX_NONE);
    cr_assert_neq(p->rules[rule_index(p, "lit")].index_set, PIDX_NONE);
    cr_assert_eq(p->rules[rule_index(p, "dx")].index_set, PIDX_NONE);
    CodeKey keys[] = {key_of(SYS_CPT, "70550"), key_of(SYS_CPT, "70551"), key_of(SYS_CPT, "70552"),
                      key_of(SYS_CPT, "70553"), key_of(SYS_CPT, "70554"), key_of(SYS_CPT, "70560"),
                      key_of(SYS_CPT, "70561"), key_of(SYS_HCPCS, "J1500"),
                      key_of(SYS_HCPCS, "J2001")};
    check_index(p, keys, sizeof keys / sizeof *keys);
    /* s1 and s2 overlap in 70552..70553; lit adds 70552 alone. */
    uint32_t got[16], n;
    index_rules(p, key_of(SYS_CPT, "70552"), got, &n);
    cr_assert_eq(n, 3);
    compiled_free(c);
}

/* Builds a policy with nrules rules over CPT codes 00000..99999: rule i
 * holds every code c with c % nrules == i (so nrules * (100000 / nrules)
 * single-code intervals), plus a few rules over wide overlapping ranges. */
static char *big_policy(int nrules)
{
    Buf b = {0};
    buf_puts(&b, HEADER);
    for (int i = 0; i < nrules; i++) {
        buf_printf(&b, "rule r%d \"\" { when code in { CPT", i);
        for (int c = i; c < 100000; c += nrules) buf_printf(&b, " %05d", c);
        buf_puts(&b, " } require prior_auth }\n");
    }
    buf_puts(&b, "rule wide1 \"\" { when code in { CPT 10000..59999 } require notification }\n"
                 "rule wide2 \"\" { when code in { CPT 40000..89999 } require notification }\n"
                 "rule wide3 \"\" { when code in { CPT 40000..89999 } and emergent require "
                 "not_covered }\n");
    buf_putc(&b, '\0');
    return b.p;
}

Test(compile, large_index, .timeout = 60)
{
    char *src = big_policy(10000);
    Compiled *c = compile_as("tests/golden/big.pcr", src, strlen(src));
    char *why = diag_lines(c->d);
    cr_assert(c->ok, "%s", why);
    free(why);
    const Prog *p = c->out.prog;
    cr_assert_eq(p->nrules, 10003);
    cr_assert_eq(p->nalways, 0);
    CodeKey keys[64];
    const char *sample[] = {"00000", "00001", "09999", "10000", "39999", "40000", "59999",
                            "60000", "89999", "90000", "99999", "12345", "54321", "77777"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof sample / sizeof *sample; i++) keys[n++] = key_of(SYS_CPT, sample[i]);
    check_index(p, keys, n);
    /* Every code is in exactly one r-rule's set: 100,000 distinct segments
     * at most (merging joins none of them: their lists differ). */
    cr_assert_geq(p->nsegs, 100000);
    compiled_free(c);
    free(src);
}

Test(compile, equal_lists_share_seg_rules)
{
    Compiled *c = compile_ok(HEADER "rule r \"\" { when code in { CPT 10000 20000 30000 } require prior_auth }\n");
    const Prog *p = c->out.prog;
    cr_assert_eq(p->nsegs, 3);
    cr_assert_eq(p->nseg_rules, 1, "one list of one rule, shared by three segments");
    CodeKey keys[] = {key_of(SYS_CPT, "10000"), key_of(SYS_CPT, "15000"), key_of(SYS_CPT, "30000")};
    check_index(p, keys, 3);
    compiled_free(c);
}

/* ---- determinism ------------------------------------------------------------------ */

Test(compile, deterministic_bytes)
{
    char *path = root_path("policies/cigna.pcr");
    size_t len = 0;
    char *src = th_read_file(path, &len);
    free(path);
    if (!src) {
        src = big_policy(50);
        len = strlen(src);
    }
    Compiled *a = compile_as("policies/cigna.pcr", src, len);
    Compiled *b = compile_as("policies/cigna.pcr", src, len);
    char *why = diag_lines(a->d);
    cr_assert(a->ok && b->ok, "%s", why);
    free(why);
    size_t na, nb;
    uint8_t *ba = bc_write(a->out.prog, &na);
    uint8_t *bb = bc_write(b->out.prog, &nb);
    cr_assert_eq(na, nb);
    cr_assert(memcmp(ba, bb, na) == 0, "same source, different bytes");
    char err[256];
    Prog *loaded = bc_load(ba, na, err, sizeof err);
    cr_assert_not_null(loaded, "%s", err);
    prog_free(loaded);
    free(ba);
    free(bb);
    free(src);
    compiled_free(a);
    compiled_free(b);
}

/* ---- tests --------------------------------------------------------------------------- */

Test(compile, test_blocks)
{
    Compiled *c = compile_ok(
        HEADER
        "rule mri \"\" { when code in { CPT 70551 } require prior_auth }\n"
        "test \"brain MRI\" {\n"
        "  given { code: \"70551\", setting: outpatient, network: \"in\", price: $1,200.5,\n"
        "          service_date: 2026-03-02, requested_at: 2026-02-20T08:15,\n"
        "          diagnoses: [\"C50.911\", \"Z85.3\"], emergent: true, units: 3,\n"
        "          state: \"I\\\"L\" }\n"
        "  expect prior_auth\n"
        "  reviewer \"eviCore\"\n"
        "  rules [mri]\n"
        "  deadline 2026-02-27T00:00\n"
        "  missing [price, units]\n"
        "  timely true\n"
        "}\n"
        "test \"minimal\" {\n"
        "  given { id: \"x1\", service_date: 2026-03-02, requested_at: 2026-03-01 }\n"
        "  expect none\n"
        "  deadline none\n"
        "  timely unknown\n"
        "}\n");
    cr_assert_eq(c->out.ntests, 2);
    const TestCase *t = &c->out.tests[0];
    cr_assert_str_eq(t->name, "brain MRI");
    cr_assert_eq(t->line, 9);
    cr_assert_eq(t->expect, PCR_DEC_PRIOR_AUTH);
    cr_assert(t->check_reviewers);
    cr_assert_eq(t->nreviewers, 1);
    cr_assert_str_eq(t->reviewers[0], "eviCore");
    cr_assert(t->check_rules);
    cr_assert_eq(t->nrules, 1);
    cr_assert_str_eq(t->rules[0], "mri");
    cr_assert(t->check_deadline);
    cr_assert(!t->deadline_none);
    cr_assert(!t->deadline_is_date);
    cr_assert_eq(t->deadline, (int64_t)date_from_ymd(2026, 2, 27) * 86400);
    cr_assert(t->check_missing);
    cr_assert_eq(t->nmissing, 2);
    cr_assert(t->check_timely);
    cr_assert_eq(t->timely, 1);

    json_error_t jerr;
    json_t *j = json_loads(t->record_json, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", t->record_json, jerr.text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "brain MRI");
    cr_assert_str_eq(json_string_value(json_object_get(j, "payer")), "demo");
    cr_assert_str_eq(json_string_value(json_object_get(j, "code")), "70551");
    cr_assert_str_eq(json_string_value(json_object_get(j, "setting")), "outpatient");
    cr_assert_str_eq(json_string_value(json_object_get(j, "network")), "in");
    cr_assert(strstr(t->record_json, "\"price\":1200.50"), "money as a number with 2 places: %s",
              t->record_json);
    cr_assert_str_eq(json_string_value(json_object_get(j, "service_date")), "2026-03-02");
    cr_assert_str_eq(json_string_value(json_object_get(j, "requested_at")), "2026-02-20T08:15:00");
    cr_assert_eq(json_array_size(json_object_get(j, "diagnoses")), 2);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "diagnoses"), 1)), "Z85.3");
    cr_assert(json_is_true(json_object_get(j, "emergent")));
    cr_assert_eq(json_integer_value(json_object_get(j, "units")), 3);
    cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "I\"L");
    json_decref(j);

    /* The record decodes as pcrvm input would. */
    RecDecoder *dec = rec_decoder_new(c->out.prog);
    for (size_t i = 0; i < c->out.ntests; i++) {
        const char *js = c->out.tests[i].record_json;
        cr_assert_not_null(rec_decode(dec, js, strlen(js), 1), "%s: %s", js, rec_error(dec));
    }
    rec_decoder_free(dec);

    t = &c->out.tests[1];
    j = json_loads(t->record_json, 0, &jerr);
    cr_assert_not_null(j, "%s", t->record_json);
    cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "x1");
    /* a bare date in a datetime field stays a bare date: the record knows only the day */
    cr_assert_str_eq(json_string_value(json_object_get(j, "requested_at")), "2026-03-01");
    cr_assert_eq(json_object_size(j), 4);
    json_decref(j);
    cr_assert(t->check_deadline && t->deadline_none);
    cr_assert(t->check_timely);
    cr_assert_eq(t->timely, -1);
    cr_assert(!t->check_rules && !t->check_reviewers && !t->check_missing);
    compiled_free(c);
}

/* ---- modules and sources ------------------------------------------------------------- */

Test(compile, modules_load_once_depth_first)
{
    char *path = root_path("tests/golden/diag/ok_modules.pcr");
    size_t len = 0;
    char *src = th_read_file(path, &len);
    cr_assert_not_null(src, "cannot read %s", path);
    Compiled *c = compile_as("tests/golden/diag/ok_modules.pcr", src, len);
    char *why = diag_lines(c->d);
    cr_assert(c->ok, "%s", why);
    free(why);
    /* root, std/request, then the diamond a -> c, b (c loaded once). */
    const char *order[] = {"ok_modules.pcr", "std/request.pcr", "mods/a.pcr", "mods/c.pcr",
                           "mods/b.pcr"};
    cr_assert_eq(c->d->nfiles, 5);
    uint64_t h = 14695981039346656037ull;
    for (uint32_t i = 0; i < 5; i++) {
        const char *f = pcr_diags_file(c->d, i);
        size_t fl = strlen(f), ol = strlen(order[i]);
        cr_assert(fl >= ol && strcmp(f + fl - ol, order[i]) == 0, "file %u is %s, want %s", i, f,
                  order[i]);
        for (size_t k = 0; k < c->d->files[i].len; k++) {
            h ^= (unsigned char)c->d->files[i].text[k];
            h *= 1099511628211ull;
        }
    }
    cr_assert_eq(c->out.prog->source_hash, h, "FNV-1a 64 over the sources in load order");
    cr_assert_neq(set_index(c->out.prog, "from_c"), PIDX_NONE);
    compiled_free(c);
    free(src);
    free(path);
}

Test(compile, source_over_8_mib)
{
    size_t len = (8u << 20) + 1;
    char *src = malloc(len);
    memset(src, ' ', len);
    Compiled *c = compile_as("tests/golden/huge.pcr", src, len);
    cr_assert(!c->ok);
    cr_assert_eq(c->d->n, 1);
    cr_assert_str_eq(c->d->v[0].code, "E103");
    compiled_free(c);
    free(src);
}

/* A policy of nrules rules and one code set of nset separate codes. */
static Compiled *compile_sized(uint32_t nrules, uint32_t nset)
{
    Buf b = {0};
    buf_puts(&b, "use std.request\npolicy g { payer \"g\" title \"G\" version \"1\" "
                 "effective 2026-01-01 }\ncodeset big = { CPT");
    /* Every other code, so that no two are adjacent: 50,000 five-digit CPT
     * codes, then HCPCS codes (a letter and four digits). */
    static const char letters[] = "ABCEGHJKLMPQRSTV";
    for (uint32_t i = 0; i < nset && i < 50000; i++) buf_printf(&b, " %05u", 2 * i);
    if (nset > 50000) buf_puts(&b, " HCPCS");
    for (uint32_t j = 0; j + 50000 < nset; j++)
        buf_printf(&b, " %c%04u", letters[j / 5000], 2 * (j % 5000));
    buf_puts(&b, " }\n");
    for (uint32_t i = 0; i < nrules; i++)
        buf_printf(&b, "rule r%u \"\" { when code in big require prior_auth }\n", i);
    Compiled *c = compile_as("tests/golden/sized.pcr", b.p, b.n);
    buf_free(&b);
    return c;
}

static size_t count_code(const Compiled *c, const char *code)
{
    size_t n = 0;
    for (size_t i = 0; i < c->d->n; i++) n += strcmp(c->d->v[i].code, code) == 0;
    return n;
}

Test(compile, rule_limit_is_exact)
{
    Compiled *c = compile_sized(PCR_MAX_RULES, 1);
    cr_assert(c->ok, "%s", c->d->n ? c->d->v[0].message : "");
    cr_assert_eq(c->out.prog->nrules, PCR_MAX_RULES);
    compiled_free(c);
    c = compile_sized(PCR_MAX_RULES + 2, 1);
    cr_assert(!c->ok);
    cr_assert_eq(count_code(c, "E126"), 1, "reported once, however many rules are over");
    cr_assert_eq(c->d->nerrors, 1);
    cr_assert_str_eq(c->d->v[0].message, "too many rules: a policy has at most 65536");
    cr_assert_eq(c->d->v[0].span.line, 4 + PCR_MAX_RULES, "at the first rule over the limit");
    compiled_free(c);
}

Test(compile, code_set_limit_is_exact)
{
    Compiled *c = compile_sized(1, PCR_MAX_SET_RANGES);
    cr_assert(c->ok, "%s", c->d->n ? c->d->v[0].message : "");
    uint32_t big = set_index(c->out.prog, "big");
    cr_assert_neq(big, PIDX_NONE);
    cr_assert_eq(c->out.prog->sets[big].count, PCR_MAX_SET_RANGES);
    compiled_free(c);
    c = compile_sized(1, PCR_MAX_SET_RANGES + 1);
    cr_assert(!c->ok);
    cr_assert_eq(c->d->nerrors, 1, "the rule that uses the set adds nothing");
    cr_assert_str_eq(c->d->v[0].code, "E307");
    cr_assert_str_eq(c->d->v[0].message,
                     "code set `big` is too large: 100001 separate codes and ranges after "
                     "merging; a code set holds at most 100000");
    compiled_free(c);
    /* Adjacent codes merge: 200,000 consecutive codes are one range. */
    Buf b = {0};
    buf_puts(&b, "use std.request\npolicy g { payer \"g\" title \"G\" version \"1\" "
                 "effective 2026-01-01 }\ncodeset s = { CPT");
    for (uint32_t i = 0; i < 100000; i++) buf_printf(&b, " %05u", i);
    for (uint32_t i = 0; i < 10000; i++) buf_printf(&b, " %04uT", i);
    buf_puts(&b, " }\nrule r \"\" { when code in s or code in { CPT 0001F } require prior_auth }\n");
    c = compile_as("tests/golden/sized.pcr", b.p, b.n);
    buf_free(&b);
    cr_assert(c->ok, "%s", c->d->n ? c->d->v[0].message : "");
    compiled_free(c);
}

/* A range keeps the letter its ends share (0163T..0165T is three codes),
 * so a wide one can expand past the set limit: E307 at the range. */
Test(compile, a_range_that_expands_past_the_set_limit)
{
    Compiled *c = compile_src("use std.request\npolicy g { payer \"g\" title \"G\" version \"1\" "
                              "effective 2026-01-01 }\n"
                              "codeset s = { ICD10 A00000A..Z99999A }\n"
                              "rule r \"\" { when code in s require prior_auth }\n");
    cr_assert(!c->ok);
    cr_assert_eq(c->d->nerrors, 1);
    cr_assert_str_eq(c->d->v[0].code, "E307");
    cr_assert_eq(c->d->v[0].span.line, 3);
    cr_assert_eq(c->d->v[0].span.col, 21);
    cr_assert(strstr(c->d->v[0].message, "range A00000A..Z99999A is too large"), "%s",
              c->d->v[0].message);
    compiled_free(c);
}

/* Building code sets has a budget of work for the whole policy, so a source
 * that repeats large unions cannot keep the compiler busy: E307 once. */
Test(compile, set_building_has_a_work_budget)
{
    Buf b = {0};
    buf_puts(&b, "use std.request\npolicy g { payer \"g\" title \"G\" version \"1\" "
                 "effective 2026-01-01 }\ncodeset a = { CPT");
    for (uint32_t i = 0; i < 50000; i++) buf_printf(&b, " %05u", 2 * i);
    buf_puts(&b, " }\n");
    for (int k = 0; k < 10; k++) { /* each set handles 100 x 50,000 x 2 */
        buf_printf(&b, "codeset b%d = a", k);
        for (int u = 0; u < 100; u++) buf_puts(&b, " + a");
        buf_printf(&b, "\nrule r%d \"\" { when code in b%d require prior_auth }\n", k, k);
    }
    Compiled *c = compile_as("tests/golden/sized.pcr", b.p, b.n);
    buf_free(&b);
    cr_assert(!c->ok);
    cr_assert_eq(c->d->nerrors, 1, "reported once");
    cr_assert_str_eq(c->d->v[0].code, "E307");
    cr_assert(strstr(c->d->v[0].message, "code sets too costly to build"), "%s",
                     c->d->v[0].message);
    cr_assert_eq(c->d->v[0].span.line, 4, "within the first set: 100 unions pass 5,000,000");
    compiled_free(c);
}

/* Rule k applies to CPT codes from 2k up: n rules whose index lists grow
 * by one rule per segment, n^2/2 entries in all. */
static Compiled *compile_triangle(uint32_t n)
{
    Buf b = {0};
    buf_puts(&b, "use std.request\npolicy g { payer \"g\" title \"G\" version \"1\" "
                 "effective 2026-01-01 }\n");
    for (uint32_t k = 0; k < n; k++)
        buf_printf(&b, "rule r%u \"\" { when code in { CPT %05u..99999 } require prior_auth }\n",
                   k, 2 * k);
    Compiled *c = compile_as("tests/golden/sized.pcr", b.p, b.n);
    buf_free(&b);
    cr_assert(c->ok, "%s", c->d->n ? c->d->v[0].message : "");
    return c;
}

static uint32_t fired(const Prog *p, const char *code)
{
    char json[160];
    snprintf(json, sizeof json, REC(",\"code\":\"%s\""), code);
    RecDecoder *dec = rec_decoder_new(p);
    const Record *rec = rec_decode(dec, json, strlen(json), 1);
    cr_assert(rec, "record rejected: %s", rec_error(dec));
    Vm *vm = vm_new(p);
    Decision d;
    vm_decide(vm, rec, &d);
    uint32_t n = d.nrules;
    vm_free(vm);
    rec_decoder_free(dec);
    return n;
}

/* An index that would need more than 4,194,304 rule numbers is not built:
 * every rule is tried on every record, and the decisions are the same. */
Test(compile, oversized_rule_index_falls_back_to_trying_every_rule)
{
    Compiled *small = compile_triangle(100);
    cr_assert_gt(small->out.prog->nsegs, 0);
    cr_assert_eq(small->out.prog->nalways, 0);
    cr_assert_eq(fired(small->out.prog, "00150"), 76);
    compiled_free(small);

    Compiled *c = compile_triangle(3000); /* 4.5 million entries */
    const Prog *p = c->out.prog;
    cr_assert_eq(p->nsegs, 0);
    cr_assert_eq(p->nseg_rules, 0);
    cr_assert_eq(p->nalways, 3000);
    for (uint32_t r = 0; r < p->nrules; r++) cr_assert_eq(p->rules[r].index_set, PIDX_NONE);
    cr_assert_eq(fired(p, "00150"), 76);
    cr_assert_eq(fired(p, "03001"), 1501);
    cr_assert_eq(fired(p, "99999"), 3000);
    compiled_free(c);
}

/* Past DIAG_MAX_KEPT diagnostics are counted, not kept, and the printer
 * says how many it leaves out. */
Test(compile, diagnostics_past_the_first_200_are_counted_not_kept)
{
    Buf b = {0};
    buf_puts(&b, "use std.request\npolicy g { payer \"g\" title \"G\" version \"1\" "
                 "effective 2026-01-01 }\n");
    for (int k = 0; k < 300; k++)
        buf_printf(&b, "rule r%d \"\" { when code in nope%d require prior_auth }\n", k, k);
    Compiled *c = compile_as("tests/golden/sized.pcr", b.p, b.n);
    buf_free(&b);
    cr_assert(!c->ok);
    cr_assert_eq(pcr_diags_count(c->d), DIAG_MAX_KEPT);
    cr_assert_eq(pcr_diags_errors(c->d), 300, "every error counts");
    cr_assert_eq(pcr_diags_dropped(c->d), 100);
    cr_assert_str_eq(c->d->v[DIAG_MAX_KEPT - 1].message, "unknown code set `nope199`");
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    pcr_diags_print(c->d, f, false);
    fclose(f);
    cr_assert(strstr(out, "\n100 more diagnostics not shown (the first 200 are kept)\n"), "%s",
              out + (outlen > 300 ? outlen - 300 : 0));
    free(out);
    compiled_free(c);
}

/* "Did you mean" compares with every declared name; after 2,000,000
 * comparisons in all it stops offering hints. */
Test(compile, did_you_mean_has_a_budget)
{
    Buf b = {0};
    buf_puts(&b, "use std.request\npolicy g { payer \"g\" title \"G\" version \"1\" "
                 "effective 2026-01-01 }\n");
    for (int k = 0; k < 20000; k++) buf_printf(&b, "codeset s%d = { CPT %05d }\n", k, k);
    for (int k = 0; k < 150; k++)
        buf_printf(&b, "rule r%d \"\" { when code in t%d require prior_auth }\n", k, k);
    Compiled *c = compile_as("tests/golden/sized.pcr", b.p, b.n);
    buf_free(&b);
    cr_assert_eq(pcr_diags_count(c->d), 150);
    cr_assert_str_eq(c->d->v[0].message, "unknown code set `t0`; did you mean `s0`?");
    cr_assert_str_eq(c->d->v[100].message, "unknown code set `t100`; did you mean `s100`?");
    cr_assert_str_eq(c->d->v[101].message, "unknown code set `t101`");
    cr_assert_str_eq(c->d->v[149].message, "unknown code set `t149`");
    compiled_free(c);
}

Test(compile, root_decls_returned)
{
    Compiled *c = compile_ok(HEADER);
    cr_assert_not_null(c->out.root_decls);
    cr_assert_eq(c->out.root_decls->kind, N_USE);
    compiled_free(c);
}

/* ---- golden diagnostics -------------------------------------------------------------- */

typedef struct Expect {
    char code[8];
    char file[256]; /* path suffix, or "" for the golden file itself */
    unsigned line, col;
    char text[256];
    bool seen;
} Expect;

/* Reads the `# expect:` lines of src. */
static size_t parse_expects(const char *src, Expect *v, size_t cap)
{
    size_t n = 0;
    for (const char *p = strstr(src, "# expect: "); p && n < cap; p = strstr(p + 1, "# expect: ")) {
        const char *q = p + strlen("# expect: ");
        const char *eol = strchr(q, '\n');
        if (!eol) eol = q + strlen(q);
        char line[512];
        size_t ln = (size_t)(eol - q) < sizeof line - 1 ? (size_t)(eol - q) : sizeof line - 1;
        memcpy(line, q, ln);
        line[ln] = '\0';
        Expect *e = &v[n];
        memset(e, 0, sizeof *e);
        char where[256];
        int used = 0;
        cr_assert(sscanf(line, "%7s %255s %n", e->code, where, &used) == 2, "bad expect: %s", line);
        snprintf(e->text, sizeof e->text, "%s", line + used);
        char *colon2 = strrchr(where, ':');
        cr_assert_not_null(colon2, "bad position in: %s", line);
        *colon2 = '\0';
        char *colon1 = strrchr(where, ':');
        e->col = (unsigned)atoi(colon2 + 1);
        if (colon1) {
            *colon1 = '\0';
            e->line = (unsigned)atoi(colon1 + 1);
            snprintf(e->file, sizeof e->file, "%s", where);
        } else {
            e->line = (unsigned)atoi(where);
        }
        n++;
    }
    return n;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Compiles one golden file; returns the number of mismatches, described in
 * report. */
static int check_golden(const char *name, Buf *report, bool *codes_seen_e)
{
    (void)codes_seen_e;
    Buf rel = {0};
    buf_printf(&rel, "tests/golden/diag/%s", name);
    buf_putc(&rel, '\0');
    char *path = root_path(rel.p);
    size_t len = 0;
    char *src = th_read_file(path, &len);
    cr_assert_not_null(src, "cannot read %s", path);
    Expect exp[64];
    size_t nexp = parse_expects(src, exp, 64);
    Compiled *c = compile_as(rel.p, src, len);
    int bad = 0;
    for (size_t i = 0; i < c->d->n; i++) {
        const pcr_diag *g = &c->d->v[i];
        const char *file = pcr_diags_file(c->d, g->span.file);
        bool matched = false;
        for (size_t k = 0; k < nexp && !matched; k++) {
            Expect *e = &exp[k];
            if (e->seen || strcmp(e->code, g->code) != 0 || e->line != g->span.line ||
                e->col != g->span.col)
                continue;
            if (e->file[0] ? !ends_with(file, e->file) : g->span.file != 0) continue;
            if (!strstr(g->message, e->text)) continue;
            e->seen = matched = true;
        }
        if (!matched) {
            buf_printf(report, "%s: unexpected %s at %s:%u:%u: %s\n", name, g->code, file,
                       g->span.line, g->span.col, g->message);
            bad++;
        }
    }
    for (size_t k = 0; k < nexp; k++)
        if (!exp[k].seen) {
            buf_printf(report, "%s: missing %s at %s%s%u:%u containing \"%s\"\n", name,
                       exp[k].code, exp[k].file, exp[k].file[0] ? ":" : "", exp[k].line,
                       exp[k].col, exp[k].text);
            bad++;
        }
    /* A file with no errors expected must yield a program; one with errors none. */
    bool want_errors = false;
    for (size_t k = 0; k < nexp; k++) want_errors |= exp[k].code[0] == 'E';
    if (want_errors == (c->out.prog != NULL)) {
        buf_printf(report, "%s: %s a program\n", name, c->out.prog ? "produced" : "did not produce");
        bad++;
    }
    compiled_free(c);
    free(src);
    free(path);
    buf_free(&rel);
    return bad;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

Test(compile, golden_diagnostics, .timeout = 60)
{
    char *dir = root_path("tests/golden/diag");
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    char *names[512];
    size_t n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) && n < 512)
        if (ends_with(ent->d_name, ".pcr")) names[n++] = strdup(ent->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    cr_assert_gt(n, 0);
    Buf report = {0};
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += check_golden(names[i], &report, NULL);
        free(names[i]);
    }
    buf_putc(&report, '\0');
    cr_expect_eq(bad, 0, "%zu golden files, %d mismatches:\n%s", n, bad, report.p);
    buf_free(&report);
    free(dir);
}

/* ---- the checker on hand-built trees ------------------------------------------ */

/* The grammar only lexes the five known system names, so an unknown one
 * cannot come from source text; the checker still rejects it in a tree. */
static Node *nd(Arena *a, NodeKind k, const char *name, uint32_t line)
{
    Node *n = arena_alloc(a, sizeof *n);
    n->kind = k;
    n->name = name;
    n->loc = (Loc){0, line, 1, line, 1};
    return n;
}

static Node *field_node(Arena *a, const char *name, const char *type, unsigned flags, uint32_t line)
{
    Node *f = nd(a, N_FIELD, name, line);
    f->a = nd(a, N_TYPE, type, line);
    f->flags = flags;
    return f;
}

Test(compile, unknown_system_names)
{
    Arena a;
    arena_init(&a);
    Diags *d = diags_new();
    diags_add_file(d, "hand.pcr", xstrndup("", 0), 0);
    Node *schema = nd(&a, N_SCHEMA, "request", 1);
    Node *f1 = field_node(&a, "id", "string", FL_REQUIRED, 2);
    Node *f2 = field_node(&a, "payer", "string", FL_REQUIRED, 3);
    Node *f3 = field_node(&a, "service_date", "date", FL_REQUIRED, 4);
    Node *f4 = field_node(&a, "code", "code", 0, 5);
    f4->a->a = nd(&a, N_NAME, "HCPC", 5);
    schema->a = f1, f1->next = f2, f2->next = f3, f3->next = f4;
    Node *cs = nd(&a, N_CODESET, "s", 6);
    cs->a = nd(&a, N_SET_LIT, NULL, 6);
    cs->a->a = nd(&a, N_CODE_GROUP, "XYZ", 7);
    cs->a->a->a = nd(&a, N_CODE, NULL, 7);
    cs->a->a->a->str = "123";
    schema->next = cs;
    SemFile file = {.file = 0, .decls = schema, .root = true};
    Sema s;
    sema_init(&s, &a, d);
    cr_assert(!sema_run(&s, &file, 1));
    size_t n304 = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->v[i].code, "E304") != 0) continue;
        n304++;
        if (d->v[i].span.line == 5)
            cr_assert(strstr(d->v[i].message, "`HCPC`; did you mean `HCPCS`?"), "%s", d->v[i].message);
        else
            cr_assert(strstr(d->v[i].message, "unknown code system `XYZ`"), "%s", d->v[i].message);
    }
    cr_assert_eq(n304, 2);
    sema_free(&s);
    pcr_diags_free(d);
    arena_free(&a);
}

/* Every code the checker and emitter report has a golden case, except
 * those no committed source file can provoke: E103 (a source over 8 MiB),
 * E126 (over 65,536 rules) and E307 (a code set over 100,000 ranges), each
 * tested above from memory and in test_malformed.c from a generated file;
 * E304 (the lexer only knows the five system names; tested above on a
 * tree) and E999 (an emitter bug). */
Test(compile, every_code_has_a_golden_case)
{
    static const char *const sources[] = {"src/compile.c", "src/sema.c", "src/sema_sets.c",
                                          "src/sema_cond.c", "src/sema_test.c", "src/emit.c"};
    static const char *const exempt[] = {"E103", "E126", "E304", "E307", "E999"};
    Buf golden = {0};
    char *dir = root_path("tests/golden/diag");
    DIR *dd = opendir(dir);
    cr_assert_not_null(dd);
    struct dirent *ent;
    while ((ent = readdir(dd))) {
        if (!ends_with(ent->d_name, ".pcr")) continue;
        Buf path = {0};
        buf_printf(&path, "%s/%s", dir, ent->d_name);
        buf_putc(&path, '\0');
        char *text = th_read_file(path.p, NULL);
        if (text) buf_puts(&golden, text);
        free(text);
        buf_free(&path);
    }
    closedir(dd);
    buf_putc(&golden, '\0');
    size_t ncodes = 0;
    for (size_t i = 0; i < sizeof sources / sizeof *sources; i++) {
        char *path = root_path(sources[i]);
        char *text = th_read_file(path, NULL);
        cr_assert_not_null(text, "cannot read %s", path);
        for (const char *p = text; (p = strchr(p, '"')); p++) {
            if (!((p[1] == 'E' || p[1] == 'W') && p[2] >= '0' && p[2] <= '9' && p[3] >= '0' &&
                  p[3] <= '9' && p[4] >= '0' && p[4] <= '9' && p[5] == '"'))
                continue;
            char code[5] = {p[1], p[2], p[3], p[4], 0}, want[32];
            bool skip = false;
            for (size_t k = 0; k < sizeof exempt / sizeof *exempt; k++)
                skip |= strcmp(code, exempt[k]) == 0;
            ncodes++;
            snprintf(want, sizeof want, "# expect: %s ", code);
            cr_expect(skip || strstr(golden.p, want), "%s (%s) has no golden case", code,
                      sources[i]);
        }
        free(text);
        free(path);
    }
    cr_assert_gt(ncodes, 30);
    buf_free(&golden);
    free(dir);
}
