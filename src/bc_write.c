/* bc_write.c: serializing a Prog into a .pcrb image (docs/bytecode.md).
 *
 * Every value is written field by field at a fixed width, never as a memory
 * image of a struct, so the output has no padding and no pointers and equal
 * Progs give equal bytes. Also home of the format's small shared vocabulary:
 * the section table, CRC-32 and the names of stored rule metadata. */
#include <stdlib.h>
#include <string.h>

#include "bc.h"
#include "bc_format.h"
#include "buf.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define CRC_HAVE_FOLD 1
#else
#define CRC_HAVE_FOLD 0
#endif


const BcSectionInfo bc_sections[BC_SEC__COUNT] = {
#define BC_SECTION_INFO(id, tag, name) {tag, name},
    BC_SECTIONS(BC_SECTION_INFO)
#undef BC_SECTION_INFO
};

/* CRC-32 (IEEE, reflected, zlib-compatible) of p[0 .. n). */
/* CRC-32 continued over n more bytes: crc is the value so far (0 to start);
 * fold: whole 16-byte blocks by carry-less multiplication, when the
 * processor can. */
static uint32_t crc32_more(uint32_t crc, const uint8_t *p, size_t n, bool fold);
static uint32_t crc32_nibbles(uint32_t c, const uint8_t *p, size_t n);
static bool crc32_fold_usable(void);

uint32_t bc_crc32(const uint8_t *p, size_t n) { return crc32_more(0, p, n, crc32_fold_usable()); }
uint32_t bc_crc32_portable(const uint8_t *p, size_t n) { return crc32_more(0, p, n, false); }
bool bc_crc32_hw(void) { return crc32_fold_usable(); }

/* The checksum a file carries: the CRC-32 of every byte of the file, with
 * the checksum field itself read as four zero bytes. len >= BC_HEADER_LEN. */
uint32_t bc_file_crc(const uint8_t *file, size_t len)
{
    static const uint8_t zero[4] = {0};
    uint32_t c = crc32_more(0, file, BC_OFF_CRC, false);
    c = ~crc32_nibbles(~c, zero, 4); /* crc32_more's inversions, around the table loop */
    return crc32_more(c, file + BC_OFF_CRC + 4, len - BC_OFF_CRC - 4, crc32_fold_usable());
}

/* Slicing by 8 pays for its 8 KiB of tables, made on the stack per call,
 * from this many bytes on (a large policy's file: megabytes). */
enum { CRC_SLICE_MIN = 16 << 10 };

/* The CRC of n bytes by half bytes: 16 constants, no tables to make. Entry
 * i is the CRC of the 4-bit value i. c is the running value (inverted). */
static uint32_t crc32_nibbles(uint32_t c, const uint8_t *p, size_t n)
{
    static const uint32_t nib[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
        0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        c = (c >> 4) ^ nib[c & 15];
        c = (c >> 4) ^ nib[c & 15];
    }
    return c;
}

/* The same eight bytes a step (slicing by 8): t[0] is the byte table,
 * t[k][b] the CRC of byte b followed by k zero bytes. */
static uint32_t crc32_slices(uint32_t c, const uint8_t *p, size_t n)
{
    uint32_t t[8][256];
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t x = b;
        for (int k = 0; k < 8; k++) x = x & 1 ? (x >> 1) ^ 0xedb88320u : x >> 1;
        t[0][b] = x;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    for (; n >= 8; n -= 8, p += 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        c = t[7][lo & 0xff] ^ t[6][lo >> 8 & 0xff] ^ t[5][lo >> 16 & 0xff] ^ t[4][lo >> 24] ^
            t[3][hi & 0xff] ^ t[2][hi >> 8 & 0xff] ^ t[1][hi >> 16 & 0xff] ^ t[0][hi >> 24];
    }
    return crc32_nibbles(c, p, n);
}

/* Folding is used from this many bytes on; the header's short pieces
 * (bc_file_crc) and other small buffers take the tables. */
enum { CRC_FOLD_MIN = 256 };

#if CRC_HAVE_FOLD
/* Whether this processor has PCLMULQDQ and SSE4.1, which crc32_fold needs. */
static bool crc32_fold_usable(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c >> 1 & 1) && (c >> 19 & 1);
}

/* The CRC of n bytes (n >= 64, a multiple of 16) by folding with
 * carry-less multiplication (Gopal et al., "Fast CRC Computation for
 * Generic Polynomials Using PCLMULQDQ Instruction", Intel, 2009), with the
 * constants for the reflected polynomial 0xEDB88320 that Chromium's zlib
 * uses: k1, k2 fold four 128-bit lanes 64 bytes on a step, k3, k4 fold
 * them into one lane and then 16 bytes a step, k5 takes the last 128 bits
 * to 64, and a Barrett reduction (P and its quotient) to 32. c is the
 * running value (inverted), as for the table code. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc32_fold(uint32_t c, const uint8_t *p,
                                                                     size_t n)
{
    const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
    const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
    const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);
    const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)c));
    for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
        __m128i y1 = _mm_clmulepi64_si128(x1, k1k2, 0x00), y2 = _mm_clmulepi64_si128(x2, k1k2, 0x00),
                y3 = _mm_clmulepi64_si128(x3, k1k2, 0x00), y4 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
        x1 = _mm_clmulepi64_si128(x1, k1k2, 0x11);
        x2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
        x3 = _mm_clmulepi64_si128(x3, k1k2, 0x11);
        x4 = _mm_clmulepi64_si128(x4, k1k2, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, y1), _mm_loadu_si128((const __m128i *)(const void *)p));
        x2 = _mm_xor_si128(_mm_xor_si128(x2, y2), _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
        x3 = _mm_xor_si128(_mm_xor_si128(x3, y3), _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
        x4 = _mm_xor_si128(_mm_xor_si128(x4, y4), _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
    }
    /* the four lanes into one, then the remaining 16-byte blocks */
    const __m128i next[3] = {x2, x3, x4};
    for (int i = 0; i < 3; i++) {
        __m128i y = _mm_clmulepi64_si128(x1, k3k4, 0x00);
        x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k3k4, 0x11), next[i]), y);
    }
    for (; n >= 16; p += 16, n -= 16) {
        __m128i y = _mm_clmulepi64_si128(x1, k3k4, 0x00);
        x1 = _mm_clmulepi64_si128(x1, k3k4, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, y), _mm_loadu_si128((const __m128i *)(const void *)p));
    }
    /* 128 bits to 64 */
    x2 = _mm_clmulepi64_si128(x1, k3k4, 0x10);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
    x2 = _mm_srli_si128(x1, 4);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00), x2);
    /* Barrett reduction to 32 */
    x2 = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly, 0x10);
    x2 = _mm_clmulepi64_si128(_mm_and_si128(x2, low32), poly, 0x00);
    return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x1, x2), 1);
}
#else
static bool crc32_fold_usable(void) { return false; }
#endif

static uint32_t crc32_more(uint32_t crc, const uint8_t *p, size_t n, bool fold)
{
    uint32_t c = crc ^ 0xffffffffu;
#if CRC_HAVE_FOLD
    if (fold && n >= CRC_FOLD_MIN) {
        size_t m = n & ~(size_t)15;
        c = crc32_fold(c, p, m);
        p += m;
        n -= m;
    }
#else
    (void)fold;
#endif
    c = n >= CRC_SLICE_MIN ? crc32_slices(c, p, n) : crc32_nibbles(c, p, n);
    return c ^ 0xffffffffu;
}

/* Stored rule metadata names (static strings); NULL when not valid in a
 * .pcrb. */
const char *bc_outcome_name(unsigned outcome)
{
    switch (outcome) {
    case OUT_NOTIFICATION: return "notification";
    case OUT_PRIOR_AUTH: return "prior_auth";
    case OUT_NOT_COVERED: return "not_covered";
    case OUT_EXEMPT: return "exempt";
    case OUT_ADVISORY: return "advisory";
    default: return NULL; /* OUT_NONE is a decision, never a rule's outcome */
    }
}

/* "hours", "days", "business_days"; NULL for 0 or an unknown unit. */
const char *bc_unit_name(unsigned unit)
{
    switch (unit) {
    case U_HOURS: return "hours";
    case U_DAYS: return "days";
    case U_BUSINESS_DAYS: return "business_days";
    default: return NULL;
    }
}

/* "before", "after"; NULL otherwise. */
const char *bc_dir_name(unsigned dir)
{
    switch (dir) {
    case DIR_BEFORE: return "before";
    case DIR_AFTER: return "after";
    default: return NULL;
    }
}

/* ---- writing ------------------------------------------------------------ */

static void put_i32(Buf *b, int32_t v) { buf_put_u32(b, (uint32_t)v); }
static void put_i64(Buf *b, int64_t v) { buf_put_u64(b, (uint64_t)v); }

static void put_u32_at(Buf *b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++) b->p[at + (size_t)i] = (char)(v >> (8 * i));
}

static void put_u32s(Buf *b, const uint32_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) buf_put_u32(b, v[i]);
}

static void write_strings(Buf *b, const Prog *p)
{
    buf_put_u32(b, p->nstrs);
    for (uint32_t i = 0; i < p->nstrs; i++) {
        buf_put_u32(b, p->strlens[i]);
        buf_put(b, p->strs[i], p->strlens[i]);
    }
}

static void write_consts(Buf *b, const Prog *p)
{
    buf_put_u32(b, p->nconsts);
    for (uint32_t i = 0; i < p->nconsts; i++) put_i64(b, p->consts[i]);
}

static void write_refs(Buf *b, const Prog *p)
{
    buf_put_u32(b, p->nrefs);
    put_u32s(b, p->refs, p->nrefs);
}

static void write_schema(Buf *b, const Prog *p)
{
    buf_put_u32(b, p->nfields);
    buf_put_u32(b, p->f_id);
    buf_put_u32(b, p->f_payer);
    buf_put_u32(b, p->f_service_date);
    buf_put_u32(b, p->f_requested_at);
    buf_put_u32(b, p->f_code);
    buf_put_u32(b, p->f_service_at);
    for (uint32_t i = 0; i < p->nfields; i++) {
        const PField *f = &p->fields[i];
        buf_put_u32(b, f->name);
        buf_put_u8(b, f->type);
        buf_put_u8(b, f->elem);
        buf_put_u8(b, f->flags);
        buf_put_u8(b, f->systems);
        buf_put_u32(b, f->tag_field);
        buf_put_u32(b, f->enum_first);
        buf_put_u32(b, f->enum_count);
        put_i64(b, f->deflt);
    }
}

static void write_sets(Buf *b, const Prog *p)
{
    buf_put_u32(b, p->nsets);
    buf_put_u32(b, p->nranges);
    for (uint32_t i = 0; i < p->nsets; i++) {
        buf_put_u32(b, p->sets[i].name);
        buf_put_u32(b, p->sets[i].first);
        buf_put_u32(b, p->sets[i].count);
    }
    for (uint32_t i = 0; i < p->nranges; i++) {
        buf_put_u64(b, p->ranges[i].lo);
        buf_put_u64(b, p->ranges[i].hi);
    }
}

static void write_rules(Buf *b, const Prog *p)
{
    buf_put_u32(b, p->nrules);
    for (uint32_t i = 0; i < p->nrules; i++) {
        const PRule *r = &p->rules[i];
        buf_put_u32(b, r->id);
        buf_put_u32(b, r->title);
        buf_put_u32(b, r->cite_first);
        buf_put_u32(b, r->cite_count);
        buf_put_u32(b, r->line);
        buf_put_u8(b, r->outcome);
        buf_put_u8(b, r->dl_unit);
        buf_put_u8(b, r->dl_dir);
        buf_put_u8(b, r->exempt_all);
        put_i32(b, r->dl_amount);
        put_i32(b, r->eff_from);
        put_i32(b, r->eff_through);
        buf_put_u32(b, r->code_off);
        buf_put_u32(b, r->code_len);
        buf_put_u32(b, r->rev_first);
        buf_put_u32(b, r->rev_count);
        buf_put_u32(b, r->waive_first);
        buf_put_u32(b, r->waive_count);
        buf_put_u32(b, r->index_set);
        buf_put_u32(b, r->unless_count);
    }
}

static void write_index(Buf *b, const Prog *p)
{
    buf_put_u32(b, p->nsegs);
    buf_put_u32(b, p->nseg_rules);
    buf_put_u32(b, p->nalways);
    for (uint32_t i = 0; i < p->nsegs; i++) {
        buf_put_u64(b, p->segs[i].lo);
        buf_put_u64(b, p->segs[i].hi);
        buf_put_u32(b, p->segs[i].first);
        buf_put_u32(b, p->segs[i].count);
    }
    put_u32s(b, p->seg_rules, p->nseg_rules);
    put_u32s(b, p->always, p->nalways);
}

static void write_holidays(Buf *b, const Prog *p)
{
    buf_put_u32(b, p->nholidays);
    for (uint32_t i = 0; i < p->nholidays; i++) put_i32(b, p->holidays[i]);
}

static void write_head(Buf *b, const Prog *p)
{
    buf_put_u32(b, p->payer);
    buf_put_u32(b, p->title);
    buf_put_u32(b, p->source_doc);
    buf_put_u32(b, p->source_title);
    buf_put_u32(b, p->contact_first);
    buf_put_u32(b, p->contact_count);
    buf_put_u32(b, p->payer_first);
    buf_put_u32(b, p->payer_count);
    buf_put_u32(b, p->reviewer);
    put_i32(b, p->eff_from);
    put_i32(b, p->eff_through);
}

static void write_code(Buf *b, const Prog *p)
{
    buf_put_u32(b, p->ncode);
    if (p->ncode) buf_put(b, p->code, p->ncode); /* code may be NULL when empty */
}

/* Indexed by BcSection: the writers, in file order. */
static void (*const section_writers[BC_SEC__COUNT])(Buf *, const Prog *) = {
    [BC_SEC_STRINGS] = write_strings, [BC_SEC_CONSTS] = write_consts,
    [BC_SEC_REFS] = write_refs,       [BC_SEC_SCHEMA] = write_schema,
    [BC_SEC_SETS] = write_sets,       [BC_SEC_RULES] = write_rules,
    [BC_SEC_INDEX] = write_index,     [BC_SEC_HOLIDAYS] = write_holidays,
    [BC_SEC_HEAD] = write_head,       [BC_SEC_CODE] = write_code,
};

/* Serializes p (which should have passed bc_verify) into a malloc'ed image
 * owned by the caller; *len gets its size. Deterministic. */
uint8_t *bc_write(const Prog *p, size_t *len)
{
    Buf b = {0};
    buf_reserve(&b, 4096);
    /* Header, patched once the body is complete. */
    buf_put(&b, BC_MAGIC, BC_MAGIC_LEN);
    buf_put_u16(&b, BC_VERSION_MAJOR);
    buf_put_u16(&b, BC_VERSION_MINOR);
    buf_put_u32(&b, 0); /* flags */
    buf_put_u32(&b, 0); /* body length */
    buf_put_u32(&b, 0); /* CRC */
    buf_put_u32(&b, p->id);
    buf_put_u32(&b, p->version);
    buf_put_u64(&b, p->source_hash);

    /* Section directory, then the sections back to back. Offsets are
     * relative to the start of the body. */
    size_t dir = b.n;
    buf_put_u32(&b, BC_SEC__COUNT);
    for (int s = 0; s < BC_SEC__COUNT; s++) {
        buf_put_u32(&b, bc_sections[s].tag);
        buf_put_u32(&b, 0);
        buf_put_u32(&b, 0);
    }
    for (int s = 0; s < BC_SEC__COUNT; s++) {
        size_t start = b.n;
        section_writers[s](&b, p);
        size_t ent = dir + 4 + (size_t)s * BC_DIRENT_LEN;
        put_u32_at(&b, ent + 4, (uint32_t)(start - BC_HEADER_LEN));
        put_u32_at(&b, ent + 8, (uint32_t)(b.n - start));
    }

    size_t body = b.n - BC_HEADER_LEN;
    put_u32_at(&b, BC_OFF_BODYLEN, (uint32_t)body);
    put_u32_at(&b, BC_OFF_CRC, bc_file_crc((const uint8_t *)b.p, b.n));
    *len = b.n;
    return (uint8_t *)b.p;
}
