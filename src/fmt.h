/* fmt.h: the canonical layout of a .pcr source (pcrc fmt).
 *
 * The formatter works on the scanner's tokens (syntax_scan) and the bytes
 * between them (whitespace, comments, the commas a code list may carry),
 * never on the syntax tree, so every comment is kept where it was. It keeps
 * the author's line breaks and rewrites only the whitespace: indentation,
 * the spaces between tokens, blank lines and the column of trailing
 * comments. The rules are in docs/cli.md ("pcrc fmt"). */
#ifndef PCR_FMT_H
#define PCR_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

/* Formats source file `file` of d. Returns the formatted text (xmalloc'd,
 * NUL-terminated, *out_len bytes; the caller frees it), or NULL when the
 * source has syntax errors (reported into d, as pcrc --check would) or the
 * formatted text would not hold the same tokens and comments in the same
 * order (an internal error, reported as E998). Formatting formatted text
 * gives it back unchanged. */
char *fmt_source(Diags *d, uint32_t file, size_t *out_len);

#endif
