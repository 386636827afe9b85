/* bc_disasm.c: a readable listing of a Prog (pcrc --disasm; golden tests).
 *
 * The output is deterministic and line-oriented: the header, the schema,
 * the code sets (codes as text), the rules with their metadata and
 * instructions, the rule index and the holidays. Instruction offsets are
 * relative to the rule's block, as in the verifier's messages. Every table
 * lookup is range-checked ("?" when out of range) so that a listing of an
 * unverified Prog is still safe to print. */
#include <inttypes.h>
#include <string.h>

#include "bc.h"
#include "bc_format.h"
#include "dates.h"
#include "opcodes.h"

/* Writes string s: quoted (JSON-like escapes) or bare (control bytes shown
 * as '?'); "?" when s is out of range, "none" for PIDX_NONE. */
static void put_str(FILE *out, const Prog *p, uint32_t s, bool quoted)
{
    if (s == PIDX_NONE) {
        fputs("none", out);
        return;
    }
    if (s >= p->nstrs) {
        fprintf(out, "?%u", s);
        return;
    }
    const unsigned char *c = (const unsigned char *)p->strs[s];
    if (quoted) fputc('"', out);
    for (uint32_t i = 0; i < p->strlens[s]; i++) {
        if (!quoted) fputc(c[i] < 0x20 || c[i] == 0x7f ? '?' : c[i], out);
        else if (c[i] == '"' || c[i] == '\\') fprintf(out, "\\%c", c[i]);
        else if (c[i] == '\n') fputs("\\n", out);
        else if (c[i] == '\t') fputs("\\t", out);
        else if (c[i] < 0x20 || c[i] == 0x7f) fprintf(out, "\\u%04x", c[i]);
        else fputc(c[i], out);
    }
    if (quoted) fputc('"', out);
}

static uint32_t ref(const Prog *p, uint32_t i) { return i < p->nrefs ? p->refs[i] : PIDX_NONE - 1; }

/* Dates outside years 1..9999 (and the open ends) are not calendar text. */
static void put_date(FILE *out, int32_t d)
{
    if (d == DATE_OPEN_FROM || d == DATE_OPEN_THROUGH) {
        fputs("open", out);
    } else if (d >= date_from_ymd(1, 1, 1) && d <= date_from_ymd(9999, 12, 31)) {
        char buf[16];
        date_format(d, buf);
        fputs(buf, out);
    } else {
        fprintf(out, "day %" PRId32, d);
    }
}

static void put_datetime(FILE *out, int64_t s)
{
    if (s >= (int64_t)date_from_ymd(1, 1, 1) * SECONDS_PER_DAY &&
        s < ((int64_t)date_from_ymd(9999, 12, 31) + 1) * SECONDS_PER_DAY) {
        char buf[24];
        datetime_format(s, buf);
        fputs(buf, out);
    } else {
        fprintf(out, "second %" PRId64, s);
    }
}

/* ---- codes ----------------------------------------------------------------- */

static void put_system(FILE *out, CodeKey k)
{
    const char *s = code_system_name(code_key_system(k));
    if (s) fputs(s, out);
    else fprintf(out, "SYS%u", (unsigned)code_key_system(k));
}

/* One end of an interval: the code, or for a key between codes (an index
 * boundary such as the key after 70559, see codes.h) the code before it
 * and '+': "70559+" lies after 70559 and before 70560. A key before every
 * code of its shape (damage) prints with '?' where it has no character. */
static void put_key(FILE *out, CodeKey k)
{
    char t[CODE_MAX_CHARS + 1];
    size_t n = code_key_format(k, t);
    if (code_key(code_key_system(k), t, n) == k) {
        fputs(t, out);
        return;
    }
    bool ok;
    CodeKey before = code_key_prev(k, &ok);
    if (ok) code_key_format(before, t);
    fprintf(out, "%s%s", t, ok ? "+" : "");
}

/* An interval of keys: "CPT 70551", "CPT 70551..70553"; the system again
 * after ".." when it differs (damage). An ICD-10 prefix is one interval per
 * length and shape of its free positions (codes.h), each printed like any
 * other ("ICD10 C5000..C5099"); neighbouring prefixes merge ("ICD10
 * C00..D49"). */
static void put_range(FILE *out, CodeKey lo, CodeKey hi)
{
    put_system(out, lo);
    fputc(' ', out);
    put_key(out, lo);
    if (lo == hi) return;
    fputs("..", out);
    if (code_key_system(lo) != code_key_system(hi)) {
        put_system(out, hi);
        fputc(' ', out);
    }
    put_key(out, hi);
}

/* ---- sections -------------------------------------------------------------- */

static void put_header(FILE *out, const Prog *p)
{
    fprintf(out, "; PCR bytecode %d.%d\npolicy ", BC_VERSION_MAJOR, BC_VERSION_MINOR);
    put_str(out, p, p->id, false);
    fputs(" version ", out);
    put_str(out, p, p->version, true);
    fputs("\n  payer      ", out);
    put_str(out, p, p->payer, true);
    for (uint32_t i = 0; i < p->payer_count; i++) {
        fputs(", ", out);
        put_str(out, p, ref(p, p->payer_first + i), true);
    }
    fputs("\n  title      ", out);
    put_str(out, p, p->title, true);
    if (p->source_doc != PIDX_NONE || p->source_title != PIDX_NONE) {
        fputs("\n  source     ", out);
        put_str(out, p, p->source_doc, true);
        fputc(' ', out);
        put_str(out, p, p->source_title, true);
    }
    for (uint32_t i = 0; i < p->contact_count; i++) {
        fputs("\n  contact    ", out);
        put_str(out, p, ref(p, p->contact_first + i), true);
    }
    if (p->reviewer != PIDX_NONE) {
        fputs("\n  reviewer   ", out);
        put_str(out, p, p->reviewer, true);
    }
    fputs("\n  effective  ", out);
    put_date(out, p->eff_from);
    fputs(" through ", out);
    put_date(out, p->eff_through);
    fprintf(out, "\n  hash       0x%016" PRIx64 "\n", p->source_hash);
    fprintf(out,
            "  tables     %u strings, %u constants, %u refs, %u fields, %u sets, %u ranges, "
            "%u rules, %u segments, %u holidays, %u code bytes\n",
            p->nstrs, p->nconsts, p->nrefs, p->nfields, p->nsets, p->nranges, p->nrules,
            p->nsegs, p->nholidays, p->ncode);
}

static void put_systems(FILE *out, unsigned mask)
{
    fputc('(', out);
    bool first = true;
    for (int s = 1; s < SYS_COUNT; s++) {
        if (!(mask & SYS_BIT(s))) continue;
        fprintf(out, "%s%s", first ? "" : ", ", code_system_name((CodeSystem)s));
        first = false;
    }
    fputc(')', out);
}

static void put_field_ref(FILE *out, const Prog *p, uint32_t f)
{
    if (f < p->nfields) put_str(out, p, p->fields[f].name, false);
    else fputc('?', out);
}

static void put_field(FILE *out, const Prog *p, uint32_t i)
{
    const PField *f = &p->fields[i];
    fprintf(out, "  %4u  ", i);
    put_str(out, p, f->name, false);
    fprintf(out, "  %s", prog_type_name(f->type));
    if (f->type == VT_LIST) fprintf(out, " %s", prog_type_name(f->elem));
    if (f->type == VT_CODE || (f->type == VT_LIST && f->elem == VT_CODE)) put_systems(out, f->systems);
    if (f->type == VT_CODE && f->tag_field != PIDX_NONE) {
        fputs(" system ", out);
        put_field_ref(out, p, f->tag_field);
    }
    if (f->type == VT_ENUM) {
        fputs(" {", out);
        for (uint32_t m = 0; m < f->enum_count; m++) {
            fputs(m ? ", " : "", out);
            put_str(out, p, ref(p, f->enum_first + m), false);
        }
        fputc('}', out);
    }
    if (f->flags & PF_REQUIRED) fputs(" required", out);
    if (f->flags & PF_DEFAULT) {
        fputs(" = ", out);
        switch (f->type) {
        case VT_BOOL: fputs(f->deflt ? "true" : "false", out); break;
        case VT_MONEY: {
            /* Cents as a decimal; unsigned arithmetic so INT64_MIN is fine. */
            uint64_t c = f->deflt < 0 ? 0 - (uint64_t)f->deflt : (uint64_t)f->deflt;
            fprintf(out, "%s%" PRIu64 ".%02u", f->deflt < 0 ? "-" : "", c / 100,
                    (unsigned)(c % 100));
            break;
        }
        case VT_DATE:
            if (f->deflt >= INT32_MIN && f->deflt <= INT32_MAX) put_date(out, (int32_t)f->deflt);
            else fprintf(out, "day %" PRId64, f->deflt);
            break;
        case VT_DATETIME: put_datetime(out, f->deflt); break;
        case VT_ENUM:
            if (f->deflt >= 0 && f->deflt < (int64_t)f->enum_count)
                put_str(out, p, ref(p, f->enum_first + (uint32_t)f->deflt), false);
            else fprintf(out, "?%" PRId64, f->deflt);
            break;
        default: fprintf(out, "%" PRId64, f->deflt);
        }
    }
    fputc('\n', out);
}

static void put_schema(FILE *out, const Prog *p)
{
    fprintf(out, "\nschema: %u fields (id ", p->nfields);
    put_field_ref(out, p, p->f_id);
    fputs(", payer ", out);
    put_field_ref(out, p, p->f_payer);
    fputs(", service_date ", out);
    put_field_ref(out, p, p->f_service_date);
    fputs(", requested_at ", out);
    if (p->f_requested_at == PIDX_NONE) fputs("none", out);
    else put_field_ref(out, p, p->f_requested_at);
    fputs(", code ", out);
    if (p->f_code == PIDX_NONE) fputs("none", out);
    else put_field_ref(out, p, p->f_code);
    fputs(", service_at ", out);
    if (p->f_service_at == PIDX_NONE) fputs("none", out);
    else put_field_ref(out, p, p->f_service_at);
    fputs(")\n", out);
    for (uint32_t i = 0; i < p->nfields; i++) put_field(out, p, i);
}

/* Ranges r[0 .. n), four to a line under an indented heading. */
static void put_ranges(FILE *out, const CodeRange *r, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++) {
        fputs(k % 4 == 0 ? "        " : "  ", out);
        put_range(out, r[k].lo, r[k].hi);
        if (k % 4 == 3 || k + 1 == n) fputc('\n', out);
    }
}

static void put_set_ref(FILE *out, const Prog *p, uint32_t s)
{
    fprintf(out, "%u (", s);
    if (s < p->nsets) put_str(out, p, p->sets[s].name, false);
    else fputc('?', out);
    fputc(')', out);
}

static void put_sets(FILE *out, const Prog *p)
{
    fprintf(out, "\nsets: %u (%u ranges)\n", p->nsets, p->nranges);
    for (uint32_t i = 0; i < p->nsets; i++) {
        const PSet *s = &p->sets[i];
        fprintf(out, "  %4u  ", i);
        put_str(out, p, s->name, false);
        fprintf(out, "  %u range%s\n", s->count, s->count == 1 ? "" : "s");
        if (s->first <= p->nranges && s->count <= p->nranges - s->first)
            put_ranges(out, p->ranges + s->first, s->count);
    }
}

static void put_rule_ref(FILE *out, const Prog *p, uint32_t r)
{
    fprintf(out, "%u (", r);
    if (r < p->nrules) put_str(out, p, p->rules[r].id, false);
    else fputc('?', out);
    fputc(')', out);
}

/* One instruction at block offset pc; returns its size, or 0 when it cannot
 * be decoded (the rest of the block is then shown as bytes). */
static uint32_t put_insn(FILE *out, const Prog *p, const uint8_t *code, uint32_t n, uint32_t pc)
{
    const BcOpInfo *o = bc_op_info(code[pc]);
    if (!o || o->opnd_size > n - pc - 1) return 0;
    uint32_t v = bc_get_operand(code + pc + 1, o->opnd_size);
    fprintf(out, "    %6u  %s", pc, o->name);
    switch (o->opnd) {
    case OPND_FIELD:
        fprintf(out, " %u (", v);
        put_field_ref(out, p, v);
        fputc(')', out);
        break;
    case OPND_CONST:
        fprintf(out, " %u", v);
        if (v < p->nconsts) {
            if (code[pc] == OP_INMASK) fprintf(out, " (= 0x%" PRIx64 ")", (uint64_t)p->consts[v]);
            else fprintf(out, " (= %" PRId64 ")", p->consts[v]);
        }
        break;
    case OPND_STR:
        fprintf(out, " %u (", v);
        put_str(out, p, v, true);
        fputc(')', out);
        break;
    case OPND_SET:
        fputc(' ', out);
        put_set_ref(out, p, v);
        break;
    case OPND_JUMP: fprintf(out, " -> %" PRIu64, (uint64_t)pc + 1 + o->opnd_size + v); break;
    case OPND_FIELD_SET:
    case OPND_FIELD_CONST: {
        uint32_t f = v & 0xFF, k = v >> 8;
        fprintf(out, " %u (", f);
        put_field_ref(out, p, f);
        fputc(')', out);
        if (o->opnd == OPND_FIELD_SET) {
            fputc(' ', out);
            put_set_ref(out, p, k);
        } else {
            fprintf(out, " %u", k);
            if (k < p->nconsts) {
                if (code[pc] == OP_LDINMASK) fprintf(out, " (= 0x%" PRIx64 ")", (uint64_t)p->consts[k]);
                else fprintf(out, " (= %" PRId64 ")", p->consts[k]);
            }
        }
        break;
    }
    default: break;
    }
    fputc('\n', out);
    return 1u + o->opnd_size;
}

static void put_code(FILE *out, const Prog *p, const PRule *r)
{
    if (r->code_off > p->ncode || r->code_len > p->ncode - r->code_off) return;
    const uint8_t *code = p->code + r->code_off;
    uint32_t pc = 0;
    while (pc < r->code_len) {
        uint32_t size = put_insn(out, p, code, r->code_len, pc);
        if (size == 0) break;
        pc += size;
    }
    for (; pc < r->code_len; pc++) fprintf(out, "    %6u  .byte 0x%02x\n", pc, code[pc]);
}

static void put_rule(FILE *out, const Prog *p, uint32_t i)
{
    const PRule *r = &p->rules[i];
    fprintf(out, "\nrule %u ", i);
    put_str(out, p, r->id, false);
    fputc(' ', out);
    put_str(out, p, r->title, true);
    fprintf(out, " (line %u)\n", r->line);
    const char *oc = bc_outcome_name(r->outcome);
    if (oc) fprintf(out, "    outcome    %s", oc);
    else fprintf(out, "    outcome    ?%u", r->outcome);
    if (r->exempt_all) fputs(" all", out);
    for (uint32_t k = 0; k < r->waive_count; k++) {
        fputs(k ? ", " : " ", out);
        put_rule_ref(out, p, ref(p, r->waive_first + k));
    }
    fputc('\n', out);
    for (uint32_t k = 0; k < r->cite_count; k++) {
        fputs("    cite       ", out);
        put_str(out, p, ref(p, r->cite_first + 2 * k), true);
        if (ref(p, r->cite_first + 2 * k + 1) != PIDX_NONE) {
            fputs(" section ", out);
            put_str(out, p, ref(p, r->cite_first + 2 * k + 1), true);
        }
        fputc('\n', out);
    }
    if (r->eff_from != DATE_OPEN_FROM || r->eff_through != DATE_OPEN_THROUGH) {
        fputs("    effective  ", out);
        put_date(out, r->eff_from);
        fputs(" through ", out);
        put_date(out, r->eff_through);
        fputc('\n', out);
    }
    if (r->rev_count) {
        fputs("    reviewer   ", out);
        for (uint32_t k = 0; k < r->rev_count; k++) {
            fputs(k ? ", " : "", out);
            put_str(out, p, ref(p, r->rev_first + k), true);
        }
        fputc('\n', out);
    }
    if (r->dl_unit) {
        const char *u = bc_unit_name(r->dl_unit), *d = bc_dir_name(r->dl_dir);
        fprintf(out, "    deadline   %" PRId32 " %s %s service\n", r->dl_amount, u ? u : "?",
                d ? d : "?");
    }
    fputs("    index      ", out);
    if (r->index_set == PIDX_NONE) fputs("always", out);
    else put_set_ref(out, p, r->index_set);
    if (r->unless_count) fprintf(out, "\n    unless     %u", r->unless_count);
    fprintf(out, "\n    code       %u+%u\n", r->code_off, r->code_len);
    put_code(out, p, r);
}

static void put_index(FILE *out, const Prog *p)
{
    fprintf(out, "\nindex: %u segments, %u entries; always:", p->nsegs, p->nseg_rules);
    for (uint32_t k = 0; k < p->nalways; k++) fprintf(out, " %u", p->always[k]);
    fputc('\n', out);
    for (uint32_t i = 0; i < p->nsegs; i++) {
        const PSeg *s = &p->segs[i];
        fputs("    ", out);
        put_range(out, s->lo, s->hi);
        fputs(" ->", out);
        if (s->first <= p->nseg_rules && s->count <= p->nseg_rules - s->first)
            for (uint32_t k = 0; k < s->count; k++) fprintf(out, " %u", p->seg_rules[s->first + k]);
        fputc('\n', out);
    }
}

static void put_holidays(FILE *out, const Prog *p)
{
    fprintf(out, "\nholidays: %u\n", p->nholidays);
    for (uint32_t k = 0; k < p->nholidays; k++) {
        fputs(k % 6 == 0 ? "    " : " ", out);
        put_date(out, p->holidays[k]);
        if (k % 6 == 5 || k + 1 == p->nholidays) fputc('\n', out);
    }
}

/* Prints the listing of p to out. Safe on unverified Progs; meant for
 * verified ones. */
void bc_disasm(const Prog *p, FILE *out)
{
    put_header(out, p);
    put_schema(out, p);
    put_sets(out, p);
    fprintf(out, "\nrules: %u\n", p->nrules);
    for (uint32_t i = 0; i < p->nrules; i++) put_rule(out, p, i);
    put_index(out, p);
    put_holidays(out, p);
}
