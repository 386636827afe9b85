/* pcr_pg.c: the PostgreSQL extension `pcr` (docs/postgres.md).
 *
 * SQL functions over the public API (include/pcr/pcr.h) only:
 *   pcr.inspect(bytea)          verify bytecode, return its header facts
 *   pcr.check_policies()        build this backend's engine; error if the
 *                               loaded policies cannot be routed together
 *   pcr.decide(jsonb [,text[]]) the decision object, routed over all loaded
 *                               policies or over the named ones
 *   pcr.decide_strict(...)      the same; a malformed request raises
 *   pcr.decide_text(text)       the same from the request's JSON text
 *
 * The per-backend cache. A backend keeps the engines it built, each a
 * pcr_engine (malloc'ed by the library, outside palloc), and the
 * fingerprint of the policies they were built from (pg_read_fingerprint).
 * The first call of a function at a call site in each command reads the
 * fingerprint with the command's snapshot; when it differs, every engine
 * is freed and rebuilt on demand. So a statement never sees a policy set
 * other than its snapshot's, and later calls in the command cost two
 * integer and a pointer comparison. The cache is the one
 * piece of static state in the project: a backend is a process, and
 * PostgreSQL's own extensions keep their per-backend caches the same way.
 *
 * jsonb in, jsonb out. pcr.decide writes the request as compact JSON text
 * straight from jsonb's binary layout (pg_put_container) and gives it to the
 * library's one record decoder, so a request means in PostgreSQL exactly
 * what it means to pcrvm, messages included; the decision line comes back
 * as jsonb through a reader of the library's own output
 * (pg_line_to_jsonb), not jsonb_in. docs/postgres.md, "jsonb and text",
 * has the measurements behind both.
 *
 * Errors. ereport(ERROR) longjmps: no library object may be half-owned at
 * that point, so every failure is first copied into a palloc'ed message,
 * the library objects freed, then reported. */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "pcr/pcr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(pcr_pg_inspect);
PG_FUNCTION_INFO_V1(pcr_pg_check_policies);
PG_FUNCTION_INFO_V1(pcr_pg_decide);
PG_FUNCTION_INFO_V1(pcr_pg_decide_strict);
PG_FUNCTION_INFO_V1(pcr_pg_decide_text);

/* Engines for subsets of the policies (pcr.decide(r, policies)) kept per
 * backend, least recently used evicted. */
#define PG_SUBSETS 8

typedef struct PgEngine {
    char *key;          /* subset: the sorted names, '\n'-joined (malloc); all: NULL */
    pcr_engine *engine; /* NULL: not built */
    uint64 used;        /* for eviction */
} PgEngine;

enum { PG_FINGERPRINT_LEN = 64 }; /* hex SHA-256 */

typedef struct PgCache {
    bool have_fingerprint;
    char fingerprint[PG_FINGERPRINT_LEN + 1]; /* of the policies the engines were
                                               * built from (pg_read_fingerprint) */
    uint64 epoch;       /* changes whenever an engine is freed */
    uint64 clock;       /* use counter for eviction */
    PgEngine all;
    PgEngine subsets[PG_SUBSETS];
} PgCache;

static PgCache pg_cache;

/* What one call site keeps for the rest of its query (in fn_mcxt). */
typedef struct PgCall {
    LocalTransactionId lxid; /* the transaction and command in which this */
    CommandId cid;           /* call site last checked the fingerprint */
    uint64 epoch;       /* pg_cache.epoch when engine was taken */
    pcr_engine *engine;
    bytea *names;       /* the policies argument engine was chosen for (copy) */
    StringInfoData text; /* the request as JSON text, reused (in fn_mcxt) */
} PgCall;

/* ---- engines ------------------------------------------------------------- */

static void pg_engine_drop(PgEngine *pe)
{
    pcr_engine_free(pe->engine);
    free(pe->key);
    pe->engine = NULL;
    pe->key = NULL;
    pe->used = 0;
}

static void pg_cache_drop_all(void)
{
    pg_engine_drop(&pg_cache.all);
    for (int i = 0; i < PG_SUBSETS; i++) pg_engine_drop(&pg_cache.subsets[i]);
    pg_cache.epoch++;
}

/* The fingerprint of the loaded policies, as this command's snapshot sees
 * pcr.policies: the hex SHA-256 of every "id@version sha256" line, sorted
 * (pcr.fingerprint() computes the same in SQL). Equal fingerprints mean the
 * same bytecode under the same names, so an engine built for one serves
 * the other: the key depends on the table's content alone, not on a
 * trigger or on how the rows got there (pcr.load, a plain INSERT, a
 * replication apply worker, a restore), nor on which table instance holds
 * them. Writes the fingerprint into out (PG_FINGERPRINT_LEN + 1 bytes). */
static void pg_read_fingerprint(char *out)
{
    bool isnull;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pcr: SPI_connect failed");
    if (SPI_execute("SELECT encode(sha256(convert_to(coalesce(string_agg(id || '@' || version "
                    "|| ' ' || sha256, E'\\n' ORDER BY id, version), ''), 'UTF8')), 'hex') "
                    "FROM pcr.policies",
                    true, 1) != SPI_OK_SELECT ||
        SPI_processed != 1)
        elog(ERROR, "pcr: cannot read pcr.policies");
    char *fp = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    isnull = fp == NULL || strlen(fp) != PG_FINGERPRINT_LEN;
    if (!isnull) memcpy(out, fp, PG_FINGERPRINT_LEN + 1);
    SPI_finish();
    if (isnull) elog(ERROR, "pcr: cannot fingerprint pcr.policies");
}

/* Drops every engine when the policies differ from those they were built
 * from. */
static void pg_cache_validate(void)
{
    char fp[PG_FINGERPRINT_LEN + 1];
    pg_read_fingerprint(fp);
    if (!pg_cache.have_fingerprint || strcmp(fp, pg_cache.fingerprint) != 0) {
        pg_cache_drop_all();
        memcpy(pg_cache.fingerprint, fp, sizeof fp);
        pg_cache.have_fingerprint = true;
    }
}

/* Is "id@version" selected by names (nnames, each "id@version" or "id")?
 * names NULL selects everything; used[i] records which names matched. */
static bool pg_selected(const char *id, const char *version, char **names, int nnames, bool *used)
{
    if (!names) return true;
    bool hit = false;
    size_t idlen = strlen(id);
    for (int i = 0; i < nnames; i++) {
        const char *n = names[i];
        bool match = strchr(n, '@') ? strncmp(n, id, idlen) == 0 && n[idlen] == '@' &&
                                          strcmp(n + idlen + 1, version) == 0
                                    : strcmp(n, id) == 0;
        if (match) used[i] = hit = true;
    }
    return hit;
}

/* Builds an engine from the loaded policies selected by names (NULL: all).
 * Raises an SQL error when a stored policy fails verification, when the
 * policies cannot be routed together, or when a name selects nothing. */
static pcr_engine *pg_build(char **names, int nnames)
{
    char err[256];
    char *fail = NULL;
    /* The library reads and writes UTF-8; in another encoding jsonb's text
     * and the decision's would not mean the same characters. */
    if (GetDatabaseEncoding() != PG_UTF8)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("pcr: the database encoding must be UTF8, not %s",
                               GetDatabaseEncodingName())));
    bool *used = names ? palloc0(sizeof(bool) * (size_t)nnames) : NULL;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pcr: SPI_connect failed");
    if (SPI_execute("SELECT id, version, bytecode FROM pcr.policies ORDER BY payer, "
                    "effective_from NULLS FIRST, id, version",
                    true, 0) != SPI_OK_SELECT)
        elog(ERROR, "pcr: cannot read pcr.policies");
    pcr_engine *e = pcr_engine_new();
    if (!e) elog(ERROR, "pcr: out of memory");
    for (uint64 r = 0; r < SPI_processed && !fail; r++) {
        HeapTuple t = SPI_tuptable->vals[r];
        TupleDesc td = SPI_tuptable->tupdesc;
        char *id = SPI_getvalue(t, td, 1), *version = SPI_getvalue(t, td, 2);
        if (!pg_selected(id, version, names, nnames, used)) continue;
        bool isnull;
        bytea *bc = DatumGetByteaPP(SPI_getbinval(t, td, 3, &isnull));
        pcr_policy *p = NULL;
        if (pcr_policy_load((const uint8_t *)VARDATA_ANY(bc), VARSIZE_ANY_EXHDR(bc), &p, err,
                            sizeof err) != PCR_OK) {
            fail = psprintf("stored policy %s@%s fails verification: %s", id, version, err);
        } else if (pcr_engine_add(e, p, err, sizeof err) != PCR_OK) {
            pcr_policy_free(p);
            fail = psprintf("%s", err);
        }
    }
    for (int i = 0; names && !fail && i < nnames; i++)
        if (!used[i]) fail = psprintf("no loaded policy is named \"%s\"", names[i]);
    if (fail) {
        char *msg = MemoryContextStrdup(CurTransactionContext, fail);
        pcr_engine_free(e);
        SPI_finish();
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("pcr: %s", msg)));
    }
    SPI_finish();
    return e;
}

static int pg_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The engine for the policies named in arr, from the cache or built. */
static pcr_engine *pg_subset_engine(ArrayType *arr)
{
    Datum *elems;
    bool *nulls;
    int n;
    deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
    char **names = palloc(sizeof(char *) * (size_t)(n ? n : 1));
    StringInfoData key;
    initStringInfo(&key);
    for (int i = 0; i < n; i++) {
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("pcr: the policies array must not contain NULL")));
        names[i] = TextDatumGetCString(elems[i]);
    }
    qsort(names, (size_t)n, sizeof *names, pg_cmp_names);
    for (int i = 0; i < n; i++) appendStringInfo(&key, "%s\n", names[i]);

    PgEngine *slot = &pg_cache.subsets[0];
    for (int i = 0; i < PG_SUBSETS; i++) {
        PgEngine *pe = &pg_cache.subsets[i];
        if (pe->engine && strcmp(pe->key, key.data) == 0) {
            pe->used = ++pg_cache.clock;
            return pe->engine;
        }
        if (!pe->engine || (slot->engine && pe->used < slot->used)) slot = pe;
    }
    pcr_engine *e = pg_build(names, n);
    char *k = strdup(key.data);
    if (!k) {
        pcr_engine_free(e);
        elog(ERROR, "pcr: out of memory");
    }
    if (slot->engine) {
        pg_engine_drop(slot);
        pg_cache.epoch++;
    }
    slot->engine = e;
    slot->key = k;
    slot->used = ++pg_cache.clock;
    return e;
}

static pcr_engine *pg_all_engine(void)
{
    if (!pg_cache.all.engine) pg_cache.all.engine = pg_build(NULL, 0);
    return pg_cache.all.engine;
}

/* The engine for this call: checked against pcr.policies once per query and
 * call site, then reused while the cache keeps it. */
static pcr_engine *pg_call_engine(FunctionCallInfo fcinfo, int names_arg)
{
    PgCall *c = fcinfo->flinfo->fn_extra;
    bytea *names = names_arg >= 0 ? PG_GETARG_BYTEA_PP(names_arg) : NULL;
    /* A call site may outlive a command (PL/pgSQL keeps simple expressions
     * for the transaction): the fingerprint is read again whenever the command
     * changed, which it does after any statement that wrote data. */
    LocalTransactionId lxid = MyProc->lxid;
    CommandId cid = GetCurrentCommandId(false);
    if (!c || c->lxid != lxid || c->cid != cid) {
        pg_cache_validate();
        if (!c) {
            c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof *c);
            c->epoch = pg_cache.epoch - 1;
            fcinfo->flinfo->fn_extra = c;
        }
        c->lxid = lxid;
        c->cid = cid;
    }
    if (c->epoch == pg_cache.epoch && c->engine &&
        (!names || (c->names && VARSIZE_ANY(c->names) == VARSIZE_ANY(names) &&
                    memcmp(c->names, names, VARSIZE_ANY(names)) == 0)))
        return c->engine;
    c->engine = names ? pg_subset_engine(DatumGetArrayTypeP(PG_GETARG_DATUM(names_arg)))
                      : pg_all_engine();
    c->epoch = pg_cache.epoch;
    if (names) {
        if (c->names) pfree(c->names);
        c->names = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, VARSIZE_ANY(names));
        memcpy(c->names, names, VARSIZE_ANY(names));
    }
    return c->engine;
}

/* ---- jsonb to JSON text ---------------------------------------------------- */

/* Does the 8-byte word x hold no byte that a JSON string must escape
 * ('"', '\\', below 0x20)? The "has a zero byte" and "has a byte below n"
 * word tests (Hacker's Delight; Bit Twiddling Hacks) on x, x ^ '"' and
 * x ^ '\\': never a false "yes"; a rare false "no" only sends the word
 * through the byte-by-byte path. */
static inline bool pg_word_plain(uint64 x)
{
    const uint64 ones = UINT64CONST(0x0101010101010101), high = ones * 0x80;
    uint64 q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high) == 0;
}

/* The writer's room. Before the walk, out is given room for 6 bytes per
 * byte of the jsonb value (PG_ROOM): a string's byte becomes at most 6
 * ("\u001f"), and every child's 4-byte JEntry, every container's 4-byte
 * header, covers at most 24 bytes of quotes, colons, commas and brackets
 * around it. Only a number can print longer than it is stored (numeric_out
 * of 1e1000), so each number makes the same room again after it. Strings
 * and punctuation are then written with no check at all. */
#define PG_ROOM(size) (6 * (size) + 64)
#define PG_DIRECT_MAX (16 * 1024 * 1024) /* bytes of jsonb written directly */
#define PG_TEXT_KEEP (8 * 1024 * 1024)   /* the largest text buffer kept between calls */

typedef struct PgWriter {
    StringInfo out;
    char *w;      /* the next byte to write, in out->data */
    int room;     /* PG_ROOM of the value */
} PgWriter;

/* Writes s[0..len) as a JSON string: '"', '\\' and control characters
 * escaped, every other byte as it is, eight at a time where none needs
 * escaping. */
static void pg_put_string(PgWriter *pw, const char *s, int len)
{
    static const char hex[] = "0123456789abcdef";
    char *w = pw->w;
    *w++ = '"';
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
static void pg_jsonb_to_json(Jsonb *jb, StringInfo out)
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

/* ---- decision line to jsonb ---------------------------------------------- */

/* Reads a decision line (compact JSON the library wrote) into a JsonbValue
 * tree whose objects' pairs are in jsonb's order, and converts that with
 * JsonbValueToJsonb: the bytes jsonb_in would make of the line, without
 * its lexer and its sort. Strings without escapes point into the line,
 * which JsonbValueToJsonb copies. Anything this reader does not expect
 * (\u0000, an unescaped control character, a number, a duplicate key, a
 * syntax error) makes it give up: the caller
 * then hands the line to jsonb_in, which decides what it means. */
typedef struct PgLine {
    const char *p, *end;
} PgLine;

static bool pg_read_value(PgLine *l, JsonbValue *v, int depth);

static int pg_hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool pg_read_u4(PgLine *l, pg_wchar *cp)
{
    if (l->end - l->p < 4) return false;
    pg_wchar u = 0;
    for (int i = 0; i < 4; i++) {
        int h = pg_hex(l->p[i]);
        if (h < 0) return false;
        u = u << 4 | (pg_wchar)h;
    }
    l->p += 4;
    *cp = u;
    return true;
}

/* string = '"' chars '"'; l->p is at the opening quote. */
static bool pg_read_string(PgLine *l, JsonbValue *v)
{
    const char *s = ++l->p;
    uint64 x;
    while (l->end - l->p >= 8 && (memcpy(&x, l->p, 8), pg_word_plain(x))) l->p += 8;
    while (l->p < l->end && (unsigned char)*l->p >= 0x20 && *l->p != '"' && *l->p != '\\') l->p++;
    /* The end, or a control character, which JSON wants escaped. */
    if (l->p == l->end || (unsigned char)*l->p < 0x20) return false;
    v->type = jbvString;
    if (*l->p == '"') {
        v->val.string.val = (char *)s;
        v->val.string.len = (int)(l->p - s);
        l->p++;
        return true;
    }
    /* Escapes: unescaped into a copy (never longer than the escaped text). */
    char *w = palloc(l->end - s), *w0 = w;
    memcpy(w, s, l->p - s);
    w += l->p - s;
    while (l->p < l->end && *l->p != '"') {
        char c = *l->p++;
        if ((unsigned char)c < 0x20) return false;
        if (c != '\\') {
            *w++ = c;
            continue;
        }
        if (l->p == l->end) return false;
        c = *l->p++;
        switch (c) {
        case '"': case '\\': case '/': *w++ = c; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            pg_wchar cp, lo;
            if (!pg_read_u4(l, &cp) || cp == 0) return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (l->end - l->p < 6 || l->p[0] != '\\' || l->p[1] != 'u') return false;
                l->p += 2;
                if (!pg_read_u4(l, &lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return false;
            }
            unicode_to_utf8(cp, (unsigned char *)w);
            w += pg_utf_mblen((unsigned char *)w);
            break;
        }
        default: return false;
        }
    }
    if (l->p == l->end) return false;
    l->p++;
    v->val.string.val = w0;
    v->val.string.len = (int)(w - w0);
    return true;
}

/* jsonb's order of keys: shorter first, then by bytes. */
static int pg_key_cmp(const JsonbValue *a, const JsonbValue *b)
{
    int n = a->val.string.len;
    if (n != b->val.string.len) return n < b->val.string.len ? -1 : 1;
    for (int i = 0; i < n; i++) /* keys are short: no call to memcmp */
        if (a->val.string.val[i] != b->val.string.val[i])
            return (unsigned char)a->val.string.val[i] < (unsigned char)b->val.string.val[i] ? -1 : 1;
    return 0;
}

static bool pg_read_object(PgLine *l, JsonbValue *v, int depth)
{
    int cap = 16, n = 0;
    JsonbPair *pairs = palloc(sizeof *pairs * cap);
    l->p++;
    if (l->p < l->end && *l->p == '}') {
        l->p++;
    } else {
        for (;;) {
            if (n == cap) pairs = repalloc(pairs, sizeof *pairs * (cap *= 2));
            JsonbPair *pr = &pairs[n];
            if (l->p == l->end || *l->p != '"' || !pg_read_string(l, &pr->key)) return false;
            if (l->p == l->end || *l->p++ != ':') return false;
            if (!pg_read_value(l, &pr->value, depth + 1)) return false;
            n++;
            if (l->p < l->end && *l->p == ',') {
                l->p++;
                continue;
            }
            if (l->p < l->end && *l->p == '}') {
                l->p++;
                break;
            }
            return false;
        }
    }
    /* jsonb's order: an insertion sort of indexes (a line's objects have a
     * dozen keys at most), then each pair moved once. */
    int ix_local[32];
    int *ix = n <= 32 ? ix_local : palloc(sizeof(int) * n);
    for (int k = 0; k < n; k++) {
        int i = k;
        for (; i > 0; i--) {
            int c = pg_key_cmp(&pairs[ix[i - 1]].key, &pairs[k].key);
            if (c == 0) return false;
            if (c < 0) break;
            ix[i] = ix[i - 1];
        }
        ix[i] = k;
    }
    JsonbPair *sorted = palloc(sizeof *sorted * (n ? n : 1));
    for (int k = 0; k < n; k++) {
        sorted[k] = pairs[ix[k]];
        sorted[k].order = (uint32)ix[k];
    }
    v->type = jbvObject;
    v->val.object.nPairs = n;
    v->val.object.pairs = sorted;
    return true;
}

static bool pg_read_array(PgLine *l, JsonbValue *v, int depth)
{
    int cap = 4, n = 0;
    JsonbValue *elems = palloc(sizeof *elems * cap);
    l->p++;
    if (l->p < l->end && *l->p == ']') {
        l->p++;
    } else {
        for (;;) {
            if (n == cap) elems = repalloc(elems, sizeof *elems * (cap *= 2));
            if (!pg_read_value(l, &elems[n++], depth + 1)) return false;
            if (l->p < l->end && *l->p == ',') {
                l->p++;
                continue;
            }
            if (l->p < l->end && *l->p == ']') {
                l->p++;
                break;
            }
            return false;
        }
    }
    v->type = jbvArray;
    v->val.array.nElems = n;
    v->val.array.elems = elems;
    v->val.array.rawScalar = false;
    return true;
}

static bool pg_read_word(PgLine *l, const char *w, size_t n)
{
    if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n) != 0) return false;
    l->p += n;
    return true;
}

static bool pg_read_value(PgLine *l, JsonbValue *v, int depth)
{
    if (l->p == l->end || depth > 32) return false;
    switch (*l->p) {
    case '{': return pg_read_object(l, v, depth);
    case '[': return pg_read_array(l, v, depth);
    case '"': return pg_read_string(l, v);
    case 't': v->type = jbvBool; v->val.boolean = true; return pg_read_word(l, "true", 4);
    case 'f': v->type = jbvBool; v->val.boolean = false; return pg_read_word(l, "false", 5);
    case 'n': v->type = jbvNull; return pg_read_word(l, "null", 4);
    default: return false; /* a number: decision lines have none */
    }
}

/* The decision line as jsonb (see PgLine). */
static Datum pg_line_to_jsonb(const char *line, size_t len)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    PgLine l = {line, line + len};
    JsonbValue v;
    if (len && line[0] == '{' && pg_read_value(&l, &v, 0) && l.p == l.end)
        return JsonbPGetDatum(JsonbValueToJsonb(&v));
    return DirectFunctionCall1(jsonb_in, CStringGetDatum(pnstrdup(line, len)));
}

/* ---- deciding -------------------------------------------------------------- */

/* Decides the JSON text json (len bytes) and returns the decision object;
 * strict: a malformed request raises instead. */
static Datum pg_decide_json(pcr_engine *e, const char *json, size_t len, bool strict)
{
    const char *line;
    size_t line_len;
    pcr_decision_kind kind;
    /* One call is one record: error messages say "record 1". */
    pcr_engine_eval(e, json, len, 1, &line, &line_len, &kind);
    if (strict && kind == PCR_DEC_ERROR) {
        pcr_decision d;
        const char *msg = pcr_engine_decision(e, &d) == PCR_OK && d.error ? d.error : "malformed";
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("pcr: malformed request: %s", msg)));
    }
    return pg_line_to_jsonb(line, line_len);
}

static Datum pg_decide_common(FunctionCallInfo fcinfo, bool strict)
{
    Jsonb *jb = PG_GETARG_JSONB_P(0);
    pcr_engine *e = pg_call_engine(fcinfo, PG_NARGS() > 1 ? 1 : -1);
    PgCall *c = fcinfo->flinfo->fn_extra;
    if (!c->text.data) {
        MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
        initStringInfo(&c->text);
        MemoryContextSwitchTo(old);
    }
    pg_jsonb_to_json(jb, &c->text);
    Datum d = pg_decide_json(e, c->text.data, (size_t)c->text.len, strict);
    /* A rare huge request does not keep its buffer for the rest of the query. */
    if (c->text.maxlen > PG_TEXT_KEEP) {
        pfree(c->text.data);
        c->text.data = NULL;
    }
    return d;
}

Datum pcr_pg_decide(PG_FUNCTION_ARGS) { return pg_decide_common(fcinfo, false); }

Datum pcr_pg_decide_strict(PG_FUNCTION_ARGS) { return pg_decide_common(fcinfo, true); }

Datum pcr_pg_decide_text(PG_FUNCTION_ARGS)
{
    text *t = PG_GETARG_TEXT_PP(0);
    pcr_engine *e = pg_call_engine(fcinfo, -1);
    PG_RETURN_DATUM(pg_decide_json(e, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), false));
}

Datum pcr_pg_check_policies(PG_FUNCTION_ARGS)
{
    (void)fcinfo;
    pg_cache_validate();
    pcr_engine *e = pg_build(NULL, 0);
    pcr_engine_free(e);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "pcr: SPI_connect failed");
    SPI_execute("SELECT count(*) FROM pcr.policies", true, 1);
    bool isnull;
    int64 n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    SPI_finish();
    PG_RETURN_INT32((int32)n);
}

/* ---- inspecting bytecode -------------------------------------------------- */

static Datum pg_date_or_null(const char *ymd, bool *isnull)
{
    *isnull = ymd[0] == '\0';
    return *isnull ? (Datum)0 : DirectFunctionCall1(date_in, CStringGetDatum(ymd));
}

Datum pcr_pg_inspect(PG_FUNCTION_ARGS)
{
    bytea *bc = PG_GETARG_BYTEA_PP(0);
    TupleDesc td;
    if (get_call_result_type(fcinfo, NULL, &td) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "pcr: inspect must return a record");
    char err[256];
    pcr_policy *p = NULL;
    if (pcr_policy_load((const uint8_t *)VARDATA_ANY(bc), VARSIZE_ANY_EXHDR(bc), &p, err,
                        sizeof err) != PCR_OK)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("pcr: invalid bytecode: %s", err)));
    char from[11], through[11];
    pcr_policy_window(p, from, through);
    Datum v[5];
    bool nulls[5] = {false, false, false, false, false};
    v[0] = CStringGetTextDatum(pcr_policy_id(p));
    v[1] = CStringGetTextDatum(pcr_policy_version(p));
    v[2] = CStringGetTextDatum(pcr_policy_payer(p));
    pcr_policy_free(p);
    v[3] = pg_date_or_null(from, &nulls[3]);
    v[4] = pg_date_or_null(through, &nulls[4]);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(td), v, nulls)));
}
