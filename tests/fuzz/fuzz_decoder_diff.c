/* fuzz_decoder_diff.c: the record decoder (src/rec.h) against jansson.
 *
 * The input is one record line. The schema is the standard request schema
 * (policies/std/request.pcr) plus `tags: list string`, compiled from the
 * source below in LLVMFuzzerInitialize. The same bytes go to rec_decode and
 * to json_loadb(JSON_REJECT_DUPLICATES); then:
 *
 *   a raw NUL byte anywhere        -> rec_decode must reject (jansson is no
 *                                     judge here: its reader can skip one);
 *   jansson rejects                -> rec_decode must reject. Except when
 *                                     jansson's reason is a number it cannot
 *                                     hold (1e999, 2^64: valid JSON, so no
 *                                     verdict);
 *   jansson accepts a non-object   -> rec_decode must reject;
 *   jansson accepts an object      -> the oracle (tests/oracle/json_oracle.h,
 *                                     shared with tests/unit/test_rec_oracle.c)
 *                                     applies the schema to jansson's values
 *                                     (the decoder's limits on keys, items
 *                                     and nesting included; dates and codes
 *                                     through dates.c and codes.c; money from
 *                                     the number's text by an independent
 *                                     digit-string method). If every member
 *                                     fits, rec_decode must accept with equal
 *                                     values; if one does not, it must
 *                                     reject. Either way the id must be
 *                                     offered (rec_partial) exactly when the
 *                                     top-level "id" is a string.
 *
 * Besides, the line is decoded again with the decoder's fast paths off
 * (rec_decoder_set_fast) and once more with them on, after the first
 * decode taught the learned key order this line's keys (the first decode
 * runs with the order the inputs before left): all three must give the
 * same verdict, message and values. And the input is read as a block of
 * lines by rec_decode_line (the line loop's way): when it takes a record,
 * that must be its first line's (up to the first '\n'), as rec_decode
 * gives it with the fast paths off.
 *
 * Any disagreement traps (FZ_CHECK), and so does an oracle that contradicts
 * itself (JoWant.bug). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "json_oracle.h"
#include "pcr/pcr.h"
#include "policy.h"
#include "prog.h"
#include "rec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_src[] =
    "schema request {\n"
    "  id: string required\n"
    "  payer: string required\n"
    "  plan: string\n"
    "  network: enum { \"in\", \"out\" }\n"
    "  setting: enum {\n"
    "    inpatient, outpatient, ambulatory_surgery, office, home, emergency, observation,\n"
    "    skilled_nursing, rehabilitation, ltac, hospice, residential, partial_hospital,\n"
    "    intensive_outpatient, ambulance\n"
    "  }\n"
    "  admission: enum { elective, emergency, urgent, maternity, newborn, transfer }\n"
    "  admitted_from_er: bool = false\n"
    "  delivery: enum { vaginal, cesarean }\n"
    "  stay_hours: int\n"
    "  code: code(CPT, HCPCS, REV) system code_system\n"
    "  code_system: enum { CPT, HCPCS, REV }\n"
    "  diagnoses: list code(ICD10)\n"
    "  units: int\n"
    "  price: money\n"
    "  visit_number: int\n"
    "  state: string\n"
    "  member_age: int\n"
    "  medicare_primary: bool = false\n"
    "  medicare_exhausted: bool = false\n"
    "  clinical_trial: bool = false\n"
    "  emergent: bool = false\n"
    "  service_date: date required\n"
    "  requested_at: datetime\n"
    "  tags: list string\n"
    "}\n"
    "policy diff {\n"
    "  payer \"diff\"\n"
    "  title \"decoder differential\"\n"
    "  version \"1\"\n"
    "  effective 2020-01-01\n"
    "}\n";

/* Set once by LLVMFuzzerInitialize (see fuzz_util.h). */
static struct {
    pcr_policy *pol; /* owns the Prog */
    const Prog *p;
    RecDecoder *dec;
    RecDecoder *slow; /* the fast paths off */
    RecDecoder *blk;  /* rec_decode_line */
} fz;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    pcr_diags *d = NULL;
    size_t len = sizeof schema_src - 1;
    if (pcr_compile_buffer("decoder_diff.pcr", schema_src, len, NULL, &fz.pol, &d) != PCR_OK) {
        pcr_diags_print(d, stderr, false);
        exit(2);
    }
    pcr_diags_free(d);
    fz.p = fz.pol->prog;
    fz.dec = rec_decoder_new(fz.p);
    fz.slow = rec_decoder_new(fz.p);
    fz.blk = rec_decoder_new(fz.p);
    if (!fz.dec || !fz.slow || !fz.blk) exit(2);
    rec_decoder_set_fast(fz.slow, false);
    return 0;
}

/* The record (and message) of decoder g equals r's (err's), value for
 * value. */
static void same_decode(const Record *r, const char *err, const RecDecoder *g, const Record *q,
                        const char *what)
{
    FZ_CHECK(strcmp(err, rec_error(g)) == 0, "%s: message \"%s\" vs \"%s\"", what, err,
             rec_error(g));
    FZ_CHECK(!r == !q, "%s: verdicts differ", what);
    if (!r) return;
    FZ_CHECK(r->present == q->present && r->none == q->none && r->date_only == q->date_only &&
                 r->nitems == q->nitems && r->has_id == q->has_id,
             "%s: records differ", what);
    for (uint32_t f = 0; f < fz.p->nfields; f++) {
        if (!(r->present >> f & 1)) continue;
        const RecVal *a = &r->v[f], *b = &q->v[f];
        bool text = fz.p->fields[f].type == VT_STRING || fz.p->fields[f].type == VT_CODE;
        FZ_CHECK(a->i == b->i && a->n == b->n && (!text || memcmp(a->s, b->s, a->n) == 0),
                 "%s: field %u differs", what, f);
    }
    for (uint32_t i = 0; i < r->nitems; i++)
        FZ_CHECK(r->items[i].i == q->items[i].i && r->items[i].n == q->items[i].n &&
                     memcmp(r->items[i].s, q->items[i].s, r->items[i].n) == 0,
                 "%s: list element %u differs", what, i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    /* the fast paths against the general path, twice (see the top) */
    const Record *r = rec_decode(fz.dec, line, size, 1);
    const Record *g = rec_decode(fz.slow, line, size, 1);
    same_decode(r, rec_error(fz.dec), fz.slow, g, "fast paths");
    r = rec_decode(fz.dec, line, size, 1);
    same_decode(r, rec_error(fz.dec), fz.slow, g, "fast paths, key order learned");
    /* the input as a block of lines (see the top) */
    const char *nl = memchr(line, '\n', size);
    size_t first = nl ? (size_t)(nl - line) : size, got = SIZE_MAX;
    const Record *b = rec_decode_line(fz.blk, line, size, 1, &got);
    if (b) {
        FZ_CHECK(got == first, "rec_decode_line: line end %zu, not %zu", got, first);
        same_decode(b, "", fz.slow, rec_decode(fz.slow, line, first, 1), "a line in a block");
    }
    const char *err = rec_error(fz.dec);
    if (!r) FZ_CHECK(strncmp(err, "record 1: ", 10) == 0 && err[10], "bad error text: %s", err);
    /* A raw NUL byte is never valid JSON, but jansson's reader can skip one
     * (after a number it reads "29\0.," as 29): no oracle needed. */
    if (memchr(line, '\0', size)) {
        FZ_CHECK(!r, "rec_decode accepts a line with a NUL byte");
        return 0;
    }
    json_error_t je;
    json_t *root = json_loadb(line, size, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (json_error_code(&je) != json_error_numeric_overflow)
            FZ_CHECK(!r, "jansson rejects (%s at byte %d), rec_decode accepts", je.text,
                     je.position);
        return 0;
    }
    if (!json_is_object(root)) {
        FZ_CHECK(!r, "rec_decode accepts a JSON value that is not an object");
        json_decref(root);
        return 0;
    }
    JoWant w;
    char msg[256];
    const char *diff;
    jo_want_from(fz.p, root, line, size, &w);
    FZ_CHECK(!w.bug[0], "oracle: %s", w.bug);
    if (w.ok) {
        FZ_CHECK(r, "rec_decode rejects a record the schema accepts: %s", err);
        diff = jo_compare(fz.p, r, &w, msg, sizeof msg);
        FZ_CHECK(!diff, "%s", diff);
        diff = jo_check_id(r, &w);
        FZ_CHECK(!diff, "%s", diff);
    } else if (w.why) { /* else unjudged: an over-long money number, no verdict */
        FZ_CHECK(!r, "rec_decode accepts a record the schema rejects (%s)", w.why);
        diff = jo_check_id(rec_partial(fz.dec), &w);
        FZ_CHECK(!diff, "%s", diff);
    }
    json_decref(root);
    return 0;
}
