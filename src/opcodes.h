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
 * stored in .pcrb files: append only, never reorder. */

/* Operand formats and their encoded sizes (little-endian). */
#define OPND_NONE 0  /* no operand */
#define OPND_FIELD 1 /* u8: schema field index */
#define OPND_CONST 2 /* u16: constant pool index */
#define OPND_STR 3   /* u32: string table index */
#define OPND_SET 4   /* u16: code set index */
#define OPND_JUMP 5  /* u16: forward offset from the end of this instruction */

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
    OP(RET, OPND_NONE, "b", "", "end of the block: the top is the rule's condition")

typedef enum Opcode {
#define OPCODE_ENUM(name, opnd, pops, pushes, doc) OP_##name,
    PCR_OPCODES(OPCODE_ENUM)
#undef OPCODE_ENUM
        OP__COUNT
} Opcode;
