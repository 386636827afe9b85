/* fileio.c: reading and replacing whole files safely. See fileio.h. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"

/* Reads up to n bytes, retrying short reads and EINTR; returns the count
 * read (less than n only at end of file) or -1. */
static ssize_t read_full(int fd, char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

char *fio_read(const char *path, size_t max, const void *prefix, size_t prefix_len, size_t *len,
               FioError *why)
{
    *why = FIO_ERRNO;
    char *text = NULL;
    /* O_NONBLOCK: opening a FIFO with no writer must not wait; a regular
     * file reads the same with it. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) goto fail_errno;
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        errno = EISDIR;
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = FIO_NOT_REGULAR;
        goto fail;
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > max) {
        *why = FIO_TOO_BIG;
        goto fail;
    }
    /* The size may change under us: read at most max + 1 bytes, whatever
     * fstat said. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    if (prefix_len >= cap) cap = prefix_len + 1;
    text = xmalloc(cap);
    if (prefix) {
        ssize_t r = read_full(fd, text, prefix_len);
        if (r < 0) {
            free(text);
            goto fail_errno;
        }
        n = (size_t)r;
        if (n < prefix_len || memcmp(text, prefix, prefix_len) != 0) {
            free(text);
            *why = FIO_BAD_PREFIX;
            goto fail;
        }
    }
    for (;;) {
        ssize_t r = read_full(fd, text + n, cap - 1 - n);
        if (r < 0) goto fail_read;
        n += (size_t)r;
        if (n + 1 < cap) break; /* end of file before the buffer filled */
        /* Full: the file grew since fstat, or ends here. Probe. */
        char probe[4096];
        r = read_full(fd, probe, sizeof probe);
        if (r < 0) goto fail_read;
        if (r == 0) break;
        if (n + (size_t)r > max) {
            n = max + 1;
            break;
        }
        cap = (cap * 2 > n + (size_t)r + 1) ? cap * 2 : n + (size_t)r + 1;
        text = xrealloc(text, cap);
        memcpy(text + n, probe, (size_t)r);
        n += (size_t)r;
    }
    close(fd);
    if (n > max) {
        free(text);
        *why = FIO_TOO_BIG;
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    *why = FIO_OK;
    return text;
fail_read : {
    int e = errno;
    free(text);
    close(fd);
    errno = e;
    return NULL;
}
fail_errno : {
    int e = errno;
    close(fd);
    errno = e;
    return NULL;
}
fail:
    close(fd);
    return NULL;
}

const char *fio_error_text(FioError why, int err)
{
    switch (why) {
    case FIO_OK: return "no error";
    case FIO_NOT_REGULAR: return "not a regular file";
    case FIO_TOO_BIG: return "too large";
    case FIO_BAD_PREFIX: return "bad magic";
    case FIO_ERRNO: break;
    }
    return strerror(err);
}

bool fio_holds_prefix_or_empty(const char *path, const void *magic, size_t len)
{
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    if (st.st_size == 0) return true;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) return false;
    char head[64];
    bool ok = false;
    struct stat st2;
    /* The file opened must be the one looked at (not swapped in between). */
    if (len <= sizeof head && fstat(fd, &st2) == 0 && st2.st_ino == st.st_ino &&
        st2.st_dev == st.st_dev && S_ISREG(st2.st_mode))
        ok = read_full(fd, head, len) == (ssize_t)len && memcmp(head, magic, len) == 0;
    close(fd);
    return ok;
}

static void msgf(char *msg, size_t msglen, const char *what, const char *path, const char *why)
{
    if (msg && msglen) snprintf(msg, msglen, "%s %s: %s", what, path, why);
}

/* Writes all of data to fd; false with errno on failure. */
static bool write_full(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

/* Opens a new file beside path (same directory, so rename is atomic),
 * created exclusively with mode 0666 less the umask. Returns the fd and
 * its name in *tmp, or -1 with errno. */
static int open_temp(const char *path, Buf *tmp)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dirlen;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)tmp;
    for (int tries = 0; tries < 100; tries++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        tmp->n = 0;
        if (dirlen) buf_put(tmp, path, dirlen);
        buf_printf(tmp, ".%s.%06llx.tmp", base, (unsigned long long)(seed >> 40));
        buf_putc(tmp, '\0');
        int fd = open(tmp->p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

/* Flushes the directory holding path, so the rename itself is durable.
 * Best effort: some file systems refuse fsync on a directory. */
static void sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

bool fio_replace(const char *path, const void *data, size_t len, const void *keep_magic,
                 size_t magic_len, char *msg, size_t msglen)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            msgf(msg, msglen, "refusing to replace", path, "it is a symbolic link");
            return false;
        }
        if (S_ISDIR(st.st_mode)) {
            msgf(msg, msglen, "refusing to replace", path, "it is a directory");
            return false;
        }
        if (!S_ISREG(st.st_mode)) {
            msgf(msg, msglen, "refusing to replace", path, "not a regular file");
            return false;
        }
        if (!fio_holds_prefix_or_empty(path, keep_magic, magic_len)) {
            msgf(msg, msglen, "refusing to replace", path, "it is not PCR bytecode");
            return false;
        }
    } else if (errno != ENOENT) {
        msgf(msg, msglen, "cannot write", path, strerror(errno));
        return false;
    }
    Buf tmp = {0};
    int fd = open_temp(path, &tmp);
    if (fd < 0) {
        msgf(msg, msglen, "cannot write", path, strerror(errno));
        buf_free(&tmp);
        return false;
    }
    bool ok = write_full(fd, data, len) && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp.p, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp.p);
        msgf(msg, msglen, "cannot write", path, strerror(e));
    } else {
        sync_dir_of(path);
    }
    buf_free(&tmp);
    return ok;
}
