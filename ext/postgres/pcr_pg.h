/* pcr_pg.h: what the modules of the PostgreSQL extension share (ext/postgres).
 *   pcr_pg.c       the SQL functions, the per-backend engine cache
 *   pcr_pg_text.c  jsonb fed to the library member by member, or as JSON
 *                  text (pgtext_): the request the library reads
 *   pcr_pg_line.c  a decision line to jsonb (pgline_): the answer
 * Everything here is internal to pcr.so (exports.map keeps it there). */
#ifndef PCR_PG_H
#define PCR_PG_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "port/pg_bitutils.h"
#include "utils/jsonb.h"

/* The bytes of the 8-byte word x that a JSON string must escape ('"',
 * '\\', below 0x20), flagged by their high bit: the "has a zero byte" and
 * "has a byte below n" word tests (Hacker's Delight; Bit Twiddling Hacks)
 * on x, x ^ '"' and x ^ '\\'. Zero: no such byte. Otherwise the lowest
 * flagged byte (x read little-endian, as memcpy loads it here) is one; a
 * byte above it may be flagged without being one (a borrow). */
static inline uint64 pg_word_special(uint64 x)
{
    const uint64 ones = UINT64CONST(0x0101010101010101), high = ones * 0x80;
    uint64 q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high;
}

/* Does x hold no byte that a JSON string must escape? */
static inline bool pg_word_plain(uint64 x)
{
    return pg_word_special(x) == 0;
}

/* ---- jsonb to JSON text (pcr_pg_text.c) --------------------------------- */

#define PG_TEXT_KEEP (8 * 1024 * 1024) /* the largest text buffer worth keeping */

/* Writes jb as compact JSON text (no spaces) into out, which is reset
 * first: what the record decoder reads. The value JsonbToCString prints,
 * without its ", " and ": ", its iterator and its per-byte appends. A
 * value larger than PG_DIRECT_MAX (16 times the library's line limit, 1 MiB,
 * beyond which it decides the request as an error anyway) goes through
 * JsonbToCString, which asks for no more room than it uses. */
void pgtext_from_jsonb(Jsonb *jb, StringInfo out);

/* ---- jsonb fed to the engine (pcr_pg_text.c) ------------------------------ */

#define PG_FEED_MAX (128 * 1024) /* bytes of jsonb fed member by member */

struct pcr_engine;

/* Starts a fed record on e (pcr.h "Records fed member by member") and
 * gives it jb's top-level members straight from jsonb's binary layout, in
 * one call (pcr_engine_feed_members): a string as its bytes, an integer
 * numeric_out prints as one as the integer, any other number as its text,
 * an array of strings as its strings, any other array or object as its
 * compact JSON text, texts written into js. False when the engine does not take
 * the request (anything it does not read exactly as the text reader
 * would), when jb is not an object or is larger than PG_FEED_MAX (its
 * text could pass the library's line limit): the caller then decides the
 * request's text. On true, pcr_engine_feed_eval decides it; jb and js must
 * be left as they are until then. */
bool pgtext_feed(Jsonb *jb, struct pcr_engine *e, StringInfo js);

/* ---- a decision line to jsonb (pcr_pg_line.c) ---------------------------- */

/* A decision line (compact JSON the library wrote) becomes jsonb in two
 * passes over scratch arrays the call site keeps (PgLineScan), with one
 * allocation per call, the result's:
 *   1. pg_scan_value reads the line into nodes: a string points into the
 *      line, or, when it has escapes, into the scratch copy unescaped; a
 *      container lists its children's nodes in kids[], an object's as key,
 *      value pairs already in jsonb's key order (shorter keys first, then
 *      by bytes: lengthCompareJsonbString); the result's size is bounded
 *      on the way;
 *   2. pg_emit_value writes jsonb's binary layout (utils/jsonb.h) into one
 *      palloc'ed buffer, exactly as JsonbValueToJsonb writes the same
 *      value (convertJsonbObject, convertJsonbArray, convertJsonbScalar in
 *      jsonb_util.c): a container starts on a 4-byte boundary of the
 *      buffer, zero padding counted in its length; a header (the count and
 *      the kind); one JEntry per child (an object's keys, then its values),
 *      holding the child's length or, every JB_OFFSET_STRIDE-th child, the
 *      end offset of its data; then the children's data, in that order.
 * This replaces a JsonbValue tree (a palloc per container and escaped
 * string) and JsonbValueToJsonb (a buffer append per value): a profile put
 * the two at a third of a call. Anything the scanner does not expect (a
 * number: decision lines have none; \u0000; an unescaped control
 * character; a duplicate key; a syntax error; a line over PG_LINE_MAX)
 * makes it give up, and the caller hands the line to jsonb_in, which
 * decides what it means. With pcr.check_output on (the tests), every
 * result is compared with jsonb_in's, byte for byte. */
typedef enum PgKind { PG_STR, PG_TRUE, PG_FALSE, PG_NULL, PG_OBJ, PG_ARR } PgKind;

typedef struct PgNode {
    PgKind kind;
    uint32 n;      /* string: bytes; array: elements; object: pairs */
    uint32 kids;   /* container: its first child's index in PgLineScan.kids */
    const char *s; /* string: its bytes */
} PgNode;

/* One line's reading. Every array has room for len / 2 + 2 entries (every
 * node takes at least two bytes of the line) and esc for len bytes
 * (unescaping never lengthens), so the scanner checks no capacity. Kept by the call site
 * (in fn_mcxt) and reused (pgline_to_jsonb). */
typedef struct PgLineScan {
    PgNode *nodes;
    uint32 *stack;   /* children of the containers being read */
    uint32 *kids;    /* children of the containers read */
    char *esc;       /* unescaped strings */
    uint32 nnodes, nstack, nkids, nesc;
    uint32 cap;      /* entries of nodes, stack and kids; bytes of esc / 2 */
    Size size;       /* the result's bytes, at most */
    struct PgLineEntry **slots; /* the cache of decisions (pcr_pg_line.c); NULL: empty */
    struct PgLineEntry **memo;  /* per rest length and id length modulo 4: the
                                   entry of the last hit (pcr_pg_line.c) */
    Size cache_bytes;           /* what its entries take */
    /* While a line for the cache is written (pg_emit_container): its
     * strings past rest that hold a digit, where they are in the line and
     * in the jsonb (3 numbers each: rest offset, jsonb offset, length; at
     * most cap of them), and whether it can be a template at all. */
    const char *line, *rest, *end; /* rest NULL: nothing recorded */
    uint32 *patch;
    uint32 npatch;
    bool no_template;
} PgLineScan;

/* The decision line line[0..len) (a trailing newline ignored) as jsonb,
 * palloc'ed in the current memory context; sc is the caller's scratch,
 * zeroed before its first use, allocated in mcxt. With check, the result
 * is also made by jsonb_in and the two compared, byte for byte: a
 * difference raises an internal error. */
Datum pgline_to_jsonb(PgLineScan *sc, MemoryContext mcxt, const char *line, size_t len, bool check);

#endif
