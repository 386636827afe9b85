/* eio_shim.c: a regular file with bytes that cannot be read, for
 * test_harden (harden_threads). Preloaded (LD_PRELOAD) into pcrvm, it makes
 * read(2) and pread(2) of a regular file fail with EIO when they start in
 * the PCR_EIO_LEN bytes from byte PCR_EIO_AT on (to the end when no length
 * is given), and return only the bytes before them when a read reaches
 * them, as a disk with a bad sector would, after PCR_EIO_DELAY_MS
 * milliseconds when that is given (a slow one). Other descriptors are
 * untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* The bytes of a read of n at off that the file gives: n, fewer up to the
 * bad bytes, or -1 (EIO) in them. */
static ssize_t allowed(int fd, off_t off, size_t n)
{
    const char *at = getenv("PCR_EIO_AT"), *len = getenv("PCR_EIO_LEN");
    struct stat sb;
    if (!at || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) return (ssize_t)n;
    off_t bad = (off_t)strtoll(at, NULL, 10), good = len ? bad + (off_t)strtoll(len, NULL, 10) : sb.st_size;
    if (off >= bad && off < good) {
        const char *ms = getenv("PCR_EIO_DELAY_MS");
        if (ms) usleep((useconds_t)strtoul(ms, NULL, 10) * 1000);
        errno = EIO;
        return -1;
    }
    return off < bad && (size_t)(bad - off) < n ? (ssize_t)(bad - off) : (ssize_t)n;
}

ssize_t read(int fd, void *p, size_t n)
{
    static ssize_t (*real)(int, void *, size_t);
    if (!real) real = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    off_t off = lseek(fd, 0, SEEK_CUR);
    ssize_t k = off < 0 ? (ssize_t)n : allowed(fd, off, n);
    return k < 0 ? -1 : real(fd, p, (size_t)k);
}

static ssize_t pread_as(const char *name, int fd, void *p, size_t n, off_t off)
{
    ssize_t (*real)(int, void *, size_t, off_t) = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, name);
    ssize_t k = allowed(fd, off, n);
    return k < 0 ? -1 : real(fd, p, (size_t)k, off);
}

ssize_t pread(int fd, void *p, size_t n, off_t off) { return pread_as("pread", fd, p, n, off); }
ssize_t pread64(int fd, void *p, size_t n, off_t off) { return pread_as("pread64", fd, p, n, off); }
