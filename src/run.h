/* run.h: the streaming run loop (run_) behind pcr_engine_run_opts, and the
 * one engine hook it needs from api.c. */
#ifndef PCR_RUN_H
#define PCR_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pcr/pcr.h"

/* Makes the engine's decision for record recno, a line longer than
 * REC_MAX_LINE that is not kept: an error line with "id":null and the
 * message "record N: line longer than 1048576 bytes". *line and *len stay
 * valid until the engine's next record (as pcr_engine_eval's). */
void api_engine_too_long(pcr_engine *e, uint64_t recno, const char **line, size_t *len);

/* pcr_engine_eval without the copy: appends record recno's decision line
 * (json[0..len), len <= REC_MAX_LINE) to out, which the caller owns, and
 * returns the decision. pcr_engine_decision describes it afterwards. */
pcr_decision_kind api_engine_eval_into(pcr_engine *e, const char *json, size_t len, uint64_t recno,
                                       Buf *out);

/* Decides the lines of text[0..n) in order, as api_engine_eval_into each
 * (a line longer than REC_MAX_LINE as api_engine_too_long), numbering them
 * from *recno + 1 (*recno ends at the last one decided) and counting them in
 * st->records and st->by_decision. Lines end in '\n'; the last one may
 * lack it (the end of the input). Stops after the line that makes out->n
 * reach out_limit or that finds *stop set (stop may be NULL); returns the
 * bytes of the lines decided, their newlines included. When numbered is
 * false the numbers are not known yet (*recno counts from anywhere): it
 * also stops before the first line whose decision or explanation may
 * name its number, any line the fast reader does not take (an error
 * line names it) and, when explaining, every line. */
size_t api_engine_eval_lines(pcr_engine *e, const char *text, size_t n, uint64_t *recno, Buf *out,
                             size_t out_limit, volatile sig_atomic_t *stop, pcr_stats *st, bool numbered);

#endif
