/* test_rec_fast.c: the record decoder's fast paths (rec.c, "fast paths")
 * against its general path. Every line is decoded by two decoders over the
 * same schema, one with rec_decoder_set_fast(d, false), and both must give
 * the same verdict, the same message and the same values. The fast
 * decoder is fed the lines in sequence, so its key predictions come from
 * the lines before: the cases below change the key order, give keys that
 * extend or shorten a predicted key, and put an escape, whitespace, null,
 * a wrong type or an unusual number where each typed fast path expects its
 * usual shape. */
#include <criterion/criterion.h>
#include <stdio.h>

/* helpers.h defines static helpers this file does not need (th_run, ...). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "helpers.h"
#pragma GCC diagnostic pop
#include "rec.h"

typedef struct Pair {
    Prog *p;
    RecDecoder *fast, *slow;
    /* rec_decode_line with the fast paths on and off, and rec_decode on
     * the line it should find (by_line) */
    RecDecoder *blk, *blk_slow, *ref;
    size_t lines;    /* lines compared */
    size_t accepted; /* of them, accepted */
    size_t in_block; /* lines rec_decode_line took from a block */
} Pair;

/* Makes x's decoders for x->p. */
static void pair_decoders(Pair *x)
{
    x->fast = rec_decoder_new(x->p);
    x->slow = rec_decoder_new(x->p);
    x->blk = rec_decoder_new(x->p);
    x->blk_slow = rec_decoder_new(x->p);
    x->ref = rec_decoder_new(x->p);
    cr_assert(x->fast && x->slow && x->blk && x->blk_slow && x->ref);
    rec_decoder_set_fast(x->slow, false);
    rec_decoder_set_fast(x->blk_slow, false);
}

static Pair pair_new(void)
{
    Pair x = {0};
    x.p = th_std_prog();
    uint32_t tags = th_field(x.p, "tags", VT_LIST, 0);
    x.p->fields[tags].elem = VT_STRING;
    /* members that are not plain (a backslash, UTF-8, a control byte): a
     * line spelling one with the same bytes means something else */
    static const char *const modes[] = {"plain", "a\\b", "caf\xC3\xA9", "t\tb", "a\\u0062", NULL};
    th_enum(x.p, "mode", modes, 0);
    pair_decoders(&x);
    return x;
}

static void pair_free(Pair *x)
{
    rec_decoder_free(x->fast);
    rec_decoder_free(x->slow);
    rec_decoder_free(x->blk);
    rec_decoder_free(x->blk_slow);
    rec_decoder_free(x->ref);
    th_prog_free(x->p);
}

static void same_val(const Pair *x, uint32_t f, const RecVal *a, const RecVal *b, const char *line)
{
    const PField *pf = &x->p->fields[f];
    if (pf->type == VT_STRING || pf->type == VT_CODE) {
        cr_assert(a->n == b->n && memcmp(a->s, b->s, a->n) == 0, "field %u text differs: %s", f,
                  line);
    }
    cr_assert_eq(a->i, b->i, "field %u: %lld vs %lld: %s", f, (long long)a->i, (long long)b->i,
                 line);
    if (pf->type == VT_LIST) cr_assert_eq(a->n, b->n, "field %u: list length: %s", f, line);
}

/* The ids found in records a and b (accepted or not) are the same. */
static void same_id(const Record *a, const Record *b, const char *line, size_t len)
{
    cr_assert_eq(a->has_id, b->has_id, "id found differs: %.*s", (int)len, line);
    if (a->has_id)
        cr_assert(a->id_len == b->id_len && memcmp(a->id, b->id, a->id_len) == 0,
                  "ids differ: %.*s", (int)len, line);
}

/* Every value of the accepted records a and b but the id is the same. */
static void same_values(const Pair *x, const Record *a, const Record *b, const char *line, size_t len)
{
    cr_assert_eq(a->present, b->present, "present differs: %.*s", (int)len, line);
    cr_assert_eq(a->none, b->none, "none differs: %.*s", (int)len, line);
    cr_assert_eq(a->date_only, b->date_only, "date_only differs: %.*s", (int)len, line);
    cr_assert_eq(a->nitems, b->nitems, "items differ: %.*s", (int)len, line);
    for (uint32_t f = 0; f < x->p->nfields; f++)
        if (a->present >> f & 1) same_val(x, f, &a->v[f], &b->v[f], line);
    for (uint32_t i = 0; i < a->nitems; i++) same_val(x, 0, &a->items[i], &b->items[i], line);
}

/* Every value of the accepted records a and b is the same. */
static void same_record(const Pair *x, const Record *a, const Record *b, const char *line, size_t len)
{
    same_id(a, b, line, len);
    same_values(x, a, b, line, len);
}

/* The records of all unknown keys d has counted. */
static uint64_t unknown_total(const RecDecoder *d)
{
    uint64_t n = rec_unknown_other(d), c;
    for (size_t i = 0; rec_unknown_key(d, i, &c); i++) n += c;
    return n;
}

/* What may follow a line in a block: its end, the next line, spaces and
 * CRLF, bytes after the object, a lone '\r'. */
static const char *const tails[] = {"", "\n", "\n{\"id\":\"n\"}\n", " \t\r\n{", "\r", " x\n", "}\n", "\r\r\n", "\f\n"};

/* block[0..n) read by rec_decode_line on d: it gives the record rec_decode
 * gives for the block's first line (ref's a, the line's end at want), with
 * the same unknown keys counted (ref counted `unknown`), or NULL, counting
 * nothing; NULL only when rec_decode rejects that line or it has more than
 * REC_LINE_UNKNOWN unknown keys, or once for a line of 4 KiB or more (the
 * decoder's room grows with rec_decode). */
static void block_line(Pair *x, RecDecoder *d, const char *block, size_t n, const Record *a,
                       size_t want, uint64_t unknown)
{
    size_t got = SIZE_MAX;
    uint64_t counted = unknown_total(d);
    const Record *r = rec_decode_line(d, block, n, x->lines, &got);
    if (!r && a && unknown <= REC_LINE_UNKNOWN && want >= 4096) { /* the caller's fallback makes room */
        cr_assert(rec_decode(d, block, want, x->lines));
        counted = unknown_total(d);
        r = rec_decode_line(d, block, n, x->lines, &got);
    }
    uint64_t added = unknown_total(d) - counted;
    if (!r) {
        cr_assert_eq(added, 0, "rec_decode_line counted a key of a line it left: %.*s", (int)n, block);
        cr_assert(!a || unknown > REC_LINE_UNKNOWN, "a line rec_decode takes was left to it: %.*s",
                  (int)n, block);
        return;
    }
    cr_assert(a, "rec_decode_line took a line rec_decode does not: %.*s", (int)n, block);
    cr_assert_eq(added, unknown, "unknown keys counted %llu, not %llu: %.*s", (unsigned long long)added,
                 (unsigned long long)unknown, (int)n, block);
    cr_assert_eq(got, want, "line end %zu, not %zu: %.*s", got, want, (int)n, block);
    same_record(x, r, a, block, n);
    x->in_block++;
}

/* line followed by each tail, in a block: rec_decode_line against
 * rec_decode on the line up to the block's first '\n'. */
static void by_line(Pair *x, const char *line, size_t len)
{
    for (size_t t = 0; t < sizeof tails / sizeof *tails; t++) {
        size_t tn = strlen(tails[t]), n = len + tn;
        char *block = malloc(n + 1);
        cr_assert(block);
        memcpy(block, line, len);
        memcpy(block + len, tails[t], tn + 1);
        const char *nl = memchr(block, '\n', n);
        size_t want = nl ? (size_t)(nl - block) : n;
        uint64_t counted = unknown_total(x->ref);
        const Record *a = rec_decode(x->ref, block, want, x->lines);
        uint64_t unknown = unknown_total(x->ref) - counted;
        block_line(x, x->blk, block, n, a, want, unknown);
        block_line(x, x->blk_slow, block, n, a, want, unknown);
        free(block);
    }
}

/* Decodes line with both decoders and compares everything observable;
 * then the line in blocks (by_line). */
static void both(Pair *x, const char *line, size_t len)
{
    x->lines++;
    const Record *a = rec_decode(x->fast, line, len, x->lines);
    const Record *b = rec_decode(x->slow, line, len, x->lines);
    cr_assert_str_eq(rec_error(x->fast), rec_error(x->slow), "line %.*s", (int)len, line);
    cr_assert_eq(a == NULL, b == NULL, "verdicts differ: %.*s", (int)len, line);
    const Record *pa = rec_partial(x->fast), *pb = rec_partial(x->slow);
    same_id(pa, pb, line, len);
    by_line(x, line, len);
    if (!a) return;
    x->accepted++;
    same_values(x, a, b, line, len);
}

static void both_s(Pair *x, const char *line) { both(x, line, strlen(line)); }

#define BASE "\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":\"2026-03-02\""

/* {BASE,key:value} after a line of the same shape with a usual value, so
 * that the key is predicted. */
static void field(Pair *x, const char *key, const char *usual, const char *value)
{
    char line[8192];
    snprintf(line, sizeof line, "{" BASE ",\"%s\":%s}", key, usual);
    both_s(x, line);
    snprintf(line, sizeof line, "{" BASE ",\"%s\":%s}", key, value);
    both_s(x, line);
}

Test(rec_fast, typed_values_and_their_fallbacks)
{
    static const char *const dates[] = {
        "\"2024-02-29\"", "\"2026-02-29\"", "\"2026-03-0\\u0032\"", " \"2026-03-02\"", "\"2026-13-01\"",
        "\"2026-00-10\"", "\"2026-04-31\"", "\"2026-04-00\"", "\"1899-12-31\"", "\"1900-01-01\"",
        "\"2999-12-31\"", "\"3000-01-01\"", "\"2026-3-02\"", "\"2026/03/02\"", "null", "20260302",
        "\"2026-03-02x\"", "\"2026-03-02", "\"2026-03-02\\\"\"", "\"\"", "\"2026-03-02T10:00\"",
        "\"2\xC3\xA9\"", "\"20a6-03-02\"", "\"2026-03-0:\""};
    static const char *const datetimes[] = {
        "\"2026-03-02\"", "\"2026-03-02T10:15\"", "\"2026-03-02T10:15:30\"", "\"2026-03-02T24:00\"",
        "\"2026-03-02T23:60\"", "\"2026-03-02T10:15:60\"", "\"2026-03-02T10:1\"",
        "\"2026-03-02t10:15\"", "\"2026-03-02T10:15:3\"", "\"2026-03-02 10:15\"",
        "\"2026-03-02T10:15:30Z\"", "\"2026-03-02T1a:15\"", "\"2026-02-30T10:15\"",
        "\"2026-03-02T10\\u003a15\"", "\"2026-03-02T10:15", "\"2026-03-02T10:15:30", "null", "7"};
    static const char *const ints[] = {
        "0", "7", "-3", "-0", "01", "-01", "1e2", "1E2", "1.0", "1.5", "-", "--1", "+1", "123456789012345678",
        "1234567890123456789", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "99999999999999999999", "\"3\"", "7 ", "true", "null", "[1]", "0x1"};
    static const char *const money[] = {
        "12", "12.5", "12.50", "12.505", "12.500", "1e2", "1.5e1", "0.01", "-0.5", "00.5", "12.",
        "-12.34", "99999999999999999", "9999999999999999", "1234567890123456.78", "92233720368547758.07",
        "92233720368547758.08", "0.001", "0.10", "\"12\"", "12.5 ", ".5", "null"};
    static const char *const bools[] = {"true", "false", "tru", "fals", "truex", "\"true\"", "TRUE",
                                        "1", "null", "true "};
    static const char *const enums[] = {
        "\"office\"", "\"offic\"", "\"officex\"", "\"OFFICE\"", "\"off\\u0069ce\"", "3", "null",
        " \"office\"", "\"\"", "\"home\"", "\"ambulance\"", "[\"office\"]", "\"skilled_nursing\"",
        "\"skilled_nursinG\"", "\"skilled_nursing \"", "\"killed_nursing\"", "\"partial_hospital\"",
        "\"partial_hospita\"", "\"intensive_outpatient\"", "\"rehabilitation\"", "\"rehabilitatio\"",
        "\"ltac\"", "\"ltacx\"", "\"home\\\"\"", "\"hom\\u0065\"", "\"in\"", "\"out\"", "\"h\xC3\xA9\"",
        "\"home", "\"observation\"", "\"observatio\\n\"", "\"hospice\"", "\"hospice\x01\"",
        "\"residential\"", "\"inpatient\"", "\"inpatien\"", "\"outpatient\"", "\"emergency\""};
    static const char *const strings[] = {"\"plain\"", "\"a\\\"b\"", "\"caf\xC3\xA9\"",
                                          "\"caf\\u00e9\"", "\"\"", "\"x\xFF\"", "12", "null",
                                          "\"tab\there\"", "\"unterminated"};
    static const char *const codes[] = {"\"64633\"", "\"6463\"", "\"J0696\"", "\"0450\"", "\"450\"",
                                        "\"W1234\"", "\"64633 \"", "\"6463\\u0033\"", "64633", "null",
                                        "\"0213T\"", "\"0213t\"", "\"j0696\""};
    static const char *const lists[] = {
        "[\"I50.9\",\"S09.07\"]", "[\"I50.9\", \"S09.07\"]", "[ \"I50.9\"]", "[\"I50.9\" ]",
        "[\"I50.9\",]", "[\"I50.9\" ,\"I10\"]", "[\"I5\"]", "[]", "[\"I50.9\",3]", "[\"I50.9\",\"I5\"]",
        "[\"I5\",\"I50.9\"]", "[{\"code\":\"I50.9\"}]", "[{\"system\":\"ICD10\",\"code\":\"I50.9\"}]",
        "[{\"code\":\"I50.9\",\"system\":\"ICD10\"}]", "[{\"system\":\"CPT\",\"code\":\"I50.9\"}]",
        "[{\"system\":\"ICD10\",\"code\":\"I50.9\",\"x\":1}]", "[{\"system\":\"ICD10\",\"code\":\"I50.9\"} ]",
        "[{\"code\":\"I50.9\",\"code\":\"I10\"}]", "[{\"system\":\"ICD10\",\"code\":\"I5\"}]",
        "[{\"system\":\"ICD9\",\"code\":\"I50.9\"}]", "[{\"system\":\"ICD10\"}]", "[{}]", "[{\"code\":5}]",
        "[\"I50.9\"", "[\"I50.9\",", "[\"I50\\u002e9\"]", "null", "\"I50.9\"", "[null]", "[[\"I10\"]]"};
    static const char *const tags[] = {"[\"a\",\"b\"]", "[\"a\", \"b\"]", "[\"a\",{\"code\":\"b\"}]",
                                       "[\"a\\nb\"]", "[\"\"]", "[1]"};
    Pair x = pair_new();
    for (size_t i = 0; i < sizeof dates / sizeof *dates; i++) {
        field(&x, "service_at", "\"2026-03-02T08:00\"", dates[i]);
        char line[512];
        snprintf(line, sizeof line, "{\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":%s}", dates[i]);
        both_s(&x, line);
    }
    /* each byte of a date replaced by bytes near a digit and a dash */
    static const char near[] = "/:;<=>?-.0 \x2D\x3D\x6D\xB0\x20";
    for (size_t k = 0; k < 20; k++)
        for (size_t c = 0; c < sizeof near - 1; c++) {
            char line[512], date[11];
            size_t at = k % 10;
            memcpy(date, k < 10 ? "2027-12-31" : "1999-01-09", sizeof date);
            date[at] = near[c];
            snprintf(line, sizeof line, "{" BASE ",\"service_at\":\"%sT10:00\",\"units\":1}", date);
            both_s(&x, line);
            snprintf(line, sizeof line, "{\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":\"%s\"}", date);
            both_s(&x, line);
        }
    for (size_t i = 0; i < sizeof datetimes / sizeof *datetimes; i++)
        field(&x, "requested_at", "\"2026-03-01T09:30:00\"", datetimes[i]);
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) field(&x, "units", "1", ints[i]);
    for (size_t i = 0; i < sizeof money / sizeof *money; i++) field(&x, "price", "10.25", money[i]);
    for (size_t i = 0; i < sizeof bools / sizeof *bools; i++) field(&x, "emergent", "false", bools[i]);
    for (size_t i = 0; i < sizeof enums / sizeof *enums; i++) {
        field(&x, "setting", "\"home\"", enums[i]);
        /* with the line going on: enum_at reads 16 bytes after the quote */
        char line[512];
        for (int pad = 0; pad < 3; pad++) {
            snprintf(line, sizeof line, "{" BASE ",\"setting\":%s,\"units\":1%s,\"state\":\"NY\"}",
                     enums[i], pad == 0 ? "" : pad == 1 ? ",\"plan\":\"p\"" : ",\"plan\":\"a long plan name\"");
            both_s(&x, line);
        }
        snprintf(line, sizeof line, "{" BASE ",\"network\":%s,\"units\":1,\"state\":\"NY\"}", enums[i]);
        both_s(&x, line);
    }
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) field(&x, "plan", "\"gold\"", strings[i]);
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        char line[512];
        snprintf(line, sizeof line, "{\"id\":%s,\"payer\":\"acme\",\"service_date\":\"2026-03-02\"}",
                 strings[i]);
        both_s(&x, line);
    }
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        field(&x, "code", "\"70551\"", codes[i]);
        char line[512];
        snprintf(line, sizeof line, "{" BASE ",\"code\":%s,\"code_system\":\"HCPCS\"}", codes[i]);
        both_s(&x, line);
    }
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) field(&x, "diagnoses", "[\"I10\"]", lists[i]);
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++) field(&x, "tags", "[\"t\"]", tags[i]);
    static const char *const modes[] = {"\"plain\"", "\"a\\b\"", "\"caf\xC3\xA9\"", "\"t\tb\"",
                                        "\"t\\tb\"", "\"a\\u0062\"", "\"a\\\\u0062\"", "\"a\\\\b\""};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        char line[512];
        snprintf(line, sizeof line, "{" BASE ",\"mode\":%s,\"units\":1,\"state\":\"NY\"}", modes[i]);
        both_s(&x, line);
        both_s(&x, line);
    }
    /* each member of 9 bytes or more with one of its bytes past the 8th
     * changed: the same first word, length and hash table */
    static const char *const long_members[] = {"rehabilitation", "skilled_nursing", "observation",
                                               "residential", "outpatient", "inpatient", "emergency",
                                               "ambulance"};
    for (size_t i = 0; i < sizeof long_members / sizeof *long_members; i++)
        for (size_t at = 8; at < strlen(long_members[i]); at++)
            for (char c = 'a'; c <= 'z'; c++) {
                char value[32], line[512];
                snprintf(value, sizeof value, "%s", long_members[i]);
                value[at] = c;
                snprintf(line, sizeof line, "{" BASE ",\"setting\":\"%s\",\"units\":1,\"state\":\"NY\"}",
                         value);
                both_s(&x, line);
            }
    cr_assert_gt(x.accepted, 100);
    cr_assert_lt(x.accepted, x.lines);
    pair_free(&x);
}

Test(rec_fast, keys_predicted_or_not)
{
    static const char *const lines[] = {
        /* one order, then others, then back */
        "{" BASE ",\"units\":1,\"state\":\"NY\",\"member_age\":40}",
        "{" BASE ",\"units\":1,\"state\":\"NY\",\"member_age\":40}",
        "{" BASE ",\"state\":\"NY\",\"units\":1,\"member_age\":40}",
        "{" BASE ",\"member_age\":40,\"state\":\"NY\",\"units\":1}",
        "{" BASE ",\"units\":1,\"state\":\"NY\",\"member_age\":40}",
        /* a key that extends or shortens the predicted one, or escapes it */
        "{" BASE ",\"unitsx\":1,\"state\":\"NY\",\"member_age\":40}",
        "{" BASE ",\"unit\":1,\"state\":\"NY\",\"member_age\":40}",
        "{" BASE ",\"units \":1,\"state\":\"NY\",\"member_age\":40}",
        "{" BASE ",\"unit\\u0073\":1,\"state\":\"NY\",\"member_age\":40}",
        "{" BASE ",\"units\" :1,\"state\":\"NY\",\"member_age\":40}",
        "{" BASE ", \"units\":1,\"state\":\"NY\",\"member_age\":40}",
        "{" BASE ",\"units\"",
        "{" BASE ",\"units\":",
        "{" BASE ",\"units\":1,\"units\":2}",
        "{" BASE ",\"units\":1,\"unit\\u0073\":2}",
        "{" BASE ",\"units\":1,\"state\":\"NY\",\"state\":\"NJ\"}",
        /* long names: the compare goes past 16 bytes */
        "{" BASE ",\"medicare_exhausted\":true,\"medicare_primary\":false}",
        "{" BASE ",\"medicare_exhausted\":true,\"medicare_primary\":false}",
        "{" BASE ",\"medicare_exhaustex\":true,\"medicare_primary\":false}",
        "{" BASE ",\"medicare_exhausted\":true,\"medicare_primarY\":false}",
        "{" BASE ",\"medicare_exhausted\":true,\"medicare_primary\" :false}",
        /* unknown keys between known ones */
        "{" BASE ",\"zzz\":1,\"units\":1}",
        "{" BASE ",\"zzz\":{\"units\":1},\"units\":1}",
        "{" BASE ",\"id\":\"r2\"}",
        /* whitespace everywhere, tabs, CR */
        "{ \"id\" : \"r1\" , \"payer\" : \"acme\" , \"service_date\" : \"2026-03-02\" , \"units\" : 1 }",
        "\t{\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":\"2026-03-02\",\"units\":1}\r",
        "{\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":\"2026-03-02\",\"units\":1 }",
        "{\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":\"2026-03-02\",\"units\":1}x",
        "{\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":\"2026-03-02\",\"units\":1",
        "{\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":\"2026-03-02\",\"units\":1;}",
        "{\"id\":\"r1\"}",
        "{}",
    };
    Pair x = pair_new();
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) both_s(&x, lines[i]);
    /* every prefix of a long line */
    const char *full = "{" BASE ",\"units\":12,\"price\":3.5,\"emergent\":true,\"setting\":\"office\","
                       "\"diagnoses\":[\"I50.9\",{\"system\":\"ICD10\",\"code\":\"S09.07\"}],"
                       "\"requested_at\":\"2026-03-01T09:30:00\"}";
    for (size_t n = 0; n <= strlen(full); n++) {
        both(&x, full, n);
        both_s(&x, full);
    }
    pair_free(&x);
}

/* The learned key order (rec.c, "fast paths"): keys found at a place after
 * the previous key's skip the duplicate check, keys read otherwise move in
 * the order. Lines below come in an order meant to move fields around and
 * then repeat a field where it would be found in the order, before and
 * after a move, within the places tried and past them. */
Test(rec_fast, learned_key_order)
{
#define U(k, v) ",\"" k "\":" v
    static const char *const lines[] = {
        /* learn one order, then leave fields out (up to all the places tried) */
        "{" BASE U("units", "1") U("state", "\"NY\"") U("member_age", "40") U("emergent", "true") "}",
        "{" BASE U("units", "1") U("state", "\"NY\"") U("member_age", "40") U("emergent", "true") "}",
        "{" BASE U("emergent", "true") "}",
        "{\"id\":\"r1\"" U("emergent", "true") U("service_date", "\"2026-03-02\"") U("payer", "\"a\"") "}",
        "{" BASE U("member_age", "40") "}",
        /* a field repeated after keys found in order: in order, out of order */
        "{" BASE U("units", "1") U("state", "\"NY\"") U("units", "2") "}",
        "{" BASE U("units", "1") U("state", "\"NY\"") U("state", "\"NJ\"") "}",
        "{" BASE U("units", "1") U("id", "\"r2\"") "}",
        "{" BASE U("units", "1") U("payer", "\"b\"") U("state", "\"NY\"") "}",
        "{" BASE U("state", "\"NY\"") U("units", "1") U("state", "\"NJ\"") "}",
        "{" BASE U("state", "\"NY\"") U("units", "1") U("units", "3") "}",
        /* moved fields: a new field in the middle, one out of order */
        "{" BASE U("units", "1") U("price", "2.5") U("state", "\"NY\"") "}",
        "{" BASE U("units", "1") U("price", "2.5") U("state", "\"NY\"") "}",
        "{" BASE U("price", "2.5") U("units", "1") U("state", "\"NY\"") "}",
        "{" BASE U("price", "2.5") U("units", "1") U("price", "3") "}",
        "{" BASE U("units", "1") U("price", "2.5") U("units", "4") "}",
        "{\"payer\":\"acme\",\"id\":\"r1\",\"service_date\":\"2026-03-02\",\"payer\":\"x\"}",
        "{\"payer\":\"acme\",\"id\":\"r1\",\"service_date\":\"2026-03-02\",\"id\":\"x\"}",
        "{\"service_date\":\"2026-03-02\",\"payer\":\"acme\",\"id\":\"r1\"}",
        /* fields past the places tried, then repeated */
        "{" BASE U("units", "1") U("price", "1") U("visit_number", "2") U("state", "\"NY\"")
            U("member_age", "40") U("medicare_primary", "true") U("medicare_exhausted", "false")
            U("clinical_trial", "true") U("emergent", "true") U("requested_at", "\"2026-03-01\"") "}",
        "{" BASE U("requested_at", "\"2026-03-01\"") U("units", "1") "}",
        "{" BASE U("units", "1") U("requested_at", "\"2026-03-01\"") U("units", "2") "}",
        "{" BASE U("units", "1") U("requested_at", "\"2026-03-01\"") U("requested_at", "\"2026-03-01\"") "}",
        "{" BASE U("units", "1") U("requested_at", "\"2026-03-01\"") U("emergent", "true") "}",
        /* null read on the way (and for a required field), whitespace, unknown keys */
        "{" BASE U("units", "null") U("state", "null") U("units", "1") "}",
        "{" BASE U("units", "nul") U("state", "null") "}",
        "{" BASE U("units", "nullx") U("state", "null") "}",
        "{\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":null}",
        "{\"id\":\"r1\",\"payer\":null,\"service_date\":\"2026-03-02\"}",
        "{" BASE U("units", "1") ",\"zz\":1" U("state", "\"NY\"") U("units", "2") "}",
        "{" BASE U("units", "1") ", \"state\":\"NY\"" U("units", "2") "}",
        "{" BASE U("units", "1") " ,\"state\":\"NY\"" U("state", "\"NJ\"") "}",
        "{" BASE U("units", "1") ",\"stat\\u0065\":\"NY\"" U("state", "\"NJ\"") "}",
        /* keys ending under 16 bytes before the end of the line */
        "{" BASE U("units", "1") "}",
        "{" BASE U("units", "1") "}",
        "{" BASE U("units", "1") U("units", "1") "}",
        "{" BASE U("units", "1") ",\"units\"",
        "{" BASE U("units", "1") ",\"units\":",
        "{" BASE U("units", "1") ",\"un",
    };
#undef U
    Pair x = pair_new();
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
            both_s(&x, lines[i]);
            /* each line again after itself, and after the lines before it backwards */
            both_s(&x, lines[i]);
            for (size_t j = i; round == 2 && j-- > 0;) both_s(&x, lines[j]);
        }
    /* many orders of the same fields, each line twice */
    static const char *const keys[] = {"\"units\":1", "\"state\":\"NY\"", "\"member_age\":40",
                                       "\"price\":2", "\"emergent\":false", "\"units\":3"};
    unsigned seed = 12345;
    for (int i = 0; i < 4000; i++) {
        char line[512];
        size_t o = (size_t)snprintf(line, sizeof line, "{" BASE);
        int n = (int)(seed % 6);
        for (int j = 0; j < n; j++) {
            seed = seed * 1103515245u + 12345u;
            o += (size_t)snprintf(line + o, sizeof line - o, ",%s", keys[(seed >> 16) % 6]);
        }
        seed = seed * 1103515245u + 12345u;
        snprintf(line + o, sizeof line - o, "}");
        both_s(&x, line);
        both_s(&x, line);
    }
    cr_assert_gt(x.accepted, 1000);
    cr_assert_gt(x.lines - x.accepted, 1000);
    cr_assert_gt(x.in_block, 8000); /* each accepted line in most blocks */
    pair_free(&x);
}

/* Every field's key with each byte of `"name":` changed, right after a
 * line that put the field in the learned order at that place: the
 * compare of the key must look at every byte of it. */
Test(rec_fast, every_byte_of_a_learned_key)
{
    Pair x = pair_new();
    static const char subst[] = {'x', '"', ' ', '\\', ':', '\0'};
    for (uint32_t f = 0; f < x.p->nfields; f++) {
        const char *name = x.p->strs[x.p->fields[f].name];
        char key[64], line[256];
        int n = snprintf(key, sizeof key, "\"%s\":", name);
        for (int at = 0; at < n; at++)
            for (size_t c = 0; c < sizeof subst; c++) {
                snprintf(line, sizeof line, "{" BASE ",\"plan\":\"p\",%snull,\"units\":1}", key);
                both_s(&x, line);
                char bad[64];
                memcpy(bad, key, (size_t)n + 1);
                bad[at] = subst[c] ? subst[c] : (char)(key[at] + 1);
                size_t len = (size_t)snprintf(line, sizeof line,
                                              "{" BASE ",\"plan\":\"p\",%.*snull,\"units\":1}", n,
                                              bad);
                both(&x, line, len);
            }
    }
    pair_free(&x);
}

/* The key and list-element limits count code objects read by the fast
 * path as the general path counts them. */
Test(rec_fast, limits_with_code_objects)
{
    Pair x = pair_new();
    static char line[64 * 1024];
    for (int n = 120; n <= 130; n++) {
        size_t o = (size_t)snprintf(line, sizeof line, "{" BASE ",\"diagnoses\":[");
        for (int i = 0; i < n; i++)
            o += (size_t)snprintf(line + o, sizeof line - o, "%s{\"system\":\"ICD10\",\"code\":\"I10\"}",
                                  i ? "," : "");
        snprintf(line + o, sizeof line - o, "]}");
        both_s(&x, line);
    }
    for (int n = 1020; n <= 1026; n += 3) {
        size_t o = (size_t)snprintf(line, sizeof line, "{" BASE ",\"diagnoses\":[");
        for (int i = 0; i < n; i++)
            o += (size_t)snprintf(line + o, sizeof line - o, "%s\"I10\"", i ? "," : "");
        snprintf(line + o, sizeof line - o, "]}");
        both_s(&x, line);
    }
    pair_free(&x);
}

/* Every month of every year around the accepted ones, with the days where
 * month lengths and leap years matter. */
Test(rec_fast, every_date_shape)
{
    Pair x = pair_new();
    static const int days[] = {0, 1, 9, 10, 27, 28, 29, 30, 31, 32, 39, 99};
    char line[256];
    for (int y = 1898; y <= 3001; y++)
        for (int m = 0; m <= 13; m++)
            for (size_t i = 0; i < sizeof days / sizeof *days; i++) {
                snprintf(line, sizeof line,
                         "{\"id\":\"r1\",\"payer\":\"acme\",\"service_date\":\"%04d-%02d-%02d\"}", y,
                         m, days[i]);
                both_s(&x, line);
            }
    cr_assert_gt(x.accepted, 1100 * 12 * 7);
    pair_free(&x);
}

/* enum_vec (one 16-byte compare per member) against the general path:
 * every member of every enum field, and each with one byte changed, one
 * byte less, one more, as the last member of a line (fewer than 16 bytes
 * to its end: enum_at and enum_find decide) and with the line going on.
 * "kinds" has members of 1 to 16 bytes (past ENUM_VEC_MAX: not in the
 * table); "twins" has two members with the same first 8 bytes and length,
 * which no multiplier keeps apart (no table: enum_at decides). */
Test(rec_fast, every_enum_member_by_one_compare)
{
    Pair x = {0};
    x.p = th_std_prog();
    static const char *const kinds[] = {"a", "ab", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklm",
                                        "abcdefghijklmn", "abcdefghijklmno", "abcdefghijklmnop",
                                        "x_y", "Zz", NULL};
    static const char *const twins[] = {"abcdefgh_1", "abcdefgh_2", "b", NULL};
    static const char *const modes[] = {"plain", "a\\b", "caf\xC3\xA9", NULL};
    th_enum(x.p, "kinds", kinds, 0);
    th_enum(x.p, "twins", twins, 0);
    th_enum(x.p, "mode", modes, 0);
    pair_decoders(&x);
    static const char near[] = {'"', '\\', 'a', 'z', '_', '0', ' ', '\x01', '\x7F'};
    for (uint32_t f = 0; f < x.p->nfields; f++) {
        const PField *pf = &x.p->fields[f];
        if (pf->type != VT_ENUM) continue;
        const char *key = x.p->strs[pf->name];
        for (uint32_t m = 0; m < pf->enum_count; m++) {
            const char *name = x.p->strs[x.p->refs[pf->enum_first + m]];
            size_t n = strlen(name);
            char value[64], line[512];
            /* variant v: 0 the member; 1 .. n one byte less; then one more
             * byte; then byte i changed to each of near[] and its
             * neighbours */
            size_t variants = 1 + 1 + 1 + n * (sizeof near + 2);
            for (size_t v = 0; v < variants; v++) {
                memcpy(value, name, n + 1);
                if (v == 1) {
                    value[n - 1] = '\0';
                } else if (v == 2) {
                    value[n] = 'q';
                    value[n + 1] = '\0';
                } else if (v > 2) {
                    size_t i = (v - 3) / (sizeof near + 2), c = (v - 3) % (sizeof near + 2);
                    value[i] = c < sizeof near ? near[c] : (char)(name[i] + (c == sizeof near ? 1 : -1));
                }
                for (int tail = 0; tail < 3; tail++) {
                    snprintf(line, sizeof line,
                             tail == 0   ? "{" BASE ",\"%s\":\"%s\"}"
                             : tail == 1 ? "{" BASE ",\"%s\":\"%s\",\"units\":1,\"state\":\"NY\"}"
                                         : "{" BASE ",\"%s\":\"%s\" ,\"units\":1}",
                             key, value);
                    both_s(&x, line);
                }
            }
        }
    }
    cr_assert_gt(x.accepted, 200);
    cr_assert_lt(x.accepted, x.lines);
    pair_free(&x);
}

/* The limit of REC_MAX_KEYS keys counted across both paths: keys of the
 * fast member loop, of code objects in a fast list, of unknown keys and
 * nested objects on the general path, in either order, around the limit. */
Test(rec_fast, key_limit_across_paths)
{
    Pair x = pair_new();
    static char line[64 * 1024];
    both_s(&x, "{" BASE ",\"diagnoses\":[\"I10\"],\"units\":1,\"state\":\"NY\",\"member_age\":3}");
    for (int objs = 0; objs <= 120; objs += 40)
        for (int extra = REC_MAX_KEYS - 2 * objs - 12; extra <= REC_MAX_KEYS - 2 * objs - 4; extra++) {
            if (extra < 0) continue;
            for (int form = 0; form < 3; form++) {
                size_t o = (size_t)snprintf(line, sizeof line, "{" BASE ",\"diagnoses\":[");
                for (int i = 0; i < objs; i++)
                    o += (size_t)snprintf(line + o, sizeof line - o,
                                          "%s{\"system\":\"ICD10\",\"code\":\"I10\"}", i ? "," : "");
                o += (size_t)snprintf(line + o, sizeof line - o, "%s]", objs ? "" : "\"I10\"");
                if (form == 2) o += (size_t)snprintf(line + o, sizeof line - o, ",\"units\":1");
                for (int i = 0; i < extra; i++)
                    o += (size_t)snprintf(line + o, sizeof line - o,
                                          form == 1 && i % 2 ? ",\"u%d\":{\"k\":1}" : ",\"u%d\":1", i);
                snprintf(line + o, sizeof line - o, "%s,\"state\":\"NY\",\"member_age\":3}",
                         form == 2 ? "" : ",\"units\":1");
                both_s(&x, line);
            }
        }
    cr_assert_gt(x.accepted, 10);
    cr_assert_lt(x.accepted, x.lines);
    pair_free(&x);
}

/* code_object_at (a code object as one pattern) against the general path:
 * a list of {"system":"S","code":"C"} objects for each system name (and
 * near misses of it), codes of 0 to 16 bytes with a byte changed, other
 * spellings of the object, and the list near the end of the line (fewer
 * than 48 bytes left: the object is read the other way). */
Test(rec_fast, code_objects_as_one_pattern)
{
    Pair x = {0};
    x.p = th_std_prog();
    uint32_t procs = th_field(x.p, "procs", VT_LIST, 0);
    x.p->fields[procs].elem = VT_CODE;
    x.p->fields[procs].systems = SYS_BIT(SYS_CPT) | SYS_BIT(SYS_HCPCS) | SYS_BIT(SYS_ICD10);
    pair_decoders(&x);
    static const char *const systems[] = {"CPT", "HCPCS", "ICD10", "REV", "POS", "CPX", "HCPCT",
                                          "ICD1", "C", "cpt", "CPT\\u0020", ""};
    static const char *const codes[] = {"93350", "G0439", "I50.9", "0213T", "Z00.00", "", "9",
                                        "9335", "933500", "A1234567890123", "A12345678901234",
                                        "A123456789012345", "9335\\u0030", "93 50", "9\xC3\xA9"};
    static const char *const shapes[] = {
        "{\"system\":\"%s\",\"code\":\"%s\"}", "{\"system\":\"%s\",\"code\":\"%s\" }",
        "{\"system\":\"%s\", \"code\":\"%s\"}", "{\"system\":\"%s\",\"code\":\"%s\",\"x\":1}",
        "{\"system\":\"%s\",\"cod\":\"%s\"}", "{\"system\":\"%s\",\"code\":\"%s\"]",
        "{\"system\":\"%s\",\"code\":\"%s\"", "{\"system\" :\"%s\",\"code\":\"%s\"}"};
    char obj[256], line[1024];
    for (size_t y = 0; y < sizeof systems / sizeof *systems; y++)
        for (size_t c = 0; c < sizeof codes / sizeof *codes; c++)
            for (size_t h = 0; h < sizeof shapes / sizeof *shapes; h++) {
                snprintf(obj, sizeof obj, shapes[h], systems[y], codes[c]);
                for (int tail = 0; tail < 4; tail++) {
                    snprintf(line, sizeof line,
                             tail == 0   ? "{" BASE ",\"procs\":[%s]}"
                             : tail == 1 ? "{" BASE ",\"procs\":[%s,%s],\"units\":1,\"state\":\"NY\",\"member_age\":40}"
                             : tail == 2 ? "{" BASE ",\"procs\":[{\"system\":\"CPT\",\"code\":\"93350\"},%s]"
                                           ",\"units\":1,\"state\":\"NY\",\"member_age\":40}"
                                         : "{" BASE ",\"procs\":[%s],\"plan\":\"%s\"}",
                             obj, tail == 1 ? obj : tail == 3 ? "a plan name of some length" : "");
                    both_s(&x, line);
                }
            }
    /* each byte of a usual object changed */
    static const char usual[] = "{\"system\":\"HCPCS\",\"code\":\"G0439\"}";
    static const char near[] = {'"', '\\', '}', ',', 'A', '0', ' ', '\x01', '\x80'};
    for (size_t i = 0; i < sizeof usual - 1; i++)
        for (size_t c = 0; c < sizeof near; c++) {
            snprintf(obj, sizeof obj, "%s", usual);
            obj[i] = near[c];
            snprintf(line, sizeof line,
                     "{" BASE ",\"procs\":[%s,%s],\"units\":1,\"state\":\"NY\",\"member_age\":40}", usual,
                     obj);
            both_s(&x, line);
        }
    cr_assert_gt(x.accepted, 100);
    cr_assert_lt(x.accepted, x.lines);
    pair_free(&x);
}

/* FAST_INT's loop-free path (1 or 2 digits, then ',' or '}') against the
 * general path: every spelling of 1 to 3 bytes over digits, signs, a
 * fraction, an exponent, the bytes that end a value and some that do
 * not, in the middle of a line (the path reads 3 bytes), as its last
 * member and followed by whitespace; and every integer 0..1000. */
Test(rec_fast, short_integers_without_a_loop)
{
    static const char alpha[] = "0159-.eE,}x \"";
    enum { A = sizeof alpha - 1 };
    Pair x = pair_new();
    char v[4], line[256];
    for (int len = 1; len <= 3; len++) {
        int total = len == 1 ? A : len == 2 ? A * A : A * A * A;
        for (int i = 0; i < total; i++) {
            for (int k = 0, r = i; k < len; k++, r /= A) v[k] = alpha[r % A];
            v[len] = '\0';
            field(&x, "units", "1", v);
            snprintf(line, sizeof line, "{" BASE ",\"units\":%s,\"state\":\"NY\"}", v);
            both_s(&x, line);
            snprintf(line, sizeof line, "{" BASE ",\"units\":%s}  ", v);
            both_s(&x, line);
        }
    }
    for (int i = 0; i <= 1000; i++) {
        snprintf(line, sizeof line, "{" BASE ",\"units\":%d,\"member_age\":%d}", i, 1000 - i);
        both_s(&x, line);
        snprintf(line, sizeof line, "{" BASE ",\"units\":-%d,\"member_age\":%d}", i, i % 100);
        both_s(&x, line);
    }
    cr_assert_gt(x.accepted, 2000);
    pair_free(&x);
}

/* Lines in a block as the line loop reads them (rec_decode_line, by_line):
 * lines with whitespace wherever JSON allows it, each space in turn made a
 * '\n' (which ends the line there, inside the object), a '\n' put before
 * each byte (blank lines, lines split after a ',', a ':', inside a string
 * or a number), CRLF endings, bytes after the object, unknown keys, and
 * lines around the decoder's first room of 4 KiB, some of them with an
 * escape (so that their string, unescaped, fills that room). */
Test(rec_fast, lines_in_a_block)
{
    static const char *const lines[] = {
        "{ \"id\" : \"r1\" , \"payer\" : \"acme\" , \"service_date\" : \"2026-03-02\" , \"units\" : 1 ,"
        " \"tags\" : [ \"a\" , \"b\" ] , \"diagnoses\" : [ \"I50.9\" ] , \"state\" : null }",
        "{" BASE ",\"units\":12,\"price\":2.5,\"tags\":[\"a\",\"b\"],\"emergent\":true,\"mode\":\"plain\"}",
        "{" BASE ",\"code\":\"64633\",\"code_system\":\"CPT\",\"diagnoses\":[\"I50.9\",\"Z00.00\"]}",
        "{" BASE ",\"code\":\"6463\"}",
        "{" BASE ",\"zz\":[1,{\"a\":2}],\"units\":3}",
        "\t {" BASE "} \r",
        "{" BASE ",\"state\":\"a\\nb\"}",
        "{" BASE "}}",
        "{}",
        "{" BASE ",\"units\":1",
    };
    Pair x = pair_new();
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        size_t len = strlen(lines[i]);
        char block[1024];
        both(&x, lines[i], len);
        for (size_t k = 0; k < len; k++)
            if (lines[i][k] == ' ' || lines[i][k] == '\t') {
                memcpy(block, lines[i], len);
                block[k] = '\n';
                both(&x, block, len);
            }
        for (size_t k = 0; k <= len; k++) {
            memcpy(block, lines[i], k);
            block[k] = '\n';
            memcpy(block + k + 1, lines[i] + k, len - k);
            both(&x, block, len + 1);
        }
    }
    cr_assert_gt(x.in_block, 100);
    /* around 4 KiB: a long id, plain or all escapes */
    static char line[8192];
    for (size_t n = 4070; n < 4170; n++)
        for (int esc = 0; esc < 2; esc++) {
            size_t o = (size_t)snprintf(line, sizeof line, "{\"payer\":\"acme\",\"service_date\":\"2026-03-02\",\"id\":\"");
            while (o < n - 2) {
                if (esc && line[o - 1] == '"') { /* one escape: the whole string is copied */
                    memcpy(line + o, "\\n", 2);
                    o += 2;
                } else {
                    line[o++] = 'a';
                }
            }
            memcpy(line + o, "\"}", 3);
            both(&x, line, n);
        }
    pair_free(&x);
}
