/* bc.h: the .pcrb bytecode file: writer, paranoid loader, verifier,
 * disassembler. docs/bytecode.md specifies the format.
 *
 * The verifier is the security boundary: a Prog that passes bc_verify() can
 * be run by the VM on any record without out-of-bounds access, unbounded
 * execution or stack overflow. bc_load() always verifies. */
#ifndef PCR_BC_H
#define PCR_BC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "prog.h"

enum {
    BC_VERSION_MAJOR = 3, /* a reader rejects any other major version; 2: shape-first code
                             keys; 3: the checksum covers the header, rules cite several
                             places, the advisory outcome, the service_at role */
    BC_VERSION_MINOR = 0,
};

/* Serializes p. Deterministic: equal Progs give equal bytes. Returns a
 * malloc'ed buffer owned by the caller. */
uint8_t *bc_write(const Prog *p, size_t *len);

/* Parses and verifies a .pcrb image (buf is not retained). Returns NULL and
 * writes one line into err on any defect, e.g. "truncated constant pool",
 * "checksum mismatch (file says 0x1234abcd, body is 0x99887766)",
 * "rule 3 (hl_mri): jump target 812 out of range". */
Prog *bc_load(const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Checks every table index, interval order, rule block, opcode, operand,
 * jump target (forward, onto an instruction boundary, inside the block) and
 * the stack types and depth along every path. */
bool bc_verify(const Prog *p, char *err, size_t errlen);

/* Prints the header, tables and each rule's instructions. */
void bc_disasm(const Prog *p, FILE *out);

/* Operand size in bytes of an opcode (0 for OPND_NONE); -1 if op is not a
 * valid opcode. */
int bc_operand_size(int op);
/* "LOAD", "INSET", ...; NULL if op is not a valid opcode. */
const char *bc_opcode_name(int op);

#endif
