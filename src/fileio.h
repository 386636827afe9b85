/* fileio.h: reading and replacing whole files safely (fio_).
 *
 * Every file the library reads whole (sources, bytecode) goes through
 * fio_read, which looks at what the path is before reading a byte: a FIFO,
 * a device or a directory is refused at once, never read or waited on, and
 * a file over the caller's limit is refused by its size. Every file the
 * library writes whole (bytecode) goes through fio_replace, which never
 * leaves a half-written file under the final name. */
#ifndef PCR_FILEIO_H
#define PCR_FILEIO_H

#include <stdbool.h>
#include <stddef.h>

/* Why fio_read failed, beyond errno. */
typedef enum FioError {
    FIO_OK,
    FIO_ERRNO,       /* open or read failed: errno says why */
    FIO_NOT_REGULAR, /* a directory, FIFO, socket or device */
    FIO_TOO_BIG,     /* larger than the caller's limit */
    FIO_BAD_PREFIX,  /* the first bytes are not the required prefix */
} FioError;

/* Reads the regular file at path whole into a NUL-terminated xmalloc'ed
 * buffer (owned by the caller; *len excludes the NUL). The path is opened
 * without blocking (a FIFO is refused, not waited on) and checked with
 * fstat before any read. When prefix is not NULL, the first prefix_len
 * bytes are read and compared before the rest is. Returns NULL on failure
 * with *why set (and errno for FIO_ERRNO). */
char *fio_read(const char *path, size_t max, const void *prefix, size_t prefix_len, size_t *len,
               FioError *why);

/* A short phrase for a failure of fio_read ("not a regular file", ...). */
const char *fio_error_text(FioError why, int err);

/* True when path names a regular file (not followed through a symlink)
 * that is empty or starts with the len bytes of magic. */
bool fio_holds_prefix_or_empty(const char *path, const void *magic, size_t len);

/* Replaces path with the len bytes of data atomically: they are written to
 * a new file in the same directory, flushed to disk (fsync) and renamed
 * over path, so a reader sees the old file or the new one, never a part.
 * An existing path must be a regular file (not a symlink, FIFO, device or
 * directory) that is empty or starts with the len bytes of keep_magic;
 * anything else is refused and left untouched. The new file gets mode 0666
 * less the umask. Returns true, or false with msg (msglen bytes) saying why
 * ("cannot write X: ...", "refusing to replace X: ..."). */
bool fio_replace(const char *path, const void *data, size_t len, const void *keep_magic,
                 size_t magic_len, char *msg, size_t msglen);

#endif
