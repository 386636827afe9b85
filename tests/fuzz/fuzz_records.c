/* fuzz_records.c: the input is a JSON Lines batch, evaluated against the
 * shipped policies (every policies/NAME.pcr and policies/examples/demo.pcr, compiled
 * once in LLVMFuzzerInitialize into one engine).
 *
 * Properties checked, besides every sanitizer report:
 *   - line by line through pcr_engine_eval (fz_eval_batch): every input line
 *     gives exactly one decision line, ending in its only '\n', that is one
 *     valid JSON object with a well-formed "decision", "id" and "policy";
 *     a record that is decided is one jansson accepts as an object, and its
 *     decision echoes its "id";
 *   - the same batch streamed through pcr_engine_run (from fmemopen) gives
 *     exactly the concatenation of those lines, one per input line. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_util.h"
#include "pcr/pcr.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set once by LLVMFuzzerInitialize (see fuzz_util.h). */
static pcr_engine *engine;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    engine = fz_payer_engine("fuzz_records");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Buf lines = {0};
    size_t records = fz_eval_batch(engine, (const char *)data, size, &lines);
    if (size > 0) {
        FILE *in = fmemopen((void *)data, size, "r");
        char *streamed = NULL;
        size_t slen = 0;
        FILE *out = open_memstream(&streamed, &slen);
        FZ_CHECK(in && out, "fmemopen/open_memstream failed");
        pcr_stats st;
        pcr_status rc = pcr_engine_run(engine, in, out, &st);
        fclose(in);
        fclose(out);
        FZ_CHECK(rc == PCR_OK, "pcr_engine_run failed (%d)", (int)rc);
        FZ_CHECK(st.records == records && st.bytes == size,
                 "pcr_engine_run counted %llu records, %llu bytes; the batch has %zu, %zu",
                 (unsigned long long)st.records, (unsigned long long)st.bytes, records, size);
        pcr_engine_print_stats(engine, &st, fz_null_stream());
        FZ_CHECK(slen == lines.n && memcmp(streamed, lines.p, slen) == 0,
                 "pcr_engine_run's output differs from line-by-line evaluation:\n%.*s\n---\n%.*s",
                 (int)slen, streamed, (int)lines.n, lines.p);
        free(streamed);
    }
    buf_free(&lines);
    return 0;
}
