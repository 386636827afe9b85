/* test_bc.c: the .pcrb writer, loader, verifier and disassembler.
 *
 * Progs are built by hand (helpers.h) with a tiny assembler; every rejection
 * is checked with its exact message, both from bc_verify() on the Prog and
 * from bc_load() on the written bytes. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>

#include "bc.h"
#include "bc_format.h"
#include "dates.h"
/* helpers.h defines static helpers this file does not all use. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "helpers.h"
#pragma GCC diagnostic pop
#include "opcodes.h"

/* ast.h cannot be included beside opcodes.h (both define OP_AND, OP_EQ...),
 * so the stored values of ast.h's Outcome, DurationUnit and DIR_* are
 * spelled here; they are part of the file format and never change. */
enum { T_NOTIFICATION = 1, T_PRIOR_AUTH = 2, T_NOT_COVERED = 3, T_EXEMPT = 4 };
enum { T_HOURS = 1, T_DAYS = 2, T_BUSINESS_DAYS = 3, T_BEFORE = 1, T_AFTER = 2 };

enum { ERRLEN = 256, HDR = 40 };

/* ---- building Progs -------------------------------------------------------- */

typedef struct Asm {
    uint8_t b[1024];
    uint32_t n;
} Asm;

static void ins(Asm *a, int op, uint32_t operand)
{
    int size = bc_operand_size(op);
    cr_assert(size >= 0, "bad opcode %d", op);
    a->b[a->n++] = (uint8_t)op;
    for (int i = 0; i < size; i++) a->b[a->n++] = (uint8_t)(operand >> (8 * i));
}

/* Emits a jump with a placeholder offset; returns the end of the instruction. */
static uint32_t jump(Asm *a, int op)
{
    ins(a, op, 0);
    return a->n;
}

/* Points the jump ending at j to the current position. */
static void land(Asm *a, uint32_t j)
{
    uint32_t off = a->n - j;
    a->b[j - 2] = (uint8_t)off;
    a->b[j - 1] = (uint8_t)(off >> 8);
}

static uint32_t add_const(Prog *p, int64_t v)
{
    p->consts = realloc(p->consts, (p->nconsts + 1) * sizeof *p->consts);
    p->consts[p->nconsts] = v;
    return p->nconsts++;
}

static uint32_t add_set(Prog *p, const char *name, const CodeRange *r, uint32_t n)
{
    p->sets = realloc(p->sets, (p->nsets + 1) * sizeof *p->sets);
    p->sets[p->nsets] = (PSet){th_str(p, name), p->nranges, n};
    p->ranges = realloc(p->ranges, (p->nranges + n) * sizeof *p->ranges);
    memcpy(p->ranges + p->nranges, r, n * sizeof *r);
    p->nranges += n;
    return p->nsets++;
}

/* Adds a rule whose block is a's code, appended to p->code. */
static uint32_t add_rule(Prog *p, const char *id, const char *title, uint8_t outcome,
                         const Asm *a, uint32_t index_set)
{
    p->rules = realloc(p->rules, (p->nrules + 1) * sizeof *p->rules);
    PRule *r = &p->rules[p->nrules];
    memset(r, 0, sizeof *r);
    r->id = th_str(p, id);
    r->title = th_str(p, title);
    r->line = 10 + p->nrules;
    r->outcome = outcome;
    r->eff_from = DATE_OPEN_FROM;
    r->eff_through = DATE_OPEN_THROUGH;
    r->code_off = p->ncode;
    r->code_len = a->n;
    r->index_set = index_set;
    p->code = realloc(p->code, p->ncode + a->n);
    memcpy(p->code + p->ncode, a->b, a->n);
    p->ncode += a->n;
    return p->nrules++;
}

/* Rebuilds p->always from the rules' index_set. */
static void set_always(Prog *p)
{
    p->nalways = 0;
    p->always = realloc(p->always, (p->nrules + 1) * sizeof *p->always);
    for (uint32_t i = 0; i < p->nrules; i++)
        if (p->rules[i].index_set == PIDX_NONE) p->always[p->nalways++] = i;
}

static void add_seg(Prog *p, CodeKey lo, CodeKey hi, const uint32_t *rules, uint32_t n)
{
    p->segs = realloc(p->segs, (p->nsegs + 1) * sizeof *p->segs);
    p->segs[p->nsegs++] = (PSeg){lo, hi, p->nseg_rules, n};
    p->seg_rules = realloc(p->seg_rules, (p->nseg_rules + n + 1) * sizeof *p->seg_rules);
    memcpy(p->seg_rules + p->nseg_rules, rules, n * sizeof *rules);
    p->nseg_rules += n;
}

static CodeKey cpt(const char *s) { return code_key(SYS_CPT, s, strlen(s)); }

/* A Prog using every table and every opcode:
 *   rule 0 mri      code in mri_brain and setting in {outpatient, office} and not emergent
 *   rule 1 breast   diagnoses any in breast_cancer or state == "IL"
 *   rule 2 medicare exempt all when medicare_primary
 *   rule 3 pricey   price > $1,000.00 and present(units) (cite, effective, deadline, reviewers)
 *   rule 4 lists    a block with JTRUE, TRUE/FALSE, comparisons and the rest */
static Prog *sample(void)
{
    Prog *p = th_std_prog();
    p->source_doc = th_str(p, "demo-list.txt");
    p->source_title = th_str(p, "Demo PA list");
    p->contact_first = th_ref(p, th_str(p, "UM: 800-555-0100"));
    p->contact_count = 1;
    p->reviewer = th_str(p, "Demo Health");
    p->eff_from = date_from_ymd(2026, 1, 1);
    p->source_hash = 0x0123456789abcdefULL;

    uint32_t f_code = th_field_index(p, "code"), f_setting = th_field_index(p, "setting");
    uint32_t f_emergent = th_field_index(p, "emergent"), f_dx = th_field_index(p, "diagnoses");
    uint32_t f_state = th_field_index(p, "state"), f_price = th_field_index(p, "price");
    uint32_t f_units = th_field_index(p, "units"), f_mp = th_field_index(p, "medicare_primary");
    uint32_t f_date = th_field_index(p, "service_date");
    uint32_t f_mods = th_field(p, "modifiers", VT_LIST, 0);
    p->fields[f_mods].elem = VT_STRING;

    CodeRange mri[] = {{cpt("70551"), cpt("70553")}};
    uint32_t s_mri = add_set(p, "mri_brain", mri, 1);
    /* ICD10 C50 followed by digits (the all-digit intervals of C50.*, one
     * per length 3..7) and D05.10. Keys order by length first, so D0510
     * sorts among the 5-character codes. */
    static const char *const bc_codes[6][2] = {
        {"C50", "C50"},     {"C500", "C509"},     {"C5000", "C5099"},
        {"D0510", "D0510"}, {"C50000", "C50999"}, {"C500000", "C509999"},
    };
    CodeRange bc[6];
    for (size_t k = 0; k < 6; k++)
        bc[k] = (CodeRange){code_key(SYS_ICD10, bc_codes[k][0], strlen(bc_codes[k][0])),
                            code_key(SYS_ICD10, bc_codes[k][1], strlen(bc_codes[k][1]))};
    uint32_t s_bc = add_set(p, "breast_cancer", bc, 6);

    uint32_t c_mask = add_const(p, (1 << 1) | (1 << 3));
    uint32_t c_price = add_const(p, 100000);
    uint32_t c_day = add_const(p, date_from_ymd(2026, 6, 1));

    Asm a = {0};
    ins(&a, OP_LOAD, f_code);
    ins(&a, OP_INSET, s_mri);
    uint32_t j = jump(&a, OP_JFALSE);
    ins(&a, OP_LOAD, f_setting);
    ins(&a, OP_INMASK, c_mask);
    ins(&a, OP_AND, 0);
    ins(&a, OP_LOAD, f_emergent);
    ins(&a, OP_NOT, 0);
    ins(&a, OP_AND, 0);
    land(&a, j);
    ins(&a, OP_RET, 0);
    add_rule(p, "mri", "MRI of the brain", T_PRIOR_AUTH, &a, s_mri);

    a.n = 0;
    ins(&a, OP_LOAD, f_dx);
    ins(&a, OP_ANYSET, s_bc);
    ins(&a, OP_LOAD, f_state);
    ins(&a, OP_STR, th_str(p, "IL"));
    ins(&a, OP_SEQ, 0);
    ins(&a, OP_OR, 0);
    ins(&a, OP_RET, 0);
    add_rule(p, "breast", "Breast cancer \"care\"", T_NOTIFICATION, &a, PIDX_NONE);

    a.n = 0;
    ins(&a, OP_LOAD, f_mp);
    ins(&a, OP_RET, 0);
    uint32_t r = add_rule(p, "medicare", "Medicare primary", T_EXEMPT, &a, PIDX_NONE);
    p->rules[r].exempt_all = 1;

    a.n = 0;
    ins(&a, OP_LOAD, f_price);
    ins(&a, OP_CONST, c_price);
    ins(&a, OP_GT, 0);
    ins(&a, OP_PRESENT, f_units);
    ins(&a, OP_AND, 0);
    ins(&a, OP_RET, 0);
    r = add_rule(p, "pricey", "Expensive items", T_NOT_COVERED, &a, PIDX_NONE);
    PRule *ru = &p->rules[r];
    ru->cite_first = th_ref(p, p->source_doc);
    th_ref(p, th_str(p, "DME"));
    ru->cite_count = 1;
    ru->eff_from = date_from_ymd(2026, 3, 1);
    ru->eff_through = date_from_ymd(2026, 12, 31);
    ru->dl_unit = T_BUSINESS_DAYS;
    ru->dl_dir = T_BEFORE;
    ru->dl_amount = 2;
    ru->rev_first = th_ref(p, th_str(p, "eviCore"));
    th_ref(p, th_str(p, "Carelon"));
    ru->rev_count = 2;

    a.n = 0;
    ins(&a, OP_LOAD, f_date);
    ins(&a, OP_CONST, c_day);
    ins(&a, OP_GE, 0);
    j = jump(&a, OP_JTRUE);
    ins(&a, OP_TRUE, 0);
    ins(&a, OP_FALSE, 0);
    ins(&a, OP_OR, 0);
    ins(&a, OP_LOAD, f_state);
    ins(&a, OP_STR, th_str(p, "NY"));
    ins(&a, OP_SNE, 0);
    ins(&a, OP_AND, 0);
    ins(&a, OP_LOAD, f_units);
    ins(&a, OP_CONST, c_price);
    ins(&a, OP_EQ, 0);
    ins(&a, OP_LOAD, f_units);
    ins(&a, OP_CONST, c_price);
    ins(&a, OP_NE, 0);
    ins(&a, OP_OR, 0);
    ins(&a, OP_LOAD, f_units);
    ins(&a, OP_CONST, c_price);
    ins(&a, OP_LT, 0);
    ins(&a, OP_LOAD, f_units);
    ins(&a, OP_CONST, c_price);
    ins(&a, OP_LE, 0);
    ins(&a, OP_AND, 0);
    ins(&a, OP_OR, 0);
    ins(&a, OP_AND, 0);
    ins(&a, OP_LOAD, f_mods);
    ins(&a, OP_ANYSTR, th_str(p, "RT"));
    ins(&a, OP_OR, 0);
    ins(&a, OP_OR, 0);
    land(&a, j);
    ins(&a, OP_RET, 0);
    r = add_rule(p, "lists", "Everything else", T_NOTIFICATION, &a, PIDX_NONE);
    ru = &p->rules[r];
    ru->dl_unit = T_HOURS;
    ru->dl_dir = T_AFTER;
    ru->dl_amount = 72;

    uint32_t seg0[] = {0};
    add_seg(p, cpt("70551"), cpt("70553"), seg0, 1);
    set_always(p);

    p->holidays = malloc(3 * sizeof *p->holidays);
    p->holidays[0] = date_from_ymd(2026, 1, 1);
    p->holidays[1] = date_from_ymd(2026, 1, 19);
    p->holidays[2] = date_from_ymd(2026, 12, 25);
    p->nholidays = 3;
    return p;
}

/* ---- file surgery ---------------------------------------------------------- */

static uint32_t get32(const uint8_t *b) { return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24; }
static void put32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

/* CRC-32 (IEEE), bit by bit: an independent reference for the file's
 * checksum. */
static uint32_t ref_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    return ~c;
}

/* The checksum a file must carry: CRC-32 of every byte, the checksum
 * field (bytes 20-23) read as zeros. */
static uint32_t ref_file_crc(const uint8_t *b, size_t len)
{
    uint8_t *c = malloc(len);
    memcpy(c, b, len);
    memset(c + 20, 0, 4);
    uint32_t crc = ref_crc32(c, len);
    free(c);
    return crc;
}

/* Recomputes the checksum so the damage reaches the section parser and
 * the verifier. */
static void fix_crc(uint8_t *b, size_t len) { put32(b + 20, ref_file_crc(b, len)); }

/* The absolute offset of the section tagged tag (4 chars); its length in *len. */
static size_t section(const uint8_t *b, const char *tag, uint32_t *len)
{
    uint32_t n = get32(b + HDR);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = b + HDR + 4 + 12 * i;
        if (memcmp(e, tag, 4) == 0) {
            if (len) *len = get32(e + 8);
            return HDR + get32(e + 4);
        }
    }
    cr_assert_fail("no section %s", tag);
    return 0;
}

/* The directory entry of section tag. */
static uint8_t *dirent(uint8_t *b, const char *tag)
{
    uint32_t n = get32(b + HDR);
    for (uint32_t i = 0; i < n; i++)
        if (memcmp(b + HDR + 4 + 12 * i, tag, 4) == 0) return b + HDR + 4 + 12 * i;
    cr_assert_fail("no section %s", tag);
    return NULL;
}

static uint8_t *write_sample(size_t *len)
{
    Prog *p = sample();
    uint8_t *b = bc_write(p, len);
    th_prog_free(p);
    return b;
}

/* Loads b and expects rejection with exactly msg. */
static void expect_load_error(const uint8_t *b, size_t len, const char *msg)
{
    char err[ERRLEN];
    Prog *q = bc_load(b, len, err, sizeof err);
    if (q) prog_free(q);
    cr_assert_null(q, "loaded; expected: %s", msg);
    cr_assert_str_eq(err, msg);
}

/* Expects p to be rejected with exactly msg by the verifier and, once
 * written, by the loader. Frees p. */
static void expect_reject(Prog *p, const char *msg)
{
    char err[ERRLEN];
    cr_assert_not(bc_verify(p, err, sizeof err), "verified; expected: %s", msg);
    cr_assert_str_eq(err, msg);
    size_t len;
    uint8_t *b = bc_write(p, &len);
    expect_load_error(b, len, msg);
    free(b);
    th_prog_free(p);
}

/* ---- comparing Progs ------------------------------------------------------- */

static void assert_same_prog(const Prog *a, const Prog *b)
{
    cr_assert_eq(a->id, b->id);
    cr_assert_eq(a->payer, b->payer);
    cr_assert_eq(a->title, b->title);
    cr_assert_eq(a->version, b->version);
    cr_assert_eq(a->source_doc, b->source_doc);
    cr_assert_eq(a->source_title, b->source_title);
    cr_assert_eq(a->contact_first, b->contact_first);
    cr_assert_eq(a->contact_count, b->contact_count);
    cr_assert_eq(a->reviewer, b->reviewer);
    cr_assert_eq(a->eff_from, b->eff_from);
    cr_assert_eq(a->eff_through, b->eff_through);
    cr_assert_eq(a->source_hash, b->source_hash);
    cr_assert_eq(a->nstrs, b->nstrs);
    for (uint32_t i = 0; i < a->nstrs; i++) {
        cr_assert_eq(a->strlens[i], b->strlens[i]);
        cr_assert_str_eq(a->strs[i], b->strs[i]);
        cr_assert_eq(b->strs[i][b->strlens[i]], '\0');
    }
    cr_assert_eq(a->nconsts, b->nconsts);
    for (uint32_t i = 0; i < a->nconsts; i++) cr_assert_eq(a->consts[i], b->consts[i]);
    cr_assert_eq(a->nrefs, b->nrefs);
    for (uint32_t i = 0; i < a->nrefs; i++) cr_assert_eq(a->refs[i], b->refs[i]);
    cr_assert_eq(a->nfields, b->nfields);
    for (uint32_t i = 0; i < a->nfields; i++) {
        const PField *x = &a->fields[i], *y = &b->fields[i];
        cr_assert(x->name == y->name && x->type == y->type && x->elem == y->elem &&
                      x->flags == y->flags && x->systems == y->systems &&
                      x->tag_field == y->tag_field && x->enum_first == y->enum_first &&
                      x->enum_count == y->enum_count && x->deflt == y->deflt,
                  "field %u differs", i);
    }
    cr_assert(a->f_id == b->f_id && a->f_payer == b->f_payer &&
              a->f_service_date == b->f_service_date && a->f_requested_at == b->f_requested_at &&
              a->f_code == b->f_code && a->f_service_at == b->f_service_at);
    cr_assert_eq(a->nsets, b->nsets);
    for (uint32_t i = 0; i < a->nsets; i++)
        cr_assert(a->sets[i].name == b->sets[i].name && a->sets[i].first == b->sets[i].first &&
                  a->sets[i].count == b->sets[i].count);
    cr_assert_eq(a->nranges, b->nranges);
    for (uint32_t i = 0; i < a->nranges; i++)
        cr_assert(a->ranges[i].lo == b->ranges[i].lo && a->ranges[i].hi == b->ranges[i].hi);
    cr_assert_eq(a->nrules, b->nrules);
    for (uint32_t i = 0; i < a->nrules; i++) {
        const PRule *x = &a->rules[i], *y = &b->rules[i];
        cr_assert(x->id == y->id && x->title == y->title && x->cite_first == y->cite_first &&
                      x->cite_count == y->cite_count && x->line == y->line &&
                      x->outcome == y->outcome && x->dl_unit == y->dl_unit &&
                      x->dl_dir == y->dl_dir && x->exempt_all == y->exempt_all &&
                      x->dl_amount == y->dl_amount && x->eff_from == y->eff_from &&
                      x->eff_through == y->eff_through && x->code_off == y->code_off &&
                      x->code_len == y->code_len && x->rev_first == y->rev_first &&
                      x->rev_count == y->rev_count && x->waive_first == y->waive_first &&
                      x->waive_count == y->waive_count && x->index_set == y->index_set,
                  "rule %u differs", i);
    }
    cr_assert_eq(a->nsegs, b->nsegs);
    for (uint32_t i = 0; i < a->nsegs; i++)
        cr_assert(a->segs[i].lo == b->segs[i].lo && a->segs[i].hi == b->segs[i].hi &&
                  a->segs[i].first == b->segs[i].first && a->segs[i].count == b->segs[i].count);
    cr_assert_eq(a->nseg_rules, b->nseg_rules);
    for (uint32_t i = 0; i < a->nseg_rules; i++) cr_assert_eq(a->seg_rules[i], b->seg_rules[i]);
    cr_assert_eq(a->nalways, b->nalways);
    for (uint32_t i = 0; i < a->nalways; i++) cr_assert_eq(a->always[i], b->always[i]);
    cr_assert_eq(a->nholidays, b->nholidays);
    for (uint32_t i = 0; i < a->nholidays; i++) cr_assert_eq(a->holidays[i], b->holidays[i]);
    cr_assert_eq(a->ncode, b->ncode);
    for (uint32_t i = 0; i < a->ncode; i++) cr_assert_eq(a->code[i], b->code[i], "code byte %u", i);
}

static char *disasm_text(const Prog *p)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    bc_disasm(p, f);
    fclose(f);
    return text;
}

/* ---- the opcode table -------------------------------------------------------- */

Test(bc, opcode_table_follows_opcodes_h)
{
    /* Sizes as opcodes.h documents the OPND_* formats. */
    cr_assert_str_eq(bc_opcode_name(OP_LOAD), "LOAD");
    cr_assert_str_eq(bc_opcode_name(OP_RET), "RET");
    cr_assert_eq(bc_operand_size(OP_LOAD), 1);
    cr_assert_eq(bc_operand_size(OP_CONST), 2);
    cr_assert_eq(bc_operand_size(OP_STR), 4);
    cr_assert_eq(bc_operand_size(OP_INSET), 2);
    cr_assert_eq(bc_operand_size(OP_JFALSE), 2);
    cr_assert_eq(bc_operand_size(OP_AND), 0);
    cr_assert_eq(bc_operand_size(OP__COUNT), -1);
    cr_assert_eq(bc_operand_size(-1), -1);
    cr_assert_null(bc_opcode_name(OP__COUNT));
    cr_assert_null(bc_opcode_name(255));
}

/* ---- writing and loading ----------------------------------------------------- */

Test(bc, sample_verifies)
{
    Prog *p = sample();
    char err[ERRLEN];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);
    cr_assert_str_eq(err, "");
    th_prog_free(p);
}

Test(bc, header_layout)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    cr_assert_arr_eq(b, "\x89PCR\r\n\x1a\n", 8);
    cr_assert_eq(b[8] | b[9] << 8, BC_VERSION_MAJOR);
    cr_assert_eq(b[10] | b[11] << 8, BC_VERSION_MINOR);
    cr_assert_eq(get32(b + 12), 0u);
    cr_assert_eq(get32(b + 16), len - HDR);
    cr_assert_eq(get32(b + 20), ref_file_crc(b, len));
    /* Ten sections, contiguous after the directory, in the documented order. */
    cr_assert_eq(get32(b + HDR), 10u);
    const char *order[] = {"STRS", "CNST", "REFS", "SCHM", "SETS",
                           "RULE", "INDX", "HOLI", "HEAD", "CODE"};
    uint32_t at = 4 + 10 * 12;
    for (int i = 0; i < 10; i++) {
        const uint8_t *e = b + HDR + 4 + 12 * i;
        cr_assert_arr_eq(e, order[i], 4);
        cr_assert_eq(get32(e + 4), at);
        at += get32(e + 8);
    }
    cr_assert_eq(at, len - HDR);
    free(b);
}

Test(bc, checksum_is_crc32_ieee)
{
    /* The standard check value of CRC-32/ISO-HDLC, as the reference computes. */
    cr_assert_eq(ref_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
}

/* Every way bc_crc32 computes (by half bytes below 16 KiB, by slices of 8
 * bytes from there on; and where the processor has carry-less
 * multiplication, whole 16-byte blocks folded from 256 bytes on, the rest
 * by the tables) against the bit-by-bit reference, at every length around
 * each switch and step, at odd starts, and for a file of megabytes, as
 * bc_file_crc reads it; the tables alone (bc_crc32_portable) likewise. */
Test(bc, crc32_matches_the_reference_at_every_size)
{
    size_t cap = (3u << 20) + 17;
    uint8_t *b = th_noise(cap, 12345);
    cr_assert_not_null(b);
    cr_log_info("crc32: %s", bc_crc32_hw() ? "carry-less multiplication" : "tables only");
    cr_assert_eq(bc_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
    cr_assert_eq(bc_crc32_portable((const uint8_t *)"123456789", 9), 0xcbf43926u);
    for (size_t n = 0; n < 600; n++) {
        uint32_t want = ref_crc32(b + 1 + n % 5, n);
        cr_assert_eq(bc_crc32(b + 1 + n % 5, n), want, "length %zu", n);
        cr_assert_eq(bc_crc32_portable(b + 1 + n % 5, n), want, "length %zu, tables", n);
    }
    for (size_t n = (16u << 10) - 9; n < (16u << 10) + 17; n++) {
        uint32_t want = ref_crc32(b + 3, n);
        cr_assert_eq(bc_crc32(b + 3, n), want, "length %zu", n);
        cr_assert_eq(bc_crc32_portable(b + 3, n), want, "length %zu, tables", n);
    }
    uint32_t whole = ref_crc32(b, cap);
    cr_assert_eq(bc_crc32(b, cap), whole);
    cr_assert_eq(bc_crc32_portable(b, cap), whole);
    cr_assert_eq(bc_file_crc(b, cap), ref_file_crc(b, cap));
    free(b);
}

Test(bc, round_trip_same_bytes_and_tables)
{
    Prog *p = sample();
    size_t n1, n2;
    uint8_t *b1 = bc_write(p, &n1);
    char err[ERRLEN];
    Prog *q = bc_load(b1, n1, err, sizeof err);
    cr_assert_not_null(q, "%s", err);
    assert_same_prog(p, q);
    uint8_t *b2 = bc_write(q, &n2);
    cr_assert_eq(n1, n2);
    cr_assert_arr_eq(b1, b2, n1);
    free(b1);
    free(b2);
    prog_free(q);
    th_prog_free(p);
}

Test(bc, round_trip_minimal_prog)
{
    /* No rules, sets, constants, index or holidays: empty sections. */
    Prog *p = th_std_prog();
    p->f_code = PIDX_NONE;
    p->f_requested_at = PIDX_NONE;
    size_t n;
    uint8_t *b = bc_write(p, &n);
    char err[ERRLEN];
    Prog *q = bc_load(b, n, err, sizeof err);
    cr_assert_not_null(q, "%s", err);
    assert_same_prog(p, q);
    cr_assert_eq(q->nrules, 0);
    cr_assert_eq(q->ncode, 0);
    cr_assert_not_null(q->ranges, "an empty table still has a base pointer");
    free(b);
    prog_free(q);
    th_prog_free(p);
}

Test(bc, deterministic)
{
    Prog *a = sample(), *b = sample();
    size_t na, nb, na2;
    uint8_t *x = bc_write(a, &na), *y = bc_write(b, &nb), *z = bc_write(a, &na2);
    cr_assert_eq(na, nb);
    cr_assert_arr_eq(x, y, na);
    cr_assert_eq(na, na2);
    cr_assert_arr_eq(x, z, na);
    /* And a different Prog gives different bytes. */
    b->rules[0].line++;
    free(y);
    y = bc_write(b, &nb);
    cr_assert(na != nb || memcmp(x, y, na) != 0);
    free(x);
    free(y);
    free(z);
    th_prog_free(a);
    th_prog_free(b);
}

Test(bc, loads_null_and_tolerates_null_err)
{
    char err[ERRLEN];
    cr_assert_null(bc_load(NULL, 0, err, sizeof err));
    cr_assert_str_eq(err, "truncated header (0 of 40 bytes)");
    size_t len;
    uint8_t *b = write_sample(&len);
    b[0] = 'X';
    cr_assert_null(bc_load(b, len, NULL, 0));
    /* A short buffer truncates the message instead of overflowing it. */
    char small[8];
    cr_assert_null(bc_load(b, len, small, sizeof small));
    cr_assert_str_eq(small, "not a P");
    free(b);
}

/* ---- loader rejections --------------------------------------------------------- */

Test(bc, bad_magic)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    b[4] = '\n'; /* what a CRLF -> LF conversion does to "\r\n" */
    expect_load_error(b, len, "not a PCR bytecode file (bad magic)");
    expect_load_error((const uint8_t *)"policy demo {\n", 14, "not a PCR bytecode file (bad magic)");
    free(b);
}

Test(bc, future_major_version)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    b[8] = 4;
    expect_load_error(b, len, "unsupported format version 4.0 (this pcrvm reads 3.x)");
    b[8] = 2;
    b[10] = 7;
    expect_load_error(b, len, "unsupported format version 2.7 (this pcrvm reads 3.x)");
    free(b);
}

Test(bc, unknown_flags)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    b[12] = 1;
    expect_load_error(b, len, "unknown header flags 0x00000001");
    free(b);
}

Test(bc, checksum_mismatch)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    uint32_t want = get32(b + 20);
    b[len - 1] ^= 0x40; /* inside the code section */
    char msg[128];
    snprintf(msg, sizeof msg, "checksum mismatch (file says 0x%08x, contents are 0x%08x)", want,
             ref_file_crc(b, len));
    expect_load_error(b, len, msg);
    free(b);
}

/* The checksum covers the header too: a bit flipped in the policy id's or
 * version's string index, or in the source hash, is caught. */
Test(bc, checksum_covers_the_header)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    const size_t fields[] = {24, 28, 32, 39};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        uint8_t *c = malloc(len);
        memcpy(c, b, len);
        c[fields[k]] ^= 0x01;
        char msg[128];
        snprintf(msg, sizeof msg, "checksum mismatch (file says 0x%08x, contents are 0x%08x)",
                 get32(b + 20), ref_file_crc(c, len));
        expect_load_error(c, len, msg);
        free(c);
    }
    free(b);
}

Test(bc, every_truncation_fails_cleanly)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    char msg[128];
    for (size_t k = 0; k < len; k++) {
        /* A copy of exactly k bytes, so ASan sees any read past the end. */
        uint8_t *c = malloc(k ? k : 1);
        memcpy(c, b, k);
        if (k < HDR)
            snprintf(msg, sizeof msg, "truncated header (%zu of 40 bytes)", k);
        else
            snprintf(msg, sizeof msg, "truncated file (header says %zu body bytes, %zu present)",
                     len - HDR, k - HDR);
        expect_load_error(c, k, msg);
        free(c);
    }
    free(b);
}

Test(bc, trailing_bytes)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    b = realloc(b, len + 3);
    memset(b + len, 0, 3);
    expect_load_error(b, len + 3, "trailing data after the body (3 bytes)");
    free(b);
}

Test(bc, section_extends_past_end)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    put32(dirent(b, "RULE") + 8, 0x7fffffff);
    fix_crc(b, len);
    expect_load_error(b, len, "section 'rules' extends past end of file");
    free(b);
}

Test(bc, sections_must_be_contiguous)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    uint8_t *e = dirent(b, "SETS");
    put32(e + 4, get32(e + 4) + 4); /* start 4 bytes late, shorten to match */
    put32(e + 8, get32(e + 8) - 4);
    fix_crc(b, len);
    char msg[128];
    snprintf(msg, sizeof msg, "section 'sets' starts at %u, expected %u (sections are contiguous)",
             get32(e + 4), get32(e + 4) - 4);
    expect_load_error(b, len, msg);
    free(b);
}

Test(bc, sections_out_of_order_or_missing)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    memcpy(dirent(b, "CNST"), "REFS", 4); /* two 'refs', no 'constants' */
    fix_crc(b, len);
    expect_load_error(b, len, "missing section 'constants'");
    free(b);

    b = write_sample(&len);
    memcpy(dirent(b, "CODE"), "STRS", 4);
    fix_crc(b, len);
    expect_load_error(b, len, "section 'strings' out of order");
    free(b);

    b = write_sample(&len);
    memcpy(dirent(b, "CODE"), "HEAD", 4);
    fix_crc(b, len);
    expect_load_error(b, len, "duplicate section 'header'");
    free(b);

    b = write_sample(&len);
    memcpy(dirent(b, "CODE"), "XTRA", 4);
    fix_crc(b, len);
    expect_load_error(b, len, "unknown section 'XTRA'");
    free(b);
}

/* Rebuilds a file with one more section, tagged XTRA, after the others. */
static uint8_t *with_extra_section(const uint8_t *b, size_t len, unsigned minor, size_t *out_len)
{
    uint32_t nsec = get32(b + HDR);
    size_t old_dir = 4 + 12 * (size_t)nsec, new_dir = old_dir + 12;
    size_t sections = len - HDR - old_dir;
    const char extra[] = "future data";
    *out_len = len + 12 + sizeof extra;
    uint8_t *c = calloc(1, *out_len);
    memcpy(c, b, HDR);
    c[10] = (uint8_t)minor;
    put32(c + HDR, nsec + 1);
    for (uint32_t i = 0; i < nsec; i++) {
        const uint8_t *e = b + HDR + 4 + 12 * i;
        uint8_t *f = c + HDR + 4 + 12 * i;
        memcpy(f, e, 12);
        put32(f + 4, get32(e + 4) + 12);
    }
    uint8_t *x = c + HDR + 4 + 12 * nsec;
    memcpy(x, "XTRA", 4);
    put32(x + 4, (uint32_t)(new_dir + sections));
    put32(x + 8, sizeof extra);
    memcpy(c + HDR + new_dir, b + HDR + old_dir, sections);
    memcpy(c + HDR + new_dir + sections, extra, sizeof extra);
    put32(c + 16, (uint32_t)(*out_len - HDR));
    fix_crc(c, *out_len);
    return c;
}

Test(bc, newer_minor_sections_are_skipped)
{
    size_t len, n;
    uint8_t *b = write_sample(&len);
    uint8_t *c = with_extra_section(b, len, BC_VERSION_MINOR + 1, &n);
    char err[ERRLEN];
    Prog *q = bc_load(c, n, err, sizeof err);
    cr_assert_not_null(q, "%s", err);
    cr_assert_eq(q->nrules, 5u);
    prog_free(q);
    free(c);
    /* The same section in a file of our own minor version is damage. */
    c = with_extra_section(b, len, BC_VERSION_MINOR, &n);
    expect_load_error(c, n, "unknown section 'XTRA'");
    free(c);
    free(b);
}

Test(bc, truncated_tables)
{
    static const struct {
        const char *tag, *msg;
    } cases[] = {
        {"STRS", "truncated string table"}, {"CNST", "truncated constant pool"},
        {"REFS", "truncated ref pool"},     {"SETS", "truncated code-set table"},
        {"RULE", "truncated rule table"},   {"INDX", "truncated rule index"},
        {"HOLI", "truncated holiday list"}, {"CODE", "truncated code section"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *b = write_sample(&len);
        /* A huge count: must fail before allocating for it. */
        put32(b + section(b, cases[i].tag, NULL), 0xfffffff0u);
        fix_crc(b, len);
        expect_load_error(b, len, cases[i].msg);
        free(b);
    }
    size_t len;
    uint8_t *b = write_sample(&len);
    put32(b + section(b, "SCHM", NULL), 0x10000000u);
    fix_crc(b, len);
    expect_load_error(b, len, "truncated schema");
    free(b);
}

Test(bc, section_with_stray_bytes)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    /* One constant fewer: its 8 bytes are left over. */
    size_t at = section(b, "CNST", NULL);
    put32(b + at, get32(b + at) - 1);
    fix_crc(b, len);
    expect_load_error(b, len, "section 'constants' has 8 stray bytes at its end");
    free(b);
}

Test(bc, invalid_utf8_string)
{
    static const uint8_t *const bad[] = {
        (const uint8_t *)"\xff",         (const uint8_t *)"\xc0\xaf", /* overlong '/' */
        (const uint8_t *)"\xed\xa0\x80", /* a surrogate */
        (const uint8_t *)"\xf4\x90\x80\x80", /* above U+10FFFF */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Prog *p = th_std_prog();
        size_t n = strlen((const char *)bad[i]);
        char s[8] = "xxxx";
        uint32_t k = th_str(p, s); /* "xxxx", then overwritten in the file */
        size_t len;
        uint8_t *b = bc_write(p, &len);
        th_prog_free(p);
        /* Find string k in the table: count, then length + bytes each. */
        size_t at = section(b, "STRS", NULL) + 4;
        for (uint32_t j = 0; j < k; j++) at += 4 + get32(b + at);
        cr_assert_eq(get32(b + at), 4u);
        memcpy(b + at + 4, bad[i], n);
        fix_crc(b, len);
        char msg[64];
        snprintf(msg, sizeof msg, "string %u is not valid UTF-8", k);
        expect_load_error(b, len, msg);
        free(b);
    }
}

Test(bc, valid_utf8_strings_load)
{
    Prog *p = th_std_prog();
    th_str(p, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    size_t len;
    uint8_t *b = bc_write(p, &len);
    char err[ERRLEN];
    Prog *q = bc_load(b, len, err, sizeof err);
    cr_assert_not_null(q, "%s", err);
    assert_same_prog(p, q);
    prog_free(q);
    free(b);
    th_prog_free(p);
}

/* ---- verifier: code ------------------------------------------------------------ */

/* th_std_prog plus one set ("mri") and one always-evaluated rule "r" (rule 0)
 * whose block is a. */
static Prog *one_rule(const Asm *a)
{
    Prog *p = th_std_prog();
    CodeRange r[] = {{cpt("70551"), cpt("70553")}};
    add_set(p, "mri", r, 1);
    add_const(p, 5);
    add_rule(p, "r", "A rule", T_PRIOR_AUTH, a, PIDX_NONE);
    set_always(p);
    return p;
}

static uint32_t std_field(const char *name)
{
    /* Field indices of the standard schema, from a throwaway copy. */
    Prog *p = th_std_prog();
    uint32_t f = th_field_index(p, name);
    th_prog_free(p);
    return f;
}

Test(bc, minimal_block_verifies)
{
    Asm a = {0};
    ins(&a, OP_TRUE, 0);
    ins(&a, OP_RET, 0);
    Prog *p = one_rule(&a);
    char err[ERRLEN];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);
    th_prog_free(p);
}

Test(bc, operand_indices_out_of_range)
{
    Asm a = {0};
    ins(&a, OP_STR, 999);
    ins(&a, OP_RET, 0);
    Prog *p = one_rule(&a);
    char msg[128];
    snprintf(msg, sizeof msg, "rule 0 (r): at 0: STR string 999 out of range (%u strings)", p->nstrs);
    expect_reject(p, msg);

    a.n = 0;
    ins(&a, OP_LOAD, 64);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 0: LOAD field 64 out of range (24 fields)");

    a.n = 0;
    ins(&a, OP_CONST, 1);
    ins(&a, OP_CONST, 0);
    ins(&a, OP_EQ, 0);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 0: CONST constant 1 out of range (1 constants)");

    a.n = 0;
    ins(&a, OP_LOAD, std_field("code"));
    ins(&a, OP_INSET, 1);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 2: INSET set 1 out of range (1 sets)");

    a.n = 0;
    ins(&a, OP_LOAD, std_field("network"));
    ins(&a, OP_INMASK, 7);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 2: INMASK constant 7 out of range (1 constants)");
}

/* Fused instructions (opcodes.h, PCR_FUSED) are proved by their parts:
 * each operand index in range, and the field of the right type for the
 * test, as LOAD followed by the test would need. */
Test(bc, fused_instructions_are_verified_by_their_parts)
{
    uint32_t code = std_field("code"), setting = std_field("setting"), units = std_field("units");
    uint32_t dx = std_field("diagnoses"), state = std_field("state");
    Asm a = {0};
    ins(&a, OP_LDINSET, code | 0 << 8);
    uint32_t j = jump(&a, OP_JFALSE);
    ins(&a, OP_LDINMASK, setting | 0 << 8);
    ins(&a, OP_AND, 0);
    land(&a, j);
    j = jump(&a, OP_JFALSE);
    ins(&a, OP_LDGEK, units | 0 << 8);
    ins(&a, OP_AND, 0);
    land(&a, j);
    j = jump(&a, OP_JFALSE);
    ins(&a, OP_LDANYSET, dx | 0 << 8);
    ins(&a, OP_AND, 0);
    land(&a, j);
    ins(&a, OP_RET, 0);
    Prog *p = one_rule(&a);
    char err[ERRLEN];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);
    cr_assert_eq(bc_operand_size(OP_LDINSET), 3);
    cr_assert_eq(bc_operand_size(OP_LDEQK), 3);
    th_prog_free(p);

    struct {
        int op;
        uint32_t field, index;
        const char *msg;
    } bad[] = {
        {OP_LDINSET, 64, 0, "rule 0 (r): at 0: LDINSET field 64 out of range (24 fields)"},
        {OP_LDINSET, code, 1, "rule 0 (r): at 0: LDINSET set 1 out of range (1 sets)"},
        {OP_LDEQK, units, 1, "rule 0 (r): at 0: LDEQK constant 1 out of range (1 constants)"},
        {OP_LDINMASK, setting, 7, "rule 0 (r): at 0: LDINMASK constant 7 out of range (1 constants)"},
        {OP_LDINSET, setting, 0, "rule 0 (r): at 0: INSET expects code, found int"},
        {OP_LDANYSET, code, 0, "rule 0 (r): at 0: ANYSET expects code list, found code"},
        {OP_LDGTK, state, 0, "rule 0 (r): at 0: GT expects int, found string"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        a.n = 0;
        ins(&a, bad[k].op, bad[k].field | bad[k].index << 8);
        ins(&a, OP_RET, 0);
        expect_reject(one_rule(&a), bad[k].msg);
    }
}

Test(bc, jump_into_middle_of_instruction)
{
    Asm a = {0};
    ins(&a, OP_TRUE, 0);   /* 0 */
    ins(&a, OP_JTRUE, 1);  /* 1: -> 5, the middle of the CONST at 4 */
    ins(&a, OP_CONST, 0);  /* 4 */
    ins(&a, OP_CONST, 0);  /* 7 */
    ins(&a, OP_EQ, 0);     /* 10 */
    ins(&a, OP_AND, 0);    /* 11 */
    ins(&a, OP_RET, 0);    /* 12 */
    expect_reject(one_rule(&a), "rule 0 (r): at 1: jump target 5 is inside the instruction at 4");
}

Test(bc, jump_target_out_of_range)
{
    Asm a = {0};
    ins(&a, OP_TRUE, 0);
    ins(&a, OP_JFALSE, 812 - 4);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 1: jump target 812 out of range");

    /* A jump to the end of the block (one past the RET) leaves it too. */
    a.n = 0;
    ins(&a, OP_TRUE, 0);
    ins(&a, OP_JFALSE, 1);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 1: jump target 5 out of range");
}

Test(bc, backward_jump_is_not_expressible)
{
    /* Offsets are unsigned: 0xfffe, which would be -2 read as signed (a
     * jump back to the TRUE), is a target far past the block. */
    Asm a = {0};
    ins(&a, OP_TRUE, 0);
    ins(&a, OP_JTRUE, 0xfffe);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 1: jump target 65538 out of range");
}

Test(bc, forward_jumps_that_merge_verify)
{
    /* Two jumps to one target with equal stacks, plus a zero-offset jump. */
    Asm a = {0};
    ins(&a, OP_TRUE, 0);
    uint32_t j1 = jump(&a, OP_JFALSE);
    ins(&a, OP_JTRUE, 0);
    ins(&a, OP_NOT, 0);
    uint32_t j2 = jump(&a, OP_JTRUE);
    ins(&a, OP_FALSE, 0);
    ins(&a, OP_OR, 0);
    land(&a, j1);
    land(&a, j2);
    ins(&a, OP_RET, 0);
    Prog *p = one_rule(&a);
    char err[ERRLEN];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);
    th_prog_free(p);
}

Test(bc, missing_ret)
{
    Asm a = {0};
    ins(&a, OP_TRUE, 0);
    ins(&a, OP_NOT, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 2: control reaches the end of the block without RET");

    /* The fall-through path of a conditional jump must end at a RET too. */
    a.n = 0;
    ins(&a, OP_TRUE, 0);
    uint32_t j = jump(&a, OP_JTRUE);
    ins(&a, OP_NOT, 0);
    ins(&a, OP_RET, 0);
    land(&a, j);
    ins(&a, OP_NOT, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 7: control reaches the end of the block without RET");
}

Test(bc, unreachable_code)
{
    Asm a = {0};
    ins(&a, OP_TRUE, 0);
    ins(&a, OP_RET, 0);
    ins(&a, OP_TRUE, 0);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 2: unreachable instruction");
}

Test(bc, stack_overflow)
{
    Asm a = {0};
    for (int i = 0; i < 65; i++) ins(&a, OP_TRUE, 0);
    for (int i = 0; i < 64; i++) ins(&a, OP_AND, 0);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 64: stack overflow (more than 64 values)");

    /* 64 values is the limit, not past it. */
    a.n = 0;
    for (int i = 0; i < 64; i++) ins(&a, OP_TRUE, 0);
    for (int i = 0; i < 63; i++) ins(&a, OP_AND, 0);
    ins(&a, OP_RET, 0);
    Prog *p = one_rule(&a);
    char err[ERRLEN];
    cr_assert(bc_verify(p, err, sizeof err), "%s", err);
    th_prog_free(p);
}

Test(bc, stack_underflow)
{
    Asm a = {0};
    ins(&a, OP_TRUE, 0);
    ins(&a, OP_AND, 0);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 1: stack underflow: AND needs 2 values, stack has 1");
}

Test(bc, type_confusion)
{
    Asm a = {0};
    ins(&a, OP_LOAD, std_field("units"));
    ins(&a, OP_INSET, 0);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 2: INSET expects code, found int");

    a.n = 0;
    ins(&a, OP_LOAD, std_field("code"));
    ins(&a, OP_ANYSET, 0);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 2: ANYSET expects code list, found code");

    a.n = 0;
    ins(&a, OP_LOAD, std_field("state"));
    ins(&a, OP_CONST, 0);
    ins(&a, OP_LT, 0);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 5: LT expects int, found string");

    a.n = 0;
    ins(&a, OP_LOAD, std_field("units"));
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 2: RET expects bool, found int");

    a.n = 0;
    ins(&a, OP_LOAD, std_field("diagnoses"));
    ins(&a, OP_ANYSTR, 0);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 2: ANYSTR expects string list, found code list");

    a.n = 0;
    ins(&a, OP_CONST, 0);
    ins(&a, OP_JFALSE, 0);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 3: JFALSE expects bool, found int");
}

Test(bc, ret_needs_exactly_one_value)
{
    Asm a = {0};
    ins(&a, OP_TRUE, 0);
    ins(&a, OP_TRUE, 0);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 2: RET with 2 values on the stack (needs exactly 1)");
}

Test(bc, paths_must_agree)
{
    /* The jump carries [b]; the fall-through arrives with [b b]. */
    Asm a = {0};
    ins(&a, OP_TRUE, 0);
    uint32_t j = jump(&a, OP_JFALSE);
    ins(&a, OP_TRUE, 0);
    land(&a, j);
    ins(&a, OP_AND, 0);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 5: paths meet with different stacks ([b b] and [b])");

    /* Two jumps to one point with different stacks. */
    a.n = 0;
    ins(&a, OP_TRUE, 0);
    uint32_t j1 = jump(&a, OP_JFALSE);
    ins(&a, OP_TRUE, 0);
    uint32_t j2 = jump(&a, OP_JTRUE);
    ins(&a, OP_RET, 0);
    land(&a, j1);
    land(&a, j2);
    ins(&a, OP_RET, 0);
    expect_reject(one_rule(&a), "rule 0 (r): at 9: paths meet with different stacks ([b] and [b b])");
}

Test(bc, unknown_opcode_and_short_operand)
{
    Asm a = {0};
    ins(&a, OP_TRUE, 0);
    a.b[a.n++] = OP__COUNT;
    ins(&a, OP_RET, 0);
    char msg[64];
    snprintf(msg, sizeof msg, "rule 0 (r): at 1: unknown opcode %d", OP__COUNT);
    expect_reject(one_rule(&a), msg);

    a.n = 0;
    ins(&a, OP_TRUE, 0);
    a.b[a.n++] = OP_STR;
    a.b[a.n++] = 0;
    a.b[a.n++] = 0;
    expect_reject(one_rule(&a), "rule 0 (r): at 1: STR operand extends past the end of the block");
}

Test(bc, every_rule_is_checked)
{
    /* The defect is in the sample's last rule; earlier rules pass. */
    Prog *p = sample();
    PRule *r = &p->rules[4];
    p->code[r->code_off + r->code_len - 1] = OP_NOT; /* the final RET */
    expect_reject(p, "rule 4 (lists): at 59: control reaches the end of the block without RET");
}

/* ---- verifier: tables ------------------------------------------------------------ */

Test(bc, unsorted_or_overlapping_ranges)
{
    Prog *p = sample();
    CodeRange *r = &p->ranges[p->sets[1].first];
    CodeRange t = r[0];
    r[0] = r[1];
    r[1] = t;
    expect_reject(p, "set 1 (breast_cancer): ranges 0 and 1 are not sorted and disjoint");

    p = sample();
    p->ranges[p->sets[1].first + 1].lo = p->ranges[p->sets[1].first].hi; /* touch = overlap */
    expect_reject(p, "set 1 (breast_cancer): ranges 0 and 1 are not sorted and disjoint");

    p = sample();
    CodeRange *m = &p->ranges[p->sets[0].first];
    t = *m;
    m->lo = t.hi, m->hi = t.lo;
    expect_reject(p, "set 0 (mri_brain): range 0 has lo > hi");

    p = sample();
    p->sets[1].count = 99;
    expect_reject(p, "set 1 (breast_cancer): ranges 1+99 out of range (7 ranges)");

    p = sample();
    p->sets[1].count = PCR_MAX_SET_RANGES + 1;
    expect_reject(p, "set 1 (breast_cancer): 100001 ranges (at most 100000)");

    char msg[128];
    p = sample();
    p->sets[1].name = 5000; /* the message cannot name it */
    snprintf(msg, sizeof msg, "set 1: string 5000 out of range (%u strings)", p->nstrs);
    expect_reject(p, msg);
}

/* More rules than a policy may have: refused before any rule is read. */
Test(bc, too_many_rules)
{
    Prog *p = sample();
    uint32_t n = p->nrules;
    p->rules = realloc(p->rules, (PCR_MAX_RULES + 1) * sizeof *p->rules);
    cr_assert_not_null(p->rules);
    for (uint32_t i = n; i <= PCR_MAX_RULES; i++) p->rules[i] = p->rules[i % n];
    p->nrules = PCR_MAX_RULES + 1;
    expect_reject(p, "rules: 65537 rules (at most 65536)");
}

Test(bc, index_segment_names_missing_rule)
{
    /* Three rules; the segment names rule 99. */
    Asm a = {0};
    ins(&a, OP_LOAD, std_field("code"));
    ins(&a, OP_INSET, 0);
    ins(&a, OP_RET, 0);
    Prog *p = one_rule(&a);
    add_rule(p, "r1", "Second", T_PRIOR_AUTH, &a, 0);
    add_rule(p, "r2", "Third", T_PRIOR_AUTH, &a, 0);
    set_always(p);
    uint32_t rules[] = {1, 99};
    add_seg(p, cpt("70551"), cpt("70553"), rules, 2);
    expect_reject(p, "index segment 0 names rule 99 of 3");
}

Test(bc, index_structure)
{
    Prog *p = sample();
    uint32_t rules[] = {0};
    add_seg(p, cpt("70553"), cpt("70600"), rules, 1); /* overlaps segment 0 */
    expect_reject(p, "index segments 0 and 1 are not sorted and disjoint");

    p = sample();
    CodeKey lo = p->segs[0].lo;
    p->segs[0].lo = p->segs[0].hi;
    p->segs[0].hi = lo;
    expect_reject(p, "index segment 0 has lo > hi");

    p = sample();
    p->segs[0].count = 5;
    expect_reject(p, "index segment 0: rules 0+5 out of range (1 entries)");

    p = sample();
    p->seg_rules[0] = 1; /* 'breast' is evaluated always, not indexed */
    expect_reject(p, "index segment 0 names rule 1 (breast), which is not indexed");

    p = sample();
    p->always[0] = 0;
    expect_reject(p, "always list names rule 0 (mri), which is indexed");

    p = sample();
    p->always[1] = p->always[0];
    expect_reject(p, "always list: rules not ascending");

    p = sample();
    p->nalways--;
    expect_reject(p, "always list has 3 rules, but 4 rules are not indexed");

    p = sample();
    p->rules[1].index_set = 7;
    expect_reject(p, "rule 1 (breast): index set 7 out of range (2 sets)");
}

Test(bc, schema_checks)
{
    Prog *p = sample();
    p->fields[th_field_index(p, "setting")].enum_count = 65;
    expect_reject(p, "field 4 (setting): 65 enum members (at most 64)");

    p = sample();
    p->fields[th_field_index(p, "code")].tag_field = th_field_index(p, "units");
    expect_reject(p, "field 9 (code): system field 12 (units) is not an enum");

    p = sample();
    p->fields[th_field_index(p, "code")].tag_field = th_field_index(p, "network");
    expect_reject(p, "field 9 (code): system field member 'in' is not a code system");

    p = sample();
    p->f_service_date = th_field_index(p, "requested_at");
    expect_reject(p, "schema: the service_date field (field 23) is called requested_at, not "
                     "service_date");

    p = sample();
    p->fields[p->f_service_date].type = VT_DATETIME;
    expect_reject(p, "schema: service_date field 21 (service_date) must be a date, not a datetime");

    p = sample();
    p->fields[p->f_service_date].flags = 0;
    expect_reject(p, "schema: service_date field 21 (service_date) must be required");

    /* the index may be keyed on a list of codes, not on a list of strings
     * or anything else */
    p = sample();
    p->f_code = th_field_index(p, "diagnoses");
    {
        char err[ERRLEN];
        cr_assert(bc_verify(p, err, sizeof err), "%s", err);
        th_prog_free(p);
    }
    p = sample();
    p->f_code = th_field_index(p, "network");
    expect_reject(p, "schema: index field 3 (network) must be a code or a list of codes, not a enum");
    p = sample();
    p->f_code = 99;
    expect_reject(p, "schema: index field 99 out of range (25 fields)");

    p = sample();
    p->f_requested_at = 99;
    expect_reject(p, "schema: requested_at field 99 out of range (25 fields)");

    p = sample();
    p->fields[3].type = 12;
    expect_reject(p, "field 3 (network): unknown type 12");

    p = sample();
    p->fields[th_field_index(p, "diagnoses")].elem = VT_INT;
    expect_reject(p, "field 11 (diagnoses): element type 2 invalid for a list field");

    p = sample();
    p->fields[th_field_index(p, "code")].systems = 0x40;
    expect_reject(p, "field 9 (code): invalid code system mask 0x40");

    p = sample();
    p->fields[th_field_index(p, "emergent")].deflt = 2;
    expect_reject(p, "field 20 (emergent): bool default 2 is not 0 or 1");

    p = sample();
    p->fields[th_field_index(p, "state")].flags = PF_DEFAULT;
    expect_reject(p, "field 15 (state): a string field cannot have a default");

    p = sample();
    p->fields[th_field_index(p, "plan")].name = p->fields[0].name;
    expect_reject(p, "field 2 (id): same name as field 0");

    p = sample();
    while (p->nfields <= 64) th_field(p, "extra", VT_INT, 0);
    expect_reject(p, "schema: 65 fields (at most 64)");
}

Test(bc, rule_metadata_checks)
{
    Prog *p = sample();
    p->rules[3].eff_from = p->rules[3].eff_through + 1;
    expect_reject(p, "rule 3 (pricey): effective window ends before it starts");

    p = sample();
    p->rules[3].outcome = 0;
    expect_reject(p, "rule 3 (pricey): unknown outcome 0");

    p = sample();
    p->rules[3].dl_amount = 10001;
    expect_reject(p, "rule 3 (pricey): deadline amount 10001 out of range 0..10000");

    p = sample();
    p->rules[3].dl_unit = 9;
    expect_reject(p, "rule 3 (pricey): unknown deadline unit 9");

    p = sample();
    p->rules[3].rev_count = 1000;
    char msg[128];
    snprintf(msg, sizeof msg, "rule 3 (pricey): reviewers: refs %u+1000 out of range (%u refs)",
             p->rules[3].rev_first, p->nrefs);
    expect_reject(p, msg);

    p = sample();
    p->rules[2].exempt_all = 0;
    p->rules[2].waive_first = th_ref(p, 7);
    p->rules[2].waive_count = 1;
    expect_reject(p, "rule 2 (medicare): waives rule 7 of 5");

    p = sample();
    p->rules[0].exempt_all = 1;
    expect_reject(p, "rule 0 (mri): waives rules but is not an exemption");

    p = sample();
    p->rules[1].code_len += p->rules[0].code_len; /* overlap rule 2's block */
    expect_reject(p, "rule 2 (medicare): code block overlaps rule 1 (breast)");

    p = sample();
    p->rules[4].code_len += 1;
    snprintf(msg, sizeof msg,
             "rule 4 (lists): code block %u+%u outside the code section (%u bytes)",
             p->rules[4].code_off, p->rules[4].code_len, p->ncode);
    expect_reject(p, msg);

    p = sample();
    p->rules[1].title = 5000;
    snprintf(msg, sizeof msg, "rule 1 (breast): title: string 5000 out of range (%u strings)",
             p->nstrs);
    expect_reject(p, msg);

    p = sample();
    p->rules[1].id = 5000;
    snprintf(msg, sizeof msg, "rule 1: string 5000 out of range (%u strings)", p->nstrs);
    expect_reject(p, msg);
}

Test(bc, header_and_holiday_checks)
{
    Prog *p = sample();
    p->payer = 4000;
    char msg[128];
    snprintf(msg, sizeof msg, "policy payer: string 4000 out of range (%u strings)", p->nstrs);
    expect_reject(p, msg);

    p = sample();
    p->contact_count = p->nrefs - p->contact_first + 1;
    snprintf(msg, sizeof msg, "policy contacts: refs %u+%u out of range (%u refs)",
             p->contact_first, p->contact_count, p->nrefs);
    expect_reject(p, msg);

    p = sample();
    p->eff_through = p->eff_from - 1;
    expect_reject(p, "policy effective window ends before it starts");

    p = sample();
    p->holidays[2] = p->holidays[1];
    expect_reject(p, "holidays 1 and 2 are not sorted and distinct");
}

Test(bc, in_memory_tables_without_arrays)
{
    Prog *p = sample();
    uint32_t *keep = p->always;
    p->always = NULL;
    char err[ERRLEN];
    cr_assert_not(bc_verify(p, err, sizeof err));
    cr_assert_str_eq(err, "table 'always list' has 4 entries but no data");
    p->always = keep;
    th_prog_free(p);
}

/* ---- robustness ------------------------------------------------------------------ */

/* Flips every byte of a valid file to several values (the checksum
 * recomputed so the verifier is reached). Each result must either be
 * rejected with a message or load into a Prog that re-verifies, writes back
 * to exactly the same bytes and disassembles. Run it under ASan/UBSan. */
Test(bc, byte_flip_sweep, .timeout = 600)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    uint8_t *c = malloc(len);
    unsigned long loads = 0, rejects = 0;
    FILE *sink = fopen("/dev/null", "w");
    cr_assert_not_null(sink);
    for (size_t i = 0; i < len; i++) {
        const uint8_t vals[] = {0x00, 0xff, (uint8_t)(b[i] ^ 0x01), (uint8_t)(b[i] ^ 0x80),
                                (uint8_t)(b[i] + 1), (uint8_t)(b[i] - 1)};
        for (size_t v = 0; v < sizeof vals; v++) {
            if (vals[v] == b[i]) continue;
            memcpy(c, b, len);
            c[i] = vals[v];
            if (i < 20 || i >= 24) fix_crc(c, len); /* the checksum covers the header too */
            char err[ERRLEN] = "";
            Prog *q = bc_load(c, len, err, sizeof err);
            if (!q) {
                cr_assert(err[0] != '\0', "rejected without a message (byte %zu = 0x%02x)", i,
                          vals[v]);
                cr_assert_null(strchr(err, '\n'), "message spans lines: %s", err);
                rejects++;
                continue;
            }
            loads++;
            cr_assert(bc_verify(q, err, sizeof err), "%s", err);
            size_t n2;
            uint8_t *w = bc_write(q, &n2);
            /* A newer minor version loads; the writer writes its own. */
            if (n2 >= HDR) {
                memcpy(w + 10, c + 10, 2);
                fix_crc(w, n2);
            }
            cr_assert(n2 == len && memcmp(w, c, len) == 0,
                      "byte %zu = 0x%02x loaded but does not write back the same", i, vals[v]);
            free(w);
            bc_disasm(q, sink);
            prog_free(q);
        }
    }
    fclose(sink);
    cr_log_info("byte-flip sweep: %zu bytes, %lu variants rejected, %lu loaded", len, rejects, loads);
    cr_assert_gt(rejects, 0);
    cr_assert_gt(loads, 0); /* string contents and the like may change freely */
    free(c);
    free(b);
}

/* Random multi-byte damage with a recomputed checksum (fixed seed). */
Test(bc, random_damage)
{
    size_t len;
    uint8_t *b = write_sample(&len);
    uint8_t *c = malloc(len);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    unsigned long rejects = 0;
    for (int round = 0; round < 5000; round++) {
        memcpy(c, b, len);
        for (int k = 0; k < 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            c[HDR + (x >> 8) % (len - HDR)] = (uint8_t)x;
        }
        fix_crc(c, len);
        char err[ERRLEN];
        Prog *q = bc_load(c, len, err, sizeof err);
        if (q) {
            cr_assert(bc_verify(q, err, sizeof err), "%s", err);
            prog_free(q);
        } else {
            rejects++;
        }
    }
    cr_log_info("random damage: %lu of 5000 rejected", rejects);
    cr_assert_gt(rejects, 0);
    free(c);
    free(b);
}

/* ---- the disassembler ------------------------------------------------------------ */

Test(bc, disasm_listing)
{
    Prog *p = sample();
    char *text = disasm_text(p);
    /* Pieces the brief and the golden tests rely on. */
    const char *expect[] = {
        "policy test version \"1\"\n",
        "  contact    \"UM: 800-555-0100\"\n",
        "  effective  2026-01-01 through open\n",
        "  hash       0x0123456789abcdef\n",
        "     9  code  code(CPT, HCPCS, REV) system code_system\n",
        "     3  network  enum {in, out}\n",
        "     6  admitted_from_er  bool = false\n",
        "        CPT 70551..70553\n",
        "        ICD10 C50  ICD10 C500..C509  ICD10 C5000..C5099  ICD10 D0510\n",
        "        ICD10 C50000..C50999  ICD10 C500000..C509999\n",
        "         0  LOAD 9 (code)\n",
        "         2  INSET 0 (mri_brain)\n",
        "         5  JFALSE -> 18\n",
        "        18  RET\n",
        "    outcome    prior_auth\n",
        "    outcome    exempt all\n",
        "    cite       \"demo-list.txt\" section \"DME\"\n",
        "    effective  2026-03-01 through 2026-12-31\n",
        "    reviewer   \"eviCore\", \"Carelon\"\n",
        "    deadline   2 business_days before service\n",
        "    deadline   72 hours after service\n",
        "    index      0 (mri_brain)\n",
        "    index      always\n",
        "rule 1 breast \"Breast cancer \\\"care\\\"\" (line 11)\n",
        "         2  CONST 1 (= 100000)\n",
        "         6  JTRUE -> 58\n",
        "index: 1 segments, 1 entries; always: 1 2 3 4\n",
        "    CPT 70551..70553 -> 0\n",
        "holidays: 3\n    2026-01-01 2026-01-19 2026-12-25\n",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        cr_assert_not_null(strstr(text, expect[i]), "missing %s in:\n%s", expect[i], text);
    /* String operands show the index and the text. */
    uint32_t il = 0;
    while (strcmp(p->strs[il], "IL") != 0) il++;
    char line[64];
    snprintf(line, sizeof line, "         7  STR %u (\"IL\")\n", il);
    cr_assert_not_null(strstr(text, line), "missing %s in:\n%s", line, text);
    free(text);
    th_prog_free(p);
}

Test(bc, disasm_is_deterministic_and_survives_round_trip)
{
    Prog *p = sample();
    size_t len;
    uint8_t *b = bc_write(p, &len);
    char err[ERRLEN];
    Prog *q = bc_load(b, len, err, sizeof err);
    cr_assert_not_null(q, "%s", err);
    char *x = disasm_text(p), *y = disasm_text(p), *z = disasm_text(q);
    cr_assert_str_eq(x, y);
    cr_assert_str_eq(x, z);
    free(x);
    free(y);
    free(z);
    free(b);
    prog_free(q);
    th_prog_free(p);
}

Test(bc, role_fields_must_carry_their_names)
{
    Prog *p = th_std_prog();
    p->strs[p->fields[p->f_id].name] = "iq";
    p->strlens[p->fields[p->f_id].name] = 2;
    char err[256] = "";
    cr_assert_not(bc_verify(p, err, sizeof err));
    cr_assert_str_eq(err, "schema: the id field (field 0) is called iq, not id");
    th_prog_free(p);
}

/* A verified file may hold a code set interval at the largest key, which
 * is also the code table's search-tree padding (docs/reliability.md F9:
 * building the table then read past the tree; `make san` runs this under
 * AddressSanitizer). The demo policy so changed builds its table and
 * still decides. */
Test(bc, an_interval_at_the_largest_key_builds_the_code_table)
{
    char path[4096], err[256] = "";
    snprintf(path, sizeof path, "%s/tests/fuzz/regressions/bytecode/F9-interval-at-largest-key.pcrb",
             th_root());
    pcr_policy *p = NULL;
    cr_assert_eq(pcr_policy_load_file(path, &p, err, sizeof err), PCR_OK, "%s", err);
    pcr_engine *e = pcr_engine_new();
    cr_assert_eq(pcr_engine_add(e, p, err, sizeof err), PCR_OK, "%s", err);
    const char *rec = "{\"id\":\"r1\",\"payer\":\"demo\",\"code\":\"70551\",\"setting\":\"office\","
                      "\"service_date\":\"2026-03-02\"}";
    const char *line;
    size_t n;
    pcr_decision_kind k;
    cr_assert_eq(pcr_engine_eval(e, rec, strlen(rec), 1, &line, &n, &k), PCR_OK);
    cr_expect_eq(k, PCR_DEC_PRIOR_AUTH, "%.*s", (int)n, line);
    pcr_engine_free(e);
}

/* The fuzzer's bytecode inputs are of the format this loader reads: the
 * seeds (tests/fuzz/corpus/bytecode/) and the reproducers
 * (tests/fuzz/regressions/bytecode/, docs/reliability.md). A file of
 * another version is rejected at its header, so a seed would never reach
 * the verifier and a reproducer would prove nothing; after a new version,
 * tests/fuzz/make-seeds.py rebuilds both. Every seed loads; the F1
 * reproducers load (their empty tables reach the verifier and the VM), F2
 * is rejected for its renamed id field, and F7 loads (its constants reach
 * the fuzzer's sample records). */
Test(bc, the_fuzzers_bytecode_inputs_are_of_this_format)
{
    char dir[4096], path[4096 + 256], err[256];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/bytecode", th_root());
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    unsigned seeds = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 5, ".pcrb") != 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        pcr_policy *p = NULL;
        err[0] = '\0';
        cr_expect_eq(pcr_policy_load_file(path, &p, err, sizeof err), PCR_OK, "seed %s: %s", de->d_name, err);
        pcr_policy_free(p);
        seeds++;
    }
    closedir(d);
    cr_assert_geq(seeds, 30, "%u seeds", seeds);
    static const struct {
        const char *file, *err; /* NULL: loads */
    } reg[] = {
        {"F1-empty-sets-null-ranges.pcrb", NULL},
        {"F1-empty-segment-null-seg-rules.pcrb", NULL},
        {"F2-id-field-renamed.pcrb", "schema: the id field (field 0) is called iq, not id"},
        {"F7-int-constant-at-max.pcrb", NULL},
        {"F9-interval-at-largest-key.pcrb", NULL},
    };
    for (size_t i = 0; i < sizeof reg / sizeof reg[0]; i++) {
        snprintf(path, sizeof path, "%s/tests/fuzz/regressions/bytecode/%s", th_root(), reg[i].file);
        pcr_policy *p = NULL;
        err[0] = '\0';
        pcr_status st = pcr_policy_load_file(path, &p, err, sizeof err);
        /* pcr_policy_load_file puts the path before the loader's message */
        size_t n = strlen(err), m = reg[i].err ? strlen(reg[i].err) : 0;
        if (reg[i].err)
            cr_expect(st != PCR_OK && n >= m && strcmp(err + n - m, reg[i].err) == 0, "%s: %s", reg[i].file, err);
        else cr_expect_eq(st, PCR_OK, "%s: %s", reg[i].file, err);
        pcr_policy_free(p);
    }
}
