/* sema_sets.c: code sets: literals, ranges, prefixes and set algebra.
 *
 * A code set becomes a canonical list of key intervals (codes.h). Named
 * sets are built on demand, so `a = b + c` may precede `b`; a set that is
 * met again while it is being built is a cycle (E305). */
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "buf.h"
#include "sema.h"

/* E307: more disjoint ranges than a set may hold (PCR_MAX_SET_RANGES).
 * Counted after merging, so 100,000 adjacent codes are one range. */
static void check_size(Sema *s, SSet *set)
{
    if (set->bad || set->codes.n <= PCR_MAX_SET_RANGES) return;
    if (((const Node *)set->decl)->kind == N_CODESET)
        diag_error(s->d, "E307", set->loc,
                   "code set `%s` is too large: %zu separate codes and ranges after merging; a "
                   "code set holds at most %d",
                   set->name, set->codes.n, PCR_MAX_SET_RANGES);
    else
        diag_error(s->d, "E307", set->loc,
                   "this code set is too large: %zu separate codes and ranges after merging; a "
                   "code set holds at most %d",
                   set->codes.n, PCR_MAX_SET_RANGES);
    set->bad = true;
}

static void build(Sema *s, uint32_t si);

static void set_copy(CodeSet *dst, const CodeSet *src)
{
    code_set_free(dst);
    for (size_t i = 0; i < src->n; i++) code_set_add(dst, src->r[i].lo, src->r[i].hi);
}

/* Building code sets costs time in proportion to the intervals each step
 * handles (a copy of a named set, both sides of a union or difference, the
 * intervals a range or a prefix expands to), and a source can repeat
 * steps: `b = a + a + ...` with a large `a`, in many sets. The policy's
 * whole budget is SET_WORK_MAX intervals, far above any real policy; over
 * it, E307 once, and the set being built is bad. */
enum { SET_WORK_MAX = 5000000 };

static bool spend(Sema *s, size_t n, Loc at)
{
    if (s->set_work_over) return false;
    s->set_work += n;
    if (s->set_work <= SET_WORK_MAX) return true;
    s->set_work_over = true;
    diag_error(s->d, "E307", at,
               "code sets too costly to build: building this policy's code sets handles "
               "more than %d codes and ranges in all (each copy, union, difference, range and "
               "prefix counts)",
               SET_WORK_MAX);
    return false;
}

/* Normalizes one code literal of sys; reports E301 and returns false when
 * it has the wrong shape. */
static bool norm_code(Sema *s, CodeSystem sys, const Node *c, char *out, size_t *outn)
{
    const char *why = "";
    const char *text = c->str ? c->str : "";
    if (code_normalize(sys, text, strlen(text), out, outn, &why)) return true;
    diag_error(s->d, "E301", c->loc, "`%s` is not a valid %s code: %s", text,
               code_system_name(sys), why);
    return false;
}

/* A prefix item `SYS P*`: every code of the system that starts with P.
 * P is checked by completing it with zeros to the system's shortest code
 * (`ICD10 O*` as O00, `HCPCS J9*` as J9000) and normalizing that, so any
 * length from one character to a whole code is accepted. Only an ICD-10
 * prefix may end in its code's dot (`C50.*`): no other system's codes
 * have one (`CPT 21208.*` is an error, as `CPT 212.08` is). */
static bool add_prefix(Sema *s, CodeSystem sys, const Node *c, CodeSet *out)
{
    if (s->set_work_over) return false;
    const char *text = c->str ? c->str : "";
    size_t n = strlen(text);
    if (n && text[n - 1] == '*') n--;
    if (n && text[n - 1] == '.' && sys == SYS_ICD10) n--; /* "C50.*" is the prefix C50 */
    size_t full, longest;
    code_system_lengths(sys, &full, &longest);
    char padded[CODE_MAX_CHARS + 8], norm[CODE_MAX_CHARS + 1];
    size_t pad = n < full ? full - n : 0, k;
    if (n == 0 || n + pad >= sizeof padded) {
        diag_error(s->d, "E301", c->loc, "`%s` is not a valid %s prefix", text,
                   code_system_name(sys));
        return false;
    }
    memcpy(padded, text, n);
    memset(padded + n, '0', pad);
    const char *why = "";
    if (!code_normalize(sys, padded, n + pad, norm, &k, &why) || k < pad) {
        diag_error(s->d, "E301", c->loc, "`%s` is not a valid %s prefix: %s", text,
                   code_system_name(sys), why);
        return false;
    }
    k -= pad;
    size_t before = out->n;
    code_set_add_prefix(out, sys, norm, k);
    return spend(s, out->n - before, c->loc);
}

static bool is_letter(char c) { return c >= 'A' && c <= 'Z'; }

/* A normalized code's shape in words: "5 digits", "4 digits and a letter",
 * "a letter, 2 digits and a letter". */
static void describe_shape(Buf *b, const char *c, size_t n)
{
    size_t runs = 0;
    for (size_t i = 0; i < n; i++) runs += i == 0 || is_letter(c[i]) != is_letter(c[i - 1]);
    size_t run = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && is_letter(c[j]) == is_letter(c[i])) j++;
        if (run > 0) buf_puts(b, run + 1 == runs ? " and " : ", ");
        const char *kind = is_letter(c[i]) ? "letter" : "digit";
        if (j - i == 1) buf_printf(b, "a %s", kind);
        else buf_printf(b, "%zu %ss", j - i, kind);
        run++;
        i = j;
    }
}

static bool same_shape(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_letter(a[i]) != is_letter(b[i])) return false;
    return true;
}

/* lo..hi: the codes of the ends' length and shape between them, keeping
 * the letters both ends share (code_set_add_range); ends of different
 * lengths (E302) or shapes (E306) are refused. */
static bool add_range(Sema *s, CodeSystem sys, const Node *r, CodeSet *out)
{
    if (!r->a || !r->b || s->set_work_over) return false;
    char lo[CODE_MAX_CHARS + 1], hi[CODE_MAX_CHARS + 1];
    size_t nlo, nhi;
    bool ok_lo = norm_code(s, sys, r->a, lo, &nlo);
    bool ok_hi = norm_code(s, sys, r->b, hi, &nhi);
    if (!ok_lo || !ok_hi) return false;
    if (nlo != nhi) {
        diag_error(s->d, "E302", r->loc,
                   "the ends of range %s..%s have different lengths (%zu and %zu characters)",
                   r->a->str, r->b->str, nlo, nhi);
        return false;
    }
    if (!same_shape(lo, hi, nlo)) {
        Buf a = {0}, b = {0};
        describe_shape(&a, lo, nlo);
        describe_shape(&b, hi, nhi);
        buf_putc(&a, '\0');
        buf_putc(&b, '\0');
        diag_error(s->d, "E306", r->loc,
                   "the ends of range %s..%s must have the same shape: %s is %s; %s is %s",
                   r->a->str, r->b->str, r->a->str, a.p, r->b->str, b.p);
        buf_free(&a);
        buf_free(&b);
        return false;
    }
    CodeKey klo = code_key(sys, lo, nlo), khi = code_key(sys, hi, nhi);
    if (klo > khi) {
        diag_error(s->d, "E303", r->loc, "range %s..%s is backwards: %s comes after %s",
                   r->a->str, r->b->str, r->a->str, r->b->str);
        return false;
    }
    size_t before = out->n;
    bool fits = code_set_add_range(out, klo, khi, PCR_MAX_SET_RANGES);
    if (!spend(s, out->n - before, r->loc)) return false;
    if (!fits) {
        diag_error(s->d, "E307", r->loc,
                   "range %s..%s is too large: more than %d separate codes and ranges (each "
                   "code keeps the letter its ends share); a code set holds at most %d",
                   r->a->str, r->b->str, PCR_MAX_SET_RANGES, PCR_MAX_SET_RANGES);
        return false;
    }
    return true;
}

/* A `{ SYSTEM item... }` literal into out (normalized). */
static bool literal(Sema *s, const Node *lit, CodeSet *out)
{
    bool ok = true;
    for (const Node *g = lit->a; g; g = g->next) {
        if (g->kind != N_CODE_GROUP) {
            ok &= g->kind != N_ERROR;
            continue;
        }
        CodeSystem sys = g->name ? code_system_from_name(g->name, strlen(g->name)) : SYS_NONE;
        if (sys == SYS_NONE) {
            sema_unknown_system(s, g->loc, g->name ? g->name : "");
            ok = false;
            continue;
        }
        for (const Node *c = g->a; c; c = c->next) {
            char norm[CODE_MAX_CHARS + 1];
            size_t k;
            switch (c->kind) {
            case N_CODE:
                if (norm_code(s, sys, c, norm, &k)) {
                    CodeKey key = code_key(sys, norm, k);
                    code_set_add(out, key, key);
                } else {
                    ok = false;
                }
                break;
            case N_CODE_RANGE: ok &= add_range(s, sys, c, out); break;
            case N_CODE_PREFIX: ok &= add_prefix(s, sys, c, out); break;
            default: ok = false; break;
            }
        }
    }
    code_set_normalize(out);
    return ok;
}

static bool eval(Sema *s, const Node *e, CodeSet *out)
{
    if (!e) return false;
    switch (e->kind) {
    case N_SET_LIT: return literal(s, e, out);
    case N_NAME: {
        Sym *y = sema_lookup(s, e->name);
        if (!y || y->kind != SYM_CODESET) {
            sema_unknown(s, e->loc, "code set", e->name, SYM_CODESET);
            return false;
        }
        if (s->m.sets[y->index].state == SET_BUSY) {
            Buf chain = {0};
            bool on = false;
            for (uint32_t i = 0; i < s->nbusy; i++) {
                if (s->busy[i] == y->index) on = true;
                if (on) buf_printf(&chain, "%s -> ", s->m.sets[s->busy[i]].name);
            }
            buf_printf(&chain, "%s", e->name);
            buf_putc(&chain, '\0');
            diag_error(s->d, "E305", e->loc, "code set `%s` is defined in terms of itself: %s",
                       e->name, chain.p);
            buf_free(&chain);
            return false;
        }
        build(s, y->index);
        if (s->m.sets[y->index].bad) return false;
        if (!spend(s, s->m.sets[y->index].codes.n, e->loc)) return false;
        set_copy(out, &s->m.sets[y->index].codes);
        return true;
    }
    case N_SETOP: {
        CodeSet a = {0}, b = {0};
        bool ok = eval(s, e->a, &a);
        ok &= eval(s, e->b, &b);
        if (ok) ok = spend(s, a.n + b.n, e->loc);
        if (ok) {
            if (e->op == '-') code_set_diff(out, &a, &b);
            else code_set_union(out, &a, &b);
        }
        code_set_free(&a);
        code_set_free(&b);
        return ok;
    }
    case N_VALUE_LIST:
        if (!e->a) return true; /* `{ }`: the empty set */
        diag_error(s->d, "E203", e->loc,
                   "type mismatch: a code set is expected here, and its codes follow a system "
                   "name (`{ CPT 70551 }`)");
        return false;
    case N_ERROR: return false;
    default:
        diag_error(s->d, "E203", e->loc, "type mismatch: a code set is expected here");
        return false;
    }
}

static void warn_empty(Sema *s, const SSet *set)
{
    if (set->bad || set->codes.n != 0) return;
    if (((const Node *)set->decl)->kind == N_CODESET)
        diag_report(s->d, PCR_SEV_WARNING, "W501", set->loc, "code set `%s` contains no codes",
                    set->name);
    else
        diag_report(s->d, PCR_SEV_WARNING, "W501", set->loc, "this code set contains no codes");
}

static void build(Sema *s, uint32_t si)
{
    if (s->m.sets[si].state != SET_TODO) return;
    const Node *decl = s->m.sets[si].decl;
    s->m.sets[si].state = SET_BUSY;
    sema_reserve((void **)&s->busy, &s->busycap, s->nbusy + 1, sizeof *s->busy);
    s->busy[s->nbusy++] = si;
    CodeSet codes = {0};
    bool ok = eval(s, decl->a, &codes);
    s->nbusy--;
    SSet *set = &s->m.sets[si];
    set->codes = codes;
    set->bad = !ok;
    set->state = SET_DONE;
    sema_effective(s, decl->b, &set->eff_from, &set->eff_through);
    check_size(s, set);
    warn_empty(s, set);
}

void sema_sets_build(Sema *s)
{
    for (uint32_t i = 0; i < s->m.nsets; i++) build(s, i);
}

static uint32_t mark_used(Sema *s, uint32_t si)
{
    SSet *set = &s->m.sets[si];
    if (set->pset == PIDX_NONE) {
        sema_reserve((void **)&s->m.used, &s->usedcap, s->m.nused + 1, sizeof *s->m.used);
        set->pset = s->m.nused;
        s->m.used[s->m.nused++] = si;
    }
    return si;
}

uint32_t sema_set_use(Sema *s, const Node *expr, const char *owner)
{
    if (expr->kind == N_NAME) {
        Sym *y = sema_lookup(s, expr->name);
        if (!y || y->kind != SYM_CODESET) {
            sema_unknown(s, expr->loc, "code set", expr->name, SYM_CODESET);
            return PIDX_NONE;
        }
        build(s, y->index);
        return s->m.sets[y->index].bad ? PIDX_NONE : mark_used(s, y->index);
    }
    if (expr->kind != N_SET_LIT) return PIDX_NONE;
    uint32_t si = s->m.nsets;
    sema_reserve((void **)&s->m.sets, &s->setcap, si + 1, sizeof *s->m.sets);
    Buf name = {0};
    buf_printf(&name, "%s{%u:%u}", owner, expr->loc.line, expr->loc.col);
    SSet *set = &s->m.sets[si];
    *set = (SSet){.name = arena_strndup(s->arena, name.p, name.n), .loc = expr->loc,
                  .decl = expr, .eff_from = DATE_OPEN_FROM, .eff_through = DATE_OPEN_THROUGH,
                  .pset = PIDX_NONE, .state = SET_DONE, .literal = true};
    buf_free(&name);
    s->m.nsets++;
    set->bad = !literal(s, expr, &set->codes);
    check_size(s, set);
    warn_empty(s, set);
    return set->bad ? PIDX_NONE : mark_used(s, si);
}
