/* csv.c: CSV in and out for the engine (pcrvm --input csv, --output csv;
 * include/pcr/pcr.h, "CSV"; docs/cli.md, "CSV").
 *
 * Reading: libcsv (RFC 4180, strict mode) splits the input into cells; the
 * header row maps columns to schema fields; each data row is rendered as
 * one JSON object in a reusable buffer, by the fields' types, and decided
 * with pcr_engine_eval, so the record decoder and its messages serve both
 * formats. A row libcsv cannot parse, or with a cell count other than the
 * header's, is decided as an error (engine_fail) and reading resumes after
 * the next line break.
 *
 * Writing: one row per decision, from pcr_engine_decision, quoted where
 * RFC 4180 asks. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <csv.h>

#include "arena.h"
#include "buf.h"
#include "engine.h"
#include "near.h"
#include "pcr/pcr.h"
#include "prog.h"
#include "rec.h"

enum {
    CSV_CHUNK = 1 << 16,
    CSV_MAX_COLUMNS = REC_MAX_KEYS, /* columns in the header */
    CSV_UNKNOWN = -1,               /* a column that names no schema field */
    CSV_MSG = 128,
};

/* The state of one pcr_engine_run_csv. */
typedef struct CsvRun {
    pcr_engine *e;
    const Prog *p;
    const pcr_csv_opts *opts;
    FILE *out;
    pcr_stats *st;
    bool ok;             /* output written so far */
    bool stop;           /* a usage error: read nothing more */
    char *err;           /* the usage error's message */
    size_t errlen;

    bool have_header;
    Buf names;           /* the header's cells, NUL-terminated, one after another */
    size_t *name_off;    /* ncols offsets into names */
    int *field;          /* per column: schema field index, or CSV_UNKNOWN */
    size_t ncols;

    Buf cells;           /* the current row's cells, one after another */
    size_t *cell_off;    /* ncols + 1 offsets into cells (cells beyond ncols only counted) */
    size_t ncells;
    bool too_long;       /* the row's cells exceed REC_MAX_LINE bytes */

    Buf json;            /* the current row as a JSON object */
    uint64_t recno;
} CsvRun;

/* ---- writing ---------------------------------------------------------------- */

/* Writes s[0..n) as one CSV cell, quoted when it holds a comma, a quote, a
 * line break, or spaces at either end (which readers may trim). */
static void put_cell(Buf *b, const char *s, size_t n)
{
    bool quote = n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        buf_put(b, s, n);
        return;
    }
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') buf_putc(b, '"');
        buf_putc(b, s[i]);
    }
    buf_putc(b, '"');
}

static void put_list(Buf *b, const char *const *v, size_t n, const char *sep)
{
    for (size_t i = 0; i < n; i++) {
        if (i) buf_puts(b, sep);
        buf_puts(b, v[i]);
    }
}

/* "prior_auth by eviCore due 2026-02-27T00:00 [imaging]", and for a
 * possible one " missing code, price". */
static void put_obligations(Buf *b, const pcr_obligation *o, size_t n, bool possible)
{
    for (size_t i = 0; i < n; i++) {
        if (i) buf_puts(b, "; ");
        buf_puts(b, pcr_outcome_name(o[i].outcome));
        if (o[i].nreviewers) {
            buf_puts(b, " by ");
            put_list(b, o[i].reviewers, o[i].nreviewers, ", ");
        }
        if (o[i].deadline) buf_printf(b, " due %s", o[i].deadline);
        if (!possible && o[i].timely == 0) buf_puts(b, " (late)");
        buf_puts(b, " [");
        put_list(b, o[i].rules, o[i].nrules, ", ");
        buf_putc(b, ']');
        if (possible && o[i].nmissing) {
            buf_puts(b, " missing ");
            put_list(b, o[i].missing, o[i].nmissing, ", ");
        }
    }
}

/* The "why" of a no_policy decision line, unescaped into b; nothing when
 * the line has none. A raw `,"why":"` occurs only as the key: inside a JSON
 * string every quote is escaped. */
static void put_why(Buf *b, const char *line, size_t len)
{
    static const char key[] = ",\"why\":\"";
    const char *s = NULL;
    for (size_t i = 0; i + sizeof key - 1 <= len && !s; i++)
        if (memcmp(line + i, key, sizeof key - 1) == 0) s = line + i + sizeof key - 1;
    if (!s) return;
    const char *end = line + len;
    while (s < end && *s != '"') {
        if (*s != '\\' || s + 1 >= end) {
            buf_putc(b, *s++);
            continue;
        }
        char c = s[1];
        s += 2;
        switch (c) {
        case 'n': buf_putc(b, '\n'); break;
        case 't': buf_putc(b, '\t'); break;
        case 'r': buf_putc(b, '\r'); break;
        case 'b': buf_putc(b, '\b'); break;
        case 'f': buf_putc(b, '\f'); break;
        case 'u': { /* the writer escapes only control characters this way */
            unsigned v = 0;
            for (int k = 0; k < 4 && s < end; k++, s++) {
                char h = *s;
                unsigned d = h >= 'a' ? h - 'a' + 10u : h >= 'A' ? h - 'A' + 10u : h - '0' + 0u;
                v = v * 16 + d;
            }
            if (v < 0x80) buf_putc(b, (char)v);
            else if (v < 0x800) {
                buf_putc(b, (char)(0xc0 | (v >> 6)));
                buf_putc(b, (char)(0x80 | (v & 0x3f)));
            } else {
                buf_putc(b, (char)(0xe0 | (v >> 12)));
                buf_putc(b, (char)(0x80 | ((v >> 6) & 0x3f)));
                buf_putc(b, (char)(0x80 | (v & 0x3f)));
            }
            break;
        }
        default: buf_putc(b, c); break; /* \" \\ \/ */
        }
    }
}

static const char csv_header[] =
    "id,decision,policy,reviewer,deadline,timely,rules,missing,obligations,possible,why,error\r\n";

pcr_status pcr_csv_write_header(FILE *out)
{
    size_t n = sizeof csv_header - 1;
    return fwrite(csv_header, 1, n, out) == n ? PCR_OK : PCR_ERR_IO;
}

/* Appends the row of e's last decision (whose line is line[0..len)) to b;
 * scratch holds one cell at a time. */
static pcr_status put_row(pcr_engine *e, const char *line, size_t len, Buf *b, Buf *scratch)
{
    pcr_decision d;
    if (pcr_engine_decision(e, &d) != PCR_OK) return PCR_ERR_USAGE;
    buf_reserve(b, 256); /* buf_put of nothing needs a buffer */
    buf_reserve(scratch, 256);
    const char *timely = d.timely == 1 ? "true" : d.timely == 0 ? "false" : "";
    const char *plain[] = {d.id ? d.id : "", pcr_decision_name(d.kind), d.policy ? d.policy : ""};
    for (size_t i = 0; i < 3; i++) {
        put_cell(b, plain[i], strlen(plain[i]));
        buf_putc(b, ',');
    }
    for (int col = 0; col < 9; col++) {
        scratch->n = 0;
        switch (col) {
        case 0: put_list(scratch, d.reviewers, d.nreviewers, "; "); break;
        case 1: buf_puts(scratch, d.deadline ? d.deadline : ""); break;
        case 2: buf_puts(scratch, timely); break;
        case 3: put_list(scratch, d.rules, d.nrules, "; "); break;
        case 4: put_list(scratch, d.missing, d.nmissing, "; "); break;
        case 5: put_obligations(scratch, d.obligations, d.nobligations, false); break;
        case 6: put_obligations(scratch, d.possible, d.npossible, true); break;
        case 7: put_why(scratch, line, len); break;
        default: buf_puts(scratch, d.error ? d.error : ""); break;
        }
        put_cell(b, scratch->p ? scratch->p : "", scratch->n);
        buf_puts(b, col == 8 ? "\r\n" : ",");
    }
    return PCR_OK;
}

pcr_status pcr_csv_write_row(pcr_engine *e, const char *line, size_t len, FILE *out)
{
    Buf b = {0}, scratch = {0};
    pcr_status st = put_row(e, line, len, &b, &scratch);
    if (st == PCR_OK && fwrite(b.p, 1, b.n, out) != b.n) st = PCR_ERR_IO;
    buf_free(&b);
    buf_free(&scratch);
    return st;
}

/* ---- one decision, in the chosen output format ------------------------------- */

typedef struct CsvOut {
    Buf row, scratch; /* reused for every row */
} CsvOut;

static bool emit(CsvRun *r, CsvOut *o, const char *line, size_t len, pcr_decision_kind k)
{
    r->st->records++;
    r->st->by_decision[k]++;
    if (!r->opts->csv_out) return fwrite(line, 1, len, r->out) == len;
    o->row.n = 0;
    if (put_row(r->e, line, len, &o->row, &o->scratch) != PCR_OK) return false;
    return fwrite(o->row.p, 1, o->row.n, r->out) == o->row.n;
}

/* ---- reading ---------------------------------------------------------------- */

static bool is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i == n || s[i] < '0' || s[i] > '9') return false;
    if (s[i] == '0') i++;
    else
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return false;
    }
    return i == n;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* Appends cell s[0..n) of a column of type type (elem: a list's elements)
 * as a JSON value: the text null is null; numbers and booleans that look
 * like them are bare; a list is split on ';' with the spaces around each
 * element dropped, and [] is the empty list; anything else is a string,
 * for the decoder to judge. */
static void put_value(Buf *b, int type, const char *s, size_t n)
{
    if (n == 4 && memcmp(s, "null", 4) == 0) {
        buf_puts(b, "null");
    } else if ((type == VT_INT || type == VT_MONEY) && is_json_number(s, n)) {
        buf_put(b, s, n);
    } else if (type == VT_BOOL && ((n == 4 && memcmp(s, "true", 4) == 0) ||
                                   (n == 5 && memcmp(s, "false", 5) == 0))) {
        buf_put(b, s, n);
    } else if (type == VT_LIST && n == 2 && s[0] == '[' && s[1] == ']') {
        buf_puts(b, "[]");
    } else if (type == VT_LIST) {
        buf_putc(b, '[');
        size_t i = 0;
        for (bool first = true;; first = false) {
            const char *semi = memchr(s + i, ';', n - i);
            size_t j = semi ? (size_t)(semi - s) : n, a = i, z = j;
            while (a < z && is_space(s[a])) a++;
            while (z > a && is_space(s[z - 1])) z--;
            if (!first) buf_putc(b, ',');
            buf_put_json_str(b, s + a, z - a);
            if (!semi) break;
            i = j + 1;
        }
        buf_putc(b, ']');
    } else {
        buf_put_json_str(b, s, n);
    }
}

static const char *col_name(const CsvRun *r, size_t c) { return r->names.p + r->name_off[c]; }

static void usage_error(CsvRun *r, const char *fmt, const char *arg)
{
    snprintf(r->err, r->errlen, fmt, arg);
    r->stop = true;
}

/* Maps the header's columns to fields; a usage error when a column is
 * named twice or id, payer or service_date has no column. */
static void read_header(CsvRun *r)
{
    const Prog *p = r->p;
    size_t n = r->ncells;
    if (n > CSV_MAX_COLUMNS) {
        usage_error(r, "the CSV header has more than %s columns", "256");
        return;
    }
    r->ncols = n;
    r->name_off = xcalloc(n + 1, sizeof *r->name_off);
    r->field = xcalloc(n + 1, sizeof *r->field);
    for (size_t c = 0; c < n; c++) {
        r->name_off[c] = r->names.n;
        size_t len = r->cell_off[c + 1] - r->cell_off[c];
        if (len) buf_put(&r->names, r->cells.p + r->cell_off[c], len);
        buf_putc(&r->names, '\0');
    }
    for (size_t c = 0; c < n && !r->stop; c++) {
        const char *name = col_name(r, c);
        r->field[c] = CSV_UNKNOWN;
        for (uint32_t f = 0; f < p->nfields; f++)
            if (strcmp(p->strs[p->fields[f].name], name) == 0) r->field[c] = (int)f;
        for (size_t k = 0; k < c; k++)
            if (strcmp(col_name(r, k), name) == 0)
                usage_error(r, "the CSV header names column '%s' twice", name);
        if (r->field[c] != CSV_UNKNOWN || !r->opts->notes || r->stop) continue;
        fprintf(r->opts->notes, "column %zu '%s' is not a schema field", c + 1, name);
        const char *near = rec_field_nearest(engine_decoder(r->e), name, strlen(name));
        if (near) fprintf(r->opts->notes, " (did you mean '%s'?)", near);
        fputs("; its cells are counted as unknown keys\n", r->opts->notes);
    }
    const uint32_t need[] = {p->f_id, p->f_payer, p->f_service_date};
    for (size_t i = 0; i < 3 && !r->stop; i++) {
        bool found = false;
        for (size_t c = 0; c < n; c++) found = found || r->field[c] == (int)need[i];
        if (!found)
            usage_error(r, "the CSV header names no '%s' column (the first row names the fields)",
                        p->strs[p->fields[need[i]].name]);
    }
    r->have_header = true;
}

/* True when s[0..n) is valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80                ? 0  /* continuation bytes after c */
                   : c >= 0xc2 && c < 0xe0 ? 1
                   : c >= 0xe0 && c < 0xf0 ? 2
                   : c >= 0xf0 && c < 0xf5 ? 3
                                           : 9; /* invalid lead byte */
        if (k == 9 || i + k >= n) return false;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80) return false;
        if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0) ||
            (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] >= 0x90))
            return false;
        i += k + 1;
    }
    return true;
}

/* Decides the current row as an error with message msg ("record N: " is
 * put in front), its id taken from the id column when it was read. */
static bool fail_row(CsvRun *r, CsvOut *o, const char *msg)
{
    char full[CSV_MSG];
    snprintf(full, sizeof full, "record %llu: %s", (unsigned long long)r->recno, msg);
    const char *id = NULL;
    size_t id_len = 0;
    for (size_t c = 0; c < r->ncols && c < r->ncells; c++)
        if (r->field[c] == (int)r->p->f_id && r->cell_off[c + 1] > r->cell_off[c] &&
            valid_utf8((const unsigned char *)r->cells.p + r->cell_off[c],
                       r->cell_off[c + 1] - r->cell_off[c])) {
            id = r->cells.p + r->cell_off[c];
            id_len = r->cell_off[c + 1] - r->cell_off[c];
        }
    const char *line;
    size_t len;
    engine_fail(r->e, id, id_len, full, &line, &len);
    return emit(r, o, line, len, PCR_DEC_ERROR);
}

static void decide_row(CsvRun *r, CsvOut *o)
{
    r->recno++;
    char msg[CSV_MSG];
    if (r->ncells != r->ncols) {
        snprintf(msg, sizeof msg, "CSV row has %zu cells, the header %zu", r->ncells, r->ncols);
        r->ok = r->ok && fail_row(r, o, msg);
        return;
    }
    if (r->too_long) {
        snprintf(msg, sizeof msg, "CSV row longer than %d bytes", REC_MAX_LINE);
        r->ok = r->ok && fail_row(r, o, msg);
        return;
    }
    Buf *j = &r->json;
    j->n = 0;
    buf_putc(j, '{');
    for (size_t c = 0; c < r->ncols; c++) {
        size_t n = r->cell_off[c + 1] - r->cell_off[c];
        if (n == 0) continue; /* an empty cell: the field is absent */
        if (j->n > 1) buf_putc(j, ',');
        const char *name = col_name(r, c);
        buf_put_json_str(j, name, strlen(name));
        buf_putc(j, ':');
        int type = r->field[c] == CSV_UNKNOWN ? VT_STRING : r->p->fields[r->field[c]].type;
        put_value(j, type, r->cells.p + r->cell_off[c], n);
    }
    buf_putc(j, '}');
    const char *line;
    size_t len;
    pcr_decision_kind k;
    pcr_engine_eval(r->e, j->p, j->n, r->recno, &line, &len, &k);
    r->ok = r->ok && emit(r, o, line, len, k);
}

/* libcsv's callbacks: a cell, the end of a row. */
typedef struct CsvCb {
    CsvRun *r;
    CsvOut *o;
} CsvCb;

static void on_cell(void *s, size_t n, void *data)
{
    CsvRun *r = ((CsvCb *)data)->r;
    if (r->stop) return;
    size_t cap = r->have_header ? r->ncols : CSV_MAX_COLUMNS + 1;
    if (r->ncells < cap) {
        if (r->cells.n + n > REC_MAX_LINE) {
            r->too_long = true;
            n = 0;
        }
        if (n) buf_put(&r->cells, s, n);
        r->cell_off[r->ncells + 1] = r->cells.n;
    }
    r->ncells++;
}

static void reset_row(CsvRun *r)
{
    r->ncells = 0;
    r->cells.n = 0;
    r->too_long = false;
}

static void on_row(int c, void *data)
{
    (void)c;
    CsvCb *cb = data;
    CsvRun *r = cb->r;
    if (r->stop) return;
    if (!r->have_header) read_header(r);
    else decide_row(r, cb->o);
    reset_row(r);
}

/* A row libcsv could not parse: an error decision (a usage error for the
 * header). */
static void bad_row(CsvRun *r, CsvOut *o, const char *what)
{
    if (r->stop) return;
    if (!r->have_header) {
        usage_error(r, "the CSV header row cannot be read: %s", what);
        return;
    }
    r->recno++;
    char msg[CSV_MSG];
    snprintf(msg, sizeof msg, "CSV: %s", what);
    r->ok = r->ok && fail_row(r, o, msg);
    reset_row(r);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { CSV_OPTIONS = CSV_STRICT | CSV_STRICT_FINI };

static void run_csv_input(CsvRun *r, CsvOut *o, FILE *in)
{
    struct csv_parser parser;
    CsvCb cb = {r, o};
    if (csv_init(&parser, CSV_OPTIONS) != 0) {
        r->ok = false;
        return;
    }
    r->cell_off = xcalloc(CSV_MAX_COLUMNS + 2, sizeof *r->cell_off);
    char *chunk = xmalloc(CSV_CHUNK);
    bool first = true, skipping = false;
    size_t got;
    while (r->ok && !r->stop && (got = fread(chunk, 1, CSV_CHUNK, in)) > 0) {
        r->st->bytes += got;
        size_t off = 0;
        if (first && got >= 3 && memcmp(chunk, "\xef\xbb\xbf", 3) == 0) off = 3; /* a BOM */
        first = false;
        while (off < got && r->ok && !r->stop) {
            if (skipping) { /* after a parse error: up to the next line break (LF or CR,
                               as libcsv ends rows) */
                size_t i = off;
                while (i < got && chunk[i] != '\n' && chunk[i] != '\r') i++;
                skipping = i == got;
                off = skipping ? got : i + 1;
                continue;
            }
            size_t used = csv_parse(&parser, chunk + off, got - off, on_cell, on_row, &cb);
            if (used == got - off) break;
            int why = csv_error(&parser);
            bad_row(r, o,
                    why == CSV_EPARSE
                        ? "a stray quote (inside an unquoted cell, or after a closing one)"
                        : csv_strerror(why));
            csv_free(&parser);
            csv_init(&parser, CSV_OPTIONS);
            off += used;
            skipping = true;
        }
    }
    if (ferror(in)) r->ok = false;
    if (r->ok && !r->stop && csv_fini(&parser, on_cell, on_row, &cb) != 0)
        bad_row(r, o, "a quoted cell has no closing quote");
    csv_free(&parser);
    free(chunk);
}

static void run_json_input(CsvRun *r, CsvOut *o, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (r->ok && (n = getline(&line, &cap, in)) > 0) {
        r->st->bytes += (uint64_t)n;
        size_t len = (size_t)n;
        if (line[len - 1] == '\n') len--;
        const char *text;
        size_t tlen;
        pcr_decision_kind k;
        if (len > REC_MAX_LINE) {
            char msg[CSV_MSG];
            snprintf(msg, sizeof msg, "record %llu: line longer than %d bytes",
                     (unsigned long long)(r->recno + 1), REC_MAX_LINE);
            engine_fail(r->e, NULL, 0, msg, &text, &tlen);
            k = PCR_DEC_ERROR;
        } else {
            pcr_engine_eval(r->e, line, len, r->recno + 1, &text, &tlen, &k);
        }
        r->recno++;
        r->ok = emit(r, o, text, tlen, k);
    }
    if (ferror(in)) r->ok = false;
    free(line);
}

pcr_status pcr_engine_run_csv(pcr_engine *e, FILE *in, FILE *out, const pcr_csv_opts *opts,
                              pcr_stats *stats, char *err, size_t errlen)
{
    pcr_stats local = {0};
    pcr_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    if (err && errlen) err[0] = '\0';
    if (!e || !in || !out || !opts || !engine_schema(e)) return PCR_ERR_USAGE;
    if (!opts->csv_in && !opts->csv_out) return pcr_engine_run(e, in, out, stats);
    char dummy[1];
    CsvRun r = {.e = e, .p = engine_schema(e), .opts = opts, .out = out, .st = st, .ok = true,
                .err = err && errlen ? err : dummy, .errlen = err && errlen ? errlen : 1};
    CsvOut o = {0};
    double t0 = now_seconds();
    if (opts->csv_out && pcr_csv_write_header(out) != PCR_OK) r.ok = false;
    if (r.ok && opts->csv_in) run_csv_input(&r, &o, in);
    else if (r.ok) run_json_input(&r, &o, in);
    if (fflush(out) != 0 || ferror(out)) r.ok = false;
    st->seconds = now_seconds() - t0;
    buf_free(&r.names);
    buf_free(&r.cells);
    buf_free(&r.json);
    buf_free(&o.row);
    buf_free(&o.scratch);
    free(r.name_off);
    free(r.field);
    free(r.cell_off);
    return r.stop ? PCR_ERR_USAGE : r.ok ? PCR_OK : PCR_ERR_IO;
}
