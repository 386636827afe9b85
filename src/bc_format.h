/* bc_format.h: the .pcrb layout shared by the bc_ modules (writer, loader,
 * verifier, disassembler). docs/bytecode.md is the specification; this
 * header only names its constants. Internal: nothing outside bc_*.c uses it.
 *
 * The names of stored rule metadata (bc_outcome_name ...) live in
 * bc_write.c, beside the Outcome and DurationUnit values of ast.h. */
#ifndef PCR_BC_FORMAT_H
#define PCR_BC_FORMAT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* PNG-style magic: the high-bit first byte catches 7-bit transfers, "\r\n"
 * catches CRLF -> LF conversion, 0x1a stops DOS `type`, the final "\n"
 * catches LF -> CRLF conversion. */
#define BC_MAGIC "\x89PCR\r\n\x1a\n"

enum {
    BC_MAGIC_LEN = 8,
    BC_HEADER_LEN = 40, /* magic .. source hash; the body follows */
    BC_DIRENT_LEN = 12, /* one section directory entry: tag, offset, length */

    /* Header field offsets (all little-endian). */
    BC_OFF_MAJOR = 8,    /* u16 */
    BC_OFF_MINOR = 10,   /* u16 */
    BC_OFF_FLAGS = 12,   /* u32: none defined in 1.x; must be 0 */
    BC_OFF_BODYLEN = 16, /* u32: bytes after the header */
    BC_OFF_CRC = 20,     /* u32: CRC-32 (IEEE) of the body */
    BC_OFF_ID = 24,      /* u32: string index of the policy id */
    BC_OFF_VERSION = 28, /* u32: string index of the policy version */
    BC_OFF_HASH = 32,    /* u64: FNV-1a 64 of the sources */

    /* Fixed record sizes inside sections. */
    BC_FIELD_LEN = 28,
    BC_SET_LEN = 12,
    BC_RANGE_LEN = 16,
    BC_RULE_LEN = 68,
    BC_SEG_LEN = 24,
    BC_HEAD_LEN = 36, /* the 'header' section: 7 u32 + 2 i32 */

    /* Limits the verifier enforces beyond prog.h's. */
    BC_MAX_DEADLINE = 10000, /* PRule.dl_amount: the language's 0..10000 */
};

/* A section tag is 4 ASCII bytes read as a little-endian u32, so a hex dump
 * shows the name. */
#define BC_TAG(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/* The sections of a 1.x body, in the one order they must appear.
 * S(id, tag, name used in messages) */
#define BC_SECTIONS(S)                              \
    S(STRINGS, BC_TAG('S', 'T', 'R', 'S'), "strings")   \
    S(CONSTS, BC_TAG('C', 'N', 'S', 'T'), "constants")  \
    S(REFS, BC_TAG('R', 'E', 'F', 'S'), "refs")         \
    S(SCHEMA, BC_TAG('S', 'C', 'H', 'M'), "schema")     \
    S(SETS, BC_TAG('S', 'E', 'T', 'S'), "sets")         \
    S(RULES, BC_TAG('R', 'U', 'L', 'E'), "rules")       \
    S(INDEX, BC_TAG('I', 'N', 'D', 'X'), "index")       \
    S(HOLIDAYS, BC_TAG('H', 'O', 'L', 'I'), "holidays") \
    S(HEAD, BC_TAG('H', 'E', 'A', 'D'), "header")       \
    S(CODE, BC_TAG('C', 'O', 'D', 'E'), "code")

typedef enum BcSection {
#define BC_SECTION_ENUM(id, tag, name) BC_SEC_##id,
    BC_SECTIONS(BC_SECTION_ENUM)
#undef BC_SECTION_ENUM
        BC_SEC__COUNT
} BcSection;

typedef struct BcSectionInfo {
    uint32_t tag;
    const char *name;
} BcSectionInfo;

/* Indexed by BcSection (defined in bc_write.c). */
extern const BcSectionInfo bc_sections[BC_SEC__COUNT];

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of n bytes: by
 * carry-less multiplication where the processor has it (bc_crc32_hw). */
uint32_t bc_crc32(const uint8_t *p, size_t n);
/* The same by table lookups only (for tests that compare the two). */
uint32_t bc_crc32_portable(const uint8_t *p, size_t n);
/* Whether bc_crc32 folds by carry-less multiplication here. */
bool bc_crc32_hw(void);
/* The checksum stored in a file's header: CRC-32 of the whole file (header
 * and body) with the checksum field read as zeros. len >= BC_HEADER_LEN. */
uint32_t bc_file_crc(const uint8_t *file, size_t len);

/* Names of the stored rule metadata (ast.h's Outcome, DurationUnit and
 * DIR_*): "prior_auth", "hours", "before", ...; NULL for a value that is not
 * valid in a .pcrb. The verifier uses them as validity tests. */
const char *bc_outcome_name(unsigned outcome);
const char *bc_unit_name(unsigned unit);
const char *bc_dir_name(unsigned dir);

/* What the verifier and disassembler know of one opcode, generated from the
 * PCR_OPCODES X-macro in bc_verify.c. */
typedef struct BcOpInfo {
    const char *name;   /* "LOAD" */
    uint8_t opnd;       /* OPND_* format */
    uint8_t opnd_size;  /* bytes after the opcode */
    const char *pops;   /* stack types consumed, deepest first ("ii") */
    const char *pushes; /* stack types produced ("?" = the field's type) */
} BcOpInfo;

/* The opcode's description, or NULL when op is not a valid opcode. */
const BcOpInfo *bc_op_info(int op);

/* Reads a little-endian operand of size 0, 1, 2 or 4 at p. */
uint32_t bc_get_operand(const uint8_t *p, unsigned size);

#endif
