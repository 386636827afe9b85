/* pcr_pg_text.c: jsonb to compact JSON text, for the library's record
 * decoder (pcr_pg.h). */
#include "pcr_pg.h"

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
    StringInfo out;
    char *w;      /* the next byte to write, in out->data */
    int room;     /* PG_ROOM of the value */
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

/* Writes s[0..len) as a JSON string: '"', '\\' and control characters
 * escaped, every other byte as it is. */
static void pg_put_string(PgWriter *pw, const char *s, int len)
{
    static const char hex[] = "0123456789abcdef";
    char *w = pw->w;
    *w++ = '"';
    if (pg_copy_plain(w, s, len)) {
        w += len;
        *w++ = '"';
        pw->w = w;
        return;
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
    pw->w = w;
}

static void pg_put_number(PgWriter *pw, Numeric n)
{
    char *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
    int len = (int)strlen(text);
    StringInfo out = pw->out;
    out->len = (int)(pw->w - out->data);
    enlargeStringInfo(out, len + pw->room);
    memcpy(out->data + out->len, text, len);
    out->len += len;
    pw->w = out->data + out->len;
    pfree(text);
}

static void pg_put_container(PgWriter *pw, const JsonbContainer *jc);

/* Writes child i of container jc, whose data starts at base + off and ends
 * at base + end. */
static void pg_put_child(PgWriter *pw, const JsonbContainer *jc, const char *base, uint32 i,
                         uint32 off, uint32 end)
{
    JEntry je = jc->children[i];
    if (JBE_ISSTRING(je)) {
        pg_put_string(pw, base + off, (int)(end - off));
    } else if (JBE_ISNUMERIC(je)) {
        pg_put_number(pw, (Numeric)(base + INTALIGN(off)));
    } else if (JBE_ISBOOL_TRUE(je)) {
        memcpy(pw->w, "true", 4);
        pw->w += 4;
    } else if (JBE_ISBOOL_FALSE(je)) {
        memcpy(pw->w, "false", 5);
        pw->w += 5;
    } else if (JBE_ISNULL(je)) {
        memcpy(pw->w, "null", 4);
        pw->w += 4;
    } else {
        pg_put_container(pw, (const JsonbContainer *)(base + INTALIGN(off)));
    }
}

/* Writes the object or array jc as compact JSON. It reads jsonb's on-disk
 * layout (utils/jsonb.h, the format pg_upgrade keeps): a header with the
 * count, then one JEntry per child (an object's n keys, then its n values,
 * keys in jsonb's order), then the children's data, each JEntry holding
 * either its child's length or, every JB_OFFSET_STRIDE entries, its end
 * offset (JBE_ADVANCE_OFFSET). A walk in order costs one addition per
 * child: none of JsonbIteratorNext's state, copies and allocations. A raw
 * scalar (an array flagged JB_FSCALAR) is written as its one element. */
static void pg_put_container(PgWriter *pw, const JsonbContainer *jc)
{
    uint32 n = JsonContainerSize(jc);
    check_stack_depth();
    if (JsonContainerIsObject(jc)) {
        const char *base = (const char *)&jc->children[2 * n];
        uint32 koff = 0, voff = n ? getJsonbOffset(jc, (int)n) : 0;
        *pw->w++ = '{';
        for (uint32 i = 0; i < n; i++) {
            uint32 kend = koff, vend = voff;
            JBE_ADVANCE_OFFSET(kend, jc->children[i]);
            JBE_ADVANCE_OFFSET(vend, jc->children[n + i]);
            if (i) *pw->w++ = ',';
            pg_put_string(pw, base + koff, (int)(kend - koff));
            *pw->w++ = ':';
            pg_put_child(pw, jc, base, n + i, voff, vend);
            koff = kend;
            voff = vend;
        }
        *pw->w++ = '}';
        return;
    }
    const char *base = (const char *)&jc->children[n];
    bool scalar = JsonContainerIsScalar(jc);
    uint32 off = 0;
    if (!scalar) *pw->w++ = '[';
    for (uint32 i = 0; i < n; i++) {
        uint32 end = off;
        JBE_ADVANCE_OFFSET(end, jc->children[i]);
        if (i) *pw->w++ = ',';
        pg_put_child(pw, jc, base, i, off, end);
        off = end;
    }
    if (!scalar) *pw->w++ = ']';
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
    PgWriter pw = {out, NULL, (int)PG_ROOM(size)};
    enlargeStringInfo(out, pw.room);
    pw.w = out->data;
    pg_put_container(&pw, &jb->root);
    out->len = (int)(pw.w - out->data);
    *pw.w = '\0';
}
