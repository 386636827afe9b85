/* pcr_pg_line.c: a decision line to jsonb, written in jsonb's binary layout
 * directly (pcr_pg.h has the how and why). */
#include "pcr_pg.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#define PG_LINE_MAX (64 * 1024) /* longer decision lines go to jsonb_in */
#define PG_LINE_KEEP 8192       /* scratch for longer lines is not kept */
#define PG_DEPTH_MAX 32

/* The scanner. Each pg_scan_ function reads one value starting at p (at
 * most to end) and returns the byte after it, or NULL when it gives up;
 * *out receives the value's node. The position lives in locals, not in
 * sc, so that the compiler keeps it in a register. */
static const char *pg_scan_value(PgLineScan *sc, const char *p, const char *end, uint32 *out,
                                 int depth);

static int pg_hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p into *cp; false when they are not. */
static bool pg_scan_u4(const char *p, const char *end, pg_wchar *cp)
{
    if (end - p < 4) return false;
    pg_wchar u = 0;
    for (int i = 0; i < 4; i++) {
        int h = pg_hex(p[i]);
        if (h < 0) return false;
        u = u << 4 | (pg_wchar)h;
    }
    *cp = u;
    return true;
}

/* Unescapes a string whose plain prefix s[0..p) was read; p is at its
 * first backslash. \u escapes as jsonb_in reads them in a UTF8 database:
 * surrogate pairs joined; a lone surrogate or \u0000 make it give up. */
static const char *pg_scan_escaped(PgLineScan *sc, const char *s, const char *p, const char *end,
                                   PgNode *nd)
{
    char *w0 = sc->esc + sc->nesc, *w = w0;
    memcpy(w, s, p - s);
    w += p - s;
    while (p < end && *p != '"') {
        char c = *p++;
        if ((unsigned char)c < 0x20) return NULL;
        if (c != '\\') {
            *w++ = c;
            continue;
        }
        if (p == end) return NULL;
        c = *p++;
        switch (c) {
        case '"': case '\\': case '/': *w++ = c; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            pg_wchar cp, lo;
            if (!pg_scan_u4(p, end, &cp) || cp == 0) return NULL;
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !pg_scan_u4(p + 2, end, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return NULL;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return NULL;
            }
            unicode_to_utf8(cp, (unsigned char *)w);
            w += pg_utf_mblen((unsigned char *)w);
            break;
        }
        default: return NULL;
        }
    }
    if (p == end) return NULL;
    nd->s = w0;
    nd->n = (uint32)(w - w0);
    sc->nesc += nd->n;
    return p + 1;
}

/* string = '"' chars '"'; p is at the opening quote. Eight bytes at a
 * time: the lowest byte pg_word_special flags is the first that needs a
 * look ('"', '\\' or a control character). */
static const char *pg_scan_string(PgLineScan *sc, const char *p, const char *end, uint32 *out)
{
    const char *s = ++p;
    for (;;) {
        uint64 x, m;
        if (end - p >= 8) {
            memcpy(&x, p, 8);
            m = pg_word_special(x);
            if (!m) {
                p += 8;
                continue;
            }
#ifndef WORDS_BIGENDIAN
            p += pg_rightmost_one_pos64(m) >> 3;
#endif
        } else {
            while (p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\') p++;
            if (p == end) return NULL;
        }
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) break;
        p++; /* flagged, but plain */
    }
    /* A control character, which JSON wants escaped. */
    if ((unsigned char)*p < 0x20) return NULL;
    PgNode *nd = &sc->nodes[sc->nnodes];
    nd->kind = PG_STR;
    if (*p == '"') {
        nd->s = s;
        nd->n = (uint32)(p - s);
        p++;
    } else if (!(p = pg_scan_escaped(sc, s, p, end, nd))) {
        return NULL;
    }
    sc->size += sizeof(JEntry) + nd->n;
    *out = sc->nnodes++;
    return p;
}

/* jsonb's order of keys: shorter first, then by bytes. */
static int pg_key_cmp(const PgNode *a, const PgNode *b)
{
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    return memcmp(a->s, b->s, a->n);
}

/* A container read: its children, the top entries of the stack from base
 * (an object's as key, value pairs), move to kids: an array's in order, an
 * object's keys sorted (an insertion sort: a decision's objects have a
 * dozen keys at most; a duplicate makes it give up, where jsonb_in would
 * keep the last), then its values in the same order. */
static bool pg_scan_close(PgLineScan *sc, uint32 *out, PgKind kind, uint32 base)
{
    uint32 count = sc->nstack - base, *c = sc->stack + base, *k = sc->kids + sc->nkids;
    uint32 n = count;
    if (kind == PG_OBJ) {
        n = count / 2;
        for (uint32 j = 1; j < n; j++) {
            uint32 key = c[2 * j], val = c[2 * j + 1], i = j;
            for (; i > 0; i--) {
                int cmp = pg_key_cmp(&sc->nodes[c[2 * i - 2]], &sc->nodes[key]);
                if (cmp == 0) return false;
                if (cmp < 0) break;
                c[2 * i] = c[2 * i - 2];
                c[2 * i + 1] = c[2 * i - 1];
            }
            c[2 * i] = key;
            c[2 * i + 1] = val;
        }
        for (uint32 j = 0; j < n; j++) {
            k[j] = c[2 * j];
            k[n + j] = c[2 * j + 1];
        }
    } else {
        memcpy(k, c, sizeof(uint32) * count);
    }
    PgNode *nd = &sc->nodes[sc->nnodes];
    nd->kind = kind;
    nd->n = n;
    nd->kids = sc->nkids;
    sc->nkids += count;
    sc->nstack = base;
    /* Its JEntry, header and at most 3 bytes of padding. */
    sc->size += sizeof(JEntry) + sizeof(uint32) + 3;
    *out = sc->nnodes++;
    return true;
}

/* object = '{' [string ':' value (',' string ':' value)*] '}' */
static const char *pg_scan_object(PgLineScan *sc, const char *p, const char *end, uint32 *out,
                                  int depth)
{
    uint32 base = sc->nstack;
    p++;
    if (p < end && *p == '}') return pg_scan_close(sc, out, PG_OBJ, base) ? p + 1 : NULL;
    for (;;) {
        uint32 key, val;
        if (p == end || *p != '"' || !(p = pg_scan_string(sc, p, end, &key))) return NULL;
        if (p == end || *p++ != ':') return NULL;
        if (!(p = pg_scan_value(sc, p, end, &val, depth + 1))) return NULL;
        sc->stack[sc->nstack++] = key;
        sc->stack[sc->nstack++] = val;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') return pg_scan_close(sc, out, PG_OBJ, base) ? p + 1 : NULL;
        return NULL;
    }
}

/* array = '[' [value (',' value)*] ']' */
static const char *pg_scan_array(PgLineScan *sc, const char *p, const char *end, uint32 *out,
                                 int depth)
{
    uint32 base = sc->nstack;
    p++;
    if (p < end && *p == ']') return pg_scan_close(sc, out, PG_ARR, base) ? p + 1 : NULL;
    for (;;) {
        uint32 elem;
        if (!(p = pg_scan_value(sc, p, end, &elem, depth + 1))) return NULL;
        sc->stack[sc->nstack++] = elem;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == ']') return pg_scan_close(sc, out, PG_ARR, base) ? p + 1 : NULL;
        return NULL;
    }
}

static const char *pg_scan_word(PgLineScan *sc, const char *p, const char *end, uint32 *out,
                                PgKind kind, const char *w, size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, w, n) != 0) return NULL;
    sc->nodes[sc->nnodes].kind = kind;
    sc->size += sizeof(JEntry);
    *out = sc->nnodes++;
    return p + n;
}

static const char *pg_scan_value(PgLineScan *sc, const char *p, const char *end, uint32 *out,
                                 int depth)
{
    if (p == end || depth > PG_DEPTH_MAX) return NULL;
    switch (*p) {
    case '"': return pg_scan_string(sc, p, end, out);
    case '{': return pg_scan_object(sc, p, end, out, depth);
    case '[': return pg_scan_array(sc, p, end, out, depth);
    case 't': return pg_scan_word(sc, p, end, out, PG_TRUE, "true", 4);
    case 'f': return pg_scan_word(sc, p, end, out, PG_FALSE, "false", 5);
    case 'n': return pg_scan_word(sc, p, end, out, PG_NULL, "null", 4);
    default: return NULL; /* a number: decision lines have none */
    }
}

/* The bytes of the 8-byte word x that are ASCII digits, as 0xFF bytes;
 * every other byte 0. Per byte b, without carries between bytes: the low
 * 7 bits plus 0x50 reach bit 7 from 0x30 on, plus 0x46 from 0x3A on, and
 * the high bit must be clear. */
static inline uint64 pg_digits(uint64 x)
{
    const uint64 low7 = UINT64CONST(0x7F7F7F7F7F7F7F7F), high = ~low7;
    uint64 l = x & low7;
    uint64 m = (l + UINT64CONST(0x5050505050505050)) & ~(l + UINT64CONST(0x4646464646464646)) &
               ~x & high;
    return (m >> 7) * 0xFF;
}

/* Does s[0..n) hold an ASCII digit? */
static bool pg_has_digit(const char *s, uint32 n)
{
    for (uint32 i = 0; i < n; i++)
        if (s[i] >= '0' && s[i] <= '9') return true;
    return false;
}

/* Notes string node c, written at w in the jsonb that starts at buf, for
 * the cache's template (the cache, below): a value string of the line past
 * sc->rest holding a digit is a patch (its bytes are copied from the line
 * on a hit); a key holding one, or an unescaped copy holding one (its
 * bytes are not the line's), makes the line no template. */
static void pg_record_string(PgLineScan *sc, const PgNode *c, bool key, const char *buf,
                             const char *w)
{
    if (!pg_has_digit(c->s, c->n)) return;
    if (!key && c->s >= sc->rest && c->s < sc->end) {
        uint32 *p = sc->patch + 3 * sc->npatch++;
        p[0] = (uint32)(c->s - sc->rest);
        p[1] = (uint32)(w - buf);
        p[2] = c->n;
    } else if (key || c->s < sc->line || c->s >= sc->rest) {
        sc->no_template = true; /* a key, or an unescaped copy */
    } /* else the id, before rest: the cache's own business */
}

/* Writes the container nd at w, in the jsonb value that starts at buf (for
 * its alignment). Returns the end of what was written: its length, padding
 * included, is its JEntry's. */
static char *pg_emit_container(PgLineScan *sc, const PgNode *nd, char *buf, char *w)
{
    while ((w - buf) & 3) *w++ = '\0';
    uint32 count = nd->kind == PG_OBJ ? 2 * nd->n : nd->n;
    uint32 *entries = (uint32 *)w; /* 4-byte aligned: buf is palloc'ed */
    entries[0] = nd->n | (nd->kind == PG_OBJ ? JB_FOBJECT : JB_FARRAY);
    entries++;
    w = (char *)(entries + count);
    const char *data = w;
    const uint32 *kids = sc->kids + nd->kids;
    for (uint32 i = 0; i < count; i++) {
        const PgNode *c = &sc->nodes[kids[i]];
        JEntry m;
        switch (c->kind) {
        case PG_STR: {
            const char *s = c->s;
            uint32 n = c->n;
            if (sc->rest) pg_record_string(sc, c, nd->kind == PG_OBJ && i < nd->n, buf, w);
            for (; n >= 8; n -= 8, s += 8, w += 8) memcpy(w, s, 8);
            for (; n; n--) *w++ = *s++;
            m = JENTRY_ISSTRING | c->n;
            break;
        }
        case PG_TRUE: m = JENTRY_ISBOOL_TRUE; break;
        case PG_FALSE: m = JENTRY_ISBOOL_FALSE; break;
        case PG_NULL: m = JENTRY_ISNULL; break;
        default: {
            char *start = w;
            w = pg_emit_container(sc, c, buf, w);
            m = JENTRY_ISCONTAINER | (uint32)(w - start);
            break;
        }
        }
        if (i % JB_OFFSET_STRIDE == 0) m = (m & JENTRY_TYPEMASK) | (uint32)(w - data) | JENTRY_HAS_OFF;
        entries[i] = m;
    }
    return w;
}

/* Makes room in sc for a line of len bytes (PG_LINE_MAX at most). */
static void pg_scan_reserve(PgLineScan *sc, MemoryContext mcxt, size_t len)
{
    uint32 need = (uint32)(len / 2 + 2);
    if (sc->cap >= need) return;
    if (sc->cap) {
        pfree(sc->nodes);
        pfree(sc->stack);
        pfree(sc->kids);
        pfree(sc->esc);
        pfree(sc->patch);
    }
    uint32 cap = Max(need, 512);
    sc->nodes = MemoryContextAlloc(mcxt, sizeof(PgNode) * cap);
    sc->stack = MemoryContextAlloc(mcxt, sizeof(uint32) * cap);
    sc->kids = MemoryContextAlloc(mcxt, sizeof(uint32) * cap);
    sc->esc = MemoryContextAlloc(mcxt, 2 * (Size)cap);
    sc->patch = MemoryContextAlloc(mcxt, 3 * sizeof(uint32) * cap);
    sc->cap = cap;
}

/* Frees sc's scratch when a rare long line made it large. */
static void pg_scan_trim(PgLineScan *sc)
{
    if (sc->cap <= PG_LINE_KEEP / 2 + 2) return;
    pfree(sc->nodes);
    pfree(sc->stack);
    pfree(sc->kids);
    pfree(sc->esc);
    pfree(sc->patch);
    sc->nodes = NULL;
    sc->stack = sc->kids = sc->patch = NULL;
    sc->esc = NULL;
    sc->cap = 0;
}

/* The scanner and the writer, or NULL when the scanner gives up. */
static Jsonb *pg_line_convert(PgLineScan *sc, MemoryContext mcxt, const char *line, size_t len)
{
    if (!len || len > PG_LINE_MAX || line[0] != '{') return NULL;
    Jsonb *jb = NULL;
    pg_scan_reserve(sc, mcxt, len);
    sc->nnodes = sc->nstack = sc->nkids = sc->nesc = 0;
    sc->size = VARHDRSZ;
    uint32 root;
    if (pg_scan_value(sc, line, line + len, &root, 0) == line + len) {
        jb = palloc(sc->size);
        char *end = pg_emit_container(sc, &sc->nodes[root], (char *)jb, (char *)jb + VARHDRSZ);
        Assert((Size)(end - (char *)jb) <= sc->size);
        SET_VARSIZE(jb, end - (char *)jb);
    }
    pg_scan_trim(sc);
    return jb;
}

/* ---- the cache of decisions but for their id and digits -------------------
 *
 * A batch's decisions repeat but for their id and their dates: 200,000
 * generated requests give about 10,000 distinct lines but for the id, and
 * under 1,000 once their digits are set aside too (the commonest 256 then
 * cover 99% of the lines). The library writes the id first,
 * {"id":"...",...}; what follows it (the rest), with each ASCII digit
 * standing for any digit, and the id's length modulo 4 decide every byte
 * of the jsonb but the id's own, the digits' and the lengths and offsets
 * that count the id: a longer id moves everything after it, and a move by
 * a multiple of 4 keeps every container's alignment, so its padding; a
 * digit for a digit moves nothing (decision lines hold no numbers, so every
 * digit is in a string, and the template is made only when no key and no
 * string with an escape holds one: their bytes are not copied from the line
 * as they stand). A cached entry keeps the rest and the jsonb made from its
 * line (the template) and where the template's strings with digits are
 * (its patches); a line whose rest matches (the same bytes but where both
 * have a digit) and whose id length modulo 4 matches is made by copying the
 * template around the new id, copying the strings with digits from the
 * line, and correcting the root's size, the id's JEntry and the root's
 * JEntries that hold an offset past it. Lines with an escaped id, or
 * without a string id first, or longer than PG_CACHE_LINE_MAX, are not
 * cached. One slot per hash (direct mapped); an entry keeps its slot
 * against a line that misses while it has credit (a hit earns one, up to
 * PG_CACHE_CREDIT; a miss in its slot spends one), so a common decision is
 * not pushed out by a rare one; no new entry once the entries take
 * PG_CACHE_BYTES. Before the hash, the memo: the entry that last served a
 * line of the same rest length and id length modulo 4 (most lines are a
 * few rests: "none" of each policy, "no_policy" of an unknown payer, whose
 * lengths differ) is tried first, with the same comparison, so that a hit
 * there costs no hash. */
#define PG_CACHE_SLOTS 1024
#define PG_MEMO_SLOTS 256
#define PG_CACHE_CREDIT 8
#define PG_CACHE_LINE_MAX 4096
#define PG_CACHE_BYTES (2 * 1024 * 1024) /* the most the entries take */
#define PG_ID_PREFIX "{\"id\":\""

typedef struct PgLineEntry {
    uint64 hash;
    uint32 rest_len;  /* bytes of the line after the id's closing quote */
    uint32 id_len;    /* bytes of the id in the template */
    uint32 id_off;    /* where the id's bytes start in the template */
    uint32 id_entry;  /* index of the id's JEntry among the root's children */
    uint32 nentries;  /* JEntries of the root (twice its keys) */
    uint32 size;      /* bytes of the template */
    uint32 npatch;    /* strings with digits in the rest */
    uint32 bytes;     /* of the entry */
    uint32 credit;    /* hits not yet spent defending the slot (PG_CACHE_CREDIT at most) */
    uint32 data[FLEXIBLE_ARRAY_MEMBER]; /* the patches (3 numbers each, see
                                           PgLineScan.patch), then the rest,
                                           then the template, as bytes */
} PgLineEntry;

/* The 8 bytes of s[0..n) from i (n - i of them when fewer, the others 0). */
static inline uint64 pg_word_at(const char *s, size_t i, size_t n)
{
    uint64 x = 0;
    memcpy(&x, s + i, n - i >= 8 ? 8 : n - i);
    return x;
}

/* A 64-bit hash of s[0..n) and k that is the same for lines that differ
 * only in digits: of each byte only its high four bits count (a digit's are
 * 0x3), which costs one AND a word and leaves few of a batch's lines
 * sharing a hash (939 of its 946 distinct rests, in the 200,000 generated
 * requests, keep a hash of their own). Eight bytes at a time into four
 * lanes of multiply and xor-shift (independent, so the multiplications
 * overlap), folded as in MurmurHash's finaliser. Not for adversaries: a
 * collision costs only a comparison and a miss. */
static uint64 pg_line_hash(const char *s, size_t n, uint64 k)
{
    const uint64 mul = UINT64CONST(0x9E3779B97F4A7C15), high4 = UINT64CONST(0xF0F0F0F0F0F0F0F0);
    uint64 h0 = (n + k) * mul, h1 = h0 ^ 1, h2 = h0 ^ 2, h3 = h0 ^ 3, x0, x1, x2, x3;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        memcpy(&x0, s + i, 8);
        memcpy(&x1, s + i + 8, 8);
        memcpy(&x2, s + i + 16, 8);
        memcpy(&x3, s + i + 24, 8);
        h0 = (h0 ^ (x0 & high4)) * mul;
        h1 = (h1 ^ (x1 & high4)) * mul;
        h2 = (h2 ^ (x2 & high4)) * mul;
        h3 = (h3 ^ (x3 & high4)) * mul;
        h0 ^= h0 >> 29;
        h1 ^= h1 >> 29;
        h2 ^= h2 >> 29;
        h3 ^= h3 >> 29;
    }
    uint64 h = h0 ^ (h1 * 3) ^ (h2 * 5) ^ (h3 * 7);
    for (; i < n; i += 8) {
        x0 = pg_word_at(s, i, n);
        h = (h ^ (x0 & high4)) * mul;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    h *= mul;
    return h ^ (h >> 29);
}

/* Are a[0..n) and b[0..n) the same bytes but where both have a digit?
 * The same bytes outright (a decision with no date of its own: most) is
 * asked first, of memcmp. */
static bool pg_rest_match(const char *a, const char *b, size_t n)
{
    size_t i = 0;
    uint64 x, y;
    if (memcmp(a, b, n) == 0) return true;
    for (; i + 8 <= n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y && ((x ^ y) & ~(pg_digits(x) & pg_digits(y)))) return false;
    }
    if (i == n) return true;
    x = pg_word_at(a, i, n);
    y = pg_word_at(b, i, n);
    return ((x ^ y) & ~(pg_digits(x) & pg_digits(y))) == 0;
}

/* The template's facts for the id: where its bytes and JEntry are in jb,
 * made from a line whose id is id_len bytes. False when jb is not an
 * object whose key "id" holds a string of that length. */
static bool pg_line_find_id(Jsonb *jb, uint32 id_len, PgLineEntry *e)
{
    JsonbContainer *root = &jb->root;
    if (!JsonContainerIsObject(root)) return false;
    uint32 n = JsonContainerSize(root);
    const char *base = (const char *)&root->children[2 * n];
    for (uint32 i = 0; i < n; i++) {
        uint32 off = getJsonbOffset(root, (int)i);
        if (getJsonbLength(root, (int)i) != 2 || memcmp(base + off, "id", 2) != 0) continue;
        JEntry v = root->children[n + i];
        if (!JBE_ISSTRING(v) || getJsonbLength(root, (int)(n + i)) != id_len) return false;
        e->id_off = (uint32)(base + getJsonbOffset(root, (int)(n + i)) - (const char *)jb);
        e->id_entry = n + i;
        e->nentries = 2 * n;
        return true;
    }
    return false;
}

/* The decision from e's template, the id id[0..id_len) and the strings
 * with digits of rest (the line's, which matches e's). */
static Jsonb *pg_line_from_template(const PgLineEntry *e, const char *id, uint32 id_len,
                                    const char *rest)
{
    const uint32 *patch = e->data;
    const char *t = (const char *)(patch + 3 * e->npatch) + e->rest_len;
    int32 delta = (int32)id_len - (int32)e->id_len;
    uint32 size = (uint32)((int32)e->size + delta);
    char *out = palloc(size);
    memcpy(out, t, e->id_off);
    memcpy(out + e->id_off, id, id_len);
    memcpy(out + e->id_off + id_len, t + e->id_off + e->id_len, e->size - e->id_off - e->id_len);
    for (uint32 i = 0; i < e->npatch; i++, patch += 3) {
        uint32 at = patch[1] > e->id_off ? (uint32)((int32)patch[1] + delta) : patch[1];
        memcpy(out + at, rest + patch[0], patch[2]);
    }
    SET_VARSIZE(out, size);
    JEntry *ch = ((Jsonb *)out)->root.children;
    if (!JBE_HAS_OFF(ch[e->id_entry])) ch[e->id_entry] = JENTRY_ISSTRING | id_len;
    for (uint32 i = e->id_entry; i < e->nentries; i++)
        if (JBE_HAS_OFF(ch[i]))
            ch[i] = (ch[i] & ~JENTRY_OFFLENMASK) | (uint32)((int32)JBE_OFFLENFLD(ch[i]) + delta);
    return (Jsonb *)out;
}

/* The memo slot of lines whose rest is rest_len bytes and whose id is
 * id_len bytes. */
static inline uint32 pg_memo_index(uint32 rest_len, uint32 id_len)
{
    return (rest_len * 4 + (id_len & 3)) % PG_MEMO_SLOTS;
}

/* Can e's template make the line whose id is id_len bytes and whose rest
 * is rest[0..rest_len)? */
static inline bool pg_entry_serves(const PgLineEntry *e, const char *rest, uint32 rest_len,
                                   uint32 id_len)
{
    return e->rest_len == rest_len && (e->id_len & 3) == (id_len & 3) &&
           pg_rest_match((const char *)(e->data + 3 * e->npatch), rest, rest_len);
}

/* The decision line as jsonb: from the cache, or converted (and cached). */
static Jsonb *pg_line_cached(PgLineScan *sc, MemoryContext mcxt, const char *line, size_t len)
{
    const size_t plen = sizeof PG_ID_PREFIX - 1;
    if (len > PG_CACHE_LINE_MAX || len < plen || memcmp(line, PG_ID_PREFIX, plen) != 0)
        return pg_line_convert(sc, mcxt, line, len);
    const char *id = line + plen, *q = id, *end = line + len;
    while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
    if (q == end || *q != '"') return pg_line_convert(sc, mcxt, line, len);
    uint32 id_len = (uint32)(q - id), rest_len = (uint32)(end - q - 1);
    const char *rest = q + 1;
    if (!sc->slots) {
        sc->slots = MemoryContextAllocZero(mcxt, sizeof(PgLineEntry *) * PG_CACHE_SLOTS);
        sc->memo = MemoryContextAllocZero(mcxt, sizeof(PgLineEntry *) * PG_MEMO_SLOTS);
    }
    PgLineEntry **memo = &sc->memo[pg_memo_index(rest_len, id_len)];
    PgLineEntry *e = *memo;
    if (e && pg_entry_serves(e, rest, rest_len, id_len)) {
        if (e->credit < PG_CACHE_CREDIT) e->credit++;
        return pg_line_from_template(e, id, id_len, rest);
    }
    uint64 h = pg_line_hash(rest, rest_len, id_len & 3);
    PgLineEntry **slot = &sc->slots[h % PG_CACHE_SLOTS];
    e = *slot;
    if (e && e->hash == h && pg_entry_serves(e, rest, rest_len, id_len)) {
        if (e->credit < PG_CACHE_CREDIT) e->credit++;
        *memo = e;
        return pg_line_from_template(e, id, id_len, rest);
    }
    if (e && e->credit) {
        e->credit--;
        return pg_line_convert(sc, mcxt, line, len);
    }
    /* Converted with its strings with digits noted, for the template. */
    sc->line = line;
    sc->rest = rest;
    sc->end = end;
    sc->npatch = 0;
    sc->no_template = false;
    Jsonb *jb = pg_line_convert(sc, mcxt, line, len);
    sc->rest = NULL;
    PgLineEntry found;
    if (!jb || sc->no_template || !pg_line_find_id(jb, id_len, &found)) return jb;
    Size patch_bytes = 3 * sizeof(uint32) * sc->npatch;
    Size bytes = offsetof(PgLineEntry, data) + patch_bytes + rest_len + VARSIZE(jb);
    if (sc->cache_bytes + bytes > PG_CACHE_BYTES) return jb;
    if (e) {
        PgLineEntry **old_memo = &sc->memo[pg_memo_index(e->rest_len, e->id_len)];
        if (*old_memo == e) *old_memo = NULL;
        sc->cache_bytes -= e->bytes;
        pfree(e);
    }
    e = MemoryContextAlloc(mcxt, bytes);
    sc->cache_bytes += bytes;
    *e = found;
    e->hash = h;
    e->rest_len = rest_len;
    e->id_len = id_len;
    e->size = VARSIZE(jb);
    e->npatch = sc->npatch;
    e->bytes = (uint32)bytes;
    e->credit = 0;
    char *d = (char *)e->data;
    memcpy(d, sc->patch, patch_bytes);
    memcpy(d + patch_bytes, rest, rest_len);
    memcpy(d + patch_bytes + rest_len, jb, e->size);
    *slot = e;
    *memo = e;
    return jb;
}

Datum pgline_to_jsonb(PgLineScan *sc, MemoryContext mcxt, const char *line, size_t len, bool check)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    Jsonb *jb = pg_line_cached(sc, mcxt, line, len);
    if (jb && !check) return JsonbPGetDatum(jb);
    Datum in = DirectFunctionCall1(jsonb_in, CStringGetDatum(pnstrdup(line, len)));
    if (jb && (VARSIZE(jb) != VARSIZE(DatumGetPointer(in)) ||
               memcmp(jb, DatumGetPointer(in), VARSIZE(jb)) != 0))
        elog(ERROR, "pcr: internal error: the decision's jsonb differs from jsonb_in's for %s",
             pnstrdup(line, len));
    return in;
}
