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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "arena.h"
#include "buf.h"
#include "rec.h"

enum {
    IN_CHUNK = 1 << 20,  /* bytes asked of one read */
    OUT_BLOCK = 1 << 18, /* output buffered before a write */
    STOP_POLL_MS = 100,  /* the stop flag is looked at this often while input is awaited */
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

/* Waits until the input has bytes (or its end, or an error) and returns
 * true, or returns false once the stop flag is set: it is looked at every
 * STOP_POLL_MS, because a signal that sets it just before read(2) starts
 * waiting interrupts nothing, and that read would wait for input that may
 * never come. A regular file is always ready: no wait. */
static bool wait_input(const Run *r)
{
    if (!r->o->stop) return true;
    struct pollfd pfd = {.fd = r->infd, .events = POLLIN};
    for (;;) {
        if (stop_requested(r)) return false;
        int k = poll(&pfd, 1, STOP_POLL_MS);
        if (k > 0 || (k < 0 && errno != EINTR)) return true;
    }
}

/* Reads up to n bytes. Returns the count (0 at end of input), -1 on an
 * error (read_errno set), or -2 when the stop flag is set while the input
 * is awaited (wait_input) or a signal interrupted the wait. */
static ssize_t in_read_raw(Run *r, char *p, size_t n)
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
        if (!wait_input(r)) return -2;
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

/* One read of a reading loop: the count of bytes read, added to the
 * stats; 0 at the end of the input, on a stop (o->stopped set) or on an
 * error (*ok cleared). */
static size_t in_read(Run *r, char *p, size_t n, bool *ok)
{
    ssize_t got = in_read_raw(r, p, n);
    if (got == -2) r->o->stopped = true;
    else if (got < 0) *ok = false;
    if (got <= 0) return 0;
    r->st->bytes += (uint64_t)got;
    return (size_t)got;
}

/* Writes and empties b. Interrupted writes are retried whatever the stop
 * flag says: a line once decided is written whole. */
static bool flush_buf(Run *r, Buf *b)
{
    if (r->o->write_errno) return false;
    if (r->outfd < 0) {
        if ((b->n && fwrite(b->p, 1, b->n, r->out) != b->n) || fflush(r->out) != 0) {
            r->o->write_errno = errno ? errno : EIO;
            return false;
        }
        b->n = 0;
        return true;
    }
    size_t done = 0;
    while (done < b->n) {
        ssize_t w = write(r->outfd, b->p + done, b->n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            r->o->write_errno = errno;
            return false;
        }
        done += (size_t)w;
    }
    b->n = 0;
    return true;
}

static bool out_flush(Run *r) { return flush_buf(r, &r->ob); }

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

/* What read_lines does with the input, in order: `lines` takes whole
 * lines, text[0..n) (each ends in '\n' but, at the end of the input, the
 * last), `too_long` stands for a line over REC_MAX_LINE whose bytes were
 * dropped, `chunk` runs after each read; each may set o->stopped, and
 * returns false on a failure that ends the run. */
typedef struct LineSink {
    bool (*lines)(void *ctx, const char *text, size_t n);
    bool (*too_long)(void *ctx);
    bool (*chunk)(void *ctx);
    void *ctx;
} LineSink;

/* The last '\n' of p[0..n), or NULL. Searched from the end: what follows
 * it is at most one unfinished line. */
static const char *last_newline(const char *p, size_t n)
{
    while (n--)
        if (p[n] == '\n') return p + n;
    return NULL;
}

/* Reads the input to its end, a stop or a failure, handing it to s as
 * blocks of whole lines: one block per read, cut after its last newline
 * (found from the end: the lines themselves are found by whoever decides them). Holds
 * at most one line (REC_MAX_LINE) and one read (IN_CHUNK) at a time; the
 * bytes of a longer line are skipped to its newline. */
static bool read_lines(Run *r, const LineSink *s)
{
    char *buf = xmalloc(REC_MAX_LINE + IN_CHUNK + 1);
    size_t have = 0;
    bool skipping = false; /* inside an over-long line, dropping bytes */
    bool ok = true;
    while (ok) {
        size_t got = in_read(r, buf + have, IN_CHUNK, &ok);
        if (got == 0) break;
        size_t end = have + got, start = 0;
        if (skipping) { /* then have is 0 */
            const char *nl = memchr(buf, '\n', end);
            start = nl ? (size_t)(nl - buf) + 1 : end;
            skipping = !nl;
        }
        const char *last = skipping || start == end ? NULL : last_newline(buf + start, end - start);
        if (last) {
            size_t n = (size_t)(last - (buf + start)) + 1;
            ok = s->lines(s->ctx, buf + start, n);
            start += n;
        }
        if (!ok || r->o->stopped) break;
        have = end - start;
        if (skipping) {
            have = 0;
        } else if (have > REC_MAX_LINE) {
            ok = s->too_long(s->ctx);
            skipping = true;
            have = 0;
        } else if (start > 0 && have > 0) {
            memmove(buf, buf + start, have);
        }
        if (ok) ok = s->chunk(s->ctx);
        if (ok && stop_requested(r)) r->o->stopped = true;
        if (r->o->stopped) break;
    }
    /* The last line, without a newline. */
    if (ok && !r->o->stopped && have > 0 && !skipping) ok = s->lines(s->ctx, buf, have);
    free(buf);
    return ok;
}

/* One thread: each line decided as it comes, its decision line going into
 * the output buffer, written whenever it passes OUT_BLOCK. */
static bool stream_lines(void *ctx, const char *text, size_t n)
{
    Run *r = ctx;
    while (n) {
        size_t used = api_engine_eval_lines(r->e, text, n, &r->recno, &r->ob, OUT_BLOCK, r->o->stop, r->st);
        text += used;
        n -= used;
        if (r->ob.n >= OUT_BLOCK && !out_flush(r)) return false;
        if (stop_requested(r)) {
            r->o->stopped = true;
            break;
        }
    }
    return true;
}

static bool stream_too_long(void *ctx)
{
    Run *r = ctx;
    const char *text;
    size_t n;
    api_engine_too_long(r->e, ++r->recno, &text, &n);
    buf_put(&r->ob, text, n);
    r->st->records++;
    r->st->by_decision[PCR_DEC_ERROR]++;
    return r->ob.n < OUT_BLOCK || out_flush(r);
}

static bool stream_chunk(void *ctx)
{
    Run *r = ctx;
    return !(r->prompt && r->ob.n) || out_flush(r);
}

static bool run_stream(Run *r)
{
    LineSink s = {stream_lines, stream_too_long, stream_chunk, r};
    return read_lines(r, &s);
}

/* ---- several threads --------------------------------------------------------
 *
 * The calling thread reads straight into batches (closed past
 * BATCH_BYTES - READ_BYTES of whole lines), hands them to the workers and
 * writes the finished batches in input order: it never copies the input
 * or looks at a line. With N threads asked for there are N - 1 workers,
 * each with a clone of the engine, started once more than a batch of
 * input has come (less needs none); the calling thread decides a
 * batch too, with e itself, whenever it would otherwise wait for one to
 * finish, so N threads share N cores. Whoever takes a batch (decide_next)
 * counts its lines, takes its first record number once the batch before
 * has taken its own (batches are taken in order, so that wait is short),
 * and renders the decisions into the batch's own buffer. At most `nb`
 * batches are in flight, so memory is bounded by nb x (a batch, one read
 * and one line over, and its decisions). */

enum {
    BATCH_BYTES = 512 << 10, /* bytes a batch holds before its reads stop */
    READ_BYTES = 128 << 10,  /* bytes asked of one read into a batch: a batch
                                closes with at least BATCH_BYTES - READ_BYTES
                                of whole lines, and at most BATCH_BYTES and
                                the rest of a line */
    MAX_THREADS = 16,
    MAX_BATCHES = 16,
};

typedef enum BatchState { B_FREE, B_READY, B_RUNNING, B_DONE } BatchState;

typedef struct Batch {
    Buf in;          /* whole lines; the last may lack its newline (end of input) */
    bool too_long;   /* then one more record: a line over REC_MAX_LINE, not kept */
    uint64_t seq;    /* its place in the input, counting batches from 0 */
    uint64_t first_recno;
    Buf out;         /* their decision lines */
    pcr_stats st;    /* records and decisions of this batch */
    BatchState state;
} Batch;

typedef struct Pool {
    pthread_mutex_t mu;
    pthread_cond_t work;     /* a batch became READY, or quit */
    pthread_cond_t done;     /* a batch became DONE */
    pthread_cond_t numbered; /* a batch took its first record number */
    Batch b[MAX_BATCHES];
    unsigned nb;
    uint64_t submitted, written; /* batch sequence numbers */
    uint64_t next_seq;           /* the batch that takes a record number next */
    uint64_t next_recno;         /*   its first record number */
    bool quit;
} Pool;

typedef struct Worker {
    Pool *pool;
    pcr_engine *e;
    pthread_t tid;
} Worker;

/* The workers of a run: none until more than a batch of input has come
 * (crew_start), so that an input of less than a batch (a small file, a
 * few records on a pipe) is decided on the calling thread alone and pays
 * for no clone of the engine and no thread. */
typedef struct Crew {
    Worker w[MAX_THREADS];
    unsigned want;    /* workers asked for: threads - 1 */
    unsigned started; /* workers running (w[0 .. started)) */
    bool tried;
} Crew;

/* The number of lines in text[0..n): its newlines, and one more when the
 * text does not end in one. With SSE2, 64 bytes a step: each compare
 * subtracts 1 from a byte lane per newline, at most 255 times, then
 * psadbw adds the lanes up (no popcount: x86-64's baseline has none, and
 * the library call costs more than the scan). Elsewhere eight bytes a
 * step, the newline bytes' high bits summed by one multiplication. */
static uint64_t count_lines(const char *text, size_t n)
{
    uint64_t count = 0;
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
#define NL_STEP(k) _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(text + i + 16 * (k))), nl)
    while (n - i >= 16) {
        /* 64 bytes a round, at most 63 rounds (252 per lane), then what
         * is left 16 bytes at a time. */
        size_t rounds = (n - i) / 64;
        if (rounds > 63) rounds = 63;
        __m128i acc = zero;
        for (; rounds; rounds--, i += 64) {
            acc = _mm_sub_epi8(acc, NL_STEP(0));
            acc = _mm_sub_epi8(acc, NL_STEP(1));
            acc = _mm_sub_epi8(acc, NL_STEP(2));
            acc = _mm_sub_epi8(acc, NL_STEP(3));
        }
        if (n - i < 64)
            for (; n - i >= 16; i += 16) acc = _mm_sub_epi8(acc, NL_STEP(0));
        __m128i sums = _mm_sad_epu8(acc, zero);
        count += (uint64_t)_mm_cvtsi128_si32(sums) + (uint64_t)_mm_cvtsi128_si32(_mm_srli_si128(sums, 8));
    }
#undef NL_STEP
#else
    const uint64_t low7 = UINT64_C(0x7f7f7f7f7f7f7f7f), nl8 = UINT64_C(0x0a0a0a0a0a0a0a0a);
    const uint64_t ones = UINT64_C(0x0101010101010101);
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, text + i, 8);
        x ^= nl8;
        /* high bit of each byte: set exactly when the byte was '\n' */
        uint64_t z = ~(((x & low7) + low7) | x | low7);
        count += ((z >> 7) * ones) >> 56;
    }
#endif
    for (; i < n; i++) count += text[i] == '\n';
    return count + (n && text[n - 1] != '\n');
}

/* Decides batch b on engine e, its records numbered from b->first_recno. */
static void decide_batch(pcr_engine *e, Batch *b)
{
    b->out.n = 0;
    memset(&b->st, 0, sizeof b->st);
    uint64_t recno = b->first_recno - 1;
    for (size_t at = 0; at < b->in.n;)
        at += api_engine_eval_lines(e, b->in.p + at, b->in.n - at, &recno, &b->out, SIZE_MAX, NULL, &b->st);
    if (b->too_long) {
        const char *text;
        size_t n;
        api_engine_too_long(e, ++recno, &text, &n);
        buf_put(&b->out, text, n);
        b->st.records++;
        b->st.by_decision[PCR_DEC_ERROR]++;
    }
}

/* Takes the oldest batch no thread has taken, if any, numbers its records
 * once the batch before has numbered its own (batches are taken in
 * order, so that wait is short) and decides it on e. Called, and returns,
 * with p->mu held; returns whether there was such a batch. */
static bool decide_next(Pool *p, pcr_engine *e)
{
    Batch *take = NULL;
    for (uint64_t s = p->written; s < p->submitted && !take; s++)
        if (p->b[s % p->nb].state == B_READY) take = &p->b[s % p->nb];
    if (!take) return false;
    take->state = B_RUNNING;
    pthread_mutex_unlock(&p->mu);
    uint64_t count = count_lines(take->in.p, take->in.n) + take->too_long;
    pthread_mutex_lock(&p->mu);
    while (p->next_seq != take->seq) pthread_cond_wait(&p->numbered, &p->mu);
    take->first_recno = p->next_recno;
    p->next_recno += count;
    p->next_seq++;
    pthread_cond_broadcast(&p->numbered);
    pthread_mutex_unlock(&p->mu);
    decide_batch(e, take);
    pthread_mutex_lock(&p->mu);
    take->state = B_DONE;
    pthread_cond_broadcast(&p->done);
    return true;
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    Pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (decide_next(p, w->e)) continue;
        if (p->quit) break;
        pthread_cond_wait(&p->work, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Writes finished batches in order: all in flight when `all`, else only
 * those already done. Returns false once writing failed (the batches are
 * still retired, so the workers drain). */
static bool write_done(Run *r, Pool *p, bool all)
{
    bool ok = r->o->write_errno == 0;
    pthread_mutex_lock(&p->mu);
    while (p->written < p->submitted) {
        Batch *b = &p->b[p->written % p->nb];
        if (b->state != B_DONE) {
            if (!all) break;
            if (!decide_next(p, r->e)) pthread_cond_wait(&p->done, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        if (ok) {
            ok = flush_buf(r, &b->out);
            r->st->records += b->st.records;
            for (int k = 0; k <= PCR_DEC_ERROR; k++) r->st->by_decision[k] += b->st.by_decision[k];
        }
        pthread_mutex_lock(&p->mu);
        b->state = B_FREE;
        p->written++;
    }
    pthread_mutex_unlock(&p->mu);
    return ok;
}

/* The batch being filled: the next slot, once it is free (written). */
static Batch *next_batch(Run *r, Pool *p, bool *ok)
{
    while (p->submitted - p->written >= p->nb) {
        /* Wait for the oldest batch, deciding one meanwhile when there is
         * one to take, then write what is done. */
        pthread_mutex_lock(&p->mu);
        while (p->b[p->written % p->nb].state != B_DONE)
            if (!decide_next(p, r->e)) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
        if (!write_done(r, p, false)) *ok = false;
    }
    Batch *b = &p->b[p->submitted % p->nb];
    if (b->in.cap > 2 * (BATCH_BYTES + REC_MAX_LINE)) buf_free(&b->in); /* grown by a long line */
    buf_reserve(&b->in, BATCH_BYTES + READ_BYTES); /* at once, not doubling up to it */
    b->in.n = 0;
    b->too_long = false;
    b->seq = p->submitted;
    return b;
}

static void submit(Pool *p, Batch *b)
{
    pthread_mutex_lock(&p->mu);
    b->state = B_READY;
    p->submitted++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

/* True when the input has no byte ready to read for ms milliseconds (0:
 * right now). A signal, an error or the end of the input count as ready:
 * the read that follows finds out which. */
static bool input_idle_for(const Run *r, int ms)
{
    struct pollfd pf = {.fd = r->infd, .events = POLLIN};
    return poll(&pf, 1, ms) == 0;
}

/* Submits the whole lines of *b, b->in[0 .. *line_at), and makes the next
 * batch *b, starting with the unfinished line b->in[*line_at ..). The
 * worker that takes the old batch reads only below its in.n, so its tail
 * is copied after the submission, and the slot is not reused before nb
 * more batches are submitted. */
static bool hand_over(Run *r, Pool *p, Batch **b, size_t *line_at)
{
    bool ok = true;
    Batch *old = *b;
    size_t tail = old->in.n - *line_at;
    old->in.n = *line_at;
    submit(p, old);
    Batch *nb = next_batch(r, p, &ok);
    buf_reserve(&nb->in, tail + READ_BYTES);
    if (tail) memcpy(nb->in.p, old->in.p + *line_at, tail);
    nb->in.n = tail;
    *b = nb;
    *line_at = 0;
    return ok;
}

enum { SETTLE_WAIT_MS = 1 }; /* settle_idle's wait for more input */

/* The input is idle and what came is handed over (prompt flushing): until
 * more input waits, writes the finished batches and decides waiting ones,
 * so that while the input stays idle every record read is decided and
 * written. With workers running, more input is waited for a moment first
 * and read as soon as it comes (the workers take the batches): a producer
 * only briefly behind (a fast pipe) keeps every thread busy instead of
 * having everything in flight waited for. Returns false once writing
 * failed. */
static bool settle_idle(Run *r, Pool *p, const Crew *c)
{
    for (;;) {
        if (!write_done(r, p, false)) return false;
        pthread_mutex_lock(&p->mu);
        bool pending = p->written < p->submitted;
        pthread_mutex_unlock(&p->mu);
        if (!pending || stop_requested(r)) return true;
        if (!input_idle_for(r, c->started ? SETTLE_WAIT_MS : 0)) return true;
        pthread_mutex_lock(&p->mu);
        decide_next(p, r->e);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Starts c's workers, once: each with a clone of the engine and every
 * signal blocked, so that a SIGINT or SIGTERM reaches the reading thread
 * and interrupts a read waiting for input (delivered to a worker it would
 * set the stop flag unseen). Fewer start when a clone or a thread cannot
 * be made; the calling thread then decides what they would have. */
static void crew_start(Run *r, Pool *p, Crew *c)
{
    if (c->tried) return;
    c->tried = true;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < c->want; i++) {
        Worker *w = &c->w[c->started];
        w->pool = p;
        w->e = pcr_engine_clone(r->e);
        if (!w->e) break;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            pcr_engine_free(w->e);
            break;
        }
        c->started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Several threads: reads the input straight into the batches (no copy, no
 * look at a line but for the last newline of each read), hands each batch
 * over once it holds BATCH_BYTES - READ_BYTES of whole lines, and writes
 * finished batches between reads. Holds at most the batches in flight; the bytes
 * of a line over REC_MAX_LINE are dropped to its newline, its batch ending
 * with it (too_long). */
static bool read_batches(Run *r, Pool *p, Crew *c)
{
    bool ok = true;
    Batch *b = next_batch(r, p, &ok);
    size_t line_at = 0;    /* b->in[line_at ..) is the unfinished line */
    bool skipping = false; /* inside an over-long line: its bytes are dropped */
    uint64_t total = 0;    /* bytes read */
    while (ok) {
        buf_reserve(&b->in, READ_BYTES);
        size_t old = b->in.n;
        size_t got = in_read(r, b->in.p + old, READ_BYTES, &ok);
        if (got == 0) break;
        b->in.n += got;
        /* More than a batch came: start the workers. (Not when a batch
         * fills: on a pipe, batches are handed over whenever no input is
         * waiting, and may never fill.) */
        if ((total += got) > BATCH_BYTES) crew_start(r, p, c);
        if (skipping) { /* then old == line_at */
            const char *nl = memchr(b->in.p + old, '\n', got);
            if (nl) {
                size_t keep = (size_t)(b->in.p + b->in.n - (nl + 1));
                memmove(b->in.p + old, nl + 1, keep);
                b->in.n = old + keep;
                skipping = false;
            } else {
                b->in.n = old;
            }
        }
        if (!skipping) {
            const char *last = last_newline(b->in.p + old, b->in.n - old);
            if (last) line_at = (size_t)(last - b->in.p) + 1;
            if (b->in.n - line_at > REC_MAX_LINE) {
                b->in.n = line_at;
                b->too_long = true;
                skipping = true;
                ok = hand_over(r, p, &b, &line_at);
            } else if (line_at > BATCH_BYTES - READ_BYTES) {
                ok = hand_over(r, p, &b, &line_at);
            }
        }
        if (stop_requested(r)) {
            r->o->stopped = true;
            break;
        }
        if (r->prompt && input_idle_for(r, 0)) {
            /* Nothing more is waiting: decide and write what came. */
            if (ok && line_at) ok = hand_over(r, p, &b, &line_at);
            if (!settle_idle(r, p, c)) ok = false;
        } else if (!write_done(r, p, false)) {
            ok = false;
        }
    }
    /* Then what was read, the last line without its newline too. A stopped
     * or failed run drops the batch being filled (not yet decided). */
    if (ok && !r->o->stopped && b->in.n) submit(p, b);
    return ok;
}

static bool run_threads(Run *r, unsigned nthreads)
{
    Pool p;
    memset(&p, 0, sizeof p);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.work, NULL);
    pthread_cond_init(&p.done, NULL);
    pthread_cond_init(&p.numbered, NULL);
    p.nb = 2 * nthreads > MAX_BATCHES ? MAX_BATCHES : 2 * nthreads;
    p.next_recno = r->recno + 1;
    /* This thread reads, writes and decides too (with e itself) whenever it
     * would otherwise wait for a batch; the nthreads - 1 workers, each with
     * a clone, start once more than a batch of input has come (crew_start). */
    Crew c = {.want = nthreads - 1};
    bool ok = read_batches(r, &p, &c);
    if (!write_done(r, &p, true)) ok = false;
    pthread_mutex_lock(&p.mu);
    p.quit = true;
    pthread_cond_broadcast(&p.work);
    pthread_mutex_unlock(&p.mu);
    for (unsigned i = 0; i < c.started; i++) {
        pthread_join(c.w[i].tid, NULL);
        pcr_engine_merge_counts(r->e, c.w[i].e);
        pcr_engine_free(c.w[i].e);
    }
    for (unsigned i = 0; i < MAX_BATCHES; i++) {
        buf_free(&p.b[i].in);
        buf_free(&p.b[i].out);
    }
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.work);
    pthread_cond_destroy(&p.done);
    pthread_cond_destroy(&p.numbered);
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
    pcr_stats local = {0};
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

    unsigned threads = o->threads > MAX_THREADS ? MAX_THREADS : o->threads;
    bool ok = threads > 1 && r.infd >= 0 ? run_threads(&r, threads) : run_stream(&r);
    if (!out_flush(&r)) ok = false;
    buf_free(&r.ob);
    st->seconds = now_seconds() - t0;
    return ok ? PCR_OK : PCR_ERR_IO;
}

pcr_status pcr_engine_run(pcr_engine *e, FILE *in, FILE *out, pcr_stats *stats)
{
    return pcr_engine_run_opts(e, in, out, NULL, stats);
}
