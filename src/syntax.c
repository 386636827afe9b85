/* syntax.c: the front end's C half.
 *
 * grammar/lexer.l and grammar/parser.y only recognize; this file does the
 * rest:
 *
 *   scanner support   positions and spans, literal decoding and checking
 *                     (E002 E003 E005-E009 E011 E012), E010 for long runs of
 *                     `not` and `(`.
 *   syntax errors     wording of E001 for the parser.
 *   constructors      one per grammar action; they build the node shapes of
 *                     ast.h and reject over-deep conditions (E010).
 *   the driver        parse_file scans tokens and pushes them into the
 *                     (push) parser, keeping a stack of open brackets.
 *
 * Unclosed brackets. When a closer that matches an outer bracket, a
 * declaration keyword (which only begins a declaration) or the end of the
 * file shows that brackets were left open, the driver reports E004 once,
 * for the innermost ("expected `}` to close `{` opened at 3:14"), and
 * pushes the missing closers before the token; the parse goes on as if
 * they had been written and errors at them are not reported. Before a
 * clause keyword the parser cannot take, it does the same if the parser
 * would take the innermost closer. A bracket that the parser's own error
 * recovery gave up (a syntax error inside it, and its closer no longer
 * expected) is dropped without a word. More than PARSE_MAX_OPEN open
 * brackets, or PARSE_MAX_NEST `not`s and `(`s in a row, is E010 and ends
 * the parse, as does reaching PARSE_MAX_ERRORS errors.
 *
 * Every diagnostic carries a span. */
#include "syntax.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dates.h"
#include "parser.h"
#define YYSTYPE PCR_YYSTYPE
#define YYLTYPE PCR_YYLTYPE
#include "lexer.h"

/* ==== diagnostics ====================================================== */

/* Reports an error unless the parse has given up; returns the diagnostic
 * (NULL when suppressed). The PARSE_MAX_ERRORS-th error ends the parse. */
static pcr_diag *report(Parser *p, const char *code, Loc at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static pcr_diag *report(Parser *p, const char *code, Loc at, const char *fmt, ...)
{
    if (p->fatal) return NULL;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (++p->nerrors >= PARSE_MAX_ERRORS) p->fatal = true;
    return diag_error(p->d, code, at, "%s", msg);
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 when the
 * bytes there are not one (overlong forms and surrogates included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0; /* overlong */
        if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90; /* overlong */
        if (c == 0xF4) hi = 0x8F; /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

/* Code point of a valid sequence of len bytes. */
static unsigned utf8_decode(const unsigned char *s, size_t len)
{
    static const unsigned mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    unsigned cp = s[0] & mask[len];
    for (size_t i = 1; i < len; i++) cp = cp << 6 | (s[i] & 0x3F);
    return cp;
}

/* Renders source bytes for a message: printable ASCII and valid UTF-8 as
 * they are, anything else as \xNN; long text is cut with "...". */
static const char *show(char *buf, size_t cap, const char *s, size_t n)
{
    enum { SHOW_MAX = 40 };
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (i >= SHOW_MAX || o + 8 >= cap) {
            if (o + 4 <= cap) memcpy(buf + o, "...", 3), o += 3;
            break;
        }
        size_t len = utf8_len(u + i, n - i);
        if (len == 1 && u[i] >= 0x20 && u[i] < 0x7F) {
            buf[o++] = (char)u[i];
        } else if (len > 1) {
            memcpy(buf + o, s + i, len);
            o += len;
        } else {
            len = 1;
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02X", u[i]);
        }
        i += len;
    }
    buf[o] = '\0';
    return buf;
}

/* The span of bytes [i, i+n) of the current token; the token must lie on
 * one line (strings, comments and runs of invalid bytes do). */
static Loc tok_part(const Parser *p, size_t i, size_t n)
{
    Loc l = p->tok_loc;
    l.col += (uint32_t)i;
    l.end_line = l.line;
    l.end_col = l.col + (uint32_t)(n ? n - 1 : 0);
    return l;
}

static const char *tok_text(const Parser *p) { return p->src + p->tok_off; }

/* ==== scanner support ================================================== */

void parse_lex_advance(Parser *p, Loc *loc, size_t n)
{
    const char *s = p->src + p->off, *end = s + n, *q = s, *nl;
    Loc l = {p->file, p->line, p->col, p->line, p->col};
    while ((nl = memchr(q, '\n', (size_t)(end - q))) != NULL) {
        p->line++;
        q = nl + 1;
    }
    if (q == s) p->col += (uint32_t)n;
    else p->col = (uint32_t)(end - q) + 1;
    /* The last byte's position; tokens never end in a newline (only
     * skipped whitespace does, and its span is unused). */
    if (n && end[-1] != '\n') {
        l.end_line = p->line;
        l.end_col = p->col - 1;
    }
    p->tok_off = p->off;
    p->tok_len = n;
    p->tok_loc = l;
    p->off += n;
    *loc = l;
}

void parse_lex_rewind(Parser *p)
{
    p->off = p->tok_off;
    p->line = p->tok_loc.line;
    p->col = p->tok_loc.col;
}

Slice parse_lex_slice(const Parser *p) { return (Slice){tok_text(p), (uint32_t)p->tok_len}; }

bool parse_lex_bom(const Parser *p) { return p->tok_off == 0; }

/* E010 (once): the parse stops; the scanner reports end of file from now. */
static int too_deep(Parser *p, Loc at)
{
    if (!p->fatal) report(p, "E010", at, "nested too deeply (more than %d levels)", PARSE_MAX_NEST);
    p->fatal = true;
    return T_YYEOF;
}

/* E010 for the bracket stack, which also holds the enclosing blocks. */
static void too_many_open(Parser *p, Loc at)
{
    if (!p->fatal)
        report(p, "E010", at, "brackets nested too deeply (more than %d open)", PARSE_MAX_OPEN);
    p->fatal = true;
}

int parse_lex_token(Parser *p, int tok, Loc *loc)
{
    if (p->fatal) return T_YYEOF;
    /* Each `not` or `(` in a row is a level the parser must stack before
     * any of them can be reduced. */
    if (tok == T_NOT || tok == T_LPAREN) {
        if (++p->prefix_run > PARSE_MAX_NEST) return too_deep(p, *loc);
    } else {
        p->prefix_run = 0;
    }
    p->prev_tok = tok;
    p->first_on_line = p->last_loc.end_line != loc->line;
    p->last_loc = *loc;
    return tok;
}

int parse_lex_eof(Parser *p, Loc *loc)
{
    Loc at = {p->file, 1, 1, 1, 1};
    if (p->last_loc.line) {
        at.line = at.end_line = p->last_loc.end_line;
        at.col = at.end_col = p->last_loc.end_col + 1;
    }
    *loc = at;
    return T_YYEOF;
}

Node *parse_lex_ident(Parser *p)
{
    if (p->tok_len > PARSE_MAX_IDENT)
        report(p, "E011", p->tok_loc, "identifier longer than %d bytes (%zu)", PARSE_MAX_IDENT,
               p->tok_len);
    Node *n = ast_new(p->arena, N_NAME, p->tok_loc);
    n->name = arena_strndup(p->arena, tok_text(p), p->tok_len);
    return n;
}

Node *parse_lex_code(Parser *p)
{
    bool prefix = tok_text(p)[p->tok_len - 1] == '*';
    Node *n = ast_new(p->arena, prefix ? N_CODE_PREFIX : N_CODE, p->tok_loc);
    n->str = arena_strndup(p->arena, tok_text(p), p->tok_len);
    return n;
}

enum { MAX_DIGITS = 18 }; /* any 18 digits fit an int64_t */

/* Value of n decimal digits (n <= MAX_DIGITS). */
static int64_t digits_value(const char *s, size_t n)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v;
}

Node *parse_lex_int(Parser *p)
{
    char buf[64];
    if (p->tok_len > MAX_DIGITS) {
        report(p, "E007", p->tok_loc, "integer `%s` is too large (at most %d digits)",
               show(buf, sizeof buf, tok_text(p), p->tok_len), MAX_DIGITS);
        return ast_new(p->arena, N_ERROR, p->tok_loc);
    }
    Node *n = ast_new(p->arena, N_INT, p->tok_loc);
    n->str = arena_strndup(p->arena, tok_text(p), p->tok_len);
    n->ival = digits_value(tok_text(p), p->tok_len);
    return n;
}

Node *parse_lex_decimal(Parser *p)
{
    char buf[64];
    const char *s = tok_text(p), *dot = memchr(s, '.', p->tok_len);
    size_t whole = (size_t)(dot - s), frac = p->tok_len - whole - 1;
    if (whole > MAX_DIGITS || frac > MAX_DIGITS) {
        report(p, "E007", p->tok_loc, "number `%s` is too large (at most %d digits on each side "
               "of the point)", show(buf, sizeof buf, s, p->tok_len), MAX_DIGITS);
        return ast_new(p->arena, N_ERROR, p->tok_loc);
    }
    Node *n = ast_new(p->arena, N_DECIMAL, p->tok_loc);
    n->str = arena_strndup(p->arena, s, p->tok_len);
    return n;
}

/* Checks and converts "$1,000.00" (the scanner's pattern guarantees only
 * digits, commas between digit groups and at most one point). */
static const char *money_cents(const char *s, size_t n, int64_t *cents)
{
    const char *end = s + n, *q = s + 1;
    if (q == end) return "expected an amount after `$`, such as `$1,000.00`";
    int64_t dollars = 0;
    size_t group = 0, ngroups = 1, first = 0;
    for (; q < end && *q != '.'; q++) {
        if (*q == ',') {
            if (ngroups == 1) first = group;
            else if (group != 3) return "commas must separate groups of three digits";
            ngroups++;
            group = 0;
            continue;
        }
        if (dollars > (INT64_MAX / 100 - 9) / 10) return "the amount is too large";
        dollars = dollars * 10 + (*q - '0');
        group++;
    }
    if (ngroups > 1 && (first > 3 || group != 3))
        return "commas must separate groups of three digits";
    int64_t frac = 0;
    if (q < end) {
        size_t k = (size_t)(end - q - 1);
        if (k == 0) return "expected digits after the decimal point";
        if (k > 2) return "at most two decimal places";
        frac = digits_value(q + 1, k) * (k == 1 ? 10 : 1);
    }
    *cents = dollars * 100 + frac;
    return NULL;
}

Node *parse_lex_money(Parser *p)
{
    char buf[64];
    int64_t cents = 0;
    const char *why = money_cents(tok_text(p), p->tok_len, &cents);
    if (why) {
        report(p, "E006", p->tok_loc, "bad money literal `%s`: %s",
               show(buf, sizeof buf, tok_text(p), p->tok_len), why);
        return ast_new(p->arena, N_ERROR, p->tok_loc);
    }
    Node *n = ast_new(p->arena, N_MONEY, p->tok_loc);
    n->str = arena_strndup(p->arena, tok_text(p), p->tok_len);
    n->ival = cents;
    return n;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Appends code point cp as UTF-8; returns the bytes written. */
static size_t utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* Decodes one escape at body[i] == '\\'; returns the bytes consumed.
 * *bad is set (and nothing appended) when the escape is invalid. */
static size_t decode_escape(const char *body, size_t n, size_t i, char *out, size_t *o,
                            const char **bad)
{
    if (i + 1 >= n) return 1; /* a backslash before the end of an unterminated string */
    switch (body[i + 1]) {
    case '"': out[(*o)++] = '"'; return 2;
    case '\\': out[(*o)++] = '\\'; return 2;
    case 'n': out[(*o)++] = '\n'; return 2;
    case 't': out[(*o)++] = '\t'; return 2;
    case 'u': break;
    default: {
        size_t len = utf8_len((const unsigned char *)body + i + 1, n - i - 1);
        *bad = "unknown escape (use \\\", \\\\, \\n, \\t or \\uXXXX)";
        return 1 + (len ? len : 1);
    }
    }
    unsigned cp = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = i + 2 + k < n ? hex_value(body[i + 2 + k]) : -1;
        if (h < 0) {
            *bad = "expected four hex digits after \\u";
            return 2 + k;
        }
        cp = cp << 4 | (unsigned)h;
    }
    if (cp == 0) *bad = "\\u0000 is not allowed in a string";
    else if (cp >= 0xD800 && cp <= 0xDFFF) *bad = "a surrogate is not a character";
    else *o += utf8_put(out + *o, cp);
    return 6;
}

Node *parse_lex_string(Parser *p, bool terminated)
{
    const char *body = tok_text(p) + 1;
    size_t n = p->tok_len - 1 - (terminated ? 1 : 0);
    /* Decoding never grows the text: \uXXXX is 6 bytes for at most 3. */
    char *out = arena_alloc(p->arena, n + 1), buf[64];
    size_t o = 0;
    bool said_escape = false, said_ctrl = false, said_utf8 = false;
    if (!terminated) {
        report(p, "E002", p->tok_loc, "unterminated string (strings end on the line they start)");
        /* The parser gets an error token for it. */
        p->err_tok = p->tok_off + 1;
        p->err_loc = p->tok_loc;
        p->nsyntax++;
    }
    for (size_t i = 0; i < n;) {
        const unsigned char c = (unsigned char)body[i];
        if (c == '\\') {
            const char *bad = NULL;
            size_t used = decode_escape(body, n, i, out, &o, &bad);
            if (bad && !said_escape) {
                said_escape = true;
                report(p, "E008", tok_part(p, i + 1, used), "bad escape `%s` in string: %s",
                       show(buf, sizeof buf, body + i, used), bad);
            }
            i += used;
        } else if (c < 0x20 ? c != '\t' : c == 0x7F) {
            if (!said_ctrl) {
                said_ctrl = true;
                report(p, "E003", tok_part(p, i + 1, 1), "invalid character \\x%02X in string", c);
            }
            i++;
        } else if (c >= 0x80) {
            size_t len = utf8_len((const unsigned char *)body + i, n - i);
            if (len) {
                memcpy(out + o, body + i, len);
                o += len;
                i += len;
            } else {
                if (!said_utf8) {
                    said_utf8 = true;
                    report(p, "E009", tok_part(p, i + 1, 1), "invalid UTF-8 in string (byte \\x%02X)",
                           c);
                }
                i++;
            }
        } else {
            out[o++] = (char)c;
            i++;
        }
    }
    out[o] = '\0';
    if (o > PARSE_MAX_STRING)
        report(p, "E012", p->tok_loc, "string literal longer than %d bytes (%zu)", PARSE_MAX_STRING,
               o);
    Node *s = ast_new(p->arena, N_STRING, p->tok_loc);
    s->str = out;
    return s;
}

/* Why a YYYY-MM-DD date is no calendar day. */
static const char *date_why(const char *s)
{
    int y = (int)digits_value(s, 4);
    return y < DATE_MIN_YEAR || y > DATE_MAX_YEAR ? "is outside the years 1900-2999"
                                                   : "is not a calendar date";
}

Node *parse_lex_date(Parser *p)
{
    char buf[64];
    int32_t days = 0;
    if (!date_parse(tok_text(p), p->tok_len, &days)) {
        report(p, "E005", p->tok_loc, "`%s` %s", show(buf, sizeof buf, tok_text(p), p->tok_len),
               date_why(tok_text(p)));
        return ast_new(p->arena, N_ERROR, p->tok_loc);
    }
    Node *n = ast_new(p->arena, N_DATE, p->tok_loc);
    n->ival = days;
    return n;
}

Node *parse_lex_datetime(Parser *p)
{
    char buf[64];
    int32_t days;
    int64_t secs = 0;
    if (!datetime_parse(tok_text(p), p->tok_len, &secs, NULL)) {
        bool day_ok = date_parse(tok_text(p), 10, &days);
        report(p, "E005", p->tok_loc, "`%s` %s", show(buf, sizeof buf, tok_text(p), p->tok_len),
               day_ok ? "is not a valid time of day" : date_why(tok_text(p)));
        return ast_new(p->arena, N_ERROR, p->tok_loc);
    }
    Node *n = ast_new(p->arena, N_DATETIME, p->tok_loc);
    n->ival = secs;
    return n;
}

/* A date in another notation (the lexer's FOREIGNDATE: three numbers
 * separated by one kind of `/` or `.`), read the way a US payer's document
 * writes it: 03/15/2016 month first (day first when the first number
 * cannot be a month), 2016/03/15 year first, 15.03.2016 day first. Writes
 * the ISO form to iso (11 bytes) and returns true when that reading is a
 * real day. */
static bool foreign_date_iso(const char *s, size_t n, char iso[11])
{
    long v[3] = {0, 0, 0};
    size_t w[3] = {0, 0, 0}, k = 0;
    char sep = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            if (w[k] >= 4) return false;
            v[k] = v[k] * 10 + (s[i] - '0');
            w[k]++;
        } else if ((s[i] == '/' || s[i] == '.') && k < 2 && (!sep || sep == s[i])) {
            sep = s[i];
            k++;
        } else {
            return false;
        }
    }
    if (k != 2) return false;
    /* Positions of year, month and day among the three numbers. */
    int yi, mi, di;
    if (w[0] == 4) { /* 2016/03/15 */
        yi = 0, mi = 1, di = 2;
    } else if (w[2] != 4) { /* 3/4/16: which century? */
        return false;
    } else if (sep == '/' && v[0] <= 12) { /* 03/15/2016 */
        yi = 2, mi = 0, di = 1;
    } else { /* 31/12/2016, 15.03.2016 */
        yi = 2, mi = 1, di = 0;
    }
    if (snprintf(iso, 11, "%04ld-%02ld-%02ld", v[yi], v[mi], v[di]) != 10) return false;
    int32_t days;
    return date_parse(iso, 10, &days);
}

Node *parse_lex_bad_date(Parser *p)
{
    char buf[64], iso[11];
    const char *s = tok_text(p);
    if (memchr(s, '/', p->tok_len) || !memchr(s, '-', p->tok_len)) {
        bool known = foreign_date_iso(s, p->tok_len, iso);
        report(p, "E005", p->tok_loc, "malformed date `%s`: expected a date YYYY-MM-DD%s%s%s",
               show(buf, sizeof buf, s, p->tok_len), known ? " (`" : "",
               known ? iso : "", known ? "`?)" : "");
    } else {
        report(p, "E005", p->tok_loc,
               "malformed date `%s`: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM",
               show(buf, sizeof buf, s, p->tok_len));
    }
    return ast_new(p->arena, N_ERROR, p->tok_loc);
}

void parse_lex_comment(Parser *p)
{
    const unsigned char *s = (const unsigned char *)tok_text(p);
    for (size_t i = 0; i < p->tok_len;) {
        size_t len = utf8_len(s + i, p->tok_len - i);
        if (!len) {
            report(p, "E009", tok_part(p, i, 1), "invalid UTF-8 in comment (byte \\x%02X)", s[i]);
            return;
        }
        i += len;
    }
}

/* A hint for characters that other languages use. */
static const char *invalid_hint(unsigned char c)
{
    switch (c) {
    case '!': return " (use `not`, or `!=`)";
    case '&': return " (use `and`)";
    case '|': return " (use `or`)";
    case '\'': return " (strings use double quotes)";
    case ';': return " (no `;` is needed)";
    default: return "";
    }
}

void parse_lex_invalid(Parser *p)
{
    /* The parser gets an error token for it. */
    p->err_tok = p->tok_off + 1;
    p->err_loc = p->tok_loc;
    p->nsyntax++;
    const unsigned char *s = (const unsigned char *)tok_text(p);
    size_t n = p->tok_len;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(s + i, n - i);
        if (!len) {
            report(p, "E009", tok_part(p, i, n - i), "invalid UTF-8 in the source (byte \\x%02X)",
                   s[i]);
            return;
        }
        i += len;
    }
    size_t len = utf8_len(s, n);
    Loc at = tok_part(p, 0, n);
    if (len > 1) {
        char buf[16];
        int o = 0;
        for (size_t i = 0; i < len; i++) o += snprintf(buf + o, sizeof buf - (size_t)o, "\\x%02X", s[i]);
        report(p, "E003", at, "invalid character U+%04X (%s)", utf8_decode(s, len), buf);
    } else if (s[0] >= 0x20 && s[0] < 0x7F) {
        report(p, "E003", at, "invalid character `%c`%s", s[0], invalid_hint(s[0]));
    } else {
        report(p, "E003", at, "invalid character \\x%02X", s[0]);
    }
}

/* ==== syntax errors ==================================================== */

void parse_syntax_error(Parser *p, Loc at, const char *unexpected, const char *const *expected,
                        int nexpected)
{
    p->err_tok = p->tok_off + 1;
    p->err_loc = at;
    /* Errors at inserted closers follow from an E004 already reported. */
    if (p->fatal || p->synthetic) return;
    p->nsyntax++;
    char what[128], buf[64];
    if (unexpected[0] == '`' || strcmp(unexpected, "end of file") == 0)
        snprintf(what, sizeof what, "%s", unexpected);
    else
        snprintf(what, sizeof what, "%s `%s`", unexpected,
                 show(buf, sizeof buf, tok_text(p), p->tok_len));

    /* Where a condition or a value may start, a dozen tokens could come
     * next; name the category instead. */
    static const char *const literals[] = {"integer",     "decimal number", "money amount",
                                           "string",      "date",           "datetime"};
    int nliterals = 0;
    bool condition = false, any_word = false;
    for (int i = 0; i < nexpected; i++) {
        condition |= strcmp(expected[i], "`present`") == 0;
        any_word |= strcmp(expected[i], "`use`") == 0; /* every keyword is a name here */
        for (size_t k = 0; k < sizeof literals / sizeof literals[0]; k++)
            nliterals += strcmp(expected[i], literals[k]) == 0;
    }
    condition = condition && !any_word;
    if (condition || nliterals >= 4) {
        report(p, "E001", at, "unexpected %s, expected %s", what,
               condition ? "a condition" : "a value");
        return;
    }

    enum { LIST_MAX = 9 };
    char msg[512];
    int o = snprintf(msg, sizeof msg, "unexpected %s", what);
    for (int i = 0; i < nexpected && i < LIST_MAX && o < (int)sizeof msg; i++) {
        const char *sep = i == 0 ? ", expected " : (i == nexpected - 1 ? " or " : ", ");
        o += snprintf(msg + o, sizeof msg - (size_t)o, "%s%s", sep, expected[i]);
    }
    if (nexpected > LIST_MAX && o < (int)sizeof msg)
        snprintf(msg + o, sizeof msg - (size_t)o, " or ...");
    report(p, "E001", at, "%s", msg);
}

/* After an error, whether the item starting at the lookahead is surely a
 * new one: not at the token just reported (`payer demo title "x"`: `demo`
 * could start a property), and, for items that start with a name
 * (properties, fields), only at the start of a line, since recovery may
 * stop at any stray name (`a: int system: int`: `int`). */
bool parse_new_item(const Parser *p)
{
    if (p->err_tok == p->tok_off + 1) return false;
    return (p->prev_tok != T_IDENT && p->prev_tok != T_CODE) || p->first_on_line;
}

void parse_stack_exhausted(Parser *p, Loc at)
{
    report(p, "E010", at, "nested too deeply (the parser's stack is full)");
    p->fatal = true;
}

/* ==== constructors ===================================================== */

static Node *node(Parser *p, NodeKind k, Loc loc) { return ast_new(p->arena, k, loc); }

static Node *error_node(Parser *p, Loc loc) { return node(p, N_ERROR, loc); }

static const char *copy(Parser *p, const char *s)
{
    return s ? arena_strndup(p->arena, s, strlen(s)) : NULL;
}

NodeList parse_list(Node *first) { return (NodeList){first, first}; }

NodeList parse_list_add(NodeList l, Node *n)
{
    if (!n) return l;
    if (l.tail) l.tail->next = n;
    else l.head = n;
    l.tail = n;
    return l;
}

void parse_add_decl(Parser *p, Node *decl)
{
    if (!decl) return;
    if (p->decls_tail) p->decls_tail->next = decl;
    else p->decls = decl;
    p->decls_tail = decl;
}

Node *parse_word(Parser *p, Slice kw, Loc loc)
{
    Node *n = node(p, N_NAME, loc);
    n->name = arena_strndup(p->arena, kw.s, kw.n);
    return n;
}

Node *parse_use(Parser *p, Node *path, Loc loc)
{
    size_t len = 0;
    for (Node *n = path; n; n = n->next) len += strlen(n->name) + 1;
    char *s = arena_alloc(p->arena, len + 1), *o = s;
    for (Node *n = path; n; n = n->next) {
        if (n != path) *o++ = '.';
        size_t k = strlen(n->name);
        memcpy(o, n->name, k);
        o += k;
    }
    *o = '\0';
    Node *u = node(p, N_USE, loc);
    u->name = s;
    return u;
}

Node *parse_policy(Parser *p, Node *name, Node *base, Node *props, Loc loc)
{
    Node *n = node(p, N_POLICY, loc);
    n->name = name->name;
    n->a = props;
    if (base) {
        Loc at = base->loc;
        for (const Node *x = base; x; x = x->next) {
            at.end_line = x->loc.end_line;
            at.end_col = x->loc.end_col;
        }
        n->b = parse_use(p, base, at);
    }
    return n;
}

Node *parse_remove(Parser *p, Node *name, Node *why, Loc loc)
{
    Node *n = node(p, N_REMOVE, loc);
    n->name = name->name;
    n->str = why->str;
    return n;
}

Node *parse_replace(Parser *p, Node *name, Node *title, Node *clauses, Loc loc)
{
    Node *n = parse_rule(p, name, title, clauses, loc);
    n->flags |= FL_REPLACE;
    return n;
}

/* Whether a name is the token of the last syntax error: then an item that
 * recovery made of it (`payer demo title`: property `demo`) is not real. */
static bool is_error_token(const Parser *p, const Node *name)
{
    return p->err_loc.line == name->loc.line && p->err_loc.col == name->loc.col;
}

Node *parse_prop(Parser *p, Node *name, Node *values, Loc loc)
{
    if (!values && is_error_token(p, name)) return NULL;
    Node *n = node(p, N_PROP, loc);
    n->name = name->name;
    n->a = values ? values : error_node(p, loc);
    return n;
}

Node *parse_effective(Parser *p, Node *from, Node *through, Loc loc)
{
    Node *n = node(p, N_EFFECTIVE, loc);
    n->a = from;
    n->b = through;
    return n;
}

Node *parse_effective_error(Parser *p, Loc loc) { return parse_effective(p, error_node(p, loc), NULL, loc); }

Node *parse_schema(Parser *p, Node *name, Node *fields, Loc loc)
{
    Node *n = node(p, N_SCHEMA, loc);
    n->name = name->name;
    n->a = fields;
    return n;
}

Node *parse_field(Parser *p, Node *name, Node *type, int required, Node *dflt, Node *says,
                  Loc loc)
{
    if (!type && is_error_token(p, name)) return NULL;
    Node *n = node(p, N_FIELD, loc);
    n->name = name->name;
    n->a = type ? type : error_node(p, loc);
    n->b = dflt;
    n->flags = required ? FL_REQUIRED : 0;
    if (says) {
        n->str = says->str;
        n->a->next = says->next; /* the N_WORDING pairs follow the type */
    }
    return n;
}

Node *parse_wording(Parser *p, Node *key, Node *text, Loc loc)
{
    Node *n = node(p, N_WORDING, loc);
    n->name = key->name;
    n->str = text->str;
    return n;
}

Node *parse_type(Parser *p, const char *name, Node *a, Node *b, Loc loc)
{
    Node *n = node(p, N_TYPE, loc);
    n->name = copy(p, name);
    n->a = a;
    n->b = b;
    return n;
}

Node *parse_type_named(Parser *p, Node *ident, Loc loc) { return parse_type(p, ident->name, NULL, NULL, loc); }

Node *parse_codeset(Parser *p, Node *name, Node *title, Node *eff, Expr set, Loc loc)
{
    Node *n = node(p, N_CODESET, loc);
    n->name = name->name;
    n->str = title ? title->str : NULL;
    n->a = set.n;
    n->b = eff;
    p->nest_reported = false;
    return n;
}

Node *parse_calendar(Parser *p, Node *name, Node *title, Node *holidays, Loc loc)
{
    Node *n = node(p, N_CALENDAR, loc);
    n->name = name->name;
    n->str = title ? title->str : NULL;
    n->a = holidays;
    return n;
}

Node *parse_holiday(Parser *p, Node *date, Node *title, Loc loc)
{
    Node *n = node(p, N_HOLIDAY, loc);
    n->a = date;
    n->str = title->str;
    return n;
}

static bool loc_before(uint32_t l1, uint32_t c1, uint32_t l2, uint32_t c2)
{
    return l1 < l2 || (l1 == l2 && c1 < c2);
}

/* Whether an error has been reported inside loc (ends included): the
 * construct was cut short or holds a syntax error. Diagnostics arrive in
 * source order, so the scan stops at the first one before loc. */
static bool errors_within(const Parser *p, Loc loc)
{
    for (size_t i = p->d->n; i-- > 0;) {
        const pcr_diag *g = &p->d->v[i];
        if (g->span.file != p->file || g->severity != PCR_SEV_ERROR) continue;
        if (loc_before(g->span.line, g->span.col, loc.line, loc.col)) return false;
        if (!loc_before(loc.end_line, loc.end_col, g->span.line, g->span.col)) return true;
    }
    return false;
}

Node *parse_rule(Parser *p, Node *name, Node *title, Node *clauses, Loc loc)
{
    Node *n = node(p, N_RULE, loc);
    n->name = name->name;
    n->str = title->str;
    n->a = clauses;
    if (errors_within(p, loc)) n->flags |= FL_CUT;
    return n;
}

Node *parse_test(Parser *p, Node *title, Node *clauses, Loc loc)
{
    Node *n = node(p, N_TEST, loc);
    n->str = title->str;
    n->a = clauses;
    if (errors_within(p, loc)) n->flags |= FL_CUT;
    return n;
}

Node *parse_set_lit(Parser *p, Node *groups, Loc loc)
{
    Node *n = node(p, N_SET_LIT, loc);
    n->a = groups;
    return n;
}

Node *parse_group(Parser *p, Node *sys, Node *codes, Loc loc)
{
    Node *n = node(p, N_CODE_GROUP, loc);
    n->name = sys->name;
    n->a = codes ? codes : error_node(p, loc);
    return n;
}

Node *parse_range(Parser *p, Node *lo, Node *hi, Loc loc)
{
    Node *n = node(p, N_CODE_RANGE, loc);
    n->a = lo;
    n->b = hi;
    return n;
}

/* The expression `n` over a and b (depths da, db), or an N_ERROR when that
 * would nest deeper than PARSE_MAX_NEST (E010, once per clause). Depth
 * counts operators: a name or literal is 0, `a == b` is 1. */
static Expr nest(Parser *p, Node *n, uint32_t da, uint32_t db, const char *what)
{
    uint32_t depth = (da > db ? da : db) + 1;
    if (depth <= PARSE_MAX_NEST) return (Expr){n, depth};
    if (!p->nest_reported)
        report(p, "E010", n->loc, "%s nested too deeply (more than %d levels)", what,
               PARSE_MAX_NEST);
    p->nest_reported = true;
    return (Expr){error_node(p, n->loc), 0};
}

Expr parse_set_leaf(Parser *p, Node *n)
{
    (void)p;
    return (Expr){n, 0};
}

Expr parse_setop(Parser *p, int op, Expr a, Expr b, Loc loc)
{
    Node *n = node(p, N_SETOP, loc);
    n->op = op;
    n->a = a.n;
    n->b = b.n;
    return nest(p, n, a.depth, b.depth, "set expression");
}

Expr parse_set_error(Parser *p, Loc loc) { return (Expr){error_node(p, loc), 0}; }

Node *parse_value_list(Parser *p, Node *items, Loc loc)
{
    Node *n = node(p, N_VALUE_LIST, loc);
    n->a = items;
    return n;
}

Node *parse_list_lit(Parser *p, Node *items, Loc loc)
{
    Node *n = node(p, N_LIST_LIT, loc);
    n->a = items;
    return n;
}

Node *parse_bool(Parser *p, int value, Loc loc)
{
    Node *n = node(p, N_BOOL, loc);
    n->ival = value != 0;
    return n;
}

Expr parse_binary(Parser *p, int op, Expr a, Expr b, Loc loc)
{
    Node *n = node(p, N_BINARY, loc);
    n->op = op;
    n->a = a.n;
    n->b = b.n;
    return nest(p, n, a.depth, b.depth, "condition");
}

Expr parse_not(Parser *p, Expr a, Loc loc)
{
    Node *n = node(p, N_NOT, loc);
    n->a = a.n;
    return nest(p, n, a.depth, 0, "condition");
}

Expr parse_compare(Parser *p, int op, Node *a, Node *b, Loc loc)
{
    Node *n = node(p, N_BINARY, loc);
    n->op = op;
    n->a = a;
    n->b = b;
    return (Expr){n, 1};
}

Expr parse_in(Parser *p, Node *operand, Node *set, unsigned flags, Loc loc)
{
    Node *n = node(p, N_IN, loc);
    n->a = operand;
    n->b = set;
    n->flags = flags;
    return (Expr){n, 1};
}

Expr parse_present(Parser *p, Node *field, Loc loc)
{
    Node *n = node(p, N_PRESENT, loc);
    n->name = field->name;
    return (Expr){n, 0};
}

Expr parse_atom(Parser *p, Node *n)
{
    (void)p;
    return (Expr){n, 0};
}

Node *parse_clause(Parser *p, int kind, Node *a, Node *b, Loc loc)
{
    Node *n = node(p, N_CLAUSE, loc);
    n->op = kind;
    n->a = a;
    n->b = b;
    return n;
}

/* An outcome named in a test's `expect` or `possible` list. */
Node *parse_outcome(Parser *p, int outcome, Loc loc)
{
    Node *n = node(p, N_INT, loc);
    n->ival = outcome;
    return n;
}

/* `expect DECISION, OUTCOME...`: the decision, and the exact outcomes of the
 * certain obligations (a: N_INT Outcome values; FL_ALL marks the list). */
Node *parse_expect(Parser *p, int decision, Node *outcomes, Loc loc)
{
    Node *n = parse_clause(p, CL_EXPECT, outcomes, NULL, loc);
    n->ival = decision;
    n->flags |= FL_ALL;
    return n;
}

Node *parse_clause_val(Parser *p, int kind, int64_t val, Loc loc)
{
    Node *n = parse_clause(p, kind, NULL, NULL, loc);
    n->ival = val;
    return n;
}

Node *parse_clause_cond(Parser *p, int kind, Expr cond, Loc loc)
{
    p->nest_reported = false;
    return parse_clause(p, kind, cond.n, NULL, loc);
}

Node *parse_clause_error(Parser *p, int kind, Loc loc)
{
    p->nest_reported = false;
    return parse_clause(p, kind, error_node(p, loc), NULL, loc);
}

Node *parse_exempt(Parser *p, Node *rules, bool all, Loc loc)
{
    Node *n = parse_clause(p, CL_EXEMPT, rules, NULL, loc);
    n->flags = all ? FL_ALL : 0;
    return n;
}

Node *parse_deadline(Parser *p, Node *amount, Node *unit, int dir, Node *anchor, Loc loc)
{
    static const struct {
        const char *name;
        DurationUnit unit;
    } units[] = {
        {"hour", U_HOURS}, {"hours", U_HOURS}, {"day", U_DAYS}, {"days", U_DAYS},
        {"business_day", U_BUSINESS_DAYS}, {"business_days", U_BUSINESS_DAYS},
    };
    char buf[64];
    int op = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit->name, units[i].name) == 0) op = (int)units[i].unit;
    bool anchor_ok = strcmp(anchor->name, "service") == 0 || strcmp(anchor->name, "admission") == 0;
    if (!op)
        report(p, "E001", unit->loc, "unknown time unit `%s`, expected `hours`, `days` or "
               "`business_days`", show(buf, sizeof buf, unit->name, strlen(unit->name)));
    else if (!anchor_ok)
        report(p, "E001", anchor->loc, "unexpected `%s`, expected `service` or `admission`",
               show(buf, sizeof buf, anchor->name, strlen(anchor->name)));
    Node *n = parse_clause(p, CL_DEADLINE, NULL, NULL, loc);
    n->ival = dir;
    n->str = anchor->name;
    if (!op || !anchor_ok) {
        n->a = error_node(p, loc);
        return n;
    }
    Loc span = amount->loc;
    span.end_line = unit->loc.end_line;
    span.end_col = unit->loc.end_col;
    n->a = node(p, N_DURATION, span);
    n->a->ival = amount->ival;
    n->a->op = op;
    return n;
}

Node *parse_field_value(Parser *p, Node *name, Node *value, Loc loc)
{
    Node *n = node(p, N_FIELD_VALUE, loc);
    n->name = name->name;
    n->a = value;
    return n;
}

/* ==== brackets and the driver ========================================= */

static int closer_of(int tok)
{
    return tok == T_LBRACE ? T_RBRACE : tok == T_LPAREN ? T_RPAREN : T_RBRACKET;
}

static const char *bracket_text(int tok)
{
    switch (tok) {
    case T_LBRACE: return "{";
    case T_RBRACE: return "}";
    case T_LPAREN: return "(";
    case T_RPAREN: return ")";
    case T_LBRACKET: return "[";
    default: return "]";
    }
}

/* Keywords that begin a clause: before one of them a bracket is often
 * left open (`given { a: 1` then `expect`). `calendar` is one in a policy
 * and a declaration elsewhere. */
static bool starts_clause(int tok)
{
    switch (tok) {
    case T_WHEN: case T_UNLESS: case T_REQUIRE: case T_EXEMPT: case T_REVIEWER:
    case T_DEADLINE: case T_CITE: case T_EFFECTIVE: case T_GIVEN: case T_EXPECT:
    case T_RULES: case T_MISSING: case T_TIMELY: case T_CALENDAR:
        return true;
    default:
        return false;
    }
}

/* Keywords that can only begin a declaration. */
static bool starts_decl(int tok)
{
    switch (tok) {
    case T_USE: case T_POLICY: case T_SCHEMA: case T_CODESET: case T_RULE: case T_TEST:
    case T_REMOVE: case T_REPLACE:
        return true;
    default:
        return false;
    }
}

/* The parse in progress: the parser's state and the scanner. */
typedef struct Driver {
    Parser *p;
    pcr_yypstate *ps;
    yyscan_t scanner;
    int status; /* of the last push: YYPUSH_MORE until the parse ends */
} Driver;

static void push(Driver *dr, int tok, const PCR_YYSTYPE *val, Loc loc, bool synthetic)
{
    if (dr->status != YYPUSH_MORE) return;
    dr->p->synthetic = synthetic;
    dr->status = pcr_yypush_parse(dr->ps, tok, val, &loc, dr->scanner, dr->p);
    dr->p->synthetic = false;
}

/* E004 for open bracket o, at `at`. */
static void report_unclosed(Parser *p, const ParseOpener *o, Loc at)
{
    const char *open = bracket_text(o->tok), *close = bracket_text(closer_of(o->tok));
    pcr_diag *g = report(p, "E004", at, "expected `%s` to close `%s` opened at %u:%u", close, open,
                         o->loc.line, o->loc.col);
    if (g) diag_related(p->d, g, o->loc, "`%s` opened here", open);
}

/* Closes open brackets down to `keep` before the token at `at`, reporting
 * E004 for the innermost one the parser still has open, unless *said. A
 * bracket the parser no longer expects to close, after a syntax error
 * inside it, was given up by its error recovery: it is dropped silently. */
static void close_to(Driver *dr, uint32_t keep, Loc at, bool *said)
{
    Parser *p = dr->p;
    PCR_YYSTYPE none;
    memset(&none, 0, sizeof none);
    at.end_line = at.line;
    at.end_col = at.col;
    for (; p->nopen > keep && dr->status == YYPUSH_MORE; p->nopen--) {
        const ParseOpener *o = &p->open[p->nopen - 1];
        int closer = closer_of(o->tok);
        if (!parse_accepts(dr->ps, closer) && p->nsyntax > o->nsyntax) continue;
        if (!*said) report_unclosed(p, o, at);
        *said = true;
        push(dr, closer, &none, at, true);
    }
    p->nopen = p->nopen > keep ? keep : p->nopen;
}

/* Pushes one scanned token, first closing brackets it shows were left
 * open: a closer that matches an outer bracket, a declaration keyword or
 * the end of the file (all open brackets), or a clause keyword the parser
 * would take once a bracket is closed but not before. */
static void feed(Driver *dr, int tok, const PCR_YYSTYPE *val, Loc loc)
{
    Parser *p = dr->p;
    bool said = false;
    switch (tok) {
    case T_LBRACE:
    case T_LPAREN:
    case T_LBRACKET:
        if (p->nopen == PARSE_MAX_OPEN) {
            too_many_open(p, loc);
            return;
        }
        p->open[p->nopen++] = (ParseOpener){tok, loc, p->nsyntax};
        break;
    case T_RBRACE:
    case T_RPAREN:
    case T_RBRACKET: {
        uint32_t i = p->nopen;
        while (i > 0 && closer_of(p->open[i - 1].tok) != tok) i--;
        if (i == 0) break; /* closes nothing: the parser says so */
        if (i < p->nopen) close_to(dr, i, loc, &said);
        p->nopen = i - 1;
        break;
    }
    default:
        if (!p->nopen) break;
        if (tok == T_YYEOF || starts_decl(tok)) {
            close_to(dr, 0, loc, &said);
            push(dr, tok, val, loc, tok == T_YYEOF);
            return;
        }
        if (!starts_clause(tok)) break;
        /* One bracket at a time, while that is what the parser lacks. */
        while (p->nopen && dr->status == YYPUSH_MORE && !parse_accepts(dr->ps, tok) &&
               parse_accepts(dr->ps, closer_of(p->open[p->nopen - 1].tok)))
            close_to(dr, p->nopen - 1, loc, &said);
        break;
    }
    push(dr, tok, val, loc, false);
}

/* ==== the entry point ================================================== */

Node *parse_file(Arena *arena, Diags *d, uint32_t file)
{
    if (file >= d->nfiles) return NULL;
    const SrcFile *f = &d->files[file];
    /* flex sizes its buffers with int. */
    if (f->len > (size_t)INT32_MAX / 2) {
        diag_error(d, "E103", (Loc){file, 1, 1, 1, 1}, "source file too large (%zu bytes)", f->len);
        return NULL;
    }
    Parser *p = xcalloc(1, sizeof *p);
    p->arena = arena;
    p->d = d;
    p->file = file;
    p->src = f->text;
    p->line = p->col = 1;

    Driver dr = {p, pcr_yypstate_new(), NULL, YYPUSH_MORE};
    if (!dr.ps) abort(); /* out of memory, as xmalloc would */
    pcr_yylex_init_extra(p, &dr.scanner);
    YY_BUFFER_STATE buf = pcr_yy_scan_bytes(f->text, (int)f->len, dr.scanner);
    while (dr.status == YYPUSH_MORE && !p->fatal) {
        PCR_YYSTYPE val;
        memset(&val, 0, sizeof val);
        Loc loc;
        int tok = pcr_yylex(&val, &loc, dr.scanner, p);
        feed(&dr, tok, &val, loc);
        if (tok == T_YYEOF) break;
    }
    pcr_yy_delete_buffer(buf, dr.scanner);
    pcr_yylex_destroy(dr.scanner);
    pcr_yypstate_delete(dr.ps);

    Node *decls = p->decls;
    free(p);
    return decls;
}

/* ==== the token stream (fmt.c) ========================================== */

bool syntax_scan(Arena *arena, Diags *d, uint32_t file, SynTok **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (file >= d->nfiles) return false;
    const SrcFile *f = &d->files[file];
    if (f->len > (size_t)INT32_MAX / 2) return false;
    Parser *p = xcalloc(1, sizeof *p);
    p->arena = arena;
    p->d = d;
    p->file = file;
    p->src = f->text;
    p->line = p->col = 1;
    size_t before = d->nerrors, cap = 0;
    SynTok *v = NULL;
    yyscan_t scanner;
    pcr_yylex_init_extra(p, &scanner);
    YY_BUFFER_STATE buf = pcr_yy_scan_bytes(f->text, (int)f->len, scanner);
    bool ok = true;
    for (;;) {
        PCR_YYSTYPE val;
        memset(&val, 0, sizeof val);
        Loc loc;
        int tok = pcr_yylex(&val, &loc, scanner, p);
        if (tok == T_YYEOF) break;
        if (tok == T_PCR_YYerror || p->fatal) {
            ok = false;
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[(*n)++] = (SynTok){tok, p->tok_off, p->tok_len, loc.line};
    }
    pcr_yy_delete_buffer(buf, scanner);
    pcr_yylex_destroy(scanner);
    free(p);
    if (d->nerrors != before) ok = false;
    *out = v;
    return ok;
}

