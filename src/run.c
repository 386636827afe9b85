/* run.c: streaming JSON Lines through an engine (pcr_engine_run_opts).
 *
 * The input is read with read(2) in chunks of up to IN_CHUNK bytes: a
 * regular file fills whole chunks, a pipe or terminal returns what is there
 * now, so on a pipe every line that has arrived is decided and, with
 * prompt flushing, written before the loop waits again. Decision lines are
 * gathered in an output buffer written with write(2) when it passes
 * OUT_BLOCK, after each read when flushing promptly, and at the end; a
 * signal interrupting a write never splits a line (the write is retried),
 * so a stopped run leaves only whole lines.
 *
 * Memory is flat: the input buffer holds the unfinished tail of the input,
 * at most one line of REC_MAX_LINE bytes plus one chunk; a longer line is
 * never held, its bytes are skipped to its newline. */
#include "run.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "rec.h"

enum {
    IN_CHUNK = 1 << 20,  /* bytes asked of one read */
    OUT_BLOCK = 1 << 18, /* output buffered before a write */
};

typedef struct Run {
    pcr_engine *e;
    pcr_run_opts *o;
    pcr_stats *st;
    FILE *in, *out;
    int infd, outfd; /* -1: go through stdio */
    bool prompt;     /* write after each read */
    Buf ob;          /* decision lines not yet written */
    uint64_t recno;
} Run;

static bool stop_requested(const Run *r) { return r->o->stop && *r->o->stop; }

/* Reads up to n bytes. Returns the count (0 at end of input), -1 on an
 * error (read_errno set), or -2 when a signal interrupted the wait and the
 * stop flag is set. */
static ssize_t in_read(Run *r, char *p, size_t n)
{
    if (r->infd < 0) {
        size_t k = fread(p, 1, n, r->in);
        if (k == 0 && ferror(r->in)) {
            r->o->read_errno = errno ? errno : EIO;
            return -1;
        }
        return (ssize_t)k;
    }
    for (;;) {
        ssize_t k = read(r->infd, p, n);
        if (k >= 0) return k;
        if (errno == EINTR) {
            if (stop_requested(r)) return -2;
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* A non-blocking descriptor handed to us: wait for data. */
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            if (stop_requested(r)) return -2;
            continue;
        }
        r->o->read_errno = errno;
        return -1;
    }
}

/* Writes the buffered lines. Interrupted writes are retried whatever the
 * stop flag says: a line once decided is written whole. */
static bool out_flush(Run *r)
{
    if (r->o->write_errno) return false;
    if (r->outfd < 0) {
        if ((r->ob.n && fwrite(r->ob.p, 1, r->ob.n, r->out) != r->ob.n) || fflush(r->out) != 0) {
            r->o->write_errno = errno ? errno : EIO;
            return false;
        }
        r->ob.n = 0;
        return true;
    }
    size_t done = 0;
    while (done < r->ob.n) {
        ssize_t w = write(r->outfd, r->ob.p + done, r->ob.n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            r->o->write_errno = errno;
            return false;
        }
        done += (size_t)w;
    }
    r->ob.n = 0;
    return true;
}

static bool emit(Run *r, const char *line, size_t n, pcr_decision_kind k)
{
    r->st->records++;
    r->st->by_decision[k]++;
    buf_put(&r->ob, line, n);
    return r->ob.n < OUT_BLOCK || out_flush(r);
}

/* Decides one complete line (without its '\n'). */
static bool run_line(Run *r, const char *line, size_t len)
{
    const char *text = NULL;
    size_t n = 0;
    pcr_decision_kind k = PCR_DEC_ERROR;
    if (len > REC_MAX_LINE) {
        api_engine_too_long(r->e, ++r->recno, &text, &n);
    } else {
        pcr_engine_eval(r->e, line, len, ++r->recno, &text, &n, &k);
    }
    return emit(r, text, n, k);
}

/* Decides the over-long line that begins in the buffer and will be
 * skipped to its newline. */
static bool run_too_long(Run *r)
{
    const char *text = NULL;
    size_t n = 0;
    api_engine_too_long(r->e, ++r->recno, &text, &n);
    return emit(r, text, n, PCR_DEC_ERROR);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether decisions should be written as soon as they are made. */
static bool wants_prompt(const pcr_run_opts *o, int infd)
{
    if (o->flush == PCR_FLUSH_PROMPT) return true;
    if (o->flush == PCR_FLUSH_BLOCK || infd < 0) return false;
    struct stat st;
    return fstat(infd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

static bool run_stream(Run *r)
{
    size_t cap = REC_MAX_LINE + IN_CHUNK + 1;
    char *buf = xmalloc(cap);
    size_t have = 0;
    bool skipping = false; /* inside an over-long line, dropping bytes */
    bool ok = true;
    while (ok) {
        ssize_t got = in_read(r, buf + have, IN_CHUNK);
        if (got == -2) {
            r->o->stopped = true;
            break;
        }
        if (got < 0) {
            ok = false;
            break;
        }
        if (got == 0) break;
        r->st->bytes += (uint64_t)got;
        size_t end = have + (size_t)got, start = 0;
        char *nl;
        while (ok && (nl = memchr(buf + start, '\n', end - start))) {
            size_t len = (size_t)(nl - (buf + start));
            if (skipping) skipping = false;
            else ok = run_line(r, buf + start, len);
            start += len + 1;
            if (stop_requested(r)) {
                r->o->stopped = true;
                break;
            }
        }
        if (!ok || r->o->stopped) break;
        have = end - start;
        if (skipping) {
            have = 0;
        } else if (have > REC_MAX_LINE) {
            ok = run_too_long(r);
            skipping = true;
            have = 0;
        } else if (start > 0 && have > 0) {
            memmove(buf, buf + start, have);
        }
        if (ok && r->prompt && r->ob.n) ok = out_flush(r);
        if (ok && stop_requested(r)) r->o->stopped = true;
        if (r->o->stopped) break;
    }
    /* The last line, without a newline. */
    if (ok && !r->o->stopped && have > 0 && !skipping) ok = run_line(r, buf, have);
    free(buf);
    return ok;
}

pcr_status pcr_engine_run_opts(pcr_engine *e, FILE *in, FILE *out, pcr_run_opts *opts,
                               pcr_stats *stats)
{
    if (!e || !in || !out) return PCR_ERR_USAGE;
    pcr_run_opts defaults = {0};
    pcr_run_opts *o = opts ? opts : &defaults;
    o->stopped = false;
    o->read_errno = o->write_errno = 0;
    pcr_stats local;
    pcr_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    double t0 = now_seconds();

    Run r = {.e = e, .o = o, .st = st, .in = in, .out = out};
    r.infd = fileno(in);
    r.outfd = fileno(out);
    /* Whatever the caller wrote through `out` goes first. */
    if (r.outfd >= 0 && fflush(out) != 0) r.outfd = -1;
    r.prompt = wants_prompt(o, r.infd);
    buf_reserve(&r.ob, OUT_BLOCK + 4096);

    bool ok = run_stream(&r);
    if (!out_flush(&r)) ok = false;
    buf_free(&r.ob);
    st->seconds = now_seconds() - t0;
    return ok ? PCR_OK : PCR_ERR_IO;
}

pcr_status pcr_engine_run(pcr_engine *e, FILE *in, FILE *out, pcr_stats *stats)
{
    return pcr_engine_run_opts(e, in, out, NULL, stats);
}
