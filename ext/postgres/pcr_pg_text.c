/* pcr_pg_text.c: jsonb to compact JSON text, for the library's record
 * decoder (pcr_pg.h). */
#include "pcr_pg.h"

#include "pcr/pcr.h"

#include "miscadmin.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

/* The writer's room. Before the walk, out is given room for 6 bytes per
 * byte of the jsonb value (PG_ROOM): a string's byte becomes at most 6
 * ("\u001f"), and every child's 4-byte JEntry, every container's 4-byte
 * header, covers at most 24 bytes of quotes, colons, commas and brackets
 * around it. Only a number can print longer than it is stored (numeric_out
 * of 1e1000), so each number makes the same room again after it. Strings
 * and punctuation are then written with no check at all. */
#define PG_ROOM(size) (6 * (size) + 64)
#define PG_DIRECT_MAX (16 * 1024 * 1024) /* bytes of jsonb written directly */

typedef struct PgWriter {
    StringInfo out; /* the text; its len is set only at the end (and by numbers) */
    int room;       /* PG_ROOM of the value */
} PgWriter;

/* Copies s[0..len) to w when no byte of it needs escaping in a JSON
 * string, and returns true; otherwise returns false, having maybe written
 * some of it. Words, not bytes, even for short strings (most keys and
 * values of a request): 8 bytes at a time, the last word overlapping the
 * one before it; 4 to 7 bytes as two overlapping 4-byte words; 1 to 3 as
 * the first, middle and last byte in one word padded with plain bytes.
 * Never reads outside s. */
static inline bool pg_copy_plain(char *w, const char *s, int len)
{
    uint64 x;
    if (len >= 8) {
        int i = 0;
        for (; i + 8 <= len; i += 8) {
            memcpy(&x, s + i, 8);
            if (!pg_word_plain(x)) return false;
            memcpy(w + i, &x, 8);
        }
        if (i < len) {
            memcpy(&x, s + len - 8, 8);
            if (!pg_word_plain(x)) return false;
            memcpy(w + len - 8, &x, 8);
        }
        return true;
    }
    if (len >= 4) {
        uint32 a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        if (!pg_word_plain((uint64)a | (uint64)b << 32)) return false;
        memcpy(w, &a, 4);
        memcpy(w + len - 4, &b, 4);
        return true;
    }
    if (len == 0) return true;
    unsigned char a = (unsigned char)s[0], b = (unsigned char)s[len >> 1],
                  c = (unsigned char)s[len - 1];
    x = (uint64)a | (uint64)b << 8 | (uint64)c << 16 | UINT64CONST(0x4141414141000000);
    if (!pg_word_plain(x)) return false;
    w[0] = (char)a;
    w[len >> 1] = (char)b;
    w[len - 1] = (char)c;
    return true;
}

/* Writes s[0..len) as a JSON string at w: '"', '\\' and control
 * characters escaped, every other byte as it is. Returns the end. */
static char *pg_put_string(char *w, const char *s, int len)
{
    static const char hex[] = "0123456789abcdef";
    *w++ = '"';
    if (pg_copy_plain(w, s, len)) {
        w += len;
        *w++ = '"';
        return w;
    }
    for (int i = 0; i < len;) {
        uint64 x;
        if (len - i >= 8 && (memcpy(&x, s + i, 8), pg_word_plain(x))) {
            memcpy(w, &x, 8);
            w += 8;
            i += 8;
            continue;
        }
        unsigned char c = (unsigned char)s[i++];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *w++ = (char)c;
        } else if (c >= 0x20) {
            *w++ = '\\';
            *w++ = (char)c;
        } else {
            memcpy(w, "\\u00", 4);
            w[4] = hex[c >> 4];
            w[5] = hex[c & 15];
            w += 6;
        }
    }
    *w++ = '"';
    return w;
}

/* numeric's on-disk layout (numeric.c, kept by pg_upgrade): after the
 * varlena header, a 16-bit header; the short format has the top bits 10,
 * then a sign bit, a 6-bit display scale, a weight sign and a 6-bit weight
 * (of the first digit, in base-10000 digits before the point), then the
 * base-10000 digits, int16 each, trailing zeros left out. */
#define PG_NUMERIC_FLAGS 0xC000
#define PG_NUMERIC_SHORT 0x8000
#define PG_NUMERIC_SHORT_SIGN 0x2000
#define PG_NUMERIC_SHORT_DSCALE 0x1F80
#define PG_NUMERIC_SHORT_WEIGHT_SIGN 0x0040
#define PG_NUMERIC_SHORT_WEIGHT 0x003F

/* Whether numeric_out writes n as the decimal integer *out: an integer of
 * at most 16 digits with no decimals shown (a request's ages, units and
 * hours). False for every other number, which numeric_out writes. */
static inline bool pg_numeric_int(Numeric n, int64 *out)
{
    if (VARATT_IS_EXTENDED(n) || VARSIZE(n) < VARHDRSZ + sizeof(uint16)) return false;
    const char *p = (const char *)n + VARHDRSZ;
    uint16 header;
    memcpy(&header, p, sizeof header);
    if ((header & PG_NUMERIC_FLAGS) != PG_NUMERIC_SHORT ||
        (header & (PG_NUMERIC_SHORT_DSCALE | PG_NUMERIC_SHORT_WEIGHT_SIGN)) != 0)
        return false;
    int weight = header & PG_NUMERIC_SHORT_WEIGHT;
    int ndigits = (int)((VARSIZE(n) - VARHDRSZ - sizeof(uint16)) / sizeof(int16));
    if (weight > 3 || ndigits > weight + 1) return false;
    uint64 v = 0;
    for (int i = 0; i <= weight; i++) {
        int16 d = 0;
        if (i < ndigits) memcpy(&d, p + sizeof(uint16) + sizeof(int16) * i, sizeof d);
        if (d < 0 || d > 9999) return false;
        v = v * 10000 + (uint64)d;
    }
    if (header & PG_NUMERIC_SHORT_SIGN) {
        if (!v) return false; /* "-0": numeric never stores it; numeric_out says */
        *out = -(int64)v;
    } else {
        *out = (int64)v;
    }
    return true;
}

/* Writes n at w as numeric_out would when pg_numeric_int takes it, and
 * returns the end; NULL, having written nothing, for every other number. */
static char *pg_put_integer(char *w, Numeric n)
{
    int64 i;
    if (!pg_numeric_int(n, &i)) return NULL;
    uint64 v = i < 0 ? (uint64)-i : (uint64)i;
    if (i < 0) *w++ = '-';
    char digits[20];
    int k = 0;
    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k) *w++ = digits[--k];
    return w;
}

/* Writes the number n at w (numeric_out's text) and makes the room
 * again (PG_ROOM) after it. Returns the end, in out->data, which may have
 * moved. */
static char *pg_put_number(PgWriter *pw, char *w, Numeric n)
{
    char *end = pg_put_integer(w, n);
    if (end) return end;
    char *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
    int len = (int)strlen(text);
    StringInfo out = pw->out;
    out->len = (int)(w - out->data);
    enlargeStringInfo(out, len + pw->room);
    memcpy(out->data + out->len, text, len);
    out->len += len;
    pfree(text);
    return out->data + out->len;
}

static char *pg_put_container(PgWriter *pw, char *w, const JsonbContainer *jc);

/* Writes child i of container jc, whose data starts at base + off and ends
 * at base + end, at w. Returns the end. */
static inline char *pg_put_child(PgWriter *pw, char *w, const JsonbContainer *jc,
                                 const char *base, uint32 i, uint32 off, uint32 end)
{
    JEntry je = jc->children[i];
    switch (je & JENTRY_TYPEMASK) {
    case JENTRY_ISSTRING: return pg_put_string(w, base + off, (int)(end - off));
    case JENTRY_ISNUMERIC: return pg_put_number(pw, w, (Numeric)(base + INTALIGN(off)));
    case JENTRY_ISBOOL_TRUE: memcpy(w, "true", 4); return w + 4;
    case JENTRY_ISBOOL_FALSE: memcpy(w, "false", 5); return w + 5;
    case JENTRY_ISNULL: memcpy(w, "null", 4); return w + 4;
    default: return pg_put_container(pw, w, (const JsonbContainer *)(base + INTALIGN(off)));
    }
}

/* Writes the object or array jc as compact JSON at w; returns the end. It
 * reads jsonb's on-disk layout (utils/jsonb.h, the format pg_upgrade
 * keeps): a header with the count, then one JEntry per child (an object's
 * n keys, then its n values, keys in jsonb's order), then the children's
 * data, each JEntry holding either its child's length or, every
 * JB_OFFSET_STRIDE entries, its end offset (JBE_ADVANCE_OFFSET). A walk in
 * order costs one addition per child: none of JsonbIteratorNext's state,
 * copies and allocations. A raw scalar (an array flagged JB_FSCALAR) is
 * written as its one element. The position is passed and returned, not
 * kept in pw, so that it stays in a register. */
static char *pg_put_container(PgWriter *pw, char *w, const JsonbContainer *jc)
{
    uint32 n = JsonContainerSize(jc);
    check_stack_depth();
    if (JsonContainerIsObject(jc)) {
        const char *base = (const char *)&jc->children[2 * n];
        uint32 koff = 0, voff = n ? getJsonbOffset(jc, (int)n) : 0;
        *w++ = '{';
        for (uint32 i = 0; i < n; i++) {
            uint32 kend = koff, vend = voff;
            JBE_ADVANCE_OFFSET(kend, jc->children[i]);
            JBE_ADVANCE_OFFSET(vend, jc->children[n + i]);
            if (i) *w++ = ',';
            w = pg_put_string(w, base + koff, (int)(kend - koff));
            *w++ = ':';
            w = pg_put_child(pw, w, jc, base, n + i, voff, vend);
            koff = kend;
            voff = vend;
        }
        *w++ = '}';
        return w;
    }
    const char *base = (const char *)&jc->children[n];
    bool scalar = JsonContainerIsScalar(jc);
    uint32 off = 0;
    if (!scalar) *w++ = '[';
    for (uint32 i = 0; i < n; i++) {
        uint32 end = off;
        JBE_ADVANCE_OFFSET(end, jc->children[i]);
        if (i) *w++ = ',';
        w = pg_put_child(pw, w, jc, base, i, off, end);
        off = end;
    }
    if (!scalar) *w++ = ']';
    return w;
}

/* Writes jb as compact JSON text (no spaces) into out, which is reset
 * first: what the record decoder reads. The value JsonbToCString prints,
 * without its ", " and ": ", its iterator and its per-byte appends. A
 * value larger than PG_DIRECT_MAX (16 times the library's line limit, 1 MiB,
 * beyond which it decides the request as an error anyway) goes through
 * JsonbToCString, which asks for no more room than it uses. */
void pgtext_from_jsonb(Jsonb *jb, StringInfo out)
{
    resetStringInfo(out);
    Size size = VARSIZE(jb);
    if (size > PG_DIRECT_MAX) {
        JsonbToCString(out, &jb->root, (int)size);
        return;
    }
    PgWriter pw = {out, (int)PG_ROOM(size)};
    enlargeStringInfo(out, pw.room);
    char *w = pg_put_container(&pw, out->data, &jb->root);
    out->len = (int)(w - out->data);
    *w = '\0';
}

/* ---- jsonb fed to the engine member by member ----------------------------- */

/* The most members fed: a request with more has an unknown or a repeated
 * key (a schema has at most 64 fields), which the direct route does not
 * take. The most strings of arrays given one by one (PCR_FEED_STRINGS);
 * an array beyond them goes as its JSON text. */
#define PG_FEED_MEMBERS 64
#define PG_FEED_ITEMS 256

/* Makes js the buffer for the JSON texts of one request's values (the
 * whole value's room, so that it does not move while the engine holds
 * pointers into it). */
static void pg_feed_buffer(StringInfo js, Size size, bool *ready)
{
    if (*ready) return;
    resetStringInfo(js);
    enlargeStringInfo(js, (int)PG_ROOM(size));
    *ready = true;
}

/* The value of a member that is an array or an object, at jc, into x:
 * an array of strings as its strings (items, *nitems of them used), any
 * other as its compact JSON text written into js. False when js moved. */
static bool pg_feed_container(pcr_feed_member *x, const JsonbContainer *jc, pcr_feed_str *items,
                              uint32 *nitems, StringInfo js, Size size, bool *js_ready)
{
    uint32 k = JsonContainerSize(jc);
    if (JsonContainerIsArray(jc) && !JsonContainerIsScalar(jc) && k <= PG_FEED_ITEMS - *nitems) {
        const char *abase = (const char *)&jc->children[k];
        pcr_feed_str *it = items + *nitems;
        uint32 off = 0, i = 0;
        for (; i < k && JBE_ISSTRING(jc->children[i]); i++) {
            uint32 end = off;
            JBE_ADVANCE_OFFSET(end, jc->children[i]);
            it[i].s = abase + off;
            it[i].n = end - off;
            off = end;
        }
        if (i == k) {
            x->type = PCR_FEED_STRINGS;
            x->items = it;
            x->n = k;
            *nitems += k;
            return true;
        }
    }
    pg_feed_buffer(js, size, js_ready);
    PgWriter pw = {js, (int)PG_ROOM(size)};
    char *data = js->data, *start = js->data + js->len;
    char *w = pg_put_container(&pw, start, jc);
    /* a long number moved the buffer: earlier values would dangle */
    if (js->data != data) return false;
    js->len = (int)(w - js->data);
    x->type = PCR_FEED_JSON;
    x->s = start;
    x->n = (size_t)(w - start);
    return true;
}

/* See pcr_pg.h. The top-level object's keys, then its values, are walked
 * as pg_put_container walks them, into one array of members for one
 * library call (pcr_engine_feed_members): a string as its bytes, an
 * integer numeric_out prints as such as the integer, any other number as
 * numeric_out's text (copied into js), an array of strings as its
 * strings, any other array or object as its JSON text (in js). */
bool pgtext_feed(Jsonb *jb, pcr_engine *e, StringInfo js)
{
    const JsonbContainer *jc = &jb->root;
    Size size = VARSIZE(jb);
    if (!JsonContainerIsObject(jc) || size > PG_FEED_MAX) return false;
    uint32 n = JsonContainerSize(jc);
    if (n > PG_FEED_MEMBERS) return false;
    /* The row's bytes are read once, from the start: ask for all of them
     * now, so that their cache misses overlap. */
    for (Size o = 64; o < size; o += 64) __builtin_prefetch((const char *)jb + o);
    pcr_feed_member m[PG_FEED_MEMBERS];
    pcr_feed_str items[PG_FEED_ITEMS];
    uint32 nitems = 0;
    bool js_ready = false;
    const char *base = (const char *)&jc->children[2 * n];
    uint32 off = 0;
    for (uint32 i = 0; i < n; i++) {
        uint32 end = off;
        JBE_ADVANCE_OFFSET(end, jc->children[i]);
        m[i].key = base + off;
        m[i].klen = end - off;
        off = end;
    }
    for (uint32 i = 0; i < n; i++) {
        uint32 end = off;
        JEntry je = jc->children[n + i];
        JBE_ADVANCE_OFFSET(end, je);
        pcr_feed_member *x = &m[i];
        switch (je & JENTRY_TYPEMASK) {
        case JENTRY_ISSTRING:
            x->type = PCR_FEED_STRING;
            x->s = base + off;
            x->n = end - off;
            break;
        case JENTRY_ISNUMERIC: {
            Numeric num = (Numeric)(base + INTALIGN(off));
            if (pg_numeric_int(num, &x->i)) {
                x->type = PCR_FEED_INT;
                break;
            }
            char *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
            size_t len = strlen(text);
            pg_feed_buffer(js, size, &js_ready);
            if (len >= (size_t)(js->maxlen - js->len)) return false; /* no room: the text route */
            x->type = PCR_FEED_NUMBER;
            x->s = js->data + js->len;
            x->n = len;
            memcpy(js->data + js->len, text, len);
            js->len += (int)len;
            pfree(text);
            break;
        }
        case JENTRY_ISBOOL_TRUE: x->type = PCR_FEED_TRUE; break;
        case JENTRY_ISBOOL_FALSE: x->type = PCR_FEED_FALSE; break;
        case JENTRY_ISNULL: x->type = PCR_FEED_NULL; break;
        default:
            if (!pg_feed_container(x, (const JsonbContainer *)(base + INTALIGN(off)), items,
                                   &nitems, js, size, &js_ready))
                return false;
            break;
        }
        off = end;
    }
    return pcr_engine_feed_begin(e, 1) && pcr_engine_feed_members(e, m, n);
}
