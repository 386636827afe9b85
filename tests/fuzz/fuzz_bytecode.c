/* fuzz_bytecode.c: the input is a .pcrb file, given to pcr_policy_load.
 *
 * The verifier is the security boundary (bc.h): whatever it accepts must
 * run on any record. So every policy that loads is disassembled, saved,
 * and evaluated on sample records built for it (fz_sample_records: its own
 * payer, dates in its window, values from its own schema, sets and
 * constants, so the records reach its rules), and every decision line is
 * checked (fz_eval_batch). A file of this reader's minor version that
 * loads must also be written back byte for byte (docs/bytecode.md: "any
 * file the loader accepts is written back byte for byte"). And codetext_put
 * (codetext.h: "any interval ... is printed without crashing") prints each of
 * its canonical code sets.
 *
 * Random bytes rarely get past the CRC-32 in the header, so the custom
 * mutator (LLVMFuzzerCustomMutator) repairs the body length and checksum
 * after most mutations (leaving 1 in 16 as mutated, for the loader's own
 * checks), and besides libFuzzer's byte-level mutations it makes
 * structure-aware ones: it overwrites a 32-bit word of a section with a
 * boundary value (0, 1, -1, 64, 65, the old value +-1, a flipped bit) and
 * rewrites instruction bytes inside the code section (an opcode, an operand,
 * a jump offset) or a rule's block offset and length. */
#include <stdlib.h>
#include <string.h>

#include "bc.h"
#include "bc_format.h"
#include "buf.h"
#include "fuzz_util.h"
#include "codetext.h"
#include "pcr/pcr.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
                                 uint8_t *out, size_t max_out, unsigned int seed);

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t next(uint64_t *s) /* splitmix64, high half */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* ---- the mutator ------------------------------------------------------------ */

/* One section as the directory places it: bytes data[off .. off + len). */
typedef struct Sec {
    uint32_t tag;
    size_t off, len;
} Sec;

/* Reads the section directory; returns how many sections lie wholly inside
 * the file (at most 16). */
static size_t sections(const uint8_t *data, size_t size, Sec *out)
{
    if (size < BC_HEADER_LEN + 4) return 0;
    const uint8_t *body = data + BC_HEADER_LEN;
    size_t blen = size - BC_HEADER_LEN, n = 0;
    uint32_t count = rd32(body);
    for (uint32_t i = 0; i < count && i < 16; i++) {
        size_t at = 4 + (size_t)i * BC_DIRENT_LEN;
        if (at + BC_DIRENT_LEN > blen) break;
        uint32_t off = rd32(body + at + 4), len = rd32(body + at + 8);
        if (off > blen || len > blen - off) continue;
        out[n++] = (Sec){rd32(body + at), BC_HEADER_LEN + (size_t)off, len};
    }
    return n;
}

static const Sec *find_sec(const Sec *v, size_t n, uint32_t tag)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].tag == tag) return &v[i];
    return NULL;
}

static uint32_t boundary(uint32_t old, uint64_t *s)
{
    switch (next(s) % 10) {
    case 0: return 0;
    case 1: return 1;
    case 2: return UINT32_MAX;
    case 3: return 64;
    case 4: return 65;
    case 5: return old + 1;
    case 6: return old - 1;
    case 7: return 0x80000000u;
    case 8: return old ^ (1u << (next(s) % 32));
    default: return next(s) % 256;
    }
}

/* Overwrites an aligned word of a random section (or of the body). */
static void poke_word(uint8_t *data, size_t size, const Sec *v, size_t n, uint64_t *s)
{
    size_t lo = BC_HEADER_LEN, hi = size;
    if (n) {
        const Sec *sec = &v[next(s) % n];
        lo = sec->off;
        hi = sec->off + sec->len;
    }
    if (hi < lo + 4) return;
    size_t at = lo + 4 * (next(s) % ((hi - lo) / 4));
    wr32(data + at, boundary(rd32(data + at), s));
}

/* Opcodes are numbered from 0 without gaps (opcodes.h). */
static uint32_t opcode_count(void)
{
    uint32_t n = 0;
    while (bc_op_info((int)n)) n++;
    return n;
}

/* Rewrites a byte of the code section (after its u32 length), or a rule's
 * block offset or length. */
static void poke_code(uint8_t *data, size_t size, const Sec *v, size_t n, uint64_t *s)
{
    const Sec *code = find_sec(v, n, bc_sections[BC_SEC_CODE].tag);
    const Sec *rules = find_sec(v, n, bc_sections[BC_SEC_RULES].tag);
    if (rules && rules->len >= 4 + BC_RULE_LEN && next(s) % 4 == 0) {
        size_t nrules = (rules->len - 4) / BC_RULE_LEN;
        size_t at = rules->off + 4 + BC_RULE_LEN * (next(s) % nrules) + (next(s) % 2 ? 36 : 40);
        uint32_t old = rd32(data + at);
        wr32(data + at, next(s) % 2 ? old + 1 + next(s) % 3 : old - 1 - next(s) % 3);
        return;
    }
    if (!code || code->len <= 4) {
        poke_word(data, size, v, n, s);
        return;
    }
    uint8_t *p = data + code->off + 4 + next(s) % (code->len - 4);
    switch (next(s) % 4) {
    case 0: *p = (uint8_t)(next(s) % (opcode_count() + 2)); break; /* an opcode, or just past */
    case 1: *p = (uint8_t)(*p + 1); break;
    case 2: *p = (uint8_t)(*p - 1); break;
    default: *p = (uint8_t)next(s); break;
    }
}

/* Sets the body length and the checksum so the loader looks further: the
 * whole file's, the header's own bytes included (bc_file_crc).
 * LLVMFuzzerTestOneInput checks that a file that loads has this one, so
 * that the mutator cannot fall behind the format (a checksum of the body
 * alone, as version 2 had it, made every mutated file fail the check). */
static void fix_header(uint8_t *data, size_t size)
{
    if (size < BC_HEADER_LEN || memcmp(data, BC_MAGIC, BC_MAGIC_LEN) != 0) return;
    wr32(data + BC_OFF_BODYLEN, (uint32_t)(size - BC_HEADER_LEN));
    wr32(data + BC_OFF_CRC, bc_file_crc(data, size));
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    uint64_t s = seed;
    uint32_t pick = next(&s) % 100;
    Sec v[16];
    size_t n = sections(data, size, v);
    if (pick < 45 || size < BC_HEADER_LEN + 8) size = LLVMFuzzerMutate(data, size, max_size);
    else if (pick < 70) poke_word(data, size, v, n, &s);
    else poke_code(data, size, v, n, &s);
    if (next(&s) % 16) fix_header(data, size);
    return size;
}

/* Splices a slice of d2 into d1 at the same offset: both are usually
 * .pcrb files of similar shape, so the result often still parses. */
size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2,
                                 uint8_t *out, size_t max_out, unsigned int seed)
{
    uint64_t s = seed;
    size_t n = s1 < max_out ? s1 : max_out;
    memcpy(out, d1, n);
    size_t common = n < s2 ? n : s2;
    if (common) {
        size_t at = next(&s) % common, len = 1 + next(&s) % 64;
        if (len > common - at) len = common - at;
        memcpy(out + at, d2 + at, len);
    }
    fix_header(out, n);
    return n;
}

/* ---- the target ------------------------------------------------------------- */

/* codetext_put (codetext.h) on every canonical code set of p: the verifier only
 * proves sets sorted and disjoint; canonical also means not adjacent. */
static void list_sets(const Prog *p)
{
    Buf b = {0};
    for (uint32_t i = 0; i < p->nsets; i++) {
        const PSet *s = &p->sets[i];
        const CodeRange *r = p->ranges ? p->ranges + s->first : NULL;
        bool canonical = r != NULL;
        for (uint32_t k = 1; canonical && k < s->count; k++)
            canonical = r[k - 1].hi != UINT64_MAX && r[k - 1].hi + 1 < r[k].lo;
        if (!canonical) continue;
        b.n = 0;
        codetext_put(r, s->count, &b);
    }
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pcr_policy *p = NULL;
    char err[256] = "";
    if (pcr_policy_load(data, size, &p, err, sizeof err) != PCR_OK) {
        FZ_CHECK(p == NULL && err[0], "a rejection without a message, or with a policy");
        return 0;
    }
    FZ_CHECK(bc_file_crc(data, size) == rd32(data + BC_OFF_CRC),
             "the mutator's checksum is not the loader's (the format changed?)");
    FILE *null = fz_null_stream();
    pcr_policy_disasm(p, null);
    list_sets(p->prog);
    FZ_CHECK(pcr_policy_list(p, "2026-03-02", null) == PCR_ERR_USAGE, "listed a loaded policy");
    fprintf(null, "%s %s %s %zu\n", pcr_policy_id(p), pcr_policy_version(p), pcr_policy_payer(p),
            pcr_policy_rule_count(p));

    uint8_t *bc = NULL;
    size_t n = 0;
    FZ_CHECK(pcr_policy_save(p, &bc, &n) == PCR_OK, "pcr_policy_save failed");
    unsigned minor = (unsigned)data[BC_OFF_MINOR] | (unsigned)data[BC_OFF_MINOR + 1] << 8;
    if (minor == BC_VERSION_MINOR) {
        size_t i = 0;
        while (i < n && i < size && bc[i] == data[i]) i++;
        FZ_CHECK(n == size && i == n, "an accepted file is not written back byte for byte "
                 "(%zu bytes in, %zu out, first difference at byte %zu)", size, n, i);
    } else {
        pcr_policy *again = NULL;
        FZ_CHECK(pcr_policy_load(bc, n, &again, err, sizeof err) == PCR_OK,
                 "the policy's own bytecode is rejected: %s", err);
        pcr_policy_free(again);
    }
    free(bc);

    Buf recs = {0};
    fz_sample_records(p, &recs);
    pcr_engine *e = pcr_engine_new();
    FZ_CHECK(pcr_engine_add(e, p, err, sizeof err) == PCR_OK, "engine_add: %s", err);
    fz_eval_batch(e, recs.p, recs.n, NULL);
    pcr_engine_free(e);
    buf_free(&recs);
    return 0;
}
