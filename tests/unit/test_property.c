/* test_property.c: a property test of pcrvm on randomly corrupted batches.
 *
 * The batch is policies/examples/requests.jsonl and its clean decisions
 * come from the real run of pcrvm on the four payers' policies/NAME.pcr.
 * Each trial (fixed seeds, splitmix64) corrupts a random subset of its
 * lines (byte flips, truncation, inserted NUL, invalid UTF-8, quotes,
 * braces, a "\r" before the newline, an extra garbage line after it),
 * runs the real pcrvm on the batch through a temporary file, and checks:
 * exit status 0, nothing on stderr, one decision line per input line,
 * every decision line one JSON object with a known decision, and every
 * untouched line's decision byte for byte the clean run's. Removing a
 * newline is never done: it merges two records, and the property is
 * about lines.
 *
 * The only position-dependent text of a decision is the "record N: " of
 * an error message; untouched lines that are errors in the clean run too
 * (requests.jsonl has a few on purpose) are compared with N rewritten to
 * their line number in the corrupted batch. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define NTRIALS 200

/* A line of text: start and length, without its newline. */
typedef struct {
    const char *s; /* first byte (not NUL-terminated) */
    size_t len;    /* bytes, without the '\n' */
} Line;

/* The fixed inputs of every trial. */
typedef struct {
    char dir[64];     /* scratch directory (mkdtemp), removed by fix_free;
                         a failed test keeps it, with the failing batch */
    char pols[1024];  /* the compiled policies, space-separated paths */
    char *reqs;       /* requests.jsonl, whole */
    Line *in;         /* its lines */
    size_t nin;       /* number of lines */
    char *clean;      /* the clean run's output, whole */
    Line *dec;        /* its lines: dec[i] is the decision of in[i] */
    size_t ndec;      /* number of decision lines */
} Fix;

static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A number below n (n > 0; the modulo bias does not matter here). */
static size_t rng_below(uint64_t *state, size_t n)
{
    return (size_t)(rng_next(state) % n);
}

/* Splits text at '\n' into a malloc'ed array; a last line without newline
 * counts too. */
static Line *split_lines(const char *text, size_t len, size_t *n)
{
    size_t cap = 64, k = 0, start = 0;
    Line *v = malloc(cap * sizeof *v);
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '\n') continue;
        if (i == len && start == len) break;
        if (k == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[k++] = (Line){text + start, i - start};
        start = i + 1;
    }
    *n = k;
    return v;
}

static void fix_init(Fix *f)
{
    memset(f, 0, sizeof *f);
    strcpy(f->dir, "/tmp/pcr-property-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));

    char path[512];
    snprintf(path, sizeof path, "%s/policies/examples/requests.jsonl", th_root());
    size_t len = 0;
    f->reqs = th_read_file(path, &len);
    cr_assert_not_null(f->reqs, "cannot read %s", path);
    f->in = split_lines(f->reqs, len, &f->nin);
    cr_assert_gt(f->nin, 400, "requests.jsonl has %zu lines", f->nin);

    int st;
    f->clean = th_runf(&st, "%s/pcrvm policies/*.pcr policies/examples/requests.jsonl", th_bin());
    cr_assert_eq(st, 0, "the clean run failed");
    f->dec = split_lines(f->clean, strlen(f->clean), &f->ndec);
    cr_assert_eq(f->ndec, f->nin, "the clean run gave %zu decisions for %zu lines", f->ndec,
                 f->nin);

    /* Compiled once, so that 200 runs do not compile 4 sources each; the
     * same policy as .pcr and .pcrb gives the same bytes (checked below). */
    const char *payers[] = {"alliant", "cigna", "healthlink", "ibx"};
    size_t used = 0;
    for (size_t i = 0; i < sizeof payers / sizeof *payers; i++) {
        char *out = th_runf(&st, "%s/pcrc policies/%s.pcr -o %s/%s.pcrb", th_bin(), payers[i],
                            f->dir, payers[i]);
        free(out);
        cr_assert_eq(st, 0, "pcrc policies/%s.pcr failed", payers[i]);
        used += (size_t)snprintf(f->pols + used, sizeof f->pols - used, "%s%s/%s.pcrb",
                                 used ? " " : "", f->dir, payers[i]);
    }
    char *again = th_runf(&st, "%s/pcrvm %s policies/examples/requests.jsonl", th_bin(), f->pols);
    cr_assert_eq(st, 0);
    cr_assert_str_eq(again, f->clean, "the .pcrb policies decide differently from the .pcr ones");
    free(again);
}

static void fix_free(Fix *f)
{
    int st;
    free(th_runf(&st, "rm -rf '%s'", f->dir));
    free(f->reqs);
    free(f->in);
    free(f->clean);
    free(f->dec);
}

/* A growable byte buffer for the corrupted batch. */
typedef struct {
    char *b;    /* bytes */
    size_t n;   /* used */
    size_t cap; /* allocated */
} Bytes;

static void put(Bytes *o, const void *s, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 256;
        o->b = realloc(o->b, o->cap);
    }
    memcpy(o->b + o->n, s, n);
    o->n += n;
}

/* Inserts n bytes at pos of a line held in buf (length *len, capacity cap). */
static void insert_at(char *buf, size_t *len, size_t pos, const char *s, size_t n)
{
    memmove(buf + pos + n, buf + pos, *len - pos);
    memcpy(buf + pos, s, n);
    *len += n;
}

/* Applies one random corruption to the line in buf (length *len; buf has
 * room for 8 more bytes). Never writes '\n'. Sets *extra when the line
 * must be followed by an extra garbage line instead; returns whether the
 * line's own bytes may have changed. */
static int corrupt(uint64_t *rng, char *buf, size_t *len, int *extra)
{
    static const char *const bad_utf8[] = {"\xff", "\xc3\x28", "\xed\xa0\x80", "\xc0\xaf",
                                           "\xe2\x82", "\xf8\x88\x80\x80\x80"};
    static const char *const punct[] = {"\"", "{", "}", "[", "]", ",", ":", "\\", "\"}"};
    size_t pos = rng_below(rng, *len + 1);
    switch (rng_below(rng, 8)) {
    case 0: /* flip bits of one byte */
        if (*len == 0) return 0;
        pos = rng_below(rng, *len);
        do buf[pos] = (char)(buf[pos] ^ (char)(1 + rng_below(rng, 255)));
        while (buf[pos] == '\n');
        break;
    case 1: /* truncate, possibly to an empty line */
        if (*len == 0) return 0;
        *len = rng_below(rng, *len);
        break;
    case 2: insert_at(buf, len, pos, "", 1); break; /* a NUL byte */
    case 3: {
        const char *s = bad_utf8[rng_below(rng, sizeof bad_utf8 / sizeof *bad_utf8)];
        insert_at(buf, len, pos, s, strlen(s));
        break;
    }
    case 4:
    case 5: {
        const char *s = punct[rng_below(rng, sizeof punct / sizeof *punct)];
        insert_at(buf, len, pos, s, strlen(s));
        break;
    }
    case 6: buf[(*len)++] = '\r'; break; /* "\r\n" line end */
    default: *extra = 1; return 0;
    }
    return 1;
}

/* The expected decision of an untouched line whose clean decision is d,
 * now at 1-based line number at: d itself, with "record N: " of an error
 * message rewritten to "record at: ". Returns a malloc'ed string. */
static char *expected_at(Line d, size_t at)
{
    static const char key[] = "\"error\":\"record ";
    char *s = strndup(d.s, d.len);
    char *p = strstr(s, key);
    if (!p) return s;
    char *num = p + sizeof key - 1, *end = num;
    while (*end >= '0' && *end <= '9') end++;
    char *r = malloc(d.len + 32);
    snprintf(r, d.len + 32, "%.*s%zu%s", (int)(num - s), s, at, end);
    free(s);
    return r;
}

/* Checks that one output line is a JSON object with a known decision. */
static void check_json(const char *s, size_t len, unsigned seed, size_t at)
{
    static const char *const kinds[] = {"prior_auth", "notification", "none", "not_covered",
                                        "info_needed", "no_policy", "error"};
    json_error_t err;
    json_t *j = json_loadb(s, len, 0, &err);
    cr_assert_not_null(j, "seed %u, output line %zu is not JSON (%s): %.*s", seed, at, err.text,
                       (int)len, s);
    cr_assert(json_is_object(j), "seed %u, output line %zu is not an object", seed, at);
    const char *k = json_string_value(json_object_get(j, "decision"));
    cr_assert_not_null(k, "seed %u, output line %zu has no decision", seed, at);
    int known = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) known |= strcmp(k, kinds[i]) == 0;
    cr_assert(known, "seed %u, output line %zu: unknown decision %s", seed, at, k);
    json_decref(j);
}

/* One trial: writes the corrupted batch for seed to path and returns its
 * line count; *want (malloc'ed, one per line) gets the expected decision
 * of each line: a string for an untouched line, NULL otherwise. */
static size_t make_batch(const Fix *f, unsigned seed, const char *path, char ***want)
{
    uint64_t rng = 0x5eed0000u + seed;
    /* Each trial picks its own corruption rate, 1% to 60% of the lines. */
    size_t rate = 1 + rng_below(&rng, 60); /* percent */
    Bytes o = {0};
    size_t nout = 0, cap = f->nin * 2 + 8;
    char **w = calloc(cap, sizeof *w);
    char *buf = malloc(64 * 1024);
    for (size_t i = 0; i < f->nin; i++) {
        Line l = f->in[i];
        if (rng_below(&rng, 100) >= rate) {
            put(&o, l.s, l.len);
            put(&o, "\n", 1);
            w[nout] = expected_at(f->dec[i], nout + 1);
            nout++;
            continue;
        }
        cr_assert_lt(l.len + 64, 64 * 1024);
        memcpy(buf, l.s, l.len);
        size_t len = l.len;
        int extra = 0, changed = 0;
        for (size_t k = 1 + rng_below(&rng, 3); k > 0; k--)
            changed |= corrupt(&rng, buf, &len, &extra);
        put(&o, buf, len);
        put(&o, "\n", 1);
        /* A line only followed by garbage is still an untouched line. */
        w[nout] = changed ? NULL : expected_at(f->dec[i], nout + 1);
        nout++;
        if (extra) { /* 0 to 40 random bytes, none a newline */
            size_t glen = rng_below(&rng, 41);
            for (size_t k = 0; k < glen; k++) {
                char c;
                do c = (char)rng_below(&rng, 256);
                while (c == '\n');
                put(&o, &c, 1);
            }
            put(&o, "\n", 1);
            w[nout++] = NULL;
        }
    }
    free(buf);
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "cannot write %s", path);
    cr_assert_eq(fwrite(o.b, 1, o.n, fp), o.n);
    cr_assert_eq(fclose(fp), 0);
    free(o.b);
    *want = w;
    return nout;
}

Test(property, corrupted_lines_leave_the_others_alone, .timeout = 120)
{
    Fix f;
    fix_init(&f);
    size_t touched = 0, checked = 0;
    for (unsigned seed = 1; seed <= NTRIALS; seed++) {
        char path[128], errpath[128];
        snprintf(path, sizeof path, "%s/batch.jsonl", f.dir);
        snprintf(errpath, sizeof errpath, "%s/batch.err", f.dir);
        char **want;
        size_t nwant = make_batch(&f, seed, path, &want);

        int st;
        char *out = th_runf(&st, "%s/pcrvm %s %s 2> %s", th_bin(), f.pols, path, errpath);
        cr_assert_eq(st, 0, "seed %u: pcrvm exited with %d (-1: killed by a signal)", seed, st);
        size_t elen;
        char *err = th_read_file(errpath, &elen);
        cr_assert_not_null(err);
        cr_assert_eq(elen, 0, "seed %u: pcrvm wrote to stderr: %s", seed, err);
        free(err);

        size_t nout;
        Line *got = split_lines(out, strlen(out), &nout);
        cr_assert_eq(nout, nwant, "seed %u: %zu decision lines for %zu input lines", seed, nout,
                     nwant);
        cr_assert_eq(out[strlen(out) - 1], '\n', "seed %u: the last decision has no newline", seed);
        for (size_t i = 0; i < nout; i++) {
            check_json(got[i].s, got[i].len, seed, i + 1);
            if (!want[i]) {
                touched++;
                continue;
            }
            checked++;
            cr_assert(strlen(want[i]) == got[i].len && memcmp(want[i], got[i].s, got[i].len) == 0,
                      "seed %u, line %zu (untouched) decided differently:\n  want %s\n  got  %.*s",
                      seed, i + 1, want[i], (int)got[i].len, got[i].s);
        }
        for (size_t i = 0; i < nwant; i++) free(want[i]);
        free(want);
        free(got);
        free(out);
    }
    /* The trials did exercise both kinds of line. */
    cr_assert_gt(touched, 1000, "only %zu corrupted lines in %d trials", touched, NTRIALS);
    cr_assert_gt(checked, 10000, "only %zu untouched lines in %d trials", checked, NTRIALS);
    fix_free(&f);
}

/* A closed standard output ends pcrvm with status 0 and nothing on stderr,
 * also in the middle of a corrupted batch. The batch is repeated 300 times
 * (about 40 MB) so that pcrvm is still writing when head exits. */
Test(property, closed_stdout_is_quiet, .timeout = 60)
{
    Fix f;
    fix_init(&f);
    char path[128];
    snprintf(path, sizeof path, "%s/batch.jsonl", f.dir);
    for (unsigned seed = 1; seed <= 3; seed++) {
        char **want;
        size_t nwant = make_batch(&f, seed, path, &want);
        int st;
        char *out = th_runf(&st,
                            "for i in $(seq 300); do cat %s; done | "
                            "{ %s/pcrvm %s 2> %s/head.err; echo $? > %s/head.rc; } | head -n 1",
                            path, th_bin(), f.pols, f.dir, f.dir);
        cr_assert_eq(st, 0);
        size_t n = strlen(out);
        cr_assert(n > 0 && out[n - 1] == '\n' && strchr(out, '\n') == out + n - 1,
                  "seed %u: head -1 got %s", seed, out);
        check_json(out, n - 1, seed, 1);
        if (want[0])
            cr_assert(strlen(want[0]) == n - 1 && memcmp(want[0], out, n - 1) == 0,
                      "seed %u: first decision\n  want %s\n  got  %s", seed, want[0], out);
        free(out);

        char rcpath[128], errpath[128];
        snprintf(rcpath, sizeof rcpath, "%s/head.rc", f.dir);
        snprintf(errpath, sizeof errpath, "%s/head.err", f.dir);
        char *rc = th_read_file(rcpath, NULL);
        cr_assert_not_null(rc);
        cr_assert_str_eq(rc, "0\n", "seed %u: pcrvm | head -1 exited with %s", seed, rc);
        free(rc);
        size_t elen;
        char *err = th_read_file(errpath, &elen);
        cr_assert_not_null(err);
        cr_assert_eq(elen, 0, "seed %u: pcrvm | head -1 wrote to stderr: %s", seed, err);
        free(err);
        for (size_t i = 0; i < nwant; i++) free(want[i]);
        free(want);
    }
    fix_free(&f);
}
