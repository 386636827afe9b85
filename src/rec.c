/* rec.c: the schema-driven JSON Lines record decoder (rec.h).
 *
 * One hand-written pass over the line: the grammar of RFC 8259, strict
 * UTF-8, strings without escapes used in place, the others resolved into one
 * scratch buffer sized to the line (an unescaped string is never longer than
 * its escaped form, so the whole record fits), each value converted to its
 * field's type as it is read.
 * Strings are scanned 16 bytes at a time (scan.h): one scan finds the
 * closing quote of a string of printable ASCII, and only a string with an
 * escape or a byte above 0x7F is looked at byte by byte.
 * Keys are found through a table built once by rec_decoder_new from the
 * schema's field names: a multiplier is searched under which every field
 * hashes to a slot of its own, so a key costs one hash of its first and
 * last eight bytes and one comparison (fields_place). Duplicate keys are
 * caught by a bit per known field, and the others through a table whose
 * slots are invalidated per record by a generation number, so nothing is
 * cleared, allocated or compared in bulk per record.
 * The usual record skips most of this through the fast paths ("fast paths"
 * below): each key looked for in the key order learned from the records
 * before and confirmed by one masked compare, with no duplicate check
 * (a key found further on in that order cannot be one), each known
 * field's value decoded straight from its bytes by type; anything unusual
 * is read by the general path from the same byte, so they change no
 * result and no message.
 * Every value is checked in full, also when no rule reads its field: a
 * record with a wrong-typed value or an invalid code is malformed whatever
 * the policy reads, so the same line gets the same verdict under every
 * policy with the schema (docs/benchmarks.md, "The record reader").
 *
 * Conventions, visible in the messages (rec_error):
 *   - Byte offsets are 1-based: the line's first byte is byte 1. An
 *     "unexpected end of line" is reported at byte len + 1.
 *   - Invalid UTF-8 is reported at the first byte of the bad sequence.
 *   - A UTF-8 byte order mark at the start of a line is malformed ("byte
 *     order mark"): RFC 8259 section 8.1 forbids sending one, and in a
 *     stream it could only ever be legitimate on the first line.
 *   - Every key at every depth counts toward REC_MAX_KEYS, and keys must be
 *     unique within each object, nested ones included (what jansson's
 *     JSON_REJECT_DUPLICATES checks).
 *   - Values quoted in messages are JSON-escaped and cut after 40 bytes
 *     (at a character boundary) with "..." before the closing quote;
 *     numbers are shown as written, arrays and objects as "an array" and
 *     "an object". Enum members are listed up to about 120 bytes, then "...".
 *   - The first error stops the decode. Code fields are converted after the
 *     closing brace, because their system tag may follow them, so JSON
 *     errors anywhere in the line win over code errors; a missing required
 *     field is reported last.
 *   - Decoded values: VT_CODE fields and code list elements keep the
 *     unescaped text in s, n beside the key in i.
 *
 * After an error the record's top-level "id" string is recovered, if it was
 * not already read, by a lenient scan that follows only strings and
 * brackets: a string at depth 1 followed by ':' is a key, and a key equal to
 * "id" whose value is a valid string gives the id. */
#include "rec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "pcr/pcr.h"
#include "codes.h"
#include "near.h"
#include "dates.h"
#include "dispatch.h"
#include "scan.h"

/* The steps of the loop over a record's members (read_key, read_value,
 * decode_field) are inlined into it: as calls they cost a fifth of the
 * decoder's instructions (callgrind, docs/benchmarks.md). */
#if defined(__GNUC__)
#define HOT static inline __attribute__((always_inline))
#else
#define HOT static inline
#endif

enum {
    FIELD_BITS = 10,               /* fslot has 2^FIELD_BITS slots, 16 per possible field */
    FIELD_SLOTS = 1 << FIELD_BITS,
    FIELD_SEED_TRIES = 1000,       /* multipliers tried for a perfect field table */
    KEY_SLOTS = 2 * REC_MAX_KEYS,  /* power of two: at most half full */
    MAX_MEMBERS = 64,              /* enum members (prog.h) */
    QUOTE_CUT = 40,                /* bytes of a value quoted in a message */
    ENUM_LIST_BUDGET = 120,        /* bytes of member names listed in a message */
    SCRATCH_MIN = 4096,
};

/* A name of the schema: a field or an enum member. Its key (name_key) is
 * compared instead of its bytes: for names of at most 16 bytes, equal
 * lengths and equal keys are equal names; longer ones compare their middle
 * bytes too. */
typedef struct Name {
    uint64_t a, b;    /* name_key */
    uint32_t len;
    uint16_t field;   /* schema field index */
    uint16_t member;  /* member index (member table only) */
    const char *name; /* a Prog string; NULL marks an empty member slot */
} Name;

/* A key already seen in this record, other than a known top-level field
 * (those are tracked by a bit mask). */
typedef struct KeySlot {
    uint32_t gen;  /* the slot is in use when this equals RecDecoder.gen */
    uint32_t obj;  /* which object of the record: 0 is the top level */
    uint32_t hash; /* key hash mixed with obj */
    uint32_t len;
    const char *s; /* the unescaped key: in the line or the scratch */
} KeySlot;

/* One JSON value as read by read_value. Arrays and objects are only opened:
 * their first byte is consumed, their contents are not. */
typedef enum TokKind {
    TK_STRING, TK_NUMBER, TK_TRUE, TK_FALSE, TK_NULL, TK_ARRAY, TK_OBJECT
} TokKind;

typedef struct Tok {
    TokKind kind;
    const char *s;   /* TK_STRING: the bytes, in the line when the string has
                        no escape, else unescaped in the scratch buffer;
                        TK_NUMBER: the text as written, in the line */
    uint32_t n;
    bool integral;   /* TK_NUMBER: no fraction and no exponent */
} Tok;

/* A field's key as it appears in a record without whitespace, `"name":`,
 * for one masked compare of 16 bytes (two words, each byte of the pattern
 * under a 0xFF mask byte). A longer pattern compares its last 8 bytes as
 * one word, and the bytes between (past 24) with memcmp. */
typedef struct KeyPat {
    uint64_t w[2], m[2]; /* the pattern's first 16 bytes and their mask */
    uint64_t last;       /* a pattern of over 16 bytes: its last 8 */
    const uint8_t *pat;  /* the whole pattern (in RecDecoder.patbuf) */
    uint32_t len;        /* its length; 0: never predicted (the name has a
                            byte that is not plain, see scan.h) */
} KeyPat;

enum {
    PRED_START = 0,                   /* fed_pred[] row of the first key */
    PRED_SLOTS = PCR_MAX_FIELDS + 2,
    PRED_NONE = PCR_MAX_FIELDS,       /* no field: its KeyPat is all zero */
};

/* One place of the learned key order (RecDecoder.order): a field's key
 * pattern (its KeyPat's first 16 bytes) next to the field, so that trying
 * it is one masked compare of two words. */
typedef struct Step {
    uint64_t w[2], m[2]; /* KeyPat.w, KeyPat.m */
    uint64_t bit;        /* 1 << field (none for PRED_NONE) */
    uint32_t ignore;     /* bit i < 16: byte i is not compared (its m byte
                            is 0); bit STEP_TAIL: tail is set */
    uint32_t len;        /* KeyPat.len: the pattern's length */
    uint8_t field;
    uint8_t kind;        /* the field's FastKind */
    bool tail;           /* the compare of 16 bytes does not settle it:
                            key_tail decides (a pattern longer than 16
                            bytes, or one never predicted) */
} Step;

enum {
    /* places of the order tried for a key, from the one after the last
     * key's on: records leave out a few optional fields in a row */
    ORDER_TRIES = 8,
    /* Step.ignore's bit for a step whose 16 bytes do not settle it: the
     * compare of 16 bytes never gives 0xFFFF for it, and the miss that
     * gives 0x1FFFF asks key_tail */
    STEP_TAIL = 1u << 16,
};

/* An enum field's members by a hash of their own: a multiplier under which
 * each member has a slot of its own, so a lookup is one probe and one
 * comparison (member_find probes the table of all members). */
typedef struct EnumTab {
    uint64_t seed;
    uint32_t bits;        /* slot has 2^bits slots; 0: no such multiplier found */
    uint8_t slot[2 * 64]; /* member + 1, 0: empty */
    /* The same by a member's words as they stand in a line (enum_at), for
     * the plain members of at most ENUM_WORD_MAX bytes. */
    uint64_t wseed;
    uint32_t wbits;        /* 0: not so */
    uint8_t wslot[2 * 64];
    /* The same once more, for enum_vec: the plain members of at most
     * ENUM_VEC_MAX bytes by a hash of their first 8 bytes and length, each
     * slot holding the member as it stands in a line for one compare of 16
     * bytes. */
    uint64_t vseed;
    uint32_t vbits;        /* 0: not so (or no SSE2) */
    struct EnumPat *vslot; /* 2^vbits slots */
} EnumTab;

enum { ENUM_WORD_MAX = 15 };

/* A member as it stands in a line: `"name"`, in 16 bytes with the bytes
 * past its closing quote not compared. */
typedef struct EnumPat {
    uint8_t pat[16];  /* the quoted name, then zero bytes */
    uint32_t ignore;  /* bit i: byte i is not compared (past the quotes) */
    uint32_t member;  /* member index + 1; 0: an empty slot */
} EnumPat;

/* enum_vec's members: both quotes fit in the 16 bytes it loads. */
enum { ENUM_VEC_MAX = 14 };

enum { ENUM_SEED_TRIES = 200 };

/* A code list element as records usually spell it, `{"system":"S","code":"`
 * up to its code's first byte, for one system S: the pattern's first and
 * last 16 bytes (they overlap), for two compares of 16 bytes
 * (code_object_at). */
typedef struct CodeObjPat {
    uint8_t head[16], tail[16];
    uint32_t len; /* the pattern's length: 16 to 32 bytes; 0: none */
} CodeObjPat;

/* How fast_value reads a field's value (RecDecoder.fast). */
typedef enum FastKind {
    FAST_NONE,      /* always the general path */
    FAST_STRING,    /* VT_STRING and VT_CODE: a string without escapes */
    FAST_ENUM,      /* a string without escapes that names a member */
    FAST_DATE,      /* "YYYY-MM-DD" */
    FAST_DATETIME,  /* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM" or "YYYY-MM-DDTHH:MM:SS" */
    FAST_INT,       /* an integer of at most 18 digits */
    FAST_MONEY,     /* the same, with at most 2 decimal places */
    FAST_BOOL,      /* true or false */
    FAST_LIST,      /* '[' strings (or {"system", "code"} objects) ']' */
    FAST_ID,        /* FAST_STRING for the string field "id" (id_field),
                       whose value is the record's id too: a kind of its
                       own, so that no other string asks */
} FastKind;

/* A fed record's keys (rec_put_members) when they lie back to back in
 * memory, as a jsonb object's do: their lengths and bytes, and the fields
 * they named, so that a record with the same keys finds its fields with
 * one hash and two comparisons (fed_layout_find). */
enum {
    FED_LAYOUT_BITS = 9,              /* 2^FED_LAYOUT_BITS slots, direct mapped */
    FED_LAYOUT_KEYS = 48,             /* the most keys of one layout */
    FED_LAYOUT_BYTES = 256,           /* the most bytes of its keys */
};

typedef struct FedLayout {
    uint64_t seen;                    /* the fields of its keys */
    uint32_t text;                    /* its keys' most text (fed_keys) */
    uint16_t nbytes;                  /* bytes of its keys */
    uint8_t n;                        /* keys; 0: the slot is empty */
    uint8_t prev;                     /* fed_prev after its last key */
    uint8_t klen[FED_LAYOUT_KEYS];    /* key i's length */
    uint8_t field[FED_LAYOUT_KEYS];   /* key i's field */
    uint8_t bytes[FED_LAYOUT_BYTES];  /* the keys, back to back */
} FedLayout;

/* An unknown top-level key and how many records had it (rec_unknown_key). */
typedef struct UnknownKey {
    char name[REC_UNKNOWN_NAME_MAX + 1]; /* NUL-terminated */
    uint32_t len;
    uint64_t count;
} UnknownKey;

struct RecDecoder {
    const Prog *prog;
    const char *names[PCR_MAX_FIELDS]; /* field names, for did-you-mean */
    Name fname[PCR_MAX_FIELDS];   /* field f's name */
    uint8_t fslot[FIELD_SLOTS];   /* field name hash -> field + 1, 0: empty */
    uint64_t fseed;               /* the hash's multiplier (name_slot) */
    bool fperfect;                /* every field sits in its own first slot */
    Name *members;                /* (field, member name) -> member index */
    uint32_t member_mask;         /* slots in members, minus one */
    uint64_t required;            /* PF_REQUIRED fields */
    uint64_t service_pair;        /* service_at and service_date, when the
                                     schema has both (check_service_at) */
    uint64_t code_fields;         /* VT_CODE fields: converted after the object */
    uint32_t tag[PCR_MAX_FIELDS]; /* VT_CODE: the usable tag field, or PIDX_NONE */
    uint8_t member_sys[PCR_MAX_FIELDS][MAX_MEMBERS]; /* tag enums: member -> CodeSystem */
    uint8_t only_sys[PCR_MAX_FIELDS]; /* a code field's only system, else SYS_NONE */

    KeySlot keys[KEY_SLOTS];
    uint32_t gen;                 /* current generation of keys[] */

    /* the line being decoded */
    const uint8_t *line, *p, *end;
    uint64_t recno;
    uint32_t nkeys;               /* keys read so far, every depth */
    uint32_t nobjs;               /* objects opened so far (ids for keys[]) */
    bool quiet;                   /* the lenient id scan: fail() records nothing */
    uint64_t ws;                  /* bit c: byte c (< 64) is whitespace here */
    bool block;                   /* rec_decode_line: '\n' ends the line, the
                                     object ends it if the line does not */
    Tok line_unknown[REC_LINE_UNKNOWN]; /* rec_decode_line: the unknown keys it
                                     counts once it takes the record */
    uint32_t nline_unknown;

    uint8_t *scratch;             /* unescaped strings of this record */
    size_t cap, used;

    Record rec;
    RecVal items[REC_MAX_ITEMS];
    char err[REC_ERR_MAX];

    /* Unknown top-level keys: counted for the whole run, in a fixed table
     * (no allocation per record); keys that find it full, or are longer
     * than REC_UNKNOWN_NAME_MAX, are counted in unknown_other. */
    bool strict;                  /* an unknown key makes the record malformed */
    UnknownKey unknown[REC_UNKNOWN_KEYS];
    uint32_t nunknown;
    uint64_t unknown_other;
    const char *first_unknown;    /* this record's first unknown key (strict) */
    uint32_t first_unknown_len;

    /* A record fed member by member (rec_begin .. rec_finish, at the end) */
    uint64_t fed_seen;            /* the fields given so far */
    size_t fed_text;              /* the most its JSON text could take */
    bool fed_ok;                  /* every member so far was taken */
    uint32_t fed_prev;            /* fed_pred row of the next key */
    uint8_t fed_pred[PRED_SLOTS]; /* the field that last followed field f (row
                                     f + 1; PRED_START: the first key) */

    /* Fast paths (see "fast paths" below): they only ever skip work, so
     * they change no result and no message. */
    KeyPat kpat[PCR_MAX_FIELDS + 1]; /* field f's key as it usually appears;
                                        kpat[PRED_NONE] never matches */
    uint8_t *patbuf;              /* the bytes of every kpat */
    uint8_t fast[PCR_MAX_FIELDS]; /* field f's value fast path (FastKind) */
    CodeObjPat opat[SYS_COUNT];   /* system S's code object pattern */
    uint8_t osys[256];            /* the system whose name starts with byte c
                                     (no other does), else SYS_NONE */
    /* (days from 1900-01-01 to the first of month m (0-11) of year
     * DATE_MIN_YEAR + y) << 5 | the month's length, at y * 12 + m, for
     * fast_date */
    uint32_t month[(DATE_MAX_YEAR - DATE_MIN_YEAR + 1) * 12];
    EnumTab *etab;                /* per field (enum fields only used) */
    uint32_t netab;               /* entries of etab (the Prog may go first) */
    Name *mname;                  /* enum field f's member m: mname[mfirst[f] + m] */
    uint64_t (*mword)[2];         /* its name's bytes 0-7 and 8-15, zero past its end */
    uint32_t mfirst[PCR_MAX_FIELDS];
    uint32_t id_field;            /* the string field named "id", or PIDX_NONE */
    /* The learned key order: the fields of the records read so far in the
     * order they come in, each at most once (order_learn). A key found at
     * a place after the previous key's place cannot be a duplicate. */
    Step order[PCR_MAX_FIELDS + ORDER_TRIES]; /* places past norder never match */
    uint32_t norder;
    uint8_t rank[PCR_MAX_FIELDS]; /* field f's place in order + 1; 0: not in it */
    bool learn;                   /* the order is learned (the fast paths are on) */

    /* Fed records, again (at the end: large, and touched only by them) */
    bool fed_utf8_checked;        /* rec_fed_utf8_checked: strings not checked */
    FedLayout fed_layout[1 << FED_LAYOUT_BITS]; /* key layouts seen (zeroed pages
                                                   until a fed record uses them) */
};

static void order_clear(RecDecoder *d);

/* ---- names and hashing --------------------------------------------------- */

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static uint32_t mix_field(uint32_t h, uint32_t field) { return h ^ ((field + 1) * 0x9E3779B9u); }

/* The key of name s[0..n): its first and last eight bytes (four for names
 * of 4 to 7 bytes, all three or fewer below that), in overlapping loads
 * that stay inside the name. Names of equal length up to 16 bytes are equal exactly
 * when their keys are. */
static inline void name_key(const char *s, uint32_t n, uint64_t *a, uint64_t *b)
{
    if (n >= 8) {
        *a = bytes_le64(s);
        *b = bytes_le64(s + n - 8);
    } else if (n >= 4) {
        *a = bytes_le32(s);
        *b = bytes_le32(s + n - 4);
    } else {
        /* bytes 0, n / 2 and n - 1: all of a name of 1 to 3 bytes */
        *a = n ? (uint64_t)(uint8_t)s[0] << 16 | (uint64_t)(uint8_t)s[n >> 1] << 8 |
                     (uint8_t)s[n - 1]
               : 0;
        *b = 0;
    }
}

/* The top bits bits of a hash of a name's key and salt (its length, and
 * for members its field), under multiplier seed (odd). */
static inline uint32_t name_slot(uint64_t a, uint64_t b, uint64_t salt, uint64_t seed,
                                 unsigned bits)
{
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ b * 0xC2B2AE3D27D4EB4Full ^ salt;
    h = (h ^ h >> 32) * seed;
    return (uint32_t)(h >> (64 - bits));
}

/* Whether e is the name s[0..n) whose key is a, b. */
static inline bool name_is(const Name *e, const char *s, uint32_t n, uint64_t a, uint64_t b)
{
    return e->len == n && e->a == a && e->b == b &&
           (n <= 16 || memcmp(e->name + 8, s + 8, n - 16) == 0);
}

static Name make_name(const char *name, uint32_t len, uint32_t field, uint32_t member)
{
    Name e = {0, 0, len, (uint16_t)field, (uint16_t)member, name};
    name_key(name, len, &e.a, &e.b);
    return e;
}

/* Looks for a multiplier, from seed on (tries of them), under which each
 * of the n names has a slot of its own among 2^bits: fills slot (slot_bytes
 * long) with name index + 1, sets *found and returns true; false when none
 * of the tries works (*found is then the next untried one, slot is to be
 * cleared). */
static bool perfect_seed(const Name *names, uint32_t n, uint8_t *slot, size_t slot_bytes,
                         uint32_t bits, uint64_t seed, int tries, uint64_t *found)
{
    for (int attempt = 0; attempt < tries; attempt++) {
        memset(slot, 0, slot_bytes);
        bool perfect = true;
        for (uint32_t k = 0; k < n && perfect; k++) {
            uint32_t i = name_slot(names[k].a, names[k].b, names[k].len, seed, bits);
            if (slot[i]) perfect = false;
            else slot[i] = (uint8_t)(k + 1);
        }
        if (perfect) {
            *found = seed;
            return true;
        }
        seed = (seed + 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull | 1;
    }
    *found = seed;
    return false;
}

/* Places the fields in fslot: a multiplier under which every field has a
 * slot of its own makes a lookup one probe and one comparison; with over
 * a few dozen fields one may not be found among the tries, and the table
 * falls back to linear probing (any lookup stays correct either way). */
static void fields_place(RecDecoder *d)
{
    uint32_t n = d->prog->nfields;
    d->fperfect = perfect_seed(d->fname, n, d->fslot, sizeof d->fslot, FIELD_BITS,
                               0x9FB21C651E98DF25ull, FIELD_SEED_TRIES, &d->fseed);
    if (d->fperfect) return;
    memset(d->fslot, 0, sizeof d->fslot);
    for (uint32_t f = 0; f < n; f++) {
        const Name *e = &d->fname[f];
        uint32_t i = name_slot(e->a, e->b, e->len, d->fseed, FIELD_BITS);
        while (d->fslot[i]) i = (i + 1) & (FIELD_SLOTS - 1);
        d->fslot[i] = (uint8_t)(f + 1);
    }
}

/* The schema field called s, or -1. */
static inline int field_find(const RecDecoder *d, const char *s, uint32_t n)
{
    uint64_t a, b;
    name_key(s, n, &a, &b);
    for (uint32_t i = name_slot(a, b, n, d->fseed, FIELD_BITS);; i = (i + 1) & (FIELD_SLOTS - 1)) {
        uint32_t e = d->fslot[i];
        if (!e) return -1;
        if (name_is(&d->fname[e - 1], s, n, a, b)) return (int)e - 1;
        if (d->fperfect) return -1;
    }
}

/* See rec.h. */
uint32_t rec_key_slot(const RecDecoder *d, const char *name, size_t n)
{
    uint64_t a, b;
    name_key(name, (uint32_t)n, &a, &b);
    return name_slot(a, b, n, d->fseed, FIELD_BITS);
}

#define MEMBER_SEED 0xD6E8FEB86659FD93ull

static uint64_t member_salt(uint32_t len, uint32_t field) { return len | (uint64_t)(field + 1) << 32; }

/* The member of enum field f called s, or NULL. */
static const Name *member_find(const RecDecoder *d, uint32_t f, const char *s, uint32_t n)
{
    uint64_t a, b;
    name_key(s, n, &a, &b);
    for (uint32_t i = name_slot(a, b, member_salt(n, f), MEMBER_SEED, 32) & d->member_mask;
         d->members[i].name; i = (i + 1) & d->member_mask) {
        const Name *e = &d->members[i];
        if (e->field == f && name_is(e, s, n, a, b)) return e;
    }
    return NULL;
}

/* The hash key of a plain string of n bytes whose first 8 bytes (as they
 * stand in the line, bytes past the string included) are w: its bytes
 * below 8, and no byte past its end. */
static inline uint64_t vec_key(uint64_t w, uint32_t n)
{
    /* byte i of keep + 8 - min(n, 8) is 0xFF for i < n (a table: the
     * lengths vary from value to value, and a branch would guess) */
    static const uint8_t keep[16] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    uint64_t m;
    memcpy(&m, keep + 8 - (n < 8 ? n : 8), 8);
    return w & m;
}

/* Builds etab[f].vslot for enum_vec: the plain members of enum field f of
 * at most ENUM_VEC_MAX bytes (d->mname and d->mfirst[f] set), in 2^bits
 * slots under a multiplier that gives each its own; none when no such
 * multiplier is found (two members with the same first 8 bytes and length
 * never are apart) or the build has no SSE2. */
static void enum_vec_place(RecDecoder *d, uint32_t f, uint32_t bits)
{
    const PField *pf = &d->prog->fields[f];
    EnumTab *t = &d->etab[f];
    if (!SCAN_HAVE_SSE2 || !pf->enum_count) return;
    Name keys[MAX_MEMBERS];
    uint8_t which[MAX_MEMBERS], slot[2 * MAX_MEMBERS];
    uint32_t nk = 0;
    for (uint32_t m = 0; m < pf->enum_count; m++) {
        const Name *e = &d->mname[d->mfirst[f] + m];
        char buf[8] = {0};
        bool plain = e->len <= ENUM_VEC_MAX;
        for (uint32_t i = 0; plain && i < e->len; i++) plain = scan_is_plain((uint8_t)e->name[i]);
        if (!plain) continue;
        memcpy(buf, e->name, e->len < 8 ? e->len : 8);
        keys[nk] = (Name){vec_key(bytes_le64(buf), e->len), 0, e->len, (uint16_t)f, (uint16_t)m,
                          e->name};
        which[nk++] = (uint8_t)m;
    }
    if (!nk || !perfect_seed(keys, nk, slot, sizeof slot, bits, 0xD1B54A32D192ED03ull,
                             ENUM_SEED_TRIES, &t->vseed))
        return;
    t->vslot = xcalloc((size_t)1 << bits, sizeof *t->vslot);
    for (uint32_t i = 0; i < (1u << bits); i++) {
        if (!slot[i]) continue;
        const Name *e = &keys[slot[i] - 1];
        EnumPat *x = &t->vslot[i];
        x->pat[0] = '"';
        memcpy(x->pat + 1, e->name, e->len);
        x->pat[e->len + 1] = '"';
        x->ignore = 0xFFFFu & ~((1u << (e->len + 2)) - 1);
        x->member = which[slot[i] - 1] + 1u;
    }
    t->vbits = bits;
}

/* Builds d->etab and d->mname for the enum fields (nmembers in all). */
static void enums_place(RecDecoder *d, uint32_t nmembers)
{
    const Prog *prog = d->prog;
    d->etab = xcalloc(prog->nfields ? prog->nfields : 1, sizeof *d->etab);
    d->netab = prog->nfields;
    d->mname = xcalloc(nmembers ? nmembers : 1, sizeof *d->mname);
    d->mword = xcalloc(nmembers ? nmembers : 1, sizeof *d->mword);
    uint32_t k = 0;
    for (uint32_t f = 0; f < prog->nfields; f++) {
        const PField *pf = &prog->fields[f];
        if (pf->type != VT_ENUM) continue;
        d->mfirst[f] = k;
        for (uint32_t m = 0; m < pf->enum_count; m++) {
            uint32_t s = prog->refs[pf->enum_first + m];
            d->mname[k + m] = make_name(prog->strs[s], prog->strlens[s], f, m);
        }
        EnumTab *t = &d->etab[f];
        uint32_t bits = 1;
        while ((1u << bits) < 2 * pf->enum_count) bits++;
        if (pf->enum_count && perfect_seed(&d->mname[k], pf->enum_count, t->slot, sizeof t->slot,
                                           bits, 0x2545F4914F6CDD1Dull, ENUM_SEED_TRIES, &t->seed))
            t->bits = bits;
        /* The words of each member as enum_at reads them, for the plain
         * members of at most ENUM_WORD_MAX bytes: a value that equals
         * another member is longer or not plain, and enum_at leaves it. */
        Name words[MAX_MEMBERS];
        uint8_t which[MAX_MEMBERS];
        uint32_t nw = 0;
        for (uint32_t m = 0; m < pf->enum_count; m++) {
            const Name *e = &d->mname[k + m];
            char buf[16] = {0};
            bool plain = e->len <= ENUM_WORD_MAX;
            for (uint32_t i = 0; plain && i < e->len; i++) plain = scan_is_plain((uint8_t)e->name[i]);
            if (!plain) continue;
            memcpy(buf, e->name, e->len);
            d->mword[k + m][0] = bytes_le64(buf);
            d->mword[k + m][1] = bytes_le64(buf + 8);
            words[nw] = (Name){d->mword[k + m][0], d->mword[k + m][1], e->len, (uint16_t)f,
                               (uint16_t)m, e->name};
            which[nw++] = (uint8_t)m;
        }
        if (nw && perfect_seed(words, nw, t->wslot, sizeof t->wslot, bits, 0x9E3779B97F4A7C15ull,
                               ENUM_SEED_TRIES, &t->wseed)) {
            t->wbits = bits;
            for (uint32_t i = 0; i < sizeof t->wslot; i++) /* entry of words -> member + 1 */
                if (t->wslot[i]) t->wslot[i] = (uint8_t)(which[t->wslot[i] - 1] + 1);
        }
        enum_vec_place(d, f, bits);
        k += pf->enum_count;
    }
}

/* The member of enum field f called s, or NULL: member_find, through the
 * field's own table when it has one. */
HOT const Name *enum_find(const RecDecoder *d, uint32_t f, const char *s, uint32_t n)
{
    const EnumTab *t = &d->etab[f];
    if (!t->bits) return member_find(d, f, s, n);
    uint64_t a, b;
    name_key(s, n, &a, &b);
    uint32_t e = t->slot[name_slot(a, b, n, t->seed, t->bits)];
    if (!e) return NULL;
    const Name *m = &d->mname[d->mfirst[f] + e - 1];
    return name_is(m, s, n, a, b) ? m : NULL;
}

/* The member of enum field f whose name, plain and of at most
 * ENUM_VEC_MAX bytes, is the string at q (on its quote), or -1 (then
 * enum_at and enum_find decide, with the same result: a string that
 * equals such a member is plain and found here). The byte after the
 * closing quote goes in *after. One load of 16 bytes finds the closing
 * quote, a hash of the first 8 bytes and the length the only member it
 * can be, and one compare of the 16 bytes with `"name"` settles it. */
HOT int enum_vec(const RecDecoder *d, uint32_t f, const uint8_t *q, const uint8_t *end,
                 const uint8_t **after)
{
#if SCAN_HAVE_SSE2
    const EnumTab *t = &d->etab[f];
    if (!t->vbits || end - q < 16) return -1;
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
    unsigned quotes = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
    if (!(quotes & 1)) return -1;
    quotes &= quotes - 1; /* the closing quote is the next one */
    if (!quotes) return -1;
    uint32_t n = (uint32_t)__builtin_ctz(quotes) - 1;
    const EnumPat *e = &t->vslot[name_slot(vec_key(bytes_le64((const char *)q + 1), n), 0, n,
                                           t->vseed, t->vbits)];
    unsigned same = (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(x, _mm_loadu_si128((const __m128i *)(const void *)e->pat)));
    /* an empty slot is all zero: its byte 0 is compared, and is no quote */
    if ((same | e->ignore) != 0xFFFF) return -1;
    *after = q + n + 2;
    return (int)e->member - 1;
#else
    (void)d, (void)f, (void)q, (void)end, (void)after;
    return -1;
#endif
}

/* The bytes of a word below byte n (n <= 7); none for 0. */
static inline uint64_t low_bytes(uint64_t w, uint32_t n) { return w & ((1ull << (8 * n)) - 1); }

/* An enum value at q written as a plain string of at most ENUM_WORD_MAX
 * bytes that names a member of field f: the member, and the byte after
 * the closing quote in *after; NULL otherwise (fast_string and enum_find
 * then decide, with the same result: a member's name is plain, so the
 * string it matches has no escape). The closing quote is the first '"'
 * in the 16 bytes after the opening one, found a word at a time. */
HOT const Name *enum_at(const RecDecoder *d, uint32_t f, const uint8_t *q, const uint8_t *end,
                        const uint8_t **after)
{
    const EnumTab *t = &d->etab[f];
    if (!t->wbits || end - q < 17 || *q != '"') return NULL;
    const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80, quotes = ones * '"';
    uint64_t w0 = bytes_le64((const char *)q + 1), w1 = bytes_le64((const char *)q + 9);
    /* the lowest zero byte of x is found exactly by (x - ones) & ~x & high */
    uint64_t x = w0 ^ quotes, z = (x - ones) & ~x & high;
    uint32_t n;
    if (z) {
        n = (uint32_t)__builtin_ctzll(z) >> 3;
        w0 = low_bytes(w0, n);
        w1 = 0;
    } else {
        x = w1 ^ quotes;
        z = (x - ones) & ~x & high;
        if (!z) return NULL;
        n = 8 + ((uint32_t)__builtin_ctzll(z) >> 3);
        w1 = low_bytes(w1, n - 8);
    }
    uint32_t e = t->wslot[name_slot(w0, w1, n, t->wseed, t->wbits)];
    if (!e) return NULL;
    uint32_t i = d->mfirst[f] + e - 1;
    const Name *m = &d->mname[i];
    if (m->len != n || d->mword[i][0] != w0 || d->mword[i][1] != w1) return NULL;
    *after = q + n + 2;
    return m;
}

/* Builds d->opat and d->osys: each system's code object pattern, found
 * by the first byte of the system's name. */
static void code_objects_place(RecDecoder *d)
{
    uint32_t seen[256] = {0};
    for (int y = SYS_NONE + 1; y < SYS_COUNT; y++) seen[(uint8_t)code_system_name((CodeSystem)y)[0]]++;
    for (int y = SYS_NONE + 1; y < SYS_COUNT; y++) {
        const char *name = code_system_name((CodeSystem)y);
        char pat[64];
        int len = snprintf(pat, sizeof pat, "{\"system\":\"%s\",\"code\":\"", name);
        if (len < 16 || len > 32 || seen[(uint8_t)name[0]] != 1) continue;
        CodeObjPat *c = &d->opat[y];
        memcpy(c->head, pat, 16);
        memcpy(c->tail, pat + len - 16, 16);
        c->len = (uint32_t)len;
        d->osys[(uint8_t)name[0]] = (uint8_t)y;
    }
}

/* Builds the key patterns, the value fast paths and the (empty) key
 * predictions for d's schema. */
static void fast_init(RecDecoder *d)
{
    const Prog *prog = d->prog;
    size_t total = 0;
    for (uint32_t f = 0; f < prog->nfields; f++) total += d->fname[f].len + 3u;
    d->patbuf = xmalloc(total + 1);
    uint8_t *w = d->patbuf;
    d->id_field = PIDX_NONE;
    d->learn = true;
    memset(d->fed_pred, PRED_NONE, sizeof d->fed_pred);
    code_objects_place(d);
    for (uint32_t i = 0, days = 0; i <= DATE_MAX_YEAR - DATE_MIN_YEAR; i++) {
        static const uint8_t len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        uint32_t y = DATE_MIN_YEAR + i;
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        for (uint32_t m = 0; m < 12; m++) {
            uint32_t n = len[m] + (m == 1 && leap);
            d->month[i * 12 + m] = days << 5 | n;
            days += n;
        }
    }
    for (uint32_t f = 0; f < prog->nfields; f++) {
        const PField *pf = &prog->fields[f];
        const Name *e = &d->fname[f];
        KeyPat *k = &d->kpat[f];
        bool plain = true;
        for (uint32_t i = 0; i < e->len; i++) plain = plain && scan_is_plain((uint8_t)e->name[i]);
        k->pat = w;
        *w++ = '"';
        memcpy(w, e->name, e->len);
        w += e->len;
        *w++ = '"';
        *w++ = ':';
        uint8_t pat[16] = {0}, mask[16] = {0};
        for (uint32_t i = 0; i < e->len + 3 && i < 16; i++) {
            pat[i] = k->pat[i];
            mask[i] = 0xFF;
        }
        memcpy(k->w, pat, 16);
        memcpy(k->m, mask, 16);
        k->len = plain ? e->len + 3 : 0;
        if (e->len + 3 > 16) k->last = bytes_le64((const char *)k->pat + e->len + 3 - 8);
        bool is_id = e->len == 2 && memcmp(e->name, "id", 2) == 0;
        if (is_id && pf->type == VT_STRING) d->id_field = f;
        FastKind kind = FAST_NONE;
        switch ((ValType)pf->type) {
        case VT_STRING: case VT_CODE: kind = FAST_STRING; break;
        case VT_ENUM: kind = FAST_ENUM; break;
        case VT_DATE: kind = FAST_DATE; break;
        case VT_DATETIME: kind = FAST_DATETIME; break;
        case VT_INT: kind = FAST_INT; break;
        case VT_MONEY: kind = FAST_MONEY; break;
        case VT_BOOL: kind = FAST_BOOL; break;
        case VT_LIST: kind = FAST_LIST; break;
        default: break;
        }
        /* the general path sets the id for any value that is a string */
        d->fast[f] = (uint8_t)(is_id && pf->type != VT_STRING ? FAST_NONE : kind);
    }
    order_clear(d);
}

static const char *field_name(const RecDecoder *d, uint32_t f)
{
    return d->prog->strs[d->prog->fields[f].name];
}

static const char *member_name(const RecDecoder *d, const PField *pf, uint32_t m)
{
    return d->prog->strs[d->prog->refs[pf->enum_first + m]];
}

/* A field's member names are usable when they lie inside the Prog's tables. */
static bool enum_ok(const Prog *p, const PField *pf)
{
    if (pf->enum_count > MAX_MEMBERS || pf->enum_first > p->nrefs ||
        pf->enum_count > p->nrefs - pf->enum_first)
        return false;
    for (uint32_t m = 0; m < pf->enum_count; m++)
        if (p->refs[pf->enum_first + m] >= p->nstrs) return false;
    return true;
}

/* Builds the name tables for prog's schema. Returns NULL when prog has more
 * than PCR_MAX_FIELDS fields or names outside its string table (a verified
 * Prog never does). The caller owns the decoder; prog must outlive it. */
RecDecoder *rec_decoder_new(const Prog *prog)
{
    if (!prog || prog->nfields > PCR_MAX_FIELDS) return NULL;
    for (uint32_t f = 0; f < prog->nfields; f++) {
        const PField *pf = &prog->fields[f];
        if (pf->name >= prog->nstrs) return NULL;
        if (pf->type == VT_ENUM && !enum_ok(prog, pf)) return NULL;
    }
    RecDecoder *d = xcalloc(1, sizeof *d);
    d->prog = prog;
    d->gen = 1;
    uint32_t nmembers = 0;
    for (uint32_t f = 0; f < prog->nfields; f++) {
        const PField *pf = &prog->fields[f];
        const char *name = prog->strs[pf->name];
        d->fname[f] = make_name(name, prog->strlens[pf->name], f, 0);
        d->names[f] = name;
        if (pf->flags & PF_REQUIRED) d->required |= 1ull << f;
        if (pf->type == VT_CODE) d->code_fields |= 1ull << f;
        for (int i = 1; i < SYS_COUNT; i++)
            if (pf->systems == SYS_BIT(i)) d->only_sys[f] = (uint8_t)i;
        if (pf->type == VT_ENUM) nmembers += pf->enum_count;
        d->tag[f] = PIDX_NONE;
        if (pf->type == VT_CODE && pf->tag_field < prog->nfields &&
            prog->fields[pf->tag_field].type == VT_ENUM)
            d->tag[f] = pf->tag_field;
    }
    if (prog->f_service_at < prog->nfields && prog->f_service_date < prog->nfields)
        d->service_pair = 1ull << prog->f_service_at | 1ull << prog->f_service_date;
    fields_place(d);
    fast_init(d);
    uint32_t slots = 16;
    while (slots < 2 * nmembers) slots *= 2;
    d->members = xcalloc(slots, sizeof *d->members);
    d->member_mask = slots - 1;
    for (uint32_t f = 0; f < prog->nfields; f++) {
        const PField *pf = &prog->fields[f];
        if (pf->type != VT_ENUM) continue;
        for (uint32_t m = 0; m < pf->enum_count; m++) {
            uint32_t s = prog->refs[pf->enum_first + m];
            Name e = make_name(prog->strs[s], prog->strlens[s], f, m);
            uint32_t i = name_slot(e.a, e.b, member_salt(e.len, f), MEMBER_SEED, 32) & d->member_mask;
            while (d->members[i].name) i = (i + 1) & d->member_mask;
            d->members[i] = e;
            d->member_sys[f][m] = (uint8_t)code_system_from_name(e.name, e.len);
        }
    }
    enums_place(d, nmembers);
    d->cap = SCRATCH_MIN;
    d->scratch = xmalloc(d->cap);
    d->rec.items = d->items;
    return d;
}

/* Frees the decoder and its buffers; NULL is allowed. */
void rec_decoder_free(RecDecoder *d)
{
    if (!d) return;
    free(d->members);
    free(d->patbuf);
    for (uint32_t f = 0; d->etab && f < d->netab; f++) free(d->etab[f].vslot);
    free(d->etab);
    free(d->mword);
    free(d->mname);
    free(d->scratch);
    free(d);
}

/* The last rec_decode's message ("" after a success); owned by d, valid
 * until the next rec_decode. */
const char *rec_error(const RecDecoder *d) { return d->err; }

/* The record as far as it was read; after an error only has_id, id and
 * id_len are meaningful. Owned by d, valid until the next rec_decode. */
const Record *rec_partial(const RecDecoder *d) { return &d->rec; }

/* ---- messages ------------------------------------------------------------ */

/* Records "record N: <message>" and returns false, so that a failing
 * function can end with `return fail(...)`. */
static bool fail(RecDecoder *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(RecDecoder *d, const char *fmt, ...)
{
    if (d->quiet) return false;
    int k = snprintf(d->err, sizeof d->err, "record %llu: ", (unsigned long long)d->recno);
    if (k < 0 || (size_t)k >= sizeof d->err) return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err + k, sizeof d->err - (size_t)k, fmt, ap);
    va_end(ap);
    return false;
}

static size_t byte_at(const RecDecoder *d, const uint8_t *p) { return (size_t)(p - d->line) + 1; }

/* A grammar error at p; what says what was expected there. */
static bool fail_json(RecDecoder *d, const uint8_t *p, const char *what)
{
    if (p >= d->end)
        return fail(d, "invalid JSON at byte %zu: unexpected end of line, %s", byte_at(d, d->end),
                    what);
    return fail(d, "invalid JSON at byte %zu: %s", byte_at(d, p), what);
}

/* Writes s as a JSON string literal into out (cap bytes, NUL-terminated),
 * cut after QUOTE_CUT bytes at a character boundary with "...". s is valid
 * UTF-8. cap must be at least 6 * QUOTE_CUT + 8. */
static void quote(char *out, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = n, o = 0;
    bool cut = false;
    if (k > QUOTE_CUT) {
        k = QUOTE_CUT;
        while (k > 0 && ((uint8_t)s[k] & 0xC0) == 0x80) k--; /* s[k] starts a character */
        cut = true;
    }
    out[o++] = '"';
    for (size_t i = 0; i < k && o + 8 < cap; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c == '\t') {
            out[o++] = '\\';
            out[o++] = 't';
        } else if (c == '\r') {
            out[o++] = '\\';
            out[o++] = 'r';
        } else if (c < 0x20) {
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex[c >> 4];
            out[o + 5] = hex[c & 15];
            o += 6;
        } else {
            out[o++] = (char)c;
        }
    }
    if (cut) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}

enum { SHOW_CAP = 6 * QUOTE_CUT + 16 };

/* Describes a value for "got ..." in a message. */
static void show(char *out, const Tok *t)
{
    switch (t->kind) {
    case TK_STRING: quote(out, SHOW_CAP, t->s, t->n); return;
    case TK_NUMBER:
        if (t->n > QUOTE_CUT) snprintf(out, SHOW_CAP, "%.*s...", QUOTE_CUT, t->s);
        else snprintf(out, SHOW_CAP, "%.*s", (int)t->n, t->s);
        return;
    case TK_TRUE: strcpy(out, "true"); return;
    case TK_FALSE: strcpy(out, "false"); return;
    case TK_NULL: strcpy(out, "null"); return;
    case TK_ARRAY: strcpy(out, "an array"); return;
    case TK_OBJECT: strcpy(out, "an object"); return;
    }
}

/* "field 'units': expected integer, got 5.5" */
static bool fail_type(RecDecoder *d, uint32_t f, const char *expected, const Tok *t)
{
    char got[SHOW_CAP];
    show(got, t);
    return fail(d, "field '%s': expected %s, got %s", field_name(d, f), expected, got);
}

/* "inpatient, outpatient, ..." into out (cap bytes). */
static void list_members(const RecDecoder *d, const PField *pf, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (uint32_t m = 0; m < pf->enum_count; m++) {
        const char *name = member_name(d, pf, m);
        size_t len = strlen(name);
        const char *sep = m ? ", " : "";
        if (o + len + 2 > ENUM_LIST_BUDGET || o + len + 8 > cap) {
            snprintf(out + o, cap - o, "%s...", sep);
            return;
        }
        o += (size_t)snprintf(out + o, cap - o, "%s%s", sep, name);
    }
}

/* "CPT, HCPCS or REV" for a SYS_BIT mask. */
static void list_systems(unsigned mask, char *out, size_t cap)
{
    int total = 0, k = 0;
    size_t o = 0;
    out[0] = '\0';
    for (int s = 1; s < SYS_COUNT; s++) total += (mask & SYS_BIT(s)) != 0;
    for (int s = 1; s < SYS_COUNT && o < cap; s++) {
        if (!(mask & SYS_BIT(s))) continue;
        const char *sep = k == 0 ? "" : k == total - 1 ? " or " : ", ";
        o += (size_t)snprintf(out + o, cap - o, "%s%s", sep, code_system_name((CodeSystem)s));
        k++;
    }
}

/* "CPT, HCPCS or revenue" into names and "CPT: 5 characters ...; HCPCS:
 * ...; revenue: ..." into forms, for a SYS_BIT mask: what a code that fits
 * none of a field's systems is told. */
static void list_titles(unsigned mask, char *names, size_t ncap, char *forms, size_t fcap)
{
    int total = 0, k = 0;
    size_t o = 0, q = 0;
    names[0] = forms[0] = '\0';
    for (int s = 1; s < SYS_COUNT; s++) total += (mask & SYS_BIT(s)) != 0;
    for (int s = 1; s < SYS_COUNT && o < ncap && q < fcap; s++) {
        if (!(mask & SYS_BIT(s))) continue;
        const char *title = code_system_title((CodeSystem)s);
        const char *sep = k == 0 ? "" : k == total - 1 ? " or " : ", ";
        o += (size_t)snprintf(names + o, ncap - o, "%s%s", sep, title);
        q += (size_t)snprintf(forms + q, fcap - q, "%s%s: %s", k ? "; " : "", title,
                              code_system_forms((CodeSystem)s));
        k++;
    }
}

/* ---- lexical level ------------------------------------------------------- */

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The first byte at or after p that is not whitespace, or end. Records
 * seldom have more than one byte of whitespace in a row (", " and ": "),
 * and most tokens follow none: the first test settles that case, and a
 * run is skipped a byte at a time. */
static inline const uint8_t *skip_ws_from(const uint8_t *p, const uint8_t *end)
{
    if (p < end && *p > ' ') return p;
    while (p < end && is_ws(*p)) p++;
    return p;
}

/* The whitespace of a line, and of a line read from a block (rec_decode_line),
 * where '\n' ends the line instead. */
#define WS_LINE (1ull << ' ' | 1ull << '\t' | 1ull << '\n' | 1ull << '\r')
#define WS_BLOCK (1ull << ' ' | 1ull << '\t' | 1ull << '\r')

/* skip_ws_from at d->p, by d->ws: a '\n' is no whitespace in a block. */
static inline void skip_ws(RecDecoder *d)
{
    const uint8_t *p = d->p, *end = d->end;
    if (p < end && *p > ' ') return;
    while (p < end && *p <= ' ' && (d->ws >> *p & 1)) p++;
    d->p = p;
}

static bool at(const RecDecoder *d, char c) { return d->p < d->end && *d->p == (uint8_t)c; }

static bool is_cont(uint8_t c) { return (c & 0xC0) == 0x80; }

/* Length of the well-formed UTF-8 sequence of 2 to 4 bytes at p, or 0:
 * no overlongs, no surrogates, nothing above U+10FFFF (RFC 3629 table). */
static size_t utf8_seq(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    size_t avail = (size_t)(end - p);
    if (c >= 0xC2 && c <= 0xDF) return avail >= 2 && is_cont(p[1]) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return avail >= 3 && p[1] >= lo && p[1] <= hi && is_cont(p[2]) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return avail >= 4 && p[1] >= lo && p[1] <= hi && is_cont(p[2]) && is_cont(p[3]) ? 4 : 0;
    }
    return 0;
}

static int hex4(const uint8_t *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        int x = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
        if (x < 0) return -1;
        v = v * 16 + x;
    }
    return v;
}

static uint8_t *put_utf8(uint8_t *w, uint32_t cp)
{
    if (cp < 0x80) {
        *w++ = (uint8_t)cp;
    } else if (cp < 0x800) {
        *w++ = (uint8_t)(0xC0 | cp >> 6);
        *w++ = (uint8_t)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *w++ = (uint8_t)(0xE0 | cp >> 12);
        *w++ = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        *w++ = (uint8_t)(0x80 | (cp & 0x3F));
    } else {
        *w++ = (uint8_t)(0xF0 | cp >> 18);
        *w++ = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        *w++ = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        *w++ = (uint8_t)(0x80 | (cp & 0x3F));
    }
    return w;
}

/* Resolves the escape at *pp (on the backslash), writing its UTF-8 at *ww.
 * The output never outgrows the escape: "\uXXXX" (6 bytes) gives at most 3,
 * a surrogate pair (12) gives 4. */
static bool read_escape(RecDecoder *d, const uint8_t **pp, uint8_t **ww)
{
    const uint8_t *p = *pp, *end = d->end;
    if (end - p < 2) return fail_json(d, end, "expected an escape after '\\'");
    uint8_t c = p[1], out;
    switch (c) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u': {
        int cp = end - p >= 6 ? hex4(p + 2) : -1;
        if (cp < 0) return fail(d, "invalid JSON at byte %zu: \\u must be followed by 4 hex digits",
                                byte_at(d, p));
        if (cp == 0)
            return fail(d, "string contains \\u0000 at byte %zu (NUL is not allowed)",
                        byte_at(d, p));
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(d, "invalid JSON at byte %zu: unpaired surrogate \\%.5s", byte_at(d, p),
                        p + 1);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            int lo = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(d, "invalid JSON at byte %zu: unpaired surrogate \\%.5s", byte_at(d, p),
                            p + 1);
            uint32_t pair = 0x10000 + (((uint32_t)cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            *ww = put_utf8(*ww, pair);
            *pp = p + 12;
            return true;
        }
        *ww = put_utf8(*ww, (uint32_t)cp);
        *pp = p + 6;
        return true;
    }
    default:
        if (c >= 0x20 && c < 0x7F)
            return fail(d, "invalid JSON at byte %zu: invalid escape \\%c", byte_at(d, p), c);
        return fail(d, "invalid JSON at byte %zu: invalid escape", byte_at(d, p));
    }
    *(*ww)++ = out;
    *pp = p + 2;
    return true;
}

/* The rest of the string that starts at d->p (on its opening quote) after
 * a scan stopped at p, on a byte that is not plain (scan.h) and not its
 * closing quote: UTF-8 sequences are validated in place, and a string with
 * an escape is unescaped into the scratch buffer, which has room for the
 * rest of the line. */
static bool read_string_rest(RecDecoder *d, Tok *t, const uint8_t *p)
{
    const uint8_t *start = d->p, *end = d->end;
    for (;;) {
        if (p == end || *p == '\\' || *p < 0x20) break;
        if (*p == '"') {
            t->kind = TK_STRING;
            t->s = (const char *)(start + 1);
            t->n = (uint32_t)(p - (start + 1));
            d->p = p + 1;
            return true;
        }
        size_t k = utf8_seq(p, end);
        if (!k) return fail(d, "invalid UTF-8 at byte %zu", byte_at(d, p));
        p = scan_plain(p + k, end);
    }
    uint8_t *w0 = d->scratch + d->used, *w = w0;
    memcpy(w, start + 1, (size_t)(p - (start + 1)));
    w += p - (start + 1);
    for (;;) {
        const uint8_t *q = scan_plain(p, end);
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        p = q;
        if (p == end)
            return fail(d, "invalid JSON at byte %zu: unexpected end of line in the string that "
                        "starts at byte %zu", byte_at(d, end), byte_at(d, start));
        uint8_t c = *p;
        if (c == '"') break;
        if (c == '\\') {
            if (!read_escape(d, &p, &w)) return false;
        } else if (c < 0x20) {
            return fail(d, "invalid JSON at byte %zu: control character 0x%02X in a string "
                        "(it must be escaped)", byte_at(d, p), c);
        } else {
            size_t k = utf8_seq(p, end);
            if (!k) return fail(d, "invalid UTF-8 at byte %zu", byte_at(d, p));
            memcpy(w, p, k);
            w += k;
            p += k;
        }
    }
    t->kind = TK_STRING;
    t->s = (const char *)w0;
    t->n = (uint32_t)(w - w0);
    d->used += t->n;
    d->p = p + 1;
    return true;
}

/* string = '"' char* '"'. d->p is on the opening quote. Most strings have
 * no escape and no byte outside printable ASCII: one scan finds their
 * closing quote, and the token points into the line. */
static inline bool read_string(RecDecoder *d, Tok *t)
{
    const uint8_t *s = d->p + 1, *p = scan_plain(s, d->end);
    if (p < d->end && *p == '"') {
        t->kind = TK_STRING;
        t->s = (const char *)s;
        t->n = (uint32_t)(p - s);
        d->p = p + 1;
        return true;
    }
    return read_string_rest(d, t, p);
}

/* number = '-'? ('0' | [1-9][0-9]*) ('.' [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool read_number(RecDecoder *d, Tok *t)
{
    const uint8_t *s = d->p, *p = s, *end = d->end;
    bool integral = true;
    if (*p == '-') p++;
    if (p == end || !is_digit(*p)) return fail_json(d, p, "expected a digit after '-'");
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p)) return fail_json(d, p, "numbers cannot have leading zeros");
    } else {
        while (p < end && is_digit(*p)) p++;
    }
    if (p < end && *p == '.') {
        p++;
        integral = false;
        if (p == end || !is_digit(*p)) return fail_json(d, p, "expected a digit after '.'");
        while (p < end && is_digit(*p)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        integral = false;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p == end || !is_digit(*p)) return fail_json(d, p, "expected a digit in the exponent");
        while (p < end && is_digit(*p)) p++;
    }
    t->kind = TK_NUMBER;
    t->s = (const char *)s;
    t->n = (uint32_t)(p - s);
    t->integral = integral;
    d->p = p;
    return true;
}

static bool read_literal(RecDecoder *d, Tok *t, const char *word, TokKind kind)
{
    size_t n = strlen(word);
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
        return fail_json(d, d->p, "expected a value");
    d->p += n;
    t->kind = kind;
    return true;
}

/* Reads one value after optional whitespace. Arrays and objects are only
 * opened (see Tok). */
HOT bool read_value(RecDecoder *d, Tok *t)
{
    skip_ws(d);
    if (d->p == d->end) return fail_json(d, d->p, "expected a value");
    switch (*d->p) {
    case '"': return read_string(d, t);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': return read_number(d, t);
    case 't': return read_literal(d, t, "true", TK_TRUE);
    case 'f': return read_literal(d, t, "false", TK_FALSE);
    case 'n': return read_literal(d, t, "null", TK_NULL);
    case '[': d->p++; t->kind = TK_ARRAY; return true;
    case '{': d->p++; t->kind = TK_OBJECT; return true;
    default: return fail_json(d, d->p, "expected a value");
    }
}

/* Reads `string ':'` after optional whitespace; expect names what was
 * wanted if no string comes. Counts the key against REC_MAX_KEYS. */
HOT bool read_key(RecDecoder *d, Tok *k, const char *expect)
{
    skip_ws(d);
    if (!at(d, '"')) return fail_json(d, d->p, expect);
    if (!read_string(d, k)) return false;
    if (++d->nkeys > REC_MAX_KEYS) return fail(d, "more than %d keys", REC_MAX_KEYS);
    skip_ws(d);
    if (!at(d, ':')) return fail_json(d, d->p, "expected ':'");
    d->p++;
    return true;
}

/* Remembers key k of object obj; false if that object already has it. */
static bool key_insert(RecDecoder *d, uint32_t obj, const Tok *k)
{
    uint32_t h = mix_field(hash_bytes(k->s, k->n), obj);
    for (uint32_t i = h & (KEY_SLOTS - 1);; i = (i + 1) & (KEY_SLOTS - 1)) {
        KeySlot *s = &d->keys[i];
        if (s->gen != d->gen) {
            *s = (KeySlot){d->gen, obj, h, k->n, k->s};
            return true;
        }
        if (s->hash == h && s->obj == obj && s->len == k->n && memcmp(s->s, k->s, k->n) == 0)
            return false;
    }
}

static bool fail_dup(RecDecoder *d, const Tok *k, const Tok *outer)
{
    char key[SHOW_CAP], in[SHOW_CAP];
    quote(key, sizeof key, k->s, k->n);
    if (!outer) return fail(d, "duplicate key %s", key);
    quote(in, sizeof in, outer->s, outer->n);
    return fail(d, "duplicate key %s inside %s", key, in);
}

/* After a member or an element: a ',' (another follows: 1) or `close`
 * (the container ends: 0), read; anything else is reported (-1). */
static inline int next_or_close(RecDecoder *d, char close)
{
    skip_ws(d);
    if (at(d, ',')) {
        d->p++;
        return 1;
    }
    if (at(d, close)) {
        d->p++;
        return 0;
    }
    fail_json(d, d->p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    return -1;
}

/* Skips the rest of the array or object just opened as the value of the
 * top-level key outer, validating it fully. Iterative: level i's kind is
 * bit i of a mask, so REC_MAX_DEPTH must not exceed 64. */
static bool skip_nested(RecDecoder *d, TokKind kind, const Tok *outer)
{
    _Static_assert(REC_MAX_DEPTH <= 64, "nesting kinds are kept in a uint64_t");
    uint32_t objid[REC_MAX_DEPTH];
    uint64_t is_obj = 0;
    int depth = 0; /* levels - 1 */
    bool opened = true;
    if (kind == TK_OBJECT) {
        is_obj = 1;
        objid[0] = ++d->nobjs;
    }
    for (;;) {
        bool obj = is_obj >> depth & 1;
        char close = obj ? '}' : ']';
        skip_ws(d);
        if (at(d, close)) {
            d->p++;
            if (depth-- == 0) return true;
            opened = false;
            continue;
        }
        if (!opened) {
            if (!at(d, ','))
                return fail_json(d, d->p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
            d->p++;
        }
        Tok t;
        if (obj) {
            if (!read_key(d, &t, opened ? "expected a string key or '}'" : "expected a string key"))
                return false;
            if (!key_insert(d, objid[depth], &t)) return fail_dup(d, &t, outer);
        }
        if (!read_value(d, &t)) return false;
        opened = false;
        if (t.kind == TK_ARRAY || t.kind == TK_OBJECT) {
            if (depth + 1 == REC_MAX_DEPTH)
                return fail(d, "invalid JSON at byte %zu: nesting deeper than %d levels",
                            byte_at(d, d->p - 1), REC_MAX_DEPTH);
            depth++;
            is_obj = (is_obj & ~(1ull << depth)) | (uint64_t)(t.kind == TK_OBJECT) << depth;
            if (t.kind == TK_OBJECT) objid[depth] = ++d->nobjs;
            opened = true;
        }
    }
}

/* ---- values -------------------------------------------------------------- */

/* The value of an integral JSON number (no fraction, no exponent); false
 * when it lies outside int64. */
static bool number_to_int(const char *s, size_t n, int64_t *out)
{
    bool neg = s[0] == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (size_t i = neg; i < n; i++) {
        unsigned digit = (unsigned)(s[i] - '0');
        if (v > (limit - digit) / 10) return false;
        v = v * 10 + digit;
    }
    if (!neg) *out = (int64_t)v;
    else *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    return true;
}

typedef enum MoneyResult { MONEY_OK, MONEY_FRACTION, MONEY_RANGE } MoneyResult;

/* The significand's digits of a JSON number: the integer part, then the
 * fraction; digit k of nd. */
typedef struct Digits {
    const char *ip, *fp; /* integer and fraction digits */
    size_t ni, nf;
} Digits;

static int digit_at(const Digits *g, size_t k)
{
    return (k < g->ni ? g->ip[k] : g->fp[k - g->ni]) - '0';
}

/* Converts a JSON number to cents exactly: 1000.5, 1000.50 and 1e3 are
 * whole cents, 1000.005 is not (MONEY_FRACTION); beyond int64 cents (either
 * sign) is MONEY_RANGE. Trailing zeros do not count as decimal places. */
static MoneyResult number_to_cents(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = s[0] == '-';
    Digits g = {NULL, NULL, 0, 0};
    if (neg) i++;
    g.ip = s + i;
    while (i + g.ni < n && is_digit((uint8_t)s[i + g.ni])) g.ni++;
    i += g.ni;
    g.fp = s + i;
    if (i < n && s[i] == '.') {
        g.fp = s + ++i;
        while (i + g.nf < n && is_digit((uint8_t)s[i + g.nf])) g.nf++;
        i += g.nf;
    }
    int64_t exp = 0;
    if (i < n) { /* 'e' or 'E' */
        bool eneg = false;
        if (s[++i] == '+' || s[i] == '-') eneg = s[i++] == '-';
        /* Clamped: past 10^8 every nonzero amount is out of range or fractional. */
        for (; i < n; i++)
            if (exp < 100000000) exp = exp * 10 + (s[i] - '0');
        if (eneg) exp = -exp;
    }
    size_t nd = g.ni + g.nf, first = 0, last = nd;
    while (first < nd && digit_at(&g, first) == 0) first++;
    if (first == nd) {
        *out = 0;
        return MONEY_OK;
    }
    while (digit_at(&g, last - 1) == 0) last--;
    /* amount = digits[first .. last) * 10^scale cents, the last digit nonzero */
    int64_t scale = exp - (int64_t)g.nf + (int64_t)(nd - last) + 2;
    if (scale < 0) return MONEY_FRACTION;
    if ((int64_t)(last - first) + scale > 19) return MONEY_RANGE;
    uint64_t v = 0; /* at most 19 digits: below 10^19 < 2^64 */
    for (size_t k = first; k < last; k++) v = v * 10 + (uint64_t)digit_at(&g, k);
    for (; scale > 0; scale--) {
        if (v > (uint64_t)INT64_MAX / 10) return MONEY_RANGE;
        v *= 10;
    }
    if (v > (uint64_t)INT64_MAX) return MONEY_RANGE;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return MONEY_OK;
}

/* Writes "field 'code'" or "field 'diagnoses': element 2" (elem 1-based;
 * 0 for a scalar field) into what: the start of a code error message. */
static void code_what(RecDecoder *d, uint32_t f, uint32_t elem, char *what, size_t cap)
{
    if (elem) snprintf(what, cap, "field '%s': element %u", field_name(d, f), elem);
    else snprintf(what, cap, "field '%s'", field_name(d, f));
}

/* to_code's message for s, which is not a code of sys (SYS_NONE: of no
 * system in mask). Formatted only on failure. */
static bool fail_code(RecDecoder *d, uint32_t f, uint32_t elem, CodeSystem sys, unsigned mask,
                      const char *s, uint32_t n)
{
    char val[SHOW_CAP], names[64], what[96];
    quote(val, sizeof val, s, n);
    code_what(d, f, elem, what, sizeof what);
    if (sys == SYS_NONE) {
        char forms[400];
        list_titles(mask, names, sizeof names, forms, sizeof forms);
        const char *article = names[0] == 'I' ? "an" : "a"; /* "an ICD-10-CM" */
        return fail(d, "%s: %s is not %s %s code (%s)", what, val, article, names, forms);
    }
    const char *why = "";
    CodeKey key;
    code_parse(sys, s, n, &key, &why);
    return fail(d, "%s: %s is not a valid %s code: %s", what, val, code_system_name(sys), why);
}

/* Converts code text to a key. sys is the system to use, or SYS_NONE to
 * take it from mask (field f's systems): its only system, else the one the
 * code's shape fits. f and elem name the value in a message (see
 * code_what), which is only formatted on failure: this runs for every code
 * of every record. */
static inline bool to_code(RecDecoder *d, uint32_t f, uint32_t elem, CodeSystem sys,
                           unsigned mask, const char *s, uint32_t n, int64_t *out)
{
    CodeKey key;
    if (sys == SYS_NONE) sys = (CodeSystem)d->only_sys[f];
    if (sys == SYS_NONE) {
        sys = code_infer_parse(s, n, mask, &key);
        if (sys == SYS_NONE) return fail_code(d, f, elem, SYS_NONE, mask, s, n);
    } else if (!code_parse(sys, s, n, &key, NULL)) {
        return fail_code(d, f, elem, sys, mask, s, n);
    }
    *out = (int64_t)key;
    return true;
}

/* The rest of a code list element written as an object, whose '{' was
 * read: {"code": "...", "system": "..."} in any order. "code" is required;
 * "system", when given, must name one of the field's systems and fixes the
 * code's system (else it is inferred from the shape, as for a bare string);
 * other keys are skipped (validated like any unknown key). Sets *s, *n to
 * the code text and *sys to the system or SYS_NONE. elem is 1-based. */
static bool decode_code_object(RecDecoder *d, uint32_t f, uint32_t elem, const char **s,
                               uint32_t *n, CodeSystem *sys)
{
    const PField *pf = &d->prog->fields[f];
    const char *name = field_name(d, f);
    uint32_t obj = ++d->nobjs;
    unsigned seen = 0; /* bit 0: "code" read, bit 1: "system" */
    bool have_code = false;
    *sys = SYS_NONE;
    skip_ws(d);
    if (at(d, '}')) {
        d->p++;
    } else {
        for (bool first = true;; first = false) {
            Tok k, v;
            char got[SHOW_CAP];
            if (!read_key(d, &k, first ? "expected a string key or '}'" : "expected a string key"))
                return false;
            bool is_code = k.n == 4 && memcmp(k.s, "code", 4) == 0;
            bool is_sys = k.n == 6 && memcmp(k.s, "system", 6) == 0;
            /* "code" and "system" are tracked by a bit each, other keys in
             * the table of keys */
            unsigned bit = is_code ? 1 : is_sys ? 2 : 0;
            if (bit ? (seen & bit) != 0 : !key_insert(d, obj, &k)) {
                quote(got, sizeof got, k.s, k.n);
                return fail(d, "field '%s': element %u: duplicate key %s", name, elem, got);
            }
            seen |= bit;
            if (!read_value(d, &v)) return false;
            if ((is_code || is_sys) && v.kind != TK_STRING) {
                show(got, &v);
                return fail(d, "field '%s': element %u: '%s': expected a string, got %s", name,
                            elem, is_code ? "code" : "system", got);
            }
            if (is_code) {
                *s = v.s;
                *n = v.n;
                have_code = true;
            } else if (is_sys) {
                CodeSystem y = code_system_from_name(v.s, v.n);
                if (y == SYS_NONE || !(pf->systems & SYS_BIT(y))) {
                    char names[64];
                    quote(got, sizeof got, v.s, v.n);
                    list_systems(pf->systems, names, sizeof names);
                    return fail(d, "field '%s': element %u: system %s is not one of the field's "
                                   "systems (%s)", name, elem, got, names);
                }
                *sys = y;
            } else if ((v.kind == TK_ARRAY || v.kind == TK_OBJECT) &&
                       !skip_nested(d, v.kind, &k)) {
                return false;
            }
            int more = next_or_close(d, '}');
            if (more < 0) return false;
            if (!more) break;
        }
    }
    if (!have_code) return fail(d, "field '%s': element %u: object without \"code\"", name, elem);
    return true;
}

/* list = '[' (element (',' element)*)? ']'; the '[' was read. An element
 * is a string, or for a code list an object (decode_code_object). Elements
 * go to the record's items; REC_MAX_ITEMS bounds all lists together. */
static bool decode_list(RecDecoder *d, uint32_t f)
{
    const PField *pf = &d->prog->fields[f];
    const char *name = field_name(d, f);
    uint32_t first = d->rec.nitems, n = 0;
    skip_ws(d);
    if (at(d, ']')) {
        d->p++;
    } else {
        for (;;) {
            Tok t;
            char got[SHOW_CAP];
            if (!read_value(d, &t)) return false;
            n++;
            CodeSystem sys = SYS_NONE;
            if (t.kind == TK_OBJECT && pf->elem == VT_CODE) {
                if (!decode_code_object(d, f, n, &t.s, &t.n, &sys)) return false;
            } else if (t.kind != TK_STRING) {
                show(got, &t);
                return fail(d, "field '%s': element %u: expected %s, got %s", name, n,
                            pf->elem == VT_CODE ? "code string" : "string", got);
            }
            if (d->rec.nitems == REC_MAX_ITEMS)
                return fail(d, "field '%s': more than %d list elements in the record", name,
                            REC_MAX_ITEMS);
            RecVal *it = &d->items[d->rec.nitems++];
            it->s = t.s;
            it->n = t.n;
            it->i = 0;
            if (pf->elem == VT_CODE && !to_code(d, f, n, sys, pf->systems, t.s, t.n, &it->i))
                return false;
            int more = next_or_close(d, ']');
            if (more < 0) return false;
            if (!more) break;
        }
    }
    d->rec.v[f] = (RecVal){first, NULL, n};
    return true;
}

/* Converts value t of field f into the record. null says the field does
 * not apply (Record.none); for a required field that is an error. Code
 * fields keep their text for resolve_codes. */
HOT bool decode_field(RecDecoder *d, uint32_t f, const Tok *t)
{
    const PField *pf = &d->prog->fields[f];
    RecVal *v = &d->rec.v[f];
    char got[SHOW_CAP], list[ENUM_LIST_BUDGET + 8];
    if (t->kind == TK_NULL) {
        if (pf->flags & PF_REQUIRED)
            return fail(d, "field '%s': null, but the field is required", field_name(d, f));
        d->rec.none |= 1ull << f;
        return true;
    }
    switch ((ValType)pf->type) {
    case VT_BOOL:
        if (t->kind != TK_TRUE && t->kind != TK_FALSE) return fail_type(d, f, "true or false", t);
        v->i = t->kind == TK_TRUE;
        break;
    case VT_INT:
        if (t->kind != TK_NUMBER || !t->integral) return fail_type(d, f, "integer", t);
        if (!number_to_int(t->s, t->n, &v->i)) {
            show(got, t);
            return fail(d, "field '%s': integer out of range, got %s", field_name(d, f), got);
        }
        break;
    case VT_MONEY:
        if (t->kind != TK_NUMBER) return fail_type(d, f, "money as a JSON number", t);
        switch (number_to_cents(t->s, t->n, &v->i)) {
        case MONEY_OK: break;
        case MONEY_FRACTION:
            show(got, t);
            return fail(d, "field '%s': more than 2 decimal places, got %s", field_name(d, f), got);
        case MONEY_RANGE:
            show(got, t);
            return fail(d, "field '%s': amount out of range, got %s", field_name(d, f), got);
        }
        break;
    case VT_STRING:
        if (t->kind != TK_STRING) return fail_type(d, f, "string", t);
        v->s = t->s;
        v->n = t->n;
        break;
    case VT_DATE: {
        int32_t day;
        if (t->kind != TK_STRING || !date_parse(t->s, t->n, &day))
            return fail_type(d, f, "date YYYY-MM-DD", t);
        v->i = day;
        break;
    }
    case VT_DATETIME: {
        bool had_time;
        if (t->kind != TK_STRING || !datetime_parse(t->s, t->n, &v->i, &had_time))
            return fail_type(d, f, "datetime YYYY-MM-DD[THH:MM[:SS]]", t);
        if (!had_time) d->rec.date_only |= (uint64_t)1 << f;
        break;
    }
    case VT_ENUM: {
        const Name *m = NULL;
        if (t->kind == TK_STRING) m = member_find(d, f, t->s, t->n);
        if (!m) {
            list_members(d, pf, list, sizeof list);
            show(got, t);
            const char *name = field_name(d, f);
            if (t->kind != TK_STRING)
                return fail(d, "field '%s': expected one of %s, got %s", name, list, got);
            return fail(d, "field '%s': unknown value %s (expected one of %s)", name, got, list);
        }
        v->i = m->member;
        break;
    }
    case VT_CODE:
        if (t->kind != TK_STRING) return fail_type(d, f, "code string", t);
        v->s = t->s;
        v->n = t->n;
        break;
    case VT_LIST:
        if (t->kind != TK_ARRAY) {
            const char *want = pf->elem == VT_CODE ? "array of code strings" : "array of strings";
            return fail_type(d, f, want, t);
        }
        if (!decode_list(d, f)) return false;
        if (v->n == 0 && !(pf->flags & PF_REQUIRED)) {
            d->rec.none |= 1ull << f; /* [] says what null says: none apply */
            return true;
        }
        break;
    default: /* type is a byte of the Prog: only a broken one gets here */
        return fail(d, "field '%s': internal error: unsupported field type %u", field_name(d, f),
                    pf->type);
    }
    d->rec.present |= 1ull << f;
    return true;
}

/* Converts the code fields once the whole object is read: a code's system
 * comes from its tag field when the record gives one, else from its shape. */
static bool resolve_codes(RecDecoder *d)
{
    for (uint64_t todo = d->code_fields & d->rec.present; todo; todo &= todo - 1) {
        uint32_t f = (uint32_t)__builtin_ctzll(todo);
        const PField *pf = &d->prog->fields[f];
        RecVal *v = &d->rec.v[f];
        uint32_t tag = d->tag[f];
        CodeSystem sys = SYS_NONE;
        if (tag != PIDX_NONE && (d->rec.present >> tag & 1)) {
            uint32_t m = (uint32_t)d->rec.v[tag].i; /* a member index, below 64 */
            sys = (CodeSystem)d->member_sys[tag][m];
            if (sys == SYS_NONE || !(pf->systems & SYS_BIT(sys))) {
                char names[64];
                list_systems(pf->systems, names, sizeof names);
                return fail(d, "field '%s': '%s' is %s, not one of the field's systems (%s)",
                            field_name(d, f), field_name(d, tag),
                            member_name(d, &d->prog->fields[tag], m), names);
            }
        }
        if (!to_code(d, f, 0, sys, pf->systems, v->s, v->n, &v->i)) return false;
    }
    return true;
}

/* ---- unknown keys ---------------------------------------------------------- */

/* Counts the unknown top-level key k (see RecDecoder.unknown) and keeps the
 * record's first one for strict mode. Runs only for unknown keys. */
static void add_unknown(RecDecoder *d, const char *s, size_t n, uint64_t count)
{
    if (n > REC_UNKNOWN_NAME_MAX) {
        d->unknown_other += count;
        return;
    }
    for (uint32_t i = 0; i < d->nunknown; i++) {
        UnknownKey *u = &d->unknown[i];
        if (u->len == n && memcmp(u->name, s, n) == 0) {
            u->count += count;
            return;
        }
    }
    if (d->nunknown == REC_UNKNOWN_KEYS) {
        d->unknown_other += count;
        return;
    }
    UnknownKey *u = &d->unknown[d->nunknown++];
    memcpy(u->name, s, n);
    u->name[n] = '\0';
    u->len = (uint32_t)n;
    u->count = count;
}

static void count_unknown(RecDecoder *d, const Tok *k)
{
    if (!d->first_unknown) {
        d->first_unknown = k->s;
        d->first_unknown_len = k->n;
    }
    add_unknown(d, k->s, k->n, 1);
}

/* See rec.h. */
void rec_unknown_merge(RecDecoder *dst, const RecDecoder *src)
{
    for (uint32_t i = 0; i < src->nunknown; i++)
        add_unknown(dst, src->unknown[i].name, src->unknown[i].len, src->unknown[i].count);
    dst->unknown_other += src->unknown_other;
}

/* Writes name[0..n) for a message: printable ASCII as is, any other byte
 * as '?', cut after 40 bytes with "...". */
static void show_name(char *out, size_t cap, const char *name, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        if (i == QUOTE_CUT) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        uint8_t c = (uint8_t)name[i];
        out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[o] = '\0';
}

/* Strict mode: the record's first unknown key is its error. */
static bool fail_unknown(RecDecoder *d)
{
    char shown[QUOTE_CUT + 8];
    show_name(shown, sizeof shown, d->first_unknown, d->first_unknown_len);
    const char *near = rec_field_nearest(d, d->first_unknown, d->first_unknown_len);
    if (near) return fail(d, "unknown field '%s' (did you mean '%s'?)", shown, near);
    return fail(d, "unknown field '%s'", shown);
}

void rec_decoder_set_strict(RecDecoder *d, bool strict) { d->strict = strict; }

/* See rec.h. Off, no key pattern matches and every value takes the
 * general path. */
void rec_decoder_set_fast(RecDecoder *d, bool on)
{
    free(d->patbuf);
    d->patbuf = NULL;
    fast_init(d);
    if (on) return;
    d->learn = false;
    for (uint32_t f = 0; f < d->prog->nfields; f++) {
        d->kpat[f].len = 0;
        d->fast[f] = FAST_NONE;
    }
}

size_t rec_unknown_count(const RecDecoder *d) { return d->nunknown; }

const char *rec_unknown_key(const RecDecoder *d, size_t i, uint64_t *count)
{
    if (i >= d->nunknown) return NULL;
    *count = d->unknown[i].count;
    return d->unknown[i].name;
}

uint64_t rec_unknown_other(const RecDecoder *d) { return d->unknown_other; }

const char *rec_field_nearest(const RecDecoder *d, const char *name, size_t n)
{
    long i = near_best(name, n, d->names, d->prog->nfields);
    return i < 0 ? NULL : d->names[i];
}

/* ---- records ------------------------------------------------------------- */

static bool is_bom(const uint8_t *p, const uint8_t *end)
{
    return end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF;
}

/* The time of the service (or admission) falls on its service_date: hour
 * deadlines count from it, day deadlines from the date, so the two must
 * agree. */
static bool check_service_at(RecDecoder *d)
{
    const Prog *p = d->prog;
    const Record *r = &d->rec;
    if (p->f_service_at == PIDX_NONE || p->f_service_date == PIDX_NONE ||
        !(r->present >> p->f_service_at & 1) || !(r->present >> p->f_service_date & 1))
        return true;
    int64_t at = r->v[p->f_service_at].i, day = r->v[p->f_service_date].i;
    int64_t at_day = at / SECONDS_PER_DAY - (at % SECONDS_PER_DAY < 0);
    if (at_day == day) return true;
    char a[24], b[16];
    datetime_format(at, a);
    date_format((int32_t)day, b);
    return fail(d, "field '%s': %s is not on service_date %s", field_name(d, p->f_service_at), a, b);
}

/* ---- fast paths ------------------------------------------------------------ */

/* Records from one source repeat their key order, and most have no
 * whitespace, no escapes and values of the expected shapes. For those the
 * loop below looks for each key in the learned key order (RecDecoder.order:
 * the fields of the records before, in the order they came), at the places
 * after the previous key's, confirming one with a masked compare of
 * `"name":` (order_hit), and fast_value decodes a value straight from its
 * bytes by the field's type. A key found at a place after the previous
 * key's cannot be a duplicate: every field at those places is still
 * unseen in the record (the loop keeps it so: a field read otherwise
 * either lies before that place, and is checked, or moves the place past
 * itself). Anything else (whitespace, an escape, null, a wrong type, an
 * unusual number, a key not found so) goes to the general path from the
 * same byte, which reads it as it always did: the fast paths change no
 * result and no message, they only skip work. */

/* The rest of key_hit for a step whose 16-byte compare matched at p: a
 * pattern longer than 16 bytes compares its last 8 bytes as a word and
 * the bytes between with memcmp; a field never predicted never matches. */
static bool key_tail(const RecDecoder *d, const Step *st, const uint8_t *p)
{
    const KeyPat *k = &d->kpat[st->field];
    if (k->len == 0 || (size_t)(d->end - p) < k->len ||
        bytes_le64((const char *)p + k->len - 8) != k->last)
        return false;
    return k->len <= 24 || memcmp(p + 16, k->pat + 16, k->len - 24) == 0;
}

/* Gives place i of the order to field f (PRED_NONE: a place that never
 * matches: its compare needs a NUL byte, and key_tail refuses it). */
static void order_put(RecDecoder *d, uint32_t i, uint32_t f)
{
    const KeyPat *k = &d->kpat[f];
    Step *st = &d->order[i];
    memcpy(st->w, k->w, sizeof st->w);
    memcpy(st->m, k->m, sizeof st->m);
    if (f == PRED_NONE) st->m[0] = 0xFF;
    st->ignore = 0;
    for (uint32_t b = 0; b < 16; b++)
        if (!(st->m[b / 8] >> (b % 8 * 8) & 0xFF)) st->ignore |= 1u << b;
    st->len = k->len;
    st->field = (uint8_t)f;
    st->kind = f == PRED_NONE ? FAST_NONE : d->fast[f];
    if (st->kind == FAST_STRING && f == d->id_field) st->kind = FAST_ID;
    st->bit = f == PRED_NONE ? 0 : 1ull << f;
    st->tail = k->len == 0 || k->len > 16;
    if (st->tail) st->ignore |= STEP_TAIL;
}

/* Empties the learned order. */
static void order_clear(RecDecoder *d)
{
    d->norder = 0;
    memset(d->rank, 0, sizeof d->rank);
    for (uint32_t i = 0; i < PCR_MAX_FIELDS + ORDER_TRIES; i++) order_put(d, i, PRED_NONE);
}

/* Puts field f, just read by the general path after the key at place
 * next - 1 (next: 0 for the first key), right after that place when it is
 * new or comes out of order (from a place before it). Returns
 * the place after f's. The fields at that place and after it are those
 * that were at next and after (less f): still unseen in the record. Runs
 * only for keys the order did not give. */
static uint32_t order_move(RecDecoder *d, uint32_t f, uint32_t next)
{
    uint32_t r = d->rank[f], n = d->norder;
    /* further on, past the places tried, or in place (the key had a
     * space, an escape, ...): it stays, as moving it forward would put
     * the fields between after it, where the next record may want them */
    if (r > next) return r;
    if (r) { /* take it out */
        memmove(&d->order[r - 1], &d->order[r], (n - r) * sizeof *d->order);
        n--;
        if (r <= next) next--;
    }
    memmove(&d->order[next + 1], &d->order[next], (n - next) * sizeof *d->order);
    n++;
    order_put(d, next, f);
    d->norder = n;
    order_put(d, n, PRED_NONE);
    for (uint32_t i = 0; i < n; i++) d->rank[d->order[i].field] = (uint8_t)(i + 1);
    return next + 1;
}

/* The value of the n digits at s (n <= 9), or -1 if one is not a digit. */
static inline int fast_digits(const uint8_t *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned c = (unsigned)s[i] - '0';
        if (c > 9) return -1;
        v = v * 10 + (int)c;
    }
    return v;
}

/* date_parse for the 10 bytes at s, with the same verdict and value
 * (test_rec_fast checks every month of the years around the accepted ones):
 * "YYYY-MM-" checked as one word and "DD" as a pair of bytes (a digit's
 * byte has 3 as its high nibble and a low one that adding 6 keeps below
 * 16), the digits paired into numbers in the word by one multiply, then
 * the days and the month's length from one entry of the table of months. */
static inline bool fast_date(const RecDecoder *d, const uint8_t *s, int32_t *out)
{
    enum { DAYS_1900_TO_1970 = 25567 };
    /* "YYYY-MM-" as one word: each digit's byte is 0x30 plus at most 9,
     * the dashes are dashes */
    uint64_t w = bytes_le64((const char *)s);
    uint32_t dw = (uint32_t)s[8] | (uint32_t)s[9] << 8; /* "DD" */
    uint64_t lo = w & 0x000F0F000F0F0F0Full;
    if ((w & 0xFFF0F0FFF0F0F0F0ull) != 0x2D30302D30303030ull ||
        ((lo + 0x0006060006060606ull) & 0x00F0F000F0F0F0F0ull) || (dw & 0xF0F0) != 0x3030 ||
        (((dw & 0x0F0F) + 0x0606) & 0xF0F0))
        return false;
    /* two digits per byte: byte 0 the century, 2 the year in it, 5 the month */
    uint64_t t = lo * 10 + (lo >> 8);
    unsigned y = (unsigned)(t & 0xFF) * 100 + (unsigned)(t >> 16 & 0xFF) - DATE_MIN_YEAR,
             m = (unsigned)(t >> 40 & 0xFF) - 1, dd = (dw & 0xF) * 10 + (dw >> 8 & 0xF);
    if (y > DATE_MAX_YEAR - DATE_MIN_YEAR || m > 11) return false;
    uint32_t e = d->month[y * 12 + m];
    if (dd - 1 >= (e & 31)) return false; /* dd is 1 to the month's length */
    *out = (int32_t)(e >> 5) - DAYS_1900_TO_1970 + (int32_t)dd - 1;
    return true;
}

/* The integral part of a number at p: at most 18 digits without a leading
 * zero (or a lone 0), so it fits int64. Returns the byte after it, or NULL
 * for anything else. */
static inline const uint8_t *fast_uint(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
    if (p == end) return NULL;
    uint64_t v = (unsigned)*p - '0';
    if (v > 9) return NULL;
    const uint8_t *s = p++;
    if (v != 0) {
        for (unsigned c; p < end && (c = (unsigned)*p - '0') <= 9; p++) v = v * 10 + c;
        if (p - s > 18) return NULL;
    }
    *out = v;
    return p;
}

/* Whether the number that ended before c goes on: a digit (a leading zero),
 * a fraction or an exponent. */
static inline bool number_goes_on(uint8_t c)
{
    return is_digit(c) || c == '.' || c == 'e' || c == 'E';
}

/* The string without escapes, control or non-ASCII bytes at p (on its
 * quote): its body in *s, *n and the byte after it, or NULL. */
HOT const uint8_t *fast_string(const uint8_t *p, const uint8_t *end, const char **s, uint32_t *n)
{
    if (p == end || *p != '"') return NULL;
    const uint8_t *q;
#if SCAN_HAVE_SSE2
    /* most strings end within the 16 bytes from their opening quote on */
    unsigned stops;
    if (end - p >= 16 && (stops = scan_stops16(p) & ~1u) != 0)
        q = p + __builtin_ctz(stops);
    else
#endif
        q = scan_plain(p + 1, end);
    if (q == end || *q != '"') return NULL;
    *s = (const char *)(p + 1);
    *n = (uint32_t)(q - (p + 1));
    return q + 1;
}

/* Whether the n bytes at p are lit. */
static inline bool fast_lit(const uint8_t *p, const uint8_t *end, const char *lit, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/* A code list element at p written exactly `{"system":"S","code":"C"}`, S a
 * system of field pf whose name's first byte no other system's has, C a
 * plain string of at most 14 bytes: the byte after it, C in *s, *n and S
 * in *sys; NULL for anything else (fast_code_object reads it then, to the
 * same result). Two compares of 16 bytes find the pattern up to C, one
 * load of 16 bytes C's closing quote. */
HOT const uint8_t *code_object_at(const RecDecoder *d, const PField *pf, const uint8_t *p,
                                  const uint8_t *end, const char **s, uint32_t *n, CodeSystem *sys)
{
#if SCAN_HAVE_SSE2
    enum { NAME_AT = 11 }; /* `{"system":"` */
    if (end - p < 48) return NULL; /* a pattern of at most 32 bytes, then 16 */
    CodeSystem y = (CodeSystem)d->osys[p[NAME_AT]];
    if (!(pf->systems & SYS_BIT(y) & ~SYS_BIT(SYS_NONE))) return NULL;
    const CodeObjPat *c = &d->opat[y];
    __m128i a = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p),
                               _mm_loadu_si128((const __m128i *)(const void *)c->head));
    __m128i b = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + c->len - 16)),
                               _mm_loadu_si128((const __m128i *)(const void *)c->tail));
    if (_mm_movemask_epi8(_mm_and_si128(a, b)) != 0xFFFF) return NULL;
    const uint8_t *q = p + c->len;
    unsigned stop = scan_stops16(q); /* the first byte that is not plain */
    if (!stop) return NULL;
    uint32_t k = (uint32_t)__builtin_ctz(stop);
    if (k > 14 || q[k] != '"' || q[k + 1] != '}') return NULL;
    *s = (const char *)q;
    *n = k;
    *sys = y;
    return q + k + 2;
#else
    (void)d, (void)pf, (void)p, (void)end, (void)s, (void)n, (void)sys;
    return NULL;
#endif
}

/* A code list element {"system":"S","code":"C"} or {"code":"C"} at p (on
 * its brace), exactly so, whose system is one of field f's: the byte
 * after it, the code in *s, *n and the system in *sys; NULL otherwise
 * (decode_code_object reads everything else). Counts the object and its
 * keys as decode_code_object does. */
static const uint8_t *fast_code_object(RecDecoder *d, const PField *pf, const uint8_t *p,
                                       const char **s, uint32_t *n, CodeSystem *sys)
{
    const uint8_t *end = d->end;
    uint32_t keys = 2;
    const uint8_t *q = code_object_at(d, pf, p, end, s, n, sys);
    if (!q) {
        const char *ys;
        uint32_t yn;
        keys = 1;
        *sys = SYS_NONE;
        if (fast_lit(p, end, "{\"system\":", 10)) {
            p = fast_string(p + 10, end, &ys, &yn);
            if (!p) return NULL;
            CodeSystem y = code_system_from_name(ys, yn);
            if (y == SYS_NONE || !(pf->systems & SYS_BIT(y))) return NULL;
            *sys = y;
            if (!fast_lit(p, end, ",\"code\":", 8)) return NULL;
            p += 8;
            keys = 2;
        } else if (fast_lit(p, end, "{\"code\":", 8)) {
            p += 8;
        } else {
            return NULL;
        }
        p = fast_string(p, end, s, n);
        if (!p || p == end || *p != '}') return NULL;
        q = p + 1;
    }
    if (d->nkeys + keys > REC_MAX_KEYS) return NULL;
    d->nkeys += keys;
    d->nobjs++;
    return q;
}

/* A list of strings without escapes (or, for codes, fast_code_object
 * elements) at p, '[' on, without whitespace and not empty: each element
 * is converted as decode_list converts it, in the same order, so a code
 * error is the same error. nkeys is the record's key count so far (it
 * goes in d->nkeys, which the objects' keys add to). Returns the byte
 * after ']', NULL to fall back (having undone everything), or p itself
 * after an error. */
static const uint8_t *fast_list(RecDecoder *d, uint32_t f, const uint8_t *p, uint32_t nkeys)
{
    const PField *pf = &d->prog->fields[f];
    const uint8_t *end = d->end, *start = p;
    uint32_t first = d->rec.nitems, n = 0, nobjs = d->nobjs;
    d->nkeys = nkeys;
    if (p == end || *p++ != '[') return NULL;
    for (;;) {
        const char *s;
        uint32_t len;
        CodeSystem sys = SYS_NONE;
        const uint8_t *q = fast_string(p, end, &s, &len);
        if (!q && p < end && *p == '{' && pf->elem == VT_CODE)
            q = fast_code_object(d, pf, p, &s, &len, &sys);
        if (!q || q == end || d->rec.nitems == REC_MAX_ITEMS) break;
        p = q;
        RecVal *it = &d->items[d->rec.nitems++];
        it->s = s;
        it->n = len;
        it->i = 0;
        n++;
        if (pf->elem == VT_CODE && !to_code(d, f, n, sys, pf->systems, s, len, &it->i))
            return start;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != ']') break;
        d->rec.v[f] = (RecVal){first, NULL, n};
        return p + 1;
    }
    d->rec.nitems = first;
    d->nkeys = nkeys;
    d->nobjs = nobjs;
    return NULL;
}

/* Decodes the value of known field f at q (at most end) when it has the
 * usual shape of its type (see FastKind): the byte after it when done,
 * NULL to read it on the general path (nothing was changed), q itself
 * after an error (a code of a list). Does not mark f present (the caller
 * does). *nkeys is the record's key count, which a list of code objects
 * adds to (fast_members keeps it in a register, others pass &d->nkeys). */
HOT const uint8_t *fast_value_as(RecDecoder *d, uint32_t f, FastKind kind, const uint8_t *q,
                                  const uint8_t *end, uint32_t *nkeys)
{
    const uint8_t *p;
    RecVal *v = &d->rec.v[f];
    /* every case checks that its bytes are there, q == end included */
    switch (kind) {
    case FAST_STRING:
        p = fast_string(q, end, &v->s, &v->n);
        if (!p) return NULL;
        break;
    case FAST_ID:
        p = fast_string(q, end, &v->s, &v->n);
        if (!p) return NULL;
        d->rec.has_id = true;
        d->rec.id = v->s;
        d->rec.id_len = v->n;
        break;
    case FAST_ENUM: {
        const char *s;
        uint32_t n;
        int mi = enum_vec(d, f, q, end, &p);
        if (mi >= 0) {
            v->i = mi;
            break;
        }
        const Name *m = enum_at(d, f, q, end, &p);
        if (!m) {
            p = fast_string(q, end, &s, &n);
            m = p ? enum_find(d, f, s, n) : NULL;
        }
        if (!m) return NULL;
        v->i = m->member;
        break;
    }
    case FAST_DATE: {
        int32_t day;
        if (end - q < 12 || q[0] != '"' || q[11] != '"' || !fast_date(d, q + 1, &day)) return NULL;
        v->i = day;
        p = q + 12;
        break;
    }
    case FAST_DATETIME: {
        int32_t day;
        if (end - q < 12 || q[0] != '"' || !fast_date(d, q + 1, &day)) return NULL;
        if (q[11] == '"') {
            v->i = (int64_t)day * SECONDS_PER_DAY;
            d->rec.date_only |= (uint64_t)1 << f;
            p = q + 12;
            break;
        }
        if (end - q < 18 || q[11] != 'T' || q[14] != ':') return NULL;
        int hh = fast_digits(q + 12, 2), mm = fast_digits(q + 15, 2), ss = 0;
        if (q[17] == '"') {
            p = q + 18;
        } else if (end - q >= 21 && q[17] == ':' && q[20] == '"') {
            ss = fast_digits(q + 18, 2);
            p = q + 21;
        } else {
            return NULL;
        }
        if (hh < 0 || mm < 0 || ss < 0 || hh > 23 || mm > 59 || ss > 59) return NULL;
        v->i = (int64_t)day * SECONDS_PER_DAY + hh * 3600 + mm * 60 + ss;
        break;
    }
    case FAST_INT: {
        /* the usual integer first: 1 or 2 digits without a leading zero,
         * then ',' or '}' (no loop, one compare per byte) */
        if (end - q >= 3) {
            unsigned a = (unsigned)q[0] - '1', b = (unsigned)q[1] - '0';
            if (a < 9) {
                if (q[1] == ',' || q[1] == '}') {
                    v->i = a + 1;
                    p = q + 1;
                    break;
                }
                if (b <= 9 && (q[2] == ',' || q[2] == '}')) {
                    v->i = (a + 1) * 10 + b;
                    p = q + 2;
                    break;
                }
            }
        }
        uint64_t u;
        if (q == end) return NULL;
        bool neg = *q == '-';
        p = fast_uint(q + neg, end, &u);
        if (!p || p == end || number_goes_on(*p)) return NULL;
        v->i = neg ? -(int64_t)u : (int64_t)u;
        break;
    }
    case FAST_MONEY: {
        uint64_t u, cents = 0;
        if (q == end) return NULL;
        bool neg = *q == '-';
        p = fast_uint(q + neg, end, &u);
        if (!p || p == end || u >= 10000000000000000ull) return NULL;
        if (*p == '.') {
            const uint8_t *fr = ++p;
            while (p < end && is_digit(*p) && p - fr < 3) cents = cents * 10 + (unsigned)(*p++ - '0');
            if (p == fr || p - fr > 2) return NULL;
            if (p - fr == 1) cents *= 10;
        }
        if (p == end || number_goes_on(*p)) return NULL;
        cents += u * 100;
        v->i = neg ? -(int64_t)cents : (int64_t)cents;
        break;
    }
    case FAST_BOOL:
        if (fast_lit(q, end, "true", 4)) {
            v->i = 1;
            p = q + 4;
        } else if (fast_lit(q, end, "false", 5)) {
            v->i = 0;
            p = q + 5;
        } else {
            return NULL;
        }
        break;
    case FAST_LIST:
        p = fast_list(d, f, q, *nkeys);
        *nkeys = d->nkeys;
        return p;
    case FAST_NONE:
        return NULL;
    default: /* no other kind is made (fast_init) */
        __builtin_unreachable();
    }
    return p;
}

/* fast_value_as by field f's own fast path, in the line, marking f
 * present when done. */
static inline const uint8_t *fast_value(RecDecoder *d, uint32_t f, const uint8_t *q)
{
    FastKind kind = (FastKind)d->fast[f];
    if (kind == FAST_STRING && f == d->id_field) kind = FAST_ID;
    const uint8_t *p = fast_value_as(d, f, kind, q, d->end, &d->nkeys);
    if (p && p != q) d->rec.present |= 1ull << f;
    return p;
}

/* read_value for the top-level member with key k; a string "id" is the
 * record's id (whatever the schema says of it). */
static inline bool read_member_value(RecDecoder *d, const Tok *k, Tok *v)
{
    if (!read_value(d, v)) return false;
    if (v->kind == TK_STRING && k->n == 2 && memcmp(k->s, "id", 2) == 0) {
        d->rec.has_id = true;
        d->rec.id = v->s;
        d->rec.id_len = v->n;
    }
    return true;
}

/* Where parse_record's member loop stands, between fast_members and the
 * general path. */
typedef struct Members {
    const uint8_t *p; /* the next key (or what stands in its place) */
    uint32_t next;    /* the place in d->order after the last key's (0: none) */
    bool first;       /* no member read yet */
} Members;

/* The known fields read so far in the record: each one read sets its bit
 * in present or in none (or the record fails). */
static inline uint64_t fields_seen(const RecDecoder *d) { return d->rec.present | d->rec.none; }

enum { MEMBERS_MORE, MEMBERS_DONE, MEMBERS_FAILED };

/* After a member's value at p: a ',' (MEMBERS_MORE, m->p after it), the
 * closing '}' (MEMBERS_DONE, d->p after it) or an error (MEMBERS_FAILED). */
HOT int member_end(RecDecoder *d, Members *m, const uint8_t *p)
{
    m->first = false;
    if (p < d->end && *p == ',') {
        m->p = p + 1;
        return MEMBERS_MORE;
    }
    if (p < d->end && *p == '}') {
        d->p = p + 1;
        return MEMBERS_DONE;
    }
    d->p = p;
    int more = next_or_close(d, '}');
    if (more < 0) return MEMBERS_FAILED;
    m->p = d->p;
    return more ? MEMBERS_MORE : MEMBERS_DONE;
}

/* See rec.h. */
const char *rec_dispatch(void)
{
#ifdef PCR_COMPUTED_GOTO
    return "computed-goto";
#else
    return "switch";
#endif
}

/* fast_members' key search: the step of the learned order, from `next` on
 * (ORDER_TRIES places), whose key stands at p, into st, and the value's
 * first byte into v; goto out when none does, or when the record has
 * REC_MAX_KEYS keys already (the general path says so). One byte compare
 * of the 16 bytes at p (padded with NUL bytes near the end: the pattern
 * bytes are never NUL, so padding never matches); the bytes past the
 * pattern are taken as equal; a step with a tail never matches here, and
 * asks key_tail when its 16 bytes do. */
#if SCAN_HAVE_SSE2
#define FM_STEPS_TRY(k)                                                                         \
    __m128i x_ = _mm_loadu_si128((const __m128i *)(const void *)(k));                          \
    for (unsigned same_;                                                                        \
         (same_ = (unsigned)_mm_movemask_epi8(                                                  \
              _mm_cmpeq_epi8(x_, _mm_loadu_si128((const __m128i *)(const void *)st->w))) |      \
                  st->ignore) != 0xFFFF;) {                                                     \
        if (same_ == (0xFFFF | STEP_TAIL) && key_tail(d, st, p)) break;                         \
        if (++st == stop_) goto out;                                                            \
    }
#else
#define FM_STEPS_TRY(k)                                                                         \
    uint64_t w0_ = bytes_le64((const char *)(k)), w1_ = bytes_le64((const char *)(k) + 8);      \
    while (((((w0_ ^ st->w[0]) & st->m[0]) | ((w1_ ^ st->w[1]) & st->m[1])) != 0 ||           \
            (st->tail && !key_tail(d, st, p))))                                                 \
        if (++st == stop_) goto out;
#endif
#define FM_FIND_KEY()                                                                           \
    do {                                                                                        \
        const uint8_t *k_ = p;                                                                  \
        uint8_t pad_[16];                                                                       \
        if ((uintptr_t)p > lim) {                                                               \
            memset(pad_, 0, sizeof pad_);                                                       \
            memcpy(pad_, p, (size_t)(end - p));                                                 \
            k_ = pad_;                                                                          \
        }                                                                                       \
        const Step *stop_ = next + ORDER_TRIES;                                                 \
        st = next;                                                                              \
        FM_STEPS_TRY(k_)                                                                        \
        v = p + st->len;                                                                        \
        if (nkeys >= REC_MAX_KEYS) goto out;                                                    \
        nkeys++;                                                                                \
    } while (0)

/* The dispatch vocabulary (computed goto or a switch, as dispatch.h
 * decides): FM_NEXT finds the next key and enters its value's case;
 * FM_CASE(KIND) begins one. Each case reads its kind's
 * value with that kind's code alone (fast_value_as inlined for one kind)
 * and, for the usual member, goes straight on to the next key. With
 * computed goto every case then ends in a key search and a jump of its
 * own, so the branch predictor sees which kind of value follows which (a
 * list after a code, a date after a number) rather than one jump for all
 * of them. Side by side with the loop that called fast_value_as with the
 * kind as a variable, this took 7% less CPU time on the four payers and
 * 12% on the peers batch; the switch build about half and most of that
 * (docs/benchmarks.md, "A case per kind of value"). GCC 12 merges most
 * of the cases' identical tails, leaving three jumps in the binary;
 * keeping one per case (-fno-crossjumping) was no faster. The Makefile
 * compiles this file with -fno-gcse (READER_CFLAGS), as GCC's manual
 * advises for code that dispatches by computed goto. */
#ifdef PCR_COMPUTED_GOTO
#define FM_NEXT()                                                                               \
    do {                                                                                        \
        FM_FIND_KEY();                                                                          \
        goto *value_of[st->kind];                                                               \
    } while (0)
#define FM_CASE(kind) case_##kind:
#else
#define FM_NEXT()                                                                               \
    do {                                                                                        \
        FM_FIND_KEY();                                                                          \
        goto dispatch;                                                                          \
    } while (0)
#define FM_CASE(kind) case kind:
#endif

/* One value of kind `kind` at v, for st's field: when it is the usual
 * member (its fast path takes it and a ',' follows), the next member at
 * once; anything else goes to `settle`. */
#define FM_VALUE(kind)                                                                          \
    FM_CASE(kind)                                                                               \
    q = fast_value_as(d, st->field, kind, v, end, &nkeys);                                      \
    if (q && q != v && q < end && *q == ',') {                                                  \
        present |= st->bit;                                                                     \
        next = st + 1;                                                                          \
        p = q + 1;                                                                              \
        FM_NEXT();                                                                              \
    }                                                                                           \
    goto settle;

/* Reads members from m->p on while each key is found in the learned order
 * (at one of the ORDER_TRIES places after the last key's) and its value
 * takes its fast path: nothing else is done per member (see "fast paths"
 * for why no duplicate check). Returns MEMBERS_MORE when the member at
 * m->p is left to the general path, else what member_end returns. */
static int __attribute__((noinline)) fast_members(RecDecoder *d, Members *m)
{
    const uint8_t *p = m->p, *end = d->end;
    /* a key at or before lim has 16 bytes of the line to compare */
    const uintptr_t lim = (uintptr_t)end - 16;
    const Step *next = &d->order[m->next]; /* the place after the last key's */
    const Step *st;                        /* the step of the member being read */
    const uint8_t *v, *q;                  /* its value; the byte after it */
    uint32_t nkeys = d->nkeys;             /* d->nkeys, written back on the way out */
    uint64_t present = d->rec.present;     /* d->rec.present, the same */
    int rc = MEMBERS_MORE;
#ifdef PCR_COMPUTED_GOTO
    static const void *const value_of[] = {
        [FAST_NONE] = &&case_FAST_NONE,         [FAST_STRING] = &&case_FAST_STRING,
        [FAST_ENUM] = &&case_FAST_ENUM,         [FAST_DATE] = &&case_FAST_DATE,
        [FAST_DATETIME] = &&case_FAST_DATETIME, [FAST_INT] = &&case_FAST_INT,
        [FAST_MONEY] = &&case_FAST_MONEY,       [FAST_BOOL] = &&case_FAST_BOOL,
        [FAST_LIST] = &&case_FAST_LIST,         [FAST_ID] = &&case_FAST_ID,
    };
    FM_NEXT();
#else
    FM_FIND_KEY();
dispatch:
    switch ((FastKind)st->kind) {
#endif
    FM_VALUE(FAST_STRING)
    FM_VALUE(FAST_ID)
    FM_VALUE(FAST_ENUM)
    FM_VALUE(FAST_DATE)
    FM_VALUE(FAST_DATETIME)
    FM_VALUE(FAST_INT)
    FM_VALUE(FAST_MONEY)
    FM_VALUE(FAST_BOOL)
    FM_VALUE(FAST_LIST)
    FM_CASE(FAST_NONE)
#ifndef PCR_COMPUTED_GOTO
    default: /* no other kind is made (fast_init) */
#endif
    q = NULL;
    goto settle;
#ifndef PCR_COMPUTED_GOTO
    }
#endif
settle: /* the value at v as the general path would take it, q after it */
    if (!q) { /* no fast path takes null */
        if (fast_lit(v, end, "null", 4) && !(d->prog->fields[st->field].flags & PF_REQUIRED)) {
            d->rec.none |= 1ull << st->field; /* decode_field's null */
            q = v + 4;
        } else {
            nkeys--; /* the general path reads it again */
            goto out;
        }
    } else if (q == v) { /* an error (a code of a list), its message made */
        rc = MEMBERS_FAILED;
        goto out;
    } else {
        present |= st->bit;
    }
    next = st + 1;
    if (q < end && *q == ',') { /* member_end's usual case */
        p = q + 1;
        FM_NEXT();
    }
    d->nkeys = nkeys;
    rc = member_end(d, m, q);
    if (rc == MEMBERS_MORE) {
        p = m->p;
        FM_NEXT();
    }
out:
    d->nkeys = nkeys;
    d->rec.present = present;
    if (next != &d->order[m->next]) m->first = false;
    m->p = p;
    m->next = (uint32_t)(next - d->order);
    return rc;
}

#undef FM_STEPS_TRY
#undef FM_FIND_KEY
#undef FM_NEXT
#undef FM_CASE
#undef FM_VALUE

/* One member at m->p by the general path: any spelling of the key, any
 * value. */
static int general_member(RecDecoder *d, Members *m)
{
    Tok k, v;
    d->p = m->p;
    if (!read_key(d, &k, m->first ? "expected a string key or '}'" : "expected a string key"))
        return MEMBERS_FAILED;
    const uint8_t *p = d->p;
    int f = field_find(d, k.s, k.n);
    if (f >= 0) {
        /* a field at or after the place after the last key's is unseen */
        if (d->rank[f] <= m->next && (fields_seen(d) >> f & 1)) {
            fail_dup(d, &k, NULL);
            return MEMBERS_FAILED;
        }
        if (d->learn) m->next = order_move(d, (uint32_t)f, m->next);
        const uint8_t *q = fast_value(d, (uint32_t)f, p);
        if (q == p) return MEMBERS_FAILED;
        if (!q) {
            d->p = p;
            if (!read_member_value(d, &k, &v) || !decode_field(d, (uint32_t)f, &v))
                return MEMBERS_FAILED;
            q = d->p;
        }
        return member_end(d, m, q);
    }
    /* rec_decode_line counts a record's unknown keys only once it takes the
     * record (rec_decode counts them when it does not); strict mode's
     * message is rec_decode's */
    if (d->block && (d->strict || d->nline_unknown == REC_LINE_UNKNOWN)) return MEMBERS_FAILED;
    if (!key_insert(d, 0, &k)) {
        fail_dup(d, &k, NULL);
        return MEMBERS_FAILED;
    }
    if (d->block) d->line_unknown[d->nline_unknown++] = k;
    else count_unknown(d, &k);
    if (!read_member_value(d, &k, &v)) return MEMBERS_FAILED;
    if ((v.kind == TK_ARRAY || v.kind == TK_OBJECT) && !skip_nested(d, v.kind, &k))
        return MEMBERS_FAILED;
    return member_end(d, m, d->p);
}

/* record = ws object ws, where each member's value is converted to its
 * field's type, or validated and skipped when the key is unknown. */
static bool parse_record(RecDecoder *d)
{
    skip_ws(d);
    if (d->p == d->end) return fail(d, "empty line (expected a JSON object)");
    if (is_bom(d->p, d->end))
        return fail(d, "byte order mark (U+FEFF) at byte %zu: records are UTF-8 without one",
                    byte_at(d, d->p));
    if (!at(d, '{')) return fail(d, "not a JSON object");
    d->p++;
    skip_ws(d);
    if (at(d, '}')) {
        d->p++;
    } else {
        Members m = {d->p, 0, true};
        for (;;) {
            int rc = fast_members(d, &m);
            if (rc == MEMBERS_MORE) rc = general_member(d, &m);
            if (rc == MEMBERS_FAILED) return false;
            if (rc == MEMBERS_DONE) break;
        }
    }
    skip_ws(d);
    if (d->block) { /* the line ends at a '\n' or at the block's end */
        if (d->p != d->end && *d->p != '\n') return false;
        d->end = d->p;
    }
    if (d->p != d->end) return fail_json(d, d->p, "unexpected data after the object");
    if (d->strict && d->first_unknown) return fail_unknown(d);
    if (!resolve_codes(d)) return false;
    uint64_t missing = d->required & ~d->rec.present;
    for (uint32_t f = 0; missing; f++, missing >>= 1)
        if (missing & 1) return fail(d, "field '%s': missing (required)", field_name(d, f));
    /* most records have no service_at: nothing to check */
    if ((d->rec.present & d->service_pair) != d->service_pair || !d->service_pair) return true;
    return check_service_at(d);
}

/* The closing quote of the string opened at p, by a lenient scan, or NULL. */
static const uint8_t *string_end(const uint8_t *p, const uint8_t *end)
{
    for (p++; p < end; p++) {
        if (*p == '"') return p;
        if (*p == '\\') p++;
    }
    return NULL;
}

/* Reads the string at p strictly into an empty scratch buffer, if it fits
 * (an over-long line has a scratch buffer shorter than the line). */
static bool recover_string(RecDecoder *d, const uint8_t *p, const uint8_t *close, Tok *t)
{
    if ((size_t)(close - p) > d->cap) return false;
    d->p = p;
    d->used = 0;
    return read_string(d, t);
}

/* Looks for the top-level "id" after an error (see the file comment). */
static void recover_id(RecDecoder *d)
{
    const uint8_t *p = d->line, *end = d->end;
    int depth = 1;
    d->quiet = true;
    p = skip_ws_from(p, end);
    if (is_bom(p, end)) p = skip_ws_from(p + 3, end);
    if (p == end || *p++ != '{') depth = 0;
    while (depth > 0 && p < end) {
        uint8_t c = *p;
        if (c == '{' || c == '[') depth++;
        if (c == '}' || c == ']') depth--;
        if (c != '"') {
            p++;
            continue;
        }
        const uint8_t *close = string_end(p, end);
        if (!close) break;
        const uint8_t *q = skip_ws_from(close + 1, end);
        Tok k, v;
        if (depth == 1 && q < end && *q == ':' && recover_string(d, p, close, &k) && k.n == 2 &&
            memcmp(k.s, "id", 2) == 0) {
            q = skip_ws_from(q + 1, end);
            const uint8_t *vclose = q < end && *q == '"' ? string_end(q, end) : NULL;
            if (vclose && recover_string(d, q, vclose, &v)) {
                d->rec.has_id = true;
                d->rec.id = v.s;
                d->rec.id_len = v.n;
                break;
            }
        }
        p = close + 1;
    }
    d->quiet = false;
}

/* Makes d ready for record recno: nothing decoded, no key seen. */
static void record_reset(RecDecoder *d, uint64_t recno)
{
    Record *r = &d->rec;
    r->present = 0;
    r->none = 0;
    r->date_only = 0;
    r->nitems = 0;
    r->has_id = false;
    r->id = NULL;
    r->id_len = 0;
    d->err[0] = '\0';
    d->recno = recno;
    d->nkeys = d->nobjs = 0;
    d->used = 0;
    d->quiet = false;
    d->ws = WS_LINE;
    d->block = false;
    d->first_unknown = NULL;
    d->first_unknown_len = 0;
    if (++d->gen == 0) { /* wrapped: stale slots could look current */
        memset(d->keys, 0, sizeof d->keys);
        d->gen = 1;
    }
}

/* Decodes one line (see rec.h and the top of this file). The result and
 * every value in it are owned by d and valid until the next call. */
const Record *rec_decode(RecDecoder *d, const char *line, size_t len, uint64_t recno)
{
    Record *r = &d->rec;
    record_reset(d, recno);
    if (!line) line = "";
    d->line = d->p = (const uint8_t *)line;
    d->end = d->line + len;
    if (len > REC_MAX_LINE) {
        fail(d, "line is %zu bytes, longer than the limit of %d", len, REC_MAX_LINE);
        recover_id(d);
        return NULL;
    }
    if (len > d->cap) {
        size_t cap = d->cap;
        while (cap < len) cap *= 2;
        free(d->scratch);
        d->scratch = xmalloc(cap);
        d->cap = cap;
    }
    if (parse_record(d)) return r;
    if (!r->has_id) recover_id(d);
    return NULL;
}

/* See rec.h. The line is read with the block's end as its limit and a
 * '\n' as no whitespace: a '\n' can then only stop the decoder (a raw one
 * in a string is an error), so a record that decodes and is followed by
 * spaces and a '\n' (or the block's end) holds no '\n', and is the line
 * rec_decode would read. The limit is at most one byte past the scratch
 * buffer's size (a line of that size and its '\n'; the strings of an
 * object within it, unescaped, fit) and REC_MAX_LINE, so a line past
 * either takes rec_decode. Its unknown keys are kept (general_member) and
 * counted only when the record is taken, so a record that then goes to
 * rec_decode is counted once. Anything else is NULL, its message not made
 * (quiet). */
const Record *rec_decode_line(RecDecoder *d, const char *text, size_t n, uint64_t recno, size_t *len)
{
    size_t lim = d->cap < REC_MAX_LINE ? d->cap + 1 : (size_t)REC_MAX_LINE + 1;
    if (lim > n) lim = n;
    record_reset(d, recno);
    d->line = d->p = (const uint8_t *)text;
    d->end = d->line + lim;
    d->ws = WS_BLOCK;
    d->block = true;
    d->quiet = true;
    d->nline_unknown = 0;
    bool ok = parse_record(d) && (d->end < d->line + lim || lim == n);
    d->block = false;
    d->quiet = false;
    d->ws = WS_LINE;
    if (!ok) return NULL;
    for (uint32_t i = 0; i < d->nline_unknown; i++) count_unknown(d, &d->line_unknown[i]);
    *len = (size_t)(d->end - d->line);
    return &d->rec;
}

/* ---- records fed member by member ------------------------------------------ */

/* A front end that holds a request already parsed (PostgreSQL's jsonb)
 * gives its top-level members one by one (rec.h "fed records"): each value
 * goes through decode_field, as the text reader's does, so it means what
 * it means in a JSON line. Anything this route does not take exactly as
 * the text reader would (an unknown key, a duplicate, a value the field
 * rejects, more keys or text than a line may hold, a string that is not
 * UTF-8) makes the record not taken: the caller decides its JSON text
 * instead, which gives today's message. Nothing here writes a message
 * anyone reads. */

/* Each member's most bytes in the JSON text: quotes, colon, comma. */
enum { FED_MEMBER_TEXT = 8 };

void rec_begin(RecDecoder *d, uint64_t recno)
{
    record_reset(d, recno);
    d->line = d->p = d->end = (const uint8_t *)"";
    d->fed_seen = 0;
    d->fed_text = 2; /* the braces */
    d->fed_ok = true;
    d->fed_prev = PRED_START;
}

/* The field for key[0..kn), a value whose text takes at most vtext bytes,
 * or -1 when the record cannot be fed (and then never again). */
static int fed_field(RecDecoder *d, const char *key, size_t kn, size_t vtext)
{
    if (!d->fed_ok || kn > UINT32_MAX) return d->fed_ok = false, -1;
    d->fed_ok = false;
    if (kn > REC_MAX_LINE || vtext > REC_MAX_LINE) return -1;
    /* A source gives its keys in the same order record after record
     * (jsonb: by length, then bytes): the field that followed the last
     * key the time before is tried first, as the text reader predicts. */
    uint64_t a, b;
    name_key(key, (uint32_t)kn, &a, &b);
    int f = d->fed_pred[d->fed_prev];
    if (f == PRED_NONE || !name_is(&d->fname[f], key, (uint32_t)kn, a, b)) {
        f = field_find(d, key, (uint32_t)kn);
        if (f >= 0) d->fed_pred[d->fed_prev] = (uint8_t)f;
    }
    d->fed_prev = f >= 0 ? (uint32_t)f + 1 : PRED_START;
    if (f < 0 || (d->fed_seen >> f & 1) || ++d->nkeys > REC_MAX_KEYS) return -1;
    /* every byte of a key or a string at most 6 in the text ("\u001f") */
    d->fed_text += 6 * kn + vtext + FED_MEMBER_TEXT;
    if (d->fed_text > REC_MAX_LINE) return -1;
    d->fed_seen |= 1ull << f;
    d->fed_ok = true;
    return f;
}

/* Decodes t as field f's value (one copy of the inlined decode_field). */
static bool fed_decode(RecDecoder *d, uint32_t f, const char *key, size_t kn, const Tok *t)
{
    if (t->kind == TK_STRING && kn == 2 && memcmp(key, "id", 2) == 0) {
        d->rec.has_id = true;
        d->rec.id = t->s;
        d->rec.id_len = t->n;
    }
    d->fed_ok = decode_field(d, f, t);
    return d->fed_ok;
}

/* Is p[0..end) UTF-8 without NUL? A byte at a time (fed_utf8's slow part). */
static bool fed_utf8_bytes(const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        if (*p < 0x80) {
            if (!*p++) return false;
            continue;
        }
        size_t k = utf8_seq(p, end);
        if (!k) return false;
        p += k;
    }
    return true;
}

/* Is s[0..n) UTF-8 without NUL? (A JSON line's strings are checked as
 * they are read; NUL is refused there, even as \u0000.) */
static inline bool fed_utf8(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + n;
    /* A word with no byte NUL or above 0x7F is plain ASCII (the zero-byte
     * test may flag a byte above a real NUL: the byte loop then decides).
     * Below 8 bytes, one word of overlapping loads: 4 to 7 bytes as two
     * 4-byte words, 1 to 3 as the first, middle and last byte padded with
     * plain ones. */
    const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
    uint64_t x;
    if (n < 8) {
        if (n >= 4) {
            x = bytes_le32(s) | bytes_le32(s + n - 4) << 32;
        } else {
            if (n == 0) return true;
            x = (uint64_t)p[0] | (uint64_t)p[n >> 1] << 8 | (uint64_t)p[n - 1] << 16 |
                0x4141414141000000ull;
        }
        return ((((x - ones) & ~x) | x) & high) == 0 || fed_utf8_bytes(p, end);
    }
    for (; end - p > 8; p += 8) {
        x = bytes_le64((const char *)p);
        if ((((x - ones) & ~x) | x) & high) return fed_utf8_bytes(p, end);
    }
    /* the last 8 bytes, overlapping the word before them */
    x = bytes_le64(s + n - 8);
    return ((((x - ones) & ~x) | x) & high) == 0 || fed_utf8_bytes(p, end);
}

/* Is s[0..n) UTF-8 without NUL, or does the caller say its strings are
 * (rec_fed_utf8_checked)? */
static inline bool fed_text_ok(const RecDecoder *d, const char *s, size_t n)
{
    return d->fed_utf8_checked || fed_utf8(s, n);
}

void rec_fed_utf8_checked(RecDecoder *d, bool checked) { d->fed_utf8_checked = checked; }

/* The typed fast paths (fast_value) for a value that keeps no pointer
 * into its text: text[0..n) is copied between open and close (a quote
 * and a quote, or nothing and a comma), as it stands in a line, and read
 * there. True when the fast path took the whole value; false leaves the
 * value to decode_field, exactly as in a line. */
enum { FED_FAST_MAX = 32 };

static bool fed_fast(RecDecoder *d, uint32_t f, const char *open, const char *text, size_t n,
                     char close)
{
    uint8_t buf[FED_FAST_MAX + 2];
    size_t o = strlen(open);
    if (n > FED_FAST_MAX) return false;
    memcpy(buf, open, o);
    memcpy(buf + o, text, n);
    buf[o + n] = (uint8_t)close;
    d->end = buf + o + n + 1;
    const uint8_t *end = close == '"' ? d->end : d->end - 1;
    return fast_value(d, f, buf) == end;
}

/* A datetime s[0..n) as fast_value_as's FAST_DATETIME reads it between
 * quotes ("YYYY-MM-DD", "YYYY-MM-DDTHH:MM" or "YYYY-MM-DDTHH:MM:SS"): the
 * seconds since 1970 in *at, and 1 when only the date is given, 0 when the
 * time is too; -1 when it is none of those (decode_field decides). */
static inline int fed_datetime(const RecDecoder *d, const uint8_t *s, size_t n, int64_t *at)
{
    int32_t day;
    if (n < 10 || !fast_date(d, s, &day)) return -1;
    if (n == 10) {
        *at = (int64_t)day * SECONDS_PER_DAY;
        return 1;
    }
    if ((n != 16 && n != 19) || s[10] != 'T' || s[13] != ':' || (n == 19 && s[16] != ':'))
        return -1;
    int hh = fast_digits(s + 11, 2), mm = fast_digits(s + 14, 2);
    int ss = n == 19 ? fast_digits(s + 17, 2) : 0;
    if (hh < 0 || mm < 0 || ss < 0 || hh > 23 || mm > 59 || ss > 59) return -1;
    *at = (int64_t)day * SECONDS_PER_DAY + hh * 3600 + mm * 60 + ss;
    return 0;
}

/* The rest of rec_put_string, once its field f (not -1) is known. */
static inline bool fed_string(RecDecoder *d, int f, const char *key, size_t kn, const char *s,
                              size_t n)
{
    if (n > UINT32_MAX || !fed_text_ok(d, s, n)) return d->fed_ok = false;
    RecVal *v = &d->rec.v[f];
    switch ((FastKind)d->fast[f]) {
    case FAST_STRING: /* decode_field's VT_STRING and VT_CODE */
        if ((uint32_t)f == d->id_field) {
            d->rec.has_id = true;
            d->rec.id = s;
            d->rec.id_len = (uint32_t)n;
        }
        v->s = s;
        v->n = (uint32_t)n;
        d->rec.present |= 1ull << f;
        return true;
    case FAST_ENUM: {
        const Name *m = enum_find(d, (uint32_t)f, s, (uint32_t)n);
        if (!m) break;
        v->i = m->member;
        d->rec.present |= 1ull << f;
        return true;
    }
    case FAST_DATE: {
        int32_t day;
        if (n != 10 || !fast_date(d, (const uint8_t *)s, &day)) break;
        v->i = day;
        d->rec.present |= 1ull << f;
        return true;
    }
    case FAST_DATETIME: {
        int64_t at;
        int date_only = fed_datetime(d, (const uint8_t *)s, n, &at);
        if (date_only < 0) break;
        v->i = at;
        d->rec.date_only |= (uint64_t)date_only << f;
        d->rec.present |= 1ull << f;
        return true;
    }
    default: break;
    }
    Tok t = {.kind = TK_STRING, .s = s, .n = (uint32_t)n};
    return fed_decode(d, (uint32_t)f, key, kn, &t);
}

bool rec_put_string(RecDecoder *d, const char *key, size_t kn, const char *s, size_t n)
{
    int f = fed_field(d, key, kn, n > REC_MAX_LINE ? n : 6 * n + 2);
    return f >= 0 && fed_string(d, f, key, kn, s, n);
}

/* The rest of rec_put_number, once its field f (not -1) is known. */
static bool fed_number(RecDecoder *d, int f, const char *key, size_t kn, const char *text, size_t n)
{
    if (n == 0) return d->fed_ok = false;
    FastKind k = (FastKind)d->fast[f];
    if (k == FAST_INT) { /* fast_value's FAST_INT, the text being the whole number */
        const uint8_t *q = (const uint8_t *)text, *end = q + n;
        bool neg = *q == '-';
        uint64_t u;
        if (fast_uint(q + neg, end, &u) == end) {
            d->rec.v[f].i = neg ? -(int64_t)u : (int64_t)u;
            d->rec.present |= 1ull << f;
            return true;
        }
    } else if (k == FAST_MONEY && fed_fast(d, (uint32_t)f, "", text, n, ',')) {
        return true;
    }
    Tok t;
    d->p = (const uint8_t *)text;
    d->end = d->p + n;
    if (!read_number(d, &t) || d->p != d->end) return d->fed_ok = false;
    return fed_decode(d, (uint32_t)f, key, kn, &t);
}

bool rec_put_number(RecDecoder *d, const char *key, size_t kn, const char *text, size_t n)
{
    int f = fed_field(d, key, kn, n);
    return f >= 0 && fed_number(d, f, key, kn, text, n);
}

/* An integer i as its decimal text: fast_value's FAST_INT (an integer of at
 * most 18 digits) and FAST_MONEY (at most 16 before the point) take it as
 * they take that text; every other field gets the text itself. */
#define FED_INT_MAX 999999999999999999ull      /* 18 digits */
#define FED_MONEY_INT_MAX 9999999999999999ull /* 16 digits */

static bool fed_int(RecDecoder *d, int f, const char *key, size_t kn, int64_t i)
{
    FastKind k = (FastKind)d->fast[f];
    uint64_t u = i < 0 ? -(uint64_t)i : (uint64_t)i;
    if (k == FAST_INT && u <= FED_INT_MAX) {
        d->rec.v[f].i = i;
        d->rec.present |= 1ull << f;
        return true;
    }
    if (k == FAST_MONEY && u <= FED_MONEY_INT_MAX) {
        d->rec.v[f].i = i * 100;
        d->rec.present |= 1ull << f;
        return true;
    }
    char text[24], *w = text + sizeof text;
    do {
        *--w = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0) *--w = '-';
    return fed_number(d, f, key, kn, w, (size_t)(text + sizeof text - w));
}

bool rec_put_bool(RecDecoder *d, const char *key, size_t kn, bool v)
{
    int f = fed_field(d, key, kn, 5);
    if (f < 0) return false;
    Tok t = {.kind = v ? TK_TRUE : TK_FALSE};
    return fed_decode(d, (uint32_t)f, key, kn, &t);
}

bool rec_put_null(RecDecoder *d, const char *key, size_t kn)
{
    int f = fed_field(d, key, kn, 4);
    if (f < 0) return false;
    Tok t = {.kind = TK_NULL};
    return fed_decode(d, (uint32_t)f, key, kn, &t);
}

/* The rest of rec_put_json, once its field f (not -1) is known. */
static bool fed_json(RecDecoder *d, int f, const char *key, size_t kn, const char *json, size_t n)
{
    /* its unescaped strings go to the scratch buffer, which must not move */
    if (n > d->cap - d->used) return d->fed_ok = false;
    Tok t;
    d->line = d->p = (const uint8_t *)json;
    d->end = d->p + n;
    if (d->fast[f] == FAST_LIST && n) {
        const uint8_t *q = fast_value(d, (uint32_t)f, d->p);
        if (q) return d->fed_ok = q == d->end; /* else anything but the whole list */
    }
    if (!read_value(d, &t) || !fed_decode(d, (uint32_t)f, key, kn, &t)) return d->fed_ok = false;
    skip_ws(d);
    return d->fed_ok = d->p == d->end;
}

bool rec_put_json(RecDecoder *d, const char *key, size_t kn, const char *json, size_t n)
{
    int f = fed_field(d, key, kn, n);
    return f >= 0 && fed_json(d, f, key, kn, json, n);
}

/* The most text the array of strings it[0..n) takes as JSON: brackets, and
 * per string its quotes, a comma and each byte at most 6 ("\u001f");
 * REC_MAX_LINE + 1 when it is more than a line may hold. */
static size_t fed_strings_text(const pcr_feed_str *it, size_t n)
{
    size_t text = 2;
    if (n > REC_MAX_LINE) return REC_MAX_LINE + 1;
    for (size_t k = 0; k < n; k++) {
        if (it[k].n > REC_MAX_LINE) return REC_MAX_LINE + 1;
        text += 6 * it[k].n + 3;
        if (text > REC_MAX_LINE) return REC_MAX_LINE + 1;
    }
    return text;
}

/* An array of strings it[0..n) for field f (not -1): what decode_list
 * (and fast_list, which it stands for) makes of the array's JSON text. A
 * field that is not a list gets the array's text, so its own error. */
static bool fed_strings(RecDecoder *d, int f, const pcr_feed_str *it, size_t n)
{
    const PField *pf = &d->prog->fields[f];
    if (pf->type != VT_LIST) return d->fed_ok = false;
    uint32_t first = d->rec.nitems;
    if (n > REC_MAX_ITEMS - first) return d->fed_ok = false;
    for (uint32_t k = 0; k < (uint32_t)n; k++) {
        if (!it[k].s && it[k].n) return d->fed_ok = false;
        const char *s = it[k].s ? it[k].s : "";
        if (!fed_text_ok(d, s, it[k].n)) return d->fed_ok = false;
        RecVal *item = &d->items[first + k];
        item->s = s;
        item->n = (uint32_t)it[k].n;
        item->i = 0;
        if (pf->elem == VT_CODE &&
            !to_code(d, (uint32_t)f, k + 1, SYS_NONE, pf->systems, s, item->n, &item->i))
            return d->fed_ok = false;
    }
    d->rec.nitems = first + (uint32_t)n;
    d->rec.v[f] = (RecVal){first, NULL, (uint32_t)n};
    if (n == 0 && !(pf->flags & PF_REQUIRED))
        d->rec.none |= 1ull << f; /* [] says what null says: none apply */
    else
        d->rec.present |= 1ull << f;
    return true;
}

/* The most text member x's value takes in a line (fed_field's vtext),
 * REC_MAX_LINE + 1 when more than a line may hold. */
static size_t fed_value_text(const pcr_feed_member *x)
{
    /* per type, the text is mul * n + add bytes (a table, not a switch:
     * the types of a record's members follow no pattern a branch learns) */
    enum { NTYPES = PCR_FEED_STRINGS + 1 };
    static const uint8_t mul[NTYPES] = {[PCR_FEED_STRING] = 6, [PCR_FEED_NUMBER] = 1,
                                        [PCR_FEED_JSON] = 1};
    static const uint8_t add[NTYPES] = {[PCR_FEED_STRING] = 2, [PCR_FEED_INT] = 20,
                                        [PCR_FEED_TRUE] = 5,   [PCR_FEED_FALSE] = 5,
                                        [PCR_FEED_NULL] = 4};
    size_t n = x->n > REC_MAX_LINE ? REC_MAX_LINE + 1 : x->n;
    unsigned t = (unsigned)x->type;
    if (t == PCR_FEED_STRINGS) return x->items || !x->n ? fed_strings_text(x->items, x->n) : 0;
    return t < NTYPES ? mul[t] * n + add[t] : 0;
}

/* The field called key[0..kn) (kn at most REC_MAX_LINE), or -1, the key
 * before it being field prev - 1 (PRED_START: none): first the field that
 * followed that one the last time (a source gives its keys in the same
 * order record after record: jsonb sorts them; a key a record lacks costs
 * a miss or two, not the rest of the record), compared with the key as
 * field_find would, then field_find. */
static inline int fed_key_field(RecDecoder *d, uint32_t prev, const char *key, size_t kn)
{
    uint64_t a, b;
    name_key(key, (uint32_t)kn, &a, &b);
    uint32_t f = d->fed_pred[prev];
    if (f != PRED_NONE && name_is(&d->fname[f], key, (uint32_t)kn, a, b)) return (int)f;
    int found = field_find(d, key, (uint32_t)kn);
    if (found >= 0) d->fed_pred[prev] = (uint8_t)found;
    return found;
}

/* The fields of the keys of m[0..n) into fields[], with fed_field's checks
 * (a known key, not given before, no more keys than a record may hold):
 * *seen gets their fields, *text the most text the keys take (fed_field's
 * 6 * kn + FED_MEMBER_TEXT each). Each key is compared first with the
 * field that followed the key before it the last time (fed_key_field). */
static bool fed_keys(RecDecoder *d, const pcr_feed_member *m, size_t n, uint8_t *fields,
                     uint64_t *seen_out, size_t *text_out)
{
    if (n > REC_MAX_KEYS - d->nkeys) return false;
    uint64_t seen = 0;
    size_t text = 0;
    uint32_t prev = d->fed_prev;
    for (size_t k = 0; k < n; k++) {
        size_t kn = m[k].klen;
        if (!m[k].key || kn > REC_MAX_LINE) return false;
        int f = fed_key_field(d, prev, m[k].key, kn);
        if (f < 0 || ((seen | d->fed_seen) >> f & 1)) return false;
        prev = (uint32_t)f + 1;
        seen |= 1ull << f;
        text += 6 * kn + FED_MEMBER_TEXT;
        fields[k] = (uint8_t)f;
    }
    d->fed_prev = prev;
    *seen_out = seen;
    *text_out = text;
    return true;
}

/* A hash of the layout of n keys whose bytes are s[0..nbytes) (back to
 * back): a word at a time, each rotated into the one before and a single
 * multiplication at the end, so that the chain of dependent steps stays
 * short. It only picks the slot (the key lengths are compared there). */
static inline uint64_t fed_layout_hash(size_t n, const char *s, size_t nbytes)
{
    uint64_t h = n;
    size_t o = 0;
    for (; o + 8 <= nbytes; o += 8) h = (h << 23 | h >> 41) ^ bytes_le64(s + o);
    if (o < nbytes && nbytes >= 8) { /* the last 8 bytes, overlapping */
        h = (h << 23 | h >> 41) ^ bytes_le64(s + nbytes - 8);
    } else {
        for (; o < nbytes; o++) h = (h << 8 | h >> 56) ^ (uint8_t)s[o];
    }
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ h >> 29;
}

/* The layout slot for the keys of m[0..n) (by fed_layout_hash), and
 * whether it holds them (*hit); NULL when the keys do not lie back to back
 * from m[0].key, or have more keys or bytes than a layout keeps. A hit is
 * decided by the bytes, not by the hash: the same number of keys, of the
 * same lengths, with the same bytes. */
static FedLayout *fed_layout_find(RecDecoder *d, const pcr_feed_member *m, size_t n, uint8_t *klen,
                                  bool *hit)
{
    *hit = false;
    if (n == 0 || n > FED_LAYOUT_KEYS || !m[0].key) return NULL;
    const char *s = m[0].key;
    size_t nbytes = 0;
    for (size_t i = 0; i < n; i++) {
        /* compared as addresses: m[i].key may lie in another object */
        if ((uintptr_t)m[i].key != (uintptr_t)s + nbytes || m[i].klen > UINT8_MAX) return NULL;
        klen[i] = (uint8_t)m[i].klen;
        nbytes += m[i].klen;
        if (nbytes > FED_LAYOUT_BYTES) return NULL;
    }
    uint64_t h = fed_layout_hash(n, s, nbytes);
    FedLayout *l = &d->fed_layout[h >> (64 - FED_LAYOUT_BITS)];
    *hit = l->n == n && l->nbytes == nbytes && memcmp(l->klen, klen, n) == 0 &&
           memcmp(l->bytes, s, nbytes) == 0;
    return l;
}

/* Keeps in l (fed_layout_find's, a miss) the layout of keys m[0..n) whose
 * lengths are klen[0..n), which named fields[0..n): seen, their most text. */
static void fed_layout_keep(RecDecoder *d, FedLayout *l, const pcr_feed_member *m, size_t n,
                            const uint8_t *klen, const uint8_t *fields, uint64_t seen, size_t text)
{
    size_t nbytes = (size_t)(m[n - 1].key + m[n - 1].klen - m[0].key);
    l->n = (uint8_t)n;
    l->nbytes = (uint16_t)nbytes;
    l->seen = seen;
    l->text = (uint32_t)text;
    l->prev = (uint8_t)d->fed_prev;
    memcpy(l->klen, klen, n);
    memcpy(l->field, fields, n);
    memcpy(l->bytes, m[0].key, nbytes);
}

/* One member's value x for its field f (not -1), as rec_put_* would. */
static inline bool fed_member(RecDecoder *d, int f, const pcr_feed_member *x)
{
    const char *s = x->s ? x->s : "";
    Tok t;
    switch (x->type) {
    case PCR_FEED_STRING: return (x->s || !x->n) && fed_string(d, f, x->key, x->klen, s, x->n);
    case PCR_FEED_NUMBER: return (x->s || !x->n) && fed_number(d, f, x->key, x->klen, s, x->n);
    case PCR_FEED_INT: return fed_int(d, f, x->key, x->klen, x->i);
    case PCR_FEED_TRUE:
    case PCR_FEED_FALSE:
    case PCR_FEED_NULL:
        t = (Tok){.kind = x->type == PCR_FEED_TRUE    ? TK_TRUE
                          : x->type == PCR_FEED_FALSE ? TK_FALSE
                                                      : TK_NULL};
        return fed_decode(d, (uint32_t)f, x->key, x->klen, &t);
    case PCR_FEED_JSON: return (x->s || !x->n) && fed_json(d, f, x->key, x->klen, s, x->n);
    case PCR_FEED_STRINGS: return (x->items || !x->n) && fed_strings(d, f, x->items, x->n);
    default: return false;
    }
}

/* The keys are found by their layout when a record before had the same
 * keys back to back (fed_layout_find: jsonb's objects keep theirs so, and a
 * batch has a few hundred layouts), else one by one (fed_keys); then each
 * value is converted, and the most text the record takes checked. */
bool rec_put_members(RecDecoder *d, const pcr_feed_member *m, size_t n)
{
    uint8_t own[REC_MAX_KEYS], klen[FED_LAYOUT_KEYS];
    const uint8_t *fields = own;
    uint64_t seen;
    size_t text;
    bool hit;
    if (!d->fed_ok) return false;
    FedLayout *l = fed_layout_find(d, m, n, klen, &hit);
    if (hit) {
        if (l->seen & d->fed_seen || n > REC_MAX_KEYS - d->nkeys) return d->fed_ok = false;
        fields = l->field;
        seen = l->seen;
        text = l->text;
        d->fed_prev = l->prev;
    } else {
        if (!fed_keys(d, m, n, own, &seen, &text)) return d->fed_ok = false;
        if (l) fed_layout_keep(d, l, m, n, klen, own, seen, text);
    }
    d->fed_seen |= seen;
    d->nkeys += (uint32_t)n;
    text += d->fed_text;
    for (size_t k = 0; k < n; k++) {
        text += fed_value_text(&m[k]);
        if (!fed_member(d, fields[k], &m[k])) return d->fed_ok = false;
    }
    d->fed_text = text;
    return d->fed_ok = text <= REC_MAX_LINE;
}

const Record *rec_finish(RecDecoder *d)
{
    if (!d->fed_ok || !resolve_codes(d)) return NULL;
    if (d->required & ~d->rec.present) return NULL;
    return check_service_at(d) ? &d->rec : NULL;
}
