/* run.h: the streaming run loop (run_) behind pcr_engine_run_opts, and the
 * one engine hook it needs from api.c. */
#ifndef PCR_RUN_H
#define PCR_RUN_H

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

#endif
