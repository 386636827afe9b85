/* fmt.c: the canonical layout of a .pcr source (fmt.h).
 *
 * Three steps. split() cuts the source into lines of items: the scanner's
 * tokens, comments and the commas of code lists, each with its original
 * indentation and whether blank lines came before it. layout() decides
 * each line's indentation and renders its items with canonical spacing,
 * then aligns trailing comments. check_same() scans the result again and
 * compares its items with the source's, byte for byte: a formatter bug can
 * only ever be an error, never a changed policy or a lost comment.
 *
 * The rules (docs/cli.md, "pcrc fmt"):
 *   - line breaks and blank lines stay where they are, so every line keeps
 *     its number (the bytecode records rules' lines); blank lines at the
 *     end of the file go; lines end in '\n' with no trailing whitespace;
 *   - a line that starts a clause, entry or declaration (not a
 *     continuation) is indented as the contents of the innermost open
 *     brace: when the brace's line goes on after it, the column of the
 *     first thing after it (`+ { CPT 70551` / `    CPT 70552 }`); else 2
 *     more than the last such line before the brace, so a declaration's
 *     braces indent from the declaration even when they open on a
 *     continuation line. A closing brace that starts a line goes where
 *     that declaration or clause line is;
 *   - a continuation line (inside parentheses or brackets, after a line
 *     that ended in an operator or comma, or starting with `and`, `or`,
 *     `+`, `-` or a closer) keeps its own indentation, but at least that
 *     of a clause: authors align such lines with what they continue;
 *   - a comment on a line of its own keeps its indentation, but at least
 *     that of a clause;
 *   - one space between tokens, except none before `,` `:` `)` `]` `.`
 *     `..`, none after `(` `[` `.` `..`, none between a name or `present`
 *     or `code` and its `(`; a brace after `in` that holds values (not
 *     codes) has no space inside it, `{a, b}`; other braces do,
 *     `{ CPT 70551 }`;
 *   - a trailing comment keeps its column as long as at least one space
 *     is left between it and the code (so columns the author aligned stay
 *     aligned); otherwise it starts two spaces after the code. */
#include "fmt.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "parser.h"
#include "syntax.h"

/* Item kinds besides the scanner's T_* tokens. */
enum { IT_COMMENT = -1 };

typedef struct Item {
    int kind;         /* T_* or IT_COMMENT (T_COMMA also for a dropped comma) */
    const char *text; /* into the source */
    size_t len;       /* comments without trailing whitespace */
    size_t col;       /* comments: the column they started in (0-based) */
} Item;

typedef struct Line {
    size_t first, n;   /* items[first .. first + n) */
    size_t indent;     /* columns before the first item, as written */
    size_t blanks;     /* blank lines right before it */
} Line;

typedef struct Split {
    Item *items;
    size_t nitems, icap;
    Line *lines;
    size_t nlines, lcap;
    bool bom; /* the text starts with a byte-order mark */
} Split;

static void split_free(Split *s)
{
    free(s->items);
    free(s->lines);
}

/* Appends an item, opening a line when it is the first since a newline. */
static void add_item(Split *s, bool *open, size_t indent, size_t *blank, int kind,
                     const char *text, size_t len, size_t col)
{
    if (!*open) {
        if (s->nlines == s->lcap) {
            s->lcap = s->lcap ? s->lcap * 2 : 256;
            s->lines = xrealloc(s->lines, s->lcap * sizeof *s->lines);
        }
        s->lines[s->nlines++] = (Line){s->nitems, 0, indent, *blank};
        *blank = 0;
        *open = true;
    }
    if (s->nitems == s->icap) {
        s->icap = s->icap ? s->icap * 2 : 1024;
        s->items = xrealloc(s->items, s->icap * sizeof *s->items);
    }
    s->items[s->nitems++] = (Item){kind, text, len, col};
    s->lines[s->nlines - 1].n++;
}

/* The display column after line[0..n): tabs to the next multiple of 8,
 * one column per UTF-8 character otherwise. */
static size_t column_of(const char *line, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)line[i];
        if (b == '\t') c += 8 - c % 8;
        else c += (b & 0xC0) != 0x80;
    }
    return c;
}

/* Cuts text[0..len) with its tokens into lines of items. False when a byte
 * between tokens is none of whitespace, comment, comma or a leading BOM
 * (the scanner never leaves one; an internal error). */
static bool split(const char *text, size_t len, const SynTok *toks, size_t ntoks, Split *s)
{
    memset(s, 0, sizeof *s);
    size_t pos = 0, indent = 0, line_start = 0;
    size_t blank = 0;
    bool open = false;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        s->bom = true;
        pos = 3;
    }
    for (size_t t = 0; t <= ntoks; t++) {
        size_t end = t < ntoks ? toks[t].off : len;
        while (pos < end) {
            char c = text[pos];
            if (c == '\n') {
                if (!open) blank++;
                open = false;
                indent = 0;
                line_start = ++pos;
            } else if (c == ' ' || c == '\t' || c == '\r') {
                if (!open) indent += c == '\t' ? 8 - indent % 8 : c == ' ';
                pos++;
            } else if (c == '#' || (c == '/' && pos + 1 < end && text[pos + 1] == '/')) {
                size_t q = pos;
                while (q < end && text[q] != '\n') q++;
                size_t n = q - pos;
                while (n > 0 && (text[pos + n - 1] == ' ' || text[pos + n - 1] == '\t' ||
                                 text[pos + n - 1] == '\r'))
                    n--;
                add_item(s, &open, indent, &blank, IT_COMMENT, text + pos, n,
                         column_of(text + line_start, pos - line_start));
                pos = q;
            } else if (c == ',') {
                add_item(s, &open, indent, &blank, T_COMMA, text + pos, 1, 0);
                pos++;
            } else {
                return false;
            }
        }
        if (t < ntoks) {
            add_item(s, &open, indent, &blank, toks[t].kind, text + toks[t].off, toks[t].len, 0);
            pos = toks[t].off + toks[t].len;
        }
    }
    return true;
}

static bool is_operator(int k)
{
    switch (k) {
    case T_COMMA: case T_AND: case T_OR: case T_NOT: case T_PLUS: case T_MINUS:
    case T_ASSIGN: case T_IN: case T_ANY: case T_EQ: case T_NE: case T_LT: case T_LE:
    case T_GT: case T_GE: case T_LPAREN: case T_LBRACKET: case T_DOTDOT: case T_COLON:
        return true;
    default:
        return false;
    }
}

/* A line starting with first, after a line that ended with prev (0 at the
 * start of the file), continues a clause: see the file comment. */
static bool continues(int prev, int first, size_t parens)
{
    if (prev == 0) return false;
    if (parens > 0 || is_operator(prev)) return true;
    switch (first) {
    case T_AND: case T_OR: case T_PLUS: case T_MINUS: case T_RPAREN: case T_RBRACKET:
    case T_COMMA: case T_DOTDOT: case T_EQ: case T_NE: case T_LT: case T_LE: case T_GT:
    case T_GE: case T_ASSIGN: case T_IN:
        return true;
    default:
        return false;
    }
}

/* Whether one space separates a and b on a line. tight_open: a is a brace
 * of a value set; tight_close: b closes one. */
static bool spaced(int a, int b, bool tight_open, bool tight_close)
{
    switch (b) {
    case T_COMMA: case T_RPAREN: case T_RBRACKET: case T_COLON: case T_DOT: case T_DOTDOT:
        return false;
    case T_LPAREN:
        if (a == T_IDENT || a == T_PRESENT || a == T_CODE) return false;
        break;
    case T_RBRACE:
        if (tight_close) return false;
        break;
    default:
        break;
    }
    switch (a) {
    case T_LPAREN: case T_LBRACKET: case T_DOT: case T_DOTDOT:
        return false;
    case T_LBRACE:
        return !tight_open;
    default:
        return true;
    }
}

/* An open brace: where its closer goes when it starts a line, where the
 * lines inside it start, and whether it holds a set of values (`in {a,
 * b}`). */
typedef struct Brace {
    size_t outer, inner;
    bool tight;
} Brace;

typedef struct Layout {
    Brace *braces;
    size_t nbraces, cap;
    size_t parens; /* open ( and [ */
    int prev;      /* the last token laid out; 0 before the first */
    size_t stmt;   /* indentation of the last line that was not a continuation */
} Layout;

static void push_brace(Layout *L, size_t outer, size_t inner, bool tight)
{
    if (L->nbraces == L->cap) {
        L->cap = L->cap ? L->cap * 2 : 16;
        L->braces = xrealloc(L->braces, L->cap * sizeof *L->braces);
    }
    L->braces[L->nbraces++] = (Brace){outer, inner, tight};
}

/* Display columns of UTF-8 text: one per character. */
static size_t columns(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static void put_spaces(Buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++) buf_putc(b, ' ');
}

/* One laid-out line: its code (indentation included) in code, and its
 * trailing comment, if any. */
typedef struct Out {
    size_t off, len;      /* into the code buffer */
    const Item *comment;  /* trailing comment, or NULL */
    size_t blanks;
} Out;

/* Lays s out into out (see the file comment). */
static void layout(const Split *s, Buf *out)
{
    Layout L = {0};
    Buf code = {0};
    Out *lines = xcalloc(s->nlines ? s->nlines : 1, sizeof *lines);
    for (size_t i = 0; i < s->nlines; i++) {
        const Line *ln = &s->lines[i];
        const Item *it = &s->items[ln->first];
        size_t base = L.nbraces ? L.braces[L.nbraces - 1].inner : 0, indent;
        if (it->kind == IT_COMMENT || continues(L.prev, it->kind, L.parens)) {
            indent = ln->indent > base ? ln->indent : base;
        } else {
            indent = it->kind == T_RBRACE && L.nbraces ? L.braces[L.nbraces - 1].outer : base;
            L.stmt = indent;
        }
        Out *o = &lines[i];
        o->off = code.n;
        o->blanks = ln->blanks;
        put_spaces(&code, indent);
        int last = 0;
        bool last_tight = false;
        Brace *opened = NULL; /* a brace opened on this line, its inner column not yet known */
        for (size_t k = 0; k < ln->n; k++, it++) {
            if (it->kind == IT_COMMENT) { /* always the line's last item */
                if (k == 0) buf_put(&code, it->text, it->len);
                else o->comment = it;
                continue;
            }
            if (opened && it->kind == T_SYS) /* `in { CPT 70551 }`: codes, not values */
                opened->tight = last_tight = false;
            bool tight_close = it->kind == T_RBRACE && L.nbraces && L.braces[L.nbraces - 1].tight;
            if (last && spaced(last, it->kind, last_tight, tight_close)) buf_putc(&code, ' ');
            if (opened) { /* the first item after a brace: its contents align with it */
                opened->inner = code.n - o->off;
                opened = NULL;
            }
            buf_put(&code, it->text, it->len);
            last_tight = false;
            switch (it->kind) {
            case T_LBRACE:
                push_brace(&L, L.stmt, L.stmt + 2, L.prev == T_IN);
                last_tight = L.braces[L.nbraces - 1].tight;
                opened = &L.braces[L.nbraces - 1];
                break;
            case T_RBRACE:
                if (L.nbraces) L.nbraces--;
                opened = NULL;
                break;
            case T_LPAREN: case T_LBRACKET:
                L.parens++;
                break;
            case T_RPAREN: case T_RBRACKET:
                if (L.parens) L.parens--;
                break;
            default:
                break;
            }
            last = it->kind;
            L.prev = it->kind;
        }
        o->len = code.n - o->off;
    }
    for (size_t i = 0; i < s->nlines; i++) {
        Out *o = &lines[i];
        for (size_t b = 0; b < o->blanks; b++) buf_putc(out, '\n');
        buf_put(out, code.p + o->off, o->len);
        if (o->comment) {
            /* A trailing comment keeps its column while a space is left
             * before it (authors align them); else it moves to two spaces
             * after the code. */
            size_t w = columns(code.p + o->off, o->len);
            put_spaces(out, o->comment->col > w ? o->comment->col - w : 2);
            buf_put(out, o->comment->text, o->comment->len);
        }
        buf_putc(out, '\n');
    }
    free(lines);
    free(L.braces);
    buf_free(&code);
}

/* Scans text as file of d into *s; false (with the scanner's diagnostics
 * in d) when it does not scan. */
static bool scan_split(Diags *d, uint32_t file, Split *s)
{
    Arena a;
    arena_init(&a);
    SynTok *toks;
    size_t n;
    bool ok = syntax_scan(&a, d, file, &toks, &n);
    const SrcFile *f = &d->files[file];
    if (ok) ok = split(f->text, f->len, toks, n, s);
    else memset(s, 0, sizeof *s);
    free(toks);
    arena_free(&a);
    return ok;
}

/* True when a and b hold the same items, byte for byte, in one order, on
 * lines of the same numbers. */
static bool check_same(const Split *a, const Split *b)
{
    if (a->nitems != b->nitems || a->bom != b->bom || a->nlines != b->nlines) return false;
    for (size_t i = 0; i < a->nlines; i++)
        if (a->lines[i].n != b->lines[i].n || a->lines[i].blanks != b->lines[i].blanks) return false;
    for (size_t i = 0; i < a->nitems; i++) {
        const Item *x = &a->items[i], *y = &b->items[i];
        if (x->kind != y->kind || x->len != y->len || memcmp(x->text, y->text, x->len) != 0)
            return false;
    }
    return true;
}

char *fmt_source(Diags *d, uint32_t file, size_t *out_len)
{
    *out_len = 0;
    if (file >= d->nfiles) return NULL;
    size_t errors = d->nerrors;
    Arena a;
    arena_init(&a);
    parse_file(&a, d, file); /* syntax errors: nothing is formatted */
    arena_free(&a);
    if (d->nerrors != errors) return NULL;

    Split s;
    Loc at = {file, 1, 1, 1, 1};
    if (!scan_split(d, file, &s)) {
        split_free(&s);
        if (d->nerrors == errors)
            diag_error(d, "E998", at, "internal error: the formatter could not read this source");
        return NULL;
    }
    Buf out = {0};
    if (s.bom) buf_put(&out, "\xEF\xBB\xBF", 3);
    layout(&s, &out);

    /* The result must scan to the same items. */
    const SrcFile *f = &d->files[file];
    uint32_t again = diags_add_file(d, f->path, xstrndup(out.p ? out.p : "", out.n), out.n);
    Split t;
    bool same = scan_split(d, again, &t) && check_same(&s, &t);
    split_free(&t);
    split_free(&s);
    if (!same) {
        buf_free(&out);
        diag_error(d, "E998", at,
                   "internal error: the formatted text would not keep every token and comment "
                   "(a formatter bug; please report it with the source)");
        return NULL;
    }
    buf_putc(&out, '\0');
    *out_len = out.n - 1;
    return out.p;
}
