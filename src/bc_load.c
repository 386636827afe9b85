/* bc_load.c: the paranoid .pcrb loader (docs/bytecode.md; Lua's lundump.c
 * in spirit).
 *
 * Every byte is read through one small bounds-checked Reader, one per
 * section, so no read can leave the section it belongs to. A count is
 * checked against the bytes that remain before anything is allocated for
 * it, so a forged count cannot cause a large allocation. Everything goes
 * into the new Prog's arena: on failure prog_free() releases it all. The
 * loader checks the byte-level format (lengths, order, UTF-8, checksum);
 * bc_verify() then checks every index and instruction. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bc.h"
#include "bc_format.h"
#include "bytes.h"

/* A window onto the bytes of one section. Reads past its end return 0 and
 * set `overrun`, which the caller checks once per group of reads. */
typedef struct Reader {
    const uint8_t *p; /* next unread byte */
    size_t n;         /* bytes left */
    const char *what; /* what is being read: "truncated <what>" */
    bool overrun;     /* a read ran past the end */
} Reader;

typedef struct Loader {
    Prog *p;         /* the Prog being built (owned until returned) */
    char *err;       /* the caller's message buffer (may be NULL) */
    size_t errlen;
    bool failed;     /* a message has been written: keep the first */
    uint16_t minor;  /* the file's minor version */
} Loader;

static bool fail(Loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(Loader *L, const char *fmt, ...)
{
    if (!L->failed && L->err && L->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(L->err, L->errlen, fmt, ap);
        va_end(ap);
    }
    L->failed = true;
    return false;
}

static inline const uint8_t *rd_bytes(Reader *r, size_t n)
{
    if (r->overrun || n > r->n) {
        r->overrun = true;
        return NULL;
    }
    const uint8_t *s = r->p;
    r->p += n;
    r->n -= n;
    return s;
}

static uint64_t get_le(const uint8_t *s, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v |= (uint64_t)s[i] << (8 * i);
    return v;
}

static uint8_t rd_u8(Reader *r)
{
    const uint8_t *s = rd_bytes(r, 1);
    return s ? s[0] : 0;
}

static inline uint32_t rd_u32(Reader *r)
{
    const uint8_t *s = rd_bytes(r, 4);
    return s ? (uint32_t)bytes_le32((const char *)s) : 0;
}

static inline uint64_t rd_u64(Reader *r)
{
    const uint8_t *s = rd_bytes(r, 8);
    return s ? bytes_le64((const char *)s) : 0;
}

/* Two's complement without implementation-defined conversions. */
static int32_t rd_i32(Reader *r)
{
    uint32_t u = rd_u32(r);
    return u <= INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

static int64_t rd_i64(Reader *r)
{
    uint64_t u = rd_u64(r);
    return u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

/* Reads a count of elements of `size` bytes each and allocates room for
 * them, after checking that the bytes they need are present. *out is never
 * NULL, even for an empty array (base + 0 must be defined). */
static bool rd_array(Loader *L, Reader *r, uint32_t *count, size_t size, void **out)
{
    *count = rd_u32(r);
    if (r->overrun || *count > r->n / size) return fail(L, "truncated %s", r->what);
    *out = arena_alloc(&L->p->arena, (size_t)*count * size);
    return true;
}

static bool rd_u32s(Loader *L, Reader *r, uint32_t *count, uint32_t **out)
{
    void *v = NULL;
    if (!rd_array(L, r, count, 4, &v)) return false;
    *out = v;
    for (uint32_t i = 0; i < *count; i++) (*out)[i] = rd_u32(r);
    return true;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (k > n - i - 1) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += k + 1;
    }
    return true;
}

/* ---- sections ------------------------------------------------------------ */

static bool load_strings(Loader *L, Reader *r)
{
    Prog *p = L->p;
    uint32_t n = rd_u32(r);
    /* Each string takes at least its 4-byte length. */
    if (r->overrun || n > r->n / 4) return fail(L, "truncated %s", r->what);
    if (n) {
        p->strs = arena_alloc(&p->arena, (size_t)n * sizeof *p->strs);
        p->strlens = arena_alloc(&p->arena, (size_t)n * sizeof *p->strlens);
    }
    p->nstrs = n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = rd_u32(r);
        const uint8_t *s = rd_bytes(r, len);
        if (!s) return fail(L, "truncated %s", r->what);
        if (!utf8_valid(s, len)) return fail(L, "string %u is not valid UTF-8", i);
        p->strs[i] = arena_strndup(&p->arena, (const char *)s, len);
        p->strlens[i] = len;
    }
    return true;
}

static bool load_consts(Loader *L, Reader *r)
{
    Prog *p = L->p;
    void *v = NULL;
    if (!rd_array(L, r, &p->nconsts, 8, &v)) return false;
    p->consts = v;
    for (uint32_t i = 0; i < p->nconsts; i++) p->consts[i] = rd_i64(r);
    return true;
}

static bool load_refs(Loader *L, Reader *r) { return rd_u32s(L, r, &L->p->nrefs, &L->p->refs); }

static bool load_schema(Loader *L, Reader *r)
{
    Prog *p = L->p;
    uint32_t n = rd_u32(r);
    p->f_id = rd_u32(r);
    p->f_payer = rd_u32(r);
    p->f_service_date = rd_u32(r);
    p->f_requested_at = rd_u32(r);
    p->f_code = rd_u32(r);
    p->f_service_at = rd_u32(r);
    if (r->overrun || n > r->n / BC_FIELD_LEN) return fail(L, "truncated %s", r->what);
    p->nfields = n;
    p->fields = arena_alloc(&p->arena, (size_t)n * sizeof *p->fields);
    for (uint32_t i = 0; i < n; i++) {
        PField *f = &p->fields[i];
        f->name = rd_u32(r);
        f->type = rd_u8(r);
        f->elem = rd_u8(r);
        f->flags = rd_u8(r);
        f->systems = rd_u8(r);
        f->tag_field = rd_u32(r);
        f->enum_first = rd_u32(r);
        f->enum_count = rd_u32(r);
        f->deflt = rd_i64(r);
    }
    return true;
}

static bool load_sets(Loader *L, Reader *r)
{
    Prog *p = L->p;
    uint32_t nsets = rd_u32(r), nranges = rd_u32(r);
    if (r->overrun || nsets > r->n / BC_SET_LEN ||
        nranges > (r->n - (size_t)nsets * BC_SET_LEN) / BC_RANGE_LEN)
        return fail(L, "truncated %s", r->what);
    p->nsets = nsets;
    p->nranges = nranges;
    p->sets = arena_alloc(&p->arena, (size_t)nsets * sizeof *p->sets);
    p->ranges = arena_alloc(&p->arena, (size_t)nranges * sizeof *p->ranges);
    for (uint32_t i = 0; i < nsets; i++) {
        p->sets[i].name = rd_u32(r);
        p->sets[i].first = rd_u32(r);
        p->sets[i].count = rd_u32(r);
    }
    for (uint32_t i = 0; i < nranges; i++) {
        p->ranges[i].lo = rd_u64(r);
        p->ranges[i].hi = rd_u64(r);
    }
    return true;
}

static bool load_rules(Loader *L, Reader *r)
{
    Prog *p = L->p;
    void *v = NULL;
    if (!rd_array(L, r, &p->nrules, BC_RULE_LEN, &v)) return false;
    p->rules = v;
    for (uint32_t i = 0; i < p->nrules; i++) {
        PRule *ru = &p->rules[i];
        ru->id = rd_u32(r);
        ru->title = rd_u32(r);
        ru->cite_first = rd_u32(r);
        ru->cite_count = rd_u32(r);
        ru->line = rd_u32(r);
        ru->outcome = rd_u8(r);
        ru->dl_unit = rd_u8(r);
        ru->dl_dir = rd_u8(r);
        ru->exempt_all = rd_u8(r);
        ru->dl_amount = rd_i32(r);
        ru->eff_from = rd_i32(r);
        ru->eff_through = rd_i32(r);
        ru->code_off = rd_u32(r);
        ru->code_len = rd_u32(r);
        ru->rev_first = rd_u32(r);
        ru->rev_count = rd_u32(r);
        ru->waive_first = rd_u32(r);
        ru->waive_count = rd_u32(r);
        ru->index_set = rd_u32(r);
        ru->unless_count = rd_u32(r);
    }
    return true;
}

static bool load_index(Loader *L, Reader *r)
{
    Prog *p = L->p;
    uint32_t nsegs = rd_u32(r), nseg_rules = rd_u32(r), nalways = rd_u32(r);
    /* 64-bit arithmetic: the three sizes cannot overflow together. */
    if (r->overrun ||
        (uint64_t)nsegs * BC_SEG_LEN + ((uint64_t)nseg_rules + nalways) * 4 > r->n)
        return fail(L, "truncated %s", r->what);
    p->nsegs = nsegs;
    p->nseg_rules = nseg_rules;
    p->nalways = nalways;
    p->segs = arena_alloc(&p->arena, (size_t)nsegs * sizeof *p->segs);
    p->seg_rules = arena_alloc(&p->arena, (size_t)nseg_rules * 4);
    p->always = arena_alloc(&p->arena, (size_t)nalways * 4);
    for (uint32_t i = 0; i < nsegs; i++) {
        p->segs[i].lo = rd_u64(r);
        p->segs[i].hi = rd_u64(r);
        p->segs[i].first = rd_u32(r);
        p->segs[i].count = rd_u32(r);
    }
    for (uint32_t i = 0; i < nseg_rules; i++) p->seg_rules[i] = rd_u32(r);
    for (uint32_t i = 0; i < nalways; i++) p->always[i] = rd_u32(r);
    return true;
}

static bool load_holidays(Loader *L, Reader *r)
{
    Prog *p = L->p;
    void *v = NULL;
    if (!rd_array(L, r, &p->nholidays, 4, &v)) return false;
    p->holidays = v;
    for (uint32_t i = 0; i < p->nholidays; i++) p->holidays[i] = rd_i32(r);
    return true;
}

static bool load_head(Loader *L, Reader *r)
{
    Prog *p = L->p;
    p->payer = rd_u32(r);
    p->title = rd_u32(r);
    p->source_doc = rd_u32(r);
    p->source_title = rd_u32(r);
    p->contact_first = rd_u32(r);
    p->contact_count = rd_u32(r);
    p->payer_first = rd_u32(r);
    p->payer_count = rd_u32(r);
    p->reviewer = rd_u32(r);
    p->eff_from = rd_i32(r);
    p->eff_through = rd_i32(r);
    return r->overrun ? fail(L, "truncated %s", r->what) : true;
}

static bool load_code(Loader *L, Reader *r)
{
    Prog *p = L->p;
    void *v = NULL;
    if (!rd_array(L, r, &p->ncode, 1, &v)) return false;
    p->code = v;
    if (p->ncode) memcpy(p->code, rd_bytes(r, p->ncode), p->ncode);
    return true;
}

/* Indexed by BcSection. `what` names the contents in "truncated ..." messages. */
static const struct {
    bool (*load)(Loader *, Reader *);
    const char *what;
} section_loaders[BC_SEC__COUNT] = {
    [BC_SEC_STRINGS] = {load_strings, "string table"},
    [BC_SEC_CONSTS] = {load_consts, "constant pool"},
    [BC_SEC_REFS] = {load_refs, "ref pool"},
    [BC_SEC_SCHEMA] = {load_schema, "schema"},
    [BC_SEC_SETS] = {load_sets, "code-set table"},
    [BC_SEC_RULES] = {load_rules, "rule table"},
    [BC_SEC_INDEX] = {load_index, "rule index"},
    [BC_SEC_HOLIDAYS] = {load_holidays, "holiday list"},
    [BC_SEC_HEAD] = {load_head, "policy header"},
    [BC_SEC_CODE] = {load_code, "code section"},
};

/* ---- header and directory ------------------------------------------------ */

static int section_of_tag(uint32_t tag)
{
    for (int s = 0; s < BC_SEC__COUNT; s++)
        if (bc_sections[s].tag == tag) return s;
    return -1;
}

/* Checks the header and returns the body (after the checksum test). */
static bool load_header(Loader *L, const uint8_t *buf, size_t len, Reader *body)
{
    size_t m = len < BC_MAGIC_LEN ? len : BC_MAGIC_LEN;
    if (memcmp(buf, BC_MAGIC, m) != 0) return fail(L, "not a PCR bytecode file (bad magic)");
    if (len < BC_HEADER_LEN)
        return fail(L, "truncated header (%zu of %d bytes)", len, BC_HEADER_LEN);
    unsigned major = (unsigned)get_le(buf + BC_OFF_MAJOR, 2);
    unsigned minor = (unsigned)get_le(buf + BC_OFF_MINOR, 2);
    if (major != BC_VERSION_MAJOR)
        return fail(L, "unsupported format version %u.%u (this pcrvm reads %d.x)", major, minor,
                    BC_VERSION_MAJOR);
    L->minor = (uint16_t)minor;
    uint32_t flags = (uint32_t)get_le(buf + BC_OFF_FLAGS, 4);
    if (flags) return fail(L, "unknown header flags 0x%08x", flags);
    uint32_t body_len = (uint32_t)get_le(buf + BC_OFF_BODYLEN, 4);
    size_t have = len - BC_HEADER_LEN;
    if (body_len > have)
        return fail(L, "truncated file (header says %u body bytes, %zu present)", body_len, have);
    if (body_len < have)
        return fail(L, "trailing data after the body (%zu bytes)", have - body_len);
    uint32_t want = (uint32_t)get_le(buf + BC_OFF_CRC, 4);
    uint32_t got = bc_file_crc(buf, len);
    if (want != got)
        return fail(L, "checksum mismatch (file says 0x%08x, contents are 0x%08x)", want, got);
    L->p->id = (uint32_t)get_le(buf + BC_OFF_ID, 4);
    L->p->version = (uint32_t)get_le(buf + BC_OFF_VERSION, 4);
    L->p->source_hash = get_le(buf + BC_OFF_HASH, 8);
    *body = (Reader){buf + BC_HEADER_LEN, body_len, "section directory", false};
    return true;
}

/* Tags are meant to be ASCII; print them so when they are. */
static const char *tag_text(uint32_t tag, char out[16])
{
    char c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (char)(tag >> (8 * i));
        if (c[i] < 0x21 || c[i] > 0x7e) {
            snprintf(out, 16, "0x%08x", tag);
            return out;
        }
    }
    snprintf(out, 16, "'%.4s'", c);
    return out;
}

/* Reads the directory and each section it lists. Sections must be back to
 * back (no gaps, no overlap) and the known ones in BcSection order; a
 * section this reader does not know is skipped only when the file's minor
 * version is newer than ours. */
static bool load_sections(Loader *L, Reader *body)
{
    const uint8_t *base = body->p;
    size_t body_len = body->n;
    uint32_t nsec = rd_u32(body);
    if (body->overrun || nsec > body->n / BC_DIRENT_LEN)
        return fail(L, "truncated section directory");
    size_t at = 4 + (size_t)nsec * BC_DIRENT_LEN; /* where the next section must start */
    int last = -1;
    for (uint32_t i = 0; i < nsec; i++) {
        uint32_t tag = rd_u32(body), off = rd_u32(body), len = rd_u32(body);
        int s = section_of_tag(tag);
        char tbuf[16];
        const char *name = s >= 0 ? bc_sections[s].name : tag_text(tag, tbuf);
        if (off > body_len || len > body_len - off)
            return fail(L, "section '%s' extends past end of file", name);
        if (off != at)
            return fail(L, "section '%s' starts at %u, expected %zu (sections are contiguous)",
                        name, off, at);
        at = (size_t)off + len;
        if (s < 0) {
            if (L->minor <= BC_VERSION_MINOR) return fail(L, "unknown section %s", name);
            continue; /* added by a newer minor version: safe to skip */
        }
        if (s == last) return fail(L, "duplicate section '%s'", name);
        if (s < last) return fail(L, "section '%s' out of order", name);
        if (s > last + 1) return fail(L, "missing section '%s'", bc_sections[last + 1].name);
        last = s;
        Reader r = {base + off, len, section_loaders[s].what, false};
        if (!section_loaders[s].load(L, &r)) return false;
        if (r.overrun) return fail(L, "truncated %s", r.what);
        if (r.n) return fail(L, "section '%s' has %zu stray bytes at its end", name, r.n);
    }
    if (last < BC_SEC__COUNT - 1) return fail(L, "missing section '%s'", bc_sections[last + 1].name);
    if (at != body_len) return fail(L, "unused bytes after the last section (%zu)", body_len - at);
    return true;
}

/* Parses and verifies a .pcrb image (bc.h). Returns a Prog owned by the
 * caller (prog_free), or NULL with one line in err; nothing leaks either
 * way and buf is not retained. */
Prog *bc_load(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    static const uint8_t empty[1] = {0};
    if (err && errlen) err[0] = '\0';
    if (!buf) buf = empty, len = 0;
    Loader L = {.p = prog_new(), .err = err, .errlen = errlen};
    Reader body = {0};
    if (!load_header(&L, buf, len, &body) || !load_sections(&L, &body) ||
        !bc_verify(L.p, err, errlen)) {
        prog_free(L.p);
        return NULL;
    }
    return L.p;
}
