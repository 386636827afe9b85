/* opcodes.h: the one list of PCR's instructions (an X-macro, as in Wren).
 *
 * Each rule is compiled to one straight-line block of code that leaves one
 * three-valued boolean (true, false, unknown) on the stack and returns it.
 * Every jump goes forward, so every block terminates.
 *
 * OP(name, operand, pops, pushes, meaning)
 *   operand: the format of the bytes after the opcode (see OPND_* below)
 *   pops / pushes: the stack types consumed and produced, one letter each:
 *     b  three-valued bool         i  64-bit integer (int, money in cents,
 *     s  string                       date in days, datetime in seconds,
 *     c  code key                     enum member index)
 *     l  list of code keys         m  list of strings
 *     ?  depends on the operand (LOAD: the field's type)
 *   A value loaded from an absent field without a default is "unknown";
 *   an operation with an unknown input yields unknown (AND/OR short-circuit
 *   on a known false/true as three-valued logic requires).
 *
 * The enum, the name table, operand sizes, the verifier's type checks and
 * the disassembler are all generated from this list. Opcode numbers are
 * stored in .pcrb files: append only, never reorder.
 *
 * Fused instructions. The last entries each do the work of a common
 * sequence that begins with LOAD (a field tested against a set, a mask or
 * a constant) in one dispatch. PCR_FUSED names each one's parts: it means
 * exactly LOAD of its field, then `second` with its u16 operand, then
 * `third` (no operand) when there is one. The verifier proves a fused
 * instruction by stepping those parts over the stack types; the explainer
 * reads it back as them; the emitter writes one wherever the sequence
 * would be. Their operand is the field (u8) then the set or constant (u16). */
#ifndef PCR_OPCODES_H
#define PCR_OPCODES_H

#include <stdbool.h>


/* Operand formats and their encoded sizes (little-endian). */
#define OPND_NONE 0  /* no operand */
#define OPND_FIELD 1 /* u8: schema field index */
#define OPND_CONST 2 /* u16: constant pool index */
#define OPND_STR 3   /* u32: string table index */
#define OPND_SET 4   /* u16: code set index */
#define OPND_JUMP 5  /* u16: forward offset from the end of this instruction */
#define OPND_FIELD_SET 6   /* u8 field, then u16 code set index (fused) */
#define OPND_FIELD_CONST 7 /* u8 field, then u16 constant pool index (fused) */

/* The encoded size of an operand format, in bytes. */
#define OPND_BYTES(f)                                                                            \
    ((f) == OPND_NONE         ? 0                                                                \
     : (f) == OPND_FIELD      ? 1                                                                \
     : (f) == OPND_STR        ? 4                                                                \
     : (f) == OPND_FIELD_SET || (f) == OPND_FIELD_CONST ? 3                                      \
                              : 2)

#define PCR_OPCODES(OP)                                                                          \
    OP(LOAD, OPND_FIELD, "", "?", "push the field's value; unknown if absent with no default")   \
    OP(PRESENT, OPND_FIELD, "", "b", "push whether the field is in the record (or defaulted)")  \
    OP(CONST, OPND_CONST, "", "i", "push an integer constant")                                  \
    OP(STR, OPND_STR, "", "s", "push a string constant")                                        \
    OP(TRUE, OPND_NONE, "", "b", "push true")                                                   \
    OP(FALSE, OPND_NONE, "", "b", "push false")                                                 \
    OP(EQ, OPND_NONE, "ii", "b", "integer a == b")                                              \
    OP(NE, OPND_NONE, "ii", "b", "integer a != b")                                              \
    OP(LT, OPND_NONE, "ii", "b", "integer a < b")                                               \
    OP(LE, OPND_NONE, "ii", "b", "integer a <= b")                                              \
    OP(GT, OPND_NONE, "ii", "b", "integer a > b")                                               \
    OP(GE, OPND_NONE, "ii", "b", "integer a >= b")                                              \
    OP(SEQ, OPND_NONE, "ss", "b", "strings equal (bytewise)")                                   \
    OP(SNE, OPND_NONE, "ss", "b", "strings differ (bytewise)")                                  \
    OP(INSET, OPND_SET, "c", "b", "code is in the code set")                                    \
    OP(ANYSET, OPND_SET, "l", "b", "some code of the list is in the code set (false if empty)") \
    OP(INMASK, OPND_CONST, "i", "b", "bit (1 << value) is set in the constant (enum membership)") \
    OP(ANYSTR, OPND_STR, "m", "b", "some string of the list equals the constant")               \
    OP(NOT, OPND_NONE, "b", "b", "three-valued not")                                            \
    OP(AND, OPND_NONE, "bb", "b", "three-valued and")                                           \
    OP(OR, OPND_NONE, "bb", "b", "three-valued or")                                             \
    OP(JFALSE, OPND_JUMP, "b", "b", "if the top is a known false, jump (the top stays)")        \
    OP(JTRUE, OPND_JUMP, "b", "b", "if the top is a known true, jump (the top stays)")          \
    OP(RET, OPND_NONE, "b", "", "end of the block: the top is the rule's condition")              \
    OP(LDINSET, OPND_FIELD_SET, "", "b", "LOAD field; INSET set")                                \
    OP(LDANYSET, OPND_FIELD_SET, "", "b", "LOAD field; ANYSET set")                              \
    OP(LDINMASK, OPND_FIELD_CONST, "", "b", "LOAD field; INMASK constant")                       \
    OP(LDEQK, OPND_FIELD_CONST, "", "b", "LOAD field; CONST constant; EQ")                       \
    OP(LDNEK, OPND_FIELD_CONST, "", "b", "LOAD field; CONST constant; NE")                       \
    OP(LDLTK, OPND_FIELD_CONST, "", "b", "LOAD field; CONST constant; LT")                       \
    OP(LDLEK, OPND_FIELD_CONST, "", "b", "LOAD field; CONST constant; LE")                       \
    OP(LDGTK, OPND_FIELD_CONST, "", "b", "LOAD field; CONST constant; GT")                       \
    OP(LDGEK, OPND_FIELD_CONST, "", "b", "LOAD field; CONST constant; GE")

/* FUSE(name, second, third): fused instruction OP_name is LOAD of its field,
 * then OP_second with its u16 operand, then OP_third (-1: none). */
#define PCR_FUSED(FUSE)                                                                          \
    FUSE(LDINSET, OP_INSET, -1)                                                                  \
    FUSE(LDANYSET, OP_ANYSET, -1)                                                                \
    FUSE(LDINMASK, OP_INMASK, -1)                                                                \
    FUSE(LDEQK, OP_CONST, OP_EQ)                                                                 \
    FUSE(LDNEK, OP_CONST, OP_NE)                                                                 \
    FUSE(LDLTK, OP_CONST, OP_LT)                                                                 \
    FUSE(LDLEK, OP_CONST, OP_LE)                                                                 \
    FUSE(LDGTK, OP_CONST, OP_GT)                                                                 \
    FUSE(LDGEK, OP_CONST, OP_GE)

typedef enum Opcode {
#define OPCODE_ENUM(name, opnd, pops, pushes, doc) OP_##name,
    PCR_OPCODES(OPCODE_ENUM)
#undef OPCODE_ENUM
        OP__COUNT
} Opcode;

/* The parts of a fused instruction (see PCR_FUSED); is_fused false for the
 * others. */
typedef struct FusedParts {
    bool is_fused;
    int second, third; /* opcodes; third -1 when none */
} FusedParts;

static inline FusedParts opcode_fused(unsigned op)
{
    switch (op) {
#define FUSED_CASE(name, second, third)                                                          \
    case OP_##name: return (FusedParts){true, (second), (third)};
        PCR_FUSED(FUSED_CASE)
#undef FUSED_CASE
    default: return (FusedParts){false, -1, -1};
    }
}

#endif
