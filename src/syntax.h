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

#endif
