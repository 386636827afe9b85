/* rec.h: the schema-driven, streaming request-record decoder.
 *
 * A RecDecoder is built once per schema and reused for every line: decoding
 * allocates nothing per record (buffers grow only when a record is larger
 * than any before it, and never beyond the documented limits). Values point
 * into the line (strings without escapes, numbers) or the decoder's scratch
 * buffer (unescaped strings): they stay valid until the next rec_decode() on
 * the same decoder, and only while the caller keeps the line.
 *
 * A line is malformed when it is not exactly one JSON object (RFC 8259;
 * surrounding whitespace allowed), has invalid UTF-8, a duplicate key, lacks
 * a PF_REQUIRED field, or has a value of the wrong type, a bad date, an
 * unknown enum member or a code that is not a valid code of any of its
 * field's systems (codes.h code_normalize). Unknown top-level keys are
 * counted (rec_unknown_key) and skipped, their values still validated as
 * JSON; in strict mode (rec_decoder_set_strict) they make the record
 * malformed. null says the field does not apply (Record.none), which
 * differs from absent (unknown); a required field given as null is
 * malformed. */
#ifndef PCR_REC_H
#define PCR_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prog.h"

enum {
    REC_MAX_LINE = 1 << 20,  /* bytes in one record line */
    REC_MAX_ITEMS = 1024,    /* list elements in one record, all lists together */
    REC_MAX_KEYS = 256,      /* keys in one record, known and unknown */
    REC_MAX_DEPTH = 64,      /* nesting inside skipped unknown values */
    REC_ERR_MAX = 512,
    REC_UNKNOWN_KEYS = 32,      /* distinct unknown key names counted by name */
    REC_LINE_UNKNOWN = 8,       /* unknown keys of a record rec_decode_line takes
                                   (more: it leaves the record to rec_decode) */
    REC_UNKNOWN_NAME_MAX = 40,  /* longer unknown names are counted as "other" */
};

/* One decoded value. By field type:
 *   VT_BOOL: i = 0/1     VT_INT: i     VT_MONEY: i = cents     VT_DATE: i = days
 *   VT_DATETIME: i = seconds (a bare date is midnight)     VT_ENUM: i = member index
 *   VT_CODE: i = CodeKey    VT_STRING: s, n (UTF-8, escapes resolved, no NUL added)
 *   VT_LIST: items[i .. i + n) */
typedef struct RecVal {
    int64_t i;
    const char *s;
    uint32_t n;
} RecVal;

typedef struct Record {
    uint64_t present; /* bit f: field f was given (not null); defaults are NOT set here */
    uint64_t none;    /* bit f: field f was given as null: it does not apply (tests of it
                         are false); never set together with present */
    uint64_t date_only; /* bit f: datetime field f was given as a bare date (v[f] is its
                           00:00); `timely` then knows only the day of the request */
    RecVal v[PCR_MAX_FIELDS];
    RecVal *items;    /* list elements (VT_CODE: i; VT_STRING: s, n) */
    uint32_t nitems;
    bool has_id;      /* the id was read (even if the record is otherwise malformed) */
    const char *id;   /* raw id string, escapes resolved */
    uint32_t id_len;
} Record;

typedef struct RecDecoder RecDecoder;

/* Builds a decoder for prog's schema. prog must outlive the decoder. */
RecDecoder *rec_decoder_new(const Prog *prog);
void rec_decoder_free(RecDecoder *d);

/* Decodes one line (no trailing newline; a trailing '\r' is whitespace).
 * recno (1-based) is used in the error message. Returns the record, or NULL
 * when malformed; then rec_error() is e.g.
 *   record 17: field 'service_date': expected date YYYY-MM-DD, got "2026-13-45"
 * and rec_partial() still offers the id when it could be read. */
const Record *rec_decode(RecDecoder *d, const char *line, size_t len, uint64_t recno);
/* rec_decode_line: the line at text[0..n) that ends at its first '\n' (or
 * at n), decoded in the same pass that finds that end: returns the record
 * and sets *len to the line's length ('\n' not counted), exactly as
 * rec_decode(d, text, *len, recno) would, its unknown keys counted as
 * rec_decode counts them. Returns NULL, having counted nothing, when that
 * takes more than the one pass (a malformed line, one longer than the
 * decoder has room for, one with more than REC_LINE_UNKNOWN unknown keys
 * or with any in strict mode): the caller finds the line's end and calls
 * rec_decode, which gives the record or the message. */
const Record *rec_decode_line(RecDecoder *d, const char *text, size_t n, uint64_t recno, size_t *len);
const char *rec_error(const RecDecoder *d);
const Record *rec_partial(const RecDecoder *d);

/* Strict mode: a record with an unknown top-level key is malformed,
 *   record 4: unknown field 'seting' (did you mean 'setting'?)
 * reported after any JSON error in the line and before code errors. */
void rec_decoder_set_strict(RecDecoder *d, bool strict);

/* Unknown top-level keys seen since the decoder was built, in the order
 * first seen: rec_unknown_count() names, the i-th (NUL-terminated, owned by
 * d) with its count of records; NULL when i is out of range. Keys beyond
 * REC_UNKNOWN_KEYS names or longer than REC_UNKNOWN_NAME_MAX are only
 * counted, in rec_unknown_other(). Every record that has the key counts,
 * whether or not it was otherwise well formed. */
size_t rec_unknown_count(const RecDecoder *d);
const char *rec_unknown_key(const RecDecoder *d, size_t i, uint64_t *count);
uint64_t rec_unknown_other(const RecDecoder *d);
/* Adds src's unknown-key counts to dst's (a clone's decoder, after a
 * threaded run). */
void rec_unknown_merge(RecDecoder *dst, const RecDecoder *src);

/* The schema field whose name is nearest to name[0..n) (at most 2 edits,
 * 1 for short names), or NULL: for "did you mean". */
const char *rec_field_nearest(const RecDecoder *d, const char *name, size_t n);

/* Turns the fast paths (typed value decoding, the learned key order;
 * rec.c "fast paths") on (the default) or off. They change no result and no
 * message: tests decode each line both ways and compare. */
void rec_decoder_set_fast(RecDecoder *d, bool on);

/* The slot of the decoder's field table that key name[0..n) hashes to
 * (the first one probed): for tests that look for keys sharing a slot with
 * a field. Any key may share one; only the field itself is found there. */
uint32_t rec_key_slot(const RecDecoder *d, const char *name, size_t n);

/* ---- fed records --------------------------------------------------------
 * A record given member by member instead of as a line (a front end that
 * holds the request already parsed, such as PostgreSQL's jsonb): rec_begin,
 * then one rec_put_* per top-level member, in any order, then rec_finish.
 * Each value goes through the same per-type conversion as in a line, so it
 * means the same. key[0..kn) is the key as the JSON string means it
 * (escapes resolved); a string value the same; a number is given as its
 * JSON text; rec_put_json gives one value as JSON text (an array or an
 * object, or anything). Strings and JSON texts must stay valid, unchanged,
 * until the record's Record is no longer used; number texts only during
 * the call.
 *
 * This route takes only records it decodes exactly as the text reader
 * would: a put returns false (and rec_finish then NULL) for an unknown or
 * repeated key, a value its field rejects, more keys or text than a line
 * may hold, a string that is not UTF-8 or holds NUL, a rec_put_json text
 * longer than the decoder's scratch room, anything. The caller then
 * decodes the record's JSON text with rec_decode, which gives the message.
 * rec_finish returns the record (as rec_decode does, valid until the next
 * record), or NULL; rec_error() is then not meaningful. Unknown keys are
 * never counted here (the text route counts them). */
void rec_begin(RecDecoder *d, uint64_t recno);
bool rec_put_string(RecDecoder *d, const char *key, size_t kn, const char *s, size_t n);
bool rec_put_number(RecDecoder *d, const char *key, size_t kn, const char *text, size_t n);
bool rec_put_bool(RecDecoder *d, const char *key, size_t kn, bool v);
bool rec_put_null(RecDecoder *d, const char *key, size_t kn);
bool rec_put_json(RecDecoder *d, const char *key, size_t kn, const char *json, size_t n);
/* rec_put_members: members m[0..n) (pcr.h pcr_feed_member), each as the
 * rec_put_* of its type would; PCR_FEED_INT as rec_put_number of its
 * decimal text, PCR_FEED_STRINGS as rec_put_json of the array's text. */
struct pcr_feed_member;
bool rec_put_members(RecDecoder *d, const struct pcr_feed_member *m, size_t n);
/* rec_fed_utf8_checked: with checked, the strings fed from now on are taken
 * to be UTF-8 without NUL (the caller checked them: pcr.h
 * pcr_engine_feed_utf8_checked) and not checked again; off by default. */
void rec_fed_utf8_checked(RecDecoder *d, bool checked);
const Record *rec_finish(RecDecoder *d);

/* How this build's reader dispatches on a value's kind in its fast path:
 * "computed-goto" (the default where the compiler supports it) or
 * "switch" (-DPCR_DISPATCH_SWITCH, or a compiler without labels as
 * values). pcrvm --stats prints it. */
const char *rec_dispatch(void);

#endif
