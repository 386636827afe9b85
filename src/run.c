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
#define _GNU_SOURCE /* F_SETPIPE_SZ (Linux) */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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
    IN_CHUNK = 1 << 20,   /* bytes asked of one read */
    OUT_BLOCK = 1 << 18,  /* output buffered before a write */
    STOP_POLL_MS = 100,   /* the stop flag is looked at this often while input is awaited */
    PIPE_BYTES = 1 << 20, /* the buffer asked for an input pipe (widen_pipe) */
};

typedef struct Run {
    pcr_engine *e;
    pcr_run_opts *o;
    pcr_stats *st;
    FILE *in, *out;
    int infd, outfd;   /* -1: go through stdio */
    bool in_known;     /* in_st is infd's fstat, taken once for the run */
    struct stat in_st;
    bool prompt;       /* write after each read */
    Buf ob;            /* decision lines not yet written */
    uint64_t recno;
    atomic_bool *halt; /* with threads, the other lanes' stop flag (below) */
} Run;

/* o->stop is a signal handler's flag, read on the thread signals reach
 * (the calling thread, whose signal mask the other lanes of -j N block);
 * those lanes look at halt, which the calling thread sets when it sees
 * the flag. */
static bool stop_requested(const Run *r)
{
    if (r->halt) return atomic_load_explicit(r->halt, memory_order_relaxed);
    return r->o->stop && *r->o->stop;
}

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

/* On a pipe, asks for a buffer of PIPE_BYTES (Linux; where it is refused,
 * the pipe stays as it is): a fast producer then writes ahead of the reads
 * instead of waiting for each one, and a read takes more at a time
 * (docs/benchmarks.md, "eighth round"). */
static void widen_pipe(const Run *r)
{
#ifdef F_SETPIPE_SZ
    if (r->in_known && S_ISFIFO(r->in_st.st_mode)) (void)fcntl(r->infd, F_SETPIPE_SZ, PIPE_BYTES);
#else
    (void)r;
#endif
}

/* Whether decisions should be written as soon as they are made. */
static bool wants_prompt(const pcr_run_opts *o, const Run *r)
{
    if (o->flush == PCR_FLUSH_PROMPT) return true;
    if (o->flush == PCR_FLUSH_BLOCK || r->infd < 0) return false;
    return !r->in_known || !(S_ISREG(r->in_st.st_mode) || S_ISBLK(r->in_st.st_mode));
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
        size_t used = api_engine_eval_lines(r->e, text, n, &r->recno, &r->ob, OUT_BLOCK, r->o->stop, r->st, true);
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
 * Every thread reads its own batches, decides them with its own engine and
 * queues their decision lines, which are written in input order.
 *
 * A regular file is read by ranges of RANGE_BYTES (ranged): a thread takes
 * the next range (a lock held for an addition), reads it with pread(2)
 * and no lock, and keeps the lines that start in it, the last one read on
 * past the range's end; the lines a range's first bytes finish belong to
 * the range before. It counts its lines and gives the count; a range is
 * numbered once every range before it has given its count, and a thread
 * waits for its range's number only when a record's decision names it (a
 * malformed line), so the threads read and decide with nothing taken in
 * turn. (When the reads were taken one thread at a time, a thread held
 * them 82 to 106 us a batch, which would have kept -j N under about eight
 * times -j 1: docs/benchmarks.md, "ninth round".)
 *
 * Anything else (a pipe, a terminal) is read one thread at a time (the
 * Feed): a batch is whole lines, cut after the last newline of a read
 * once it holds more than BATCH_BYTES - READ_BYTES of them, and the
 * unfinished line it leaves is carried to the next batch, whichever
 * thread reads it. No lock is held while a read waits for input; a thread
 * waiting for its turn waits on a condition variable, where a signal
 * reaches it at once (ThreadSanitizer, for one, delays a handler until a
 * lock wait ends). The thread that reads a batch counts its lines and
 * numbers its records (batches are numbered in the order they are read).
 *
 * Either way the thread decides its batch into a decision buffer of its
 * own and queues it; whoever queues the oldest batch not yet written
 * writes it and every finished one after it.
 *
 * So a batch's bytes stay with one thread: the kernel copies the input
 * into the cache of the core that decodes it, and each thread renders into
 * buffers it filled last time. (When one thread read every batch and
 * handed it to another, -j 2 took up to 30% more CPU time than -j 1 in
 * some stretches of the machine's time, most of it in the kernel's copy
 * into buffers another thread had read last: docs/benchmarks.md.)
 *
 * The calling thread is lane 0, with the engine itself; the other
 * threads - 1 lanes, each with a clone, start once a batch has filled or
 * more than BATCH_BYTES of input has come (ranged: once lane 0 has taken
 * the first range and more are left). A smaller input, a small file or a
 * few records on a pipe, is decided on the calling thread and pays for no
 * clone and no thread. A lane has LANE_OUTS decision buffers and
 * reads a batch only while one of them is free (not waiting to be
 * written), so at most LANE_OUTS x threads batches are in flight, and
 * memory is bounded by that many (a batch, one read and one line over,
 * and its decisions). */

enum {
    BATCH_BYTES = 512 << 10, /* bytes a batch holds before its reads stop */
    READ_BYTES = 128 << 10,  /* bytes asked of one read into a batch: a batch
                                closes with at least BATCH_BYTES - READ_BYTES
                                of whole lines, and at most BATCH_BYTES and
                                the rest of a line */
    RANGE_BYTES = BATCH_BYTES, /* a regular file's ranges (ranged) */
    LOOK_BYTES = 4 << 10,      /* read with a range: its last line most likely ends in them */
    COPY_ALIGN = 64,           /* a cache line (read_range) */
    MAX_THREADS = 16,
    LANE_OUTS = 2, /* one buffer being filled while one waits to be written */
    MAX_SLOTS = MAX_THREADS * LANE_OUTS,
};

/* The input. Read in turn (not ranged), by one lane at a time: the lane
 * that set `reading` (under mu) owns the rest. No lock is held through the reads, which may
 * wait for input: a lane waits for its turn on free_cv. */
typedef struct Feed {
    pthread_mutex_t mu;
    pthread_cond_t free_cv; /* reading went false */
    bool reading;
    Buf carry;              /* the unfinished line the last batch left */
    bool skipping;          /* inside a line over REC_MAX_LINE: its bytes are dropped */
    bool ended;             /* the input ended, or a stop or a read error ended the reading (no
                               range is left to take) */
    uint64_t total;         /* bytes read (not ranged) */
    uint64_t seq;           /* batches read (ranged: ranges taken) */
    uint64_t next_recno;    /* the next batch's first record number */
    /* A regular file is read by ranges (ranged): a lane takes the next
     * range under mu, reads it with pread(2) and counts its records with
     * no lock held, then gives the count (counted); a range is numbered
     * once every range before it has given its count. */
    bool ranged;
    uint64_t base;                     /* where the input began: the descriptor's offset */
    uint64_t pos;                      /* the next range's first byte */
    uint64_t size;                     /* where the input ends: the file's size when the run began */
    uint64_t numbered;                 /* ranges numbered: range s's first number is first[s % MAX_SLOTS] */
    bool counted[MAX_SLOTS];           /* [s % MAX_SLOTS]: range s has given its count, lines[...] */
    uint64_t lines[MAX_SLOTS];
    uint64_t first[MAX_SLOTS];
    pthread_cond_t turn_cv[MAX_SLOTS]; /* [s % MAX_SLOTS]: range s was numbered (at most
                                          MAX_SLOTS ranges are in flight) */
} Feed;

/* A batch read and not yet written, at slot seq % nslots of the queue. */
typedef struct Slot {
    Buf *out;     /* its decision lines: one of its lane's buffers */
    bool *busy;   /*   and that buffer's busy flag, cleared once written */
    pcr_stats st; /* its records and decisions */
    int err;      /* an errno: its range could not be read */
    bool done;    /* decided: out and st are set */
} Slot;

/* The batches in flight, written in input order (under mu). */
typedef struct Queue {
    pthread_mutex_t mu;
    pthread_cond_t written_cv; /* a batch was written (its buffer is free again), or a lane ended */
    Slot slot[MAX_SLOTS];
    unsigned nslots;
    uint64_t written; /* batches written (or dropped after a failed write) */
    bool writing;     /* a lane is writing: it writes every finished batch in turn */
    bool failed;      /* a write failed: no more batches are read */
    bool cut;         /* a range could not be read: it and every batch after it are dropped */
} Queue;

struct Threads;

typedef struct Lane {
    struct Threads *t;
    Run *r;               /* lane 0: the run; the others: a copy that looks at halt */
    Run run;
    pcr_engine *e;        /* lane 0: the run's engine; the others: a clone */
    Buf in;               /* its batch: whole lines from in.p + from on (ranged: the byte
                             before its range and its first bytes come first), the
                             last maybe without its newline */
    size_t from;
    bool too_long;        /* then one more record: a line over REC_MAX_LINE, not kept */
    int err;              /* an errno: its range could not be read (ranged) */
    Buf out[LANE_OUTS];   /* decision buffers */
    bool busy[LANE_OUTS]; /* queued, not yet written (under the queue's mu) */
    pthread_t tid;
} Lane;

typedef struct Threads {
    Run *r;
    Feed f;
    Queue q;
    Lane lane[MAX_THREADS];
    unsigned want;    /* lanes asked for */
    unsigned started; /* lanes started: lane[0 .. started) */
    unsigned running; /* other lanes not yet done (under q.mu) */
    bool tried;       /* crew_start ran */
    atomic_bool halt; /* the stop flag, as lane 0 saw it */
} Threads;

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

static uint64_t range_first(Threads *t, const Lane *l, uint64_t seq);

/* Decides lane l's batch (seq) on its engine into out, counting its
 * records in st. They are numbered from first when known; otherwise
 * (a range not numbered yet) the batch is decided until a record's
 * decision may name its number (api_engine_eval_lines), and only then
 * does the lane wait for the number (range_first): a batch without such
 * a record never waits for the ranges before it. */
static void decide_batch(Threads *t, Lane *l, uint64_t seq, bool known, uint64_t first, Buf *out,
                         pcr_stats *st)
{
    out->n = 0;
    memset(st, 0, sizeof *st);
    uint64_t recno = known ? first - 1 : 0; /* not known: counted from 0 */
    for (size_t at = l->from; at < l->in.n;) {
        at += api_engine_eval_lines(l->e, l->in.p + at, l->in.n - at, &recno, out, SIZE_MAX, NULL, st, known);
        if (!known && at < l->in.n) {
            recno += range_first(t, l, seq) - 1;
            known = true;
        }
    }
    if (l->too_long) {
        if (!known) recno += range_first(t, l, seq) - 1;
        const char *text;
        size_t n;
        api_engine_too_long(l->e, ++recno, &text, &n);
        buf_put(out, text, n);
        st->records++;
        st->by_decision[PCR_DEC_ERROR]++;
    }
}

/* True when the input has no byte ready to read for ms milliseconds (0:
 * right now). A signal, an error or the end of the input count as ready:
 * the read that follows finds out which. */
static bool input_idle_for(const Run *r, int ms)
{
    struct pollfd pf = {.fd = r->infd, .events = POLLIN};
    return poll(&pf, 1, ms) == 0;
}

enum { SETTLE_WAIT_MS = 1 }; /* fill_batch's wait for more input on a pipe */

/* Frees lane l's input buffer when a long line has grown it past twice a
 * batch and its longest line, so that memory stays bounded after it. */
static void lane_shrink(Lane *l)
{
    if (l->in.cap > 2 * (BATCH_BYTES + REC_MAX_LINE)) buf_free(&l->in);
}

/* Reads lane l's next batch, the feed taken: the line the last batch left
 * unfinished, then reads of READ_BYTES until it holds more than
 * BATCH_BYTES - READ_BYTES of whole lines, a line runs over REC_MAX_LINE
 * (the batch ends before it, too_long, and its bytes are dropped up to
 * its newline, by whichever lane reads next), the input ends (the last
 * line is kept without its newline), or, when flushing promptly, no more
 * input comes for idle_ms milliseconds. Numbers the batch's records and
 * gives its sequence number and first record number. Returns false when
 * there is nothing to decide: the input has ended, or a stop or a read
 * error dropped the batch being read. */
static bool fill_batch(Run *r, Feed *f, Lane *l, int idle_ms, uint64_t *seq, uint64_t *first)
{
    Buf *b = &l->in;
    lane_shrink(l);
    buf_reserve(b, BATCH_BYTES + READ_BYTES); /* at once, not doubling up to it */
    b->n = 0;
    l->from = 0;
    l->too_long = false;
    if (!f->ended && stop_requested(r)) {
        r->o->stopped = true;
        f->ended = true;
    }
    if (f->ended) return false;
    if (f->carry.n) buf_put(b, f->carry.p, f->carry.n);
    f->carry.n = 0;
    size_t line_at = 0; /* b->p[line_at ..) is the unfinished line */
    for (;;) {
        bool ok = true;
        buf_reserve(b, READ_BYTES);
        size_t old = b->n;
        size_t got = in_read(r, b->p + old, READ_BYTES, &ok);
        if (got == 0) {
            /* The end of the input: the batch keeps its last line, without
             * its newline. A stop or a read error drops the batch. */
            f->ended = true;
            if (!ok || r->o->stopped) {
                b->n = 0;
                return false;
            }
            line_at = b->n;
            break;
        }
        b->n += got;
        f->total += got;
        if (f->skipping) { /* then old == line_at == 0 */
            const char *nl = memchr(b->p + old, '\n', got);
            if (nl) {
                size_t keep = (size_t)(b->p + b->n - (nl + 1));
                memmove(b->p + old, nl + 1, keep);
                b->n = old + keep;
                f->skipping = false;
            } else {
                b->n = old;
            }
        }
        if (!f->skipping) {
            const char *last = last_newline(b->p + old, b->n - old);
            if (last) line_at = (size_t)(last - b->p) + 1;
            if (b->n - line_at > REC_MAX_LINE) {
                b->n = line_at;
                l->too_long = true;
                f->skipping = true;
                break;
            }
            if (line_at > BATCH_BYTES - READ_BYTES) break;
        }
        if (stop_requested(r)) {
            r->o->stopped = true;
            f->ended = true;
            b->n = 0;
            return false;
        }
        /* Nothing more is coming: decide and write what came. */
        if (r->prompt && line_at && input_idle_for(r, idle_ms)) break;
    }
    /* The unfinished line goes to the next batch. */
    if (b->n > line_at) buf_put(&f->carry, b->p + line_at, b->n - line_at);
    b->n = line_at;
    if (b->n == 0 && !l->too_long) return false; /* only at the end: nothing came */
    *seq = f->seq++;
    *first = f->next_recno;
    f->next_recno += count_lines(b->p, b->n) + l->too_long;
    return true;
}

static void crew_start(Threads *t);
static void lane_wait(Threads *t, const Lane *l, pthread_cond_t *cv, pthread_mutex_t *mu);

/* pread(2) of n bytes at off, as many reads as it takes: the count, less
 * than n only at the input's end, or -1 with *err set. */
static ssize_t pread_full(int fd, char *p, size_t n, uint64_t off, int *err)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(fd, p + done, n - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            *err = errno ? errno : EIO;
            return -1;
        }
        if (k == 0) break;
        done += (size_t)k;
    }
    return (ssize_t)done;
}

/* Reads the range of RANGE_BYTES at `at` into lane l's batch: the lines
 * that start in it (at the input's beginning, or after a newline), the
 * last one read on past the range to its newline, to the input's end,
 * or until it runs over REC_MAX_LINE (then too_long, and the batch ends
 * before it: the ranges it covers hold no line's start, so no lane keeps
 * its bytes). The input ends at f->size, or where a read finds it ending
 * sooner. Returns the number of records (count_lines, and one for a line
 * over REC_MAX_LINE); *bytes is the range's bytes, and *err an errno when
 * a read fails. The byte before the range is read with it: a line starts
 * at `at` when that byte is a newline. */
static uint64_t read_range(int fd, const Feed *f, Lane *l, uint64_t at, uint64_t *bytes, int *err)
{
    Buf *b = &l->in;
    lane_shrink(l);
    l->too_long = false;
    *bytes = 0;
    size_t lead = at > f->base; /* the byte before the range is read */
    uint64_t lo = at - lead;
    size_t limit = (size_t)(f->size - lo); /* the bytes from lo to the input's end */
    size_t rend = (size_t)(at - lo) + RANGE_BYTES; /* the range's end in the buffer */
    if (rend > limit) rend = limit;
    size_t want = rend + LOOK_BYTES < limit ? rend + LOOK_BYTES : limit;
    buf_reserve(b, want + COPY_ALIGN);
    /* The bytes go as far into a cache line as lo is into a page (the page
     * cache's pages are aligned). Read to the buffer's start instead, the
     * kernel's copy took 9.4 to 10.2% of -j 2's time, not 5.8 to 6.2%
     * (docs/benchmarks.md, "ninth round"). */
    size_t pad = (size_t)((lo - (uintptr_t)b->p) & (COPY_ALIGN - 1)), n = 0;
    b->n = l->from = pad;
    ssize_t got = pread_full(fd, b->p + pad, want, lo, err);
    if (got < 0) return 0;
    n = (size_t)got;
    const char *q = b->p + pad; /* the byte at lo */
    bool at_end = n == limit || n < want; /* nothing after q[n - 1] is the input's */
    if (rend > n) rend = n;
    if (rend <= lead) return 0;
    *bytes = rend - lead;
    size_t s = lead; /* the first line that starts in the range */
    if (lead && q[0] != '\n') {
        const char *nl = memchr(q + 1, '\n', rend - 1);
        s = nl ? (size_t)(nl - q) + 1 : rend;
        if (s >= rend) return 0; /* no line starts in the range */
    }
    size_t e = rend; /* the end of the last line that starts in the range */
    if (q[rend - 1] != '\n') {
        const char *last = last_newline(q + s, rend - s);
        size_t line = last ? (size_t)(last - q) + 1 : s, look = rend;
        for (;;) {
            const char *nl = memchr(q + look, '\n', n - look);
            if (nl) {
                e = (size_t)(nl - q) + 1;
                break;
            }
            if (n - line > REC_MAX_LINE) {
                e = line;
                l->too_long = true;
                break;
            }
            if (at_end) {
                e = n;
                break;
            }
            look = n;
            size_t more = limit - n < READ_BYTES ? limit - n : READ_BYTES;
            b->n = pad + n;
            buf_reserve(b, more);
            q = b->p + pad;
            ssize_t k = pread_full(fd, b->p + pad + n, more, lo + n, err);
            if (k < 0) return 0;
            n += (size_t)k;
            at_end = n == limit || (size_t)k < more;
        }
    }
    b->n = pad + e;
    l->from = pad + s;
    return count_lines(q + s, e - s) + l->too_long;
}

/* Lane l's next batch from a regular file: the next range taken (lane 0
 * starts the other lanes when there is one more), read and counted
 * (read_range) with no lock held, then its count given: every range
 * whose ranges before it have all given theirs is numbered. *known tells
 * whether its own is, and *first is then its first record's number.
 * Returns false when no range is left: the input has ended, or a stop or
 * a read error ended the reading. A range taken is always queued (a range
 * that could not be read, l->err, with nothing in it): the writer keeps
 * the batches in order and drops the ones after a range that could not
 * be read (write_finished). */
static bool range_batch(Threads *t, Lane *l, uint64_t *seq, bool *known, uint64_t *first)
{
    Feed *f = &t->f;
    Run *r = l->r;
    uint64_t at = 0;
    pthread_mutex_lock(&f->mu);
    if (!f->ended && stop_requested(r)) {
        r->o->stopped = true;
        f->ended = true;
    }
    bool took = !f->ended;
    if (took) {
        *seq = f->seq++;
        at = f->pos;
        f->pos += RANGE_BYTES;
        if (f->pos >= f->size) f->ended = true;
    }
    bool more = !f->ended;
    pthread_mutex_unlock(&f->mu);
    if (!took) return false;
    if (l == &t->lane[0] && more) crew_start(t);

    l->err = 0;
    uint64_t bytes, lines = read_range(r->infd, f, l, at, &bytes, &l->err);
    if (l->err) {
        l->in.n = l->from = 0;
        l->too_long = false;
        lines = 0;
    }
    unsigned i = (unsigned)(*seq % MAX_SLOTS);
    pthread_mutex_lock(&f->mu);
    if (l->err) f->ended = true;
    r->st->bytes += bytes;
    f->lines[i] = lines;
    f->counted[i] = true;
    for (unsigned j; f->counted[j = (unsigned)(f->numbered % MAX_SLOTS)];) {
        f->counted[j] = false;
        f->first[j] = f->next_recno;
        f->next_recno += f->lines[j];
        f->numbered++;
        pthread_cond_signal(&f->turn_cv[j]);
    }
    *known = f->numbered > *seq;
    *first = f->first[i];
    pthread_mutex_unlock(&f->mu);
    return true;
}

/* The number of range seq's first record, once every range before it
 * has given its count: lane l waits for that. */
static uint64_t range_first(Threads *t, const Lane *l, uint64_t seq)
{
    Feed *f = &t->f;
    unsigned i = (unsigned)(seq % MAX_SLOTS);
    pthread_mutex_lock(&f->mu);
    while (f->numbered <= seq) lane_wait(t, l, &f->turn_cv[i], &f->mu);
    uint64_t first = f->first[i];
    pthread_mutex_unlock(&f->mu);
    return first;
}

/* Writes the finished batches in input order, with q->mu held, unless
 * another lane is writing (it writes them then). A failed write ends the
 * reading; the batches after it are retired unwritten, so that every
 * lane's buffers come free. */
static void write_finished(Threads *t)
{
    Queue *q = &t->q;
    Run *r = t->r;
    if (q->writing) return;
    q->writing = true;
    for (Slot *s; (s = &q->slot[q->written % q->nslots])->done;) {
        if (s->err && !q->cut) {
            q->cut = true;
            r->o->read_errno = s->err;
        }
        bool write = !q->failed && !q->cut, ok = true;
        pthread_mutex_unlock(&q->mu);
        if (write) ok = flush_buf(r, s->out);
        pthread_mutex_lock(&q->mu);
        if (write) {
            r->st->records += s->st.records;
            for (int k = 0; k <= PCR_DEC_ERROR; k++) r->st->by_decision[k] += s->st.by_decision[k];
        }
        if (!ok) q->failed = true;
        s->out->n = 0;
        s->done = false;
        *s->busy = false;
        q->written++;
        pthread_cond_broadcast(&q->written_cv);
    }
    q->writing = false;
}

/* Waits on cv (mu held). Lane 0, when the run has a stop flag, waits in
 * turns of STOP_POLL_MS and passes the flag on to the other lanes (halt):
 * a signal that comes while it waits runs its handler but wakes no one,
 * and another lane may be waiting for input. */
static void lane_wait(Threads *t, const Lane *l, pthread_cond_t *cv, pthread_mutex_t *mu)
{
    const volatile sig_atomic_t *stop = t->r->o->stop;
    if (l != &t->lane[0] || !stop) {
        pthread_cond_wait(cv, mu);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += STOP_POLL_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
    if (*stop) atomic_store_explicit(&t->halt, true, memory_order_relaxed);
}

/* Lane l's next batch from a pipe, a terminal or anything else read in
 * turn: fill_batch with the feed taken (lane 0 starts the other lanes
 * once a batch has filled or more than BATCH_BYTES has come). Returns
 * false when there is nothing more to decide. */
static bool feed_batch(Threads *t, Lane *l, uint64_t *seq, uint64_t *first)
{
    Feed *f = &t->f;
    pthread_mutex_lock(&f->mu);
    while (f->reading) lane_wait(t, l, &f->free_cv, &f->mu);
    f->reading = true;
    pthread_mutex_unlock(&f->mu);
    /* With other lanes running, a pipe's batch waits a moment for more
     * input before it is cut: a producer only briefly behind (a fast
     * pipe) then fills batches, instead of each read making one, and
     * the lanes decide while it writes more. Alone, lane 0 cuts it at
     * once. */
    int idle_ms = l != &t->lane[0] || t->started > 1 ? SETTLE_WAIT_MS : 0;
    bool got = fill_batch(l->r, f, l, idle_ms, seq, first);
    /* a full batch, or more than one in all (on a pipe, batches are cut
     * whenever no input is waiting, and may never fill) */
    bool start = l == &t->lane[0] && !t->tried &&
                 (l->in.n > BATCH_BYTES - READ_BYTES || f->total > BATCH_BYTES);
    pthread_mutex_lock(&f->mu);
    f->reading = false;
    pthread_cond_signal(&f->free_cv);
    pthread_mutex_unlock(&f->mu);
    if (got && start) crew_start(t);
    return got;
}

/* A lane's work: batches read, decided and queued until the reading ends
 * or a write fails. Lane 0 starts the others once a batch has filled or
 * more than BATCH_BYTES has come (t->started and t->tried are its own). */
static void lane_run(Threads *t, Lane *l)
{
    Queue *q = &t->q;
    for (;;) {
        /* One of its decision buffers that is not waiting to be written. */
        pthread_mutex_lock(&q->mu);
        int k = -1;
        while (!q->failed) {
            for (int i = 0; i < LANE_OUTS && k < 0; i++)
                if (!l->busy[i]) k = i;
            if (k >= 0) break;
            lane_wait(t, l, &q->written_cv, &q->mu);
        }
        pthread_mutex_unlock(&q->mu);
        if (k < 0) return;

        uint64_t seq = 0, first = 0;
        bool known = true;
        if (!(t->f.ranged ? range_batch(t, l, &seq, &known, &first) : feed_batch(t, l, &seq, &first)))
            return;
        pcr_stats st;
        decide_batch(t, l, seq, known, first, &l->out[k], &st);
        pthread_mutex_lock(&q->mu);
        Slot *s = &q->slot[seq % q->nslots]; /* free: at most nslots batches are in flight */
        s->out = &l->out[k];
        s->busy = &l->busy[k];
        s->st = st;
        s->err = l->err;
        s->done = true;
        l->busy[k] = true;
        write_finished(t);
        pthread_mutex_unlock(&q->mu);
    }
}

static void *lane_main(void *arg)
{
    Lane *l = arg;
    Threads *t = l->t;
    lane_run(t, l);
    pthread_mutex_lock(&t->q.mu);
    t->running--;
    pthread_cond_broadcast(&t->q.written_cv);
    pthread_mutex_unlock(&t->q.mu);
    return NULL;
}

/* Starts the other lanes, once: each with a clone of the engine and every
 * signal blocked, so that a SIGINT or SIGTERM reaches the calling thread
 * (a lane waiting for input looks at the stop flag every STOP_POLL_MS).
 * Fewer start when a clone or a thread cannot be made; the lanes running
 * then read what they would have. */
static void crew_start(Threads *t)
{
    if (t->tried) return;
    t->tried = true;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (t->started < t->want) {
        Lane *l = &t->lane[t->started];
        l->t = t;
        l->run = *t->r;
        l->run.halt = &t->halt;
        l->r = &l->run;
        l->e = pcr_engine_clone(t->r->e);
        if (!l->e) break;
        pthread_mutex_lock(&t->q.mu);
        t->running++;
        pthread_mutex_unlock(&t->q.mu);
        if (pthread_create(&l->tid, NULL, lane_main, l) != 0) {
            pthread_mutex_lock(&t->q.mu);
            t->running--;
            pthread_mutex_unlock(&t->q.mu);
            pcr_engine_free(l->e);
            l->e = NULL;
            break;
        }
        t->started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Whether the input is a regular file that has bytes from the
 * descriptor's offset on: then it is read by ranges (f->ranged), up to
 * the size it has now. Anything else is read in turn (fill_batch). */
static void set_ranged(Feed *f, const Run *r)
{
    off_t at;
    if (!r->in_known || !S_ISREG(r->in_st.st_mode) || (at = lseek(r->infd, 0, SEEK_CUR)) < 0 ||
        r->in_st.st_size <= at)
        return;
    f->ranged = true;
    f->base = f->pos = (uint64_t)at;
    f->size = (uint64_t)r->in_st.st_size;
}

static bool run_threads(Run *r, unsigned nthreads)
{
    Threads *t = xmalloc(sizeof *t);
    memset(t, 0, sizeof *t);
    t->r = r;
    pthread_mutex_init(&t->f.mu, NULL);
    pthread_cond_init(&t->f.free_cv, NULL);
    for (unsigned i = 0; i < MAX_SLOTS; i++) pthread_cond_init(&t->f.turn_cv[i], NULL);
    pthread_mutex_init(&t->q.mu, NULL);
    pthread_cond_init(&t->q.written_cv, NULL);
    t->f.next_recno = r->recno + 1;
    set_ranged(&t->f, r);
    t->q.nslots = LANE_OUTS * nthreads;
    t->want = nthreads;
    t->started = 1; /* lane 0: this thread */
    t->lane[0].t = t;
    t->lane[0].r = r;
    t->lane[0].e = r->e;
    atomic_init(&t->halt, false);
    lane_run(t, &t->lane[0]);
    /* The other lanes finish their batches (one may be waiting for input
     * after a failed write: a stop still reaches it). */
    pthread_mutex_lock(&t->q.mu);
    while (t->running) lane_wait(t, &t->lane[0], &t->q.written_cv, &t->q.mu);
    pthread_mutex_unlock(&t->q.mu);
    for (unsigned i = 1; i < t->started; i++) {
        pthread_join(t->lane[i].tid, NULL);
        pcr_engine_merge_counts(r->e, t->lane[i].e);
        pcr_engine_free(t->lane[i].e);
    }
    /* Like the reads, leave the descriptor at the end of what was read. */
    if (t->f.ranged) (void)lseek(r->infd, (off_t)(t->f.pos < t->f.size ? t->f.pos : t->f.size), SEEK_SET);
    bool ok = !r->o->read_errno && !t->q.failed;
    for (unsigned i = 0; i < MAX_THREADS; i++) {
        buf_free(&t->lane[i].in);
        for (int k = 0; k < LANE_OUTS; k++) buf_free(&t->lane[i].out[k]);
    }
    buf_free(&t->f.carry);
    pthread_mutex_destroy(&t->f.mu);
    pthread_cond_destroy(&t->f.free_cv);
    for (unsigned i = 0; i < MAX_SLOTS; i++) pthread_cond_destroy(&t->f.turn_cv[i]);
    pthread_mutex_destroy(&t->q.mu);
    pthread_cond_destroy(&t->q.written_cv);
    free(t);
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
    r.in_known = r.infd >= 0 && fstat(r.infd, &r.in_st) == 0;
    r.prompt = wants_prompt(o, &r);
    buf_reserve(&r.ob, OUT_BLOCK + 4096);

    widen_pipe(&r);
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
