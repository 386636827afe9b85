/* fuzz_util.c: helpers shared by the libFuzzer targets (fuzz_util.h). */
#include "fuzz_util.h"

#include <dirent.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "codes.h"
#include "dates.h"
#include "policy.h"
#include "prog.h"

_Noreturn void fz_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz check failed at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    __builtin_trap();
}

char *fz_join(const char *dir, const char *rel)
{
    size_t a = strlen(dir), b = strlen(rel);
    char *s = xmalloc(a + b + 2);
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, rel, b + 1);
    return s;
}

static bool is_repo(const char *dir)
{
    char *probe = fz_join(dir, "policies/std/request.pcr");
    bool ok = access(probe, R_OK) == 0;
    free(probe);
    return ok;
}

char *fz_repo_root(void)
{
    const char *env = getenv("PCR_ROOT");
    if (env && *env) return xstrndup(env, strlen(env));
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        /* <root>/build/fuzz/fuzz_x: drop three components */
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = '\0';
        }
        if (exe[0] && is_repo(exe)) return xstrndup(exe, strlen(exe));
    }
    return xstrndup(".", 1);
}

FILE *fz_null_stream(void)
{
    static FILE *null; /* see fuzz_util.h: a harness keeps its state in statics */
    if (!null) null = fopen("/dev/null", "w");
    if (!null) {
        perror("fuzz: /dev/null");
        abort();
    }
    return null;
}

/* ---- decision lines -------------------------------------------------------- */

/* Checks line (see fz_check_decision) and returns it parsed; the caller
 * json_decref()s it. */
static json_t *parse_decision(const char *line, size_t len, pcr_decision_kind kind)
{
    FZ_CHECK(line != NULL && len > 0, "empty decision line");
    FZ_CHECK(line[len - 1] == '\n', "decision line does not end in a newline: %.*s", (int)len,
             line);
    FZ_CHECK(memchr(line, '\n', len - 1) == NULL, "decision line contains a newline: %.*s",
             (int)len, line);
    json_error_t je;
    json_t *o = json_loadb(line, len - 1, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    FZ_CHECK(o != NULL, "decision line is not valid JSON (%s at byte %d): %.*s", je.text,
             je.position, (int)len, line);
    FZ_CHECK(json_is_object(o), "decision line is not an object: %.*s", (int)len, line);
    json_t *dec = json_object_get(o, "decision");
    FZ_CHECK(json_is_string(dec) && strcmp(json_string_value(dec), pcr_decision_name(kind)) == 0,
             "\"decision\" is not \"%s\": %.*s", pcr_decision_name(kind), (int)len, line);
    json_t *id = json_object_get(o, "id");
    FZ_CHECK(json_is_string(id) || json_is_null(id), "\"id\" is not a string or null: %.*s",
             (int)len, line);
    bool decided = kind != PCR_DEC_ERROR && kind != PCR_DEC_NO_POLICY;
    json_t *pol = json_object_get(o, "policy");
    FZ_CHECK(decided ? json_is_string(pol) : json_is_null(pol), "bad \"policy\" for %s: %.*s",
             pcr_decision_name(kind), (int)len, line);
    if (kind == PCR_DEC_ERROR)
        FZ_CHECK(json_is_string(json_object_get(o, "error")), "error line without \"error\": %.*s",
                 (int)len, line);
    return o;
}

void fz_check_decision(const char *line, size_t len, pcr_decision_kind kind)
{
    json_decref(parse_decision(line, len, kind));
}

/* Evaluates one record and checks its decision (fz_eval_batch). */
static void eval_one(pcr_engine *e, const char *rec, size_t len, uint64_t recno, Buf *out)
{
    const char *line = NULL;
    size_t n = 0;
    pcr_decision_kind k = PCR_DEC_NONE;
    pcr_status st = pcr_engine_eval(e, rec, len, recno, &line, &n, &k);
    FZ_CHECK(st == (k == PCR_DEC_ERROR ? PCR_ERR_RECORD : PCR_OK),
             "pcr_engine_eval returned %d for a %s decision", (int)st, pcr_decision_name(k));
    json_t *dec = parse_decision(line, n, k);
    if (k != PCR_DEC_ERROR) {
        FZ_CHECK(!memchr(rec, '\0', len), "record %llu has a NUL byte, yet was decided",
                 (unsigned long long)recno);
        json_error_t je;
        json_t *in = json_loadb(rec, len, JSON_REJECT_DUPLICATES, &je);
        /* jansson refuses valid numbers it cannot hold (1e999, 2^64): no verdict */
        if (in || json_error_code(&je) != json_error_numeric_overflow) {
            FZ_CHECK(in != NULL, "record %llu decided %s, but jansson rejects it (%s at byte %d): "
                     "%.*s", (unsigned long long)recno, pcr_decision_name(k), je.text, je.position,
                     (int)len, rec);
            FZ_CHECK(json_is_object(in), "record %llu decided, but not an object: %.*s",
                     (unsigned long long)recno, (int)len, rec);
            /* The decoder echoes the key "id" (rec.c), whatever the schema
             * calls its id field: a string, or null when there is none. */
            json_t *want = json_object_get(in, "id"), *got = json_object_get(dec, "id");
            bool same = json_is_null(got);
            if (json_is_string(want))
                same = json_is_string(got) && json_string_length(want) == json_string_length(got) &&
                       memcmp(json_string_value(want), json_string_value(got),
                              json_string_length(got)) == 0;
            FZ_CHECK(same, "record %llu: the decision does not echo the id: %.*s -> %.*s",
                     (unsigned long long)recno, (int)len, rec, (int)n, line);
        }
        json_decref(in);
    }
    json_decref(dec);
    if (out) buf_put(out, line, n);
}

size_t fz_eval_batch(pcr_engine *e, const char *batch, size_t len, Buf *out)
{
    size_t start = 0, records = 0;
    while (start < len) {
        const char *nl = memchr(batch + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - batch) : len;
        eval_one(e, batch + start, end - start, ++records, out);
        start = end + 1;
    }
    return records;
}

/* ---- sample records -------------------------------------------------------- */

/* Members of the standard schema (policies/std/request.pcr) in several
 * combinations; the last is deliberately malformed (price as a string). */
static const char *const std_samples[] = {
    "\"code\":\"70551\",\"setting\":\"outpatient\",\"network\":\"in\",\"diagnoses\":[\"C50.911\","
    "\"Z68.41\"],\"member_age\":44,\"price\":1500.00,\"state\":\"IL\",\"plan\":\"commercial\"",
    "\"code\":\"J9271\",\"code_system\":\"HCPCS\",\"setting\":\"office\",\"units\":4,"
    "\"emergent\":true,\"medicare_primary\":true,\"diagnoses\":[]",
    "\"code\":\"0120\",\"code_system\":\"REV\",\"setting\":\"inpatient\","
    "\"admission\":\"elective\","
    "\"stay_hours\":72,\"admitted_from_er\":true,\"delivery\":\"cesarean\"",
    "\"code\":\"97110\",\"setting\":\"office\",\"visit_number\":13,\"network\":\"out\","
    "\"clinical_trial\":false,\"medicare_exhausted\":true,\"member_age\":70",
    "\"code\":\"E0601\",\"setting\":\"home\",\"price\":\"12\"",
};

typedef struct Gen {
    const Prog *p;
    Buf *b;
    uint32_t serial; /* for distinct ids */
    int32_t lo, hi;  /* days the decoder accepts (years 1900..2999) */
} Gen;

static void put_pstr(Gen *g, uint32_t s)
{
    buf_put_json_str(g->b, g->p->strs[s], g->p->strlens[s]);
}

static void put_key(Gen *g, uint32_t f, bool *first)
{
    if (!*first) buf_putc(g->b, ',');
    *first = false;
    put_pstr(g, g->p->fields[f].name);
    buf_putc(g->b, ':');
}

static void put_day(Gen *g, int32_t day)
{
    char s[16];
    date_format(day, s);
    buf_printf(g->b, "\"%s\"", s);
}

static void put_datetime(Gen *g, int64_t secs)
{
    char s[24];
    datetime_format(secs, s);
    buf_printf(g->b, "\"%s\"", s);
}

static int64_t pick_const(const Prog *p, uint32_t k, int64_t dflt)
{
    return p->nconsts ? p->consts[k % p->nconsts] : dflt;
}

static void put_code(Gen *g, CodeKey k)
{
    char s[16];
    size_t n = code_key_format(k, s);
    buf_put_json_str(g->b, s, n);
}

static CodeKey pick_code(const Prog *p, uint32_t k, bool hi)
{
    if (!p->nranges) return 0;
    const CodeRange *r = &p->ranges[k % p->nranges];
    return hi ? r->hi : r->lo;
}

static void put_string(Gen *g, uint32_t k)
{
    if (g->p->nstrs) put_pstr(g, k % g->p->nstrs);
    else buf_puts(g->b, "\"x\"");
}

/* The value of field f, variant v (0 or 1), for a record on day. */
static void put_value(Gen *g, uint32_t f, unsigned v, int32_t day, const int *tag_member)
{
    const Prog *p = g->p;
    const PField *pf = &p->fields[f];
    switch ((ValType)pf->type) {
    case VT_BOOL: buf_puts(g->b, v ? "false" : "true"); break;
    case VT_INT: { /* a constant, or the next int past it (before it at the largest) */
        int64_t c = pick_const(p, f + 7 * v, 1);
        buf_printf(g->b, "%lld", (long long)(v && c == INT64_MAX ? c - 1 : c + (int64_t)v));
        break;
    }
    case VT_MONEY: {
        int64_t c = pick_const(p, f + 5 * v, 150000);
        uint64_t m = c < 0 ? 0 - (uint64_t)c : (uint64_t)c;
        buf_printf(g->b, "%s%llu.%02llu", c < 0 ? "-" : "", (unsigned long long)(m / 100),
                   (unsigned long long)(m % 100));
        break;
    }
    case VT_STRING: put_string(g, f * 3 + v); break;
    case VT_DATE: {
        int64_t c = pick_const(p, f + 3 * v, day);
        put_day(g, c >= g->lo && c <= g->hi ? (int32_t)c : day - (int32_t)v);
        break;
    }
    case VT_DATETIME: {
        int64_t c = pick_const(p, f + 3 * v, 0);
        bool ok = c >= (int64_t)g->lo * SECONDS_PER_DAY &&
                  c < ((int64_t)g->hi + 1) * SECONDS_PER_DAY;
        put_datetime(g, ok ? c : ((int64_t)day - 3 * (int64_t)v) * SECONDS_PER_DAY + 36000);
        break;
    }
    case VT_ENUM: {
        uint32_t m = tag_member[f] >= 0 ? (uint32_t)tag_member[f] : v ? pf->enum_count - 1 : 0;
        put_pstr(g, p->refs[pf->enum_first + m]);
        break;
    }
    case VT_CODE: put_code(g, pick_code(p, f + v, v)); break;
    case VT_LIST:
        buf_putc(g->b, '[');
        for (uint32_t i = 0; i < 3; i++) {
            if (i) buf_putc(g->b, ',');
            if (pf->elem == VT_CODE) put_code(g, pick_code(p, f + v + i, i == 1));
            else put_string(g, f + 11 * v + i);
        }
        buf_putc(g->b, ']');
        break;
    }
}

/* Opens a record with the fields the engine needs (id, payer and
 * service_date, each once even if the schema shares them); *written gets
 * their bits. */
static void begin_record(Gen *g, int32_t day, uint64_t *written, bool *first)
{
    const Prog *p = g->p;
    *written = 0;
    *first = true;
    buf_putc(g->b, '{');
    put_key(g, p->f_id, first);
    buf_printf(g->b, "\"s%u\"", ++g->serial);
    *written |= 1ull << p->f_id;
    if (!(*written >> p->f_payer & 1)) {
        put_key(g, p->f_payer, first);
        put_pstr(g, p->payer);
        *written |= 1ull << p->f_payer;
    }
    if (!(*written >> p->f_service_date & 1)) {
        put_key(g, p->f_service_date, first);
        put_day(g, day);
        *written |= 1ull << p->f_service_date;
    }
}

/* A record with every field of the schema set, variant v. */
static void full_record(Gen *g, int32_t day, unsigned v)
{
    const Prog *p = g->p;
    int tag_member[PCR_MAX_FIELDS];
    for (uint32_t f = 0; f < PCR_MAX_FIELDS; f++) tag_member[f] = -1;
    /* a code field's system field names the system of the code chosen */
    for (uint32_t f = 0; f < p->nfields; f++) {
        const PField *pf = &p->fields[f];
        if (pf->type != VT_CODE || pf->tag_field >= p->nfields) continue;
        const PField *tf = &p->fields[pf->tag_field];
        const char *sys = code_system_name(code_key_system(pick_code(p, f + v, v)));
        for (uint32_t m = 0; sys && tf->type == VT_ENUM && m < tf->enum_count; m++)
            if (strcmp(p->strs[p->refs[tf->enum_first + m]], sys) == 0)
                tag_member[pf->tag_field] = (int)m;
    }
    uint64_t written;
    bool first;
    begin_record(g, day, &written, &first);
    for (uint32_t f = 0; f < p->nfields; f++) {
        if (written >> f & 1) continue;
        if (p->fields[f].type == VT_ENUM && p->fields[f].enum_count == 0) continue;
        put_key(g, f, &first);
        put_value(g, f, v, day, tag_member);
    }
    buf_puts(g->b, "}\n");
}

/* Up to 3 service dates: the policy's first day, and the first days of
 * rules that start later (and the decoder can read). */
static size_t pick_days(const Gen *g, int32_t days[3])
{
    const Prog *p = g->p;
    int32_t lo = p->eff_from < g->lo ? g->lo : p->eff_from;
    int32_t hi = p->eff_through > g->hi ? g->hi : p->eff_through;
    if (lo > hi) {
        days[0] = lo > g->hi ? g->hi : lo; /* outside the window: no_policy */
        return 1;
    }
    size_t n = 0;
    days[n++] = lo;
    for (uint32_t r = 0; r < p->nrules && n < 3; r++) {
        int32_t d = p->rules[r].eff_from;
        if (d > lo && d <= hi && d != days[n - 1]) days[n++] = d;
    }
    if (n < 3 && hi - lo >= 45) days[n++] = lo + 45;
    return n;
}

void fz_sample_records(const pcr_policy *pol, Buf *out)
{
    Gen g = {pol->prog, out, 0, date_from_ymd(DATE_MIN_YEAR, 1, 1),
             date_from_ymd(DATE_MAX_YEAR, 12, 31)};
    const Prog *p = g.p;
    int32_t days[3];
    size_t ndays = pick_days(&g, days);
    for (size_t i = 0; i < ndays; i++) {
        int32_t day = days[i];
        for (size_t s = 0; s < sizeof std_samples / sizeof std_samples[0]; s++) {
            uint64_t written;
            bool first;
            begin_record(&g, day, &written, &first);
            if (s < 2 && p->f_requested_at != PIDX_NONE && !(written >> p->f_requested_at & 1)) {
                put_key(&g, p->f_requested_at, &first);
                put_datetime(&g, ((int64_t)day - 3 + 4 * (int64_t)s) * SECONDS_PER_DAY + 36000);
            }
            buf_printf(out, ",%s}\n", std_samples[s]);
        }
        full_record(&g, day, 0);
        full_record(&g, day, 1);
        uint64_t written;
        bool first;
        begin_record(&g, day, &written, &first); /* only what is required */
        buf_puts(out, "}\n");
    }
}

/* ---- the payers' engine ---------------------------------------------------- */

static void fz_add_policy(const char *who, pcr_engine *e, const char *path, const char *const *inc)
{
    pcr_compile_opts opts = {inc, 1, false, NULL};
    pcr_policy *p = NULL;
    pcr_diags *d = NULL;
    char err[512] = "";
    if (pcr_compile_file(path, &opts, &p, &d) != PCR_OK) {
        pcr_diags_print(d, stderr, false);
        fprintf(stderr, "%s: cannot compile %s\n", who, path);
        exit(2);
    }
    pcr_diags_free(d);
    if (pcr_engine_add(e, p, err, sizeof err) != PCR_OK) {
        fprintf(stderr, "%s: %s: %s\n", who, path, err);
        exit(2);
    }
}

static int fz_by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

pcr_engine *fz_payer_engine(const char *who)
{
    char *root = fz_repo_root();
    char *dir = fz_join(root, "policies");
    const char *inc[1] = {dir};
    pcr_engine *e = pcr_engine_new();
    DIR *dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "%s: cannot open %s (set PCR_ROOT)\n", who, dir);
        exit(2);
    }
    char *names[64];
    size_t n = 0;
    struct dirent *ent;
    while ((ent = readdir(dp)) && n < 64) {
        size_t len = strlen(ent->d_name);
        if (len > 4 && strcmp(ent->d_name + len - 4, ".pcr") == 0)
            names[n++] = fz_join(dir, ent->d_name);
    }
    closedir(dp);
    qsort(names, n, sizeof *names, fz_by_name);
    for (size_t i = 0; i < n; i++) {
        fz_add_policy(who, e, names[i], inc);
        free(names[i]);
    }
    char *demo = fz_join(dir, "examples/demo.pcr");
    fz_add_policy(who, e, demo, inc);
    fprintf(stderr, "%s: %zu policies from %s\n", who, n + 1, dir);
    free(demo);
    free(dir);
    free(root);
    return e;
}
