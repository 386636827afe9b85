/* syntax.h: the front end: reentrant flex scanner + pure bison parser.
 *
 * grammar/lexer.l and grammar/parser.y are the sources; their generated C
 * lives in the build directory. */
#ifndef PCR_SYNTAX_H
#define PCR_SYNTAX_H

#include "ast.h"
#include "diag.h"

/* Parses source file `file` (already registered with diags_add_file) into
 * its list of declarations, allocated in `arena`. Syntax errors are
 * reported into d; the parser recovers at declaration and clause
 * boundaries, so several errors are found in one run and the returned tree
 * may contain N_ERROR nodes. Never returns a tree with dangling pointers. */
Node *parse_file(Arena *arena, Diags *d, uint32_t file);

/* One token as the scanner returned it: kind is a T_* value of the
 * generated parser.h; off and len locate its text in the source, line is
 * its (1-based) line. Comments and whitespace are not tokens: they are the
 * bytes between tokens, with the commas the scanner drops inside a code
 * list (`CPT 70551, 70552`) and a leading byte-order mark. */
typedef struct SynTok {
    int kind;
    size_t off, len;
    uint32_t line;
} SynTok;

/* Scans source file `file` (registered with diags_add_file) into *out
 * (xmalloc'd, *n tokens, the caller frees it; values the scanner builds go
 * to arena) without parsing. False when the scanner reported an error
 * (into d) or gave up; *out then holds the tokens before it. */
bool syntax_scan(Arena *arena, Diags *d, uint32_t file, SynTok **out, size_t *n);

#endif
