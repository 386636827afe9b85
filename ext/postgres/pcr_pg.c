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
 * jsonb in, jsonb out. pcr.decide gives the library the request's
 * top-level members straight from jsonb's binary layout, in one call
 * (pgtext_feed, pcr.h "Records fed member by member"), each converted as
 * in a JSON line;
 * a request that route does not take exactly (any malformed one, an
 * unknown key, ...) is written as compact JSON text from the same layout
 * (pcr_pg_text.c) and given to the library's text decoder, so a request
 * means in PostgreSQL exactly what it means to pcrvm, messages included
 * (pcr.direct chooses the route, for tests); the decision line comes back
 * as jsonb written in jsonb's binary layout directly, or copied from a
 * cached decision that differed only in its id and digits (pcr_pg_line.c), not
 * through jsonb_in. docs/postgres.md, "jsonb and text", has the
 * measurements behind both.
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
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "pcr/pcr.h"
#include "pcr_pg.h"

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

/* pcr.check_output (a setting for tests, off by default): every decision
 * built without jsonb_in is compared with what jsonb_in makes of the same
 * line, byte for byte, and a difference raises an internal error. A GUC's
 * variable is static by PostgreSQL's design. */
static bool pg_check_output = false;

/* pcr.direct: how pcr.decide(jsonb) reads the request. on (the default):
 * its members given to the engine (pgtext_feed), its text only when
 * the engine does not take it; off: always its text; only (for tests): a
 * request the direct route does not take gives NULL, so a test counts
 * them and compares the rest with the text route's decisions. */
typedef enum PgDirect { PG_DIRECT_OFF, PG_DIRECT_ON, PG_DIRECT_ONLY } PgDirect;

static const struct config_enum_entry pg_direct_options[] = {
    {"off", PG_DIRECT_OFF, false},
    {"on", PG_DIRECT_ON, false},
    {"only", PG_DIRECT_ONLY, false},
    {NULL, 0, false},
};

static int pg_direct = PG_DIRECT_ON;

void _PG_init(void);

void _PG_init(void)
{
    DefineCustomBoolVariable("pcr.check_output",
                             "Compares every decision's jsonb with jsonb_in's (for tests).", NULL,
                             &pg_check_output, false, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomEnumVariable("pcr.direct",
                             "How pcr.decide(jsonb) reads a request: on, off (its text), only (for tests).",
                             NULL, &pg_direct, PG_DIRECT_ON, pg_direct_options, PGC_USERSET, 0, NULL,
                             NULL, NULL);
    MarkGUCPrefixReserved("pcr");
}

/* What one call site keeps for the rest of its query (in fn_mcxt). */
typedef struct PgCall {
    LocalTransactionId lxid; /* the transaction and command in which this */
    CommandId cid;           /* call site last checked the fingerprint */
    uint64 epoch;       /* pg_cache.epoch when engine was taken */
    pcr_engine *engine;
    bytea *names;       /* the policies argument engine was chosen for (copy) */
    StringInfoData text; /* the request as JSON text, reused (in fn_mcxt) */
    PgLineScan scan;        /* for reading decision lines (in fn_mcxt) */
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
    /* jsonb's strings in a UTF8 database are UTF-8 without NUL (the
     * server checks text as it comes in, RFC 3629 as the library does, and
     * jsonb refuses \u0000): the library need not check them again. */
    pcr_engine_feed_utf8_checked(e, true);
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

/* ---- deciding -------------------------------------------------------------- */

/* The decision object of the decision line[0..len) of kind; strict: an
 * error decision raises instead. */
static Datum pg_decision(FunctionCallInfo fcinfo, pcr_engine *e, const char *line, size_t len,
                         pcr_decision_kind kind, bool strict)
{
    PgCall *c = fcinfo->flinfo->fn_extra;
    if (strict && kind == PCR_DEC_ERROR) {
        pcr_decision d;
        const char *msg = pcr_engine_decision(e, &d) == PCR_OK && d.error ? d.error : "malformed";
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("pcr: malformed request: %s", msg)));
    }
    return pgline_to_jsonb(&c->scan, fcinfo->flinfo->fn_mcxt, line, len, pg_check_output);
}

/* Decides the JSON text json (len bytes) and returns the decision object;
 * strict: a malformed request raises instead. */
static Datum pg_decide_json(FunctionCallInfo fcinfo, pcr_engine *e, const char *json, size_t len,
                            bool strict)
{
    const char *line;
    size_t line_len;
    pcr_decision_kind kind;
    /* One call is one record: error messages say "record 1". */
    pcr_engine_eval(e, json, len, 1, &line, &line_len, &kind);
    return pg_decision(fcinfo, e, line, line_len, kind, strict);
}

/* Cache lines asked for below a row (pg_prefetch_next_row): a generated
 * request's tuple takes about 6. */
#define PG_NEXT_ROW_LINES 8

/* A sequential scan reads a heap page's tuples from its end down (they are
 * placed from the end up), so the next row most likely lies just below the
 * bytes at p: ask for them now, so that they arrive while this request is
 * decided, not when the next call first reads them. Only a hint: a
 * prefetch of memory that is not there does nothing. */
static inline void pg_prefetch_next_row(const void *p)
{
    for (uintptr_t k = 1; k <= PG_NEXT_ROW_LINES; k++)
        __builtin_prefetch((const void *)((uintptr_t)p - 64 * k));
}

static Datum pg_decide_common(FunctionCallInfo fcinfo, bool strict)
{
    pg_prefetch_next_row(DatumGetPointer(PG_GETARG_DATUM(0)));
    Jsonb *jb = PG_GETARG_JSONB_P(0);
    pcr_engine *e = pg_call_engine(fcinfo, PG_NARGS() > 1 ? 1 : -1);
    PgCall *c = fcinfo->flinfo->fn_extra;
    if (!c->text.data) {
        MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
        initStringInfo(&c->text);
        MemoryContextSwitchTo(old);
    }
    Datum d;
    const char *line;
    size_t line_len;
    pcr_decision_kind kind;
    /* The direct route takes only requests it reads exactly as the text
     * route would (no malformed one): every other gets today's text route,
     * and its message. */
    if (pg_direct != PG_DIRECT_OFF && pgtext_feed(jb, e, &c->text) &&
        pcr_engine_feed_eval(e, &line, &line_len, &kind)) {
        d = pg_decision(fcinfo, e, line, line_len, kind, strict);
    } else if (pg_direct == PG_DIRECT_ONLY) {
        PG_RETURN_NULL();
    } else {
        pgtext_from_jsonb(jb, &c->text);
        d = pg_decide_json(fcinfo, e, c->text.data, (size_t)c->text.len, strict);
    }
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
    PG_RETURN_DATUM(pg_decide_json(fcinfo, e, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), false));
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
