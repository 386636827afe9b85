/* pcr.h: the public C API of PCR, the prior-authorization rule language.
 *
 * Everything the command-line tools do goes through this header:
 *
 *   compile     pcr_compile_file / pcr_compile_buffer  -> pcr_policy + pcr_diags
 *   bytecode    pcr_policy_save / pcr_policy_load       (.pcrb, verified on load)
 *   evaluate    pcr_engine (a set of policies, routed by payer and date)
 *               pcr_engine_eval (one JSON record)  pcr_engine_run (a stream)
 *   inspect     pcr_policy_disasm, pcr_dump_ast, pcr_policy_run_tests
 *
 * Conventions: every handle is opaque; every function that can fail returns a
 * pcr_status; objects returned through an out-parameter are owned by the
 * caller and freed with the matching *_free; nothing is global, so separate
 * handles may be used from separate threads. Strings are UTF-8, NUL-terminated
 * unless a length is given. */
#ifndef PCR_PCR_H
#define PCR_PCR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PCR_VERSION "0.1.0"

typedef enum pcr_status {
    PCR_OK = 0,
    PCR_ERR_POLICY = 1,   /* the source has errors; see the diagnostics */
    PCR_ERR_IO = 2,       /* a file could not be read or written */
    PCR_ERR_BYTECODE = 3, /* a .pcrb was rejected by the loader or verifier */
    PCR_ERR_USAGE = 4,    /* a bad argument to an API call */
    PCR_ERR_RECORD = 5,   /* a request record was malformed (a decision is still produced) */
} pcr_status;

/* ---- Diagnostics, as data ------------------------------------------------ */

typedef enum pcr_severity { PCR_SEV_ERROR, PCR_SEV_WARNING, PCR_SEV_NOTE } pcr_severity;

/* A source span: 1-based lines and columns, end inclusive. file is an index
 * into the diagnostics' file table (pcr_diags_file). */
typedef struct pcr_span {
    uint32_t file;
    uint32_t line, col;
    uint32_t end_line, end_col;
} pcr_span;

typedef struct pcr_diag {
    pcr_severity severity;
    const char *code;    /* stable code such as "E102"; see docs/diagnostics.md */
    pcr_span span;       /* where */
    const char *message; /* one sentence, no trailing period */
    bool has_related;    /* e.g. the opening brace of an unclosed block */
    pcr_span related;
    const char *related_message;
} pcr_diag;

typedef struct pcr_diags pcr_diags;

/* The diagnostics kept: the first 200 reported. */
size_t pcr_diags_count(const pcr_diags *d);
/* Every error reported, kept or not. */
size_t pcr_diags_errors(const pcr_diags *d);
/* Diagnostics reported after the first 200: counted, not kept. */
size_t pcr_diags_dropped(const pcr_diags *d);
const pcr_diag *pcr_diags_get(const pcr_diags *d, size_t i);
/* Path of file index i (as given, or as resolved for `use`). */
const char *pcr_diags_file(const pcr_diags *d, uint32_t file);
/* Prints every diagnostic kept as "file:line:col: error[E102]: message",
 * the source line and a ^~~~ underline, then how many were not kept, if
 * any. color: use ANSI colors. */
void pcr_diags_print(const pcr_diags *d, FILE *out, bool color);
void pcr_diags_free(pcr_diags *d);

/* ---- Compiling ----------------------------------------------------------- */

typedef struct pcr_compile_opts {
    const char *const *include_dirs; /* extra directories searched by `use` */
    size_t n_include_dirs;
    bool warnings_as_errors;
    /* The standard library's directory, the one holding std/ (NULL: none).
     * `use std.x` looks under the include directories, then here; never
     * beside the policy. See docs/language.md, "Modules". */
    const char *stdlib_dir;
} pcr_compile_opts;

typedef struct pcr_policy pcr_policy;

/* Compiles one policy source file (and the modules it uses). On success
 * *out is a verified policy. *diags (always set when diags != NULL, even on
 * success, for warnings) is owned by the caller. opts may be NULL. Returns
 * PCR_ERR_POLICY when any error was diagnosed (no policy is produced),
 * PCR_ERR_IO when path cannot be read. */
pcr_status pcr_compile_file(const char *path, const pcr_compile_opts *opts, pcr_policy **out,
                            pcr_diags **diags);
/* As pcr_compile_file, from memory; name is used in diagnostics and as the
 * base for resolving `use` (its directory). */
pcr_status pcr_compile_buffer(const char *name, const char *src, size_t len,
                              const pcr_compile_opts *opts, pcr_policy **out, pcr_diags **diags);

/* Checks a source without producing a policy (pcrc --check). */
pcr_status pcr_check_file(const char *path, const pcr_compile_opts *opts, pcr_diags **diags);

/* Prints the parsed syntax tree of a source file (pcrc --dump-ast). */
pcr_status pcr_dump_ast(const char *path, FILE *out, pcr_diags **diags);

/* ---- Bytecode ------------------------------------------------------------ */

/* Serializes a policy; *buf is malloc'ed and owned by the caller. The output
 * is deterministic: the same source gives the same bytes. */
pcr_status pcr_policy_save(const pcr_policy *p, uint8_t **buf, size_t *len);
pcr_status pcr_policy_save_file(const pcr_policy *p, const char *path, char *err, size_t errlen);
/* Loads and verifies bytecode. On failure err receives one line naming what
 * is wrong, e.g. "truncated constant pool" or "rule 3: jump target 812 out of
 * range". The buffer is copied; the caller keeps ownership of buf. */
pcr_status pcr_policy_load(const uint8_t *buf, size_t len, pcr_policy **out, char *err,
                           size_t errlen);
pcr_status pcr_policy_load_file(const char *path, pcr_policy **out, char *err, size_t errlen);
void pcr_policy_free(pcr_policy *p);

/* Header facts. The returned strings live as long as the policy. */
const char *pcr_policy_id(const pcr_policy *p);
const char *pcr_policy_version(const pcr_policy *p);
const char *pcr_policy_payer(const pcr_policy *p);
size_t pcr_policy_rule_count(const pcr_policy *p);

/* Writes a human-readable listing of every section and instruction. */
void pcr_policy_disasm(const pcr_policy *p, FILE *out);

/* Prints the policy as an analyst reviews it (pcrc list): every service
 * and code that needs prior authorization or notification (or is not
 * covered, or waives others) on the given day, grouped by the source
 * document's sections in the order the policy cites them, with conditions
 * and exceptions in plain words. date is "YYYY-MM-DD". Only for policies
 * compiled from source. Returns PCR_ERR_USAGE for a bad date or a policy
 * loaded from bytecode. */
pcr_status pcr_policy_list(const pcr_policy *p, const char *date, FILE *out);

/* Runs the `test` blocks of the policy's sources (only for policies compiled
 * from source; a .pcrb carries no tests). Prints one line per failure with
 * its location and the differences; adds to *passed and *failed. */
pcr_status pcr_policy_run_tests(const pcr_policy *p, FILE *out, bool verbose, size_t *passed,
                                size_t *failed);

/* ---- Evaluating ---------------------------------------------------------- */

typedef enum pcr_decision_kind {
    PCR_DEC_NONE,
    PCR_DEC_NOTIFICATION,
    PCR_DEC_PRIOR_AUTH,
    PCR_DEC_NOT_COVERED,
    PCR_DEC_INFO_NEEDED,
    PCR_DEC_NO_POLICY,
    PCR_DEC_ERROR,
} pcr_decision_kind;

/* "none", "notification", "prior_auth", "not_covered", "info_needed",
 * "no_policy", "error". */
const char *pcr_decision_name(pcr_decision_kind k);

typedef struct pcr_engine pcr_engine;

pcr_engine *pcr_engine_new(void);
/* Adds a policy; the engine takes ownership of p (freed by pcr_engine_free).
 * Fails with PCR_ERR_USAGE when policies with the same payer overlap in
 * their effective windows (err names both). */
pcr_status pcr_engine_add(pcr_engine *e, pcr_policy *p, char *err, size_t errlen);
void pcr_engine_free(pcr_engine *e);

/* Evaluates one request record (one JSON object, no newline needed) and
 * writes its decision line (JSON, with a trailing newline) to out.
 * recno is the 1-based record number used in error messages. *kind (may be
 * NULL) receives the decision. Returns PCR_OK, or PCR_ERR_RECORD when the
 * record was malformed (the decision line then has "decision":"error"). The
 * returned line stays valid until the next call on this engine. */
pcr_status pcr_engine_eval(pcr_engine *e, const char *json, size_t len, uint64_t recno,
                           const char **line, size_t *line_len, pcr_decision_kind *kind);

/* What a rule asks of a request (stored values: never renumbered). */
typedef enum pcr_outcome {
    PCR_OUT_NOTIFICATION = 1,
    PCR_OUT_PRIOR_AUTH = 2,
    PCR_OUT_NOT_COVERED = 3,
    PCR_OUT_ADVISORY = 5, /* informs without deciding */
} pcr_outcome;

/* "notification", "prior_auth", "not_covered", "advisory". */
const char *pcr_outcome_name(pcr_outcome o);

/* One obligation of a decision: an outcome, who reviews it and by when,
 * and the rules behind it. A possible obligation (pcr_decision.possible)
 * is one that absent fields could add; missing names them. */
typedef struct pcr_obligation {
    pcr_outcome outcome;
    const char *const *reviewers;  /* nreviewers names */
    size_t nreviewers;
    const char *deadline;          /* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM"; NULL: none */
    int timely;                    /* certain: 1 on time, 0 late, -1 unknown; possible: -1 */
    const char *const *rules;      /* rule ids */
    size_t nrules;
    const char *const *missing;    /* possible: the absent fields that leave it open */
    size_t nmissing;
} pcr_obligation;

/* A decision field by field: what the JSON line says, for callers that
 * would rather not parse it. Strings are NUL-terminated UTF-8; arrays list
 * their strings in the line's order. */
typedef struct pcr_decision {
    pcr_decision_kind kind;
    const char *id;                /* the record's id; NULL when it had none */
    const char *policy;            /* "id@version"; NULL for no_policy and error */
    const char *const *reviewers;  /* nreviewers names */
    size_t nreviewers;
    const char *deadline;          /* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM"; NULL: none */
    int timely;                    /* 1 on time, 0 late, -1 unknown or no deadline */
    const char *const *rules;      /* ids of the rules that fired (not waived) */
    size_t nrules;
    const char *const *missing;    /* the absent fields that could add an obligation */
    size_t nmissing;
    const char *error;             /* error: the message; else NULL */
    const pcr_obligation *obligations; /* certain, strongest first */
    size_t nobligations;
    const pcr_obligation *possible;    /* what absent fields could add */
    size_t npossible;
} pcr_decision;

/* Fills *out with the decision of the engine's last pcr_engine_eval (or
 * the last line of pcr_engine_run). Everything *out points to is owned by
 * the engine and valid until its next eval, run or free. PCR_ERR_USAGE
 * before the first record. */
pcr_status pcr_engine_decision(pcr_engine *e, pcr_decision *out);

/* Explanations: when out is not NULL, every record this engine decides
 * (pcr_engine_eval, pcr_engine_run) also gets an explanation written to
 * out, in a policy analyst's words: which policy it was routed to and why;
 * each rule the index selected, its source line, each condition with the
 * record's values and its result (true, false, or unknown because a field
 * is missing); what waived what; how the rules merged into obligations;
 * what is possible; why the decision is what it is. Several lines per
 * record, the first starting "record N". NULL turns it off (the default). */
void pcr_engine_set_explain(pcr_engine *e, FILE *out);

typedef struct pcr_stats {
    uint64_t records;
    uint64_t bytes;
    uint64_t by_decision[PCR_DEC_ERROR + 1];
    double seconds;
} pcr_stats;

/* Streams JSON Lines from in to out: exactly one decision line per input
 * line, in order. Memory stays flat in the input size. Returns PCR_OK, or
 * PCR_ERR_IO when reading or writing failed (a closed stdout included);
 * stats (may be NULL) is filled either way. */
pcr_status pcr_engine_run(pcr_engine *e, FILE *in, FILE *out, pcr_stats *stats);

/* Prints the per-decision and per-rule counts gathered so far, throughput
 * from stats, and "policy ID@VERSION sha256 HEX" for every policy
 * (pcr_policy_sha256), to out (pcrvm --stats). */
void pcr_engine_print_stats(const pcr_engine *e, const pcr_stats *stats, FILE *out);

/* ---- Policy facts for hosts (databases, schedulers) ------------------------ */

/* The policy's effective window, inclusive, as "YYYY-MM-DD" plus NUL in
 * from and through (at least 11 bytes each); an empty string where the
 * window is open (no start, or no end). A host that stores policies (the
 * PostgreSQL extension's pcr.policies) keeps it beside the bytecode. */
void pcr_policy_window(const pcr_policy *p, char *from, char *through);

/* The SHA-256 of the policy's bytecode, as 64 lowercase hex digits plus NUL
 * in hex (at least 65 bytes): of the bytes given to pcr_policy_load (what
 * `sha256sum FILE.pcrb` prints), or, for a policy compiled from source, of
 * what pcr_policy_save writes for it. pcrvm --stats prints it for every
 * policy, so that a run spread over machines can check they all decided
 * with the same bytecode (docs/scale.md). */
void pcr_policy_sha256(const pcr_policy *p, char *hex);
/* ---- engine options (records) ------------------------------------------- */

/* Strict records: a record with a key that is not a schema field is
 * malformed (decision "error": "record 4: unknown field 'seting' (did you
 * mean 'setting'?)") instead of being counted and skipped. Off by default;
 * may be set before or after policies are added. pcrvm --strict. */
void pcr_engine_set_strict(pcr_engine *e, bool strict);

/* ---- formatting (pcrc fmt) ------------------------------------------------ */

/* Lays out the .pcr source src[0..len) (called name in diagnostics) in the
 * canonical layout of docs/cli.md ("pcrc fmt"): every token and comment
 * kept in order, only whitespace changed, so the formatted source compiles
 * to the same program; formatting it again changes nothing. On PCR_OK,
 * *out receives the text (malloc'd, NUL-terminated, *out_len bytes; the
 * caller frees it with free()). PCR_ERR_POLICY, with *out NULL, when the
 * source has syntax errors (in *diags): nothing is formatted. `use`d
 * modules are not read. */
pcr_status pcr_format_buffer(const char *name, const char *src, size_t len, char **out,
                             size_t *out_len, pcr_diags **diags);

/* ---- Running a stream with options ----------------------------------------
 *
 * pcr_engine_run_opts is pcr_engine_run with control over flushing and a
 * way to stop, and with the cause of an I/O failure. It reads the input's
 * file descriptor with read(2) (so `in` must not have been read through
 * its FILE buffer before) and writes the output's descriptor after
 * flushing `out`; streams without a descriptor (fmemopen) go through
 * stdio. pcr_engine_run(e, in, out, st) is this with default options. */

typedef enum pcr_flush {
    /* Promptly when the input is a pipe, FIFO, socket or terminal (every
     * decision is written as soon as its line is complete and no more
     * input is waiting); in large blocks when it is a regular file. */
    PCR_FLUSH_AUTO = 0,
    PCR_FLUSH_PROMPT, /* promptly, whatever the input */
    PCR_FLUSH_BLOCK,  /* in large blocks, and at the end */
} pcr_flush;

typedef struct pcr_run_opts {
    /* Threads deciding records: 0 or 1 decide on the calling thread; N > 1
     * starts N - 1 others once a batch of input has filled or more than 512
     * KiB has been read (a smaller input needs none), each with a clone of
     * the engine (pcr_engine_clone). Every thread, the calling one with the
     * engine itself, reads batches of whole lines, decides them and writes
     * them in turn: a regular file by ranges of 512 KiB that the threads
     * read at once (up to the size it had when the run began, from the
     * descriptor's offset, which is left at the end), anything else one
     * batch at a time. The output is in input order and byte-identical to
     * one thread's, memory stays bounded, and the rule counts of the clones
     * are merged into e at the end. */
    unsigned threads;
    pcr_flush flush;
    /* NULL, or a flag (set by a signal handler, say) checked after each
     * line: once it is nonzero the run stops, the output holds only whole
     * decision lines, and stopped is set. A read waiting for input is
     * interrupted by a signal delivered without SA_RESTART. */
    volatile sig_atomic_t *stop;

    /* Set by the run: */
    bool stopped;    /* the stop flag ended the run */
    int read_errno;  /* nonzero: reading the input failed, with this errno */
    int write_errno; /* nonzero: writing the decisions failed, with this errno */
} pcr_run_opts;

/* As pcr_engine_run; opts may be NULL (defaults). Returns PCR_OK when the
 * whole input was decided or the stop flag ended the run, PCR_ERR_IO when
 * reading or writing failed (see opts->read_errno, write_errno). Lines
 * longer than 1 MiB (1,048,576 bytes, newline excluded) wherever they fall
 * get one decision, "record N: line longer than 1048576 bytes" with
 * "id":null, and are skipped without being held in memory. */
pcr_status pcr_engine_run_opts(pcr_engine *e, FILE *in, FILE *out, pcr_run_opts *opts,
                               pcr_stats *stats);


/* ---- Finding the standard library ------------------------------------------ */

/* Writes into buf (cap bytes) the standard library directory (the one
 * holding std/) that the tools pass as pcr_compile_opts.stdlib_dir, and
 * returns buf; NULL when there is none. The rule: $PCR_STDLIB when set
 * (set and empty: none); else <the executable's directory>/../share/pcr
 * when it holds std/request.pcr (an installed layout); else
 * <the executable's directory>/../policies when it does (the build tree).
 * The executable is found through /proc/self/exe. */
const char *pcr_find_stdlib_dir(char *buf, size_t cap);


/* ---- Engines on several threads --------------------------------------------- */

/* A new engine deciding with the same policies as e (shared read-only and
 * reference-counted: freed with the last engine holding them), with its own
 * decoder, VMs and buffers, so it may run on another thread at the same
 * time as e. Policies added to e afterwards are not in the clone. Free it
 * with pcr_engine_free. */
pcr_engine *pcr_engine_clone(const pcr_engine *e);

/* Adds the per-rule counts of src (a clone of dst, or dst a clone of src)
 * to dst, so pcr_engine_print_stats on dst covers both. PCR_ERR_USAGE when
 * they do not hold the same policies. */
pcr_status pcr_engine_merge_counts(pcr_engine *dst, const pcr_engine *src);
/* ---- The analyst's toolchain: lint ---------------------------------------- */

/* Checks a source (as pcr_check_file, which reports the same) and adds the
 * lints: warnings W601-W610 (docs/diagnostics.md), each followed by a note
 * holding a witness request (one JSON line pcrvm accepts) or the reason none
 * exists. With opts->warnings_as_errors any warning makes it PCR_ERR_POLICY. */
pcr_status pcr_lint_file(const char *path, const pcr_compile_opts *opts, pcr_diags **diags);

/* ---- The analyst's toolchain: test coverage ------------------------------- */

/* Rules and unless alternatives reached by tests; pcr_policy_coverage adds
 * one policy's counts to these. */
typedef struct pcr_coverage {
    size_t rules;          /* rules */
    size_t rules_fired;    /*   fired by at least one test */
    size_t rules_near;     /*   not fired, but near-missed by one */
    size_t alts;           /* unless alternatives (top-level `or` terms of unless clauses) */
    size_t alts_exercised; /*   true in a test where the rule's `when` is */
} pcr_coverage;

/* Probes every rule of a source-compiled policy on each of its tests'
 * records and prints, per rule, the tests that fire it, near-miss it and
 * exercise each unless alternative, then the totals: as text, or with json
 * as one JSON object on one line (docs/cli.md, "Coverage"). Adds the
 * policy's counts to *totals (may be NULL). */
pcr_status pcr_policy_coverage(const pcr_policy *p, FILE *out, bool json, pcr_coverage *totals);

/* ---- The analyst's toolchain: diff ---------------------------------------- */

/* Compiles two versions of a policy and writes what changed from old_path
 * to new_path to out, in the analyst's words (docs/cli.md, "pcrc diff"):
 * header changes, rules added and removed, and for each rule in both its
 * changed outcome, reviewers, deadline, window, codes and where it applies,
 * with a witness request and both decisions. *changed tells whether
 * anything did. *diags (always set when diags != NULL) holds both files'
 * diagnostics. PCR_ERR_POLICY when either has an error, PCR_ERR_IO when
 * either cannot be read. */
pcr_status pcr_diff_files(const char *old_path, const char *new_path, const pcr_compile_opts *opts,
                          FILE *out, bool *changed, pcr_diags **diags);
/* ---- CSV (pcrvm --input csv, --output csv; docs/cli.md, "CSV") ------------- */

typedef struct pcr_csv_opts {
    bool csv_in;  /* the input is RFC 4180 CSV with a header row (else JSON Lines) */
    bool csv_out; /* the output is CSV, a header then one row per decision (else
                     decision lines) */
    FILE *notes;  /* told once about each header column that is not a schema
                     field (with a did-you-mean); NULL: not told */
} pcr_csv_opts;

/* Like pcr_engine_run, in the formats opts chooses (both JSON Lines: it is
 * pcr_engine_run). CSV input: the header row names schema fields; every
 * data row gets exactly one decision, in order, "record N" being the N-th
 * data row (blank lines are no rows). A cell is converted by its field's
 * type: empty is absent, the text null is null (does not apply), a list
 * field's elements are separated by ';' ([] is the empty list). A row
 * libcsv cannot parse (a stray quote) or with more or fewer cells than the
 * header is an error decision; reading resumes after the next line break
 * (LF or CR). A UTF-8 byte order mark before the header is skipped.
 * Columns naming no schema field are passed to the decoder as unknown keys
 * (counted, or errors when strict). Returns PCR_ERR_USAGE, with a message
 * in err, when the header is unreadable, names a column twice, or names no
 * id, payer or service_date column (nothing is decided then); PCR_ERR_IO
 * as pcr_engine_run. */
pcr_status pcr_engine_run_csv(pcr_engine *e, FILE *in, FILE *out, const pcr_csv_opts *opts,
                              pcr_stats *stats, char *err, size_t errlen);

/* The CSV header pcr_csv_write_row's rows follow (CRLF-terminated):
 * id,decision,policy,reviewer,deadline,timely,rules,missing,obligations,
 * possible,why,error */
pcr_status pcr_csv_write_header(FILE *out);

/* Writes e's last decision (pcr_engine_decision) as one CSV row; line and
 * len are its decision line, as pcr_engine_eval returned it (the `why` of
 * a no_policy line is read from it). Lists are joined with "; ";
 * obligations are "OUTCOME by R1, R2 due DEADLINE [RULE, ...]" (" (late)"
 * when not timely), possible ones end with " missing FIELD, ...". Cells
 * are quoted as RFC 4180 asks; rows end with CRLF. */
pcr_status pcr_csv_write_row(pcr_engine *e, const char *line, size_t len, FILE *out);

/* ---- Records fed member by member ----------------------------------------
 * For a front end that holds a request already parsed (the PostgreSQL
 * extension's jsonb): instead of writing it as JSON text for
 * pcr_engine_eval, it gives the engine the request's top-level members one
 * by one, in any order, each as its key and a typed value, then asks for
 * the decision. Every value goes through the same conversion as in a JSON
 * line, so the decision line is byte for byte what pcr_engine_eval gives
 * for the same request's text.
 *
 * This route is partial by design: it decides only requests it reads
 * exactly as the text reader would, and no malformed one. Every call
 * returns false when the request is not taken (an unknown or repeated key,
 * a value of the wrong type or out of range, a missing required field, a
 * string that is not UTF-8 or holds NUL, more keys or text than a line may
 * hold, no policy loaded, anything); the caller then decides the request's
 * JSON text with pcr_engine_eval, which gives the decision and any error
 * message. After a false, later feed calls of the same record return false.
 *
 *   pcr_engine_feed_begin   starts record recno (the number an explanation
 *                           names)
 *   pcr_engine_feed_string  a string value s[0..n), escapes resolved
 *   pcr_engine_feed_number  a number, as its JSON text (e.g. "42", "12.50")
 *   pcr_engine_feed_bool    true or false
 *   pcr_engine_feed_null    null
 *   pcr_engine_feed_json    one value as JSON text: for arrays and objects
 *                           (lists of codes, of {"system", "code"} objects)
 *   pcr_engine_feed_eval    decides the record: true with *line, *line_len,
 *                           *kind as pcr_engine_eval gives them (valid
 *                           until the engine's next record); false: not
 *                           taken, nothing decided.
 * key[0..klen) is the key as its JSON string means it (escapes resolved).
 * Strings and JSON texts must stay valid and unchanged until
 * pcr_engine_feed_eval returns; a number's text only during its call.
 * pcr_engine_decision describes a fed record's decision as any other. */
bool pcr_engine_feed_begin(pcr_engine *e, uint64_t recno);
bool pcr_engine_feed_string(pcr_engine *e, const char *key, size_t klen, const char *s, size_t n);
bool pcr_engine_feed_number(pcr_engine *e, const char *key, size_t klen, const char *text, size_t n);
bool pcr_engine_feed_bool(pcr_engine *e, const char *key, size_t klen, bool v);
bool pcr_engine_feed_null(pcr_engine *e, const char *key, size_t klen);
bool pcr_engine_feed_json(pcr_engine *e, const char *key, size_t klen, const char *json, size_t n);
bool pcr_engine_feed_eval(pcr_engine *e, const char **line, size_t *line_len, pcr_decision_kind *kind);

/* Many members in one call: pcr_engine_feed_members gives m[0..n), in
 * order, as the calls above would one by one (the same record, the same
 * rules: false when the request is not taken), for a front end that holds
 * the whole object at once; the calls may be mixed with the ones above.
 * A member's key is key[0..klen); its value is by type:
 *   PCR_FEED_STRING   s[0..n), escapes resolved (pcr_engine_feed_string)
 *   PCR_FEED_NUMBER   s[0..n), a number's JSON text (pcr_engine_feed_number)
 *   PCR_FEED_INT      i: an integer, exactly what its decimal text means
 *                     (pcr_engine_feed_number with "-12")
 *   PCR_FEED_TRUE, PCR_FEED_FALSE, PCR_FEED_NULL  (the value itself)
 *   PCR_FEED_JSON     s[0..n), one value as JSON text (pcr_engine_feed_json)
 *   PCR_FEED_STRINGS  items[0..n): an array of strings, each escapes
 *                     resolved (what the JSON text of that array means)
 * Each key's field is found by one probe of a table and one comparison,
 * the keys' lookups independent of one another, or all at once from a
 * layout kept for keys back to back (below).
 * The same lifetimes as above: strings, texts and items until
 * pcr_engine_feed_eval returns. */
typedef enum pcr_feed_type {
    PCR_FEED_STRING,
    PCR_FEED_NUMBER,
    PCR_FEED_INT,
    PCR_FEED_TRUE,
    PCR_FEED_FALSE,
    PCR_FEED_NULL,
    PCR_FEED_JSON,
    PCR_FEED_STRINGS,
} pcr_feed_type;

typedef struct pcr_feed_str {
    const char *s;
    size_t n;
} pcr_feed_str;

typedef struct pcr_feed_member {
    const char *key;
    size_t klen;
    pcr_feed_type type;
    const char *s;              /* STRING, NUMBER, JSON */
    const pcr_feed_str *items;  /* STRINGS */
    size_t n;                   /* bytes of s, or items */
    int64_t i;                  /* INT */
} pcr_feed_member;

bool pcr_engine_feed_members(pcr_engine *e, const pcr_feed_member *m, size_t n);

/* ---- Fed records: key layouts and strings checked by the caller ----------
 * pcr_engine_feed_members finds a record's fields by its keys. When the
 * keys of m[0..n) lie back to back in memory from m[0].key (m[i + 1].key ==
 * m[i].key + m[i].klen), as the keys of a PostgreSQL jsonb object do, the
 * engine keeps that layout (the keys' lengths and bytes) and the fields
 * they named, a few hundred layouts at a time: a later record whose keys
 * have the same lengths and bytes gets its fields from there, with no key
 * looked up. Nothing to call: the decision is the same either way.
 *
 * pcr_engine_feed_utf8_checked(e, true) tells the engine that every string
 * fed to it from now on (values, list items) is UTF-8 without NUL, checked
 * by the caller (PostgreSQL's text in a UTF8 database always is): the
 * engine then does not check them again. A string that is not UTF-8 fed
 * under this promise may then be decided instead of left to the text route;
 * false (the default) checks every string. Keys are matched as bytes
 * either way. */
void pcr_engine_feed_utf8_checked(pcr_engine *e, bool checked);

#ifdef __cplusplus
}
#endif
#endif
