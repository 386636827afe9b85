/* lint_solve.c: boxes of requests where a condition is definitely true or
 * false (lint_solve.h is the contract). */
#include "lint_solve.h"

#include <inttypes.h>
#include <string.h>

#include "dates.h"

void lsol_init(Solver *sv, Arena *arena, const Model *m)
{
    memset(sv, 0, sizeof *sv);
    sv->arena = arena;
    sv->m = m;
    sv->f_service_date = PIDX_NONE;
    for (uint32_t i = 0; i < m->nfields; i++)
        if (strcmp(m->fields[i].name, "service_date") == 0 && m->fields[i].type == VT_DATE)
            sv->f_service_date = i;
}

/* ---- box lists ------------------------------------------------------------ */

static void bl_push(Solver *sv, BoxList *l, Box b)
{
    if (l->n == LSOL_MAX_BOXES) {
        sv->overflow = true;
        return;
    }
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        Box *v = arena_alloc(sv->arena, cap * sizeof *v);
        if (l->n) memcpy(v, l->v, l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = b;
}

static void bl_cat(Solver *sv, BoxList *dst, BoxList src)
{
    for (uint32_t i = 0; i < src.n; i++) bl_push(sv, dst, src.v[i]);
}

static Box box_copy(Solver *sv, const Box *b)
{
    Box c;
    size_t sz = sv->m->nfields * sizeof *c.f;
    c.f = arena_alloc(sv->arena, sz ? sz : 1);
    if (sz) memcpy(c.f, b->f, sz);
    return c;
}

static int64_t date_lo(void) { return date_from_ymd(1900, 1, 1); }
static int64_t date_hi(void) { return date_from_ymd(2999, 12, 31); }

BoxList lsol_all(Solver *sv, int32_t from, int32_t through)
{
    const Model *m = sv->m;
    Box b;
    b.f = arena_alloc(sv->arena, (m->nfields ? m->nfields : 1) * sizeof *b.f);
    for (uint32_t i = 0; i < m->nfields; i++) {
        const SField *f = &m->fields[i];
        Dom *d = &b.f[i];
        memset(d, 0, sizeof *d);
        d->st = DS_ANY;
        switch (f->type) {
        case VT_BOOL: d->mask = 3; break;
        case VT_ENUM: d->mask = f->nmembers >= 64 ? UINT64_MAX : (1ull << f->nmembers) - 1; break;
        case VT_INT:
        case VT_MONEY: d->lo = INT64_MIN; d->hi = INT64_MAX; break; /* rec.c: all of int64 */
        case VT_DATE: d->lo = date_lo(); d->hi = date_hi(); break;
        case VT_DATETIME: d->lo = date_lo() * 86400; d->hi = date_hi() * 86400 + 86399; break;
        case VT_CODE: {
            CodeRange *r = arena_alloc(sv->arena, SYS_COUNT * sizeof *r);
            uint32_t n = 0;
            for (unsigned s = 1; s < SYS_COUNT; s++)
                if (f->systems & SYS_BIT(s))
                    r[n++] = (CodeRange){(CodeKey)s << 60, ((CodeKey)s << 60) | ((1ull << 60) - 1)};
            d->cr = r;
            d->ncr = n;
            break;
        }
        default: break;
        }
    }
    BoxList out = {0};
    if (sv->f_service_date != PIDX_NONE) {
        Dom *d = &b.f[sv->f_service_date];
        if (from != DATE_OPEN_FROM && from > d->lo) d->lo = from;
        if (through != DATE_OPEN_THROUGH && through < d->hi) d->hi = through;
        if (d->lo > d->hi) return out;
    }
    bl_push(sv, &out, b);
    return out;
}

/* ---- code intervals ------------------------------------------------------- */

/* a ∩ b into the arena. */
static uint32_t cr_and(Solver *sv, const CodeRange *a, uint32_t na, const CodeRange *b, uint32_t nb,
                       const CodeRange **out)
{
    CodeRange *r = arena_alloc(sv->arena, (na + nb + 1) * sizeof *r);
    uint32_t n = 0, i = 0, j = 0;
    while (i < na && j < nb) {
        CodeKey lo = a[i].lo > b[j].lo ? a[i].lo : b[j].lo;
        CodeKey hi = a[i].hi < b[j].hi ? a[i].hi : b[j].hi;
        if (lo <= hi) r[n++] = (CodeRange){lo, hi};
        if (a[i].hi < b[j].hi) i++;
        else j++;
    }
    *out = r;
    return n;
}

/* a − b into the arena. */
static uint32_t cr_minus(Solver *sv, const CodeRange *a, uint32_t na, const CodeRange *b,
                         uint32_t nb, const CodeRange **out)
{
    /* The complement of b, then an intersection. */
    CodeRange *c = arena_alloc(sv->arena, (nb + 1) * sizeof *c);
    uint32_t nc = 0;
    CodeKey next = 0;
    bool more = true;
    for (uint32_t j = 0; j < nb && more; j++) {
        if (b[j].lo > next) c[nc++] = (CodeRange){next, b[j].lo - 1};
        if (b[j].hi == UINT64_MAX) more = false;
        else next = b[j].hi + 1;
    }
    if (more) c[nc++] = (CodeRange){next, UINT64_MAX};
    return cr_and(sv, a, na, c, nc, out);
}

/* a ∪ b into the arena (sorted, merged). */
static uint32_t cr_or(Solver *sv, const CodeRange *a, uint32_t na, const CodeRange *b, uint32_t nb,
                      const CodeRange **out)
{
    CodeRange *r = arena_alloc(sv->arena, (na + nb + 1) * sizeof *r);
    uint32_t n = 0, i = 0, j = 0;
    while (i < na || j < nb) {
        CodeRange x = (j == nb || (i < na && a[i].lo <= b[j].lo)) ? a[i++] : b[j++];
        if (n && (r[n - 1].hi == UINT64_MAX || x.lo <= r[n - 1].hi + 1)) {
            if (x.hi > r[n - 1].hi) r[n - 1].hi = x.hi;
        } else {
            r[n++] = x;
        }
    }
    *out = r;
    return n;
}

/* ---- atoms ------------------------------------------------------------------ */

static bool cmp_holds(int op, int64_t v, int64_t k)
{
    switch (op) {
    case CMP_EQ: return v == k;
    case CMP_NE: return v != k;
    case CMP_LT: return v < k;
    case CMP_LE: return v <= k;
    case CMP_GT: return v > k;
    default: return v >= k;
    }
}

/* The operator that means not (v op k). */
static int cmp_not(int op)
{
    static const int inv[] = {[CMP_EQ] = CMP_NE, [CMP_NE] = CMP_EQ, [CMP_LT] = CMP_GE,
                              [CMP_LE] = CMP_GT, [CMP_GT] = CMP_LE, [CMP_GE] = CMP_LT};
    return inv[op];
}

/* k op v written as v op' k. */
static int cmp_mirror(int op)
{
    static const int mir[] = {[CMP_EQ] = CMP_EQ, [CMP_NE] = CMP_NE, [CMP_LT] = CMP_GT,
                              [CMP_LE] = CMP_GE, [CMP_GT] = CMP_LT, [CMP_GE] = CMP_LE};
    return mir[op];
}

/* Appends b narrowed to int field value `op k` (one or two boxes). */
static void narrow_int(Solver *sv, const Box *b, uint32_t field, int op, int64_t k, BoxList *out)
{
    const SField *f = &sv->m->fields[field];
    Dom d = b->f[field];
    d.st = DS_VALUE;
    if (f->type == VT_ENUM || f->type == VT_BOOL) {
        uint64_t keep = 0;
        uint32_t n = f->type == VT_BOOL ? 2 : (f->nmembers > 64 ? 64 : f->nmembers);
        for (uint32_t i = 0; i < n; i++)
            if (cmp_holds(op, (int64_t)i, k)) keep |= 1ull << i;
        d.mask &= keep;
        if (!d.mask) return;
        Box c = box_copy(sv, b);
        c.f[field] = d;
        bl_push(sv, out, c);
        return;
    }
    int64_t lo = d.lo, hi = d.hi;
    switch (op) {
    case CMP_EQ: if (k > lo) lo = k; if (k < hi) hi = k; break;
    case CMP_LT:
        if (k == INT64_MIN) return;
        if (k - 1 < hi) hi = k - 1;
        break;
    case CMP_LE: if (k < hi) hi = k; break;
    case CMP_GT:
        if (k == INT64_MAX) return;
        if (k + 1 > lo) lo = k + 1;
        break;
    case CMP_GE: if (k > lo) lo = k; break;
    default: /* CMP_NE: below k, or above */
        narrow_int(sv, b, field, CMP_LT, k, out);
        narrow_int(sv, b, field, CMP_GT, k, out);
        return;
    }
    if (lo > hi) return;
    Box c = box_copy(sv, b);
    d.lo = lo;
    d.hi = hi;
    c.f[field] = d;
    bl_push(sv, out, c);
}

static bool str_in(const char *s, const char *const *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0) return true;
    return false;
}

/* Appends b narrowed to string field value == s (eq) or != s. */
static void narrow_str(Solver *sv, const Box *b, uint32_t field, bool eq, const char *s, BoxList *out)
{
    Dom d = b->f[field];
    d.st = DS_VALUE;
    if (eq) {
        if ((d.eq && strcmp(d.eq, s) != 0) || str_in(s, d.ne, d.nne)) return;
        d.eq = s;
    } else {
        if (d.eq && strcmp(d.eq, s) == 0) return;
        if (!d.eq && !str_in(s, d.ne, d.nne)) {
            const char **ne = arena_alloc(sv->arena, (d.nne + 1) * sizeof *ne);
            if (d.nne) memcpy(ne, d.ne, d.nne * sizeof *ne);
            ne[d.nne++] = s;
            d.ne = ne;
        }
    }
    Box c = box_copy(sv, b);
    c.f[field] = d;
    bl_push(sv, out, c);
}

/* Appends b narrowed to code field in set (pos) or not in it. */
static void narrow_inset(Solver *sv, const Box *b, const Cond *c, bool pos, BoxList *out)
{
    const SSet *set = &sv->m->sets[c->set];
    Dom d = b->f[c->field];
    d.st = DS_VALUE;
    uint32_t sd = sv->f_service_date;
    bool windowed = set->eff_from != DATE_OPEN_FROM || set->eff_through != DATE_OPEN_THROUGH;
    if (pos) {
        d.ncr = cr_and(sv, d.cr, d.ncr, set->codes.r, (uint32_t)set->codes.n, &d.cr);
        if (!d.ncr) return;
        Box x = box_copy(sv, b);
        x.f[c->field] = d;
        if (windowed && sd != PIDX_NONE) {
            Dom *w = &x.f[sd];
            if (set->eff_from != DATE_OPEN_FROM && set->eff_from > w->lo) w->lo = set->eff_from;
            if (set->eff_through != DATE_OPEN_THROUGH && set->eff_through < w->hi)
                w->hi = set->eff_through;
            if (w->lo > w->hi) return;
        }
        bl_push(sv, out, x);
        return;
    }
    Dom n = d;
    n.ncr = cr_minus(sv, d.cr, d.ncr, set->codes.r, (uint32_t)set->codes.n, &n.cr);
    if (n.ncr) {
        Box x = box_copy(sv, b);
        x.f[c->field] = n;
        bl_push(sv, out, x);
    }
    if (windowed && sd != PIDX_NONE && d.ncr) {
        /* A code of the set on a day outside the set's window. */
        if (set->eff_from != DATE_OPEN_FROM && b->f[sd].lo < set->eff_from) {
            Box x = box_copy(sv, b);
            x.f[c->field] = d;
            x.f[sd].hi = x.f[sd].hi < set->eff_from - 1 ? x.f[sd].hi : set->eff_from - 1;
            bl_push(sv, out, x);
        }
        if (set->eff_through != DATE_OPEN_THROUGH && b->f[sd].hi > set->eff_through) {
            Box x = box_copy(sv, b);
            x.f[c->field] = d;
            x.f[sd].lo = x.f[sd].lo > set->eff_through + 1 ? x.f[sd].lo : set->eff_through + 1;
            bl_push(sv, out, x);
        }
    }
}

/* Appends b narrowed to: some element of list field in set (pos), or none. */
static void narrow_anyset(Solver *sv, const Box *b, const Cond *c, bool pos, BoxList *out)
{
    const SSet *set = &sv->m->sets[c->set];
    Dom d = b->f[c->field];
    d.st = DS_VALUE;
    if (pos) {
        const CodeRange *left;
        if (!cr_minus(sv, set->codes.r, (uint32_t)set->codes.n, d.forb, d.nforb, &left)) return;
        const CodeRange **rq = arena_alloc(sv->arena, (d.nrqs + 1) * sizeof *rq);
        uint32_t *nrq = arena_alloc(sv->arena, (d.nrqs + 1) * sizeof *nrq);
        if (d.nrqs) {
            memcpy(rq, d.rq, d.nrqs * sizeof *rq);
            memcpy(nrq, d.nrq, d.nrqs * sizeof *nrq);
        }
        rq[d.nrqs] = set->codes.r;
        nrq[d.nrqs] = (uint32_t)set->codes.n;
        d.rq = rq;
        d.nrq = nrq;
        d.nrqs++;
    } else {
        d.nforb = cr_or(sv, d.forb, d.nforb, set->codes.r, (uint32_t)set->codes.n, &d.forb);
        for (uint32_t i = 0; i < d.nrqs; i++) {
            const CodeRange *left;
            if (!cr_minus(sv, d.rq[i], d.nrq[i], d.forb, d.nforb, &left)) return;
        }
    }
    Box x = box_copy(sv, b);
    x.f[c->field] = d;
    bl_push(sv, out, x);
}

/* Appends b narrowed to: some string of list field equals s (pos), or none. */
static void narrow_anystr(Solver *sv, const Box *b, uint32_t field, const char *s, bool pos,
                          BoxList *out)
{
    Dom d = b->f[field];
    d.st = DS_VALUE;
    const char ***arr = pos ? &d.req : &d.ne;
    uint32_t *n = pos ? &d.nreq : &d.nne;
    if (str_in(s, pos ? d.ne : d.req, pos ? d.nne : d.nreq)) return;
    if (!str_in(s, *arr, *n)) {
        const char **v = arena_alloc(sv->arena, (*n + 1) * sizeof *v);
        if (*n) memcpy(v, *arr, *n * sizeof *v);
        v[(*n)++] = s;
        *arr = v;
    }
    Box x = box_copy(sv, b);
    x.f[field] = d;
    bl_push(sv, out, x);
}

/* Appends b with field given as null, when it may be. */
static void narrow_null(Solver *sv, const Box *b, uint32_t field, BoxList *out)
{
    if (b->f[field].st == DS_VALUE || (sv->m->fields[field].flags & PF_REQUIRED)) return;
    Box x = box_copy(sv, b);
    x.f[field].st = DS_NULL;
    bl_push(sv, out, x);
}

/* Appends b narrowed to the atom c (a test of one field) being true (pos)
 * or false on a value: the caller adds the null case. */
static void narrow_value(Solver *sv, const Box *b, const Cond *c, bool pos, BoxList *out)
{
    if (b->f[c->field].st == DS_NULL) return;
    switch (c->kind) {
    case C_BOOL: narrow_int(sv, b, c->field, CMP_EQ, pos ? 1 : 0, out); break;
    case C_INMASK: {
        Dom d = b->f[c->field];
        d.st = DS_VALUE;
        d.mask &= pos ? (uint64_t)c->mask : ~(uint64_t)c->mask;
        if (!d.mask) return;
        Box x = box_copy(sv, b);
        x.f[c->field] = d;
        bl_push(sv, out, x);
        break;
    }
    case C_INSET: narrow_inset(sv, b, c, pos, out); break;
    case C_ANYSET: narrow_anyset(sv, b, c, pos, out); break;
    case C_ANYSTR: narrow_anystr(sv, b, c->field, c->str, pos, out); break;
    default: break;
    }
}

/* ---- conditions ------------------------------------------------------------- */

static void solve(Solver *sv, const Box *b, const Cond *c, bool want, BoxList *out);

/* A comparison with one field and one constant: field, op as `field op k`. */
static bool cmp_field_const(const Cond *c, uint32_t *field, int *op)
{
    if (c->x.is_field == c->y.is_field) return false;
    *field = c->x.is_field ? c->x.field : c->y.field;
    *op = c->x.is_field ? c->cmp : cmp_mirror(c->cmp);
    return true;
}

static void solve_cmp(Solver *sv, const Box *b, const Cond *c, bool want, BoxList *out)
{
    uint32_t field;
    int op;
    if (!cmp_field_const(c, &field, &op)) {
        /* Two fields (or two constants): taken as unconstrained. */
        sv->approx = true;
        bl_push(sv, out, *b);
        return;
    }
    /* x != k is not (x == k), null included: reduce it to == */
    if (op == CMP_NE) {
        op = CMP_EQ;
        want = !want;
    }
    int eff = want ? op : cmp_not(op);
    if (b->f[field].st == DS_NULL) {
        /* nothing: the null case is below */
    } else if (c->kind == C_ICMP) {
        narrow_int(sv, b, field, eff, c->x.is_field ? c->y.k : c->x.k, out);
    } else {
        const char *s = c->x.is_field ? c->y.s : c->x.s;
        narrow_str(sv, b, field, eff == CMP_EQ, s, out);
    }
    /* Values first, so that the first box (the witness) gives values. */
    if (!want) narrow_null(sv, b, field, out);
}

static void solve(Solver *sv, const Box *b, const Cond *c, bool want, BoxList *out)
{
    if (sv->overflow) return;
    switch (c->kind) {
    case C_TRUE:
        if (want) bl_push(sv, out, *b);
        break;
    case C_FALSE:
        if (!want) bl_push(sv, out, *b);
        break;
    case C_NOT: solve(sv, b, c->a, !want, out); break;
    case C_AND:
    case C_OR: {
        /* AND true / OR false: both sides; otherwise either side. */
        if ((c->kind == C_AND) == want) {
            BoxList mid = {0};
            solve(sv, b, c->a, want, &mid);
            for (uint32_t i = 0; i < mid.n; i++) solve(sv, &mid.v[i], c->b, want, out);
        } else {
            solve(sv, b, c->a, want, out);
            solve(sv, b, c->b, want, out);
        }
        break;
    }
    case C_PRESENT:
        if (!want) {
            narrow_null(sv, b, c->field, out);
        } else if (b->f[c->field].st != DS_NULL) {
            Box x = box_copy(sv, b);
            x.f[c->field].st = DS_VALUE;
            bl_push(sv, out, x);
        }
        break;
    case C_ICMP:
    case C_SCMP: solve_cmp(sv, b, c, want, out); break;
    default:
        narrow_value(sv, b, c, want, out);
        if (!want) narrow_null(sv, b, c->field, out);
        break;
    }
}

BoxList lsol_refine(Solver *sv, BoxList in, const Cond *c, bool want)
{
    BoxList out = {0};
    for (uint32_t i = 0; i < in.n; i++) solve(sv, &in.v[i], c, want, &out);
    return out;
}

/* in narrowed to service dates within [from, through]. */
static BoxList within(Solver *sv, BoxList in, int32_t from, int32_t through)
{
    uint32_t sd = sv->f_service_date;
    if (sd == PIDX_NONE) return in;
    BoxList out = {0};
    for (uint32_t i = 0; i < in.n; i++) {
        Box x = box_copy(sv, &in.v[i]);
        Dom *d = &x.f[sd];
        if (from != DATE_OPEN_FROM && from > d->lo) d->lo = from;
        if (through != DATE_OPEN_THROUGH && through < d->hi) d->hi = through;
        if (d->lo <= d->hi) bl_push(sv, &out, x);
    }
    return out;
}

BoxList lsol_fires(Solver *sv, BoxList in, const SRule *r)
{
    BoxList l = within(sv, in, r->eff_from, r->eff_through);
    l = lsol_refine(sv, l, r->when, true);
    for (uint32_t i = 0; i < r->nunless; i++) l = lsol_refine(sv, l, r->unless[i], false);
    return l;
}

BoxList lsol_not_fires(Solver *sv, BoxList in, const SRule *r)
{
    BoxList out = {0};
    if (r->eff_from != DATE_OPEN_FROM && r->eff_from > INT32_MIN)
        bl_cat(sv, &out, within(sv, in, DATE_OPEN_FROM, r->eff_from - 1));
    if (r->eff_through != DATE_OPEN_THROUGH)
        bl_cat(sv, &out, within(sv, in, r->eff_through + 1, DATE_OPEN_THROUGH));
    bl_cat(sv, &out, lsol_refine(sv, in, r->when, false));
    for (uint32_t i = 0; i < r->nunless; i++) bl_cat(sv, &out, lsol_refine(sv, in, r->unless[i], true));
    return out;
}

/* ---- witnesses ---------------------------------------------------------------- */

/* Whether k is the key of a well-formed code of its system. */
static bool code_real(CodeKey k)
{
    CodeSystem sys = code_key_system(k);
    char txt[CODE_MAX_CHARS + 1], norm[CODE_MAX_CHARS + 1];
    size_t n = code_key_format(k, txt), nn;
    const char *why;
    if (sys == SYS_NONE || sys >= SYS_COUNT || strchr(txt, '?')) return false;
    if (!code_normalize(sys, txt, n, norm, &nn, &why)) return false;
    return code_key(sys, norm, nn) == k;
}

/* A well-formed code in r[0..n), into *k. */
static bool pick_code(const CodeRange *r, uint32_t n, CodeKey *k)
{
    static const struct { CodeSystem sys; const char *code; } samples[] = {
        {SYS_CPT, "99213"}, {SYS_CPT, "0001U"}, {SYS_HCPCS, "A0021"}, {SYS_HCPCS, "J3490"},
        {SYS_REV, "0120"},  {SYS_ICD10, "R69"}, {SYS_ICD10, "Z0000"}, {SYS_POS, "11"},
    };
    for (uint32_t i = 0; i < n; i++) {
        bool ok;
        CodeKey c[4] = {r[i].lo, code_key_next(r[i].lo, &ok), r[i].hi, 0};
        if (!ok) c[1] = r[i].lo;
        c[3] = code_key_prev(r[i].hi, &ok);
        if (!ok) c[3] = r[i].hi;
        for (int j = 0; j < 4; j++)
            if (c[j] >= r[i].lo && c[j] <= r[i].hi && code_real(c[j])) {
                *k = c[j];
                return true;
            }
        for (size_t j = 0; j < sizeof samples / sizeof *samples; j++) {
            CodeKey s = code_key(samples[j].sys, samples[j].code, strlen(samples[j].code));
            if (s >= r[i].lo && s <= r[i].hi) {
                *k = s;
                return true;
            }
        }
    }
    return false;
}

static void put_code(Buf *out, CodeKey k)
{
    char txt[CODE_MAX_CHARS + 1];
    size_t n = code_key_format(k, txt);
    buf_put_json_str(out, txt, n);
}

static int64_t pick_int(const Dom *d)
{
    if (d->lo <= 0 && d->hi >= 0) return 0;
    return d->lo > 0 ? d->lo : d->hi;
}

/* Writes the value of field f in d; false when none is well-formed. */
static bool put_value(Solver *sv, const SField *f, const Dom *d, Buf *out)
{
    char tmp[32];
    switch (f->type) {
    case VT_BOOL: buf_puts(out, d->mask & 1 ? "false" : "true"); return true;
    case VT_INT: buf_printf(out, "%" PRId64, pick_int(d)); return true;
    case VT_MONEY: {
        int64_t v = pick_int(d);
        uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        buf_printf(out, "%s%" PRIu64 ".%02" PRIu64, v < 0 ? "-" : "", a / 100, a % 100);
        return true;
    }
    case VT_DATE:
        date_format((int32_t)d->lo, tmp);
        buf_put_json_str(out, tmp, strlen(tmp));
        return true;
    case VT_DATETIME: {
        /* Whole minutes: the record's form has no seconds to spare. */
        int64_t v = d->lo % 60 ? d->lo + (60 - d->lo % 60) : d->lo;
        if (v > d->hi) return false;
        datetime_format(v, tmp);
        buf_put_json_str(out, tmp, strlen(tmp));
        return true;
    }
    case VT_ENUM:
        for (uint32_t i = 0; i < f->nmembers && i < 64; i++)
            if (d->mask & (1ull << i)) {
                buf_put_json_str(out, f->members[i], strlen(f->members[i]));
                return true;
            }
        return false;
    case VT_CODE: {
        CodeKey k;
        if (!pick_code(d->cr, d->ncr, &k)) return false;
        put_code(out, k);
        return true;
    }
    case VT_STRING: {
        if (d->eq) {
            buf_put_json_str(out, d->eq, strlen(d->eq));
            return true;
        }
        for (int i = 0;; i++) {
            snprintf(tmp, sizeof tmp, i ? "other%d" : "other", i);
            if (!str_in(tmp, d->ne, d->nne)) break;
        }
        buf_put_json_str(out, tmp, strlen(tmp));
        return true;
    }
    case VT_LIST:
        buf_putc(out, '[');
        if (f->elem == VT_CODE) {
            for (uint32_t i = 0; i < d->nrqs; i++) {
                const CodeRange *left;
                uint32_t n = cr_minus(sv, d->rq[i], d->nrq[i], d->forb, d->nforb, &left);
                CodeKey k;
                if (!pick_code(left, n, &k)) return false;
                if (i) buf_putc(out, ',');
                put_code(out, k);
            }
        } else {
            for (uint32_t i = 0; i < d->nreq; i++) {
                if (i) buf_putc(out, ',');
                buf_put_json_str(out, d->req[i], strlen(d->req[i]));
            }
        }
        buf_putc(out, ']');
        return true;
    default: return false;
    }
}

bool lsol_witness(Solver *sv, const Box *b, const char *id, Buf *out)
{
    const Model *m = sv->m;
    Buf w = {0};
    bool ok = true;
    buf_puts(&w, "{\"id\":");
    buf_put_json_str(&w, id, strlen(id));
    buf_puts(&w, ",\"payer\":");
    buf_put_json_str(&w, m->payer ? m->payer : "", m->payer ? strlen(m->payer) : 0);
    for (uint32_t i = 0; i < m->nfields && ok; i++) {
        const SField *f = &m->fields[i];
        const Dom *d = &b->f[i];
        if (strcmp(f->name, "id") == 0 || strcmp(f->name, "payer") == 0) continue;
        if (d->st == DS_ANY && !(f->flags & PF_REQUIRED)) continue;
        buf_puts(&w, ",");
        buf_put_json_str(&w, f->name, strlen(f->name));
        buf_putc(&w, ':');
        if (d->st == DS_NULL) buf_puts(&w, "null");
        else ok = put_value(sv, f, d, &w);
    }
    buf_putc(&w, '}');
    if (ok) buf_put(out, w.p, w.n);
    buf_free(&w);
    return ok;
}
