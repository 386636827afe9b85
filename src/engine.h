/* engine.h: what the library's other front ends (csv.c) need of the engine
 * beyond include/pcr/pcr.h. Defined in api.c. */
#ifndef PCR_ENGINE_H
#define PCR_ENGINE_H

#include <stddef.h>

#include "pcr/pcr.h"
#include "prog.h"
#include "rec.h"

/* The schema every policy of e shares (the first added's), and the decoder
 * built for it; NULL while e has no policy. */
const Prog *engine_schema(const pcr_engine *e);
const RecDecoder *engine_decoder(const pcr_engine *e);

/* Makes an error the decision of the current record without decoding
 * anything: msg (NUL-terminated, copied, cut to 127 bytes) is its message,
 * id[0..id_len) its id (NULL: none), which must stay valid until the next
 * record. *line, *len receive the decision line, as
 * pcr_engine_eval gives it; pcr_engine_decision describes it afterwards. */
void engine_fail(pcr_engine *e, const char *id, size_t id_len, const char *msg, const char **line,
                 size_t *len);

#endif
